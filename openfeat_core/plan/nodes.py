"""The logical plan: typed, immutable, JSON round-trippable, with a stable digest.

One plan drives both executors. A :class:`Select` reads a source relation (a table scan, a subquery or a
chain of LAST JOINs), optionally filters it, and projects output expressions. Window aggregates refer to a
:class:`WindowDef` by index, so every aggregate over the same window shares one sorted pass, and window
definitions that differ only in frame share one sort (same partition keys, order column and unions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from openfeat_core.types import SQLType

# ---------------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class ColumnRef:
    """A column of the input relation: its qualifier (table alias), name, and position in the relation
    (which disambiguates duplicate names such as two ``v2`` columns of a subquery)."""

    qualifier: str
    name: str
    type: SQLType
    index: int = -1


@dataclass(frozen=True)
class Literal:
    """A constant. ``value`` is the physical value (dates as days, timestamps as epoch ms) or ``None``."""

    value: Any
    type: SQLType


@dataclass(frozen=True)
class Call:
    """A scalar function call (operators included: ``a + b`` is ``Call("add", (a, b))``)."""

    name: str
    args: tuple[Expr, ...]
    type: SQLType


@dataclass(frozen=True)
class Cast:
    """``CAST(arg AS type)``."""

    arg: Expr
    type: SQLType


@dataclass(frozen=True)
class Case:
    """``CASE WHEN c1 THEN v1 ... ELSE d END`` (a NULL condition counts as false)."""

    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None
    type: SQLType


@dataclass(frozen=True)
class WindowAgg:
    """An aggregate over window ``window`` (an index into :attr:`Select.windows`)."""

    name: str
    args: tuple[Expr, ...]
    window: int
    type: SQLType


@dataclass(frozen=True)
class GroupAgg:
    """An aggregate without ``OVER``: over each ``GROUP BY`` group, or the whole input."""

    name: str
    args: tuple[Expr, ...]
    type: SQLType


@dataclass(frozen=True)
class SignatureFormat:
    """``csv(...)`` / ``libsvm(...)`` / ``gcformat(...)`` over feature-signature calls."""

    fmt: str
    sigs: tuple[tuple[str, tuple[Expr, ...]], ...]
    type: SQLType


Expr = ColumnRef | Literal | Call | Cast | Case | WindowAgg | GroupAgg | SignatureFormat

_N = TypeVar("_N")

# ---------------------------------------------------------------------------------------------- relations


@dataclass(frozen=True)
class Field:
    """One column of a relation's schema."""

    qualifier: str
    name: str
    type: SQLType


@dataclass(frozen=True)
class Scan:
    """Read table ``table``, known in the query as ``alias``."""

    table: str
    alias: str
    schema: tuple[Field, ...]


@dataclass(frozen=True)
class SubqueryRel:
    """A nested SELECT used as a relation, known as ``alias``."""

    query: Select
    alias: str
    schema: tuple[Field, ...]


@dataclass(frozen=True)
class LastJoin:
    """``left LAST JOIN right [ORDER BY order_by] ON ...``: one output row per left row.

    Attributes:
        equi_keys: ``(left_expr, right_expr)`` pairs from ``l = r`` conjuncts of ON.
        residual: the other conjuncts of ON, evaluated on (left row, right candidate) pairs.
        order_by: the right-side expression whose maximum picks the match; ``None`` means the index
            time column if the right table has a matching index, else insertion order.
        descending: ``ORDER BY ... DESC``: the minimum picks the match instead (ties still go to the row inserted
            last; a NULL order value still loses to any value).
    """

    left: Relation
    right: Relation
    equi_keys: tuple[tuple[Expr, Expr], ...]
    residual: Expr | None
    order_by: Expr | None
    schema: tuple[Field, ...]
    descending: bool = field(default=False, metadata={"omitted_when_default": True})


@dataclass(frozen=True)
class LeftJoin:
    """``left LEFT [OUTER] JOIN right ON ...`` (offline queries): each left row once per right row matching ON, in
    the right side's order, or once with a NULL right side when none matches.

    Attributes:
        equi_keys: ``(left_expr, right_expr)`` pairs from ``l = r`` conjuncts of ON (compared as LAST JOIN compares
            its keys: a NULL key matches no row).
        residual: the other conjuncts of ON, evaluated on (left row, right candidate) pairs.
    """

    left: Relation
    right: Relation
    equi_keys: tuple[tuple[Expr, Expr], ...]
    residual: Expr | None
    schema: tuple[Field, ...]


@dataclass(frozen=True)
class UnionAll:
    """``(q1 UNION ALL q2 ...) alias``: the rows of every input in turn (inputs in order, each in its own order).

    The inputs have the same column types in the same order; the columns are named as the first input's.
    """

    inputs: tuple[Relation, ...]
    alias: str
    schema: tuple[Field, ...]


Relation = Scan | SubqueryRel | LastJoin | LeftJoin | UnionAll


@dataclass(frozen=True)
class Bound:
    """A frame bound. ``kind`` is ``unbounded``, ``current`` or ``preceding`` (``offset`` rows or ms)."""

    kind: str
    offset: int = 0
    open: bool = False


@dataclass(frozen=True)
class Frame:
    """A window frame (see docs/semantics.md for the exact meaning of each attribute)."""

    kind: str  # "rows" | "rows_range"
    start: Bound
    end: Bound
    maxsize: int | None = None
    exclude_current_time: bool = False
    exclude_current_row: bool = False
    instance_not_in_window: bool = False


@dataclass(frozen=True)
class WindowDef:
    """A window: partition keys, order column, frame and union sources.

    Union sources have the main source's schema (same names and types in the same order).
    """

    name: str
    partition_by: tuple[Expr, ...]
    order_by: Expr | None
    frame: Frame
    unions: tuple[Relation, ...] = ()

    def sort_key(self) -> tuple[Any, ...]:
        """Windows with equal sort keys can share one sort of the candidate rows."""
        return (self.partition_by, self.order_by, self.unions, self.frame.instance_not_in_window)


