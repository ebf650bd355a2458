"""The indicators TA-Lib does not have, written with numpy and pandas: session and
rolling VWAP, the Bollinger %B / BandWidth helpers, rolling volatility and z-score.

All functions take 1-D array-likes (converted to float64) and return float64 arrays of the
same length, NaN during the warm-up (``func.lookback(**params)`` leading values) and under
the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
import pandas as pd
import talib

from ._core import (
    ArrayLike,
    FloatArray,
    as_float_array,
    as_float_arrays,
    check_period,
    register,
    run_segments,
)
from ._talib import FUNCTIONS

__all__ = ["bbands_bandwidth", "bbands_percent_b", "rolling_volatility", "rolling_vwap",
           "rolling_zscore", "session_ids", "vwap"]

#: Seconds in the 365-day year used to annualise volatility (a 24/7 market).
SECONDS_PER_YEAR = 365.0 * 24.0 * 3600.0

bbands = FUNCTIONS["bbands"]


def _rolling(x: FloatArray, period: int) -> Any:
    return pd.Series(x, copy=False).rolling(period, min_periods=period)


def _window_sum(x: FloatArray, period: int) -> FloatArray:
    """Sum of ``x[i - period + 1 : i + 1]``, each from that window's values only (the tail
    of one block of ``period`` values plus the head of the next, summed with cumulative
    sums restarted at every block): no running total, so nothing leaving the window
    leaves its rounding behind."""
    n, p = x.shape[0], period
    out = np.full(n, np.nan)
    if n < p:
        return out
    nb = -(-n // p)
    blocks = np.zeros(nb * p)
    blocks[:n] = x
    blocks = blocks.reshape(nb, p)
    tail = blocks[:, ::-1].cumsum(axis=1)[:, ::-1]
    head = blocks.cumsum(axis=1)
    i = np.arange(p - 1, n)
    b, r = np.divmod(i, p)
    whole = r == p - 1
    s = tail[np.where(whole, b, b - 1), np.where(whole, 0, r + 1)]
    s[~whole] += head[b[~whole], r[~whole]]
    out[p - 1:] = s
    return out


#: Windows up to this long get each window's mean and deviations computed from its own
#: values (two passes, as numpy's std does); longer ones use the block sums below, whose
#: cost does not grow with the window.
EXACT_WINDOW_MAX = 64
#: Windows handled per numpy call by the exact path (bounds its temporary memory).
_EXACT_CHUNK = 1 << 16


def _exact_mean_std(x: FloatArray, p: int, ddof: int, mean: FloatArray,
                    std: FloatArray) -> None:
    """Fill ``mean[p-1:]`` and ``std[p-1:]`` window by window, two-pass (no cancellation
    between large sums: near-constant windows far from zero stay accurate)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, p)
    for lo in range(0, windows.shape[0], _EXACT_CHUNK):
        w = windows[lo:lo + _EXACT_CHUNK]
        m = w.mean(axis=1)
        dev = w - m[:, None]
        mean[p - 1 + lo:p - 1 + lo + w.shape[0]] = m
        std[p - 1 + lo:p - 1 + lo + w.shape[0]] = np.sqrt(
            np.einsum("ij,ij->i", dev, dev) / (p - ddof))
    flat = windows.max(axis=1) == windows.min(axis=1)
    std[p - 1:][flat] = 0.0


