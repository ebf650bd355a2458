"""Keeping stored indicators up to date: recompute the tail, verify it against the stored overlap.

:func:`update` finds every indicator stored for a session, and for each recomputes only
the points from its last stored timestamp on, plus the history its warm-up needs (see
``update`` in :mod:`tsanalysis.indicators.base`). The recomputation is checked against the
stored values just before the new points and widened until it reproduces them, so an
update gives the values a full recompute gives (to 1e-10 of their scale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ..ids import check_session_id, check_symbol, interval_seconds
from ..store.base import Progress, Store
from ..timeutil import from_micros, iso, micros, to_micros
from .base import Indicator, Inputs
from .inputs import BARS, TICKS, has_stored_bars, load_inputs, session_row, tick_cadence
from .registry import ParsedId, registry
from .table import TABLE, clear_for_rewrite, indicator_rows, write_rows

log = logging.getLogger(__name__)

#: Stored points just before the new ones that an update recomputes and compares.
VERIFY_POINTS = 64
#: Relative tolerance (to the scale of the compared values) of that comparison.
VERIFY_RTOL = 1e-10


@dataclass
class UpdatedSeries:
    """One computation brought up to date by :func:`update`."""

    symbol: str
    indicator: str
    indicator_ids: list[str]
    #: rows written per id (the new points, plus the last stored timestamp's)
    rows: int
    #: first point rewritten (ISO-8601), None when nothing needed writing
    since: str | None
    #: input points read before the new ones (the warm-up history); -1 = from the start
    history: int
    #: "tail" (only the new points written) or "full" (every row rewritten)
    mode: str

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "indicator": self.indicator,
                "indicator_ids": self.indicator_ids, "rows": self.rows, "since": self.since,
                "history": self.history, "mode": self.mode}


@dataclass
class UpdateResult:
    """What :func:`update` did for a session."""

    session_id: str
    updated: list[UpdatedSeries] = field(default_factory=list)
    #: ids that could not be updated: {"symbol", "indicator_id", "reason"}
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(u.rows * len(u.indicator_ids) for u in self.updated)

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "rows": self.rows,
                "updated": [u.to_dict() for u in self.updated], "skipped": self.skipped,
                "notes": self.notes}


def _lazy(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn``, called at most once."""
    box: list[Any] = []

    def get() -> Any:
        if not box:
            box.append(fn())
        return box[0]

    return get


@dataclass
class _Group:
    symbol: str
    indicator: Indicator
    params: dict[str, Any]
    interval: str | None
    ids: dict[str, str]  # output -> id (the ones stored)
    last_us: int  # the last stored timestamp (the earliest of the outputs')
    first_us: int
    rows: dict[str, int]  # id -> rows stored


def update(store: Store, session_id: str, symbols: Sequence[str] | None = None, *,
           progress: Progress | None = None) -> UpdateResult:
    """Bring every indicator stored for a session up to date with its input.

    For each stored computation (symbol, indicator, parameters, interval) the points from
    its last stored timestamp on are recomputed from a tail of the input (see the module
    docstring) and written. Ids that no loaded plugin derives are skipped and reported.
    On a transactional store the whole update is one transaction.
    """
    with store.atomic():
        return _update(store, session_id, symbols, progress)


