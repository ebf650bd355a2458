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
# # Migrating a legacy CSV tree
#
# The old recorder wrote one directory per session, one per symbol, CSV files inside
# (`tick_prices.csv`, `orderbook.csv`, `indicators/<id>.csv`) and a
# `session_metadata.json`. This runbook migrates such a tree into the store: a dry run
# first (it reads and validates everything and writes nothing), then the migration, whose
# figures must be the dry run's; a second run adds nothing. Then the same with the
# Migration panel.
#
# By default it generates a small tree with the awkward cases real trees have (a bad row,
# a truncated file, an empty file, a file mixing timestamp forms, missing metadata). To
# migrate a real tree, set `LEGACY_DIR`; the store is a temporary one unless
# `TSANALYSIS_NOTEBOOK_DB` names one.

# %% tags=["parameters"]
LEGACY_DIR = None  # the legacy tree; None: generate a sample tree in a temporary directory

# %%
import shutil
import tempfile
import uuid
from pathlib import Path

import pandas as pd

from tsanalysis import schema
from tsanalysis.migrate.generator import generate_tree
from tsanalysis.notebook import open_workspace

ws = open_workspace()
sample = None
if LEGACY_DIR is None:
    # fresh session ids, so that a real store's sessions are never touched
    sample = generate_tree(Path(tempfile.mkdtemp(prefix="tsanalysis-legacy-")) / "legacy",
                           rows=300, prefix=f"legacy-{uuid.uuid4().hex[:6]}")
    LEGACY_DIR = sample.root
sorted(p.relative_to(LEGACY_DIR).as_posix() for p in Path(LEGACY_DIR).rglob("*.*"))[:8]

# %% [markdown]
# ## Dry run
#
# Everything is read and validated; nothing is written. Refused files are listed with the
# reason, bad rows with their line.

# %%
dry = ws.migrate_legacy(LEGACY_DIR, dry_run=True)
if sample is not None:  # the generator knows what a migration must find
    assert {k: dry.figures()[k] for k in sample.expected()} == sample.expected()
ids = [s.session_id for s in dry.sessions]
assert all(ws.store.session_rows(i).empty for i in ids)  # nothing written
pd.Series(dry.figures())

# %%
pd.DataFrame([e.to_dict() for e in dry.error_details])[["path", "line", "reason"]]

# %% [markdown]
# ## Migrate
#
# The same figures as the dry run; the rows are in the store, per session and table, as
# many as the tree holds (counted with plain SQL).

# %%
stats = ws.migrate_legacy(LEGACY_DIR)
assert stats.figures() == dry.figures()


def rows_in_store(session_id: str, table: str) -> int:
    return int(ws.sql(f"SELECT count(*) AS n FROM {table} WHERE session_id = ?",
                      [session_id])["n"].iloc[0])


if sample is not None:
    assert {k: rows_in_store(*k) for k in sample.rows_by_table()} == sample.rows_by_table()
pd.DataFrame([{"session": i, **{t.name: rows_in_store(i, t.name) for t in schema.CHILD_TABLES}}
              for i in ids])

# %% [markdown]
# ## A second run adds nothing
#
# Every file already migrated is recognised (by its content) and skipped; the refused ones
# are refused again.

# %%
before = {(i, t.name): rows_in_store(i, t.name) for i in ids for t in schema.CHILD_TABLES}
again = ws.migrate_legacy(LEGACY_DIR)
assert again.rows_migrated == 0 and again.sessions_created == 0
assert {(i, t.name): rows_in_store(i, t.name) for i in ids for t in schema.CHILD_TABLES} \
    == before
pd.Series(again.figures())

# %% [markdown]
# ## The Migration panel
#
# Type the tree's directory (or press *Generate a sample tree*), press *Dry run*, read
# what it would do; *Migrate* is enabled only once a dry run of exactly these settings is
# shown. New sessions show up at once in every other panel of the workspace (the
# Dashboard's Sessions tab, for one). Here it points at the tree migrated above: its dry
# run finds everything already present.

# %%
from tsanalysis.widgets import MigrationPanel

panel = MigrationPanel(ws)
panel.set_path(LEGACY_DIR)
assert panel._migrate_button.disabled  # no dry run yet
panel.dry_run()  # what the Dry run button does
assert panel.can_migrate and not panel._migrate_button.disabled
assert panel.dry_stats.rows_migrated == 0 and panel.dry_stats.files_migrated == 0
panel.migrate()
assert panel.stats.figures() == panel.dry_stats.figures()
assert panel._migrate_button.disabled  # the next migration needs its own dry run
panel

# %% [markdown]
# ## Clean up
#
# The sample's sessions are deleted again, so a real store is left as it was (a real
# tree's sessions are kept, of course).

# %%
if sample is not None:
    for i in ids:
        ws.sessions.delete(i, force=True)  # a session with refused files may stay active
        assert ws.store.session_rows(i).empty
    shutil.rmtree(sample.root.parent)
