"""DeletePanel: delete a session and everything under it, after typing its id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import ipywidgets as widgets

from ..errors import InvalidInput, StoreError
from ..sessions import ACTIVE, DeleteResult
from ._base import Panel, esc, html_table


class DeletePanel(Panel):
    """Shows what deleting the selected session removes, and deletes it on confirmation.

    The Delete button stays disabled until the exact session id is typed into the
    confirmation box. A session that is still recording (``active``) is refused, with the
    reason; a separate "Force delete" button, which also needs the typed id, deletes it
    anyway. After a delete the panel shows the rows removed per table and checks that no
    table still holds a row with the id; every panel on the workspace then forgets the
    session.

    >>> panel = DeletePanel(ws, session_id=sid)
    >>> panel.counts                           # rows per table that a delete would remove
    >>> panel.delete(confirmation=sid)         # what the button does -> DeleteResult
    """

    title: ClassVar[str] = "Delete"

    def _build(self) -> Sequence[widgets.Widget]:
        self._counts: dict[str, int] = {}
        self._session_status: str | None = None
        #: The result of the last delete done in this panel.
        self.result: DeleteResult | None = None
        self._summary = widgets.HTML()
        self._summary.add_class("tsanalysis-delete-summary")
        self._explain = widgets.HTML()
        self._confirm = widgets.Text(value="", placeholder="type the session id to confirm",
                                     description="Confirm:", continuous_update=True,
                                     layout=widgets.Layout(width="36em"))
        self._confirm.add_class("tsanalysis-delete-confirm")
        self._confirm.observe(lambda _: self._update_controls(), names="value")
        self._match = widgets.HTML()
        self._delete_button = widgets.Button(description="Delete session", icon="trash",
                                             button_style="danger", disabled=True)
        self._delete_button.add_class("tsanalysis-delete-button")
        self._force_button = widgets.Button(
            description="Force delete (still recording)", icon="exclamation-triangle",
            button_style="danger", disabled=True,
            layout=widgets.Layout(width="auto", display="none"))
        self._force_button.add_class("tsanalysis-force-button")
        self._on_click(self._delete_button, lambda: self.delete(self._confirm.value),
                       label="Deleting", unit="tables")
        self._on_click(self._force_button,
                       lambda: self.delete(self._confirm.value, force=True),
                       label="Force-deleting", unit="tables")
        self._result = widgets.HTML()
        self._result.add_class("tsanalysis-delete-result")
        return [self._summary, self._explain, widgets.HBox([self._confirm, self._match]),
                widgets.HBox([self._delete_button, self._force_button]), self._result]

    # -- public ----------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table that deleting the selected session removes (as last loaded)."""
        return dict(self._counts)

    @property
    def confirmed(self) -> bool:
        """True when the typed confirmation is exactly the selected session's id."""
        return self.session_id is not None and self._confirm.value == self.session_id

    @property
    def can_delete(self) -> bool:
        """What the Delete button's state says: confirmed, and the session not active."""
        return self.confirmed and self._session_status != ACTIVE

    def refresh(self) -> None:
        """Reload the selected session's status and its rows per table."""
        sid = self.session_id
        if sid is None:
            self._counts, self._session_status = {}, None
            self._summary.value = "<i>Select a session to delete.</i>"
            self._explain.value = ""
        else:
            info = self._ws.sessions.get(sid, stats=False)
            self._counts = self._ws.store.count_rows(sid)
            self._session_status = info.status
            rows = [[t, f"{n:,}"] for t, n in self._counts.items()]
            rows.append(["total", f"{sum(self._counts.values()):,}"])
            self._summary.value = (
                f"Deleting session <b><code>{esc(sid)}</code></b> ({esc(info.status)}; "
                f"{esc(', '.join(info.symbols))}) removes:"
                + html_table(["table", "rows"], rows, align="lr"))
            self._explain.value = _active_explanation(sid) if info.status == ACTIVE else ""
        self._update_controls()

    def delete(self, confirmation: str, *, force: bool = False) -> DeleteResult:
        """Delete the selected session; ``confirmation`` must be its exact id.

        Raises :class:`~tsanalysis.errors.InvalidInput` when nothing is selected or the
        confirmation differs (nothing is deleted), and
        :class:`~tsanalysis.errors.SessionActive` for a recording session unless ``force``.
        Returns the rows removed per table, after checking that none is left.
        """
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: nothing was deleted")
        if confirmation != sid:
            raise InvalidInput(f"the confirmation {confirmation!r} is not the session id "
                               f"{sid!r}: nothing was deleted")
        result = self._ws.sessions.delete(sid, force=force, progress=self.progress)
        left = {t: n for t, n in self._ws.store.count_rows(sid).items() if n}
        self.result = result
        self._result.value = _result_html(result, left)
        self._confirm.value = ""
        if left and not result.deferred:
            raise StoreError(f"session {sid!r} still has rows after the delete: {left}")
        if result.deferred:
            self.set_status(f"Deleted session <code>{esc(sid)}</code>: {result.total:,} rows; "
                            "some work was deferred (see below)", kind="warning")
        else:
            self.set_status(f"Deleted session <code>{esc(sid)}</code>: {result.total:,} rows",
                            kind="success")
        return result

    # -- internals -------------------------------------------------------------------------

    def _session_changed(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self._result.value = ""  # a result belongs to the session it deleted
        self._confirm.value = ""
        super()._session_changed(change)

    def _update_controls(self) -> None:
        if not hasattr(self, "_confirm"):
            return
        active = self._session_status == ACTIVE
        self._delete_button.disabled = self.busy or not self.can_delete
        self._force_button.layout.display = None if active else "none"
        self._force_button.disabled = self.busy or not (active and self.confirmed)
        self._confirm.disabled = self.session_id is None
        if not self._confirm.value or self.session_id is None:
            self._match.value = ""
        elif self.confirmed:
            self._match.value = '<span style="color:#1a7f37">✓ matches</span>'
        else:
            self._match.value = '<span style="color:#cf222e">does not match the session id</span>'


def _active_explanation(sid: str) -> str:
    return (
        '<div class="tsanalysis-delete-refused" style="color:#9a6700">'
        f"<b>Refused:</b> session <code>{esc(sid)}</code> is <b>active</b>: it is still "
        "recording, and deleting it would lose rows being written now (or leave a "
        "recorder writing into a session that no longer exists). Complete it first "
        f"(<code>ws.sessions.complete({esc(repr(sid))})</code> or "
        f"<code>tsanalysis sessions complete {esc(sid)}</code>), or, if the recorder is "
        "dead, type the id and use <b>Force delete</b>.</div>")


def _result_html(result: DeleteResult, left: dict[str, int]) -> str:
    rows = [[t, f"{n:,}"] for t, n in result.deleted.items()]
    rows.append(["total", f"{result.total:,}"])
    html = (f"Deleted session <b><code>{esc(result.session_id)}</code></b>:"
            + html_table(["table", "rows removed"], rows, align="lr"))
    if result.deferred:
        html += ("<div style='color:#9a6700'>Deferred (finish later with "
                 "<code>tsanalysis sessions purge --resume</code>): "
                 f"{esc('; '.join(result.deferred))}</div>")
    if left:
        html += f"<div style='color:#cf222e'>Rows still stored: {esc(left)}</div>"
    else:
        html += ("<div style='color:#1a7f37'>Checked: no table holds a row with this "
                 "session id.</div>")
    return html
