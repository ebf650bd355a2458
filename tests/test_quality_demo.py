"""The demo generator's recorded defects: each found at its recorded place, nothing else;
clean demo data flags nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from tsanalysis.demo import Defect

#: Quotes follow their trade by under 500 µs in the demo generator.
QUOTE_LAG = pd.Timedelta(500, "us")


def _defects(info) -> list[Defect]:
    return [Defect.from_dict(d) for d in info.metadata["demo"]["defects"]]


def _match(defect: Defect, report) -> list:
    """The findings that report ``defect`` (the exact place it was planted)."""
    fs = report.symbols[defect.symbol].findings
    if defect.kind == "gap":
        ticks = [f for f in fs if f.check == "gaps" and f.table == "tick_prices"
                 and (f.start, f.end) == (defect.start, defect.end)]
        quotes = [f for f in fs if f.check == "gaps" and f.table == "tick_orderbook"
                  and defect.start <= f.start <= defect.start + QUOTE_LAG
                  and defect.end <= f.end <= defect.end + QUOTE_LAG]
        assert len(ticks) == 1 and len(quotes) == 1, (defect, ticks, quotes)
        cadences = (defect.end - defect.start).total_seconds()  # 1 s cadence
        assert ticks[0].severity == ("critical" if cadences >= 60 else "warning")
        return ticks + quotes
    if defect.kind == "spike":
        got = [f for f in fs if f.check == "prices" and f.start == defect.start]
        assert len(got) == 1, defect
        assert got[0].data["price"] == defect.detail["price"]
        assert got[0].data["lower"] <= defect.detail["normal_price"] <= got[0].data["upper"]
        return got
    if defect.kind == "stale":
        got = [f for f in fs if f.check == "stale"
               and (f.start, f.end, f.count) == (defect.start, defect.end, defect.rows)]
        assert len(got) == 1, defect
        return got
    # crossed / locked quotes
    got = [f for f in fs if f.check == "orderbook" and f.data.get("kind") == defect.kind
           and (f.start, f.end, f.count) == (defect.start, defect.end, 1)]
    assert len(got) == 1, defect
    return got


@pytest.mark.parametrize("seed, hours", [(42, 2.0), (7, 0.5)])
def test_every_recorded_defect_found_where_recorded_and_nothing_else(ws, sid, seed, hours):
    info = ws.demo(sid, hours=hours, seed=seed)
    defects = _defects(info)
    assert {d.kind for d in defects} == {"gap", "spike", "stale", "crossed", "locked"}
    report = ws.quality.run(sid)
    assert report.errors == []
    matched = [id(f) for d in defects for f in _match(d, report)]
    # the only other findings: each table with a gap is incomplete by the rows it lost
    others = [f for f in report.findings if id(f) not in matched]
    assert {f.check for f in others} == {"completeness"}
    for f in others:
        lost = sum(d.rows for d in defects if d.symbol == f.symbol and d.kind == "gap")
        if f.table == "tick_prices":  # declared 1 s: first and last trades fall anywhere
            assert f.count in (lost - 1, lost), f  # in their second, the grid holds n-1 or n
        else:  # quotes: the inferred cadence carries the jitter of the demo's timestamps
            assert abs(f.count - lost) <= 2, f
    m = report.symbols[defects[0].symbol].metrics
    assert m["crossed_quotes"] == 3 and m["locked_quotes"] == 2
    assert m["price_anomaly_count"] == 3 and m["stale_run_count"] == 1
    assert 0 < report.score < 100


@pytest.mark.parametrize("seed", [42, 3])
def test_clean_demo_data_flags_nothing(ws, sid, seed):
    ws.demo(sid, hours=4, seed=seed, defects=False)
    report = ws.quality.run(sid)
    assert report.errors == []
    assert report.findings == [], report.findings_frame().head(10).to_string()
    assert report.recommendations == []
    assert report.score == 100.0
    for rep in report.symbols.values():
        assert rep.score == 100.0
        assert all(o.applicable for o in rep.checks.values())
        assert rep.metrics["completeness"] == 1.0
