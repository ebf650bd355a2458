"""DeletePanel: delete a session, or only some of its rows, after typing its id."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import pandas as pd

from .. import deleting, schema
from ..deleting import GRACE_ENV, Selection, SelectiveDeleteResult
from ..errors import InvalidInput, SessionActive, StoreError, TsanalysisError
from ..sessions import ACTIVE, DeleteResult
from ..timeutil import iso, parse_duration, to_utc
from ._base import Panel, esc, fmt_ts, html_table

if TYPE_CHECKING:
    from ..quality import Finding
    from ..sessions import SessionInfo

#: A session's child tables, in the order people read them.
TABLES = tuple(t.name for t in reversed(schema.CHILD_TABLES))
#: A finding's ``end`` is its last affected instant; a delete's ``end`` is excluded. The
#: store keeps microseconds, so one microsecond later takes that instant in.
_LAST_INSTANT = pd.Timedelta(1, "us")
_GREY, _GREEN, _AMBER, _RED = "#6b7280", "#1a7f37", "#9a6700", "#cf222e"


class DeletePanel(Panel):
    """Shows what deleting the selected session (or part of it) removes, and deletes it on
    confirmation.

    With nothing selected in *Delete only some rows*, Delete removes the whole session: the
    panel shows its rows per table, and the Delete button stays disabled until the exact
    session id is typed into the confirmation box. A session that is still recording
    (``active``) is refused, with the reason; a separate "Force delete" button, which also
    needs the typed id, deletes it anyway. After a delete the panel shows the rows removed
    per table and checks that no table still holds a row with the id; every panel on the
    workspace then forgets the session.

    Selecting tables, symbols, stored indicator ids, stored backtest runs and/or a time
    range ``[start, end)`` (ISO 8601, UTC when no zone is given) deletes only those rows
    (:meth:`Workspace.delete`). **Count rows** first runs a dry run and shows, per table,
    exactly what the delete removes; Delete stays disabled until the counts shown are those
    of the selection in the form, and the id is typed. An optional grace period (``24h``;
    default ``$TSANALYSIS_DELETE_GRACE``) hides the rows at once and keeps them until it
    passes: the deletes of the session still in their grace period are listed, and
    **Restore** brings one back. A range can be handed over from code or from a quality
    finding (:meth:`select_range`, :meth:`select_finding`). Errors (an end before the start,
    ids no longer stored, an active session) are shown in the panel and change nothing.

    >>> panel = DeletePanel(ws, session_id=sid)
    >>> panel.counts                           # rows per table that a delete would remove
    >>> panel.delete(confirmation=sid)         # what the button does -> DeleteResult
    >>> panel.select_range("2026-01-05T10:00Z", "2026-01-05T10:05Z", symbol="BTC/USDT")
    >>> panel.dry_run().deleted                # what Count rows does: rows per table
    >>> panel.delete(confirmation=sid)         # -> SelectiveDeleteResult
    """

    title: ClassVar[str] = "Delete"

    def _build(self) -> Sequence[widgets.Widget]:
        self._counts: dict[str, int] = {}
        self._session_status: str | None = None
        self._info: SessionInfo | None = None
        self._preview_result: SelectiveDeleteResult | None = None
        self._preview_of: Selection | None = None
        self._held = pd.DataFrame()
        #: The result of the last delete done in this panel.
        self.result: DeleteResult | SelectiveDeleteResult | None = None
        #: Rows per table brought back by the last restore done in this panel.
        self.restored: dict[str, int] | None = None
        self._summary = widgets.HTML()
        self._summary.add_class("tsanalysis-delete-summary")
        self._explain = widgets.HTML()
        selection = self._build_selection()
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
        self._why = widgets.HTML()
        self._result = widgets.HTML()
        self._result.add_class("tsanalysis-delete-result")
        self._grace_list = widgets.HTML()
        self._grace_list.add_class("tsanalysis-delete-in-grace")
        self._restore_choice = widgets.Dropdown(description="delete", options=[],
                                                layout=widgets.Layout(width="40em"))
        self._restore_choice.add_class("tsanalysis-restore-choice")
        self._restore_choice.observe(lambda _: self._update_controls(), names="value")
        self._restore_button = widgets.Button(description="Restore", icon="undo",
                                              button_style="warning", disabled=True)
        self._restore_button.add_class("tsanalysis-restore-button")
        self._on_click(self._restore_button, self.restore, label="Restoring", unit="tables")
        self._restore_row = widgets.HBox([self._restore_choice, self._restore_button],
                                         layout=widgets.Layout(display="none"))
        return [self._summary, self._explain, selection, self._preview,
                widgets.HBox([self._confirm, self._match]),
                widgets.HBox([self._delete_button, self._force_button, self._why]),
                self._result, self._grace_list, self._restore_row]

    def _build_selection(self) -> widgets.Widget:
        """The form of a selective delete, folded away until wanted."""
        style = {"description_width": "7em"}

        def multi(description: str, cls: str) -> widgets.SelectMultiple:
            w = widgets.SelectMultiple(description=description, options=[], rows=5,
                                       style=style, layout=widgets.Layout(width="24em"))
            w.add_class(f"tsanalysis-delete-{cls}")
            return w

        def text(description: str, placeholder: str, cls: str) -> widgets.Text:
            w = widgets.Text(description=description, placeholder=placeholder, style=style,
                             layout=widgets.Layout(width="24em"))
            w.add_class(f"tsanalysis-delete-{cls}")
            return w

        self._tables = multi("tables", "tables")
        self._tables.options = TABLES
        self._symbols = multi("symbols", "symbols")
        self._indicator_ids = multi("indicator ids", "indicator-ids")
        self._backtest_ids = multi("backtest ids", "backtest-ids")
        self._start = text("start", "first row (ISO 8601, UTC)", "start")
        self._end = text("end", "after the last row (excluded)", "end")
        env = os.environ.get(GRACE_ENV)
        self._grace = text("grace period",
                           f"{env} (${GRACE_ENV})" if env else "none (e.g. 24h)", "grace")
        self._form_why = widgets.HTML()
        self._count_button = widgets.Button(description="Count rows (dry run)",
                                            icon="calculator", button_style="info")
        self._count_button.add_class("tsanalysis-delete-count")
        self._on_click(self._count_button, self.dry_run, label="Counting", unit="tables")
        self._clear_button = widgets.Button(description="Clear selection", icon="times")
        self._on_click(self._clear_button, self.clear_selection)
        self._preview = widgets.HTML()
        self._preview.add_class("tsanalysis-delete-preview")
        for w in self._fields():
            w.observe(lambda _: self._form_changed(), names="value")
        intro = widgets.HTML(
            f'<span style="color:{_GREY}">Nothing selected: Delete removes the whole '
            "session. Select tables, symbols, ids and/or a time range [start, end) to "
            "delete only those rows (each kept restriction narrows the selection; no table "
            "selected: every table the other choices apply to).</span>")
        box = widgets.VBox([
            intro, widgets.HBox([self._tables, self._symbols]),
            widgets.HBox([self._indicator_ids, self._backtest_ids]),
            widgets.HBox([widgets.VBox([self._start, self._end, self._grace]),
                          self._form_why]),
            widgets.HBox([self._count_button, self._clear_button])])
        self._selection_box = widgets.Accordion(
            children=[box], titles=("Delete only some rows (tables, symbols, ids, time range)",),
            selected_index=None)
        self._selection_box.add_class("tsanalysis-delete-selection")
        return self._selection_box

    def _fields(self) -> tuple[widgets.ValueWidget, ...]:
        return (self._tables, self._symbols, self._indicator_ids, self._backtest_ids,
                self._start, self._end, self._grace)

    # -- public ----------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table that deleting the whole selected session removes (as last loaded)."""
        return dict(self._counts)

    @property
    def selection(self) -> dict[str, Any]:
        """The form's restriction as :meth:`Workspace.delete` keyword arguments (times as
        typed); empty when nothing is selected (a delete then takes the whole session)."""
        out: dict[str, Any] = {}
        for name, w in (("tables", self._tables), ("symbols", self._symbols),
                        ("indicator_ids", self._indicator_ids),
                        ("backtest_ids", self._backtest_ids)):
            if w.value:
                out[name] = list(w.value)
        for name, t in (("start", self._start), ("end", self._end)):
            if t.value.strip():
                out[name] = t.value.strip()
        return out

    @property
    def selective(self) -> bool:
        """True when the form restricts the delete to part of the session."""
        return bool(self.selection)

    @property
    def grace(self) -> str | None:
        """The grace period typed (None: ``$TSANALYSIS_DELETE_GRACE``, else none)."""
        return self._grace.value.strip() or None

    @property
    def preview(self) -> dict[str, int] | None:
        """Rows per table the last dry run (Count rows) found for the selection now in the
        form; None when not counted, or the form or the session's data changed since."""
        if self._preview_result is None or self._preview_of is None \
                or self._preview_of != self._parsed():
            return None
        return dict(self._preview_result.deleted)

    @property
    def in_grace(self) -> pd.DataFrame:
        """The session's deletes still held for a grace period (as last loaded): action_id
        (the delete id), grace_until, rows_per_table, selection."""
        return self._held.copy()

    @property
    def confirmed(self) -> bool:
        """True when the typed confirmation is exactly the selected session's id."""
        return self.session_id is not None and self._confirm.value == self.session_id

    @property
    def can_delete(self) -> bool:
        """What the Delete button's state says: confirmed, the session not active, and for
        a selection, its rows counted."""
        return (self.confirmed and self._session_status != ACTIVE
                and not self._delete_problem())

    def select(self, *, tables: Sequence[str] | None = None,
               symbols: Sequence[str] | None = None,
               indicator_ids: Sequence[str] | None = None,
               backtest_ids: Sequence[str] | None = None, start: Any = None,
               end: Any = None) -> None:
        """Fill the form with exactly this selection (a field not given is emptied; the
        grace period is kept). Tables, symbols and ids must be among those offered (the
        session's); times may be text or timestamps and are checked when counting."""
        chosen = {}
        for name, w, given in (("tables", self._tables, tables),
                               ("symbols", self._symbols, symbols),
                               ("indicator ids", self._indicator_ids, indicator_ids),
                               ("backtest ids", self._backtest_ids, backtest_ids)):
            values = (given,) if isinstance(given, str) else tuple(given or ())
            offered = _values(w.options)
            unknown = [v for v in values if v not in offered]
            if unknown:
                where = f"session {self.session_id!r}" if self.session_id else \
                    "no session selected"
                raise InvalidInput(f"{name} {', '.join(map(repr, unknown))} not offered "
                                   f"({where}; offered: {', '.join(offered) or 'none'})")
            chosen[w] = tuple(dict.fromkeys(values))
        for w, values in chosen.items():
            w.value = values
        self._start.value = _time_text(start, "start")
        self._end.value = _time_text(end, "end")
        if self.selective:
            self._selection_box.selected_index = 0

    def select_range(self, start: Any, end: Any, symbol: str | None = None,
                     tables: Sequence[str] | None = None) -> None:
        """Select the rows with ``start <= ts < end`` (of ``symbol``, in ``tables``; all
        when None): fills the form as :meth:`select` does; then Count rows."""
        self.select(tables=tables, symbols=[symbol] if symbol else None, start=start,
                    end=end)

    def select_finding(self, finding: Finding) -> None:
        """Select the rows a quality finding covers: its symbol, from its first to its
        last affected instant (included), in the table it was found in."""
        if finding.start is None:
            raise InvalidInput(f"the {finding.check} finding on {finding.symbol} has no time "
                               "range: nothing to select")
        end = (finding.end if finding.end is not None else finding.start) + _LAST_INSTANT
        self.select_range(finding.start, end, symbol=finding.symbol or None,
                          tables=[finding.table] if finding.table in TABLES else None)

    def clear_selection(self) -> None:
        """Empty the form (Delete then takes the whole session) and the grace period."""
        self.select()
        self._grace.value = ""

    def refresh(self) -> None:
        """Reload the selected session's status, rows per table, what can be selected
        (symbols, stored indicator ids and backtest runs) and its deletes in grace."""
        sid = self.session_id
        if sid is None:
            self._counts, self._session_status, self._info = {}, None, None
            self._held = pd.DataFrame()
            self._explain.value = ""
            for w in (self._symbols, self._indicator_ids, self._backtest_ids):
                _offer(w, [])
        else:
            info = self._ws.sessions.get(sid, stats=False)
            self._counts = self._ws.store.count_rows(sid)
            self._session_status, self._info = info.status, info
            self._explain.value = _active_explanation(sid) if info.status == ACTIVE else ""
            _offer(self._symbols, [(s, s) for s in info.symbols], "not in the session")
            stored = sorted(set(self._ws.indicators.stored(sid)["indicator_id"]))
            _offer(self._indicator_ids, [(i, i) for i in stored])
            _offer(self._backtest_ids, _run_options(self._ws.backtests.list(sid)))
            self._held = self._ws.in_grace(sid)
        self._draw_grace()
        self._form_changed()

    def dry_run(self) -> SelectiveDeleteResult:
        """Count what deleting the form's selection removes, per table (what Count rows
        does; nothing changes; recorded in the audit as a dry run). Raises the core's
        errors (``InvalidInput`` for an end before the start, ids no longer stored, ...)."""
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: nothing to count")
        self._preview_result = self._preview_of = None
        self._draw_preview()
        sel = self.selection
        # counting changes nothing, so a recording session is counted too (its Delete
        # still needs Force)
        result = self._ws.delete(sid, **sel, dry_run=True,
                                 force=self._session_status == ACTIVE)
        self._preview_result, self._preview_of = result, deleting.select(sid, **sel)
        self._form_changed()
        what = "the selection" if sel else f"session {sid}"
        self.set_status(f"Counted: deleting {esc(what)} removes {result.total:,} rows "
                        "(a dry run: nothing was deleted)")
        return result

    def delete(self, confirmation: str, *, force: bool = False
               ) -> DeleteResult | SelectiveDeleteResult:
        """Delete the selected session, or only the form's selection; ``confirmation``
        must be the session's exact id.

        Raises :class:`~tsanalysis.errors.InvalidInput` when nothing is selected, the
        confirmation differs, or a selection was not counted first (:meth:`dry_run`);
        :class:`~tsanalysis.errors.SessionActive` for a recording session unless
        ``force``; the core's errors for a bad selection. Nothing is deleted then.
        Returns the rows removed per table (a :class:`DeleteResult` for the whole session,
        a :class:`SelectiveDeleteResult` for a selection), after checking none is left.
        """
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: nothing was deleted")
        if confirmation != sid:
            raise InvalidInput(f"the confirmation {confirmation!r} is not the session id "
                               f"{sid!r}: nothing was deleted")
        if self.selection:
            return self._delete_selection(sid, force)
        if self.grace is not None:
            raise InvalidInput("a grace period applies to deletes of less than a session: "
                               "clear it to delete the whole session, or select the rows "
                               "to delete; nothing was deleted")
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

    def restore(self, delete_id: str | None = None) -> dict[str, int]:
        """Bring back the rows of a delete of the session still in its grace period
        (``delete_id``; default: the one chosen in the panel, the newest at first); returns
        rows restored per table. Raises ``InvalidInput`` when there is none, or its grace
        has passed."""
        sid = self.session_id
        if sid is None:
            raise InvalidInput("no session selected: nothing to restore")
        did = delete_id or self._restore_choice.value
        if not did:
            raise InvalidInput(f"no delete of session {sid!r} is in its grace period: "
                               "nothing to restore")
        with self._counts_kept_if_refused(InvalidInput):
            rows = self._ws.restore(sid, did)
        self.restored = rows
        total = sum(rows.values())
        table = [[t, f"{n:,}"] for t, n in rows.items()] + [["total", f"{total:,}"]]
        self._result.value = (f"Restored delete <code>{esc(did)}</code> of session "
                              f"<b><code>{esc(sid)}</code></b>:"
                              + html_table(["table", "rows restored"], table, align="lr"))
        self.set_status(f"Restored {total:,} rows of session <code>{esc(sid)}</code> "
                        f"(delete <code>{esc(did)}</code>)", kind="success")
        return rows

    # -- internals -------------------------------------------------------------------------

    def _delete_selection(self, sid: str, force: bool) -> SelectiveDeleteResult:
        sel = self.selection
        problem = self._form_problem()  # the core's checks, before the core is asked
        if problem:
            raise InvalidInput(f"{problem}; nothing was deleted")
        counted = self.preview
        if counted is None:
            raise InvalidInput("count the rows first (Count rows, a dry run): Delete waits "
                               "until you have seen what the selection removes; nothing "
                               "was deleted")
        with self._counts_kept_if_refused(SessionActive):
            result = self._ws.delete(sid, **sel, force=force, grace=self.grace)
        self.result = result
        left = {t: n for t, n in deleting.count(self._ws.store,
                                                deleting.select(sid, **sel)).items() if n}
        self._preview_result = self._preview_of = None
        self._result.value = _selection_result_html(result, counted, left)
        self._confirm.value = ""
        if result.grace_until is not None \
                and result.action_id in _values(self._restore_choice.options):
            self._restore_choice.value = result.action_id
        self._form_changed()
        if left:
            raise StoreError(f"rows of the selection are still stored after the delete: "
                             f"{left}")
        kept = (f"; restorable until {fmt_ts(result.grace_until)} UTC"
                if result.grace_until is not None else "")
        self.set_status(f"Deleted {result.total:,} rows of session <code>{esc(sid)}</code>"
                        f"{esc(kept)}", kind="success")
        return result

    @contextmanager
    def _counts_kept_if_refused(self, *refusals: type[Exception]) -> Iterator[None]:
        """The core tells the panels about a delete or restore even when it refuses it,
        which drops the counts shown; after one of ``refusals`` (raised before anything
        changed, for a reason that leaves the counts true) they still hold."""
        kept = self._preview_result, self._preview_of
        try:
            yield
        except refusals:
            self._preview_result, self._preview_of = kept
            self._form_changed()
            raise

    def _parsed(self) -> Selection | None:
        """The form's selection as the core checks it (None: no session, or invalid)."""
        if self.session_id is None:
            return None
        try:
            return deleting.select(self.session_id, **self.selection)
        except TsanalysisError:
            return None

    def _form_problem(self) -> str:
        """What is wrong with the form now, in the core's words ("" when nothing)."""
        sel = self.selection
        if sel and self.session_id is not None:
            try:
                deleting.select(self.session_id, **sel)
            except TsanalysisError as e:
                return str(e)
        if self.grace is not None:
            try:
                parse_duration(self.grace, "grace period")
            except TsanalysisError as e:
                return str(e)
            if not sel:
                return ("a grace period applies to deletes of less than a session: select "
                        "rows, or clear it to delete the whole session")
        return ""

    def _delete_problem(self) -> str:
        """Why Delete stays off apart from the confirmation and an active session."""
        if self.session_id is None:
            return ""
        problem = self._form_problem()
        if problem:
            return problem
        if self.selective and self.preview is None:
            return "press Count rows first: Delete waits until you have seen what it removes"
        return ""

    def _session_changed(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self._result.value = ""  # a result belongs to the session it deleted
        self._confirm.value = ""
        # the form belongs to the session it was filled for
        self._preview_result = self._preview_of = None
        self.select()
        self._grace.value = ""
        super()._session_changed(change)

    def _on_store_event(self, event: str, session_id: str | None) -> None:
        if event == "data":  # counts are of the data as it was: count again
            self._preview_result = self._preview_of = None
        self.refresh()

    def _form_changed(self) -> None:
        if not hasattr(self, "_restore_row"):
            return
        self._draw_summary()
        self._draw_preview()
        self._update_controls()

    def _draw_summary(self) -> None:
        sid, info = self.session_id, self._info
        if sid is None or info is None:
            self._summary.value = "<i>Select a session to delete.</i>"
            return
        rows = [[t, f"{n:,}"] for t, n in self._counts.items()]
        rows.append(["total", f"{sum(self._counts.values()):,}"])
        what = (f"session <b><code>{esc(sid)}</code></b> ({esc(info.status)}; "
                f"{esc(', '.join(info.symbols))})")
        head = (f"The whole {what} holds (a delete of the selection takes only the rows "
                "counted below):" if self.selective else f"Deleting {what} removes:")
        self._summary.value = head + html_table(["table", "rows"], rows, align="lr")

    def _draw_preview(self) -> None:
        if self.session_id is None or not self.selective:
            self._preview.value = ""
            return
        counted = self.preview
        if counted is None or self._preview_of is None:
            self._preview.value = (
                f'<span style="color:{_GREY}"><i>Press <b>Count rows</b> to see what '
                "deleting the selection removes; Delete waits until then.</i></span>")
            return
        rows = [[t, f"{n:,}"] for t, n in counted.items()]
        rows.append(["total", f"{sum(counted.values()):,}"])
        grace = self.grace or os.environ.get(GRACE_ENV)
        note = (f"With a grace period of {grace}, the rows are hidden at once and can be "
                "restored (below) until it passes." if grace else
                "No grace period: the rows are removed for good.")
        self._preview.value = (
            f"Deleting <b>{esc(self._preview_of.describe())}</b> removes (dry run):"
            + html_table(["table", "rows"], rows, align="lr")
            + f'<span style="color:{_GREY}">{esc(note)}</span>')

    def _draw_grace(self) -> None:
        """The session's deletes in their grace period, and the choice of one to restore."""
        held, live = self._held, []
        if self.session_id is None:
            self._grace_list.value = ""
        elif held.empty:
            self._grace_list.value = "<b>Deletes in their grace period</b>: none."
        else:
            now, rows = deleting.now(), []
            for _, h in held.iterrows():
                until = pd.Timestamp(h["grace_until"])
                until = until.tz_localize("UTC") if until.tzinfo is None else until
                total = sum(h["rows_per_table"].values())
                rows.append([h["action_id"], fmt_ts(until),
                             "restorable" if until > now else
                             "passed: removed at the next delete or purge",
                             f"{total:,}", _describe(h["selection"])])
                if until > now:
                    live.append((f"{h['action_id']} · until {fmt_ts(until)} UTC · "
                                 f"{total:,} rows", h["action_id"]))
            self._grace_list.value = (
                "<b>Deletes in their grace period</b> (Restore brings the rows back):"
                + html_table(["delete id", "until (UTC)", "state", "rows", "selection"],
                             rows, align="lllrl"))
        live.reverse()  # newest first, and chosen unless another was
        _pick(self._restore_choice, live, live[0][1] if live else None)
        self._restore_row.layout.display = None if live else "none"

    def _update_controls(self) -> None:
        if not hasattr(self, "_restore_row"):
            return
        sid = self.session_id
        active = self._session_status == ACTIVE
        problem = self._delete_problem()
        self._delete_button.description = ("Delete selected rows" if self.selective
                                           else "Delete session")
        self._delete_button.disabled = self.busy or not self.can_delete
        self._force_button.layout.display = None if active else "none"
        self._force_button.disabled = self.busy or not (active and self.confirmed
                                                        and not problem)
        self._confirm.disabled = sid is None
        if not self._confirm.value or sid is None:
            self._match.value = ""
        elif self.confirmed:
            self._match.value = f'<span style="color:{_GREEN}">✓ matches</span>'
        else:
            self._match.value = (f'<span style="color:{_RED}">does not match the session '
                                 "id</span>")
        self._why.value = f'<span style="color:{_GREY}">{esc(problem)}</span>' \
            if problem else ""
        form_problem = self._form_problem()
        self._form_why.value = f'<span style="color:{_RED}">{esc(form_problem)}</span>' \
            if form_problem else ""
        self._count_button.disabled = self.busy or sid is None \
            or (self.selective and self._parsed() is None)
        self._clear_button.disabled = self.busy or not (self.selective or self.grace)
        self._restore_button.disabled = self.busy or sid is None \
            or not self._restore_choice.value


def _values(options: Sequence[Any]) -> list[Any]:
    """The values of a selection widget's options (plain values, or (label, value))."""
    return [o[1] if isinstance(o, tuple) else o for o in options]


def _offer(w: widgets.SelectMultiple, options: list[tuple[str, str]],
           missing: str = "no longer stored") -> None:
    """Offer ``options`` ((label, value) pairs). What is chosen stays chosen: a value no
    longer offered stays listed, marked ``missing``, so a reload never changes the
    selection under the user (the core then says what is wrong with it when counting)."""
    chosen = tuple(w.value)
    offered = _values(options)
    options = [*options, *((f"{v} ({missing})", v) for v in chosen if v not in offered)]
    if list(w.options) != options:
        w.options = options  # (ipywidgets empties the value)
        w.value = chosen


def _pick(w: widgets.Dropdown, options: list[tuple[str, str]], default: str | None) -> None:
    """Offer ``options``, keeping the value chosen if still offered, else ``default``."""
    keep = w.value
    if list(w.options) != options:
        w.options = options
    offered = _values(options)
    w.value = keep if keep in offered else default if default in offered else None


def _run_options(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Backtest ids offered, labelled with their strategy and symbols (one id may have run
    on several symbols)."""
    out = []
    for bid, group in runs.groupby("backtest_id", sort=True):
        strategies = ", ".join(dict.fromkeys(group["strategy"].astype(str)))
        symbols = ", ".join(dict.fromkeys(group["symbol"].astype(str)))
        out.append((f"{bid} ({strategies}; {symbols})", str(bid)))
    return out


def _time_text(value: Any, name: str) -> str:
    """A time for the form's text fields: text as given, anything else as ISO 8601 UTC."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return iso(to_utc(value, name)) or ""


def _describe(selection: dict[str, Any]) -> str:
    """A selection as the audit keeps it, in the form's order."""
    order = ("tables", "symbols", "indicator_ids", "backtest_ids", "start", "end")
    keys = [k for k in order if k in selection] + [k for k in selection if k not in order]
    parts = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
             for k in keys if (v := selection[k])]
    return "; ".join(parts) or "whole session"


def _selection_result_html(result: SelectiveDeleteResult, counted: dict[str, int],
                           left: dict[str, int]) -> str:
    rows = [[t, f"{n:,}"] for t, n in result.deleted.items()]
    rows.append(["total", f"{result.total:,}"])
    html = (f"Deleted from session <b><code>{esc(result.session_id)}</code></b> "
            f"({esc(_describe(result.selection))}):"
            + html_table(["table", "rows removed"], rows, align="lr"))
    if result.grace_until is not None:
        html += (f"<div style='color:{_AMBER}'>Held for the grace period: <b>Restore</b> "
                 f"brings these rows back until <b>{esc(fmt_ts(result.grace_until))} UTC"
                 f"</b> (delete id <code>{esc(result.action_id)}</code>).</div>")
    else:
        html += "<div>No grace period: these rows are gone.</div>"
    if result.deferred:
        html += (f"<div style='color:{_AMBER}'>Deferred: "
                 f"{esc('; '.join(result.deferred))}</div>")
    if counted != result.deleted:
        html += (f"<div style='color:{_AMBER}'>The dry run had counted "
                 f"{esc(counted)}: the data changed in between.</div>")
    if left:
        html += f"<div style='color:{_RED}'>Rows of the selection still stored: {esc(left)}</div>"
    else:
        html += (f"<div style='color:{_GREEN}'>Checked: no row of the selection is left in "
                 "the session.</div>")
    return html


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
