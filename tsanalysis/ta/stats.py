"""Rolling statistics that are not in TA-Lib: the rolling z-score.

All functions take 1-D array-likes (converted to float64) and return float64
arrays of the same length, NaN during the warm-up (``func.lookback(**params)``
leading values) and under the package NaN policy (see :mod:`tsanalysis.ta`).
"""

from __future__ import annotations

import operator

import numpy as np

from ._core import ArrayLike, FloatArray, as_float_arrays, check_period, register, run_segments
from ._smoothing import rolling_mean_std_kernel

__all__ = ["rolling_zscore"]


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

    The window includes the current value.  ``std`` is the **population**
    standard deviation (``ddof=0``) by default -- the same as Bollinger Bands,
    so ``rolling_zscore(x, n) == (x - middleband) / ((upperband - middleband) / nbdevup)``
    and %B ``= 0.5 + z / (2 * nbdev)``; pass ``ddof=1`` for the sample standard
    deviation.  The z-score is undefined, and NaN, when every value of the
    window is identical (zero dispersion).

    Parameters: ``timeperiod`` in [2, 100000] (default 20), ``ddof`` 0 or 1.
    Lookback: ``timeperiod - 1``.  Output: ``real``.
    """
    d = _check_ddof(ddof)
    p = check_period("timeperiod", timeperiod, 2)
    (x,) = as_float_arrays(real=real)

    def kernel(a: FloatArray) -> tuple[FloatArray]:
        mean, sd = rolling_mean_std_kernel(a, p, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            z: FloatArray = (a - mean) / sd
        z[sd == 0.0] = np.nan
        return (z,)

    return run_segments(kernel, (x,), p - 1, 1)[0]
