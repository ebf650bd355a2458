"""The NaN policy of tsanalysis.ta.

A bar is missing when any input is NaN.  Every indicator is computed on each
maximal run of non-missing bars as if it were a series of its own, so:

* leading NaNs give exactly what TA-Lib's Python wrapper gives (it skips them);
* with NaNs inside the series the result equals TA-Lib run on every run
  separately and stitched together;
* for window indicators that is "NaN wherever the window touches a NaN";
* a NaN is never turned into a number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tsanalysis.ta as ta
from tests.ta_support import SPEC_CASES, Spec, as_tuple, assert_matches, case_id, random_walk

CASE_IDS = [case_id(c) for c in SPEC_CASES]

# Indicators whose output at i depends only on the inputs in [i - lookback, i].
WINDOWED = {"sma", "wma", "bbands", "trange", "stoch", "willr", "cci", "mfi", "roc", "mom", "ultosc"}


def _runs(bad: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], (~bad).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _stitched_talib(spec: Spec, params: dict[str, Any], data: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """TA-Lib applied to each NaN-free run separately, NaN elsewhere."""
    n = data["close"].shape[0]
    bad = np.zeros(n, dtype=bool)
    for k in spec.inputs:
        bad |= np.isnan(data[k])
    n_out = len(as_tuple(spec.theirs(*[random_walk(100, 0)[k] for k in spec.inputs], **params)))
    outs = tuple(np.full(n, np.nan) for _ in range(n_out))
    for s, e in _runs(bad):
        res = as_tuple(spec.theirs(*[np.ascontiguousarray(data[k][s:e]) for k in spec.inputs], **params))
        for o, r in zip(outs, res, strict=True):
            o[s:e] = r
    return outs


def _punch(data: dict[str, np.ndarray], keys: tuple[str, ...], idx: list[int] | np.ndarray) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in data.items()}
    rng = np.random.default_rng(len(idx))
    for j, i in enumerate(np.asarray(idx, dtype=int)):
        k = keys[(j + int(rng.integers(0, len(keys)))) % len(keys)]
        out[k][i] = np.nan
    if "close" in keys and "real" not in keys:
        out["real"] = out["close"]
    if "real" in keys:
        out["close"] = out["real"]
    return out


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
def test_leading_nans_match_talib(spec: Spec, params: dict[str, Any]) -> None:
    data = random_walk(500, seed=1)
    for k in spec.inputs:
        data[k] = data[k].copy()
    for j, k in enumerate(spec.inputs):
        data[k][: 7 + 3 * j] = np.nan  # staggered: the longest prefix decides
    args = [data[k] for k in spec.inputs]
    assert_matches(as_tuple(spec.ours(*args, **params)), as_tuple(spec.theirs(*args, **params)), case_id((spec, params)))


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("pattern", ["scattered", "block", "every_other", "all"])
def test_inner_nans_equal_talib_per_run(spec: Spec, params: dict[str, Any], pattern: str) -> None:
    n = 700
    data = random_walk(n, seed=2)
    rng = np.random.default_rng(3)
    if pattern == "scattered":
        idx = rng.choice(np.arange(n), size=12, replace=False)
    elif pattern == "block":
        idx = np.arange(200, 260)
    elif pattern == "every_other":
        idx = np.arange(300, 400, 2)
    else:
        idx = np.arange(n)
    data = _punch(data, spec.inputs, idx)
    args = [data[k] for k in spec.inputs]
    before = [a.copy() for a in args]
    ours = as_tuple(spec.ours(*args, **params))
    assert_matches(ours, _stitched_talib(spec, params, data), f"{case_id((spec, params))} {pattern}")
    for a, b in zip(args, before, strict=True):  # inputs untouched
        np.testing.assert_array_equal(a, b)
    bad = np.zeros(n, dtype=bool)
    for k in spec.inputs:
        bad |= np.isnan(data[k])
    for out in ours:
        assert np.isnan(out[bad]).all()  # a NaN never becomes a number


@pytest.mark.parametrize(("spec", "params"), [c for c in SPEC_CASES if c[0].name in WINDOWED], ids=[
    case_id(c) for c in SPEC_CASES if c[0].name in WINDOWED
])
def test_window_indicators_are_nan_exactly_where_the_window_touches_a_nan(spec: Spec, params: dict[str, Any]) -> None:
    n = 400
    data = _punch(random_walk(n, seed=4), spec.inputs, [50, 51, 120, 300])
    lb = spec.ours.lookback(**params)
    bad = np.zeros(n, dtype=bool)
    for k in spec.inputs:
        bad |= np.isnan(data[k])
    touched = np.array([bad[max(0, i - lb) : i + 1].any() or i < lb for i in range(n)])
    clean = random_walk(n, seed=4)
    clean_out = as_tuple(spec.ours(*[clean[k] for k in spec.inputs], **params))
    for out, ref in zip(as_tuple(spec.ours(*[data[k] for k in spec.inputs], **params)), clean_out, strict=True):
        np.testing.assert_array_equal(np.isnan(out), touched)
        # and where the window is clean the value is the unpunched one
        np.testing.assert_allclose(out[~touched], ref[~touched], rtol=1e-12, atol=1e-9)


def test_recursive_indicator_restarts_after_a_gap() -> None:
    x = random_walk(200, seed=5)["close"]
    y = x.copy()
    y[100] = np.nan
    out = ta.ema(y, 10)
    assert np.isnan(out[100:110]).all()
    # restarted: seeded with the mean of the 10 values after the gap
    assert out[110] == pytest.approx(y[101:111].mean(), rel=1e-12)
    np.testing.assert_array_equal(out[:100], ta.ema(x[:100], 10))
    np.testing.assert_array_equal(out[101:], ta.ema(x[101:], 10))


def test_non_talib_functions_follow_the_policy() -> None:
    d = random_walk(300, seed=6)
    c = d["close"].copy()
    c[150] = np.nan
    vol = ta.rolling_volatility(c, 10, interval_seconds=60)
    # returns r[150] and r[151] are missing, so windows ending at 150..160 are NaN
    assert np.isnan(vol[150:161]).all() and not np.isnan(vol[161]) and not np.isnan(vol[149])
    z = ta.rolling_zscore(c, 10)
    assert np.isnan(z[150:160]).all() and not np.isnan(z[160]) and not np.isnan(z[149])
    v = ta.rolling_vwap(d["high"], d["low"], c, d["volume"], 5)
    assert np.isnan(v[150:155]).all() and not np.isnan(v[155])
    cum = ta.vwap(d["high"], d["low"], c, d["volume"])
    assert np.isnan(cum[150]) and not np.isnan(cum[151])
    tp = (d["high"][151] + d["low"][151] + d["close"][151]) / 3
    assert cum[151] == pytest.approx(tp, rel=1e-12)  # restarted after the gap
