"""The built-in strategies, registered through the same hook as a third party's.

Each reads indicators from the store (computed and stored first when missing) and returns
a target per point: 1 long, -1 short, 0 flat; NaN carries the previous decision forward
(``carry_forward``). Run long-only, the shorts become flat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tsanalysis import hookimpl
from tsanalysis.backtest.engine import carry_forward
from tsanalysis.backtest.strategy import IndicatorRef, Strategy
from tsanalysis.errors import InvalidInput
from tsanalysis.indicators.base import Inputs
from tsanalysis.params import Param

# -- threshold on an oscillator --------------------------------------------------------

def _threshold_inputs(oscillator: str, timeperiod: int, lower: float, upper: float
                      ) -> dict[str, IndicatorRef]:
    if not lower < upper:
        raise InvalidInput(f"threshold: lower ({lower}) must be below upper ({upper})")
    return {"osc": IndicatorRef(oscillator, {"timeperiod": timeperiod})}


def _threshold(prices: Inputs, ind: Mapping[str, np.ndarray], oscillator: str,
               timeperiod: int, lower: float, upper: float) -> np.ndarray:
    osc = ind["osc"]
    events = np.full(prices.n, np.nan)
    events[osc < lower] = 1.0
    events[osc > upper] = -1.0
    return carry_forward(events)


THRESHOLD = Strategy(
    name="threshold", signal=_threshold, indicators=_threshold_inputs,
    params=(Param("oscillator", str, "rsi", doc="a registered indicator with one output and "
                  "a timeperiod parameter (rsi, cci, cmo, mfi, willr, ...)"),
            Param("timeperiod", int, 14, minimum=2, maximum=100_000,
                  doc="the oscillator's timeperiod"),
            Param("lower", float, 30.0, doc="long below this level"),
            Param("upper", float, 70.0, doc="short (flat when long-only) above this level")),
    doc="Mean reversion on an oscillator: long when it falls below lower, short when it "
        "rises above upper, the position held in between (RSI 14, 30/70 by default).")


# -- moving-average crossover --------------------------------------------------------

def _cross_inputs(fast: str, fast_period: int, slow: str, slow_period: int
                  ) -> dict[str, IndicatorRef]:
    if fast == slow and fast_period >= slow_period:
        raise InvalidInput(f"ma_cross: fast_period ({fast_period}) must be below slow_period "
                           f"({slow_period}) for the same average")
    return {"fast": IndicatorRef(fast, {"timeperiod": fast_period}),
            "slow": IndicatorRef(slow, {"timeperiod": slow_period})}


def _cross(prices: Inputs, ind: Mapping[str, np.ndarray], **_: Any) -> np.ndarray:
    diff = ind["fast"] - ind["slow"]
    return np.where(np.isnan(diff), np.nan, np.sign(diff))


_MA_DOC = "a registered moving average with a timeperiod (sma, ema, wma, dema, tema, kama, ...)"
MA_CROSS = Strategy(
    name="ma_cross", signal=_cross, indicators=_cross_inputs,
    params=(Param("fast", str, "sma", doc=_MA_DOC),
            Param("fast_period", int, 10, minimum=2, maximum=100_000),
            Param("slow", str, "sma", doc=_MA_DOC),
            Param("slow_period", int, 30, minimum=2, maximum=100_000)),
    doc="Moving-average crossover: long while the fast average is above the slow one, "
        "short while below.")


# -- Bollinger-band mean reversion ------------------------------------------------------

def _bands_inputs(timeperiod: int, nbdev: float) -> dict[str, IndicatorRef]:
    p = {"timeperiod": timeperiod, "nbdevup": nbdev, "nbdevdn": nbdev, "matype": 0}
    return {"upper": IndicatorRef("bbands", p, "upperband"),
            "middle": IndicatorRef("bbands", p, "middleband"),
            "lower": IndicatorRef("bbands", p, "lowerband")}


def _bands(prices: Inputs, ind: Mapping[str, np.ndarray], **_: Any) -> np.ndarray:
    close, mid = prices["close"], ind["middle"]
    side = np.sign(close - mid)
    prev = np.concatenate(([np.nan], side[:-1]))
    events = np.full(prices.n, np.nan)
    events[(side != prev) & ~np.isnan(prev) & ~np.isnan(side)] = 0.0  # crossed the middle
    events[close < ind["lower"]] = 1.0
    events[close > ind["upper"]] = -1.0
    return carry_forward(events)


BOLLINGER = Strategy(
    name="bollinger", signal=_bands, indicators=_bands_inputs,
    params=(Param("timeperiod", int, 20, minimum=2, maximum=100_000),
            Param("nbdev", float, 2.0, minimum=0.1, maximum=10.0,
                  doc="band width in standard deviations")),
    doc="Bollinger-band mean reversion: long below the lower band, short above the upper "
        "band, flat when the price crosses the middle band.")


# -- MACD signal-line crossing ------------------------------------------------------------

def _macd_inputs(fastperiod: int, slowperiod: int, signalperiod: int
                 ) -> dict[str, IndicatorRef]:
    p = {"fastperiod": fastperiod, "slowperiod": slowperiod, "signalperiod": signalperiod}
    return {"macd": IndicatorRef("macd", p, "macd"),
            "signal": IndicatorRef("macd", p, "macdsignal")}


MACD = Strategy(
    name="macd", signal=lambda prices, ind, **_: _cross(
        prices, {"fast": ind["macd"], "slow": ind["signal"]}),
    indicators=_macd_inputs,
    params=(Param("fastperiod", int, 12, minimum=2, maximum=100_000),
            Param("slowperiod", int, 26, minimum=2, maximum=100_000),
            Param("signalperiod", int, 9, minimum=1, maximum=100_000)),
    doc="MACD signal-line crossing: long while MACD is above its signal line, short while "
        "below.")


@hookimpl
def register_strategies(register: Callable[[Strategy], None]) -> None:
    for strategy in (THRESHOLD, MA_CROSS, BOLLINGER, MACD):
        register(strategy)
