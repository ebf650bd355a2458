"""Identifiers: what a session id, a symbol and an interval may look like.

Ids are data and are always bound as query parameters; the strict patterns here are a
second line of defence and give a clear error before anything reaches a database.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from .errors import InvalidInput

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}$")
INDICATOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
INTERVAL_PATTERN = re.compile(r"^([1-9][0-9]{0,5})(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


#: Rows deleted with a grace period keep their place under ``+<delete id>``, a label no
#: session id can be (ids start with a letter or a digit); a restore gives them back.
GRACE_PREFIX = "+"
GRACE_LABEL_PATTERN = re.compile(r"^\+[0-9a-f]{16}$")


def grace_label(action_id: str) -> str:
    """The session id under which a delete with a grace period keeps its rows."""
    label = GRACE_PREFIX + action_id
    if not GRACE_LABEL_PATTERN.match(label):
        raise ValueError(f"invalid delete id {action_id!r}")
    return label


def check_owner(owner: object) -> str:
    """A session id, or the label of rows in a grace period."""
    if isinstance(owner, str) and GRACE_LABEL_PATTERN.match(owner):
        return owner
    return check_session_id(owner)


def check_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is a valid id, else raise :class:`InvalidInput`.

    Valid: 1-128 characters of letters, digits, ``_``, ``.``, ``-``, starting with a letter
    or digit.
    """
    if not isinstance(session_id, str) or not SESSION_ID_PATTERN.match(session_id):
        raise InvalidInput(
            f"invalid session id {session_id!r}: use 1-128 letters, digits, '_', '.', '-'"
        )
    return session_id


def check_symbol(symbol: object) -> str:
    """Return ``symbol`` if valid (e.g. ``BTC/USDT``, ``ES-2026Z``), else raise."""
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        raise InvalidInput(
            f"invalid symbol {symbol!r}: use 1-64 letters, digits, '/', ':', '_', '.', '-'"
        )
    return symbol


def check_symbols(symbols: object) -> list[str]:
    """Validate a list (or comma-separated string) of symbols; keep order, drop repeats."""
    if isinstance(symbols, str):
        symbols = [s.strip() for s in symbols.split(",") if s.strip()]
    if not symbols:
        raise InvalidInput("at least one symbol is needed")
    out: list[str] = []
    for s in symbols:  # type: ignore[union-attr]
        check_symbol(s)
        if s not in out:
            out.append(s)
    return out


def new_session_id(prefix: str = "s") -> str:
    """A fresh session id: ``<prefix>-YYYYMMDD-HHMMSS-<6 hex>`` (UTC, sortable)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return check_session_id(f"{prefix}-{stamp}-{secrets.token_hex(3)}")


def interval_seconds(interval: str) -> int:
    """Seconds in a bar interval such as ``1s``, ``5m``, ``1h``, ``1d``."""
    m = INTERVAL_PATTERN.match(interval) if isinstance(interval, str) else None
    if not m:
        raise InvalidInput(
            f"invalid interval {interval!r}: a count and a unit, e.g. 1s, 1m, 5m, 1h, 1d"
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def check_indicator_id(indicator_id: object) -> str:
    """Return ``indicator_id`` if valid (e.g. ``rsi_14``, ``macd_12_26_9``), else raise.

    Valid: 1-128 letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit.
    """
    if not isinstance(indicator_id, str) or not INDICATOR_ID_PATTERN.match(indicator_id):
        raise InvalidInput(
            f"invalid indicator id {indicator_id!r}: use 1-128 letters, digits, '_', '.', '-'"
        )
    return indicator_id
