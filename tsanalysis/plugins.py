"""The plugin manager: built-ins first, then third-party plugins from entry points.

Loading is lazy: nothing is imported until the first call of :func:`get_plugin_manager`,
so ``import tsanalysis`` stays fast. A third-party plugin that fails to import, or that
implements a hook that does not exist (a misspelling), produces a warning and is skipped:
one broken plugin never breaks the package.

``TSANALYSIS_LOAD_PLUGINS`` controls which third-party plugins load: unset loads every
installed one; a comma-separated list of entry-point or distribution names loads only
those; an empty string loads none (the built-ins always load).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tsanalysis"
ENV_LOAD_PLUGINS = "TSANALYSIS_LOAD_PLUGINS"

#: Modules of the built-in plugins, registered exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "tsanalysis.default_plugins.exporters",
    "tsanalysis.default_plugins.quality",
    "tsanalysis.default_plugins.indicators",
)

_pm: pluggy.PluginManager | None = None
_lock = threading.RLock()


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded and was skipped."""


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        mod = importlib.import_module(name)
        pm.register(mod, name=name)
    pm.check_pending()  # a built-in with a misspelled hook is our bug: fail loudly
    _load_entry_points(pm)
    return pm


def _allowed(ep: md.EntryPoint) -> bool:
    allow = os.environ.get(ENV_LOAD_PLUGINS)
    if allow is None:
        return True
    names = {n.strip() for n in allow.split(",") if n.strip()}
    dist = ep.dist.name if ep.dist is not None else None
    return ep.name in names or (dist is not None and dist in names)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if not _allowed(ep) or pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as e:  # a broken plugin warns and is skipped (as xarray does)
            warnings.warn(f"tsanalysis plugin {ep.name!r} failed to load and was skipped: "
                          f"{type(e).__name__}: {e}", PluginWarning, stacklevel=2)
            continue
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as e:
            pm.unregister(name=ep.name)
            warnings.warn(f"tsanalysis plugin {ep.name!r} implements an unknown hook and was "
                          f"skipped: {e}", PluginWarning, stacklevel=2)
        if pm.has_plugin(ep.name) and ep.dist is not None:
            _DISTS[ep.name] = (ep.dist.name, ep.dist.version)


_DISTS: dict[str, tuple[str, str]] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = _new_manager()
        return _pm


def reset() -> None:
    """Forget loaded plugins (tests; or after installing a plugin in a running kernel)."""
    global _pm
    with _lock:
        _pm = None
        _DISTS.clear()
        for cb in _RESET_CALLBACKS:
            cb()


_RESET_CALLBACKS: list[Callable[[], None]] = []


def on_reset(callback: Callable[[], None]) -> None:
    """Registries built from hooks call this so they are rebuilt after :func:`reset`."""
    _RESET_CALLBACKS.append(callback)


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object at run time (a notebook's own plugin, a test's)."""
    pm = get_plugin_manager()
    plugin_name = pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pm.unregister(plugin)
        raise
    for cb in _RESET_CALLBACKS:
        cb()
    return plugin_name or ""


def unregister(name: str) -> None:
    """Remove a plugin registered with :func:`register`."""
    pm = get_plugin_manager()
    pm.unregister(name=name)
    for cb in _RESET_CALLBACKS:
        cb()


@dataclass
class Registration:
    """One thing a plugin registered through a ``register_*`` hook."""

    plugin: str
    item: Any


def collect(hook_name: str) -> list[Registration]:
    """Call a ``register_*`` hook on every plugin and return what each registered.

    Items keep the plugins' registration order: built-ins first. A third-party plugin
    whose hook raises is skipped as a whole with a :class:`PluginWarning` (an error in a
    built-in is our bug and propagates).
    """
    pm = get_plugin_manager()
    out: list[Registration] = []
    # get_hookimpls() lists implementations in registration order (pluggy *calls* them
    # last-registered first, which is why we call them one by one).
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        items: list[Any] = []
        try:
            impl.function(register=items.append)
        except Exception as e:
            if name in DEFAULT_PLUGINS:
                raise
            warnings.warn(f"tsanalysis plugin {name!r} failed in {hook_name} and was "
                          f"skipped: {type(e).__name__}: {e}", PluginWarning, stacklevel=2)
            continue
        out.extend(Registration(name, item) for item in items)
    return out


@dataclass
class PluginInfo:
    """What ``tsanalysis plugins`` shows for one plugin."""

    name: str
    version: str | None
    hooks: list[str]
    builtin: bool
    registered: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hooks": self.hooks,
                "builtin": self.builtin, "registered": self.registered}


#: hook name -> function giving a registered item's display name
_ITEM_NAMES: dict[str, Callable[[Any], str]] = {}


def describe_items(hook_name: str, namer: Callable[[Any], str]) -> None:
    """Tell :func:`list_plugins` how to name the items a registration hook returns."""
    _ITEM_NAMES[hook_name] = namer


def list_plugins() -> list[PluginInfo]:
    """Every loaded plugin: name, version, hooks, and what each hook registered."""
    from . import __version__

    pm = get_plugin_manager()
    infos: list[PluginInfo] = []
    by_plugin: dict[str, dict[str, list[str]]] = {}
    for spec_name in sorted(n for n in dir(hookspecs) if n.startswith("register_")):
        for reg in collect(spec_name):
            namer = _ITEM_NAMES.get(spec_name, lambda i: str(getattr(i, "name", i)))
            by_plugin.setdefault(reg.plugin, {}).setdefault(spec_name, []).append(namer(reg.item))
    for name, plugin in pm.list_name_plugin():
        builtin = name in DEFAULT_PLUGINS
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        version = __version__ if builtin else (_DISTS.get(name, (None, None))[1])
        infos.append(PluginInfo(name, version, hooks, builtin, by_plugin.get(name, {})))
    return infos
