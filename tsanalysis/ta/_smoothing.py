"""Shared numba kernels: moving averages, rolling extremes and rolling moments.

Every kernel takes NaN-free float64 arrays (the NaN policy is applied by
:func:`tsanalysis.ta._core.run_segments` before they are called) and returns
full-length arrays with NaN in the warm-up.  The TA-Lib ports repeat TA-Lib's
floating-point operations in TA-Lib's order (running sums included), so that
their results agree with TA-Lib to the last bit or very nearly.

Developer note: the kernels are compiled with ``cache=True``.  Numba's cache
does not notice that a kernel defined here changed when a kernel in another
module inlines it; after editing this module delete the ``*.nbi``/``*.nbc``
files under ``tsanalysis/ta/__pycache__`` (or set ``NUMBA_CACHE_DIR`` to a
fresh directory) before measuring or testing.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from ._core import FloatArray


@intrinsic
def fma(typingctx, a, b, c):  # type: ignore[no-untyped-def]
    """Fused multiply-add ``a * b + c`` with a single rounding (``llvm.fma.f64``).

    TA-Lib 0.8 computes several recurrences (EMA, ...) with C's ``fma()``;
    using the same correctly rounded operation keeps the results bit-identical.
    """
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.fma(*args)

    return sig, codegen


@njit(cache=True, error_model="numpy")
def sma_kernel(x: FloatArray, period: int) -> FloatArray:
    """TA-Lib's SMA: running sum, first output at ``period - 1``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    total = 0.0
    for i in range(period - 1):
        total += x[i]
    trailing = 0
    for i in range(period - 1, n):
        total += x[i]
        tmp = total
        total -= x[trailing]
        trailing += 1
        out[i] = tmp / period
    return out


@njit(cache=True, error_model="numpy")
def ema_kernel(x: FloatArray, period: int, k: float, seed_end: int) -> FloatArray:
    """TA-Lib's EMA (``TA_INT_EMA``, default compatibility).

    The seed is the simple average of ``x[seed_end - period + 1 : seed_end + 1]``
    and is the output at ``seed_end``; afterwards
    ``ema = (x - ema) * k + ema``.  A plain EMA uses ``seed_end = period - 1``;
    MACD seeds its fast EMA later (at the slow EMA's first index).
    The update is TA-Lib 0.8's fused ``fma(x - ema, k, ema)``.
    """
    n = x.shape[0]
    if n <= seed_end:
        return np.full(n, np.nan)
    out = np.empty(n)
    for i in range(seed_end):
        out[i] = np.nan
    if period == 1:  # TA-Lib 0.8: a 1-period average is a copy of its input
        for i in range(seed_end, n):  # (explicit loops compile much faster than slicing)
            out[i] = x[i]
        return out
    total = 0.0
    for i in range(seed_end - period + 1, seed_end + 1):
        total += x[i]
    prev = total / period
    out[seed_end] = prev
    for i in range(seed_end + 1, n):
        prev = fma(x[i] - prev, k, prev)
        out[i] = prev
    return out


