"""The Dashboard's tabs: a registry of panel factories.

A tab is a key, a title, an order and a factory that builds a :class:`~._base.Panel`:
``factory(ws, session_id=None, background=None)``, which every Panel class already is. A
factory given as ``"module:attribute"`` is imported only when a Dashboard is built, so
importing the widgets never imports a feature's dependencies.

The Dashboard links every tab's ``session_id`` to its own: selecting a session anywhere
selects it everywhere, and a panel that forgets a deleted session makes them all forget.

Adding a panel to the Dashboard is one line, here for the built-ins or anywhere for your
own (before building the Dashboard)::

    from tsanalysis.widgets import register_tab
    register_tab("my_tab", "Mine", "my_package.panels:MyPanel", order=70)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workspace import Workspace
    from ._base import Panel

PanelFactory = Callable[..., "Panel"]


@dataclass(frozen=True)
class TabSpec:
    """One tab of the Dashboard: ``key`` (stable id), ``title``, ``factory``, ``order``."""

    key: str
    title: str
    factory: str | PanelFactory
    order: int = 50

    def resolve(self) -> PanelFactory:
        """The factory itself (importing ``"module:attribute"`` factories)."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        if not module or not attr:
            raise ValueError(f"tab {self.key!r}: factory {self.factory!r} is not "
                             "'module:attribute'")
        return getattr(importlib.import_module(module), attr)

    def build(self, ws: Workspace, **options: Any) -> Panel:
        """Build the tab's panel on ``ws``."""
        return self.resolve()(ws, **options)


_TABS: dict[str, TabSpec] = {}


def register_tab(key: str, title: str, factory: str | PanelFactory, *, order: int = 50,
                 replace: bool = False) -> TabSpec:
    """Add a tab to every Dashboard built afterwards (ordered by ``order``, then key).

    Raises ``ValueError`` when ``key`` is taken, unless ``replace``.
    """
    if key in _TABS and not replace:
        raise ValueError(f"a Dashboard tab {key!r} is already registered "
                         "(pass replace=True to replace it)")
    spec = TabSpec(key, title, factory, order)
    _TABS[key] = spec
    return spec


def unregister_tab(key: str) -> None:
    """Remove a tab (no error when absent)."""
    _TABS.pop(key, None)


def registered_tabs() -> list[TabSpec]:
    """The registered tabs, in display order."""
    return sorted(_TABS.values(), key=lambda t: (t.order, t.key))


# -- the built-in tabs -------------------------------------------------------------------
# One line per panel. Orders leave room between them (a plugin's tab fits in between).
register_tab("sessions", "Sessions", "tsanalysis.widgets.browser:SessionBrowser", order=10)
register_tab("overview", "Overview", "tsanalysis.widgets.overview:PriceOverview", order=20)
register_tab("quality", "Quality", "tsanalysis.widgets.quality:QualityPanel", order=30)
register_tab("indicators", "Indicators", "tsanalysis.widgets.indicators:IndicatorPanel",
             order=40)
register_tab("backtests", "Backtests", "tsanalysis.widgets.backtest:BacktestPanel", order=50)
register_tab("export", "Export", "tsanalysis.widgets.export:ExportPanel", order=60)
register_tab("migration", "Migrate", "tsanalysis.widgets.migration:MigrationPanel", order=80)
register_tab("delete", "Delete", "tsanalysis.widgets.delete:DeletePanel", order=90)
