"""``tsanalysis indicators ...``: list, compute, history, update."""

from __future__ import annotations

import csv
import sys

import click
import numpy as np
import pyarrow as pa

from ..errors import InvalidInput
from ..timeutil import micros
from ._common import Context, emit_json, json_option, pass_ctx, print_table, progress_bar


def register(cli: click.Group) -> None:
    cli.add_command(indicators)


@click.group()
def indicators() -> None:
    """Technical indicators: list, compute and store, read history, update."""


@indicators.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every registered indicator: name, plugin, parameters, inputs, outputs."""
    from ..indicators import registry

    entries = list(registry())
    if as_json:
        emit_json([{**r.indicator.describe(), "plugin": r.plugin} for r in entries])
        return
    print_table([{"name": r.indicator.name, "plugin": _short(r.plugin),
                  "params": ", ".join(f"{p.name}={p.default}" for p in r.indicator.params),
                  "inputs": ",".join(r.indicator.inputs),
                  "outputs": ",".join(r.indicator.outputs)} for r in entries],
                ["name", "plugin", "params", "inputs", "outputs"])


def _short(plugin: str) -> str:
    return "builtin" if plugin.startswith("tsanalysis.default_plugins.") else plugin


def _parse_params(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--param expects name=value, got {item!r}")
        out[name.strip()] = value
    return out


@indicators.command()
@click.argument("session_id")
@click.option("--symbol", required=True, help="Symbol to compute on, e.g. BTC/USDT.")
@click.option("--indicator", "name", required=True, help="Indicator name, e.g. rsi, macd.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter (repeatable), e.g. --param timeperiod=21.")
@click.option("--interval", help="Compute on OHLCV bars at this interval (e.g. 1m); "
                                 "default: on the ticks.")
@json_option
@pass_ctx
def compute(ctx: Context, session_id: str, symbol: str, name: str, params: tuple[str, ...],
            interval: str | None, as_json: bool) -> None:
    """Compute an indicator over a session and store it (recomputing replaces)."""
    progress, done = progress_bar(f"{name} {symbol}", enabled=None if not as_json else False)
    try:
        res = ctx.ws.indicators.compute(session_id, symbol, name, _parse_params(params),
                                        interval=interval, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(res.to_dict())
        return
    for output, iid in res.outputs.items():
        click.echo(f"{iid}  {res.rows:,} rows  ({output}; {res.source})")


@indicators.command()
@click.argument("session_id")
@click.option("--symbol", required=True, help="Symbol, e.g. BTC/USDT.")
@click.option("--indicator-id", "indicator_id", required=True,
              help="Stored id, e.g. rsi_14 or macd_12_26_9_macdsignal.1m.")
@click.option("--start", help="From this time (inclusive, ISO-8601; UTC if no zone).")
@click.option("--end", help="Until this time (exclusive).")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many rows.")
@click.option("--offset", type=click.IntRange(min=0), help="Skip this many rows first.")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (ts,value).")
@pass_ctx
def history(ctx: Context, session_id: str, symbol: str, indicator_id: str, start: str | None,
            end: str | None, limit: int | None, offset: int | None, as_json: bool,
            as_csv: bool) -> None:
    """Stored values of one indicator, in time order, with a time range and paging."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive")
    from ..indicators import history_arrow

    t = history_arrow(ctx.ws.store, session_id, symbol, indicator_id, start=start, end=end,
                      limit=limit, offset=offset)
    stamps = iso_strings(t.column("ts"))
    values = t.column("value").to_pylist()  # NULL (warm-up) -> None -> JSON null
    if as_json:
        emit_json({"session_id": session_id, "symbol": symbol, "indicator_id": indicator_id,
                   "source": ctx.ws.backend,
                   "rows": [{"ts": s, "value": v} for s, v in zip(stamps, values, strict=True)]})
    elif as_csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["ts", "value"])
        w.writerows(zip(stamps, ("" if v is None else repr(v) for v in values), strict=True))
    else:
        print_table([{"ts": s, "value": v} for s, v in zip(stamps, values, strict=True)],
                    ["ts", "value"])


def iso_strings(ts: pa.ChunkedArray | pa.Array) -> list[str]:
    """ISO-8601 UTC text of a timestamp column, as :func:`tsanalysis.timeutil.iso` writes
    one value (a ``Z``; microseconds when not zero), vectorised for long histories."""
    arr = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
    us = micros(arr)
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    text = np.where(us % 1_000_000 == 0, text.astype("U19"), text)
    return np.char.add(text, "Z").tolist()


@indicators.command()
@click.argument("session_id")
@click.option("--symbol", "symbols", multiple=True, help="Only this symbol (repeatable).")
@json_option
@pass_ctx
def update(ctx: Context, session_id: str, symbols: tuple[str, ...], as_json: bool) -> None:
    """Bring every indicator stored for a session up to date after new data arrived."""
    progress, done = progress_bar("update", unit="series")
    try:
        res = ctx.ws.indicators.update(session_id, list(symbols) or None, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(res.to_dict())
        return
    if not res.updated and not res.skipped:
        click.echo(f"no indicators stored for session {session_id}")
    for u in res.updated:
        ids = ", ".join(u.indicator_ids)
        click.echo(f"{u.symbol}  {ids}: {u.rows:,} rows from {u.since or '-'} ({u.mode})")
    for s in res.skipped:
        click.echo(f"skipped {s['symbol']} {s['indicator_id']}: {s['reason']}", err=True)
    for note in res.notes:
        click.echo(f"note: {note}", err=True)


@indicators.command("delete")
@click.argument("session_id")
@click.option("--indicator-id", "indicator_ids", multiple=True, required=True,
              help="A stored indicator id (repeatable), e.g. rsi_14.")
@click.option("--symbol", "symbols", multiple=True, help="Only this symbol (repeatable).")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete even if the session is still active.")
@click.option("--grace", metavar="DURATION", help="Keep the rows, hidden, for this long "
                                                 "(`tsanalysis restore` brings them back).")
@json_option
@pass_ctx
def delete(ctx: Context, session_id: str, indicator_ids: tuple[str, ...],
           symbols: tuple[str, ...], dry_run: bool, yes: bool, force: bool,
           grace: str | None, as_json: bool) -> None:
    """Delete stored indicator ids (the same as `tsanalysis delete ID --indicator-id X`)."""
    from .delete import run_delete

    run_delete(ctx, session_id, yes=yes, force=force, dry_run=dry_run, as_json=as_json,
               grace=grace, indicator_ids=list(indicator_ids), symbols=list(symbols) or None)
