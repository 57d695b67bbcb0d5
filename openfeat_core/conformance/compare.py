"""Comparing an engine's Arrow result with a case's expectation.

Rules (OpenMLDB's harness, ``hybridse/src/testing/engine_test_base.cc``, plus what its order-free cases need):

* Schema: expected column names (case-sensitive) and OpenMLDB type names must equal the result's, in order.
* Values: ``float`` columns match within 4 ULP at float32 width, ``double`` within 4 ULP at float64 width
  (googletest's ``ASSERT_FLOAT_EQ`` / ``ASSERT_DOUBLE_EQ``), or, for the Java harness's files
  (:attr:`~openfeat_core.conformance.cases.Case.float_tolerance`), within an absolute tolerance (its result checkers
  call TestNG's ``assertEquals(actual, expected, 1e-4)``); NaN equals NaN; NULL equals only NULL; timestamps
  compare as epoch milliseconds, dates as calendar dates; everything else exactly.
* Rows: with ``order: col`` both sides are sorted by that column (NULL first; the sort is stable) and compared row
  by row. OpenMLDB does not guarantee output order, and rows that tie on the order column may come in any order, so
  when the row-by-row comparison fails the rows are compared again as multisets; the case passes if either matches.
  Without ``order`` the same happens without sorting: in order first, then as multisets.
* ``count`` checks the number of rows only; an expectation without ``columns``/``schema`` checks no schema, and
  its rows (if any) are read with the result's types.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from openfeat_core.conformance.cases import CaseFormatError, ColumnSpec, ExpectSpec, typed_rows
from openfeat_core.types import SQLType, sql_type_of_arrow

#: googletest's ``kMaxUlps``: ``ASSERT_FLOAT_EQ`` / ``ASSERT_DOUBLE_EQ`` accept this many units in the last place.
MAX_ULPS = 4

Row = tuple[Any, ...]

_MS_PER_UNIT = {"s": 1000, "ms": 1, "us": 1, "ns": 1}
_UNITS_PER_MS = {"s": 1, "ms": 1, "us": 1000, "ns": 1_000_000}


# ---------------------------------------------------------------------------------------------------------------------
# Reading the result
# ---------------------------------------------------------------------------------------------------------------------


def arrow_sql_type(dtype: pa.DataType) -> SQLType:
    """The SQL type of a result column (``ValueError`` for Arrow types with no SQL counterpart)."""
    return sql_type_of_arrow(dtype)


def _column_values(column: pa.ChunkedArray | pa.Array, sql_type: SQLType) -> list[Any]:
    """Canonical Python values of one result column (see :func:`openfeat_core.conformance.cases.parse_cell`)."""
    if sql_type is SQLType.TIMESTAMP:
        unit = column.type.unit
        raw = column.cast(pa.int64()).to_pylist()
        # Integer arithmetic: a float round trip would lose precision on large epochs.
        return [None if v is None else v * _MS_PER_UNIT[unit] // _UNITS_PER_MS[unit] for v in raw]
    if sql_type is SQLType.DATE:
        return [None if v is None else (v.date() if isinstance(v, dt.datetime) else v) for v in column.to_pylist()]
    return list(column.to_pylist())


def result_columns(table: pa.Table) -> list[ColumnSpec]:
    """The result's schema as column specs.

    Raises:
        ValueError: a column has an Arrow type with no OpenMLDB counterpart.
    """
    return [ColumnSpec(f.name, arrow_sql_type(f.type)) for f in table.schema]


def result_rows(table: pa.Table, columns: Sequence[ColumnSpec]) -> list[Row]:
    """The result's rows as tuples of canonical Python values."""
    values = [_column_values(table.column(i), col.type) for i, col in enumerate(columns)]
    return list(zip(*values, strict=True)) if values else [() for _ in range(table.num_rows)]


# ---------------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------------


def _ordered_bits(value: float, width: int) -> int:
    """The float's bits as a signed magnitude, so that adjacent floats differ by 1 (googletest's biased form)."""
    if width == 32:
        bits, sign = int(np.array(value, dtype=np.float32).view(np.uint32)), 1 << 31
    else:
        bits, sign = int(np.array(value, dtype=np.float64).view(np.uint64)), 1 << 63
    return -(bits & (sign - 1)) if bits & sign else bits


