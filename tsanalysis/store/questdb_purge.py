"""Deleting a session on QuestDB, which (9.3) has no row-level ``DELETE``.

1. **Tombstone.** The session's status becomes ``deleting``; every read of the store
   hides it from then on (sessions list, counts, stats, rows).
2. **Native delete** where the server has one (probed with ``DELETE FROM t WHERE false``):
   ``DELETE FROM t WHERE session_id = ...`` per table, children first.
3. **Otherwise, partition rewrite**, per table and day partition that the session touches:
   copy the day's *other* rows to a staging table (``<table>__purge_staging``); drop the
   day partition; insert the copy back; check that the session has no row left and that
   every other row is back; clear the staging day. Each step is committed to a journal
   table (``tsanalysis_purge_journal``) before it runs, so a process killed at any point
   is finished by :meth:`Purger.purge` (``tsanalysis sessions purge --resume``): nothing
   is dropped before the other rows are in staging, and an interrupted swap is always
   completed before anything else is purged.
4. **Deferral.** A day that an active session may still be writing is not rewritten (rows
   written between the copy and the drop would be lost): active sessions write forward in
   time from their first row (or their start), so those days are deferred and reported;
   ``purge`` later finishes them. For the sessions table, the day partition holding the
   row of another active session (which still updates its row) is deferred likewise.
5. **Guards.** One purge at a time (a compare-and-set lock row in the non-WAL table
   ``tsanalysis_purge_state``). If anything was committed to the table since the copy,
   a fingerprint of the day's other rows (count, sums, time range) is compared with the
   copy's; a difference means someone wrote into the day, and the copy is redone. Swaps
   are announced in ``tsanalysis_purge_swaps``, and reads wait for them (see
   :meth:`QuestDBStore.consistent`): other sessions' rows of that day are missing for a
   moment during the swap, and for good if the process died mid-swap, until resumed.

Fault injection for tests: ``TSANALYSIS_PURGE_FAIL_AT=N`` makes the process exit
(``os._exit(86)``, no clean-up, like a kill) at the N-th step of the purge, or at the
first step whose label contains the text given (e.g. ``dropped partition``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import schema
from ..errors import StoreError
from .base import Progress, PurgeReport
from .questdb import DELETING, JOURNAL_TABLE, STATE_TABLE, SWAP_TABLE, q

if TYPE_CHECKING:
    from ..sessions import DeleteResult
    from .questdb import QuestDBStore

log = logging.getLogger(__name__)

FAULT_ENV = "TSANALYSIS_PURGE_FAIL_AT"
FAULT_EXIT_CODE = 86
STAGING_SUFFIX = "__purge_staging"
#: A lock whose owner has not shown life for this long may be taken over from any host.
LOCK_LEASE_S = 900.0
#: How often a day's copy is redone when other sessions keep writing into it.
COPY_ATTEMPTS = 3

#: Journal steps of one (table, day). Steps from ``dropping`` on may have destroyed the
#: partition: they must be finished from staging before anything else is purged.
MUST_FINISH = ("dropping", "dropped", "restored")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def create_internal_tables(store: QuestDBStore) -> None:
    """The journal (WAL) and the state row (non-WAL: updates are immediate and atomic)."""
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (ts TIMESTAMP, purge_id SYMBOL, "
        "session_id SYMBOL, tbl SYMBOL, day SYMBOL, step SYMBOL, rows LONG, note VARCHAR) "
        "TIMESTAMP(ts) PARTITION BY MONTH WAL")
    # No designated timestamp: plain (non-WAL) tables, whose writes are visible to every
    # connection at once. The lock row is taken with a conditional UPDATE (an atomic
    # compare-and-set); swaps are announced by appending rows (an INSERT takes ~2 ms where
    # an UPDATE of a non-WAL table takes ~40 ms), and readers look at the last one.
    store.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (id INT, owner VARCHAR, "
                  "owner_since TIMESTAMP)")
    if not store.scalar(f"SELECT count() FROM {STATE_TABLE}"):
        store.execute(f"INSERT INTO {STATE_TABLE} (id) VALUES (1)")
    store.execute(f"CREATE TABLE IF NOT EXISTS {SWAP_TABLE} (gen LONG, tbl VARCHAR, "
                  "day VARCHAR, event VARCHAR, owner VARCHAR, at TIMESTAMP)")


def _this_host() -> str:
    return socket.gethostname()


def _owner_dead(owner: str | None, since: Any) -> bool:
    """True when the process named by ``owner`` (host:pid:purge) cannot be alive."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == _this_host() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    if since is None:
        return False
    age = (pd.Timestamp.now(tz="UTC") - pd.Timestamp(since, tz="UTC")).total_seconds()
    return age > LOCK_LEASE_S


