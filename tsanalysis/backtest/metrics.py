"""Metrics of a simulated run, each with its formula.

Returns, volatility and the ratios come from the equity sampled on a fixed grid
(``grid``, one minute by default): the equity at each grid time is the equity at the last
point at or before it. A grid step counts only when both its ends lie inside one recorded
segment (no gap between or around them), so returns are never computed across a gap.
A year is 365 days: ``periods_per_year = 365 · 86,400 s / grid``. No risk-free rate.

- ``total_return``   = E_last / E_first − 1
- ``cagr``           = (E_last / E_first) ^ (365 d / span) − 1; ``cagr_meaningful`` is
                       False under 30 days of span (the figure is then an extrapolation)
- ``volatility``     = std(r, ddof=1) · √periods_per_year
- ``sharpe``         = mean(r) / std(r, ddof=1) · √periods_per_year
- ``sortino``        = mean(r) · √periods_per_year / √mean(min(r, 0)²)
- ``max_drawdown``   = min over points of E / running max(E) − 1 (≤ 0), on every point
- ``max_drawdown_duration_s``: the longest time from a peak to the point equity first
                       gets back to it (or to the end, if it never does)
- ``calmar``         = cagr / |max_drawdown|
- ``trades``         = closed round trips; ``win_rate`` = share with pnl > 0;
  ``profit_factor``  = Σ pnl > 0 / |Σ pnl < 0|; ``expectancy`` = mean pnl;
  ``sqn``            = √n · mean(pnl) / std(pnl, ddof=1) (Van Tharp), all on closed trades
- ``exposure``       = recorded time in a position / recorded time (time between
                       consecutive points of one segment)
- ``fees``           = Σ fees; ``spread_paid`` = Σ |units traded| · |quoted − reference|
                       (half the spread with quotes, 0 otherwise); ``slippage_paid`` =
                       Σ |units traded| · |execution − quoted|
- ``turnover``       = Σ |units traded| · execution price / starting equity
- ``buy_and_hold``   = mark_last / mark_first − 1 over the same points
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..timeutil import from_micros, iso
from .engine import Simulation

DAY_S = 86_400
YEAR_S = 365 * DAY_S
#: Under this span a CAGR is an extrapolation and says so.
CAGR_MIN_DAYS = 30


def _finite(x: float) -> float | None:
    """JSON has no inf or NaN: those become None."""
    return float(x) if x is not None and math.isfinite(x) else None


def _cagr(growth: float, span_s: float) -> float | None:
    """growth ^ (a year / span) − 1; None when undefined or beyond a float (a short span
    compounds a small gain into an astronomical rate)."""
    if span_s <= 0 or growth <= 0:
        return None
    exponent = math.log(growth) * (YEAR_S / span_s)
    return math.expm1(exponent) if exponent < 700 else None


def grid_returns(sim: Simulation, grid_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """(grid times, equity at them, position at them, returns of the valid steps)."""
    ts, seg = sim.market.ts, sim.market.segment
    if len(ts) == 0:
        empty = np.empty(0)
        return empty.astype(np.int64), empty, empty, empty
    grid = np.arange(ts[0], ts[-1], grid_us, dtype=np.int64)
    grid = np.append(grid, ts[-1])
    before = np.searchsorted(ts, grid, side="right") - 1       # last point at or before
    after = np.minimum(np.searchsorted(ts, grid, side="left"), len(ts) - 1)  # first at/after
    eq = sim.equity[before]
    pos = sim.position[before]
    inside = seg[before] == seg[after]  # not inside a gap
    ok = inside[1:] & inside[:-1] & (seg[before][1:] == seg[before][:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = eq[1:] / eq[:-1] - 1
    return grid, eq, pos, r[ok & np.isfinite(r)]


def drawdown(equity: np.ndarray, ts: np.ndarray) -> tuple[float, float]:
    """(maximum drawdown ≤ 0, its longest duration in seconds: peak to recovery or end)."""
    if len(equity) == 0:
        return 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1, 0.0)
    under = dd < 0
    if not under.any():
        return 0.0, 0.0
    # A drawdown spell starts at the last peak before it and ends at the first point
    # back at (or above) that peak, or at the last point.
    change = np.diff(np.concatenate(([False], under, [False])).astype(np.int8))
    starts = np.flatnonzero(change == 1)        # first point under water
    ends = np.flatnonzero(change == -1)         # first point recovered (or n)
    t_start = ts[starts - 1]                    # the peak (a point before exists: dd[0]=0)
    t_end = ts[np.minimum(ends, len(ts) - 1)]
    return float(dd.min()), float((t_end - t_start).max() / 1e6)


def grid_micros(grid_s: float) -> int:
    """The metrics grid's step in microseconds."""
    return max(int(round(grid_s * 1e6)), 1)


