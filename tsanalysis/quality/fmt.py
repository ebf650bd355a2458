"""Short texts for findings and recommendations: UTC times, spans, durations, numbers."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..timeutil import to_utc


def utc(ts: Any, date: bool = True) -> str:
    """``2026-01-05 14:05:12`` (``.123456`` when the instant has microseconds)."""
    t = to_utc(ts)
    text = t.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text


def span(start: Any, end: Any) -> str:
    """``2026-01-05 14:05:12–14:20:40 UTC`` (the date once when both are on the same day)."""
    a, b = to_utc(start), to_utc(end)
    if a == b:
        return f"{utc(a)} UTC"
    same_day = a.normalize() == b.normalize()
    return f"{utc(a)}–{utc(b, date=not same_day)} UTC"


def duration(seconds: float | pd.Timedelta) -> str:
    """``4 min 37 s``, ``2 h 05 min``, ``1.5 s``, ``350 ms``."""
    s = seconds.total_seconds() if isinstance(seconds, pd.Timedelta) else float(seconds)
    if not math.isfinite(s):
        return str(s)
    if s < 0.9995:
        ms = s * 1000
        return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"
    if s < 60:
        return f"{s:.3g} s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r:02d} s"
    h, r = divmod(int(round(s)), 3600)
    if h < 48:
        return f"{h} h {r // 60:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h:02d} h"


def number(x: float) -> str:
    """A price or size with thousands separators and no noise (``62,001.5``)."""
    if x is None or not math.isfinite(x):
        return str(x)
    return f"{x:,.10g}" if abs(x) < 1e15 else f"{x:.6g}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 gap``, ``3 gaps``, ``1,200 rows``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
