"""Run an export: resolve the scope, stream the rows, write atomically.

Rows come from the active backend through ``Store.iter_arrow`` in bounded batches, so
memory does not grow with the session; each batch is cast to the schema's Arrow types
(every backend then exports the same types) and handed to the format's writer. The output
is written through :func:`~tsanalysis.export.atomic.atomic_file`: a failure at any point
leaves nothing at the destination.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from .. import __version__, schema
from ..errors import InvalidInput, SessionNotFound
from ..ids import check_session_id, check_symbol
from ..store.base import Progress, Store, arrow_schema, check_columns, check_table
from ..timeutil import iso, to_utc
from . import manifest
from .api import (
    ExportContext,
    ExportedFile,
    Exporter,
    ExportResult,
    ProgressArg,
    TablePart,
    parse_options,
)
from .atomic import atomic_file, check_destination
from .registry import get_exporter

log = logging.getLogger(__name__)

#: Rows per batch read from the store: large enough for columnar speed, small enough
#: that a batch of the widest table stays in the tens of megabytes.
BATCH_ROWS = 262_144

#: The table a one-table format exports unless told otherwise.
DEFAULT_TABLE = schema.TICK_PRICES.name

#: Tables of a bundle, parents first (the order an import restores them in).
BUNDLE_TABLES = tuple(t.name for t in reversed(schema.CHILD_TABLES))

_IDENTITY = ("session_id", "symbol")

#: Seconds an export that stops waits for its reader thread to let go.
READER_STOP_SECONDS = 5.0


@dataclass
class Scope:
    """What an export covers."""

    tables: list[str]
    symbols: list[str] | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    columns: list[str] | None

    def columns_of(self, table: str) -> list[str]:
        """The columns exported from ``table``: the chosen ones, with session and symbol."""
        t = schema.table(table)
        if self.columns is None:
            return t.column_names
        cols = [c for c in _IDENTITY if c not in self.columns] + list(self.columns)
        return check_columns(t, cols)

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "symbols": self.symbols, "start": iso(self.start),
                "end": iso(self.end), "columns": self.columns}


def _as_list(v: str | Sequence[str] | None) -> list[str] | None:
    if v is None:
        return None
    items = v.split(",") if isinstance(v, str) else list(v)
    out: list[str] = []
    for item in items:
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


def resolve_scope(exporter: Exporter, session_symbols: Sequence[str], *,
                  tables: str | Sequence[str] | None, symbols: str | Sequence[str] | None,
                  start: Any, end: Any, columns: str | Sequence[str] | None) -> Scope:
    """Validate and normalise the scope arguments (nothing is read or written)."""
    names = _as_list(tables)
    if not names:
        names = [DEFAULT_TABLE] if exporter.single_table else list(BUNDLE_TABLES)
    for n in names:
        check_table(n)
    if not exporter.single_table:  # members go parents first, whatever order was asked
        names.sort(key=BUNDLE_TABLES.index)
    if exporter.single_table and len(names) > 1:
        raise InvalidInput(f"format {exporter.name!r} holds one table, not {', '.join(names)}; "
                           "export them one at a time or use a bundle format (zip)")
    syms = _as_list(symbols)
    if syms is not None:
        for s in syms:
            check_symbol(s)
        unknown = [s for s in syms if s not in session_symbols]
        if unknown:
            raise InvalidInput(f"symbol {unknown[0]!r} is not in the session; its symbols: "
                               f"{', '.join(session_symbols) or 'none'}")
    lo = to_utc(start, "start") if start is not None else None
    hi = to_utc(end, "end") if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput(f"end {iso(hi)} is not after start {iso(lo)}")
    scope = Scope(names, syms, lo, hi, _as_list(columns))
    for n in names:
        scope.columns_of(n)  # unknown columns fail before anything is written
    return scope


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """The batch with exactly the target's types (backends differ, e.g. ``Etc/UTC``)."""
    if batch.schema.equals(target):
        return batch
    arrays = []
    for f in target:
        col = batch.column(f.name)
        arrays.append(col if col.type == f.type else col.cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def write_part(exporter: Exporter, fileobj: IO[bytes], part: TablePart,
               options: dict[str, Any] | None = None) -> int:
    """Run a table format's writer over a part; return the rows written."""
    if exporter.writer is None:
        raise InvalidInput(f"format {exporter.name!r} is a bundle; it cannot hold one table")
    writer = exporter.writer(fileobj, part.schema,
                             options if options is not None else dict(exporter.options))
    rows = 0
    stream = part.batches()
    try:
        for batch in stream:
            writer.write_batch(batch)
            rows += batch.num_rows
        writer.close()
    except BaseException:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stop reading the store before cleaning up
        abort = getattr(writer, "abort", None)
        if abort is not None:
            try:
                abort()
            except Exception:  # the original error is the one to report
                log.debug("abort() of the %s writer failed", exporter.name, exc_info=True)
        raise
    return rows


@dataclass
class _Failed:
    error: BaseException


_END = object()


def read_ahead(make: Callable[[], Iterator[Any]], depth: int = 2) -> Iterator[Any]:
    """Iterate ``make()`` in a thread, up to ``depth`` items ahead of the consumer.

    Reading the store (DuckDB, the network) and encoding the file both release the GIL,
    so on two cores they overlap. The thread owns the iterator: it opens, drains and
    closes it, and stops early when the consumer does (an error, an interrupt).
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = None
        try:
            it = make()
            for item in it:
                if not put(item):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, who raises it
            put(_Failed(e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="tsanalysis-export-read", daemon=True)
    try:
        # Started inside the try: an interrupt (Ctrl-C, SIGTERM) right after the start
        # must still stop the worker, which holds the store while it waits to hand over.
        worker.start()
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        if worker.ident is not None:
            # Bounded: a reader blocked in a native call must not hang the unwinding of an
            # interrupted export (seen in CI under load); the thread is a daemon.
            worker.join(READER_STOP_SECONDS)
            if worker.is_alive():
                log.warning("the export's reader did not stop within %.0f s; left behind",
                            READER_STOP_SECONDS)


def _auto_progress(desc: str) -> tuple[Progress, Callable[[], None]]:
    from tqdm.auto import tqdm  # a widget in notebooks, a bar in terminals

    bar = tqdm(desc=desc, unit="rows", unit_scale=True, leave=False)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return update, bar.close


def export_session(store: Store, session_id: str, format: str, out: str | os.PathLike[str],
                   *, symbols: str | Sequence[str] | None = None,
                   tables: str | Sequence[str] | None = None, start: Any = None,
                   end: Any = None, columns: str | Sequence[str] | None = None,
                   overwrite: bool = False, options: Any = None,
                   progress: ProgressArg = None, batch_rows: int = BATCH_ROWS) -> ExportResult:
    """Export a session (or part of it) to one file in a registered format.

    ``format`` is a registered exporter's name (``csv``, ``jsonl``, ``json``, ``parquet``,
    ``zip``, or a plugin's). One-table formats hold ``tables`` (one; ``tick_prices`` by
    default) with its ``session_id`` and ``symbol`` columns; ``zip`` holds every selected
    table (all by default), one member per table and symbol, with a manifest.

    ``symbols`` narrows to some symbols (default every one), ``start`` (inclusive) and
    ``end`` (exclusive) to a time range, ``columns`` to some columns (``session_id`` and
    ``symbol`` are always kept). ``options`` are the format's options (a mapping, or
    ``key=value`` texts). ``progress`` is a callback ``(rows done, rows total or None)``,
    or True for a tqdm bar (a widget in notebooks).

    The file is written beside ``out`` under a temporary name, fsynced, then renamed to
    ``out``: an error or an interrupt leaves nothing behind. An existing ``out`` is
    refused unless ``overwrite``. Unknown sessions raise ``SessionNotFound`` before any
    file is created.
    """
    began = time.perf_counter()
    exporter = get_exporter(format)
    opts = parse_options(exporter, options)
    check_session_id(session_id)
    rows_df = store.session_rows(session_id)
    if rows_df.empty:
        raise SessionNotFound(session_id)
    record = manifest.session_record(rows_df.iloc[0])
    stats = store.table_stats([session_id])
    session_symbols = [s for s in (record.get("symbols") or "").split(",") if s]
    session_symbols += sorted(set(stats["symbol"]) - set(session_symbols))
    scope = resolve_scope(exporter, session_symbols, tables=tables, symbols=symbols,
                          start=start, end=end, columns=columns)
    path = check_destination(out, overwrite)
    ranged = scope.start is not None or scope.end is not None

    def rows_in(table: str, syms: Sequence[str] | None) -> dict[str, int]:
        sel = stats[stats["table"] == table]
        if syms is not None:
            sel = sel[sel["symbol"].isin(list(syms))]
        return {str(s): int(n) for s, n in zip(sel["symbol"], sel["rows"], strict=True) if n}

    done = [0]
    # Streams still open when the export ends (a writer that failed mid-part) are closed
    # at once: their reader thread holds the store until then.
    opened: list[Generator[pa.RecordBatch, None, None]] = []
    report: Progress | None
    finish: Callable[[], None] = lambda: None  # noqa: E731
    if progress is True:
        report, finish = _auto_progress(f"export {session_id}")
    else:
        report = progress or None

    def make_part(table: str, syms: list[str], filter_syms: list[str] | None,
                  expected: int | None) -> TablePart:
        cols = scope.columns_of(table)
        target = arrow_schema(schema.table(table), cols)

        def read() -> Iterator[pa.RecordBatch]:
            for b in store.iter_arrow(table, session_id, symbols=filter_syms, start=scope.start,
                                      end=scope.end, columns=cols, batch_rows=batch_rows):
                if b.num_rows:
                    yield _conform(b, target)

        def batches() -> Iterator[pa.RecordBatch]:
            stream = read_ahead(read)
            opened.append(stream)
            try:
                for b in stream:
                    yield b
                    done[0] += b.num_rows
                    if report:
                        report(done[0], total)
            finally:
                stream.close()

        return TablePart(table, syms, target, expected, batches)

    parts: list[TablePart] = []
    if exporter.single_table:
        table = scope.tables[0]
        counts = rows_in(table, scope.symbols)
        present = sorted(counts) if scope.symbols is None else \
            [s for s in sorted(scope.symbols) if s in counts]
        parts.append(make_part(table, present, scope.symbols,
                               None if ranged else sum(counts.values())))
    else:
        for table in scope.tables:
            for sym, n in sorted(rows_in(table, scope.symbols).items()):
                parts.append(make_part(table, [sym], [sym], None if ranged else n))
    total: int | None = None if ranged else sum(p.expected_rows or 0 for p in parts)

    members: list[ExportedFile] = []
    try:
        with atomic_file(path, overwrite=overwrite) as f:
            if exporter.single_table:
                rows = write_part(exporter, f, parts[0], opts)
            else:
                ctx = ExportContext(session=record, options=opts, scope=scope.to_dict(),
                                    _lookup=get_exporter, _write=write_part)
                members = list(exporter.bundle(f, _non_empty(parts), ctx))  # type: ignore[misc]
                rows = sum(m.rows for m in members)
            f.flush()
            size, digest = f.bytes_written, f.sha256
    finally:
        for stream in opened:
            stream.close()
        finish()
    if total is not None and rows != total:
        log.warning("exported %d rows of %s where the statistics counted %d (the session "
                    "changed during the export?)", rows, session_id, total)
    present_symbols = sorted({s for p in parts for s in p.symbols})
    tables_written = [parts[0].table] if exporter.single_table else \
        sorted({m.table for m in members if m.table}, key=BUNDLE_TABLES.index)
    return ExportResult(session_id=session_id, format=exporter.name, path=path.resolve(),
                        rows=rows, bytes=size, sha256=digest, tables=tables_written,
                        symbols=present_symbols, members=members,
                        elapsed_s=time.perf_counter() - began)


def _non_empty(parts: list[TablePart]) -> Iterator[TablePart]:
    """Parts with at least one row (a time range can empty a part the statistics listed)."""
    for part in parts:
        stream = part.batches()
        first = next(stream, None)
        if first is None:
            continue
        yield TablePart(part.table, part.symbols, part.schema, part.expected_rows,
                        lambda first=first, stream=stream: _resume(first, stream))


def _resume(first: pa.RecordBatch, stream: Generator[pa.RecordBatch, None, None]
            ) -> Iterator[pa.RecordBatch]:
    try:
        yield first
        yield from stream
    finally:
        stream.close()


def bundle_manifest(kind: str, ctx: ExportContext, inner: Exporter,
                    members: Sequence[ExportedFile]) -> tuple[str, bytes]:
    """The manifest file (name, bytes) of a bundle, for bundle formats."""
    return manifest.build(kind, session=ctx.session, scope=ctx.scope, inner=inner,
                          members=members, created_at=pd.Timestamp.now(tz="UTC"),
                          version=__version__)


__all__ = ["export_session", "write_part", "resolve_scope", "Scope", "bundle_manifest",
           "BATCH_ROWS"]
