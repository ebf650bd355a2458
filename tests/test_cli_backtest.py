"""``tsanalysis backtest ...`` and ``tsanalysis strategies list`` as a user runs them."""

from __future__ import annotations

import io
import json

import pandas as pd

import tsanalysis

from .helpers import ticks
from .test_cli import ok, run
from .test_cli_indicators import one_line_error

SYM = "BTC/USDT"


def test_run_grid_list_show_delete(store_url, sid):
    with tsanalysis.connect(store_url) as ws:
        ws.sessions.create([SYM], sid, cadence_s=1.0)
        ws.ingest(sid, SYM, ticks(1200, seed=4))
        ws.sessions.complete(sid)
    strategies = json.loads(ok(run(store_url, "strategies", "list", "--json")).stdout)
    assert [s["name"] for s in strategies] == ["threshold", "ma_cross", "bollinger", "macd"]

    res = json.loads(ok(run(store_url, "backtest", "run", sid, "--symbol", SYM, "--strategy",
                            "threshold", "--param", "timeperiod=7", "--fee-bps", "5",
                            "--long-only", "--json")).stdout)
    bid = res["backtest_id"]
    assert res["params"]["timeperiod"] == 7 and res["settings"]["long_only"] is True
    assert res["metrics"]["points"] == 1200

    grid = ok(run(store_url, "backtest", "run", sid, "--symbol", SYM, "--strategy",
                  "threshold", "--grid", "timeperiod=5,9", "--grid", "lower=25,35",
                  "--metric", "total_return")).stdout
    assert grid.startswith("4 runs of threshold on BTC/USDT, best total_return first")

    listed = json.loads(ok(run(store_url, "backtest", "list", sid, "--json")).stdout)
    assert bid in {r["backtest_id"] for r in listed} and len(listed) == 5
    shown = json.loads(ok(run(store_url, "backtest", "show", sid, bid, "--json")).stdout)
    assert shown["metrics"]["total_return"] == res["metrics"]["total_return"]
    trades = pd.read_csv(io.StringIO(ok(run(store_url, "backtest", "show", sid, bid,
                                            "--trades")).stdout))
    assert len(trades) >= res["metrics"]["trades"] and set(trades["side"]) == {"long"}

    gone = json.loads(ok(run(store_url, "backtest", "delete", sid, bid, "--json")).stdout)
    assert gone["rows"] > 0
    assert "stored:" in one_line_error(run(store_url, "backtest", "show", sid, bid), 1)
    assert "unknown strategy 'rsi'" in one_line_error(
        run(store_url, "backtest", "run", sid, "--symbol", SYM, "--strategy", "rsi"), 1)
    assert "parameters: oscillator, timeperiod, lower, upper" in one_line_error(
        run(store_url, "backtest", "run", sid, "--symbol", SYM, "--strategy", "threshold",
            "--param", "window=3"), 1)
    assert "no ticks for ETH/USDT" in one_line_error(
        run(store_url, "backtest", "run", sid, "--symbol", "ETH/USDT", "--strategy",
            "macd"), 1)
    one_line_error(run(store_url, "backtest", "run", sid + "x", "--symbol", SYM,
                       "--strategy", "macd"), 3)
