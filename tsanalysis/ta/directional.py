"""Wilder's directional movement system: +DM/-DM, +DI/-DI, DX and ADX, with
TA-Lib 0.8.2's algorithms, defaults and lookbacks.

Conventions (TA-Lib's): ``up = high[i] - high[i-1]``, ``down = low[i-1] - low[i]``;
``+DM = up`` if ``up > 0 and up > down`` else 0, ``-DM = down`` if
``down > 0 and down > up`` else 0.  +DM, -DM and TR are Wilder-*summed*:
the seed is the plain sum of the first ``n - 1`` values (of ``n`` for the
DI family's first output) and the update is ``s = s - s / n + value``.
``+DI = 100 * sum(+DM) / sum(TR)`` (0 when the TR sum is zero),
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
    TA_EPSILON,
    ArrayLike,
    FloatArray,
    as_float_arrays,
    check_period,
    register,
    run_segments,
)
from .volatility import trange_kernel

__all__ = ["adx", "dx", "minus_di", "minus_dm", "plus_di", "plus_dm"]


@njit(cache=True, error_model="numpy")
def _dm(high: FloatArray, low: FloatArray) -> tuple[FloatArray, FloatArray]:
    """One-bar +DM and -DM (index 0 unused)."""
    n = high.shape[0]
    pdm = np.zeros(n)
    mdm = np.zeros(n)
    for i in range(1, n):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        if down > 0.0 and up < down:
            mdm[i] = down
        elif up > 0.0 and up > down:
            pdm[i] = up
    return pdm, mdm


# ------------------------------------------------------------------ +DM/-DM


@njit(cache=True, error_model="numpy")
def _dm_kernel(high: FloatArray, low: FloatArray, period: int, plus: bool) -> FloatArray:
    n = high.shape[0]
    out = np.full(n, np.nan)
    pdm, mdm = _dm(high, low)
    dm = pdm if plus else mdm
    if period == 1:
        for i in range(1, n):
            out[i] = dm[i]
        return out
    if n < period:
        return out
    s = 0.0
    for i in range(1, period):
        s += dm[i]
    out[period - 1] = s
    for i in range(period, n):
        s = s - (s / period) + dm[i]
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
    return run_segments(lambda h, l: (_dm_kernel(h, l, p, True),), arrays, _dm_lookback(p), 1)[0]


@register("minus_dm", _dm_lookback)
def minus_dm(high: ArrayLike, low: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Wilder-summed minus directional movement (TA-Lib ``MINUS_DM``).

    As :func:`plus_dm` for the one-bar -DM.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod - 1`` (1 when ``timeperiod == 1``).  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low)
    return run_segments(lambda h, l: (_dm_kernel(h, l, p, False),), arrays, _dm_lookback(p), 1)[0]


# ------------------------------------------------------------------ +DI/-DI


@njit(cache=True, error_model="numpy")
def _di_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, plus: bool, eps: float) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    pdm, mdm = _dm(high, low)
    dm = pdm if plus else mdm
    tr = trange_kernel(high, low, close)
    if period == 1:
        # TA-Lib: the one-bar ratio, as a fraction (not multiplied by 100).
        for i in range(1, n):
            if dm[i] > 0.0:
                out[i] = dm[i] / tr[i] if not (-eps < tr[i] < eps) else 0.0
            else:
                out[i] = 0.0
        return out
    if n <= period:
        return out
    s_dm = 0.0
    s_tr = 0.0
    for i in range(1, period):
        s_dm += dm[i]
        s_tr += tr[i]
    for i in range(period, n):
        s_dm = s_dm - (s_dm / period) + dm[i]
        s_tr = s_tr - (s_tr / period) + tr[i]
        out[i] = 100.0 * (s_dm / s_tr) if not (-eps < s_tr < eps) else 0.0
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
    return run_segments(lambda h, l, c: (_di_kernel(h, l, c, p, True, TA_EPSILON),), arrays, p, 1)[0]


@register("minus_di", _di_lookback)
def minus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Minus directional indicator (TA-Lib ``MINUS_DI``), Wilder's smoothing.

    As :func:`plus_di` for -DM.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, l, c: (_di_kernel(h, l, c, p, False, TA_EPSILON),), arrays, p, 1)[0]


# ----------------------------------------------------------------- DX, ADX


@njit(cache=True, error_model="numpy")
def _dx_series(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, eps: float
) -> tuple[FloatArray, FloatArray]:
    """DX from index ``period`` on, and a flag saying whether it was defined."""
    n = close.shape[0]
    dxv = np.full(n, np.nan)
    ok = np.zeros(n)
    pdm, mdm = _dm(high, low)
    tr = trange_kernel(high, low, close)
    s_p = 0.0
    s_m = 0.0
    s_tr = 0.0
    for i in range(1, period):
        s_p += pdm[i]
        s_m += mdm[i]
        s_tr += tr[i]
    for i in range(period, n):
        s_m = s_m - (s_m / period) + mdm[i]
        s_p = s_p - (s_p / period) + pdm[i]
        s_tr = s_tr - (s_tr / period) + tr[i]
        if not (-eps < s_tr < eps):
            mdi = 100.0 * (s_m / s_tr)
            pdi = 100.0 * (s_p / s_tr)
            tot = mdi + pdi
            if not (-eps < tot < eps):
                dxv[i] = 100.0 * (abs(mdi - pdi) / tot)
                ok[i] = 1.0
    return dxv, ok


@njit(cache=True, error_model="numpy")
def _dx_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, eps: float) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    dxv, ok = _dx_series(high, low, close, period, eps)
    prev = 0.0
    for i in range(period, n):
        if ok[i] != 0.0:
            prev = dxv[i]
        out[i] = prev
    return out


@njit(cache=True, error_model="numpy")
def _adx_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, eps: float) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    lb = 2 * period - 1
    if n <= lb:
        return out
    dxv, ok = _dx_series(high, low, close, period, eps)
    total = 0.0
    for i in range(period, 2 * period):
        if ok[i] != 0.0:
            total += dxv[i]
    prev = total / period
    out[lb] = prev
    for i in range(2 * period, n):
        if ok[i] != 0.0:
            prev = ((prev * (period - 1)) + dxv[i]) / period
        out[i] = prev
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
    return run_segments(lambda h, l, c: (_dx_kernel(h, l, c, p, TA_EPSILON),), arrays, p, 1)[0]


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
    return run_segments(lambda h, l, c: (_adx_kernel(h, l, c, p, TA_EPSILON),), arrays, 2 * p - 1, 1)[0]
