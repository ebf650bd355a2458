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
# # Exporting a session
#
# Export a session's ticks to Parquet, and the whole session to a zip bundle; check the
# bundle's manifest against its members (rows, bytes, SHA-256); import the bundle back
# under a new id and compare every table with the original; then the same from the Export
# panel, including what happens when the file already exists.
#
# The notebook works on a temporary store unless `TSANALYSIS_NOTEBOOK_DB` names one, and
# writes to a temporary directory unless `EXPORT_DIR` names one: set it to `"exports"` to
# keep the files beside this notebook (the panel then links to them).

# %% tags=["parameters"]
EXPORT_DIR = None  # where files go; None: a temporary directory, removed at the end

# %%
import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tsanalysis import schema
from tsanalysis.notebook import demo_session, open_workspace

ws = open_workspace()
info = demo_session(ws, hours=0.5)
sid = info.session_id
out = Path(EXPORT_DIR or tempfile.mkdtemp(prefix="tsanalysis-export-"))
out.mkdir(parents=True, exist_ok=True)
ws.export.catalog()

# %% [markdown]
# ## One table to Parquet
#
# A one-table format holds `tick_prices` unless told otherwise, every symbol, with the
# `session_id` and `symbol` columns. The file is streamed from the store and renamed into
# place when complete; its checksum is computed on the way.

# %%
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ticks_file = out / f"{sid}_ticks.parquet"
res = ws.export.run(sid, "parquet", ticks_file, overwrite=True)
table = pq.read_table(ticks_file)
assert res.rows == table.num_rows == info.rows["tick_prices"]
assert res.sha256 == sha256(ticks_file) and res.bytes == ticks_file.stat().st_size
assert sorted(set(table.column("symbol").to_pylist())) == sorted(info.symbols)
res.to_dict()

# %% [markdown]
# ## The whole session as a bundle
#
# `zip` holds one member per table and symbol (Parquet inside by default) and a
# `manifest.json` with the session's row and, per member, its rows, bytes and SHA-256.
# Everything the manifest claims is checked here against the archive itself.

# %%
bundle = out / f"{sid}.zip"
bres = ws.export.run(sid, "zip", bundle, overwrite=True)
with zipfile.ZipFile(bundle) as zf:
    manifest = json.loads(zf.read("manifest.json"))
    for f in manifest["files"]:
        data = zf.read(f["path"])
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
        assert len(data) == f["bytes"], f["path"]
        assert pq.read_table(zf.open(f["path"])).num_rows == f["rows"], f["path"]
assert manifest["session"]["session_id"] == sid
assert sum(f["rows"] for f in manifest["files"]) == bres.rows == sum(info.rows.values())
pd.DataFrame(manifest["files"]).drop(columns="schema", errors="ignore")

# %% [markdown]
# ## Import it back
#
# Under a new id: every table must hold the same rows as the original, value for value.

# %%
copy_id = f"{sid}-copy"
imported = ws.import_bundle(bundle, session_id=copy_id)
assert imported.total == bres.rows


def rows_of(session_id: str, table: str) -> pd.DataFrame:
    frame = ws.store.read(table, session_id).drop(columns="session_id")
    return frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)


for t in schema.CHILD_TABLES:
    pd.testing.assert_frame_equal(rows_of(sid, t.name), rows_of(copy_id, t.name))
copied = ws.sessions.get(copy_id)
assert copied.rows == info.rows and copied.symbols == info.symbols
imported.to_dict()

# %% [markdown]
# ## The Export panel
#
# Pick a format among the registered ones (plugins included), the tables, symbols (none
# ticked: all) and a time range, then Export: a progress bar while it streams, then a link
# to the file and what it holds. An existing file is refused unless Overwrite is ticked,
# and the refusal is shown in the panel. The next cells set the form and press the button.

# %%
from tsanalysis.widgets import ExportPanel

panel = ExportPanel(ws, session_id=sid, directory=out)
panel.set_scope(format="csv", tables=["aggregated_ohlcv"], symbols=["BTC/USDT"])
csv = panel.export()  # what the Export button does (synchronously here)
bars = pd.read_csv(csv.path)
assert len(bars) == csv.rows == len(ws.ohlcv(sid, "BTC/USDT", "1m"))
assert csv.sha256 in panel.result_text and csv.path.name in panel.link_html

panel._export_button.click()  # the same file again, without Overwrite
panel.wait()  # (a click runs in the background: wait for it)
assert "exists" in panel.status and panel.last_error is not None
panel

# %% [markdown]
# ## Clean up
#
# The copy made by the import, and the temporary directory.

# %%
ws.sessions.delete(copy_id)
if EXPORT_DIR is None:
    shutil.rmtree(out)
