"""The runbooks: paired with their py:percent text, committed without outputs; and the
helpers they share (:mod:`tsanalysis.notebook`). nbval runs them (``make test``)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

import tsanalysis
from tsanalysis.notebook import ENV_NOTEBOOK_DB, demo_session, is_temporary, open_workspace

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_runbooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "delete_session", "quality", "export", "migrate_legacy", "indicators",
            "write_your_own_indicator", "backtest", "rollback_migration"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_py_percent_pair_are_in_sync(path):
    paired = path.with_suffix(".py")
    assert paired.exists(), f"{paired.name} is missing: run `jupytext --sync {path}`"
    nb, py = jupytext.read(path), jupytext.read(paired)
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    cells = [(c.cell_type, c.source) for c in nb.cells]
    assert cells == [(c.cell_type, c.source) for c in py.cells], (
        f"{path.name} and {paired.name} differ: run `jupytext --sync {path}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has stored outputs: clear them before committing")


def test_runbooks_use_a_temporary_store_by_default(monkeypatch):
    monkeypatch.delenv(ENV_NOTEBOOK_DB, raising=False)
    ws = open_workspace()
    try:
        assert is_temporary(ws) and ws.sessions.list() == []
    finally:
        ws.close()


def test_runbooks_use_the_default_store_when_told(monkeypatch, tmp_path):
    url = f"duckdb:///{tmp_path}/default.duckdb"
    monkeypatch.setenv("TSANALYSIS_DB", url)
    monkeypatch.setenv(ENV_NOTEBOOK_DB, "default")  # what `make lab` sets
    with open_workspace() as ws:
        assert ws.url.endswith(f"{tmp_path}/default.duckdb") and not is_temporary(ws)
    monkeypatch.setenv(ENV_NOTEBOOK_DB, f"duckdb:///{tmp_path}/other.duckdb")
    with open_workspace() as ws:
        assert ws.url.endswith("/other.duckdb")


def test_demo_session_reuses_the_newest_completed_demo_on_the_default_store_only(
        duckdb_ws, monkeypatch):
    first = demo_session(duckdb_ws, hours=0.05)
    duckdb_ws.sessions.create(["BTC/USDT"])  # not a demo
    second = duckdb_ws.demo(hours=0.05, seed=7)
    assert demo_session(duckdb_ws, reuse=True).session_id == second.session_id \
        != first.session_id
    own = demo_session(duckdb_ws, hours=0.05)  # not the default store: a session of its own
    assert own.session_id not in (first.session_id, second.session_id)
    monkeypatch.setenv("TSANALYSIS_NOTEBOOK_DB", "default")
    assert demo_session(duckdb_ws).session_id == own.session_id
    fresh = demo_session(duckdb_ws, hours=0.05, reuse=False)
    assert fresh.session_id not in (first.session_id, second.session_id)
    assert isinstance(fresh, tsanalysis.SessionInfo)
