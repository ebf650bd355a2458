"""Migration of the legacy CSV layout into the store.

``layout``     discovery: a legacy tree -> a plan of sessions and files (filesystem only)
``runner``     the plan -> validated rows in the store, idempotent and resumable
``ledger``     which files of a session are in the store (kept in the session's metadata)
``stats``      what a run did (or would do): per file, per session, in total
``generator``  deterministic legacy trees, awkward cases included, for tests and benchmarks

From Python: ``ws.migrate_legacy(data_dir, dry_run=True)``; from the command line:
``tsanalysis migrate legacy DATA_DIR --dry-run``.
"""

from .layout import Plan, discover
from .runner import DEFAULT_BATCH_ROWS, migrate_legacy
from .stats import ErrorDetail, FileResult, MigrationStats, SessionResult

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "ErrorDetail",
    "FileResult",
    "MigrationStats",
    "Plan",
    "SessionResult",
    "discover",
    "migrate_legacy",
]
