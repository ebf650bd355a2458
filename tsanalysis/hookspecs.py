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
provide; registering a name that another plugin already registered is an error naming
both plugins, unless you use a namespace (``"myplugin.name"``).
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
        parameters (:class:`tsanalysis.indicators.Param`: name, type, default, bounds),
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
        ``check`` is a :class:`tsanalysis.quality.QualityCheck`: a name, documented
        parameters with defaults, the tables it reads, and a function that receives the
        session's data for one symbol and returns findings (check, symbol, start, end,
        count, severity, detail) and metrics. The session's quality report scores every
        registered check and lists its findings.

    The return value is ignored.

    Example::

        from tsanalysis import hookimpl
        from tsanalysis.quality import QualityCheck, Finding

        def _round_prices(ctx, decimals):
            ticks = ctx.ticks()
            odd = ticks[ticks["price"].round(decimals) != ticks["price"]]
            return [Finding("myplugin.round_prices", ctx.symbol, start=ts, end=ts, count=1,
                            severity="info", detail="price off the tick grid")
                    for ts in odd["ts"]]

        @hookimpl
        def register_quality_checks(register):
            register(QualityCheck(name="myplugin.round_prices", run=_round_prices,
                                  params={"decimals": 2}, doc="Prices off the tick grid."))
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Register export formats.

    :param register: call ``register(exporter)`` once for each format this plugin
        provides. ``exporter`` is a :class:`tsanalysis.export.Exporter`: a format name
        (what ``tsanalysis export --format`` takes), a file suffix, and a writer that
        receives Arrow record batches one at a time and writes them to an open binary
        file. The export machinery streams the rows, writes to a temporary file beside the
        destination and renames it only when the writer has finished, so a writer never
        needs to handle partial files.

    The return value is ignored.

    Example::

        from tsanalysis import hookimpl
        from tsanalysis.export import Exporter

        class TsvWriter:
            def __init__(self, fileobj, schema, options):
                self.f = fileobj
                self.f.write(("\\t".join(schema.names) + "\\n").encode())

            def write_batch(self, batch):
                for row in zip(*(c.to_pylist() for c in batch.columns)):
                    self.f.write(("\\t".join(map(str, row)) + "\\n").encode())

            def close(self):
                pass

        @hookimpl
        def register_exporters(register):
            register(Exporter(name="tsv", suffix=".tsv", writer=TsvWriter,
                              doc="Tab-separated values."))
    """
