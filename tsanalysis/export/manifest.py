"""The manifest of a bundle: what the ``zip`` exporter writes and the bundle import reads.

Two spellings of the same content, chosen with the ``manifest`` option of ``zip``:

``manifest.json``     tsanalysis's own: the session row, the scope, and per member its
                      table, symbol, format, schema, rows, bytes and sha256.
``datapackage.json``  a Frictionless Data Package: one resource per member with ``path``,
                      ``format``, ``mediatype``, ``bytes``, ``hash`` (``sha256:...``) and a
                      Table Schema; the session, the scope and each member's table, symbol
                      and rows under the ``tsanalysis`` property.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pandas as pd

from .. import schema
from ..errors import InvalidInput
from ..ids import check_symbols
from ..sessions import DATA_TYPES, STATUSES
from ..timeutil import iso, to_utc
from .api import ExportedFile, Exporter

FORMAT = "tsanalysis-bundle"
VERSION = 1
MANIFEST_FILES = {"manifest": "manifest.json", "datapackage": "datapackage.json"}

#: logical type -> Frictionless Table Schema type
_TABLE_SCHEMA_TYPES = {
    schema.SYMBOL: "string",
    schema.STRING: "string",
    schema.TIMESTAMP: "datetime",
    schema.DOUBLE: "number",
    schema.LONG: "integer",
}


# -- the session row -----------------------------------------------------------------


def session_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``data_collection_sessions`` as JSON: ISO timestamps, ``metadata`` parsed."""
    out: dict[str, Any] = {}
    for c in schema.SESSIONS.columns:
        v = row.get(c.name)
        if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            out[c.name] = None
        elif c.type == schema.TIMESTAMP:
            out[c.name] = iso(v)
        elif c.type == schema.DOUBLE:
            out[c.name] = float(v)
        elif c.name == "metadata":
            try:
                out[c.name] = json.loads(v)
            except ValueError:
                out[c.name] = str(v)  # kept verbatim; restored as the same text
        else:
            out[c.name] = str(v)
    return out


#: Longest notes or metadata text a bundle may bring (the CLI's own inputs are short).
MAX_TEXT_CHARS = 65_536


def session_row(record: Mapping[str, Any], session_id: str) -> dict[str, Any]:
    """Back from :func:`session_record` to values for ``Store.insert_session``.

    The manifest is input like any other: each field is checked as the command line checks
    it (a status a user may set, valid symbols, known data types, a finite cadence, text
    of bounded length, metadata that is a JSON object); anything else is refused.
    """
    out: dict[str, Any] = {}
    for c in schema.SESSIONS.columns:
        v = record.get(c.name)
        if c.name == "session_id":
            v = session_id
        elif v is None:
            pass
        elif c.type == schema.TIMESTAMP:
            v = to_utc(v, c.name)
        elif c.type == schema.DOUBLE:
            try:
                v = float(v)
            except (TypeError, ValueError):
                v = math.nan
            if not math.isfinite(v) or v <= 0:
                raise InvalidInput(f"bundle manifest: invalid {c.name} {record[c.name]!r}")
        elif c.name == "status":
            if v not in STATUSES:
                raise InvalidInput(f"bundle manifest: invalid status {str(v)[:40]!r}: one of "
                                   f"{', '.join(STATUSES)}")
        elif c.name == "symbols":
            v = ",".join(check_symbols(_text(v, c.name)))
        elif c.name == "data_types":
            kinds = [k for k in _text(v, c.name).split(",") if k]
            bad = [k for k in kinds if k not in DATA_TYPES]
            if bad:
                raise InvalidInput(f"bundle manifest: unknown data type {bad[0][:40]!r}: one "
                                   f"of {', '.join(DATA_TYPES)}")
            v = ",".join(kinds)
        elif c.name == "metadata":
            if isinstance(v, str):
                try:
                    v = json.loads(_text(v, c.name))
                except ValueError:
                    raise InvalidInput("bundle manifest: the session's metadata is not JSON"
                                       ) from None
            if not isinstance(v, dict):
                raise InvalidInput("bundle manifest: the session's metadata is not a JSON "
                                   "object")
            v = _text(json.dumps(v, default=str), c.name)
        elif c.type == schema.STRING:
            v = _text(v, c.name)
        if v is None and not c.nullable:
            raise InvalidInput(f"bundle manifest: the session has no {c.name}")
        out[c.name] = v
    return out


