"""QuestDB itself: URL, DDL, read-your-writes, errors, and the purge (tombstone, journal,
deferral, fault injection at every step).

The store contract, sessions, ingestion, CLI and round-trip suites run against QuestDB
too (``ws``/``store_url`` fixtures); this module covers what is specific to it. Tests that
need the server take ``questdb_url`` (skipped without ``TSANALYSIS_TEST_QUESTDB``; ``make
test`` starts a server and sets it, and TSANALYSIS_REQUIRE_QUESTDB makes its absence an
error).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid

import numpy as np
import pandas as pd
import psycopg
import pytest

import tsanalysis
from tsanalysis import InvalidInput, SessionNotFound, StoreError, StoreUnavailable, schema
from tsanalysis.store.questdb import (
    QuestDBConfig,
    literal,
    render_ddl,
    translate_placeholders,
)
from tsanalysis.store.questdb_purge import FAULT_ENV, FAULT_EXIT_CODE, Purger

from .conftest import BACKENDS, QUESTDB_URL, REQUIRE_QUESTDB
from .helpers import indicator_rows, ticks

# -- configuration (no server needed) ----------------------------------------------------


def test_ci_that_requires_questdb_really_tests_it():
    """`make test` sets TSANALYSIS_REQUIRE_QUESTDB: then QuestDB must be a backend."""
    if not REQUIRE_QUESTDB:
        pytest.skip("TSANALYSIS_REQUIRE_QUESTDB is not set (only `make test` / CI require it)")
    assert QUESTDB_URL, "TSANALYSIS_TEST_QUESTDB is not set"
    assert "questdb" in BACKENDS, f"QuestDB is not among the test backends: {BACKENDS}"
    with tsanalysis.connect(QUESTDB_URL) as ws:
        assert ws.backend == "questdb"
        assert int(ws.sql("SELECT 1 AS one")["one"].iloc[0]) == 1


def test_url_defaults_are_questdbs():
    c = QuestDBConfig.from_url("questdb://localhost")
    assert (c.host, c.pg_port, c.http_port, c.user, c.password, c.dbname) == (
        "localhost", 8812, 9000, "admin", "quest", "qdb")
    c = QuestDBConfig.from_url("questdb://bob:p%40ss%3Aw@db.example:18812/mydb"
                               "?http_port=19000&timeout=5")
    assert (c.host, c.pg_port, c.http_port, c.user, c.password, c.dbname, c.timeout) == (
        "db.example", 18812, 19000, "bob", "p@ss:w", "mydb", 5.0)
    assert "p@ss" not in c.url and "bob@db.example:18812" in c.url  # never print passwords


@pytest.mark.parametrize("url, message", [
    ("questdb://localhost?port=1", "unknown option"),
    ("questdb://localhost?http_port=abc", "invalid http_port"),
    ("questdb://localhost?http_port=70000", "invalid http_port"),
    ("questdb://localhost:99999", "invalid port"),
    ("questdb://localhost?timeout=0", "timeout must be positive"),
])
def test_bad_urls_are_clear_errors(url, message):
    with pytest.raises(InvalidInput, match=message):
        QuestDBConfig.from_url(url)


def test_placeholders_are_translated_outside_quotes_and_comments():
    sql, n = translate_placeholders(
        "SELECT '?', \"a?\" FROM t -- why?\nWHERE a = ? AND b LIKE 'x%' /* ? */ AND c = ?")
    assert n == 2
    assert sql == ("SELECT '?', \"a?\" FROM t -- why?\nWHERE a = %s AND b LIKE 'x%%' /* ? */ "
                   "AND c = %s")


def test_literals_for_http_queries_are_quoted():
    assert literal("it's") == "'it''s'"
    assert literal(3) == "3" and literal(None) == "NULL" and literal(float("nan")) == "NULL"
    assert literal(pd.Timestamp("2026-01-05T01:02:03.000004+01:00")) == \
        "'2026-01-05T00:02:03.000004Z'"
    with pytest.raises(InvalidInput):
        literal(object())


def test_ddl_is_rendered_from_the_schema():
    ddl = render_ddl(schema.TICK_PRICES)
    assert "TIMESTAMP(\"ts\") PARTITION BY DAY WAL" in ddl
    assert 'DEDUP UPSERT KEYS("ts", "session_id", "symbol", "seq")' in ddl
    assert '"session_id" SYMBOL' in ddl and '"trade_id" VARCHAR' in ddl
    bars = render_ddl(schema.AGGREGATED_OHLCV)
    assert '"interval" SYMBOL' in bars and 'KEYS("ts", "session_id", "symbol", "interval")' in bars


# -- helpers for server tests -------------------------------------------------------------


def plain_conn(url: str) -> psycopg.Connection:
    """An independent PG-wire connection: counts and checksums not through our code."""
    c = QuestDBConfig.from_url(url)
    return psycopg.connect(host=c.host, port=c.pg_port, user=c.user, password=c.password,
                           dbname=c.dbname, autocommit=True, prepare_threshold=None)


def plain_counts(conn: psycopg.Connection, sid: str) -> dict[str, int]:
    return {t.name: conn.execute(f"SELECT count(*) FROM {t.name} WHERE session_id = %s",
                                 (sid,)).fetchone()[0] for t in schema.TABLES}


def checksum(conn: psycopg.Connection, sid: str) -> dict[str, tuple[int, str]]:
    """Rows and a SHA-256 of every row of the session, per table (plain SQL)."""
    out = {}
    for t in schema.TABLES:
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        order = ", ".join(f'"{c}"' for c in t.column_names)
        rows = conn.execute(f'SELECT {cols} FROM "{t.name}" WHERE session_id = %s '
                            f"ORDER BY {order}", (sid,)).fetchall()
        out[t.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def unique_day() -> pd.Timestamp:
    """A day of its own in the past (2001-2020): no other test writes there."""
    rng = np.random.default_rng()
    return pd.Timestamp("2001-01-01T00:00:00Z") + pd.Timedelta(days=int(rng.integers(0, 7000)))


def fresh(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(url: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, **(env or {})}
    e.pop("TSANALYSIS_DB", None)
    return subprocess.run([sys.executable, "-m", "tsanalysis", "--db", url, *args],
                          capture_output=True, text=True, env=e, timeout=600)


@pytest.fixture
def qws(questdb_url):
    w = tsanalysis.connect(questdb_url)
    yield w
    w.close()


@pytest.fixture
def plain(questdb_url):
    c = plain_conn(questdb_url)
    yield c
    c.close()


# -- schema and writes --------------------------------------------------------------------


def test_tables_are_wal_dedup_day_partitioned_with_the_schema_keys(qws, plain):
    meta = {r[0]: r[1:] for r in plain.execute(
        "SELECT table_name, designatedTimestamp, partitionBy, walEnabled, dedup "
        "FROM tables()").fetchall()}
    for t in schema.TABLES:
        assert meta[t.name] == (t.ts, "DAY", True, True), t.name
        cols = {r[0]: (r[1], r[2]) for r in plain.execute(
            f"SELECT \"column\", type, upsertKey FROM table_columns('{t.name}')").fetchall()}
        assert set(cols) == set(t.column_names)
        assert {c for c, (_, key) in cols.items() if key} == set(t.key) | {t.ts}
        for c in t.columns:
            if c.type == schema.SYMBOL:
                assert cols[c.name][0] == "SYMBOL", (t.name, c.name)


def test_a_write_is_readable_when_it_returns(qws, plain, sid):
    qws.create_session(["BTC/USDT"], sid)
    for k in range(3):
        qws.ingest(sid, "BTC/USDT", ticks(5000, start=unique_day(), seed=k))
        # at once, on another connection, with plain SQL
        n = plain.execute("SELECT count(*) FROM tick_prices WHERE session_id = %s",
                          (sid,)).fetchone()[0]
        assert n == 5000 * (k + 1)


def test_nat_timestamps_and_missing_ids_are_refused_before_sending(qws, plain, sid):
    f = indicator_rows(sid, "BTC/USDT", 5)
    f.loc[2, "ts"] = pd.NaT  # the ILP client would store the server's current time
    with pytest.raises(InvalidInput, match="'ts' has 1 missing"):
        qws.store.write("indicators", f)
    g = indicator_rows(sid, "BTC/USDT", 5)
    g.loc[1, "symbol"] = None
    with pytest.raises(InvalidInput, match="'symbol' has 1 missing"):
        qws.store.write("indicators", g)
    assert plain.execute("SELECT count(*) FROM indicators WHERE session_id = %s",
                         (sid,)).fetchone()[0] == 0


def test_questdb_has_no_row_delete_and_the_store_knows(qws, plain):
    with pytest.raises(psycopg.DatabaseError, match=r"unexpected token \[FROM\]"):
        plain.execute("DELETE FROM tick_prices WHERE false")
    assert qws.store.supports_row_delete() is False


def test_reads_use_the_http_export_and_keep_types(qws, sid):
    qws.create_session(["BTC/USDT"], sid)
    day = unique_day()
    f = pd.DataFrame({"ts": [day, day, day + pd.Timedelta("1us")],
                      "price": [1.5, 2.5, 3.5], "volume": [np.nan, 1.0, 2.0],
                      "side": ["buy", None, "sell"], "trade_id": ["a'b", None, "c"]})
    qws.ingest(sid, "BTC/USDT", f)
    back = qws.ticks(sid)
    assert back["ts"].tolist() == [day, day, day + pd.Timedelta("1us")]
    assert back["trade_id"].isna().tolist() == [False, True, False]
    assert back["trade_id"].iloc[0] == "a'b" and back["side"].iloc[2] == "sell"
    assert back["volume"].isna().tolist() == [True, False, False]
    # a filter value with a quote is quoted, not injected
    assert len(qws.read("tick_prices", sid, filters={"trade_id": "a'b"})) == 1


# -- errors ---------------------------------------------------------------------------------


def test_server_down_names_host_and_port():
    port = free_port()
    with pytest.raises(StoreUnavailable, match=rf"127\.0\.0\.1:{port}.*connection refused"):
        tsanalysis.connect(f"questdb://127.0.0.1:{port}?http_port={free_port()}")
    p = cli(f"questdb://127.0.0.1:{port}", "sessions", "list")
    assert p.returncode == 1
    assert f"127.0.0.1:{port}" in p.stderr and "connection refused" in p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1


def test_wrong_password(questdb_url):
    c = QuestDBConfig.from_url(questdb_url)
    bad = f"questdb://admin:wrong@{c.host}:{c.pg_port}/qdb?http_port={c.http_port}"
    with pytest.raises(StoreUnavailable, match="invalid username/password"):
        tsanalysis.connect(bad)
    p = cli(bad, "sessions", "list")
    assert p.returncode == 1 and "invalid username/password" in p.stderr
    assert "wrong" not in p.stderr and "Traceback" not in p.stderr


def test_missing_table(qws):
    with pytest.raises(StoreError, match="table 'no_such_table' does not exist"):
        qws.sql("SELECT * FROM no_such_table")
    with pytest.raises(StoreError, match="'no_such_table' does not exist"):
        qws.store.select_arrow("SELECT * FROM no_such_table")


def test_timeouts_are_reported(questdb_url):
    """A server that accepts connections and never answers: timed out, not hung."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    port = hole.getsockname()[1]
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailable, match=rf"timed out after 2s .*127\.0\.0\.1:{port}"):
            tsanalysis.connect(f"questdb://127.0.0.1:{port}?timeout=2")
        assert time.monotonic() - t0 < 30
        # PG wire fine, HTTP port a black hole: reads time out with a clear message
        c = QuestDBConfig.from_url(questdb_url)
        ws = tsanalysis.connect(f"questdb://{c.host}:{c.pg_port}?http_port={port}&timeout=2")
        with pytest.raises(StoreUnavailable, match=rf"timed out after 2s.*127\.0\.0\.1:{port}"):
            ws.store.select_arrow("SELECT 1")
        ws.close()
    finally:
        hole.close()


