"""Deletes racing writers on QuestDB: the long run of the race in tests/concurrency.py.

A recorder (active session, the next day), two importers into one session and symbol (the
same timestamps: only the server-reserved seq tells their trades apart), an indicator
writer (new rows and upserts) and a session creator write one day, each in a process of
its own, while ``--deletes`` sessions of that day are deleted one after another; every
third delete runs in a child process killed at a random purge step and is then resumed.
Every acknowledged write is then checked row for row with plain SQL.

    python benchmarks/bench_concurrent_delete.py --url questdb://localhost --deletes 100

(``make bench`` runs it on a private server.) Prints the counts and writes
``results/concurrent_delete.json``; exits 1 if any row was lost, reverted, doubled or
orphaned, a session row went missing, or a read failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.concurrency is the harness

from tests.concurrency import run_race  # noqa: E402
from tests.questdb_support import unique_day  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("TSANALYSIS_TEST_QUESTDB"),
                    help="questdb:// URL of the server (default $TSANALYSIS_TEST_QUESTDB)")
    ap.add_argument("--deletes", type=int, default=100)
    ap.add_argument("--kill-every", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not args.url:
        ap.error("no server: give --url questdb://host (or run `make bench`)")
    with tempfile.TemporaryDirectory() as tmp:
        res = run_race(args.url, Path(tmp), unique_day(), deletes=args.deletes,
                       kill_every=args.kill_every, seed=args.seed)
    out = res.to_dict()
    out["ok"] = res.ok()
    print(json.dumps(out, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "concurrent_delete.json").write_text(json.dumps(out, indent=2))
    return 0 if res.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
