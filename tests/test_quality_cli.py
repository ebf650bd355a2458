"""``tsanalysis quality`` run as users run it: output, JSON shape, exit codes."""

from __future__ import annotations

import json

import pytest

from tsanalysis.errors import EXIT_NOT_FOUND, EXIT_QUALITY_BELOW

from .test_cli import run


@pytest.fixture
def demo_session(ws, sid):
    ws.demo(sid, symbols=["BTC/USDT", "ETH/USDT"], hours=1, seed=3)
    ws.close()  # let the command line take the file
    return sid


def test_json_shape_and_exit_codes(store_url, demo_session):
    sid = demo_session
    p = run(store_url, "quality", sid, "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert {"score", "symbols", "findings", "recommendations"} <= set(d)
    assert list(d["symbols"]) == ["BTC/USDT", "ETH/USDT"]
    for sym in d["symbols"].values():
        assert {"score", "rows", "expected_rows", "completeness", "gaps", "out_of_order_rows",
                "duplicate_rows", "same_timestamp_rows", "price_anomalies", "stale_runs",
                "crossed_quotes", "locked_quotes"} <= set(sym)
        assert {"start", "end", "duration_s", "severity"} <= set(sym["gaps"][0])
        assert {"ts", "price", "lower", "upper"} == set(sym["price_anomalies"][0])
        assert sym["crossed_quotes"] == 3 and sym["locked_quotes"] == 2
    assert {"check", "symbol", "start", "end", "count", "severity", "detail"} <= set(
        d["findings"][0])
    assert any(r.startswith("re-record 2026-01-05 ") for r in d["recommendations"])
    score = d["score"]
    assert 0 < score < 100

    below = run(store_url, "quality", sid, "--json", "--fail-under", str(score + 1))
    assert below.returncode == EXIT_QUALITY_BELOW
    assert json.loads(below.stdout)["score"] == score  # the report is still printed
    assert below.stderr.strip() == f"quality score {score:.1f} is under {score + 1:g}"
    assert run(store_url, "quality", sid, "--fail-under", str(score - 1)).returncode == 0


def test_human_output(store_url, demo_session):
    p = run(store_url, "quality", demo_session)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith(f"session {demo_session}: quality score ")
    assert "recommendations:" in out and "re-record" in out
    assert "findings (" in out and "crossed quote" in out


def test_selection_and_gap_threshold(store_url, demo_session):
    sid = demo_session
    p = run(store_url, "quality", sid, "--json", "--symbol", "ETH/USDT", "--check", "gaps",
            "--check", "prices")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert list(d["symbols"]) == ["ETH/USDT"]
    assert [c["name"] for c in d["checks"]] == ["gaps", "prices"]
    assert {f["check"] for f in d["findings"]} == {"gaps", "prices"}
    assert d["symbols"]["ETH/USDT"]["crossed_quotes"] is None  # not measured
    # the demo's gaps last about a minute: a 10-minute threshold reports none
    p = run(store_url, "quality", sid, "--json", "--check", "gaps,completeness",
            "--gap-threshold", "10m")
    d = json.loads(p.stdout)
    assert all(s["gaps"] == [] for s in d["symbols"].values())
    assert d["gap_threshold_s"] == 600.0


def test_errors_are_one_line_with_the_right_code(store_url, demo_session):
    sid = demo_session
    p = run(store_url, "quality", "no-such-session")
    assert p.returncode == EXIT_NOT_FOUND
    assert p.stderr.strip() == "error: session not found: 'no-such-session'"
    p = run(store_url, "quality", sid, "--symbol", "XRP/USDT")
    assert p.returncode == 1
    assert p.stderr.strip() == (f"error: symbol 'XRP/USDT' is not in session {sid!r}; its "
                                "symbols: BTC/USDT, ETH/USDT")
    p = run(store_url, "quality", sid, "--check", "nope")
    assert p.returncode == 1 and "unknown quality check(s): nope; available: " in p.stderr
    p = run(store_url, "quality", sid, "--gap-threshold", "soon")
    assert p.returncode == 1 and "invalid gap threshold 'soon'" in p.stderr
    p = run(store_url, "quality", sid, "--fail-under", "101")
    assert p.returncode == 2
    for q in (p,):
        assert "Traceback" not in q.stderr
