"""Export (issue 6): every format round-trips, failures leave nothing behind, bundles verify.

Data that tends to break exports: microsecond UTC timestamps, several trades on one
timestamp (some identical), symbols with '/', NULL volumes and one-sided quotes, NaN
indicator warm-ups, text with commas, quotes, newlines and non-ASCII characters.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tsanalysis import hookimpl, hookspecs, plugins, schema
from tsanalysis.default_plugins.exporters import iso_text
from tsanalysis.errors import ExportFailed, InvalidInput, SessionNotFound
from tsanalysis.export import Exporter, export_session, exporters
from tsanalysis.export.registry import exporter_plugin
from tsanalysis.export.runner import BUNDLE_TABLES
from tsanalysis.plugins import PluginWarning

from .helpers import T0, backtest_rows, indicator_rows, quotes

SYMBOLS = ("BTC/USDT", "ETH/USDT")
ONE_TABLE = ("csv", "jsonl", "json", "parquet")
KIND_OF = {"tick_prices": "ticks", "tick_orderbook": "orderbook", "aggregated_ohlcv": "ohlcv"}


def tricky_ticks(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, 50_000_000, n))  # microseconds
    offsets[20:26] = offsets[20]  # six trades on one timestamp
    ts = T0 + pd.to_timedelta(offsets, unit="us")
    price = np.round(rng.uniform(1, 50_000, n), 8)
    price[:3] = [0.1 + 0.2, 1e-8, 12345.678901234567]  # doubles without a short decimal
    price[22:24] = price[21]  # identical rows: distinct trades with the same values
    volume = rng.uniform(0, 5, n)
    volume[::17] = np.nan
    volume[22:24] = volume[21]
    side = np.array(["buy", "sell", None], dtype=object)[rng.integers(0, 3, n)]
    side[22:24] = side[21]
    trade_id = np.array([f'id-{i},"q"é' for i in range(n)], dtype=object)
    trade_id[::11] = None
    trade_id[5] = ""
    return pd.DataFrame({"ts": pd.DatetimeIndex(ts).as_unit("us"), "price": price,
                         "volume": volume, "side": side, "trade_id": trade_id})


def fill_session(ws, sid: str) -> None:
    """A completed session with rows in every table (two symbols)."""
    ws.sessions.create(list(SYMBOLS), sid, notes="export test, ünïcode",
                      metadata={"source": "test", "nested": {"a": [1, 2]}}, cadence_s=0.25)
    for k, sym in enumerate(SYMBOLS):
        ws.ingest(sid, sym, tricky_ticks(seed=k), "ticks")
        q = quotes(80, seed=k)
        q.loc[5, ["bid_price", "bid_size"]] = np.nan  # a one-sided book
        ws.ingest(sid, sym, q, "orderbook")
        ws.build_bars(sid, "1m", [sym])
        for ind in ("rsi_14", "sma_5"):
            ws.store.write("indicators", indicator_rows(sid, sym, 40, ind))  # NaN warm-ups
        bt = backtest_rows(sid, sym, 12)
        bt["parameters"] = '{"fast": 5,\n "name": "é \\"x\\", y"}'  # newline, quotes, comma
        bt.loc[3, "metrics"] = None
        ws.store.write("backtest_results", bt)
    ws.sessions.complete(sid)


@pytest.fixture
def session(ws, sid):
    fill_session(ws, sid)
    return sid


def frames(ws, sid: str) -> dict[str, pd.DataFrame]:
    return {t: ws.read(t, sid).drop(columns="session_id") for t in BUNDLE_TABLES}


def session_row(ws, sid: str) -> dict:
    row = ws.store.session_rows(sid).iloc[0].to_dict()
    row.pop("session_id")
    return row


def assert_same_session(ws, original: str, copy: str, tables=BUNDLE_TABLES) -> None:
    a, b = frames(ws, original), frames(ws, copy)
    for t in tables:
        assert len(a[t]) > 0, t
        pd.testing.assert_frame_equal(a[t], b[t], obj=t)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """Where exports go (the database file lives in tmp_path itself)."""
    d = tmp_path / "out"
    d.mkdir()
    return d


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ONE_TABLE)
@pytest.mark.parametrize("table", list(KIND_OF))
def test_one_table_formats_round_trip(ws, session, fmt, table, tmp_path):
    out = tmp_path / f"export.{fmt}"
    res = ws.export.run(session, fmt, out, tables=table)
    assert res.rows == ws.store.count_rows(session)[table] > 0
    assert res.bytes == out.stat().st_size and res.sha256 == sha256(out)
    copy = f"{session}-copy"
    ws.sessions.create(["X"], copy)
    results = ws.import_file_by_symbol(copy, out, KIND_OF[table])
    assert [r.symbol for r in results] == list(SYMBOLS)
    assert_same_session(ws, session, copy, [table])


@pytest.mark.parametrize("inner", ONE_TABLE)
@pytest.mark.parametrize("manifest", ["manifest", "datapackage"])
def test_bundle_round_trip_restores_session_and_every_table(ws, session, inner, manifest,
                                                            tmp_path):
    out = tmp_path / "bundle.zip"
    res = ws.export.run(session, "zip", out, options={"inner": inner, "manifest": manifest})
    assert res.tables == list(BUNDLE_TABLES)
    assert len(res.members) == len(BUNDLE_TABLES) * len(SYMBOLS)
    copy = f"{session}-b"
    back = ws.import_bundle(out, copy)
    assert back.source_session_id == session and back.total == res.rows
    assert_same_session(ws, session, copy)
    assert session_row(ws, copy) == session_row(ws, session)
    # NaN warm-ups came back as missing values, not as numbers
    ind = ws.read("indicators", copy)
    assert ind.groupby(["symbol", "indicator_id"])["value"].apply(
        lambda v: int(v.isna().sum())).eq(14).all()


def test_bundle_import_under_the_original_id(ws, session, tmp_path):
    out = tmp_path / "b.zip"
    ws.export.run(session, "zip", out)
    before = frames(ws, session)
    ws.sessions.delete(session)
    with pytest.raises(SessionNotFound):
        ws.sessions.get(session)
    ws.import_bundle(out)
    after = frames(ws, session)
    for t in BUNDLE_TABLES:
        pd.testing.assert_frame_equal(before[t], after[t], obj=t)


def test_same_timestamp_trades_keep_their_order_and_count(ws, session, tmp_path):
    out = tmp_path / "t.csv"
    ws.export.run(session, "csv", out, symbols="BTC/USDT")
    back = pd.read_csv(out, dtype={"trade_id": "string"}, keep_default_na=False,
                       na_values={"volume": [""], "side": [""]})
    src = tricky_ticks(seed=0)
    same = back[back["ts"] == back["ts"].iloc[20]]
    assert len(same) == 6 and same["seq"].tolist() == list(range(20, 26))
    assert back["price"].tolist() == src["price"].tolist()  # exact doubles, in order
    assert back["ts"].iloc[1].endswith("Z") and len(back["ts"].iloc[1]) == 27


# -- formats -----------------------------------------------------------------------------


def test_json_is_one_valid_array_and_jsonl_one_object_a_line(ws, session, tmp_path):
    ws.export.run(session, "json", tmp_path / "a.json", tables="indicators")
    ws.export.run(session, "jsonl", tmp_path / "a.jsonl", tables="indicators")
    rows = json.loads((tmp_path / "a.json").read_text())  # strict: NaN would fail
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert rows == lines and len(rows) == 2 * 2 * 40
    assert rows[0]["value"] is None and rows[0]["ts"] == "2026-01-05T00:00:00.000000Z"
    assert list(rows[0]) == schema.INDICATORS.column_names


def test_csv_in_small_batches_is_the_bytes_of_one_arrow_csv_writer(ws, session, tmp_path):
    """Batches of 16 rows (encoded on several threads, written in order): the file is the
    one a single pyarrow CSVWriter writes for the whole table (ISO times included)."""
    res = export_session(ws.store, session, "csv", tmp_path / "small.csv", batch_rows=16)
    whole = ws.store.read_arrow("tick_prices", session)
    target = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                        for f in whole.schema])
    text = pa.table([iso_text(c) if pa.types.is_timestamp(c.type) else c
                     for c in whole.columns], schema=target)
    sink = io.BytesIO()
    with pacsv.CSVWriter(sink, target) as w:
        w.write_table(text)
    assert res.rows == whole.num_rows > 16 * 8
    assert (tmp_path / "small.csv").read_bytes() == sink.getvalue()


def test_parquet_keeps_the_schema_types(ws, session, tmp_path):
    ws.export.run(session, "parquet", tmp_path / "t.parquet", options={"compression": "zstd"})
    f = pq.ParquetFile(tmp_path / "t.parquet")
    s = f.schema_arrow
    assert s.field("ts").type == pa.timestamp("us", tz="UTC")
    assert s.field("seq").type == pa.int64() and not s.field("seq").nullable
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"


def test_bundle_manifest_checksums_verify(ws, session, tmp_path):
    out = tmp_path / "b.zip"
    res = ws.export.run(session, "zip", out, options={"inner": "csv"})
    counts = ws.store.table_stats([session])
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        man = json.loads(zf.read("manifest.json"))
        assert man["session"]["session_id"] == session
        assert man["session"]["metadata"] == {"source": "test", "nested": {"a": [1, 2]}}
        assert {f["path"] for f in man["files"]} | {"manifest.json"} == set(zf.namelist())
        for f in man["files"]:
            data = zf.read(f["path"])
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            assert len(data) == f["bytes"]
            want = counts[(counts["table"] == f["table"]) & (counts["symbol"] == f["symbol"])]
            assert f["rows"] == int(want["rows"].iloc[0])
            assert [c["name"] for c in f["schema"]] == schema.table(f["table"]).column_names
            body = pd.read_csv(io.BytesIO(data))
            assert len(body) == f["rows"]
            assert "%2F" in f["path"] and (body["symbol"] == f["symbol"]).all()
    assert sorted(m.sha256 for m in res.members) == sorted(f["sha256"] for f in man["files"])


def test_datapackage_describes_every_resource(ws, session, tmp_path):
    out = tmp_path / "dp.zip"
    ws.export.run(session, "zip", out, options={"inner": "csv", "manifest": "datapackage"})
    with zipfile.ZipFile(out) as zf:
        dp = json.loads(zf.read("datapackage.json"))
        assert dp["profile"] == "tabular-data-package"
        names = [r["name"] for r in dp["resources"]]
        assert len(set(names)) == len(names) == 10
        for r in dp["resources"]:
            assert r["hash"] == "sha256:" + hashlib.sha256(zf.read(r["path"])).hexdigest()
            assert r["bytes"] == zf.getinfo(r["path"]).file_size
            fields = {f["name"]: f["type"] for f in r["schema"]["fields"]}
            assert fields["ts"] == "datetime" and fields["session_id"] == "string"
            assert r["dialect"]["header"] is True
        assert dp["tsanalysis"]["session"]["session_id"] == session


def test_tampered_bundle_is_refused_and_nothing_imported(ws, session, tmp_path):
    out = tmp_path / "b.zip"
    ws.export.run(session, "zip", out, options={"inner": "jsonl"})
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("indicators/ETH"):
                data = data.replace(b'"value":null', b'"value":1.5', 1)
            dst.writestr(info, data)
    with pytest.raises(InvalidInput, match="does not match its manifest"):
        ws.import_bundle(bad, f"{session}-t")
    assert ws.store.count_rows(f"{session}-t") == {t.name: 0 for t in schema.TABLES}


def test_bundle_with_invalid_rows_imports_nothing(ws, session, tmp_path):
    """Checksums only prove integrity; the rows are validated like any import."""
    out = tmp_path / "b.zip"
    ws.export.run(session, "zip", out, options={"inner": "csv"})
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        man = json.loads(src.read("manifest.json"))
        for info in src.infolist():
            if info.filename == "manifest.json":
                continue
            data = src.read(info.filename)
            if info.filename.startswith("tick_prices/ETH"):
                lines = data.split(b"\n")
                cells = lines[5].split(b",")
                cells[4] = b"-1"  # a negative price
                lines[5] = b",".join(cells)
                data = b"\n".join(lines)
                entry = next(f for f in man["files"] if f["path"] == info.filename)
                entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
            dst.writestr(info, data)
        dst.writestr("manifest.json", json.dumps(man))
    with pytest.raises(InvalidInput, match="non-positive price"):
        ws.import_bundle(bad, f"{session}-i")
    assert ws.store.count_rows(f"{session}-i") == {t.name: 0 for t in schema.TABLES}
    with pytest.raises(InvalidInput, match="already exists"):
        ws.import_bundle(out, session)


# -- scope -------------------------------------------------------------------------------


def test_scope_symbols_time_range_columns(ws, session, tmp_path):
    ticks = ws.ticks(session, "ETH/USDT")
    lo, hi = ticks["ts"].iloc[50], ticks["ts"].iloc[120]
    res = ws.export.run(session, "parquet", tmp_path / "s.parquet", symbols=["ETH/USDT"],
                    start=lo, end=hi, columns=["ts", "seq", "price"])
    got = pq.read_table(tmp_path / "s.parquet").to_pandas()
    want = ticks[(ticks["ts"] >= lo) & (ticks["ts"] < hi)]
    assert res.rows == len(got) == len(want) and res.symbols == ["ETH/USDT"]
    assert list(got.columns) == ["session_id", "symbol", "ts", "seq", "price"]
    assert got["seq"].tolist() == want["seq"].tolist()
    zres = ws.export.run(session, "zip", tmp_path / "s.zip", tables="indicators,tick_prices",
                     symbols="BTC/USDT")
    assert zres.tables == ["tick_prices", "indicators"]
    assert [m.path for m in zres.members] == ["tick_prices/BTC%2FUSDT.parquet",
                                             "indicators/BTC%2FUSDT.parquet"]


def test_a_time_range_outside_the_data_writes_an_empty_file(ws, session, tmp_path):
    for fmt in ONE_TABLE:
        out = tmp_path / f"e.{fmt}"
        res = ws.export.run(session, fmt, out, start="2030-01-01", end="2030-01-02")
        assert res.rows == 0 and out.exists()
        copy = ws.sessions.create(["X"]).session_id
        assert ws.import_file(copy, out, "X").rows_written == 0, fmt
    zres = ws.export.run(session, "zip", tmp_path / "e.zip", start="2030-01-01")
    assert zres.rows == 0 and zres.members == []


@pytest.mark.parametrize("kwargs, message", [
    ({"tables": "tick_prices,indicators"}, "holds one table"),
    ({"tables": "trades"}, "unknown table"),
    ({"tables": "data_collection_sessions"}, "not a child table"),
    ({"symbols": ["DOGE/USDT"]}, "not in the session"),
    ({"columns": "ts,nope"}, "unknown column"),
    ({"start": "2026-01-06", "end": "2026-01-05"}, "not after start"),
    ({"options": {"level": "9"}}, "has no option 'level'"),
])
def test_bad_scope_is_refused_before_any_file(ws, session, out_dir, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        ws.export.run(session, "csv", out_dir / "x.csv", **kwargs)
    assert listing(out_dir) == []


def test_progress_reaches_the_total(ws, session, tmp_path):
    seen = []
    export_session(ws.store, session, "zip", tmp_path / "p.zip", batch_rows=64,
                   progress=lambda done, total: seen.append((done, total)))
    total = sum(ws.store.count_rows(session)[t] for t in BUNDLE_TABLES)
    assert len(seen) > 10 and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# -- atomicity ---------------------------------------------------------------------------


class _Flaky:
    """A writer that fails after ``after`` batches with ``error``."""

    def __init__(self, fileobj, schema, options, after: int, error: BaseException):
        self.f, self.after, self.error, self.n = fileobj, after, error, 0
        self.f.write(b"header\n")

    def write_batch(self, batch):
        if self.n == self.after:
            raise self.error
        self.f.write(b"x" * 1000)
        self.n += 1

    def close(self):
        pass


@contextmanager
def failing_format(after: int, error: BaseException):
    class Plugin:
        @staticmethod
        @hookimpl
        def register_exporters(register):
            register(Exporter(name="test.flaky", suffix=".bin", doc="fails on purpose",
                              writer=lambda f, s, o: _Flaky(f, s, o, after, error)))

    name = plugins.register(Plugin(), "test-flaky")
    try:
        yield "test.flaky"
    finally:
        plugins.unregister(name)


@pytest.mark.parametrize("error, raised", [
    (RuntimeError("writer bug"), RuntimeError),
    (OSError(errno.ENOSPC, "No space left on device"), ExportFailed),
    (PermissionError(errno.EACCES, "Permission denied"), ExportFailed),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failure_mid_write_leaves_no_file(ws, session, tmp_path, error, raised):
    out = tmp_path / "out" / "f.bin"
    out.parent.mkdir()
    with failing_format(after=3, error=error) as fmt, pytest.raises(raised) as info:
        export_session(ws.store, session, fmt, out, batch_rows=50)
    assert listing(out.parent) == []
    if raised is ExportFailed:
        assert ("no space left" if error.errno == errno.ENOSPC else "permission denied") \
            in str(info.value)


@pytest.mark.parametrize("fmt", [*ONE_TABLE, "zip"])
def test_builtin_writer_interrupted_mid_write_leaves_no_file(ws, session, out_dir, fmt):
    """The real writers, stopped between batches (the store stream raises)."""
    class Interrupting:
        def __init__(self, store):
            self._store = store

        def __getattr__(self, name):
            return getattr(self._store, name)

        def iter_arrow(self, *args, **kwargs):
            for i, batch in enumerate(self._store.iter_arrow(*args, **kwargs)):
                if i == 2:
                    raise KeyboardInterrupt
                yield batch

    with pytest.raises(KeyboardInterrupt):
        export_session(Interrupting(ws.store), session, fmt, out_dir / f"x.{fmt}",
                       batch_rows=40)
    assert listing(out_dir) == []


def test_existing_destination_needs_overwrite(ws, session, out_dir):
    out = out_dir / "t.csv"
    out.write_text("keep me")
    with pytest.raises(InvalidInput, match="exists; pass --overwrite"):
        ws.export.run(session, "csv", out)
    assert out.read_text() == "keep me"
    res = ws.export.run(session, "csv", out, overwrite=True)
    assert out.stat().st_size == res.bytes > 100 and listing(out_dir) == ["t.csv"]


def test_unknown_session_writes_nothing(ws, out_dir):
    with pytest.raises(SessionNotFound):
        ws.export.run("no-such-session", "parquet", out_dir / "x.parquet")
    assert listing(out_dir) == []


def _writable(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextmanager
def read_only_directory(path: Path):
    """A directory nobody may write in: mode 0555, or (for root, whom modes do not stop)
    a read-only bind mount."""
    path.mkdir()
    path.chmod(0o555)
    mounted = False
    try:
        if _writable(path):
            mounted = _run("mount", "--bind", str(path), str(path))
            if mounted and not _run("mount", "-o", "remount,bind,ro", str(path)):
                pytest.skip("running as root and cannot remount a directory read-only")
            if not mounted:
                pytest.skip("running as root and cannot bind-mount a read-only directory")
        assert not _writable(path)
        yield path
    finally:
        if mounted:
            _run("umount", str(path))
        path.chmod(0o755)


def test_read_only_directory_fails_cleanly(ws, session, tmp_path):
    with read_only_directory(tmp_path / "ro") as ro:
        with pytest.raises(ExportFailed, match="permission denied|cannot write"):
            ws.export.run(session, "parquet", ro / "t.parquet")
        assert listing(ro) == []


def test_a_really_full_disk_fails_cleanly(ws, session, tmp_path):
    """A 16 KiB tmpfs: the writes hit ENOSPC for real (needs root to mount)."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here (not root); the simulated ENOSPC test covers it")
    try:
        with pytest.raises(ExportFailed, match="no space left"):
            ws.export.run(session, "jsonl", disk / "t.jsonl")  # about 100 KB
        assert listing(disk) == []
    finally:
        _run("umount", str(disk))


