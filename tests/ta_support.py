"""Shared helpers for the tsanalysis.ta tests: data generators, the table of
TA-Lib-backed indicators and the comparison used against the oracle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import tsanalysis.ta as ta

# TA-Lib is the oracle: a test-only dependency.
talib = pytest.importorskip("talib")
pytest.importorskip("talib.abstract")


def random_walk(n: int, seed: int, start: float = 100.0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """OHLCV-like random walk: close, high >= close >= low, positive volume."""
    rng = np.random.default_rng(seed)
    close = start + np.cumsum(rng.normal(scale=scale, size=n))
    close = np.abs(close) + start * 0.1  # keep prices positive
    spread = rng.random(n) * scale
    high = close + spread * rng.random(n)
    low = close - spread * rng.random(n)
    volume = rng.random(n) * 1000.0 + 1.0
    return {"real": close, "close": close, "high": high, "low": low, "volume": volume}


def with_flats(data: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Same data with runs of repeated bars and some zero volumes (ties and flat windows)."""
    rng = np.random.default_rng(seed + 1000)
    out = {k: v.copy() for k, v in data.items()}
    n = out["close"].shape[0]
    for _ in range(max(1, n // 40)):
        s = int(rng.integers(0, max(1, n - 1)))
        e = min(n, s + int(rng.integers(2, 30)))
        for k in ("close", "high", "low"):
            out[k][s:e] = out[k][s]
        out["volume"][s : s + 3] = 0.0
    out["real"] = out["close"]
    return out


def constant(n: int, value: float = 5.0) -> dict[str, np.ndarray]:
    c = np.full(n, value)
    return {"real": c, "close": c, "high": c.copy(), "low": c.copy(), "volume": np.full(n, 10.0)}


@dataclass
class Spec:
    """One indicator: our function, the TA-Lib function, its inputs and parameter sets."""

    name: str
    inputs: tuple[str, ...]
    params: list[dict[str, Any]] = field(default_factory=lambda: [{}])

    @property
    def ours(self) -> Callable[..., Any]:
        return getattr(ta, self.name)

    @property
    def theirs(self) -> Callable[..., Any]:
        return getattr(talib, self.name.upper())


HLC = ("high", "low", "close")

SPECS: list[Spec] = [
    Spec("sma", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 7}]),
    Spec("ema", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 9}]),
    Spec("wma", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 9}]),
    Spec("dema", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("tema", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("kama", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 10}]),
    Spec(
        "bbands",
        ("real",),
        [{}, {"timeperiod": 2}, {"timeperiod": 5, "nbdevup": 1.5, "nbdevdn": 2.5}, {"nbdevup": -1.0, "nbdevdn": 0.0}],
    ),
    Spec("rsi", ("real",), [{}, {"timeperiod": 2}, {"timeperiod": 30}]),
    Spec(
        "macd",
        ("real",),
        [{}, {"fastperiod": 26, "slowperiod": 12}, {"fastperiod": 2, "slowperiod": 3, "signalperiod": 1}, {"fastperiod": 5, "slowperiod": 5, "signalperiod": 2}],
    ),
    Spec("atr", HLC, [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 30}]),
    Spec("natr", HLC, [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 30}]),
    Spec("trange", HLC),
    Spec("adx", HLC, [{}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("dx", HLC, [{}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("plus_di", HLC, [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("minus_di", HLC, [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("plus_dm", ("high", "low"), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("minus_dm", ("high", "low"), [{}, {"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec(
        "stoch",
        HLC,
        [{}, {"fastk_period": 14, "slowk_period": 3, "slowd_period": 3}, {"fastk_period": 1, "slowk_period": 1, "slowd_period": 1}, {"fastk_period": 3, "slowk_period": 5, "slowd_period": 2}],
    ),
    Spec("willr", HLC, [{}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("cci", HLC, [{}, {"timeperiod": 2}, {"timeperiod": 20}]),
    Spec("mfi", (*HLC, "volume"), [{}, {"timeperiod": 2}, {"timeperiod": 5}]),
    Spec("obv", ("real", "volume")),
    Spec("ad", (*HLC, "volume")),
    Spec("roc", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 3}]),
    Spec("mom", ("real",), [{}, {"timeperiod": 1}, {"timeperiod": 3}]),
    Spec(
        "ultosc",
        HLC,
        [{}, {"timeperiod1": 28, "timeperiod2": 14, "timeperiod3": 7}, {"timeperiod1": 1, "timeperiod2": 2, "timeperiod3": 3}, {"timeperiod1": 5, "timeperiod2": 5, "timeperiod3": 5}],
    ),
]

SPEC_CASES = [(s, p) for s in SPECS for p in s.params]


def case_id(case: tuple[Spec, dict[str, Any]]) -> str:
    spec, params = case
    return spec.name + ("-" + "-".join(f"{k}={v}" for k, v in params.items()) if params else "")


def as_tuple(result: Any) -> tuple[np.ndarray, ...]:
    return tuple(result) if isinstance(result, tuple) else (result,)


def run_both(spec: Spec, params: dict[str, Any], data: dict[str, np.ndarray]) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    args = [data[k] for k in spec.inputs]
    ours = as_tuple(spec.ours(*args, **params))
    theirs = as_tuple(spec.theirs(*args, **params))
    return ours, theirs


def assert_matches(ours: tuple[np.ndarray, ...], theirs: tuple[np.ndarray, ...], label: str = "") -> None:
    """Identical NaN positions and values within 1e-6 on an order-100 scale / 1e-9 relative."""
    assert len(ours) == len(theirs), label
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64, label
        assert a.shape == b.shape, f"{label}[{i}] shape {a.shape} != {b.shape}"
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{label}[{i}] NaN positions differ")
        finite = ~np.isnan(b)
        if finite.any():
            scale = float(np.max(np.abs(b[finite])))
            atol = 1e-8 * max(scale, 1e-300)  # 1e-6 for outputs of order 100
            np.testing.assert_allclose(a[finite], b[finite], rtol=1e-9, atol=atol, err_msg=f"{label}[{i}]")


def near_flat(n: int, seed: int) -> dict[str, np.ndarray]:
    """Adversarial data: tiny or huge price levels, moves at or near rounding level,
    exactly flat stretches, zero and tiny volumes.  Probes TA-Lib's zero tests."""
    rng = np.random.default_rng(seed)
    base = float(rng.choice([1e-6, 1.0, 50.1, 3e4]))
    kind = seed % 4
    if kind == 0:
        c = base * (1 + rng.integers(-2, 3, size=n) * 1e-15)
    elif kind == 1:
        c = base * (1 + rng.normal(size=n) * 1e-13)
    elif kind == 2:
        c = base * (1 + np.cumsum(rng.normal(size=n)) * 1e-3)
    else:
        c = base + np.where(rng.random(n) < 0.3, rng.normal(size=n) * base * 1e-12, 0.0)
    h = c * (1 + np.abs(rng.normal(size=n)) * float(rng.choice([0, 1e-14, 1e-12, 1e-3])))
    lo = c * (1 - np.abs(rng.normal(size=n)) * float(rng.choice([0, 1e-14, 1e-12, 1e-3])))
    v = float(rng.choice([0.0, 1e-9, 1.0, 1e6])) * rng.random(n)
    return {"real": c, "close": c, "high": np.maximum(h, c), "low": np.minimum(lo, c), "volume": v}