def _text(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise InvalidInput(f"bundle manifest: the session's {name} is not text")
    if len(v) > MAX_TEXT_CHARS:
        raise InvalidInput(f"bundle manifest: the session's {name} is {len(v):,} characters "
                           f"long (at most {MAX_TEXT_CHARS:,})")
    return v


# -- members -------------------------------------------------------------------------


def member_path(table: str, symbol: str | None, suffix: str) -> str:
    """``tick_prices/BTC%2FUSDT.csv``: symbols are percent-encoded ('/' is a separator)."""
    return f"{table}/{quote(symbol or 'all', safe='')}{suffix}"


def _fields(member: ExportedFile) -> list[dict[str, Any]]:
    t = schema.table(member.table or "")
    out = []
    assert member.schema is not None
    for f in member.schema:
        col = t.column(f.name)
        out.append({"name": f.name, "type": col.type, "arrow": str(f.type),
                    "nullable": col.nullable})
    return out


@dataclass
class Member:
    """One data file of a bundle, as its manifest describes it."""

    path: str
    table: str
    symbol: str
    format: str
    rows: int
    bytes: int
    sha256: str
    columns: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    """A bundle's manifest, whichever spelling it was written in."""

    kind: str
    session: dict[str, Any]
    scope: dict[str, Any]
    members: list[Member]
    inner_format: str | None = None


def build(kind: str, *, session: dict[str, Any], scope: dict[str, Any], inner: Exporter,
          members: Sequence[ExportedFile], created_at: pd.Timestamp, version: str
          ) -> tuple[str, bytes]:
    """The manifest file's name and bytes."""
    if kind not in MANIFEST_FILES:
        raise InvalidInput(f"unknown manifest {kind!r}: one of {', '.join(MANIFEST_FILES)}")
    head = {"format": FORMAT, "version": VERSION, "tsanalysis_version": version,
            "created_at": iso(created_at), "inner_format": inner.name,
            "session": session, "scope": scope}
    if kind == "manifest":
        doc: dict[str, Any] = dict(head)
        doc["files"] = [{**m.to_dict(), "schema": _fields(m)} for m in members]
    else:
        doc = _datapackage(head, inner, members)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return MANIFEST_FILES[kind], text.encode("utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "x"


def _datapackage(head: dict[str, Any], inner: Exporter, members: Sequence[ExportedFile]
                 ) -> dict[str, Any]:
    csv = inner.name == "csv"
    text = inner.media_type.startswith("text/") or inner.name in ("json", "jsonl")
    resources = []
    names: set[str] = set()
    for m in members:
        name = f"{_slug(m.table or '')}.{_slug(m.symbol or 'all')}"
        base, i = name, 2
        while name in names:  # BTC/USDT and BTC-USDT share a slug
            name, i = f"{base}-{i}", i + 1
        names.add(name)
        t = schema.table(m.table or "")
        assert m.schema is not None
        fields = []
        for f in m.schema:
            col = t.column(f.name)
            fd: dict[str, Any] = {"name": f.name, "type": _TABLE_SCHEMA_TYPES[col.type]}
            if col.type == schema.TIMESTAMP:
                fd["format"] = "any"  # ISO 8601 with microseconds and 'Z'
            if not col.nullable:
                fd["constraints"] = {"required": True}
            if col.doc:
                fd["description"] = col.doc
            fields.append(fd)
        res: dict[str, Any] = {
            "name": name, "path": m.path,
            "profile": "tabular-data-resource" if csv else "data-resource",
            "format": inner.name, "mediatype": inner.media_type,
        }
        if text:
            res["encoding"] = "utf-8"
        res.update({"bytes": m.bytes, "hash": f"sha256:{m.sha256}"})
        table_schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
        key = [k for k in t.key if m.schema.get_field_index(k) >= 0]
        if len(key) == len(t.key):
            table_schema["primaryKey"] = key
        res["schema"] = table_schema
        if csv:
            res["dialect"] = {"delimiter": ",", "doubleQuote": True, "header": True,
                              "lineTerminator": "\n", "quoteChar": '"'}
        res["tsanalysis"] = {"table": m.table, "symbol": m.symbol, "rows": m.rows}
        resources.append(res)
    sid = head["session"].get("session_id") or "session"
    return {
        "profile": "tabular-data-package" if csv else "data-package",
        "name": f"tsanalysis-{_slug(sid)}",
        "title": f"tsanalysis session {sid}",
        "created": head["created_at"],
        "resources": resources,
        "tsanalysis": {k: v for k, v in head.items() if k != "created_at"},
    }


def parse(name: str, data: bytes) -> Manifest:
    """Read a manifest (either spelling); raise ``InvalidInput`` on anything unexpected."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidInput(f"bundle manifest {name} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"bundle manifest {name} is not a JSON object")
    kind = "datapackage" if name == MANIFEST_FILES["datapackage"] else "manifest"
    head = doc.get("tsanalysis") if kind == "datapackage" else doc
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise InvalidInput(f"{name} does not describe a tsanalysis bundle")
    if head.get("version") != VERSION:
        raise InvalidInput(f"{name}: bundle version {head.get('version')!r} is not supported "
                           f"(this tsanalysis reads version {VERSION})")
    try:
        if kind == "manifest":
            members = [Member(f["path"], f["table"], f["symbol"], f["format"], int(f["rows"]),
                              int(f["bytes"]), f["sha256"], [c["name"] for c in f["schema"]])
                       for f in doc["files"]]
        else:
            members = []
            for r in doc["resources"]:
                algo, _, digest = str(r["hash"]).partition(":")
                if algo != "sha256":
                    raise InvalidInput(f"{name}: resource {r['name']} has no sha256 hash")
                ts = r["tsanalysis"]
                members.append(Member(r["path"], ts["table"], ts["symbol"], r["format"],
                                      int(ts["rows"]), int(r["bytes"]), digest,
                                      [f["name"] for f in r["schema"]["fields"]]))
        session = head["session"]
        if not isinstance(session, dict):
            raise TypeError("session is not an object")
    except InvalidInput:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidInput(f"bundle manifest {name} is incomplete: {type(e).__name__}: {e}"
                           ) from None
    return Manifest(kind, session, dict(head.get("scope") or {}), members,
                    head.get("inner_format"))
