"""The built-in data-quality checks, registered through the public hook like any plugin.

One module per family of checks (:mod:`.coverage`, :mod:`.timestamps`, :mod:`.prices`,
:mod:`.volume`, :mod:`.orderbook`, :mod:`.consistency`), each declaring its checks; what
they share is in :mod:`.common`.

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

from tsanalysis import hookimpl
from tsanalysis.quality import QualityCheck

from . import consistency, coverage, orderbook, prices, timestamps, volume


def _checks() -> list[QualityCheck]:
    return [*coverage.checks(), *timestamps.checks(), *prices.checks(), *volume.checks(),
            *orderbook.checks(), *consistency.checks()]


@hookimpl
def register_quality_checks(register: Callable[[QualityCheck], None]) -> None:
    for check in _checks():
        register(check)