def _update(store: Store, session_id: str, symbols: Sequence[str] | None,
            progress: Progress | None) -> UpdateResult:
    check_session_id(session_id)
    syms = [check_symbol(s) for s in symbols] if symbols else None
    stats = store.indicator_stats(session_id, syms)
    if stats.empty:
        session_row(store, session_id)  # SessionNotFound, or simply nothing to update
    # Stored rows mean a visible session (stores hide a session being deleted); its row is
    # read only if an indicator asks for the tick cadence.
    cadence = _lazy(lambda: tick_cadence(session_row(store, session_id)))
    result = UpdateResult(session_id)
    reg = registry()
    groups: dict[tuple, _Group] = {}
    for sym, iid, rows, first, last in zip(stats["symbol"], stats["indicator_id"],
                                           stats["rows"], stats["first_ts"], stats["last_ts"],
                                           strict=True):
        parsed: ParsedId | None = reg.parse_id(iid)
        if parsed is None:
            result.skipped.append({"symbol": sym, "indicator_id": iid,
                                   "reason": "no loaded plugin derives this id"})
            continue
        key = (sym, parsed.indicator.key, tuple(parsed.params.items()), parsed.interval)
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group(sym, parsed.indicator, parsed.params, parsed.interval,
                                     {}, to_micros(last), to_micros(first), {})
        g.ids[parsed.output] = iid
        g.rows[iid] = int(rows)
        g.last_us = min(g.last_us, to_micros(last))
    ctx = _UpdateContext(store, session_id, cadence)
    # Longest histories first: the first read of a symbol's input then covers the others.
    todo = sorted(enumerate(groups.values()), key=lambda ig: ig[1].last_us - _reach_us(ig[1]))
    done: list[tuple[int, UpdatedSeries]] = []
    for k, (index, g) in enumerate(todo):
        stored_bars = None
        if g.interval is not None:
            sk = (g.symbol, g.interval)
            if sk not in ctx.sources:
                ctx.sources[sk] = has_stored_bars(store, session_id, g.symbol, g.interval)
                if ctx.sources[sk]:
                    note = _stale_bars_note(store, session_id, g.symbol, g.interval)
                    if note:
                        result.notes.append(note)
            stored_bars = ctx.sources[sk]
        g.ids = {o: g.ids[o] for o in g.indicator.outputs if o in g.ids}
        before = _inputs_before(store, session_id, g, stored_bars, ctx.counts)
        rows, since, hist, mode = _update_group(ctx, g, stored_bars, before)
        done.append((index, UpdatedSeries(g.symbol, g.indicator.name, list(g.ids.values()),
                                          rows, since, hist, mode)))
        if progress:
            progress(k + 1, len(groups))
    ctx.flush()
    result.updated = [u for _, u in sorted(done, key=lambda iu: iu[0])]
    return result


class _UpdateContext:
    """What the groups of one update share: input already read, rows still to append."""

    def __init__(self, store: Store, session_id: str, cadence: Callable[[], Any]):
        self.store = store
        self.session_id = session_id
        self.cadence = cadence
        self.sources: dict[tuple[str, str], bool] = {}
        self.counts: dict[tuple[str, str | None, int], int] = {}
        self._inputs: dict[tuple[str, str | None], tuple[int | None, Inputs]] = {}
        self._appends: list[pa.Table] = []

    def inputs(self, g: _Group, start_us: int | None, stored_bars: bool | None) -> Inputs:
        """The group's input from ``start_us`` (None: all), read once per symbol and source."""
        key = (g.symbol, g.interval)
        have = self._inputs.get(key)
        if have is not None and (have[0] is None or (start_us is not None
                                                     and have[0] <= start_us)):
            x = have[1]
            return x if start_us is None else x.slice(
                int(np.searchsorted(x.ts, start_us, side="left")))
        x = load_inputs(self.store, self.session_id, g.symbol, g.interval,
                        start=None if start_us is None else from_micros(start_us),
                        cadence_s=self.cadence, stored_bars=stored_bars)
        self._inputs[key] = (start_us, x)
        return x

    def has_input(self, g: _Group) -> bool:
        """Whether the group's input (symbol and interval) was read already."""
        return (g.symbol, g.interval) in self._inputs

    def holds(self, g: _Group, need: int) -> bool:
        """Whether the input read already holds ``need`` points before the group's last
        stored one (then a read from a guessed time, which may start earlier, is saved)."""
        have = self._inputs.get((g.symbol, g.interval))
        return have is not None and int(np.searchsorted(have[1].ts, g.last_us,
                                                        side="left")) >= need

    def start_of(self, g: _Group) -> int | None:
        """Where the input read for the group's symbol and interval starts (None: at the
        first point)."""
        return self._inputs[(g.symbol, g.interval)][0]

    def append(self, rows: pa.Table) -> int:
        """Rows new to the table: written together by :meth:`flush`."""
        self._appends.append(rows)
        return rows.num_rows

    def flush(self) -> None:
        if self._appends:
            write_rows(self.store, pa.concat_tables(self._appends), mode="append")
            self._appends.clear()


