"""The store operations added for indicators (read_tail_arrow, count, indicator_stats), on
every backend, and the generic versions in ``Store`` against each backend's own."""

from __future__ import annotations

import pandas as pd
import pytest

from tsanalysis.errors import InvalidInput
from tsanalysis.store.base import Store

from .helpers import T0, indicator_rows, ticks


@pytest.fixture
def filled(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    frame = ticks(500)
    frame.loc[frame.index[10::7], "ts"] = frame["ts"].shift(1)[10::7]  # shared timestamps
    ws.ingest(sid, "BTC/USDT", frame)
    ws.ingest(sid, "ETH/USDT", ticks(50, seed=1))
    for iid, n in (("rsi_14", 300), ("ema_5", 120)):
        ws.store.write("indicators", indicator_rows(sid, "BTC/USDT", n, indicator_id=iid))
    ws.store.write("indicators", indicator_rows(sid, "ETH/USDT", 40, indicator_id="rsi_14"))
    return ws, sid


@pytest.mark.parametrize("generic", [False, True], ids=["backend", "generic"])
def test_read_tail(filled, generic):
    ws, sid = filled
    tail = Store.read_tail_arrow if generic else type(ws.store).read_tail_arrow
    full = ws.store.read("tick_prices", sid, symbols=["BTC/USDT"])
    for n, end in ((1, None), (37, None), (600, None), (0, None), (25, T0 + pd.Timedelta(seconds=200))):
        got = tail(ws.store, "tick_prices", sid, symbol="BTC/USDT", n=n, end=end,
                   columns=["ts", "seq", "price"]).to_pandas()
        want = full if end is None else full[full["ts"] < end]
        want = want.iloc[len(want) - min(n, len(want)):] if n else want.iloc[:0]
        assert got["seq"].tolist() == want["seq"].tolist(), (n, end)
        assert got["price"].tolist() == want["price"].tolist()
    ind = tail(ws.store, "indicators", sid, symbol="BTC/USDT", n=5,
               filters={"indicator_id": "ema_5"}, columns=["ts", "seq"]).to_pandas()
    assert ind["seq"].tolist() == [115, 116, 117, 118, 119]
    with pytest.raises(InvalidInput):
        tail(ws.store, "tick_prices", sid, symbol="BTC/USDT", n=-1)


@pytest.mark.parametrize("generic", [False, True], ids=["backend", "generic"])
def test_count(filled, generic):
    ws, sid = filled
    count = Store.count if generic else type(ws.store).count
    assert count(ws.store, "tick_prices", sid) == 550
    assert count(ws.store, "tick_prices", sid, symbols=["BTC/USDT"]) == 500
    assert count(ws.store, "tick_prices", sid, symbols=["BTC/USDT"],
                 start=T0 + pd.Timedelta(seconds=100), end=T0 + pd.Timedelta(seconds=200)) == \
        len(ws.ticks(sid, "BTC/USDT", start=T0 + pd.Timedelta(seconds=100),
                     end=T0 + pd.Timedelta(seconds=200)))
    assert count(ws.store, "indicators", sid, filters={"indicator_id": ["rsi_14", "ema_5"]}) == 460
    assert count(ws.store, "indicators", sid + "x") == 0


@pytest.mark.parametrize("generic", [False, True], ids=["backend", "generic"])
def test_indicator_stats(filled, generic):
    ws, sid = filled
    stats = Store.indicator_stats if generic else type(ws.store).indicator_stats
    st = stats(ws.store, sid)
    assert list(st.columns) == ["symbol", "indicator_id", "rows", "first_ts", "last_ts"]
    assert [tuple(r) for r in st[["symbol", "indicator_id", "rows"]].itertuples(index=False)] \
        == [("BTC/USDT", "ema_5", 120), ("BTC/USDT", "rsi_14", 300), ("ETH/USDT", "rsi_14", 40)]
    assert st["last_ts"].iloc[1] == T0 + pd.Timedelta(seconds=299)
    assert st["first_ts"].iloc[0] == T0
    only = stats(ws.store, sid, ["ETH/USDT"])
    assert only["indicator_id"].tolist() == ["rsi_14"]
    empty = stats(ws.store, sid + "x")
    assert empty.empty and list(empty.columns) == list(st.columns)
