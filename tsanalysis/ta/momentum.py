"""Momentum indicators: RSI, MACD, STOCH, WILLR, CCI, MFI, ROC, MOM, ULTOSC,
with TA-Lib 0.8.2's algorithms, defaults and lookbacks.

All functions take 1-D array-likes (converted to float64) and return float64
arrays of the same length, NaN during the warm-up (``func.lookback(**params)``
leading values) and under the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._core import (
    TA_EPSILON,
    ArrayLike,
    FloatArray,
    as_float_arrays,
    check_matype,
    check_period,
    register,
    run_segments,
)
from ._smoothing import fma, rolling_max_kernel, rolling_min_kernel

__all__ = [
    "MACD",
    "Stoch",
    "cci",
    "macd",
    "mfi",
    "mom",
    "roc",
    "rsi",
    "stoch",
    "ultosc",
    "willr",
]


# --------------------------------------------------------------------- RSI


@njit(cache=True, error_model="numpy")
def _rsi_kernel(x: FloatArray, period: int) -> FloatArray:
    n = x.shape[0]
    if n <= period:
        return np.full(n, np.nan)
    out = np.empty(n)
    for i in range(period):
        out[i] = np.nan
    inv = 1.0 / period
    prev_value = x[0]
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        diff = x[i] - prev_value
        prev_value = x[i]
        up = diff if diff > 0.0 else 0.0
        gain += up
        loss += up - diff
    loss *= inv
    gain *= inv
    total = gain + loss
    out[period] = 100.0 * (gain / total) if total > 0.0 else 0.0
    for i in range(period + 1, n):
        diff = x[i] - prev_value
        prev_value = x[i]
        loss *= period - 1
        gain *= period - 1
        up = diff if diff > 0.0 else 0.0
        gain += up
        loss += up - diff
        loss *= inv
        gain *= inv
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total > 0.0 else 0.0
    return out


def _rsi_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 2)


@register("rsi", _rsi_lookback)
def rsi(real: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Relative Strength Index (TA-Lib ``RSI``), Wilder's smoothing.

    Gains ``max(diff, 0)`` and losses ``max(-diff, 0)`` of ``diff = real[i] - real[i-1]``
    are averaged with Wilder's smoothing ``avg = (avg * (n - 1) + value) / n``,
    **seeded with the simple average of the first ``n = timeperiod`` changes**;
    ``rsi = 100 * avg_gain / (avg_gain + avg_loss)``, and 0 (TA-Lib 0.8.2's
    choice) when both averages are exactly zero (a flat series).  As in
    TA-Lib 0.8 the step is ``avg = (avg * (n - 1) + value) * (1 / n)``.

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real`` in [0, 100].
    """
    p = check_period("timeperiod", timeperiod, 2)
    (x,) = as_float_arrays(real=real)
    return run_segments(lambda a: (_rsi_kernel(a, p),), (x,), p, 1)[0]


# -------------------------------------------------------------------- MACD


class MACD(NamedTuple):
    """Outputs of :func:`macd`, in TA-Lib's order."""

    macd: FloatArray
    macdsignal: FloatArray
    macdhist: FloatArray