def _reach_us(g: _Group) -> float:
    """How far back (microseconds) a tail recomputation of ``g`` will read, first guess."""
    ind = g.indicator
    if ind.update == "full":
        return float("inf")
    memory = ind.memory(g.params) if ind.update == "window" else 0
    return _REACH * (memory + VERIFY_POINTS) * _spacing(g)


def _spacing(g: _Group) -> float:
    rows = g.rows[next(iter(g.ids.values()))]
    return (g.last_us - g.first_us) / max(1, rows - 1)


#: First guess of the time span holding the points a tail needs: this many times the
#: average spacing of the stored points (gaps make it too short; then it is widened).
_REACH = 2.0


def _inputs_before(store: Store, session_id: str, g: _Group, stored_bars: bool | None,
                   cache: dict[tuple[str, str | None, int], int]) -> int | None:
    """Input points before the group's last stored timestamp (None: not countable).

    Compared with the stored rows, it catches input that arrived out of order (a late
    trade in the middle of the session). Bars built from ticks are not counted: a late
    trade changes a bar, not their number; the comparison of recomputed values with stored
    ones covers the recent ones.
    """
    key = (g.symbol, g.interval, g.last_us)
    if key not in cache:
        end = from_micros(g.last_us)
        if g.interval is None:
            cache[key] = store.count(TICKS, session_id, symbols=[g.symbol], end=end)
        elif stored_bars:
            cache[key] = store.count(BARS, session_id, symbols=[g.symbol], end=end,
                                     filters={"interval": g.interval})
        else:
            return None
    return cache[key]


def _stale_bars_note(store: Store, session_id: str, symbol: str, interval: str) -> str | None:
    last_bar = store.read_tail_arrow(BARS, session_id, symbol=symbol, n=1, columns=["ts"],
                                     filters={"interval": interval})
    last_tick = store.read_tail_arrow(TICKS, session_id, symbol=symbol, n=1, columns=["ts"])
    if not last_bar.num_rows or not last_tick.num_rows:
        return None
    bar_end = int(micros(last_bar.column("ts"))[0]) + interval_seconds(interval) * 1_000_000
    if int(micros(last_tick.column("ts"))[0]) >= bar_end:
        return (f"{symbol}: the stored {interval} bars end before the last tick; indicators "
                f"on them are up to date with the bars. Rebuild the bars (`tsanalysis "
                f"sessions bars {session_id} --interval {interval}`) and update again.")
    return None


def _update_group(ctx: _UpdateContext, g: _Group, stored_bars: bool | None,
                  inputs_before: int | None) -> tuple[int, str | None, int, str]:
    """Recompute the tail of one stored computation; return (rows, since, history, mode).

    The tail is read by time: the stored rows' average spacing (or, for bars built from
    ticks, the stored point that many before the last) tells how far back the needed
    points lie; the read is widened until it holds them.
    """
    store, session_id, cadence = ctx.store, ctx.session_id, ctx.cadence
    ind = g.indicator
    memory: int | None = None if ind.update == "full" else (
        ind.memory(g.params) if ind.update == "window" else 0)
    proxy = next(iter(g.ids.values()))
    spacing = _spacing(g)
    reach = _REACH
    checked = False
    # Bars built from ticks cost a bar's worth of ticks per point read too many: the first
    # read of a symbol's bars starts exactly at the stored point the history needs (one
    # tail query); groups after it mostly find their history in that read.
    exact = (memory is not None and g.interval is not None and not stored_bars
             and not ctx.has_input(g))
    while True:
        need = None if memory is None else memory + VERIFY_POINTS
        start_us = None
        if need is not None and exact:
            exact = False
            if g.rows[proxy] > need:  # else the whole series is history: from the start
                start_us = _stored_point_before(store, session_id, g, need)
        elif need is not None and ctx.holds(g, need):
            start_us = ctx.start_of(g)  # an earlier group's read has the history already
        elif need is not None:
            start_us = g.last_us - int(reach * need * spacing) - 1
            if start_us <= g.first_us:
                start_us = None
        inputs = ctx.inputs(g, start_us, stored_bars)
        i0 = int(np.searchsorted(inputs.ts, g.last_us, side="left"))
        if need is not None and i0 < need and start_us is not None:
            reach *= 4  # gaps in the data: look further back
            continue
        tail = need is not None and i0 >= need
        if tail:
            inputs = inputs.slice(i0 - need)  # exactly the history the indicator needs
            i0 = need
        values = ind.run(inputs, g.params)
        lo = max(0, i0 - VERIFY_POINTS)
        stored = _stored_since(store, session_id, g,
                               int(inputs.ts[lo]) if lo < i0 else g.last_us)
        if not checked:
            checked = True
            stored_before = g.rows[proxy] - int((stored[proxy][0] >= g.last_us).sum())
            if inputs_before is not None and inputs_before != stored_before:
                # Points arrived before the last stored one (late trades): rewrite all.
                return _rewrite(store, session_id, g, cadence, stored_bars)
        verdict = _verify(g, inputs, values, lo, i0, stored,
                          cumulative=ind.update == "cumulative" and tail)
        if verdict == "ok":
            rows = _write_tail(ctx, g, inputs, values, i0, stored)
            since = iso(from_micros(int(inputs.ts[i0]))) if i0 < inputs.n else None
            return rows, since, (i0 if tail else -1), "tail"
        if tail and verdict == "mismatch" and ind.update == "window":
            log.debug("%s: a tail of %d points did not reproduce the stored values; "
                      "widening", g.ids, memory)
            memory = 2 * memory + VERIFY_POINTS  # type: ignore[operator]
            continue
        if tail:
            memory = None  # a running total that did not line up: from the start
            continue
        # From the very start and still different from what is stored: the stored rows
        # are stale (the input changed underneath): rewrite them all.
        return _rewrite(store, session_id, g, cadence, stored_bars, inputs, values)


