"""``tsanalysis export`` and ``tsanalysis import``: sessions to files and back."""

from __future__ import annotations

import click

from ..errors import InvalidInput
from ._common import Context, emit_json, json_option, pass_ctx, progress_bar, split_list


def register(cli: click.Group) -> None:
    cli.add_command(export)
    cli.add_command(import_)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


@click.command()
@click.argument("session_id")
@click.option("--format", "fmt", required=True, metavar="FORMAT",
              help="csv, jsonl, json, parquet, zip, or a plugin's format.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The file to write (refused if it exists, unless --overwrite).")
@click.option("--symbol", "symbols", multiple=True, metavar="SYM",
              help="Only this symbol (repeatable, or comma-separated). Default: every one.")
@click.option("--tables", metavar="T,...",
              help="Tables by schema name (tick_prices, tick_orderbook, aggregated_ohlcv, "
                   "indicators, backtest_results). Default: tick_prices for one-table "
                   "formats, all for zip.")
@click.option("--columns", metavar="C,...",
              help="Only these columns (session_id and symbol are always kept).")
@click.option("--start", metavar="T", help="From this instant (inclusive), ISO 8601.")
@click.option("--end", metavar="T", help="Up to this instant (exclusive), ISO 8601.")
@click.option("--inner", metavar="FORMAT", help="zip: format of the members (default parquet).")
@click.option("--manifest", type=click.Choice(["manifest", "datapackage"]),
              help="zip: manifest.json (default) or a Frictionless datapackage.json.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="A format option, e.g. -o compression=zstd for parquet (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@json_option
@pass_ctx
def export(ctx: Context, session_id: str, fmt: str, out: str, symbols: tuple[str, ...],
           tables: str | None, columns: str | None, start: str | None, end: str | None,
           inner: str | None, manifest: str | None, options: tuple[str, ...],
           overwrite: bool, as_json: bool) -> None:
    """Export a session to one file, streamed and written atomically.

    One-table formats (csv, jsonl, json, parquet) hold one table with its session_id,
    symbol and seq columns; `tsanalysis sessions import` reads them back. zip holds every
    selected table, one member per table and symbol, and a manifest with checksums;
    `tsanalysis import` restores it.
    """
    from ..export import get_exporter

    opts = list(options)
    exporter = get_exporter(fmt)  # an unknown format lists the registered ones (exit 1)
    for name, value in (("inner", inner), ("manifest", manifest)):
        if value is not None:
            if name not in exporter.options:
                raise InvalidInput(f"--{name} applies to bundle formats (zip), not {fmt!r}")
            opts.append(f"{name}={value}")
    if inner is not None:
        get_exporter(inner)
    progress, done = progress_bar(f"export {session_id}")
    try:
        res = ctx.ws.export.run(session_id, fmt, out, symbols=split_list(symbols) or None,
                            tables=tables, start=start, end=end, columns=columns,
                            overwrite=overwrite, options=opts, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"wrote {res.path} ({res.format}): {res.rows:,} rows, "
               f"{_human_bytes(res.bytes)}, sha256 {res.sha256}")
    for m in res.members:
        click.echo(f"  {m.path}: {m.rows:,} rows, {_human_bytes(m.bytes)}")


@click.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--session", "session_id", metavar="NEW_ID",
              help="Import under this session id (default: the id in the bundle).")
@json_option
@pass_ctx
def import_(ctx: Context, bundle: str, session_id: str | None, as_json: bool) -> None:
    """Restore a session from a zip bundle written by `tsanalysis export --format zip`.

    Checks every member against the manifest's checksums, validates the rows like any
    import, and writes the session and all its tables, or nothing.
    """
    progress, done = progress_bar(f"import {bundle}")
    try:
        res = ctx.ws.import_bundle(bundle, session_id, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"imported session {res.session_id}: {res.total:,} rows from "
               f"{res.members} files")
    for table, n in res.rows.items():
        if n:
            click.echo(f"  {table:<26} {n:>12,}")
