"""Session lifecycle: create, complete, fail, list, show, delete (with everything under it).

A session is the unit users think in: one recording of some symbols. Its row in
``data_collection_sessions`` carries the status (``active`` while recording, then
``completed`` or ``failed``); the child tables hold its data. Deleting a session removes
every row with its id from every table, children first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from .deleting import expire_due, record
from .errors import InvalidInput, SessionActive, SessionNotFound
from .ids import check_session_id, check_symbols, new_session_id
from .store.base import DeleteOutcome, Progress, PurgeReport, Store
from .timeutil import iso, to_utc
from .trading_hours import TradingHours

log = logging.getLogger(__name__)

ACTIVE, COMPLETED, FAILED = "active", "completed", "failed"
STATUSES = (ACTIVE, COMPLETED, FAILED)
#: What a session's record may list as its data types (``ticks`` for tick_prices, ...).
DATA_TYPES = ("ticks", "orderbook", "ohlcv", "indicators", "backtests")


@dataclass
class TableStats:
    """Rows and time range of one table (for one symbol, or all of them)."""

    rows: int = 0
    first_ts: pd.Timestamp | None = None
    last_ts: pd.Timestamp | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "first_ts": iso(self.first_ts), "last_ts": iso(self.last_ts)}


@dataclass
class SessionInfo:
    """A session: its metadata row plus, when asked for, row counts and time range."""

    session_id: str
    status: str
    symbols: list[str]
    data_types: list[str]
    created_at: pd.Timestamp
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None
    updated_at: pd.Timestamp | None = None
    cadence_s: float | None = None
    notes: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: rows per child table (None when stats were not asked for)
    rows: dict[str, int] | None = None
    #: per table and symbol: rows, first and last timestamp
    tables: dict[str, dict[str, TableStats]] | None = None

    @property
    def first_ts(self) -> pd.Timestamp | None:
        """Earliest timestamp in any child table."""
        firsts = [s.first_ts for t in (self.tables or {}).values() for s in t.values()
                  if s.first_ts is not None]
        return min(firsts) if firsts else None

    @property
    def last_ts(self) -> pd.Timestamp | None:
        """Latest timestamp in any child table."""
        lasts = [s.last_ts for t in (self.tables or {}).values() for s in t.values()
                 if s.last_ts is not None]
        return max(lasts) if lasts else None

    @property
    def total_rows(self) -> int:
        return sum((self.rows or {}).values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the shape of ``tsanalysis sessions show --json``)."""
        d: dict[str, Any] = {
            "session_id": self.session_id,
            "status": self.status,
            "symbols": self.symbols,
            "data_types": self.data_types,
            "created_at": iso(self.created_at),
            "start_time": iso(self.start_time),
            "end_time": iso(self.end_time),
            "updated_at": iso(self.updated_at),
            "cadence_s": self.cadence_s,
            "notes": self.notes,
            "metadata": self.metadata,
        }
        if self.rows is not None:
            d["rows"] = self.rows
            d["total_rows"] = self.total_rows
            d["first_ts"] = iso(self.first_ts)
            d["last_ts"] = iso(self.last_ts)
            d["tables"] = {t: {s: st.to_dict() for s, st in syms.items()}
                           for t, syms in (self.tables or {}).items()}
        return d


@dataclass
class DeleteResult:
    """Rows removed per table by a cascade delete (children first, the session row last)."""

    session_id: str
    deleted: dict[str, int]
    #: Work the backend could not finish yet (QuestDB: partitions an active session writes).
    deferred: list[str] = field(default_factory=list)
    #: Day partitions removed whole (QuestDB: ``"table YYYY-MM-DD"``, days the session had
    #: alone) rather than rewritten.
    dropped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"session_id": self.session_id, "deleted": dict(self.deleted),
                             "total": self.total}
        if self.deferred:
            d["deferred"] = list(self.deferred)
        if self.dropped:
            d["dropped_partitions"] = list(self.dropped)
        return d


Listener = Callable[[str, str | None], None]