# -- plugins -----------------------------------------------------------------------------


def _doc_example() -> str:
    """The register_exporters example from the hook's documentation, as module source."""
    doc = hookspecs.register_exporters.__doc__ or ""
    body = doc.split("Example::", 1)[1].split("\n    Then ", 1)[0]
    return textwrap.dedent(body)


def tsv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_documented_example_plugin_works_from_python(ws, session, tmp_path):
    namespace: dict = {}
    exec(compile(_doc_example(), "example", "exec"), namespace)
    plugin = type("DocPlugin", (), {"register_exporters": staticmethod(
        namespace["register_exporters"])})()
    name = plugins.register(plugin, "doc-example")
    try:
        assert "myplugin.tsv" in exporters() and "myplugin.tsv" in ws.export.catalog()["name"].tolist()
        res = ws.export.run(session, "myplugin.tsv", tmp_path / "t.tsv", columns="ts,price")
        rows = tsv_rows(tmp_path / "t.tsv")
        assert rows[0] == ["session_id", "symbol", "ts", "price"]
        assert len(rows) == res.rows + 1 == 601 and rows[1][1] == "BTC/USDT"
        listed = {p.name: p.registered for p in plugins.list_plugins()}
        assert listed["doc-example"]["register_exporters"] == ["myplugin.tsv"]
        assert listed["tsanalysis.default_plugins.exporters"]["register_exporters"] == \
            ["csv", "jsonl", "json", "parquet", "zip"]
    finally:
        plugins.unregister(name)
    assert "myplugin.tsv" not in exporters()