def test_wrong_http_port_is_named_on_ingest(questdb_url, sid):
    c = QuestDBConfig.from_url(questdb_url)
    port = free_port()
    ws = tsanalysis.connect(f"questdb://{c.host}:{c.pg_port}?http_port={port}")
    try:
        ws.create_session(["BTC/USDT"], sid)
        with pytest.raises(StoreUnavailable, match=rf"127\.0\.0\.1:{port}.*refused"):
            ws.ingest(sid, "BTC/USDT", ticks(3))
    finally:
        ws.close()


def test_a_suspended_table_is_an_error_not_a_hang(qws):
    name = f"zz_suspend_{uuid.uuid4().hex[:8]}"
    st = qws.store
    st.execute(f"CREATE TABLE {name} (ts TIMESTAMP, v DOUBLE) TIMESTAMP(ts) PARTITION BY DAY WAL")
    try:
        try:
            st.execute(f"ALTER TABLE {name} SUSPEND WAL")
        except StoreError as e:
            if "dev mode" in str(e):
                pytest.skip("the server is not in dev mode (make test starts one that is)")
            raise
        st.execute(f"INSERT INTO {name} VALUES ('2026-01-01T00:00:00Z', 1.0)")
        with pytest.raises(StoreError, match=rf"{name} is suspended.*RESUME WAL"):
            st.wait_applied([name])
    finally:
        st.execute(f"DROP TABLE IF EXISTS {name}")


