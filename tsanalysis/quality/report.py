"""The quality report: per symbol and for the session, as JSON, tables and HTML."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..ids import interval_seconds
from ..timeutil import iso
from .checks import Finding
from .score import grade

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..store.base import Store


@dataclass
class CheckOutcome:
    """What one check gave for one symbol."""

    name: str
    weight: float
    applicable: bool = True
    score: float | None = None  #: 0-1, None when not applicable or failed
    basis: str | None = None  #: how the score was reached ("3 price spikes of 688 trades: 99.6")
    metrics: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    recommendations: list[str] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(100 * self.score, 2),
                "basis": self.basis, "weight": self.weight, "applicable": self.applicable,
                "findings": self.findings_total, "error": self.error}


#: Keys every symbol's JSON carries (the documented contract of ``tsanalysis quality
#: --json``); null when the check that measures it did not run or had no data.
SYMBOL_KEYS = ("rows", "expected_rows", "completeness", "gaps", "out_of_order_rows",
               "duplicate_rows", "same_timestamp_rows", "price_anomalies", "stale_runs",
               "crossed_quotes", "locked_quotes")


@dataclass
class SymbolReport:
    """One symbol: its score, rows per table, the checks' metrics and findings."""

    symbol: str
    score: float | None
    rows: dict[str, int]
    metrics: dict[str, Any]
    checks: dict[str, CheckOutcome]
    findings: list[Finding]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"score": _round(self.score), **dict.fromkeys(SYMBOL_KEYS),
                **jsonable(self.metrics), "table_rows": dict(self.rows),
                "checks": {n: o.to_dict() for n, o in self.checks.items()}}