def compute_metrics(sim: Simulation, grid_s: float = 60.0,
                    grid: tuple[np.ndarray, ...] | None = None) -> dict[str, Any]:
    """Every metric of the module docstring, JSON-ready (None where undefined).

    ``grid``: what :func:`grid_returns` gave for this ``grid_s``, when the caller has it
    (the runner stores the same equity curve)."""
    m, costs, f, tr = sim.market, sim.costs, sim.fills, sim.trades
    grid_us = grid_micros(grid_s)
    periods = YEAR_S / (grid_us / 1e6)
    _, _, _, r = grid if grid is not None else grid_returns(sim, grid_us)
    n = len(m)
    e0, e1 = costs.cash, float(sim.equity[-1]) if n else costs.cash
    span_s = float((m.ts[-1] - m.ts[0]) / 1e6) if n else 0.0
    total = e1 / e0 - 1
    cagr = _cagr(e1 / e0, span_s)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else math.nan
    mean = float(np.mean(r)) if len(r) else math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0) ** 2))) if len(r) else math.nan
    max_dd, dd_s = drawdown(sim.equity, m.ts)

    closed = tr.pnl[tr.closed]
    wins, losses = closed[closed > 0], closed[closed < 0]
    nt = len(closed)
    sd_pnl = float(np.std(closed, ddof=1)) if nt > 1 else math.nan

    steps = np.diff(m.ts).astype(np.float64)
    recorded = m.segment[1:] == m.segment[:-1]
    in_pos = sim.units[:-1] != 0
    rec_time = float(steps[recorded].sum())
    traded = np.abs(f.delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "points": n,
            "start": iso(from_micros(int(m.ts[0]))) if n else None,
            "end": iso(from_micros(int(m.ts[-1]))) if n else None,
            "span_days": span_s / DAY_S,
            "grid_s": grid_s,
            "periods_per_year": periods,
            "year_days": 365,
            "start_equity": e0,
            "end_equity": e1,
            "total_return": total,
            "cagr": _finite(cagr) if cagr is not None else None,
            "cagr_meaningful": span_s >= CAGR_MIN_DAYS * DAY_S,
            "volatility": _finite(sd * math.sqrt(periods)),
            "sharpe": _finite(mean / sd * math.sqrt(periods)) if sd > 0 else None,
            "sortino": _finite(mean * math.sqrt(periods) / downside) if downside > 0 else None,
            "max_drawdown": max_dd,
            "max_drawdown_duration_s": dd_s,
            "calmar": _finite(cagr / abs(max_dd)) if cagr is not None and max_dd < 0 else None,
            "trades": nt,
            "open_trade": bool(len(tr) and not tr.closed[-1]),
            "win_rate": len(wins) / nt if nt else None,
            "profit_factor": _finite(wins.sum() / -losses.sum()) if len(losses) else None,
            "expectancy": float(closed.mean()) if nt else None,
            "sqn": _finite(math.sqrt(nt) * closed.mean() / sd_pnl) if nt > 1 and sd_pnl > 0
            else None,
            "exposure": float(steps[recorded & in_pos].sum() / rec_time) if rec_time else 0.0,
            "fills": len(f),
            "cancelled_signals": sim.cancelled,
            "fees": float(f.fee.sum()),
            "spread_paid": float((traded * np.abs(f.quoted - f.ref)).sum()),
            "slippage_paid": float((traded * np.abs(f.price - f.quoted)).sum()),
            "turnover": float((traded * f.price).sum() / e0),
            "buy_and_hold": float(m.mark[-1] / m.mark[0] - 1) if n else None,
        }
