"""Technical-analysis functions on numpy arrays: TA-Lib's whole catalogue under the
package NaN policy, plus the indicators TA-Lib lacks.

Every TA-Lib function is here under its lower-case name (``ta.rsi``, ``ta.macd``,
``ta.cdlengulfing``, ... 201 in TA-Lib 0.8), with TA-Lib's parameter names and defaults
(every ``matype``), its outputs in order (multi-output functions return a ``NamedTuple``,
which unpacks like TA-Lib's tuple) and TA-Lib's own numbers: TA-Lib computes them, once per
contiguous run of non-missing bars. :mod:`tsanalysis.ta.extras` adds what TA-Lib does not
have (session and rolling VWAP, Bollinger %B and BandWidth, rolling volatility and
z-score), written with numpy and pandas.

Lookback
    ``func.lookback(**params)`` -- or :func:`lookback` ``(name, **params)`` -- is the
    number of leading NaNs of the output for a NaN-free input, equal to
    ``talib.abstract.Function(NAME).lookback``.  ``func.output_names`` lists the outputs;
    :data:`LOOKBACKS` and :data:`OUTPUT_NAMES` map every function name to them.

NaN policy
    A bar is missing when any input is NaN there.  Each indicator is computed
    independently on every maximal run of non-missing bars, as if that run were a whole
    series: missing bars and the first ``lookback`` bars of each run are NaN.  For window
    indicators this is "NaN wherever the window touches a NaN"; recursive ones (EMA,
    Wilder smoothing, KAMA, MACD, OBV, AD, VWAP) restart after a gap instead of staying
    NaN forever.  Leading NaNs are skipped exactly like TA-Lib's Python wrapper does.  A
    NaN is never turned into a number.

Parameters
    Values TA-Lib refuses raise ``ValueError`` (a non-integer where an integer is expected:
    ``TypeError``).
"""

from ._core import LOOKBACKS, OUTPUT_NAMES, lookback
from ._talib import FUNCTIONS as _FUNCTIONS
from .extras import (
    bbands_bandwidth,
    bbands_percent_b,
    rolling_volatility,
    rolling_vwap,
    rolling_zscore,
    session_ids,
    vwap,
)

globals().update({k: v for k, v in _FUNCTIONS.items() if k != "vwap"})

MACD = _FUNCTIONS["macd"].output_type  # type: ignore[attr-defined]
BBands = _FUNCTIONS["bbands"].output_type  # type: ignore[attr-defined]
Stoch = _FUNCTIONS["stoch"].output_type  # type: ignore[attr-defined]

__all__ = [
    "LOOKBACKS",
    "MACD",
    "OUTPUT_NAMES",
    "BBands",
    "Stoch",
    "bbands_bandwidth",
    "bbands_percent_b",
    "lookback",
    "rolling_volatility",
    "rolling_vwap",
    "rolling_zscore",
    "session_ids",
    "vwap",
]
__all__ += sorted(k for k in _FUNCTIONS if k != "vwap")
