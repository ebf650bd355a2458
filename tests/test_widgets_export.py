"""ExportPanel: formats from the registry, the scope, the file, its checksum, errors shown."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.helpers import fill_all_tables
from tsanalysis import hookimpl, plugins
from tsanalysis.errors import InvalidInput
from tsanalysis.export import Exporter, exporters
from tsanalysis.widgets import ExportPanel
from tsanalysis.widgets._base import plain_text


@pytest.fixture
def session(ws, sid):
    """A completed session with rows in every table, two symbols."""
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    fill_all_tables(ws, sid, n=80)
    ws.sessions.complete(sid)
    return sid


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """The kernel's working directory (where the panel proposes exports/...)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_offers_the_registered_formats_and_proposes_a_file(ws, session, in_tmp):
    p = ExportPanel(ws, session_id=session)
    assert p.formats == list(exporters()) and p._format.value == "parquet"
    assert p._tables.value == ("tick_prices",)
    assert str(p.path) == f"exports/{session}_tick_prices.parquet"
    assert list(p._symbols.options) == ["BTC/USDT", "ETH/USDT"]
    assert not p._export_button.disabled
    p.set_scope(format="zip")
    assert str(p.path) == f"exports/{session}.zip" and len(p._tables.value) == 5
    assert p.options_form.raw() == {"inner": "parquet", "manifest": "manifest"}


def test_export_writes_the_scope_and_links_the_file(ws, session, in_tmp):
    p = ExportPanel(ws, session_id=session)
    p.set_scope(format="parquet", tables=["tick_prices"], symbols=["ETH/USDT"],
                start="2026-01-05T00:00:10Z", end="2026-01-05T00:01:00Z")
    assert str(p.path) == f"exports/{session}_tick_prices_ETHUSDT.parquet"
    p._export_button.click()
    assert p.last_error is None, p.last_error
    path = in_tmp / "exports" / f"{session}_tick_prices_ETHUSDT.parquet"
    table = pq.read_table(path).to_pandas()
    expected = ws.sql("SELECT count(*) AS n FROM tick_prices WHERE session_id = ? AND "
                      "symbol = ? AND ts >= ? AND ts < ?",
                      [session, "ETH/USDT", pd.Timestamp("2026-01-05T00:00:10Z"),
                       pd.Timestamp("2026-01-05T00:01:00Z")])["n"].iloc[0]
    assert len(table) == expected == 50 and set(table["symbol"]) == {"ETH/USDT"}
    r = p.result
    assert (r.rows, r.bytes, r.sha256) == (50, path.stat().st_size, sha256(path))
    text = p.result_text
    assert f"sha256 {r.sha256}" in text and "rows 50" in text and f"bytes {r.bytes:,}" in text
    assert f"href='exports/{session}_tick_prices_ETHUSDT.parquet'" in p.link_html
    assert p.progress.last == (50, None)  # a time range: the total is not known ahead
    assert "Exported" in p.status


