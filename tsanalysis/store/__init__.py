"""Storage backends behind one contract (:class:`Store`), chosen by URL.

``duckdb:///abs/path/file.duckdb``   the embedded default (a file; nothing to start)
``duckdb:///:memory:``               a throw-away in-memory store
``questdb://user:pass@host:8812/qdb?http_port=9000``   a QuestDB server

A bare path ending in ``.duckdb`` is accepted too. With no URL, ``$TSANALYSIS_DB`` is
used, then the default file (:func:`default_db_path`).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InvalidInput
from .base import Store

__all__ = ["Store", "open_store", "default_db_path", "resolve_url"]

ENV_DB = "TSANALYSIS_DB"


def default_db_path() -> Path:
    """The default DuckDB file: ``$XDG_DATA_HOME/tsanalysis/tsanalysis.duckdb``.

    (``~/.local/share/tsanalysis/tsanalysis.duckdb`` when ``XDG_DATA_HOME`` is unset.)
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tsanalysis" / "tsanalysis.duckdb"


def resolve_url(url: str | os.PathLike[str] | None = None) -> str:
    """The URL to open: the argument, else ``$TSANALYSIS_DB``, else the default file."""
    if url is None:
        url = os.environ.get(ENV_DB) or None
    if url is None:
        return "duckdb:///" + str(default_db_path()).lstrip("/")
    url = os.fspath(url)
    if "://" not in url:
        if url == ":memory:" or url.endswith((".duckdb", ".db")):
            return "duckdb:///" + (url if url == ":memory:" else str(Path(url).resolve()).lstrip("/"))
        raise InvalidInput(f"cannot tell the backend of {url!r}: use duckdb:///path or questdb://host")
    return url


def open_store(url: str | os.PathLike[str] | None = None, **options: object) -> Store:
    """Open the store a URL names (see the module docstring)."""
    resolved = resolve_url(url)
    parts = urlsplit(resolved)
    scheme = parts.scheme.lower()
    if scheme == "duckdb":
        from .duckdb import DuckDBStore

        path = unquote(resolved[len("duckdb://"):])
        if path in ("", "/"):
            raise InvalidInput(f"no file in {resolved!r}: use duckdb:///abs/path/file.duckdb")
        if path == "/:memory:":
            path = ":memory:"
        return DuckDBStore(path, **options)  # type: ignore[arg-type]
    if scheme == "questdb":
        from .questdb import QuestDBStore

        return QuestDBStore.from_url(resolved, **options)
    raise InvalidInput(f"unknown store scheme {parts.scheme!r} in {resolved!r}: "
                       "use duckdb:///path or questdb://host")
