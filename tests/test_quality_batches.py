"""Quality streamed in tiny batches, with defects planted exactly at batch boundaries.

A table larger than ``chunk_rows`` is read in chunks of exactly ``chunk_rows`` rows (in
``(ts, seq)`` order), so with 7 or 100 rows a chunk the boundaries sit at known rows. The
session below puts a defect of every check on a boundary (row 700 is one for both sizes,
rows 100k for 100, rows 7k for 7): the report, streamed, must equal the report of the
same session read whole, field for field, on every backend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsanalysis import schema
from tsanalysis.quality import CheckContext

from .quality_data import T0

SYM = "EDGE/USD"
N = 1500


def _ticks(sid: str) -> pd.DataFrame:
    secs = np.arange(N, dtype=np.int64)
    secs[700:] += 120  # a 121 s gap between rows 699 and 700: across a boundary of both
    price = np.round(100 + np.cumsum(np.random.default_rng(7).normal(0, 0.01, N)), 4)
    volume = np.round(np.random.default_rng(8).uniform(0.1, 2.0, N), 6)
    price[395:421] = price[395]  # a stale run across rows 399|400 (boundaries of 7, 100)
    price[[200, 350, 1400]] += 5.0  # spikes, each the first row of a chunk
    price[500], price[504] = 0.0, np.inf  # invalid prices starting a chunk (100, 7)
    volume[1095:1111] = 0.0  # zero volume across rows 1099|1100 (7, 100)
    volume[800] = 1e4  # a volume spike starting a chunk
    volume[903] = -1.0  # a negative volume starting a chunk of 7
    for first, last in ((1294, 1295), (1299, 1301)):  # exact duplicates across boundaries
        secs[first:last + 1] = secs[first]
        price[first:last + 1] = price[first]
        volume[first:last + 1] = volume[first]
    seq = np.arange(N, dtype=np.int64)
    seq[[1000, 1001]] = seq[[1001, 1000]]  # row 1001 arrived first: row 1000 is late
    return pd.DataFrame({"session_id": sid, "symbol": SYM, "seq": seq,
                         "ts": pd.DatetimeIndex(T0 + pd.to_timedelta(secs, unit="s")),
                         "price": price, "volume": volume, "side": None, "trade_id": None})


def _quotes(sid: str) -> pd.DataFrame:
    mid = np.round(50 + np.cumsum(np.random.default_rng(9).normal(0, 0.01, N)), 4)
    bid, ask = mid - 0.05, mid + 0.05
    crossed = [699, 700, 1400]  # a crossed run across 699|700, a crossed first row
    bid[crossed], ask[crossed] = mid[crossed] + 0.1, mid[crossed]
    bid[[99, 100]] = ask[[99, 100]] = mid[[99, 100]]  # locked across 99|100
    bid[1199:1202] = np.nan  # no bid across 1199|1200
    bid[[600, 602]], ask[[600, 602]] = mid[[600, 602]] - 2.5, mid[[600, 602]] + 2.5  # wide
    return pd.DataFrame({"session_id": sid, "symbol": SYM, "seq": np.arange(N, dtype="int64"),
                         "ts": pd.DatetimeIndex(T0 + pd.to_timedelta(np.arange(N), unit="s")),
                         "bid_price": bid, "bid_size": np.where(np.isnan(bid), np.nan, 1.0),
                         "ask_price": ask, "ask_size": 2.0})


@pytest.fixture
def edges(ws, sid):
    # no declared cadence: the cadence is inferred, through the streamed median and gaps
    ws.sessions.create([SYM], sid, data_types=["ticks", "orderbook"])
    ws.store.write(schema.TICK_PRICES.name, _ticks(sid))
    ws.store.write(schema.TICK_ORDERBOOK.name, _quotes(sid))
    ws.sessions.complete(sid)
    ws.sessions.invalidate(sid)
    return sid


def _report(ws, sid, **kw) -> dict:
    d = ws.quality.run(sid, **kw).to_dict()
    d.pop("generated_at")
    d.pop("elapsed_s")
    return d


def _at(row: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=row + (120 if row >= 700 else 0))


def test_chunks_are_cut_at_exact_rows(ws, edges):
    ctx = CheckContext(ws.store, ws.sessions.get(edges), SYM, chunk_rows=100)
    try:
        for table in ("tick_prices", "tick_orderbook"):
            got = [(ch.offset, len(ch), ch.last) for ch in ctx.chunks(table)]
            assert got == [(i, 100, i == N - 100) for i in range(0, N, 100)]
        ts = np.concatenate([ch.ts for ch in ctx.chunks("tick_prices", ["ts", "seq"])])
        assert len(ts) == N and np.all(np.diff(ts) >= 0)
    finally:
        ctx.release()


def test_whole_session_finds_every_planted_defect(ws, edges):
    r = ws.quality.run(edges, chunk_rows=None)
    m = r.symbols[SYM].metrics
    assert [(g["start"], g["end"]) for g in m["gaps"]] == [(_at(699), _at(700))]
    assert m["cadence_source"] == "inferred" and m["cadence_s"] == 1.0
    assert [a["ts"] for a in m["price_anomalies"]] == [_at(200), _at(350), _at(1400)]
    assert m["invalid_prices"] == 2
    assert [(s["start"], s["end"], s["rows"]) for s in m["stale_runs"]] == \
        [(_at(395), _at(420), 26)]
    assert (m["negative_volumes"], m["zero_volume_rows"]) == (1, 16)
    assert [s["ts"] for s in m["volume_spikes"]] == [_at(800)]
    assert (m["out_of_order_rows"], m["duplicate_rows"]) == (1, 3)
    assert (m["crossed_quotes"], m["locked_quotes"], m["missing_bid_quotes"],
            m["spread_outliers"]) == (3, 2, 3, 2)
    crossed = [(f.start, f.end, f.count) for f in r.findings
               if f.check == "orderbook" and f.data.get("kind") == "crossed"]
    second = pd.Timedelta(seconds=1)  # quotes have no gap: row i at T0 + i s
    assert crossed == [(T0 + 699 * second, T0 + 700 * second, 2),
                       (T0 + 1400 * second, T0 + 1400 * second, 1)]


@pytest.mark.parametrize("chunk_rows", [7, 100])
def test_streamed_report_equals_whole_with_defects_on_boundaries(ws, edges, chunk_rows):
    whole = _report(ws, edges, chunk_rows=None)
    assert whole["symbols"][SYM]["score"] < 100
    assert _report(ws, edges, chunk_rows=chunk_rows) == whole


@pytest.mark.parametrize("chunk_rows", [7, None])
def test_many_defects_listed_up_to_the_cap_and_counted_exactly(ws, sid, chunk_rows):
    """A gap every 10 rows and a spike every 50: the lists stop at max_findings, the
    counts and scores do not, streamed or whole."""
    n = 2000
    secs = np.arange(n, dtype=np.int64) + 30 * (np.arange(n) // 10)
    price = np.round(100 + np.cumsum(np.random.default_rng(3).normal(0, 0.01, n)), 4)
    price[25::50] += 5.0
    ws.sessions.create([SYM], sid, cadence_s=1.0)
    ws.store.write(schema.TICK_PRICES.name, pd.DataFrame({
        "session_id": sid, "symbol": SYM, "seq": np.arange(n, dtype="int64"),
        "ts": pd.DatetimeIndex(T0 + pd.to_timedelta(secs, unit="s")), "price": price,
        "volume": 1.0, "side": None, "trade_id": None}))
    ws.sessions.complete(sid)
    ws.sessions.invalidate(sid)
    r = ws.quality.run(sid, checks=["gaps", "prices"], chunk_rows=chunk_rows,
                       max_findings=5)
    m = r.symbols[SYM].metrics
    assert m["gap_count"] == n // 10 - 1 and len(m["gaps"]) == 5
    assert m["price_anomaly_count"] == n // 50 and len(m["price_anomalies"]) == 5
    assert m["gaps"][0]["start"] == T0 + pd.Timedelta(seconds=9)
    out = r.symbols[SYM].checks
    assert out["gaps"].findings_total == 5 and out["prices"].findings_total == 5
    assert out["prices"].basis.startswith(f"{n // 50} price spikes of {n:,} trades")
    if chunk_rows is not None:
        assert _report(ws, sid, checks=["gaps", "prices"], chunk_rows=chunk_rows,
                       max_findings=5) == \
            _report(ws, sid, checks=["gaps", "prices"], chunk_rows=None, max_findings=5)
