"""Migration benchmark (issue 7): 24 indicator files of 288,000 rows (6.9M rows).

Targets: the tree migrates in under 60 s (the old script took 5-10 minutes); memory stays
bounded by the batch size (peak RSS at two batch sizes); a re-run adds nothing.

Every measurement runs in a child process, so that its peak RSS (``ru_maxrss``) and CPU
time are its own. Times include closing the store: DuckDB checkpoints then (the command
line pays that too), and the checkpoint's memory, which grows with the data written and
not with the batch, is reported apart from the migration's. The machine is shared, so wall times are noisy: CPU time is reported
next to them, and a baseline measured in the same run gives a ratio: DuckDB's own CSV
reader (``read_csv``, multi-threaded, no validation) loading the same files into tables,
the floor for this work on this machine. On QuestDB (``--db questdb://...``) the baseline
is still DuckDB's reader, i.e. the cost of reading the files alone.

    python benchmarks/bench_migrate.py [--db URL] [--rows 288000] [--files 24]
                                       [--batch-sizes 25000,100000]

Each run migrates a session with a fresh id (the generated tree, re-labelled through
symlinks), so runs against one store do not see each other's rows.
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

from tsanalysis.migrate import DEFAULT_BATCH_ROWS
from tsanalysis.migrate.generator import generate_tree
from tsanalysis.migrate.layout import METADATA_FILE

RESULTS = Path(__file__).parent / "results"
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "DOT/USDT")
INDICATORS = ("rsi_14", "macd_12_26_9", "sma_20", "ema_50", "bbands_20_2", "atr_14",
              "adx_14", "cci_20")

CHILD = r"""
import json, resource, sys, time
import pyarrow as pa
import tsanalysis
url, data, batch, dry = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "dry"
ws = tsanalysis.connect(url)
t = time.perf_counter()
stats = ws.migrate_legacy(data, batch_size=batch, dry_run=dry)
migrate_s = time.perf_counter() - t
during = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ws.close()  # DuckDB checkpoints here: the command line pays it too, so it is timed
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({**stats.figures(), "wall_s": wall, "migrate_s": migrate_s,
                  "close_s": wall - migrate_s, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_migrating_mb": during, "peak_rss_mb": ru.ru_maxrss / 1024,
                  "arrow_peak_mb": pa.default_memory_pool().max_memory() / 1e6}))
