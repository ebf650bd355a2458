"""{{ cookiecutter.description }}."""

import numpy as np

from tsanalysis import hookimpl
from tsanalysis.backtest import IndicatorRef, Strategy
from tsanalysis.indicators import Indicator, Param


def _range_pct(x, timeperiod):
    """Average bar range in percent of the close over `timeperiod` bars."""
    r = 100.0 * (x["high"] - x["low"]) / x["close"]
    out = np.full(r.shape, np.nan)
    c = np.cumsum(r)
    out[timeperiod - 1:] = (c[timeperiod - 1:] - np.concatenate(([0.0], c[:-timeperiod]))) / timeperiod
    return out


@hookimpl
def register_indicators(register):
    register(Indicator(
        name="{{ cookiecutter.plugin_name }}.range_pct",
        inputs=("high", "low", "close"),
        params=(Param("timeperiod", int, 14, minimum=1, maximum=100_000),),
        lookback=lambda timeperiod: timeperiod - 1,
        compute=_range_pct,
        doc="Average bar range in percent of the close.",
    ))


def _above_ema(prices, ind, timeperiod):
    """Long while the price is above its EMA, flat otherwise."""
    return np.where(prices["close"] > ind["ema"], 1.0, 0.0)


@hookimpl
def register_strategies(register):
    register(Strategy(
        name="{{ cookiecutter.plugin_name }}.above_ema",
        signal=_above_ema,
        params=(Param("timeperiod", int, 50, minimum=2, maximum=100_000),),
        indicators=lambda timeperiod: {"ema": IndicatorRef("ema", {"timeperiod": timeperiod})},
        long_only=True,
        doc="Long while the price is above its EMA.",
    ))