# -- delete and purge ---------------------------------------------------------------------


def _session(ws, sid, day, n=40, status="completed", orderbook=True, extra_day=False,
             start_time=None):
    ws.create_session(["BTC/USDT", "ETH/USDT"], sid, start_time=start_time)
    for k, sym in enumerate(("BTC/USDT", "ETH/USDT")):
        ws.ingest(sid, sym, ticks(n, start=day + pd.Timedelta(hours=1 + k), step_us=7_000_000,
                                  seed=k))
        if orderbook:
            ws.ingest(sid, sym, ticks(n, start=day + pd.Timedelta(hours=2)).assign(
                bid_price=lambda f: f["price"] - 0.5, bid_size=1.0,
                ask_price=lambda f: f["price"] + 0.5, ask_size=2.0)[
                ["ts", "bid_price", "bid_size", "ask_price", "ask_size"]], "orderbook")
    if extra_day:
        ws.ingest(sid, "BTC/USDT", ticks(n, start=day + pd.Timedelta(days=1, hours=3)))
    if status == "completed":
        ws.sessions.complete(sid)


def test_deleted_session_disappears_at_once_from_every_read(questdb_url, qws, plain):
    """Killed right after the tombstone: invisible everywhere, rows still there."""
    day = unique_day()
    sid, other = fresh(), fresh()
    _session(qws, sid, day, orderbook=False)
    _session(qws, other, day, orderbook=False)
    assert _run_killed(questdb_url, sid, "tombstone") == FAULT_EXIT_CODE
    assert plain_counts(plain, sid)["tick_prices"] == 80  # nothing removed yet...
    ws = tsanalysis.connect(questdb_url)  # ...but nobody sees the session any more
    with pytest.raises(SessionNotFound):
        ws.session(sid)
    assert sid not in {i.session_id for i in ws.list_sessions()}
    assert ws.store.count_rows(sid) == {t.name: 0 for t in schema.TABLES}
    assert ws.store.read("tick_prices", sid).empty
    assert sid not in set(ws.store.table_stats()["session_id"])
    with pytest.raises(InvalidInput, match="being deleted"):
        ws.create_session(["BTC/USDT"], sid)
    with pytest.raises(StoreError, match="being deleted"):  # a late writer
        ws.store.write("indicators", indicator_rows(sid, "BTC/USDT", 3))
    assert cli(questdb_url, "sessions", "show", sid).returncode == 3
    # the pending work is listed, and --resume does it
    dry = json.loads(cli(questdb_url, "sessions", "purge", "--json").stdout)
    assert any(sid in line for line in dry["pending"]) and dry["total"] == 0
    assert plain_counts(plain, sid)["tick_prices"] == 80  # a dry run changes nothing
    done = cli(questdb_url, "sessions", "purge", "--resume", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["purged"][sid]["tick_prices"] == 80
    assert report["purged"][sid]["data_collection_sessions"] == 1
    assert plain_counts(plain, sid) == {t.name: 0 for t in schema.TABLES}
    assert plain_counts(plain, other)["tick_prices"] == 80
    ws.close()


def test_days_an_active_session_may_write_are_deferred_then_purged(qws, plain):
    day = unique_day()
    x, rec = fresh("x"), fresh("rec")
    _session(qws, x, day, orderbook=False, extra_day=True)  # day: 80 ticks, day+1: 40
    # an active recorder that started on day+1 may still write day+1 (and later)
    _session(qws, rec, day + pd.Timedelta(days=1), status="active", orderbook=False,
             start_time=day + pd.Timedelta(days=1))
    rec_before = checksum(plain, rec)
    res = qws.delete_session(x)
    d1 = (day + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    assert res.deleted["tick_prices"] == 80  # the first day only
    assert any(f"tick_prices {d1}" in line and rec in line for line in res.deferred)
    # the session row shares its day with the recorder's row, which it still updates
    assert res.deleted["data_collection_sessions"] == 0
    assert any("data_collection_sessions" in line for line in res.deferred)
    assert plain_counts(plain, x)["tick_prices"] == 40
    with pytest.raises(SessionNotFound):
        qws.session(x)
    dry = qws.purge(dry_run=True)
    assert any(x in line and rec in line for line in dry.deferred)
    assert qws.purge().purged[x]["tick_prices"] == 0  # still blocked: nothing done
    assert plain_counts(plain, x)["tick_prices"] == 40
    qws.sessions.complete(rec)  # the recorder stops
    report = qws.purge()
    assert report.purged[x]["tick_prices"] == 40
    assert report.purged[x]["data_collection_sessions"] == 1
    assert not report.deferred
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}
    after = checksum(plain, rec)
    assert {t: v for t, v in after.items() if t != "data_collection_sessions"} == \
        {t: v for t, v in rec_before.items() if t != "data_collection_sessions"}


def test_rows_written_into_the_day_during_the_rewrite_are_kept(qws, plain, monkeypatch):
    """Another session writes into the day between the copy and the drop: the guard sees
    it, copies again, and the row survives."""
    day = unique_day()
    x, other = fresh("x"), fresh("o")
    _session(qws, x, day, orderbook=False)
    _session(qws, other, day, orderbook=False)
    late = pd.DataFrame({"ts": [day + pd.Timedelta(hours=5)], "price": [42.0]})
    writer = tsanalysis.connect(qws.url)
    fired = []
    original = Purger._journal

    def journal(self, session_id, table, d, step, rows, note="", purge_id=None):
        original(self, session_id, table, d, step, rows, note, purge_id)
        if step == "staged" and table == "tick_prices" and not fired:
            fired.append(True)
            writer.store.write("tick_prices", late.assign(
                session_id=other, symbol="LATE/ROW", seq=0, volume=None))

    monkeypatch.setattr(Purger, "_journal", journal)
    res = qws.delete_session(x)
    writer.close()
    assert fired and res.deleted["tick_prices"] == 80
    assert plain.execute("SELECT count(*) FROM tick_prices WHERE session_id = %s AND "
                         "symbol = 'LATE/ROW'", (other,)).fetchone()[0] == 1
    assert plain_counts(plain, other)["tick_prices"] == 81
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}


