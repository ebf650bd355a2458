"""Every built-in check on planted defects: exact counts, exact places, nothing else."""

from __future__ import annotations

import tempfile

import pandas as pd
import pytest

from tsanalysis.store.base import Store

from .quality_data import AAA_EXPECTED as A
from .quality_data import CCC_EXPECTED as C
from .quality_data import at, plant


@pytest.fixture
def planted(ws, sid):
    return plant(ws, sid)


def _rows(report, symbol, check=None):
    return [(f.check, f.table, f.start, f.end, f.count, f.severity)
            for f in report.symbols[symbol].findings if check is None or f.check == check]


def test_trades_defects_found_exactly_and_nothing_else(ws, planted):
    r = ws.quality.run(planted.session_id, "AAA/USD")
    T = "tick_prices"
    expected = [
        ("completeness", T, at(0), at(599), 600 - 486, "critical"),
        ("gaps", T, at(199), at(230), 30, "warning"),
        ("gaps", T, at(399), at(480), 80, "critical"),
        ("gaps", T, at(519), at(527), 7, "info"),
        ("timestamps", T, at(150), at(150), 2, "info"),
        ("timestamps", T, at(300), at(300), 1, "warning"),
        ("timestamps", T, at(497.5), at(497.5), 1, "warning"),
        ("prices", T, at(100), at(100), 1, "warning"),
        ("prices", T, at(180), at(181), 2, "critical"),
        ("prices", T, at(350), at(350), 1, "warning"),
        ("prices", T, at(590), at(590), 1, "critical"),
        ("stale", T, at(250), at(269), 20, "warning"),
        ("volume", T, at(170), at(170), 1, "critical"),
        ("volume", T, at(540), at(554), 15, "warning"),
        ("volume", T, at(575), at(575), 1, "info"),
    ]
    assert _rows(r, "AAA/USD") == expected
    m = r.symbols["AAA/USD"].metrics
    assert (m["rows"], m["expected_rows"], m["completeness"]) == (486, 600, 0.81)
    assert (m["cadence_s"], m["cadence_source"]) == (1.0, "declared")
    assert m["gap_count"] == 3 and m["gap_threshold_s"] == 5.0
    assert [(g["start"], g["end"], g["severity"]) for g in m["gaps"]] == A["gaps"]
    assert [g["duration_s"] for g in m["gaps"]] == [31.0, 81.0, 8.0]
    assert (m["out_of_order_rows"], m["duplicate_rows"], m["same_timestamp_rows"]) == (2, 2, 1)
    assert (m["invalid_prices"], m["price_anomaly_count"]) == (3, 2)
    assert [a["ts"] for a in m["price_anomalies"]] == A["spikes"]
    for a in m["price_anomalies"]:  # the bounds used, and the spike outside them
        assert a["lower"] < a["upper"]
        assert not (a["lower"] <= a["price"] <= a["upper"])
        assert a["upper"] - a["lower"] < 1.0  # a 1 % band at most around 100
    assert m["price_anomalies"][0]["price"] > m["price_anomalies"][0]["upper"]
    assert m["price_anomalies"][1]["price"] < m["price_anomalies"][1]["lower"]
    assert [(s["start"], s["end"], s["rows"]) for s in m["stale_runs"]] == [A["stale"]]
    assert m["stale_rows"] == 20
    assert (m["negative_volumes"], m["zero_volume_runs"], m["zero_volume_rows"],
            m["volume_spike_count"]) == (1, 1, 15, 1)
    assert m["volume_spikes"][0]["ts"] == A["volume_spike"]
    # no quotes and no bars for this symbol: those checks are left out, not scored clean
    checks = r.symbols["AAA/USD"].checks
    assert not checks["orderbook"].applicable and checks["orderbook"].score is None
    assert not checks["consistency"].applicable
    assert r.errors == []


def test_out_of_order_detail_names_the_earlier_row(ws, planted):
    r = ws.quality.run(planted.session_id, "AAA/USD", checks="timestamps")
    late = [f for f in r.findings if f.severity == "warning"]
    assert [f.data["previous_ts"] for f in late] == ["2026-01-05T00:05:01Z",
                                                     "2026-01-05T00:08:19Z"]
    assert "1 s later" in late[0].detail and "1.5 s later" in late[1].detail


