"""A slow, obviously-correct reference evaluator of OpenFeat's window and LAST JOIN semantics.

Written straight from ``docs/semantics.md``: plain Python loops over lists of dicts, one output row at a
time, no NumPy and no code shared with ``openfeat_core``, so that it can catch engine bugs instead of
repeating them. Queries are structured objects (:class:`Query`), not SQL; :func:`render_sql` prints the
same query as OpenMLDB SQL so it can be run through the engine and the two results compared.

Values in table rows are plain Python values: ``int`` for integer types and for TIMESTAMP (epoch ms),
``float`` for FLOAT/DOUBLE, ``str``, ``bool`` and ``None`` for NULL. Results use the same representation.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pyarrow as pa

# --------------------------------------------------------------------------------------------------------------------
# The structured query
# --------------------------------------------------------------------------------------------------------------------

#: Column type names understood by the reference (OpenMLDB spellings of the SQL types).
TYPE_NAMES = ("bool", "int16", "int32", "int64", "float", "double", "string", "timestamp")
INTEGER_TYPES = ("int16", "int32", "int64")
NUMERIC_TYPES = ("int16", "int32", "int64", "float", "double")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}

#: Aggregate functions the reference implements (see ``docs/semantics.md``, "Aggregates and NULLs").
AGGREGATES = (
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "distinct_count",
    "count_where",
    "sum_where",
    "avg_where",
    "min_where",
    "max_where",
    "lag",
    "first_value",
    "last_value",
    "stddev",
)

FrameUnit = Literal["ROWS", "ROWS_RANGE"]
CompareOp = Literal[">", ">=", "<", "<=", "=", "!="]

ROWS: Final = "ROWS"
ROWS_RANGE: Final = "ROWS_RANGE"


@dataclass(frozen=True)
class Table:
    """A named table: its schema and its rows in insertion order.

    Attributes:
        columns: ``(name, type name)`` pairs; type names are those of :data:`TYPE_NAMES`.
        rows: one dict per row, keyed by column name, in insertion (file) order.
    """

    columns: tuple[tuple[str, str], ...]
    rows: tuple[Mapping[str, Any], ...]

    def type_of(self, column: str) -> str:
        for name, type_name in self.columns:
            if name == column:
                return type_name
        raise KeyError(f"no column {column!r} in table with columns {[c for c, _ in self.columns]}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True)
class Bound:
    """One end of a frame.

    Attributes:
        kind: ``"unbounded"`` (``UNBOUNDED PRECEDING``), ``"preceding"`` (``n [OPEN] PRECEDING``) or
            ``"current"`` (``CURRENT ROW``).
        offset: ``n``: a row count for ROWS frames, milliseconds for ROWS_RANGE frames.
        open: the ``OPEN`` flag (the bound itself is excluded).
    """

    kind: Literal["unbounded", "preceding", "current"]
    offset: int = 0
    open: bool = False


UNBOUNDED = Bound("unbounded")
CURRENT_ROW = Bound("current")


def preceding(offset: int, *, open: bool = False) -> Bound:
    """``offset [OPEN] PRECEDING``."""
    return Bound("preceding", offset, open)


@dataclass(frozen=True)
class Frame:
    """A window frame with OpenMLDB's attributes.

    Attributes:
        unit: :data:`ROWS` or :data:`ROWS_RANGE`.
        start: the start bound (``UNBOUNDED`` or ``n [OPEN] PRECEDING``; ``CURRENT ROW`` means ``0 PRECEDING``).
        end: the end bound (``CURRENT ROW`` or ``m [OPEN] PRECEDING``).
        maxsize: ``MAXSIZE`` (ROWS_RANGE only).
        exclude_current_time: ``EXCLUDE CURRENT_TIME``.
        exclude_current_row: ``EXCLUDE CURRENT_ROW``.
        instance_not_in_window: ``INSTANCE_NOT_IN_WINDOW`` (meaningful with ``UNION``).
    """

    unit: FrameUnit
    start: Bound
    end: Bound = CURRENT_ROW
    maxsize: int | None = None
    exclude_current_time: bool = False
    exclude_current_row: bool = False
    instance_not_in_window: bool = False

    def validate(self) -> None:
        """Reject frames OpenMLDB rejects (or that cannot hold any row).

        Raises:
            ValueError: with the reason.
        """
        if (self.start.kind == "current" and self.start.open) or (self.end.kind == "current" and self.end.open):
            raise ValueError("CURRENT ROW cannot be OPEN")
        if self.end.kind == "unbounded":
            raise ValueError("the frame end cannot be UNBOUNDED PRECEDING")
        if self.start.offset < 0 or self.end.offset < 0:
            raise ValueError("offsets must be >= 0")
        if self.maxsize is not None and (self.unit != ROWS_RANGE or self.maxsize <= 0):
            raise ValueError("MAXSIZE needs a ROWS_RANGE frame and a positive size")
        if self.start.kind != "unbounded" and _start_distance(self.start) < _end_distance(self.end):
            raise ValueError("the frame start is after the frame end")


def _start_distance(bound: Bound) -> int:
    """How far back (rows or ms) the frame reaches, inclusive; OPEN moves the bound one step towards now."""
    if bound.kind == "current":
        return 0
    return bound.offset - 1 if bound.open else bound.offset


def _end_distance(bound: Bound) -> int:
    """How far back (rows or ms) the frame stops, inclusive; OPEN moves the bound one step further back."""
    if bound.kind == "current":
        return 0
    return bound.offset + 1 if bound.open else bound.offset


@dataclass(frozen=True)
class Window:
    """A named window.

    Attributes:
        partition_by: partition key columns.
        order_by: the order column (integer or timestamp).
        frame: the frame.
        union: names of the ``UNION`` tables, in SQL order (same schema as the main table).
    """

    partition_by: tuple[str, ...]
    order_by: str
    frame: Frame
    union: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """The condition of a ``*_where`` aggregate: ``column op value``.

    Attributes:
        column: a numeric column.
        op: one of ``>``, ``>=``, ``<``, ``<=``, ``=``, ``!=``.
        value: an int or float literal.
    """

    column: str
    op: CompareOp
    value: int | float


@dataclass(frozen=True)
class Aggregate:
    """One ``func(args) OVER window AS alias`` output column.

    Attributes:
        func: one of :data:`AGGREGATES`.
        column: the aggregated column; ``None`` stands for ``*`` (``count`` and ``count_where`` only).
        window: name of the window in :attr:`Query.windows`.
        alias: output column name.
        condition: the condition of ``*_where`` functions.
        n: the offset of ``lag``.
    """

    func: str
    column: str | None
    window: str
    alias: str
    condition: Condition | None = None
    n: int = 1


@dataclass(frozen=True)
class JoinPredicate:
    """An extra LAST JOIN condition ``right.right_column op left.left_column``."""

    right_column: str
    op: CompareOp
    left_column: str


@dataclass(frozen=True)
class LastJoin:
    """``LAST JOIN right [ORDER BY right.order_by] ON left.k = right.k [AND ...] [AND predicates]``.

    Attributes:
        right: name of the right table.
        left_keys: main-table key columns.
        right_keys: right-table key columns, pairwise equal to ``left_keys``.
        order_by: the ``ORDER BY`` column of the right table, or ``None``.
        descending: ``ORDER BY ... DESC``: the smallest order value is the match (NULL still loses).
        index_ts: without ``ORDER BY``: the ts column of the right table's index on ``right_keys``
            (passed to the engine through ``indexes=``); ``None`` means no such index, insertion order decides.
        predicates: extra conditions; they filter the matches before the last one is picked.
    """

    right: str
    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]
    order_by: str | None = None
    index_ts: str | None = None
    predicates: tuple[JoinPredicate, ...] = ()
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A feature query: plain columns and window aggregates over a main table, optionally LAST JOINed.

    Column names must be unique across the main and the right table (the renderer qualifies them).

    Attributes:
        tables: every table by name (main, union and right tables).
        main: name of the main (FROM) table.
        select: plain output columns (main-table columns, or right-table columns when joined).
        aggregates: window aggregate output columns, after the plain ones.
        windows: the named windows the aggregates refer to.
        join: an optional LAST JOIN; windows are then computed over the joined rows.
    """

    tables: Mapping[str, Table]
    main: str
    select: tuple[str, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    windows: Mapping[str, Window] = field(default_factory=dict)
    join: LastJoin | None = None

    @property
    def output_names(self) -> list[str]:
        return [*self.select, *(a.alias for a in self.aggregates)]

    def column_type(self, column: str) -> str:
        """Type of a column of the (possibly joined) main source."""
        main = self.tables[self.main]
        if column in main.column_names:
            return main.type_of(column)
        if self.join is not None:
            return self.tables[self.join.right].type_of(column)
        raise KeyError(f"unknown column {column!r}")

    def output_types(self) -> list[str]:
        """Type name of every output column, in output order (see :func:`result_type`)."""
        types = [self.column_type(c) for c in self.select]
        for agg in self.aggregates:
            types.append(result_type(agg.func, None if agg.column is None else self.column_type(agg.column)))
        return types

    def validate(self) -> None:
        """Check the query is one the reference (and OpenMLDB) accepts.

        Raises:
            ValueError: with the reason.
        """
        main = self.tables[self.main]
        names = list(main.column_names)
        if self.join is not None:
            right = self.tables[self.join.right]
            names += right.column_names
            if len(self.join.left_keys) != len(self.join.right_keys) or not self.join.left_keys:
                raise ValueError("LAST JOIN needs one right key per left key")
            if self.join.order_by is not None and self.join.index_ts is not None:
                raise ValueError("index_ts only matters without ORDER BY")
        if len(names) != len(set(names)):
            raise ValueError("column names must be unique across the main and the right table")
        for column in self.select:
            self.column_type(column)
        for name, window in self.windows.items():
            window.frame.validate()
            if window.union and self.join is not None:
                raise ValueError(f"window {name}: UNION over a LAST JOIN source is not supported by the reference")
            for union in window.union:
                if self.tables[union].columns != main.columns:
                    raise ValueError(f"window {name}: union table {union} must have the main table's schema")
            if window.frame.instance_not_in_window and not window.union:
                raise ValueError(f"window {name}: INSTANCE_NOT_IN_WINDOW needs UNION")
        for agg in self.aggregates:
            if agg.window not in self.windows:
                raise ValueError(f"{agg.alias}: unknown window {agg.window}")
            if agg.func not in AGGREGATES:
                raise ValueError(f"{agg.alias}: unknown aggregate {agg.func}")
            if agg.column is None and agg.func not in ("count", "count_where"):
                raise ValueError(f"{agg.alias}: only count and count_where accept *")
            if agg.func.endswith("_where") and agg.condition is None:
                raise ValueError(f"{agg.alias}: {agg.func} needs a condition")
            result_type(agg.func, None if agg.column is None else self.column_type(agg.column))


def result_type(func: str, arg_type: str | None) -> str:
    """The SQL result type of ``func`` applied to a column of ``arg_type`` (``None`` for ``*``).

    Raises:
        ValueError: the function does not accept that type.
    """
    if func in ("count", "count_where", "distinct_count"):
        return "int64"
    if arg_type is None:
        raise ValueError(f"{func}(*) is not valid")
    numeric = arg_type in NUMERIC_TYPES
    if func in ("sum", "sum_where", "min_where", "max_where"):
        if not numeric:
            raise ValueError(f"{func} needs a numeric argument, got {arg_type}")
        return arg_type
    if func in ("avg", "avg_where", "stddev"):
        if not numeric:
            raise ValueError(f"{func} needs a numeric argument, got {arg_type}")
        return "double"
    if func in ("min", "max"):
        if arg_type == "bool":
            raise ValueError(f"{func} does not accept bool")
        return arg_type
    if func in ("lag", "first_value", "last_value"):
        return arg_type
    raise ValueError(f"unknown aggregate {func}")


# --------------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------------

Row = Mapping[str, Any]


@dataclass(frozen=True)
class _Entry:
    """A window candidate: a row with where it comes from (for the newest-first order)."""

    ts: int
    source: int  # 0 = main table, 1 + i = i-th UNION table
    seq: int  # insertion position inside its table
    row: Row


def evaluate(query: Query, *, replay: Literal["sorted", "file"] = "sorted") -> list[list[Any]]:
    """Compute the query: one list of output values per main-table row, in the main table's input order.

    Args:
        query: the query.
        replay: ``"sorted"`` is OpenFeat's batch mode: each main row sees the main rows before it in
            (order value, insertion order) order. ``"file"`` replays the rows as OpenMLDB's request-mode
            harness does: each row sees only the main rows *inserted* before it (and of those only the ones
            whose order value is <= its own); it differs from batch mode only when rows arrive out of order.
    """
    query.validate()
    main_table = query.tables[query.main]
    main_rows = [_normalise(row, main_table) for row in main_table.rows]
    if query.join is not None:
        main_rows = [{**row, **_last_join_match(query, query.join, row)} for row in main_rows]
    outputs: list[list[Any]] = [[row[c] for c in query.select] for row in main_rows]
    for agg in query.aggregates:
        window = query.windows[agg.window]
        arg_type = None if agg.column is None else query.column_type(agg.column)
        for i, row in enumerate(main_rows):
            history = _history(query, window, main_rows, i, replay)
            if agg.func == "lag":
                # lag ignores the frame: it indexes the current row followed by the whole filtered history.
                outputs[i].append(_lag([row, *(e.row for e in history)], agg))
            else:
                rows = _frame_rows(window.frame, row[window.order_by], row, history)
                outputs[i].append(_aggregate(agg, arg_type, rows))
    return outputs


def _normalise(row: Row, table: Table) -> dict[str, Any]:
    """Round FLOAT values to float32 so both sides see the same stored value."""
    out = dict(row)
    for name, type_name in table.columns:
        if type_name == "float" and out.get(name) is not None:
            out[name] = to_float32(out[name])
    return out


def _history(query: Query, window: Window, main_rows: list[dict[str, Any]], i: int, replay: str) -> list[_Entry]:
    """The candidate rows of main row ``i``, filtered, newest first (docs/semantics.md, "Window frames")."""
    frame = window.frame
    current = main_rows[i]
    key = tuple(current[c] for c in window.partition_by)
    ts = current[window.order_by]
    entries: list[_Entry] = []
    if not frame.instance_not_in_window:
        for j, other in enumerate(main_rows):
            if j == i or tuple(other[c] for c in window.partition_by) != key:
                continue
            other_ts = other[window.order_by]
            # Batch mode: everything before i in (order value, insertion) order. File replay: rows stored before i.
            visible = (other_ts, j) < (ts, i) if replay == "sorted" else j < i and other_ts <= ts
            if visible:
                entries.append(_Entry(other_ts, 0, j, other))
    for u, union_name in enumerate(window.union):
        union_table = query.tables[union_name]
        for j, raw in enumerate(union_table.rows):
            other = _normalise(raw, union_table)
            if tuple(other[c] for c in window.partition_by) == key and other[window.order_by] <= ts:
                entries.append(_Entry(other[window.order_by], 1 + u, j, other))
    if frame.exclude_current_time:
        entries = [e for e in entries if e.ts != ts]
    # Newest first: larger order value first; at equal values main rows before union rows (union tables in
    # SQL order); inside one table the later-inserted row first.
    entries.sort(key=lambda e: (-e.ts, e.source, -e.seq))
    return entries


def _frame_rows(frame: Frame, ts: int, current: Row, history: list[_Entry]) -> list[Row]:
    """The rows of the window, newest first."""
    rows: list[Row]
    if frame.unit == ROWS:
        # Position 0 is the current row, position p >= 1 the p-th newest candidate.
        positions: list[Row] = [current, *(e.row for e in history)]
        first = _end_distance(frame.end)
        last = len(positions) - 1 if frame.start.kind == "unbounded" else _start_distance(frame.start)
        rows = [positions[p] for p in range(len(positions)) if first <= p <= last]
        if frame.exclude_current_row and first == 0 and rows:
            rows = rows[1:]
        return rows

    def in_range(key: int) -> bool:
        if frame.start.kind != "unbounded" and key < ts - _start_distance(frame.start):
            return False
        return key <= ts - _end_distance(frame.end)

    rows = []
    if in_range(ts) and not frame.exclude_current_row:
        rows.append(current)
    rows += [e.row for e in history if in_range(e.ts)]
    if frame.maxsize is not None:
        rows = rows[: frame.maxsize]
    return rows


def _lag(positions: list[Row], agg: Aggregate) -> Any:
    assert agg.column is not None
    return positions[agg.n][agg.column] if agg.n < len(positions) else None


# --------------------------------------------------------------------------------------------------------------------
# Aggregates (rows arrive newest first)
# --------------------------------------------------------------------------------------------------------------------

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

_ZERO: dict[str, Any] = {
    "bool": False,
    "int16": 0,
    "int32": 0,
    "int64": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "timestamp": 0,
}


def _holds(condition: Condition, row: Row) -> bool:
    """The ``*_where`` condition; a NULL operand makes it NULL, which counts as false."""
    value = row[condition.column]
    return value is not None and _COMPARE[condition.op](value, condition.value)


def _aggregate(agg: Aggregate, arg_type: str | None, rows: list[Row]) -> Any:
    func = agg.func
    if func == "count":
        return len(rows) if agg.column is None else sum(1 for r in rows if r[agg.column] is not None)
    if func == "count_where":
        assert agg.condition is not None
        return sum(1 for r in rows if _holds(agg.condition, r) and (agg.column is None or r[agg.column] is not None))
    assert agg.column is not None and arg_type is not None
    values = [r[agg.column] for r in rows if r[agg.column] is not None]
    if func == "distinct_count":
        # OpenMLDB passes NULL to this non-nullable UDAF as the type's zero value: NULL and 0 are one value.
        return len({_ZERO[arg_type] if r[agg.column] is None else r[agg.column] for r in rows})
    if func == "first_value":
        return rows[-1][agg.column] if rows else None
    if func == "last_value":
        return rows[0][agg.column] if rows else None
    if func.endswith("_where"):
        assert agg.condition is not None
        condition = agg.condition
        matched = [r[agg.column] for r in rows if r[agg.column] is not None and _holds(condition, r)]
        if func in ("sum_where", "avg_where"):
            # OpenMLDB's update guard is `x AND cond`: a zero x is never accumulated (docs/semantics.md).
            matched = [v for v in matched if v != 0]
        values = matched
        func = func.removesuffix("_where")
    if not values:
        return None
    if func == "sum":
        return _typed_sum(values, arg_type)
    if func == "avg":
        return _mean(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "stddev":
        if len(values) < 2:
            return None
        mean = _mean(values)
        return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    raise ValueError(f"unknown aggregate {agg.func}")


def _mean(values: Sequence[int | float]) -> float:
    if all(isinstance(v, int) for v in values):
        return sum(values) / len(values)  # exact integer sum, one correctly rounded division
    return math.fsum(values) / len(values)


def _typed_sum(values: Sequence[Any], type_name: str) -> Any:
    """Sum in the argument's type: integers wrap like C++ two's complement, FLOAT rounds to float32 once."""
    if type_name in INTEGER_TYPES:
        return wrap_int(sum(values), type_name)
    total = math.fsum(values)
    return to_float32(total) if type_name == "float" else total


def wrap_int(value: int, type_name: str) -> int:
    """``value`` reduced to the range of a two's-complement integer type, as C++ overflow does."""
    bits = {"int16": 16, "int32": 32, "int64": 64}[type_name]
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def to_float32(value: float) -> float:
    """The nearest float32, as a Python float (infinite when out of range)."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


# --------------------------------------------------------------------------------------------------------------------
# LAST JOIN
# --------------------------------------------------------------------------------------------------------------------


def _last_join_match(query: Query, join: LastJoin, left: Row) -> dict[str, Any]:
    """The right-table columns attached to ``left``: the last match, or all NULL when nothing matches."""
    right_table = query.tables[join.right]
    best: tuple[Any, int] | None = None
    best_row: Row | None = None
    order = join.order_by if join.order_by is not None else join.index_ts
    for seq, raw in enumerate(right_table.rows):
        row = _normalise(raw, right_table)
        # Key equality: NULL equals nothing (SQL semantics); extra predicates with a NULL operand are false.
        if any(left[lk] is None or left[lk] != row[rk] for lk, rk in zip(join.left_keys, join.right_keys, strict=True)):
            continue
        if not all(_predicate_holds(p, left, row) for p in join.predicates):
            continue
        # Last = largest order value (smallest under DESC; a NULL value loses to any value); ties (and no order at
        # all) go to the later-inserted row.
        value = row[order] if order is not None else 0
        key = 0 if value is None else _Descending(value) if join.descending else value
        rank = (value is not None, key, seq)
        if best is None or rank > best:
            best, best_row = rank, row
    return {name: None if best_row is None else best_row[name] for name in right_table.column_names}


@dataclass(frozen=True)
class _Descending:
    """A value that sorts in reverse (the order value of a LAST JOIN ... ORDER BY ... DESC)."""

    value: Any

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: _Descending) -> bool:
        return bool(other.value > self.value)


def _predicate_holds(predicate: JoinPredicate, left: Row, right: Row) -> bool:
    a, b = right[predicate.right_column], left[predicate.left_column]
    return a is not None and b is not None and _COMPARE[predicate.op](a, b)


# --------------------------------------------------------------------------------------------------------------------
# Rendering as OpenMLDB SQL, and input tables as Arrow
# --------------------------------------------------------------------------------------------------------------------


def render_sql(query: Query) -> str:
    """The query as one OpenMLDB ``SELECT`` statement (columns qualified when a LAST JOIN is present)."""
    query.validate()
    main = query.main
    right = query.join.right if query.join is not None else None

    def col(name: str) -> str:
        if query.join is None:
            return name
        owner = main if name in query.tables[main].column_names else right
        return f"{owner}.{name}"

    items = [f"{col(c)} AS {c}" for c in query.select]
    for agg in query.aggregates:
        args = "*" if agg.column is None else col(agg.column)
        if agg.condition is not None:
            c = agg.condition
            args += f", {col(c.column)} {c.op} {_literal(c.value)}"
        if agg.func == "lag":
            args += f", {agg.n}"
        items.append(f"{agg.func}({args}) OVER {agg.window} AS {agg.alias}")
    sql = f"SELECT {', '.join(items)} FROM {main}"
    if query.join is not None:
        j = query.join
        sql += f" LAST JOIN {j.right}"
        if j.order_by is not None:
            sql += f" ORDER BY {j.right}.{j.order_by}{' DESC' if j.descending else ''}"
        conditions = [f"{main}.{lk} = {j.right}.{rk}" for lk, rk in zip(j.left_keys, j.right_keys, strict=True)]
        conditions += [f"{j.right}.{p.right_column} {p.op} {main}.{p.left_column}" for p in j.predicates]
        sql += " ON " + " AND ".join(conditions)
    if query.windows:
        specs = [f"{name} AS ({_render_window(w, col)})" for name, w in query.windows.items()]
        sql += " WINDOW " + ", ".join(specs)
    return sql + ";"


def render_indexes(query: Query) -> dict[str, list[str]] | None:
    """The ``indexes=`` argument the engine needs for a LAST JOIN without ORDER BY (``None`` if none)."""
    j = query.join
    if j is None or j.order_by is not None or j.index_ts is None:
        return None
    return {j.right: [f"idx_{j.right}:{'|'.join(j.right_keys)}:{j.index_ts}"]}


def _render_window(window: Window, col: Callable[[str], str]) -> str:
    f = window.frame
    parts = []
    if window.union:
        parts.append("UNION " + ", ".join(window.union))
    parts.append("PARTITION BY " + ", ".join(col(c) for c in window.partition_by))
    parts.append(f"ORDER BY {col(window.order_by)}")
    parts.append(f"{f.unit} BETWEEN {_render_bound(f.start, f.unit)} AND {_render_bound(f.end, f.unit)}")
    if f.maxsize is not None:
        parts.append(f"MAXSIZE {f.maxsize}")
    if f.exclude_current_time:
        parts.append("EXCLUDE CURRENT_TIME")
    if f.exclude_current_row:
        parts.append("EXCLUDE CURRENT_ROW")
    if f.instance_not_in_window:
        parts.append("INSTANCE_NOT_IN_WINDOW")
    return " ".join(parts)


def _render_bound(bound: Bound, unit: str) -> str:
    if bound.kind == "unbounded":
        return "UNBOUNDED PRECEDING"
    if bound.kind == "current":
        return "CURRENT ROW"
    amount = str(bound.offset)
    if unit == ROWS_RANGE and bound.offset % 1000 == 0:
        amount = f"{bound.offset // 1000}s"  # whole seconds in the usual spelling; other amounts as bare ms
    return f"{amount} OPEN PRECEDING" if bound.open else f"{amount} PRECEDING"


def _literal(value: int | float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def to_arrow(table: Table) -> pa.Table:
    """The table as Arrow, with the Arrow type of each SQL type (TIMESTAMP as ``timestamp[ms, UTC]``)."""
    arrays = []
    for name, type_name in table.columns:
        values = [row[name] for row in table.rows]
        arrays.append(pa.array(values, type=_ARROW_TYPES[type_name]))
    return pa.Table.from_arrays(arrays, names=list(table.column_names))


def arrow_type(type_name: str) -> pa.DataType:
    """The Arrow type OpenFeat outputs for a SQL type name."""
    return _ARROW_TYPES[type_name]
