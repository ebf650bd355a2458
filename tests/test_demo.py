"""The demo generator: deterministic, realistic, defects where it says they are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsanalysis import demo


def test_same_seed_same_data_other_seed_other_data():
    a = demo.generate(hours=0.5, seed=1)
    b = demo.generate(hours=0.5, seed=1)
    c = demo.generate(hours=0.5, seed=2)
    for sym in a.ticks:
        pd.testing.assert_frame_equal(a.ticks[sym], b.ticks[sym])
        pd.testing.assert_frame_equal(a.quotes[sym], b.quotes[sym])
    assert a.manifest() == b.manifest()
    assert not a.ticks["BTC/USDT"]["price"].equals(c.ticks["BTC/USDT"]["price"])


def test_size_and_cadence():
    d = demo.generate(symbols=["BTC/USDT"], hours=2, seed=3, defects=False)
    t = d.ticks["BTC/USDT"]
    assert len(t) == 7200
    gaps = t["ts"].diff().dt.total_seconds().dropna()
    assert 0.9 < gaps.median() < 1.1
    assert (gaps == 0).sum() > 0  # some trades share a timestamp
    assert (t["price"] > 0).all() and t["ts"].is_monotonic_increasing


def test_defects_are_where_the_manifest_says():
    d = demo.generate(symbols=["ETH/USDT"], hours=3, seed=5)
    t, q = d.ticks["ETH/USDT"], d.quotes["ETH/USDT"]
    kinds = sorted(x.kind for x in d.defects)
    assert kinds.count("gap") == 2 and kinds.count("spike") == 3
    assert kinds.count("crossed") == 3 and kinds.count("locked") == 2 and "stale" in kinds
    for x in d.defects:
        if x.kind == "gap":
            inside = t[(t["ts"] > x.start) & (t["ts"] < x.end)]
            assert inside.empty
            assert (t["ts"] == x.start).any() and (t["ts"] == x.end).any()
            assert (x.end - x.start).total_seconds() > x.rows  # the outage spans the rows
        elif x.kind == "spike":
            row = t[t["ts"] == x.start]
            assert row["price"].iloc[-1] == x.detail["price"]
            assert abs(x.detail["price"] / x.detail["normal_price"] - 1) >= 0.03
        elif x.kind == "stale":
            run = t[(t["ts"] >= x.start) & (t["ts"] <= x.end)]
            assert len(run) == x.rows and run["price"].nunique() == 1
        elif x.kind in ("crossed", "locked"):
            row = q[q["ts"] == x.start].iloc[0]
            assert (row["bid_price"] > row["ask_price"]) if x.kind == "crossed" else \
                (row["bid_price"] == row["ask_price"])
    crossed = (q["bid_price"] > q["ask_price"]).sum()
    locked = (q["bid_price"] == q["ask_price"]).sum()
    assert crossed == 3 and locked == 2  # nothing else in the book is crossed or locked


def test_demo_session_in_the_store(duckdb_ws):
    info = duckdb_ws.demo(symbols=["BTC/USDT", "SOL/USDT"], hours=0.5, seed=9)
    assert info.status == "completed" and info.cadence_s == 1.0
    assert info.rows["tick_prices"] == info.rows["tick_orderbook"] > 3000
    assert info.rows["aggregated_ohlcv"] > 0
    defects = [demo.Defect.from_dict(x) for x in info.metadata["demo"]["defects"]]
    assert {x.symbol for x in defects} == {"BTC/USDT", "SOL/USDT"}
    stored = duckdb_ws.ticks(info.session_id, "BTC/USDT")
    spike = next(x for x in defects if x.kind == "spike" and x.symbol == "BTC/USDT")
    assert np.isclose(stored.loc[stored["ts"] == spike.start, "price"].iloc[-1],
                      spike.detail["price"])
