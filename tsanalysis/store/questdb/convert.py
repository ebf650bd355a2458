"""Conversions between QuestDB's wire types, Arrow and pandas (UTC microseconds kept)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

#: pandas dtypes for the ILP client: nullable integers (a float column would be refused by
#: a LONG column) and pandas' string dtype.
_ILP_TYPES = {pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(na_value=np.nan)}

_OID_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
    701: pa.float64(), 25: pa.string(), 1043: pa.string(), 18: pa.string(),
    1114: pa.timestamp("us", tz="UTC"), 1184: pa.timestamp("us", tz="UTC"),
    1082: pa.date32(),
}


def _schema_from_description(desc: list[Any]) -> pa.Schema:
    fields = []
    for d in desc:
        ty = _OID_TYPES.get(d.type_code)
        fields.append(pa.field(d.name, ty if ty is not None else pa.null()))
    return pa.schema(fields)


def rows_to_arrow(rows: list[tuple[Any, ...]], target: pa.Schema) -> pa.Table:
    """Rows from psycopg into Arrow with the given types.

    QuestDB sends timestamps without zone; they are UTC. A ``null`` field type means
    "infer from the values".
    """
    arrays = []
    fields = []
    for i, field in enumerate(target):
        values = [r[i] for r in rows]
        if pa.types.is_timestamp(field.type):
            arr = pa.array(values, pa.timestamp("us")).cast(field.type)
        elif pa.types.is_null(field.type):
            arr = pa.array(values)
            field = pa.field(field.name, arr.type)
        else:
            arr = pa.array(values, field.type)
        arrays.append(arr)
        fields.append(pa.field(field.name, field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def conform(got: pa.Table, target: pa.Schema) -> pa.Table:
    """Cast a result to the contract's Arrow types (ts stays UTC microseconds)."""
    arrays = []
    for field in target:
        arr = got.column(field.name)
        if arr.type != field.type:
            if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(arr.type) and \
                    arr.type.tz is None:
                arr = arr.cast(pa.timestamp("us")).cast(field.type)
            else:
                arr = arr.cast(field.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=[f.name for f in target])


def _param(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        ts = v.tz_localize("UTC") if v.tzinfo is None else v
        return ts.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v
