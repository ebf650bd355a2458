"""Strategies: typed parameters, the indicators they read, and a vectorised signal.

A :class:`Strategy` is registered through the ``register_strategies`` hook
(:mod:`tsanalysis.hookspecs`) by the built-ins (``tsanalysis/default_plugins/
strategies.py``) and by third-party plugins alike, into one
:class:`tsanalysis.plugins.Registry`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import plugins
from ..errors import InvalidInput
from ..indicators.base import NAME_PATTERN, Inputs
from ..params import InvalidParameter, Param, check_values

HOOK = "register_strategies"


@dataclass(frozen=True)
class IndicatorRef:
    """One indicator a strategy reads: a registered indicator's name, its parameters and
    the output (None for an indicator with one output)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    output: str | None = None


class UnknownStrategy(InvalidInput):
    """No registered strategy has this name; the message lists the registered ones."""

    def __init__(self, name: str, registered: Sequence[str]):
        close = difflib.get_close_matches(name.lower(), list(registered), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"unknown strategy {name!r}{hint}; registered: "
                         f"{', '.join(registered) or 'none'}")
        self.name, self.registered = name, list(registered)


@dataclass(frozen=True)
class Strategy:
    """A trading rule from prices and indicators to a target position.

    :param name: what ``--strategy`` takes (third parties: ``"myplugin.name"``).
    :param signal: ``signal(prices, ind, **params)`` -> one target per point, a float array:
        -1 (short) .. 1 (long), 0 flat, NaN for "no position" (flat). ``prices`` is an
        :class:`~tsanalysis.indicators.Inputs` (``prices["close"]``, ``open``, ``high``,
        ``low``, ``volume``, ``prices.ts``), ``ind`` maps each name of ``indicators`` to its
        stored values at the same points (NaN where none is stored). A target decided at a
        point is filled at the next point: the function may use everything up to and
        including the point it decides at.
    :param params: the strategy's parameters (:class:`~tsanalysis.params.Param`: name,
        type, default, bounds, choices, doc).
    :param indicators: ``indicators(**params)`` -> ``{name: IndicatorRef}`` (or a plain
        mapping when it does not depend on the parameters): what ``signal`` reads. Values
        may also be tuples ``(indicator, params)`` or ``(indicator, params, output)``.
    :param long_only: the rule never goes short (its targets stay in 0..1).
    :param doc: one paragraph for ``tsanalysis strategies list``.
    """

    name: str
    signal: Callable[..., Any]
    params: tuple[Param, ...] = ()
    indicators: Callable[..., Mapping[str, Any]] | Mapping[str, Any] = field(
        default_factory=dict)
    long_only: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise ValueError(f"invalid strategy name {self.name!r}: letters, digits, '_', "
                             "with an optional namespace ('myplugin.name')")
        object.__setattr__(self, "params", tuple(self.params))
        names = [p.name for p in self.params]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"strategy {self.name}: parameters need unique names")
        if not callable(self.signal):
            raise ValueError(f"strategy {self.name}: signal must be callable")

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def check_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter, validated and typed, defaults filled in, in declaration order."""
        return check_values(self.params, given, f"strategy {self.name}")

    def inputs(self, params: Mapping[str, Any]) -> dict[str, IndicatorRef]:
        """The indicators read with these parameters, by the name ``signal`` sees."""
        raw = self.indicators(**params) if callable(self.indicators) else self.indicators
        out = {}
        for alias, ref in dict(raw).items():
            if isinstance(ref, IndicatorRef):
                out[alias] = ref
            elif isinstance(ref, tuple) and 1 <= len(ref) <= 3:
                out[alias] = IndicatorRef(*ref)
            else:
                raise InvalidInput(f"strategy {self.name}: indicator {alias!r} must be an "
                                   f"IndicatorRef or (name, params[, output]), not {ref!r}")
        return out

    def run(self, prices: Inputs, ind: Mapping[str, np.ndarray],
            params: Mapping[str, Any]) -> np.ndarray:
        """Call ``signal`` and check what it returns: one float per point."""
        out = np.asarray(self.signal(prices, ind, **params), dtype=np.float64)
        if out.shape != (prices.n,):
            raise InvalidInput(f"strategy {self.name} returned shape {out.shape}; expected "
                               f"({prices.n},): one target per point")
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "params": [p.to_dict() for p in self.params],
                "long_only": self.long_only, "doc": self.doc}


REGISTRY = plugins.Registry(HOOK, Strategy, what="strategy", normalize=str.lower)


def strategies() -> dict[str, Strategy]:
    """Every registered strategy by (lower-case) name, built-ins first."""
    return REGISTRY.items()


def get_strategy(name: str) -> Strategy:
    """The strategy ``name`` (case-insensitive); :class:`UnknownStrategy` if none."""
    found = REGISTRY.lookup(name)
    if found is None:
        raise UnknownStrategy(str(name), [s.name for s in strategies().values()])
    return found.item


__all__ = ["HOOK", "REGISTRY", "IndicatorRef", "InvalidParameter", "Strategy",
           "UnknownStrategy", "get_strategy", "strategies"]
