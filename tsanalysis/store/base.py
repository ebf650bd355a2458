"""The storage contract every backend implements.

Features (sessions, ingestion, quality, indicators, export, migration) talk only to this
contract. It speaks columnar: pandas DataFrames or Arrow tables in and out, bulk
operations only, filters pushed down to the database. The contract test suite
(``tests/test_store_contract.py``) runs the same assertions against every backend.

Frames handed to :meth:`Store.write` are already validated and typed by the caller
(``tsanalysis.ingest`` does that): exactly the table's columns, ``ts`` as
``datetime64[us, UTC]``. Frames returned by reads follow the same conventions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import InvalidInput
from ..ids import check_owner, check_session_id, check_symbol, interval_seconds
from ..timeutil import from_micros, micros, to_utc

WriteMode = Literal["append", "upsert"]

#: Called with (rows done, rows total or None) as long work proceeds.
Progress = Callable[[int, int | None], None]


class Store(ABC):
    """A time-series store holding the six tables of :mod:`tsanalysis.schema`."""

    #: Short backend name, e.g. ``"duckdb"`` or ``"questdb"``.
    backend: ClassVar[str]
    #: True when a batch of writes can be rolled back as a whole (see :meth:`atomic`).
    transactional: ClassVar[bool] = False
    #: True when the store can insert the rows of a SQL query over files in one
    #: transaction (:meth:`DuckDBStore.insert_query`): whole-file imports then skip Python.
    sql_import: ClassVar[bool] = False

    url: str

    # -- lifecycle ---------------------------------------------------------------------

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create any missing table. Idempotent."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and locks. The store may be used again afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def atomic(self) -> AbstractContextManager[Any]:
        """A block whose writes land together or not at all, where the backend can.

        Backends without transactions return a no-op context; callers that need
        all-or-nothing there validate everything before writing.
        """
        from contextlib import nullcontext

        return nullcontext()

    # -- sessions table ---------------------------------------------------------------

    @abstractmethod
    def insert_session(self, record: dict[str, Any]) -> None:
        """Insert one row into ``data_collection_sessions`` (keys are column names)."""

    @abstractmethod
    def update_session(self, session_id: str, fields: dict[str, Any]) -> None:
        """Update columns of one session row."""

    @abstractmethod
    def session_rows(self, session_id: str | None = None) -> pd.DataFrame:
        """Rows of visible sessions (all, or the one given), columns as in the schema.

        A session being deleted is not visible.
        """

    # -- child tables -----------------------------------------------------------------

    @abstractmethod
    def write(self, table: str, frame: pd.DataFrame | pa.Table, mode: WriteMode = "append") -> int:
        """Write typed rows to a child table; return the number of rows written.

        ``append`` adds the rows. ``upsert`` replaces stored rows that have the same
        identity key (``schema.Table.key``) and adds the others: re-writing the same
        frame twice leaves one copy. Rows are readable when this returns.
        """

    def write_batches(self, table: str, batches: Iterable[pd.DataFrame | pa.Table],
                      mode: WriteMode = "append") -> int:
        """Write a stream of frames; atomic as a whole where the backend is transactional."""
        total = 0
        with self.atomic():
            for batch in batches:
                total += self.write(table, batch, mode)
        return total

    @abstractmethod
    def read_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None, limit: int | None = None,
                   offset: int | None = None) -> pa.Table:
        """Rows of one session as Arrow, filtered in the database.

        ``start`` is inclusive and ``end`` exclusive. ``filters`` maps a column of the
        table to a value or a list of values (equality / IN). Rows come ordered by symbol
        then the table's ``order_by`` (time, then arrival order).
        """

    def read(self, table: str, session_id: str, **kwargs: Any) -> pd.DataFrame:
        """Like :meth:`read_arrow`, into pandas (``ts`` as ``datetime64[us, UTC]``)."""
        return arrow_to_pandas(self.read_arrow(table, session_id, **kwargs))

    # -- the audit trail ----------------------------------------------------------------

    def append_audit(self, record: dict[str, Any]) -> None:
        """Append one row to the audit table (``schema.AUDIT``)."""
        t = schema.AUDIT
        cols = [c for c in t.column_names if c in record]
        self.sql(f"INSERT INTO {t.name} ({', '.join(cols)}) VALUES "
                 f"({', '.join('?' for _ in cols)})", [record[c] for c in cols])

    def audit_rows(self, session_id: str | None = None) -> pd.DataFrame:
        """The audit trail, oldest first; only one session's actions if given."""
        t = schema.AUDIT
        where, params = "", []
        if session_id is not None:
            where, params = " WHERE session_id = ?", [check_session_id(session_id)]
        return self.sql(f"SELECT {', '.join(t.column_names)} FROM {t.name}{where} "
                        f"ORDER BY ts, action_id", params)

    @abstractmethod
    def delete_rows(self, table: str, session_id: str, *,
                    symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                    filters: dict[str, Any] | None = None) -> int:
        """Remove the rows of one session in a child table that match ``symbols``, the time
        range ``[start, end)`` and ``filters`` (column -> value or values); return how
        many.

        The rows are gone from every read when this returns. On QuestDB, which has no
        row-level ``DELETE``, they are taken out in commit order by relabelling them (as a
        session delete does) and their disk is reclaimed by the next purge.
        """

    @abstractmethod
    def move_rows(self, table: str, from_id: str, to_id: str, *,
                  symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                  filters: dict[str, Any] | None = None) -> int:
        """Give the rows of ``from_id`` in a child table that match the restrictions the
        session id ``to_id``; return how many. Either may be a grace label
        (:func:`tsanalysis.ids.grace_label`): this is how a delete with a grace period hides
        rows and a restore brings them back. On QuestDB an ``UPDATE`` in commit order."""

    @abstractmethod
    def expire_rows(self, table: str, label: str) -> int:
        """Remove for good the rows kept under a grace label; return how many (on QuestDB
        they are relabelled as deleted and their disk reclaimed by the next purge)."""

    @abstractmethod
    def iter_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None,
                   batch_rows: int = 500_000) -> Iterator[pa.RecordBatch]:
        """Stream the rows :meth:`read_arrow` would return, in bounded batches."""

    @abstractmethod
    def count_rows(self, session_id: str) -> dict[str, int]:
        """Rows of the session in every table (children first, the sessions table last)."""

    @abstractmethod
    def table_stats(self, session_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Per session, table and symbol: ``rows``, ``first_ts``, ``last_ts``.

        Columns: session_id, table, symbol, rows, first_ts, last_ts.
        """

    @abstractmethod
    def max_seq(self, table: str, session_id: str, symbols: Sequence[str]) -> dict[str, int]:
        """Highest ``seq`` stored per symbol (symbols without rows are left out)."""

    def seq_numbers(self, table: str, session_id: str, symbol: str) -> Callable[[int], int]:
        """A numberer for new rows of one session and symbol: ``take(n)`` returns the first
        of ``n`` consecutive ``seq`` numbers that no other writer gets.

        The default numbers on from the highest stored ``seq`` and counts locally, which is
        right for a store that one process writes at a time (DuckDB). Stores that several
        processes write at once reserve ranges on the server instead.
        """
        nxt: list[int] = []

        def take(n: int) -> int:
            if not nxt:
                nxt.append(self.max_seq(table, session_id, [symbol]).get(symbol, -1) + 1)
            start = nxt[0]
            nxt[0] += n
            return start

        return take

    @abstractmethod
    def delete_session(self, session_id: str, progress: Progress | None = None
                       ) -> dict[str, int] | DeleteOutcome:
        """Remove the session and every row that hangs off it.

        Returns rows removed per table, children first, the sessions table last (or a
        :class:`DeleteOutcome`, which also names work left for a later purge). The caller
        has checked that the session exists and may be deleted.
        """

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Finish removing deleted sessions: interrupted purges and deferred work.

        Backends whose :meth:`delete_session` removes everything at once (DuckDB: one
        transaction) have nothing to do. QuestDB resumes purges killed part-way and purges
        partitions that were deferred because an active session was writing them.
        ``dry_run`` reports what is pending without changing anything.
        """
        return PurgeReport()

    @abstractmethod
    def ohlcv_from_ticks(self, session_id: str, symbols: Sequence[str] | None, interval: str,
                         start: Any = None, end: Any = None) -> pd.DataFrame:
        """OHLCV bars computed in the database from the session's ticks.

        Bars are left-closed, labelled by their start, aligned to the Unix epoch (so daily
        bars start at 00:00 UTC); open and close follow (ts, seq). Intervals without ticks
        produce no bar. Columns as ``aggregated_ohlcv``.
        """

    # -- for indicators: generic versions, backends may push them down ----------------

    def read_tail_arrow(self, table: str, session_id: str, *, symbol: str, n: int,
                        end: Any = None, columns: Sequence[str] | None = None,
                        filters: dict[str, Any] | None = None) -> pa.Table:
        """The last ``n`` rows of one symbol before ``end`` (exclusive), in table order.

        Same filters as :meth:`read_arrow`. This generic version streams the rows with
        :meth:`iter_arrow` and keeps the tail; backends override it with a query.
        """
        t, cols = check_tail_args(table, n, columns)
        kept: list[pa.RecordBatch] = []
        rows = 0
        for batch in self.iter_arrow(table, session_id, symbols=[symbol], end=end,
                                     columns=cols, filters=filters):
            kept.append(batch)
            rows += batch.num_rows
            while kept and rows - kept[0].num_rows >= n:
                rows -= kept.pop(0).num_rows
        tail = pa.Table.from_batches(kept) if kept else arrow_schema(t, cols).empty_table()
        return tail.slice(max(0, tail.num_rows - n)) if n else tail.slice(0, 0)

    def count(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
              start: Any = None, end: Any = None, filters: dict[str, Any] | None = None) -> int:
        """Number of rows :meth:`read_arrow` would return for these filters.

        This generic version streams the timestamps; backends override it with a query.
        """
        t = check_table(table)
        return sum(b.num_rows for b in self.iter_arrow(table, session_id, symbols=symbols,
                                                       start=start, end=end, columns=[t.ts],
                                                       filters=filters))

    def indicator_stats(self, session_id: str, symbols: Sequence[str] | None = None
                        ) -> pd.DataFrame:
        """Per symbol and indicator id of a session: ``rows``, ``first_ts``, ``last_ts``.

        Columns: symbol, indicator_id, rows, first_ts, last_ts; ordered by symbol and id.
        This generic version aggregates a stream of the ids and timestamps.
        """
        check_session_id(session_id)
        parts = []
        for batch in self.iter_arrow(schema.INDICATORS.name, session_id, symbols=symbols,
                                     columns=["symbol", "indicator_id", "ts"]):
            parts.append(pa.Table.from_batches([batch]).group_by(["symbol", "indicator_id"])
                         .aggregate([("ts", "count"), ("ts", "min"), ("ts", "max")]))
        cols = ["symbol", "indicator_id", "rows", "first_ts", "last_ts"]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(
                cols, ["str", "str", "int64", "datetime64[us, UTC]", "datetime64[us, UTC]"],
                strict=True)})
        agg = (pa.concat_tables(parts).group_by(["symbol", "indicator_id"])
               .aggregate([("ts_count", "sum"), ("ts_min", "min"), ("ts_max", "max")]))
        out = pa.table({"symbol": agg["symbol"], "indicator_id": agg["indicator_id"],
                        "rows": agg["ts_count_sum"], "first_ts": agg["ts_min_min"],
                        "last_ts": agg["ts_max_max"]}).to_pandas()
        return out.sort_values(["symbol", "indicator_id"], ignore_index=True)

    @abstractmethod
    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run plain SQL (for notebooks and checks) with ``?`` placeholders, always bound.

        Every backend takes ``?`` (QuestDB's store translates it for its driver).
        """

    # -- concrete operations with a generic implementation ----------------------------

    def checkpoint(self) -> None:
        """Make the rows written so far durable and compact now, rather than at close.

        Long writers (the migration) call it now and then, so that a backend's deferred
        work, and the memory it takes, does not pile up until the store is closed. Here a
        no-op: stores that apply writes on their own (QuestDB's WAL) need nothing; DuckDB
        overrides it.
        """
        return None

    # -- time-order analysis (data quality) ------------------------------------------
    # Generic versions streamed through iter_arrow / read_arrow, correct on any backend;
    # a backend overrides them with pushed-down SQL where it pays.

    def _symbols_with_rows(self, t: schema.Table, session_id: str,
                           symbols: Sequence[str] | None) -> list[str]:
        if symbols is not None:
            return [check_symbol(s) for s in symbols]
        stats = self.table_stats([session_id])
        return sorted(stats.loc[stats["table"] == t.name, "symbol"].unique().tolist())

    def find_gaps(self, table: str, session_id: str, min_gap_us: int, *,
                  symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Intervals longer than ``min_gap_us`` between consecutive rows, per symbol.

        Rows are taken in time order. Columns: ``symbol``, ``start`` (the last row before
        the gap), ``end`` (the first row after it); ordered by symbol, then start.
        """
        t = check_table(table)
        check_session_id(session_id)
        limit = check_positive_int(min_gap_us, "min_gap_us")
        parts: list[pd.DataFrame] = []
        for sym in self._symbols_with_rows(t, session_id, symbols):
            start, end = gaps_in_batches(self._ts_batches(t, session_id, sym), limit)
            if len(start):
                parts.append(pd.DataFrame({"symbol": sym, "start": start, "end": end}))
        return _gap_frame(parts)

    def _ts_batches(self, t: schema.Table, session_id: str, symbol: str
                    ) -> Iterator[np.ndarray]:
        for batch in self.iter_arrow(t.name, session_id, symbols=[symbol], columns=["ts"]):
            yield micros(batch.column(0))

    def median_step_us(self, table: str, session_id: str, *,
                       symbols: Sequence[str] | None = None) -> dict[str, float]:
        """Median of the positive intervals between consecutive timestamps, per symbol (µs).

        Symbols with fewer than two distinct timestamps are left out. Memory stays bounded
        (the generic version reads the rows a few times: :func:`median_of_batches`).
        """
        t = check_table(table)
        check_session_id(session_id)
        out: dict[str, float] = {}
        for sym in self._symbols_with_rows(t, session_id, symbols):
            median = median_of_batches(
                lambda sym=sym: steps_in_batches(self._ts_batches(t, session_id, sym)))
            if median is not None:
                out[sym] = median
        return out

    def out_of_order(self, table: str, session_id: str, symbol: str, *,
                     tolerance_us: int = 0, limit: int = 100) -> tuple[int, pd.DataFrame]:
        """Rows stamped earlier than the row that arrived just before them.

        Arrival order is ``seq``; a row counts when its timestamp is more than
        ``tolerance_us`` before its predecessor's. Returns the number of such rows and the
        first ``limit`` of them in arrival order, with columns ``seq``, ``ts``, ``prev_ts``.
        """
        t = check_table(table)
        check_session_id(session_id)
        check_symbol(symbol)
        if not t.has_column("seq"):
            raise InvalidInput(f"{t.name} has no arrival order (seq)")
        data = self.read_arrow(t.name, session_id, symbols=[symbol], columns=["seq", "ts"])
        return out_of_order_in(data.column("seq").to_numpy(), micros(data.column("ts")),
                               tolerance_us, limit)


@dataclass
class DeleteOutcome:
    """What :meth:`Store.delete_session` removed, and what it left for a later purge."""

    #: rows removed per table, children first, the sessions table last
    deleted: dict[str, int]
    #: work left for later, one line each (QuestDB: disk not reclaimed yet, and why)
    deferred: list[str] = field(default_factory=list)
    #: day partitions removed whole (QuestDB: ``"table YYYY-MM-DD"``, days the session
    #: had alone), not rewritten
    dropped: list[str] = field(default_factory=list)


@dataclass
class PurgeReport:
    """What :meth:`Store.purge` did, or (``dry_run``) would do."""

    #: rows removed per session and table
    purged: dict[str, dict[str, int]] = field(default_factory=dict)
    #: deleted rows whose disk space was reclaimed, per table (QuestDB)
    reclaimed: dict[str, int] = field(default_factory=dict)
    #: work left for later, one line each (e.g. a partition an active session is writing)
    deferred: list[str] = field(default_factory=list)
    #: (``dry_run``) work that a run would do, one line each
    pending: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for per_table in self.purged.values() for n in per_table.values())

    def to_dict(self) -> dict[str, Any]:
        return {"purged": {s: dict(t) for s, t in self.purged.items()}, "total": self.total,
                "reclaimed": dict(self.reclaimed),
                "deferred": list(self.deferred), "pending": list(self.pending)}


# -- helpers shared by backends --------------------------------------------------------


def arrow_to_pandas(t: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with our conventions (UTC microsecond timestamps kept as they are)."""
    return t.to_pandas()


def check_table(name: str, child: bool = True) -> schema.Table:
    """Resolve a table name; for ``child`` refuse the sessions table."""
    try:
        t = schema.table(name)
    except KeyError as e:
        raise InvalidInput(str(e.args[0])) from None
    if child and not t.is_child:
        raise InvalidInput(f"{name} is not a child table")
    return t


def check_columns(t: schema.Table, columns: Sequence[str] | None) -> list[str]:
    """Validate requested columns against the schema; ``None`` means all."""
    if columns is None:
        return t.column_names
    bad = [c for c in columns if not t.has_column(c)]
    if bad:
        raise InvalidInput(
            f"unknown column(s) {', '.join(map(repr, bad))} in {t.name}; "
            f"columns: {', '.join(t.column_names)}"
        )
    return list(columns)


def check_row_selection(table: str, owner: str, symbols: Sequence[str] | None, start: Any,
                        end: Any, filters: dict[str, Any] | None
                        ) -> tuple[schema.Table, list[str] | None, pd.Timestamp | None,
                                   pd.Timestamp | None, dict[str, list[Any]]]:
    """The checked arguments of :meth:`Store.delete_rows` and :meth:`Store.move_rows`: a
    child table, then what :func:`check_read_args` returns."""
    t = check_table(table, child=True)
    return (t, *check_read_args(t, owner, symbols, start, end, filters, None, None))


def check_read_args(t: schema.Table, session_id: str, symbols: Sequence[str] | None,
                    start: Any, end: Any, filters: dict[str, Any] | None,
                    limit: int | None, offset: int | None
                    ) -> tuple[list[str] | None, pd.Timestamp | None, pd.Timestamp | None,
                               dict[str, list[Any]]]:
    """Validate the common read arguments and normalise them."""
    check_owner(session_id)
    syms = [check_symbol(s) for s in symbols] if symbols is not None else None
    lo = to_utc(start, "start") if start is not None else None
    hi = to_utc(end, "end") if end is not None else None
    norm: dict[str, list[Any]] = {}
    for col, val in (filters or {}).items():
        if not t.has_column(col):
            raise InvalidInput(f"cannot filter {t.name} on unknown column {col!r}")
        norm[col] = list(val) if isinstance(val, (list, tuple, set)) else [val]
    for name, v in (("limit", limit), ("offset", offset)):
        if v is not None and (not isinstance(v, int) or v < 0):
            raise InvalidInput(f"{name} must be a non-negative integer, not {v!r}")
    return syms, lo, hi, norm


def empty_frame(t: schema.Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    return arrow_to_pandas(arrow_schema(t, columns).empty_table())


_ARROW_TYPES = {
    schema.SYMBOL: pa.string(),
    schema.STRING: pa.string(),
    schema.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    schema.DOUBLE: pa.float64(),
    schema.LONG: pa.int64(),
}


def arrow_schema(t: schema.Table, columns: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of a table (or of some of its columns)."""
    cols = [t.column(c) for c in columns] if columns else list(t.columns)
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type], nullable=c.nullable) for c in cols])


