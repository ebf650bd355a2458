"""What a check sees: one symbol of one session, its data in chunks, its cadence.

The data always comes in ``(ts, seq)`` order (time, then arrival). A symbol whose table
fits in ``chunk_rows`` is read once and served to every check from memory; a larger one
is streamed from the store by time range in chunks of exactly ``chunk_rows`` rows (copied
once to a temporary Arrow file that later checks re-read), so a session larger than
memory is assessed in bounded memory. Checks that walk
:meth:`CheckContext.chunks` and carry their state across chunks (the built-ins do) give
the same findings either way.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from .. import schema
from ..sessions import SessionInfo
from ..store.base import (
    Store,
    arrow_to_pandas,
    gaps_in_batches,
    median_of_batches,
    out_of_order_in,
    steps_in_batches,
)
from ..store.base import arrow_schema as base_arrow_schema
from ..timeutil import from_micros, micros, to_micros
from ..trading_hours import TradingHours, of_session

TICKS = schema.TICK_PRICES.name
QUOTES = schema.TICK_ORDERBOOK.name
BARS = schema.AGGREGATED_OHLCV.name

#: Columns read by default (strings such as ``side`` only when asked for).
_DEFAULT_COLUMNS = {
    TICKS: ("seq", "ts", "price", "volume"),
    QUOTES: ("seq", "ts", "bid_price", "bid_size", "ask_price", "ask_size"),
}

#: An inferred cadence ignores intervals longer than this many median steps (outages).
CADENCE_OUTLIER_STEPS = 10


@dataclass(frozen=True)
class Cadence:
    """Seconds between rows: declared by the session, or inferred from the data."""

    seconds: float | None
    source: str | None  #: "declared", "inferred", or None when unknown (fewer than 2 rows)

    @property
    def micros(self) -> int | None:
        return None if self.seconds is None else max(int(round(self.seconds * 1e6)), 1)


@dataclass
class Chunk:
    """Consecutive rows of one table for one symbol, as numpy arrays.

    ``ts`` is int64 microseconds since the epoch (UTC); float columns hold NaN for NULL.
    ``offset`` is the position of the first row among all the symbol's rows; ``last`` is
    True for the final chunk.
    """

    offset: int
    last: bool
    ts: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ts)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.ts if name == "ts" else self.columns[name]

    def frame(self) -> pd.DataFrame:
        """The chunk as a DataFrame (``ts`` as UTC timestamps)."""
        return pd.DataFrame({"ts": from_micros(self.ts), **self.columns})


def _arrays(batch: pa.RecordBatch | pa.Table) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ts = np.empty(0, dtype=np.int64)
    cols: dict[str, np.ndarray] = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if name == "ts":
            ts = micros(col)
        elif pa.types.is_floating(col.type):
            cols[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            cols[name] = np.asarray(col.to_numpy(zero_copy_only=False))
    return ts, cols


class CheckContext:
    """One symbol of one session, as handed to ``check.run(ctx, **params)``.

    Attributes: ``session`` (:class:`~tsanalysis.sessions.SessionInfo`), ``session_id``,
    ``symbol``, ``store``, ``gap_threshold_s`` (the caller's override, or None) and
    ``max_findings`` (how many findings or examples a check should list per symbol; counts
    stay exact).
    """

    def __init__(self, store: Store, session: SessionInfo, symbol: str, *,
                 chunk_rows: int | None = None, gap_threshold_s: float | None = None,
                 max_findings: int = 200):
        self.store = store
        self.session = session
        self.session_id = session.session_id
        self.symbol = symbol
        self.chunk_rows = chunk_rows
        self.gap_threshold_s = gap_threshold_s
        self.max_findings = max_findings
        self._cache: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self._cadence: dict[str, Cadence] = {}
        self._spilled: dict[str, str] = {}
        self._tmpdir: str | None = None

    # -- what is there -----------------------------------------------------------------

    def _stats(self, table: str):  # -> TableStats | None
        return ((self.session.tables or {}).get(table) or {}).get(self.symbol)

    def rows(self, table: str) -> int:
        """Rows of the symbol in ``table``."""
        st = self._stats(table)
        return int(st.rows) if st is not None else 0

    def first_ts(self, table: str) -> pd.Timestamp | None:
        st = self._stats(table)
        return st.first_ts if st is not None else None

    def last_ts(self, table: str) -> pd.Timestamp | None:
        st = self._stats(table)
        return st.last_ts if st is not None else None

    @functools.cached_property
    def trading_hours(self) -> TradingHours | None:
        """The session's declared trading hours (its closures are not gaps), or None."""
        return of_session(self.session.metadata)

    def open_seconds(self, table: str) -> float:
        """Seconds from the table's first to its last row, declared closures left out."""
        first, last = self.first_ts(table), self.last_ts(table)
        if first is None or last is None:
            return 0.0
        closed = self.trading_hours.closed_seconds(first, last) if self.trading_hours else 0
        return max((last - first).total_seconds() - closed, 0.0)

    def streamed(self, table: str) -> bool:
        """True when ``table`` is read in several chunks rather than at once."""
        return self.chunk_rows is not None and self.rows(table) > self.chunk_rows

    # -- cadence ----------------------------------------------------------------------

    def cadence(self, table: str = TICKS) -> Cadence:
        """Seconds between rows of ``table``.

        Trades use the session's declared ``cadence_s`` when it has one. Otherwise the
        cadence is inferred: the mean interval between rows once outages are left out
        (intervals longer than the caller's gap threshold, else than
        ``CADENCE_OUTLIER_STEPS`` times the median interval between distinct timestamps),
        which is right for regular series and for irregular trades
        alike, and is not pulled up by the gaps it is used to find.
        """
        if table not in self._cadence:
            self._cadence[table] = self._infer_cadence(table)
        return self._cadence[table]

    def gap_threshold(self, table: str, gap_factor: float) -> float | None:
        """Seconds between consecutive rows of ``table`` beyond which the recording has a
        gap: the caller's override, else ``gap_factor`` cadences; None with no cadence."""
        if self.gap_threshold_s is not None:
            return float(self.gap_threshold_s)
        cad = self.cadence(table)
        return None if cad.seconds is None else gap_factor * cad.seconds

    def _infer_cadence(self, table: str) -> Cadence:
        declared = self.session.cadence_s
        if table == TICKS and declared is not None and declared > 0:
            return Cadence(float(declared), "declared")
        rows, first, last = self.rows(table), self.first_ts(table), self.last_ts(table)
        if rows < 2 or first is None or last is None:
            return Cadence(None, None)
        step = self.median_step_us(table)
        if not step:
            return Cadence(None, None)
        span = to_micros(last) - to_micros(first)
        # outages: longer than the caller's gap threshold when given (a trade feed's quiet
        # stretches are not outages), else CADENCE_OUTLIER_STEPS median steps
        longest = self.gap_threshold_s * 1e6 if self.gap_threshold_s is not None \
            else CADENCE_OUTLIER_STEPS * step
        outages = self.gaps(table, max(int(math.ceil(longest)), 1))
        lost = int(((outages["end"] - outages["start"]).dt.total_seconds() * 1e6).sum()) \
            if len(outages) else 0
        intervals = rows - 1 - len(outages)
        if intervals <= 0:
            return Cadence(step / 1e6, "inferred")
        return Cadence((span - lost) / intervals / 1e6, "inferred")

    # -- time order -----------------------------------------------------------------------
    # Computed from the rows in (ts, seq) order, as the checks walk them (in memory, or the
    # streamed copy): no extra sort in the database and memory bounded by a chunk.

    def gaps(self, table: str, min_gap_us: int) -> pd.DataFrame:
        """Intervals longer than ``min_gap_us`` between consecutive rows: ``start``
        (the row before) and ``end`` (the row after), in time order."""
        start, end = gaps_in_batches((ch.ts for ch in self.chunks(table, ["ts"])),
                                     int(min_gap_us))
        return pd.DataFrame({"start": from_micros(start), "end": from_micros(end)})

    def median_step_us(self, table: str) -> float | None:
        """Median positive interval between consecutive timestamps (µs), or None."""
        return median_of_batches(
            lambda: steps_in_batches(ch.ts for ch in self.chunks(table, ["ts"])))

    def out_of_order(self, table: str, tolerance_us: int = 0, limit: int = 100
                     ) -> tuple[int, pd.DataFrame]:
        """Rows stamped more than ``tolerance_us`` before the row that arrived before them
        (arrival order is ``seq``): their number and the first ``limit`` (``seq``, ``ts``,
        ``prev_ts``)."""
        if self._arrival_in_time_order(table):
            # arrival order is time order: no row is stamped before its predecessor
            return out_of_order_in(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64),
                                   tolerance_us, limit)
        if self.streamed(table):
            return self.store.out_of_order(table, self.session_id, self.symbol,
                                           tolerance_us=tolerance_us, limit=limit)
        ts, cols = self._whole(table, ["ts", "seq"])
        return out_of_order_in(cols["seq"], ts, tolerance_us, limit)

    def _arrival_in_time_order(self, table: str) -> bool:
        """True when ``seq`` rises strictly along the ``(ts, seq)`` order: then sorting by
        seq changes nothing and no row can be out of order (the usual case, settled without
        sorting the rows by ``seq``)."""
        prev = None
        for ch in self.chunks(table, ["ts", "seq"]):
            seq = ch["seq"]
            if not len(seq):
                continue
            if prev is not None and not seq[0] > prev:
                return False
            if not bool(np.all(seq[1:] > seq[:-1])):
                return False
            prev = seq[-1]
        return True

    # -- data -------------------------------------------------------------------------

    def chunks(self, table: str, columns: Sequence[str] | None = None) -> Iterator[Chunk]:
        """The symbol's rows of ``table`` in ``(ts, seq)`` order, chunk by chunk.

        Always yields at least one chunk (empty when there are no rows); the final one has
        ``last=True``. ``columns`` defaults to the numeric columns of the table.
        """
        cols = self._columns(table, columns)
        if not self.streamed(table):
            ts, data = self._whole(table, cols)
            yield Chunk(0, True, ts, {c: data[c] for c in cols if c != "ts"})
            return
        offset = 0
        pending: Chunk | None = None
        for batch in self._batches(table, cols):
            if batch.num_rows == 0:
                continue
            ts, data = _arrays(batch)
            if pending is not None:
                yield pending
            pending = Chunk(offset, False, ts, data)
            offset += len(ts)
        if pending is None:
            yield Chunk(0, True, np.empty(0, dtype=np.int64),
                        {c: np.empty(0) for c in cols if c != "ts"})
            return
        pending.last = True
        yield pending

    def _batches(self, table: str, cols: list[str]) -> Iterator[pa.RecordBatch]:
        """Batches of a table too large to hold. The first pass copies the table's default
        columns, in order, to a local Arrow file; every later pass reads that file instead
        of having the database read the table again (several checks walk it)."""
        defaults = list(_DEFAULT_COLUMNS.get(table, ()))
        if not set(cols) <= set(defaults):
            yield from self._ordered(table, cols)
            return
        path = self._spilled.get(table)
        if path is None:
            path = self._spill(table, defaults)
        with pa.OSFile(path, "rb") as f:  # read, not mapped: memory stays one batch
            reader = ipc.open_file(f)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i).select(cols)

    def _spill(self, table: str, columns: list[str]) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="tsanalysis-quality-")
        path = os.path.join(self._tmpdir, f"{table}.arrow")
        writer = None
        with pa.OSFile(path, "wb") as sink:
            for batch in self._ordered(table, columns):
                if writer is None:
                    writer = ipc.new_file(sink, batch.schema)
                writer.write_batch(batch)
            if writer is None:
                writer = ipc.new_file(sink, base_arrow_schema(schema.table(table), columns))
            writer.close()
        self._spilled[table] = path  # only once complete
        return path

    def _ordered(self, table: str, cols: list[str]) -> Iterator[pa.RecordBatch]:
        """The symbol's rows in ``(ts, seq)`` order, in batches of exactly ``chunk_rows``
        (the last one shorter).

        Read by time range, about ``chunk_rows`` rows a range (the table's span cut
        evenly): the database sorts one range at a time, in little memory, and finds it
        by time (DuckDB's zone maps, QuestDB's designated timestamp); a burst that makes a
        range larger still comes in bounded batches. The first and last ranges are open,
        so rows outside the span of the session's figures are not lost.
        """
        size = int(self.chunk_rows or 0)
        first, last = self.first_ts(table), self.last_ts(table)
        cuts: list[pd.Timestamp | None] = []
        if first is not None and last is not None:
            lo, hi = to_micros(first), to_micros(last)
            ranges = max(1, -(-self.rows(table) // size))
            cuts = [from_micros(c) for c in sorted({lo + (hi - lo) * i // ranges
                                                    for i in range(1, ranges)} - {lo})]
        bounds = [None, *cuts, None]
        held: list[pa.RecordBatch] = []
        n = 0
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            for batch in self.store.iter_arrow(table, self.session_id, symbols=[self.symbol],
                                               columns=cols, start=start, end=end,
                                               batch_rows=size):
                held.append(batch.select(cols))
                n += batch.num_rows
                while n >= size:  # cut exactly: chunk boundaries at multiples of size
                    whole = pa.Table.from_batches(held).combine_chunks()
                    yield whole.slice(0, size).to_batches()[0]
                    rest = whole.slice(size)
                    held, n = rest.to_batches(), rest.num_rows
        if n:
            yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]

    def _columns(self, table: str, columns: Sequence[str] | None) -> list[str]:
        t = schema.table(table)
        wanted = list(columns) if columns is not None else [
            c for c in _DEFAULT_COLUMNS.get(table, t.column_names)
            if c not in ("session_id", "symbol")]
        if "ts" not in wanted:
            wanted.insert(0, "ts")
        return wanted

    def _whole(self, table: str, cols: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        cached = self._cache.get(table)
        if cached is not None and all(c == "ts" or c in cached[1] for c in cols):
            return cached
        have = list(cached[1]) if cached is not None else []
        defaults = [c for c in _DEFAULT_COLUMNS.get(table, ()) if c != "ts"]
        read = ["ts", *dict.fromkeys([*defaults, *have, *(c for c in cols if c != "ts")])]
        data = self.store.read_arrow(table, self.session_id, symbols=[self.symbol],
                                     columns=read)
        self._cache[table] = _arrays(data.combine_chunks())
        return self._cache[table]

    def read(self, table: str, columns: Sequence[str] | None = None,
             **filters: Any) -> pd.DataFrame:
        """The symbol's rows of ``table`` as one DataFrame (loads them all into memory)."""
        return arrow_to_pandas(self.store.read_arrow(table, self.session_id,
                                                     symbols=[self.symbol], columns=columns,
                                                     **filters))

    def ticks(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The symbol's trades as a DataFrame, in ``(ts, seq)`` order."""
        return self.read(TICKS, columns)

    def quotes(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The symbol's top-of-book quotes as a DataFrame, in ``(ts, seq)`` order."""
        return self.read(QUOTES, columns)

    def bars(self, interval: str | None = None) -> pd.DataFrame:
        """The symbol's stored OHLCV bars (of one ``interval``, or all)."""
        filters = {"interval": interval} if interval is not None else None
        return self.read(BARS, filters=filters)

    def release(self) -> None:
        """Drop the data held in memory or spilled to disk (the runner calls this after the
        symbol's checks)."""
        self._cache.clear()
        self._spilled.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
