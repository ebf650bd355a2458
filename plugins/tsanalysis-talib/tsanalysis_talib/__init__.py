"""TA-Lib's functions with TA-Lib's own NaN handling, named ``talib.<FUNCTION>``.

The built-in indicators already are TA-Lib's whole catalogue (``rsi``, ``macd``,
``cdlengulfing``, ...), computed by TA-Lib once per contiguous run of points, so a missing
point restarts recursive indicators. What this plugin still adds is TA-Lib called once on
the whole series, with TA-Lib's own handling of NaN (a NaN inside a series poisons
recursive functions from there on), under the ``talib.*`` names and ids it has always
stored (``talib.rsi_14``). The declarations (inputs, parameters, TA-Lib's ranges in error
messages, warm-up, how ``update`` resumes) are the built-ins' helpers, so this module holds
no per-function table. The warm-up of integer outputs (candlestick patterns,
MINMAXINDEX), which TA-Lib fills with 0, is NaN here like every other warm-up.

MAVP is registered too, but it reads a per-bar ``periods`` series that sessions do not
have, so computing it is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import talib
from tsanalysis import hookimpl
from tsanalysis.default_plugins.indicators import (
    CUMULATIVE,
    FROM_START,
    _talib_inputs,
    _talib_unstable,
)
from tsanalysis.errors import InvalidInput
from tsanalysis.indicators import Indicator, InvalidParameter, Param
from tsanalysis.ta._talib import info, refusal, talib_lookback, talib_names

__version__ = "0.1.0"

NAMESPACE = "talib"

_SERIES = ("open", "high", "low", "close", "volume")
_inputs = _talib_inputs


def _validator(name: str) -> Callable[[dict[str, Any]], None]:
    def validate(params: dict[str, Any]) -> None:
        problem = refusal(name, params)
        if problem is not None:
            raise InvalidParameter(f"{NAMESPACE}.{name}", *problem)

    return validate


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
            # Integer outputs come back with 0 in the warm-up, where there is no value.
            warm = talib_lookback(name, params)
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
    fn = info(name)
    inputs = _inputs(fn)
    flags = ", ".join(fn.get("function_flags") or [])
    update = "cumulative" if name in CUMULATIVE else "full" if name in FROM_START else "window"
    return Indicator(
        name=f"{NAMESPACE}.{name}",
        compute=_compute(name, inputs),
        inputs=inputs,
        outputs=tuple(fn["output_names"]),
        params=tuple(Param(p, type(default), default, doc=f"TA-Lib {name} {p}")
                     for p, default in fn["parameters"].items()),
        lookback=lambda **params: talib_lookback(name, params),
        unstable=_talib_unstable(tuple(fn["parameters"])),
        update=update,  # type: ignore[arg-type]
        validate=_validator(name),
        doc=f"{fn['display_name']} (TA-Lib {name}, {fn['group']}; TA-Lib's NaN handling)."
            + (f" {flags}." if flags else ""),
    )


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    """Every function of the installed TA-Lib (201 in TA-Lib 0.8)."""
    for name in talib_names():
        register(indicator(name))


__all__ = ["NAMESPACE", "indicator", "register_indicators"]
