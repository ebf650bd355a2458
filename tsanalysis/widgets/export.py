"""ExportPanel: export the selected session to a file in a registered format."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets

from .. import schema
from ..errors import InvalidInput
from ..timeutil import iso, to_utc
from ._base import Panel, esc, fmt_ts, html_table, plain_text
from ._form import ParamForm

if TYPE_CHECKING:
    from ..export import Exporter, ExportResult
    from ..workspace import Workspace

#: Tables a session's rows live in, in the order people read them (a bundle's order).
TABLES = tuple(t.name for t in reversed(schema.CHILD_TABLES))
#: Where the panel proposes to write, relative to the kernel's working directory (the
#: notebook's folder in Jupyter, so the link to the file works).
DEFAULT_DIRECTORY = "exports"


class ExportPanel(Panel):
    """Export the selected session: a registered format (plugins included), a scope, a file.

    Pick the format (``csv``, ``jsonl``, ``json``, ``parquet``: one table; ``zip``: every
    table chosen, with a manifest of checksums; or a plugin's), the tables, symbols (none
    ticked: all) and an optional time range (``start`` inclusive, ``end`` exclusive, ISO
    8601, UTC when no zone is given), the format's options and the destination, then press
    Export. Rows are streamed with a progress bar (Cancel leaves nothing behind: the file
    is written under a temporary name and renamed at the end). The panel then links to the
    file and lists what it holds (files, rows, bytes, SHA-256). An existing file is refused
    unless Overwrite is ticked; that error, like any other, is shown in the panel.

    ``directory``: where file names are proposed (default ``exports/`` under the kernel's
    working directory, created on first export).

    >>> panel = ExportPanel(ws, session_id=sid)
    >>> panel.set_scope(format="parquet", tables=["tick_prices"], symbols=["BTC/USDT"])
    >>> panel.export().sha256                # what the Export button does
    """

    title: ClassVar[str] = "Export"

    def __init__(self, ws: Workspace, session_id: str | None = None, *,
                 directory: str | os.PathLike[str] = DEFAULT_DIRECTORY,
                 background: bool | None = None, **kwargs: Any):
        self._directory = Path(directory)
        super().__init__(ws, session_id, background=background, **kwargs)

    def _build(self) -> Sequence[widgets.Widget]:
        from ..export import exporters

        #: The result of the last export done in this panel.
        self.result: ExportResult | None = None
        self._exporters: dict[str, Exporter] = {}
        self._auto_path = ""
        self._symbols_of: str | None = None
        style = {"description_width": "7em"}
        self._format = widgets.Dropdown(description="format", options=[], style=style,
                                        layout=widgets.Layout(width="18em"))
        self._format.add_class("tsanalysis-export-format")
        self._format_doc = widgets.HTML()
        self._tables = widgets.SelectMultiple(description="tables", options=TABLES, rows=5,
                                              style=style, layout=widgets.Layout(width="22em"))
        self._tables.add_class("tsanalysis-export-tables")
        self._symbols = widgets.SelectMultiple(description="symbols", options=[], rows=5,
                                               style=style, layout=widgets.Layout(width="18em"))
        self._symbols.add_class("tsanalysis-export-symbols")
        self._start = widgets.Text(description="start", placeholder="first row", style=style,
                                   layout=widgets.Layout(width="22em"))
        self._end = widgets.Text(description="end", placeholder="after the last row",
                                 style=style, layout=widgets.Layout(width="22em"))
        self._scope_error = widgets.HTML()
        self._options_box = widgets.VBox()
        self._form = ParamForm([])
        self._path = widgets.Text(description="file", style=style,
                                  layout=widgets.Layout(width="40em"))
        self._path.add_class("tsanalysis-export-path")
        self._path_note = widgets.HTML()
        self._overwrite = widgets.Checkbox(value=False, description="Overwrite an existing file",
                                           indent=False, layout=widgets.Layout(width="auto"))
        self._export_button = widgets.Button(description="Export", icon="download",
                                             button_style="primary")
        self._export_button.add_class("tsanalysis-export-button")
        self._on_click(self._export_button, self.export, label="Exporting", unit="rows",
                       cancellable=True)
        self._why = widgets.HTML()
        self._result = widgets.HTML()
        self._result.add_class("tsanalysis-export-result")
        self._link = widgets.Output()
        self._link.add_class("tsanalysis-export-link")
        for w in (self._tables, self._symbols, self._start, self._end, self._overwrite):
            w.observe(lambda _: self._scope_changed(), names="value")
        for w in (self._path, self._overwrite):
            w.observe(lambda _: self._path_changed(), names="value")
        self._format.observe(self._format_changed, names="value")
        self._exporters = exporters()
        self._format.options = list(self._exporters)
        self._format.value = "parquet" if "parquet" in self._exporters else \
            next(iter(self._exporters), None)
        return [widgets.HBox([self._format, self._format_doc]),
                widgets.HBox([self._tables, self._symbols]),
                widgets.HBox([widgets.VBox([self._start, self._end]), self._scope_error]),
                self._options_box, widgets.HBox([self._path, self._path_note]),
                self._overwrite, widgets.HBox([self._export_button, self._why]),
                self._link, self._result]

    # -- public ----------------------------------------------------------------------------

    @property
    def formats(self) -> list[str]:
        """The registered formats offered."""
        return list(self._exporters)

    @property
    def exporter(self) -> Exporter | None:
        """The format chosen."""
        return self._exporters.get(self._format.value) if self._format.value else None

    @property
    def options_form(self) -> ParamForm:
        """The chosen format's options."""
        return self._form

    @property
    def path(self) -> Path | None:
        """The destination typed (None when empty)."""
        text = self._path.value.strip()
        return Path(text).expanduser() if text else None

    def set_scope(self, *, format: str | None = None, tables: Sequence[str] | None = None,
                  symbols: Sequence[str] | None = None, start: Any = None, end: Any = None,
                  path: str | os.PathLike[str] | None = None,
                  overwrite: bool | None = None) -> None:
        """Set the form's fields from code (None leaves a field as it is; ``symbols=[]``:
        every symbol)."""
        if format is not None:
            if format not in self._exporters:
                raise InvalidInput(f"unknown export format {format!r}; registered formats: "
                                   f"{', '.join(self._exporters)}")
            self._format.value = format
        if tables is not None:
            self._tables.value = tuple(tables)
        if symbols is not None:
            self._symbols.value = tuple(symbols)
        if start is not None:
            self._start.value = str(iso(to_utc(start, "start")) if not isinstance(start, str)
                                    else start)
        if end is not None:
            self._end.value = str(iso(to_utc(end, "end")) if not isinstance(end, str) else end)
        if path is not None:
            self._path.value = str(path)
        if overwrite is not None:
            self._overwrite.value = bool(overwrite)

    def scope(self) -> dict[str, Any]:
        """The arguments of :meth:`Workspace.export` the form gives (raises on bad input)."""
        exporter = self.exporter
        if exporter is None:
            raise InvalidInput("no export format registered")
        tables = list(self._tables.value)
        if exporter.single_table and len(tables) > 1:
            raise InvalidInput(f"format {exporter.name!r} holds one table; {len(tables)} are "
                               "selected (pick one, or use a bundle format such as zip)")
        start = to_utc(self._start.value.strip(), "start") if self._start.value.strip() \
            else None
        end = to_utc(self._end.value.strip(), "end") if self._end.value.strip() else None
        if start is not None and end is not None and end <= start:
            raise InvalidInput(f"end {iso(end)} is not after start {iso(start)}")
        return {"format": exporter.name, "tables": tables or None,
                "symbols": list(self._symbols.value) or None, "start": start, "end": end,
                "options": self._form.values(), "overwrite": bool(self._overwrite.value)}

    def export(self) -> ExportResult:
        """Export the selected session with the form's settings; show and return the result.

        Raises :class:`~tsanalysis.errors.InvalidInput` for a bad scope or destination, an
        existing file without Overwrite (nothing is written in either case).
        """
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: select one to export")
        args = self.scope()
        path = self.path
        if path is None:
            raise InvalidInput("no destination: type a file name")
        if not path.parent.exists() and _same_dir(path.parent, self._directory):
            path.parent.mkdir(parents=True)  # the panel's own proposal; others must exist
        result = self._ws.export.run(sid, args.pop("format"), path, progress=self.progress,
                                 **args)
        self.result = result
        self._show(result)
        self.set_status(f"Exported <code>{esc(sid)}</code>: {result.rows:,} rows, "
                        f"{_size(result.bytes)} in {result.elapsed_s:.1f} s", kind="success")
        self._path_changed()
        return result

    @property
    def link_html(self) -> str:
        """The HTML of the link to the last file written ("" when none)."""
        return "".join(o.get("data", {}).get("text/html", "") for o in self._link.outputs)

    @property
    def result_text(self) -> str:
        """The result as plain text."""
        return plain_text(self._result.value)

    def refresh(self) -> None:
        """Reload the selected session's symbols and time range."""
        from ..export import exporters

        known = exporters()
        if list(known) != list(self._exporters):  # a plugin came or went
            self._exporters = known
            current = self._format.value
            self._format.options = list(known)
            if current in known:
                self._format.value = current
        sid = self.session_id
        if sid is None:
            self._symbols.options = []
            self._start.placeholder, self._end.placeholder = "first row", "after the last row"
        else:
            info = self._ws.sessions.get(sid)
            chosen = [s for s in self._symbols.value if s in info.symbols] \
                if self._symbols_of == sid else []
            self._symbols.options = list(info.symbols)
            self._symbols.value = tuple(chosen)
            self._start.placeholder = f"first row ({fmt_ts(info.first_ts)})" \
                if info.first_ts is not None else "first row"
            self._end.placeholder = f"after the last row ({fmt_ts(info.last_ts)})" \
                if info.last_ts is not None else "after the last row"
        self._symbols_of = sid
        self._propose_path()
        self._update_controls()

    # -- internals -------------------------------------------------------------------------

    def _session_changed(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:  # a result belongs to the session it exported
            self.result = None
            self._result.value = ""
            self._link.outputs = ()
        self._start.value = self._end.value = ""
        super()._session_changed(change)

    def _format_changed(self, change: dict[str, Any]) -> None:
        old = self._exporters.get(change["old"]) if change["old"] else None
        new = self.exporter
        if new is None:
            return
        if new.doc:
            self._format_doc.value = f'<span style="color:#6b7280">{esc(new.doc)}</span>'
        else:
            self._format_doc.value = ""
        # follow the format's default tables unless the user chose others
        chosen = tuple(self._tables.value)
        if old is None or chosen == _default_tables(old) or \
                (new.single_table and len(chosen) > 1):
            self._tables.value = _default_tables(new)
        # the core takes options as given (a writer parses its own): so does the form
        self._form = ParamForm(new.params, check=lambda _name, value: value,
                               on_change=self._update_controls)
        self._options_box.children = [widgets.HTML(f"<b>{esc(new.name)} options</b>"),
                                      self._form.widget] if new.options else []
        self._scope_changed()

    def _scope_changed(self) -> None:
        self._propose_path()
        self._update_controls()

    def _propose_path(self) -> None:
        """A file name from the session, table and format, unless the user typed one."""
        if not hasattr(self, "_path"):
            return
        exporter, sid = self.exporter, self.session_id
        if exporter is None or sid is None:
            proposal = ""
        else:
            tables = list(self._tables.value) or list(_default_tables(exporter))
            stem = sid if not exporter.single_table else f"{sid}_{tables[0]}"
            if self._symbols.value and len(self._symbols.value) < len(self._symbols.options):
                stem += "_" + "_".join(s.replace("/", "") for s in self._symbols.value)
            proposal = str(self._directory / f"{stem}{exporter.suffix}")
        if self._path.value in ("", self._auto_path):
            self._path.value = proposal
        self._auto_path = proposal

    def _path_changed(self) -> None:
        path = self.path
        if path is not None and (path.exists() or path.is_symlink()):
            note = ("exists: it will be replaced" if self._overwrite.value
                    else "exists: tick Overwrite to replace it")
            self._path_note.value = f'<span style="color:#9a6700">{esc(note)}</span>'
        else:
            self._path_note.value = ""
        self._update_controls()

    def _problem(self) -> str:
        """Why Export is disabled now ("" when it is not)."""
        if self.session_id is None:
            return "select a session"
        if self.exporter is None:
            return "no export format registered"
        if self.path is None:
            return "type a file name"
        try:
            self.scope()
        except InvalidInput as e:
            return str(e)
        return ""

    def _update_controls(self) -> None:
        if not hasattr(self, "_why"):
            return
        problem = self._problem()
        self._export_button.disabled = self.busy or bool(problem)
        self._why.value = f'<span style="color:#6b7280">{esc(problem)}</span>' \
            if problem else ""

    def _show(self, result: ExportResult) -> None:
        head = [["file", str(result.path)], ["format", result.format],
                ["tables", ", ".join(result.tables)], ["symbols", ", ".join(result.symbols)],
                ["rows", f"{result.rows:,}"], ["bytes", f"{result.bytes:,}"],
                ["sha256", result.sha256], ["time", f"{result.elapsed_s:.2f} s"]]
        html = html_table(["", ""], head, align="ll")
        if result.members:
            rows = [[m.path, m.table or "", m.symbol or "", f"{m.rows:,}", f"{m.bytes:,}",
                     m.sha256] for m in result.members]
            html += (f"<b>{len(rows)} member(s)</b>"
                     + html_table(["member", "table", "symbol", "rows", "bytes", "sha256"],
                                  rows, align="lllrrl"))
        self._result.value = html
        self._link.outputs = (_file_link(result.path),)


def _default_tables(exporter: Exporter) -> tuple[str, ...]:
    from ..export.runner import DEFAULT_TABLE

    return (DEFAULT_TABLE,) if exporter.single_table else TABLES


def _same_dir(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _file_link(path: Path) -> dict[str, Any]:
    """An output showing a link to ``path``: IPython's FileLink when the file is under the
    kernel's working directory (Jupyter serves it relative to the notebook), else the path.
    """
    from IPython.display import FileLink

    absolute = Path(os.path.abspath(path))
    rel = os.path.relpath(absolute, os.getcwd())
    if rel.startswith(".."):
        html = (f"Written to <code>{esc(absolute)}</code> (outside the notebook's folder: "
                "no link)")
    else:
        html = "Download: " + FileLink(rel, result_html_prefix="")._repr_html_()
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": html, "text/plain": str(absolute)}}
