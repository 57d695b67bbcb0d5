"""The executor: runs a plan over whole tables (batch mode) or for request rows against stored rows (request mode).

Windows are evaluated by sorted passes: all candidate rows of a window (main rows plus union rows) are
sorted once by (partition, order value, union-before-main, insertion order); every main row's window is
then a range of that sorted array (:mod:`openfeat_core.engine.windowing`), and each aggregate kernel slides
over the ranges. Windows that share partition keys, order column and unions share the sort.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column, all_valid
from openfeat_core.engine.lastjoin import bounded_search, last_join, left_join
from openfeat_core.engine.relation import RelationColumns, evaluate, group_codes, order_values, stable_sort_by
from openfeat_core.engine.windowing import frame_bounds
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatSQLError
from openfeat_core.functions.registry import REGISTRY, EvalContext, WindowFrames
from openfeat_core.plan.nodes import (
    Expr,
    Field,
    Frame,
    GroupAgg,
    LastJoin,
    LeftJoin,
    Relation,
    Scan,
    Select,
    SubqueryRel,
    UnionAll,
    WindowAgg,
    WindowDef,
    collect,
)
from openfeat_core.types import SQLType

#: Threads for independent aggregates: numba kernels and NumPy gathers release the GIL.
_WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Output rows per chunk of window frames (bounds the frames' memory: 4 int64 arrays of this length).
_CHUNK_ROWS = 1 << 20


def execute(
    plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
) -> pa.Table:
    """Run ``plan`` and return the result as an Arrow table.

    Args:
        plan: the bound query.
        tables: name → Arrow table. In request mode the main table's entry holds the *stored* rows.
        ctx: evaluation settings.
        requests: request mode: rows of the main table to compute as requests against ``tables``
            (each is the newest row at its time and is not stored); one output row per request row.
    """
    rel = run_select(plan, tables, ctx, requests=requests)
    return arrow_table(rel.columns, [f.name for f in rel.fields])


#: Results with at most this many rows (online requests) are built row-wise (see :func:`arrow_table`).
_SMALL_RESULT_ROWS = 16


def arrow_table(columns: list[Column], names: Sequence[str]) -> pa.Table:
    """Result columns as an Arrow table. A bare NULL has no type of its own; OpenMLDB reports it as bool."""
    columns = [c.with_type(SQLType.BOOL) if c.type is SQLType.NULL else c for c in columns]
    if columns and len(columns[0]) <= _SMALL_RESULT_ROWS and len(set(names)) == len(names):
        # A few rows: one conversion of Python rows into a struct array costs a fraction of one Arrow array per
        # column (each array conversion has a fixed cost of several microseconds; requests have ~10-50 columns).
        rows = [tuple([c.value(i) for c in columns]) for i in range(len(columns[0]))]
        struct = _result_struct(tuple(names), tuple(c.type for c in columns))
        return pa.Table.from_struct_array(pa.array(rows, type=struct))
    return pa.Table.from_arrays([c.to_arrow() for c in columns], names=names)


@lru_cache(maxsize=256)
def _result_struct(names: tuple[str, ...], types: tuple[SQLType, ...]) -> pa.StructType:
    return pa.struct([pa.field(n, t.arrow_type) for n, t in zip(names, types, strict=True)])


def main_path(plan: Select) -> list[Relation]:
    """The relations a query's rows come through, from its FROM down to the left-most table: left sides of joins,
    the first input of a UNION ALL, the sources of subqueries. The last one is :func:`main_scan`."""
    rel: Relation = plan.source
    path = [rel]
    while not isinstance(rel, Scan):
        if isinstance(rel, (LastJoin, LeftJoin)):
            rel = rel.left
        elif isinstance(rel, UnionAll):
            rel = rel.inputs[0]
        else:
            rel = rel.query.source
        path.append(rel)
    return path


def main_scan(plan: Select) -> Scan:
    """The left-most table of a query: the table whose rows become output rows (and requests)."""
    scan = main_path(plan)[-1]
    assert isinstance(scan, Scan)
    return scan


def run_select(
    plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
) -> RelationColumns:
    scan = main_scan(plan)
    src = run_relation(plan.source, tables, ctx, request_scan=(scan, requests) if requests is not None else None)
    history = run_relation(plan.source, tables, ctx) if requests is not None and plan.windows else None
    if plan.where is not None:
        cond = evaluate(plan.where, src, ctx)
        src = src.filter(cond.valid & cond.values.astype(np.bool_))
        if history is not None:
            hcond = evaluate(plan.where, history, ctx)
            history = history.filter(hcond.valid & hcond.values.astype(np.bool_))
    if plan.is_aggregation:
        out = _run_grouped(plan, src, ctx)
    else:
        pre = _run_windows(plan, src, tables, ctx, history)
        cols = [evaluate(o.expr, src, ctx, pre) for o in plan.outputs]
        out = RelationColumns(plan.schema, cols, src.n)
    if plan.limit is not None and plan.limit < out.n:
        out = out.take(np.arange(plan.limit, dtype=np.int64))
    return out


def run_relation(
    rel: Relation,
    tables: Mapping[str, pa.Table],
    ctx: EvalContext,
    *,
    request_scan: tuple[Scan, pa.Table] | None = None,
) -> RelationColumns:
    if isinstance(rel, Scan):
        if not rel.table:  # SELECT without FROM: one row
            return RelationColumns((), [], 1)
        if request_scan is not None and rel is request_scan[0]:
            table = request_scan[1]
        elif rel.table in tables:
            table = tables[rel.table]
        else:  # the plan was made for other tables than those given
            raise DataError(f"missing table {rel.table!r} (tables: {', '.join(sorted(tables)) or 'none'})")
        cols = []
        for f in rel.schema:
            try:
                col = table.column(f.name)
            except KeyError:
                raise DataError(f"table {rel.table!r}: missing column {f.name!r}") from None
            try:
                cols.append(col.with_type(f.type) if isinstance(col, Column) else Column.from_arrow(col, f.type))
            except (ValueError, TypeError, pa.ArrowException) as e:
                raise DataError(f"table {rel.table!r}, column {f.name!r}: cannot read as {f.type}: {e}") from None
        return RelationColumns(rel.schema, cols, table.num_rows)
    if isinstance(rel, SubqueryRel):
        inner_requests = request_scan[1] if request_scan is not None else None
        inner = run_select(rel.query, tables, ctx, requests=inner_requests)
        return RelationColumns(rel.schema, inner.columns, inner.n)
    if isinstance(rel, LastJoin):
        left = run_relation(rel.left, tables, ctx, request_scan=request_scan)
        right_request = None
        if request_scan is not None and isinstance(rel.right, SubqueryRel):
            # A subquery over the request table on the right of a LAST JOIN is computed for the same
            # request rows (OpenMLDB's "concat join" of two window subqueries of one request).
            right_scan = main_scan(rel.right.query)
            if right_scan.table == request_scan[0].table:
                right_request = (right_scan, request_scan[1])
        right = run_relation(rel.right, tables, ctx, request_scan=right_request)
        return last_join(left, right, rel, ctx)
    if isinstance(rel, UnionAll):
        if request_scan is not None:
            raise NotSupportedError("UNION ALL over the request table is batch-only: a request computes one row")
        parts = [run_relation(source, tables, ctx) for source in rel.inputs]
        columns = [Column.concat([p.columns[i] for p in parts]) for i in range(len(rel.schema))]
        return RelationColumns(rel.schema, columns, sum(p.n for p in parts))
    if isinstance(rel, LeftJoin):
        if request_scan is not None:
            # Only the main relation holds the request table (a LEFT JOIN elsewhere reads stored tables alone).
            raise NotSupportedError("LEFT JOIN from the request table is batch-only: a request computes one row")
        return left_join(run_relation(rel.left, tables, ctx), run_relation(rel.right, tables, ctx), rel, ctx)
    raise TypeError(f"unknown relation {type(rel).__name__}")


# ---------------------------------------------------------------------------------------------- windows


def _has_nested(agg: WindowAgg) -> bool:
    return any(collect(a, WindowAgg) for a in agg.args)


#: frames of every output row, the candidate rows (of the sorted relation) they index, the output rows.
_Layout = tuple[WindowFrames, np.ndarray, np.ndarray]


@dataclass
class _SortedCandidates:
    """Main and union rows of one window group, sorted; and where each main row sits."""

    rel: RelationColumns  # union rows first, then main rows (insertion order within each)
    perm: np.ndarray  # sorted position -> row of `rel`
    raw_keys: np.ndarray  # order value of each row of `rel` (unsorted: often a view of the input column)
    part_start: np.ndarray  # sorted position -> first sorted position of its partition
    main_pos: np.ndarray | None  # output k -> sorted position of the k-th main row; None: the identity
    main_rows: np.ndarray  # output k -> main row number
    is_union: np.ndarray  # sorted position -> row comes from a union source
    n_union: int

    def keys(self, c0: int = 0, c1: int | None = None) -> np.ndarray:
        """Order values of sorted positions ``c0 .. c1-1`` (gathered on demand: a sorted copy of the whole
        column would be one more table-sized array)."""
        return self.raw_keys[self.perm[c0:c1]]


def _run_windows(
    plan: Select,
    src: RelationColumns,
    tables: Mapping[str, pa.Table],
    ctx: EvalContext,
    history: RelationColumns | None,
) -> dict[Expr, Column]:
    """Every window aggregate of ``plan``, as columns in main-row order.

    Windows are handled one at a time, and each in chunks of output rows, so that only a few chunks' frames
    are alive at once; the chunks run concurrently (the kernels release the GIL). Aggregates that nest other
    aggregates run last, in dependency order.
    """
    aggs = {agg: None for o in plan.outputs for agg in collect(o.expr, WindowAgg)}
    if not aggs:
        return {}
    simple: dict[int, list[WindowAgg]] = {}
    nested: list[WindowAgg] = []
    for agg_expr in aggs:
        if _has_nested(agg_expr):
            nested.append(agg_expr)
        else:
            simple.setdefault(agg_expr.window, []).append(agg_expr)
    sorted_cache: dict[object, _SortedCandidates | _RequestCandidates] = {}
    # Argument columns in candidate order, shared by aggregates over windows with the same candidates.
    arg_cache: dict[tuple[object, Expr], Column] = {}
    results: dict[Expr, Column] = {}

    def sorted_of(wi: int) -> _SortedCandidates | _RequestCandidates:
        window = plan.windows[wi]
        key = window.sort_key()
        if key not in sorted_cache:
            sorted_cache[key] = (
                _sort_candidates(window, src, tables, ctx)
                if history is None
                else _sort_request_candidates(window, src, history, tables, ctx)
            )
        return sorted_cache[key]

    def layout_of(wi: int) -> tuple[_SortedCandidates | _RequestCandidates, _Layout]:
        window = plan.windows[wi]
        sc = sorted_of(wi)
        return sc, (_frames_for(window, sc) if isinstance(sc, _SortedCandidates) else _request_frames_for(window, sc))

    def args_of(agg_expr: WindowAgg, sc: _SortedCandidates | _RequestCandidates, cand_idx: np.ndarray) -> list[Column]:
        out = []
        for a in agg_expr.args:
            ck = (plan.windows[agg_expr.window].sort_key(), a)
            if ck not in arg_cache:
                arg_cache[ck] = evaluate(a, sc.rel, ctx).take(cand_idx)
            out.append(arg_cache[ck])
        return out

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for wi, window_aggs in simple.items():
            window = plan.windows[wi]
            sc = sorted_of(wi)
            frames_of: Callable[[int, int], tuple[WindowFrames, int, int]]
            if isinstance(sc, _SortedCandidates):
                fin = _frame_inputs(window, sc)
                cand_idx, out_rows = fin.cand_idx, fin.out_rows
                chunks = [(k0, min(k0 + _CHUNK_ROWS, len(out_rows))) for k0 in range(0, len(out_rows), _CHUNK_ROWS)]
                frames_of = partial(fin.frames, window.frame)
            else:
                # Request mode: a handful of rows, one chunk.
                request_frames, cand_idx, out_rows = _request_frames_for(window, sc)
                chunks = [(0, len(out_rows))]
                frames_of = partial(_same_frames, request_frames)

            jobs = [(agg_expr, args_of(agg_expr, sc, cand_idx)) for agg_expr in window_aggs]
            # Drop permuted argument columns that no later window reads (they are as large as the table).
            later = {
                (plan.windows[w].sort_key(), a)
                for w in list(simple)[list(simple).index(wi) + 1 :]
                for g in simple[w]
                for a in g.args
            }
            for ck in [ck for ck in arg_cache if ck not in later and not nested]:
                del arg_cache[ck]
            outs = {agg_expr: _OutputColumn(agg_expr.type, src.n) for agg_expr in window_aggs}
            _run_chunks(pool, jobs, frames_of, chunks, out_rows, outs, ctx)
            for agg_expr, out in outs.items():
                results[agg_expr] = out.column()
    for agg_expr in nested:
        sc, (frames, cand_idx, out_rows) = layout_of(agg_expr.window)
        col = _correlated(agg_expr, sc.rel, frames, cand_idx, out_rows, results, ctx)
        results[agg_expr] = (col if col.type is agg_expr.type else col.with_type(agg_expr.type)).take(
            _inverse(out_rows, src.n)
        )
    return results


class _OutputColumn:
    """An aggregate's result, filled chunk by chunk (from several threads, at disjoint rows).

    The validity mask is only allocated once a chunk holds a NULL: most window aggregates (counts, and sums over
    non-empty windows) have none, and a mask per output would be one byte per row each.
    """

    def __init__(self, type_: SQLType, n: int) -> None:
        self.type = type_
        self.values = Column.nulls(type_, n).values
        self.valid: np.ndarray | None = None
        self._lock = threading.Lock()

    def write(self, rows: np.ndarray, col: Column) -> None:
        self.values[rows] = col.values
        if not col.valid.all():
            with self._lock:
                if self.valid is None:
                    # Rows of other chunks keep True unless their own chunk writes them.
                    self.valid = np.ones(len(self.values), dtype=np.bool_)
            self.valid[rows] = col.valid

    def column(self) -> Column:
        return Column(self.type, self.values, self.valid if self.valid is not None else all_valid(len(self.values)))


def _same_frames(frames: WindowFrames, k0: int, k1: int) -> tuple[WindowFrames, int, int]:
    return _localize(frames)


def _run_chunks(
    pool: ThreadPoolExecutor,
    jobs: list[tuple[WindowAgg, list[Column]]],
    frames_of: Callable[[int, int], tuple[WindowFrames, int, int]],
    chunks: list[tuple[int, int]],
    out_rows: np.ndarray,
    outs: dict[WindowAgg, _OutputColumn],
    ctx: EvalContext,
) -> None:
    """Run every aggregate of one window, a chunk of output rows at a time.

    Frames are built per chunk, so their memory stays small whatever the table size. Chunks run concurrently
    (the kernels release the GIL); each writes its own rows of every output, so no two threads share a slot.
    """

    def run_chunk(bounds: tuple[int, int]) -> None:
        k0, k1 = bounds
        frames, c0, c1 = frames_of(k0, k1)
        rows = out_rows[k0:k1]
        for agg_expr, args in jobs:
            fn = REGISTRY.aggregate(agg_expr.name)
            assert fn is not None
            # Kernels see only the candidates this chunk can reach, so per-call work is O(chunk), not O(table).
            col = fn.impl([a.slice(c0, c1) for a in args], frames, ctx)
            if col.type is not agg_expr.type:
                col = col.with_type(agg_expr.type)
            outs[agg_expr].write(rows, col)

    if len(chunks) == 1:
        run_chunk(chunks[0])  # small inputs (every request): no thread hand-off
    else:
        list(pool.map(run_chunk, chunks))


def _localize(frames: WindowFrames) -> tuple[WindowFrames, int, int]:
    """The candidate range ``[c0, c1)`` the frames reach, and the frames re-based to start at ``c0``."""
    if len(frames) == 0:
        return frames, 0, 0
    c0 = int(frames.part_lo.min())
    c1 = max(int(frames.hi.max()), int(frames.part_hi.max()), int(frames.current.max()) + 1, int(frames.cur.max()) + 1)
    if c0 == 0:
        return frames, 0, c1
    cur = np.where(frames.cur >= 0, frames.cur - c0, -1)
    shifted = WindowFrames(
        lo=frames.lo - c0,
        hi=frames.hi - c0,
        cur=cur,
        part_lo=frames.part_lo - c0,
        part_hi=frames.part_hi - c0,
        current=frames.current - c0,
        monotone=frames.monotone,
    )
    return shifted, c0, c1


def _inverse(rows: np.ndarray, n: int) -> np.ndarray:
    """The permutation putting output-order values back in main-row order."""
    inverse = np.empty(n, dtype=np.int64)
    inverse[rows] = np.arange(len(rows), dtype=np.int64)
    return inverse


def _correlated(
    agg: WindowAgg,
    rel: RelationColumns,
    frames: WindowFrames,
    cand_idx: np.ndarray,
    out_rows: np.ndarray,
    done: Mapping[Expr, Column],
    ctx: EvalContext,
) -> Column:
    """An aggregate whose arguments use other aggregates of the same window (``sum(c1 - count(c1))``).

    The nested values are per output row, so the arguments are evaluated once per (output row, window row)
    pair: every window is materialised (oldest first, the current row last) and aggregated as one frame.
    This costs the total window size, like a rescan; it is only taken for such nested calls.
    """
    sizes = frames.hi - frames.lo + (frames.cur >= 0)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(starts[-1])
    owner = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    pos = np.arange(total, dtype=np.int64) - starts[owner]
    in_range = pos < (frames.hi - frames.lo)[owner]
    cand = np.where(in_range, frames.lo[owner] + pos, frames.cur[owner])
    pairs = rel.take(cand_idx[cand])
    nested = {e: None for a in agg.args for e in collect(a, WindowAgg)}
    # Nested results are stored in main-row order; output row k is main row out_rows[k].
    pre: dict[Expr, Column] = {e: done[e].take(out_rows[owner]) for e in nested}
    args = [evaluate(a, pairs, ctx, pre) for a in agg.args]
    n_out = len(sizes)
    last = np.maximum(starts[1:] - 1, starts[:-1])
    flat = WindowFrames(
        lo=starts[:-1],
        hi=starts[1:],
        cur=np.full(n_out, -1, dtype=np.int64),
        part_lo=starts[:-1],
        part_hi=np.maximum(starts[1:] - 1, starts[:-1]),
        current=last,
        monotone=True,
    )
    fn = REGISTRY.aggregate(agg.name)
    assert fn is not None
    return fn.impl(args, flat, ctx)


def _sort_candidates(
    window: WindowDef, src: RelationColumns, tables: Mapping[str, pa.Table], ctx: EvalContext
) -> _SortedCandidates:
    # At equal order values the newest-first order is main table, first union table, second...; laid out
    # oldest first that is the last union table first (test_window_union 19-1).
    union_rels = [run_relation(u, tables, ctx) for u in reversed(window.unions)]
    n_union = sum(u.n for u in union_rels)
    if union_rels:
        cols = [Column.concat([u.columns[i] for u in union_rels] + [src.columns[i]]) for i in range(len(src.fields))]
        rel = RelationColumns(src.fields, cols, n_union + src.n)
    else:
        rel = src
    part = group_codes([evaluate(k, rel, ctx) for k in window.partition_by])
    keys = (
        order_values(evaluate(window.order_by, rel, ctx)) if window.order_by is not None else np.zeros(rel.n, np.int64)
    )
    # Union rows precede main rows in `rel`, so a stable sort puts them first among equal order values.
    perm = stable_sort_by(part, keys)
    part_s = part[perm]
    n = rel.n
    starts = np.zeros(n, dtype=np.int64)
    if n:
        boundary = np.empty(n, dtype=np.bool_)
        boundary[0] = True
        boundary[1:] = part_s[1:] != part_s[:-1]
        idx = np.where(boundary, np.arange(n, dtype=np.int64), 0)
        starts = np.maximum.accumulate(idx)
    del part, part_s
    # Row indices fit in int32 below 2**31 rows: half the memory for the arrays kept through all windows
    # (frames are built from them a chunk at a time, in int64).
    index_type = np.int32 if n < 2**31 else np.int64
    perm = perm.astype(index_type)
    starts = starts.astype(index_type)
    is_union = perm < n_union
    if n_union:
        main_pos: np.ndarray | None = np.nonzero(~is_union)[0].astype(index_type)
        main_rows = perm[main_pos] - n_union
    else:
        # Every candidate is a main row: positions are the identity and rows are the sort permutation.
        main_pos = None
        main_rows = perm
    return _SortedCandidates(rel, perm, keys, starts, main_pos, main_rows, is_union, n_union)


@dataclass
class _FrameInputs:
    """What :func:`frame_bounds` needs for every output row of one window, before the frame is applied."""

    keys_of: Callable[[int, int], np.ndarray]  # order values of candidate positions [c0, c1)
    cand_lo: np.ndarray  # per output row: first candidate of its partition
    cand_hi: np.ndarray | None  # per output row: one past its last visible candidate (None: k itself)
    cur_idx: np.ndarray | None  # per output row: index of its own values among the candidates (None: k itself)
    cur_key: np.ndarray | None  # per output row: its order value (None: the key of candidate `cur_idx`)
    cand_idx: np.ndarray  # candidate position -> row of the sorted relation
    out_rows: np.ndarray  # output row -> main row

    def frames(self, frame: Frame, k0: int, k1: int) -> tuple[WindowFrames, int, int]:
        """Frames of output rows ``k0 .. k1-1``, relative to the candidate range ``[c0, c1)`` they reach."""
        own = np.arange(k0, k1, dtype=np.int64)
        cand_lo = self.cand_lo[k0:k1].astype(np.int64)
        cand_hi = own if self.cand_hi is None else self.cand_hi[k0:k1].astype(np.int64)
        cur_idx = own if self.cur_idx is None else self.cur_idx[k0:k1].astype(np.int64)
        if k1 <= k0:
            return frame_bounds(frame, np.zeros(0, np.int64), cand_lo, cand_hi, cur_idx, cur_idx, monotone=True), 0, 0
        c0 = int(cand_lo.min())
        c1 = max(int(cand_hi.max()), int(cur_idx.max()) + 1)
        keys = self.keys_of(c0, c1)
        cur_key = keys[cur_idx - c0] if self.cur_key is None else self.cur_key[k0:k1]
        frames = frame_bounds(frame, keys, cand_lo - c0, cand_hi - c0, cur_idx - c0, cur_key, monotone=True)
        return frames, c0, c1


def _frame_inputs(window: WindowDef, sc: _SortedCandidates) -> _FrameInputs:
    pos = sc.main_pos
    if pos is None:
        # No union: candidates are the main rows themselves, so output k sits at sorted position k.
        if window.frame.instance_not_in_window:
            # INSTANCE_NOT_IN_WINDOW without union sources: no candidates at all, only the row itself.
            n = len(sc.perm)
            empty = np.zeros(n, dtype=np.int64)
            return _FrameInputs(sc.keys, empty, empty, None, None, sc.perm, sc.main_rows)
        return _FrameInputs(sc.keys, sc.part_start, None, None, None, sc.perm, sc.main_rows)
    keys_s = sc.keys()
    if window.frame.instance_not_in_window:
        # Candidates are union rows only; the main rows' own values are appended after them.
        union_prefix = np.concatenate([[0], np.cumsum(sc.is_union)]).astype(np.int64)
        union_sorted = sc.perm[sc.is_union]
        inw_keys = np.concatenate([keys_s[sc.is_union], keys_s[pos]])
        return _FrameInputs(
            keys_of=lambda c0, c1: inw_keys[c0:c1],
            cand_lo=union_prefix[sc.part_start[pos]],
            cand_hi=union_prefix[pos],
            cur_idx=len(union_sorted) + np.arange(len(pos), dtype=np.int64),
            cur_key=keys_s[pos],
            cand_idx=np.concatenate([union_sorted, sc.perm[pos]]),
            out_rows=sc.main_rows,
        )
    return _FrameInputs(lambda c0, c1: keys_s[c0:c1], sc.part_start[pos], pos, pos, keys_s[pos], sc.perm, sc.main_rows)


def _frames_for(window: WindowDef, sc: _SortedCandidates) -> _Layout:
    """Frames of every main row, the candidate rows (of ``sc.rel``) they index into, and the output row order."""
    fin = _frame_inputs(window, sc)
    frames, c0, c1 = fin.frames(window.frame, 0, len(fin.out_rows))
    return frames, fin.cand_idx[c0:c1], fin.out_rows


# ---------------------------------------------------------------------------------------------- request mode


@dataclass
class _RequestCandidates:
    """Stored rows of one window group sorted by (partition, order value), and the request rows' keys."""

    rel: RelationColumns  # union rows, stored main rows, then request rows
    perm: np.ndarray  # sorted stored candidates (rows of `rel`)
    part_sorted: np.ndarray  # partition code of each sorted candidate
    keys_sorted: np.ndarray  # order value of each sorted candidate
    request_part: np.ndarray  # partition code of each request row
    request_key: np.ndarray  # order value of each request row


