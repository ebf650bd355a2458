"""Backtests over the stored prices and indicators: strategies as plugins, fills at
recorded prices, results in ``backtest_results``.

>>> res = ws.backtests.run(sid, "BTC/USDT", "threshold", timeperiod=14, fee_bps=10)
>>> res.metrics["sharpe"], res.trades.head()
>>> ws.backtests.grid(sid, "BTC/USDT", "threshold", {"timeperiod": [7, 14, 21],
...                                                  "lower": [20, 25, 30]}).leaderboard
>>> ws.backtests.list(sid)                       # the stored runs
>>> ws.backtests.delete(sid, res.backtest_id)

The jobs, one module each: :mod:`.strategy` (the :class:`Strategy` type and its
registry), :mod:`.market` (the points and how orders fill at them), :mod:`.engine` (the
vectorised simulation and its conventions), :mod:`.metrics` (every metric with its
formula), :mod:`.runner` (inputs from the store, runs and grids), :mod:`.results` (the
``backtest_results`` rows). The built-in strategies live in
``tsanalysis/default_plugins/strategies.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .engine import Costs, Market, Simulation, simulate
from .market import FILLS
from .metrics import compute_metrics
from .results import UnknownBacktest
from .runner import (
    METRIC_NAMES,
    BacktestResult,
    GridResult,
    Settings,
    backtest_id,
    check_combination,
    combinations,
    run,
    run_grid,
)
from .strategy import IndicatorRef, Strategy, UnknownStrategy, get_strategy, strategies

if TYPE_CHECKING:
    import pandas as pd

    from ..store.base import Progress
    from ..workspace import Workspace

__all__ = [
    "FILLS",
    "METRIC_NAMES",
    "BacktestResult",
    "Backtests",
    "Costs",
    "GridResult",
    "IndicatorRef",
    "Market",
    "Settings",
    "Simulation",
    "Strategy",
    "UnknownBacktest",
    "UnknownStrategy",
    "backtest_id",
    "check_combination",
    "combinations",
    "compute_metrics",
    "get_strategy",
    "run",
    "run_grid",
    "simulate",
    "strategies",
]

_SETTINGS = ("interval", "fill", "fee_bps", "slippage_bps", "size", "long_only", "cash",
             "grid")


def _split(options: dict[str, Any]) -> tuple[Settings, dict[str, Any]]:
    """Settings (by their names) and strategy parameters from one set of keywords."""
    settings = Settings(**{k: options.pop(k) for k in _SETTINGS if k in options})
    return settings, options


class Backtests:
    """``ws.backtests``: run strategies on a workspace's sessions, read and delete runs."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def run(self, session_id: str, symbol: str, strategy: str,
            params: Mapping[str, Any] | None = None, *, persist: bool = True,
            **options: Any) -> BacktestResult:
        """Run ``strategy`` on a session's ``symbol`` and store the run.

        Strategy parameters go in ``params`` or as keywords (``timeperiod=14``); the run's
        settings as keywords too: ``interval`` (None: ticks; ``"1m"``: bars), ``fill``
        (``"next"``, ``"quotes"``), ``fee_bps``, ``slippage_bps``, ``size``, ``long_only``,
        ``cash``, ``grid`` (the metrics' step, ``"1m"``). See :class:`Settings`.
        """
        settings, kw = _split(dict(options))
        try:
            return run(self._ws.store, session_id, symbol, strategy, {**(params or {}), **kw},
                       settings, persist=persist)
        finally:
            if persist:
                self._ws.sessions.notify("data", session_id)

    def grid(self, session_id: str, symbol: str, strategy: str,
             grid: Mapping[str, Iterable[Any] | str], params: Mapping[str, Any] | None = None,
             *, metric: str = "sharpe", persist: bool = True,
             progress: Progress | None = None, **options: Any) -> GridResult:
        """Every combination of ``grid`` (``{"timeperiod": [7, 14, 21]}``), each run stored;
        ``.leaderboard`` ranks them by ``metric``. Settings as in :meth:`run`."""
        settings, kw = _split(dict(options))
        try:
            return run_grid(self._ws.store, session_id, symbol, strategy, grid,
                            {**(params or {}), **kw}, settings, metric=metric,
                            persist=persist, progress=progress)
        finally:
            if persist:
                self._ws.sessions.notify("data", session_id)

    def list(self, session_id: str, symbol: str | None = None) -> pd.DataFrame:
        """The stored runs of a session: id, symbol, strategy, headline metrics."""
        from .results import list_runs

        self._ws.sessions.get(session_id, stats=False)
        return list_runs(self._ws.store, session_id, symbol)

    def show(self, session_id: str, backtest_id: str) -> dict[str, Any]:
        """One stored run: symbol, strategy, parameters and settings, metrics."""
        from .results import run_record

        self._ws.sessions.get(session_id, stats=False)
        return run_record(self._ws.store, session_id, backtest_id)

    def equity(self, session_id: str, backtest_id: str) -> pd.DataFrame:
        """A stored run's equity curve on its metrics grid: ts, equity, position, pnl."""
        from .results import equity_frame

        self._ws.sessions.get(session_id, stats=False)
        return equity_frame(self._ws.store, session_id, backtest_id)

    def trades(self, session_id: str, backtest_id: str) -> pd.DataFrame:
        """A stored run's trades."""
        from .results import trades_frame

        self._ws.sessions.get(session_id, stats=False)
        return trades_frame(self._ws.store, session_id, backtest_id)

    def delete(self, session_id: str, backtest_id: str, *, force: bool = False) -> int:
        """Remove one stored run; return the rows removed. A thin form of
        :meth:`Workspace.delete` (``backtest_ids=[backtest_id]``): audited, and refused
        on an active session unless ``force``."""
        from .results import run_record

        run_record(self._ws.store, session_id, backtest_id)  # UnknownBacktest first
        return self._ws.delete(session_id, backtest_ids=[backtest_id], force=force).total

    def catalog(self) -> pd.DataFrame:
        """Every registered strategy: name, plugin, parameters (name=default), doc."""
        from ..params import signature
        from .strategy import REGISTRY

        return REGISTRY.catalog(lambda s: {"params": signature(s.params),
                                           "long_only": s.long_only})

    def __repr__(self) -> str:
        return f"<Backtests of {self._ws!r}: {len(strategies())} strategies>"
