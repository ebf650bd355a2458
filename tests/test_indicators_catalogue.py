"""TA-Lib's whole catalogue is built in: every TA-Lib function (but MAVP, which reads a
series sessions do not have) is a built-in indicator under its lower-case name, with
TA-Lib's numbers through compute, and ``tsanalysis.ta`` keeps the gap policy for all."""

from __future__ import annotations

import numpy as np
import pytest

import tsanalysis.ta as ta
from tsanalysis.default_plugins.indicators import NOT_INDICATORS, builtin_indicators
from tsanalysis.indicators import InvalidParameter, registry

talib = pytest.importorskip("talib")

FUNCTIONS = talib.get_functions()
BUILTINS = {i.name: i for i in builtin_indicators()}


def test_every_talib_function_is_built_in_once():
    assert {n.lower() for n in FUNCTIONS} - set(BUILTINS) == {n.lower() for n in NOT_INDICATORS}
    assert all(name in registry() for name in BUILTINS)
    assert len(FUNCTIONS) == 201 and hasattr(ta, "mavp")  # MAVP: a function, not an indicator


@pytest.mark.slow
def test_values_are_talibs_for_every_function(tsanalysis_demo):
    demo = tsanalysis_demo
    bars = demo.ws.ohlcv(demo.session_id, demo.symbol, "10s")
    series = {k: bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume")}
    for name in FUNCTIONS:
        if name in NOT_INDICATORS:
            continue
        ind = registry().get(name.lower())
        res = demo.compute(ind.name, interval="10s", persist=False)
        want = getattr(talib, name)(*(series[k] for k in ind.inputs))
        want = want if isinstance(want, tuple) else (want,)
        for output, raw in zip(ind.outputs, want, strict=True):
            w = raw.astype(float)
            if np.issubdtype(raw.dtype, np.integer):  # TA-Lib's 0s in the warm-up
                w[:ind.warmup(ind.defaults)] = np.nan
            np.testing.assert_array_equal(res.frame[output].to_numpy(), w, err_msg=name)


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n not in NOT_INDICATORS])
def test_gap_policy_for_every_function(name):
    """A NaN inside the input: TA-Lib once per run on each side, indices into the whole."""
    rng = np.random.default_rng(1)
    n = 400
    close = 100 + np.cumsum(rng.normal(size=n))
    data = {"open": close + rng.normal(size=n) * 0.1, "high": close + 1 + rng.random(n),
            "low": close - 1 - rng.random(n), "close": close, "volume": 1 + rng.random(n)}
    ind = BUILTINS[name.lower()]
    args = [data[k].copy() for k in ind.inputs]
    args[-1][200] = np.nan
    got = getattr(ta, name.lower())(*args)
    got = tuple(got) if isinstance(got, tuple) else (got,)
    for part in (slice(0, 200), slice(201, n)):
        want = getattr(talib, name)(*(a[part] for a in args))
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want, strict=True):
            w = w.astype(float)
            if name in ("MAXINDEX", "MININDEX", "MINMAXINDEX"):
                w += part.start
            lb = ind.warmup(ind.defaults)
            w[:lb] = np.nan
            np.testing.assert_array_equal(g[part], w, err_msg=name)
        for g in got:
            assert np.isnan(g[200])


def test_catalogue_parameters_are_checked_by_talib(tsanalysis_demo):
    with pytest.raises(InvalidParameter, match=r"vfactor must be a number in \[0, 1\]"):
        tsanalysis_demo.compute("t3", vfactor=1.5)
    with pytest.raises(InvalidParameter, match=r"timeperiod must be an integer in \[1, 100000\]"):
        tsanalysis_demo.compute("trix", timeperiod=0)
    assert tsanalysis_demo.compute("ma", timeperiod=10, matype=9).outputs == {"real": "ma_10_9"}
