"""BacktestPanel: run a registered strategy on the selected session, see its equity,
drawdown, trades and metrics, run a grid of parameters, and reopen or delete stored runs."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import pandas as pd

from ..bars import STANDARD_INTERVALS
from ..errors import InvalidInput
from . import _plot
from ._base import Cancelled, Panel, esc, fmt_ts, html_table, plain_text
from ._form import ParamForm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..backtest import BacktestResult, GridResult, Strategy

#: The fills the panel offers (``same_point`` is a look-ahead, left to code).
PANEL_FILLS = ("next", "quotes")
#: Trades listed under the picture (the newest; the store has them all).
TRADES_SHOWN = 20
#: Grids up to this size are checked combination by combination as they are typed.
LIVE_CHECK_COMBINATIONS = 1_000
#: Metrics shown first, in this order; the others follow by name.
HEADLINE = ("total_return", "buy_and_hold", "sharpe", "sortino", "max_drawdown",
            "max_drawdown_duration_s", "calmar", "cagr", "volatility", "trades", "win_rate",
            "profit_factor", "expectancy", "sqn", "exposure", "fills", "cancelled_signals",
            "fees", "spread_paid", "slippage_paid", "turnover", "start_equity", "end_equity")
#: Metrics that are fractions, shown as percentages.
PERCENT = frozenset({"total_return", "buy_and_hold", "max_drawdown", "cagr", "volatility",
                     "win_rate", "exposure"})
#: Metrics that are instants, in microseconds since the epoch.
INSTANTS = frozenset({"start", "end"})
_GRID_ITEM = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*=\s*(.+?)\s*$")


def fmt_metric(name: str, value: Any) -> str:
    """One metric as text: fractions as %, instants as UTC times, counts as integers."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in INSTANTS and isinstance(value, (int, float)):
        return fmt_ts(pd.Timestamp(int(value), unit="us", tz="UTC"))
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    if name in PERCENT:
        return f"{100 * value:+.3f} %" if name in ("total_return", "buy_and_hold") \
            else f"{100 * value:.3f} %"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"


def parse_grid(text: str) -> dict[str, list[str]]:
    """``"timeperiod=7,14,21; lower=20,30"`` -> {"timeperiod": ["7", "14", "21"], ...}
    (items separated by ``;`` or new lines; values by commas)."""
    grid: dict[str, list[str]] = {}
    for item in re.split(r"[;\n]", text or ""):
        if not item.strip():
            continue
        m = _GRID_ITEM.match(item)
        if m is None:
            raise InvalidInput(f"grid item {item.strip()!r}: write name=value,value,...")
        name, values = m.group(1), [v.strip() for v in m.group(2).split(",")]
        if any(v == "" for v in values):
            raise InvalidInput(f"grid parameter {name!r}: comma-separated values, none empty")
        if name in grid:
            raise InvalidInput(f"grid parameter {name!r} is given twice")
        grid[name] = values
    return grid


