"""Consistency checks: stored OHLCV bars against the bars the ticks give
(``consistency``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsanalysis.ids import interval_seconds
from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import BARS, TICKS
from tsanalysis.quality.score import tally
from tsanalysis.timeutil import from_micros, micros

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
    res.score, res.basis = tally(
        [(mismatched, "warning", "bars that disagree"), (missing, "warning", "missing"),
         (orphan, "warning", "without ticks")], checked, f"{checked:,} bars compared")
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
    s_ts = micros(stored["ts"])
    b_ts = micros(built["ts"])
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
    return pd.DataFrame({"ts": from_micros(ts), "kind": kind, "problem": problem})


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="consistency", run=consistency, tables=(BARS,), weight=5,
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
