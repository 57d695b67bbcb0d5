"""LAST JOIN by sort-merge: per left row, the last matching right row, without join-then-deduplicate.

Right rows are sorted once by (equality-key code, order value, insertion order). Each left row finds its
key group by binary search; a range condition on the order column (``r.ts <= l.ts``) narrows the group by
binary search too; any other predicate is checked walking back from the newest candidate, vectorised over
all unresolved left rows per step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from openfeat_core.column import Column, sorted_codes
from openfeat_core.engine.relation import RelationColumns, evaluate, order_values
from openfeat_core.functions.registry import EvalContext
from openfeat_core.jit import kernel
from openfeat_core.plan.nodes import Call, ColumnRef, Expr, LastJoin, LeftJoin, qualifiers_read
from openfeat_core.types import SQLType

_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def last_join(left: RelationColumns, right: RelationColumns, join: LastJoin, ctx: EvalContext) -> RelationColumns:
    """Join ``right`` onto ``left``: exactly one output row per left row (right side NULL if no match)."""
    match = _match_indices(left, right, join, ctx)
    right_cols = [c.take(match) for c in right.columns]
    return RelationColumns(join.schema, list(left.columns) + right_cols, left.n)


def left_join(left: RelationColumns, right: RelationColumns, join: LeftJoin, ctx: EvalContext) -> RelationColumns:
    """``left LEFT JOIN right``: per left row (in order), its matching right rows in the right side's order, or one
    row with a NULL right side. Right rows are grouped by key code once; ON's other conjuncts are evaluated on the
    (left, right) pairs of equal keys."""
    n, m = left.n, right.n
    if m == 0:
        pair_left = np.zeros(0, dtype=np.int64)
        pair_right = np.zeros(0, dtype=np.int64)
    else:
        lcode, rcode = _key_codes(left, right, join, ctx)
        perm = np.argsort(rcode, kind="stable")
        n_codes = int(max(lcode.max(initial=-1), rcode.max(initial=-1))) + 1
        bounds = np.searchsorted(rcode[perm], np.arange(n_codes + 1, dtype=np.int64), side="left")
        safe = np.maximum(lcode, 0)
        gs = bounds[safe]
        counts = np.where(lcode < 0, 0, bounds[safe + 1] - gs)
        pair_left = np.repeat(np.arange(n, dtype=np.int64), counts)
        # Position of each pair within its left row's group, then the right row it stands for.
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        pair_right = perm[np.repeat(gs, counts) + np.arange(len(pair_left), dtype=np.int64) - starts]
        if join.residual is not None and len(pair_left):
            pairs = RelationColumns(
                join.schema,
                [c.take(pair_left) for c in left.columns] + [c.take(pair_right) for c in right.columns],
                len(pair_left),
            )
            ok = evaluate(join.residual, pairs, ctx)
            keep = ok.valid & ok.values.astype(np.bool_)
            pair_left, pair_right = pair_left[keep], pair_right[keep]
    matched = np.zeros(n, dtype=np.bool_)
    matched[pair_left] = True
    unmatched = np.nonzero(~matched)[0].astype(np.int64)
    rows_left = np.concatenate([pair_left, unmatched])
    rows_right = np.concatenate([pair_right, np.full(len(unmatched), -1, dtype=np.int64)])
    order = np.argsort(rows_left, kind="stable")
    rows_left, rows_right = rows_left[order], rows_right[order]
    columns = [c.take(rows_left) for c in left.columns] + [c.take(rows_right) for c in right.columns]
    return RelationColumns(join.schema, columns, len(rows_left))


def _key_codes(
    left: RelationColumns, right: RelationColumns, join: LastJoin | LeftJoin, ctx: EvalContext
) -> tuple[np.ndarray, np.ndarray]:
    n, m = left.n, right.n
    lcode = np.zeros(n, dtype=np.int64)
    rcode = np.zeros(m, dtype=np.int64)
    for lexpr, rexpr in join.equi_keys:
        lcol = evaluate(lexpr, left, ctx)
        rcol = evaluate(rexpr, right, ctx)
        if lcol.type is not rcol.type:
            common = SQLType.DOUBLE if (lcol.type.is_float or rcol.type.is_float) else SQLType.INT64
            lcol, rcol = lcol.with_type(common), rcol.with_type(common)
        codes, uniques = sorted_codes(Column.concat([lcol, rcol]))
        # OpenMLDB's index lookup treats NULL as a key like any other: NULL matches NULL.
        codes = codes + 1
        lc, rc = codes[:n], codes[n:]
        width = len(uniques) + 2
        lcode = np.where((lcode < 0) | (lc < 0), -1, lcode * width + lc)
        rcode = np.where((rcode < 0) | (rc < 0), -1, rcode * width + rc)
        if width > 1 << 20:
            both = np.concatenate([lcode, rcode])
            ok = both >= 0
            dense = np.full(len(both), -1, dtype=np.int64)
            dense[ok] = np.unique(both[ok], return_inverse=True)[1]
            lcode, rcode = dense[:n], dense[n:]
    return lcode, rcode


def _split_conjuncts(e: Expr | None) -> list[Expr]:
    if e is None:
        return []
    if isinstance(e, Call) and e.name == "and":
        return _split_conjuncts(e.args[0]) + _split_conjuncts(e.args[1])
    return [e]


def _reads_right(e: Expr, right_quals: set[str]) -> bool:
    return bool(qualifiers_read(e) & right_quals)


def _match_indices(left: RelationColumns, right: RelationColumns, join: LastJoin, ctx: EvalContext) -> np.ndarray:
    n, m = left.n, right.n
    if n == 0 or m == 0:
        return np.full(n, -1, dtype=np.int64)
    lcode, rcode = _key_codes(left, right, join, ctx)
    order = order_values(evaluate(join.order_by, right, ctx)) if join.order_by is not None else np.zeros(m, np.int64)
    if join.descending:
        # DESC: the smallest value is the match, so sort by its negation; NULL (int64 min) keeps losing to values.
        null = np.iinfo(np.int64).min
        order = np.where(order == null, null, -order)
    # Sort right rows by (key, order value, insertion order): the last of a group is the match.
    by_order = np.argsort(order, kind="stable")
    perm = by_order[np.argsort(rcode[by_order], kind="stable")]
    rcode_s = rcode[perm]
    order_s = order[perm]
    # Group boundaries per key code, then one gather per left row (codes are dense).
    n_codes = int(max(lcode.max(initial=-1), rcode.max(initial=-1))) + 1
    bounds = np.searchsorted(rcode_s, np.arange(n_codes + 1, dtype=np.int64), side="left")
    safe = np.maximum(lcode, 0)
    gs = bounds[safe]
    ge = bounds[safe + 1]
    nokey = lcode < 0
    ge[nokey] = gs[nokey]

    right_quals = {f.qualifier for f in right.fields}
    residual: list[Expr] = []
    for conj in _split_conjuncts(join.residual):
        # The as-of cut searches ascending order values; under DESC the bound is an ordinary predicate.
        bound = None if join.descending else as_of_bound(conj, join.order_by, right_quals)
        if bound is None:
            residual.append(conj)
            continue
        op, other = bound
        col = evaluate(other, left, ctx)
        gs, ge = as_of_cut(order_s, gs, ge, op, order_values(col), col.valid)

    match = newest(gs, ge)
    if residual:
        pred: Expr = residual[0]
        for r in residual[1:]:
            pred = Call("and", (pred, r), SQLType.BOOL)
        match = _walk_back(left, right, join, pred, perm, gs, ge, ctx)
        return match
    return np.where(match >= 0, perm[np.maximum(match, 0)], -1)


def as_of_cut(
    order_s: np.ndarray, gs: np.ndarray, ge: np.ndarray, op: str, limit: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Narrow each left row's candidates ``order_s[gs:ge]`` (sorted by order value, then insertion) to those that
    satisfy ``order <op> limit`` (``op`` one of lt, le, gt, ge, from :func:`as_of_bound`); a NULL bound
    (``valid`` false) leaves none. The one as-of rule of LAST JOIN, for batch mode and for online requests."""
    if len(gs) == 1:  # one left row (an online request): no array passes
        lo, hi = cut_one(order_s, int(gs[0]), int(ge[0]), op, int(limit[0]) if valid[0] else None)
        return np.array([lo]), np.array([hi])
    limit = np.where(valid, limit, np.iinfo(np.int64).min)
    if op in ("le", "lt"):
        new_ge = bounded_search(order_s, gs, ge, limit, strict=(op == "lt"), upper=True)
        return gs, np.where(valid, new_ge, gs)
    new_gs = bounded_search(order_s, gs, ge, limit, strict=(op == "gt"), upper=False)
    return np.where(valid, new_gs, ge), ge


