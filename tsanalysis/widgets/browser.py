"""SessionBrowser: every session with its status, symbols, row counts and time range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import ipywidgets as widgets
import pandas as pd

from .. import schema
from ..errors import SessionNotFound
from ._base import Panel, esc, fmt_ts, html_table, safe_url

#: Child tables as columns of the overview, in the order people read them.
TABLE_COLUMNS = tuple(t.name for t in reversed(schema.CHILD_TABLES))


def session_label(row: Any) -> str:
    """One line per session in the selector: id, status, symbols, total rows."""
    total = sum(int(getattr(row, t)) for t in TABLE_COLUMNS)
    return f"{row.session_id} · {row.status} · {row.symbols} · {total:,} rows"


class SessionBrowser(Panel):
    """Sessions of the store: pick one; see its rows per table and symbol and time range.

    The selected session is :attr:`session_id` (link it to other panels, as the Dashboard
    does). The list follows every change made through this workspace; press Refresh to
    see changes made elsewhere (another process, the command line).

    >>> browser = SessionBrowser(ws)
    >>> browser.session_ids          # every session, oldest first
    >>> browser.select(browser.session_ids[-1])
    """

    title: ClassVar[str] = "Sessions"
    watch: ClassVar[str] = "all"

    def _build(self) -> Sequence[widgets.Widget]:
        self._frame = pd.DataFrame()
        self._setting_options = False
        self._refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                              tooltip="Reload the sessions from the store")
        self._on_click(self._refresh_button, self.refresh, label="Loading sessions")
        self._count = widgets.HTML()
        self._select = widgets.Select(options=[], value=None, rows=8,
                                      layout=widgets.Layout(width="48%", min_width="22em"))
        self._select.add_class("tsanalysis-session-select")
        self._on_change(self._select, self._selected, key="select")
        self._detail = widgets.HTML(layout=widgets.Layout(width="50%"))
        self._detail.add_class("tsanalysis-session-detail")
        self._table = widgets.HTML(layout=widgets.Layout(max_height="18em", overflow="auto"))
        self._table.add_class("tsanalysis-session-table")
        return [widgets.HBox([self._refresh_button, self._count]),
                widgets.HBox([self._select, self._detail]), self._table]

    # -- public ----------------------------------------------------------------------------

    @property
    def session_ids(self) -> list[str]:
        """Ids of the sessions listed, oldest first."""
        return [] if self._frame.empty else list(self._frame["session_id"])

    @property
    def sessions(self) -> pd.DataFrame:
        """The sessions listed: id, status, symbols, time range, rows per table."""
        return self._frame.copy()

    def select(self, session_id: str | None) -> None:
        """Select a session (None: none)."""
        self.session_id = session_id

    def refresh(self) -> None:
        """Reload the list of sessions and the selected session's details."""
        self._frame = self._ws.sessions.frame()
        ids = self.session_ids
        options = [(session_label(r), r.session_id) for r in self._frame.itertuples()]
        selected = self.session_id if self.session_id in ids else None
        # The selector's observer is for the user's clicks: keep it out of this update.
        self._setting_options = True
        try:
            self._select.options = options
            self._select.value = selected
        finally:
            self._setting_options = False
        n = len(ids)
        self._count.value = (f"<b>{n}</b> session{'s' if n != 1 else ''} in "
                             f"<code>{esc(safe_url(self._ws.url))}</code>")
        self._table.value = self._overview_html()
        if self.session_id is not None and selected is None:
            missing = self.session_id
            self.session_id = None  # it is gone; the observer redraws the details
            raise SessionNotFound(missing)
        self._detail.value = self._detail_html()

    # -- internals -------------------------------------------------------------------------

    def _selected(self, value: str | None) -> None:
        if self._setting_options:
            return
        self.session_id = value

    def _session_changed(self, change: dict[str, Any]) -> None:
        sid = change["new"]
        if sid is None or sid in self.session_ids:
            self._setting_options = True
            try:
                self._select.value = sid
            finally:
                self._setting_options = False
            self.last_error = None
            self.run(self._show_detail, key="refresh")
        else:  # not listed yet (created elsewhere): reload the list
            super()._session_changed(change)

    def _show_detail(self) -> None:
        self._detail.value = self._detail_html()

    def _overview_html(self) -> str:
        if self._frame.empty:
            return "<i>No sessions yet: create one with <code>ws.demo()</code> or " \
                   "<code>tsanalysis demo</code>.</i>"
        header = ["session", "status", "symbols", "first", "last", *TABLE_COLUMNS]
        rows = [[r.session_id, r.status, r.symbols, fmt_ts(r.first_ts), fmt_ts(r.last_ts),
                 *(f"{int(getattr(r, t)):,}" for t in TABLE_COLUMNS)]
                for r in self._frame.itertuples()]
        return html_table(header, rows, align="lllll" + "r" * len(TABLE_COLUMNS))

    def _detail_html(self) -> str:
        sid = self.session_id
        if sid is None:
            return "<i>Select a session.</i>"
        info = self._ws.sessions.get(sid)
        rows = []
        for table, by_symbol in (info.tables or {}).items():
            for symbol, st in by_symbol.items():
                rows.append([table, symbol, f"{st.rows:,}", fmt_ts(st.first_ts),
                             fmt_ts(st.last_ts)])
        head = (f"<b><code>{esc(sid)}</code></b> · {esc(info.status)} · "
                f"{esc(', '.join(info.symbols))}<br>{info.total_rows:,} rows · "
                f"{esc(fmt_ts(info.first_ts))} → {esc(fmt_ts(info.last_ts))} UTC")
        if info.notes:
            head += f"<br><i>{esc(info.notes)}</i>"
        if not rows:
            return head + "<br><i>No rows yet.</i>"
        return head + html_table(["table", "symbol", "rows", "first", "last"], rows,
                                 align="llrll")

