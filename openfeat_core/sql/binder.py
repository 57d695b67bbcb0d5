"""Binder: turns a parsed OpenMLDB statement into a typed logical plan.

It resolves every table, column and function name, type-checks every call against the function
registry, validates windows the way OpenMLDB does, and reports mistakes as
:class:`~openfeat_core.errors.OpenFeatSQLError` with the line, column and offending text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from openfeat_core.errors import DataError, NotSupportedError, OpenFeatSQLError
from openfeat_core.functions.arrays import AT_ARRAY, NESTED_ARGUMENT_FUNCTIONS
from openfeat_core.functions.registry import REGISTRY, FunctionTypeError
from openfeat_core.plan.nodes import (
    Bound,
    Call,
    Case,
    Cast,
    ColumnRef,
    Expr,
    Field,
    Frame,
    GroupAgg,
    LastJoin,
    LeftJoin,
    Literal,
    Output,
    Relation,
    Scan,
    Select,
    SignatureFormat,
    SubqueryRel,
    UnionAll,
    WindowAgg,
    WindowDef,
    collect,
    qualifiers_read,
)
from openfeat_core.sql.depth import call_with_deep_stack
from openfeat_core.sql.dialect import FrameBound, FrameSpec, MLDBWindow, parse_checked
from openfeat_core.sql.dialect import LastJoin as AstLastJoin
from openfeat_core.types import SQLType, parse_type_name, sql_type_of_arrow

#: table name -> ordered (column name, type) pairs.
if TYPE_CHECKING:
    import pyarrow as pa

Catalog = Mapping[str, Sequence[tuple[str, SQLType]]]
#: Values of a query's ``?`` placeholders in the order they are written: (type, physical value or None).
Parameters = Sequence[tuple[SQLType, Any]]

_BINARY_OPS: dict[type, str] = {
    exp.Add: "add",
    exp.Sub: "subtract",
    exp.Mul: "multiply",
    exp.Div: "divide",
    exp.IntDiv: "int_divide",
    exp.Mod: "mod",
    exp.EQ: "eq",
    exp.NullSafeEQ: "eq",
    exp.NEQ: "neq",
    exp.LT: "lt",
    exp.LTE: "le",
    exp.GT: "gt",
    exp.GTE: "ge",
    exp.And: "and",
    exp.Or: "or",
    exp.Xor: "xor",
    exp.BitwiseAnd: "bitand",
    exp.BitwiseOr: "bitor",
    exp.BitwiseXor: "bitxor",
}

_ORDERABLE_TYPES = (SQLType.INT16, SQLType.INT32, SQLType.INT64, SQLType.TIMESTAMP)
_PARTITIONABLE_TYPES = (
    SQLType.BOOL,
    SQLType.INT16,
    SQLType.INT32,
    SQLType.INT64,
    SQLType.STRING,
    SQLType.DATE,
    SQLType.TIMESTAMP,
)


def bind_sql(
    sql: str,
    catalog: Catalog,
    *,
    indexes: Mapping[str, Sequence[str]] | None = None,
    parameters: Parameters | None = None,
) -> Select:
    """Parse and bind one SELECT statement.

    Args:
        sql: the statement.
        catalog: schemas of the tables the statement may read.
        indexes: OpenMLDB index specs per table (``name:key1|key2:ts[:ttl[:type]]``); they decide
            the LAST JOIN order when ``ORDER BY`` is omitted.
        parameters: the values of the statement's ``?`` placeholders (see :func:`query_parameters`), bound as
            constants of their types; one per placeholder.

    Raises:
        OpenFeatSQLError: syntax, name, type or window errors (with line and column).
        NotSupportedError: valid OpenMLDB SQL that OpenFeat does not support.
    """
    return call_with_deep_stack(lambda: _parse_and_bind(sql, catalog, indexes or {}, parameters))


def _parse_and_bind(
    sql: str, catalog: Catalog, indexes: Mapping[str, Sequence[str]], parameters: Parameters | None
) -> Select:
    tree = parse_checked(sql)
    binder = Binder(sql, catalog, indexes)
    binder.number_placeholders(tree, parameters)
    return binder.bind_statement(tree)


@dataclass
class _Scope:
    """Columns visible to expressions, with the named windows of the current SELECT."""

    fields: tuple[Field, ...]
    tables: tuple[str, ...]  # qualifiers and table names that may prefix a column
    named_windows: dict[str, MLDBWindow] = field(default_factory=dict)
    windows: list[WindowDef] = field(default_factory=list)
    window_ids: dict[Any, int] = field(default_factory=dict)
    allow_window: bool = False
    allow_group_agg: bool = False
    # Set inside `scalar(...) OVER w`: aggregates without their own OVER use window `w`.
    default_window: int | None = None
    aliases: dict[str, Expr] = field(default_factory=dict)


class Binder:
    """Binds one statement; keeps the SQL text to quote it in errors."""

    def __init__(self, sql: str, catalog: Catalog, indexes: Mapping[str, Sequence[str]]) -> None:
        self.sql = sql
        self.catalog = {_norm_table(k): (k, tuple(v)) for k, v in catalog.items()}
        self.indexes = {_norm_table(k): tuple(v) for k, v in indexes.items()}
        self.ctes: dict[str, Select] = {}
        # Placeholder node (by id) -> its parameter, as a constant (see number_placeholders).
        self.placeholders: dict[int, Literal] = {}

    def number_placeholders(self, tree: exp.Expr, parameters: Parameters | None) -> None:
        """Give each ``?`` of ``tree`` its parameter: the n-th placeholder written takes the n-th value."""
        found = list(tree.find_all(exp.Placeholder))
        for node in found:
            if node.this:
                self.fail(node, f"named parameters (:{node.this}) are not OpenMLDB SQL; use '?'")
        found.sort(key=lambda node: node.meta.get("start", 0))
        given = 0 if parameters is None else len(parameters)
        if found and parameters is None:
            self.fail(found[0], f"the query has {len(found)} '?' placeholder(s) and no parameters were given")
        if len(found) != given:
            raise OpenFeatSQLError(f"{given} parameter(s) given for {len(found)} '?' placeholder(s) in the query")
        assert parameters is not None or not found
        for node, (type_, value) in zip(found, parameters or (), strict=True):
            self.placeholders[id(node)] = Literal(value, type_)

    # ------------------------------------------------------------------ errors
    def fail(self, node: exp.Expr | None, message: str, *, not_supported: bool = False) -> NoReturn:
        line, col, snippet = self._locate(node)
        cls = NotSupportedError if not_supported else OpenFeatSQLError
        raise cls(message, line=line, column=col, snippet=snippet)

    def _locate(self, node: exp.Expr | None) -> tuple[int | None, int | None, str]:
        if node is None:
            return None, None, ""
        snippet = ""
        try:
            snippet = _expr_sql(node)
        except Exception:
            snippet = ""
        start: int | None = None
        for n in node.walk():
            meta = getattr(n, "meta", None) or {}
            if "start" in meta:
                start = meta["start"] if start is None else min(start, meta["start"])
        if start is None and isinstance(node, exp.Anonymous):
            m = re.search(rf"\b{re.escape(str(node.name))}\s*\(", self.sql, flags=re.IGNORECASE)
            start = m.start() if m else None
        if start is None and snippet:
            idx = self.sql.lower().find(snippet.lower())
            start = idx if idx >= 0 else None
        if start is None:
            return None, None, snippet
        line = self.sql.count("\n", 0, start) + 1
        col = start - (self.sql.rfind("\n", 0, start) + 1) + 1
        if isinstance(node, exp.Anonymous) and snippet:
            snippet = snippet if len(snippet) <= 80 else snippet[:77] + "..."
        return line, col, snippet

    # ------------------------------------------------------------------ statements
    def bind_statement(self, tree: exp.Expr) -> Select:
        if isinstance(tree, exp.Select):
            return self.bind_select(tree)
        if isinstance(tree, exp.SetOperation):
            for clause in ("order", "limit"):
                if tree.args.get(clause) is not None:
                    self.fail(tree.args[clause], f"{clause.upper()} after a UNION", not_supported=True)
            union = self.bind_set_operation(tree, "")
            outputs = tuple(Output(f.name, ColumnRef("", f.name, f.type, i)) for i, f in enumerate(union.schema))
            return Select(source=union, where=None, windows=(), outputs=outputs)
        self.fail(tree, f"only SELECT statements can be computed, got {tree.key.upper()}", not_supported=True)

    def bind_select(self, node: exp.Select) -> Select:
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            for cte in with_.expressions:
                inner = cte.this
                if not isinstance(inner, exp.Select):
                    self.fail(inner, "WITH clauses must define SELECT queries", not_supported=True)
                self.ctes[_norm_table(cte.alias)] = self.bind_select(inner)
        for unsupported in ("distinct", "order", "qualify"):
            if node.args.get(unsupported):
                what = {"distinct": "SELECT DISTINCT", "order": "ORDER BY on a query", "qualify": "QUALIFY"}
                self.fail(node.args[unsupported], what[unsupported], not_supported=True)
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is None:
            source: Relation = Scan("", "", ())
            scope = _Scope(fields=(), tables=())
        else:
            source = self.bind_from(from_.this, node.args.get("joins") or [])
            scope = _Scope(fields=source.schema, tables=_qualifiers(source))
        for w in node.args.get("windows") or []:
            if not isinstance(w, MLDBWindow):
                self.fail(w, "malformed WINDOW definition")
            name = w.this.name if isinstance(w.this, exp.Identifier) else str(w.this)
            if name.lower() in scope.named_windows:
                self.fail(w, f"window {name!r} is defined twice")
            scope.named_windows[name.lower()] = w

        where = None
        if node.args.get("where") is not None:
            where = self.bind_expr(node.args["where"].this, scope)
            self._expect_bool(node.args["where"].this, where, "WHERE")

        group_by: tuple[Expr, ...] = ()
        if node.args.get("group") is not None:
            group_by = tuple(self.bind_expr(g, scope) for g in node.args["group"].expressions)
            for g_ast, g in zip(node.args["group"].expressions, group_by, strict=True):
                if g.type not in _PARTITIONABLE_TYPES:
                    self.fail(g_ast, f"GROUP BY key must be bool, int, string, date or timestamp; got {g.type}")

        scope.allow_window = True
        scope.allow_group_agg = True
        outputs: list[Output] = []
        written: list[exp.Expr] = []  # the SELECT item of each output (for errors)
        for item in node.expressions:
            written.extend([item] * (len(scope.fields) if isinstance(item, exp.Star) else 1))
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                written.extend([item] * (sum(_same(f.qualifier, item.table) for f in scope.fields) - 1))
            if isinstance(item, exp.Star):
                outputs.extend(
                    Output(f.name, ColumnRef(f.qualifier, f.name, f.type, i)) for i, f in enumerate(scope.fields)
                )
                continue
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                q = item.table
                matched = [f for f in scope.fields if _same(f.qualifier, q)]
                if not matched:
                    self.fail(item, f"unknown table {q!r} in {q}.*")
                outputs.extend(
                    Output(f.name, ColumnRef(f.qualifier, f.name, f.type, scope.fields.index(f))) for f in matched
                )
                continue
            inner = item.this if isinstance(item, exp.Alias) else item
            bound = self.bind_expr(inner, scope)
            name = item.alias if isinstance(item, exp.Alias) else _output_name(inner, self)
            outputs.append(Output(name, bound))
            scope.aliases[name] = bound

        having = None
        if node.args.get("having") is not None:
            # HAVING reads the input's columns and aggregates, not the SELECT list's aliases (as in OpenMLDB).
            scope.aliases = {}
            having = self.bind_expr(node.args["having"].this, scope)
            self._expect_bool(node.args["having"].this, having, "HAVING")

        limit = None
        if node.args.get("limit") is not None:
            lim = node.args["limit"].expression
            if not isinstance(lim, exp.Literal) or lim.is_string:
                self.fail(lim, "LIMIT takes an integer literal")
            limit = int(lim.this)

        plan = Select(
            source=source,
            where=where,
            windows=tuple(scope.windows),
            outputs=tuple(outputs),
            group_by=group_by,
            having=having,
            limit=limit,
        )
        if plan.is_aggregation or having is not None:
            self._check_full_group_by(plan, written, node)
        return plan

    def _check_full_group_by(self, plan: Select, written: Sequence[exp.Expr], node: exp.Select) -> None:
        """OpenMLDB's ONLY_FULL_GROUP_BY rules: an aggregated query's outputs (and a HAVING without aggregates) read
        only grouped columns, outside aggregates; HAVING needs an aggregated query."""

        def column_key(c: ColumnRef) -> tuple[str, str, int]:
            return (c.qualifier.lower(), c.name.lower(), c.index)

        if plan.having is not None and not plan.is_aggregation:
            self.fail(node.args["having"], "HAVING can only be used in an aggregated query (GROUP BY or aggregates)")
        grouped = {column_key(c) for g in plan.group_by for c in collect(g, ColumnRef)}
        for number, (o, item) in enumerate(zip(plan.outputs, written, strict=True), start=1):
            if collect(o.expr, WindowAgg):
                self.fail(item, "window aggregates cannot be mixed with GROUP BY aggregates", not_supported=True)
            if collect(o.expr, GroupAgg):
                continue
            loose = [c for c in collect(o.expr, ColumnRef) if column_key(c) not in grouped]
            if loose:
                what = "is not in GROUP BY and reads" if plan.group_by else "of an aggregated query reads"
                self.fail(
                    item,
                    f"expression #{number} of the SELECT list ({o.name}) {what} column {loose[0].name!r} outside an "
                    "aggregate (OpenMLDB's ONLY_FULL_GROUP_BY)",
                )
        having = plan.having
        if having is None:
            return
        having_ast = node.args["having"]
        if not collect(having, GroupAgg):
            loose = [c for c in collect(having, ColumnRef) if column_key(c) not in grouped]
            if loose:
                self.fail(
                    having_ast,
                    f"HAVING reads column {loose[0].name!r}, which is not in GROUP BY, outside an aggregate "
                    "(OpenMLDB's ONLY_FULL_GROUP_BY)",
                )

    # ------------------------------------------------------------------ relations
    def bind_from(self, node: exp.Expr, joins: Sequence[exp.Expr]) -> Relation:
        rel = self.bind_table_like(node)
        for j in joins:
            if isinstance(j, AstLastJoin):
                rel = self.bind_last_join(rel, j)
            elif isinstance(j, exp.Join):
                side = str(j.args.get("side") or "").upper()
                kind = str(j.args.get("kind") or "").upper()
                if side == "LEFT" and kind in ("", "OUTER") and not j.args.get("using"):
                    rel = self.bind_left_join(rel, j)
                    continue
                written = " ".join(x for x in (side, kind) if x) or "INNER"
                self.fail(j, f"{written} JOIN (OpenMLDB has LAST JOIN and LEFT JOIN)", not_supported=True)
            else:
                self.fail(j, "unexpected join clause")
        return rel

    def bind_table_like(self, node: exp.Expr) -> Relation:
        if isinstance(node, exp.Table):
            if isinstance(node.this, (exp.Identifier, str)):
                return self.bind_table(node)
            self.fail(node, "unsupported table expression", not_supported=True)
        if isinstance(node, exp.Subquery):
            inner = node.this
            if isinstance(inner, exp.SetOperation):
                return self.bind_set_operation(inner, node.alias)
            if not isinstance(inner, exp.Select):
                self.fail(inner, "subqueries must be SELECT queries", not_supported=True)
            return self._bind_subquery(inner, node.alias)
        self.fail(node, f"unsupported FROM item {node.key.upper()}", not_supported=True)

    def _bind_subquery(self, inner: exp.Select, alias: str) -> SubqueryRel:
        query = Binder(self.sql, {v[0]: v[1] for v in self.catalog.values()}, self.indexes)
        query.ctes = self.ctes
        query.placeholders = self.placeholders
        plan = query.bind_select(inner)
        # Without an alias, OpenMLDB lets the outer query qualify columns by the inner main table's name.
        alias = alias or (_qualifiers(plan.source)[0] if plan.source.schema else "")
        schema = tuple(Field(alias, f.name, f.type) for f in plan.schema)
        return SubqueryRel(plan, alias, schema)

    def bind_set_operation(self, node: exp.SetOperation, alias: str) -> UnionAll:
        """``q1 UNION ALL q2``: the inputs' column types must agree, position by position."""
        if not isinstance(node, exp.Union):
            self.fail(node, f"{node.key.upper()} between SELECTs", not_supported=True)
        if node.args.get("distinct"):
            self.fail(node, "UNION without ALL (UNION DISTINCT); write UNION ALL", not_supported=True)
        inputs: list[Relation] = []
        for side in (node.this, node.expression):
            while isinstance(side, exp.Subquery) and not side.alias:
                side = side.this
            if isinstance(side, exp.SetOperation):
                inputs.append(self.bind_set_operation(side, ""))
            elif isinstance(side, exp.Select):
                inputs.append(self._bind_subquery(side, ""))
            else:
                self.fail(side, "UNION ALL joins SELECT queries", not_supported=True)
        first = inputs[0].schema
        for other in inputs[1:]:
            if [f.type for f in other.schema] != [f.type for f in first]:
                want = ", ".join(f"{f.name} {f.type}" for f in first)
                got = ", ".join(f"{f.name} {f.type}" for f in other.schema)
                self.fail(node, f"UNION ALL inputs must have the same column types: ({want}) and ({got})")
        return UnionAll(tuple(inputs), alias, tuple(Field(alias, f.name, f.type) for f in first))

    def bind_table(self, node: exp.Table) -> Relation:
        name = node.name
        alias = node.alias or name
        cte = self.ctes.get(_norm_table(name))
        if cte is not None:
            return SubqueryRel(cte, alias, tuple(Field(alias, f.name, f.type) for f in cte.schema))
        entry = self.catalog.get(_norm_table(name))
        if entry is None:
            known = ", ".join(sorted(v[0] for v in self.catalog.values())) or "none"
            self.fail(node, f"unknown table {name!r} (known tables: {known})")
        real_name, cols = entry
        return Scan(real_name, alias, tuple(Field(alias, c, t) for c, t in cols))

    def bind_last_join(self, left: Relation, node: AstLastJoin) -> LastJoin:
        right = self.bind_table_like(node.this)
        equi, res = self._bind_join_on(left, right, node.args["on"], "LAST JOIN ON")
        order = node.args.get("order")
        scope = _Scope(fields=right.schema, tables=_qualifiers(right))
        order_by = self._bind_order_by(order, scope, "LAST JOIN", descending_allowed=True)
        if order is None:
            order_by = self._index_order(right, equi)
        descending = order is not None and bool(order.expressions[0].args.get("desc"))
        return LastJoin(left, right, equi, res, order_by, left.schema + right.schema, descending)

    def bind_left_join(self, left: Relation, node: exp.Join) -> LeftJoin:
        right = self.bind_table_like(node.this)
        on = node.args.get("on")
        if on is None:
            self.fail(node, "LEFT JOIN needs an ON condition")
        equi, res = self._bind_join_on(left, right, on, "LEFT JOIN ON")
        return LeftJoin(left, right, equi, res, left.schema + right.schema)

    def _bind_join_on(
        self, left: Relation, right: Relation, on: exp.Expr, what: str
    ) -> tuple[tuple[tuple[Expr, Expr], ...], Expr | None]:
        """A join's ON: the ``left = right`` equality keys, and the other conjuncts ANDed."""
        scope = _Scope(fields=left.schema + right.schema, tables=_qualifiers(left) + _qualifiers(right))
        left_quals = set(_qualifiers(left))
        right_quals = set(_qualifiers(right))
        conjuncts = _split_and(on)
        equi: list[tuple[Expr, Expr]] = []
        residual: list[Expr] = []
        for c in conjuncts:
            bound = self.bind_expr(c, scope)
            if isinstance(c, exp.EQ):
                lhs = self.bind_expr(c.this, scope)
                rhs = self.bind_expr(c.expression, scope)
                sides = (_sides(lhs, left_quals, right_quals), _sides(rhs, left_quals, right_quals))
                if sides == ("left", "right") and _comparable(lhs.type, rhs.type):
                    equi.append((lhs, rhs))
                    continue
                if sides == ("right", "left") and _comparable(lhs.type, rhs.type):
                    equi.append((rhs, lhs))
                    continue
            self._expect_bool(c, bound, what)
            residual.append(bound)
        res: Expr | None = None
        for r in residual:
            res = r if res is None else Call("and", (res, r), SQLType.BOOL)
        return tuple(equi), res

    def _bind_order_by(
        self, order: exp.Expr | None, scope: _Scope, what: str, *, descending_allowed: bool = False
    ) -> Expr | None:
        """The single integer/timestamp ORDER BY column of a window (ascending) or a LAST JOIN (either way; the
        caller reads the direction)."""
        if order is None:
            return None
        if len(order.expressions) != 1:
            self.fail(order, f"{what} ORDER BY takes exactly one column")
        o = order.expressions[0]
        if o.args.get("desc") and not descending_allowed:
            self.fail(o, f"{what} ORDER BY does not support DESC")
        order_by = self.bind_expr(o.this, scope)
        if order_by.type not in _ORDERABLE_TYPES:
            self.fail(o, f"{what} ORDER BY column must be an integer or timestamp, got {order_by.type}")
        return order_by

    def _index_order(self, right: Relation, equi: Sequence[tuple[Expr, Expr]]) -> Expr | None:
        """Without ORDER BY, OpenMLDB orders LAST JOIN matches by the ts of the index the keys hit."""
        ts = self._index_ts(right, {r.name for _, r in equi if isinstance(r, ColumnRef)})
        for f in right.schema:
            if f.name == ts:
                return ColumnRef(f.qualifier, f.name, f.type)
        return None

    def _index_ts(self, rel: Relation, keys: set[str]) -> str | None:
        """The column of ``rel`` holding the ts of a stored table's index whose keys ``keys`` cover, followed through
        subqueries' plain column outputs and UNION ALL (whose inputs must agree on it); None if there is none."""
        if isinstance(rel, Scan):
            for spec in self.indexes.get(_norm_table(rel.table), ()):
                parts = spec.split(":")
                if len(parts) < 3 or not parts[2]:
                    continue
                idx_keys = set(parts[1].split("|"))
                if idx_keys and idx_keys <= keys and any(f.name == parts[2] for f in rel.schema):
                    return parts[2]
            return None
        if isinstance(rel, SubqueryRel):
            query = rel.query
            if query.is_aggregation or query.windows:
                return None
            sources = {o.name: o.expr.name for o in query.outputs if isinstance(o.expr, ColumnRef)}
            if not keys or not keys <= sources.keys():
                return None
            ts = self._index_ts(query.source, {sources[k] for k in keys})
            return next((name for name, source in sources.items() if source == ts), None)
        if isinstance(rel, UnionAll):
            names = [f.name for f in rel.schema]
            if not keys <= set(names):
                return None
            at = [names.index(k) for k in keys]
            found: set[int] = set()
            for source in rel.inputs:
                ts = self._index_ts(source, {source.schema[i].name for i in at})
                if ts is None:
                    return None
                found.add(next(i for i, f in enumerate(source.schema) if f.name == ts))
            return names[found.pop()] if len(found) == 1 else None
        return None

    # ------------------------------------------------------------------ expressions
    def _expect_bool(self, node: exp.Expr, e: Expr, where: str) -> None:
        if e.type not in (SQLType.BOOL, SQLType.NULL):
            self.fail(node, f"{where} condition must be a boolean expression, got {e.type}")

    def bind_expr(self, node: exp.Expr, scope: _Scope) -> Expr:
        if isinstance(node, exp.Paren):
            return self.bind_expr(node.this, scope)
        if isinstance(node, exp.Column):
            return self.bind_column(node, scope)
        if isinstance(node, exp.Literal):
            return _literal(node, self)
        if isinstance(node, exp.Boolean):
            return Literal(bool(node.this), SQLType.BOOL)
        if isinstance(node, exp.Null):
            return Literal(None, SQLType.NULL)
        if isinstance(node, exp.Placeholder):
            return self.placeholders[id(node)]
        if isinstance(node, exp.Neg):
            inner = node.this
            if isinstance(inner, exp.Literal) and not inner.is_string:
                lit = _literal(inner, self, negate=True)
                return lit
            return self.call("neg", [self.bind_expr(inner, scope)], node)
        if isinstance(node, exp.Not):
            inner = node.this
            if isinstance(inner, exp.Is):
                return self._bind_is(inner, scope, negate=True)
            return self.call("not", [self.bind_expr(inner, scope)], node)
        if isinstance(node, exp.BitwiseNot):
            return self.call("bitnot", [self.bind_expr(node.this, scope)], node)
        op = _BINARY_OPS.get(type(node))
        if op is not None:
            return self.call(op, [self.bind_expr(node.this, scope), self.bind_expr(node.expression, scope)], node)
        if isinstance(node, exp.DPipe):
            return self.call("or", [self.bind_expr(node.this, scope), self.bind_expr(node.expression, scope)], node)
        if isinstance(node, exp.Is):
            return self._bind_is(node, scope, negate=False)
        if isinstance(node, (exp.Like, exp.ILike)):
            return self._bind_like(node, scope, escape=None)
        if isinstance(node, exp.Escape):
            like = node.this
            negate = isinstance(like, exp.Not)
            if negate:
                like = like.this
            if not isinstance(like, (exp.Like, exp.ILike)):
                self.fail(node, "ESCAPE must follow LIKE or ILIKE")
            match = self._bind_like(like, scope, escape=self.bind_expr(node.expression, scope))
            return self.call("not", [match], node) if negate else match
        if isinstance(node, exp.RegexpLike):
            return self.call(
                "regexp_like", [self.bind_expr(node.this, scope), self.bind_expr(node.expression, scope)], node
            )
        if isinstance(node, exp.Between):
            x = self.bind_expr(node.this, scope)
            lo = self.call("ge", [x, self.bind_expr(node.args["low"], scope)], node)
            hi = self.call("le", [x, self.bind_expr(node.args["high"], scope)], node)
            return self.call("and", [lo, hi], node)
        if isinstance(node, exp.In):
            if node.args.get("query") is not None:
                self.fail(node, "IN (subquery)", not_supported=True)
            x = self.bind_expr(node.this, scope)
            matches = [self.call("eq", [x, self.bind_expr(v, scope)], node) for v in node.expressions]
            if not matches:
                self.fail(node, "IN needs at least one value")
            # OR is associative (NULLs included): a balanced tree keeps a list of thousands of values shallow.
            while len(matches) > 1:
                pairs = range(0, len(matches) - 1, 2)
                paired = [self.call("or", [matches[i], matches[i + 1]], node) for i in pairs]
                matches = paired + matches[len(paired) * 2 :]
            return matches[0]
        if isinstance(node, exp.If):
            cond = self.bind_expr(node.this, scope)
            then = self.bind_expr(node.args["true"], scope)
            other = (
                self.bind_expr(node.args["false"], scope)
                if node.args.get("false") is not None
                else Literal(None, SQLType.NULL)
            )
            return self.call("if", [cond, then, other], node)
        if isinstance(node, exp.Case):
            return self._bind_case(node, scope)
        if isinstance(node, exp.Array):
            return self.call("array", [self.bind_expr(e, scope) for e in node.expressions], node)
        if isinstance(node, exp.Bracket):
            if len(node.expressions) != 1:
                self.fail(node, "a subscript takes one key: map[key]")
            key = self.bind_expr(node.expressions[0], scope)
            return self.call("element_at", [self.bind_expr(node.this, scope), key], node)
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return self._bind_cast(node, scope)
        if isinstance(node, MLDBWindow):
            return self._bind_window_call(node, scope)
        if isinstance(node, exp.Anonymous):
            return self._bind_function(node, scope)
        if isinstance(node, exp.Func):
            # A function sqlglot parses specially (e.g. TRIM(...), EXTRACT(...)); use its SQL name.
            name = node.sql_name().lower()
            args = [a for a in node.args.values() if isinstance(a, exp.Expr)]
            fake = exp.Anonymous(this=name, expressions=args)
            return self._bind_function(fake, scope)
        if isinstance(node, exp.Star):
            self.fail(node, "'*' is only allowed in SELECT * and count(*)")
        if isinstance(node, exp.Subquery):
            self.fail(node, "scalar subqueries", not_supported=True)
        self.fail(node, f"unsupported expression {node.key.upper()}", not_supported=True)

    def bind_column(self, node: exp.Column, scope: _Scope) -> Expr:
        name = node.name
        qual = node.table
        if isinstance(node.this, exp.Star):
            self.fail(node, "'*' is only allowed in SELECT * and count(*)")
        candidates = [f for f in scope.fields if f.name == name and (not qual or _same(f.qualifier, qual))]
        if not candidates:
            candidates = [
                f for f in scope.fields if f.name.lower() == name.lower() and (not qual or _same(f.qualifier, qual))
            ]
        if not candidates and not qual and name in scope.aliases:
            return scope.aliases[name]
        if not candidates:
            if qual and not any(_same(q, qual) for q in scope.tables):
                self.fail(node, f"unknown table {qual!r} in column {qual}.{name}")
            where = f" of table {qual!r}" if qual else ""
            avail = ", ".join(dict.fromkeys(f.name for f in scope.fields)) or "none"
            self.fail(node, f"unknown column {name!r}{where}; available columns: {avail}")
        f = candidates[0]
        return ColumnRef(f.qualifier, f.name, f.type, scope.fields.index(f))

    def _bind_is(self, node: exp.Is, scope: _Scope, *, negate: bool) -> Expr:
        target = node.expression
        x = self.bind_expr(node.this, scope)
        if isinstance(target, exp.Null):
            return self.call("is_not_null" if negate else "is_null", [x], node)
        if isinstance(target, exp.Boolean):
            eq = self.call("eq", [x, Literal(bool(target.this), SQLType.BOOL)], node)
            res = self.call("ifnull", [eq, Literal(False, SQLType.BOOL)], node)
            return self.call("not", [res], node) if negate else res
        self.fail(node, "IS must be followed by NULL, TRUE or FALSE")

    def _bind_like(self, node: exp.Expr, scope: _Scope, escape: Expr | None) -> Expr:
        name = "ilike_match" if isinstance(node, exp.ILike) else "like_match"
        args = [self.bind_expr(node.this, scope), self.bind_expr(node.expression, scope)]
        if escape is not None:
            if isinstance(escape, Literal) and isinstance(escape.value, str) and len(escape.value.encode()) > 1:
                self.fail(
                    node, f"the ESCAPE of {name.split('_')[0].upper()} must be one character, got {escape.value!r}"
                )
            args.append(escape)
        match = self.call(name, args, node)
        return self.call("not", [match], node) if node.args.get("negate") else match

    def _bind_case(self, node: exp.Case, scope: _Scope) -> Expr:
        subject = self.bind_expr(node.this, scope) if node.this is not None else None
        whens: list[tuple[Expr, Expr]] = []
        for w in node.args.get("ifs") or []:
            cond = self.bind_expr(w.this, scope)
            if subject is not None:
                cond = self.call("eq", [subject, cond], w)
            self._expect_bool(w.this, cond, "CASE WHEN")
            whens.append((cond, self.bind_expr(w.args["true"], scope)))
        default = self.bind_expr(node.args["default"], scope) if node.args.get("default") is not None else None
        result_types = [v.type for _, v in whens] + ([default.type] if default is not None else [])
        rtype = self._common_type(result_types, node)
        whens = [(c, _coerce(v, rtype)) for c, v in whens]
        return Case(tuple(whens), _coerce(default, rtype) if default is not None else None, rtype)

    def _common_type(self, types: Sequence[SQLType], node: exp.Expr) -> SQLType:
        from openfeat_core.functions.cast import compatible_type

        result = SQLType.NULL
        for t in types:
            try:
                result = compatible_type(result, t)
            except FunctionTypeError as e:
                self.fail(node, f"CASE branches have incompatible types: {e}")
        return result

    def _bind_cast(self, node: exp.Cast, scope: _Scope) -> Expr:
        to = node.args["to"]
        type_name = to.sql(dialect="mysql") if isinstance(to, exp.DataType) else str(to)
        try:
            # VARCHAR(10) is a string; ARRAY<...> / MAP<...> are parsed whole.
            target = parse_type_name(type_name if "<" in type_name else type_name.split("(")[0])
        except ValueError as e:
            self.fail(to, str(e))
        arg = self.bind_expr(node.this, scope)
        if (
            isinstance(arg, Literal)
            and isinstance(node.this, exp.Literal)
            and not node.this.is_string
            and node.args.get("_type") is not None
            and target.is_numeric
        ):
            # `1L` / `1.0f` literal suffixes arrive as casts of the bare number.
            return _literal(node.this, self, as_type=target)
        from openfeat_core.functions.cast import can_cast

        if not can_cast(arg.type, target):
            self.fail(node, f"cannot cast {arg.type} to {target}")
        return Cast(arg, target)

    def call(self, name: str, args: list[Expr], node: exp.Expr) -> Expr:
        fn = REGISTRY.scalar(name)
        if fn is None:
            self.fail(node, f"function {name!r} is not implemented", not_supported=True)
        if fn.name not in NESTED_ARGUMENT_FUNCTIONS and any(a.type.is_nested for a in args):
            shown = ", ".join(str(a.type) for a in args)
            self.fail(node, f"{fn.name}({shown}): arrays and maps are not arguments of {fn.name}()")
        try:
            rtype = fn.resolve([a.type for a in args])
        except FunctionTypeError as e:
            self.fail(node, str(e))
        return Call(fn.name, tuple(args), rtype)

    def _bind_function(self, node: exp.Anonymous, scope: _Scope) -> Expr:
        node = _rewrite_list_call(node)
        name = str(node.name).lower()
        raw_args = list(node.expressions)
        from openfeat_core.functions import signatures

        if name in signatures.FORMATTERS:
            return self._bind_signature_format(name, node, raw_args, scope)
        if name in signatures.SIGNATURE_KINDS:
            args = [self.bind_expr(a, scope) for a in raw_args]
            try:
                rtype = signatures.signature_standalone_type(name, [a.type for a in args])
            except FunctionTypeError as e:
                self.fail(node, str(e))
            return Call(name, tuple(args), rtype)
        agg = REGISTRY.aggregate(name)
        scalar = REGISTRY.scalar(name)
        if name == "at" and raw_args and self._binds_to_array(raw_args[0], scope):
            # `at` is the window aggregate (lag) and also OpenMLDB's element access of a list: at(split(s, ','), 0).
            return self.call(AT_ARRAY, [self.bind_expr(a, scope) for a in raw_args], node)
        if agg is not None and scalar is None:
            if scope.default_window is not None:
                args = self._bind_agg_args(name, raw_args, scope, node, scope.default_window)
                return WindowAgg(agg.name, tuple(args), scope.default_window, self._resolve_agg(name, args, node))
            if not scope.allow_group_agg:
                self.fail(node, f"aggregate function {name}() needs OVER <window> here")
            args = self._bind_agg_args(name, raw_args, scope, node)
            rtype = self._resolve_agg(name, args, node)
            return GroupAgg(agg.name, tuple(args), rtype)
        if scalar is None:
            self._unknown_function(name, node)
        args = [self.bind_expr(a, scope) for a in raw_args]
        return self.call(name, args, node)

    def _binds_to_array(self, node: exp.Expr, scope: _Scope) -> bool:
        """Whether ``node`` is an expression of an ARRAY type in ``scope`` (False when it does not bind there, e.g. an
        aggregate without OVER, which only binds as an aggregate's argument)."""
        try:
            return self.bind_expr(node, scope).type.is_array
        except OpenFeatSQLError:
            return False

    def _unknown_function(self, name: str, node: exp.Expr) -> NoReturn:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY.all_names(), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        self.fail(node, f"unknown function {name!r}{hint}")

    def _bind_signature_format(self, fmt: str, node: exp.Expr, raw_args: Sequence[exp.Expr], scope: _Scope) -> Expr:
        from openfeat_core.functions import signatures

        sigs: list[tuple[str, tuple[Expr, ...]]] = []
        for a in raw_args:
            if not isinstance(a, exp.Anonymous) or str(a.name).lower() not in signatures.SIGNATURE_KINDS:
                self.fail(a, f"every argument of {fmt}() must be a feature-signature call such as continuous(x)")
            kind = str(a.name).lower()
            args = tuple(self.bind_expr(x, scope) for x in a.expressions)
            try:
                signatures.signature_arg_check(kind, [x.type for x in args])
            except FunctionTypeError as e:
                self.fail(a, str(e))
            sigs.append((kind, args))
        return SignatureFormat(fmt, tuple(sigs), SQLType.STRING)

    def _bind_agg_args(
        self, name: str, raw_args: Sequence[exp.Expr], scope: _Scope, node: exp.Expr, window: int | None = None
    ) -> list[Expr]:
        """Bind an aggregate's arguments. Inside a windowed aggregate, a nested aggregate without OVER
        (``sum(c1 - count(c1)) OVER w``) is evaluated over the same window, once per output row."""
        agg = REGISTRY.aggregate(name)
        assert agg is not None
        args: list[Expr] = []
        inner = _Scope(fields=scope.fields, tables=scope.tables, aliases=scope.aliases)
        inner.default_window = window if window is not None else scope.default_window
        # Aggregates nested in a windowed aggregate's arguments are evaluated per output row, with or without OVER.
        inner.allow_window = inner.default_window is not None
        inner.named_windows = scope.named_windows
        inner.windows = scope.windows
        inner.window_ids = scope.window_ids
        if inner.default_window is None:
            for a in raw_args:
                for sub in a.find_all(exp.Anonymous):
                    sub_name = str(sub.name).lower()
                    if REGISTRY.aggregate(sub_name) is not None and REGISTRY.scalar(sub_name) is None:
                        self.fail(
                            sub,
                            f"aggregate {sub_name}() nested inside {name}() needs an OVER window",
                            not_supported=True,
                        )
        for i, a in enumerate(raw_args):
            if isinstance(a, exp.Star):
                if i != 0:
                    self.fail(a, f"'*' can only be the first argument of {name}()")
                args.append(Literal(True, SQLType.BOOL))
                continue
            bound = self.bind_expr(a, inner)
            if i in agg.constant_args and not isinstance(bound, Literal):
                self.fail(a, f"argument {i + 1} of {name}() must be a constant")
            args.append(bound)
        return args

    def _resolve_agg(self, name: str, args: Sequence[Expr], node: exp.Expr) -> SQLType:
        agg = REGISTRY.aggregate(name)
        assert agg is not None
        try:
            return agg.resolve([a.type for a in args])
        except FunctionTypeError as e:
            self.fail(node, str(e))

    def _bind_window_call(self, node: MLDBWindow, scope: _Scope) -> Expr:
        func = node.this
        if not isinstance(func, exp.Anonymous):
            self.fail(node, "OVER must follow a function call")
        func = _rewrite_list_call(func)
        name = str(func.name).lower()
        agg = REGISTRY.aggregate(name)
        scalar = REGISTRY.scalar(name)
        if agg is None and scalar is None:
            self._unknown_function(name, func)
        if not scope.allow_window:
            self.fail(node, "window functions are only allowed in the SELECT list")
        if node.args.get("frame") is None and node.args.get("alias") is not None:
            wname = node.args["alias"].name
            wdef_ast = scope.named_windows.get(wname.lower())
            if wdef_ast is None:
                self.fail(node, f"unknown window {wname!r}")
        else:
            wname = f"__inline_{len(scope.windows)}"
            wdef_ast = node
        window = self.bind_window(wname, wdef_ast, scope)
        if window not in scope.window_ids:
            scope.window_ids[window] = len(scope.windows)
            scope.windows.append(window)
        wid = scope.window_ids[window]
        if agg is None:
            # `scalar(expr) OVER w` (FeatureZero style): aggregates inside `expr` without OVER use `w`.
            saved = scope.default_window
            scope.default_window = wid
            try:
                return self._bind_function(func, scope)
            finally:
                scope.default_window = saved
        args = self._bind_agg_args(name, list(func.expressions), scope, func, wid)
        rtype = self._resolve_agg(name, args, func)
        return WindowAgg(agg.name, tuple(args), wid, rtype)

    def bind_window(self, name: str, node: MLDBWindow, scope: _Scope) -> WindowDef:
        partition = node.args.get("partition_by") or []
        if not partition:
            self.fail(node, f"window {name!r} needs PARTITION BY")
        keys: list[Expr] = []
        for p in partition:
            k = self.bind_expr(p, _Scope(fields=scope.fields, tables=scope.tables))
            if k.type not in _PARTITIONABLE_TYPES:
                self.fail(p, f"PARTITION BY column must be bool, int, string, date or timestamp; got {k.type}")
            keys.append(k)
        columns = _Scope(fields=scope.fields, tables=scope.tables)
        order_by = self._bind_order_by(node.args.get("order"), columns, "window")
        frame_ast = node.args.get("frame")
        if frame_ast is None:
            self.fail(node, f"window {name!r} needs a frame: ROWS or ROWS_RANGE BETWEEN ... AND ...")
        frame = self._bind_frame(frame_ast, order_by)
        unions = tuple(self._bind_union(u, scope) for u in node.args.get("unions") or [])
        return WindowDef(name, tuple(keys), order_by, frame, unions)

    def _bind_frame(self, node: FrameSpec, order_by: Expr | None) -> Frame:
        kind = node.args["kind"]
        start = _bound(node.args["start"])
        end = _bound(node.args["end"])
        maxsize = node.args.get("maxsize")
        if start.kind == "current" and end.kind != "current":
            self.fail(node, "frame start CURRENT ROW must end at CURRENT ROW")
        if end.kind == "unbounded":
            self.fail(node, "frame end cannot be UNBOUNDED PRECEDING")
        if start.kind == "preceding" and end.kind == "preceding" and 0 <= start.offset < end.offset:
            self.fail(
                node, f"frame start ({start.offset} PRECEDING) must not be after its end ({end.offset} PRECEDING)"
            )
        # OpenMLDB has no look-ahead: a negative offset ("-1 PRECEDING") is clamped to the current row.
        if start.offset < 0:
            start = Bound("current") if kind == "rows" else Bound("preceding", 0, start.open)
        if end.offset < 0:
            end = Bound("current")
        if maxsize is not None:
            if kind != "rows_range":
                self.fail(node, "MAXSIZE is only valid for ROWS_RANGE windows")
            if maxsize <= 0:
                self.fail(node, "MAXSIZE must be positive")
        if kind == "rows" and any(
            b.kind == "preceding" and node.args[k].args.get("unit") for k, b in (("start", start), ("end", end))
        ):
            self.fail(node, "ROWS frame offsets are row counts; time units (s/m/h/d) need ROWS_RANGE")
        if order_by is None and kind == "rows_range" and not (start.kind == "unbounded" and end.kind == "current"):
            self.fail(node, "a ROWS_RANGE window without ORDER BY must be UNBOUNDED PRECEDING AND CURRENT ROW")
        if order_by is None and node.args.get("exclude_current_time"):
            self.fail(node, "EXCLUDE CURRENT_TIME needs ORDER BY")
        return Frame(
            kind=kind,
            start=start,
            end=end,
            maxsize=maxsize,
            exclude_current_time=bool(node.args.get("exclude_current_time")),
            exclude_current_row=bool(node.args.get("exclude_current_row")),
            instance_not_in_window=bool(node.args.get("instance_not_in_window")),
        )

    def _bind_union(self, node: exp.Expr, scope: _Scope) -> Relation:
        rel = self.bind_table_like(node)
        main = scope.fields
        got = rel.schema
        if len(got) != len(main) or any(
            (a.name.lower(), a.type) != (b.name.lower(), b.type) for a, b in zip(main, got, strict=False)
        ):
            want = ", ".join(f"{f.name} {f.type}" for f in main)
            have = ", ".join(f"{f.name} {f.type}" for f in got)
            self.fail(node, f"WINDOW UNION source must have the main table's schema ({want}); got ({have})")
        return rel


