"""Every TA-Lib function as a :mod:`tsanalysis.ta` function, under the package NaN policy.

The numbers are TA-Lib's own: each function calls TA-Lib once per contiguous run of
non-missing bars (:func:`~tsanalysis.ta._core.run_segments`). Names are TA-Lib's in lower
case; inputs, parameters (every ``matype``), defaults and outputs come from TA-Lib's
abstract API, so a TA-Lib release with new functions brings them along. On top of TA-Lib:

* parameters TA-Lib refuses raise ``ValueError`` (``TypeError`` for a non-integer where an
  integer is expected) before anything runs, from ``func(...)`` and ``func.lookback(...)``;
* integer outputs (candlestick patterns, ``HT_TRENDMODE``, ...) are float64, with NaN in
  the warm-up where TA-Lib writes 0; index outputs (``MAXINDEX``, ``MININDEX``,
  ``MINMAXINDEX``) index the whole input, not the run they were computed on;
* multi-output functions return a ``NamedTuple`` of their outputs (which unpacks like
  TA-Lib's tuple).
"""

from __future__ import annotations

import inspect
import math
import struct
from collections import namedtuple
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

import numpy as np
import talib
import talib.abstract

from ._core import FloatArray, as_float_arrays, check_int, register, run_segments

#: Outputs that are positions in the input series.
INDEX_FUNCTIONS = frozenset({"MAXINDEX", "MININDEX", "MINMAXINDEX"})

#: The last of TA-Lib's moving-average types (``talib.MA_Type``: 0 SMA, 1 EMA, ... 8 T3,
#: 9 Hull, 10 none, 11 the function's default, 12 zero-lag EMA, 13 Wilder in TA-Lib 0.8).
MAX_MATYPE = max(getattr(talib.MA_Type, "_lookup", {8: ""}))

#: Names of the multi-output tuples whose spelling predates the generated ones.
_TUPLE_NAMES = {"BBANDS": "BBands", "STOCH": "Stoch"}


@cache
def info(name: str) -> dict[str, Any]:
    """TA-Lib's abstract ``info`` of function ``name`` (upper case)."""
    return talib.abstract.Function(name).info


