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
* There is no row-level ``DELETE``; see :mod:`tsanalysis.store.questdb_purge` for how a
  session is removed (tombstone, then a journaled rewrite of the partitions it touches).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..errors import InvalidInput, StoreError, StoreUnavailable
from ..ids import check_session_id, check_symbol
from . import questdb_fence as fence
from .base import (
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
    check_table,
    to_table_arrow,
)
from .questdb_lock import SEQ_LOCK, LeaseLock
from .questdb_purge import Purger, create_internal_tables
from .questdb_reclaim import wait_no_swap
from .questdb_sql import (
    DEAD_PREFIX,
    DELETING,
    JOURNAL_TABLE,
    LIVE,
    SEQ_TABLE,
    STATE_TABLE,
    SWAP_TABLE,
    q,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "quest"
DEFAULT_PG_PORT = 8812
DEFAULT_HTTP_PORT = 9000
DEFAULT_DBNAME = "qdb"
DEFAULT_TIMEOUT = 30.0

#: Tables of tsanalysis' own bookkeeping on the server.
INTERNAL_TABLES = (JOURNAL_TABLE, STATE_TABLE, SWAP_TABLE, SEQ_TABLE, fence.WRITERS_TABLE,
                   fence.FENCES_TABLE)

_TYPES = {
    schema.SYMBOL: "SYMBOL",
    schema.STRING: "VARCHAR",
    schema.TIMESTAMP: "TIMESTAMP",
    schema.DOUBLE: "DOUBLE",
    schema.LONG: "LONG",
}

#: Rows per ILP request: one request is atomic on the server, and bounded in memory.
ILP_CHUNK_ROWS = 500_000


def render_ddl(t: schema.Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table in QuestDB's dialect.

    WAL, partitioned by day on the designated timestamp, and deduplicated on the table's
    identity key (QuestDB requires the designated timestamp among the keys). Symbol-typed
    columns are ``SYMBOL``. QuestDB has no NOT NULL: required columns are checked before
    writing (:meth:`QuestDBStore.write`).
    """
    cols = ",\n  ".join(f"{q(c.name)} {_TYPES[c.type]}" for c in t.columns)
    keys = [t.ts] + [k for k in t.key if k != t.ts]
    return (f"CREATE TABLE IF NOT EXISTS {q(t.name)} (\n  {cols}\n) TIMESTAMP({q(t.ts)}) "
            f"PARTITION BY DAY WAL DEDUP UPSERT KEYS({', '.join(map(q, keys))})")


def literal(v: Any) -> str:
    """A SQL literal for ``/exp`` queries, which take no bind parameters.

    Strings are quoted with ``'`` doubled; instants become UTC ISO text, which QuestDB
    compares with timestamps.
    """
    if v is None or v is pd.NaT:
        return "NULL"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "NULL" if not np.isfinite(v) else repr(float(v))
    if isinstance(v, (pd.Timestamp, datetime, np.datetime64)):
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return "'" + ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"
    if isinstance(v, str):
        if "\x00" in v:
            raise InvalidInput("text values cannot contain NUL characters")
        return "'" + v.replace("'", "''") + "'"
    raise InvalidInput(f"cannot use a value of type {type(v).__name__} in a filter")


_PLACEHOLDER_SCAN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\?|%""",
                               re.DOTALL)


def translate_placeholders(query: str) -> tuple[str, int]:
    """Turn ``?`` placeholders into psycopg's ``%s``; return the query and their count.

    ``?`` inside quoted text, quoted names and comments is left alone. Every ``%`` becomes
    ``%%`` because psycopg reads ``%`` anywhere in a query that has parameters.
    """
    count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count
        tok = m.group(0)
        if tok == "?":
            count += 1
            return "%s"
        return tok.replace("%", "%%")

    return _PLACEHOLDER_SCAN.sub(sub, query), count


@dataclass(frozen=True)
class QuestDBConfig:
    """Where the server is and how to log in (every part defaults to QuestDB's default)."""

    host: str = "localhost"
    pg_port: int = DEFAULT_PG_PORT
    http_port: int = DEFAULT_HTTP_PORT
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    dbname: str = DEFAULT_DBNAME
    timeout: float = DEFAULT_TIMEOUT
    #: credentials were given in the URL: send them on HTTP too (servers with HTTP auth)
    explicit_auth: bool = False

    @classmethod
    def from_url(cls, url: str) -> QuestDBConfig:
        """Parse ``questdb://user:pass@host:8812/qdb?http_port=9000&timeout=30``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "questdb":
            raise InvalidInput(f"not a questdb:// URL: {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput(f"invalid port in {_redact(url)!r}") from None
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        known = {"http_port", "timeout"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise InvalidInput(f"unknown option(s) {', '.join(unknown)} in {_redact(url)!r}; "
                               f"known: {', '.join(sorted(known))}")

        def one(name: str, conv: Callable[[str], T], default: T) -> T:
            if name not in query:
                return default
            try:
                return conv(query[name][-1])
            except ValueError:
                raise InvalidInput(f"invalid {name}={query[name][-1]!r} in {_redact(url)!r}"
                                   ) from None

        http_port = one("http_port", int, DEFAULT_HTTP_PORT)
        timeout = one("timeout", float, DEFAULT_TIMEOUT)
        if not 0 < http_port < 65536:
            raise InvalidInput(f"invalid http_port {http_port} in {_redact(url)!r}")
        if not timeout > 0:
            raise InvalidInput(f"timeout must be positive, not {timeout}")
        dbname = parts.path.lstrip("/") or DEFAULT_DBNAME
        return cls(
            host=parts.hostname or "localhost",
            pg_port=port or DEFAULT_PG_PORT,
            http_port=http_port,
            user=urllib.parse.unquote(parts.username) if parts.username else DEFAULT_USER,
            password=(urllib.parse.unquote(parts.password) if parts.password is not None
                      else DEFAULT_PASSWORD),
            dbname=urllib.parse.unquote(dbname),
            timeout=timeout,
            explicit_auth=parts.username is not None,
        )

    @property
    def url(self) -> str:
        """The canonical URL, without the password (safe to print)."""
        user = urllib.parse.quote(self.user, safe="")
        auth = f"{user}@" if self.user != DEFAULT_USER or self.explicit_auth else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        opts = {"http_port": self.http_port}
        if self.timeout != DEFAULT_TIMEOUT:
            opts["timeout"] = self.timeout  # type: ignore[assignment]
        return (f"questdb://{auth}{host}:{self.pg_port}/{urllib.parse.quote(self.dbname)}?"
                + urllib.parse.urlencode(opts))

    @property
    def pg_address(self) -> str:
        return f"{self.host}:{self.pg_port}"

    @property
    def http_address(self) -> str:
        return f"{self.host}:{self.http_port}"


def _redact(url: str) -> str:
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


# -- error translation -----------------------------------------------------------------


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _pg_error(e: Exception, cfg: QuestDBConfig) -> StoreError:
    """One clear sentence for a psycopg error (QuestDB's sqlstate is always 00000)."""
    import psycopg

    text = str(e)
    where = f"QuestDB at {cfg.pg_address} (PG wire)"
    if isinstance(e, psycopg.OperationalError):
        low = text.lower()
        if "invalid username/password" in low or "password authentication" in low:
            return StoreUnavailable(f"{where} refused the login of user {cfg.user!r}: invalid "
                                    "username/password (check the URL's user:password@)")
        if "connection refused" in low or "could not connect" in low or \
                "name or service not known" in low or "nodename nor servname" in low or \
                "no route to host" in low or "network is unreachable" in low:
            reason = ("unknown host" if "name or service" in low or "nodename" in low
                      else "connection refused")
            return StoreUnavailable(f"cannot reach {where}: {reason}; is the server running? "
                                    "(start a local one with `make questdb`)")
        if "timeout" in low or "timed out" in low:
            return StoreUnavailable(f"timed out after {cfg.timeout:g}s connecting to {where}")
        if "closed the connection" in low or "consuming input failed" in low or \
                "connection is lost" in low or "the connection is closed" in low:
            return StoreUnavailable(f"lost the connection to {where}: the server closed it "
                                    "(restarted or stopped?)")
        return StoreUnavailable(f"{where}: {_first_line(e)}")
    m = re.search(r"table does not exist \[table=([^\]]*)\]", text) or \
        re.search(r"table does not exist: (\S+)", text)
    if m:
        return StoreError(f"table {m.group(1)!r} does not exist on {where}")
    return StoreError(f"QuestDB: {_first_line(e)}")


class _TableMissing(StoreError):
    pass


# -- the store -------------------------------------------------------------------------


class QuestDBStore(Store):
    """A store on a QuestDB server (9.3 or newer)."""

    backend = "questdb"
    transactional = False

    def __init__(self, config: QuestDBConfig | None = None, *, check_schema: bool = True):
        self.config = config or QuestDBConfig()
        self.url = self.config.url
        self._lock = threading.RLock()
        self._conn: Any = None
        self._sender: Any = None
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

    # -- connections -----------------------------------------------------------------

    def _connection(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._conn = None
        cfg = self.config
        try:
            # prepare_threshold=None: see the module docstring (a re-run prepared ALTER
            # hit another table on 9.3.4).
            self._conn = psycopg.connect(
                host=cfg.host, port=cfg.pg_port, user=cfg.user, password=cfg.password,
                dbname=cfg.dbname, connect_timeout=max(1, int(round(cfg.timeout))),
                autocommit=True, prepare_threshold=None)
        except psycopg.Error as e:
            raise _pg_error(e, cfg) from None
        return self._conn

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    yield cur
            except psycopg.Error as e:
                err = _pg_error(e, self.config)
                if conn.broken or conn.closed:
                    self._conn = None
                raise err from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> tuple[str, int]:
        """Run one statement (``%s`` parameters); return its status message and row count.

        The count of ``INSERT ... SELECT`` comes from QuestDB's own tag
        (``TAG_INSERT_AS_SELECT 0 N``), which psycopg does not parse. Counts of UPDATEs on
        WAL tables are not reliable (QuestDB applies them later).

        A statement refused with "table busy" (a plain table's writer is held by another
        connection's statement; nothing was done) is tried again until the timeout.
        """
        deadline = time.monotonic() + self.config.timeout
        delay = 0.005
        while True:
            try:
                with self._cursor() as cur:
                    cur.execute(sql, params)
                    status, n = cur.statusmessage or "", cur.rowcount
                    if n < 0:
                        m = re.search(r"\s(\d+)$", status)
                        n = int(m.group(1)) if m else -1
                    return status, n
            except StoreError as e:
                if "table busy" not in str(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one query (``%s`` parameters).

        A query is tried again once on a new connection when the old one was lost (the
        server restarted since the last call, say); statements that write are not.
        """
        for attempt in (1, 2):
            try:
                with self._cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall()
            except StoreUnavailable as e:
                if attempt == 2 or not str(e).startswith("lost the connection"):
                    raise
        raise AssertionError("unreachable")

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                with contextlib.suppress(Exception):
                    self._sender.close()
                self._sender = None
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    # -- HTTP ------------------------------------------------------------------------

    def _http_headers(self) -> dict[str, str]:
        if not self.config.explicit_auth:
            return {}
        token = f"{self.config.user}:{self.config.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(token).decode()}

    def _http_get(self, path: str, params: dict[str, str], sink: Any = None) -> bytes:
        """GET on the HTTP port; retried while the server says it is busy (HTTP 429).

        With ``sink`` (a binary file) the body is streamed into it and ``b""`` returned.
        """
        cfg = self.config
        url = f"http://{cfg.http_address}{path}?" + urllib.parse.urlencode(params)
        deadline = time.monotonic() + cfg.timeout
        delay = 0.02
        while True:
            req = urllib.request.Request(url, headers=self._http_headers())
            try:
                with urllib.request.urlopen(req, timeout=cfg.timeout) as resp:
                    if sink is None:
                        return resp.read()
                    while chunk := resp.read(1 << 20):
                        sink.write(chunk)
                    return b""
            except urllib.error.HTTPError as e:
                body = e.read().decode("utf-8", "replace")
                # Only 2 /exp requests may run at once (http.export.connection.limit).
                if e.code == 429 and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                if e.code in (401, 403):
                    raise StoreUnavailable(f"QuestDB at {cfg.http_address} (HTTP) refused the "
                                           f"credentials of user {cfg.user!r}") from None
                try:
                    message = json.loads(body).get("error") or body
                except ValueError:
                    message = body or e.reason
                m = re.search(r"table does not exist \[table=([^\]]*)\]", str(message))
                if m:
                    raise _TableMissing(f"table {m.group(1)!r} does not exist on QuestDB at "
                                        f"{cfg.http_address}") from None
                raise StoreError(f"QuestDB (HTTP {e.code}): {message}") from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, socket.timeout) or isinstance(e, TimeoutError) or \
                        "timed out" in str(reason):
                    raise StoreUnavailable(f"timed out after {cfg.timeout:g}s waiting for "
                                           f"QuestDB at {cfg.http_address} (HTTP)") from None
                if "refused" in str(reason).lower():
                    raise StoreUnavailable(f"cannot reach QuestDB at {cfg.http_address} (HTTP): "
                                           "connection refused; is the server running, and is "
                                           "http_port right?") from None
                raise StoreUnavailable(f"QuestDB at {cfg.http_address} (HTTP): {reason}"
                                       ) from None

    def _export_params(self, sql: str, row_group_size: int | None = None) -> dict[str, str]:
        params = {"query": sql, "fmt": "parquet", "compression_codec": "uncompressed"}
        if row_group_size:
            params["row_group_size"] = str(int(row_group_size))
        return params

    def select_arrow(self, sql: str) -> pa.Table:
        """Run a query through ``/exp`` as Parquet: the fastest way to bulk rows.

        ``/exp`` takes no parameters: build ``sql`` with :func:`literal` and validated ids.
        """
        body = self._http_get("/exp", self._export_params(sql))
        return pq.read_table(io.BytesIO(body))

    # -- ingestion client ----------------------------------------------------------

    def _ilp_sender(self) -> Any:
        from questdb import Sender

        if self._sender is None:
            cfg = self.config
            conf = (f"http::addr={cfg.http_address};auto_flush=off;"
                    f"request_timeout={int(cfg.timeout * 1000)};"
                    f"retry_timeout={int(min(cfg.timeout, 10) * 1000)};")
            if cfg.explicit_auth:
                conf += f"username={cfg.user};password={cfg.password};"
            try:
                sender = Sender.from_conf(conf)
                sender.establish()
            except Exception as e:
                raise self._ilp_error(e, None) from None
            self._sender = sender
        return self._sender

    def _ilp_error(self, e: Exception, table: str | None) -> StoreError:
        text = str(e)
        where = f"QuestDB at {self.config.http_address} (ILP over HTTP)"
        if "refused" in text.lower() or "could not detect server" in text.lower():
            return StoreUnavailable(f"cannot reach {where}: connection refused; is the server "
                                    "running, and is http_port right?")
        if "401" in text or "403" in text or "unauthorized" in text.lower():
            return StoreUnavailable(f"{where} refused the credentials of user "
                                    f"{self.config.user!r}")
        m = re.search(r'"message":"(.*?)","line"', text)
        detail = m.group(1).replace("\\n", " ") if m else _first_line(e)
        return StoreError(f"{where} refused rows for {table or 'a table'}: {detail}")

    # -- WAL -------------------------------------------------------------------------

    def wait_applied(self, tables: Iterable[str] | None = None, timeout: float | None = None
                     ) -> float:
        """Block until every commit to ``tables`` (all WAL tables if None) is readable.

        Raises :class:`StoreError` if a table is suspended (its writes would never become
        visible) or when ``timeout`` seconds pass. Returns the seconds waited.
        """
        wanted = None if tables is None else list(dict.fromkeys(tables))
        limit = self.config.timeout if timeout is None else timeout
        t0 = time.monotonic()
        delay = 0.002
        while True:
            if wanted is None:
                rows = self.fetchall("SELECT name, suspended, writerTxn, sequencerTxn, "
                                     "errorMessage FROM wal_tables()")
            else:
                marks = ", ".join(["%s"] * len(wanted))
                rows = self.fetchall("SELECT name, suspended, writerTxn, sequencerTxn, "
                                     f"errorMessage FROM wal_tables() WHERE name IN ({marks})",
                                     wanted)
                missing = set(wanted) - {r[0] for r in rows}
                if missing:
                    raise StoreError(f"table(s) {', '.join(sorted(missing))} do not exist on "
                                     f"QuestDB at {self.config.pg_address} (or are not WAL "
                                     "tables)")
            suspended = [r for r in rows if r[1]]
            if suspended:
                raise StoreError("; ".join(
                    f"table {r[0]} is suspended on QuestDB at {self.config.pg_address}: its "
                    f"writes cannot be applied ({r[4] or 'no reason given'}); fix the cause "
                    f"and run ALTER TABLE {r[0]} RESUME WAL" for r in suspended))
            lagging = [r for r in rows if r[2] < r[3]]
            if not lagging:
                return time.monotonic() - t0
            if time.monotonic() - t0 >= limit:
                raise StoreError(
                    f"timed out after {limit:g}s waiting for QuestDB at "
                    f"{self.config.pg_address} to apply writes to "
                    + ", ".join(f"{r[0]} (applied txn {r[2]} of {r[3]})" for r in lagging)
                    + "; the server may be overloaded (raise timeout= in the URL)")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def sequencer_txn(self, table: str) -> int:
        """The number of commits the server has accepted for ``table`` so far."""
        v = self.scalar("SELECT sequencerTxn FROM wal_tables() WHERE name = %s", [table])
        if v is None:
            raise StoreError(f"table {table!r} is not a WAL table on QuestDB")
        return int(v)

    # -- schema ----------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create missing tables (and internal ones); check that existing ones fit."""
        if self._schema_ready:
            return
        have = {r[0]: r for r in self.fetchall(
            "SELECT table_name, designatedTimestamp, walEnabled, dedup FROM tables()")}
        for t in schema.TABLES:
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

        Called after the writer registered (see :mod:`~tsanalysis.store.questdb_fence`): a
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
        """Stream rows in batches of at most ``batch_rows``.

        The result is spooled to a temporary Parquet file (row groups of ``batch_rows``)
        and read back one row group at a time, so memory stays bounded however large the
        session.
        """
        t = check_table(table)
        sql, cols = self._select_sql(t, session_id, symbols, start, end, columns, filters,
                                     None, None)
        target = arrow_schema(t, cols)
        if batch_rows <= 0:
            raise InvalidInput(f"batch_rows must be positive, not {batch_rows}")
        with tempfile.TemporaryFile(prefix="tsanalysis-", suffix=".parquet") as f:

            def spool() -> bool:
                f.seek(0)
                f.truncate()
                if self.tombstoned(session_id):
                    return False
                self._http_get("/exp", self._export_params(sql, batch_rows), sink=f)
                return True

            if not self.consistent(spool):
                return
            f.seek(0)
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=batch_rows):
                yield conform(pa.Table.from_batches([batch]), target).to_batches()[0] \
                    if batch.num_rows else batch

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
                        and not r[0].startswith(DEAD_PREFIX)]
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
        reclaim their disk where it can (see :mod:`tsanalysis.store.questdb_purge`).

        Returns rows removed per table and the reclaiming left for :meth:`purge` (days an
        active session may be writing, or a purge already running).
        """
        check_session_id(session_id)
        return Purger(self).delete(session_id, progress)

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
        anything. See :mod:`tsanalysis.store.questdb_purge`.
        """
        return Purger(self).purge(dry_run=dry_run, progress=progress)


#: Statements that commit to a table, and the table: INSERT INTO t, UPDATE t, ...
_WRITES = re.compile(r'\s*(INSERT\s+INTO|UPDATE|ALTER\s+TABLE|TRUNCATE\s+TABLE)\s+'
                     r'(?:"((?:[^"]|"")+)"|([A-Za-z_][\w.]*))', re.IGNORECASE)

# -- conversions -----------------------------------------------------------------------

#: pandas dtypes for the ILP client: nullable integers (a float column would be refused by
#: a LONG column) and pandas' string dtype.
_ILP_TYPES = {pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(na_value=np.nan)}

_OID_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
    701: pa.float64(), 25: pa.string(), 1043: pa.string(), 18: pa.string(),
    1114: pa.timestamp("us", tz="UTC"), 1184: pa.timestamp("us", tz="UTC"),
    1082: pa.date32(),
}


def _schema_from_description(desc: list[Any]) -> pa.Schema:
    fields = []
    for d in desc:
        ty = _OID_TYPES.get(d.type_code)
        fields.append(pa.field(d.name, ty if ty is not None else pa.null()))
    return pa.schema(fields)


def rows_to_arrow(rows: list[tuple[Any, ...]], target: pa.Schema) -> pa.Table:
    """Rows from psycopg into Arrow with the given types.

    QuestDB sends timestamps without zone; they are UTC. A ``null`` field type means
    "infer from the values".
    """
    arrays = []
    fields = []
    for i, field in enumerate(target):
        values = [r[i] for r in rows]
        if pa.types.is_timestamp(field.type):
            arr = pa.array(values, pa.timestamp("us")).cast(field.type)
        elif pa.types.is_null(field.type):
            arr = pa.array(values)
            field = pa.field(field.name, arr.type)
        else:
            arr = pa.array(values, field.type)
        arrays.append(arr)
        fields.append(pa.field(field.name, field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def conform(got: pa.Table, target: pa.Schema) -> pa.Table:
    """Cast a result to the contract's Arrow types (ts stays UTC microseconds)."""
    arrays = []
    for field in target:
        arr = got.column(field.name)
        if arr.type != field.type:
            if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(arr.type) and \
                    arr.type.tz is None:
                arr = arr.cast(pa.timestamp("us")).cast(field.type)
            else:
                arr = arr.cast(field.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=[f.name for f in target])


def _param(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        ts = v.tz_localize("UTC") if v.tzinfo is None else v
        return ts.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v
