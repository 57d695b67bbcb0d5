"""SQL types of the OpenMLDB dialect and their physical (NumPy / Arrow) representation.

Every value the engine handles is a :class:`~openfeat_core.column.Column` whose ``type`` is one of
:class:`SQLType`. The physical layout is fixed per type so kernels never have to guess:

==========  =====================  ===============================================
SQLType     NumPy dtype            meaning of the stored value
==========  =====================  ===============================================
BOOL        ``bool``
INT16       ``int16``
INT32       ``int32``
INT64       ``int64``
FLOAT       ``float32``
DOUBLE      ``float64``
STRING      ``object`` (``str``)   Python strings; kernels dictionary-encode them
DATE        ``int32``              days since 1970-01-01
TIMESTAMP   ``int64``              milliseconds since the Unix epoch (UTC)
NULL        ``bool``               the type of a bare ``NULL`` literal; all invalid
ARRAY<T>    ``object`` (``tuple``) the elements' physical values, ``None`` for a NULL element
MAP<K,V>    ``object`` (``tuple``) ``(key, value)`` pairs in insertion order (a key may repeat)
==========  =====================  ===============================================

ARRAY and MAP are parametric: ``array_type(SQLType.INT32)`` is the member for ``array<int32>``. Like the combined
values of :class:`enum.Flag`, such members are created on first use (``SQLType("array<int32>")`` parses the value
name) and cached, so they are singletons compared by identity like the plain members, survive pickling and plan
JSON (which store ``.value``), and are not listed when iterating :class:`SQLType`.
"""

from __future__ import annotations

import enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class SQLType(enum.Enum):
    """A column type of the OpenMLDB feature-SQL dialect."""

    BOOL = "bool"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT = "float"
    DOUBLE = "double"
    STRING = "string"
    DATE = "date"
    TIMESTAMP = "timestamp"
    NULL = "null"

    @classmethod
    def _missing_(cls, value: object) -> SQLType | None:
        """``array<...>`` / ``map<...,...>`` value names give the parametric member (created once, then cached)."""
        if not isinstance(value, str):
            return None
        text = value.strip().lower()
        if not text.startswith(("array<", "map<")):
            return None
        try:
            return parse_type_name(text)
        except ValueError:
            return None

    # Members are singletons compared by identity: the C-level identity hash keeps the many dict and set lookups
    # by type cheap (Enum's own hash is a Python-level function).
    __hash__ = object.__hash__

    @property
    def is_integer(self) -> bool:
        return self in (SQLType.INT16, SQLType.INT32, SQLType.INT64)

    @property
    def is_float(self) -> bool:
        return self in (SQLType.FLOAT, SQLType.DOUBLE)

    @property
    def is_numeric(self) -> bool:
        """Integers and floats (not bool, not timestamp)."""
        return self.is_integer or self.is_float

    @property
    def is_array(self) -> bool:
        return _KINDS.get(self) == "array"

    @property
    def is_map(self) -> bool:
        return _KINDS.get(self) == "map"

    @property
    def is_nested(self) -> bool:
        """ARRAY or MAP: a value made of other values."""
        return self in _KINDS

    @property
    def element(self) -> SQLType:
        """The element type of an ARRAY.

        Raises:
            TypeError: not an ARRAY.
        """
        if not self.is_array:
            raise TypeError(f"{self} is not an array type")
        return _COMPONENTS[self][0]

    @property
    def map_key(self) -> SQLType:
        """The key type of a MAP.

        Raises:
            TypeError: not a MAP.
        """
        if not self.is_map:
            raise TypeError(f"{self} is not a map type")
        return _COMPONENTS[self][0]

    @property
    def map_value(self) -> SQLType:
        """The value type of a MAP.

        Raises:
            TypeError: not a MAP.
        """
        if not self.is_map:
            raise TypeError(f"{self} is not a map type")
        return _COMPONENTS[self][1]

    @property
    def numpy_dtype(self) -> np.dtype:
        return _NUMPY_DTYPES.get(self, _OBJECT)

    @property
    def arrow_type(self) -> pa.DataType:
        found = _ARROW_TYPES.get(self)
        if found is not None:
            return found
        if self.is_array:
            return pa.list_(self.element.arrow_type)
        # Arrow map keys are never NULL and cannot have Arrow's null type: the key type of an empty ``map()``
        # (map<null, ...>, which holds no key) is exported as int.
        key = SQLType.INT32 if self.map_key is SQLType.NULL else self.map_key
        return pa.map_(key.arrow_type, self.map_value.arrow_type)

    @property
    def openmldb_name(self) -> str:
        """The name OpenMLDB prints for this type (``int``, ``bigint``, ``smallint``, ``array<int>``...)."""
        found = _OPENMLDB_NAMES.get(self)
        if found is not None:
            return found
        inner = ", ".join(t.openmldb_name for t in _COMPONENTS[self])
        return f"{_KINDS[self]}<{inner}>"

    def __str__(self) -> str:
        return self.openmldb_name


