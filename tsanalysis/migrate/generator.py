"""Deterministic legacy trees, for tests and benchmarks, with what a migration must find.

:func:`generate_tree` writes sessions in the legacy layout (see
:mod:`tsanalysis.migrate.layout`) and returns a :class:`LegacyTree` that knows, file by file,
the rows a migration must write or skip, so tests assert exact figures.

With ``awkward=True`` (the default) the first three sessions carry the cases a real tree
has, at fixed places:

session 0  full metadata: real symbol names for the ``BTC_USDT`` directories, status,
           start (ISO-8601) and end (epoch seconds), fields the store has no column for,
           and a symbol listed without a directory. A bad row in the middle of the first
           symbol's ticks, a truncated order-book file (its last line cut), an empty
           (0-byte) indicator file.
session 1  metadata with fields missing (no symbols, status, start or end): symbols are
           the directory names. A missing ``tick_prices.csv``, an indicator file that
           mixes epoch seconds and ISO-8601 (refused whatever the options), an indicator
           file with two bad rows, a header-only order-book file.
session 2  no metadata file at all.

Timestamps come in the three legacy forms, one per file: epoch seconds, epoch
milliseconds, ISO-8601. Ticks repeat a timestamp every 50 rows (distinct trades at one
instant), which a migration must keep.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .. import schema
from ..timeutil import TS_FORM_NAMES, arrow_from_micros, iso, to_micros
from .layout import INDICATORS_DIR, METADATA_FILE, ORDERBOOK_FILE, TICKS_FILE
from .stats import FAILED, MIGRATED, SKIPPED

DEFAULT_START = "2026-01-05T00:00:00Z"
FORMS = ("s", "ms", "iso")
HEADERS = {
    "ticks": ("timestamp", "price", "volume"),
    "orderbook": ("timestamp", "bid_price", "bid_size", "ask_price", "ask_size"),
    "indicators": ("timestamp", "value", "confidence"),
}
#: Indicator rows without a value at the start (empty cells, stored as NULL).
WARM_UP = 14


@dataclass
class ExpectedFile:
    """One generated file and what a migration must make of it."""

    relpath: str
    session_id: str
    symbol: str
    kind: str
    indicator_id: str | None
    ts_form: str | None  #: e.g. "epoch seconds"; None for a file without rows
    lines: int  #: data lines written
    bad_lines: list[int] = field(default_factory=list)  #: lines of invalid rows
    refused: str | None = None  #: a problem that refuses the whole file in every mode
    empty: bool = False

    @property
    def table(self) -> str:
        return schema.KIND_TABLES[self.kind].name

    def status(self, skip_errors: bool = False) -> str:
        if self.refused:
            return FAILED
        if self.empty:
            return SKIPPED
        if self.bad_lines and not skip_errors:
            return FAILED
        return MIGRATED

    def rows_migrated(self, skip_errors: bool = False) -> int:
        ok = self.status(skip_errors) == MIGRATED
        return self.lines - len(self.bad_lines) if ok else 0

    def rows_skipped(self, skip_errors: bool = False) -> int:
        return len(self.bad_lines) if self.status(skip_errors) == MIGRATED else 0


@dataclass
class ExpectedSession:
    session_id: str
    dir: str
    symbols: list[str]
    status: str
    start_time: pd.Timestamp | None  #: from the metadata (None: from the data)
    end_time: pd.Timestamp | None
    extra: dict[str, Any]  #: metadata fields without a column


@dataclass
class LegacyTree:
    """A generated tree and the exact outcome a migration must reach."""

    root: Path
    files: list[ExpectedFile]
    sessions: list[ExpectedSession]

    def expected(self, skip_errors: bool = False) -> dict[str, int]:
        """Figures of a first migration of the whole tree."""
        st = [f.status(skip_errors) for f in self.files]
        return {
            "files_found": len(self.files),
            "files_migrated": st.count(MIGRATED),
            "files_skipped": st.count(SKIPPED),
            "files_failed": st.count(FAILED),
            "rows_migrated": sum(f.rows_migrated(skip_errors) for f in self.files),
            "rows_skipped": sum(f.rows_skipped(skip_errors) for f in self.files),
        }

    def rows_by_table(self, skip_errors: bool = False) -> dict[tuple[str, str], int]:
        """(session id, table) -> rows stored after a complete migration."""
        out: dict[tuple[str, str], int] = {}
        for f in self.files:
            k = (f.session_id, f.table)
            out[k] = out.get(k, 0) + f.rows_migrated(skip_errors)
        return out

    def file(self, relpath: str) -> ExpectedFile:
        return next(f for f in self.files if f.relpath == relpath)


def generate_tree(root: str | os.PathLike[str], *, sessions: int = 3,
                  symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT"), rows: int = 600,
                  indicators: tuple[str, ...] = ("rsi_14", "macd_12_26_9"),
                  ticks: bool = True, orderbook: bool = True, awkward: bool = True,
                  ts_form: str | None = None, seed: int = 0, start: str = DEFAULT_START,
                  prefix: str = "legacy") -> LegacyTree:
    """Write a legacy tree under ``root`` (created if needed) and return what it holds.

    Each session has ``symbols`` with ``rows`` rows in each of its files: ticks and order
    book (unless turned off) and one file per name in ``indicators``. ``ts_form`` fixes the
    timestamp form of every file (``s``, ``ms`` or ``iso``); by default files take the
    three forms in turn. ``awkward`` injects the cases of the module docstring (it needs
    three sessions, two symbols, ticks, order book and an indicator). Equal arguments
    give byte-identical trees.
    """
    if ts_form is not None and ts_form not in FORMS:
        raise ValueError(f"ts_form must be one of {FORMS}")
    if awkward and (sessions < 3 or len(symbols) < 2 or not indicators or not ticks
                    or not orderbook or rows < 20):
        raise ValueError("awkward trees need 3 sessions, 2 symbols, ticks, order book, an "
                         "indicator and 20 rows")
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start).tz_convert("UTC") if pd.Timestamp(start).tzinfo else \
        pd.Timestamp(start).tz_localize("UTC")
    tree = LegacyTree(base.resolve(), [], [])
    n_file = 0
    for i in range(sessions):
        sid = f"{prefix}-{i:04d}"
        sdir = base / sid
        sdir.mkdir(exist_ok=True)
        day0 = t0 + pd.Timedelta(days=i)
        span_end = day0 + pd.Timedelta(seconds=rows)
        case = i if awkward else -1
        names = list(symbols)
        meta: dict[str, Any] | None
        extra: dict[str, Any] = {}
        status = ("completed", "failed", "active")[i % 3] if i >= 3 else "completed"
        start_meta: pd.Timestamp | None = day0
        end_meta: pd.Timestamp | None = span_end
        if case == 0:
            extra = {"exchange": "binance", "recorder": {"version": "1.4.2", "host": "rec-01"}}
            meta = {"session_id": sid, "symbols": [*names, "XRP/USDT"], "status": status,
                    "start_time": iso(day0), "end_time": int(span_end.timestamp()), **extra}
        elif case == 1:
            extra = {"recorded_by": "legacy-recorder"}
            meta = {"session_id": sid, **extra}
            names = [s.replace("/", "_") for s in symbols]  # no metadata symbols: dir names
            start_meta = end_meta = None
        elif case == 2:
            meta = None
            names = [s.replace("/", "_") for s in symbols]
            start_meta = end_meta = None
        else:
            meta = {"session_id": sid, "symbols": names, "status": status,
                    "start_time": iso(day0), "end_time": iso(span_end),
                    "exchange": "binance"}
            extra = {"exchange": "binance"}
        if meta is not None:
            (sdir / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        session_symbols = ([*names, "XRP/USDT"] if case == 0 else list(names))
        tree.sessions.append(ExpectedSession(sid, sid, session_symbols, status, start_meta,
                                             end_meta, extra))

        for k, (sym, name) in enumerate(zip(symbols, names, strict=True)):
            ddir = sdir / sym.replace("/", "_")
            price = 100.0 * (k + 1) + np.cumsum(rng.normal(0, 0.05, rows))
            price = np.round(np.abs(price) + 1.0, 4)
            specs: list[tuple[str, str | None, Path]] = []
            if ticks:
                specs.append(("ticks", None, ddir / TICKS_FILE))
            if orderbook:
                specs.append(("orderbook", None, ddir / ORDERBOOK_FILE))
            specs += [("indicators", ind, ddir / INDICATORS_DIR / f"{ind}.csv")
                      for ind in indicators]
            for kind, ind, path in specs:
                form = ts_form or FORMS[n_file % len(FORMS)]
                n_file += 1
                path.parent.mkdir(parents=True, exist_ok=True)
                exp = ExpectedFile(path.relative_to(base).as_posix(), sid, name, kind, ind,
                                   TS_FORM_NAMES[form], rows)
                # Awkward cases, at fixed places.
                if case == 1 and k == 1 and kind == "ticks":
                    continue  # missing tick_prices.csv
                table = _columns(kind, rows, day0, price, rng)
                if case == 1 and k == 0 and ind == indicators[0]:
                    _write(path, kind, table, form, mixed_with="iso" if form != "iso" else "s")
                    exp.refused = "mixes timestamp forms"
                elif case == 0 and k == 0 and ind == indicators[0]:
                    path.write_bytes(b"")
                    exp.lines, exp.empty, exp.ts_form = 0, True, None
                elif case == 1 and k == 1 and kind == "orderbook":
                    path.write_text(",".join(HEADERS[kind]) + "\n")
                    exp.lines, exp.empty, exp.ts_form = 0, True, None
                else:
                    _write(path, kind, table, form)
                    if case == 0 and k == 0 and kind == "ticks":
                        exp.bad_lines = [_replace_cell(path, rows // 2, "price", "abc")]
                    elif case == 0 and k == 1 and kind == "orderbook":
                        exp.bad_lines = [_truncate_last_line(path)]
                    elif case == 1 and k == 0 and ind == indicators[-1] and len(indicators) > 1:
                        exp.bad_lines = [_replace_cell(path, rows // 3, "value", "inf"),
                                         _replace_cell(path, 2 * rows // 3, "timestamp",
                                                       "not-a-time")]
                tree.files.append(exp)
    return tree


def _columns(kind: str, rows: int, day0: pd.Timestamp, price: np.ndarray,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The columns of one file, by header name; ``timestamp`` in epoch microseconds."""
    micros = to_micros(day0) + np.arange(rows, dtype="int64") * 1_000_000
    if kind == "ticks":
        repeat = np.flatnonzero(np.arange(rows) % 50 == 49)
        micros[repeat] = micros[repeat - 1]  # a trade at the same instant as the one before
        return {"timestamp": micros, "price": price,
                "volume": np.round(rng.uniform(0.001, 2.0, rows), 6)}
    if kind == "orderbook":
        return {"timestamp": micros + 500_000, "bid_price": np.round(price - 0.05, 4),
                "bid_size": np.round(rng.uniform(0.1, 5.0, rows), 4),
                "ask_price": np.round(price + 0.05, 4),
                "ask_size": np.round(rng.uniform(0.1, 5.0, rows), 4)}
    value = np.round(50 + 20 * np.sin(np.arange(rows) / 300.0) + rng.normal(0, 1, rows), 6)
    value[:WARM_UP] = np.nan  # written as empty cells
    return {"timestamp": micros, "value": value,
            "confidence": np.round(rng.uniform(0, 1, rows), 4)}


