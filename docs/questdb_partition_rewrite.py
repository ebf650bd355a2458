"""Prototype: remove one session's rows from a QuestDB WAL table by rewriting only
the day partitions that session touches (QuestDB 9.3.x has no row-level DELETE).

Per touched day D of table T (see docs/questdb-notes.md, section "Partition rewrite"):

  1. journal 'copy'       ; wait until T is fully applied (reads see every commit)
  2. clear D in staging    (leftovers of a crashed copy), copy the rows of D that
     do NOT belong to the session into staging (INSERT INTO ... SELECT), wait
  3. verify staged == count(T, D, other sessions)      -> journal 'staged'
  4. ALTER TABLE T DROP PARTITION LIST 'D'              -> journal 'dropped'
  5. INSERT INTO T SELECT * FROM staging WHERE D ; wait ; verify counts
                                                        -> journal 'restored'
  6. drop D from staging                                -> journal 'done'

Every journal row is waited for (WAL applied) before the step it announces runs,
so a process killed anywhere can be resumed with resume(): the last journal step
of each (purge, table, day) says where to pick up. Nothing is destroyed before
the kept rows are durably in staging and counted.

Self-contained demo against a running server (scripts/questdb start):

    /work/venv/bin/python docs/questdb_partition_rewrite.py --pg-port 8812 --http-port 9000

It creates tables prefixed `prw_`, ingests 676,000 rows in 3 sessions over 2 days,
purges one session (measuring each step and how long other sessions' rows of the
day are invisible to a concurrent reader), simulates a crash and resumes, shows
what happens to rows written concurrently, and drops its tables at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import threading
import time
import uuid

import numpy as np
import pandas as pd
import psycopg

UTC = dt.timezone.utc
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JOURNAL = "prw_purge_journal"


def ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe identifier: {name!r}")
    return name


class WalSuspended(RuntimeError):
    pass


def wait_applied(conn, tables=None, timeout: float = 30.0, poll: float = 0.02) -> float:
    """Block until every WAL commit of `tables` (a name, a list, or None = all
    tables) is applied, i.e. readable. Raises WalSuspended if a table is
    suspended (its pending rows will never show up until ALTER TABLE .. RESUME WAL)
    and TimeoutError after `timeout` seconds. Returns the seconds waited."""
    if isinstance(tables, str):
        tables = [tables]
    t0 = time.monotonic()
    while True:
        rows = conn.execute(
            "SELECT name, suspended, writerTxn, sequencerTxn, errorTag, errorMessage FROM wal_tables()"
        ).fetchall()
        if tables is not None:
            wanted = set(tables)
            rows = [r for r in rows if r[0] in wanted]
            missing = wanted - {r[0] for r in rows}
            if missing:
                raise LookupError(f"not WAL tables (or do not exist): {sorted(missing)}")
        suspended = [r for r in rows if r[1]]
        if suspended:
            raise WalSuspended(
                "; ".join(f"{r[0]} suspended at writerTxn={r[2]} sequencerTxn={r[3]} {r[4]} {r[5]}".strip()
                          for r in suspended))
        lagging = [r for r in rows if r[2] < r[3]]
        if not lagging:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("WAL not applied after %.0fs: %s" % (
                timeout, ", ".join(f"{r[0]} {r[2]}/{r[3]}" for r in lagging)))
        time.sleep(poll)


def sequencer_txn(conn, table: str) -> int:
    return conn.execute("SELECT sequencerTxn FROM wal_tables() WHERE name = %s", (table,)).fetchone()[0]


def scalar(conn, sql: str, params=()):
    return conn.execute(sql, params).fetchone()[0]


def ensure_journal(conn) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {JOURNAL} (ts TIMESTAMP, purge_id SYMBOL, tbl SYMBOL, "
        "day SYMBOL, step SYMBOL, kept LONG, note VARCHAR) TIMESTAMP(ts) PARTITION BY MONTH WAL")


def journal(conn, purge_id: str, table: str, day: str, step: str, kept=None, note: str = "") -> None:
    conn.execute(f"INSERT INTO {JOURNAL} VALUES (now(), %s, %s, %s, %s, %s, %s)",
                 (purge_id, table, day, step, kept, note))
    wait_applied(conn, JOURNAL)  # durable and readable before the announced step runs


def touched_days(conn, table: str, key_col: str, key: str, ts_col: str = "ts") -> list[str]:
    rows = conn.execute(
        f"SELECT DISTINCT timestamp_floor('d', {ident(ts_col)}) d FROM {ident(table)} "
        f"WHERE {ident(key_col)} = %s ORDER BY d", (key,)).fetchall()
    return [r[0].strftime("%Y-%m-%d") for r in rows]


def _day_bounds(day: str):
    lo = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return lo, lo + dt.timedelta(days=1)


class ConcurrentWrite(RuntimeError):
    """Rows for the day arrived after the copy: the day was left untouched."""


class Crash(Exception):
    """Raised by the demo to simulate a process killed after a given step."""


def rewrite_day(conn, table: str, day: str, key_col: str, key: str, purge_id: str,
                ts_col: str = "ts", start_step: str = "copy", crash_after: str | None = None,
                hooks: dict | None = None, timings: dict | None = None) -> dict:
    """Remove the rows of `key` from day partition `day` of `table`, keeping every
    other row of that day. Steps are run from `start_step` on (see resume())."""
    table, key_col, ts_col = ident(table), ident(key_col), ident(ts_col)
    staging = ident(f"{table}__purge_staging")
    hooks = hooks or {}
    timings = timings if timings is not None else {}
    lo, hi = _day_bounds(day)
    where_day = f"{ts_col} >= %s AND {ts_col} < %s"
    order = ["copy", "staged", "dropped", "restored", "done"]
    first = order.index(start_step)
    result = {"day": day}

    def tick(name, t0):
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

    def step_done(step, kept=None, note=""):
        journal(conn, purge_id, table, day, step, kept, note)
        if crash_after == step:
            raise Crash(f"simulated crash after '{step}' for {table} {day}")

    conn.execute(f"CREATE TABLE IF NOT EXISTS {staging} (LIKE {table})")

    if first <= order.index("copy"):
        step_done("copy", note="copying other sessions' rows to staging")
        t0 = time.perf_counter()
        wait_applied(conn, table)
        conn.execute(f"ALTER TABLE {staging} DROP PARTITION LIST '{day}'")  # OK even if absent
        wait_applied(conn, staging)
        total = scalar(conn, f"SELECT count() FROM {table} WHERE {where_day}", (lo, hi))
        removed = scalar(conn, f"SELECT count() FROM {table} WHERE {where_day} AND {key_col} = %s",
                         (lo, hi, key))
        kept = total - removed
        # `!=` keeps rows whose key is NULL (checked on 9.3.4).
        conn.execute(f"INSERT INTO {staging} SELECT * FROM {table} WHERE {where_day} AND {key_col} != %s",
                     (lo, hi, key))
        wait_applied(conn, staging)
        staged = scalar(conn, f"SELECT count() FROM {staging} WHERE {where_day}", (lo, hi))
        tick("copy to staging", t0)
        if staged != kept:
            raise RuntimeError(f"{table} {day}: staged {staged} rows, expected {kept}; nothing dropped")
        result.update(total=total, removed=removed, kept=kept)
        step_done("staged", kept=kept)
    else:
        kept = scalar(conn, f"SELECT kept FROM {JOURNAL} WHERE purge_id = %s AND tbl = %s AND day = %s "
                            "AND step = 'staged' ORDER BY ts DESC LIMIT 1", (purge_id, table, day))
        result.update(kept=kept)

    if first <= order.index("staged"):
        if "before_drop" in hooks:
            hooks["before_drop"]()
        t0 = time.perf_counter()
        if first == order.index("copy"):
            # Guard: if other rows landed in this day since the copy, dropping now
            # would lose them. Abort (journal 'aborted'; resume() re-copies).
            wait_applied(conn, table)
            now_kept = scalar(conn, f"SELECT count() FROM {table} WHERE {where_day} AND {key_col} != %s",
                              (lo, hi, key))
            if now_kept != kept:
                journal(conn, purge_id, table, day, "aborted", kept,
                        f"{now_kept - kept:+d} other rows since the copy")
                raise ConcurrentWrite(f"{table} {day}: {now_kept - kept:+d} rows of other sessions arrived "
                                      "since the copy; nothing dropped, retry (resume) later")
        txn_before = sequencer_txn(conn, table)
        conn.execute(f"ALTER TABLE {table} DROP PARTITION LIST '{day}'")
        # Issued right after the DROP, without waiting: WAL applies in sequencer order.
        conn.execute(f"INSERT INTO {table} SELECT * FROM {staging} WHERE {where_day}", (lo, hi))
        txn_after = sequencer_txn(conn, table)
        tick("guard + drop + re-insert (issue)", t0)
        # Exactly two commits (drop, insert) expected; more means someone else
        # committed to the table in between (rows of `day` in it would be lost).
        result["interleaved_commits"] = txn_after - txn_before - 2
        step_done("dropped", kept=kept, note=f"txn {txn_before}->{txn_after}")
        if "after_drop" in hooks:
            hooks["after_drop"]()
        t0 = time.perf_counter()
        wait_applied(conn, table)
        tick("wait apply", t0)
    elif first == order.index("dropped"):
        # The re-insert may or may not have been committed before the crash:
        # repeating it is harmless, DEDUP UPSERT KEYS makes it idempotent.
        conn.execute(f"INSERT INTO {table} SELECT * FROM {staging} WHERE {where_day}", (lo, hi))
        wait_applied(conn, table)

    if first <= order.index("dropped"):
        t0 = time.perf_counter()
        left = scalar(conn, f"SELECT count() FROM {table} WHERE {where_day} AND {key_col} = %s", (lo, hi, key))
        others = scalar(conn, f"SELECT count() FROM {table} WHERE {where_day} AND {key_col} != %s",
                        (lo, hi, key))
        tick("verify", t0)
        if left != 0 or others < kept:
            raise RuntimeError(f"{table} {day}: after rewrite {left} rows of {key!r} left, "
                               f"{others} other rows (expected >= {kept}); staging kept for recovery")
        result.update(after=others)
        step_done("restored", kept=kept)

    t0 = time.perf_counter()
    conn.execute(f"ALTER TABLE {staging} DROP PARTITION LIST '{day}'")
    wait_applied(conn, staging)
    tick("clear staging", t0)
    step_done("done", kept=kept)
    return result


def purge(conn, table: str, key_col: str, key: str, ts_col: str = "ts", purge_id: str | None = None,
          **kw) -> tuple[str, list[dict]]:
    ensure_journal(conn)
    purge_id = purge_id or uuid.uuid4().hex[:12]
    wait_applied(conn, table)
    days = touched_days(conn, table, key_col, key, ts_col)
    for day in days:
        journal(conn, purge_id, table, day, "planned")
    return purge_id, [rewrite_day(conn, table, d, key_col, key, purge_id, ts_col, **kw) for d in days]


def resume(conn, purge_id: str, key_col: str, key: str, ts_col: str = "ts") -> list[dict]:
    """Finish an interrupted purge from the journal."""
    nxt = {"planned": "copy", "copy": "copy", "aborted": "copy", "staged": "staged", "dropped": "dropped",
           "restored": "restored"}
    rows = conn.execute(
        f"SELECT tbl, day, last(step) FROM {JOURNAL} WHERE purge_id = %s ORDER BY tbl, day",
        (purge_id,)).fetchall()
    out = []
    for table, day, step in rows:
        if step == "done":
            continue
        out.append(rewrite_day(conn, table, day, key_col, key, purge_id, ts_col, start_step=nxt[step]))
    return out


# --------------------------------------------------------------------------- demo

DDL = ("CREATE TABLE IF NOT EXISTS {t} (session_id SYMBOL, symbol SYMBOL, seq LONG, ts TIMESTAMP, "
       "price DOUBLE, volume DOUBLE) TIMESTAMP(ts) PARTITION BY DAY WAL "
       "DEDUP UPSERT KEYS(ts, session_id, symbol, seq)")


def frame(n, session, start, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "session_id": session, "symbol": rng.choice(["AAA", "BBB", "CCC", "DDD"], n),
        "seq": np.arange(n, dtype="int64"),
        "ts": pd.date_range(start, periods=n, freq="300ms", tz="UTC").as_unit("us"),
        "price": rng.normal(100, 1, n), "volume": rng.integers(1, 1000, n).astype("float64")})


def load(conn, http_port, table):
    from questdb import Sender
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"DROP TABLE IF EXISTS {table}__purge_staging")
    conn.execute(DDL.format(t=table))
    with Sender.from_conf(f"http::addr=127.0.0.1:{http_port};") as s:
        for f in (frame(288_000, "A", "2026-01-01", 1), frame(288_000, "B", "2026-01-01T12:00:00", 2),
                  frame(100_000, "C", "2026-01-02T06:00:00", 3)):
            s.dataframe(f, table_name=table, symbols=["session_id", "symbol"], at="ts")
    wait_applied(conn, table)


def counts(conn, table):
    return dict(conn.execute(f"SELECT session_id, count() FROM {table} GROUP BY session_id "
                             "ORDER BY session_id").fetchall())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-port", type=int, default=8812)
    ap.add_argument("--http-port", type=int, default=9000)
    a = ap.parse_args()
    dsn = f"host=127.0.0.1 port={a.pg_port} user=admin password=quest dbname=qdb"
    # prepare_threshold=None: no server-side prepared statements. On 9.3.4 a
    # re-executed prepared ALTER can run another ALTER's operation (see notes).
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
    check = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)  # independent verification
    conn.execute(f"DROP TABLE IF EXISTS {JOURNAL}")
    table = "prw_ticks"

    # 1. normal purge, with a concurrent reader measuring the visibility gap
    load(conn, a.http_port, table)
    before = counts(conn, table)
    print("before:", before, "partitions:",
          conn.execute(f"SELECT name, numRows FROM table_partitions('{table}')").fetchall())
    stop, gaps = threading.Event(), []

    def reader():
        rc = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
        lo = dt.datetime(2026, 1, 1, tzinfo=UTC)
        gap_start = None
        while not stop.is_set():
            n = rc.execute(f"SELECT count() FROM {table} WHERE ts >= %s AND ts < %s AND session_id = 'A'",
                           (lo, lo + dt.timedelta(days=1))).fetchone()[0]
            now = time.perf_counter()
            if n < 288_000 and gap_start is None:
                gap_start = now
            elif n == 288_000 and gap_start is not None:
                gaps.append(now - gap_start)
                gap_start = None
            time.sleep(0.002)
        rc.close()

    th = threading.Thread(target=reader)
    th.start()
    timings: dict = {}
    t0 = time.perf_counter()
    pid, res = purge(conn, table, "session_id", "B", timings=timings)
    total = time.perf_counter() - t0
    stop.set()
    th.join()
    after = counts(conn, table)
    print(f"purge B: {total:.2f} s total; per step: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    print("  days:", res)
    print("after:", after)
    print(f"  concurrent reader saw session A's rows of 2026-01-01 missing {len(gaps)} time(s), "
          f"longest {max(gaps, default=0) * 1000:.0f} ms")
    assert after == {"A": 288_000, "C": 100_000}, after
    assert scalar(check, f"SELECT count() FROM {table} WHERE session_id = 'B'") == 0

    # 2. crash after 'staged' of the first day, then resume
    load(conn, a.http_port, table)
    try:
        purge(conn, table, "session_id", "B", purge_id="crashdemo", crash_after="staged")
    except Crash as e:
        print("simulated:", e, "| counts now:", counts(conn, table))
    t0 = time.perf_counter()
    resume(conn, "crashdemo", "session_id", "B")
    print(f"resumed in {time.perf_counter() - t0:.2f} s ->", counts(conn, table))
    assert counts(check, table) == {"A": 288_000, "C": 100_000}
    # crash after 'dropped' (partition gone, re-insert maybe not applied yet)
    load(conn, a.http_port, table)
    try:
        purge(conn, table, "session_id", "B", purge_id="crashdemo2", crash_after="dropped")
    except Crash as e:
        print("simulated:", e)
    resume(conn, "crashdemo2", "session_id", "B")
    print("resumed ->", counts(conn, table))
    assert counts(check, table) == {"A": 288_000, "C": 100_000}

    # 3. concurrent writes into the day being rewritten
    load(conn, a.http_port, table)

    def write(session):
        conn.execute(f"INSERT INTO {table} VALUES (%s, 'AAA', 1, '2026-01-01T05:00:00Z', 1.0, 1.0)",
                     (session,))

    # 3a. a write into the day committed right after the DROP survives
    purge(conn, table, "session_id", "B", hooks={"after_drop": lambda: write("LATE_AFTER_DROP")})
    c = counts(conn, table)
    print("write after DROP:", c)
    assert counts(check, table) == c
    assert c.get("LATE_AFTER_DROP") == 1 and "B" not in c, c
    # 3b. a write into the day between the copy and the DROP trips the guard
    load(conn, a.http_port, table)
    late = {"before": lambda: write("LATE_BEFORE_DROP")}
    try:
        purge(conn, table, "session_id", "B", purge_id="concurrent",
              hooks={"before_drop": lambda: late.pop("before", lambda: None)()})
    except ConcurrentWrite as e:
        print("guard:", e)
    resume(conn, "concurrent", "session_id", "B")
    c = counts(conn, table)
    print("write between copy and DROP, after resume:", c)
    assert counts(check, table) == c
    assert c.get("LATE_BEFORE_DROP") == 1 and "B" not in c, c

    for t in (table, f"{table}__purge_staging", JOURNAL):
        conn.execute(f"DROP TABLE IF EXISTS {t}")


if __name__ == "__main__":
    main()
