"""QuestDB benchmarks (issue 3): ingestion, reads, cascade delete.

Ratios are measured in the same run against the bare tools doing the same work, because
timings on a shared machine are noisy:

* ingest 288,000 ticks with ``ws.ingest`` (validation, numbering, ILP, waiting for the
  server to apply) vs the bare ``questdb`` client sending the same DataFrame (send + flush);
  target: at most 2x;
* read a 288,000-tick session into pandas by every path tried; target: ours at most 1 s;
* delete a session of 1.7 million rows (ticks and quotes over 4 days) that shares those days
  with two other sessions; target: under 10 s, the other sessions intact (counts and
  checksums over plain SQL);
* delete a 288,000-tick session (4 days shared with two others): the whole delete, and
  its two parts (hiding the rows by relabelling them; reclaiming their disk);
* what deleted rows cost until they are reclaimed: a neighbour's read of its day with
  1.7 million deleted rows still in the partitions vs after the purge, and disk size.

Run with ``make bench`` (a private server), or against a running one:
``python benchmarks/bench_questdb.py --url questdb://localhost`` (uses
``$TSANALYSIS_TEST_QUESTDB`` when no --url is given).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import urllib.parse
import urllib.request
import uuid

import numpy as np
import pandas as pd
import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from bench_core import N_TICKS, best, report, tick_frame  # benchmarks/ is on the path
from questdb import Sender

import tsanalysis
from tsanalysis import schema
from tsanalysis.store.questdb import QuestDBConfig, render_ddl

RAW_TABLE = "bench_raw_tick_prices"


def pg(cfg: QuestDBConfig) -> psycopg.Connection:
    return psycopg.connect(host=cfg.host, port=cfg.pg_port, user=cfg.user,
                           password=cfg.password, dbname=cfg.dbname, autocommit=True,
                           prepare_threshold=None)


def wait_applied(conn: psycopg.Connection, table: str) -> None:
    while True:
        w, s = conn.execute("SELECT writerTxn, sequencerTxn FROM wal_tables() WHERE name = %s",
                            (table,)).fetchone()
        if w >= s:
            return
        time.sleep(0.005)


def bench_ingest(ws, cfg: QuestDBConfig, conn: psycopg.Connection, repeat: int) -> dict:
    frame = tick_frame()
    # the same frame as ingestion makes it: typed, numbered, with the table's columns
    typed = frame.assign(session_id="x", symbol="BTC/USDT",
                         seq=np.arange(len(frame), dtype="int64"))
    typed = typed[[c for c in schema.TICK_PRICES.column_names if c in typed.columns]]
    conn.execute(render_ddl(schema.TICK_PRICES).replace('"tick_prices"', RAW_TABLE))
    sender_conf = f"http::addr={cfg.http_address};"

    def bare() -> None:
        df = typed.assign(session_id=uuid.uuid4().hex)  # new keys: nothing deduplicated
        with Sender.from_conf(sender_conf) as s:
            s.dataframe(df, table_name=RAW_TABLE, symbols=["session_id", "symbol"], at="ts")
            s.flush()

    def bare_applied() -> None:
        bare()
        wait_applied(conn, RAW_TABLE)

    def ours() -> None:
        sid = ws.sessions.create(["BTC/USDT"], f"bench-ingest-{uuid.uuid4().hex[:8]}",
                                status="completed").session_id
        res = ws.ingest(sid, "BTC/USDT", frame)
        assert res.rows_written == N_TICKS

    bare_s = best(bare, repeat)
    bare_applied_s = best(bare_applied, repeat)
    ours_s = best(ours, repeat)
    conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
    return {"ingest_288k_s": ours_s, "ingest_bare_client_s": bare_s,
            "ingest_bare_client_applied_s": bare_applied_s,
            "ingest_ratio": ours_s / bare_s,
            "ingest_rows_per_s": N_TICKS / ours_s}


def bench_read(ws, cfg: QuestDBConfig, conn: psycopg.Connection, repeat: int) -> dict:
    sid = ws.sessions.create(["BTC/USDT"], f"bench-read-{uuid.uuid4().hex[:8]}",
                            status="completed").session_id
    ws.ingest(sid, "BTC/USDT", tick_frame())
    cols = ", ".join(f'"{c}"' for c in schema.TICK_PRICES.column_names)
    sql = (f"SELECT {cols} FROM tick_prices WHERE session_id = '{sid}' "
           "ORDER BY symbol, ts, seq")
    http = f"http://{cfg.http_address}"

    def exp(**params: str) -> bytes:
        url = f"{http}/exp?" + urllib.parse.urlencode({"query": sql, **params})
        with urllib.request.urlopen(url) as r:
            return r.read()

    def check(df: pd.DataFrame) -> None:
        assert len(df) == N_TICKS, len(df)

    def psycopg_text() -> None:
        cur = conn.execute(sql)
        df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
        df["ts"] = pd.to_datetime(df["ts"]).dt.tz_localize("UTC")
        check(df)

    def psycopg_binary() -> None:
        with conn.cursor(binary=True) as cur:
            cur.execute(sql)
            df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
        df["ts"] = pd.to_datetime(df["ts"]).dt.tz_localize("UTC")
        check(df)

    def exp_csv() -> None:
        t = pacsv.read_csv(io.BytesIO(exp(fmt="csv")))
        check(t.to_pandas())

    def exp_parquet_lz4() -> None:
        check(pq.read_table(io.BytesIO(exp(fmt="parquet"))).to_pandas())

    def exp_parquet_raw() -> None:
        check(pq.read_table(io.BytesIO(
            exp(fmt="parquet", compression_codec="uncompressed"))).to_pandas())

    def ours() -> None:
        check(ws.ticks(sid))

    paths = {"psycopg_text": psycopg_text, "psycopg_binary": psycopg_binary,
             "exp_csv_pyarrow": exp_csv, "exp_parquet_lz4": exp_parquet_lz4,
             "exp_parquet_uncompressed": exp_parquet_raw, "ours_ws_ticks": ours}
    out = {f"read_{k}_s": best(f, repeat) for k, f in paths.items()}
    out["read_288k_s"] = out["read_ours_ws_ticks_s"]
    return out


def _frames(sid: str, days: pd.DatetimeIndex, per_day: int, seed: int
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = per_day * len(days)
    step = 86_400_000_000 // per_day
    offsets = np.arange(per_day, dtype="int64") * step + seed * 997  # distinct instants
    ts = np.concatenate([d.value // 1000 + offsets for d in days])
    ts = pd.to_datetime(ts, unit="us", utc=True)
    price = 100 + np.cumsum(rng.normal(0, 0.01, n))
    ticks = pd.DataFrame({"session_id": sid, "symbol": "BTC/USDT",
                          "seq": np.arange(n, dtype="int64"), "ts": ts, "price": price,
                          "volume": rng.uniform(0, 2, n)})
    quotes = pd.DataFrame({"session_id": sid, "symbol": "BTC/USDT",
                           "seq": np.arange(n, dtype="int64"), "ts": ts,
                           "bid_price": price - 0.01, "bid_size": 1.0,
                           "ask_price": price + 0.01, "ask_size": 1.0})
    return ticks, quotes


def _rows(cfg: QuestDBConfig, where: str) -> pd.DataFrame:
    """Every row of both tick tables matching ``where``, sorted (plain SQL over HTTP)."""
    out = []
    for t in ("tick_prices", "tick_orderbook"):
        q = f"SELECT * FROM {t} WHERE {where} ORDER BY session_id, ts, seq"
        url = f"http://{cfg.http_address}/exp?" + urllib.parse.urlencode(
            {"query": q, "fmt": "parquet", "compression_codec": "uncompressed"})
        with urllib.request.urlopen(url) as r:
            out.append(pq.read_table(io.BytesIO(r.read())).to_pandas().assign(table=t))
    return pd.concat(out, ignore_index=True)


def _three_sessions(ws, per_day_x: int, quotes: bool = True
                    ) -> tuple[pd.DatetimeIndex, str, str, str]:
    """A session to delete and two neighbours on four days of their own."""
    start = pd.Timestamp("2040-01-01T00:00:00Z") + pd.Timedelta(
        days=int(np.random.default_rng().integers(0, 3000)))
    days = pd.date_range(start, periods=4, freq="D")
    tag = uuid.uuid4().hex[:6]
    x, a, b = f"bench-del-{tag}", f"bench-keep1-{tag}", f"bench-keep2-{tag}"
    for sid, per_day, seed in ((x, per_day_x, 1), (a, 72_000, 2), (b, 36_000, 3)):
        ws.sessions.create(["BTC/USDT"], sid, status="completed")
        ticks, quote_rows = _frames(sid, days, per_day, seed)
        ws.store.write("tick_prices", ticks)
        if quotes:
            ws.store.write("tick_orderbook", quote_rows)
    return days, x, a, b


def bench_delete(ws, cfg: QuestDBConfig, conn: psycopg.Connection) -> dict:
    days, x, a, b = _three_sessions(ws, 212_500)
    before = ws.store.count_rows(x)
    span = (f"ts >= '{days[0].strftime('%Y-%m-%d')}' AND "
            f"ts < '{(days[-1] + pd.Timedelta(days=1)).strftime('%Y-%m-%d')}'")
    kept = _rows(cfg, f"{span} AND session_id != '{x}'")
    t = time.perf_counter()
    res = ws.sessions.delete(x)
    elapsed = time.perf_counter() - t
    left = {t.name: conn.execute(f"SELECT count(*) FROM {t.name} WHERE session_id = %s",
                                 (x,)).fetchone()[0] for t in schema.TABLES}
    assert sum(left.values()) == 0, left
    assert not res.deferred, res.deferred
    after = _rows(cfg, span)
    pd.testing.assert_frame_equal(after, kept)  # every other row, exactly
    for sid in (a, b):  # leave the server as it was
        ws.sessions.delete(sid)
    return {"delete_rows": res.total, "delete_rows_by_table": before, "delete_days": len(days),
            "delete_kept_rows": len(kept), "delete_s": elapsed, "delete_others_intact": True}


def _disk(conn: psycopg.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT sum(diskSize) FROM table_partitions('{table}')"
                            ).fetchone()[0] or 0)


def bench_delete_288k(ws, cfg: QuestDBConfig, conn: psycopg.Connection, repeat: int) -> dict:
    """A 288,000-tick session on 4 days shared with two others: delete as a user does it
    (hide, then reclaim), and the two parts on their own."""
    from tsanalysis.store.questdb.purge import Purger

    whole, hide, purge = [], [], []
    for _ in range(repeat):
        _, x, a, b = _three_sessions(ws, N_TICKS // 4, quotes=False)
        t = time.perf_counter()
        res = ws.sessions.delete(x)
        whole.append(time.perf_counter() - t)
        assert res.deleted["tick_prices"] == N_TICKS and not res.deferred
        _, x2, a2, b2 = _three_sessions(ws, N_TICKS // 4, quotes=False)
        t = time.perf_counter()
        Purger(ws.store).delete(x2, reclaim=False)
        hide.append(time.perf_counter() - t)
        t = time.perf_counter()
        ws.sessions.purge()
        purge.append(time.perf_counter() - t)
        for sid in (a, b, a2, b2):
            ws.sessions.delete(sid)
    return {"delete_288k_s": min(whole), "delete_288k_hide_s": min(hide),
            "delete_288k_reclaim_s": min(purge)}


def bench_hidden_rows(ws, cfg: QuestDBConfig, conn: psycopg.Connection, repeat: int) -> dict:
    """Reads of a neighbour while 1.7M deleted rows wait in its partitions, then after."""
    from tsanalysis.store.questdb.purge import Purger

    days, x, a, b = _three_sessions(ws, 212_500)
    disk_before = _disk(conn, "tick_prices") + _disk(conn, "tick_orderbook")

    def read_day() -> None:
        ws.store.read("tick_prices", a, start=days[1], end=days[2])

    clean = best(read_day, repeat)
    Purger(ws.store).delete(x, reclaim=False)
    with_dead = best(read_day, repeat)
    disk_hidden = _disk(conn, "tick_prices") + _disk(conn, "tick_orderbook")
    ws.sessions.purge()
    after = best(read_day, repeat)
    disk_after = _disk(conn, "tick_prices") + _disk(conn, "tick_orderbook")
    for sid in (a, b):
        ws.sessions.delete(sid)
    return {"read_day_72k_clean_s": clean, "read_day_72k_with_1_7m_hidden_s": with_dead,
            "read_day_72k_after_purge_s": after,
            "disk_tick_tables_before_delete_mb": disk_before / 1e6,
            "disk_tick_tables_rows_hidden_mb": disk_hidden / 1e6,
            "disk_tick_tables_after_purge_mb": disk_after / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("TSANALYSIS_TEST_QUESTDB"),
                    help="questdb:// URL of the server (default $TSANALYSIS_TEST_QUESTDB)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["ingest", "read", "delete", "delete288k", "hidden"])
    args = ap.parse_args()
    if not args.url:
        ap.error("no server: give --url questdb://host (or run `make bench`)")
    cfg = QuestDBConfig.from_url(args.url)
    ws = tsanalysis.connect(args.url)
    conn = pg(cfg)
    version = conn.execute("SELECT build()").fetchone()[0]
    out: dict = {"python": sys.version.split()[0], "questdb": version, "cpus": os.cpu_count()}
    if "ingest" not in args.skip:
        out.update(bench_ingest(ws, cfg, conn, args.repeat))
    if "read" not in args.skip:
        out.update(bench_read(ws, cfg, conn, args.repeat))
    if "delete" not in args.skip:
        out.update(bench_delete(ws, cfg, conn))
    if "delete288k" not in args.skip:
        out.update(bench_delete_288k(ws, cfg, conn, args.repeat))
    if "hidden" not in args.skip:
        out.update(bench_hidden_rows(ws, cfg, conn, args.repeat))
    conn.close()
    ws.close()
    targets = [
        ("ingest_ratio", 2.0, "ingest 288k ticks / bare questdb client (same frame)"),
        ("read_288k_s", 1.0, "read 288k ticks into pandas (s)"),
        ("delete_s", 10.0, "delete 1.7M rows over 4 shared days (s)"),
        ("delete_288k_s", 6.0, "delete 288k ticks over 4 shared days (s; 2x the old 3.0)"),
    ]
    report(out, targets, "questdb.json", extra_format=".3f")


if __name__ == "__main__":
    main()
