"""The six tables of tsanalysis, declared once.

Each backend renders its own DDL from these declarations (``store/duckdb.py``,
``store/questdb/sql.py``); every other module refers to tables and columns through them, so a
column added here reaches every backend, every reader and every exporter.

Column types are logical:

``symbol``    a short repeated identifier (session id, symbol, indicator id); QuestDB SYMBOL
``string``    free text (notes, JSON)
``timestamp`` UTC instant, microsecond precision
``double``    64-bit float
``long``      64-bit integer

Ordering: several trades may share one timestamp, and whole rows may repeat (distinct
trades with the same time, price and size). Rows of the tick tables therefore carry
``seq``, a sequence number per session and symbol that follows arrival order; ``(ts, seq)``
orders them and is part of every identity key, so no deduplication can merge two trades.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

SYMBOL = "symbol"
STRING = "string"
TIMESTAMP = "timestamp"
DOUBLE = "double"
LONG = "long"

LOGICAL_TYPES = (SYMBOL, STRING, TIMESTAMP, DOUBLE, LONG)


@dataclass(frozen=True)
class Column:
    """One column: its name, logical type, and whether it may hold NULL."""

    name: str
    type: str
    nullable: bool = True
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"unknown logical type {self.type!r} for column {self.name}")


@dataclass(frozen=True)
class Table:
    """A table: its columns, identity key and designated timestamp."""

    name: str
    columns: tuple[Column, ...]
    #: Columns that identify a row; re-writing a row with the same key replaces it.
    key: tuple[str, ...]
    #: The designated timestamp (QuestDB partitions by it).
    ts: str = "ts"
    #: Sort order of a read, ties included.
    order_by: tuple[str, ...] = ()
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    @property
    def is_child(self) -> bool:
        """True for tables whose rows hang off a session (everything but the sessions)."""
        return self.name not in (SESSIONS.name, AUDIT.name)


def _ids(*extra: Column) -> tuple[Column, ...]:
    return (
        Column("session_id", SYMBOL, nullable=False, doc="the session the row belongs to"),
        Column("symbol", SYMBOL, nullable=False, doc="instrument, e.g. BTC/USDT"),
        *extra,
    )


_SEQ = Column("seq", LONG, nullable=False,
              doc="arrival order per session and symbol; orders rows sharing a timestamp")
_TS = Column("ts", TIMESTAMP, nullable=False, doc="UTC, microseconds")

SESSIONS = Table(
    name="data_collection_sessions",
    columns=(
        Column("session_id", SYMBOL, nullable=False),
        Column("status", SYMBOL, nullable=False, doc="active, completed, failed"),
        Column("symbols", STRING, doc="comma-separated symbols recorded in the session"),
        Column("data_types", STRING, doc="comma-separated: ticks, orderbook, ohlcv, ..."),
        Column("start_time", TIMESTAMP, doc="first recorded instant"),
        Column("end_time", TIMESTAMP, doc="last recorded instant, set on completion"),
        Column("created_at", TIMESTAMP, nullable=False),
        Column("updated_at", TIMESTAMP),
        Column("cadence_s", DOUBLE, doc="declared tick cadence in seconds, if known"),
        Column("notes", STRING),
        Column("metadata", STRING, doc="JSON object: anything else about the session"),
    ),
    key=("session_id",),
    ts="created_at",
    order_by=("created_at", "session_id"),
    doc="One row per recording session.",
)

TICK_PRICES = Table(
    name="tick_prices",
    columns=_ids(
        _SEQ,
        _TS,
        Column("price", DOUBLE, nullable=False),
        Column("volume", DOUBLE),
        Column("side", SYMBOL, doc="buy or sell, where known"),
        Column("trade_id", STRING, doc="exchange trade id, where known"),
    ),
    key=("session_id", "symbol", "ts", "seq"),
    order_by=("ts", "seq"),
    doc="Trades (or last prices), one row per tick.",
)

TICK_ORDERBOOK = Table(
    name="tick_orderbook",
    columns=_ids(
        _SEQ,
        _TS,
        Column("bid_price", DOUBLE),
        Column("bid_size", DOUBLE),
        Column("ask_price", DOUBLE),
        Column("ask_size", DOUBLE),
    ),
    key=("session_id", "symbol", "ts", "seq"),
    order_by=("ts", "seq"),
    doc="Top-of-book snapshots. A missing side is NULL; crossed quotes are stored as recorded.",
)

AGGREGATED_OHLCV = Table(
    name="aggregated_ohlcv",
    columns=_ids(
        Column("interval", SYMBOL, nullable=False, doc="bar length, e.g. 1s, 1m, 1h, 1d"),
        Column("ts", TIMESTAMP, nullable=False, doc="bar start (bars are left-closed)"),
        Column("open", DOUBLE, nullable=False),
        Column("high", DOUBLE, nullable=False),
        Column("low", DOUBLE, nullable=False),
        Column("close", DOUBLE, nullable=False),
        Column("volume", DOUBLE),
        Column("trades", LONG, doc="ticks summarised by the bar"),
    ),
    key=("session_id", "symbol", "interval", "ts"),
    order_by=("interval", "ts"),
    doc="OHLCV bars, recorded or built from ticks.",
)

INDICATORS = Table(
    name="indicators",
    columns=_ids(
        Column("indicator_id", SYMBOL, nullable=False, doc="e.g. rsi_14, macd_12_26_9_macdsignal"),
        _SEQ,
        _TS,
        Column("value", DOUBLE, doc="NULL during warm-up"),
        Column("confidence", DOUBLE),
    ),
    key=("session_id", "symbol", "indicator_id", "ts", "seq"),
    order_by=("indicator_id", "ts", "seq"),
    doc="Indicator values, one row per input point and output.",
)

BACKTEST_RESULTS = Table(
    name="backtest_results",
    columns=_ids(
        Column("backtest_id", SYMBOL, nullable=False),
        _SEQ,
        _TS,
        Column("kind", SYMBOL, doc="run (one row: settings and metrics), equity (the equity "
                                   "curve on the metrics grid), trade (one round trip)"),
        Column("strategy", SYMBOL),
        Column("parameters", STRING, doc="JSON object: the strategy's parameters and the "
                                         "run's settings"),
        Column("equity", DOUBLE),
        Column("position", DOUBLE, doc="share of equity in the asset (signed)"),
        Column("pnl", DOUBLE, doc="equity: gain since the start; trade: its profit"),
        Column("side", SYMBOL, doc="trade: long or short"),
        Column("size", DOUBLE, doc="trade: units opened"),
        Column("price", DOUBLE, doc="trade: mean entry price"),
        Column("exit_ts", TIMESTAMP, doc="trade: when it closed (NULL while open)"),
        Column("exit_price", DOUBLE, doc="trade: mean exit price"),
        Column("fees", DOUBLE, doc="trade: fees paid"),
        Column("metrics", STRING, doc="JSON object"),
    ),
    key=("session_id", "symbol", "backtest_id", "ts", "seq"),
    order_by=("backtest_id", "ts", "seq"),
    doc="Backtests run on a session: per run its settings and metrics, its equity curve "
        "and its trades.",
)

#: Child tables in the order a cascade delete removes them (children first).
CHILD_TABLES: tuple[Table, ...] = (
    BACKTEST_RESULTS,
    INDICATORS,
    AGGREGATED_OHLCV,
    TICK_ORDERBOOK,
    TICK_PRICES,
)

#: Every table, sessions last (the order of a cascade delete).
TABLES: tuple[Table, ...] = (*CHILD_TABLES, SESSIONS)

#: The record of deletes and purges: not a session's data (a session's delete keeps it).
AUDIT = Table(
    name="tsanalysis_audit",
    columns=(
        Column("ts", TIMESTAMP, nullable=False, doc="when the action finished"),
        Column("action_id", SYMBOL, nullable=False, doc="one id per action"),
        Column("action", SYMBOL, nullable=False,
               doc="delete, purge, restore, or expire (a grace period's end)"),
        Column("session_id", SYMBOL, doc="the session acted on (none for a purge)"),
        Column("selection", STRING, doc="JSON: tables, symbols, indicator_ids, "
                                        "backtest_ids, start, end (empty: whole session)"),
        Column("rows_per_table", STRING, doc="JSON: table -> rows"),
        Column("total_rows", LONG),
        Column("dry_run", SYMBOL, doc="yes or no"),
        Column("duration_s", DOUBLE),
        Column("backend", SYMBOL),
        Column("os_user", SYMBOL),
        Column("command", STRING, doc="the command line, or the Python call"),
        Column("grace_until", TIMESTAMP, doc="a delete with a grace period: its rows can "
                                             "be restored until then"),
    ),
    key=("ts", "action_id"),
    order_by=("ts", "action_id"),
    doc="Every delete and purge: when, what, how many rows, by whom.",
)

#: Every table a store creates: the data tables and the audit trail.
STORED_TABLES: tuple[Table, ...] = (*TABLES, AUDIT)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """Return the table declared under ``name``; raise ``KeyError`` naming the valid ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; tables: {', '.join(_BY_NAME)}") from None


def tables() -> Iterator[Table]:
    """Every table, in cascade-delete order."""
    return iter(TABLES)


#: Ingestion kinds and the table each writes to.
KIND_TABLES = {
    "ticks": TICK_PRICES,
    "orderbook": TICK_ORDERBOOK,
    "ohlcv": AGGREGATED_OHLCV,
    "indicators": INDICATORS,
}
