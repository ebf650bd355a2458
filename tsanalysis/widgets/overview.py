"""PriceOverview: the selected session's prices, one picture per symbol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import ipywidgets as widgets

from . import _plot
from ._base import Panel, esc

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class PriceOverview(Panel):
    """Price of every symbol of the selected session over its time range.

    Up to :data:`~tsanalysis.widgets._plot.MAX_TICK_POINTS` ticks per symbol are drawn one
    by one; longer sessions are drawn as bars (1m, or coarser for long sessions) computed
    in the database, with their high-low range shaded. Redrawn when the session's data
    changes.
    """

    title: ClassVar[str] = "Overview"

    def _build(self) -> Sequence[widgets.Widget]:
        #: What was drawn last, per symbol (None before the first picture).
        self.series: list[_plot.PriceSeries] | None = None
        #: The last picture (a matplotlib Figure), kept for notebooks and tests.
        self.figure: Figure | None = None
        self._caption = widgets.HTML()
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._image.add_class("tsanalysis-price-plot")
        return [self._caption, self._image]

    @property
    def png(self) -> bytes:
        """The picture shown, as PNG bytes (empty when none)."""
        return bytes(self._image.value)

    def refresh(self) -> None:
        """Draw the selected session's prices."""
        sid = self.session_id
        if sid is None:
            self.series, self.figure = None, None
            self._caption.value = "<i>Select a session to see its prices.</i>"
            self._image.value = b""
            self._image.layout.display = "none"
            return
        info = self._ws.sessions.get(sid)
        series = _plot.price_series(self._ws, info)
        fig = _plot.price_figure(series)  # the caption and the Dashboard name the session
        self._image.value = _plot.figure_png(fig)
        self._image.layout.display = None
        self.series, self.figure = series, fig
        if series:
            kinds = ", ".join(f"{s.symbol}: {'ticks' if s.kind == 'ticks' else s.kind + ' bars'}"
                              for s in series)
            self._caption.value = f"Prices of <code>{esc(sid)}</code> (UTC) · {esc(kinds)}"
        else:
            self._caption.value = f"<i>Session <code>{esc(sid)}</code> has no ticks yet.</i>"
