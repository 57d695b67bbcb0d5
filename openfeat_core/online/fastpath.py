"""The direct request path: per-key time series kept in engine layout, frames found by binary search.

The general request path re-runs the executor over small Arrow tables (conversion, sort and join per call). For
the common shape of a feature script (windows over the main table partitioned by its columns, LAST JOINs onto
tables by key with an as-of bound) a request needs far less: the stored rows of its key up to its time, already
sorted. This module keeps exactly that, per index, as rows arrive, and evaluates a request with the same frame
function (:func:`~openfeat_core.windowing.frame_bounds`) and the same aggregate kernels as every other path.
Scripts of any other shape use the general path; both give the same results (tests compare them with batch mode).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.functions.registry import REGISTRY, EvalContext
from openfeat_core.offline.executor import arrow_table
from openfeat_core.offline.lastjoin import as_of_bound
from openfeat_core.offline.relation import RelData, evaluate, order_values
from openfeat_core.plan.nodes import ColumnRef, Expr, Field, LastJoin, Scan, Select, WindowAgg, collect, qualifiers_read
from openfeat_core.types import SQLType, sql_type_of_arrow
from openfeat_core.windowing import frame_bounds


class GrowingColumns:
    """A table's columns in engine layout, appended in place (capacity doubles), read as views."""

    def __init__(self, schema: pa.Schema) -> None:
        self.types = [sql_type_of_arrow(f.type) for f in schema]
        self.names = list(schema.names)
        self.n = 0
        self.values = [np.zeros(16, dtype=t.numpy_dtype) for t in self.types]
        self.valid = [np.zeros(16, dtype=np.bool_) for _ in self.types]
        for v, t in zip(self.values, self.types, strict=True):
            if t is SQLType.STRING:
                v[:] = ""

    def append(self, batch: pa.RecordBatch) -> None:
        k = batch.num_rows
        need = self.n + k
        for i, t in enumerate(self.types):
            if need > len(self.values[i]):
                cap = max(need, 2 * len(self.values[i]))
                values = np.zeros(cap, dtype=t.numpy_dtype)
                if t is SQLType.STRING:
                    values[:] = ""
                values[: self.n] = self.values[i][: self.n]
                valid = np.zeros(cap, dtype=np.bool_)
                valid[: self.n] = self.valid[i][: self.n]
                self.values[i], self.valid[i] = values, valid
            col = Column.from_arrow(batch.column(i), t)
            self.values[i][self.n : need] = col.values
            self.valid[i][self.n : need] = col.valid
        self.n = need

    def take(self, name: str, ids: np.ndarray) -> Column:
        i = self.names.index(name)
        return Column(self.types[i], self.values[i][: self.n][ids], self.valid[i][: self.n][ids])


@dataclass
class Series:
    """Row ids of one key, sorted by order value then insertion; ``ts`` holds the order values."""

    ids: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)

    def add(self, row: int, ts: int) -> None:
        if not self.ts or ts >= self.ts[-1]:
            self.ids.append(row)
            self.ts.append(ts)
        else:  # a late row: after every stored row with an order value <= its own
            at = bisect.bisect_right(self.ts, ts)
            self.ids.insert(at, row)
            self.ts.insert(at, ts)


class SeriesIndex:
    """Key -> :class:`Series` for one (key columns, order column) of a table."""

    def __init__(self, keys: tuple[str, ...], order: str | None) -> None:
        self.keys = keys
        self.order = order
        self.series: dict[tuple[Any, ...], Series] = {}

    def add_rows(self, table: pa.Table, start: int) -> None:
        # Keys as the engine's Python values (timestamps as epoch ms), the form request rows are read in.
        key_cols = [Column.from_arrow(table.column(k)).to_pylist() for k in self.keys]
        if self.order is None:
            ts = [0] * table.num_rows
        else:
            ts = order_values(Column.from_arrow(table.column(self.order))).tolist()
        for i, key in enumerate(zip(*key_cols, strict=True)):
            self.series.setdefault(key, Series()).add(start + i, ts[i])


@dataclass(frozen=True)
class _JoinPlan:
    table: str
    left_keys: tuple[str, ...]
    index: tuple[tuple[str, ...], str | None]
    bound: tuple[str, str] | None  # (op, left column): right.order <op> left.column
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class FastPlan:
    """A deployment that the direct path can serve, and the indexes it reads."""

    main: Scan
    joins: tuple[_JoinPlan, ...]
    windows: tuple[tuple[tuple[str, ...], str | None], ...]  # per window: (partition columns, order column)

    def indexes(self) -> list[tuple[str, tuple[str, ...], str | None]]:
        out = [(self.main.table, keys, order) for keys, order in self.windows]
        out += [(j.table, *j.index) for j in self.joins]
        return out


