"""The plugin manager: built-ins first, then third-party plugins from entry points.

Loading is lazy: nothing is imported until the first call of :func:`get_plugin_manager`,
so ``import tsanalysis`` stays fast. A third-party plugin that fails to import, or that
implements a hook that does not exist (a misspelling), produces a warning and is skipped:
one broken plugin never breaks the package.

``TSANALYSIS_LOAD_PLUGINS`` controls which third-party plugins load: unset loads every
installed one; a comma-separated list of entry-point or distribution names loads only
those; an empty string loads none (the built-ins always load).

What plugins register through a ``register_*`` hook lands in a :class:`Registry` (one per
hook: indicators, quality checks, export formats). A registry keeps one item per name; an
item of the wrong type, or with a name already taken, is skipped with a
:class:`PluginWarning` naming both plugins, and listed by :func:`list_plugins` (and
``tsanalysis plugins``) with the reason. The first registration of a name wins: built-ins,
then third-party entry-point plugins in the order of their entry-point names, then plugins
registered at run time (:func:`register`) in the order registered. A built-in that clashes
or registers the wrong type is our bug and raises.
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
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import TsanalysisError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tsanalysis"
ENV_LOAD_PLUGINS = "TSANALYSIS_LOAD_PLUGINS"

#: Modules of the built-in plugins, registered exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "tsanalysis.default_plugins.exporters",
    "tsanalysis.default_plugins.quality",
    "tsanalysis.default_plugins.indicators",
    "tsanalysis.default_plugins.strategies",
)

_pm: pluggy.PluginManager | None = None
_lock = threading.RLock()


class PluginWarning(UserWarning):
    """A third-party plugin, or one thing it registered, could not be used and was skipped."""


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
    # sorted by name: which of two clashing plugins wins must not depend on the file system
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
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


def collect(hook_name: str, skipped: list[Skipped] | None = None) -> list[Registration]:
    """Call a ``register_*`` hook on every plugin and return what each registered.

    Items keep the plugins' registration order: built-ins first. A third-party plugin
    whose hook raises is skipped as a whole with a :class:`PluginWarning` (an error in a
    built-in is our bug and propagates), and recorded in ``skipped`` when it is given.
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
            if is_builtin(name):
                raise
            reason = f"failed in {hook_name}: {type(e).__name__}: {e}"
            warnings.warn(f"tsanalysis plugin {name!r} {reason} (the plugin's {hook_name} "
                          "was skipped)", PluginWarning, stacklevel=2)
            if skipped is not None:
                skipped.append(Skipped(hook_name, name, "*", reason))
            continue
        out.extend(Registration(name, item) for item in items)
    return out


