"""Volatility: true range, ATR, NATR (TA-Lib 0.8.2) and annualised rolling
volatility of log returns.

All functions take 1-D array-likes (converted to float64) and return float64
arrays of the same length, NaN during the warm-up (``func.lookback(**params)``
leading values) and under the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

import math

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
from ._smoothing import fma, rolling_mean_std_kernel

__all__ = ["atr", "natr", "rolling_volatility", "trange"]

#: Seconds in a 365-day year: crypto markets trade 24/7.
SECONDS_PER_YEAR = 365 * 24 * 3600


@njit(cache=True, error_model="numpy")
def trange_kernel(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range ``max(high - low, |prev_close - high|, |prev_close - low|)``, NaN at 0."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        yc = close[i - 1]
        greatest = high[i] - low[i]
        v = abs(yc - high[i])
        if v > greatest:
            greatest = v
        v = abs(yc - low[i])
        if v > greatest:
            greatest = v
        out[i] = greatest
    return out


@njit(cache=True, error_model="numpy")
def true_range_at(high: FloatArray, low: FloatArray, close: FloatArray, i: int) -> float:
    yc = close[i - 1]
    greatest = high[i] - low[i]
    v = abs(yc - high[i])
    if v > greatest:
        greatest = v
    v = abs(yc - low[i])
    if v > greatest:
        greatest = v
    return greatest


@njit(cache=True, error_model="numpy")
def atr_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, normalise: bool
) -> tuple[FloatArray, bool]:
    """TA-Lib 0.8's ATR: SMA seed of TR[1..period], then a fused Wilder step.

    With ``normalise`` the output is NATR, ``(atr / close) * 100`` (0 where
    ``close == 0``).  The true range is computed inline: no temporary array.
    Also returns whether every input value was finite-summable, i.e. no NaN
    was seen (a running sum of the inputs, checked once at the end, costs
    nothing next to the recurrence); ``False`` sends the caller to the NaN
    policy's slow path.
    """
    n = close.shape[0]
    if n <= period:
        return np.full(n, np.nan), False
    out = np.empty(n)
    for i in range(period):
        out[i] = np.nan
    w_beta = float(period - 1) / float(period)
    w_alpha = 1.0 - w_beta
    total = 0.0
    for i in range(1, period + 1):
        total += true_range_at(high, low, close, i)
    prev = total / period
    out[period] = prev
    probe = 0.0
    for i in range(period + 1):
        probe += high[i] + low[i] + close[i]
    for i in range(period + 1, n):
        yc = close[i - 1]
        hi = high[i]
        lo = low[i]
        probe += (hi + lo) + close[i]
        tr = hi - lo
        v = abs(yc - hi)
        tr = v if v > tr else tr
        v = abs(yc - lo)
        tr = v if v > tr else tr
        prev = fma(w_beta, prev, w_alpha * tr)
        out[i] = prev
    if normalise:
        for i in range(period, n):
            c = close[i]
            out[i] = (out[i] / c) * 100.0 if c != 0.0 else 0.0
    return out, probe == probe


def _trange_lookback() -> int:
    return 1


@register("trange", _trange_lookback)
def trange(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> FloatArray:
    """True range (TA-Lib ``TRANGE``).

    ``max(high - low, |close[i-1] - high|, |close[i-1] - low|)``.
    Lookback: 1.  Output: ``real``.
    """
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (trange_kernel(h, lo, c),), arrays, 1, 1)[0]


def _atr_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 1)


@register("atr", _atr_lookback)
def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Average true range (TA-Lib ``ATR``), Wilder's smoothing.

    The first value (index ``timeperiod``) is the **simple average of the
    first ``timeperiod`` true ranges** (TR is undefined at index 0); then
    ``atr = atr * (n - 1) / n + tr / n``, evaluated like TA-Lib 0.8 as
    ``fma(beta, atr, alpha * tr)`` with ``beta = (n - 1) / n``,
    ``alpha = 1 - beta``.  ``timeperiod=1`` gives the true range.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close)
    out, clean = atr_kernel(*arrays, p, False)  # fast path: no NaN anywhere
    if clean:
        return out
    return run_segments(lambda h, lo, c: (atr_kernel(h, lo, c, p, False)[0],), arrays, p, 1)[0]


def _natr_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    if period == 1:  # TA-Lib quirk: the plain true range
        out: FloatArray = trange_kernel(high, low, close)
        return out
    return atr_kernel(high, low, close, period, True)[0]


def _natr_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 1)


@register("natr", _natr_lookback)
def natr(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Normalised ATR in percent of the close (TA-Lib ``NATR``).

    ``(atr / close) * 100`` with :func:`atr`'s Wilder smoothing; 0 where
    ``close == 0``.  TA-Lib quirk reproduced: ``timeperiod=1`` returns the
    plain (not normalised) true range.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_natr_kernel(h, lo, c, p),), arrays, p, 1)[0]


# ------------------------------------------------------ rolling volatility


@njit(cache=True, error_model="numpy")
def _log_returns(close: FloatArray) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        a = close[i - 1]
        b = close[i]
        if a > 0.0 and b > 0.0:
            out[i] = math.log(b / a)
    return out


def _rolling_volatility_lookback(
    timeperiod: int = 20,
    interval_seconds: float = 60.0,
    periods_per_year: float | None = None,
) -> int:
    return check_period("timeperiod", timeperiod, 2)


def _periods_per_year(interval_seconds: float, periods_per_year: float | None) -> float:
    if periods_per_year is not None:
        ppy = float(periods_per_year)
        if not (ppy > 0.0 and math.isfinite(ppy)):
            raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
        return ppy
    secs = float(interval_seconds)
    if not (secs > 0.0 and math.isfinite(secs)):
        raise ValueError(f"interval_seconds must be a positive number, got {interval_seconds!r}")
    return SECONDS_PER_YEAR / secs


@register("rolling_volatility", _rolling_volatility_lookback)
def rolling_volatility(
    close: ArrayLike,
    timeperiod: int = 20,
    interval_seconds: float = 60.0,
    periods_per_year: float | None = None,
) -> FloatArray:
    """Annualised rolling volatility of log returns (not a TA-Lib function).

    ``r[i] = ln(close[i] / close[i-1])``;
    ``vol[i] = std(r[i - timeperiod + 1 .. i], ddof=1) * sqrt(periods_per_year)``
    -- the **sample** standard deviation of the last ``timeperiod`` log
    returns (which span ``timeperiod + 1`` closes), annualised by the square
    root of the number of bars per year.  By default
    ``periods_per_year = 365 * 24 * 3600 / interval_seconds`` (a 24/7 crypto
    market: 525,600 one-minute bars a year); pass ``periods_per_year``
    explicitly for other calendars (e.g. ``252`` for daily equity bars, which
    overrides ``interval_seconds``).  The result is a fraction (0.8 = 80 %).

    A window of identical returns gives exactly 0.  A non-positive close has
    no log return: it is treated as missing (NaN) like a NaN close.

    Parameters: ``timeperiod`` (number of returns) in [2, 100000] (default
    20), ``interval_seconds`` > 0 (bar length, default 60),
    ``periods_per_year`` > 0 or None.
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 2)
    scale = math.sqrt(_periods_per_year(interval_seconds, periods_per_year))
    (c,) = as_float_arrays(close=close)
    c = np.where(c > 0.0, c, np.nan) if (c <= 0.0).any() else c

    def kernel(a: FloatArray) -> tuple[FloatArray]:
        r = _log_returns(a)
        out = np.full(a.shape[0], np.nan)
        if a.shape[0] > p:
            _, sd = rolling_mean_std_kernel(r[1:], p, 1)
            out[1:] = sd * scale
        return (out,)

    return run_segments(kernel, (c,), p, 1)[0]