def cut_one(order_s: np.ndarray, lo: int, hi: int, op: str, limit: int | None) -> tuple[int, int]:
    """:func:`as_of_cut` of one left row, its candidates ``order_s[lo:hi]`` (``limit`` None: a NULL bound)."""
    upper = op in ("le", "lt")
    if limit is None:
        return (lo, lo) if upper else (hi, hi)
    if hi == lo:
        return lo, hi
    if upper and (order_s[hi - 1] < limit or (op == "le" and order_s[hi - 1] == limit)):
        return lo, hi  # the newest candidate is within the bound (the usual online case): nothing to search
    side: Literal["left", "right"] = "right" if op in ("le", "gt") else "left"
    cut = lo + int(np.searchsorted(order_s[lo:hi], limit, side=side))
    return (lo, cut) if upper else (cut, hi)


def newest(gs: np.ndarray, ge: np.ndarray) -> np.ndarray:
    """The match of each left row: the newest of its remaining candidates ``gs .. ge-1`` (-1: none)."""
    return np.where(ge > gs, ge - 1, -1).astype(np.int64)


def as_of_bound(conj: Expr, order_by: Expr | None, right_quals: set[str]) -> tuple[str, Expr] | None:
    """Recognise ``order_col <op> left_expr`` (either side, turned to read ``order_col <op> ...``) so it can be
    applied by binary search. Shared by the batch join and the online direct path."""
    if order_by is None or not isinstance(conj, Call) or conj.name not in _FLIP:
        return None
    a, b = conj.args
    if (
        _same_column(a, order_by)
        and not _reads_right(b, right_quals)
        and b.type in (order_by.type, SQLType.INT64, SQLType.INT32)
    ):
        return conj.name, b
    if (
        _same_column(b, order_by)
        and not _reads_right(a, right_quals)
        and a.type in (order_by.type, SQLType.INT64, SQLType.INT32)
    ):
        return _FLIP[conj.name], a
    return None


