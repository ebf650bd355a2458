"""Persisting, reading back and updating indicators, on every backend (the ``ws`` fixture)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tsanalysis
import tsanalysis.ta as ta
from tsanalysis.default_plugins.indicators import builtin_indicators
from tsanalysis.errors import SessionNotFound
from tsanalysis.indicators import Indicator, UnknownIndicatorId
from tsanalysis.indicators import compute as compute_indicator

from .helpers import T0, indicator_rows, ticks

SYM = "BTC/USDT"
N0, NEW = 3000, 1000


def tie(frame: pd.DataFrame, every: int = 29) -> pd.DataFrame:
    """Make every ``every``-th trade share the previous trade's timestamp."""
    frame = frame.copy()
    frame.loc[frame.index[5::every], "ts"] = frame["ts"].shift(1)[5::every]
    return frame


def session(ws, sid, n=N0, seed=0, symbols=(SYM,), cadence_s=1.0):
    ws.sessions.create(list(symbols), sid, cadence_s=cadence_s)
    for k, sym in enumerate(symbols):
        ws.ingest(sid, sym, tie(ticks(n, seed=seed + k)))


def more_ticks(ws, sid, symbol=SYM, n=NEW, seed=99):
    """Trades arriving after the stored ones (continuing the walk)."""
    last = ws.store.read_tail_arrow("tick_prices", sid, symbol=symbol, n=1).to_pandas()
    start = last["ts"].iloc[0] + pd.Timedelta(milliseconds=400)
    ws.ingest(sid, symbol, tie(ticks(n, start=start, seed=seed, price=last["price"].iloc[0])))


def count(ws, sid, iid, symbol=SYM):
    st = ws.store.indicator_stats(sid, [symbol])
    row = st[st["indicator_id"] == iid]
    return int(row["rows"].iloc[0]) if len(row) else 0


