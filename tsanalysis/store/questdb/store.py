"""A QuestDB server: psycopg (PG wire) for SQL and DDL, the ``questdb`` client for ingestion.

URL: ``questdb://user:password@host:8812/qdb?http_port=9000&timeout=30``. Every part has
QuestDB's default (user ``admin``, password ``quest``, PG wire 8812, HTTP 9000), so
``questdb://localhost`` reaches a default server. ``timeout`` (seconds) bounds connecting,
HTTP requests and waiting for the server to apply writes.

What QuestDB 9.3 is like, and how this store copes (details in ``docs/questdb-notes.md``):

* Tables are WAL tables, ``PARTITION BY DAY`` on the designated timestamp, with
  ``DEDUP UPSERT KEYS`` = the schema's identity key (which includes ``seq`` for ticks, so no
  two trades can merge). Writes are applied asynchronously: every write waits until the
  server has applied it (``wal_tables()``), so a read that follows sees it.
* Bulk rows go through ILP over HTTP (``Sender.dataframe``), one request per chunk; reads
  of rows go through ``/exp`` as uncompressed Parquet (10x faster than PG wire).
* Every psycopg connection uses ``autocommit=True, prepare_threshold=None``: with
  server-side prepared statements, 9.3.4 once re-ran a prepared ``ALTER TABLE ... DROP
  PARTITION`` against another table.
* There is no row-level ``DELETE``; see :mod:`tsanalysis.store.questdb.purge` for how a
  session is removed (tombstone, then a journaled rewrite of the partitions it touches).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ... import schema
from ...errors import InvalidInput, StoreError
from ...ids import (
    GRACE_LABEL_PATTERN,
    GRACE_PREFIX,
    check_owner,
    check_session_id,
    check_symbol,
)
from ..base import (
    DeleteOutcome,
    Progress,
    PurgeReport,
    Store,
    WriteMode,
    arrow_schema,
    arrow_to_pandas,
    bucket_micros,
    check_columns,
    check_read_args,
    check_row_selection,
    check_table,
    check_tail_args,
    to_table_arrow,
)
from . import fence
from .config import QuestDBConfig
from .convert import _ILP_TYPES, _param, _schema_from_description, conform, rows_to_arrow
from .lock import SEQ_LOCK, LeaseLock
from .purge import Purger, create_internal_tables
from .reclaim import wait_no_swap
from .sql import (
    _TYPES,
    _WRITES,
    DEAD_PREFIX,
    DELETING,
    JOURNAL_TABLE,
    LIVE,
    SEQ_TABLE,
    STATE_TABLE,
    SWAP_TABLE,
    literal,
    q,
    render_ddl,
    translate_placeholders,
)
from .transport import Transport

T = TypeVar("T")

#: Tables of tsanalysis' own bookkeeping on the server.
INTERNAL_TABLES = (JOURNAL_TABLE, STATE_TABLE, SWAP_TABLE, SEQ_TABLE, fence.WRITERS_TABLE,
                   fence.FENCES_TABLE)

#: Rows per ILP request: one request is atomic on the server, and bounded in memory.
ILP_CHUNK_ROWS = 500_000

#: Batches per ``/exp`` request of a streamed read: large enough that a request's fixed
#: cost (a few ms) is small, small enough that fetching the next piece overlaps the work
#: on this one for most of a read.
STREAM_PIECE_BATCHES = 2


def _micros(v: Any) -> int:
    """A timestamp from the server (naive UTC) in microseconds since the epoch."""
    ts = pd.Timestamp(v)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.value // 1000


def _utc(us: int) -> pd.Timestamp:
    return pd.Timestamp(us * 1000, tz="UTC")


def _prefetched(fetch: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    """``(item, fetch(item))`` for each item, fetching the next one in a thread while the
    caller works on this one. Results are files: the caller closes the ones it gets, the
    ones it does not (it stopped early) are closed here."""
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsanalysis-prefetch")
    pending: deque[tuple[Any, Future[Any]]] = deque([(items[0], pool.submit(fetch, items[0]))])
    try:
        for i in range(len(items)):
            item, fut = pending.popleft()
            if i + 1 < len(items):
                pending.append((items[i + 1], pool.submit(fetch, items[i + 1])))
            yield item, fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _, fut in pending:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().close()


def _rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` in batches of exactly ``size`` rows (the last one shorter),
    whatever the pieces they came in (so that a file written batch by batch is the same)."""
    held: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        while batch.num_rows:
            take = min(size - rows, batch.num_rows)
            held.append(batch.slice(0, take))
            rows += take
            batch = batch.slice(take)
            if rows == size:
                yield _joined(held)
                held, rows = [], 0
    if rows:
        yield _joined(held)


