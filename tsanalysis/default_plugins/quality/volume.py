"""Volume checks: negative volumes, long runs of zero volume, volume spikes (``volume``)."""

from __future__ import annotations

import numpy as np

from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import TICKS
from tsanalysis.quality.score import tally
from tsanalysis.timeutil import from_micros

from .common import ODD_WINDOW, Kinds, load_kernels, of


def volume(ctx: CheckContext, min_zero_rows: int, window: int, n_sigmas: float,
           min_scale: float) -> CheckResult:
    """Negative volumes, runs of zero volume, one-sided Hampel spikes of log volume."""
    if ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    k = load_kernels()
    half = window // 2
    neg_runs, zero_runs = k.RunStream(), k.RunStream(min_zero_rows)
    stream = k.CenteredStream(half)
    res = CheckResult()
    kinds = Kinds(ctx.max_findings)
    spikes: list[dict] = []
    known = negative = zero_rows = n_zero_runs = n_spikes = 0

    for ch in ctx.chunks(TICKS, ["ts", "volume"]):
        v = ch["volume"]
        finite = np.isfinite(v)
        known += int(finite.sum())
        zeros = np.zeros(len(v))
        runs = neg_runs.push(ch.offset, ch.ts, zeros, finite & (v < 0), ch.last)
        for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
            negative += int(n)
            kinds.add("negative", Finding(
                "volume", ctx.symbol, from_micros(s), from_micros(e), int(n), "critical",
                table=TICKS,
                detail=fmt.plural(int(n), "negative volume")))
        runs = zero_runs.push(ch.offset, ch.ts, zeros, finite & (v == 0), ch.last)
        for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
            n_zero_runs += 1
            zero_rows += int(n)
            kinds.add("zero", Finding(
                "volume", ctx.symbol, from_micros(s), from_micros(e), int(n), "warning",
                table=TICKS,
                detail=f"{int(n):,} trades in a row with zero volume over "
                       f"{fmt.duration((int(e) - int(s)) / 1e6)}"))
        pos = finite & (v > 0)
        buf, lo, hi = stream.push({"x": np.log(v[pos]), "ts": ch.ts[pos]}, ch.last)
        idx, med, scale = k.hampel(buf["x"], half, lo, hi, float(n_sigmas), float(min_scale),
                                   0.0, True)
        n_spikes += len(idx)
        for i, m, sc in zip(idx, med, scale, strict=True):
            if len(spikes) >= ctx.max_findings:
                break
            x, at = float(np.exp(buf["x"][i])), from_micros(buf["ts"][i])
            typical, upper = float(np.exp(m)), float(np.exp(m + n_sigmas * sc))
            spikes.append({"ts": at, "volume": x, "typical": typical, "upper": upper})
            kinds.add("spike", Finding(
                "volume", ctx.symbol, at, at, 1, "info", table=TICKS,
                detail=f"volume {fmt.number(x)} is {x / typical:,.0f}x the typical "
                       f"{fmt.number(round(typical, 8))} (bound {fmt.number(round(upper, 8))})",
                data={"volume": x, "typical": typical, "upper": upper}))
    if known == 0:  # volumes not recorded: nothing to judge
        res.applicable = False
        return res
    res.findings = kinds.all()
    res.metrics.update(negative_volumes=negative, zero_volume_runs=n_zero_runs,
                       zero_volume_rows=zero_rows, volume_spike_count=n_spikes,
                       volume_spikes=spikes)
    res.score, res.basis = tally(
        [(negative, "critical", "negative volumes"),
         (zero_rows, "warning", f"trades in {fmt.plural(n_zero_runs, 'zero-volume run')}"),
         (n_spikes, "info", "volume spikes")], ctx.rows(TICKS), of(ctx.rows(TICKS), TICKS))
    if negative:
        res.recommendations.append(f"{ctx.symbol}: {fmt.plural(negative, 'negative volume')}: "
                                   "correct the sign or drop those trades")
    if n_zero_runs:
        res.recommendations.append(f"{ctx.symbol}: {fmt.plural(n_zero_runs, 'run')} of "
                                   "zero-volume trades: check whether the feed sent last "
                                   "prices without sizes")
    if n_spikes:
        res.recommendations.append(f"{ctx.symbol}: {fmt.plural(n_spikes, 'volume spike')}: "
                                   "verify the sizes (a lot-size or unit mix-up?)")
    return res


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="volume", run=volume, tables=(TICKS,), weight=5,
            params={
                "min_zero_rows": Param(10, "zero-volume trades in a row before they count",
                                       minimum=1),
                "window": Param(61, ODD_WINDOW, minimum=3),
                "n_sigmas": Param(8.0, "a spike is log(volume) above median + n_sigmas × "
                                  "1.4826 × MAD of log volumes", minimum=1.0),
                "min_scale": Param(0.25, "floor of the log-volume scale", minimum=0.0),
            },
            doc="Negative volumes, long runs of zero volume, and volume spikes (a one-sided "
                "Hampel filter on log volume)."),
    ]
