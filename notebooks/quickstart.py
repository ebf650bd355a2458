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
# # Quickstart
#
# A recorded market-data session, from the store to the dashboard. The notebook works on a
# fresh temporary DuckDB store unless `TSANALYSIS_NOTEBOOK_DB` names one: `make lab` sets it
# to `default` (the store the command line uses, where `make lab` wrote a demo session);
# a `questdb://...` URL works too. Every claim below is checked by an `assert`, because CI
# runs this notebook.

# %%
from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
ws

# %% [markdown]
# ## A session
#
# The demo generator writes a completed session of 1 Hz trades and top-of-book quotes for
# three symbols, with defects planted at known places (gaps, spikes, stale prices, crossed
# quotes): the quality checks must find them. On the user's default store (`make lab`)
# the demo session it already has is used.

# %%
info = demo_session(ws, hours=1)
sid = info.session_id
assert info.status == "completed"
assert info.rows["tick_prices"] > 0 and info.rows["tick_orderbook"] > 0
{"session": sid, **info.rows}

# %%
ws.sessions.frame().tail(3)

# %% [markdown]
# ## Ticks and bars
#
# Reads are filtered in the database. Ticks come in time order; trades sharing a timestamp
# keep their arrival order (`seq`). Bars are built from the ticks in SQL, so their volume is
# the ticks' volume.

# %%
ticks = ws.ticks(sid, "BTC/USDT")
assert len(ticks) == info.tables["tick_prices"]["BTC/USDT"].rows
assert ticks["ts"].is_monotonic_increasing
ticks.head(3)

# %%
bars = ws.ohlcv(sid, "BTC/USDT", interval="5m")
assert abs(bars["volume"].sum() - ticks["volume"].sum()) < 1e-6 * ticks["volume"].sum()
assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
bars.head(3)

# %% [markdown]
# The defects planted in the demo, for later comparison with what the quality checks find:

# %%
import pandas as pd

defects = pd.DataFrame(info.metadata["demo"]["defects"])
assert set(defects["kind"]) >= {"gap", "spike", "stale", "crossed", "locked"}
defects.groupby("kind").size()

# %% [markdown]
# ## The dashboard
#
# Sessions (pick one, refresh), an overview of the prices (bars when there are many ticks;
# gaps show as breaks), and delete (type the id to confirm). A change made anywhere on
# this workspace (a new session, a delete) refreshes every tab.

# %%
from tsanalysis.widgets import Dashboard

dash = Dashboard(ws, session_id=sid)
assert dash.session_id == sid and sid in dash.header
assert all(p.last_error is None for p in dash.panels.values()), [
    p.last_error for p in dash.panels.values()]
assert sid in dash.panel("sessions").session_ids
dash
