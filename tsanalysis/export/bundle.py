"""Import a bundle written by the ``zip`` exporter: the session row and every table.

The manifest (``manifest.json`` or ``datapackage.json``) names each member's table,
symbol, format, rows and SHA-256. Each member is extracted to a temporary file while its
checksum is computed, refused if it does not match, then read by :mod:`tsanalysis.readers`
and validated like any input: tick, quote and bar tables through :class:`Ingestor`, the
tables without an ingestion kind (indicators, backtests) through
:func:`~tsanalysis.ingest.prepare_table`; rows reach the store only through
``Store.write``. The ``seq`` column of the members keeps trades that share a timestamp in
their order.

All or nothing: on a transactional store (DuckDB) everything is one transaction; on
others the new session is deleted again if anything fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import readers, schema
from ..errors import InvalidInput, InvalidRows, ValidationReport
from ..ids import check_session_id, check_symbol
from ..ingest import Ingestor, prepare_table
from ..store.base import Progress, Store
from . import manifest
from .runner import BUNDLE_TABLES

log = logging.getLogger(__name__)

_KIND_OF = {t.name: kind for kind, t in schema.KIND_TABLES.items()}


@dataclass
class BundleImportResult:
    """What a bundle import restored."""

    session_id: str
    #: The session id recorded in the bundle.
    source_session_id: str | None
    path: str
    #: Rows written per child table (tables absent from the bundle are 0).
    rows: dict[str, int] = field(default_factory=dict)
    members: int = 0
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "source_session_id": self.source_session_id,
                "path": self.path, "rows": dict(self.rows), "total": self.total,
                "members": self.members, "elapsed_s": round(self.elapsed_s, 3)}


def read_manifest(zf: zipfile.ZipFile) -> manifest.Manifest:
    """The bundle's manifest (``manifest.json`` preferred over ``datapackage.json``)."""
    names = set(zf.namelist())
    for name in manifest.MANIFEST_FILES.values():
        if name in names:
            return manifest.parse(name, zf.read(name))
    raise InvalidInput(f"{zf.filename}: no {' or '.join(manifest.MANIFEST_FILES.values())} "
                       "in the archive; not a tsanalysis bundle")


def _check_members(m: manifest.Manifest, names: set[str]) -> list[manifest.Member]:
    seen: set[tuple[str, str]] = set()
    for mem in m.members:
        if mem.table not in BUNDLE_TABLES:
            raise InvalidInput(f"bundle member {mem.path}: unknown table {mem.table!r}")
        check_symbol(mem.symbol)
        if mem.format not in readers.FORMATS:
            raise InvalidInput(f"bundle member {mem.path}: format {mem.format!r} cannot be "
                               f"imported (readable: {', '.join(readers.FORMATS)})")
        if mem.path not in names:
            raise InvalidInput(f"bundle member {mem.path} is listed in the manifest but "
                               "missing from the archive")
        if (mem.table, mem.symbol) in seen:
            raise InvalidInput(f"bundle lists {mem.table} for {mem.symbol} twice")
        seen.add((mem.table, mem.symbol))
    return sorted(m.members, key=lambda x: (BUNDLE_TABLES.index(x.table), x.symbol))


#: A member may expand at most this many times its compressed size (real CSV and Parquet
#: stay far below; an archive of zeros reaches ~1000x).
MAX_EXPANSION = 200
#: The bytes all members of one bundle may hold together, uncompressed.
MAX_BUNDLE_BYTES = int(os.environ.get("TSANALYSIS_MAX_BUNDLE_BYTES", 64 << 30))


def _check_sizes(zf: zipfile.ZipFile, members: list[manifest.Member], directory: str) -> None:
    """Refuse, before anything is extracted, a bundle whose members would expand beyond
    reason or beyond what the manifest and the disk allow."""
    total = sum(mem.bytes for mem in members)
    if total > MAX_BUNDLE_BYTES:
        raise InvalidInput(f"{zf.filename}: the manifest lists {total:,} bytes, over the "
                           f"limit of {MAX_BUNDLE_BYTES:,} (TSANALYSIS_MAX_BUNDLE_BYTES)")
    for mem in members:
        info = zf.getinfo(mem.path)
        if info.file_size != mem.bytes:
            raise InvalidInput(f"bundle member {mem.path} does not match its manifest (the "
                               f"archive says {info.file_size:,} bytes, the manifest "
                               f"{mem.bytes:,}): the bundle is damaged or was modified")
        if info.file_size > MAX_EXPANSION * max(info.compress_size, 1) and \
                info.file_size > 1 << 20:
            raise InvalidInput(f"bundle member {mem.path} expands {info.file_size:,} bytes "
                               f"from {info.compress_size:,}: refused (more than "
                               f"{MAX_EXPANSION}x)")
    largest = max((mem.bytes for mem in members), default=0)
    free = shutil.disk_usage(directory).free
    if largest > free:
        raise InvalidInput(f"{zf.filename}: member of {largest:,} bytes, but only {free:,} "
                           f"bytes free in {directory}")