def _rolling_mean_std(x: FloatArray, period: int, ddof: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and standard deviation (``ddof`` 0 population, 1 sample), each window's
    from sums over that window only.

    The series is cut into blocks of ``period`` values; a window is the tail of one block
    and the head of the next, and both parts are summed (cumulative sums restarted at every
    block) as deviations from the first block's mean. So the rounding error is that of one
    window whatever came before it -- a tail recomputed by ``update`` gives the same
    numbers -- and windows of identical values get an exact 0.0 standard deviation.
    """
    n, p = x.shape[0], period
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n < p:
        return mean, std
    if p <= EXACT_WINDOW_MAX:
        _exact_mean_std(x, p, ddof, mean, std)
        return mean, std
    nb = -(-n // p)
    blocks = np.zeros(nb * p)
    blocks[:n] = x
    blocks = blocks.reshape(nb, p)
    c = blocks.mean(axis=1)
    d = blocks - c[:, None]  # deviations from the block's own mean
    tail1 = d[:, ::-1].cumsum(axis=1)[:, ::-1]  # sum of block[b, j:]
    tail2 = (d * d)[:, ::-1].cumsum(axis=1)[:, ::-1]
    e = blocks[1:] - c[:-1, None]  # next block, as deviations from this block's mean
    head1 = e.cumsum(axis=1)  # sum of block[b + 1, :j + 1]
    head2 = (e * e).cumsum(axis=1)
    i = np.arange(p - 1, n)
    b, r = np.divmod(i, p)
    whole = r == p - 1
    a = np.where(whole, b, b - 1)  # the block where the window starts
    start = np.where(whole, 0, r + 1)
    s1 = tail1[a, start]
    s2 = tail2[a, start]
    part = ~whole
    s1[part] += head1[a[part], r[part]]
    s2[part] += head2[a[part], r[part]]
    mean[p - 1:] = c[a] + s1 / p
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(s2 - s1 * s1 / p, 0.0) / (p - ddof)
    std[p - 1:] = np.sqrt(var)
    w = _rolling(x, p)
    std[(w.max().to_numpy() - w.min().to_numpy()) == 0.0] = 0.0
    return mean, std


# -------------------------------------------------------------------- VWAP


def _vwap_kernel(h: FloatArray, lo: FloatArray, c: FloatArray, v: FloatArray,
                 s: FloatArray) -> tuple[FloatArray]:
    out = np.empty(c.shape[0])
    cuts = np.flatnonzero(s[1:] != s[:-1]) + 1
    for a, b in zip(np.concatenate(([0], cuts)).tolist(),
                    np.concatenate((cuts, [c.shape[0]])).tolist(), strict=True):
        out[a:b] = talib.VWAP(h[a:b], lo[a:b], c[a:b], v[a:b])
        # TA-Lib writes 0 while no volume has traded in the session: there is no price yet
        out[a:b][~np.logical_or.accumulate(v[a:b] != 0.0)] = np.nan
    return (out,)


def _vwap_lookback() -> int:
    return 0


@register("vwap", _vwap_lookback)
def vwap(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike,
         session: ArrayLike | None = None) -> FloatArray:
    """Volume-weighted average price, cumulative within each session (TA-Lib ``VWAP``).

    ``vwap[i] = sum(tp * volume) / sum(volume)`` over the bars of the current session up
    to ``i``, with the typical price ``tp = (high + low + close) / 3`` (pass the same array
    three times to weight another price); TA-Lib's ``VWAP`` computes each session.
    ``session`` labels each bar (any numbers, e.g. :func:`session_ids` of the timestamps);
    the sums restart whenever the label changes.  ``None`` means one session for the whole
    series.  NaN while the session's volume sum is 0.  A NaN ``session`` label counts as a
    missing bar.

    Lookback: 0.  Output: ``real``.
    """
    h, lo, c, v = as_float_arrays(high=high, low=low, close=close, volume=volume)
    if session is None:
        s = np.zeros(c.shape[0])
    else:
        s = as_float_array(session, "session")
        if s.shape[0] != c.shape[0]:
            raise ValueError(f"session must have the same length as the prices "
                             f"({s.shape[0]} != {c.shape[0]})")
    return run_segments(_vwap_kernel, (h, lo, c, v, s), 0, 1)[0]


def session_ids(timestamps: ArrayLike, session_seconds: float = 86400.0,
                offset_seconds: float = 0.0) -> FloatArray:
    """Session labels for :func:`vwap`: ``floor((timestamps - offset_seconds) / session_seconds)``.

    ``timestamps`` are seconds since the epoch (UTC).  The default gives one session per
    UTC day; sessions start ``offset_seconds`` after each multiple of ``session_seconds``
    (e.g. ``offset_seconds=8 * 3600`` for daily sessions starting at 08:00 UTC).
    """
    ts = as_float_array(timestamps, "timestamps")
    if not session_seconds > 0:
        raise ValueError(f"session_seconds must be positive, got {session_seconds!r}")
    return np.floor((ts - offset_seconds) / session_seconds)


def _rolling_vwap_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 1) - 1


@register("rolling_vwap", _rolling_vwap_lookback)
def rolling_vwap(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike,
                 timeperiod: int = 14) -> FloatArray:
    """Volume-weighted average price over the last ``timeperiod`` bars (not TA-Lib).

    ``sum(tp * volume) / sum(volume)`` over the window, ``tp = (high + low + close) / 3``;
    NaN where the window's volume is 0 (counted exactly, not from the running sum).

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close, volume=volume)

    def kernel(h: FloatArray, lo: FloatArray, c: FloatArray, v: FloatArray) -> tuple[FloatArray]:
        num = _window_sum((h + lo + c) / 3.0 * v, p)
        den = _window_sum(v, p)
        nonzero = _window_sum((v != 0.0).astype(np.float64), p)  # exact: small integers
        with np.errstate(divide="ignore", invalid="ignore"):
            out = num / den
        out[~(nonzero > 0.5)] = np.nan
        return (out,)

    return run_segments(kernel, arrays, p - 1, 1)[0]


# ------------------------------------------------------------ Bollinger helpers


def _bbands_lookback(timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0,
                     matype: int = 0) -> int:
    return bbands.lookback(timeperiod=timeperiod, nbdevup=nbdevup, nbdevdn=nbdevdn,  # type: ignore[attr-defined]
                           matype=matype)


