"""OpenMLDB's type conversions: explicit ``CAST``, the type-named call forms and the implicit promotion rules.

Three things live here because they are one set of rules seen from different angles:

* :func:`can_cast` / :func:`cast_column` -- ``CAST(x AS t)`` and its call forms ``int(x)``, ``string(x)``,
  ``timestamp(x)``... (registered as scalar functions at the bottom of the module);
* :func:`is_safe_cast`, :func:`promote_numbers` and :func:`compatible_type` -- the implicit conversions that
  operators and conditional functions apply (``ExprNode::IsSafeCast``, ``InferNumberCastTypes`` and
  ``CompatibleType`` in HybridSE's ``node/expr_node.cc``);
* the string parsers and printers both of them need.

Semantics reproduced (from the conformance cases, then HybridSE's code where the cases are silent):

* numeric -> narrower integer wraps like C; float -> integer truncates toward zero, and a value out of range (or
  NaN) gives what x86's ``cvttsd2si`` gives: the minimum of the int32/int64 (int16 goes through int32);
* ``bool(x)`` is ``x != 0`` for numbers and timestamps; a string converts through ``y/yes/1/t/true`` and
  ``n/no/0/f/false`` (case-insensitive; anything else, including ``""``, is NULL);
* a date converted to any number or to bool is NULL (not an error); numbers and bools cannot become dates;
* numbers, bools and timestamps become timestamps as epoch milliseconds; negative values give NULL;
* strings parse as integers (``[ws][+-][0x]digits[ws]``, NULL when out of the target's range), floats
  (decimal, ``inf``, ``nan``), dates and timestamps (``yyyy-mm-dd``, ``yyyymmdd``, ``yyyy-mm-dd hh:mm:ss``; year
  >= 1900); anything unparseable is NULL;
* floats print like C++ ``ostream << v`` (``%g``: ``1.1``, ``1.59012e+12``), bools as ``true``/``false``, dates as
  ``YYYY-MM-DD`` and timestamps as ``YYYY-MM-DD HH:MM:SS`` in the evaluation time zone (OpenMLDB: Asia/Shanghai).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column
from openfeat_core.functions.arrays import can_cast_nested, cast_nested
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, scalar_function
from openfeat_core.types import INT_RANGES, SQLType, array_type, map_type

_MS_PER_DAY = 86_400_000
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
# OpenMLDB's Date cannot hold years before 1900: parsers and date->timestamp give NULL below it.
_MIN_DATE_DAYS = _dt.date(1900, 1, 1).toordinal() - _EPOCH_ORDINAL


# ---------------------------------------------------------------------------------------------------------------------
# Implicit conversion rules
# ---------------------------------------------------------------------------------------------------------------------
def is_number(t: SQLType) -> bool:
    """OpenMLDB's ``IsNumber``: integers, floats **and bool** (bool is a 1-bit integer there)."""
    return t is SQLType.BOOL or t.is_numeric


def is_safe_cast(src: SQLType, dst: SQLType) -> bool:
    """Whether ``src`` widens to ``dst`` without loss (``ExprNode::IsSafeCast``).

    bool widens to every number; integers widen to wider integers; float to double; integers (and bool) to
    timestamp. NULL widens to anything.
    """
    if src is SQLType.NULL or src is dst:
        return True
    if dst is SQLType.INT16:
        return src is SQLType.BOOL
    if dst is SQLType.INT32:
        return src in (SQLType.BOOL, SQLType.INT16)
    if dst is SQLType.INT64:
        return src is SQLType.BOOL or src.is_integer
    if dst is SQLType.FLOAT:
        return src is SQLType.BOOL
    if dst is SQLType.DOUBLE:
        return src in (SQLType.BOOL, SQLType.FLOAT)
    if dst is SQLType.TIMESTAMP:
        return src is SQLType.BOOL or src.is_integer
    return False


def promote_numbers(a: SQLType, b: SQLType) -> SQLType | None:
    """The common type two numbers are computed in (``InferNumberCastTypes``), or None if either is no number.

    The wider side wins; an integer meeting a float takes the float's type, so ``bigint + float`` is float.
    """
    if not (is_number(a) and is_number(b)):
        return None
    if is_safe_cast(a, b):
        return b
    if is_safe_cast(b, a):
        return a
    return b if b.is_float else a


