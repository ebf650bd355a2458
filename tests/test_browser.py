"""The quickstart in a real browser: JupyterLab on loopback, headless Chromium via Playwright.

The lab is started the way ``make lab`` starts it (``TSANALYSIS_NOTEBOOK_DB=default``, so
the notebook shows the demo session of the default store), with every directory it
touches (store, data, Jupyter config and runtime, the notebooks) in a temporary directory.
The test runs all cells of the quickstart, checks that the dashboard renders on the demo
session, runs the quality checks from the Quality tab, runs a backtest from the Backtests
tab, selects another session, deletes that one through the Delete tab, and checks the
store afterwards. Screenshots go to ``artifacts/browser/``.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and Playwright for Python;
Playwright's own browser download is not used. Skipped when they are missing, except
with ``TSANALYSIS_REQUIRE_BROWSER=1`` (``make test`` sets it), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tsanalysis
from tsanalysis import schema

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Lab extensions that would talk to the internet or pop up over the page.
DISABLED_LAB_EXTENSIONS = {"@jupyterlab/apputils-extension:announcements": True,
                           "jupyterlab-jupytext": True}
UNUSED_SERVER_EXTENSIONS = ("jupyter_lsp", "jupyterlab_jupytext", "jupyter_server_terminals")


def require_browser() -> None:
    """Skip (or fail, when TSANALYSIS_REQUIRE_BROWSER=1) without Chromium or Playwright."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (install it: apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -e '.[browser]')")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("TSANALYSIS_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (TSANALYSIS_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(message)


def test_a_missing_browser_fails_when_required(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("TSANALYSIS_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        require_browser()
    monkeypatch.delenv("TSANALYSIS_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception):
        require_browser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    proc: subprocess.Popen[bytes]
    url: str
    token: str
    store_url: str
    log: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path}?token={self.token}"


def launch_lab(tmp: Path, env_extra: dict[str, str]) -> Lab:
    """Start JupyterLab on 127.0.0.1, a free port, token auth; :func:`wait_for_lab` waits."""
    work = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", work,
                    ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))
    config = tmp / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": DISABLED_LAB_EXTENSIONS}))
    # Server extensions the test does not use cost seconds at start-up.
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {
        "jpserver_extensions": dict.fromkeys(UNUSED_SERVER_EXTENSIONS, False),
        "terminals_enabled": False}}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, **env_extra,
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
           "IPYTHONDIR": str(tmp / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}
    log = tmp / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           f"--LabApp.workspaces_dir={tmp / 'lab-workspaces'}",
           f"--LabApp.user_settings_dir={tmp / 'lab-settings'}",
           "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    return Lab(proc, f"http://127.0.0.1:{port}", token, env_extra.get("TSANALYSIS_DB", ""), log)


def wait_for_lab(lab: Lab, timeout: float = 120) -> None:
    """Return when the server answers (raise with its log if it dies or stays silent)."""
    deadline = time.monotonic() + timeout
    while True:
        if lab.proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.proc.returncode}:\n{lab.log.read_text()}")
        try:
            with urllib.request.urlopen(lab.page_url("api/status"), timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n"
                               f"{lab.log.read_text()}")
        time.sleep(0.3)


def stop_lab(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # SIGTERM: the server shuts its kernels down and exits, no prompt
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Sessions:
    older: tsanalysis.SessionInfo
    newer: tsanalysis.SessionInfo


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Lab, Sessions]]:
    """A lab as ``make lab`` opens it: the default store holds demo sessions."""
    require_browser()
    store_url = f"duckdb:///{tmp_path}/default-store/tsanalysis.duckdb"
    lab = launch_lab(tmp_path, {"TSANALYSIS_DB": store_url,
                                "TSANALYSIS_NOTEBOOK_DB": "default",
                                "XDG_DATA_HOME": str(tmp_path / "xdg-data")})
    try:
        # written while the server starts: the notebook reads them only when it runs
        with tsanalysis.connect(store_url) as ws:
            older = ws.demo(hours=0.1, seed=1)
            newer = ws.demo(hours=0.2, seed=2)  # the quickstart picks the newest demo
        yield lab, Sessions(older, newer)
    finally:
        stop_lab(lab.proc)


