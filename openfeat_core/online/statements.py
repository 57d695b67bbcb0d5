"""The online side of OpenMLDB's statements: the catalog and the online storage (an
:class:`~openfeat_core.online.store.OnlineStore`).

``CREATE TABLE``, ``DROP TABLE|DEPLOYMENT``, ``SHOW``, ``DESC``, ``INSERT``, ``DEPLOY``, and the store's side of an
online ``LOAD DATA`` (:func:`check_online_load`) and of an online ``SELECT`` preview (:func:`store_tables`). The
statements arrive parsed (:mod:`openfeat_core.sql.statements`); the statement runner above this layer
(:mod:`openfeat_core.server.statements`) decides which storage a statement uses and documents the semantics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import pyarrow as pa

from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io.timestamps import parse_timestamp_strings, to_engine_dates
from openfeat_core.online.store import OnlineStore
from openfeat_core.sql.statements import (
    Constant,
    CreateTable,
    Deploy,
    Describe,
    Drop,
    IndexDefinition,
    InsertValues,
    Show,
)
from openfeat_core.types import (
    INT_RANGES,
    TIMESTAMP_RANGE_MS,
    TIMESTAMP_RANGE_TEXT,
    SQLType,
    parse_type_name,
    sql_type_of_arrow,
)

__all__ = [
    "check_online_load",
    "create_table",
    "deploy",
    "describe",
    "drop",
    "insert",
    "show",
    "store_schema",
    "store_schemas",
    "store_tables",
]


# ------------------------------------------------------------------ catalog statements
def create_table(store: OnlineStore, node: CreateTable) -> None:
    """The store table, with its indexes declared as ``name:key1|key2:ts[:ttl:ttl_type]`` (unnamed ones are called
    ``index1``, ``index2``... by position). ``NOT NULL``, ``DEFAULT`` and the table's ``OPTIONS`` are not applied:
    the store keeps no column constraints."""
    name = node.name
    fields: list[pa.Field] = []
    for column in node.args["columns"]:
        try:
            sql_type = parse_type_name(column.args["kind"])
        except ValueError as e:
            raise OpenFeatSQLError(
                f"column {column.name!r}: {e}", line=column.meta.get("type_line"), column=column.meta.get("type_col")
            ) from None
        fields.append(pa.field(column.name, sql_type.arrow_type))
    indexes = [_index_declaration(index, i) for i, index in enumerate(node.args.get("indexes") or [], 1)]
    if node.args.get("exists") and name in store.list_tables():
        return
    store.create_table(name, pa.schema(fields), indexes=indexes)


def _index_declaration(index: IndexDefinition, position: int) -> str:
    """An ``INDEX(...)`` as the store's ``name:key1|key2:ts[:ttl:ttl_type]``."""
    name = index.args.get("this") or f"index{position}"
    keys: list[str] = index.args["keys"]
    ts = index.args.get("ts") or ""
    ttl = index.args.get("ttl") or ""
    ttl_type = index.args.get("ttl_type") or ""
    for column in [name, *keys, ts]:
        if ":" in column or "|" in column:
            raise OpenFeatSQLError(f"index {name!r}: names with ':' or '|' cannot be declared ({column!r})")
    declaration = f"{name}:{'|'.join(keys)}"
    if ts or ttl or ttl_type:
        declaration += f":{ts}"
    if ttl or ttl_type:
        declaration += f":{ttl}:{ttl_type}"
    return declaration


def drop(store: OnlineStore, node: Drop) -> None:
    """``DROP TABLE`` (the online table) or ``DROP DEPLOYMENT``; ``IF EXISTS`` lets a missing one be."""
    name, kind = node.name, node.args["kind"]
    known = store.list_tables() if kind == "table" else store.list_deployments()
    if node.args.get("exists") and name not in known:
        return
    if kind == "table":
        store.drop_table(name)
    else:
        store.drop_deployment(name)