@register("bbands_percent_b", _bbands_lookback)
def bbands_percent_b(real: ArrayLike, timeperiod: int = 20, nbdevup: float = 2.0,
                     nbdevdn: float = 2.0, matype: int = 0) -> FloatArray:
    """Bollinger %B: ``(real - lowerband) / (upperband - lowerband)``.

    0 on the lower band, 1 on the upper band (StockCharts' "%B", a fraction, not multiplied
    by 100).  NaN where the bands have zero width (flat window).  Bands from TA-Lib's
    ``BBANDS`` with the same parameters.  Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    (x,) = as_float_arrays(real=real)
    upper, _, lower = bbands(x, timeperiod, nbdevup, nbdevdn, matype)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - lower) / width
    out[width == 0.0] = np.nan
    return out


@register("bbands_bandwidth", _bbands_lookback)
def bbands_bandwidth(real: ArrayLike, timeperiod: int = 20, nbdevup: float = 2.0,
                     nbdevdn: float = 2.0, matype: int = 0) -> FloatArray:
    """Bollinger BandWidth: ``(upperband - lowerband) / middleband``.

    A fraction (StockCharts publishes it multiplied by 100).  NaN where the middle band is
    0.  Bands from TA-Lib's ``BBANDS`` with the same parameters.
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    upper, middle, lower = bbands(real, timeperiod, nbdevup, nbdevdn, matype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (upper - lower) / middle
    out[middle == 0.0] = np.nan
    return out


# ------------------------------------------------------ rolling volatility


def _rolling_volatility_lookback(timeperiod: int = 20, interval_seconds: float = 60.0,
                                 periods_per_year: float | None = None) -> int:
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
def rolling_volatility(close: ArrayLike, timeperiod: int = 20, interval_seconds: float = 60.0,
                       periods_per_year: float | None = None) -> FloatArray:
    """Annualised rolling volatility of log returns (not a TA-Lib function).

    ``r[i] = ln(close[i] / close[i-1])``;
    ``vol[i] = std(r[i - timeperiod + 1 .. i], ddof=1) * sqrt(periods_per_year)`` -- the
    **sample** standard deviation of the last ``timeperiod`` log returns (which span
    ``timeperiod + 1`` closes), annualised by the square root of the number of bars per
    year.  By default ``periods_per_year = 365 * 24 * 3600 / interval_seconds`` (a 24/7
    crypto market: 525,600 one-minute bars a year); pass ``periods_per_year`` explicitly
    for other calendars (e.g. ``252`` for daily equity bars, which overrides
    ``interval_seconds``).  The result is a fraction (0.8 = 80 %).

    A window of identical returns gives exactly 0.  A
    non-positive close has no log return: it is treated as missing (NaN) like a NaN close.

    Parameters: ``timeperiod`` (number of returns) in [2, 100000] (default 20),
    ``interval_seconds`` > 0 (bar length, default 60), ``periods_per_year`` > 0 or None.
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 2)
    scale = math.sqrt(_periods_per_year(interval_seconds, periods_per_year))
    (c,) = as_float_arrays(close=close)
    c = np.where(c > 0.0, c, np.nan) if (c <= 0.0).any() else c

    def kernel(a: FloatArray) -> tuple[FloatArray]:
        out = np.full(a.shape[0], np.nan)
        if a.shape[0] > p:
            r = np.log(a[1:] / a[:-1])
            out[1:] = _rolling_mean_std(r, p, 1)[1] * scale
        return (out,)

    return run_segments(kernel, (c,), p, 1)[0]


# ------------------------------------------------------------ rolling z-score


def _check_ddof(ddof: int) -> int:
    d = operator.index(ddof)
    if d not in (0, 1):
        raise ValueError(f"ddof must be 0 (population) or 1 (sample), got {d}")
    return d


def _rolling_zscore_lookback(timeperiod: int = 20, ddof: int = 0) -> int:
    _check_ddof(ddof)
    return check_period("timeperiod", timeperiod, 2) - 1


@register("rolling_zscore", _rolling_zscore_lookback)
def rolling_zscore(real: ArrayLike, timeperiod: int = 20, ddof: int = 0) -> FloatArray:
    """Rolling z-score: ``(real[i] - mean) / std`` over the last ``timeperiod`` values.

    The window includes the current value.  ``std`` is the **population** standard
    deviation (``ddof=0``) by default -- the same as Bollinger Bands, so
    ``rolling_zscore(x, n) == (x - middleband) / ((upperband - middleband) / nbdevup)`` and
    %B ``= 0.5 + z / (2 * nbdev)``; pass ``ddof=1`` for the sample standard deviation.
    The z-score is undefined, and NaN, when every value of the window is identical (zero
    dispersion).

    Parameters: ``timeperiod`` in [2, 100000] (default 20), ``ddof`` 0 or 1.
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    d = _check_ddof(ddof)
    p = check_period("timeperiod", timeperiod, 2)
    (x,) = as_float_arrays(real=real)

    def kernel(a: FloatArray) -> tuple[FloatArray]:
        mean, sd = _rolling_mean_std(a, p, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            z: FloatArray = (a - mean) / sd
        z[sd == 0.0] = np.nan
        return (z,)

    return run_segments(kernel, (x,), p - 1, 1)[0]
