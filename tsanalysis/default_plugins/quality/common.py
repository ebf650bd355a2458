"""What the built-in quality checks share: table wording, capped findings."""

from __future__ import annotations

from tsanalysis.quality import Finding
from tsanalysis.quality.context import QUOTES, TICKS

#: How each table's rows are named in findings, and the prefix of its metrics.
WHAT = {TICKS: "trades", QUOTES: "quotes"}
PREFIX = {TICKS: "", QUOTES: "quote_"}


def of(rows: int, table: str) -> str:
    """``"4,172 trades"``: the total a check's score is taken against (see
    :func:`tsanalysis.quality.score.tally`)."""
    return f"{rows:,} {WHAT[table]}"


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
