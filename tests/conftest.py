"""Fixtures shared by the test suite.

Backends: every test that takes ``ws`` or ``store_url`` runs against each backend in
``BACKENDS``. DuckDB always (a real file in a temporary directory). QuestDB when
``TSANALYSIS_TEST_QUESTDB`` holds the URL of a running server (``.ci/run`` starts one and
sets it); tests then use fresh session ids so they never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import tsanalysis
from tsanalysis.workspace import Workspace

QUESTDB_URL = os.environ.get("TSANALYSIS_TEST_QUESTDB")
BACKENDS = ["duckdb"] + (["questdb"] if QUESTDB_URL else [])

# Tests see only the built-in plugins unless a test registers more.
os.environ.setdefault("TSANALYSIS_LOAD_PLUGINS", "")


def backend_url(backend: str, tmp_path: Path) -> str:
    if backend == "duckdb":
        return f"duckdb:///{tmp_path}/test.duckdb"
    assert QUESTDB_URL
    return QUESTDB_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> str:
    return backend_url(backend, tmp_path)


@pytest.fixture
def ws(store_url: str) -> Iterator[Workspace]:
    w = tsanalysis.connect(store_url)
    yield w
    w.close()


@pytest.fixture
def sid() -> str:
    """A fresh session id, unique across the run (QuestDB tests share one server)."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def duckdb_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on a DuckDB file, for tests about DuckDB itself."""
    w = tsanalysis.connect(f"duckdb:///{tmp_path}/only.duckdb")
    yield w
    w.close()
