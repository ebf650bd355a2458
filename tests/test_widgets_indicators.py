"""IndicatorPanel: indicators and forms from the registry, bounds enforced, compute and
store through ``ws.indicators``, the stored ids listed, the picture drawn."""

from __future__ import annotations

import numpy as np
import pytest

from tsanalysis import hookimpl, plugins
from tsanalysis.errors import InvalidInput
from tsanalysis.indicators import Indicator, Param, registry
from tsanalysis.widgets import Dashboard, IndicatorPanel
from tsanalysis.widgets._base import plain_text

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture
def demo(ws):
    """A small demo session (two symbols, six minutes)."""
    return ws.demo(hours=0.1, seed=3, symbols=SYMBOLS)


def stored_rows(ws, sid):
    """indicator_id -> rows in the indicators table of ``sid``, counted with plain SQL."""
    df = ws.sql("SELECT indicator_id, count(*) AS n FROM indicators WHERE session_id = ? "
                "GROUP BY indicator_id", [sid])
    return {r.indicator_id: int(r.n) for r in df.itertuples()}


def values_of(ws, sid, symbol, iid):
    return ws.indicators.history(sid, symbol, iid)["value"].to_numpy(dtype="float64")


class Double:
    """A third party's indicator with one bounded parameter."""

    @hookimpl
    def register_indicators(self, register):
        register(Indicator(name="mine.scaled",
                           compute=lambda inputs, factor: inputs["close"] * factor,
                           params=(Param("factor", float, 2.0, minimum=0.5, maximum=4.0),),
                           doc="The close times a factor."))


@pytest.fixture
def double_plugin():
    name = plugins.register(Double(), name="double")
    yield name
    plugins.unregister(name)


def test_offers_every_registered_indicator_with_a_form_of_its_parameters(duckdb_ws,
                                                                        double_plugin):
    sid = duckdb_ws.demo(hours=0.05, seed=3, symbols=["BTC/USDT"]).session_id
    p = IndicatorPanel(duckdb_ws, session_id=sid)
    assert p.indicators == registry().names() and "mine.scaled" in p.indicators
    assert p.indicator.name == "rsi" and p.form.raw() == {"timeperiod": 14} and p.form.valid
    assert p.form.fields["timeperiod"].bounds == "in [2, 100000]"
    assert p.output_ids() == {"real": "rsi_14"} and "rsi_14" in plain_text(p._ids.value)
    p.select_indicator("MACD")  # case-insensitive, like the registry
    assert p.form.raw() == {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}
    assert set(p.output_ids()) == {"macd", "macdsignal", "macdhist"}
    p.select_indicator("mine.scaled")
    assert p.form.fields["factor"].bounds == "in [0.5, 4]"
    assert "(plugin)" in dict((v, k) for k, v in p._indicator.options)["mine.scaled"]
    assert not p._compute_button.disabled and p.stored.empty


def test_every_registered_indicator_gets_a_valid_default_form(duckdb_ws):
    # plugins included (all of TA-Lib when tsanalysis-talib is installed)
    p = IndicatorPanel(duckdb_ws)
    for entry in registry():
        ind = entry.indicator
        p.select_indicator(ind.name)
        assert p.form.valid and p.form.values() == ind.check_params(), ind.name
        assert p.output_ids() == ind.output_ids(ind.check_params()), ind.name


def test_compute_stores_what_ws_indicators_computes(ws, demo):
    sid = demo.session_id
    p = IndicatorPanel(ws, session_id=sid)
    p.select_indicator("macd")
    p.form.set(fastperiod=8)
    p.set_input(None, SYMBOLS)
    p._compute_button.click()
    assert p.last_error is None, p.log_text
    ids = ["macd_8_26_9_macd", "macd_8_26_9_macdsignal", "macd_8_26_9_macdhist"]
    assert [list(r.outputs.values()) for r in p.results] == [ids, ids]
    ticks = {s: demo.tables["tick_prices"][s].rows for s in SYMBOLS}
    # rows of both symbols, counted as they are done (the second's total comes late)
    assert p.progress.last == (sum(ticks.values()), None)
    assert "Computed macd on 2 symbol(s)" in p.status
    # the store: one row per tick, per output, per symbol
    assert stored_rows(ws, sid) == {i: sum(ticks.values()) for i in ids}
    for sym in SYMBOLS:
        direct = ws.indicators.compute(sid, sym, "macd", fastperiod=8, persist=False)
        for out, iid in direct.outputs.items():
            np.testing.assert_allclose(values_of(ws, sid, sym, iid), direct.values[out],
                                       rtol=0, atol=1e-12, equal_nan=True)
    # the panel lists the ids with their row counts, and drew them (an oscillator: below)
    assert sorted(p.stored_ids) == sorted(ids)
    assert set(zip(p.stored["symbol"], p.stored["rows"], strict=True)) == \
        {(s, ticks[s]) for s in SYMBOLS}
    table = plain_text(p._stored_table.value)
    assert all(i in table for i in ids) and f"{ticks['BTC/USDT']:,}" in table
    assert p.figure is not None and len(p.figure.axes) == 2 and p.png[:4] == b"\x89PNG"
    # computing again replaces, never duplicates
    p._compute_button.click()
    assert p.last_error is None and stored_rows(ws, sid) == {i: sum(ticks.values()) for i in ids}