def to_table_arrow(t: schema.Table, frame: pd.DataFrame | pa.Table) -> pa.Table:
    """A frame with exactly the table's columns, in order, cast to the table's Arrow types.

    Missing nullable columns are filled with nulls; a missing required column is an error.
    """
    if isinstance(frame, pd.DataFrame):
        at = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        at = frame
    arrays = []
    for c in t.columns:
        ty = _ARROW_TYPES[c.type]
        if c.name in at.column_names:
            arr = at.column(c.name)
            if arr.type != ty:
                arr = arr.cast(ty)
        elif c.nullable:
            arr = pa.nulls(at.num_rows, ty)
        else:
            raise InvalidInput(f"{t.name}: required column {c.name!r} is missing")
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=arrow_schema(t))


def check_tail_args(table: str, n: Any, columns: Sequence[str] | None
                    ) -> tuple[schema.Table, list[str]]:
    """The table and columns of a :meth:`Store.read_tail_arrow` call, its ``n`` checked."""
    if not isinstance(n, int) or n < 0:
        raise InvalidInput(f"n must be a non-negative integer, not {n!r}")
    t = check_table(table)
    return t, check_columns(t, columns)


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InvalidInput(f"{name} must be a positive integer, not {value!r}")
    return int(value)


# -- time-order kernels (numpy): the generic store methods above use them, and so do
#    callers that already hold a symbol's rows in memory -----------------------------------


