"""QualityPanel: checks and forms from the registry, bounds enforced, the report shown."""

from __future__ import annotations

import pytest

from tests.helpers import ticks
from tsanalysis import hookimpl, plugins
from tsanalysis.demo import Defect
from tsanalysis.errors import InvalidInput
from tsanalysis.quality import CheckResult, Finding, Param, QualityCheck, available_checks
from tsanalysis.widgets import QualityPanel
from tsanalysis.widgets._base import plain_text

KIND_TO_CHECK = {"gap": "gaps", "spike": "prices", "stale": "stale", "crossed": "orderbook",
                 "locked": "orderbook"}


@pytest.fixture
def demo(ws):
    """A small demo session with planted defects (two symbols, six minutes)."""
    return ws.demo(hours=0.1, seed=3, symbols=["BTC/USDT", "ETH/USDT"])


class Grid:
    """A third party's check with a declared, bounded parameter."""

    @staticmethod
    def run(ctx, decimals):
        t = ctx.ticks(["ts", "price"])
        odd = t[t["price"].round(decimals) != t["price"]]
        return CheckResult([Finding("grid.off", ctx.symbol, ts, ts, 1, "warning", "off grid")
                            for ts in odd["ts"]], metrics={"off_grid": len(odd)})

    @hookimpl
    def register_quality_checks(self, register):
        register(QualityCheck(name="grid.off", run=self.run, weight=5,
                              params={"decimals": Param(2, "grid decimals", minimum=0,
                                                        maximum=8)},
                              doc="Prices off a grid of `decimals` places."))


@pytest.fixture
def grid_plugin():
    name = plugins.register(Grid(), name="grid")
    yield name
    plugins.unregister(name)


def test_offers_every_registered_check_with_a_form_of_its_parameters(ws, demo):
    p = QualityPanel(ws, session_id=demo.session_id)
    checks = available_checks()
    assert p.checks == list(checks) and p.selected_checks == list(checks)
    for name, check in checks.items():
        form = p.form(name)
        assert form.raw() == check.defaults and form.valid
    assert p.form("prices").fields["window"].bounds == ">= 3"
    assert not p._run_button.disabled and p.report is None


def test_a_value_out_of_bounds_names_the_bound_and_cannot_be_run(ws, demo):
    p = QualityPanel(ws, session_id=demo.session_id)
    p.form("prices").set(window=1)
    message = "check prices: parameter window must be >= 3, not 1"
    assert p.form("prices").errors == {"window": message}
    assert message in plain_text(p.form("prices")._messages["window"].value)
    assert p._run_button.disabled and "fix the parameters of prices" in plain_text(p._why.value)
    p._run_button.click()  # .click() ignores `disabled`: the action checks again
    assert isinstance(p.last_error, InvalidInput) and message in p.status
    assert p.report is None and p.progress.last is None  # nothing ran
    p.select_checks(["gaps"])  # an invalid form of a check not run does not matter
    assert not p._run_button.disabled
    p.form("prices").set(window=31)
    p.select_checks([])
    assert p._run_button.disabled and "tick at least one check" in plain_text(p._why.value)


def test_a_bad_gap_threshold_is_refused(ws, demo):
    p = QualityPanel(ws, session_id=demo.session_id)
    p._gap.value = "soon"
    assert p._run_button.disabled and "invalid gap threshold" in plain_text(p._gap_error.value)
    p._gap.value = "-5s"
    assert "must be positive" in plain_text(p._gap_error.value)
    p._gap.value = "20s"
    assert not p._run_button.disabled and p.gap_threshold == 20.0