# ---------------------------------------------------------------------------------------------- helpers


def _rewrite_list_call(node: exp.Anonymous) -> exp.Anonymous:
    """``join(window_split(s, d), sep)`` → ``join_window_split(s, d, sep)``.

    A window's list is not a value: the list-producing window function is fused with the aggregate consuming it
    (see functions/agg_cate.py). One row's list (``split(s, d)``) is an ARRAY value (functions/arrays.py).
    """
    from openfeat_core.functions.agg_cate import LIST_AGGREGATE_REWRITES

    args = list(node.expressions)
    if not args or not isinstance(args[0], exp.Anonymous):
        return node
    pair = (str(node.name).lower(), str(args[0].name).lower())
    fused = LIST_AGGREGATE_REWRITES.get(pair)
    if fused is None:
        return node
    return exp.Anonymous(this=fused, expressions=[*args[0].expressions, *args[1:]])


def _norm_table(name: str) -> str:
    """Table names compare case-insensitively and without a database qualifier."""
    return name.split(".")[-1].lower()


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _qualifiers(rel: Relation) -> tuple[str, ...]:
    if isinstance(rel, Scan):
        return (rel.alias, rel.table)
    if isinstance(rel, (SubqueryRel, UnionAll)):
        return (rel.alias,)
    return _qualifiers(rel.left) + _qualifiers(rel.right)