def run_quickstart(page, lab: Lab) -> None:
    """Open the quickstart, wait for its kernel, run all cells."""
    from playwright.sync_api import expect

    page.goto(lab.page_url("lab/tree/quickstart.ipynb"))
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=60_000)
    # Run All before the kernel is connected would ask which kernel to start: wait until
    # the status bar shows the notebook's kernel idle.
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle",
                                                               timeout=90_000)
    page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def test_quickstart_renders_the_dashboard_and_acts(lab: tuple[Lab, Sessions]) -> None:
    from playwright.sync_api import expect, sync_playwright

    lab_, sessions = lab
    expect.set_options(timeout=30_000)  # the machine may be busy; a failure still fails
    newer, older = sessions.newer.session_id, sessions.older.session_id
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(Path(lab_.log).parent / "chromium-profile"), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1100})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(60_000)
            wait_for_lab(lab_)  # it started while the store and the browser did
            run_quickstart(page, lab_)

            # The dashboard renders on the default store's newest demo session.
            dash = page.locator(".tsanalysis-dashboard")
            expect(dash).to_be_visible(timeout=120_000)
            header = dash.locator(".tsanalysis-header")
            expect(header).to_contain_text(f"Session {newer}")
            expect(header).to_contain_text(f"{sessions.newer.total_rows:,} rows")
            plot = dash.locator(".tsanalysis-price-plot")
            expect(plot).to_be_visible()
            assert plot.bounding_box()["height"] > 200  # a picture, not an empty frame
            page.wait_for_timeout(300)  # let the image paint before the screenshot
            dash.screenshot(path=str(ARTIFACTS / "quickstart-dashboard.png"))

            # Run the quality checks from their tab: a score and the picture come back.
            dash.locator(".lm-TabBar-tab", has_text="Quality").click()
            dash.locator("button.tsanalysis-quality-run").click()
            score = dash.locator(".tsanalysis-quality-score")
            expect(score).to_contain_text("/100", timeout=120_000)
            expect(score).to_contain_text(newer)
            expect(dash.locator(".tsanalysis-quality-plot")).to_be_visible()
            page.wait_for_timeout(300)
            dash.screenshot(path=str(ARTIFACTS / "quickstart-quality.png"))

            # Run a backtest (the default strategy) from its tab: its metrics come back.
            dash.locator(".lm-TabBar-tab", has_text="Backtests").click()
            runs = dash.locator(".tsanalysis-backtest-runs")
            expect(runs).to_contain_text("No run stored yet")  # the panel is on `newer`
            dash.locator("button.tsanalysis-backtest-run").click()
            headline = dash.locator(".tsanalysis-backtest-headline")
            expect(headline).to_contain_text("threshold on BTC/USDT", timeout=120_000)
            metrics = dash.locator(".tsanalysis-backtest-metrics")
            expect(metrics).to_contain_text("sharpe")
            expect(dash.locator(".tsanalysis-backtest-plot")).to_be_visible()
            backtest_id = re.search(r"threshold-[0-9a-f]{12}", headline.inner_text()).group(0)
            expect(runs).to_contain_text(backtest_id)
            metrics_seen = metrics.inner_text()
            page.wait_for_timeout(300)
            dash.screenshot(path=str(ARTIFACTS / "quickstart-backtest.png"))

            # One action: pick the other session in the Sessions tab.
            dash.locator(".lm-TabBar-tab", has_text="Sessions").click()
            select = dash.locator(".tsanalysis-session-select select")
            labels = select.locator("option").all_inner_texts()
            target = next(t for t in labels if t.startswith(older))
            select.select_option(label=target)
            expect(header).to_contain_text(f"Session {older}")
            expect(header).to_contain_text(f"{sessions.older.total_rows:,} rows")
            expect(dash.locator(".tsanalysis-session-detail")).to_contain_text(older)

            # And delete it through the Delete tab: the button waits for the typed id.
            dash.locator(".lm-TabBar-tab", has_text="Delete").click()
            # (the tabs follow the selection one after the other: wait for this one)
            expect(dash.locator(".tsanalysis-delete-summary")).to_contain_text(older)
            button = dash.locator("button.tsanalysis-delete-button")
            confirm = dash.locator(".tsanalysis-delete-confirm input")
            confirm.fill(older[:-1])
            expect(button).to_be_disabled()
            confirm.fill(older)
            expect(button).to_be_enabled()
            button.click()
            result = dash.locator(".tsanalysis-delete-result")
            expect(result).to_contain_text("no table holds a row with this session id",
                                           timeout=60_000)
            expect(header).to_contain_text(f"session {older} was deleted")
            page.screenshot(path=str(ARTIFACTS / "quickstart-after-delete.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "quickstart-failure.png"))
            print(lab_.log.read_text()[-5000:])
            raise
        finally:
            ctx.close()

    # The store agrees (plain SQL); the kernel lets go of the file when idle.
    from tsanalysis.widgets.backtest import fmt_metric

    with tsanalysis.connect(lab_.store_url, lock_timeout=30) as ws:
        for t in schema.TABLES:
            left = ws.sql(f"SELECT count(*) AS n FROM {t.name} WHERE session_id = ?", [older])
            assert int(left["n"].iloc[0]) == 0, t.name
        # the backtest is stored with the metrics the browser showed
        assert list(ws.backtests.list(newer)["backtest_id"]) == [backtest_id]
        stored = ws.backtests.show(newer, backtest_id)["metrics"]
        for name in ("total_return", "sharpe", "max_drawdown", "trades", "fees"):
            assert f"{name}\t{fmt_metric(name, stored[name])}" in metrics_seen, name
        # and it added its rows (the run, and the RSI it read), nothing else
        counts = ws.store.count_rows(newer)
        added = counts["backtest_results"] + counts["indicators"]
        assert ws.sessions.get(newer).total_rows == sessions.newer.total_rows + added
