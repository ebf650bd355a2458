"""The panel base: errors and logs in the panel, progress, background work, store events."""

from __future__ import annotations

import logging
import threading

import ipywidgets as widgets
import pytest

from tsanalysis.errors import InvalidInput
from tsanalysis.widgets import Cancelled, Panel, ProgressBar


class Probe(Panel):
    """A panel that records its refreshes and runs whatever action a test gives it."""

    title = "Probe"

    def _build(self):
        self.refreshes: list[str | None] = []
        self.action = lambda: None
        self.button = widgets.Button(description="Go")
        self._on_click(self.button, lambda: self.action(), label="Going", cancellable=True)
        return [self.button]

    def refresh(self):
        self.refreshes.append(self.session_id)


class WatchAll(Probe):
    watch = "all"


# -- progress --------------------------------------------------------------------------------

def test_progress_bar_follows_the_callback_and_formats_with_tqdm():
    bar = ProgressBar(min_interval=0)
    bar.start("Loading", unit="rows")
    assert not bar.visible  # hidden until the work reports progress
    bar(1_500, 21_600)
    assert bar.visible and (bar.value, bar.max) == (1_500, 21_600)
    assert bar.text.startswith("1.50k/21.6k rows")
    bar(21_600, 21_600)
    assert bar.value == bar.max == 21_600


def test_progress_bar_throttles_redraws_but_always_draws_the_end():
    bar = ProgressBar(min_interval=60)
    bar.start("x")
    for done in range(1, 1000):
        bar(done, 1000)
    assert bar.last == (999, 1000)
    assert bar.value == 1  # only the first call was drawn within the interval
    bar(1000, 1000)
    assert bar.value == 1000


def test_progress_bar_with_an_unknown_total_counts():
    bar = ProgressBar(min_interval=0)
    bar.start("x", unit="rows")
    bar(42, None)
    assert bar.text.startswith("42 rows") and bar.value == 42


def test_progress_bar_raises_cancelled_once_cancel_is_pressed():
    bar = ProgressBar(min_interval=0)
    bar.start("x", cancellable=True)
    bar(1, 10)
    bar._cancel_button.click()
    assert bar.cancel_requested
    with pytest.raises(Cancelled):
        bar(2, 10)
    bar.start("again")
    bar(1, 10)  # a new piece of work starts uncancelled


# -- errors and logs --------------------------------------------------------------------------

def test_an_error_in_a_click_is_shown_in_the_panel_not_raised(duckdb_ws):
    p = Probe(duckdb_ws)

    def fail():
        raise InvalidInput("the threshold must be positive")

    p.action = fail
    p.button.click()  # does not raise
    assert isinstance(p.last_error, InvalidInput)
    assert "the threshold must be positive" in p.status
    assert "the threshold must be positive" in p.log_text
    assert "Traceback" not in p.log_text  # our own errors are one line, as on the CLI
    assert not p.busy and not p.button.disabled


def test_a_successful_click_forgets_the_previous_error(duckdb_ws):
    p = Probe(duckdb_ws)

    def fail():
        raise InvalidInput("bad value")

    p.action = fail
    p.button.click()
    assert isinstance(p.last_error, InvalidInput)
    p.action = lambda: None
    p.button.click()
    assert p.last_error is None and "bad value" not in p.status


def test_an_unexpected_error_shows_its_traceback(duckdb_ws):
    p = Probe(duckdb_ws)
    p.action = lambda: {}["missing"]
    p.button.click()
    assert isinstance(p.last_error, KeyError)
    assert "Traceback" in p.log_text and "KeyError" in p.log_text


def test_tsanalysis_log_records_go_to_the_panel_while_it_works(duckdb_ws):
    p = Probe(duckdb_ws)
    p.action = lambda: logging.getLogger("tsanalysis.something").warning("half the rows late")
    p.button.click()
    assert "WARNING tsanalysis.something: half the rows late" in p.log_text
    p.clear_log()
    logging.getLogger("tsanalysis.something").warning("not while idle")
    assert p.log_text == ""


def test_a_click_clears_the_log_and_reports_progress(duckdb_ws):
    p = Probe(duckdb_ws)
    p.write("old news")

    def work():
        for i in range(1, 4):
            p.progress(i, 3)
        return "ok"

    p.action = work
    p.button.click()
    assert "old news" not in p.log_text
    assert p.progress.last == (3, 3) and p.progress.value == 3
    assert "Going: done" in p.status and p.last_error is None