@dataclass(frozen=True)
class Skipped:
    """Something a plugin registered that was left out, and why.

    ``name`` is the item's name (``"*"`` when the plugin's whole hook failed).
    """

    hook: str
    plugin: str
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready: hook, plugin, name, reason."""
        return {"hook": self.hook, "plugin": self.plugin, "name": self.name,
                "reason": self.reason}


class PluginConflict(TsanalysisError):
    """Two built-in plugins registered the same name (a bug in tsanalysis itself)."""


def is_builtin(plugin: str) -> bool:
    """True for the plugins tsanalysis ships (:data:`DEFAULT_PLUGINS`)."""
    return plugin in DEFAULT_PLUGINS


#: hook name -> the registry of what it registers (see :class:`Registry`)
_REGISTRIES: dict[str, Registry] = {}


class Registry:
    """What plugins registered through one ``register_*`` hook, one item per name.

    Built from :func:`collect` on first use and rebuilt after :func:`register`,
    :func:`unregister` or :func:`reset`. ``kind`` is the type every item must have (its
    ``name`` names it); ``normalize(name)`` is the key names are compared by (``str.lower``
    for indicators: ``RSI`` and ``rsi`` are one name). The first registration of a key
    wins (built-ins first); a later one, or an item that is not a
    ``kind``, is skipped with a :class:`PluginWarning` naming the plugins, and listed in
    :meth:`skipped`. ``view(registrations)``, if given, turns the accepted registrations
    into the object :meth:`view` returns (built once per rebuild, e.g. an index).

    Example (as :mod:`tsanalysis.quality.registry` does)::

        checks = Registry("register_quality_checks", QualityCheck, what="quality check")
        checks.items()          # name -> check, built-ins first
        checks.plugin("gaps")   # the plugin that registered it
    """

    def __init__(self, hook: str, kind: type, *, what: str,
                 normalize: Callable[[str], str] = str,
                 view: Callable[[list[Registration]], Any] | None = None):
        if not hasattr(hookspecs, hook):
            raise ValueError(f"no hook {hook!r} in tsanalysis.hookspecs")
        self.hook, self.kind, self.what = hook, kind, what
        self._normalize, self._make_view = normalize, view
        self._lock = threading.RLock()
        self._entries: dict[str, Registration] | None = None
        self._skipped: list[Skipped] = []
        self._view: Any = None
        _REGISTRIES[hook] = self
        on_reset(self.forget)

    def forget(self) -> None:
        """Drop what was built; the next use collects the hook again."""
        with self._lock:
            self._entries, self._view, self._skipped = None, None, []

    def entries(self) -> dict[str, Registration]:
        """key -> the accepted registration (plugin and item), in registration order."""
        with self._lock:
            if self._entries is None:
                self._build()
            assert self._entries is not None
            return self._entries

    def items(self) -> dict[str, Any]:
        """key -> item, in registration order (built-ins first); a new dict."""
        return {k: r.item for k, r in self.entries().items()}

    def lookup(self, name: str) -> Registration | None:
        """The registration of ``name`` (compared through ``normalize``), or None."""
        if not isinstance(name, str):
            return None
        return self.entries().get(self._normalize(name))

    def plugin(self, name: str) -> str | None:
        """The plugin that registered ``name``, or None."""
        found = self.lookup(name)
        return found.plugin if found is not None else None

    def skipped(self) -> list[Skipped]:
        """What was left out at the last build, and why."""
        with self._lock:
            self.entries()
            return list(self._skipped)

    def catalog(self, describe: Callable[[Any], dict[str, Any]]) -> pd.DataFrame:
        """One row per registered item: ``name``, ``plugin``, the columns
        ``describe(item)`` returns, and the first line of the item's ``doc``."""
        import pandas as pd

        rows = [{"name": r.item.name, "plugin": r.plugin, **describe(r.item),
                 "doc": (r.item.doc or "").strip().split("\n")[0]}
                for r in self.entries().values()]
        columns = ["name", "plugin", *(rows[0] if rows else {})]
        return pd.DataFrame(rows, columns=list(dict.fromkeys(columns + ["doc"])))

    def view(self) -> Any:
        """The ``view`` of the accepted registrations (built once per rebuild)."""
        with self._lock:
            entries = self.entries()
            if self._view is None:
                regs = list(entries.values())
                self._view = self._make_view(regs) if self._make_view is not None else regs
            return self._view

    # -- internals -------------------------------------------------------------------------

    def _build(self) -> None:
        skipped: list[Skipped] = []
        regs = collect(self.hook, skipped)
        regs.sort(key=lambda r: not is_builtin(r.plugin))  # stable: built-ins first
        found: dict[str, Registration] = {}
        for reg in regs:
            item = reg.item
            if not isinstance(item, self.kind):
                reason = (f"registered {item!r} through {self.hook}, which takes a "
                          f"{self.kind.__module__}.{self.kind.__qualname__}")
                if is_builtin(reg.plugin):
                    raise TypeError(f"plugin {reg.plugin!r} {reason}")
                self._skip(skipped, reg, _display(item), reason)
                continue
            name = _display(item)
            key = self._normalize(name)
            prior = found.get(key)
            if prior is not None:
                if is_builtin(reg.plugin):
                    raise PluginConflict(f"{self.what} {name!r} is registered by both "
                                         f"{prior.plugin!r} and {reg.plugin!r}")
                ns = reg.plugin.split(".")[-1].replace("-", "_")
                suggestion = f"{ns}.{name.split('.')[-1]}"
                reason = (f"{self.what} {name!r} is registered already by {prior.plugin!r}, "
                          f"which wins; use a namespace (e.g. {suggestion!r}), or leave one "
                          "of the plugins out with TSANALYSIS_LOAD_PLUGINS")
                self._skip(skipped, reg, name, reason)
                continue
            found[key] = reg
        self._entries, self._skipped, self._view = found, skipped, None

    def _skip(self, skipped: list[Skipped], reg: Registration, name: str, reason: str) -> None:
        warnings.warn(f"tsanalysis plugin {reg.plugin!r}: {reason}; skipped", PluginWarning,
                      stacklevel=4)
        skipped.append(Skipped(self.hook, reg.plugin, name, reason))


