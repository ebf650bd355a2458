# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Backtests
#
# Run a strategy on a session's recorded prices, see where its inputs came from (the
# `indicators` table, with plain SQL), check the engine against a few lines of pandas,
# rank a small grid of parameters, delete a run; then do the same from the Backtests panel.
#
# The notebook works on a fresh temporary DuckDB store unless `TSANALYSIS_NOTEBOOK_DB`
# names one (`default`, a `questdb://...` URL). On the user's default store the demo
# session it already has is used (a run has an id derived from what decides its numbers,
# so running it again replaces the stored run, it never duplicates it); anywhere else the
# runbook makes its own.
#
# On a quarter of an hour the annualised figures (Sharpe, CAGR, volatility) are
# extrapolations: the point here is where the numbers come from, not how good they are.

# %%
import math

import numpy as np
import pandas as pd

from tsanalysis.backtest import UnknownBacktest
from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
info = demo_session(ws, hours=0.25)
sid, symbol = info.session_id, info.symbols[0]
catalog = ws.backtests.catalog()
assert {"threshold", "ma_cross", "bollinger", "macd"} <= set(catalog["name"])
catalog[["name", "params", "doc"]]

# %% [markdown]
# ## One run
#
# The threshold strategy on RSI 14: long after RSI falls below 30, short after it rises
# above 70, the position held in between. A decision at a trade fills at the next trade
# (never at its own price); no fees (the default), so that the checks below are exact.
# The run is stored in `backtest_results` under `backtest_id`.

# %%
res = ws.backtests.run(sid, symbol, "threshold", timeperiod=14, lower=30, upper=70)
assert res.backtest_id in set(ws.backtests.list(sid)["backtest_id"])
assert ws.backtests.show(sid, res.backtest_id)["metrics"] == res.metrics
assert res.indicator_ids == {"osc": "rsi_14"}
pd.Series({k: res.metrics[k] for k in ("points", "total_return", "buy_and_hold",
                                        "max_drawdown", "trades", "fills", "fees",
                                        "gap_threshold_s")})

# %% [markdown]
# ## Where the inputs came from
#
# The strategy read RSI 14 from the `indicators` table (computed and stored first if it
# was missing). The id is in `res.indicator_ids`; plain SQL reads the same rows, one per
# trade of the symbol, at the same (ts, seq) as the trades.

# %%
iid = res.indicator_ids["osc"]
rsi = ws.sql("SELECT ts, seq, value FROM indicators "
             "WHERE session_id = ? AND symbol = ? AND indicator_id = ? ORDER BY ts, seq",
             [sid, symbol, iid])
ticks = ws.sql("SELECT ts, seq, price FROM tick_prices "
               "WHERE session_id = ? AND symbol = ? ORDER BY ts, seq", [sid, symbol])
assert len(rsi) == len(ticks) == res.metrics["points"]
assert rsi["ts"].equals(ticks["ts"]) and rsi["seq"].equals(ticks["seq"])
rsi.iloc[12:17]

# %% [markdown]
# ## The fills, recomputed in pandas
#
# The target from the SQL-read RSI: +1 from a point below 30, −1 from a point above 70,
# held in between, flat before the first. An order is due whenever the target differs from
# the position last filled, and fills at the next trade, unless a recording gap (a step
# longer than `gap_threshold_s`) follows the decision: then it waits for the next point
# that can fill. So each run of one target fills at the trade after its first fillable
# point, if the target differs from what is held. The engine's fills are exactly there,
# at those trades' prices; the first is at the trade after the first RSI outside 30..70.

# %%
osc = rsi["value"]
events = pd.Series(np.where(osc < 30, 1.0, np.where(osc > 70, -1.0, np.nan)))
target = events.ffill().fillna(0.0)
gap = res.metrics["gap_threshold_s"]
to_next = ticks["ts"].shift(-1) - ticks["ts"]
fillable = to_next <= pd.Timedelta(seconds=gap) if gap is not None else to_next.notna()
runs = (target != target.shift()).cumsum()
held, fill_points = 0.0, []
for _, t in target[fillable].groupby(runs[fillable]):
    if t.iloc[0] != held:
        fill_points.append(t.index[0] + 1)
        held = t.iloc[0]
