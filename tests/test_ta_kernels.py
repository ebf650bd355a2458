"""tsanalysis.ta against TA-Lib 0.8.2 (the oracle, a test-only dependency).

Every TA-Lib-backed kernel must give the same NaN positions as TA-Lib and
values within 1e-6 on an order-100 scale (1e-9 relative), on random walks of
several seeds and lengths (including shorter than the lookback), flat and
tied data, constant series and very small / very large price scales.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tsanalysis.ta as ta
from tests.ta_support import (
    SPEC_CASES,
    SPECS,
    Spec,
    as_tuple,
    assert_matches,
    case_id,
    constant,
    near_flat,
    random_walk,
    run_both,
    talib,
    with_flats,
)

CASE_IDS = [case_id(c) for c in SPEC_CASES]


def _lookback(spec: Spec, params: dict[str, Any]) -> int:
    return int(spec.ours.lookback(**params))


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_walk_matches_talib(spec: Spec, params: dict[str, Any], seed: int) -> None:
    data = random_walk(3000, seed)
    ours, theirs = run_both(spec, params, data)
    assert_matches(ours, theirs, case_id((spec, params)))


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
def test_lengths_around_lookback(spec: Spec, params: dict[str, Any]) -> None:
    lb = _lookback(spec, params)
    for n in sorted({0, 1, 2, max(lb - 1, 0), lb, lb + 1, lb + 2, lb + 40}):
        data = random_walk(n, seed=n)
        ours, theirs = run_both(spec, params, data)
        assert_matches(ours, theirs, f"{case_id((spec, params))} n={n}")
        for out in ours:
            assert out.shape == (n,)
            assert np.isnan(out[: min(lb, n)]).all()
            assert not np.isnan(out[lb:]).any()


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
def test_flat_stretches_and_zero_volume(spec: Spec, params: dict[str, Any]) -> None:
    for seed in (3, 4):
        data = with_flats(random_walk(2000, seed), seed)
        ours, theirs = run_both(spec, params, data)
        assert_matches(ours, theirs, case_id((spec, params)))


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("value", [5.0, 0.0, 1e-9, 60_000.0])
def test_constant_series(spec: Spec, params: dict[str, Any], value: float) -> None:
    ours, theirs = run_both(spec, params, constant(120, value))
    if spec.name in ("roc",) and value == 0.0:
        pass  # 0/0: TA-Lib answers 0, so do we (checked by assert_matches)
    assert_matches(ours, theirs, f"{case_id((spec, params))} constant={value}")


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("start", "scale"), [(1e-6, 1e-8), (2e-3, 1e-5), (60_000.0, 50.0), (1e7, 1e4)])
def test_price_scales(spec: Spec, params: dict[str, Any], start: float, scale: float) -> None:
    data = random_walk(1500, seed=7, start=start, scale=scale)
    ours, theirs = run_both(spec, params, data)
    assert_matches(ours, theirs, f"{case_id((spec, params))} start={start}")


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
def test_near_flat_and_rounding_level_data(spec: Spec, params: dict[str, Any]) -> None:
    """TA-Lib 0.8's zero tests (exact, absolute or scaled) are reproduced."""
    for seed in range(60):
        data = near_flat(int(np.random.default_rng(seed).integers(5, 60)), seed)
        ours, theirs = run_both(spec, params, data)
        assert_matches(ours, theirs, f"{case_id((spec, params))} seed={seed}")


def test_cci_near_flat_windows_give_zero_like_talib() -> None:
    """Exactly flat windows (rounding residue in the mean) give 0, as in TA-Lib."""
    for value in (111.45561316020498, 50.1, 3e4 + 0.01, 1e-6):
        h = np.full(40, value)
        np.testing.assert_array_equal(ta.cci(h, h, h, 14)[13:], 0.0)
        np.testing.assert_array_equal(talib.CCI(h, h, h, 14)[13:], 0.0)


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
def test_long_series_is_bit_exact(spec: Spec, params: dict[str, Any]) -> None:
    """On 50,000 bars the kernels reproduce TA-Lib bit for bit (no drift)."""
    data = random_walk(50_000, seed=11)
    ours, theirs = run_both(spec, params, data)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- lookback API


