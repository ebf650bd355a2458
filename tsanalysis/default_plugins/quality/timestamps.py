"""Timestamp checks: rows stamped before the row that arrived before them; exact
duplicates (``timestamps``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsanalysis.quality import CheckContext, CheckResult, Finding, Param, QualityCheck, fmt
from tsanalysis.quality.context import QUOTES, TICKS
from tsanalysis.quality.score import tally
from tsanalysis.timeutil import from_micros, iso

from .common import PREFIX, WHAT

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
    late_rows = duplicate_rows = rows_scored = 0
    for table in (TICKS, QUOTES):
        p, rows = PREFIX[table], ctx.rows(table)
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
                "timestamps", ctx.symbol, from_micros(at), from_micros(at), n, "info", table=table,
                detail=f"{fmt.plural(n, 'exact duplicate row')} (same time and values)",
                data={"duplicates": n}))
        res.metrics.update({f"{p}out_of_order_rows": total,
                            f"{p}duplicate_rows": dups.duplicate_rows,
                            f"{p}same_timestamp_rows": dups.shared_rows})
        late_rows += total
        duplicate_rows += dups.duplicate_rows
        rows_scored += rows
        what = WHAT[table]
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
    res.score, res.basis = tally(
        [(late_rows, "warning", "out-of-order rows"),
         (duplicate_rows, "info", "exact duplicates")], rows_scored, f"{rows_scored:,} rows")
    return res


def checks() -> list[QualityCheck]:
    """The declarations of this family's checks, in registration order."""
    return [
        QualityCheck(
            name="timestamps", run=timestamps, tables=(TICKS, QUOTES), weight=10,
            params={"tolerance_ms": Param(1.0, "a row counts as out of order when stamped "
                                          "more than this before the row that arrived "
                                          "before it (clock jitter)", minimum=0.0)},
            doc="Rows out of order (timestamps going backwards along arrival order, seq) and "
                "exact duplicate rows (same time and values), counted apart from rows that "
                "only share a timestamp (normal for trades)."),
    ]
