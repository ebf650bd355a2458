"""Wilder's directional movement system: +DM/-DM, +DI/-DI, DX and ADX, with
TA-Lib 0.8.2's algorithms, defaults and lookbacks.

Conventions (TA-Lib's): ``up = high[i] - high[i-1]``, ``down = low[i-1] - low[i]``;
``+DM = up`` if ``up > 0 and up > down`` else 0, ``-DM = down`` if
``down > 0 and down > up`` else 0.  +DM, -DM and TR are Wilder-*summed*:
the seed is the plain sum of the first ``n - 1`` values (of ``n`` for the
DI family's first output) and the update is ``s = s - s / n + value``.
``+DI = 100 * sum(+DM) / sum(TR)`` (0 when the TR sum is exactly zero),
``DX = 100 * |+DI - -DI| / (+DI + -DI)``, and ADX is the Wilder average of DX
seeded with the simple mean of the first ``n`` DX values.

All functions take 1-D array-likes (converted to float64) and return float64
arrays of the same length, NaN during the warm-up (``func.lookback(**params)``
leading values) and under the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._core import (
    ArrayLike,
    FloatArray,
    as_float_arrays,
    check_period,
    register,
    run_segments,
)
from .volatility import true_range_at

__all__ = ["adx", "dx", "minus_di", "minus_dm", "plus_di", "plus_dm"]


@njit(cache=True, error_model="numpy")
def _dm_at(high: FloatArray, low: FloatArray, i: int) -> tuple[float, float]:
    """One-bar (+DM, -DM) at ``i >= 1``."""
    up = high[i] - high[i - 1]
    down = low[i - 1] - low[i]
    if down > 0.0 and up < down:
        return 0.0, down
    if up > 0.0 and up > down:
        return up, 0.0
    return 0.0, 0.0


# ------------------------------------------------------------------ +DM/-DM


@njit(cache=True, error_model="numpy")
def _dm_kernel(high: FloatArray, low: FloatArray, period: int, plus: bool) -> FloatArray:
    n = high.shape[0]
    out = np.full(n, np.nan)
    if period == 1:
        for i in range(1, n):
            p, m = _dm_at(high, low, i)
            out[i] = p if plus else m
        return out
    if n < period:
        return out
    s = 0.0
    for i in range(1, period):
        p, m = _dm_at(high, low, i)
        s += p if plus else m
    out[period - 1] = s
    for i in range(period, n):
        p, m = _dm_at(high, low, i)
        s = s - (s / period) + (p if plus else m)
        out[i] = s
    return out


def _dm_lookback(timeperiod: int = 14) -> int:
    p = check_period("timeperiod", timeperiod, 1)
    return 1 if p == 1 else p - 1


@register("plus_dm", _dm_lookback)
def plus_dm(high: ArrayLike, low: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Wilder-summed plus directional movement (TA-Lib ``PLUS_DM``).

    Seed at index ``timeperiod - 1``: the sum of the first ``timeperiod - 1``
    one-bar +DM values; then ``s = s - s / n + dm``.  ``timeperiod=1`` gives
    the raw one-bar +DM.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod - 1`` (1 when ``timeperiod == 1``).  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low)
    return run_segments(lambda h, lo: (_dm_kernel(h, lo, p, True),), arrays, _dm_lookback(p), 1)[0]


@register("minus_dm", _dm_lookback)
def minus_dm(high: ArrayLike, low: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Wilder-summed minus directional movement (TA-Lib ``MINUS_DM``).

    As :func:`plus_dm` for the one-bar -DM.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod - 1`` (1 when ``timeperiod == 1``).  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low)
    return run_segments(lambda h, lo: (_dm_kernel(h, lo, p, False),), arrays, _dm_lookback(p), 1)[0]


# ------------------------------------------------------------------ +DI/-DI


@njit(cache=True, error_model="numpy")
def _di_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, plus: bool) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if period == 1:
        # TA-Lib: the one-bar ratio, as a fraction (not multiplied by 100).
        for i in range(1, n):
            p, m = _dm_at(high, low, i)
            dm = p if plus else m
            if dm > 0.0:
                tr = true_range_at(high, low, close, i)
                out[i] = dm / tr if tr != 0.0 else 0.0
            else:
                out[i] = 0.0
        return out
    if n <= period:
        return out
    s_dm = 0.0
    s_tr = 0.0
    for i in range(1, period):
        p, m = _dm_at(high, low, i)
        s_dm += p if plus else m
        s_tr += true_range_at(high, low, close, i)
    for i in range(period, n):
        p, m = _dm_at(high, low, i)
        s_dm = s_dm - (s_dm / period) + (p if plus else m)
        s_tr = s_tr - (s_tr / period) + true_range_at(high, low, close, i)
        out[i] = 100.0 * (s_dm / s_tr) if s_tr != 0.0 else 0.0
    return out


def _di_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 1)


@register("plus_di", _di_lookback)
def plus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Plus directional indicator (TA-Lib ``PLUS_DI``), Wilder's smoothing.

    ``100 * S(+DM) / S(TR)`` where ``S`` is Wilder's running sum seeded with
    the sum of the first ``timeperiod - 1`` values (see the module notes); 0
    when ``S(TR)`` is zero.  TA-Lib quirk reproduced: ``timeperiod=1`` gives the
    one-bar ratio ``+DM / TR`` as a fraction, not multiplied by 100.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_di_kernel(h, lo, c, p, True),), arrays, p, 1)[0]


@register("minus_di", _di_lookback)
def minus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Minus directional indicator (TA-Lib ``MINUS_DI``), Wilder's smoothing.

    As :func:`plus_di` for -DM.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_di_kernel(h, lo, c, p, False),), arrays, p, 1)[0]


# ----------------------------------------------------------------- DX, ADX


@njit(cache=True, error_model="numpy")
def _dx_adx_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, average: bool
) -> FloatArray:
    """DX (``average=False``) or ADX (``average=True``) in one pass, no temporaries.

    DX where undefined (zero TR or DI sum) repeats the previous value (0 at the
    start); ADX skips those bars (they count as 0 in its seed), like TA-Lib.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    lb = 2 * period - 1 if average else period
    if n <= lb:
        return out
    s_p = 0.0
    s_m = 0.0
    s_tr = 0.0
    for i in range(1, period):
        p, m = _dm_at(high, low, i)
        s_p += p
        s_m += m
        s_tr += true_range_at(high, low, close, i)
    last_dx = 0.0
    seed = 0.0
    adx = 0.0
    for i in range(period, n):
        p, m = _dm_at(high, low, i)
        s_m = s_m - (s_m / period) + m
        s_p = s_p - (s_p / period) + p
        s_tr = s_tr - (s_tr / period) + true_range_at(high, low, close, i)
        ok = False
        dxv = 0.0
        if s_tr != 0.0:
            mdi = 100.0 * (s_m / s_tr)
            pdi = 100.0 * (s_p / s_tr)
            tot = mdi + pdi
            if tot != 0.0:
                dxv = 100.0 * (abs(mdi - pdi) / tot)
                ok = True
        if not average:
            if ok:
                last_dx = dxv
            out[i] = last_dx
        elif i < 2 * period:
            if ok:
                seed += dxv
            if i == lb:
                adx = seed / period
                out[i] = adx
        else:
            if ok:
                adx = ((adx * (period - 1)) + dxv) / period
            out[i] = adx
    return out


