"""MigrationPanel: a dry run first (same settings, same tree), then the migration."""

from __future__ import annotations

import uuid

import pytest

from tsanalysis.errors import InvalidInput
from tsanalysis.migrate.generator import generate_tree
from tsanalysis.widgets import MigrationPanel, SessionBrowser
from tsanalysis.widgets._base import plain_text


@pytest.fixture
def prefix():
    """Session ids of the tree, fresh for each test (the QuestDB server is shared)."""
    return f"lg{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tree(tmp_path, prefix):
    return generate_tree(tmp_path / "legacy", rows=120, prefix=prefix)


def stored(ws, tree):
    """(session, table) -> rows in the store, counted with plain SQL."""
    out = {}
    for (session_id, table) in tree.rows_by_table():
        out[(session_id, table)] = int(ws.sql(
            f"SELECT count(*) AS n FROM {table} WHERE session_id = ?", [session_id]
        )["n"].iloc[0])
    return out


def test_migrate_is_disabled_until_a_dry_run_of_these_settings(ws, tree):
    p = MigrationPanel(ws)
    assert p._dry_button.disabled and p._migrate_button.disabled
    p.set_path(tree.root)
    assert not p._dry_button.disabled and p._migrate_button.disabled
    assert "dry run of these settings first" in plain_text(p._why.value)
    p._migrate_button.click()  # .click() ignores `disabled`: the action checks again
    assert isinstance(p.last_error, InvalidInput) and "nothing was migrated" in p.status
    assert ws.sessions.frame().empty or not set(ws.sessions.frame()["session_id"]) & {
        s.session_id for s in tree.sessions}
    p._dry_button.click()
    assert p.last_error is None, p.last_error
    assert p.can_migrate and not p._migrate_button.disabled
    assert sum(stored(ws, tree).values()) == 0  # a dry run writes nothing
    p._skip_errors.value = True  # other settings: the dry run shown is not theirs
    assert p._migrate_button.disabled and "other settings" in plain_text(p._why.value)
    p._skip_errors.value = False
    assert p.can_migrate


def test_dry_run_then_migrate_writes_exactly_what_the_tree_holds(ws, tree):
    browser = SessionBrowser(ws)  # another panel on the workspace
    p = MigrationPanel(ws)
    p.set_path(tree.root)
    p._dry_button.click()
    dry = p.dry_stats
    expected = tree.expected()
    assert {k: dry.figures()[k] for k in expected} == expected
    text = p.result_text
    assert "Dry run (nothing written)" in text
    assert f"rows migrated {expected['rows_migrated']:,}" in text
    assert all(s.session_id in text for s in tree.sessions)
    assert "Files with problems" in text and "mixes" in text  # the refused file, and why
    p._migrate_button.click()
    assert p.last_error is None, p.last_error
    stats = p.stats
    assert stats.figures() == dry.figures()
    assert stored(ws, tree) == tree.rows_by_table()
    assert p.progress.last[0] == p.progress.last[1] > 0
    text = p.result_text
    assert text.startswith("Migration of") and "dry run migration" in text
    assert "Migrated" in p.status and "differ" not in p.status
    assert "migrated " in p.log_text and "failed " in p.log_text  # one line a file
    # the new sessions reached the other panels; the dry run is used up
    assert {s.session_id for s in tree.sessions} <= set(browser.session_ids)
    assert not p.can_migrate and p._migrate_button.disabled


def test_a_rerun_adds_nothing(ws, tree):
    p = MigrationPanel(ws)
    p.set_path(tree.root)
    p.dry_run()
    p.migrate()
    before = stored(ws, tree)
    again = p.dry_run()
    assert again.rows_migrated == 0 and again.sessions_created == 0
    assert again.files_skipped == tree.expected()["files_migrated"] + \
        tree.expected()["files_skipped"]
    p.migrate()
    assert p.stats.rows_migrated == 0 and stored(ws, tree) == before


def test_a_tree_changed_after_the_dry_run_is_refused(ws, tree, prefix):
    p = MigrationPanel(ws)
    p.set_path(tree.root)
    p.dry_run()
    (tree.root / f"{prefix}-0000" / "BTC_USDT" / "tick_prices.csv").write_text(
        "timestamp,price,volume\n")
    with pytest.raises(InvalidInput, match="changed since the dry run"):
        p.migrate()
    assert sum(stored(ws, tree).values()) == 0 and not p.can_migrate


def test_narrowed_settings_are_passed_on(ws, tree, prefix):
    p = MigrationPanel(ws)
    p.set_path(tree.root)
    p._sessions.value = f"{prefix}-0002"
    p._skip_errors.value = True
    p._dry_button.click()
    assert [s.session_id for s in p.dry_stats.sessions] == [f"{prefix}-0002"]
    p._migrate_button.click()
    assert p.last_error is None, p.last_error
    rows = stored(ws, tree)
    assert all(n == 0 for (s, _), n in rows.items() if s != f"{prefix}-0002")
    assert sum(rows.values()) == p.stats.rows_migrated > 0


def test_a_missing_directory_is_shown_in_the_panel(ws, tmp_path):
    p = MigrationPanel(ws)
    p.set_path(tmp_path / "nowhere")
    p._dry_button.click()
    assert isinstance(p.last_error, InvalidInput) and "no such directory" in p.status
    assert not p.can_migrate


def test_the_sample_tree_button(ws):
    p = MigrationPanel(ws)
    p._sample_button.click()
    assert p.last_error is None, p.last_error
    root = p.sample.root
    assert p.path == root and root.is_dir() and len(p.sample.files) > 10
    assert "Sample tree written" in p.status
    p.dry_run()
    assert p.dry_stats.files_found == len(p.sample.files)
    p.close()
    assert not root.exists()  # the temporary directory goes with the panel


def test_a_change_to_a_session_of_the_tree_makes_the_dry_run_stale(ws, tree):
    p = MigrationPanel(ws)
    p.set_path(tree.root)
    p.dry_run()
    p.migrate()
    p.dry_run()
    assert p.can_migrate
    doomed = tree.sessions[0].session_id
    ws.sessions.delete(doomed, force=True)  # the dry run said "already present"
    assert not p.can_migrate and "dry-run again" in p.log_text
    p.dry_run()
    assert p.dry_stats.sessions[0].action == "create" and p.can_migrate
