"""The suite's own plumbing: how tests are grouped for ``pytest -n 2`` (``make test``)."""

from __future__ import annotations

import pytest

from .conftest import xdist_group

#: Fixtures that reach the shared QuestDB test server.
QUESTDB_FIXTURES = {"questdb_url", "qws", "plain"}


def test_every_test_on_the_questdb_server_runs_in_the_questdb_group(request):
    """Checked over the tests of this run (in ``make test``: all of them)."""
    on_server = [item.nodeid for item in request.session.items
                 if QUESTDB_FIXTURES & set(getattr(item, "fixturenames", ()))
                 or "questdb" in getattr(getattr(item, "callspec", None), "params", {}).values()]
    strays = [n for n in on_server if xdist_group(n) != "questdb"]
    assert not strays


@pytest.mark.parametrize(("nodeid", "group"), [
    ("notebooks/export.ipynb::Cell 3", "notebooks/export.ipynb"),
    ("tests/test_sessions.py::test_delete_twice[questdb]", "questdb"),
    ("tests/test_questdb.py::test_server_answers", "questdb"),
    ("tests/test_sessions.py::test_delete_twice[duckdb]",
     "tests/test_sessions.py::test_delete_twice[duckdb]"),
])
def test_groups(nodeid, group):
    assert xdist_group(nodeid) == group
