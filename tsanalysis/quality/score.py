"""How the 0-100 quality score is made (the documented weights).

Every check scores each symbol between 0 (unusable) and 1 (clean):

* with its own formula when it has one (the built-in ``completeness`` scores the fraction
  of expected rows present; ``gaps`` the severity-weighted time spent in gaps against the
  span, reaching 0 at 25 %; the others apply the formula below to exact counts, since the
  findings they list are capped), or
* from its findings: ``1 - min(1, sum(SEVERITY_WEIGHTS[f.severity] * f.count) /
  (tolerance * rows))``, where ``rows`` is the symbol's row count in the first of the
  check's tables that has rows and ``tolerance`` the check's declared fraction of affected
  rows at which it reaches 0.

A symbol's score is ``100 * sum(weight * score) / sum(weight)`` over the checks that
applied to it (a check without data, say the order-book check on a session without
quotes, is left out rather than counted clean). The session's score is the mean of its
symbols' scores weighted by their rows, so a thin symbol does not mask a large one; the
report also shows each symbol's own score.

Built-in weights (``QualityCheck.weight``; a third-party check defaults to 5):

==============  ======  ====================================================
check           weight  scored on
==============  ======  ====================================================
completeness    25      rows present / rows expected from the cadence
gaps            15      severity-weighted time in gaps, tolerance 25 % of the span
prices          20      invalid prices and Hampel outliers, tolerance 0.5 %
stale           10      rows in stale runs, tolerance 5 %
timestamps      10      out-of-order and duplicate rows, tolerance 1 %
orderbook       10      crossed, locked, one-sided quotes, spread outliers, 0.5 %
volume          5       negative, zero runs, spikes, tolerance 1 %
consistency     5       bars that disagree with their ticks, tolerance 1 %
==============  ======  ====================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from .checks import Finding

#: How much one affected row counts, by severity of the finding.
SEVERITY_WEIGHTS = {"info": 0.1, "warning": 1.0, "critical": 3.0}


def from_findings(findings: Iterable[Finding], rows: int, tolerance: float) -> float:
    """A check's 0-1 score derived from its findings (see the module docstring)."""
    affected = sum(SEVERITY_WEIGHTS[f.severity] * f.count for f in findings)
    if affected <= 0:
        return 1.0
    if rows <= 0:
        return 0.0
    return max(0.0, 1.0 - affected / (tolerance * rows))


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
