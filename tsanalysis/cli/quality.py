"""``tsanalysis quality ID``: assess a whole session; a score, findings, recommendations."""

from __future__ import annotations

import click

from ..errors import EXIT_QUALITY_BELOW
from ..quality import registry
from ..timeutil import iso
from ._common import (
    Context,
    emit_json,
    json_option,
    pass_ctx,
    print_table,
    progress_bar,
    split_list,
)

#: Findings printed by the human output (``--json`` has them all).
SHOWN_FINDINGS = 30


def register(cli: click.Group) -> None:
    cli.add_command(quality)


@click.command()
@click.argument("session_id")
@click.option("--symbol", "symbols", multiple=True, metavar="SYM",
              help="Only this symbol (repeatable, or comma-separated).")
@click.option("--check", "checks", multiple=True, metavar="NAME",
              help="Only this check (repeatable, or comma-separated); see "
                   "`tsanalysis plugins`. Default: every registered check.")
@click.option("--gap-threshold", metavar="DURATION",
              help="Report intervals longer than this as gaps (e.g. 30s, 500ms, 5m) instead "
                   "of 5 cadences.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="SCORE",
              help="Exit with status 5 when the session's score is below SCORE (for cron).")
@json_option
@pass_ctx
def quality(ctx: Context, session_id: str, symbols: tuple[str, ...], checks: tuple[str, ...],
            gap_threshold: str | None, fail_under: float | None, as_json: bool) -> None:
    """Assess the quality of a whole session: completeness, gaps, timestamps, prices,
    stale runs, volume, order book, bar consistency; a 0-100 score and recommendations.

    Exit status 5 when --fail-under is given and the score is below it.
    """
    names = split_list(checks) or None
    if names:
        registry.select(names)  # an unknown check is refused before any work
    progress, done = progress_bar("quality", unit="checks")
    try:
        report = ctx.ws.quality.run(session_id, split_list(symbols) or None, checks=names,
                                gap_threshold=gap_threshold, progress=progress)
    finally:
        done()
    if as_json:
        emit_json(report.to_dict())
    else:
        _print(report)
    for e in report.errors:
        click.echo(f"warning: check {e['check']} failed on {e['symbol']}: {e['error']}",
                   err=True)
    if fail_under is not None and (report.score is None or report.score < fail_under):
        score = "n/a" if report.score is None else f"{report.score:.1f}"
        click.echo(f"quality score {score} is under {fail_under:g}", err=True)
        click.get_current_context().exit(EXIT_QUALITY_BELOW)


def _print(report) -> None:  # noqa: ANN001 - QualityReport
    score = "n/a" if report.score is None else f"{report.score:.1f}/100"
    click.echo(f"session {report.session_id}: quality score {score}")
    click.echo("")
    summary = report.summary_frame()
    print_table(summary.to_dict("records"), list(summary.columns))
    basis = report.basis_frame()
    if len(basis):
        click.echo("")
        click.echo("how each check scored (share of the data usable; critical rows count "
                   "twice, info rows a tenth):")
        print_table(basis.to_dict("records"), ["symbol", "check", "weight", "basis"])
    if report.recommendations:
        click.echo("")
        click.echo("recommendations:")
        for line in report.recommendations:
            click.echo(f"  - {line}")
    if report.findings:
        frame = report.findings_frame()
        click.echo("")
        more = len(frame) - SHOWN_FINDINGS
        click.echo(f"findings ({len(frame):,}" + (f"; first {SHOWN_FINDINGS}, --json for all"
                                                   if more > 0 else "") + "):")
        rows = []
        for f in frame.head(SHOWN_FINDINGS).to_dict("records"):
            f["start"], f["end"] = iso(f["start"]), iso(f["end"])
            rows.append(f)
        print_table(rows, ["check", "symbol", "start", "end", "count", "severity", "detail"])
