"""Computing an indicator over a whole session and symbol, and storing its outputs.

A window indicator (see ``update`` in :mod:`tsanalysis.indicators.base`) on more than
:data:`CHUNK_ROWS` ticks is computed and stored as a stream: the ticks are read in batches
of that many rows, each computed with the last points of the previous one as its warm-up
(its declared memory, plus :data:`~tsanalysis.indicators.updating.VERIFY_POINTS` that must
reproduce the previous batch's values, else the whole series is computed at once), and the
rows are written batch by batch (:meth:`~tsanalysis.store.base.Store.write_batches`:
atomic, memory bounded by a batch). Memory is then flat in the session's length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidInput
from ..ids import interval_seconds
from ..store.base import Progress, Store, check_positive_int
from ..timeutil import from_micros, micros
from .base import Indicator, Inputs
from .inputs import TICK_COLUMNS, TICKS, load_inputs, session_row, tick_cadence, tick_inputs
from .registry import registry
from .table import TABLE, clear_for_rewrite, indicator_rows, write_rows
from .updating import VERIFY_POINTS, values_agree

log = logging.getLogger(__name__)

#: Ticks per batch of a streamed computation (see the module docstring).
CHUNK_ROWS = 1_000_000


@dataclass
class ComputeResult:
    """What :func:`compute` did: the ids written and the values (``frame``)."""

    session_id: str
    symbol: str
    indicator: str
    params: dict[str, Any]
    interval: str | None
    #: ``"ticks"``, ``"stored bars"`` or ``"bars from ticks"``
    source: str
    #: output name -> indicator id
    outputs: dict[str, str]
    #: input points (one row per point and output)
    rows: int
    #: rows written to the indicators table (0 with ``persist=False``)
    written: int
    _values: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _ts_us: np.ndarray | None = field(default=None, repr=False)
    _seq: np.ndarray | None = field(default=None, repr=False)
    #: reads the values back from the store (after a streamed computation)
    _load: Callable[[], tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False, compare=False)

    def _data(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        if self._values is None and self._load is not None:
            self._values, self._ts_us, self._seq = self._load()
        assert self._values is not None and self._ts_us is not None and self._seq is not None
        return self._values, self._ts_us, self._seq

    @property
    def values(self) -> dict[str, np.ndarray]:
        """output name -> values, one per input point (after a streamed computation, read
        back from the store when first asked for)."""
        return self._data()[0]

    @property
    def ts_us(self) -> np.ndarray:
        """The input points' timestamps: int64 microseconds since the epoch."""
        return self._data()[1]

    @property
    def seq(self) -> np.ndarray:
        """The input points' ``seq``."""
        return self._data()[2]

    @property
    def frame(self) -> pd.DataFrame:
        """ts (UTC), seq and one column per output (built on demand)."""
        ts = from_micros(self.ts_us)
        return pd.DataFrame({"ts": ts, "seq": self.seq, **self.values})

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "symbol": self.symbol, "rows": self.rows,
                "outputs": dict(self.outputs)}


def resolve(name: str, params: Mapping[str, Any] | None = None, interval: str | None = None
            ) -> tuple[Indicator, dict[str, Any]]:
    """The registered indicator and its validated parameters (errors before any work)."""
    ind = registry().get(name)
    full = ind.check_params(params)
    if interval is not None:
        interval_seconds(interval)
    return ind, full


def compute(store: Store, session_id: str, symbol: str, name: str,
            params: Mapping[str, Any] | None = None, *, interval: str | None = None,
            persist: bool = True, chunk_rows: int | None = None,
            progress: Progress | None = None) -> ComputeResult:
    """Compute an indicator over a whole session and symbol; persist it unless told not to.

    ``progress`` is called with ``(input points done, input points in all)``: after each
    batch of a streamed computation, once at the end of one computed at once. An exception
    it raises (a Cancel, an interrupt) stops the computation with nothing written.

    Raises :class:`~tsanalysis.indicators.UnknownIndicator` (with the closest names),
    :class:`~tsanalysis.indicators.InvalidParameter` (naming the parameter and its
    bounds), :class:`~tsanalysis.errors.SessionNotFound`, or
    :class:`~tsanalysis.errors.InvalidInput` when the symbol has no data.
    """
    ind, full = resolve(name, params, interval)
    if persist and interval is None and ind.update == "window":
        streamed = _compute_streamed(store, session_id, symbol, ind, full,
                                     CHUNK_ROWS if chunk_rows is None else chunk_rows,
                                     progress)
        if streamed is not None:
            return streamed
    # One transaction when writing: the rows land together, and the reads share the
    # writer's connection (DuckDB would otherwise reopen the file to switch).
    with store.atomic() if persist else nullcontext():
        return _compute(store, session_id, symbol, ind, full, interval, persist, progress)


