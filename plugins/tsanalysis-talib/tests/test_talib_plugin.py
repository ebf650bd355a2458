"""tsanalysis-talib, tested the way any plugin is: with the ``tsanalysis.testing`` fixtures
(a temporary store holding a demo session) and ``check_indicator``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import talib
import talib.abstract
from tsanalysis.errors import InvalidInput
from tsanalysis.indicators import InvalidParameter, registry
from tsanalysis.testing import check_indicator

import tsanalysis_talib

FUNCTIONS = talib.get_functions()


def test_every_talib_function_is_registered_from_the_abstract_api():
    mine = {r.indicator.name: r.indicator for r in registry() if r.plugin == "talib"}
    assert set(mine) == {f"talib.{n}" for n in FUNCTIONS} and len(mine) == len(FUNCTIONS) == 201
    for name in FUNCTIONS:
        info = talib.abstract.Function(name).info
        ind = mine[f"talib.{name}"]
        assert ind.defaults == dict(info["parameters"])
        assert list(ind.outputs) == info["output_names"]
        assert ind.inputs == tsanalysis_talib._inputs(info)


def test_it_shows_in_tsanalysis_plugins():
    out = subprocess.run([sys.executable, "-m", "tsanalysis", "plugins", "--json"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    mine = listed["talib"]
    assert mine["version"] == tsanalysis_talib.__version__ and not mine["builtin"]
    assert mine["hooks"] == ["register_indicators"]
    assert len(mine["registered"]["register_indicators"]) == 201
    assert "talib.RSI" in mine["registered"]["register_indicators"]


@pytest.mark.parametrize(("name", "params", "interval"), [
    ("talib.RSI", {}, None),
    ("talib.MACD", {}, "1m"),
    ("talib.BBANDS", {"timeperiod": 10, "matype": 1}, None),  # an EMA middle band
    ("talib.STOCH", {}, "1m"),
    ("talib.OBV", {}, None),
    ("talib.CDLENGULFING", {}, "1m"),
    ("talib.SAR", {}, "1m"),
    ("talib.HT_TRENDLINE", {}, None),
    ("talib.NVI", {}, None),
])
def test_computes_persists_and_updates_like_a_builtin(tsanalysis_demo, name, params, interval):
    res = check_indicator(tsanalysis_demo, name, params, interval=interval)
    assert all(i.startswith("talib.") for i in res.outputs.values())


def test_same_numbers_as_the_builtin(tsanalysis_demo):
    ours = tsanalysis_demo.compute("rsi", timeperiod=9)
    theirs = tsanalysis_demo.compute("talib.RSI", timeperiod=9)
    assert ours.outputs == {"real": "rsi_9"} and theirs.outputs == {"real": "talib.rsi_9"}
    a = tsanalysis_demo.history("rsi_9")["value"].to_numpy()
    b = tsanalysis_demo.history("talib.rsi_9")["value"].to_numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-12)


def test_values_are_talibs_for_every_function(tsanalysis_demo):
    demo = tsanalysis_demo
    bars = demo.ws.ohlcv(demo.session_id, demo.symbol, "10s")
    series = {k: bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume")}
    for name in FUNCTIONS:
        ind = registry().get(f"talib.{name}")
        if name == "MAVP":
            with pytest.raises(InvalidInput, match="needs the series periods"):
                demo.compute(ind.name, interval="10s", persist=False)
            continue
        res = demo.compute(ind.name, interval="10s", persist=False)
        want = getattr(talib, name)(*(series[k] for k in ind.inputs))
        want = want if isinstance(want, tuple) else (want,)
        for output, raw in zip(ind.outputs, want, strict=True):
            w = raw.astype(float)
            if np.issubdtype(raw.dtype, np.integer):  # TA-Lib's 0s in the warm-up
                assert (w[:ind.warmup(ind.defaults)] == 0).all()
                w[:ind.warmup(ind.defaults)] = np.nan
            np.testing.assert_array_equal(res.frame[output].to_numpy(), w, err_msg=name)


def test_bad_parameters_name_talibs_range(tsanalysis_demo):
    with pytest.raises(InvalidParameter, match=r"timeperiod must be an integer in \[2, 100000\]"):
        tsanalysis_demo.compute("talib.RSI", timeperiod=1)
    with pytest.raises(InvalidParameter, match=r"vfactor must be a number in \[0, 1\]"):
        tsanalysis_demo.compute("talib.T3", vfactor=1.5)
    with pytest.raises(InvalidParameter, match="timeperiod must be an integer"):
        tsanalysis_demo.compute("talib.RSI", timeperiod="fourteen")
    assert tsanalysis_demo.ws.store.count("indicators", tsanalysis_demo.session_id) == 0


def test_command_line(tsanalysis_demo):
    demo = tsanalysis_demo
    demo.ws.close()

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tsanalysis", "--db", demo.ws.url, *args],
                              capture_output=True, text=True, env=dict(os.environ), timeout=300)

    ok = run("indicators", "compute", demo.session_id, "--symbol", demo.symbol, "--indicator",
             "talib.macd", "--interval", "1m", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"]["macdsignal"] == "talib.macd_12_26_9_macdsignal.1m"
    bad = run("indicators", "compute", demo.session_id, "--symbol", demo.symbol, "--indicator",
              "talib.RSI", "--param", "timeperiod=1")
    assert bad.returncode == 1 and "[2, 100000]" in bad.stderr
    unknown = run("indicators", "compute", demo.session_id, "--symbol", demo.symbol,
                  "--indicator", "talib.RSX")
    assert unknown.returncode == 1 and "talib.RSI" in unknown.stderr