def _ts_text(micros: np.ndarray, form: str) -> pa.Array:
    if form == "s":
        return pc.cast(pa.array(micros // 1_000_000), pa.string())
    if form == "ms":
        return pc.cast(pa.array(micros // 1_000), pa.string())
    ts = arrow_from_micros(micros)
    return pc.binary_join_element_wise(pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S"), "Z", "")


def _write(path: Path, kind: str, cols: dict[str, np.ndarray], form: str,
           mixed_with: str | None = None) -> None:
    micros = cols["timestamp"]
    ts = _ts_text(micros, form)
    if mixed_with is not None:
        half = len(micros) // 2
        ts = pa.concat_arrays([ts[:half], _ts_text(micros[half:], mixed_with)])
    names = HEADERS[kind]
    arrays = [ts] + [pa.array(cols[c], from_pandas=True) for c in names[1:]]
    with open(path, "wb") as out:
        out.write((",".join(names) + "\n").encode())
        pacsv.write_csv(pa.Table.from_arrays(arrays, names=list(names)), out,
                        pacsv.WriteOptions(include_header=False, quoting_style="none"))


def _replace_cell(path: Path, row: int, column: str, text: str) -> int:
    """Put ``text`` in one cell of data row ``row``; return its line number."""
    lines = path.read_text().split("\n")
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = text
    lines[row + 1] = ",".join(cells)
    path.write_text("\n".join(lines))
    return row + 2


def _truncate_last_line(path: Path) -> int:
    """Cut the last row after its second field (a recorder killed mid-write)."""
    text = path.read_text().rstrip("\n")
    head, last = text.rsplit("\n", 1)
    cut = ",".join(last.split(",")[:2])
    path.write_text(head + "\n" + cut)
    return head.count("\n") + 2
