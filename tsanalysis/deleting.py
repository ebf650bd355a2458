"""Deleting less than a session: one predicate, a dry run with exact counts, the audit.

A :class:`Selection` names a session's rows by any combination of tables, symbols,
indicator ids, backtest ids and a time range ``[start, end)``. :func:`delete_selection`
counts them (a dry run changes nothing and reports what the real run removes), then
removes them through :meth:`Store.delete_rows`: on DuckDB in one transaction; on QuestDB
by relabelling the matching rows in commit order (rows outside the selection, in the same
partitions, are not touched; the next purge reclaims the disk). A selection with no
restriction is the whole session, session row included (:meth:`Sessions.delete`).

Every delete and purge, dry runs included, is appended to the audit table
(``schema.AUDIT``, :func:`record`) and logged with the same fields.
"""

from __future__ import annotations

import contextvars
import getpass
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import schema
from .errors import InvalidInput, SessionActive, SessionNotFound
from .ids import check_session_id, check_symbols, grace_label
from .redact import mask_passwords
from .store.base import Store
from .timeutil import iso, parse_duration, to_utc

log = logging.getLogger(__name__)

#: The default grace period of selective deletes (``24h``); none when unset.
GRACE_ENV = "TSANALYSIS_DELETE_GRACE"

#: The restrictions that name values of one column, and that column.
_ID_COLUMNS = {"indicator_ids": "indicator_id", "backtest_ids": "backtest_id"}


def _tuple(values: str | Sequence[str] | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)


@dataclass(frozen=True)
class Selection:
    """Rows of one session: in ``tables`` (all child tables when empty), of ``symbols``,
    with these ``indicator_ids`` / ``backtest_ids``, with ``start <= ts < end``."""

    session_id: str
    tables: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    indicator_ids: tuple[str, ...] = ()
    backtest_ids: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    @property
    def whole_session(self) -> bool:
        """No restriction: the session and everything that hangs off it."""
        return not (self.tables or self.symbols or self.indicator_ids or self.backtest_ids
                    or self.start is not None or self.end is not None)

    def filters(self) -> dict[str, list[str]]:
        return {col: list(getattr(self, name)) for name, col in _ID_COLUMNS.items()
                if getattr(self, name)}

    def to_dict(self) -> dict[str, Any]:
        return {"tables": list(self.tables), "symbols": list(self.symbols),
                "indicator_ids": list(self.indicator_ids),
                "backtest_ids": list(self.backtest_ids), "start": iso(self.start),
                "end": iso(self.end)}

    def describe(self) -> str:
        parts = [f"{k}={','.join(v) if isinstance(v, list) else v}"
                 for k, v in self.to_dict().items() if v]
        return f"session {self.session_id}" + (f" ({'; '.join(parts)})" if parts else "")


def select(session_id: str, *, tables: str | Sequence[str] | None = None,
           symbols: str | Sequence[str] | None = None,
           indicator_ids: str | Sequence[str] | None = None,
           backtest_ids: str | Sequence[str] | None = None, start: Any = None,
           end: Any = None) -> Selection:
    """A checked :class:`Selection` (bad tables, ids or times raise ``InvalidInput``).

    Without ``tables``, a restriction by indicator or backtest ids selects the tables
    that have those columns; with ``tables``, each must have them.
    """
    check_session_id(session_id)
    names = _tuple(tables)
    child = {t.name: t for t in schema.CHILD_TABLES}
    unknown = [n for n in names if n not in child]
    if unknown:
        raise InvalidInput(f"unknown table(s) {', '.join(map(repr, unknown))}; tables: "
                           f"{', '.join(child)}")
    given = {"indicator_ids": _tuple(indicator_ids), "backtest_ids": _tuple(backtest_ids)}
    restricted = [col for name, col in _ID_COLUMNS.items() if given[name]]
    if not names and restricted:
        names = tuple(t.name for t in schema.CHILD_TABLES
                      if all(t.has_column(c) for c in restricted))
        if not names:
            raise InvalidInput("no table has both indicator ids and backtest ids: delete "
                               "them in two calls")
    for n in names:
        lacking = [c for c in restricted if not child[n].has_column(c)]
        if lacking:
            raise InvalidInput(f"{n} has no {' or '.join(lacking)} column: leave it out of "
                               "the tables, or drop that restriction")
    lo = to_utc(start, "start") if start is not None else None
    hi = to_utc(end, "end") if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput(f"end ({iso(hi)}) must be after start ({iso(lo)})")
    syms = tuple(check_symbols(list(_tuple(symbols)))) if symbols else ()
    return Selection(session_id, tuple(dict.fromkeys(names)), syms,
                     given["indicator_ids"], given["backtest_ids"], lo, hi)


