"""tsanalysis.ta against the published StockCharts ChartSchool tables
(tests/data/stockcharts/, provenance in its README.md).

Published figures are rounded, so they are checked to 5e-5 after the warm-up;
the same inputs are also run through TA-Lib and checked to 1e-6 (and the NaN
positions must be identical).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tsanalysis.ta as ta
from tests.ta_support import assert_matches, talib

DATA = Path(__file__).parent / "data" / "stockcharts"
PUBLISHED_TOL = 5e-5


def _parse_dates(col: pd.Series) -> pd.Series:
    for fmt in ("%d-%b-%y", "%d/%m/%Y", "%Y-%m-%d"):
        parsed = pd.to_datetime(col, format=fmt, errors="coerce")
        if parsed.notna().all():
            return parsed
    raise AssertionError(f"unrecognised date format in {col.head(3).tolist()}")


def load(name: str) -> pd.DataFrame:
    df = pd.read_csv(DATA / name)
    df = df.loc[:, ~df.columns.str.startswith("Unnamed")]
    date_col = next(c for c in df.columns if "Date" in c)
    df["Date"] = _parse_dates(df[date_col])
    assert df["Date"].is_monotonic_increasing, name
    return df


def col(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(dtype=np.float64)


def check_published(ours: np.ndarray, published: np.ndarray, first: int, tol: float = PUBLISHED_TOL) -> None:
    """Compare from ``first`` on, wherever a figure is published."""
    assert np.isnan(ours[:first]).all()
    rows = np.arange(published.shape[0]) >= first
    rows &= ~np.isnan(published)
    assert rows.sum() >= 2  # cs-ultosc.csv publishes only two values after its 28-bar warm-up
    np.testing.assert_allclose(ours[rows], published[rows], rtol=0, atol=tol)


def test_date_formats_are_all_handled() -> None:
    for f in sorted(DATA.glob("cs-*.csv")):
        assert len(load(f.name)) >= 30


def test_bbands() -> None:
    df = load("cs-bbands.csv")
    close = col(df, "Close")
    upper, middle, lower = ta.bbands(close, 20, 2.0, 2.0)
    lb = ta.bbands.lookback(timeperiod=20)
    check_published(middle, col(df, "MiddleBand"), lb)
    check_published(upper, col(df, "HighBand"), lb)
    check_published(lower, col(df, "LowBand"), lb)
    check_published((upper - middle) / 2.0, col(df, "20-day Standard Deviation"), lb)
    check_published(ta.bbands_bandwidth(close, 20) * 100.0, col(df, "WidthBand"), lb)
    check_published(ta.bbands_percent_b(close, 20), col(df, "PercentageBand"), lb)
    assert_matches((upper, middle, lower), tuple(talib.BBANDS(close, 20, 2.0, 2.0, 0)))


def test_cci() -> None:
    df = load("cs-cci.csv")
    h, lo, c = col(df, "High"), col(df, "Low"), col(df, "Close")
    out = ta.cci(h, lo, c, 20)
    check_published(out, col(df, "CCI"), 19)
    assert_matches((out,), (talib.CCI(h, lo, c, 20),))


def test_mfi() -> None:
    df = load("cs-mfi.csv")
    args = [col(df, k) for k in ("High", "Low", "Close", "Volume")]
    out = ta.mfi(*args, timeperiod=14)
    check_published(out, col(df, "MFI"), 14)
    assert_matches((out,), (talib.MFI(*args, timeperiod=14),))


def test_obv() -> None:
    df = load("cs-obv.csv")
    close, volume = col(df, "Close"), col(df, "Volume")
    assert np.isnan(volume[0])  # the sheet has no volume on its first row
    out = ta.obv(close, volume)
    check_published(out, col(df, "OBV"), 1)
    assert_matches((out,), (talib.OBV(close, volume),))


def _fill_warmup_close(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, lo, c = col(df, "High"), col(df, "Low"), col(df, "Close")
    blank = np.isnan(c)
    c = np.where(blank, (h + lo) / 2.0, c)  # only the current bar's close is used
    return h, lo, c


def test_willr() -> None:
    df = load("cs-percentr.csv")
    h, lo, c = _fill_warmup_close(df)
    out = ta.willr(h, lo, c, 14)
    check_published(out, col(df, "Williams_%R"), 13)
    assert_matches((out,), (talib.WILLR(h, lo, c, 14),))


def test_kama() -> None:
    df = load("cs-kama.csv")
    close = col(df, "Close")
    out = ta.kama(close, 10)
    check_published(out, col(df, "KAMA"), 10)
    assert_matches((out,), (talib.KAMA(close, 10),))


def test_ultosc() -> None:
    df = load("cs-ultosc.csv")
    h, lo, c = col(df, "High"), col(df, "Low"), col(df, "Close")
    out = ta.ultosc(h, lo, c, 7, 14, 28)
    check_published(out, col(df, "Ult_Osc"), 28)
    assert_matches((out,), (talib.ULTOSC(h, lo, c, 7, 14, 28),))


def test_wma() -> None:
    df = load("cs-wma.csv")
    close = col(df, "Close")
    out = ta.wma(close, 9)
    check_published(out, col(df, "WMA"), 8)
    assert_matches((out,), (talib.WMA(close, 9),))


def test_ad() -> None:
    df = load("cs-accum.csv")
    args = [col(df, k) for k in ("High", "Low", "Close", "Volume")]
    out = ta.ad(*args)
    check_published(out, col(df, "ADLine"), 0)
    assert_matches((out,), (talib.AD(*args),))


@pytest.mark.parametrize(
    "params",
    [
        {"fastk_period": 14, "slowk_period": 1, "slowd_period": 3},  # %K unsmoothed, %D = SMA(3)
        {"fastk_period": 14, "slowk_period": 1, "slowd_period": 1},  # %K alone, from its first bar
    ],
)
def test_stoch(params: dict[str, Any]) -> None:
    df = load("cs-soo.csv")
    h, lo, c = _fill_warmup_close(df)
    slowk, slowd = ta.stoch(h, lo, c, **params)
    lb = ta.stoch.lookback(**params)
    check_published(slowk, col(df, "SO"), lb)
    if params["slowd_period"] == 3:
        check_published(slowd, col(df, "SO_SIG"), lb)
    assert_matches((slowk, slowd), tuple(talib.STOCH(h, lo, c, **params)))
