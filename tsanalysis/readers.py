"""Reading input files in bounded chunks: CSV through Arrow's streaming reader, Parquet,
JSON Lines and JSON arrays through DuckDB's streaming ``read_json``.

Memory stays bounded by the chunk size whatever the file's size. CSV cells are read as
text and typed by :mod:`tsanalysis.ingest`, so a bad cell becomes a row error with its
line number instead of a failed read; rows with the wrong number of fields are reported
the same way.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import SHOWN_CHARS, InvalidInput, RowError
from .ingest import Chunk

FORMATS = ("csv", "parquet", "jsonl", "json")
#: A CSV header line longer than this is refused (a file without line ends, or not CSV).
MAX_HEADER_BYTES = 1 << 20
#: Malformed CSV rows whose text is kept for the report (the rest are counted).
KEPT_MALFORMED = 100
_UNKNOWN_LINE = 1 << 62  # Arrow gave no line number: attributed at the end of the file

_COMPRESSED = ("", ".gz", ".zst")


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format from the file name: ``.csv`` (``.csv.gz``, ...), ``.parquet``,
    ``.jsonl`` / ``.ndjson`` (JSON Lines) or ``.json`` (an array, or JSON Lines)."""
    name = str(path).lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".txt", ".tsv")):
        return "csv"
    if name.endswith(tuple(e + z for e in (".jsonl", ".ndjson") for z in _COMPRESSED)):
        return "jsonl"
    if name.endswith(tuple(".json" + z for z in _COMPRESSED)):
        return "json"
    raise InvalidInput(f"cannot tell the format of {path}: name it .csv, .parquet, .jsonl "
                       "or .json")


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}")
    return p


def iter_csv(path: str | os.PathLike[str], block_bytes: int = 8 << 20,
             delimiter: str | None = None, newlines_in_values: bool = False,
             batch_rows: int | None = None) -> Iterator[Chunk]:
    """Yield the rows of a CSV file (with a header line) in chunks of about ``block_bytes``.

    ``batch_rows`` asks for chunks of about that many rows instead (the block size is
    estimated from the length of the file's first lines), which bounds memory by rows.
    Every cell is text. Line numbers count the header as line 1 and assume one row per line
    (with ``newlines_in_values``, quoted cells may span lines and line numbers are
    approximate).
    """
    p = _check_file(path)
    if batch_rows is not None:
        block_bytes = _block_for_rows(p, batch_rows)
    if delimiter is None:
        delimiter = "\t" if p.name.lower().endswith(".tsv") else ","
    # Every malformed row's line number (8 bytes each), but the text of the first few
    # only: a report shows those, and a file of a million bad rows must stay small.
    bad_lines = array("q")
    kept: dict[int, tuple[str, int, int]] = {}

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = row.number if row.number is not None else _UNKNOWN_LINE
        bad_lines.append(line)
        if len(kept) < KEPT_MALFORMED:
            kept[line] = (row.text[:SHOWN_CHARS], row.expected_columns, row.actual_columns)
        return "skip"

    header = csv_header(p, delimiter)
    if header is None:
        return
    with pa.input_stream(str(p), compression="detect") as stream, _csv_errors(p):
        reader = pacsv.open_csv(
            stream,
            # Single-threaded: Arrow then reports the line number of malformed rows.
            read_options=pacsv.ReadOptions(block_size=block_bytes, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        next_line = 2  # line 1 is the header
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                batch = None
            n = batch.num_rows if batch is not None else 0
            # Arrow may parse ahead of the batch it returns: attribute malformed rows by
            # their line numbers (ascending), which extend the batch's span one line each:
            # the j-th pending one belongs to this batch while line_j - j < next_line + n.
            pending = np.array(bad_lines, dtype=np.int64)  # a copy: bad_lines shrinks below
            k = len(pending) if batch is None else int(np.searchsorted(
                pending - np.arange(len(pending)), next_line + n, side="left"))
            mine = pending[:k]
            del bad_lines[:k]
            if batch is None and not k:
                return
            end = next_line + n + k
            span = np.arange(next_line, end, dtype="int64")
            lines = span[~np.isin(span, mine)][:n]
            errors = []
            for ln in mine[:KEPT_MALFORMED].tolist():
                if ln in kept:
                    text, exp, got = kept.pop(ln)
                    line = None if ln == _UNKNOWN_LINE else ln
                    errors.append(RowError(row=(line or 0) - 2, column="*", value=text,
                                           reason=f"expected {exp} fields, found {got}",
                                           line=line))
            next_line = end
            frame = batch.to_pandas() if batch is not None else pa.table(
                {h: pa.array([], pa.string()) for h in header}).to_pandas()
            yield Chunk(frame=frame, lines=lines, malformed=errors,
                        malformed_more=k - len(errors))
            if batch is None:
                return


@contextmanager
def _csv_errors(p: Path) -> Iterator[list[BaseException]]:
    """Arrow's CSV errors as one line naming the file (and the line, where Arrow says).

    A malformed row that is not UTF-8 makes pyarrow fail before it calls our row handler,
    and it reports that failure through ``sys.unraisablehook`` ("Exception ignored in
    ..."), then stops with an ArrowInvalid. Such reports are collected here instead of
    printed, and the error names the problem.
    """
    seen: list[BaseException] = []
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            seen.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield seen
    except pa.ArrowInvalid as e:
        text = str(e)
        m = re.search(r"Row #(\d+)", text)
        where = f"line {m.group(1)}: " if m else ""
        if "invalid UTF8" in text or seen:
            raise InvalidInput(f"{p}: {where}text that is not UTF-8 (save the file as UTF-8)"
                               ) from None
        if "straddling" in text or "block" in text.lower():
            raise InvalidInput(f"{p}: {where}a line longer than the reader's block "
                               f"({text.splitlines()[0][:200]})") from None
        raise InvalidInput(f"{p}: {where}cannot parse CSV: {text.splitlines()[0][:200]}"
                           ) from None
    finally:
        sys.unraisablehook = previous
    if seen:
        raise InvalidInput(f"{p}: text that is not UTF-8 (save the file as UTF-8)")


def _block_for_rows(p: Path, rows: int) -> int:
    """Bytes of CSV holding about ``rows`` rows, judged from the first 1 MiB of the file."""
    if rows < 1:
        raise InvalidInput(f"batch size must be at least 1 row, not {rows}")
    with pa.input_stream(str(p), compression="detect") as stream:
        sample = stream.read(1 << 20)
    lines = sample.split(b"\n")[1:-1] or [sample]  # whole lines after the header
    per_row = max(1.0, sum(map(len, lines)) / len(lines) + 1)
    longest = max(map(len, lines)) + 1
    # Arrow needs a row to fit in a block: keep a margin over the longest line seen.
    return max(int(rows * per_row), 16 * longest)


def csv_header(path: str | os.PathLike[str], delimiter: str = ",") -> list[str] | None:
    """The column names of a CSV file's header line (None for an empty file)."""
    p = Path(path)
    pieces: list[bytes] = []
    size = 0
    with pa.input_stream(str(p), compression="detect") as stream:
        while True:
            piece = stream.read(1 << 16)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
            if b"\n" in piece:
                break
            if size > MAX_HEADER_BYTES:
                raise InvalidInput(f"{p}: no end of the header line in its first "
                                   f"{MAX_HEADER_BYTES >> 20} MiB: is this a CSV file?")
    first = b"".join(pieces).split(b"\n", 1)[0]
    if not first.strip():
        return None
    try:
        names = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")],
                                delimiter=delimiter))
    except UnicodeDecodeError:
        raise InvalidInput(f"{p}: line 1: text that is not UTF-8 (save the file as UTF-8)"
                           ) from None
    except csv.Error as e:
        raise InvalidInput(f"{p}: cannot read the CSV header: {e}") from None
    if len(set(names)) != len(names) or not all(n.strip() for n in names):
        raise InvalidInput(f"{p}: the header needs distinct, non-empty column names: {names}")
    return names


