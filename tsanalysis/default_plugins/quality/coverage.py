"""Coverage checks: is the data all there?

- ``completeness``: rows present against rows expected from the cadence (declared or
  inferred) over the open time;
- ``gaps``: intervals between consecutive rows longer than a threshold, graded by the
  cadences they span.

A session that declares its trading hours (:mod:`tsanalysis.trading_hours`) is not
expected to have rows while the market is closed: a gap inside a closure is ``info`` and
costs nothing, and closures are left out of the expected rows and of the open time.
"""

from __future__ import annotations

import numpy as np

from tsanalysis.quality import (
    SEVERITIES,
    CheckContext,
    CheckResult,
    Finding,
    Param,
    QualityCheck,
    fmt,
)
from tsanalysis.quality.context import QUOTES, TICKS
from tsanalysis.quality.score import figure, tally
from tsanalysis.timeutil import from_micros, micros

from .common import PREFIX, WHAT


def completeness(ctx: CheckContext) -> CheckResult:
    """Rows against the rows the cadence promises over the open time, for trades and
    quotes: ``rows / expected`` (declared closures are not expected to have rows)."""
    res = CheckResult()
    scores, short, said = [], [], []
    for table in (TICKS, QUOTES):
        p, rows = PREFIX[table], ctx.rows(table)
        if rows == 0:
            if table == TICKS:
                res.metrics.update(rows=0, expected_rows=0, completeness=None,
                                   cadence_s=None, cadence_source=None)
            continue
        cad = ctx.cadence(table)
        first, last = ctx.first_ts(table), ctx.last_ts(table)
        if cad.micros is None or first is None or last is None:
            expected = rows
        else:
            expected = int(ctx.open_seconds(table) * 1e6) // cad.micros + 1
        share = min(1.0, rows / expected)
        res.metrics.update({f"{p}rows": rows, f"{p}expected_rows": int(expected),
                            f"{p}completeness": round(share, 6), f"{p}cadence_s": cad.seconds,
                            f"{p}cadence_source": cad.source})
        scores.append(share)
        said.append(f"{min(rows, expected):,} of {expected:,} expected {WHAT[table]}")
        missing = int(expected - rows)
        if missing <= 0:
            continue
        frac = missing / expected
        sev = "info" if frac < 0.01 else "warning" if frac < 0.10 else "critical"
        assert cad.seconds is not None
        res.findings.append(Finding(
            "completeness", ctx.symbol, first, last, missing, sev, table=table,
            detail=f"{rows:,} of {expected:,} expected {WHAT[table]} ({share:.2%}), one every "
                   f"{fmt.duration(cad.seconds)} ({cad.source})",
            data={"rows": rows, "expected_rows": int(expected), "cadence_s": cad.seconds}))
        if sev != "info":
            short.append(f"{WHAT[table]} {share:.1%} ({missing:,} of {expected:,} rows "
                         "missing)")
    if short:
        res.recommendations.append(f"{ctx.symbol} is incomplete: {'; '.join(short)}; the "
                                   "gaps say where")
    if not scores:
        res.applicable = False
        return res
    res.score = sum(scores) / len(scores)
    res.basis = f"{' and '.join(said)}" + (" (mean)" if len(said) > 1 else "") \
        + f": {figure(res.score)}"
    return res


# -- gaps --------------------------------------------------------------------------------


