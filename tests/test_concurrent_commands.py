"""The command line takes its turns while writers run in a loop, on both backends, and
every row written is accounted for at the end (the writers are in tests/concurrency.py).

DuckDB lets one process at a time open its file: before turns, a writer touching the file
more often than every 2 s locked every command out ("locked by process N" after 11 s).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

import tsanalysis

from .concurrency import (
    SYM,
    T0,
    WINDOW,
    fates,
    start_writer,
    wait_for_writes,
    writes,
)
from .questdb_support import fresh
from .test_cli import run_process


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.slow
def test_commands_take_turns_with_writers_in_a_loop(store_url, tmp_path):
    rec, tgt, imp = fresh("rec"), fresh("tgt"), fresh("imp")
    with tsanalysis.connect(store_url) as ws:
        ws.sessions.create([SYM], rec)  # active: a recorder
        ws.sessions.create([SYM], tgt, status="completed")
        ws.sessions.create([SYM], imp, status="completed")
        # rows of the window written long before the delete, and some after the window
        before = (WINDOW[0] + pd.to_timedelta(np.arange(50), unit="s")).append(
            WINDOW[1] + pd.to_timedelta(np.arange(50), unit="s"))
        t = time.time()
        ws.ingest(tgt, SYM, pd.DataFrame({"ts": before.as_unit("us"), "price": 1.0,
                                          "volume": 1.0}))
        preload = {"start": t, "ack": time.time(), "ts": [int(x.value // 1000) for x in before]}
    csv = tmp_path / "trades.csv"
    pd.DataFrame({"ts": pd.date_range(T0 + pd.Timedelta(days=2), periods=100, freq="s"),
                  "price": 2.0, "volume": 1.0}).to_csv(csv, index=False)

    stop = tmp_path / "stop"
    log_rec, log_tgt = tmp_path / "rec.jsonl", tmp_path / "tgt.jsonl"
    recorder = start_writer(store_url, rec, log_rec, stop, period=0.2, complete=True)
    appender = start_writer(store_url, tgt, log_tgt, stop, period=0.1, windowed=True)
    took: dict[str, float] = {}

    def cli(name: str, *args: str):
        t = time.monotonic()
        p = run_process(store_url, "--lock-timeout", "30", *args)
        took[name] = round(time.monotonic() - t, 2)
        assert p.returncode == 0, f"{name}: {p.stderr}"
        return p

    try:
        wait_for_writes(log_rec, 3, recorder)
        wait_for_writes(log_tgt, 3, appender)
        listed = json.loads(cli("list", "sessions", "list", "--json").stdout)
        assert {rec, tgt, imp} <= {s["session_id"] for s in listed}
        cli("import", "sessions", "import", imp, str(csv), "--symbol", SYM)
        cli("delete session", "sessions", "delete", imp, "--yes")
        del_start = time.time()
        cli("delete window", "delete", tgt, "--start", iso(WINDOW[0]), "--end",
            iso(WINDOW[1]), "--yes")
        del_end = time.time()
        wait_for_writes(log_tgt, len(writes(log_tgt)) + 3, appender)  # after the delete
    finally:
        stop.touch()
        for p in (recorder, appender):
            p.join(60)
            if p.exitcode is None:
                p.kill()
    print("seconds per command:", took)
    assert recorder.exitcode == 0 and appender.exitcode == 0

    with tsanalysis.connect(store_url) as ws:
        # the recorder: every row acknowledged, once, and its session completed
        logged = writes(log_rec)
        assert len(logged) >= 5
        assert ws.store.count("tick_prices", rec) == 20 * len(logged)
        assert ws.sessions.get(rec).status == "completed"
        # the imported session is gone, with every row (no orphans)
        with pytest.raises(tsanalysis.SessionNotFound):
            ws.sessions.get(imp)
        assert sum(ws.store.count_rows(imp).values()) == 0
        # the appender's session: each row deleted or kept as its timing says
        stored = ws.store.read_arrow("tick_prices", tgt, columns=["ts"]).column("ts")
        stored_us = [int(pd.Timestamp(x).value // 1000) for x in stored.to_pylist()]
        f = fates([preload, *writes(log_tgt)], stored_us, del_start, del_end)
        assert not f.lost and not f.resurrected and not f.duplicated, f
        assert f.deleted >= 50 and f.kept >= 50 + 15, f
        assert ws.sessions.get(tgt).status == "completed"
