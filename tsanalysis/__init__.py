"""tsanalysis: recorded market-data sessions in a time-series store, analysed from Jupyter.

>>> import tsanalysis
>>> ws = tsanalysis.connect()            # the embedded DuckDB file; or a questdb:// URL
>>> info = ws.demo(hours=1)              # a demo session with known defects
>>> ws.ticks(info.session_id, "BTC/USDT").head()

The public API is re-exported here and loaded lazily, so ``import tsanalysis`` is quick.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidInput,
    InvalidRows,
    SessionActive,
    SessionNotFound,
    StoreError,
    StoreLocked,
    StoreUnavailable,
    TsanalysisError,
)
from .hookspecs import hookimpl

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "connect",
    "Workspace",
    "hookimpl",
    "list_plugins",
    "SessionInfo",
    "DeleteResult",
    "IngestResult",
    "TsanalysisError",
    "InvalidInput",
    "InvalidRows",
    "SessionNotFound",
    "SessionActive",
    "StoreError",
    "StoreUnavailable",
    "StoreLocked",
]

_LAZY = {
    "connect": "tsanalysis.workspace",
    "Workspace": "tsanalysis.workspace",
    "SessionInfo": "tsanalysis.sessions",
    "DeleteResult": "tsanalysis.sessions",
    "IngestResult": "tsanalysis.ingest",
    "list_plugins": "tsanalysis.plugins",
}

if TYPE_CHECKING:
    from .ingest import IngestResult
    from .plugins import list_plugins
    from .sessions import DeleteResult, SessionInfo
    from .workspace import Workspace, connect


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tsanalysis' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
