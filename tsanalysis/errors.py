"""The errors tsanalysis raises on purpose.

Every error a user can cause derives from :class:`TsanalysisError`; the command line turns
each into one line on stderr and the exit code it carries (see ``exit_code``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Exit codes of the ``tsanalysis`` command, shared by every subcommand.
EXIT_OK = 0
EXIT_FAILED = 1  # invalid input or failed operation
EXIT_USAGE = 2  # bad usage (click's convention)
EXIT_NOT_FOUND = 3  # session not found
EXIT_REFUSED = 4  # refused: the session is active
EXIT_QUALITY_BELOW = 5  # quality score under --fail-under
EXIT_LOCKED = 6  # the DuckDB file stayed in use by another process for --lock-timeout


class TsanalysisError(Exception):
    """Base class of every error raised on purpose by tsanalysis."""

    exit_code = EXIT_FAILED


class InvalidInput(TsanalysisError, ValueError):
    """An argument or a piece of data is malformed; nothing was changed."""


class SessionNotFound(TsanalysisError, LookupError):
    """No session with this id exists in the store."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, session_id: str):
        super().__init__(f"session not found: {session_id!r}")
        self.session_id = session_id


class SessionActive(TsanalysisError):
    """The session is still recording; the operation needs ``force``."""

    exit_code = EXIT_REFUSED

    def __init__(self, session_id: str, action: str = "delete"):
        super().__init__(
            f"session {session_id!r} is active (still recording): refusing to {action} it; "
            "complete it first, or force"
        )
        self.session_id = session_id
        self.action = action


class StoreError(TsanalysisError):
    """The store could not do what was asked (connection, query, server state)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class StoreLocked(StoreUnavailable):
    """Another process held the embedded database file for longer than ``lock_timeout``."""

    exit_code = EXIT_LOCKED


def _repr(value: object) -> str:
    # Some values cannot describe themselves: a pandas Timestamp of year 0 raises in repr.
    try:
        return repr(value)
    except (ValueError, NotImplementedError, OverflowError):
        return f"<{type(value).__name__} out of range>"


@dataclass(frozen=True)
class RowError:
    """One invalid input row: where it is and why it was refused."""

    row: int  #: 0-based position of the row in the input (frame or file data rows)
    column: str
    value: object
    reason: str
    line: int | None = None  #: 1-based line in the source file, when read from a file

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"row {self.row}"
        return f"{where}: {self.column}={_shorten(_repr(self.value), 80)}: {self.reason}"


@dataclass
class ValidationReport:
    """What validation found in an input: counts and the first errors in detail."""

    rows_seen: int = 0
    rows_invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: ``errors`` keeps at most this many entries; ``rows_invalid`` counts them all.
    max_errors: int = 100
    #: failures per reason, over every row (a row failing two rules counts twice)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, errors: list[RowError], invalid_rows: int) -> None:
        self.rows_invalid += invalid_rows
        room = self.max_errors - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    @property
    def ok(self) -> bool:
        return self.rows_invalid == 0

    def summary(self, limit: int = 5) -> str:
        shown = "; ".join(e.describe() for e in self.errors[:limit])
        more = self.rows_invalid - min(limit, len(self.errors))
        tail = f"; and {more} more" if more > 0 else ""
        if more > 0 and self.reasons:
            tail += " (" + ", ".join(f"{_shorten(r, 60)}: {n:,}" for r, n in
                                     self.reasons.most_common(3)) + ")"
        return f"{self.rows_invalid} invalid row(s) of {self.rows_seen}: {shown}{tail}"

    def to_dict(self) -> dict:
        return {
            "rows_seen": self.rows_seen,
            "rows_invalid": self.rows_invalid,
            "reasons": dict(self.reasons.most_common()),
            "errors": [
                {"row": e.row, "line": e.line, "column": e.column, "value": _jsonable(e.value),
                 "reason": e.reason}
                for e in self.errors
            ],
        }


class InvalidRows(InvalidInput):
    """Input rows failed validation and nothing was written."""

    def __init__(self, report: ValidationReport, source: str = "input"):
        super().__init__(f"{source}: {report.summary()}; nothing was written")
        self.report = report
        self.source = source


#: Characters of a bad value kept and shown in reports (a value may be megabytes).
SHOWN_CHARS = 200


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} chars)"


def _jsonable(value: object) -> object:
    if isinstance(value, str):
        return _shorten(value, SHOWN_CHARS)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


class ExportFailed(TsanalysisError):
    """Writing an export (or reading a bundle back) failed: a full disk, a permission
    error, a broken writer. Nothing was left behind at the destination."""
