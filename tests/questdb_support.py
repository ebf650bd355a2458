"""Helpers for tests against a real QuestDB server: plain SQL (not through tsanalysis),
checksums, unique days and ids, and the CLI as a process."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import uuid

import numpy as np
import pandas as pd
import psycopg

from tsanalysis import schema
from tsanalysis.store.questdb import QuestDBConfig


def plain_conn(url: str) -> psycopg.Connection:
    """An independent PG-wire connection: counts and checksums not through our code."""
    c = QuestDBConfig.from_url(url)
    return psycopg.connect(host=c.host, port=c.pg_port, user=c.user, password=c.password,
                           dbname=c.dbname, autocommit=True, prepare_threshold=None)


def plain_counts(conn: psycopg.Connection, sid: str) -> dict[str, int]:
    return {t.name: conn.execute(f"SELECT count(*) FROM {t.name} WHERE session_id = %s",
                                 (sid,)).fetchone()[0] for t in schema.TABLES}


def checksum(conn: psycopg.Connection, sid: str) -> dict[str, tuple[int, str]]:
    """Rows and a SHA-256 of every row of the session, per table (plain SQL)."""
    out = {}
    for t in schema.TABLES:
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        order = ", ".join(f'"{c}"' for c in t.column_names)
        rows = conn.execute(f'SELECT {cols} FROM "{t.name}" WHERE session_id = %s '
                            f"ORDER BY {order}", (sid,)).fetchall()
        out[t.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def unique_day() -> pd.Timestamp:
    """A day of its own in the past (2001-2020): no other test writes there."""
    rng = np.random.default_rng()
    return pd.Timestamp("2001-01-01T00:00:00Z") + pd.Timedelta(days=int(rng.integers(0, 7000)))


def fresh(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(url: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``tsanalysis --db URL ARGS`` in this process (see tests/test_cli.py)."""
    from .test_cli import run

    return run(url, *args, env=env)