def compatible_type(a: SQLType, b: SQLType) -> SQLType:
    """The type both branches of a conditional are converted to (``ExprNode::CompatibleType``).

    NULL yields to the other side, then the safe widening, then int-meets-float (float with bigint or double gives
    double), and as a last resort both become strings (``ifnull(int_col, "abc")`` is a string).
    """
    if a is b:
        return a
    if a is SQLType.NULL:
        return b
    if b is SQLType.NULL:
        return a
    if a.is_nested or b.is_nested:
        return _compatible_nested(a, b)
    if is_safe_cast(a, b):
        return b
    if is_safe_cast(b, a):
        return a
    if is_number(a) and b.is_float:
        return SQLType.DOUBLE if b is SQLType.FLOAT and a in (SQLType.INT64, SQLType.DOUBLE) else b
    if is_number(b) and a.is_float:
        return SQLType.DOUBLE if a is SQLType.FLOAT and b in (SQLType.INT64, SQLType.DOUBLE) else a
    return SQLType.STRING


def _compatible_nested(a: SQLType, b: SQLType) -> SQLType:
    """Arrays meet arrays (element-wise), maps meet maps (key-wise and value-wise); nothing else meets them.

    Raises:
        FunctionTypeError: the types have no common type.
    """
    if a.is_array and b.is_array:
        return array_type(compatible_type(a.element, b.element))
    if a.is_map and b.is_map:
        return map_type(compatible_type(a.map_key, b.map_key), compatible_type(a.map_value, b.map_value))
    raise FunctionTypeError(f"{a} and {b} have no common type")


def can_cast(src: SQLType, dst: SQLType) -> bool:
    """Whether ``CAST(x AS dst)`` type-checks for an ``x`` of type ``src``.

    Everything converts to everything except numbers and bools to dates (OpenMLDB rejects those at plan time).
    Dates do convert to numbers and bool, but every value becomes NULL. Nothing converts to the NULL type.
    """
    if src is dst or src is SQLType.NULL:
        return True
    if dst is SQLType.NULL:
        return False
    if src.is_nested or dst.is_nested:
        return can_cast_nested(src, dst)
    if dst is SQLType.DATE:
        return src in (SQLType.STRING, SQLType.TIMESTAMP)
    return True


# ---------------------------------------------------------------------------------------------------------------------
# CAST
# ---------------------------------------------------------------------------------------------------------------------
def cast_column(col: Column, dst: SQLType, ctx: EvalContext) -> Column:
    """``CAST(col AS dst)`` with OpenMLDB's semantics (see the module docstring).

    Raises:
        FunctionTypeError: :func:`can_cast` is false for the column's type.
    """
    src = col.type
    if not can_cast(src, dst):
        raise FunctionTypeError(f"cannot cast {src} to {dst}")
    if src is dst:
        return col
    n = len(col)
    if src is SQLType.NULL:
        return Column.nulls(dst, n)
    if src.is_nested:
        return cast_nested(col, dst, ctx)
    if dst is SQLType.STRING:
        return Column.from_values(dst, format_values(col, ctx), col.valid)
    if src is SQLType.STRING:
        return _parse_strings(col, dst, ctx)
    if src is SQLType.DATE:
        if dst is SQLType.TIMESTAMP:
            return _dates_to_timestamps(col, ctx)
        return Column.nulls(dst, n)  # date -> number/bool: OpenMLDB yields NULL rather than failing
    if dst is SQLType.BOOL:
        return Column.from_values(dst, col.values != 0, col.valid)
    if dst is SQLType.TIMESTAMP:
        ms = convert_numbers(col.values, SQLType.INT64)
        return Column.from_values(dst, ms, col.valid & (ms >= 0))
    if dst is SQLType.DATE:  # from timestamp (the only other source can_cast allows)
        return Column.from_values(dst, _timestamps_to_days(col.values, ctx), col.valid)
    return Column.from_values(dst, convert_numbers(col.values, dst), col.valid)


def convert_numbers(values: np.ndarray, dst: SQLType) -> np.ndarray:
    """Convert bool/integer/float/timestamp values to the numeric ``dst`` like LLVM's casts on x86.

    Integers wrap; floats truncate toward zero and saturate to the int32/int64 minimum when out of range or NaN
    (``cvttsd2si``); int16 targets go through int32, as LLVM lowers them.
    """
    dtype = dst.numpy_dtype
    if values.dtype.kind != "f" or dst.is_float:
        with np.errstate(all="ignore"):
            return values.astype(dtype)
    wide = SQLType.INT64 if dst is SQLType.INT64 else SQLType.INT32
    lo, hi = INT_RANGES[wide]
    with np.errstate(all="ignore"):
        t = np.trunc(values.astype(np.float64))
        ok = (t >= lo) & (t < float(hi) + 1.0)
        out = np.where(ok, t, 0.0).astype(wide.numpy_dtype)
    out[~ok] = lo
    return out.astype(dtype)


# ---------------------------------------------------------------------------------------------------------------------
# Time zone helpers (epoch ms <-> wall-clock ms in the evaluation time zone)
# ---------------------------------------------------------------------------------------------------------------------
def _is_utc(ctx: EvalContext) -> bool:
    return ctx.timezone.upper() in ("UTC", "ETC/UTC", "GMT", "Z")


