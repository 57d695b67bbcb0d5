"""Input tables on Spark: DataFrames or Parquet/CSV paths, their SQL schemas, and the row id ``__rid``.

``__rid`` is the insertion order the local engine keeps (ties at equal timestamps):

* a Parquet path: ``(file ordinal << 40) | row index in the file``, files in name order, from Spark's hidden
  ``_metadata`` columns, so it does not depend on how Spark packs file splits into partitions;
* a DataFrame: ``monotonically_increasing_id()``, i.e. its partition order then row order within a partition
  (for a DataFrame made from a local table or read from one file that is its row order). The id is computed again
  by every stage that reads the table, so the DataFrame's partitioning must be deterministic (a scan, not the
  output of a shuffle: ``localCheckpoint()`` such a DataFrame first);
* a CSV path: the file order (one file is one split only if it is small; name a Parquet file for large inputs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from openfeat_core.column import Column
from openfeat_core.engine.spark.worker import RID
from openfeat_core.errors import DataError
from openfeat_core.types import SQLType, array_type, map_type

#: Spark type names (``DataType.typeName()``) → engine types.
_TYPES: dict[str, SQLType] = {
    "boolean": SQLType.BOOL,
    "short": SQLType.INT16,
    "integer": SQLType.INT32,
    "long": SQLType.INT64,
    "float": SQLType.FLOAT,
    "double": SQLType.DOUBLE,
    "string": SQLType.STRING,
    "date": SQLType.DATE,
    "timestamp": SQLType.TIMESTAMP,
    "timestamp_ntz": SQLType.TIMESTAMP,
}


def catalog(name: str, df: DataFrame) -> list[tuple[str, SQLType]]:
    """The SQL schema of one table, for binding on the driver."""
    out = []
    for f in df.schema.fields:
        if f.name == RID:
            continue
        t = _sql_type(f.dataType)
        if t is None:
            spark_type = f.dataType.simpleString()
            raise DataError(f"table {name!r}, column {f.name!r}: Spark type {spark_type} has no OpenFeat type")
        out.append((f.name, t))
    return out


def _sql_type(data_type: Any) -> SQLType | None:
    """The engine type of a Spark ``DataType`` (arrays and maps of the :data:`_TYPES`), None when there is none."""
    kind = data_type.typeName()
    if kind == "array":
        element = _sql_type(data_type.elementType)
        return None if element is None else array_type(element)
    if kind == "map":
        key, value = _sql_type(data_type.keyType), _sql_type(data_type.valueType)
        return None if key is None or value is None or key.is_nested else map_type(key, value)
    return _TYPES.get(kind)


def read(spark: SparkSession, name: str, source: DataFrame | str | os.PathLike[str]) -> DataFrame:
    """The table as a DataFrame with ``__rid`` (see the module docstring)."""
    if isinstance(source, DataFrame):
        return source.withColumn(RID, F.monotonically_increasing_id())
    path = Path(os.fspath(source))
    if not path.exists():
        raise DataError(f"table {name!r}: file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") or path.is_dir():
        df = spark.read.parquet(str(path))
        files = sorted(df.inputFiles())
        meta = spark.read.parquet(str(path)).select("*", "_metadata.file_path", "_metadata.row_index")
        ordinal = F.array_position(F.array(*(F.lit(f) for f in files)), F.col("file_path")).cast("long") - 1
        rid = F.shiftleft(ordinal, 40).bitwiseOR(F.col("row_index"))
        return meta.withColumn(RID, rid).drop("file_path", "row_index")
    if suffix in (".csv", ".txt"):
        df = spark.read.option("header", True).option("inferSchema", True).csv(str(path))
        return df.withColumn(RID, F.monotonically_increasing_id())
    raise DataError(f"table {name!r}: unsupported file type {suffix!r} (use .parquet or .csv)")


def from_arrow(spark: SparkSession, table: Any) -> DataFrame:
    """A local table (Arrow, or the engine's column table) as a DataFrame with ``__rid`` in row order.

    Timestamps become Spark's TIMESTAMP (UTC instants) so that they read back as the same epoch milliseconds.
    """
    if not isinstance(table, pa.Table):  # ColumnTable: columns already converted to the engine's form
        columns: dict[str, Column] = table.columns
        table = pa.table({n: c.to_arrow() for n, c in columns.items()})
    arrays = []
    for col in table.columns:
        arrays.append(col.cast(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(col.type) else col)
    table = pa.Table.from_arrays(arrays, names=table.column_names)
    return spark.createDataFrame(table).withColumn(RID, F.monotonically_increasing_id())


def catalogs(tables: Mapping[str, DataFrame]) -> dict[str, list[tuple[str, SQLType]]]:
    return {name: catalog(name, df) for name, df in tables.items()}
