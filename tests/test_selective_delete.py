"""Deleting less than a session, on both backends: every restriction and combinations of
them, a neighbour session sharing days and symbols checked row for row, dry runs that
count exactly, the audit trail, bad input refused before anything changes."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsanalysis import schema
from tsanalysis.errors import InvalidInput, SessionActive, SessionNotFound

from .helpers import T0, fill_all_tables, indicator_rows
from .test_cli import ok, run

SYMS = ("BTC/USDT", "ETH/USDT")
TABLES = [t.name for t in schema.CHILD_TABLES]


def snapshot(ws, sid) -> dict[str, pd.DataFrame]:
    """Every row of the session, table by table, in a stable order."""
    out = {}
    for t in schema.CHILD_TABLES:
        f = ws.read(t.name, sid)
        key = [c for c in ("symbol", "indicator_id", "backtest_id", "interval", "ts", "seq")
               if c in f.columns]
        out[t.name] = f.sort_values(key).reset_index(drop=True)
    return out


def expected(before: dict[str, pd.DataFrame], sel: dict) -> dict[str, pd.DataFrame]:
    """What must remain: the rows the selection does not match (computed with pandas)."""
    out = {}
    tables = sel.get("tables") or ([t for t in TABLES if t == "indicators"]
                                   if sel.get("indicator_ids") else
                                   [t for t in TABLES if t == "backtest_results"]
                                   if sel.get("backtest_ids") else TABLES)
    for name, f in before.items():
        if name not in tables:
            out[name] = f
            continue
        hit = pd.Series(True, index=f.index)
        if sel.get("symbols"):
            hit &= f["symbol"].isin(sel["symbols"])
        if sel.get("indicator_ids"):
            hit &= f["indicator_id"].isin(sel["indicator_ids"])
        if sel.get("backtest_ids"):
            hit &= f["backtest_id"].isin(sel["backtest_ids"])
        if sel.get("start") is not None:
            hit &= f["ts"] >= pd.Timestamp(sel["start"])
        if sel.get("end") is not None:
            hit &= f["ts"] < pd.Timestamp(sel["end"])
        out[name] = f[~hit].reset_index(drop=True)
    return out


@pytest.fixture
def pair(ws):
    """Two completed sessions sharing days and symbols, rows in every table."""
    a, b = (f"t-{uuid.uuid4().hex[:10]}" for _ in range(2))
    for sid in (a, b):
        ws.sessions.create(list(SYMS), sid)
        fill_all_tables(ws, sid, SYMS, n=120)
        ws.store.write("indicators", indicator_rows(sid, "BTC/USDT", 60, "ema_10"))
        ws.sessions.complete(sid)
    return a, b


#: Applied one after the other to one session; each still matches rows when its turn comes.
SELECTIONS = [
    {"tables": ["indicators"], "start": T0 + pd.Timedelta(seconds=20),
     "symbols": ["ETH/USDT"]},
    {"indicator_ids": ["ema_10"], "symbols": ["BTC/USDT"]},
    {"indicator_ids": ["rsi_14"]},
    {"backtest_ids": ["bt1"]},
    {"start": T0 + pd.Timedelta(seconds=30), "end": T0 + pd.Timedelta(seconds=75)},
    {"tables": ["tick_prices", "tick_orderbook"], "symbols": ["ETH/USDT"]},
    {"tables": ["tick_prices"]},
    {"end": T0 + pd.Timedelta(seconds=10)},
    {"symbols": ["BTC/USDT"]},
]


def test_each_selection_removes_exactly_its_rows(ws, pair):
    a, b = pair
    before_b = snapshot(ws, b)
    for sel in SELECTIONS:
        before_a = snapshot(ws, a)
        want = expected(before_a, sel)
        removed = {t: len(before_a[t]) - len(want[t]) for t in TABLES}
        dry = ws.delete(a, dry_run=True, **sel)
        assert {t: n for t, n in dry.deleted.items() if n} == \
            {t: n for t, n in removed.items() if n}, sel
        assert all(snapshot(ws, a)[t].equals(before_a[t]) for t in TABLES)  # unchanged
        res = ws.delete(a, **sel)
        assert res.deleted == dry.deleted and res.total == sum(removed.values()) > 0, sel
        after_a = snapshot(ws, a)
        for t in TABLES:
            pd.testing.assert_frame_equal(after_a[t], want[t], check_dtype=False, obj=t)
    after_b = snapshot(ws, b)
    for t in TABLES:
        pd.testing.assert_frame_equal(after_b[t], before_b[t], obj=t)  # row for row
    assert ws.sessions.get(a).status == "completed"


@pytest.mark.slow
def test_what_remains_is_what_does_not_match(ws, backend):
    """Random sessions, random selections: what remains equals the rows that do not match
    (computed with pandas). Fewer examples on QuestDB, where each session costs seconds."""

    @settings(max_examples=10 if backend == "duckdb" else 4, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(tables=st.lists(st.sampled_from(TABLES), unique=True, max_size=3),
           symbols=st.lists(st.sampled_from(SYMS), unique=True, max_size=2),
           start=st.one_of(st.none(), st.integers(0, 130)),
           length=st.one_of(st.none(), st.integers(1, 130)),
           n=st.integers(1, 60))
    def check(tables, symbols, start, length, n):
        sid = f"t-{uuid.uuid4().hex[:10]}"
        ws.sessions.create(list(SYMS), sid)
        fill_all_tables(ws, sid, SYMS, n=n)
        ws.sessions.complete(sid)
        sel = {"tables": tables, "symbols": symbols,
               "start": None if start is None else T0 + pd.Timedelta(seconds=start),
               "end": None if length is None else
               T0 + pd.Timedelta(seconds=(start or 0) + length)}
        if not any(sel.values()):
            sel["symbols"] = ["ETH/USDT"]
        before = snapshot(ws, sid)
        ws.delete(sid, **sel)
        after, want = snapshot(ws, sid), expected(before, sel)
        for t in TABLES:
            pd.testing.assert_frame_equal(after[t], want[t], check_dtype=False, obj=t)
        ws.sessions.delete(sid)

    check()


def test_bad_input_is_refused_before_anything_changes(ws, pair, sid):
    a, _ = pair
    before = snapshot(ws, a)
    with pytest.raises(InvalidInput, match="unknown table"):
        ws.delete(a, tables=["ticks"])
    with pytest.raises(InvalidInput, match="must be after start"):
        ws.delete(a, start=T0 + pd.Timedelta(minutes=5), end=T0)
    with pytest.raises(InvalidInput, match=r"rsi_99 not stored .*stored: ema_10, rsi_14"):
        ws.delete(a, indicator_ids=["rsi_99"])
    with pytest.raises(InvalidInput, match="bt9 not stored"):
        ws.delete(a, backtest_ids=["bt9"])
    with pytest.raises(InvalidInput, match="tick_prices has no indicator_id"):
        ws.delete(a, tables=["tick_prices"], indicator_ids=["rsi_14"])
    with pytest.raises(InvalidInput, match="invalid symbol"):
        ws.delete(a, symbols=["BTC/USDT'; DROP TABLE tick_prices; --"])
    with pytest.raises(SessionNotFound):
        ws.delete(sid, tables=["tick_prices"])
    ws.sessions.create(["BTC/USDT"], sid)
    with pytest.raises(SessionActive):
        ws.delete(sid, tables=["tick_prices"])
    assert ws.delete(sid, tables=["tick_prices"], force=True).total == 0
    assert all(snapshot(ws, a)[t].equals(before[t]) for t in TABLES)


def test_no_restriction_is_the_whole_session_and_the_audit_outlives_it(ws, pair):
    a, b = pair
    ws.delete(a, indicator_ids=["rsi_14"], dry_run=True)
    ws.delete(a, indicator_ids=["rsi_14"])
    rows = sum(ws.store.count_rows(a).values())
    res = ws.delete(a)
    assert res.total == rows and res.deleted[schema.SESSIONS.name] == 1
    assert not ws.sessions.exists(a)
    trail = ws.audit(a)
    assert list(trail["action"]) == ["delete"] * 3
    assert list(trail["dry_run"]) == [True, False, False]
    assert trail["selection"][0]["indicator_ids"] == ["rsi_14"]
    assert trail["rows_per_table"][1] == {"indicators": 240}
    assert trail["selection"][2] == {} and trail["total_rows"][2] == rows
    assert (trail["backend"] == ws.backend).all() and trail["os_user"][0]
    assert trail["ts"].is_monotonic_increasing
    assert ws.audit(b).empty and len(ws.audit()) >= 3


def test_cli_delete_and_audit(store_url, ws, pair):
    a, b = pair
    out = json.loads(ok(run(store_url, "delete", a, "--indicator-id", "rsi_14", "--symbol",
                            "BTC/USDT", "--dry-run", "--json")).stdout)
    assert out["dry_run"] and out["deleted"] == {"indicators": 120}
    out = json.loads(ok(run(store_url, "indicators", "delete", a, "--indicator-id", "rsi_14",
                            "--yes", "--json")).stdout)
    assert out["deleted"] == {"indicators": 240} and not out["dry_run"]
    p = run(store_url, "delete", a, "--table", "tick_prices", "--end", "2026-01-05T00:00:30Z",
            "--yes")
    assert ok(p).stdout.splitlines()[-1].split()[-1] == "60"  # 30 s of two symbols
    assert run(store_url, "delete", a, "--table", "nope", "--yes").returncode == 1
    assert run(store_url, "delete", a, "--start", "2026-01-05T01:00Z", "--end",
               "2026-01-05T00:00Z", "--yes").returncode == 1
    assert run(store_url, "delete", a, "--indicator-id", "zzz", "--yes").returncode == 1
    assert run(store_url, "delete", a + "x", "--table", "tick_prices", "--yes"
               ).returncode == 3
    assert run(store_url, "delete", a, "--table", "tick_prices").returncode == 1  # no --yes
    trail = json.loads(ok(run(store_url, "audit", "--session", a, "--json")).stdout)
    assert [r["total_rows"] for r in trail] == [120, 240, 60]
    assert " indicators delete " in trail[1]["command"]
    assert ":quest@" not in trail[1]["command"]  # a password in a store URL is not kept
    assert len(ws.read("tick_prices", b)) == 240


def test_questdb_purge_reclaims_a_selection_and_leaves_the_rest_byte_identical(qws, plain):
    """Two sessions on one day of their own; a selection deleted from one, then the purge
    rewrites the day: the selection's rows leave the disk, every other row is unchanged
    (plain SQL checksums, not through tsanalysis)."""
    from .questdb_support import checksum, fresh, unique_day

    day = unique_day()
    a, b = fresh("sel"), fresh("sel")
    for sid in (a, b):
        qws.sessions.create(list(SYMS), sid)
        for k, sym in enumerate(SYMS):
            qws.ingest(sid, sym, ticks_at(day, 200, k))
        qws.indicators.compute(sid, "BTC/USDT", "rsi")
        qws.sessions.complete(sid)
    before_b = checksum(plain, b)
    res = qws.delete(a, tables=["tick_prices"], symbols=["ETH/USDT"],
                     start=day + pd.Timedelta(seconds=50), end=day + pd.Timedelta(seconds=150))
    assert res.deleted == {"tick_prices": 100} and res.deferred
    kept = checksum(plain, a)
    dead = "SELECT count(*) FROM tick_prices WHERE session_id ~ '^~' AND ts >= %s AND ts < %s"
    span = (day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
    assert plain.execute(dead, span).fetchone()[0] == 100  # hidden, still on disk
    qws.sessions.purge()
    assert plain.execute(dead, span).fetchone()[0] == 0    # reclaimed
    assert checksum(plain, a) == kept and checksum(plain, b) == before_b
    assert kept["tick_prices"][0] == 300 and kept["indicators"][0] == 200


def ticks_at(day: pd.Timestamp, n: int, seed: int) -> pd.DataFrame:
    from .helpers import ticks

    return ticks(n, start=day, seed=seed)


# -- grace periods and restore ----------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The time grace periods are measured against, moved by the test."""
    from tsanalysis import deleting

    offset = [pd.Timedelta(0)]
    real = deleting.now
    monkeypatch.setattr(deleting, "now", lambda: real() + offset[0])
    return offset


