"""The backtest engine against a slow event loop, its fill conventions, the look-ahead
cheat, and the metrics against their formulas computed with pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tsanalysis.backtest.engine import Costs, Market, simulate
from tsanalysis.backtest.market import bar_market, segments, tick_market
from tsanalysis.backtest.metrics import compute_metrics

from .backtest_reference import run_reference, trade_pnl

S = 1_000_000  # a second in µs


def walk(n: int, seed: int, vol: float = 0.01) -> np.ndarray:
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, vol, n)))


def random_market(rng: np.random.Generator, n: int) -> Market:
    """Irregular trades with gaps, filled next, same-point, or at a made-up spread."""
    ts = np.cumsum(rng.integers(1, 5, n)) * S
    price = walk(n, int(rng.integers(1 << 30)))
    mode = rng.choice(["next", "same_point", "quotes"])
    if mode == "quotes":
        qts = np.sort(np.concatenate((ts + rng.integers(1, 3 * S, n), ts)))
        mid = np.interp(qts, ts, price)
        half = rng.uniform(0, 0.002, len(qts)) * mid
        bid, ask = mid - half, mid + half
        bid[rng.random(len(qts)) < 0.02] = np.nan  # a one-sided quote now and then
        return tick_market(ts, price, 3.5 * S, "quotes", (qts, bid, ask))
    return tick_market(ts, price, 3.5 * S, mode)


def random_target(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.integers(0, 3)
    if kind == 0:
        return rng.choice([-1.0, 0.0, 1.0, np.nan], n)
    if kind == 1:  # fractional targets held for a while: resizes that keep the sign
        t = rng.uniform(-1.2, 1.2, n)
        t[rng.random(n) < 0.7] = np.nan
        return pd.Series(t).ffill().to_numpy()
    return np.round(rng.uniform(-1, 1, n), 1)


def assert_agree(m: Market, target: np.ndarray, costs: Costs) -> None:
    sim = simulate(m, target, costs)
    ref = run_reference(m, target, fee_bps=costs.fee_bps, slippage_bps=costs.slippage_bps,
                        size=costs.size, long_only=costs.long_only, cash=costs.cash)
    assert sim.cancelled == ref.cancelled
    assert list(sim.fills.point) == [f.point for f in ref.fills]
    assert list(sim.fills.ts) == [f.ts for f in ref.fills]
    assert list(sim.fills.side) == [f.side for f in ref.fills]
    np.testing.assert_allclose(sim.fills.price, [f.price for f in ref.fills], rtol=1e-12)
    np.testing.assert_allclose(sim.fills.fee, [f.fee for f in ref.fills], rtol=1e-9,
                               atol=1e-9 * costs.cash)
    np.testing.assert_allclose(sim.fills.units, [f.units for f in ref.fills], rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(sim.equity, ref.equity, rtol=1e-9)
    np.testing.assert_allclose(sim.units, ref.units, rtol=1e-9, atol=1e-12)
    assert len(sim.trades) == len(ref.trades)
    assert list(sim.trades.entry_ts) == [t.entry_ts for t in ref.trades]
    assert list(sim.trades.exit_ts) == [t.exit_ts for t in ref.trades]
    assert list(sim.trades.side) == [t.side for t in ref.trades]
    np.testing.assert_allclose(sim.trades.pnl, [trade_pnl(t, m.mark[-1]) for t in ref.trades],
                               rtol=1e-9, atol=1e-9 * costs.cash)
    np.testing.assert_allclose(sim.trades.fees, [t.fees for t in ref.trades], rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_engine_agrees_with_the_event_loop_on_random_walks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 600))
    costs = Costs(fee_bps=float(rng.choice([0, 10, 50])),
                  slippage_bps=float(rng.choice([0, 5])),
                  size=float(rng.choice([1.0, 0.5, 0.3])), long_only=bool(rng.integers(0, 2)))
    assert_agree(random_market(rng, n), random_target(rng, n), costs)


def test_engine_agrees_on_bars_with_gaps():
    rng = np.random.default_rng(7)
    n = 500
    ts = np.arange(n) * 60 * S
    ts[200:] += 3600 * S  # an hour without bars
    close = walk(n, 3)
    open_ = np.concatenate(([close[0]], close[:-1])) * (1 + rng.normal(0, 1e-4, n))
    m = bar_market(ts, open_, close, 60 * S, 5 * S)
    assert m.gap_after[199] and not m.fillable[199]
    assert_agree(m, rng.choice([-1.0, 0.0, 1.0], n), Costs(fee_bps=10))


def test_an_empty_and_a_one_point_market():
    for n in (0, 1):
        m = tick_market(np.arange(n, dtype=np.int64) * S, np.full(n, 100.0), None)
        sim = simulate(m, np.ones(n))
        assert len(sim.fills) == 0 and list(sim.equity) == [10_000.0] * n


# -- the conventions, by hand ------------------------------------------------------------

def test_a_decision_fills_at_the_next_trade_never_at_its_own():
    ts = np.arange(4) * S
    price = np.array([100.0, 101.0, 102.0, 103.0])
    sim = simulate(tick_market(ts, price, None), np.array([1.0, 1, 1, 1]))
    assert list(sim.fills.point) == [1] and sim.fills.price[0] == 101.0
    assert sim.equity[0] == 10_000.0 and sim.equity[1] == pytest.approx(10_000.0)
    assert sim.equity[3] == pytest.approx(10_000.0 * 103 / 101, rel=1e-12)


def test_fees_and_slippage_on_every_fill():
    ts = np.arange(3) * S
    price = np.array([100.0, 100.0, 100.0])
    sim = simulate(tick_market(ts, price, None), np.array([1.0, 0.0, 0.0]),
                   Costs(fee_bps=10, slippage_bps=20))
    buy, sell = sim.fills.price
    assert buy == pytest.approx(100 * 1.002) and sell == pytest.approx(100 * 0.998)
    units = sim.fills.units[0]
    # after the fee the position is all of the equity: units·X = E - fee, fee = r·units·X
    assert units * buy == pytest.approx(10_000 - 0.001 * units * buy)
    assert sim.fills.fee[1] == pytest.approx(0.001 * units * sell)
    assert sim.equity[-1] == pytest.approx(units * sell - sim.fills.fee[1])


def test_a_gap_cancels_the_order_and_is_counted():
    ts = np.array([0, 1, 2, 100, 101, 102]) * S
    price = np.array([100.0, 101, 102, 103, 104, 105])
    target = np.array([0.0, 0, 1, 1, 1, 1])  # decided on the last point before the gap
    sim = simulate(tick_market(ts, price, 5 * S), target)
    assert sim.cancelled == 1
    assert list(sim.fills.point) == [4] and sim.fills.price[0] == 104.0  # decided at 3


def test_quotes_fill_at_the_ask_and_bid_of_the_first_quote_strictly_after():
    ts = np.array([0, 10, 20, 30]) * S
    price = np.array([100.0, 100.0, 100.0, 100.0])
    qts = np.array([0, 10, 11, 20, 21, 30]) * S  # one at each trade's own time, one after
    bid = np.array([98.0, 98.0, 99.0, 98.0, 97.0, 98.0])
    ask = np.array([102.0, 102.0, 101.0, 102.0, 103.0, 102.0])
    m = tick_market(ts, price, 15 * S, "quotes", (qts, bid, ask))
    sim = simulate(m, np.array([0.0, 1.0, -1.0, -1.0]))
    assert list(sim.fills.price) == [101.0, 97.0]           # the 11 s ask, the 21 s bid
    assert list(sim.fills.ts) == [11 * S, 21 * S]
    assert m.mark[1] == 100.0 and m.mark[2] == 100.0        # marked at the latest mid
    spread = compute_metrics(sim)["spread_paid"]
    u0, u1 = sim.fills.units
    assert spread == pytest.approx(abs(u0) * 1.0 + abs(u1 - u0) * 3.0)


def test_bars_fill_at_the_next_open():
    ts = np.arange(3) * 60 * S
    m = bar_market(ts, np.array([10.0, 11.0, 12.0]), np.array([10.5, 11.5, 12.5]), 60 * S,
                   None)
    sim = simulate(m, np.array([1.0, 1.0, 1.0]))
    assert sim.fills.price[0] == 11.0 and sim.equity[1] == pytest.approx(10_000 * 11.5 / 11)


def test_long_only_holds_shorts_as_flat_and_size_scales_the_position():
    ts = np.arange(4) * S
    price = np.array([100.0, 100.0, 110.0, 110.0])
    sim = simulate(tick_market(ts, price, None), np.array([-1.0, 0.5, 0.5, 0.5]),
                   Costs(size=0.5, long_only=True))
    assert list(sim.fills.point) == [2]
    assert sim.position[2] == pytest.approx(0.25)


def test_trades_split_a_flip_and_keep_scale_ins_together():
    ts = np.arange(6) * S
    price = np.array([100.0, 100, 100, 120, 120, 120])
    # long 0.5, scale in to 1, flip to short, flat
    sim = simulate(tick_market(ts, price, None), np.array([0.5, 1.0, 1.0, -1.0, 0.0, 0.0]))
    t = sim.trades
    assert list(t.side) == [1, -1] and list(t.closed) == [True, True]
    assert t.size[0] == pytest.approx(100.0)            # 50 + 50 units at 100
    assert t.pnl[0] == pytest.approx(100 * 20)          # sold at 120
    assert t.exit_ts[0] == t.entry_ts[1] == 4 * S


# -- look-ahead -------------------------------------------------------------------------

def test_a_strategy_that_reads_the_next_price_wins_only_with_same_point_fills():
    n = 5_000
    ts = np.arange(n) * S
    price = walk(n, 11, vol=0.001)
    cheat = np.sign(np.append(price[1:] - price[:-1], 0.0))  # knows the next price
    honest = simulate(tick_market(ts, price, None, "next"), cheat)
    peeking = simulate(tick_market(ts, price, None, "same_point"), cheat)
    assert peeking.equity[-1] / 10_000 > 20          # sum of |returns|: it always wins
    # Filled next, the knowledge is stale: profit per point is noise around zero.
    pnl = np.diff(honest.equity)
    t_stat = pnl.mean() / (pnl.std(ddof=1) / math.sqrt(len(pnl)))
    assert abs(t_stat) < 4 and honest.equity[-1] / 10_000 < 1.5


# -- metrics against pandas -----------------------------------------------------------------

def test_metrics_follow_their_formulas():
    rng = np.random.default_rng(5)
    n = 20_000
    ts = np.cumsum(rng.integers(1, 4, n)) * S
    ts[12_000:] += 2 * 3600 * S  # two hours unrecorded
    price = walk(n, 9, vol=0.0005)
    m = tick_market(ts, price, 10 * S)
    target = np.where(rng.random(n) < 0.01, rng.choice([-1.0, 0.0, 1.0], n), np.nan)
    sim = simulate(m, pd.Series(target).ffill().fillna(0).to_numpy(), Costs(fee_bps=5))
    got = compute_metrics(sim, grid_s=60)

    eq = pd.Series(sim.equity, index=pd.to_datetime(ts, unit="us"))
    grid = pd.date_range(eq.index[0], eq.index[-1], freq="60s")
    grid = grid.append(pd.DatetimeIndex([eq.index[-1]])).unique()
    on_grid = eq.reindex(eq.index.union(grid)).ffill().loc[grid]
    seg = pd.Series(segments(ts, 10 * S), index=eq.index)
    seg_before = seg.reindex(seg.index.union(grid)).ffill().loc[grid].to_numpy()
    seg_after = seg.reindex(seg.index.union(grid)).bfill().loc[grid].to_numpy()
    inside = seg_before == seg_after
    valid = inside[1:] & inside[:-1] & (seg_before[1:] == seg_before[:-1])
    r = on_grid.pct_change().to_numpy()[1:][valid]
    per_year = 365 * 24 * 60
    assert valid.sum() < len(valid) - 100   # the unrecorded hours are left out
    assert got["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(per_year),
                                          rel=1e-9)
    assert got["volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(per_year), rel=1e-9)
    assert got["sortino"] == pytest.approx(
        r.mean() * math.sqrt(per_year) / math.sqrt((np.minimum(r, 0) ** 2).mean()), rel=1e-9)
    assert got["total_return"] == pytest.approx(eq.iloc[-1] / 10_000 - 1, rel=1e-12)
    dd = eq / eq.cummax() - 1
    assert got["max_drawdown"] == pytest.approx(dd.min(), rel=1e-12)
    closed = sim.trades.pnl[sim.trades.closed]
    assert got["trades"] == len(closed)
    assert got["win_rate"] == pytest.approx((closed > 0).mean())
    assert got["profit_factor"] == pytest.approx(closed[closed > 0].sum()
                                                 / -closed[closed < 0].sum())
    assert got["sqn"] == pytest.approx(math.sqrt(len(closed)) * closed.mean()
                                       / closed.std(ddof=1))
    steps = np.diff(ts)
    rec = seg.to_numpy()[1:] == seg.to_numpy()[:-1]
    held = sim.units[:-1] != 0
    assert got["exposure"] == pytest.approx(steps[rec & held].sum() / steps[rec].sum())
    assert got["fees"] == pytest.approx(sim.fills.fee.sum())
    assert got["buy_and_hold"] == pytest.approx(price[-1] / price[0] - 1)
    assert got["cagr_meaningful"] is False and got["year_days"] == 365
    span_days = (ts[-1] - ts[0]) / S / 86_400
    assert got["cagr"] == pytest.approx((eq.iloc[-1] / 10_000) ** (365 / span_days) - 1,
                                        rel=1e-9)


def test_cagr_of_a_short_span_is_none_not_an_overflow():
    ts = np.arange(3) * 60 * S
    sim = simulate(tick_market(ts, np.array([100.0, 100.0, 150.0]), None),
                   np.array([1.0, 1.0, 1.0]))
    got = compute_metrics(sim)
    assert got["total_return"] == pytest.approx(0.5) and got["cagr"] is None
    assert got["calmar"] is None and got["cagr_meaningful"] is False


def test_engine_agrees_when_most_points_cannot_fill():
    """Over a thousand unfillable points take the engine's general (vectorised) path."""
    rng = np.random.default_rng(21)
    n = 4_000
    ts = np.cumsum(rng.choice([1, 10], n, p=[0.5, 0.5])) * S  # every other step a gap
    m = tick_market(ts, walk(n, 4), 5 * S)
    assert np.count_nonzero(~m.fillable) > 1_000
    for same in (False, True):
        market = m if not same else tick_market(ts, m.mark, 5 * S, "same_point")
        assert_agree(market, rng.choice([-1.0, 0.0, 0.5, 1.0], n), Costs(fee_bps=3))