def test_bars_input_and_history(ws, demo):
    sid = demo.session_id
    p = IndicatorPanel(ws, session_id=sid)
    p.select_indicator("sma")
    p.form.set(timeperiod=3)
    p.set_input("1m", ["BTC/USDT"])
    assert p.output_ids() == {"real": "sma_3.1m"}
    p._compute_button.click()
    assert p.last_error is None, p.log_text
    res = p.results[0]
    assert res.interval == "1m" and res.outputs == {"real": "sma_3.1m"}
    bars = ws.ohlcv(sid, "BTC/USDT", "1m")
    assert stored_rows(ws, sid) == {"sma_3.1m": len(bars)}
    # a moving average lives on the price: drawn over it, in one pane
    assert len(p.figure.axes) == 1
    expected = bars["close"].rolling(3).mean().to_numpy()
    np.testing.assert_allclose(values_of(ws, sid, "BTC/USDT", "sma_3.1m"), expected,
                               rtol=1e-12, equal_nan=True)
    # what was written is read back and listed
    assert p.history_of == ("BTC/USDT", "sma_3.1m") and len(p.history) == len(bars)
    assert f"sma_3.1m of BTC/USDT: {len(bars):,} rows" in p.history_text
    p.form.set(timeperiod=5)
    p._compute_button.click()
    assert p.history_of == ("BTC/USDT", "sma_5.1m") and len(p.stored_ids) == 2
    # picking a stored id in the list reads it back and draws it
    p._stored_select.value = ("BTC/USDT", "sma_3.1m")
    assert p.last_error is None and p.history_of == ("BTC/USDT", "sma_3.1m")
    np.testing.assert_allclose(p.history["value"], expected, rtol=1e-12, equal_nan=True)
    p._update_button.click()  # nothing new arrived: every series is current
    assert p.last_error is None and "Updated 2 series: 0 rows written" in p.status


def test_a_parameter_out_of_bounds_shows_an_error_and_writes_nothing(ws, demo):
    sid = demo.session_id
    p = IndicatorPanel(ws, session_id=sid)
    p.form.set(timeperiod=1)
    message = "rsi: parameter timeperiod must be an integer in [2, 100000], got 1"
    assert p.form.errors == {"timeperiod": message}
    assert message in plain_text(p.form._messages["timeperiod"].value)
    assert p._compute_button.disabled and "fix the parameters" in plain_text(p._why.value)
    p._compute_button.click()  # .click() ignores `disabled`: the action checks again
    assert isinstance(p.last_error, InvalidInput) and message in p.status
    assert p.results == [] and p.progress.last is None
    assert stored_rows(ws, sid) == {} and p.stored.empty


def test_no_symbol_or_no_session_is_refused(duckdb_ws):
    sid = duckdb_ws.demo(hours=0.05, seed=3, symbols=["BTC/USDT"]).session_id
    p = IndicatorPanel(duckdb_ws)
    assert p._compute_button.disabled and "select a session" in plain_text(p._why.value)
    p._compute_button.click()
    assert isinstance(p.last_error, InvalidInput) and "no session selected" in p.status
    p.session_id = sid
    assert p._symbols.value == ("BTC/USDT",)
    p.set_input(None, [])
    assert p._compute_button.disabled
    p._compute_button.click()
    assert "no symbol selected" in p.status and stored_rows(duckdb_ws, sid) == {}
    with pytest.raises(InvalidInput, match="not in the session"):
        p.set_input(None, ["DOGE/USDT"])


def test_bar_indicators_on_ticks_are_allowed_with_a_note(duckdb_ws):
    sid = duckdb_ws.demo(hours=0.05, seed=3, symbols=["BTC/USDT"]).session_id
    p = IndicatorPanel(duckdb_ws, session_id=sid)
    p.select_indicator("willr")
    assert "on ticks high = low = price" in plain_text(p._why.value)
    assert not p._compute_button.disabled
    p.set_input("1m")
    assert plain_text(p._why.value) == ""


def test_the_dashboard_has_the_indicators_tab(duckdb_ws):
    sid = duckdb_ws.demo(hours=0.05, seed=3, symbols=["BTC/USDT"]).session_id
    dash = Dashboard(duckdb_ws, session_id=sid)
    assert "Indicators" in dash._tabs.titles
    panel = dash.panels["indicators"]
    assert isinstance(panel, IndicatorPanel) and panel.session_id == sid
    panel._compute_button.click()  # rsi_14 on the ticks, the defaults
    assert panel.last_error is None and panel.stored_ids == ["rsi_14"]
    assert stored_rows(duckdb_ws, sid) == {"rsi_14": dash.panels["indicators"].results[0].rows}
