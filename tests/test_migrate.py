"""Migration of the legacy CSV layout: exact counts, re-runs, kill -9, bad input, dry run.

Trees come from :mod:`tsanalysis.migrate.generator`, which records what each file holds, so
every figure is checked against what the files really contain. Session ids carry a fresh
prefix per test (QuestDB tests share one server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsanalysis import schema
from tsanalysis.errors import InvalidInput
from tsanalysis.migrate import generator
from tsanalysis.migrate.generator import WARM_UP, generate_tree
from tsanalysis.migrate.stats import FAILED, MIGRATED
from tsanalysis.timeutil import TS_FORMS, timestamp_forms
from tsanalysis.workspace import Workspace

from .helpers import DuckDBWithoutTransactions

ROWS = 120


@pytest.fixture
def prefix() -> str:
    return f"lg{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tree(tmp_path, prefix) -> generator.LegacyTree:
    return generate_tree(tmp_path / "legacy", rows=ROWS, prefix=prefix)


def stored(ws, tree) -> dict[tuple[str, str], int]:
    """(session id, table) -> rows in the store, for the tables the tree fills."""
    out = {}
    for s in tree.sessions:
        counts = ws.store.count_rows(s.session_id)
        for t in ("tick_prices", "tick_orderbook", "indicators"):
            out[(s.session_id, t)] = counts[t]
    return out


def expected_rows(tree, skip_errors=False) -> dict[tuple[str, str], int]:
    want = {(s.session_id, t): 0 for s in tree.sessions
            for t in ("tick_prices", "tick_orderbook", "indicators")}
    want.update(tree.rows_by_table(skip_errors))
    return want


def file_outcomes(stats) -> dict[str, tuple[str, int, int]]:
    return {f.path: (f.status, f.rows_migrated, f.rows_skipped) for f in stats.files}


def expected_outcomes(tree, skip_errors=False) -> dict[str, tuple[str, int, int]]:
    return {f.relpath: (f.status(skip_errors), f.rows_migrated(skip_errors),
                        f.rows_skipped(skip_errors)) for f in tree.files}


# -- a whole tree -----------------------------------------------------------------------

def test_generated_tree_migrates_with_exact_counts(ws, tree):
    stats = ws.migrate_legacy(tree.root)
    figures = stats.figures()
    assert {k: figures[k] for k in tree.expected()} == tree.expected()
    assert figures["files_failed"] == 4 and figures["rows_migrated"] > 0  # the tree is awkward
    assert file_outcomes(stats) == expected_outcomes(tree)
    assert stored(ws, tree) == expected_rows(tree)
    assert figures["sessions_processed"] == figures["sessions_created"] == 3
    assert not stats.ok and stats.rows_per_s > 0 and stats.duration_s > 0


def test_sessions_keep_the_legacy_metadata(ws, tree):
    ws.migrate_legacy(tree.root)
    s0, s1, s2 = (ws.sessions.get(s.session_id) for s in tree.sessions)
    e0 = tree.sessions[0]
    # Real names from the metadata for the BTC_USDT directories, and the listed XRP/USDT.
    assert s0.symbols == ["BTC/USDT", "ETH/USDT", "XRP/USDT"]
    assert s0.status == "completed"
    assert s0.start_time == e0.start_time and s0.end_time == e0.end_time
    assert s0.metadata["exchange"] == "binance"
    assert s0.metadata["recorder"] == {"version": "1.4.2", "host": "rec-01"}
    assert s0.metadata["migration"]["state"] == "partial"  # two of its files were refused
    assert set(s0.data_types) == {"ticks", "orderbook", "indicators"}
    # Missing fields: directory names as symbols, completed, time range from the data.
    assert s1.symbols == ["BTC_USDT", "ETH_USDT"]
    assert s1.status == "completed" and s1.metadata["recorded_by"] == "legacy-recorder"
    assert s1.start_time == s1.first_ts and s1.end_time == s1.last_ts
    # No metadata file at all.
    assert s2.session_id == tree.sessions[2].session_id and s2.status == "completed"
    assert s2.start_time == s2.first_ts and s2.metadata["migration"]["state"] == "complete"


def test_rows_keep_values_order_and_repeated_timestamps(ws, tree):
    ws.migrate_legacy(tree.root)
    sid = tree.sessions[2].session_id
    for f in (x for x in tree.files if x.session_id == sid):
        raw = pd.read_csv(tree.root / f.relpath, dtype={"timestamp": str})
        unit = TS_FORMS[timestamp_forms(raw["timestamp"])[0]]
        ts = (pd.to_datetime(raw["timestamp"], utc=True) if unit == "iso" else
              pd.to_datetime(raw["timestamp"].astype("int64"), unit=unit, utc=True))
        back = ws.read(f.table, sid, f.symbol,
                       **({"filters": {"indicator_id": f.indicator_id}} if f.indicator_id else {}))
        assert len(back) == f.lines
        assert back["seq"].tolist() == list(range(f.lines))  # row position in the file
        assert (back["ts"].to_numpy() == ts.dt.as_unit("us").to_numpy()).all()
        if f.kind == "ticks":
            assert back["ts"].duplicated().sum() == f.lines // 50  # trades sharing a time
            np.testing.assert_array_equal(back["price"], raw["price"])
        elif f.kind == "indicators":
            assert back["indicator_id"].unique().tolist() == [f.indicator_id]
            assert back["value"].isna().sum() == WARM_UP  # empty cells are NULL
            np.testing.assert_array_equal(back["value"], raw["value"])
            np.testing.assert_array_equal(back["confidence"], raw["confidence"])
        else:
            np.testing.assert_array_equal(back["ask_size"], raw["ask_size"])


def test_layout_quirks(ws, tmp_path, prefix):
    tree = generate_tree(tmp_path / "legacy", rows=30, prefix=prefix, awkward=False,
                         sessions=4, indicators=("rsi_14",))
    root = tree.root
    a, b, c, d = (s.session_id for s in tree.sessions)
    # Unknown status and an epoch-milliseconds start; the original status is kept.
    meta = json.loads((root / a / "session_metadata.json").read_text())
    meta.update(status="stopped", start_time=1767571200000, end_time=None)
    (root / a / "session_metadata.json").write_text(json.dumps(meta))
    # Metadata that is not JSON: the session is refused, its files listed as failed.
    (root / b / "session_metadata.json").write_text("{not json")
    # Two directories claiming one session id: the second is refused.
    meta = json.loads((root / d / "session_metadata.json").read_text())
    meta["session_id"] = c
    (root / d / "session_metadata.json").write_text(json.dumps(meta))
    # An indicator file name that is no id, a stray file, a directory that is no session.
    ind = root / c / "BTC_USDT" / "indicators"
    (ind / "rsi 14 (old).csv").write_text((ind / "rsi_14.csv").read_text())
    (root / c / "BTC_USDT" / "notes.txt").write_text("hello")
    (root / "scratch").mkdir()

    stats = ws.migrate_legacy(root)
    by_id = {s.dir: s for s in stats.sessions}
    info = ws.sessions.get(a)
    assert info.status == "completed" and info.metadata["legacy_status"] == "stopped"
    assert info.start_time == pd.Timestamp("2026-01-05T00:00:00Z")
    assert info.end_time == info.last_ts  # no end in the metadata: the data's
    assert by_id[b].action == "failed" and "unreadable" in by_id[b].reason
    assert ws.store.session_rows(b).empty
    assert all(f.status == FAILED and f.errors == 0 for f in stats.files if f.session_id == b)
    assert by_id[d].action == "failed" and "also the id of directory" in by_id[d].reason
    odd = next(f for f in stats.files if f.path.endswith("rsi 14 (old).csv"))
    assert odd.status == FAILED and "indicator id" in odd.reason
    assert any("notes.txt" in n for n in by_id[c].notes)
    assert stats.ignored == ["scratch"]
    assert stats.sessions_failed == 2 and stats.errors == 3  # two sessions, one file


def test_the_generator_is_deterministic(tmp_path):
    one = generate_tree(tmp_path / "one", rows=40, prefix="x")
    two = generate_tree(tmp_path / "two", rows=40, prefix="x")
    files = sorted(p.relative_to(one.root) for p in one.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two.root) for p in two.root.rglob("*") if p.is_file())
    assert all((one.root / f).read_bytes() == (two.root / f).read_bytes() for f in files)


# -- idempotency -------------------------------------------------------------------------

def test_a_second_run_adds_nothing(ws, tree):
    first = ws.migrate_legacy(tree.root)
    before = stored(ws, tree)
    rows_before = {s.session_id: ws.store.session_rows(s.session_id) for s in tree.sessions}
    again = ws.migrate_legacy(tree.root)
    assert again.rows_migrated == 0 and again.files_migrated == 0
    assert again.files_skipped == first.files_migrated + first.files_skipped
    assert again.files_failed == first.files_failed  # still refused, still reported
    assert again.sessions_created == 0
    assert stored(ws, tree) == before
    complete = tree.sessions[2].session_id
    assert next(s for s in again.sessions if s.session_id == complete).action == "up to date"
    # Nothing about the sessions changed either (not even updated_at).
    for sid, row in rows_before.items():
        pd.testing.assert_frame_equal(ws.store.session_rows(sid), row)


def test_a_fixed_file_is_migrated_on_the_next_run(ws, tree):
    ws.migrate_legacy(tree.root)
    bad = tree.file(f"{tree.sessions[0].session_id}/BTC_USDT/tick_prices.csv")
    path = tree.root / bad.relpath
    path.write_text(path.read_text().replace(",abc,", ",101.5,"))
    stats = ws.migrate_legacy(tree.root)
    assert file_outcomes(stats)[bad.relpath] == (MIGRATED, bad.lines, 0)
    assert stats.rows_migrated == bad.lines
    assert ws.store.count_rows(bad.session_id)["tick_prices"] == \
        expected_rows(tree)[(bad.session_id, "tick_prices")] + bad.lines


def test_a_changed_file_is_written_again_without_duplicates(ws, tree):
    ws.migrate_legacy(tree.root)
    f = tree.file(f"{tree.sessions[2].session_id}/BTC_USDT/tick_prices.csv")
    path = tree.root / f.relpath
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + lines[-3:]) + "\n")  # three more rows appended
    stats = ws.migrate_legacy(tree.root)
    assert file_outcomes(stats)[f.relpath] == (MIGRATED, f.lines + 3, 0)
    assert ws.store.count_rows(f.session_id)["tick_prices"] == \
        expected_rows(tree)[(f.session_id, "tick_prices")] + 3


def test_a_session_not_created_by_migration_is_left_alone(ws, tree):
    sid = tree.sessions[2].session_id
    ws.sessions.create(["BTC/USDT"], sid)
    stats = ws.migrate_legacy(tree.root)
    refused = next(s for s in stats.sessions if s.session_id == sid)
    assert refused.action == "failed" and "not created by a migration" in refused.reason
    assert all(f.status == FAILED for f in stats.files if f.session_id == sid)
    assert stats.sessions_failed == 1 and not stats.ok
    assert sum(ws.store.count_rows(sid).values()) == 1  # the session row, nothing added
    assert ws.sessions.get(sid).metadata == {}


# -- bad input ---------------------------------------------------------------------------

def test_a_file_with_a_bad_row_is_refused_whole_and_the_run_goes_on(ws, tree):
    stats = ws.migrate_legacy(tree.root)
    sid = tree.sessions[0].session_id
    bad = f"{sid}/BTC_USDT/tick_prices.csv"
    res = next(f for f in stats.files if f.path == bad)
    assert res.status == FAILED and res.rows_migrated == 0 and res.errors == 1
    assert "refused" in res.reason
    assert ws.read("tick_prices", sid, "BTC/USDT").empty  # nothing of it written
    assert len(ws.read("tick_prices", sid, "ETH/USDT")) == ROWS  # the next file went in
    detail = next(e for e in stats.error_details if e.path == bad)
    assert (detail.line, detail.column, detail.value, detail.reason) == \
        (tree.file(bad).bad_lines[0], "price", "abc", "not a number")
    assert bad in detail.describe() and "line" in detail.describe()
    # A truncated last line is a bad row too, named by its line.
    cut = f"{sid}/ETH_USDT/orderbook.csv"
    detail = next(e for e in stats.error_details if e.path == cut)
    assert detail.line == ROWS + 1 and "expected 5 fields, found 2" in detail.reason


def test_skip_errors_writes_the_valid_rows_and_lists_the_bad_ones(ws, tree):
    stats = ws.migrate_legacy(tree.root, skip_errors=True)
    figures = stats.figures()
    assert {k: figures[k] for k in tree.expected(True)} == tree.expected(True)
    assert file_outcomes(stats) == expected_outcomes(tree, True)
    assert stored(ws, tree) == expected_rows(tree, True)
    listed = sorted((e.path, e.line) for e in stats.error_details if e.line is not None)
    assert listed == sorted((f.relpath, ln) for f in tree.files for ln in f.bad_lines
                            if not f.refused)
    assert figures["rows_skipped"] == 4  # abc price, cut line, inf value, bad timestamp


def test_a_file_mixing_timestamp_forms_is_refused_even_with_skip_errors(ws, tree):
    mixed = next(f for f in tree.files if f.refused)
    for skip in (False, True):
        stats = ws.migrate_legacy(tree.root, skip_errors=skip)
        res = next(f for f in stats.files if f.path == mixed.relpath)
        assert res.status == FAILED and res.ts_form == "mixed"
        assert "mixes timestamp forms" in res.reason and "first at line" in res.reason
    rows = ws.read("indicators", mixed.session_id, mixed.symbol,
                   filters={"indicator_id": mixed.indicator_id})
    assert rows.empty


def test_mixing_found_across_batches_still_refuses_the_file(ws, tree):
    mixed = next(f for f in tree.files if f.refused)
    stats = ws.migrate_legacy(tree.root, sessions=[mixed.session_id], symbols=[mixed.symbol],
                              batch_size=10, skip_errors=True)  # 12 batches a file
    assert file_outcomes(stats)[mixed.relpath][0] == FAILED
    assert stats.files_migrated == 3  # the others of the symbol, batch after batch
    assert ws.read("indicators", mixed.session_id, mixed.symbol,
                   filters={"indicator_id": mixed.indicator_id}).empty
    assert ws.store.count_rows(mixed.session_id)["indicators"] == ROWS - 2  # two bad rows


# -- dry run -----------------------------------------------------------------------------

def test_dry_run_writes_nothing_and_its_figures_are_the_real_runs(ws, tree):
    for skip in (False, True):
        dry = ws.migrate_legacy(tree.root, dry_run=True, skip_errors=skip)
        assert dry.dry_run and all(ws.store.session_rows(s.session_id).empty
                                   for s in tree.sessions)
        assert dry.figures()["rows_migrated"] == tree.expected(skip)["rows_migrated"]
    dry = ws.migrate_legacy(tree.root, dry_run=True)
    real = ws.migrate_legacy(tree.root)
    assert dry.figures() == real.figures()
    assert [f.to_dict() for f in dry.files] == [f.to_dict() for f in real.files]
    assert [s.action for s in dry.sessions] == [s.action for s in real.sessions]
    # After a run: the dry run says what is already present, and the next run agrees.
    dry2 = ws.migrate_legacy(tree.root, dry_run=True, skip_errors=True)
    assert sum(f.reason == "already present" for f in dry2.files) == real.files_migrated
    real2 = ws.migrate_legacy(tree.root, skip_errors=True)
    assert dry2.figures() == real2.figures()
    assert [f.to_dict() for f in dry2.files] == [f.to_dict() for f in real2.files]


def test_filters(ws, tree):
    s0, s1 = tree.sessions[0].session_id, tree.sessions[1].session_id
    stats = ws.migrate_legacy(tree.root, sessions=[s1], symbols=["BTC_USDT"])
    assert {f.session_id for f in stats.files} == {s1}
    assert {f.symbol for f in stats.files} == {"BTC_USDT"}
    assert ws.store.session_rows(s0).empty
    assert ws.sessions.get(s1).metadata["migration"]["state"] == "partial"  # ETH_USDT left out
    # A real symbol name or its directory name both select it.
    by_name = ws.migrate_legacy(tree.root, sessions=[s0], symbols=["ETH/USDT"], dry_run=True)
    by_dir = ws.migrate_legacy(tree.root, sessions=[s0], symbols=["ETH_USDT"], dry_run=True)
    assert [f.path for f in by_name.files] == [f.path for f in by_dir.files]
    with pytest.raises(InvalidInput, match="no session nope"):
        ws.migrate_legacy(tree.root, sessions=["nope"])
    with pytest.raises(InvalidInput, match="no files for symbol DOGE/USDT"):
        ws.migrate_legacy(tree.root, symbols=["DOGE/USDT"])
    with pytest.raises(InvalidInput, match="no such directory"):
        ws.migrate_legacy(tree.root / "missing")


def test_progress_and_file_callbacks(ws, tree):
    seen: list[tuple[int, int | None]] = []
    files: list[str] = []
    sid = tree.sessions[2].session_id
    stats = ws.migrate_legacy(tree.root, sessions=[sid], batch_size=25,
                              progress=lambda d, t: seen.append((d, t)),
                              on_file=lambda r: files.append(r.path))
    total = sum(f.lines for f in tree.files if f.session_id == sid)
    assert seen and all(t == total for _, t in seen)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == total
    assert len(done) > len(tree.files)  # within files too, not only between them
    assert files == [f.path for f in stats.files]


def test_statistics_to_dict(ws, tree):
    d = ws.migrate_legacy(tree.root).to_dict()
    json.dumps(d, allow_nan=False)
    for key in ("sessions_processed", "files_found", "files_migrated", "files_skipped",
                "files_failed", "rows_migrated", "rows_skipped", "errors", "duration_s",
                "rows_per_s"):
        assert key in d
    assert d["errors"] == 5 and len(d["error_details"]) == 5
    assert {e["path"] for e in d["error_details"]} == {f.relpath for f in tree.files
                                                       if f.bad_lines or f.refused}


# -- kill -9 -----------------------------------------------------------------------------

KILLED_CHILD = r"""
import sys, time, tsanalysis
url, root, stop_at, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if kind == "no-transactions":
    from tests.helpers import DuckDBWithoutTransactions
    from tsanalysis.workspace import Workspace
    ws = Workspace(DuckDBWithoutTransactions(url[len("duckdb://"):]))
