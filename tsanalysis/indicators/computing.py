"""Computing an indicator over a whole session and symbol, and storing its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..ids import interval_seconds
from ..store.base import Store
from ..timeutil import from_micros
from .base import Indicator
from .inputs import load_inputs, session_row, tick_cadence
from .registry import registry
from .table import TABLE, indicator_rows, write_rows


@dataclass
class ComputeResult:
    """What :func:`compute` did: the ids written and the values (``frame``)."""

    session_id: str
    symbol: str
    indicator: str
    params: dict[str, Any]
    interval: str | None
    #: ``"ticks"``, ``"stored bars"`` or ``"bars from ticks"``
    source: str
    #: output name -> indicator id
    outputs: dict[str, str]
    #: input points (one row per point and output)
    rows: int
    #: rows written to the indicators table (0 with ``persist=False``)
    written: int
    #: output name -> values, one per input point
    values: dict[str, np.ndarray] = field(repr=False)
    #: the input points: int64 microseconds since the epoch, and seq
    ts_us: np.ndarray = field(repr=False)
    seq: np.ndarray = field(repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        """ts (UTC), seq and one column per output (built on demand)."""
        ts = from_micros(self.ts_us)
        return pd.DataFrame({"ts": ts, "seq": self.seq, **self.values})

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "symbol": self.symbol, "rows": self.rows,
                "outputs": dict(self.outputs)}


def resolve(name: str, params: Mapping[str, Any] | None = None, interval: str | None = None
            ) -> tuple[Indicator, dict[str, Any]]:
    """The registered indicator and its validated parameters (errors before any work)."""
    ind = registry().get(name)
    full = ind.check_params(params)
    if interval is not None:
        interval_seconds(interval)
    return ind, full


def compute(store: Store, session_id: str, symbol: str, name: str,
            params: Mapping[str, Any] | None = None, *, interval: str | None = None,
            persist: bool = True) -> ComputeResult:
    """Compute an indicator over a whole session and symbol; persist it unless told not to.

    Raises :class:`~tsanalysis.indicators.UnknownIndicator` (with the closest names),
    :class:`~tsanalysis.indicators.InvalidParameter` (naming the parameter and its
    bounds), :class:`~tsanalysis.errors.SessionNotFound`, or
    :class:`~tsanalysis.errors.InvalidInput` when the symbol has no data.
    """
    ind, full = resolve(name, params, interval)
    # One transaction when writing: the rows land together, and the reads share the
    # writer's connection (DuckDB would otherwise reopen the file to switch).
    with store.atomic() if persist else nullcontext():
        return _compute(store, session_id, symbol, ind, full, interval, persist)


def _compute(store: Store, session_id: str, symbol: str, ind: Indicator,
             full: dict[str, Any], interval: str | None, persist: bool) -> ComputeResult:
    row = session_row(store, session_id)
    inputs = load_inputs(store, session_id, symbol, interval, cadence_s=tick_cadence(row))
    if inputs.n == 0:
        what = f"bars at {interval} or ticks" if interval else "ticks"
        syms = row.get("symbols") or ""
        raise InvalidInput(f"no {what} for {symbol} in session {session_id!r} "
                           f"(symbols: {syms or 'none'})")
    values = ind.run(inputs, full)
    ids = ind.output_ids(full, interval)
    written = 0
    if persist:
        # Nothing stored under these ids yet: appending is the same as replacing, and
        # much cheaper than an upsert, which must look for rows to replace.
        exists = store.count(TABLE, session_id, symbols=[symbol],
                             filters={"indicator_id": list(ids.values())}) > 0
        written = write_rows(store, indicator_rows(session_id, symbol, ids, values, inputs.ts,
                                               inputs.seq), "upsert" if exists else "append")
    return ComputeResult(session_id, symbol, ind.name, full, interval, inputs.origin, ids,
                         inputs.n, written, values, inputs.ts, inputs.seq)