def _rewrite(store: Store, session_id: str, g: _Group, cadence: Callable[[], Any],
             stored_bars: bool | None, inputs: Inputs | None = None,
             values: dict[str, np.ndarray] | None = None) -> tuple[int, str | None, int, str]:
    """Recompute from the first point and write every row."""
    if inputs is None or values is None:
        inputs = load_inputs(store, session_id, g.symbol, g.interval, cadence_s=cadence,
                             stored_bars=stored_bars)
        values = g.indicator.run(inputs, g.params)
    # Replaced as a recompute replaces (delete and append where the store has transactions):
    # an upsert of every row joined them all against the stored ones, and ran out of
    # DuckDB's capped memory on 10M ticks.
    mode = clear_for_rewrite(store, session_id, g.symbol, g.ids)
    rows = write_rows(store, indicator_rows(session_id, g.symbol, g.ids, values, inputs.ts,
                                        inputs.seq), mode) // max(1, len(g.ids))
    since = iso(from_micros(int(inputs.ts[0]))) if inputs.n else None
    return rows, since, -1, "full"


def _stored_point_before(store: Store, session_id: str, g: _Group, n: int) -> int | None:
    """The time of the ``n``-th stored point before the group's last one (None: fewer).

    Read from a time window that the stored points' spacing says holds them, widened
    until it does: a tail query (the last ``n`` before a time) ranks every stored point
    of the series, 20 ms on 100M ticks' MACD where the window takes a few.
    """
    iid = next(iter(g.ids.values()))
    end = from_micros(g.last_us)
    reach = _REACH
    while True:
        start_us = g.last_us - int(reach * n * _spacing(g)) - 1
        if start_us <= g.first_us:
            break
        t = store.read_arrow(TABLE, session_id, symbols=[g.symbol], start=from_micros(start_us),
                             end=end, columns=["ts"], filters={"indicator_id": iid})
        if t.num_rows >= n:
            return int(micros(t.column("ts"))[t.num_rows - n])
        reach *= 4
    t = store.read_tail_arrow(TABLE, session_id, symbol=g.symbol, n=n, end=end,
                              columns=["ts"], filters={"indicator_id": iid})
    return int(micros(t.column("ts"))[0]) if t.num_rows == n else None


_Stored = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # id -> (ts, seq, value)


def _stored_since(store: Store, session_id: str, g: _Group, start_us: int) -> _Stored:
    """The stored rows of the group's ids from ``start_us`` on, per id."""
    t = store.read_arrow(TABLE, session_id, symbols=[g.symbol], start=from_micros(start_us),
                         columns=["indicator_id", "ts", "seq", "value"],
                         filters={"indicator_id": list(g.ids.values())})
    ids = np.asarray(t.column("indicator_id").to_numpy(zero_copy_only=False))
    ts, seq = micros(t.column("ts")), t.column("seq").to_numpy()
    val = t.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    return {iid: (ts[m], seq[m], val[m]) for iid in g.ids.values() for m in [ids == iid]}


