"""In-memory relations and expression evaluation over them (shared by the executors)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column, sorted_codes
from openfeat_core.functions.cast import cast_column
from openfeat_core.functions.registry import REGISTRY, EvalContext
from openfeat_core.jit import kernel
from openfeat_core.plan.nodes import (
    Call,
    Case,
    Cast,
    ColumnRef,
    Expr,
    Field,
    GroupAgg,
    Literal,
    SignatureFormat,
    WindowAgg,
)
from openfeat_core.types import SQLType


@dataclass
class RelationColumns:
    """A relation's rows: one :class:`Column` per field, all of length ``n``."""

    fields: tuple[Field, ...]
    columns: list[Column]
    n: int

    def column(self, qualifier: str, name: str) -> Column:
        for f, c in zip(self.fields, self.columns, strict=True):
            if f.name == name and f.qualifier == qualifier:
                return c
        # Union sources and subqueries are matched by name only (their qualifier differs).
        for f, c in zip(self.fields, self.columns, strict=True):
            if f.name == name:
                return c
        raise KeyError(f"{qualifier}.{name}")

    def take(self, indices: np.ndarray) -> RelationColumns:
        return RelationColumns(self.fields, [c.take(indices) for c in self.columns], len(indices))

    def filter(self, mask: np.ndarray) -> RelationColumns:
        return RelationColumns(self.fields, [c.filter(mask) for c in self.columns], int(mask.sum()))


@dataclass
class ColumnTable:
    """A table already converted to engine columns, so that its Arrow form can be freed.

    ``compute`` converts the tables it read from files itself: holding both forms of a large input would
    double its memory.
    """

    columns: dict[str, Column]
    num_rows: int

    @staticmethod
    def from_arrow(table: pa.Table, types: Mapping[str, SQLType]) -> ColumnTable:
        columns = {name: Column.from_arrow(table.column(name), types[name]) for name in table.column_names}
        return ColumnTable(columns, table.num_rows)

    def column(self, name: str) -> Column:
        return self.columns[name]


#: Results computed outside plain expression evaluation (window and group aggregates), by node.
Precomputed = Mapping[Expr, Column]


def evaluate(expr: Expr, rel: RelationColumns, ctx: EvalContext, pre: Precomputed | None = None) -> Column:
    """Evaluate ``expr`` for every row of ``rel``."""
    return _Evaluator(rel, ctx, pre or {}).eval(expr)


class _Evaluator:
    def __init__(self, rel: RelationColumns, ctx: EvalContext, pre: Precomputed) -> None:
        self.rel = rel
        self.ctx = ctx
        self.pre = pre
        self.dispatch: dict[type, Callable[[Expr], Column]] = {
            ColumnRef: self._column,
            Literal: self._literal,
            Call: self._call,
            Cast: self._cast,
            Case: self._case,
            SignatureFormat: self._signature,
            WindowAgg: self._precomputed,
            GroupAgg: self._precomputed,
        }

    def eval(self, expr: Expr) -> Column:
        return self.dispatch[type(expr)](expr)

    def _column(self, e: Expr) -> Column:
        assert isinstance(e, ColumnRef)
        if 0 <= e.index < len(self.rel.fields) and self.rel.fields[e.index].name == e.name:
            return self.rel.columns[e.index]
        return self.rel.column(e.qualifier, e.name)

    def _literal(self, e: Expr) -> Column:
        assert isinstance(e, Literal)
        return Column.constant(e.value, e.type, self.rel.n)

    def _call(self, e: Expr) -> Column:
        assert isinstance(e, Call)
        args = [self.eval(a) for a in e.args]
        fn = REGISTRY.scalar(e.name)
        if fn is None:
            from openfeat_core.functions import signatures

            return signatures.signature_standalone(e.name, args, self.ctx)
        out = fn.impl(args, self.ctx)
        return out if out.type is e.type else out.with_type(e.type)

    def _cast(self, e: Expr) -> Column:
        assert isinstance(e, Cast)
        return cast_column(self.eval(e.arg), e.type, self.ctx)

    def _case(self, e: Expr) -> Column:
        assert isinstance(e, Case)
        n = self.rel.n
        out = self.eval(e.default) if e.default is not None else Column.nulls(e.type, n)
        values = out.values.copy()
        valid = out.valid.copy()
        decided = np.zeros(n, dtype=np.bool_)
        for cond_expr, value_expr in e.whens:
            cond = self.eval(cond_expr)
            hit = cond.valid & cond.values.astype(np.bool_) & ~decided
            if hit.any():
                val = self.eval(value_expr)
                values[hit] = val.values[hit]
                valid[hit] = val.valid[hit]
            decided |= hit
        return Column.from_values(e.type, values, valid)

    def _signature(self, e: Expr) -> Column:
        assert isinstance(e, SignatureFormat)
        from openfeat_core.functions import signatures

        sigs = [(kind, [self.eval(a) for a in args]) for kind, args in e.sigs]
        return signatures.format_signatures(e.fmt, sigs, self.ctx, n_rows=self.rel.n)

    def _precomputed(self, e: Expr) -> Column:
        return self.pre[e]


def group_codes(columns: list[Column]) -> np.ndarray:
    """Dense int64 codes, equal exactly where every column is equal (NULL equals NULL)."""
    n = len(columns[0]) if columns else 0
    code = np.zeros(n, dtype=np.int64)
    for col in columns:
        c, uniques = sorted_codes(col)
        c = c + 1  # NULL (-1) becomes its own group 0
        code = code * (len(uniques) + 1) + c
        if len(uniques) > 1 << 20 or code.max(initial=0) > 1 << 40:
            _, code = np.unique(code, return_inverse=True)
            code = code.astype(np.int64)
    return code


def order_values(col: Column) -> np.ndarray:
    """An ORDER BY column as int64 (timestamps in ms); NULL sorts first."""
    vals = col.values.astype(np.int64, copy=False)  # read-only use: a view of int64/timestamp input is enough
    if not col.valid.all():
        vals = np.where(col.valid, vals, np.iinfo(np.int64).min)
    return vals


def stable_sort_by(part: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Permutation sorting by (part, keys, original position). ``part`` holds dense codes ``0..k-1``."""
    n = len(keys)
    if n > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
        by_key = np.argsort(keys, kind="stable")
    else:
        by_key = np.arange(n, dtype=np.int64)
    if n == 0:
        return by_key
    p = part[by_key]
    if n > 1 and not bool(np.all(p[1:] >= p[:-1])):
        return by_key[_counting_sort(p, int(p.max()) + 1)]
    return by_key


@kernel
def _counting_sort(codes: np.ndarray, k: int) -> np.ndarray:
    """Stable argsort of dense codes ``0..k-1`` in O(n + k)."""
    counts = np.zeros(k + 1, np.int64)
    for c in codes:
        counts[c + 1] += 1
    for i in range(k):
        counts[i + 1] += counts[i]
    out = np.empty(len(codes), np.int64)
    for i in range(len(codes)):
        c = codes[i]
        out[counts[c]] = i
        counts[c] += 1
    return out