def local_wall_ms(utc_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    """Epoch milliseconds -> the local wall-clock time in ``ctx.timezone``, also as milliseconds since 1970."""
    utc_ms = np.asarray(utc_ms, dtype=np.int64)
    if _is_utc(ctx) or len(utc_ms) == 0:
        return utc_ms
    local = pc.local_timestamp(pa.array(utc_ms, type=pa.timestamp("ms", tz=ctx.timezone)))
    return np.asarray(local.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def utc_from_wall_ms(wall_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    """Local wall-clock milliseconds in ``ctx.timezone`` -> epoch milliseconds (DST gaps/overlaps: earliest)."""
    wall_ms = np.asarray(wall_ms, dtype=np.int64)
    if _is_utc(ctx) or len(wall_ms) == 0:
        return wall_ms
    utc = pc.assume_timezone(
        pa.array(wall_ms, type=pa.timestamp("ms")), timezone=ctx.timezone, ambiguous="earliest", nonexistent="earliest"
    )
    return np.asarray(utc.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _wall_seconds(utc_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    # OpenMLDB computes `(ts + offset) / 1000` in C, i.e. truncating toward zero; keep that for pre-1970 values.
    wall = local_wall_ms(utc_ms, ctx)
    return np.where(wall < 0, -((-wall) // 1000), wall // 1000)


def _timestamps_to_days(utc_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    return (_wall_seconds(utc_ms, ctx) // 86_400).astype(np.int32)


def _dates_to_timestamps(col: Column, ctx: EvalContext) -> Column:
    days = col.values.astype(np.int64)
    ok = col.valid & (days >= _MIN_DATE_DAYS)
    ms = utc_from_wall_ms(np.where(ok, days, 0) * _MS_PER_DAY, ctx)
    return Column.from_values(SQLType.TIMESTAMP, ms, ok)


# ---------------------------------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------------------------------
def format_values(col: Column, ctx: EvalContext) -> np.ndarray:
    """Every value of ``col`` as the string OpenMLDB prints for it (object array; NULL slots hold garbage)."""
    t = col.type
    v = col.values
    if t is SQLType.STRING:
        return v
    if t is SQLType.NULL:
        return np.full(len(v), "", dtype=object)
    if t is SQLType.BOOL:
        return np.where(v, "true", "false").astype(object)
    if t.is_integer:
        return v.astype(str).astype(object)
    if t.is_float:
        return _format_floats(v)
    if t is SQLType.DATE:
        return np.datetime_as_string(v.astype("datetime64[D]"), unit="D").astype(object)
    secs = _wall_seconds(v, ctx).astype("datetime64[s]")
    return np.char.replace(np.datetime_as_string(secs, unit="s"), "T", " ").astype(object)


def _format_floats(values: np.ndarray) -> np.ndarray:
    # C++ `ostream << float` prints with %g and 6 significant digits; the float is widened to double first.
    wide = values.astype(np.float64)
    out = np.char.mod("%g", wide).astype(object)
    neg_nan = np.isnan(wide) & np.signbit(wide)
    out[neg_nan] = "-nan"  # glibc prints the sign of a NaN, Python does not
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------------
_C_SPACE = "[ \t\n\v\f\r]*"
_INT_RE = re.compile(_C_SPACE + r"([+-]?)(0[xX])?([0-9a-fA-F]+)" + _C_SPACE + r"\Z")
_FLOAT_RE = re.compile(
    _C_SPACE + r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)" + _C_SPACE + r"\Z",
    re.IGNORECASE,
)
_DATETIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
_DATE10_RE = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})\Z")
_DATE8_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})\Z")
_TRUE_WORDS = frozenset({"y", "yes", "1", "t", "true"})
_FALSE_WORDS = frozenset({"n", "no", "0", "f", "false"})


def parse_bool(s: str) -> bool | None:
    """``bool("...")``: y/yes/1/t/true and n/no/0/f/false (any case); None otherwise."""
    low = s.lower()
    if low in _TRUE_WORDS:
        return True
    if low in _FALSE_WORDS:
        return False
    return None


def parse_int(s: str, dst: SQLType = SQLType.INT64) -> int | None:
    """``int64("...")``: ``[ws][+|-][0x]digits[ws]``, base 16 after ``0x`` else 10; None if invalid or out of range."""
    m = _INT_RE.match(s)
    if m is None:
        return None
    try:
        value = int(m.group(3), 16 if m.group(2) else 10)
    except ValueError:  # hex letters without the 0x prefix
        return None
    if m.group(1) == "-":
        value = -value
    lo, hi = INT_RANGES[dst]
    return value if lo <= value <= hi else None


def parse_float(s: str) -> float | None:
    """``double("...")``: a decimal number (optional exponent), ``inf``/``infinity`` or ``nan``; None otherwise."""
    if _FLOAT_RE.match(s) is None:
        return None
    return float(s.strip(" \t\n\v\f\r"))


def parse_datetime(s: str) -> tuple[int, int] | None:
    """Parse ``yyyy-mm-dd hh:mm:ss``, ``yyyy-mm-dd`` or ``yyyymmdd`` (the only accepted lengths are 19, 10 and 8).

    Returns:
        ``(days since 1970-01-01, seconds into that day)`` of the wall-clock time, or None when the text is not one
        of the formats, not a calendar date, or before year 1900. Seconds up to 61 are accepted and carried into the
        next minute, as ``mktime`` does.
    """
    n = len(s)
    m = _DATETIME_RE.match(s) if n == 19 else _DATE10_RE.match(s) if n == 10 else _DATE8_RE.match(s) if n == 8 else None
    if m is None:
        return None
    fields = [int(g) for g in m.groups()]
    year, month, day = fields[:3]
    hour, minute, second = fields[3:] if n == 19 else (0, 0, 0)
    if year < 1900 or hour > 23 or minute > 59 or second > 61:
        return None
    try:
        days = _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    return days, hour * 3600 + minute * 60 + second


def _parse_strings(col: Column, dst: SQLType, ctx: EvalContext) -> Column:
    """Parse a string column into ``dst``; each distinct string is parsed once (parsing is per-value Python)."""
    n = len(col)
    present = col.valid.copy()
    if not present.any():
        return Column.nulls(dst, n)
    uniques, inverse = np.unique(col.values[present], return_inverse=True)
    texts = [str(u) for u in uniques]
    vals_u: np.ndarray
    if dst in (SQLType.DATE, SQLType.TIMESTAMP):
        stamps = [parse_datetime(s) for s in texts]
        ok_u = np.array([p is not None for p in stamps], dtype=np.bool_)
        days = np.array([0 if p is None else p[0] for p in stamps], dtype=np.int64)
        if dst is SQLType.DATE:
            vals_u = days.astype(np.int32)
        else:
            secs = np.array([0 if p is None else p[1] for p in stamps], dtype=np.int64)
            vals_u = utc_from_wall_ms(days * _MS_PER_DAY + secs * 1000, ctx)
    elif dst is SQLType.BOOL:
        flags = [parse_bool(s) for s in texts]
        ok_u = np.array([f is not None for f in flags], dtype=np.bool_)
        vals_u = np.array([bool(f) for f in flags], dtype=np.bool_)
    elif dst.is_float:
        floats = [parse_float(s) for s in texts]
        ok_u = np.array([f is not None for f in floats], dtype=np.bool_)
        # Parse in double and round once to float32: strtof's direct rounding differs only in double-rounding ties.
        with np.errstate(over="ignore"):
            vals_u = np.array([0.0 if f is None else f for f in floats], dtype=np.float64).astype(dst.numpy_dtype)
    else:
        ints = [parse_int(s, dst) for s in texts]
        ok_u = np.array([i is not None for i in ints], dtype=np.bool_)
        vals_u = np.array([0 if i is None else i for i in ints], dtype=dst.numpy_dtype)
    values = np.zeros(n, dtype=dst.numpy_dtype)
    values[present] = vals_u[inverse]
    valid = np.zeros(n, dtype=np.bool_)
    valid[present] = ok_u[inverse]
    return Column.from_values(dst, values, valid)


# ---------------------------------------------------------------------------------------------------------------------
# Type-named call forms: int(x), string(x), timestamp(x)...
# ---------------------------------------------------------------------------------------------------------------------
def _register_cast_function(dst: SQLType, name: str, *aliases: str) -> None:
    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        if len(arg_types) != 1:
            raise FunctionTypeError(f"{name}() takes exactly 1 argument, got {len(arg_types)}")
        if not can_cast(arg_types[0], dst):
            raise FunctionTypeError(f"{name}({arg_types[0]}): cannot cast {arg_types[0]} to {dst}")
        return dst

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        return cast_column(args[0], dst, ctx)

    scalar_function(name, resolve, *aliases, doc=f"CAST(x AS {dst}) written as a function call.")(impl)


_register_cast_function(SQLType.BOOL, "bool")
_register_cast_function(SQLType.INT16, "smallint", "int16")
_register_cast_function(SQLType.INT32, "int", "int32")
_register_cast_function(SQLType.INT64, "bigint", "int64")
_register_cast_function(SQLType.FLOAT, "float")
_register_cast_function(SQLType.DOUBLE, "double")
_register_cast_function(SQLType.STRING, "string", "varchar")
_register_cast_function(SQLType.DATE, "date")
_register_cast_function(SQLType.TIMESTAMP, "timestamp")