def _split_and(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.And):
        return _split_and(node.this) + _split_and(node.expression)
    if isinstance(node, exp.Paren):
        return _split_and(node.this)
    return [node]


def _sides(e: Expr, left: set[str], right: set[str]) -> str:
    """Which side(s) of a join an expression reads: ``left``, ``right``, ``both`` or ``none``."""
    quals = qualifiers_read(e)
    in_left = bool(quals & left)
    in_right = bool(quals & right)
    if in_left and in_right:
        return "both"
    if in_left:
        return "left"
    if in_right:
        return "right"
    return "none"


def _comparable(a: SQLType, b: SQLType) -> bool:
    if a is b:
        return True
    return (a.is_integer and b.is_integer) or (a.is_numeric and b.is_numeric)


def _wider_numeric(a: SQLType, b: SQLType) -> SQLType:
    order = [SQLType.BOOL, SQLType.INT16, SQLType.INT32, SQLType.INT64, SQLType.FLOAT, SQLType.DOUBLE]
    return a if order.index(a) >= order.index(b) else b


def _coerce(e: Expr, t: SQLType) -> Expr:
    if e.type is t or t is SQLType.NULL:
        return e
    if isinstance(e, Literal) and e.value is None:
        return Literal(None, t)
    return Cast(e, t)


