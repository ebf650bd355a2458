"""The migration ledger: which legacy files of a session are already in the store.

It lives in the session's own ``metadata`` JSON, under ``"migration"``::

    {"migration": {"source": "/data/legacy/s1", "state": "complete",
                   "files": {"BTC_USDT/tick_prices.csv": {"table": "tick_prices",
                             "symbol": "BTC/USDT", "indicator_id": null, "rows": 86400,
                             "skipped": 0, "size": 2641980, "sha256": "9f1c...",
                             "migrated_at": "2026-..."}}}}

so it travels with the data and disappears with it when the session is deleted. An entry
is written only after the file's rows are in the store (on DuckDB in the same transaction
as the rows), so the ledger never claims rows that are not there. It makes re-runs fast and
lets the dry run say "already present"; correctness does not depend on it, because every
row has a deterministic key (see :mod:`tsanalysis.migrate.runner`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..store.base import Store
from ..timeutil import iso
from .layout import LegacyFile

KEY = "migration"
IN_PROGRESS, COMPLETE, PARTIAL = "in_progress", "complete", "partial"


@dataclass
class Ledger:
    """The ``migration`` entry of one session's metadata, and the rest of that metadata."""

    session_id: str
    metadata: dict[str, Any]
    #: False for a session that exists but was not created by a migration
    from_migration: bool = True
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: entries dropped by :meth:`forget_short`: some of their rows may still be stored
    stale: set[str] = field(default_factory=set)

    @classmethod
    def new(cls, session_id: str, source: str, extra: dict[str, Any]) -> Ledger:
        meta = dict(extra)
        if KEY in meta:  # a legacy field that happens to share our key
            meta[f"legacy_{KEY}"] = meta.pop(KEY)
        meta[KEY] = {"source": source, "state": IN_PROGRESS, "files": {}}
        return cls(session_id, meta)

    @classmethod
    def load(cls, session_id: str, metadata_json: Any) -> Ledger:
        try:
            meta = json.loads(metadata_json) if isinstance(metadata_json, str) else {}
        except ValueError:
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        mig = meta.get(KEY)
        if not isinstance(mig, dict):
            return cls(session_id, meta, from_migration=False)
        files = mig.get("files")
        return cls(session_id, meta, files=dict(files) if isinstance(files, dict) else {})

    @property
    def state(self) -> str | None:
        return self.metadata.get(KEY, {}).get("state")

    def done(self, f: LegacyFile) -> bool:
        """True when ``f``, as it is on disk now, is recorded as migrated."""
        e = self.files.get(f.key)
        return bool(e) and all(e.get(k) == v for k, v in f.fingerprint.items())

    def recorded(self, f: LegacyFile) -> bool:
        """True when some rows of ``f`` may be stored already (an earlier version of the
        file was migrated, or its entry was dropped by :meth:`forget_short`)."""
        return f.key in self.files or f.key in self.stale

    def record(self, f: LegacyFile, rows: int, skipped: int) -> None:
        self.files[f.key] = {"table": f.table, "symbol": f.symbol,
                             "indicator_id": f.indicator_id, "rows": rows, "skipped": skipped,
                             **f.fingerprint,
                             "migrated_at": iso(pd.Timestamp.now(tz="UTC"))}

    def forget_short(self, store: Store) -> list[str]:
        """Drop entries whose rows the store no longer fully holds; return their keys.

        Compares, per table and symbol, the rows the ledger recorded with the rows stored
        (:meth:`Store.table_stats`). Fewer stored than recorded means rows went missing
        (e.g. a store restored from an older copy): those files are migrated again.
        """
        if not self.files:
            return []
        stats = store.table_stats([self.session_id])
        stored = {(r.table, r.symbol): int(r.rows) for r in stats.itertuples(index=False)}
        recorded: dict[tuple[str, str], int] = {}
        for e in self.files.values():
            k = (e.get("table"), e.get("symbol"))
            recorded[k] = recorded.get(k, 0) + int(e.get("rows") or 0)  # type: ignore[index]
        short = {k for k, n in recorded.items() if stored.get(k, 0) < n}  # type: ignore[misc]
        gone = [key for key, e in self.files.items()
                if (e.get("table"), e.get("symbol")) in short]
        for key in gone:
            del self.files[key]
        self.stale.update(gone)
        return gone

    def set_state(self, state: str) -> None:
        self.metadata.setdefault(KEY, {})["state"] = state

    def to_json(self) -> str:
        self.metadata.setdefault(KEY, {})["files"] = self.files
        return json.dumps(self.metadata, default=str, sort_keys=False)
