"""What a quality check is: the types plugin authors use.

A check is a :class:`QualityCheck` registered through the ``register_quality_checks`` hook
(see :mod:`tsanalysis.hookspecs`). The runner calls ``check.run(ctx, **params)`` once per
symbol with a :class:`~tsanalysis.quality.context.CheckContext`; the function returns a
:class:`CheckResult` (or just an iterable of :class:`Finding`).

Severities, from mild to grave: ``info`` (worth knowing, normal in some markets),
``warning`` (probably wrong, fix before relying on it), ``critical`` (the data is unusable
there as it stands).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..deprecation import deprecated
from ..errors import InvalidInput
from ..params import Param as Param
from ..params import as_param
from ..timeutil import iso, to_utc

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Finding:
    """One defect (or a group of adjacent ones) found by a check.

    ``start`` and ``end`` are the first and last affected instants (UTC; equal for a single
    row), ``count`` how many rows it concerns, ``detail`` one line for people, ``table``
    the table it was found in, and ``data`` structured values for programs (JSON-ready).
    """

    check: str
    symbol: str
    start: Any = None
    end: Any = None
    count: int = 1
    severity: str = "warning"
    detail: str = ""
    table: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise InvalidInput(f"finding of {self.check}: severity {self.severity!r} is not "
                               f"one of {', '.join(SEVERITIES)}")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, to_utc(v, f"finding {name}"))
        if self.start is not None and self.end is None:
            object.__setattr__(self, "end", self.start)
        object.__setattr__(self, "count", int(self.count))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ISO-8601 UTC times."""
        return {"check": self.check, "symbol": self.symbol, "table": self.table,
                "start": iso(self.start), "end": iso(self.end), "count": self.count,
                "severity": self.severity, "detail": self.detail, "data": dict(self.data)}


@dataclass
class CheckResult:
    """What a check returns for one symbol.

    ``score`` (0 = unusable, 1 = clean) is optional: when it is None the runner derives it
    from the findings (see :mod:`tsanalysis.quality.score`). ``basis`` says how a given
    score was reached, for people ("3 price spikes of 4,172 trades: 99.9";
    :func:`tsanalysis.quality.score.tally` makes both). ``metrics`` are JSON-ready
    values merged into the symbol's entry of the report. ``applicable`` is False when the
    data the check needs is absent (no quotes, no bars): the check is then left out of the
    score instead of counting as clean.
    """

    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    basis: str | None = None
    recommendations: list[str] = field(default_factory=list)
    applicable: bool = True

    @classmethod
    def coerce(cls, value: CheckResult | Iterable[Finding] | None) -> CheckResult:
        """Accept what a check function may return: a result, findings, or None."""
        if isinstance(value, CheckResult):
            return value
        if value is None:
            return cls()
        return cls(findings=list(value))


@dataclass(frozen=True)
class QualityCheck:
    """A data-quality check, as registered through ``register_quality_checks``.

    :param name: unique name (third parties: ``"myplugin.name"``); what ``--check`` takes.
    :param run: ``run(ctx, **params)`` -> :class:`CheckResult` or an iterable of
        :class:`Finding`; called once per symbol.
    :param params: parameter name -> default value, or a :class:`~tsanalysis.params.Param`
        (usually ``Param(default, doc, minimum=..., maximum=...)``) with its doc and bounds.
        Callers override them by name; unknown names are refused.
    :param tables: the tables the check reads; it is skipped (not scored) for a symbol
        with no rows in any of them.
    :param doc: one paragraph for ``tsanalysis plugins`` and the report.
    :param weight: the check's share of the 0-100 score (see :mod:`tsanalysis.quality.score`).
    """

    name: str
    run: Callable[..., CheckResult | Iterable[Finding] | None]
    params: Mapping[str, Any] = field(default_factory=dict)
    tables: tuple[str, ...] = ("tick_prices",)
    doc: str = ""
    weight: float = 5.0
    #: Ignored: the score no longer reaches 0 at a tolerance (kept so that checks written
    #: for earlier releases still load, with a DeprecationWarning).
    tolerance: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput("a quality check needs a name")
        if self.tolerance is not None:
            deprecated(f"QualityCheck(tolerance=...) in check {self.name}",
                       "nothing: a check's score is the share of usable rows "
                       "(tsanalysis.quality.score)", stacklevel=4)
        if not callable(self.run):
            raise InvalidInput(f"check {self.name}: run must be callable")
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            raise InvalidInput(f"check {self.name}: weight must be a finite number >= 0")
        norm = {k: as_param(v) for k, v in self.params.items()}
        object.__setattr__(self, "params", norm)
        object.__setattr__(self, "tables", tuple(self.tables))

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults updated with ``overrides``, each validated against its ``Param``."""
        values = self.defaults
        for k, v in (overrides or {}).items():
            p = self.params.get(k)
            if p is None:
                known = ", ".join(self.params) or "none"
                raise InvalidInput(f"check {self.name} has no parameter {k!r} (parameters: "
                                   f"{known})")
            values[k] = p.validate(self.name, k, v)
        return values

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: name, doc, weight, tables and parameters."""
        return {"name": self.name, "doc": self.doc, "weight": self.weight,
                "tables": list(self.tables),
                "params": {k: {"default": p.default, "doc": p.doc}
                           for k, p in self.params.items()}}


def ts_or_none(value: Any) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp, or None."""
    return None if value is None else to_utc(value)
