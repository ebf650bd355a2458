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
# # Delete a session and prove nothing is left
#
# Deleting a session removes every row with its id from every table, children first and
# the session row last, and nothing else. This runbook deletes one session, then proves it
# with plain SQL: no table holds a row with the id, and another session's rows are all
# still there. It also shows that a session still recording is refused.
#
# It works on a temporary store unless `TSANALYSIS_NOTEBOOK_DB` names one. To delete a
# real session, set `SESSION_ID` below; by default a demo session is made for the purpose.

# %% tags=["parameters"]
SESSION_ID = None  # the session to delete; None: a fresh demo session

# %%
import numpy as np
import pandas as pd

import tsanalysis
from tsanalysis import schema
from tsanalysis.notebook import open_workspace

ws = open_workspace()
doomed = SESSION_ID or ws.demo(hours=0.5, seed=1).session_id
keep = ws.demo(hours=0.5, seed=2).session_id  # the bystander: must be left untouched

# %% [markdown]
# The demo has ticks, quotes and bars but no indicators or backtests. A few rows of each
# (a moving average, a toy equity curve) make sure every table has something to delete.

# %%
def add_indicator_and_backtest(session_id: str) -> None:
    bars = ws.ohlcv(session_id, "BTC/USDT", interval="1m")
    n = len(bars)
    ws.store.write("indicators", pd.DataFrame({
        "session_id": session_id, "symbol": "BTC/USDT", "indicator_id": "sma_5",
        "seq": np.arange(n, dtype="int64"), "ts": bars["ts"],
        "value": bars["close"].rolling(5).mean(), "confidence": 1.0}))
    ws.store.write("backtest_results", pd.DataFrame({
        "session_id": session_id, "symbol": "BTC/USDT", "backtest_id": "demo",
        "seq": np.arange(n, dtype="int64"), "ts": bars["ts"], "strategy": "hold",
        "parameters": "{}", "equity": 1000 * bars["close"] / bars["close"].iloc[0],
        "position": 1.0, "pnl": 0.0, "metrics": "{}"}))


if SESSION_ID is None:
    add_indicator_and_backtest(doomed)
add_indicator_and_backtest(keep)

# %% [markdown]
# ## Count with plain SQL
#
# The proof does not go through the code that deletes: one `count(*)` per table, the id
# bound as a parameter.

# %%
TABLES = [t.name for t in schema.TABLES]


def rows_per_table(session_id: str) -> dict[str, int]:
    return {t: int(ws.sql(f"SELECT count(*) AS n FROM {t} WHERE session_id = ?",
                          [session_id])["n"].iloc[0]) for t in TABLES}


before = rows_per_table(doomed)
before_keep = rows_per_table(keep)
if SESSION_ID is None:
    assert all(n > 0 for n in before.values()), before
pd.DataFrame({"to delete": before, "bystander": before_keep})

# %% [markdown]
# ## The delete panel
#
# It shows what will be removed. The Delete button stays disabled until the exact session
# id is typed; a session still recording is refused. Interactively, type the id and press
# Delete; the next cell does the same through the panel's API (and uses your result if you
# already pressed the button).

# %%
from tsanalysis.widgets import DeletePanel

panel = DeletePanel(ws, session_id=doomed)
assert panel.counts == before
assert not panel.can_delete  # nothing typed yet
panel

# %%
result = panel.result or panel.delete(confirmation=doomed)
assert result.session_id == doomed
assert result.deleted == before, (result.deleted, before)
result.deleted

# %% [markdown]
# ## Nothing is left
#
# Every table, counted again with plain SQL; and the session is gone from every read.

# %%
after = rows_per_table(doomed)
assert sum(after.values()) == 0, after
assert doomed not in ws.sessions.frame()["session_id"].tolist()
try:
    ws.sessions.get(doomed)
    raise AssertionError("the deleted session can still be read")
except tsanalysis.SessionNotFound:
    pass
after

# %% [markdown]
# ## The bystander is untouched
#
# Same counts in every table as before the delete.

# %%
assert rows_per_table(keep) == before_keep
pd.DataFrame({"before": before_keep, "after": rows_per_table(keep)})

# %% [markdown]
# ## A session still recording is refused
#
# Deleting an `active` session would lose rows being written (or leave a recorder
# writing into a session that no longer exists). The delete is refused and nothing is
# removed; `force=True` (the panel's separate Force button) overrides it.

# %%
recording = ws.sessions.create(["BTC/USDT"]).session_id
try:
    ws.sessions.delete(recording)
    raise AssertionError("an active session was deleted")
except tsanalysis.SessionActive as e:
    print(e)
assert ws.sessions.get(recording).status == "active"

# %% [markdown]
# ## Clean up
#
# The sessions this runbook made for the demonstration.

# %%
ws.sessions.complete(recording)
for s in (keep, recording):
    ws.sessions.delete(s)
    assert sum(rows_per_table(s).values()) == 0