_OBJECT = np.dtype(object)
#: ``"array"`` or ``"map"`` for each parametric member, and its component types (element; key and value).
_KINDS: dict[SQLType, str] = {}
_COMPONENTS: dict[SQLType, tuple[SQLType, ...]] = {}


def _nested_member(kind: str, components: tuple[SQLType, ...]) -> SQLType:
    value = f"{kind}<{','.join(c.value for c in components)}>"
    found = SQLType._value2member_map_.get(value)
    if found is not None:
        return found  # type: ignore[return-value]
    # Created like enum.Flag's pseudo-members: an instance of the enum that is not one of its declared members.
    member = object.__new__(SQLType)
    member._value_ = value
    member._name_ = value.upper()
    _KINDS[member] = kind
    _COMPONENTS[member] = components
    return SQLType._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


def array_type(element: SQLType) -> SQLType:
    """The ARRAY type of ``element`` values (``array<int32>`` for INT32)."""
    return _nested_member("array", (element,))


def map_type(key: SQLType, value: SQLType) -> SQLType:
    """The MAP type from ``key`` to ``value``.

    Raises:
        ValueError: a key type that is an ARRAY or a MAP (OpenMLDB's keys are base types only).
    """
    if key.is_nested:
        raise ValueError(f"a map key must be a base type (bool, number, string, date or timestamp), got {key}")
    return _nested_member("map", (key, value))


_NUMPY_DTYPES: dict[SQLType, np.dtype] = {
    SQLType.BOOL: np.dtype(np.bool_),
    SQLType.INT16: np.dtype(np.int16),
    SQLType.INT32: np.dtype(np.int32),
    SQLType.INT64: np.dtype(np.int64),
    SQLType.FLOAT: np.dtype(np.float32),
    SQLType.DOUBLE: np.dtype(np.float64),
    SQLType.STRING: np.dtype(object),
    SQLType.DATE: np.dtype(np.int32),
    SQLType.TIMESTAMP: np.dtype(np.int64),
    SQLType.NULL: np.dtype(np.bool_),
}

#: The value range (lowest, highest) of each integer type.
INT_RANGES: dict[SQLType, tuple[int, int]] = {
    SQLType.INT16: (-(2**15), 2**15 - 1),
    SQLType.INT32: (-(2**31), 2**31 - 1),
    SQLType.INT64: (-(2**63), 2**63 - 1),
}

#: The TIMESTAMP range, in epoch milliseconds: 0001-01-01 00:00:00.000 to 9999-12-31 23:59:59.999 UTC, what
#: ISO-8601 text (and so CSV, JSON and every export) can represent. Values outside it are refused wherever they
#: enter (HTTP, INSERT, LOAD DATA, ingest) and never written.
TIMESTAMP_RANGE_MS: tuple[int, int] = (-62_135_596_800_000, 253_402_300_799_999)
#: The DATE range, in days since 1970-01-01: 0001-01-01 to 9999-12-31.
DATE_RANGE_DAYS: tuple[int, int] = (-719_162, 2_932_896)
#: How errors state :data:`TIMESTAMP_RANGE_MS` and :data:`DATE_RANGE_DAYS`.
TIMESTAMP_RANGE_TEXT = (
    "0001-01-01 00:00:00.000 to 9999-12-31 23:59:59.999 UTC (epoch milliseconds -62135596800000 to 253402300799999)"
)
DATE_RANGE_TEXT = "0001-01-01 to 9999-12-31"


def first_out_of_range(values: pa.Array | pa.ChunkedArray) -> int | None:
    """The position of the first TIMESTAMP (``timestamp[ms]``) or DATE (``date32``) value outside
    :data:`TIMESTAMP_RANGE_MS` / :data:`DATE_RANGE_DAYS`, or None when all lie inside (NULLs do)."""
    if pa.types.is_timestamp(values.type):
        (low, high), numbers = TIMESTAMP_RANGE_MS, values.cast(pa.int64())
    else:
        (low, high), numbers = DATE_RANGE_DAYS, values.cast(pa.int32())
    least, most = pc.min_max(numbers).values()
    if not least.is_valid or (least.as_py() >= low and most.as_py() <= high):
        return None
    position: int = pc.index(pc.or_(pc.less(numbers, low), pc.greater(numbers, high)), True).as_py()
    return position


_ARROW_TYPES: dict[SQLType, pa.DataType] = {
    SQLType.BOOL: pa.bool_(),
    SQLType.INT16: pa.int16(),
    SQLType.INT32: pa.int32(),
    SQLType.INT64: pa.int64(),
    SQLType.FLOAT: pa.float32(),
    SQLType.DOUBLE: pa.float64(),
    SQLType.STRING: pa.string(),
    SQLType.DATE: pa.date32(),
    SQLType.TIMESTAMP: pa.timestamp("ms", tz="UTC"),
    SQLType.NULL: pa.null(),
}

