"""What every panel shares: output capture, progress, background work, store events.

A panel is a :class:`Panel`: an ``ipywidgets.VBox`` whose body is built by the subclass
from private child widgets, followed by three shared parts:

* a status line (what the last action did, or its error in red);
* a progress row (:class:`ProgressBar`): the core's ``(done, total)`` callback drawn as an
  ``IntProgress`` with tqdm's rate and ETA text, and a Cancel button for background work;
* an ``Output`` log: errors with their traceback and the ``tsanalysis`` log records emitted
  while the panel works (in JupyterLab an exception raised in a widget callback would
  otherwise vanish into the browser's log console).

Rules a panel follows (and the reasons):

* Public methods (``refresh()``, ``delete()``, ...) work synchronously and raise, so
  notebooks and tests can rely on the panel's state after the call.
* Widget events go through :meth:`Panel.run`, which catches every error into the panel.
  When the event comes from the browser (a click, a selection) and the panel lives in a
  kernel, the work runs on the panel's worker thread, so the notebook stays responsive
  while the progress bar moves; everything that work sets off (trait links, store
  notifications, other panels refreshing) runs inline on that same thread.
* The panel subscribes to ``ws.sessions`` and re-renders on events about its session
  (every session with ``watch = "all"``); it forgets a session that was deleted. Renders
  caused by events must be cheap: reload and redraw, never recompute.
* ``close()`` unsubscribes and closes the child widgets.
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as widgets
import traitlets

from ..errors import TsanalysisError
from ..ids import check_session_id

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger(__name__)

#: The logger whose records panels show while they work.
PACKAGE_LOGGER = "tsanalysis"
#: Entries kept in a panel's log; older ones are dropped so a long session stays light.
MAX_LOG_ENTRIES = 200


class Cancelled(Exception):
    """Raised from a progress callback when the user pressed Cancel."""


# Per thread: are we handling a widget event from the browser, are we on a panel worker.
_context = threading.local()


def _flag(name: str) -> bool:
    return bool(getattr(_context, name, False))


@contextmanager
def _set_flag(name: str) -> Iterator[None]:
    old = _flag(name)
    setattr(_context, name, True)
    try:
        yield
    finally:
        setattr(_context, name, old)


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widget events can be served off the main thread)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def esc(value: object) -> str:
    """HTML-escape anything for the panels' HTML widgets."""
    return html.escape(str(value), quote=True)


