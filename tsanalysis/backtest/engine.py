"""The engine: target positions in; fills, equity and trades out. Vectorised.

Conventions (the README's "Backtests" section says the same, with the reasons):

- **Points** are the prices the strategy sees: trades, or bars. A target decided at point
  ``i`` is filled for the next point ``i + 1`` (:class:`Market` says at what price and
  when), never at ``i``. A same-point fill exists only as the ``same_point`` opt-in.
- **Held weight.** A target ``w`` in ``[-1, 1]`` (``[0, 1]`` long-only), times ``size``,
  is the share of equity held in the asset just after its fill. An order is placed when
  the target differs from the weight last filled; nothing is rebalanced while it stays.
- **Gaps.** A decision whose fill would cross a recording gap (``Market.fillable`` is
  False) is cancelled and counted; the strategy's next decision is the next order.
- **Prices.** A buy pays ``buy`` and a sell receives ``sell`` (the trade price or bar
  open for both, or the quote's ask and bid), moved ``slippage_bps`` against the order.
  The side is the sign of the target weight minus the weight held (valued at the fill's
  reference price, ``ref``).
- **Fees**: ``fee_bps`` of the traded notional, on every fill, paid from equity; the units
  bought are sized so that the weight after the fee is the target.

Why vectorised and exact: between fills the units and cash are constant; at fill ``k``
(target weight ``b``, weight held just before ``a``, execution price ``X``, fee rate
``r``, side ``s``) the fee is a fraction ``phi = s·r·(b - a) / (1 + s·r·b)`` of the equity,
and equity grows from one fill to the next by ``(1 + b_prev·(X_k / X_prev - 1))·(1 - phi)``.
So equity after every fill is one cumulative product, and at every point
``E = cash + units·mark``. The only sequential step is the side of a fill that resizes a
position without changing its sign, which depends on the previous fill's execution price;
those fills (none for targets in {-1, 0, 1}) are resolved in order in a short loop.
The slow event-loop reference in ``tests/backtest_reference.py`` implements the same
rules with cash and units, point by point; the tests require agreement to 1e-9.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

#: Basis points in one.
BPS = 1e-4


@dataclass(frozen=True)
class Market:
    """The points of a run and how an order decided at each fills.

    Arrays of one length ``n``. ``ts`` are int64 microseconds; ``mark`` is the price equity
    is marked at. For a decision at point ``i``: ``fillable[i]`` (no gap, no end of data,
    a price to fill at), ``ref[i]`` (the reference price: trade, bar open or quote mid),
    ``buy[i]``/``sell[i]`` (what a buy pays and a sell receives before slippage), and
    ``fill_ts[i]`` (when the fill happens). ``gap_after[i]``: the decision is not fillable
    because a gap follows (counted as a cancelled signal when an order was due).
    ``same_point``: the order fills at its own point (the look-ahead opt-in).
    """

    ts: np.ndarray
    mark: np.ndarray
    fillable: np.ndarray
    ref: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    fill_ts: np.ndarray
    gap_after: np.ndarray
    segment: np.ndarray
    same_point: bool = False

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True)
class Costs:
    """What trading costs and how much is traded.

    ``fee_bps``: fee per fill in basis points of the traded notional. ``slippage_bps``: the
    execution price moves this much against the order. ``size``: the fraction of equity a
    full target (1 or -1) puts in the asset (0 < size <= 1). ``long_only``: targets below
    0 are held as 0. ``cash``: the starting equity.
    """

    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    size: float = 1.0
    long_only: bool = False
    cash: float = 10_000.0

    def __post_init__(self) -> None:
        for name in ("fee_bps", "slippage_bps"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 <= v < 10_000):
                raise ValueError(f"{name} must be a number in [0, 10000), not {v!r}")
        if not (np.isfinite(self.size) and 0 < self.size <= 1):
            raise ValueError(f"size must be in (0, 1] (a fraction of equity), not {self.size!r}")
        if not (np.isfinite(self.cash) and self.cash > 0):
            raise ValueError(f"cash must be a positive number, not {self.cash!r}")


@dataclass
class Fills:
    """One entry per fill, in time order."""

    point: np.ndarray      #: index of the point from which the new position is held
    decision: np.ndarray   #: index of the point that decided it
    ts: np.ndarray         #: int64 µs of the fill
    side: np.ndarray       #: +1 buy, -1 sell (0: the target equalled the held weight)
    price: np.ndarray      #: execution price (slippage included)
    ref: np.ndarray        #: reference price (trade, open, or quote mid)
    quoted: np.ndarray     #: the quoted price of the side (ask/bid; trade price otherwise)
    units: np.ndarray      #: units held after the fill
    delta: np.ndarray      #: units traded (signed)
    fee: np.ndarray        #: fee paid
    weight: np.ndarray     #: target weight after the fill
    equity: np.ndarray     #: equity just after the fill, valued at the execution price

    def __len__(self) -> int:
        return int(self.point.shape[0])


@dataclass
class Trades:
    """Round trips: from opening a position to flat or to a flip. The last one may be open
    (``closed`` False; its ``pnl`` marked at the last price)."""

    entry_ts: np.ndarray
    exit_ts: np.ndarray     #: -1 while open
    side: np.ndarray        #: +1 long, -1 short
    size: np.ndarray        #: units opened (scale-ins summed)
    entry_price: np.ndarray  #: mean price of the opening fills, by units
    exit_price: np.ndarray   #: mean price of the closing fills, by units (NaN while open)
    fees: np.ndarray
    pnl: np.ndarray
    closed: np.ndarray

    def __len__(self) -> int:
        return int(self.entry_ts.shape[0])


@dataclass
class Simulation:
    """What :func:`simulate` returns: per point, per fill and per trade."""

    market: Market = field(repr=False)
    costs: Costs
    target: np.ndarray = field(repr=False)   #: the target weight held per decision (sized)
    equity: np.ndarray = field(repr=False)   #: per point, marked at ``market.mark``
    units: np.ndarray = field(repr=False)    #: units held per point
    fills: Fills = field(repr=False)
    trades: Trades = field(repr=False)
    cancelled: int = 0                       #: orders cancelled by a gap

    @functools.cached_property
    def position(self) -> np.ndarray:
        """Share of equity in the asset at each point (signed)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            w = self.units * self.market.mark / self.equity
        return np.where(self.units == 0, 0.0, w)