def _verify(g: _Group, inputs: Inputs, values: dict[str, np.ndarray], lo: int, i0: int,
            stored: _Stored, cumulative: bool) -> str:
    """Compare the recomputed points [lo, i0) with the stored ones: ok, mismatch or changed.

    ``changed`` means the stored rows are not the input points (history was altered).
    With ``cumulative`` the recomputed running total is first shifted onto the stored one.
    """
    want_ts, want_seq = inputs.ts[lo:i0], inputs.seq[lo:i0]
    verdict = "ok"
    for output, iid in g.ids.items():
        ts, seq, val = stored[iid]
        before = ts < g.last_us
        if not (np.array_equal(ts[before], want_ts) and np.array_equal(seq[before], want_seq)):
            return "changed"
        if lo == i0:
            continue
        got = values[output]
        if cumulative:
            shifted = _shift_onto(got, val[before], lo, i0)
            if shifted is None:
                return "mismatch"
            values[output] = got = shifted
        if not values_agree(got[lo:i0], val[before]):
            verdict = "mismatch"
    return verdict


def _write_tail(ctx: _UpdateContext, g: _Group, inputs: Inputs,
                values: dict[str, np.ndarray], i0: int, stored: _Stored) -> int:
    """Write the points from the last stored timestamp on; return rows per id.

    Points after it are new for every id and are appended; the stored rows at it are
    rewritten only where the recomputation changed them (a bar that was still filling),
    because replacing rows (an upsert) costs a scan of the table on some backends.
    """
    j0 = int(np.searchsorted(inputs.ts, g.last_us, side="right"))
    fresh = all(bool((ts <= g.last_us).all()) for ts, _, _ in stored.values())
    changed = np.zeros(j0 - i0, dtype=bool)
    for output, iid in g.ids.items():
        ts, seq, val = stored[iid]
        at = ts == g.last_us
        known = dict(zip(seq[at].tolist(), val[at].tolist(), strict=True))
        for k in range(i0, j0):
            old = known.get(int(inputs.seq[k]))
            new = values[output][k]
            if old is None or not (old == new or (np.isnan(old) and np.isnan(new))
                                   or abs(old - new) <= VERIFY_RTOL * abs(old)):
                changed[k - i0] = True
    rows = 0
    idx = np.flatnonzero(changed) + i0
    if idx.size:
        rows += write_rows(ctx.store, indicator_rows(
            ctx.session_id, g.symbol, g.ids, {o: v[idx] for o, v in values.items()},
            inputs.ts[idx], inputs.seq[idx]), mode="upsert")
    if j0 < inputs.n:
        new = indicator_rows(ctx.session_id, g.symbol, g.ids,
                             {o: v[j0:] for o, v in values.items()}, inputs.ts[j0:],
                             inputs.seq[j0:])
        rows += ctx.append(new) if fresh else write_rows(ctx.store, new, mode="upsert")
    return rows // max(1, len(g.ids))


def _shift_onto(got: np.ndarray, stored: np.ndarray, lo: int, i0: int) -> np.ndarray | None:
    """Shift a running total recomputed from a window onto the stored one."""
    ref = i0 - 1
    a, b = got[ref], stored[-1]
    if not (np.isfinite(a) and np.isfinite(b)):
        return None
    nan = np.isnan(got)
    before = np.flatnonzero(nan[:ref])
    start = int(before[-1]) + 1 if before.size else 0
    after = np.flatnonzero(nan[ref:])
    stop = ref + int(after[0]) if after.size else got.shape[0]
    out = got.copy()
    out[start:stop] += b - a
    return out


def values_agree(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether recomputed values ``a`` reproduce stored or earlier values ``b``: NaN in the
    same places, the rest within ``VERIFY_RTOL`` of ``b``'s scale."""
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    if na.all():
        return True
    x, y = a[~na], b[~nb]
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    return bool(np.all(np.abs(x - y) <= VERIFY_RTOL * scale + 1e-300))