def iter_parquet(path: str | os.PathLike[str], batch_rows: int = 1_000_000) -> Iterator[Chunk]:
    """Yield the rows of a Parquet file in batches of ``batch_rows``."""
    p = _check_file(path)
    try:
        f = pq.ParquetFile(str(p))
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{p}: not a readable Parquet file: {e}") from None
    for batch in f.iter_batches(batch_size=batch_rows):
        yield Chunk(frame=batch.to_pandas())


def iter_json(path: str | os.PathLike[str], fmt: str = "json",
              batch_rows: int = 262_144) -> Iterator[Chunk]:
    """Yield the objects of a JSON Lines file (``jsonl``) or of a JSON array (``json``,
    which also accepts JSON Lines) as rows of text, in batches of ``batch_rows``.

    DuckDB's ``read_json`` parses the file in a stream; each key becomes a column and each
    value its JSON text (a string without its quotes; ``null`` is empty).
    """
    p = _check_file(path)
    layout = {"jsonl": "newline_delimited", "json": "auto"}.get(fmt)
    if layout is None:
        raise InvalidInput(f"unknown JSON format {fmt!r}: jsonl or json")
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # stdout may carry --json
        try:
            names = [r[0] for r in con.execute(
                "DESCRIBE SELECT * FROM read_json(?, format = ?)", [str(p), layout]).fetchall()]
        except duckdb.Error as e:
            raise InvalidInput(f"{p}: cannot read JSON: {_first_line(e)}") from None
        if not names:
            return
        if len(set(names)) != len(names):
            raise InvalidInput(f"{p}: repeated keys in the JSON objects: {names}")
        as_text = "{" + ", ".join(
            "'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names) + "}"
        try:
            reader = con.sql(f"SELECT * FROM read_json(?, format = ?, columns = {as_text})",
                             params=[str(p), layout]).to_arrow_reader(batch_rows)
            for batch in reader:
                yield Chunk(frame=batch.to_pandas())
        except duckdb.Error as e:
            raise InvalidInput(f"{p}: cannot read JSON: {_first_line(e)}") from None
    finally:
        con.close()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def iter_file(path: str | os.PathLike[str], fmt: str | None = None) -> Iterator[Chunk]:
    """Chunks of a CSV, Parquet or JSON file (format from the name unless given)."""
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return iter_csv(path)
    if fmt == "parquet":
        return iter_parquet(path)
    if fmt in ("jsonl", "json"):
        return iter_json(path, fmt)
    raise InvalidInput(f"unknown file format {fmt!r}: one of {', '.join(FORMATS)}")


def count_rows(path: str | os.PathLike[str], fmt: str | None = None) -> int | None:
    """Data rows in the file when cheap to know (Parquet metadata), else None."""
    fmt = fmt or detect_format(path)
    if fmt == "parquet":
        return pq.ParquetFile(str(_check_file(path))).metadata.num_rows
    return None
