"""``compute()``: the Python entry point of offline feature computation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.engine.backend import backend
from openfeat_core.engine.executor import main_scan
from openfeat_core.engine.relation import ColumnTable, RelData, evaluate
from openfeat_core.errors import DataError, OpenFeatSQLError
from openfeat_core.functions.cast import cast_column
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select
from openfeat_core.sql.binder import bind_constants, bind_sql
from openfeat_core.sql.config import QueryConfig, split_config
from openfeat_core.types import SQLType, sql_type_of_arrow

#: A table given to ``compute``: Arrow data or the path of a Parquet/CSV file.
TableSource: TypeAlias = "pa.Table | str | os.PathLike[str]"


def load_table(name: str, source: TableSource) -> pa.Table:
    """Read a table given as an Arrow table or a ``.parquet`` / ``.csv`` path."""
    if isinstance(source, pa.Table):
        return source
    path = Path(os.fspath(source))
    if not path.exists():
        raise DataError(f"table {name!r}: file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq") or path.is_dir():
            import pyarrow.parquet as pq

            # Strings are read plain and dictionary-encoded once per column by the engine: unifying the
            # per-row-group dictionaries Parquet would give costs more than encoding.
            table = pq.read_table(path).combine_chunks()
            # One chunk per column lets the engine use the buffers in place (no copy of non-null numbers);
            # hand the reader's scratch memory back to the OS rather than keep it in Arrow's pool.
            pa.default_memory_pool().release_unused()
            return table
        if suffix in (".csv", ".txt"):
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
    except pa.ArrowException as e:
        raise DataError(f"table {name!r}: cannot read {str(path)!r}: {e}") from None
    raise DataError(f"table {name!r}: unsupported file type {suffix!r} (use .parquet or .csv)")


def catalog_of(tables: Mapping[str, pa.Table]) -> dict[str, list[tuple[str, SQLType]]]:
    """The SQL schema of each table."""
    catalog: dict[str, list[tuple[str, SQLType]]] = {}
    for name, table in tables.items():
        cols = []
        for f in table.schema:
            try:
                cols.append((f.name, sql_type_of_arrow(f.type)))
            except ValueError as e:
                raise DataError(f"table {name!r}, column {f.name!r}: {e}") from None
        catalog[name] = cols
    return catalog


def plan_sql(
    sql: str,
    tables: Mapping[str, pa.Table],
    *,
    indexes: Mapping[str, Sequence[str]] | None = None,
) -> Select:
    """Bind ``sql`` against the schemas of ``tables``."""
    return bind_sql(sql, catalog_of(tables), indexes=indexes)


def _config_requests(
    sql: str, plan: Select, tables: Mapping[str, pa.Table], config: QueryConfig, ctx: EvalContext
) -> pa.Table:
    """The request rows of ``CONFIG(execute_mode='request', values=...)``, typed like the main table."""
    scan = main_scan(plan)
    fields = scan.schema
    columns: list[list[Column]] = [[] for _ in fields]
    one_row = RelData((), [], 1)
    for row in config.values:
        if len(row) != len(fields):
            raise OpenFeatSQLError(
                f"CONFIG values rows need {len(fields)} values (the columns of {scan.table}), got {len(row)}"
            )
        for i, (f, value) in enumerate(zip(fields, bind_constants(sql, row), strict=True)):
            col = evaluate(value, one_row, ctx)
            columns[i].append(col if col.type is f.type else cast_column(col, f.type, ctx))
    arrays = [Column.concat(cols).to_arrow() for cols in columns]
    return pa.Table.from_arrays(arrays, names=[f.name for f in fields])


def compute(
    sql: str,
    tables: Mapping[str, TableSource],
    *,
    timezone: str = "UTC",
    indexes: Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """Compute a feature script offline, point-in-time correct.

    Args:
        sql: one OpenMLDB ``SELECT`` statement (windows, LAST JOINs, scalar expressions).
        tables: table name → ``pyarrow.Table`` or a Parquet/CSV path.
        timezone: IANA zone used for calendar functions and time formatting (OpenMLDB: Asia/Shanghai).
        indexes: optional OpenMLDB index specs per table (``name:key1|key2:ts_col``); they decide
            which column orders LAST JOIN matches when the join has no ``ORDER BY``.

    Returns:
        One row per row of the main table, in input order (for window and LAST JOIN queries).

    Raises:
        OpenFeatSQLError: the SQL is wrong (message names line and column).
        NotSupportedError: the SQL is valid OpenMLDB SQL that OpenFeat does not support.
        DataError: a table is missing or unreadable.
        UnknownBackendError: ``OPENFEAT_BACKEND`` names no registered backend
            (:mod:`openfeat_core.engine.backend`; the default is the single-machine engine).

    Example:
        >>> import pyarrow as pa, openfeat_core
        >>> tx = pa.table({"card": [1, 1], "ts": pa.array([0, 1000], pa.timestamp("ms")), "amount": [1.0, 2.0]})
        >>> openfeat_core.compute(
        ...     "SELECT card, sum(amount) OVER w AS s FROM tx "
        ...     "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)",
        ...     {"tx": tx},
        ... ).column("s").to_pylist()
        [1.0, 3.0]
    """
    try:
        ctx = EvalContext(timezone)
        _ = ctx.tz
    except Exception as e:
        raise DataError(f"unknown time zone {timezone!r}: {e}") from None
    loaded = {name: load_table(name, src) for name, src in tables.items()}
    sql, config = split_config(sql)
    plan = plan_sql(sql, loaded, indexes=indexes)
    # Tables read from files belong to this call: keep only their engine columns (see ColumnTable).
    for name, src in tables.items():
        if not isinstance(src, pa.Table):
            types = dict(catalog_of({name: loaded[name]})[name])
            loaded[name] = ColumnTable.from_arrow(loaded[name], types)
    pa.default_memory_pool().release_unused()
    requests = _config_requests(sql, plan, loaded, config, ctx) if config and config.execute_mode == "request" else None
    # A table or column missing at run time is a DataError raised where it is looked up (run_relation); any other
    # KeyError is a bug of the engine and propagates as one.
    return backend().execute(plan, loaded, ctx, requests=requests)
