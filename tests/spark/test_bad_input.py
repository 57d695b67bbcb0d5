"""Bad input fails on the driver, before any Spark job, with the local engine's error and position."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

import openfeat_core
from openfeat_core.engine.spark import compute as spark_compute
from openfeat_core.errors import OpenFeatError

TX = pa.table({"card": [1, 2], "ts": pa.array([0, 1000], pa.timestamp("ms")), "amount": [1.0, 2.0]})

BAD = {
    "bad_sql": "SELECT card, sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY",
    "missing_column": "SELECT card, sum(amt) OVER w AS s FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)",
    "type_mismatch": "SELECT card, sum(amount) OVER w AS s FROM tx "
    "WINDOW w AS (PARTITION BY amount ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)",
    "unknown_table": "SELECT card FROM tx LAST JOIN nowhere ON tx.card = nowhere.card",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_on_the_driver_like_the_local_engine(spark: SparkSession, case: str) -> None:
    sql = BAD[case]
    with pytest.raises(OpenFeatError) as local:
        openfeat_core.compute(sql, {"tx": TX})
    frame = spark.createDataFrame(TX)
    group = f"bad-input-{uuid.uuid4().hex}"
    spark.sparkContext.setJobGroup(group, case)
    try:
        with pytest.raises(type(local.value)) as remote:
            spark_compute(sql, {"tx": frame}, spark=spark)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    assert str(remote.value) == str(local.value)
    assert spark.sparkContext.statusTracker().getJobIdsForGroup(group) == []