def test_one_purge_at_a_time(qws):
    first = Purger(qws.store)
    second = Purger(qws.store, lock_timeout=0.5)
    with first.lock():
        with pytest.raises(StoreError, match="another purge is running"):
            with second.lock():
                pass
    with second.lock():  # released
        pass


def test_reads_during_an_interrupted_swap_fail_loudly_until_resumed(questdb_url, qws, plain):
    """Killed between the drop of a day partition and the re-insert of the others' rows:
    reading that day would silently miss rows, so reads say what to do instead."""
    day = unique_day()
    x, other = fresh("x"), fresh("o")
    _session(qws, x, day, orderbook=False)
    _session(qws, other, day, orderbook=False)
    kept = checksum(plain, other)
    p = cli(questdb_url, "sessions", "delete", x, "--yes",
            env={FAULT_ENV: "tick_prices " + day.strftime("%Y-%m-%d") + " dropped partition"})
    assert p.returncode == FAULT_EXIT_CODE, p.stderr
    with tsanalysis.connect(questdb_url) as ws:
        with pytest.raises(StoreError, match="purge --resume"):
            ws.ticks(other)
        shown = cli(questdb_url, "sessions", "show", other)
        assert shown.returncode == 1 and "purge --resume" in shown.stderr
        assert "Traceback" not in shown.stderr
        assert ws.purge(dry_run=True).pending  # the interrupted swap is listed
        ws.purge()
        assert checksum(plain, other) == kept
        assert len(ws.ticks(other)) == 80
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}