class BacktestPanel(Panel):
    """Backtest any registered strategy (plugins included) on the selected session.

    Pick the strategy; its parameters appear as a form generated from what it declares
    (a value out of bounds shows the strategy's own message and keeps *Run* disabled).
    Pick the symbol, the points (ticks, or bars at an interval), how orders fill (the
    next trade or bar open, or the first quote after the decision), fees and slippage in
    basis points, and long-only, then press *Run*: the run is stored, and the panel draws
    the price with the trades, the equity and its drawdown, and lists the metrics (as
    stored) and the trades. *Run grid* runs every combination of the values typed in the
    grid box (``timeperiod=7,14,21; lower=20,30``) with a progress bar and Cancel, stores
    each run, shows the leaderboard and opens the best. The lower part lists the
    session's stored runs: pick one to reopen it (its equity on the metrics grid, its
    trades and metrics, read from the store), or delete it.

    >>> panel = BacktestPanel(ws, session_id=sid)
    >>> panel.select_strategy("threshold")
    >>> panel.form.set(timeperiod=21)
    >>> panel.configure(symbol="BTC/USDT", fee_bps=10)
    >>> panel.backtest().metrics["sharpe"]      # what the Run button does
    >>> panel.set_grid("lower=20,25,30"); panel.grid().leaderboard
    >>> panel.show_run(backtest_id); panel.delete(backtest_id)
    """

    title: ClassVar[str] = "Backtests"

    def _build(self) -> Sequence[widgets.Widget]:
        #: The last run made in the panel (with its simulation), or None.
        self.result: BacktestResult | None = None
        #: The last grid run in the panel, or None.
        self.grid_result: GridResult | None = None
        #: The run shown: its stored record (backtest_id, symbol, strategy, parameters,
        #: metrics), as :meth:`Backtests.show` returns it; None when none is shown.
        self.record: dict[str, Any] | None = None
        #: The equity and trades drawn for the run shown.
        self.equity: pd.DataFrame | None = None
        self.trades: pd.DataFrame | None = None
        #: The last picture (a matplotlib Figure).
        self.figure: Figure | None = None
        self._runs = pd.DataFrame()
        self._names: list[str] = []
        self._form_of: str | None = None
        self._symbols_of: str | None = None
        self._setting_runs = False
        style = {"description_width": "7em"}
        wide = widgets.Layout(width="22em")
        self._strategy = widgets.Dropdown(description="strategy", options=[], style=style,
                                          layout=wide)
        self._strategy.add_class("tsanalysis-backtest-strategy")
        self._doc = widgets.HTML()
        self._form = ParamForm([])
        self._form_box = widgets.VBox()
        self._symbol = widgets.Dropdown(description="symbol", options=[], style=style,
                                        layout=wide)
        self._symbol.add_class("tsanalysis-backtest-symbol")
        self._interval = widgets.Dropdown(
            description="points", style=style, layout=wide,
            options=[("ticks", "")] + [(f"{i} bars", i) for i in STANDARD_INTERVALS])
        self._fill = widgets.Dropdown(description="fill", options=list(PANEL_FILLS),
                                      value="next", style=style, layout=wide,
                                      tooltip="next: the next trade (or the next bar's open); "
                                              "quotes: the ask (buy) or bid (sell) of the "
                                              "first quote after the decision")
        self._fee = widgets.FloatText(value=0.0, description="fee bps", style=style,
                                      layout=wide)
        self._slippage = widgets.FloatText(value=0.0, description="slippage bps",
                                           style=style, layout=wide)
        self._long_only = widgets.Checkbox(value=False, description="long only", indent=False)
        self._settings_error = widgets.HTML()
        self._run_button = widgets.Button(description="Run", icon="play",
                                          button_style="primary",
                                          layout=widgets.Layout(width="auto"))
        self._run_button.add_class("tsanalysis-backtest-run")
        self._on_click(self._run_button, self.backtest, label="Running the backtest",
                       unit="run")
        self._grid = widgets.Text(value="", description="grid", style=style,
                                  placeholder="timeperiod=7,14,21; lower=20,25,30",
                                  layout=widgets.Layout(width="34em"))
        self._grid.add_class("tsanalysis-backtest-grid")
        self._metric = widgets.Dropdown(description="rank by", style=style, layout=wide,
                                        options=_metric_names(), value="sharpe")
        self._grid_note = widgets.HTML()
        self._grid_button = widgets.Button(description="Run grid", icon="th",
                                           layout=widgets.Layout(width="auto"))
        self._grid_button.add_class("tsanalysis-backtest-grid-run")
        self._on_click(self._grid_button, self.grid, label="Running the grid", unit="runs",
                       cancellable=True)
        self._why = widgets.HTML()
        self._headline = widgets.HTML()
        self._headline.add_class("tsanalysis-backtest-headline")
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%",
                                                                        display="none"))
        self._image.add_class("tsanalysis-backtest-plot")
        self._metrics_box = widgets.HTML(layout=widgets.Layout(max_height="22em",
                                                               overflow="auto"))
        self._metrics_box.add_class("tsanalysis-backtest-metrics")
        self._trades_box = widgets.HTML(layout=widgets.Layout(max_height="16em",
                                                              overflow="auto"))
        self._trades_box.add_class("tsanalysis-backtest-trades")
        self._leaderboard_box = widgets.HTML(layout=widgets.Layout(max_height="16em",
                                                                   overflow="auto"))
        self._leaderboard_box.add_class("tsanalysis-backtest-leaderboard")
        self._runs_table = widgets.HTML(layout=widgets.Layout(max_height="16em",
                                                              overflow="auto"))
        self._runs_table.add_class("tsanalysis-backtest-runs")
        self._runs_select = widgets.Dropdown(description="stored run", options=[], value=None,
                                             style=style, layout=widgets.Layout(width="40em"))
        self._runs_select.add_class("tsanalysis-backtest-runs-select")
        self._on_change(self._runs_select, self._run_selected, key="open")
        self._delete_button = widgets.Button(description="Delete run", icon="trash",
                                             button_style="danger",
                                             layout=widgets.Layout(width="auto"))
        self._delete_button.add_class("tsanalysis-backtest-delete")
        self._on_click(self._delete_button, self.delete, label="Deleting the run")
        self._strategy.observe(lambda _: self._strategy_changed(), names="value")
        for w in (self._symbol, self._interval, self._fill, self._fee, self._slippage,
                  self._long_only, self._grid, self._metric):
            w.observe(lambda _: self._update_controls(), names="value")
        self.reload_strategies()
        return [widgets.HBox([self._strategy, self._doc]), self._form_box,
                widgets.HBox([widgets.VBox([self._symbol, self._interval, self._fill]),
                              widgets.VBox([self._fee, self._slippage, self._long_only])]),
                self._settings_error, widgets.HBox([self._run_button, self._why]),
                widgets.HBox([self._grid, self._metric]),
                widgets.HBox([self._grid_button, self._grid_note]),
                self._headline, self._image, self._metrics_box, self._trades_box,
                self._leaderboard_box, widgets.HTML("<b>Stored runs of this session</b>"),
                self._runs_table, widgets.HBox([self._runs_select, self._delete_button])]

    # -- public ----------------------------------------------------------------------------

    @property
    def strategies(self) -> list[str]:
        """Every registered strategy the panel offers (plugins included)."""
        return list(self._names)

    @property
    def strategy(self) -> Strategy | None:
        """The strategy chosen."""
        from ..backtest import get_strategy

        return get_strategy(self._strategy.value) if self._strategy.value else None

    @property
    def form(self) -> ParamForm:
        """The chosen strategy's parameter form."""
        return self._form

    @property
    def symbol(self) -> str | None:
        return self._symbol.value

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics of the run shown, as stored (empty when none is shown)."""
        return dict(self.record["metrics"]) if self.record else {}

    @property
    def runs(self) -> pd.DataFrame:
        """The session's stored runs (:meth:`Backtests.list`), as last loaded."""
        return self._runs.copy()

    @property
    def run_ids(self) -> list[str]:
        return [] if self._runs.empty else list(self._runs["backtest_id"])

    @property
    def shown(self) -> str | None:
        """The backtest id of the run shown."""
        return self.record["backtest_id"] if self.record else None

    @property
    def png(self) -> bytes:
        return bytes(self._image.value)

    @property
    def headline_text(self) -> str:
        return plain_text(self._headline.value)

    @property
    def metrics_text(self) -> str:
        return plain_text(self._metrics_box.value)

    @property
    def runs_text(self) -> str:
        return plain_text(self._runs_table.value)

    @property
    def leaderboard_text(self) -> str:
        return plain_text(self._leaderboard_box.value)

    def select_strategy(self, name: str) -> None:
        """Choose a strategy by name (case-insensitive); its form replaces the last one."""
        from ..backtest import get_strategy

        self._strategy.value = get_strategy(name).key

    def configure(self, *, symbol: str | None = None, interval: Any = ...,
                  fill: str | None = None, fee_bps: float | None = None,
                  slippage_bps: float | None = None, long_only: bool | None = None) -> None:
        """Set the run's settings as a user would (arguments left out stay as they are;
        ``interval=None`` means ticks)."""
        if symbol is not None:
            if symbol not in self._symbol.options:
                raise InvalidInput(f"symbol {symbol!r} is not in the session; its symbols: "
                                   f"{', '.join(self._symbol.options) or 'none'}")
            self._symbol.value = symbol
        if interval is not ...:
            if interval not in (None, *STANDARD_INTERVALS):
                raise InvalidInput(f"interval {interval!r}: one of "
                                   f"{', '.join(STANDARD_INTERVALS)} (or None for ticks)")
            self._interval.value = interval or ""
        if fill is not None:
            if fill not in PANEL_FILLS:
                raise InvalidInput(f"fill {fill!r}: one of {', '.join(PANEL_FILLS)}")
            self._fill.value = fill
        if fee_bps is not None:
            self._fee.value = float(fee_bps)
        if slippage_bps is not None:
            self._slippage.value = float(slippage_bps)
        if long_only is not None:
            self._long_only.value = bool(long_only)

    def settings(self) -> dict[str, Any]:
        """The run's settings as :meth:`Backtests.run` takes them (raises when invalid)."""
        from ..backtest import Settings

        values = {"interval": self._interval.value or None, "fill": self._fill.value,
                  "fee_bps": float(self._fee.value), "slippage_bps": float(self._slippage.value),
                  "long_only": bool(self._long_only.value)}
        Settings(**values)  # the core's checks, with the core's messages
        return values

    def set_grid(self, text: str, metric: str | None = None) -> None:
        """Type the grid (``"timeperiod=7,14,21; lower=20,30"``) and the ranking metric."""
        self._grid.value = text
        if metric is not None:
            if metric not in self._metric.options:
                raise InvalidInput(f"unknown metric {metric!r}; metrics: "
                                   f"{', '.join(self._metric.options)}")
            self._metric.value = metric

    def grid_values(self) -> dict[str, list[Any]]:
        """The grid typed, each value checked by its parameter (raises when invalid)."""
        strat = self._need_strategy()
        grid = parse_grid(self._grid.value)
        if not grid:
            raise InvalidInput("the grid is empty: type name=value,value,... "
                               "(e.g. timeperiod=7,14,21)")
        known = {p.name: p for p in strat.params}
        unknown = [k for k in grid if k not in known]
        if unknown:
            raise InvalidInput(f"strategy {strat.name}: unknown grid parameter "
                               f"{unknown[0]!r}; parameters: {', '.join(known) or 'none'}")
        return {k: [known[k].coerce(v, strat.name) for v in vals] for k, vals in grid.items()}

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of the grid over the form's values, each checked the way a
        single run is checked before it reads anything (the parameters together, the
        indicators they name); raises :class:`InvalidInput` at the first bad one."""
        from ..backtest import combinations

        strat = self._need_strategy()
        return combinations(strat, self.grid_values(), self._form.values())

    def backtest(self) -> BacktestResult:
        """Run the chosen strategy with the form's values and the settings on the chosen
        symbol, store the run and show it (the metrics read back from the store). Raises
        :class:`InvalidInput` (nothing stored) without a session or symbol, or with an
        invalid parameter or setting."""
        sid, symbol, strat, params, settings = self._inputs()
        self.progress(0, 1)
        res = self._ws.backtests.run(sid, symbol, strat.name, params, **settings)
        self.progress(1, 1)
        self.result = res
        record = self._ws.backtests.show(sid, res.backtest_id)
        self._show(record, res.equity[["ts", "equity"]], res.trades,
                   f"{len(res.equity):,} points (equity at every point)")
        self._leaderboard_box.value = ""
        m = record["metrics"]
        self.set_status(f"Ran {esc(strat.name)} on {esc(symbol)} in {res.seconds:.2f} s: "
                        f"total return {esc(fmt_metric('total_return', m.get('total_return')))}"
                        f", {esc(fmt_metric('trades', m.get('trades')))} trade(s); stored as "
                        f"<code>{esc(res.backtest_id)}</code> ({res.rows_written:,} rows)",
                        kind="success")
        return res

    def grid(self) -> GridResult:
        """Run every combination of the grid typed over the form's values, store each run,
        show the leaderboard and open the best run. Progress counts runs; Cancel stops
        after the run in progress (the runs finished stay stored)."""
        sid, symbol, strat, params, settings = self._inputs()
        grid = self.grid_values()
        # The core checks a combination's parameters together only when it comes to run
        # it: check them all first, so that a bad one stores nothing.
        total = len(self.combinations())
        done = [0]

        def progress(n: int, of: int) -> None:
            done[0] = n
            self.progress(n, of)

        self.progress(0, total)
        try:
            res = self._ws.backtests.grid(sid, symbol, strat.name, grid, params,
                                          metric=self._metric.value, progress=progress,
                                          **settings)
        except Cancelled:
            self._leaderboard_box.value = (
                f"<i>Grid cancelled after {done[0]:,} of {total:,} runs; the runs finished "
                "are stored and listed below.</i>")
            raise
        self.grid_result = res
        board = res.leaderboard
        self._leaderboard_box.value = _leaderboard_html(board, self._metric.value)
        best = str(board["backtest_id"].iloc[0])
        self.show_run(best)
        self.set_status(f"Ran {len(res.runs):,} combinations of {esc(strat.name)} on "
                        f"{esc(symbol)}; best by {esc(res.metric)}: <code>{esc(best)}</code>",
                        kind="success")
        return res

    def show_run(self, backtest_id: str) -> dict[str, Any]:
        """Show a stored run of the session: its equity on the metrics grid, its trades and
        its metrics, read from the store. Returns its record (:meth:`Backtests.show`)."""
        sid = self._need_session()
        record = self._ws.backtests.show(sid, backtest_id)
        equity = self._ws.backtests.equity(sid, backtest_id)
        trades = self._ws.backtests.trades(sid, backtest_id)
        grid = record["parameters"].get("settings", {}).get("grid", "")
        self._show(record, equity[["ts", "equity"]], trades,
                   f"stored run: equity on its {grid} grid")
        return record

    def delete(self, backtest_id: str | None = None) -> int:
        """Delete a stored run (default: the one picked in the list); return the rows
        removed."""
        sid = self._need_session()
        backtest_id = backtest_id or self._runs_select.value
        if not backtest_id:
            raise InvalidInput("no stored run picked: pick one in the list to delete")
        rows = self._ws.backtests.delete(sid, backtest_id)
        if self.shown == backtest_id:
            self._clear_result()
        self.refresh_runs()
        self.set_status(f"Deleted run <code>{esc(backtest_id)}</code>: {rows:,} rows removed",
                        kind="success")
        return rows

    def reload_strategies(self) -> None:
        """Offer the strategies registered now (a plugin registered since shows up)."""
        from ..backtest import strategies
        from ..backtest.strategy import REGISTRY

        registered = strategies()
        names = list(registered)
        if names == self._names:
            return
        current = self._strategy.value
        options = []
        for key, strat in registered.items():
            plugin = REGISTRY.plugin(key) or ""
            third_party = bool(plugin) and not plugin.startswith("tsanalysis.")
            options.append((strat.name + (" (plugin)" if third_party else ""), key))
        self._names = names
        self._strategy.options = options
        self._strategy.value = current if current in names else \
            ("threshold" if "threshold" in names else (names[0] if names else None))
        if self._form_of != self._strategy.value:  # the value did not change: no event
            self._strategy_changed()

    def refresh_runs(self) -> None:
        """Reload the list of the session's stored runs."""
        sid = self.session_id
        self._runs = pd.DataFrame() if sid is None else self._ws.backtests.list(sid)
        if self._runs.empty:
            self._runs_table.value = "<i>No run stored yet.</i>" if sid else ""
            options: list[tuple[str, Any]] = []
        else:
            rows = [[r.backtest_id, r.symbol, r.strategy,
                     _params_text(r.parameters.get("params", {}), r.strategy),
                     fmt_metric("total_return", r.total_return), fmt_metric("sharpe", r.sharpe),
                     fmt_metric("max_drawdown", r.max_drawdown), fmt_metric("trades", r.trades),
                     fmt_metric("fees", r.fees)]
                    for r in self._runs.itertuples()]
            self._runs_table.value = html_table(
                ["backtest id", "symbol", "strategy", "parameters", "total return", "sharpe",
                 "max drawdown", "trades", "fees"], rows, align="llllrrrrr")
            options = [(f"{r.backtest_id} · {r.symbol} · "
                        f"{fmt_metric('total_return', r.total_return)}", r.backtest_id)
                       for r in self._runs.itertuples()]
        keep = self._runs_select.value if any(v == self._runs_select.value
                                              for _, v in options) else None
        self._select_run(options, keep)
        if self.shown is not None and self.shown not in self.run_ids:
            self._clear_result()  # deleted elsewhere
        self._update_controls()

    def refresh(self) -> None:
        """Reload the strategies, the session's symbols and its stored runs."""
        self.reload_strategies()
        sid = self.session_id
        if sid != self._symbols_of:
            self._clear_result()
            self._leaderboard_box.value = ""
        if sid is None:
            self._symbol.options = []
        else:
            info = self._ws.sessions.get(sid, stats=False)
            chosen = self._symbol.value if self._symbol.value in info.symbols else None
            self._symbol.options = list(info.symbols)
            self._symbol.value = chosen or (info.symbols[0] if info.symbols else None)
        self._symbols_of = sid
        self.refresh_runs()

    # -- internals -------------------------------------------------------------------------

    def _need_session(self) -> str:
        if self.session_id is None:
            raise InvalidInput("no session selected: select one to backtest on")
        return self.session_id

    def _need_strategy(self) -> Strategy:
        strat = self.strategy
        if strat is None:
            raise InvalidInput("no strategy registered")
        return strat

    def _inputs(self) -> tuple[str, str, Strategy, dict[str, Any], dict[str, Any]]:
        sid = self._need_session()
        self._ws.sessions.get(sid, stats=False)  # SessionNotFound before anything else
        strat = self._need_strategy()
        params = self._form.values()
        settings = self.settings()
        symbol = self._symbol.value
        if not symbol:
            raise InvalidInput("no symbol: the session lists none")
        return sid, symbol, strat, params, settings

    def _strategy_changed(self) -> None:
        strat = self.strategy
        self._form_of = strat.key if strat is not None else None
        if strat is None:
            self._form = ParamForm([])
            self._form_box.children = []
            self._doc.value = ""
        else:
            from ..backtest import check_combination

            note = " · long only" if strat.long_only else ""
            self._doc.value = f'<span style="color:#6b7280">{esc(strat.doc)}{note}</span>'
            self._form = ParamForm(strat.params, owner=strat.name,
                                   check_all=lambda values, s=strat: check_combination(s, values),
                                   on_change=self._update_controls)
            self._form_box.children = [self._form.widget]
        self._update_controls()

    def _problem(self) -> str:
        if self.session_id is None:
            return "select a session"
        if self.strategy is None:
            return "no strategy registered"
        if not self._form.valid:
            return "fix the parameters"
        if not self._symbol.value:
            return "the session lists no symbol"
        if self._settings_error.value:
            return "fix the settings"
        return ""

    def _update_controls(self) -> None:
        if not hasattr(self, "_delete_button"):
            return
        try:
            self.settings()
            self._settings_error.value = ""
        except InvalidInput as e:
            self._settings_error.value = f'<span style="color:#cf222e">{esc(e)}</span>'
        problem = self._problem()
        self._run_button.disabled = self.busy or bool(problem)
        grid_problem = ""
        try:
            grid = self.grid_values()
        except InvalidInput as e:
            grid_problem = str(e) if self._grid.value.strip() else ""
            self._grid_note.value = (f'<span style="color:#cf222e">{esc(e)}</span>'
                                     if grid_problem else "")
            grid_problem = grid_problem or "type the grid's values"
        else:
            n = math.prod(len(v) for v in grid.values())
            self._grid_note.value = f'<span style="color:#6b7280">{n:,} combination(s)</span>'
            if n <= LIVE_CHECK_COMBINATIONS and self._form.valid:
                try:
                    self.combinations()
                except InvalidInput as e:
                    grid_problem = str(e)
                    self._grid_note.value = f'<span style="color:#cf222e">{esc(e)}</span>'
        self._grid_button.disabled = self.busy or bool(problem or grid_problem)
        self._delete_button.disabled = self.busy or not self._runs_select.value
        self._why.value = f'<span style="color:#6b7280">{esc(problem)}</span>' \
            if problem else ""

    def _run_selected(self, value: str | None) -> None:
        if self._setting_runs or value is None:
            return
        self.show_run(value)

    def _select_run(self, options: list[tuple[str, Any]] | None, value: str | None) -> None:
        """Set the list (and/or its value) without opening the run."""
        self._setting_runs = True
        try:
            if options is not None:
                self._runs_select.options = options
            if any(v == value for _, v in self._runs_select.options):
                self._runs_select.value = value
            else:
                self._runs_select.value = None
        finally:
            self._setting_runs = False

    def _show(self, record: dict[str, Any], equity: pd.DataFrame, trades: pd.DataFrame,
              what: str) -> None:
        sid = self._need_session()
        self.record, self.equity, self.trades = record, equity, trades
        parameters = record.get("parameters", {})
        settings = parameters.get("settings", {})
        m = record["metrics"]
        self._headline.value = (
            f"<b>{esc(record['strategy'])}</b> on <b>{esc(record['symbol'])}</b> · "
            f"<code>{esc(record['backtest_id'])}</code> · "
            f"{esc(_params_text(parameters.get('params', {}), record['strategy']))} · "
            f"{esc(_settings_text(settings))}<br>"
            + " · ".join(f"{esc(label)} <b>{esc(fmt_metric(k, m.get(k)))}</b>"
                         for k, label in (("total_return", "total return"),
                                          ("buy_and_hold", "buy & hold"),
                                          ("sharpe", "sharpe"),
                                          ("max_drawdown", "max drawdown"),
                                          ("trades", "trades"), ("win_rate", "win rate"),
                                          ("fees", "fees")))
            + f' · <span style="color:#6b7280">{esc(what)}; inputs: '
            f"{esc(', '.join(parameters.get('indicator_ids', {}).values()) or 'prices')}"
            "</span>")
        keys = [k for k in HEADLINE if k in m] + sorted(k for k in m if k not in HEADLINE)
        self._metrics_box.value = "<b>Metrics</b>" + html_table(
            ["metric", "value"], [[k, fmt_metric(k, m[k])] for k in keys], align="lr")
        self._trades_box.value = _trades_html(trades)
        info = self._ws.sessions.get(sid)
        series = _plot.price_series(self._ws, info, symbols=[record["symbol"]])
        fig = _plot.backtest_figure(series[0] if series else None, equity, trades)
        self._image.value = _plot.figure_png(fig)
        self._image.layout.display = None
        self.figure = fig
        self._select_run(None, record["backtest_id"])
        self._update_controls()

    def _clear_result(self) -> None:
        self.record = self.equity = self.trades = self.figure = None
        self._headline.value = self._metrics_box.value = self._trades_box.value = ""
        self._image.value = b""
        self._image.layout.display = "none"

    def _on_store_event(self, event: str, session_id: str | None) -> None:
        # New rows or runs: reload the lists; the run shown stays unless it was deleted.
        self.refresh()


