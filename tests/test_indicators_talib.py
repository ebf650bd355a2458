"""The built-ins agree with TA-Lib through the whole path: ticks (or bars) in the store ->
compute -> indicators table -> history -> the same numbers TA-Lib computes on the same
series, to 1e-6, with NaN in the same places. Indicators TA-Lib does not have are checked
against a pandas computation of their published definition, and a few published
StockCharts tables are run through the store as daily bars."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import tsanalysis
from tsanalysis.default_plugins.indicators import curated_indicators
from tsanalysis.ids import interval_seconds
from tsanalysis.indicators import Indicator

from .helpers import ticks
from .test_ta_stockcharts import PUBLISHED_TOL, col, load

talib = pytest.importorskip("talib")

SYM = "BTC/USDT"
SID = "talib-agreement"
BUILTINS = curated_indicators()  # the rest of TA-Lib's catalogue: test_indicators_catalogue
SECONDS_PER_YEAR = 365 * 86400


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ws = tsanalysis.connect(f"duckdb:///{tmp_path_factory.mktemp('agree')}/agree.duckdb")
    ws.sessions.create([SYM], SID, cadence_s=1.0)
    frame = ticks(4000, seed=3)
    frame.loc[frame.index[10::37], "ts"] = frame["ts"].shift(1)[10::37]  # trades sharing a ts
    frame.loc[frame.index[600:640], "price"] = frame["price"].iloc[600]  # a flat stretch
    ws.ingest(SID, SYM, frame)
    yield ws
    ws.close()


def _alternate(ind: Indicator) -> dict:
    """Non-default parameters inside the bounds."""
    out = {}
    for p in ind.params:
        if p.choices is not None or (p.type is int and p.maximum == p.minimum):
            out[p.name] = p.default
        elif p.type is int:
            out[p.name] = min(int(p.maximum), int(p.default) + 3)
        elif p.type is float:
            out[p.name] = 1.5 if p.default else 252.0
        else:
            out[p.name] = "30m"
    return out


def _reference(ind: Indicator, x: dict[str, np.ndarray], params: dict, ts: pd.Series,
               secs: float) -> dict[str, np.ndarray]:
    """TA-Lib's numbers, or the published definition computed with pandas."""
    name = ind.name
    if name.upper() in talib.get_functions():
        res = getattr(talib, name.upper())(*(x[k] for k in ind.inputs), **params)
        res = res if isinstance(res, tuple) else (res,)
        return dict(zip(ind.outputs, res, strict=True))
    if name.startswith("bbands_"):
        up, mid, lo = talib.BBANDS(x["close"], **params)
        with np.errstate(divide="ignore", invalid="ignore"):
            if name.endswith("percent_b"):
                return {"real": np.where(up - lo == 0, np.nan, (x["close"] - lo) / (up - lo))}
            return {"real": np.where(mid == 0, np.nan, (up - lo) / mid)}
    tp = (x["high"] + x["low"] + x["close"]) / 3.0
    v = x["volume"]
    if name == "vwap_anchored":
        group = ts.dt.floor(pd.Timedelta(seconds=interval_seconds(params["anchor"]))).to_numpy()
        num = pd.Series(tp * v).groupby(group).cumsum()
        return {"real": (num / pd.Series(v).groupby(group).cumsum()).to_numpy()}
    n = params["timeperiod"]
    if name == "rolling_vwap":
        return {"real": _rolling(tp * v, n, np.sum) / _rolling(v, n, np.sum)}
    if name == "rolling_volatility":
        ppy = params["periods_per_year"] or SECONDS_PER_YEAR / secs
        r = np.diff(np.log(x["close"]), prepend=np.nan)
        return {"real": _rolling(r, n, lambda w, axis: np.std(w, axis=axis, ddof=1))
                * math.sqrt(ppy)}
    if name == "rolling_zscore":
        mean = _rolling(x["close"], n, np.mean)
        std = _rolling(x["close"], n, lambda w, axis: np.std(w, axis=axis, ddof=params["ddof"]))
        flat = _rolling(x["close"], n, np.ptp) == 0  # identical values: undefined
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"real": np.where(flat, np.nan, (x["close"] - mean) / std)}
    raise AssertionError(f"no reference for {name}")


def _rolling(a: np.ndarray, n: int, f) -> np.ndarray:
    """``f`` over every window of ``n`` values ending at each point, computed afresh."""
    out = np.full(a.shape[0], np.nan)
    if a.shape[0] >= n:
        out[n - 1:] = f(np.lib.stride_tricks.sliding_window_view(a, n), axis=1)
    return out


def assert_agrees(got: np.ndarray, ref: np.ndarray, what: str, rtol: float = 1e-6) -> None:
    assert got.shape == ref.shape, what
    bad_nan = np.flatnonzero(np.isnan(got) != np.isnan(ref))
    assert bad_nan.size == 0, f"{what}: NaN differs at {bad_nan[:10]}"
    ok = ~np.isnan(ref)
    assert ok.any(), f"{what}: nothing to compare"
    err = np.abs(got[ok] - ref[ok]) / np.maximum(1.0, np.abs(ref[ok]))
    assert err.max() <= rtol, f"{what}: off by {err.max():.3g} (relative)"


