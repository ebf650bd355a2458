"""Reclaiming the disk that deleted rows take on QuestDB 9.3: a journaled partition rewrite.

A delete hides rows at once by relabelling them (see :mod:`tsanalysis.store.questdb.purge`);
their bytes stay in the day partitions until a purge rewrites those days. Rewriting one
day D of table T:

1. **Fence** D (:mod:`tsanalysis.store.questdb.fence`) and wait until no tsanalysis writer
   of T is sending: from here on no tsanalysis commit lands in D.
2. **Copy** D's live rows (every row not relabelled as deleted) into a staging table that
   is created afresh from T (so it has T's columns as they are now), check the count and
   that the columns match. Journal ``staged``.
3. **Check** that nothing reached D since the copy: if T's sequencer moved, D's live rows
   are compared with the copy, row for row (``EXCEPT`` both ways); any difference aborts
   the day (a writer outside tsanalysis wrote there) with nothing destroyed.
4. Journal ``dropping``, make the fence a ``hold`` (it outlives this process), announce
   the swap (reads wait for it), ``DROP PARTITION`` D and insert the copy back at once.
5. **Verify** that every staged row is in T (``EXCEPT`` staging minus T is empty) and that
   no deleted row is left; only then end the swap and the fence and clear staging.

A process killed at any step is finished by the next purge: before ``dropping`` nothing
was destroyed and the fence is ended; from ``dropping`` on, whether the drop happened is
read from the server (after waiting for every commit to T to be applied, D holds deleted
rows again only if the drop was never applied, since nothing but a drop removes them),
the copy is inserted back if any staged row is missing, and staging is cleared only when
T verifiably holds every staged row.

**A day with nothing to keep is dropped** (steps ``fenced``, ``dropping``, ``dropped``,
``done``): after step 1, if D holds no row but the ones to remove (deleted rows; or, for
:meth:`Reclaimer.drop_day`, the rows of a session being deleted, before they are ever
relabelled), the check is repeated until T's sequencer has not moved since it, and D is
dropped. QuestDB applies a ``DROP PARTITION`` of a WAL table at its place in the
sequence, after committing every earlier transaction (``ApplyWal2TableJob`` forces a full
commit before an ALTER; ``TableWriter.removePartition`` commits, then removes the day):
it removes the rows committed before it and no later one. No visible row changes, so no
swap is announced and there is no staging copy to restore: a resume only ends the fence.

Fault injection for tests: ``TSANALYSIS_PURGE_FAIL_AT=N`` makes the process exit
(``os._exit(86)``, no clean-up, like a kill) at the N-th step of a purge, or at the first
step whose label contains the text given (e.g. ``dropped partition``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from ... import schema
from ...errors import StoreError
from . import fence
from .lock import PURGE_LEASE_S, PURGE_LOCK, holder_alive
from .sql import DEAD, JOURNAL_TABLE, LIVE, SWAP_TABLE, literal, q

if TYPE_CHECKING:
    from .store import QuestDBStore

log = logging.getLogger(__name__)

FAULT_ENV = "TSANALYSIS_PURGE_FAIL_AT"
FAULT_EXIT_CODE = 86
STAGING_SUFFIX = "__purge_staging"
#: How often a day's copy is redone when a foreign writer keeps writing into it.
COPY_ATTEMPTS = 3
#: Journal steps after which the day may have lost its partition: finish before anything.
MUST_FINISH = ("dropping", "dropped", "restored")
#: Journal steps before the drop: a process killed there destroyed nothing.
BEFORE_DROP = ("fenced", "staged")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A day's removal to be tried again from the fence (rows arrived, or time ran short).
_AGAIN = object()


class Faults:
    """Counts the steps of a purge and exits the process at ``$TSANALYSIS_PURGE_FAIL_AT``."""

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


def journal(store: QuestDBStore, faults: Faults, purge_id: str, session_id: str, table: str,
            day: str, step: str, rows: int | None, note: str = "") -> None:
    """Append one step to the purge journal, then pass the fault-injection point.

    Durable once the INSERT returns (committed to the WAL), which is what the step it
    announces needs; readers of the journal wait for it to be applied.
    """
    store.execute(f"INSERT INTO {JOURNAL_TABLE} VALUES (now(), %s, %s, %s, %s, %s, %s, %s)",
                  [purge_id, session_id, table, day, step, rows, note])
    faults.point(" ".join(["journal", *(x for x in (session_id, table, day) if x), step]))


def day_filter(table: schema.Table, day: str) -> str:
    """``ts >= day AND ts < day + 1`` as SQL text (``day`` is validated)."""
    if not _DAY.match(day):
        raise StoreError(f"internal: bad partition name {day!r}")
    lo = pd.Timestamp(day, tz="UTC")
    hi = lo + pd.Timedelta(days=1)
    ts = q(table.ts)
    return (f"{ts} >= '{lo.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}' AND "
            f"{ts} < '{hi.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'")


# -- swap markers: reads wait while a day is half-swapped --------------------------------


def wait_no_swap(store: QuestDBStore, wait: bool = True) -> int:
    """The swap generation once no partition swap is in progress (see ``consistent``).

    With ``wait=False`` a swap in progress returns -1 (the caller's read may have seen a
    partition half-swapped). A swap left by a purge that died is finished here (the
    staged rows go back); if that fails, the error tells the user to resume, since the
    rows of that day are incomplete until then.
    """
    deadline = time.monotonic() + store.config.timeout
    healed = False
    while True:
        row = store.fetchone(f"SELECT gen, tbl, day, event, owner FROM {SWAP_TABLE} LIMIT -1")
        if row is None:
            return 0
        gen, tbl, day, event, owner = row
        if event not in ("begin", "interrupted"):
            return int(gen)
        if not wait:
            return -1
        gone = event == "interrupted" or not holder_alive(store, PURGE_LOCK, owner,
                                                          PURGE_LEASE_S)
        if gone and not healed:
            # The purge that swapped this day died: finish its work, then read.
            healed = True
            if store.finish_interrupted_purge():
                continue
        if gone or time.monotonic() >= deadline:
            why = ("the process doing it failed or is gone" if gone
                   else f"still not finished after {store.config.timeout:g}s")
            raise StoreError(
                f"a purge was interrupted while rewriting {tbl} {day} ({why}): rows of that "
                "day are incomplete until it is finished with `tsanalysis sessions purge "
                "--resume`")
        time.sleep(0.02)


def _swap_event(store: QuestDBStore, owner: str, event: str, table: str | None = None,
                day: str | None = None) -> None:
    last = store.scalar(f"SELECT gen FROM {SWAP_TABLE} LIMIT -1")
    store.execute(f"INSERT INTO {SWAP_TABLE} VALUES (%s, %s, %s, %s, %s, now())",
                  [int(last or 0) + 1, table, day, event, owner])


def end_swap(store: QuestDBStore, owner: str) -> None:
    row = store.fetchone(f"SELECT event FROM {SWAP_TABLE} LIMIT -1")
    if row is not None and row[0] in ("begin", "interrupted"):
        _swap_event(store, owner, "end")


def mark_interrupted(store: QuestDBStore, owner: str) -> None:
    """After an error mid-swap: readers must not wait for us, but be told to resume."""
    try:
        row = store.fetchone(f"SELECT event, owner, tbl, day FROM {SWAP_TABLE} LIMIT -1")
        if row is not None and row[0] == "begin" and row[1] == owner:
            _swap_event(store, owner, "interrupted", row[2], row[3])
    except Exception:  # the original error matters more (the server may be gone)
        log.exception("could not mark the interrupted swap")


# -- the rewrite -------------------------------------------------------------------------


class Reclaimer:
    """Rewrites day partitions without their deleted rows (see the module docstring).

    The caller holds the purge lock; ``journal(session, table, day, step, rows, note)``
    appends to the purge journal.
    """

    def __init__(self, store: QuestDBStore, owner: str, purge_id: str, faults: Faults):
        self.store = store
        self.owner = owner
        self.purge_id = purge_id
        self.faults = faults
        #: staging tables created by this purge (emptied between days, not recreated)
        self._staging_ready: set[str] = set()

    def journal(self, table: str, day: str, step: str, rows: int | None, note: str = "",
                purge_id: str | None = None, session_id: str = "") -> None:
        journal(self.store, self.faults, purge_id or self.purge_id, session_id, table, day,
                step, rows, note)

    # -- what there is to do ----------------------------------------------------------

    def plan(self, label: str | None = None) -> list[tuple[schema.Table, str, int]]:
        """(table, day, deleted rows) of every day partition that holds deleted rows (or
        rows of one delete's ``label``)."""
        out = []
        where, params = ((DEAD, []) if label is None
                         else ("session_id = %s", [label]))
        for t in schema.CHILD_TABLES:
            rows = self.store.fetchall(
                f"SELECT timestamp_floor('d', {q(t.ts)}) AS d, count() FROM {q(t.name)} "
                f"WHERE {where}", params)
            for d, n in sorted(rows, key=lambda r: r[0]):
                out.append((t, d.strftime("%Y-%m-%d"), int(n)))
        return out

    def plan_days(self, days: set[tuple[str, str]]) -> list[tuple[schema.Table, str, int]]:
        """(table, day, deleted rows) for the given (table name, day) pairs."""
        out = []
        for name, day in sorted(days):
            t = schema.table(name)
            out.append((t, day, self._dead(t, name, day)))
        return [e for e in out if e[2]]

    def _dead(self, table: schema.Table, name: str, day: str) -> int:
        return int(self.store.scalar(
            f"SELECT count() FROM {q(name)} WHERE {day_filter(table, day)} AND {DEAD}") or 0)

    def _missing(self, table: schema.Table, day: str, staging: str) -> int:
        """Staged rows of ``day`` that the table does not hold (exact, all columns)."""
        f = day_filter(table, day)
        return int(self.store.scalar(
            f"SELECT count() FROM ((SELECT * FROM {q(staging)} WHERE {f}) EXCEPT "
            f"(SELECT * FROM {q(table.name)} WHERE {f}))") or 0)

    def _differs(self, table: schema.Table, day: str, staging: str, keep: str = LIVE) -> bool:
        """The day's rows to keep differ from the copy (a write since the copy)."""
        f = day_filter(table, day)
        live = f"SELECT * FROM {q(table.name)} WHERE {f} AND {keep}"
        copy = f"SELECT * FROM {q(staging)} WHERE {f}"
        n = self.store.scalar(f"SELECT count() FROM (({live}) EXCEPT ({copy}))")
        if n:
            return True
        return bool(self.store.scalar(f"SELECT count() FROM (({copy}) EXCEPT ({live}))"))

    def _columns(self, name: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.store.fetchall(
            f"SELECT \"column\", type FROM table_columns('{name}')")]

    def drop_staging(self) -> None:
        """Drop the staging tables of this purge once every day it rewrote is done."""
        for name in sorted(self._staging_ready):
            self.store.execute(f"DROP TABLE IF EXISTS {q(name)}")
        self._staging_ready.clear()

    def _fresh_staging(self, table: schema.Table) -> str:
        """An empty staging table with the table's columns as they are now.

        Created anew once per purge and table (a column added since is in it), emptied for
        every further day; the columns are compared before anything is dropped.
        """
        name = table.name + STAGING_SUFFIX
        if name in self._staging_ready:
            self.store.execute(f"TRUNCATE TABLE {q(name)}")
            self.store.wait_applied([name])
        else:
            self.store.execute(f"DROP TABLE IF EXISTS {q(name)}")
            self.store.execute(f"CREATE TABLE {q(name)} (LIKE {q(table.name)})")
            self._staging_ready.add(name)
        if self._columns(name) != self._columns(table.name):
            self._staging_ready.discard(name)
            raise StoreError(f"staging table {name} does not have the columns of {table.name}; "
                             "nothing was dropped")
        return name

    # -- one day ---------------------------------------------------------------------

    def rewrite_day(self, table: schema.Table, day: str, dead: int) -> int | None:
        """Remove the ``dead`` deleted rows of one day partition, keeping every live row.

        A day that holds nothing but deleted rows is dropped whole (:meth:`_drop`): nothing
        is copied. Returns the rows removed, or None when the day was left for a later
        purge (a writer kept it busy, or something outside tsanalysis wrote into it).
        """
        return self._remove_day(table, day, dead, DEAD)

    def drop_day(self, table: schema.Table, day: str, session_id: str, ids: list[str]
                 ) -> int | None:
        """Drop a day partition that holds rows of ``ids`` only (a deleted session's id
        and its delete's label): the rows of ``session_id`` go without being relabelled.

        Returns the rows removed, or None when the day is not (or no longer) theirs alone,
        or was busy: the caller then relabels its rows like any other day's.
        """
        gone = f"session_id IN ({', '.join(literal(i) for i in ids)})"
        return self._remove_day(table, day, None, gone, session_id=session_id)

    def _remove_day(self, table: schema.Table, day: str, expected: int | None, gone: str,
                    session_id: str = "") -> int | None:
        """Remove the rows matching ``gone`` (SQL built from checked values) from one day.

        Under the fence: a day with no other row is dropped (:meth:`_drop`); otherwise
        its other rows are copied aside, the day dropped and the copy inserted back, unless
        ``expected`` is None (only a drop was asked for). Returns the rows removed, or None.
        """
        st = self.store
        name = table.name
        keep = f"(session_id IS NULL OR NOT ({gone}))"
        for attempt in range(1, COPY_ATTEMPTS + 1):
            self.journal(name, day, "fenced", expected, f"attempt {attempt}",
                         session_id=session_id)
            fence.fence(st, self.owner, name, day, "begin")
            fenced_at = time.monotonic()
            release = True  # the finally ends the fence (not a hold, not ended already)
            try:
                if not fence.wait_for_writers(st, name, st.config.timeout):
                    self.journal(name, day, "aborted", None, "writers did not finish",
                                 session_id=session_id)
                    return None
                s0 = st.sequencer_txn(name)
                st.wait_applied([name])  # the reads below see every commit up to s0
                others = int(st.scalar(f"SELECT count() FROM {q(name)} WHERE "
                                       f"{day_filter(table, day)} AND {keep}") or 0)
                if not others:
                    got = self._drop(table, day, gone, keep, s0, fenced_at, session_id)
                    if got is _AGAIN:
                        continue
                    if got is not None:
                        # The fence ends before `done`: a resume finds nothing to end.
                        fence.fence(st, self.owner, name, day, "end")
                        release = False
                        self.journal(name, day, "done", 0, f"dropped {got} row(s)",
                                     session_id=session_id)
                    return got  # type: ignore[return-value]
                if expected is None:
                    self.journal(name, day, "aborted", None, f"{others} other row(s) in the "
                                 "day", session_id=session_id)
                    return None
                staging = self._fresh_staging(table)
                _, kept = st.execute(
                    f"INSERT INTO {q(staging)} SELECT * FROM {q(name)} WHERE "
                    f"{day_filter(table, day)} AND {keep}")
                if kept < 0:
                    raise StoreError(f"QuestDB did not say how many rows it copied to {staging}")
                st.wait_applied([staging])
                staged = int(st.scalar(f"SELECT count() FROM {q(staging)}") or 0)
                if staged != kept:
                    raise StoreError(f"copied {kept} rows of {name} {day} but staging holds "
                                     f"{staged}; nothing was dropped")
                self.journal(name, day, "staged", kept, f"attempt {attempt}")
                if st.sequencer_txn(name) != s0:
                    # Something committed to the table since the copy: tsanalysis writers
                    # stay out of this day, so only a foreign write can have reached it.
                    st.wait_applied([name])
                    if self._differs(table, day, staging, keep):
                        log.warning("%s %s: rows changed since the copy (a writer outside "
                                    "tsanalysis?); copying again", name, day)
                        self.journal(name, day, "aborted", None, "changed since the copy")
                        continue
                if time.monotonic() - fenced_at > fence.FENCE_LEASE_S / 2:
                    self.journal(name, day, "aborted", None, "the fence's lease ran short")
                    continue
                self.journal(name, day, "dropping", kept, "")
                fence.fence(st, self.owner, name, day, "hold")
                release = False
                _swap_event(st, self.owner, "begin", name, day)
                s1 = st.sequencer_txn(name)
                st.execute(f"ALTER TABLE {q(name)} DROP PARTITION LIST '{day}'")
                self.faults.point(f"{name} {day} dropped partition")
                if kept:
                    # Issued at once: the WAL applies in commit order.
                    st.execute(f"INSERT INTO {q(name)} SELECT * FROM {q(staging)}")
                    self.faults.point(f"{name} {day} re-inserted")
                interleaved = st.sequencer_txn(name) - s1 - (2 if kept else 1)
                if interleaved:
                    log.warning("%s %s: %d commit(s) by writers outside tsanalysis (or to "
                                "other days) interleaved with the partition swap", name, day,
                                interleaved)
                self.journal(name, day, "dropped", kept, f"interleaved commits: {interleaved}")
                self._finish(table, day, staging, kept)
                return expected
            finally:
                # A hold outlives an error: the day stays fenced until a resume finishes it
                # (_finish ends it on success).
                if release:
                    fence.fence(st, self.owner, name, day, "end")
        return None

    def _drop(self, table: schema.Table, day: str, gone: str, keep: str, s0: int,
              fenced_at: float, session_id: str) -> int | None | object:
        """Drop a fenced day that holds only rows matching ``gone`` (checked at ``s0``).

        No row any read can see changes (deleted rows, or a tombstoned session's), so no
        swap is announced, nothing is staged and the fence needs no ``hold``: a writer let
        in after this process dies commits after the drop, which the WAL applies first
        (``TableWriter.removePartition`` runs at the drop's place in the sequence, after
        committing every earlier transaction). What a drop cannot do is spare a commit
        sequenced between the last check and itself, so the check is repeated until the
        table's sequencer has not moved since, right before the drop; only a writer
        outside tsanalysis can commit into the fenced day, and days an active session may
        write are never dropped. Returns the rows removed, None (the day kept changing) or
        ``_AGAIN`` (rows arrived: try again from the fence).
        """
        st = self.store
        name = table.name
        where = day_filter(table, day)
        n = int(st.scalar(f"SELECT count() FROM {q(name)} WHERE {where} AND {gone}") or 0)
        self.journal(name, day, "dropping", 0, f"{n} row(s), none kept",
                     session_id=session_id)
        for _ in range(COPY_ATTEMPTS):
            s1 = st.sequencer_txn(name)
            if s1 == s0:
                break
            # Commits since the check (to other days, or a foreign writer): look again.
            st.wait_applied([name])
            if st.scalar(f"SELECT count() FROM {q(name)} WHERE {where} AND {keep}"):
                log.warning("%s %s: rows arrived in the fenced day (a writer outside "
                            "tsanalysis?); not dropped", name, day)
                self.journal(name, day, "aborted", None, "rows arrived since the check",
                             session_id=session_id)
                return _AGAIN
            n = int(st.scalar(f"SELECT count() FROM {q(name)} WHERE {where} AND {gone}") or 0)
            s0 = s1
        else:
            self.journal(name, day, "aborted", None, "the table kept changing",
                         session_id=session_id)
            return None
        if time.monotonic() - fenced_at > fence.FENCE_LEASE_S / 2:
            self.journal(name, day, "aborted", None, "the fence's lease ran short",
                         session_id=session_id)
            return _AGAIN
        st.execute(f"ALTER TABLE {q(name)} DROP PARTITION LIST '{day}'")
        self.faults.point(f"{name} {day} dropped partition")
        interleaved = st.sequencer_txn(name) - s0 - 1
        if interleaved:
            log.warning("%s %s: %d commit(s) (to other days, or by writers outside "
                        "tsanalysis) came between the last check and the drop", name, day,
                        interleaved)
        self.journal(name, day, "dropped", 0, f"interleaved commits: {interleaved}",
                     session_id=session_id)
        st.wait_applied([name])
        # Rows that match still: the drop failed when applied (the server logs such an
        # error and goes on), or late rows of a deleted session; a later step takes them.
        left = int(st.scalar(f"SELECT count() FROM {q(name)} WHERE {where} AND {gone}") or 0)
        return max(n - left, 0)

    def _finish(self, table: schema.Table, day: str, staging: str, kept: int,
                purge_id: str | None = None) -> None:
        """After the drop: verify, end the swap and the fence, clear staging."""
        st = self.store
        name = table.name
        st.wait_applied([name, staging])
        # The re-insert is one commit: applied whole or not at all. With the day fenced and
        # its deleted rows gone, at least `kept` live rows means every staged row is back.
        live, dead = st.fetchone(
            f"SELECT sum(CASE WHEN {DEAD} THEN 0 ELSE 1 END), sum(CASE WHEN {DEAD} THEN 1 "
            f"ELSE 0 END) FROM {q(name)} WHERE {day_filter(table, day)}") or (0, 0)
        live, dead = int(live or 0), int(dead or 0)
        if live < kept or dead:
            raise StoreError(
                f"purge of {name} {day}: after the swap {live} of {kept} rows are there and "
                f"{dead} deleted row(s) remain; the rows are kept in {staging}. Run "
                "`tsanalysis sessions purge --resume`")
        end_swap(st, self.owner)
        self.journal(name, day, "restored", kept, purge_id=purge_id)
        fence.fence(st, self.owner, name, day, "end")
        self.journal(name, day, "done", kept, purge_id=purge_id)

    # -- resuming --------------------------------------------------------------------

    def unfinished(self) -> list[dict[str, Any]]:
        """Days whose rewrite stopped part-way (last journal step not done/aborted/undone)."""
        st = self.store
        st.wait_applied([JOURNAL_TABLE])
        rows = st.fetchall(
            f"SELECT purge_id, tbl, day, last(step), last(rows), last(ts) FROM {JOURNAL_TABLE}")
        out = []
        for purge_id, tbl, day, step, rows_, ts in rows:
            if step in MUST_FINISH or step in BEFORE_DROP:
                out.append({"purge_id": purge_id, "table": tbl, "day": day, "step": step,
                            "kept": rows_, "since": ts})
        out.sort(key=lambda e: e["since"])
        return out

    def resume(self) -> list[tuple[str, str]]:
        """Finish (or undo) every interrupted rewrite; returns the (table, day) handled."""
        st = self.store
        done = []
        for e in self.unfinished():
            table = schema.table(e["table"])
            name, day, kept = table.name, e["day"], int(e["kept"] or 0)
            staging = name + STAGING_SUFFIX
            owner = self._owner_of(name, day)
            if e["step"] in BEFORE_DROP:
                # Nothing was destroyed: the fence goes, the day is planned again.
                if owner:
                    fence.fence(st, owner, name, day, "end")
                self.journal(name, day, "undone", None, "stopped before the drop",
                             purge_id=e["purge_id"])
                done.append((name, day))
                continue
            st.wait_applied([name])
            if not kept:
                # A drop (nothing was set aside): whether or not it happened, no row has
                # to come back. Rows it did not remove are planned again.
                self._end_swap_of(name, day)
                self.journal(name, day, "done", 0, "resumed", purge_id=e["purge_id"])
                if owner:
                    fence.fence(st, owner, name, day, "end")
                done.append((name, day))
                continue
            have_staging = bool(st.scalar("SELECT count() FROM tables() WHERE table_name = %s",
                                          [staging]))
            if not have_staging:
                raise StoreError(f"purge of {name} {day} was interrupted at '{e['step']}' but "
                                 f"its staging table {staging} is gone; nothing was changed")
            st.wait_applied([staging])
            _swap_event(st, self.owner, "begin", name, day)
            if e["step"] != "restored" and self._missing(table, day, staging):
                # Deleted rows are back only if the drop never happened: then the day is
                # whole and nothing needs inserting (the check above says so). Otherwise
                # the copy goes back (DEDUP makes rows already there harmless).
                st.execute(f"INSERT INTO {q(name)} SELECT * FROM {q(staging)}")
                self.faults.point(f"resume {name} {day} re-inserted")
            self._finish_resumed(table, day, staging, kept, e["purge_id"], owner)
            done.append((name, day))
        return done

    def _finish_resumed(self, table: schema.Table, day: str, staging: str, kept: int,
                        purge_id: str, owner: str | None) -> None:
        st = self.store
        name = table.name
        st.wait_applied([name])
        missing = self._missing(table, day, staging)
        if missing:
            raise StoreError(f"resuming the purge of {name} {day}: {missing} staged row(s) "
                             f"are still missing; they are kept in {staging}")
        end_swap(st, self.owner)
        self.journal(name, day, "restored", kept, "resumed", purge_id=purge_id)
        if owner:
            fence.fence(st, owner, name, day, "end")
        st.execute(f"DROP TABLE IF EXISTS {q(staging)}")
        # Deleted rows left (the drop never happened) are planned again.
        self.journal(name, day, "done", None, "resumed", purge_id=purge_id)

    def _end_swap_of(self, name: str, day: str) -> None:
        """End a swap left announced for this day (an older version swapped empty days)."""
        row = self.store.fetchone(f"SELECT event, tbl, day FROM {SWAP_TABLE} LIMIT -1")
        if row is not None and row[0] in ("begin", "interrupted") and row[1:] == (name, day):
            end_swap(self.store, self.owner)

    def _owner_of(self, name: str, day: str) -> str | None:
        rows = self.store.fetchall(
            f"SELECT owner, last(event) FROM {fence.FENCES_TABLE} WHERE tbl = %s AND day = %s",
            [name, day])
        live = [o for o, ev in rows if ev in ("begin", "hold")]
        return live[-1] if live else None