def test_quote_defects_found_exactly_and_nothing_else(ws, planted):
    r = ws.quality.run(planted.session_id, "BBB/USD")
    Q = "tick_orderbook"
    assert _rows(r, "BBB/USD") == [
        ("orderbook", Q, at(50), at(51), 2, "warning"),
        ("orderbook", Q, at(120), at(120), 1, "warning"),
        ("orderbook", Q, at(150), at(152), 3, "warning"),
        ("orderbook", Q, at(153), at(153), 1, "warning"),
        ("orderbook", Q, at(200), at(200), 1, "warning"),
        ("orderbook", Q, at(250), at(250), 1, "info"),
    ]
    kinds = [f.data["kind"] for f in r.findings]
    assert kinds == ["crossed", "locked", "missing_side", "missing_side", "crossed",
                     "wide_spread"]
    assert "no bid" in r.findings[2].detail and "no ask" in r.findings[3].detail
    assert r.findings[5].data["spread"] == pytest.approx(5.0)
    assert r.findings[5].data["median_spread"] == pytest.approx(0.1)
    m = r.symbols["BBB/USD"].metrics
    assert (m["crossed_quotes"], m["locked_quotes"], m["missing_bid_quotes"],
            m["missing_ask_quotes"], m["spread_outliers"]) == (3, 1, 3, 1, 1)
    assert (m["quote_rows"], m["quote_expected_rows"], m["quote_completeness"]) == (300, 300, 1)
    assert m["quote_cadence_source"] == "inferred"
    assert m["quote_cadence_s"] == pytest.approx(1.0)
    assert m["rows"] == 0 and m["completeness"] is None
    checks = r.symbols["BBB/USD"].checks
    assert {n for n, o in checks.items() if o.applicable} == {"completeness", "gaps",
                                                             "timestamps", "orderbook"}


def test_bars_against_ticks(ws, planted):
    r = ws.quality.run(planted.session_id, "CCC/USD", checks=["consistency"])
    m = r.symbols["CCC/USD"].metrics
    assert {k: m[k] for k in C if k != "bad_bars"} == {k: v for k, v in C.items()
                                                      if k != "bad_bars"}
    assert m["bar_intervals"] == ["1m"]
    got = {f.start: f.detail for f in r.findings}
    assert list(got) == list(C["bad_bars"])
    for start, word in C["bad_bars"].items():
        assert word in got[start]
    assert all(f.end == f.start + pd.Timedelta(seconds=60) - pd.Timedelta(1, "us")
               for f in r.findings)
    assert any("rebuild" in line and "--interval 1m" in line for line in r.recommendations)


def test_bars_built_from_the_ticks_are_consistent(ws, sid):
    ws.demo(sid, symbols=["BTC/USDT"], hours=0.5, bar_intervals=("1m", "5m"))
    r = ws.quality.run(sid, checks="consistency")
    m = r.symbols["BTC/USDT"].metrics
    assert m["bars_checked"] == 30 + 6 and m["bar_intervals"] == ["1m", "5m"]
    assert r.findings == [] and r.score == 100.0


@pytest.mark.parametrize("chunk_rows", [7, 64, 200])
def test_streamed_in_chunks_gives_the_same_report(ws, planted, chunk_rows, tmp_path,
                                                  monkeypatch):
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    made = []
    mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(1) or mkdtemp(**kw))
    whole = ws.quality.run(planted.session_id, chunk_rows=None).to_dict()
    assert made == []
    chunked = ws.quality.run(planted.session_id, chunk_rows=chunk_rows).to_dict()
    assert len(made) == 3  # each symbol's table was streamed, copied once, re-read
    assert list(spill.iterdir()) == []  # and the copies are gone
    for d in (whole, chunked):
        d.pop("generated_at")
        d.pop("elapsed_s")
    assert chunked == whole


def test_gap_threshold_override(ws, planted):
    r = ws.quality.run(planted.session_id, "AAA/USD", checks="gaps", gap_threshold="30s")
    m = r.symbols["AAA/USD"].metrics
    assert [(g["start"], g["end"]) for g in m["gaps"]] == [g[:2] for g in A["gaps"][:2]]
    assert m["gap_threshold_s"] == 30.0
    r = ws.quality.run(planted.session_id, "AAA/USD", checks="gaps", gap_threshold=100)
    assert r.symbols["AAA/USD"].metrics["gaps"] == []


