"""How a request is computed: the request plan a DEPLOY compiles, and the direct access that serves it.

:func:`compile_request_plan` analyses a deployed script once. For each window and LAST JOIN it records the access
requests use, or why the direct access cannot serve it (:class:`PartAccess`, shown by ``describe_deployment``); it
lists the indexes the deployment keeps, with their retention (the TTLs of docs/semantics.md section 9).

The direct access (:func:`serve_request`): for the common shape of a feature script (windows over the main table
partitioned by its columns, LAST JOINs onto tables by key with an as-of bound) a request needs the stored rows of
its key up to its time, which the table's indexes keep sorted, per key, in engine layout
(:mod:`openfeat_core.online.tables`). The same frame function
(:func:`~openfeat_core.engine.windowing.frame_bounds`), aggregate kernels and LAST JOIN rule
(:func:`~openfeat_core.engine.lastjoin.as_of_cut`) as batch mode run on those arrays: one request row reads its key's
arrays in place; several rows are laid out once and computed in one pass, whatever their keys.

A script with a part the direct access cannot serve is computed by the executor's request mode, over the rows its
request can reach gathered from the same indexes (:class:`Lookup`); both give batch mode's results (property tests
compare them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column, all_valid
from openfeat_core.engine.executor import main_path, main_scan
from openfeat_core.engine.lastjoin import as_of_bound, as_of_cut, cut_one, newest
from openfeat_core.engine.relation import RelationColumns, evaluate, order_values
from openfeat_core.engine.windowing import frame_bounds, request_frame
from openfeat_core.errors import NotSupportedError
from openfeat_core.functions.registry import REGISTRY, AggregateImpl, EvalContext, WindowFrames
from openfeat_core.online.preagg import Bucketing, Preaggregate
from openfeat_core.online.tables import TTL, Index, IndexSpec, KeySeries, StoredTable, window_ttl
from openfeat_core.plan.nodes import (
    ColumnRef,
    Expr,
    Field,
    Frame,
    LastJoin,
    LeftJoin,
    Literal,
    Scan,
    Select,
    SubqueryRel,
    UnionAll,
    WindowAgg,
    WindowDef,
    collect,
    qualifiers_read,
    tables_read,
)
from openfeat_core.types import SQLType

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class _JoinPlan:
    table: str
    left_keys: tuple[int, ...]  # positions in the main table
    index: tuple[tuple[str, ...], str | None]
    bound: tuple[str, int] | None  # (op, main-table position): right.order <op> left.column
    fields: tuple[Field, ...]
    positions: tuple[int, ...]  # of ``fields`` in the right table
    ttl: TTL


@dataclass(frozen=True)
class _WindowPlan:
    frame: Frame
    keys: tuple[str, ...]
    key_positions: tuple[int, ...]
    order: str | None
    order_position: int | None
    aggregates: tuple[WindowAgg, ...]
    ttl: TTL
    # Per aggregate: its kernel and, per argument, the main-table column it reads directly (None: an expression).
    calls: tuple[tuple[WindowAgg, AggregateImpl, tuple[int | None, ...]], ...]
    # The main-table columns the aggregates read (all of them if any argument is an expression).
    columns: tuple[int, ...]
    bucket: Bucketing | None  # long window: pre-aggregated in these buckets (OPTIONS(long_windows=...))
    schema: tuple[Field, ...]  # the main table's columns (what expression arguments read)


#: How an output of a deployment is produced (:attr:`FastPlan.outputs`).
_AGGREGATE, _COLUMN, _EXPRESSION = 0, 1, 2


@dataclass(frozen=True)
class DirectPlan:
    """A deployment whose every window and LAST JOIN the direct access serves, and the indexes it reads."""

    main: Scan
    joins: tuple[_JoinPlan, ...]
    windows: tuple[_WindowPlan, ...]
    # The columns of a joined row: the main table's, then each joined table's.
    fields: tuple[Field, ...]
    # Every window aggregate, windows in order and each window's in the order of its calls.
    aggregates: tuple[WindowAgg, ...]
    # Per output: (_AGGREGATE, position in ``aggregates``), (_COLUMN, position in ``fields``) or (_EXPRESSION, 0).
    outputs: tuple[tuple[int, int], ...]
    tables: tuple[str, ...]  # the tables a request reads


@dataclass(frozen=True)
class PartAccess:
    """How requests reach the stored rows of one window or LAST JOIN (or of the FROM relation).

    Attributes:
        part: the part as the script names it (``window w1d``, ``LAST JOIN prof``, ``FROM t``).
        reason: why the direct access cannot serve it (a sentence naming the part, or the aggregate over it, and
            what in it the direct access does not read), or ``None``: it can.
    """

    part: str
    reason: str | None = None


@dataclass(frozen=True)
class Lookup:
    """How the executor's request mode finds the stored rows a request can see: rows of ``table`` whose
    ``index_keys`` equal the request's ``request_keys`` (``None``: every row of the table is reachable)."""

    table: str
    index_keys: tuple[str, ...]
    request_keys: tuple[str, ...] | None


