"""A deterministic generator of realistic recording sessions, with known defects.

Same seed, same data, on every machine: 1 Hz trades per symbol (a geometric random walk at
a realistic volatility, prices on the instrument's tick grid, lognormal sizes, a few
trades sharing a timestamp), top-of-book quotes around each trade, and injected defects
whose exact positions are returned (and stored in the session's metadata) so that tests and
runbooks can check that the quality checks find them:

``gap``      rows removed from ticks and quotes (a recording outage)
``spike``    one trade printed a few percent away from the market
``stale``    a run of trades repeating the same price
``crossed``  a quote with bid above ask
``locked``   a quote with bid equal to ask
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .ids import check_symbols
from .timeutil import from_micros, iso, to_micros, to_utc

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
DEFAULT_START = "2026-01-05T00:00:00Z"

# symbol prefix -> (starting price, tick size, typical trade size)
_INSTRUMENTS = {
    "BTC": (62_000.0, 0.01, 0.05),
    "ETH": (3_100.0, 0.01, 0.8),
    "SOL": (145.0, 0.001, 12.0),
}
_ANNUAL_VOL = 0.6
_SECONDS_PER_YEAR = 365 * 86400


@dataclass(frozen=True)
class Defect:
    """One injected defect: what, where (first and last affected timestamp), how big."""

    kind: str
    symbol: str
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = iso(self.start), iso(self.end)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Defect:
        return cls(d["kind"], d["symbol"], to_utc(d["start"]), to_utc(d["end"]), int(d["rows"]),
                   dict(d.get("detail", {})))


@dataclass
class DemoData:
    """Generated frames per symbol and the defects injected into them."""

    ticks: dict[str, pd.DataFrame]
    quotes: dict[str, pd.DataFrame]
    defects: list[Defect]
    seed: int
    hours: float
    start: pd.Timestamp

    def manifest(self) -> dict[str, Any]:
        """What was generated, JSON-ready (stored in the session's metadata)."""
        return {"seed": self.seed, "hours": self.hours, "start": iso(self.start),
                "defects": [d.to_dict() for d in self.defects]}


def _instrument(symbol: str) -> tuple[float, float, float]:
    base = symbol.split("/")[0].split("-")[0].upper()
    if base in _INSTRUMENTS:
        return _INSTRUMENTS[base]
    # Unknown symbols get a price level derived from their name, still deterministic.
    level = 10.0 + (sum(map(ord, symbol)) % 500)
    return level, 0.001, 5.0


def generate(symbols: Sequence[str] = DEFAULT_SYMBOLS, hours: float = 4.0, seed: int = 42,
             start: Any = DEFAULT_START, defects: bool = True) -> DemoData:
    """Generate ticks and quotes for ``symbols`` over ``hours`` at 1 Hz."""
    syms = check_symbols(list(symbols))
    if not (hours > 0):
        raise ValueError("hours must be positive")
    t0 = to_utc(start)
    n = max(int(round(hours * 3600)), 10)
    ticks: dict[str, pd.DataFrame] = {}
    quotes: dict[str, pd.DataFrame] = {}
    found: list[Defect] = []
    for k, sym in enumerate(syms):
        rng = np.random.default_rng([seed, k])
        p0, tick, size = _instrument(sym)
        sigma = _ANNUAL_VOL / np.sqrt(_SECONDS_PER_YEAR)
        logp = np.log(p0) + np.cumsum(rng.normal(0.0, sigma, n))
        price = np.round(np.exp(logp) / tick) * tick
        micros = np.arange(n, dtype="int64") * 1_000_000 + rng.integers(0, 1_000_000, n)
        # A few trades print in the same microsecond as the one before (same match).
        burst = np.flatnonzero(rng.random(n) < 0.003)
        burst = burst[burst > 0]
        micros[burst] = micros[burst - 1]
        volume = np.round(rng.lognormal(np.log(size), 0.9, n), 6)
        side = np.where(rng.random(n) < 0.5, "buy", "sell")

        half_spread = tick * (1 + np.floor(rng.exponential(2.0, n)))
        q_micros = micros + rng.integers(1, 500, n)  # quote follows the trade
        bid = np.round((price - half_spread) / tick) * tick
        ask = np.round((price + half_spread) / tick) * tick
        bid_size = np.round(rng.lognormal(np.log(size * 4), 0.7, n), 6)
        ask_size = np.round(rng.lognormal(np.log(size * 4), 0.7, n), 6)

        keep = np.ones(n, dtype=bool)
        sym_defects: list[Defect] = []
        if defects:
            sym_defects = _inject(rng, sym, n, t0, micros, q_micros, price, bid, ask, tick, keep)
        found.extend(sym_defects)
        ts = from_micros(to_micros(t0) + micros)
        qts = from_micros(to_micros(t0) + q_micros)
        ticks[sym] = pd.DataFrame({"ts": ts[keep], "price": price[keep],
                                   "volume": volume[keep], "side": side[keep]})
        quotes[sym] = pd.DataFrame({"ts": qts[keep], "bid_price": bid[keep],
                                    "bid_size": bid_size[keep], "ask_price": ask[keep],
                                    "ask_size": ask_size[keep]})
    return DemoData(ticks, quotes, found, seed, float(hours), t0)


def _inject(rng: np.random.Generator, sym: str, n: int, t0: pd.Timestamp, micros: np.ndarray,
            q_micros: np.ndarray, price: np.ndarray, bid: np.ndarray, ask: np.ndarray,
            tick: float, keep: np.ndarray) -> list[Defect]:
    """Plant defects in separate slots of the series so that none overlaps another."""
    plan = ["gap", "spike", "crossed", "stale", "spike", "locked", "gap", "crossed", "spike",
            "locked", "crossed"]
    slot = n // (len(plan) + 1)
    if slot < 12:
        return []
    base = to_micros(t0)

    def at(m: int) -> pd.Timestamp:
        return from_micros(base + int(m))

    out: list[Defect] = []
    for j, kind in enumerate(plan):
        lo = (j + 1) * slot
        if kind == "gap":
            length = int(rng.integers(max(slot // 6, 5), max(slot // 3, 6)))
            i = lo + int(rng.integers(1, max(slot - length - 1, 2)))
            keep[i:i + length] = False
            out.append(Defect("gap", sym, at(micros[i - 1]), at(micros[i + length]), length,
                              {"missing_from": iso(at(micros[i])),
                               "missing_to": iso(at(micros[i + length - 1]))}))
        elif kind == "spike":
            i = lo + int(rng.integers(1, slot - 1))
            factor = 1 + float(rng.choice([-1, 1])) * float(rng.uniform(0.03, 0.06))
            normal = price[i]
            price[i] = np.round(price[i] * factor / tick) * tick
            out.append(Defect("spike", sym, at(micros[i]), at(micros[i]), 1,
                              {"price": float(price[i]), "normal_price": float(normal)}))
        elif kind == "stale":
            length = int(min(max(slot // 3, 5), 300))
            i = lo + int(rng.integers(1, max(slot - length - 1, 2)))
            price[i:i + length] = price[i]
            out.append(Defect("stale", sym, at(micros[i]), at(micros[i + length - 1]), length,
                              {"price": float(price[i])}))
        else:  # crossed / locked quotes
            i = lo + int(rng.integers(1, slot - 1))
            mid = (bid[i] + ask[i]) / 2
            if kind == "crossed":
                bid[i], ask[i] = np.round((mid + tick) / tick) * tick, np.round((mid - tick) / tick) * tick
            else:
                bid[i] = ask[i] = np.round(mid / tick) * tick
            out.append(Defect(kind, sym, at(q_micros[i]), at(q_micros[i]), 1,
                              {"bid_price": float(bid[i]), "ask_price": float(ask[i])}))
    return out