@dataclass
class SelectiveDeleteResult:
    """Rows removed (or, for a dry run, that would be) per table."""

    session_id: str
    selection: dict[str, Any]
    deleted: dict[str, int]
    dry_run: bool = False
    action_id: str = ""
    #: Work left for a purge (QuestDB: the disk of relabelled rows, deferred days).
    deferred: list[str] = field(default_factory=list)
    #: A delete with a grace period: its rows can be restored until then.
    grace_until: pd.Timestamp | None = None

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        d = {"session_id": self.session_id, "selection": self.selection,
             "deleted": dict(self.deleted), "total": self.total, "dry_run": self.dry_run,
             "action_id": self.action_id}
        if self.deferred:
            d["deferred"] = list(self.deferred)
        if self.grace_until is not None:
            d["grace_until"] = iso(self.grace_until)
        return d


def _stored(store: Store, sel: Selection) -> None:
    """Refuse ids the session does not store (naming the ones it does)."""
    if sel.indicator_ids:
        # One count per id (an index lookup); the stored ids are listed only for the error.
        missing = [i for i in sel.indicator_ids if not store.count(
            schema.INDICATORS.name, sel.session_id, filters={"indicator_id": i})]
        if missing:
            stored = set(store.indicator_stats(sel.session_id)["indicator_id"])
            raise InvalidInput(f"indicator id(s) {', '.join(missing)} not stored in session "
                               f"{sel.session_id!r} (stored: "
                               f"{', '.join(sorted(stored)[:20]) or 'none'})")
    if sel.backtest_ids:
        found = store.read(schema.BACKTEST_RESULTS.name, sel.session_id, columns=["backtest_id"],
                           filters={"backtest_id": list(sel.backtest_ids), "kind": "run"})
        missing = [b for b in sel.backtest_ids if b not in set(found["backtest_id"])]
        if missing:
            runs = store.read(schema.BACKTEST_RESULTS.name, sel.session_id,
                              columns=["backtest_id"], filters={"kind": "run"})
            raise InvalidInput(f"backtest id(s) {', '.join(missing)} not stored in session "
                               f"{sel.session_id!r} (stored: "
                               f"{', '.join(list(runs['backtest_id'])[:20]) or 'none'})")


def targets(sel: Selection) -> list[schema.Table]:
    """The tables the selection reaches, in cascade order (children first)."""
    names = set(sel.tables) or {t.name for t in schema.CHILD_TABLES}
    return [t for t in schema.CHILD_TABLES if t.name in names]


def count(store: Store, sel: Selection) -> dict[str, int]:
    """Rows the selection matches now, per table."""
    flt = sel.filters()
    return {t.name: store.count(t.name, sel.session_id, symbols=list(sel.symbols) or None,
                                start=sel.start, end=sel.end,
                                filters={c: v for c, v in flt.items() if t.has_column(c)})
            for t in targets(sel)}


def preview(store: Store, sel: Selection) -> dict[str, int]:
    """What a delete of ``sel`` would remove now, per table (ids checked; no audit)."""
    if sel.whole_session:
        return store.count_rows(sel.session_id)
    _stored(store, sel)
    return count(store, sel)