def test_a_grace_delete_hides_at_once_and_a_restore_brings_back_every_row(ws, pair, clock,
                                                                         tmp_path):
    a, b = pair
    before, before_b = snapshot(ws, a), snapshot(ws, b)
    res = ws.delete(a, tables=["tick_prices", "indicators"], symbols=["ETH/USDT"],
                    grace="24h")
    assert res.deleted == {"tick_prices": 120, "indicators": 120} and res.grace_until
    # hidden from reads, counts, stats and exports
    assert set(ws.read("tick_prices", a)["symbol"]) == {"BTC/USDT"}
    assert ws.store.count_rows(a)["tick_prices"] == 120
    assert ws.sessions.get(a).rows["tick_prices"] == 120
    assert not [s for s in ws.store.table_stats()["session_id"] if s[0] in "+~"]
    out = ws.export.run(a, "csv", tmp_path / "a.csv", tables="tick_prices")
    assert out.rows == 120
    held = ws.in_grace(a)
    assert list(held["action_id"]) == [res.action_id]
    clock[0] = pd.Timedelta(hours=23)
    assert ws.restore(a) == {"indicators": 120, "tick_prices": 120}
    after = snapshot(ws, a)
    for t in TABLES:
        pd.testing.assert_frame_equal(after[t], before[t], obj=t)
        pd.testing.assert_frame_equal(snapshot(ws, b)[t], before_b[t], obj=t)
    assert ws.in_grace(a).empty
    with pytest.raises(InvalidInput, match="nothing to restore"):
        ws.restore(a)
    assert list(ws.audit(a)["action"])[-2:] == ["delete", "restore"]