def _joined(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


class QuestDBStore(Transport, Store):
    """A store on a QuestDB server (9.3 or newer)."""

    backend = "questdb"
    transactional = False

    def __init__(self, config: QuestDBConfig | None = None, *, check_schema: bool = True):
        Transport.__init__(self, config)
        self.url = self.config.url
        self._schema_ready = False
        self._row_delete: bool | None = None
        if check_schema:
            try:
                self.ensure_schema()
            except BaseException:
                self.close()
                raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> QuestDBStore:
        """Open the store a ``questdb://`` URL names (options override URL parts)."""
        cfg = QuestDBConfig.from_url(url)
        if options:
            fields = set(QuestDBConfig.__dataclass_fields__)
            bad = sorted(set(options) - fields)
            if bad:
                raise InvalidInput(f"unknown QuestDB option(s): {', '.join(bad)}")
            cfg = QuestDBConfig(**{**cfg.__dict__, **options})
        return cls(cfg)

    def __repr__(self) -> str:
        return f"<QuestDBStore {self.url}>"

    # -- schema ----------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create missing tables (and internal ones); check that existing ones fit."""
        if self._schema_ready:
            return
        have = {r[0]: r for r in self.fetchall(
            "SELECT table_name, designatedTimestamp, walEnabled, dedup FROM tables()")}
        for t in schema.STORED_TABLES:
            if t.name not in have:
                self.execute(render_ddl(t))
                continue
            name, designated, wal, dedup = have[t.name]
            if designated != t.ts or not wal or not dedup:
                raise StoreError(
                    f"table {t.name} on QuestDB at {self.config.pg_address} was not created by "
                    f"tsanalysis (designated timestamp {designated!r}, WAL {wal}, dedup {dedup}; "
                    f"expected {t.ts!r}, WAL, dedup): ILP auto-creates tables with the wrong "
                    "schema. Rename or drop it, then reconnect")
            # table functions take no bind parameters; the name comes from schema.py
            cols = {r[0]: r[1] for r in self.fetchall(
                f"SELECT \"column\", type FROM table_columns({literal(t.name)})")}
            for c in t.columns:
                if c.name not in cols:
                    # A column added to schema.py reaches existing servers.
                    self.execute(f"ALTER TABLE {q(t.name)} ADD COLUMN {q(c.name)} "
                                 f"{_TYPES[c.type]}")
                elif cols[c.name] != _TYPES[c.type]:
                    raise StoreError(f"column {t.name}.{c.name} is {cols[c.name]} on QuestDB at "
                                     f"{self.config.pg_address}; tsanalysis expects "
                                     f"{_TYPES[c.type]}")
        if not set(INTERNAL_TABLES) <= set(have):
            create_internal_tables(self)
        self._schema_ready = True

    # -- sessions --------------------------------------------------------------------

    def _session_frame(self, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        return arrow_to_pandas(rows_to_arrow(rows, arrow_schema(schema.SESSIONS)))

    def insert_session(self, record: dict[str, Any]) -> None:
        t = schema.SESSIONS
        sid = check_session_id(record["session_id"])
        status = self.scalar(f"SELECT status FROM {q(t.name)} WHERE session_id = %s", [sid])
        if status == DELETING:
            raise InvalidInput(f"session {sid!r} is being deleted (its rows are still being "
                               "purged); choose another id, or finish with `tsanalysis "
                               "sessions purge --resume`")
        if status is not None:
            raise InvalidInput(f"session {sid!r} already exists")
        left = self.scalar(" UNION ALL ".join(
            f"SELECT count() n FROM {q(c.name)} WHERE session_id = %s"
            for c in schema.CHILD_TABLES).join(("SELECT sum(n) FROM (", ")")),
            [sid] * len(schema.CHILD_TABLES))
        if left:
            raise InvalidInput(f"session id {sid!r} still has {left:,} row(s) of a deleted "
                               "session (written after its delete); remove them with "
                               "`tsanalysis sessions purge --resume`, or choose another id")
        cols = [c for c in t.column_names if c in record]
        self.execute(f"INSERT INTO {q(t.name)} ({', '.join(map(q, cols))}) "
                     f"VALUES ({', '.join(['%s'] * len(cols))})",
                     [_param(record[c]) for c in cols])
        self.wait_applied([t.name])

    def update_session(self, session_id: str, fields: dict[str, Any]) -> None:
        t = schema.SESSIONS
        check_session_id(session_id)
        cols = check_columns(t, list(fields))
        if t.ts in cols:
            raise InvalidInput(f"{t.ts} cannot be changed (it is the designated timestamp)")
        sets = ", ".join(f"{q(c)} = %s" for c in cols)
        # A tombstoned session stays deleted even if a late update arrives.
        self.execute(f"UPDATE {q(t.name)} SET {sets} WHERE session_id = %s AND status != %s",
                     [*(_param(fields[c]) for c in cols), session_id, DELETING])
        self.wait_applied([t.name])

    def session_rows(self, session_id: str | None = None) -> pd.DataFrame:
        t = schema.SESSIONS
        where, params = "WHERE status != %s", [DELETING]
        if session_id is not None:
            check_session_id(session_id)
            where += " AND session_id = %s"
            params.append(session_id)
        rows = self.fetchall(f"SELECT {', '.join(map(q, t.column_names))} FROM {q(t.name)} "
                             f"{where} ORDER BY created_at, session_id", params)
        return self._session_frame(rows)

    def tombstoned(self, session_id: str | None = None) -> set[str]:
        """Ids of sessions being deleted (invisible to every read), or just ``session_id``'s."""
        sql = f"SELECT session_id FROM {q(schema.SESSIONS.name)} WHERE status = %s AND {LIVE}"
        params = [DELETING]
        if session_id is not None:
            sql += " AND session_id = %s"
            params.append(session_id)
        return {r[0] for r in self.fetchall(sql, params)}

    # -- writing ---------------------------------------------------------------------

    def _prepare_frame(self, t: schema.Table, frame: pd.DataFrame | pa.Table) -> pd.DataFrame:
        data = to_table_arrow(t, frame)
        for c in t.columns:
            if not c.nullable and data.column(c.name).null_count:
                # QuestDB has no NOT NULL; and a NaT designated timestamp would silently
                # become the server's current time.
                raise InvalidInput(f"{t.name}: column {c.name!r} has "
                                   f"{data.column(c.name).null_count} missing value(s); "
                                   "it is required")
        return data.to_pandas(types_mapper=_ILP_TYPES.get)

    def _check_sessions_writable(self, ids: Iterable[str]) -> None:
        """Refuse rows of sessions that do not exist or are being deleted.

        Called after the writer registered (see :mod:`~tsanalysis.store.questdb.fence`): a
        delete either sees the registration and waits for the rows, or the rows see its
        tombstone here; no row can outlive its session.
        """
        wanted = sorted(set(ids))
        marks = ", ".join(["%s"] * len(wanted))
        status = dict(self.fetchall(f"SELECT session_id, status FROM "
                                    f"{q(schema.SESSIONS.name)} WHERE session_id IN ({marks})",
                                    wanted))
        for sid in wanted:
            if status.get(sid) == DELETING:
                raise StoreError(f"session {sid!r} is being deleted; its rows are not written")
            if sid not in status:
                raise StoreError(f"session {sid!r} does not exist (deleted?); its rows are not "
                                 "written")

    def _send(self, t: schema.Table, df: pd.DataFrame) -> None:
        """Send rows in chunks, each as one atomic ILP request under the write barrier."""
        symbols = [c.name for c in t.columns if c.type == schema.SYMBOL]
        with self._lock:
            sender = self._ilp_sender()
            for lo in range(0, len(df), ILP_CHUNK_ROWS):
                chunk = df.iloc[lo:lo + ILP_CHUNK_ROWS]
                days = pd.unique(chunk[t.ts].dt.strftime("%Y-%m-%d"))
                with fence.writing(self, t.name, days):
                    self._check_sessions_writable(pd.unique(chunk["session_id"]))
                    try:
                        sender.dataframe(chunk, table_name=t.name, symbols=symbols, at=t.ts)
                        sender.flush()
                    except Exception as e:
                        # The buffer may hold the failed rows: start afresh next time.
                        with contextlib.suppress(Exception):
                            sender.close()
                        self._sender = None
                        raise self._ilp_error(e, t.name) from None

    def write(self, table: str, frame: pd.DataFrame | pa.Table, mode: WriteMode = "append") -> int:
        """Write rows through ILP, then wait until the server has applied them.

        Both modes rely on the table's DEDUP keys: a row whose identity key is stored
        replaces it (``upsert``); ``append`` adds rows whose keys are new, which is every
        row numbered by ingestion (``seq`` is part of the key). Each chunk of
        ``ILP_CHUNK_ROWS`` is committed atomically; if a later chunk fails, earlier ones
        stay (re-sending is idempotent).
        """
        if mode not in ("append", "upsert"):
            raise ValueError(f"unknown write mode {mode!r}")
        t = check_table(table)
        df = self._prepare_frame(t, frame)
        if len(df) == 0:
            return 0
        self._send(t, df)
        self.wait_applied([t.name])
        return len(df)

    def write_batches(self, table: str, batches: Iterable[pd.DataFrame | pa.Table],
                      mode: WriteMode = "append") -> int:
        """Send every batch, then wait once for the server to apply them all."""
        if mode not in ("append", "upsert"):
            raise ValueError(f"unknown write mode {mode!r}")
        t = check_table(table)
        total = 0
        for batch in batches:
            df = self._prepare_frame(t, batch)
            if len(df):
                self._send(t, df)
                total += len(df)
        if total:
            self.wait_applied([t.name])
        return total

    # -- reading ---------------------------------------------------------------------

    def consistent(self, read: Callable[[], T]) -> T:
        """Run ``read`` so that it cannot overlap a purge rewriting a partition.

        While a purge swaps a day partition, other sessions' rows of that day are missing
        for a moment; reads wait for the swap to end, and a read that a swap started
        during is repeated.
        """
        for _ in range(5):
            gen = wait_no_swap(self)
            result = read()
            if wait_no_swap(self, wait=False) == gen:
                return result
        raise StoreError("reads kept overlapping partition rewrites of a purge; retry")

    def _where(self, t: schema.Table, session_id: str, syms: list[str] | None,
               lo: pd.Timestamp | None, hi: pd.Timestamp | None,
               flt: dict[str, list[Any]]) -> str:
        where = [f"session_id = {literal(session_id)}"]
        if syms is not None:
            where.append(f"symbol IN ({', '.join(map(literal, syms))})" if syms else "false")
        if lo is not None:
            where.append(f"{q(t.ts)} >= {literal(lo)}")
        if hi is not None:
            where.append(f"{q(t.ts)} < {literal(hi)}")
        for col, vals in flt.items():
            c = t.column(col)
            if c.type == schema.TIMESTAMP:
                vals = [None if v is None else pd.Timestamp(v) for v in vals]
            nonnull = [v for v in vals if v is not None and v is not pd.NaT]
            parts = []
            if nonnull:
                parts.append(f"{q(col)} IN ({', '.join(literal(v) for v in nonnull)})")
            if not parts:
                parts.append("false")
            where.append("(" + " OR ".join(parts) + ")")
        return " AND ".join(where)

    def _select_sql(self, t: schema.Table, session_id: str, symbols: Sequence[str] | None,
                    start: Any, end: Any, columns: Sequence[str] | None,
                    filters: dict[str, Any] | None, limit: int | None, offset: int | None
                    ) -> tuple[str, list[str]]:
        syms, lo, hi, flt = check_read_args(t, session_id, symbols, start, end, filters,
                                            limit, offset)
        cols = check_columns(t, columns)
        order = ", ".join(q(c) for c in ("symbol", *t.order_by))
        sql = (f"SELECT {', '.join(map(q, cols))} FROM {q(t.name)} "
               f"WHERE {self._where(t, session_id, syms, lo, hi, flt)} ORDER BY {order}")
        if limit is not None or offset:
            first = int(offset or 0)
            last = first + int(limit) if limit is not None else 2**63 - 1
            sql += f" LIMIT {first}, {last}"
        return sql, cols

    def read_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None, limit: int | None = None,
                   offset: int | None = None) -> pa.Table:
        t = check_table(table)
        sql, cols = self._select_sql(t, session_id, symbols, start, end, columns, filters,
                                     limit, offset)
        target = arrow_schema(t, cols)

        def read() -> pa.Table:
            if self.tombstoned(session_id):
                return target.empty_table()
            return conform(self.select_arrow(sql), target)

        return self.consistent(read)

    def iter_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None,
                   batch_rows: int = 500_000) -> Iterator[pa.RecordBatch]:
        """Stream rows in batches of ``batch_rows`` (the last one shorter), in read order.

        The rows are fetched in pieces of about :data:`STREAM_PIECE_BATCHES` batches: one
        ``/exp`` request per symbol (and, for tables ordered by more than time, per value of
        the leading sort columns: an indicator, an interval, a backtest) and time slice,
        each spooled to a temporary Parquet file and read back one row group at a time, so
        memory stays bounded however large the session. The next piece is fetched while the
        caller works on this one. Columns that are constant within a piece (the session,
        the symbol, those sort columns) are not sent by the server (encoding text is most
        of its work); they are filled in here.

        Each piece is read consistently (see :meth:`consistent`); rows written to the
        session while it is streamed may be in the result or not. A session deleted while it
        is streamed raises :class:`StoreError` (never a silently shortened result).
        """
        t = check_table(table)
        syms, lo, hi, flt = check_read_args(t, session_id, symbols, start, end, filters,
                                            None, None)
        cols = check_columns(t, columns)
        target = arrow_schema(t, cols)
        if batch_rows <= 0:
            raise InvalidInput(f"batch_rows must be positive, not {batch_rows}")
        where = self._where(t, session_id, syms, lo, hi, flt)
        # Rows are ordered by symbol, then the sort columns before the time: each group of
        # those values is read in time slices.
        keys = ["symbol", *t.order_by[:t.order_by.index(t.ts)]]
        ts = q(t.ts)

        def plan() -> tuple[str | None, list[tuple[Any, ...]]]:
            status = self._status(session_id)
            return status, [] if status == DELETING else self.fetchall(
                f"SELECT {', '.join(map(q, keys))}, count(), min({ts}), max({ts}) "
                f"FROM {q(t.name)} WHERE {where}")

        status, groups = self.consistent(plan)
        groups.sort(key=lambda g: [(v is not None, v) for v in g[:len(keys)]])
        fixed = {"session_id", *keys}
        fetched = [c for c in cols if c not in fixed] or [t.ts]
        order = ", ".join(map(q, t.order_by[len(keys) - 1:]))
        per_piece = batch_rows * STREAM_PIECE_BATCHES
        pieces = []
        for *values, n, first, last in groups:
            a = _micros(first)
            b = _micros(last) + 1
            k = max(1, min(-(-int(n) // per_piece), b - a))  # no slice narrower than 1 us
            constants = {"session_id": session_id, **dict(zip(keys, values, strict=True))}
            same = " AND ".join(f"{q(c)} = {literal(v)}" for c, v in zip(keys, values,
                                                                          strict=True))
            for i in range(k):
                lo_us, hi_us = a + (b - a) * i // k, a + (b - a) * (i + 1) // k
                sql = (f"SELECT {', '.join(map(q, fetched))} FROM {q(t.name)} WHERE {where} "
                       f"AND {same} AND {ts} >= {literal(_utc(lo_us))} AND {ts} < "
                       f"{literal(_utc(hi_us))} ORDER BY {order}")
                pieces.append((sql, constants))
        loose = pa.schema([pa.field(f.name, f.type) for f in target])
        fetched_schema = arrow_schema(t, fetched)

        def read(piece: tuple[str, dict[str, Any]]) -> Any:
            return self._spool(session_id, status is not None, piece[0], batch_rows)

        def batches() -> Iterator[pa.RecordBatch]:
            for (_, constants), f in _prefetched(read, pieces):
                with f:
                    for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows):
                        if not batch.num_rows:
                            continue
                        got = conform(pa.Table.from_batches([batch]), fetched_schema)
                        n = batch.num_rows
                        arrays = [pa.repeat(pa.scalar(constants[fl.name], fl.type), n)
                                  if fl.name in constants else got.column(fl.name)
                                  for fl in target]
                        yield pa.Table.from_arrays(arrays, schema=loose).to_batches()[0]

        yield from _rebatch(batches(), batch_rows)

    def _status(self, session_id: str) -> str | None:
        """The status of a session (``deleting`` while it is deleted), None if it has no row
        (gone, or the label of rows in a grace period)."""
        return self.scalar(f"SELECT status FROM {q(schema.SESSIONS.name)} WHERE "
                           f"session_id = %s AND {LIVE}", [session_id])

    def _spool(self, session_id: str, had_row: bool, sql: str, batch_rows: int) -> Any:
        """The result of ``sql`` as a Parquet temporary file (row groups of ``batch_rows``),
        read consistently; raises if the session was deleted since the read began (it is
        being deleted, or its row, which it ``had_row``, is gone)."""
        f = tempfile.TemporaryFile(prefix="tsanalysis-", suffix=".parquet")

        def spool() -> bool:
            f.seek(0)
            f.truncate()
            status = self._status(session_id)
            if status == DELETING or (had_row and status is None):
                return False
            self._http_get("/exp", self._export_params(sql, batch_rows), sink=f)
            return True

        try:
            if not self.consistent(spool):
                raise StoreError(f"session {session_id!r} was deleted while it was read")
        except BaseException:
            f.close()
            raise
        f.seek(0)
        return f

    def count_rows(self, session_id: str) -> dict[str, int]:
        check_session_id(session_id)
        parts = " UNION ALL ".join(
            f"SELECT {i} AS i, count() AS n FROM {q(t.name)} WHERE session_id = %s"
            for i, t in enumerate(schema.TABLES))

        def read() -> dict[str, int]:
            if self.tombstoned(session_id):
                return {t.name: 0 for t in schema.TABLES}
            rows = self.fetchall(parts, [session_id] * len(schema.TABLES))
            got = {int(i): int(n) for i, n in rows}
            return {t.name: got.get(i, 0) for i, t in enumerate(schema.TABLES)}

        return self.consistent(read)

    def table_stats(self, session_ids: Sequence[str] | None = None) -> pd.DataFrame:
        ids = None if session_ids is None else [check_session_id(s) for s in session_ids]
        out_schema = pa.schema([("session_id", pa.string()), ("table", pa.string()),
                                ("symbol", pa.string()), ("rows", pa.int64()),
                                ("first_ts", pa.timestamp("us", tz="UTC")),
                                ("last_ts", pa.timestamp("us", tz="UTC"))])

        def read() -> pd.DataFrame:
            hidden = self.tombstoned()
            wanted = None if ids is None else [s for s in ids if s not in hidden]
            if wanted is not None and not wanted:
                return arrow_to_pandas(out_schema.empty_table())
            where = ("" if wanted is None else
                     f"WHERE session_id IN ({', '.join(map(literal, wanted))})")
            sql = " UNION ALL ".join(
                f"SELECT session_id, {literal(t.name)} AS \"table\", symbol, count() AS rows, "
                f"min(ts) AS first_ts, max(ts) AS last_ts FROM {q(t.name)} {where}"
                for t in schema.CHILD_TABLES)
            rows = self.fetchall(sql)
            if wanted is None:
                rows = [r for r in rows if r[0] not in hidden and r[0] is not None
                        and not r[0].startswith((DEAD_PREFIX, GRACE_PREFIX))]
            rows.sort(key=lambda r: (r[0], r[1], r[2]))
            return arrow_to_pandas(rows_to_arrow(rows, out_schema))

        return self.consistent(read)

    def max_seq(self, table: str, session_id: str, symbols: Sequence[str]) -> dict[str, int]:
        t = check_table(table)
        check_session_id(session_id)
        syms = [check_symbol(s) for s in symbols]
        if not syms or not t.has_column("seq"):
            return {}
        sql = (f"SELECT symbol, max(seq) FROM {q(t.name)} WHERE session_id = %s AND symbol IN "
               f"({', '.join(['%s'] * len(syms))})")
        # Consistent: during a rewrite of this session's day its rows are briefly gone,
        # and numbering new rows from a low max would overwrite stored trades.
        return self.consistent(lambda: {s: int(m) for s, m in
                                        self.fetchall(sql, [session_id, *syms])
                                        if m is not None})

    # -- indicators: pushed-down versions of Store.read_tail_arrow, Store.count and
    # -- Store.indicator_stats (the generic ones stream every row of the session here)

    def read_tail_arrow(self, table: str, session_id: str, *, symbol: str, n: int,
                        end: Any = None, columns: Sequence[str] | None = None,
                        filters: dict[str, Any] | None = None) -> pa.Table:
        t, cols = check_tail_args(table, n, columns)
        syms, _, hi, flt = check_read_args(t, session_id, [symbol], None, end, filters,
                                           None, None)
        if n == 0:
            return arrow_schema(t, cols).empty_table()
        # The n-th last row's time, read backwards along the designated timestamp (no
        # sort); then the rows from that time on, in (ts, seq) order, of which the last n.
        sql = (f"SELECT {q(t.ts)} FROM {q(t.name)} WHERE "
               f"{self._where(t, session_id, syms, None, hi, flt)} "
               f"ORDER BY {q(t.ts)} DESC LIMIT {n}")

        def since() -> Any:
            if self.tombstoned(session_id):
                return None
            rows = self.fetchall(sql)
            return pd.Timestamp(rows[-1][0], tz="UTC") if rows else None

        lo = self.consistent(since)
        if lo is None:
            return arrow_schema(t, cols).empty_table()
        got = self.read_arrow(table, session_id, symbols=[symbol], start=lo, end=end,
                              columns=cols, filters=filters)
        return got.slice(max(0, got.num_rows - n))

    def count(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
              start: Any = None, end: Any = None, filters: dict[str, Any] | None = None) -> int:
        t = check_table(table)
        syms, lo, hi, flt = check_read_args(t, session_id, symbols, start, end, filters,
                                            None, None)
        sql = (f"SELECT count() FROM {q(t.name)} WHERE "
               f"{self._where(t, session_id, syms, lo, hi, flt)}")

        def read() -> int:
            if self.tombstoned(session_id):
                return 0
            rows = self.fetchall(sql)
            return int(rows[0][0]) if rows else 0

        return self.consistent(read)

    def indicator_stats(self, session_id: str, symbols: Sequence[str] | None = None
                        ) -> pd.DataFrame:
        check_session_id(session_id)
        syms = [check_symbol(s) for s in symbols] if symbols is not None else None
        t = schema.INDICATORS
        # symbol and indicator_id are SYMBOL columns: the server groups on their integer
        # keys, and only one row per id comes back.
        sql = (f"SELECT symbol, indicator_id, count() AS rows, min(ts) AS first_ts, "
               f"max(ts) AS last_ts FROM {q(t.name)} WHERE "
               f"{self._where(t, session_id, syms, None, None, {})} "
               "GROUP BY symbol, indicator_id")
        out_schema = pa.schema([("symbol", pa.string()), ("indicator_id", pa.string()),
                                ("rows", pa.int64()),
                                ("first_ts", pa.timestamp("us", tz="UTC")),
                                ("last_ts", pa.timestamp("us", tz="UTC"))])

        def read() -> pd.DataFrame:
            rows = [] if self.tombstoned(session_id) else self.fetchall(sql)
            rows.sort(key=lambda r: (r[0], r[1]))
            return arrow_to_pandas(rows_to_arrow(rows, out_schema))

        return self.consistent(read)

    def ohlcv_from_ticks(self, session_id: str, symbols: Sequence[str] | None, interval: str,
                         start: Any = None, end: Any = None) -> pd.DataFrame:
        width = bucket_micros(interval)
        t = schema.TICK_PRICES
        syms, lo, hi, _ = check_read_args(t, session_id, symbols, start, end, None, None, None)
        where = self._where(t, session_id, syms, lo, hi, {})
        # first()/last() take rows in input order: the inner ORDER BY makes that (ts, seq),
        # so trades sharing a timestamp open and close bars in arrival order (checked on
        # 9.3.4 with rows stored out of seq order). Integer division aligns to the epoch.
        sql = (f"SELECT session_id, symbol, b, first(price) AS open, max(price) AS high, "
               f"min(price) AS low, last(price) AS close, sum(volume) AS volume, "
               f"count() AS trades FROM (SELECT session_id, symbol, ts, seq, price, volume, "
               f"(ts::long / {width}) * {width} AS b FROM {q(t.name)} WHERE {where} "
               f"ORDER BY symbol, ts, seq) GROUP BY session_id, symbol, b ORDER BY symbol, b")
        target = arrow_schema(schema.AGGREGATED_OHLCV)

        def read() -> pa.Table:
            if self.tombstoned(session_id):
                return target.empty_table()
            got = self.select_arrow(sql)
            n = got.num_rows
            ts = got.column("b").cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))
            cols = {"session_id": got.column("session_id"), "symbol": got.column("symbol"),
                    "interval": pa.array([interval] * n, pa.string()), "ts": ts}
            for c in ("open", "high", "low", "close", "volume", "trades"):
                cols[c] = got.column(c)
            return conform(pa.table(cols), target)

        return arrow_to_pandas(self.consistent(read))

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Plain SQL with ``?`` placeholders (bound by psycopg, never interpolated).

        A statement that writes waits until the server has applied it, so the next query
        sees the change.
        """
        text, count = translate_placeholders(query)
        args = list(params or [])
        if count != len(args):
            raise InvalidInput(f"the query has {count} '?' placeholder(s) but {len(args)} "
                               "parameter(s) were given")
        args = [_param(a) for a in args]
        reading = bool(re.match(r"\s*(\(?\s*SELECT|WITH|SHOW|EXPLAIN|DECLARE)\b", query,
                                re.IGNORECASE))

        def run() -> tuple[list[Any], list[tuple[Any, ...]]]:
            with self._cursor() as cur:
                if count:
                    cur.execute(text, args)
                else:
                    cur.execute(query)
                if cur.description is None:
                    return [], []
                return list(cur.description), cur.fetchall()

        if reading:
            desc, rows = self.consistent(run)
        else:
            desc, rows = run()
            written = _WRITES.match(query)
            if written:
                # Read your writes: wait for the table written to (if it is a WAL table).
                name = written.group(2) or written.group(3)
                if self.scalar("SELECT count() FROM wal_tables() WHERE name = %s", [name]):
                    self.wait_applied([name])
        if not desc:
            return pd.DataFrame()
        return arrow_to_pandas(rows_to_arrow(rows, _schema_from_description(desc)))

    # -- deleting --------------------------------------------------------------------

    def supports_row_delete(self) -> bool:
        """Whether the server has a row-level ``DELETE`` (9.3.4 does not; checked once)."""
        if self._row_delete is None:
            try:
                self.execute(f"DELETE FROM {q(schema.SESSIONS.name)} WHERE false")
                self._row_delete = True
            except StoreError as e:
                # 9.3.4 does not parse DELETE at all; any other error is a real problem.
                if "unexpected token [FROM]" not in str(e):
                    raise
                self._row_delete = False
        return self._row_delete

    def delete_session(self, session_id: str, progress: Progress | None = None
                       ) -> DeleteOutcome:
        """Hide the session at once, take its rows out of every table in commit order, then
        reclaim their disk where it can (see :mod:`tsanalysis.store.questdb.purge`).

        Returns rows removed per table and the reclaiming left for :meth:`purge` (days an
        active session may be writing, or a purge already running).
        """
        check_session_id(session_id)
        return Purger(self).delete(session_id, progress)

    def delete_rows(self, table: str, session_id: str, *,
                    symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                    filters: dict[str, Any] | None = None) -> int:
        t, *selection = check_row_selection(table, session_id, symbols, start, end, filters)
        return Purger(self).relabel_where(t, session_id, self._where(t, session_id, *selection))

    def move_rows(self, table: str, from_id: str, to_id: str, *,
                  symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                  filters: dict[str, Any] | None = None) -> int:
        check_owner(to_id)
        t, *selection = check_row_selection(table, from_id, symbols, start, end, filters)
        return Purger(self).relabel_where(t, from_id, self._where(t, from_id, *selection),
                                          to=to_id)

    def expire_rows(self, table: str, label: str) -> int:
        t = check_table(table, child=True)
        if not GRACE_LABEL_PATTERN.match(label):
            raise InvalidInput(f"not a grace label: {label!r}")
        return Purger(self).relabel_where(t, label, f"session_id = {literal(label)}")

    def finish_interrupted_purge(self) -> bool:
        """Finish partition rewrites of a purge that died (reads and writes that meet one
        call this); False if another purge holds the lock for longer than the timeout."""
        return Purger(self).finish_interrupted(self.config.timeout)

    def seq_numbers(self, table: str, session_id: str, symbol: str) -> Callable[[int], int]:
        """Numbers reserved on the server: concurrent writers get distinct ranges.

        One row per table, session and symbol in a plain table holds the next free number;
        a reservation is a compare-and-set UPDATE of it (atomic on a non-WAL table). The row
        is created under a leased lock so that two writers cannot both create it.
        """
        t = check_table(table)
        check_session_id(session_id)
        check_symbol(symbol)
        key = [t.name, session_id, symbol]
        where = "tbl = %s AND session_id = %s AND symbol = %s"

        def take(n: int) -> int:
            for _ in range(200):
                stored = self.max_seq(t.name, session_id, [symbol]).get(symbol, -1) + 1
                nxt = self.scalar(f"SELECT max(next) FROM {SEQ_TABLE} WHERE {where}", key)
                if nxt is None:
                    lock = LeaseLock(self, SEQ_LOCK, 30.0, what="seq reservation")
                    lock.acquire(self.config.timeout)
                    try:
                        if self.scalar(f"SELECT count() FROM {SEQ_TABLE} WHERE {where}", key):
                            continue
                        self.execute(f"INSERT INTO {SEQ_TABLE} VALUES (%s, %s, %s, %s)",
                                     [*key, stored + n])
                        return stored
                    finally:
                        lock.release()
                start = max(int(nxt), stored)
                _, changed = self.execute(f"UPDATE {SEQ_TABLE} SET next = %s WHERE {where} AND "
                                          "next = %s", [start + n, *key, int(nxt)])
                if changed > 0:
                    return start
            raise StoreError(f"could not reserve seq numbers for {session_id} {symbol}: too "
                             "many concurrent writers")

        return take

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Finish interrupted purges, then purge days deferred earlier that are now free.

        ``dry_run`` lists the pending work (and what stays blocked) without changing
        anything. See :mod:`tsanalysis.store.questdb.purge`.
        """
        return Purger(self).purge(dry_run=dry_run, progress=progress)
