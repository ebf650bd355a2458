"""Whole-file imports in one SQL statement (tsanalysis.ingest_sql) against the chunked path.

Each case imports the same file twice into one DuckDB file: once as ``ws.import_file`` does
by default (the SQL path where it applies) and once with the store's ``sql_import``
capability switched off (the chunked path). The stored rows (every column, seq included)
and the results (or the errors, with their reports) must be the same, and each case says
which path it expects the first import to take.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tsanalysis import TsanalysisError
from tsanalysis.ingest import Ingestor
from tsanalysis.store.duckdb import DuckDBStore

from .helpers import T0, quotes, ticks


def _run(ws, sid, path, symbol, kind, options):
    try:
        return ws.import_file(sid, path, symbol, kind, **options), None
    except TsanalysisError as e:
        return None, e


def import_both(ws, path, *, fast: bool, kind: str = "ticks", monkeypatch, **options):
    """Import ``path`` by both paths; assert they agree and that the first took the SQL
    path exactly when ``fast``. Returns the result (or error) and the stored rows."""
    chunked = []
    real_run = Ingestor.run

    def spy(self, *a, **k):
        chunked.append(True)
        return real_run(self, *a, **k)

    monkeypatch.setattr(Ingestor, "run", spy)
    got, sids = {}, {}
    tag = uuid.uuid4().hex[:8]
    for name, sql in (("sql", True), ("chunked", False)):
        monkeypatch.setattr(DuckDBStore, "sql_import", sql)
        sid = sids[name] = ws.sessions.create(["BTC/USDT"], f"{name}-{tag}").session_id
        chunked.clear()
        result, error = _run(ws, sid, path, "BTC/USDT", kind, options)
        table = "tick_prices" if kind == "ticks" else "tick_orderbook"
        rows = ws.store.read_arrow(table, sid).drop_columns(["session_id"])
        got[name] = (result, error, rows, bool(chunked))
    (r1, e1, rows1, chunked1), (r2, e2, rows2, chunked2) = got["sql"], got["chunked"]
    assert chunked1 == (not fast), "the SQL path was " + ("not " if fast else "") + "taken"
    assert chunked2
    assert rows1.equals(rows2), (rows1.to_pandas(), rows2.to_pandas())
    if e2 is not None:
        assert type(e1) is type(e2) and str(e1) == str(e2)
        if hasattr(e2, "report"):
            assert repr(e1.report) == repr(e2.report)  # repr: a NaN value equals itself
        assert rows1.num_rows == 0
        return e1, rows1
    assert e1 is None, e1
    d1, d2 = r1.to_dict(), r2.to_dict()
    assert (d1.pop("session_id"), d2.pop("session_id")) == (sids["sql"], sids["chunked"])
    assert d1 == d2
    assert (r1.report, r1.first_ts, r1.last_ts) == (r2.report, r2.first_ts, r2.last_ts)
    return r1, rows1


def write(frame: pd.DataFrame | pa.Table, path, fmt: str):
    if fmt == "parquet":
        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
            frame, preserve_index=False)
        pq.write_table(table, path, row_group_size=700)  # several row groups
    else:
        frame.to_csv(path, index=False)
    return path


FORMATS = ("parquet", "csv")


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_ticks_go_in_one_statement(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = ticks(3000)
    f.loc[5, "volume"] = np.nan  # an unknown volume is NULL either way
    res, rows = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=True,
                            monkeypatch=monkeypatch)
    assert res.rows_written == 3000 and rows.column("seq").to_pylist() == list(range(3000))
    assert res.first_ts == f["ts"].min() and res.last_ts == f["ts"].max()
    assert rows.column("volume").null_count == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_row_late_refuses_the_file_with_the_chunked_report(duckdb_ws, tmp_path,
                                                                  monkeypatch, fmt):
    f = ticks(3000)
    f.loc[2990, "price"] = -1.0  # rows before it were inserted, then rolled back
    err, _ = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=False,
                         monkeypatch=monkeypatch)
    assert err.report.rows_invalid == 1 and err.report.errors[0].row == 2990


@pytest.mark.parametrize("fmt", FORMATS)
def test_skip_invalid_with_bad_rows_writes_the_good_ones(duckdb_ws, tmp_path, monkeypatch,
                                                         fmt):
    f = ticks(500)
    f.loc[[3, 400], "price"] = [0.0, np.inf]
    f.loc[7, "volume"] = -1.0
    res, rows = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=False,
                            monkeypatch=monkeypatch, skip_invalid=True)
    assert res.rows_written == 497 and res.rows_skipped == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_skip_invalid_on_a_clean_file_takes_the_sql_path(duckdb_ws, tmp_path, monkeypatch,
                                                         fmt):
    res, _ = import_both(duckdb_ws, write(ticks(100), tmp_path / f"t.{fmt}", fmt), fast=True,
                         monkeypatch=monkeypatch, skip_invalid=True)
    assert res.rows_written == 100 and res.rows_skipped == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_nan_price_is_refused(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = ticks(50)
    f.loc[20, "price"] = np.nan  # CSV: an empty cell
    err, _ = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=False,
                         monkeypatch=monkeypatch)
    assert "missing or NaN price" in str(err)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mapped_columns(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = ticks(200).rename(columns={"ts": "time", "price": "px", "volume": "qty"})
    f["other"] = "ignored"
    res, rows = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=True,
                            monkeypatch=monkeypatch,
                            columns={"ts": "time", "price": "px", "volume": "qty"})
    assert res.rows_written == 200
    assert rows.column("price").to_pylist() == f["px"].tolist()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_seq_column_is_kept(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = ticks(300)
    f["seq"] = np.arange(300)[::-1] * 2 + 1000  # an export's own numbers, any order
    _, rows = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=True,
                          monkeypatch=monkeypatch)
    assert sorted(rows.column("seq").to_pylist()) == sorted(f["seq"].tolist())


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_repeated_seq_goes_the_chunked_way(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = ticks(300)
    f["seq"] = np.arange(300)
    f.loc[299, "seq"] = 5
    err, _ = import_both(duckdb_ws, write(f, tmp_path / f"t.{fmt}", fmt), fast=False,
                         monkeypatch=monkeypatch)
    assert "repeated seq" in str(err)


@pytest.mark.parametrize("round_ns", [False, True])
def test_nanosecond_parquet_timestamps_are_floored(duckdb_ws, tmp_path, monkeypatch,
                                                   round_ns):
    """Datetimes (not text) are floored to the microsecond by both paths, asked or not."""
    ns = T0.value + np.arange(100, dtype=np.int64) * 1_234_567_891
    t = pa.table({"ts": pa.array(ns, pa.timestamp("ns", tz="UTC")),
                  "price": np.linspace(1, 2, 100)})
    _, rows = import_both(duckdb_ws, write(t, tmp_path / "t.parquet", "parquet"), fast=True,
                          monkeypatch=monkeypatch, round_ns=round_ns)
    us = rows.column("ts").cast(pa.int64()).to_numpy()
    assert (us == ns // 1000).all() and (ns % 1000 != 0).any()


@pytest.mark.parametrize("round_ns", [False, True])
def test_nanosecond_text_is_refused_unless_rounded(duckdb_ws, tmp_path, monkeypatch,
                                                   round_ns):
    p = tmp_path / "t.csv"
    p.write_text("ts,price\n2026-01-05T00:00:00.000001Z,1\n2026-01-05T00:00:00.000002999Z,2\n"
                 "2026-01-05T00:00:00.000003000Z,3\n")
    out, rows = import_both(duckdb_ws, p, fast=round_ns, monkeypatch=monkeypatch,
                            round_ns=round_ns)
    if round_ns:
        assert rows.column("ts").cast(pa.int64()).to_pylist() == [
            T0.value // 1000 + k for k in (1, 2, 3)]
    else:
        assert "nanoseconds" in str(out)


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_aware_and_naive_parquet_timestamps(duckdb_ws, tmp_path, monkeypatch, tz):
    ts = pd.date_range("2026-01-05", periods=100, freq="1s", unit="us")
    ts = ts if tz is None else ts.tz_localize(tz)
    f = pd.DataFrame({"ts": ts, "price": 1.0 + np.arange(100)})
    _, rows = import_both(duckdb_ws, write(f, tmp_path / "t.parquet", "parquet"), fast=True,
                          monkeypatch=monkeypatch)
    first = ts[0] if tz else ts[0].tz_localize("UTC")
    assert rows.column("ts").to_pandas().iloc[0] == first


def test_csv_zones_offsets_and_null_spellings(duckdb_ws, tmp_path, monkeypatch):
    """Naive text (UTC), Z and offsets; Arrow's null spellings (NA, NaN, null...) unquoted
    are empty cells, quoted they are text; side is trimmed and lower-cased."""
    p = tmp_path / "t.csv"
    p.write_text('ts,price,volume,side,trade_id\n'
                 '2026-01-05 00:00:00,100,NA, BUY ,NA\n'
                 '2026-01-05T01:00:00.5+01:00,100.5,,sell,"NA"\n'
                 '2026-01-05T00:00:01Z,1e2,null,,""\n'
                 '2026-01-05T00:00:02.123Z,.5,nan,"  ",7\n')
    _, rows = import_both(duckdb_ws, p, fast=True, monkeypatch=monkeypatch)
    got = rows.to_pandas()
    assert got["side"].tolist()[:2] == ["buy", "sell"] and got["side"].isna().sum() == 2
    assert got["volume"].isna().all()
    assert got["trade_id"].tolist()[1:] == ["NA", "", "7"]


@pytest.mark.parametrize("text", ["1767571200", "2026-01-05", "2026-01-05T00:00:00+0100",
                                  "not a time"])
def test_other_timestamp_text_goes_the_chunked_way(duckdb_ws, tmp_path, monkeypatch, text):
    p = tmp_path / "t.csv"
    p.write_text(f"ts,price\n2026-01-05T00:00:00Z,1\n{text},2\n")
    import_both(duckdb_ws, p, fast=False, monkeypatch=monkeypatch)


def test_epoch_numbers_in_parquet_go_the_chunked_way(duckdb_ws, tmp_path, monkeypatch):
    f = pd.DataFrame({"ts": T0.value // 1000 + np.arange(10) * 1000, "price": 1.0})
    res, _ = import_both(duckdb_ws, write(f, tmp_path / "t.parquet", "parquet"), fast=False,
                         monkeypatch=monkeypatch)
    assert res.rows_written == 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_order_book(duckdb_ws, tmp_path, monkeypatch, fmt):
    f = quotes(400)
    f.loc[10, ["ask_price", "ask_size"]] = np.nan  # a missing side
    f["seq"] = np.arange(400) + 7
    _, rows = import_both(duckdb_ws, write(f, tmp_path / f"q.{fmt}", fmt), fast=True,
                          monkeypatch=monkeypatch, kind="orderbook")
    assert rows.column("ask_price").null_count == 1
    f.loc[20, "bid_size"] = np.nan  # half a side
    import_both(duckdb_ws, write(f, tmp_path / f"q2.{fmt}", fmt), fast=False,
                monkeypatch=monkeypatch, kind="orderbook")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_files_and_missing_columns(duckdb_ws, tmp_path, monkeypatch, fmt):
    empty = ticks(0)
    import_both(duckdb_ws, write(empty, tmp_path / f"e.{fmt}", fmt), fast=False,
                monkeypatch=monkeypatch)
    err, _ = import_both(duckdb_ws, write(ticks(5).drop(columns="price"),
                                          tmp_path / f"m.{fmt}", fmt),
                         fast=False, monkeypatch=monkeypatch)
    assert "no column for price" in str(err)


def test_progress_reaches_the_rows(duckdb_ws, tmp_path):
    ws = duckdb_ws
    sid = ws.sessions.create(["BTC/USDT"]).session_id
    seen = []
    p = write(ticks(1000), tmp_path / "t.parquet", "parquet")
    ws.import_file(sid, p, "BTC/USDT", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1000, 1000)


def test_a_deleted_session_gets_no_rows(duckdb_ws, tmp_path):
    ws = duckdb_ws
    p = write(ticks(10), tmp_path / "t.parquet", "parquet")
    with pytest.raises(TsanalysisError, match="does not exist"):
        ws.store.insert_query("tick_prices", "gone", "BTC/USDT",
                              f"SELECT *, file_row_number AS _row FROM read_parquet('{p}', "
                              "file_row_number = true)")
    assert ws.sql("SELECT count(*) AS n FROM tick_prices")["n"].iloc[0] == 0