def _bound(node: FrameBound) -> Bound:
    kind = node.args["kind"]
    return Bound(kind=kind, offset=int(node.args.get("offset") or 0), open=bool(node.args.get("open")))


def _literal(node: exp.Literal, binder: Binder, *, negate: bool = False, as_type: SQLType | None = None) -> Literal:
    text = node.this
    if node.is_string:
        return Literal(text, SQLType.STRING)
    try:
        if as_type is not None and as_type.is_float:
            v: Any = float(text)
        elif re.fullmatch(r"[0-9]+", text):
            v = int(text)
        else:
            v = float(text)
    except ValueError:
        binder.fail(node, f"malformed number {text!r}")
    if negate:
        v = -v
    if as_type is not None:
        if as_type.is_integer and isinstance(v, float):
            binder.fail(node, f"{text} is not an integer")
        return Literal(float(v) if as_type.is_float else int(v), as_type)
    if isinstance(v, int):
        if -(2**31) <= v < 2**31:
            return Literal(v, SQLType.INT32)
        if -(2**63) <= v < 2**63:
            return Literal(v, SQLType.INT64)
        binder.fail(node, f"integer literal {text} does not fit in BIGINT")
    return Literal(v, SQLType.DOUBLE)


def _output_name(node: exp.Expr, binder: Binder) -> str:
    """OpenMLDB names an unaliased output column after the column, else after the expression as written
    (a window call as ``sum(c4)over w1``)."""
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, MLDBWindow) and node.args.get("frame") is None and node.args.get("alias") is not None:
        return f"{_expr_sql(node.this)}over {node.args['alias'].name}"
    return _expr_sql(node)