def test_a_passed_grace_ends_at_the_next_delete_or_purge(ws, pair, clock):
    a, _ = pair
    first = ws.delete(a, indicator_ids=["rsi_14"], grace="1h")
    second = ws.delete(a, tables=["tick_orderbook"], grace="3h")
    clock[0] = pd.Timedelta(hours=2)
    with pytest.raises(InvalidInput, match="nothing to restore for delete"):
        ws.restore(a, first.action_id)
    ws.delete(a, backtest_ids=["bt1"])        # the next delete ends the first grace
    assert list(ws.in_grace(a)["action_id"]) == [second.action_id]
    clock[0] = pd.Timedelta(hours=4)
    ws.sessions.purge()                       # and a purge the second
    assert ws.in_grace(a).empty
    held = ws.sql("SELECT count(*) AS n FROM tick_orderbook WHERE session_id = ?",
                  ["+" + second.action_id])["n"][0]
    assert held == 0  # gone (on QuestDB relabelled as deleted, then reclaimed)
    trail = ws.audit(a)
    assert list(trail["action"]) == ["delete", "delete", "expire", "delete", "expire"]
    assert trail["total_rows"].tolist()[2] == first.total


def test_deleting_the_session_removes_its_rows_in_grace(ws, pair):
    a, b = pair
    res = ws.delete(a, tables=["tick_prices"], grace="24h")
    ws.sessions.delete(a)
    assert ws.in_grace(a).empty and res.action_id not in set(ws.in_grace()["action_id"])
    n = ws.sql("SELECT count(*) AS n FROM tick_prices WHERE session_id = ?",
               ["+" + res.action_id])["n"][0]
    assert n == 0 and len(ws.read("tick_prices", b)) == 240