def delete_selection(store: Store, sel: Selection, *, dry_run: bool = False,
                     force: bool = False, grace: Any = None,
                     command: str | None = None) -> SelectiveDeleteResult:
    """Delete (or count, for ``dry_run``) the rows of a selection; record it in the audit.

    ``grace`` (``"24h"``, seconds, a timedelta): hide the rows at once and remove them
    only when it has passed (:func:`expire_due`); :func:`restore` brings them back until
    then. Raises ``SessionNotFound``, ``SessionActive`` (unless ``force``) and
    ``InvalidInput`` (ids the session does not store) before anything changes. A
    whole-session selection is for :meth:`Sessions.delete`; this refuses it.
    """
    if sel.whole_session:
        raise InvalidInput("no restriction given: deleting a whole session is "
                           "ws.sessions.delete (tsanalysis sessions delete)")
    grace_s = parse_duration(grace, "grace period") if grace is not None else None
    rows = store.session_rows(sel.session_id)
    if rows.empty:
        raise SessionNotFound(sel.session_id)
    if rows.iloc[0]["status"] == "active" and not force:
        raise SessionActive(sel.session_id)
    _stored(store, sel)
    if not dry_run:
        expire_due(store)  # the next delete ends the grace periods that have passed
    t0 = time.perf_counter()
    action = uuid.uuid4().hex[:16]
    until = now() + pd.Timedelta(seconds=grace_s) if grace_s and not dry_run else None
    if dry_run:
        deleted = count(store, sel)
    else:
        flt = sel.filters()
        deleted = {}
        with store.atomic():
            if until is not None:
                # Recorded before the rows move: a delete killed part-way is still found
                # by restore and by expiry, which finish it for every table (on DuckDB the
                # record and the moves commit together).
                record(store, "delete", sel.session_id, sel.to_dict(), count(store, sel),
                       False, 0.0, command, action, grace_until=until)
            for t in targets(sel):
                where = {"symbols": list(sel.symbols) or None, "start": sel.start,
                         "end": sel.end,
                         "filters": {c: v for c, v in flt.items() if t.has_column(c)} or None}
                deleted[t.name] = (
                    store.move_rows(t.name, sel.session_id, grace_label(action), **where)
                    if until is not None else store.delete_rows(t.name, sel.session_id,
                                                                **where))
    result = SelectiveDeleteResult(sel.session_id, sel.to_dict(), deleted, dry_run, action,
                                   grace_until=until)
    if until is None:
        if store.backend == "questdb" and not dry_run and result.total:
            result.deferred.append("the disk of the deleted rows is reclaimed by the next "
                                   "`tsanalysis sessions purge --resume`")
        record(store, "delete", sel.session_id, sel.to_dict(), deleted, dry_run,
               time.perf_counter() - t0, command, action)
    return result


def now() -> pd.Timestamp:
    """The time grace periods are measured against (tests move it)."""
    return pd.Timestamp.now(tz="UTC")


def in_grace(store: Store, session_id: str | None = None) -> pd.DataFrame:
    """Deletes whose rows are kept for a grace period and not yet restored or expired:
    action_id (the delete id), session_id, grace_until, rows_per_table, selection."""
    trail = audit(store, None)
    if trail.empty:
        return trail
    ended = {r.get("delete_id") for r in trail.loc[
        trail["action"].isin(["restore", "expire"]), "selection"]}
    held = trail[(trail["action"] == "delete") & ~trail["dry_run"]
                 & trail["grace_until"].notna() & ~trail["action_id"].isin(ended)]
    if session_id is not None:
        held = held[held["session_id"] == session_id]
    return held[["action_id", "session_id", "grace_until", "rows_per_table",
                 "selection"]].reset_index(drop=True)


def _release(store: Store, entry: pd.Series, to: str | None) -> dict[str, int]:
    """Give a grace delete's rows back to ``to`` (a restore), or remove them (None)."""
    label = grace_label(entry["action_id"])
    out = {}
    with store.atomic():
        for t in schema.CHILD_TABLES:
            out[t.name] = (store.move_rows(t.name, label, to) if to is not None
                           else store.expire_rows(t.name, label))
    return {k: v for k, v in out.items() if v}