def _sort_request_candidates(
    window: WindowDef,
    requests: RelationColumns,
    history: RelationColumns,
    tables: Mapping[str, pa.Table],
    ctx: EvalContext,
) -> _RequestCandidates:
    """Stored rows (union sources, then the main table's stored rows) sorted; request rows kept apart."""
    union_rels = [run_relation(u, tables, ctx) for u in reversed(window.unions)]
    n_union = sum(u.n for u in union_rels)
    parts = [*union_rels, history, requests]
    cols = [Column.concat([r.columns[i] for r in parts]) for i in range(len(requests.fields))]
    rel = RelationColumns(requests.fields, cols, n_union + history.n + requests.n)
    part = group_codes([evaluate(k, rel, ctx) for k in window.partition_by])
    keys = (
        order_values(evaluate(window.order_by, rel, ctx)) if window.order_by is not None else np.zeros(rel.n, np.int64)
    )
    n_pool = n_union + (0 if window.frame.instance_not_in_window else history.n)
    pool = stable_sort_by(part[:n_pool], keys[:n_pool])
    req = np.arange(n_union + history.n, rel.n, dtype=np.int64)
    if window.order_by is None:
        # Without ORDER BY every stored row of the key is "before" the request.
        keys = keys.copy()
        keys[req] = np.iinfo(np.int64).max
    return _RequestCandidates(rel, pool, part[pool], keys[pool], part[req], keys[req])


