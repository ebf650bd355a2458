"""Session lifecycle and cascade delete, on every backend."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tsanalysis import InvalidInput, SessionActive, SessionNotFound, StoreError, schema

from .helpers import T0, fill_all_tables, ticks


def plain_counts(ws, session_id: str) -> dict[str, int]:
    """Rows with this session id in every table, counted with plain SQL (not our reads)."""
    return {t.name: int(ws.sql(f"SELECT count(*) AS n FROM {t.name} WHERE session_id = ?",
                               [session_id])["n"].iloc[0]) for t in schema.TABLES}


def test_create_is_active_and_listed(ws, sid):
    info = ws.sessions.create("BTC/USDT,ETH/USDT", sid, notes="first", cadence_s=1.0)
    assert info.status == "active"
    assert info.symbols == ["BTC/USDT", "ETH/USDT"]
    assert info.cadence_s == 1.0 and info.notes == "first"
    listed = {i.session_id: i for i in ws.sessions.list()}
    assert sid in listed and listed[sid].rows["tick_prices"] == 0


def test_create_generates_an_id_and_refuses_duplicates_and_bad_input(ws, sid):
    info = ws.sessions.create(["BTC/USDT"])
    assert info.session_id.startswith("s-")
    ws.sessions.create(["BTC/USDT"], sid)
    with pytest.raises(InvalidInput, match="already exists"):
        ws.sessions.create(["BTC/USDT"], sid)
    with pytest.raises(InvalidInput, match="invalid session id"):
        ws.sessions.create(["BTC/USDT"], "a; DROP TABLE tick_prices")
    with pytest.raises(InvalidInput, match="invalid symbol"):
        ws.sessions.create(["BTC USDT"])
    with pytest.raises(InvalidInput, match="at least one symbol"):
        ws.sessions.create([])


def test_complete_and_fail(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(10))
    done = ws.sessions.complete(sid)
    assert done.status == "completed"
    assert done.end_time == done.last_ts  # the end is the last recorded row
    assert ws.sessions.complete(sid).status == "completed"  # idempotent
    other = ws.sessions.create(["BTC/USDT"]).session_id
    failed = ws.sessions.fail(other, "feed dropped")
    assert failed.status == "failed" and "feed dropped" in failed.notes
    with pytest.raises(InvalidInput, match="cannot be completed"):
        ws.sessions.complete(other)


def test_show_has_counts_symbols_and_time_range(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(30))
    ws.ingest(sid, "ETH/USDT", ticks(5))  # a new symbol joins the session
    info = ws.sessions.get(sid)
    assert info.rows["tick_prices"] == 35
    assert info.symbols == ["BTC/USDT", "ETH/USDT"]
    assert info.tables["tick_prices"]["BTC/USDT"].rows == 30
    assert info.first_ts == pd.Timestamp("2026-01-05T00:00:00Z")
    assert info.last_ts == pd.Timestamp("2026-01-05T00:00:29Z")
    d = info.to_dict()
    assert d["rows"]["tick_prices"] == 35 and d["first_ts"] == "2026-01-05T00:00:00Z"


def test_unknown_session(ws):
    with pytest.raises(SessionNotFound):
        ws.sessions.get("no-such-session")
    with pytest.raises(SessionNotFound):
        ws.sessions.delete("no-such-session")
    with pytest.raises(SessionNotFound):
        ws.ingest("no-such-session", "BTC/USDT", ticks(3))


def test_delete_removes_every_row_in_all_six_tables(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    fill_all_tables(ws, sid)
    ws.sessions.complete(sid)
    before = plain_counts(ws, sid)
    assert all(n > 0 for n in before.values()), before
    result = ws.sessions.delete(sid)
    assert list(result.deleted) == [t.name for t in schema.TABLES]  # children first
    assert result.deleted == before
    assert result.total == sum(before.values())
    assert plain_counts(ws, sid) == {t.name: 0 for t in schema.TABLES}
    assert sid not in {i.session_id for i in ws.sessions.list()}


def test_delete_keeps_other_sessions(ws, sid):
    other = sid + "-other"
    for s in (sid, other):
        ws.sessions.create(["BTC/USDT", "ETH/USDT"], s)
        fill_all_tables(ws, s)
        ws.sessions.complete(s)
    kept = plain_counts(ws, other)
    kept_ticks = ws.ticks(other)
    ws.sessions.delete(sid)
    assert plain_counts(ws, other) == kept
    pd.testing.assert_frame_equal(ws.ticks(other), kept_ticks)


def test_delete_with_partial_data(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(25))
    ws.sessions.complete(sid)
    result = ws.sessions.delete(sid)
    assert result.deleted["tick_prices"] == 25
    assert result.deleted["data_collection_sessions"] == 1
    assert result.total == 26
    assert sum(plain_counts(ws, sid).values()) == 0


def test_delete_active_needs_force(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(10))
    with pytest.raises(SessionActive):
        ws.sessions.delete(sid)
    assert plain_counts(ws, sid)["tick_prices"] == 10  # refused: nothing changed
    assert ws.sessions.delete(sid, force=True).deleted["tick_prices"] == 10


def test_delete_twice(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid, status="completed")
    ws.sessions.delete(sid)
    with pytest.raises(SessionNotFound):
        ws.sessions.delete(sid)


def test_delete_invalidates_cached_metadata_and_tells_listeners(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid, status="completed")
    ws.ingest(sid, "BTC/USDT", ticks(10))
    assert ws.sessions.get(sid).rows["tick_prices"] == 10  # now cached
    events = []
    unsubscribe = ws.sessions.subscribe(lambda ev, s: events.append((ev, s)))
    ws.sessions.delete(sid)
    assert ("deleted", sid) in events
    with pytest.raises(SessionNotFound):
        ws.sessions.get(sid)
    unsubscribe()
    ws.sessions.create(["BTC/USDT"])
    assert len([e for e in events if e[0] == "created"]) == 0


def test_ingest_invalidates_cached_counts(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    assert ws.sessions.get(sid).rows["tick_prices"] == 0
    ws.ingest(sid, "BTC/USDT", ticks(7))
    assert ws.sessions.get(sid).rows["tick_prices"] == 7


def test_sessions_frame_for_notebooks(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(3))
    f = ws.sessions.frame()
    row = f[f["session_id"] == sid].iloc[0]
    assert row["tick_prices"] == 3 and row["status"] == "active"


def test_a_forced_delete_while_a_writer_writes_leaves_no_orphan_rows(ws, sid):
    """A writer ingests into a session in a loop; the session is deleted with force in
    the middle. No row of it is left in any table, and the id can be created again empty
    (both backends; the writer shares the workspace, as a notebook's panel would)."""
    import threading

    ws.sessions.create(["BTC/USDT"], sid)
    stop = threading.Event()
    written: list[int] = []
    errors: list[str] = []

    def write() -> None:
        k = 0
        while not stop.is_set():
            try:
                ws.ingest(sid, "BTC/USDT", ticks(50, start=T0 + pd.Timedelta(minutes=k), seed=k))
                written.append(50)
            except (SessionNotFound, StoreError) as e:
                errors.append(type(e).__name__)
            k += 1

    th = threading.Thread(target=write)
    th.start()
    try:
        while len(written) < 3:
            time.sleep(0.01)
        ws.sessions.delete(sid, force=True)
        time.sleep(0.3)  # the writer keeps trying after the delete
    finally:
        stop.set()
        th.join()
    assert errors, "the writer never noticed the delete"
    assert sum(ws.store.count_rows(sid).values()) == 0
    for t in schema.CHILD_TABLES:
        n = ws.sql(f"SELECT count(*) AS n FROM {t.name} WHERE session_id = ?", [sid])["n"]
        assert int(n.iloc[0]) == 0, t.name
    ws.sessions.create(["BTC/USDT"], sid)
    assert ws.sessions.get(sid).total_rows == 0


def _orphan(ws, sid: str) -> dict[str, int]:
    """A session whose session row goes behind tsanalysis's back: its rows stay."""
    ws.sessions.create(["BTC/USDT"], sid)
    fill_all_tables(ws, sid, ("BTC/USDT",), n=30)
    if ws.backend == "duckdb":
        ws.sql("DELETE FROM data_collection_sessions WHERE session_id = ?", [sid])
    else:  # no row DELETE on QuestDB: the row takes another id
        ws.sql("UPDATE data_collection_sessions SET session_id = ? WHERE session_id = ?",
               ["gone-" + sid, sid])
    ws.sessions.invalidate()
    return {t: n for t, n in ws.store.count_rows(sid).items() if n}


def test_rows_without_a_session_row_are_deleted_by_their_id(ws, sid):
    """Orphan rows (their session row gone: an older version, a foreign writer) are not
    "not found": deleting their id removes them, on both backends, and the CLI too."""
    from .test_cli import run

    other = ws.sessions.create(["BTC/USDT"]).session_id
    fill_all_tables(ws, other, ("BTC/USDT",), n=30)
    before_other = ws.store.count_rows(other)
    orphans = _orphan(ws, sid)
    assert orphans and "data_collection_sessions" not in orphans
    assert {t: n for t, n in ws.delete(sid, dry_run=True).deleted.items() if n} == orphans
    res = ws.sessions.delete(sid)
    assert res.deleted == orphans and not any(ws.store.count_rows(sid).values())
    with pytest.raises(SessionNotFound):
        ws.sessions.delete(sid)
    cli_id = sid + "-cli"
    orphans = _orphan(ws, cli_id)
    p = run(ws.url, "sessions", "delete", cli_id, "--yes", "--json")
    assert p.returncode == 0, p.stderr
    assert not any(ws.store.count_rows(cli_id).values())
    assert run(ws.url, "sessions", "delete", cli_id, "--yes").returncode == 3
    assert ws.store.count_rows(other) == before_other
