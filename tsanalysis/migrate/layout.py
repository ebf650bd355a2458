"""Discovery: what a legacy tree holds, as a plan of sessions and files (filesystem only).

The legacy layout::

    DATA_DIR/{session_id}/session_metadata.json
    DATA_DIR/{session_id}/{symbol_dir}/tick_prices.csv      timestamp, price, volume
    DATA_DIR/{session_id}/{symbol_dir}/orderbook.csv        timestamp, bid_price, bid_size,
                                                             ask_price, ask_size (optional)
    DATA_DIR/{session_id}/{symbol_dir}/indicators/{variant_type}_{variant_id}.csv
                                                             timestamp, value, confidence

Mapping to the store:

- the session id is the metadata's ``session_id``, else the directory's name;
- ``symbol_dir`` is the symbol with ``/`` replaced by ``_``; the metadata's ``symbols`` give
  the real name (``BTC_USDT`` -> ``BTC/USDT``). A directory the metadata does not name keeps
  its own name as the symbol (``_`` is not turned back into ``/``: that would be a guess);
- ``tick_prices.csv`` -> ``tick_prices``, ``orderbook.csv`` -> ``tick_orderbook``,
  ``indicators/X.csv`` -> ``indicators`` with ``indicator_id`` = ``X``, the file name
  without ``.csv`` as it stands (``rsi_14.csv`` -> ``rsi_14``, ``macd_12_26_9.csv`` ->
  ``macd_12_26_9``): ``{variant_type}_{variant_id}`` is already the id;
- metadata ``status`` (active, completed, failed; anything else becomes completed and is
  kept as ``legacy_status``), ``start_time``/``start`` and ``end_time``/``end`` (ISO-8601 or
  epoch) and ``notes`` fill the session's columns; every other field goes into the session's
  ``metadata`` JSON.

Nothing here touches the store; :mod:`tsanalysis.migrate.runner` decides what to do with
each file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema
from ..errors import InvalidInput
from ..ids import check_indicator_id, check_session_id, check_symbol
from ..sessions import COMPLETED, STATUSES
from ..timeutil import to_utc_series

METADATA_FILE = "session_metadata.json"
TICKS_FILE = "tick_prices.csv"
ORDERBOOK_FILE = "orderbook.csv"
INDICATORS_DIR = "indicators"

#: The timestamp column of every legacy file.
TS_COLUMN = "timestamp"

#: Ingestion kind of each legacy file (indicator files are recognised by their folder).
FILE_KINDS = {TICKS_FILE: "ticks", ORDERBOOK_FILE: "orderbook"}

#: Metadata fields that fill columns of the sessions table (others go into ``metadata``).
KNOWN_FIELDS = ("session_id", "symbols", "status", "start_time", "start", "end_time", "end",
                "notes")


@dataclass
class LegacyFile:
    """One data file of the tree and where its rows go."""

    path: Path
    #: path relative to the data directory, with ``/`` (used in messages and the ledger)
    relpath: str
    #: path relative to the session directory (the ledger's key)
    key: str
    session_id: str
    symbol: str
    symbol_dir: str
    kind: str
    indicator_id: str | None
    size: int
    #: hash of the content (files are read once anyway, to count their lines)
    digest: str
    #: data lines (newlines after the header): the row count before reading the rows
    lines: int
    #: why the file cannot be migrated, found before reading it
    problem: str | None = None

    @property
    def table(self) -> str:
        return schema.KIND_TABLES[self.kind].name

    @property
    def target(self) -> tuple[str, str, str | None]:
        """The rows this file owns in the store: (table, symbol, indicator id)."""
        return (self.table, self.symbol, self.indicator_id)

    @property
    def fingerprint(self) -> dict[str, int | str]:
        """What tells whether the file changed since it was migrated (content, not mtime:
        a copied tree is the same tree)."""
        return {"size": self.size, "sha256": self.digest}


@dataclass
class LegacySession:
    """One session directory: its metadata, mapped to the sessions table, and its files."""

    dir: Path
    session_id: str
    status: str = COMPLETED
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None
    symbols: list[str] = field(default_factory=list)
    notes_text: str | None = None
    #: metadata fields that are not columns (kept in the session's ``metadata`` JSON)
    extra: dict[str, Any] = field(default_factory=dict)
    files: list[LegacyFile] = field(default_factory=list)
    #: files of the session left out by a ``symbols`` filter
    excluded: list[LegacyFile] = field(default_factory=list)
    #: what a reader should know (missing files, guessed names)
    notes: list[str] = field(default_factory=list)
    #: why the whole session is refused
    problem: str | None = None

    @property
    def data_types(self) -> list[str]:
        kinds = {f.kind for f in self.files}
        return [k for k in ("ticks", "orderbook", "indicators") if k in kinds]


@dataclass
class Plan:
    """The sessions of a legacy tree (after filters), in a stable order."""

    data_dir: Path
    sessions: list[LegacySession]
    #: directories of the data directory that hold no session
    ignored: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[LegacyFile]:
        return [f for s in self.sessions for f in s.files]

    @property
    def total_lines(self) -> int:
        return sum(f.lines for f in self.files)


def discover(data_dir: str | os.PathLike[str], sessions: list[str] | None = None,
             symbols: list[str] | None = None, follow_links: bool = False) -> Plan:
    """Read a legacy tree's layout (metadata and file names, not rows).

    ``sessions`` keeps the sessions with these ids (or directory names); ``symbols`` keeps the
    files of these symbols (real names or directory names). A filter that matches nothing is
    an :class:`InvalidInput`, so a typo does not look like an empty tree.

    A session directory or file reached through a symbolic link that leads outside the
    tree is refused (with a reason, never its contents) unless ``follow_links``.
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise InvalidInput(f"no such directory: {root}")
    root = root.resolve()
    found: list[LegacySession] = []
    ignored: list[str] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not _looks_like_session(d):
            ignored.append(d.name)
            continue
        found.append(_read_session(root, d, follow_links))
    _refuse_repeated_ids(found)

    if sessions:
        wanted = set(sessions)
        kept = [s for s in found if s.session_id in wanted or s.dir.name in wanted]
        missing = wanted - {s.session_id for s in kept} - {s.dir.name for s in kept}
        if missing:
            raise InvalidInput(f"no session {', '.join(sorted(missing))} in {root} "
                               f"(sessions there: {_some(s.session_id for s in found)})")
        found = kept
    if symbols:
        wanted = set(symbols)
        seen: set[str] = set()
        for s in found:
            keep = [f for f in s.files if f.symbol in wanted or f.symbol_dir in wanted]
            seen |= {f.symbol for f in keep} | {f.symbol_dir for f in keep}
            s.excluded += [f for f in s.files if f not in keep]
            s.files = keep
        missing = wanted - seen
        if missing:
            raise InvalidInput(f"no files for symbol {', '.join(sorted(missing))} in the "
                               "selected sessions")
        found = [s for s in found if s.files]
    return Plan(root, found, ignored)