def plain_text(markup: str) -> str:
    """The text of a panel's HTML (tags and styles dropped), for notebooks and tests."""
    markup = re.sub(r"<style[^>]*>.*?</style>", "", markup, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


class ProgressBar:
    """The core's ``(done, total)`` progress callback, drawn as a widget.

    Call it like the callback it is. It shows itself on the first call, throttles redraws
    (each one is a message to the browser), and formats the text with tqdm
    (``14.4k/21.6k rows [00:01<00:00, 12.3k rows/s]``). ``total=None`` means unknown: the
    bar then shows the count only. While :meth:`cancel` has been requested, the next call
    raises :class:`Cancelled`, which stops the core at a point where it reports progress.
    """

    def __init__(self, min_interval: float = 0.1):
        self.min_interval = min_interval
        self._bar = widgets.IntProgress(value=0, min=0, max=1,
                                        layout=widgets.Layout(width="45%"))
        self._text = widgets.Label()
        self._cancel_button = widgets.Button(description="Cancel", icon="stop",
                                             layout=widgets.Layout(width="auto",
                                                                   display="none"))
        self._cancel_button.on_click(lambda _: self.cancel())
        self.widget = widgets.HBox([self._bar, self._text, self._cancel_button],
                                   layout=widgets.Layout(display="none"))
        self.widget.add_class("tsanalysis-progress")
        self._cancel = threading.Event()
        self._t0 = time.monotonic()
        self._last = 0.0
        self._unit = "rows"
        #: (done, total) of the last call, drawn or not.
        self.last: tuple[int, int | None] | None = None

    def start(self, label: str = "", unit: str = "rows", cancellable: bool = False) -> None:
        """Reset for a new piece of work (hidden until the work first reports progress)."""
        self.widget.layout.display = "none"
        self._cancel.clear()
        self._t0 = time.monotonic()
        self._last = 0.0
        self._unit = unit
        self.last = None
        self._bar.description = label
        self._bar.value, self._bar.max, self._bar.bar_style = 0, 1, ""
        self._text.value = ""
        self._cancel_button.disabled = False
        self._cancel_button.layout.display = None if cancellable else "none"

    def finish(self, ok: bool = True) -> None:
        """Mark the work finished: the bar (if shown) stays with its last figures."""
        self._cancel_button.layout.display = "none"
        if self.last is not None:
            self._draw(time.monotonic())  # the last figures, which throttling may have skipped
            self._bar.bar_style = "success" if ok else "danger"

    def cancel(self) -> None:
        """Ask the running work to stop at its next progress report."""
        self._cancel.set()
        self._cancel_button.disabled = True
        self._text.value = "cancelling…"

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def visible(self) -> bool:
        return self.widget.layout.display != "none"

    @property
    def value(self) -> int:
        return self._bar.value

    @property
    def max(self) -> int:
        return self._bar.max

    @property
    def text(self) -> str:
        return self._text.value

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled")
        self.last = (int(done), None if total is None else int(total))
        now = time.monotonic()
        finished = total is not None and done >= total
        if self.visible and not finished and now - self._last < self.min_interval:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        from tqdm import tqdm

        assert self.last is not None
        done, total = self.last
        unit = f" {self._unit}" if self._unit else ""
        if total is None:
            fmt = "{n_fmt}{unit} [{elapsed}, {rate_fmt}]"
            self._bar.bar_style = "info"
            self._bar.max = max(done, 1)
            self._bar.value = done
        else:
            fmt = "{n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
            self._bar.max = max(total, 1)
            self._bar.value = min(done, self._bar.max)
        # tqdm scales 42 to "42.0"; scale only counts where k and M help reading
        scale = max(done, total or 0) >= 1000
        self._text.value = tqdm.format_meter(done, total, now - self._t0, unit=unit,
                                             unit_scale=scale, bar_format=fmt)
        self.widget.layout.display = None


class _OutputLogHandler(logging.Handler):
    """Copies ``tsanalysis`` log records into a panel's log while the panel works."""

    def __init__(self, panel: Panel):
        super().__init__()
        self.panel = panel
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = "stderr" if record.levelno >= logging.WARNING else "stdout"
            self.panel.write(self.format(record), stream=stream)
        except Exception:  # logging must never break the work it reports on
            self.handleError(record)


class Panel(widgets.VBox):
    """Base class of the tsanalysis panels (see the module docstring for the rules).

    Subclasses set :attr:`title`, build their private widgets in :meth:`_build` and draw
    the state of :attr:`session_id` in :meth:`refresh`. Buttons are wired with
    :meth:`_on_click` and other widget events with :meth:`_on_change`, so their work goes
    through :meth:`run` (errors in the panel, progress, background thread in a kernel).

    ``ws``: the workspace; ``session_id``: the session to show (None: none yet);
    ``background``: run work started from the browser on a worker thread (default: when
    inside a Jupyter kernel).
    """

    #: Title of the panel's tab in the Dashboard.
    title: ClassVar[str] = "Panel"
    #: Which store events re-render the panel: ``"session"`` (events about the selected
    #: session) or ``"all"`` (any session created, changed, written or deleted).
    watch: ClassVar[str] = "session"

    #: The selected session (None: none). Setting it re-renders the panel.
    session_id = traitlets.Unicode(None, allow_none=True)

    def __init__(self, ws: Workspace, session_id: str | None = None, *,
                 background: bool | None = None, **kwargs: Any):
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False
        self._executor: cf.ThreadPoolExecutor | None = None
        self._ws = ws
        self.background = in_kernel() if background is None else bool(background)
        self._busy = 0
        self._buttons: list[widgets.Button] = []
        self._jobs_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._generation: dict[str, int] = {}
        self._futures: set[cf.Future[Any]] = set()
        #: The last error shown by the panel (None after a successful action).
        self.last_error: BaseException | None = None
        self._status = widgets.HTML()
        self._status.add_class("tsanalysis-status")
        self.progress = ProgressBar()
        self._log = widgets.Output(layout=widgets.Layout(max_height="12em", overflow="auto"))
        self._log.add_class("tsanalysis-log")
        body = list(self._build())
        super().__init__(children=[*body, self._status, self.progress.widget, self._log],
                         **kwargs)
        self.add_class("tsanalysis-panel")
        self.add_class(f"tsanalysis-{type(self).__name__.lower()}")
        if session_id is not None:
            self.session_id = session_id
        self.observe(self._session_changed, "session_id")
        self._unsubscribe = ws.sessions.subscribe(self._store_event)
        self.run(self.refresh)
        self._update_controls()

    # -- for subclasses ------------------------------------------------------------------

    def _build(self) -> Sequence[widgets.Widget]:
        """Create the panel's private widgets; return the body's children (top to bottom)."""
        return []

    def refresh(self) -> None:
        """Reload what the panel shows from the store (synchronous; raises on error)."""

    def _update_controls(self) -> None:
        """Enable or disable controls from the panel's state; buttons are off while busy."""
        for button in self._buttons:
            button.disabled = self.busy

    def _on_store_event(self, event: str, session_id: str | None) -> None:
        """React to a store event that concerns the panel (default: refresh)."""
        self.refresh()

    # -- session -------------------------------------------------------------------------

    @traitlets.validate("session_id")
    def _check_session_id(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        return None if value in (None, "") else check_session_id(value)

    def _session_changed(self, change: dict[str, Any]) -> None:
        self.last_error = None
        self.run(self.refresh, key="refresh")

    @property
    def ws(self) -> Workspace:
        """The workspace the panel works on."""
        return self._ws

    # -- wiring ----------------------------------------------------------------------------

    def _on_click(self, button: widgets.Button, action: Callable[[], Any], *,
                  label: str | None = None, unit: str = "rows",
                  cancellable: bool = False) -> None:
        """Run ``action()`` as a user action when ``button`` is clicked.

        The panel's log is cleared first; the button is disabled while the panel is busy.
        """
        self._buttons.append(button)

        def handler(_: widgets.Button) -> None:
            with _set_flag("ui"):
                self.run(action, label=label, unit=unit, clear=True, cancellable=cancellable)

        button.on_click(handler)

    def _on_change(self, widget: widgets.Widget, action: Callable[[Any], Any], *,
                   names: str = "value", key: str | None = None) -> None:
        """Run ``action(new_value)`` when a trait of ``widget`` changes (a browser event)."""

        def handler(change: dict[str, Any]) -> None:
            with _set_flag("ui"):
                self.run(action, change["new"], key=key)

        widget.observe(handler, names=names)

    # -- running work ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while the panel runs (or has queued) work."""
        return self._busy > 0

    def run(self, fn: Callable[..., Any], *args: Any, label: str | None = None,
            key: str | None = None, clear: bool = False, unit: str = "rows",
            cancellable: bool = False, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` as the panel's work; never raises.

        ``label`` shows "label…" in the status line while it runs; ``clear`` empties the
        log first; ``unit`` names what :attr:`progress` counts. Errors land in the status
        line and the log and in :attr:`last_error`. ``tsanalysis`` log records emitted
        meanwhile go to the log. Returns ``fn``'s result, or None on error or when the
        work was queued on the worker thread (browser events in a kernel; see
        :meth:`wait`). Queued work with the same ``key`` supersedes older work not yet
        started (a newer selection wins).
        """
        if self._closed:
            return None
        if self.background and _flag("ui") and not _flag("worker"):
            self._submit(fn, args, kwargs, label=label, key=key, clear=clear, unit=unit,
                         cancellable=cancellable)
            return None
        return self._execute(fn, args, kwargs, label=label, clear=clear, unit=unit,
                             cancellable=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for work queued on the worker thread; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._jobs_lock:
                pending = list(self._futures)
            if not pending:
                return True
            left = None if deadline is None else max(deadline - time.monotonic(), 0)
            done, not_done = cf.wait(pending, timeout=left)
            if not_done and deadline is not None and time.monotonic() >= deadline:
                return False

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                **options: Any) -> None:
        key = options.pop("key")
        with self._jobs_lock:
            if self._executor is None:
                self._executor = cf.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"tsanalysis-{type(self).__name__}")
            generation = None
            if key is not None:
                generation = self._generation[key] = self._generation.get(key, 0) + 1
            self._busy += 1
        self._update_controls()

        def job() -> None:
            try:
                with _set_flag("worker"):
                    if key is not None and self._generation.get(key) != generation:
                        return  # a newer request of the same kind was queued after this one
                    self._execute(fn, args, kwargs, **options)
            except Exception:  # noqa: BLE001 - nothing may escape into a silent future
                self.write(traceback.format_exc(), stream="stderr")
            finally:
                with self._jobs_lock:
                    self._busy -= 1
                self._update_controls()

        future = self._executor.submit(job)
        with self._jobs_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: cf.Future[Any]) -> None:
        with self._jobs_lock:
            self._futures.discard(future)

    def _execute(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 *, label: str | None, clear: bool, unit: str, cancellable: bool) -> Any:
        if clear:  # a user action: the log and the last error belong to the previous one
            self.clear_log()
            self.last_error = None
        with self._jobs_lock:
            self._busy += 1
        self._update_controls()
        if label:
            self.progress.start(label, unit=unit, cancellable=cancellable)
            self.set_status(f"{esc(label)}…")
        handler = _OutputLogHandler(self)
        logger = logging.getLogger(PACKAGE_LOGGER)
        logger.addHandler(handler)
        t0 = time.monotonic()
        ok = False
        try:
            # On the kernel's main thread, print() and display() inside the work land in the
            # panel's log too (on a worker thread Jupyter cannot route them: use write()).
            with self._capture():
                try:
                    result = fn(*args, **kwargs)
                    ok = True
                except Cancelled:
                    self.set_status(f"{esc(label or 'work')}: cancelled", kind="warning")
                except Exception as e:  # noqa: BLE001 - the panel is where errors are shown
                    self.show_error(e)
            if not ok:
                return None
            if label and self._status.value.endswith(f"{esc(label)}…</span>"):
                self.set_status(f"{esc(label)}: done in {time.monotonic() - t0:.1f} s")
            return result
        finally:
            logger.removeHandler(handler)
            if label:
                self.progress.finish(ok)
            with self._jobs_lock:
                self._busy -= 1
            self._update_controls()

    def _capture(self) -> AbstractContextManager[Any]:
        if in_kernel() and threading.current_thread() is threading.main_thread():
            return self._log
        return nullcontext()

    # -- output ----------------------------------------------------------------------------

    def set_status(self, text_html: str, kind: str = "info") -> None:
        """Show one line of (already escaped) HTML; ``kind``: info, success, warning, error."""
        colours = {"info": "inherit", "success": "#1a7f37", "warning": "#9a6700",
                   "error": "#cf222e"}
        self._status.value = (f'<span class="tsanalysis-status-{kind}" '
                              f'style="color:{colours.get(kind, "inherit")}">{text_html}</span>'
                              if text_html else "")

    @property
    def status(self) -> str:
        """The status line as plain text."""
        return plain_text(self._status.value)

    def write(self, text: str, stream: str = "stdout") -> None:
        """Append text to the panel's log (safe from any thread)."""
        if not text.endswith("\n"):
            text += "\n"
        entry = {"output_type": "stream", "name": stream, "text": text}
        with self._log_lock:
            self._log.outputs = (*self._log.outputs[-(MAX_LOG_ENTRIES - 1):], entry)

    def clear_log(self) -> None:
        """Empty the panel's log."""
        self._log.outputs = ()

    @property
    def log_text(self) -> str:
        """Everything in the panel's log, as text."""
        return "".join(o.get("text", "") for o in self._log.outputs)

    def show_error(self, error: BaseException) -> None:
        """Show an error: one line for tsanalysis errors, the traceback for anything else."""
        self.last_error = error
        message = f"{type(error).__name__}: {error}"
        self.set_status(esc(message), kind="error")
        if isinstance(error, TsanalysisError):
            self.write(message, stream="stderr")
        else:
            self.write("".join(traceback.format_exception(error)), stream="stderr")

    # -- store events ----------------------------------------------------------------------

    def _store_event(self, event: str, session_id: str | None) -> None:
        if self._closed:
            return
        mine = session_id is None or session_id == self.session_id
        if event == "deleted" and session_id is not None and session_id == self.session_id:
            self.session_id = None  # forget it; re-renders through the observer
            mine = False
        if self.watch == "all" or mine:
            self.run(self._on_store_event, event, session_id, key="refresh")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Unsubscribe from the store, stop the worker, close the panel and its parts."""
        if getattr(self, "_closed", True):  # closed, or __init__ failed before any setup
            return
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        for w in _descendants(self):
            w.close()
        super().close()


def _descendants(box: widgets.Box) -> list[widgets.Widget]:
    """Widgets under ``box``, deepest first (panels nested in it close themselves)."""
    out: list[widgets.Widget] = []
    for child in box.children:
        if isinstance(child, Panel):
            out.append(child)
            continue
        if isinstance(child, widgets.Box):
            out.extend(_descendants(child))
        out.append(child)
    return out


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
               align: Sequence[str] | None = None, cls: str = "tsanalysis-table") -> str:
    """A small HTML table (cells escaped); ``align`` per column: ``l`` or ``r``."""
    align = list(align or ["l"] * len(header))
    style = ("<style>.tsanalysis-table{border-collapse:collapse;font-size:12px}"
             ".tsanalysis-table th,.tsanalysis-table td{padding:2px 10px;"
             "border-bottom:1px solid #ddd;white-space:nowrap}"
             ".tsanalysis-table th{text-align:left}</style>")

    def cell(tag: str, value: object, a: str) -> str:
        return f'<{tag} style="text-align:{"right" if a == "r" else "left"}">{esc(value)}</{tag}>'

    head = "".join(cell("th", h, a) for h, a in zip(header, align, strict=True))
    body = "".join("<tr>" + "".join(cell("td", v, a) for v, a in zip(r, align, strict=True))
                   + "</tr>" for r in rows)
    return f'{style}<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def fmt_ts(ts: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC), or an empty string."""
    if ts is None:
        return ""
    try:
        import pandas as pd

        if ts is pd.NaT or pd.isna(ts):  # type: ignore[arg-type]
            return ""
        return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(ts)


def safe_url(url: str) -> str:
    """The store URL without its password (panels show it)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))
