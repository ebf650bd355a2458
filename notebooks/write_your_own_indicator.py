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
# # Writing your own indicator
#
# An indicator is a plugin: a class with a `register_indicators` hook that registers an
# `Indicator` (its name, typed parameters with bounds, inputs, outputs, warm-up and a
# vectorised compute function). Here we write one in ten lines, register it at run time,
# compute and store it like a built-in, check its numbers, see it in the Indicators panel,
# and unregister it.
#
# To ship it, put the class in a package and declare it under the `tsanalysis` entry-point
# group (`[project.entry-points.tsanalysis] mine = "my_package"`); `plugins/tsanalysis-talib`
# is a complete example, and its README the guide.
#
# The notebook works on a fresh temporary DuckDB store unless `TSANALYSIS_NOTEBOOK_DB`
# names one.

# %%
import numpy as np

from tsanalysis import hookimpl, plugins, ta
from tsanalysis.indicators import Indicator, Param, registry
from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
info = demo_session(ws, hours=0.5)
sid, symbol = info.session_id, info.symbols[0]

# %% [markdown]
# ## The plugin
#
# Distance of the close from its simple moving average, in percent. The name carries a
# namespace (`mine.`), so it never collides with a built-in or another plugin. `lookback`
# is the warm-up (the leading NaNs); `update="window"` tells `update` that a point depends
# on the last `timeperiod` inputs only.

# %%
class MyIndicators:
    @hookimpl
    def register_indicators(self, register):
        register(Indicator(
            name="mine.smadev", inputs=("close",), outputs=("real",),
            params=(Param("timeperiod", int, 10, minimum=2, maximum=10_000,
                          doc="bars in the moving average"),),
            lookback=lambda timeperiod: timeperiod - 1, update="window",
            compute=lambda inputs, timeperiod:
                100 * (inputs["close"] / ta.sma(inputs["close"], timeperiod) - 1),
            doc="Percent distance of the close from its SMA."))


plugin = plugins.register(MyIndicators(), name="mine")
assert "mine.smadev" in registry()
assert any(p.name == "mine" for p in plugins.list_plugins())
ws.indicators.catalog().query("name == 'mine.smadev'")

# %% [markdown]
# ## Compute, store, check
#
# It computes and persists like any built-in: on 1-minute bars here, stored under
# `mine.smadev_20.1m`. The numbers are checked against the same formula in pandas, and the
# warm-up is where `lookback` says.

# %%
res = ws.indicators.compute(sid, symbol, "mine.smadev", timeperiod=20, interval="1m")
assert res.outputs == {"real": "mine.smadev_20.1m"} and res.written == res.rows

close = ws.ohlcv(sid, symbol, "1m")["close"]
expected = 100 * (close / close.rolling(20).mean() - 1)
back = ws.indicators.history(sid, symbol, "mine.smadev_20.1m")
assert len(back) == len(close)
np.testing.assert_allclose(back["value"], expected, rtol=1e-9, atol=1e-12, equal_nan=True)
assert back["value"].iloc[:19].isna().all() and back["value"].iloc[19:].notna().all()
back.iloc[17:22]

# %% [markdown]
# A bad parameter is refused before any work, naming the bound:

# %%
try:
    ws.indicators.compute(sid, symbol, "mine.smadev", timeperiod=1)
except ValueError as e:  # tsanalysis.errors.InvalidInput
    message = str(e)
assert message == "mine.smadev: parameter timeperiod must be an integer in [2, 10000], got 1"
message

# %% [markdown]
# ## In the Indicators panel
#
# The panel offers every registered indicator, yours included, with a form generated from
# its declared parameters.

# %%
from tsanalysis.widgets import IndicatorPanel

panel = IndicatorPanel(ws, session_id=sid)
assert "mine.smadev" in panel.indicators
panel.select_indicator("mine.smadev")
assert panel.form.raw() == {"timeperiod": 10}
assert panel.form.fields["timeperiod"].bounds == "in [2, 10000]"
panel.set_input("1m", [symbol])
panel.compute()
assert panel.last_error is None and "mine.smadev_10.1m" in panel.stored_ids
panel

# %% [markdown]
# ## Unregister
#
# The stored rows stay; without the plugin nothing derives their ids any more (so
# `update` skips them until the plugin is back).

# %%
plugins.unregister(plugin)
assert "mine.smadev" not in registry()
left = ws.indicators.stored(sid, symbol).set_index("indicator_id")
assert left.loc["mine.smadev_20.1m", "indicator"] is None
left.loc[["mine.smadev_10.1m", "mine.smadev_20.1m"], ["rows", "indicator"]]
