"""Data quality: whole-session checks registered as plugins, a score, a report.

>>> report = ws.quality(session_id)          # every registered check, every symbol
>>> report.score, report.recommendations
>>> report                                   # in a notebook: tables and a picture
>>> report.to_dict()                         # JSON-ready

Checks are :class:`QualityCheck` objects registered through the
``register_quality_checks`` hook (:mod:`tsanalysis.hookspecs`); the built-ins live in
``tsanalysis.default_plugins.quality``. Modules: :mod:`.checks` (the types plugin authors
use), :mod:`.context` (what a check sees), :mod:`.kernels` (rolling kernels for chunked
data), :mod:`.registry`, :mod:`.runner`, :mod:`.score`, :mod:`.report`, :mod:`.plot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checks import SEVERITIES, CheckResult, Finding, Param, QualityCheck
from .context import Cadence, CheckContext, Chunk
from .registry import available_checks

__all__ = [
    "SEVERITIES",
    "Cadence",
    "CheckContext",
    "CheckResult",
    "Chunk",
    "Finding",
    "Param",
    "QualityCheck",
    "QualityReport",
    "SymbolReport",
    "assess",
    "available_checks",
]

if TYPE_CHECKING:
    from .report import QualityReport, SymbolReport
    from .runner import assess

_LAZY = {"QualityReport": ".report", "SymbolReport": ".report", "assess": ".runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tsanalysis.quality' has no attribute {name!r}")