def _delete_in_child(url: str, sid: str, fail_at: int | str, resume: bool) -> None:
    """Runs in a forked process: delete (or resume) with fault injection at ``fail_at``."""
    try:
        os.environ[FAULT_ENV] = str(fail_at)
        with tsanalysis.connect(url) as ws:
            if resume:
                ws.purge()
            else:
                ws.delete_session(sid)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _run_killed(url: str, sid: str, fail_at: int | str, resume: bool = False) -> int:
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_delete_in_child, args=(url, sid, fail_at, resume))
    proc.start()
    proc.join(300)
    assert proc.exitcode is not None, "the purge hung"
    return proc.exitcode


def _quick_session(ws, sid, day, n, days=(0,)):
    """A completed session with ``n`` ticks per day on ``day + days`` (few round trips)."""
    ws.create_session(["BTC/USDT"], sid, status="completed")
    frames = []
    for k, d in enumerate(days):
        f = ticks(n, start=day + pd.Timedelta(days=d, hours=1), step_us=60_000_000, seed=k)
        frames.append(f.assign(session_id=sid, symbol="BTC/USDT",
                               seq=np.arange(k * n, (k + 1) * n, dtype="int64")))
    ws.store.write("tick_prices", pd.concat(frames, ignore_index=True))


def _snapshot(conn, sessions):
    return {s: checksum(conn, s) for s in sessions}


