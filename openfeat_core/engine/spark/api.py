"""``compute`` on Spark: DataFrames or paths in, a DataFrame out; binding (and every SQL error) on the driver."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession

from openfeat_core.engine.spark.options import SparkOptions
from openfeat_core.engine.spark.planner import compute_frame
from openfeat_core.engine.spark.tables import catalogs, read
from openfeat_core.errors import DataError, NotSupportedError
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select
from openfeat_core.sql.binder import bind_sql
from openfeat_core.sql.config import split_config

SparkSource = DataFrame | str | os.PathLike[str]


def compute(
    sql: str,
    tables: Mapping[str, SparkSource],
    *,
    spark: SparkSession,
    timezone: str = "UTC",
    indexes: Mapping[str, Sequence[str]] | None = None,
    options: SparkOptions | None = None,
) -> DataFrame:
    """Compute a feature script on Spark; the result equals :func:`openfeat_core.compute`'s, row for row.

    The SQL is parsed and bound here, on the driver, against the tables' Spark schemas: bad SQL, a missing column
    or a type mismatch raises the local engine's positioned error before any Spark job runs. The returned
    DataFrame is lazy; it is in input order unless ``options.preserve_order`` is False.

    Raises:
        OpenFeatSQLError, NotSupportedError, DataError: as :func:`openfeat_core.compute`.
    """
    try:
        _ = EvalContext(timezone).tz
    except Exception as e:
        raise DataError(f"unknown time zone {timezone!r}: {e}") from None
    loaded = {name: read(spark, name, src) for name, src in tables.items()}
    sql, config = split_config(sql)
    if config and config.execute_mode == "request":
        raise NotSupportedError("CONFIG(execute_mode='request') on Spark: request mode is served online")
    plan = bind_sql(sql, catalogs(loaded), indexes=indexes)
    return compute_frame(plan, loaded, spark, timezone, options or SparkOptions())


def compute_plan(
    plan: Select,
    tables: Mapping[str, DataFrame],
    *,
    spark: SparkSession,
    timezone: str = "UTC",
    options: SparkOptions | None = None,
) -> DataFrame:
    """A bound plan over DataFrames that already carry ``__rid`` (:func:`.tables.read` / :func:`.tables.from_arrow`)."""
    return compute_frame(plan, tables, spark, timezone, options or SparkOptions())
