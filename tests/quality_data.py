"""A session with planted defects at known places, for the quality tests.

Three symbols, each exercising different checks, written straight to the store (as a
recorder or another tool would) so that rows ingestion refuses (NaN prices, negative
volumes) and arrival orders it would never produce can be planted:

``AAA/USD``  600 trades at 1 Hz: gaps, an out-of-order pair, a late row, exact duplicates,
             a row sharing a timestamp, invalid prices, two spikes, a stale run, a
             negative volume, a zero-volume run, a volume spike.
``BBB/USD``  300 quotes at 1 Hz: crossed, locked, one-sided quotes, a wide spread.
``CCC/USD``  600 clean trades with a silent minute, and 1m bars with one wrong high, one
             wrong volume, one bar missing and one bar where there are no ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tsanalysis import schema

T0 = pd.Timestamp("2026-01-05T00:00:00Z").as_unit("us")
SEC = pd.Timedelta(seconds=1)


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


@dataclass
class Planted:
    session_id: str
    expected: dict = field(default_factory=dict)


def _walk(n: int, seed: int, start: float = 100.0, step: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(start + np.cumsum(rng.normal(0, step, n)), 4)


def _typed_ticks(sid: str, sym: str, ts, price, volume) -> pd.DataFrame:
    n = len(price)
    return pd.DataFrame({"session_id": sid, "symbol": sym, "seq": np.arange(n, dtype="int64"),
                         "ts": pd.DatetimeIndex(ts).as_unit("us"),
                         "price": np.asarray(price, dtype=float),
                         "volume": np.asarray(volume, dtype=float), "side": None,
                         "trade_id": None})


def aaa_frame(sid: str) -> pd.DataFrame:
    n = 600
    secs = np.arange(n, dtype=float)
    price = _walk(n, seed=1)
    volume = np.round(np.random.default_rng(2).uniform(0.1, 2.0, n), 6)
    # stale: rows 250..269 repeat row 250's price
    assert price[249] != price[250] and price[270] != price[250]
    price[250:270] = price[250]
    price[100] += 5.0  # spike up
    price[350] -= 4.0  # spike down
    # invalid prices (a NaN would be stored as NULL, which the column refuses)
    price[180], price[181], price[590] = np.inf, 0.0, -1.0
    volume[170] = -1.0  # negative volume
    volume[540:555] = 0.0  # a long run of zero volume (15 rows)
    volume[560:565] = 0.0  # a short one, below min_zero_rows
    volume[575] = 1e4  # volume spike
    # out of order: rows 300 and 301 swap stamps; row 500 is stamped at 497.5 s
    secs[300], secs[301] = 301.0, 300.0
    secs[500] = 497.5
    keep = np.ones(n, dtype=bool)
    keep[200:230] = False  # gap 199 -> 230: 31 s, a warning
    keep[400:480] = False  # gap 399 -> 480: 81 s, critical
    keep[520:527] = False  # gap 519 -> 527: 8 s, info
    f = pd.DataFrame({"ts": T0 + pd.to_timedelta(secs, unit="s"), "price": price,
                      "volume": volume})[keep].reset_index(drop=True)
    # two exact copies of row 150 and a different trade at row 160's instant, right after
    i150 = int(np.flatnonzero(f["ts"] == at(150))[0])
    f = pd.concat([f.iloc[:i150 + 1], f.iloc[[i150, i150]], f.iloc[i150 + 1:]],
                  ignore_index=True)
    i160 = int(np.flatnonzero(f["ts"] == at(160))[0])
    other = f.iloc[[i160]].assign(price=f["price"].iloc[i160] + 0.01, volume=0.5)
    f = pd.concat([f.iloc[:i160 + 1], other, f.iloc[i160 + 1:]], ignore_index=True)
    return _typed_ticks(sid, "AAA/USD", f["ts"], f["price"], f["volume"])


AAA_EXPECTED = {
    "rows": 486,
    "expected_rows": 600,
    "gaps": [(at(199), at(230), "warning"), (at(399), at(480), "critical"),
             (at(519), at(527), "info")],
    "out_of_order": [at(300), at(497.5)],
    "duplicate_rows": 2, "duplicate_at": at(150), "same_timestamp_rows": 1,
    "invalid": [(at(180), at(181), 2), (at(590), at(590), 1)],
    "spikes": [at(100), at(350)],
    "stale": (at(250), at(269), 20),
    "negative_volume": at(170), "zero_run": (at(540), at(554), 15), "volume_spike": at(575),
}


def bbb_frame(sid: str) -> pd.DataFrame:
    n = 300
    mid = _walk(n, seed=3, start=50.0)
    bid, ask = mid - 0.05, mid + 0.05
    bid[[50, 51, 200]], ask[[50, 51, 200]] = mid[[50, 51, 200]] + 0.1, mid[[50, 51, 200]]
    bid[120] = ask[120] = mid[120]  # locked
    bid[150:153] = np.nan  # no bid for three quotes
    ask[153] = np.nan  # then no ask for one
    bid[250], ask[250] = mid[250] - 2.5, mid[250] + 2.5  # a 5.0 spread, 50x the usual 0.1
    size_b = np.where(np.isnan(bid), np.nan, 1.0)
    size_a = np.where(np.isnan(ask), np.nan, 2.0)
    return pd.DataFrame({"session_id": sid, "symbol": "BBB/USD",
                         "seq": np.arange(n, dtype="int64"),
                         "ts": pd.DatetimeIndex(T0 + pd.to_timedelta(np.arange(n), unit="s")),
                         "bid_price": bid, "bid_size": size_b, "ask_price": ask,
                         "ask_size": size_a})


BBB_EXPECTED = {
    "crossed": [(at(50), at(51), 2), (at(200), at(200), 1)],
    "locked": [(at(120), at(120), 1)],
    "missing": [(at(150), at(152), 3, "no bid"), (at(153), at(153), 1, "no ask")],
    "wide": [at(250)],
}


def ccc_frame(sid: str) -> pd.DataFrame:
    n = 600
    keep = np.ones(n, dtype=bool)
    keep[420:480] = False  # no trades in the minute 00:07
    secs = np.arange(n, dtype=float)[keep]
    price = _walk(n, seed=4)[keep]
    volume = np.round(np.random.default_rng(5).uniform(0.1, 2.0, n), 6)[keep]
    return _typed_ticks(sid, "CCC/USD", T0 + pd.to_timedelta(secs, unit="s"), price, volume)


CCC_EXPECTED = {"bars_checked": 10, "bar_mismatches": 2, "missing_bars": 1,
                "bars_without_ticks": 1,
                "bad_bars": {at(120): "high", at(180): "volume", at(300): "missing",
                             at(420): "no ticks"}}


def plant(ws, sid: str) -> Planted:
    """Create session ``sid`` (cadence 1 s, completed) holding the three symbols."""
    ws.sessions.create(["AAA/USD", "BBB/USD", "CCC/USD"], sid, cadence_s=1.0,
                      data_types=["ticks", "orderbook", "ohlcv"])
    ws.store.write(schema.TICK_PRICES.name, aaa_frame(sid))
    ws.store.write(schema.TICK_ORDERBOOK.name, bbb_frame(sid))
    ws.store.write(schema.TICK_PRICES.name, ccc_frame(sid))
    bars = ws.build_bars(sid, "1m", ["CCC/USD"], persist=False)
    assert len(bars) == 9
    bars = bars.set_index("ts")
    bars.loc[at(120), "high"] += 1.0
    bars.loc[at(180), "volume"] *= 2
    bars = bars.drop(index=at(300)).reset_index()
    ghost = bars.iloc[[0]].assign(ts=at(420))
    bars = pd.concat([bars, ghost], ignore_index=True)
    ws.store.write(schema.AGGREGATED_OHLCV.name, bars)
    ws.sessions.complete(sid)
    ws.sessions.invalidate(sid)
    return Planted(sid, {"AAA/USD": AAA_EXPECTED, "BBB/USD": BBB_EXPECTED,
                         "CCC/USD": CCC_EXPECTED})