@njit(cache=True, error_model="numpy")
def _macd_kernel(x: FloatArray, fast: int, slow: int, signal: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = x.shape[0]
    lb = (slow - 1) + (signal - 1)
    if n <= lb:
        return np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    line = np.empty(n)
    sig = np.empty(n)
    hist = np.empty(n)
    for i in range(lb):
        line[i] = np.nan
        sig[i] = np.nan
        hist[i] = np.nan
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    ksig = 2.0 / (signal + 1)
    start = slow - 1
    # Both EMAs start at `start`.  TA-Lib quirk: the fast EMA is seeded there
    # with the mean of the `fast` values ending at `start`, not at fast - 1.
    total = 0.0
    for i in range(start - fast + 1, start + 1):
        total += x[i]
    ema_f = total / fast
    total = 0.0
    for i in range(start - slow + 1, start + 1):
        total += x[i]
    ema_s = total / slow
    # One fused pass: macd line, then its signal EMA (seeded with the mean of
    # the first `signal` line values, or a copy when signal == 1), and hist.
    sig_total = 0.0
    prev = 0.0
    for i in range(start, n):
        if i > start:
            ema_f = fma(x[i] - ema_f, kf, ema_f)
            ema_s = fma(x[i] - ema_s, ks, ema_s)
        m = ema_f - ema_s
        if i < lb:
            sig_total += m
            continue
        if signal == 1:
            prev = m
        elif i == lb:
            prev = (sig_total + m) / signal
        else:
            prev = fma(m - prev, ksig, prev)
        line[i] = m
        sig[i] = prev
        hist[i] = m - prev
    return line, sig, hist


def _macd_periods(fastperiod: int, slowperiod: int, signalperiod: int) -> tuple[int, int, int]:
    fast = check_period("fastperiod", fastperiod, 2)
    slow = check_period("slowperiod", slowperiod, 2)
    sig = check_period("signalperiod", signalperiod, 1)
    if slow < fast:  # TA-Lib swaps them
        fast, slow = slow, fast
    return fast, slow, sig


def _macd_lookback(fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> int:
    _, slow, sig = _macd_periods(fastperiod, slowperiod, signalperiod)
    return (slow - 1) + (sig - 1)


@register("macd", _macd_lookback, MACD._fields)
def macd(real: ArrayLike, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> MACD:
    """Moving Average Convergence/Divergence (TA-Lib ``MACD``).

    ``macd = EMA(real, fastperiod) - EMA(real, slowperiod)``,
    ``macdsignal = EMA(macd, signalperiod)``, ``macdhist = macd - macdsignal``.
    Every EMA is seeded with a simple average (see :func:`tsanalysis.ta.ema`).

    TA-Lib quirks reproduced: (1) the fast EMA does not start at index
    ``fastperiod - 1``: it is seeded at index ``slowperiod - 1`` (where the
    slow EMA starts) with the mean of ``real[slowperiod - fastperiod : slowperiod]``,
    so ``macd`` differs from ``ema(real, 12) - ema(real, 26)`` early on (the
    gap decays geometrically); (2) all three outputs start at the same index,
    ``lookback = (slowperiod - 1) + (signalperiod - 1)``: the first
    ``signalperiod - 1`` values of the macd line are masked with NaN;
    (3) if ``slowperiod < fastperiod`` the two are swapped.

    Parameters: ``fastperiod`` in [2, 100000] (default 12), ``slowperiod``
    in [2, 100000] (default 26), ``signalperiod`` in [1, 100000] (default 9).
    Lookback: ``(max(fast, slow) - 1) + (signalperiod - 1)`` (33 with the defaults).
    Outputs: ``(macd, macdsignal, macdhist)`` as a :class:`MACD` named tuple.
    """
    fast, slow, sig = _macd_periods(fastperiod, slowperiod, signalperiod)
    (x,) = as_float_arrays(real=real)
    lb = (slow - 1) + (sig - 1)
    return MACD(*run_segments(lambda a: _macd_kernel(a, fast, slow, sig), (x,), lb, 3))


# ------------------------------------------------------------------- STOCH


class Stoch(NamedTuple):
    """Outputs of :func:`stoch`, in TA-Lib's order."""

    slowk: FloatArray
    slowd: FloatArray


@njit(cache=True, error_model="numpy")
def _stoch_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, fastk_p: int, slowk_p: int, slowd_p: int, eps: float
) -> tuple[FloatArray, FloatArray]:
    n = close.shape[0]
    lb = (fastk_p - 1) + (slowk_p - 1) + (slowd_p - 1)
    slowk = np.full(n, np.nan)
    slowd = np.full(n, np.nan)
    if n <= lb:
        return slowk, slowd
    start = fastk_p - 1
    m = n - start
    # Fast %K; the window extremes are tracked with their index and the
    # window is rescanned only when one of them drops out of it.
    fastk = np.empty(m)
    hi_idx = -1
    lo_idx = -1
    hh = 0.0
    ll = 0.0
    for i in range(start, n):
        first = i - fastk_p + 1
        if hi_idx < first:
            hi_idx = first
            hh = high[first]
            for j in range(first + 1, i + 1):
                if high[j] >= hh:
                    hh = high[j]
                    hi_idx = j
        elif high[i] >= hh:
            hh = high[i]
            hi_idx = i
        if lo_idx < first:
            lo_idx = first
            ll = low[first]
            for j in range(first + 1, i + 1):
                if low[j] <= ll:
                    ll = low[j]
                    lo_idx = j
        elif low[i] <= ll:
            ll = low[i]
            lo_idx = i
        diff = hh - ll
        flat = abs(diff) <= eps * (abs(hh) + abs(ll))  # TA-Lib 0.8's scaled zero test
        fastk[i - start] = 0.0 if flat else ((close[i] - ll) / diff) * 100.0
    # Slow %K = SMA(fast %K), slow %D = SMA(slow %K): TA-Lib's running sums.
    total = 0.0
    for j in range(slowk_p - 1):
        total += fastk[j]
    for j in range(slowk_p - 1, m):
        total += fastk[j]
        tmp = total
        total -= fastk[j - slowk_p + 1]
        slowk[j + start] = tmp / slowk_p
    k0 = start + slowk_p - 1
    total = 0.0
    for i in range(k0, k0 + slowd_p - 1):
        total += slowk[i]
    for i in range(k0 + slowd_p - 1, n):
        total += slowk[i]
        tmp = total
        total -= slowk[i - slowd_p + 1]
        slowd[i] = tmp / slowd_p
    for i in range(k0, lb):
        slowk[i] = np.nan
    return slowk, slowd


def _stoch_lookback(
    fastk_period: int = 5, slowk_period: int = 3, slowk_matype: int = 0, slowd_period: int = 3, slowd_matype: int = 0
) -> int:
    fk = check_period("fastk_period", fastk_period, 1)
    sk = check_period("slowk_period", slowk_period, 1)
    sd = check_period("slowd_period", slowd_period, 1)
    check_matype("slowk_matype", slowk_matype)
    check_matype("slowd_matype", slowd_matype)
    return (fk - 1) + (sk - 1) + (sd - 1)


@register("stoch", _stoch_lookback, Stoch._fields)
def stoch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowk_matype: int = 0,
    slowd_period: int = 3,
    slowd_matype: int = 0,
) -> Stoch:
    """Stochastic oscillator, slow form (TA-Lib ``STOCH``), SMA smoothing only.

    ``fastk = 100 * (close - LL) / (HH - LL)`` over ``fastk_period`` bars
    (0 when ``HH - LL`` is within a relative 1e-14 of zero, as TA-Lib 0.8), ``slowk = SMA(fastk, slowk_period)``,
    ``slowd = SMA(slowk, slowd_period)``.  Both outputs start at the same index.

    Parameters: ``fastk_period``, ``slowk_period``, ``slowd_period`` in
    [1, 100000] (defaults 5, 3, 3); ``slowk_matype`` / ``slowd_matype`` must be
    0 (SMA), other types raise :class:`NotImplementedError`.
    Lookback: ``(fastk_period - 1) + (slowk_period - 1) + (slowd_period - 1)``.
    Outputs: ``(slowk, slowd)`` as a :class:`Stoch` named tuple.
    """
    lb = _stoch_lookback(fastk_period, slowk_period, slowk_matype, slowd_period, slowd_matype)
    fk, sk, sd = int(fastk_period), int(slowk_period), int(slowd_period)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return Stoch(*run_segments(lambda h, lo, c: _stoch_kernel(h, lo, c, fk, sk, sd, TA_EPSILON), arrays, lb, 2))


# ------------------------------------------------------------------- WILLR


@njit(cache=True, error_model="numpy")
def _willr_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, eps: float) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    hh = rolling_max_kernel(high, period)
    ll = rolling_min_kernel(low, period)
    for i in range(period - 1, n):
        diff = hh[i] - ll[i]
        flat = abs(diff) <= eps * (abs(hh[i]) + abs(ll[i]))  # TA-Lib 0.8's scaled zero test
        out[i] = 0.0 if flat else ((hh[i] - close[i]) / diff) * -100.0
    return out


