"""pytest fixtures for plugin authors: a temporary store holding a demo session.

tsanalysis installs this module as a pytest plugin (the ``pytest11`` entry point), so a
plugin's tests use the fixtures without any conftest. A whole test of an indicator::

    from tsanalysis.testing import check_indicator

    def test_spread(tsanalysis_demo):
        check_indicator(tsanalysis_demo, "myplugin.spread", interval="1m")

and of a strategy: ``check_strategy(tsanalysis_demo, "myplugin.above_ema")``.

Fixtures
    ``tsanalysis_demo``   a :class:`DemoSession`: a workspace on a fresh DuckDB file in the
                          test's ``tmp_path`` holding a completed one-hour demo session
                          (BTC/USDT and ETH/USDT ticks, quotes, stored 1m bars, with the
                          demo's recorded defects). Built once per run, copied per test.
    ``tsanalysis_ws``     the workspace of ``tsanalysis_demo``.
    ``tsanalysis_register`` register a plugin object (a module or class with hook
                          implementations) for one test.
    ``tsanalysis_load_plugins`` load installed plugins by name for one test (as
                          ``TSANALYSIS_LOAD_PLUGINS`` would).

Which installed plugins load
    ``TSANALYSIS_LOAD_PLUGINS`` decides, as everywhere. A plugin's test suite can name
    itself in its pytest configuration, which sets that variable for the run::

        [tool.pytest.ini_options]
        tsanalysis_plugins = ["tsanalysis-myplugin"]
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from .backtest import BacktestResult
    from .indicators import ComputeResult
    from .sessions import SessionInfo
    from .workspace import Workspace

DEMO_SESSION = "demo-plugin-tests"
DEMO_SYMBOLS = ("BTC/USDT", "ETH/USDT")
DEMO_HOURS = 1.0


@dataclass
class DemoSession:
    """A workspace holding one completed demo session, for a plugin's tests."""

    ws: Workspace
    session_id: str
    symbols: tuple[str, ...]
    info: SessionInfo = field(repr=False)

    @property
    def symbol(self) -> str:
        """The first symbol (BTC/USDT)."""
        return self.symbols[0]

    def compute(self, name: str, params: Mapping[str, Any] | None = None, *,
                interval: str | None = None, symbol: str | None = None,
                persist: bool = True, **kwparams: Any) -> ComputeResult:
        """Compute an indicator on the demo session (see ``ws.indicators.compute``)."""
        return self.ws.indicators.compute(self.session_id, symbol or self.symbol, name,
                                          {**(params or {}), **kwparams}, interval=interval,
                                          persist=persist)

    def backtest(self, strategy: str, params: Mapping[str, Any] | None = None, *,
                 symbol: str | None = None, **settings: Any) -> BacktestResult:
        """Run a strategy on the demo session (see ``ws.backtests.run``)."""
        return self.ws.backtests.run(self.session_id, symbol or self.symbol, strategy,
                                     params, **settings)

    def history(self, indicator_id: str, symbol: str | None = None,
                **kwargs: Any) -> pd.DataFrame:
        """Stored values of an indicator id (see ``ws.indicators.history``)."""
        return self.ws.indicators.history(self.session_id, symbol or self.symbol, indicator_id,
                                          **kwargs)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("tsanalysis_plugins", "installed tsanalysis plugins to load in this run "
                  "(entry-point or distribution names); sets TSANALYSIS_LOAD_PLUGINS",
                  type="args", default=None)


def pytest_configure(config: pytest.Config) -> None:
    names = config.getini("tsanalysis_plugins")
    if names:
        from .plugins import ENV_LOAD_PLUGINS, reset

        os.environ[ENV_LOAD_PLUGINS] = ",".join(names)
        reset()