@dataclass(frozen=True)
class RequestPlan:
    """A deployed script compiled for requests, once, at DEPLOY.

    Attributes:
        parts: per LAST JOIN and window (in script order), the access it can use, or why it cannot be direct.
        direct: the direct plan when every part can be direct, else ``None``: requests run the executor's request
            mode over rows gathered from the same indexes, found through ``lookups``.
        indexes: the indexes the deployment keeps, with the retention its windows and joins need (TTLs of one
            index merged), before the DEPLOY options' biases and the tables' declared TTLs widen them.
        lookups: for the executor's request mode, how a request reaches each table's rows.
    """

    parts: tuple[PartAccess, ...]
    direct: DirectPlan | None
    indexes: tuple[IndexSpec, ...]
    lookups: tuple[Lookup, ...]

    @property
    def reason(self) -> str | None:
        """Why requests are computed by the executor's request mode (the first part that cannot be direct)."""
        return next((p.reason for p in self.parts if p.reason is not None), None)

    def describe(self) -> dict[str, Any]:
        """The access as ``describe_deployment`` reports it: the path requests take (and why, for request mode),
        then each part's access."""
        reason = self.reason
        out: dict[str, Any] = {"path": "direct"} if reason is None else {"path": "request_mode", "reason": reason}
        out["parts"] = [
            {"part": p.part, "direct": True}
            if p.reason is None
            else {"part": p.part, "direct": False, "reason": p.reason}
            for p in self.parts
        ]
        return out


def _join_name(right: Scan | SubqueryRel | LastJoin | LeftJoin | UnionAll) -> str:
    """How a reason names a LAST JOIN: by its right side as written in the script."""
    if isinstance(right, Scan):
        return right.table if right.alias == right.table else f"{right.table} AS {right.alias}"
    return right.alias if isinstance(right, (SubqueryRel, UnionAll)) else "a nested join"


def _column_text(e: Expr) -> str:
    """A column as the script names it; an expression is not rendered back to SQL, only marked as one."""
    return f"{e.qualifier}.{e.name}" if isinstance(e, ColumnRef) else "<expression>"


def compile_request_plan(plan: Select, long_windows: Mapping[int, Bucketing] | None = None) -> RequestPlan:
    """Compile ``plan`` for requests: each part's access, the direct plan when every part can be direct, and the
    indexes the deployment keeps.

    Args:
        plan: the deployed script (bound).
        long_windows: window index -> the buckets of the windows to pre-aggregate.

    Raises:
        NotSupportedError: the script cannot run online (:func:`check_deployable`).
    """
    check_deployable(plan)
    long_windows = long_windows or {}
    rel = plan.source
    joins: list[LastJoin] = []
    while isinstance(rel, LastJoin):
        joins.append(rel)
        rel = rel.left
    joins.reverse()
    if not isinstance(rel, Scan):
        what = f"FROM {_join_name(rel)}"
        part = PartAccess(what, f"{what}: the main relation is a subquery, not a stored table")
        return _executor_plan(plan, (part,))
    main = rel
    main_quals = {main.alias, main.table}
    main_names = [f.name for f in main.schema]
    parts: list[PartAccess] = []
    join_plans: list[_JoinPlan] = []
    for join in joins:
        what = f"LAST JOIN {_join_name(join.right)}"
        planned = _join_plan(join, main, main_quals, main_names)
        parts.append(PartAccess(what, f"{what}: {planned}" if isinstance(planned, str) else None))
        if not isinstance(planned, str):
            join_plans.append(planned)
    by_window: dict[int, list[WindowAgg]] = {}
    refused: dict[int, str] = {}
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            what = f"{agg.name} over window {plan.windows[agg.window].name}"
            if any(collect(a, WindowAgg) for a in agg.args):
                refused.setdefault(agg.window, f"{what}: an argument is itself a window aggregate")
            elif any(qualifiers_read(a) - main_quals for a in agg.args):
                refused.setdefault(
                    agg.window, f"{what}: an argument reads a joined table's column, not only {main.table}'s"
                )
            if agg not in by_window.setdefault(agg.window, []):
                by_window[agg.window].append(agg)
    windows = []
    for wi, w in enumerate(plan.windows):
        refusal = _window_refusal(w, main, main_quals)
        reason = refused.get(wi) or (f"window {w.name}: {refusal}" if refusal else None)
        parts.append(PartAccess(f"window {w.name}", reason))
        if reason is not None:
            continue
        keys = tuple(k.name for k in w.partition_by if isinstance(k, ColumnRef))
        order_name = w.order_by.name if isinstance(w.order_by, ColumnRef) else None
        calls = tuple(
            (agg, _aggregate_impl(agg.name), tuple(_direct_column(a, main_quals, main_names) for a in agg.args))
            for agg in by_window.get(wi, [])
        )
        read = {p for _, _, positions in calls for p in positions}
        columns = tuple(range(len(main_names))) if None in read else tuple(sorted(p for p in read if p is not None))
        windows.append(
            _WindowPlan(
                w.frame,
                keys,
                tuple(main_names.index(k) for k in keys),
                order_name,
                main_names.index(order_name) if order_name is not None else None,
                tuple(by_window.get(wi, [])),
                _reach(w.frame, by_window.get(wi, [])),
                calls,
                columns,
                long_windows.get(wi),
                main.schema,
            )
        )
    if any(p.reason is not None for p in parts):
        return _executor_plan(plan, tuple(parts))
    joined = [(main_quals, f.name) for f in main.schema]
    for join in joins:
        assert isinstance(join.right, Scan)
        joined += [({join.right.alias, join.right.table}, f.name) for f in join.right.schema]
    aggregates = tuple(agg for w in windows for agg in w.aggregates)
    outputs = []
    for o in plan.outputs:
        column = None
        if isinstance(o.expr, ColumnRef):
            column = next((i for i, (q, n) in enumerate(joined) if o.expr.qualifier in q and o.expr.name == n), None)
        if isinstance(o.expr, WindowAgg):
            outputs.append((_AGGREGATE, aggregates.index(o.expr)))
        elif column is not None:
            outputs.append((_COLUMN, column))
        else:
            outputs.append((_EXPRESSION, 0))
    fields = (*main.schema, *(f for j in join_plans for f in j.fields))
    tables = tuple(dict.fromkeys([main.table, *(j.table for j in join_plans)]))
    direct = DirectPlan(main, tuple(join_plans), tuple(windows), fields, aggregates, tuple(outputs), tables)
    # One TTL per index, merged over every reader.
    merged: dict[tuple[str, tuple[str, ...], str | None], TTL] = {}
    for table, keys, order, ttl in [(main.table, w.keys, w.order, w.ttl) for w in windows] + [
        (j.table, *j.index, j.ttl) for j in join_plans
    ]:
        merged[(table, keys, order)] = (
            merged[(table, keys, order)].merge(ttl) if (table, keys, order) in merged else ttl
        )
    indexes = tuple(IndexSpec(t, k, o, ttl) for (t, k, o), ttl in merged.items())
    return RequestPlan(tuple(parts), direct, indexes, ())


