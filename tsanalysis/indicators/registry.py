"""The indicator registry: every indicator registered by a plugin, by name.

A :class:`tsanalysis.plugins.Registry` of the ``register_indicators`` hook: built on first
use and rebuilt when plugins change (:func:`tsanalysis.plugins.register`,
:func:`tsanalysis.plugins.reset`). Names are unique regardless of case (they become
lower-case ids): a third-party indicator whose name is taken (``rsi``, ``RSI``) is skipped
with a :class:`~tsanalysis.plugins.PluginWarning` naming both plugins, and the first
registration (the built-in) keeps working; a plugin avoids it with a namespace
(``talib.RSI``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from .. import plugins
from ..ids import INTERVAL_PATTERN
from .base import (
    INDICATOR_ID_PATTERN,
    Indicator,
    InvalidParameter,
    UnknownIndicator,
)

HOOK = "register_indicators"


@dataclass(frozen=True)
class Registered:
    """An indicator and the plugin that registered it."""

    indicator: Indicator
    plugin: str


class IndicatorRegistry:
    """Registered indicators by name (case-insensitive): lookups, suggestions, ids.

    Built from the accepted registrations of :data:`REGISTRY` (which has already skipped
    clashes and items of the wrong type).
    """

    def __init__(self, registrations: list[plugins.Registration]):
        self._by_key: dict[str, Registered] = {
            reg.item.key: Registered(reg.item, reg.plugin) for reg in registrations}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_key

    def __iter__(self) -> Iterator[Registered]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def names(self) -> list[str]:
        """The registered names, as declared, built-ins first."""
        return [r.indicator.name for r in self._by_key.values()]

    def entry(self, name: str) -> Registered:
        """The registration of ``name``; :class:`UnknownIndicator` with the closest names."""
        found = self._by_key.get(name.lower()) if isinstance(name, str) else None
        if found is None:
            raise UnknownIndicator(str(name), self.closest(str(name)))
        return found

    def get(self, name: str) -> Indicator:
        """The indicator ``name``; :class:`UnknownIndicator` with the closest names."""
        return self.entry(name).indicator

    def closest(self, name: str, n: int = 5) -> list[str]:
        """Registered names closest to ``name`` (difflib), best first."""
        keys = {r.indicator.key: r.indicator.name for r in self._by_key.values()}
        low = name.lower()
        hits = difflib.get_close_matches(low, list(keys), n=n, cutoff=0.6)
        # 'rsi' should find 'talib.rsi' too: compare against the part after a namespace.
        short = {k.split(".")[-1]: k for k in keys if "." in k}
        for m in difflib.get_close_matches(low.split(".")[-1], list(short), n=n, cutoff=0.75):
            if short[m] not in hits:
                hits.append(short[m])
        return [keys[k] for k in hits[:n]]

    def parse_id(self, indicator_id: str) -> ParsedId | None:
        """The computation an indicator id stands for, or None when no indicator derives it."""
        if not isinstance(indicator_id, str) or not INDICATOR_ID_PATTERN.match(indicator_id):
            return None
        base, dot, interval = indicator_id.rpartition(".")
        if not (dot and INTERVAL_PATTERN.match(interval)):  # computed on ticks
            base, interval = indicator_id, ""
        for reg in self._by_key.values():
            ind = reg.indicator
            if base != ind.key and not base.startswith(ind.key + "_"):
                continue
            tokens = base[len(ind.key) + 1:].split("_") if base != ind.key else []
            if len(tokens) < len(ind.params):
                continue
            try:
                params = ind.check_params(
                    {p.name: tok for p, tok in zip(ind.params, tokens, strict=False)})
            except InvalidParameter:
                continue
            except ValueError:
                continue
            rest = "_".join(tokens[len(ind.params):])
            output = rest or (ind.outputs[0] if len(ind.outputs) == 1 else "")
            if output not in ind.outputs:
                continue
            try:
                again = ind.indicator_id(params, output, interval or None)
            except ValueError:
                continue
            if again == indicator_id:
                return ParsedId(indicator_id, ind, reg.plugin, params, output, interval or None)
        return None


@dataclass(frozen=True)
class ParsedId:
    """An indicator id read back: which indicator, parameters, output and interval."""

    indicator_id: str
    indicator: Indicator
    plugin: str
    params: dict
    output: str
    interval: str | None


REGISTRY = plugins.Registry(HOOK, Indicator, what="indicator", normalize=str.lower,
                            view=IndicatorRegistry)


def registry() -> IndicatorRegistry:
    """The registry of every loaded plugin's indicators (built on first use)."""
    return REGISTRY.view()
