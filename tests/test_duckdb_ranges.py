"""DuckDB reads a long stream as consecutive time ranges (``DuckDBStore.slice_rows``): the
same rows in the same order as one ordered query, ties at range boundaries included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import tsanalysis

from .helpers import T0, ticks


@pytest.fixture
def ws(tmp_path):
    w = tsanalysis.connect(f"duckdb:///{tmp_path}/r.duckdb")
    yield w
    w.close()


def stored(ws, n=2000):
    """Ticks of two symbols; every fifth shares its predecessor's timestamp, and rows were
    written out of time order (seq does not follow ts)."""
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], "s")
    for k, sym in enumerate(("BTC/USDT", "ETH/USDT")):
        f = ticks(n, seed=k)
        f.loc[f.index[::5], "ts"] = f["ts"].shift(1)[::5].fillna(f["ts"].iloc[0])
        ws.ingest("s", sym, f.iloc[::-1] if k else f)  # ETH arrives newest first
    ws.store.checkpoint()


def streamed(store, **kw) -> pa.Table:
    return pa.Table.from_batches(list(store.iter_arrow("tick_prices", "s", batch_rows=64,
                                                       **kw)))


@pytest.mark.parametrize("kw", [
    {"symbols": ["BTC/USDT"]},
    {"symbols": ["ETH/USDT"], "start": T0 + pd.Timedelta(seconds=333),
     "end": T0 + pd.Timedelta(seconds=1501)},
    {"symbols": ["ETH/USDT"], "columns": ["ts", "price"]},
    {},  # both symbols: ordered by symbol first, so one read
], ids=["one-symbol", "time-range", "columns", "two-symbols"])
def test_ranges_read_what_one_query_reads(ws, kw):
    stored(ws)
    ws.store.slice_rows = 0  # one query
    one = streamed(ws.store, **kw)
    for size in (7, 100, 999):
        ws.store.slice_rows = size
        got = streamed(ws.store, **kw)
        assert got.equals(one), size
    assert one.num_rows > 0


def test_ranges_are_about_slice_rows_long(ws):
    stored(ws)
    ws.store.slice_rows = 100
    with ws.store.connection() as con:
        cur = con.cursor()
        ranges = ws.store._time_ranges(cur, tsanalysis.schema.TICK_PRICES, "s",
                                       ["BTC/USDT"], None, None, {})
        cur.close()
    assert len(ranges) == 20 and ranges[0][0] is None and ranges[-1][1] is None
    inner = [b for _, b in ranges[:-1]]
    assert all(x < y for x, y in zip(inner, inner[1:], strict=False))
    sizes = [ws.store.count("tick_prices", "s", symbols=["BTC/USDT"], start=a, end=b)
             for a, b in ranges]
    assert sum(sizes) == 2000 and max(sizes) <= 200
    assert np.all(np.array(sizes) > 0)
