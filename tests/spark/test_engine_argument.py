"""One argument switches the engine: ``compute(..., spark=session)``, ``compute(..., engine="spark")``, the compute
task's ``engine`` and ``openfeat compute --engine spark`` give the local engine's result."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession

import openfeat_core
from openfeat_core import tasks
from openfeat_core.engine.backend import UnknownBackendError

SQL = (
    "SELECT card, ts, sum(amount) OVER w AS s, count(amount) OVER w AS n FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
)
TX = pa.table(
    {
        "card": [1, 1, 2, 1, 2],
        "ts": pa.array([0, 1000, 5, 1000, 86_400_001], pa.timestamp("ms")),
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
    }
)


def test_compute_with_a_session_returns_a_dataframe_in_input_order(spark: SparkSession) -> None:
    out = openfeat_core.compute(SQL, {"tx": spark.createDataFrame(TX)}, spark=spark)
    assert isinstance(out, DataFrame)
    local = openfeat_core.compute(SQL, {"tx": TX})
    assert [tuple(r) for r in out.select("s", "n").collect()] == list(
        zip(local.column("s").to_pylist(), local.column("n").to_pylist(), strict=True)
    )


def test_engine_spark_over_arrow_tables_equals_local(spark: SparkSession) -> None:
    assert openfeat_core.compute(SQL, {"tx": TX}, engine="spark").equals(openfeat_core.compute(SQL, {"tx": TX}))


def test_a_session_with_another_engine_is_a_usage_error(spark: SparkSession) -> None:
    with pytest.raises(UnknownBackendError, match="engine='local'"):
        openfeat_core.compute(SQL, {"tx": spark.createDataFrame(TX)}, spark=spark, engine="local")


def test_the_compute_task_engine_argument(spark: SparkSession, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    source = tmp_path / "tx.parquet"
    import pyarrow.parquet as pq

    pq.write_table(TX, source)
    tasks.ingest(tasks.IngestRequest(str(source), "tx", ws))
    local = tasks.compute(tasks.ComputeRequest(SQL, "f_local", ws))
    remote = tasks.compute(tasks.ComputeRequest(SQL, "f_spark", ws, engine="spark"))
    assert remote.rows == local.rows and remote.digest == local.digest
