"""``tsanalysis backtest ...`` (run, list, show, delete) and ``tsanalysis strategies list``."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from ..errors import InvalidInput
from ._common import Context, emit_json, json_option, pass_ctx, print_table, progress_bar
from .indicators import _parse_params, _short


def register(cli: click.Group) -> None:
    cli.add_command(backtest)
    cli.add_command(strategies)


@click.group()
def strategies() -> None:
    """Backtest strategies registered by plugins."""


@strategies.command("list")
@json_option
def strategies_list(as_json: bool) -> None:
    """Every registered strategy: name, plugin, parameters (name=default)."""
    from ..backtest.strategy import REGISTRY

    entries = list(REGISTRY.entries().values())
    if as_json:
        emit_json([{**r.item.describe(), "plugin": r.plugin} for r in entries])
        return
    print_table([{"name": r.item.name, "plugin": _short(r.plugin),
                  "params": ", ".join(f"{p.name}={p.default}" for p in r.item.params),
                  "doc": r.item.doc.split(". ")[0]} for r in entries],
                ["name", "plugin", "params", "doc"])


@click.group()
def backtest() -> None:
    """Backtests on a session's recorded prices: run, list, show, delete."""


def _grid(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise InvalidInput(f"--grid expects name=v1,v2,..., got {item!r}")
        out[name.strip()] = values
    return out


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows as dicts, NaN and NaT as None (JSON has neither)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


#: Headline metrics printed after a run and in the leaderboard.
HEADLINE = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "fees",
            "buy_and_hold")


@backtest.command()
@click.argument("session_id")
@click.option("--symbol", required=True, help="Symbol to trade, e.g. BTC/USDT.")
@click.option("--strategy", required=True, help="Strategy name (tsanalysis strategies list).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A strategy parameter (repeatable), e.g. --param timeperiod=21.")
@click.option("--grid", "grid", multiple=True, metavar="NAME=V1,V2,...",
              help="Run every combination of these values (repeatable); each run is "
                   "stored and a leaderboard printed.")
@click.option("--interval", help="Trade on OHLCV bars at this interval (e.g. 1m); default: "
                                 "on the ticks.")
@click.option("--fill", type=click.Choice(["next", "quotes", "same_point"]), default="next",
              show_default=True,
              help="next: the next trade (bars: the next open); quotes: the ask/bid of the "
                   "first quote after the decision; same_point: the decision's own price "
                   "(a look-ahead, for comparison only).")
@click.option("--fee-bps", type=float, default=0.0, show_default=True,
              help="Fee per fill, basis points of the traded notional.")
@click.option("--slippage-bps", type=float, default=0.0, show_default=True,
              help="Execution price moved this much against each order.")
@click.option("--size", type=float, default=1.0, show_default=True,
              help="Fraction of equity a full position holds (0 < size <= 1).")
@click.option("--long-only", is_flag=True, help="Never short (short targets become flat).")
@click.option("--cash", type=float, default=10_000.0, show_default=True,
              help="Starting equity.")
@click.option("--metric", default="sharpe", show_default=True,
              help="What --grid ranks by.")
@json_option
@pass_ctx
def run(ctx: Context, session_id: str, symbol: str, strategy: str, params: tuple[str, ...],
        grid: tuple[str, ...], interval: str | None, fill: str, fee_bps: float,
        slippage_bps: float, size: float, long_only: bool, cash: float, metric: str,
        as_json: bool) -> None:
    """Run a strategy on a session's symbol and store the run (the same run replaces)."""
    settings: dict[str, Any] = {"interval": interval, "fill": fill, "fee_bps": fee_bps,
                                "slippage_bps": slippage_bps, "size": size,
                                "long_only": long_only, "cash": cash}
    bt = ctx.ws.backtests
    if grid:
        bar, close = progress_bar("backtests", unit="runs", enabled=None if not as_json
                                  else False)
        try:
            res = bt.grid(session_id, symbol, strategy, _grid(grid), _parse_params(params),
                          metric=metric, progress=bar, **settings)
        finally:
            close()
        board = res.leaderboard
        if as_json:
            emit_json({"metric": metric, "runs": [r.to_dict() for r in res.runs],
                       "leaderboard": list(board["backtest_id"])})
            return
        click.echo(f"{len(res.runs)} runs of {strategy} on {symbol}, best {metric} first:")
        print_table(_records(board), list(board.columns))
        return
    res = bt.run(session_id, symbol, strategy, _parse_params(params), **settings)
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"{res.backtest_id}  {strategy} on {symbol}  "
               f"({res.metrics['points']:,} points, {res.metrics['fills']:,} fills, "
               f"{res.metrics['cancelled_signals']:,} cancelled by gaps)")
    print_table([{k: res.metrics.get(k) for k in HEADLINE}], list(HEADLINE))


@backtest.command("list")
@click.argument("session_id")
@click.option("--symbol", help="Only runs on this symbol.")
@json_option
@pass_ctx
def list_(ctx: Context, session_id: str, symbol: str | None, as_json: bool) -> None:
    """The stored runs of a session, with their headline metrics."""
    runs = ctx.ws.backtests.list(session_id, symbol)
    if as_json:
        emit_json(_records(runs))
        return
    if runs.empty:
        click.echo(f"no backtests stored in session {session_id}")
        return
    print_table(runs.drop(columns=["parameters", "metrics"]).to_dict("records"),
                [c for c in runs.columns if c not in ("parameters", "metrics")])


@backtest.command()
@click.argument("session_id")
@click.argument("backtest_id")
@click.option("--trades", "what", flag_value="trades", help="The trades, as CSV.")
@click.option("--equity", "what", flag_value="equity", help="The equity curve, as CSV.")
@json_option
@pass_ctx
def show(ctx: Context, session_id: str, backtest_id: str, what: str | None,
         as_json: bool) -> None:
    """One stored run: its settings and metrics, or its trades or equity curve (CSV)."""
    bt = ctx.ws.backtests
    if what:
        frame = (bt.trades if what == "trades" else bt.equity)(session_id, backtest_id)
        if as_json:
            emit_json(_records(frame))
        else:
            frame.to_csv(sys.stdout, index=False, quoting=csv.QUOTE_MINIMAL)
        return
    record = bt.show(session_id, backtest_id)
    if as_json:
        emit_json(record)
        return
    click.echo(f"{backtest_id}: {record['strategy']} on {record['symbol']}")
    p = record["parameters"]
    click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in p.get("params", {}).items()))
    click.echo("settings:   " + ", ".join(f"{k}={v}" for k, v in p.get("settings", {}).items()))
    print_table([{"metric": k, "value": v} for k, v in record["metrics"].items()],
                ["metric", "value"])


@backtest.command()
@click.argument("session_id")
@click.argument("backtest_id")
@click.option("--force", is_flag=True, help="Delete even if the session is still active.")
@json_option
@pass_ctx
def delete(ctx: Context, session_id: str, backtest_id: str, force: bool, as_json: bool) -> None:
    """Remove one stored run (the same as `tsanalysis delete ID --backtest-id B --yes`)."""
    rows = ctx.ws.backtests.delete(session_id, backtest_id, force=force)
    if as_json:
        emit_json({"session_id": session_id, "backtest_id": backtest_id, "rows": rows})
        return
    click.echo(f"deleted backtest {backtest_id} of session {session_id} ({rows:,} rows)")