def _willr_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 2) - 1


@register("willr", _willr_lookback)
def willr(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Williams' %R (TA-Lib ``WILLR``).

    ``-100 * (HH - close) / (HH - LL)`` with ``HH``/``LL`` the highest high and
    lowest low of the last ``timeperiod`` bars; 0 when ``HH - LL`` is within a
    relative 1e-14 of zero (``|HH - LL| <= 1e-14 (|HH| + |LL|)``, as TA-Lib 0.8).

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``timeperiod - 1``.  Output: ``real`` in [-100, 0].
    """
    p = check_period("timeperiod", timeperiod, 2)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_willr_kernel(h, lo, c, p, TA_EPSILON),), arrays, p - 1, 1)[0]


# --------------------------------------------------------------------- CCI


@njit(cache=True, error_model="numpy")
def _cci_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int, eps: float) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    circ = np.zeros(period)
    idx = 0
    for i in range(period - 1):
        circ[idx] = (high[i] + low[i] + close[i]) / 3.0
        idx += 1
    for i in range(period - 1, n):
        last = (high[i] + low[i] + close[i]) / 3.0
        circ[idx] = last
        avg = 0.0
        for j in range(period):
            avg += circ[j]
        avg /= period
        dev = 0.0
        for j in range(period):
            dev += abs(circ[j] - avg)
        t = last - avg
        zero = abs(t) <= eps * (abs(last) + abs(avg)) or (dev == 0.0 or -eps < dev < eps)
        out[i] = 0.0 if zero else t / (0.015 * (dev / period))
        idx += 1
        if idx >= period:
            idx = 0
    return out


def _cci_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 2) - 1


@register("cci", _cci_lookback)
def cci(high: ArrayLike, low: ArrayLike, close: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Commodity Channel Index (TA-Lib ``CCI``).

    Typical price ``tp = (high + low + close) / 3``;
    ``cci = (tp - SMA(tp)) / (0.015 * mean(|tp - SMA(tp)|))`` over
    ``timeperiod`` bars (mean absolute deviation); 0, like TA-Lib 0.8, when the
    numerator is within a relative 1e-14 of zero (``|tp - avg| <= 1e-14 (|tp| + |avg|)``:
    flat windows leave rounding residue there) or the deviation sum is below 1e-14.
    Known limit: in a window whose typical prices differ only at rounding level
    (relative spread below ~1e-13) TA-Lib may still return a value (of noise)
    where this returns 0.

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 2)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_cci_kernel(h, lo, c, p, TA_EPSILON),), arrays, p - 1, 1)[0]


# --------------------------------------------------------------------- MFI


@njit(cache=True, error_model="numpy")
def _mfi_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int, eps: float
) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    pos = np.zeros(period)
    neg = np.zeros(period)
    idx = 0
    pos_sum = 0.0
    neg_sum = 0.0
    null_run = 0
    prev_tp = (high[0] + low[0] + close[0]) / 3.0
    for i in range(1, n):
        if i > period:
            pos_sum -= pos[idx]
            neg_sum -= neg[idx]
        tp = (high[i] + low[i] + close[i]) / 3.0
        diff = tp - prev_tp
        scale = abs(tp) + abs(prev_tp)
        prev_tp = tp
        flow = tp * volume[i]
        # "No movement" within a relative dead-zone of 1e-14 (TA-Lib 0.8).
        money = 0.0 if abs(diff) <= eps * scale else flow
        pflow = 0.0 if diff < 0.0 else money
        nflow = money if diff < 0.0 else 0.0
        pos[idx] = pflow
        neg[idx] = nflow
        pos_sum += pflow
        neg_sum += nflow
        # A full window of empty flows: the sums are exactly zero.
        null_run = null_run + 1 if money == 0.0 else 0
        if null_run >= period:
            null_run = period
            pos_sum = 0.0
            neg_sum = 0.0
        idx += 1
        if idx >= period:
            idx = 0
        if i >= period:
            total = pos_sum + neg_sum
            clamped = 0.0 if pos_sum < 0.0 else (total if pos_sum > total else pos_sum)
            out[i] = 0.0 if total <= 0.0 else 100.0 * (clamped / total)
    return out


def _mfi_lookback(timeperiod: int = 14) -> int:
    return check_period("timeperiod", timeperiod, 2)


@register("mfi", _mfi_lookback)
def mfi(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, timeperiod: int = 14) -> FloatArray:
    """Money Flow Index (TA-Lib ``MFI``).

    Raw money flow ``tp * volume`` with ``tp = (high + low + close) / 3``,
    counted as positive when ``tp`` rose from the previous bar, negative when
    it fell, neither when unchanged (within a relative 1e-14, as TA-Lib 0.8);
    ``mfi = 100 * pos / (pos + neg)`` over the last ``timeperiod`` flows;
    0 when the window holds no money flow at all.

    Parameters: ``timeperiod`` in [2, 100000] (default 14).
    Lookback: ``timeperiod``.  Output: ``real`` in [0, 100].
    """
    p = check_period("timeperiod", timeperiod, 2)
    arrays = as_float_arrays(high=high, low=low, close=close, volume=volume)
    return run_segments(lambda h, lo, c, v: (_mfi_kernel(h, lo, c, v, p, TA_EPSILON),), arrays, p, 1)[0]


# ---------------------------------------------------------------- ROC, MOM


@njit(cache=True, error_model="numpy")
def _roc_kernel(x: FloatArray, period: int) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(period, n):
        prev = x[i - period]
        out[i] = ((x[i] / prev) - 1.0) * 100.0 if prev != 0.0 else 0.0
    return out


def _roc_lookback(timeperiod: int = 10) -> int:
    return check_period("timeperiod", timeperiod, 1)


@register("roc", _roc_lookback)
def roc(real: ArrayLike, timeperiod: int = 10) -> FloatArray:
    """Rate of change in percent (TA-Lib ``ROC``).

    ``100 * (real[i] / real[i - timeperiod] - 1)``; 0 when the old value is 0.

    Parameters: ``timeperiod`` in [1, 100000] (default 10).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)
    return run_segments(lambda a: (_roc_kernel(a, p),), (x,), p, 1)[0]


