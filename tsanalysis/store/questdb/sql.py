"""SQL text for QuestDB: quoting, literals, placeholders, DDL from the schema, and the names
of tsanalysis' internal tables."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ... import schema
from ...errors import InvalidInput

#: Internal tables (never part of the data model).
JOURNAL_TABLE = "tsanalysis_purge_journal"
STATE_TABLE = "tsanalysis_purge_state"
SWAP_TABLE = "tsanalysis_purge_swaps"
SEQ_TABLE = "tsanalysis_seq"

#: Status of a session whose rows are being removed: invisible to every read.
DELETING = "deleting"

#: Deleted rows keep their place but not their session id: a delete relabels them
#: ``~<delete id>``, which no session id can be (ids start with a letter or digit).
DEAD_PREFIX = "~"
#: Conditions on a row: relabelled by a delete, or not (a regular expression: psycopg
#: would read the ``%`` of a LIKE pattern as a placeholder). NULL ids count as live.
DEAD = "session_id ~ '^~'"
LIVE = "(session_id IS NULL OR NOT (session_id ~ '^~'))"


def q(name: str) -> str:
    """Quote an identifier (QuestDB takes double quotes, like PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


_TYPES = {
    schema.SYMBOL: "SYMBOL",
    schema.STRING: "VARCHAR",
    schema.TIMESTAMP: "TIMESTAMP",
    schema.DOUBLE: "DOUBLE",
    schema.LONG: "LONG",
}

#: Rows per ILP request: one request is atomic on the server, and bounded in memory.


def render_ddl(t: schema.Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table in QuestDB's dialect.

    WAL, partitioned by day on the designated timestamp, and deduplicated on the table's
    identity key (QuestDB requires the designated timestamp among the keys). Symbol-typed
    columns are ``SYMBOL``. QuestDB has no NOT NULL: required columns are checked before
    writing (:meth:`QuestDBStore.write`).
    """
    cols = ",\n  ".join(f"{q(c.name)} {_TYPES[c.type]}" for c in t.columns)
    keys = [t.ts] + [k for k in t.key if k != t.ts]
    return (f"CREATE TABLE IF NOT EXISTS {q(t.name)} (\n  {cols}\n) TIMESTAMP({q(t.ts)}) "
            f"PARTITION BY DAY WAL DEDUP UPSERT KEYS({', '.join(map(q, keys))})")


def literal(v: Any) -> str:
    """A SQL literal for ``/exp`` queries, which take no bind parameters.

    Strings are quoted with ``'`` doubled; instants become UTC ISO text, which QuestDB
    compares with timestamps.
    """
    if v is None or v is pd.NaT:
        return "NULL"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "NULL" if not np.isfinite(v) else repr(float(v))
    if isinstance(v, (pd.Timestamp, datetime, np.datetime64)):
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return "'" + ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"
    if isinstance(v, str):
        if "\x00" in v:
            raise InvalidInput("text values cannot contain NUL characters")
        return "'" + v.replace("'", "''") + "'"
    raise InvalidInput(f"cannot use a value of type {type(v).__name__} in a filter")


_PLACEHOLDER_SCAN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\?|%""",
                               re.DOTALL)


def translate_placeholders(query: str) -> tuple[str, int]:
    """Turn ``?`` placeholders into psycopg's ``%s``; return the query and their count.

    ``?`` inside quoted text, quoted names and comments is left alone. Every ``%`` becomes
    ``%%`` because psycopg reads ``%`` anywhere in a query that has parameters.
    """
    count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count
        tok = m.group(0)
        if tok == "?":
            count += 1
            return "%s"
        return tok.replace("%", "%%")

    return _PLACEHOLDER_SCAN.sub(sub, query), count


#: Statements that commit to a table, and the table: INSERT INTO t, UPDATE t, ...
_WRITES = re.compile(r'\s*(INSERT\s+INTO|UPDATE|ALTER\s+TABLE|TRUNCATE\s+TABLE)\s+'
                     r'(?:"((?:[^"]|"")+)"|([A-Za-z_][\w.]*))', re.IGNORECASE)
