"""Shared plumbing of :mod:`tsanalysis.ta`: input coercion, the NaN policy (the gap
policy, :func:`run_segments`) and the lookback registry.

NaN policy (applies to every public function of :mod:`tsanalysis.ta`)
----------------------------------------------------------------------
A bar is *missing* when any of the function's input arrays is NaN at that index. Each
indicator is computed independently on every maximal run of consecutive non-missing bars,
exactly as if that run were a series of its own (TA-Lib is called once per run), and the
results are written back in place; missing bars, and the first ``lookback`` bars of every
run, are NaN.

* For window indicators (SMA, WMA, BBANDS, WILLR, STOCH, CCI, MFI, ROC, ...) this is the
  same as "the output is NaN wherever its window touches a NaN".
* For recursive indicators (EMA, Wilder smoothing in RSI/ATR/ADX, KAMA, MACD, OBV, AD,
  VWAP) the recursion restarts after a gap, with the usual seed and warm-up, instead of
  being poisoned for the rest of the series (TA-Lib alone would be).
* Leading NaNs (e.g. the warm-up of another indicator fed in as input) are skipped exactly
  as the TA-Lib Python wrapper skips them, so chaining indicators gives TA-Lib's numbers.
* A NaN is never replaced by a number, and ``+/-inf`` is not treated as missing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

#: TA-Lib's largest accepted period.
MAX_PERIOD = 100_000

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


def check_int(name: str, value: Any) -> int:
    """An integer parameter (``bool`` and non-integral numbers are a ``TypeError``)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def check_period(name: str, value: Any, minimum: int, maximum: int = MAX_PERIOD) -> int:
    """Validate an integer period against an accepted range; return it as ``int``."""
    ivalue = check_int(name, value)
    if not minimum <= ivalue <= maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum}], got {ivalue}")
    return ivalue


def missing_mask(inputs: tuple[FloatArray, ...]) -> BoolArray | None:
    """Boolean mask of bars where any input is NaN, or ``None`` if there are none."""
    bad: BoolArray | None = None
    for x in inputs:
        m = np.isnan(x)
        if m.any():
            bad = m if bad is None else bad | m
    return bad


def run_segments(
    kernel: Callable[..., tuple[FloatArray, ...]],
    inputs: tuple[FloatArray, ...],
    lookback: int,
    n_outputs: int,
    *,
    pass_start: bool = False,
) -> tuple[FloatArray, ...]:
    """Apply ``kernel`` under the package NaN policy (once per contiguous run of bars).

    ``kernel(*inputs)`` must accept NaN-free arrays of any length and return a tuple of
    ``n_outputs`` arrays of the same length whose first ``lookback`` entries are NaN (all
    NaN when the input is not longer than ``lookback``). With ``pass_start`` it is also
    given ``start=``, the index of the run's first bar (for outputs that are indices).
    """
    bad = missing_mask(inputs)
    if bad is None:
        return kernel(*inputs, start=0) if pass_start else kernel(*inputs)
    n = inputs[0].shape[0]
    outs = tuple(np.full(n, np.nan) for _ in range(n_outputs))
    edges = np.diff(np.concatenate(([0], (~bad).view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s <= lookback:
            continue
        args = tuple(x[s:e] for x in inputs)
        res = kernel(*args, start=s) if pass_start else kernel(*args)
        for o, r in zip(outs, res, strict=True):
            o[s:e] = r
    return outs


def register(name: str, lookback: Callable[..., int], outputs: tuple[str, ...] = ("real",)) -> Callable[[F], F]:
    """Decorator: record ``lookback``/``outputs`` for ``name`` and attach them to the function.

    After decoration ``func.lookback(**params)`` returns the number of leading NaNs for a
    NaN-free input (TA-Lib's ``TA_<NAME>_Lookback``), and ``func.output_names`` lists the
    outputs in order.
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

    Equals ``talib.abstract.Function(name.upper()).lookback`` for the same parameters: the
    number of leading NaNs in the output for a NaN-free input.
    """
    try:
        func = LOOKBACKS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown indicator {name!r}") from None
    return func(**params)
