"""Talking to a QuestDB server: SQL over PG wire (psycopg), reads over HTTP ``/exp``, rows
over ILP (the ``questdb`` client), waiting for WAL commits to be applied, and errors as
one clear sentence."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import StoreError, StoreUnavailable
from .config import QuestDBConfig

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


class Transport:
    """A connection to one server (PG wire, HTTP and ILP), shared by the store's methods.

    Statements run one at a time per instance (a lock), each psycopg connection with
    ``autocommit=True, prepare_threshold=None`` (see the store's module docstring).
    """

    def __init__(self, config: QuestDBConfig | None = None):
        self.config = config or QuestDBConfig()
        self._lock = threading.RLock()
        self._conn: Any = None
        self._sender: Any = None

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