def wait_no_swap(store: QuestDBStore, wait: bool = True) -> int:
    """The swap generation once no partition swap is in progress (see ``consistent``).

    With ``wait=False`` a swap in progress returns -1 (the caller's read may have seen a
    partition half-swapped). A swap left by a dead process is an error telling the user to
    resume, since the rows of that day are incomplete until then.
    """
    deadline = time.monotonic() + store.config.timeout
    while True:
        row = store.fetchone(f"SELECT gen, tbl, day, event, owner FROM {SWAP_TABLE} LIMIT -1")
        if row is None:
            return 0
        gen, tbl, day, event, owner = row
        if event not in ("begin", "interrupted"):
            return int(gen)
        if not wait:
            return -1
        gone = event == "interrupted" or _owner_dead(owner, None)
        if gone or time.monotonic() >= deadline:
            why = ("the process doing it failed or is gone" if gone
                   else f"still not finished after {store.config.timeout:g}s")
            raise StoreError(
                f"a purge was interrupted while rewriting {tbl} {day} ({why}): rows of that "
                "day are incomplete until it is finished with `tsanalysis sessions purge "
                "--resume`")
        time.sleep(0.02)


@dataclass
class _Fingerprint:
    """Aggregates of a day's other rows: equal before and after means nobody wrote there."""

    values: tuple[Any, ...]

    @property
    def count(self) -> int:
        return int(self.values[0] or 0)

    def same(self, other: _Fingerprint) -> bool:
        for a, b in zip(self.values, other.values, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None:
                    if a is not b:
                        return False
                elif not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif a != b:
                return False
        return True


class _Faults:
    """Counts the steps of a purge and exits the process at ``$TSANALYSIS_PURGE_FAIL_AT``.

    The value is a step number (1 = the first step), or text: the first step whose label
    contains it (e.g. ``dropped partition``).
    """

    def __init__(self) -> None:
        value = os.environ.get(FAULT_ENV, "").strip()
        self.at = int(value) if value.isdigit() else None
        self.label = value if value and not value.isdigit() else None
        self.n = 0

    def point(self, label: str) -> None:
        self.n += 1
        if (self.at is not None and self.n == self.at) or \
                (self.label is not None and self.label in label):
            sys.stderr.write(f"tsanalysis: fault injection: exiting at purge step {self.n} "
                             f"({label})\n")
            sys.stderr.flush()
            os._exit(FAULT_EXIT_CODE)


class Purger:
    """Removes tombstoned sessions' rows from a QuestDB store (see the module docstring)."""

    def __init__(self, store: QuestDBStore, lock_timeout: float | None = None):
        self.store = store
        #: how long to wait for another purge to finish
        self.lock_timeout = (max(60.0, 4 * store.config.timeout) if lock_timeout is None
                             else lock_timeout)
        self.faults = _Faults()
        self.purge_id = uuid.uuid4().hex[:12]
        self.owner = f"{_this_host()}:{os.getpid()}:{self.purge_id}"
        self._beat = time.monotonic()
        #: staging table -> days it holds (as far as this purge knows)
        self._staged: dict[str, set[str]] = {}

    # -- small helpers -----------------------------------------------------------------

    def _count(self, table: schema.Table, day: str | None, where: str, params: list[Any]
               ) -> int:
        sql = f"SELECT count() FROM {q(table.name)} WHERE {where}"
        if day is not None:
            sql += f" AND {self._day_filter(table, day)}"
        return int(self.store.scalar(sql, params) or 0)

    @staticmethod
    def _day_filter(table: schema.Table, day: str, alias_ts: str | None = None) -> str:
        if not _DAY.match(day):
            raise StoreError(f"internal: bad partition name {day!r}")
        lo = pd.Timestamp(day, tz="UTC")
        hi = lo + pd.Timedelta(days=1)
        ts = q(alias_ts or table.ts)
        return (f"{ts} >= '{lo.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}' AND "
                f"{ts} < '{hi.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'")

    def _fingerprint(self, name: str, table: schema.Table, day: str, session_id: str
                     ) -> _Fingerprint:
        parts = ["count()", f"min({q(table.ts)})", f"max({q(table.ts)})"]
        for c in table.columns:
            if c.type == schema.LONG:
                parts.append(f"sum({q(c.name)})")
            elif c.type == schema.DOUBLE:
                parts.append(f"ksum({q(c.name)})")
            elif c.type == schema.TIMESTAMP and c.name != table.ts:
                # updated_at moves on every update of a session row
                parts += [f"count({q(c.name)})", f"max({q(c.name)})"]
            elif c.name != table.ts:
                parts.append(f"count({q(c.name)})")
        row = self.store.fetchone(
            f"SELECT {', '.join(parts)} FROM {q(name)} WHERE {self._day_filter(table, day)} "
            "AND session_id != %s", [session_id])
        return _Fingerprint(tuple(row or ()))

    def _journal(self, session_id: str, table: str, day: str, step: str, rows: int | None,
                 note: str = "", purge_id: str | None = None) -> None:
        # Durable once the INSERT returns (committed to the WAL), which is what the step it
        # announces needs; readers of the journal wait for it to be applied.
        self.store.execute(f"INSERT INTO {JOURNAL_TABLE} VALUES (now(), %s, %s, %s, %s, %s, "
                           "%s, %s)", [purge_id or self.purge_id, session_id, table, day,
                                       step, rows, note])
        self.faults.point(f"journal {table} {day} {step}")

    def _staging(self, table: schema.Table) -> str:
        """The staging table of ``table`` (same columns, WAL and keys), created on demand."""
        name = table.name + STAGING_SUFFIX
        if name not in self._staged:
            self.store.execute(f"CREATE TABLE IF NOT EXISTS {q(name)} (LIKE {q(table.name)})")
            self._staged[name] = {r[0][:10] for r in self.store.fetchall(
                f"SELECT name FROM table_partitions('{name}')")}
        return name

    def _clear_staging_day(self, staging: str, day: str) -> None:
        # Not waited for: whatever is written to the staging day next is committed after
        # the drop, and the WAL applies commits in order. (Dropping a partition that does
        # not exist is harmless but logs an error on the server, hence the bookkeeping.)
        if day in self._staged[staging]:
            self.store.execute(f"ALTER TABLE {q(staging)} DROP PARTITION LIST '{day}'")
            self._staged[staging].discard(day)

    # -- lock and swap marker --------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One purge at a time, across processes and hosts (compare-and-set on a row)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        """Take the purge lock, waiting up to ``lock_timeout`` for another purge to end.

        The lock of a process that is gone (same host) or silent for ``LOCK_LEASE_S``
        (another host) is taken over.
        """
        deadline = time.monotonic() + self.lock_timeout
        while True:
            _, n = self.store.execute(
                f"UPDATE {STATE_TABLE} SET owner = %s, owner_since = now() WHERE id = 1 "
                "AND owner IS NULL", [self.owner])
            if n > 0:
                return
            row = self.store.fetchone(f"SELECT owner, owner_since FROM {STATE_TABLE} "
                                      "WHERE id = 1")
            if row is None:
                create_internal_tables(self.store)
                continue
            other, since = row
            if other is not None and _owner_dead(other, since):
                log.warning("taking over the purge lock of %s (process gone)", other)
                _, n = self.store.execute(
                    f"UPDATE {STATE_TABLE} SET owner = %s, owner_since = now() WHERE id = 1 "
                    "AND owner = %s", [self.owner, other])
                if n > 0:
                    return
                continue
            if time.monotonic() >= deadline:
                raise StoreError(f"another purge is running on QuestDB at "
                                 f"{self.store.config.pg_address} ({other}, since {since}); "
                                 "try again when it has finished")
            time.sleep(0.2)

    def release(self) -> None:
        self.store.execute(f"UPDATE {STATE_TABLE} SET owner = NULL, owner_since = NULL "
                           "WHERE id = 1 AND owner = %s", [self.owner])

    def _heartbeat(self) -> None:
        # Lets other hosts see that the lock holder lives (see LOCK_LEASE_S).
        if time.monotonic() - self._beat > 60:
            self.store.execute(f"UPDATE {STATE_TABLE} SET owner_since = now() WHERE id = 1 "
                               "AND owner = %s", [self.owner])
            self._beat = time.monotonic()

    def _swap_event(self, event: str, table: str | None = None, day: str | None = None
                    ) -> None:
        last = self.store.scalar(f"SELECT gen FROM {SWAP_TABLE} LIMIT -1")
        self.store.execute(f"INSERT INTO {SWAP_TABLE} VALUES (%s, %s, %s, %s, %s, now())",
                           [int(last or 0) + 1, table, day, event, self.owner])

    def _begin_swap(self, table: str, day: str) -> None:
        self._swap_event("begin", table, day)

    def _end_swap(self) -> None:
        row = self.store.fetchone(f"SELECT event FROM {SWAP_TABLE} LIMIT -1")
        if row is not None and row[0] in ("begin", "interrupted"):
            self._swap_event("end")

    def _interrupted_swap(self) -> None:
        """After an error mid-swap: readers must not wait for us, but be told to resume."""
        try:
            row = self.store.fetchone(f"SELECT event, owner, tbl, day FROM {SWAP_TABLE} "
                                      "LIMIT -1")
            if row is not None and row[0] == "begin" and row[1] == self.owner:
                self._swap_event("interrupted", row[2], row[3])
        except Exception:  # the original error matters more (the server may be gone)
            log.exception("could not mark the interrupted swap")

    # -- planning --------------------------------------------------------------------

    def tombstone(self, session_id: str) -> None:
        s = schema.SESSIONS
        self.store.execute(f"UPDATE {q(s.name)} SET status = %s, updated_at = now() "
                           "WHERE session_id = %s", [DELETING, session_id])
        self.store.wait_applied([s.name])
        self.faults.point("tombstone")

    def _counts(self, session_id: str) -> dict[str, int]:
        return {t.name: self._count(t, None, "session_id = %s", [session_id])
                for t in schema.TABLES}

    def plan(self, session_id: str) -> list[tuple[schema.Table, str, int]]:
        """(table, day, rows) that still hold rows of the session, children first."""
        out = []
        for t in schema.TABLES:
            rows = self.store.fetchall(
                f"SELECT timestamp_floor('d', {q(t.ts)}) AS d, count() FROM {q(t.name)} "
                "WHERE session_id = %s", [session_id])
            for d, n in sorted(rows, key=lambda r: r[0]):
                out.append((t, d.strftime("%Y-%m-%d"), int(n)))
        return out

    def blockers(self, session_id: str) -> tuple[tuple[str, str] | None, dict[str, str]]:
        """What active sessions (other than ``session_id``) may still write.

        Returns (earliest day from which child-table days are deferred, the session that
        starts there) and {sessions-table day: active session whose row is in it}.
        """
        s = schema.SESSIONS
        active = self.store.fetchall(
            f"SELECT session_id, start_time, created_at FROM {q(s.name)} WHERE status = "
            "'active' AND session_id != %s", [session_id])
        if not active:
            return None, {}
        ids = [r[0] for r in active]
        first: dict[str, pd.Timestamp] = {}
        for sid, start, _ in active:
            if start is not None:
                first[sid] = pd.Timestamp(start, tz="UTC")
        marks = ", ".join(["%s"] * len(ids))
        for t in schema.CHILD_TABLES:
            for sid, lo in self.store.fetchall(
                    f"SELECT session_id, min(ts) FROM {q(t.name)} WHERE session_id IN "
                    f"({marks})", ids):
                if lo is not None:
                    ts = pd.Timestamp(lo, tz="UTC")
                    first[sid] = min(first.get(sid, ts), ts)
        child = None
        if first:
            sid, ts = min(first.items(), key=lambda kv: kv[1])
            child = (ts.strftime("%Y-%m-%d"), sid)
        sessions_days = {}
        for sid, _, created in active:
            sessions_days.setdefault(pd.Timestamp(created, tz="UTC").strftime("%Y-%m-%d"), sid)
        return child, sessions_days

    @staticmethod
    def _blocked_by(table: schema.Table, day: str, child: tuple[str, str] | None,
                    sessions_days: dict[str, str]) -> str | None:
        if table.is_child:
            if child is not None and day >= child[0]:
                return child[1]
            return None
        return sessions_days.get(day)

    # -- one day partition -------------------------------------------------------------

    def rewrite_day(self, table: schema.Table, day: str, session_id: str, removed: int
                    ) -> int | None:
        """Remove the session's ``removed`` rows from one day partition, keeping every other.

        Returns the rows removed, or None when the day was left for later because other
        sessions kept writing into it.
        """
        st = self.store
        name = table.name
        staging = self._staging(table)
        for attempt in range(1, COPY_ATTEMPTS + 1):
            # Nothing is destroyed before "dropping" is journaled: a process killed earlier
            # leaves the day as it was, and the day is simply planned again.
            s0 = st.sequencer_txn(name)
            st.wait_applied([name])  # the copy reads applied rows: every commit up to s0
            self._clear_staging_day(staging, day)
            _, kept = st.execute(f"INSERT INTO {q(staging)} SELECT * FROM {q(name)} WHERE "
                                 f"{self._day_filter(table, day)} AND session_id != %s",
                                 [session_id])
            if kept < 0:
                raise StoreError(f"QuestDB did not say how many rows it copied to {staging}")
            if kept:
                self._staged[staging].add(day)
                # The re-insert reads only applied rows: wait before anything is dropped.
                st.wait_applied([staging])
            self._journal(session_id, name, day, "staged", kept, f"attempt {attempt}")
            # Guard: a commit since s0 that touched this day would be lost by the drop.
            # Commits elsewhere in the table are fine: compare the day's other rows with
            # the copy (only when something was committed at all).
            if st.sequencer_txn(name) != s0:
                st.wait_applied([name])
                now = self._fingerprint(name, table, day, session_id)
                if not now.same(self._fingerprint(staging, table, day, session_id)):
                    log.info("%s %s: other sessions wrote into the day during the copy; "
                             "copying again", name, day)
                    continue
            self._journal(session_id, name, day, "dropping", kept)
            self._begin_swap(name, day)
            s1 = st.sequencer_txn(name)
            st.execute(f"ALTER TABLE {q(name)} DROP PARTITION LIST '{day}'")
            self.faults.point(f"{name} {day} dropped partition")
            if kept:
                # Issued at once: WAL applies in commit order, so nothing sees a second
                # gap, and rows committed after the drop survive.
                st.execute(f"INSERT INTO {q(name)} SELECT * FROM {q(staging)} WHERE "
                           f"{self._day_filter(table, day)}")
                self.faults.point(f"{name} {day} re-inserted")
            interleaved = st.sequencer_txn(name) - s1 - (2 if kept else 1)
            if interleaved:
                log.warning("%s %s: %d commit(s) of other writers interleaved with the "
                            "partition swap", name, day, interleaved)
            self._journal(session_id, name, day, "dropped", kept,
                          f"interleaved commits: {interleaved}")
            self._finish(table, day, session_id, kept, removed)
            return removed
        self._journal(session_id, name, day, "deferred", None,
                      f"other sessions kept writing into the day ({COPY_ATTEMPTS} attempts)")
        return None

    def _finish(self, table: schema.Table, day: str, session_id: str, kept: int,
                removed: int | None, purge_id: str | None = None) -> None:
        """After the drop: check, end the swap, clear staging, journal done."""
        st = self.store
        name = table.name
        staging = table.name + STAGING_SUFFIX
        st.wait_applied([name])
        left, total = self.store.fetchone(
            f"SELECT sum(CASE WHEN session_id = %s THEN 1 ELSE 0 END), count() FROM {q(name)} "
            f"WHERE {self._day_filter(table, day)}", [session_id]) or (0, 0)
        left, others = int(left or 0), int(total or 0) - int(left or 0)
        if left or others < kept:
            raise StoreError(
                f"purge of {session_id!r} from {name} {day}: after the swap {left} of its rows "
                f"remain and {others} other rows are there (expected at least {kept}); the "
                f"other rows are kept in {staging}. Run `tsanalysis sessions purge --resume`")
        self._end_swap()
        self._journal(session_id, name, day, "restored", kept, purge_id=purge_id)
        if kept:
            self._clear_staging_day(staging, day)
        self._journal(session_id, name, day, "done", removed, purge_id=purge_id)

    # -- resuming ----------------------------------------------------------------------

    def interrupted(self) -> list[dict[str, Any]]:
        """Journal entries stopped at a step that must be finished (see ``MUST_FINISH``)."""
        self.store.wait_applied([JOURNAL_TABLE])
        rows = self.store.fetchall(
            f"SELECT purge_id, session_id, tbl, day, last(step), last(rows), last(ts) "
            f"FROM {JOURNAL_TABLE}")
        out = []
        for purge_id, sid, tbl, day, step, rows_, ts in rows:
            if step in MUST_FINISH:
                out.append({"purge_id": purge_id, "session_id": sid, "table": tbl,
                            "day": day, "step": step, "kept": rows_, "since": ts})
        out.sort(key=lambda e: e["since"])
        return out

    def resume_interrupted(self) -> list[tuple[str, str, str]]:
        """Finish interrupted swaps from staging; returns (session, table, day) finished."""
        st = self.store
        done = []
        for e in self.interrupted():
            table = schema.table(e["table"])
            sid, day, kept = e["session_id"], e["day"], int(e["kept"] or 0)
            staging = self._staging(table)
            st.wait_applied([table.name])
            if e["step"] == "dropping":
                left = self._count(table, day, "session_id = %s", [sid])
                if left:
                    # The drop never happened: nothing is lost, the day is redone later.
                    self._end_swap()
                    self._journal(sid, table.name, day, "undone", left,
                                  "the partition was not dropped", purge_id=e["purge_id"])
                    continue
                self._begin_swap(table.name, day)
                if kept:
                    # Idempotent thanks to DEDUP: safe whether or not the insert ran.
                    st.execute(f"INSERT INTO {q(table.name)} SELECT * FROM {q(staging)} "
                               f"WHERE {self._day_filter(table, day)}")
                    self.faults.point(f"resume {table.name} {day} re-inserted")
                self._journal(sid, table.name, day, "dropped", kept, "resumed",
                              purge_id=e["purge_id"])
                self._finish(table, day, sid, kept, None, purge_id=e["purge_id"])
            elif e["step"] == "dropped":
                self._begin_swap(table.name, day)
                others = self._count(table, day, "session_id != %s", [sid])
                if others < kept:
                    st.execute(f"INSERT INTO {q(table.name)} SELECT * FROM {q(staging)} "
                               f"WHERE {self._day_filter(table, day)}")
                    self.faults.point(f"resume {table.name} {day} re-inserted")
                self._finish(table, day, sid, kept, None, purge_id=e["purge_id"])
            else:  # restored: only the staging copy is left to clear
                self._end_swap()
                if kept:
                    self._clear_staging_day(staging, day)
                self._journal(sid, table.name, day, "done", None, "resumed",
                              purge_id=e["purge_id"])
            done.append((sid, table.name, day))
        return done

    # -- whole sessions ----------------------------------------------------------------

    def _purge_session(self, session_id: str, progress: Progress | None) -> list[str]:
        """Remove what is left of a tombstoned session; returns lines about deferred days."""
        st = self.store
        if st.supports_row_delete():
            for i, t in enumerate(schema.TABLES):
                st.execute(f"DELETE FROM {q(t.name)} WHERE session_id = %s", [session_id])
                st.wait_applied([t.name])
                self.faults.point(f"deleted {t.name}")
                if progress:
                    progress(i + 1, len(schema.TABLES))
            return []
        deferred: dict[tuple[str, str], str] = {}
        busy: set[tuple[str, str]] = set()
        for _ in range(3):  # rows that arrive during the purge get another round
            child, sessions_days = self.blockers(session_id)
            todo = []
            for t, day, n in self.plan(session_id):
                who = self._blocked_by(t, day, child, sessions_days)
                if (t.name, day) in busy:
                    continue
                if who is None:
                    todo.append((t, day, n))
                elif (t.name, day) not in deferred:
                    deferred[(t.name, day)] = (
                        f"{t.name} {day}: {n:,} row(s) kept for now, active session {who} "
                        "may be writing that day; purge later with `tsanalysis sessions "
                        "purge --resume`")
                    self._journal(session_id, t.name, day, "deferred", n,
                                  f"active session {who}")
            if not todo:
                break
            for k, (t, day, n) in enumerate(todo):
                self._heartbeat()
                if self.rewrite_day(t, day, session_id, n) is None:
                    busy.add((t.name, day))
                    deferred[(t.name, day)] = (
                        f"{t.name} {day}: other sessions kept writing into the day; purge "
                        "later with `tsanalysis sessions purge --resume`")
                if progress:
                    progress(k + 1, len(todo))
        else:
            for t, day, n in self.plan(session_id):
                deferred.setdefault((t.name, day), f"{t.name} {day}: {n:,} row(s) of the "
                                    "session keep arriving (is something still writing it?)")
        return list(deferred.values())

    def delete(self, session_id: str, progress: Progress | None = None) -> DeleteResult:
        """Tombstone the session, then purge its rows (see the module docstring)."""
        from ..sessions import DeleteResult

        self.tombstone(session_id)
        try:
            self.acquire()
        except StoreError as e:
            raise StoreError(f"{e}. Session {session_id!r} is deleted (no read shows it); its "
                             "rows will be removed by `tsanalysis sessions purge --resume`"
                             ) from None
        try:
            # A swap interrupted earlier holds other sessions' rows only in staging: finish
            # it before any staging day is reused.
            self.resume_interrupted()
            before = self._counts(session_id)
            deferred = self._purge_session(session_id, progress)
            after = self._counts(session_id)
        except BaseException:
            self._interrupted_swap()
            raise
        finally:
            self.release()
        removed = {t.name: before[t.name] - after[t.name] for t in schema.TABLES}
        return DeleteResult(session_id, removed, deferred)

    def pending(self) -> tuple[list[str], list[str]]:
        """(work a purge would do now, work that stays deferred) as lines of text."""
        todo, later = [], []
        for e in self.interrupted():
            todo.append(f"{e['table']} {e['day']}: purge of {e['session_id']} interrupted at "
                        f"step '{e['step']}' (its other rows are in staging)")
        for sid in sorted(self.store.tombstoned()):
            child, sessions_days = self.blockers(sid)
            for t, day, n in self.plan(sid):
                who = self._blocked_by(t, day, child, sessions_days)
                line = f"{t.name} {day}: {n:,} row(s) of deleted session {sid}"
                if who is None:
                    todo.append(line)
                else:
                    later.append(f"{line} (active session {who} may be writing that day)")
        return todo, later

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Finish interrupted purges, then purge what deleted sessions left (if not blocked)."""
        if dry_run:
            todo, later = self.pending()
            return PurgeReport(pending=todo, deferred=later)
        report = PurgeReport()
        with self.lock():
            try:
                sessions = set(self.store.tombstoned())
                sessions |= {e["session_id"] for e in self.interrupted()}
                before = {sid: self._counts(sid) for sid in sorted(sessions)}
                self.resume_interrupted()
                for sid in sorted(self.store.tombstoned()):
                    report.deferred += [f"{sid}: {d}"
                                        for d in self._purge_session(sid, progress)]
                for sid, counts in before.items():
                    after = self._counts(sid)
                    report.purged[sid] = {t: counts[t] - after[t] for t in counts}
            except BaseException:
                self._interrupted_swap()
                raise
        return report
