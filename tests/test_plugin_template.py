"""The plugin template tests itself: rendered, put on a path as an installed distribution
would be, and its own tests run in a separate pytest. The guide's example code works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tsanalysis import plugins
from tsanalysis.testing import check_indicator, check_strategy

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "plugins" / "template"
GUIDE = ROOT / "plugins" / "tsanalysis-talib" / "README.md"
PLACEHOLDER = re.compile(r"\{\{\s*cookiecutter\.(\w+)\s*\}\}")


def render(dest: Path, **answers: str) -> Path:
    """What ``cookiecutter plugins/template`` does with these answers (plain substitutions)."""
    context: dict[str, str] = {}
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items():
        context[key] = PLACEHOLDER.sub(lambda m: context[m.group(1)], answers.get(key, value))
    sub = lambda text: PLACEHOLDER.sub(lambda m: context[m.group(1)], text)  # noqa: E731
    (project,) = [p for p in TEMPLATE.iterdir() if p.is_dir()]
    for src in project.rglob("*"):
        if src.is_file() and "__pycache__" not in src.parts:
            out = dest / sub(str(src.relative_to(TEMPLATE)))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(sub(src.read_text()))
    return dest / context["project_slug"]


@pytest.mark.slow
def test_the_template_renders_and_its_tests_pass(tmp_path):
    project = render(tmp_path, plugin_name="rangex")
    assert (project / "tsanalysis_rangex" / "__init__.py").exists()
    assert not PLACEHOLDER.search("".join(p.read_text() for p in project.rglob("*.*")))
    # "install" it: a dist-info with its entry point next to the package, as pip leaves it
    info = project / "tsanalysis_rangex-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tsanalysis-rangex\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[tsanalysis]\nrangex = tsanalysis_rangex\n")
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop(plugins.ENV_LOAD_PLUGINS, None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=project, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout


def test_the_guides_example_works(tsanalysis_demo, tsanalysis_register):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    (code,) = [b for b in blocks if "def register_indicators" in b]
    module = types.ModuleType("guide_example")
    exec(compile(code, str(GUIDE), "exec"), module.__dict__)  # noqa: S102
    assert getattr(module.register_indicators, "tsanalysis_impl", None) is not None
    tsanalysis_register(module, name="guide")
    res = check_indicator(tsanalysis_demo, "myplugin.range_pct", {"timeperiod": 5},
                          interval="1m")
    assert res.outputs == {"real": "myplugin.range_pct_5.1m"}
    (test_code,) = [b for b in blocks if "def test_range_pct" in b]
    namespace: dict = {}
    exec(compile(test_code, str(GUIDE), "exec"), namespace)  # noqa: S102
    namespace["test_range_pct"](tsanalysis_demo)  # the guide's three-line test passes


def test_the_guides_strategy_works(tsanalysis_demo, tsanalysis_register):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    (code,) = [b for b in blocks if "def register_strategies" in b]
    module = types.ModuleType("guide_strategy")
    exec(compile(code, str(GUIDE), "exec"), module.__dict__)  # noqa: S102
    tsanalysis_register(module, name="guide_strategy")
    res = check_strategy(tsanalysis_demo, "myplugin.above_ema", {"timeperiod": 20})
    assert res.indicator_ids == {"ema": "ema_20"} and (res.trades["side"] == "long").all()