def test_grace_from_the_environment_and_the_cli(store_url, ws, pair, monkeypatch):
    a, _ = pair
    monkeypatch.setenv("TSANALYSIS_DELETE_GRACE", "2h")
    res = ws.delete(a, indicator_ids=["ema_10"])
    assert res.grace_until is not None
    assert ws.delete(a, dry_run=True).dry_run  # a whole session: the default does not apply
    with pytest.raises(InvalidInput, match="less than a session"):
        ws.delete(a, grace="1h")
    monkeypatch.delenv("TSANALYSIS_DELETE_GRACE")
    out = json.loads(ok(run(store_url, "delete", a, "--table", "tick_prices", "--grace",
                            "1h", "--yes", "--json")).stdout)
    assert out["grace_until"] and out["deleted"] == {"tick_prices": 240}
    back = json.loads(ok(run(store_url, "restore", a, "--delete-id", out["action_id"],
                             "--json")).stdout)
    assert back["restored"] == {"tick_prices": 240}
    assert run(store_url, "restore", a, "--delete-id", out["action_id"]).returncode == 1
    assert run(store_url, "delete", a, "--table", "tick_prices", "--grace", "soon",
               "--yes").returncode == 1
    assert ok(run(store_url, "restore", a, "--json")).stdout  # the env-default delete
    assert ws.store.count_rows(a)["indicators"] == 300


def test_a_grace_delete_killed_part_way_loses_nothing(ws, pair, monkeypatch):
    """The move of the second table fails (as a kill would stop it): on DuckDB nothing
    happened; on QuestDB the first table's rows are held, and the delete, recorded before
    the rows moved, is found by restore, which gives back every row."""
    a, _ = pair
    before = snapshot(ws, a)
    real, calls = ws.store.move_rows, []

    def dies_on_the_second(*args, **kw):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(ws.store, "move_rows", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        ws.delete(a, symbols=["ETH/USDT"], grace="1h")
    monkeypatch.setattr(ws.store, "move_rows", real)
    held = ws.in_grace(a)
    if ws.backend == "duckdb":  # one transaction: no row moved, no delete recorded
        assert held.empty
    else:
        assert len(held) == 1
        ws.restore(a)
    after = snapshot(ws, a)
    for t in TABLES:
        pd.testing.assert_frame_equal(after[t], before[t], obj=t)


def test_a_restore_killed_part_way_is_finished_by_the_next(ws, pair, monkeypatch):
    a, _ = pair
    before = snapshot(ws, a)
    res = ws.delete(a, symbols=["BTC/USDT"], grace="1h")
    real, calls = ws.store.move_rows, []

    def dies_on_the_third(*args, **kw):
        calls.append(args[0])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(ws.store, "move_rows", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        ws.restore(a)
    monkeypatch.setattr(ws.store, "move_rows", real)
    assert list(ws.in_grace(a)["action_id"]) == [res.action_id]  # not recorded as restored
    ws.restore(a)
    after = snapshot(ws, a)
    for t in TABLES:
        pd.testing.assert_frame_equal(after[t], before[t], obj=t)
