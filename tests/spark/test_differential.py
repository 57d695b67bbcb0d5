"""The Spark backend equals the local engine row for row, on random tables, under forced edge settings.

Every plan shape the backend compiles differently is here: several window groups with a UNION and ROWS / ROWS_RANGE
frames (lag reads the partition history), LAST JOIN with a residual predicate and ORDER BY ... DESC, LAST JOIN on
keys of two types without ORDER BY (insertion order decides), windows over a LAST JOIN after WHERE, a subquery with
LIMIT, and GROUP BY. Tables have duplicate timestamps, NULL and string keys. Each is run under settings that force
the edges: chunks of one key, 1 and 3 partitions, every key split by the skew path, each LAST JOIN strategy.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import openfeat_core
from openfeat_core.engine.spark import SparkOptions
from openfeat_core.engine.spark import compute as spark_compute
from openfeat_core.engine.spark.backend import result_table

HOUR = 3_600_000
#: Random tables per shape (each runs under every option set); raise it for a longer search.
EXAMPLES = int(os.environ.get("OPENFEAT_SPARK_EXAMPLES", "3"))

#: The forced settings: defaults (3 partitions); chunks of one key, all in one partition, with the broadcast LAST JOIN;
#: every key with more than one row split into time slices (several slices of a key in one chunk), 3 partitions,
#: the co-partitioned LAST JOIN.
OPTIONS = [
    SparkOptions(partitions=3),
    SparkOptions(chunk_rows=1, partitions=1, lastjoin="broadcast"),
    SparkOptions(partitions=3, skew_rows=1, skew_max_slices=3, lastjoin="partitioned"),
]

SHAPES = {
    "window_groups_union": """
        SELECT k, g, ts, sum(v) OVER w1 AS s1, count(v) OVER w1 AS c1, max(v) OVER w2 AS m2, lag(v, 1) OVER w2 AS l2,
               avg(v) OVER w3 AS a3, min(v) OVER w3 AS n3
        FROM t
        WINDOW w1 AS (UNION u PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 3h PRECEDING AND CURRENT ROW),
               w2 AS (PARTITION BY g ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
               w3 AS (PARTITION BY k, g ORDER BY ts ROWS_RANGE BETWEEN 2h PRECEDING AND CURRENT ROW)""",
    # DESC here, ascending with the same bound in window_over_lastjoin_where: both directions, one shape each.
    "lastjoin_residual_order_desc": """
        SELECT t.k, t.ts, t.v, d.x, d.ts AS dts FROM t
        LAST JOIN d ORDER BY d.ts DESC ON t.k = d.k AND d.ts <= t.ts AND d.x > 3""",
    "lastjoin_mixed_keys_insertion_order": """
        SELECT t.g, t.v, d.k AS dk, d.x FROM t LAST JOIN d ON t.g = d.x""",
    "window_over_lastjoin_where": """
        SELECT t.k, t.ts, sum(t.v) OVER w AS s, count(d.x) OVER w AS c, d.x FROM t
        LAST JOIN d ORDER BY d.ts ON t.k = d.k AND d.ts <= t.ts
        WHERE t.v > 2
        WINDOW w AS (PARTITION BY t.k ORDER BY t.ts ROWS_RANGE BETWEEN 4h PRECEDING AND CURRENT ROW)""",
    "subquery_limit": """
        SELECT q.k, q.s + 1 AS s1 FROM (
            SELECT k, ts, sum(v) OVER w AS s FROM t
            WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW)) AS q
        LIMIT 7""",
    "group_by": "SELECT k, count(v) AS c, sum(v) AS s FROM t GROUP BY k",
}

_keys = st.sampled_from(["a", "b", "c", None])
_ints = st.sampled_from([1, 2, None])
_ts = st.integers(0, 8).map(lambda h: h * HOUR)
_vals = st.one_of(st.none(), st.integers(-5, 9).map(float), st.floats(-1e3, 1e3, allow_nan=False))


def _events(rows: Sequence[tuple[str | None, int | None, int, float | None]]) -> pa.Table:
    return pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.string()),
            "g": pa.array([r[1] for r in rows], pa.int32()),
            "ts": pa.array([r[2] for r in rows], pa.timestamp("ms")),
            "v": pa.array([r[3] for r in rows], pa.float64()),
        }
    )


_event_rows = st.lists(st.tuples(_keys, _ints, _ts, _vals), min_size=0, max_size=24)
_dim_rows = st.lists(st.tuples(_keys, _ts, st.integers(0, 6)), min_size=0, max_size=12)


@st.composite
def tables(draw: st.DrawFn) -> dict[str, pa.Table]:
    d = draw(_dim_rows)
    return {
        "t": _events(draw(_event_rows)),
        "u": _events(draw(_event_rows.map(lambda r: r[:8]))),
        "d": pa.table(
            {
                "k": pa.array([r[0] for r in d], pa.string()),
                "ts": pa.array([r[1] for r in d], pa.timestamp("ms")),
                "x": pa.array([r[2] for r in d], pa.int64()),
            }
        ),
    }


def check_equal(spark: SparkSession, sql: str, data: dict[str, pa.Table]) -> None:
    """The local engine's result and the Spark backend's, under every :data:`OPTIONS`, are equal row for row."""
    local = openfeat_core.compute(sql, data)
    plan = openfeat_core.plan_sql(sql, data)
    frames = {name: spark.createDataFrame(t) for name, t in data.items()}
    for options in OPTIONS:
        got = result_table(spark_compute(sql, frames, spark=spark, options=options).toArrow(), plan)
        assert got.to_pylist() == local.to_pylist(), options


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_spark_equals_local(spark: SparkSession, shape: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=tables())
    def run(data: dict[str, pa.Table]) -> None:
        check_equal(spark, SHAPES[shape], data)

    run()


@pytest.mark.parametrize("zone", ["timestamp", "timestamp_ntz"])
def test_every_key_is_split_on_the_skew_path(spark: SparkSession, zone: str) -> None:
    """A hot key is really cut into time slices (the plan carries ``__slice``), and the result is unchanged, for
    both Spark timestamp types (Parquet files without a zone read as TIMESTAMP_NTZ)."""
    rows = [("hot", 1, (i % 40) * HOUR // 4, float(i)) for i in range(60)] + [("cold", 2, 0, 1.0)]
    data = {"t": _events(rows), "u": _events([])}
    sql = SHAPES["window_groups_union"]
    options = SparkOptions(skew_rows=10, skew_max_slices=8)
    frames = {name: spark.createDataFrame(t).withColumn("ts", F.col("ts").cast(zone)) for name, t in data.items()}
    # (The ordered result's plan starts at the checkpoint before the final sort; the unordered one shows the stages.)
    unordered = spark_compute(sql, frames, spark=spark, options=dataclasses.replace(options, preserve_order=False))
    assert "__slice" in unordered._jdf.queryExecution().toString()
    df = spark_compute(sql, frames, spark=spark, options=options)
    plan = openfeat_core.plan_sql(sql, data)
    assert result_table(df.toArrow(), plan).to_pylist() == openfeat_core.compute(sql, data).to_pylist()
