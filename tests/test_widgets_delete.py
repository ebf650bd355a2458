"""DeletePanel: typed confirmation, refusal of active sessions, the result, nothing left."""

from __future__ import annotations

import pytest

from tests.helpers import fill_all_tables
from tsanalysis import schema
from tsanalysis.errors import InvalidInput, SessionActive
from tsanalysis.widgets import DeletePanel, SessionBrowser
from tsanalysis.widgets._base import plain_text


def sql_counts(ws, session_id):
    """Rows with the id in every table, counted with plain SQL (not through our code)."""
    return {t.name: int(ws.sql(f"SELECT count(*) AS n FROM {t.name} WHERE session_id = ?",
                               [session_id])["n"].iloc[0]) for t in schema.TABLES}


@pytest.fixture
def two_sessions(ws, sid):
    """A completed session with rows in every table, and a bystander."""
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    fill_all_tables(ws, sid, n=60)
    ws.sessions.complete(sid)
    other = f"{sid}-other"
    ws.sessions.create(["BTC/USDT"], other)
    fill_all_tables(ws, other, symbols=("BTC/USDT",), n=40)
    ws.sessions.complete(other)
    return sid, other


def test_shows_what_will_be_removed_per_table(ws, two_sessions):
    sid, _ = two_sessions
    p = DeletePanel(ws, session_id=sid)
    assert p.counts == sql_counts(ws, sid)
    assert all(n > 0 for n in p.counts.values())
    summary = plain_text(p._summary.value)
    assert sid in summary and f"tick_prices {p.counts['tick_prices']:,}" in summary
    assert f"total {sum(p.counts.values()):,}" in summary


@pytest.mark.parametrize("typed", ["", "x", "PREFIX", "SPACE", "UPPER"])
def test_a_wrong_confirmation_keeps_delete_disabled_and_deletes_nothing(ws, two_sessions,
                                                                         typed):
    sid, _ = two_sessions
    typed = {"PREFIX": sid[:-1], "SPACE": sid + " ", "UPPER": sid.upper()}.get(typed, typed)
    before = sql_counts(ws, sid)
    p = DeletePanel(ws, session_id=sid)
    p._confirm.value = typed
    assert p._delete_button.disabled and not p.can_delete
    p._delete_button.click()  # .click() ignores `disabled`: the handler must check again
    assert sql_counts(ws, sid) == before
    assert isinstance(p.last_error, InvalidInput) and "nothing was deleted" in p.status
    assert p.result is None and p.session_id == sid


def test_the_exact_id_deletes_everything_and_only_that(ws, two_sessions):
    sid, other = two_sessions
    before, other_before = sql_counts(ws, sid), sql_counts(ws, other)
    p = DeletePanel(ws, session_id=sid)
    browser = SessionBrowser(ws)  # another panel on the workspace
    assert sid in browser.session_ids
    p._confirm.value = sid
    assert not p._delete_button.disabled and "matches" in plain_text(p._match.value)
    p._delete_button.click()
    assert p.last_error is None, p.last_error
    assert sum(sql_counts(ws, sid).values()) == 0
    assert sql_counts(ws, other) == other_before
    assert p.result is not None and p.result.deleted == before
    result = plain_text(p._result.value)
    assert f"total {sum(before.values()):,}" in result
    assert "no table holds a row with this session id" in result
    assert "Deleted session" in p.status
    assert p.progress.last == (len(schema.TABLES), len(schema.TABLES))
    # nothing left to act on: the panel forgot the session, the others refreshed
    assert p.session_id is None and p._confirm.value == "" and p._delete_button.disabled
    assert sid not in browser.session_ids and other in browser.session_ids


def test_an_active_session_is_refused_with_an_explanation(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    fill_all_tables(ws, sid, symbols=("BTC/USDT",), n=30)
    before = sql_counts(ws, sid)
    p = DeletePanel(ws, session_id=sid)
    assert "still recording" in plain_text(p._explain.value)
    assert p._force_button.layout.display is None  # the force path is offered...
    assert p._force_button.disabled  # ...but also needs the typed id
    p._confirm.value = sid
    assert p._delete_button.disabled and not p._force_button.disabled
    p._delete_button.click()
    assert isinstance(p.last_error, SessionActive) and "active" in p.status
    assert sql_counts(ws, sid) == before
    with pytest.raises(SessionActive):
        p.delete(sid)
    p._force_button.click()
    assert p.last_error is None and sum(sql_counts(ws, sid).values()) == 0
    assert p.result.deleted == before


def test_completing_the_session_elsewhere_enables_delete(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    p = DeletePanel(ws, session_id=sid)
    p._confirm.value = sid
    assert p._delete_button.disabled
    ws.sessions.complete(sid)  # the panel hears of it
    assert not p._delete_button.disabled and p._explain.value == ""
    assert p._force_button.layout.display == "none"


def test_typed_id_is_cleared_when_another_session_is_selected(ws, two_sessions):
    sid, other = two_sessions
    p = DeletePanel(ws, session_id=sid)
    p._confirm.value = sid
    p.session_id = other
    assert p._confirm.value == "" and p._delete_button.disabled
    assert p.counts == sql_counts(ws, other)


def test_delete_from_code_needs_the_id_too(ws, two_sessions):
    sid, _ = two_sessions
    p = DeletePanel(ws)
    with pytest.raises(InvalidInput, match="no session selected"):
        p.delete(sid)
    p.session_id = sid
    with pytest.raises(InvalidInput, match="not the session id"):
        p.delete("something else")
    assert sum(sql_counts(ws, sid).values()) > 0
    assert p.delete(sid).total == sum(p.result.deleted.values())
