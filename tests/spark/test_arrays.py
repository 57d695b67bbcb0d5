"""ARRAY and MAP values through the Spark backend: outputs (timestamps inside them included) and input columns give
the local engine's answer."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import SparkSession

import openfeat_core

SQL = (
    "SELECT k, split_by_key(s, ',', ':') AS keys, map(k, s) AS m, [timestamp(5), NULL] AS times, "
    "map(timestamp(1), date('2020-01-01')) AS dates, size(a) AS n, at(a, -1) AS last, count(s) OVER w AS c FROM t "
    "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)
T = pa.table(
    {
        "k": pa.array([1, 1, 2], pa.int32()),
        "ts": pa.array([1, 2, 3], pa.int64()),
        "s": ["a:1,b:2", "c:3", None],
        "a": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
    }
)


def test_arrays_and_maps_on_spark_equal_local(spark: SparkSession) -> None:
    local = openfeat_core.compute(SQL, {"t": T})
    on_spark = openfeat_core.compute(SQL, {"t": spark.createDataFrame(T)}, spark=spark)
    assert on_spark.toArrow().to_pylist() == local.to_pylist()
