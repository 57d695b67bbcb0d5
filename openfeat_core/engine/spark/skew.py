"""Hot window keys split into time slices, each with a bounded halo of the earlier rows its frames can reach.

Only keys with more than ``skew_rows`` main rows are split (one ``groupBy(keys).count()`` pass, then approximate
quantiles of the order column over the hot keys' rows only). Cut points are order values, so rows with equal order
values never straddle a cut. A row of slice ``i`` at order value ``t`` has frames reaching back to ``t - reach``
(``reach``: the largest ``ROWS_RANGE ... PRECEDING`` of the group), so slice ``i`` receives, besides its own rows,
copies of the rows with ``cut_i - reach <= t < cut_i``: main rows as halo rows (the executor sees them as a union
source, candidates without output) and union rows as union rows. Not "all earlier rows" as OpenMLDB's
WindowSkewOpt copies by default.

A group is split only when that halo is exact: every window a ``ROWS_RANGE`` frame with a bounded start, no
``INSTANCE_NOT_IN_WINDOW`` (main rows of the halo must not become candidates there), no function reading the
partition history beyond the frame (``lag``/``at``), an integer or timestamp order column. Other groups run
unsplit: a hot key is then one task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StructField, StructType, TimestampNTZType, TimestampType

from openfeat_core.engine.spark.worker import SLICE, SRC, SRC_HALO, SRC_MAIN
from openfeat_core.functions.registry import REGISTRY
from openfeat_core.plan.nodes import ColumnRef, Select, WindowAgg, WindowDef, collect
from openfeat_core.types import SQLType

if TYPE_CHECKING:
    from openfeat_core.engine.spark.planner import Planner

_CUTS = "__cuts"
_ENTRY = "__entry"


def reach(plan: Select, group: list[int], members: list[WindowAgg], w0: WindowDef) -> int | None:
    """How far back (in order-column units) the group's frames reach; None when the halo would not be exact."""
    order = w0.order_by
    if not isinstance(order, ColumnRef) or order.index < 0:
        return None
    if order.type not in (SQLType.TIMESTAMP, SQLType.INT16, SQLType.INT32, SQLType.INT64):
        return None
    if w0.frame.instance_not_in_window:
        return None
    for a in members:
        for inner in collect(a, WindowAgg):
            fn = REGISTRY.aggregate(inner.name)
            if fn is None or fn.ignores_frame:
                return None
    spans = []
    for i in group:
        frame = plan.windows[i].frame
        if frame.kind != "rows_range" or frame.start.kind != "preceding" or frame.end.kind == "unbounded":
            return None
        spans.append(frame.start.offset)
    return max(spans)


def order_ms(df: DataFrame, column: str) -> SparkColumn:
    """The order column as the engine's order value (epoch milliseconds for timestamps, with or without zone)."""
    kind = df.schema[column].dataType
    if isinstance(kind, TimestampType):
        return F.unix_millis(F.col(column))
    if isinstance(kind, TimestampNTZType):
        return F.timestamp_diff("MILLISECOND", F.expr("TIMESTAMP_NTZ '1970-01-01 00:00:00'"), F.col(column))
    return F.col(column).cast("long")


def _null_safe(left: list[str], right: list[str]) -> SparkColumn:
    return reduce(lambda a, b: a & b, [F.col(x).eqNullSafe(F.col(y)) for x, y in zip(left, right, strict=True)])


@dataclass(frozen=True)
class Split:
    """The hot keys of one window group and their cut points (a small broadcast table)."""

    keys: list[str]
    order_col: str
    span: int
    cuts: DataFrame

    def tag(self, rows: DataFrame) -> DataFrame:
        """Every row with its slice (``__slice``), plus halo copies for the later slices its order value reaches."""
        hot_keys = [f"__h{j}" for j in range(len(self.keys))]
        ts = order_ms(rows, self.order_col)
        cuts = F.col(_CUTS)
        tagged = rows.join(F.broadcast(self.cuts), _null_safe(self.keys, hot_keys), "left").drop(*hot_keys)
        own = F.when(cuts.isNull(), F.lit(0)).otherwise(F.size(F.filter(cuts, lambda c: c <= ts)))
        halo = F.when(cuts.isNull(), F.array().cast("array<int>")).otherwise(
            F.filter(
                F.sequence(F.lit(1), F.size(cuts)),
                lambda i: (F.element_at(cuts, i) - F.lit(self.span) <= ts) & (ts < F.element_at(cuts, i)),
            )
        )
        entries = F.concat(
            F.array(F.struct(own.alias("s"), F.lit(False).alias("h"))),
            F.transform(halo, lambda i: F.struct(i.alias("s"), F.lit(True).alias("h"))),
        )
        out = tagged.withColumn(_ENTRY, F.explode(entries))
        is_halo_main = F.col(f"{_ENTRY}.h") & (F.col(SRC) == F.lit(SRC_MAIN))
        return (
            out.withColumn(SLICE, F.col(f"{_ENTRY}.s"))
            .withColumn(SRC, F.when(is_halo_main, F.lit(SRC_HALO)).otherwise(F.col(SRC)))
            .drop(_ENTRY, _CUTS)
        )


def plan_split(
    p: Planner,
    plan: Select,
    w0: WindowDef,
    group: list[int],
    members: list[WindowAgg],
    keys: list[str],
    main: DataFrame,
) -> Split | None:
    """The split of this group's hot keys, or None (skew pass off, no hot key, or a halo would not be exact).

    Runs two small Spark jobs on the driver (hot-key counts, then quantiles of the hot keys' rows).
    """
    limit = p.options.skew_rows
    span = reach(plan, group, members, w0) if limit is not None else None
    if limit is None or span is None:
        return None
    assert isinstance(w0.order_by, ColumnRef)
    order_col = f"c{w0.order_by.index}"
    hot = main.groupBy(*keys).count().where(F.col("count") > limit)
    hot_keys = [f"__h{j}" for j in range(len(keys))]
    hot = hot.select(*(F.col(k).alias(h) for k, h in zip(keys, hot_keys, strict=True)), "count")
    ts = order_ms(main, order_col)
    g = p.options.skew_max_slices
    grid = [j / g for j in range(1, g)]
    quantiles = (
        main.join(F.broadcast(hot), _null_safe(keys, hot_keys))
        .groupBy(*hot_keys)
        .agg(F.first("count").alias("n"), F.percentile_approx(ts, grid, 10_000).alias("q"))
        .collect()
    )
    rows = []
    for r in quantiles:
        q = r["q"]
        if q is None:
            continue
        slices = min(g, math.ceil(r["n"] / limit))
        picked = [q[round(k * g / slices) - 1] for k in range(1, slices)]
        cuts = sorted({int(c) for c in picked if c is not None})
        if cuts:
            rows.append((*(r[h] for h in hot_keys), cuts))
    if not rows:
        return None
    schema = StructType(
        [
            *(StructField(h, main.schema[k].dataType) for k, h in zip(keys, hot_keys, strict=True)),
            StructField(_CUTS, ArrayType(LongType())),
        ]
    )
    return Split(keys, order_col, span, p.spark.createDataFrame(rows, schema))
