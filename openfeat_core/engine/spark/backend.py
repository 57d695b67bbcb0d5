"""The ``spark`` backend of the engine seam: Arrow tables in, Arrow table out, computed on a Spark session.

It is what ``OPENFEAT_BACKEND=spark`` (or ``compute(..., engine="spark")`` with local tables) runs: the tables are
handed to Spark, the plan runs there, and the result comes back to the driver. Callers whose data is already in
Spark use :func:`openfeat_core.engine.spark.compute`, which keeps the result a DataFrame.

The session is the active one, else ``SparkSession.builder.getOrCreate()`` (what ``spark-submit`` configured).
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from pyspark.sql import SparkSession

from openfeat_core.engine.backend import LocalBackend, register_backend
from openfeat_core.engine.spark.options import SparkOptions
from openfeat_core.engine.spark.planner import compute_frame
from openfeat_core.engine.spark.tables import from_arrow
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select
from openfeat_core.types import SQLType


def result_table(df_arrow: pa.Table, plan: Select) -> pa.Table:
    """Spark's Arrow result in the local engine's types (timestamps back to epoch milliseconds without a zone)."""
    arrays = []
    for col, o in zip(df_arrow.columns, plan.outputs, strict=True):
        t = SQLType.BOOL if o.expr.type is SQLType.NULL else o.expr.type
        target = t.arrow_type
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp(col.type.unit)).cast(target)
        elif col.type != target:
            col = col.cast(target)
        arrays.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    return pa.Table.from_arrays(arrays, names=[o.name for o in plan.outputs])


class SparkBackend:
    """Runs bound plans on a Spark session (see the module docstring)."""

    name = "spark"

    def __init__(self, spark: SparkSession | None = None, options: SparkOptions | None = None) -> None:
        self.spark = spark or SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        self.options = options or SparkOptions()

    def execute(
        self, plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
    ) -> pa.Table:
        """See :meth:`openfeat_core.engine.backend.Backend.execute`. Request mode (a handful of request rows,
        ``CONFIG(execute_mode='request')``) is answered by the local engine in this process, as online requests are."""
        if requests is not None:
            return LocalBackend().execute(plan, tables, ctx, requests=requests)
        frames = {name: from_arrow(self.spark, t) for name, t in tables.items()}
        out = compute_frame(plan, frames, self.spark, ctx.timezone, self.options)
        return result_table(out.toArrow(), plan)


register_backend(SparkBackend.name, SparkBackend)
