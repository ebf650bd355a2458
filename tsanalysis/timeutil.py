"""Timestamps: everything becomes UTC with microsecond resolution.

Naive inputs are taken as UTC; aware inputs are converted; epoch numbers need a unit
(``s``, ``ms``, ``us``, ``ns``), given or inferred from their magnitude. Sub-microsecond
parts are truncated, since every backend stores microseconds.
"""

from __future__ import annotations

import datetime as _dt
import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InvalidInput

TS_DTYPE = "datetime64[us, UTC]"
EPOCH_UNITS = ("s", "ms", "us", "ns")

_ZONE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")

# Epoch magnitudes of dates between 1973 and 2286 in each unit: 1e8..1e10 seconds.
_UNIT_RANGES = {"s": (1e8, 1e10), "ms": (1e11, 1e13), "us": (1e14, 1e16), "ns": (1e17, 1e19)}


def infer_epoch_unit(values: np.ndarray) -> str:
    """Infer the unit of epoch numbers from their magnitude.

    Raises :class:`InvalidInput` when the finite values fall in more than one unit's range
    (a column that mixes seconds and milliseconds) or in none.
    """
    v = np.abs(np.asarray(values, dtype="float64"))
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InvalidInput("cannot infer the epoch unit of an empty timestamp column")
    found = [u for u, (lo, hi) in _UNIT_RANGES.items() if ((v >= lo) & (v < hi)).any()]
    outside = ~np.logical_or.reduce([(v >= lo) & (v < hi) for lo, hi in _UNIT_RANGES.values()])
    if len(found) != 1 or outside.any():
        raise InvalidInput(
            "timestamps mix epoch units or are out of range "
            f"(units seen: {', '.join(found) or 'none'}); give the unit explicitly"
        )
    return found[0]


#: Timestamps tsanalysis stores: from the epoch to the end of 2261 (every reader and
#: writer of the formats it exports, nanosecond-based pandas included, handles these).
TS_MIN = pd.Timestamp("1970-01-01T00:00:00Z")
TS_END = pd.Timestamp("2262-01-01T00:00:00Z")
TS_RANGE_TEXT = "1970-01-01..2261-12-31"


def out_of_range(ts: pd.Series) -> np.ndarray:
    """Mask of parsed timestamps outside :data:`TS_MIN` .. :data:`TS_END` (NaT is not)."""
    return (ts.notna() & ((ts < TS_MIN) | (ts >= TS_END))).to_numpy(dtype=bool)


def to_utc_series(values: pd.Series, unit: str | None = None) -> pd.Series:
    """Convert a column of timestamps to ``datetime64[us, UTC]``; invalid values become NaT.

    Accepts datetimes (naive = UTC, aware converted), ISO-8601 text (with or without zone),
    and epoch numbers in ``unit`` (inferred from magnitude when ``None``).
    """
    if unit is not None and unit not in EPOCH_UNITS:
        raise InvalidInput(f"invalid timestamp unit {unit!r}: one of {', '.join(EPOCH_UNITS)}")
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not s.notna().any():
        # Nothing to parse (or to infer a unit from): an empty chunk, or only empty cells,
        # which are then reported row by row rather than failing the whole input.
        return pd.Series(pd.NaT, index=s.index, dtype=TS_DTYPE)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        out = s.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = s.astype("float64") if s.dtype.kind == "f" else s
        u = unit or infer_epoch_unit(num.to_numpy(dtype="float64", na_value=np.nan))
        if num.dtype.kind == "f":
            # Floats carry fractions (1.7e9 + 0.25 s): scale to integer microseconds first.
            scale = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[u]
            micros = np.floor(num.to_numpy(dtype="float64") * scale)
            bad = ~np.isfinite(micros)
            micros[bad] = 0
            out = pd.Series(pd.to_datetime(micros.astype("int64"), unit="us", utc=True),
                            index=s.index)
            out[bad] = pd.NaT
        else:
            out = pd.to_datetime(num, unit=u, utc=True, errors="coerce")
    else:
        fast = _arrow_parse_text(s, unit)
        if fast is not None:
            return fast
        text = s.astype("string")
        if unit is not None:
            return to_utc_series(pd.to_numeric(text, errors="coerce"), unit)
        out = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if out.dt.unit != "us":
        out = out.dt.floor("us").dt.as_unit("us")
    return out


#: ISO-8601 text whose fraction of a second has a non-zero digit after the sixth.
_SUB_MICRO_TEXT = r":\d{2}[.,]\d{6}\d*?[1-9]"


