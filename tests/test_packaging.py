"""Packaging: environment.yml and pyproject.toml declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tsanalysis.redact import mask_passwords

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names of PyPI distributions whose names differ
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _name_and_spec(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        reqs += extra
    out = {}
    for r in reqs:
        name, spec = _name_and_spec(r)
        out[CONDA_NAMES.get(name, name)] = spec
    return out


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _name_and_spec(dep)
            if name not in ("python", "pip"):
                out[name] = spec
    return out


def test_environment_yml_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_the_required_dependencies_are_declared():
    declared = pyproject_requirements()
    for name in ("jupyterlab", "ipywidgets", "python-duckdb", "psycopg", "questdb", "pandas",
                 "pluggy", "nbval", "pytest", "pyarrow", "tqdm", "hypothesis"):
        assert name in declared, name


def test_required_layout_exists():
    for p in ("notebooks", "tsanalysis", "plugins", "tests", "benchmarks", "environment.yml",
              "pyproject.toml", "README.md", "Makefile", ".ci/run"):
        assert (ROOT / p).exists(), p


def test_the_store_layer_imports_nothing_above_it():
    """tsanalysis/store/ may use the schema, ids, errors and time helpers, and itself; the
    features (sessions, ingest, indicators, ...) sit above it and import it, not the
    other way round."""
    import ast

    allowed = {"schema", "errors", "ids", "timeutil", "redact", "store"}
    root = Path(__file__).resolve().parent.parent / "tsanalysis" / "store"
    bad = []
    for path in root.rglob("*.py"):
        depth = len(path.relative_to(root).parts)  # 1: store/x.py, 2: store/questdb/x.py
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                up = node.level - depth  # levels above store/ reached (1 = the package)
                if up >= 1:
                    first = (node.module or "").split(".")[0]
                    names = [first] if first else [a.name for a in node.names]
                    bad += [f"{path.name}: {n}" for n in names if n not in allowed]
            elif isinstance(node, ast.Import | ast.ImportFrom) and not getattr(
                    node, "level", 0):
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if mod and mod.startswith("tsanalysis.") and \
                        mod.split(".")[1] not in allowed:
                    bad.append(f"{path.name}: {mod}")
    assert not bad, bad


def test_make_lab_and_demo_load_the_users_plugins():
    """Only the test suite narrows plugin loading (conftest.py); the lab and the demo that
    the README starts load whatever plugins the user installed."""
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "TSANALYSIS_LOAD_PLUGINS" not in makefile


@pytest.mark.parametrize(("text", "shown"), [
    ("tsanalysis --db questdb://admin:s3cr:et@host:8812/qdb delete x",
     "tsanalysis --db questdb://admin:***@host:8812/qdb delete x"),
    ("questdb://admin:quest@127.0.0.1:8812/qdb?http_port=9000",
     "questdb://admin:***@127.0.0.1:8812/qdb?http_port=9000"),
    ("duckdb:///tmp/x.duckdb sessions list", "duckdb:///tmp/x.duckdb sessions list"),
    ("a://u:p@h and b://v:q@k", "a://u:***@h and b://v:***@k"),
])
def test_passwords_are_masked_wherever_a_url_is_shown(text, shown):
    assert mask_passwords(text) == shown
