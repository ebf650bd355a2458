"""The registry of quality checks, built from the ``register_quality_checks`` hook.

Built-ins (``tsanalysis.default_plugins.quality``) and third-party plugins register the
same way, into a :class:`tsanalysis.plugins.Registry`: rebuilt whenever a plugin is
registered or unregistered at run time (``tsanalysis.plugins.register``), so a notebook's
own check shows up at once; a third-party check whose name is taken is skipped with a
:class:`~tsanalysis.plugins.PluginWarning`.
"""

from __future__ import annotations

from .. import plugins
from ..errors import InvalidInput
from .checks import QualityCheck

HOOK = "register_quality_checks"

REGISTRY = plugins.Registry(HOOK, QualityCheck, what="quality check")


def available_checks() -> dict[str, QualityCheck]:
    """Every registered check by name, built-ins first, in registration order."""
    return REGISTRY.items()


def owner(name: str) -> str | None:
    """The plugin that registered the check ``name``."""
    return REGISTRY.plugin(name)


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