def test_a_plugin_registering_a_builtin_name_is_skipped_naming_both(ws, session, tmp_path):
    class Clash:
        @staticmethod
        @hookimpl
        def register_exporters(register):
            register(Exporter(name="csv", suffix=".csv", writer=lambda f, s, o: None))

    name = plugins.register(Clash(), "clash")
    try:
        with pytest.warns(PluginWarning, match="'clash': export format 'csv' is registered "
                                               "already by 'tsanalysis.default_plugins"):
            res = ws.export.run(session, "csv", tmp_path / "x.csv")  # the built-in csv
        assert res.rows > 0 and exporter_plugin("csv") == "tsanalysis.default_plugins.exporters"
        assert [s.name for s in {p.name: p for p in plugins.list_plugins()}["clash"].skipped] \
            == ["csv"]
    finally:
        plugins.unregister(name)


def test_exporter_declaration_is_checked():
    with pytest.raises(InvalidInput, match="exactly one of writer"):
        Exporter(name="x", suffix=".x")
    with pytest.raises(InvalidInput, match="invalid export format name"):
        Exporter(name="Bad Name", suffix=".x", writer=lambda f, s, o: None)


# -- command line ------------------------------------------------------------------------


from .test_cli import run as cli  # noqa: E402 - in this process
from .test_cli import run_process  # noqa: E402 - a process of its own


