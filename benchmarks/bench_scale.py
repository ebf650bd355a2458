"""Scale benchmark (issue 15): an N-tick session of one symbol through every feature.

The session (ticks at 10 Hz with a 15-minute gap every two hours, and a second small session
on the same days) is written to a Parquet and a CSV file in bounded chunks, then each phase
runs in its own child process, which reports its wall time and its peak resident memory
(``ru_maxrss``), next to the plain engine doing the comparable work in the same run:

===================  ==========================================  ===========================
phase                ours                                        baseline (DuckDB | QuestDB)
===================  ==========================================  ===========================
ingest_parquet/csv   ``ws.import_file``                          ``CREATE TABLE AS SELECT *
                                                                 FROM read_parquet/read_csv``
                                                                 | the bare ``questdb``
                                                                 client sending the file in
                                                                 batches (until applied)
quality              ``ws.quality.run`` (whole session)          one windowed scan for gaps
                                                                 and bad prices | reading
                                                                 those columns (``/exp``)
rsi/macd_ticks/1m    ``ws.indicators.compute`` (stored)          read the prices (bars built
                                                                 by SQL), TA-Lib, insert
                                                                 the rows
read_hour/day        ``ws.ticks(start=, end=)``                  the same SELECT, to Arrow
overview             the PriceOverview panel's figure            1m bars by SQL
export_parquet/csv   ``ws.export.run``                           ``COPY (SELECT .. ORDER
                                                                 BY ..) TO`` | ``/exp``
update_1000          ``ws.indicators.update`` after 1,000 ticks  recomputing what is stored
delete               ``ws.sessions.delete``                      ``DELETE`` on a copy of the
                                                                 file | none (the neighbour
                                                                 session is checked
                                                                 byte-identical)
delete_alone         ``ws.sessions.delete`` of an N-tick session none (on QuestDB its days
(only when named)    alone in its days (ingested first, untimed) are dropped, not rewritten)
===================  ==========================================  ===========================

Peak RSS is the client's: on QuestDB the server's memory is not in it. Timings on a shared
machine vary (about 40 %); ratios less, which is why each baseline runs in the same run.

    python benchmarks/bench_scale.py --rows 10000000 --backend duckdb
    scripts/with-questdb python benchmarks/bench_scale.py --rows 2000000 --backend questdb

Figures go to ``benchmarks/results/scale_<backend>_<rows>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from bench_core import RESULTS  # benchmarks/ is on the path when run as a script

SYM = "BTC/USDT"
STEP_US = 100_000  # 10 Hz
GAP_EVERY = 72_000  # ticks (two hours)
GAP_US = 15 * 60 * 1_000_000
T0_US = 1_767_571_200_000_000  # 2026-01-05T00:00Z
CHUNK = 1_000_000
NEIGHBOUR_STEP_US = 30_000_000
NEW_TICKS = 1_000
#: Above this many ticks the update's baseline (recomputing every stored indicator, an
#: upsert of 4 rows per tick) is not run: at 100M it rewrites 400M rows for a figure the
#: goals do not use (they compare the update at 100M with the update at 288,000 ticks).
RECOMPUTE_MAX_ROWS = 10_000_000
ALONE_SHIFT_US = 400 * 86_400_000_000  # the session of delete_alone: 400 days later
INDICATORS = (("rsi_ticks", "rsi", None), ("macd_ticks", "macd", None),
              ("rsi_1m", "rsi", "1m"), ("macd_1m", "macd", "1m"))


# -- the source files ---------------------------------------------------------------------

def tick_times(lo: int, n: int) -> np.ndarray:
    """Timestamps (us) of ticks lo..lo+n: 10 Hz with a 15-minute gap every two hours."""
    k = np.arange(lo, lo + n, dtype=np.int64)
    return T0_US + k * STEP_US + (k // GAP_EVERY) * GAP_US


def chunk_table(lo: int, n: int, rng: np.random.Generator, level: float) -> pa.Table:
    walk = level * np.exp(np.cumsum(rng.normal(0, 2e-5, n)))
    return pa.table({
        "ts": pa.array(tick_times(lo, n), pa.timestamp("us", tz="UTC")),
        "price": np.round(walk, 4),
        "volume": np.round(rng.lognormal(0, 0.9, n), 6),
    })


def write_sources(tmp: Path, rows: int, keep: Path | None = None) -> dict:
    """ticks.parquet and ticks.csv, written in chunks of CHUNK rows; new.parquet: 1,000
    ticks after the last. With ``keep``, they are written there once and linked into
    ``tmp`` (the files are the same for the same ``rows``: a fixed seed)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        names = ("ticks.parquet", "ticks.csv", "new.parquet")
        done = keep / f"sources_{rows}.json"
        if not done.exists():
            for name in names:
                (keep / name).unlink(missing_ok=True)
            done.write_text(json.dumps(write_sources(keep, rows)))
        for name in names:
            try:
                os.link(keep / name, tmp / name)
            except OSError:  # another file system
                os.symlink((keep / name).resolve(), tmp / name)
        return {**json.loads(done.read_text()), "reused_from": str(keep)}
    rng = np.random.default_rng(15)
    level = 100.0
    schema = chunk_table(0, 1, np.random.default_rng(0), 1.0).schema
    t = time.perf_counter()
    with pq.ParquetWriter(tmp / "ticks.parquet", schema, compression="snappy") as pw, \
            pacsv.CSVWriter(tmp / "ticks.csv", schema) as cw:
        for lo in range(0, rows, CHUNK):
            part = chunk_table(lo, min(CHUNK, rows - lo), rng, level)
            level = float(part.column("price")[-1].as_py())
            pw.write_table(part)
            cw.write_table(part)
    pq.write_table(chunk_table(rows, NEW_TICKS, rng, level), tmp / "new.parquet")
    end_us = int(tick_times(rows - 1, 1)[0])
    return {"sources_s": time.perf_counter() - t, "first_us": T0_US, "last_us": end_us,
            "parquet_mb": (tmp / "ticks.parquet").stat().st_size / 1e6,
            "csv_mb": (tmp / "ticks.csv").stat().st_size / 1e6}