class Sessions:
    """Sessions of one store, with a cache of their metadata and change notifications.

    Panels subscribe with :meth:`subscribe` and are told ``(event, session_id)`` after
    ``created``, ``changed``, ``data`` (rows written) and ``deleted``.
    """

    def __init__(self, store: Store):
        self.store = store
        self._cache: dict[str, SessionInfo] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()

    # -- notifications -------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, session_id)`` after every change; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def notify(self, event: str, session_id: str | None = None) -> None:
        """Invalidate cached metadata and tell the listeners."""
        self.invalidate(session_id)
        for listener in list(self._listeners):
            try:
                listener(event, session_id)
            except Exception:  # a broken panel must not break the operation
                log.exception("session listener failed on %s %s", event, session_id)

    def invalidate(self, session_id: str | None = None) -> None:
        """Forget cached metadata (of one session, or all)."""
        with self._lock:
            if session_id is None:
                self._cache.clear()
            else:
                self._cache.pop(session_id, None)

    # -- reading -------------------------------------------------------------------

    def exists(self, session_id: str) -> bool:
        check_session_id(session_id)
        return not self.store.session_rows(session_id).empty

    def get(self, session_id: str, *, stats: bool = True) -> SessionInfo:
        """One session (raises :class:`SessionNotFound`); ``stats`` adds counts and ranges."""
        check_session_id(session_id)
        with self._lock:
            cached = self._cache.get(session_id)
            if cached is not None and (cached.rows is not None or not stats):
                return cached
        rows = self.store.session_rows(session_id)
        if rows.empty:
            raise SessionNotFound(session_id)
        info = _info(rows.iloc[0])
        if stats:
            _attach_stats(info, self.store.table_stats([session_id]))
            with self._lock:
                self._cache[session_id] = info
        return info

    def list(self, *, stats: bool = True, status: str | None = None) -> list[SessionInfo]:
        """Every session, oldest first (``status`` narrows to one status)."""
        rows = self.store.session_rows()
        infos = [_info(r) for _, r in rows.iterrows()]
        if status is not None:
            infos = [i for i in infos if i.status == status]
        if stats and infos:
            all_stats = self.store.table_stats([i.session_id for i in infos])
            groups = dict(tuple(all_stats.groupby("session_id", sort=False)))
            for info in infos:
                _attach_stats(info, groups.get(info.session_id, all_stats.iloc[0:0]))
        return infos

    def frame(self) -> pd.DataFrame:
        """Every session as a table: id, status, symbols, rows per table, time range."""
        records = []
        for i in self.list():
            rec = {"session_id": i.session_id, "status": i.status,
                   "symbols": ", ".join(i.symbols), "first_ts": i.first_ts,
                   "last_ts": i.last_ts, "created_at": i.created_at}
            rec.update({t.name: (i.rows or {}).get(t.name, 0)
                        for t in reversed(schema.CHILD_TABLES)})
            records.append(rec)
        return pd.DataFrame.from_records(records)

    # -- lifecycle -----------------------------------------------------------------

    def create(self, symbols: list[str] | str, session_id: str | None = None, *,
               data_types: list[str] | None = None, notes: str | None = None,
               cadence_s: float | None = None, metadata: dict[str, Any] | None = None,
               status: str = ACTIVE, start_time: Any = None, prefix: str = "s",
               trading_hours: Any = None) -> SessionInfo:
        """Create a session (status ``active`` unless given) and return it.

        ``trading_hours`` declares when the market is open (text such as ``"17:00-16:00
        America/Chicago Mon-Fri"`` or a dict, see :mod:`tsanalysis.trading_hours`); the
        quality checks do not count its closures as gaps. Stored in the metadata.
        """
        syms = check_symbols(symbols)
        metadata = dict(metadata or {})
        if trading_hours is not None:
            metadata["trading_hours"] = trading_hours
        if metadata.get("trading_hours") is not None:
            metadata["trading_hours"] = TradingHours.parse(metadata["trading_hours"]).to_dict()
        sid = check_session_id(session_id) if session_id else new_session_id(prefix)
        if status not in STATUSES:
            raise InvalidInput(f"invalid status {status!r}: one of {', '.join(STATUSES)}")
        if cadence_s is not None and not (np.isfinite(cadence_s) and cadence_s > 0):
            raise InvalidInput(f"cadence_s must be a positive number, not {cadence_s!r}")
        if not self.store.session_rows(sid).empty:
            raise InvalidInput(f"session {sid!r} already exists")
        now = pd.Timestamp.now(tz="UTC").as_unit("us")
        record = {
            "session_id": sid,
            "status": status,
            "symbols": ",".join(syms),
            "data_types": ",".join(data_types or []),
            "start_time": to_utc(start_time, "start_time") if start_time is not None else now,
            "end_time": None,
            "created_at": now,
            "updated_at": now,
            "cadence_s": cadence_s,
            "notes": notes,
            "metadata": json.dumps(metadata or {}, default=str),
        }
        self.store.insert_session(record)
        self.notify("created", sid)
        return self.get(sid, stats=False)

    def _set(self, session_id: str, **fields: Any) -> None:
        fields["updated_at"] = pd.Timestamp.now(tz="UTC").as_unit("us")
        self.store.update_session(session_id, fields)
        self.notify("changed", session_id)

    def set_trading_hours(self, session_id: str, trading_hours: Any) -> SessionInfo:
        """Declare (or, with None, forget) when the session's market is open: text such as
        ``"17:00-16:00 America/Chicago Mon-Fri closed 2026-01-19"`` or a dict (see
        :mod:`tsanalysis.trading_hours`). Gaps inside its closures are ``info`` in the
        quality report and do not count against completeness."""
        info = self.get(session_id, stats=False)
        metadata = dict(info.metadata)
        if trading_hours is None:
            metadata.pop("trading_hours", None)
        else:
            metadata["trading_hours"] = TradingHours.parse(trading_hours).to_dict()
        self._set(session_id, metadata=json.dumps(metadata, default=str))
        return self.get(session_id)

    def complete(self, session_id: str) -> SessionInfo:
        """Mark a session completed (idempotent); its end time becomes its last row's."""
        info = self.get(session_id)
        if info.status == FAILED:
            raise InvalidInput(f"session {session_id!r} failed; it cannot be completed")
        if info.status == ACTIVE:
            end = info.last_ts or pd.Timestamp.now(tz="UTC").as_unit("us")
            self._set(session_id, status=COMPLETED, end_time=end)
        return self.get(session_id)

    def fail(self, session_id: str, reason: str | None = None) -> SessionInfo:
        """Mark a session failed, keeping its data; ``reason`` is appended to its notes."""
        info = self.get(session_id)
        notes = info.notes
        if reason:
            notes = f"{notes}\n{reason}" if notes else reason
        self._set(session_id, status=FAILED, notes=notes,
                  end_time=info.last_ts or pd.Timestamp.now(tz="UTC").as_unit("us"))
        return self.get(session_id)

    def add_symbols(self, session_id: str, symbols: list[str], data_type: str | None = None
                    ) -> None:
        """Record symbols (and a data type) as part of the session, if not already."""
        info = self.get(session_id, stats=False)
        syms = info.symbols + [s for s in check_symbols(symbols) if s not in info.symbols]
        types = info.data_types + ([data_type] if data_type and data_type not in
                                   info.data_types else [])
        if syms != info.symbols or types != info.data_types:
            self._set(session_id, symbols=",".join(syms), data_types=",".join(types))

    def delete(self, session_id: str, *, force: bool = False,
               progress: Progress | None = None) -> DeleteResult:
        """Delete a session and every row that hangs off it.

        Raises :class:`SessionNotFound` for an unknown id and :class:`SessionActive` for a
        session still recording, unless ``force``. Returns rows removed per table, children
        first, the session row last. Cached metadata is invalidated and listeners told.

        Rows whose session row is gone (orphans: written by an older version, or by a
        program that is not tsanalysis) are deleted too: an id that only they carry is
        not "not found".
        """
        check_session_id(session_id)
        rows = self.store.session_rows(session_id)
        if rows.empty:
            return self._delete_orphans(session_id)
        if rows.iloc[0]["status"] == ACTIVE and not force:
            raise SessionActive(session_id)
        t0 = time.perf_counter()
        expire_due(self.store, session_id, all_=True)  # its rows in a grace period go too
        outcome = self.store.delete_session(session_id, progress=progress)
        if isinstance(outcome, DeleteOutcome):
            result = DeleteResult(session_id, dict(outcome.deleted), list(outcome.deferred),
                                  list(outcome.dropped))
        else:
            result = DeleteResult(session_id, dict(outcome))
        record(self.store, "delete", session_id, {}, result.deleted, False,
               time.perf_counter() - t0)
        self.notify("deleted", session_id)
        log.info("deleted session %s: %s rows", session_id, result.total)
        return result

    def _delete_orphans(self, session_id: str) -> DeleteResult:
        counts = {t: n for t, n in self.store.count_rows(session_id).items()
                  if n and t != schema.SESSIONS.name}
        if not counts:
            raise SessionNotFound(session_id)
        t0 = time.perf_counter()
        with self.store.atomic():
            deleted = {t: self.store.delete_rows(t, session_id) for t in counts}
        record(self.store, "delete", session_id, {"orphans": True}, deleted, False,
               time.perf_counter() - t0)
        self.notify("deleted", session_id)
        log.info("deleted %s orphan rows of %s (no session row)", sum(deleted.values()),
                 session_id)
        return DeleteResult(session_id, deleted)

    def purge(self, *, dry_run: bool = False, progress: Progress | None = None) -> PurgeReport:
        """Finish removing deleted sessions: interrupted deletes, and disk space a QuestDB
        delete left to reclaim. ``dry_run`` lists the pending work and changes nothing.
        See :meth:`Store.purge`.
        """
        t0 = time.perf_counter()
        if not dry_run:
            expire_due(self.store)  # grace periods that have passed end here
        report = self.store.purge(dry_run=dry_run, progress=progress)
        if not dry_run:
            rows: dict[str, int] = {}
            for per_table in report.purged.values():
                for table, n in per_table.items():
                    rows[table] = rows.get(table, 0) + n
            rows.update({f"{t} (reclaimed)": n for t, n in report.reclaimed.items()})
            record(self.store, "purge", None, {}, rows, False, time.perf_counter() - t0)
            self.notify("purged")
        return report