def test_cli_export_json_and_reimport(ws, session, store_url, tmp_path):
    ws.close()  # the CLI is another process: let go of the DuckDB file
    out = tmp_path / "t.jsonl"
    p = cli(store_url, "export", session, "--format", "jsonl", "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    f = doc["files"][0]
    assert f["path"] == str(out) and f["rows"] == 600 == doc["rows"]
    assert f["bytes"] == out.stat().st_size and f["sha256"] == sha256(out)
    assert f["tables"] == ["tick_prices"] and doc["symbols"] == list(SYMBOLS)
    re_id, restored = f"{session}-re", f"{session}-restored"
    assert cli(store_url, "sessions", "create", "--symbols", "X", "--id", re_id).returncode == 0
    p = cli(store_url, "sessions", "import", re_id, str(out), "--json")
    assert p.returncode == 0, p.stderr
    assert [r["rows_written"] for r in json.loads(p.stdout)] == [300, 300]
    bundle = tmp_path / "b.zip"
    p = cli(store_url, "export", session, "--format", "zip", "--inner", "csv", "--manifest",
            "datapackage", "--out", str(bundle), "--json")
    assert p.returncode == 0, p.stderr
    members = json.loads(p.stdout)["files"][0]["members"]
    assert len(members) == 10 and all(len(m["sha256"]) == 64 for m in members)
    p = cli(store_url, "import", str(bundle), "--session", restored, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"] == json.loads(cli(
        store_url, "sessions", "show", session, "--json").stdout)["total_rows"]
    assert_same_session(ws, session, restored)
    pd.testing.assert_frame_equal(frames(ws, session)["tick_prices"],
                                  frames(ws, re_id)["tick_prices"])