def carry_forward(values: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """NaN replaced by the last value before it (``fill`` before the first): targets
    from events, each holding until the next one."""
    valid = ~np.isnan(values)
    idx = np.where(valid, np.arange(len(values)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = values[idx]
    out[np.isnan(out)] = fill
    return out


def sized_target(target: np.ndarray, costs: Costs) -> np.ndarray:
    """The strategy's targets as weights: NaN is flat, clipped to [-1, 1] ([0, 1]
    long-only), times ``size``."""
    d = np.nan_to_num(np.asarray(target, dtype=np.float64), nan=0.0, posinf=1.0,
                      neginf=-1.0)
    return np.clip(d, 0.0 if costs.long_only else -1.0, 1.0) * costs.size


def held_weights(m: Market, d: np.ndarray) -> np.ndarray:
    """The weight held from each point on (after that point's fill), starting flat."""
    blocked = np.flatnonzero(~m.fillable)
    n = len(d)
    if len(blocked) > 1_000:  # many unfillable points: the general, vectorised form
        filled = carry_forward(np.where(m.fillable, d, np.nan))
        if m.same_point:
            return filled
        return np.concatenate(([0.0], filled[:-1]))[:n]
    # Usually only the last point and the ends of segments cannot fill: shift the
    # targets, then carry the weight across those few points in order.
    if m.same_point:
        held = d.copy()
        for i in blocked:
            held[i] = held[i - 1] if i > 0 else 0.0
        return held
    held = np.empty(n)
    if n:
        held[0] = 0.0
        held[1:] = d[:-1]
    for i in blocked:
        if i + 1 < n:
            held[i + 1] = held[i]
    return held


def simulate(m: Market, target: np.ndarray, costs: Costs = Costs()) -> Simulation:
    """Run targets (one per point, NaN for none) through the market; see the module doc."""
    n = len(m)
    if np.asarray(target).shape != (n,):
        raise ValueError(f"target has shape {np.asarray(target).shape}, expected ({n},)")
    d = sized_target(target, costs)
    held = held_weights(m, d)
    before = np.concatenate(([0.0], held[:-1]))
    point = np.flatnonzero(held != before)
    decision = point if m.same_point else point - 1
    # Orders due where a gap (not the end of the data) stops the fill.
    at_decision = held if not m.same_point else before
    cancelled = int(np.count_nonzero(m.gap_after & (d != at_decision)))

    b = held[point]
    b_prev = np.concatenate(([0.0], b[:-1]))
    ref, buy, sell = m.ref[decision], m.buy[decision], m.sell[decision]
    r, slip = costs.fee_bps * BPS, costs.slippage_bps * BPS

    side = np.sign(b - b_prev)
    price = np.where(side > 0, buy * (1 + slip), np.where(side < 0, sell * (1 - slip), ref))
    # A resize that keeps the sign: the side depends on the drift since the last fill.
    for k in np.flatnonzero(b * b_prev > 0):
        rho = ref[k] / price[k - 1]
        a = b_prev[k] * rho / (1 + b_prev[k] * (rho - 1))
        side[k] = np.sign(b[k] - a)
        price[k] = (buy[k] * (1 + slip) if side[k] > 0 else
                    sell[k] * (1 - slip) if side[k] < 0 else ref[k])
    quoted = np.where(side > 0, buy, np.where(side < 0, sell, ref))

    prev_price = np.concatenate(([np.nan], price[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(b_prev != 0, price / prev_price, 1.0)
        drift = 1 + b_prev * (rho - 1)                     # equity since the last fill
        a = np.where(b_prev != 0, b_prev * rho / drift, 0.0)  # weight held just before
    phi = np.where(side != 0, side * r * (b - a) / (1 + side * r * b), 0.0)
    growth = np.maximum(drift * (1 - phi), 0.0)  # equity cannot go below nothing
    after = costs.cash * np.cumprod(growth)      # equity just after each fill
    with np.errstate(divide="ignore", invalid="ignore"):
        pre = np.where(phi < 1, after / (1 - phi), 0.0)
    fee = phi * pre
    units = np.where(after > 0, b * after / price, 0.0)
    delta = np.diff(units, prepend=0.0)

    # Per point: the state after the last fill at or before it (state 0: no fill yet).
    is_fill = np.zeros(n, dtype=np.int64)
    is_fill[point] = 1
    state = np.cumsum(is_fill)
    cash_of = np.concatenate(([costs.cash], after * (1 - b)))
    units_of = np.concatenate(([0.0], units))
    u = units_of[state]
    eq = cash_of[state] + u * m.mark

    fills = Fills(point, decision, m.fill_ts[decision], side.astype(np.int8), price, ref,
                  quoted, units, delta, fee, b, after)
    trades = round_trips(fills, m.mark[-1] if n else np.nan)
    return Simulation(m, costs, d, eq, u, fills, trades, cancelled)


def round_trips(f: Fills, last_mark: float) -> Trades:
    """Group fills into trades: a trade opens when the position leaves flat (or flips) and
    closes when it is flat again (or flips); scale-ins and partial exits stay in it."""
    qn = f.units
    qp = np.concatenate(([0.0], qn[:-1]))
    sp, sn = np.sign(qp), np.sign(qn)
    flip = sn != sp
    closing = (sp != 0) & (flip | (np.abs(qn) < np.abs(qp)))
    close_qty = np.where(closing, np.where(flip, np.abs(qp), np.abs(qp) - np.abs(qn)), 0.0)
    open_qty = np.maximum(np.abs(qn - qp) - close_qty, 0.0)
    new = (open_qty > 0) & ((sp == 0) | flip)
    count = np.cumsum(new)
    open_id = count - 1                 # the trade opened or scaled into at this fill
    close_id = count - new - 1          # the trade held before this fill
    nt = int(count[-1]) if len(count) else 0
    traded = np.abs(f.delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_open = np.where(traded > 0, open_qty / traded, 0.0)

    def per_trade(ids: np.ndarray, w: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(ids[mask], weights=w[mask], minlength=nt)[:nt]

    o, c = open_qty > 0, close_qty > 0
    entry_qty = per_trade(open_id, open_qty, o)
    entry_notional = per_trade(open_id, open_qty * f.price, o)
    exit_qty = per_trade(close_id, close_qty, c)
    exit_notional = per_trade(close_id, close_qty * f.price, c)
    fees = per_trade(open_id, f.fee * share_open, o) + \
        per_trade(close_id, f.fee * (1 - share_open), c)
    starts = np.flatnonzero(new)
    side = sn[starts].astype(np.int8)
    entry_ts = f.ts[starts]
    # A trade ends at the fill that flips the position or makes it flat.
    ends = np.flatnonzero(closing & ((sn == 0) | flip))
    exit_ts = np.full(nt, -1, dtype=np.int64)
    exit_ts[close_id[ends]] = f.ts[ends]
    closed = exit_ts >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        entry_price = entry_notional / entry_qty
        exit_price = np.where(exit_qty > 0, exit_notional / exit_qty, np.nan)
    still = entry_qty - exit_qty  # units left in an open trade
    marked = exit_notional + np.where(closed, 0.0, still * last_mark)
    pnl = side * (marked - entry_notional) - fees
    return Trades(entry_ts, exit_ts, side, entry_qty, entry_price, exit_price, fees, pnl,
                  closed)
