"""Processes taking turns on one DuckDB file, first come first served.

DuckDB lets one process at a time open a file for writing; a process that finds it taken
can only retry, and retries lose to a process that lets go and takes it again at once (a
writer in a loop). Here processes queue instead: two advisory locks (``flock``) on sidecar
files, ``<file>.lock``, held while the process has the file open, and ``<file>.queue``, the
turnstile a process holds while it waits (:class:`Turn`). The store
(:mod:`tsanalysis.store.duckdb`) takes its turn before it opens the file and gives it up
when it closes the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; processes poll for the file as DuckDB allows
    fcntl = None  # type: ignore[assignment]

from ..errors import InvalidInput, StoreLocked
from ..redact import mask_passwords

log = logging.getLogger(__name__)

#: Seconds a wait for the file lasts before it is reported (once) through ``on_wait``.
WAIT_NOTICE = 1.0
#: Seconds between two looks, by an idle connection, for a process waiting for the file.
IDLE_POLL = 0.05
#: Seconds a process keeps the file for operations in a row while another waits: letting
#: go after each one would reopen the file (~0.05 s) between every two small operations.
TURN_SLICE = 0.25
#: The default of ``lock_timeout`` when neither the argument nor the variable sets it.
DEFAULT_LOCK_TIMEOUT = 60.0
ENV_LOCK_TIMEOUT = "TSANALYSIS_LOCK_TIMEOUT"


def lock_timeout_from(value: float | str | None) -> float:
    """Seconds to wait for the file: ``value``, else ``$TSANALYSIS_LOCK_TIMEOUT``, else 60."""
    source = "lock_timeout"
    if value is None:
        value = os.environ.get(ENV_LOCK_TIMEOUT) or None
        source = ENV_LOCK_TIMEOUT
    if value is None:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{source}: {value!r} is not a number of seconds") from None
    if not seconds >= 0:  # also NaN
        raise InvalidInput(f"{source}: {value!r} is not a number of seconds >= 0")
    return seconds


def holder_label() -> str:
    """What this process is, for a process waiting for the file: its command line (a
    password in a URL masked)."""
    argv = sys.argv or [""]
    first = Path(argv[0])
    name = first.parent.name if first.name == "__main__.py" else first.name  # python -m
    cmd = mask_passwords(" ".join([name or "python", *argv[1:]]))
    return cmd if len(cmd) <= 100 else cmd[:97] + "..."


class Turn:
    """This process's turn on one DuckDB file, shared by its stores.

    Two advisory locks (``flock``) on sidecar files: ``<file>.lock``, held for as long as
    the process has the file open (shared by read-only connections, exclusive by a
    writable one), and ``<file>.queue``, the turnstile: a process takes it before it waits
    for ``.lock`` and lets go of it once it holds ``.lock``. A process that lets go of
    ``.lock`` and comes back at once therefore queues behind the one that was waiting, and
    a process holding the file gives it up at the end of its operation (or, when idle, within
    ``IDLE_POLL`` seconds) as soon as it sees the turnstile taken.
    """

    def __init__(self, path: str):
        self.path = path
        self.lock_path = path + ".lock"
        self.queue_path = path + ".queue"
        self.mutex = threading.Lock()
        self.fd: int | None = None  # open on .lock while the process holds its turn
        self.exclusive = False
        self.users = 0
        self.since = 0.0  # when this process took the file

    def enter(self, exclusive: bool, deadline: float, on_wait: Callable[[str], None],
              started: float) -> bool:
        """Take (or join) this process's turn; False if the sidecar files cannot be used
        (a read-only directory): the file is then opened without taking turns."""
        while True:
            if not self.mutex.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise self.locked(started)
            try:
                if self.fd is not None and (self.exclusive or not exclusive):
                    self.users += 1
                    return True
                if self.fd is None:
                    return self._take(exclusive, deadline, on_wait, started)
            finally:
                self.mutex.release()
            # Read-only connections of this process are still open: their stores are
            # busy and close when done (DuckDBStore._share_with_siblings).
            if time.monotonic() >= deadline:
                raise self.locked(started)
            time.sleep(0.02)

    def _take(self, exclusive: bool, deadline: float, on_wait: Callable[[str], None],
              started: float) -> bool:
        notice = Notice(self, on_wait, started)
        try:
            queue = flock_until(self.queue_path, fcntl.LOCK_EX, deadline, notice)
            if queue is None:
                raise self.locked(started)
            try:
                fd = flock_until(self.lock_path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH,
                            deadline, notice)
            finally:
                os.close(queue)  # the next in the queue may now wait for .lock
        except OSError as e:  # StoreLocked is not an OSError
            log.debug("cannot take turns on %s: %s", self.path, e)
            return False
        if fd is None:
            raise self.locked(started)
        self.fd, self.exclusive, self.users = fd, exclusive, 1
        self.since = time.monotonic()
        log.debug("turn on %s after %.3f s", self.path, self.since - started)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {holder_label()}\n".encode(), 0)
        except OSError:  # only a label for waiters
            pass
        return True

    def leave(self) -> None:
        with self.mutex:
            if self.fd is None:
                return
            self.users -= 1
            if self.users <= 0:
                os.close(self.fd)  # releases the lock
                self.fd, self.users = None, 0

    def waited_for(self) -> bool:
        """Whether another process is queued for the file (holds the turnstile)."""
        try:
            fd = os.open(self.queue_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
        return False

    def holder(self) -> str:
        """``process N (command)`` from ``.lock``: the last process that took the file."""
        try:
            with open(self.lock_path, encoding="utf-8", errors="replace") as f:
                pid, _, label = f.readline().strip().partition(" ")
        except OSError:
            return "another process"
        if not pid.isdigit():
            return "another process"
        return f"process {pid}" + (f" ({label})" if label else "")

    def locked(self, started: float) -> StoreLocked:
        return locked_error(self.path, self.holder(), time.monotonic() - started)


def locked_error(path: str, who: str, waited: float) -> StoreLocked:
    return StoreLocked(f"{path} is locked by {who}: gave up after waiting {waited:.1f} s "
                       "(DuckDB allows one writer; wait longer with --lock-timeout SECONDS, "
                       f"${ENV_LOCK_TIMEOUT} or connect(..., lock_timeout=))")


class Notice:
    """One line through ``on_wait`` once a wait has lasted ``WAIT_NOTICE`` seconds."""

    def __init__(self, turn: Turn | None, on_wait: Callable[[str], None], started: float,
                 path: str = ""):
        self.turn, self.on_wait, self.started = turn, on_wait, started
        self.path = turn.path if turn is not None else path
        self.done = False

    def due(self) -> float:
        return self.started + WAIT_NOTICE

    def __call__(self, who: str | None = None) -> None:
        if self.done or time.monotonic() < self.due():
            return
        self.done = True
        if who is None:
            who = self.turn.holder() if self.turn is not None else "another process"
        try:
            self.on_wait(f"waiting for {self.path}: in use by {who}")
        except Exception:  # a message must not stop the wait
            log.debug("on_wait failed", exc_info=True)


def flock_until(path: str, mode: int, deadline: float, notice: Notice) -> int | None:
    """An fd on ``path`` holding ``flock(mode)``, waited for until ``deadline``; None when
    the deadline passed. The wait blocks in the kernel (a thread of its own, which can be
    abandoned): a poll would let a process that releases and retakes the lock win."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass
    except BaseException:
        os.close(fd)
        raise
    got = threading.Event()
    guard = threading.Lock()
    state: dict[str, Any] = {"abandoned": False, "error": None}

    def wait() -> None:
        try:
            fcntl.flock(fd, mode)
        except OSError as e:
            state["error"] = e
        with guard:
            if state["abandoned"]:
                os.close(fd)  # too late: let it go at once
                return
            got.set()

    threading.Thread(target=wait, name=f"tsanalysis-wait {Path(path).name}",
                     daemon=True).start()
    try:
        while not got.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            until = deadline if notice.done else min(deadline, notice.due())
            got.wait(max(0.0, until - now))
            notice()
    finally:
        with guard:
            if not got.is_set():
                state["abandoned"] = True
    if not got.is_set():
        return None
    if state["error"] is not None:
        os.close(fd)
        raise state["error"]
    return fd


_TURNS: dict[str, Turn] = {}
_TURNS_LOCK = threading.Lock()


def turn_for(path: str) -> Turn | None:
    """The turn of this process on ``path`` (None where there is no ``flock``)."""
    if fcntl is None:
        return None
    with _TURNS_LOCK:
        t = _TURNS.get(path)
        if t is None:
            t = _TURNS[path] = Turn(path)
        return t


def _forget_turns_in_child() -> None:
    # A forked child inherits the .lock descriptor: closing the copy keeps the parent's
    # lock and lets the child take its own turns.
    global _TURNS_LOCK
    _TURNS_LOCK = threading.Lock()
    for t in _TURNS.values():
        if t.fd is not None:
            with contextlib.suppress(OSError):
                os.close(t.fd)
        t.fd, t.users, t.mutex = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_turns_in_child)
