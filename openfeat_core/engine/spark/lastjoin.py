"""LAST JOIN stages: the right side broadcast, or both sides co-partitioned by the equality keys.

Both run the engine's own sort-merge :func:`openfeat_core.engine.lastjoin.last_join` per left chunk (binary search by
key, order value and insertion order; residual predicates walked back from the newest candidate), so no join ever
builds the matching pairs and deduplicates them afterwards.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

from openfeat_core.engine.spark.plan_io import encode
from openfeat_core.engine.spark.windows import key_columns
from openfeat_core.engine.spark.worker import RID, SIDE, broadcast_join_stage, ddl, partitioned_join_stage
from openfeat_core.plan.nodes import LastJoin
from openfeat_core.types import SQLType

if TYPE_CHECKING:
    from openfeat_core.engine.spark.planner import Planner, Rel


def _common(left: SQLType, right: SQLType) -> SQLType:
    """The key type both sides are hashed as: the engine's own rule for equality keys of different types."""
    if left is right:
        return left
    return SQLType.DOUBLE if (left.is_float or right.is_float) else SQLType.INT64


def strategy(p: Planner, join: LastJoin, right: Rel) -> str:
    """``broadcast`` or ``partitioned``: as forced by the options, else by the right side's row count. A join
    without equality keys has nothing to partition by and is always broadcast."""
    if not join.equi_keys:
        return "broadcast"
    if p.options.lastjoin != "auto":
        return p.options.lastjoin
    return "broadcast" if right.df.count() <= p.options.broadcast_rows else "partitioned"


def last_join(p: Planner, join: LastJoin) -> Rel:
    from openfeat_core.engine.spark.planner import Rel

    left, right = p.relation(join.left), p.relation(join.right)
    out_ddl = ddl([(f"c{i}", f.type) for i, f in enumerate(join.schema)])
    payload = encode((join, left.fields, right.fields))
    if strategy(p, join, right) == "broadcast":
        # Rows in insertion order: the engine breaks ties between right rows by their position.
        table = right.df.orderBy(RID).toArrow()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        shipped = p.spark.sparkContext.broadcast(sink.getvalue().to_pybytes())
        stage = broadcast_join_stage(payload, p.timezone, shipped, uuid.uuid4().hex, p.options.chunk_rows)
        return Rel(left.df.mapInArrow(stage, out_ddl), join.schema)
    types = [_common(lk.type, rk.type) for lk, rk in join.equi_keys]
    ldf, lkeys = key_columns(p, left.df, left.fields, tuple(lk for lk, _ in join.equi_keys), types)
    rkeys_expr = tuple(rk for _, rk in join.equi_keys)
    rdf, rkeys = key_columns(p, right.df, right.fields, rkeys_expr, types, offset=len(left.fields))
    keys = [f"__j{j}" for j in range(len(types))]
    lside = ldf.select(
        RID,
        *(F.col(f"c{i}") for i in range(len(left.fields))),
        *(F.col(k).alias(j) for k, j in zip(lkeys, keys, strict=True)),
        F.lit(0).alias(SIDE),
    )
    rside = rdf.select(
        RID,
        *(F.col(f"c{i}").alias(f"r{i}") for i in range(len(right.fields))),
        *(F.col(k).alias(j) for k, j in zip(rkeys, keys, strict=True)),
        F.lit(1).alias(SIDE),
    )
    both = lside.unionByName(rside, allowMissingColumns=True)
    stage = partitioned_join_stage(payload, p.timezone, keys, p.options.chunk_rows)
    out = both.repartition(p.partitions, *keys).sortWithinPartitions(*keys, SIDE, RID).mapInArrow(stage, out_ddl)
    return Rel(out, join.schema)