def _display(item: Any) -> str:
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else repr(item)


#: hook name -> function giving a registered item's display name, for hooks without a
#: :class:`Registry`
_ITEM_NAMES: dict[str, Callable[[Any], str]] = {}


def describe_items(hook_name: str, namer: Callable[[Any], str]) -> None:
    """Tell :func:`list_plugins` how to name the items of a hook that has no
    :class:`Registry` (a registry names its items by their ``name``)."""
    _ITEM_NAMES[hook_name] = namer


@dataclass
class PluginInfo:
    """What ``tsanalysis plugins`` shows for one plugin.

    ``registered``: hook -> the names in effect; ``skipped``: what was left out and why
    (a clash with an earlier plugin's name, a wrong type, a hook that raised).
    """

    name: str
    version: str | None
    hooks: list[str]
    builtin: bool
    registered: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``skipped`` only appears when something was skipped."""
        d: dict[str, Any] = {"name": self.name, "version": self.version, "hooks": self.hooks,
                             "builtin": self.builtin, "registered": self.registered}
        if self.skipped:
            d["skipped"] = [s.to_dict() for s in self.skipped]
        return d


#: Modules that create the registries, imported by :func:`list_plugins` so every hook's
#: registrations are checked the same way they are when used.
REGISTRY_MODULES: tuple[str, ...] = (
    "tsanalysis.indicators.registry",
    "tsanalysis.quality.registry",
    "tsanalysis.export.registry",
    "tsanalysis.backtest.strategy",
)


def list_plugins() -> list[PluginInfo]:
    """Every loaded plugin: name, version, hooks, what each hook registered, and what was
    skipped (and why)."""
    from . import __version__

    for module in REGISTRY_MODULES:
        importlib.import_module(module)
    pm = get_plugin_manager()
    infos: list[PluginInfo] = []
    by_plugin: dict[str, dict[str, list[str]]] = {}
    skipped: dict[str, list[Skipped]] = {}
    for spec_name in sorted(n for n in dir(hookspecs) if n.startswith("register_")):
        reg_of_hook = _REGISTRIES.get(spec_name)
        if reg_of_hook is not None:
            accepted = list(reg_of_hook.entries().values())
            for s in reg_of_hook.skipped():
                skipped.setdefault(s.plugin, []).append(s)
        else:
            accepted = collect(spec_name)
        namer = _ITEM_NAMES.get(spec_name, _display)
        for reg in accepted:
            by_plugin.setdefault(reg.plugin, {}).setdefault(spec_name, []).append(
                namer(reg.item))
    for name, plugin in pm.list_name_plugin():
        builtin = is_builtin(name)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        version = __version__ if builtin else (_DISTS.get(name, (None, None))[1])
        infos.append(PluginInfo(name, version, hooks, builtin, by_plugin.get(name, {}),
                                skipped.get(name, [])))
    return infos
