"""The runner: a plan of legacy files -> validated rows in the store, resumable and exact.

Rows go through :mod:`tsanalysis.ingest` like any other input (same reader, same rules,
same error reports); this module only decides, per file, what to do and keeps the score.

Idempotency and resuming after ``kill -9``
------------------------------------------
Every migrated row has a deterministic key: ``seq`` is the row's position in its source
file (its line number minus 2, so the first data row is 0), and in this layout a file
holds all the rows of its (session, symbol[, indicator id]). Writing a file again therefore
writes the same keys:

- **QuestDB** (no transactions; tables dedup on their key with UPSERT semantics): a file is
  validated completely first, then written with ``mode="upsert"``. A run killed halfway
  through a file left some of its rows in; the next run writes the file again and the
  server replaces them, so counts come out exact.
- **DuckDB** (transactional): a file's rows and its ledger entry are committed in one
  transaction, so a killed run leaves each file either wholly in and recorded, or not in
  at all. A file not in the ledger has no rows, and is appended (cheaper than an upsert);
  a file that changed on disk since it was recorded is written again with ``upsert``.

The ledger (:mod:`tsanalysis.migrate.ledger`, in the session's metadata) lists the files
already migrated: a second run skips them ("already present") without reading them, and
so does the dry run's report. A session is created with status ``active`` while its files
are migrated and gets the legacy status, start and end once they are all done.

Bad input: a file with an invalid row is refused whole (its report names the lines and
reasons) unless ``skip_errors``, which writes the valid rows and counts and lists the
others. A file mixing timestamp forms (epoch seconds, milliseconds, ISO-8601) is refused
in both cases. Either way the run goes on with the next file.

The dry run reads and validates every file it would migrate, exactly as the real run
does, and writes nothing: its figures are the real run's.

Memory: rows are read, validated and written ``batch_size`` at a time, and the store is
asked for a :meth:`~tsanalysis.store.base.Store.checkpoint` every ``CHECKPOINT_ROWS`` rows
(DuckDB otherwise defers compacting what was written until it closes, and then needs
memory in proportion to all of it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .. import readers
from ..errors import InvalidInput, InvalidRows, RowError, ValidationReport
from ..ingest import Chunk, Ingestor
from ..sessions import ACTIVE, Sessions
from ..store.base import Progress
from ..timeutil import TS_FORM_NAMES, TS_FORMS, timestamp_forms
from . import layout
from .ledger import COMPLETE, PARTIAL, Ledger
from .stats import FAILED, MIGRATED, SKIPPED, ErrorDetail, FileResult, MigrationStats, SessionResult

log = logging.getLogger(__name__)

#: Rows read, validated and written at a time; memory is bounded by it.
DEFAULT_BATCH_ROWS = 100_000

#: Rows written between two :meth:`Store.checkpoint` calls (bounds DuckDB's deferred work).
CHECKPOINT_ROWS = 1_000_000

#: Column holding the row's position in its file, given to ingestion as ``seq``.
_ROW_COLUMN = "__legacy_row"

OnFile = Callable[[FileResult], None]


def migrate_legacy(sessions: Sessions, data_dir: str | Path, *, dry_run: bool = False,
                   session_ids: list[str] | None = None, symbols: list[str] | None = None,
                   batch_size: int = DEFAULT_BATCH_ROWS, skip_errors: bool = False,
                   progress: Progress | None = None,
                   on_file: OnFile | None = None, follow_links: bool = False) -> MigrationStats:
    """Migrate a legacy CSV tree into the store of ``sessions`` (see the module docstring).

    Symbolic links that lead outside the tree are refused unless ``follow_links``.

    ``progress(done, total)`` is called as rows are read (total: data lines of the files
    selected); ``on_file(result)`` after each file. Returns the statistics; refused files
    and sessions are in it (``stats.ok`` is False), not raised. Store errors are raised.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"batch size must be a positive number of rows, not {batch_size!r}")
    t0 = time.perf_counter()
    plan = layout.discover(data_dir, session_ids, symbols, follow_links=follow_links)
    stats = MigrationStats(str(plan.data_dir), dry_run, skip_errors, batch_size,
                           ignored=list(plan.ignored))
    run = _Run(sessions, plan, stats, dry_run, skip_errors, batch_size, progress, on_file)
    for ls in plan.sessions:
        run.session(ls)
    stats.duration_s = time.perf_counter() - t0
    log.info("migration of %s: %s", plan.data_dir, stats.figures())
    return stats


