"""Rows entering the online store, checked once: the one validation of request rows and inserted rows.

Rows reach the store from JSON (the HTTP service), from Python (``OnlineStore.request`` / ``insert`` with dicts or
lists) and from SQL (``INSERT ... VALUES``, whose literals the statement turns into Python values first). All of them
go through :func:`check_rows` at that boundary, which names the row and field of the first value that does not fit
and hands inward :class:`TypedRows`: per column, its physical values (timestamps as epoch milliseconds, dates as days
since 1970-01-01, ``None`` for NULL). Past it nothing checks a value again. Arrow tables are typed already; the store
casts them to the table's schema instead.

The rules are JSON's (as OpenMLDB's APIServer has them) widened by what a Python caller naturally holds: a bool is
not a number and a number is not a string; integers are taken for float columns; integers must fit their column
(a timestamp is epoch milliseconds within :data:`~openfeat_core.types.TIMESTAMP_RANGE_MS`); a timestamp may also be a
``datetime`` (naive: UTC), a date a ``date`` or a ``'YYYY-MM-DD'`` string; NumPy scalars count as the Python value
they hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from openfeat_core.errors import DataError
from openfeat_core.types import DATE_RANGE_TEXT, INT_RANGES, TIMESTAMP_RANGE_MS, TIMESTAMP_RANGE_TEXT, SQLType

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)
_MS = dt.timedelta(milliseconds=1)
#: Dates as days since 1970-01-01 that every path accepts (0001-01-01 .. 9999-12-31).
_DATE_RANGE_DAYS = ((dt.date(1, 1, 1) - _EPOCH_DATE).days, (dt.date(9999, 12, 31) - _EPOCH_DATE).days)


@dataclass(frozen=True)
class TypedRows:
    """Rows checked against a table's columns: per column, its physical values (``None`` for NULL)."""

    names: tuple[str, ...]
    types: tuple[SQLType, ...]
    columns: list[list[Any]]
    num_rows: int

    def __len__(self) -> int:
        return self.num_rows

    def slice(self, start: int, stop: int) -> TypedRows:
        """Rows ``start .. stop-1``."""
        stop = min(stop, self.num_rows)
        return TypedRows(self.names, self.types, [c[start:stop] for c in self.columns], max(0, stop - start))

    def to_batch(self, schema: pa.Schema) -> pa.RecordBatch:
        """The rows as a record batch of ``schema`` (the table's: same columns, in order)."""
        arrays = []
        for values, t, f in zip(self.columns, self.types, schema, strict=True):
            if t is SQLType.TIMESTAMP:
                arrays.append(pa.array(values, pa.int64()).cast(f.type))
            elif t is SQLType.DATE:
                arrays.append(pa.array(values, pa.int32()).cast(f.type))
            else:
                arrays.append(pa.array(values, f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def check_rows(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    schema: Sequence[tuple[str, SQLType]],
    *,
    what: str,
    unknown: Literal["error", "ignore"] = "error",
    missing: Literal["null", "error"] = "null",
) -> TypedRows:
    """Check rows (all lists of values in column order, or all objects column -> value) against ``schema``.

    Args:
        rows: the rows.
        schema: ``(name, type)`` of the columns, in order.
        what: how errors name the target (``"request to 'f'"``, ``"table 'tx'"``).
        unknown: an object's key that is not a column is an error (an insert must not drop data silently), or is
            ignored (OpenMLDB ignores them in requests).
        missing: a column an object leaves out is NULL, or an error.

    Raises:
        DataError: a row does not fit; the message names the row and the field.
    """
    names = tuple(n for n, _ in schema)
    types = tuple(t for _, t in schema)
    width = len(names)
    known = set(names)
    table: list[Sequence[Any]] = []
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            if unknown == "error" and (len(row) > width or any(k not in known for k in row)):
                extra = [k for k in row if k not in known]
                if extra:
                    raise DataError(f"{what}: row {i}: unknown field(s) {', '.join(map(repr, extra))}")
            if missing == "error":
                absent = next((n for n in names if n not in row), None)
                if absent is not None:
                    raise DataError(f"{what}: row {i}: missing field {absent!r}")
            table.append([row.get(n) for n in names])
        elif isinstance(row, (list, tuple)):
            if len(row) != width:
                raise DataError(f"{what}: row {i}: {len(row)} values for {width} columns ({', '.join(names)})")
            table.append(row)
        else:
            raise DataError(f"{what}: row {i} is a {type(row).__name__}, expected a list of values or an object")
    columns: list[list[Any]] = []
    for p, values in enumerate(zip(*table, strict=True) if table else [() for _ in names]):
        # Column by column: a column of plain values of its type is taken as it is (one pass over the value types,
        # a range check); anything else is converted value by value, naming the row and field that does not fit.
        fast = _FAST.get(types[p]) if len(table) > _FEW_ROWS else None
        column = fast(values) if fast is not None else None
        if column is None:
            column = _convert_column(values, types[p], what, names[p])
        columns.append(column)
    return TypedRows(names, types, columns, len(table))


def _convert_column(values: Sequence[Any], t: SQLType, what: str, name: str) -> list[Any]:
    convert = _nested_converter(t) if t.is_nested else _CONVERTERS[t]
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        try:
            out.append(convert(v))
        except (ValueError, TypeError, OverflowError) as e:
            shown = repr(v)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise DataError(f"{what}: row {i}, field {name!r}: {shown} is not a {t.openmldb_name}; {e}") from None
    return out


def _plain(
    kinds: set[type], low: int | None = None, high: int | None = None
) -> Callable[[Sequence[Any]], list[Any] | None]:
    """A column taken as it is when its values' types are among ``kinds`` (``None`` for NULL) and, for integers,
    within ``low .. high``; ``None`` otherwise (the value-by-value conversion decides)."""
    allowed = {*kinds, type(None)}

    def take(values: Sequence[Any]) -> list[Any] | None:
        if not set(map(type, values)) <= allowed:
            return None
        if low is not None:
            present = [v for v in values if v is not None]
            if present and (min(present) < low or max(present) > high):
                return None
        return list(values)

    return take


def _integer(t: SQLType) -> Callable[[Any], int]:
    low, high = INT_RANGES[t]

    def convert(v: Any) -> int:
        if type(v) is not int:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise ValueError("expected an integer")
            v = int(v)
        if not low <= v <= high:
            raise ValueError(f"out of the {t.openmldb_name} range {low}..{high}")
        return v

    return convert


def _floating(v: Any) -> float:
    if type(v) is float:
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError("expected a number")
    try:
        return float(v)
    except OverflowError:
        raise ValueError("too large for a floating-point number") from None


def _boolean(v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise ValueError("expected true or false")


def _string(v: Any) -> str:
    if isinstance(v, str):
        if not v.isascii():
            v.encode("utf-8")  # a lone surrogate (JSON's "\\ud800" decodes to one) has no UTF-8: a ValueError
        return v
    raise ValueError("expected a string")


def _strings(values: Sequence[Any]) -> list[Any] | None:
    """A column of strings taken as it is (see :func:`_plain`) when every one has a UTF-8 form (no lone surrogate)."""
    column = _plain_strings(values)
    if column is None:
        return None
    try:
        "".join([v for v in column if v is not None]).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return column


def _timestamp(v: Any) -> int:
    if isinstance(v, dt.datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=dt.timezone.utc)
        v = (aware - _EPOCH) // _MS
    elif type(v) is not int:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ValueError("expected an integer (epoch milliseconds) or a datetime")
        v = int(v)
    low, high = TIMESTAMP_RANGE_MS
    if not low <= v <= high:
        raise ValueError(f"out of the timestamp range {TIMESTAMP_RANGE_TEXT}")
    return int(v)


def _date(v: Any) -> int:
    if isinstance(v, str):
        # OpenMLDB splits on '-' and reads three integers, so "2024-1-5" is a date too.
        parts = v.split("-")
        try:
            if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
                raise ValueError(v)
            v = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            raise ValueError("expected a 'YYYY-MM-DD' date") from None
    elif not isinstance(v, dt.date) or isinstance(v, dt.datetime):
        raise ValueError("expected a 'YYYY-MM-DD' string or a date")
    days = (v - _EPOCH_DATE).days
    if not _DATE_RANGE_DAYS[0] <= days <= _DATE_RANGE_DAYS[1]:
        raise ValueError(f"out of the date range {DATE_RANGE_TEXT}")
    return days


_plain_strings = _plain({str})

#: Up to this many rows, each value is converted on its own (a column pass has a fixed cost of several calls).
_FEW_ROWS = 4

_FAST: dict[SQLType, Callable[[Sequence[Any]], list[Any] | None]] = {
    **{t: _plain({int}, *INT_RANGES[t]) for t in (SQLType.INT16, SQLType.INT32, SQLType.INT64)},
    SQLType.TIMESTAMP: _plain({int}, *TIMESTAMP_RANGE_MS),
    SQLType.FLOAT: _plain({float}),
    SQLType.DOUBLE: _plain({float}),
    SQLType.BOOL: _plain({bool}),
    SQLType.STRING: _strings,
}


def _nested_converter(t: SQLType) -> Callable[[Any], Any]:
    """An ARRAY value from a list, a MAP value from an object or a list of ``[key, value]`` pairs, as the tuple of
    physical values a column of ``t`` holds (elements converted as the column of their type converts them)."""
    if t.is_array:
        element = _nested_converter(t.element) if t.element.is_nested else _CONVERTERS[t.element]

        def array(v: Any) -> tuple[Any, ...]:
            if not isinstance(v, (list, tuple)):
                raise TypeError(f"an array is a list, got {type(v).__name__}")
            return tuple(None if x is None else element(x) for x in v)

        return array
    key = _CONVERTERS[t.map_key]
    item = _nested_converter(t.map_value) if t.map_value.is_nested else _CONVERTERS[t.map_value]

    def mapping(v: Any) -> tuple[tuple[Any, Any], ...]:
        pairs = list(v.items()) if isinstance(v, Mapping) else v
        if not isinstance(pairs, (list, tuple)) or any(not isinstance(p, (list, tuple)) or len(p) != 2 for p in pairs):
            raise TypeError("a map is an object or a list of [key, value] pairs")
        if any(k is None for k, _ in pairs):
            raise ValueError("a map key cannot be NULL")
        return tuple((key(k), None if x is None else item(x)) for k, x in pairs)

    return mapping


_CONVERTERS: dict[SQLType, Callable[[Any], Any]] = {
    SQLType.INT16: _integer(SQLType.INT16),
    SQLType.INT32: _integer(SQLType.INT32),
    SQLType.INT64: _integer(SQLType.INT64),
    SQLType.FLOAT: _floating,
    SQLType.DOUBLE: _floating,
    SQLType.BOOL: _boolean,
    SQLType.STRING: _string,
    SQLType.TIMESTAMP: _timestamp,
    SQLType.DATE: _date,
}


__all__ = ["TypedRows", "check_rows"]
