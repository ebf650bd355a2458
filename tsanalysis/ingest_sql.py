"""Whole-file imports done by the engine: one ``INSERT ... SELECT`` over the file.

:class:`~tsanalysis.ingest.Ingestor` validates rows in pandas chunks, which costs several
times what the engine needs to read a file. On a store that can insert the rows of a query
(``Store.sql_import``: DuckDB), a whole-file import of ticks or order-book snapshots is
instead one statement over ``read_parquet``/``read_csv``: the rules of
:func:`tsanalysis.ingest.prepare` written as SQL guard every row (a row that breaks one
calls ``error()``, and the transaction leaves nothing written), the constants and the
sequence numbers are added by the engine, and nothing passes through Python.

The SQL covers the clean, common case exactly and nothing else. Whatever it cannot judge
exactly as ``prepare`` would (a column type it does not know, epoch-number timestamps,
text that is not plain ISO-8601 or a plain decimal number, a repeated ``seq``, an invalid
row, an empty file) makes :func:`import_file` return None, and the caller runs the chunked
path, which writes the same rows or reports every bad row: the result is the same either
way, only slower. ``tests/test_ingest_fast.py`` imports the same files both ways and
compares the stored rows and the results.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow.csv as pacsv

from .errors import InvalidInput, StoreError, StoreUnavailable
from .readers import csv_header
from .store.duckdb import DuckDBStore
from .timeutil import TS_END, TS_MIN

if TYPE_CHECKING:
    from .ingest import Ingestor, IngestResult

log = logging.getLogger(__name__)

#: Kinds this path covers (the others have rules that need more than one row: bars).
KINDS = ("ticks", "orderbook")
#: Marks the error a guarded row raises, to tell it from other failures in logs.
GUARD = "tsanalysis: row not for the SQL path"

# ISO-8601 text that the chunked path (Arrow, else pandas) and DuckDB read as the same
# instant: date and time, a fraction of at most nine digits, "Z", a +hh:mm offset or none
# (UTC). Other forms (which DuckDB may read otherwise) go the chunked way. Without round_ns
# digits past the sixth must be zeros (the chunked path refuses others: ROUND_NS_REASON).
_ISO = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
        r"(\.{fraction})?(Z|[+-][0-9]{2}:[0-9]{2})?")
_FRACTION = {False: "([0-9]{1,6}|[0-9]{6}0{1,3})", True: "[0-9]{1,9}"}
#: Integers up to here survive the float64 that the chunked path reads seq into.
_EXACT_INT = 2 ** 53

_FLOATS = ("DOUBLE", "FLOAT")
_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
_TS = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_MS", "TIMESTAMP_S")


class _Unsupported(Exception):
    """The input has a form the SQL path does not cover."""


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Query:
    """The SELECT being built, in two steps so that each value is computed once: typed
    values (``typed``, from the input's columns) with the checks of the raw input
    (``raw_ok``); then the checks of the typed values (``ok``) and the output columns."""

    types: dict[str, str]  # input column -> DuckDB type
    round_ns: bool
    typed: dict[str, str] = field(default_factory=dict)
    raw_ok: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)

    def ts(self, src: str, name: str = "ts") -> None:
        c, ty = _col(src), self.types[src]
        if ty == "VARCHAR":
            iso = _ISO.replace("{fraction}", _FRACTION[self.round_ns])
            self.raw_ok.append(f"regexp_full_match({c}, {_lit(iso)})")
            # DuckDB drops digits past the microsecond: pandas' floor for times after 1970.
            self.typed[name] = f"TRY_CAST({c} AS TIMESTAMPTZ)"
        elif ty.endswith("_NS"):
            # pandas floors nanoseconds (DuckDB's cast rounds them): integer division
            # floors from the epoch on, and earlier times are refused anyway.
            self.typed[name] = f"make_timestamptz(epoch_ns({c}) // 1000)"
            self.raw_ok.append(f"epoch_ns({c}) >= 0")
        elif ty in _TS:
            self.typed[name] = f"CAST({c} AS TIMESTAMPTZ)"  # naive: UTC, the session's zone
        else:
            raise _Unsupported(f"timestamp column of type {ty}")
        self.ok.append(f"{name} >= {_lit(TS_MIN.isoformat())}::TIMESTAMPTZ AND "
                       f"{name} < {_lit(TS_END.isoformat())}::TIMESTAMPTZ")

    def number(self, src: str, name: str) -> None:
        """A double, NULL where the input is empty, NULL or NaN (the chunked path stores
        NaN as NULL). Text must be a finite number in a form Arrow and pandas read alike
        (DuckDB alone reads 1_000)."""
        c, ty = _col(src), self.types[src]
        if ty == "VARCHAR":
            self.raw_ok.append(f"({c} IS NULL OR {c} = '' OR (NOT contains({c}, '_') AND "
                               f"isfinite(TRY_CAST({c} AS DOUBLE))))")
            self.typed[name] = f"TRY_CAST(NULLIF({c}, '') AS DOUBLE)"
        elif ty in _FLOATS:
            self.typed[name] = f"NULLIF(CAST({c} AS DOUBLE), 'NaN'::DOUBLE)"  # NaN = NaN here
        elif ty in _INTS:
            self.typed[name] = f"CAST({c} AS DOUBLE)"
        else:
            raise _Unsupported(f"column {src!r} of type {ty}")

    def text(self, src: str, name: str) -> None:
        c, ty = _col(src), self.types[src]
        if ty == "VARCHAR":
            self.typed[name] = c
        elif ty in _INTS:
            # pandas writes integers as DuckDB does, but integers with gaps come as floats
            # ("12.0"): those go the chunked way.
            self.raw_ok.append(f"{c} IS NOT NULL")
            self.typed[name] = f"CAST({c} AS VARCHAR)"
        else:
            raise _Unsupported(f"column {src!r} of type {ty}")


def _rules(kind: str, src: dict[str, str], q: _Query) -> None:
    """Fill ``q`` with the rules of :func:`tsanalysis.ingest.prepare` for ``kind``."""
    q.ts(src["ts"])
    if kind == "ticks":
        q.number(src["price"], "price")
        q.ok.append("price > 0 AND NOT isinf(price)")
        if "volume" in src:
            q.number(src["volume"], "volume")
            q.ok.append("(volume IS NULL OR (NOT isinf(volume) AND volume >= 0))")
        if "side" in src:
            c = _col(src["side"])
            if q.types[src["side"]] != "VARCHAR":
                raise _Unsupported("side that is not text")
            # pandas strips every kind of space: only spaces and tabs are judged here.
            q.raw_ok.append(f"({c} IS NULL OR regexp_full_match({c}, "
                            r"'[ \t]*(?i:buy|sell)?[ \t]*'))")
            q.typed["side"] = f"NULLIF(lower(trim({c}, ' ' || chr(9))), '')"
        if "trade_id" in src:
            q.text(src["trade_id"], "trade_id")
    else:  # orderbook
        for side in ("bid", "ask"):
            p, z = f"{side}_price", f"{side}_size"
            q.number(src[p], p)
            q.number(src[z], z)
            q.ok.append(f"(({p} IS NULL AND {z} IS NULL) OR ({p} > 0 AND NOT isinf({p}) "
                        f"AND {z} >= 0 AND NOT isinf({z})))")
        q.ok.append("(bid_price IS NOT NULL OR ask_price IS NOT NULL)")
    if "seq" in src:
        q.number(src["seq"], "seq")
        q.ok.append(f"seq >= 0 AND seq < {_EXACT_INT} AND seq = floor(seq)")


def _source(path: str, fmt: str, con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, str]]:
    """The table function reading ``path`` as the chunked readers do, and its columns."""
    if fmt == "parquet":
        source = f"read_parquet({_lit(path)}, file_row_number = true)"
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_lit(path)})").fetchall()
        return source, {r[0]: r[1] for r in rows}
    if fmt != "csv" or path.lower().endswith(".bz2"):
        raise _Unsupported(f"format {fmt}")
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    names = csv_header(path, delimiter)
    if not names:
        raise _Unsupported("an empty file")
    # Arrow's reading (readers.iter_csv): every cell text, its null spellings null unless
    # quoted, '"' quotes doubled to escape, no comments, no sniffing.
    nulls = "[" + ", ".join(map(_lit, pacsv.ConvertOptions().null_values)) + "]"
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    source = (f"read_csv({_lit(path)}, auto_detect = false, header = true, "
              f"delim = {_lit(delimiter)}, quote = '\"', escape = '\"', "
              f"columns = {columns}, nullstr = {nulls}, allow_quoted_nulls = false, "
              "strict_mode = true)")
    return source, dict.fromkeys(names, "VARCHAR")


def _build(ing: Ingestor, path: str, fmt: str) -> tuple[str, bool]:
    """The SELECT for ``ing``'s import of ``path``, and whether it has a ``seq`` column
    (else the rows are numbered as they are written)."""
    from .ingest import _OPTIONAL, _REQUIRED  # the kinds' columns: one definition

    if ing.kind not in KINDS or ing.ts_unit is not None or ing.mode != "append":
        raise _Unsupported(f"kind {ing.kind}, ts_unit {ing.ts_unit}, mode {ing.mode}")
    con = duckdb.connect()
    try:
        source, types = _source(path, fmt, con)
    finally:
        con.close()
    mapping = dict(ing.columns or {})
    wanted = _REQUIRED[ing.kind] + _OPTIONAL[ing.kind]
    if any(k not in wanted for k in mapping):
        raise _Unsupported("a mapping the chunked path refuses")
    src = {c: mapping.get(c, c) for c in wanted if mapping.get(c, c) in types}
    if any(c not in src for c in _REQUIRED[ing.kind]):
        raise _Unsupported("a required column is missing")
    has_seq = "seq" in src
    q = _Query(types, ing.round_ns)
    _rules(ing.kind, src, q)
    if fmt == "csv":
        # Arrow splits a row at a line end inside quotes (newlines_in_values is off).
        q.raw_ok += [f"NOT contains(coalesce({_col(n)}, ''), chr(10)) AND "
                     f"NOT contains(coalesce({_col(n)}, ''), chr(13))" for n in types]
    raw_ok = " AND ".join(f"({c})" for c in q.raw_ok) or "TRUE"
    typed = [f"{e} AS {n}" for n, e in q.typed.items()] + [f"{raw_ok} AS _raw_ok"]
    if fmt == "parquet":
        typed.append("file_row_number")
    step1 = f"SELECT {', '.join(typed)} FROM {source}"
    # The guard sits in the first output column (ts): DuckDB evaluates it on every row.
    guard = " AND ".join(["_raw_ok", *(f"({c})" for c in q.ok)])
    out = [f"CASE WHEN {guard} THEN ts ELSE error({_lit(GUARD)}) END AS ts"]
    for c in ing.table.column_names:  # columns the input lacks are NULL, as when chunked
        if c in ("session_id", "symbol", "ts") or (c == "seq" and not has_seq):
            continue
        value = c if c in q.typed else "NULL"
        out.append("CAST(seq AS BIGINT) AS seq" if c == "seq" else f"{value} AS {c}")
    if fmt == "parquet":
        out.append("file_row_number AS _row")
        query = f"SELECT {', '.join(out)} FROM ({step1})"
    else:
        # CSV rows are numbered on one thread, after the checks (which then run on all).
        query = (f"SELECT *, row_number() OVER () - 1 AS _row FROM "
                 f"(SELECT {', '.join(out)} FROM ({step1}))")
    return query, has_seq


def _seq_distinct(query: str) -> tuple[bool, Any, Any]:
    """Whether the seq values are all distinct (the chunked path checks a chunk only, so
    the SQL path takes only files where no chunk can differ), and the first and last ts."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        # A distinct count over 100M rows spills rather than holding them all.
        con.execute(f"SET memory_limit = {_lit(DuckDBStore.write_memory_limit)}")
        con.execute(f"SET temp_directory = {_lit(tempfile.gettempdir())}")
        n, distinct, lo, hi = con.execute(
            f"SELECT count(*), count(DISTINCT seq), min(ts), max(ts) FROM ({query})"
        ).fetchone()
    except duckdb.Error as e:
        log.info("SQL import not taken: %s", str(e).splitlines()[0])
        return False, None, None
    finally:
        con.close()
    return n > 0 and n == distinct, lo, hi


def import_file(ing: Ingestor, path: str | os.PathLike[str], fmt: str,
                total_rows: int | None) -> IngestResult | None:
    """Import ``path`` with one SQL statement when the store and the input allow it
    (see the module's docstring); None when the chunked path must do it."""
    from .ingest import IngestResult

    store = ing.store
    if not getattr(store, "sql_import", False):
        return None
    try:
        query, has_seq = _build(ing, os.fspath(path), fmt)
    except _Unsupported as e:
        log.info("SQL import not taken for %s: %s", path, e)
        return None
    except (duckdb.Error, OSError, InvalidInput) as e:  # the chunked path reports these
        log.info("SQL import not taken for %s: %s", path, str(e).splitlines()[0])
        return None
    first = last = None
    if has_seq:
        distinct, first, last = _seq_distinct(query)
        if not distinct:
            return None
    progress: Callable[[float], None] | None = None
    if ing.progress and total_rows:
        report, total = ing.progress, total_rows
        progress = lambda f: report(int(f * total), total)  # noqa: E731
    try:
        n, lo, hi = store.insert_query(  # type: ignore[attr-defined]
            ing.table.name, ing.session_id, ing.symbol, query, numbered=not has_seq,
            progress=progress)
    except StoreUnavailable:
        raise  # the file is locked or gone: the chunked path would fail the same way
    except StoreError as e:
        # A guarded row, a deleted session, an unreadable row: the chunked path finds it
        # and reports it as it always has.
        log.info("SQL import not taken for %s: %s", path, str(e).splitlines()[0])
        return None
    if n == 0:
        return None  # an empty input: the chunked path still checks its columns
    result = IngestResult(ing.session_id, ing.symbol, ing.kind, ing.table.name,
                          rows_written=n)
    result.report.rows_seen = n
    lo, hi = (first, last) if has_seq else (lo, hi)
    result.first_ts, result.last_ts = _ts(lo), _ts(hi)
    if ing.progress:
        ing.progress(n, total_rows)
    return result


def _ts(value: Any) -> pd.Timestamp:
    """A DuckDB TIMESTAMPTZ as the chunked path reports it (microseconds, UTC)."""
    return pd.Timestamp(value).tz_convert("UTC").as_unit("us")
