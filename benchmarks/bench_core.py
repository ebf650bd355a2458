"""Core benchmarks: ingestion, reads, cascade delete, big CSV import (foundation issue).

Each figure is compared with a baseline measured in the same run (DuckDB doing the same
work by itself), because timings on a shared machine are noisy. Run with ``make bench`` or
``python benchmarks/bench_core.py [--backend duckdb|questdb] [--csv-rows N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import tsanalysis
from tsanalysis import demo, schema

N_TICKS = 288_000
RESULTS = Path(__file__).parent / "results"


def best(fn, repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs (the least disturbed by other work)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def report(out: dict, targets: list[tuple[str, float, str]], name: str, *,
           value_format: str = ".3f", extra_format: str = "") -> None:
    """Print each target's measure against it (ok / OVER), then the other figures, and
    write them all to ``results/<name>``."""
    print(f"{'measure':<55} {'value':>10} {'target':>8}")
    for key, target, label in targets:
        if key in out:
            flag = "ok" if out[key] <= target else "OVER"
            print(f"{label:<55} {out[key]:>10{value_format}} {target:>8} {flag}")
    for k, v in out.items():
        if k not in {t[0] for t in targets}:
            print(f"  {k}: {v:{extra_format}}" if isinstance(v, float) else f"  {k}: {v}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(out, indent=2, default=str))


def tick_frame(n: int = N_TICKS) -> pd.DataFrame:
    d = demo.generate(["BTC/USDT"], hours=n / 3600, seed=1, defects=False)
    return d.ticks["BTC/USDT"].iloc[:n].reset_index(drop=True)


def bench_ingest_and_read(tmp: Path) -> dict:
    frame = tick_frame()
    typed = frame.assign(session_id="base", symbol="BTC/USDT",
                         seq=np.arange(len(frame), dtype="int64"), trade_id=None)
    typed = typed[schema.TICK_PRICES.column_names]

    raw = duckdb.connect(str(tmp / "raw.duckdb"))
    raw.execute("SET TimeZone='UTC'")
    from tsanalysis.store.duckdb import render_ddl
    raw.execute(render_ddl(schema.TICK_PRICES))
    raw.register("typed", typed)

    def baseline_insert():
        raw.execute("DELETE FROM tick_prices")
        raw.execute("INSERT INTO tick_prices SELECT * FROM typed")

    ws = tsanalysis.connect(f"duckdb:///{tmp}/ours.duckdb")
    sid = ws.sessions.create(["BTC/USDT"], "bench").session_id

    def ours_insert():
        ws.store.sql("DELETE FROM tick_prices WHERE session_id = ?", [sid])
        ws.ingest(sid, "BTC/USDT", frame)

    base_w, ours_w = best(baseline_insert), best(ours_insert)

    q = ("SELECT * FROM tick_prices WHERE session_id = ? AND symbol = ? ORDER BY ts, seq")

    def baseline_read():
        raw.execute(q, ["base", "BTC/USDT"]).df()

    def ours_read():
        got = ws.ticks(sid, "BTC/USDT")
        assert len(got) == N_TICKS

    base_r, ours_r = best(baseline_read), best(ours_read)
    raw.close()
    ws.close()
    return {
        "ingest_288k_s": ours_w, "ingest_baseline_insert_s": base_w,
        "ingest_ratio": ours_w / base_w,
        "read_288k_s": ours_r, "read_baseline_df_s": base_r, "read_ratio": ours_r / base_r,
    }


def bench_delete(tmp: Path, url: str | None = None) -> dict:
    ws = tsanalysis.connect(url or f"duckdb:///{tmp}/delete.duckdb")
    info = ws.demo(hours=80, seed=3, bar_intervals=("1m", "5m"))
    sid = info.session_id
    # indicators and a backtest so that all six tables hold rows
    for sym in info.symbols:
        t = ws.ticks(sid, sym, columns=["seq", "ts", "price"])
        ind = pd.DataFrame({"session_id": sid, "symbol": sym, "indicator_id": "sma_20",
                            "seq": t["seq"], "ts": t["ts"],
                            "value": t["price"].rolling(20).mean(), "confidence": 1.0})
        ws.store.write("indicators", ind.iloc[::10])
        bt = pd.DataFrame({"session_id": sid, "symbol": sym, "backtest_id": "b1",
                           "seq": np.arange(1000, dtype="int64"), "ts": t["ts"].iloc[:1000],
                           "strategy": "x", "parameters": "{}", "equity": 1.0, "position": 0.0,
                           "pnl": 0.0, "metrics": "{}"})
        ws.store.write("backtest_results", bt)
    other = ws.demo(hours=8, seed=4).session_id  # a neighbour that must survive
    rows = ws.store.count_rows(sid)
    other_before = ws.store.count_rows(other)
    t = time.perf_counter()
    res = ws.sessions.delete(sid)
    elapsed = time.perf_counter() - t
    assert sum(ws.store.count_rows(sid).values()) == 0
    assert ws.store.count_rows(other) == other_before
    ws.close()
    return {"delete_rows": res.total, "delete_rows_by_table": rows, "delete_s": elapsed}


def bench_csv_import(tmp: Path, n: int) -> dict:
    """Import an n-row CSV in a child process and read its peak memory (ru_maxrss)."""
    path = tmp / "big.csv"
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2026-01-05T00:00:00Z").value // 1000
    chunk = 1_000_000
    with open(path, "w") as f:
        f.write("ts,price,volume\n")
        for lo in range(0, n, chunk):
            k = min(chunk, n - lo)
            ts = pd.to_datetime(start + (lo + np.arange(k)) * 100_000, unit="us", utc=True)
            pd.DataFrame({"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                          "price": np.round(100 + rng.normal(0, 1, k).cumsum() * 0.01 + 50, 4),
                          "volume": np.round(rng.uniform(0, 3, k), 6)}).to_csv(
                f, header=False, index=False)
    size_mb = path.stat().st_size / 1e6
    code = f"""
import resource, time, tsanalysis
ws = tsanalysis.connect("duckdb:///{tmp}/csv.duckdb")
sid = ws.sessions.create(["BTC/USDT"]).session_id
t = time.perf_counter()
res = ws.import_file(sid, "{path}", "BTC/USDT")
el = time.perf_counter() - t
ws.close()
print("RESULT", res.rows_written, el, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, el, maxrss_kb = out.stdout.split()[-3:]
    assert int(rows) == n
    return {"csv_rows": n, "csv_mb": round(size_mb), "csv_import_s": float(el),
            "csv_rows_per_s": n / float(el), "csv_peak_rss_mb": int(maxrss_kb) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv-rows", type=int, default=10_000_000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["ingest", "delete", "csv"])
    args = ap.parse_args()
    out: dict = {"python": sys.version.split()[0], "duckdb": duckdb.__version__,
                 "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "ingest" not in args.skip:
            out.update(bench_ingest_and_read(tmp))
        if "delete" not in args.skip:
            out.update(bench_delete(tmp))
        if "csv" not in args.skip:
            out.update(bench_csv_import(tmp, args.csv_rows))
    targets = [
        ("ingest_ratio", 2.0, "ingest 288k ticks / DuckDB INSERT of the same frame"),
        ("read_ratio", 1.5, "read 288k ticks / DuckDB .df() of the same query"),
        ("delete_s", 2.0, "cascade delete of ~1.7M rows (s)"),
        ("csv_peak_rss_mb", 1536, "peak memory importing the CSV (MB)"),
    ]
    report(out, targets, "core.json")
    resource.getrusage(resource.RUSAGE_SELF)


if __name__ == "__main__":
    main()