else:
    ws = tsanalysis.connect(url)

def progress(done, total):
    print(done, total, flush=True)
    if done >= stop_at:
        # Called after a batch was written and before the next one is read: the test
        # kills us here, in the middle of a file.
        print("READY", flush=True)
        time.sleep(600)

ws.migrate_legacy(root, batch_size=40, progress=progress)
print("FINISHED", flush=True)
"""

KILL_ROWS = 400  # rows a file; 40 a batch
KILL_AT = 6 * KILL_ROWS + 120  # inside the 7th file, after three of its batches


def kill_mid_file(url: str, root: Path, kind: str = "as-is") -> int:
    """Run a migration in a child process and kill -9 it mid-file; return rows done."""
    env = {**os.environ, "TSANALYSIS_LOAD_PLUGINS": ""}
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, url, str(root), str(KILL_AT),
                              kind], stdout=subprocess.PIPE, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[1])
    last = None
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if line.strip() == "READY":
                break
            assert line.strip() != "FINISHED"
            last = line.split()
        else:
            pytest.fail(f"the child ended before the kill point (rc {child.wait()})")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    assert last is not None
    done = int(last[0])
    assert done % KILL_ROWS != 0 and KILL_AT <= done < int(last[1])  # really mid-file
    return done


def resume_to_exact_counts(ws, tree) -> None:
    stats = ws.migrate_legacy(tree.root)
    assert stored(ws, tree) == expected_rows(tree)
    assert stats.files_failed == 0
    assert stats.files_skipped == 6  # the files the killed run had completed and recorded
    assert stats.files_migrated + stats.files_skipped == len(tree.files)
    for s in tree.sessions:
        info = ws.sessions.get(s.session_id)
        assert info.metadata["migration"]["state"] == "complete"
        assert info.status == s.status
    assert ws.migrate_legacy(tree.root).rows_migrated == 0


@pytest.mark.slow
def test_kill_9_mid_file_then_resume_to_exact_counts(ws, store_url, tmp_path, prefix):
    tree = generate_tree(tmp_path / "legacy", rows=KILL_ROWS, prefix=prefix, awkward=False)
    ws.close()  # DuckDB: let the child take the file
    kill_mid_file(store_url, tree.root)
    partial = sum(stored(ws, tree).values())
    # The files before the one in progress are in; the tree as a whole is not. (On DuckDB
    # the file in progress was rolled back; on QuestDB some of its rows are in.)
    assert 6 * KILL_ROWS <= partial < sum(f.lines for f in tree.files)
    resume_to_exact_counts(ws, tree)


@pytest.fixture
def nontx_ws(tmp_path):
    w = Workspace(DuckDBWithoutTransactions(tmp_path / "nontx.duckdb"))
    yield w
    w.close()


@pytest.mark.slow
def test_kill_9_without_transactions_leaves_part_of_a_file_and_resumes_exactly(
        nontx_ws, tmp_path, prefix):
    """The path a store without transactions (QuestDB) takes: a killed run leaves some
    rows of the file in progress; the next run writes the file again over them."""
    tree = generate_tree(tmp_path / "legacy", rows=KILL_ROWS, prefix=prefix, awkward=False)
    nontx_ws.close()
    kill_mid_file(nontx_ws.url, tree.root, "no-transactions")
    partial = sum(stored(nontx_ws, tree).values())
    assert 6 * KILL_ROWS + 120 <= partial < 7 * KILL_ROWS  # a part of the 7th file is in
    resume_to_exact_counts(nontx_ws, tree)


def test_without_transactions_counts_reruns_and_dry_run(nontx_ws, tree):
    ws = nontx_ws
    dry = ws.migrate_legacy(tree.root, dry_run=True, skip_errors=True)
    stats = ws.migrate_legacy(tree.root, skip_errors=True)
    assert dry.figures() == stats.figures()
    assert file_outcomes(stats) == expected_outcomes(tree, True)
    assert stored(ws, tree) == expected_rows(tree, True)
    again = ws.migrate_legacy(tree.root, skip_errors=True, batch_size=7)
    assert again.rows_migrated == 0 and stored(ws, tree) == expected_rows(tree, True)
    # A refused file leaves nothing behind even though writes are not transactional.
    mixed = next(f for f in tree.files if f.refused)
    assert ws.read("indicators", mixed.session_id, mixed.symbol,
                   filters={"indicator_id": mixed.indicator_id}).empty


# -- the pieces underneath ------------------------------------------------------------

def test_timestamp_forms():
    s = pd.Series(["1767571200", "1767571200000", None, "2026-01-05T00:00:00Z", "abc", "5"])
    assert [TS_FORMS[c] if c >= 0 else None for c in timestamp_forms(s)] == \
        ["s", "ms", None, "iso", None, None]
    assert (timestamp_forms(pd.Series(["2026-01-05", "2026-01-05T00:00:01.5+01:00"])) == 0).all()


def test_indicator_rows_through_ingestion(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    frame = pd.DataFrame({"ts": pd.date_range("2026-01-05", periods=5, freq="s", tz="UTC"),
                          "value": [np.nan, 1.0, 2.0, 3.0, 4.0], "confidence": 0.5})
    res = ws.ingest(sid, "BTC/USDT", frame, "indicators", indicator_id="sma_2")
    assert res.rows_written == 5
    back = ws.read("indicators", sid, "BTC/USDT")
    assert back["indicator_id"].unique().tolist() == ["sma_2"] and back["value"].isna().sum() == 1
    bad = frame.assign(value=[1.0, np.inf, 2.0, 3.0, 4.0])
    with pytest.raises(InvalidInput, match="non-finite value"):
        ws.ingest(sid, "BTC/USDT", bad, "indicators", indicator_id="sma_3")
    with pytest.raises(InvalidInput, match="indicator id"):
        ws.ingest(sid, "BTC/USDT", frame, "indicators")
    with pytest.raises(InvalidInput, match="invalid indicator id"):
        ws.ingest(sid, "BTC/USDT", frame, "indicators", indicator_id="bad id")
    assert ws.store.count_rows(sid)["indicators"] == 5
    assert "indicators" in ws.sessions.get(sid).data_types


def test_csv_batches_of_about_n_rows(tmp_path):
    from tsanalysis.readers import iter_csv

    p = tmp_path / "f.csv"
    pd.DataFrame({"timestamp": np.arange(10_000) + 1_767_571_200, "value": 1.5}).to_csv(
        p, index=False)
    sizes = [len(c.frame) for c in iter_csv(p, batch_rows=1000)]
    assert sum(sizes) == 10_000 and 5 <= len(sizes) <= 20


def test_an_empty_timestamp_chunk_is_rows_to_report_not_a_failure(ws, sid, tmp_path):
    # The reader hands over a last, empty chunk when the last line is cut short.
    ws.sessions.create(["BTC/USDT"], sid)
    p = tmp_path / "cut.csv"
    p.write_text("ts,price,volume\n2026-01-05T00:00:00Z,100,1\n2026-01-05T00:00:01Z,10")
    res = ws.import_file(sid, p, "BTC/USDT", skip_invalid=True)
    assert (res.rows_written, res.rows_skipped) == (1, 1)


# -- command line ------------------------------------------------------------------------

def cli(store_url, *args):
    from .test_cli import run

    return run(store_url, *args, env={"TSANALYSIS_LOAD_PLUGINS": ""})


def test_cli_exit_codes_and_json(ws, store_url, tree, tmp_path, prefix):
    ws.close()
    dry = cli(store_url, "migrate", "legacy", str(tree.root), "--dry-run", "--json")
    assert dry.returncode == 1, dry.stderr  # files would be refused
    d = json.loads(dry.stdout)
    assert d["dry_run"] is True and d["files_found"] == len(tree.files)
    assert {k: d[k] for k in tree.expected()} == tree.expected()

    real = cli(store_url, "migrate", "legacy", str(tree.root), "--json")
    assert real.returncode == 1
    r = json.loads(real.stdout)
    assert {k: r[k] for k in tree.expected()} == tree.expected()
    assert {k: r[k] for k in d if k.startswith(("files_", "rows_m", "rows_s", "errors"))} == \
        {k: d[k] for k in d if k.startswith(("files_", "rows_m", "rows_s", "errors"))}

    human = cli(store_url, "migrate", "legacy", str(tree.root))
    assert human.returncode == 1
    assert "0 migrated" in human.stdout and "files" in human.stdout
    assert "mixes timestamp forms" in human.stderr and "line" in human.stderr
    assert "Traceback" not in human.stderr

    clean = generate_tree(tmp_path / "clean", rows=30, prefix=f"{prefix}c", awkward=False,
                          sessions=1)
    ok = cli(store_url, "migrate", "legacy", str(clean.root), "--verbose")
    assert ok.returncode == 0, ok.stderr
    assert "migrated" in ok.stdout and "tick_prices.csv" in ok.stdout

    listed = cli(store_url, "migrate", "legacy", str(tree.root), "--dry-run")
    assert "already present" in listed.stdout and "REFUSE" in listed.stdout

    missing = cli(store_url, "migrate", "legacy", str(tmp_path / "nope"))
    assert missing.returncode == 1 and missing.stderr.startswith("error: no such directory")
    assert cli(store_url, "migrate", "legacy", str(tree.root), "--batch-size", "0"
               ).returncode == 2
    unknown = cli(store_url, "migrate", "legacy", str(tree.root), "--session", "nope")
    assert unknown.returncode == 1 and "no session nope" in unknown.stderr


def test_cli_skip_errors(ws, store_url, tree):
    ws.close()
    p = cli(store_url, "migrate", "legacy", str(tree.root), "--skip-errors", "--json")
    assert p.returncode == 1  # the mixed file is refused whatever the options
    d = json.loads(p.stdout)
    assert d["rows_skipped"] == 4 and d["files_failed"] == 1
    h = cli(store_url, "migrate", "legacy", str(tree.root), "--dry-run", "--skip-errors")
    assert "skip: already present" in h.stdout


def test_schema_kinds_cover_indicators():
    assert schema.KIND_TABLES["indicators"] is schema.INDICATORS


def test_cli_imports_indicator_rows(ws, store_url, sid, tmp_path):
    ws.sessions.create(["BTC/USDT"], sid)
    ws.close()
    p = tmp_path / "rsi.csv"
    p.write_text("timestamp,value,confidence\n1767571200,,0.5\n1767571201,55.5,0.9\n")
    out = cli(store_url, "sessions", "import", sid, str(p), "--symbol", "BTC/USDT", "--kind",
              "indicators", "--indicator-id", "rsi_14", "--ts-col", "timestamp", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows_written"] == 2
    back = ws.read("indicators", sid)
    assert back["indicator_id"].tolist() == ["rsi_14"] * 2 and back["value"].isna().sum() == 1


def test_store_checkpoint_keeps_what_was_written(ws, sid):
    from .helpers import indicator_rows

    ws.sessions.create(["BTC/USDT"], sid)
    ws.store.write("indicators", indicator_rows(sid, "BTC/USDT", 500))
    ws.store.checkpoint()
    with ws.store.atomic():
        ws.store.checkpoint()  # inside a transaction: left for later, not an error
    assert ws.store.count_rows(sid)["indicators"] == 500


def test_checkpoints_between_files_keep_exact_counts(ws, tree, monkeypatch):
    from tsanalysis.migrate import runner

    calls = []
    monkeypatch.setattr(runner, "CHECKPOINT_ROWS", 100)  # a checkpoint after every file
    real = ws.store.checkpoint
    monkeypatch.setattr(ws.store, "checkpoint", lambda: (calls.append(1), real())[1])
    sid = tree.sessions[2].session_id
    stats = ws.migrate_legacy(tree.root, sessions=[sid])
    assert len(calls) == stats.files_migrated
    assert ws.store.count_rows(sid)["indicators"] == expected_rows(tree)[(sid, "indicators")]


def test_links_leaving_the_tree_are_refused_without_showing_their_contents(tmp_path, store_url):
    """A symlinked file (or session directory) that leads outside the legacy tree is
    refused, naming the link and never printing the target's content; --follow-links
    migrates it."""
    tree = generate_tree(tmp_path / "legacy", sessions=1, rows=20,
                         prefix=f"lk{uuid.uuid4().hex[:6]}", awkward=False, orderbook=False,
                         indicators=())
    session_dir = next(p for p in (tmp_path / "legacy").iterdir() if p.is_dir())
    sym_dir = next(p for p in session_dir.iterdir() if p.is_dir())
    ticks_file = sym_dir / "tick_prices.csv"
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("SECRET-HEADER,x\nSECRET-ROW,1\n")
    ticks_file.unlink()
    ticks_file.symlink_to(secret)
    p = cli(store_url, "migrate", "legacy", str(tmp_path / "legacy"), "--json")
    assert p.returncode == 1, p.stderr
    assert "SECRET" not in p.stdout + p.stderr
    assert "links outside the legacy tree" in p.stdout + p.stderr
    # a whole session directory linked in from elsewhere: refused the same way
    away = tmp_path / "away"
    away.mkdir()
    session_dir.rename(away / session_dir.name)
    (tmp_path / "legacy" / session_dir.name).symlink_to(away / session_dir.name)
    p = cli(store_url, "migrate", "legacy", str(tmp_path / "legacy"))
    assert p.returncode == 1 and "links outside the legacy tree" in p.stdout + p.stderr
    assert "SECRET" not in p.stdout + p.stderr
    assert tree.sessions
