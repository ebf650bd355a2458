"""Pure-numeric technical-analysis kernels: numpy arrays in, numpy arrays out.

The TA-Lib functions here agree with TA-Lib 0.8.2 (to 1e-6 and, for almost
every function, to the last bit), including the position of the warm-up NaNs.
They keep TA-Lib's function names in lower case, its parameter names and
defaults, and its outputs in order (multi-output functions return a
``NamedTuple``, which unpacks like TA-Lib's tuple).

Lookback
    ``func.lookback(**params)`` -- or :func:`lookback` ``(name, **params)`` --
    is the number of leading NaNs of the output for a NaN-free input, equal to
    ``talib.abstract.Function(NAME).lookback``.  ``func.output_names`` lists
    the outputs; :data:`LOOKBACKS` and :data:`OUTPUT_NAMES` map every function
    name to them.

NaN policy
    A bar is missing when any input is NaN there.  Each indicator is computed
    independently on every maximal run of non-missing bars, as if that run
    were a whole series: missing bars and the first ``lookback`` bars of each
    run are NaN.  For window indicators this is "NaN wherever the window
    touches a NaN"; recursive ones (EMA, Wilder smoothing, KAMA, MACD, OBV,
    AD, VWAP) restart after a gap instead of staying NaN forever.  Leading
    NaNs are skipped exactly like TA-Lib's Python wrapper does.  A NaN is
    never turned into a number.

Parameters
    Periods are validated against TA-Lib's ranges (``ValueError``); moving
    average types other than 0 (SMA) raise ``NotImplementedError``.
"""

from ._core import LOOKBACKS, OUTPUT_NAMES, lookback
from .directional import adx, dx, minus_di, minus_dm, plus_di, plus_dm
from .momentum import MACD, Stoch, cci, macd, mfi, mom, roc, rsi, stoch, ultosc, willr
from .overlap import (
    BBands,
    bbands,
    bbands_bandwidth,
    bbands_percent_b,
    dema,
    ema,
    kama,
    sma,
    tema,
    wma,
)
from .stats import rolling_zscore
from .volatility import atr, natr, rolling_volatility, trange
from .volume import ad, obv, rolling_vwap, session_ids, vwap

__all__ = [
    "LOOKBACKS",
    "MACD",
    "OUTPUT_NAMES",
    "BBands",
    "Stoch",
    "ad",
    "adx",
    "atr",
    "bbands",
    "bbands_bandwidth",
    "bbands_percent_b",
    "cci",
    "dema",
    "dx",
    "ema",
    "kama",
    "lookback",
    "macd",
    "mfi",
    "minus_di",
    "minus_dm",
    "mom",
    "natr",
    "obv",
    "plus_di",
    "plus_dm",
    "roc",
    "rolling_volatility",
    "rolling_vwap",
    "rolling_zscore",
    "rsi",
    "session_ids",
    "sma",
    "stoch",
    "tema",
    "trange",
    "ultosc",
    "vwap",
    "willr",
    "wma",
]
