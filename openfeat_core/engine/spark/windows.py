"""Window stages: one per group of windows sharing keys, order and unions; several groups rejoin on ``__rid``."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from openfeat_core.engine.spark import skew
from openfeat_core.engine.spark.plan_io import encode
from openfeat_core.engine.spark.worker import (
    RID,
    SLICE,
    SPARK_TYPES,
    SRC,
    SRC_MAIN,
    SRC_UNION0,
    ddl,
    keys_stage,
    outputs_stage,
    window_stage,
)
from openfeat_core.errors import NotSupportedError
from openfeat_core.plan.nodes import (
    ColumnRef,
    Expr,
    Field,
    LastJoin,
    Output,
    Scan,
    Select,
    WindowAgg,
    WindowDef,
    collect,
)
from openfeat_core.types import SQLType

if TYPE_CHECKING:
    from openfeat_core.engine.spark.planner import Planner, Rel


def _reads(fields: tuple[Field, ...], exprs: list[Expr | None]) -> set[int] | None:
    """Field positions read by ``exprs``; None when a reference is resolved by name rather than by its position
    (the evaluator's fallback), so that no column it may read is pruned."""
    out: set[int] = set()
    for e in exprs:
        if e is None:
            continue
        for r in collect(e, ColumnRef):
            if not (0 <= r.index < len(fields) and fields[r.index].name == r.name):
                return None
            out.add(r.index)
    return out


def key_columns(
    p: Planner,
    df: DataFrame,
    fields: tuple[Field, ...],
    exprs: tuple[Expr, ...],
    types: list[SQLType],
    offset: int = 0,
) -> tuple[DataFrame, list[str]]:
    """Columns to partition ``df`` by: the field columns themselves when the keys are plain columns of the wanted
    type, else ``k<j>`` computed by the engine (a narrow ``mapInArrow``, no shuffle). ``offset``: where ``fields``
    start in the relation the expressions' column positions refer to (a LAST JOIN's right side)."""
    direct = []
    for e, t in zip(exprs, types, strict=True):
        if not isinstance(e, ColumnRef):
            break
        i = e.index - offset
        if not (0 <= i < len(fields) and e.type is t and fields[i].name == e.name):
            break
        direct.append(f"c{i}")
    else:
        return df, direct
    schema = StructType([*df.schema.fields, *(StructField(f"k{j}", _spark_type(t)) for j, t in enumerate(types))])
    out = df.mapInArrow(keys_stage(encode((exprs, tuple(types), fields)), p.timezone), schema)
    return out, [f"k{j}" for j in range(len(exprs))]


def _spark_type(t: SQLType):  # type: ignore[no-untyped-def]
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(SPARK_TYPES[t])


def windows(p: Planner, plan: Select, src: Rel, aggs: list[WindowAgg]) -> DataFrame:
    """Every window aggregate of ``plan`` and its outputs, as a DataFrame of ``__rid`` and ``o<i>``."""
    groups: dict[tuple, list[WindowAgg]] = {}
    for a in aggs:
        groups.setdefault(plan.windows[a.window].sort_key(), []).append(a)
    for key, members in groups.items():
        for a in members:
            for inner in collect(a, WindowAgg):
                if plan.windows[inner.window].sort_key() != key:
                    raise NotSupportedError(
                        f"on Spark, an aggregate over window {plan.windows[a.window].name} nesting an aggregate over "
                        f"window {plan.windows[inner.window].name} (different partition or order)"
                    )
    if len(groups) == 1:
        return _group_stage(p, plan, src, next(iter(groups.values())), plan.outputs)
    # Several groups: each emits its aggregates for every main row; they rejoin on __rid, then the outputs.
    out_reads = _reads(src.fields, [o.expr for o in plan.outputs])
    keep = sorted(out_reads) if out_reads is not None else range(len(src.fields))
    joined = src.df.select(RID, *(f"c{i}" for i in keep))
    ordered: list[WindowAgg] = []
    for members in groups.values():
        outs = tuple(Output(f"a{len(ordered) + j}", a) for j, a in enumerate(members))
        stage = _group_stage(p, plan, src, members, outs)
        stage = stage.select(RID, *(F.col(f"o{j}").alias(f"a{len(ordered) + j}") for j in range(len(members))))
        ordered.extend(members)
        joined = joined.join(stage, RID, "inner")
    payload = encode((plan.outputs, src.fields, tuple(ordered)))
    out_ddl = ddl([(f"o{i}", o.expr.type) for i, o in enumerate(plan.outputs)])
    return joined.mapInArrow(outputs_stage(payload, p.timezone), out_ddl)


def _by_position(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """A chunk table's scan schema: the fields named ``c<i>`` (see :func:`.worker.column_table`)."""
    return tuple(Field(f.qualifier, f"c{i}", f.type) for i, f in enumerate(fields))


def _skew_probe(p: Planner, plan: Select, w0: WindowDef, keys: list[str], main: DataFrame) -> DataFrame:
    """Where hot keys are counted: the main table's scan when the keys and the order column are its plain columns
    (a LAST JOIN keeps every left row once and WHERE only removes rows, so its counts bound the stage's, and the cut
    points stay valid), so that the count does not run the LAST JOIN and WHERE stages a second time; else ``main``."""
    rel = plan.source
    while isinstance(rel, LastJoin):
        rel = rel.left
    if not isinstance(rel, Scan) or not rel.table:
        return main
    width = len(rel.schema)
    order = w0.order_by
    if not all(k.startswith("c") and int(k[1:]) < width for k in keys):
        return main
    if not (isinstance(order, ColumnRef) and 0 <= order.index < width):
        return main
    return p.scan(rel).df


def _group_stage(
    p: Planner, plan: Select, src: Rel, members: list[WindowAgg], outputs: tuple[Output, ...]
) -> DataFrame:
    """One window group's stage: main (and union, halo) rows partitioned by key, sorted, chunked, executed."""
    w0 = plan.windows[members[0].window]
    group = [i for i, w in enumerate(plan.windows) if w.sort_key() == w0.sort_key()]
    reads = _reads(src.fields, [*w0.partition_by, w0.order_by, *(a for a in members), *(o.expr for o in outputs)])
    needed = sorted(reads) if reads is not None else list(range(len(src.fields)))
    key_types = [e.type for e in w0.partition_by]
    main, keys = key_columns(p, src.df, src.fields, w0.partition_by, key_types)
    cols = [RID, *dict.fromkeys([*keys, *(f"c{i}" for i in needed)])]
    parts = [main.select(*cols, F.lit(SRC_MAIN).alias(SRC))]
    union_fields = []
    for i, u in enumerate(w0.unions):
        urel = p.relation(u)
        udf, _ = key_columns(p, urel.df, urel.fields, w0.partition_by, key_types)
        parts.append(udf.select(*cols, F.lit(SRC_UNION0 + i).alias(SRC)))
        union_fields.append(urel.fields)
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.unionByName(part)
    split = skew.plan_split(p, plan, w0, group, members, keys, _skew_probe(p, plan, w0, keys, parts[0]))
    sort_keys = list(keys)
    fields = src.fields
    partition_by = {i: plan.windows[i].partition_by for i in group}
    if split is not None:
        # A slice is a partition of its own for the executor too: the slice number becomes one more field (after the
        # relation's) and one more partition key of the group's windows, so the slices of a hot key that land in
        # one chunk never see each other's rows or halos.
        n = len(fields)
        rows = split.tag(rows).withColumn(f"c{n}", F.col(SLICE))
        sort_keys.append(SLICE)
        slice_field = Field("", SLICE, SQLType.INT32)
        fields = (*fields, slice_field)
        union_fields = [(*uf, slice_field) for uf in union_fields]
        slice_ref = ColumnRef("", SLICE, SQLType.INT32, n)
        partition_by = {i: (*keys_, slice_ref) for i, keys_ in partition_by.items()}
    # The group's windows read their union rows (and a split key's halo rows) from the chunk's tables.
    unions = tuple(
        Scan(f"__u{i}", u.alias if isinstance(u, Scan) else "", _by_position(uf))
        for i, (u, uf) in enumerate(zip(w0.unions, union_fields, strict=True))
    )
    if split is not None:
        unions = (Scan("__halo", "", _by_position(fields)), *unions)
    new_windows = tuple(
        replace(w, unions=unions, partition_by=partition_by[i]) if i in group else w for i, w in enumerate(plan.windows)
    )
    sub = Select(Scan("__main", "", fields), None, new_windows, outputs)
    payload = encode((sub, tuple(union_fields)))
    out_ddl = ddl([(f"o{i}", o.expr.type) for i, o in enumerate(outputs)])
    stage = window_stage(payload, p.timezone, sort_keys, p.options.chunk_rows, split is not None)
    return (
        rows.repartition(p.partitions, *sort_keys).sortWithinPartitions(*sort_keys, SRC, RID).mapInArrow(stage, out_ddl)
    )
