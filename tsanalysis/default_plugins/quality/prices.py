"""Price checks: are the trade prices believable?

- ``prices``: non-finite or non-positive prices; Hampel outliers (rolling median ± n·MAD);
- ``stale``: runs of an unchanged price.
"""

from __future__ import annotations

import numpy as np

from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import TICKS
from tsanalysis.quality.score import tally
from tsanalysis.timeutil import from_micros

from .common import ODD_WINDOW, Kinds, load_kernels, of


def prices(ctx: CheckContext, window: int, n_sigmas: float, min_scale: float) -> CheckResult:
    """Invalid prices, and prices outside the Hampel bounds of their window."""
    if ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    k = load_kernels()
    half = window // 2
    stream = k.CenteredStream(half)
    bad_runs = k.RunStream()
    res = CheckResult()
    kinds = Kinds(ctx.max_findings)
    anomalies: list[dict] = []
    n_anomalies = n_invalid = 0
    for ch in ctx.chunks(TICKS, ["ts", "price"]):
        price = ch["price"]
        valid = np.isfinite(price) & (price > 0)
        n_invalid += int((~valid).sum())
        runs = bad_runs.push(ch.offset, ch.ts, np.zeros(len(price)), ~valid, ch.last)
        for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
            kinds.add("invalid", Finding(
                "prices", ctx.symbol, from_micros(s), from_micros(e), int(n), "critical",
                table=TICKS,
                detail=f"{fmt.plural(int(n), 'price')} not finite or not positive"))
        buf, lo, hi = stream.push({"x": price[valid], "ts": ch.ts[valid]}, ch.last)
        idx, med, scale = k.hampel(buf["x"], half, lo, hi, float(n_sigmas), 0.0,
                                   float(min_scale), False)
        n_anomalies += len(idx)
        for i, m, sc in zip(idx, med, scale, strict=True):
            if len(anomalies) >= ctx.max_findings:
                break
            x, at = float(buf["x"][i]), from_micros(buf["ts"][i])
            lower, upper = m - n_sigmas * sc, m + n_sigmas * sc
            anomalies.append({"ts": at, "price": x, "lower": lower, "upper": upper})
            kinds.add("anomaly", Finding(
                "prices", ctx.symbol, at, at, 1, "warning", table=TICKS,
                detail=f"price {fmt.number(x)} outside [{fmt.number(round(lower, 10))}, "
                       f"{fmt.number(round(upper, 10))}] ({(x - m) / m:+.2%} from the median "
                       f"of {window} trades)",
                data={"price": x, "lower": lower, "upper": upper, "median": m, "scale": sc}))
    res.findings = kinds.all()
    res.metrics.update(price_anomalies=anomalies, price_anomaly_count=n_anomalies,
                       invalid_prices=n_invalid)
    res.score, res.basis = tally(
        [(n_invalid, "critical", "invalid prices"), (n_anomalies, "warning", "price spikes")],
        ctx.rows(TICKS), of(ctx.rows(TICKS), TICKS))
    if n_invalid:
        res.recommendations.append(f"{ctx.symbol}: drop {fmt.plural(n_invalid, 'trade')} with "
                                   "a non-finite or non-positive price")
    if n_anomalies:
        when = ", ".join(fmt.utc(a["ts"]) for a in anomalies[:3])
        more = f" and {n_anomalies - 3:,} more" if n_anomalies > 3 else ""
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(n_anomalies, 'price spike')} at {when}{more} UTC: "
            "verify against the venue; drop or correct them before backtesting")
    return res


# -- stale prices ----------------------------------------------------------------------


def stale(ctx: CheckContext, min_rows: int, min_duration_cadences: float) -> CheckResult:
    """Runs of one trade price, at least ``min_rows`` long and lasting."""
    if ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    cad = ctx.cadence(TICKS)
    min_us = int(min_duration_cadences * cad.micros) if cad.micros else 0
    runs_stream = load_kernels().RunStream(min_rows)
    res = CheckResult()
    items: list[dict] = []
    n_runs = stale_rows = 0
    for ch in ctx.chunks(TICKS, ["ts", "price"]):
        price = ch["price"]
        valid = np.isfinite(price) & (price > 0)
        runs = runs_stream.push(ch.offset, ch.ts, np.where(valid, price, 0.0), valid, ch.last)
        keep = (runs.end_ts - runs.start_ts) >= min_us
        for s, e, n, px in zip(runs.start_ts[keep], runs.end_ts[keep], runs.rows[keep],
                               runs.key[keep], strict=True):
            n_runs += 1
            stale_rows += int(n)
            if len(items) >= ctx.max_findings:
                continue
            dur = (int(e) - int(s)) / 1e6
            items.append({"start": from_micros(s), "end": from_micros(e), "rows": int(n),
                          "duration_s": dur, "price": float(px)})
            res.findings.append(Finding(
                "stale", ctx.symbol, from_micros(s), from_micros(e), int(n), "warning",
                table=TICKS,
                detail=f"price {fmt.number(float(px))} unchanged for {int(n):,} trades over "
                       f"{fmt.duration(dur)}",
                data={"price": float(px), "duration_s": dur}))
    res.metrics.update(stale_runs=items, stale_run_count=n_runs, stale_rows=stale_rows)
    res.score, res.basis = tally(
        [(stale_rows, "warning", f"trades in {fmt.plural(n_runs, 'stale run')}")],
        ctx.rows(TICKS), of(ctx.rows(TICKS), TICKS))
    for it in items[:5]:
        res.recommendations.append(
            f"{ctx.symbol}: price stuck at {fmt.number(it['price'])} for "
            f"{fmt.duration(it['duration_s'])} ({fmt.span(it['start'], it['end'])}): check "
            "the feed was live; re-record or drop that stretch")
    if n_runs > 5:
        res.recommendations.append(f"{ctx.symbol}: {n_runs - 5:,} more stale runs "
                                   "(see the findings)")
    return res


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="prices", run=prices, tables=(TICKS,), weight=20,
            params={
                "window": Param(31, ODD_WINDOW, minimum=3),
                "n_sigmas": Param(8.0, "bounds are median ± n_sigmas × scale, scale = "
                                  "1.4826 × MAD", minimum=1.0),
                "min_scale": Param(1e-4, "floor of the scale as a fraction of the median "
                                   "price (a flat window has MAD 0)", minimum=0.0),
            },
            doc="Non-finite or non-positive prices, and prices outside robust rolling bounds "
                "(a Hampel filter: rolling median ± n·1.4826·MAD), reporting the bounds."),
        QualityCheck(
            name="stale", run=stale, tables=(TICKS,), weight=10,
            params={
                "min_rows": Param(10, "trades in a run before it counts", minimum=2),
                "min_duration_cadences": Param(10.0, "and the run must last this many "
                                               "cadences", minimum=0.0),
            },
            doc="Runs of an unchanged trade price, long in rows and in time."),
    ]
