"""The hooks a tsanalysis plugin can implement.

A plugin is a module (or object) with functions decorated by :data:`tsanalysis.hookimpl`,
named like the hooks below. Third-party plugins are found through the ``tsanalysis``
entry-point group of their distribution::

    # pyproject.toml of your plugin
    [project.entry-points.tsanalysis]
    my_plugin = "my_plugin"

The built-in indicators, quality checks and exporters are registered through these same
hooks (``tsanalysis/default_plugins/``), so anything a built-in does a plugin can do.

Every registration hook receives a ``register`` callback. Call it once per thing you
provide. Names are first come, first served (built-ins first): registering a name that
another plugin already registered, or something of the wrong type, makes tsanalysis skip
that item with a :class:`tsanalysis.plugins.PluginWarning` naming both plugins, and
``tsanalysis plugins`` lists it with the reason; a namespace (``"myplugin.name"``) avoids
clashes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "tsanalysis"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_indicators(register: Callable[[Any], None]) -> None:
    """Register technical indicators.

    :param register: call ``register(indicator)`` once for each indicator this plugin
        provides, where ``indicator`` is a :class:`tsanalysis.indicators.Indicator`: a
        name (namespace it, ``"myplugin.name"``, unless you mean to be the only one), typed
        parameters (:class:`tsanalysis.params.Param`, also importable from
        ``tsanalysis.indicators``: name, type, default, bounds, choices, doc),
        the input series it reads (``open``, ``high``, ``low``, ``close``, ``volume``;
        on ticks all four prices are the tick's price), its named outputs, its warm-up
        length (``lookback``: leading NaNs, a number or a function of the parameters) and
        a vectorised ``compute(inputs, **params)`` returning one float array per output
        (a dict by output name, a tuple in ``outputs`` order, or one array). Indicators
        whose value depends on more than the last ``lookback`` points declare how
        ``update`` resumes them (``unstable``, ``update="cumulative"`` or ``"full"``).
        Each output is stored under an ``indicator_id`` derived from the name, the
        parameters and the output (``myplugin.spread_1``), so it is stable across runs.

    The return value is ignored. Raising an exception makes tsanalysis skip the plugin
    with a warning.

    Example::

        from tsanalysis import hookimpl
        from tsanalysis.indicators import Indicator, Param

        def _spread(inputs, timeperiod):  # numpy arrays in, numpy arrays out
            return {"spread": inputs["high"] - inputs["low"]}

        @hookimpl
        def register_indicators(register):
            register(Indicator(
                name="myplugin.spread", inputs=("high", "low"), outputs=("spread",),
                params=(Param("timeperiod", int, 1, minimum=1),),
                lookback=lambda timeperiod: 0, compute=_spread,
                doc="High minus low of each bar."))
    """


@hookspec
def register_quality_checks(register: Callable[[Any], None]) -> None:
    """Register data-quality checks.

    :param register: call ``register(check)`` once for each check this plugin provides.
        ``check`` is a :class:`tsanalysis.quality.QualityCheck`: a ``name`` (what
        ``tsanalysis quality --check`` takes), a ``run`` function, documented ``params``
        (name -> default, or a :class:`tsanalysis.params.Param`, as ``tsanalysis.quality``
        exports it, with a doc and bounds),
        the ``tables`` it reads (the check is skipped for a symbol with no rows in any of
        them), a ``doc`` line, and its ``weight`` in the 0-100 score (default 5).

    The report calls ``run(ctx, **params)`` once per symbol of the session. ``ctx`` is a
    :class:`tsanalysis.quality.CheckContext`: ``ctx.symbol``, ``ctx.session``,
    ``ctx.store``, ``ctx.cadence(table)``, ``ctx.rows(table)``, the whole data as
    DataFrames (``ctx.ticks()``, ``ctx.quotes()``, ``ctx.bars(interval)``) or, for sessions
    larger than memory, ``ctx.chunks(table, columns)`` (numpy arrays in time order).
    ``run`` returns a :class:`tsanalysis.quality.CheckResult` (findings, JSON-ready
    metrics, optionally its own 0-1 score and recommendations) or simply a list of
    :class:`tsanalysis.quality.Finding` (check, symbol, start, end, count, severity
    ``info``/``warning``/``critical``, detail). Without a score of its own the check is
    scored from its findings (see :mod:`tsanalysis.quality.score`). A check that raises is
    reported as failed and left out of the score; the other checks still run.

    The return value is ignored.

    Example::

        from tsanalysis import hookimpl
        from tsanalysis.quality import CheckResult, Finding, Param, QualityCheck

        def _round_prices(ctx, decimals):
            ticks = ctx.ticks(["ts", "price"])
            odd = ticks[ticks["price"].round(decimals) != ticks["price"]]
            findings = [Finding("myplugin.round_prices", ctx.symbol, start=ts, end=ts,
                                count=1, severity="info", detail="price off the tick grid")
                        for ts in odd["ts"]]
            return CheckResult(findings, metrics={"off_grid_prices": len(odd)})

        @hookimpl
        def register_quality_checks(register):
            register(QualityCheck(
                name="myplugin.round_prices", run=_round_prices, tables=("tick_prices",),
                params={"decimals": Param(2, "decimals of the price grid", minimum=0)},
                doc="Prices off the tick grid."))
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Register export formats.

    :param register: call ``register(exporter)`` once for each format this plugin
        provides. ``exporter`` is a :class:`tsanalysis.export.Exporter`: a format name
        (what ``tsanalysis export --format`` and ``ws.export.run(sid, format, ...)`` take), a
        file suffix, a one-line ``doc``, optional ``options`` (name -> default, or a
        :class:`tsanalysis.params.Param` with a doc and choices, shown by the export
        panel's form), and either

        - ``writer``, for a format that holds one table: called as
          ``writer(fileobj, schema, options)``, it returns an object with
          ``write_batch(batch)`` (called with each Arrow record batch, in order, never
          empty) and ``close()`` (called once after the last batch, to finish the file),
          and optionally ``abort()`` (called instead of ``close()`` when the export fails);
          ``fileobj`` is a binary stream with ``write``, ``tell`` and ``flush``;
        - or ``bundle``, for a format that holds several tables (as ``zip`` does): called
          as ``bundle(fileobj, parts, context)`` with one
          :class:`tsanalysis.export.TablePart` per table and symbol; it writes them (with
          ``context.write_part(context.exporter("csv"), member_file, part)`` for members in
          another format) and returns a :class:`tsanalysis.export.ExportedFile` per member.

        The export machinery resolves the scope (tables, symbols, time range, columns),
        streams the rows from the store in bounded batches, writes to a temporary file
        beside the destination and renames it only after your writer has finished, so a
        writer never handles paths, partial files or clean-up. A name already taken is
        skipped with a warning: prefix yours with a namespace (``"myplugin.tsv"``).

    The return value is ignored.

    Example::

        import pyarrow.csv as pacsv
        from tsanalysis import hookimpl
        from tsanalysis.export import Exporter

        class TsvWriter:
            def __init__(self, fileobj, schema, options):
                opts = pacsv.WriteOptions(delimiter="\\t")
                self._w = pacsv.CSVWriter(fileobj, schema, write_options=opts)

            def write_batch(self, batch):
                self._w.write_batch(batch)

            def close(self):
                self._w.close()

        @hookimpl
        def register_exporters(register):
            register(Exporter(name="myplugin.tsv", suffix=".tsv", writer=TsvWriter,
                              media_type="text/tab-separated-values",
                              doc="Tab-separated values."))

    Then ``tsanalysis export SESSION --format myplugin.tsv --out ticks.tsv``, or
    ``ws.export.run(sid, "myplugin.tsv", "ticks.tsv")`` in a notebook.
    """


@hookspec
def register_strategies(register: Callable[[Any], None]) -> None:
    """Register backtest strategies.

    :param register: call ``register(strategy)`` once for each strategy this plugin
        provides. ``strategy`` is a :class:`tsanalysis.backtest.Strategy`: a ``name`` (what
        ``tsanalysis backtest run --strategy`` takes; namespace it, ``"myplugin.name"``),
        typed ``params`` (:class:`tsanalysis.params.Param`: name, type, default, bounds,
        choices, doc), the ``indicators`` it reads (``indicators(**params)`` returning
        ``{name: IndicatorRef(indicator, params, output)}``, registered indicators by name;
        each is read from the store, and computed and stored first when it is not there),
        and a vectorised ``signal(prices, ind, **params)`` returning one target position
        per point: -1 short .. 1 long, 0 or NaN flat. ``prices`` holds ``close`` (the trade
        price on ticks), ``open``, ``high``, ``low``, ``volume`` and ``ts``; ``ind`` the
        indicators at the same points. A target decided at a point fills at the next one,
        so a signal may use everything up to and including its own point. ``long_only``
        says the targets stay in 0..1.

    The return value is ignored. Raising an exception makes tsanalysis skip the plugin
    with a warning.

    Example::

        import numpy as np
        from tsanalysis import hookimpl
        from tsanalysis.backtest import IndicatorRef, Strategy
        from tsanalysis.params import Param

        def _above_ema(prices, ind, timeperiod):
            return np.where(prices["close"] > ind["ema"], 1.0, 0.0)

        @hookimpl
        def register_strategies(register):
            register(Strategy(
                name="myplugin.above_ema", signal=_above_ema, long_only=True,
                params=(Param("timeperiod", int, 50, minimum=2),),
                indicators=lambda timeperiod: {"ema": IndicatorRef("ema", {"timeperiod":
                                                                            timeperiod})},
                doc="Long while the price is above its EMA."))

    Then ``tsanalysis backtest run SESSION --symbol BTC/USDT --strategy myplugin.above_ema
    --param timeperiod=20``, or ``ws.backtests.run(sid, "BTC/USDT", "myplugin.above_ema",
    timeperiod=20)`` in a notebook.
    """