def test_cli_errors(ws, session, store_url, out_dir):
    ws.close()
    out = out_dir / "x.csv"
    p = cli(store_url, "export", "nope", "--format", "csv", "--out", str(out))
    assert p.returncode == 3 and "session not found" in p.stderr
    p = cli(store_url, "export", session, "--format", "xlsx", "--out", str(out))
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    for name in ("csv", "jsonl", "json", "parquet", "zip"):
        assert name in p.stderr
    p = cli(store_url, "export", session, "--format", "csv", "--inner", "csv", "--out",
            str(out))
    assert p.returncode == 1 and "--inner applies to bundle formats" in p.stderr
    out.write_text("old")
    p = cli(store_url, "export", session, "--format", "csv", "--out", str(out))
    assert p.returncode == 1 and "--overwrite" in p.stderr and out.read_text() == "old"
    assert cli(store_url, "export", session, "--format", "csv", "--out", str(out),
               "--overwrite").returncode == 0
    assert listing(out_dir) == ["x.csv"]


PLUGIN_EXTRA = '''

import time


class SlowWriter:
    """Writes a little, then waits (the test interrupts it)."""

    def __init__(self, fileobj, schema, options):
        self.f = fileobj

    def write_batch(self, batch):
        self.f.write(b"partial")
        self.f.flush()
        print("writing", flush=True)
        time.sleep(60)

    def close(self):
        pass


@hookimpl(specname="register_exporters")
def register_slow(register):
    register(Exporter(name="myplugin.slow", suffix=".bin", writer=SlowWriter))
'''


