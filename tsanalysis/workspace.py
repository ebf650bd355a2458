"""The workspace: one store, its sessions, and the operations users call.

``tsanalysis.connect()`` returns a :class:`Workspace`. The notebooks' panels and the
command line are thin layers over it; every operation goes through the one store.

The pattern: a session's rows go in and come out through methods of the workspace itself
(``ingest``, ``import_file``, ``import_bundle``, ``migrate_legacy``, ``demo``; ``read``,
``ticks``, ``orderbook``, ``ohlcv``, ``build_bars``, ``sql``; ``delete``, ``audit``); each feature is a namespace
with verbs: ``ws.sessions`` (create, get, list, delete, purge), ``ws.indicators``
(compute, history, update, catalog), ``ws.quality`` (run, catalog), ``ws.export`` (run,
catalog), ``ws.backtests`` (run, grid, list, show, equity, trades, delete, catalog). The spellings of earlier releases (``ws.create_session``, ``ws.quality(sid)``,
...) still work and warn with a ``DeprecationWarning``; they go in the next release.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from . import bars as _bars
from . import demo as _demo
from . import readers, schema
from .deleting import (
    GRACE_ENV,
    SelectiveDeleteResult,
    delete_selection,
    in_grace,
    record,
    select,
)
from .deleting import audit as audit_trail
from .deleting import restore as restore_rows
from .deprecation import deprecated
from .errors import InvalidInput, SessionActive, SessionNotFound
from .ids import check_symbol
from .ingest import Ingestor, IngestResult, ingest_frame
from .migrate import DEFAULT_BATCH_ROWS, MigrationStats, migrate_legacy
from .migrate.runner import OnFile
from .sessions import DATA_TYPES, DeleteResult, SessionInfo, Sessions
from .store import Store, open_store
from .store.base import Progress, PurgeReport

if TYPE_CHECKING:
    from .backtest import Backtests
    from .export import BundleImportResult, Export
    from .indicators import Indicators
    from .quality import Quality

log = logging.getLogger(__name__)

class Workspace:
    """A store and its sessions.

    >>> ws = tsanalysis.connect()                 # the default DuckDB file
    >>> sid = ws.demo(hours=1).session_id         # a demo session to play with
    >>> ws.ticks(sid, "BTC/USDT").head()
    >>> ws.sessions.list()                        # features are namespaces with verbs:
    >>> ws.indicators.compute(sid, "BTC/USDT", "rsi")
    >>> ws.quality.run(sid).score
    >>> ws.export.run(sid, "parquet", "ticks.parquet")
    """

    def __init__(self, store: Store):
        self.store = store
        self.sessions = Sessions(store)

    # -- basics -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.store.url

    @property
    def backend(self) -> str:
        return self.store.backend

    def close(self) -> None:
        """Release the store's connections (the workspace can be used again)."""
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.backend} {self.url}>"

    # -- ingestion --------------------------------------------------------------------

    def ingest(self, session_id: str, symbol: str, data: pd.DataFrame | pa.Table,
               kind: str = "ticks", **options: Any) -> IngestResult:
        """Validate and store rows of ``kind`` (ticks, orderbook, ohlcv) from a frame.

        Options: ``columns`` (schema name -> input column), ``ts_unit`` for epoch numbers,
        ``interval`` for bars, ``skip_invalid``, ``progress``. Invalid rows raise
        :class:`~tsanalysis.errors.InvalidRows` and nothing is written, unless
        ``skip_invalid``. See :mod:`tsanalysis.ingest` for the rules.
        """
        self._before_write(session_id, symbol)
        try:
            result = ingest_frame(self.store, session_id, symbol, data, kind, **options)
            self._after_write(session_id, symbol, kind, result)
            return result
        finally:
            self.sessions.notify("data", session_id)

    def import_file(self, session_id: str, path: str | os.PathLike[str], symbol: str,
                    kind: str = "ticks", *, fmt: str | None = None,
                    **options: Any) -> IngestResult:
        """Validate and store a CSV or Parquet file, read in bounded chunks."""
        fmt = fmt or readers.detect_format(path)
        chunks = lambda: readers.iter_file(path, fmt)  # noqa: E731 - re-readable source
        total = readers.count_rows(path, fmt)
        self._before_write(session_id, symbol)
        try:
            ing = Ingestor(self.store, session_id, symbol, kind, source=str(path), **options)
            result = ing.run_file(path, fmt, chunks, total_rows=total)
            self._after_write(session_id, symbol, kind, result)
            return result
        finally:
            self.sessions.notify("data", session_id)

    def _before_write(self, session_id: str, symbol: str) -> None:
        check_symbol(symbol)
        self.sessions.get(session_id, stats=False)  # SessionNotFound before any work

    def _after_write(self, session_id: str, symbol: str, kind: str,
                     result: IngestResult) -> None:
        # The session's record changes only when its rows do: a refused or empty import
        # leaves its symbols and data types as they were.
        if result.rows_written:
            self.sessions.add_symbols(session_id, [symbol], _data_type(kind))

    # -- deleting ---------------------------------------------------------------------

    def delete(self, session_id: str, *, tables: str | Sequence[str] | None = None,
               symbols: str | Sequence[str] | None = None,
               indicator_ids: str | Sequence[str] | None = None,
               backtest_ids: str | Sequence[str] | None = None, start: Any = None,
               end: Any = None, dry_run: bool = False, force: bool = False,
               grace: Any = None, progress: Progress | None = None
               ) -> SelectiveDeleteResult:
        """Delete a session's rows restricted by any combination of tables, symbols,
        indicator ids, backtest ids and a time range ``[start, end)``; return the rows
        removed per table. With no restriction, the whole session (session row
        included, as :meth:`Sessions.delete`).

        ``dry_run`` counts exactly what the real run removes and changes nothing. An
        unknown session raises ``SessionNotFound``; an active one ``SessionActive`` unless
        ``force``; unknown tables, ids the session does not store, or an end before the
        start ``InvalidInput``, all before anything changes. Every delete (dry runs too) is
        recorded in the audit trail (:meth:`audit`). See :mod:`tsanalysis.deleting`.

        ``grace`` (``"24h"``; default ``$TSANALYSIS_DELETE_GRACE``, else none) hides the
        selected rows at once and removes them only once it has passed (at the next
        delete or purge); :meth:`restore` brings them back until then. It applies to
        deletes of less than a session.
        """
        explicit = grace is not None
        if grace is None and os.environ.get(GRACE_ENV):
            grace = os.environ[GRACE_ENV]
        sel = select(session_id, tables=tables, symbols=symbols, indicator_ids=indicator_ids,
                     backtest_ids=backtest_ids, start=start, end=end)
        if sel.whole_session and explicit:
            raise InvalidInput("a grace period applies to deletes of less than a session; "
                               "export the session (format zip) to keep a way back")
        if sel.whole_session and not dry_run:  # Sessions.delete checks what follows
            res = self.sessions.delete(session_id, force=force, progress=progress)
            return SelectiveDeleteResult(session_id, {}, res.deleted, False,
                                         deferred=res.deferred)
        if sel.whole_session:
            rows = self.store.count_rows(session_id)
            found = self.store.session_rows(session_id)
            if found.empty and not any(rows.values()):
                raise SessionNotFound(session_id)  # no session row, and no orphan rows
            if not found.empty and found.iloc[0]["status"] == "active" and not force:
                raise SessionActive(session_id)
            record(self.store, "delete", session_id, {}, rows, True, 0.0)
            return SelectiveDeleteResult(session_id, {}, rows, True)
        try:
            return delete_selection(self.store, sel, dry_run=dry_run, force=force,
                                    grace=grace)
        finally:
            if not dry_run:
                self.sessions.notify("data", session_id)

    def restore(self, session_id: str, delete_id: str | None = None) -> dict[str, int]:
        """Bring back the rows of the session's deletes still in their grace period (or of
        the one ``delete_id``, the ``action_id`` a delete returns); rows per table."""
        try:
            return restore_rows(self.store, session_id, delete_id)
        finally:
            self.sessions.notify("data", session_id)

    def in_grace(self, session_id: str | None = None) -> pd.DataFrame:
        """Deletes whose rows can still be restored: delete id, session, until when."""
        return in_grace(self.store, session_id)

    def audit(self, session_id: str | None = None) -> pd.DataFrame:
        """Every delete and purge recorded in this store (one session's if given), oldest
        first: when, what selection, rows per table, duration, backend, user, command."""
        return audit_trail(self.store, session_id)

    # -- reading ----------------------------------------------------------------------

    def read(self, table: str, session_id: str, symbol: str | Sequence[str] | None = None,
             **filters: Any) -> pd.DataFrame:
        """Rows of one table for a session (``start``, ``end``, ``columns``, ``limit``,
        ``offset`` and ``filters`` are pushed down to the database)."""
        self.sessions.get(session_id, stats=False)
        symbols = [symbol] if isinstance(symbol, str) else symbol
        return self.store.read(table, session_id, symbols=symbols, **filters)

    def ticks(self, session_id: str, symbol: str | Sequence[str] | None = None,
              **filters: Any) -> pd.DataFrame:
        """Trades of a session, ordered by (symbol, ts, seq)."""
        return self.read(schema.TICK_PRICES.name, session_id, symbol, **filters)

    def orderbook(self, session_id: str, symbol: str | Sequence[str] | None = None,
                  **filters: Any) -> pd.DataFrame:
        """Top-of-book quotes of a session."""
        return self.read(schema.TICK_ORDERBOOK.name, session_id, symbol, **filters)

    def ohlcv(self, session_id: str, symbol: str | Sequence[str] | None = None,
              interval: str = "1m", *, build: bool = True, **filters: Any) -> pd.DataFrame:
        """Bars at ``interval``: the stored ones, or built from ticks when none is stored."""
        symbols = [symbol] if isinstance(symbol, str) else symbol
        stored = self.read(schema.AGGREGATED_OHLCV.name, session_id, symbols,
                           filters={"interval": interval}, **filters)
        if len(stored) or not build:
            return stored
        return _bars.build_bars(self.store, session_id, interval, symbols, persist=False,
                                start=filters.get("start"), end=filters.get("end"))

    def build_bars(self, session_id: str, interval: str,
                   symbols: Sequence[str] | None = None, *, persist: bool = True,
                   **span: Any) -> pd.DataFrame:
        """Build OHLCV bars from ticks in the database; store them unless ``persist=False``."""
        self.sessions.get(session_id, stats=False)
        out = _bars.build_bars(self.store, session_id, interval, symbols, persist=persist,
                               **span)
        if persist:
            self.sessions.add_symbols(session_id, list(out["symbol"].unique()) or
                                      self.sessions.get(session_id).symbols, "ohlcv")
            self.sessions.notify("data", session_id)
        return out

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Plain SQL against the store (parameters bound, never interpolated)."""
        return self.store.sql(query, params)

    # -- demo -------------------------------------------------------------------------

    def demo(self, session_id: str | None = None, symbols: Sequence[str] = _demo.DEFAULT_SYMBOLS,
             hours: float = 4.0, seed: int = 42, *, start: Any = _demo.DEFAULT_START,
             defects: bool = True, bar_intervals: Sequence[str] = ("1m",),
             progress: Progress | None = None) -> SessionInfo:
        """Write a completed demo session (see :mod:`tsanalysis.demo`) and return it.

        The injected defects are in ``info.metadata["demo"]["defects"]``.
        """
        data = _demo.generate(symbols, hours, seed, start, defects)
        info = self.sessions.create(list(data.ticks), session_id, prefix="demo",
                                    data_types=["ticks", "orderbook", "ohlcv"], cadence_s=1.0,
                                    notes=f"demo session (seed {seed}, {hours} h)",
                                    metadata={"demo": data.manifest()}, start_time=data.start)
        sid = info.session_id
        total = sum(len(f) for f in data.ticks.values()) * 2
        done = 0
        try:
            for sym in data.ticks:
                ingest_frame(self.store, sid, sym, data.ticks[sym], "ticks")
                done += len(data.ticks[sym])
                if progress:
                    progress(done, total)
                ingest_frame(self.store, sid, sym, data.quotes[sym], "orderbook")
                done += len(data.quotes[sym])
                if progress:
                    progress(done, total)
            for interval in bar_intervals:
                _bars.build_bars(self.store, sid, interval)
        except BaseException:
            self.sessions.fail(sid, "demo generation interrupted")
            raise
        self.sessions.notify("data", sid)
        return self.sessions.complete(sid)

    # -- export and import back ---------------------------------------------------------

    @functools.cached_property
    def export(self) -> Export:
        """Write sessions to files, list the formats: see :class:`tsanalysis.export.Export`."""
        from .export import Export

        return Export(self)

    def import_bundle(self, path: str | os.PathLike[str], session_id: str | None = None, *,
                      progress: Progress | None = None) -> BundleImportResult:
        """Restore a session from a ``zip`` export (under ``session_id`` if given); see
        :func:`tsanalysis.export.import_bundle`."""
        from .export import import_bundle

        return import_bundle(self.store, path, session_id, progress=progress,
                             on_created=lambda sid: self.sessions.notify("created", sid))

    def import_file_by_symbol(self, session_id: str, path: str | os.PathLike[str],
                              kind: str = "ticks", *, fmt: str | None = None,
                              **options: Any) -> list[IngestResult]:
        """Import a file holding several symbols (a one-table export): each row goes to
        the symbol in its ``symbol`` column. One result a symbol."""
        from .export.reimport import import_by_symbol

        self.sessions.get(session_id, stats=False)
        try:
            return import_by_symbol(
                self.store, session_id, path, kind, fmt=fmt,
                before_write=lambda syms: self.sessions.add_symbols(
                    session_id, syms, _data_type(kind)), **options)
        finally:
            self.sessions.notify("data", session_id)

    # -- migration (legacy CSV layout) -----------------------------------------------

    def migrate_legacy(self, data_dir: str | os.PathLike[str], *, dry_run: bool = False,
                       sessions: Sequence[str] | None = None,
                       symbols: Sequence[str] | None = None,
                       batch_size: int = DEFAULT_BATCH_ROWS, skip_errors: bool = False,
                       progress: Progress | None = None,
                       on_file: OnFile | None = None,
                       follow_links: bool = False) -> MigrationStats:
        """Migrate a legacy CSV tree into this store; return its ``MigrationStats``.

        ``dry_run`` reads and validates everything and writes nothing (its figures are the
        real run's). ``sessions``/``symbols`` narrow the tree; ``batch_size`` rows are read
        at a time; ``skip_errors`` writes the valid rows of files with bad rows.
        ``progress(done, total)`` follows the rows, ``on_file(FileResult)`` each file.
        Re-runs skip what is already migrated. Symbolic links leading outside the tree are
        refused unless ``follow_links``. See :mod:`tsanalysis.migrate`.
        """
        return migrate_legacy(self.sessions, data_dir, dry_run=dry_run, follow_links=follow_links,
                              session_ids=list(sessions) if sessions else None,
                              symbols=list(symbols) if symbols else None,
                              batch_size=batch_size,
                              skip_errors=skip_errors, progress=progress, on_file=on_file)

    # -- indicators ----------------------------------------------------------------------

    @functools.cached_property
    def indicators(self) -> Indicators:
        """Compute, store, read and update indicators: see :mod:`tsanalysis.indicators`."""
        from .indicators import Indicators

        return Indicators(self)

    @functools.cached_property
    def quality(self) -> Quality:
        """Assess sessions, list the checks: see :class:`tsanalysis.quality.Quality`."""
        from .quality import Quality

        return Quality(self)

    @functools.cached_property
    def backtests(self) -> Backtests:
        """Run strategies, read and delete runs: see :class:`tsanalysis.backtest.Backtests`."""
        from .backtest import Backtests

        return Backtests(self)

    # -- the spellings of earlier releases ---------------------------------------------

    def create_session(self, symbols: list[str] | str, session_id: str | None = None,
                       **fields: Any) -> SessionInfo:
        """Deprecated: ``ws.sessions.create``."""
        deprecated("ws.create_session(...)", "ws.sessions.create(...)")
        return self.sessions.create(symbols, session_id, **fields)

    def session(self, session_id: str) -> SessionInfo:
        """Deprecated: ``ws.sessions.get``."""
        deprecated("ws.session(id)", "ws.sessions.get(id)")
        return self.sessions.get(session_id)

    def list_sessions(self) -> list[SessionInfo]:
        """Deprecated: ``ws.sessions.list``."""
        deprecated("ws.list_sessions()", "ws.sessions.list()")
        return self.sessions.list()

    def delete_session(self, session_id: str, *, force: bool = False,
                       progress: Progress | None = None) -> DeleteResult:
        """Deprecated: ``ws.sessions.delete``."""
        deprecated("ws.delete_session(...)", "ws.sessions.delete(...)")
        return self.sessions.delete(session_id, force=force, progress=progress)

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Deprecated: ``ws.sessions.purge``."""
        deprecated("ws.purge(...)", "ws.sessions.purge(...)")
        return self.sessions.purge(dry_run=dry_run, progress=progress)

    def export_formats(self) -> dict[str, str]:
        """Deprecated: ``ws.export.catalog()``."""
        deprecated("ws.export_formats()", "ws.export.catalog()")
        from .export import exporters

        return {name: e.doc for name, e in exporters().items()}


def connect(url: str | os.PathLike[str] | None = None, **options: Any) -> Workspace:
    """Open a workspace on a store.

    ``url``: ``duckdb:///abs/path/file.duckdb``, ``questdb://user:pass@host:8812/qdb``, a
    path ending in ``.duckdb``, or None for ``$TSANALYSIS_DB`` or the default file
    (:func:`tsanalysis.store.default_db_path`).
    """
    return Workspace(open_store(url, **options))


def _data_type(kind: str) -> str | None:
    """The data type a session records for rows of an ingestion ``kind`` (the same word)."""
    return kind if kind in DATA_TYPES else None
