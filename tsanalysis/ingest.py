"""Ingestion: validate raw rows, type them, give them a sequence number, write them.

Every path that brings rows into the store (DataFrames from the API, CSV and Parquet files
from the command line, the demo generator, migration) goes through :func:`prepare`.
Validation is vectorised and complete: every invalid row is reported with its position
and reason, and nothing is written unless the caller asks to skip invalid rows.

Rules, per kind:

ticks      ``ts`` parses; ``price`` finite and > 0; ``volume`` empty (unknown) or finite
           and >= 0; ``side`` empty, ``buy`` or ``sell``.
orderbook  ``ts`` parses; each side is either complete (price finite and > 0, size finite
           and >= 0) or wholly empty (a missing side); at least one side present.
           Crossed and locked quotes are market events, stored as recorded.
ohlcv      ``ts`` parses; open, high, low, close finite and > 0; high >= open, close, low;
           low <= open, close; ``volume`` empty or finite and >= 0; ``trades`` empty or an
           integer >= 0; an interval (column or argument) such as ``1m``.
indicators ``ts`` parses; ``value`` empty or NaN (NULL: warm-up) or a finite number;
           ``confidence`` empty or finite; an indicator id (column or argument) such as
           ``rsi_14`` (see :func:`tsanalysis.ids.check_indicator_id`).

Rows that share a timestamp are all kept in arrival order: each row gets ``seq``, the
next number after the highest stored for its session and symbol (or the ``seq`` column
of the input, when present, which makes re-importing an export idempotent).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .errors import InvalidInput, InvalidRows, RowError, ValidationReport
from .ids import check_indicator_id, check_session_id, check_symbol, interval_seconds
from .store.base import Progress, Store
from .timeutil import (
    EPOCH_UNITS,
    TS_RANGE_TEXT,
    iso,
    out_of_range,
    sub_microsecond,
    to_utc_series,
)

KINDS = tuple(schema.KIND_TABLES)
#: Why a timestamp more precise than a microsecond is refused (unless ``round_ns``).
ROUND_NS_REASON = ("timestamp has nanoseconds; the store keeps microseconds (round them "
                   "down with --round-ns / round_ns=True)")

#: Input columns each kind reads (schema names); the first group is required.
_REQUIRED = {
    "ticks": ("ts", "price"),
    "orderbook": ("ts", "bid_price", "bid_size", "ask_price", "ask_size"),
    "ohlcv": ("ts", "open", "high", "low", "close"),
    "indicators": ("ts", "value"),
}
_OPTIONAL = {
    "ticks": ("volume", "side", "trade_id", "seq"),
    "orderbook": ("seq",),
    "ohlcv": ("volume", "trades", "interval"),
    "indicators": ("confidence", "indicator_id", "seq"),
}


def input_columns(kind: str) -> tuple[str, ...]:
    """Every input column a kind understands (required first)."""
    _check_kind(kind)
    return _REQUIRED[kind] + _OPTIONAL[kind]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")


@dataclass
class IngestResult:
    """What an ingestion did."""

    session_id: str
    symbol: str
    kind: str
    table: str
    rows_written: int = 0
    rows_skipped: int = 0
    report: ValidationReport = field(default_factory=ValidationReport)
    first_ts: pd.Timestamp | None = None
    last_ts: pd.Timestamp | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "symbol": self.symbol,
            "kind": self.kind,
            "table": self.table,
            "rows_written": self.rows_written,
            "rows_skipped": self.rows_skipped,
            "first_ts": iso(self.first_ts),
            "last_ts": iso(self.last_ts),
            "validation": self.report.to_dict(),
        }


# -- validation ---------------------------------------------------------------------------


class _Checker:
    """Collects failing rows rule by rule, then reports them in row order."""

    def __init__(self, n: int, raw: pd.DataFrame, row_offset: int, lines: np.ndarray | None,
                 reasons: Counter[str] | None = None):
        self.bad = np.zeros(n, dtype=bool)
        self.raw = raw
        self.row_offset = row_offset
        self.lines = lines
        self.reasons = reasons if reasons is not None else Counter()
        self._found: list[tuple[np.ndarray, str, str]] = []

    def fail(self, mask: np.ndarray, column: str, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.bad |= mask
            idx = np.flatnonzero(mask)
            self._found.append((idx, column, reason))
            self.reasons[f"{column}: {reason}"] += len(idx)

    def errors(self, limit: int) -> list[RowError]:
        out: list[RowError] = []
        for idx, column, reason in self._found:
            for i in idx[:limit]:
                value = self.raw[column].iloc[i] if column in self.raw.columns else None
                row = self.row_offset + int(i)
                line = None if self.lines is None else int(self.lines[i])
                out.append(RowError(row=row, column=column, value=_plain(value),
                                    reason=reason, line=line))
        out.sort(key=lambda e: (e.row, e.column))
        return out[:limit]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _numeric(raw: pd.DataFrame, col: str, chk: _Checker) -> np.ndarray:
    """A float column; text that is not a number is an error, an empty cell is NaN."""
    s = raw[col]
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    try:
        # Arrow's cast is ~10x faster than pandas on text; it fails on any bad value.
        arr = pc.cast(pa.array(s.astype("string"), type=pa.string(), from_pandas=True),
                      pa.float64())
        return arr.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    num = pd.to_numeric(s.astype("string").str.strip(), errors="coerce")
    notnum = num.isna().to_numpy() & s.notna().to_numpy()
    if s.dtype != object or notnum.any():
        # Empty strings count as empty cells.
        text = s.astype("string")
        notnum &= (text.str.strip() != "").fillna(False).to_numpy(dtype=bool)
    chk.fail(notnum, col, "not a number")
    return num.to_numpy(dtype="float64", na_value=np.nan)


def _positive_price(v: np.ndarray, col: str, chk: _Checker, present: np.ndarray) -> None:
    chk.fail(present & np.isnan(v) & ~chk.bad, col, "missing or NaN price")
    chk.fail(present & np.isinf(v), col, "non-finite price")
    chk.fail(present & np.isfinite(v) & (v <= 0), col, "non-positive price")


def _size(v: np.ndarray, col: str, chk: _Checker, what: str) -> None:
    chk.fail(np.isinf(v), col, f"non-finite {what}")
    chk.fail(np.isfinite(v) & (v < 0), col, f"negative {what}")


def prepare(raw: pd.DataFrame, kind: str, session_id: str, symbol: str, *,
            columns: Mapping[str, str] | None = None, ts_unit: str | None = None,
            interval: str | None = None, indicator_id: str | None = None, row_offset: int = 0,
            lines: np.ndarray | None = None, max_errors: int = 100,
            reasons: Counter[str] | None = None, round_ns: bool = False
            ) -> tuple[pd.DataFrame, np.ndarray, list[RowError]]:
    """Validate and type raw input rows for ``kind``.

    ``columns`` maps schema names to input names (``{"ts": "timestamp"}``); input columns
    that are not used are ignored. ``interval`` (bars) and ``indicator_id`` (indicators)
    apply to every row when the input has no such column. Returns the typed frame of the table (``seq`` left as
    given, or -1 where it must be assigned), a boolean mask of invalid rows, and the first
    ``max_errors`` row errors.
    """
    _check_kind(kind)
    check_session_id(session_id)
    check_symbol(symbol)
    if ts_unit is not None and ts_unit not in EPOCH_UNITS:
        raise InvalidInput(f"invalid --ts-unit {ts_unit!r}: one of {', '.join(EPOCH_UNITS)}")
    mapping = dict(columns or {})
    unknown = [k for k in mapping if k not in input_columns(kind)]
    if unknown:
        raise InvalidInput(f"cannot map {', '.join(unknown)} for kind {kind}: "
                           f"columns are {', '.join(input_columns(kind))}")
    src = {c: mapping.get(c, c) for c in input_columns(kind)}
    missing = [f"{c} (from column {src[c]!r})" if src[c] != c else c
               for c in _REQUIRED[kind] if src[c] not in raw.columns]
    if missing:
        raise InvalidInput(f"input has no column for {', '.join(missing)}; "
                           f"columns present: {', '.join(map(str, raw.columns))}")
    # Work on the renamed, used columns only.
    used = {c: src[c] for c in input_columns(kind) if src[c] in raw.columns}
    frame = pd.DataFrame({c: raw[s] for c, s in used.items()})
    frame.index = pd.RangeIndex(len(frame))
    n = len(frame)
    chk = _Checker(n, frame, row_offset, lines, reasons)

    try:
        ts = to_utc_series(frame["ts"], ts_unit)
    except InvalidInput as e:
        raise InvalidInput(f"column {src['ts']!r}: {e}") from None
    chk.fail(ts.isna().to_numpy(), "ts", "unparseable or missing timestamp")
    chk.fail(out_of_range(ts), "ts", f"timestamp outside {TS_RANGE_TEXT}")
    if not round_ns:
        chk.fail(sub_microsecond(frame["ts"], ts_unit), "ts", ROUND_NS_REASON)

    t = schema.KIND_TABLES[kind]
    out: dict[str, Any] = {"session_id": session_id, "symbol": symbol}

    if kind == "ticks":
        price = _numeric(frame, "price", chk)
        _positive_price(price, "price", chk, np.ones(n, dtype=bool))
        out["price"] = price
        if "volume" in frame:
            vol = _numeric(frame, "volume", chk)
            _size(vol, "volume", chk, "volume")
            out["volume"] = vol
        if "side" in frame:
            side = frame["side"].astype("string").str.strip().str.lower()
            side = side.mask(side == "", pd.NA)
            chk.fail((side.notna() & ~side.isin(["buy", "sell"])).to_numpy(dtype=bool),
                     "side", "side must be buy or sell")
            out["side"] = side
        if "trade_id" in frame:
            out["trade_id"] = frame["trade_id"].astype("string")
    elif kind == "orderbook":
        for side in ("bid", "ask"):
            p = _numeric(frame, f"{side}_price", chk)
            z = _numeric(frame, f"{side}_size", chk)
            has_p, has_z = ~np.isnan(p), ~np.isnan(z)
            half = f"{side} side is half empty (price and size go together)"
            chk.fail(has_p & ~has_z, f"{side}_size", half)
            chk.fail(has_z & ~has_p, f"{side}_price", half)
            _positive_price(p, f"{side}_price", chk, has_p)
            _size(z, f"{side}_size", chk, "size")
            out[f"{side}_price"], out[f"{side}_size"] = p, z
        none = np.isnan(out["bid_price"]) & np.isnan(out["ask_price"])
        chk.fail(none & ~chk.bad, "bid_price", "both sides empty")
    elif kind == "indicators":
        value = _numeric(frame, "value", chk)
        chk.fail(np.isinf(value), "value", "non-finite value")
        out["value"] = value  # NaN and empty are both NULL: no value yet (warm-up)
        if "confidence" in frame:
            conf = _numeric(frame, "confidence", chk)
            chk.fail(np.isinf(conf), "confidence", "non-finite confidence")
            out["confidence"] = conf
        if "indicator_id" in frame:
            ids = frame["indicator_id"].astype("string")
            valid = ids.map(_valid_indicator_id, na_action="ignore").fillna(False)
            chk.fail(~valid.to_numpy(dtype=bool), "indicator_id", "invalid indicator id")
            out["indicator_id"] = ids
        elif indicator_id is not None:
            out["indicator_id"] = check_indicator_id(indicator_id)
        else:
            raise InvalidInput("indicator rows need an indicator id: a column 'indicator_id' "
                               "or the indicator_id option")
    else:  # ohlcv
        o, h, lo, c = (_numeric(frame, k, chk) for k in ("open", "high", "low", "close"))
        for k, v in (("open", o), ("high", h), ("low", lo), ("close", c)):
            _positive_price(v, k, chk, np.ones(n, dtype=bool))
        ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        with np.errstate(invalid="ignore"):
            chk.fail(ok & (h < np.maximum.reduce([o, c, lo])), "high", "high below open/close/low")
            chk.fail(ok & (lo > np.minimum(o, c)), "low", "low above open/close")
        out.update(open=o, high=h, low=lo, close=c)
        if "volume" in frame:
            vol = _numeric(frame, "volume", chk)
            _size(vol, "volume", chk, "volume")
            out["volume"] = vol
        if "trades" in frame:
            tr = _numeric(frame, "trades", chk)
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(tr) & (tr >= 0) & (tr == np.floor(tr))
            chk.fail(~np.isnan(tr) & ~whole, "trades", "trades must be a non-negative integer")
            out["trades"] = pd.array(np.where(whole, tr, np.nan), dtype="Float64").astype("Int64")
        if "interval" in frame:
            iv = frame["interval"].astype("string")
            valid = iv.map(_valid_interval, na_action="ignore").fillna(False).to_numpy(dtype=bool)
            chk.fail(~valid, "interval", "invalid interval (e.g. 1s, 1m, 1h, 1d)")
            out["interval"] = iv
        elif interval is not None:
            interval_seconds(interval)
            out["interval"] = interval
        else:
            raise InvalidInput("OHLCV input needs an interval: a column 'interval' or --interval")
        bar_key = pd.DataFrame({"i": out["interval"], "t": ts})
        chk.fail(bar_key.duplicated(keep="first").to_numpy() & ts.notna().to_numpy(), "ts",
                 "repeated bar (same interval and start)")

    if "seq" in frame:
        seq = _numeric(frame, "seq", chk)
        bad_seq = ~np.isfinite(seq) | (seq < 0) | (seq != np.floor(seq))
        chk.fail(bad_seq, "seq", "seq must be a non-negative integer")
        seq_i = np.where(bad_seq, -1, seq).astype("int64")
        # seq numbers rows per symbol, and per indicator id in the indicators table.
        seq_key = pd.DataFrame({"seq": seq_i})
        if "indicator_id" in out:
            seq_key["indicator_id"] = out["indicator_id"]
        chk.fail(seq_key.duplicated(keep="first").to_numpy() & ~bad_seq, "seq",
                 "repeated seq")
        out["seq"] = seq_i
    elif t.has_column("seq"):
        out["seq"] = np.full(n, -1, dtype="int64")

    out["ts"] = ts
    typed = pd.DataFrame(out, index=frame.index)
    typed = typed[[c for c in t.column_names if c in typed.columns]]
    return typed, chk.bad, chk.errors(max_errors)


def _valid_indicator_id(v: str) -> bool:
    try:
        check_indicator_id(v)
        return True
    except InvalidInput:
        return False


def _valid_interval(v: str) -> bool:
    try:
        interval_seconds(v)
        return True
    except InvalidInput:
        return False


# -- writing ------------------------------------------------------------------------------


def assign_seq(frames: pd.DataFrame, start: int) -> int:
    """Fill ``seq`` = -1 entries with consecutive numbers from ``start``; return the next."""
    need = frames["seq"].to_numpy() < 0
    k = int(need.sum())
    if k:
        seq = frames["seq"].to_numpy().copy()
        seq[need] = np.arange(start, start + k, dtype="int64")
        frames["seq"] = seq
    return start + k


@dataclass
class Chunk:
    """A piece of raw input: rows, their file lines, and rows the reader could not split."""

    frame: pd.DataFrame
    lines: np.ndarray | None = None
    malformed: list[RowError] = field(default_factory=list)
    #: Unit of epoch-number timestamps in this chunk, when the source knows it better than
    #: the ingestor's option (a reader that detected the form of a whole file).
    ts_unit: str | None = None
    #: Malformed rows beyond those listed in ``malformed`` (counted, not kept).
    malformed_more: int = 0

    @property
    def malformed_rows(self) -> int:
        """How many rows the reader could not split, listed or not."""
        return len(self.malformed) + self.malformed_more


ChunkSource = Callable[[], Iterable[Chunk]]


class Ingestor:
    """Streams chunks of raw rows into one table of one session and symbol.

    On a transactional store the chunks are written inside one transaction as they are
    validated; an invalid row (without ``skip_invalid``) rolls everything back after the
    rest of the input has been checked, so the report is complete. On other stores the
    input is validated completely first (``chunks`` is called twice), then written.
    """

    def __init__(self, store: Store, session_id: str, symbol: str, kind: str, *,
                 columns: Mapping[str, str] | None = None, ts_unit: str | None = None,
                 interval: str | None = None, indicator_id: str | None = None,
                 skip_invalid: bool = False, mode: str | None = None,
                 progress: Progress | None = None, source: str = "input",
                 round_ns: bool = False):
        _check_kind(kind)
        self.store = store
        self.session_id = check_session_id(session_id)
        self.symbol = check_symbol(symbol)
        self.kind = kind
        self.table = schema.KIND_TABLES[kind]
        self.columns = columns
        self.ts_unit = ts_unit
        self.interval = interval
        self.indicator_id = indicator_id
        self.skip_invalid = skip_invalid
        # Bars have a natural key (interval, start): re-importing them replaces, never
        # duplicates. Ticks and quotes append, numbered after what is stored.
        self.mode = mode or ("upsert" if kind == "ohlcv" else "append")
        self.progress = progress
        self.source = source
        self.round_ns = round_ns

    def _check(self, chunk: Chunk, offset: int, report: ValidationReport
               ) -> tuple[pd.DataFrame, np.ndarray]:
        typed, bad, errors = prepare(
            chunk.frame, self.kind, self.session_id, self.symbol, columns=self.columns,
            ts_unit=chunk.ts_unit or self.ts_unit, interval=self.interval,
            indicator_id=self.indicator_id, row_offset=offset, lines=chunk.lines,
            max_errors=report.max_errors, reasons=report.reasons, round_ns=self.round_ns)
        if chunk.malformed_rows:
            report.reasons["*: wrong number of fields"] += chunk.malformed_rows
        report.rows_seen += len(chunk.frame) + chunk.malformed_rows
        report.add(sorted(chunk.malformed + errors, key=lambda e: (e.line or 0, e.row)),
                   int(bad.sum()) + chunk.malformed_rows)
        return typed, bad

    def scan(self, chunks: ChunkSource, progress: Progress | None = None,
             total_rows: int | None = None) -> ValidationReport:
        """Validate every chunk without writing; the report counts and names invalid rows.

        What :meth:`run` would then do: write ``rows_seen - rows_invalid`` rows with
        ``skip_invalid``, or refuse the input when the report is not ``ok``.
        """
        report = ValidationReport()
        offset = 0
        for chunk in chunks():
            self._check(chunk, offset, report)
            offset += len(chunk.frame)
            if progress:
                progress(offset, total_rows)
        return report

    def run(self, chunks: ChunkSource, total_rows: int | None = None) -> IngestResult:
        """Ingest every chunk that ``chunks()`` yields."""
        result = IngestResult(self.session_id, self.symbol, self.kind, self.table.name)
        if not self.store.transactional and not self.skip_invalid:
            scan = self.scan(chunks)
            if not scan.ok:
                raise InvalidRows(scan, self.source)
        take_seq: list[Callable[[int], int]] = []

        def typed_batches() -> Iterator[pd.DataFrame]:
            offset = 0
            failed = False
            for chunk in chunks():
                typed, bad = self._check(chunk, offset, result.report)
                offset += len(chunk.frame)
                failed = failed or (not result.report.ok and not self.skip_invalid)
                if failed:
                    continue  # keep checking: the report names every bad row
                result.rows_skipped += int(bad.sum()) + chunk.malformed_rows
                good = typed[~bad] if bad.any() else typed
                # Rows that bring their own seq (re-imports, migration) need no numbering
                # and no look-up of the highest stored seq.
                need = int((good["seq"].to_numpy() < 0).sum()) if "seq" in good.columns else 0
                if need:
                    if not take_seq:
                        take_seq.append(self.store.seq_numbers(self.table.name,
                                                               self.session_id, self.symbol))
                    good = good.copy()
                    assign_seq(good, take_seq[0](need))
                if len(good):
                    lo, hi = good["ts"].min(), good["ts"].max()
                    result.first_ts = lo if result.first_ts is None else min(result.first_ts, lo)
                    result.last_ts = hi if result.last_ts is None else max(result.last_ts, hi)
                    yield good
                if self.progress:
                    self.progress(offset, total_rows)
            if failed:
                raise InvalidRows(result.report, self.source)

        result.rows_written = self.store.write_batches(self.table.name, typed_batches(),
                                                       self.mode)  # type: ignore[arg-type]
        return result


    def run_file(self, path: str | os.PathLike[str], fmt: str, chunks: ChunkSource,
                 total_rows: int | None = None) -> IngestResult:
        """Ingest a whole file: in one SQL statement where the store and the file allow
        it (:mod:`tsanalysis.ingest_sql`), else chunk by chunk (``chunks``) as :meth:`run`.
        The rows written and the result are the same either way."""
        from .ingest_sql import import_file

        done = import_file(self, path, fmt, total_rows)
        return done if done is not None else self.run(chunks, total_rows)


def ingest_frame(store: Store, session_id: str, symbol: str, data: pd.DataFrame | pa.Table,
                 kind: str = "ticks", **options: Any) -> IngestResult:
    """Validate and write one frame (see :class:`Ingestor` for the options)."""
    raw = data.to_pandas() if isinstance(data, pa.Table) else data
    if not isinstance(raw, pd.DataFrame):
        raise InvalidInput(f"expected a pandas DataFrame or Arrow table, not {type(data).__name__}")
    ing = Ingestor(store, session_id, symbol, kind, **options)
    return ing.run(lambda: [Chunk(raw)], total_rows=len(raw))


# -- tables without an ingestion kind (indicators, backtest results) -----------------------


def prepare_table(raw: pd.DataFrame, table: str, session_id: str, symbol: str, *,
                  row_offset: int = 0, lines: np.ndarray | None = None,
                  max_errors: int = 100) -> tuple[pd.DataFrame, np.ndarray, list[RowError]]:
    """Validate and type raw rows of any child table by its schema (what :func:`prepare`
    does for the ingestion kinds, for tables that have none: indicators, backtests).

    Timestamps parse as in :func:`prepare`; doubles are numbers or empty; longs are
    integers; required columns are present and filled. ``session_id`` and ``symbol`` come
    from the arguments; other input columns are ignored. Returns the typed frame, a mask
    of invalid rows and the first ``max_errors`` row errors.
    """
    t = schema.table(table)
    check_session_id(session_id)
    check_symbol(symbol)
    own = ("session_id", "symbol")
    missing = [c.name for c in t.columns if not c.nullable and c.name not in own
               and c.name not in raw.columns]
    if missing:
        raise InvalidInput(f"input has no column for {', '.join(missing)} (table {t.name}); "
                           f"columns present: {', '.join(map(str, raw.columns))}")
    frame = pd.DataFrame({c.name: raw[c.name] for c in t.columns
                          if c.name not in own and c.name in raw.columns})
    frame.index = pd.RangeIndex(len(raw))
    chk = _Checker(len(frame), frame, row_offset, lines)
    out: dict[str, Any] = {"session_id": session_id, "symbol": symbol}
    for c in t.columns:
        if c.name in own or c.name not in frame.columns:
            continue
        s = frame[c.name]
        given = s.notna().to_numpy().copy()
        if s.dtype != object and not pd.api.types.is_numeric_dtype(s.dtype) and \
                not isinstance(s.dtype, pd.DatetimeTZDtype):
            text = s.astype("string")
            given &= (text != "").fillna(False).to_numpy(dtype=bool)
        if c.type == schema.TIMESTAMP:
            v = to_utc_series(s)
            chk.fail(given & v.isna().to_numpy(), c.name, "unparseable timestamp")
            chk.fail(out_of_range(v), c.name, f"timestamp outside {TS_RANGE_TEXT}")
            present = v.notna().to_numpy()
        elif c.type == schema.DOUBLE:
            v = _numeric(frame, c.name, chk)
            present = ~np.isnan(v)
        elif c.type == schema.LONG:
            f = _numeric(frame, c.name, chk)
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(f) & (f == np.floor(f))
            chk.fail(~np.isnan(f) & ~whole, c.name, "not an integer")
            v = pd.array(np.where(whole, f, np.nan), dtype="Float64").astype("Int64")
            present = whole
        else:
            v = s.astype("string")
            present = given
        if not c.nullable:
            chk.fail(~present & ~chk.bad, c.name, f"missing {c.name}")
        out[c.name] = v
    typed = pd.DataFrame(out, index=frame.index)
    return typed[[c for c in t.column_names if c in typed.columns]], chk.bad, \
        chk.errors(max_errors)