def _some(names: Any, n: int = 10) -> str:
    names = list(names)
    text = ", ".join(names[:n])
    return text + (f", ... ({len(names)} in all)" if len(names) > n else "") if names else "none"


def _looks_like_session(d: Path) -> bool:
    if (d / METADATA_FILE).exists():
        return True
    for sub in d.iterdir():
        if sub.is_dir() and any((sub / name).exists() for name in (*FILE_KINDS, INDICATORS_DIR)):
            return True
    return False


def _outside(root: Path, path: Path) -> str | None:
    """Where ``path`` leads when a symbolic link takes it out of ``root``, else None."""
    target = path.resolve()
    return None if target == root or root in target.parents else str(target)


def _read_session(root: Path, d: Path, follow_links: bool = False) -> LegacySession:
    s = LegacySession(dir=d, session_id=d.name)
    away = None if follow_links else _outside(root, d)
    if away is not None:
        s.problem = f"{d.name}/ links outside the legacy tree ({away}); pass --follow-links " \
                    "(follow_links=True) to migrate it"
        return s
    meta = _read_metadata(d, s, follow_links)
    sid = meta.get("session_id")
    if sid is not None and not isinstance(sid, str):
        s.notes.append(f"metadata session_id {sid!r} is not text: using the directory name")
        sid = None
    if sid and sid != d.name:
        s.notes.append(f"metadata names the session {sid!r} (directory {d.name!r})")
    s.session_id = sid or d.name
    if s.problem is None:
        try:
            check_session_id(s.session_id)
        except InvalidInput as e:
            s.problem = str(e)
    _map_fields(meta, s)
    _find_files(root, d, s, follow_links)
    return s