@dataclass(frozen=True)
class Output:
    """One output column."""

    name: str
    expr: Expr


@dataclass(frozen=True)
class Select:
    """A SELECT statement."""

    source: Relation
    where: Expr | None
    windows: tuple[WindowDef, ...]
    outputs: tuple[Output, ...]
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    limit: int | None = None

    @property
    def schema(self) -> tuple[Field, ...]:
        return tuple(Field("", o.name, o.expr.type) for o in self.outputs)

    @property
    def is_aggregation(self) -> bool:
        """True when the query returns one row per group (GROUP BY or aggregates without OVER)."""
        return bool(self.group_by) or any(_contains_group_agg(o.expr) for o in self.outputs)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace) of the whole plan."""
        return json.dumps(to_jsonable(self), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> Select:
        node = from_jsonable(json.loads(text))
        if not isinstance(node, Select):
            raise ValueError("JSON does not hold a Select plan")
        return node

    def digest(self) -> str:
        """A stable SHA-256 of the canonical JSON: equal plans have equal digests across runs and machines."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def _contains_group_agg(e: Expr) -> bool:
    if isinstance(e, GroupAgg):
        return True
    return any(_contains_group_agg(c) for c in children(e))


def children(e: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions of an expression."""
    if isinstance(e, (Call, WindowAgg, GroupAgg)):
        return e.args
    if isinstance(e, Cast):
        return (e.arg,)
    if isinstance(e, Case):
        out: list[Expr] = [x for pair in e.whens for x in pair]
        if e.default is not None:
            out.append(e.default)
        return tuple(out)
    if isinstance(e, SignatureFormat):
        return tuple(a for _, args in e.sigs for a in args)
    return ()


def collect(e: Expr, kind: type[_N]) -> list[_N]:
    """The distinct nodes of type ``kind`` in ``e``, children before parents (nested aggregates come first)."""
    found: dict[Expr, None] = {}

    def walk(x: Expr) -> None:
        for c in children(x):
            walk(c)
        if isinstance(x, kind):
            found[x] = None

    walk(e)
    return [x for x in found if isinstance(x, kind)]


def qualifiers_read(e: Expr) -> set[str]:
    """The table qualifiers of every column ``e`` reads."""
    return {c.qualifier for c in collect(e, ColumnRef)}


def _cache_hash(cls: type) -> None:
    """Make ``hash(node)`` compute once per node: plans are immutable, and executors key dicts by expressions
    (a dataclass hash would walk the whole subtree on every lookup)."""
    compute: Callable[[Any], int] = cls.__hash__  # type: ignore[assignment]

    def __hash__(self: Any) -> int:
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = compute(self)
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self: Any) -> dict[str, Any]:
        # String hashes differ between processes: a pickled node must not carry its cached hash.
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]
    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]


def tables_read(plan: Select) -> set[str]:
    """The stored tables a plan scans: its FROM, LAST JOINs, subqueries and window unions."""
    found: set[str] = set()

    def walk(relation: Relation) -> None:
        if isinstance(relation, Scan) and relation.table:
            found.add(relation.table)
        elif isinstance(relation, SubqueryRel):
            found.update(tables_read(relation.query))
        elif isinstance(relation, (LastJoin, LeftJoin)):
            walk(relation.left)
            walk(relation.right)
        elif isinstance(relation, UnionAll):
            for source in relation.inputs:
                walk(source)

    walk(plan.source)
    for window in plan.windows:
        for union in window.unions:
            walk(union)
    return found


# ---------------------------------------------------------------------------------------------- JSON

_NODE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ColumnRef,
        Literal,
        Call,
        Cast,
        Case,
        WindowAgg,
        GroupAgg,
        SignatureFormat,
        Field,
        Scan,
        SubqueryRel,
        LastJoin,
        LeftJoin,
        UnionAll,
        Bound,
        Frame,
        WindowDef,
        Output,
        Select,
    )
}


def to_jsonable(node: Any) -> Any:
    """Convert a plan node (recursively) to JSON-compatible Python values."""
    if isinstance(node, SQLType):
        return {"$type": node.value}
    if isinstance(node, tuple):
        return [to_jsonable(x) for x in node]
    if type(node).__name__ in _NODE_TYPES and hasattr(node, "__dataclass_fields__"):
        out: dict[str, Any] = {"$node": type(node).__name__}
        for f in fields(node):
            value = getattr(node, f.name)
            # A field added later leaves the JSON (so the digest) of every plan that does not use it unchanged:
            # deployments stored before it are the same script, and re-deploying one is still a no-op.
            if f.metadata.get("omitted_when_default") and value == f.default:
                continue
            out[f.name] = to_jsonable(value)
        return out
    if isinstance(node, float) and node != node:  # NaN literal
        return {"$float": "nan"}
    if isinstance(node, float) and node in (float("inf"), float("-inf")):
        return {"$float": "inf" if node > 0 else "-inf"}
    return node


def from_jsonable(data: Any) -> Any:
    """Inverse of :func:`to_jsonable`."""
    if isinstance(data, list):
        return tuple(from_jsonable(x) for x in data)
    if isinstance(data, dict):
        if "$type" in data:
            return SQLType(data["$type"])
        if "$float" in data:
            return float(data["$float"])
        cls = _NODE_TYPES[data["$node"]]
        kwargs = {k: from_jsonable(v) for k, v in data.items() if k != "$node"}
        return cls(**kwargs)
    return data


for _cls in _NODE_TYPES.values():
    _cache_hash(_cls)
