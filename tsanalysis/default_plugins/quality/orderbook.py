"""Order-book checks: crossed (bid > ask) and locked (bid = ask) quotes, missing sides,
wide spreads (``orderbook``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import QUOTES
from tsanalysis.quality.score import tally
from tsanalysis.timeutil import from_micros

from .common import ODD_WINDOW, Kinds, load_kernels, of


def orderbook(ctx: CheckContext, window: int, spread_ratio: float) -> CheckResult:
    """Crossed, locked and one-sided quotes, and spreads far above their median."""
    rows = ctx.rows(QUOTES)
    if rows == 0:
        return CheckResult(applicable=False)
    k = load_kernels()
    half = window // 2
    crossed_s, locked_s, missing_s = k.RunStream(), k.RunStream(), k.RunStream()
    stream = k.CenteredStream(half)
    res = CheckResult()
    kinds = Kinds(ctx.max_findings)
    counts = {"crossed": 0, "locked": 0, "missing_bid": 0, "missing_ask": 0, "wide": 0}
    missing_rows = 0
    first: dict[str, pd.Timestamp] = {}
    side_names = {1.0: "no bid", 2.0: "no ask", 3.0: "no bid and no ask"}

    for ch in ctx.chunks(QUOTES, ["ts", "bid_price", "ask_price"]):
        bid, ask = ch["bid_price"], ch["ask_price"]
        has_bid, has_ask = np.isfinite(bid), np.isfinite(ask)
        both = has_bid & has_ask
        crossed, locked = both & (bid > ask), both & (bid == ask)
        counts["missing_bid"] += int((~has_bid).sum())
        counts["missing_ask"] += int((~has_ask).sum())
        zeros = np.zeros(len(bid))
        for name, runs_stream, mask, what in (("crossed", crossed_s, crossed, "crossed"),
                                              ("locked", locked_s, locked, "locked")):
            runs = runs_stream.push(ch.offset, ch.ts, zeros, mask, ch.last)
            counts[name] += int(runs.rows.sum())
            for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
                first.setdefault(name, from_micros(s))
                kinds.add(name, Finding(
                    "orderbook", ctx.symbol, from_micros(s), from_micros(e), int(n), "warning",
                    table=QUOTES,
                    detail=f"{fmt.plural(int(n), what + ' quote')} "
                           f"(bid {'>' if name == 'crossed' else '='} ask)",
                    data={"kind": name}))
        side = np.where(~has_bid, 1.0, 0.0) + np.where(~has_ask, 2.0, 0.0)
        missing_rows += int((side > 0).sum())
        runs = missing_s.push(ch.offset, ch.ts, side, side > 0, ch.last)
        for s, e, n, key in zip(runs.start_ts, runs.end_ts, runs.rows, runs.key, strict=True):
            first.setdefault("missing", from_micros(s))
            kinds.add("missing", Finding(
                "orderbook", ctx.symbol, from_micros(s), from_micros(e), int(n), "warning",
                table=QUOTES,
                detail=f"{fmt.plural(int(n), 'quote')} with {side_names[float(key)]}",
                data={"kind": "missing_side"}))
        normal = both & (bid < ask)
        buf, lo, hi = stream.push({"x": (ask - bid)[normal], "ts": ch.ts[normal],
                                   "bid": bid[normal], "ask": ask[normal]}, ch.last)
        med = k.rolling_median(buf["x"], half, lo, hi)
        wide = np.flatnonzero(buf["x"][lo:hi] > spread_ratio * med)
        counts["wide"] += len(wide)
        for j in wide:
            i = lo + int(j)
            at, sp = from_micros(buf["ts"][i]), float(buf["x"][i])
            kinds.add("wide", Finding(
                "orderbook", ctx.symbol, at, at, 1, "info", table=QUOTES,
                        detail=f"spread {fmt.number(round(sp, 10))} is {sp / med[j]:,.0f}x the "
                               f"rolling median {fmt.number(round(float(med[j]), 10))}",
                        data={"kind": "wide_spread", "spread": sp,
                              "median_spread": float(med[j]),
                              "bid": float(buf["bid"][i]), "ask": float(buf["ask"][i])}))
    res.findings = kinds.all()
    res.metrics.update(crossed_quotes=counts["crossed"], locked_quotes=counts["locked"],
                       missing_bid_quotes=counts["missing_bid"],
                       missing_ask_quotes=counts["missing_ask"],
                       spread_outliers=counts["wide"])
    res.score, res.basis = tally(
        [(counts["crossed"], "warning", "crossed"), (counts["locked"], "warning", "locked"),
         (missing_rows, "warning", "one-sided"), (counts["wide"], "info", "wide-spread")],
        rows, of(rows, QUOTES))
    for name, advice in (("crossed", "drop or correct"),
                         ("locked", "drop them unless the venue allows locked markets")):
        if counts[name]:
            res.recommendations.append(
                f"{ctx.symbol}: {fmt.plural(counts[name], name + ' quote')} (first at "
                f"{fmt.utc(first[name])} UTC): {advice}")
    if "missing" in first:
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(missing_rows, 'quote')} with a side missing (first at "
            f"{fmt.utc(first['missing'])} UTC): forward-fill the side or drop them")
    if counts["wide"]:
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(counts['wide'], 'quote')} with a spread over "
            f"{spread_ratio:g}x the rolling median: exclude them from spread-sensitive work")
    return res


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="orderbook", run=orderbook, tables=(QUOTES,), weight=10,
            params={
                "window": Param(61, ODD_WINDOW, minimum=3),
                "spread_ratio": Param(30.0, "a spread wider than this many times its "
                                      "rolling median is an outlier", minimum=1.0),
            },
            doc="Crossed (bid > ask) and locked (bid = ask) quotes, quotes missing a side, "
                "and spreads far wider than their rolling median."),
    ]
