"""A race between writers and deletes on one QuestDB day, with kills, counted row for row.

Used by ``tests/test_questdb_delete.py`` (a small run in CI) and by
``benchmarks/bench_concurrent_delete.py`` (a long one). Every writer is a process of its
own that logs each write after the store acknowledged it; at the end every logged row
must be in the store exactly once with its value, every deleted session must have no row
anywhere, and no session row may be missing.

Writers:
- a recorder: ticks into an active session, 20 at a time, forward in time;
- two importers: trades with the same timestamps into one completed session and symbol;
- an indicator writer: 5-row frames (new keys, and upserts of keys already written) into
  a completed session of the same day;
- a creator: new sessions, each with 10 ticks on the day.

Meanwhile the main process deletes victim sessions of the day one after another; every
``kill_every``-th delete runs in a child process killed at a random purge step, after
which the main process resumes (``purge``), and a reader reads the indicator session
throughout and records any error.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TextIO

import numpy as np
import pandas as pd

import tsanalysis
from tsanalysis import schema
from tsanalysis.store.questdb.reclaim import FAULT_ENV, FAULT_EXIT_CODE

from .questdb_support import fresh, plain_conn, plain_counts

SYM = "BTC/USDT"


@dataclass
class RaceResult:
    deletes: int = 0
    kills: int = 0
    purges: int = 0
    rows_written: int = 0
    rows_lost: int = 0
    rows_reverted: int = 0
    rows_duplicated: int = 0
    orphans: int = 0
    sessions_lost: int = 0
    read_errors: list[str] = field(default_factory=list)
    writer_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dead_rows_left: int = 0

    def ok(self) -> bool:
        return not (self.rows_lost or self.rows_reverted or self.rows_duplicated or
                    self.orphans or self.sessions_lost or self.read_errors or
                    self.writer_errors or self.dead_rows_left)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _child_exit(out: TextIO, error: str | None = None) -> NoReturn:
    """End a child process of a test: log ``error`` (a traceback) if there is one and exit 1,
    else exit 0 (``os._exit``: no interpreter shutdown in a forked child)."""
    if error is not None:
        out.write(json.dumps({"error": error}) + "\n")
    out.close()
    os._exit(0 if error is None else 1)


def _frame(day: pd.Timestamp, n: int, start_s: float, step_ms: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = day + pd.Timedelta(seconds=start_s) + pd.to_timedelta(np.arange(n) * step_ms, unit="ms")
    return pd.DataFrame({"ts": pd.DatetimeIndex(ts).as_unit("us"),
                         "price": np.round(100 + rng.normal(0, 1, n), 4),
                         "volume": np.round(rng.uniform(0.1, 2, n), 6)})


def _writer(kind: str, url: str, day: pd.Timestamp, target: str, log: str, stop_file: str,
            seed: int) -> None:
    """One writer process: writes until ``stop_file`` exists, logs each acknowledged write."""
    rng = random.Random(seed)
    out = open(log, "a", buffering=1)
    try:
        with tsanalysis.connect(url) as ws:
            k = 0
            while not os.path.exists(stop_file):
                if kind == "recorder":
                    # the next day: an active session's days are not rewritten (a recorder
                    # outside tsanalysis would not honour the fence), so the victims' day
                    # stays open to the other writers and to the rewrite at once
                    f = _frame(day, 20, 86_400 + 3600 + k * 2.0, 100, seed * 1000 + k)
                    ws.ingest(target, SYM, f)
                    out.write(json.dumps({"n": 20}) + "\n")
                elif kind == "importer":
                    # the same 50 timestamps every time: only seq tells the trades apart
                    f = _frame(day, 50, 7200, 0, seed * 1000 + k)
                    ws.ingest(target, "IMP/X", f)
                    out.write(json.dumps({"n": 50}) + "\n")
                elif kind == "indicators":
                    if k and rng.random() < 0.3:
                        seq = rng.randrange(0, k) * 5  # an upsert of a frame written before
                    else:
                        seq = k * 5
                    value = np.round(np.array([rng.random() for _ in range(5)]), 9)
                    f = pd.DataFrame({
                        "session_id": target, "symbol": SYM, "indicator_id": "race_1",
                        "seq": np.arange(seq, seq + 5, dtype="int64"),
                        "ts": pd.DatetimeIndex(day + pd.Timedelta(hours=3) + pd.to_timedelta(
                            np.arange(seq, seq + 5), unit="s")).as_unit("us"),
                        "value": value, "confidence": 1.0})
                    ws.store.write("indicators", f, mode="upsert")
                    out.write(json.dumps({"seq": seq, "value": value.tolist()}) + "\n")
                elif kind == "creator":
                    sid = fresh("born")
                    ws.sessions.create([SYM], sid)
                    ws.ingest(sid, SYM, _frame(day, 10, 10_000 + k, 1000, seed + k))
                    ws.sessions.complete(sid)
                    out.write(json.dumps({"sid": sid}) + "\n")
                k += 1
                time.sleep(rng.uniform(0, 0.03))
    except BaseException:
        _child_exit(out, traceback.format_exc())
    _child_exit(out)


def _killed_delete(url: str, sid: str, fail_at: int) -> None:
    os.environ[FAULT_ENV] = str(fail_at)
    try:
        with tsanalysis.connect(url) as ws:
            ws.sessions.delete(sid)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _victims(ws, day: pd.Timestamp, n: int) -> list[str]:
    out = []
    for k in range(n):
        sid = fresh("victim")
        ws.sessions.create([SYM], sid, status="completed")
        f = _frame(day, 40, 600 + 37 * k, 500, k).assign(
            session_id=sid, symbol=SYM, seq=np.arange(40, dtype="int64"))
        ws.store.write("tick_prices", f)
        out.append(sid)
    return out


def run_race(url: str, workdir: Path, day: pd.Timestamp, *, deletes: int = 8,
             kill_every: int = 3, seed: int = 0, importers: int = 2) -> RaceResult:
    """Run the race (see the module docstring) and check every row; returns the counts."""
    rng = random.Random(seed)
    res = RaceResult()
    t0 = time.monotonic()
    ws = tsanalysis.connect(url)
    rec, imp, ind = fresh("rec"), fresh("imp"), fresh("ind")
    ws.sessions.create([SYM], rec, start_time=day + pd.Timedelta(days=1))  # active
    ws.sessions.create([SYM, "IMP/X"], imp, status="completed")
    ws.sessions.create([SYM], ind, status="completed")
    victims = _victims(ws, day, deletes)
    ctx = multiprocessing.get_context("fork")
    stop_file = str(workdir / "stop")
    logs = {}
    procs = []
    plan = [("recorder", rec), ("indicators", ind), ("creator", "")] + \
        [("importer", imp)] * importers
    for k, (kind, target) in enumerate(plan):
        log = str(workdir / f"{kind}-{k}.jsonl")
        logs[(kind, k)] = log
        p = ctx.Process(target=_writer, args=(kind, url, day, target, log, stop_file, seed + k))
        p.start()
        procs.append(p)
    stop_reading = threading.Event()
    reader = tsanalysis.connect(url)

    def read() -> None:
        while not stop_reading.is_set():
            try:
                reader.store.read("indicators", ind)
                reader.store.count_rows(imp)
            except Exception as e:  # a read that fails is a finding, not a crash
                res.read_errors.append(f"{type(e).__name__}: {e}")
            time.sleep(0.01)

    th = threading.Thread(target=read)
    th.start()
    try:
        time.sleep(1.0)  # writers are under way
        for k, sid in enumerate(victims):
            if kill_every and k % kill_every == kill_every - 1:
                fail_at = rng.randint(1, 18)  # 9 steps to relabel, 8 to rewrite a day
                p = ctx.Process(target=_killed_delete, args=(url, sid, fail_at))
                p.start()
                p.join(300)
                if p.exitcode == FAULT_EXIT_CODE:
                    res.kills += 1
                elif p.exitcode != 0:
                    res.writer_errors.append(f"delete of {sid} killed at {fail_at}: exit "
                                             f"{p.exitcode}")
                ws.sessions.purge()
                res.purges += 1
            else:
                ws.sessions.delete(sid)
            res.deletes += 1
            if k % 4 == 3:
                ws.sessions.purge()
                res.purges += 1
    finally:
        Path(stop_file).touch()  # writers finish the write under way, log it and stop
        for p in procs:
            p.join(120)
            if p.exitcode is None:
                p.kill()
                res.writer_errors.append("a writer did not stop within 120 s")
        stop_reading.set()
        th.join()
        reader.close()
    ws.sessions.complete(rec)
    ws.sessions.purge()
    res.purges += 1
    _check(url, ws, res, logs, victims, rec, imp, ind, day)
    ws.close()
    res.seconds = round(time.monotonic() - t0, 1)
    return res


def _read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"error": f"unreadable log line {line[:80]!r}"})
    return out


def _check(url, ws, res: RaceResult, logs, victims, rec, imp, ind, day) -> None:
    conn = plain_conn(url)
    try:
        for (kind, _), path in logs.items():
            for e in _read_log(path):
                if "error" in e:
                    res.writer_errors.append(f"{kind}: {e['error'][-800:]}")
        # victims: nothing anywhere
        for sid in victims:
            res.orphans += sum(plain_counts(conn, sid).values())
        # the recorder: every acknowledged tick
        want = sum(e["n"] for (k, _), p in logs.items() if k == "recorder"
                   for e in _read_log(p) if "n" in e)
        got = plain_counts(conn, rec)["tick_prices"]
        res.rows_written += want
        res.rows_lost += max(0, want - got)
        res.rows_duplicated += max(0, got - want)
        # the importers: every trade, seq distinct
        want = sum(e["n"] for (k, _), p in logs.items() if k == "importer"
                   for e in _read_log(p) if "n" in e)
        got, distinct = conn.execute(
            "SELECT count(), count_distinct(seq) FROM tick_prices WHERE session_id = %s AND "
            "symbol = 'IMP/X'", (imp,)).fetchone()
        res.rows_written += want
        res.rows_lost += max(0, want - got)
        res.rows_duplicated += got - distinct
        # the indicators: the last value written for each key
        last: dict[int, float] = {}
        for (k, _), p in logs.items():
            if k != "indicators":
                continue
            for e in _read_log(p):
                if "seq" in e:
                    for i, v in enumerate(e["value"]):
                        last[e["seq"] + i] = v
        stored = dict(conn.execute("SELECT seq, value FROM indicators WHERE session_id = %s",
                                   (ind,)).fetchall())
        n_stored = conn.execute("SELECT count() FROM indicators WHERE session_id = %s",
                                (ind,)).fetchone()[0]
        res.rows_written += len(last)
        for key, v in last.items():
            if key not in stored:
                res.rows_lost += 1
            elif abs(stored[key] - v) > 1e-12:
                res.rows_reverted += 1
        res.rows_duplicated += n_stored - len(stored)
        # the creator: every session with its 10 ticks
        for (k, _), p in logs.items():
            if k != "creator":
                continue
            for e in _read_log(p):
                if "sid" in e:
                    res.rows_written += 11
                    c = plain_counts(conn, e["sid"])
                    if c["data_collection_sessions"] != 1:
                        res.sessions_lost += 1
                    res.rows_lost += max(0, 10 - c["tick_prices"])
        for sid in (rec, imp, ind):
            if plain_counts(conn, sid)["data_collection_sessions"] != 1:
                res.sessions_lost += 1
        lo = day.strftime("%Y-%m-%dT00:00:00.000000Z")
        hi = (day + pd.Timedelta(days=1)).strftime("%Y-%m-%dT00:00:00.000000Z")
        res.dead_rows_left = sum(conn.execute(
            f"SELECT count() FROM {t.name} WHERE ts >= %s AND ts < %s AND session_id ~ '^~'",
            (lo, hi)).fetchone()[0] for t in schema.CHILD_TABLES)
    finally:
        conn.close()


# -- Commands taking turns with writers in a loop (both backends) -----------------------
#
# A recorder ingests into an active session every 0.2 s and a second writer appends to a
# completed session, half its rows inside a time window, while the command line lists,
# imports into a session, deletes that session, and deletes the window of the second
# writer's session. Every write is logged with its wall-clock start and acknowledgement,
# so each row's fate can be told at the end: a row of the window acknowledged before the
# delete began is gone, any other row acknowledged is there, once.

T0 = pd.Timestamp("2026-01-05T00:00:00Z")
WINDOW = (T0 + pd.Timedelta(seconds=1000), T0 + pd.Timedelta(seconds=2000))


def _us(ts: pd.Timestamp) -> int:
    return int(ts.value // 1000)


def loop_writer(url: str, session_id: str, log: str, stop_file: str, period: float,
                windowed: bool, complete: bool) -> None:
    """Ingest into ``session_id`` every ``period`` seconds until ``stop_file`` exists.

    ``windowed``: 10 rows a write, 5 inside ``WINDOW`` and 5 after it, each timestamp
    unique; else 20 rows after each other. Logs ``{"start", "ack", "ts": [µs...]}`` per
    acknowledged write; completes the session at the end if ``complete``.
    """
    out = open(log, "a", buffering=1)
    try:
        with tsanalysis.connect(url) as ws:
            k = 0
            while not os.path.exists(stop_file):
                if windowed:
                    inside = WINDOW[0] + pd.to_timedelta(np.arange(5) + k * 5, unit="ms")
                    after = WINDOW[1] + pd.Timedelta(seconds=1000) + pd.to_timedelta(
                        np.arange(5) + k * 5, unit="ms")
                    ts = inside.append(after)
                else:
                    # the next day: a delete of WINDOW is not deferred for this writer
                    ts = T0 + pd.Timedelta(days=1) + pd.to_timedelta(np.arange(20) + k * 20,
                                                                     unit="s")
                f = pd.DataFrame({"ts": pd.DatetimeIndex(ts).as_unit("us"),
                                  "price": 100.0 + k, "volume": 1.0})
                start = time.time()
                ws.ingest(session_id, SYM, f)
                out.write(json.dumps({"start": start, "ack": time.time(),
                                      "ts": [_us(t) for t in f["ts"]]}) + "\n")
                k += 1
                time.sleep(period)
            if complete:
                ws.sessions.complete(session_id)
    except BaseException:
        _child_exit(out, traceback.format_exc())
    _child_exit(out)


def start_writer(url: str, session_id: str, log: Path, stop_file: Path, *, period: float,
                 windowed: bool = False, complete: bool = False
                 ) -> multiprocessing.process.BaseProcess:
    """:func:`loop_writer` in a process of its own (spawned: a forked child would share
    the parent's open DuckDB database)."""
    p = multiprocessing.get_context("spawn").Process(
        target=loop_writer, args=(url, session_id, str(log), str(stop_file), period,
                                  windowed, complete))
    p.start()
    return p


def wait_for_writes(log: Path, n: int, proc: multiprocessing.process.BaseProcess,
                    timeout: float = 60.0) -> None:
    """Until ``log`` holds ``n`` acknowledged writes (fails if the writer died)."""
    t_end = time.monotonic() + timeout
    while len([e for e in _read_log(str(log)) if "ack" in e]) < n:
        errors = [e["error"] for e in _read_log(str(log)) if "error" in e]
        assert not errors and proc.exitcode is None, errors or proc.exitcode
        assert time.monotonic() < t_end, f"no {n} writes in {timeout} s"
        time.sleep(0.05)


def writes(log: Path) -> list[dict]:
    """The acknowledged writes of a :func:`loop_writer` (its errors fail the test)."""
    entries = _read_log(str(log))
    errors = [e["error"] for e in entries if "error" in e]
    assert not errors, errors[0]
    return [e for e in entries if "ack" in e]


@dataclass
class Fates:
    """What became of logged rows after a delete of ``WINDOW`` that ran from ``start``
    to ``end`` (wall clock)."""

    deleted: int = 0  # in the window, acknowledged before the delete began: must be gone
    kept: int = 0  # outside it, or written after the delete ended: must be there
    either: int = 0  # in the window, written while the delete ran
    lost: list[int] = field(default_factory=list)
    resurrected: list[int] = field(default_factory=list)
    duplicated: int = 0


def fates(logged: list[dict], stored_us: list[int], start: float, end: float) -> Fates:
    lo, hi = _us(WINDOW[0]), _us(WINDOW[1])
    stored = set(stored_us)
    out = Fates(duplicated=len(stored_us) - len(stored))
    for e in logged:
        for ts in e["ts"]:
            inside = lo <= ts < hi
            if inside and e["ack"] < start:
                out.deleted += 1
                if ts in stored:
                    out.resurrected.append(ts)
            elif not inside or e["start"] > end:
                out.kept += 1
                if ts not in stored:
                    out.lost.append(ts)
            else:
                out.either += 1
    return out
