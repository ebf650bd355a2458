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
# # Indicators
#
# Compute RSI, MACD and Bollinger Bands over a session, store them in the `indicators`
# table, read them back, and check that the stored numbers are TA-Lib's on the same input;
# then do the same from the Indicators panel.
#
# The notebook works on a fresh temporary DuckDB store unless `TSANALYSIS_NOTEBOOK_DB`
# names one (`default`, a `questdb://...` URL). On the user's default store the demo
# session it already has is used (computing again replaces the stored rows, it never
# duplicates them); anywhere else the runbook makes its own.

# %%
import numpy as np
import talib

from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
info = demo_session(ws, hours=0.5)
sid, symbol = info.session_id, info.symbols[0]
catalog = ws.indicators.catalog()
assert {"rsi", "macd", "bbands"} <= set(catalog["name"])
catalog.query("name in ['rsi', 'macd', 'bbands']")

# %% [markdown]
# ## Compute and store
#
# Names, parameters and outputs are TA-Lib's. Without an interval an indicator runs on the
# ticks (one point per trade); with one, on OHLCV bars at that interval (the stored bars,
# or bars built from the ticks). Each output is stored under an id derived from the name,
# the parameters, the output and the interval.

# %%
rsi = ws.indicators.compute(sid, symbol, "rsi", timeperiod=14)
macd = ws.indicators.compute(sid, symbol, "macd", interval="1m")
bbands = ws.indicators.compute(sid, symbol, "bbands", timeperiod=20, nbdevup=2, nbdevdn=2)
assert rsi.outputs == {"real": "rsi_14"}
assert macd.outputs["macdsignal"] == "macd_12_26_9_macdsignal.1m"
assert bbands.outputs["upperband"] == "bbands_20_2_2_0_upperband"
{r.indicator: r.outputs for r in (rsi, macd, bbands)}

# %% [markdown]
# The ids this runbook stored, counted with plain SQL: one row per input point and output
# (computing again replaces rows, never adds them). A reused demo session may hold other
# indicators too.

# %%
counts = ws.sql("SELECT indicator_id, count(*) AS n FROM indicators "
                "WHERE session_id = ? AND symbol = ? GROUP BY indicator_id ORDER BY indicator_id",
                [sid, symbol])
expected = {iid: r.rows for r in (rsi, macd, bbands) for iid in r.outputs.values()}
found = {i: n for i, n in zip(counts["indicator_id"], counts["n"], strict=True) if i in expected}
assert found == expected, (found, expected)
counts

# %% [markdown]
# ## Read back, and compare with TA-Lib
#
# The history comes back as a DataFrame (ts, seq, value; the warm-up is NaN). The same
# input handed to TA-Lib directly gives the same numbers, NaNs in the same places.

# %%
def stored(iid):
    return ws.indicators.history(sid, symbol, iid)["value"].to_numpy()


price = ws.ticks(sid, symbol, columns=["ts", "seq", "price"])["price"].to_numpy("float64")
close = ws.ohlcv(sid, symbol, "1m")["close"].to_numpy("float64")
direct = {
    "rsi_14": talib.RSI(price, timeperiod=14),
    **dict(zip(macd.outputs.values(), talib.MACD(close, 12, 26, 9), strict=True)),
    **dict(zip(bbands.outputs.values(), talib.BBANDS(price, 20, 2, 2), strict=True)),
}
for iid, values in direct.items():
    np.testing.assert_allclose(stored(iid), values, rtol=0, atol=1e-6, equal_nan=True)
    assert np.array_equal(np.isnan(stored(iid)), np.isnan(values)), iid
rsi_history = ws.indicators.history(sid, symbol, "rsi_14")
assert rsi_history["value"].isna().sum() == 14  # TA-Lib's lookback
rsi_history.iloc[12:17]

# %% [markdown]
# Reading is paged and time-filtered, for long sessions:

# %%
page = ws.indicators.history(sid, symbol, "rsi_14", offset=100, limit=50)
assert len(page) == 50 and np.allclose(page["value"], rsi_history["value"].iloc[100:150])
since = rsi_history["ts"].iloc[-10]
assert len(ws.indicators.history(sid, symbol, "rsi_14", start=since)) >= 10
ws.indicators.stored(sid)[["symbol", "indicator_id", "rows", "indicator", "interval"]]

# %% [markdown]
# ## The Indicators panel
#
# Pick any registered indicator (TA-Lib's whole catalogue is built in, and plugins are
# listed too); its parameters appear as a form with their bounds, a value out
# of bounds is refused with the indicator's own message. Choose ticks or bars and the
# symbols, press *Compute & store*: a progress bar, then the lines over the price (or in a
# pane below for oscillators) and the stored ids with their row counts.
#
# Interactively you would pick, type and press the button; the next cells do the same
# through the panel's API.

# %%
from tsanalysis.widgets import IndicatorPanel

panel = IndicatorPanel(ws, session_id=sid)
panel.select_indicator("bbands")
panel.form.set(timeperiod=1)  # out of bounds: refused, and the button is disabled
assert "timeperiod must be an integer in [2, 100000]" in panel.form.errors["timeperiod"]
assert panel._compute_button.disabled
panel.form.errors

# %%
panel.form.set(timeperiod=30)
panel.set_input("1m", [symbol])
results = panel.compute()  # what the button does (here synchronously)
assert panel.last_error is None and results[0].outputs["middleband"] == \
    "bbands_30_2_2_0_middleband.1m"
assert "bbands_30_2_2_0_middleband.1m" in panel.stored_ids
np.testing.assert_allclose(stored("bbands_30_2_2_0_middleband.1m"),
                           talib.SMA(close, 30), atol=1e-6, equal_nan=True)
panel