def gaps_in(ts: np.ndarray, min_gap_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (µs) of every step longer than ``min_gap_us`` in sorted ``ts`` (µs)."""
    at = np.flatnonzero(np.diff(ts) > min_gap_us)
    return ts[at], ts[at + 1]


def positive_steps(ts: np.ndarray) -> np.ndarray:
    """The positive intervals between consecutive sorted timestamps."""
    d = np.diff(ts)
    return d[d > 0]


def gaps_in_batches(batches: Iterable[np.ndarray], min_gap_us: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gaps_in` over consecutive batches of one sorted series (the last timestamp
    of a batch is carried into the next, so a gap across a boundary is found)."""
    starts, ends, prev = [], [], None
    for ts in batches:
        if not len(ts):
            continue
        if prev is not None:
            ts = np.concatenate([prev, ts])
        s, e = gaps_in(ts, min_gap_us)
        starts.append(s)
        ends.append(e)
        prev = ts[-1:]
    empty = np.empty(0, dtype=np.int64)
    return (np.concatenate(starts) if starts else empty,
            np.concatenate(ends) if ends else empty)


def steps_in_batches(batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """:func:`positive_steps` of consecutive batches of one sorted series, batch by batch
    (steps across boundaries included)."""
    prev = None
    for ts in batches:
        if not len(ts):
            continue
        if prev is not None:
            ts = np.concatenate([prev, ts])
        yield positive_steps(ts)
        prev = ts[-1:]


#: Bits of a value resolved per pass by :func:`median_of_batches` (a count array of
#: 2**20 int64, 8 MB).
_MEDIAN_DIGIT_BITS = 20


def median_of_batches(passes: Callable[[], Iterable[np.ndarray]]) -> float | None:
    """The exact median of non-negative integers that arrive in batches, as ``np.median``
    of them all would give it (None when there are none), in bounded memory.

    ``passes()`` yields the same batches each time it is called. A radix selection: one
    pass counts the values, then each pass settles the next ``_MEDIAN_DIGIT_BITS`` bits of
    the two middle values (a counting array, never the values themselves), so values up to
    2**40 take three passes.
    """
    n, top = 0, 0
    for v in passes():
        if len(v):
            n += len(v)
            top = max(top, int(v.max()))
    if n == 0:
        return None
    # per wanted rank: [rank among the values with this prefix, prefix, bits left]
    state = {r: [r, 0, top.bit_length()] for r in sorted({(n - 1) // 2, n // 2})}
    while any(st[2] > 0 for st in state.values()):
        counts: dict[tuple[int, int], np.ndarray] = {}
        for st in state.values():
            if st[2] > 0:
                low = max(st[2] - _MEDIAN_DIGIT_BITS, 0)
                counts[(st[1], st[2])] = np.zeros(1 << (st[2] - low), dtype=np.int64)
        for v in passes():
            for (prefix, bits), c in counts.items():
                low = max(bits - _MEDIAN_DIGIT_BITS, 0)
                sel = v[(v >> bits) == prefix] >> low
                c += np.bincount(sel & (len(c) - 1), minlength=len(c))
        for st in state.values():
            if st[2] > 0:
                c = np.cumsum(counts[(st[1], st[2])])
                digit = int(np.searchsorted(c, st[0], side="right"))
                st[0] -= int(c[digit - 1]) if digit else 0
                low = max(st[2] - _MEDIAN_DIGIT_BITS, 0)
                st[1] = (st[1] << (st[2] - low)) | digit
                st[2] = low
    return float(np.median(np.array([st[1] for st in state.values()], dtype=np.int64)))


def out_of_order_in(seq: np.ndarray, ts: np.ndarray, tolerance_us: int, limit: int
                    ) -> tuple[int, pd.DataFrame]:
    """What :meth:`Store.out_of_order` returns, from a symbol's ``seq`` and ``ts`` (µs)."""
    order = np.argsort(seq, kind="stable")
    seq, ts = np.asarray(seq)[order], np.asarray(ts)[order]
    bad = np.flatnonzero(ts[1:] < ts[:-1] - int(tolerance_us)) + 1
    head = bad[:max(int(limit), 0)]
    rows = pd.DataFrame({"seq": seq[head].astype("int64"), "ts": _to_ts(ts[head]),
                         "prev_ts": _to_ts(ts[head - 1])})
    return int(len(bad)), rows


def _to_ts(us: np.ndarray) -> pd.Series:
    return pd.Series(from_micros(us))


def _gap_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"symbol": pd.Series([], dtype=object),
                             "start": _to_ts(np.empty(0, dtype="int64")),
                             "end": _to_ts(np.empty(0, dtype="int64"))})
    out = pd.concat(parts, ignore_index=True)
    out["start"] = _to_ts(out["start"].to_numpy())
    out["end"] = _to_ts(out["end"].to_numpy())
    return out.sort_values(["symbol", "start"], kind="stable").reset_index(drop=True)


def bucket_micros(interval: str) -> int:
    """Width of a bar interval in microseconds."""
    return interval_seconds(interval) * 1_000_000
