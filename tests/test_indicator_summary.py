"""DuckDB's indicator summary (rows, first and last ts per session, symbol and indicator id):
after every path that writes or deletes indicator rows it is what a scan of the rows says,
a rolled-back transaction leaves it as it was, and a file from before it gets one built.

Real DuckDB files, no mocks: the summary table is compared with a GROUP BY over the rows.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd
import pytest

import tsanalysis
from tsanalysis.ids import grace_label
from tsanalysis.store.duckdb import (
    _GROUP_SCAN,
    SUMMARY_TABLE,
    DuckDBStore,
    _scan_indicator_stats,
)

from .helpers import T0, ticks

A, B = "BTC/USDT", "ETH/USDT"
S1, S2 = "sum-1", "sum-2"


def rows(session_id: str, symbol: str, iid: str, lo: int, hi: int, value: float = 1.0
         ) -> pd.DataFrame:
    """Indicator rows at seconds lo .. hi - 1 after T0 (seq = the second)."""
    k = np.arange(lo, hi)
    return pd.DataFrame({
        "session_id": session_id, "symbol": symbol, "indicator_id": iid,
        "seq": k.astype("int64"),
        "ts": pd.DatetimeIndex(T0 + pd.to_timedelta(k, unit="s")).as_unit("us"),
        "value": value + k.astype(float), "confidence": None,
    })


def at(second: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=second)


def summary_table(store: DuckDBStore) -> list[tuple]:
    with store.connection() as con:
        return con.execute(f"SELECT * FROM {SUMMARY_TABLE} ORDER BY 1, 2, 3").fetchall()


def scanned(store: DuckDBStore) -> list[tuple]:
    with store.connection() as con:
        return con.execute(_GROUP_SCAN.format(source="indicators", where="TRUE")
                           + " ORDER BY 1, 2, 3").fetchall()


def assert_consistent(store: DuckDBStore) -> None:
    """The summary of every session (grace labels too: in the table) is what the rows say."""
    assert summary_table(store) == scanned(store)
    for sid in {r[0] for r in scanned(store) if not r[0].startswith("+")} | {S1, S2}:
        pd.testing.assert_frame_equal(store.indicator_stats(sid), _scan_indicator_stats(store, sid))
        for syms in ([A], [B], [A, B], []):
            want = _scan_indicator_stats(store, sid)
            want = want[want["symbol"].isin(syms)].reset_index(drop=True)
            pd.testing.assert_frame_equal(store.indicator_stats(sid, syms), want)


@pytest.fixture(params=["file", "memory"])
def ws(request, tmp_path):
    url = f"duckdb:///{tmp_path}/s.duckdb" if request.param == "file" else "duckdb:///:memory:"
    w = tsanalysis.connect(url)
    for sid in (S1, S2):
        w.sessions.create([A, B], sid, cadence_s=1.0)
    st = w.store
    # two sessions, two symbols, two ids each: 0..99 s (B from 50 s)
    for sid in (S1, S2):
        for iid in ("rsi_14", "ema_30"):
            st.write("indicators", rows(sid, A, iid, 0, 100))
            st.write("indicators", rows(sid, B, iid, 50, 100))
    assert_consistent(st)
    yield w
    w.close()


def _batches(*frames: pd.DataFrame):
    return iter(frames)


#: name -> what it does to the store (each a path that writes or deletes indicator rows)
PATHS: dict[str, Callable[[DuckDBStore], object]] = {
    "append_new_series": lambda st: st.write("indicators", rows(S1, A, "macd_x", 10, 20)),
    "append_after": lambda st: st.write("indicators", rows(S1, A, "rsi_14", 100, 130)),
    "append_before": lambda st: st.write("indicators", pd.concat(
        [rows(S1, B, "rsi_14", 0, 10), rows(S1, B, "ema_30", 120, 125)])),
    "upsert_overlap": lambda st: st.write("indicators", pd.concat(
        [rows(S1, A, "rsi_14", 90, 110, 5.0), rows(S1, B, "ema_30", 40, 60, 5.0),
         rows(S2, A, "new_1", 0, 3)]), mode="upsert"),
    "upsert_same_keys": lambda st: st.write("indicators", rows(S1, A, "rsi_14", 20, 30, 9.0),
                                            mode="upsert"),
    "upsert_whole_series": lambda st: st.write("indicators", rows(S1, B, "rsi_14", 50, 100, 9.0),
                                               mode="upsert"),
    "upsert_duplicate_keys": lambda st: st.write("indicators", pd.concat(
        [rows(S1, A, "rsi_14", 95, 105), rows(S1, A, "rsi_14", 95, 105)]), mode="upsert"),
    "write_batches_append": lambda st: st.write_batches("indicators", _batches(
        rows(S1, A, "rsi_14", 100, 150), rows(S1, A, "ema_30", 100, 150),
        rows(S2, B, "rsi_14", 0, 5))),
    "write_batches_upsert": lambda st: st.write_batches("indicators", _batches(
        rows(S1, A, "rsi_14", 80, 150, 3.0), rows(S1, B, "ema_30", 0, 60, 3.0)), mode="upsert"),
    "insert_query_numbered": lambda st: st.insert_query(
        "indicators", S1, A, "SELECT 'q_1' AS indicator_id, ts, v AS value, NULL::DOUBLE AS "
        "confidence, _row FROM (SELECT ?::TIMESTAMPTZ + to_seconds(i) AS ts, i * 1.0 AS v, "
        "i AS _row FROM range(7) t(i))", [at(500).to_pydatetime()]),
    "insert_query_unnumbered": lambda st: st.insert_query(
        "indicators", S1, B, "SELECT 'rsi_14' AS indicator_id, 1000 + i AS seq, "
        "?::TIMESTAMPTZ + to_seconds(i) AS ts, 1.0 AS value, NULL::DOUBLE AS confidence "
        "FROM range(3) t(i)", [at(-5).to_pydatetime()], numbered=False),
    "delete_symbol": lambda st: st.delete_rows("indicators", S1, symbols=[A]),
    "delete_middle": lambda st: st.delete_rows("indicators", S1, start=at(60), end=at(70)),
    "delete_head": lambda st: st.delete_rows("indicators", S1, end=at(55)),
    "delete_tail": lambda st: st.delete_rows("indicators", S1, symbols=[B], start=at(90)),
    "delete_one_id": lambda st: st.delete_rows("indicators", S1, filters={"indicator_id":
                                                                         "ema_30"}),
    "delete_ids_range": lambda st: st.delete_rows(
        "indicators", S1, symbols=[A, B], start=at(0), end=at(60),
        filters={"indicator_id": ["rsi_14", "ema_30"]}),
    "delete_session_rows": lambda st: st.delete_rows("indicators", S1),
    "delete_by_other_column": lambda st: st.delete_rows("indicators", S1, symbols=[A],
                                                        filters={"seq": [0, 1, 50, 99]}),
    "delete_unknown_id": lambda st: st.delete_rows("indicators", S1,
                                                   filters={"indicator_id": ["nope", "rsi_14"]}),
    "delete_nothing": lambda st: st.delete_rows("indicators", S1, start=at(5000)),
    "delete_other_table": lambda st: st.delete_rows("tick_prices", S1),
    "move_to_grace": lambda st: st.move_rows("indicators", S1, grace_label("a1" * 8),
                                             start=at(40), end=at(70)),
    "move_and_restore": lambda st: (
        st.move_rows("indicators", S1, grace_label("a2" * 8), symbols=[A], end=at(30)),
        st.move_rows("indicators", grace_label("a2" * 8), S1)),
    "move_whole_ids": lambda st: st.move_rows("indicators", S1, grace_label("a4" * 8),
                                              filters={"indicator_id": ["ema_30"]}),
    "move_to_other_session": lambda st: st.move_rows("indicators", S1, S2, symbols=[B],
                                                     start=at(95)),
    "move_all_and_expire": lambda st: (
        st.move_rows("indicators", S1, grace_label("a3" * 8), filters={"indicator_id": "rsi_14"}),
        st.expire_rows("indicators", grace_label("a3" * 8))),
    "delete_session": lambda st: st.delete_session(S1),
    "plain_sql_delete": lambda st: st.sql("DELETE FROM indicators WHERE session_id = ? AND "
                                          "ts >= ?", [S1, at(97).to_pydatetime()]),
    "plain_sql_update": lambda st: st.sql("UPDATE indicators SET ts = ts + INTERVAL 1 HOUR "
                                          "WHERE session_id = ? AND symbol = ?", [S2, B]),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_summary_equals_scan_after_each_write_path(ws, path):
    PATHS[path](ws.store)
    assert_consistent(ws.store)


@pytest.mark.parametrize("path", list(PATHS))
def test_a_rolled_back_write_leaves_the_summary_as_it_was(ws, path):
    st = ws.store
    before = summary_table(st)
    with pytest.raises(RuntimeError, match="stop"), st.atomic():
        PATHS[path](st)
        raise RuntimeError("stop")
    assert summary_table(st) == before
    assert_consistent(st)


def test_a_write_refused_midway_leaves_the_summary_as_it_was(ws):
    st = ws.store
    before = summary_table(st)
    # the second session does not exist: the whole write is refused, in its transaction
    bad = pd.concat([rows(S1, A, "rsi_14", 100, 110), rows("gone", A, "rsi_14", 0, 5)])
    with pytest.raises(Exception, match="does not exist"):
        st.write("indicators", bad)
    with pytest.raises(Exception, match="does not exist"):
        st.write_batches("indicators", _batches(rows(S1, A, "rsi_14", 100, 110), bad),
                         mode="upsert")
    assert summary_table(st) == before
    assert_consistent(st)


def test_indicator_compute_update_and_late_trades_keep_the_summary(tmp_path):
    ws = tsanalysis.connect(f"duckdb:///{tmp_path}/c.duckdb")
    try:
        ws.sessions.create([A], S1, cadence_s=1.0)
        ws.ingest(S1, A, ticks(600, seed=1))
        ws.indicators.compute(S1, A, "rsi")
        ws.indicators.compute(S1, A, "macd")
        assert_consistent(ws.store)
        ws.indicators.compute(S1, A, "rsi")  # replaces the series
        assert_consistent(ws.store)
        last = ws.store.read_tail_arrow("tick_prices", S1, symbol=A, n=1).to_pandas()
        ws.ingest(S1, A, ticks(100, start=last["ts"].iloc[0] + pd.Timedelta(seconds=1), seed=2))
        res = ws.indicators.update(S1)
        assert {u.mode for u in res.updated} == {"tail"}
        assert_consistent(ws.store)
        # a late trade in the middle: the update must notice it (from the exact tick count)
        ws.ingest(S1, A, ticks(1, start=T0 + pd.Timedelta(milliseconds=300_500), seed=3))
        res = ws.indicators.update(S1)
        assert {u.mode for u in res.updated} == {"full"}
        assert_consistent(ws.store)
        ws.delete(S1, tables="indicators", symbols=[A], start=T0 + pd.Timedelta(seconds=650),
                  force=True, grace="1h")
        assert_consistent(ws.store)
    finally:
        ws.close()


def test_an_old_file_without_the_summary_gets_it_built_on_opening(tmp_path):
    path = tmp_path / "old.duckdb"
    ws = tsanalysis.connect(f"duckdb:///{path}")
    for sid in (S1, S2):
        ws.sessions.create([A, B], sid, cadence_s=1.0)
        ws.store.write("indicators", rows(sid, A, "rsi_14", 0, 100))
        ws.store.write("indicators", rows(sid, B, "ema_30", 7, 30))
    want = summary_table(ws.store)
    ws.close()
    con = duckdb.connect(str(path))  # what a file written before the summary looks like
    con.execute(f"DROP TABLE {SUMMARY_TABLE}")
    con.close()

    st = DuckDBStore(path)
    try:
        assert summary_table(st) == want == scanned(st)
        assert_consistent(st)
        st.write("indicators", rows(S1, A, "rsi_14", 100, 110))
        assert_consistent(st)
    finally:
        st.close()


def test_an_old_file_without_indicators_upgrades_to_an_empty_summary(tmp_path):
    path = tmp_path / "old.duckdb"
    DuckDBStore(path).close()
    con = duckdb.connect(str(path))
    con.execute(f"DROP TABLE {SUMMARY_TABLE}")
    con.close()
    st = DuckDBStore(path)
    try:
        assert summary_table(st) == []
        assert st.indicator_stats("nothing").empty
    finally:
        st.close()


def test_count_before_a_time_is_exact_on_unordered_ticks_and_filters(duckdb_ws):
    """DuckDB counts the rows before ``end`` as all rows less those from ``end`` on."""
    ws, st = duckdb_ws, duckdb_ws.store
    ws.sessions.create([A, B], S1, cadence_s=1.0)
    ws.sessions.create([A], S2, cadence_s=1.0)
    t = ticks(500, seed=4)
    ws.ingest(S1, A, t.iloc[250:])
    ws.ingest(S1, A, t.iloc[:250].sample(frac=1.0, random_state=1))  # late, shuffled
    ws.ingest(S1, A, t.iloc[100:110])  # same timestamps again
    ws.ingest(S1, B, ticks(50, seed=5))
    ws.ingest(S2, A, t)
    st.write("indicators", pd.concat([rows(S1, A, "rsi_14", 0, 40), rows(S1, A, "ema_30", 5, 9)]))
    ts = st.read_arrow("tick_prices", S1).to_pandas()
    for end in (T0 - pd.Timedelta(seconds=1), T0, at(105), at(105) + pd.Timedelta(1, "us"),
                at(249), at(499), at(10_000)):
        for syms in ([A], [B], [A, B], None, []):
            want = int(((ts["ts"] < end) & (ts["symbol"].isin(syms or []) if syms is not None
                                            else True)).sum())
            assert st.count("tick_prices", S1, symbols=syms, end=end) == want, (end, syms)
        for iid in ("rsi_14", ["rsi_14", "ema_30"], "nope"):
            got = st.count("indicators", S1, symbols=[A], end=end,
                           filters={"indicator_id": iid})
            assert got == len(st.read_arrow("indicators", S1, symbols=[A], end=end,
                                            filters={"indicator_id": iid}))


@pytest.mark.parametrize("columns", [None, ["value"], ["ts", "value"], ["seq", "symbol"]])
@pytest.mark.parametrize("symbols", [None, [A], [A, B]])
@pytest.mark.parametrize("ids", [None, "rsi_14", ["rsi_14", "ema_30"]])
def test_a_read_from_a_time_on_is_the_read_of_everything_cut(ws, columns, symbols, ids):
    """DuckDB selects the rows of a read from a time on before sorting them (see
    DuckDBStore._filtered_then_sorted): same rows, same order as the whole read cut."""
    st = ws.store
    st.write("indicators", rows(S1, A, "rsi_14", 0, 40, 7.0), mode="upsert")  # rows rewritten
    filters = None if ids is None else {"indicator_id": ids}
    for start in (at(-1), at(0), at(60), at(99), at(100)):
        got = st.read_arrow("indicators", S1, symbols=symbols, start=start, columns=columns,
                            filters=filters).to_pandas()
        every = st.read_arrow("indicators", S1, symbols=symbols, filters=filters).to_pandas()
        want = every[every["ts"] >= start][columns or every.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
