"""The workspace's one way per operation, and the previous release's spellings, which
still work with a DeprecationWarning naming their replacement."""

from __future__ import annotations

import pandas as pd
import pytest

import tsanalysis

from .helpers import ticks


@pytest.fixture
def ws(tmp_path):
    with tsanalysis.connect(tmp_path / "ws.duckdb") as w:
        yield w


def test_feature_namespaces_share_one_pattern(ws):
    for name in ("sessions", "indicators", "quality", "export"):
        assert getattr(ws, name) is getattr(ws, name), name  # one object a workspace
    assert "rsi" in ws.indicators.catalog()["name"].tolist()
    checks = ws.quality.catalog()
    assert {"gaps", "prices", "orderbook"} <= set(checks["name"])
    assert list(checks.columns[:2]) == ["name", "plugin"] and checks.columns[-1] == "doc"
    formats = ws.export.catalog()
    assert {"csv", "parquet", "zip"} <= set(formats["name"])
    assert formats.set_index("name").loc["parquet", "options"] == "compression=snappy"


def _old_spellings(ws, tmp_path):
    """(call of the old spelling, the replacement its warning must name)."""
    return [
        (lambda: ws.create_session(["BTC/USDT"], "old-a"), "ws.sessions.create"),
        (lambda: ws.session("old-a"), "ws.sessions.get"),
        (lambda: ws.list_sessions(), "ws.sessions.list"),
        (lambda: ws.quality("old-a"), "ws.quality.run"),
        (lambda: ws.export("old-a", "csv", tmp_path / "a.csv"), "ws.export.run"),
        (lambda: ws.export_formats(), "ws.export.catalog"),
        (lambda: ws.delete_session("old-a", force=True), "ws.sessions.delete"),
        (lambda: ws.purge(dry_run=True), "ws.sessions.purge"),
    ]


def test_old_spellings_work_and_warn_naming_the_replacement(ws, tmp_path):
    results = []
    for call, replacement in _old_spellings(ws, tmp_path):
        with pytest.warns(DeprecationWarning, match=replacement.replace(".", r"\.")) as rec:
            results.append(call())
        assert rec[0].filename == __file__  # points at the user's line, not ours
        if replacement == "ws.sessions.create":
            ws.ingest("old-a", "BTC/USDT", ticks(50))
    created, got, listed, report, exported, formats, deleted, _ = results
    assert created.session_id == got.session_id == "old-a"
    assert [s.session_id for s in listed] == ["old-a"]
    assert 0 <= report.score <= 100 and exported.rows == 50
    assert "csv" in formats and deleted.deleted["tick_prices"] == 50
    assert not ws.sessions.exists("old-a")


def test_new_spellings_do_not_warn(ws, tmp_path, recwarn):
    sid = ws.sessions.create(["BTC/USDT"]).session_id
    ws.ingest(sid, "BTC/USDT", ticks(50))
    ws.sessions.get(sid), ws.sessions.list(), ws.quality.run(sid)
    ws.export.run(sid, "parquet", tmp_path / "a.parquet")
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 50
    ws.sessions.delete(sid, force=True)
    ws.sessions.purge(dry_run=True)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
