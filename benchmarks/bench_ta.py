"""Benchmark of the tsanalysis.ta functions against bare TA-Lib on the same arrays.

tsanalysis.ta calls TA-Lib itself (once per contiguous run of non-missing points), so
this measures what the package adds around the call: parameter checks, input coercion,
the NaN scan of the gap policy and the output wrapping. Times rsi, ema, macd, bbands and
atr (plus a few more) on 288,000 points and compares each with TA-Lib measured in the same
run (best of ``--repeat`` runs, the two interleaved; the machine is shared, so the best run
is the least disturbed one). The first call of each is reported separately (there is
nothing to compile: it is the first call's cost in this process).

    python benchmarks/bench_ta.py [--n 288000] [--repeat 30] [--json PATH]

Exit status 1 if an indicator is slower than ``--max-ratio`` (default 3) x TA-Lib.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

N_POINTS = 288_000


def best_pair(ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs of each, interleaved so both see the same load."""
    t_ours, t_theirs = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs()
        t_theirs.append(time.perf_counter() - t)
    return min(t_ours), min(t_theirs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=N_POINTS, help="number of points (default 288,000)")
    parser.add_argument("--repeat", type=int, default=30, help="repetitions, best one kept (default 30)")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="fail above this ratio to TA-Lib")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    import numpy as np
    import talib

    import tsanalysis.ta as ta

    rng = np.random.default_rng(42)
    n = args.n
    close = 30_000.0 + np.cumsum(rng.normal(scale=5.0, size=n))
    spread = rng.random(n) * 10.0
    high = close + spread * rng.random(n)
    low = close - spread * rng.random(n)
    volume = rng.random(n) * 5.0

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], bool]] = [
        ("rsi(14)", lambda: ta.rsi(close, 14), lambda: talib.RSI(close, 14), True),
        ("ema(30)", lambda: ta.ema(close, 30), lambda: talib.EMA(close, 30), True),
        ("macd(12,26,9)", lambda: ta.macd(close), lambda: talib.MACD(close), True),
        ("bbands(20,2,2)", lambda: ta.bbands(close), lambda: talib.BBANDS(close), True),
        ("atr(14)", lambda: ta.atr(high, low, close), lambda: talib.ATR(high, low, close), True),
        ("sma(30)", lambda: ta.sma(close), lambda: talib.SMA(close), False),
        ("adx(14)", lambda: ta.adx(high, low, close), lambda: talib.ADX(high, low, close), False),
        ("stoch(5,3,3)", lambda: ta.stoch(high, low, close), lambda: talib.STOCH(high, low, close), False),
        ("mfi(14)", lambda: ta.mfi(high, low, close, volume), lambda: talib.MFI(high, low, close, volume), False),
        ("kama(30)", lambda: ta.kama(close), lambda: talib.KAMA(close), False),
    ]

    rows = []
    for name, ours, theirs, required in cases:
        t0 = time.perf_counter()
        ours()  # the first call, outside the timings
        first_call = time.perf_counter() - t0
        theirs()
        t_ours, t_theirs = best_pair(ours, theirs, args.repeat)
        rows.append(
            {
                "indicator": name,
                "required": required,
                "first_call_s": first_call,
                "tsanalysis_ms": t_ours * 1e3,
                "talib_ms": t_theirs * 1e3,
                "ratio": t_ours / t_theirs,
            }
        )

    print(f"tsanalysis.ta vs TA-Lib {talib.__version__}: {n:,} points, best of {args.repeat}")
    print(f"{'indicator':<16}{'first call s':>14}{'tsanalysis ms':>15}{'TA-Lib ms':>11}{'ratio':>8}")
    failed = []
    for r in rows:
        mark = ""
        if r["required"] and r["ratio"] > args.max_ratio:
            failed.append(r["indicator"])
            mark = "  <-- over target"
        print(
            f"{r['indicator']:<16}{r['first_call_s']:>14.3f}{r['tsanalysis_ms']:>15.3f}"
            f"{r['talib_ms']:>11.3f}{r['ratio']:>7.2f}x{mark}"
        )
    print(f"target: rsi, ema, macd, bbands, atr within {args.max_ratio:g}x TA-Lib -> {'FAIL' if failed else 'ok'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"n": n, "repeat": args.repeat, "rows": rows}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
