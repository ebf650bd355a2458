"""Measurements behind docs/questdb-notes.md (ingestion, reads, copy, drop).

    scripts/questdb start
    /work/venv/bin/python docs/questdb_bench.py [--pg-port 8812] [--http-port 9000] [--reps 5]

Creates and drops tables prefixed `bench_`. Prints median and best of --reps runs.
"""
import argparse
import io
import statistics
import time
import urllib.parse
import urllib.request

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from questdb import Sender

DDL = ("CREATE TABLE IF NOT EXISTS {t} (session_id SYMBOL, symbol SYMBOL, seq LONG, ts TIMESTAMP, "
       "price DOUBLE, volume DOUBLE) TIMESTAMP(ts) PARTITION BY DAY WAL "
       "DEDUP UPSERT KEYS(ts, session_id, symbol, seq)")
N = 288_000


def frame(n=N, session="s1", start="2026-01-01", seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "session_id": session, "symbol": rng.choice(["AAA", "BBB", "CCC", "DDD"], n),
        "seq": np.arange(n, dtype="int64"),
        "ts": pd.date_range(start, periods=n, freq="300ms", tz="UTC").as_unit("us"),
        "price": rng.normal(100, 1, n), "volume": rng.integers(1, 1000, n).astype("float64")})


def wait_applied(conn, table, timeout=60):
    t0 = time.monotonic()
    while True:
        row = conn.execute("SELECT suspended, writerTxn, sequencerTxn FROM wal_tables() WHERE name = %s",
                           (table,)).fetchone()
        if row[0]:
            raise RuntimeError(f"{table} suspended")
        if row[1] >= row[2]:
            return
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(table)
        time.sleep(0.005)


def report(label, times, rows=None):
    med, best = statistics.median(times), min(times)
    rate = f", {rows / med / 1e3:,.0f} k rows/s (median)" if rows else ""
    print(f"{label:55s} median {med * 1000:7.0f} ms  best {best * 1000:7.0f} ms{rate}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-port", type=int, default=8812)
    ap.add_argument("--http-port", type=int, default=9000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    conn = psycopg.connect(f"host=127.0.0.1 port={a.pg_port} user=admin password=quest dbname=qdb",
                           autocommit=True, prepare_threshold=None)
    http = f"http://127.0.0.1:{a.http_port}"
    df = frame()
    print(f"QuestDB: {conn.execute('SELECT build()').fetchone()[0]}")
    print(f"frame: {len(df):,} rows, dtypes {dict((k, str(v)) for k, v in df.dtypes.items())}")

    # --- ingestion -------------------------------------------------------------------
    for conf, label in (("", "ILP/HTTP dataframe(), default auto-flush"),
                        ("auto_flush=off;", "ILP/HTTP dataframe(), auto_flush=off + flush()")):
        t_send, t_vis = [], []
        for _ in range(a.reps):
            conn.execute("DROP TABLE IF EXISTS bench_ingest")
            conn.execute(DDL.format(t="bench_ingest"))
            t0 = time.perf_counter()
            with Sender.from_conf(f"http::addr=127.0.0.1:{a.http_port};{conf}") as s:
                s.dataframe(df, table_name="bench_ingest", symbols=["session_id", "symbol"], at="ts")
                s.flush()
            t_send.append(time.perf_counter() - t0)
            wait_applied(conn, "bench_ingest")
            t_vis.append(time.perf_counter() - t0)
            assert conn.execute("SELECT count() FROM bench_ingest").fetchone()[0] == N
        report(label + ": flushed", t_send, N)
        report(label + ": readable (WAL applied)", t_vis, N)

    # --- reads -----------------------------------------------------------------------
    sql = "SELECT session_id, symbol, seq, ts, price, volume FROM bench_ingest"

    def pg(binary):
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql)
            rows = cur.fetchall()
            cols = [d.name for d in cur.description]
        out = pd.DataFrame(rows, columns=cols)
        out["ts"] = pd.to_datetime(out["ts"]).dt.tz_localize("UTC")
        return out

    def get(params):
        with urllib.request.urlopen(f"{http}/exp?" + urllib.parse.urlencode(params)) as r:
            return r.read()

    def csv_arrow():
        b = get({"query": sql})
        return pacsv.read_csv(pa.BufferReader(b), convert_options=pacsv.ConvertOptions(
            column_types={"ts": pa.timestamp("us", tz="UTC")})).to_pandas()

    def csv_pandas():
        out = pd.read_csv(io.BytesIO(get({"query": sql})), engine="pyarrow")
        out["ts"] = pd.to_datetime(out["ts"], utc=True)
        return out

    def parquet(codec=None):
        params = {"query": sql, "fmt": "parquet"}
        if codec:
            params["compression_codec"] = codec
        return pq.read_table(pa.BufferReader(get(params))).to_pandas()

    for label, fn in (("psycopg text cursor -> DataFrame", lambda: pg(False)),
                      ("psycopg binary cursor -> DataFrame", lambda: pg(True)),
                      ("HTTP /exp CSV -> pyarrow.csv", csv_arrow),
                      ("HTTP /exp CSV -> pandas.read_csv(engine=pyarrow)", csv_pandas),
                      ("HTTP /exp fmt=parquet (default lz4_raw) -> pyarrow", parquet),
                      ("HTTP /exp fmt=parquet compression_codec=uncompressed", lambda: parquet("uncompressed"))):
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        assert len(out) == N and str(out["ts"].dtype).startswith("datetime64")
        report("read " + label, times, N)

    # --- copy and drop ---------------------------------------------------------------
    conn.execute("DROP TABLE IF EXISTS bench_src")
    conn.execute(DDL.format(t="bench_src"))
    with Sender.from_conf(f"http::addr=127.0.0.1:{a.http_port};") as s:
        for i, (sess, start) in enumerate((("A", "2026-01-01"), ("B", "2026-01-01T12:00:00"))):
            s.dataframe(frame(300_000, sess, start, i), table_name="bench_src",
                        symbols=["session_id", "symbol"], at="ts")
    wait_applied(conn, "bench_src")
    total = conn.execute("SELECT count() FROM bench_src").fetchone()[0]
    t_copy, t_drop_issue, t_drop_applied = [], [], []
    for _ in range(a.reps):
        conn.execute("DROP TABLE IF EXISTS bench_dst")
        conn.execute(DDL.format(t="bench_dst"))
        t0 = time.perf_counter()
        conn.execute("INSERT INTO bench_dst SELECT * FROM bench_src")
        wait_applied(conn, "bench_dst")
        t_copy.append(time.perf_counter() - t0)
        rows_day = conn.execute("SELECT count() FROM bench_dst WHERE ts IN '2026-01-01'").fetchone()[0]
        t0 = time.perf_counter()
        conn.execute("ALTER TABLE bench_dst DROP PARTITION LIST '2026-01-01'")
        t_drop_issue.append(time.perf_counter() - t0)
        wait_applied(conn, "bench_dst")
        t_drop_applied.append(time.perf_counter() - t0)
        assert conn.execute("SELECT count() FROM bench_dst").fetchone()[0] == total - rows_day
    report(f"INSERT INTO dst SELECT * FROM src ({total:,} rows), until applied", t_copy, total)
    report(f"DROP PARTITION ({rows_day:,}-row day): statement returns", t_drop_issue)
    report("DROP PARTITION: until applied", t_drop_applied)
    for t in ("bench_ingest", "bench_src", "bench_dst"):
        conn.execute(f"DROP TABLE IF EXISTS {t}")


if __name__ == "__main__":
    main()
