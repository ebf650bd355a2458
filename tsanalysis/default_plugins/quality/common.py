"""What the built-in quality checks share: table wording, score tolerances, capped findings."""

from __future__ import annotations

from tsanalysis.quality import Finding
from tsanalysis.quality.context import QUOTES, TICKS

#: How each table's rows are named in findings, and the prefix of its metrics.
WHAT = {TICKS: "trades", QUOTES: "quotes"}
PREFIX = {TICKS: "", QUOTES: "quote_"}


#: Fraction of affected rows at which each check's score reaches 0 (declared on the check
#: too, so ``tsanalysis plugins`` and the report show it).
TOLERANCE = {"timestamps": 0.01, "prices": 0.005, "stale": 0.05, "volume": 0.01,
             "orderbook": 0.005, "consistency": 0.01}


def score_of(check: str, weighted: float, rows: int) -> float:
    """The derived formula of :mod:`tsanalysis.quality.score` applied to exact counts
    (the findings a check lists are capped; its counts are not)."""
    if weighted <= 0:
        return 1.0
    return max(0.0, 1.0 - weighted / (TOLERANCE[check] * max(rows, 1)))


class Kinds:
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


def load_kernels():  # imported on first use, not when the plugin loads
    from tsanalysis.quality import kernels

    return kernels


ODD_WINDOW = ("rows in the centered window, the point itself included (an even number "
              "is rounded up to the next odd one)")