LOOKBACK_GRID: dict[str, list[dict[str, Any]]] = {
    "macd": [
        {"fastperiod": f, "slowperiod": s, "signalperiod": g}
        for f in (2, 12, 30)
        for s in (2, 26, 5)
        for g in (1, 9)
    ],
    "stoch": [
        {"fastk_period": a, "slowk_period": b, "slowd_period": c} for a in (1, 5, 14) for b in (1, 3) for c in (1, 4)
    ],
    "ultosc": [
        {"timeperiod1": a, "timeperiod2": b, "timeperiod3": c} for a in (1, 7, 40) for b in (2, 14) for c in (3, 28)
    ],
    "bbands": [{"timeperiod": p, "nbdevup": 1.0, "nbdevdn": 3.0} for p in (2, 5, 20, 100)],
}


def _grid(spec: Spec) -> list[dict[str, Any]]:
    if spec.name in LOOKBACK_GRID:
        return [{}, *LOOKBACK_GRID[spec.name]]
    info = talib.abstract.Function(spec.name.upper()).info
    if "timeperiod" in info["parameters"]:
        lo = 1
        try:
            spec.ours.lookback(timeperiod=1)
        except ValueError:
            lo = 2
        return [{}] + [{"timeperiod": p} for p in (lo, 2, 3, 14, 50, 1000, 100_000)]
    return [{}]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_lookback_matches_talib_abstract(spec: Spec) -> None:
    for params in _grid(spec):
        f = talib.abstract.Function(spec.name.upper())
        f.parameters = params
        assert spec.ours.lookback(**params) == f.lookback, params
        assert ta.lookback(spec.name, **params) == f.lookback
        assert ta.LOOKBACKS[spec.name](**params) == f.lookback


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_lookback_is_the_number_of_leading_nans(spec: Spec) -> None:
    data = random_walk(400, seed=5)
    for params in _grid(spec):
        lb = spec.ours.lookback(**params)
        for out in as_tuple(spec.ours(*[data[k] for k in spec.inputs], **params)):
            expected = min(lb, 400)
            assert np.isnan(out[:expected]).all() and not np.isnan(out[expected:]).any(), params


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_signature_mirrors_talib(spec: Spec) -> None:
    """Parameter names, defaults and output names/order are TA-Lib's."""
    import inspect

    info = talib.abstract.Function(spec.name.upper()).info
    sig = inspect.signature(spec.ours)
    names = list(sig.parameters)
    assert names[: len(spec.inputs)] == list(spec.inputs)
    ours_params = {k: p.default for k, p in sig.parameters.items() if k not in spec.inputs}
    assert ours_params == dict(info["parameters"])
    assert list(spec.ours.output_names) == list(info["output_names"])
    assert ta.OUTPUT_NAMES[spec.name] == tuple(info["output_names"])
    result = spec.ours(*[random_walk(60, 0)[k] for k in spec.inputs])
    if len(info["output_names"]) > 1:
        assert result._fields == tuple(info["output_names"])


# ------------------------------------------------------ parameter validation


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_rejects_what_talib_rejects(spec: Spec) -> None:
    info = talib.abstract.Function(spec.name.upper()).info
    data = random_walk(50, 0)
    args = [data[k] for k in spec.inputs]
    for pname, default in info["parameters"].items():
        if "matype" in pname or isinstance(default, float):
            continue
        for bad in (-1, 0, 1, 100_001):
            try:
                spec.theirs(*args, **{pname: bad})
            except Exception:
                with pytest.raises(ValueError):
                    spec.ours(*args, **{pname: bad})
                with pytest.raises(ValueError):
                    spec.ours.lookback(**{pname: bad})
            else:
                spec.ours(*args, **{pname: bad})


