"""The rolling kernels against brute force, whole and fed in arbitrary chunks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsanalysis.quality.kernels import (
    MAD_TO_SIGMA,
    CenteredStream,
    RunStream,
    hampel,
    rolling_median,
)


def brute_hampel(x, k, n_sigmas, floor_abs, floor_rel, upper_only):
    out = []
    for i in range(len(x)):
        w = x[max(0, i - k):i + k + 1]
        med = np.median(w)
        scale = max(MAD_TO_SIGMA * np.median(np.abs(w - med)), floor_abs, floor_rel * abs(med))
        dev = x[i] - med if upper_only else abs(x[i] - med)
        if dev > n_sigmas * scale:
            out.append((i, med, scale))
    return out


def _cuts(draw_cuts, n):
    return sorted({min(c, n) for c in draw_cuts})


series = st.lists(st.integers(-30, 30), min_size=0, max_size=120)


@settings(max_examples=150, deadline=None)
@given(series, st.integers(1, 8), st.floats(1.0, 6.0), st.booleans(),
       st.lists(st.integers(0, 120), max_size=6), st.sampled_from([0.0, 0.5]))
def test_hampel_matches_brute_force_whole_and_chunked(values, k, n_sigmas, upper_only, cuts,
                                                      floor_abs):
    # integer steps: many ties and flat windows (MAD 0), the hard cases
    x = np.cumsum(np.asarray(values, dtype=float))
    expected = brute_hampel(x, k, n_sigmas, floor_abs, 0.0, upper_only)
    idx, med, scale = hampel(x, k, 0, len(x), n_sigmas, floor_abs, 0.0, upper_only)
    assert list(idx) == [e[0] for e in expected]
    assert np.allclose(med, [e[1] for e in expected])
    assert np.allclose(scale, [e[2] for e in expected])
    stream, got, offset = CenteredStream(k), [], 0
    pieces = np.split(x, _cuts(cuts, len(x)))
    for j, piece in enumerate(pieces):
        pos = np.arange(offset, offset + len(piece))
        offset += len(piece)
        buf, lo, hi = stream.push({"x": piece, "pos": pos}, j == len(pieces) - 1)
        i, _, _ = hampel(buf["x"], k, lo, hi, n_sigmas, floor_abs, 0.0, upper_only)
        got.extend(buf["pos"][i].tolist())
    assert got == [e[0] for e in expected]


@settings(max_examples=100, deadline=None)
@given(series, st.integers(1, 8), st.lists(st.integers(0, 120), max_size=6))
def test_rolling_median_whole_and_chunked(values, k, cuts):
    x = np.cumsum(np.asarray(values, dtype=float))
    expected = [np.median(x[max(0, i - k):i + k + 1]) for i in range(len(x))]
    assert np.array_equal(rolling_median(x, k, 0, len(x)), np.asarray(expected, dtype=float))
    stream, got = CenteredStream(k), []
    pieces = np.split(x, _cuts(cuts, len(x)))
    for j, piece in enumerate(pieces):
        buf, lo, hi = stream.push({"x": piece}, j == len(pieces) - 1)
        got.extend(rolling_median(buf["x"], k, lo, hi).tolist())
    assert got == expected


def brute_runs(key, active, min_rows):
    out, i, n = [], 0, len(key)
    while i < n:
        if not active[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and active[j + 1] and key[j + 1] == key[i]:
            j += 1
        if j - i + 1 >= min_rows:
            out.append((i, j - i + 1))
        i = j + 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=60),
       st.integers(1, 4), st.lists(st.integers(0, 60), max_size=6))
def test_runs_whole_and_chunked(rows, min_rows, cuts):
    key = np.array([r[0] for r in rows], dtype=float)
    active = np.array([r[1] for r in rows], dtype=bool)
    ts = np.arange(len(rows), dtype=np.int64) * 10
    expected = brute_runs(key, active, min_rows)
    stream, got, offset = RunStream(min_rows), [], 0
    cut = _cuts(cuts, len(rows))
    pieces = list(zip(np.split(key, cut), np.split(active, cut), np.split(ts, cut),
                      strict=True))
    for j, (k, a, t) in enumerate(pieces):
        runs = stream.push(offset, t, k, a, j == len(pieces) - 1)
        offset += len(k)
        for s, r, t0, t1, kk in zip(runs.start, runs.rows, runs.start_ts, runs.end_ts,
                                    runs.key, strict=True):
            assert (t0, t1, kk) == (s * 10, (s + r - 1) * 10, key[s])
            got.append((int(s), int(r)))
    assert got == expected
