"""What runs on the Spark executors: Arrow batches in, OpenFeat's own executor on key-aligned chunks, Arrow out.

Nothing here imports pyspark: these functions are shipped (by cloudpickle) inside ``mapInArrow`` calls and see only
``pyarrow.RecordBatch`` iterators. Every expression, frame and aggregate is evaluated by
:mod:`openfeat_core.engine.executor` / :mod:`openfeat_core.engine.lastjoin`, unchanged; this module only cuts the
sorted partition stream into chunks of whole keys, rebuilds the engine's relations from the chunk's columns, and
writes the results back with the row id (``__rid``) that the driver rejoins and orders by.

Column naming inside stages: a relation's fields travel as ``c0, c1, ...`` (field position, since a joined or
sub-query relation may hold two columns of one name), window results as ``a0, a1, ...``, final outputs as
``o0, o1, ...``; ``__rid`` is the row id, ``__src`` the candidate source in a window stage (0 main rows, 1 halo rows
of a split hot key, 2+i the i-th union table), ``__side`` the side of a co-partitioned LAST JOIN (0 left, 1 right).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column
from openfeat_core.engine.executor import _run_grouped, _run_windows
from openfeat_core.engine.lastjoin import last_join
from openfeat_core.engine.relation import ColumnTable, RelationColumns, evaluate
from openfeat_core.engine.spark.plan_io import decode
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Expr, Field, LastJoin
from openfeat_core.types import SQLType

RID = "__rid"
SRC = "__src"
SIDE = "__side"
SLICE = "__slice"
#: ``__src`` values in a window stage.
SRC_MAIN, SRC_HALO, SRC_UNION0 = 0, 1, 2

#: Spark SQL type names of the engine types (a NULL-typed result is reported as bool, as the local engine does).
SPARK_TYPES: dict[SQLType, str] = {
    SQLType.BOOL: "boolean",
    SQLType.INT16: "smallint",
    SQLType.INT32: "int",
    SQLType.INT64: "bigint",
    SQLType.FLOAT: "float",
    SQLType.DOUBLE: "double",
    SQLType.STRING: "string",
    SQLType.DATE: "date",
    SQLType.TIMESTAMP: "timestamp",
    SQLType.NULL: "boolean",
}

MapFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def ddl(columns: Sequence[tuple[str, SQLType]]) -> str:
    """A Spark DDL schema (``mapInArrow``'s output schema) of ``__rid`` and ``columns``."""
    return ", ".join([f"`{RID}` bigint", *(f"`{n}` {spark_type_name(t)}" for n, t in columns)])


def spark_type_name(t: SQLType) -> str:
    """The Spark DDL type of ``t``: :data:`SPARK_TYPES`, and ``array<...>`` / ``map<..., ...>`` of them."""
    if t.is_array:
        return f"array<{spark_type_name(t.element)}>"
    if t.is_map:
        return f"map<{spark_type_name(t.map_key)}, {spark_type_name(t.map_value)}>"
    return SPARK_TYPES[t]


def _spark_arrow_type(t: pa.DataType) -> pa.DataType:
    """``t`` with every timestamp in microseconds, the unit of Spark's TimestampType (elements of lists and maps
    included)."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_map(t):
        return pa.map_(_spark_arrow_type(t.key_type), _spark_arrow_type(t.item_type))
    if pa.types.is_list(t):
        return pa.list_(_spark_arrow_type(t.value_type))
    return t


def relation(table: pa.Table, fields: Sequence[Field], prefix: str = "c") -> RelationColumns:
    """The engine relation of ``fields`` from the chunk's ``<prefix><i>`` columns.

    Columns the driver pruned (no expression of the stage reads them) become NULL columns: the executor only
    evaluates the expressions it is given, so they are never read.
    """
    names = set(table.column_names)
    cols = []
    for i, f in enumerate(fields):
        name = f"{prefix}{i}"
        cols.append(
            Column.from_arrow(table.column(name), f.type) if name in names else Column.nulls(f.type, table.num_rows)
        )
    return RelationColumns(tuple(fields), cols, table.num_rows)


def column_table(rel: RelationColumns) -> ColumnTable:
    """``rel`` as the table a union or halo ``Scan`` reads: columns named by position (``c<i>``), since a joined
    relation may hold two columns of one name (``t.ts`` and ``d.ts``); the executor lines union rows up with the
    main rows by position too."""
    return ColumnTable({f"c{i}": c for i, c in enumerate(rel.columns)}, rel.n)


def to_arrow(col: Column) -> pa.Array:
    """A result column in the Arrow type Spark expects for :data:`SPARK_TYPES`."""
    if col.type is SQLType.NULL:
        col = col.with_type(SQLType.BOOL)
    arr = col.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    target = _spark_arrow_type(arr.type)
    if target != arr.type:
        # Spark's TimestampType is microseconds since the epoch (UTC); the zone label does not change the instant.
        arr = arr.cast(target)
    return arr


def batch(rid: pa.Array | pa.ChunkedArray, columns: Sequence[tuple[str, Column]]) -> pa.RecordBatch:
    """``__rid`` plus result columns as one record batch."""
    if isinstance(rid, pa.ChunkedArray):
        rid = rid.combine_chunks()
    arrays = [rid.cast(pa.int64()), *(to_arrow(c) for _, c in columns)]
    return pa.RecordBatch.from_arrays(arrays, names=[RID, *(n for n, _ in columns)])


def _boundaries(table: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """Row positions ``i`` (1 ≤ i < n) where the key differs from row ``i-1``; NULL equals NULL."""
    n = table.num_rows
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    if not keys:
        return np.arange(1, n, dtype=np.int64)
    differs = np.zeros(n - 1, dtype=np.bool_)
    for k in keys:
        col = table.column(k).combine_chunks()
        a, b = col.slice(1), col.slice(0, n - 1)
        ne = pc.fill_null(pc.not_equal(a, b), True)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        differs |= pc.and_(ne, pc.invert(both_null)).to_numpy(zero_copy_only=False)
    return np.flatnonzero(differs).astype(np.int64) + 1


def key_chunks(batches: Iterator[pa.RecordBatch], keys: Sequence[str], min_rows: int) -> Iterator[pa.Table]:
    """Cut a stream sorted by ``keys`` into tables of whole keys, each of at least ``min_rows`` rows (the last one
    may be smaller). With no keys every row boundary is a cut (a LAST JOIN's left side, broadcast path).

    Rows already searched for a key boundary are not searched again when the next batch arrives (one key larger
    than ``min_rows`` would otherwise cost a search of all its rows per batch).
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    checked = 0  # rows of `pending` whose boundaries are known not to end a chunk
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        rows += b.num_rows
        if rows < min_rows:
            continue
        table = pa.Table.from_batches(pending)
        lo = max(checked - 1, 0)
        start = 0
        for cut in _boundaries(table.slice(lo), keys) + lo:
            if cut - start >= min_rows:
                yield table.slice(start, cut - start)
                start = int(cut)
        checked = table.num_rows - start
        if start:
            rest = table.slice(start)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def _take(table: pa.Table, mask: np.ndarray) -> pa.Table:
    return table.filter(pa.array(mask))


# ------------------------------------------------------------------------------------------------ stages


def filter_stage(payload: str, timezone: str) -> MapFn:
    """WHERE of a SELECT (row-local): keep the rows whose condition is true. ``payload``: (condition, fields)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cond_expr, fields = decode(payload)
        ctx = EvalContext(timezone)
        for b in batches:
            table = pa.Table.from_batches([b])
            cond = evaluate(cond_expr, relation(table, fields), ctx)
            keep = cond.valid & cond.values.astype(np.bool_)
            yield from _take(table, keep).to_batches()

    return run


def keys_stage(payload: str, timezone: str) -> MapFn:
    """Append key columns ``k0, k1, ...`` evaluated from expressions (partition or join keys that are not plain
    columns), cast to the type the driver chose so that both sides of a join hash alike.
    ``payload``: (key expressions, target types, fields)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        exprs, types, fields = decode(payload)
        ctx = EvalContext(timezone)
        for b in batches:
            table = pa.Table.from_batches([b])
            rel = relation(table, fields)
            for j, (e, t) in enumerate(zip(exprs, types, strict=True)):
                col = evaluate(e, rel, ctx)
                table = table.append_column(f"k{j}", to_arrow(col if col.type is t else col.with_type(t)))
            yield from table.to_batches()

    return run


def window_stage(payload: str, timezone: str, keys: Sequence[str], min_rows: int, halo: bool) -> MapFn:
    """One window group: per chunk of whole keys (and slices), the executor's own window evaluation.

    ``payload``: (sub-plan, union fields per union). The sub-plan's source schema is the main relation's; the
    group's windows scan their union rows from tables ``__u<i>`` and, when hot keys are split, the halo rows from
    ``__halo`` (the driver rewrote them so); its outputs are the group's aggregates, or the final outputs when
    the query has one window group. Emits ``__rid`` and ``o<i>`` per main row (halo rows are candidates only).
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        plan, union_fields = decode(payload)
        fields = plan.source.schema
        ctx = EvalContext(timezone)
        for chunk in key_chunks(batches, keys, min_rows):
            src = chunk.column(SRC).to_numpy()
            main_t = _take(chunk, src == SRC_MAIN)
            main = relation(main_t, fields)
            tables: dict[str, Any] = {}
            if halo:
                tables["__halo"] = column_table(relation(_take(chunk, src == SRC_HALO), fields))
            for i, uf in enumerate(union_fields):
                tables[f"__u{i}"] = column_table(relation(_take(chunk, src == SRC_UNION0 + i), uf))
            pre = _run_windows(plan, main, tables, ctx, None)
            cols = [(f"o{i}", evaluate(o.expr, main, ctx, pre)) for i, o in enumerate(plan.outputs)]
            yield batch(main_t.column(RID), cols)

    return run


def outputs_stage(payload: str, timezone: str) -> MapFn:
    """The final SELECT list over the rejoined row: relation columns ``c<i>`` and window results ``a<j>``.
    ``payload``: (outputs, fields, aggregates in ``a<j>`` order)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        outputs, fields, aggs = decode(payload)
        ctx = EvalContext(timezone)
        for b in batches:
            table = pa.Table.from_batches([b])
            rel = relation(table, fields)
            pre: dict[Expr, Column] = {a: Column.from_arrow(table.column(f"a{j}"), a.type) for j, a in enumerate(aggs)}
            cols = [(f"o{i}", evaluate(o.expr, rel, ctx, pre)) for i, o in enumerate(outputs)]
            yield batch(table.column(RID), cols)

    return run


def group_stage(payload: str, timezone: str) -> MapFn:
    """GROUP BY / aggregates without OVER, over the whole (filtered) relation in one task: the executor's grouped
    path needs every row of a group, and its output order is its own. ``payload``: (select, fields)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        sel, fields = decode(payload)
        ctx = EvalContext(timezone)
        bs = list(batches)
        table = pa.Table.from_batches(bs) if bs else None
        if table is None:
            return
        table = table.sort_by(RID)
        out = _run_grouped(sel, relation(table, fields), ctx)
        rid = pa.array(np.arange(out.n, dtype=np.int64))
        yield batch(rid, [(f"o{i}", c) for i, c in enumerate(out.columns)])

    return run


def _join_out(rid: pa.ChunkedArray | pa.Array, joined: RelationColumns) -> pa.RecordBatch:
    return batch(rid, [(f"c{i}", c) for i, c in enumerate(joined.columns)])


_BROADCAST_CACHE: dict[str, RelationColumns] = {}


def broadcast_join_stage(payload: str, timezone: str, right: Any, token: str, min_rows: int) -> MapFn:
    """LAST JOIN with the right side broadcast: each left chunk (no shuffle) is joined by the engine's sort-merge
    ``last_join`` against all right rows. ``right``: a Spark broadcast of the right side's Arrow IPC stream
    (``c<i>`` columns, rows in insertion order), deserialised once per Python worker and kept under ``token``
    (unique per broadcast). ``payload``: (join node,
    left fields, right fields)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        join, left_fields, right_fields = decode(payload)
        assert isinstance(join, LastJoin)
        ctx = EvalContext(timezone)
        rrel = _BROADCAST_CACHE.get(token)
        if rrel is None:
            with pa.ipc.open_stream(right.value) as reader:
                rrel = relation(reader.read_all(), right_fields)
            _BROADCAST_CACHE.clear()  # one broadcast join at a time per worker is what a job needs
            _BROADCAST_CACHE[token] = rrel
        for chunk in key_chunks(batches, (), min_rows):
            yield _join_out(chunk.column(RID), last_join(relation(chunk, left_fields), rrel, join, ctx))

    return run


def partitioned_join_stage(payload: str, timezone: str, keys: Sequence[str], min_rows: int) -> MapFn:
    """LAST JOIN with both sides co-partitioned by the equality keys: per chunk of whole keys, the left rows
    (``__side`` 0, ``c<i>``) and right rows (``__side`` 1, ``r<i>``, in insertion order) go through the engine's
    ``last_join``. ``payload``: (join node, left fields, right fields)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        join, left_fields, right_fields = decode(payload)
        ctx = EvalContext(timezone)
        for chunk in key_chunks(batches, keys, min_rows):
            side = chunk.column(SIDE).to_numpy()
            left_t = _take(chunk, side == 0)
            if left_t.num_rows == 0:
                continue
            rrel = relation(_take(chunk, side == 1), right_fields, "r")
            yield _join_out(left_t.column(RID), last_join(relation(left_t, left_fields), rrel, join, ctx))

    return run
