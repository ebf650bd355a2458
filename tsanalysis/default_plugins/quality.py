"""The built-in data-quality checks, registered through the public hook like any plugin.

- ``completeness``: rows present against rows expected from the cadence (declared or
  inferred);
- ``gaps``: intervals between consecutive rows longer than a threshold, graded by the
  cadences they span;
- ``timestamps``: rows stamped before the row that arrived before them; exact duplicates;
- ``prices``: non-finite or non-positive prices; Hampel outliers (rolling median ± n·MAD);
- ``stale``: runs of an unchanged price;
- ``volume``: negative volumes, long runs of zero volume, volume spikes;
- ``orderbook``: crossed (bid > ask) and locked (bid = ask) quotes, missing sides, wide
  spreads;
- ``consistency``: stored OHLCV bars against the bars the ticks give.

Every check reads the whole session (streamed in chunks when it is large) and carries its
state across chunks, so the findings do not depend on how the data was cut. Scores and
weights: :mod:`tsanalysis.quality.score`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tsanalysis import hookimpl
from tsanalysis.ids import interval_seconds
from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import BARS, QUOTES, TICKS, micros_to_ts
from tsanalysis.quality.score import SEVERITY_WEIGHTS
from tsanalysis.timeutil import iso

_WHAT = {TICKS: "trades", QUOTES: "quotes"}
_PREFIX = {TICKS: "", QUOTES: "quote_"}


def _ts(micros: int) -> pd.Timestamp:
    return micros_to_ts(int(micros))


#: Fraction of affected rows at which each check's score reaches 0 (declared on the check
#: too, so ``tsanalysis plugins`` and the report show it).
_TOLERANCE = {"timestamps": 0.01, "prices": 0.005, "stale": 0.05, "volume": 0.01,
              "orderbook": 0.005, "consistency": 0.01}


def _score(check: str, weighted: float, rows: int) -> float:
    """The derived formula of :mod:`tsanalysis.quality.score` applied to exact counts
    (the findings a check lists are capped; its counts are not)."""
    if weighted <= 0:
        return 1.0
    return max(0.0, 1.0 - weighted / (_TOLERANCE[check] * max(rows, 1)))


class _Kinds:
    """Findings kept per kind, each list capped at ``limit`` in time order, so what is kept
    does not depend on how the data was cut into chunks."""

    def __init__(self, limit: int):
        self.limit = limit
        self.lists: dict[str, list[Finding]] = {}

    def add(self, kind: str, finding: Finding) -> None:
        items = self.lists.setdefault(kind, [])
        if len(items) < self.limit:
            items.append(finding)

    def all(self) -> list[Finding]:
        return [f for items in self.lists.values() for f in items]


def _kernels():  # numba is imported on first use, not when the plugin loads
    from tsanalysis.quality import kernels

    return kernels


# -- completeness ------------------------------------------------------------------------


def completeness(ctx: CheckContext) -> CheckResult:
    """Rows against the rows the cadence promises, for trades and quotes."""
    res = CheckResult()
    scores, short = [], []
    for table in (TICKS, QUOTES):
        p, rows = _PREFIX[table], ctx.rows(table)
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
            expected = ((last - first).value // 1000) // cad.micros + 1
        share = min(1.0, rows / expected)
        res.metrics.update({f"{p}rows": rows, f"{p}expected_rows": int(expected),
                            f"{p}completeness": round(share, 6), f"{p}cadence_s": cad.seconds,
                            f"{p}cadence_source": cad.source})
        scores.append(share)
        missing = int(expected - rows)
        if missing <= 0:
            continue
        frac = missing / expected
        sev = "info" if frac < 0.01 else "warning" if frac < 0.10 else "critical"
        assert cad.seconds is not None
        res.findings.append(Finding(
            "completeness", ctx.symbol, first, last, missing, sev, table=table,
            detail=f"{rows:,} of {expected:,} expected {_WHAT[table]} ({share:.2%}), one every "
                   f"{fmt.duration(cad.seconds)} ({cad.source})",
            data={"rows": rows, "expected_rows": int(expected), "cadence_s": cad.seconds}))
        if sev != "info":
            short.append(f"{_WHAT[table]} {share:.1%} ({missing:,} of {expected:,} rows "
                         "missing)")
    if short:
        res.recommendations.append(f"{ctx.symbol} is incomplete: {'; '.join(short)}; the "
                                   "gaps say where")
    if not scores:
        res.applicable = False
        return res
    res.score = sum(scores) / len(scores)
    return res


# -- gaps --------------------------------------------------------------------------------

#: The gaps check's score reaches 0 when the severity-weighted time spent in gaps is this
#: share of the table's span (a critical gap weighs 3, a warning 1, an info gap 0.1).
GAP_TOLERANCE = 0.25


def gaps(ctx: CheckContext, gap_factor: float, warning_cadences: float,
         critical_cadences: float) -> CheckResult:
    """Intervals longer than the threshold, per table, graded by cadences spanned."""
    res = CheckResult()
    penalties = []
    serious: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    short = 0
    for table in (TICKS, QUOTES):
        p, key = _PREFIX[table], f"{_PREFIX[table]}gaps"
        if ctx.rows(table) == 0:
            if table == TICKS:
                res.metrics.update(gaps=[], gap_count=0)
            continue
        cad = ctx.cadence(table)
        if ctx.gap_threshold_s is not None:
            threshold = float(ctx.gap_threshold_s)
        elif cad.seconds is not None:
            threshold = gap_factor * cad.seconds
        else:  # a single timestamp: nothing to measure
            res.metrics.update({key: [], f"{p}gap_count": 0})
            continue
        unit = cad.seconds or threshold
        found = ctx.gaps(table, max(int(round(threshold * 1e6)), 1))
        items, weighted, total = [], 0.0, 0.0
        for start, end in zip(found["start"], found["end"], strict=True):
            dur = (end - start).total_seconds()
            spans = dur / unit
            sev = ("critical" if spans >= critical_cadences else
                   "warning" if spans >= warning_cadences else "info")
            weighted += SEVERITY_WEIGHTS[sev] * dur
            total += dur
            if sev == "info":
                short += 1
            else:
                serious.append((start, end))
            if len(items) < ctx.max_findings:
                items.append({"start": start, "end": end, "duration_s": dur, "severity": sev,
                              "cadences": round(spans, 1)})
                res.findings.append(Finding(
                    "gaps", ctx.symbol, start, end, max(int(round(spans)) - 1, 1), sev,
                    table=table,
                    detail=f"no {_WHAT[table]} for {fmt.duration(dur)} ({spans:,.0f} cadences)",
                    data={"duration_s": dur, "cadences": spans}))
        res.metrics.update({key: items, f"{p}gap_count": len(found),
                            f"{p}gap_total_s": total, f"{p}gap_threshold_s": threshold})
        first, last = ctx.first_ts(table), ctx.last_ts(table)
        span = (last - first).total_seconds() if first is not None and last is not None else 0
        penalties.append(min(1.0, weighted / (GAP_TOLERANCE * span)) if weighted else 0.0)
    if not penalties:
        res.applicable = False
        return res
    # A recording outage usually hits trades and quotes at once: score the worse table
    # rather than charging the same outage twice.
    res.score = 1.0 - max(penalties)
    for start, end in _merge(serious)[:10]:
        res.recommendations.append(
            f"re-record {fmt.span(start, end)} on {ctx.symbol} "
            f"({fmt.duration((end - start).total_seconds())} without data)")
    if len(_merge(serious)) > 10:
        res.recommendations.append(f"{ctx.symbol}: {len(_merge(serious)) - 10} more outages "
                                   "to re-record (see the findings)")
    if short:
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(short, 'short gap')} (under {warning_cadences:g} "
            "cadences); harmless for bars of a minute or more, check them for tick-level work")
    return res


def _merge(spans: list[tuple[pd.Timestamp, pd.Timestamp]]
           ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# -- timestamps ------------------------------------------------------------------------

_ROW_KEYS = {TICKS: ("price", "volume"),
             QUOTES: ("bid_price", "bid_size", "ask_price", "ask_size")}


class _Duplicates:
    """Exact duplicates and rows sharing a timestamp, over chunks in time order.

    Rows with one timestamp are contiguous in ``(ts, seq)`` order, so a chunk is processed
    up to its last timestamp, whose rows wait for the next chunk (the group may go on).
    """

    def __init__(self, keys: tuple[str, ...], limit: int):
        self.keys = keys
        self.limit = limit
        self.carry: tuple[np.ndarray, list[np.ndarray]] | None = None
        self.duplicate_rows = 0
        self.shared_rows = 0
        self.examples: list[tuple[int, int]] = []  # (ts, duplicate rows at it)

    def push(self, ts: np.ndarray, cols: list[np.ndarray], last: bool) -> None:
        if self.carry is not None:
            ts = np.concatenate([self.carry[0], ts])
            cols = [np.concatenate([a, b]) for a, b in zip(self.carry[1], cols, strict=True)]
            self.carry = None
        if not last and len(ts):
            cut = int(np.searchsorted(ts, ts[-1], side="left"))
            self.carry = (ts[cut:], [c[cut:] for c in cols])
            ts, cols = ts[:cut], [c[:cut] for c in cols]
        if len(ts) < 2:
            return
        same = ts[1:] == ts[:-1]
        extra = int(same.sum())
        if not extra:
            return
        grouped = np.zeros(len(ts), dtype=bool)
        grouped[1:] |= same
        grouped[:-1] |= same
        idx = np.flatnonzero(grouped)
        frame = pd.DataFrame({"ts": ts[idx], **{k: c[idx] for k, c in zip(self.keys, cols,
                                                                            strict=True)}})
        dup = frame.duplicated().to_numpy()
        n_dup = int(dup.sum())
        self.duplicate_rows += n_dup
        self.shared_rows += extra - n_dup
        if n_dup and len(self.examples) < self.limit:
            at, counts = np.unique(frame["ts"].to_numpy()[dup], return_counts=True)
            room = self.limit - len(self.examples)
            self.examples.extend(zip(at[:room].tolist(), counts[:room].tolist(), strict=True))


def timestamps(ctx: CheckContext, tolerance_ms: float) -> CheckResult:
    """Out-of-order rows (along seq) and exact duplicates, per table."""
    res = CheckResult()
    weighted, rows_scored = 0.0, 0
    for table in (TICKS, QUOTES):
        p, rows = _PREFIX[table], ctx.rows(table)
        if rows == 0:
            if table == TICKS:
                res.metrics.update(out_of_order_rows=0, duplicate_rows=0,
                                   same_timestamp_rows=0)
            continue
        total, late = ctx.out_of_order(table, int(round(tolerance_ms * 1000)),
                                       ctx.max_findings)
        for seq, ts, prev in zip(late["seq"], late["ts"], late["prev_ts"], strict=True):
            res.findings.append(Finding(
                "timestamps", ctx.symbol, ts, ts, 1, "warning", table=table,
                detail=f"arrived after a row stamped {fmt.duration((prev - ts).total_seconds())} "
                       f"later ({fmt.utc(prev)})",
                data={"seq": int(seq), "previous_ts": iso(prev)}))
        dups = _Duplicates(_ROW_KEYS[table], ctx.max_findings)
        for ch in ctx.chunks(table, ["ts", *_ROW_KEYS[table]]):
            dups.push(ch.ts, [ch[k] for k in _ROW_KEYS[table]], ch.last)
        for at, n in dups.examples:
            res.findings.append(Finding(
                "timestamps", ctx.symbol, _ts(at), _ts(at), n, "info", table=table,
                detail=f"{fmt.plural(n, 'exact duplicate row')} (same time and values)",
                data={"duplicates": n}))
        res.metrics.update({f"{p}out_of_order_rows": total,
                            f"{p}duplicate_rows": dups.duplicate_rows,
                            f"{p}same_timestamp_rows": dups.shared_rows})
        weighted += (SEVERITY_WEIGHTS["warning"] * total
                     + SEVERITY_WEIGHTS["info"] * dups.duplicate_rows)
        rows_scored += rows
        what = _WHAT[table]
        if total:
            res.recommendations.append(
                f"{ctx.symbol}: {fmt.plural(total, 'row')} of {what} arrived after a later-"
                f"stamped row (first at {fmt.utc(late['ts'].iloc[0])} UTC): check the "
                "recorder's clock and source merging; sort by time before use")
        if dups.duplicate_rows:
            res.recommendations.append(
                f"{ctx.symbol}: {fmt.plural(dups.duplicate_rows, 'exact duplicate row')} in "
                f"{what}: drop them if the venue never prints identical {what} at the same "
                "instant (they may be double-recorded)")
    if not rows_scored:
        res.applicable = False
        return res
    res.score = _score("timestamps", weighted, rows_scored)
    return res


# -- prices ------------------------------------------------------------------------------


def prices(ctx: CheckContext, window: int, n_sigmas: float, min_scale: float) -> CheckResult:
    """Invalid prices, and prices outside the Hampel bounds of their window."""
    if ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    k = _kernels()
    half = window // 2
    stream = k.CenteredStream(half)
    bad_runs = k.RunStream()
    res = CheckResult()
    kinds = _Kinds(ctx.max_findings)
    anomalies: list[dict] = []
    n_anomalies = n_invalid = 0
    for ch in ctx.chunks(TICKS, ["ts", "price"]):
        price = ch["price"]
        valid = np.isfinite(price) & (price > 0)
        n_invalid += int((~valid).sum())
        runs = bad_runs.push(ch.offset, ch.ts, np.zeros(len(price)), ~valid, ch.last)
        for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
            kinds.add("invalid", Finding(
                "prices", ctx.symbol, _ts(s), _ts(e), int(n), "critical", table=TICKS,
                detail=f"{fmt.plural(int(n), 'price')} not finite or not positive"))
        buf, lo, hi = stream.push({"x": price[valid], "ts": ch.ts[valid]}, ch.last)
        idx, med, scale = k.hampel(buf["x"], half, lo, hi, float(n_sigmas), 0.0,
                                   float(min_scale), False)
        n_anomalies += len(idx)
        for i, m, sc in zip(idx, med, scale, strict=True):
            if len(anomalies) >= ctx.max_findings:
                break
            x, at = float(buf["x"][i]), _ts(buf["ts"][i])
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
    res.score = _score("prices", SEVERITY_WEIGHTS["critical"] * n_invalid
                       + SEVERITY_WEIGHTS["warning"] * n_anomalies, ctx.rows(TICKS))
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
    runs_stream = _kernels().RunStream(min_rows)
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
            items.append({"start": _ts(s), "end": _ts(e), "rows": int(n), "duration_s": dur,
                          "price": float(px)})
            res.findings.append(Finding(
                "stale", ctx.symbol, _ts(s), _ts(e), int(n), "warning", table=TICKS,
                detail=f"price {fmt.number(float(px))} unchanged for {int(n):,} trades over "
                       f"{fmt.duration(dur)}",
                data={"price": float(px), "duration_s": dur}))
    res.metrics.update(stale_runs=items, stale_run_count=n_runs, stale_rows=stale_rows)
    res.score = _score("stale", SEVERITY_WEIGHTS["warning"] * stale_rows, ctx.rows(TICKS))
    for it in items[:5]:
        res.recommendations.append(
            f"{ctx.symbol}: price stuck at {fmt.number(it['price'])} for "
            f"{fmt.duration(it['duration_s'])} ({fmt.span(it['start'], it['end'])}): check "
            "the feed was live; re-record or drop that stretch")
    if n_runs > 5:
        res.recommendations.append(f"{ctx.symbol}: {n_runs - 5:,} more stale runs "
                                   "(see the findings)")
    return res


# -- volume ------------------------------------------------------------------------------


def volume(ctx: CheckContext, min_zero_rows: int, window: int, n_sigmas: float,
           min_scale: float) -> CheckResult:
    """Negative volumes, runs of zero volume, one-sided Hampel spikes of log volume."""
    if ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    k = _kernels()
    half = window // 2
    neg_runs, zero_runs = k.RunStream(), k.RunStream(min_zero_rows)
    stream = k.CenteredStream(half)
    res = CheckResult()
    kinds = _Kinds(ctx.max_findings)
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
                "volume", ctx.symbol, _ts(s), _ts(e), int(n), "critical", table=TICKS,
                detail=fmt.plural(int(n), "negative volume")))
        runs = zero_runs.push(ch.offset, ch.ts, zeros, finite & (v == 0), ch.last)
        for s, e, n in zip(runs.start_ts, runs.end_ts, runs.rows, strict=True):
            n_zero_runs += 1
            zero_rows += int(n)
            kinds.add("zero", Finding(
                "volume", ctx.symbol, _ts(s), _ts(e), int(n), "warning", table=TICKS,
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
            x, at = float(np.exp(buf["x"][i])), _ts(buf["ts"][i])
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
    res.score = _score("volume", SEVERITY_WEIGHTS["critical"] * negative
                       + SEVERITY_WEIGHTS["warning"] * zero_rows
                       + SEVERITY_WEIGHTS["info"] * n_spikes, ctx.rows(TICKS))
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


# -- order book ------------------------------------------------------------------------


def orderbook(ctx: CheckContext, window: int, spread_ratio: float) -> CheckResult:
    """Crossed, locked and one-sided quotes, and spreads far above their median."""
    rows = ctx.rows(QUOTES)
    if rows == 0:
        return CheckResult(applicable=False)
    k = _kernels()
    half = window // 2
    crossed_s, locked_s, missing_s = k.RunStream(), k.RunStream(), k.RunStream()
    stream = k.CenteredStream(half)
    res = CheckResult()
    kinds = _Kinds(ctx.max_findings)
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
                first.setdefault(name, _ts(s))
                kinds.add(name, Finding(
                    "orderbook", ctx.symbol, _ts(s), _ts(e), int(n), "warning", table=QUOTES,
                    detail=f"{fmt.plural(int(n), what + ' quote')} "
                           f"(bid {'>' if name == 'crossed' else '='} ask)",
                    data={"kind": name}))
        side = np.where(~has_bid, 1.0, 0.0) + np.where(~has_ask, 2.0, 0.0)
        missing_rows += int((side > 0).sum())
        runs = missing_s.push(ch.offset, ch.ts, side, side > 0, ch.last)
        for s, e, n, key in zip(runs.start_ts, runs.end_ts, runs.rows, runs.key, strict=True):
            first.setdefault("missing", _ts(s))
            kinds.add("missing", Finding(
                "orderbook", ctx.symbol, _ts(s), _ts(e), int(n), "warning", table=QUOTES,
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
            at, sp = _ts(buf["ts"][i]), float(buf["x"][i])
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
    res.score = _score("orderbook", SEVERITY_WEIGHTS["warning"]
                       * (counts["crossed"] + counts["locked"] + missing_rows)
                       + SEVERITY_WEIGHTS["info"] * counts["wide"], rows)
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


# -- consistency -------------------------------------------------------------------------

_FIELDS = ("open", "high", "low", "close")


def consistency(ctx: CheckContext, price_tolerance: float,
                volume_tolerance: float) -> CheckResult:
    """Stored bars of every interval against the bars built from the ticks."""
    if ctx.rows(BARS) == 0 or ctx.rows(TICKS) == 0:
        return CheckResult(applicable=False)
    res = CheckResult()
    stored_all = ctx.bars()
    first_tick, last_tick = ctx.first_ts(TICKS), ctx.last_ts(TICKS)
    assert first_tick is not None and last_tick is not None
    checked = mismatched = missing = orphan = 0
    by_interval: dict[str, int] = {}
    for interval, stored in stored_all.groupby("interval", sort=True):
        interval = str(interval)
        width = pd.Timedelta(seconds=interval_seconds(interval))
        # compare where both could exist: bars inside the span of the ticks
        lo = max(stored["ts"].min(), first_tick.floor(width))
        hi = min(stored["ts"].max(), last_tick.floor(width))
        if lo > hi:
            continue
        stored = stored[(stored["ts"] >= lo) & (stored["ts"] <= hi)]
        built = ctx.store.ohlcv_from_ticks(ctx.session_id, [ctx.symbol], interval,
                                           start=lo, end=hi + width)
        bars = _compare_bars(stored, built, price_tolerance, volume_tolerance)
        checked += len(bars)
        bad = bars[bars["problem"] != ""]
        orphan += int((bars["kind"] == "orphan").sum())
        missing += int((bars["kind"] == "missing").sum())
        mismatched += int((bars["kind"] == "mismatch").sum())
        if len(bad):
            by_interval[interval] = len(bad)
        for ts, problem in zip(bad["ts"].head(ctx.max_findings), bad["problem"], strict=False):
            res.findings.append(Finding(
                "consistency", ctx.symbol, ts, ts + width - pd.Timedelta(1, "us"), 1,
                "warning", table=BARS, detail=f"{interval} bar: {problem}",
                data={"interval": interval}))
    res.metrics.update(bars_checked=checked, bar_mismatches=mismatched, missing_bars=missing,
                       bars_without_ticks=orphan,
                       bar_intervals=sorted(stored_all["interval"].unique().tolist()))
    if not checked:
        res.applicable = False
        return res
    res.score = _score("consistency", SEVERITY_WEIGHTS["warning"]
                       * (mismatched + missing + orphan), checked)
    for interval, n in by_interval.items():
        res.recommendations.append(
            f"{ctx.symbol}: {fmt.plural(n, interval + ' bar')} disagree with the ticks: if the "
            f"ticks are the reference, rebuild them (tsanalysis sessions bars {ctx.session_id} "
            f"--interval {interval} --symbol {ctx.symbol})")
    return res


def _differs(a: np.ndarray, b: np.ndarray, rel: float) -> np.ndarray:
    """Relative difference over ``rel``; NaN equals only NaN (both from the same ticks)."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        far = np.abs(a - b) > rel * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
    return np.where(nan_a | nan_b, nan_a != nan_b, far)


