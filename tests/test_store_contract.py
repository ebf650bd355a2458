"""The store contract, written once and run against every backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tsanalysis import InvalidInput, schema
from tsanalysis.store.base import to_table_arrow

from .helpers import T0, indicator_rows, ticks


def typed_ticks(session_id: str, symbol: str, n: int = 10, seq0: int = 0, **kw) -> pd.DataFrame:
    f = ticks(n, **kw)
    f.insert(0, "session_id", session_id)
    f.insert(1, "symbol", symbol)
    f["seq"] = np.arange(seq0, seq0 + n, dtype="int64")
    return f


@pytest.fixture
def store(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    return ws.store


def test_every_table_exists_and_is_empty_for_a_new_session(store, sid):
    counts = store.count_rows(sid)
    assert list(counts) == [t.name for t in schema.TABLES]  # children first, sessions last
    assert counts["data_collection_sessions"] == 1
    assert sum(counts.values()) == 1


def test_write_then_read_gives_back_the_same_rows(store, sid):
    frame = typed_ticks(sid, "BTC/USDT", 50)
    assert store.write("tick_prices", frame) == 50
    back = store.read("tick_prices", sid)
    assert list(back.columns) == schema.TICK_PRICES.column_names
    assert str(back["ts"].dtype) == "datetime64[us, UTC]"
    pd.testing.assert_frame_equal(
        back[frame.columns.tolist()].reset_index(drop=True), frame, check_dtype=False)


def test_rows_sharing_a_timestamp_keep_their_order(store, sid):
    same = pd.Timestamp("2026-01-05T10:00:00.123456Z")
    f = typed_ticks(sid, "BTC/USDT", 5)
    f["ts"] = same
    f["price"] = [5.0, 1.0, 4.0, 1.0, 1.0]  # the last two rows repeat wholly but for seq
    f["volume"] = [1.0, 1.0, 1.0, 2.0, 2.0]
    store.write("tick_prices", f)
    back = store.read("tick_prices", sid)
    assert back["price"].tolist() == [5.0, 1.0, 4.0, 1.0, 1.0]
    assert back["seq"].tolist() == [0, 1, 2, 3, 4]
    assert (back["ts"] == same).all()


def test_reads_are_ordered_by_symbol_then_time(store, sid):
    store.write("tick_prices", typed_ticks(sid, "ETH/USDT", 5))
    late = typed_ticks(sid, "BTC/USDT", 5, seq0=5, start=T0 + pd.Timedelta("1h"))
    early = typed_ticks(sid, "BTC/USDT", 5, seq0=0)
    store.write("tick_prices", late)
    store.write("tick_prices", early)
    back = store.read("tick_prices", sid)
    assert back["symbol"].tolist() == ["BTC/USDT"] * 10 + ["ETH/USDT"] * 5
    btc = back[back["symbol"] == "BTC/USDT"]
    assert btc["ts"].is_monotonic_increasing
    assert btc["seq"].tolist() == list(range(10))


def test_filters_are_pushed_down(store, sid):
    store.write("tick_prices", typed_ticks(sid, "BTC/USDT", 100))
    store.write("tick_prices", typed_ticks(sid, "ETH/USDT", 100))
    only = store.read("tick_prices", sid, symbols=["ETH/USDT"])
    assert set(only["symbol"]) == {"ETH/USDT"} and len(only) == 100
    window = store.read("tick_prices", sid, symbols=["BTC/USDT"],
                        start=T0 + pd.Timedelta(seconds=10), end=T0 + pd.Timedelta(seconds=20))
    assert len(window) == 10  # start inclusive, end exclusive
    assert window["ts"].min() == T0 + pd.Timedelta(seconds=10)
    cols = store.read("tick_prices", sid, columns=["ts", "price"])
    assert list(cols.columns) == ["ts", "price"]
    page = store.read("tick_prices", sid, symbols=["BTC/USDT"], limit=7, offset=3)
    assert page["seq"].tolist() == [3, 4, 5, 6, 7, 8, 9]
    naive_start = store.read("tick_prices", sid, symbols=["BTC/USDT"],
                             start="2026-01-05 00:01:30")
    assert len(naive_start) == 10  # naive text is UTC


def test_filters_on_other_columns(store, sid):
    store.write("indicators", indicator_rows(sid, "BTC/USDT", 30, "rsi_14"))
    store.write("indicators", indicator_rows(sid, "BTC/USDT", 20, "ema_10"))
    rsi = store.read("indicators", sid, filters={"indicator_id": "rsi_14"})
    assert len(rsi) == 30 and set(rsi["indicator_id"]) == {"rsi_14"}
    both = store.read("indicators", sid, filters={"indicator_id": ["rsi_14", "ema_10"]})
    assert len(both) == 50
    # warm-up NaN comes back as missing, not as zero
    assert rsi["value"].isna().sum() == 14


def test_delete_rows_removes_exactly_the_matching_rows(store, sid):
    store.write("indicators", indicator_rows(sid, "BTC/USDT", 30, "rsi_14"))
    store.write("indicators", indicator_rows(sid, "BTC/USDT", 20, "ema_10"))
    store.write("indicators", indicator_rows(sid, "ETH/USDT", 10, "rsi_14"))
    assert store.delete_rows("indicators", sid, symbols=["BTC/USDT"],
                             filters={"indicator_id": "rsi_14"}) == 30
    left = store.read("indicators", sid)
    assert sorted(zip(left["symbol"], left["indicator_id"], strict=True)) == \
        [("BTC/USDT", "ema_10")] * 20 + [("ETH/USDT", "rsi_14")] * 10
    assert store.delete_rows("indicators", sid, filters={"indicator_id": "nope"}) == 0
    assert store.count_rows(sid)["indicators"] == 30
    with pytest.raises(InvalidInput, match="not a child table"):
        store.delete_rows("data_collection_sessions", sid)
    with pytest.raises(InvalidInput, match="invalid session id"):
        store.delete_rows("indicators", "x' OR '1'='1")


def test_bad_read_arguments_are_clear_errors(store, sid):
    with pytest.raises(InvalidInput, match="unknown column"):
        store.read("tick_prices", sid, columns=["nope"])
    with pytest.raises(InvalidInput, match="unknown table"):
        store.read("ticks_typo", sid)
    with pytest.raises(InvalidInput, match="invalid session id"):
        store.read("tick_prices", "x' OR '1'='1")
    with pytest.raises(InvalidInput, match="limit"):
        store.read("tick_prices", sid, limit=-1)
    with pytest.raises(InvalidInput, match="invalid start"):
        store.read("tick_prices", sid, start="yesterday-ish")


def test_upsert_replaces_rows_with_the_same_key(store, sid):
    rows = indicator_rows(sid, "BTC/USDT", 30)
    store.write("indicators", rows, mode="upsert")
    changed = rows.copy()
    changed["value"] = 1.0
    store.write("indicators", changed, mode="upsert")
    back = store.read("indicators", sid)
    assert len(back) == 30
    assert (back["value"] == 1.0).all()


def test_iter_arrow_streams_in_bounded_batches(store, sid):
    store.write("tick_prices", typed_ticks(sid, "BTC/USDT", 1000))
    batches = list(store.iter_arrow("tick_prices", sid, batch_rows=256))
    assert sum(b.num_rows for b in batches) == 1000
    assert max(b.num_rows for b in batches) <= 256 * 2  # backends may round up to a vector
    seqs = np.concatenate([b.column("seq").to_numpy() for b in batches])
    assert seqs.tolist() == list(range(1000))


@pytest.mark.parametrize("table", ["tick_prices", "indicators"])
def test_a_read_streamed_in_small_batches_is_the_whole_read(store, sid, table):
    """Batches of 64 rows (on QuestDB: many pieces, each symbol and indicator read apart,
    fetched ahead): the same rows, order and types as one read, with a column subset and
    with symbols and a time range; every batch full but the last."""
    for k, sym in enumerate(("BTC/USDT", "ETH/USDT")):
        if table == "tick_prices":  # a gap, and trades sharing a timestamp
            f = typed_ticks(sid, sym, 700, seed=k, step_us=250_000)
            f.loc[300:, "ts"] += pd.Timedelta(hours=30)
            f.loc[101:104, "ts"] = f.loc[100, "ts"]
            store.write("tick_prices", f)
        else:
            for ind in ("sma_5", "rsi_14"):
                store.write("indicators", indicator_rows(sid, sym, 300, ind))
    mid = T0 + pd.Timedelta(seconds=50)
    for kwargs in ({}, {"columns": ["ts", "seq"]},
                   {"symbols": ["ETH/USDT"], "start": mid, "end": mid + pd.Timedelta(days=2)}):
        whole = store.read_arrow(table, sid, **kwargs)
        parts = list(store.iter_arrow(table, sid, batch_rows=64, **kwargs))
        assert len(parts) >= 4 and sum(b.num_rows for b in parts) == whole.num_rows, kwargs
        # the same types (a backend may name UTC Etc/UTC in both; exports cast it)
        got = pa.Table.from_batches(parts).cast(whole.schema)
        assert got.column_names == whole.column_names, kwargs
        pd.testing.assert_frame_equal(got.to_pandas(), whole.to_pandas(), obj=str(kwargs))
        if store.backend == "questdb":  # a file written batch by batch stays the same
            assert {b.num_rows for b in parts[:-1]} == {64}, kwargs


def test_write_batches_stores_what_one_write_does(store, sid, ws):
    """Small batches (the streamed path on small data): the same rows as one write, an
    upsert replaces by key, and a stream that fails part-way writes nothing."""
    frame = typed_ticks(sid, "BTC/USDT", 1000)
    parts = [frame.iloc[k:k + 128] for k in range(0, 1000, 128)]
    assert store.write_batches("tick_prices", iter(parts)) == 1000
    back = store.read("tick_prices", sid)
    pd.testing.assert_frame_equal(back[["seq", "price", "volume"]],
                                  frame[["seq", "price", "volume"]].reset_index(drop=True))
    assert back["ts"].equals(frame["ts"].reset_index(drop=True))
    rows = indicator_rows(sid, "BTC/USDT", 300)
    store.write("indicators", rows)
    changed = rows.assign(value=2.0)
    parts = [changed.iloc[k:k + 64] for k in range(0, 300, 64)]
    assert store.write_batches("indicators", iter(parts), mode="upsert") == 300
    assert (store.read("indicators", sid)["value"] == 2.0).all()
    assert store.count("indicators", sid) == 300

    def failing():
        yield typed_ticks(sid, "ETH/USDT", 100)
        yield typed_ticks(sid, "ETH/USDT", 100, seq0=100)
        raise RuntimeError("the source broke")

    if store.transactional:
        with pytest.raises(RuntimeError, match="broke"):
            store.write_batches("tick_prices", failing())
        assert store.count("tick_prices", sid, symbols=["ETH/USDT"]) == 0
    if ws.backend == "duckdb":  # no staging file left behind
        from pathlib import Path

        db = Path(store.path)
        assert not list(db.resolve().parent.glob(f".{db.name}.tsa_stage_*"))


def test_counts_stats_and_max_seq(store, sid):
    store.write("tick_prices", typed_ticks(sid, "BTC/USDT", 40))
    store.write("tick_prices", typed_ticks(sid, "ETH/USDT", 15, seq0=100))
    counts = store.count_rows(sid)
    assert counts["tick_prices"] == 55
    st = store.table_stats([sid])
    btc = st[(st["table"] == "tick_prices") & (st["symbol"] == "BTC/USDT")].iloc[0]
    assert btc["rows"] == 40
    assert btc["first_ts"] == T0 and btc["last_ts"] == T0 + pd.Timedelta(seconds=39)
    assert store.max_seq("tick_prices", sid, ["BTC/USDT", "ETH/USDT", "SOL/USDT"]) == {
        "BTC/USDT": 39, "ETH/USDT": 114}


def test_ohlcv_from_ticks(store, sid):
    f = typed_ticks(sid, "BTC/USDT", 150)  # 2.5 minutes of 1 s ticks
    same = f.iloc[[60]].copy()
    same["seq"], same["price"], same["volume"] = 1000, 1.0, 5.0  # shares the ts of seq 60
    store.write("tick_prices", pd.concat([f, same]))
    bars = store.ohlcv_from_ticks(sid, ["BTC/USDT"], "1m")
    assert bars["ts"].tolist() == [T0, T0 + pd.Timedelta("1min"), T0 + pd.Timedelta("2min")]
    assert bars["trades"].tolist() == [60, 61, 30]
    first = f.iloc[0:60]
    assert bars.iloc[0]["open"] == first["price"].iloc[0]
    assert bars.iloc[0]["close"] == first["price"].iloc[-1]
    assert bars.iloc[0]["high"] == first["price"].max()
    assert bars.iloc[0]["volume"] == pytest.approx(first["volume"].sum())
    assert bars.iloc[1]["low"] == 1.0  # the same-timestamp trade is in its bar
    assert bars.iloc[1]["open"] == f["price"].iloc[60]  # (ts, seq) order decides the open


def test_sql_binds_parameters(store, sid):
    store.write("tick_prices", typed_ticks(sid, "BTC/USDT", 12))
    out = store.sql("SELECT count(*) AS n FROM tick_prices WHERE session_id = ?", [sid])
    assert int(out["n"].iloc[0]) == 12


def test_to_table_arrow_refuses_a_missing_required_column():
    with pytest.raises(InvalidInput, match="required column 'price'"):
        to_table_arrow(schema.TICK_PRICES, pd.DataFrame({"session_id": ["a"], "symbol": ["b"],
                                                         "seq": [0], "ts": [T0]}))
