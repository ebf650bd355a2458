"""The ``indicators`` table: the rows an indicator's outputs are stored as, and reading them.

Each output is written under its indicator id, one row per input point, ``value`` NULL
where the indicator is NaN (warm-up, missing input). Writes replace rows (``upsert``)
unless the caller knows they are new: computing again never duplicates rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import InvalidInput
from ..ids import check_session_id, check_symbol
from ..store.base import Store
from ..timeutil import arrow_from_micros
from .inputs import session_row
from .registry import registry

TABLE = schema.INDICATORS.name


class UnknownIndicatorId(InvalidInput):
    """No rows are stored under this indicator id for the session and symbol."""

    def __init__(self, indicator_id: str, session_id: str, symbol: str, stored: Sequence[str]):
        import difflib

        close = difflib.get_close_matches(indicator_id, list(stored), n=5, cutoff=0.5)
        hint = (f"; closest: {', '.join(close)}" if close else
                f"; stored: {', '.join(list(stored)[:10])}" if stored else
                "; nothing is computed for it yet")
        super().__init__(f"no indicator {indicator_id!r} stored for {symbol} in session "
                         f"{session_id!r}{hint}")
        self.indicator_id = indicator_id
        self.suggestions = close


def _repeat(value: str, n: int) -> pa.Array:
    # A dictionary of one value, decoded: much faster than a list of n Python strings.
    idx = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(idx, pa.array([value])).cast(pa.string())


def indicator_rows(session_id: str, symbol: str, ids: Mapping[str, str],
                   values: Mapping[str, np.ndarray], ts_us: np.ndarray, seq: np.ndarray
                   ) -> pa.Table:
    """Rows of the ``indicators`` table for each output (NaN stored as NULL)."""
    n = int(ts_us.shape[0])
    ts = arrow_from_micros(ts_us)
    seq_a = pa.array(np.ascontiguousarray(seq, dtype=np.int64))
    sid, sym = _repeat(session_id, n), _repeat(symbol, n)
    parts = []
    for output, iid in ids.items():
        v = np.ascontiguousarray(values[output], dtype=np.float64)
        parts.append(pa.table({
            "session_id": sid, "symbol": sym, "indicator_id": _repeat(iid, n), "seq": seq_a,
            "ts": ts, "value": pa.array(v, mask=np.isnan(v)),
            "confidence": pa.nulls(n, pa.float64()),
        }))
    return pa.concat_tables(parts) if parts else pa.table({})


def write_rows(store: Store, table: pa.Table, mode: str = "upsert") -> int:
    """Write rows to the ``indicators`` table; return how many."""
    if table.num_rows == 0:
        return 0
    return store.write(TABLE, table, mode=mode)  # type: ignore[arg-type]


def clear_for_rewrite(store: Store, session_id: str, symbol: str,
                      ids: Mapping[str, str], stored: bool | None = None) -> str:
    """Make way for a computation's rows; return the write mode that stores them.

    Nothing stored under these ids: append (an upsert must look for rows to replace). On
    a transactional store (DuckDB) the stored rows are deleted, in the caller's
    transaction, and the new ones appended: the whole series is replaced (points whose
    input is gone go too), and an upsert, which joins every new row against the stored
    ones, ran out of a capped memory on 30M rows. Elsewhere (QuestDB, which deduplicates
    on its keys as it writes) an upsert. ``stored``: whether rows of these ids are stored,
    when the caller counted them already.
    """
    filters = {"indicator_id": list(ids.values())}
    if stored is None:
        stored = store.count(TABLE, session_id, symbols=[symbol], filters=filters) > 0
    if not stored:
        return "append"
    if not store.transactional:
        return "upsert"
    store.delete_rows(TABLE, session_id, symbols=[symbol], filters=filters)
    return "append"


def history_arrow(store: Store, session_id: str, symbol: str, indicator_id: str, *,
                  start: Any = None, end: Any = None, limit: int | None = None,
                  offset: int | None = None) -> pa.Table:
    """Stored values of one indicator id as Arrow (ts, seq, value), in time order."""
    check_session_id(session_id)
    check_symbol(symbol)
    if not isinstance(indicator_id, str) or not indicator_id:
        raise InvalidInput(f"invalid indicator id {indicator_id!r}")
    t = store.read_arrow(TABLE, session_id, symbols=[symbol], start=start, end=end,
                         columns=["ts", "seq", "value"], filters={"indicator_id": indicator_id},
                         limit=limit, offset=offset)
    if t.num_rows == 0:  # say why: no such session, no such id, or past the end
        session_row(store, session_id)
        stored = list(store.indicator_stats(session_id, [symbol])["indicator_id"])
        if indicator_id not in stored:
            raise UnknownIndicatorId(indicator_id, session_id, symbol, stored)
    return t


def history(store: Store, session_id: str, symbol: str, indicator_id: str, *,
            start: Any = None, end: Any = None, limit: int | None = None,
            offset: int | None = None) -> pd.DataFrame:
    """Stored values of one indicator id: a DataFrame with ts (UTC), seq and value.

    ``start`` is inclusive, ``end`` exclusive; ``limit``/``offset`` page through the rows
    in (ts, seq) order. NULL values (warm-up) come back as NaN.
    """
    return history_arrow(store, session_id, symbol, indicator_id, start=start, end=end,
                         limit=limit, offset=offset).to_pandas()


def stored(store: Store, session_id: str, symbol: str | None = None) -> pd.DataFrame:
    """Indicator ids stored for a session, with rows and time range, and what they are.

    Columns: symbol, indicator_id, rows, first_ts, last_ts, indicator, params, output,
    interval (the last four None for ids no loaded plugin derives).
    """
    session_row(store, session_id)
    stats = store.indicator_stats(session_id, [symbol] if symbol else None)
    reg = registry()
    parsed = [reg.parse_id(i) for i in stats["indicator_id"]]
    # object columns: an id nothing derives reads None whatever else is listed (a list
    # mixing str and None would become a str column, and None NaN)
    for col, of in (("indicator", lambda p: p.indicator.name), ("params", lambda p: p.params),
                    ("output", lambda p: p.output), ("interval", lambda p: p.interval)):
        stats[col] = pd.Series([of(p) if p else None for p in parsed], index=stats.index,
                               dtype=object)
    return stats