def test_parameters_change_what_is_found(ws, planted):
    sid = planted.session_id
    # stale runs of 25 trades or more: the planted one (20) no longer counts
    r = ws.quality.run(sid, "AAA/USD", checks="stale", params={"stale": {"min_rows": 25}})
    assert r.findings == []
    # a tolerance above the swap's 1 s and below the late row's 1.5 s: only the late row
    r = ws.quality.run(sid, "AAA/USD", checks="timestamps",
                   params={"timestamps": {"tolerance_ms": 1200}})
    assert r.symbols["AAA/USD"].metrics["out_of_order_rows"] == 1
    # zero-volume runs of 5: the short run counts too
    r = ws.quality.run(sid, "AAA/USD", checks="volume", params={"volume": {"min_zero_rows": 5}})
    assert r.symbols["AAA/USD"].metrics["zero_volume_runs"] == 2


def test_inferred_cadence_of_irregular_trades(ws, sid):
    """Poisson trades (mean 1 s) with a 10-minute outage and no declared cadence: the
    cadence is the mean interval outside outages, not the median (0.69 s) or the mean
    pulled up by the outage."""
    import numpy as np

    rng = np.random.default_rng(11)
    steps = rng.exponential(1.0, 20_000)
    steps[10_000] = 600.0
    ts = pd.Timestamp("2026-01-05T00:00:00Z") + pd.to_timedelta(np.cumsum(steps), unit="s")
    ws.sessions.create(["P/USD"], sid)
    ws.ingest(sid, "P/USD", pd.DataFrame({"ts": ts, "price": 100 + np.cumsum(
        rng.normal(0, 0.01, len(ts))), "volume": 1.0}))
    r = ws.quality.run(sid, checks=["completeness", "gaps"],
                   params={"gaps": {"gap_factor": 60}})
    m = r.symbols["P/USD"].metrics
    assert m["cadence_source"] == "inferred"
    assert m["cadence_s"] == pytest.approx(1.0, rel=0.03)
    assert m["completeness"] == pytest.approx(1 - 600 / (steps.sum()), abs=0.005)
    assert [g["duration_s"] for g in m["gaps"]] == [pytest.approx(600.0, abs=1e-6)]
    assert m["gaps"][0]["severity"] == "critical"


def test_store_time_order_operations_match_the_generic_versions(ws, planted):
    """The backend's pushed-down versions agree with the generic ones built on iter_arrow."""
    st, sid = ws.store, planted.session_id
    for table in ("tick_prices", "tick_orderbook"):
        for limit in (1, 5_000_000, 30_000_000):
            pd.testing.assert_frame_equal(st.find_gaps(table, sid, limit),
                                          Store.find_gaps(st, table, sid, limit),
                                          check_dtype=False)
        assert st.median_step_us(table, sid) == Store.median_step_us(st, table, sid)
    gaps = st.find_gaps("tick_prices", sid, 5_000_000, symbols=["AAA/USD"])
    assert list(zip(gaps["start"], gaps["end"], strict=True)) == [g[:2] for g in A["gaps"]]
    assert st.median_step_us("tick_prices", sid, symbols=["AAA/USD"]) == {"AAA/USD": 1e6}
    for tol, lim in ((0, 100), (1_000_000, 100), (0, 1)):
        a = st.out_of_order("tick_prices", sid, "AAA/USD", tolerance_us=tol, limit=lim)
        b = Store.out_of_order(st, "tick_prices", sid, "AAA/USD", tolerance_us=tol, limit=lim)
        assert a[0] == b[0]
        pd.testing.assert_frame_equal(a[1].reset_index(drop=True), b[1], check_dtype=False)
    n, rows = st.out_of_order("tick_prices", sid, "AAA/USD")
    assert n == 2 and list(rows["ts"]) == A["out_of_order"]
    assert list(rows["prev_ts"]) == [at(301), at(499)]
    assert st.out_of_order("tick_prices", sid, "AAA/USD", limit=1)[0] == 2
