"""Declarations, the registry and indicator ids: names, parameters, bounds, errors."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

import tsanalysis.ta as ta
from tsanalysis.default_plugins.indicators import builtin_indicators
from tsanalysis.errors import InvalidInput, TsanalysisError
from tsanalysis.ids import check_indicator_id
from tsanalysis.indicators import (
    Indicator,
    Inputs,
    InvalidParameter,
    Param,
    UnknownIndicator,
    decay_length,
    get,
    parse_indicator_id,
    registry,
)

talib = pytest.importorskip("talib.abstract")
from tsanalysis.ta._talib import bounds as ta_bounds  # noqa: E402

TALIB_FUNCTIONS = set(pytest.importorskip("talib").get_functions())
BUILTINS = builtin_indicators()
IN_TALIB = [i for i in BUILTINS if i.name.upper() in TALIB_FUNCTIONS]
NOT_TALIB = {"bbands_percent_b", "bbands_bandwidth", "vwap_anchored", "rolling_vwap",
             "rolling_volatility", "rolling_zscore"}


def _talib_inputs(info: dict) -> tuple[str, ...]:
    out: list[str] = []
    for v in info["input_names"].values():
        out += v if isinstance(v, list) else [v]
    return tuple(out)


def test_the_issues_list_is_built_in():
    names = {i.name for i in BUILTINS}
    assert {"sma", "ema", "wma", "dema", "tema", "kama", "rsi", "macd", "bbands",
            "bbands_percent_b", "bbands_bandwidth", "atr", "natr", "adx", "plus_di",
            "minus_di", "stoch", "willr", "cci", "mfi", "obv", "ad", "roc", "mom", "ultosc",
            "vwap", "vwap_anchored", "rolling_vwap", "rolling_volatility", "rolling_zscore"} <= names
    assert names - {i.name for i in IN_TALIB} == NOT_TALIB  # everything else is TA-Lib's
    assert all(i.name in registry() for i in BUILTINS)


@pytest.mark.parametrize("ind", IN_TALIB, ids=lambda i: i.name)
def test_builtins_take_talib_names_parameters_inputs_and_outputs(ind):
    info = talib.Function(ind.name.upper()).info
    assert list(ind.defaults.items()) == list(info["parameters"].items())
    assert [type(p.default) for p in ind.params] == [type(v) for v in info["parameters"].values()]
    assert list(ind.outputs) == list(info["output_names"])
    assert ind.inputs == _talib_inputs(info)
    # the warm-up is TA-Lib's lookback, at the defaults and at other values
    assert ind.warmup(ind.defaults) == talib.Function(ind.name.upper()).lookback
    if "timeperiod" in ind.defaults:
        p = {**ind.defaults, "timeperiod": 7}
        assert ind.warmup(p) == talib.Function(ind.name.upper(), **p).lookback


@pytest.mark.parametrize("ind", BUILTINS, ids=lambda i: i.name)
def test_declared_bounds_are_the_kernels_bounds(ind):
    """A value the declaration accepts the kernel accepts, and the first value outside is
    refused by both (so error messages state the real bounds)."""
    kernel_lookback = ta.LOOKBACKS[ind.name] if ind.name in ta.LOOKBACKS else None
    for p in ind.params:
        if p.type is not int or p.choices is not None:
            continue
        if p.minimum is None:  # the catalogue declares no bounds: TA-Lib's are checked
            p = replace(p, minimum=ta_bounds(ind.name.upper(), p.name)[0],
                        maximum=ta_bounds(ind.name.upper(), p.name)[1])
        ok = {**ind.defaults, p.name: int(p.minimum)}
        ind.check_params(ok)
        bad = {**ind.defaults, p.name: int(p.minimum) - 1}
        with pytest.raises(InvalidParameter, match=rf"{p.name} must be an integer in \["):
            ind.check_params(bad)
        too_big = {**ind.defaults, p.name: int(p.maximum) + 1}
        with pytest.raises(InvalidParameter):
            ind.check_params(too_big)
        if kernel_lookback is not None:
            kernel_lookback(**{**ind.defaults, p.name: int(p.minimum)})
            kernel_lookback(**{**ind.defaults, p.name: int(p.maximum)})
            with pytest.raises((ValueError, NotImplementedError)):
                kernel_lookback(**bad)
            with pytest.raises((ValueError, NotImplementedError)):
                kernel_lookback(**too_big)


@pytest.mark.parametrize("ind", BUILTINS, ids=lambda i: i.name)
def test_each_builtin_documents_its_convention(ind):
    assert len(ind.doc) > 40
    if ind.name in {"rsi", "atr", "natr", "adx", "plus_di", "minus_di"}:
        assert "Wilder" in ind.doc
    if ind.name in {"ema", "dema", "tema", "macd"}:
        assert "SMA-seeded" in ind.doc or "seeded with the SMA" in ind.doc
    if ind.name.startswith("bbands") and ind.name != "bbands_bandwidth":
        assert "population standard deviation" in ind.doc
    if ind.update != "window" or ind.name in {"ema", "rsi", "kama"}:
        assert ind.memory(ind.defaults) > ind.warmup(ind.defaults) or ind.update != "window"


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params", "interval", "expected"), [
    ("rsi", {}, None, {"real": "rsi_14"}),
    ("RSI", {"timeperiod": "21"}, "1m", {"real": "rsi_21.1m"}),
    ("macd", {}, None, {"macd": "macd_12_26_9_macd", "macdsignal": "macd_12_26_9_macdsignal",
                        "macdhist": "macd_12_26_9_macdhist"}),
    ("bbands", {"nbdevup": 1.5}, "5m", {"upperband": "bbands_20_1.5_2_0_upperband.5m",
                                        "middleband": "bbands_20_1.5_2_0_middleband.5m",
                                        "lowerband": "bbands_20_1.5_2_0_lowerband.5m"}),
    ("obv", {}, None, {"real": "obv"}),
    ("vwap", {}, None, {"real": "vwap"}),
    ("vwap_anchored", {"anchor": "8H"}, None, {"real": "vwap_anchored_8h"}),
    ("stoch", {}, "1h", {"slowk": "stoch_5_3_0_3_0_slowk.1h", "slowd": "stoch_5_3_0_3_0_slowd.1h"}),
])
def test_indicator_ids(name, params, interval, expected):
    ind = get(name)
    assert ind.output_ids(ind.check_params(params), interval) == expected


def _random_params(ind: Indicator, rng: random.Random) -> dict:
    out = {}
    for p in ind.params:
        if p.minimum is None and p.maximum is None and p.choices is None and p.type is not str:
            # the catalogue declares no bounds: TA-Lib checks them (validate)
            lo, hi = ta_bounds(ind.name.upper(), p.name)
            out[p.name] = (rng.randint(int(lo), min(int(hi), int(lo) + 60)) if p.type is int
                           else round(rng.uniform(max(lo, -5.0), min(hi, 5.0)), 2))
        elif p.choices is not None:
            out[p.name] = rng.choice(p.choices)
        elif p.type is int:
            out[p.name] = rng.randint(int(p.minimum), min(int(p.maximum), int(p.minimum) + 60))
        elif p.type is float:
            out[p.name] = rng.choice([0.0, 0.5, 1.0, 2.25, 1e-05, 3.0, 252.0]) \
                if (p.minimum or 0) >= 0 else rng.uniform(-5, 5)
        else:
            out[p.name] = rng.choice(["1d", "8h", "30m"])
    return out


@pytest.mark.parametrize("ind", BUILTINS, ids=lambda i: i.name)
def test_ids_parse_back_to_the_computation(ind):
    rng = random.Random(ind.name)
    for k in range(20):
        params = ind.check_params(_random_params(ind, rng) if k else {})
        for interval in (None, "1m", "15s", "1d"):
            for output, iid in ind.output_ids(params, interval).items():
                check_indicator_id(iid)  # valid wherever ids are checked (imports, ...)
                parsed = parse_indicator_id(iid)
                assert parsed is not None, iid
                assert (parsed.indicator.name, parsed.params, parsed.output, parsed.interval) \
                    == (ind.name, params, output, interval)
    assert parse_indicator_id("rsi") is None  # parameters missing
    assert parse_indicator_id("rsi_14_real") is None  # a single output is not named
    assert parse_indicator_id("rsi_1") is None  # out of bounds
    assert parse_indicator_id("nothing_14") is None
    assert parse_indicator_id("RSI_14") is None  # ids are lower case


def test_float_tokens_round_trip():
    p = Param("x", float, 1.0)
    for v in (2.0, 0.5, 1e-05, 1e20, -1.5, 0.1 + 0.2):
        assert float(p.token(v)) == v and p.coerce(p.token(v)) == v
    assert p.token(2.0) == "2" and p.token(0.5) == "0.5" and p.token(1e20) == "1e20"


# -- parameters ---------------------------------------------------------------------------


def test_parameter_coercion_and_errors():
    rsi = get("rsi")
    assert rsi.check_params({"timeperiod": "21"}) == {"timeperiod": 21}
    assert rsi.check_params({"timeperiod": 21.0}) == {"timeperiod": 21}
    assert rsi.check_params({"timeperiod": np.int64(9)}) == {"timeperiod": 9}
    for bad in (0, 1, "abc", 14.5, True, None, "", float("nan"), 100001):
        with pytest.raises(InvalidParameter) as err:
            rsi.check_params({"timeperiod": bad})
        assert "timeperiod" in str(err.value) and "[2, 100000]" in str(err.value)
        assert isinstance(err.value, InvalidInput) and err.value.exit_code == 1
    with pytest.raises(InvalidInput, match="unknown parameter.*period; parameters: timeperiod"):
        rsi.check_params({"period": 14})
    bb = get("bbands")
    assert bb.check_params({"nbdevup": "1"})["nbdevup"] == 1.0
    with pytest.raises(InvalidParameter, match="nbdevup must be a number"):
        bb.check_params({"nbdevup": "inf"})
    assert bb.check_params({"matype": 1})["matype"] == 1  # every TA-Lib MA_Type
    with pytest.raises(InvalidParameter, match=r"matype must be an integer in \[0, 13\]"):
        bb.check_params({"matype": 14})
    with pytest.raises(InvalidParameter, match="ddof must be one of 0, 1"):
        get("rolling_zscore").check_params({"ddof": 2})
    with pytest.raises(InvalidParameter, match="anchor must be an interval such as 1d"):
        get("vwap_anchored").check_params({"anchor": "weekly"})


def test_unknown_indicator_suggests_the_closest_names():
    with pytest.raises(UnknownIndicator) as err:
        get("rsx")
    assert err.value.suggestions[0] == "rsi" and "closest: rsi" in str(err.value)
    with pytest.raises(UnknownIndicator) as err:
        get("macdd")
    assert "macd" in err.value.suggestions
    with pytest.raises(UnknownIndicator) as err:
        get("zzzzzz")
    assert err.value.suggestions == [] and "indicators list" in str(err.value)
    assert get("RSI") is get("rsi")  # case-insensitive


# -- declarations -------------------------------------------------------------------------


def test_declarations_are_validated():
    f = lambda x: x["close"]  # noqa: E731
    for bad in [dict(name="1abc"), dict(name="a.b.c"), dict(name="ok", outputs=()),
                dict(name="ok", outputs=("a", "a")), dict(name="ok", outputs=("Bad",)),
                dict(name="ok", update="sometimes"), dict(name="ok", inputs=()),
                dict(name="ok", params=(Param("p"), Param("p")))]:
        with pytest.raises(ValueError):
            Indicator(compute=f, **bad)
    with pytest.raises(ValueError):
        Param("Bad")
    with pytest.raises(ValueError):
        Param("p", type=list)


def test_run_checks_what_compute_returns():
    x = Inputs({"close": np.arange(5.0)}, np.arange(5, dtype=np.int64), "ticks", None, None)
    ok = Indicator(name="t.two", outputs=("a", "b"), compute=lambda i: (i["close"], i["close"]))
    assert set(ok.run(x, {})) == {"a", "b"}
    as_dict = Indicator(name="t.d", outputs=("a",), compute=lambda i: {"a": [1, 2, 3, 4, 5]})
    assert as_dict.run(x, {})["a"].dtype == np.float64
    for compute, msg in [(lambda i: i["close"][:3], "shape"),
                         (lambda i: (i["close"],), "returned 1 output"),
                         (lambda i: {"b": i["close"], "c": i["close"]}, "did not return")]:
        bad = Indicator(name="t.bad", outputs=("a", "b") if "output" in msg or "did" in msg
                        else ("a",), compute=compute)
        with pytest.raises(TsanalysisError, match=msg):
            bad.run(x, {})
    with pytest.raises(InvalidInput, match="input 'open' is not available"):
        x["open"]


def test_decay_length():
    assert decay_length(0.0) == 0
    m = decay_length(13 / 14)
    assert (13 / 14) ** m <= 1e-14 < (13 / 14) ** (m - 1)
    m2 = decay_length(0.9, order=2)
    assert m2 * 0.9 ** m2 <= 1e-14 and m2 > decay_length(0.9)
    with pytest.raises(ValueError):
        decay_length(1.0)
