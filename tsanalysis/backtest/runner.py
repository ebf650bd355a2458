"""Running strategies on a session: inputs from the store, the engine, results stored.

:class:`Prepared` reads a symbol's prices once (ticks, or bars at an interval: stored,
else built from the ticks), finds the session's recording gaps the way the quality
report does, and serves each indicator a strategy asks for from the ``indicators`` table
(computing and storing it first, through the same code as ``tsanalysis indicators
compute``, when it is missing or shorter than the prices). :func:`run` runs one
strategy, :func:`run_grid` every combination of parameter values, one at a time, so
memory grows with the points plus the number of combinations, not their product.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..errors import InvalidInput
from ..ids import check_symbol, interval_seconds
from ..indicators import compute as compute_indicator
from ..indicators import registry as indicator_registry
from ..indicators.inputs import load_inputs
from ..quality.context import CheckContext
from ..quality.registry import available_checks
from ..sessions import Sessions
from ..store.base import Progress, Store
from ..timeutil import from_micros, micros
from .engine import Costs, Simulation, simulate
from .market import FILLS, bar_market, tick_market
from .metrics import compute_metrics, grid_micros, grid_returns
from .results import replace_runs, run_rows
from .strategy import IndicatorRef, Strategy, get_strategy

TICKS = schema.TICK_PRICES.name
#: The quality check whose threshold defines a recording gap, and its default factor.
GAPS_CHECK, DEFAULT_GAP_FACTOR = "gaps", 5.0
#: Metrics where less is better (a leaderboard sorts them ascending).
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown_duration_s", "fees", "spread_paid",
                             "slippage_paid", "turnover", "cancelled_signals"})
#: Runs of a grid stored per transaction.
GRID_BATCH_RUNS = 25
#: The most combinations one grid may have.
MAX_COMBINATIONS = 100_000


@dataclass(frozen=True)
class Settings:
    """How a run trades. ``interval``: None for ticks, else bars (``1m``). ``fill``:
    ``next`` (the next trade, or the next bar's open), ``quotes`` (ask/bid of the first
    quote after the decision; ticks only), ``same_point`` (look-ahead: only to show it).
    ``fee_bps``, ``slippage_bps``, ``size``, ``long_only``, ``cash``: see
    :class:`~tsanalysis.backtest.engine.Costs`. ``grid``: the metrics' sampling step."""

    interval: str | None = None
    fill: str = "next"
    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    size: float = 1.0
    long_only: bool = False
    cash: float = 10_000.0
    grid: str = "1m"

    def __post_init__(self) -> None:
        # Numbers as floats and flags as bools: the same run has the same id whether a
        # fee was given as 0 or 0.0.
        for name in ("fee_bps", "slippage_bps", "size", "cash"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"{name} must be a number, not {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "long_only", bool(self.long_only))
        if self.interval is not None:
            interval_seconds(self.interval)
        interval_seconds(self.grid)
        if self.fill not in FILLS:
            raise InvalidInput(f"unknown fill {self.fill!r}; fills: {', '.join(FILLS)}")
        if self.fill == "quotes" and self.interval is not None:
            raise InvalidInput("fill='quotes' works on ticks; bars fill at the next bar's open")
        try:
            self.costs()
        except ValueError as e:
            raise InvalidInput(str(e)) from None

    def costs(self) -> Costs:
        return Costs(float(self.fee_bps), float(self.slippage_bps), float(self.size),
                     bool(self.long_only), float(self.cash))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backtest_id(strategy: Strategy, params: Mapping[str, Any], symbol: str,
                settings: Settings) -> str:
    """The id of a run: the strategy's name and a digest of everything that decides its
    numbers (parameters, symbol, interval, fill and cost settings), so the same run always
    has the same id."""
    spec = {"strategy": strategy.key, "params": dict(params), "symbol": symbol,
            **settings.to_dict()}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode())
    return f"{strategy.key}-{digest.hexdigest()[:12]}"


