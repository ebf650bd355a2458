"""Export sessions to files, and import them back.

>>> ws.export.run(sid, "parquet", "ticks.parquet")                    # one table, all symbols
>>> ws.export.run(sid, "zip", "session.zip", options={"inner": "csv"})  # every table
>>> ws.import_bundle("session.zip", session_id="copy")                 # the same data back

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

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..deprecation import deprecated
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
from .registry import REGISTRY, exporters, get_exporter
from .runner import bundle_manifest, export_session, write_part

if TYPE_CHECKING:
    import pandas as pd

    from ..store.base import Progress
    from ..workspace import Workspace

__all__ = [
    "Export",
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


class Export:
    """``ws.export``: write a workspace's sessions to files, list the formats."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def run(self, session_id: str, format: str, out: str | os.PathLike[str], *,
            symbols: str | Sequence[str] | None = None,
            tables: str | Sequence[str] | None = None, start: Any = None, end: Any = None,
            columns: str | Sequence[str] | None = None, overwrite: bool = False,
            options: Any = None, progress: Progress | bool | None = None) -> ExportResult:
        """Export a session to one file: ``csv``, ``jsonl``, ``json``, ``parquet`` (one
        table, ``tick_prices`` by default), ``zip`` (every table, with a manifest), or a
        plugin's format. Streamed and atomic; see :func:`export_session`.
        ``progress=True`` shows a bar.
        """
        return export_session(self._ws.store, session_id, format, out, symbols=symbols,
                              tables=tables, start=start, end=end, columns=columns,
                              overwrite=overwrite, options=options, progress=progress)

    def catalog(self) -> pd.DataFrame:
        """Every registered format: name, plugin, file suffix, options (name=default), doc."""
        from ..params import signature

        return REGISTRY.catalog(lambda e: {"suffix": e.suffix,
                                           "options": signature(e.params)})

    def __call__(self, session_id: str, format: str, out: str | os.PathLike[str],
                 **kwargs: Any) -> ExportResult:
        deprecated("ws.export(...)", "ws.export.run(...)")
        return self.run(session_id, format, out, **kwargs)

    def __repr__(self) -> str:
        return f"<Export of {self._ws!r}: {len(exporters())} formats>"
