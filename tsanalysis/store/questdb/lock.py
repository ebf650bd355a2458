"""Leased locks on QuestDB: one row each in a plain (non-WAL) table, taken with an UPDATE.

An UPDATE of a non-WAL table runs while the server holds the table's writer, WHERE clause
included, and reports the true number of rows it changed: a conditional UPDATE is an
atomic compare-and-set. The owner is a random id (unique across hosts and processes);
the lease is judged by the server's clock, so a holder on another host with a skewed
clock is judged like a local one. A holder that stops renewing its lease for
``lease_s`` seconds is taken to be dead and the lock may be taken over.

The owner id also says where its process runs (:func:`owner_id`): a holder on this very
machine and in this process namespace whose process is gone is dead at once, without
waiting for its lease. A holder elsewhere (another host, even one with the same host name,
or another container) is judged by its lease alone.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from ...errors import StoreError
from .sql import STATE_TABLE

if TYPE_CHECKING:
    from .store import QuestDBStore

#: Rows of STATE_TABLE, one a lock.
PURGE_LOCK = 1
SEQ_LOCK = 2
#: The purge lock's lease (renewed between steps; a holder silent this long is dead).
PURGE_LEASE_S = 120.0
LOCK_IDS = (PURGE_LOCK, SEQ_LOCK)


@functools.cache
def _here() -> str:
    """This machine's boot and this process namespace (unique across hosts and containers)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: no way to tell this machine from another; leases only
        return "unknown"
    return f"{boot}:{pidns}"


def owner_id(kind: str) -> str:
    """A fresh owner id: ``kind/host/boot:pidns/pid/random``."""
    return f"{kind}/{socket.gethostname()}/{_here()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def owner_gone(owner: str | None) -> bool:
    """True when ``owner`` is a process of this machine and namespace that no longer runs."""
    if not owner:
        return True
    parts = owner.split("/")
    if len(parts) != 5 or parts[2] != _here() or parts[2] == "unknown" or \
            not parts[3].isdigit():
        return False
    pid = int(parts[3])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def holder_alive(store: QuestDBStore, lock_id: int, owner: str | None, lease_s: float) -> bool:
    """Whether ``owner`` still holds lock ``lock_id``: named in it, lease running, and not a
    process of this machine that is gone."""
    if not owner or owner_gone(owner):
        return False
    row = store.fetchone(f"SELECT owner, owner_since > dateadd('s', {-int(lease_s)}, now()) "
                         f"FROM {STATE_TABLE} WHERE id = %s", [lock_id])
    return bool(row and row[0] == owner and row[1])


def create_table(store: QuestDBStore) -> None:
    # No designated timestamp: a plain table, whose writes every connection sees at once.
    store.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (id INT, owner VARCHAR, "
                  "owner_since TIMESTAMP)")
    have = {r[0] for r in store.fetchall(f"SELECT DISTINCT id FROM {STATE_TABLE}")}
    for lock_id in LOCK_IDS:
        if lock_id not in have:
            store.execute(f"INSERT INTO {STATE_TABLE} (id) VALUES (%s)", [lock_id])


class LeaseLock:
    """A lock with a lease (see the module docstring). Renew it with :meth:`renew`."""

    def __init__(self, store: QuestDBStore, lock_id: int, lease_s: float,
                 owner: str | None = None, what: str = "lock"):
        self.store = store
        self.lock_id = lock_id
        self.lease_s = lease_s
        self.owner = owner or owner_id(what.replace(" ", "-"))
        self.what = what
        self._renewed = 0.0

    def try_acquire(self) -> bool:
        """Take the lock if it is free or its holder's lease ran out."""
        _, n = self.store.execute(
            f"UPDATE {STATE_TABLE} SET owner = %s, owner_since = now() WHERE id = %s AND "
            f"(owner IS NULL OR owner = %s OR owner_since < dateadd('s', {-int(self.lease_s)}, "
            "now()))", [self.owner, self.lock_id, self.owner])
        if n > 0:
            self._renewed = time.monotonic()
            return True
        return self._take_from_gone()

    def holder(self) -> str | None:
        return self.store.scalar(f"SELECT owner FROM {STATE_TABLE} WHERE id = %s",
                                 [self.lock_id])

    def _take_from_gone(self) -> bool:
        other = self.holder()
        if other is None or other == self.owner or not owner_gone(other):
            return False
        _, n = self.store.execute(f"UPDATE {STATE_TABLE} SET owner = %s, owner_since = now() "
                                  "WHERE id = %s AND owner = %s", [self.owner, self.lock_id, other])
        if n > 0:
            self._renewed = time.monotonic()
        return n > 0

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for its holder to let go."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                row = self.store.fetchone(f"SELECT owner, owner_since FROM {STATE_TABLE} "
                                          "WHERE id = %s", [self.lock_id])
                holder = f" (held by {row[0]} since {row[1]} UTC)" if row and row[0] else ""
                raise StoreError(f"another {self.what} is running on QuestDB at "
                                 f"{self.store.config.pg_address}{holder}; try again when it "
                                 "has finished")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def renew(self, force: bool = False) -> None:
        """Extend the lease (at most every few seconds unless ``force``); raises if lost."""
        if not force and time.monotonic() - self._renewed < self.lease_s / 8:
            return
        _, n = self.store.execute(f"UPDATE {STATE_TABLE} SET owner_since = now() WHERE id = %s "
                                  "AND owner = %s", [self.lock_id, self.owner])
        if n == 0:
            raise StoreError(f"lost the {self.what} on QuestDB (its lease of {self.lease_s:g}s "
                             "ran out and another process took it); stopped")
        self._renewed = time.monotonic()

    def release(self) -> None:
        self.store.execute(f"UPDATE {STATE_TABLE} SET owner = NULL, owner_since = NULL "
                           "WHERE id = %s AND owner = %s", [self.lock_id, self.owner])
