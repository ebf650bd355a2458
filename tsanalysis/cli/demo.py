"""``tsanalysis demo``: write a deterministic demo session with known defects."""

from __future__ import annotations

import click

from .. import demo as _demo
from ._common import Context, emit_json, json_option, pass_ctx, progress_bar, split_list


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--session", "session_id", help="Session id (default: generated demo-...).")
@click.option("--symbols", default=",".join(_demo.DEFAULT_SYMBOLS), show_default=True,
              help="Comma-separated symbols.")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=4.0,
              show_default=True, help="Hours of 1 Hz ticks per symbol (80 h = 288,000).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--start", default=_demo.DEFAULT_START, show_default=True,
              help="First timestamp (ISO-8601, UTC).")
@click.option("--no-defects", is_flag=True, help="Generate clean data.")
@json_option
@pass_ctx
def demo(ctx: Context, session_id: str | None, symbols: str, hours: float, seed: int,
         start: str, no_defects: bool, as_json: bool) -> None:
    """Write a completed demo session (ticks, quotes, 1m bars) and print its id."""
    progress, done = progress_bar("demo")
    try:
        info = ctx.ws.demo(session_id, split_list(symbols), hours, seed, start=start,
                           defects=not no_defects, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(info.session_id)