def check_deployable(plan: Select) -> None:
    """OpenMLDB's online restrictions: a request computes one row per request row, from windows and joins.

    Raises:
        NotSupportedError: the script cannot be deployed, with every reason.
    """
    reasons = []
    if not main_scan(plan).table:
        reasons.append("no FROM table (a deployment computes features of the rows of a table)")
    if plan.where is not None:
        reasons.append("WHERE (filter inside aggregates with the *_where functions instead)")
    if plan.group_by or plan.is_aggregation:
        reasons.append("GROUP BY or aggregates without OVER")
    if plan.having is not None:
        reasons.append("HAVING")
    if plan.limit is not None:
        reasons.append("LIMIT")
    for rel in main_path(plan):
        if isinstance(rel, LeftJoin):
            reasons.append("LEFT JOIN from the main table (it gives a request several rows; LEFT JOIN runs offline)")
            break
        if isinstance(rel, UnionAll):
            reasons.append("UNION ALL as the main relation (a request is one row of one table; UNION ALL runs offline)")
            break
        if isinstance(rel, SubqueryRel) and (rel.query.is_aggregation or rel.query.having is not None):
            # One row per group, not per request row: a request row has no group to be computed in.
            reasons.append(f"GROUP BY or aggregates without OVER in subquery {rel.alias!r} on the main table's path")
            break
    for w in plan.windows:
        keys_ok = all(isinstance(k, ColumnRef) for k in w.partition_by)
        if not keys_ok:
            reasons.append(f"window {w.name!r} partitions by an expression (online windows need index key columns)")
    if reasons:
        raise NotSupportedError("this script cannot be deployed: " + "; ".join(reasons))


def _reach(frame: Frame, aggregates: Sequence[WindowAgg]) -> TTL:
    """The history a window's aggregates read: its frame's (:func:`window_ttl`), and for ``lag``/``at``, which
    ignore the frame, the rows back to their offset (every row when the offset is not a constant).

    Under ``EXCLUDE CURRENT_TIME`` they count back from the rows before the current time, past every row that shares
    it, and no count or age bounds those: every row is kept (found by the data-clock eviction property test: with
    twenty rows at one time, ``lag(x, 2)`` read an evicted row)."""
    ttl = window_ttl(frame)
    for agg in aggregates:
        if agg.name in ("lag", "at"):
            n = agg.args[1] if len(agg.args) > 1 else None
            constant = isinstance(n, Literal) and isinstance(n.value, int) and n.value >= 0
            bounded = constant and not frame.exclude_current_time
            ttl = ttl.merge(TTL(rows=int(n.value) + 1) if bounded else TTL())  # type: ignore[union-attr]
    return ttl


def _join_plan(join: LastJoin, main: Scan, main_quals: set[str], main_names: list[str]) -> _JoinPlan | str:
    """The direct access of one LAST JOIN, or why there is none."""
    right = join.right
    if not isinstance(right, Scan):
        return "the joined relation is a subquery, not a stored table"
    left_keys, right_keys = [], []
    for lexpr, rexpr in join.equi_keys:
        if not (isinstance(lexpr, ColumnRef) and isinstance(rexpr, ColumnRef) and lexpr.qualifier in main_quals):
            return (
                f"an ON equality ({_column_text(lexpr)} = {_column_text(rexpr)}) is not between a column "
                f"of {main.table} and a column of {right.table}"
            )
        left_keys.append(main_names.index(lexpr.name))
        right_keys.append(rexpr.name)
    order = join.order_by
    if order is not None and not isinstance(order, ColumnRef):
        return f"ORDER BY is an expression, not a column of {right.table}"
    if join.descending:
        return "ORDER BY ... DESC matches the oldest row, and the index serves the newest first"
    bound = None
    if join.residual is not None:
        # The one residual the direct access applies: an upper as-of bound by a main-table column.
        as_of = as_of_bound(join.residual, order, {right.alias, right.table})
        if as_of is None:
            return (
                "the ON condition besides the key equalities is not one comparison of the ORDER BY column with the "
                "request row"
            )
        if as_of[0] not in ("le", "lt"):
            return "the ON condition bounds the ORDER BY column from below (> or >=)"
        other = as_of[1]
        if not (isinstance(other, ColumnRef) and other.qualifier in main_quals):
            return f"the ORDER BY column is bounded by {_column_text(other)}, not by a column of {main.table}"
        bound = (as_of[0], main_names.index(other.name))
    if not right_keys:
        return "the ON condition has no equality between the tables (no key to look up by)"
    right_names = [f.name for f in right.schema]
    # The newest match is all a join reads, unless a bound makes older rows reachable (LAST JOIN's retention).
    ttl = TTL() if bound is not None else TTL(rows=1)
    return _JoinPlan(
        right.table,
        tuple(left_keys),
        (tuple(right_keys), order.name if order is not None else None),
        bound,
        right.schema,
        tuple(right_names.index(f.name) for f in right.schema),
        ttl,
    )