@njit(cache=True, error_model="numpy")
def wma_kernel(x: FloatArray, period: int) -> FloatArray:
    """TA-Lib's WMA: linear weights ``1..period`` (newest heaviest).

    Running weighted/plain sums, rebuilt from the window every ``8 * period``
    bars as TA-Lib 0.8 does to stop rounding drift.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    if period == 1:
        for i in range(n):
            out[i] = x[i]
        return out
    divider = float(period) * (period + 1) / 2.0
    period_sub = 0.0
    period_sum = 0.0
    for i in range(period - 1):
        tmp = x[i]
        period_sub += tmp
        period_sum += tmp * (i + 1)
    reseed_in = 8 * period
    trailing_value = 0.0
    trailing = 0
    for i in range(period - 1, n):
        tmp = x[i]
        period_sub += tmp
        period_sub -= trailing_value
        period_sum += tmp * period
        reseed_in -= 1
        if reseed_in <= 0:
            reseed_in = 8 * period
            period_sub = 0.0
            period_sum = 0.0
            w = 1
            for j in range(i - period + 1, i + 1):
                tmp = x[j]
                period_sub += tmp
                period_sum += tmp * w
                w += 1
        trailing_value = x[trailing]
        trailing += 1
        out[i] = period_sum / divider
        period_sum -= period_sub
    return out


@njit(cache=True, error_model="numpy")
def rolling_max_kernel(x: FloatArray, period: int) -> FloatArray:
    """Maximum of ``x[i - period + 1 : i + 1]`` (NaN for ``i < period - 1``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    best_idx = -1
    best = 0.0
    for today in range(n):
        trailing = today - period + 1
        if best_idx < trailing or best_idx < 0:
            start = trailing if trailing > 0 else 0
            best_idx = start
            best = x[start]
            for j in range(start + 1, today + 1):
                if x[j] >= best:
                    best = x[j]
                    best_idx = j
        elif x[today] >= best:
            best = x[today]
            best_idx = today
        if trailing >= 0:
            out[today] = best
    return out


@njit(cache=True, error_model="numpy")
def rolling_min_kernel(x: FloatArray, period: int) -> FloatArray:
    """Minimum of ``x[i - period + 1 : i + 1]`` (NaN for ``i < period - 1``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    best_idx = -1
    best = 0.0
    for today in range(n):
        trailing = today - period + 1
        if best_idx < trailing or best_idx < 0:
            start = trailing if trailing > 0 else 0
            best_idx = start
            best = x[start]
            for j in range(start + 1, today + 1):
                if x[j] <= best:
                    best = x[j]
                    best_idx = j
        elif x[today] <= best:
            best = x[today]
            best_idx = today
        if trailing >= 0:
            out[today] = best
    return out


@njit(cache=True, error_model="numpy")
def rolling_sum_kernel(x: FloatArray, period: int) -> FloatArray:
    """Sum of ``x[i - period + 1 : i + 1]``.

    A running sum, recomputed from the window every ``period`` steps and
    whenever the value leaving the window dwarfs what remains (> 1024 times:
    the subtraction would have cancelled most of the significant bits), so
    the rounding error stays that of a single window (amortised O(n)).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    total = 0.0
    for i in range(period - 1, n):
        recompute = (i - (period - 1)) % period == 0
        if not recompute:
            old = x[i - period]
            total += x[i] - old
            recompute = abs(old) > 1024.0 * abs(total)
        if recompute:
            total = 0.0
            for j in range(i - period + 1, i + 1):
                total += x[j]
        out[i] = total
    return out


@njit(cache=True, error_model="numpy")
def rolling_mean_std_kernel(x: FloatArray, period: int, ddof: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and standard deviation (``ddof`` = 0 population, 1 sample).

    Shifted running sums (shift = a value of the window, refreshed together
    with an exact re-summation every ``period`` steps and whenever an outlier
    leaves the window) keep the cancellation error small; windows whose values are all identical get an exact 0.0
    standard deviation (detected exactly with a run-length counter).
    """
    n = x.shape[0]
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n < period:
        return mean, std
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    run = 0  # number of trailing values equal to x[i] (run length)
    for i in range(n):
        if i > 0 and x[i] == x[i - 1]:
            run += 1
        else:
            run = 1
        if i < period - 1:
            continue
        if (i - (period - 1)) % period == 0:
            shift = x[i]
            s1 = 0.0
            s2 = 0.0
            for j in range(i - period + 1, i + 1):
                d = x[j] - shift
                s1 += d
                s2 += d * d
        else:
            d_new = x[i] - shift
            d_old = x[i - period] - shift
            s1 += d_new - d_old
            s2 += d_new * d_new - d_old * d_old
            if d_old * d_old > 1024.0 * abs(s2):
                # an outlier left the window: re-seed from the window itself
                shift = x[i]
                s1 = 0.0
                s2 = 0.0
                for j in range(i - period + 1, i + 1):
                    d = x[j] - shift
                    s1 += d
                    s2 += d * d
        m = s1 / period
        mean[i] = shift + m
        if run >= period:
            std[i] = 0.0
            mean[i] = x[i]
        else:
            var = (s2 - s1 * m) / (period - ddof)
            std[i] = np.sqrt(var) if var > 0.0 else 0.0
    return mean, std
