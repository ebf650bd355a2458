"""Deleting a session on QuestDB, which (9.3) has no row-level ``DELETE``.

A delete must not lose or revert a row that another process writes meanwhile, so every
step that changes rows is ordered with those writes by the server:

1. **Tombstone.** The session row's status becomes ``deleting`` (an ``UPDATE``, applied
   in commit order); every read of the store hides the session from then on, and every
   tsanalysis writer refuses rows for it.
2. **Wait for writers in flight.** A tsanalysis writer registers before it checks the
   session and sends rows (:mod:`tsanalysis.store.questdb.fence`); the delete waits until
   the writers registered on each table have finished, so rows that passed the check
   before the tombstone are committed before the next step.
3. **Drop the days it has alone.** Under the purge lock (when free) and the fence of
   :mod:`tsanalysis.store.questdb.reclaim`, a day partition that holds rows of X and no
   other row is dropped whole (:meth:`Reclaimer.drop_day`): its rows are neither relabelled
   nor copied. Once fenced, only a writer outside tsanalysis could still commit into the
   day; the check is repeated until the table's sequencer has not moved since, right before
   the drop, and days an active session may write are left to step 4 (as for the rewrite).
   QuestDB applies the drop in sequencer order with the inserts, so a commit after it
   (a writer that waited at the fence) is kept.
4. **Relabel.** ``UPDATE t SET session_id = '~<delete id>' WHERE session_id = X`` on each
   table, children first, the session row last. QuestDB writes an UPDATE of a WAL table
   to the WAL and runs it when it applies that transaction, in sequencer order with every
   insert: it changes exactly the rows committed before it, and rows committed after it
   keep their id (a late row; the delete repeats the UPDATE until the table has none,
   and the next purge relabels any that come later). Nothing is copied or dropped, so no
   other row can be lost or reverted. After it, no query of any table finds the id.
5. **Reclaim.** The relabelled rows still take disk until their day partitions are
   rewritten (:mod:`tsanalysis.store.questdb.reclaim`), under the purge lock and a fence
   that keeps tsanalysis writers out of the day. A delete reclaims its own days when the
   lock is free; ``purge`` does the rest. Days that an active session may write are
   deferred (a recorder outside tsanalysis does not honour the fence).

Where the server has a row-level ``DELETE`` (probed with ``DELETE FROM t WHERE false``;
not 9.3.4), step 4 uses it instead and steps 3 and 5 are not needed.

Each step is journaled (``tsanalysis_purge_journal``). A process killed at any step
leaves the session hidden (tombstoned), and ``purge`` finishes it with the same delete id.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pandas as pd

from ... import schema
from ...errors import StoreError
from ..base import DeleteOutcome, Progress, PurgeReport
from . import fence
from . import lock as locks
from .reclaim import (
    FAULT_ENV,
    FAULT_EXIT_CODE,
    Faults,
    Reclaimer,
    journal,
    mark_interrupted,
)
from .sql import (
    DEAD_PREFIX,
    DELETING,
    JOURNAL_TABLE,
    SEQ_TABLE,
    SWAP_TABLE,
    literal,
    q,
)

if TYPE_CHECKING:
    from .store import QuestDBStore

__all__ = ["FAULT_ENV", "FAULT_EXIT_CODE", "Purger", "create_internal_tables", "journal_rows"]

log = logging.getLogger(__name__)

#: How often a relabel is repeated while rows of the session keep arriving.
RELABEL_ROUNDS = 5


def create_internal_tables(store: QuestDBStore) -> None:
    """The journal (WAL), the lock rows, swap markers, the barrier and ``seq`` reservations."""
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (ts TIMESTAMP, purge_id SYMBOL, "
        "session_id SYMBOL, tbl SYMBOL, day SYMBOL, step SYMBOL, rows LONG, note VARCHAR) "
        "TIMESTAMP(ts) PARTITION BY MONTH WAL")
    locks.create_table(store)
    # Plain tables (no designated timestamp): visible to every connection at once. Swaps
    # are announced by appending rows (an INSERT takes ~2 ms, an UPDATE ~40 ms).
    store.execute(f"CREATE TABLE IF NOT EXISTS {SWAP_TABLE} (gen LONG, tbl VARCHAR, "
                  "day VARCHAR, event VARCHAR, owner VARCHAR, at TIMESTAMP)")
    store.execute(f"CREATE TABLE IF NOT EXISTS {SEQ_TABLE} (tbl VARCHAR, session_id VARCHAR, "
                  "symbol VARCHAR, next LONG)")
    fence.create_tables(store)


class Purger:
    """Deletes sessions and purges what deletes left (see the module docstring)."""

    def __init__(self, store: QuestDBStore, lock_timeout: float | None = None):
        self.store = store
        #: how long to wait for another purge to finish
        self.lock_timeout = (max(60.0, 4 * store.config.timeout) if lock_timeout is None
                             else lock_timeout)
        self.faults = Faults()
        self.purge_id = uuid.uuid4().hex[:12]
        self.lock = locks.LeaseLock(store, locks.PURGE_LOCK, locks.PURGE_LEASE_S,
                                           what="purge")
        self.reclaimer = Reclaimer(store, self.lock.owner, self.purge_id, self.faults)

    # -- journal and counts ----------------------------------------------------------

    def _journal(self, session_id: str, table: str, step: str, rows: int | None,
                 note: str = "") -> None:
        journal(self.store, self.faults, self.purge_id, session_id, table, "", step, rows,
                note)

    def _count(self, table: schema.Table, session_id: str) -> int:
        return int(self.store.scalar(f"SELECT count() FROM {q(table.name)} WHERE "
                                     "session_id = %s", [session_id]) or 0)

    def label_of(self, session_id: str) -> str:
        """The label of an unfinished delete of ``session_id`` (journaled), or a new one."""
        if not self.store.tombstoned(session_id):
            return DEAD_PREFIX + self.purge_id
        self.store.wait_applied([JOURNAL_TABLE])
        note = self.store.scalar(f"SELECT last(note) FROM {JOURNAL_TABLE} WHERE session_id = %s "
                                 "AND step = 'deleting'", [session_id])
        return note if note and note.startswith(DEAD_PREFIX) else DEAD_PREFIX + self.purge_id

    # -- hiding ----------------------------------------------------------------------

    def tombstone(self, session_id: str) -> None:
        s = schema.SESSIONS
        self.store.execute(f"UPDATE {q(s.name)} SET status = %s, updated_at = now() "
                           "WHERE session_id = %s", [DELETING, session_id])
        self.store.wait_applied([s.name])
        self.faults.point("tombstone")

    def relabel(self, session_id: str, label: str, progress: Progress | None = None,
                tables: tuple[schema.Table, ...] = schema.TABLES) -> dict[str, int]:
        """Take every row of ``session_id`` out of every read, in commit order (step 3).

        Returns the rows now carrying ``label`` per table (all of this delete's rows).
        """
        st = self.store
        native = st.supports_row_delete()
        out: dict[str, int] = {}
        for i, t in enumerate(tables):
            # Writers that checked the session before the tombstone finish first (their
            # rows are then committed before the UPDATE below and are relabelled with it).
            fence.wait_for_writers(st, t.name, fence.WRITE_LEASE_S)
            removed = 0
            for _ in range(RELABEL_ROUNDS):
                if native:
                    before = self._count(t, session_id)
                with fence.writing(st, t.name, None):
                    if native:
                        st.execute(f"DELETE FROM {q(t.name)} WHERE session_id = %s",
                                   [session_id])
                    else:
                        st.execute(f"UPDATE {q(t.name)} SET session_id = %s WHERE "
                                   "session_id = %s", [label, session_id])
                st.wait_applied([t.name])
                left = self._count(t, session_id)
                if native:
                    removed += before - left
                if not left:
                    break
                log.info("%s: %d row(s) of %s arrived during the delete; again", t.name, left,
                         session_id)
            out[t.name] = removed if native else int(st.scalar(
                f"SELECT count() FROM {q(t.name)} WHERE session_id = %s", [label]) or 0)
            self._journal(session_id, t.name, "relabelled", out[t.name], label)
            if progress:
                progress(i + 1, len(tables))
        return out

    def relabel_where(self, t: schema.Table, session_id: str, where: str,
                      to: str | None = None) -> int:
        """Give the rows of one table matching ``where`` (SQL text built by the store from
        checked values) the id ``to``, in commit order; return how many there were.
        Without ``to`` they are deleted: relabelled as dead, and the next purge reclaims
        their disk like any deleted row's."""
        st = self.store
        st.wait_applied([t.name])
        n = int(st.scalar(f"SELECT count() FROM {q(t.name)} WHERE {where}") or 0)
        if not n:
            return 0
        if to is None and st.supports_row_delete():
            st.execute(f"DELETE FROM {q(t.name)} WHERE {where}")
        else:
            label = to if to is not None else DEAD_PREFIX + self.purge_id
            self._journal(session_id, t.name, "relabelled", n, label)
            with fence.writing(st, t.name, None):
                st.execute(f"UPDATE {q(t.name)} SET session_id = %s WHERE {where}", [label])
        st.wait_applied([t.name])
        return n

    # -- whole sessions ----------------------------------------------------------------

    def delete(self, session_id: str, progress: Progress | None = None,
               reclaim: bool = True) -> DeleteOutcome:
        """Tombstone the session, drop the days it has alone and relabel its other rows,
        then reclaim their days if the lock is free (see the module docstring)."""
        st = self.store
        label = self.label_of(session_id)
        self.tombstone(session_id)
        self._journal(session_id, "", "deleting", None, label)
        dropped, days = self._drop_now(session_id, label)
        removed = _plus(self.relabel(session_id, label, progress), dropped)
        self._journal(session_id, schema.SESSIONS.name, "deleted", removed[schema.SESSIONS.name],
                      label)
        # A session created again with this id numbers its rows from 0.
        st.execute(f"UPDATE {SEQ_TABLE} SET next = 0 WHERE session_id = %s", [session_id])
        deferred: list[str] = []
        if reclaim and not st.supports_row_delete():
            deferred = self._reclaim_now(label)
        return DeleteOutcome(removed, deferred, days)

    def _drop_now(self, session_id: str, label: str) -> tuple[dict[str, int], list[str]]:
        """:meth:`drop_alone` under the purge lock, if it is free (else nothing)."""
        if self.store.supports_row_delete() or not self.lock.try_acquire():
            return {}, []
        try:
            self.reclaimer.resume()
            return self.drop_alone(session_id, label)
        except BaseException:
            self._mark_interrupted()
            raise
        finally:
            self.lock.release()

    def drop_alone(self, session_id: str, label: str) -> tuple[dict[str, int], list[str]]:
        """Drop the day partitions that hold rows of the (tombstoned) session only.

        The caller holds the purge lock. Rows of the session's delete ``label`` (a delete
        killed part-way relabelled them) count as the session's. A day an active session
        may write is left to the relabel, like a day that turns out not to be the
        session's alone once fenced (:meth:`Reclaimer.drop_day`). Returns rows removed
        per table and the days dropped (``"table YYYY-MM-DD"``).
        """
        ids = [session_id, label]
        candidates = [(t, day) for t in schema.CHILD_TABLES for day in self.alone_days(t, ids)]
        blocked_from = self.active_since() if candidates else None
        rows: dict[str, int] = {}
        days: list[str] = []
        for t, day in candidates:
            if blocked_from is not None and day >= blocked_from[0]:
                continue
            self.lock.renew()
            got = self.reclaimer.drop_day(t, day, session_id, ids)
            if got:
                rows[t.name] = rows.get(t.name, 0) + got
                days.append(f"{t.name} {day}")
        return rows, days

    def alone_days(self, table: schema.Table, ids: list[str]) -> list[str]:
        """Days of ``table`` whose partition holds as many rows as ``ids`` have in it.

        A first look, from the partitions' row counts (metadata, no scan) and one count of
        the rows of ``ids`` per day; :meth:`Reclaimer.drop_day` checks again under the
        fence before it drops anything.
        """
        st = self.store
        marks = ", ".join(["%s"] * len(ids))
        mine = {d.strftime("%Y-%m-%d"): int(n) for d, n in st.fetchall(
            f"SELECT timestamp_floor('d', {q(table.ts)}) AS d, count() FROM {q(table.name)} "
            f"WHERE session_id IN ({marks})", ids)}
        if not mine:
            return []
        held: dict[str, int] = {}
        # table functions take no bind parameters; the name comes from schema.py
        for lo, n in st.fetchall(f"SELECT minTimestamp, numRows FROM table_partitions("
                                 f"{literal(table.name)})"):
            if lo is not None:  # a day may be split in several parts
                day = pd.Timestamp(lo).strftime("%Y-%m-%d")
                held[day] = held.get(day, 0) + int(n or 0)
        return sorted(day for day, n in mine.items() if held.get(day) == n)

    def _reclaim_now(self, label: str) -> list[str]:
        if not self.lock.try_acquire():
            return ["the disk space of the deleted rows is reclaimed by the next `tsanalysis "
                    "sessions purge --resume` (another purge is running)"]
        try:
            self.reclaimer.resume()
            days = {(t.name, d) for t, d, _ in self.reclaimer.plan(label)}
            _, deferred = self._reclaim(None, days)
            return deferred
        except BaseException:
            self._mark_interrupted()
            raise
        finally:
            self.lock.release()

    def finish_interrupted(self, timeout: float) -> bool:
        """Finish partition rewrites whose purge died (readers and writers call this when
        they meet one); False if the purge lock could not be had within ``timeout``."""
        try:
            self.lock.acquire(timeout)
        except StoreError:
            return False
        try:
            self.reclaimer.resume()
            return True
        except BaseException:
            self._mark_interrupted()
            raise
        finally:
            self.lock.release()

    def _mark_interrupted(self) -> None:
        mark_interrupted(self.store, self.lock.owner)

    # -- reclaiming ------------------------------------------------------------------

    def _reclaim(self, progress: Progress | None, only: set[tuple[str, str]] | None = None
                 ) -> tuple[dict[str, int], list[str]]:
        """Rewrite the days that hold deleted rows (``only`` these (table, day) if given);
        returns (deleted rows removed per table, lines about days left for later)."""
        # The days a delete just relabelled (with any older deleted rows in them), or all.
        plan = self.reclaimer.plan() if only is None else self.reclaimer.plan_days(only)
        blocked_from = self.active_since()
        done: dict[str, int] = {}
        deferred = []
        for k, (t, day, n) in enumerate(plan):
            self.lock.renew()
            if blocked_from is not None and day >= blocked_from[0]:
                deferred.append(f"{t.name} {day}: {n:,} deleted row(s) stay on disk for now: "
                                f"active session {blocked_from[1]} may be writing that day")
            elif self.reclaimer.rewrite_day(t, day, n) is None:
                deferred.append(f"{t.name} {day}: {n:,} deleted row(s) stay on disk for now: "
                                "the day was busy; run `tsanalysis sessions purge --resume`")
            else:
                done[t.name] = done.get(t.name, 0) + n
            if progress:
                progress(k + 1, len(plan))
        self.reclaimer.drop_staging()
        return done, deferred

    def active_since(self) -> tuple[str, str] | None:
        """(first day, session) from which an active session may write, if any is active.

        A recorder writes forward in time from its first row (or its start); tsanalysis
        writers honour the fence, a recorder outside tsanalysis does not.
        """
        s = schema.SESSIONS
        active = self.store.fetchall(f"SELECT session_id, start_time, created_at FROM "
                                     f"{q(s.name)} WHERE status = 'active'")
        first: dict[str, pd.Timestamp] = {}
        for sid, start, created in active:
            ts = start if start is not None else created
            first[sid] = pd.Timestamp(ts, tz="UTC")
            for t in schema.CHILD_TABLES:
                lo = self.store.scalar(f"SELECT min(ts) FROM {q(t.name)} WHERE session_id = %s",
                                       [sid])
                if lo is not None:
                    first[sid] = min(first[sid], pd.Timestamp(lo, tz="UTC"))
        if not first:
            return None
        sid, ts = min(first.items(), key=lambda kv: kv[1])
        return ts.strftime("%Y-%m-%d"), sid

    # -- what deletes left behind ------------------------------------------------------

    def deleted_ids(self) -> set[str]:
        self.store.wait_applied([JOURNAL_TABLE])
        return {r[0] for r in self.store.fetchall(
            f"SELECT DISTINCT session_id FROM {JOURNAL_TABLE} WHERE step = 'deleted'")}

    def late_rows(self) -> dict[str, dict[str, int]]:
        """Rows of deleted sessions that arrived after their delete, per session and table.

        A session created again with the same id owns its rows: it is left alone.
        """
        st = self.store
        ids = sorted(self.deleted_ids())
        out: dict[str, dict[str, int]] = {}
        # Child rows first, then the session rows: a session is created before its rows
        # are written, so a row counted here whose session exists is seen to exist below.
        for t in schema.CHILD_TABLES:
            for lo in range(0, len(ids), 500):
                part = ids[lo:lo + 500]
                marks = ", ".join(["%s"] * len(part))
                for sid, n in st.fetchall(f"SELECT session_id, count() FROM {q(t.name)} "
                                          f"WHERE session_id IN ({marks})", part):
                    out.setdefault(sid, {})[t.name] = int(n)
        if out:
            st.wait_applied([schema.SESSIONS.name])
            marks = ", ".join(["%s"] * len(out))
            alive = {r[0] for r in st.fetchall(
                f"SELECT session_id FROM {q(schema.SESSIONS.name)} WHERE session_id IN "
                f"({marks})", list(out))}
            out = {s: v for s, v in out.items() if s not in alive}
        return out

    # -- purge -----------------------------------------------------------------------

    def pending(self) -> tuple[list[str], list[str]]:
        """(work a purge would do now, work that stays deferred) as lines of text."""
        todo, later = [], []
        for e in self.reclaimer.unfinished():
            todo.append(f"{e['table']} {e['day']}: a partition rewrite stopped at step "
                        f"'{e['step']}' is finished")
        for sid in sorted(self.store.tombstoned()):
            todo.append(f"{sid}: the interrupted delete is finished")
        for sid, per_table in sorted(self.late_rows().items()):
            todo.append(f"{sid}: {sum(per_table.values()):,} row(s) written after the session "
                        "was deleted are removed")
        if not self.store.supports_row_delete():
            blocked_from = self.active_since()
            for t, day, n in self.reclaimer.plan():
                line = f"{t.name} {day}: {n:,} deleted row(s) to reclaim"
                if blocked_from is not None and day >= blocked_from[0]:
                    later.append(f"{line} (active session {blocked_from[1]} may be writing "
                                 "that day)")
                else:
                    todo.append(line)
        return todo, later

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Finish interrupted deletes and rewrites, remove late rows, reclaim disk."""
        if dry_run:
            todo, later = self.pending()
            return PurgeReport(pending=todo, deferred=later)
        report = PurgeReport()
        self.lock.acquire(self.lock_timeout)
        try:
            self.reclaimer.resume()
            for sid in sorted(self.store.tombstoned()):
                self.lock.renew()
                label = self.label_of(sid)
                self._journal(sid, "", "deleting", None, label)
                dropped = ({} if self.store.supports_row_delete()
                           else self.drop_alone(sid, label)[0])
                report.purged[sid] = _plus(self.relabel(sid, label), dropped)
                self._journal(sid, schema.SESSIONS.name, "deleted",
                              report.purged[sid][schema.SESSIONS.name], label)
            for sid, per_table in sorted(self.late_rows().items()):
                self.lock.renew()
                label = DEAD_PREFIX + uuid.uuid4().hex[:12]
                self._journal(sid, "", "deleting", None, label)
                tables = tuple(t for t in schema.CHILD_TABLES if t.name in per_table)
                got = self.relabel(sid, label, tables=tables)
                self._journal(sid, schema.SESSIONS.name, "deleted", 0, label)
                report.purged[sid] = {t.name: got.get(t.name, 0) for t in schema.TABLES}
            if not self.store.supports_row_delete():
                report.reclaimed, deferred = self._reclaim(progress)
                report.deferred += deferred
            fence.prune(self.store)
        except BaseException:
            self._mark_interrupted()
            raise
        finally:
            self.lock.release()
        return report


def _plus(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """``counts`` with ``more`` added, table by table (its order kept)."""
    return {t: n + more.get(t, 0) for t, n in counts.items()}


def journal_rows(store: QuestDBStore, session_id: str | None = None) -> list[dict[str, Any]]:
    """The purge journal, oldest first (for inspection and tests)."""
    store.wait_applied([JOURNAL_TABLE])
    where, params = ("WHERE session_id = %s", [session_id]) if session_id else ("", [])
    cols = ("ts", "purge_id", "session_id", "tbl", "day", "step", "rows", "note")
    return [dict(zip(cols, r, strict=True)) for r in store.fetchall(
        f"SELECT {', '.join(cols)} FROM {JOURNAL_TABLE} {where} ORDER BY ts", params)]