def _compare_bars(stored: pd.DataFrame, built: pd.DataFrame, price_tol: float,
                  volume_tol: float) -> pd.DataFrame:
    """Align stored and tick-built bars on their start; one row per bar of either, with
    ``kind`` (ok, mismatch, missing, orphan) and ``problem`` (empty when they agree)."""
    s_ts = stored["ts"].to_numpy(dtype="datetime64[us]").astype("int64")
    b_ts = built["ts"].to_numpy(dtype="datetime64[us]").astype("int64")
    ts = np.union1d(s_ts, b_ts)
    si, bi = np.searchsorted(s_ts, ts), np.searchsorted(b_ts, ts)
    in_s = (si < len(s_ts)) & (s_ts[np.minimum(si, max(len(s_ts) - 1, 0))] == ts) \
        if len(s_ts) else np.zeros(len(ts), dtype=bool)
    in_b = (bi < len(b_ts)) & (b_ts[np.minimum(bi, max(len(b_ts) - 1, 0))] == ts) \
        if len(b_ts) else np.zeros(len(ts), dtype=bool)
    problem = np.full(len(ts), "", dtype=object)
    kind = np.where(in_s & in_b, "ok", np.where(in_s, "orphan", "missing")).astype(object)
    problem[kind == "orphan"] = "stored, but no ticks in it"
    problem[kind == "missing"] = "missing (the ticks give one)"
    both = np.flatnonzero(in_s & in_b)
    a_rows, b_rows = si[both], bi[both]
    columns: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for name, tol in [(f, price_tol) for f in _FIELDS] + [("volume", volume_tol)]:
        a = stored[name].to_numpy(dtype="float64", na_value=np.nan)[a_rows]
        b = built[name].to_numpy(dtype="float64", na_value=np.nan)[b_rows]
        wrong = _differs(a, b, tol)
        if name == "volume":  # a bar recorded without volume is not wrong
            wrong &= ~np.isnan(a)
        columns.append((name, a, b, wrong))
    a = stored["trades"].to_numpy(dtype="float64", na_value=np.nan)[a_rows]
    b = built["trades"].to_numpy(dtype="float64", na_value=np.nan)[b_rows]
    columns.append(("trades", a, b, ~np.isnan(a) & (a != b)))
    bad = np.logical_or.reduce([c[3] for c in columns]) if len(both) else np.zeros(0, bool)
    for j in np.flatnonzero(bad):  # text only for the bars that disagree
        texts = [f"{name} {fmt.number(a[j])} vs {fmt.number(b[j])} from ticks"
                 for name, a, b, wrong in columns if wrong[j]]
        problem[both[j]] = "; ".join(texts)
        kind[both[j]] = "mismatch"
    return pd.DataFrame({"ts": micros_to_ts(ts), "kind": kind, "problem": problem})


