"""Indicator benchmarks (issue 4), each against a baseline measured in the same run.

* compute RSI, EMA, MACD, BBANDS and ATR over 288,000 points with the built-ins (the
  indicator layer on the numba kernels) / TA-Lib on the same arrays: each within 3x;
* compute and persist RSI(14) for a 288,000-tick session: under 0.5 s on DuckDB (2 s on
  QuestDB); also shown against the baseline of reading the ticks and inserting 288,000
  rows with DuckDB by itself;
* read the full 288,000-point history: under 0.3 s; one 10,000-row page: under 50 ms;
* ``update`` after 1,000 new ticks: under 5 % of a full recompute.

Run with ``make bench`` or ``python benchmarks/bench_indicators.py [--url URL]`` (a
QuestDB URL to measure that backend). Timings are the best of several runs, because the
machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import talib
from bench_core import best, tick_frame  # benchmarks/ is on the path when run as a script

import tsanalysis
from tsanalysis import schema
from tsanalysis.indicators import Inputs, get

N = 288_000
NEW = 1_000
SYM = "BTC/USDT"
RESULTS = Path(__file__).parent / "results"


def bench_kernels() -> dict:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.1, N))
    high = close + rng.random(N) * 0.2
    low = close - rng.random(N) * 0.2
    x = Inputs({"open": close, "high": high, "low": low, "close": close,
                "volume": rng.random(N) + 0.1}, np.arange(N, dtype=np.int64), "bars", "1m", 60.0)
    cases = {
        "rsi": lambda: talib.RSI(close, 14),
        "ema": lambda: talib.EMA(close, 30),
        "macd": lambda: talib.MACD(close, 12, 26, 9),
        "bbands": lambda: talib.BBANDS(close, 20, 2.0, 2.0, 0),
        "atr": lambda: talib.ATR(high, low, close, 14),
    }
    out = {}
    for name, ref in cases.items():
        ind = get(name)
        params = ind.check_params({})
        ind.run(x, params)  # compile / load the numba cache first
        ours, theirs = best(lambda ind=ind, p=params: ind.run(x, p), 9), best(ref, 9)
        out[f"{name}_ms"] = round(ours * 1e3, 2)
        out[f"{name}_talib_ms"] = round(theirs * 1e3, 2)
        out[f"{name}_ratio"] = round(ours / theirs, 2)
    return out


def bench_store(url: str, tmp: Path) -> dict:
    ws = tsanalysis.connect(url)
    everything = tick_frame(N + 5 * NEW)  # the session, then five batches of new ticks
    frame = everything.iloc[:N]
    sid = ws.create_session([SYM], f"bench-ind-{os.getpid()}", cadence_s=1.0).session_id
    ws.ingest(sid, SYM, frame)
    out: dict = {"backend": ws.backend}
    try:
        ws.indicators.compute(sid, SYM, "rsi")  # warm: numba cache, connection

        def compute():
            res = ws.indicators.compute(sid, SYM, "rsi", timeperiod=14)
            assert res.rows == N

        out["compute_persist_rsi_s"] = round(best(compute, 5), 4)

        if ws.backend == "duckdb":
            # Baseline: DuckDB by itself reads the ticks and inserts as many rows.
            raw = duckdb.connect(str(tmp / "raw.duckdb"))
            from tsanalysis.store.duckdb import render_ddl

            raw.execute(render_ddl(schema.INDICATORS))
            rows = ws.store.read_arrow("indicators", sid, filters={"indicator_id": "rsi_14"})
            raw.register("rows", rows)
            raw.execute(render_ddl(schema.TICK_PRICES))
            raw.register("ticks", ws.store.read_arrow("tick_prices", sid))
            raw.execute("INSERT INTO tick_prices SELECT * FROM ticks")

            def baseline():
                raw.execute("SELECT price FROM tick_prices ORDER BY ts, seq").fetchnumpy()
                raw.execute("DELETE FROM indicators")
                raw.execute("INSERT INTO indicators SELECT * FROM rows")

            out["baseline_read_insert_s"] = round(best(baseline, 5), 4)
            out["compute_persist_ratio"] = round(out["compute_persist_rsi_s"]
                                                 / out["baseline_read_insert_s"], 2)
            raw.close()

        def full_history():
            assert len(ws.indicators.history(sid, SYM, "rsi_14")) == N

        def page():
            assert len(ws.indicators.history(sid, SYM, "rsi_14", limit=10_000,
                                             offset=140_000)) == 10_000

        out["history_full_s"] = round(best(full_history, 5), 4)
        out["history_page_ms"] = round(best(page, 9) * 1e3, 2)

        # update after NEW ticks, against a full recompute of the same session
        def full():
            ws.indicators.compute(sid, SYM, "rsi", timeperiod=14)

        times = []
        for k in range(5):
            ws.indicators.compute(sid, SYM, "rsi", timeperiod=14)
            ws.ingest(sid, SYM, everything.iloc[N + k * NEW:N + (k + 1) * NEW])
            t = time.perf_counter()
            res = ws.indicators.update(sid)
            times.append(time.perf_counter() - t)
            assert res.updated[0].mode == "tail"
        out["update_1000_s"] = round(min(times), 4)
        out["full_recompute_s"] = round(best(full, 5), 4)
        out["update_ratio"] = round(out["update_1000_s"] / out["full_recompute_s"], 4)
    finally:
        ws.delete_session(sid, force=True)
        ws.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="store URL (default: a temporary DuckDB file)")
    args = ap.parse_args()
    out: dict = {"python": sys.version.split()[0], "talib": talib.__version__,
                 "cpus": os.cpu_count()}
    out.update(bench_kernels())
    with tempfile.TemporaryDirectory() as d:
        out.update(bench_store(args.url or f"duckdb:///{d}/bench.duckdb", Path(d)))
    questdb = out.get("backend") == "questdb"
    targets = [(f"{n}_ratio", 3.0, f"{n.upper()} over {N:,} points / TA-Lib")
               for n in ("rsi", "ema", "macd", "bbands", "atr")]
    targets += [
        ("compute_persist_rsi_s", 2.0 if questdb else 0.5,
         f"compute + persist RSI(14), {N:,} ticks (s)"),
        ("history_full_s", 0.3, f"read the full history, {N:,} points (s)"),
        ("history_page_ms", 50, "read a 10,000-row page (ms)"),
        ("update_ratio", 0.05, f"update after {NEW:,} new ticks / full recompute"),
    ]
    print(f"{'measure':<55} {'value':>10} {'target':>8}")
    for key, target, label in targets:
        if key in out:
            flag = "ok" if out[key] <= target else "OVER"
            print(f"{label:<55} {out[key]:>10.4g} {target:>8} {flag}")
    for k, v in out.items():
        if k not in {t[0] for t in targets}:
            print(f"  {k}: {v}")
    RESULTS.mkdir(exist_ok=True)
    name = "indicators_questdb.json" if questdb else "indicators.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
