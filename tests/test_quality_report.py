"""The report (score, JSON, HTML, picture), the registry, and checks added at run time."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import tsanalysis
from tsanalysis import hookimpl, plugins
from tsanalysis.errors import InvalidInput, SessionNotFound
from tsanalysis.plugins import PluginWarning
from tsanalysis.quality import (
    CheckResult,
    Finding,
    Param,
    QualityCheck,
    QualityReport,
    available_checks,
)
from tsanalysis.quality import score as qscore
from tsanalysis.quality.registry import owner
from tsanalysis.timeutil import parse_duration

from .quality_data import at, plant

BUILTINS = ["completeness", "gaps", "timestamps", "prices", "stale", "volume", "orderbook",
            "consistency"]


class RoundPrices:
    """A third party's plugin: prices off a grid of ``decimals`` places."""

    @staticmethod
    def run(ctx, decimals):
        ticks = ctx.ticks(["ts", "price"])
        odd = ticks[ticks["price"].round(decimals) != ticks["price"]]
        return CheckResult(
            [Finding("thirdparty.round_prices", ctx.symbol, start=ts, end=ts, count=1,
                     severity="warning", detail="price off the grid") for ts in odd["ts"]],
            metrics={"off_grid_prices": len(odd)})

    @hookimpl
    def register_quality_checks(self, register):
        register(QualityCheck(name="thirdparty.round_prices", run=self.run,
                              params={"decimals": Param(2, "grid decimals", minimum=0)},
                              tables=("tick_prices",), weight=10,
                              doc="Prices off the tick grid."))


@pytest.fixture
def third_party():
    name = plugins.register(RoundPrices(), name="thirdparty")
    yield name
    plugins.unregister(name)


def test_builtins_are_registered_like_plugins():
    checks = available_checks()
    assert list(checks) == BUILTINS
    assert sum(c.weight for c in checks.values()) == 100
    for c in checks.values():
        assert c.doc and all(p.doc for p in c.params.values()), c.name
    listed = {p.name: p for p in tsanalysis.list_plugins()}
    mine = listed["tsanalysis.default_plugins.quality"]
    assert mine.builtin and mine.registered["register_quality_checks"] == BUILTINS


def test_a_check_registered_at_run_time_appears_in_the_report(ws, sid, third_party):
    ws.sessions.create(["X/USD"], sid, cadence_s=1.0)
    ticks = pd.DataFrame({"ts": [at(i) for i in range(5)],
                          "price": [1.0, 1.25, 1.001, 1.5, 1.0005], "volume": 1.0})
    ws.ingest(sid, "X/USD", ticks)
    assert "thirdparty.round_prices" in available_checks()
    r = ws.quality.run(sid)
    names = [c["name"] for c in r.checks]
    assert names == [*BUILTINS, "thirdparty.round_prices"]
    assert r.checks[-1]["plugin"] == "thirdparty" and r.checks[-1]["params"] == {"decimals": 2}
    mine = [f for f in r.findings if f.check == "thirdparty.round_prices"]
    assert [f.start for f in mine] == [at(2), at(4)]
    sym = r.to_dict()["symbols"]["X/USD"]
    assert sym["off_grid_prices"] == 2
    # scored from its findings: 2 warnings over 5 rows leave 3 of 5 usable
    assert sym["checks"]["thirdparty.round_prices"]["score"] == 60.0
    assert sym["checks"]["thirdparty.round_prices"]["basis"] == "2 warning rows of 5 rows: 60.0"
    assert any("thirdparty.round_prices" in line for line in r.recommendations)
    # its parameters are the caller's to set, and validated
    r = ws.quality.run(sid, checks="thirdparty.round_prices",
                   params={"thirdparty.round_prices": {"decimals": 3}})
    assert [f.start for f in r.findings] == [at(4)]
    with pytest.raises(InvalidInput, match="decimals must be >= 0"):
        ws.quality.run(sid, params={"thirdparty.round_prices": {"decimals": -1}})
    plugins.unregister(third_party)
    assert "thirdparty.round_prices" not in available_checks()
    plugins.register(RoundPrices(), name=third_party)  # for the fixture's teardown


def test_a_name_registered_twice_warns_naming_both_plugins_and_the_first_wins(third_party):
    class Again:
        @hookimpl
        def register_quality_checks(self, register):
            register(QualityCheck(name="thirdparty.round_prices", run=lambda ctx: []))
            register(QualityCheck(name="prices", run=lambda ctx: []))  # a built-in's name

    plugins.register(Again(), name="again")
    try:
        with pytest.warns(PluginWarning) as caught:
            checks = available_checks()
        messages = [str(w.message) for w in caught]
        assert len(messages) == 2 and all("'again'" in m for m in messages)
        assert "'thirdparty'" in messages[0] and "tsanalysis.default_plugins.quality" in \
            messages[1]
        assert owner("thirdparty.round_prices") == "thirdparty"
        assert owner("prices") == "tsanalysis.default_plugins.quality"
        assert checks["prices"].run is not None and len(checks) == len(BUILTINS) + 1
    finally:
        plugins.unregister("again")


