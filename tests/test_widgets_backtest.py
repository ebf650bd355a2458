"""BacktestPanel: strategies and forms from the registry, runs through ``ws.backtests``
stored and listed with the metrics the store holds, stored runs reopened and deleted,
errors in the panel, a grid ranked and cancelled."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from tsanalysis.backtest import strategies
from tsanalysis.errors import InvalidInput, SessionNotFound
from tsanalysis.widgets import BacktestPanel, Dashboard, ProgressBar
from tsanalysis.widgets._base import plain_text

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture
def demo(ws, sid):
    """A small demo session: two symbols, a quarter of an hour."""
    return ws.demo(session_id=sid, hours=0.25, seed=3, symbols=SYMBOLS)


def stored_rows(ws, sid, backtest_id=None):
    """Rows in backtest_results for the session (and run), counted with plain SQL."""
    query = "SELECT count(*) AS n FROM backtest_results WHERE session_id = ?"
    params = [sid]
    if backtest_id is not None:
        query += " AND backtest_id = ?"
        params.append(backtest_id)
    return int(ws.sql(query, params)["n"].iloc[0])


def test_offers_every_registered_strategy_with_a_form_of_its_parameters(ws, demo):
    p = BacktestPanel(ws, session_id=demo.session_id)
    assert p.last_error is None and p.strategies == list(strategies())
    for name, strat in strategies().items():
        p.select_strategy(name.upper())  # case-insensitive, like the registry
        assert p.form.raw() == strat.defaults and p.form.valid, name
        assert not p._run_button.disabled, name
    p.select_strategy("threshold")
    assert p.form.fields["timeperiod"].bounds == "in [2, 100000]"
    assert list(p._symbol.options) == SYMBOLS and p.symbol == "BTC/USDT"
    assert p._grid_button.disabled and p.runs.empty  # no grid typed, nothing stored yet
    assert "No run stored yet" in p.runs_text


def test_run_stores_a_run_listed_with_the_metrics_the_store_holds(ws, demo):
    sid = demo.session_id
    p = BacktestPanel(ws, session_id=sid)
    p.form.set(timeperiod=10)
    p.configure(symbol="ETH/USDT", fee_bps=10, slippage_bps=2)
    p._run_button.click()
    assert p.last_error is None, p.log_text
    res = p.result
    bid = res.backtest_id
    assert (res.symbol, res.params["timeperiod"], res.settings["fee_bps"]) == \
        ("ETH/USDT", 10, 10.0)
    # stored: one run row, listed in the panel with the metrics ws.backtests.show reads
    shown = ws.backtests.show(sid, bid)
    assert p.run_ids == [bid] == list(ws.backtests.list(sid)["backtest_id"])
    assert p.shown == bid and p.metrics == shown["metrics"] == p.runs["metrics"].iloc[0]
    assert int(ws.sql("SELECT count(*) AS n FROM backtest_results WHERE session_id = ? AND "
                      "kind = 'run'", [sid])["n"].iloc[0]) == 1
    # the same numbers as the core run directly, without the panel
    direct = ws.backtests.run(sid, "ETH/USDT", "threshold", timeperiod=10, fee_bps=10.0,
                              slippage_bps=2.0, persist=False)
    assert direct.backtest_id == bid
    numbers = {k for k, v in direct.metrics.items() if not isinstance(v, str)}
    assert {k: direct.metrics[k] for k in numbers} == pytest.approx(
        {k: shown["metrics"][k] for k in numbers}, rel=1e-12, nan_ok=True)
    assert {k: v for k, v in direct.metrics.items() if k not in numbers} == \
        {k: v for k, v in shown["metrics"].items() if k not in numbers}  # start, end
    # the metrics table, the headline, the trades and the picture
    m = shown["metrics"]
    assert f"sharpe {m['sharpe']:,.6g}" in p.metrics_text
    assert f"trades {m['trades']:,}" in p.metrics_text
    assert f"total return {100 * m['total_return']:+.3f} %" in p.headline_text
    assert bid in p.runs_text and "timeperiod=10" in p.runs_text
    assert f"Trades ({len(res.trades):,}" in plain_text(p._trades_box.value)
    assert len(p.equity) == len(res.equity) == m["points"]
    assert p.figure is not None and len(p.figure.axes) == 3 and p.png[:4] == b"\x89PNG"
    assert len(p.figure.axes[0].collections) >= 1  # the trades marked on the price
    assert "Ran threshold on ETH/USDT" in p.status and bid in p.status
    # reopening reads the stored run: its equity on the grid, its trades
    p.show_run(bid)
    pd.testing.assert_frame_equal(p.equity, ws.backtests.equity(sid, bid)[["ts", "equity"]])
    assert len(p.trades) == len(ws.backtests.trades(sid, bid)) == len(res.trades)
    assert "stored run: equity on its 1m grid" in p.headline_text


def test_picking_a_stored_run_reopens_it_and_delete_removes_it(ws, demo):
    sid = demo.session_id
    p = BacktestPanel(ws, session_id=sid)
    p.select_strategy("ma_cross")
    p.form.set(fast_period=5, slow_period=20)
    first = p.backtest()  # what the Run button does
    p.configure(long_only=True)
    second = p.backtest()
    assert sorted(p.run_ids) == sorted([first.backtest_id, second.backtest_id])
    assert p.shown == second.backtest_id
    p._runs_select.value = first.backtest_id  # as a pick in the list does
    assert p.last_error is None and p.shown == first.backtest_id
    assert p.metrics == ws.backtests.show(sid, first.backtest_id)["metrics"]
    assert not p._delete_button.disabled
    rows = stored_rows(ws, sid, first.backtest_id)
    assert rows > 1
    p._delete_button.click()
    assert p.last_error is None, p.log_text
    assert f"{rows:,} rows removed" in p.status
    assert stored_rows(ws, sid, first.backtest_id) == 0
    assert p.run_ids == [second.backtest_id] == list(ws.backtests.list(sid)["backtest_id"])
    assert p.shown is None and p.png == b"" and first.backtest_id not in p.runs_text
    assert p._runs_select.value is None and p._delete_button.disabled
    p.delete(second.backtest_id)
    assert p.runs.empty and stored_rows(ws, sid) == 0


def test_a_bad_parameter_or_setting_shows_an_error_and_stores_nothing(ws, demo):
    sid = demo.session_id
    p = BacktestPanel(ws, session_id=sid)
    p.form.set(timeperiod=1)
    message = "threshold: parameter timeperiod must be an integer in [2, 100000], got 1"
    assert p.form.errors == {"timeperiod": message}
    assert p._run_button.disabled and "fix the parameters" in plain_text(p._why.value)
    p._run_button.click()  # .click() ignores `disabled`: the action checks again
    assert isinstance(p.last_error, InvalidInput) and message in p.status
    p.form.set(timeperiod=14, lower=80)  # valid alone, not together with upper=70
    assert p.form.errors == {"*": "threshold: lower (80.0) must be below upper (70.0)"}
    p._run_button.click()
    assert isinstance(p.last_error, InvalidInput) and "must be below upper" in p.status
    p.form.set(lower=30, oscillator="macd")  # an oscillator without a timeperiod
    assert "macd: unknown parameter(s) timeperiod" in p.form.errors["*"]
    p.form.set(oscillator="rsi")
    p.configure(interval="1m", fill="quotes")
    assert p._run_button.disabled and "fill='quotes' works on ticks" in \
        plain_text(p._settings_error.value)
    p._run_button.click()
    assert isinstance(p.last_error, InvalidInput) and "works on ticks" in p.status
    p.configure(interval=None, fill="next", fee_bps=-1)
    assert "fee_bps must be a number in [0, 10000)" in plain_text(p._settings_error.value)
    p.configure(fee_bps=0)
    p.set_grid("timeperiod=1,14")
    message = message.replace("got 1", "got '1'")  # typed: text, parsed by the parameter
    assert p._grid_button.disabled and message in plain_text(p._grid_note.value)
    p._grid_button.click()
    assert isinstance(p.last_error, InvalidInput) and message in p.status
    p.set_grid("lower=20,80")  # 80 is above upper: refused before anything runs
    assert p._grid_button.disabled
    assert "grid combination lower=80: threshold: lower (80.0) must be below upper" in \
        plain_text(p._grid_note.value)
    p._grid_button.click()
    assert isinstance(p.last_error, InvalidInput) and "must be below upper" in p.status
    assert p.result is None and p.grid_result is None and p.progress.last is None
    assert stored_rows(ws, sid) == 0 and p.runs.empty and ws.backtests.list(sid).empty


def test_an_unknown_session_and_a_symbol_without_prices_are_shown_not_raised(ws, sid):
    p = BacktestPanel(ws, session_id="no-such-session")
    assert isinstance(p.last_error, SessionNotFound) and "no-such-session" in p.status
    p._run_button.click()
    assert isinstance(p.last_error, SessionNotFound)
    ws.sessions.create(["BTC/USDT"], sid)  # a session with a symbol and no ticks
    p.session_id = sid
    assert p.last_error is None and p.symbol == "BTC/USDT"
    p._run_button.click()
    assert isinstance(p.last_error, InvalidInput)
    assert "no ticks for BTC/USDT" in p.status and p.result is None
    assert stored_rows(ws, sid) == 0 and p.runs.empty


def test_a_grid_ranks_every_combination_and_stores_each_run(ws, demo):
    sid = demo.session_id
    p = BacktestPanel(ws, session_id=sid)
    p.set_grid("timeperiod=7,14; lower=20,30", metric="total_return")
    assert "4 combination(s)" in plain_text(p._grid_note.value)
    p._grid_button.click()
    assert p.last_error is None, p.log_text
    board = p.grid_result.leaderboard
    assert len(board) == 4 and p.progress.last == (4, 4)
    assert set(board["backtest_id"]) == set(p.run_ids) == \
        set(ws.backtests.list(sid)["backtest_id"])
    assert list(board["total_return"]) == sorted(board["total_return"], reverse=True)
    best = board["backtest_id"].iloc[0]
    assert p.shown == best and p.metrics == ws.backtests.show(sid, best)["metrics"]
    assert "Leaderboard (4 runs, best total_return first)" in p.leaderboard_text
    assert f"best by total_return: {best}" in p.status


def test_cancel_stops_a_grid_and_keeps_the_runs_finished(ws, demo, monkeypatch):
    sid = demo.session_id
    p = BacktestPanel(ws, session_id=sid, background=True)
    p.set_grid("timeperiod=5,6,7,8,9,10,11,12")
    reported, resume = threading.Event(), threading.Event()
    original = ProgressBar.__call__

    def progress(bar, done, total=None):
        if bar is p.progress and done == 1:  # the first run is stored: hold it here
            reported.set()
            assert resume.wait(30)
        return original(bar, done, total)

    monkeypatch.setattr(ProgressBar, "__call__", progress)
    p._grid_button.click()  # returns at once: the grid runs on the panel's worker
    assert reported.wait(30)
    assert p.busy and p._grid_button.disabled
    assert p.progress._cancel_button.layout.display is None  # Cancel is offered
    p.progress._cancel_button.click()
    resume.set()
    assert p.wait(60)
    assert p.last_error is None and "cancelled" in p.status, p.log_text
    assert "cancelled after 1 of 8 runs" in p.leaderboard_text
    assert p.grid_result is None and len(p.run_ids) == 1
    assert list(ws.backtests.list(sid)["backtest_id"]) == p.run_ids
    assert not p.busy and not p._grid_button.disabled


def test_the_dashboard_has_the_backtests_tab(duckdb_ws):
    sid = duckdb_ws.demo(hours=0.05, seed=3, symbols=["BTC/USDT"]).session_id
    dash = Dashboard(duckdb_ws, session_id=sid)
    assert "Backtests" in dash._tabs.titles
    panel = dash.panel("backtests")
    assert isinstance(panel, BacktestPanel) and panel.session_id == sid
    panel._run_button.click()  # threshold on RSI 14, the defaults
    assert panel.last_error is None, panel.log_text
    assert panel.run_ids == [panel.result.backtest_id]
