"""Data quality: whole-session checks registered as plugins, a score, a report.

>>> report = ws.quality.run(session_id)      # every registered check, every symbol
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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..deprecation import deprecated
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
    "Quality",
    "QualityCheck",
    "QualityReport",
    "SymbolReport",
    "assess",
    "available_checks",
]

if TYPE_CHECKING:
    from ..store.base import Progress
    from ..workspace import Workspace
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


class Quality:
    """``ws.quality``: assess the quality of a workspace's sessions, list the checks."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def run(self, session_id: str, symbols: str | Sequence[str] | None = None, *,
            checks: str | Sequence[str] | None = None,
            params: dict[str, dict[str, Any]] | None = None, gap_threshold: Any = None,
            progress: Progress | None = None, **options: Any) -> QualityReport:
        """Assess a whole session: every registered check on every symbol.

        Returns a :class:`~tsanalysis.quality.QualityReport` (a 0-100 score, metrics,
        findings, recommendations; HTML with a picture in a notebook). ``checks`` narrows
        to some checks, ``params`` overrides their parameters (``{"prices": {"n_sigmas":
        6}}``), ``gap_threshold`` (``"30s"``) replaces the cadence-derived one; ``options``
        go to :func:`tsanalysis.quality.assess` (``chunk_rows``, ``max_findings``).
        """
        from .runner import assess

        info = self._ws.sessions.get(session_id)
        return assess(self._ws.store, info, symbols=symbols, checks=checks, params=params,
                      gap_threshold=gap_threshold, progress=progress, **options)

    def catalog(self) -> Any:
        """Every registered check: name, plugin, tables, parameters (name=default), doc."""
        from ..params import signature
        from .registry import REGISTRY

        return REGISTRY.catalog(lambda c: {"tables": ", ".join(c.tables),
                                           "params": signature(c.params)})

    def __call__(self, session_id: str, *args: Any, **kwargs: Any) -> QualityReport:
        deprecated("ws.quality(...)", "ws.quality.run(...)")
        return self.run(session_id, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<Quality of {self._ws!r}: {len(available_checks())} checks>"
