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
# # Rolling back a migration's indicators
#
# The old system's rollback of a bad migration was "delete the migrated indicators of
# these sessions". This runbook does that with the selective delete: it migrates a
# generated legacy tree, deletes the migrated `rsi_14` rows of one session (a dry run
# first), proves with plain SQL that exactly those rows went and that every other row of
# every session is still there, re-runs the migration to put them back, and shows the
# audit trail that recorded it all.
#
# The store is a temporary one unless `TSANALYSIS_NOTEBOOK_DB` names one; the sessions it
# creates have fresh ids and are deleted at the end.

# %%
import tempfile
import uuid
from pathlib import Path

import pandas as pd

from tsanalysis.migrate.generator import generate_tree
from tsanalysis.notebook import open_workspace

ws = open_workspace()
sample = generate_tree(Path(tempfile.mkdtemp(prefix="tsanalysis-legacy-")) / "legacy",
                       rows=200, prefix=f"rollback-{uuid.uuid4().hex[:6]}", awkward=False)
stats = ws.migrate_legacy(sample.root)
ids = sorted(s.session_id for s in stats.sessions)
assert stats.files_failed == 0 and len(ids) >= 2
pd.Series(stats.figures())


# %% [markdown]
# ## Every row, counted with plain SQL
#
# Per session, table, symbol and indicator id: the reference the rollback is checked
# against.

# %%
def counts() -> pd.DataFrame:
    """Rows per session, table, symbol and indicator id, straight from the tables."""
    marks = ", ".join("?" for _ in ids)
    parts = []
    for table in ("tick_prices", "tick_orderbook", "aggregated_ohlcv", "indicators"):
        ind = "indicator_id" if table == "indicators" else "''"
        parts.append(ws.sql(
            f"SELECT session_id, '{table}' AS tbl, symbol, {ind} AS indicator_id, "
            f"count(*) AS n FROM {table} WHERE session_id IN ({marks}) "
            f"GROUP BY session_id, symbol, {ind}", ids))
    frame = pd.concat(parts, ignore_index=True)
    frame["n"] = frame["n"].astype(int)
    return frame.set_index(["session_id", "tbl", "symbol", "indicator_id"])["n"].sort_index()


before = counts()
before.unstack("tbl", fill_value=0)

# %% [markdown]
# ## Delete the migrated RSI of one session
#
# A dry run first: it reports exactly what the delete will remove and changes nothing.

# %%
victim = ids[0]
dry = ws.delete(victim, indicator_ids=["rsi_14"], dry_run=True)
assert counts().equals(before)                  # the dry run changed nothing
expected = int(before.loc[(victim, "indicators", slice(None), "rsi_14")].sum())
assert dry.deleted == {"indicators": expected} and expected > 0
done = ws.delete(victim, indicator_ids=["rsi_14"])
assert done.deleted == dry.deleted
done.to_dict()

# %% [markdown]
# ## Only those rows went
#
# Compared with plain SQL: the rows that changed are exactly the victim's `rsi_14` rows;
# every other session, table, symbol and indicator is as it was.

# %%
after = counts().reindex(before.index, fill_value=0)
changed = after[after != before]
assert set(changed.index.get_level_values("session_id")) == {victim}
assert set(changed.index.get_level_values("indicator_id")) == {"rsi_14"}
assert (changed == 0).all() and int((before - after).sum()) == expected
changed.to_frame("rows now").assign(before=before[changed.index])

# %% [markdown]
# ## Re-run the migration to put them back
#
# The migration notices that the store holds fewer indicator rows than it recorded for
# that session and symbol, and migrates those files again (replacing, never duplicating).

# %%
again = ws.migrate_legacy(sample.root)
assert counts().equals(before)
pd.Series(again.figures())

# %% [markdown]
# ## The audit trail
#
# The dry run and the delete are recorded with the selection, the rows per table, who ran
# them and from where.

# %%
trail = ws.audit(victim)
assert list(trail["action"]) == ["delete", "delete"]
assert list(trail["dry_run"]) == [True, False]
assert trail["rows_per_table"].iloc[-1] == {"indicators": expected}
trail[["ts", "action", "dry_run", "selection", "rows_per_table", "os_user", "command"]]

# %% [markdown]
# ## Clean up

# %%
for i in ids:
    ws.sessions.delete(i, force=True)
    assert ws.store.session_rows(i).empty
