"""SessionBrowser: lists sessions with counts and ranges, selects one, follows changes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import fill_all_tables
from tsanalysis.errors import SessionNotFound
from tsanalysis.widgets import SessionBrowser
from tsanalysis.widgets._base import plain_text


def test_lists_sessions_with_status_symbols_rows_and_time_range(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    fill_all_tables(ws, sid)
    other = ws.sessions.create(["SOL/USDT"]).session_id
    b = SessionBrowser(ws)
    assert b.last_error is None
    assert {sid, other} <= set(b.session_ids)
    row = b.sessions.set_index("session_id").loc[sid]
    counts = ws.store.count_rows(sid)
    for table in ("tick_prices", "tick_orderbook", "aggregated_ohlcv", "indicators",
                  "backtest_results"):
        assert row[table] == counts[table] > 0
    assert row["status"] == "active" and row["symbols"] == "BTC/USDT, ETH/USDT"
    table = plain_text(b._table.value)
    assert sid in table and f"{counts['tick_prices']:,}" in table
    assert "2026-01-05 00:00:00" in table  # first tick of tests.helpers.ticks
    option_labels = [label for label, _ in b._select.options]
    assert any(label.startswith(f"{sid} · active · BTC/USDT, ETH/USDT") for label in option_labels)


def test_selecting_shows_rows_per_table_and_symbol(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    fill_all_tables(ws, sid, n=50)
    b = SessionBrowser(ws)
    assert b.session_id is None and "Select a session" in plain_text(b._detail.value)
    b._select.value = sid  # as a click in the list does
    assert b.session_id == sid
    detail = plain_text(b._detail.value)
    assert "tick_prices BTC/USDT 50" in detail and "tick_prices ETH/USDT 50" in detail
    b.select(None)
    assert b._select.value is None


def test_a_new_session_on_the_workspace_appears_without_refresh(ws):
    b = SessionBrowser(ws)
    new = ws.sessions.create(["BTC/USDT"]).session_id
    assert new in b.session_ids


def cli(store_url, *args):
    """The command line in another process (no notifications reach this one)."""
    return subprocess.run([sys.executable, "-m", "tsanalysis", "--db", store_url, *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.slow
def test_changes_from_another_process_appear_on_refresh(ws, store_url, sid):
    b = SessionBrowser(ws)
    ws.close()  # let the other process have the DuckDB file
    cli(store_url, "sessions", "create", "--symbols", "BTC/USDT", "--id", sid)
    assert sid not in b.session_ids
    b._refresh_button.click()
    assert sid in b.session_ids and b.last_error is None
    b.select(sid)
    ws.close()
    cli(store_url, "sessions", "delete", sid, "--yes", "--force")
    b._refresh_button.click()  # it is gone: the selection is cleared, and the panel says so
    assert b.session_id is None and sid not in b.session_ids
    assert isinstance(b.last_error, SessionNotFound) and sid in b.status


def test_selecting_an_unknown_session_shows_an_error(duckdb_ws):
    b = SessionBrowser(duckdb_ws)
    b.select("no-such-session")
    assert isinstance(b.last_error, SessionNotFound)
    assert "no-such-session" in b.status and b.session_id is None


def test_an_empty_store_says_so(duckdb_ws):
    b = SessionBrowser(duckdb_ws)
    assert b.session_ids == [] and "No sessions yet" in plain_text(b._table.value)