def _expr_sql(node: exp.Expr) -> str:
    from openfeat_core.sql.dialect import OpenMLDB

    return node.sql(dialect=OpenMLDB, normalize_functions=False, unsupported_level=ErrorLevel.IGNORE)


def bind_constants(sql: str, exprs: Sequence[exp.Expr]) -> list[Expr]:
    """Bind expressions that read no table (``values`` of a CONFIG clause)."""
    binder = Binder(sql, {}, {})
    return call_with_deep_stack(lambda: [binder.bind_expr(e, _Scope(fields=(), tables=())) for e in exprs])


def catalog_of(tables: Mapping[str, pa.Table]) -> dict[str, list[tuple[str, SQLType]]]:
    """The SQL schema of each table."""
    catalog: dict[str, list[tuple[str, SQLType]]] = {}
    for name, table in tables.items():
        cols = []
        for f in table.schema:
            try:
                cols.append((f.name, sql_type_of_arrow(f.type)))
            except ValueError as e:
                raise DataError(f"table {name!r}, column {f.name!r}: {e}") from None
        catalog[name] = cols
    return catalog


def plan_sql(
    sql: str,
    tables: Mapping[str, pa.Table],
    *,
    indexes: Mapping[str, Sequence[str]] | None = None,
    parameters: Parameters | None = None,
) -> Select:
    """Bind ``sql`` against the schemas of ``tables`` (``parameters``: as :func:`bind_sql` takes them)."""
    return bind_sql(sql, catalog_of(tables), indexes=indexes, parameters=parameters)


