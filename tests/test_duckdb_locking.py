"""DuckDB allows one writing process per file: we hold it briefly and say so when blocked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

import tsanalysis
from tsanalysis import StoreLocked

from .helpers import T0


def hold_file(path, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


@pytest.mark.slow
def test_a_lock_held_elsewhere_is_a_clear_error(tmp_path):
    path = tmp_path / "x.duckdb"
    tsanalysis.connect(f"duckdb:///{path}").close()
    holder = hold_file(path, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreLocked, match="locked by process") as e:
            tsanalysis.connect(f"duckdb:///{path}", lock_timeout=1.0).sessions.list()
        assert time.monotonic() - t0 >= 1.0  # it waited before giving up
        assert str(path) in str(e.value)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


@pytest.mark.slow
def test_a_lock_released_while_waiting_is_taken(tmp_path):
    path = tmp_path / "x.duckdb"
    tsanalysis.connect(f"duckdb:///{path}").close()
    holder = hold_file(path, 1.0)
    try:
        ws = tsanalysis.connect(f"duckdb:///{path}", lock_timeout=20.0)
        ws.sessions.create(["BTC/USDT"], "waited")
        assert ws.sessions.get("waited").status == "active"
        ws.close()
    finally:
        holder.wait()
        holder.stdout.close()


@pytest.mark.slow
def test_an_idle_workspace_lets_other_processes_write(tmp_path):
    path = tmp_path / "x.duckdb"
    ws = tsanalysis.connect(f"duckdb:///{path}", idle_release=0.2)
    ws.sessions.create(["BTC/USDT"], "mine")
    time.sleep(0.6)  # the notebook is idle: its connection has been released
    cli = subprocess.run([sys.executable, "-m", "tsanalysis", "--db", f"duckdb:///{path}",
                          "sessions", "create", "--symbols", "ETH/USDT", "--id", "theirs"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert {i.session_id for i in ws.sessions.list()} == {"mine", "theirs"}
    ws.close()


def test_several_workspaces_on_one_file_in_one_process(tmp_path):
    """A panel's workspace and the user's own (or a re-run cell) on the same file: reads
    and writes of each, interleaved, in one process (DuckDB allows one database instance
    per file and process, and refuses a second with another configuration)."""
    import tsanalysis

    from .helpers import ticks

    path = tmp_path / "shared.duckdb"
    ws1 = tsanalysis.connect(str(path))
    sid = ws1.demo(hours=1).session_id
    ws2 = tsanalysis.connect(str(path))
    try:
        n = len(ws2.ticks(sid))  # ws2 reads while ws1 may still hold its connection
        assert n == len(ws1.ticks(sid)) > 0
        new = ws2.sessions.create(["BTC/USDT"]).session_id  # a write while ws1 reads
        ws2.ingest(new, "BTC/USDT", ticks(10))
        assert len(ws1.ticks(new)) == 10
        ws1.ingest(new, "BTC/USDT", ticks(5, seed=3))
        assert ws2.sessions.get(new).total_rows == 15
        ws2.close()
        assert len(ws1.ticks(new)) == 15
    finally:
        ws1.close()
        ws2.close()


def hold_turn(path, seconds: float, until=None) -> subprocess.Popen:
    """A tsanalysis process in the middle of one long operation on the file (``seconds``
    long, or until the file ``until`` exists)."""
    code = textwrap.dedent(f"""
        import os, sys, time, tsanalysis
        ws = tsanalysis.connect({str(path)!r})
        with ws.store.connection(write=True):
            print("holding", flush=True)
            t_end = time.monotonic() + {seconds}
            while time.monotonic() < t_end and not os.path.exists({str(until)!r}):
                time.sleep(0.02)
        ws.close()
    """)
    p = subprocess.Popen([sys.executable, "-c", code, "--long-job"], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "holding"
    return p


@pytest.mark.slow
def test_a_command_waits_its_turn_says_so_and_gives_up_after_its_timeout(tmp_path):
    path = tmp_path / "x.duckdb"
    tsanalysis.connect(path).close()
    holder = hold_turn(path, 60)
    try:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "tsanalysis", "--db", str(path),
                            "--lock-timeout", "1.5", "sessions", "list"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 6, p.stderr  # EXIT_LOCKED
        lines = p.stderr.splitlines()
        assert lines[0] == (f"waiting for {path}: in use by process {holder.pid} "
                            "(-c --long-job)"), lines
        assert lines[1].startswith(f"error: {path} is locked by process {holder.pid}")
        assert "--lock-timeout" in lines[1] and len(lines) == 2
        # the variable, and the Python option; a workspace says so through a warning
        env = {**os.environ, "TSANALYSIS_LOCK_TIMEOUT": "0.5"}
        p = subprocess.run([sys.executable, "-m", "tsanalysis", "--db", str(path),
                            "sessions", "list"], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 6 and "locked by process" in p.stderr
        told = []
        t0 = time.monotonic()
        with pytest.raises(StoreLocked, match=f"locked by process {holder.pid}"):
            tsanalysis.connect(path, lock_timeout=1.2, on_wait=told.append)
        assert time.monotonic() - t0 >= 1.2
        assert told == [f"waiting for {path}: in use by process {holder.pid} (-c --long-job)"]
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


@pytest.mark.slow
def test_a_waiting_command_gets_the_file_when_the_operation_ends(tmp_path):
    path, done = tmp_path / "x.duckdb", tmp_path / "done"
    tsanalysis.connect(path).close()
    holder = hold_turn(path, 60, until=done)
    cli = subprocess.Popen([sys.executable, "-m", "tsanalysis", "--db", str(path),
                            "sessions", "create", "--symbols", "ETH/USDT", "--id", "after"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert cli.stderr.readline().startswith(f"waiting for {path}: in use by process "
                                                f"{holder.pid}")
        done.touch()  # the operation ends
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0 and out.strip() == "after", err
    finally:
        done.touch()
        holder.wait()
        holder.stdout.close()
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    with tsanalysis.connect(path) as ws:
        assert ws.sessions.get("after").status == "active"


@pytest.mark.slow
def test_a_notebook_in_a_loop_and_the_command_line_take_turns(tmp_path):
    """A workspace of this process ingesting every 0.1 s (its connection never idle for
    the 2 s after which it used to be released) lets commands in, and waits for them."""
    from .helpers import ticks

    path = tmp_path / "x.duckdb"
    ws = tsanalysis.connect(path)
    ws.sessions.create(["BTC/USDT"], "nb")
    stop = threading.Event()
    wrote = []

    def loop() -> None:
        k = 0
        while not stop.is_set():
            ws.ingest("nb", "BTC/USDT", ticks(10, start=T0 + pd.Timedelta(seconds=10 * k)))
            wrote.append(10)
            k += 1
            time.sleep(0.1)

    th = threading.Thread(target=loop)
    th.start()
    try:
        for args in (["sessions", "list"],
                     ["sessions", "create", "--symbols", "ETH/USDT", "--id", "cli"]):
            p = subprocess.run([sys.executable, "-m", "tsanalysis", "--db", str(path),
                                "--lock-timeout", "20", *args],
                               capture_output=True, text=True, timeout=120)
            assert p.returncode == 0, p.stderr
    finally:
        stop.set()
        th.join()
    assert ws.store.count("tick_prices", "nb") == sum(wrote) > 0
    assert ws.sessions.get("cli").status == "active"
    ws.close()