def restore(store: Store, session_id: str, delete_id: str | None = None,
            command: str | None = None) -> dict[str, int]:
    """Bring back the rows of a session's deletes still in their grace period (or of one,
    ``delete_id``); return rows restored per table. Raises ``InvalidInput`` when there is
    nothing to restore (naming what there is)."""
    check_session_id(session_id)
    if store.session_rows(session_id).empty:
        raise SessionNotFound(session_id)
    held = in_grace(store, session_id)
    t = now()
    if delete_id is not None:
        held = held[held["action_id"] == delete_id]
    live = held[held["grace_until"] > t]
    if live.empty:
        what = (f"delete {delete_id}" if delete_id else f"session {session_id}")
        raise InvalidInput(f"nothing to restore for {what}: no delete of it is in its "
                           "grace period (deleted rows without a grace period, or whose "
                           "grace has passed, are gone)")
    out: dict[str, int] = {}
    for _, entry in live.iterrows():
        t0 = time.perf_counter()
        rows = _release(store, entry, session_id)
        record(store, "restore", session_id, {"delete_id": entry["action_id"]}, rows, False,
               time.perf_counter() - t0, command)
        for k, v in rows.items():
            out[k] = out.get(k, 0) + v
    return out


def expire_due(store: Store, session_id: str | None = None, *, all_: bool = False
               ) -> dict[str, int]:
    """Remove for good the rows of grace periods that have passed (``all_``: every grace
    of ``session_id``, as when the session itself is deleted); return rows per table."""
    held = in_grace(store, session_id)
    if held.empty:
        return {}
    due = held if all_ else held[held["grace_until"] <= now()]
    out: dict[str, int] = {}
    for _, entry in due.iterrows():
        t0 = time.perf_counter()
        rows = _release(store, entry, None)
        record(store, "expire", entry["session_id"], {"delete_id": entry["action_id"]}, rows,
               False, time.perf_counter() - t0)
        for k, v in rows.items():
            out[k] = out.get(k, 0) + v
    return out


def record(store: Store, action: str, session_id: str | None, selection: dict[str, Any],
           rows: dict[str, int], dry_run: bool, duration_s: float,
           command: str | None = None, action_id: str | None = None, *,
           grace_until: pd.Timestamp | None = None) -> None:
    """Append an action to the audit table and log it with the same fields."""
    entry = {
        "ts": pd.Timestamp.now(tz="UTC"), "action_id": action_id or uuid.uuid4().hex[:16],
        "action": action, "session_id": session_id,
        "selection": json.dumps(selection, sort_keys=True),
        "rows_per_table": json.dumps(rows), "total_rows": int(sum(rows.values())),
        "dry_run": "yes" if dry_run else "no", "duration_s": round(duration_s, 6),
        "backend": store.backend, "os_user": _user(), "command": command or _command(),
        "grace_until": grace_until,
    }
    store.append_audit(entry)
    log.info("%s %s: %s rows%s", action, session_id or "", entry["total_rows"],
             " (dry run)" if dry_run else "", extra={"audit": entry})


def audit(store: Store, session_id: str | None = None) -> pd.DataFrame:
    """The audit trail (``schema.AUDIT``), oldest first, JSON columns decoded."""
    frame = store.audit_rows(session_id)
    for col in ("selection", "rows_per_table"):
        frame[col] = frame[col].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    frame["dry_run"] = frame["dry_run"] == "yes"
    return frame


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def _command() -> str:
    """The command line being run (set by the ``tsanalysis`` command), else the API."""
    return COMMAND.get() or "python API"


def command_line(args: Sequence[str]) -> str:
    """``tsanalysis ARGS`` as the audit keeps it: a password in a store URL is masked."""
    return mask_passwords(" ".join(["tsanalysis", *args]))


#: The command line the ``tsanalysis`` command is running, for the audit trail.
COMMAND: contextvars.ContextVar[str | None] = contextvars.ContextVar("tsanalysis_command",
                                                                     default=None)
