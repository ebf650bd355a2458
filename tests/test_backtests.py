"""Backtests through the store on both backends: inputs from the store, runs persisted,
listed, shown, replaced, deleted, and gone with their session; grids; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsanalysis import hookimpl
from tsanalysis.backtest import IndicatorRef, Strategy, UnknownBacktest, UnknownStrategy
from tsanalysis.backtest.runner import Prepared, Settings
from tsanalysis.errors import InvalidInput, SessionNotFound
from tsanalysis.params import Param

from .backtest_reference import run_reference
from .helpers import T0, ticks

SYM = "BTC/USDT"


@pytest.fixture
def session(ws, sid):
    """Two hours of trades and quotes with a five-minute hole in the recording."""
    ws.sessions.create([SYM], sid, cadence_s=1.0)
    t = ticks(7200, seed=3)
    t = t[(t.index < 3000) | (t.index >= 3300)]
    ws.ingest(sid, SYM, t)
    q = t.assign(bid_price=t["price"] - 0.02, ask_price=t["price"] + 0.02, bid_size=1.0,
                 ask_size=1.0)[["ts", "bid_price", "bid_size", "ask_price", "ask_size"]]
    q["ts"] = q["ts"] + pd.Timedelta(milliseconds=300)
    ws.ingest(sid, SYM, q, "orderbook")
    ws.sessions.complete(sid)
    return sid


def test_a_run_is_stored_listed_shown_and_replaced(ws, session):
    sid = session
    res = ws.backtests.run(sid, SYM, "threshold", timeperiod=7, fee_bps=10)
    m = res.metrics
    assert m["points"] == 6900 and m["fills"] > 10 and m["cancelled_signals"] >= 0
    assert res.indicator_ids == {"osc": "rsi_7"}
    listed = ws.backtests.list(sid)
    assert list(listed["backtest_id"]) == [res.backtest_id]
    assert listed["total_return"][0] == pytest.approx(m["total_return"])
    shown = ws.backtests.show(sid, res.backtest_id)
    assert shown["metrics"] == pytest.approx(m) and shown["strategy"] == "threshold"
    assert shown["parameters"]["params"]["timeperiod"] == 7
    assert shown["parameters"]["settings"]["fee_bps"] == 10
    trades = ws.backtests.trades(sid, res.backtest_id)
    assert len(trades) == len(res.trades)
    np.testing.assert_allclose(trades["pnl"], res.trades["pnl"], rtol=1e-12)
    assert trades["exit_ts"].isna().sum() == int(m["open_trade"])
    equity = ws.backtests.equity(sid, res.backtest_id)
    assert len(equity) == 121 and equity["equity"].iloc[-1] == pytest.approx(m["end_equity"])
    rows = ws.store.count_rows(sid)["backtest_results"]

    again = ws.backtests.run(sid, SYM, "threshold", timeperiod=7, fee_bps=10)
    assert again.backtest_id == res.backtest_id and again.metrics == m
    assert ws.store.count_rows(sid)["backtest_results"] == rows
    other = ws.backtests.run(sid, SYM, "threshold", timeperiod=7, fee_bps=20)
    assert other.backtest_id != res.backtest_id
    assert len(ws.backtests.list(sid)) == 2


def test_inputs_come_from_the_store(ws, session):
    sid = session
    ws.backtests.run(sid, SYM, "threshold")  # computes and stores rsi_14 first
    stored = ws.indicators.stored(sid, SYM)
    assert "rsi_14" in set(stored["indicator_id"])
    # Replace the stored RSI by a constant 10: the strategy must go long and stay long.
    pts = ws.ticks(sid, SYM, columns=["ts", "seq"])
    fake = pd.DataFrame({"session_id": sid, "symbol": SYM, "indicator_id": "rsi_14",
                         "seq": pts["seq"], "ts": pts["ts"], "value": 10.0})
    ws.store.write("indicators", fake, mode="upsert")
    res = ws.backtests.run(sid, SYM, "threshold", fee_bps=0)
    assert res.metrics["fills"] == 1 and res.trades["side"].tolist() == ["long"]
    assert res.fills["ts"][0] == pts["ts"][1]  # decided at the first point, filled next


def test_the_engine_on_a_stored_session_agrees_with_the_event_loop(ws, session):
    for fill in ("next", "quotes"):
        prep = Prepared(ws.store, session, SYM, Settings(fill=fill, fee_bps=7))
        _, rsi = prep.indicator(IndicatorRef("rsi", {"timeperiod": 5}))
        target = np.where(rsi < 40, 1.0, np.where(rsi > 60, -1.0, np.nan))
        target[2990:2999], target[2999] = 1.0, -1.0  # the last point before the hole sells
        from tsanalysis.backtest.engine import simulate

        sim = simulate(prep.market, target, prep.settings.costs())
        ref = run_reference(prep.market, target, fee_bps=7)
        assert sim.cancelled == ref.cancelled and len(sim.fills) == len(ref.fills)
        assert ref.cancelled >= 1  # the hole in the recording cancelled the sell
        np.testing.assert_allclose(sim.equity, ref.equity, rtol=1e-9)


def test_bars_stored_or_built(ws, session):
    res = ws.backtests.run(session, SYM, "ma_cross", interval="1m", fast_period=3,
                           slow_period=8)
    assert res.metrics["points"] == 115  # two hours of minutes less the hole
    assert res.indicator_ids == {"fast": "sma_3.1m", "slow": "sma_8.1m"}


def test_grid_ranks_stores_every_run_and_keeps_no_series(ws, session):
    calls = []
    g = ws.backtests.grid(session, SYM, "threshold", {"timeperiod": [5, 9], "lower": "25,35"},
                          metric="total_return", progress=lambda d, t: calls.append((d, t)))
    board = g.leaderboard
    assert len(board) == 4 and calls[-1] == (4, 4)
    assert board["total_return"].is_monotonic_decreasing
    assert set(board["backtest_id"]) == set(ws.backtests.list(session)["backtest_id"])
    assert all(r.simulation is None for r in g.runs)
    assert g.best().backtest_id == board["backtest_id"][0]


def test_delete_one_run_and_all_with_the_session(ws, session):
    a = ws.backtests.run(session, SYM, "threshold")
    b = ws.backtests.run(session, SYM, "macd")
    removed = ws.backtests.delete(session, a.backtest_id)
    assert removed == a.rows_written == 1 + 121 + len(a.trades)
    assert list(ws.backtests.list(session)["backtest_id"]) == [b.backtest_id]
    with pytest.raises(UnknownBacktest, match=f"stored: {b.backtest_id}"):
        ws.backtests.show(session, a.backtest_id)
    with pytest.raises(UnknownBacktest):
        ws.backtests.delete(session, a.backtest_id)
    ws.sessions.delete(session, force=True)
    assert ws.sql("SELECT count(*) AS n FROM backtest_results WHERE session_id = ?",
                  [session])["n"][0] == 0


def test_bad_input_is_refused_before_anything_is_stored(ws, session, sid):
    with pytest.raises(UnknownStrategy, match="threshold, ma_cross, bollinger, macd"):
        ws.backtests.run(session, SYM, "rsi_revert")
    with pytest.raises(InvalidInput, match="unknown parameter"):
        ws.backtests.run(session, SYM, "threshold", period=3)
    with pytest.raises(InvalidInput, match="timeperiod"):
        ws.backtests.run(session, SYM, "threshold", timeperiod=0)
    with pytest.raises(InvalidInput, match="size"):
        ws.backtests.run(session, SYM, "threshold", size=2)
    with pytest.raises(InvalidInput, match="fill"):
        ws.backtests.run(session, SYM, "threshold", fill="quotes", interval="1m")
    with pytest.raises(InvalidInput, match="unknown indicator 'nosuch'"):
        ws.backtests.run(session, SYM, "threshold", oscillator="nosuch")
    with pytest.raises(InvalidInput, match="no ticks for ETH/USDT"):
        ws.backtests.run(session, "ETH/USDT", "threshold")
    with pytest.raises(SessionNotFound):
        ws.backtests.run(sid + "-x", SYM, "threshold")
    with pytest.raises(InvalidInput, match="unknown grid parameter"):
        ws.backtests.grid(session, SYM, "threshold", {"period": [1, 2]})
    assert ws.backtests.list(session).empty


def _momentum(prices, ind, timeperiod):
    return np.where(prices["close"] > ind["ema"], 1.0, 0.0)


class ThirdParty:
    @hookimpl
    def register_strategies(self, register):
        register(Strategy(
            name="thirdparty.above_ema", signal=_momentum, long_only=True,
            params=(Param("timeperiod", int, 20, minimum=2),),
            indicators=lambda timeperiod: {"ema": IndicatorRef("ema",
                                                               {"timeperiod": timeperiod})},
            doc="Long while the price is above its EMA."))


def test_a_third_party_strategy_runs_like_a_builtin(ws, session, tsanalysis_register):
    tsanalysis_register(ThirdParty())
    assert "thirdparty.above_ema" in set(ws.backtests.catalog()["name"])
    res = ws.backtests.run(session, SYM, "thirdparty.above_ema", timeperiod=30)
    assert res.indicator_ids == {"ema": "ema_30"} and res.metrics["trades"] > 0
    assert (res.trades["side"] == "long").all()


def test_session_written_while_listing_unaffected(ws, session):
    """A run on one symbol leaves the session's other rows alone."""
    before = ws.store.count_rows(session)
    ws.backtests.run(session, SYM, "bollinger")
    after = ws.store.count_rows(session)
    assert {k: v for k, v in after.items() if k not in ("backtest_results", "indicators")} \
        == {k: v for k, v in before.items() if k not in ("backtest_results", "indicators")}
    assert T0 is not None