def _request_frames_for(window: WindowDef, sc: _RequestCandidates) -> _Layout:
    """Each request row's window: stored rows of its key up to its time, then the request row itself."""
    part_s, keys_s = sc.part_sorted, sc.keys_sorted
    req_part, req_key = sc.request_part, sc.request_key
    n_req = len(req_part)
    cand_lo = np.searchsorted(part_s, req_part, side="left").astype(np.int64)
    part_hi = np.searchsorted(part_s, req_part, side="right").astype(np.int64)
    # Stored rows up to the request's time: everything after its order value is in the future.
    cand_hi = bounded_search(keys_s, cand_lo, part_hi, req_key, strict=False, upper=True)
    n_pool = len(sc.perm)
    cand_idx = np.concatenate([sc.perm, sc.rel.n - n_req + np.arange(n_req, dtype=np.int64)])
    keys = np.concatenate([keys_s, req_key])
    cur_idx = n_pool + np.arange(n_req, dtype=np.int64)
    frames = frame_bounds(window.frame, keys, cand_lo, cand_hi, cur_idx, req_key, monotone=False)
    return frames, cand_idx, np.arange(n_req, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- GROUP BY


def _run_grouped(plan: Select, src: RelationColumns, ctx: EvalContext) -> RelationColumns:
    if plan.windows:
        raise OpenFeatSQLError("window aggregates cannot be combined with GROUP BY")
    if plan.group_by:
        code = group_codes([evaluate(g, src, ctx) for g in plan.group_by])
        perm = np.argsort(code, kind="stable")
        code_s = code[perm]
        starts = np.nonzero(np.concatenate([[True], code_s[1:] != code_s[:-1]]))[0] if src.n else np.zeros(0, np.int64)
        ends = np.concatenate([starts[1:], [src.n]]).astype(np.int64) if src.n else np.zeros(0, np.int64)
        # Groups come out in order of first appearance.
        first_row = perm[starts]
        order = np.argsort(first_row, kind="stable")
        starts, ends = starts[order].astype(np.int64), ends[order]
    else:
        perm = np.arange(src.n, dtype=np.int64)
        starts = np.array([0], dtype=np.int64)
        ends = np.array([src.n], dtype=np.int64)
    sorted_rel = src.take(perm)
    frames = WindowFrames(
        lo=starts,
        hi=ends,
        cur=np.full(len(starts), -1, dtype=np.int64),
        part_lo=starts,
        part_hi=ends,
        current=np.maximum(ends - 1, 0),
        monotone=False,
    )
    # HAVING may aggregate what no output does (`HAVING sum(x) > 1`): its aggregates are computed too.
    having_exprs = () if plan.having is None else (plan.having,)
    aggs = {agg: None for e in (*(o.expr for o in plan.outputs), *having_exprs) for agg in collect(e, GroupAgg)}
    pre: dict[Expr, Column] = {}
    for agg_expr in aggs:
        fn = REGISTRY.aggregate(agg_expr.name)
        assert fn is not None
        args = [evaluate(a, sorted_rel, ctx) for a in agg_expr.args]
        col = fn.impl(args, frames, ctx)
        pre[agg_expr] = col if col.type is agg_expr.type else col.with_type(agg_expr.type)
    # Non-aggregated columns take the value of the group's first row.
    rep = (
        sorted_rel.take(starts)
        if src.n
        else RelationColumns(src.fields, [c.take(np.full(len(starts), -1)) for c in src.columns], len(starts))
    )
    cols = [evaluate(o.expr, rep, ctx, pre) for o in plan.outputs]
    out = RelationColumns(tuple(Field("", o.name, o.expr.type) for o in plan.outputs), cols, len(starts))
    if plan.having is not None:
        cond = evaluate(plan.having, rep, ctx, pre)
        out = out.filter(cond.valid & cond.values.astype(np.bool_))
    return out