@pytest.fixture
def plugin_dist(tmp_path) -> Path:
    """A third-party distribution on sys.path, found through its entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tsv_plugin.py").write_text(_doc_example() + PLUGIN_EXTRA)
    info = site / "tsv_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tsv-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tsanalysis]\ntsv = tsv_plugin\n")
    return site


@pytest.mark.slow
def test_third_party_exporter_from_the_command_line(ws, session, store_url, tmp_path,
                                                   plugin_dist):
    ws.close()
    env = {"PYTHONPATH": str(plugin_dist), "TSANALYSIS_LOAD_PLUGINS": "tsv"}
    out = tmp_path / "t.tsv"
    # A process of its own: the plugin is found on its PYTHONPATH through its entry point.
    p = run_process(store_url, "export", session, "--format", "myplugin.tsv", "--out",
                    str(out), "--symbol", "BTC/USDT", "--json", env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"] == 300
    rows = tsv_rows(out)
    assert rows[1][:3] == [session, "BTC/USDT", "0"] and rows[2][7] == 'id-1,"q"é'
    assert len(rows) == 301
    p = run_process(store_url, "export", session, "--format", "nope", "--out", str(out),
                    env=env)
    assert p.returncode == 1 and "myplugin.tsv" in p.stderr
    # without the plugin allowed, the format is unknown
    p = cli(store_url, "export", session, "--format", "myplugin.tsv", "--out",
            str(tmp_path / "u.tsv"), env={"TSANALYSIS_LOAD_PLUGINS": ""})
    assert p.returncode == 1 and "unknown export format" in p.stderr


def _sigint_as_in_a_terminal() -> None:
    """In the child: SIGINT unblocked and at its default, as a shell starts a command. A
    child inherits its parent's signal mask and ignored signals; in the full suite the
    command hung after SIGINT (no output, 60 s) but never when run alone."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_interrupting_the_command_leaves_no_file(ws, session, store_url, tmp_path,
                                                plugin_dist):
    import signal

    ws.close()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # PYTHONFAULTHANDLER: if the child hangs, SIGABRT makes it print every thread's stack
    e = {**os.environ, "PYTHONPATH": str(plugin_dist), "TSANALYSIS_LOAD_PLUGINS": "tsv",
         "PYTHONFAULTHANDLER": "1"}
    e.pop("TSANALYSIS_DB", None)
    # stderr goes to a file and the end is the child's exit, not the end of its output: in
    # the full suite a process forked meanwhile by the test worker can hold a copy of a
    # pipe's write end, so the pipe stays open after the child has exited (seen once: exit
    # status 130 and "interrupted" printed, then no end of output for 60 s).
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "wb") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "tsanalysis", "--db", store_url,
                                 "export", session, "--format", "myplugin.slow", "--out",
                                 str(out_dir / "x.bin")], stdout=subprocess.PIPE,
                                stderr=err_file, text=True, env=e,
                                preexec_fn=_sigint_as_in_a_terminal)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(listing(out_dir)) == 1  # the temporary file, mid-write
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=30)
            pytest.fail("the command did not stop within 60 s of SIGINT; its threads:\n"
                        + err_path.read_text(errors="replace"))
        others = [h for h in _pipe_holders(proc.stdout) if h[0] != os.getpid()]
        if others:
            warnings.warn(f"after the command exited, other processes held its stdout: "
                          f"{others}", stacklevel=1)
    finally:
        proc.kill()
        proc.stdout.close()
    err = err_path.read_text()
    assert proc.returncode == 130 and "interrupted" in err, err
    assert listing(out_dir) == []