def test_run_shows_the_report_the_core_computes(ws, demo):
    sid = demo.session_id
    p = QualityPanel(ws, session_id=sid)
    p.select_checks(["gaps", "prices", "stale", "orderbook"])
    p.form("prices").set(n_sigmas=6.0)
    p.form("stale").set(min_duration_cadences=5.0)  # short session, short stale runs
    p._run_button.click()
    assert p.last_error is None, p.last_error
    report = p.report
    expected = ws.quality.run(sid, checks=["gaps", "prices", "stale", "orderbook"],
                          params={"prices": {"n_sigmas": 6.0},
                                  "stale": {"min_duration_cadences": 5.0}})
    assert report.score == pytest.approx(expected.score)
    assert [f.to_dict() for f in report.findings] == [f.to_dict() for f in expected.findings]
    assert [c["name"] for c in report.checks] == ["gaps", "prices", "stale", "orderbook"]
    assert next(c for c in report.checks if c["name"] == "prices")["params"]["n_sigmas"] == 6.0
    # every symbol of the session, every tick in the store
    for sym, rep in report.symbols.items():
        n = int(ws.sql("SELECT count(*) AS n FROM tick_prices WHERE session_id = ? AND "
                       "symbol = ?", [sid, sym])["n"].iloc[0])
        assert rep.rows["tick_prices"] == n
    # every planted defect of these checks is listed in the findings
    defects = [Defect.from_dict(d) for d in demo.metadata["demo"]["defects"]]
    found = {(f.check, f.symbol, f.start) for f in report.findings}
    assert [d for d in defects if (KIND_TO_CHECK[d.kind], d.symbol, d.start) not in found] == []
    # score, breakdown, recommendations, findings, picture
    assert p.score_text.startswith(f"{report.score:.1f}/100") and sid in p.score_text
    summary = plain_text(p._summary.value)
    btc = report.symbols["BTC/USDT"]
    assert f"BTC/USDT {btc.score:.1f} {btc.total_rows:,}" in summary
    assert f"{100 * btc.checks['gaps'].score:.1f}" in summary
    assert report.recommendations[0] in plain_text(p._recommendations.value)
    findings = plain_text(p._findings.value)
    assert f"Findings ({len(report.findings):,}" in findings
    assert findings.index("critical") < findings.index("warning") if "critical" in findings \
        else True
    assert p.png.startswith(b"\x89PNG")
    ax = p.figure.axes[0]
    gaps = [f for f in btc.findings if f.check == "gaps"]
    assert gaps and len(ax.patches) >= len(gaps)  # each gap shaded
    assert btc.metrics.get("price_anomalies") and ax.collections  # anomalies marked
    assert p.progress.last == (8, 8)  # 4 checks x 2 symbols
    assert "Assessed" in p.status and "score" in p.status


def test_a_third_party_check_gets_a_form_and_runs(ws, demo, grid_plugin):
    p = QualityPanel(ws, session_id=demo.session_id)
    assert "grid.off" in p.checks
    assert p._boxes["grid.off"].description == "grid.off (plugin)"
    p.form("grid.off").set(decimals=9)
    assert "must be <= 8" in p.form("grid.off").errors["decimals"]
    p.form("grid.off").set(decimals=0)
    p.select_checks(["grid.off"])
    p._run_button.click()
    assert p.last_error is None, p.last_error
    off = sum(r.metrics["off_grid"] for r in p.report.symbols.values())
    prices = ws.sql("SELECT price FROM tick_prices WHERE session_id = ?", [demo.session_id])
    assert off == int((prices["price"].round(0) != prices["price"]).sum()) > 0


def test_a_check_registered_after_the_panel_shows_up_on_refresh(ws, demo):
    p = QualityPanel(ws, session_id=demo.session_id)
    p.form("gaps").set(gap_factor=7.0)
    name = plugins.register(Grid(), name="grid-late")
    try:
        p.refresh()
        assert p.checks[-1] == "grid.off"
        assert p.form("gaps").raw()["gap_factor"] == 7.0  # what was typed is kept
    finally:
        plugins.unregister(name)
    p.refresh()
    assert "grid.off" not in p.checks


def test_new_rows_mark_the_report_out_of_date_and_another_session_clears_it(ws, demo, sid):
    p = QualityPanel(ws, session_id=demo.session_id)
    p.select_checks(["gaps"])
    p.assess()
    assert "run again" not in p.score_text
    more = ticks(10, start=demo.last_ts + ticks(2)["ts"].diff().iloc[1] * 5)
    ws.ingest(demo.session_id, "BTC/USDT", more)  # the panel hears of it
    assert p.report is not None and "the session changed since" in p.score_text
    ws.sessions.create(["BTC/USDT"], sid, status="completed")
    p.session_id = sid
    assert p.report is None and p.png == b"" and p.score_text == ""


def test_without_a_session_nothing_runs(ws, demo):
    p = QualityPanel(ws)
    assert p._run_button.disabled and "Select a session" in p.score_text
    with pytest.raises(InvalidInput, match="no session selected"):
        p.assess()
    p.session_id = demo.session_id
    assert not p._run_button.disabled


def test_deleting_the_session_forgets_the_report(ws, demo):
    p = QualityPanel(ws, session_id=demo.session_id)
    p.select_checks(["gaps"])
    p._run_button.click()
    assert p.report is not None
    ws.sessions.delete(demo.session_id)
    assert p.session_id is None and p.report is None and p._run_button.disabled
