"""A slow, obviously correct backtest: one point at a time, with cash and units.

The engine (:mod:`tsanalysis.backtest.engine`) is vectorised and derives its equity from a
cumulative product; this loop states the same rules the plain way, and the tests require
the two to agree on every fill, fee, trade and equity value. It shares no code with the
engine: only the :class:`~tsanalysis.backtest.engine.Market` it reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class RefFill:
    point: int
    ts: int
    side: int
    price: float
    units: float
    fee: float


@dataclass
class RefTrade:
    entry_ts: int
    side: int
    size: float = 0.0
    entry_notional: float = 0.0
    exit_qty: float = 0.0
    exit_notional: float = 0.0
    fees: float = 0.0
    exit_ts: int = -1


@dataclass
class RefResult:
    equity: list[float] = field(default_factory=list)
    units: list[float] = field(default_factory=list)
    fills: list[RefFill] = field(default_factory=list)
    trades: list[RefTrade] = field(default_factory=list)
    cancelled: int = 0


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def run_reference(m, target, *, fee_bps=0.0, slippage_bps=0.0, size=1.0, long_only=False,
                  cash=10_000.0) -> RefResult:
    r, s = fee_bps / 10_000, slippage_bps / 10_000
    out = RefResult()
    money, units, held = cash, 0.0, 0.0  # held: the target weight last filled
    pending = None
    trade = None

    def wanted(i):
        t = float(target[i])
        if math.isnan(t):
            return 0.0
        t = max(min(t, 1.0), 0.0 if long_only else -1.0)
        return t * size

    def execute(i, w, at_point):
        nonlocal money, units, trade
        p = float(m.ref[i])
        value_ref = money + units * p
        side = _sign(w - units * p / value_ref) if value_ref > 0 else _sign(w)
        if side > 0:
            x = float(m.buy[i]) * (1 + s)
        elif side < 0:
            x = float(m.sell[i]) * (1 - s)
        else:
            x = p
        equity = money + units * x
        if equity <= 0:
            new_units, fee = 0.0, 0.0
            money = 0.0
        else:
            # q'·x = w·(equity - fee), fee = r·|q' - q|·x, q' - q has the sign `side`
            new_units = w * (equity + r * side * units * x) / (x * (1 + w * r * side))
            fee = r * abs(new_units - units) * x
            money -= (new_units - units) * x + fee
        old = units
        units = new_units
        out.fills.append(RefFill(at_point, int(m.fill_ts[i]), side, x, units, fee))
        _book(old, units, x, fee, int(m.fill_ts[i]))

    def _book(old, new, x, fee, ts):
        nonlocal trade
        traded = abs(new - old)
        if traded == 0:
            return
        close = 0.0
        if old != 0 and (_sign(new) != _sign(old) or abs(new) < abs(old)):
            close = abs(old) if _sign(new) != _sign(old) else abs(old) - abs(new)
        opened = max(traded - close, 0.0)
        if close > 0:
            trade.exit_qty += close
            trade.exit_notional += close * x
            trade.fees += fee * close / traded
            if new == 0 or _sign(new) != _sign(old):
                trade.exit_ts = ts
                out.trades.append(trade)
                trade = None
        if opened > 0:
            if trade is None:
                trade = RefTrade(ts, _sign(new))
            trade.size += opened
            trade.entry_notional += opened * x
            trade.fees += fee * opened / traded

    n = len(m.ts)
    for i in range(n):
        if pending is not None:
            execute(pending[0], pending[1], i)
            held = pending[1]
            pending = None
        w = wanted(i)
        if m.same_point:
            if w != held:
                if m.fillable[i]:
                    execute(i, w, i)
                    held = w
                elif m.gap_after[i]:
                    out.cancelled += 1
        out.equity.append(money + units * float(m.mark[i]))
        out.units.append(units)
        if not m.same_point and w != held:
            if m.fillable[i]:
                pending = (i, w)
            elif m.gap_after[i]:
                out.cancelled += 1
    if trade is not None:
        out.trades.append(trade)
    return out


def trade_pnl(t: RefTrade, last_mark: float) -> float:
    """A trade's profit: closed at its exits, an open one marked at the last price."""
    left = t.size - t.exit_qty
    value = t.exit_notional + (left * last_mark if t.exit_ts < 0 else 0.0)
    return t.side * (value - t.entry_notional) - t.fees