# -- the child processes ------------------------------------------------------------------

def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn) -> dict:
    t = time.perf_counter()
    extra = fn() or {}
    return {"s": time.perf_counter() - t, "rss_mb": _peak_mb(), **extra}


def _ws(cfg: dict):
    import tsanalysis

    return tsanalysis.connect(cfg["url"])


def _qdb(cfg: dict):
    from tsanalysis.store.questdb import QuestDBConfig

    return QuestDBConfig.from_url(cfg["url"])


def _exp(cfg: dict, query: str, fmt: str, out: Path | None = None) -> bytes | int:
    """The server's own export of a query (to a file when ``out``: returns the bytes)."""
    url = f"http://{_qdb(cfg).http_address}/exp?" + urllib.parse.urlencode(
        {"query": query, "fmt": fmt})
    with urllib.request.urlopen(url) as r:
        if out is None:
            return r.read()
        with open(out, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
        return out.stat().st_size


def _raw_duckdb(path: str):
    import duckdb

    con = duckdb.connect(path)
    con.execute("SET TimeZone = 'UTC'")
    return con


def _ts_sql(us: int) -> str:
    import pandas as pd

    return pd.Timestamp(us, unit="us").strftime("%Y-%m-%dT%H:%M:%S.%f")


def child(phase: str, cfg: dict) -> dict:  # noqa: C901 - one branch per phase, on purpose
    tmp, sid, nb = Path(cfg["tmp"]), cfg["sid"], cfg["neighbour"]
    questdb = cfg["backend"] == "questdb"
    if phase == "setup":
        ws = _ws(cfg)
        for s, cad in ((sid, 0.1), (nb, 30.0), (cfg["csv_sid"], 0.1)):
            ws.sessions.create([SYM], s, cadence_s=cad, status="completed")
        n = (cfg["last_us"] - T0_US) // NEIGHBOUR_STEP_US + 1
        ts = T0_US + np.arange(n, dtype=np.int64) * NEIGHBOUR_STEP_US + 7
        ws.ingest(nb, SYM, pa.table({"ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                                     "price": 50 + np.sin(np.arange(n) / 50),
                                     "volume": np.ones(n)}))
        ws.close()
        return {"neighbour_rows": int(n)}
    if phase in ("ingest_parquet", "ingest_csv"):
        fmt = phase.split("_")[1]
        ws = _ws(cfg)
        target = sid if fmt == "parquet" else cfg["csv_sid"]
        out = _timed(lambda: {"rows": ws.import_file(target, tmp / f"ticks.{fmt}", SYM
                                                     ).rows_written})
        ws.close()
        return out
    if phase in ("ingest_parquet_base", "ingest_csv_base"):
        fmt = phase.split("_")[1]
        src = tmp / f"ticks.{fmt}"
        if not questdb:
            con = _raw_duckdb(str(tmp / f"base_{fmt}.duckdb"))
            reader = "read_parquet" if fmt == "parquet" else "read_csv"
            out = _timed(lambda: con.execute(
                f"CREATE TABLE t AS SELECT * FROM {reader}('{src}')").fetchall() and None)
            out["rows"] = con.execute("SELECT count(*) FROM t").fetchone()[0]
            con.close()
            return out
        return _questdb_send(cfg, src, fmt)
    if phase == "delete_csv_session":
        ws = _ws(cfg)
        out = _timed(lambda: {"rows": ws.sessions.delete(cfg["csv_sid"]).total})
        ws.close()
        return out
    if phase == "quality":
        ws = _ws(cfg)
        out = _timed(lambda: {"score": ws.quality.run(sid).score})
        ws.close()
        return out
    if phase == "quality_base":
        cols = "ts, seq, price, volume"
        where = f"session_id = '{sid}' AND symbol = '{SYM}'"
        if questdb:
            return _timed(lambda: {"bytes": len(_exp(
                cfg, f"SELECT {cols} FROM tick_prices WHERE {where}", "parquet"))})
        con = _raw_duckdb(cfg["db"])
        out = _timed(lambda: {"found": con.execute(
            "SELECT count(*) FILTER (WHERE step > INTERVAL 60 SECOND), "
            "count(*) FILTER (WHERE price IS NULL OR price <= 0 OR volume < 0) FROM ("
            f"SELECT price, volume, ts - lag(ts) OVER (ORDER BY ts, seq) AS step "
            f"FROM tick_prices WHERE {where})").fetchall()[0]})
        con.close()
        return out
    for name, ind, interval in INDICATORS:
        if phase == name:
            ws = _ws(cfg)
            out = _timed(lambda ws=ws, ind=ind, interval=interval: {"rows": ws.indicators.compute(
                sid, SYM, ind, interval=interval).written})
            ws.close()
            return out
        if phase == name + "_base":
            return _indicator_base(cfg, ind, interval)
    if phase in ("read_hour", "read_day", "read_hour_base", "read_day_base"):
        span = 3_600_000_000 if phase.startswith("read_hour") else 86_400_000_000
        mid = T0_US + (cfg["last_us"] - T0_US) // 2
        lo, hi = mid - span // 2, mid + span // 2
        if phase.endswith("_base"):
            where = (f"session_id = '{sid}' AND symbol = '{SYM}' AND ts >= '{_ts_sql(lo)}' "
                     f"AND ts < '{_ts_sql(hi)}'")
            sql = f"SELECT * FROM tick_prices WHERE {where} ORDER BY ts, seq"
            if questdb:
                run = lambda: {"rows": pq.read_table(pa.BufferReader(  # noqa: E731
                    _exp(cfg, sql, "parquet"))).num_rows}
            else:
                con = _raw_duckdb(cfg["db"])
                run = lambda: {"rows": con.execute(sql).to_arrow_table().num_rows}  # noqa: E731
        else:
            import pandas as pd

            ws = _ws(cfg)
            a, b = pd.Timestamp(lo, unit="us", tz="UTC"), pd.Timestamp(hi, unit="us", tz="UTC")
            run = lambda: {"rows": len(ws.ticks(sid, SYM, start=a, end=b))}  # noqa: E731
        first = _timed(run)
        best = min((_timed(run) for _ in range(3)), key=lambda r: r["s"])
        return {**best, "first_s": first["s"], "rss_mb": _peak_mb()}
    if phase == "overview":
        from tsanalysis.widgets import PriceOverview

        ws = _ws(cfg)

        def draw() -> dict:
            panel = PriceOverview(ws, sid, background=False)
            assert panel.figure is not None and panel.series
            return {"kind": panel.series[0].kind, "points": panel.series[0].points}

        out = _timed(draw)
        ws.close()
        return out
    if phase == "overview_base":
        if questdb:
            sql = (f"SELECT ts, first(price), max(price), min(price), last(price) FROM "
                   f"tick_prices WHERE session_id = '{sid}' AND symbol = '{SYM}' "
                   "SAMPLE BY 1m ALIGN TO CALENDAR")
            return _timed(lambda: {"bytes": len(_exp(cfg, sql, "parquet"))})
        con = _raw_duckdb(cfg["db"])
        out = _timed(lambda: {"points": con.execute(
            "SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS b, arg_min(price, ts), max(price), "
            f"min(price), arg_max(price, ts) FROM tick_prices WHERE session_id = '{sid}' "
            f"AND symbol = '{SYM}' GROUP BY b ORDER BY b").to_arrow_table().num_rows})
        con.close()
        return out
    if phase in ("export_parquet", "export_csv"):
        fmt = phase.split("_")[1]
        ws = _ws(cfg)
        target = tmp / f"ours.{fmt}"
        out = _timed(lambda: {"rows": ws.export.run(sid, fmt, target, overwrite=True).rows})
        out["bytes"] = target.stat().st_size
        target.unlink()
        ws.close()
        return out
    if phase in ("export_parquet_base", "export_csv_base"):
        fmt = phase.split("_")[1]
        target = tmp / f"base.{fmt}"
        sql = (f"SELECT * FROM tick_prices WHERE session_id = '{sid}' AND symbol = '{SYM}' "
               "ORDER BY ts, seq")
        if questdb:
            out = _timed(lambda: {"bytes": _exp(cfg, sql, fmt, target)})
        else:
            con = _raw_duckdb(cfg["db"])
            opts = "(FORMAT parquet, COMPRESSION snappy)" if fmt == "parquet" else \
                "(FORMAT csv, HEADER true)"
            out = _timed(lambda: con.execute(f"COPY ({sql}) TO '{target}' {opts}").fetchall()
                         and None)
            out["bytes"] = target.stat().st_size
            con.close()
        target.unlink()
        return out
    if phase == "update_1000":
        ws = _ws(cfg)
        new = pq.read_table(tmp / "new.parquet")
        ws.ingest(sid, SYM, new)

        def upd() -> dict:
            res = ws.indicators.update(sid)
            return {"modes": sorted({u.mode for u in res.updated}), "rows": res.rows}

        out = _timed(upd)  # the first call of a process: what a command line run costs
        # then as from a notebook (modules loaded, the store open): best of three updates,
        # each after 1,000 more ticks (the same ones, moved on in time)
        ts = new.column("ts")
        span = pc.subtract(pc.max(ts), pc.min(ts)).as_py() + datetime.timedelta(milliseconds=100)
        warm = []
        for k in range(1, 4):
            shifted = new.set_column(new.schema.get_field_index("ts"), "ts",
                                     pc.add(ts, pa.scalar(k * span, pa.duration("us"))))
            ws.ingest(sid, SYM, shifted)
            t = time.perf_counter()
            upd()
            warm.append(time.perf_counter() - t)
        out["warm_s"] = min(warm)
        ws.close()
        return out
    if phase == "update_1000_base":  # recompute every stored indicator (replacing rows)
        ws = _ws(cfg)
        out = _timed(lambda: {"rows": sum(ws.indicators.compute(
            sid, SYM, ind, interval=iv).written for _, ind, iv in INDICATORS)})
        ws.close()
        return out
    if phase == "delete":
        ws = _ws(cfg)
        before = _neighbour_digest(cfg, ws)
        out = _timed(lambda: {"rows": ws.sessions.delete(sid).total})
        out["neighbour_identical"] = _neighbour_digest(cfg, ws) == before
        ws.close()
        return out
    if phase == "delete_alone":
        ws = _ws(cfg)
        alone = cfg["sid"].replace("scale-", "scale-alone-")
        ws.sessions.create([SYM], alone, cadence_s=0.1, status="completed")
        for b in pq.ParquetFile(tmp / "ticks.parquet").iter_batches(batch_size=CHUNK):
            us = b.column(0).cast(pa.int64()).to_numpy() + ALONE_SHIFT_US
            ws.ingest(alone, SYM, pa.table({"ts": pa.array(us, pa.timestamp("us", tz="UTC")),
                                            "price": b.column(1), "volume": b.column(2)}))

        def delete() -> dict:
            res = ws.sessions.delete(alone)
            return {"rows": res.total, "dropped": len(getattr(res, "dropped", []))}

        out = _timed(delete)
        ws.close()
        return out
    if phase == "delete_base":
        if questdb:
            return {}
        from tsanalysis import schema

        con = _raw_duckdb(str(tmp / "copy.duckdb"))
        tables = [t.name for t in schema.CHILD_TABLES]

        def delete() -> dict:
            con.execute("BEGIN")
            n = sum(con.execute(f'DELETE FROM "{t}" WHERE session_id = ?', [sid]).fetchone()[0]
                    for t in tables)
            con.execute(f'DELETE FROM "{schema.SESSIONS.name}" WHERE session_id = ?', [sid])
            con.execute("COMMIT")
            return {"rows": n}

        out = _timed(delete)
        con.close()
        return out
    raise SystemExit(f"unknown phase {phase}")


def _questdb_send(cfg: dict, src: Path, fmt: str) -> dict:
    """The bare client sending the file in batches to a table of its own, until applied."""
    import psycopg
    from bench_questdb import pg, wait_applied
    from questdb.ingress import Sender

    from tsanalysis import schema
    from tsanalysis.store.questdb import render_ddl

    qcfg = _qdb(cfg)
    raw = f"bench_scale_raw_{fmt}"
    conn: psycopg.Connection = pg(qcfg)
    conn.execute(f"DROP TABLE IF EXISTS {raw}")
    conn.execute(render_ddl(schema.TICK_PRICES).replace('"tick_prices"', raw))
    batches = (pq.ParquetFile(src).iter_batches(batch_size=500_000) if fmt == "parquet"
               else pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=32 << 20)))

    def send() -> dict:
        rows = 0
        with Sender.from_conf(f"http::addr={qcfg.http_address};") as s:
            for b in batches:
                df = b.to_pandas()
                df.insert(0, "seq", np.arange(rows, rows + len(df), dtype=np.int64))
                df.insert(0, "symbol", SYM)
                df.insert(0, "session_id", "raw")
                s.dataframe(df, table_name=raw, symbols=["session_id", "symbol"], at="ts")
                s.flush()
                rows += len(df)
        wait_applied(conn, raw)
        return {"rows": rows}

    out = _timed(send)
    conn.execute(f"DROP TABLE IF EXISTS {raw}")
    conn.close()
    return out


