"""Import a one-table export back: rows go to the symbol named in their ``symbol`` column.

A one-table export (``csv``, ``jsonl``, ``json``, ``parquet``) holds every symbol of the
session with ``session_id``, ``symbol`` and ``seq`` columns. Importing it without naming a
symbol routes each row to its own symbol; ``seq`` keeps trades that share a timestamp in
their order, so the session reads back exactly as it was exported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import readers
from ..errors import InvalidInput, InvalidRows, ValidationReport
from ..ids import check_symbol
from ..ingest import Chunk, Ingestor, IngestResult, prepare
from ..store.base import Progress, Store

SYMBOL_COLUMN = "symbol"


def _symbols(chunks: Iterable[Chunk], path: str) -> list[str]:
    found: list[str] = []
    offset = 0
    for chunk in chunks:
        if SYMBOL_COLUMN not in chunk.frame.columns:
            raise InvalidInput(f"{path} has no {SYMBOL_COLUMN!r} column: name the symbol "
                               "(--symbol)")
        col = chunk.frame[SYMBOL_COLUMN]
        empty = col.isna().to_numpy() | (col.astype("string") == "").fillna(True).to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            where = f"line {chunk.lines[i]}" if chunk.lines is not None else f"row {offset + i}"
            raise InvalidInput(f"{path}: {where} has no symbol")
        for s in col.unique():
            if s not in found:
                found.append(check_symbol(str(s)))
        offset += len(chunk.frame)
    return found


def _only(chunks: Iterable[Chunk], symbol: str, first: bool) -> Iterator[Chunk]:
    """The rows of one symbol; malformed rows (no symbol to tell) go with the first."""
    for c in chunks:
        mask = (c.frame[SYMBOL_COLUMN] == symbol).to_numpy(dtype=bool)
        malformed = c.malformed if first else []
        more = c.malformed_more if first else 0
        if mask.all():
            yield Chunk(c.frame, c.lines, malformed, malformed_more=more)
        elif mask.any() or malformed or more:
            yield Chunk(c.frame[mask].reset_index(drop=True),
                        None if c.lines is None else c.lines[mask], malformed,
                        malformed_more=more)


def import_by_symbol(store: Store, session_id: str, path: str | os.PathLike[str],
                     kind: str = "ticks", *, fmt: str | None = None,
                     before_write: Callable[[list[str]], None] | None = None,
                     progress: Progress | None = None, **options: Any) -> list[IngestResult]:
    """Import a file whose ``symbol`` column names each row's symbol; one result a symbol.

    Options are :class:`~tsanalysis.ingest.Ingestor`'s. All symbols land together or none
    does: one transaction where the store has them, else every row is validated first.
    """
    fmt = fmt or readers.detect_format(path)
    source = str(path)

    def chunks() -> Iterator[Chunk]:
        return readers.iter_file(path, fmt)

    symbols = _symbols(chunks(), source)
    if not store.transactional and not options.get("skip_invalid"):
        report = ValidationReport()
        keys = ("columns", "ts_unit", "interval", "indicator_id")
        for i, sym in enumerate(symbols):
            offset = 0
            for c in _only(chunks(), sym, i == 0):
                _, bad, errors = prepare(c.frame, kind, session_id, sym, row_offset=offset,
                                         lines=c.lines, **{k: options[k] for k in keys
                                                           if options.get(k) is not None})
                report.add(c.malformed + errors, int(bad.sum()) + c.malformed_rows)
                report.rows_seen += len(c.frame) + c.malformed_rows
                offset += len(c.frame)
        if not report.ok:
            raise InvalidRows(report, source)
    if before_write is not None:
        before_write(symbols)
    results = []
    with store.atomic():
        for i, sym in enumerate(symbols):
            ing = Ingestor(store, session_id, sym, kind, source=source, progress=progress,
                           **options)
            results.append(ing.run(lambda s=sym, first=(i == 0): _only(chunks(), s, first)))
    return results
