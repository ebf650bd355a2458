"""The indicators that are not in TA-Lib: VWAP (session and rolling), rolling
volatility, rolling z-score, and the Bollinger %B / BandWidth helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import tsanalysis.ta as ta
from tests.ta_support import random_walk


def test_session_vwap_resets_on_each_session() -> None:
    d = random_walk(3 * 1440, seed=1)
    ts = 1_700_000_000 + 60 * np.arange(3 * 1440)  # one-minute bars over three days
    sessions = ta.session_ids(ts)
    out = ta.vwap(d["high"], d["low"], d["close"], d["volume"], session=sessions)
    tp = (d["high"] + d["low"] + d["close"]) / 3
    frame = pd.DataFrame({"pv": tp * d["volume"], "v": d["volume"], "s": sessions})
    g = frame.groupby("s")
    expected = (g["pv"].cumsum() / g["v"].cumsum()).to_numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    first_bars = np.flatnonzero(np.diff(sessions)) + 1
    assert first_bars.size == 3  # 1.7e9 s is not at midnight UTC: 4 sessions
    np.testing.assert_allclose(out[first_bars], tp[first_bars], rtol=1e-12)
    assert ta.vwap.lookback() == 0


def test_session_ids() -> None:
    day = 86400
    ts = np.array([0, day - 1, day, 2 * day + 5])
    np.testing.assert_array_equal(ta.session_ids(ts), [0, 0, 1, 2])
    np.testing.assert_array_equal(ta.session_ids(ts, offset_seconds=8 * 3600), [-1, 0, 0, 1])
    np.testing.assert_array_equal(ta.session_ids(ts, session_seconds=3600)[:2], [0, 23])
    with pytest.raises(ValueError):
        ta.session_ids(ts, session_seconds=0)


def test_vwap_without_session_is_cumulative_and_zero_volume_is_nan() -> None:
    h = np.array([2.0, 4.0, 6.0, 8.0])
    lo = h - 1.0
    c = h - 0.5
    v = np.array([0.0, 1.0, 3.0, 0.0])
    out = ta.vwap(h, lo, c, v)
    tp = (h + lo + c) / 3
    assert np.isnan(out[0])
    assert out[1] == pytest.approx(tp[1])
    assert out[2] == pytest.approx((tp[1] + 3 * tp[2]) / 4)
    assert out[3] == pytest.approx(out[2])
    with pytest.raises(ValueError):
        ta.vwap(h, lo, c, v, session=[1, 2])


def test_rolling_vwap_basics() -> None:
    h = np.array([2.0, 4.0, 6.0, 8.0, 10.0])
    v = np.array([1.0, 0.0, 0.0, 2.0, 2.0])
    out = ta.rolling_vwap(h, h, h, v, timeperiod=2)
    assert np.isnan(out[0])
    assert out[1] == 2.0 and np.isnan(out[2])  # a window with no volume has no VWAP
    assert out[3] == 8.0 and out[4] == 9.0
    assert ta.rolling_vwap.lookback(timeperiod=2) == 1
    np.testing.assert_array_equal(ta.rolling_vwap(h, h, h, v, timeperiod=1)[[0, 3, 4]], [2.0, 8.0, 10.0])


def test_rolling_volatility_formula() -> None:
    x = random_walk(500, seed=2)["close"]
    r = np.diff(np.log(x))
    n = 30
    out = ta.rolling_volatility(x, n, interval_seconds=60)
    # 525,600 one-minute bars in a 365-day year
    assert out[n] == pytest.approx(np.std(r[:n], ddof=1) * math.sqrt(525_600), rel=1e-10)
    assert np.isnan(out[:n]).all() and ta.rolling_volatility.lookback(timeperiod=n) == n
    hourly = ta.rolling_volatility(x, n, interval_seconds=3600)
    np.testing.assert_allclose(hourly[n:], out[n:] / math.sqrt(60), rtol=1e-12)
    daily = ta.rolling_volatility(x, n, periods_per_year=252)
    np.testing.assert_allclose(daily[n:], out[n:] * math.sqrt(252 / 525_600), rtol=1e-12)
    flat = ta.rolling_volatility(np.full(50, 3.0), 10)
    assert (flat[10:] == 0.0).all()
    for bad in ({"interval_seconds": 0}, {"interval_seconds": -60}, {"periods_per_year": 0}):
        with pytest.raises(ValueError):
            ta.rolling_volatility(x, 10, **bad)
    with pytest.raises(ValueError):
        ta.rolling_volatility(x, 1)


def test_rolling_volatility_non_positive_price_is_missing() -> None:
    x = random_walk(100, seed=3)["close"]
    x[50] = 0.0
    out = ta.rolling_volatility(x, 5)
    assert np.isnan(out[50:56]).all() and not np.isnan(out[56]) and not np.isnan(out[49])


def test_rolling_zscore() -> None:
    x = random_walk(300, seed=4)["close"]
    n = 20
    z = ta.rolling_zscore(x, n)
    w = x[:n]
    assert z[n - 1] == pytest.approx((w[-1] - w.mean()) / w.std(ddof=0), rel=1e-10)
    zs = ta.rolling_zscore(x, n, ddof=1)
    assert zs[n - 1] == pytest.approx((w[-1] - w.mean()) / w.std(ddof=1), rel=1e-10)
    assert np.isnan(z[: n - 1]).all() and ta.rolling_zscore.lookback(timeperiod=n) == n - 1
    # identity with Bollinger Bands (population std)
    upper, middle, _ = ta.bbands(x, n, 2.0, 2.0)
    np.testing.assert_allclose(z[n - 1 :], ((x - middle) / ((upper - middle) / 2.0))[n - 1 :], rtol=1e-9)
    assert np.isnan(ta.rolling_zscore(np.full(30, 7.0), 5)[4:]).all()  # zero dispersion
    with pytest.raises(ValueError):
        ta.rolling_zscore(x, n, ddof=2)
    with pytest.raises(ValueError):
        ta.rolling_zscore(x, 1)


def test_bbands_helpers() -> None:
    x = random_walk(300, seed=5)["close"]
    upper, middle, lower = ta.bbands(x, 20, 2.0, 2.0)
    np.testing.assert_allclose(ta.bbands_percent_b(x, 20), (x - lower) / (upper - lower), rtol=1e-12)
    np.testing.assert_allclose(ta.bbands_bandwidth(x, 20), (upper - lower) / middle, rtol=1e-12)
    flat = np.full(40, 5.0)
    assert np.isnan(ta.bbands_percent_b(flat, 20)).all()
    assert (ta.bbands_bandwidth(flat, 20)[19:] == 0.0).all()
    assert ta.bbands_percent_b.lookback(timeperiod=20) == ta.bbands.lookback(timeperiod=20) == 19


def test_every_public_function_has_a_docstring_and_lookback() -> None:
    import inspect

    for name in ta.__all__:
        obj = getattr(ta, name)
        if inspect.isfunction(obj) and name not in ("lookback", "session_ids"):
            assert obj.__doc__ and len(obj.__doc__) > 80, name
            assert callable(obj.lookback), name
            assert name in ta.LOOKBACKS and name in ta.OUTPUT_NAMES
            assert "Lookback" in obj.__doc__, name