def _window_refusal(w: WindowDef, main: Scan, main_quals: set[str]) -> str | None:
    """Why the direct access cannot serve window ``w`` (None: it can)."""
    if w.unions:
        return "UNION adds the rows of other tables to the window"
    if w.frame.instance_not_in_window:
        return f"INSTANCE_NOT_IN_WINDOW leaves the stored rows of {main.table} out of the window"
    for k in w.partition_by:
        if not (isinstance(k, ColumnRef) and k.qualifier in main_quals):
            return f"PARTITION BY {_column_text(k)} is not a column of {main.table}"
    if w.order_by is not None and not (isinstance(w.order_by, ColumnRef) and w.order_by.qualifier in main_quals):
        return f"ORDER BY {_column_text(w.order_by)} is not a column of {main.table}"
    return None


def _executor_plan(plan: Select, parts: tuple[PartAccess, ...]) -> RequestPlan:
    """The plan of a deployment the executor's request mode computes: which rows of which table a request can
    reach (by key through an index without TTL, or all of them), as OpenMLDB derives its indexes."""
    lookups: dict[Lookup, None] = {}
    main = main_scan(plan)
    main_quals = {main.alias, main.table}
    leftmost = plan.source
    while isinstance(leftmost, LastJoin):
        leftmost = leftmost.left
    for window in plan.windows:
        refs = [k for k in window.partition_by if isinstance(k, ColumnRef)]
        keys = tuple(k.name for k in refs)
        ts = window.order_by.name if isinstance(window.order_by, ColumnRef) else None
        # The main table is reached by the window's keys only when they are its own columns (not a subquery's
        # outputs or a joined table's, whose names may repeat the main table's); otherwise every row is reachable.
        on_main = (
            leftmost is main
            and all(k.qualifier in main_quals for k in refs)
            and (ts is None or (isinstance(window.order_by, ColumnRef) and window.order_by.qualifier in main_quals))
        )
        lookups[Lookup(main.table, keys, keys if on_main else None)] = None
        for union in window.unions:
            names = {f.name for f in union.schema}
            if isinstance(union, Scan) and set(keys) <= names and (ts is None or ts in names):
                lookups[Lookup(union.table, keys, keys if on_main else None)] = None
    # Columns of joined tables that windows read: then stored main rows in a window need their own join matches, and
    # a join's stored rows cannot be narrowed to the request's key.
    window_reads: set[str] = set()
    for window in plan.windows:
        for e in (*window.partition_by, *([window.order_by] if window.order_by is not None else [])):
            window_reads |= qualifiers_read(e)
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            for a in agg.args:
                window_reads |= qualifiers_read(a)
    rel = plan.source
    joins: list[LastJoin] = []
    while isinstance(rel, LastJoin):
        joins.append(rel)
        rel = rel.left
    for join in joins:
        if isinstance(join.right, Scan):
            pairs = [(a, b) for a, b in join.equi_keys if isinstance(a, ColumnRef) and isinstance(b, ColumnRef)]
            keys = tuple(r.name for _, r in pairs)
            direct = (
                bool(keys)
                and len(pairs) == len(join.equi_keys)
                and all(lft.qualifier in main_quals for lft, _ in pairs)
                and not window_reads & {join.right.alias, join.right.table}
            )
            lookups[Lookup(join.right.table, keys, tuple(lft.name for lft, _ in pairs) if direct else None)] = None
    reached = {lk.table for lk in lookups if lk.request_keys is not None}
    everything = {lk.table for lk in lookups if lk.request_keys is None} | (tables_read(plan) - reached)
    # A table reached by key and also in full (a subquery reads it): every row.
    found = tuple(lk for lk in lookups if lk.request_keys is not None and lk.table not in everything)
    found += tuple(Lookup(t, (), None) for t in sorted(everything))
    indexes = tuple(IndexSpec(lk.table, lk.index_keys, None, TTL()) for lk in found)
    return RequestPlan(parts, None, indexes, found)


def _aggregate_impl(name: str) -> AggregateImpl:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name  # the binder resolved it
    return fn.impl


def _direct_column(e: Expr, quals: set[str], names: list[str]) -> int | None:
    """The main-table position of a bare column reference (read without evaluating anything), else None."""
    if isinstance(e, ColumnRef) and e.qualifier in quals:
        return names.index(e.name)
    return None


# --------------------------------------------------------------------------------------------- batch requests
@dataclass(frozen=True)
class BatchSplit:
    """A deployed script cut for batch requests whose ``common`` request columns hold one value in every row.

    The **common outputs** (:func:`common_output_positions`) are the same for every row of such a batch: they are
    computed once, for the batch's first row, by ``common_plan``; the others for every row by ``per_row_plan``. Both
    are the deployed plan with only those outputs, computed by the same request path as the whole plan.

    Attributes:
        common: the positions of the outputs computed once.
        per_row: the positions of the outputs computed for every row.
        common_plan / per_row_plan: the deployed plan restricted to those outputs (``None``: no such output).
        common_direct / per_row_direct: their direct plans when the deployment is served directly, else ``None``
            (the executor's request mode computes them, over the rows the whole plan's lookups reach).
    """

    common: tuple[int, ...]
    per_row: tuple[int, ...]
    common_plan: Select | None
    per_row_plan: Select | None
    common_direct: DirectPlan | None
    per_row_direct: DirectPlan | None


