"""``tsanalysis sessions ...``: list, show, create, import, trading-hours, complete, fail,
bars, delete."""

from __future__ import annotations

import sys

import click

from ..errors import InvalidInput, SessionActive, SessionNotFound
from ..ingest import KINDS, input_columns
from ..readers import FORMATS
from ..sessions import ACTIVE, SessionInfo
from ..timeutil import EPOCH_UNITS, iso
from ..trading_hours import of_session
from ._common import (
    Context,
    emit_json,
    json_option,
    pass_ctx,
    print_table,
    progress_bar,
    split_list,
)

TRADING_HOURS_HELP = ('When the market is open, e.g. "17:00-16:00 America/Chicago Mon-Fri '
                      'closed 2026-01-19": gaps in its closures are not counted against the '
                      'quality score (see: tsanalysis sessions trading-hours --help).')


def register(cli: click.Group) -> None:
    cli.add_command(sessions)


@click.group()
def sessions() -> None:
    """Recording sessions: list, show, create, import, complete, delete."""


@sessions.command("list")
@json_option
@pass_ctx
def list_(ctx: Context, as_json: bool) -> None:
    """Every session with status, symbols, row counts and time range."""
    infos = ctx.ws.sessions.list()
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    if not infos:
        click.echo("no sessions (create one with `tsanalysis demo`)")
        return
    print_table([_row(i) for i in infos],
                ["session_id", "status", "symbols", "ticks", "quotes", "bars", "indicators",
                 "first_ts", "last_ts"])


def _row(i: SessionInfo) -> dict[str, object]:
    rows = i.rows or {}
    return {
        "session_id": i.session_id, "status": i.status, "symbols": ",".join(i.symbols),
        "ticks": rows.get("tick_prices", 0), "quotes": rows.get("tick_orderbook", 0),
        "bars": rows.get("aggregated_ohlcv", 0), "indicators": rows.get("indicators", 0),
        "first_ts": iso(i.first_ts), "last_ts": iso(i.last_ts),
    }


@sessions.command()
@click.argument("session_id")
@json_option
@pass_ctx
def show(ctx: Context, session_id: str, as_json: bool) -> None:
    """One session: status, symbols, time range, rows per table and symbol."""
    info = ctx.ws.sessions.get(session_id)
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"session   {info.session_id}")
    click.echo(f"status    {info.status}")
    click.echo(f"symbols   {', '.join(info.symbols) or '-'}")
    click.echo(f"created   {iso(info.created_at)}")
    click.echo(f"data      {iso(info.first_ts) or '-'} .. {iso(info.last_ts) or '-'}")
    if info.notes:
        click.echo(f"notes     {info.notes}")
    declared = of_session(info.metadata)
    if declared:
        click.echo(f"hours     {declared}")
    rows = []
    for table, per_symbol in (info.tables or {}).items():
        for sym, st in per_symbol.items():
            rows.append({"table": table, "symbol": sym, "rows": st.rows,
                         "first_ts": iso(st.first_ts), "last_ts": iso(st.last_ts)})
    click.echo("")
    if rows:
        print_table(rows, ["table", "symbol", "rows", "first_ts", "last_ts"])
    else:
        click.echo("no rows yet")


@sessions.command()
@click.option("--symbols", required=True, help="Comma-separated symbols, e.g. BTC/USDT,ETH/USDT.")
@click.option("--id", "session_id", help="Session id (default: generated).")
@click.option("--notes", help="Free text kept with the session.")
@click.option("--cadence", "cadence_s", type=float, help="Declared tick cadence in seconds.")
@click.option("--trading-hours", metavar="HOURS", help=TRADING_HOURS_HELP)
@json_option
@pass_ctx
def create(ctx: Context, symbols: str, session_id: str | None, notes: str | None,
           cadence_s: float | None, trading_hours: str | None, as_json: bool) -> None:
    """Create an active session and print its id."""
    info = ctx.ws.sessions.create(split_list(symbols), session_id, notes=notes,
                                 cadence_s=cadence_s, trading_hours=trading_hours)
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(info.session_id)


def _column_options(f):  # type: ignore[no-untyped-def]
    """``--<column>-col C`` for every input column of every kind."""
    names: list[str] = []
    for kind in KINDS:
        names += [c for c in input_columns(kind) if c not in names]
    for name in reversed(names):
        f = click.option(f"--{name.replace('_', '-')}-col", f"col_{name}", metavar="C",
                         help=f"Input column holding {name}.")(f)
    return f


@sessions.command("import")
@click.argument("session_id")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--symbol", help="Symbol the rows belong to. Without it, each row goes to the "
                               "symbol in its 'symbol' column (a `tsanalysis export` file).")