def gaps(ctx: CheckContext, gap_factor: float, warning_cadences: float,
         critical_cadences: float) -> CheckResult:
    """Intervals longer than the threshold, per table, graded by the cadences they span
    outside declared closures; scored on the time in gaps against the open time."""
    res = CheckResult()
    scored: list[tuple[float, str]] = []
    serious: list[tuple[np.ndarray, np.ndarray]] = []  # µs, per table
    short = closed_gaps = 0
    hours = ctx.trading_hours
    for table in (TICKS, QUOTES):
        p, key = PREFIX[table], f"{PREFIX[table]}gaps"
        if ctx.rows(table) == 0:
            if table == TICKS:
                res.metrics.update(gaps=[], gap_count=0)
            continue
        cad = ctx.cadence(table)
        threshold = ctx.gap_threshold(table, gap_factor)
        if threshold is None:  # a single timestamp: nothing to measure
            res.metrics.update({key: [], f"{p}gap_count": 0})
            continue
        unit = cad.seconds or threshold
        found = ctx.gaps(table, max(int(round(threshold * 1e6)), 1))
        closed = hours.closed_overlap(found["start"], found["end"]) if hours is not None \
            else np.zeros(len(found))
        # every gap at once (a session may have a million): severity, seconds, cadences
        start_us, end_us = micros(found["start"]), micros(found["end"])
        dur = (end_us - start_us) / 1e6
        open_gap = np.maximum(dur - closed, 0.0)
        spans = open_gap / unit
        inside = (closed > 0) & (open_gap <= threshold)  # the market was closed
        # severities as their index in SEVERITIES (0 info, 1 warning, 2 critical)
        sev = np.where(inside, 0, np.where(spans >= critical_cadences, 2,
                                           np.where(spans >= warning_cadences, 1, 0)))
        counted = ~inside
        closed_gaps += int(inside.sum())
        short += int((counted & (sev == 0)).sum())
        grave = counted & (sev > 0)
        serious.append((start_us[grave], end_us[grave]))
        seconds = {s: _sequential_sum(open_gap[counted & (sev == i)])
                   for i, s in enumerate(SEVERITIES)}
        n_by = {s: int((counted & (sev == i)).sum()) for i, s in enumerate(SEVERITIES)}
        total = _sequential_sum(open_gap[counted])
        items: list[dict] = []
        for i in range(min(len(found), ctx.max_findings)):
            start, end, shut = found["start"].iloc[i], found["end"].iloc[i], float(closed[i])
            d, n_spans, s = float(dur[i]), float(spans[i]), SEVERITIES[int(sev[i])]
            items.append({"start": start, "end": end, "duration_s": d, "severity": s,
                          "cadences": round(n_spans, 1), "closed_s": shut})
            detail = (f"no {WHAT[table]} for {fmt.duration(d)}, inside the declared "
                      "closure" if inside[i] else
                      f"no {WHAT[table]} for {fmt.duration(d)} ({n_spans:,.0f} cadences"
                      + (f"; {fmt.duration(shut)} of it closed" if shut else "") + ")")
            res.findings.append(Finding(
                "gaps", ctx.symbol, start, end, max(int(round(n_spans)) - 1, 1), s,
                table=table, detail=detail,
                data={"duration_s": d, "cadences": n_spans, "closed_s": shut}))
        res.metrics.update({key: items, f"{p}gap_count": len(found),
                            f"{p}gap_total_s": total, f"{p}gap_threshold_s": threshold})
        open_s = ctx.open_seconds(table)
        scored.append(tally(
            [(seconds[s], s, f"in {fmt.plural(n_by[s], 'gap')}")
             for s in ("critical", "warning", "info")], open_s,
            f"{fmt.duration(open_s)} of {WHAT[table]}" + (" open" if hours else ""),
            count=fmt.duration))
    if not scored:
        res.applicable = False
        return res
    # A recording outage usually hits trades and quotes at once: score the worse table
    # rather than charging the same outage twice.
    res.score, res.basis = min(scored, key=lambda sb: sb[0])
    outages = _merge(np.concatenate([s for s, _ in serious]),
                     np.concatenate([e for _, e in serious]))
    for start, end in zip(*(from_micros(a[:10]) for a in outages), strict=True):
        res.recommendations.append(
            f"re-record {fmt.span(start, end)} on {ctx.symbol} "
            f"({fmt.duration((end - start).total_seconds())} without data)")
    if len(outages[0]) > 10:
        res.recommendations.append(f"{ctx.symbol}: {len(outages[0]) - 10} more outages "
                                   "to re-record (see the findings)")
    if short:
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(short, 'short gap')} (under {warning_cadences:g} "
            "cadences); harmless for bars of a minute or more, check them for tick-level work")
    if closed_gaps:
        res.metrics["gaps_in_closures"] = closed_gaps
    return res


def _sequential_sum(x: np.ndarray) -> float:
    """Sum in order, left to right (``np.sum`` adds pairwise: other rounding, other last
    digits in the metrics than the sum the report has always given)."""
    return float(np.cumsum(x)[-1]) if len(x) else 0.0


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping or touching intervals merged, in time order (µs)."""
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    if not len(starts):
        return starts, ends
    reach = np.maximum.accumulate(ends)
    first = np.flatnonzero(np.r_[True, starts[1:] > reach[:-1]])
    return starts[first], np.maximum.reduceat(ends, first)


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="completeness", run=completeness, tables=(TICKS, QUOTES), weight=25,
            doc="Rows present against rows expected from the cadence: the session's declared "
                "cadence_s for trades, else the cadence inferred from the data (mean interval "
                "between rows with outages left out); quotes always inferred. Declared "
                "trading-hours closures are not expected to have rows."),
        QualityCheck(
            name="gaps", run=gaps, tables=(TICKS, QUOTES), weight=15,
            params={
                "gap_factor": Param(5.0, "a gap is an interval longer than this many "
                                    "cadences (unless a gap threshold is given)", minimum=1.0),
                "warning_cadences": Param(10.0, "gaps spanning this many cadences or more "
                                          "are warnings (shorter ones info)", minimum=1.0),
                "critical_cadences": Param(60.0, "gaps spanning this many cadences or more "
                                           "are critical", minimum=1.0),
            },
            doc="Every interval between consecutive rows longer than the threshold (found "
                "from the rows in time order), with start, end, duration and a "
                "severity graded by the cadences it spans. Gaps inside the session's declared "
                "trading-hours closures are info and cost nothing. Scored on the time in gaps "
                "against the open time (critical counted twice, info a tenth)."),
    ]
