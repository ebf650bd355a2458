"""Export sessions to files, and import them back.

>>> ws.export(sid, "parquet", "ticks.parquet")                     # one table, every symbol
>>> ws.export(sid, "zip", "session.zip", options={"inner": "csv"})  # every table + manifest
>>> ws.import_bundle("session.zip", session_id="copy")              # the same data back

Formats are plugins registered through the ``register_exporters`` hook
(:func:`tsanalysis.hookspecs.register_exporters`); the built-ins are ``csv``, ``jsonl``,
``json``, ``parquet`` and ``zip`` (``tsanalysis/default_plugins/exporters.py``). Module map:

``api``       the types a plugin uses: :class:`Exporter`, :class:`BatchWriter`,
              :class:`TablePart`, :class:`ExportContext`, :class:`ExportedFile`
``atomic``    temporary file beside the destination, fsync, rename; SHA-256 on the way
``registry``  the registered formats
``runner``    scope, streaming from the store, progress: :func:`export_session`
``manifest``  a bundle's ``manifest.json`` / ``datapackage.json``
``bundle``    importing a bundle: :func:`import_bundle`
"""

from __future__ import annotations

from .api import (
    BatchWriter,
    ExportContext,
    ExportedFile,
    Exporter,
    ExportResult,
    TablePart,
    WriterFactory,
)
from .atomic import HashingFile, atomic_file
from .bundle import BundleImportResult, import_bundle
from .registry import exporters, get_exporter
from .runner import bundle_manifest, export_session, write_part

__all__ = [
    "Exporter",
    "BatchWriter",
    "WriterFactory",
    "TablePart",
    "ExportContext",
    "ExportedFile",
    "ExportResult",
    "HashingFile",
    "atomic_file",
    "exporters",
    "get_exporter",
    "export_session",
    "write_part",
    "bundle_manifest",
    "import_bundle",
    "BundleImportResult",
]
