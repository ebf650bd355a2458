"""Export benchmarks (issue 6).

1. 288,000 ticks to Parquet and to CSV through ``ws.export``, each compared with DuckDB's
   own ``COPY (SELECT ...) TO`` of the same rows, in the same order, from the same file,
   in the same run (target: at most 2x).
2. A 10-million-row session exported to every built-in format, each in a child process
   whose peak memory (``ru_maxrss``) is read (target: under 1 GB).

Run with ``make bench`` or ``python benchmarks/bench_export.py [--big-rows N]
[--skip small big] [--formats csv parquet ...]``. Figures go to
``benchmarks/results/export.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from bench_core import report  # benchmarks/ is on the path when run as a script

import tsanalysis
from tsanalysis import demo

N_TICKS = 288_000
FORMATS = ("csv", "jsonl", "json", "parquet", "zip")
BIG_SESSION = "big"


def best(fn, repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs (the least disturbed by other work)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_small(tmp: Path) -> dict:
    db = tmp / "small.duckdb"
    ws = tsanalysis.connect(f"duckdb:///{db}")
    ticks = demo.generate(["BTC/USDT"], hours=N_TICKS / 3600, seed=1, defects=False
                          ).ticks["BTC/USDT"].iloc[:N_TICKS]
    sid = ws.sessions.create(["BTC/USDT"], "bench").session_id
    ws.ingest(sid, "BTC/USDT", ticks)
    ws.sessions.complete(sid)
    assert ws.store.count_rows(sid)["tick_prices"] == N_TICKS
    ws.close()

    select = ("SELECT * FROM tick_prices WHERE session_id = 'bench' "
              "ORDER BY symbol, ts, seq")
    out: dict = {"small_rows": N_TICKS}
    for fmt, copy_opts in (("parquet", "(FORMAT parquet, COMPRESSION snappy)"),
                           ("csv", "(FORMAT csv, HEADER true)")):
        ours_path, base_path = tmp / f"ours.{fmt}", tmp / f"duckdb.{fmt}"

        def ours(fmt=fmt, path=ours_path) -> None:
            w = tsanalysis.connect(f"duckdb:///{db}")
            res = w.export.run(sid, fmt, path, overwrite=True)
            w.close()
            assert res.rows == N_TICKS

        def baseline(path=base_path, opts=copy_opts) -> None:
            con = duckdb.connect(str(db))
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"COPY ({select}) TO '{path}' {opts}")
            con.close()

        # interleave so that both see the same background load
        t_ours, t_base = [], []
        for _ in range(5):
            t_base.append(best(baseline, 1))
            t_ours.append(best(ours, 1))
        out[f"{fmt}_288k_s"] = min(t_ours)
        out[f"{fmt}_duckdb_copy_s"] = min(t_base)
        out[f"{fmt}_ratio"] = min(t_ours) / min(t_base)
        out[f"{fmt}_bytes"] = ours_path.stat().st_size
        out[f"{fmt}_duckdb_bytes"] = base_path.stat().st_size
    return out


def make_big(db: Path, rows: int) -> None:
    """A session of ``rows`` ticks over two symbols, written in typed Arrow batches."""
    ws = tsanalysis.connect(f"duckdb:///{db}")
    syms = ["BTC/USDT", "ETH/USDT"]
    ws.sessions.create(syms, BIG_SESSION)
    rng = np.random.default_rng(0)
    t0 = 1_767_571_200_000_000
    step = 1_000_000
    for k, sym in enumerate(syms):
        for lo in range(0, rows // len(syms), step):
            m = min(step, rows // len(syms) - lo)
            seq = np.arange(lo, lo + m, dtype="int64")
            ws.store.write("tick_prices", pa.table({
                "session_id": pa.array([BIG_SESSION] * m), "symbol": pa.array([sym] * m),
                "seq": seq, "ts": pa.array(t0 + seq * 37 + k, pa.timestamp("us", tz="UTC")),
                "price": 100 + rng.normal(0, 1, m).cumsum() * 0.01 + 50,
                "volume": rng.uniform(0, 3, m),
                "side": pa.array(np.where(seq % 2 == 0, "buy", "sell")),
                "trade_id": pa.array(seq.astype(str)),
            }))
    ws.sessions.complete(BIG_SESSION)
    ws.close()


CHILD = """
import resource, sys, time, tsanalysis
db, fmt, out = sys.argv[1:4]
ws = tsanalysis.connect("duckdb:///" + db)
t = time.perf_counter()
res = ws.export.run("big", fmt, out)
el = time.perf_counter() - t
ws.close()
print(res.rows, res.bytes, el, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_big(tmp: Path, rows: int, formats: list[str]) -> dict:
    db = tmp / "big.duckdb"
    t = time.perf_counter()
    make_big(db, rows)
    out: dict = {"big_rows": rows, "big_build_s": time.perf_counter() - t}
    for fmt in formats:
        target = tmp / f"big.{fmt}"
        p = subprocess.run([sys.executable, "-c", CHILD, str(db), fmt, str(target)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"export to {fmt} failed: {p.stderr}")
        n, size, el, maxrss_kb = p.stdout.strip().splitlines()[-1].split()
        if len(p.stdout.strip().splitlines()) > 1:
            print(f"note: the {fmt} export printed on stdout: {p.stdout[:300]!r}")
        assert int(n) == rows, (fmt, n)
        out[f"big_{fmt}_s"] = float(el)
        out[f"big_{fmt}_rows_per_s"] = rows / float(el)
        out[f"big_{fmt}_mb"] = int(size) / 1e6
        out[f"big_{fmt}_peak_rss_mb"] = int(maxrss_kb) / 1024
        target.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--big-rows", type=int, default=10_000_000)
    ap.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    ap.add_argument("--skip", nargs="*", default=[], choices=["small", "big"])
    args = ap.parse_args()
    out: dict = {"python": sys.version.split()[0], "duckdb": duckdb.__version__,
                 "pyarrow": pa.__version__, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "small" not in args.skip:
            out.update(bench_small(tmp))
        if "big" not in args.skip:
            out.update(bench_big(tmp, args.big_rows, args.formats))
    targets = [("parquet_ratio", 2.0, "288k ticks to Parquet / DuckDB COPY"),
               ("csv_ratio", 2.0, "288k ticks to CSV / DuckDB COPY")]
    targets += [(f"big_{f}_peak_rss_mb", 1024, f"peak memory, {args.big_rows:,} rows to {f} (MB)")
                for f in args.formats]
    report(out, targets, "export.json")


if __name__ == "__main__":
    main()