"""

FLOOR = r"""
import json, resource, sys
import tsanalysis
ws = tsanalysis.connect(sys.argv[1])
ws.sessions.list()
ws.close()
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BASELINE = r"""
import json, resource, sys, time
import duckdb
files = sys.argv[2:]
con = duckdb.connect(sys.argv[1])
t = time.perf_counter()
n = 0
for i, f in enumerate(files):
    con.execute(f"CREATE TABLE raw_{i} AS SELECT * FROM read_csv(?)", [f])
    n += con.execute(f"SELECT count(*) FROM raw_{i}").fetchone()[0]
wall = time.perf_counter() - t
con.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": n, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def child(code: str, *args: str) -> dict:
    env = {**os.environ, "TSANALYSIS_LOAD_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def relabel(tree: Path, template: Path, session_id: str) -> Path:
    """A tree holding ``template``'s files (symlinked) as session ``session_id``."""
    root = tree / session_id
    d = root / session_id
    d.mkdir(parents=True)
    meta = json.loads((template / METADATA_FILE).read_text())
    meta["session_id"] = session_id
    (d / METADATA_FILE).write_text(json.dumps(meta))
    for sub in template.iterdir():
        if sub.is_dir():
            (d / sub.name).symlink_to(sub.resolve(), target_is_directory=True)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="store URL (default: a fresh DuckDB file per run)")
    ap.add_argument("--rows", type=int, default=288_000, help="rows per file")
    ap.add_argument("--files", type=int, default=24, help="indicator files")
    ap.add_argument("--batch-sizes", default=f"25000,{DEFAULT_BATCH_ROWS}",
                    help="comma-separated; the last one is the timed headline run")
    args = ap.parse_args()
    batches = [int(b) for b in args.batch_sizes.split(",")]
    n_sym = min(len(SYMBOLS), max(1, (args.files + len(INDICATORS) - 1) // len(INDICATORS)))
    per_sym = -(-args.files // n_sym)
    if per_sym > len(INDICATORS):
        raise SystemExit(f"at most {len(SYMBOLS) * len(INDICATORS)} files")
    run_id = f"{os.getpid()}-{int(time.time())}"
    out: dict = {"python": sys.version.split()[0], "duckdb": duckdb.__version__,
                 "cpus": os.cpu_count(), "rows_per_file": args.rows,
                 "load_avg_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = time.perf_counter()
        tree = generate_tree(tmp / "legacy", sessions=1, symbols=SYMBOLS[:n_sym],
                             indicators=INDICATORS[:per_sym], ticks=False, orderbook=False,
                             awkward=False, rows=args.rows, prefix="bench")
        for f in tree.files[args.files:]:
            (tree.root / f.relpath).unlink()
        tree.files = tree.files[: args.files]
        expected = tree.expected()
        out["files"] = expected["files_found"]
        out["rows"] = expected["rows_migrated"]
        out["csv_mb"] = round(sum(p.stat().st_size for p in tree.root.rglob("*.csv")) / 1e6)
        out["generate_s"] = round(time.perf_counter() - t, 1)
        template = tree.root / "bench-0000"
        print(f"{out['files']} files, {out['rows']:,} rows, {out['csv_mb']} MB of CSV "
              f"(generated in {out['generate_s']} s)", flush=True)

        def url(name: str) -> str:
            return args.db or f"duckdb:///{tmp}/{name}.duckdb"

        files = sorted(str(p) for p in template.rglob("*.csv"))
        base = child(BASELINE, str(tmp / "baseline.duckdb"), *files)
        assert base["rows"] == out["rows"], base
        out["baseline"] = base
        print(f"baseline (DuckDB read_csv): {base['wall_s']:.1f} s wall, "
              f"{base['cpu_s']:.1f} s CPU", flush=True)
        out["floor_rss_mb"] = child(FLOOR, url("floor"))["peak_rss_mb"]

        runs = {}
        last_root = None
        for b in batches:
            sid = f"bench-{run_id}-b{b}"
            root = relabel(tmp / "trees", template, sid)
            r = child(CHILD, url(f"b{b}"), str(root), str(b), "real")
            assert r["rows_migrated"] == out["rows"] and r["files_failed"] == 0, r
            runs[b] = r
            last_root = root
            print(f"batch {b:>7,}: {r['wall_s']:.1f} s wall (closing {r['close_s']:.1f} s), "
                  f"{r['cpu_s']:.1f} s CPU, {out['rows'] / r['wall_s']:,.0f} rows/s; peak RSS "
                  f"{r['peak_rss_migrating_mb']:.0f} MB migrating (Arrow "
                  f"{r['arrow_peak_mb']:.0f} MB), {r['peak_rss_mb']:.0f} MB with DuckDB's "
                  "checkpoint at close", flush=True)
        out["runs"] = runs
        headline = runs[batches[-1]]
        rerun = child(CHILD, url(f"b{batches[-1]}"), str(last_root), str(batches[-1]), "real")
        assert rerun["rows_migrated"] == 0 and rerun["files_skipped"] == out["files"], rerun
        out["rerun"] = rerun
        print(f"re-run: {rerun['wall_s']:.1f} s, {rerun['rows_migrated']} rows added "
              f"({rerun['files_skipped']} files skipped as present)", flush=True)
        sid = f"bench-{run_id}-dry"
        dry = child(CHILD, url("dry"), str(relabel(tmp / "trees", template, sid)),
                    str(batches[-1]), "dry")
        assert dry["rows_migrated"] == out["rows"], dry
        out["dry_run"] = dry
        print(f"dry run: {dry['wall_s']:.1f} s (reads and validates everything)", flush=True)

    out["load_avg_end"] = os.getloadavg()[0]
    out["headline_s"] = headline["wall_s"]
    out["ratio_to_baseline_wall"] = headline["wall_s"] / base["wall_s"]
    out["ratio_to_baseline_cpu"] = headline["cpu_s"] / base["cpu_s"]
    rss = {b: (r["peak_rss_migrating_mb"], r["arrow_peak_mb"], r["peak_rss_mb"])
           for b, r in runs.items()}
    print()
    print(f"{'measure':<58} {'value':>10} {'target':>8}")
    flag = "ok" if headline["wall_s"] < 60 else "OVER"
    label = f"migrate {out['rows']:,} rows, batch {batches[-1]:,} (wall s)"
    print(f"{label:<58} {headline['wall_s']:>10.1f} {'< 60':>8} {flag}")
    print(f"{'  CPU s (user+sys)':<58} {headline['cpu_s']:>10.1f}")
    print(f"{'  / DuckDB read_csv of the same files (wall, CPU)':<58} "
          f"{out['ratio_to_baseline_wall']:>5.1f}, {out['ratio_to_baseline_cpu']:.1f}")
    for b, (mb, arrow, closing) in rss.items():
        label = f"peak RSS migrating at batch {b:,} (MB; Arrow buffers)"
        print(f"{label:<58} {mb:>10.0f} ({arrow:.0f})")
        label = "  with DuckDB's checkpoint when the store closes (MB)"
        print(f"{label:<58} {closing:>10.0f}")
    print(f"{'peak RSS of a process that only opens the store (MB)':<58} "
          f"{out['floor_rss_mb']:>10.0f}")
    print(f"{'re-run: rows added':<58} {rerun['rows_migrated']:>10} {'0':>8} "
          f"{'ok' if rerun['rows_migrated'] == 0 else 'OVER'}")
    print(f"load average {out['load_avg_start']:.1f} at start, {out['load_avg_end']:.1f} at end "
          f"on {out['cpus']} CPUs")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "migrate.json").write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