def _pipe_holders(pipe) -> list[tuple[int, str]]:
    """Every process with an end of ``pipe`` open: (pid, its parent, threads and command
    line), from Linux /proc."""
    target = f"pipe:[{os.fstat(pipe.fileno()).st_ino}]"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == target
                       for fd in os.listdir(f"/proc/{pid}/fd")):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:300]
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            threads = []
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    threads.append(f.read().strip())
            found.append((int(pid), f"parent {ppid}, threads {threads}: {cmd}"))
        except OSError:
            continue
    return found


def _readers() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "tsanalysis-export-read"]


def test_a_failed_export_lets_go_of_the_store_at_once(ws, session, out_dir):
    """A notebook keeps the last traceback alive: the reader thread must not wait for the
    garbage collector to release the store."""

    class Greedy:  # a bundle format that reads a little, then fails
        @staticmethod
        @hookimpl
        def register_exporters(register):
            def bundle(fileobj, parts, ctx):
                rows = next(parts).batches()
                next(rows)  # ``rows`` stays open in the frame the traceback keeps
                raise RuntimeError("bundle bug")

            register(Exporter(name="test.greedy", suffix=".bin", bundle=bundle))

    name = plugins.register(Greedy(), "test-greedy")
    kept = []
    try:
        for fmt in ("test.greedy",):
            try:
                export_session(ws.store, session, fmt, out_dir / "x.bin", batch_rows=20)
            except RuntimeError as e:
                kept.append(e)  # keeps the frames (and any open generator) alive
        with failing_format(after=1, error=RuntimeError("writer bug")) as fmt:
            try:
                export_session(ws.store, session, fmt, out_dir / "y.bin", batch_rows=20)
            except RuntimeError as e:
                kept.append(e)
    finally:
        plugins.unregister(name)
    assert len(kept) == 2 and _readers() == []
    assert ws.store.count_rows(session)["tick_prices"] == 600  # would hang on the lock
    assert listing(out_dir) == []


def _special_destinations(out_dir: Path) -> dict[str, Path]:
    """A symlink to a file outside, a FIFO, a device node (root only) and a directory."""
    victim = out_dir.parent / "victim.txt"
    victim.write_text("keep me")
    out = {"symlink": out_dir / "link.csv", "fifo": out_dir / "fifo.csv",
           "directory": out_dir / "dir.csv"}
    out["symlink"].symlink_to(victim)
    os.mkfifo(out["fifo"])
    out["directory"].mkdir()
    try:
        os.mknod(out_dir / "null.csv", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        out["device"] = out_dir / "null.csv"
    except PermissionError:  # not root: no device node to try
        pass
    return out


def test_out_that_is_not_a_regular_file_is_refused_even_with_overwrite(ws, session, out_dir):
    targets = _special_destinations(out_dir)
    before = {n: os.lstat(p) for n, p in targets.items()}
    for name, path in targets.items():
        for overwrite in (False, True):
            with pytest.raises(InvalidInput, match="regular file|directory"):
                ws.export.run(session, "csv", path, overwrite=overwrite)
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino) == (before[name].st_mode, before[name].st_ino)
    assert (out_dir.parent / "victim.txt").read_text() == "keep me"
    assert not [p for p in out_dir.iterdir() if p.name.endswith(".part")]


