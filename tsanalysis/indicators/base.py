"""What an indicator declares, and how its stored ``indicator_id`` is derived.

An :class:`Indicator` is a name, typed :class:`~tsanalysis.params.Param` s (the one
parameter type, shared with quality checks and export formats) with defaults and bounds, the input
series it needs, its named outputs, its warm-up length (``lookback``) and a vectorised
``compute`` function. Plugins register indicators through the ``register_indicators`` hook
(see :mod:`tsanalysis.hookspecs`).

Inputs
    An indicator names the series it reads among ``open``, ``high``, ``low``, ``close`` and
    ``volume`` (TA-Lib's names). It runs either on OHLCV bars at an interval, or on the
    session's ticks, where every tick is a bar whose open, high, low and close are its price
    and whose volume is its size. ``compute`` receives an :class:`Inputs` mapping of float64
    arrays (a missing volume is NaN, never 0) and the validated parameters as keywords.

The indicator id
    Each output of a computation is stored in the ``indicators`` table under an id derived
    from the indicator's name, its parameters and the output, so the same computation
    always lands on the same rows::

        <name>[_<value> for every parameter, in declaration order][_<output>][.<interval>]

    * the name is lower-cased (a namespace stays: ``talib.RSI`` -> ``talib.rsi_14``);
    * every parameter appears, defaults included: integers in decimal, floats in their
      shortest round-trip form without a trailing ``.0`` or an exponent's ``+`` (``2.0``
      -> ``2``, ``0.5`` -> ``0.5``, ``1e+20`` -> ``1e20``), text as given (lower case);
    * the output name is appended only when the indicator has several outputs;
    * ``.<interval>`` is appended when the input was OHLCV bars (``rsi_14.1m``); ids
      without it were computed on ticks.

    Ids use only lower-case letters, digits, ``_``, ``.`` and ``-``, so they are valid
    wherever tsanalysis checks an indicator id (:func:`tsanalysis.ids.check_indicator_id`:
    imports, migration). Examples: ``rsi_14``, ``rsi_14.1m``, ``macd_12_26_9_macdsignal``,
    ``bbands_20_2_2_0_upperband.5m``, ``talib.rsi_14``, ``obv``. The derivation is a bijection for the
    registered indicators: :func:`tsanalysis.indicators.parse_indicator_id` turns an id
    back into the computation, which is how ``update`` finds what to bring up to date.
    Changing an indicator's parameter list changes its ids.

Update
    ``update`` recomputes only the tail of a stored series after new input arrives. How
    much history that needs is declared by ``update``:

    ``"window"``     the output at a point depends on the last ``lookback + unstable``
                     points only (window indicators: ``unstable = 0``; recursive ones such
                     as EMA or Wilder smoothing declare the extra points after which the
                     seed's influence has decayed below 1e-14 of its size).
    ``"cumulative"`` a running total from the start of the series (OBV, A/D): resumed from
                     the last stored value.
    ``"full"``       everything is recomputed from the first point (only the new rows
                     are written).

    Whatever is declared, ``update`` checks that its recomputation reproduces the stored
    values just before the new points (to 1e-10 of their scale) and widens the history
    until it does, so a wrong declaration costs time, never correctness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import InvalidInput, TsanalysisError
from ..params import PARAM_PATTERN as PARAM_PATTERN
from ..params import InvalidParameter as InvalidParameter
from ..params import Param as Param
from ..params import check_values

#: The series an indicator may read (TA-Lib's names).
INPUT_NAMES = ("open", "high", "low", "close", "volume")

UpdateMode = Literal["window", "cumulative", "full"]
UPDATE_MODES = ("window", "cumulative", "full")

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
OUTPUT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
TEXT_VALUE_PATTERN = re.compile(r"^[a-z0-9]+$")
#: What a derived id looks like: lower case, and within tsanalysis.ids.INDICATOR_ID_PATTERN.
INDICATOR_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_.\-]{0,127}$")


class UnknownIndicator(InvalidInput):
    """No registered indicator has this name; ``suggestions`` holds the closest names."""

    def __init__(self, name: str, suggestions: Sequence[str]):
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown indicator {name!r}{hint} "
                         "(`tsanalysis indicators list` shows them all)")
        self.name = name
        self.suggestions = list(suggestions)


class IndicatorConflict(TsanalysisError):
    """Two plugins registered the same indicator name.

    No longer raised by the registry, which skips a clashing third-party indicator with a
    :class:`~tsanalysis.plugins.PluginWarning` (see :class:`tsanalysis.plugins.Registry`);
    kept for code that catches it.
    """

    def __init__(self, name: str, first: str, second: str):
        ns = second.split(".")[-1].replace("-", "_")
        super().__init__(
            f"indicator {name!r} is registered by two plugins, {first!r} and {second!r}: "
            f"names must be unique; a plugin should use a namespace (e.g. '{ns}.{name}'), "
            "or leave one of the plugins out with TSANALYSIS_LOAD_PLUGINS")
        self.name = name
        self.plugins = (first, second)


class Inputs(Mapping[str, np.ndarray]):
    """The input series handed to ``compute``: a mapping of name -> float64 array.

    Besides the series (``open``, ``high``, ``low``, ``close``, ``volume``) it tells
    ``compute`` where they came from:

    ``ts``               int64 microseconds since the epoch (UTC), one per point
    ``source``           ``"ticks"`` or ``"bars"``
    ``interval``         the bar interval (``"1m"``), or None on ticks
    ``interval_seconds`` seconds per point: the bar length, or on ticks the session's
                         declared cadence (``cadence_s``; None when not declared)
    ``seq``              int64: a tick's arrival order; a bar's number since the epoch
    ``origin``           ``"ticks"``, ``"stored bars"`` or ``"bars from ticks"``
    """

    def __init__(self, series: Mapping[str, np.ndarray], ts: np.ndarray, source: str,
                 interval: str | None,
                 interval_seconds: float | None | Callable[[], float | None],
                 seq: np.ndarray | None = None, origin: str | None = None):
        self._series = dict(series)
        self.ts = ts
        self.seq = seq if seq is not None else np.zeros(ts.shape[0], dtype=np.int64)
        self.source = source
        self.origin = origin or source
        self.interval = interval
        # A callable is asked on first use (the session's cadence costs a query).
        self._interval_seconds = interval_seconds

    @property
    def interval_seconds(self) -> float | None:
        if callable(self._interval_seconds):
            self._interval_seconds = self._interval_seconds()
        return self._interval_seconds

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._series[name]
        except KeyError:
            raise InvalidInput(f"input {name!r} is not available; inputs: "
                               f"{', '.join(self._series)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.ts.shape[0])

    def slice(self, start: int, stop: int | None = None) -> Inputs:
        """The points ``[start, stop)`` (views, no copy)."""
        return Inputs({k: v[start:stop] for k, v in self._series.items()}, self.ts[start:stop],
                      self.source, self.interval, self._interval_seconds,
                      self.seq[start:stop], self.origin)


IntOrFn = int | Callable[..., int]


@dataclass(frozen=True, repr=False)
class Indicator:
    """A technical indicator, as a plugin registers it.

    ``compute(inputs, **params)`` receives an :class:`Inputs` mapping and the validated
    parameters, and returns the outputs: a mapping of output name -> array, a tuple in
    ``outputs`` order, or one array when there is a single output. Each array has one value
    per input point, NaN during the warm-up and where the input is missing.

    ``lookback(**params)`` (or an int) is the warm-up: the number of leading NaNs for a
    NaN-free input, TA-Lib's lookback. ``unstable(**params)`` and ``update`` tell
    ``update`` how much history a tail recomputation needs (see the module docstring).
    ``validate(params)``, if given, checks the parameters together and raises
    :class:`InvalidParameter`.
    """

    name: str
    compute: Callable[..., Any]
    inputs: tuple[str, ...] = ("close",)
    outputs: tuple[str, ...] = ("real",)
    params: tuple[Param, ...] = ()
    lookback: IntOrFn = 0
    unstable: IntOrFn = 0
    update: UpdateMode = "window"
    doc: str = ""
    validate: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"invalid indicator name {self.name!r}: letters, digits, '_', "
                             "with an optional namespace ('myplugin.name')")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "params", tuple(self.params))
        if not self.inputs:
            raise ValueError(f"{self.name}: an indicator needs at least one input")
        if not self.outputs or len(set(self.outputs)) != len(self.outputs):
            raise ValueError(f"{self.name}: outputs must be unique and not empty")
        bad = [o for o in self.outputs if not OUTPUT_PATTERN.match(o)]
        if bad:
            raise ValueError(f"{self.name}: invalid output name(s) {bad}: lower-case letters, "
                             "digits and '_'")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: parameter names must be unique")
        if self.update not in UPDATE_MODES:
            raise ValueError(f"{self.name}: update must be one of {', '.join(UPDATE_MODES)}")
        if not callable(self.compute):
            raise ValueError(f"{self.name}: compute must be callable")

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}={p.default!r}" for p in self.params)
        return (f"<Indicator {self.name}({params}): {', '.join(self.inputs)} -> "
                f"{', '.join(self.outputs)}>")

    # -- parameters -----------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The name as ids and lookups use it (lower case)."""
        return self.name.lower()

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def check_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter, validated and typed, defaults filled in, in declaration order."""
        out = check_values(self.params, given, self.name)
        if self.validate is not None:
            self.validate(out)
        return out

    def warmup(self, params: Mapping[str, Any]) -> int:
        """Leading NaNs of each output for a NaN-free input (TA-Lib's lookback)."""
        return _call_int(self.lookback, params)

    def memory(self, params: Mapping[str, Any]) -> int:
        """Input points before a point that a tail recomputation needs (``window`` mode)."""
        return self.warmup(params) + _call_int(self.unstable, params)

    @property
    def needs_bars(self) -> bool:
        """True when the indicator reads open/high/low (on ticks they equal the price)."""
        return bool({"open", "high", "low"} & set(self.inputs))

    # -- ids ------------------------------------------------------------------------------

    def indicator_id(self, params: Mapping[str, Any], output: str | None = None,
                     interval: str | None = None) -> str:
        """The stored id of one output (see the module docstring)."""
        if output is None:
            if len(self.outputs) > 1:
                raise ValueError(f"{self.name} has several outputs: name one")
            output = self.outputs[0]
        if output not in self.outputs:
            raise ValueError(f"{self.name} has no output {output!r}")
        parts = [self.key] + [p.token(params[p.name]) for p in self.params]
        if len(self.outputs) > 1:
            parts.append(output)
        iid = "_".join(parts) + (f".{interval}" if interval else "")
        if not INDICATOR_ID_PATTERN.match(iid):
            raise InvalidInput(f"{self.name}: derived indicator id {iid!r} is not valid "
                               "(too long, or a text parameter with unusual characters)")
        return iid

    def output_ids(self, params: Mapping[str, Any], interval: str | None = None
                   ) -> dict[str, str]:
        """output name -> indicator id."""
        return {o: self.indicator_id(params, o, interval) for o in self.outputs}

    # -- running --------------------------------------------------------------------------

    def run(self, inputs: Inputs, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Call ``compute`` and check what it returns: one float64 array per output."""
        raw = self.compute(inputs, **params)
        n = inputs.n
        if isinstance(raw, Mapping):
            missing = [o for o in self.outputs if o not in raw]
            if missing:
                raise TsanalysisError(f"{self.name}: compute did not return output(s) "
                                      f"{', '.join(missing)}")
            arrays = [raw[o] for o in self.outputs]
        elif isinstance(raw, (tuple, list)):
            arrays = list(raw)
        else:
            arrays = [raw]
        if len(arrays) != len(self.outputs):
            raise TsanalysisError(f"{self.name}: compute returned {len(arrays)} output(s), "
                                  f"declared {len(self.outputs)}")
        out: dict[str, np.ndarray] = {}
        for name, arr in zip(self.outputs, arrays, strict=True):
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != (n,):
                raise TsanalysisError(f"{self.name}: output {name} has shape {a.shape}, "
                                      f"expected ({n},)")
            out[name] = a
        return out

    def describe(self) -> dict[str, Any]:
        """Name, parameters, inputs, outputs and doc, for listings."""
        return {"name": self.name, "params": [p.to_dict() for p in self.params],
                "inputs": list(self.inputs), "outputs": list(self.outputs),
                "update": self.update, "doc": self.doc}


def _call_int(v: IntOrFn, params: Mapping[str, Any]) -> int:
    n = v(**params) if callable(v) else v
    return max(0, int(n))


def decay_length(ratio: float, tol: float = 1e-14, order: int = 1) -> int:
    """Steps after which a perturbation damped by ``ratio`` per step is below ``tol``.

    For ``order`` stacked smoothings (a smoothed smoothing, as in DEMA or ADX) the
    perturbation decays like ``m ** (order - 1) * ratio ** m``. Used to declare the
    ``unstable`` history of recursive indicators.
    """
    if ratio <= 0.0:
        return 0
    if ratio >= 1.0:
        raise ValueError("a ratio >= 1 never decays")
    m = max(1, math.ceil(math.log(tol) / math.log(ratio)))
    while m ** (order - 1) * ratio ** m > tol:
        m += max(1, m // 16)
    return m
