"""Price pictures for the panels: ticks when few, bars built in the database when many.

matplotlib is imported when a picture is drawn, never at import. Figures are made with
the object API (``matplotlib.figure.Figure``, no pyplot), so drawing on a panel's worker
thread touches no global state, and rendered to PNG for an ``ipywidgets.Image``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import schema
from ..bars import STANDARD_INTERVALS
from ..ids import interval_seconds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..sessions import SessionInfo
    from ..workspace import Workspace

#: Up to this many ticks per symbol are drawn one by one; above, as bars.
MAX_TICK_POINTS = 5_000
#: Bars per symbol at most: the interval grows (1m, 5m, 15m, ...) to stay under it.
MAX_BARS = 3_000


@dataclass
class PriceSeries:
    """What is drawn for one symbol: its ticks, or bars at ``interval``."""

    symbol: str
    #: ``"ticks"`` or the bar interval (``"1m"``, ``"5m"``, ...)
    kind: str
    #: ticks: ts, price; bars: ts, open, high, low, close
    frame: pd.DataFrame
    #: ticks stored for the symbol
    ticks: int

    @property
    def points(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Mark:
    """Something to point at on a price picture: a span (a gap) or an instant (a spike)."""

    symbol: str
    start: pd.Timestamp
    end: pd.Timestamp
    kind: str
    label: str = ""


def bar_interval(span_seconds: float, max_bars: int = MAX_BARS) -> str:
    """The smallest standard interval of at least 1m that keeps the bars under ``max_bars``."""
    candidates = [i for i in STANDARD_INTERVALS if interval_seconds(i) >= 60]
    for interval in candidates:
        if span_seconds / interval_seconds(interval) <= max_bars:
            return interval
    return candidates[-1]


def price_series(ws: Workspace, info: SessionInfo, *, max_points: int | None = None,
                 symbols: Sequence[str] | None = None) -> list[PriceSeries]:
    """Per symbol with ticks: the ticks when at most ``max_points``
    (:data:`MAX_TICK_POINTS`), else bars computed in the database."""
    max_points = MAX_TICK_POINTS if max_points is None else max_points
    ticks = (info.tables or {}).get(schema.TICK_PRICES.name, {})
    out = []
    for symbol in symbols or info.symbols:
        st = ticks.get(symbol)
        if st is None or st.rows == 0:
            continue
        if st.rows <= max_points:
            frame = ws.ticks(info.session_id, symbol, columns=["ts", "price"])
            out.append(PriceSeries(symbol, "ticks", frame, st.rows))
            continue
        span = (st.last_ts - st.first_ts).total_seconds() if st.first_ts is not None else 0
        interval = bar_interval(span)
        frame = ws.ohlcv(info.session_id, symbol, interval)
        out.append(PriceSeries(symbol, interval, frame[["ts", "open", "high", "low", "close"]],
                               st.rows))
    return out


def _naive_utc(ts: pd.Series) -> Any:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _break_gaps(t: Any, *ys: Any, max_step: Any) -> tuple[Any, ...]:
    """Insert a NaN point after every step longer than ``max_step``, so that a line stops
    at a recording gap instead of bridging it (a bridged gap looks like a quiet market)."""
    import numpy as np

    if len(t) < 2:
        return (t, *ys)
    cut = np.flatnonzero(np.diff(t) > max_step) + 1
    if not len(cut):
        return (t, *ys)
    t2 = np.insert(t, cut, t[cut - 1] + (t[cut] - t[cut - 1]) // 2)
    return (t2, *(np.insert(np.asarray(y, dtype="float64"), cut, np.nan) for y in ys))


def price_figure(series: Sequence[PriceSeries], *, title: str = "",
                 marks: Sequence[Mark] = (), width: float = 10.0,
                 row_height: float = 2.0) -> Figure:
    """One panel per symbol sharing the time axis (UTC); ``marks`` are shaded or pinned."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    n = max(len(series), 1)
    height = row_height * n + (0.9 if title else 0.6)
    fig = Figure(figsize=(width, height), dpi=96)
    # Fixed margins: a layout engine would draw the figure twice, doubling the cost.
    fig.subplots_adjust(left=0.08, right=0.985, top=1 - (0.6 if title else 0.3) / height,
                        bottom=0.5 / height, hspace=0.35)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    if not series:
        axes[0].text(0.5, 0.5, "no ticks to draw", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_axis_off()
    for ax, s in zip(axes, series, strict=False):
        draw_price(ax, s, [m for m in marks if m.symbol == s.symbol])
    locator = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes[-1].set_xlabel("time (UTC)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, y=1 - 0.1 / height, ha="left", va="top")
    return fig


_MARK_COLOURS = {"gap": "#d62728", "stale": "#ff7f0e"}


def draw_price(ax: Any, s: PriceSeries, marks: Sequence[Mark] = ()) -> None:
    """Draw one symbol's prices on ``ax`` (ticks as a line, bars as a close line over
    their high-low range; recording gaps break the line) and shade or pin ``marks``."""
    import numpy as np

    t = _naive_utc(s.frame["ts"])
    if s.kind == "ticks":
        steps = np.diff(t)
        typical = np.median(steps) if len(steps) else np.timedelta64(1, "s")
        t, price = _break_gaps(t, s.frame["price"].to_numpy(),
                               max_step=max(typical * 30, np.timedelta64(30, "s")))
        ax.plot(t, price, lw=0.7, color="#1f77b4", label="price")
        what = f"{s.ticks:,} ticks"
    else:
        width = np.timedelta64(interval_seconds(s.kind), "s")
        t, low, high, close = _break_gaps(
            t, s.frame["low"].to_numpy(), s.frame["high"].to_numpy(),
            s.frame["close"].to_numpy(), max_step=width)
        ax.fill_between(t, low, high, step="post", color="#1f77b4", alpha=0.2, lw=0,
                        label="high-low")
        ax.plot(t, close, lw=0.8, color="#1f77b4", drawstyle="steps-post", label="close")
        what = f"{s.ticks:,} ticks as {s.points:,} {s.kind} bars"
    ax.set_title(f"{s.symbol} · {what}", loc="left", fontsize=9)
    ax.set_ylabel("price", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(True, lw=0.3, alpha=0.5)
    for m in marks:
        start = pd.Timestamp(m.start).tz_convert("UTC").tz_localize(None)
        end = pd.Timestamp(m.end).tz_convert("UTC").tz_localize(None)
        colour = _MARK_COLOURS.get(m.kind, "#9467bd")
        if end > start:
            ax.axvspan(start, end, color=colour, alpha=0.25, lw=0)
        else:
            ax.axvline(start, color=colour, lw=0.8, alpha=0.8)


@dataclass
class Line:
    """An indicator output to draw: its label, times and values; ``on_price`` draws it over
    the price (moving averages, bands), else in a pane below (oscillators)."""

    label: str
    ts: pd.Series
    values: Any
    on_price: bool


def on_price_scale(values: Any, price: PriceSeries) -> bool:
    """True when ``values`` live on the price's scale (their median within the price range
    widened by half): a moving average or a band, not an oscillator or a volume sum."""
    import numpy as np

    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    col = "price" if price.kind == "ticks" else "close"
    p = price.frame[col].to_numpy(dtype="float64")
    p = p[np.isfinite(p)]
    if not len(v) or not len(p):
        return False
    lo, hi = float(p.min()), float(p.max())
    pad = 0.5 * max(hi - lo, abs(hi) * 0.01)
    return lo - pad <= float(np.median(v)) <= hi + pad


def thin_line(line: Line, price: PriceSeries) -> Line:
    """``line`` with at most one point per bar of ``price`` when the price is drawn as bars
    (the last value of each bar), so a tick-level indicator costs what its bars cost."""
    import numpy as np

    if price.kind == "ticks" or len(line.values) <= MAX_TICK_POINTS:
        return line
    ts = pd.to_datetime(line.ts, utc=True)
    bucket = ts.dt.floor(f"{interval_seconds(price.kind)}s")
    frame = pd.DataFrame({"bucket": bucket, "value": np.asarray(line.values, dtype="float64")})
    last = frame.groupby("bucket", sort=True)["value"].last()
    return Line(line.label, pd.Series(last.index), last.to_numpy(), line.on_price)


def indicator_figure(price: PriceSeries, lines: Sequence[Line], *, title: str = "",
                     width: float = 10.0) -> Figure:
    """The price of one symbol with indicator ``lines``: over the price, or in a pane below
    sharing the time axis (UTC)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    below = [ln for ln in lines if not ln.on_price]
    rows = 2 if below else 1
    height = 2.4 + (1.8 if below else 0) + (0.9 if title else 0.6)
    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.08, right=0.985, top=1 - (0.6 if title else 0.3) / height,
                        bottom=0.5 / height, hspace=0.3)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False, height_ratios=[4, 3][:rows])[:, 0]
    draw_price(axes[0], price)
    colours = ["#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for i, ln in enumerate(lines):
        ax = axes[0] if ln.on_price else axes[1]
        ts = pd.to_datetime(pd.Series(ln.ts), utc=True)
        ax.plot(_naive_utc(ts), ln.values, lw=0.9, color=colours[i % len(colours)],
                label=ln.label)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="upper left", ncols=min(len(handles), 4),
                      frameon=False)
    if below:
        axes[1].set_ylabel("indicator", fontsize=8)
        axes[1].tick_params(labelsize=8)
        axes[1].grid(True, lw=0.3, alpha=0.5)
    locator = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes[-1].set_xlabel("time (UTC)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, y=1 - 0.1 / height, ha="left", va="top")
    return fig


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def backtest_figure(price: PriceSeries | None, equity: pd.DataFrame, trades: pd.DataFrame,
                    *, title: str = "", width: float = 10.0) -> Figure:
    """A backtest in three panes sharing the time axis (UTC): the price with the trades
    marked (entries ▲ long / ▼ short, exits ×), the equity, and its drawdown from the
    running peak.

    ``equity``: ts, equity (every point of a run, or a stored run's grid); ``trades``:
    entry_ts, exit_ts, side, entry_price, exit_price (an open trade has no exit).
    """
    import numpy as np
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    height = 2.6 + 1.8 + 1.3 + (0.9 if title else 0.6)
    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.08, right=0.985, top=1 - (0.6 if title else 0.3) / height,
                        bottom=0.5 / height, hspace=0.3)
    ax_price, ax_eq, ax_dd = fig.subplots(3, 1, sharex=True, height_ratios=[2.6, 1.8, 1.3])
    if price is not None:
        draw_price(ax_price, price)
    else:
        ax_price.set_title("no ticks to draw the price", loc="left", fontsize=9)
    if len(trades):
        entry_ts = pd.to_datetime(trades["entry_ts"], utc=True)
        long_ = (trades["side"] == "long").to_numpy()
        for mask, marker, colour, label in ((long_, "^", "#2ca02c", "long entry"),
                                            (~long_, "v", "#d62728", "short entry")):
            if mask.any():
                ax_price.scatter(_naive_utc(entry_ts[mask]), trades["entry_price"][mask],
                                 marker=marker, s=42, color=colour, zorder=3, label=label)
        closed = trades["exit_ts"].notna().to_numpy()
        if closed.any():
            exit_ts = pd.to_datetime(trades["exit_ts"][closed], utc=True)
            ax_price.scatter(_naive_utc(exit_ts), trades["exit_price"][closed], marker="x",
                             s=36, color="#111111", zorder=3, label="exit")
        ax_price.legend(fontsize=7, loc="upper left", ncols=4, frameon=False)
    t = _naive_utc(pd.to_datetime(equity["ts"], utc=True))
    eq = equity["equity"].to_numpy(dtype="float64")
    peak = np.fmax.accumulate(eq) if len(eq) else eq
    dd = np.where(peak > 0, eq / np.where(peak > 0, peak, 1) - 1, 0.0) * 100
    if len(eq) > MAX_TICK_POINTS:  # one point per bucket: the last equity, the deepest dd
        k = -(-len(eq) // MAX_TICK_POINTS)
        bucket = np.arange(len(eq)) // k
        last = np.r_[np.flatnonzero(np.diff(bucket)), len(eq) - 1]
        t, eq, dd = t[last], eq[last], pd.Series(dd).groupby(bucket).min().to_numpy()
    ax_eq.plot(t, eq, lw=0.9, color="#1f77b4", drawstyle="steps-post")
    ax_eq.set_ylabel("equity", fontsize=8)
    ax_dd.fill_between(t, dd, 0, color="#d62728", alpha=0.35, lw=0, step="post")
    ax_dd.plot(t, dd, lw=0.6, color="#d62728", drawstyle="steps-post")
    ax_dd.set_ylabel("drawdown %", fontsize=8)
    for ax in (ax_eq, ax_dd):
        ax.tick_params(labelsize=8)
        ax.grid(True, lw=0.3, alpha=0.5)
    locator = AutoDateLocator()
    ax_dd.xaxis.set_major_locator(locator)
    ax_dd.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax_dd.set_xlabel("time (UTC)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, y=1 - 0.1 / height, ha="left", va="top")
    return fig
