"""QuestDB itself: URL, DDL, read-your-writes and errors (deletes: test_questdb_delete.py).

The store contract, sessions, ingestion, CLI and round-trip suites run against QuestDB
too (``ws``/``store_url`` fixtures); this module covers what is specific to it. Tests that
need the server take ``questdb_url`` (skipped without ``TSANALYSIS_TEST_QUESTDB``; ``make
test`` starts a server and sets it, and TSANALYSIS_REQUIRE_QUESTDB makes its absence an
error).
"""

from __future__ import annotations

import socket
import time
import uuid

import numpy as np
import pandas as pd
import psycopg
import pytest

import tsanalysis
from tsanalysis import InvalidInput, StoreError, StoreUnavailable, schema
from tsanalysis.store.questdb import (
    QuestDBConfig,
    literal,
    render_ddl,
    translate_placeholders,
)

from .conftest import BACKENDS, QUESTDB_URL, REQUIRE_QUESTDB
from .helpers import indicator_rows, ticks
from .questdb_support import cli, free_port, unique_day

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
    qws.sessions.create(["BTC/USDT"], sid)
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
    qws.sessions.create(["BTC/USDT"], sid)
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


def test_a_streamed_read_fetches_pieces_without_constant_columns_and_fails_on_a_delete(
        qws, sid, monkeypatch):
    """A streamed read asks the server for the columns that vary (not the session, nor the
    symbol), one piece at a time; if the session is deleted meanwhile, the read fails
    rather than end early."""
    qws.sessions.create(["BTC/USDT"], sid, status="completed")
    day = unique_day()
    qws.ingest(sid, "BTC/USDT", ticks(1000, start=day, step_us=1_000_000))
    asked: list[str] = []
    http_get = qws.store._http_get

    def spy(path, params, sink=None):
        asked.append(params["query"])
        return http_get(path, params, sink)

    monkeypatch.setattr(qws.store, "_http_get", spy)
    stream = qws.store.iter_arrow("tick_prices", sid, batch_rows=64)
    first = next(stream)
    assert first.column("session_id").to_pylist() == [sid] * 64
    assert first.column("symbol").to_pylist() == ["BTC/USDT"] * 64
    assert asked and all(q.startswith('SELECT "seq", "ts", "price"') for q in asked)
    qws.sessions.delete(sid)
    with pytest.raises(StoreError, match="deleted while it was read"):
        for _ in stream:
            pass
    assert len([q for q in asked if q.startswith('SELECT "seq"')]) < 1000 // 128


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
        ws.sessions.create(["BTC/USDT"], sid)
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


