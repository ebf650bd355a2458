"""Shared plumbing for the indicator kernels: input coercion, parameter checks,
the NaN policy and the lookback registry.

NaN policy (applies to every public function of :mod:`tsanalysis.ta`)
----------------------------------------------------------------------
A bar is *missing* when any of the function's input arrays is NaN at that
index.  Each indicator is computed independently on every maximal run of
consecutive non-missing bars, exactly as if that run were a series of its
own, and the results are written back in place; missing bars, and the first
``lookback`` bars of every run, are NaN.

* For window indicators (SMA, WMA, BBANDS, WILLR, STOCH, CCI, MFI, ROC, ...)
  this is the same as "the output is NaN wherever its window touches a NaN".
* For recursive indicators (EMA, Wilder smoothing in RSI/ATR/ADX, KAMA, MACD,
  OBV, AD, the cumulative VWAP) the recursion restarts after a gap, with the
  usual seed and warm-up, instead of being poisoned for the rest of the
  series.
* Leading NaNs (e.g. the warm-up of another indicator fed in as input) are
  skipped exactly as the TA-Lib Python wrapper skips them, so chaining
  indicators gives the same numbers as TA-Lib.
* A NaN is never replaced by a number, and ``+/-inf`` is not treated as
  missing (it flows through the arithmetic like in TA-Lib).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

#: TA-Lib's largest accepted period.
MAX_PERIOD = 100_000

#: TA-Lib's ``TA_EPSILON`` used by its ``TA_IS_ZERO`` tests.
TA_EPSILON = 1e-14

F = TypeVar("F", bound=Callable[..., Any])

#: name -> lookback function, filled by :func:`register`.
LOOKBACKS: dict[str, Callable[..., int]] = {}
#: name -> output names, in TA-Lib's order.
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {}


def as_float_array(x: ArrayLike, name: str = "real") -> FloatArray:
    """Return ``x`` as a 1-D, C-contiguous float64 array (copying only if needed)."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def as_float_arrays(**named: ArrayLike) -> tuple[FloatArray, ...]:
    """Coerce several inputs with :func:`as_float_array` and check equal lengths."""
    arrays = tuple(as_float_array(v, k) for k, v in named.items())
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) > 1:
        desc = ", ".join(f"{k}={a.shape[0]}" for k, a in zip(named, arrays, strict=True))
        raise ValueError(f"input arrays must have the same length ({desc})")
    return arrays


def check_period(name: str, value: Any, minimum: int, maximum: int = MAX_PERIOD) -> int:
    """Validate an integer period against TA-Lib's accepted range; return it as ``int``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        ivalue = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not minimum <= ivalue <= maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum}], got {ivalue}")
    return ivalue


def check_real(name: str, value: Any, bound: float = 3e37) -> float:
    """Validate a real parameter against TA-Lib's ``[-3e37, 3e37]`` range."""
    fvalue = float(value)
    if not -bound <= fvalue <= bound:
        raise ValueError(f"{name} must be in [{-bound}, {bound}], got {fvalue}")
    return fvalue


def check_matype(name: str, value: Any) -> int:
    """Only ``matype=0`` (SMA) is implemented; reject anything else."""
    ivalue = operator.index(value)
    if ivalue != 0:
        raise NotImplementedError(f"{name}={ivalue} is not supported: only 0 (SMA) is implemented")
    return 0


@njit(cache=True)
def _has_nan(x: FloatArray) -> bool:
    # A scan that stops at the first NaN and allocates nothing: on the common
    # NaN-free path this is the whole cost of the NaN policy.
    for v in x:
        if v != v:
            return True
    return False


def missing_mask(inputs: tuple[FloatArray, ...]) -> BoolArray | None:
    """Boolean mask of bars where any input is NaN, or ``None`` if there are none."""
    for x in inputs:
        if _has_nan(x):
            break
    else:
        return None
    bad = np.isnan(inputs[0])
    for x in inputs[1:]:
        bad |= np.isnan(x)
    return bad


def run_segments(
    kernel: Callable[..., tuple[FloatArray, ...]],
    inputs: tuple[FloatArray, ...],
    lookback: int,
    n_outputs: int,
) -> tuple[FloatArray, ...]:
    """Apply ``kernel`` under the package NaN policy.

    ``kernel(*inputs)`` must accept NaN-free arrays of any length and return a
    tuple of ``n_outputs`` arrays of the same length whose first ``lookback``
    entries are NaN (all NaN when the input is not longer than ``lookback``).
    """
    bad = missing_mask(inputs)
    if bad is None:
        return kernel(*inputs)
    n = inputs[0].shape[0]
    outs = tuple(np.full(n, np.nan) for _ in range(n_outputs))
    edges = np.diff(np.concatenate(([0], (~bad).view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s <= lookback:
            continue
        res = kernel(*(x[s:e] for x in inputs))
        for o, r in zip(outs, res, strict=True):
            o[s:e] = r
    return outs


def register(name: str, lookback: Callable[..., int], outputs: tuple[str, ...] = ("real",)) -> Callable[[F], F]:
    """Decorator: record ``lookback``/``outputs`` for ``name`` and attach them to the function.

    After decoration ``func.lookback(**params)`` returns the number of leading
    NaNs for a NaN-free input (TA-Lib's ``TA_<NAME>_Lookback``), and
    ``func.output_names`` lists the outputs in order.
    """

    def deco(func: F) -> F:
        LOOKBACKS[name] = lookback
        OUTPUT_NAMES[name] = outputs
        func.lookback = lookback  # type: ignore[attr-defined]
        func.output_names = outputs  # type: ignore[attr-defined]
        return func

    return deco


def lookback(name: str, **params: Any) -> int:
    """Lookback of indicator ``name`` (lower-case function name) for ``params``.

    Equals ``talib.abstract.Function(name.upper()).lookback`` for the same
    parameters: the number of leading NaNs in the output for a NaN-free input.
    """
    try:
        func = LOOKBACKS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown indicator {name!r}") from None
    return func(**params)
