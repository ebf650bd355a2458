"""Dashboard: the registered panels in tabs around one selected session."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import traitlets

from ._base import Panel, esc, fmt_ts, plain_text, safe_url
from .tabs import TabSpec, registered_tabs

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger(__name__)


class Dashboard(Panel):
    """Every registered tab (:mod:`tsanalysis.widgets.tabs`) around one selected session.

    A header names the selected session (status, symbols, rows, time range). Selecting a
    session in any tab selects it in all; a delete or a new session anywhere on the
    workspace refreshes them. A tab whose panel fails to build shows the error instead.

    ``tabs``: keys of the tabs to show (default: every registered tab).

    >>> dash = Dashboard(ws, session_id=sid)
    >>> dash.panel("delete")        # the DeletePanel inside
    >>> dash.select(other_sid)
    """

    title: ClassVar[str] = "Dashboard"

    def __init__(self, ws: Workspace, session_id: str | None = None, *,
                 tabs: Sequence[str] | None = None, background: bool | None = None,
                 **kwargs: Any):
        self._tab_keys = list(tabs) if tabs is not None else None
        self._deleted: str | None = None  # the session shown last, if it was deleted
        self._shown: str | None = None  # the session the header showed last
        super().__init__(ws, None, background=background, **kwargs)
        for panel in self._panels.values():
            traitlets.link((self, "session_id"), (panel, "session_id"))
        if session_id is not None:
            self.session_id = session_id
        first = "overview" if session_id is not None else "sessions"
        if first in self._panels:
            self.show_tab(first)

    def _build(self) -> Sequence[widgets.Widget]:
        self._header = widgets.HTML()
        self._header.add_class("tsanalysis-header")
        self._panels: dict[str, Panel] = {}
        children, titles = [], []
        for spec in self._specs():
            children.append(self._build_tab(spec))
            titles.append(spec.title)
        self._tabs = widgets.Tab(children=children, titles=titles)
        self._tabs.add_class("tsanalysis-tabs")
        return [self._header, self._tabs]

    def _specs(self) -> list[TabSpec]:
        specs = registered_tabs()
        if self._tab_keys is None:
            return specs
        known = {s.key: s for s in specs}
        unknown = [k for k in self._tab_keys if k not in known]
        if unknown:
            raise ValueError(f"unknown Dashboard tabs {unknown}; registered: {sorted(known)}")
        return [s for s in specs if s.key in self._tab_keys]

    def _build_tab(self, spec: TabSpec) -> widgets.Widget:
        try:
            panel = spec.build(self._ws, background=self.background)
            if not isinstance(panel, Panel):
                raise TypeError(f"the factory of tab {spec.key!r} returned "
                                f"{type(panel).__name__}, not a Panel")
        except Exception as e:  # one broken panel must not take the Dashboard down
            log.exception("Dashboard tab %r failed to build", spec.key)
            box = widgets.HTML(f'<div style="color:#cf222e">The {esc(spec.title)} panel '
                               f"failed to build: {esc(type(e).__name__)}: {esc(e)}</div>")
            box.add_class("tsanalysis-broken-tab")
            return box
        self._panels[spec.key] = panel
        return panel

    # -- public ----------------------------------------------------------------------------

    @property
    def panels(self) -> Mapping[str, Panel]:
        """The tabs' panels by key (tabs that failed to build are missing)."""
        return dict(self._panels)

    def panel(self, key: str) -> Panel:
        """The panel of tab ``key`` (``KeyError`` when not built)."""
        return self._panels[key]

    def select(self, session_id: str | None) -> None:
        """Select a session in every tab (None: none)."""
        self.session_id = session_id

    def show_tab(self, key: str) -> None:
        """Bring tab ``key`` to the front."""
        panel = self._panels[key]
        self._tabs.selected_index = list(self._tabs.children).index(panel)

    @property
    def header(self) -> str:
        """The header as plain text."""
        return plain_text(self._header.value)

    def refresh(self) -> None:
        """Redraw the header from the selected session."""
        store = f"<code>{esc(safe_url(self._ws.url))}</code>"
        sid = self.session_id
        if sid is None:
            gone = (f" (session <code>{esc(self._deleted)}</code> was deleted)"
                    if self._deleted else "")
            self._header.value = (f"<b>tsanalysis</b> · {store} · No session selected{gone}: "
                                  "pick one in the Sessions tab.")
            return
        self._deleted = None
        info = self._ws.sessions.get(sid)
        self._shown = sid
        self._header.value = (
            f"<b>tsanalysis</b> · {store} · Session <b><code class='tsanalysis-selected'>"
            f"{esc(sid)}</code></b> · {esc(info.status)} · {esc(', '.join(info.symbols))} · "
            f"{info.total_rows:,} rows · {esc(fmt_ts(info.first_ts))} → "
            f"{esc(fmt_ts(info.last_ts))} UTC")

    def _store_event(self, event: str, session_id: str | None) -> None:
        # The tabs hear of a delete first and may already have cleared the selection.
        if event == "deleted" and session_id is not None and session_id == self._shown:
            self._deleted = session_id
            if self.session_id is None:
                self.run(self.refresh, key="refresh")
                return
        super()._store_event(event, session_id)