def _dx_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 2)


@register("dx", _dx_lookback)
def dx(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Directional movement index (TA-Lib ``DX``).

    ``100 * |+DI - -DI| / (+DI + -DI)``; where it is undefined (zero TR sum or
    zero DI sum) the previous value is repeated (0 at the start), like TA-Lib.

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real`` in [0, 100].
    """
    p = check_period("timeperiod", timeperiod, 2)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_dx_adx_kernel(h, lo, c, p, False),), arrays, p, 1)[0]


def _adx_lookback(timeperiod: int = 14) -> int:
    return 2 * check_period("timeperiod", timeperiod, 2) - 1


@register("adx", _adx_lookback)
def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Average directional movement index (TA-Lib ``ADX``), Wilder's smoothing.

    The first ADX (index ``2 * timeperiod - 1``) is the simple average of the
    first ``timeperiod`` DX values (see :func:`dx`); then
    ``adx = (adx * (n - 1) + dx) / n``.  Bars where DX is undefined leave ADX
    unchanged (and count as 0 in the seed), like TA-Lib.

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``2 * timeperiod - 1``.  Output: ``real`` in [0, 100].
    """
    p = check_period("timeperiod", timeperiod, 2)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_dx_adx_kernel(h, lo, c, p, True),), arrays, 2 * p - 1, 1)[0]
