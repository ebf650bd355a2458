"""Ingestion: validation rules, nothing written on bad input, order kept, files, bars."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tsanalysis import InvalidInput, InvalidRows, TsanalysisError
from tsanalysis.readers import iter_csv

from .helpers import T0, bars, quotes, ticks


@pytest.fixture
def session(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    return sid


def count(ws, sid, table="tick_prices"):
    return ws.store.count_rows(sid)[table]


# -- ticks --------------------------------------------------------------------------------

@pytest.mark.parametrize("column, value, reason", [
    ("price", np.nan, "missing or NaN price"),
    ("price", np.inf, "non-finite price"),
    ("price", 0.0, "non-positive price"),
    ("price", -1.0, "non-positive price"),
    ("price", "abc", "not a number"),
    ("volume", -0.5, "negative volume"),
    ("volume", np.inf, "non-finite volume"),
    ("ts", "not a time", "unparseable"),
    ("ts", None, "unparseable or missing"),
])
def test_each_tick_rule_refuses_and_writes_nothing(ws, session, column, value, reason):
    f = ticks(20).astype({"ts": object, "price": object, "volume": object})
    f.loc[7, column] = value
    with pytest.raises(InvalidRows) as e:
        ws.ingest(session, "BTC/USDT", f)
    rep = e.value.report
    assert rep.rows_invalid == 1 and rep.rows_seen == 20
    assert rep.errors[0].row == 7 and rep.errors[0].column == column
    assert reason in rep.errors[0].reason
    assert "nothing was written" in str(e.value)
    assert count(ws, session) == 0


def test_skip_invalid_writes_the_rest_and_reports(ws, session):
    f = ticks(20)
    f.loc[[3, 11], "price"] = [-1.0, np.nan]
    f.loc[15, "volume"] = -2.0
    res = ws.ingest(session, "BTC/USDT", f, skip_invalid=True)
    assert res.rows_written == 17 and res.rows_skipped == 3
    assert [e.row for e in res.report.errors] == [3, 11, 15]
    assert count(ws, session) == 17


def test_every_invalid_row_is_reported(ws, session):
    f = ticks(1000)
    f.loc[::10, "price"] = -1.0
    with pytest.raises(InvalidRows) as e:
        ws.ingest(session, "BTC/USDT", f)
    assert e.value.report.rows_invalid == 100


def test_same_timestamp_rows_all_kept_in_arrival_order(ws, session):
    f = pd.DataFrame({"ts": [T0] * 4 + [T0 + pd.Timedelta("1ms")] * 2,
                      "price": [3.0, 1.0, 2.0, 1.0, 5.0, 5.0],
                      "volume": [1.0, 1.0, 1.0, 1.0, 2.0, 2.0]})  # last two repeat wholly
    ws.ingest(session, "BTC/USDT", f)
    back = ws.ticks(session)
    assert back["price"].tolist() == [3.0, 1.0, 2.0, 1.0, 5.0, 5.0]
    assert back["seq"].tolist() == list(range(6))


def test_seq_continues_across_ingestions(ws, session):
    ws.ingest(session, "BTC/USDT", ticks(5))
    ws.ingest(session, "BTC/USDT", ticks(5, start=T0))  # same timestamps again: new trades
    back = ws.ticks(session)
    assert len(back) == 10
    assert sorted(back["seq"]) == list(range(10))


def test_timestamp_forms(ws, session):
    f = pd.DataFrame({
        "ts": ["2026-01-05T00:00:00.123456Z", "2026-01-05 00:00:01", "2026-01-05T02:00:02+02:00"],
        "price": [1.0, 2.0, 3.0]})
    ws.ingest(session, "BTC/USDT", f)
    got = ws.ticks(session)["ts"].tolist()
    assert got == [pd.Timestamp("2026-01-05T00:00:00.123456Z"),
                   pd.Timestamp("2026-01-05T00:00:01Z"), pd.Timestamp("2026-01-05T00:00:02Z")]


@pytest.mark.parametrize("unit, scale", [("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)])
def test_epoch_numbers_in_each_unit(ws, session, unit, scale):
    epoch = pd.Timestamp("2026-01-05T00:00:00Z").timestamp()
    f = pd.DataFrame({"ts": [int(epoch * scale), int((epoch + 1.5) * scale)], "price": [1.0, 2.0]})
    ws.ingest(session, "BTC/USDT", f, ts_unit=unit)
    assert ws.ticks(session)["ts"].tolist()[1] == pd.Timestamp("2026-01-05T00:00:01.5Z") \
        or unit == "s"
    # inferred from magnitude when the unit is not given
    ws.ingest(session, "ETH/USDT", f)
    assert ws.ticks(session, "ETH/USDT")["ts"].iloc[0] == pd.Timestamp("2026-01-05T00:00:00Z")


def test_mixed_epoch_units_are_refused(ws, session):
    f = pd.DataFrame({"ts": [1767571200, 1767571200000], "price": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="mix epoch units"):
        ws.ingest(session, "BTC/USDT", f)


def test_aware_and_naive_datetimes(ws, session):
    naive = ticks(3)
    naive["ts"] = naive["ts"].dt.tz_localize(None)
    ws.ingest(session, "BTC/USDT", naive)
    tokyo = ticks(3)
    tokyo["ts"] = tokyo["ts"].dt.tz_convert("Asia/Tokyo")
    ws.ingest(session, "ETH/USDT", tokyo)
    assert ws.ticks(session, "BTC/USDT")["ts"].tolist() == ws.ticks(session, "ETH/USDT")["ts"].tolist()


def test_column_mapping_and_extra_columns(ws, session):
    f = pd.DataFrame({"time": ticks(4)["ts"], "last": [1.0, 2.0, 3.0, 4.0], "qty": 1.0,
                      "session_id": "ignored", "symbol": "ignored", "venue": "x"})
    ws.ingest(session, "BTC/USDT", f, columns={"ts": "time", "price": "last", "volume": "qty"})
    back = ws.ticks(session)
    assert back["price"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert set(back["session_id"]) == {session} and set(back["symbol"]) == {"BTC/USDT"}


def test_missing_required_column_is_clear(ws, session):
    with pytest.raises(InvalidInput, match="no column for price"):
        ws.ingest(session, "BTC/USDT", pd.DataFrame({"ts": [T0]}))
    with pytest.raises(InvalidInput, match="cannot map"):
        ws.ingest(session, "BTC/USDT", ticks(2), columns={"bid_price": "x"})


# -- order book ---------------------------------------------------------------------------

def test_crossed_and_locked_quotes_are_stored(ws, session):
    q = quotes(10)
    q.loc[2, ["bid_price", "ask_price"]] = [101.0, 100.0]  # crossed
    q.loc[5, ["bid_price", "ask_price"]] = [100.0, 100.0]  # locked
    ws.ingest(session, "BTC/USDT", q, "orderbook")
    back = ws.orderbook(session)
    assert len(back) == 10
    assert (back["bid_price"] > back["ask_price"]).sum() == 1
    assert (back["bid_price"] == back["ask_price"]).sum() == 1


def test_a_missing_side_is_stored_as_null(ws, session):
    q = quotes(5)
    q.loc[1, ["ask_price", "ask_size"]] = np.nan
    ws.ingest(session, "BTC/USDT", q, "orderbook")
    assert ws.orderbook(session)["ask_price"].isna().sum() == 1


@pytest.mark.parametrize("change, reason", [
    ({"bid_price": -1.0}, "non-positive price"),
    ({"ask_size": -1.0}, "negative size"),
    ({"bid_size": np.nan}, "half empty"),
    ({"bid_price": np.nan, "bid_size": np.nan, "ask_price": np.nan, "ask_size": np.nan},
     "both sides empty"),
])
def test_order_book_rules(ws, session, change, reason):
    q = quotes(5)
    for k, v in change.items():
        q.loc[3, k] = v
    with pytest.raises(InvalidRows, match=reason):
        ws.ingest(session, "BTC/USDT", q, "orderbook")
    assert count(ws, session, "tick_orderbook") == 0


# -- bars ---------------------------------------------------------------------------------

def test_ohlcv_rules(ws, session):
    b = bars(5).astype({"trades": float})
    b.loc[1, "high"] = b.loc[1, "low"] - 1
    b.loc[2, "trades"] = 1.5
    b.loc[3, "interval"] = "1 minute"
    with pytest.raises(InvalidRows) as e:
        ws.ingest(session, "BTC/USDT", b, "ohlcv")
    assert {x.column for x in e.value.report.errors} == {"high", "trades", "interval"}
    assert count(ws, session, "aggregated_ohlcv") == 0


def test_ohlcv_reimport_replaces(ws, session):
    ws.ingest(session, "BTC/USDT", bars(5), "ohlcv")
    ws.ingest(session, "BTC/USDT", bars(5), "ohlcv")
    assert count(ws, session, "aggregated_ohlcv") == 5


def test_ohlcv_needs_an_interval(ws, session):
    with pytest.raises(InvalidInput, match="needs an interval"):
        ws.ingest(session, "BTC/USDT", bars(3).drop(columns="interval"), "ohlcv")
    ws.ingest(session, "BTC/USDT", bars(3).drop(columns="interval"), "ohlcv", interval="1m")
    assert count(ws, session, "aggregated_ohlcv") == 3


def test_bars_built_from_ticks_at_any_interval(ws, session):
    ws.ingest(session, "BTC/USDT", ticks(2 * 3600))  # two hours of 1 s ticks
    for interval, n in (("1s", 7200), ("1m", 120), ("5m", 24), ("1h", 2), ("1d", 1)):
        built = ws.build_bars(session, interval)
        assert len(built) == n, interval
        assert built["trades"].sum() == 7200
    stored = ws.read("aggregated_ohlcv", session, filters={"interval": "1h"})
    assert len(stored) == 2
    ws.build_bars(session, "1h")  # rebuilding replaces
    assert len(ws.read("aggregated_ohlcv", session, filters={"interval": "1h"})) == 2


# -- files --------------------------------------------------------------------------------

def write_csv(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_csv_import_with_bad_rows_names_lines(ws, session, tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ts,price,volume\n"
                 "2026-01-05T00:00:00Z,100,1\n"
                 "2026-01-05T00:00:01Z,abc,1\n"
                 "2026-01-05T00:00:02Z,100\n"
                 "2026-01-05T00:00:03Z,100,1\n")
    with pytest.raises(InvalidRows) as e:
        ws.import_file(session, p, "BTC/USDT")
    errs = e.value.report.errors
    assert [(x.line, x.column) for x in errs] == [(3, "price"), (4, "*")]
    assert "expected 3 fields, found 2" in errs[1].reason
    assert count(ws, session) == 0
    res = ws.import_file(session, p, "BTC/USDT", skip_invalid=True)
    assert res.rows_written == 2 and res.rows_skipped == 2


def test_csv_read_in_chunks_equals_whole(tmp_path):
    f = ticks(5000).astype({"price": object})
    f.loc[4321, "price"] = "x"
    p = write_csv(tmp_path / "big.csv", f)
    chunks = list(iter_csv(p, block_bytes=4096))
    assert len(chunks) > 10
    whole = pd.concat([c.frame for c in chunks], ignore_index=True)
    assert len(whole) == 5000
    lines = np.concatenate([c.lines for c in chunks])
    assert lines.tolist() == list(range(2, 5002))
    assert whole.loc[4321, "price"] == "x"


def test_large_csv_with_a_bad_row_late_writes_nothing(ws, session, tmp_path):
    f = ticks(20000)
    f["price"] = f["price"].astype(object)
    f.loc[19990, "price"] = "NaN"
    p = write_csv(tmp_path / "late.csv", f)
    with pytest.raises(InvalidRows) as e:
        ws.import_file(session, p, "BTC/USDT")  # the first chunks were valid
    assert e.value.report.errors[0].line == 19992
    assert count(ws, session) == 0


def test_parquet_import(ws, session, tmp_path):
    f = ticks(300)
    pq.write_table(pa.Table.from_pandas(f), tmp_path / "t.parquet", row_group_size=50)
    res = ws.import_file(session, tmp_path / "t.parquet", "BTC/USDT")
    assert res.rows_written == 300
    back = ws.ticks(session)
    pd.testing.assert_series_equal(back["price"], f["price"], check_names=False)


def test_missing_and_empty_files(ws, session, tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        ws.import_file(session, tmp_path / "nope.csv", "BTC/USDT")
    (tmp_path / "empty.csv").write_text("")
    assert ws.import_file(session, tmp_path / "empty.csv", "BTC/USDT").rows_written == 0
    (tmp_path / "header.csv").write_text("ts,price\n")
    assert ws.import_file(session, tmp_path / "header.csv", "BTC/USDT").rows_written == 0
    with pytest.raises(InvalidInput, match="format"):
        ws.import_file(session, tmp_path / "t.xlsx", "BTC/USDT")


@pytest.mark.slow
def test_an_import_killed_mid_way_leaves_nothing(tmp_path):
    """kill -9 during a chunked import: no rows land, and the staging table is cleaned up."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    import tsanalysis

    f = ticks(60000)
    write_csv(tmp_path / "big.csv", f)
    url = f"duckdb:///{tmp_path}/k.duckdb"
    ws = tsanalysis.connect(url)
    ws.sessions.create(["BTC/USDT"], "victim")
    ws.close()
    code = textwrap.dedent(f"""
        import sys, time, tsanalysis
        from tsanalysis import readers
        from tsanalysis.store.duckdb import DuckDBStore
        DuckDBStore.sql_import = False  # the chunked path, which stages batches
        ws = tsanalysis.connect({url!r})
        def progress(done, total):
            print(done, flush=True)
            time.sleep(0.2)
        orig = readers.iter_csv
        readers.iter_csv = lambda p, block_bytes=0, delimiter=None: orig(p, 16384, delimiter)
        ws.import_file("victim", {str(tmp_path / "big.csv")!r}, "BTC/USDT", progress=progress)
        print("finished", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        line = p.stdout.readline()
        assert line.strip().isdigit(), line  # chunks are being staged
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p.stdout.close()
    ws = tsanalysis.connect(url)
    ws.store.sql("SELECT 1")  # any write-capable open cleans up
    ws.sessions.create(["BTC/USDT"], "after")
    assert ws.store.count_rows("victim")["tick_prices"] == 0
    stages = ws.sql("SELECT table_name FROM information_schema.tables "
                    "WHERE starts_with(table_name, '_tsa_stage_')")
    assert stages.empty
    assert not list(tmp_path.glob(".k.duckdb.tsa_stage_*"))  # nor a staging file
    ws.close()


def test_a_refused_import_leaves_the_session_record_as_it_was(ws, sid, tmp_path):
    """A bad last line or a missing file: no rows, and the session's symbols and data
    types are unchanged (both backends)."""
    ws.sessions.create(["BTC/USDT"], sid)
    before = ws.sessions.get(sid)
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,price,volume\n2026-01-05T00:00:00Z,100,1\n2026-01-05T00:00:01Z,oops,1\n")
    with pytest.raises(InvalidRows):
        ws.import_file(sid, bad, "ETH/USDT")
    with pytest.raises(TsanalysisError):
        ws.import_file(sid, tmp_path / "missing.csv", "SOL/USDT", kind="orderbook")
    after = ws.sessions.get(sid)
    assert (after.symbols, after.data_types) == (before.symbols, before.data_types)
    assert after.total_rows == before.total_rows
    ws.ingest(sid, "ETH/USDT", ticks(3))  # a write that lands does record them
    assert "ETH/USDT" in ws.sessions.get(sid).symbols


def _import_peak_rss(csv_path, db_path) -> tuple[int, str]:
    """Import ``csv_path`` in a fresh process; (peak RSS in kB, the error line)."""
    code = textwrap.dedent(f"""
        import resource, tsanalysis
        ws = tsanalysis.connect("duckdb:///{db_path}")
        sid = ws.sessions.create(["BTC/USDT"]).session_id
        try:
            ws.import_file(sid, {str(csv_path)!r}, "BTC/USDT")
            msg = "imported"
        except tsanalysis.InvalidRows as e:
            msg = str(e)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        print(msg)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    peak, msg = p.stdout.split("\n", 1)
    return int(peak), msg.strip()


@pytest.mark.slow
def test_many_malformed_rows_are_refused_in_flat_memory_with_short_messages(tmp_path):
    """Memory does not grow with the number of bad rows (the first few are kept, the rest
    counted per reason), and a huge bad value is shortened in the message."""
    def write(path, n):
        with open(path, "w") as f:
            f.write("ts,price,volume\n")
            for i in range(n):
                f.write(f"2026-01-05T00:00:{i % 60:02d}Z,1,1,extra{i}\n")
            f.write("2026-01-05T00:00:00Z,1,1," + "y" * 5_000_000 + "\n")

    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    write(small, 20_000)
    write(big, 400_000)
    peak_small, _ = _import_peak_rss(small, tmp_path / "a.duckdb")
    peak_big, msg = _import_peak_rss(big, tmp_path / "b.duckdb")
    assert peak_big < 1.5 * peak_small, (peak_small, peak_big)
    assert msg.startswith(f"{big}: 400001 invalid row(s) of 400001: line 2: ")
    assert "wrong number of fields: 400,001" in msg and len(msg) < 2000


def test_a_huge_bad_value_is_shortened_in_the_report(ws, session):
    f = ticks(3)
    f["price"] = f["price"].astype(object)
    f.loc[1, "price"] = "z" * 1_000_000
    with pytest.raises(InvalidRows) as e:
        ws.ingest(session, "BTC/USDT", f)
    assert len(str(e.value)) < 500 and "1,000,002 chars" in str(e.value)
    shown = e.value.report.to_dict()["errors"][0]["value"]
    assert len(shown) < 300


@pytest.mark.parametrize("value, unit", [("253402300800", "s"), ("-1000", "s"),
                                         ("2300-01-01T00:00:00Z", None),
                                         ("1969-12-31T23:59:59Z", None)])
def test_timestamps_outside_the_stored_range_are_refused_with_the_line(ws, session, tmp_path,
                                                                      value, unit):
    f = tmp_path / "t.csv"
    f.write_text(f"ts,price,volume\n2026-01-05T00:00:00Z,100,1\n{value},100,1\n")
    with pytest.raises(InvalidRows, match=r"line 3: ts=.*timestamp outside 1970-01-01"):
        ws.import_file(session, f, "BTC/USDT", ts_unit=unit)
    assert ws.store.count_rows(session)["tick_prices"] == 0


def test_every_timestamp_in_range_exports_and_imports_back(ws, session, tmp_path):
    edge = pd.to_datetime(["1970-01-01T00:00:00Z", "2261-12-31T23:59:59.999999Z"], utc=True,
                          format="ISO8601")
    ws.ingest(session, "BTC/USDT", pd.DataFrame({"ts": edge, "price": [1.0, 2.0]}))
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"e.{fmt}"
        ws.export.run(session, fmt, out)
        back = ws.sessions.create(["BTC/USDT"]).session_id
        ws.import_file_by_symbol(back, out)
        got = ws.read("tick_prices", back)["ts"].tolist()
        assert got == edge.tolist(), fmt


@pytest.mark.parametrize("content, line", [
    (b"ts,price,volume\n2026-01-05T00:00:00Z,100,1\n2026-01-05T00:00:01Z,1\xff0,1\n", 3),
    (b"ts,pr\xffice,volume\n2026-01-05T00:00:00Z,100,1\n", 1)])
def test_non_utf8_csv_is_a_line_numbered_error(ws, session, tmp_path, content, line):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(InvalidInput, match=rf"line {line}: text that is not UTF-8"):
        ws.import_file(session, f, "BTC/USDT")
    assert ws.store.count_rows(session)["tick_prices"] == 0


@pytest.mark.slow
def test_non_utf8_csv_on_the_command_line_is_one_line(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes(b"ts,price,volume\n2026-01-05T00:00:00Z,100,1\n2026-01-05T00:00:01Z,\xff,1\n")
    url = f"duckdb:///{tmp_path}/t.duckdb"
    run = [sys.executable, "-m", "tsanalysis", "--db", url]
    sid = subprocess.run([*run, "sessions", "create", "--symbols", "BTC/USDT", "--json"],
                         capture_output=True, text=True, timeout=300).stdout
    sid = json.loads(sid)["session_id"]
    p = subprocess.run([*run, "sessions", "import", sid, str(f), "--symbol", "BTC/USDT"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "line 3: text that is not UTF-8" in p.stderr
    assert "internal error" not in p.stderr and "Exception ignored" not in p.stderr


def test_nanoseconds_are_refused_unless_rounding_is_asked_for(duckdb_ws, tmp_path):
    """The store keeps microseconds: a timestamp written to the nanosecond (an epoch, ISO
    text) is refused with its line (nothing written), or rounded down with round_ns /
    --round-ns; whole microseconds given in nanoseconds are fine, and so are a DataFrame's
    datetimes (rounded down)."""
    from tsanalysis.errors import InvalidRows
    from tsanalysis.timeutil import micros

    from .test_cli import run

    ws = duckdb_ws
    sid = ws.sessions.create(["BTC/USDT"]).session_id
    base = 1_767_571_200_000_000_000  # 2026-01-05 in ns
    cases = {
        "epoch ns": pd.DataFrame({"ts": [base, base + 1_000, base + 2_001], "price": 1.0}),
        "iso text": pd.DataFrame({"ts": ["2026-01-05T00:00:00.000001Z",
                                         "2026-01-05T00:00:00.000002500Z",
                                         "2026-01-05T00:00:00.000003000Z"], "price": 1.0}),
    }
    for name, frame in cases.items():
        with pytest.raises(InvalidRows, match="nanoseconds") as e:
            ws.ingest(sid, "BTC/USDT", frame)
        assert [r.row for r in e.value.report.errors] == [2 if name == "epoch ns" else 1], name
        assert ws.store.count_rows(sid)["tick_prices"] == 0, name
    res = ws.ingest(sid, "BTC/USDT", cases["epoch ns"], round_ns=True)
    stored = ws.ticks(sid)["ts"]
    assert res.rows_written == 3
    assert list(micros(stored)) == [base // 1000, base // 1000 + 1,
                                    base // 1000 + 2]  # 2,001 ns -> 2 µs
    ok = ws.ingest(sid, "BTC/USDT", pd.DataFrame({"ts": [base + 5_000], "price": 1.0}))
    assert ok.rows_written == 1
    # a DataFrame's datetimes: their nanoseconds are pandas arithmetic, rounded down
    dt = pd.DataFrame({"ts": pd.to_datetime([base + 9_007], unit="ns", utc=True), "price": 1.0})
    assert ws.ingest(sid, "BTC/USDT", dt).rows_written == 1
    assert micros(ws.ticks(sid)["ts"])[-1] == base // 1000 + 9
    f = tmp_path / "ns.csv"
    f.write_text("ts,price\n1767571200000000001,1\n")
    p = run(ws.url, "sessions", "import", sid, str(f), "--symbol", "BTC/USDT", "--ts-unit", "ns")
    assert p.returncode == 1 and "line 2" in p.stderr and "--round-ns" in p.stderr
    p = run(ws.url, "sessions", "import", sid, str(f), "--symbol", "BTC/USDT", "--ts-unit", "ns",
            "--round-ns")
    assert p.returncode == 0, p.stderr