@dataclass
class BacktestResult:
    """One run: its id, what was run, the metrics, and (for a run just made) the
    simulation with every point, fill and trade."""

    backtest_id: str
    session_id: str
    symbol: str
    strategy: str
    params: dict[str, Any]
    settings: dict[str, Any]
    metrics: dict[str, Any]
    indicator_ids: dict[str, str]
    rows_written: int = 0
    seconds: float = 0.0
    simulation: Simulation | None = field(default=None, repr=False)

    @property
    def equity(self) -> pd.DataFrame:
        """ts, equity, position at every point of the run."""
        sim = self._sim()
        return pd.DataFrame({"ts": from_micros(sim.market.ts), "equity": sim.equity,
                             "position": sim.position})

    @property
    def trades(self) -> pd.DataFrame:
        """One row per round trip (see :class:`~tsanalysis.backtest.engine.Trades`)."""
        t = self._sim().trades
        exit_ts = pd.Series(from_micros(np.maximum(t.exit_ts, 0))).where(t.exit_ts >= 0)
        return pd.DataFrame({"entry_ts": from_micros(t.entry_ts), "exit_ts": exit_ts,
                             "side": np.where(t.side > 0, "long", "short"), "size": t.size,
                             "entry_price": t.entry_price, "exit_price": t.exit_price,
                             "fees": t.fees, "pnl": t.pnl, "closed": t.closed})

    @property
    def fills(self) -> pd.DataFrame:
        """One row per fill: ts, side, price, units after, units traded, fee."""
        f = self._sim().fills
        return pd.DataFrame({"ts": from_micros(f.ts), "side": f.side, "price": f.price,
                             "units": f.units, "traded": f.delta, "fee": f.fee})

    def _sim(self) -> Simulation:
        if self.simulation is None:
            raise InvalidInput("this result holds metrics only (a grid run keeps no series); "
                               "read the stored run with ws.backtests.equity/trades")
        return self.simulation

    def to_dict(self) -> dict[str, Any]:
        return {"backtest_id": self.backtest_id, "session_id": self.session_id,
                "symbol": self.symbol, "strategy": self.strategy, "params": self.params,
                "settings": self.settings, "indicator_ids": self.indicator_ids,
                "metrics": self.metrics, "rows_written": self.rows_written,
                "seconds": round(self.seconds, 6)}


def parse_values(text: str) -> list[str]:
    """``7,14,21`` -> ['7', '14', '21'] (a grid's values on the command line)."""
    values = [v.strip() for v in str(text).split(",")]
    if not values or any(v == "" for v in values):
        raise InvalidInput(f"invalid grid values {text!r}: comma-separated, none empty")
    return values