@pytest.mark.parametrize("matype", range(14))
def test_every_matype_is_talibs(matype: int) -> None:
    """Every TA-Lib moving-average type (0..13 in TA-Lib 0.8) is available, with TA-Lib's numbers."""
    x = random_walk(400, 0)
    h, lo, c = x["high"], x["low"], x["close"]
    assert_matches(tuple(ta.bbands(c, matype=matype)), talib.BBANDS(c, matype=matype))
    assert_matches(tuple(ta.stoch(h, lo, c, slowk_matype=matype, slowd_matype=matype)),
                   talib.STOCH(h, lo, c, slowk_matype=matype, slowd_matype=matype))
    assert_matches((ta.ma(c, 10, matype),), (talib.MA(c, 10, matype),))
    with pytest.raises(ValueError):
        ta.bbands(c, matype=14)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        ta.atr(np.ones(5), np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match="one-dimensional"):
        ta.sma(np.ones((3, 3)))
    with pytest.raises(TypeError):
        ta.sma(np.ones(5), timeperiod=2.5)
    with pytest.raises(TypeError):
        ta.sma(np.ones(5), timeperiod=True)
    with pytest.raises(KeyError):
        ta.lookback("nope")


def test_accepts_lists_ints_and_pandas() -> None:
    import pandas as pd

    x = [1, 2, 3, 4, 5, 6]
    expected = talib.SMA(np.asarray(x, dtype=float), 3)
    np.testing.assert_array_equal(ta.sma(x, 3), expected)
    np.testing.assert_array_equal(ta.sma(np.asarray(x), 3), expected)
    out = ta.sma(pd.Series(x, dtype=float), 3)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, expected)
    # a non-contiguous view works and the input is never modified
    big = np.arange(20, dtype=float)
    view = big[::2]
    np.testing.assert_array_equal(ta.ema(view, 3), talib.EMA(np.ascontiguousarray(view), 3))
    np.testing.assert_array_equal(big, np.arange(20, dtype=float))


# ----------------------------------------------------------- TA-Lib quirks


def test_macd_fast_ema_is_seeded_at_the_slow_start() -> None:
    """TA-Lib's MACD is not ema(12) - ema(26): the fast EMA starts at index 25."""
    x = random_walk(300, 0)["close"]
    line = ta.macd(x).macd
    naive = ta.ema(x, 12) - ta.ema(x, 26)
    lb = ta.macd.lookback()
    assert lb == 33
    assert not np.allclose(line[lb:60], naive[lb:60], rtol=0, atol=1e-6)
    # ...but equals an EMA(12) seeded with the mean of x[14:26] at index 25
    k = 2.0 / 13.0
    fast = np.full(x.shape, np.nan)
    fast[25] = x[14:26].mean()
    for i in range(26, x.shape[0]):
        fast[i] = (x[i] - fast[i - 1]) * k + fast[i - 1]
    np.testing.assert_allclose(line[lb:], (fast - ta.ema(x, 26))[lb:], rtol=0, atol=1e-9)
    assert np.isnan(line[:lb]).all()


def test_rsi_and_atr_are_seeded_with_simple_averages() -> None:
    d = random_walk(200, 3)
    x = d["close"]
    diff = np.diff(x)
    gain = np.where(diff > 0, diff, 0.0)[:14].mean()
    loss = np.where(diff < 0, -diff, 0.0)[:14].mean()
    assert ta.rsi(x)[14] == pytest.approx(100 * gain / (gain + loss), rel=1e-12)
    tr = ta.trange(d["high"], d["low"], x)
    assert ta.atr(d["high"], d["low"], x)[14] == pytest.approx(tr[1:15].mean(), rel=1e-12)
    assert ta.ema(x, 10)[9] == pytest.approx(x[:10].mean(), rel=1e-12)