class _Run:
    def __init__(self, sessions: Sessions, plan: layout.Plan, stats: MigrationStats,
                 dry_run: bool, skip_errors: bool, batch_size: int,
                 progress: Progress | None, on_file: OnFile | None):
        self.sessions = sessions
        self.store = sessions.store
        self.plan = plan
        self.stats = stats
        self.dry_run = dry_run
        self.skip_errors = skip_errors
        self.batch_size = batch_size
        self.progress = progress
        self.on_file = on_file
        self.total = plan.total_lines
        self.base = 0  # rows of the files before the current one
        self.unflushed = 0  # rows written since the last checkpoint

    # -- sessions --------------------------------------------------------------------

    def session(self, ls: layout.LegacySession) -> None:
        sr = SessionResult(ls.session_id, ls.dir.name, "create", ls.status, list(ls.symbols),
                           list(ls.notes))
        self.stats.sessions.append(sr)
        ledger: Ledger | None = None
        problem = ls.problem
        if problem is None:
            rows = self.store.session_rows(ls.session_id)
            if rows.empty:
                ledger = Ledger.new(ls.session_id, str(ls.dir), ls.extra)
            else:
                ledger = Ledger.load(ls.session_id, rows.iloc[0]["metadata"])
                if not ledger.from_migration:
                    problem = ("a session with this id already exists in the store and was "
                               "not created by a migration; not touching it")
                else:
                    sr.action = "resume"
                    for key in ledger.forget_short(self.store):
                        sr.notes.append(f"{key}: fewer rows stored than recorded; "
                                        "migrating it again")
        if problem is not None or ledger is None:
            # One problem, counted once: the session's files are listed as failed with it.
            sr.action, sr.reason = "failed", problem
            self.stats.session_errors += 1
            self.stats.add_error(ErrorDetail(ls.session_id, ls.dir.name, problem or "refused"))
            for f in ls.files:
                res = self._result(f, FAILED, f"session refused: {problem}")
                res.errors = 0
                self._finish(res, f)
            return
        if not ls.files and not ls.symbols:
            sr.action = "empty"
            sr.notes.append("no symbols and no data files: nothing to migrate")
            return

        pending = [f for f in ls.files if not ledger.done(f) and f.lines > 0]
        if sr.action == "resume" and not pending:
            self._set_state(ls, ledger, failed=0)
            if self._final_fields(ls, ledger) is None:
                sr.action = "up to date"
        if sr.action == "create" and not self.dry_run:
            self.sessions.create(ls.symbols, ls.session_id, data_types=ls.data_types,
                                 notes=ls.notes_text, metadata=ledger.metadata, status=ACTIVE,
                                 start_time=ls.start_time)
        failed = 0
        for f in ls.files:
            if ledger.done(f):
                res = self._result(f, SKIPPED, "already present")
                e = ledger.files[f.key]
                res.rows = int(e.get("rows", 0)) + int(e.get("skipped", 0))
                self._finish(res, f)
            else:
                failed += self._file(f, ledger).status == FAILED
        if not self.dry_run and sr.action != "up to date":
            self._set_state(ls, ledger, failed)
            fields = self._final_fields(ls, ledger)
            if fields:
                self.store.update_session(ls.session_id, fields)
            self.sessions.notify("data", ls.session_id)

    @staticmethod
    def _set_state(ls: layout.LegacySession, ledger: Ledger, failed: int) -> None:
        every = ls.files + ls.excluded
        complete = failed == 0 and all(ledger.done(f) or f.lines == 0 for f in every)
        ledger.set_state(COMPLETE if complete else PARTIAL)

    def _final_fields(self, ls: layout.LegacySession, ledger: Ledger) -> dict | None:
        """Columns the session row should get once its files are in (None: nothing to do)."""
        rows = self.store.session_rows(ls.session_id)
        if rows.empty:
            return None
        row = rows.iloc[0]
        want: dict[str, object] = {"status": ls.status, "metadata": ledger.to_json()}
        start, end = ls.start_time, ls.end_time
        if start is None or end is None:
            st = self.store.table_stats([ls.session_id])
            if len(st):
                start = st["first_ts"].min() if start is None else start
                end = st["last_ts"].max() if end is None else end
        if start is not None:
            want["start_time"] = start
        want["end_time"] = None if ls.status == ACTIVE and ls.end_time is None else end
        changed = {k: v for k, v in want.items() if not _same(row.get(k), v)}
        if not changed:
            return None
        changed["updated_at"] = pd.Timestamp.now(tz="UTC").as_unit("us")
        return changed

    # -- files -----------------------------------------------------------------------

    def _result(self, f: layout.LegacyFile, status: str, reason: str | None = None
                ) -> FileResult:
        return FileResult(f.session_id, f.symbol, f.relpath, f.kind, f.table, f.indicator_id,
                          status, reason)

    def _fail_file(self, res: FileResult, f: layout.LegacyFile, reason: str) -> None:
        """A problem with the file as a whole (not with some of its rows)."""
        res.status, res.reason, res.errors = FAILED, reason, 1
        res.rows, res.rows_migrated, res.rows_skipped = f.lines, 0, 0
        self.stats.add_error(ErrorDetail(f.session_id, f.relpath, reason))

    def _finish(self, res: FileResult, f: layout.LegacyFile) -> None:
        self.stats.files.append(res)
        self.base += f.lines
        if self.progress:
            self.progress(self.base, self.total)
        if self.on_file:
            self.on_file(res)

    def _file(self, f: layout.LegacyFile, ledger: Ledger) -> FileResult:
        res = self._result(f, MIGRATED)
        if f.problem is not None:
            self._fail_file(res, f, f.problem)
            self._finish(res, f)
            return res
        source = _LegacyCsv(f, self.batch_size)
        report: ValidationReport | None = None
        try:
            if self.dry_run:
                report = self._ingestor(f, ledger).scan(source, self._progress(f), f.lines)
                if not report.ok and not self.skip_errors:
                    raise InvalidRows(report, f.relpath)
                res.rows_migrated = report.rows_seen - report.rows_invalid
            else:
                report, res.rows_migrated = self._write(f, ledger, source)
        except InvalidRows as e:
            report = e.report
            res.status = FAILED
            res.reason = (f"{report.rows_invalid} invalid row(s) of {report.rows_seen}: file "
                          "refused (--skip-errors writes the valid rows)")
            res.rows_migrated = 0
        except InvalidInput as e:
            report = None
            self._fail_file(res, f, _strip(str(e), f))
        res.ts_form = source.form_name
        if report is not None:
            res.rows = report.rows_seen
            res.errors = report.rows_invalid
            if res.status == MIGRATED:
                res.rows_skipped = report.rows_invalid
            for e in report.errors:
                self.stats.add_error(ErrorDetail.from_row(f.session_id, f.relpath, e,
                                                          {"ts": layout.TS_COLUMN}))
            if res.status == MIGRATED and report.rows_seen == 0:
                res.status, res.reason = SKIPPED, "empty (no rows)"
        self._finish(res, f)
        return res

    def _ingestor(self, f: layout.LegacyFile, ledger: Ledger, *, skip: bool | None = None
                  ) -> Ingestor:
        # A file recorded before (it changed since) or any file on a store without
        # transactions may already have rows in: write with upsert on the row keys.
        upsert = not self.store.transactional or ledger.recorded(f)
        return Ingestor(self.store, f.session_id, f.symbol, f.kind,
                        columns={"ts": layout.TS_COLUMN, "seq": _ROW_COLUMN},
                        indicator_id=f.indicator_id,
                        skip_invalid=self.skip_errors if skip is None else skip,
                        mode="upsert" if upsert else "append", progress=self._progress(f),
                        source=f.relpath)

    def _write(self, f: layout.LegacyFile, ledger: Ledger, source: _LegacyCsv
               ) -> tuple[ValidationReport, int]:
        if self.store.transactional:
            with self.store.atomic():  # the rows and the ledger entry land together
                result = self._ingestor(f, ledger).run(source, total_rows=f.lines)
                if result.report.rows_seen:
                    self._record(f, ledger, result.rows_written, result.rows_skipped)
            self._checkpoint()
            return result.report, result.rows_written
        # No transactions: check the whole file before the first row is written, so that a
        # refused file (bad rows, mixed timestamp forms) leaves nothing behind.
        report = self._ingestor(f, ledger).scan(source)
        if not report.ok and not self.skip_errors:
            raise InvalidRows(report, f.relpath)
        result = self._ingestor(f, ledger, skip=True).run(source, total_rows=f.lines)
        if result.report.rows_seen:
            self._record(f, ledger, result.rows_written, result.rows_skipped)
        self._checkpoint()
        return result.report, result.rows_written

    def _checkpoint(self) -> None:
        if self.unflushed >= CHECKPOINT_ROWS:
            self.store.checkpoint()
            self.unflushed = 0

    def _record(self, f: layout.LegacyFile, ledger: Ledger, rows: int, skipped: int) -> None:
        ledger.record(f, rows, skipped)
        self.store.update_session(f.session_id, {
            "metadata": ledger.to_json(),
            "updated_at": pd.Timestamp.now(tz="UTC").as_unit("us")})
        self.unflushed += rows

    def _progress(self, f: layout.LegacyFile) -> Progress | None:
        if self.progress is None:
            return None
        outer, base, total = self.progress, self.base, self.total

        def report(done: int, _file_total: int | None) -> None:
            outer(base + min(done, f.lines), total)

        return report


