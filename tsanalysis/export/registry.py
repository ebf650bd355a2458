"""The export formats registered through the ``register_exporters`` hook.

A :class:`tsanalysis.plugins.Registry`: built from the plugins on first use, rebuilt after
``plugins.register``, ``plugins.unregister`` or ``plugins.reset``; a third-party format
whose name is taken (or that is not an :class:`Exporter`) is skipped with a
:class:`~tsanalysis.plugins.PluginWarning`.
"""

from __future__ import annotations

from .. import plugins
from ..errors import InvalidInput
from .api import Exporter

HOOK = "register_exporters"

REGISTRY = plugins.Registry(HOOK, Exporter, what="export format")


def exporters() -> dict[str, Exporter]:
    """Every registered format by name, built-ins first."""
    return REGISTRY.items()


def exporter_plugin(name: str) -> str:
    """The plugin that registered a format."""
    get_exporter(name)
    return REGISTRY.plugin(name) or ""


def get_exporter(name: str) -> Exporter:
    """A format by name; an unknown name raises ``InvalidInput`` listing the registered ones."""
    found = REGISTRY.lookup(name)
    if found is None:
        listing = "; ".join(f"{n} ({e.doc})" if e.doc else n for n, e in exporters().items())
        raise InvalidInput(f"unknown export format {name!r}; registered formats: {listing}")
    return found.item