def _indicator_base(cfg: dict, ind: str, interval: str | None) -> dict:
    """Read the prices (1m bars built by SQL), TA-Lib, insert the rows (each output)."""
    import talib

    from tsanalysis import schema

    sid = cfg["sid"]
    where = f"session_id = '{sid}' AND symbol = '{SYM}'"
    if interval is None:
        sql = f"SELECT ts, seq, price FROM tick_prices WHERE {where} ORDER BY ts, seq"
    elif cfg["backend"] == "questdb":
        sql = (f"SELECT ts, last(price) AS price FROM tick_prices WHERE {where} "
               "SAMPLE BY 1m ALIGN TO CALENDAR")
    else:
        sql = ("SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS ts, arg_max(price, ts) AS price "
               f"FROM tick_prices WHERE {where} GROUP BY 1 ORDER BY 1")
    questdb = cfg["backend"] == "questdb"
    if questdb:
        from bench_questdb import pg, wait_applied
        from questdb.ingress import Sender

        from tsanalysis.store.questdb import render_ddl

        conn = pg(_qdb(cfg))
        target = "bench_scale_raw_ind"
        conn.execute(f"DROP TABLE IF EXISTS {target}")
        conn.execute(render_ddl(schema.INDICATORS).replace('"indicators"', target))
    else:
        from tsanalysis.store.duckdb import render_ddl

        con = _raw_duckdb(cfg["db"])
        target = "bench_scale_raw_ind"
        con.execute(f"DROP TABLE IF EXISTS {target}")
        con.execute(render_ddl(schema.INDICATORS).replace('"indicators"', target))

    def run() -> dict:
        t = (pq.read_table(pa.BufferReader(_exp(cfg, sql, "parquet"))) if questdb
             else con.execute(sql).to_arrow_table())
        close = t.column("price").to_numpy().astype(np.float64)
        outs = talib.RSI(close, 14) if ind == "rsi" else talib.MACD(close, 12, 26, 9)
        outs = outs if isinstance(outs, tuple) else (outs,)
        n = t.num_rows
        seq = (t.column("seq") if "seq" in t.column_names
               else pa.array(np.arange(n, dtype=np.int64)))
        rows = pa.concat_tables([pa.table({
            "session_id": pa.array(["raw"] * n), "symbol": pa.array([SYM] * n),
            "indicator_id": pa.array([f"{ind}_{k}"] * n), "seq": seq,
            "ts": t.column("ts").cast(pa.timestamp("us", tz="UTC")),
            "value": pa.array(v, mask=np.isnan(v)), "confidence": pa.nulls(n, pa.float64()),
        }) for k, v in enumerate(outs)])
        if questdb:
            with Sender.from_conf(f"http::addr={_qdb(cfg).http_address};") as s:
                s.dataframe(rows.to_pandas(), table_name=target,
                            symbols=["session_id", "symbol", "indicator_id"], at="ts")
                s.flush()
            wait_applied(conn, target)
        else:
            con.register("rows", rows)
            con.execute(f"INSERT INTO {target} SELECT * FROM rows")
        return {"rows": rows.num_rows}

    out = _timed(run)
    if questdb:
        conn.execute(f"DROP TABLE IF EXISTS {target}")
        conn.close()
    else:
        con.execute(f"DROP TABLE IF EXISTS {target}")
        con.close()
    return out


