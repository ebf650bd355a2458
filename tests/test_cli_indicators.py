"""``tsanalysis indicators ...`` run as a user runs it: JSON shapes, CSV, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import tsanalysis

from .helpers import T0, ticks
from .test_cli import ok, run

SYM = "BTC/USDT"


@pytest.fixture
def session(store_url, sid):
    with tsanalysis.connect(store_url) as ws:
        ws.sessions.create([SYM], sid, cadence_s=1.0)
        ws.ingest(sid, SYM, ticks(400))
    return store_url, sid


def one_line_error(p, code: int) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    return p.stderr


def test_list(store_url):
    listed = json.loads(ok(run(store_url, "indicators", "list", "--json")).stdout)
    rsi = next(i for i in listed if i["name"] == "rsi")
    assert rsi["plugin"] == "tsanalysis.default_plugins.indicators"
    assert rsi["inputs"] == ["close"] and rsi["outputs"] == ["real"]
    assert rsi["params"] == [{"name": "timeperiod", "type": "int", "default": 14, "minimum": 2,
                              "maximum": 100000, "choices": None,
                              "doc": "number of points in the window"}]
    macd = next(i for i in listed if i["name"] == "macd")
    assert macd["outputs"] == ["macd", "macdsignal", "macdhist"]
    table = ok(run(store_url, "indicators", "list")).stdout
    assert any(line.split()[:2] == ["rsi", "builtin"] for line in table.splitlines())


def test_compute_history_update(session):
    url, sid = session
    out = json.loads(ok(run(url, "indicators", "compute", sid, "--symbol", SYM, "--indicator",
                            "rsi", "--json")).stdout)
    assert out == {"session_id": sid, "symbol": SYM, "rows": 400,
                   "outputs": {"real": "rsi_14"}}
    bars = json.loads(ok(run(url, "indicators", "compute", sid, "--symbol", SYM, "--indicator",
                             "MACD", "--param", "fastperiod=3", "--param", "slowperiod=5",
                             "--param", "signalperiod=2", "--interval", "10s",
                             "--json")).stdout)
    assert bars["rows"] == 40 and bars["outputs"]["macdsignal"] == "macd_3_5_2_macdsignal.10s"

    hist = json.loads(ok(run(url, "indicators", "history", sid, "--symbol", SYM,
                             "--indicator-id", "rsi_14", "--json")).stdout)
    assert set(hist) == {"session_id", "symbol", "indicator_id", "source", "rows"}
    assert hist["source"] == url.split(":")[0] and len(hist["rows"]) == 400
    assert hist["rows"][0] == {"ts": "2026-01-05T00:00:00Z", "value": None}  # warm-up: null
    assert all(r["value"] is None for r in hist["rows"][:14])
    assert all(isinstance(r["value"], float) for r in hist["rows"][14:])
    page = json.loads(ok(run(url, "indicators", "history", sid, "--symbol", SYM,
                             "--indicator-id", "rsi_14", "--start", "2026-01-05T00:01:00Z",
                             "--end", "2026-01-05T00:02:00", "--limit", "10", "--offset", "5",
                             "--json")).stdout)["rows"]
    assert [r["ts"] for r in page] == [f"2026-01-05T00:01:{s:02d}Z" for s in range(5, 15)]
    assert [r["value"] for r in page] == [r["value"] for r in hist["rows"][65:75]]
    csv_lines = ok(run(url, "indicators", "history", sid, "--symbol", SYM, "--indicator-id",
                       "rsi_14", "--limit", "16", "--csv")).stdout.splitlines()
    assert csv_lines[0] == "ts,value" and csv_lines[1] == "2026-01-05T00:00:00Z,"
    assert float(csv_lines[16].split(",")[1]) == hist["rows"][15]["value"]
    table = ok(run(url, "indicators", "history", sid, "--symbol", SYM, "--indicator-id",
                   "rsi_14", "--limit", "3")).stdout.splitlines()
    assert table[0].split() == ["ts", "value"] and len(table) == 4
    assert run(url, "indicators", "history", sid, "--symbol", SYM, "--indicator-id", "rsi_14",
               "--json", "--csv").returncode == 2

    with tsanalysis.connect(url) as ws:
        ws.ingest(sid, SYM, ticks(100, start=T0 + pd.Timedelta(seconds=400), seed=5))
    upd = json.loads(ok(run(url, "indicators", "update", sid, "--json")).stdout)
    assert upd["session_id"] == sid and upd["skipped"] == []
    ids = {i for u in upd["updated"] for i in u["indicator_ids"]}
    assert ids == {"rsi_14", "macd_3_5_2_macd.10s", "macd_3_5_2_macdsignal.10s",
                   "macd_3_5_2_macdhist.10s"}
    assert {u["mode"] for u in upd["updated"]} == {"tail"}
    after = json.loads(ok(run(url, "indicators", "history", sid, "--symbol", SYM,
                              "--indicator-id", "rsi_14", "--json")).stdout)["rows"]
    assert len(after) == 500 and after[:400] == hist["rows"]
    human = ok(run(url, "indicators", "update", sid, "--symbol", SYM)).stdout
    assert "rsi_14" in human and "(tail)" in human


@pytest.mark.parametrize(("args", "code", "needles"), [
    (["--indicator", "rsx"], 1, ["unknown indicator 'rsx'", "closest: rsi"]),
    (["--indicator", "rsi", "--param", "timeperiod=0"], 1, ["timeperiod", "[2, 100000]"]),
    (["--indicator", "rsi", "--param", "timeperiod=abc"], 1, ["timeperiod", "[2, 100000]"]),
    (["--indicator", "rsi", "--param", "period=3"], 1, ["unknown parameter", "timeperiod"]),
    (["--indicator", "rsi", "--param", "timeperiod"], 1, ["name=value"]),
    (["--indicator", "rsi", "--interval", "1x"], 1, ["invalid interval"]),
    (["--indicator", "bbands", "--param", "matype=14"], 1, ["matype", "[0, 13]"]),
])
def test_compute_errors(session, args, code, needles):
    url, sid = session
    err = one_line_error(run(url, "indicators", "compute", sid, "--symbol", SYM, *args), code)
    for needle in needles:
        assert needle in err
    with tsanalysis.connect(url) as ws:
        assert ws.store.count("indicators", sid) == 0  # nothing was written


def test_unknown_session_exits_3(store_url):
    for args in (["compute", "nope", "--symbol", SYM, "--indicator", "rsi"],
                 ["history", "nope", "--symbol", SYM, "--indicator-id", "rsi_14"],
                 ["update", "nope"]):
        assert "session not found" in one_line_error(run(store_url, "indicators", *args), 3)


def test_unknown_indicator_id_exits_1(session):
    url, sid = session
    ok(run(url, "indicators", "compute", sid, "--symbol", SYM, "--indicator", "ema"))
    err = one_line_error(run(url, "indicators", "history", sid, "--symbol", SYM,
                             "--indicator-id", "ema_31"), 1)
    assert "closest: ema_30" in err
