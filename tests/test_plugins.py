"""The plugin system, exercised for real: temporary distributions (a ``*.dist-info`` with
``entry_points.txt``) on ``sys.path``, found by importlib.metadata the way installed plugins
are; no patching of pluggy or of the entry-point lookup."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tsanalysis
from tsanalysis import hookspecs, plugins
from tsanalysis.indicators import Indicator, compute, registry
from tsanalysis.plugins import PluginWarning

from .helpers import ticks

BUILTIN = "tsanalysis.default_plugins.indicators"
BUILTINS = set(plugins.DEFAULT_PLUGINS)  # other built-ins (exporters, checks) as well

SPREAD_PLUGIN = '''
from tsanalysis import hookimpl
from tsanalysis.indicators import Indicator, Param

def _spread(inputs, timeperiod):
    return inputs["high"] - inputs["low"]

@hookimpl
def register_indicators(register):
    register(Indicator(name="{name}", inputs=("high", "low"), compute=_spread,
                       params=(Param("timeperiod", int, 1, minimum=1),), doc="high - low"))
'''


def make_dist(root: Path, dist: str, version: str, entry_points: dict[str, str],
              modules: dict[str, str]) -> None:
    """A distribution as pip would leave it: a dist-info folder and its modules."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[tsanalysis]\n{lines}")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path for temporary distributions; plugins reloaded around the test."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    plugins.reset()
    yield root
    for name in set(sys.modules) - before:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(str(root)):
            del sys.modules[name]
    monkeypatch.undo()
    plugins.reset()