def test_cli_refuses_a_device_or_link_at_out_with_one_line(ws, session, out_dir, tmp_path):
    targets = _special_destinations(out_dir)
    url = ws.url
    ws.close()
    for name, path in targets.items():
        p = cli(url, "export", session, "--format", "csv", "--out", str(path), "--overwrite")
        if name == "directory":  # click's own check of --out: a usage error
            assert p.returncode == 2 and "is a directory" in p.stderr, p.stderr
            continue
        assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
        assert str(path) in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_during_an_export_leave_nothing(tmp_path, signame):
    import signal
    import time

    from tsanalysis import connect

    url = f"duckdb:///{tmp_path}/big.duckdb"
    with connect(url) as w:
        sid = w.sessions.create(["BTC/USDT"]).session_id
        n = 2_000_000
        w.store.write("tick_prices", pd.DataFrame({
            "session_id": sid, "symbol": "BTC/USDT", "seq": np.arange(n, dtype="int64"),
            "ts": pd.date_range(T0, periods=n, freq="10ms"), "price": 100.0, "volume": 1.0}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "tsanalysis", "--db", url, "export", sid,
                             "--format", "csv", "--out", str(out_dir / "t.csv")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".part") for p in out_dir.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the export ended (or never started) before it could be interrupted")
        time.sleep(0.005)
    proc.send_signal(getattr(signal, signame))
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # never leave it running (it holds the test's store)
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + getattr(signal, signame), err
    assert f"terminated ({signame})" in err and "Traceback" not in err
    assert listing(out_dir) == []


@pytest.mark.parametrize("field, value, message", [
    ("status", "deleting", "invalid status"),
    ("symbols", "BTC/USDT,x'; DROP TABLE t; --", "invalid symbol"),
    ("data_types", "ticks,evil", "unknown data type"),
    ("notes", "n" * 5_000_000, "characters long"),
    ("metadata", "{not json", "not JSON"),
    ("metadata", "[1, 2]", "not a JSON object"),
    ("cadence_s", "NaN", "invalid cadence_s"),
])
def test_bundle_manifest_session_fields_are_validated(ws, session, tmp_path, field, value,
                                                      message):
    out = tmp_path / "b.zip"
    ws.export.run(session, "zip", out)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "manifest.json":
                man = json.loads(data)
                man["session"][field] = value
                data = json.dumps(man).encode()
            dst.writestr(info, data)
    target = f"{session}-m"
    with pytest.raises(InvalidInput, match=message):
        ws.import_bundle(bad, target)
    assert ws.store.session_rows(target).empty
    assert ws.store.count_rows(target) == {t.name: 0 for t in schema.TABLES}


def test_a_bundle_member_that_expands_a_thousandfold_is_refused_before_extraction(
        ws, session, tmp_path):
    """A member of 50 MB of zeros (about 50 KB compressed) whose manifest entry matches
    it exactly: refused from the archive's directory, nothing extracted, nothing written,
    no temporary folder left."""
    import glob
    import tempfile

    out = tmp_path / "b.zip"
    ws.export.run(session, "zip", out, options={"inner": "csv"})
    bomb = tmp_path / "bomb.zip"
    zeros = b"\0" * (50 << 20)
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        man = json.loads(src.read("manifest.json"))
        victim = next(f for f in man["files"] if f["path"].startswith("tick_prices/"))
        victim["bytes"], victim["sha256"] = len(zeros), hashlib.sha256(zeros).hexdigest()
        for info in src.infolist():
            if info.filename == "manifest.json":
                continue
            data = zeros if info.filename == victim["path"] else src.read(info.filename)
            dst.writestr(info.filename, data)
        dst.writestr("manifest.json", json.dumps(man))
    pattern = f"{tempfile.gettempdir()}/tsanalysis-import-*"
    before = set(glob.glob(pattern))
    with pytest.raises(InvalidInput, match="expands .* refused"):
        ws.import_bundle(bomb, f"{session}-b")
    assert set(glob.glob(pattern)) == before
    assert ws.store.session_rows(f"{session}-b").empty
