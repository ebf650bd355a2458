"""Quality benchmarks (issue 5): the full assessment of a 288,000-tick symbol, and the peak
memory of assessing 10 million ticks.

1. A demo symbol of 80 hours at 1 Hz (288,000 trades, 288,000 quotes, 4,800 one-minute
   bars) assessed with every built-in check. Reported: the best
   wall time of several runs, its CPU time, the seconds per check (what dominates), and,
   as a baseline measured in the same run, the time DuckDB takes just to hand over the
   columns the checks read (the ratio is what to compare across noisy machines).
2. 10 million trades assessed in a child process (streamed in chunks), whose peak
   resident memory is read with ``ru_maxrss``.

Run with ``make bench`` or ``python benchmarks/bench_quality.py [--big-rows N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from bench_core import report  # benchmarks/ is on the path when run as a script

import tsanalysis
from tsanalysis import schema

SYMBOL = "BTC/USDT"


def best(fn, repeat: int = 5) -> tuple[float, float, object]:
    """Best wall time of ``repeat`` runs, the CPU time of that run, and its result."""
    runs = []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - w, time.process_time() - c, out))
    return min(runs, key=lambda r: r[0])


def bench_288k(tmp: Path) -> dict:
    ws = tsanalysis.connect(f"duckdb:///{tmp}/q288k.duckdb")
    t = time.perf_counter()
    info = ws.demo(symbols=[SYMBOL], hours=80, seed=5, defects=False)  # 288,000 ticks
    setup = time.perf_counter() - t
    sid = info.session_id
    rows = ws.sessions.get(sid).rows or {}
    cold_w = time.perf_counter()
    ws.quality.run(sid)  # first run (nothing is compiled: the kernels are numpy)
    cold = time.perf_counter() - cold_w

    def baseline():  # the columns the checks read, straight from DuckDB
        ws.store.read_arrow("tick_prices", sid, symbols=[SYMBOL],
                            columns=["ts", "seq", "price", "volume"])
        ws.store.read_arrow("tick_orderbook", sid, symbols=[SYMBOL],
                            columns=["ts", "seq", "bid_price", "bid_size", "ask_price",
                                     "ask_size"])

    base_w, base_c, _ = best(baseline)
    wall, cpu, report = best(lambda: ws.quality.run(sid))
    ws.close()
    timings = {k: round(v, 4) for k, v in sorted(report.timings.items(),  # type: ignore[union-attr]
                                                  key=lambda kv: -kv[1])}
    return {
        "q288k_ticks": rows.get("tick_prices"), "q288k_quotes": rows.get("tick_orderbook"),
        "q288k_bars": rows.get("aggregated_ohlcv"), "q288k_setup_s": round(setup, 2),
        "q288k_first_run_s": round(cold, 3),
        "q288k_s": round(wall, 4), "q288k_cpu_s": round(cpu, 4),
        "q288k_read_baseline_s": round(base_w, 4),
        "q288k_ratio_to_read": round(wall / base_w, 2),
        "q288k_score": report.score,  # type: ignore[union-attr]
        "q288k_findings": len(report.findings),  # type: ignore[union-attr]
        "q288k_seconds_per_check": timings,
    }


def write_big(path: Path, n: int) -> str:
    """``n`` trades at 10 Hz on a random walk, written in 1M-row batches."""
    ws = tsanalysis.connect(f"duckdb:///{path}")
    sid = ws.sessions.create([SYMBOL], "big", cadence_s=0.1).session_id
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2026-01-05T00:00:00Z").value // 1000
    level = 100.0
    chunk = 1_000_000
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        walk = level * np.exp(np.cumsum(rng.normal(0, 2e-5, k)))
        level = float(walk[-1])
        frame = pd.DataFrame({
            "session_id": sid, "symbol": SYMBOL, "seq": np.arange(lo, lo + k, dtype="int64"),
            "ts": pd.to_datetime(t0 + (lo + np.arange(k)) * 100_000, unit="us", utc=True),
            "price": np.round(walk, 4), "volume": np.round(rng.lognormal(0, 0.9, k), 6),
            "side": None, "trade_id": None})
        ws.store.write(schema.TICK_PRICES.name, frame)
    ws.sessions.complete(sid)
    ws.close()
    return sid


def bench_big(tmp: Path, n: int, chunk_rows: int | None) -> dict:
    """Assess ``n`` trades in a child process; read its peak memory."""
    path = tmp / "big.duckdb"
    if not path.exists():
        write_big(path, n)
    code = f"""
import json, resource, time, tsanalysis
ws = tsanalysis.connect("duckdb:///{path}")
t = time.perf_counter()
r = ws.quality.run("big", chunk_rows={chunk_rows!r})
el = time.perf_counter() - t
ws.close()
print(json.dumps({{"rows": r.symbols["{SYMBOL}"].rows["tick_prices"], "s": el,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "score": r.score, "errors": r.errors, "timings": r.timings}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rows"] == n and not got["errors"], got
    key = "streamed" if chunk_rows else "whole"
    return {f"big_{key}_rows": n, f"big_{key}_chunk_rows": chunk_rows,
            f"big_{key}_s": round(got["s"], 2),
            f"big_{key}_peak_rss_mb": round(got["rss_kb"] / 1024),
            f"big_{key}_score": got["score"],
            f"big_{key}_seconds_per_check": {k: round(v, 2) for k, v in got["timings"].items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--big-rows", type=int, default=10_000_000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["288k", "big"])
    ap.add_argument("--whole", action="store_true",
                    help="also assess the big session read whole (chunk_rows=None)")
    ap.add_argument("--dir", help="keep the stores here (reused by the next run)")
    args = ap.parse_args()
    out: dict = {"python": sys.version.split()[0], "duckdb": duckdb.__version__,
                 "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(args.dir or d)
        tmp.mkdir(parents=True, exist_ok=True)
        if "288k" not in args.skip:
            out.update(bench_288k(tmp))
        if "big" not in args.skip:
            from tsanalysis.quality.runner import DEFAULT_CHUNK_ROWS

            out.update(bench_big(tmp, args.big_rows, DEFAULT_CHUNK_ROWS))
            if args.whole:
                out.update(bench_big(tmp, args.big_rows, None))
    targets = [
        ("q288k_s", 0.5, "quality of 288k ticks + quotes, all checks (s)"),
        ("big_streamed_peak_rss_mb", 2048, "peak memory, quality of 10M ticks (MB)"),
    ]
    report(out, targets, "quality.json")


if __name__ == "__main__":
    main()