def test_a_failing_check_is_reported_and_the_others_still_run(ws, sid):
    def broken(ctx):
        raise RuntimeError("boom")

    class Broken:
        @hookimpl
        def register_quality_checks(self, register):
            register(QualityCheck(name="broken.check", run=broken))

    ws.demo(sid, symbols=["BTC/USDT"], hours=0.2, defects=False)
    plugins.register(Broken(), name="broken")
    try:
        r = ws.quality.run(sid)
    finally:
        plugins.unregister("broken")
    assert r.errors == [{"check": "broken.check", "symbol": "BTC/USDT",
                         "error": "RuntimeError: boom"}]
    assert r.score == 100.0  # left out of the score, not counted as clean or as zero
    assert r.symbols["BTC/USDT"].checks["broken.check"].score is None
    assert any("broken.check failed" in line for line in r.recommendations)


def test_score_formula_and_weights(ws, sid):
    plant(ws, sid)
    r = ws.quality.run(sid, "AAA/USD")
    rep = r.symbols["AAA/USD"]
    parts = [(o.weight, o.score) for o in rep.checks.values() if o.applicable]
    assert rep.score == pytest.approx(qscore.combine(parts))
    assert rep.checks["completeness"].score == pytest.approx(486 / 600)
    # prices: 3 invalid (critical, x2) + 2 spikes (warning) of 486 trades
    assert rep.checks["prices"].score == pytest.approx(1 - (2 * 3 + 2) / 486)
    assert rep.checks["prices"].basis == ("3 invalid prices (critical ×2) + 2 price spikes of "
                                          "486 trades: 98.4")
    # stale: 20 rows of 486
    assert rep.checks["stale"].score == pytest.approx(1 - 20 / 486)
    # gaps: seconds in gaps against the 599 s span, critical x2, info x0.1
    assert rep.checks["gaps"].score == pytest.approx(1 - (2 * 81 + 31 + 0.1 * 8) / 599)
    mild = ws.quality.run(sid, "AAA/USD", checks="gaps", params={"gaps": {
        "warning_cadences": 1000, "critical_cadences": 1000}})
    assert mild.symbols["AAA/USD"].checks["gaps"].score == pytest.approx(
        1 - 0.1 * (31 + 81 + 8) / 599)
    whole = ws.quality.run(sid)
    rows = {s: x.total_rows for s, x in whole.symbols.items()}
    expect = sum(whole.symbols[s].score * n for s, n in rows.items()) / sum(rows.values())
    assert whole.score == pytest.approx(expect)
    assert qscore.from_findings([], 10) == (1.0, "nothing wrong in 10 rows: 100.0")
    two = [Finding("x", "S", at(0), count=1, severity="info")] * 2
    assert qscore.from_findings(two, 100)[0] == pytest.approx(1 - 0.2 / 100)
    bad = [Finding("x", "S", at(0), count=5, severity="critical")]
    assert qscore.from_findings(bad, 100) == (pytest.approx(0.9),
                                              "5 critical rows (critical ×2) of 100 rows: 90.0")


def test_json_has_the_documented_keys(ws, sid):
    plant(ws, sid)
    d = json.loads(ws.quality.run(sid).to_json())
    assert {"score", "symbols", "findings", "recommendations"} <= set(d)
    keys = {"score", "rows", "expected_rows", "completeness", "gaps", "out_of_order_rows",
            "duplicate_rows", "same_timestamp_rows", "price_anomalies", "stale_runs",
            "crossed_quotes", "locked_quotes"}
    for sym in ("AAA/USD", "BBB/USD", "CCC/USD"):
        assert keys <= set(d["symbols"][sym]), keys - set(d["symbols"][sym])
    a = d["symbols"]["AAA/USD"]
    assert a["gaps"][0] == {"start": "2026-01-05T00:03:19Z", "end": "2026-01-05T00:03:50Z",
                            "duration_s": 31.0, "severity": "warning", "cadences": 31.0,
                            "closed_s": 0.0}
    assert set(a["price_anomalies"][0]) == {"ts", "price", "lower", "upper"}
    assert a["price_anomalies"][0]["ts"] == "2026-01-05T00:01:40Z"
    assert a["stale_runs"][0]["rows"] == 20
    assert d["symbols"]["BBB/USD"]["crossed_quotes"] == 3
    assert d["symbols"]["BBB/USD"]["locked_quotes"] == 1
    # not measured (no quotes; no trades) is null, not zero
    assert a["crossed_quotes"] is None and d["symbols"]["BBB/USD"]["price_anomalies"] is None
    f = d["findings"][0]
    assert set(f) == {"check", "symbol", "table", "start", "end", "count", "severity",
                      "detail", "data"}
    gaps = [x for x in d["findings"] if x["check"] == "gaps" and x["symbol"] == "AAA/USD"]
    assert gaps[1]["start"] == "2026-01-05T00:06:39Z" and gaps[1]["severity"] == "critical"
    assert any("re-record 2026-01-05 00:06:39–00:08:00 UTC on AAA/USD" in r
               for r in d["recommendations"])
    assert any(r.startswith("BBB/USD: 3 crossed quotes") and "drop or correct" in r
               for r in d["recommendations"])


