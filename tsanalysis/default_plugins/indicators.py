"""The built-in indicators, registered through the same hook as any plugin.

TA-Lib's whole catalogue is built in, under TA-Lib's lower-case function names, with its
parameter names (every ``matype``), defaults and output names, and the numbers are
TA-Lib's: :mod:`tsanalysis.ta` calls TA-Lib once per contiguous run of points. The common
ones are declared by hand below (bounds, docs, how ``update`` resumes them); the rest of
the catalogue is declared from TA-Lib's abstract API (:func:`catalogue_indicators`), so a
TA-Lib release with new functions brings them along. Indicators TA-Lib does not have
(Bollinger %B and width, anchored and rolling VWAP, rolling volatility and z-score) are
written with numpy and pandas (:mod:`tsanalysis.ta.extras`) and follow the published
definitions stated in their docs.

NaN policy (all built-ins): a point is missing when one of its inputs is NaN (a tick
without a size, for the volume indicators). Each maximal run of non-missing points is
computed as a series of its own, so missing points and the warm-up at the start of each
run are NaN, window indicators are NaN wherever their window touches a missing point, and
recursive ones restart after a gap. No NaN is ever turned into a number.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..hookspecs import hookimpl
from ..ids import INTERVAL_PATTERN, interval_seconds
from ..indicators.base import Indicator, Inputs, InvalidParameter, Param, decay_length

MAX_PERIOD = 100_000
HLC = ("high", "low", "close")
HLCV = ("high", "low", "close", "volume")


def _ta() -> Any:
    # Imported on first computation (it loads TA-Lib, and TA-Lib loads pandas).
    return importlib.import_module("tsanalysis.ta")


def _talib() -> Any:
    return importlib.import_module("tsanalysis.ta._talib")


def _period(name: str = "timeperiod", default: int = 14, minimum: int = 2,
            doc: str = "number of points in the window") -> Param:
    return Param(name, int, default, minimum=minimum, maximum=MAX_PERIOD, doc=doc)


def _lookback(kernel: str) -> Callable[..., int]:
    return lambda **p: _ta().lookback(kernel, **p)


def _kernel(kernel: str, inputs: tuple[str, ...]) -> Callable[..., Any]:
    def compute(x: Inputs, **params: Any) -> Any:
        return getattr(_ta(), kernel)(*(x[k] for k in inputs), **params)

    compute.__name__ = f"compute_{kernel}"
    return compute


def _wilder(p: int) -> float:
    return 1.0 - 1.0 / p


def _ema(p: int) -> float:
    return (p - 1.0) / (p + 1.0)


def _ind(name: str, inputs: tuple[str, ...], params: tuple[Param, ...], doc: str, *,
         outputs: tuple[str, ...] = ("real",), unstable: Callable[..., int] | int = 0,
         update: str = "window", compute: Callable[..., Any] | None = None,
         lookback: Callable[..., int] | None = None,
         validate: Callable[[dict[str, Any]], None] | None = None) -> Indicator:
    return Indicator(name=name, compute=compute or _kernel(name, inputs), inputs=inputs,
                     outputs=outputs, params=params,
                     lookback=_lookback(name) if lookback is None else lookback,
                     unstable=unstable, update=update, doc=doc,  # type: ignore[arg-type]
                     validate=validate)


_MATYPE_DOC = ("moving-average type (TA-Lib's MA_Type): 0 SMA, 1 EMA, 2 WMA, 3 DEMA, 4 TEMA, "
               "5 TRIMA, 6 KAMA, 7 MAMA, 8 T3, 9 Hull, 10 none, 11 the function's default, "
               "12 zero-lag EMA, 13 Wilder")


def _matype(name: str = "matype", default: int = 0) -> Param:
    return Param(name, int, default, minimum=0, maximum=_talib().MAX_MATYPE, doc=_MATYPE_DOC)


def _bbands_params() -> tuple[Param, ...]:
    return (_period(default=20),
            Param("nbdevup", float, 2.0, minimum=-3e37, maximum=3e37,
                  doc="standard deviations above the middle band"),
            Param("nbdevdn", float, 2.0, minimum=-3e37, maximum=3e37,
                  doc="standard deviations below the middle band"),
            _matype())


# -- indicators TA-Lib does not have: thin adapters over the kernels ----------------------


def _vwap(x: Inputs, anchor: str | None) -> np.ndarray:
    ta = _ta()
    h, lo, c, v = (x[k] for k in HLCV)
    if anchor is None:
        return ta.vwap(h, lo, c, v)
    width = interval_seconds(anchor) * 1_000_000
    # Integer division of microseconds: exact at the boundaries, unlike float seconds.
    labels = (x.ts // width).astype(np.float64)
    return ta.vwap(h, lo, c, v, session=labels)


def _anchor_problem(value: str) -> str | None:
    return None if INTERVAL_PATTERN.match(value) else "an interval such as 1d, 8h"


def _rolling_volatility(x: Inputs, timeperiod: int, periods_per_year: float) -> np.ndarray:
    if periods_per_year == 0 and not x.interval_seconds:
        raise InvalidInput(
            "rolling_volatility on ticks annualises with the session's declared cadence "
            "(cadence_s), which this session does not have: pass periods_per_year, or "
            "compute it on bars (an interval)")
    return _ta().rolling_volatility(x["close"], timeperiod,
                                    interval_seconds=x.interval_seconds or 1.0,
                                    periods_per_year=periods_per_year or None)


def _ma_unstable(*matypes: str) -> Callable[..., int]:
    """Extra history for ``update`` when a moving-average type other than SMA (most are
    recursive) smooths over the longest period."""
    def unstable(**p: Any) -> int:
        if not any(p[m] for m in matypes):
            return 0
        longest = max(int(v) for k, v in p.items() if k.endswith("period"))
        return decay_length(1.0 - 1.0 / longest, order=2) if longest >= 2 else 0
    return unstable


def builtin_indicators() -> list[Indicator]:
    """Every built-in indicator, in the order ``tsanalysis indicators list`` shows them:
    the hand-declared ones, then the rest of TA-Lib's catalogue."""
    curated = curated_indicators()
    return curated + catalogue_indicators(frozenset(i.name for i in curated))


