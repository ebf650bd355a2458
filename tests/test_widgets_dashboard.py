"""Dashboard: tabs from the registry around one session; changes anywhere refresh all."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from tsanalysis.widgets import Dashboard, Panel, register_tab, registered_tabs, unregister_tab
from tsanalysis.widgets._base import plain_text


@pytest.fixture
def demo_pair(ws):
    a = ws.demo(hours=0.05, seed=1).session_id
    b = ws.demo(hours=0.05, seed=2).session_id
    return a, b


class Echo(Panel):
    """A stand-in for a phase-2 panel: shows the session it is given."""

    title = "Echo"

    def _build(self):
        self.label = widgets.Label()
        return [self.label]

    def refresh(self):
        self.label.value = self.session_id or "-"


@pytest.fixture
def extra_tabs():
    added = []

    def add(key, *args, **kwargs):
        added.append(key)
        return register_tab(key, *args, **kwargs)

    yield add
    for key in added:
        unregister_tab(key)


def test_builds_every_registered_tab_around_the_session(ws, demo_pair):
    a, _ = demo_pair
    dash = Dashboard(ws, session_id=a)
    assert list(dash.panels) == [t.key for t in registered_tabs()]
    assert dash._tabs.titles == tuple(t.title for t in registered_tabs())
    assert all(p.session_id == a for p in dash.panels.values())
    assert all(p.last_error is None for p in dash.panels.values())
    info = ws.sessions.get(a)
    assert f"Session {a} · completed" in dash.header
    assert f"{info.total_rows:,} rows" in dash.header
    overview = dash.panel("overview")
    assert dash._tabs.selected_index == list(dash.panels).index("overview")
    assert overview.png.startswith(b"\x89PNG")


def test_selecting_in_the_browser_selects_everywhere(ws, demo_pair):
    a, b = demo_pair
    dash = Dashboard(ws, session_id=a)
    browser, delete = dash.panel("sessions"), dash.panel("delete")
    browser._select.value = b  # a click in the list
    assert dash.session_id == b and delete.session_id == b
    assert f"Session {b}" in dash.header
    assert delete.counts == ws.store.count_rows(b)
    assert dash.panel("overview").series[0].frame["ts"].min() >= ws.sessions.get(b).first_ts


def test_a_delete_in_its_tab_refreshes_the_whole_dashboard(ws, demo_pair):
    a, b = demo_pair
    dash = Dashboard(ws, session_id=b)
    delete = dash.panel("delete")
    delete._confirm.value = b
    delete._delete_button.click()
    assert delete.last_error is None
    assert all(p.session_id is None for p in dash.panels.values()) and dash.session_id is None
    assert f"session {b} was deleted" in dash.header
    listed = dash.panel("sessions").session_ids  # QuestDB tests share a server: others too
    assert a in listed and b not in listed
    assert dash.panel("overview").png == b""
    assert ws.store.count_rows(b) == dict.fromkeys(ws.store.count_rows(b), 0)


def test_sessions_made_or_deleted_elsewhere_on_the_workspace_show_up(ws, demo_pair):
    a, b = demo_pair
    dash = Dashboard(ws)
    assert dash.session_id is None and "No session selected" in dash.header
    assert dash._tabs.selected_index == list(dash.panels).index("sessions")
    new = ws.sessions.create(["BTC/USDT"]).session_id
    assert new in dash.panel("sessions").session_ids
    dash.select(a)
    ws.sessions.delete(a)  # from a notebook cell, not from the panel
    assert dash.session_id is None and a not in dash.panel("sessions").session_ids


def test_a_registered_tab_plugs_in_and_follows_the_selection(ws, demo_pair, extra_tabs):
    a, b = demo_pair
    extra_tabs("echo", "Echo", Echo, order=30)
    dash = Dashboard(ws, session_id=a)
    keys = list(dash.panels)
    assert keys.index("overview") < keys.index("echo") < keys.index("delete")
    assert "Echo" in dash._tabs.titles
    echo = dash.panel("echo")
    assert echo.label.value == a
    dash.panel("sessions").select(b)
    assert echo.label.value == b
    with pytest.raises(ValueError, match="already registered"):
        register_tab("echo", "Again", Echo)


def test_a_broken_tab_shows_its_error_and_the_rest_works(ws, demo_pair, extra_tabs):
    a, _ = demo_pair
    extra_tabs("broken", "Broken", "tsanalysis.widgets.no_such_module:Panel", order=35)

    def failing(ws, **options):
        raise RuntimeError("cannot reach the plugin")

    extra_tabs("failing", "Failing", failing, order=36)
    dash = Dashboard(ws, session_id=a)
    assert "broken" not in dash.panels and "failing" not in dash.panels
    broken = [c for c in dash._tabs.children if not isinstance(c, Panel)]
    texts = [plain_text(c.value) for c in broken]
    assert any("ModuleNotFoundError" in t for t in texts)
    assert any("cannot reach the plugin" in t for t in texts)
    assert dash.panel("delete").session_id == a


def test_a_subset_of_tabs(ws, demo_pair):
    dash = Dashboard(ws, tabs=["sessions", "delete"])
    assert list(dash.panels) == ["sessions", "delete"]
    with pytest.raises(ValueError, match="unknown Dashboard tabs"):
        Dashboard(ws, tabs=["nope"])


def test_close_unsubscribes_every_panel(ws, demo_pair):
    listeners = ws.sessions._listeners
    before = len(listeners)
    dash = Dashboard(ws, session_id=demo_pair[0])
    assert len(listeners) == before + 1 + len(dash.panels)
    dash.close()
    assert len(listeners) == before
    assert all(p.closed for p in dash.panels.values())


def test_the_feature_tabs_work_together(ws, demo_pair, tmp_path, monkeypatch):
    """A migration in its tab shows up in the others; a delete clears a quality report."""
    import uuid

    from tsanalysis.migrate.generator import generate_tree

    a, b = demo_pair
    monkeypatch.chdir(tmp_path)
    dash = Dashboard(ws, session_id=b)
    assert {"quality", "export", "migration"} <= set(dash.panels)
    keys = list(dash.panels)
    assert keys.index("overview") < keys.index("quality") < keys.index("export") \
        < keys.index("migration") < keys.index("delete")
    quality, export, migration = (dash.panel(k) for k in ("quality", "export", "migration"))
    quality.select_checks(["gaps"])
    quality._run_button.click()
    assert quality.report is not None and quality.report.session_id == b
    export._export_button.click()
    assert export.last_error is None and export.result.path.exists()

    prefix = f"lg{uuid.uuid4().hex[:8]}"
    tree = generate_tree(tmp_path / "legacy", rows=60, prefix=prefix)
    migration.set_path(tree.root)
    migration._dry_button.click()
    migration._migrate_button.click()
    assert migration.last_error is None, migration.last_error
    new = [s.session_id for s in tree.sessions]
    assert set(new) <= set(dash.panel("sessions").session_ids)
    assert dash.session_id == b  # a migration does not change the selection

    dash.panel("sessions").select(new[2])
    assert quality.report is None and export.result is None  # they belong to b
    assert set(export._symbols.options) == set(ws.sessions.get(new[2]).symbols)
    ws.sessions.delete(new[2])
    assert dash.session_id is None and quality._run_button.disabled
    assert new[2] not in dash.panel("sessions").session_ids