def test_recommendations_gravest_first_with_times_and_symbols(ws, sid):
    plant(ws, sid)
    recs = ws.quality.run(sid).recommendations
    first = recs.index("re-record 2026-01-05 00:06:39–00:08:00 UTC on AAA/USD (1 min 21 s "
                       "without data)")
    crossed = next(i for i, r in enumerate(recs) if "crossed quotes" in r)
    assert first < crossed  # from critical findings before those from warnings
    assert recs[first - 2:first] == [
        "AAA/USD is incomplete: trades 81.0% (114 of 600 rows missing); the gaps say where",
        "re-record 2026-01-05 00:03:19–00:03:50 UTC on AAA/USD (31 s without data)"]
    assert any("AAA/USD: drop 3 trades with a non-finite or non-positive price" == r
               for r in recs)
    assert any(r.startswith("AAA/USD: price stuck at") and "00:04:10–00:04:29 UTC" in r
               for r in recs)
    assert any(r.startswith("AAA/USD: 2 price spikes at 2026-01-05 00:01:40, "
                            "2026-01-05 00:05:50 UTC") for r in recs)


def test_html_and_picture(ws, sid):
    info = ws.demo(sid, symbols=["BTC/USDT", "ETH/USDT"], hours=1)
    r = ws.quality.run(info.session_id)
    html = r._repr_html_()
    assert f"Quality of session {sid}" in html and f"{r.score:.1f}/100" in html
    assert '<img alt="prices with gaps and anomalies" src="data:image/png;base64,' in html
    assert "Recommendations" in html and "re-record" in html and "crossed" in html
    fig = r.plot()
    axes = fig.get_axes()
    assert [a.get_title(loc="left").split()[0] for a in axes] == ["BTC/USDT", "ETH/USDT"]
    # per symbol: two gaps in trades and two in quotes shaded, one stale run
    assert len(axes[0].patches) == 5
    bars = r.price_bars("BTC/USDT")
    assert bars["close"].isna().any()  # the line breaks over the gaps
    assert "<QualityReport" in repr(r)
    frame = r.findings_frame()
    assert list(frame.columns) == ["check", "symbol", "table", "start", "end", "count",
                                   "severity", "detail"]
    assert len(frame) == len(r.findings)


def test_bad_requests_change_nothing_and_say_why(ws, sid):
    ws.demo(sid, symbols=["BTC/USDT", "ETH/USDT"], hours=0.1)
    with pytest.raises(InvalidInput, match=r"'XRP/USDT' is not in session .*: BTC/USDT, ETH/USDT"):
        ws.quality.run(sid, "XRP/USDT")
    with pytest.raises(InvalidInput, match="unknown quality check.*available: completeness"):
        ws.quality.run(sid, checks=["gaps", "nope"])
    with pytest.raises(InvalidInput, match="has no parameter 'k'.*gap_factor"):
        ws.quality.run(sid, params={"gaps": {"k": 1}})
    with pytest.raises(InvalidInput, match="must be a float"):
        ws.quality.run(sid, params={"gaps": {"gap_factor": "x"}})
    with pytest.raises(InvalidInput, match="not run"):
        ws.quality.run(sid, checks="gaps", params={"prices": {"n_sigmas": 5}})
    with pytest.raises(InvalidInput, match="gap threshold"):
        ws.quality.run(sid, gap_threshold="soon")
    with pytest.raises(SessionNotFound):
        ws.quality.run("no-such-session")
    with pytest.raises(InvalidInput):
        ws.quality.run(sid, chunk_rows=0)


def test_parse_duration():
    assert parse_duration("30s") == 30 and parse_duration("5m") == 300
    assert parse_duration("500ms") == 0.5 and parse_duration(2) == 2.0
    assert parse_duration(pd.Timedelta(minutes=1)) == 60
    for bad in ("0s", "-1s", "abc", True, None):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def test_progress_is_reported(ws, sid):
    ws.demo(sid, symbols=["BTC/USDT", "ETH/USDT"], hours=0.1)
    seen = []
    r = ws.quality.run(sid, progress=lambda done, total: seen.append((done, total)))
    assert isinstance(r, QualityReport)
    assert seen == [(i, 16) for i in range(1, 17)]


def test_a_check_written_for_the_tolerance_score_still_loads_and_warns():
    """``tolerance`` went with the tolerance-based score; a check that still passes it
    loads (it is ignored) and its author is told, at their own line."""
    with pytest.warns(DeprecationWarning, match="tolerance") as caught:
        check = QualityCheck(name="thirdparty.old", run=lambda ctx: [], tolerance=0.01)
    assert caught[0].filename == __file__
    assert check.name == "thirdparty.old" and check.weight == 5.0
