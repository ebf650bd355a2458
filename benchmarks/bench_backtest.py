"""Backtest benchmarks (issue 13), each against a baseline measured in the same run.

* the engine alone over 288,000 ticks, one strategy: under 10 ms; baseline: one numpy
  pass over the same prices (the cumulative product of their returns);
* end to end on DuckDB (read the prices and the stored RSI, run, store the equity, trades
  and metrics): under 0.5 s for 288,000 ticks; on QuestDB (``--url``) under 2 s;
  baseline: DuckDB by itself reading the same prices and indicator values;
* a grid of 100 combinations over 288,000 ticks, every run stored: under 5 s, peak memory
  of the process under 1 GB (measured in a child process of its own), with the grid's
  indicators already stored; the first grid, which computes and stores them, is shown too.

Run with ``make bench`` or ``python benchmarks/bench_backtest.py [--url questdb://...]``.
Timings are the best of several runs, because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_core import best, report, tick_frame  # benchmarks/ is on the path when run as a script

import tsanalysis
from tsanalysis.backtest import get_strategy, simulate
from tsanalysis.backtest.runner import Prepared, Settings

N = 288_000
SYM = "BTC/USDT"
GRID = {"timeperiod": [7, 10, 14, 21, 28], "lower": [20, 25, 30, 35],
        "upper": [65, 70, 75, 80, 85]}


def make_session(url: str) -> str:
    with tsanalysis.connect(url) as ws:
        sid = f"bench-bt-{int(time.time() * 1000)}"
        ws.sessions.create([SYM], sid, cadence_s=1.0)
        ws.ingest(sid, SYM, tick_frame(N))
        ws.indicators.compute(sid, SYM, "rsi", timeperiod=14)
        ws.sessions.complete(sid)
    return sid


def bench_engine(url: str, sid: str) -> dict:
    with tsanalysis.connect(url) as ws:
        prep = Prepared(ws.store, sid, SYM, Settings(fee_bps=10))
        strat = get_strategy("threshold")
        params = strat.check_params({})
        ind = {a: prep.indicator(r)[1] for a, r in strat.inputs(params).items()}
        target = strat.run(prep.inputs, ind, params)
        costs = prep.settings.costs()
        price = prep.inputs["close"]
        engine = best(lambda: simulate(prep.market, target, costs), repeat=20)
        signal = best(lambda: strat.run(prep.inputs, ind, params), repeat=20)
        baseline = best(lambda: np.cumprod(price[1:] / price[:-1]), repeat=20)
        sim = simulate(prep.market, target, costs)
    return {"engine_s": engine, "signal_s": signal, "numpy_pass_s": baseline,
            "engine_vs_numpy_pass": engine / baseline, "engine_fills": len(sim.fills)}


def bench_end_to_end(url: str, sid: str, prefix: str) -> dict:
    with tsanalysis.connect(url) as ws:
        ws.backtests.run(sid, SYM, "threshold", fee_bps=10)  # warm: the RSI is stored
        total = best(lambda: ws.backtests.run(sid, SYM, "threshold", fee_bps=10), repeat=5)

        def plain_read() -> None:
            ws.store.read_arrow("tick_prices", sid, symbols=[SYM], columns=["ts", "seq",
                                                                             "price"])
            ws.store.read_arrow("indicators", sid, symbols=[SYM],
                                columns=["ts", "seq", "value"],
                                filters={"indicator_id": "rsi_14"})
        read = best(plain_read, repeat=5)
    return {f"{prefix}_end_to_end_s": total, f"{prefix}_read_baseline_s": read,
            f"{prefix}_end_to_end_vs_read": total / read}


def grid_child(url: str, sid: str) -> None:
    """Run the grid twice in this process (the first computes the indicators); print
    JSON with the times and the peak memory."""
    with tsanalysis.connect(url) as ws:
        t = time.perf_counter()
        g = ws.backtests.grid(sid, SYM, "threshold", GRID, fee_bps=10)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        g = ws.backtests.grid(sid, SYM, "threshold", GRID, fee_bps=10)
        warm = time.perf_counter() - t
        runs = len(g.runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # GiB
    print(json.dumps({"grid_runs": runs, "grid_first_s": cold, "grid_s": warm,
                      "grid_peak_rss_gb": peak}))


def bench_grid(url: str, sid: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--grid-child", url, sid],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="also measure end to end on this QuestDB URL")
    ap.add_argument("--grid-child", nargs=2, metavar=("URL", "SID"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.grid_child:
        grid_child(*args.grid_child)
        return
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        sid = make_session(url)
        out.update(bench_engine(url, sid))
        out.update(bench_end_to_end(url, sid, "duckdb"))
        out.update(bench_grid(url, sid))
    targets = [("engine_s", 0.010, "engine alone, 288k ticks (s)"),
               ("duckdb_end_to_end_s", 0.5, "end to end on DuckDB, 288k ticks (s)"),
               ("grid_s", 5.0, "grid of 100 over 288k ticks, each stored (s)"),
               ("grid_peak_rss_gb", 1.0, "grid: peak memory of the process (GB)")]
    if args.url:
        qsid = make_session(args.url)
        out.update(bench_end_to_end(args.url, qsid, "questdb"))
        targets.append(("questdb_end_to_end_s", 2.0, "end to end on QuestDB, 288k ticks (s)"))
    report(out, targets, "backtest.json", value_format=".4f", extra_format=".4f")


if __name__ == "__main__":
    main()