def _read_metadata(d: Path, s: LegacySession, follow_links: bool = False
                   ) -> dict[str, Any]:
    path = d / METADATA_FILE
    away = None if follow_links or not path.is_symlink() else _outside(d, path)
    if away is not None:
        s.problem = f"{METADATA_FILE} links outside the session ({away}); pass --follow-links " \
                    "(follow_links=True) to read it"
        return {}
    if not path.exists():
        s.notes.append(f"no {METADATA_FILE}: session id from the directory name, "
                       "status completed, time range from the data")
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        s.problem = f"{METADATA_FILE} is unreadable: {e}"
        return {}
    if not isinstance(meta, dict):
        s.problem = f"{METADATA_FILE} holds a JSON {type(meta).__name__}, not an object"
        return {}
    return meta


def _map_fields(meta: dict[str, Any], s: LegacySession) -> None:
    status = meta.get("status")
    if status is None:
        if meta:
            s.notes.append("metadata has no status: completed")
    elif isinstance(status, str) and status.lower() in STATUSES:
        s.status = status.lower()
    else:
        s.notes.append(f"metadata status {status!r} is not one of {', '.join(STATUSES)}: "
                       "completed (the original is kept as legacy_status)")
        s.extra["legacy_status"] = status
    s.start_time = _instant(meta, ("start_time", "start"), s)
    s.end_time = _instant(meta, ("end_time", "end"), s)
    notes = meta.get("notes")
    s.notes_text = notes if isinstance(notes, str) else None
    if notes is not None and s.notes_text is None:
        s.extra["notes"] = notes

    listed = meta.get("symbols")
    if isinstance(listed, str):
        listed = [x.strip() for x in listed.split(",") if x.strip()]
    if listed is None:
        if meta:
            s.notes.append("metadata has no symbols: symbols are the directory names")
        listed = []
    elif not isinstance(listed, list):
        s.notes.append(f"metadata symbols {listed!r} is not a list: ignored")
        listed = []
    for sym in listed:
        try:
            check_symbol(sym)
        except InvalidInput as e:
            s.notes.append(f"metadata symbol ignored: {e}")
            continue
        if sym not in s.symbols:
            s.symbols.append(sym)
    for k, v in meta.items():
        if k not in KNOWN_FIELDS:
            s.extra[k] = v


def _instant(meta: dict[str, Any], names: tuple[str, ...], s: LegacySession
             ) -> pd.Timestamp | None:
    for name in names:
        if meta.get(name) is None:
            continue
        v = meta[name]
        try:
            ts = to_utc_series(pd.Series([v], dtype=object if isinstance(v, str) else None))
            value = ts.iloc[0]
        except (InvalidInput, ValueError, TypeError):
            value = pd.NaT
        if value is pd.NaT or pd.isna(value):
            s.notes.append(f"metadata {name} {v!r} is not a timestamp: taken from the data")
            s.extra[f"legacy_{name}"] = v
            return None
        return value
    return None