# -- registration ------------------------------------------------------------------------

_ODD_WINDOW = ("rows in the centered window, the point itself included (an even number "
               "is rounded up to the next odd one)")


def _checks() -> list[QualityCheck]:
    return [
        QualityCheck(
            name="completeness", run=completeness, tables=(TICKS, QUOTES), weight=25,
            doc="Rows present against rows expected from the cadence: the session's declared "
                "cadence_s for trades, else the cadence inferred from the data (mean interval "
                "between rows with outages left out); quotes always inferred."),
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
                "in the database with a window function), with start, end, duration and a "
                "severity graded by the cadences it spans. Scored on the severity-weighted "
                "time in gaps, reaching 0 at 25 % of the span."),
        QualityCheck(
            name="timestamps", run=timestamps, tables=(TICKS, QUOTES), weight=10,
            tolerance=_TOLERANCE["timestamps"],
            params={"tolerance_ms": Param(1.0, "a row counts as out of order when stamped "
                                          "more than this before the row that arrived "
                                          "before it (clock jitter)", minimum=0.0)},
            doc="Rows out of order (timestamps going backwards along arrival order, seq) and "
                "exact duplicate rows (same time and values), counted apart from rows that "
                "only share a timestamp (normal for trades)."),
        QualityCheck(
            name="prices", run=prices, tables=(TICKS,), weight=20,
            tolerance=_TOLERANCE["prices"],
            params={
                "window": Param(31, _ODD_WINDOW, minimum=3),
                "n_sigmas": Param(8.0, "bounds are median ± n_sigmas × scale, scale = "
                                  "1.4826 × MAD", minimum=1.0),
                "min_scale": Param(1e-4, "floor of the scale as a fraction of the median "
                                   "price (a flat window has MAD 0)", minimum=0.0),
            },
            doc="Non-finite or non-positive prices, and prices outside robust rolling bounds "
                "(a Hampel filter: rolling median ± n·1.4826·MAD), reporting the bounds."),
        QualityCheck(
            name="stale", run=stale, tables=(TICKS,), weight=10,
            tolerance=_TOLERANCE["stale"],
            params={
                "min_rows": Param(10, "trades in a run before it counts", minimum=2),
                "min_duration_cadences": Param(10.0, "and the run must last this many "
                                               "cadences", minimum=0.0),
            },
            doc="Runs of an unchanged trade price, long in rows and in time."),
        QualityCheck(
            name="volume", run=volume, tables=(TICKS,), weight=5,
            tolerance=_TOLERANCE["volume"],
            params={
                "min_zero_rows": Param(10, "zero-volume trades in a row before they count",
                                       minimum=1),
                "window": Param(61, _ODD_WINDOW, minimum=3),
                "n_sigmas": Param(8.0, "a spike is log(volume) above median + n_sigmas × "
                                  "1.4826 × MAD of log volumes", minimum=1.0),
                "min_scale": Param(0.25, "floor of the log-volume scale", minimum=0.0),
            },
            doc="Negative volumes, long runs of zero volume, and volume spikes (a one-sided "
                "Hampel filter on log volume)."),
        QualityCheck(
            name="orderbook", run=orderbook, tables=(QUOTES,), weight=10,
            tolerance=_TOLERANCE["orderbook"],
            params={
                "window": Param(61, _ODD_WINDOW, minimum=3),
                "spread_ratio": Param(30.0, "a spread wider than this many times its "
                                      "rolling median is an outlier", minimum=1.0),
            },
            doc="Crossed (bid > ask) and locked (bid = ask) quotes, quotes missing a side, "
                "and spreads far wider than their rolling median."),
        QualityCheck(
            name="consistency", run=consistency, tables=(BARS,), weight=5,
            tolerance=_TOLERANCE["consistency"],
            params={
                "price_tolerance": Param(1e-9, "relative difference allowed in open, "
                                         "high, low, close", minimum=0.0),
                "volume_tolerance": Param(1e-6, "relative difference allowed in volume",
                                          minimum=0.0),
            },
            doc="Stored OHLCV bars against the bars the ticks give (computed in the "
                "database): open, high, low, close, volume and trade count; bars missing or "
                "without ticks."),
    ]


@hookimpl
def register_quality_checks(register: Callable[[QualityCheck], None]) -> None:
    for check in _checks():
        register(check)
