"""``tsanalysis.testing``, used the way a plugin author uses it: a separate pytest run over
a plugin's test file, with the fixtures coming from the ``pytest11`` entry point (no
conftest), and the plugin found through its own entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tsanalysis import hookimpl, plugins
from tsanalysis.indicators import Indicator
from tsanalysis.testing import DemoSession, check_indicator

from .test_plugins import SPREAD_PLUGIN, make_dist

THREE_LINES = '''
from tsanalysis.testing import check_indicator

def test_spread(tsanalysis_demo):
    check_indicator(tsanalysis_demo, "spread.hl", interval="1m")
'''

WRONG_WARMUP = '''
from tsanalysis import hookimpl
from tsanalysis.indicators import Indicator

@hookimpl
def register_indicators(register):
    register(Indicator(name="liar.close", compute=lambda x: x["close"], lookback=5))
'''


def pytest_run(tmp_path, files: dict[str, str], site) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(plugins.ENV_LOAD_PLUGINS)  # as `make test` would leave it: the ini option decides
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-q",
                           "-p", "no:cacheprovider", "-W", "error"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


@pytest.mark.slow
def test_a_plugins_tests_are_three_lines(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "tsanalysis-spread", "1.0", {"spread": "tsa_spread"},
              {"tsa_spread": SPREAD_PLUGIN.format(name="spread.hl")})
    tests = tmp_path / "tests"
    tests.mkdir()
    out = pytest_run(tests, {"pytest.ini": "[pytest]\ntsanalysis_plugins = spread\n",
                             "test_spread.py": THREE_LINES}, site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout


@pytest.mark.slow
def test_the_contract_catches_a_wrong_warmup(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "tsanalysis-liar", "1.0", {"liar": "tsa_liar"}, {"tsa_liar": WRONG_WARMUP})
    tests = tmp_path / "tests"
    tests.mkdir()
    out = pytest_run(tests, {
        "pytest.ini": "[pytest]\ntsanalysis_plugins = tsanalysis-liar\n",
        "test_liar.py": THREE_LINES.replace("spread.hl", "liar.close").replace(
            ', interval="1m"', ""),
    }, site)
    assert out.returncode == 1
    assert "declares a warm-up of 5 points but has a value at point 0" in out.stdout


def test_fixtures_in_process(tsanalysis_demo, tsanalysis_register):
    assert isinstance(tsanalysis_demo, DemoSession)
    info = tsanalysis_demo.info
    assert info.status == "completed" and info.symbols == ["BTC/USDT", "ETH/USDT"]
    assert tsanalysis_demo.ws.ohlcv(tsanalysis_demo.session_id, "BTC/USDT", "1m",
                                    build=False).shape[0] == 60  # stored bars

    class Mine:
        @staticmethod
        @hookimpl
        def register_indicators(register):
            register(Indicator(name="mine.range", inputs=("high", "low"),
                               compute=lambda x: x["high"] - x["low"]))

    tsanalysis_register(Mine, name="mine")
    res = check_indicator(tsanalysis_demo, "mine.range", interval="1m")
    assert res.outputs == {"real": "mine.range.1m"} and res.rows == 60
    res = check_indicator(tsanalysis_demo, "rsi", {"timeperiod": 9}, symbol="ETH/USDT")
    assert res.rows > 3000


def test_load_plugins_fixture_restores_the_allow_list(tsanalysis_load_plugins):
    tsanalysis_load_plugins("nothing-installed-by-this-name")
    assert os.environ[plugins.ENV_LOAD_PLUGINS] == "nothing-installed-by-this-name"
    assert {p.name for p in plugins.list_plugins()} == set(plugins.DEFAULT_PLUGINS)


@pytest.fixture(autouse=True)
def _allow_list_unchanged():
    before = os.environ.get(plugins.ENV_LOAD_PLUGINS)
    yield
    assert os.environ.get(plugins.ENV_LOAD_PLUGINS) == before