def test_a_bundle_lists_its_members_with_their_checksums(ws, session, in_tmp):
    p = ExportPanel(ws, session_id=session)
    p.set_scope(format="zip")
    p.options_form.set(inner="csv")
    p._export_button.click()
    assert p.last_error is None, p.last_error
    r = p.result
    counts = ws.store.count_rows(session)
    child_rows = sum(n for t, n in counts.items() if t != "data_collection_sessions")
    assert r.rows == child_rows and p.progress.last == (r.rows, r.rows)
    with zipfile.ZipFile(r.path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for m in r.members:
            assert m.path.endswith(".csv")
            assert hashlib.sha256(zf.read(m.path)).hexdigest() == m.sha256
    assert sha256(r.path) == r.sha256
    assert len(r.members) == 10 and manifest  # five tables x two symbols
    text = p.result_text
    assert "10 member(s)" in text and all(m.sha256 in text for m in r.members)


def test_an_existing_file_is_refused_in_the_panel_unless_overwrite(ws, session, in_tmp):
    p = ExportPanel(ws, session_id=session)
    p._export_button.click()
    first = p.result
    assert "tick Overwrite" in plain_text(p._path_note.value)
    before = first.path.read_bytes()
    p.result = None
    p._export_button.click()  # not disabled: the core refuses, the panel says why
    assert isinstance(p.last_error, InvalidInput) and "exists" in p.status
    assert p.result is None and first.path.read_bytes() == before
    p._overwrite.value = True
    assert "will be replaced" in plain_text(p._path_note.value)
    p._export_button.click()
    assert p.last_error is None and p.result.sha256 == sha256(first.path)


def test_bad_scopes_cannot_be_exported(ws, session, in_tmp):
    p = ExportPanel(ws, session_id=session)
    p.set_scope(format="csv", tables=["tick_prices", "tick_orderbook"])
    assert p._export_button.disabled and "holds one table" in plain_text(p._why.value)
    p.set_scope(tables=["tick_orderbook"], start="2026-01-05T00:01:00Z",
                end="2026-01-05T00:00:30Z")
    assert p._export_button.disabled and "is not after start" in plain_text(p._why.value)
    p._export_button.click()
    assert isinstance(p.last_error, InvalidInput)
    assert not (in_tmp / "exports").exists()  # nothing written, not even the folder
    p.set_scope(end="not a time")
    assert "invalid end" in plain_text(p._why.value)
    p._end.value = ""
    p._path.value = str(in_tmp / "no-such-dir" / "x.csv")
    p._export_button.click()
    assert "does not exist" in p.status and not (in_tmp / "no-such-dir").exists()


def test_a_plugin_format_with_options(ws, session, in_tmp):
    import pyarrow.csv as pacsv

    class Tsv:
        def __init__(self, f, schema, options):
            self._w = pacsv.CSVWriter(f, schema, write_options=pacsv.WriteOptions(
                delimiter=options["sep"]))

        def write_batch(self, batch):
            self._w.write_batch(batch)

        def close(self):
            self._w.close()

    class Plugin:
        @hookimpl
        def register_exporters(self, register):
            register(Exporter(name="acme.tsv", suffix=".tsv", writer=Tsv,
                              options={"sep": "\t"}, doc="tab-separated"))

    name = plugins.register(Plugin(), name="acme")
    try:
        p = ExportPanel(ws, session_id=session)
        assert "acme.tsv" in p.formats
        p.set_scope(format="acme.tsv")
        assert str(p.path).endswith("_tick_prices.tsv")
        p.options_form.set(sep="|")
        p._export_button.click()
        assert p.last_error is None, p.last_error
        header = p.result.path.read_text().splitlines()[0]
        assert header.startswith('"session_id"|"symbol"')
    finally:
        plugins.unregister(name)


def test_a_file_outside_the_working_directory_is_named_not_linked(ws, session, in_tmp,
                                                                   tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "ticks.csv"
    p = ExportPanel(ws, session_id=session)
    p.set_scope(format="csv", path=elsewhere)
    p._export_button.click()
    assert p.last_error is None and elsewhere.exists()
    assert "no link" in p.link_html and str(elsewhere) in p.link_html


def test_another_session_clears_the_result_and_proposes_its_own_file(ws, session, in_tmp):
    other = ws.sessions.create(["SOL/USDT"], status="completed").session_id
    p = ExportPanel(ws, session_id=session)
    p._export_button.click()
    assert p.result is not None
    p.session_id = other
    assert p.result is None and p.result_text == "" and p.link_html == ""
    assert str(p.path) == f"exports/{other}_tick_prices.parquet"
    assert list(p._symbols.options) == ["SOL/USDT"]
    p._path.value = "mine.parquet"  # typed by the user: kept
    p.session_id = session
    assert str(p.path) == "mine.parquet"
