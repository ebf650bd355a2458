"""Property-based tests (hypothesis) for tsanalysis.ta."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tsanalysis.ta as ta
from tests.ta_support import SPEC_CASES, Spec, as_tuple, assert_matches, case_id

#: hypothesis over many inputs: part of `make test`, not of `make test-fast`
pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

prices = arrays(
    np.float64,
    st.integers(0, 120),
    elements=st.floats(min_value=1.0, max_value=1000.0, allow_nan=False, allow_infinity=False),
)
periods = st.integers(2, 30)


@st.composite
def ohlcv(draw: st.DrawFn, min_size: int = 0, max_size: int = 120, nan_rate: float = 0.0) -> dict[str, np.ndarray]:
    n = draw(st.integers(min_size, max_size))
    # Prices on a 0.01 tick grid, as quoted by an exchange.
    el = st.integers(100, 100_000).map(lambda v: v / 100.0)
    close = draw(arrays(np.float64, n, elements=el))
    up = draw(arrays(np.float64, n, elements=st.floats(0.0, 50.0)))
    down = draw(arrays(np.float64, n, elements=st.floats(0.0, 50.0)))
    volume = draw(arrays(np.float64, n, elements=st.floats(0.0, 1e6)))
    data = {"close": close, "high": close + up, "low": np.maximum(close - down, 0.5), "volume": volume}
    if nan_rate:
        for k in data:
            mask = draw(arrays(np.bool_, n, elements=st.booleans()))
            keep = draw(arrays(np.bool_, n, elements=st.sampled_from([True] * 4 + [False])))
            data[k] = np.where(mask & ~keep, np.nan, data[k])
    data["real"] = data["close"]
    return data


# ------------------------------------------------------ oracle on any input


@pytest.mark.parametrize(("spec", "params"), SPEC_CASES, ids=[case_id(c) for c in SPEC_CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=ohlcv())
def test_any_input_matches_talib(spec: Spec, params: dict[str, Any], data: dict[str, np.ndarray]) -> None:
    args = [data[k] for k in spec.inputs]
    assert_matches(as_tuple(spec.ours(*args, **params)), as_tuple(spec.theirs(*args, **params)), case_id((spec, params)))


@SETTINGS
@given(data=ohlcv(min_size=1, nan_rate=0.5), p=periods)
def test_nan_outputs_are_exactly_the_touched_windows(data: dict[str, np.ndarray], p: int) -> None:
    h, lo, c = data["high"], data["low"], data["close"]
    bad = np.isnan(h) | np.isnan(lo) | np.isnan(c)
    n = c.shape[0]
    touched = np.array([i < p - 1 or bad[max(0, i - p + 1) : i + 1].any() for i in range(n)])
    np.testing.assert_array_equal(np.isnan(ta.willr(h, lo, c, p)), touched)
    np.testing.assert_array_equal(np.isnan(ta.cci(h, lo, c, p)), touched)
    bad_c = np.isnan(c)
    touched_c = np.array([i < p - 1 or bad_c[max(0, i - p + 1) : i + 1].any() for i in range(n)])
    np.testing.assert_array_equal(np.isnan(ta.sma(c, p)), touched_c)
    for out in ta.bbands(c, p):
        np.testing.assert_array_equal(np.isnan(out), touched_c)


# ------------------------------------------------------------- identities


@SETTINGS
@given(x=prices, p=periods)
def test_sma_is_the_rolling_mean(x: np.ndarray, p: int) -> None:
    expected = pd.Series(x).rolling(p).mean().to_numpy()
    out = ta.sma(x, p)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(x=prices, p=periods)
def test_bbands_middle_is_sma_and_bands_are_ordered(x: np.ndarray, p: int) -> None:
    upper, middle, lower = ta.bbands(x, p, 2.0, 1.0)
    np.testing.assert_array_equal(middle, ta.sma(x, p))
    ok = ~np.isnan(middle)
    assert (lower[ok] <= middle[ok]).all() and (middle[ok] <= upper[ok]).all()
    # population standard deviation (two-pass reference)
    if x.shape[0] >= p:
        std = np.lib.stride_tricks.sliding_window_view(x, p).std(axis=1, ddof=0)
        np.testing.assert_allclose((upper - middle)[ok] / 2.0, std, rtol=1e-7, atol=1e-7 * float(np.max(x)))


@SETTINGS
@given(data=ohlcv(), p=periods)
def test_oscillators_stay_in_range(data: dict[str, np.ndarray], p: int) -> None:
    h, lo, c, v = data["high"], data["low"], data["close"], data["volume"]

    def in_range(a: np.ndarray, lo_: float, hi_: float) -> bool:
        a = a[~np.isnan(a)]
        return bool(((a >= lo_ - 1e-9) & (a <= hi_ + 1e-9)).all())

    assert in_range(ta.rsi(c, p), 0, 100)
    assert in_range(ta.mfi(h, lo, c, v, p), 0, 100)
    assert in_range(ta.willr(h, lo, c, p), -100, 0)
    assert in_range(ta.adx(h, lo, c, p), 0, 100)
    assert in_range(ta.dx(h, lo, c, p), 0, 100)
    assert in_range(ta.ultosc(h, lo, c), 0, 100)
    for out in ta.stoch(h, lo, c, p):
        assert in_range(out, 0, 100)
    assert in_range(ta.atr(h, lo, c, p), 0, np.inf)
    assert in_range(ta.trange(h, lo, c), 0, np.inf)


@SETTINGS
@given(value=st.floats(0.01, 1e6), n=st.integers(0, 80), p=periods)
def test_moving_averages_of_a_constant_are_the_constant(value: float, n: int, p: int) -> None:
    x = np.full(n, value)
    for f in (ta.sma, ta.ema, ta.wma, ta.dema, ta.tema, ta.kama):
        out = f(x, p)
        ok = ~np.isnan(out)
        np.testing.assert_allclose(out[ok], value, rtol=1e-12)


@SETTINGS
@given(x=prices, p=periods)
def test_zscore_matches_pandas_and_percent_b(x: np.ndarray, p: int) -> None:
    s = pd.Series(x).rolling(p)
    mean = s.mean().to_numpy()
    for ddof in (0, 1):
        std = s.std(ddof=ddof).to_numpy()
        z = ta.rolling_zscore(x, p, ddof=ddof)
        flat = pd.Series(x).rolling(p).apply(lambda w: float(np.ptp(w) == 0), raw=True).to_numpy() == 1
        assert np.isnan(z[flat]).all()
        ok = ~np.isnan(std) & ~flat & (std > 1e-6 * np.abs(mean))
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = (x - mean) / std
        np.testing.assert_allclose(z[ok], expected[ok], rtol=1e-6, atol=1e-6)
    z0 = ta.rolling_zscore(x, p)
    pb = ta.bbands_percent_b(x, p, 2.0, 2.0)
    # %B comes from the TA-Lib-style bands, whose width is meaningless where the window's
    # spread is at rounding level (x = [1, 1+2e-16, 1]): compare where the spread is real.
    std0 = s.std(ddof=0).to_numpy()
    ok = ~np.isnan(z0) & ~np.isnan(pb) & (std0 > 1e-6 * np.abs(mean))
    np.testing.assert_allclose(pb[ok], 0.5 + z0[ok] / 4.0, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(x=prices, p=periods, interval=st.sampled_from([1.0, 60.0, 3600.0, 86400.0]))
def test_rolling_volatility_is_annualised_sample_std_of_log_returns(x: np.ndarray, p: int, interval: float) -> None:
    out = ta.rolling_volatility(x, p, interval_seconds=interval)
    n = x.shape[0]
    assert out.shape == (n,) and np.isnan(out[: min(p, n)]).all()
    if n <= p:
        return
    r = np.diff(np.log(x))
    expected = np.lib.stride_tricks.sliding_window_view(r, p).std(axis=1, ddof=1) * np.sqrt(365 * 24 * 3600 / interval)
    assert not np.isnan(out[p:]).any()
    np.testing.assert_allclose(out[p:], expected, rtol=1e-7, atol=1e-9 * np.sqrt(365 * 24 * 3600 / interval))
    np.testing.assert_allclose(
        ta.rolling_volatility(x, p, periods_per_year=252.0)[p:], out[p:] * np.sqrt(252.0 * interval / (365 * 24 * 3600)), rtol=1e-12
    )


@SETTINGS
@given(data=ohlcv(), p=st.integers(1, 30))
def test_rolling_vwap_matches_windowed_sums(data: dict[str, np.ndarray], p: int) -> None:
    h, lo, c, v = data["high"], data["low"], data["close"], data["volume"]
    n = c.shape[0]
    out = ta.rolling_vwap(h, lo, c, v, p)
    assert out.shape == (n,) and np.isnan(out[: p - 1]).all()
    if n < p:
        return
    tp = (h + lo + c) / 3.0
    win = np.lib.stride_tricks.sliding_window_view
    num = win(tp * v, p).sum(axis=1)
    den = win(v, p).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(den > 0, num / den, np.nan)
    np.testing.assert_array_equal(np.isnan(out[p - 1 :]), np.isnan(expected))
    np.testing.assert_allclose(out[p - 1 :], expected, rtol=1e-7)


@SETTINGS
@given(data=ohlcv(min_size=1), sessions=st.lists(st.integers(1, 30), min_size=1, max_size=8))
def test_session_vwap_matches_pandas_groupby(data: dict[str, np.ndarray], sessions: list[int]) -> None:
    h, lo, c, v = data["high"], data["low"], data["close"], data["volume"]
    n = c.shape[0]
    labels = np.repeat(np.arange(len(sessions)), sessions)[:n]
    labels = np.concatenate([labels, np.full(n - labels.shape[0], len(sessions))])
    tp = (h + lo + c) / 3.0
    df = pd.DataFrame({"pv": tp * v, "v": v, "s": labels})
    num = df.groupby("s")["pv"].cumsum().to_numpy()
    den = df.groupby("s")["v"].cumsum().to_numpy()
    expected = np.where(den != 0, num / np.where(den == 0, 1.0, den), np.nan)
    out = ta.vwap(h, lo, c, v, session=labels)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-9)