def fast_plan(plan: Select) -> FastPlan | None:
    """The direct-path description of ``plan``, or ``None`` when it needs the general path."""
    rel = plan.source
    joins: list[LastJoin] = []
    while isinstance(rel, LastJoin):
        joins.append(rel)
        rel = rel.left
    if not isinstance(rel, Scan):
        return None
    main = rel
    main_quals = {main.alias, main.table}
    join_plans = []
    for join in reversed(joins):
        right = join.right
        if not isinstance(right, Scan):
            return None
        left_keys, right_keys = [], []
        for lexpr, rexpr in join.equi_keys:
            if not (isinstance(lexpr, ColumnRef) and isinstance(rexpr, ColumnRef) and lexpr.qualifier in main_quals):
                return None
            left_keys.append(lexpr.name)
            right_keys.append(rexpr.name)
        order = join.order_by
        if order is not None and not isinstance(order, ColumnRef):
            return None
        bound = None
        if join.residual is not None:
            # The one residual the direct path applies: an upper as-of bound by a main-table column.
            as_of = as_of_bound(join.residual, order, {right.alias, right.table})
            if as_of is None or as_of[0] not in ("le", "lt"):
                return None
            other = as_of[1]
            if not (isinstance(other, ColumnRef) and other.qualifier in main_quals):
                return None
            bound = (as_of[0], other.name)
        if not right_keys:
            return None
        join_plans.append(
            _JoinPlan(
                right.table,
                tuple(left_keys),
                (tuple(right_keys), order.name if order is not None else None),
                bound,
                right.schema,
            )
        )
    windows = []
    for w in plan.windows:
        if w.unions or w.frame.instance_not_in_window:
            return None
        if not all(isinstance(k, ColumnRef) and k.qualifier in main_quals for k in w.partition_by):
            return None
        if w.order_by is not None and not (isinstance(w.order_by, ColumnRef) and w.order_by.qualifier in main_quals):
            return None
        keys = tuple(k.name for k in w.partition_by if isinstance(k, ColumnRef))
        windows.append((keys, w.order_by.name if isinstance(w.order_by, ColumnRef) else None))
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            if any(collect(a, WindowAgg) for a in agg.args) or any(qualifiers_read(a) - main_quals for a in agg.args):
                return None
    return FastPlan(main, tuple(join_plans), tuple(windows))


def serve_request(
    plan: Select,
    fast: FastPlan,
    requests: pa.Table,
    columns: dict[str, GrowingColumns],
    series: dict[tuple[str, tuple[str, ...], str | None], SeriesIndex],
    ctx: EvalContext,
) -> pa.Table:
    """Compute ``requests`` (rows of the main table) the direct way."""
    k = requests.num_rows
    req_cols = [Column.from_arrow(requests.column(f.name), f.type) for f in fast.main.schema]
    fields = list(fast.main.schema)
    cols = list(req_cols)
    req_values = {f.name: c.to_pylist() for f, c in zip(fast.main.schema, req_cols, strict=True)}
    for join in fast.joins:
        index = series[(join.table, join.index[0], join.index[1])]
        match = np.full(k, -1, dtype=np.int64)
        for j in range(k):
            key = tuple(req_values[c][j] for c in join.left_keys)
            s = index.series.get(key)
            if s is None:  # NULL keys match NULL keys, as in batch mode's LAST JOIN
                continue
            end = len(s.ids)
            if join.bound is not None:
                op, bound_column = join.bound
                limit = req_values[bound_column][j]
                if limit is None:
                    continue
                limit = _order_int(limit)
                end = bisect.bisect_right(s.ts, limit) if op == "le" else bisect.bisect_left(s.ts, limit)
            if end > 0:
                match[j] = s.ids[end - 1]
        store = columns[join.table]
        ok = match >= 0
        safe = np.where(ok, match, 0)
        for f in join.fields:
            if store.n == 0:
                cols.append(Column.nulls(f.type, k))
                continue
            taken = store.take(f.name, safe)
            cols.append(Column(taken.type, taken.values, taken.valid & ok))
        fields.extend(join.fields)
    rel = RelData(tuple(fields), cols, k)

    pre: dict[Expr, Column] = {}
    by_window: dict[int, list[WindowAgg]] = {}
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            if agg not in by_window.setdefault(agg.window, []):
                by_window[agg.window].append(agg)
    main_store = columns[fast.main.table]
    for wi, window_aggs in by_window.items():
        keys, order = fast.windows[wi]
        window = plan.windows[wi]
        index = series[(fast.main.table, keys, order)]
        # Only the columns the aggregates read are gathered, once per window and request row.
        needed = sorted({c.name for agg in window_aggs for a in agg.args for c in collect(a, ColumnRef)})
        needed_fields = tuple(f for f in fast.main.schema if f.name in needed)
        positions = [fast.main.schema.index(f) for f in needed_fields]
        outs: dict[WindowAgg, list[Column]] = {agg: [] for agg in window_aggs}
        for j in range(k):
            s = index.series.get(tuple(req_values[c][j] for c in keys))
            req_ts = _order_int(req_values[order][j]) if order is not None else 0
            if s is None:
                ids, ts = [], []
            else:
                hi = bisect.bisect_right(s.ts, req_ts) if order is not None else len(s.ids)
                ids, ts = s.ids[:hi], s.ts[:hi]
            idx = np.asarray(ids, dtype=np.int64)
            n = len(ids)
            me = np.array([j])
            cand = RelData(
                needed_fields,
                [
                    Column.concat([main_store.take(f.name, idx), req_cols[p].take(me)])
                    for f, p in zip(needed_fields, positions, strict=True)
                ],
                n + 1,
            )
            frames = frame_bounds(
                window.frame,
                np.asarray([*ts, req_ts], dtype=np.int64),
                np.zeros(1, np.int64),
                np.full(1, n, np.int64),
                np.full(1, n, np.int64),
                np.full(1, req_ts, np.int64),
                monotone=False,
            )
            for agg in window_aggs:
                fn = REGISTRY.aggregate(agg.name)
                assert fn is not None
                col = fn.impl([evaluate(a, cand, ctx) for a in agg.args], frames, ctx)
                outs[agg].append(col if col.type is agg.type else col.with_type(agg.type))
        for agg, parts in outs.items():
            pre[agg] = Column.concat(parts)
    out_cols = [evaluate(o.expr, rel, ctx, pre) for o in plan.outputs]
    return arrow_table(out_cols, [o.name for o in plan.outputs])


def _order_int(v: Any) -> int:
    """An order value as the int64 the series hold (timestamps as epoch ms)."""
    if isinstance(v, int):
        return v
    import datetime as _dt

    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return int(v.timestamp() * 1000)
    return int(v)
