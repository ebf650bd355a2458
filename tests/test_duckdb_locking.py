"""DuckDB allows one writing process per file: we hold it briefly and say so when blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

import tsanalysis
from tsanalysis import StoreLocked


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