def _rows(columns: Mapping[str, list[Any]]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def show(store: OnlineStore, node: Show, db: str) -> pa.Table:
    """The rows of ``SHOW DATABASES`` (``db``: one namespace), ``SHOW TABLES`` or ``SHOW DEPLOYMENTS``."""
    what = node.name
    if what == "DATABASES":
        return _rows({"Databases": [db]})
    if what == "TABLES":
        return _rows({"Tables": store.list_tables()})
    names = store.list_deployments()
    return _rows({"DB": [db] * len(names), "Deployment": names})


def describe(store: OnlineStore, node: Describe) -> pa.Table:
    """The rows of ``DESC t``: each column's name and type."""
    schema = store.describe_table(node.name)["schema"]
    return _rows({"Field": [n for n, _ in schema], "Type": [t for _, t in schema]})


def deploy(store: OnlineStore, node: Deploy) -> None:
    """:meth:`OnlineStore.deploy`; ``DEPLOY IF NOT EXISTS`` leaves an existing deployment alone."""
    if node.args.get("exists") and node.name in store.list_deployments():
        return
    store.deploy(node.name, node)


def store_schema(store: OnlineStore, table: str) -> pa.Schema:
    """A store table's schema (engine Arrow types); a DataError listing the tables when there is none."""
    columns = store.describe_table(table)["schema"]
    return pa.schema([pa.field(n, parse_type_name(t).arrow_type) for n, t in columns])


def store_schemas(store: OnlineStore) -> dict[str, pa.Schema]:
    """The schema of every store table: the catalog of the statements."""
    return {name: store_schema(store, name) for name in store.list_tables()}


def store_tables(store: OnlineStore, needed: Collection[str]) -> dict[str, pa.Table]:
    """The stored rows of each table in ``needed`` (only those: a scan combines a table's inserted batches)."""
    return {name: store.scan(name) for name in needed}


def check_online_load(store: OnlineStore, table: str, mode: str) -> None:
    """An online ``LOAD DATA`` only appends: on a table that holds rows, a mode other than ``append`` is an error
    (on an empty table every mode appends)."""
    stored = store.describe_table(table)["rows"]
    if mode != "append" and stored:
        raise OpenFeatError(
            f"online LOAD DATA only appends, and table {table!r} holds {stored} rows: use mode='append' "
            f"(mode={mode!r} would replace or refuse them; OpenMLDB's online import is append-only)"
        )


# ------------------------------------------------------------------ INSERT
def insert(store: OnlineStore, node: InsertValues, timezone: str) -> int:
    """The ``VALUES`` rows converted to the table's types and inserted; returns the rows inserted.

    Literals are numbers, strings, ``NULL``, ``true``/``false``; timestamps as epoch-millisecond integers or
    ``'YYYY-MM-DD HH:MM:SS[.fff]'`` strings (in ``timezone`` unless they carry an offset); dates as ``'YYYY-MM-DD'``.
    Columns left out of a column list are NULL.
    """
    if node.args.get("or_ignore"):
        raise NotSupportedError("INSERT OR IGNORE is not supported (rows are never deduplicated); use INSERT")
    table = node.name
    named: list[str] | None = node.args.get("columns")
    schema = store_schema(store, table)
    columns = named if named is not None else schema.names
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise DataError(f"table {table!r} has no column(s) {', '.join(map(repr, unknown))} (columns: {schema.names})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise OpenFeatSQLError(f"column(s) {', '.join(map(repr, repeated))} named twice")
    types = {f.name: sql_type_of_arrow(f.type) for f in schema}
    rows = []
    for i, values_row in enumerate(node.args["rows"], 1):
        values: list[Constant] = values_row.expressions
        if len(values) != len(columns):
            raise DataError(f"row {i}: {len(values)} values for {len(columns)} columns ({', '.join(columns)})")
        given = dict(zip(columns, values, strict=True))
        row = []
        for f in schema:
            constant = given.get(f.name)
            row.append(None if constant is None else _insert_value(constant, types[f.name], timezone, i, f.name))
        rows.append(row)
    return store.insert(table, rows)


def _insert_value(literal: Constant, t: SQLType, timezone: str, row: int, column: str) -> Any:
    """A literal as the store takes it for a column of type ``t``; a DataError naming row and column otherwise."""
    kind, value = literal.args["kind"], literal.value
    if kind == "null":
        return None
    problem = f"expected {_EXPECTED[t]}"
    if (t, kind) in _AS_WRITTEN:
        return value
    if (t in INT_RANGES or t is SQLType.TIMESTAMP) and kind == "int":
        low, high = INT_RANGES.get(t, TIMESTAMP_RANGE_MS)
        if low <= value <= high:
            return value
        span = f"epoch milliseconds, {TIMESTAMP_RANGE_TEXT}" if t is SQLType.TIMESTAMP else f"{low}..{high}"
        problem = f"out of the range of {t.openmldb_name} ({span})"
    elif t.is_float and kind in ("int", "float"):
        try:
            return float(value)
        except OverflowError:
            problem = "too large for a floating-point number"
    elif t is SQLType.TIMESTAMP and kind == "string":
        try:
            return parse_timestamp_strings(pa.array([value]), timezone).cast(pa.int64())[0].as_py()
        except (pa.ArrowInvalid, ValueError):
            problem = (
                f"not a timestamp ('YYYY-MM-DD HH:MM:SS[.fff]' or epoch milliseconds, from {TIMESTAMP_RANGE_TEXT})"
            )
    elif t is SQLType.DATE and kind == "string":
        try:
            date: dt.date = to_engine_dates(pa.array([value]), timezone)[0].as_py()
            return date
        except (pa.ArrowInvalid, ValueError):
            problem = "not a date ('YYYY-MM-DD')"
    raise DataError(f"row {row}, column {column!r} ({t.openmldb_name}): {literal.args['text']}: {problem}")


#: Literals the store takes as they are: booleans and strings.
_AS_WRITTEN = {(SQLType.BOOL, "bool"), (SQLType.STRING, "string")}
_EXPECTED = {
    SQLType.BOOL: "true or false",
    SQLType.INT16: "an integer",
    SQLType.INT32: "an integer",
    SQLType.INT64: "an integer",
    SQLType.FLOAT: "a number",
    SQLType.DOUBLE: "a number",
    SQLType.STRING: "a quoted string",
    SQLType.DATE: "a 'YYYY-MM-DD' string",
    SQLType.TIMESTAMP: "epoch milliseconds or a 'YYYY-MM-DD HH:MM:SS' string",
}
