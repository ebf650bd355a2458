"""OHLCV bars built from a session's ticks, in the database.

Bars are left-closed intervals labelled by their start and aligned to the Unix epoch
(daily bars start at 00:00 UTC). Open and close follow the ticks' (ts, seq) order, so
trades sharing a timestamp keep their arrival order. Intervals without ticks produce no
bar (no forward fill): a gap in the ticks stays visible in the bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from . import schema
from .ids import check_symbols, interval_seconds
from .store.base import Store

#: Intervals offered by the panels and the demo; any ``<n><s|m|h|d>`` works.
STANDARD_INTERVALS = ("1s", "1m", "5m", "15m", "1h", "4h", "1d")


def build_bars(store: Store, session_id: str, interval: str,
               symbols: Sequence[str] | None = None, *, start: Any = None, end: Any = None,
               persist: bool = True) -> pd.DataFrame:
    """Compute bars from ticks; with ``persist`` store them (replacing bars of the same key).

    Returns the bars (columns of ``aggregated_ohlcv``).
    """
    interval_seconds(interval)
    syms = check_symbols(list(symbols)) if symbols is not None else None
    bars = store.ohlcv_from_ticks(session_id, syms, interval, start=start, end=end)
    if persist and len(bars):
        store.write(schema.AGGREGATED_OHLCV.name, bars, mode="upsert")
    return bars