def _metric_names() -> list[str]:
    from ..backtest import METRIC_NAMES

    return sorted(METRIC_NAMES)


def _params_text(params: dict[str, Any], strategy: str | None = None) -> str:
    """``name=value, ...`` in the order the strategy declares them (stored runs keep them
    sorted by name)."""
    from ..backtest import strategies

    params = dict(params or {})
    declared = strategies().get(str(strategy).lower()) if strategy else None
    order = [p.name for p in declared.params if p.name in params] if declared else []
    order += [k for k in params if k not in order]
    return ", ".join(f"{k}={params[k]:g}" if isinstance(params[k], float) else
                     f"{k}={params[k]}" for k in order)


def _settings_text(s: dict[str, Any]) -> str:
    points = f"{s['interval']} bars" if s.get("interval") else "ticks"
    parts = [points, f"fill {s.get('fill', 'next')}", f"fee {s.get('fee_bps', 0):g} bps",
             f"slippage {s.get('slippage_bps', 0):g} bps"]
    if s.get("long_only"):
        parts.append("long only")
    return ", ".join(parts)


def _trades_html(trades: pd.DataFrame) -> str:
    if trades is None or trades.empty:
        return "<b>Trades</b>: none."
    tail = trades.tail(TRADES_SHOWN)
    rows = [[fmt_ts(t.entry_ts), fmt_ts(t.exit_ts) or "open", t.side, f"{t.size:.6g}",
             f"{t.entry_price:.6g}", "" if pd.isna(t.exit_price) else f"{t.exit_price:.6g}",
             f"{t.fees:.4g}", f"{t.pnl:+.4g}"] for t in tail.itertuples()]
    more = f", the newest {len(tail)}" if len(trades) > len(tail) else ""
    return (f"<b>Trades</b> ({len(trades):,}{more})"
            + html_table(["entry (UTC)", "exit (UTC)", "side", "size", "entry price",
                          "exit price", "fees", "pnl"], rows, align="lllrrrrr"))


def _leaderboard_html(board: pd.DataFrame, metric: str) -> str:
    if board.empty:
        return ""
    cols = list(board.columns)
    rows = [[fmt_metric(c, v) if c != "backtest_id" and not isinstance(v, str) else str(v)
             for c, v in zip(cols, r, strict=True)] for r in board.itertuples(index=False)]
    return (f"<b>Leaderboard</b> ({len(board):,} runs, best {esc(metric)} first)"
            + html_table(cols, rows, align="l" + "r" * (len(cols) - 1)))