def _find_files(root: Path, d: Path, s: LegacySession, follow_links: bool = False) -> None:
    real = {sym.replace("/", "_"): sym for sym in s.symbols}
    on_disk: set[str] = set()
    targets: dict[tuple[str, str, str | None], str] = {}
    listed = bool(s.symbols)
    for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        symbol = real.get(sub.name, sub.name)
        problem = None
        if sub.name not in real:
            try:
                check_symbol(sub.name)
                if listed:
                    s.notes.append(f"{sub.name}/ is not among the metadata's symbols: "
                                   f"stored as symbol {sub.name!r}")
            except InvalidInput as e:
                problem = f"directory name is not a usable symbol: {e}"
        on_disk.add(symbol)
        if problem is None and symbol not in s.symbols:
            s.symbols.append(symbol)
        candidates: list[tuple[Path, str, str | None]] = []
        for name, kind in FILE_KINDS.items():
            if (sub / name).is_file():
                candidates.append((sub / name, kind, None))
            elif kind == "ticks":
                s.notes.append(f"{sub.name}/{name} is missing")
        ind = sub / INDICATORS_DIR
        if ind.is_dir():
            for f in sorted(ind.iterdir()):
                if f.is_file() and f.name.endswith(".csv"):
                    candidates.append((f, "indicators", f.name[: -len(".csv")]))
                else:
                    s.notes.append(f"ignored {f.relative_to(d).as_posix()}")
        for f in sorted(sub.iterdir()):
            if f.is_file() and f.name not in FILE_KINDS:
                s.notes.append(f"ignored {f.relative_to(d).as_posix()}")
        for path, kind, ind_id in candidates:
            away = None if follow_links else _outside(root, path)
            if away is not None:
                # Refused before it is read: nothing of what it points at is shown.
                lines, size, digest = 0, 0, ""
                why = (f"it links outside the legacy tree ({away}); pass --follow-links "
                       "(follow_links=True) to migrate it")
            else:
                lines, size, digest = scan_file(path)
                why = problem
            lf = LegacyFile(path=path, relpath=path.relative_to(root).as_posix(),
                            key=path.relative_to(d).as_posix(), session_id=s.session_id,
                            symbol=symbol, symbol_dir=sub.name, kind=kind, indicator_id=ind_id,
                            size=size, digest=digest, lines=lines, problem=why)
            if lf.problem is None and ind_id is not None:
                try:
                    check_indicator_id(ind_id)
                except InvalidInput as e:
                    lf.problem = f"file name is not a usable indicator id: {e}"
            if lf.problem is None:
                other = targets.setdefault(lf.target, lf.key)
                if other != lf.key:
                    lf.problem = f"its rows would mix with those of {other}"
            s.files.append(lf)
    for sym in s.symbols:
        if sym not in on_disk:
            s.notes.append(f"no directory for symbol {sym} ({sym.replace('/', '_')}/)")
    if s.files and not s.symbols and s.problem is None:
        s.problem = "no usable symbol: the metadata lists none and no directory name is one"


def _refuse_repeated_ids(found: list[LegacySession]) -> None:
    first: dict[str, LegacySession] = {}
    for s in found:
        other = first.setdefault(s.session_id, s)
        if other is not s:
            s.problem = (f"session id {s.session_id!r} is also the id of directory "
                         f"{other.dir.name!r}")


def scan_file(path: Path) -> tuple[int, int, str]:
    """Data lines (lines after the header), size and content hash of a file, in one read."""
    n = size = 0
    last = b"\n"
    h = hashlib.sha256()  # hardware-accelerated on current CPUs: faster than blake2b
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            size += len(block)
            h.update(block)
            last = block[-1:]
    if last != b"\n":
        n += 1  # the last line has no newline (a truncated file, often)
    return max(0, n - 1), size, h.hexdigest()[:32]
