"""The points of a backtest and how orders fill at them, built from recorded data.

:func:`tick_market` (trades; fills at the next trade, or at the first quote after the
decision with ``fill="quotes"``) and :func:`bar_market` (bars; fills at the next bar's
open). Both split the points into segments at recording gaps, so that no fill crosses one
(see :mod:`tsanalysis.backtest.engine` for what happens to the order).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput
from .engine import Market

#: What ``fill`` may be: the next point, the first quote after the decision, or the
#: decision's own point (a look-ahead whenever the signal uses the point's price).
FILLS = ("next", "quotes", "same_point")


def segments(ts: np.ndarray, max_step_us: float | None) -> np.ndarray:
    """Segment number of each point: it grows after every step longer than
    ``max_step_us`` (a recording gap); one segment when None."""
    if max_step_us is None or len(ts) < 2:
        return np.zeros(len(ts), dtype=np.int64)
    breaks = np.diff(ts) > max_step_us
    return np.concatenate(([0], np.cumsum(breaks))).astype(np.int64)


def _next_point(ts: np.ndarray, seg: np.ndarray, price: np.ndarray, mark: np.ndarray
                ) -> Market:
    n = len(ts)
    same_seg = np.zeros(n, dtype=bool)
    same_seg[:-1] = seg[1:] == seg[:-1]
    nxt = np.full(n, np.nan)
    nxt[:-1] = price[1:]
    fts = np.full(n, -1, dtype=np.int64)
    fts[:-1] = ts[1:]
    gap = np.zeros(n, dtype=bool)
    gap[:-1] = ~same_seg[:-1]
    fillable = same_seg & np.isfinite(nxt)
    return Market(ts, mark, fillable, nxt, nxt, nxt, fts, gap, seg)


def tick_market(ts: np.ndarray, price: np.ndarray, gap_us: float | None, fill: str = "next",
                quotes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Market:
    """Trades as points. ``fill``: ``next`` (the next trade's price), ``quotes`` (the ask
    for a buy, the bid for a sell, of the first quote strictly after the decision and
    within ``gap_us`` of it; equity marked at the latest quote's mid), ``same_point``.

    ``quotes`` is (ts, bid, ask), in time order, for ``fill="quotes"``.
    """
    seg = segments(ts, gap_us)
    n = len(ts)
    if fill == "next":
        return _next_point(ts, seg, price, price)
    if fill == "same_point":
        ok = np.isfinite(price)
        return Market(ts, price, ok, price, price, price, ts.copy(), np.zeros(n, dtype=bool),
                      seg, same_point=True)
    if fill != "quotes":
        raise InvalidInput(f"unknown fill {fill!r}; fills: {', '.join(FILLS)}")
    if quotes is None or len(quotes[0]) == 0:
        raise InvalidInput("fill='quotes' needs the symbol's recorded quotes (tick_orderbook); "
                           "there are none")
    qts, bid, ask = quotes
    mid = (bid + ask) / 2
    # Marked at the latest quote at or before each trade (the trade price before the first).
    last = np.searchsorted(qts, ts, side="right") - 1
    mark = np.where(last >= 0, mid[np.maximum(last, 0)], price)
    mark = np.where(np.isfinite(mark), mark, price)
    k = np.searchsorted(qts, ts, side="right")  # first quote strictly after
    has = k < len(qts)
    kk = np.where(has, k, 0)
    soon = has & ((qts[kk] - ts) <= (np.inf if gap_us is None else gap_us))
    same_seg = np.zeros(n, dtype=bool)
    same_seg[:-1] = seg[1:] == seg[:-1]
    b, a = np.where(soon, bid[kk], np.nan), np.where(soon, ask[kk], np.nan)
    fillable = same_seg & soon & np.isfinite(b) & np.isfinite(a)
    gap = np.zeros(n, dtype=bool)
    gap[:-1] = ~fillable[:-1]  # a gap in trades or quotes, or a one-sided quote
    fts = np.where(soon, qts[kk], -1)
    return Market(ts, mark, fillable, (a + b) / 2, a, b, fts, gap, seg)


def bar_market(ts: np.ndarray, open_: np.ndarray, close: np.ndarray, interval_us: int,
               gap_us: float | None, fill: str = "next") -> Market:
    """Bars as points, marked at the close. ``fill``: ``next`` (the next bar's open),
    ``same_point`` (the bar's own close). A step between bars longer than the interval
    and the gap threshold breaks the segments."""
    seg = segments(ts, max(interval_us, gap_us or 0))
    if fill == "next":
        return _next_point(ts, seg, open_, close)
    if fill == "same_point":
        ok = np.isfinite(close)
        return Market(ts, close, ok, close, close, close, ts + interval_us,
                      np.zeros(len(ts), dtype=bool), seg, same_point=True)
    raise InvalidInput(f"fill {fill!r} is not available on bars (next: the next bar's "
                       "open, same_point: the bar's close); fill='quotes' works on ticks")
