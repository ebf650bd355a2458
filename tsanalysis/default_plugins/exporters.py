"""The built-in export formats, registered through the public hook like any plugin.

``csv``      RFC 4180 CSV with a header (Arrow's writer); strings quoted, NULL as an empty
             cell, timestamps ISO 8601 UTC with microseconds (``2026-01-05T14:00:00.000001Z``)
``jsonl``    one JSON object per line (JSON Lines)
``json``     one JSON array of objects, one object per line
``parquet``  Apache Parquet through pyarrow's ``ParquetWriter``, one row group per batch
``zip``      a bundle: one member per table and symbol in an inner format, and a manifest
             (``manifest.json`` or a Frictionless ``datapackage.json``) with the session's
             row, each member's schema, rows, bytes and SHA-256

Doubles are written in their shortest exact form, so reading a file back gives the same
bits. JSON has no NaN or infinity: those (and NULL) are written as ``null``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tsanalysis import hookimpl
from tsanalysis.errors import InvalidInput
from tsanalysis.export import (
    ExportContext,
    ExportedFile,
    Exporter,
    HashingFile,
    TablePart,
    bundle_manifest,
)
from tsanalysis.export.manifest import MANIFEST_FILES, member_path


def iso_text(values: pa.Array) -> pa.Array:
    """UTC timestamps as ``2026-01-05T14:00:00.000001Z``.

    Arrow formats a zoned timestamp through the time-zone database, value by value (15x
    slower); the values are UTC already, so they are formatted as naive ones.
    """
    text = values.cast(pa.timestamp("us")).cast(pa.string())  # 2026-01-05 14:00:00.000001
    return pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "Z", "")


def _iso_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string(), f.nullable)
                      if pa.types.is_timestamp(f.type) else f for f in schema])


def _with_iso_text(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    cols = [iso_text(c) if pa.types.is_timestamp(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


class CsvWriter:
    """CSV through Arrow's streaming writer, timestamps as ISO 8601 text."""

    def __init__(self, fileobj: IO[bytes], schema: pa.Schema, options: Mapping[str, Any]):
        self._schema = _iso_schema(schema)
        self._w = pacsv.CSVWriter(fileobj, self._schema)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._w.write_batch(_with_iso_text(batch, self._schema))

    def close(self) -> None:
        self._w.close()


class _JsonRows:
    """Batches to JSON text, one object per row, rendered by DuckDB (vectorised, with
    correct string escaping and shortest round-trip doubles)."""

    def __init__(self, schema: pa.Schema, before: str = "", after: str = "\n"):
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")  # stdout may carry --json
        self._schema = _iso_schema(schema)  # timestamps arrive as ISO text
        fields = []
        for f in schema:
            q = '"' + f.name.replace('"', '""') + '"'
            if pa.types.is_floating(f.type):
                expr = f"CASE WHEN isfinite({q}) THEN {q} END"
            else:
                expr = q
            fields.append(f"{q} := {expr}")
        # Separators as code points: no quoting of SQL text.
        pre = "".join(f"chr({ord(c)}) || " for c in before)
        post = "".join(f" || chr({ord(c)})" for c in after)
        self._sql = f"SELECT {pre}to_json(struct_pack({', '.join(fields)})){post} AS j FROM _rows"

    def text(self, batch: pa.RecordBatch) -> Iterator[pa.Buffer]:
        """The rows' text as buffers (zero-copy slices of Arrow string data)."""
        self._con.register("_rows", pa.Table.from_batches([_with_iso_text(batch, self._schema)]))
        try:
            out = self._con.sql(self._sql).to_arrow_table().column(0)
        finally:
            self._con.unregister("_rows")
        for chunk in out.chunks:
            if len(chunk) == 0:
                continue
            _, offsets, data = chunk.buffers()
            width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            off = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
            yield data.slice(int(off[0]), int(off[-1] - off[0]))

    def close(self) -> None:
        self._con.close()


class JsonLinesWriter:
    """One JSON object per line."""

    def __init__(self, fileobj: IO[bytes], schema: pa.Schema, options: Mapping[str, Any]):
        self._f = fileobj
        self._rows = _JsonRows(schema)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        for buf in self._rows.text(batch):
            self._f.write(buf)

    def close(self) -> None:
        self._rows.close()

    abort = close