fills = res.fills
assert list(fills["ts"]) == list(ticks["ts"].iloc[fill_points])
assert np.array_equal(fills["price"], ticks["price"].iloc[fill_points])
decided = target.iloc[[p - 1 for p in fill_points]].to_numpy()  # what each fill reaches
assert np.array_equal(fills["side"], np.sign(decided - np.r_[0.0, decided[:-1]]))
first_signal = int(np.flatnonzero(((osc < 30) | (osc > 70)).to_numpy())[0])
first_fillable = first_signal + int(np.argmax(fillable.iloc[first_signal:].to_numpy()))
assert fills["ts"].iloc[0] == ticks["ts"].iloc[first_fillable + 1]
fills.head()

# %% [markdown]
# ## The total return, recomputed in pandas
#
# Without fees, equity moves from one trade to the next by the weight held times the
# price's return: the total return is the product of (1 + position · return) over the
# trades, with `position` the weight held after each point (`res.equity`) and the returns
# from the SQL-read prices.

# %%
eq = res.equity
assert (eq["ts"].to_numpy() == ticks["ts"].to_numpy()).all()
growth = (1 + eq["position"].shift(1) * ticks["price"].pct_change()).prod()
assert math.isclose(growth - 1, res.metrics["total_return"], rel_tol=1e-9, abs_tol=1e-12)
assert math.isclose(eq["equity"].iloc[-1], res.metrics["end_equity"], rel_tol=1e-12)
{"pandas": float(growth - 1), "engine": res.metrics["total_return"]}

# %% [markdown]
# Fees are paid on every fill, in basis points of the traded notional: the same run with
# 10 bps pays them and ends lower. It is another run (the fee is part of its id).

# %%
costly = ws.backtests.run(sid, symbol, "threshold", timeperiod=14, fee_bps=10)
assert costly.backtest_id != res.backtest_id and costly.metrics["fills"] == len(fills)
assert (costly.metrics["fees"] > 0) == (len(fills) > 0)
assert costly.metrics["end_equity"] <= res.metrics["end_equity"]
pd.DataFrame({"no fees": res.metrics, "10 bps": costly.metrics}).loc[
    ["total_return", "fees", "turnover", "end_equity"]]

# %% [markdown]
# ## A small grid
#
# Every combination is run on prices read once, each stored; the leaderboard ranks them by
# a metric (best first).

# %%
grid = ws.backtests.grid(sid, symbol, "threshold",
                         {"timeperiod": [7, 14, 21], "lower": [20, 30]}, metric="total_return")
board = grid.leaderboard
assert len(board) == 6 and board["total_return"].is_monotonic_decreasing
assert set(board["backtest_id"]) <= set(ws.backtests.list(sid)["backtest_id"])
assert res.backtest_id in set(board["backtest_id"])  # RSI 14, 30/70, no fees: the same run
board

# %% [markdown]
# ## Delete a run
#
# The grid's last-ranked run goes; its rows (run, equity, trades) are gone from the store.

# %%
victim = board["backtest_id"].iloc[-1]
removed = ws.backtests.delete(sid, victim)
assert removed > 0 and victim not in set(ws.backtests.list(sid)["backtest_id"])
left = ws.sql("SELECT count(*) AS n FROM backtest_results WHERE session_id = ? "
              "AND backtest_id = ?", [sid, victim])
assert int(left["n"].iloc[0]) == 0
try:
    ws.backtests.show(sid, victim)
    raise AssertionError("the deleted run is still readable")
except UnknownBacktest as e:
    print(e)

# %% [markdown]
# ## The Backtests panel
#
# Pick a strategy (plugins' too); its parameters appear as a form with their bounds, the
# symbol, ticks or bars, the fill, fees, slippage and long-only. *Run* stores the run and
# draws the price with the trades, the equity and its drawdown, and lists the metrics as
# stored; *Run grid* takes values like `timeperiod=7,14,21; lower=20,30`, with a progress
# bar and Cancel. The lower part lists the stored runs, to reopen or delete.
#
# Interactively you would pick, type and press the buttons; the next cell does the same
# through the panel's API.

# %%
from tsanalysis.widgets import BacktestPanel

panel = BacktestPanel(ws, session_id=sid)
panel.select_strategy("ma_cross")
panel.form.set(fast_period=1)  # out of bounds: refused, and Run is disabled
assert "fast_period must be an integer in [2, 100000]" in panel.form.errors["fast_period"]
assert panel._run_button.disabled
panel.form.set(fast_period=5, slow_period=20)
panel.configure(symbol=symbol, fee_bps=5, long_only=True)
run = panel.backtest()  # what the Run button does (here synchronously)
assert panel.last_error is None and panel.shown == run.backtest_id
assert panel.metrics == ws.backtests.show(sid, run.backtest_id)["metrics"]
assert run.backtest_id in panel.run_ids
panel
