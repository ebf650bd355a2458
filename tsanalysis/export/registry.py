"""The export formats registered through the ``register_exporters`` hook.

Built from the plugins on first use and rebuilt after ``plugins.register``,
``plugins.unregister`` or ``plugins.reset`` (through ``plugins.on_reset``).
"""

from __future__ import annotations

import threading

from .. import plugins
from ..errors import InvalidInput
from .api import Exporter

HOOK = "register_exporters"

_lock = threading.RLock()
_registry: dict[str, tuple[str, Exporter]] | None = None


def _forget() -> None:
    global _registry
    with _lock:
        _registry = None


plugins.on_reset(_forget)
plugins.describe_items(HOOK, lambda e: getattr(e, "name", repr(e)))


def _build() -> dict[str, tuple[str, Exporter]]:
    found: dict[str, tuple[str, Exporter]] = {}
    for reg in plugins.collect(HOOK):
        item = reg.item
        if not isinstance(item, Exporter):
            raise InvalidInput(f"plugin {reg.plugin!r} registered {item!r} as an exporter; "
                               "register a tsanalysis.export.Exporter")
        if item.name in found:
            raise InvalidInput(f"export format {item.name!r} is registered by both "
                               f"{found[item.name][0]!r} and {reg.plugin!r}; rename one "
                               "(a namespace such as 'myplugin.name' avoids clashes)")
        found[item.name] = (reg.plugin, item)
    return found


def _registered() -> dict[str, tuple[str, Exporter]]:
    global _registry
    with _lock:
        if _registry is None:
            _registry = _build()
        return _registry


def exporters() -> dict[str, Exporter]:
    """Every registered format by name, built-ins first."""
    return {name: exp for name, (_, exp) in _registered().items()}


def exporter_plugin(name: str) -> str:
    """The plugin that registered a format."""
    get_exporter(name)
    return _registered()[name][0]


def get_exporter(name: str) -> Exporter:
    """A format by name; an unknown name raises ``InvalidInput`` listing the registered ones."""
    found = _registered().get(name)
    if found is None:
        listing = "; ".join(f"{n} ({e.doc})" if e.doc else n for n, e in exporters().items())
        raise InvalidInput(f"unknown export format {name!r}; registered formats: {listing}")
    return found[1]
