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
# # Data quality
#
# Assess a whole session (every registered check on every row of every symbol), check
# that every defect planted in a demo session is found where it was planted, then do the
# same from the Quality panel: pick checks, adjust their thresholds, run, read the score,
# the findings and the picture.
#
# The notebook works on a fresh temporary DuckDB store unless `TSANALYSIS_NOTEBOOK_DB`
# names one (`default`, a `questdb://...` URL); on the user's default store the demo
# session it already has is assessed, anywhere else the runbook makes its own.

# %%
from tsanalysis.demo import Defect
from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
info = demo_session(ws, hours=1)
sid = info.session_id
defects = [Defect.from_dict(d) for d in info.metadata["demo"]["defects"]]
{"session": sid, "defects planted": len(defects), **info.rows}

# %%
report = ws.quality.run(sid)  # every registered check, every row of every symbol
assert report.errors == [] and 0 < report.score < 100
report.summary_frame()

# %% [markdown]
# Every planted defect is in the findings, at the instant it was planted:

# %%
kind_to_check = {"gap": "gaps", "spike": "prices", "stale": "stale", "crossed": "orderbook",
                 "locked": "orderbook"}
found = {(f.check, f.symbol, f.start) for f in report.findings}
missing = [d for d in defects if (kind_to_check[d.kind], d.symbol, d.start) not in found]
assert missing == [], missing
report.findings_frame().query("check != 'completeness'").head(8)

# %%
report.recommendations[:5]

# %% [markdown]
# ## The Quality panel
#
# Tick the checks to run; each check's parameters (declared by the check, with their
# bounds) are in a form below the list. A value out of bounds is refused with the check's
# own message and Run stays disabled. Run assesses the whole session with a progress bar,
# then shows the score with its breakdown per symbol and check, the prices with gaps shaded
# and anomalies marked, the recommendations and the findings.
#
# Interactively you would tick, type and press Run; the next cells do the same through the
# panel's API.

# %%
from tsanalysis.widgets import QualityPanel

panel = QualityPanel(ws, session_id=sid)
assert panel.checks == [c["name"] for c in report.checks]  # every registered check

panel.form("prices").set(window=1)  # out of bounds: refused, and Run is disabled
assert "must be >= 3" in panel.form("prices").errors["window"]
assert panel._run_button.disabled
panel.form("prices").errors

# %%
panel.form("prices").set(window=31, n_sigmas=6.0)
panel.select_checks(["gaps", "prices", "stale"])
assert not panel._run_button.disabled
mine = panel.assess()  # what pressing Run does (here synchronously: the next line sees it)
assert panel.report is mine and panel.last_error is None
assert [c["name"] for c in mine.checks] == ["gaps", "prices", "stale"]
same = ws.quality.run(sid, checks=["gaps", "prices", "stale"], params={"prices": {"n_sigmas": 6.0}})
assert mine.score == same.score and len(mine.findings) == len(same.findings)
# a tighter outlier band finds at least the spikes the default one found
assert {f.start for f in report.findings if f.check == "prices"} <= \
    {f.start for f in mine.findings if f.check == "prices"}
panel

# %% [markdown]
# ## Clean data scores 100
#
# The same generator without defects: nothing is flagged. (The session is removed at the
# end, so a real store is left as it was.)

# %%
clean = ws.demo(hours=0.5, seed=42, symbols=["BTC/USDT"], defects=False).session_id
clean_report = ws.quality.run(clean)
assert clean_report.score == 100 and clean_report.findings == []
ws.sessions.delete(clean)
clean_report.score
