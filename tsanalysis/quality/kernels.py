"""Rolling-window kernels of the built-in checks (numba), and their chunked drivers.

The kernels work on one contiguous array; :class:`CenteredStream` feeds them chunk by
chunk with enough context on both sides that every point sees exactly the window it
would see in a single pass, so a session streamed in chunks gives the same findings as
the same session read whole. :class:`RunStream` does the same for runs of equal values.

Compiled on first use and cached on disk (``cache=True``); importing this module is what
imports numba, so the package does it lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np

#: MAD * 1.4826 estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.482602218505602


@numba.njit(cache=True, nogil=True)
def _insert(w: np.ndarray, m: int, v: float) -> int:
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) >> 1
        if w[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    for j in range(m, lo, -1):
        w[j] = w[j - 1]
    w[lo] = v
    return m + 1


@numba.njit(cache=True, nogil=True)
def _remove(w: np.ndarray, m: int, v: float) -> int:
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) >> 1
        if w[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    for j in range(lo, m - 1):
        w[j] = w[j + 1]
    return m - 1


@numba.njit(cache=True, nogil=True)
def _replace(w: np.ndarray, m: int, old: float, new: float) -> None:
    # One value leaves the window as another enters: move the hole from the old value's
    # place to the new value's, shifting only what lies between (consecutive values of a
    # price series are close, so this is a short walk; remove + insert would shift ~k).
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) >> 1
        if w[mid] < old:
            lo = mid + 1
        else:
            hi = mid
    j = lo
    if new > old:
        while j + 1 < m and w[j + 1] < new:
            w[j] = w[j + 1]
            j += 1
    else:
        while j > 0 and w[j - 1] > new:
            w[j] = w[j - 1]
            j -= 1
    w[j] = new


@numba.njit(cache=True, nogil=True)
def _slide(w: np.ndarray, m: int, x: np.ndarray, a: int, b: int, na: int, nb: int
           ) -> tuple[int, int, int]:
    """Move the sorted window ``w`` (``m`` values of ``x[a:b]``) to ``x[na:nb]``."""
    while a < na and b < nb:
        _replace(w, m, x[a], x[b])
        a += 1
        b += 1
    while a < na:
        m = _remove(w, m, x[a])
        a += 1
    while b < nb:
        m = _insert(w, m, x[b])
        b += 1
    return m, a, b


@numba.njit(cache=True, nogil=True)
def _median_sorted(w: np.ndarray, m: int) -> float:
    h = m // 2
    if m % 2:
        return w[h]
    return 0.5 * (w[h - 1] + w[h])


@numba.njit(cache=True, nogil=True)
def _mad_sorted(w: np.ndarray, m: int, med: float) -> float:
    # Deviations from the median are two sorted runs (walking outwards from the middle):
    # merge them up to the middle order statistic(s).
    h = m // 2
    left = h - 1
    right = h
    t1 = (m - 1) // 2
    t2 = m // 2
    d1 = 0.0
    d2 = 0.0
    for c in range(t2 + 1):
        if left >= 0 and (right >= m or med - w[left] <= w[right] - med):
            d = med - w[left]
            left -= 1
        else:
            d = w[right] - med
            right += 1
        if c == t1:
            d1 = d
        if c == t2:
            d2 = d
    return 0.5 * (d1 + d2)


@numba.njit(cache=True, nogil=True)
def _mad_lower_bound(w: np.ndarray, m: int, med: float) -> float:
    # At most (m-1)//2 points lie strictly between w[i1] and w[i2], so at least half of the
    # deviations are >= min(med - w[i1], w[i2] - med): a lower bound of the MAD that costs
    # nothing, used to skip the exact MAD for points that are clearly inside the bounds.
    h = m // 2
    if m % 2:
        a = (h + 1) // 2
        i1, i2 = h - a, h + a
    else:
        a = (h - 1) // 2
        i1, i2 = h - 1 - a, h + a
    if i1 < 0 or i2 >= m:
        return 0.0
    return min(med - w[i1], w[i2] - med)


@numba.njit(cache=True, nogil=True)
def hampel(x: np.ndarray, k: int, lo: int, hi: int, n_sigmas: float, floor_abs: float,
           floor_rel: float, upper_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hampel test of ``x[lo:hi]``, each point against its centered window of ``2k+1``.

    The window of point ``i`` is ``x[max(0, i-k) : min(n, i+k+1)]`` (the point included).
    Scale = ``max(MAD_TO_SIGMA * MAD, floor_abs, floor_rel * |median|)``; a point is flagged
    when ``|x - median| > n_sigmas * scale`` (only ``x - median`` when ``upper_only``).
    Returns the flagged indices (into ``x``), their window medians and scales.
    """
    n = x.shape[0]
    w = np.empty(2 * k + 1)
    out_i = np.empty(max(hi - lo, 0), dtype=np.int64)
    out_med = np.empty(max(hi - lo, 0))
    out_scale = np.empty(max(hi - lo, 0))
    found = 0
    m = 0
    a = max(0, lo - k)
    b = a
    for i in range(lo, hi):
        m, a, b = _slide(w, m, x, a, b, max(0, i - k), min(n, i + k + 1))
        med = _median_sorted(w, m)
        dev = x[i] - med
        if not upper_only:
            dev = abs(dev)
        floor = max(floor_abs, floor_rel * abs(med))
        if dev <= n_sigmas * floor:
            continue
        if dev <= n_sigmas * MAD_TO_SIGMA * _mad_lower_bound(w, m, med):
            continue
        scale = max(MAD_TO_SIGMA * _mad_sorted(w, m, med), floor)
        if dev > n_sigmas * scale:
            out_i[found] = i
            out_med[found] = med
            out_scale[found] = scale
            found += 1
    return out_i[:found], out_med[:found], out_scale[:found]


