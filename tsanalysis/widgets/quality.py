"""QualityPanel: run the registered quality checks on the selected session and show the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets

from ..errors import InvalidInput
from ..quality.report import format_score, score_colour
from . import _plot
from ._base import Panel, esc, html_table, plain_text
from ._form import ParamForm

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..quality import QualityCheck, QualityReport

#: Findings listed in the panel (gravest first); the report holds them all.
MAX_FINDINGS_SHOWN = 50
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_SEVERITY_COLOUR = {"info": "#6b7280", "warning": "#9a6700", "critical": "#cf222e"}


def _check_form(check: QualityCheck, on_change: Callable[[], None]) -> ParamForm:
    """A form for a check's declared parameters, validated by the check's own rules."""
    return ParamForm(check.params,
                     check=lambda name, value: check.params[name].validate(check.name, name,
                                                                           value),
                     on_change=on_change)


class QualityPanel(Panel):
    """Assess the selected session with the registered quality checks (plugins included).

    Tick the checks to run and adjust their parameters (a form per check, generated from
    the parameters it declares; a value out of bounds shows the check's own message and
    keeps Run disabled), optionally set a gap threshold, and press Run: the whole session
    is assessed with a progress bar (one step per check and symbol; Cancel stops it). The
    panel then shows the 0-100 score with its breakdown per symbol and check, the
    recommendations, the findings (gravest first) and the prices with gaps shaded and
    anomalies marked. When the session's data changes afterwards the report is marked
    out of date; it is never recomputed behind your back.

    >>> panel = QualityPanel(ws, session_id=sid)
    >>> panel.select_checks(["gaps", "prices"])
    >>> panel.form("prices").set(n_sigmas=6)
    >>> panel.assess().score            # what the Run button does
    """

    title: ClassVar[str] = "Quality"

    def _build(self) -> Sequence[widgets.Widget]:
        #: The last report shown (None before the first run, or after a session change).
        self.report: QualityReport | None = None
        #: The last picture (a matplotlib Figure).
        self.figure: Figure | None = None
        self._report_for: str | None = None
        self._stale = False
        self._names: tuple[str, ...] = ()
        self._boxes: dict[str, widgets.Checkbox] = {}
        self._forms: dict[str, ParamForm] = {}
        self._checks_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._checks_box.add_class("tsanalysis-quality-checks")
        # one tab per check's form, folded away under one title until wanted
        self._params = widgets.Tab()
        self._params.add_class("tsanalysis-quality-params")
        self._params_box = widgets.Accordion(children=[self._params],
                                             titles=("Parameters of the checks",),
                                             selected_index=None)
        self._gap = widgets.Text(value="", description="gap threshold",
                                 placeholder="from the cadence (e.g. 30s)",
                                 style={"description_width": "11em"},
                                 layout=widgets.Layout(width="22em"))
        self._gap_error = widgets.HTML()
        self._gap.observe(lambda _: self._gap_changed(), names="value")
        self._run_button = widgets.Button(description="Run checks", icon="play",
                                          button_style="primary")
        self._run_button.add_class("tsanalysis-quality-run")
        self._on_click(self._run_button, self.assess, label="Assessing", unit="checks",
                       cancellable=True)
        self._why = widgets.HTML()
        self._score = widgets.HTML()
        self._score.add_class("tsanalysis-quality-score")
        self._summary = widgets.HTML()
        self._summary.add_class("tsanalysis-quality-summary")
        self._recommendations = widgets.HTML()
        self._recommendations.add_class("tsanalysis-quality-recommendations")
        self._findings = widgets.HTML(layout=widgets.Layout(max_height="20em",
                                                            overflow="auto"))
        self._findings.add_class("tsanalysis-quality-findings")
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%",
                                                                        display="none"))
        self._image.add_class("tsanalysis-quality-plot")
        self.reload_checks()
        return [widgets.HTML("<b>Checks</b> (hover for what each does)"), self._checks_box,
                self._params_box, widgets.HBox([self._gap, self._gap_error]),
                widgets.HBox([self._run_button, self._why]), self._score, self._summary,
                self._image, self._recommendations, self._findings]

    # -- public ----------------------------------------------------------------------------

    @property
    def checks(self) -> list[str]:
        """Every registered check the panel offers, in registry order."""
        return list(self._names)

    @property
    def selected_checks(self) -> list[str]:
        """The checks ticked."""
        return [n for n in self._names if self._boxes[n].value]

    def select_checks(self, names: Sequence[str] | None) -> None:
        """Tick exactly ``names`` (None: every check); unknown names are refused."""
        wanted = set(self._names if names is None else names)
        unknown = sorted(wanted - set(self._names))
        if unknown:
            raise InvalidInput(f"unknown quality check(s): {', '.join(unknown)}; available: "
                               f"{', '.join(self._names)}")
        for n, box in self._boxes.items():
            box.value = n in wanted

    def form(self, check: str) -> ParamForm:
        """The parameter form of ``check``."""
        return self._forms[check]

    def params(self) -> dict[str, dict[str, Any]]:
        """The checked parameters of the ticked checks (raises on an invalid value)."""
        return {n: self._forms[n].values() for n in self.selected_checks}

    @property
    def gap_threshold(self) -> float | None:
        """The gap threshold typed, in seconds (None: derived from the cadence)."""
        from ..timeutil import parse_duration

        text = self._gap.value.strip()
        return parse_duration(text, "gap threshold") if text else None

    @property
    def score_text(self) -> str:
        """The score line as plain text."""
        return plain_text(self._score.value)

    @property
    def png(self) -> bytes:
        """The picture shown, as PNG bytes (empty when none)."""
        return bytes(self._image.value)

    def reload_checks(self) -> None:
        """Offer the checks registered now (a plugin registered since shows up); ticks and
        parameters of checks still registered are kept."""
        from ..quality import available_checks
        from ..quality.registry import owner

        checks = available_checks()
        names = tuple(checks)
        if names == self._names:
            return
        old_boxes, old_forms = self._boxes, self._forms
        self._boxes, self._forms = {}, {}
        for n, check in checks.items():
            plugin = owner(n)
            third_party = plugin is not None and not plugin.startswith("tsanalysis.")
            box = old_boxes.get(n) or widgets.Checkbox(
                value=True, indent=False, description=n + (" (plugin)" if third_party else ""),
                tooltip=check.doc or None, layout=widgets.Layout(width="auto"))
            if n not in old_boxes:
                box.add_class(f"tsanalysis-check-{n.replace('.', '-')}")
                box.observe(lambda _: self._update_controls(), names="value")
            self._boxes[n] = box
            self._forms[n] = old_forms.get(n) or _check_form(check, self._update_controls)
        self._names = names
        self._checks_box.children = list(self._boxes.values())
        self._params.children = [self._forms[n].widget for n in names]
        self._params.titles = names
        self._update_controls()

    def refresh(self) -> None:
        """Offer the registered checks; forget a report of another session."""
        self.reload_checks()
        if self.session_id != self._report_for:
            self._clear_report()
        if self.session_id is None:
            self._score.value = "<i>Select a session to assess its quality.</i>"
        self._update_controls()

    def assess(self) -> QualityReport:
        """Run the ticked checks with their parameters on the whole session; show and return
        the report. Raises :class:`~tsanalysis.errors.InvalidInput` (nothing run) when no
        session or check is selected or a parameter is invalid."""
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: select one to assess")
        checks = self.selected_checks
        if not checks:
            raise InvalidInput("no quality check selected: tick at least one")
        params, gap = self.params(), self.gap_threshold
        report = self._ws.quality.run(sid, checks=checks, params=params, gap_threshold=gap,
                                  progress=self.progress)
        self._show(report)
        kind = "success" if not report.errors else "warning"
        failed = f"; {len(report.errors)} check run(s) failed (see below)" \
            if report.errors else ""
        self.set_status(f"Assessed <code>{esc(sid)}</code> in {report.elapsed_s:.1f} s: "
                        f"score {format_score(report.score)}, "
                        f"{len(report.findings):,} finding(s)"
                        f"{failed}", kind=kind)
        return report

    # -- internals -------------------------------------------------------------------------

    def _gap_changed(self) -> None:
        try:
            self.gap_threshold  # noqa: B018 - parsed for its error
            self._gap_error.value = ""
        except InvalidInput as e:
            self._gap_error.value = f'<span style="color:#cf222e">{esc(e)}</span>'
        self._update_controls()

    def _problem(self) -> str:
        """Why Run is disabled now ("" when it is not)."""
        if self.session_id is None:
            return "select a session"
        if not self.selected_checks:
            return "tick at least one check"
        bad = [n for n in self.selected_checks if not self._forms[n].valid]
        if bad:
            return f"fix the parameters of {', '.join(bad)}"
        if self._gap_error.value:
            return "fix the gap threshold"
        return ""

    def _update_controls(self) -> None:
        if not hasattr(self, "_why"):
            return
        problem = self._problem()
        self._run_button.disabled = self.busy or bool(problem)
        self._why.value = f'<span style="color:#6b7280">{esc(problem)}</span>' \
            if problem else ""

    def _on_store_event(self, event: str, session_id: str | None) -> None:
        # A report is a computation: new rows make it out of date, they do not re-run it.
        if self.report is not None and event in ("data", "changed") \
                and session_id == self._report_for:
            self._stale = True
            self._draw_score()
        self.refresh()

    def _clear_report(self) -> None:
        self.report, self.figure, self._report_for, self._stale = None, None, None, False
        for w in (self._score, self._summary, self._recommendations, self._findings):
            w.value = ""
        self._image.value = b""
        self._image.layout.display = "none"

    def _show(self, report: QualityReport) -> None:
        self.report, self._report_for, self._stale = report, report.session_id, False
        self._draw_score()
        self._summary.value = _breakdown_html(report)
        if report.recommendations:
            items = "".join(f"<li>{esc(r)}</li>" for r in report.recommendations)
            self._recommendations.value = f"<b>Recommendations</b><ul>{items}</ul>"
        else:
            self._recommendations.value = "<b>Recommendations</b>: none."
        self._findings.value = _findings_html(report)
        fig = report.plot()
        self._image.value = _plot.figure_png(fig)
        self._image.layout.display = None
        self.figure = fig

    def _draw_score(self) -> None:
        r = self.report
        if r is None:
            return
        stale = (' · <span style="color:#9a6700">the session changed since: run again for an '
                 "up-to-date report</span>") if self._stale else ""
        self._score.value = (
            f'<span style="font-size:1.6em;font-weight:bold;color:{score_colour(r.score)}">'
            f"{format_score(r.score)}</span> · session <code>{esc(r.session_id)}</code> · "
            f"{len(r.symbols)} symbol(s), {len(r.checks)} check(s), "
            f"{len(r.findings):,} finding(s){stale}")


def _breakdown_html(report: QualityReport) -> str:
    """Score per symbol and per check (0-100; – where a check did not apply)."""
    names = [c["name"] for c in report.checks]
    rows = []
    for sym, rep in report.symbols.items():
        cells = []
        for n in names:
            o = rep.checks.get(n)
            cells.append("–" if o is None or o.score is None else f"{100 * o.score:.1f}")
        rows.append([sym, "–" if rep.score is None else f"{rep.score:.1f}",
                     f"{rep.total_rows:,}", *cells, f"{len(rep.findings):,}"])
    basis = report.basis_frame()
    how = html_table(["symbol", "check", "how it was reached"],
                     [[r.symbol, r.check, r.basis] for r in basis.itertuples(index=False)],
                     align="lll")
    return ("<b>Score by symbol and check</b>"
            + html_table(["symbol", "score", "rows", *names, "findings"], rows,
                         align="lrr" + "r" * len(names) + "r")
            + "<b>How each check scored</b> (the share of the data it found usable; a "
              "critical row counts twice, an info row a tenth)" + how)


def _findings_html(report: QualityReport) -> str:
    from ..quality import fmt

    if not report.findings:
        return "<b>Findings</b>: none."
    ordered = sorted(report.findings, key=lambda f: (_SEVERITY_ORDER[f.severity],
                                                     f.start is None, f.start or 0))
    shown = ordered[:MAX_FINDINGS_SHOWN]
    rows = [[f.severity, f.check, f.symbol, f.table or "",
             fmt.utc(f.start) if f.start is not None else "",
             fmt.utc(f.end) if f.end is not None else "", f"{f.count:,}", f.detail]
            for f in shown]
    table = html_table(["severity", "check", "symbol", "table", "start (UTC)", "end (UTC)",
                        "rows", "detail"], rows, align="llllllrl")
    for sev, colour in _SEVERITY_COLOUR.items():  # colour the severity cells
        table = table.replace(f'<td style="text-align:left">{sev}</td>',
                              f'<td style="text-align:left;color:{colour}">{sev}</td>')
    more = (f", the {MAX_FINDINGS_SHOWN} gravest shown" if len(ordered) > len(shown) else "")
    return f"<b>Findings</b> ({len(ordered):,}{more})" + table
