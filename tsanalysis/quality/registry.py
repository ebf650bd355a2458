"""The registry of quality checks, built from the ``register_quality_checks`` hook.

Built-ins (``tsanalysis.default_plugins.quality``) and third-party plugins register the
same way; the registry is rebuilt whenever a plugin is registered or unregistered at run
time (``tsanalysis.plugins.register``), so a notebook's own check shows up at once.
"""

from __future__ import annotations

import threading

from .. import plugins
from ..errors import InvalidInput
from .checks import QualityCheck

HOOK = "register_quality_checks"

_lock = threading.RLock()
_checks: dict[str, QualityCheck] | None = None
_owners: dict[str, str] = {}


def _reset() -> None:
    global _checks
    with _lock:
        _checks = None
        _owners.clear()


plugins.on_reset(_reset)
plugins.describe_items(HOOK, lambda check: getattr(check, "name", str(check)))


def available_checks() -> dict[str, QualityCheck]:
    """Every registered check by name, built-ins first, in registration order."""
    global _checks
    with _lock:
        if _checks is None:
            found: dict[str, QualityCheck] = {}
            owners: dict[str, str] = {}
            regs = plugins.collect(HOOK)
            # built-ins first, whatever order the hook calls plugins in (pluggy calls the
            # newest first)
            regs.sort(key=lambda r: r.plugin not in plugins.DEFAULT_PLUGINS)
            for reg in regs:
                check = reg.item
                if not isinstance(check, QualityCheck):
                    raise InvalidInput(f"plugin {reg.plugin!r} registered {check!r} through "
                                       f"{HOOK}; expected a tsanalysis.quality.QualityCheck")
                if check.name in found:
                    raise InvalidInput(f"quality check {check.name!r} is registered by both "
                                       f"{owners[check.name]!r} and {reg.plugin!r}; one of "
                                       "them must rename it (third parties: 'plugin.check')")
                found[check.name] = check
                owners[check.name] = reg.plugin
            _checks = found
            _owners.clear()
            _owners.update(owners)
        return dict(_checks)


def owner(name: str) -> str | None:
    """The plugin that registered the check ``name``."""
    available_checks()
    return _owners.get(name)


def select(names: list[str] | tuple[str, ...] | None = None) -> list[QualityCheck]:
    """The checks to run: all, or those named (in registry order); unknown names refused."""
    checks = available_checks()
    if not names:
        return list(checks.values())
    unknown = [n for n in names if n not in checks]
    if unknown:
        raise InvalidInput(f"unknown quality check(s): {', '.join(unknown)}; available: "
                           f"{', '.join(checks) or 'none'}")
    wanted = set(names)
    return [c for n, c in checks.items() if n in wanted]