def common_output_positions(plan: Select, common: Collection[str]) -> tuple[int, ...]:
    """The outputs of ``plan`` that are the same for every row of a batch whose request columns ``common`` (main-table
    column names) hold one value in every row: OpenMLDB's output common columns (hybridse's CommonColumnOptimize).

    The rule, as OpenMLDB's: a LAST JOIN is common when every request-side column its ON condition and ORDER BY read
    is common (then all its columns are); a window is common when its PARTITION BY and ORDER BY read common columns
    only. An output is common when it reads at least one column and only common columns (inside its aggregates too),
    and every window it aggregates over is common: a window over common keys still holds the request row itself, so
    an aggregate of a column that differs between the rows differs too. An output without window aggregate belongs
    to the first window the SELECT list aggregates over, as OpenMLDB's planner merges it into that window's
    projection: it is not common when that window is not. Every output is common when every request column is, none
    when none is. A subquery as the main relation passes its own common outputs on as common columns (the same rule
    inside it); a UNION as the main relation has no common output.
    """
    source = plan.source
    joins: list[LastJoin] = []
    while isinstance(source, LastJoin):
        joins.append(source)
        source = source.left
    if not common:
        return ()
    if isinstance(source, Scan):
        names = {f.name for f in source.schema}
        passed = [n for n in common if n in names]
    elif isinstance(source, SubqueryRel):
        names = {f.name for f in source.schema}
        passed = [source.schema[i].name for i in common_output_positions(source.query, common)]
    else:
        return ()
    if names <= set(passed):
        return tuple(range(len(plan.outputs)))
    shared = {(source.alias, n) for n in passed}
    for join in reversed(joins):  # innermost first: a later join's ON may read an earlier join's columns
        right = join.right
        if not isinstance(right, (Scan, SubqueryRel, UnionAll)):
            continue  # a join as the right side: its columns are taken as per-row
        reads: set[tuple[str, str]] = set()
        for e in (*(x for pair in join.equi_keys for x in pair), join.residual, join.order_by):
            if e is not None:
                reads |= _reads(e)
        if {r for r in reads if r[0] != right.alias} <= shared:
            shared |= {(right.alias, f.name) for f in right.schema}
    window_common = [
        all(_reads(k) <= shared for k in w.partition_by) and (w.order_by is None or _reads(w.order_by) <= shared)
        for w in plan.windows
    ]
    first = next((a.window for o in plan.outputs for a in collect(o.expr, WindowAgg)), None)
    out = []
    for i, o in enumerate(plan.outputs):
        reads = _reads(o.expr)
        windows = {a.window for a in collect(o.expr, WindowAgg)} or ({first} if first is not None else set())
        if reads and reads <= shared and all(window_common[w] for w in windows):
            out.append(i)
    return tuple(out)


def _reads(e: Expr) -> set[tuple[str, str]]:
    """The columns ``e`` reads (in its aggregates' arguments too), as (qualifier, name)."""
    return {(c.qualifier, c.name) for c in collect(e, ColumnRef)}


def split_batch_plan(
    plan: Select, compiled: RequestPlan, common: Collection[str], long_windows: Mapping[int, Bucketing] | None = None
) -> BatchSplit:
    """Cut the deployed ``plan`` (compiled as ``compiled``, with its long windows) for batches whose request columns
    ``common`` hold one value in every row (:class:`BatchSplit`)."""
    shared = common_output_positions(plan, common)
    per_row = tuple(i for i in range(len(plan.outputs)) if i not in shared)

    def part(positions: tuple[int, ...]) -> tuple[Select | None, DirectPlan | None]:
        if not positions:
            return None, None
        sub = dataclasses.replace(plan, outputs=tuple(plan.outputs[i] for i in positions))
        if compiled.direct is None:
            return sub, None
        # A part reads a subset of the windows and aggregates of a plan served directly: it is served directly too,
        # from the indexes the deployment keeps.
        direct = compile_request_plan(sub, long_windows).direct
        assert direct is not None, "a part of a direct plan is direct"
        return sub, direct

    common_plan, common_direct = part(shared)
    per_row_plan, per_row_direct = part(per_row)
    return BatchSplit(shared, per_row, common_plan, per_row_plan, common_direct, per_row_direct)


# --------------------------------------------------------------------------------------------- requests
class RequestColumns:
    """Request rows in engine layout: per main-table column its physical values, validity and Python values."""

    def __init__(self, rows: StoredTable, per_column: list[list[Any]]) -> None:
        self.py = per_column
        self.k = k = len(per_column[0]) if per_column else 0
        self.values: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.dictionaries: dict[int, np.ndarray] = {}
        self._order_values: dict[int, list[int]] = {}
        for i, (t, vals) in enumerate(zip(rows.types, per_column, strict=True)):
            has_null = None in vals
            self.valid.append(
                np.fromiter((v is not None for v in vals), dtype=np.bool_, count=k) if has_null else all_valid(k)
            )
            if i in rows.strings:
                codes, dictionary = rows.strings[i].request_codes(["" if v is None else v for v in vals])
                self.values.append(codes)
                self.dictionaries[i] = dictionary
            elif has_null:
                zero = False if t is SQLType.BOOL else 0
                self.values.append(np.array([zero if v is None else v for v in vals], dtype=rows.dtypes[i]))
            else:
                self.values.append(np.array(vals, dtype=rows.dtypes[i]))

    @staticmethod
    def from_arrow(rows: StoredTable, table: pa.Table) -> RequestColumns:
        per_column = []
        for i, t in enumerate(rows.types):
            col = Column.from_arrow(table.column(i), t)
            # Physical values (dates as days, timestamps as ms), as online.rows.check_rows gives them.
            per_column.append(
                [v if ok else None for v, ok in zip(col.values.tolist(), col.valid.tolist(), strict=True)]
            )
        return RequestColumns(rows, per_column)

    def column(self, rows: StoredTable, i: int) -> Column:
        return rows.column(i, self.values[i], self.valid[i], self.dictionaries.get(i))

    def order_values(self, rows: StoredTable, p: int | None) -> list[int]:
        """Per request row, its int64 order value in column ``p`` (``None``: no order column, all 0)."""
        if p is None:
            return [0] * self.k
        cached = self._order_values.get(p)
        if cached is None:
            cached = order_values(Column(rows.types[p], self.values[p], self.valid[p])).tolist()
            self._order_values[p] = cached
        return cached