@click.option("--kind", type=click.Choice(KINDS), default="ticks", show_default=True)
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)),
              help="File format (default: from the file name).")
@_column_options
@click.option("--ts-unit", type=click.Choice(EPOCH_UNITS),
              help="Unit of epoch-number timestamps (default: inferred from magnitude).")
@click.option("--interval", help="Bar interval of OHLCV rows without an interval column.")
@click.option("--indicator-id", help="Indicator id (e.g. rsi_14) of indicator rows without an "
                                     "indicator_id column.")
@click.option("--skip-invalid", is_flag=True,
              help="Write the valid rows and report the invalid ones (default: write nothing).")
@click.option("--round-ns", is_flag=True,
              help="Round timestamps given to the nanosecond down to the microsecond the "
                   "store keeps (default: refuse them, naming the rows).")
@json_option
@pass_ctx
def import_(ctx: Context, session_id: str, path: str, symbol: str | None, kind: str,
            fmt: str | None, ts_unit: str | None, interval: str | None,
            indicator_id: str | None, skip_invalid: bool, round_ns: bool, as_json: bool,
            **cols: str | None) -> None:
    """Import ticks, order-book snapshots, OHLCV bars or indicator values from a CSV,
    Parquet, JSON Lines or JSON file.

    Columns are read by their schema names (ts, price, volume, bid_price, ..., open, ...)
    unless mapped with --<name>-col; other columns are ignored. Timestamps may be ISO-8601
    text (without a zone means UTC) or epoch numbers.
    """
    mapping = {k[len("col_"):]: v for k, v in cols.items() if v}
    wanted = set(input_columns(kind))
    stray = sorted(set(mapping) - wanted)
    if stray:
        raise InvalidInput(f"--{stray[0].replace('_', '-')}-col does not apply to --kind {kind}")
    if symbol is None:
        _import_by_symbol(ctx, session_id, path, kind, fmt, as_json, columns=mapping,
                          ts_unit=ts_unit, interval=interval, indicator_id=indicator_id,
                          skip_invalid=skip_invalid, round_ns=round_ns)
        return
    progress, done = progress_bar(f"import {symbol}")
    try:
        res = ctx.ws.import_file(session_id, path, symbol, kind, fmt=fmt, columns=mapping,
                                 ts_unit=ts_unit, interval=interval, indicator_id=indicator_id,
                                 skip_invalid=skip_invalid, round_ns=round_ns,
                                 progress=progress)
    finally:
        done()
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"imported {res.rows_written:,} rows into {res.table} "
               f"({session_id}, {symbol})")
    if res.rows_skipped:
        click.echo(f"skipped {res.rows_skipped:,} invalid rows: {res.report.summary()}",
                   err=True)


def _import_by_symbol(ctx: Context, session_id: str, path: str, kind: str, fmt: str | None,
                      as_json: bool, **options: object) -> None:
    """Without --symbol: rows go to the symbol of their 'symbol' column; JSON is a list."""
    progress, done = progress_bar(f"import {path}")
    try:
        results = ctx.ws.import_file_by_symbol(session_id, path, kind, fmt=fmt,
                                               progress=progress, **options)
    finally:
        done()
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    for res in results:
        click.echo(f"imported {res.rows_written:,} rows into {res.table} "
                   f"({session_id}, {res.symbol})")
        if res.rows_skipped:
            click.echo(f"skipped {res.rows_skipped:,} invalid rows: {res.report.summary()}",
                       err=True)


@sessions.command("trading-hours")
@click.argument("session_id")
@click.argument("hours", required=False)
@click.option("--clear", is_flag=True, help="Forget the declared trading hours.")
@json_option
@pass_ctx
def trading_hours(ctx: Context, session_id: str, hours: str | None, clear: bool,
                  as_json: bool) -> None:
    """Show, declare (HOURS) or --clear when the session's market is open.

    HOURS: "OPEN-CLOSE TIMEZONE [DAYS] [closed DATE,...]", e.g. "17:00-16:00
    America/Chicago Mon-Fri closed 2026-01-19" (DAYS are trading days, named by the day a
    session closes; an overnight session opens the evening before), or the same as JSON.
    Gaps inside the closures are info in the quality report and cost nothing.
    """
    if hours is not None and clear:
        raise click.UsageError("give HOURS or --clear, not both")
    if hours is not None or clear:
        info = ctx.ws.sessions.set_trading_hours(session_id, None if clear else hours)
    else:
        info = ctx.ws.sessions.get(session_id, stats=False)
    declared = of_session(info.metadata)
    if as_json:
        emit_json({"session_id": session_id,
                   "trading_hours": declared.to_dict() if declared else None})
    else:
        click.echo(f"{session_id}: {declared if declared else 'no trading hours declared'}")


