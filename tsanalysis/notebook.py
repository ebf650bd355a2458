"""What the runbooks in ``notebooks/`` share: the store they work on and a demo session.

A runbook starts from nothing. By default it works on a fresh DuckDB file in a temporary
directory (that is how CI runs them, under nbval). ``TSANALYSIS_NOTEBOOK_DB`` points it
at a real store instead: a URL (``questdb://...``, ``duckdb:///...``), or ``default`` for
the store the command line uses (``$TSANALYSIS_DB`` or the default file); ``make lab``
sets ``default``, so the quickstart shows the demo session ``make lab`` wrote.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sessions import SessionInfo
    from .workspace import Workspace

ENV_NOTEBOOK_DB = "TSANALYSIS_NOTEBOOK_DB"


def store_url(url: str | None = None) -> str | None:
    """The store a runbook should open: ``url``, else ``$TSANALYSIS_NOTEBOOK_DB``.

    Returns None for "a temporary store", and ``"default"`` is returned as is.
    """
    value = url if url is not None else os.environ.get(ENV_NOTEBOOK_DB)
    value = (value or "").strip()
    return value or None


def open_workspace(url: str | None = None) -> Workspace:
    """Open the workspace a runbook works on (see the module docstring).

    Without a URL (and without ``$TSANALYSIS_NOTEBOOK_DB``) the store is a new DuckDB file
    in a temporary directory that is removed when the kernel exits.
    """
    from .workspace import connect

    target = store_url(url)
    if target == "default":
        return connect()
    if target is not None:
        return connect(target)
    tmp = tempfile.mkdtemp(prefix="tsanalysis-notebook-")
    ws = connect(f"duckdb:///{tmp}/runbook.duckdb")

    def cleanup() -> None:
        ws.close()
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    return ws


def is_temporary(ws: Workspace) -> bool:
    """True for a store made by :func:`open_workspace` in a temporary directory."""
    return "/tsanalysis-notebook-" in ws.url


def demo_session(ws: Workspace, *, hours: float = 1.0, seed: int = 42,
                 reuse: bool | None = None) -> SessionInfo:
    """A demo session of the runbook's own, or (``reuse``) the newest completed one.

    ``reuse`` defaults to True only on the user's default store (``make lab``), where the
    quickstart shows the session ``make lab`` wrote; anywhere else (a temporary store, a
    server other runs share) the runbook makes its own, so what it asserts is about data
    it wrote.
    """
    if reuse is None:
        reuse = store_url() == "default"
    if reuse:
        demos = [s for s in ws.sessions.list(stats=False)
                 if s.status == "completed" and "demo" in s.metadata]
        if demos:
            return ws.sessions.get(max(demos, key=lambda s: s.created_at).session_id)
    return ws.demo(hours=hours, seed=seed)
