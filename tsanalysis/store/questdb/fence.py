"""The write barrier between tsanalysis writers and a purge rewriting a day partition.

QuestDB 9.3 removes rows only by dropping whole day partitions. Rewriting a day (copy
the rows to keep aside, drop the partition, insert them back) loses any commit that lands
in that day between the copy and the drop. The server has no conditional drop, so the
window is closed by a barrier that every tsanalysis writer honours, built on two small
append-only tables that are not WAL tables (an INSERT there is visible to every
connection as soon as it returns):

* ``tsanalysis_writers``: a writer appends ``begin`` before it sends rows to a table and
  ``end`` after the server acknowledged them. A ``begin`` without ``end`` older than
  :data:`WRITE_LEASE_S` belongs to a writer that died.
* ``tsanalysis_fences``: a purge appends ``begin`` for (table, day) before it copies the
  day, ``hold`` just before it drops the partition, and ``end`` when the day is whole
  again. A ``begin`` older than :data:`FENCE_LEASE_S`, or whose purge process is seen to
  be gone, is void (that purge died before dropping anything); a ``hold`` lasts until a purge (or ``purge --resume``) ends it,
  because the day is incomplete until then.

The protocol is Dekker's: a writer registers, then reads the fences; a purge fences, then
reads the registrations. Whichever comes second sees the other, so either the writer sees
the fence (and waits) or the purge sees the writer (and waits for its ``end``, after which
the rows are committed and the copy includes them). A writer that does not use tsanalysis
is not stopped by the barrier; the purge detects its commits up to the drop (see
:mod:`tsanalysis.store.questdb.reclaim`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ...errors import StoreError
from .lock import PURGE_LEASE_S, PURGE_LOCK, holder_alive, owner_gone, owner_id

if TYPE_CHECKING:
    from .store import QuestDBStore

WRITERS_TABLE = "tsanalysis_writers"
FENCES_TABLE = "tsanalysis_fences"

#: A writer's registration is void after this long: longer than any one ILP request
#: (a chunk of at most ILP_CHUNK_ROWS rows) or UPDATE can take.
WRITE_LEASE_S = 120.0
#: A fence that never reached ``hold`` is void after this long (its purge died).
FENCE_LEASE_S = 600.0


def create_tables(store: QuestDBStore) -> None:
    """The two barrier tables (non-WAL, partitioned by day so old days can be dropped)."""
    store.execute(f"CREATE TABLE IF NOT EXISTS {WRITERS_TABLE} (at TIMESTAMP, writer VARCHAR, "
                  "tbl VARCHAR, event VARCHAR) TIMESTAMP(at) PARTITION BY DAY BYPASS WAL")
    store.execute(f"CREATE TABLE IF NOT EXISTS {FENCES_TABLE} (at TIMESTAMP, owner VARCHAR, "
                  "tbl VARCHAR, day VARCHAR, event VARCHAR) TIMESTAMP(at) PARTITION BY DAY "
                  "BYPASS WAL")


def _since(seconds: float) -> str:
    return f"dateadd('s', {-int(seconds)}, now())"


def active_fences(store: QuestDBStore, table: str) -> dict[str, str]:
    """{day: owner} of the fences that now keep writers out of ``table``."""
    # A few rows per day a purge ever rewrote: small enough to read whole.
    # Leases are judged by the server's clock, the same for every host.
    rows = store.fetchall(f"SELECT owner, day, last(event), last(at) > {_since(FENCE_LEASE_S)} "
                          f"FROM {FENCES_TABLE} WHERE tbl = %s", [table])
    return {day: owner for owner, day, event, fresh in rows
            if event == "hold" or (event == "begin" and fresh and not owner_gone(owner))}


def open_writers(store: QuestDBStore, table: str) -> list[str]:
    """Writers registered on ``table`` that have not finished (and whose lease runs)."""
    rows = store.fetchall(
        f"SELECT writer, last(event) FROM {WRITERS_TABLE} WHERE tbl = %s AND "
        f"at > {_since(WRITE_LEASE_S)}", [table])
    # A writer of this machine whose process is gone will never end its registration.
    return [w for w, event in rows if event == "begin" and not owner_gone(w)]


@contextmanager
def writing(store: QuestDBStore, table: str, days: Iterable[str] | None) -> Iterator[None]:
    """Register as a writer of ``table`` for the block; wait while a fence covers ``days``.

    ``days`` are the day partitions the block writes (``YYYY-MM-DD``), or None for "any
    day" (an UPDATE by session). Raises :class:`StoreError` when a fence is still there
    after the store's timeout.
    """
    me = owner_id("writer")
    wanted = None if days is None else set(days)
    deadline = time.monotonic() + store.config.timeout
    healed = False
    while True:
        store.execute(f"INSERT INTO {WRITERS_TABLE} VALUES (now(), %s, %s, 'begin')",
                      [me, table])
        fences = active_fences(store, table)
        blocked = sorted(d for d in fences if wanted is None or d in wanted)
        if not blocked:
            break
        store.execute(f"INSERT INTO {WRITERS_TABLE} VALUES (now(), %s, %s, 'end')", [me, table])
        if not healed and not any(holder_alive(store, PURGE_LOCK, fences[d], PURGE_LEASE_S)
                                  for d in blocked):
            # The purge that fenced the day died mid-rewrite: finish its work, then write.
            healed = True
            if store.finish_interrupted_purge():
                continue
        if time.monotonic() >= deadline:
            raise StoreError(
                f"{table} {blocked[0]} is being rewritten by a purge ({fences[blocked[0]]}) "
                f"for more than {store.config.timeout:g}s; if that purge died, finish it with "
                "`tsanalysis sessions purge --resume`, then write again")
        time.sleep(0.05)
    try:
        yield
    finally:
        store.execute(f"INSERT INTO {WRITERS_TABLE} VALUES (now(), %s, %s, 'end')", [me, table])


def fence(store: QuestDBStore, owner: str, table: str, day: str, event: str) -> None:
    """Append a fence event (``begin``, ``hold`` or ``end``) for one day of ``table``."""
    if event not in ("begin", "hold", "end"):
        raise ValueError(event)
    store.execute(f"INSERT INTO {FENCES_TABLE} VALUES (now(), %s, %s, %s, %s)",
                  [owner, table, day, event])


def wait_for_writers(store: QuestDBStore, table: str, timeout: float) -> bool:
    """After fencing: wait until no registered writer of ``table`` is still sending."""
    deadline = time.monotonic() + timeout
    while open_writers(store, table):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def prune(store: QuestDBStore) -> None:
    """Drop registration partitions older than two days (they can no longer matter)."""
    old = store.scalar(f"SELECT count() FROM table_partitions('{WRITERS_TABLE}') "
                       "WHERE maxTimestamp < dateadd('d', -2, now())")
    if old:
        store.execute(f"ALTER TABLE {WRITERS_TABLE} DROP PARTITION WHERE "
                      "at < dateadd('d', -2, now())")
