"""``tsanalysis delete`` (a session's rows, selectively) and ``tsanalysis audit``."""

from __future__ import annotations

import sys

import click

from ..deleting import preview, select
from ..errors import InvalidInput, SessionActive
from ..timeutil import iso
from ._common import Context, emit_json, json_option, pass_ctx, print_table


def register(cli: click.Group) -> None:
    cli.add_command(delete)
    cli.add_command(restore)
    cli.add_command(audit)


def selection_options(fn):  # type: ignore[no-untyped-def]
    """The restriction options shared by ``delete`` and its thin forms."""
    for opt in reversed([
        click.option("--table", "tables", multiple=True, help="Only this table (repeatable)."),
        click.option("--symbol", "symbols", multiple=True,
                     help="Only this symbol (repeatable)."),
        click.option("--start", help="Only rows at or after this time (ISO 8601, UTC)."),
        click.option("--end", help="Only rows before this time."),
        click.option("--dry-run", is_flag=True,
                     help="Count what would be deleted; change nothing."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option("--force", is_flag=True,
                     help="Delete even if the session is still active."),
        click.option("--grace", metavar="DURATION",
                     help="Keep the rows, hidden, for this long (e.g. 24h): `tsanalysis "
                          "restore` brings them back until then. Default: "
                          "$TSANALYSIS_DELETE_GRACE, else none (final at once)."),
    ]):
        fn = opt(fn)
    return fn


def run_delete(ctx: Context, session_id: str, *, yes: bool, force: bool, dry_run: bool,
               as_json: bool, grace: str | None = None,
               **restrict) -> None:  # type: ignore[no-untyped-def]
    """Count first; ask (unless --yes or a dry run); delete; print rows per table."""
    ws = ctx.ws
    info = ws.sessions.get(session_id, stats=False)  # not found (3) before anything
    if info.status == "active" and not force:
        raise SessionActive(session_id)
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("refusing to delete without --yes (no terminal to confirm on)")
        counts = preview(ws.store, select(session_id, **restrict))
        click.confirm(f"Delete {sum(counts.values()):,} rows of session {session_id} "
                      f"({', '.join(f'{t}: {n:,}' for t, n in counts.items() if n)})?",
                      abort=True)
    res = ws.delete(session_id, force=force, dry_run=dry_run, grace=grace, **restrict)
    if as_json:
        emit_json(res.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    for table, n in res.deleted.items():
        click.echo(f"{table:<26} {n:>12,}")
    click.echo(f"{'total ' + verb:<26} {res.total:>12,}")
    for note in res.deferred:
        click.echo(f"deferred: {note}", err=True)
    if res.grace_until is not None:
        click.echo(f"kept until {iso(res.grace_until)}: `tsanalysis restore {session_id} "
                   f"--delete-id {res.action_id}` brings them back")


@click.command()
@click.argument("session_id")
@selection_options
@click.option("--indicator-id", "indicator_ids", multiple=True,
              help="Only these stored indicator ids (repeatable).")
@click.option("--backtest-id", "backtest_ids", multiple=True,
              help="Only these stored backtest runs (repeatable).")
@json_option
@pass_ctx
def delete(ctx: Context, session_id: str, tables: tuple[str, ...], symbols: tuple[str, ...],
           start: str | None, end: str | None, dry_run: bool, yes: bool, force: bool,
           grace: str | None, indicator_ids: tuple[str, ...], backtest_ids: tuple[str, ...],
           as_json: bool) -> None:
    """Delete a session's rows: restricted by any combination of tables, symbols,
    indicator ids, backtest ids and a time range [start, end); with no restriction, the
    whole session. Every delete is recorded (`tsanalysis audit`)."""
    run_delete(ctx, session_id, yes=yes, force=force, dry_run=dry_run, as_json=as_json,
               grace=grace, tables=list(tables) or None, symbols=list(symbols) or None,
               indicator_ids=list(indicator_ids) or None,
               backtest_ids=list(backtest_ids) or None, start=start, end=end)


@click.command()
@click.argument("session_id")
@click.option("--delete-id", help="Only this delete (its id, from the delete's output or "
                                  "`tsanalysis audit`).")
@json_option
@pass_ctx
def restore(ctx: Context, session_id: str, delete_id: str | None, as_json: bool) -> None:
    """Bring back rows deleted with --grace while their grace period lasts."""
    rows = ctx.ws.restore(session_id, delete_id)
    if as_json:
        emit_json({"session_id": session_id, "restored": rows, "total": sum(rows.values())})
        return
    for table, n in rows.items():
        click.echo(f"{table:<26} {n:>12,}")
    click.echo(f"{'total restored':<26} {sum(rows.values()):>12,}")


@click.command()
@click.option("--session", "session_id", help="Only this session's actions.")
@json_option
@pass_ctx
def audit(ctx: Context, session_id: str | None, as_json: bool) -> None:
    """Every delete and purge recorded in the store: when, what, rows, by whom."""
    frame = ctx.ws.audit(session_id)
    if as_json:
        emit_json([{**r, "ts": str(r["ts"])} for r in frame.to_dict("records")])
        return
    if frame.empty:
        click.echo("nothing recorded")
        return
    print_table([{"ts": str(r["ts"])[:19], "action": r["action"],
                  "session": r["session_id"] or "", "dry_run": "yes" if r["dry_run"] else "",
                  "rows": r["total_rows"],
                  "selection": ", ".join(f"{k}={v}" for k, v in r["selection"].items() if v)
                  or "whole session", "user": r["os_user"], "command": r["command"]}
                 for r in frame.to_dict("records")],
                ["ts", "action", "session", "dry_run", "rows", "selection", "user", "command"])
