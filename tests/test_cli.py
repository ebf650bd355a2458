"""The command line as a user runs it: output, JSON shapes, exit codes.

Commands run in the test's process through ``tsanalysis.cli.main(argv)`` (the function
the ``tsanalysis`` script calls), with stdin, stdout, stderr and the environment of their
own: importing the command line once instead of once per command saves most of its cost.
What only a real process shows (the shell's exit code through a pipe, the environment
variable picking the store, signals) runs in a subprocess (:func:`run_process`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from unittest import mock

import pytest

from tsanalysis import schema
from tsanalysis.cli import main

from .helpers import ticks


def run(store_url: str, *args: str, input: str | None = None, env: dict | None = None
        ) -> subprocess.CompletedProcess:
    """``tsanalysis --db STORE_URL ARGS`` in this process: exit code, stdout, stderr."""
    argv = ["--db", store_url, *args]
    out, err = io.StringIO(), io.StringIO()
    environ = {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "TSANALYSIS_DB"}
    with mock.patch.dict(os.environ, environ, clear=True), \
            mock.patch.object(sys, "stdin", io.StringIO(input or "")), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(["tsanalysis", *argv], code, out.getvalue(),
                                       err.getvalue())


def run_process(store_url: str, *args: str, input: str | None = None,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """``tsanalysis --db STORE_URL ARGS`` as a process of its own."""
    e = {**os.environ, **(env or {})}
    e.pop("TSANALYSIS_DB", None)
    return subprocess.run([sys.executable, "-m", "tsanalysis", "--db", store_url, *args],
                          capture_output=True, text=True, input=input, env=e, timeout=300)


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, p.stderr
    return p


def test_demo_list_show_delete(store_url, sid):
    out = ok(run(store_url, "demo", "--session", sid, "--hours", "0.2", "--symbols",
                 "BTC/USDT,ETH/USDT", "--seed", "7"))
    assert out.stdout.strip() == sid
    listed = json.loads(ok(run(store_url, "sessions", "list", "--json")).stdout)
    mine = [s for s in listed if s["session_id"] == sid]
    assert mine and mine[0]["status"] == "completed"
    assert mine[0]["rows"]["tick_prices"] > 0
    shown = json.loads(ok(run(store_url, "sessions", "show", sid, "--json")).stdout)
    assert shown["symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert set(shown["rows"]) == {t.name for t in schema.CHILD_TABLES}
    assert shown["first_ts"].endswith("Z") and shown["status"] == "completed"
    human = ok(run(store_url, "sessions", "show", sid)).stdout
    assert "tick_prices" in human and "BTC/USDT" in human
    deleted = json.loads(ok(run(store_url, "sessions", "delete", sid, "--yes", "--json")).stdout)
    assert deleted["session_id"] == sid
    assert list(deleted["deleted"]) == [t.name for t in schema.TABLES]
    assert deleted["deleted"]["data_collection_sessions"] == 1
    assert deleted["total"] == sum(deleted["deleted"].values())
    assert deleted["total"] == shown["total_rows"] + 1
    assert run(store_url, "sessions", "show", sid).returncode == 3


def test_create_import_complete(store_url, sid, tmp_path):
    created = ok(run(store_url, "sessions", "create", "--symbols", "BTC/USDT", "--id", sid))
    assert created.stdout.strip() == sid
    f = ticks(50).rename(columns={"ts": "time", "price": "last"})
    f["symbol"] = "ignored"
    f.to_csv(tmp_path / "t.csv", index=False)
    res = json.loads(ok(run(store_url, "sessions", "import", sid, str(tmp_path / "t.csv"),
                            "--symbol", "BTC/USDT", "--ts-col", "time", "--price-col", "last",
                            "--json")).stdout)
    assert res["rows_written"] == 50 and res["table"] == "tick_prices"
    # the session is active: delete is refused (4) and nothing changes
    refused = run(store_url, "sessions", "delete", sid, "--yes")
    assert refused.returncode == 4 and "active" in refused.stderr
    ok(run(store_url, "sessions", "complete", sid))
    shown = json.loads(ok(run(store_url, "sessions", "show", sid, "--json")).stdout)
    assert shown["status"] == "completed" and shown["rows"]["tick_prices"] == 50


def test_import_invalid_file_exits_1_and_writes_nothing(store_url, sid, tmp_path):
    ok(run(store_url, "sessions", "create", "--symbols", "BTC/USDT", "--id", sid))
    p = tmp_path / "bad.csv"
    p.write_text("ts,price,volume\n2026-01-05T00:00:00Z,100,1\n2026-01-05T00:00:01Z,NaN,1\n")
    bad = run(store_url, "sessions", "import", sid, str(p), "--symbol", "BTC/USDT")
    assert bad.returncode == 1
    assert "line 3" in bad.stderr and "price" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    shown = json.loads(ok(run(store_url, "sessions", "show", sid, "--json")).stdout)
    assert shown["rows"]["tick_prices"] == 0
    skipped = json.loads(ok(run(store_url, "sessions", "import", sid, str(p), "--symbol",
                                "BTC/USDT", "--skip-invalid", "--json")).stdout)
    assert skipped["rows_written"] == 1 and skipped["rows_skipped"] == 1
    assert skipped["validation"]["errors"][0]["line"] == 3


def test_exit_codes(store_url, tmp_path):
    assert run(store_url, "sessions", "show", "nope").returncode == 3
    assert run(store_url, "sessions", "delete", "nope", "--yes").returncode == 3
    inj = run(store_url, "sessions", "show", "x' OR 1=1 --")
    assert inj.returncode == 1 and "invalid session id" in inj.stderr
    assert run(store_url, "sessions", "frobnicate").returncode == 2
    assert run(store_url, "sessions", "import").returncode == 2
    assert run(store_url, "demo", "--hours", "-1").returncode == 2
    missing = run(store_url, "sessions", "import", "nope", str(tmp_path / "x.csv"),
                  "--symbol", "BTC/USDT")
    assert missing.returncode in (1, 3)


def test_delete_without_yes_asks_or_refuses(store_url, sid):
    ok(run(store_url, "sessions", "create", "--symbols", "BTC/USDT", "--id", sid))
    ok(run(store_url, "sessions", "complete", sid))
    refused = run(store_url, "sessions", "delete", sid)  # stdin is not a terminal
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert run(store_url, "sessions", "show", sid).returncode == 0


@pytest.mark.parametrize("runner", [run, run_process], ids=["in-process", "process"])
def test_errors_are_one_line_without_traceback(runner):
    p = runner("postgres://nowhere", "sessions", "list")
    assert p.returncode == 1 and "unknown store scheme" in p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [["--help"], ["sessions", "--help"], ["sessions", "import",
                                                                          "--help"], ["--version"]])
def test_help(tmp_path, args):
    p = run(f"duckdb:///{tmp_path}/h.duckdb", *args)
    assert p.returncode == 0 and p.stdout


@pytest.mark.slow
def test_env_var_selects_the_store(tmp_path, sid):
    url = f"duckdb:///{tmp_path}/env.duckdb"
    env = {**os.environ, "TSANALYSIS_DB": url}
    p = subprocess.run([sys.executable, "-m", "tsanalysis", "sessions", "create", "--symbols",
                        "BTC/USDT", "--id", sid], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "env.duckdb").exists()


@pytest.mark.slow
def test_output_piped_into_head_ends_quietly_with_exit_0(tmp_path):
    """`tsanalysis ... | head` : the reader closes the pipe early; the command stops with
    exit 0 and no message (click alone ends it with exit 1)."""
    url = f"duckdb:///{tmp_path}/pipe.duckdb"
    sid = json.loads(ok(run(url, "demo", "--hours", "1", "--json")).stdout)["session_id"]
    ok(run(url, "indicators", "compute", sid, "--symbol", "BTC/USDT", "--indicator", "rsi"))
    env = {**os.environ, "TSANALYSIS_DB": url}
    for fmt in ("", "--csv", "--json"):
        p = subprocess.run(
            ["bash", "-c", f'"{sys.executable}" -m tsanalysis indicators history "$0" '
             f'--symbol BTC/USDT --indicator-id rsi_14 {fmt} | head -c 10 >/dev/null; '
             'exit "${PIPESTATUS[0]}"', sid],
            capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, (fmt, p.returncode, p.stderr)
        assert p.stderr == "", (fmt, p.stderr)