@pytest.mark.parametrize("name", ["threshold", "ma_cross", "bollinger", "macd"])
def test_every_builtin_meets_the_strategy_contract(tsanalysis_demo, name):
    from tsanalysis.testing import check_strategy

    res = check_strategy(tsanalysis_demo, name, fee_bps=2)
    assert res.metrics["trades"] > 0
    long_only = check_strategy(tsanalysis_demo, name, long_only=True)
    assert set(long_only.trades["side"]) <= {"long"}


def test_a_grid_checks_every_combination_before_running_any(ws, session):
    with pytest.raises(InvalidInput, match="lower .80.0. must be below upper"):
        ws.backtests.grid(session, SYM, "threshold", {"lower": [20, 80]})
    assert ws.backtests.list(session).empty


def test_the_same_run_has_the_same_id_however_its_numbers_are_written(ws, session):
    a = ws.backtests.run(session, SYM, "threshold", fee_bps=0, size=1)
    b = ws.backtests.run(session, SYM, "threshold", fee_bps=0.0, size=1.0)
    assert a.backtest_id == b.backtest_id and len(ws.backtests.list(session)) == 1
    with pytest.raises(InvalidInput, match="fee_bps must be a number"):
        ws.backtests.run(session, SYM, "threshold", fee_bps="10")