def serve_request(
    plan: Select,
    direct: DirectPlan,
    req: RequestColumns,
    tables: Mapping[str, StoredTable],
    ctx: EvalContext,
    preaggs: Mapping[WindowAgg, Preaggregate] | None = None,
) -> list[Column]:
    """Compute the request rows ``req`` (rows of the main table) the direct way (``preaggs``: the long-window
    pre-aggregations of the deployment, by aggregate)."""
    k = req.k
    main_rows = tables[direct.main.table]
    cols = [req.column(main_rows, i) for i in range(len(direct.main.schema))]
    for join in direct.joins:
        cols.extend(_join_columns(join, req, main_rows, tables[join.table]))
    results: list[Column] = []
    laid_out: dict[tuple[tuple[str, ...], str | None], _Candidates] = {}
    for window in direct.windows:
        if not window.calls:
            continue
        index = main_rows.indexes[(window.keys, window.order)]
        req_ts = req.order_values(main_rows, window.order_position)
        if k == 1:
            results += _window_row(window, index, main_rows, req, 0, req_ts[0], ctx, preaggs)
        elif k == 0:
            results += [Column.nulls(agg.type, 0) for agg in window.aggregates]
        elif preaggs and any(agg in preaggs for agg in window.aggregates):
            # Long windows combine partials per key and request row (preagg.Preaggregate.result).
            per_row = [_window_row(window, index, main_rows, req, j, req_ts[j], ctx, preaggs) for j in range(k)]
            results += [Column.concat(parts) for parts in zip(*per_row, strict=True)]
        else:
            ts_array = np.asarray(req_ts, dtype=np.int64)
            cand = laid_out.get((window.keys, window.order))
            if cand is None:
                # Every window on this index reads one layout (with the columns any of them reads).
                reading = sorted(
                    {i for w in direct.windows if (w.keys, w.order) == (window.keys, window.order) for i in w.columns}
                )
                cand = _candidates(index, main_rows, req, window.key_positions, ts_array, reading)
                laid_out[(window.keys, window.order)] = cand
            results += _window_rows(window, cand, ts_array, ctx)
    # Outputs that are an aggregate or a column are read directly; only real expressions are evaluated.
    out: list[Column] = []
    rel: RelationColumns | None = None
    pre: dict[Expr, Column] = {}
    for o, (kind, i) in zip(plan.outputs, direct.outputs, strict=True):
        if kind == _AGGREGATE:
            out.append(results[i])
        elif kind == _COLUMN:
            out.append(cols[i])
        else:
            if rel is None:
                rel = RelationColumns(direct.fields, cols, k)
                pre = dict(zip(direct.aggregates, results, strict=True))
            out.append(evaluate(o.expr, rel, ctx, pre))
    return out


def _join_columns(join: _JoinPlan, req: RequestColumns, main: StoredTable, right: StoredTable) -> list[Column]:
    """The right-side columns of one LAST JOIN for every request row (NULL where nothing matches).

    The index hands each request row its key's rows, sorted by the ORDER BY column then insertion (NULL keys match
    NULL keys, as in batch mode); the as-of bound and the choice of the newest row are batch mode's own
    (:func:`~openfeat_core.engine.lastjoin.as_of_cut`, :func:`~openfeat_core.engine.lastjoin.newest`), run on the
    keys' rows laid end to end (one key's rows are read in place)."""
    index = right.indexes[join.index]
    k = req.k
    if k == 1:
        return _join_one(join, req, right, index)
    starts = [0] * k
    ends = [0] * k
    spans: dict[tuple[Any, ...], tuple[int, int]] = {}
    parts: list[KeySeries] = []
    offset = 0
    series = index.series
    for j, key in enumerate(zip(*[req.py[p] for p in join.left_keys], strict=True)):
        span = spans.get(key)
        if span is None:
            s = series.get(key)
            if s is None or s.n == s.start:
                span = (offset, offset)
            else:
                span = (offset, offset + s.n - s.start)
                parts.append(s)
                offset = span[1]
            spans[key] = span
        starts[j], ends[j] = span
    gs = np.array(starts, dtype=np.int64)
    ge = np.array(ends, dtype=np.int64)
    if not parts:
        return [Column.nulls(f.type, k) for f in join.fields]
    if len(parts) == 1:
        # One key (a one-row request): its arrays as they are, positions shifted to its first live row.
        only = parts[0]
        gs += only.start
        ge += only.start
        order_s = only.ts
    else:
        order_s = np.concatenate([s.ts[s.start : s.n] for s in parts])
    if join.bound is not None:
        op, position = join.bound
        limit = np.asarray(req.order_values(main, position), dtype=np.int64)
        gs, ge = as_of_cut(order_s, gs, ge, op, limit, req.valid[position])
    match = newest(gs, ge)
    clean = not any(s.nullable for s in parts)
    out: list[Column] = []
    for p in join.positions:
        if len(parts) == 1:
            only = parts[0]
            values = only.values[p]
            flags = only.valid[p]
            valid = _all_true(len(values)) if flags is None else flags
        else:
            values = np.concatenate([s.values[p][s.start : s.n] for s in parts])
            valid = (
                _all_true(len(values)) if clean else _validity(p, [(s, s.start, s.n) for s in parts], None, len(values))
            )
        out.append(right.column(p, values, valid).take(match))
    return out


