"""Selective-delete benchmarks (issue 14), with same-run baselines.

* delete one indicator id (288,000 rows) from a session that stores 24 of them, its day
  partitions shared with two other sessions: under 0.3 s on DuckDB, under 5 s on QuestDB
  (``--url``); baselines: counting the same rows, and (DuckDB) a plain ``DELETE``;
* delete one hour of ticks from a 288,000-tick session: under 3 s on QuestDB.

Every delete is checked: the selected rows are gone, every other row is still there.
Run with ``make bench`` or ``python benchmarks/bench_selective_delete.py [--url URL]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench_core import report, tick_frame  # benchmarks/ is on the path when run as a script

import tsanalysis
from tsanalysis.timeutil import arrow_from_micros, micros

N = 288_000
SYM = "BTC/USDT"


def build(url: str, ids: int) -> tuple[str, list[str]]:
    """A session with ``ids`` indicator ids over 288,000 ticks, and two neighbours with
    ticks on the same days."""
    stamp = int(time.time() * 1000)
    frame = tick_frame(N)
    with tsanalysis.connect(url) as ws:
        sids = [f"bench-sel-{stamp}-{k}" for k in range(3)]
        for sid in sids:
            ws.sessions.create([SYM], sid, cadence_s=1.0)
            ws.ingest(sid, SYM, frame)
        main = sids[0]
        pts = ws.store.read_arrow("tick_prices", main, columns=["ts", "seq"])
        ts, seq = micros(pts.column("ts")), pts.column("seq").to_numpy()
        rng = np.random.default_rng(0)
        for k in range(ids):
            ws.store.write("indicators", pa.table({
                "session_id": pa.array([main] * N), "symbol": pa.array([SYM] * N),
                "indicator_id": pa.array([f"ind_{k}"] * N), "seq": pa.array(seq),
                "ts": arrow_from_micros(ts), "value": pa.array(rng.normal(size=N)),
                "confidence": pa.nulls(N, pa.float64())}))
        for sid in sids:
            ws.sessions.complete(sid)
    return main, sids[1:]


def measure(url: str, prefix: str, ids: int) -> dict:
    main, others = build(url, ids)
    with tsanalysis.connect(url) as ws:
        neighbours = {s: ws.store.count_rows(s) for s in others}
        before = ws.store.count_rows(main)
        t = time.perf_counter()
        n = ws.store.count("indicators", main, filters={"indicator_id": "ind_0"})
        count_s = time.perf_counter() - t
        t = time.perf_counter()
        res = ws.delete(main, indicator_ids=["ind_0"])
        one_id = time.perf_counter() - t
        assert res.total == n == N
        after = ws.store.count_rows(main)
        assert after["indicators"] == before["indicators"] - N
        assert after["tick_prices"] == before["tick_prices"]
        first = ws.store.read("tick_prices", main, columns=["ts"], limit=1)["ts"][0]
        lo, hi = first + np.timedelta64(2, "h"), first + np.timedelta64(3, "h")
        in_hour = ws.store.count("tick_prices", main, start=lo, end=hi)
        t = time.perf_counter()
        hour = ws.delete(main, tables=["tick_prices"], start=lo, end=hi)
        hour_s = time.perf_counter() - t
        assert hour.total == in_hour > 0
        assert {s: ws.store.count_rows(s) for s in others} == neighbours
        out = {f"{prefix}_one_indicator_id_s": one_id, f"{prefix}_count_baseline_s": count_s,
               f"{prefix}_one_hour_of_ticks_s": hour_s, f"{prefix}_rows_in_session":
               sum(before.values())}
        if prefix == "duckdb":
            # The same delete done by DuckDB alone, on a second indicator id.
            con = ws.store
            t = time.perf_counter()
            con.sql("DELETE FROM indicators WHERE session_id = ? AND indicator_id = ?",
                    [main, "ind_1"])
            out["duckdb_plain_delete_s"] = time.perf_counter() - t
        for sid in [main, *others]:
            ws.sessions.delete(sid)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="also measure on this QuestDB URL")
    ap.add_argument("--ids", type=int, default=24, help="indicator ids in the session")
    args = ap.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out.update(measure(f"duckdb:///{Path(tmp) / 'sel.duckdb'}", "duckdb", args.ids))
    targets = [("duckdb_one_indicator_id_s", 0.3,
                f"DuckDB: delete 1 of {args.ids} indicator ids, 288k rows (s)")]
    if args.url:
        out.update(measure(args.url, "questdb", args.ids))
        targets += [("questdb_one_indicator_id_s", 5.0,
                     f"QuestDB: delete 1 of {args.ids} indicator ids, 288k rows (s)"),
                    ("questdb_one_hour_of_ticks_s", 3.0,
                     "QuestDB: delete one hour of a 288k-tick session (s)")]
    report(out, targets, "selective_delete.json", value_format=".3f", extra_format=".3f")


if __name__ == "__main__":
    main()