def _extract(zf: zipfile.ZipFile, mem: manifest.Member, directory: str) -> Path:
    """Copy a member out, checking its size and SHA-256 against the manifest; stop at the
    first byte beyond the size the manifest gives."""
    target = Path(directory) / f"member.{mem.format}"
    sha = hashlib.sha256()
    size = 0
    try:
        with zf.open(mem.path) as src, open(target, "wb") as dst:
            while block := src.read(1 << 20):
                size += len(block)
                if size > mem.bytes:
                    break
                sha.update(block)
                dst.write(block)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise InvalidInput(f"bundle member {mem.path} is damaged: {e}") from None
    if size != mem.bytes or sha.hexdigest() != mem.sha256:
        raise InvalidInput(f"bundle member {mem.path} does not match its manifest "
                           f"({size} bytes, sha256 {sha.hexdigest()[:12]}...; expected "
                           f"{mem.bytes} bytes, {mem.sha256[:12]}...): the bundle is damaged "
                           "or was modified")
    return target


def _chunks(path: Path, fmt: str) -> Callable[[], Iterator[Any]]:
    if fmt == "csv":  # our CSV quotes text that holds newlines (JSON in backtest metrics)
        return lambda: readers.iter_csv(path, newlines_in_values=True)
    return lambda: readers.iter_file(path, fmt)


def _load_table(store: Store, session_id: str, mem: manifest.Member, path: Path,
                source: str, progress: Progress | None) -> int:
    """Validate and write the rows of a table that has no ingestion kind."""
    report = ValidationReport()

    def typed_batches() -> Iterator[pd.DataFrame]:
        offset = 0
        for chunk in _chunks(path, mem.format)():
            typed, bad, errors = prepare_table(chunk.frame, mem.table, session_id, mem.symbol,
                                               row_offset=offset, lines=chunk.lines,
                                               max_errors=report.max_errors)
            report.rows_seen += len(chunk.frame) + chunk.malformed_rows
            report.add(sorted(chunk.malformed + errors, key=lambda e: (e.line or 0, e.row)),
                       int(bad.sum()) + chunk.malformed_rows)
            offset += len(chunk.frame)
            if report.ok:
                yield typed
            if progress:
                progress(offset, mem.rows)
        if not report.ok:
            raise InvalidRows(report, source)

    return store.write_batches(mem.table, typed_batches(), "append")


def import_bundle(store: Store, path: str | os.PathLike[str], session_id: str | None = None,
                  *, progress: Progress | None = None,
                  on_created: Callable[[str], None] | None = None) -> BundleImportResult:
    """Restore a session from a bundle: its row and every member's rows.

    ``session_id`` imports under a new id (default: the id in the bundle). An existing
    session with that id is refused; so is a bundle whose members do not match the
    checksums of its manifest. Invalid rows raise :class:`~tsanalysis.errors.InvalidRows`.
    Nothing is left behind when anything fails.
    """
    began = time.perf_counter()
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidInput(f"{p} is not a readable zip archive: {e}") from None
    with zf:
        m = read_manifest(zf)
        members = _check_members(m, set(zf.namelist()))
        source_id = m.session.get("session_id")
        target = check_session_id(session_id or source_id)
        if not store.session_rows(target).empty:
            raise InvalidInput(f"session {target!r} already exists; import under another id "
                               "(--session NEW_ID)")
        record = manifest.session_row(m.session, target)
        total = sum(mem.rows for mem in members)
        result = BundleImportResult(target, source_id, str(p),
                                    {name: 0 for name in BUNDLE_TABLES}, len(members))
        done = 0

        def tick(base: int) -> Progress | None:
            if progress is None:
                return None
            return lambda d, _t: progress(base + d, total)

        created = False
        try:
            with tempfile.TemporaryDirectory(prefix="tsanalysis-import-") as tmp, \
                    store.atomic():
                _check_sizes(zf, members, tmp)
                store.insert_session(record)
                created = True
                for mem in members:
                    local = _extract(zf, mem, tmp)
                    source = f"{p.name}:{mem.path}"
                    kind = _KIND_OF.get(mem.table)
                    if kind is not None:
                        ing = Ingestor(store, target, mem.symbol, kind, source=source,
                                       progress=tick(done))
                        n = ing.run(_chunks(local, mem.format), total_rows=mem.rows).rows_written
                    else:
                        n = _load_table(store, target, mem, local, source, tick(done))
                    if n != mem.rows:
                        raise InvalidInput(f"bundle member {mem.path}: {n} rows read, the "
                                           f"manifest says {mem.rows}")
                    result.rows[mem.table] += n
                    done += n
                    local.unlink()
        except BaseException:
            if created and not store.transactional:
                _discard(store, target)
            raise
    if on_created:
        on_created(target)
    result.elapsed_s = time.perf_counter() - began
    log.info("imported bundle %s as session %s: %d rows", p, target, result.total)
    return result


def _discard(store: Store, session_id: str) -> None:
    """Remove a partly imported session (stores without transactions)."""
    try:
        if not store.session_rows(session_id).empty:
            store.delete_session(session_id)
    except Exception:  # the import's own error is the one to report
        log.exception("could not remove the partly imported session %s", session_id)