def sub_microsecond(values: pd.Series, unit: str | None = None) -> np.ndarray:
    """Rows whose timestamp is written more precisely than a microsecond (the store keeps
    microseconds, so :func:`to_utc_series` rounds them down): nanosecond epochs that are not
    whole microseconds, and ISO-8601 text with a non-zero digit past the sixth decimal.

    Datetime values (a DataFrame's ``datetime64[ns]``) and float epochs are not inspected:
    their nanoseconds are what pandas arithmetic and binary floats leave, not recorded
    digits, and they are rounded down as the README says."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    none = np.zeros(len(s), dtype=bool)
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        return none
    if pd.api.types.is_integer_dtype(s.dtype):
        u = unit or infer_epoch_unit(s.to_numpy(dtype="float64", na_value=np.nan))
        if u != "ns":
            return none
        return (s.fillna(0).astype("int64") % 1000 != 0).to_numpy()
    if pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return none
    # Arrow's regular expressions: no Python per row (an import checks every chunk).
    arr = pa.array(s.astype("string"), type=pa.string(), from_pandas=True)
    iso = pc.fill_null(pc.match_substring_regex(arr, _SUB_MICRO_TEXT), False)
    whole = pc.fill_null(pc.match_substring_regex(arr, r"^\s*-?\d{1,20}\s*$"), False)
    if pc.any(whole).as_py():
        numbers = pc.cast(pc.utf8_trim_whitespace(pc.filter(arr, whole)), pa.float64())
        if (unit or infer_epoch_unit(numbers.to_numpy(zero_copy_only=False))) == "ns":
            micro = pc.match_substring_regex(arr, r"(000|^\s*-?0)\s*$")
            iso = pc.or_(iso, pc.and_(whole, pc.invert(pc.fill_null(micro, True))))
    return iso.to_numpy(zero_copy_only=False)


def _arrow_parse_text(s: pd.Series, unit: str | None) -> pd.Series | None:
    """Parse a text column with Arrow's casts (10x faster than pandas), or return None.

    Tries, in order: epoch numbers, ISO-8601 with zones, ISO-8601 without zone (UTC). Any
    value that does not parse makes the cast fail; the caller then falls back to pandas,
    which marks the bad values as NaT so that they can be reported row by row.
    """
    arr = pa.array(s.astype("string"), type=pa.string(), from_pandas=True)
    # A failed cast costs as much as a good one: try first the form the data seems to have.
    iso_first = unit is None and _looks_iso(arr)
    if iso_first and (parsed := _cast_iso(arr)) is not None:
        return pd.Series(parsed.to_pandas(), index=s.index).astype(TS_DTYPE)
    try:
        numbers = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers = None
    if numbers is not None:
        return to_utc_series(pd.Series(numbers.to_numpy(zero_copy_only=False), index=s.index),
                             unit)
    if unit is not None or iso_first:
        return None
    parsed = _cast_iso(arr)
    if parsed is not None:
        return pd.Series(parsed.to_pandas(), index=s.index).astype(TS_DTYPE)
    return None


def _looks_iso(arr: pa.Array) -> bool:
    """True when the first non-empty cell looks like ISO-8601 text (``2026-01-05...``)."""
    for i in range(min(len(arr), 64)):
        v = arr[i].as_py()
        if v:
            return len(v) >= 10 and v[4] == "-" and v[:4].isdigit()
    return False


def _cast_iso(arr: pa.Array) -> pa.Array | None:
    """ISO-8601 text (with a zone, or without one: UTC) as UTC timestamps, or None."""
    valid = arr.drop_null()
    zoned = len(valid) == 0 or bool(_ZONE.search(valid[0].as_py().strip()))
    order = ((pa.timestamp("us", tz="UTC"), False), (pa.timestamp("us"), True))
    # The first cell's form goes first: a failing cast costs as much as a full parse.
    for ty, naive in order if zoned else order[::-1]:
        try:
            parsed = pc.cast(arr, ty)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return pc.assume_timezone(parsed, "UTC") if naive else parsed
    return None


def to_utc(value: object, name: str = "time") -> pd.Timestamp:
    """One instant as a UTC ``Timestamp`` (for ``start``/``end`` arguments)."""
    if isinstance(value, pd.Timestamp):
        ts = value
    elif isinstance(value, (datetime, np.datetime64)):
        ts = pd.Timestamp(value)
    elif isinstance(value, str):
        try:
            ts = pd.Timestamp(value)
        except ValueError as e:
            raise InvalidInput(f"invalid {name} {value!r}: use ISO-8601, e.g. "
                               "2026-01-05T14:00:00Z") from e
    else:
        raise InvalidInput(f"invalid {name} {value!r}: give an ISO-8601 string or a datetime")
    if ts is pd.NaT:
        raise InvalidInput(f"invalid {name} {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("us")


def iso(ts: pd.Timestamp | None) -> str | None:
    """ISO-8601 UTC text with a ``Z`` (microseconds when non-zero), or None."""
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and np.isnan(ts)):
        return None
    ts = to_utc(ts)
    text = ts.isoformat()
    return text.replace("+00:00", "Z")


#: Forms a timestamp may take in text input: ISO-8601, or epoch numbers in a unit.
TS_FORMS = ("iso", *EPOCH_UNITS)
#: Human names of the forms, for messages.
TS_FORM_NAMES = {"iso": "ISO-8601", "s": "epoch seconds", "ms": "epoch milliseconds",
                 "us": "epoch microseconds", "ns": "epoch nanoseconds"}

_ISO_PREFIX = r"^\d{4}-\d{2}-\d{2}"


def timestamp_forms(values: pd.Series) -> np.ndarray:
    """The form of each timestamp cell: an index into :data:`TS_FORMS`, or -1.

    -1 marks an empty cell or one that is neither a number nor ISO-8601-looking text; such
    cells are left for :func:`to_utc_series` to report. Epoch numbers are classed by their
    magnitude (as :func:`infer_epoch_unit` does). This only classifies: callers that need
    one form per input (a file that must not mix seconds and ISO text) compare the forms,
    then parse with :func:`to_utc_series` and the unit found.
    """
    arr = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)
    out = np.full(len(arr), -1, dtype="int8")
    iso_code, units = 0, list(EPOCH_UNITS)
    if _looks_iso(arr) and _cast_iso(arr) is not None:  # fast path: all ISO (or empty)
        out[arr.is_valid().to_numpy(zero_copy_only=False)] = iso_code
        return out
    try:  # fast path: every cell is a number (or empty)
        numbers = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        is_iso = np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        is_iso = pc.fill_null(pc.match_substring_regex(arr, _ISO_PREFIX), False).to_numpy(
            zero_copy_only=False)
        numbers = np.full(len(arr), np.nan)
        rest = np.flatnonzero(~is_iso & arr.is_valid().to_numpy(zero_copy_only=False))
        if rest.size:  # text that is not ISO: numbers among junk (rare, so pandas is fine)
            text = pd.Series(arr.take(pa.array(rest)).to_pandas(), dtype="string")
            numbers[rest] = pd.to_numeric(text, errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan)
    out[is_iso] = iso_code
    mag = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        for i, u in enumerate(units, start=1):
            lo, hi = _UNIT_RANGES[u]
            out[(mag >= lo) & (mag < hi)] = i
    return out


# -- microseconds: the unit of every timestamp in the stores and kernels -----------------

_US = pa.timestamp("us", tz="UTC")


def micros(column: pa.Array | pa.ChunkedArray | pd.Series | pd.Index) -> np.ndarray:
    """A timestamp column (Arrow, or pandas) as int64 microseconds since the epoch (UTC)."""
    if isinstance(column, (pd.Series, pd.Index)):
        return column.to_numpy(dtype="datetime64[us]").astype("int64")
    col = column.cast(_US) if column.type != _US else column
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return np.asarray(col.view(pa.int64()).to_numpy(zero_copy_only=False))


def from_micros(us: np.ndarray | int) -> Any:
    """int64 microseconds -> UTC time: a Timestamp for a scalar, a DatetimeIndex for an array."""
    if np.ndim(us) == 0:
        return pd.Timestamp(int(us), unit="us", tz="UTC")
    return pd.to_datetime(np.asarray(us, dtype="int64"), unit="us", utc=True)


def arrow_from_micros(us: np.ndarray) -> pa.Array:
    """int64 microseconds since the epoch -> an Arrow ``timestamp[us, UTC]`` array."""
    return pa.array(np.ascontiguousarray(us, dtype=np.int64)).view(_US)


def to_micros(value: object) -> int:
    """An instant (anything :func:`to_utc` takes) as int64 microseconds since the epoch."""
    ts = to_utc(value)
    return int((ts - _EPOCH) // pd.Timedelta(1, "us"))


_EPOCH = pd.Timestamp(0, tz="UTC")


def parse_duration(value: Any, name: str = "duration") -> float:
    """Seconds in ``value``: a number of seconds, a timedelta, or text such as ``30s``,
    ``500ms``, ``5m``, ``1h``, ``1.5s`` or ``00:05:00``. Must be positive."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid {name} {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, (_dt.timedelta, pd.Timedelta)):
        seconds = pd.Timedelta(value).total_seconds()
    elif isinstance(value, str):
        try:
            seconds = pd.Timedelta(value.strip()).total_seconds()
        except ValueError:
            raise InvalidInput(f"invalid {name} {value!r}: use e.g. 30s, 500ms, 5m, 1h") from None
    else:
        raise InvalidInput(f"invalid {name} {value!r}: use e.g. 30s, 500ms, 5m, 1h")
    if not (seconds > 0) or seconds != seconds:
        raise InvalidInput(f"{name} must be positive, not {value!r}")
    return seconds