def ulp_distance(a: float, b: float, width: int) -> int:
    """How many floats of ``width`` bits (32 or 64) lie between ``a`` and ``b``; +0 and -0 are 0 apart."""
    return abs(_ordered_bits(a, width) - _ordered_bits(b, width))


def floats_equal(a: float, b: float, width: int) -> bool:
    """``ASSERT_FLOAT_EQ`` (width 32) / ``ASSERT_DOUBLE_EQ`` (width 64), except that NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return ulp_distance(a, b, width) <= MAX_ULPS


def values_equal(actual: Any, expected: Any, sql_type: SQLType, tolerance: float | None = None) -> bool:
    """Whether one result value matches one expected value of a column of ``sql_type``.

    ``tolerance``: float values match when at most this far apart (instead of within :data:`MAX_ULPS`).
    """
    if actual is None or expected is None:
        return actual is None and expected is None
    if sql_type.is_float:
        a, e = float(actual), float(expected)
        if tolerance is None or math.isnan(a) or math.isnan(e):
            return floats_equal(a, e, 32 if sql_type is SQLType.FLOAT else 64)
        # a == e first: equal infinities are inf - inf = NaN apart.
        return a == e or abs(a - e) <= tolerance
    if type(actual) is bool or type(expected) is bool:
        # True == 1 in Python; a bool must only match a bool.
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def rows_equal(actual: Row, expected: Row, types: Sequence[SQLType], tolerance: float | None = None) -> bool:
    """Whether two rows match value by value (``tolerance`` as in :func:`values_equal`)."""
    return len(actual) == len(expected) == len(types) and all(
        values_equal(a, e, t, tolerance) for a, e, t in zip(actual, expected, types, strict=True)
    )


def format_value(value: Any, sql_type: SQLType | None = None) -> str:
    """A value as shown in diffs: ``NULL``, quoted strings, float32 values at float32 precision."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and sql_type is SQLType.FLOAT:
        return str(np.float32(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def format_row(row: Row, types: Sequence[SQLType]) -> str:
    """A row as shown in diffs."""
    shown = [format_value(v, types[i] if i < len(types) else None) for i, v in enumerate(row)]
    return "[" + ", ".join(shown) + "]"


# ---------------------------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------------------------


def _sort_key(index: int) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        value = row[index]
        if value is None:
            return (0, 0)
        if isinstance(value, float) and math.isnan(value):
            return (1, 0)
        return (2, value)

    return key


def sort_rows(rows: Sequence[Row], index: int) -> list[Row]:
    """``rows`` stably sorted by column ``index``: NULL first, then NaN, then ascending values."""
    return sorted(rows, key=_sort_key(index))


def multiset_equal(
    actual: Sequence[Row], expected: Sequence[Row], types: Sequence[SQLType], tolerance: float | None = None
) -> bool:
    """Whether the rows match as multisets (each expected row consumes one matching actual row).

    Rows are bucketed by their exact (non-float) values first; within a bucket matching is greedy, which is exact
    unless two expected rows are within tolerance of each other and of different actual rows.
    """
    if len(actual) != len(expected):
        return False
    inexact = [t.is_float for t in types]

    def bucket(row: Row) -> tuple[Any, ...]:
        return tuple(None if (i < len(inexact) and inexact[i]) else (type(v), v) for i, v in enumerate(row))

    pool: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in actual:
        pool[bucket(row)].append(row)
    for row in expected:
        candidates = pool.get(bucket(row))
        if not candidates:
            return False
        for position, candidate in enumerate(candidates):
            if rows_equal(candidate, row, types, tolerance):
                del candidates[position]
                break
        else:
            return False
    return True


def describe_difference(
    actual: Sequence[Row],
    expected: Sequence[Row],
    columns: Sequence[ColumnSpec],
    *,
    limit: int = 400,
    tolerance: float | None = None,
) -> str:
    """A one-line diff: row counts, the first differing row and column, and how many rows differ."""
    types = [c.type for c in columns]
    parts = []
    if len(actual) != len(expected):
        parts.append(f"expected {len(expected)} rows, got {len(actual)}")
    differing = [
        i for i in range(min(len(actual), len(expected))) if not rows_equal(actual[i], expected[i], types, tolerance)
    ]
    if differing:
        first = differing[0]
        act, exp = actual[first], expected[first]
        bad = next(
            (i for i in range(min(len(act), len(exp))) if not values_equal(act[i], exp[i], types[i], tolerance)), None
        )
        where = f"row {first}"
        if bad is not None and bad < len(columns):
            t = types[bad]
            where += f" col {columns[bad].name}: expected {format_value(exp[bad], t)}, got {format_value(act[bad], t)}"
        parts.append(
            f"{len(differing)} rows differ in order; {where}; expected row {format_row(exp, types)}, "
            f"got {format_row(act, types)}"
        )
    elif len(actual) > len(expected):
        parts.append(f"first extra row {format_row(actual[len(expected)], types)}")
    elif len(expected) > len(actual):
        parts.append(f"first missing row {format_row(expected[len(actual)], types)}")
    text = "; ".join(parts) + " (no multiset match either)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_rows(
    actual: Sequence[Row],
    expected: Sequence[Row],
    columns: Sequence[ColumnSpec],
    order: str | None,
    tolerance: float | None = None,
) -> str | None:
    """``None`` if the rows match (sorted by ``order`` if given, else as given; then as multisets), else a diff.

    ``tolerance``: as in :func:`values_equal`.
    """
    types = [c.type for c in columns]
    names = [c.name for c in columns]
    if order is not None and order in names:
        index = names.index(order)
        actual, expected = sort_rows(actual, index), sort_rows(expected, index)
    if len(actual) == len(expected) and all(
        rows_equal(a, e, types, tolerance) for a, e in zip(actual, expected, strict=True)
    ):
        return None
    if multiset_equal(actual, expected, types, tolerance):
        return None
    return describe_difference(actual, expected, columns, tolerance=tolerance)


def _schema_text(columns: Sequence[ColumnSpec]) -> str:
    return "[" + ", ".join(str(c) for c in columns) + "]"


def check_result(table: pa.Table, expect: ExpectSpec, tolerance: float | None = None) -> str | None:
    """Compare a result table with an expectation (float values within ``tolerance`` if given, else 4 ULP).

    Returns:
        ``None`` if the result matches, else a one-line reason.

    Raises:
        CaseFormatError: the expected rows cannot be read with the expected (or result) types.
    """
    try:
        actual_columns = result_columns(table)
    except ValueError as exc:
        return f"result has an unsupported column type: {exc}"
    actual = result_rows(table, actual_columns)
    if expect.count is not None and len(actual) != expect.count:
        return f"expected {expect.count} rows, got {len(actual)}"
    columns = actual_columns
    if expect.columns is not None:
        expected_sig = [(c.name, c.type.openmldb_name) for c in expect.columns]
        actual_sig = [(c.name, c.type.openmldb_name) for c in actual_columns]
        if expected_sig != actual_sig:
            return f"schema mismatch: expected {_schema_text(expect.columns)}, got {_schema_text(actual_columns)}"
        columns = expect.columns
    if expect.rows is None:
        return None
    try:
        expected = typed_rows(expect.rows, columns)
    except CaseFormatError as exc:
        raise CaseFormatError(f"expected rows: {exc}") from None
    return compare_rows(actual, expected, columns, expect.order, tolerance)


def judge_result(
    table: pa.Table, expect: ExpectSpec, tolerance: float | None = None
) -> tuple[Literal["passed", "failed"], str]:
    """:func:`check_result` as a case's outcome: ``("passed", "")``, or ``("failed", reason)``, expected rows that
    cannot be read included (``bad case data: ...``)."""
    try:
        reason = check_result(table, expect, tolerance)
    except CaseFormatError as exc:
        return "failed", f"bad case data: {exc}"
    return ("passed", "") if reason is None else ("failed", reason)
