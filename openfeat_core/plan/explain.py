"""``EXPLAIN``: a plan as text a person can read."""

from __future__ import annotations

from openfeat_core.plan.nodes import (
    Bound,
    Call,
    Case,
    Cast,
    ColumnRef,
    Expr,
    Frame,
    GroupAgg,
    LastJoin,
    LeftJoin,
    Literal,
    Relation,
    Scan,
    Select,
    SignatureFormat,
    SubqueryRel,
    UnionAll,
    WindowAgg,
)

_INFIX = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "int_divide": "DIV",
    "mod": "%",
    "eq": "=",
    "neq": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "and": "AND",
    "or": "OR",
    "xor": "XOR",
}


def explain(plan: Select) -> str:
    """Render ``plan`` as an indented tree, windows listed once with the aggregates they serve."""
    lines: list[str] = []
    _select(plan, lines, 0)
    lines.append(f"digest: {plan.digest()[:16]}")
    return "\n".join(lines)


def _select(plan: Select, lines: list[str], depth: int) -> None:
    pad = "  " * depth
    lines.append(f"{pad}PROJECT {', '.join(o.name + ' := ' + expr_text(o.expr) for o in plan.outputs)}")
    if plan.limit is not None:
        lines.append(f"{pad}  LIMIT {plan.limit}")
    if plan.group_by:
        lines.append(f"{pad}  GROUP BY {', '.join(expr_text(g) for g in plan.group_by)}")
    for i, w in enumerate(plan.windows):
        keys = ", ".join(expr_text(k) for k in w.partition_by)
        order = expr_text(w.order_by) if w.order_by is not None else "insertion order"
        lines.append(f"{pad}  WINDOW #{i} {w.name}: PARTITION BY {keys} ORDER BY {order} {frame_text(w.frame)}")
        for u in w.unions:
            lines.append(f"{pad}    UNION")
            _relation(u, lines, depth + 3)
    if plan.where is not None:
        lines.append(f"{pad}  FILTER {expr_text(plan.where)}")
    _relation(plan.source, lines, depth + 1)


def _relation(rel: Relation, lines: list[str], depth: int) -> None:
    pad = "  " * depth
    if isinstance(rel, Scan):
        alias = f" AS {rel.alias}" if rel.alias and rel.alias != rel.table else ""
        lines.append(f"{pad}SCAN {rel.table or '(one row)'}{alias}")
    elif isinstance(rel, SubqueryRel):
        lines.append(f"{pad}SUBQUERY AS {rel.alias}")
        _select(rel.query, lines, depth + 1)
    elif isinstance(rel, LastJoin):
        keys = " AND ".join(f"{expr_text(a)} = {expr_text(b)}" for a, b in rel.equi_keys) or "(no equality keys)"
        extra = f" AND {expr_text(rel.residual)}" if rel.residual is not None else ""
        order = (
            f" ORDER BY {expr_text(rel.order_by)}{' DESC' if rel.descending else ''}"
            if rel.order_by is not None
            else " (insertion order)"
        )
        lines.append(f"{pad}LAST JOIN ON {keys}{extra}{order}")
        _relation(rel.left, lines, depth + 1)
        _relation(rel.right, lines, depth + 1)
    elif isinstance(rel, LeftJoin):
        keys = " AND ".join(f"{expr_text(a)} = {expr_text(b)}" for a, b in rel.equi_keys) or "(no equality keys)"
        extra = f" AND {expr_text(rel.residual)}" if rel.residual is not None else ""
        lines.append(f"{pad}LEFT JOIN ON {keys}{extra}")
        _relation(rel.left, lines, depth + 1)
        _relation(rel.right, lines, depth + 1)
    elif isinstance(rel, UnionAll):
        lines.append(f"{pad}UNION ALL AS {rel.alias}" if rel.alias else f"{pad}UNION ALL")
        for source in rel.inputs:
            _relation(source, lines, depth + 1)


def frame_text(f: Frame) -> str:
    parts = [f"{f.kind.upper()} BETWEEN {_bound(f.start, f.kind)} AND {_bound(f.end, f.kind)}"]
    if f.maxsize:
        parts.append(f"MAXSIZE {f.maxsize}")
    if f.exclude_current_time:
        parts.append("EXCLUDE CURRENT_TIME")
    if f.exclude_current_row:
        parts.append("EXCLUDE CURRENT_ROW")
    if f.instance_not_in_window:
        parts.append("INSTANCE_NOT_IN_WINDOW")
    return " ".join(parts)


def _bound(b: Bound, kind: str) -> str:
    if b.kind == "unbounded":
        return "UNBOUNDED PRECEDING"
    if b.kind == "current":
        return "CURRENT ROW"
    unit = "ms" if kind == "rows_range" else ""
    return f"{b.offset}{unit} {'OPEN ' if b.open else ''}PRECEDING"


def expr_text(e: Expr | None) -> str:
    """An expression as SQL-like text."""
    if e is None:
        return "NULL"
    if isinstance(e, ColumnRef):
        return f"{e.qualifier}.{e.name}" if e.qualifier else e.name
    if isinstance(e, Literal):
        return "NULL" if e.value is None else repr(e.value)
    if isinstance(e, Call):
        if e.name in _INFIX and len(e.args) == 2:
            return f"({expr_text(e.args[0])} {_INFIX[e.name]} {expr_text(e.args[1])})"
        return f"{e.name}({', '.join(expr_text(a) for a in e.args)})"
    if isinstance(e, Cast):
        return f"CAST({expr_text(e.arg)} AS {e.type})"
    if isinstance(e, Case):
        whens = " ".join(f"WHEN {expr_text(c)} THEN {expr_text(v)}" for c, v in e.whens)
        default = f" ELSE {expr_text(e.default)}" if e.default is not None else ""
        return f"CASE {whens}{default} END"
    if isinstance(e, WindowAgg):
        return f"{e.name}({', '.join(expr_text(a) for a in e.args)}) OVER #{e.window}"
    if isinstance(e, GroupAgg):
        return f"{e.name}({', '.join(expr_text(a) for a in e.args)})"
    if isinstance(e, SignatureFormat):
        sigs = ", ".join(f"{k}({', '.join(expr_text(a) for a in args)})" for k, args in e.sigs)
        return f"{e.fmt}({sigs})"
    return repr(e)