def test_the_log_keeps_a_bounded_number_of_entries(duckdb_ws):
    from tsanalysis.widgets._base import MAX_LOG_ENTRIES

    p = Probe(duckdb_ws)
    for i in range(MAX_LOG_ENTRIES + 50):
        p.write(f"line {i}")
    assert len(p._log.outputs) == MAX_LOG_ENTRIES
    assert p.log_text.splitlines()[-1] == f"line {MAX_LOG_ENTRIES + 49}"


# -- session and store events ------------------------------------------------------------------

def test_an_invalid_session_id_is_refused(duckdb_ws):
    p = Probe(duckdb_ws)
    with pytest.raises(InvalidInput):
        p.session_id = "x'; DROP TABLE tick_prices; --"
    assert p.session_id is None


def test_store_events_refresh_the_panel_of_that_session_only(duckdb_ws):
    a = duckdb_ws.sessions.create(["BTC/USDT"]).session_id
    b = duckdb_ws.sessions.create(["BTC/USDT"]).session_id
    p, everything = Probe(duckdb_ws, session_id=a), WatchAll(duckdb_ws)
    p.refreshes.clear()
    everything.refreshes.clear()
    duckdb_ws.sessions.complete(b)
    assert p.refreshes == [] and len(everything.refreshes) >= 1
    duckdb_ws.sessions.complete(a)
    assert p.refreshes and p.refreshes[-1] == a


def test_a_deleted_session_is_forgotten(duckdb_ws):
    a = duckdb_ws.sessions.create(["BTC/USDT"], status="completed").session_id
    p = Probe(duckdb_ws, session_id=a)
    duckdb_ws.sessions.delete(a)
    assert p.session_id is None and p.refreshes[-1] is None


def test_close_unsubscribes(duckdb_ws):
    listeners = duckdb_ws.sessions._listeners
    before = len(listeners)
    p = Probe(duckdb_ws)
    assert len(listeners) == before + 1
    p.close()
    assert len(listeners) == before and p.closed
    p.refreshes.clear()
    duckdb_ws.sessions.create(["BTC/USDT"])
    assert p.refreshes == []


# -- background work ----------------------------------------------------------------------------

def test_clicks_run_on_a_worker_thread_in_background_mode(duckdb_ws):
    p = Probe(duckdb_ws, background=True)
    started, release = threading.Event(), threading.Event()
    threads = []

    def slow():
        threads.append(threading.current_thread().name)
        started.set()
        assert release.wait(10)
        p.progress(1, 1)

    p.action = slow
    p.button.click()  # returns at once: the kernel stays free
    assert started.wait(10)
    assert p.busy and p.button.disabled
    release.set()
    assert p.wait(10)
    assert not p.busy and not p.button.disabled
    assert threads[0].startswith("tsanalysis-Probe") and threads[0] != "MainThread"
    assert p.progress.last == (1, 1) and p.last_error is None


def test_programmatic_calls_stay_synchronous_in_background_mode(duckdb_ws):
    p = Probe(duckdb_ws, background=True)
    sid = duckdb_ws.sessions.create(["BTC/USDT"]).session_id
    p.session_id = sid  # from code (a notebook cell): rendered before the next line
    assert p.refreshes[-1] == sid and not p.busy


def test_queued_work_of_the_same_kind_is_superseded_by_the_newest(duckdb_ws):
    p = Probe(duckdb_ws, background=True)
    release, ran = threading.Event(), []
    from tsanalysis.widgets._base import _set_flag

    def job(name):
        if name == "first":
            assert release.wait(10)
        ran.append(name)

    with _set_flag("ui"):  # as if three selections came from the browser
        for name in ("first", "second", "third"):
            p.run(job, name, key="select")
    release.set()
    assert p.wait(10)
    # "first" had started when the others came; "second" was superseded by "third"
    assert ran == ["first", "third"]


def test_cancel_stops_background_work_at_its_next_progress_report(duckdb_ws):
    p = Probe(duckdb_ws, background=True)
    started = threading.Event()

    def endless():
        i = 0
        while True:
            i += 1
            p.progress(i, None)
            started.set()

    p.action = endless
    p.button.click()
    assert started.wait(10)
    p.progress.cancel()
    assert p.wait(10)
    assert "cancelled" in p.status and p.last_error is None