class Prepared:
    """One session and symbol, read once, ready to run strategies on."""

    def __init__(self, store: Store, session_id: str, symbol: str, settings: Settings):
        check_symbol(symbol)
        self.store, self.session_id, self.symbol, self.settings = (store, session_id, symbol,
                                                                   settings)
        info = Sessions(store).get(session_id)  # SessionNotFound first
        self.inputs = load_inputs(store, session_id, symbol, settings.interval,
                                  cadence_s=info.cadence_s)
        if self.inputs.n == 0:
            what = f"bars at {settings.interval} or ticks" if settings.interval else "ticks"
            raise InvalidInput(f"no {what} for {symbol} in session {session_id!r} (symbols: "
                               f"{', '.join(info.symbols) or 'none'}): nothing to trade on")
        check = available_checks().get(GAPS_CHECK)
        factor = float(check.params["gap_factor"].default) if check else DEFAULT_GAP_FACTOR
        gap_s = CheckContext(store, info, symbol).gap_threshold(TICKS, factor)
        self.gap_threshold_s = gap_s
        gap_us = None if gap_s is None else gap_s * 1e6
        if settings.interval is None:
            quotes = self._quotes() if settings.fill == "quotes" else None
            self.market = tick_market(self.inputs.ts, self.inputs["close"], gap_us,
                                      settings.fill, quotes)
        else:
            step = interval_seconds(settings.interval) * 1_000_000
            self.market = bar_market(self.inputs.ts, self.inputs["open"],
                                     self.inputs["close"], step, gap_us, settings.fill)
        self._values: dict[str, np.ndarray] = {}

    def _quotes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.store.read_arrow(schema.TICK_ORDERBOOK.name, self.session_id,
                                  symbols=[self.symbol], columns=["ts", "bid_price",
                                                                  "ask_price"])
        f64 = lambda c: np.asarray(t.column(c).to_numpy(zero_copy_only=False),  # noqa: E731
                                   dtype=np.float64)
        return micros(t.column("ts")), f64("bid_price"), f64("ask_price")

    # -- indicators -----------------------------------------------------------------------

    def indicator_id(self, ref: IndicatorRef) -> str:
        ind = indicator_registry().get(ref.name)
        params = ind.check_params(ref.params)
        try:
            return ind.indicator_id(params, ref.output, self.settings.interval)
        except ValueError as e:
            raise InvalidInput(f"indicator {ref.name}: {e}") from None

    def indicator(self, ref: IndicatorRef) -> tuple[str, np.ndarray]:
        """The stored values of an indicator at this run's points (NaN where none is
        stored); computed and stored first when the store has fewer rows than points."""
        iid = self.indicator_id(ref)
        if iid not in self._values:
            values, stored = self._read(iid)
            if stored < self.inputs.n:
                compute_indicator(self.store, self.session_id, self.symbol, ref.name,
                                  ref.params, interval=self.settings.interval)
                values, _ = self._read(iid)
            self._values[iid] = values
        return iid, self._values[iid]

    def _read(self, iid: str) -> tuple[np.ndarray, int]:
        t = self.store.read_arrow(schema.INDICATORS.name, self.session_id,
                                  symbols=[self.symbol], columns=["ts", "seq", "value"],
                                  filters={"indicator_id": iid})
        ts = micros(t.column("ts"))
        seq = np.asarray(t.column("seq").to_numpy(), dtype=np.int64)
        value = np.asarray(t.column("value").to_numpy(zero_copy_only=False), dtype=np.float64)
        pts, pseq = self.inputs.ts, self.inputs.seq
        if len(ts) == len(pts) and np.array_equal(ts, pts) and np.array_equal(seq, pseq):
            return value, len(ts)
        # Only a value stored for the very point (its ts and seq) is used: never a later
        # one, never an interpolation.
        joined = pd.DataFrame({"ts": pts, "seq": pseq}).merge(
            pd.DataFrame({"ts": ts, "seq": seq, "value": value}), on=["ts", "seq"],
            how="left", validate="one_to_one")
        return joined["value"].to_numpy(dtype=np.float64), len(ts)

    # -- running --------------------------------------------------------------------------

    def run(self, strategy: Strategy, params: Mapping[str, Any] | None = None, *,
            persist: bool = True) -> BacktestResult:
        """Run one strategy with these parameters; store the run unless ``persist`` is
        False."""
        res, rows = self.simulate(strategy, params, rows=persist)
        if rows is not None:
            res.rows_written = replace_runs(self.store, self.session_id, self.symbol,
                                            {res.backtest_id: rows})
        return res

    def simulate(self, strategy: Strategy, params: Mapping[str, Any] | None = None, *,
                 rows: bool = True, keep_series: bool = True
                 ) -> tuple[BacktestResult, pa.Table | None]:
        """Run one strategy; return the result and, if ``rows``, the rows that store it.
        ``keep_series`` False drops the simulation (grids keep metrics only)."""
        t0 = time.perf_counter()
        full = strategy.check_params(params)
        refs = strategy.inputs(full)
        ids, ind = {}, {}
        for alias, ref in refs.items():
            ids[alias], ind[alias] = self.indicator(ref)
        target = strategy.run(self.inputs, ind, full)
        sim = simulate(self.market, target, self.settings.costs())
        grid_s = float(interval_seconds(self.settings.grid))
        grid = grid_returns(sim, grid_micros(grid_s))  # for the metrics and the stored curve
        metrics = compute_metrics(sim, grid_s, grid)
        metrics["gap_threshold_s"] = self.gap_threshold_s
        bid = backtest_id(strategy, full, self.symbol, self.settings)
        table = None
        if rows:
            table = run_rows(self.session_id, self.symbol, bid, strategy.name,
                             {"params": full, "settings": self.settings.to_dict(),
                              "indicator_ids": ids}, metrics, sim, grid[:3])
        res = BacktestResult(bid, self.session_id, self.symbol, strategy.name, full,
                             self.settings.to_dict(), metrics, ids, 0,
                             time.perf_counter() - t0, sim if keep_series else None)
        return res, table


def run(store: Store, session_id: str, symbol: str, strategy: str,
        params: Mapping[str, Any] | None = None, settings: Settings | None = None, *,
        persist: bool = True) -> BacktestResult:
    """Run ``strategy`` on a session's ``symbol`` and store the run (see the module doc).

    Raises :class:`~tsanalysis.backtest.UnknownStrategy` (naming the registered ones),
    ``InvalidParameter``/``InvalidInput`` for a bad parameter or setting (before reading
    anything), ``SessionNotFound``, and ``InvalidInput`` when the symbol has no prices.
    """
    strat = get_strategy(strategy)
    full = check_combination(strat, params)  # before any I/O
    prepared = Prepared(store, session_id, symbol, settings or Settings())
    return prepared.run(strat, full, persist=persist)


