"""The report's picture: price over time per symbol, gaps shaded, anomalies marked.

matplotlib is imported here only, when a picture is asked for; the figure is built with
the object API (``matplotlib.figure.Figure``) so it never touches pyplot's global state or
the notebook's backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .report import QualityReport

_GAP_COLOUR = {"info": "#9ca3af", "warning": "#f59e0b", "critical": "#dc2626"}


def figure(report: QualityReport, symbols: list[str] | None = None, *, width: float = 11.0,
           height: float = 2.8) -> Figure:
    """One panel per symbol (all symbols of the report by default)."""
    from matplotlib.figure import Figure

    syms = symbols or list(report.symbols)
    unknown = [s for s in syms if s not in report.symbols]
    if unknown:
        from ..errors import InvalidInput

        raise InvalidInput(f"symbol(s) not in the report: {', '.join(unknown)}")
    fig = Figure(figsize=(width, height * max(len(syms), 1)), layout="constrained")
    axes = fig.subplots(max(len(syms), 1), 1, squeeze=False)[:, 0]
    for ax, sym in zip(axes, syms, strict=False):
        draw_symbol(ax, report, sym)
    return fig


def draw_symbol(ax: Axes, report: QualityReport, symbol: str) -> None:
    """Draw one symbol's panel on ``ax``."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rep = report.symbols[symbol]
    bars = report.price_bars(symbol)
    score = "n/a" if rep.score is None else f"{rep.score:.1f}"
    ax.set_title(f"{symbol}  (score {score})", loc="left", fontsize=10)
    handles = []
    if len(bars):
        ax.fill_between(bars["ts"], bars["low"], bars["high"], color="#93c5fd", alpha=0.6,
                        linewidth=0, step="post")
        ax.plot(bars["ts"], bars["close"], color="#1d4ed8", linewidth=0.8)
        handles.append(Line2D([], [], color="#1d4ed8", label="price (range per bucket)"))
    else:
        ax.text(0.5, 0.5, "no trades to plot", transform=ax.transAxes, ha="center",
                color="#6b7280")
    seen = set()
    for f in rep.findings:
        if f.start is None:
            continue
        if f.check == "gaps":
            ax.axvspan(f.start, f.end, color=_GAP_COLOUR[f.severity], alpha=0.3, linewidth=0)
            seen.add(("gap", f.severity))
        elif f.check == "stale":
            ax.axvspan(f.start, f.end, color="#a855f7", alpha=0.2, linewidth=0)
            seen.add(("stale", ""))
    anomalies = rep.metrics.get("price_anomalies") or []
    if anomalies:
        ax.scatter([a["ts"] for a in anomalies], [a["price"] for a in anomalies], marker="x",
                   color="#dc2626", s=36, zorder=5)
        handles.append(Line2D([], [], color="#dc2626", marker="x", linestyle="",
                              label="price anomaly"))
    quotes = [f for f in rep.findings if f.check == "orderbook"
              and f.data.get("kind") in ("crossed", "locked")]
    if quotes:
        ax.plot([f.start for f in quotes], [0.03] * len(quotes), linestyle="", marker="^",
                color="#7c3aed", transform=ax.get_xaxis_transform(), zorder=5)
        handles.append(Line2D([], [], color="#7c3aed", marker="^", linestyle="",
                              label="crossed/locked quote"))
    for kind, sev in sorted(seen):
        if kind == "gap":
            handles.append(Patch(color=_GAP_COLOUR[sev], alpha=0.3, label=f"gap ({sev})"))
        else:
            handles.append(Patch(color="#a855f7", alpha=0.2, label="stale price"))
    if handles:  # above the axes, right of the title: never over the data
        ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7,
                  ncols=len(handles), frameon=False, borderaxespad=0.2)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.margins(x=0.01)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("UTC", fontsize=8)
