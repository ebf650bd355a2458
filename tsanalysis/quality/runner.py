"""Run the registered checks over a session, symbol by symbol, and build the report."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .. import schema
from ..errors import InvalidInput
from ..ids import check_symbol
from ..sessions import SessionInfo, Sessions
from ..store.base import Progress, Store
from ..timeutil import parse_duration
from . import registry
from . import score as _score
from .checks import SEVERITIES, CheckResult, Finding, QualityCheck
from .context import CheckContext
from .report import CheckOutcome, QualityReport, SymbolReport

log = logging.getLogger(__name__)

#: A symbol with more rows than this in a table is streamed in chunks of this size instead
#: of being read whole (about 100 MB of columns per chunk).
DEFAULT_CHUNK_ROWS = 2_000_000

_DATA_TABLES = (schema.TICK_PRICES.name, schema.TICK_ORDERBOOK.name,
                schema.AGGREGATED_OHLCV.name)


def assess(store: Store, session: str | SessionInfo, *,
           symbols: Sequence[str] | str | None = None,
           checks: Sequence[str] | str | None = None,
           params: Mapping[str, Mapping[str, Any]] | None = None,
           gap_threshold: Any = None, chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
           max_findings: int = 200, progress: Progress | None = None) -> QualityReport:
    """Assess the quality of a whole session.

    :param session: a session id, or a :class:`SessionInfo` with stats.
    :param symbols: only these symbols (each must be in the session); default all.
    :param checks: only these checks (names from :func:`available_checks`); default all.
    :param params: per-check parameter overrides, e.g. ``{"prices": {"n_sigmas": 6}}``.
    :param gap_threshold: the gap threshold for every table (``"30s"``, seconds, a
        timedelta) instead of ``gap_factor`` cadences.
    :param chunk_rows: tables larger than this are streamed in chunks of this many rows
        (None: always read whole). The report is the same either way.
    :param max_findings: findings and examples listed per check and symbol (counts stay
        exact).
    :param progress: called with ``(checks done, checks total)``.
    """
    started = time.perf_counter()
    info = session if isinstance(session, SessionInfo) and session.tables is not None \
        else Sessions(store).get(session if isinstance(session, str) else session.session_id)
    present = list(dict.fromkeys([*info.symbols,
                                  *(s for t in (info.tables or {}).values() for s in t)]))
    syms = _symbols(info, symbols, present)
    selected = registry.select(_names(checks))
    values = _params(selected, params)
    gap_s = parse_duration(gap_threshold, "gap threshold") if gap_threshold is not None \
        else None
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or int(chunk_rows) < 1):
        raise InvalidInput(f"chunk_rows must be a positive integer or None, not {chunk_rows!r}")
    if int(max_findings) < 1:
        raise InvalidInput(f"max_findings must be positive, not {max_findings!r}")

    total, done = len(syms) * len(selected), 0
    reports: dict[str, SymbolReport] = {}
    errors: list[dict[str, Any]] = []
    for sym in syms:
        ctx = CheckContext(store, info, sym, chunk_rows=chunk_rows, gap_threshold_s=gap_s,
                           max_findings=int(max_findings))
        outcomes: dict[str, CheckOutcome] = {}
        try:
            for check in selected:
                outcomes[check.name] = _run_one(check, ctx, values[check.name], errors)
                done += 1
                if progress:
                    progress(done, total)
        finally:
            ctx.release()
        reports[sym] = _symbol_report(sym, ctx, outcomes)
    session_score = _score.session([(r.score, r.total_rows) for r in reports.values()])
    findings = [f for r in reports.values() for f in r.findings]
    return QualityReport(
        session_id=info.session_id, score=session_score, symbols=reports, findings=findings,
        recommendations=_recommendations(reports, selected),
        checks=[{**c.describe(), "plugin": registry.owner(c.name), "params": values[c.name]}
                for c in selected],
        errors=errors, gap_threshold_s=gap_s,
        generated_at=pd.Timestamp.now(tz="UTC").floor("s"),
        elapsed_s=time.perf_counter() - started, store=store)


def _names(checks: Sequence[str] | str | None) -> list[str] | None:
    if checks is None:
        return None
    items = [checks] if isinstance(checks, str) else list(checks)
    return [p.strip() for c in items for p in str(c).split(",") if p.strip()] or None


def _symbols(info: SessionInfo, symbols: Sequence[str] | str | None,
             present: list[str]) -> list[str]:
    if symbols is None:
        return present
    wanted = [symbols] if isinstance(symbols, str) else list(symbols)
    out = []
    for s in wanted:
        check_symbol(s)
        if s not in present:
            raise InvalidInput(f"symbol {s!r} is not in session {info.session_id!r}; its "
                               f"symbols: {', '.join(present) or 'none'}")
        if s not in out:
            out.append(s)
    if not out:
        raise InvalidInput("no symbol given")
    return out


def _params(selected: list[QualityCheck], params: Mapping[str, Mapping[str, Any]] | None
            ) -> dict[str, dict[str, Any]]:
    params = dict(params or {})
    names = {c.name for c in selected}
    unknown = [n for n in params if n not in names]
    if unknown:
        raise InvalidInput(f"parameters given for check(s) not run: {', '.join(unknown)}; "
                           f"checks: {', '.join(c.name for c in selected)}")
    return {c.name: c.resolve(params.get(c.name)) for c in selected}


def _run_one(check: QualityCheck, ctx: CheckContext, values: dict[str, Any],
             errors: list[dict[str, Any]]) -> CheckOutcome:
    outcome = CheckOutcome(check.name, check.weight)
    if not any(ctx.rows(t) > 0 for t in check.tables):
        outcome.applicable = False
        return outcome
    t0 = time.perf_counter()
    try:
        result = CheckResult.coerce(check.run(ctx, **values))
    except Exception as e:  # one broken check must not sink the report: record it
        log.exception("quality check %s failed on %s", check.name, ctx.symbol)
        outcome.error = f"{type(e).__name__}: {e}"
        outcome.applicable = False
        errors.append({"check": check.name, "symbol": ctx.symbol, "error": outcome.error})
        return outcome
    finally:
        outcome.elapsed_s = time.perf_counter() - t0
    outcome.applicable = result.applicable
    outcome.metrics = dict(result.metrics)
    outcome.recommendations = list(result.recommendations)
    # In time order: the order a check emits them in may depend on how data was chunked.
    outcome.findings = sorted(result.findings, key=_finding_order)
    if result.applicable:
        if result.score is not None:
            s, basis = float(result.score), result.basis
        else:
            rows = next((ctx.rows(t) for t in check.tables if ctx.rows(t) > 0), 0)
            s, basis = _score.from_findings(result.findings, rows)
        outcome.score = min(1.0, max(0.0, s)) if s == s else 0.0
        outcome.basis = basis or f"{_score.figure(outcome.score)} (the check's own score)"
    # A check that lists more than asked is cut here; its score used every finding.
    outcome.findings_total = len(outcome.findings)
    outcome.findings = outcome.findings[:10 * ctx.max_findings]
    return outcome


_NO_TIME = pd.Timestamp.min.tz_localize("UTC")


def _finding_order(f: Finding) -> tuple:
    return (f.start if f.start is not None else _NO_TIME, f.table or "",
            f.end if f.end is not None else _NO_TIME, SEVERITIES.index(f.severity), f.detail)


def _symbol_report(sym: str, ctx: CheckContext, outcomes: dict[str, CheckOutcome]
                   ) -> SymbolReport:
    metrics: dict[str, Any] = {}
    for name, out in outcomes.items():
        for k, v in out.metrics.items():
            if k in metrics:  # two checks chose the same key: keep both, namespaced
                log.warning("quality metric %r of %s clashes with another check's", k, name)
                k = f"{name}.{k}"
            metrics[k] = v
    score = _score.combine((o.weight, o.score) for o in outcomes.values()
                           if o.applicable and o.score is not None)
    rows = {t: ctx.rows(t) for t in _DATA_TABLES}
    findings = [f for o in outcomes.values() for f in o.findings]
    return SymbolReport(sym, score, rows, metrics, outcomes, findings)


def _worst(findings: list[Finding]) -> int:
    return max((SEVERITIES.index(f.severity) for f in findings), default=-1)


def _recommendations(reports: dict[str, SymbolReport], selected: list[QualityCheck]
                     ) -> list[str]:
    """Recommendations, gravest first: by the worst severity behind them, then symbol and
    check order. Checks that give none get a generic line per symbol with a problem."""
    keyed: list[tuple[int, int, int, int, str]] = []
    order = {c.name: i for i, c in enumerate(selected)}
    for si, (sym, rep) in enumerate(reports.items()):
        for name, out in rep.checks.items():
            worst = _worst(out.findings)
            lines = list(out.recommendations)
            if not lines and worst >= SEVERITIES.index("warning"):
                first = min((f for f in out.findings if f.start is not None),
                            key=lambda f: f.start, default=out.findings[0])
                lines = [f"{sym}: {name}: {len(out.findings):,} finding(s), first: "
                         f"{first.detail or first.severity}"]
            if out.error:
                lines.append(f"{sym}: check {name} failed ({out.error}); its part of the "
                             "score is missing")
            for j, line in enumerate(lines):
                keyed.append((-worst, si, order[name], j, line))
    return [k[-1] for k in sorted(keyed)]