class JsonArrayWriter:
    """One JSON array, one object per line."""

    def __init__(self, fileobj: IO[bytes], schema: pa.Schema, options: Mapping[str, Any]):
        self._f = fileobj
        self._rows = _JsonRows(schema, before=",\n", after="")
        self._first = True
        self._f.write(b"[")

    def write_batch(self, batch: pa.RecordBatch) -> None:
        for buf in self._rows.text(batch):
            if self._first:  # every row is written as ",\n{...}"; the first without comma
                buf = buf.slice(1)
                self._first = False
            self._f.write(buf)

    def close(self) -> None:
        self._f.write(b"\n]\n")
        self._rows.close()

    def abort(self) -> None:
        self._rows.close()


class ParquetBatchWriter:
    """Parquet through pyarrow's ``ParquetWriter`` (option ``compression``)."""

    def __init__(self, fileobj: IO[bytes], schema: pa.Schema, options: Mapping[str, Any]):
        codec = str(options.get("compression") or "snappy").lower()
        if codec not in ("snappy", "zstd", "gzip", "brotli", "lz4", "none"):
            raise InvalidInput(f"parquet compression {codec!r}: one of snappy, zstd, gzip, "
                               "brotli, lz4, none")
        # Dictionaries pay for repeated text (ids, symbols, sides); for prices and times,
        # mostly distinct, building one and falling back costs 4x the time of the write.
        text = [f.name for f in schema if pa.types.is_string(f.type)]
        self._w = pq.ParquetWriter(fileobj, schema, compression=codec, use_dictionary=text)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._w.write_batch(batch)

    def close(self) -> None:
        self._w.close()

    def abort(self) -> None:
        # Closing writes a footer into the temporary file (about to be removed); leaving
        # the writer open would make its finaliser write into a closed file later.
        self._w.close()


def write_zip(fileobj: IO[bytes], parts: Iterator[TablePart], ctx: ExportContext
              ) -> list[ExportedFile]:
    """One member per table and symbol in the inner format, then the manifest."""
    inner = ctx.exporter(str(ctx.options["inner"]))
    if not inner.single_table:
        raise InvalidInput(f"zip: inner format {inner.name!r} is itself a bundle")
    kind = str(ctx.options["manifest"])
    if kind not in MANIFEST_FILES:
        raise InvalidInput(f"zip: manifest {kind!r}: one of {', '.join(MANIFEST_FILES)}")
    # Parquet is compressed already; text compresses well.
    method = zipfile.ZIP_STORED if inner.name == "parquet" else zipfile.ZIP_DEFLATED
    members: list[ExportedFile] = []
    with zipfile.ZipFile(fileobj, "w", compression=method) as zf:
        for part in parts:
            name = member_path(part.table, part.symbol, inner.suffix)
            with zf.open(name, "w", force_zip64=True) as raw:
                member = HashingFile(raw)
                rows = ctx.write_part(inner, member, part)
            members.append(ExportedFile(name, inner.name, rows, member.bytes_written,
                                        member.sha256, part.table, part.symbol, part.schema))
        manifest_name, data = bundle_manifest(kind, ctx, inner, members)
        zf.writestr(manifest_name, data, compress_type=zipfile.ZIP_DEFLATED)
    return members


EXPORTERS = (
    Exporter(name="csv", suffix=".csv", writer=CsvWriter, media_type="text/csv",
             doc="CSV with a header; ISO 8601 UTC timestamps"),
    Exporter(name="jsonl", suffix=".jsonl", writer=JsonLinesWriter,
             media_type="application/jsonl", doc="JSON Lines: one object per row"),
    Exporter(name="json", suffix=".json", writer=JsonArrayWriter,
             media_type="application/json", doc="one JSON array of row objects"),
    Exporter(name="parquet", suffix=".parquet", writer=ParquetBatchWriter,
             media_type="application/vnd.apache.parquet", options={"compression": "snappy"},
             doc="Apache Parquet (option compression: snappy, zstd, ...)"),
    Exporter(name="zip", suffix=".zip", bundle=write_zip, media_type="application/zip",
             options={"inner": "parquet", "manifest": "manifest"},
             doc="bundle of every table and symbol + manifest with checksums "
                 "(options inner=csv|jsonl|json|parquet, manifest=manifest|datapackage)"),
)


@hookimpl
def register_exporters(register: Any) -> None:
    for exporter in EXPORTERS:
        register(exporter)