def test_purge_killed_at_every_step_then_resumed(questdb_url, qws, plain):
    """Kill the deleting process at step 1, 2, ... until it gets through; after each kill
    resume, then: zero rows of the deleted session in every table, and every other
    session's rows (counts and checksums) unchanged."""
    day = unique_day()
    a, b = fresh("a"), fresh("b")
    _quick_session(qws, a, day, 30)
    _quick_session(qws, b, day, 20, days=(0, 1))
    others = _snapshot(plain, [a, b])
    step = 1
    while True:
        x = fresh("x")
        # rows on two days (one shared with a and b, one with b only), and the session row
        # (whose day every test session shares): three partitions in two tables
        _quick_session(qws, x, day, 25, days=(0, 1))
        code = _run_killed(questdb_url, x, step)
        if code == 0:
            break
        assert code == FAULT_EXIT_CODE, f"step {step}: exit code {code}"
        with tsanalysis.connect(questdb_url) as ws:
            with pytest.raises(SessionNotFound):
                ws.session(x)
            ws.purge()
        assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}, f"step {step}"
        assert _snapshot(plain, [a, b]) == others, f"step {step}"
        step += 1
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}
    assert _snapshot(plain, [a, b]) == others
    # the tombstone, then per partition 5 journal steps, the drop and the re-insert (which
    # a partition holding only the session's rows has not: the session row alone in its day)
    assert 1 + 3 * 6 <= step - 1 <= 1 + 3 * 7, f"{step - 1} steps: not the expected points"