def _compute(store: Store, session_id: str, symbol: str, ind: Indicator,
             full: dict[str, Any], interval: str | None, persist: bool,
             progress: Progress | None = None) -> ComputeResult:
    row = session_row(store, session_id)
    inputs = load_inputs(store, session_id, symbol, interval, cadence_s=tick_cadence(row))
    if inputs.n == 0:
        what = f"bars at {interval} or ticks" if interval else "ticks"
        syms = row.get("symbols") or ""
        raise InvalidInput(f"no {what} for {symbol} in session {session_id!r} "
                           f"(symbols: {syms or 'none'})")
    values = ind.run(inputs, full)
    ids = ind.output_ids(full, interval)
    written = 0
    if progress:
        progress(inputs.n, inputs.n)  # before the write: a Cancel here writes nothing
    if persist:
        mode = clear_for_rewrite(store, session_id, symbol, ids)
        written = write_rows(store, indicator_rows(session_id, symbol, ids, values, inputs.ts,
                                               inputs.seq), mode)
    return ComputeResult(session_id, symbol, ind.name, full, interval, inputs.origin, ids,
                         inputs.n, written, values, inputs.ts, inputs.seq)


def _withdraw(store: Store, session_id: str, symbol: str, ids: Mapping[str, str],
              existed: bool) -> None:
    """Leave the store as it was after a streamed write that stopped part-way.

    A transactional store wrote nothing. On another (QuestDB) the batches already sent
    are stored: when no row of these ids existed before, every row of them is this
    write's and is deleted again. A recomputation that stops part-way has replaced some
    rows with values computed from the same inputs, and leaves them.
    """
    if store.transactional or existed:
        return
    try:
        store.delete_rows(TABLE, session_id, symbols=[symbol],
                          filters={"indicator_id": list(ids.values())})
    except Exception:  # the original error is the one to report
        log.warning("could not remove the rows of an interrupted computation; delete "
                    "them with: tsanalysis delete %s --symbol %s %s", session_id, symbol,
                    " ".join(f"--indicator-id {i}" for i in ids.values()), exc_info=True)


class _NotStreamable(Exception):
    """A batch's warm-up did not reproduce the previous batch's values."""


def _compute_streamed(store: Store, session_id: str, symbol: str, ind: Indicator,
                      full: dict[str, Any], chunk_rows: int,
                      progress: Progress | None = None) -> ComputeResult | None:
    """Compute and store a window indicator on ticks batch by batch (module docstring);
    None when the ticks fit in one batch or the batches do not reproduce each other."""
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    row = session_row(store, session_id)
    n = store.count(TICKS, session_id, symbols=[symbol])
    if n <= chunk_rows:
        return None
    cadence = tick_cadence(row)
    ids = ind.output_ids(full, None)
    keep = ind.memory(full) + VERIFY_POINTS
    seen = [0]

    def rows() -> Iterator[pa.Table]:
        carry: pa.Table | None = None
        tail: dict[str, np.ndarray] = {}  # the previous batch's last values
        for batch in store.iter_arrow(TICKS, session_id, symbols=[symbol],
                                      columns=TICK_COLUMNS, batch_rows=chunk_rows):
            t = pa.Table.from_batches([batch])
            k = 0
            if carry is not None:
                k = carry.num_rows
                t = pa.concat_tables([carry, t.cast(carry.schema)])
            x: Inputs = tick_inputs(t, cadence)
            values = ind.run(x, full)
            if k:
                v = min(VERIFY_POINTS, k)
                if not all(values_agree(values[o][k - v:k], tail[o][-v:]) for o in ids):
                    raise _NotStreamable
            yield indicator_rows(session_id, symbol, ids, {o: a[k:] for o, a in values.items()},
                                 x.ts[k:], x.seq[k:])
            seen[0] += x.n - k
            if progress:
                progress(seen[0], n)
            tail = {o: a[-VERIFY_POINTS:].copy() for o, a in values.items()}
            carry = t.slice(max(0, t.num_rows - keep))

    exists = store.count(TABLE, session_id, symbols=[symbol],
                         filters={"indicator_id": list(ids.values())}) > 0
    try:
        # One transaction for the rows replaced and the rows written (where there is one).
        with store.atomic():
            mode = clear_for_rewrite(store, session_id, symbol, ids, stored=exists)
            written = store.write_batches(TABLE, rows(), mode)
    except _NotStreamable:
        _withdraw(store, session_id, symbol, ids, exists)
        return None
    except BaseException:  # a Cancel, Ctrl-C, a failed write
        _withdraw(store, session_id, symbol, ids, exists)
        raise

    def load() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        values, ts, seq = {}, np.empty(0, np.int64), np.empty(0, np.int64)
        for output, iid in ids.items():
            t = store.read_arrow(TABLE, session_id, symbols=[symbol],
                                 columns=["ts", "seq", "value"],
                                 filters={"indicator_id": iid})
            values[output] = t.column("value").to_numpy(zero_copy_only=False).astype(
                np.float64)
            ts, seq = micros(t.column("ts")), t.column("seq").to_numpy()
        return values, ts, seq

    return ComputeResult(session_id, symbol, ind.name, full, None, "ticks", ids, seen[0],
                         written, _load=load)
