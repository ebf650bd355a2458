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
from contextlib import contextmanager
from pathlib import Path

import pytest

import tsanalysis
from tsanalysis.workspace import Workspace

QUESTDB_URL = os.environ.get("TSANALYSIS_TEST_QUESTDB")
BACKENDS = ["duckdb"] + (["questdb"] if QUESTDB_URL else [])
#: Set by `make test` / CI: QuestDB must be among the backends (tests/test_questdb.py).
REQUIRE_QUESTDB = os.environ.get("TSANALYSIS_REQUIRE_QUESTDB", "") not in ("", "0")

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
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = backend_url(backend, tmp_path)
    if backend != "questdb":
        yield url
        return
    with recorders_stop_at_the_end():
        yield url


@pytest.fixture
def questdb_url() -> Iterator[str]:
    """The test server's URL, for tests about QuestDB itself (skipped without a server)."""
    if not QUESTDB_URL:
        pytest.skip("no QuestDB server: set TSANALYSIS_TEST_QUESTDB (`make test` does)")
    with recorders_stop_at_the_end():
        yield QUESTDB_URL


@contextmanager
def recorders_stop_at_the_end() -> Iterator[None]:
    """Mark failed the sessions a test leaves active on the shared QuestDB server.

    Such a session is a recorder that never stops: it would (rightly) make every later
    delete defer the days it may be writing. A test is a recorder that stops when the test
    ends.
    """
    admin = _questdb_admin()
    before = {i.session_id for i in admin.sessions.list(stats=False, status="active")}
    yield
    left = [i.session_id for i in admin.sessions.list(stats=False, status="active")
            if i.session_id not in before]
    if left:
        # (QuestDB 9.3.4 rejects an UPDATE with `IN (?)` of a single parameter.)
        where = "= ?" if len(left) == 1 else f"IN ({', '.join('?' for _ in left)})"
        admin.sql(f"UPDATE data_collection_sessions SET status = 'failed' "
                  f"WHERE session_id {where}", left)


_ADMIN: list[Workspace] = []


def _questdb_admin() -> Workspace:
    """One workspace on the test server for fixtures' bookkeeping."""
    if not _ADMIN:
        assert QUESTDB_URL
        _ADMIN.append(tsanalysis.connect(QUESTDB_URL))
    return _ADMIN[0]


def pytest_sessionstart(session: pytest.Session) -> None:
    # Fail at once, not test by test, when CI meant to test QuestDB and cannot.
    if REQUIRE_QUESTDB and not QUESTDB_URL:
        raise pytest.UsageError("TSANALYSIS_REQUIRE_QUESTDB is set but TSANALYSIS_TEST_QUESTDB "
                                "(the test server's URL) is not: QuestDB would not be tested")


def xdist_group(nodeid: str) -> str:
    """The group a test runs in under ``pytest -n 2`` (``make test``): groups go to one
    worker whole, in order.

    Every test that reaches the QuestDB server is in one group: the server is shared, and a
    test's bookkeeping (:func:`recorders_stop_at_the_end`) must not see another test's
    recorder start meanwhile (each such test has ``questdb`` in its id: its backend
    parameter, its module or its name; ``tests/test_conftest.py`` checks it). A notebook's
    cells run in order in one kernel, so each runbook is a group. Every other test is a
    group of its own.
    """
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        return path
    if "questdb" in nodeid.lower():
        return "questdb"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup`` groups by :func:`xdist_group` (``make test``); other modes are
    xdist's own (``make test-fast`` spreads test by test in batches, which is quicker).

    (xdist's own loadgroup reads ``xdist_group`` marks through ``item._nodeid``, which
    pytest 9.2 no longer uses: its groups never reach the scheduler. This one groups by id.)
    """
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return ByGroup(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while _ADMIN:
        _ADMIN.pop().close()


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


@pytest.fixture
def qws(questdb_url):
    """A workspace on the test QuestDB server."""
    w = tsanalysis.connect(questdb_url)
    yield w
    w.close()


@pytest.fixture
def plain(questdb_url):
    """A plain psycopg connection to the test server: checks not through tsanalysis."""
    from .questdb_support import plain_conn

    c = plain_conn(questdb_url)
    yield c
    c.close()
