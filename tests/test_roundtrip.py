"""Property tests: whatever valid frame goes in comes back out unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsanalysis

# Microsecond instants between 1990 and 2100, as epoch micros.
MICROS = st.integers(min_value=631_152_000_000_000, max_value=4_102_444_800_000_000)
PRICES = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
VOLUMES = st.one_of(st.none(), st.floats(min_value=0, max_value=1e12, allow_nan=False,
                                         allow_infinity=False))


@st.composite
def tick_frames(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    # Draw few distinct instants so that many rows share a timestamp.
    instants = draw(st.lists(MICROS, min_size=1, max_size=5))
    ts = [draw(st.sampled_from(instants)) for _ in range(n)]
    prices = [draw(PRICES) for _ in range(n)]
    vols = [draw(VOLUMES) for _ in range(n)]
    return pd.DataFrame({
        "ts": pd.to_datetime(ts, unit="us", utc=True),
        "price": np.array(prices, dtype="float64"),
        "volume": np.array([np.nan if v is None else v for v in vols], dtype="float64"),
    })


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(frame=tick_frames())
def test_ticks_round_trip(store_url, frame):
    ws = tsanalysis.connect(store_url)
    try:
        sid = ws.sessions.create(["X/Y"]).session_id
        ws.ingest(sid, "X/Y", frame)
        back = ws.ticks(sid)
        # Stored order is (ts, seq); seq is arrival order, so a stable sort of the input
        # by time is exactly what must come back.
        expected = frame.sort_values("ts", kind="stable").reset_index(drop=True)
        pd.testing.assert_series_equal(back["ts"], expected["ts"], check_names=False)
        np.testing.assert_array_equal(back["price"].to_numpy(), expected["price"].to_numpy())
        np.testing.assert_array_equal(back["volume"].to_numpy(), expected["volume"].to_numpy())
        assert back["seq"].tolist() == (frame.sort_values("ts", kind="stable").index.tolist())
    finally:
        ws.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(micros=st.lists(MICROS, min_size=1, max_size=20),
       text=st.sampled_from(["iso_z", "iso_naive", "iso_offset", "epoch_us"]))
@pytest.mark.slow
def test_timestamp_text_forms_round_trip(store_url, micros, text):
    ts = pd.to_datetime(micros, unit="us", utc=True)
    if text == "iso_z":
        col = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    elif text == "iso_naive":
        col = ts.strftime("%Y-%m-%d %H:%M:%S.%f")
    elif text == "iso_offset":
        col = ts.tz_convert("Asia/Kolkata").strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    else:
        col = [str(m) for m in micros]
    ws = tsanalysis.connect(store_url)
    try:
        sid = ws.sessions.create(["X/Y"]).session_id
        ws.ingest(sid, "X/Y", pd.DataFrame({"ts": list(col), "price": 1.0}),
                  ts_unit="us" if text == "epoch_us" else None)
        back = ws.ticks(sid)["ts"]
        assert sorted(back.tolist()) == sorted(ts.tolist())
    finally:
        ws.close()
