"""DeletePanel: typed confirmation, refusal of active sessions, the result, nothing left;
selective deletes: counted first, only the selection goes, grace and restore, errors shown."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import T0, fill_all_tables, ticks
from tests.test_selective_delete import snapshot
from tsanalysis import deleting, schema
from tsanalysis.deleting import SelectiveDeleteResult
from tsanalysis.errors import InvalidInput, SessionActive
from tsanalysis.quality import Finding
from tsanalysis.timeutil import iso
from tsanalysis.widgets import DeletePanel, SessionBrowser
from tsanalysis.widgets._base import fmt_ts, plain_text

_us = pd.Timedelta(1, "us")


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


# -- deleting less than the session --------------------------------------------------------

SYMS = ("BTC/USDT", "ETH/USDT")


def seconds(s: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=s)


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for t in a:
        pd.testing.assert_frame_equal(a[t], b[t], check_dtype=False, obj=t)


@pytest.fixture
def completed(ws, sid, monkeypatch):
    """A small completed session with rows in every table (30 a symbol in the tick
    tables and the indicators, one second apart from T0); no default grace period."""
    monkeypatch.delenv(deleting.GRACE_ENV, raising=False)
    ws.sessions.create(list(SYMS), sid)
    fill_all_tables(ws, sid, SYMS, n=30)
    ws.sessions.complete(sid)
    return sid


def test_a_selection_is_counted_first_then_only_its_rows_go(ws, completed):
    sid = completed
    before = snapshot(ws, sid)
    p = DeletePanel(ws, session_id=sid)
    whole = p.counts
    lo, hi, tables = seconds(5), seconds(15), ["tick_prices", "indicators"]
    p.select(tables=tables, symbols=["ETH/USDT"], start=lo, end=hi)
    assert p.selective and p._delete_button.description == "Delete selected rows"
    assert "holds" in plain_text(p._summary.value)  # the whole session's rows, for scale
    p._confirm.value = sid
    # confirmed, but not counted: Delete stays off, and a click deletes nothing
    assert p.confirmed and not p.can_delete and p._delete_button.disabled
    assert "Count rows" in plain_text(p._why.value)
    p._delete_button.click()
    assert isinstance(p.last_error, InvalidInput) and "nothing was deleted" in p.status
    assert_same(snapshot(ws, sid), before)

    p._count_button.click()
    assert p.last_error is None, p.last_error
    hit = {t: (f["symbol"] == "ETH/USDT") & (f["ts"] >= lo) & (f["ts"] < hi) if t in tables
           else pd.Series(False, index=f.index) for t, f in before.items()}
    want = {t: int(hit[t].sum()) for t in tables}
    assert p.preview == want == {"tick_prices": 10, "indicators": 10}
    shown = plain_text(p._preview.value)
    assert "tick_prices 10" in shown and "indicators 10" in shown and "total 20" in shown
    assert_same(snapshot(ws, sid), before)  # a dry run
    assert not p._delete_button.disabled and p.can_delete

    p._symbols.value = SYMS  # another selection: its rows are not counted yet
    assert p.preview is None and p._delete_button.disabled
    p._symbols.value = ("ETH/USDT",)  # back to the one counted (the data did not change)
    assert p.preview == want
    p._confirm.value = sid.upper()
    assert p._delete_button.disabled
    p._confirm.value = sid
    p._delete_button.click()
    assert p.last_error is None, p.last_error
    assert isinstance(p.result, SelectiveDeleteResult)
    assert p.result.deleted == want  # what the dry run showed is what went
    after = snapshot(ws, sid)
    assert_same(after, {t: f[~hit[t]].reset_index(drop=True) for t, f in before.items()})
    result = plain_text(p._result.value)
    assert "tick_prices 10" in result and "total 20" in result
    assert "No grace period" in result and "no row of the selection is left" in result
    assert "Deleted 20 rows" in p.status
    # the session stays, refreshed; the typed id and the counts are used up
    assert p.session_id == sid and ws.sessions.get(sid).status == "completed"
    assert p.counts["tick_prices"] == whole["tick_prices"] - 10
    assert p._confirm.value == "" and p.preview is None and p._delete_button.disabled
    assert list(ws.audit(sid)["dry_run"])[-2:] == [True, False]
    # nothing selected: the whole-session delete, as without the form
    p.clear_selection()
    p._confirm.value = sid
    assert not p.selective and p._delete_button.description == "Delete session"
    assert p.can_delete and not p._delete_button.disabled


def test_a_grace_delete_can_be_restored_while_it_lasts(ws, completed, monkeypatch):
    sid = completed
    offset = [pd.Timedelta(0)]  # the clock grace periods are measured against, moved here
    real_now = deleting.now
    monkeypatch.setattr(deleting, "now", lambda: real_now() + offset[0])
    before = snapshot(ws, sid)
    p = DeletePanel(ws, session_id=sid)
    assert "none" in plain_text(p._grace_list.value) and p._restore_row.layout.display == "none"
    p.select(symbols=["BTC/USDT"])
    p._grace.value = "2h"
    p._count_button.click()
    want = {t: int((before[t]["symbol"] == "BTC/USDT").sum()) for t in before}
    assert p.preview == want and "grace period of 2h" in plain_text(p._preview.value)
    p._confirm.value = sid
    p._delete_button.click()
    assert p.last_error is None, p.last_error
    res = p.result
    assert res.deleted == want and res.grace_until is not None
    assert ws.read("tick_prices", sid, "BTC/USDT").empty  # hidden at once
    until = fmt_ts(res.grace_until)
    assert f"until {until} UTC" in plain_text(p._result.value) and until in p.status
    listed = plain_text(p._grace_list.value)
    assert res.action_id in listed and "restorable" in listed
    assert list(p.in_grace["action_id"]) == [res.action_id]
    assert p._restore_choice.value == res.action_id and not p._restore_button.disabled
    offset[0] = pd.Timedelta(hours=3)  # once the grace has passed, nothing can be restored
    p.refresh()
    assert "passed" in plain_text(p._grace_list.value)
    assert p._restore_row.layout.display == "none" and p._restore_button.disabled
    p.run(p.restore, res.action_id)
    assert isinstance(p.last_error, InvalidInput) and "nothing to restore" in p.status
    assert ws.read("tick_prices", sid, "BTC/USDT").empty
    offset[0] = pd.Timedelta(hours=1)  # while it lasts, Restore
    p.refresh()
    assert p._restore_choice.value == res.action_id

    p._restore_button.click()
    assert p.last_error is None, p.last_error
    assert p.restored == {t: n for t, n in want.items() if n}
    assert_same(snapshot(ws, sid), before)  # every row back
    assert p.in_grace.empty and p._restore_row.layout.display == "none"
    assert f"total {sum(want.values()):,}" in plain_text(p._result.value)
    p._restore_button.click()  # nothing left to restore: said, and nothing changes
    assert isinstance(p.last_error, InvalidInput) and "nothing to restore" in p.status
    assert_same(snapshot(ws, sid), before)


def test_errors_from_the_core_are_shown_and_change_nothing(ws, completed):
    sid = completed
    p = DeletePanel(ws, session_id=sid)
    p._confirm.value = sid
    # an end before the start: the form says so and Count and Delete stay off; clicked
    # anyway, the core's error is shown
    before = snapshot(ws, sid)
    p.select_range("2026-01-05T00:00:20Z", "2026-01-05T00:00:10Z")
    assert "must be after start" in plain_text(p._form_why.value)
    assert p._count_button.disabled and p._delete_button.disabled
    p._count_button.click()
    assert isinstance(p.last_error, InvalidInput) and "must be after start" in p.status
    assert p.preview is None
    p._delete_button.click()
    assert isinstance(p.last_error, InvalidInput) and "nothing was deleted" in p.status
    p._end.value = "yesterday"
    assert "invalid end" in plain_text(p._form_why.value)
    assert_same(snapshot(ws, sid), before)

    # ids no longer stored: deleted by another process, of which the panel hears nothing
    p.select(indicator_ids=["rsi_14"])
    p._count_button.click()
    assert p.preview == {"indicators": 60}
    deleting.delete_selection(ws.store, deleting.select(sid, indicator_ids=["rsi_14"]))
    before = snapshot(ws, sid)
    p._delete_button.click()
    assert isinstance(p.last_error, InvalidInput) and "not stored" in p.status
    assert p.preview is None and p._delete_button.disabled  # the counts were of old data
    # the reload does not change the selection under the user (no fall back to the whole
    # session): the id stays selected, marked
    assert p.selection == {"indicator_ids": ["rsi_14"]}
    assert p._indicator_ids.options == (("rsi_14 (no longer stored)", "rsi_14"),)
    p._count_button.click()
    assert isinstance(p.last_error, InvalidInput) and "not stored" in p.status
    assert_same(snapshot(ws, sid), before)

    # a grace period is for deletes of less than a session
    p.clear_selection()
    p._grace.value = "1h"
    assert p._delete_button.disabled and "grace period applies" in plain_text(p._why.value)
    p._delete_button.click()
    assert isinstance(p.last_error, InvalidInput) and "nothing was deleted" in p.status
    p.select(tables=["tick_prices"])
    p._grace.value = "soon"
    assert "invalid grace period" in plain_text(p._form_why.value)
    assert p._delete_button.disabled
    assert_same(snapshot(ws, sid), before)
    assert ws.sessions.get(sid).status == "completed"


def test_a_selection_of_an_active_session_needs_force(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(20), "ticks")
    p = DeletePanel(ws, session_id=sid)
    p.select_range(T0, seconds(5), tables=["tick_prices"])
    p._count_button.click()  # counting changes nothing: a recording session is counted too
    assert p.last_error is None and p.preview == {"tick_prices": 5}
    p._confirm.value = sid
    assert p._delete_button.disabled and not p._force_button.disabled
    p._delete_button.click()
    assert isinstance(p.last_error, SessionActive) and "active" in p.status
    assert len(ws.ticks(sid)) == 20 and p.preview == {"tick_prices": 5}  # still true
    p._force_button.click()
    assert p.last_error is None, p.last_error
    assert p.result.deleted == {"tick_prices": 5} and len(ws.ticks(sid)) == 15


def test_select_range_and_select_finding_fill_the_form(ws, completed):
    sid = completed
    p = DeletePanel(ws, session_id=sid)
    assert not p.selective and p._selection_box.selected_index is None  # folded away
    p.select_range(seconds(10), "2026-01-05T00:00:20Z", symbol="BTC/USDT",
                   tables=["tick_prices"])
    chosen = {"tables": ["tick_prices"], "symbols": ["BTC/USDT"],
              "start": "2026-01-05T00:00:10Z", "end": "2026-01-05T00:00:20Z"}
    assert p.selection == chosen and p._selection_box.selected_index == 0
    assert p._symbols.value == ("BTC/USDT",) and p._tables.value == ("tick_prices",)
    with pytest.raises(InvalidInput, match="XRP/USDT.* not offered"):
        p.select_range(T0, seconds(1), symbol="XRP/USDT")
    assert p.selection == chosen
    # a finding names its first and last instants: both are taken
    p.select_finding(Finding("volume", "ETH/USDT", seconds(3), seconds(7), count=5,
                             table="tick_prices"))
    assert p.selection == {"tables": ["tick_prices"], "symbols": ["ETH/USDT"],
                           "start": iso(seconds(3)), "end": iso(seconds(7) + _us)}
    assert p.dry_run().deleted == {"tick_prices": 5}
    # no table: every table with rows at that instant
    p.select_finding(Finding("gaps", "BTC/USDT", seconds(1)))
    assert {t: n for t, n in p.dry_run().deleted.items() if n} == \
        {"tick_prices": 1, "tick_orderbook": 1, "indicators": 1}
    with pytest.raises(InvalidInput, match="no time range"):
        p.select_finding(Finding("completeness", "BTC/USDT"))
    p.session_id = None  # the form belongs to the session it was filled for
    assert not p.selective and p.preview is None