def _neighbour_digest(cfg: dict, ws) -> str:
    """A digest of every row of the neighbour session, as the engine writes them out."""
    from tsanalysis import schema

    h = hashlib.sha256()
    for t in schema.CHILD_TABLES:
        order = ", ".join(c for c in ("symbol", "ts", "seq", "indicator_id")
                          if c in t.column_names)
        sql = f"SELECT * FROM {t.name} WHERE session_id = '{cfg['neighbour']}' ORDER BY {order}"
        if cfg["backend"] == "questdb":
            h.update(_exp(cfg, sql, "csv"))
        else:
            h.update(ws.store.sql(sql).to_csv(index=False).encode())
    return h.hexdigest()


# -- the parent ---------------------------------------------------------------------------

def run_child(phase: str, cfg_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    p = subprocess.run([sys.executable, __file__, "--child", phase, str(cfg_path)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


#: (phase, its baseline or None, rows the phase handles: "n" ticks, "bars", "new")
PHASES = [
    ("ingest_parquet", "ingest_parquet_base", "n"),
    ("ingest_csv", "ingest_csv_base", "n"),
    ("quality", "quality_base", "n"),
    *[(name, name + "_base", "bars" if iv else "n") for name, _, iv in INDICATORS],
    ("read_hour", "read_hour_base", None),
    ("read_day", "read_day_base", None),
    ("overview", "overview_base", "n"),
    ("export_parquet", "export_parquet_base", "n"),
    ("export_csv", "export_csv_base", "n"),
    ("update_1000", "update_1000_base", "new"),
    ("delete", "delete_base", None),
    ("delete_alone", None, None),
]
#: Phases that run only when named in --phases (they ingest N more rows first).
OPT_IN = {"delete_alone"}


def _at_least_a_thousand(text: str) -> int:
    """--rows: an integer of at least 1,000 (the update phase adds 1,000 ticks to it)."""
    try:
        n = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}") from None
    if n < 1_000:
        raise argparse.ArgumentTypeError(f"at least 1,000 rows, not {n:,}")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=_at_least_a_thousand, default=1_000_000,
                    help="ticks in the session (at least 1,000)")
    ap.add_argument("--backend", choices=["duckdb", "questdb"], default="duckdb")
    ap.add_argument("--url", help="questdb:// URL (default $TSANALYSIS_TEST_QUESTDB)")
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    ap.add_argument("--sources", help="keep the generated source files in this directory "
                    "and reuse them in later runs with the same --rows (they take minutes "
                    "to write at 100M rows)")
    ap.add_argument("--phases", nargs="*", help="only these phases (setup and ingest_parquet "
                    "always run)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    unknown = sorted(set(args.phases or ()) - {p[0] for p in PHASES})
    if unknown:
        ap.error(f"unknown phase {unknown[0]!r}; the phases: "
                 + " ".join(p[0] for p in PHASES))
    if args.child:
        print(json.dumps(child(args.child[0], json.loads(Path(args.child[1]).read_text())),
                         default=str))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        run(args, Path(d))


def run(args: argparse.Namespace, tmp: Path) -> None:
    import duckdb

    tag = uuid.uuid4().hex[:6]
    cfg: dict = {"backend": args.backend, "tmp": str(tmp), "rows": args.rows,
                 "sid": f"scale-{tag}", "neighbour": f"scale-nb-{tag}",
                 "csv_sid": f"scale-csv-{tag}"}
    if args.backend == "questdb":
        cfg["url"] = args.url or os.environ.get("TSANALYSIS_TEST_QUESTDB")
        if not cfg["url"]:
            raise SystemExit("no server: give --url questdb://host (or use scripts/with-questdb)")
    else:
        cfg["db"] = str(tmp / "scale.duckdb")
        cfg["url"] = f"duckdb:///{cfg['db']}"
    out: dict = {"rows": args.rows, "backend": args.backend, "python": sys.version.split()[0],
                 "duckdb": duckdb.__version__, "cpus": os.cpu_count(),
                 "load_avg_start": os.getloadavg()}
    print(f"writing {args.rows:,} ticks to Parquet and CSV ...", flush=True)
    out["sources"] = write_sources(tmp, args.rows, Path(args.sources) if args.sources else None)
    cfg.update(first_us=out["sources"]["first_us"], last_us=out["sources"]["last_us"])
    cfg_path = tmp / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    out["setup"] = run_child("setup", cfg_path)
    bars = (cfg["last_us"] - T0_US) // 60_000_000  # about (gaps hold none)
    per = {"n": args.rows, "bars": bars, "new": NEW_TICKS}
    phases = [p for p in PHASES if (not args.phases and p[0] not in OPT_IN)
              or p[0] in (args.phases or ()) or p[0] == "ingest_parquet"]
    out["phases"] = {}
    for phase, base, unit in phases:
        if phase == "delete" and args.backend == "duckdb":
            shutil.copy(cfg["db"], tmp / "copy.duckdb")  # the baseline deletes from a copy
        print(f"{phase} ...", flush=True)
        # the baseline first where ours changes the data (the update, the delete)
        if phase == "update_1000" and args.rows > RECOMPUTE_MAX_ROWS:
            base = None  # the goal compares the update across sizes, not with this
        b = run_child(base, cfg_path) if base and phase in ("update_1000", "delete") else None
        r = run_child(phase, cfg_path)
        if base and b is None:
            b = run_child(base, cfg_path)
        if phase == "ingest_csv":
            out["delete_csv_session"] = run_child("delete_csv_session", cfg_path)
        if phase == "delete" and args.backend == "duckdb":
            (tmp / "copy.duckdb").unlink()
        row = {"s": r["s"], "rss_mb": r["rss_mb"], "ours": r}
        if b and "s" in b:
            row.update(base_s=b["s"], base_rss_mb=b["rss_mb"], ratio=r["s"] / b["s"], base=b)
        if unit:
            row["rows_per_s"] = per[unit] / r["s"]
        out["phases"][phase] = row
        print(f"  {fmt_row(phase, row)}", flush=True)
    out["load_avg_end"] = os.getloadavg()
    print_table(out)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scale_{args.backend}_{args.rows}.json").write_text(
        json.dumps(out, indent=2, default=str))


def fmt_row(phase: str, r: dict) -> str:
    base = f"{r['base_s']:>9.3f}" if "base_s" in r else f"{'-':>9}"
    ratio = f"{r['ratio']:>6.2f}x" if "ratio" in r else f"{'-':>7}"
    rps = f"{r['rows_per_s']:>12,.0f}" if "rows_per_s" in r else f"{'-':>12}"
    return f"{phase:<16} {r['s']:>9.3f} {base} {ratio} {r['rss_mb']:>8.0f} {rps}"


def print_table(out: dict) -> None:
    print(f"\n{out['rows']:,} ticks on {out['backend']}; load average "
          f"{out['load_avg_start'][0]:.2f} at the start, {out['load_avg_end'][0]:.2f} at the end")
    print(f"{'phase':<16} {'time s':>9} {'base s':>9} {'ratio':>7} {'RSS MB':>8} {'rows/s':>12}")
    for phase, r in out["phases"].items():
        print(fmt_row(phase, r))
    extra = {p: r["ours"] for p, r in out["phases"].items()
             if p in ("update_1000", "delete", "delete_alone", "overview")}
    print("details:", json.dumps(extra, default=str))


if __name__ == "__main__":
    main()