def _none(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def _split(v: Any) -> list[str]:
    v = _none(v)
    return [s for s in str(v).split(",") if s] if v else []


def _info(row: pd.Series) -> SessionInfo:
    meta_text = _none(row.get("metadata"))
    try:
        meta = json.loads(meta_text) if meta_text else {}
    except ValueError:
        meta = {"raw": meta_text}
    cad = _none(row.get("cadence_s"))
    return SessionInfo(
        session_id=row["session_id"],
        status=row["status"],
        symbols=_split(row.get("symbols")),
        data_types=_split(row.get("data_types")),
        created_at=row["created_at"],
        start_time=_none(row.get("start_time")),
        end_time=_none(row.get("end_time")),
        updated_at=_none(row.get("updated_at")),
        cadence_s=float(cad) if cad is not None else None,
        notes=_none(row.get("notes")),
        metadata=meta,
    )


def _attach_stats(info: SessionInfo, stats: pd.DataFrame) -> None:
    info.rows = {t.name: 0 for t in reversed(schema.CHILD_TABLES)}
    info.tables = {}
    for r in stats.itertuples(index=False):
        info.rows[r.table] = info.rows.get(r.table, 0) + int(r.rows)
        info.tables.setdefault(r.table, {})[r.symbol] = TableStats(
            int(r.rows), _none(r.first_ts), _none(r.last_ts))