@sessions.command()
@click.argument("session_id")
@json_option
@pass_ctx
def complete(ctx: Context, session_id: str, as_json: bool) -> None:
    """Mark a session completed (recording finished)."""
    info = ctx.ws.sessions.complete(session_id)
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(f"{session_id}: {info.status}")


@sessions.command()
@click.argument("session_id")
@click.option("--reason", help="Why it failed (appended to the notes).")
@json_option
@pass_ctx
def fail(ctx: Context, session_id: str, reason: str | None, as_json: bool) -> None:
    """Mark a session failed (its data is kept)."""
    info = ctx.ws.sessions.fail(session_id, reason)
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(f"{session_id}: {info.status}")


@sessions.command()
@click.argument("session_id")
@click.option("--interval", "intervals", multiple=True, required=True,
              help="Bar interval, e.g. 1m (repeatable).")
@click.option("--symbol", "symbols", multiple=True, help="Only these symbols (repeatable).")
@json_option
@pass_ctx
def bars(ctx: Context, session_id: str, intervals: tuple[str, ...], symbols: tuple[str, ...],
         as_json: bool) -> None:
    """Build OHLCV bars from the session's ticks and store them."""
    out = {}
    for interval in split_list(intervals):
        built = ctx.ws.build_bars(session_id, interval, split_list(symbols) or None)
        out[interval] = int(len(built))
    if as_json:
        emit_json({"session_id": session_id, "bars": out})
    else:
        for interval, n in out.items():
            click.echo(f"{interval}: {n:,} bars")


@sessions.command()
@click.argument("session_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete even if the session is still active.")
@json_option
@pass_ctx
def delete(ctx: Context, session_id: str, yes: bool, force: bool, as_json: bool) -> None:
    """Delete a session and every row that hangs off it."""
    ws = ctx.ws
    try:  # not found (3) and active (4) before asking anything
        info = ws.sessions.get(session_id)
        rows = info.rows or {}
    except SessionNotFound:
        # Rows without a session row (orphans) are deleted like a session's.
        rows = {t: n for t, n in ws.store.count_rows(session_id).items() if n}
        if not rows:
            raise
        info = None
    if info is not None and info.status == ACTIVE and not force:
        raise SessionActive(session_id)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("refusing to delete without --yes (no terminal to confirm on)")
        what = "session" if info is not None else "the orphan rows (no session row) of"
        click.confirm(f"Delete {what} {session_id} ({sum(rows.values()):,} rows in "
                      f"{sum(1 for n in rows.values() if n)} tables)?", abort=True)
    res = ws.sessions.delete(session_id, force=force)
    if as_json:
        emit_json(res.to_dict())
        return
    for table, n in res.deleted.items():
        click.echo(f"{table:<26} {n:>12,}")
    click.echo(f"{'total':<26} {res.total:>12,}")
    for note in res.deferred:
        click.echo(f"deferred: {note}", err=True)


@sessions.command()
@click.option("--resume", is_flag=True,
              help="Do the work (without it, only list what is pending).")
@json_option
@pass_ctx
def purge(ctx: Context, resume: bool, as_json: bool) -> None:
    """Finish deletes and reclaim the disk of deleted rows (QuestDB).

    On QuestDB a deleted session disappears at once (its rows are relabelled in commit
    order); their disk is reclaimed by rewriting the day partitions they are in. Deletes
    killed part-way, rows that arrived for a session after its delete, and days left for
    later (an active session may be writing them, or another purge was running) are
    handled by `purge --resume`. Without --resume nothing changes: the pending work is
    listed. On DuckDB deletes are complete at once and there is never anything to purge.
    """
    progress, done = progress_bar("purge", unit="partitions")
    try:
        report = ctx.ws.sessions.purge(dry_run=not resume, progress=progress)
    finally:
        done()
    if as_json:
        emit_json({"resume": resume, **report.to_dict()})
        return
    if resume:
        for sid, per_table in report.purged.items():
            click.echo(f"purged {sid}: {sum(per_table.values()):,} rows")
        for table, n in report.reclaimed.items():
            click.echo(f"reclaimed {table}: {n:,} deleted rows")
    elif report.pending:
        click.echo("pending (run `tsanalysis sessions purge --resume` to do it):")
        for line in report.pending:
            click.echo(f"  {line}")
    for line in report.deferred:
        click.echo(f"deferred: {line}", err=True)
    if not (report.purged or report.reclaimed or report.pending or report.deferred):
        click.echo("nothing to purge")
