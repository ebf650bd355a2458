"""IndicatorPanel: compute registered indicators over the selected session, store them, plot
them over the price, and read back what is stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import pandas as pd

from ..bars import STANDARD_INTERVALS
from ..errors import InvalidInput
from . import _plot
from ._base import Panel, esc, fmt_ts, html_table, plain_text
from ._form import ParamForm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..indicators import ComputeResult, Indicator, UpdateResult

#: Rows of an indicator's history listed in the panel (the newest; the store has them all).
HISTORY_ROWS = 20


class IndicatorPanel(Panel):
    """Compute any registered indicator (plugins included) over the selected session.

    Pick the indicator; its parameters appear as a form generated from what it declares
    (types, defaults, bounds): a value out of bounds shows the indicator's own message
    (which names the bound) and keeps *Compute & store* disabled. Choose the input (the
    ticks, or OHLCV bars at an interval) and the symbols, and press the button: each
    symbol is computed and stored under the indicator ids shown before you press it, with
    a progress bar over the symbols, then drawn over the price (oscillators in a pane
    below). The lower part lists every indicator id stored for the session; pick one to
    see its history, or press *Update all* after new ticks arrived.

    >>> panel = IndicatorPanel(ws, session_id=sid)
    >>> panel.select_indicator("macd")
    >>> panel.form.set(fastperiod=8)
    >>> panel.compute()[0].outputs          # what the button does
    >>> panel.show_history("BTC/USDT", "macd_8_26_9_macd")
    """

    title: ClassVar[str] = "Indicators"

    def _build(self) -> Sequence[widgets.Widget]:
        #: What the last computation gave, one result per symbol.
        self.results: list[ComputeResult] = []
        #: The last picture (a matplotlib Figure).
        self.figure: Figure | None = None
        #: The history shown (ts, seq, value), and of what: (symbol, indicator id).
        self.history: pd.DataFrame | None = None
        self.history_of: tuple[str, str] | None = None
        self._stored = pd.DataFrame()
        self._names: list[str] = []
        self._symbols_of: str | None = None
        self._setting_stored = False
        self._form_of: str | None = None
        style = {"description_width": "7em"}
        self._indicator = widgets.Dropdown(description="indicator", options=[], style=style,
                                           layout=widgets.Layout(width="22em"))
        self._indicator.add_class("tsanalysis-indicator-select")
        self._doc = widgets.HTML()
        self._form = ParamForm([])
        self._form_box = widgets.VBox()
        self._input = widgets.Dropdown(
            description="input", style=style, layout=widgets.Layout(width="22em"),
            options=[("ticks", "")] + [(f"{i} bars", i) for i in STANDARD_INTERVALS])
        self._symbols = widgets.SelectMultiple(description="symbols", options=[], rows=4,
                                               style=style, layout=widgets.Layout(width="22em"))
        self._ids = widgets.HTML()
        self._ids.add_class("tsanalysis-indicator-ids")
        self._compute_button = widgets.Button(description="Compute & store", icon="calculator",
                                              button_style="primary",
                                              layout=widgets.Layout(width="auto"))
        self._compute_button.add_class("tsanalysis-indicator-compute")
        self._on_click(self._compute_button, self.compute, label="Computing", unit="rows",
                       cancellable=True)
        self._why = widgets.HTML()
        self._result = widgets.HTML()
        self._result.add_class("tsanalysis-indicator-result")
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%",
                                                                        display="none"))
        self._image.add_class("tsanalysis-indicator-plot")
        self._stored_table = widgets.HTML(layout=widgets.Layout(max_height="14em",
                                                                overflow="auto"))
        self._stored_table.add_class("tsanalysis-indicator-stored")
        self._stored_select = widgets.Dropdown(description="history of", options=[],
                                               value=None, style=style,
                                               layout=widgets.Layout(width="34em"))
        self._stored_select.add_class("tsanalysis-indicator-history-select")
        self._on_change(self._stored_select, self._history_selected, key="history")
        self._update_button = widgets.Button(description="Update all", icon="refresh",
                                             tooltip="Bring every stored indicator of the "
                                                     "session up to date with its input")
        self._on_click(self._update_button, self.update, label="Updating", unit="series")
        self._history_box = widgets.HTML()
        self._history_box.add_class("tsanalysis-indicator-history")
        self._indicator.observe(lambda _: self._indicator_changed(), names="value")
        for w in (self._input, self._symbols):
            w.observe(lambda _: self._update_controls(), names="value")
        self.reload_indicators()
        return [widgets.HBox([self._indicator, self._doc]), self._form_box,
                widgets.HBox([self._input, self._symbols]), self._ids,
                widgets.HBox([self._compute_button, self._why]), self._result, self._image,
                widgets.HTML("<b>Stored for this session</b>"), self._stored_table,
                widgets.HBox([self._stored_select, self._update_button]), self._history_box]

    # -- public ----------------------------------------------------------------------------

    @property
    def indicators(self) -> list[str]:
        """Every registered indicator the panel offers (plugins included)."""
        return list(self._names)

    @property
    def indicator(self) -> Indicator | None:
        """The indicator chosen."""
        from ..indicators import get

        return get(self._indicator.value) if self._indicator.value else None

    @property
    def form(self) -> ParamForm:
        """The chosen indicator's parameter form."""
        return self._form

    @property
    def interval(self) -> str | None:
        """The bar interval chosen as input (None: the ticks)."""
        return self._input.value or None

    @property
    def stored(self) -> pd.DataFrame:
        """Indicator ids stored for the session (symbol, indicator_id, rows, first_ts,
        last_ts, indicator, params, output, interval), as last loaded."""
        return self._stored.copy()

    @property
    def stored_ids(self) -> list[str]:
        """The distinct indicator ids stored for the session."""
        return [] if self._stored.empty else list(dict.fromkeys(self._stored["indicator_id"]))

    @property
    def png(self) -> bytes:
        return bytes(self._image.value)

    def select_indicator(self, name: str) -> None:
        """Choose an indicator by name (case-insensitive); its form replaces the last one."""
        from ..indicators import get

        self._indicator.value = get(name).name

    def set_input(self, interval: str | None = None,
                  symbols: Sequence[str] | None = None) -> None:
        """Choose the input (None: ticks; else a bar interval) and the symbols."""
        if interval not in (None, *STANDARD_INTERVALS):
            raise InvalidInput(f"interval {interval!r}: one of {', '.join(STANDARD_INTERVALS)}"
                               " (or None for ticks)")
        self._input.value = interval or ""
        if symbols is not None:
            unknown = [s for s in symbols if s not in self._symbols.options]
            if unknown:
                raise InvalidInput(f"symbol {unknown[0]!r} is not in the session; its "
                                   f"symbols: {', '.join(self._symbols.options)}")
            self._symbols.value = tuple(symbols)

    def output_ids(self) -> dict[str, str]:
        """output -> the indicator id a computation with the form's values stores under
        (raises on an invalid value)."""
        ind = self.indicator
        if ind is None:
            raise InvalidInput("no indicator registered")
        return ind.output_ids(self._form.values(), self.interval)

    def compute(self) -> list[ComputeResult]:
        """Compute and store the chosen indicator with the form's values for every chosen
        symbol; draw the first over its price. Raises :class:`InvalidInput` (nothing
        computed) without a session, a symbol, or with an invalid parameter."""
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: select one to compute over")
        ind = self.indicator
        if ind is None:
            raise InvalidInput("no indicator registered")
        params = self._form.values()
        symbols = list(self._symbols.value)
        if not symbols:
            raise InvalidInput("no symbol selected: pick at least one")
        results: list[ComputeResult] = []
        before = 0  # input points of the symbols already computed

        def rows(done: int, total: int | None) -> None:
            # one symbol: its points of its total; several: a running count (the next
            # symbols' totals are not known until they start)
            self.progress(before + done, total if len(symbols) == 1 else None)

        for sym in symbols:
            results.append(self._ws.indicators.compute(sid, sym, ind.name, params,
                                                       interval=self.interval,
                                                       progress=rows))
            before += results[-1].rows
        self.results = results
        first = results[0]
        self._result.value = _results_html(results)
        lines = [_plot.Line(iid, pd.Series(first.frame["ts"]), first.values[out], False)
                 for out, iid in first.outputs.items()]
        self._draw(first.symbol, lines)
        self.refresh_stored()
        # read the first output back from the store: what is listed is what was written
        self._show_history(first.symbol, next(iter(first.outputs.values())), draw=False)
        rows = sum(r.written for r in results)
        self.set_status(f"Computed {esc(ind.name)} on {len(results)} symbol(s): {rows:,} rows "
                        f"stored under {esc(', '.join(first.outputs.values()))}",
                        kind="success")
        return results

    def show_history(self, symbol: str, indicator_id: str) -> pd.DataFrame:
        """Read one stored indicator id back; list its newest rows and draw it over the price.
        Returns every stored row (ts, seq, value)."""
        return self._show_history(symbol, indicator_id, draw=True)

    def _show_history(self, symbol: str, indicator_id: str, draw: bool) -> pd.DataFrame:
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected")
        frame = self._ws.indicators.history(sid, symbol, indicator_id)
        self.history, self.history_of = frame, (symbol, indicator_id)
        self._select_history(symbol, indicator_id)
        values = frame["value"].to_numpy(dtype="float64")
        n_values = int(pd.notna(frame["value"]).sum())
        tail = frame.tail(HISTORY_ROWS)
        rows = [[fmt_ts(r.ts), f"{int(r.seq):,}", "" if pd.isna(r.value) else f"{r.value:.6g}"]
                for r in tail.itertuples()]
        self._history_box.value = (
            f"<b><code>{esc(indicator_id)}</code></b> of {esc(symbol)}: {len(frame):,} rows "
            f"({n_values:,} with a value), {esc(fmt_ts(frame['ts'].min()))} → "
            f"{esc(fmt_ts(frame['ts'].max()))} UTC · the newest {len(tail)}:"
            + html_table(["ts (UTC)", "seq", "value"], rows, align="lrr"))
        if draw:
            self._draw(symbol, [_plot.Line(indicator_id, frame["ts"], values, False)])
        return frame

    def update(self) -> UpdateResult:
        """Bring every indicator stored for the session up to date with its input."""
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected")
        res = self._ws.indicators.update(sid, progress=self.progress)
        rows = sum(u.rows for u in res.updated)
        skipped = f"; {len(res.skipped)} skipped (see the log)" if res.skipped else ""
        for s in res.skipped:
            self.write(f"skipped {s['symbol']} {s['indicator_id']}: {s['reason']}")
        self.set_status(f"Updated {len(res.updated)} series: {rows:,} rows written{skipped}",
                        kind="success" if not res.skipped else "warning")
        self.refresh_stored()
        return res

    def reload_indicators(self) -> None:
        """Offer the indicators registered now (a plugin registered since shows up)."""
        from ..indicators import registry

        reg = registry()
        names = reg.names()
        if names == self._names:
            return
        current = self._indicator.value
        options = []
        for r in reg:
            third_party = not r.plugin.startswith("tsanalysis.")
            options.append((r.indicator.name + (" (plugin)" if third_party else ""),
                            r.indicator.name))
        self._names = names
        self._indicator.options = options
        self._indicator.value = current if current in names else \
            ("rsi" if "rsi" in names else (names[0] if names else None))
        if self._form_of != self._indicator.value:  # the value did not change: no event
            self._indicator_changed()

    def refresh_stored(self) -> None:
        """Reload the list of indicator ids stored for the session."""
        sid = self.session_id
        self._stored = pd.DataFrame() if sid is None else self._ws.indicators.stored(sid)
        if self._stored.empty:
            self._stored_table.value = "<i>No indicator stored yet.</i>" if sid else ""
            options: list[tuple[str, Any]] = []
        else:
            rows = [[r.indicator_id, r.symbol, f"{int(r.rows):,}", fmt_ts(r.first_ts),
                     fmt_ts(r.last_ts), r.indicator or "(no plugin derives it)",
                     r.interval or "ticks"]
                    for r in self._stored.itertuples()]
            self._stored_table.value = html_table(
                ["indicator id", "symbol", "rows", "first", "last", "indicator", "input"],
                rows, align="llrllll")
            options = [(f"{r.symbol} · {r.indicator_id}", (r.symbol, r.indicator_id))
                       for r in self._stored.itertuples()]
        keep = self._stored_select.value if any(v == self._stored_select.value
                                                for _, v in options) else None
        self._setting_stored = True
        try:
            self._stored_select.options = options
            self._stored_select.value = keep
        finally:
            self._setting_stored = False
        self._update_controls()

    def refresh(self) -> None:
        """Reload the indicators, the session's symbols and what is stored for it."""
        self.reload_indicators()
        sid = self.session_id
        if sid != self._symbols_of:
            self._clear_results()
        if sid is None:
            self._symbols.options = []
        else:
            info = self._ws.sessions.get(sid, stats=False)
            chosen = [s for s in self._symbols.value if s in info.symbols]
            self._symbols.options = list(info.symbols)
            self._symbols.value = tuple(chosen or info.symbols[:1])
        self._symbols_of = sid
        self.refresh_stored()

    @property
    def result_text(self) -> str:
        return plain_text(self._result.value)

    @property
    def history_text(self) -> str:
        return plain_text(self._history_box.value)

    # -- internals -------------------------------------------------------------------------

    def _indicator_changed(self) -> None:
        ind = self.indicator
        self._form_of = ind.name if ind is not None else None
        if ind is None:
            self._form = ParamForm([])
            self._form_box.children = []
            self._doc.value = ""
        else:
            first = (ind.doc or "").strip().split("\n")[0]
            self._doc.value = (f'<span style="color:#6b7280">{esc(first)} · inputs: '
                               f"{esc(', '.join(ind.inputs))} · outputs: "
                               f"{esc(', '.join(ind.outputs))}</span>")

            def together(values: dict[str, Any], _ind: Indicator = ind) -> None:
                _ind.check_params(values)

            self._form = ParamForm(ind.params, owner=ind.name, check_all=together,
                                   on_change=self._update_controls)
            self._form_box.children = [self._form.widget]
        self._update_controls()

    def _problem(self) -> str:
        if self.session_id is None:
            return "select a session"
        if self.indicator is None:
            return "no indicator registered"
        if not self._form.valid:
            return "fix the parameters"
        if not self._symbols.value:
            return "pick at least one symbol"
        return ""

    def _update_controls(self) -> None:
        if not hasattr(self, "_history_box"):
            return
        problem = self._problem()
        self._compute_button.disabled = self.busy or bool(problem)
        self._update_button.disabled = self.busy or self._stored.empty
        notes = [problem] if problem else []
        ind = self.indicator
        if ind is not None and ind.needs_bars and self.interval is None:
            # allowed (a tick is a bar whose open = high = low = close), rarely meant
            notes.append(f"{ind.name} reads {'/'.join(ind.inputs)}: on ticks high = low = "
                         "price; choose bars for a range")
        self._why.value = f'<span style="color:#6b7280">{esc(" · ".join(notes))}</span>' \
            if notes else ""
        try:
            ids = self.output_ids()
        except (InvalidInput, ValueError):
            self._ids.value = ""
        else:
            self._ids.value = ('<span style="color:#6b7280">stored as</span> '
                               + ", ".join(f"<code>{esc(i)}</code>" for i in ids.values()))

    def _history_selected(self, value: tuple[str, str] | None) -> None:
        if self._setting_stored or value is None:
            return
        self.show_history(*value)

    def _select_history(self, symbol: str, indicator_id: str) -> None:
        value = (symbol, indicator_id)
        if any(v == value for _, v in self._stored_select.options):
            self._setting_stored = True
            try:
                self._stored_select.value = value
            finally:
                self._setting_stored = False

    def _clear_results(self) -> None:
        self.results, self.figure, self.history, self.history_of = [], None, None, None
        self._result.value = self._history_box.value = ""
        self._image.value = b""
        self._image.layout.display = "none"

    def _draw(self, symbol: str, lines: list[_plot.Line]) -> None:
        sid = self.session_id
        assert sid is not None
        info = self._ws.sessions.get(sid)
        series = _plot.price_series(self._ws, info, symbols=[symbol])
        if not series:  # no ticks: draw the lines alone under an empty price
            self._image.layout.display = "none"
            return
        price = series[0]
        on_price = all(_plot.on_price_scale(ln.values, price) for ln in lines)
        lines = [_plot.thin_line(_plot.Line(ln.label, ln.ts, ln.values, on_price), price)
                 for ln in lines]
        fig = _plot.indicator_figure(price, lines)
        self._image.value = _plot.figure_png(fig)
        self._image.layout.display = None
        self.figure = fig

    def _on_store_event(self, event: str, session_id: str | None) -> None:
        # New rows or indicators: reload the lists; results already shown stay.
        self.refresh()


def _results_html(results: list[ComputeResult]) -> str:
    rows = [[r.symbol, ", ".join(r.outputs.values()), r.source, f"{r.rows:,}",
             f"{r.written:,}"] for r in results]
    return html_table(["symbol", "stored as", "input", "points", "rows written"], rows,
                      align="lllrr")
