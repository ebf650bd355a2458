"""``tsanalysis migrate legacy``: move a legacy CSV tree into the store."""

from __future__ import annotations

import click

from ..migrate import DEFAULT_BATCH_ROWS, FileResult, MigrationStats
from ..migrate.layout import METADATA_FILE
from ..migrate.stats import FAILED, MIGRATED
from ._common import (
    Context,
    emit_json,
    json_option,
    pass_ctx,
    print_table,
    progress_bar,
    split_list,
)

#: Error lines printed on stderr (``--json`` lists up to 1000).
SHOWN_ERRORS = 20


def register(cli: click.Group) -> None:
    cli.add_command(migrate)


@click.group()
def migrate() -> None:
    """Bring data from older on-disk layouts into the store."""


@migrate.command()
@click.argument("data_dir", type=click.Path(file_okay=False))
@click.option("--dry-run", is_flag=True,
              help="Read and validate everything, write nothing: list the sessions, files and "
                   "rows that would be migrated, skipped or refused.")
@click.option("--session", "sessions", multiple=True, metavar="ID",
              help="Only this session (id or directory name; repeatable, or comma-separated).")
@click.option("--symbol", "symbols", multiple=True, metavar="SYM",
              help="Only this symbol (BTC/USDT or its directory name BTC_USDT; repeatable).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_ROWS,
              show_default=True, help="Rows read, checked and written at a time (bounds memory).")
@click.option("--skip-errors", is_flag=True,
              help="Write the valid rows of a file with bad rows, and count and list the bad "
                   "ones (default: refuse such a file whole).")
@click.option("--follow-links", is_flag=True,
              help="Migrate files reached through symbolic links that lead outside DATA_DIR "
                   "(refused by default).")
@click.option("--verbose", "-v", is_flag=True,
              help="A line per file as it is done, and the progress bar even off a terminal.")
@json_option
@pass_ctx
def legacy(ctx: Context, data_dir: str, dry_run: bool, sessions: tuple[str, ...],
           symbols: tuple[str, ...], batch_size: int, skip_errors: bool, follow_links: bool,
           verbose: bool, as_json: bool) -> int:
    """Migrate DATA_DIR/{session}/{symbol}/{tick_prices,orderbook,indicators/*}.csv.

    Re-runs skip what is already in the store, and a run that was interrupted completes
    the job. A file with a bad row is refused whole (unless --skip-errors) and the run
    goes on; the exit code is then 1.
    """
    progress, close = progress_bar("migrate", enabled=True if verbose else None)

    def on_file(res: FileResult) -> None:
        if verbose and not as_json and not dry_run:
            click.echo(f"{res.path}: {_action(res, dry_run)} ({res.rows_migrated:,} rows)")

    try:
        stats = ctx.ws.migrate_legacy(data_dir, dry_run=dry_run,
                                      sessions=split_list(sessions) or None,
                                      symbols=split_list(symbols) or None,
                                      batch_size=batch_size, skip_errors=skip_errors,
                                      progress=progress, on_file=on_file,
                                      follow_links=follow_links)
    finally:
        close()
    if as_json:
        emit_json(stats.to_dict())
    else:
        _report(stats)
    return 0 if stats.ok else 1


def _action(res: FileResult, dry_run: bool) -> str:
    if res.status == MIGRATED:
        return "migrate" if dry_run else "migrated"
    if res.status == FAILED:
        return f"REFUSE: {res.reason}" if dry_run else f"FAILED: {res.reason}"
    return f"skip: {res.reason}"


def _report(stats: MigrationStats) -> None:
    would = "would be " if stats.dry_run else ""
    if stats.dry_run:
        click.echo(f"dry run of {stats.data_dir}: nothing was written")
        for name in stats.ignored:
            click.echo(f"ignored {name}/: no {METADATA_FILE} and no data files")
        for s in stats.sessions:
            line = f"session {s.session_id}: {s.action}"
            if s.status:
                line += f" (status {s.status}; symbols {', '.join(s.symbols) or '-'})"
            click.echo(line)
            for note in s.notes:
                click.echo(f"  note: {note}")
            if s.reason:
                click.echo(f"  refused: {s.reason}")
        if stats.files:
            click.echo("")
            print_table([{"session": f.session_id, "symbol": f.symbol, "file": f.path,
                          "table": f.table, "rows": f.rows, "timestamps": f.ts_form,
                          "action": _action(f, True)} for f in stats.files],
                        ["session", "symbol", "file", "table", "rows", "timestamps", "action"])
        click.echo("")
    details = stats.error_details
    if not stats.dry_run:
        said = {(e.path, e.reason) for e in details if e.line is None}
        for f in stats.files:
            if f.status == FAILED and (f.path, f.reason) not in said:
                click.echo(f"failed: {f.path}: {f.reason}", err=True)
    # A bad row of a file that was migrated anyway (--skip-errors) was skipped, not fatal.
    kept = {f.path for f in stats.files if f.status != FAILED}
    for e in details[:SHOWN_ERRORS]:
        click.echo(f"{'skipped' if e.path in kept else 'error'}: {e.describe()}", err=True)
    if stats.errors > SHOWN_ERRORS:
        click.echo(f"... {stats.errors - min(SHOWN_ERRORS, len(details)):,} more "
                   "(--json lists up to 1000)", err=True)
    click.echo(f"sessions  {stats.sessions_processed:,} processed ({stats.sessions_created:,} "
               f"{would}created, {stats.sessions_failed:,} refused)")
    click.echo(f"files     {stats.files_found:,} found: {stats.files_migrated:,} {would}migrated, "
               f"{stats.files_skipped:,} skipped, {stats.files_failed:,} {would}refused")
    click.echo(f"rows      {stats.rows_migrated:,} {would}migrated, {stats.rows_skipped:,} "
               "invalid skipped")
    click.echo(f"errors    {stats.errors:,}")
    click.echo(f"time      {stats.duration_s:,.1f} s ({stats.rows_per_s:,.0f} rows/s)")

