"""Every TA-Lib function as a tsanalysis indicator, named ``talib.<FUNCTION>``.

Names, parameters (with TA-Lib's defaults), inputs and outputs come from TA-Lib's abstract
API (``talib.abstract.Function(name).info``), so this module holds no per-function table:
a TA-Lib release with new functions brings them along. Values are TA-Lib's own, including
its handling of NaN (a NaN inside a series poisons recursive functions from there on,
where the built-in indicators restart after the gap), except that the warm-up of integer
outputs (candlestick patterns, MINMAXINDEX), which TA-Lib fills with 0, is NaN here like
every other warm-up. Parameter bounds are TA-Lib's: a
value TA-Lib refuses is reported with the range it accepts.

MAVP is registered too, but it reads a per-bar ``periods`` series that sessions do not
have, so computing it is refused with a clear message.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import talib
import talib.abstract
from tsanalysis import hookimpl
from tsanalysis.errors import InvalidInput
from tsanalysis.indicators import Indicator, InvalidParameter, Param, decay_length

__version__ = "0.1.0"

NAMESPACE = "talib"

#: Running totals: ``update`` resumes them from the last stored value.
CUMULATIVE = frozenset({"AD", "OBV", "CUMSUM", "PVT", "WAD"})
#: Path-dependent in ways a tail cannot resume (products, stop-and-reverse state, totals
#: since the first bar): ``update`` recomputes them from the start, writing only new rows.
FROM_START = frozenset({"NVI", "PVI", "SAR", "SAREXT", "SUPERTREND", "VWAP"})

_SERIES = ("open", "high", "low", "close", "volume")


def _inputs(info: dict[str, Any]) -> tuple[str, ...]:
    """TA-Lib's input series, flattened: {'prices': ['high', 'low']} -> ('high', 'low')."""
    out: list[str] = []
    for value in info["input_names"].values():
        out += value if isinstance(value, list) else [value]
    return tuple(out)


def _lookback(name: str) -> Callable[..., int]:
    return lambda **params: talib.abstract.Function(name, **params).lookback


def _valid(name: str, params: dict[str, Any]) -> bool:
    """TA-Lib's own verdict: its lookback function returns -1 for bad parameters."""
    try:
        return talib.abstract.Function(name, **params).lookback >= 0
    except (TypeError, ValueError, OverflowError):
        return False


@lru_cache(maxsize=512)
def _bounds(name: str, param: str) -> tuple[float, float]:
    """The range TA-Lib accepts for one parameter (the others at their defaults).

    TA-Lib checks each parameter against a fixed range, and its Python wrapper does not
    expose the ranges, so they are found by bisection on its validity check.
    """
    defaults = dict(talib.abstract.Function(name).info["parameters"])
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


def _validator(name: str) -> Callable[[dict[str, Any]], None]:
    qualified = f"{NAMESPACE}.{name}"

    def validate(params: dict[str, Any]) -> None:
        if _valid(name, params):
            return
        defaults = dict(talib.abstract.Function(name).info["parameters"])
        for p, value in params.items():
            if not _valid(name, {**defaults, p: value}):
                lo, hi = _bounds(name, p)
                kind = "an integer" if isinstance(defaults[p], int) else "a number"
                raise InvalidParameter(qualified, p, value,
                                       f"{kind} in [{_fmt(lo)}, {_fmt(hi)}] (TA-Lib's range)")
        raise InvalidParameter(qualified, ", ".join(params), params,
                               "a combination TA-Lib accepts")

    return validate


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.10g}"


def _unstable(params: tuple[str, ...]) -> Callable[..., int]:
    """Extra history for ``update``: enough for a Wilder or EMA recursion over the longest
    period to forget its seed (``update`` checks, and widens when that is not enough)."""
    periods = [p for p in params if "period" in p and "matype" not in p]

    def unstable(**values: Any) -> int:
        longest = max([int(values[p]) for p in periods] or [0])
        return decay_length(1.0 - 1.0 / longest, order=2) if longest >= 2 else 0

    return unstable


def _compute(name: str, inputs: tuple[str, ...]) -> Callable[..., Any]:
    func = getattr(talib, name)
    unavailable = [k for k in inputs if k not in _SERIES]

    def compute(x: Any, **params: Any) -> Any:
        if unavailable:
            raise InvalidInput(f"{NAMESPACE}.{name} needs the series {', '.join(unavailable)}, "
                               "which sessions do not provide (they have open, high, low, "
                               "close, volume)")
        out = func(*(x[k] for k in inputs), **params)
        outs = out if isinstance(out, tuple) else (out,)
        if any(o.dtype.kind in "iu" for o in outs):
            # Integer outputs (candlestick patterns, MINMAXINDEX) come back with 0 in the
            # warm-up, where there is no value: make it NaN like every other output.
            warm = talib.abstract.Function(name, **params).lookback
            outs = tuple(_warmup_nan(o, warm) for o in outs)
        return outs

    compute.__name__ = f"talib_{name}"
    return compute


def _warmup_nan(a: np.ndarray, warm: int) -> np.ndarray:
    if a.dtype.kind not in "iu":
        return a
    f = a.astype(np.float64)
    f[:warm] = np.nan
    return f


def indicator(name: str) -> Indicator:
    """The tsanalysis indicator for TA-Lib function ``name`` (upper case, e.g. ``RSI``)."""
    info = talib.abstract.Function(name).info
    params = tuple(Param(p, type(default), default, doc=f"TA-Lib {name} {p}")
                   for p, default in info["parameters"].items())
    inputs = _inputs(info)
    flags = ", ".join(info.get("function_flags") or [])
    update = "cumulative" if name in CUMULATIVE else "full" if name in FROM_START else "window"
    return Indicator(
        name=f"{NAMESPACE}.{name}",
        compute=_compute(name, inputs),
        inputs=inputs,
        outputs=tuple(info["output_names"]),
        params=params,
        lookback=_lookback(name),
        unstable=_unstable(tuple(info["parameters"])),
        update=update,  # type: ignore[arg-type]
        validate=_validator(name),
        doc=f"{info['display_name']} (TA-Lib {name}, {info['group']})."
            + (f" {flags}." if flags else ""),
    )


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    """Every function of the installed TA-Lib (201 in TA-Lib 0.8)."""
    for name in talib.get_functions():
        register(indicator(name))


__all__ = ["CUMULATIVE", "FROM_START", "NAMESPACE", "indicator", "register_indicators"]
