"""Packaging: environment.yml and pyproject.toml declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

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