def _join_one(join: _JoinPlan, req: RequestColumns, right: StoredTable, index: Index) -> list[Column]:
    """:func:`_join_columns` of one request row: its key's arrays read in place, the matched row's values as views
    (a gather per column costs more than the match itself)."""
    s = index.series.get(tuple([req.py[p][0] for p in join.left_keys]))
    if s is None or s.n == s.start:
        return [Column.nulls(f.type, 1) for f in join.fields]
    lo, hi = s.start, s.n
    if join.bound is not None:
        op, position = join.bound
        # (a valid request value is its order value: timestamps and integers are kept as int64)
        limit = int(req.values[position][0]) if req.valid[position][0] else None
        lo, hi = cut_one(s.ts, lo, hi, op, limit)
    m = hi - 1  # the newest of what remains (newest())
    if hi <= lo:
        return [Column.nulls(f.type, 1) for f in join.fields]
    out = []
    for p in join.positions:
        flags = s.valid[p]
        out.append(right.column(p, s.values[p][m : m + 1], _all_true(1) if flags is None else flags[m : m + 1]))
    return out


def _window_row(
    window: _WindowPlan,
    index: Index,
    rows: StoredTable,
    req: RequestColumns,
    j: int,
    req_ts: int,
    ctx: EvalContext,
    preaggs: Mapping[WindowAgg, Preaggregate] | None,
) -> list[Column]:
    """The window aggregates of request row ``j`` (in the order of ``window.calls``): its key's stored rows up to
    its time, then the row itself."""
    key = tuple([req.py[p][j] for p in window.key_positions])
    s = index.series.get(key)
    if s is None:
        s = KeySeries(rows.dtypes)
    start, n = s.start, s.n
    columns: dict[int, Column] = {}
    if n == start or window.order is None or s.ts[n - 1] <= req_ts:
        # The usual case: the request is the newest row. Its values go in the free slot after the key's rows.
        s.ts[n] = req_ts
        ts = s.ts[start : n + 1]
        frames = request_frame(window.frame, ts)
        for i in window.columns:
            values = s.values[i]
            values[n] = req.values[i][j]
            if s.valid[i] is None and req.valid[i][j]:
                valid = _all_true(n + 1 - start)
            else:
                valid = s.materialise(i)
                valid[n] = req.valid[i][j]
                valid = valid[start : n + 1]
            columns[i] = rows.column(i, values[start : n + 1], valid, req.dictionaries.get(i))
    else:
        # A request older than stored rows sees the rows up to its time (copies; rare).
        hi = start + int(np.searchsorted(s.ts[start:n], req_ts, side="right"))
        ts = np.append(s.ts[start:hi], req_ts)
        frames = request_frame(window.frame, ts)
        for i in window.columns:
            values = np.append(s.values[i][start:hi], req.values[i][j])
            valid = np.append(s.validity(i, start, hi), req.valid[i][j])
            columns[i] = rows.column(i, values, valid, req.dictionaries.get(i))

    def combined(agg: WindowAgg, arg_positions: tuple[int | None, ...]) -> Column | None:
        """A long window's answer from its pre-aggregated partials (None: the raw rows decide)."""
        pre = preaggs.get(agg) if preaggs else None
        if pre is None:
            return None
        arguments = _rows_arguments(agg, arg_positions, columns, window.schema, ctx)
        return pre.result(key, ts, frames, arguments, ctx)

    return _aggregate(window, columns, frames, len(ts), ctx, combined if preaggs else None)


@dataclass
class _Candidates:
    """The candidate rows of a batch of request rows on one index, laid out once for every window reading it: each
    distinct key's stored rows up to the newest request time of that key, one key after another, then the request
    rows themselves (row ``offset + j`` is request row ``j``). Request row ``j`` may see ``cand_lo[j] ..
    cand_hi[j]-1`` (its key's stored rows up to its own time)."""

    ts: np.ndarray
    columns: dict[int, Column]
    cand_lo: np.ndarray
    cand_hi: np.ndarray
    offset: int