@dataclass
class QualityReport:
    """The quality of a whole session: a 0-100 score, per-symbol metrics, findings and
    recommendations. ``to_dict()`` / ``to_json()`` for programs; in a notebook it renders as
    HTML with a picture of the prices, gaps shaded and anomalies marked."""

    session_id: str
    score: float | None
    symbols: dict[str, SymbolReport]
    findings: list[Finding]
    recommendations: list[str]
    checks: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    gap_threshold_s: float | None
    generated_at: pd.Timestamp
    elapsed_s: float
    store: Store | None = field(default=None, repr=False)
    _prices: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    # -- programs ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``score``, ``symbols``, ``findings``, ``recommendations``, ``checks``,
        ``errors`` and provenance (see the README's *Data quality* section)."""
        return {
            "session_id": self.session_id,
            "generated_at": iso(self.generated_at),
            "score": _round(self.score),
            "symbols": {s: r.to_dict() for s, r in self.symbols.items()},
            "findings": [jsonable(f.to_dict()) for f in self.findings],
            "recommendations": list(self.recommendations),
            "checks": jsonable(self.checks),
            "gap_threshold_s": self.gap_threshold_s,
            "errors": list(self.errors),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent in each check, summed over symbols (what dominates a run)."""
        out: dict[str, float] = {}
        for rep in self.symbols.values():
            for name, o in rep.checks.items():
                out[name] = out.get(name, 0.0) + o.elapsed_s
        return out

    def findings_frame(self) -> pd.DataFrame:
        """The findings table: check, symbol, table, start, end, count, severity, detail."""
        cols = ["check", "symbol", "table", "start", "end", "count", "severity", "detail"]
        return pd.DataFrame([{c: getattr(f, c) for c in cols} for f in self.findings],
                            columns=cols)

    def basis_frame(self) -> pd.DataFrame:
        """One row per symbol and check that scored: its weight, 0-100 score and how the
        score was reached (``basis``: "3 price spikes of 688 trades: 99.6")."""
        rows = [{"symbol": sym, "check": name, "weight": o.weight,
                 "score": round(100 * o.score, 2), "basis": o.basis}
                for sym, r in self.symbols.items() for name, o in r.checks.items()
                if o.applicable and o.score is not None]
        return pd.DataFrame(rows, columns=["symbol", "check", "weight", "score", "basis"])

    def summary_frame(self) -> pd.DataFrame:
        """One row per symbol: score and the headline metrics."""
        rows = []
        for sym, r in self.symbols.items():
            m = r.metrics
            rows.append({
                "symbol": sym, "score": _round(r.score), "rows": m.get("rows"),
                "expected_rows": m.get("expected_rows"), "completeness": m.get("completeness"),
                "gaps": m.get("gap_count", 0) + m.get("quote_gap_count", 0),
                "price_anomalies": m.get("price_anomaly_count", 0),
                "stale_runs": m.get("stale_run_count", 0),
                "out_of_order": m.get("out_of_order_rows", 0)
                + m.get("quote_out_of_order_rows", 0),
                "crossed": m.get("crossed_quotes"), "locked": m.get("locked_quotes"),
                "findings": len(r.findings)})
        return pd.DataFrame(rows)

    # -- pictures ------------------------------------------------------------------------

    def price_bars(self, symbol: str, points: int = 1500) -> pd.DataFrame:
        """Prices of ``symbol`` reduced to about ``points`` bars (for plotting), computed in
        the database; empty buckets are NaN rows so a line breaks over gaps."""
        key = f"{symbol}@{points}"
        if key not in self._prices:
            self._prices[key] = _price_bars(self, symbol, points)
        return self._prices[key]

    def plot(self, symbols: list[str] | str | None = None) -> Figure:
        """A matplotlib figure: each symbol's price, gaps shaded, anomalies marked."""
        from .plot import figure

        return figure(self, [symbols] if isinstance(symbols, str) else symbols)

    def _repr_html_(self) -> str:
        return to_html(self)

    def __repr__(self) -> str:
        return (f"<QualityReport {self.session_id}: score {format_score(self.score)}, "
                f"{len(self.symbols)} symbol(s), {len(self.findings)} finding(s)>")


# -- helpers -------------------------------------------------------------------------------


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)


def format_score(x: float | None) -> str:
    """``"97.9/100"`` (``"n/a"`` for a session nothing could be scored on)."""
    return "n/a" if x is None else f"{x:.1f}/100"


def jsonable(obj: Any) -> Any:
    """Timestamps to ISO-8601 UTC text, numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, pd.Timestamp):
        return iso(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


_NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400,
                 21600, 43200, 86400)


def _interval(seconds: float) -> str:
    for s in _NICE_SECONDS:
        if s >= seconds:
            return f"{s // 3600}h" if s % 3600 == 0 and s >= 3600 else \
                f"{s // 60}m" if s % 60 == 0 and s >= 60 else f"{s}s"
    return f"{max(int(math.ceil(seconds / 86400)), 1)}d"


def _price_bars(report: QualityReport, symbol: str, points: int) -> pd.DataFrame:
    rep = report.symbols.get(symbol)
    empty = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[us, UTC]"),
                          "low": [], "high": [], "close": []})
    if report.store is None or rep is None or not rep.rows.get("tick_prices"):
        return empty
    stats = report.store.table_stats([report.session_id])
    row = stats[(stats["table"] == "tick_prices") & (stats["symbol"] == symbol)]
    if row.empty:
        return empty
    lo, hi = row["first_ts"].iloc[0], row["last_ts"].iloc[0]
    width = _interval(max((hi - lo).total_seconds() / max(points, 1), 1.0))
    bars = report.store.ohlcv_from_ticks(report.session_id, [symbol], width)
    if bars.empty:
        return empty
    step = pd.Timedelta(seconds=interval_seconds(width))
    full = pd.date_range(bars["ts"].iloc[0], bars["ts"].iloc[-1], freq=step)
    out = bars.set_index("ts")[["low", "high", "close"]].reindex(full)
    out.index.name = "ts"
    return out.reset_index()


def _figure_png(report: QualityReport) -> str | None:
    try:
        fig = report.plot()
    except Exception as e:  # the tables are still worth showing
        return f'<p class="tsa-note">(no picture: {html.escape(type(e).__name__)}: ' \
               f"{html.escape(str(e))})</p>"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="prices with gaps and anomalies" src="data:image/png;base64,{data}"/>'


_SEV_COLOUR = {"info": "#6b7280", "warning": "#b45309", "critical": "#b91c1c"}


_GRADE_COLOUR = {None: "#6b7280", "good": "#15803d", "fair": "#b45309", "poor": "#b91c1c"}


def score_colour(x: float | None) -> str:
    """The colour of a score's grade (:func:`~tsanalysis.quality.score.grade`), for the
    report's HTML and the quality panel."""
    return _GRADE_COLOUR[grade(x)]


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, pd.Timestamp):
        return html.escape(iso(v) or "")
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: QualityReport, max_findings: int = 50) -> str:
    """The report as an HTML fragment (what a notebook shows)."""
    parts = [
        '<div class="tsa-quality">',
        f'<h3>Quality of session {html.escape(report.session_id)}: '
        f'<span style="color:{score_colour(report.score)}">{format_score(report.score)}</span>'
        "</h3>",
        f"<p>{len(report.symbols)} symbol(s), {len(report.checks)} check(s), "
        f"{len(report.findings):,} finding(s); whole session assessed in "
        f"{report.elapsed_s:.2f} s.</p>",
        _table(report.summary_frame()),
        "<h4>How each check scored</h4><p>The share of the data each check found usable "
        "(a critical row counts twice, an info row a tenth).</p>",
        _table(report.basis_frame()),
    ]
    img = _figure_png(report)
    if img:
        parts.append(img)
    if report.recommendations:
        parts.append("<h4>Recommendations</h4><ul>" + "".join(
            f"<li>{html.escape(r)}</li>" for r in report.recommendations) + "</ul>")
    if report.errors:
        parts.append("<h4>Checks that failed</h4><ul>" + "".join(
            f"<li>{html.escape(e['check'])} on {html.escape(e['symbol'])}: "
            f"{html.escape(e['error'])}</li>" for e in report.errors) + "</ul>")
    if report.findings:
        frame = report.findings_frame()
        order = frame["severity"].map({"critical": 0, "warning": 1, "info": 2})
        frame = frame.assign(_o=order).sort_values(["_o", "start"], kind="stable") \
            .drop(columns="_o")
        shown = frame.head(max_findings)
        parts.append(f"<h4>Findings ({len(frame):,}"
                     + (f", the first {max_findings} by severity" if len(frame) > max_findings
                        else "") + ")</h4>")
        rows = []
        for row in shown.itertuples(index=False):
            colour = _SEV_COLOUR[row.severity]
            rows.append(
                "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in
                                 (row.check, row.symbol, row.table, row.start, row.end,
                                  row.count))
                + f'<td style="color:{colour}">{row.severity}</td>'
                + f"<td>{_cell(row.detail)}</td></tr>")
        head = "".join(f"<th>{c}</th>" for c in shown.columns)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
                     "</tbody></table>")
    parts.append("</div>")
    return "\n".join(parts)
