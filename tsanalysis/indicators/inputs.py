"""Gathering an indicator's input: a session's ticks or bars of one symbol, read from the store.

Without an interval an indicator runs on the session's ticks of one symbol, one point per
tick in ``(ts, seq)`` order: trades sharing a timestamp are distinct points, and each gets
its own indicator row (``seq`` is the tick's). A tick is a bar whose open, high, low and
close are its price. With an interval it runs on OHLCV bars: the session's stored bars at
that interval when there are any, otherwise bars built from the ticks in the database
(:func:`tsanalysis.bars.build_bars`, not stored); bar rows have the bar's start as ``ts``
and its number since the epoch (``ts // interval``) as ``seq``, so that ``seq`` numbers the
rows of an indicator id whatever the input (as imports check). A missing tick volume is
NaN, never 0.

Everything goes through the storage contract, so it works the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..bars import build_bars
from ..errors import SessionNotFound
from ..ids import check_session_id, check_symbol, interval_seconds
from ..store.base import Store
from ..timeutil import micros
from .base import Inputs

TICKS = schema.TICK_PRICES.name
BARS = schema.AGGREGATED_OHLCV.name


def session_row(store: Store, session_id: str) -> pd.Series:
    """The session's row; :class:`SessionNotFound` when there is none."""
    check_session_id(session_id)
    rows = store.session_rows(session_id)
    if rows.empty:
        raise SessionNotFound(session_id)
    return rows.iloc[0]


def tick_cadence(row: pd.Series) -> float | None:
    """The session's declared tick cadence in seconds, or None."""
    v = row.get("cadence_s")
    return float(v) if v is not None and pd.notna(v) and float(v) > 0 else None


def _col(t: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    return np.ascontiguousarray(t.column(name).to_numpy(), dtype=np.float64)


#: The tick columns an indicator's input is made of.
TICK_COLUMNS = ["seq", "ts", "price", "volume"]


def tick_inputs(t: pa.Table | pa.RecordBatch, cadence_s: float | None | Callable[[], Any] = None
                ) -> Inputs:
    """Ticks (the :data:`TICK_COLUMNS`, in (ts, seq) order) as an indicator's input."""
    price = _col(t, "price")
    series = {"open": price, "high": price, "low": price, "close": price,
              "volume": _col(t, "volume")}
    seq = t.column("seq").to_numpy().astype(np.int64, copy=False)
    return Inputs(series, micros(t.column("ts")), "ticks", None, cadence_s, seq)


def has_stored_bars(store: Store, session_id: str, symbol: str, interval: str) -> bool:
    """True when the session stores bars at ``interval`` for ``symbol``."""
    probe = store.read_arrow(BARS, session_id, symbols=[symbol], columns=["ts"],
                             filters={"interval": interval}, limit=1)
    return probe.num_rows > 0


def load_inputs(store: Store, session_id: str, symbol: str, interval: str | None = None, *,
                start: Any = None, cadence_s: float | None | Callable[[], Any] = None,
                stored_bars: bool | None = None) -> Inputs:
    """The input series of one symbol: ticks, or bars at ``interval`` (see module doc).

    ``start`` (inclusive) limits the read to the tail of the session.
    """
    check_symbol(symbol)
    if interval is None:
        return tick_inputs(store.read_arrow(TICKS, session_id, symbols=[symbol], start=start,
                                            columns=TICK_COLUMNS), cadence_s)
    secs = float(interval_seconds(interval))
    if stored_bars is None:
        stored_bars = has_stored_bars(store, session_id, symbol, interval)
    if stored_bars:
        t = store.read_arrow(BARS, session_id, symbols=[symbol], start=start,
                             filters={"interval": interval},
                             columns=["ts", "open", "high", "low", "close", "volume"])
        source = "stored bars"
    else:
        frame = build_bars(store, session_id, interval, [symbol], start=start, persist=False)
        t = pa.Table.from_pandas(frame[["ts", "open", "high", "low", "close", "volume"]],
                                 preserve_index=False)
        source = "bars from ticks"
    series = {k: _col(t, k) for k in ("open", "high", "low", "close", "volume")}
    ts = micros(t.column("ts"))
    number = ts // (int(secs) * 1_000_000)  # distinct for bars of one interval
    return Inputs(series, ts, "bars", interval, secs, number, origin=source)