@pytest.fixture(scope="session")
def tsanalysis_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding the demo session, written once per test run."""
    import tsanalysis

    path = tmp_path_factory.mktemp("tsanalysis-demo") / "demo.duckdb"
    with tsanalysis.connect(f"duckdb:///{path}") as ws:
        ws.demo(DEMO_SESSION, symbols=DEMO_SYMBOLS, hours=DEMO_HOURS, seed=42,
                bar_intervals=("1m",))
    return path


@pytest.fixture
def tsanalysis_demo(tsanalysis_demo_template: Path, tmp_path: Path) -> Iterator[DemoSession]:
    """A workspace on a private copy of the demo store (the test may change it freely)."""
    import tsanalysis

    path = tmp_path / "tsanalysis.duckdb"
    shutil.copyfile(tsanalysis_demo_template, path)
    ws = tsanalysis.connect(f"duckdb:///{path}")
    try:
        yield DemoSession(ws, DEMO_SESSION, DEMO_SYMBOLS, ws.sessions.get(DEMO_SESSION))
    finally:
        ws.close()


@pytest.fixture
def tsanalysis_ws(tsanalysis_demo: DemoSession) -> Workspace:
    """The workspace of ``tsanalysis_demo``."""
    return tsanalysis_demo.ws


@pytest.fixture
def tsanalysis_register() -> Iterator[Callable[..., str]]:
    """``register(plugin, name=None)``: a plugin object registered until the test ends."""
    from . import plugins

    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        names.append(plugins.register(plugin, name))
        return names[-1]

    yield register
    for name in reversed(names):
        plugins.unregister(name)


@pytest.fixture
def tsanalysis_load_plugins() -> Iterator[Callable[..., None]]:
    """``load(*names)``: load these installed plugins (and the built-ins) for the test."""
    from . import plugins

    before = os.environ.get(plugins.ENV_LOAD_PLUGINS)

    def load(*names: str) -> None:
        os.environ[plugins.ENV_LOAD_PLUGINS] = ",".join(names)
        plugins.reset()

    yield load
    if before is None:
        os.environ.pop(plugins.ENV_LOAD_PLUGINS, None)
    else:
        os.environ[plugins.ENV_LOAD_PLUGINS] = before
    plugins.reset()


def check_indicator(demo: DemoSession, name: str, params: Mapping[str, Any] | None = None,
                    *, interval: str | None = None, symbol: str | None = None,
                    tolerance: float = 1e-9) -> ComputeResult:
    """Check the contract every indicator meets, on the demo session; return the result.

    * it computes one value per input point and output, stored under ids that
      :func:`~tsanalysis.indicators.parse_indicator_id` reads back;
    * the declared warm-up is NaN, and there is a value after it;
    * the stored history is what was computed; computing again replaces the rows;
    * after new ticks, ``update`` gives what a full recompute gives (to ``tolerance`` of
      the values' scale), on a copy of the session made for the purpose.
    """
    import numpy as np

    from .indicators import get, parse_indicator_id

    ws, sym = demo.ws, symbol or demo.symbol
    ind = get(name)
    full = ind.check_params(params)
    res = demo.compute(name, full, interval=interval, symbol=sym)
    assert res.rows > 0, f"{name}: no input points"
    assert set(res.outputs) == set(ind.outputs)
    warm = ind.warmup(full)
    for output, iid in res.outputs.items():
        parsed = parse_indicator_id(iid)
        assert parsed is not None and (parsed.indicator.name, parsed.params, parsed.output,
                                       parsed.interval) == (ind.name, full, output, interval), \
            f"{iid} does not read back as {name} {full} {output} {interval}"
        values = res.frame[output].to_numpy()
        assert len(values) == res.rows
        first = int(np.argmax(~np.isnan(values))) if (~np.isnan(values)).any() else None
        assert first is not None, f"{iid}: every value is NaN"
        assert first >= warm, (f"{iid}: declares a warm-up of {warm} points but has a value "
                               f"at point {first}")
        stored = demo.history(iid, sym)["value"].to_numpy()
        _assert_same(stored, values, 0.0, f"{iid}: stored history")
    again = demo.compute(name, full, interval=interval, symbol=sym)
    stats = ws.store.indicator_stats(demo.session_id, [sym])
    for iid in again.outputs.values():
        assert int(stats.loc[stats["indicator_id"] == iid, "rows"].iloc[0]) == again.rows, \
            f"{iid}: computing again duplicated rows"
    _check_update(demo, ind.name, full, interval, sym, res, tolerance)
    return res


def check_strategy(demo: DemoSession, name: str, params: Mapping[str, Any] | None = None,
                   *, interval: str | None = None, symbol: str | None = None,
                   **settings: Any) -> BacktestResult:
    """Check the contract every strategy meets, on the demo session; return the run.

    * its signal gives one target per point, within -1..1 (0..1 when ``long_only``), and
      is the same computed twice;
    * its indicators are read from the store (computed and stored when missing);
    * it runs through the engine with next-point fills: at least one fill, every fill
      after the point that decided it, and it is stored: listed, shown with the same
      metrics, the same id and numbers when run again.
    """
    import numpy as np

    from .backtest import get_strategy
    from .backtest.runner import Prepared, Settings

    ws, sym = demo.ws, symbol or demo.symbol
    strat = get_strategy(name)
    full = strat.check_params(params)
    prep = Prepared(ws.store, demo.session_id, sym, Settings(interval=interval, **settings))
    ind = {alias: prep.indicator(ref)[1] for alias, ref in strat.inputs(full).items()}
    target = strat.run(prep.inputs, ind, full)
    again = strat.run(prep.inputs, ind, full)
    assert np.array_equal(target, again, equal_nan=True), f"{name}: signal not repeatable"
    finite = target[np.isfinite(target)]
    low = 0.0 if strat.long_only else -1.0
    assert ((finite >= low) & (finite <= 1.0)).all(), (
        f"{name}: targets outside {low}..1: {np.unique(finite[(finite < low) | (finite > 1)])}")
    stored = set(ws.indicators.stored(demo.session_id, sym)["indicator_id"])
    ids = {alias: prep.indicator_id(ref) for alias, ref in strat.inputs(full).items()}
    assert set(ids.values()) <= stored, f"{name}: indicators not stored: {ids}"
    res = ws.backtests.run(demo.session_id, sym, name, full, interval=interval, **settings)
    assert res.metrics["fills"] > 0, f"{name}: no fill on the demo session"
    fills = res.simulation.fills if res.simulation is not None else None
    assert fills is not None and (fills.point > fills.decision).all(), \
        f"{name}: a fill at the point that decided it"
    assert res.backtest_id in set(ws.backtests.list(demo.session_id)["backtest_id"])
    assert ws.backtests.show(demo.session_id, res.backtest_id)["metrics"] == res.metrics
    rerun = ws.backtests.run(demo.session_id, sym, name, full, interval=interval, **settings)
    assert (rerun.backtest_id, rerun.metrics) == (res.backtest_id, res.metrics), \
        f"{name}: a second run differs"
    return res


def _check_update(demo: DemoSession, name: str, params: dict[str, Any], interval: str | None,
                  symbol: str, res: ComputeResult, tolerance: float) -> None:
    """Compute on the first 80 % of the ticks, add the rest, update, compare."""
    ws = demo.ws
    ticks = ws.ticks(demo.session_id, symbol)
    cut = int(len(ticks) * 0.8)
    sid = f"{demo.session_id}-update-check"
    ws.sessions.create([symbol], sid, cadence_s=demo.info.cadence_s)
    cols = ["ts", "price", "volume", "side", "trade_id"]
    try:
        ws.ingest(sid, symbol, ticks[cols].iloc[:cut])
        ws.indicators.compute(sid, symbol, name, params, interval=interval)
        ws.ingest(sid, symbol, ticks[cols].iloc[cut:])
        ws.indicators.update(sid)
        full = ws.indicators.compute(sid, symbol, name, params, interval=interval,
                                     persist=False)
        for output, iid in full.outputs.items():
            got = ws.indicators.history(sid, symbol, iid)["value"].to_numpy()
            _assert_same(got, full.frame[output].to_numpy(), tolerance,
                         f"{iid}: update differs from a full recompute")
    finally:
        ws.sessions.delete(sid, force=True)


def _assert_same(a: Any, b: Any, tol: float, what: str) -> None:
    import numpy as np

    assert a.shape == b.shape, f"{what}: {a.shape} points, expected {b.shape}"
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    assert (nan_a == nan_b).all(), f"{what}: NaN at different points"
    ok = ~nan_b
    if ok.any():
        scale = max(1.0, float(np.abs(b[ok]).max()))
        err = float(np.abs(a[ok] - b[ok]).max())
        assert err <= tol * scale, f"{what}: off by {err:.3g}"