def _mom_lookback(timeperiod: int = 10) -> int:
    return check_period("timeperiod", timeperiod, 1)


@register("mom", _mom_lookback)
def mom(real: ArrayLike, timeperiod: int = 10) -> FloatArray:
    """Momentum (TA-Lib ``MOM``): ``real[i] - real[i - timeperiod]``.

    Parameters: ``timeperiod`` in [1, 100000] (default 10).
    Lookback: ``timeperiod``.  Output: ``real``.
    """
    p = check_period("timeperiod", timeperiod, 1)
    (x,) = as_float_arrays(real=real)

    def kernel(a: FloatArray) -> tuple[FloatArray]:
        out = np.full(a.shape[0], np.nan)
        out[p:] = a[p:] - a[:-p]
        return (out,)

    return run_segments(kernel, (x,), p, 1)[0]


# ------------------------------------------------------------------ ULTOSC


@njit(cache=True, error_model="numpy")
def _ultosc_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, p1: int, p2: int, p3: int
) -> FloatArray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= p3:
        return out
    # Buying pressure bp = close - min(low, prev close); true range tr.
    bp = np.empty(n)
    tr = np.empty(n)
    bp[0] = 0.0
    tr[0] = 0.0
    for i in range(1, n):
        lo = low[i]
        hi = high[i]
        yc = close[i - 1]
        true_low = lo if lo < yc else yc
        bp[i] = close[i] - true_low
        r = hi - lo
        t = abs(yc - hi)
        if t > r:
            r = t
        t = abs(yc - lo)
        if t > r:
            r = t
        tr[i] = r
    start = p3
    a1 = 0.0
    b1 = 0.0
    a2 = 0.0
    b2 = 0.0
    a3 = 0.0
    b3 = 0.0
    for i in range(start - p1 + 1, start):
        a1 += bp[i]
        b1 += tr[i]
    for i in range(start - p2 + 1, start):
        a2 += bp[i]
        b2 += tr[i]
    for i in range(start - p3 + 1, start):
        a3 += bp[i]
        b3 += tr[i]
    for i in range(start, n):
        a1 += bp[i]
        a2 += bp[i]
        a3 += bp[i]
        b1 += tr[i]
        b2 += tr[i]
        b3 += tr[i]
        acc = 0.0
        if b1 != 0.0:
            acc += 4.0 * (a1 / b1)
        if b2 != 0.0:
            acc += 2.0 * (a2 / b2)
        if b3 != 0.0:
            acc += a3 / b3
        a1 -= bp[i - p1 + 1]
        b1 -= tr[i - p1 + 1]
        a2 -= bp[i - p2 + 1]
        b2 -= tr[i - p2 + 1]
        a3 -= bp[i - p3 + 1]
        b3 -= tr[i - p3 + 1]
        out[i] = 100.0 * (acc / 7.0)
    return out


