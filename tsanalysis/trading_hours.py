"""A session's declared trading hours: when the market is open, so that its closures are
not taken for recording gaps.

Stored in the session's metadata as ``{"trading_hours": {...}}`` (see
:meth:`tsanalysis.sessions.Sessions.set_trading_hours`), in this form::

    {"timezone": "America/Chicago", "open": "17:00", "close": "16:00",
     "days": "Mon-Fri", "holidays": ["2026-01-19"]}

``days`` are the *trading days*, named by the day a trading session closes; when ``open``
is not before ``close`` the session opens the evening before (CME's Monday session opens
Sunday 17:00 Chicago time and closes Monday 16:00). ``holidays`` are trading days without
a session. Everything outside the sessions is a closure. The short text form
``"17:00-16:00 America/Chicago Mon-Fri closed 2026-01-19,2026-02-16"`` says the same (the
days default to Mon-Fri, the holidays to none).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from .errors import InvalidInput

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EXAMPLE = ('e.g. "17:00-16:00 America/Chicago Mon-Fri" or {"timezone": "America/Chicago", '
            '"open": "17:00", "close": "16:00", "days": "Mon-Fri", "holidays": '
            '["2026-01-19"]}')


def _bad(msg: str) -> InvalidInput:
    return InvalidInput(f"trading hours: {msg} ({_EXAMPLE})")


def _time(value: Any, name: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise _bad(f"{name} must be a time HH:MM, not {value!r}")
    return dt.time(int(m[1]), int(m[2]))


def _day(name: str) -> int:
    key = name.strip()[:3].title()
    if key not in DAY_NAMES:
        raise _bad(f"unknown day {name!r} (days: {', '.join(DAY_NAMES)})")
    return DAY_NAMES.index(key)


def _days(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out: list[int] = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if "-" in item:
            a, b = (_day(x) for x in item.split("-", 1))
            out.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
        else:
            out.append(_day(item))
    if not out:
        raise _bad("no trading day given")
    return tuple(sorted(set(out)))


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise _bad(f"a holiday must be a date YYYY-MM-DD, not {value!r}") from None


def _days_text(days: tuple[int, ...]) -> str:
    if len(days) > 2 and days == tuple(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]}-{DAY_NAMES[days[-1]]}"
    return ",".join(DAY_NAMES[d] for d in days)


@dataclass(frozen=True)
class TradingHours:
    """When a market trades (see the module docstring); :meth:`parse` builds one."""

    timezone: str
    open: dt.time
    close: dt.time
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: tuple[dt.date, ...] = ()

    @classmethod
    def parse(cls, value: TradingHours | Mapping[str, Any] | str) -> TradingHours:
        """From a :class:`TradingHours`, a dict (the stored form) or text (the short form, or
        the dict as JSON); an unclear value is refused with an example."""
        if isinstance(value, TradingHours):
            return value
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError as e:
                raise _bad(f"not valid JSON: {e}") from None
        if isinstance(value, str):
            value = cls._from_text(value)
        if not isinstance(value, Mapping):
            raise _bad(f"expected text or a dict, not {type(value).__name__}")
        unknown = set(value) - {"timezone", "open", "close", "days", "holidays"}
        if unknown:
            raise _bad(f"unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("timezone", "open", "close"):
            if key not in value:
                raise _bad(f"{key} is missing")
        tz = str(value["timezone"])
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise _bad(f"unknown time zone {tz!r} (an IANA name such as "
                       "America/Chicago)") from None
        holidays = value.get("holidays") or ()
        if isinstance(holidays, str):
            holidays = [h for h in holidays.split(",") if h.strip()]
        return cls(tz, _time(value["open"], "open"), _time(value["close"], "close"),
                   _days(value.get("days", "Mon-Fri")),
                   tuple(sorted({_date(h) for h in holidays})))

    @staticmethod
    def _from_text(text: str) -> dict[str, Any]:
        m = re.fullmatch(r"\s*(\S+)-(\S+)\s+(\S+)(?:\s+(?!closed\b)(\S+))?"
                         r"(?:\s+closed\s+(\S+))?\s*", text)
        if not m:
            raise _bad(f"cannot read {text!r}")
        return {"open": m[1], "close": m[2], "timezone": m[3], "days": m[4] or "Mon-Fri",
                "holidays": m[5] or ""}

    def to_dict(self) -> dict[str, Any]:
        """The stored (JSON) form."""
        return {"timezone": self.timezone, "open": self.open.strftime("%H:%M"),
                "close": self.close.strftime("%H:%M"), "days": _days_text(self.days),
                "holidays": [d.isoformat() for d in self.holidays]}

    def __str__(self) -> str:
        text = (f"{self.open:%H:%M}-{self.close:%H:%M} {self.timezone} "
                f"{_days_text(self.days)}")
        if self.holidays:
            text += " closed " + ",".join(d.isoformat() for d in self.holidays)
        return text

    # -- when ---------------------------------------------------------------------------

    def sessions(self, start: Any, end: Any) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """The trading sessions (UTC open, close) that overlap ``[start, end]``."""
        zone = ZoneInfo(self.timezone)
        a, b = pd.Timestamp(start), pd.Timestamp(end)
        first = a.tz_convert(zone).date() - dt.timedelta(days=1)
        last = b.tz_convert(zone).date() + dt.timedelta(days=1)
        overnight = self.open >= self.close
        out = []
        day = first
        while day <= last:
            if day.weekday() in self.days and day not in self.holidays:
                opens = day - dt.timedelta(days=1) if overnight else day
                o = pd.Timestamp(dt.datetime.combine(opens, self.open, zone)).tz_convert("UTC")
                c = pd.Timestamp(dt.datetime.combine(day, self.close, zone)).tz_convert("UTC")
                if c > a and o < b:
                    out.append((o, c))
            day += dt.timedelta(days=1)
        return out

    def closures(self, start: Any, end: Any) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """The closed stretches of ``[start, end]`` (UTC, clipped to it), in time order."""
        a, b = pd.Timestamp(start), pd.Timestamp(end)
        out, at = [], a
        for o, c in self.sessions(a, b):
            if o > at:
                out.append((at, min(o, b)))
            at = max(at, c)
        if at < b:
            out.append((at, b))
        return out

    def closed_seconds(self, start: Any, end: Any) -> float:
        """Seconds of ``[start, end]`` when the market is closed."""
        return sum((c - o).total_seconds() for o, c in self.closures(start, end))

    def closed_overlap(self, starts: pd.Series, ends: pd.Series) -> np.ndarray:
        """Seconds of each interval ``[starts[i], ends[i]]`` when the market is closed."""
        s = np.asarray(pd.DatetimeIndex(starts).as_unit("us").asi8, dtype="int64")
        e = np.asarray(pd.DatetimeIndex(ends).as_unit("us").asi8, dtype="int64")
        out = np.zeros(len(s))
        if not len(s):
            return out
        lo = pd.Timestamp(int(s.min()), unit="us", tz="UTC")
        hi = pd.Timestamp(int(e.max()), unit="us", tz="UTC")
        for o, c in self.closures(lo, hi):
            co, cc = o.value // 1000, c.value // 1000  # ns -> µs
            out += np.clip(np.minimum(e, cc) - np.maximum(s, co), 0, None) / 1e6
        return out


def of_session(metadata: Mapping[str, Any] | None) -> TradingHours | None:
    """The trading hours a session's metadata declares, or None."""
    value = (metadata or {}).get("trading_hours")
    return None if value is None else TradingHours.parse(value)
