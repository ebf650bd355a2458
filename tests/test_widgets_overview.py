"""PriceOverview: ticks when few, bars from the database when many, gaps left visible."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.helpers import ticks
from tsanalysis.widgets import PriceOverview, _plot


def test_few_ticks_are_drawn_one_by_one(ws, sid):
    ws.sessions.create(["BTC/USDT", "ETH/USDT"], sid)
    ws.ingest(sid, "BTC/USDT", ticks(300))
    p = PriceOverview(ws, session_id=sid)
    assert p.last_error is None
    assert [(s.symbol, s.kind, s.points) for s in p.series] == [("BTC/USDT", "ticks", 300)]
    assert p.png.startswith(b"\x89PNG")
    ax = p.figure.axes[0]
    assert ax.get_title(loc="left") == "BTC/USDT · 300 ticks"
    assert len(ax.lines[0].get_xdata()) == 300
    assert "has no ticks" not in p._caption.value


def test_many_ticks_become_bars_built_in_the_database(ws, sid, monkeypatch):
    ws.sessions.create(["BTC/USDT"], sid)
    frame = ticks(600, step_us=1_000_000)  # 10 minutes of 1 Hz trades
    ws.ingest(sid, "BTC/USDT", frame)
    monkeypatch.setattr(_plot, "MAX_TICK_POINTS", 100)
    p = PriceOverview(ws, session_id=sid)
    (s,) = p.series
    assert (s.kind, s.points, s.ticks) == ("1m", 10, 600)
    minute = frame["ts"].dt.floor("1min")
    expected = frame.groupby(minute)["price"].agg(["max", "min", "last"])
    assert np.allclose(s.frame["high"], expected["max"])
    assert np.allclose(s.frame["low"], expected["min"])
    assert np.allclose(s.frame["close"], expected["last"])
    assert "as 10 1m bars" in p.figure.axes[0].get_title(loc="left")


def test_bar_interval_grows_with_the_span():
    assert _plot.bar_interval(4 * 3600) == "1m"
    assert _plot.bar_interval(7 * 86400) == "5m"
    assert _plot.bar_interval(365 * 86400) == "4h"


def test_a_gap_breaks_the_line(ws, sid):
    ws.sessions.create(["BTC/USDT"], sid)
    frame = pd.concat([ticks(100), ticks(100, start=ticks(1)["ts"][0] + pd.Timedelta("1h"))])
    ws.ingest(sid, "BTC/USDT", frame.reset_index(drop=True))
    p = PriceOverview(ws, session_id=sid)
    y = p.figure.axes[0].lines[0].get_ydata()
    assert len(y) == 201 and np.isnan(y).sum() == 1  # one break, at the hour's gap


def test_marks_shade_spans_and_pin_instants():
    t0 = pd.Timestamp("2026-01-05T00:00:00Z")
    frame = pd.DataFrame({"ts": pd.date_range(t0, periods=10, freq="1s"),
                          "price": np.arange(10.0)})
    series = [_plot.PriceSeries("BTC/USDT", "ticks", frame, 10)]
    marks = [_plot.Mark("BTC/USDT", t0 + pd.Timedelta("2s"), t0 + pd.Timedelta("4s"), "gap"),
             _plot.Mark("BTC/USDT", t0 + pd.Timedelta("6s"), t0 + pd.Timedelta("6s"), "spike"),
             _plot.Mark("ETH/USDT", t0, t0 + pd.Timedelta("1s"), "gap")]
    ax = _plot.price_figure(series, marks=marks).axes[0]
    assert len(ax.patches) == 1  # the BTC gap; the ETH mark belongs to another symbol
    assert len(ax.lines) == 2  # the price and the pinned spike


def test_no_session_or_no_ticks(ws, sid):
    p = PriceOverview(ws)
    assert p.png == b"" and "Select a session" in p._caption.value
    ws.sessions.create(["BTC/USDT"], sid)
    p.session_id = sid
    assert p.series == [] and "has no ticks yet" in p._caption.value
    ws.ingest(sid, "BTC/USDT", ticks(20))  # the panel hears of the new rows
    assert p.series[0].points == 20


def test_indicator_lines_go_over_the_price_or_below_it():
    t0 = pd.Timestamp("2026-01-05T00:00:00Z")
    ts = pd.Series(pd.date_range(t0, periods=100, freq="1s"))
    price = 100 + np.sin(np.arange(100) / 10)
    series = _plot.PriceSeries("BTC/USDT", "ticks", pd.DataFrame({"ts": ts, "price": price}),
                               100)
    sma = pd.Series(price).rolling(5).mean().to_numpy()
    rsi = np.linspace(30, 70, 100)
    assert _plot.on_price_scale(sma, series) and not _plot.on_price_scale(rsi, series)
    assert not _plot.on_price_scale(np.full(100, np.nan), series)
    fig = _plot.indicator_figure(series, [_plot.Line("sma_5", ts, sma, True),
                                          _plot.Line("rsi_14", ts, rsi, False)])
    top, bottom = fig.axes
    assert [ln.get_label() for ln in top.lines] == ["price", "sma_5"]
    assert [ln.get_label() for ln in bottom.lines] == ["rsi_14"]
    only_over = _plot.indicator_figure(series, [_plot.Line("sma_5", ts, sma, True)])
    assert len(only_over.axes) == 1


def test_a_tick_level_line_is_thinned_to_the_bars_drawn(monkeypatch):
    monkeypatch.setattr(_plot, "MAX_TICK_POINTS", 10)
    t0 = pd.Timestamp("2026-01-05T00:00:00Z")
    ts = pd.Series(pd.date_range(t0, periods=600, freq="1s"))
    bars = _plot.PriceSeries("BTC/USDT", "1m", pd.DataFrame({"ts": ts[::60]}), 600)
    line = _plot.thin_line(_plot.Line("x", ts, np.arange(600.0), False), bars)
    assert len(line.values) == 10 and list(line.values) == [59.0 + 60 * i for i in range(10)]
    ticks_drawn = _plot.PriceSeries("BTC/USDT", "ticks", pd.DataFrame({"ts": ts}), 600)
    assert len(_plot.thin_line(line, ticks_drawn).values) == 10  # unchanged