_OPENMLDB_NAMES: dict[SQLType, str] = {
    SQLType.BOOL: "bool",
    SQLType.INT16: "smallint",
    SQLType.INT32: "int",
    SQLType.INT64: "bigint",
    SQLType.FLOAT: "float",
    SQLType.DOUBLE: "double",
    SQLType.STRING: "string",
    SQLType.DATE: "date",
    SQLType.TIMESTAMP: "timestamp",
    SQLType.NULL: "null",
}

#: Every spelling of a type name accepted in schemas, casts and case files (lower case).
TYPE_NAMES: dict[str, SQLType] = {
    "bool": SQLType.BOOL,
    "boolean": SQLType.BOOL,
    "smallint": SQLType.INT16,
    "int16": SQLType.INT16,
    "int": SQLType.INT32,
    "int32": SQLType.INT32,
    "integer": SQLType.INT32,
    "bigint": SQLType.INT64,
    "int64": SQLType.INT64,
    "long": SQLType.INT64,
    "float": SQLType.FLOAT,
    "float32": SQLType.FLOAT,
    "double": SQLType.DOUBLE,
    "float64": SQLType.DOUBLE,
    "string": SQLType.STRING,
    "varchar": SQLType.STRING,
    "text": SQLType.STRING,
    "date": SQLType.DATE,
    "timestamp": SQLType.TIMESTAMP,
}


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """``text`` split at each ``sep`` outside ``<...>`` and ``(...)`` (``"a int, m map<int, string>"``)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_type_name(name: str) -> SQLType:
    """Map a type name as written in SQL or a schema (``bigint``, ``int64``, ``array<int>``,
    ``map<int, string>``...) to a :class:`SQLType`.

    Raises:
        ValueError: the name is not a type of the dialect.
    """
    key = name.strip().lower()
    kind, bracket, rest = key.partition("<")
    if bracket:
        kind = kind.strip()
        if kind not in ("array", "map") or not rest.endswith(">"):
            raise ValueError(f"unknown type {name!r}; nested types are written array<T> or map<K, V>")
        components = [parse_type_name(part) for part in split_top_level(rest[:-1])]
        if kind == "array" and len(components) == 1:
            return array_type(components[0])
        if kind == "map" and len(components) == 2:
            return map_type(components[0], components[1])
        raise ValueError(f"{name!r}: array takes one element type (array<T>), map a key and a value (map<K, V>)")
    if key.startswith("varchar"):
        key = "varchar"
    try:
        return TYPE_NAMES[key]
    except KeyError:
        known = ", ".join([*sorted({t.openmldb_name for t in TYPE_NAMES.values()}), "array<T>", "map<K, V>"])
        raise ValueError(f"unknown type {name!r}; expected one of: {known}") from None


def parse_schema(text: str) -> pa.Schema:
    """An Arrow schema from an OpenMLDB column list such as ``"uid bigint, ts timestamp, amount double"``.

    Raises:
        ValueError: a column is not ``name type`` or its type is unknown; the message names the column.
    """
    fields = []
    for part in split_top_level(text):
        bits = part.split(maxsplit=1)
        if len(bits) != 2:
            raise ValueError(f"malformed column {part.strip()!r} in schema {text!r}: expected 'name type'")
        try:
            t = parse_type_name(bits[1])
        except ValueError as e:
            raise ValueError(f"column {bits[0]!r}: {e}") from None
        fields.append(pa.field(bits[0], t.arrow_type))
    return pa.schema(fields)


def sql_type_of_arrow(dtype: pa.DataType) -> SQLType:
    """The SQL type an Arrow column is read as.

    Raises:
        ValueError: Arrow type with no counterpart in the dialect (lists, structs...).
    """
    if pa.types.is_dictionary(dtype):
        return sql_type_of_arrow(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return SQLType.BOOL
    if pa.types.is_int8(dtype) or pa.types.is_int16(dtype) or pa.types.is_uint8(dtype):
        return SQLType.INT16
    if pa.types.is_int32(dtype) or pa.types.is_uint16(dtype):
        return SQLType.INT32
    if pa.types.is_integer(dtype):
        return SQLType.INT64
    if pa.types.is_float16(dtype) or pa.types.is_float32(dtype):
        return SQLType.FLOAT
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return SQLType.DOUBLE
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return SQLType.STRING
    if pa.types.is_date(dtype):
        return SQLType.DATE
    if pa.types.is_timestamp(dtype):
        return SQLType.TIMESTAMP
    if pa.types.is_null(dtype):
        return SQLType.NULL
    if pa.types.is_map(dtype):
        return map_type(sql_type_of_arrow(dtype.key_type), sql_type_of_arrow(dtype.item_type))
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return array_type(sql_type_of_arrow(dtype.value_type))
    raise ValueError(f"Arrow type {dtype} has no OpenMLDB SQL counterpart")
