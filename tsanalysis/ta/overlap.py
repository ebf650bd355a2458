"""Overlap studies: moving averages (SMA, EMA, WMA, DEMA, TEMA, KAMA) and
Bollinger Bands, with TA-Lib 0.8.2's algorithms, defaults and lookbacks.

All functions take 1-D array-likes (converted to float64) and return float64
arrays of the same length, NaN during the warm-up (``func.lookback(**params)``
leading values) and under the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._core import (
    ArrayLike,
    FloatArray,
    as_float_arrays,
    check_matype,
    check_period,
    check_real,
    register,
    run_segments,
)
from ._smoothing import ema_kernel, fma, sma_kernel, wma_kernel

__all__ = [
    "BBands",
    "bbands",
    "bbands_bandwidth",
    "bbands_percent_b",
    "dema",
    "ema",
    "kama",
    "sma",
    "tema",
    "wma",
]


def _k(period: int) -> float:
    """TA-Lib's ``PER_TO_K``: the EMA smoothing factor ``2 / (period + 1)``."""
    return 2.0 / float(period + 1)


# --------------------------------------------------------------------- SMA


def _sma_lookback(timeperiod: int = 30) -> int:
    return check_period("timeperiod", timeperiod, 1) - 1


@register("sma", _sma_lookback)
def sma(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Simple moving average (TA-Lib ``SMA``).

    ``sma[i] = mean(real[i - timeperiod + 1 : i + 1])``, computed with a
    running sum like TA-Lib.

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    return run_segments(lambda a: (sma_kernel(a, p),), (x,), p - 1, 1)[0]


# --------------------------------------------------------------------- EMA


def _ema_lookback(timeperiod: int = 30) -> int:
    return check_period("timeperiod", timeperiod, 1) - 1


@register("ema", _ema_lookback)
def ema(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Exponential moving average (TA-Lib ``EMA``).

    ``k = 2 / (timeperiod + 1)``.  Seeded, TA-Lib style, with the simple
    average of the first ``timeperiod`` values (that average is the first
    output, at index ``timeperiod - 1``); then ``ema = (real - ema) * k + ema``.

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    k = _k(p)
    return run_segments(lambda a: (ema_kernel(a, p, k, p - 1),), (x,), p - 1, 1)[0]


# --------------------------------------------------------------------- WMA


def _wma_lookback(timeperiod: int = 30) -> int:
    return check_period("timeperiod", timeperiod, 1) - 1


@register("wma", _wma_lookback)
def wma(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Linearly weighted moving average (TA-Lib ``WMA``).

    ``wma[i] = sum_{j=1..n} j * real[i - n + j] / (n (n + 1) / 2)`` with
    ``n = timeperiod``: the newest value has weight ``n``.

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    return run_segments(lambda a: (wma_kernel(a, p),), (x,), p - 1, 1)[0]


# --------------------------------------------------------------- DEMA/TEMA


@njit(cache=True, error_model="numpy")
def _dema_kernel(x: FloatArray, period: int, k: float) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    lb = 2 * (period - 1)
    if n <= lb:
        return out
    e1 = ema_kernel(x, period, k, period - 1)
    e2 = ema_kernel(e1[period - 1 :], period, k, period - 1)
    off = period - 1
    for i in range(lb, n):
        out[i] = (2.0 * e1[i]) - e2[i - off]
    return out


@njit(cache=True, error_model="numpy")
def _tema_kernel(x: FloatArray, period: int, k: float) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    lb = 3 * (period - 1)
    if n <= lb:
        return out
    off = period - 1
    e1 = ema_kernel(x, period, k, off)
    e2 = ema_kernel(e1[off:], period, k, off)
    e3 = ema_kernel(e2[off:], period, k, off)
    for i in range(lb, n):
        out[i] = e3[i - 2 * off] + ((3.0 * e1[i]) - (3.0 * e2[i - off]))
    return out


def _dema_lookback(timeperiod: int = 30) -> int:
    return 2 * (check_period("timeperiod", timeperiod, 1) - 1)


@register("dema", _dema_lookback)
def dema(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Double exponential moving average (TA-Lib ``DEMA``).

    ``dema = 2 * ema1 - ema2`` where ``ema1 = EMA(real)`` and
    ``ema2 = EMA(ema1)`` (each EMA seeded with the SMA of its first
    ``timeperiod`` valid inputs, see :func:`ema`).

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``2 * (timeperiod - 1)``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    k = _k(p)
    return run_segments(lambda a: (_dema_kernel(a, p, k),), (x,), 2 * (p - 1), 1)[0]


def _tema_lookback(timeperiod: int = 30) -> int:
    return 3 * (check_period("timeperiod", timeperiod, 1) - 1)


@register("tema", _tema_lookback)
def tema(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Triple exponential moving average (TA-Lib ``TEMA``).

    ``tema = 3 * ema1 - 3 * ema2 + ema3`` with ``ema2 = EMA(ema1)``,
    ``ema3 = EMA(ema2)`` (each EMA seeded with an SMA, see :func:`ema`).

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``3 * (timeperiod - 1)``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    k = _k(p)
    return run_segments(lambda a: (_tema_kernel(a, p, k),), (x,), 3 * (p - 1), 1)[0]


# -------------------------------------------------------------------- KAMA


@njit(cache=True, error_model="numpy")
def _kama_kernel(x: FloatArray, period: int) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period == 1:
        for i in range(n):
            out[i] = x[i]
        return out
    if n <= period:
        return out
    const_max = 2.0 / (30.0 + 1.0)
    const_diff = 2.0 / (2.0 + 1.0) - const_max
    # Sum of |x[j] - x[j-1]| for j = 1..period, kept as a running sum.
    # `flat` counts the trailing zero changes: once the whole window is flat
    # the sum is exactly 0 (not rounding residue), so the efficiency ratio
    # takes TA-Lib's flat-window value 1.
    sum_roc1 = 0.0
    flat = 0
    for j in range(period):
        d = abs(x[j] - x[j + 1])
        sum_roc1 += d
        flat = flat + 1 if d == 0.0 else 0
    today = period
    prev_kama = x[today - 1]
    trailing = 0
    trailing_value = 0.0
    first = True
    while today < n:
        cur = x[today]
        old = x[trailing]
        trailing += 1
        period_roc = cur - old
        if not first:
            sum_roc1 -= abs(trailing_value - old)
            d = abs(cur - x[today - 1])
            sum_roc1 += d
            flat = flat + 1 if d == 0.0 else 0
        first = False
        trailing_value = old
        if flat >= period:
            sum_roc1 = 0.0
        if sum_roc1 <= period_roc or sum_roc1 == 0.0:
            er = 1.0
        else:
            er = abs(period_roc / sum_roc1)
        sc = fma(er, const_diff, const_max)
        sc *= sc
        prev_kama = fma(cur - prev_kama, sc, prev_kama)
        out[today] = prev_kama
        today += 1
    return out


def _kama_lookback(timeperiod: int = 30) -> int:
    p = check_period("timeperiod", timeperiod, 1)
    return 0 if p == 1 else p


@register("kama", _kama_lookback)
def kama(real: ArrayLike, timeperiod: int = 30) -> FloatArray:
    """Kaufman adaptive moving average (TA-Lib ``KAMA``; fast 2, slow 30).

    Efficiency ratio ``er = |real[i] - real[i-n]| / sum_{j=i-n+1..i} |real[j] - real[j-1]|``
    (``er = 1`` when the volatility sum is zero, e.g. a flat window), smoothing constant
    ``sc = (er * (2/3 - 2/31) + 2/31) ** 2`` and
    ``kama[i] = kama[i-1] + sc * (real[i] - kama[i-1])``, seeded with
    ``kama[n-1] = real[n-1]`` so the first output is at ``n = timeperiod``.
    The updates use fused multiply-adds like TA-Lib 0.8, and a window with no
    price change at all is detected exactly (``er = 1``).  Known limit: in a
    window whose price changes are all at rounding level (a few ulps, e.g.
    ``96.1`` vs ``96.10000000000001``) the running volatility sum is rounding
    residue, and the efficiency ratio may then differ from TA-Lib's.  ``timeperiod=1`` returns a copy of the input (TA-Lib
    0.8's convention).

    Parameters: ``timeperiod`` in [1, 100000] (default 30).
    Lookback: ``timeperiod`` (0 when ``timeperiod == 1``).  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    lb = _kama_lookback(p)
    return run_segments(lambda a: (_kama_kernel(a, p),), (x,), lb, 1)[0]


# ------------------------------------------------------------------ BBANDS


class BBands(NamedTuple):
    """Outputs of :func:`bbands`, in TA-Lib's order."""

    upperband: FloatArray
    middleband: FloatArray
    lowerband: FloatArray


@njit(cache=True, error_model="numpy")
def _bbands_kernel(x: FloatArray, period: int, up: float, dn: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = x.shape[0]
    if n < period:
        return np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    upper = np.empty(n)
    middle = np.empty(n)
    lower = np.empty(n)
    lb = period - 1
    for i in range(lb):
        upper[i] = np.nan
        middle[i] = np.nan
        lower[i] = np.nan
    inv = 1.0 / float(period)
    # Middle band: TA-Lib's SMA running sum.  Deviation: TA-Lib 0.8's
    # cancellation-free variance -- sums of (x - shift) and (x - shift)**2,
    # re-seeded from scratch (shift = window mean) every 32 windows, or when
    # cancellation or a huge outlier makes the running sums unreliable.
    shift = x[0]
    ma_total = 0.0
    s1 = 0.0
    s2 = 0.0
    for j in range(lb):
        ma_total += x[j]
        d = x[j] - shift
        s1 += d
        s2 += d * d
    reseed_in = 32 * period
    trailing = 0
    for i in range(lb, n):
        ma_total += x[i]
        d = x[i] - shift
        s1 += d
        s2 += d * d
        m1 = s1 * inv
        var = s2 * inv - m1 * m1
        mid = ma_total / period
        ma_total -= x[trailing]
        d = x[trailing] - shift
        s1 -= d
        d *= d
        s2 -= d
        trailing += 1
        reseed_in -= 1
        if var < 0.000001 * (s2 * inv) or d > 1000000.0 * s2 or reseed_in <= 0:
            reseed_in = 32 * period
            w0 = i - lb
            acc = 0.0
            for j in range(w0, i + 1):
                acc += x[j]
            shift = acc * inv
            s1 = 0.0
            s2 = 0.0
            for j in range(w0, i + 1):
                d = x[j] - shift
                s1 += d
                s2 += d * d
            m1 = s1 * inv
            var = s2 * inv - m1 * m1
            if var < 0.000000000001 * (s2 * inv):
                var = 0.0
            d = x[w0] - shift
            s1 -= d
            d *= d
            s2 -= d
        sd = np.sqrt(var) if var != 0.0 else 0.0
        middle[i] = mid
        if up == dn:
            t = sd * up
            upper[i] = mid + t
            lower[i] = mid - t
        else:
            upper[i] = fma(sd, up, mid)  # as TA-Lib 0.8.2 evaluates it
            lower[i] = mid - (sd * dn)
    return upper, middle, lower


def _bbands_lookback(timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0, matype: int = 0) -> int:
    p = check_period("timeperiod", timeperiod, 2)
    check_real("nbdevup", nbdevup)
    check_real("nbdevdn", nbdevdn)
    check_matype("matype", matype)
    return p - 1


@register("bbands", _bbands_lookback, BBands._fields)
def bbands(
    real: ArrayLike,
    timeperiod: int = 20,
    nbdevup: float = 2.0,
    nbdevdn: float = 2.0,
    matype: int = 0,
) -> BBands:
    """Bollinger Bands (TA-Lib ``BBANDS``), simple-moving-average middle band only.

    ``middleband = SMA(real, timeperiod)``, ``sd`` = **population** standard
    deviation (ddof=0) of the same window,
    ``upperband = middleband + nbdevup * sd``, ``lowerband = middleband - nbdevdn * sd``.
    The variance is computed like TA-Lib 0.8: running sums of shifted values,
    re-seeded from scratch when cancellation threatens, and set to exactly 0
    when it is below ``1e-12`` of the mean squared deviation (flat windows).

    Parameters: ``timeperiod`` in [2, 100000] (default 20, TA-Lib 0.8's default),
    ``nbdevup`` / ``nbdevdn`` (default 2.0), ``matype`` must be 0 (SMA):
    other moving-average types raise :class:`NotImplementedError`.
    Lookback: ``timeperiod - 1``.
    Outputs: ``(upperband, middleband, lowerband)`` as a :class:`BBands` named tuple.
    """
    p = check_period("timeperiod", timeperiod, 2)
    up = check_real("nbdevup", nbdevup)
    dn = check_real("nbdevdn", nbdevdn)
    check_matype("matype", matype)
    (x,) = as_float_arrays(real=real)
    res = run_segments(lambda a: _bbands_kernel(a, p, up, dn), (x,), p - 1, 3)
    return BBands(*res)


@register("bbands_percent_b", _bbands_lookback)
def bbands_percent_b(
    real: ArrayLike,
    timeperiod: int = 20,
    nbdevup: float = 2.0,
    nbdevdn: float = 2.0,
    matype: int = 0,
) -> FloatArray:
    """Bollinger %B: ``(real - lowerband) / (upperband - lowerband)``.

    0 on the lower band, 1 on the upper band (StockCharts' "%B", a fraction,
    not multiplied by 100).  NaN where the bands have zero width (flat window).
    Parameters as :func:`bbands`.  Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    (x,) = as_float_arrays(real=real)
    upper, _, lower = bbands(x, timeperiod, nbdevup, nbdevdn, matype)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - lower) / width
    out[width == 0.0] = np.nan
    return out


@register("bbands_bandwidth", _bbands_lookback)
def bbands_bandwidth(
    real: ArrayLike,
    timeperiod: int = 20,
    nbdevup: float = 2.0,
    nbdevdn: float = 2.0,
    matype: int = 0,
) -> FloatArray:
    """Bollinger BandWidth: ``(upperband - lowerband) / middleband``.

    A fraction (StockCharts publishes it multiplied by 100).  NaN where the
    middle band is 0.  Parameters as :func:`bbands`.
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    upper, middle, lower = bbands(real, timeperiod, nbdevup, nbdevdn, matype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (upper - lower) / middle
    out[middle == 0.0] = np.nan
    return out
