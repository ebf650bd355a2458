"""Rolling-window kernels of the built-in checks (numpy), and their chunked drivers.

The kernels work on one contiguous array; :class:`CenteredStream` feeds them chunk by
chunk with enough context on both sides that every point sees exactly the window it
would see in a single pass, so a session streamed in chunks gives the same findings as
the same session read whole. :class:`RunStream` does the same for runs of equal values.

Nothing is compiled (numpy only): each whole window is a row of a strided view, and
sorting a block of rows at once (numpy's vectorised sort) gives the medians; the Hampel
test sorts only the windows of points that bounds of their median (running minimum and
maximum, running counts under a few thresholds) do not settle, and computes the MAD only
for the points that its floor and a lower bound of the MAD do not settle. The inputs of
:func:`hampel` and :func:`rolling_median` are finite (the checks drop the rest before
calling them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: MAD * 1.4826 estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.482602218505602

#: Window values handled at once (rows x window), to bound the memory of a chunk.
_BLOCK_VALUES = 1 << 16


def _median_sorted(w: np.ndarray) -> float:
    h = len(w) // 2
    if len(w) % 2:
        return float(w[h])
    return 0.5 * (w[h - 1] + w[h])


def _lower_bound_ranks(m: int) -> tuple[int, int]:
    # At most (m-1)//2 points lie strictly between the order statistics i1 and i2, so at
    # least half of the deviations are >= min(med - w[i1], w[i2] - med): a lower bound of
    # the MAD, used to skip the exact MAD for points that are clearly inside the bounds.
    h = m // 2
    if m % 2:
        a = (h + 1) // 2
        return h - a, h + a
    a = (h - 1) // 2
    return h - 1 - a, h + a


def _inner(n: int, k: int, lo: int, hi: int) -> tuple[int, int]:
    """The points of ``[lo, hi)`` whose window is whole (``2k+1`` points): ``[a, b)``."""
    a, b = max(lo, k), min(hi, n - k)
    return (a, b) if a < b else (hi, hi)


def _blocks(a: int, b: int, m: int):
    step = max(1, _BLOCK_VALUES // m)
    for s in range(a, b, step):
        yield s, min(b, s + step)


def _window(x: np.ndarray, k: int, i: int) -> np.ndarray:
    """The sorted window of point ``i``, clipped by the ends of ``x``."""
    return np.sort(x[max(0, i - k):min(x.shape[0], i + k + 1)])


def _prepare(x: np.ndarray, k: int, lo: int, hi: int
             ) -> tuple[np.ndarray, int, int, int]:
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    return x, int(k), max(int(lo), 0), max(min(int(hi), n), max(int(lo), 0))


def hampel(x: np.ndarray, k: int, lo: int, hi: int, n_sigmas: float, floor_abs: float,
           floor_rel: float, upper_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hampel test of ``x[lo:hi]``, each point against its centered window of ``2k+1``.

    The window of point ``i`` is ``x[max(0, i-k) : min(n, i+k+1)]`` (the point included).
    Scale = ``max(MAD_TO_SIGMA * MAD, floor_abs, floor_rel * |median|)``; a point is flagged
    when ``|x - median| > n_sigmas * scale`` (only ``x - median`` when ``upper_only``).
    Returns the flagged indices (into ``x``), their window medians and scales.

    Most points are settled without sorting their window: bounds of the median
    (:func:`_settled`) show that they lie within the floor. Only the rest are sorted.
    """
    x, k, lo, hi = _prepare(x, k, lo, hi)
    n, m = x.shape[0], 2 * k + 1
    a, b = _inner(n, k, lo, hi)
    # points to look at closely: windows clipped by an end of x (at most 2k), and the
    # whole windows whose bounds do not settle them
    inner = np.flatnonzero(~_settled(x, k, a, b, n_sigmas, floor_abs, floor_rel,
                                     upper_only)) + a
    edges = np.array([*range(lo, a), *range(b, hi)], dtype=np.int64)
    pts = np.concatenate([inner, edges])
    med, lower = np.empty(len(pts)), np.zeros(len(pts))
    # whole windows: one sort gives the median and the two order statistics of the
    # MAD's lower bound (row i-k of the view is the window of point i)
    i1, i2 = _lower_bound_ranks(m)
    if len(inner):
        windows = sliding_window_view(x, m)
        for s, e in _blocks(0, len(inner), m):
            srt = np.sort(windows[inner[s:e] - k], axis=1)
            md = med[s:e] = srt[:, k]
            if i1 >= 0 and i2 < m:
                lower[s:e] = np.minimum(md - srt[:, i1], srt[:, i2] - md)
    for j, i in enumerate(edges.tolist(), start=len(inner)):
        w = _window(x, k, i)
        md = med[j] = _median_sorted(w)
        j1, j2 = _lower_bound_ranks(len(w))
        if j1 >= 0 and j2 < len(w):
            lower[j] = min(md - w[j1], w[j2] - md)
    dev = x[pts] - med
    if not upper_only:
        dev = np.abs(dev)
    floor = np.maximum(floor_abs, floor_rel * np.abs(med))
    # the floor and the lower bound settle most points: the MAD is needed only for the rest
    need = ~(dev <= n_sigmas * floor) & ~(dev <= n_sigmas * MAD_TO_SIGMA * lower)
    mad = np.zeros(len(pts))
    sel = np.flatnonzero(need & (pts >= a) & (pts < b))
    if len(sel):
        windows = sliding_window_view(x, m)
        for s, e in _blocks(0, len(sel), m):
            q = sel[s:e]
            d = np.abs(windows[pts[q] - k] - med[q][:, None])
            c = np.sort(d, axis=1)[:, k]
            mad[q] = 0.5 * (c + c)  # the two middle deviations, as for even windows
    for j in np.flatnonzero(need & ((pts < a) | (pts >= b))):
        d = np.sort(np.abs(_window(x, k, int(pts[j])) - med[j]))
        mad[j] = 0.5 * (d[(len(d) - 1) // 2] + d[len(d) // 2])
    scale = np.maximum(MAD_TO_SIGMA * mad, floor)
    hit = np.flatnonzero(need & (dev > n_sigmas * scale))
    hit = hit[np.argsort(pts[hit], kind="stable")]
    return pts[hit].astype(np.int64), med[hit], scale[hit]


#: Quantiles of the data tried as bounds of window medians (from below, from above) when
#: the windows' minimum and maximum leave more than ``_REFINE_ABOVE`` of the points
#: unsettled (a noisy series such as log volumes).
_GRID_BELOW, _GRID_ABOVE = (0.3, 0.4, 0.45, 0.5), (0.5, 0.55, 0.6, 0.7)
_REFINE_ABOVE = 1 / 32


def _rolling_extreme(x: np.ndarray, m: int, f) -> np.ndarray:
    """``f`` (np.minimum or np.maximum) over every run of ``m`` consecutive values (the
    ``len(x) - m + 1`` whole windows), by doubling: log2(m) passes, not m."""
    out, w = x, 1
    while 2 * w <= m:
        out = f(out[:-w], out[w:])
        w *= 2
    return f(out[:len(x) - m + 1], out[m - w:m - w + len(x) - m + 1])


def _settled(x: np.ndarray, k: int, a: int, b: int, n_sigmas: float, floor_abs: float,
             floor_rel: float, upper_only: bool) -> np.ndarray:
    """For the points ``[a, b)`` (whole windows), True where the Hampel test cannot flag
    the point, whatever the window's median and MAD.

    The median of a window lies in ``[L, U]``: its minimum and maximum, narrowed by
    thresholds ``t`` (quantiles of the data) with at most ``k`` values below ``t`` (then
    median >= t) or at least ``k+1`` values at or below it (median <= t). The deviation
    is then at most ``max(x - L, U - x)`` and the floor at least ``floor_rel`` times the
    least ``|median|`` in ``[L, U]``; a point whose largest deviation is within
    ``n_sigmas`` such floors is not flagged (every step rounds monotonically, so the bound
    holds in floating point too).
    """
    if b <= a:
        return np.zeros(0, dtype=bool)
    m = 2 * k + 1
    span = x[a - k:b + k]  # window of point a + i: span[i : i + m]
    lower = _rolling_extreme(span, m, np.minimum)
    upper = None if upper_only else _rolling_extreme(span, m, np.maximum)
    done = _within(x[a:b], lower, upper, n_sigmas, floor_abs, floor_rel)
    if done.mean() >= 1 - _REFINE_ABOVE:
        return done
    # narrow the bounds of the points left, by counting values under a few thresholds
    # (a running count: one pass each)
    left = np.flatnonzero(~done)
    lo_left = lower[left]
    hi_left = None if upper is None else upper[left]
    sample = np.sort(span[::max(1, len(span) // 4096)])

    def at(qs: tuple[float, ...]) -> np.ndarray:
        return np.unique(sample[(np.asarray(qs) * (len(sample) - 1)).astype(int)])

    for t in at(_GRID_BELOW):
        c = np.concatenate([[0], np.cumsum(span < t, dtype=np.int32)])
        lo_left = np.where(c[left + m] - c[left] <= k, np.maximum(lo_left, t), lo_left)
    if hi_left is not None:
        for t in at(_GRID_ABOVE):
            c = np.concatenate([[0], np.cumsum(span <= t, dtype=np.int32)])
            hi_left = np.where(c[left + m] - c[left] >= k + 1, np.minimum(hi_left, t),
                               hi_left)
    done[left] = _within(x[a:b][left], lo_left, hi_left, n_sigmas, floor_abs, floor_rel)
    return done


def _within(xi: np.ndarray, lower: np.ndarray, upper: np.ndarray | None, n_sigmas: float,
            floor_abs: float, floor_rel: float) -> np.ndarray:
    """True where ``xi`` is within ``n_sigmas`` floors of any median in ``[lower, upper]``
    (``upper`` None: only the deviation above the median counts)."""
    dev = xi - lower
    if upper is not None:
        np.maximum(dev, upper - xi, out=dev)
    if floor_rel == 0:
        return dev <= n_sigmas * max(floor_abs, 0.0)
    # the least |median| in [lower, upper]: lower above 0, -upper below 0, else 0
    least = np.maximum(lower, 0.0)
    if upper is not None:
        least += np.maximum(-upper, 0.0)
    least *= floor_rel
    np.maximum(least, floor_abs, out=least)
    least *= n_sigmas
    return dev <= least


def rolling_median(x: np.ndarray, k: int, lo: int, hi: int) -> np.ndarray:
    """Median of the centered window of ``2k+1`` of each point of ``x[lo:hi]``."""
    x, k, lo, hi = _prepare(x, k, lo, hi)
    n, m = x.shape[0], 2 * k + 1
    out = np.empty(hi - lo)
    a, b = _inner(n, k, lo, hi)
    if b > a:
        windows = sliding_window_view(x, m)
        for s, e in _blocks(a, b, m):
            out[s - lo:e - lo] = np.sort(windows[s - k:e - k], axis=1)[:, k]
    for i in [*range(lo, a), *range(b, hi)]:
        out[i - lo] = _median_sorted(_window(x, k, i))
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
