"""The rolling kernels against brute force, whole and fed in arbitrary chunks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsanalysis.quality import kernels
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


# -- the vectorised kernels against slow, obviously correct references ---------------------


def ref_median(w):
    w = sorted(w)
    h = len(w) // 2
    return w[h] if len(w) % 2 else 0.5 * (w[h - 1] + w[h])


def ref_hampel(x, k, lo, hi, n_sigmas, floor_abs, floor_rel, upper_only):
    """Point by point, from sorted windows: the definition in ``hampel``'s docstring."""
    out = []
    for i in range(lo, hi):
        w = sorted(x[max(0, i - k):i + k + 1])
        m = len(w)
        med = ref_median(w)
        mad = ref_median([abs(v - med) for v in w])
        floor = max(floor_abs, floor_rel * abs(med))
        scale = max(MAD_TO_SIGMA * mad, floor)
        dev = x[i] - med if upper_only else abs(x[i] - med)
        # the kernel skips the exact MAD where a cheap lower bound of it (order statistics
        # around the quartiles) already keeps the point inside; that bound is <= the MAD,
        # so this changes nothing but the last-bit rounding of n_sigmas * 1.4826 * MAD,
        # which the kernel has always had
        h = m // 2
        a = (h + 1) // 2 if m % 2 else (h - 1) // 2
        i1, i2 = (h - a, h + a) if m % 2 else (h - 1 - a, h + a)
        lower = min(med - w[i1], w[i2] - med) if i1 >= 0 and i2 < m else 0.0
        if dev > n_sigmas * floor and dev > n_sigmas * MAD_TO_SIGMA * lower \
                and dev > n_sigmas * scale:
            out.append((i, med, scale))
    return out


def _values(draw_kind, raw):
    x = np.asarray(raw, dtype=float)
    if draw_kind == "walk":  # integer steps: ties and flat windows (MAD 0)
        return np.cumsum(np.round(x))
    if draw_kind == "prices":  # a rounded price walk: ties among nearby values
        return np.round(100 + np.cumsum(x) * 0.01, 2)
    if draw_kind == "spiky":  # few distinct values, and far outliers
        return np.where(np.abs(x) > 25, x * 1e6, np.round(x / 10))
    return x  # arbitrary reals, negative too


kernel_inputs = st.tuples(
    st.sampled_from(["walk", "prices", "spiky", "raw"]),
    st.lists(st.floats(-30, 30, allow_nan=False), min_size=0, max_size=150),
    st.integers(1, 12), st.floats(0, 1), st.floats(0, 1))


@pytest.mark.parametrize(("block", "refine"), [(kernels._BLOCK_VALUES, None), (7, None),
                                               (40, None), (kernels._BLOCK_VALUES, -1.0)])
@settings(max_examples=120, deadline=None)
@given(kernel_inputs, st.floats(1.0, 8.0), st.sampled_from([0.0, 0.5, 2.0]),
       st.sampled_from([0.0, 1e-3, 0.05]), st.booleans())
def test_hampel_equals_reference_exactly(block, refine, inputs, n_sigmas, floor_abs,
                                         floor_rel, upper_only):
    # blocks of a few windows: the block boundaries fall everywhere; refine=-1: the
    # median bounds are always narrowed by thresholds (on real data only noisy series are)
    kind, raw, k, f_lo, f_hi = inputs
    x = _values(kind, raw)
    lo = int(f_lo * len(x))
    hi = lo + int(f_hi * (len(x) - lo))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "_BLOCK_VALUES", block)
        if refine is not None:
            mp.setattr(kernels, "_REFINE_ABOVE", refine)
        idx, med, scale = hampel(x, k, lo, hi, n_sigmas, floor_abs, floor_rel, upper_only)
    want = ref_hampel(x.tolist(), k, lo, hi, n_sigmas, floor_abs, floor_rel, upper_only)
    assert idx.dtype == np.int64 and med.dtype == scale.dtype == np.float64
    assert idx.tolist() == [w[0] for w in want]
    assert med.tolist() == [w[1] for w in want]  # bit for bit
    assert scale.tolist() == [w[2] for w in want]


@pytest.mark.parametrize("block", [kernels._BLOCK_VALUES, 7])
@settings(max_examples=120, deadline=None)
@given(kernel_inputs)
def test_rolling_median_equals_reference_exactly(block, inputs):
    kind, raw, k, f_lo, f_hi = inputs
    x = _values(kind, raw)
    lo = int(f_lo * len(x))
    hi = lo + int(f_hi * (len(x) - lo))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "_BLOCK_VALUES", block)
        got = rolling_median(x, k, lo, hi)
    assert got.dtype == np.float64
    assert got.tolist() == [ref_median(x[max(0, i - k):i + k + 1].tolist())
                            for i in range(lo, hi)]


def test_kernels_on_empty_and_tiny_inputs():
    empty = np.empty(0)
    for lo, hi in ((0, 0), (0, 5), (3, 1)):
        idx, med, scale = hampel(empty, 3, lo, hi, 3.0, 0.0, 0.0, False)
        assert len(idx) == len(med) == len(scale) == 0 and idx.dtype == np.int64
        assert rolling_median(empty, 3, lo, hi).shape == (0,)
    one = np.array([5.0])
    assert rolling_median(one, 4, 0, 1).tolist() == [5.0]
    assert len(hampel(one, 4, 0, 1, 3.0, 0.0, 0.0, False)[0]) == 0
    flat = np.full(50, 7.0)  # MAD 0 everywhere: only a floor can keep points in
    flat[20] = 7.5
    idx, med, scale = hampel(flat, 5, 0, 50, 3.0, 0.0, 0.0, False)
    assert idx.tolist() == [20] and med.tolist() == [7.0] and scale.tolist() == [0.0]
    assert len(hampel(flat, 5, 0, 50, 3.0, 0.2, 0.0, False)[0]) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.5, np.nan]), st.booleans()), max_size=60),
       st.integers(1, 4), st.lists(st.integers(0, 60), max_size=6))
def test_runs_with_nan_keys(rows, min_rows, cuts):
    # a NaN key equals nothing, itself included: every NaN row is a run of its own
    key = np.array([r[0] for r in rows], dtype=float)
    active = np.array([r[1] for r in rows], dtype=bool)
    ts = np.arange(len(rows), dtype=np.int64) * 10
    stream, got, offset = RunStream(min_rows), [], 0
    cut = _cuts(cuts, len(rows))
    pieces = list(zip(np.split(key, cut), np.split(active, cut), np.split(ts, cut),
                      strict=True))
    for j, (k, a, t) in enumerate(pieces):
        runs = stream.push(offset, t, k, a, j == len(pieces) - 1)
        offset += len(k)
        got.extend(zip(runs.start.tolist(), runs.rows.tolist(), strict=True))
    assert got == brute_runs(key, active, min_rows)