def check_params(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Type-check ``values`` against TA-Lib's defaults (all filled in) and return them."""
    defaults = dict(info(name)["parameters"])
    unknown = [k for k in values if k not in defaults]
    if unknown:
        raise TypeError(f"{name.lower()}() got unexpected parameter(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for p, default in defaults.items():
        v = values.get(p, default)
        if isinstance(default, int):
            out[p] = check_int(p, v)
        else:
            f = float(v)
            if not math.isfinite(f):
                raise ValueError(f"{p} must be a finite number, got {v!r}")
            out[p] = f
    return out


def talib_lookback(name: str, params: dict[str, Any]) -> int:
    """TA-Lib's lookback for valid ``params``; ``ValueError`` when TA-Lib refuses them."""
    try:
        lb = talib.abstract.Function(name, **params).lookback
    except (OverflowError, TypeError, ValueError):
        lb = -1
    if lb < 0:
        desc = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise ValueError(f"TA-Lib {name} refuses the parameters {desc}")
    return int(lb)


def talib_names() -> list[str]:
    """Every function of the installed TA-Lib (upper case; 201 in TA-Lib 0.8)."""
    return list(talib.get_functions())


def _valid(name: str, params: dict[str, Any]) -> bool:
    """TA-Lib's own verdict: its lookback function returns -1 for bad parameters."""
    try:
        return talib.abstract.Function(name, **params).lookback >= 0
    except (TypeError, ValueError, OverflowError):
        return False


@lru_cache(maxsize=512)
def bounds(name: str, param: str) -> tuple[float, float]:
    """The range TA-Lib accepts for one parameter (the others at their defaults).

    TA-Lib checks each parameter against a fixed range, and its Python wrapper does not
    expose the ranges, so they are found by bisection on its validity check.
    """
    defaults = dict(info(name)["parameters"])
    default = defaults[param]
    ok = lambda v: _valid(name, {**defaults, param: v})  # noqa: E731
    if isinstance(default, int):
        # INT_MIN is TA-Lib's "use the default" marker, so it always passes: start above it.
        lo_bad, hi_bad = -(2**31) + 1, 2**31 - 1
        return (_edge(int(default), lo_bad, ok, int), _edge(int(default), hi_bad, ok, int))
    return (_edge(float(default), -3e38, ok, float), _edge(float(default), 3e38, ok, float))


def _edge(good: Any, bad: Any, ok: Callable[[Any], bool], kind: type) -> Any:
    """The last valid value between ``good`` (valid) and ``bad`` (its side's extreme)."""
    if ok(bad):
        return bad
    if kind is int:
        while abs(bad - good) > 1:
            mid = (good + bad) // 2
            good, bad = (mid, bad) if ok(mid) else (good, mid)
        return good
    # Floats: bisect their ordered bit patterns, to land exactly on TA-Lib's bound.
    g, b = _ordered(good), _ordered(bad)
    while abs(b - g) > 1:
        mid = (g + b) // 2
        g, b = (mid, b) if ok(_unordered(mid)) else (g, mid)
    return _unordered(g)


def _ordered(x: float) -> int:
    i = struct.unpack("<q", struct.pack("<d", x))[0]
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def _unordered(i: int) -> float:
    bits = i if i >= 0 else (-i) | -0x8000000000000000
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.10g}"


def refusal(name: str, params: dict[str, Any]) -> tuple[str, Any, str] | None:
    """None when TA-Lib accepts ``params`` for ``name``; else (parameter, value, what TA-Lib
    accepts), e.g. ``("timeperiod", 1, "an integer in [2, 100000] (TA-Lib's range)")``."""
    if _valid(name, params):
        return None
    defaults = dict(info(name)["parameters"])
    for p, value in params.items():
        if not _valid(name, {**defaults, p: value}):
            lo, hi = bounds(name, p)
            kind = "an integer" if isinstance(defaults[p], int) else "a number"
            return p, value, f"{kind} in [{_fmt(lo)}, {_fmt(hi)}] (TA-Lib's range)"
    return ", ".join(params), params, "a combination TA-Lib accepts"


def _arg_names(name: str) -> list[str]:
    """The positional input names of ``talib.<name>`` (``real``, ``high``, ``volume``...)."""
    defaults = info(name)["parameters"]
    sig = inspect.signature(getattr(talib, name))
    return [p for p in sig.parameters if p not in defaults]


def _as_output(a: np.ndarray, warm: int) -> FloatArray:
    if a.dtype.kind not in "iu":
        return a
    f = a.astype(np.float64)
    f[:warm] = np.nan
    return f


def make(name: str) -> Callable[..., Any]:
    """The :mod:`tsanalysis.ta` function for TA-Lib function ``name`` (upper case)."""
    fn_info = info(name)
    func = getattr(talib, name)
    args = _arg_names(name)
    defaults = dict(fn_info["parameters"])
    outputs = tuple(fn_info["output_names"])
    lower = name.lower()
    tuple_type = (namedtuple(_TUPLE_NAMES.get(name, name), outputs)  # type: ignore[misc]
                  if len(outputs) > 1 else None)
    index = name in INDEX_FUNCTIONS

    def lookback(**params: Any) -> int:
        return talib_lookback(name, check_params(name, params))

    def wrapper(*arrays: Any, **kw: Any) -> Any:
        if len(arrays) > len(args):  # parameters given by position, as TA-Lib allows
            kw.update(zip(defaults, arrays[len(args):], strict=False))
            arrays = arrays[: len(args)]
        for a in args[len(arrays):]:
            if a not in kw:
                raise TypeError(f"{lower}() missing input {a!r}")
            arrays = (*arrays, kw.pop(a))
        params = check_params(name, kw)
        lb = talib_lookback(name, params)
        inputs = as_float_arrays(**dict(zip(args, arrays, strict=True)))

        def kernel(*xs: FloatArray, start: int = 0) -> tuple[FloatArray, ...]:
            res = func(*xs, **params)
            res = res if isinstance(res, tuple) else (res,)
            outs = tuple(_as_output(r, lb) for r in res)
            if index and start:
                outs = tuple(o + start for o in outs)
            return outs

        outs = run_segments(kernel, inputs, lb, len(outputs), pass_start=index)
        return tuple_type(*outs) if tuple_type is not None else outs[0]

    params_sig = [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in args]
    params_sig += [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
                   for p, d in defaults.items()]
    wrapper.__signature__ = inspect.Signature(params_sig)  # type: ignore[attr-defined]
    wrapper.__name__ = wrapper.__qualname__ = lower
    wrapper.__module__ = "tsanalysis.ta"
    flags = ", ".join(fn_info.get("function_flags") or [])
    wrapper.__doc__ = (
        f"{fn_info['display_name']} (TA-Lib ``{name}``, {fn_info['group']}), computed by "
        f"TA-Lib once per contiguous run of non-missing bars (see :mod:`tsanalysis.ta`).\n\n"
        f"Inputs: {', '.join(args)}.  Parameters (TA-Lib's defaults): "
        f"{', '.join(f'{k}={v!r}' for k, v in defaults.items()) or 'none'}.\n"
        f"Lookback: ``{lower}.lookback(**params)`` (TA-Lib's).  "
        f"Output{'s' if len(outputs) > 1 else ''}: {', '.join(outputs)}."
        + (f"\n\nTA-Lib flags: {flags}." if flags else ""))
    if tuple_type is not None:
        wrapper.output_type = tuple_type  # type: ignore[attr-defined]
    return register(lower, lookback, outputs)(wrapper)


#: lower-case name -> function, for every function of the installed TA-Lib.
FUNCTIONS: dict[str, Callable[..., Any]] = {n.lower(): make(n) for n in talib.get_functions()}

__all__ = ["FUNCTIONS", "INDEX_FUNCTIONS", "MAX_MATYPE", "bounds", "check_params", "info",
           "make", "refusal", "talib_lookback", "talib_names"]