def assert_same(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> None:
    """Equal NaN positions; values equal to ``tol`` of the series' scale."""
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    scale = max(1.0, float(np.abs(b[ok]).max())) if ok.any() else 1.0
    assert float(np.max(np.abs(a[ok] - b[ok]), initial=0.0)) <= tol * scale


# -- persist and read back ----------------------------------------------------------------


def test_compute_persists_one_row_per_tick_and_recomputing_replaces(ws, sid):
    session(ws, sid)
    res = ws.indicators.compute(sid, SYM, "rsi")
    assert res.rows == N0 and res.written == N0 and res.outputs == {"real": "rsi_14"}
    again = ws.indicators.compute(sid, SYM, "rsi")
    assert again.rows == N0
    assert count(ws, sid, "rsi_14") == N0  # replaced, not duplicated
    nulls = ws.sql("SELECT count(*) AS n FROM indicators WHERE session_id = ? AND "
                   "indicator_id = ? AND value IS NULL", [sid, "rsi_14"])
    assert int(nulls["n"].iloc[0]) == 14  # the warm-up is stored as NULL, not as a number
    hist = ws.indicators.history(sid, SYM, "rsi_14")
    assert list(hist.columns) == ["ts", "seq", "value"] and len(hist) == N0
    assert str(hist["ts"].dtype) == "datetime64[us, UTC]"
    tick_rows = ws.ticks(sid, SYM)
    assert (hist["seq"].to_numpy() == tick_rows["seq"].to_numpy()).all()
    assert hist["ts"].duplicated().sum() == tick_rows["ts"].duplicated().sum() > 50
    assert_same(hist["value"].to_numpy(), ta.rsi(tick_rows["price"].to_numpy(), 14), 0.0)


def test_multi_output_indicator_stores_one_id_per_output(ws, sid):
    session(ws, sid, n=600)
    res = ws.indicators.compute(sid, SYM, "macd", {"fastperiod": 5}, interval="10s")
    assert res.outputs == {o: f"macd_5_26_9_{o}.10s" for o in ("macd", "macdsignal", "macdhist")}
    st = ws.indicators.stored(sid)
    assert sorted(st["indicator_id"]) == sorted(res.outputs.values())
    assert set(st["rows"]) == {res.rows} and set(st["indicator"]) == {"macd"}
    assert set(st["interval"]) == {"10s"}


def test_history_time_range_and_paging(ws, sid):
    session(ws, sid)
    ws.indicators.compute(sid, SYM, "ema", timeperiod=10)
    full = ws.indicators.history(sid, SYM, "ema_10")
    pages = [ws.indicators.history(sid, SYM, "ema_10", limit=700, offset=k)
             for k in range(0, N0, 700)]
    assert [len(p) for p in pages] == [700, 700, 700, 700, 200]
    joined = pd.concat(pages, ignore_index=True)
    assert joined["ts"].equals(full["ts"]) and joined["seq"].equals(full["seq"])
    assert_same(joined["value"].to_numpy(), full["value"].to_numpy(), 0.0)
    start, end = T0 + pd.Timedelta(seconds=100), T0 + pd.Timedelta(seconds=200)
    window = ws.indicators.history(sid, SYM, "ema_10", start=start.isoformat(), end=end)
    want = full[(full["ts"] >= start) & (full["ts"] < end)]
    assert len(window) == len(want) > 90 and window["seq"].tolist() == want["seq"].tolist()
    assert ws.indicators.history(sid, SYM, "ema_10", offset=N0).empty  # past the end
    with pytest.raises(UnknownIndicatorId, match="closest: ema_10"):
        ws.indicators.history(sid, SYM, "ema_11")
    with pytest.raises(SessionNotFound):
        ws.indicators.history(sid + "x", SYM, "ema_10")


def test_missing_volume_is_nan_never_zero(ws, sid):
    ws.sessions.create([SYM], sid)
    frame = ticks(400)
    frame["volume"] = frame["volume"].astype("float64")
    frame.loc[[100, 101, 250], "volume"] = np.nan
    ws.ingest(sid, SYM, frame)
    p, v = frame["price"].to_numpy(), frame["volume"].to_numpy()
    kernels = {"obv": ta.obv(p, v), "mfi": ta.mfi(p, p, p, v),
               "rolling_vwap": ta.rolling_vwap(p, p, p, v)}
    for name, want in kernels.items():
        res = ws.indicators.compute(sid, SYM, name)
        got = ws.indicators.history(sid, SYM, res.outputs["real"])["value"].to_numpy()
        assert np.isnan(got[[100, 101, 250]]).all(), name
        assert_same(got, want, 0.0)
    # the tick's price indicators do not care about its volume
    rsi = ws.indicators.compute(sid, SYM, "rsi").frame["real"].to_numpy()
    assert not np.isnan(rsi[100:102]).any()


def test_unknown_symbol_or_session(ws, sid):
    session(ws, sid, n=50)
    with pytest.raises(Exception, match=r"no ticks for ETH/USDT .*symbols: BTC/USDT"):
        ws.indicators.compute(sid, "ETH/USDT", "rsi")
    with pytest.raises(SessionNotFound):
        ws.indicators.compute("no-such-session", SYM, "rsi")
    assert ws.indicators.stored(sid).empty


# -- computing and storing in batches (bounded memory) --------------------------------------

STREAM_CASES = [("rsi", {}), ("macd", {}), ("bbands", {"timeperiod": 20}), ("kama", {}),
                ("ema", {"timeperiod": 30})]


@pytest.mark.parametrize(("name", "params"), STREAM_CASES, ids=[n for n, _ in STREAM_CASES])
def test_streamed_compute_equals_the_whole(ws, sid, name, params):
    """Small batches (the chunked code on small data) store what one computation does."""
    session(ws, sid)
    whole = ws.indicators.compute(sid, SYM, name, params, persist=False)
    for _ in range(2):  # the second time replaces the rows (an upsert), never duplicates
        res = compute_indicator(ws.store, sid, SYM, name, params, chunk_rows=700)
        assert res._load is not None  # streamed: the values are read back when asked for
        assert res.rows == whole.rows == N0
        assert res.written == N0 * len(res.outputs)
        for output, iid in res.outputs.items():
            hist = ws.indicators.history(sid, SYM, iid)
            assert len(hist) == N0 == count(ws, sid, iid)
            assert hist["ts"].equals(whole.frame["ts"])
            assert (hist["seq"].to_numpy() == whole.seq).all()
            assert_same(hist["value"].to_numpy(), whole.values[output], tol=1e-12)
            assert_same(res.values[output], whole.values[output], tol=1e-12)
        assert (res.ts_us == whole.ts_us).all()


def test_streamed_compute_falls_back_when_the_batches_disagree(ws, sid, monkeypatch):
    """A declared memory too short for the batches to reproduce each other: computed whole."""
    session(ws, sid)
    whole = ws.indicators.compute(sid, SYM, "ema", timeperiod=30, persist=False)
    monkeypatch.setattr(Indicator, "memory", lambda self, params: 0)
    res = compute_indicator(ws.store, sid, SYM, "ema", {"timeperiod": 30}, chunk_rows=500)
    assert res._load is None  # not streamed
    hist = ws.indicators.history(sid, SYM, res.outputs["real"])
    assert len(hist) == N0
    assert_same(hist["value"].to_numpy(), whole.values["real"], tol=1e-12)


def test_streamed_compute_reports_rows_and_a_cancel_writes_nothing(ws, sid):
    """Progress comes after each batch, in input points; an exception from the callback
    (a panel's Cancel, Ctrl-C) leaves the store without a row of the indicator."""
    session(ws, sid)
    seen: list[tuple[int, int | None]] = []
    res = compute_indicator(ws.store, sid, SYM, "rsi", chunk_rows=700,
                            progress=lambda done, total: seen.append((done, total)))
    assert res._load is not None
    assert seen == [(min(k * 700, N0), N0) for k in range(1, -(-N0 // 700) + 1)]

    class Stop(Exception):
        pass

    def stop_at_the_second(done: int, total: int | None) -> None:
        if done > 700:
            raise Stop

    with pytest.raises(Stop):
        compute_indicator(ws.store, sid, SYM, "ema", {"timeperiod": 30}, chunk_rows=700,
                          progress=stop_at_the_second)
    assert count(ws, sid, "ema_30") == 0
    # computed at once (one batch): the same, reported once at the end
    with pytest.raises(Stop):
        compute_indicator(ws.store, sid, SYM, "sma", {"timeperiod": 5},
                          progress=stop_at_the_second)
    assert count(ws, sid, "sma_5") == 0
    assert count(ws, sid, "rsi_14") == N0  # the finished one stays


def test_one_batch_is_computed_whole(ws, sid):
    session(ws, sid)
    res = compute_indicator(ws.store, sid, SYM, "rsi", chunk_rows=N0)
    assert res._load is None and res.written == N0


# -- update ---------------------------------------------------------------------------------


UPDATE_CASES = [("rsi", {}, None), ("macd", {}, None), ("obv", {}, None), ("vwap", {}, None),
                ("atr", {}, "10s"), ("kama", {"timeperiod": 10}, None), ("adx", {}, "10s")]


@pytest.mark.parametrize(("name", "params", "interval"), UPDATE_CASES,
                         ids=[f"{n}-{i or 'ticks'}" for n, _, i in UPDATE_CASES])
def test_update_equals_a_full_recompute(ws, sid, name, params, interval):
    session(ws, sid)
    first = ws.indicators.compute(sid, SYM, name, params, interval=interval)
    more_ticks(ws, sid)
    res = ws.indicators.update(sid)
    (u,) = res.updated
    assert u.indicator_ids == list(first.outputs.values()) and u.mode == "tail"
    full = ws.indicators.compute(sid, SYM, name, params, interval=interval, persist=False)
    assert full.rows > first.rows
    for output, iid in first.outputs.items():
        hist = ws.indicators.history(sid, SYM, iid)
        assert len(hist) == full.rows == count(ws, sid, iid)  # no duplicates, nothing missing
        assert hist["ts"].equals(full.frame["ts"])
        assert_same(hist["value"].to_numpy(), full.frame[output].to_numpy())
    # only the tail was written: the new points and the last stored timestamp's
    assert u.rows <= full.rows - first.rows + 30


def test_the_stored_point_before_the_last_is_found_in_a_window_across_gaps(ws, sid):
    """The update's warm-up start, read from a time window widened across gaps, is the
    point the tail query (the last n before the last stored one) gives."""
    from tsanalysis.indicators.registry import registry
    from tsanalysis.indicators.updating import _Group, _stored_point_before
    from tsanalysis.timeutil import to_micros

    ws.sessions.create([SYM], sid, cadence_s=1.0)
    # dense trades, a six-hour gap, then a few: the average spacing misleads the window
    ws.ingest(sid, SYM, ticks(400, seed=1))
    ws.ingest(sid, SYM, ticks(30, start=T0 + pd.Timedelta(hours=6), seed=2))
    ws.indicators.compute(sid, SYM, "rsi")
    st = ws.store.indicator_stats(sid, [SYM]).iloc[0]
    parsed = registry().parse_id(st["indicator_id"])
    g = _Group(SYM, parsed.indicator, parsed.params, None, {"real": st["indicator_id"]},
               to_micros(st["last_ts"]), to_micros(st["first_ts"]),
               {st["indicator_id"]: int(st["rows"])})
    for n in (1, 5, 29, 30, 31, 200, 429, 430):
        tail = ws.store.read_tail_arrow("indicators", sid, symbol=SYM, n=n,
                                        end=st["last_ts"], columns=["ts"],
                                        filters={"indicator_id": st["indicator_id"]})
        want = to_micros(tail.column("ts")[0].as_py()) if tail.num_rows == n else None
        assert _stored_point_before(ws.store, sid, g, n) == want, n


@pytest.fixture(scope="module")
def shared_duckdb_ws(tmp_path_factory):
    """One DuckDB file for the ~430 per-indicator cases below: each writes a session of its
    own (``sid``), so sharing the file keeps them independent and saves a store each."""
    w = tsanalysis.connect(f"duckdb:///{tmp_path_factory.mktemp('builtins')}/shared.duckdb")
    yield w
    w.close()


@pytest.mark.parametrize("ind", builtin_indicators(), ids=lambda i: i.name)
@pytest.mark.parametrize("interval", [None, "10s"], ids=["ticks", "bars"])
def test_update_identity_for_every_builtin(shared_duckdb_ws, sid, ind, interval):
    ws = shared_duckdb_ws
    session(ws, sid)
    params = ind.check_params({})
    first = ws.indicators.compute(sid, SYM, ind.name, params, interval=interval)
    more_ticks(ws, sid)
    (u,) = ws.indicators.update(sid).updated
    full = ws.indicators.compute(sid, SYM, ind.name, params, interval=interval, persist=False)
    for output, iid in first.outputs.items():
        hist = ws.indicators.history(sid, SYM, iid)
        assert len(hist) == full.rows
        assert_same(hist["value"].to_numpy(), full.frame[output].to_numpy())
    if ind.update == "window" and ind.memory(params) + 64 <= first.rows - 30:
        assert 0 < u.history <= 2 * ind.memory(params) + 200  # a tail, not everything
        assert u.rows < full.rows - first.rows + 30


def test_update_resumes_a_running_total_from_the_stored_value(duckdb_ws, sid):
    session(duckdb_ws, sid)
    duckdb_ws.indicators.compute(sid, SYM, "obv")
    more_ticks(duckdb_ws, sid)
    (u,) = duckdb_ws.indicators.update(sid).updated
    assert u.mode == "tail" and u.history == 64  # only the points it checks against


def test_update_recomputes_everything_when_the_input_changed_underneath(ws, sid):
    session(ws, sid, n=500)
    ws.indicators.compute(sid, SYM, "sma", timeperiod=5)
    late = ticks(1, start=T0 + pd.Timedelta(seconds=100.5), price=250.0)  # out of order
    ws.ingest(sid, SYM, late)
    (u,) = ws.indicators.update(sid).updated
    assert u.mode == "full" and u.rows == 501
    full = ws.indicators.compute(sid, SYM, "sma", timeperiod=5, persist=False)
    hist = ws.indicators.history(sid, SYM, "sma_5")
    assert len(hist) == 501 and hist["seq"].equals(full.frame["seq"])
    assert_same(hist["value"].to_numpy(), full.frame["real"].to_numpy(), 0.0)


def test_update_with_nothing_new_changes_nothing(ws, sid):
    session(ws, sid, n=800)
    ws.indicators.compute(sid, SYM, "rsi")
    before = ws.indicators.history(sid, SYM, "rsi_14")
    (u,) = ws.indicators.update(sid).updated
    assert u.rows <= 2  # the last timestamp's rows, rewritten with the same values
    after = ws.indicators.history(sid, SYM, "rsi_14")
    assert after["seq"].equals(before["seq"])
    assert_same(after["value"].to_numpy(), before["value"].to_numpy(), 0.0)


def test_update_by_symbol_skips_unknown_ids_and_notes_stale_bars(ws, sid):
    session(ws, sid, n=900, symbols=(SYM, "ETH/USDT"))
    for sym in (SYM, "ETH/USDT"):
        ws.indicators.compute(sid, sym, "rsi")
    ws.build_bars(sid, "1m")
    ws.indicators.compute(sid, SYM, "sma", timeperiod=3, interval="1m")
    ws.store.write("indicators", indicator_rows(sid, SYM, 10, indicator_id="my_own_thing"))
    more_ticks(ws, sid)
    res = ws.indicators.update(sid, SYM)
    assert {(u.symbol, u.indicator) for u in res.updated} == {(SYM, "rsi"), (SYM, "sma")}
    assert res.skipped == [{"symbol": SYM, "indicator_id": "my_own_thing",
                            "reason": "no loaded plugin derives this id"}]
    assert any("stored 1m bars end before the last tick" in n for n in res.notes)
    listed = ws.indicators.stored(sid, SYM).set_index("indicator_id")
    assert listed.loc["rsi_14", "indicator"] == "rsi"
    assert all(listed.loc["my_own_thing", c] is None
               for c in ("indicator", "params", "output", "interval"))
    assert count(ws, sid, "rsi_14", "ETH/USDT") == 900  # the other symbol was left alone
    assert count(ws, sid, "rsi_14") == 900 + NEW
    with pytest.raises(SessionNotFound):
        ws.indicators.update("no-such-session")


def test_update_of_many_indicators_at_once(ws, sid):
    """Several series on one input share its reads; each still equals a full recompute."""
    session(ws, sid)
    asked = [("rsi", {}, None), ("ema", {"timeperiod": 5}, None), ("kama", {}, None),
             ("macd", {}, None), ("obv", {}, None), ("vwap", {}, None), ("atr", {}, "10s"),
             ("bbands", {}, "10s")]
    for name, params, interval in asked:
        ws.indicators.compute(sid, SYM, name, params, interval=interval)
    more_ticks(ws, sid)
    res = ws.indicators.update(sid)
    firsts = [min(u.indicator_ids) for u in res.updated]
    assert firsts == sorted(firsts)  # reported in the order of the stored ids
    assert {u.indicator for u in res.updated} == {a[0] for a in asked}
    assert {u.mode for u in res.updated} == {"tail"}
    for name, params, interval in asked:
        full = ws.indicators.compute(sid, SYM, name, params, interval=interval, persist=False)
        for output, iid in full.outputs.items():
            hist = ws.indicators.history(sid, SYM, iid)
            assert len(hist) == full.rows, iid
            assert_same(hist["value"].to_numpy(), full.frame[output].to_numpy())


def test_indicators_survive_an_export_and_import_and_keep_updating(ws, sid, tmp_path):
    """Stored ids are valid wherever ids are checked: a zip export imported back gives
    the same series, and update carries on from them."""
    session(ws, sid, n=600)
    ws.indicators.compute(sid, SYM, "rsi")
    ws.indicators.compute(sid, SYM, "bbands", {"nbdevup": 1.5}, interval="10s")
    ws.export.run(sid, "zip", tmp_path / "s.zip")
    copy = sid + "-copy"
    ws.import_bundle(tmp_path / "s.zip", session_id=copy)
    stored = ws.indicators.stored(copy)
    assert sorted(stored["indicator_id"]) == sorted(ws.indicators.stored(sid)["indicator_id"])
    assert "bbands_20_1.5_2_0_upperband.10s" in set(stored["indicator_id"])
    for iid in stored["indicator_id"]:
        a = ws.indicators.history(sid, SYM, iid)
        b = ws.indicators.history(copy, SYM, iid)
        assert a["seq"].equals(b["seq"]) and a["ts"].equals(b["ts"])
        assert_same(b["value"].to_numpy(), a["value"].to_numpy(), 0.0)
    more_ticks(ws, copy)
    res = ws.indicators.update(copy)
    assert {u.mode for u in res.updated} == {"tail"} and not res.skipped
    full = ws.indicators.compute(copy, SYM, "rsi", persist=False)
    assert_same(ws.indicators.history(copy, SYM, "rsi_14")["value"].to_numpy(),
                full.frame["real"].to_numpy())
