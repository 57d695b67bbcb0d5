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
==========  =====================  ===============================================
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
    def numpy_dtype(self) -> np.dtype:
        return _NUMPY_DTYPES[self]

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self]

    @property
    def openmldb_name(self) -> str:
        """The name OpenMLDB prints for this type (``int``, ``bigint``, ``smallint``...)."""
        return _OPENMLDB_NAMES[self]

    def __str__(self) -> str:
        return self.openmldb_name


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


def parse_type_name(name: str) -> SQLType:
    """Map a type name as written in SQL or a schema (``bigint``, ``int64``...) to a :class:`SQLType`.

    Raises:
        ValueError: the name is not a type of the dialect.
    """
    key = name.strip().lower()
    if key.startswith("varchar"):
        key = "varchar"
    try:
        return TYPE_NAMES[key]
    except KeyError:
        known = ", ".join(sorted({t.openmldb_name for t in TYPE_NAMES.values()}))
        raise ValueError(f"unknown type {name!r}; expected one of: {known}") from None


def parse_schema(text: str) -> pa.Schema:
    """An Arrow schema from an OpenMLDB column list such as ``"uid bigint, ts timestamp, amount double"``.

    Raises:
        ValueError: a column is not ``name type`` or its type is unknown; the message names the column.
    """
    fields = []
    for part in text.split(","):
        bits = part.split()
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
    raise ValueError(f"Arrow type {dtype} has no OpenMLDB SQL counterpart")
