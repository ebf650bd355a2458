"""Volume indicators: OBV and the Chaikin A/D line (TA-Lib 0.8.2), and VWAP
(cumulative per session, or over a rolling window).

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
    as_float_array,
    as_float_arrays,
    check_period,
    register,
    run_segments,
)
from ._smoothing import rolling_sum_kernel

__all__ = ["ad", "obv", "rolling_vwap", "session_ids", "vwap"]


@njit(cache=True, error_model="numpy")
def _obv_kernel(real: FloatArray, volume: FloatArray) -> FloatArray:
    n = real.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    acc = volume[0]
    prev = real[0]
    for i in range(n):
        cur = real[i]
        if cur > prev:
            acc += volume[i]
        elif cur < prev:
            acc -= volume[i]
        out[i] = acc
        prev = cur
    return out


def _obv_lookback() -> int:
    return 0


@register("obv", _obv_lookback)
def obv(real: ArrayLike, volume: ArrayLike) -> FloatArray:
    """On-balance volume (TA-Lib ``OBV``).

    Starts at ``volume[0]`` (TA-Lib's convention, StockCharts starts at 0: the
    two differ by that constant); then adds ``volume`` on an up close, subtracts
    it on a down close, and carries the total on an unchanged close.
    Under the NaN policy the running total restarts after a missing bar.

    Lookback: 0.  Output: ``real``.
    """
    arrays = as_float_arrays(real=real, volume=volume)
    return run_segments(lambda r, v: (_obv_kernel(r, v),), arrays, 0, 1)[0]


@njit(cache=True, error_model="numpy")
def _ad_kernel(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    acc = 0.0
    for i in range(n):
        h = high[i]
        lo = low[i]
        c = close[i]
        rng = h - lo
        if rng > 0.0:
            acc += (((c - lo) - (h - c)) / rng) * volume[i]
        out[i] = acc
    return out


def _ad_lookback() -> int:
    return 0


@register("ad", _ad_lookback)
def ad(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike) -> FloatArray:
    """Chaikin accumulation/distribution line (TA-Lib ``AD``).

    Cumulative sum of ``((close - low) - (high - close)) / (high - low) * volume``
    (the money-flow multiplier times volume); bars with ``high <= low`` add
    nothing.  Under the NaN policy the running total restarts after a missing bar.

    Lookback: 0.  Output: ``real``.
    """
    arrays = as_float_arrays(high=high, low=low, close=close, volume=volume)
    return run_segments(lambda h, lo, c, v: (_ad_kernel(h, lo, c, v),), arrays, 0, 1)[0]


# -------------------------------------------------------------------- VWAP


@njit(cache=True, error_model="numpy")
def _vwap_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, session: FloatArray
) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    pv = 0.0
    vol = 0.0
    for i in range(n):
        if i > 0 and session[i] != session[i - 1]:
            pv = 0.0
            vol = 0.0
        tp = (high[i] + low[i] + close[i]) / 3.0
        pv += tp * volume[i]
        vol += volume[i]
        out[i] = pv / vol if vol != 0.0 else np.nan
    return out


def _vwap_lookback() -> int:
    return 0


@register("vwap", _vwap_lookback)
def vwap(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    session: ArrayLike | None = None,
) -> FloatArray:
    """Volume-weighted average price, cumulative within each session (not TA-Lib).

    ``vwap[i] = sum(tp * volume) / sum(volume)`` over the bars of the current
    session up to ``i``, with the typical price ``tp = (high + low + close) / 3``
    (pass the same array three times to weight another price).  ``session``
    labels each bar (any numbers, e.g. :func:`session_ids` of the timestamps);
    the sums restart whenever the label changes.  ``None`` means one session
    for the whole series.  NaN while the session's volume sum is 0.

    A NaN ``session`` label counts as a missing bar.
    Lookback: 0.  Output: ``real``.
    """
    h, lo, c, v = as_float_arrays(high=high, low=low, close=close, volume=volume)
    if session is None:
        s = np.zeros(c.shape[0])
    else:
        s = as_float_array(session, "session")
        if s.shape[0] != c.shape[0]:
            raise ValueError(f"session must have the same length as the prices ({s.shape[0]} != {c.shape[0]})")
    return run_segments(lambda *a: (_vwap_kernel(*a),), (h, lo, c, v, s), 0, 1)[0]


def session_ids(timestamps: ArrayLike, session_seconds: float = 86400.0, offset_seconds: float = 0.0) -> FloatArray:
    """Session labels for :func:`vwap`: ``floor((timestamps - offset_seconds) / session_seconds)``.

    ``timestamps`` are seconds since the epoch (UTC).  The default gives one
    session per UTC day; sessions start ``offset_seconds`` after each multiple
    of ``session_seconds`` (e.g. ``offset_seconds=8 * 3600`` for daily
    sessions starting at 08:00 UTC).
    """
    ts = as_float_array(timestamps, "timestamps")
    if not session_seconds > 0:
        raise ValueError(f"session_seconds must be positive, got {session_seconds!r}")
    return np.floor((ts - offset_seconds) / session_seconds)


def _rolling_vwap_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 1) - 1


@register("rolling_vwap", _rolling_vwap_lookback)
def rolling_vwap(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    timeperiod: int = 14,
) -> FloatArray:
    """Volume-weighted average price over the last ``timeperiod`` bars (not TA-Lib).

    ``sum(tp * volume) / sum(volume)`` over the window, ``tp = (high + low + close) / 3``;
    NaN where the window's volume is 0.

    Parameters: ``timeperiod`` in [1, 100000] (default 14).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    arrays = as_float_arrays(high=high, low=low, close=close, volume=volume)
    return run_segments(lambda h, lo, c, v: (_rolling_vwap_kernel(h, lo, c, v, p),), arrays, p - 1, 1)[0]


@njit(cache=True, error_model="numpy")
def _rolling_vwap_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int
) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    pv = np.empty(n)
    for i in range(n):
        pv[i] = (high[i] + low[i] + close[i]) / 3.0 * volume[i]
    num = rolling_sum_kernel(pv, period)
    den = rolling_sum_kernel(volume, period)
    # Count the non-zero volumes in the window exactly, so that an all-zero
    # window gives NaN even when the running sums hold rounding residue.
    nonzero = 0
    for i in range(n):
        if volume[i] != 0.0:
            nonzero += 1
        if i >= period and volume[i - period] != 0.0:
            nonzero -= 1
        if i >= period - 1 and nonzero > 0:
            d = den[i]
            if d <= 0.0:  # cancellation left no usable sum: re-add the window
                d = 0.0
                t = 0.0
                for j in range(i - period + 1, i + 1):
                    d += volume[j]
                    t += pv[j]
                out[i] = t / d
            else:
                out[i] = num[i] / d
    return out