def query_parameters(values: pa.Table | pa.RecordBatch | Sequence[Any]) -> list[tuple[SQLType, Any]]:
    """The values of a query's ``?`` placeholders, typed.

    Args:
        values: a one-row Arrow table or record batch (its column types are the parameters' types, as OpenMLDB's
            parameter row declares them), or Python values whose types are inferred: ``int`` is BIGINT, ``float``
            DOUBLE, ``str`` STRING, ``bool`` BOOL, ``datetime`` TIMESTAMP, ``date`` DATE, ``None`` a NULL.

    Raises:
        DataError: a table that is not one row, or a value of no SQL type.
    """
    import pyarrow as pa

    from openfeat_core.column import Column

    if isinstance(values, (pa.Table, pa.RecordBatch)):
        if values.num_rows != 1:
            raise DataError(f"parameters: a parameter table holds exactly one row, got {values.num_rows}")
        arrays = [values.column(i) for i in range(values.num_columns)]
        names = list(values.schema.names)
    else:
        arrays = []
        for i, v in enumerate(values):
            try:
                arrays.append(pa.array([v]))
            except (pa.ArrowException, TypeError, ValueError) as e:
                raise DataError(f"parameter {i + 1} ({v!r}): no SQL type for it: {e}") from None
        names = [str(i + 1) for i in range(len(arrays))]
    typed: list[tuple[SQLType, Any]] = []
    for name, array in zip(names, arrays, strict=True):
        try:
            type_ = sql_type_of_arrow(array.type)
        except ValueError as e:
            raise DataError(f"parameter {name}: {e}") from None
        col = Column.from_arrow(array, type_)
        typed.append((type_, col.values.item(0) if col.valid[0] else None))
    return typed
