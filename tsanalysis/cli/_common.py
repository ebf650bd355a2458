"""What every subcommand shares: the workspace, JSON and table output, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from ..store import resolve_url
from ..store.base import Progress
from ..workspace import Workspace, connect


@dataclass
class Context:
    """Per-invocation state: the store URL and the workspace, opened on first use."""

    db: str | None = None
    debug: bool = False
    lock_timeout: float | None = None
    _ws: Workspace | None = field(default=None, repr=False)

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            options: dict[str, Any] = {}
            if resolve_url(self.db).startswith("duckdb:"):
                # a wait for the file says so on stderr, in one line
                options = {"lock_timeout": self.lock_timeout, "on_wait": _tell}
            self._ws = connect(self.db, **options)
        return self._ws

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()


def _tell(message: str) -> None:
    click.echo(message, err=True)


pass_ctx = click.make_pass_decorator(Context)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, default=str, allow_nan=False))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain aligned table (no dependency, pipe-friendly)."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def split_list(values: Iterable[str] | str | None) -> list[str]:
    """``A,B`` or repeated options -> ``["A", "B"]``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def progress_bar(desc: str, unit: str = "rows", enabled: bool | None = None
                 ) -> tuple[Progress | None, Callable[[], None]]:
    """A tqdm progress callback on stderr when it is a terminal (or when ``enabled``)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda: None
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit=unit, unit_scale=True, file=sys.stderr, leave=False)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return update, bar.close
