"""The driver side: a bound plan becomes Spark stages (partition, sort, move bytes, rejoin); the executor does the rest.

Row identity: every scanned table carries ``__rid``, its insertion order, from the scan on (:mod:`.tables`). It
breaks ties at equal timestamps exactly as the local engine's stable sorts do, it is the rejoin key of window groups,
and the result is ordered by it.

Stages, by plan node (see :mod:`.worker` for what runs inside each):

* relation (``Scan``): the table's columns as ``c<i>`` + ``__rid``; a ``SubqueryRel`` is its query's output.
* ``WHERE``: a narrow ``mapInArrow`` filter before any shuffle.
* windows: one stage per group of windows with equal :meth:`WindowDef.sort_key` (keys, order, unions), the local
  executor's sharing rule: main and union rows → ``repartition(keys)`` → ``sortWithinPartitions(keys, source,
  __rid)`` → ``mapInArrow`` over chunks of whole keys (:mod:`.windows`, hot keys by :mod:`.skew`). One group
  computes the outputs in the same stage; several groups are joined on ``__rid`` and the outputs computed after.
* ``LAST JOIN``: broadcast right side, or both sides co-partitioned by the equality keys (:mod:`.lastjoin`).
* ``GROUP BY``: one task (the executor's grouped path, unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from openfeat_core.engine.spark import lastjoin, windows
from openfeat_core.engine.spark.options import SparkOptions
from openfeat_core.engine.spark.plan_io import encode
from openfeat_core.engine.spark.worker import RID, ddl, filter_stage, group_stage, outputs_stage
from openfeat_core.errors import NotSupportedError
from openfeat_core.plan.nodes import (
    Field,
    LastJoin,
    LeftJoin,
    Relation,
    Scan,
    Select,
    SubqueryRel,
    UnionAll,
    WindowAgg,
    collect,
)


@dataclass(frozen=True)
class Rel:
    """A relation as a DataFrame: ``__rid`` and field ``i`` as column ``c<i>``."""

    df: DataFrame
    fields: tuple[Field, ...]


@dataclass
class Planner:
    """Compiles one bound plan over prepared tables (each with ``__rid``)."""

    spark: SparkSession
    tables: Mapping[str, DataFrame]
    timezone: str
    options: SparkOptions

    @property
    def partitions(self) -> int:
        return self.options.partitions or int(self.spark.conf.get("spark.sql.shuffle.partitions") or 200)

    # ------------------------------------------------------------------------------------------ relations
    def relation(self, rel: Relation) -> Rel:
        if isinstance(rel, Scan):
            return self.scan(rel)
        if isinstance(rel, SubqueryRel):
            out = self.select(rel.query, top=False)
            return Rel(out.select(RID, *(F.col(f"o{i}").alias(f"c{i}") for i in range(len(rel.schema)))), rel.schema)
        if isinstance(rel, LastJoin):
            return lastjoin.last_join(self, rel)
        if isinstance(rel, (LeftJoin, UnionAll)):
            what = "LEFT JOIN" if isinstance(rel, LeftJoin) else "UNION ALL"
            raise NotSupportedError(f"{what} runs on the local engine, not on Spark")
        raise TypeError(f"unknown relation {type(rel).__name__}")

    def scan(self, scan: Scan) -> Rel:
        if not scan.table:  # SELECT without FROM: one row
            return Rel(self.spark.range(1).select(F.col("id").alias(RID)), ())
        df = self.tables[scan.table]
        cols = [F.col(f"`{f.name}`").alias(f"c{i}") for i, f in enumerate(scan.schema)]
        return Rel(df.select(F.col(RID), *cols), scan.schema)

    # ------------------------------------------------------------------------------------------ SELECT
    def select(self, plan: Select, *, top: bool) -> DataFrame:
        """``plan`` as a DataFrame of ``__rid`` and ``o<i>`` per output."""
        src = self.relation(plan.source)
        df = src.df
        if plan.where is not None:
            df = df.mapInArrow(filter_stage(encode((plan.where, src.fields)), self.timezone), df.schema)
        out_ddl = ddl([(f"o{i}", o.expr.type) for i, o in enumerate(plan.outputs)])
        if plan.is_aggregation:
            sel = Select(plan.source, None, plan.windows, plan.outputs, plan.group_by, plan.having)
            out = df.repartition(1).mapInArrow(group_stage(encode((sel, src.fields)), self.timezone), out_ddl)
        else:
            aggs = list({a: None for o in plan.outputs for a in collect(o.expr, WindowAgg)})
            if aggs:
                out = windows.windows(self, plan, Rel(df, src.fields), aggs)
            else:
                payload = encode((plan.outputs, src.fields, ()))
                out = df.mapInArrow(outputs_stage(payload, self.timezone), out_ddl)
        if plan.limit is not None:
            out = out.orderBy(RID).limit(plan.limit)
        elif top and self.options.preserve_order:
            # orderBy samples its input to choose range bounds, a job of its own: without the checkpoint that job
            # would run every stage since the last shuffle (OpenFeat's executor included) a second time. The lazy
            # local checkpoint keeps the first computation's rows in the executors' block managers (memory, then
            # disk) for the sort to read.
            out = out.localCheckpoint(eager=False).orderBy(RID)
        return out


def compute_frame(
    plan: Select, tables: Mapping[str, DataFrame], spark: SparkSession, timezone: str, options: SparkOptions
) -> DataFrame:
    """``plan`` over ``tables`` (DataFrames with ``__rid``) as a DataFrame with the plan's output columns."""
    if not plan.outputs:
        raise NotSupportedError("a query without output columns")
    out = Planner(spark, tables, timezone, options).select(plan, top=True)
    return out.select(*(F.col(f"o{i}").alias(o.name) for i, o in enumerate(plan.outputs)))
