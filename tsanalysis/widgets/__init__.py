"""ipywidgets panels over a workspace, for JupyterLab.

>>> from tsanalysis.widgets import Dashboard
>>> Dashboard(ws, session_id=sid)          # the last expression of a cell shows it

Panels: :class:`SessionBrowser`, :class:`PriceOverview`, :class:`QualityPanel`,
:class:`IndicatorPanel`, :class:`BacktestPanel`, :class:`ExportPanel`,
:class:`MigrationPanel`, :class:`DeletePanel`, and the :class:`Dashboard` that puts every
registered panel in tabs (:mod:`.tabs`). Each is an ``ipywidgets.VBox`` built on
:class:`Panel` (:mod:`._base`). The core never imports this package; it imports the core.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "Panel",
    "ProgressBar",
    "Cancelled",
    "SessionBrowser",
    "PriceOverview",
    "DeletePanel",
    "QualityPanel",
    "IndicatorPanel",
    "BacktestPanel",
    "ExportPanel",
    "MigrationPanel",
    "Dashboard",
    "TabSpec",
    "register_tab",
    "unregister_tab",
    "registered_tabs",
]

# Loaded on first use, so that importing one panel does not import the others (nor
# matplotlib).
_LAZY = {
    "Panel": "._base",
    "ProgressBar": "._base",
    "Cancelled": "._base",
    "SessionBrowser": ".browser",
    "PriceOverview": ".overview",
    "DeletePanel": ".delete",
    "QualityPanel": ".quality",
    "IndicatorPanel": ".indicators",
    "BacktestPanel": ".backtest",
    "ExportPanel": ".export",
    "MigrationPanel": ".migration",
    "Dashboard": ".dashboard",
    "TabSpec": ".tabs",
    "register_tab": ".tabs",
    "unregister_tab": ".tabs",
    "registered_tabs": ".tabs",
}

if TYPE_CHECKING:
    from ._base import Cancelled, Panel, ProgressBar
    from .backtest import BacktestPanel
    from .browser import SessionBrowser
    from .dashboard import Dashboard
    from .delete import DeletePanel
    from .export import ExportPanel
    from .indicators import IndicatorPanel
    from .migration import MigrationPanel
    from .overview import PriceOverview
    from .quality import QualityPanel
    from .tabs import TabSpec, register_tab, registered_tabs, unregister_tab


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tsanalysis.widgets' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
