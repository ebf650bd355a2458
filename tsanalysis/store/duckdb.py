"""The embedded default: one DuckDB file, nothing to start.

DuckDB lets one process at a time open a file for writing. A JupyterLab kernel and a CLI
call on the same file would collide, so this store holds its connection only while it
works: the connection is closed after ``idle_release`` seconds without use, read-only
operations open the file read-only (other readers can share it).

Processes take turns on the file, first come first served (:mod:`~tsanalysis.store.turns`:
two ``flock`` locks on ``<file>.lock`` and ``<file>.queue``): a process waiting for the file
queues, and the process holding it lets go at the end of its current operation (an idle
connection within ``IDLE_POLL`` seconds), so a writer in a loop cannot lock others out. A
wait of more than a second is reported through ``on_wait`` (a warning by default; the
command line prints it on stderr); after ``lock_timeout`` seconds
(``$TSANALYSIS_LOCK_TIMEOUT``, else 60) it fails with
:class:`~tsanalysis.errors.StoreLocked` naming the file and its holder.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import InvalidInput, StoreError, StoreLocked, StoreUnavailable
from ..ids import GRACE_LABEL_PATTERN, GRACE_PREFIX, check_owner, check_session_id, check_symbol
from .base import (
    Progress,
    Store,
    WriteMode,
    arrow_to_pandas,
    bucket_micros,
    check_columns,
    check_positive_int,
    check_read_args,
    check_row_selection,
    check_table,
    check_tail_args,
    to_table_arrow,
)
from .turns import IDLE_POLL, TURN_SLICE, Notice, lock_timeout_from, locked_error, turn_for

log = logging.getLogger(__name__)

_TYPES = {
    schema.SYMBOL: "VARCHAR",
    schema.STRING: "VARCHAR",
    schema.TIMESTAMP: "TIMESTAMPTZ",
    schema.DOUBLE: "DOUBLE",
    schema.LONG: "BIGINT",
}


def q(name: str) -> str:
    """Quote an identifier (``interval`` is a keyword in DuckDB)."""
    return '"' + name.replace('"', '""') + '"'


def render_ddl(t: schema.Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table, in DuckDB's dialect."""
    cols = ",\n  ".join(
        f"{q(c.name)} {_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in t.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {q(t.name)} (\n  {cols}\n)"


def _missing_schema(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None]]:
    """(table, column) pairs schema.py declares and the file lacks (column None: the whole
    table, or the internal seq table)."""
    have: dict[str, set[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM "
                                     "information_schema.columns").fetchall():
        have.setdefault(table, set()).add(column)
    out: list[tuple[str, str | None]] = [(b, None) for b in (SEQ_TABLE, SUMMARY_TABLE)
                                         if b not in have]
    for t in schema.STORED_TABLES:
        if t.name not in have:
            out.append((t.name, None))
        else:
            out += [(t.name, c.name) for c in t.columns if c.name not in have[t.name]]
    return out


def _where(t: schema.Table, session_id: str, syms: list[str] | None, lo: pd.Timestamp | None,
           hi: pd.Timestamp | None, flt: dict[str, list[Any]]) -> tuple[list[str], list[Any]]:
    """The conditions of a read or delete (checked arguments) and their parameters."""
    where, params = ["session_id = ?"], [session_id]
    if syms is not None:
        where.append(f"symbol IN ({', '.join('?' for _ in syms)})" if syms else "FALSE")
        params += syms
    if lo is not None:
        where.append(f"{q(t.ts)} >= ?")
        params.append(lo.to_pydatetime())
    if hi is not None:
        where.append(f"{q(t.ts)} < ?")
        params.append(hi.to_pydatetime())
    for col, vals in flt.items():
        where.append(f"{q(col)} IN ({', '.join('?' for _ in vals)})" if vals else "FALSE")
        params += [_param(v) for v in vals]
    return where, params


def _order(t: schema.Table, syms: list[str] | None, flt: dict[str, list[Any]]) -> list[str]:
    """The columns a read of ``t`` is ordered by. Columns held to one value by the
    filters add nothing to the order but cost the sort dearly (strings): left out."""
    fixed = {c for c, vals in flt.items() if len(vals) == 1}
    if syms is not None and len(syms) == 1:
        fixed.add("symbol")
    return [c for c in ("symbol", *t.order_by) if c not in fixed]


#: DuckDB's memory cap of a file store when none is given. Uncapped, its buffer pool caches
#: the blocks a query scans up to 80% of RAM, so a process grows with the session it reads
#: (100M ticks: 2.9 GB computing MACD, 1.2 GB drawing the overview); sorts, joins and
#: aggregates spill to ``<file>.tmp`` past the cap.
DEFAULT_MEMORY_LIMIT = "1GB"

#: Next free ``seq`` per table, session and symbol (see :meth:`DuckDBStore.seq_numbers`).
SEQ_TABLE = "_tsa_seq"

#: Per session, symbol and indicator id: the rows of the indicators table and their first
#: and last ``ts``, kept in the transaction of every write to that table (see
#: :meth:`DuckDBStore.indicator_stats`).
SUMMARY_TABLE = "_tsa_indicators_summary"
_SUMMARY_DDL = (f"CREATE TABLE IF NOT EXISTS {SUMMARY_TABLE} (session_id VARCHAR NOT NULL, "
                "symbol VARCHAR NOT NULL, indicator_id VARCHAR NOT NULL, rows BIGINT NOT NULL, "
                "first_ts TIMESTAMPTZ NOT NULL, last_ts TIMESTAMPTZ NOT NULL)")
_SUMMARY_KEY = "session_id = ? AND symbol = ? AND indicator_id = ?"
#: One group's summary row, as the indicators table has it (the scan the table replaces).
_GROUP_SCAN = ("SELECT session_id, symbol, indicator_id, count(*) AS rows, min(ts) AS first_ts, "
               "max(ts) AS last_ts FROM {source} WHERE {where} GROUP BY session_id, symbol, "
               "indicator_id")

#: Plain SQL that names the indicators table (or the summary), after which the summary is
#: built again.
_INDICATORS_NAMED = re.compile(r"indicators", re.IGNORECASE)

_LOCK_ERROR = re.compile(r"lock", re.IGNORECASE)
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


class DuckDBStore(Store):
    """A store in one DuckDB file (or in memory with ``path=":memory:"``)."""

    backend = "duckdb"
    transactional = True
    sql_import = True

    @property
    def _memory_cap(self) -> str | None:
        return self.memory_limit or (None if self.memory else DEFAULT_MEMORY_LIMIT)

    def __init__(self, path: str | os.PathLike[str], *, idle_release: float = 2.0,
                 lock_timeout: float | None = None, threads: int | None = None,
                 memory_limit: str | None = None,
                 on_wait: Callable[[str], None] | None = None):
        self.path = str(path)
        self.memory = self.path == ":memory:"
        if not self.memory:
            self.path = str(Path(self.path).expanduser().resolve())
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.url = "duckdb:///" + self.path.lstrip("/") if not self.memory else "duckdb:///:memory:"
        self.idle_release = idle_release
        #: Seconds an operation waits for its turn on the file before StoreLocked.
        self.lock_timeout = lock_timeout_from(lock_timeout)
        #: Told, in one line, when an operation has waited a second for the file.
        self.on_wait: Callable[[str], None] = on_wait or log.warning
        self.threads = threads
        if memory_limit is not None and not _MEMORY.match(memory_limit):
            raise InvalidInput(f"invalid memory_limit {memory_limit!r}: e.g. '512MB', '2GB'")
        #: DuckDB's cap on its own memory; None: :data:`DEFAULT_MEMORY_LIMIT` for a file.
        self.memory_limit = memory_limit
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_writable = False
        self._depth = 0
        self._timer: threading.Timer | None = None
        self._idle_gen = 0  # a timer armed before the last use is stale
        self._idle_until = 0.0
        self._turn = None if self.memory else turn_for(self.path)
        self._turn_held = False
        self._in_tx = False
        self._schema_ready = False
        _OPEN_STORES.add(self)
        self.ensure_schema()

    # -- connection management ---------------------------------------------------------

    def _siblings(self) -> list[DuckDBStore]:
        """Other stores of this process with a connection open on the same file."""
        return [s for s in list(_OPEN_STORES) if s is not self and not self.memory
                and s.path == self.path and s._con is not None]

    def _share_with_siblings(self, read_only: bool, deadline: float) -> bool:
        """The read-only flag to open with, given the other stores of this process.

        DuckDB keeps one database instance per file and process and refuses a connection
        whose configuration differs from the open ones ("different configuration"). So a
        reader joins a sibling's read-write instance, and a writer waits for idle siblings'
        read-only connections to be released (they are released at once when idle).
        """
        while True:
            siblings = self._siblings()
            if not siblings:
                return read_only
            if any(s._con_writable for s in siblings):
                return False
            if read_only:
                return True
            busy = False
            for s in siblings:
                if s._lock.acquire(blocking=False):
                    try:
                        if s._depth == 0:
                            s._close_now()
                        else:
                            busy = True
                    finally:
                        s._lock.release()
                else:
                    busy = True
            if not busy:
                continue
            if time.monotonic() >= deadline:
                raise StoreLocked(f"{self.path} is being read by another workspace of this "
                                  "process for too long; try again")
            time.sleep(0.02)

    def _open(self, write: bool) -> duckdb.DuckDBPyConnection:
        read_only = not write and not self.memory and Path(self.path).exists()
        started = time.monotonic()
        deadline = started + self.lock_timeout
        if not self.memory:
            read_only = self._share_with_siblings(read_only, deadline)
            if self._turn is not None and not self._turn_held:
                self._turn_held = self._turn.enter(not read_only, deadline, self.on_wait,
                                                   started)
        con = None
        try:
            con = self._connect(read_only, started, deadline)
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for queries over 2 s: it would corrupt
            # the command line's --json output (seen exporting a 10M-row session).
            con.execute("SET enable_progress_bar = false")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            if self._memory_cap:
                con.execute(f"SET memory_limit = '{self._memory_cap}'")  # checked by _MEMORY
            self._con_writable = not read_only
            if self._con_writable and self._schema_ready:
                self._drop_stale_stages(con)
        except BaseException:
            if con is not None:
                with contextlib.suppress(duckdb.Error):
                    con.close()
            self._leave_turn()  # the file is not open: the turn goes
            raise
        return con

    def _connect(self, read_only: bool, started: float, deadline: float
                 ) -> duckdb.DuckDBPyConnection:
        """``duckdb.connect``, retried while a process that does not take turns (another
        program, an older tsanalysis) holds the file."""
        notice = Notice(None, self.on_wait, started, self.path)
        delay = 0.05
        while True:
            try:
                return duckdb.connect(self.path, read_only=read_only)
            except duckdb.IOException as e:
                if not _LOCK_ERROR.search(str(e)):
                    raise StoreUnavailable(f"cannot open {self.path}: {e}") from e
                holder = re.search(r"PID (\d+)", str(e))
                who = f"process {holder.group(1)}" if holder else "another process"
                if time.monotonic() >= deadline:
                    raise locked_error(self.path, who, time.monotonic() - started) from e
                notice(who)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as e:
                raise StoreUnavailable(f"cannot open {self.path}: {e}") from e

    def _leave_turn(self) -> None:
        if self._turn_held:
            self._turn_held = False
            self._turn.leave()  # type: ignore[union-attr]

    def _queued(self, slice_used: bool = True) -> bool:
        """Whether another process waits for the file this store holds (and, unless
        ``slice_used`` is false, this process has had it for ``TURN_SLICE`` seconds)."""
        if not self._turn_held:
            return False
        turn = self._turn
        assert turn is not None
        if slice_used and time.monotonic() - turn.since < TURN_SLICE:
            return False
        return turn.waited_for()

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, opened on demand, kept while in use and released when idle."""
        with self._lock:
            self._idle_gen += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is not None and write and not self._con_writable:
                if self._depth:
                    raise StoreError("internal: write inside a read-only block")
                self._close_now()
            if self._con is None:
                self._con = self._open(write)
            self._depth += 1
            try:
                yield self._con
            except duckdb.Error as e:
                raise _translate(e) from e
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._schedule_release()

    def _schedule_release(self) -> None:
        """After an operation: keep the connection for the next one (``idle_release``
        seconds), unless another process is waiting for the file (and this one has had
        it for ``TURN_SLICE`` seconds; if not, it goes as soon as it is idle)."""
        if self.memory:
            return  # an in-memory database lives as long as its connection
        if self.idle_release <= 0 or self._queued():
            self._close_now()
            return
        self._idle_until = time.monotonic() + self.idle_release
        self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        left = max(0.0, self._idle_until - time.monotonic())
        # While idle, look every IDLE_POLL seconds for a process waiting for the file.
        self._timer = threading.Timer(min(left, IDLE_POLL) if self._turn_held else left,
                                      self._release_if_idle, args=(self._idle_gen,))
        self._timer.daemon = True
        self._timer.start()

    def _release_if_idle(self, gen: int) -> None:
        with self._lock:
            if gen != self._idle_gen or self._depth or self._con is None:
                return  # used since: a newer timer watches
            if time.monotonic() >= self._idle_until or self._queued(slice_used=False):
                self._timer = None
                self._close_now()
            else:
                self._arm_idle_timer()

    def _close_now(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None
                self._leave_turn()

    def close(self) -> None:
        with self._lock:
            self._idle_gen += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self.memory:
                self._close_now()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.connection(write=True) as con:
            if self._in_tx:
                yield
                return
            con.execute("BEGIN TRANSACTION")
            self._in_tx = True
            try:
                yield
            except BaseException as e:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error as rollback_error:
                    # An engine error (out of memory) can leave the transaction unable to
                    # roll back: the first error is the one to report.
                    e.add_note(f"(the rollback failed too: {rollback_error})")
                raise
            else:
                con.execute("COMMIT")
            finally:
                self._in_tx = False

    # -- schema --------------------------------------------------------------------

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        if not self.memory and Path(self.path).exists():
            with self.connection() as con:
                missing = _missing_schema(con)
            if not missing:
                self._schema_ready = True
                return
        with self.connection(write=True) as con:
            for t in schema.STORED_TABLES:
                con.execute(render_ddl(t))
            # A column added to schema.py reaches files written by earlier releases.
            for table, column in _missing_schema(con):
                if column is None:
                    continue
                c = next(t for t in schema.STORED_TABLES if t.name == table).column(column)
                con.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(c.name)} {_TYPES[c.type]}")
            con.execute(f"CREATE TABLE IF NOT EXISTS {SEQ_TABLE} (tbl VARCHAR, session_id "
                        "VARCHAR, symbol VARCHAR, next BIGINT)")
            have = {r[0] for r in con.execute("SELECT table_name FROM "
                                              "information_schema.tables").fetchall()}
            if SUMMARY_TABLE not in have:
                # A file from before the summary: built from the rows, in one transaction
                # (an interrupted build leaves no table, and is done again next time).
                with self.atomic():
                    con.execute(_SUMMARY_DDL)
                    _summary_rescan(con, "TRUE", [])
        self._schema_ready = True

    def seq_numbers(self, table: str, session_id: str, symbol: str) -> Callable[[int], int]:
        """Numbers reserved in the file, in a transaction of their own.

        Two processes importing into one session and symbol take turns on the file, but
        each could read the same highest stored ``seq`` before either writes; a reservation
        row (the next free number) moved in a transaction gives them disjoint ranges.
        """
        t = check_table(table)
        check_session_id(session_id)
        check_symbol(symbol)
        key = [t.name, session_id, symbol]

        def take(n: int) -> int:
            with self.connection(write=True) as con, self.atomic():
                top = con.execute(f"SELECT max(seq) FROM {q(t.name)} WHERE session_id = ? AND "
                                  "symbol = ?", [session_id, symbol]).fetchone()[0]
                row = con.execute(f"SELECT max(next) FROM {SEQ_TABLE} WHERE tbl = ? AND "
                                  "session_id = ? AND symbol = ?", key).fetchone()[0]
                start = max(-1 if top is None else int(top), -1 if row is None else
                            int(row) - 1) + 1
                con.execute(f"DELETE FROM {SEQ_TABLE} WHERE tbl = ? AND session_id = ? AND "
                            "symbol = ?", key)
                con.execute(f"INSERT INTO {SEQ_TABLE} VALUES (?, ?, ?, ?)", [*key, start + n])
                return start

        return take

    def _stage_dir(self) -> Path:
        return Path(self.path).resolve().parent

    def _stage_prefix(self) -> str:
        return f".{Path(self.path).name}.tsa_stage_"

    def _drop_stale_stages(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop staging tables and files left by imports whose process has died."""
        prefix = self._stage_prefix()
        for f in self._stage_dir().glob(f"{glob.escape(prefix)}*.parquet"):
            m = re.match(r"(\d+)_", f.name[len(prefix):])
            if m and not _alive(int(m.group(1))):
                log.warning("removing %s, left by an interrupted import", f)
                f.unlink(missing_ok=True)
        rows = con.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE starts_with(table_name, '_tsa_stage_')").fetchall()
        for (name,) in rows:
            m = re.match(r"_tsa_stage_(\d+)_", name)
            if m and _alive(int(m.group(1))):
                continue
            log.warning("dropping %s, left by an interrupted import", name)
            con.execute(f"DROP TABLE IF EXISTS {q(name)}")

    # -- sessions -----------------------------------------------------------------

    def insert_session(self, record: dict[str, Any]) -> None:
        t = schema.SESSIONS
        cols = [c for c in t.column_names if c in record]
        sql = (f"INSERT INTO {q(t.name)} ({', '.join(map(q, cols))}) "
               f"VALUES ({', '.join('?' for _ in cols)})")
        with self.connection(write=True) as con:
            con.execute(sql, [_param(record[c]) for c in cols])

    def update_session(self, session_id: str, fields: dict[str, Any]) -> None:
        t = schema.SESSIONS
        check_session_id(session_id)
        cols = check_columns(t, list(fields))
        sets = ", ".join(f"{q(c)} = ?" for c in cols)
        with self.connection(write=True) as con:
            con.execute(f"UPDATE {q(t.name)} SET {sets} WHERE session_id = ?",
                        [*(_param(fields[c]) for c in cols), session_id])

    def session_rows(self, session_id: str | None = None) -> pd.DataFrame:
        t = schema.SESSIONS
        where, params = "", []
        if session_id is not None:
            check_session_id(session_id)
            where, params = "WHERE session_id = ?", [session_id]
        sql = (f"SELECT {', '.join(map(q, t.column_names))} FROM {q(t.name)} {where} "
               f"ORDER BY created_at, session_id")
        with self.connection() as con:
            return arrow_to_pandas(con.sql(sql, params=params).to_arrow_table())

    # -- child tables ----------------------------------------------------------------

    def write(self, table: str, frame: pd.DataFrame | pa.Table, mode: WriteMode = "append") -> int:
        t = check_table(table)
        data = to_table_arrow(t, frame)
        if data.num_rows == 0:
            return 0
        with self.connection(write=True) as con:
            con.register("_tsa_incoming", data)
            try:
                self._insert_from(con, t, "_tsa_incoming", mode)
            finally:
                con.unregister("_tsa_incoming")
        return data.num_rows

    def _insert_from(self, con: duckdb.DuckDBPyConnection, t: schema.Table, source: str,
                     mode: WriteMode) -> None:
        """Insert every row of ``source`` (a table or registered view) into ``t``."""
        cols = ", ".join(map(q, t.column_names))
        if mode not in ("upsert", "append"):
            raise ValueError(f"unknown write mode {mode!r}")
        with self.atomic():
            summarised = t is schema.INDICATORS
            groups = (con.execute(_GROUP_SCAN.format(source=source, where="TRUE")).fetchall()
                      if summarised else [])
            # In the transaction of the insert: a session deleted meanwhile cannot get rows
            # (they would be orphans that no delete finds). The summary's groups name the
            # sessions already: no second pass over the rows.
            s = schema.SESSIONS.name
            gone = (con.execute(f"SELECT u.sid FROM unnest(?::VARCHAR[]) u(sid) ANTI JOIN "
                                f"{q(s)} s ON s.session_id = u.sid LIMIT 1",
                                [sorted({g[0] for g in groups})]).fetchone()
                    if summarised else
                    con.execute(f"SELECT DISTINCT i.session_id FROM {source} i ANTI JOIN "
                                f"{q(s)} s ON s.session_id = i.session_id LIMIT 1").fetchone())
            if gone:
                raise StoreError(f"session {gone[0]!r} does not exist (deleted?); its rows "
                                 "are not written")
            if mode == "upsert":
                keys = " AND ".join(f"t.{q(k)} = i.{q(k)}" for k in t.key)
                delete = f"DELETE FROM {q(t.name)} t USING {source} i WHERE {keys}"
                if not summarised:
                    con.execute(delete)
                # One delete per indicator series: each tells how many rows it replaced.
                for g in groups:
                    n = con.execute(f"{delete} AND t.session_id = ? AND t.symbol = ? AND "
                                    "t.indicator_id = ? AND i.session_id = ? AND "
                                    "i.symbol = ? AND i.indicator_id = ?",
                                    [*g[:3], *g[:3]]).fetchone()
                    if n and n[0]:
                        # The replaced rows share their ts with new ones: bounds unchanged.
                        _summary_change(con, g[:3], -int(n[0]), None, None)
            con.execute(f"INSERT INTO {q(t.name)} ({cols}) SELECT {cols} FROM {source}")
            for g in groups:
                _summary_change(con, g[:3], int(g[3]), g[4], g[5])

    def write_batches(self, table: str, batches: Iterable[pd.DataFrame | pa.Table],
                      mode: WriteMode = "append") -> int:
        """Write a stream atomically with memory bounded by one batch.

        DuckDB keeps a transaction's appended rows in memory until commit (measured:
        ~100 bytes a tick, so 10 M ticks in one transaction took 1.8 GB). Several batches
        are therefore appended to a staging table, committed batch by batch, and moved
        into the table in one transaction at the end, which DuckDB writes straight to
        disk. A process killed on the way leaves only a staging table, dropped the next
        time the file is opened for writing.
        """
        t = check_table(table)
        it = iter(batches)
        first = next(it, None)
        if first is None:
            return 0
        second = next(it, None)
        if second is None:
            return self.write(table, first, mode)
        if not self.memory:
            return self._write_through_parquet(t, itertools.chain((first, second), it), mode)
        stage = f"_tsa_stage_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        total = 0
        with self.connection(write=True) as con:
            con.execute(f"CREATE TABLE {stage} AS SELECT * FROM {q(t.name)} LIMIT 0")
            try:
                for batch in itertools.chain((first, second), it):
                    data = to_table_arrow(t, batch)
                    con.register("_tsa_incoming", data)
                    try:
                        con.execute(f"INSERT INTO {stage} SELECT * FROM _tsa_incoming")
                    finally:
                        con.unregister("_tsa_incoming")
                    total += data.num_rows
                self._insert_from(con, t, stage, mode)
            finally:
                con.execute(f"DROP TABLE IF EXISTS {stage}")
        return total

    def _write_through_parquet(self, t: schema.Table, batches: Iterable[pd.DataFrame | pa.Table],
                               mode: WriteMode) -> int:
        """Stage the batches in an uncompressed Parquet file (written as they come: memory
        bounded by a batch, no database work until the end), then move them in with one
        ``INSERT ... SELECT FROM read_parquet`` (DuckDB's own bulk path: parallel, written
        straight to disk). The file sits next to the database; one left by a killed process
        is removed the next time the database is opened for writing."""
        import pyarrow.parquet as pq

        path = self._stage_dir() / (f"{self._stage_prefix()}{os.getpid()}_"
                                    f"{uuid.uuid4().hex[:12]}.parquet")
        total = 0
        try:
            writer: pq.ParquetWriter | None = None
            try:
                for batch in batches:
                    data = to_table_arrow(t, batch)
                    if writer is None:
                        writer = pq.ParquetWriter(path, data.schema, compression="none")
                    writer.write_table(data)
                    total += data.num_rows
            finally:
                if writer is not None:
                    writer.close()
            if total:
                source = "read_parquet('" + str(path).replace("'", "''") + "')"
                with self.connection(write=True) as con:
                    self._insert_from(con, t, source, mode)
        finally:
            path.unlink(missing_ok=True)
        return total

    def insert_query(self, table: str, session_id: str, symbol: str, query: str,
                     params: Sequence[Any] = (), *, numbered: bool = True,
                     progress: Callable[[float], None] | None = None
                     ) -> tuple[int, Any, Any]:
        """Insert the rows of one SQL query (over ``read_parquet``/``read_csv``) into a
        child table of one session and symbol, in one transaction of its own.

        ``query`` yields the table's columns except ``session_id`` and ``symbol`` (given
        here); when ``numbered`` it yields ``_row`` (0, 1, ... in source order) instead of
        ``seq``, and the rows are numbered after the highest ``seq`` stored or reserved
        (:meth:`seq_numbers`). A query that fails (a check calling ``error()``, an
        unreadable file) or a session that does not exist leaves nothing written.
        ``progress`` is told the fraction done (0..1) now and then. Returns the rows
        written and, when ``numbered``, their first and last ``ts`` (else None, None).
        """
        t = check_table(table, child=True)
        check_session_id(session_id)
        check_symbol(symbol)
        names = [c for c in t.column_names if c not in ("session_id", "symbol")]
        if numbered:
            names.remove("seq")
        cols = ", ".join(map(q, names))
        with self.connection(write=True) as con, \
                self._bounded_sort(con, self.write_memory_limit), self.atomic():
            # In the transaction of the insert: a session deleted meanwhile gets no rows.
            if not con.execute(f"SELECT 1 FROM {q(schema.SESSIONS.name)} WHERE session_id = ?",
                               [session_id]).fetchall():
                raise StoreError(f"session {session_id!r} does not exist (deleted?); its "
                                 "rows are not written")
            start = self.seq_numbers(t.name, session_id, symbol)(0) if numbered else 0
            seq = (", seq", f", {start} + _row") if numbered else ("", "")
            sql = (f"INSERT INTO {q(t.name)} (session_id, symbol{seq[0]}, {cols}) "
                   f"SELECT ?, ?{seq[1]}, {cols} FROM ({query})")
            with _watch_progress(con, progress):
                n = int(con.execute(sql, [session_id, symbol, *params]).fetchone()[0])
            if t is schema.INDICATORS and n:
                _summary_rescan(con, "session_id = ? AND symbol = ?", [session_id, symbol])
            if not numbered or not n:
                return n, None, None
            # The rows just numbered: seq start .. start + n - 1 (above every stored seq).
            lo, hi = con.execute(f"SELECT min({q(t.ts)}), max({q(t.ts)}) FROM {q(t.name)} "
                                 "WHERE session_id = ? AND symbol = ? AND seq >= ?",
                                 [session_id, symbol, start]).fetchone()
            return n, lo, hi

    def _select(self, t: schema.Table, session_id: str, symbols: Sequence[str] | None,
                start: Any, end: Any, columns: Sequence[str] | None,
                filters: dict[str, Any] | None, limit: int | None, offset: int | None,
                select_first: bool = False) -> tuple[str, list[Any]]:
        """The SELECT of a read and its parameters. With ``select_first`` (and no limit or
        offset) the rows are selected in a materialized CTE and then sorted: ordered by
        time, DuckDB 2.0 plans the scan in partitions of the row groups' time ranges, which
        costs in proportion to the table (the last 61 indicator rows of 400M: 36 ms against
        1.5 ms selected first)."""
        syms, lo, hi, flt = check_read_args(t, session_id, symbols, start, end, filters,
                                            limit, offset)
        cols = check_columns(t, columns)
        where, params = _where(t, session_id, syms, lo, hi, flt)
        order_cols = _order(t, syms, flt)
        order = ", ".join(map(q, order_cols))
        rows = f"FROM {q(t.name)} WHERE {' AND '.join(where)}"
        if select_first and order and limit is None and not offset:
            inner = ", ".join(map(q, cols + [c for c in order_cols if c not in cols]))
            return (f"WITH _tsa_rows AS MATERIALIZED (SELECT {inner} {rows}) "
                    f"SELECT {', '.join(map(q, cols))} FROM _tsa_rows ORDER BY {order}"), params
        sql = f"SELECT {', '.join(map(q, cols))} {rows}" + (f" ORDER BY {order}" if order else "")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        return sql, params

    def read_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None, limit: int | None = None,
                   offset: int | None = None) -> pa.Table:
        t = check_table(table)
        sql, params = self._select(t, session_id, symbols, start, end, columns, filters,
                                   limit, offset, select_first=start is not None)
        with self.connection() as con:
            return con.sql(sql, params=params).to_arrow_table()

    def delete_rows(self, table: str, session_id: str, *,
                    symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                    filters: dict[str, Any] | None = None) -> int:
        t, *selection = check_row_selection(table, session_id, symbols, start, end, filters)
        where, params = _where(t, session_id, *selection)
        cond = " AND ".join(where)
        with self.connection(write=True) as con, self.atomic():
            gone = _summary_groups(con, t, cond, params, selection)
            row = con.execute(f"DELETE FROM {q(t.name)} WHERE {cond}", params).fetchone()
            _summary_remove(con, gone)
        return int(row[0]) if row else 0

    def move_rows(self, table: str, from_id: str, to_id: str, *,
                  symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                  filters: dict[str, Any] | None = None) -> int:
        check_owner(to_id)
        t, *selection = check_row_selection(table, from_id, symbols, start, end, filters)
        where, params = _where(t, from_id, *selection)
        cond = " AND ".join(where)
        with self.connection(write=True) as con, self.atomic():
            moved = _summary_groups(con, t, cond, params, selection)
            row = con.execute(f"UPDATE {q(t.name)} SET session_id = ? WHERE {cond}",
                              [to_id, *params]).fetchone()
            _summary_remove(con, moved)
            for g in moved:
                _summary_change(con, (to_id, *g[1:3]), int(g[3]), g[4], g[5])
        return int(row[0]) if row else 0

    def expire_rows(self, table: str, label: str) -> int:
        t = check_table(table, child=True)
        if not GRACE_LABEL_PATTERN.match(label):
            raise InvalidInput(f"not a grace label: {label!r}")
        with self.connection(write=True) as con, self.atomic():
            row = con.execute(f"DELETE FROM {q(t.name)} WHERE session_id = ?",
                              [label]).fetchone()
            if t is schema.INDICATORS:
                con.execute(f"DELETE FROM {SUMMARY_TABLE} WHERE session_id = ?", [label])
        return int(row[0]) if row else 0

    def iter_arrow(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
                   start: Any = None, end: Any = None, columns: Sequence[str] | None = None,
                   filters: dict[str, Any] | None = None,
                   batch_rows: int = 500_000) -> Iterator[pa.RecordBatch]:
        t = check_table(table)
        syms, lo, hi, flt = check_read_args(t, session_id, symbols, start, end, filters,
                                            None, None)
        # Writable: the caller may write between batches (a read-only connection could
        # not be upgraded while this generator holds it).
        with self.connection(write=True) as con, self._bounded_sort(con):
            cur = con.cursor()
            reader: pa.RecordBatchReader | None = None
            try:
                ranges = self._time_ranges(cur, t, session_id, syms, lo, hi, flt)
                if len(ranges) > 1:  # one snapshot for every range (what one query sees)
                    cur.execute("BEGIN TRANSACTION").fetchall()
                for a, b in ranges:
                    sql, params = self._select(t, session_id, syms, a, b, columns, flt,
                                               None, None)
                    reader = cur.sql(sql, params=params).to_arrow_reader(batch_rows)
                    yield from reader
                    reader = None
                if len(ranges) > 1:
                    cur.execute("COMMIT").fetchall()
            finally:
                # A stream abandoned mid-way (an interrupt, a failed writer) is closed before
                # its cursor: closing the cursor under an unfinished stream could hang the
                # unwinding of an interrupted export.
                if reader is not None:
                    reader.close()
                cur.close()

    #: A stream of more rows than this is read as consecutive time ranges of about this
    #: many rows (when its order starts with the time): DuckDB finds each range by its
    #: zone maps and sorts it in memory, where one ORDER BY over the whole stream sorts
    #: (and, past ``stream_memory_limit``, spills) every row before the first batch comes.
    #: Measured on 10M ticks of one symbol: 5.4 s and 336 MB against 8.7 s and 660 MB.
    slice_rows = 2_000_000

    def _time_ranges(self, cur: duckdb.DuckDBPyConnection, t: schema.Table, session_id: str,
                     syms: list[str] | None, lo: pd.Timestamp | None, hi: pd.Timestamp | None,
                     flt: dict[str, list[Any]]) -> list[tuple[Any, Any]]:
        """``[start, end)`` ranges that cover ``[lo, hi)`` in order, about
        :attr:`slice_rows` rows each; ``[(lo, hi)]`` when one read will do."""
        order = _order(t, syms, flt)
        if not order or order[0] != t.ts or not self.slice_rows:
            return [(lo, hi)]
        where, params = _where(t, session_id, syms, lo, hi, flt)
        n, first, last = cur.execute(
            f"SELECT count(*), epoch_us(min({q(t.ts)})), epoch_us(max({q(t.ts)})) "
            f"FROM {q(t.name)} WHERE {' AND '.join(where)}", params).fetchall()[0]
        k = -(-int(n) // int(self.slice_rows))
        if k <= 1 or first is None or last <= first:
            return [(lo, hi)]
        cuts = sorted({first + (last - first) * i // k for i in range(1, k)} - {first})
        bounds = [lo, *(pd.Timestamp(c, unit="us", tz="UTC") for c in cuts), hi]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    # -- bounded streaming (export issue) ----------------------------------------------
    #: DuckDB sorts a whole result before the first batch streams out; by default it may
    #: use most of the machine's memory for that (a 10M-row session held ~1.4 GB). While a
    #: stream runs the database's memory is capped so the sort spills to ``<file>.tmp``.
    #: Reads sort a time range at a time (:attr:`slice_rows`), which fits in 256 MB; the
    #: cap also bounds DuckDB's block cache, which otherwise fills to it on a long session
    #: (a 100M-tick read: 710 MB of RSS at 512 MB, 396 MB at 192 MB, in the same time).
    stream_memory_limit = "256MB"
    #: The cap of one-statement imports (:meth:`insert_query`), which run slower below it.
    write_memory_limit = "512MB"
    _streams = 0

    @contextmanager
    def _bounded_sort(self, con: duckdb.DuckDBPyConnection, limit: str | None = None
                      ) -> Iterator[None]:
        limit = limit or self.stream_memory_limit
        if self.memory or not limit:
            yield  # an in-memory database has nowhere to spill
            return
        with self._lock:
            if self._streams == 0:
                con.execute(f"SET memory_limit = '{limit}'")
            self._streams += 1
        try:
            yield
        finally:
            with self._lock:
                self._streams -= 1
                if self._streams == 0 and self._con is con:
                    if self._memory_cap:
                        con.execute(f"SET memory_limit = '{self._memory_cap}'")
                    else:
                        con.execute("RESET memory_limit")

    def count_rows(self, session_id: str) -> dict[str, int]:
        check_session_id(session_id)
        parts = " UNION ALL ".join(
            f"SELECT {i} AS i, count(*) AS n FROM {q(t.name)} WHERE session_id = ?"
            for i, t in enumerate(schema.TABLES)
        )
        with self.connection() as con:
            rows = con.execute(f"{parts} ORDER BY i", [session_id] * len(schema.TABLES)).fetchall()
        return {schema.TABLES[i].name: int(n) for i, n in rows}

    def table_stats(self, session_ids: Sequence[str] | None = None) -> pd.DataFrame:
        # Rows in a grace period belong to no session until they are restored.
        where, params = f"WHERE session_id NOT LIKE '{GRACE_PREFIX}%'", []
        if session_ids is not None:
            ids = [check_session_id(s) for s in session_ids]
            if not ids:
                where = "WHERE FALSE"
            else:
                where = f"WHERE session_id IN ({', '.join('?' for _ in ids)})"
            params = ids
        parts = []
        for t in schema.CHILD_TABLES:
            parts.append(
                f"SELECT session_id, '{t.name}' AS \"table\", symbol, count(*) AS rows, "
                f"min(ts) AS first_ts, max(ts) AS last_ts FROM {q(t.name)} {where} "
                "GROUP BY session_id, symbol"
            )
        sql = " UNION ALL ".join(parts) + ' ORDER BY session_id, "table", symbol'
        with self.connection() as con:
            return arrow_to_pandas(
                con.sql(sql, params=params * len(schema.CHILD_TABLES)).to_arrow_table())

    def max_seq(self, table: str, session_id: str, symbols: Sequence[str]) -> dict[str, int]:
        t = check_table(table)
        check_session_id(session_id)
        syms = [check_symbol(s) for s in symbols]
        if not syms or not t.has_column("seq"):
            return {}
        sql = (f"SELECT symbol, max(seq) FROM {q(t.name)} WHERE session_id = ? AND symbol IN "
               f"({', '.join('?' for _ in syms)}) GROUP BY symbol")
        with self.connection() as con:
            return {s: int(m) for s, m in con.execute(sql, [session_id, *syms]).fetchall()}

    def delete_session(self, session_id: str, progress: Progress | None = None) -> dict[str, int]:
        check_session_id(session_id)
        removed: dict[str, int] = {}
        with self.connection(write=True) as con, self.atomic():
            for i, t in enumerate(schema.TABLES):
                n = con.execute(f"DELETE FROM {q(t.name)} WHERE session_id = ?",
                                [session_id]).fetchone()
                removed[t.name] = int(n[0]) if n else 0
                if progress:
                    progress(i + 1, len(schema.TABLES))
            # bookkeeping, not the session's data: a session created again numbers from 0
            con.execute(f"DELETE FROM {SEQ_TABLE} WHERE session_id = ?", [session_id])
            con.execute(f"DELETE FROM {SUMMARY_TABLE} WHERE session_id = ?", [session_id])
        return removed

    def ohlcv_from_ticks(self, session_id: str, symbols: Sequence[str] | None, interval: str,
                         start: Any = None, end: Any = None) -> pd.DataFrame:
        width = bucket_micros(interval)
        t = schema.TICK_PRICES
        syms, lo, hi, _ = check_read_args(t, session_id, symbols, start, end, None, None, None)
        where, params = ["session_id = ?"], [session_id]
        if syms is not None:
            where.append(f"symbol IN ({', '.join('?' for _ in syms)})" if syms else "FALSE")
            params += syms
        if lo is not None:
            where.append("ts >= ?")
            params.append(lo.to_pydatetime())
        if hi is not None:
            where.append("ts < ?")
            params.append(hi.to_pydatetime())
        # One number orders the rows as (ts, seq) do: arg_min/arg_max on it run 2.5x
        # faster than first/last(... ORDER BY ts, seq), which sort each group (measured
        # on 10M ticks: 0.45 s against 1.1 s). seq < 2^63, so the sum cannot collide.
        order = f"epoch_us(ts)::HUGEINT * {1 << 63} + seq"
        sql = f"""
            SELECT session_id, symbol, ? AS "interval",
                   make_timestamptz((epoch_us(ts) // {width}) * {width}) AS ts,
                   arg_min(price, {order}) AS open, max(price) AS high,
                   min(price) AS low, arg_max(price, {order}) AS close,
                   sum(volume) AS volume, count(*) AS trades
            FROM tick_prices WHERE {' AND '.join(where)}
            GROUP BY session_id, symbol, 4 ORDER BY symbol, ts"""
        with self.connection() as con:
            return arrow_to_pandas(con.sql(sql, params=[interval, *params]).to_arrow_table())

    # -- contract additions with a DuckDB version (migration) --------------------------

    def checkpoint(self) -> None:
        # Big appends sit in DuckDB's memory until a checkpoint, which otherwise comes at
        # close and then needs memory in proportion to everything written since.
        if self.memory or self._in_tx:
            return
        with self.connection(write=True) as con:
            con.execute("CHECKPOINT")

    # -- plain SQL ---------------------------------------------------------------------

    # -- time-order analysis pushed down (overrides of the generic Store versions) ----
    # One window query each: DuckDB sorts and diffs in parallel, and only the few rows
    # that matter (gaps, out-of-order rows) come back to Python. The window sorts of
    # find_gaps and out_of_order run under the streams' memory cap (they spill to disk on
    # a session larger than it); median's aggregate holds its values and could not.

    def _symbol_filter(self, session_id: str, symbols: Sequence[str] | None
                       ) -> tuple[str, list[Any]]:
        check_session_id(session_id)
        where, params = ["session_id = ?"], [session_id]
        if symbols is not None:
            syms = [check_symbol(s) for s in symbols]
            where.append(f"symbol IN ({', '.join('?' for _ in syms)})" if syms else "FALSE")
            params += syms
        return " AND ".join(where), params

    def find_gaps(self, table: str, session_id: str, min_gap_us: int, *,
                  symbols: Sequence[str] | None = None) -> pd.DataFrame:
        t = check_table(table)
        limit = check_positive_int(min_gap_us, "min_gap_us")
        where, params = self._symbol_filter(session_id, symbols)
        sql = f"""
            SELECT symbol, prev AS start, ts AS "end" FROM (
                SELECT symbol, ts, lag(ts) OVER (PARTITION BY symbol ORDER BY ts) AS prev
                FROM {q(t.name)} WHERE {where})
            WHERE epoch_us(ts) - epoch_us(prev) > ? ORDER BY symbol, start"""
        with self.connection() as con, self._bounded_sort(con):
            return arrow_to_pandas(con.sql(sql, params=[*params, limit]).to_arrow_table())

    def median_step_us(self, table: str, session_id: str, *,
                       symbols: Sequence[str] | None = None) -> dict[str, float]:
        t = check_table(table)
        where, params = self._symbol_filter(session_id, symbols)
        sql = f"""
            SELECT symbol, median(step) FROM (
                SELECT symbol, epoch_us(ts) - epoch_us(lag(ts) OVER (PARTITION BY symbol
                                                                     ORDER BY ts)) AS step
                FROM {q(t.name)} WHERE {where})
            WHERE step > 0 GROUP BY symbol"""
        with self.connection() as con:
            return {sym: float(m) for sym, m in con.execute(sql, params).fetchall()}

    def out_of_order(self, table: str, session_id: str, symbol: str, *,
                     tolerance_us: int = 0, limit: int = 100) -> tuple[int, pd.DataFrame]:
        t = check_table(table)
        if not t.has_column("seq"):
            raise InvalidInput(f"{t.name} has no arrival order (seq)")
        where, params = self._symbol_filter(session_id, [symbol])
        sql = f"""
            SELECT seq, ts, prev AS prev_ts, count(*) OVER () AS total FROM (
                SELECT seq, ts, lag(ts) OVER (ORDER BY seq) AS prev
                FROM {q(t.name)} WHERE {where})
            WHERE epoch_us(ts) < epoch_us(prev) - ? ORDER BY seq LIMIT ?"""
        with self.connection() as con, self._bounded_sort(con):
            got = arrow_to_pandas(con.sql(sql, params=[*params, int(tolerance_us),
                                                       max(int(limit), 1)]).to_arrow_table())
        total = int(got["total"].iloc[0]) if len(got) else 0
        return total, got.drop(columns="total").head(max(int(limit), 0))

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        write = not re.match(r"\s*(SELECT|WITH|SHOW|DESCRIBE|PRAGMA|EXPLAIN|FROM)\b", query,
                             re.IGNORECASE)
        with self.connection(write=write) as con:
            if not write:
                return arrow_to_pandas(con.sql(query, params=list(params or [])).to_arrow_table())
            if _INDICATORS_NAMED.search(query):
                # A statement that may write indicator rows: the summary is built again
                # from them, in its transaction (a scan, as the statement may change any).
                with self.atomic():
                    cur = con.execute(query, list(params or []))
                    got = (None if cur.description is None else
                           pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description]))
                    _summary_rescan(con, "TRUE", [])
                return pd.DataFrame() if got is None else got
            cur = con.execute(query, list(params or []))
            if cur.description is None:
                return pd.DataFrame()
            return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


    # -- indicators: pushed-down versions of Store.read_tail_arrow,
    # -- Store.count and Store.indicator_stats ---------------------------------------------

    def read_tail_arrow(self, table: str, session_id: str, *, symbol: str, n: int,
                        end: Any = None, columns: Sequence[str] | None = None,
                        filters: dict[str, Any] | None = None) -> pa.Table:
        t, cols = check_tail_args(table, n, columns)
        fixed = {c for c, v in (filters or {}).items()
                 if not isinstance(v, (list, tuple, set)) or len(v) == 1}
        keys = [k for k in t.order_by if k not in fixed] or list(t.order_by)  # one symbol
        inner_cols = cols + [k for k in keys if k not in cols]
        inner, params = self._select(t, session_id, [symbol], None, end, inner_cols, filters,
                                     None, None)
        inner = _unordered(inner)  # re-ordered below
        desc = ", ".join(f"{q(k)} DESC" for k in keys)
        asc = ", ".join(q(k) for k in keys)
        sql = (f"SELECT {', '.join(map(q, cols))} FROM (SELECT * FROM ({inner}) "
               f"ORDER BY {desc} LIMIT {int(n)}) ORDER BY {asc}")
        with self.connection() as con:
            return con.sql(sql, params=params).to_arrow_table()

    def count(self, table: str, session_id: str, *, symbols: Sequence[str] | None = None,
              start: Any = None, end: Any = None, filters: dict[str, Any] | None = None) -> int:
        t = check_table(table)
        if start is None and end is not None:
            # The rows before ``end``: all the rows less those from ``end`` on, one query.
            # DuckDB counts a session's rows from the column statistics and finds the
            # recent ones from the ts ranges of the row groups, where ``ts < end`` reads
            # every timestamp (33 ms against 1.4 ms on 100M ticks).
            syms, _, hi, flt = check_read_args(t, session_id, symbols, None, end, filters,
                                               None, None)
            where, params = _where(t, session_id, syms, None, None, flt)
            cond = " AND ".join(where)
            sql = (f"SELECT (SELECT count({q(t.ts)}) FROM {q(t.name)} WHERE {cond}) - "
                   f"(SELECT count({q(t.ts)}) FROM {q(t.name)} WHERE {cond} AND "
                   f"{q(t.ts)} >= ?)")
            params = [*params, *params, hi.to_pydatetime()]
        else:
            inner, params = self._select(t, session_id, symbols, start, end, [t.ts], filters,
                                         None, None)
            sql = f"SELECT count(*) FROM ({_unordered(inner)})"
        with self.connection() as con:
            rows = con.execute(sql, params).fetchall()
        return int(rows[0][0])

    def indicator_stats(self, session_id: str, symbols: Sequence[str] | None = None
                        ) -> pd.DataFrame:
        """Read from the summary table (:data:`SUMMARY_TABLE`), which every write to the
        indicators table keeps in its transaction: a few rows, whatever the session's size
        (the scan it replaces is :func:`_scan_indicator_stats`)."""
        check_session_id(session_id)
        where, params = "session_id = ?", [session_id]
        if symbols is not None:
            syms = sorted({check_symbol(s) for s in symbols})
            where += (f" AND symbol IN ({', '.join('?' for _ in syms)})" if syms
                      else " AND FALSE")
            params += syms
        sql = (f"SELECT symbol, indicator_id, rows, first_ts, last_ts FROM {SUMMARY_TABLE} "
               f"WHERE {where} ORDER BY symbol, indicator_id")
        with self.connection() as con:
            got = con.execute(sql, params).fetchnumpy()
        return _stats_frame(got)


def _stats_frame(got: dict[str, Any]) -> pd.DataFrame:
    # A handful of rows: numpy -> pandas directly is much cheaper than Arrow -> pandas.
    return pd.DataFrame({
        "symbol": pd.array(got["symbol"], dtype="str"),
        "indicator_id": pd.array(got["indicator_id"], dtype="str"),
        "rows": got["rows"].astype("int64"),
        "first_ts": pd.DatetimeIndex(got["first_ts"]).tz_localize("UTC"),
        "last_ts": pd.DatetimeIndex(got["last_ts"]).tz_localize("UTC"),
    })


def _scan_indicator_stats(store: DuckDBStore, session_id: str) -> pd.DataFrame:
    """What :meth:`DuckDBStore.indicator_stats` returns, from a scan of the indicator rows
    rather than the summary (for tests and checks)."""
    check_session_id(session_id)
    sql = (_GROUP_SCAN.format(source=q(schema.INDICATORS.name), where="session_id = ?")
           + " ORDER BY symbol, indicator_id")
    with store.connection() as con:
        got = con.execute(sql, [session_id]).fetchnumpy()
    return _stats_frame(got)


# -- the indicator summary (SUMMARY_TABLE), changed in the transaction of each write ---------

def _summary_groups(con: duckdb.DuckDBPyConnection, t: schema.Table, where: str,
                    params: list[Any], selection: Sequence[Any]) -> list[tuple]:
    """The summary of the indicator rows that ``where`` (from :func:`_where` and the checked
    ``selection``) selects, about to be deleted or moved; nothing for another table.

    A selection of whole series (by session, symbols and indicator ids only, no time range)
    is read from the summary itself (``where`` names only its key columns); otherwise the
    selected rows are counted.
    """
    if t is not schema.INDICATORS:
        return []
    _, lo, hi, flt = selection
    if lo is None and hi is None and set(flt) <= {"indicator_id"}:
        return con.execute(f"SELECT session_id, symbol, indicator_id, rows, first_ts, last_ts "
                           f"FROM {SUMMARY_TABLE} WHERE {where}", params).fetchall()
    return con.execute(_GROUP_SCAN.format(source=q(t.name), where=where), params).fetchall()


def _summary_change(con: duckdb.DuckDBPyConnection, key: Sequence[Any], rows: int,
                    first: Any, last: Any) -> None:
    """Add ``rows`` (negative: remove) to one series' summary row, widening its bounds to
    ``first`` and ``last`` (None: unchanged); a series without a row gets one."""
    row = con.execute(f"SELECT rows FROM {SUMMARY_TABLE} WHERE {_SUMMARY_KEY}",
                      list(key)).fetchall()
    if len(row) == 1 and row[0][0] + rows > 0:
        con.execute(f"UPDATE {SUMMARY_TABLE} SET rows = rows + ?, first_ts = least(first_ts, "
                    f"coalesce(?, first_ts)), last_ts = greatest(last_ts, coalesce(?, last_ts)) "
                    f"WHERE {_SUMMARY_KEY}", [rows, first, last, *key])
    elif len(row) == 1 and row[0][0] + rows == 0:  # every row of the series went
        con.execute(f"DELETE FROM {SUMMARY_TABLE} WHERE {_SUMMARY_KEY}", list(key))
    elif not row and rows > 0 and first is not None and last is not None:
        con.execute(f"INSERT INTO {SUMMARY_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [*key, rows, first, last])
    else:  # emptied, or a summary out of line with the rows: the series counted again
        _summary_rescan(con, _SUMMARY_KEY, list(key))


def _summary_remove(con: duckdb.DuckDBPyConnection, gone: list[tuple]) -> None:
    """Take rows deleted or moved away (``gone``: their summary, from
    :func:`_summary_groups` before the change) out of the summary. A series that lost a
    row at either end has its bounds read again (one filtered min/max)."""
    for sid, sym, iid, n, lo, hi in gone:
        key = [sid, sym, iid]
        row = con.execute(f"SELECT rows, first_ts, last_ts FROM {SUMMARY_TABLE} WHERE "
                          f"{_SUMMARY_KEY}", key).fetchall()
        if len(row) == 1 and row[0][0] == n:  # every row of the series went
            con.execute(f"DELETE FROM {SUMMARY_TABLE} WHERE {_SUMMARY_KEY}", key)
        elif len(row) != 1 or row[0][0] < n or lo <= row[0][1] or hi >= row[0][2]:
            _summary_rescan(con, _SUMMARY_KEY, key)
        else:
            con.execute(f"UPDATE {SUMMARY_TABLE} SET rows = rows - ? WHERE {_SUMMARY_KEY}",
                        [n, *key])


def _summary_rescan(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> None:
    """Count the series that ``where`` selects (columns session_id, symbol, indicator_id)
    again from the indicator rows."""
    con.execute(f"DELETE FROM {SUMMARY_TABLE} WHERE {where}", params)
    con.execute(f"INSERT INTO {SUMMARY_TABLE} "
                + _GROUP_SCAN.format(source=q(schema.INDICATORS.name), where=where), params)


@contextmanager
def _watch_progress(con: duckdb.DuckDBPyConnection,
                    progress: Callable[[float], None] | None) -> Iterator[None]:
    """Tell ``progress`` the running query's fraction done (DuckDB's own estimate) every
    half second, from a thread: a single statement over a big file runs for minutes."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.5):
            done = con.query_progress()
            if done >= 0:
                progress(min(done, 100.0) / 100.0)

    # DuckDB tracks progress only with its progress bar on; it must not print (stdout may
    # carry --json), and it stays off for other queries.
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET enable_progress_bar = true")
    watcher = threading.Thread(target=watch, name="tsanalysis-import-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        con.execute("SET enable_progress_bar = false")


def _unordered(select: str) -> str:
    """A query from :meth:`DuckDBStore._select` without its ORDER BY."""
    cut = select.rfind(" ORDER BY ")
    return select if cut < 0 else select[:cut]


#: Stores with a connection that an idle timer may close: closed at interpreter exit,
#: before a timer thread can fire while Python is shutting down (which aborts DuckDB).
_OPEN_STORES: weakref.WeakSet[DuckDBStore] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for store in list(_OPEN_STORES):
        try:
            store.close()
        except Exception:  # exiting anyway; a store that fails to close must not stop others
            log.debug("closing %s at exit failed", store.path, exc_info=True)


def _forget_turns_of_stores_in_child() -> None:
    for store in list(_OPEN_STORES):
        store._turn_held = False  # the turn itself is forgotten by turns.py


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_turns_of_stores_in_child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _param(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return None if v is pd.NaT else v.to_pydatetime()
    return v


def _translate(e: duckdb.Error) -> Exception:
    return StoreError(f"DuckDB: {e}")