CASES = [(ind, source, which) for ind in BUILTINS for source in ("ticks", "10s")
         for which in ("defaults", "other")]


@pytest.mark.parametrize(("ind", "source", "which"), CASES,
                         ids=[f"{i.name}-{s}-{w}" for i, s, w in CASES])
def test_builtin_agrees_through_the_store(session, ind, source, which):
    ws = session
    params = ind.check_params(ind.defaults if which == "defaults" else _alternate(ind))
    interval = None if source == "ticks" else source
    res = ws.indicators.compute(SID, SYM, ind.name, params, interval=interval)
    if interval is None:
        raw = ws.ticks(SID, SYM)
        x = {k: raw["price"].to_numpy() for k in ("open", "high", "low", "close")}
        x["volume"] = raw["volume"].to_numpy()
        secs = 1.0
        assert res.source == "ticks"
    else:
        raw = ws.ohlcv(SID, SYM, interval)
        x = {k: raw[k].to_numpy() for k in ("open", "high", "low", "close", "volume")}
        secs = 10.0
        assert res.source == "bars from ticks"
    assert res.rows == len(raw) and res.written == len(raw) * len(ind.outputs)
    ref = _reference(ind, x, params, raw["ts"], secs)
    for output, iid in res.outputs.items():
        hist = ws.indicators.history(SID, SYM, iid)
        assert hist["ts"].equals(raw["ts"]), "one row per input point, in order"
        if interval is None:
            assert (hist["seq"].to_numpy() == raw["seq"].to_numpy()).all()
        assert_agrees(hist["value"].to_numpy(), ref[output], f"{iid}")
        assert_agrees(res.frame[output].to_numpy(), ref[output], f"{iid} (returned)")
        # the warm-up is the declared lookback (the input has no NaN)
        assert np.isnan(hist["value"].to_numpy()[:ind.warmup(params)]).all()


def test_stored_bars_are_preferred_to_ticks(session):
    ws = session
    ws.build_bars(SID, "30s")  # now stored
    res = ws.indicators.compute(SID, SYM, "atr", interval="30s")
    assert res.source == "stored bars"
    bars = ws.read("aggregated_ohlcv", SID, SYM, filters={"interval": "30s"})
    ref = talib.ATR(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy())
    assert_agrees(ws.indicators.history(SID, SYM, "atr_14.30s")["value"].to_numpy(), ref, "atr")


# -- published tables, through the store as daily bars -----------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    ws = tsanalysis.connect(f"duckdb:///{tmp_path_factory.mktemp('sc')}/sc.duckdb")
    yield ws
    ws.close()


def _daily(ws, name: str, symbol: str) -> pd.DataFrame:
    df = load(name)
    close = col(df, "Close")
    high = col(df, "High") if "High" in df else close
    low = col(df, "Low") if "Low" in df else close
    close = np.where(np.isnan(close), (high + low) / 2.0, close)
    bars = pd.DataFrame({"ts": pd.DatetimeIndex(df["Date"]).tz_localize("UTC").as_unit("us"),
                         "open": close, "high": high, "low": low, "close": close,
                         "volume": col(df, "Volume") if "Volume" in df else 1.0})
    ws.sessions.create([symbol], symbol.replace("/", "-"))
    ws.ingest(symbol.replace("/", "-"), symbol, bars, kind="ohlcv", interval="1d")
    return df


@pytest.mark.parametrize(("table", "indicator", "params", "column", "scale"), [
    ("cs-cci.csv", "cci", {"timeperiod": 20}, "CCI", 1.0),
    ("cs-bbands.csv", "bbands_percent_b", {"timeperiod": 20}, "PercentageBand", 1.0),
    ("cs-bbands.csv", "bbands_bandwidth", {"timeperiod": 20}, "WidthBand", 100.0),
    ("cs-mfi.csv", "mfi", {"timeperiod": 14}, "MFI", 1.0),
    ("cs-kama.csv", "kama", {"timeperiod": 10}, "KAMA", 1.0),
    ("cs-wma.csv", "wma", {"timeperiod": 9}, "WMA", 1.0),
])
def test_published_tables(published, table, indicator, params, column, scale):
    symbol = f"SC/{indicator.upper()}"
    df = _daily(published, table, symbol)
    sid = symbol.replace("/", "-")
    res = published.indicators.compute(sid, symbol, indicator, params, interval="1d")
    assert res.source == "stored bars" and res.rows == len(df)
    got = published.indicators.history(sid, symbol, res.outputs["real"])["value"].to_numpy()
    want = col(df, column)
    ok = ~np.isnan(want) & (np.arange(len(want)) >= published.indicators.get(indicator)
                            .warmup(res.params))  # some tables print the seed value
    assert ok.sum() >= 5 and not np.isnan(got[ok]).any()
    np.testing.assert_allclose(got[ok] * scale, want[ok], rtol=0, atol=PUBLISHED_TOL * scale)