def _same_column(a: Expr, b: Expr) -> bool:
    """Equal expressions, or references to the same column (positions differ between scopes)."""
    if isinstance(a, ColumnRef) and isinstance(b, ColumnRef):
        return (a.qualifier, a.name) == (b.qualifier, b.name)
    return a == b


@kernel
def _bounded_search_kernel(
    order_s: np.ndarray, gs: np.ndarray, ge: np.ndarray, limit: np.ndarray, strict: bool, upper: bool
) -> np.ndarray:
    out = np.empty(len(gs), dtype=np.int64)
    for i in range(len(gs)):
        lo = gs[i]
        hi = ge[i]
        v = limit[i]
        # find first index in [lo, hi) where the predicate "past the cut" holds
        while lo < hi:
            mid = (lo + hi) >> 1
            x = order_s[mid]
            past = (x >= v if strict else x > v) if upper else (x > v if strict else x >= v)
            if past:
                hi = mid
            else:
                lo = mid + 1
        out[i] = lo
    return out


def bounded_search(
    order_s: np.ndarray, gs: np.ndarray, ge: np.ndarray, limit: np.ndarray, *, strict: bool, upper: bool
) -> np.ndarray:
    """Per left row, cut ``order_s[gs:ge]`` at ``limit``.

    ``upper``: returns the new end, keeping order values ``<= limit`` (``< limit`` when strict);
    otherwise the new start, keeping values ``>= limit`` (``> limit`` when strict).
    """
    return _bounded_search_kernel(
        np.ascontiguousarray(order_s, dtype=np.int64),
        gs.astype(np.int64),
        ge.astype(np.int64),
        np.ascontiguousarray(limit, dtype=np.int64),
        strict,
        upper,
    )


def _walk_back(
    left: RelationColumns,
    right: RelationColumns,
    join: LastJoin,
    pred: Expr,
    perm: np.ndarray,
    gs: np.ndarray,
    ge: np.ndarray,
    ctx: EvalContext,
) -> np.ndarray:
    """Newest candidate first, test ``pred`` for every unresolved left row at once."""
    n = left.n
    match = np.full(n, -1, dtype=np.int64)
    pos = ge - 1
    active = np.nonzero(pos >= gs)[0]
    while len(active):
        cand = perm[pos[active]]
        pair = RelationColumns(
            join.schema, [c.take(active) for c in left.columns] + [c.take(cand) for c in right.columns], len(active)
        )
        ok = evaluate(pred, pair, ctx)
        hit = ok.valid & ok.values.astype(np.bool_)
        match[active[hit]] = cand[hit]
        rest = active[~hit]
        pos[rest] -= 1
        active = rest[pos[rest] >= gs[rest]]
    return match
