"""``compute()``: the Python entry point of offline feature computation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.engine.backend import UnknownBackendError, backend
from openfeat_core.engine.executor import main_scan
from openfeat_core.engine.relation import ColumnTable, RelationColumns, evaluate
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.functions.cast import cast_column
from openfeat_core.functions.registry import EvalContext
from openfeat_core.jit import load_compiled_in_background
from openfeat_core.plan.nodes import Select
from openfeat_core.sql.binder import bind_constants, catalog_of, plan_sql, query_parameters
from openfeat_core.sql.config import QueryConfig, split_config

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from openfeat_core.engine.spark import SparkOptions
    from openfeat_core.io.ingest import TableSource


def _config_requests(
    sql: str, plan: Select, tables: Mapping[str, pa.Table], config: QueryConfig, ctx: EvalContext
) -> pa.Table:
    """The request rows of ``CONFIG(execute_mode='request', values=...)``, typed like the main table."""
    scan = main_scan(plan)
    fields = scan.schema
    columns: list[list[Column]] = [[] for _ in fields]
    one_row = RelationColumns((), [], 1)
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


#: Inputs from this size on run the compiled kernels for sure: numba's load starts before the data is read.
LARGE_INPUT_ROWS = 100_000
LARGE_INPUT_BYTES = 4 << 20


def _large(src: Any, storage_options: Mapping[str, Any] | None) -> bool:
    """Whether ``src`` (a table, or a file or directory named as ``load_table`` reads it) is large enough that
    compute will load numba (:mod:`openfeat_core.jit`)."""
    if isinstance(src, pa.Table):
        return src.num_rows >= LARGE_INPUT_ROWS
    if not isinstance(src, (str, os.PathLike)):
        return False
    # Imported here, like the reader: computing over Arrow tables needs neither (the imports cost cold starts).
    import pyarrow.fs as pafs

    from openfeat_core.io.location import resolve

    try:
        where = resolve(src, storage_options)
        if not where.is_local:
            return True  # an object store: reading waits on the network, time numba's load can use
        info = where.filesystem.get_file_info(where.path)
        if info.type == pafs.FileType.Directory:
            listing = where.filesystem.get_file_info(pafs.FileSelector(where.path, recursive=True))
            return sum(i.size for i in listing if i.type == pafs.FileType.File) >= LARGE_INPUT_BYTES
        return info.type == pafs.FileType.File and info.size >= LARGE_INPUT_BYTES
    except (OpenFeatError, OSError, pa.ArrowException):
        return False  # load_table reports what is wrong with the name


@overload
def compute(
    sql: str,
    tables: Mapping[str, TableSource],
    *,
    timezone: str = ...,
    indexes: Mapping[str, Sequence[str]] | None = ...,
    storage_options: Mapping[str, Any] | None = ...,
    engine: str | None = ...,
    spark: None = ...,
    spark_options: SparkOptions | None = ...,
    parameters: pa.Table | pa.RecordBatch | Sequence[Any] | None = ...,
) -> pa.Table: ...


@overload
def compute(
    sql: str,
    tables: Mapping[str, DataFrame | str | os.PathLike[str]],
    *,
    timezone: str = ...,
    indexes: Mapping[str, Sequence[str]] | None = ...,
    storage_options: Mapping[str, Any] | None = ...,
    engine: str | None = ...,
    spark: SparkSession,
    spark_options: SparkOptions | None = ...,
    parameters: None = ...,
) -> DataFrame: ...


def compute(
    sql: str,
    tables: Mapping[str, Any],
    *,
    timezone: str = "UTC",
    indexes: Mapping[str, Sequence[str]] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    engine: str | None = None,
    spark: SparkSession | None = None,
    spark_options: SparkOptions | None = None,
    parameters: pa.Table | pa.RecordBatch | Sequence[Any] | None = None,
) -> pa.Table | DataFrame:
    """Compute a feature script offline, point-in-time correct.

    Args:
        sql: one OpenMLDB ``SELECT`` statement (windows, LAST JOINs, scalar expressions).
        tables: table name → ``pyarrow.Table``, or a path or URI (file, directory, glob; CSV, Parquet, JSON lines,
            Arrow IPC) read as ``openfeat ingest`` reads it (see :func:`openfeat_core.io.ingest.load_table`).
        timezone: IANA zone used for calendar functions and time formatting (OpenMLDB: Asia/Shanghai), and for
            timestamps without offset in files read from paths.
        indexes: optional OpenMLDB index specs per table (``name:key1|key2:ts_col``); they decide
            which column orders LAST JOIN matches when the join has no ``ORDER BY``.
        storage_options: object-store settings for ``s3://`` paths in ``tables`` (see
            :mod:`openfeat_core.io.location`).
        engine: the backend (:mod:`openfeat_core.engine.backend`): ``"local"`` (default, or ``$OPENFEAT_BACKEND``)
            or ``"spark"`` (``pip install 'openfeat[spark]'``).
        spark: a SparkSession: compute on it (``engine`` must then be None or ``"spark"``); ``tables`` are Spark
            DataFrames or Parquet/CSV paths Spark reads, and the result is a lazy DataFrame in input order.
        spark_options: the Spark backend's knobs (:class:`openfeat_core.engine.spark.SparkOptions`).
        parameters: the values of the query's ``?`` placeholders, in the order they are written: a one-row Arrow
            table (its column types are the parameters' types) or Python values
            (:func:`openfeat_core.sql.binder.query_parameters`). Not with ``spark``.

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
    if spark is not None:
        if parameters is not None:
            raise NotSupportedError("parameterized queries run on the local engine only, not with a SparkSession")
        if engine not in (None, "spark"):
            raise UnknownBackendError(f"a SparkSession was given with engine={engine!r}: use engine='spark'")
        from openfeat_core.engine.spark import compute as spark_compute

        return spark_compute(sql, tables, spark=spark, timezone=timezone, indexes=indexes, options=spark_options)
    try:
        ctx = EvalContext(timezone)
        _ = ctx.tz
    except Exception as e:
        raise DataError(f"unknown time zone {timezone!r}: {e}") from None
    if any(_large(src, storage_options) for src in tables.values()):
        load_compiled_in_background()
    loaded = {name: src for name, src in tables.items() if isinstance(src, pa.Table)}
    if len(loaded) < len(tables):
        # Imported here: reading files is not needed to compute over Arrow tables (the import costs cold starts).
        from openfeat_core.io.ingest import load_table

        for name, src in tables.items():
            if name not in loaded:
                loaded[name] = load_table(name, src, timezone=timezone, storage_options=storage_options)
        loaded = {name: loaded[name] for name in tables}  # (in the caller's order)
    sql, config = split_config(sql)
    typed = None if parameters is None else query_parameters(parameters)
    plan = plan_sql(sql, loaded, indexes=indexes, parameters=typed)
    # Tables read from files belong to this call: keep only their engine columns (see ColumnTable).
    for name, src in tables.items():
        if not isinstance(src, pa.Table):
            types = dict(catalog_of({name: loaded[name]})[name])
            loaded[name] = ColumnTable.from_arrow(loaded[name], types)
    pa.default_memory_pool().release_unused()
    requests = _config_requests(sql, plan, loaded, config, ctx) if config and config.execute_mode == "request" else None
    # A table or column missing at run time is a DataError raised where it is looked up (run_relation); any other
    # KeyError is a bug of the engine and propagates as one.
    return backend(engine).execute(plan, loaded, ctx, requests=requests)
