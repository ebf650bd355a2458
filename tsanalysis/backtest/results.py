"""Backtest runs in the ``backtest_results`` table: written, listed, read back, deleted.

A run is stored under its ``backtest_id`` as three kinds of rows (column ``kind``): one
``run`` row (strategy, parameters and settings as JSON, the metrics as JSON), the
``equity`` curve on the metrics grid (equity, position, pnl), and one ``trade`` row per
round trip (entry ``ts``, ``exit_ts``, side, size, prices, fees, pnl).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import InvalidInput
from ..ids import check_session_id, check_symbol
from ..store.base import Store
from ..timeutil import arrow_from_micros
from .engine import Simulation

TABLE = schema.BACKTEST_RESULTS.name
RUN, EQUITY, TRADE = "run", "equity", "trade"
#: The metrics ``list`` shows as columns (the rest stay in ``metrics``).
SUMMARY = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "fees",
           "buy_and_hold")


class UnknownBacktest(InvalidInput):
    """No run is stored under this backtest id for the session."""

    def __init__(self, backtest_id: str, session_id: str, stored: list[str]):
        listed = ", ".join(stored[:10]) or "none"
        super().__init__(f"no backtest {backtest_id!r} stored in session {session_id!r} "
                         f"(stored: {listed})")
        self.backtest_id = backtest_id


def run_rows(session_id: str, symbol: str, backtest_id: str, strategy: str,
             parameters: Mapping[str, Any], metrics: Mapping[str, Any], sim: Simulation,
             grid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> pa.Table:
    """Every row of one run: the run row, the equity on the grid, the trades."""
    g_ts, g_eq, g_pos = grid
    tr = sim.trades
    n_eq, n_tr = len(g_ts), len(tr)
    n = 1 + n_eq + n_tr
    cash = sim.costs.cash
    first = int(sim.market.ts[0]) if len(sim.market) else 0
    nan_eq, nan_tr = np.full(n_eq, np.nan), np.full(n_tr, np.nan)
    last_pos = float(sim.position[-1]) if len(sim.market) else 0.0
    end = float(sim.equity[-1]) if len(sim.market) else cash

    def col(run: Any, eq: Any, trade: Any) -> np.ndarray:
        return np.concatenate(([run], eq, trade))

    ts = col(first, g_ts, tr.entry_ts).astype(np.int64)
    exit_ts = col(-1, np.full(n_eq, -1), tr.exit_ts).astype(np.int64)
    side = [None] * (1 + n_eq) + ["long" if s > 0 else "short" for s in tr.side]
    kind = [RUN] + [EQUITY] * n_eq + [TRADE] * n_tr

    def num(values: np.ndarray) -> pa.Array:
        v = np.asarray(values, dtype=np.float64)
        return pa.array(v, mask=~np.isfinite(v))

    return pa.table({
        "session_id": pa.array([session_id] * n), "symbol": pa.array([symbol] * n),
        "backtest_id": pa.array([backtest_id] * n), "seq": pa.array(np.arange(n)),
        "ts": arrow_from_micros(ts), "kind": pa.array(kind),
        "strategy": pa.array([strategy] * n),
        "parameters": pa.array([json.dumps(parameters, sort_keys=True)] + [None] * (n - 1),
                               pa.string()),
        "equity": num(col(end, g_eq, nan_tr)),
        "position": num(col(last_pos, g_pos, nan_tr)),
        "pnl": num(col(end - cash, g_eq - cash, tr.pnl)),
        "side": pa.array(side, pa.string()),
        "size": num(col(np.nan, nan_eq, tr.size)),
        "price": num(col(np.nan, nan_eq, tr.entry_price)),
        "exit_ts": pa.array(exit_ts, mask=exit_ts < 0).view(arrow_from_micros(ts).type),
        "exit_price": num(col(np.nan, nan_eq, tr.exit_price)),
        "fees": num(col(np.nan, nan_eq, tr.fees)),
        "metrics": pa.array([json.dumps(metrics, sort_keys=True)] + [None] * (n - 1),
                            pa.string()),
    })


def replace_runs(store: Store, session_id: str, symbol: str,
                 runs: Mapping[str, pa.Table]) -> int:
    """Write runs (backtest id -> rows) in place of stored ones with the same ids, in one
    transaction where the store has them. The old rows are removed first: a run with fewer
    trades leaves none of the old ones behind."""
    if not runs:
        return 0
    with store.atomic():
        store.delete_rows(TABLE, session_id, symbols=[symbol],
                          filters={"backtest_id": list(runs)})
        return store.write(TABLE, pa.concat_tables(list(runs.values())))


def list_runs(store: Store, session_id: str, symbol: str | None = None) -> pd.DataFrame:
    """One row per stored run: backtest_id, symbol, strategy, when it starts, parameters
    (a dict), the summary metrics as columns, and every metric in ``metrics`` (a dict)."""
    check_session_id(session_id)
    frame = store.read(TABLE, session_id, symbols=[check_symbol(symbol)] if symbol else None,
                       filters={"kind": RUN},
                       columns=["backtest_id", "symbol", "strategy", "parameters", "metrics"])
    cols = ["backtest_id", "symbol", "strategy", *SUMMARY, "parameters", "metrics"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["parameters"] = frame["parameters"].map(lambda s: json.loads(s) if s else {})
    frame["metrics"] = frame["metrics"].map(lambda s: json.loads(s) if s else {})
    for k in SUMMARY:
        frame[k] = frame["metrics"].map(lambda m, k=k: m.get(k))
    return frame[cols].reset_index(drop=True)


def _rows(store: Store, session_id: str, backtest_id: str, kind: str,
          columns: list[str]) -> pd.DataFrame:
    check_session_id(session_id)
    if not isinstance(backtest_id, str) or not backtest_id:
        raise InvalidInput(f"invalid backtest id {backtest_id!r}")
    frame = store.read(TABLE, session_id, filters={"backtest_id": backtest_id, "kind": kind},
                       columns=columns)
    if kind == RUN and frame.empty:
        raise UnknownBacktest(backtest_id, session_id,
                              list(list_runs(store, session_id)["backtest_id"]))
    return frame


def run_record(store: Store, session_id: str, backtest_id: str) -> dict[str, Any]:
    """The stored run: backtest_id, symbol, strategy, parameters and metrics (dicts)."""
    row = _rows(store, session_id, backtest_id, RUN,
                ["symbol", "strategy", "parameters", "metrics"]).iloc[0]
    return {"backtest_id": backtest_id, "symbol": row["symbol"], "strategy": row["strategy"],
            "parameters": json.loads(row["parameters"] or "{}"),
            "metrics": json.loads(row["metrics"] or "{}")}


def equity_frame(store: Store, session_id: str, backtest_id: str) -> pd.DataFrame:
    """The stored equity curve: ts, equity, position, pnl."""
    run_record(store, session_id, backtest_id)
    return _rows(store, session_id, backtest_id, EQUITY,
                 ["ts", "equity", "position", "pnl"]).reset_index(drop=True)


def trades_frame(store: Store, session_id: str, backtest_id: str) -> pd.DataFrame:
    """The stored trades: entry_ts, exit_ts, side, size, entry_price, exit_price, fees,
    pnl (an open trade has no exit)."""
    run_record(store, session_id, backtest_id)
    f = _rows(store, session_id, backtest_id, TRADE,
              ["ts", "exit_ts", "side", "size", "price", "exit_price", "fees", "pnl"])
    return f.rename(columns={"ts": "entry_ts", "price": "entry_price"}).reset_index(drop=True)
