"""What a migration did (or, in a dry run, would do): per file, per session, in total.

A dry run and the real run that follows it produce the same figures (same statuses, same
row counts); only ``dry_run``, the durations and the session actions' tense differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import RowError, _jsonable

MIGRATED, SKIPPED, FAILED = "migrated", "skipped", "failed"

#: Error details kept in :attr:`MigrationStats.error_details` (``errors`` counts them all).
MAX_ERROR_DETAILS = 1000


@dataclass
class ErrorDetail:
    """One problem: a bad row (with its line), a refused file, or a refused session."""

    session_id: str | None
    path: str | None  #: relative to the data directory
    reason: str
    line: int | None = None
    column: str | None = None
    value: object = None

    @classmethod
    def from_row(cls, session_id: str, path: str, e: RowError,
                 names: dict[str, str] | None = None) -> ErrorDetail:
        """From a validation error; ``names`` maps schema columns to the file's headers."""
        return cls(session_id, path, e.reason, e.line, (names or {}).get(e.column, e.column),
                   e.value)

    def describe(self) -> str:
        where = self.path or self.session_id or "?"
        if self.line is not None:
            where += f" line {self.line}"
        what = f"{self.column}={self.value!r}: " if self.column and self.column != "*" else ""
        if self.column == "*" and self.value is not None:
            what = f"{self.value!r}: "
        return f"{where}: {what}{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "path": self.path, "line": self.line,
                "column": self.column, "value": _jsonable(self.value), "reason": self.reason}


@dataclass
class FileResult:
    """One legacy file and what happened to it."""

    session_id: str
    symbol: str
    path: str  #: relative to the data directory
    kind: str
    table: str
    indicator_id: str | None
    status: str = SKIPPED  #: migrated | skipped | failed
    reason: str | None = None  #: why skipped or failed
    ts_form: str | None = None  #: timestamp form found in the file, e.g. "epoch seconds"
    rows: int = 0  #: data rows read (valid and invalid)
    rows_migrated: int = 0
    rows_skipped: int = 0  #: invalid rows left out (``skip_errors``)
    errors: int = 0  #: invalid rows found, plus one for a file-level problem

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "session_id", "symbol", "path", "kind", "table", "indicator_id", "status",
            "reason", "ts_form", "rows", "rows_migrated", "rows_skipped", "errors")}


@dataclass
class SessionResult:
    """One legacy session: what is done with its row in the sessions table."""

    session_id: str
    dir: str
    #: create | resume | up to date | failed | empty (the same words in a dry run)
    action: str
    status: str | None = None  #: the status the session gets (from the legacy metadata)
    symbols: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None  #: why the session was refused

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "dir": self.dir, "action": self.action,
                "status": self.status, "symbols": list(self.symbols), "notes": list(self.notes),
                "reason": self.reason}


@dataclass
class MigrationStats:
    """Totals of a migration run, with the files, sessions and errors behind them."""

    data_dir: str
    dry_run: bool
    skip_errors: bool
    batch_size: int
    sessions: list[SessionResult] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)
    error_details: list[ErrorDetail] = field(default_factory=list)
    #: problems counted in ``errors`` beyond those of files (refused sessions)
    session_errors: int = 0
    #: directories of the data directory that hold no session (no metadata, no data files)
    ignored: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    # -- figures -----------------------------------------------------------------------

    @property
    def sessions_found(self) -> int:
        return len(self.sessions)

    @property
    def sessions_failed(self) -> int:
        return sum(1 for s in self.sessions if s.action == "failed")

    @property
    def sessions_processed(self) -> int:
        """Sessions handled without being refused (up-to-date ones included)."""
        return self.sessions_found - self.sessions_failed

    @property
    def sessions_created(self) -> int:
        return sum(1 for s in self.sessions if s.action == "create")

    @property
    def files_found(self) -> int:
        return len(self.files)

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def files_migrated(self) -> int:
        return self._count(MIGRATED)

    @property
    def files_skipped(self) -> int:
        return self._count(SKIPPED)

    @property
    def files_failed(self) -> int:
        return self._count(FAILED)

    @property
    def rows_migrated(self) -> int:
        return sum(f.rows_migrated for f in self.files)

    @property
    def rows_skipped(self) -> int:
        return sum(f.rows_skipped for f in self.files)

    @property
    def errors(self) -> int:
        """Invalid rows found plus refused files and sessions."""
        return sum(f.errors for f in self.files) + self.session_errors

    @property
    def rows_per_s(self) -> float:
        return self.rows_migrated / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when no file and no session was refused (the CLI then exits 0)."""
        return self.files_failed == 0 and self.sessions_failed == 0

    # -- recording ---------------------------------------------------------------------

    def add_error(self, detail: ErrorDetail) -> None:
        if len(self.error_details) < MAX_ERROR_DETAILS:
            self.error_details.append(detail)

    def figures(self) -> dict[str, int]:
        """The counts alone (what a dry run and the real run after it agree on)."""
        return {
            "sessions_found": self.sessions_found,
            "sessions_processed": self.sessions_processed,
            "sessions_created": self.sessions_created,
            "sessions_failed": self.sessions_failed,
            "files_found": self.files_found,
            "files_migrated": self.files_migrated,
            "files_skipped": self.files_skipped,
            "files_failed": self.files_failed,
            "rows_migrated": self.rows_migrated,
            "rows_skipped": self.rows_skipped,
            "errors": self.errors,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: figures, duration, rate, then sessions, files and error details."""
        return {
            "data_dir": self.data_dir,
            "dry_run": self.dry_run,
            "skip_errors": self.skip_errors,
            "batch_size": self.batch_size,
            **self.figures(),
            "duration_s": round(self.duration_s, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "ok": self.ok,
            "ignored": list(self.ignored),
            "sessions": [s.to_dict() for s in self.sessions],
            "files": [f.to_dict() for f in self.files],
            "error_details": [e.to_dict() for e in self.error_details],
        }
