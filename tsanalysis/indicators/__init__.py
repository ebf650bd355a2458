"""Technical indicators: declared by plugins, computed over sessions, stored, kept current.

>>> ws = tsanalysis.connect()
>>> res = ws.indicators.compute(sid, "BTC/USDT", "rsi", timeperiod=14)   # on ticks
>>> res.outputs
{'real': 'rsi_14'}
>>> ws.indicators.compute(sid, "BTC/USDT", "macd", interval="1m").outputs["macdsignal"]
'macd_12_26_9_macdsignal.1m'
>>> ws.indicators.history(sid, "BTC/USDT", "rsi_14", start="2026-01-05T01:00Z", limit=1000)
>>> ws.indicators.update(sid)          # after new ticks: only the tails are recomputed

Declaring an indicator (:class:`Indicator`, :class:`Param`, the ``indicator_id`` rule):
:mod:`tsanalysis.indicators.base`. The built-ins (``tsanalysis/default_plugins/
indicators.py``) keep TA-Lib's lower-case function names, parameter names and output
names, and agree with TA-Lib. The jobs, one module each: gathering the input
(:mod:`~tsanalysis.indicators.inputs`), computing and storing
(:mod:`~tsanalysis.indicators.computing`), the stored rows and reading them back
(:mod:`~tsanalysis.indicators.table`), keeping them up to date
(:mod:`~tsanalysis.indicators.updating`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..params import signature
from .base import (
    INPUT_NAMES,
    Indicator,
    IndicatorConflict,
    Inputs,
    InvalidParameter,
    Param,
    UnknownIndicator,
    decay_length,
)
from .computing import ComputeResult, compute, resolve
from .inputs import load_inputs
from .registry import REGISTRY, IndicatorRegistry, ParsedId, Registered, registry
from .table import UnknownIndicatorId, history, history_arrow, stored
from .updating import UpdatedSeries, UpdateResult, update

if TYPE_CHECKING:
    from ..store.base import Progress
    from ..workspace import Workspace

__all__ = [
    "INPUT_NAMES",
    "ComputeResult",
    "Indicator",
    "IndicatorConflict",
    "IndicatorRegistry",
    "Indicators",
    "Inputs",
    "InvalidParameter",
    "Param",
    "ParsedId",
    "Registered",
    "UnknownIndicator",
    "UnknownIndicatorId",
    "UpdateResult",
    "UpdatedSeries",
    "catalog",
    "compute",
    "decay_length",
    "get",
    "history",
    "history_arrow",
    "load_inputs",
    "parse_indicator_id",
    "registry",
    "stored",
    "update",
]


def get(name: str) -> Indicator:
    """The registered indicator ``name`` (case-insensitive); ``UnknownIndicator`` if none."""
    return registry().get(name)


def parse_indicator_id(indicator_id: str) -> ParsedId | None:
    """What a stored indicator id stands for, or None when no loaded plugin derives it."""
    return registry().parse_id(indicator_id)


def catalog() -> pd.DataFrame:
    """Every registered indicator: name, plugin, parameters (name=default), inputs, outputs."""
    return REGISTRY.catalog(lambda ind: {"params": signature(ind.params),
                                         "inputs": ", ".join(ind.inputs),
                                         "outputs": ", ".join(ind.outputs)})


class Indicators:
    """``ws.indicators``: compute, read and update the indicators of a workspace's sessions."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def catalog(self) -> pd.DataFrame:
        """Every registered indicator (see :func:`catalog`)."""
        return catalog()

    def get(self, name: str) -> Indicator:
        """The registered indicator ``name``."""
        return get(name)

    def compute(self, session_id: str, symbol: str, name: str,
                params: Mapping[str, Any] | None = None, *, interval: str | None = None,
                persist: bool = True, progress: Progress | None = None,
                **kwparams: Any) -> ComputeResult:
        """Compute ``name`` over a session's ticks (or bars at ``interval``) and store it.

        Parameters go in ``params`` or as keywords (``timeperiod=14``); missing ones take
        their defaults. ``res.outputs`` maps each output to its stored indicator id and
        ``res.frame`` holds the values. ``progress`` is called with ``(input points done,
        in all)``. See :func:`tsanalysis.indicators.compute`.
        """
        merged = {**(params or {}), **kwparams}
        ind, _ = resolve(name, merged, interval)  # bad name or parameter: before any I/O
        try:
            return compute(self._ws.store, session_id, symbol, ind.name, merged,
                           interval=interval, persist=persist, progress=progress)
        finally:
            if persist:
                self._ws.sessions.notify("data", session_id)

    def history(self, session_id: str, symbol: str, indicator_id: str, *, start: Any = None,
                end: Any = None, limit: int | None = None,
                offset: int | None = None) -> pd.DataFrame:
        """Stored values of one indicator id (ts, seq, value), paged and time-filtered."""
        return history(self._ws.store, session_id, symbol, indicator_id, start=start, end=end,
                       limit=limit, offset=offset)

    def stored(self, session_id: str, symbol: str | None = None) -> pd.DataFrame:
        """Indicator ids stored for a session, with rows, time range and what they are."""
        return stored(self._ws.store, session_id, symbol)

    def update(self, session_id: str, symbols: str | Sequence[str] | None = None, *,
               progress: Progress | None = None) -> UpdateResult:
        """Bring every indicator stored for the session up to date with its input."""
        syms = [symbols] if isinstance(symbols, str) else symbols
        try:
            return update(self._ws.store, session_id, syms, progress=progress)
        finally:
            self._ws.sessions.notify("data", session_id)

    def __repr__(self) -> str:
        return f"<Indicators of {self._ws!r}: {len(registry())} registered>"