def combinations(strategy: Strategy, grid: Mapping[str, Iterable[Any]],
                 params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every combination of the grid's values (validated), over ``params``."""
    known = {p.name: p for p in strategy.params}
    axes: list[tuple[str, list[Any]]] = []
    for name, values in grid.items():
        if name not in known:
            raise InvalidInput(f"strategy {strategy.name}: unknown grid parameter {name!r}; "
                               f"parameters: {', '.join(known) or 'none'}")
        vals = parse_values(values) if isinstance(values, str) else list(values)
        if not vals:
            raise InvalidInput(f"grid parameter {name!r} has no values")
        axes.append((name, [known[name].coerce(v, strategy.name) for v in vals]))
    count = math.prod(len(v) for _, v in axes) if axes else 1
    if count > MAX_COMBINATIONS:
        raise InvalidInput(f"the grid has {count:,} combinations; at most "
                           f"{MAX_COMBINATIONS:,}")
    base = dict(params or {})
    combos = []
    for values in itertools.product(*(v for _, v in axes)):
        varied = dict(zip((n for n, _ in axes), values, strict=True))
        try:
            combos.append(check_combination(strategy, {**base, **varied}))
        except InvalidInput as e:
            named = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in varied.items())
            raise InvalidInput(f"grid combination {named}: {e}") from None
    return combos


def check_combination(strategy: Strategy, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The strategy's parameters, checked alone and together (its indicators' names and
    parameters too), before anything is read or stored."""
    full = strategy.check_params(params)
    for ref in strategy.inputs(full).values():
        ind = indicator_registry().get(ref.name)
        try:
            ind.indicator_id(ind.check_params(ref.params), ref.output)
        except ValueError as e:  # e.g. an indicator of several outputs, none named
            raise InvalidInput(f"indicator {ref.name}: {e}") from None
    return full


@dataclass
class GridResult:
    """Every run of a grid (metrics only) and the leaderboard by ``metric``."""

    metric: str
    runs: list[BacktestResult]

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per run, best first: backtest_id, the parameters, the metric, and the
        headline metrics."""
        rows = [{"backtest_id": r.backtest_id, **r.params, self.metric: r.metrics.get(
            self.metric), **{k: r.metrics.get(k) for k in ("total_return", "sharpe",
                                                           "max_drawdown", "trades")}}
                for r in self.runs]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        frame = frame.loc[:, ~frame.columns.duplicated()]
        return frame.sort_values(self.metric, ascending=self.metric in LOWER_IS_BETTER,
                                 na_position="last", kind="stable").reset_index(drop=True)

    def best(self) -> BacktestResult:
        return next(r for r in self.runs
                    if r.backtest_id == self.leaderboard["backtest_id"].iloc[0])


def run_grid(store: Store, session_id: str, symbol: str, strategy: str,
             grid: Mapping[str, Iterable[Any]], params: Mapping[str, Any] | None = None,
             settings: Settings | None = None, *, metric: str = "sharpe",
             persist: bool = True, progress: Progress | None = None) -> GridResult:
    """Run every combination of ``grid`` (name -> values) over ``params``; store each
    run; rank them by ``metric``. The prices are read once, each indicator once."""
    strat = get_strategy(strategy)
    combos = combinations(strat, grid, params)
    _check_metric(metric)
    prepared = Prepared(store, session_id, symbol, settings or Settings())
    runs: list[BacktestResult] = []
    pending: dict[str, tuple[BacktestResult, pa.Table]] = {}
    flushed = time.monotonic()

    def flush() -> None:
        nonlocal flushed
        if pending:
            replace_runs(store, session_id, symbol, {b: t for b, (_, t) in pending.items()})
            for res, table in pending.values():
                res.rows_written = table.num_rows
            pending.clear()
        flushed = time.monotonic()

    # Runs are stored a batch at a time (one transaction, one delete and one write per
    # batch: a commit costs more than a run); a progress callback that raises (a Cancel)
    # still finds every finished run stored.
    try:
        for i, combo in enumerate(combos):
            res, table = prepared.simulate(strat, combo, rows=persist, keep_series=False)
            runs.append(res)
            if table is not None:
                pending[res.backtest_id] = (res, table)
            if len(pending) >= GRID_BATCH_RUNS or time.monotonic() - flushed > 1.0:
                flush()
            if progress:
                progress(i + 1, len(combos))
    finally:
        flush()
    return GridResult(metric, runs)


def _check_metric(metric: str) -> None:
    known = METRIC_NAMES
    if metric not in known:
        raise InvalidInput(f"unknown metric {metric!r}; metrics: {', '.join(sorted(known))}")


#: The metrics a leaderboard can rank by (numbers).
METRIC_NAMES = frozenset({
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_duration_s", "calmar", "trades", "win_rate", "profit_factor",
    "expectancy", "sqn", "exposure", "fills", "cancelled_signals", "fees", "spread_paid",
    "slippage_paid", "turnover", "buy_and_hold", "end_equity"})

