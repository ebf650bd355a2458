"""How the 0-100 quality score is made: the share of the data that is usable.

Every check scores each symbol as the share of its rows (or, for ``gaps``, of its open
time) that the check found nothing wrong with, a critical defect counting double and an
info one a tenth::

    check score = 100 * (1 - min(1, (0.1 * info + 1 * warning + 2 * critical) / total))

``info``, ``warning`` and ``critical`` are the affected rows of each severity (for
``gaps``: seconds without data), ``total`` the rows the check read (for ``gaps``: the
seconds between the first and last row, declared closures left out). So 0.5 % of the
trades spiked (warnings) reads 99.5, 0.5 % of them with a non-positive price (critical)
99.0. ``completeness`` is ``100 * rows / expected rows`` (the cadence gives the expected
rows over the open time). Each check carries the sum behind its figure (``basis``:
"3 price spikes of 4,172 trades: 99.9").

A symbol's score is ``sum(weight * score) / sum(weight)`` over the checks that applied to
it (a check without data, say the order-book check on a session without quotes, is left
out rather than counted clean). The session's score is the mean of its symbols' scores
weighted by their rows, so a thin symbol does not mask a large one. A score from 99 up
is *good* (green), from 90 *fair* (amber), below that *poor* (red): :func:`grade`.

Built-in weights (``QualityCheck.weight``; a third-party check defaults to 5):

==============  ======  ====================================================
check           weight  affected rows (or time) of the total
==============  ======  ====================================================
completeness    25      rows present / rows expected from the cadence
gaps            15      seconds in gaps / open seconds of the span
prices          20      invalid prices (critical), Hampel outliers / trades
stale           10      trades in stale runs / trades
timestamps      10      out-of-order rows, exact duplicates (info) / rows
orderbook       10      crossed, locked, one-sided quotes, wide spreads (info) / quotes
volume          5       negative (critical), zero runs, spikes (info) / trades
consistency     5       bars that disagree with their ticks / bars compared
==============  ======  ====================================================

A check that returns no score is scored the same way from its findings (their ``count``
rows by severity) against the rows of the first of its tables that has rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .checks import Finding

#: How much one affected row (or second) counts, by severity of the finding.
SEVERITY_WEIGHTS = {"info": 0.1, "warning": 1.0, "critical": 2.0}

#: Grades of a 0-100 score (the colour of the report and the panel): ``good`` from
#: ``GOOD`` up (at most 1 % of the data affected), ``fair`` from ``FAIR`` (at most 10 %),
#: ``poor`` below.
GOOD, FAIR = 99.0, 90.0


def grade(score: float | None) -> str | None:
    """``"good"``, ``"fair"`` or ``"poor"`` for a 0-100 score (None for None)."""
    if score is None:
        return None
    return "good" if score >= GOOD else "fair" if score >= FAIR else "poor"


def usable(affected: Mapping[str, float], total: float) -> float:
    """``1 - min(1, sum(SEVERITY_WEIGHTS[s] * n) / total)``: the 0-1 share of the total
    left usable by ``affected`` (severity -> rows or seconds)."""
    weighted = sum(SEVERITY_WEIGHTS[s] * n for s, n in affected.items())
    if weighted <= 0:
        return 1.0
    if total <= 0:
        return 0.0
    return max(0.0, 1.0 - weighted / total)


def figure(score: float) -> str:
    """A 0-1 score as the 0-100 text people read (``99.9``)."""
    return f"{100 * score:.1f}"


def tally(parts: Iterable[tuple[float, str, str]], total: float, of: str,
          count: Callable[[float], str] | None = None) -> tuple[float, str]:
    """Score ``parts`` (``(rows, severity, what)``, e.g. ``(3, "warning", "price
    spikes")``) against ``total`` and say how: ``(score, "3 price spikes of 4,172 trades:
    99.9")``. ``of`` names the total (``"4,172 trades"``); parts with no rows are left out
    of the text and a critical or info part shows its factor (``"2 invalid prices (critical
    ×2)"``); ``count`` formats the amounts (default: rows, ``1,234``)."""
    parts = [(n, sev, what) for n, sev, what in parts if n]
    affected: dict[str, float] = {}
    for n, sev, _ in parts:
        affected[sev] = affected.get(sev, 0) + n
    s = usable(affected, total)
    if not parts:
        return s, f"nothing wrong in {of}: {figure(s)}"
    show = count or _count
    text = " + ".join(f"{show(n)} {what}"
                      + (f" ({sev} ×{SEVERITY_WEIGHTS[sev]:g})" if sev != "warning" else "")
                      for n, sev, what in parts)
    return s, f"{text} of {of}: {figure(s)}"


def _count(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.1f}"


def from_findings(findings: Iterable[Finding], rows: int) -> tuple[float, str]:
    """A check's 0-1 score from its findings' rows by severity, and how it was reached."""
    by: dict[str, int] = {}
    for f in findings:
        by[f.severity] = by.get(f.severity, 0) + f.count
    return tally(((by[s], s, f"{s} rows") for s in ("critical", "warning", "info")
                  if s in by), rows, f"{rows:,} rows")


def combine(parts: Iterable[tuple[float, float]]) -> float | None:
    """``100 * sum(weight * score) / sum(weight)`` over ``(weight, score)``; None if empty."""
    total = weight = 0.0
    for w, s in parts:
        total += w * s
        weight += w
    if weight <= 0:
        return None
    return 100.0 * total / weight


def session(symbol_scores: Iterable[tuple[float | None, int]]) -> float | None:
    """Mean of the symbols' scores weighted by their rows (symbols without a score skipped)."""
    scored = [(s, max(r, 0)) for s, r in symbol_scores if s is not None]
    if not scored:
        return None
    rows = sum(r for _, r in scored)
    if rows == 0:
        return sum(s for s, _ in scored) / len(scored)
    return sum(s * r for s, r in scored) / rows