def curated_indicators() -> list[Indicator]:
    """The built-ins declared by hand: the common TA-Lib functions and those TA-Lib lacks."""
    close = ("close",)
    return [
        # -- overlap studies --------------------------------------------------------------
        _ind("sma", close, (_period(default=30, minimum=1),),
             "Simple moving average of the close (TA-Lib SMA): mean of the last "
             "timeperiod values."),
        _ind("ema", close, (_period(default=30, minimum=1),),
             "Exponential moving average (TA-Lib EMA): k = 2 / (timeperiod + 1), seeded "
             "with the SMA of the first timeperiod values (TA-Lib's SMA-seeded EMA).",
             unstable=lambda timeperiod: decay_length(_ema(timeperiod))),
        _ind("wma", close, (_period(default=30, minimum=1),),
             "Linearly weighted moving average (TA-Lib WMA): weights 1..timeperiod, the "
             "newest heaviest."),
        _ind("dema", close, (_period(default=30, minimum=1),),
             "Double EMA (TA-Lib DEMA): 2 * EMA - EMA(EMA), each EMA SMA-seeded.",
             unstable=lambda timeperiod: decay_length(_ema(timeperiod), order=2)),
        _ind("tema", close, (_period(default=30, minimum=1),),
             "Triple EMA (TA-Lib TEMA): 3 * EMA - 3 * EMA(EMA) + EMA(EMA(EMA)), each EMA "
             "SMA-seeded.",
             unstable=lambda timeperiod: decay_length(_ema(timeperiod), order=3)),
        _ind("kama", close, (_period(default=30, minimum=1),),
             "Kaufman adaptive moving average (TA-Lib KAMA): efficiency ratio over "
             "timeperiod, smoothing between the 2- and 30-period EMA constants, seeded with "
             "the previous value.",
             unstable=decay_length(1.0 - (2.0 / 31.0) ** 2)),
        _ind("bbands", close, _bbands_params(),
             "Bollinger Bands (TA-Lib BBANDS): middle band = SMA(timeperiod); upper/lower = "
             "middle +/- nbdev * the population standard deviation (ddof=0) of the window; "
             "matype picks another moving average for the middle band.",
             outputs=("upperband", "middleband", "lowerband"), unstable=_ma_unstable("matype")),
        _ind("bbands_percent_b", close, _bbands_params(),
             "Bollinger %B: (close - lowerband) / (upperband - lowerband), a fraction (0 on "
             "the lower band, 1 on the upper); NaN when the bands have zero width. Bands as "
             "bbands (population standard deviation).", unstable=_ma_unstable("matype")),
        _ind("bbands_bandwidth", close, _bbands_params(),
             "Bollinger BandWidth: (upperband - lowerband) / middleband, a fraction "
             "(StockCharts shows it x100); NaN when the middle band is 0.",
             unstable=_ma_unstable("matype")),
        # -- momentum -----------------------------------------------------------------
        _ind("rsi", close, (_period(),),
             "Relative Strength Index (TA-Lib RSI): Wilder smoothing of gains and losses "
             "(avg = (avg * (n - 1) + x) / n) seeded with the simple average of the first n "
             "changes; 100 * gain / (gain + loss), 0 on a flat series.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("macd", close,
             (_period("fastperiod", 12), _period("slowperiod", 26),
              _period("signalperiod", 9, minimum=1)),
             "MACD (TA-Lib MACD): EMA(fastperiod) - EMA(slowperiod), signal = "
             "EMA(signalperiod) of it, hist = macd - signal; SMA-seeded EMAs, the fast one "
             "seeded where the slow one starts (TA-Lib's convention), all three outputs "
             "starting together.",
             outputs=("macd", "macdsignal", "macdhist"),
             unstable=lambda fastperiod, slowperiod, signalperiod: decay_length(
                 max(_ema(fastperiod), _ema(slowperiod), _ema(signalperiod)), order=2)),
        _ind("stoch", HLC,
             (_period("fastk_period", 5, minimum=1), _period("slowk_period", 3, minimum=1),
              _matype("slowk_matype"), _period("slowd_period", 3, minimum=1),
              _matype("slowd_matype")),
             "Slow stochastic (TA-Lib STOCH): fastk = 100 * (close - lowest low) / (highest "
             "high - lowest low) over fastk_period, slowk = SMA(fastk, slowk_period), slowd "
             "= SMA(slowk, slowd_period) (other moving averages with the matypes).",
             outputs=("slowk", "slowd"), unstable=_ma_unstable("slowk_matype", "slowd_matype")),
        _ind("willr", HLC, (_period(),),
             "Williams %R (TA-Lib WILLR): -100 * (highest high - close) / (highest high - "
             "lowest low) over timeperiod, in [-100, 0]."),
        _ind("cci", HLC, (_period(),),
             "Commodity Channel Index (TA-Lib CCI): (tp - SMA(tp)) / (0.015 * mean absolute "
             "deviation), tp = (high + low + close) / 3."),
        _ind("mfi", HLCV, (_period(),),
             "Money Flow Index (TA-Lib MFI): 100 * positive / (positive + negative) money "
             "flow (typical price x volume) over timeperiod."),
        _ind("roc", close, (_period(default=10, minimum=1),),
             "Rate of change in percent (TA-Lib ROC): 100 * (close / close[-timeperiod] - 1)."),
        _ind("mom", close, (_period(default=10, minimum=1),),
             "Momentum (TA-Lib MOM): close - close[-timeperiod]."),
        _ind("ultosc", HLC,
             (_period("timeperiod1", 7, minimum=1), _period("timeperiod2", 14, minimum=1),
              _period("timeperiod3", 28, minimum=1)),
             "Ultimate Oscillator (TA-Lib ULTOSC): 100 * (4 A1 + 2 A2 + A3) / 7, Ai = buying "
             "pressure / true range summed over the three periods."),
        # -- volatility ---------------------------------------------------------------
        _ind("trange", HLC, (),
             "True range (TA-Lib TRANGE): max(high - low, |prev close - high|, |prev close - "
             "low|)."),
        _ind("atr", HLC, (_period(minimum=1),),
             "Average true range (TA-Lib ATR): Wilder smoothing of the true range, seeded "
             "with the simple average of the first timeperiod ranges.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("natr", HLC, (_period(minimum=1),),
             "Normalised ATR (TA-Lib NATR): 100 * ATR / close (Wilder smoothing).",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("rolling_volatility", close,
             (_period(default=20), Param("periods_per_year", float, 0.0, minimum=0.0,
                                        doc="bars per year; 0 derives it from the bar "
                                            "interval (the declared cadence on ticks)")),
             "Annualised rolling volatility (not TA-Lib): sample standard deviation (ddof=1) "
             "of the last timeperiod log returns x sqrt(periods per year); by default the "
             "year is 365 x 24 h of bars of the input's interval (a 24/7 market). A fraction "
             "(0.6 = 60 %).",
             compute=_rolling_volatility),
        # -- directional movement -----------------------------------------------------
        _ind("adx", HLC, (_period(),),
             "Average directional index (TA-Lib ADX): Wilder smoothing of DX, itself from "
             "Wilder-smoothed +DM, -DM and true range.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod), order=2)),
        _ind("dx", HLC, (_period(),),
             "Directional movement index (TA-Lib DX): 100 * |+DI - -DI| / (+DI + -DI).",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("plus_di", HLC, (_period(minimum=1),),
             "Plus directional indicator +DI (TA-Lib PLUS_DI): 100 * Wilder-smoothed +DM / "
             "Wilder-smoothed true range.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("minus_di", HLC, (_period(minimum=1),),
             "Minus directional indicator -DI (TA-Lib MINUS_DI): 100 * Wilder-smoothed -DM "
             "/ Wilder-smoothed true range.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("plus_dm", ("high", "low"), (_period(minimum=1),),
             "Plus directional movement (TA-Lib PLUS_DM), Wilder-summed.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        _ind("minus_dm", ("high", "low"), (_period(minimum=1),),
             "Minus directional movement (TA-Lib MINUS_DM), Wilder-summed.",
             unstable=lambda timeperiod: decay_length(_wilder(timeperiod))),
        # -- volume -------------------------------------------------------------------
        _ind("obv", ("close", "volume"), (),
             "On-balance volume (TA-Lib OBV): running total of the volume, added when the "
             "close rises and subtracted when it falls, starting from the first volume.",
             update="cumulative"),
        _ind("ad", HLCV, (),
             "Chaikin accumulation/distribution line (TA-Lib AD): running total of "
             "((close - low) - (high - close)) / (high - low) x volume.",
             update="cumulative"),
        _ind("vwap", HLCV, (),
             "Volume-weighted average price over the whole recording session (TA-Lib VWAP; "
             "NaN, not TA-Lib's 0, before any volume): "
             "sum(tp x volume) / sum(volume) since the first point, tp = (high + low + "
             "close) / 3 (the price itself on ticks); NaN while the volume sum is 0.",
             compute=lambda x: _vwap(x, None), update="full"),
        _ind("vwap_anchored", HLCV,
             (Param("anchor", str, "1d", check=_anchor_problem,
                    doc="restart at every multiple of this interval since the epoch (1d: "
                        "each UTC day)"),),
             "Anchored VWAP (not TA-Lib): as vwap, restarting at each anchor (1d: 00:00 "
             "UTC every day).",
             compute=_vwap, lookback=0, update="full"),
        _ind("rolling_vwap", HLCV, (_period(minimum=1),),
             "Rolling VWAP (not TA-Lib): sum(tp x volume) / sum(volume) over the last "
             "timeperiod points, tp = (high + low + close) / 3; NaN where the volume is 0."),
        # -- statistics ---------------------------------------------------------------
        _ind("rolling_zscore", close,
             (_period(default=20), Param("ddof", int, 0, choices=(0, 1),
                                         doc="0: population (as Bollinger Bands); 1: sample")),
             "Rolling z-score (not TA-Lib): (close - mean) / standard deviation of the last "
             "timeperiod values, the current one included; population standard deviation "
             "(ddof=0) by default; NaN on a flat window."),
    ]


# -- the rest of TA-Lib's catalogue, declared from its abstract API -----------------------

#: Running totals: ``update`` resumes them from the last stored value.
CUMULATIVE = frozenset({"AD", "OBV", "CUMSUM", "PVT", "WAD"})
#: Path-dependent in ways a tail cannot resume (products, stop-and-reverse state, totals
#: since the first bar, the Hilbert transform's adaptive period, positions in the series):
#: ``update`` recomputes them from the start, writing only new rows.
FROM_START = frozenset({"NVI", "PVI", "SAR", "SAREXT", "SUPERTREND", "VWAP",
                        "HT_DCPERIOD", "HT_DCPHASE", "HT_PHASOR", "HT_SINE", "HT_TRENDLINE",
                        "HT_TRENDMODE", "MAMA", "MAXINDEX", "MININDEX", "MINMAXINDEX"})
#: TA-Lib functions that read a series sessions do not have (MAVP's per-bar ``periods``):
#: available as ``tsanalysis.ta.mavp``, not as indicators.
NOT_INDICATORS = frozenset({"MAVP"})


def _talib_inputs(info: dict[str, Any]) -> tuple[str, ...]:
    """TA-Lib's input series, flattened: {'prices': ['high', 'low']} -> ('high', 'low')."""
    out: list[str] = []
    for value in info["input_names"].values():
        out += value if isinstance(value, list) else [value]
    return tuple(out)


def _talib_validator(name: str) -> Callable[[dict[str, Any]], None]:
    """TA-Lib's own verdict on the parameters, reported with the range TA-Lib accepts."""
    def validate(params: dict[str, Any]) -> None:
        problem = _talib().refusal(name, params)
        if problem is not None:
            param, value, expected = problem
            raise InvalidParameter(name.lower(), param, value, expected)
    return validate


def _talib_unstable(params: tuple[str, ...]) -> Callable[..., int]:
    """Extra history for ``update``: enough for a Wilder or EMA recursion over the longest
    period to forget its seed (``update`` checks, and widens when that is not enough)."""
    periods = [p for p in params if "period" in p and "matype" not in p]

    def unstable(**values: Any) -> int:
        longest = max([int(values[p]) for p in periods] or [0])
        return decay_length(1.0 - 1.0 / longest, order=2) if longest >= 2 else 0

    return unstable


def _talib_param(name: str, param: str, default: Any) -> Param:
    if "matype" in param:
        return _matype(param, default)
    return Param(param, type(default), default, doc=f"TA-Lib {name} {param}")


def catalogue_indicators(exclude: frozenset[str] | None = None) -> list[Indicator]:
    """TA-Lib's functions that are not declared by hand, from its abstract API."""
    talib = _talib()
    skip = exclude if exclude is not None else frozenset(
        i.name for i in curated_indicators())
    out = []
    for name in talib.talib_names():
        if name.lower() in skip or name in NOT_INDICATORS:
            continue
        info = talib.info(name)
        defaults = dict(info["parameters"])
        flags = ", ".join(info.get("function_flags") or [])
        update = ("cumulative" if name in CUMULATIVE else "full" if name in FROM_START
                  else "window")
        out.append(_ind(
            name.lower(), _talib_inputs(info),
            tuple(_talib_param(name, p, d) for p, d in defaults.items()),
            f"{info['display_name']} (TA-Lib {name}, {info['group']})."
            + (f" {flags}." if flags else ""),
            outputs=tuple(info["output_names"]), unstable=_talib_unstable(tuple(defaults)),
            update=update, validate=_talib_validator(name)))
    return out


@hookimpl
def register_indicators(register: Callable[[Any], None]) -> None:
    for indicator in builtin_indicators():
        register(indicator)
