"""Small builders of test data (shared by several test modules)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd

from tsanalysis.store.base import Store
from tsanalysis.store.duckdb import DuckDBStore

T0 = pd.Timestamp("2026-01-05T00:00:00Z").as_unit("us")


def ticks(n: int = 100, start: pd.Timestamp = T0, step_us: int = 1_000_000, seed: int = 0,
          price: float = 100.0) -> pd.DataFrame:
    """``n`` trades, ``step_us`` apart, on a random walk."""
    rng = np.random.default_rng(seed)
    ts = start + pd.to_timedelta(np.arange(n) * step_us, unit="us")
    return pd.DataFrame({
        "ts": pd.DatetimeIndex(ts).as_unit("us"),
        "price": np.round(price + np.cumsum(rng.normal(0, 0.1, n)), 4),
        "volume": np.round(rng.uniform(0.1, 2.0, n), 6),
    })


def quotes(n: int = 100, start: pd.Timestamp = T0, seed: int = 0) -> pd.DataFrame:
    t = ticks(n, start, seed=seed)
    return pd.DataFrame({
        "ts": t["ts"], "bid_price": t["price"] - 0.05, "bid_size": 1.0,
        "ask_price": t["price"] + 0.05, "ask_size": 2.0,
    })


def bars(n: int = 10, start: pd.Timestamp = T0, interval: str = "1m") -> pd.DataFrame:
    ts = start + pd.to_timedelta(np.arange(n) * 60, unit="s")
    o = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"ts": pd.DatetimeIndex(ts).as_unit("us"), "open": o, "high": o + 2,
                         "low": o - 1, "close": o + 1, "volume": 10.0, "trades": 5,
                         "interval": interval})


def indicator_rows(session_id: str, symbol: str, n: int = 50, indicator_id: str = "rsi_14"
                   ) -> pd.DataFrame:
    ts = T0 + pd.to_timedelta(np.arange(n), unit="s")
    value = np.linspace(30, 70, n)
    value[:14] = np.nan
    return pd.DataFrame({"session_id": session_id, "symbol": symbol,
                         "indicator_id": indicator_id, "seq": np.arange(n, dtype="int64"),
                         "ts": pd.DatetimeIndex(ts).as_unit("us"), "value": value,
                         "confidence": 1.0})


def backtest_rows(session_id: str, symbol: str, n: int = 20) -> pd.DataFrame:
    ts = T0 + pd.to_timedelta(np.arange(n) * 60, unit="s")
    return pd.DataFrame({"session_id": session_id, "symbol": symbol, "backtest_id": "bt1",
                         "seq": np.arange(n, dtype="int64"),
                         "ts": pd.DatetimeIndex(ts).as_unit("us"), "strategy": "sma_cross",
                         "parameters": '{"fast": 5}', "equity": 1000 + np.arange(n, dtype=float),
                         "position": 1.0, "pnl": 1.0, "metrics": "{}",
                         "kind": ["run"] + ["equity"] * (n - 1)})


def fill_all_tables(ws, session_id: str, symbols=("BTC/USDT", "ETH/USDT"), n: int = 100) -> None:
    """Give a session rows in all six tables."""
    for k, sym in enumerate(symbols):
        ws.ingest(session_id, sym, ticks(n, seed=k), "ticks")
        ws.ingest(session_id, sym, quotes(n, seed=k), "orderbook")
        ws.build_bars(session_id, "1m", [sym])
        ws.store.write("indicators", indicator_rows(session_id, sym, n))
        ws.store.write("backtest_results", backtest_rows(session_id, sym))


class DuckDBWithoutTransactions(DuckDBStore):
    """A real DuckDB file, used the way a store without transactions (QuestDB) is used.

    Every write commits on its own and ``transactional`` is False, so code that branches on
    it takes the path it takes on QuestDB. Upserts still replace rows by key, as QuestDB's
    dedup does. For exercising those paths where no QuestDB server is at hand; the QuestDB
    backend itself runs through the ``ws`` fixture when ``TSANALYSIS_TEST_QUESTDB`` is set.
    """

    transactional = False

    def atomic(self):  # type: ignore[override]
        return nullcontext()

    # Batch by batch, as the contract's generic version does (no staging table).
    write_batches = Store.write_batches