def _candidates(
    index: Index,
    rows: StoredTable,
    req: RequestColumns,
    key_positions: tuple[int, ...],
    req_ts: np.ndarray,
    columns: Sequence[int],
) -> _Candidates:
    k = req.k
    by_key: dict[tuple[Any, ...], list[int]] = {}
    if key_positions:
        for j, key in enumerate(zip(*[req.py[p] for p in key_positions], strict=True)):
            by_key.setdefault(key, []).append(j)
    else:
        by_key[()] = list(range(k))
    times = req_ts.tolist()
    cand_lo = [0] * k
    cand_hi = [0] * k
    slices: list[tuple[KeySeries, int, int]] = []
    offset = 0
    ordered = index.order is not None
    series = index.series
    for key, members in by_key.items():
        s = series.get(key)
        live = 0 if s is None else s.n - s.start
        if live == 0 or s is None:
            his = [0] * len(members)
        elif not ordered or (len(members) == 1 and s.ts[s.n - 1] <= times[members[0]]):
            his = [live] * len(members)  # the usual case: the request is newer than every stored row of its key
        else:
            his = np.searchsorted(s.ts[s.start : s.n], req_ts[members], side="right").tolist()
        for j, hi in zip(members, his, strict=True):
            cand_lo[j] = offset
            cand_hi[j] = offset + hi
        reach = max(his)
        if reach:
            assert s is not None
            slices.append((s, s.start, s.start + reach))
            offset += reach
    ts = np.concatenate([*(s.ts[a:b] for s, a, b in slices), req_ts])
    # Whether any key's rows hold a NULL at all: most layouts need no validity pass per column.
    clean = not any(s.nullable for s, _, _ in slices)
    laid_out: dict[int, Column] = {}
    for i in columns:
        values = np.concatenate([*(s.values[i][a:b] for s, a, b in slices), req.values[i]])
        if clean and req.valid[i].all():
            valid = _all_true(len(values))
        else:
            valid = _validity(i, slices, req.valid[i], len(values))
        laid_out[i] = rows.column(i, values, valid, req.dictionaries.get(i))
    return _Candidates(ts, laid_out, np.array(cand_lo, dtype=np.int64), np.array(cand_hi, dtype=np.int64), offset)


#: A read-only all-true mask (1 MiB) whose prefixes are the validity of rows that hold no NULL: a slice costs nothing,
#: where a mask of each request's length would be allocated per request (all_valid keeps a mask only while something
#: holds it).
_TRUE = np.ones(1 << 20, dtype=np.bool_)
_TRUE.flags.writeable = False


def _all_true(n: int) -> np.ndarray:
    return _TRUE[:n] if n <= len(_TRUE) else all_valid(n)


def _validity(i: int, slices: Sequence[tuple[KeySeries, int, int]], extra: np.ndarray | None, n: int) -> np.ndarray:
    """Column ``i``'s validity over the rows of ``slices`` then ``extra``'s: one shared all-valid mask when no key
    holds a NULL there (the usual case), without a flag per row."""
    if all(s.valid[i] is None for s, _, _ in slices) and (extra is None or bool(extra.all())):
        return all_valid(n)
    parts = [s.validity(i, a, b) for s, a, b in slices]
    return np.concatenate(parts if extra is None else [*parts, extra])


def _window_rows(window: _WindowPlan, cand: _Candidates, req_ts: np.ndarray, ctx: EvalContext) -> list[Column]:
    """The window aggregates of every request row in one pass (in the order of ``window.calls``): one frame
    computation and one call per aggregate kernel serve every row, whatever its key (the kernels and the frame
    function are batch mode's)."""
    own = np.arange(cand.offset, cand.offset + len(req_ts), dtype=np.int64)
    frames = frame_bounds(window.frame, cand.ts, cand.cand_lo, cand.cand_hi, own, req_ts, monotone=False)
    return _aggregate(window, cand.columns, frames, len(cand.ts), ctx)


def _aggregate(
    window: _WindowPlan,
    columns: Mapping[int, Column],
    frames: WindowFrames,
    n: int,
    ctx: EvalContext,
    combined: Callable[[WindowAgg, tuple[int | None, ...]], Column | None] | None = None,
) -> list[Column]:
    """The window's aggregate kernels over candidate ``columns`` (``n`` rows), one value per frame (``combined``:
    tried first, per aggregate: a long window's pre-aggregated answer)."""
    cand: RelationColumns | None = None
    out = []
    for agg, impl, arg_positions in window.calls:
        early = combined(agg, arg_positions) if combined is not None else None
        if early is not None:
            out.append(early if early.type is agg.type else early.with_type(agg.type))
            continue
        if None in arg_positions:
            if cand is None:  # an expression argument: every column is needed (window.columns says so)
                cand = RelationColumns(window.schema, [columns[i] for i in range(len(window.schema))], n)
            args = [
                columns[p] if p is not None else evaluate(a, cand, ctx)
                for a, p in zip(agg.args, arg_positions, strict=True)
            ]
        else:
            args = [columns[p] for p in arg_positions if p is not None]
        col = impl(args, frames, ctx)
        out.append(col if col.type is agg.type else col.with_type(agg.type))
    return out


def _rows_arguments(
    agg: WindowAgg,
    positions: tuple[int | None, ...],
    columns: Mapping[int, Column],
    schema: Sequence[Field],
    ctx: EvalContext,
) -> Callable[[np.ndarray], list[Column]]:
    """The aggregate's arguments over some candidate rows (for long windows: the edges only)."""

    def arguments(rows: np.ndarray) -> list[Column]:
        taken = {i: c.take(rows) for i, c in columns.items()}
        rel: RelationColumns | None = None
        out = []
        for a, p in zip(agg.args, positions, strict=True):
            if p is not None:
                out.append(taken[p])
            else:
                if rel is None:
                    rel = RelationColumns(tuple(schema), [taken[i] for i in range(len(schema))], len(rows))
                out.append(evaluate(a, rel, ctx))
        return out

    return arguments


__all__ = [
    "BatchSplit",
    "DirectPlan",
    "Lookup",
    "PartAccess",
    "RequestColumns",
    "RequestPlan",
    "check_deployable",
    "common_output_positions",
    "compile_request_plan",
    "serve_request",
    "split_batch_plan",
]