def _ultosc_periods(timeperiod1: int, timeperiod2: int, timeperiod3: int) -> tuple[int, int, int]:
    p1 = check_period("timeperiod1", timeperiod1, 1)
    p2 = check_period("timeperiod2", timeperiod2, 1)
    p3 = check_period("timeperiod3", timeperiod3, 1)
    s = sorted((p1, p2, p3))
    return s[0], s[1], s[2]


def _ultosc_lookback(timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28) -> int:
    return _ultosc_periods(timeperiod1, timeperiod2, timeperiod3)[2]


@register("ultosc", _ultosc_lookback)
def ultosc(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    timeperiod1: int = 7,
    timeperiod2: int = 14,
    timeperiod3: int = 28,
) -> FloatArray:
    """Ultimate Oscillator (TA-Lib ``ULTOSC``).

    Buying pressure ``bp = close - min(low, prev_close)``, true range ``tr``;
    ``avg_n = sum(bp, n) / sum(tr, n)``;
    ``ultosc = 100 * (4 avg_p1 + 2 avg_p2 + avg_p3) / 7``.  Like TA-Lib the
    three periods are sorted first (the weight 4 always goes to the shortest),
    and a term whose ``sum(tr)`` is exactly zero contributes 0.

    Parameters: ``timeperiod1``/``2``/``3`` in [1, 100000] (defaults 7, 14, 28).
    Lookback: ``max(timeperiod1, timeperiod2, timeperiod3)``.  Output: ``real``.
    """
    p1, p2, p3 = _ultosc_periods(timeperiod1, timeperiod2, timeperiod3)
    arrays = as_float_arrays(high=high, low=low, close=close)
    return run_segments(lambda h, lo, c: (_ultosc_kernel(h, lo, c, p1, p2, p3),), arrays, p3, 1)[0]
