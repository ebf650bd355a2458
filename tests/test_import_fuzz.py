"""Any file, clean import or clean refusal: a fuzz test of the CSV, JSON Lines and Parquet
imports (DuckDB; the QuestDB path shares the validation and is covered by the contract).

For every input hypothesis makes up, ``import_file`` either imports and the store then
holds exactly the rows it says it wrote, or it raises a :class:`TsanalysisError` with one
line of text, and the store holds nothing for the session and its record is unchanged.
Memory is bounded by construction (inputs are small); the budget is fixed so that the
test takes the same time in CI every run.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tsanalysis
from tsanalysis import TsanalysisError

#: hypothesis over many inputs: part of `make test`, not of `make test-fast`
pytestmark = pytest.mark.slow

BUDGET = settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.function_scoped_fixture])

_TS = st.one_of(
    st.just("2026-01-05T00:00:00Z"), st.just("2026-01-05 00:00:01"), st.just("1767571200"),
    st.just("1767571200123"), st.just("-5"), st.just("99999999999999999999"),
    st.just("2300-01-01T00:00:00Z"), st.just(""), st.text(max_size=12))
_NUM = st.one_of(st.just("100.5"), st.just("0"), st.just("-1"), st.just("NaN"),
                 st.just("inf"), st.just("1e308"), st.just(""), st.text(max_size=8))
_CELL = st.one_of(_TS, _NUM, st.text(max_size=20), st.just('"quoted, comma"'),
                  st.just('"unterminated'), st.just("\x00"))


@st.composite
def csv_bytes(draw) -> bytes:
    header = draw(st.one_of(st.just(["ts", "price", "volume"]), st.just(["ts", "price"]),
                            st.lists(st.text(min_size=0, max_size=6), max_size=4)))
    rows = draw(st.lists(
        st.one_of(st.tuples(_TS, _NUM, _NUM).map(list),
                  st.lists(_CELL, max_size=5)), max_size=12))
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows])
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, max(0, len(raw))))
        raw = raw[:at] + draw(st.binary(max_size=4)) + raw[at:]  # stray bytes, maybe not UTF-8
    return raw


@st.composite
def jsonl_bytes(draw) -> bytes:
    value = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                      st.floats(allow_nan=True), st.text(max_size=10), _TS)
    objs = draw(st.lists(st.one_of(
        st.fixed_dictionaries({"ts": _TS, "price": value}, optional={"volume": value}),
        st.dictionaries(st.text(max_size=5), value, max_size=3)), max_size=8))
    lines = [json.dumps(o) for o in objs]
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=15)))  # a line that is not JSON
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _check(ws, sid: str, path, kind: str = "ticks") -> None:
    before = ws.sessions.get(sid)
    try:
        res = ws.import_file(sid, path, "BTC/USDT", kind=kind)
    except TsanalysisError as e:
        assert "\n" not in str(e) and len(str(e)) < 5000, str(e)[:300]
        assert sum(ws.store.count_rows(sid)[t] for t in ("tick_prices", "tick_orderbook")) == 0
        after = ws.sessions.get(sid)
        assert (after.symbols, after.data_types) == (before.symbols, before.data_types)
        return
    stored = ws.store.count_rows(sid)["tick_prices"]
    assert stored == res.rows_written
    ws.sessions.delete(sid, force=True)


@pytest.fixture(scope="module")
def fuzz_ws(tmp_path_factory):
    w = tsanalysis.connect(f"duckdb:///{tmp_path_factory.mktemp('fuzz')}/f.duckdb")
    yield w
    w.close()


@BUDGET
@given(data=csv_bytes())
def test_any_csv_is_imported_or_refused_cleanly(fuzz_ws, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    path.write_bytes(data)
    sid = fuzz_ws.sessions.create(["ETH/USDT"]).session_id
    _check(fuzz_ws, sid, path)


@BUDGET
@given(data=jsonl_bytes())
def test_any_jsonl_is_imported_or_refused_cleanly(fuzz_ws, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("jsonl") / "in.jsonl"
    path.write_bytes(data)
    sid = fuzz_ws.sessions.create(["ETH/USDT"]).session_id
    _check(fuzz_ws, sid, path)


@BUDGET
@given(ts=st.lists(st.integers(-2**62, 2**62), min_size=1, max_size=8),
       price=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=8, max_size=8),
       as_text=st.booleans())
# Found by this test: a timestamp of year 0 made describing the bad row raise.
@example(ts=[-62_135_596_800_000_001], price=[0.0] * 8, as_text=False)
def test_any_parquet_is_imported_or_refused_cleanly(fuzz_ws, tmp_path_factory, ts, price,
                                                    as_text):
    n = len(ts)
    ts_col = pa.array([str(v) for v in ts]) if as_text else \
        pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC"), safe=False)
    table = pa.table({"ts": ts_col, "price": pa.array(price[:n], pa.float64())})
    path = tmp_path_factory.mktemp("pq") / "in.parquet"
    pq.write_table(table, path)
    sid = fuzz_ws.sessions.create(["ETH/USDT"]).session_id
    _check(fuzz_ws, sid, path)
