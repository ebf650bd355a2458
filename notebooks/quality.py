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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data quality
#
# A demo session with known defects in a temporary store: assess the whole session, check that every planted defect is found where it was planted, and look at the report.

# %%
import tempfile, tsanalysis
from tsanalysis.demo import Defect

STORE = None  # e.g. "questdb://localhost"; None = a temporary DuckDB file
ws = tsanalysis.connect(STORE or f"duckdb:///{tempfile.mkdtemp()}/quality.duckdb")
info = ws.demo(hours=2, seed=42, symbols=["BTC/USDT", "ETH/USDT"])
sid = info.session_id
defects = [Defect.from_dict(d) for d in info.metadata["demo"]["defects"]]
len(defects)

# %%
report = ws.quality(sid)   # every registered check, every row of every symbol
assert report.errors == [] and 0 < report.score < 100
report

# %% [markdown]
# Every planted defect is in the findings, at the instant it was planted:

# %%
kind_to_check = {"gap": "gaps", "spike": "prices", "stale": "stale", "crossed": "orderbook",
                 "locked": "orderbook"}
found = {(f.check, f.symbol, f.start) for f in report.findings}
missing = [d for d in defects if (kind_to_check[d.kind], d.symbol, d.start) not in found]
assert missing == [], missing
report.findings_frame().query("check != 'completeness'").head(12)

# %%
report.recommendations[:6]

# %% [markdown]
# Clean data scores 100 with nothing flagged:

# %%
clean = ws.demo(hours=2, seed=42, symbols=["BTC/USDT"], defects=False).session_id
clean_report = ws.quality(clean)
assert clean_report.score == 100 and clean_report.findings == []
clean_report.score
