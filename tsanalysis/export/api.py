"""The types an exporter plugin works with.

A **table format** (``csv``, ``parquet``, a plugin's ``tsv``) provides a *writer*: a class
or function called as ``writer(fileobj, schema, options)`` that returns an object with
``write_batch(batch)`` and ``close()`` (and optionally ``abort()``). It receives the rows of
one table as Arrow record batches, in order, and writes them to ``fileobj``, a binary
stream. It never sees a path: the machinery writes to a temporary file and renames it into
place only after ``close()`` returned, so a writer never handles partial files.

A **bundle format** (``zip``) provides ``bundle(fileobj, parts, context)`` instead: it gets
every selected table and symbol as a :class:`TablePart` and writes them as it likes, using
``context.write_part`` to run a table format over one part. It returns an
:class:`ExportedFile` per member.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import pyarrow as pa

from ..errors import InvalidInput
from ..params import Param, as_param
from ..store.base import Progress

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")


@runtime_checkable
class BatchWriter(Protocol):
    """What a table format's writer returns."""

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """Write one batch of rows (batches arrive in order; none is empty)."""

    def close(self) -> None:
        """Finish the file (footers, closing brackets). Called once, after the last batch."""


#: ``writer(fileobj, schema, options)``: ``fileobj`` is a binary stream (``write``,
#: ``tell``, ``flush``), ``schema`` the Arrow schema of every batch to come, ``options``
#: the format's options (defaults merged with what the user gave).
WriterFactory = Callable[[IO[bytes], pa.Schema, Mapping[str, Any]], BatchWriter]


@dataclass(frozen=True)
class Exporter:
    """An export format, registered through the ``register_exporters`` hook.

    Give ``writer`` for a format that holds one table, or ``bundle`` for one that holds
    several tables (an archive); not both.
    """

    #: What ``tsanalysis export --format`` takes: lower case, e.g. ``"csv"``,
    #: ``"myplugin.tsv"``.
    name: str
    #: File name suffix, with the dot: ``".csv"``.
    suffix: str
    writer: WriterFactory | None = None
    bundle: Callable[[IO[bytes], Iterator[TablePart], ExportContext], list[ExportedFile]] \
        | None = None
    #: One line for ``tsanalysis plugins`` and the error listing the formats.
    doc: str = ""
    #: IANA media type of the file (used in Frictionless data packages).
    media_type: str = "application/octet-stream"
    #: The options the format accepts: name -> default, or a
    #: :class:`~tsanalysis.params.Param` (``Param("snappy", "the codec")``) with a doc, bounds
    #: or choices, which forms show. After construction ``options`` holds the defaults and
    #: :attr:`params` the declarations. Values given on the command line
    #: (``--option key=value``) arrive as text.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The options as :class:`~tsanalysis.params.Param` s, by name (set from ``options``).
    params: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise InvalidInput(f"invalid export format name {self.name!r}: lower-case letters, "
                               "digits, '_', '.', '-', starting with a letter")
        if (self.writer is None) == (self.bundle is None):
            raise InvalidInput(f"export format {self.name!r} needs exactly one of writer= "
                               "(one table) or bundle= (several tables)")
        if not self.suffix.startswith("."):
            raise InvalidInput(f"export format {self.name!r}: suffix must start with '.'")
        params = {k: as_param(v) for k, v in self.options.items()}
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "options", {k: p.default for k, p in params.items()})

    @property
    def single_table(self) -> bool:
        """True when the format holds one table (it has a ``writer``)."""
        return self.writer is not None


@dataclass
class TablePart:
    """Rows of one table to export: all selected symbols, or one symbol in a bundle."""

    table: str
    #: The symbols the part holds (one in a bundle).
    symbols: list[str]
    schema: pa.Schema
    #: Rows expected (from the store's statistics; None when a time range makes it unknown).
    expected_rows: int | None
    _batches: Callable[[], Iterator[pa.RecordBatch]] = field(repr=False)

    @property
    def symbol(self) -> str | None:
        """The symbol of a one-symbol part."""
        return self.symbols[0] if len(self.symbols) == 1 else None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Stream the rows (non-empty batches, ordered by symbol, time and ``seq``)."""
        return self._batches()


@dataclass
class ExportedFile:
    """A file written by an export (or a member of a bundle)."""

    #: Path of the file, or of the member inside a bundle.
    path: str
    format: str
    rows: int
    bytes: int
    sha256: str
    table: str | None = None
    symbol: str | None = None
    schema: pa.Schema | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "format": self.format}
        if self.table is not None:
            d["table"] = self.table
        if self.symbol is not None:
            d["symbol"] = self.symbol
        d.update(rows=self.rows, bytes=self.bytes, sha256=self.sha256)
        return d


@dataclass
class ExportContext:
    """What a bundle format gets besides the parts: the session, the options, helpers."""

    #: The session's row, JSON-ready (timestamps as ISO text, ``metadata`` as an object).
    session: dict[str, Any]
    options: Mapping[str, Any]
    #: The scope as asked: tables, symbols, start, end, columns.
    scope: dict[str, Any]
    _lookup: Callable[[str], Exporter] = field(repr=False)
    _write: Callable[[Exporter, IO[bytes], TablePart], int] = field(repr=False)

    def exporter(self, name: str) -> Exporter:
        """A registered format by name (raises ``InvalidInput`` listing the formats)."""
        return self._lookup(name)

    def write_part(self, exporter: Exporter, fileobj: IO[bytes], part: TablePart) -> int:
        """Write ``part`` to ``fileobj`` with a table format; return the rows written."""
        return self._write(exporter, fileobj, part)


@dataclass
class ExportResult:
    """What an export wrote."""

    session_id: str
    format: str
    path: Path
    rows: int
    bytes: int
    sha256: str
    tables: list[str]
    symbols: list[str]
    #: The members of a bundle (empty for a one-table format).
    members: list[ExportedFile] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def files(self) -> list[ExportedFile]:
        """The files written (one: exports are single files; bundles list their members)."""
        return [ExportedFile(str(self.path), self.format, self.rows, self.bytes, self.sha256,
                             self.tables[0] if len(self.tables) == 1 else None)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the shape of ``tsanalysis export --json``."""
        files = []
        for f in self.files:
            d = f.to_dict()
            d["tables"] = self.tables
            if self.members:
                d["members"] = [m.to_dict() for m in self.members]
            files.append(d)
        return {"session_id": self.session_id, "format": self.format, "files": files,
                "rows": self.rows, "bytes": self.bytes, "symbols": self.symbols,
                "elapsed_s": round(self.elapsed_s, 3)}


def parse_options(exporter: Exporter, given: Mapping[str, Any] | Sequence[str] | None
                  ) -> dict[str, Any]:
    """Merge user options (a mapping, or ``key=value`` texts) over the format's defaults."""
    if given is None:
        pairs: dict[str, Any] = {}
    elif isinstance(given, Mapping):
        pairs = dict(given)
    else:
        pairs = {}
        for item in given:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(f"option {item!r}: write it as key=value")
            pairs[key.strip()] = value.strip()
    unknown = sorted(set(pairs) - set(exporter.options))
    if unknown:
        known = ", ".join(f"{k} (default {v!r})" for k, v in exporter.options.items())
        raise InvalidInput(f"format {exporter.name!r} has no option {unknown[0]!r}; "
                           f"options: {known or 'none'}")
    return {**exporter.options, **pairs}


ProgressArg = Progress | bool | None