@numba.njit(cache=True, nogil=True)
def rolling_median(x: np.ndarray, k: int, lo: int, hi: int) -> np.ndarray:
    """Median of the centered window of ``2k+1`` of each point of ``x[lo:hi]``."""
    n = x.shape[0]
    w = np.empty(2 * k + 1)
    out = np.empty(max(hi - lo, 0))
    m = 0
    a = max(0, lo - k)
    b = a
    for i in range(lo, hi):
        m, a, b = _slide(w, m, x, a, b, max(0, i - k), min(n, i + k + 1))
        out[i - lo] = _median_sorted(w, m)
    return out


class CenteredStream:
    """Feed a centered rolling computation of half-width ``k`` chunk by chunk.

    ``push`` returns a buffer (the carried context plus the new points) and the range
    ``[lo, hi)`` of points to evaluate now: each point is evaluated exactly once, when its
    ``k`` right neighbours are known (or the series has ended), and with its ``k`` left
    neighbours in the buffer. The buffer holds any named arrays of equal length.
    """

    def __init__(self, k: int):
        self.k = k
        self._carry: dict[str, np.ndarray] | None = None
        self._pending = 0

    def push(self, arrays: Mapping[str, np.ndarray], final: bool
             ) -> tuple[dict[str, np.ndarray], int, int]:
        if self._carry is None:
            buf = {name: np.asarray(a) for name, a in arrays.items()}
        else:
            buf = {name: np.concatenate([self._carry[name], arrays[name]]) for name in arrays}
        n = len(next(iter(buf.values()))) if buf else 0
        lo = self._pending
        hi = n if final else max(lo, n - self.k)
        keep = max(0, hi - self.k)
        self._carry = {name: a[keep:] for name, a in buf.items()}
        self._pending = hi - keep
        return buf, lo, hi


@dataclass
class Runs:
    """Maximal runs found by :class:`RunStream` (parallel arrays)."""

    start: np.ndarray  #: position of the first row (in the whole series)
    rows: np.ndarray
    start_ts: np.ndarray  #: int64 microseconds
    end_ts: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def empty(cls) -> Runs:
        z = np.empty(0, dtype=np.int64)
        return cls(z, z, z, z, np.empty(0))


class RunStream:
    """Maximal runs of consecutive rows that are ``active`` and share one ``key``.

    Rows arrive chunk by chunk; a run still open at the end of a chunk is carried into the
    next, so runs come out the same however the series was cut. ``min_rows`` drops short
    runs early (every row is a run of one when checking for repeated prices).
    """

    def __init__(self, min_rows: int = 1):
        self.min_rows = max(int(min_rows), 1)
        # the open run: start position, rows, start ts, last ts, key; and the last row seen
        self._open: tuple[int, int, int, int, float] | None = None
        self._last: tuple[bool, float] | None = None

    def push(self, offset: int, ts: np.ndarray, key: np.ndarray, active: np.ndarray,
             final: bool) -> Runs:
        """Add the rows at positions ``offset...``; return the runs that are complete."""
        n = len(ts)
        key = np.asarray(key, dtype=np.float64)
        active = np.asarray(active, dtype=bool)
        parts: list[Runs] = []
        if n:
            cont = np.zeros(n, dtype=bool)
            cont[1:] = active[1:] & active[:-1] & (key[1:] == key[:-1])
            if self._last is not None:
                cont[0] = bool(active[0] and self._last[0] and key[0] == self._last[1])
            breaks = np.flatnonzero(~cont)  # rows that do not continue the row before
            if self._open is not None:
                s0, r0, t0, t1, k0 = self._open
                self._open = None
                if cont[0]:
                    fb = int(breaks[0]) if len(breaks) else n
                    run = (s0, r0 + fb, t0, int(ts[fb - 1]), k0)
                    if fb == n and not final:
                        self._open = run
                    else:
                        parts.append(_one(run))
                else:
                    parts.append(_one((s0, r0, t0, t1, k0)))
            # every run starts on a break; it ends on the row before the next break
            last_row = np.append(breaks[1:], n) - 1
            is_run = active[breaks]
            starts, ends = breaks[is_run], last_row[is_run]
            rows = ends - starts + 1
            if len(starts) and not final and ends[-1] == n - 1:
                s = int(starts[-1])
                self._open = (offset + s, int(rows[-1]), int(ts[s]), int(ts[n - 1]),
                              float(key[s]))
                starts, ends, rows = starts[:-1], ends[:-1], rows[:-1]
            long = rows >= self.min_rows  # drop short runs before building anything
            starts, ends, rows = starts[long], ends[long], rows[long]
            parts.append(Runs(offset + starts, rows, ts[starts], ts[ends], key[starts]))
            self._last = (bool(active[-1]), float(key[-1]))
        if final and self._open is not None:
            parts.append(_one(self._open))
            self._open = None
        out = _concat(parts)
        keep = out.rows >= self.min_rows
        return Runs(out.start[keep], out.rows[keep], out.start_ts[keep], out.end_ts[keep],
                    out.key[keep])


def _one(run: tuple[int, int, int, int, float]) -> Runs:
    s, r, t0, t1, k = run
    return Runs(np.array([s], dtype=np.int64), np.array([r], dtype=np.int64),
                np.array([t0], dtype=np.int64), np.array([t1], dtype=np.int64),
                np.array([k], dtype=np.float64))


def _concat(parts: list[Runs]) -> Runs:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Runs.empty()
    if len(parts) == 1:
        return parts[0]
    return Runs(*(np.concatenate([getattr(p, f) for p in parts])
                  for f in ("start", "rows", "start_ts", "end_ts", "key")))