def allow(monkeypatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(plugins.ENV_LOAD_PLUGINS, raising=False)
    else:
        monkeypatch.setenv(plugins.ENV_LOAD_PLUGINS, value)
    plugins.reset()


def by_name() -> dict[str, plugins.PluginInfo]:
    return {i.name: i for i in plugins.list_plugins()}


def test_entry_point_plugin_is_loaded_with_its_version_hooks_and_registrations(site, monkeypatch,
                                                                               duckdb_ws, sid):
    make_dist(site, "tsanalysis-spread", "1.2.3", {"spread": "tsa_spread"},
              {"tsa_spread": SPREAD_PLUGIN.format(name="spread.hl")})
    allow(monkeypatch, "spread")
    infos = by_name()
    assert infos["spread"].version == "1.2.3" and not infos["spread"].builtin
    assert infos["spread"].hooks == ["register_indicators"]
    assert infos["spread"].registered == {"register_indicators": ["spread.hl"]}
    assert infos[BUILTIN].builtin and infos[BUILTIN].version == tsanalysis.__version__
    assert "rsi" in infos[BUILTIN].registered["register_indicators"]
    assert tsanalysis.list_plugins() == plugins.list_plugins()
    # ... and its indicator computes and persists like a built-in
    duckdb_ws.sessions.create(["BTC/USDT"], sid)
    duckdb_ws.ingest(sid, "BTC/USDT", ticks(300))
    res = compute(duckdb_ws.store, sid, "BTC/USDT", "spread.hl", interval="1m")
    assert res.outputs == {"real": "spread.hl_1.1m"}
    hist = duckdb_ws.indicators.history(sid, "BTC/USDT", "spread.hl_1.1m")
    bars = duckdb_ws.ohlcv(sid, "BTC/USDT", "1m")
    assert np.allclose(hist["value"], bars["high"] - bars["low"]) and len(hist) == 5


def test_allow_list_by_entry_point_or_distribution_name(site, monkeypatch):
    make_dist(site, "tsanalysis-one", "1.0", {"one": "tsa_one"},
              {"tsa_one": SPREAD_PLUGIN.format(name="one.hl")})
    make_dist(site, "tsanalysis-two", "2.0", {"two": "tsa_two"},
              {"tsa_two": SPREAD_PLUGIN.format(name="two.hl")})
    allow(monkeypatch, None)  # unset: every installed plugin
    assert {"one", "two", BUILTIN} <= set(by_name())
    allow(monkeypatch, "tsanalysis-two")  # a distribution name
    assert "two" in by_name() and "one" not in by_name()
    assert "two.hl" in registry() and "one.hl" not in registry()
    allow(monkeypatch, " one , nothing-such ")  # an entry-point name, spaces ignored
    assert "one" in by_name() and "two" not in by_name()
    allow(monkeypatch, "")  # empty: built-ins only
    assert set(by_name()) == BUILTINS


def test_broken_plugin_warns_and_is_skipped(site, monkeypatch):
    make_dist(site, "tsanalysis-broken", "0.1", {"broken": "tsa_broken"},
              {"tsa_broken": "import not_a_module_anywhere\n"})
    make_dist(site, "tsanalysis-good", "0.1", {"good": "tsa_good"},
              {"tsa_good": SPREAD_PLUGIN.format(name="good.hl")})
    allow(monkeypatch, "broken,good")
    with pytest.warns(PluginWarning, match=r"'broken' failed to load.*ModuleNotFoundError"):
        names = set(by_name())
    assert names == BUILTINS | {"good"}
    assert "good.hl" in registry() and "rsi" in registry()


def test_misspelled_hook_is_caught_by_check_pending(site, monkeypatch):
    make_dist(site, "tsanalysis-typo", "0.1", {"typo": "tsa_typo"}, {"tsa_typo": """
        from tsanalysis import hookimpl

        @hookimpl
        def register_indicator(register):  # missing 's'
            pass
    """})
    allow(monkeypatch, "typo")
    with pytest.warns(PluginWarning, match=r"'typo' implements an unknown hook.*register_indicator"):
        names = set(by_name())
    assert names == BUILTINS


def test_plugin_whose_hook_raises_is_skipped_as_a_whole(site, monkeypatch):
    make_dist(site, "tsanalysis-raises", "0.1", {"raises": "tsa_raises"}, {"tsa_raises": """
        from tsanalysis import hookimpl
        from tsanalysis.indicators import Indicator

        @hookimpl
        def register_indicators(register):
            register(Indicator(name="raises.first", compute=lambda x: x["close"]))
            raise RuntimeError("half-way")
    """})
    allow(monkeypatch, "raises")
    with pytest.warns(PluginWarning, match="'raises' failed in register_indicators.*half-way"):
        reg = registry()
    assert "raises.first" not in reg and "rsi" in reg


def test_a_name_a_builtin_has_warns_naming_both_and_the_builtin_wins(site, monkeypatch, duckdb_ws,
                                                                     sid):
    make_dist(site, "tsanalysis-clash", "0.1", {"clash": "tsa_clash"},
              {"tsa_clash": SPREAD_PLUGIN.format(name="RSI")})  # case does not matter
    allow(monkeypatch, "clash")
    with pytest.warns(PluginWarning, match=rf"'clash': indicator 'RSI' is registered already "
                                           rf"by '{BUILTIN}'.*skipped") as caught:
        reg = registry()
    assert len(caught) == 1
    assert reg.entry("rsi").plugin == BUILTIN and reg.entry("RSI").plugin == BUILTIN
    assert reg.get("rsi").inputs == ("close",)  # the built-in, not the plugin's high - low
    duckdb_ws.sessions.create(["BTC/USDT"], sid)
    duckdb_ws.ingest(sid, "BTC/USDT", ticks(300))
    assert compute(duckdb_ws.store, sid, "BTC/USDT", "rsi").outputs == {"real": "rsi_14"}
    # listed as skipped, with the reason, by list_plugins (no second warning: already built)
    info = by_name()["clash"]
    assert info.registered == {}
    assert [(s.hook, s.name) for s in info.skipped] == [("register_indicators", "RSI")]
    assert BUILTIN in info.skipped[0].reason and "namespace" in info.skipped[0].reason
    assert info.to_dict()["skipped"] == [s.to_dict() for s in info.skipped]
    assert "skipped" not in by_name()[BUILTIN].to_dict()
    # a namespace avoids the clash
    make_dist(site, "tsanalysis-ns", "0.1", {"ns": "tsa_ns"},
              {"tsa_ns": SPREAD_PLUGIN.format(name="ns.rsi")})
    allow(monkeypatch, "ns")
    reg = registry()
    assert reg.entry("ns.rsi").plugin == "ns" and reg.entry("rsi").plugin == BUILTIN


def test_two_third_parties_with_one_name_the_first_by_entry_point_name_wins(site, monkeypatch):
    """Entry points load sorted by name, so which one wins does not depend on the disk."""
    for ep in ("zeta", "alpha"):
        make_dist(site, f"tsanalysis-{ep}", "0.1", {ep: f"tsa_{ep}"},
                  {f"tsa_{ep}": SPREAD_PLUGIN.format(name="shared.hl")})
    allow(monkeypatch, "zeta,alpha")
    with pytest.warns(PluginWarning, match="'zeta': indicator 'shared.hl' is registered "
                                           "already by 'alpha'"):
        assert registry().entry("shared.hl").plugin == "alpha"
    infos = by_name()
    assert infos["alpha"].registered == {"register_indicators": ["shared.hl"]}
    assert infos["zeta"].registered == {} and infos["zeta"].skipped[0].name == "shared.hl"
    # at run time, too, the first registration wins
    class Late:
        @tsanalysis.hookimpl
        def register_indicators(self, register):
            register(Indicator(name="shared.hl", compute=lambda x: x["close"]))

    name = plugins.register(Late(), name="late")
    try:
        with pytest.warns(PluginWarning) as caught:  # zeta's warning again, and late's
            assert registry().entry("shared.hl").plugin == "alpha"
        assert [str(w.message).split(":")[0] for w in caught] == [
            "tsanalysis plugin 'zeta'", "tsanalysis plugin 'late'"]
    finally:
        plugins.unregister(name)


def test_an_item_of_the_wrong_type_is_skipped_with_a_warning(site, monkeypatch):
    make_dist(site, "tsanalysis-wrong", "0.1", {"wrong": "tsa_wrong"}, {"tsa_wrong": """
        from tsanalysis import hookimpl
        from tsanalysis.indicators import Indicator

        @hookimpl
        def register_indicators(register):
            register("wrong.not_an_indicator")
            register(Indicator(name="wrong.ok", compute=lambda x: x["close"]))

        @hookimpl
        def register_exporters(register):
            register(Indicator(name="wrong.fmt", compute=lambda x: x["close"]))
    """})
    allow(monkeypatch, "wrong")
    with pytest.warns(PluginWarning, match=r"'wrong': registered 'wrong.not_an_indicator' "
                                           r"through register_indicators.*Indicator"):
        reg = registry()
    assert "wrong.ok" in reg and "rsi" in reg
    with pytest.warns(PluginWarning, match="'wrong': registered <Indicator wrong.fmt.*Exporter"):
        skipped = by_name()["wrong"].skipped
    assert [(s.hook, s.name) for s in skipped] == [("register_exporters", "wrong.fmt"),
                                                   ("register_indicators",
                                                    "'wrong.not_an_indicator'")]
    assert by_name()["wrong"].registered == {"register_indicators": ["wrong.ok"]}


def test_a_builtin_clash_or_wrong_type_is_a_bug_and_raises(monkeypatch):
    from tsanalysis.export import Exporter, exporters

    class Fake:
        @tsanalysis.hookimpl
        def register_exporters(self, register):
            register(Exporter(name="csv", suffix=".csv", writer=lambda f, s, o: None))

        @tsanalysis.hookimpl
        def register_indicators(self, register):
            register("not an indicator")

    monkeypatch.setattr(plugins, "is_builtin", lambda p: p in BUILTINS or p == "fake-builtin")
    name = plugins.register(Fake(), name="fake-builtin")
    try:
        with pytest.raises(plugins.PluginConflict, match="export format 'csv' is registered by "
                                                         "both.*'fake-builtin'"):
            exporters()
        with pytest.raises(TypeError, match="'fake-builtin' registered 'not an indicator'"):
            registry()
    finally:
        plugins.unregister(name)


def test_runtime_register_and_unregister_rebuild_the_registry():
    class Mine:
        @tsanalysis.hookimpl
        def register_indicators(self, register):
            register(Indicator(name="mine.close", compute=lambda x: x["close"]))

    assert "mine.close" not in registry()
    name = plugins.register(Mine(), name="mine")
    try:
        assert registry().entry("mine.close").plugin == "mine"
        assert by_name()["mine"].version is None
    finally:
        plugins.unregister(name)
    assert "mine.close" not in registry()


def test_register_refuses_a_misspelled_hook_and_leaves_nothing_registered():
    class Typo:
        @tsanalysis.hookimpl
        def register_indicatorz(self, register):
            pass

    with pytest.raises(Exception, match="register_indicatorz"):
        plugins.register(Typo(), name="typo-runtime")
    assert "typo-runtime" not in by_name()


def test_import_tsanalysis_loads_no_plugin():
    code = ("import sys, tsanalysis; "
            "bad = [m for m in ('tsanalysis.plugins', 'tsanalysis.indicators', 'numba', "
            "'tsanalysis.default_plugins.indicators') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_plugins_command_lists_an_installed_plugin(site):
    make_dist(site, "tsanalysis-spread", "1.2.3", {"spread": "tsa_spread"},
              {"tsa_spread": SPREAD_PLUGIN.format(name="spread.hl")})
    env = {**os.environ, "PYTHONPATH": str(site), plugins.ENV_LOAD_PLUGINS: "spread"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "tsanalysis", *a],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=300)
    out = run("plugins", "--json")
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    assert listed["spread"] == {"name": "spread", "version": "1.2.3",
                                "hooks": ["register_indicators"], "builtin": False,
                                "registered": {"register_indicators": ["spread.hl"]}}
    assert listed[BUILTIN]["builtin"] and len(listed[BUILTIN]["registered"]
                                              ["register_indicators"]) == len(
        [r for r in registry() if r.plugin == BUILTIN])
    table = run("plugins")
    assert table.returncode == 0 and re.search(r"spread\s+1\.2\.3\s+no", table.stdout)
    assert "skipped" not in listed["spread"] and "\nskipped:" not in table.stdout


@pytest.mark.slow
def test_plugins_command_shows_what_was_skipped_and_why(site):
    make_dist(site, "tsanalysis-clash", "0.1", {"clash": "tsa_clash"},
              {"tsa_clash": SPREAD_PLUGIN.format(name="rsi")})
    env = {**os.environ, "PYTHONPATH": str(site), plugins.ENV_LOAD_PLUGINS: "clash"}
    run = lambda *a: subprocess.run([sys.executable, "-W", "ignore::UserWarning",  # noqa: E731
                                     "-m", "tsanalysis", *a],
                                    capture_output=True, text=True, env=env, timeout=300)
    out = run("plugins", "--json")
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    assert listed["clash"]["registered"] == {}
    [skipped] = listed["clash"]["skipped"]
    assert skipped["hook"] == "register_indicators" and skipped["name"] == "rsi"
    assert BUILTIN in skipped["reason"]
    table = run("plugins")
    assert table.returncode == 0, table.stderr
    assert re.search(r"clash\s+0\.1\s+no\s+register_indicators\s+1", table.stdout)
    assert re.search(rf"skipped:\n  clash: indicators 'rsi': .*{re.escape(BUILTIN)}",
                     table.stdout)


# -- the hooks are documented for outsiders -------------------------------------------------


def _hookspecs() -> list:
    return [f for _, f in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(f, f"{hookspecs.PROJECT_NAME}_spec")]


def _example(doc: str) -> str:
    """The literal block after ``Example::`` (indented lines; prose after it ends it)."""
    assert "Example::" in doc
    lines = doc.split("Example::", 1)[1].split("\n")[1:]
    block = []
    for line in lines:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_hookspecs_are_found():
    names = {f.__name__ for f in _hookspecs()}
    assert {"register_indicators", "register_quality_checks", "register_exporters"} <= names


@pytest.mark.parametrize("spec", _hookspecs(), ids=lambda f: f.__name__)
def test_every_hook_and_argument_is_documented(spec):
    doc = inspect.getdoc(spec) or ""
    summary = doc.split("\n", 1)[0]
    assert len(summary) > 15 and summary.endswith("."), f"{spec.__name__}: no summary line"
    for arg in inspect.signature(spec).parameters:
        m = re.search(rf":param {arg}:(.+?)(?=\n\s*\n|\n:|\Z)", doc, re.S)
        assert m and len(m.group(1).split()) >= 8, f"{spec.__name__}: argument {arg} undocumented"
    example = _example(doc)
    compile(example, f"<{spec.__name__} example>", "exec")  # the example is valid Python
    assert "@hookimpl" in example and f"def {spec.__name__}(" in example


def test_register_indicators_example_works(duckdb_ws, sid):
    ns: dict = {}
    exec(_example(inspect.getdoc(hookspecs.register_indicators)), ns)  # noqa: S102
    found: list = []
    ns["register_indicators"](register=found.append)
    assert len(found) == 1 and isinstance(found[0], Indicator)

    class Plugin:
        register_indicators = staticmethod(ns["register_indicators"])

    name = plugins.register(Plugin(), name="example")
    try:
        duckdb_ws.sessions.create(["BTC/USDT"], sid)
        duckdb_ws.ingest(sid, "BTC/USDT", ticks(200))
        res = duckdb_ws.indicators.compute(sid, "BTC/USDT", found[0].name, interval="1m")
        assert res.rows == 4 and res.written == 4 * len(found[0].outputs)
    finally:
        plugins.unregister(name)


# -- the example third-party plugin in plugins/, found through its entry point ---------------


def test_talib_plugin_from_plugins_folder(site, monkeypatch, ws, sid):
    """plugins/tsanalysis-talib, on the path as an installed distribution: listed, and its
    indicators compute and persist like built-ins (on every backend)."""
    source = Path(__file__).resolve().parents[1] / "plugins" / "tsanalysis-talib"
    monkeypatch.syspath_prepend(str(source))
    make_dist(site, "tsanalysis-talib", "0.1.0", {"talib": "tsanalysis_talib"}, {})
    allow(monkeypatch, "tsanalysis-talib")
    info = by_name()["talib"]
    assert info.version == "0.1.0" and len(info.registered["register_indicators"]) == 201
    ws.sessions.create(["BTC/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(500))
    ours = ws.indicators.compute(sid, "BTC/USDT", "macd", interval="10s")
    theirs = ws.indicators.compute(sid, "BTC/USDT", "talib.MACD", interval="10s")
    assert theirs.rows == ours.rows == 50 and theirs.written == 150
    for output in ("macd", "macdsignal", "macdhist"):
        a = ws.indicators.history(sid, "BTC/USDT", ours.outputs[output])["value"].to_numpy()
        b = ws.indicators.history(sid, "BTC/USDT", theirs.outputs[output])["value"].to_numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-12)
    assert theirs.outputs["macd"] == "talib.macd_12_26_9_macd.10s"