class _LegacyCsv:
    """A re-readable chunk source over one legacy file.

    Adds each row's position in the file (the ``seq`` of its stored row) and checks that
    the file keeps to one timestamp form, which it then passes to ingestion as the epoch
    unit. Cells in no recognisable form are left for validation to report as bad rows.
    """

    def __init__(self, f: layout.LegacyFile, batch_rows: int):
        self.f = f
        self.batch_rows = batch_rows
        self.form: str | None = None

    @property
    def form_name(self) -> str | None:
        """The file's timestamp form, in words ("mixed" for a refused file)."""
        return TS_FORM_NAMES.get(self.form, self.form) if self.form else None

    def __call__(self) -> Iterator[Chunk]:
        first_line: dict[int, int] = {}
        for chunk in readers.iter_csv(self.f.path, batch_rows=self.batch_rows):
            frame = chunk.frame
            lines = chunk.lines if chunk.lines is not None else np.arange(len(frame)) + 2
            if layout.TS_COLUMN in frame.columns and len(frame):
                codes = timestamp_forms(frame[layout.TS_COLUMN])
                for c in np.unique(codes[codes >= 0]):
                    first_line.setdefault(int(c), int(lines[int(np.argmax(codes == c))]))
                if len(first_line) > 1:
                    self.form = "mixed"
                    seen = sorted(first_line.items(), key=lambda kv: kv[1])
                    raise InvalidInput(
                        f"{self.f.relpath}: mixes timestamp forms: " + ", ".join(
                            f"{TS_FORM_NAMES[TS_FORMS[c]]} (first at line {ln})"
                            for c, ln in seen) + "; a file must keep to one form")
                if first_line:
                    self.form = TS_FORMS[next(iter(first_line))]
                    if self.form != "iso":
                        chunk.ts_unit = self.form
            frame[_ROW_COLUMN] = lines - 2
            yield chunk


def _same(a: object, b: object) -> bool:
    na = a is None or a is pd.NaT or (isinstance(a, float) and np.isnan(a))
    nb = b is None or b is pd.NaT or (isinstance(b, float) and np.isnan(b))
    if na or nb:
        return na and nb
    if isinstance(a, pd.Timestamp) or isinstance(b, pd.Timestamp):
        return pd.Timestamp(a) == pd.Timestamp(b)  # type: ignore[arg-type]
    return a == b


def _strip(message: str, f: layout.LegacyFile) -> str:
    """A message without a leading file name (the result names the file already)."""
    for prefix in (f"{f.relpath}: ", f"{f.path}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


__all__ = ["migrate_legacy", "DEFAULT_BATCH_ROWS", "RowError"]