def test_resume_killed_at_every_step_then_resumed_again(questdb_url, qws, plain):
    """The purge is killed mid-swap, and then the resume itself is killed at each step."""
    day = unique_day()
    a = fresh("a")
    _quick_session(qws, a, day, 30)
    others = _snapshot(plain, [a])
    step = 1
    while True:
        x = fresh("x")
        _quick_session(qws, x, day, 25)
        dropped = "tick_prices " + day.strftime("%Y-%m-%d") + " dropped partition"
        assert _run_killed(questdb_url, x, dropped) == FAULT_EXIT_CODE
        code = _run_killed(questdb_url, x, step, resume=True)
        if code == 0:
            break
        assert code == FAULT_EXIT_CODE, f"resume step {step}: exit code {code}"
        with tsanalysis.connect(questdb_url) as ws:
            ws.purge()
        assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}, f"step {step}"
        assert _snapshot(plain, [a]) == others, f"step {step}"
        step += 1
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}
    assert _snapshot(plain, [a]) == others
    assert step > 5


def test_delete_of_a_big_session_keeps_neighbours_and_reports_counts(qws, plain):
    """Several days, several tables, two neighbours on the same days."""
    day = unique_day()
    x, a, b = fresh("x"), fresh("a"), fresh("b")
    for s, n in ((x, 3000), (a, 1000), (b, 500)):
        qws.create_session(["BTC/USDT"], s)
        qws.ingest(s, "BTC/USDT", ticks(n, start=day, step_us=200_000_000))  # ~7 days
        qws.build_bars(s, "1h")
        qws.store.write("indicators", indicator_rows(s, "BTC/USDT", 200))
        qws.sessions.complete(s)
    before = plain_counts(plain, x)
    others = _snapshot(plain, [a, b])
    days = plain.execute("SELECT count(DISTINCT timestamp_floor('d', ts)) FROM tick_prices "
                         "WHERE session_id = %s", (x,)).fetchone()[0]
    assert days >= 6
    res = qws.delete_session(x)
    assert res.deleted == before and not res.deferred
    assert plain_counts(plain, x) == {t.name: 0 for t in schema.TABLES}
    assert _snapshot(plain, [a, b]) == others


def test_concurrent_reader_never_sees_a_partial_day(qws, plain):
    """While a day partition is swapped, another session's rows of that day are briefly
    missing on the server; reads through the store wait for the swap instead."""
    day = unique_day()
    x, other = fresh("x"), fresh("o")
    _session(qws, x, day, n=300, orderbook=False)
    _session(qws, other, day, n=300, orderbook=False)
    reader = tsanalysis.connect(qws.url)
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(len(reader.store.read("tick_prices", other)))

    th = threading.Thread(target=read)
    th.start()
    try:
        qws.delete_session(x)
    finally:
        stop.set()
        th.join()
        reader.close()
    assert seen and set(seen) == {600}


def test_purge_command_on_every_backend(store_url, backend):
    p = cli(store_url, "sessions", "purge", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert set(report) == {"resume", "purged", "total", "deferred", "pending"}
    assert report["resume"] is False and report["total"] == 0
    if backend == "duckdb":  # deletes are one transaction: never anything left over
        assert report["pending"] == [] and report["deferred"] == []
        human = cli(store_url, "sessions", "purge", "--resume")
        assert human.returncode == 0 and "nothing to purge" in human.stdout
