"""Mathematical scalar functions and ``hash64``, with OpenMLDB's overloads and result types.

HybridSE registers each function for a few exact argument types and, for some, a catch-all that casts the
argument to double (``RegisterExprUdf(...).args<AnyArg>``). That table decides the result type, so it is copied
here per function (``udf/default_udf_library.cc``, checked against ``cases/function/function/test_calculate.yaml``):

==================================  ==========================================  ===============================
function                            exact overloads                             other numbers and bool
==================================  ==========================================  ===============================
abs                                 smallint/int -> int, bigint, double         -> double
ceil/ceiling, floor                 smallint/int/bigint -> bigint, double       -> double
truncate                            smallint/int -> int, bigint, double         -> double
round(x[, d])                       same type as x (HALF_UP, d decimal places)  bool -> double
inc                                 same type as x (x + 1, integers wrap)       error
exp, sqrt, sin, cos, tan, cot,      smallint/int/bigint/double -> double,       error
asin, acos, atan                    float -> float
ln, log2, log10, log(x)             float -> float, double -> double            -> double
log(base, x)                        double ``ln(x) / ln(base)`` (NULL when ln(base) is 0)
pow/power, atan(y, x), atan2        same-typed pairs -> double, float pair      -> double
                                    -> float
hash64 / farm_fingerprint           bool, integers, floats, string, date,       error
                                    timestamp -> bigint
==================================  ==========================================  ===============================

Domain errors follow C's libm: ``sqrt(-1)`` is NaN, ``ln(0)`` is ``-inf`` (no NULL). A bare NULL argument counts
as a double.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import farmhash
import numpy as np

from openfeat_core.column import Column
from openfeat_core.functions.cast import is_number
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, scalar_function
from openfeat_core.types import SQLType

_I16, _I32, _I64 = SQLType.INT16, SQLType.INT32, SQLType.INT64
_F32, _F64 = SQLType.FLOAT, SQLType.DOUBLE
_UnaryKernel = Callable[[np.ndarray], np.ndarray]
_BinaryKernel = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Overload tables: effective argument type -> result type. "Effective" because unmatched numbers become double.
_TRIG: dict[SQLType, SQLType] = {_I16: _F64, _I32: _F64, _I64: _F64, _F64: _F64, _F32: _F32}
_LOG: dict[SQLType, SQLType] = {_F32: _F32, _F64: _F64}
_ABS: dict[SQLType, SQLType] = {_I16: _I32, _I32: _I32, _I64: _I64, _F64: _F64}
_CEIL: dict[SQLType, SQLType] = {_I16: _I64, _I32: _I64, _I64: _I64, _F64: _F64}
_TRUNC: dict[SQLType, SQLType] = {_I16: _I32, _I32: _I32, _I64: _I64, _F64: _F64}
_ROUND: dict[SQLType, SQLType] = {_I16: _I16, _I32: _I32, _I64: _I64, _F32: _F32, _F64: _F64}
_PAIRS: dict[tuple[SQLType, SQLType], SQLType] = {
    (_I16, _I16): _F64,
    (_I32, _I32): _F64,
    (_I64, _I64): _F64,
    (_F64, _F64): _F64,
    (_F32, _F32): _F32,
}


def _shown(types: Sequence[SQLType]) -> str:
    return ", ".join(t.openmldb_name for t in types)


def _effective_unary(fn: str, t: SQLType, table: dict[SQLType, SQLType], widen: bool) -> SQLType:
    """The overload an argument of type ``t`` selects; raises when there is none."""
    if t in table:
        return t
    if t is SQLType.NULL or (widen and is_number(t)):
        return _F64
    accepted = ", ".join(sorted({k.openmldb_name for k in table} | ({"bool", "float"} if widen else set())))
    raise FunctionTypeError(f"{fn}({t}): unsupported argument type; expected one of: {accepted}")


def _effective_pair(fn: str, types: Sequence[SQLType]) -> tuple[SQLType, SQLType]:
    a, b = types
    if (a, b) in _PAIRS:
        return a, b
    if all(t is SQLType.NULL or is_number(t) for t in types):
        return _F64, _F64
    raise FunctionTypeError(f"{fn}({_shown(types)}): arguments must be numbers")


def _check_arity(fn: str, types: Sequence[SQLType], allowed: tuple[int, ...]) -> None:
    if len(types) not in allowed:
        expected = " or ".join(str(n) for n in allowed)
        raise FunctionTypeError(f"{fn}() takes {expected} argument(s), got {len(types)}")


def _unary(arg: Column, out_t: SQLType, kernel: _UnaryKernel) -> Column:
    # Compute in the result type, as the C++ overloads do after promoting their argument: abs(smallint) is the int
    # abs (so abs(-32768) is 32768) and sin(int) is the double sin (NumPy alone would pick float32 for int16).
    with np.errstate(all="ignore"):
        values = kernel(arg.values.astype(out_t.numpy_dtype, copy=False))
    return Column.from_values(out_t, values, arg.valid)


def _register_unary(
    name: str, table: dict[SQLType, SQLType], widen: bool, kernel: _UnaryKernel, *aliases: str, doc: str
) -> None:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _check_arity(name, types, (1,))
        return table[_effective_unary(name, types[0], table, widen)]

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        in_t = _effective_unary(name, args[0].type, table, widen)
        return _unary(args[0], table[in_t], kernel)

    scalar_function(name, resolve, *aliases, doc=doc)(impl)


def _binary(a: Column, b: Column, out_t: SQLType, kernel: _BinaryKernel) -> Column:
    # pow(int, int) is C's double pow: computing in the integer type would overflow.
    dtype = out_t.numpy_dtype
    with np.errstate(all="ignore"):
        values = kernel(a.values.astype(dtype, copy=False), b.values.astype(dtype, copy=False))
    return Column.from_values(out_t, values, a.valid & b.valid)


# ---------------------------------------------------------------------------------------------------------------------
# Kernels that are not a single NumPy ufunc
# ---------------------------------------------------------------------------------------------------------------------
def _cot(x: np.ndarray) -> np.ndarray:
    return np.cos(x) / np.sin(x)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # C's round(): halves go away from zero. x - trunc(x) is exact, unlike floor(x + 0.5) near 0.49999999999999994.
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= 0.5, np.sign(x), 0.0)


def _round_float(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """HALF_UP rounding of floats to ``digits`` decimal places (negative: left of the point)."""
    wide = x.astype(np.float64)
    d = digits.astype(np.int64)
    pos = np.power(10.0, np.clip(d, 0, 400))
    neg = np.power(10.0, np.clip(-d, 0, 400))
    # Scale by an exact power of ten in the direction that keeps it >= 1, so 10**-d is never an inexact fraction.
    out = np.where(d >= 0, _round_half_away(wide * pos) / pos, _round_half_away(wide / neg) * neg)
    out = np.where(np.isfinite(out), out, wide)  # overflowing scales leave the value as is
    return out.astype(x.dtype)


def _round_int(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """HALF_UP rounding of integers to a negative number of decimal places (non-negative ``digits``: unchanged)."""
    wide = x.astype(np.int64)
    places = np.clip(-digits.astype(np.int64), 0, 19)
    unit = (10 ** places.astype(np.uint64)).astype(np.uint64)
    magnitude = np.abs(wide).astype(np.uint64)  # abs(INT64_MIN) wraps to itself: exactly 2**63 as unsigned
    rounded = (magnitude + unit // np.uint64(2)) // unit * unit
    rounded = np.where(places >= 19, np.uint64(0), rounded)  # no int64 reaches half of 10**19
    signed = rounded.astype(np.int64)
    return np.where(wide < 0, -signed, signed).astype(x.dtype)


# ---------------------------------------------------------------------------------------------------------------------
# Registrations
# ---------------------------------------------------------------------------------------------------------------------
_register_unary("abs", _ABS, True, np.abs, doc="abs(x): absolute value")
_register_unary("ceil", _CEIL, True, np.ceil, "ceiling", doc="ceil(x): smallest integer not less than x")
_register_unary("floor", _CEIL, True, np.floor, doc="floor(x): largest integer not greater than x")
_register_unary("truncate", _TRUNC, True, np.trunc, doc="truncate(x): x rounded toward zero")
_register_unary("exp", _TRIG, False, np.exp, doc="exp(x): e to the power x")
_register_unary("sqrt", _TRIG, False, np.sqrt, doc="sqrt(x): square root")
_register_unary("sin", _TRIG, False, np.sin, doc="sin(x), x in radians")
_register_unary("cos", _TRIG, False, np.cos, doc="cos(x), x in radians")
_register_unary("tan", _TRIG, False, np.tan, doc="tan(x), x in radians")
_register_unary("cot", _TRIG, False, _cot, doc="cot(x) = cos(x) / sin(x)")
_register_unary("asin", _TRIG, False, np.arcsin, doc="asin(x): arc sine")
_register_unary("acos", _TRIG, False, np.arccos, doc="acos(x): arc cosine")
_register_unary("ln", _LOG, True, np.log, doc="ln(x): natural logarithm")
_register_unary("log2", _LOG, True, np.log2, doc="log2(x): base-2 logarithm")
_register_unary("log10", _LOG, True, np.log10, doc="log10(x): base-10 logarithm")
# OpenMLDB's inc (IncOne, registered for exactly these types): x + 1 in x's own type, wrapping as C++ does.
_register_unary("inc", _ROUND, False, lambda x: x + x.dtype.type(1), doc="inc(x): x + 1, of x's type")


def _register_pair(name: str, kernel: _BinaryKernel, *aliases: str, doc: str) -> None:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _check_arity(name, types, (2,))
        return _PAIRS[_effective_pair(name, types)]

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        in_t = _effective_pair(name, [c.type for c in args])
        return _binary(args[0], args[1], _PAIRS[in_t], kernel)

    scalar_function(name, resolve, *aliases, doc=doc)(impl)


_register_pair("pow", np.power, "power", doc="pow(x, y): x raised to the power y")
_register_pair("atan2", np.arctan2, doc="atan2(y, x): arc tangent of y / x, in the quadrant of (x, y)")


def _resolve_atan(types: Sequence[SQLType]) -> SQLType:
    _check_arity("atan", types, (1, 2))
    if len(types) == 1:
        return _TRIG[_effective_unary("atan", types[0], _TRIG, False)]
    return _PAIRS[_effective_pair("atan", types)]


@scalar_function("atan", _resolve_atan, doc="atan(x): arc tangent; atan(y, x) = atan2(y, x)")
def _atan(args: list[Column], ctx: EvalContext) -> Column:
    if len(args) == 1:
        in_t = _effective_unary("atan", args[0].type, _TRIG, False)
        return _unary(args[0], _TRIG[in_t], np.arctan)
    pair = _effective_pair("atan", [c.type for c in args])
    return _binary(args[0], args[1], _PAIRS[pair], np.arctan2)


def _resolve_log(types: Sequence[SQLType]) -> SQLType:
    _check_arity("log", types, (1, 2))
    if len(types) == 1:
        return _LOG[_effective_unary("log", types[0], _LOG, True)]
    for t in types:
        _effective_unary("log", t, _LOG, True)
    return _F64


@scalar_function("log", _resolve_log, doc="log(x): natural logarithm; log(base, x): logarithm of x to base")
def _log(args: list[Column], ctx: EvalContext) -> Column:
    if len(args) == 1:
        in_t = _effective_unary("log", args[0].type, _LOG, True)
        return _unary(args[0], _LOG[in_t], np.log)
    _resolve_log([c.type for c in args])
    base, x = args
    with np.errstate(all="ignore"):
        ln_base = np.log(base.values.astype(np.float64))
        ln_x = np.log(x.values.astype(np.float64))
        # OpenMLDB rewrites log(b, x) as the division ln(x) / ln(b), and a division by zero is NULL.
        zero = ln_base == 0
        values = ln_x / np.where(zero, 1.0, ln_base)
    return Column.from_values(_F64, values, base.valid & x.valid & ~zero)


def _resolve_round(types: Sequence[SQLType]) -> SQLType:
    _check_arity("round", types, (1, 2))
    if len(types) == 2 and not (types[1] is SQLType.NULL or types[1].is_integer):
        raise FunctionTypeError(f"round({_shown(types)}): the number of decimal places must be an integer")
    return _ROUND[_effective_unary("round", types[0], _ROUND, True)]


@scalar_function("round", _resolve_round, doc="round(x[, d]): x rounded half away from zero to d decimal places")
def _round(args: list[Column], ctx: EvalContext) -> Column:
    _resolve_round([c.type for c in args])
    x = args[0]
    in_t = _effective_unary("round", x.type, _ROUND, True)
    values = x.values.astype(in_t.numpy_dtype, copy=False)
    if len(args) == 2:
        digits, valid = args[1].values.astype(np.int64), x.valid & args[1].valid
    else:
        digits, valid = np.zeros(len(x), dtype=np.int64), x.valid
    with np.errstate(all="ignore"):
        out = _round_float(values, digits) if in_t.is_float else _round_int(values, digits)
    return Column.from_values(_ROUND[in_t], out, valid)


# ---------------------------------------------------------------------------------------------------------------------
# hash64 / farm_fingerprint
# ---------------------------------------------------------------------------------------------------------------------
# Little-endian byte layout hashed per type: the value at its declared width, as OpenMLDB passes it to FarmHash.
_HASH_LAYOUTS: dict[SQLType, str] = {
    SQLType.BOOL: "<u1",
    _I16: "<u2",
    _I32: "<u4",
    _I64: "<u8",
    _F32: "<u4",
    _F64: "<u8",
    SQLType.TIMESTAMP: "<u8",
    SQLType.DATE: "<u4",
}


def _resolve_hash64(types: Sequence[SQLType]) -> SQLType:
    _check_arity("hash64", types, (1,))
    t = types[0]
    if t not in _HASH_LAYOUTS and t not in (SQLType.STRING, SQLType.NULL):
        raise FunctionTypeError(f"hash64({t}): unsupported argument type")
    return _I64


def _date_codes(days: np.ndarray) -> np.ndarray:
    """OpenMLDB's internal date encoding ``(year - 1900) << 16 | (month - 1) << 8 | day``."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month0 = months.astype(np.int64) % 12
    day = (d - months).astype(np.int64) + 1
    return (((year - 1900) << 16) | (month0 << 8) | day).astype(np.int32)


def _signed(fingerprint: int) -> int:
    return fingerprint - (1 << 64) if fingerprint >= 1 << 63 else fingerprint


def _hash_strings(values: np.ndarray) -> np.ndarray:
    uniques, inverse = np.unique(values, return_inverse=True)
    hashes = np.array(
        [_signed(farmhash.fingerprint64(str(u).encode("utf-8", "surrogatepass"))) for u in uniques], dtype=np.int64
    )
    return hashes[inverse]


def _hash_fixed_width(values: np.ndarray, layout: str) -> np.ndarray:
    # Floats are hashed through their bit patterns: np.unique on the floats would merge 0.0 with -0.0 (and NaNs).
    if values.dtype.kind == "f":
        keys = np.ascontiguousarray(values.astype(layout.replace("u", "f"))).view(layout)
    else:
        keys = values.astype(layout)  # two's complement wrap keeps the bytes of negative integers
    uniques, inverse = np.unique(keys, return_inverse=True)
    width = np.dtype(layout).itemsize
    buf = uniques.astype(layout).tobytes()
    hashes = np.array(
        [_signed(farmhash.fingerprint64(buf[i * width : (i + 1) * width])) for i in range(len(uniques))],
        dtype=np.int64,
    )
    return hashes[inverse]


@scalar_function("hash64", _resolve_hash64, "farm_fingerprint", doc="hash64(x): FarmHash Fingerprint64 of x's bytes")
def _hash64(args: list[Column], ctx: EvalContext) -> Column:
    (x,) = args
    _resolve_hash64([x.type])
    n = len(x)
    if x.type is SQLType.NULL or not x.valid.any():
        return Column.nulls(_I64, n)
    out = np.zeros(n, dtype=np.int64)
    present = x.valid
    values = x.values[present]
    if x.type is SQLType.STRING:
        out[present] = _hash_strings(values)
    else:
        if x.type is SQLType.DATE:
            values = _date_codes(values)
        out[present] = _hash_fixed_width(values, _HASH_LAYOUTS[x.type])
    return Column.from_values(_I64, out, present)


_EARTH_RADIUS_KM = 6372.8  # the radius OpenMLDB's earth_distance uses (test_udf_function.yaml case 6)


def _resolve_earth_distance(types: Sequence[SQLType]) -> SQLType:
    _check_arity("earth_distance", types, (4,))
    for t in types:
        if not (is_number(t) or t is SQLType.NULL):
            got = ", ".join(map(str, types))
            raise FunctionTypeError(f"earth_distance(lat1, lon1, lat2, lon2) takes numbers, got {got}")
    return _F64


@scalar_function(
    "earth_distance",
    _resolve_earth_distance,
    doc="earth_distance(lat1, lon1, lat2, lon2): great-circle (haversine) distance in km between two points in degrees",
)
def _earth_distance(args: list[Column], ctx: EvalContext) -> Column:
    # The same operation order as OpenMLDB (degrees * pi / 180, u*u rather than u**2) keeps the result
    # bit-identical to its expected values.
    lat1, lon1, lat2, lon2 = (a.values.astype(np.float64) * np.pi / 180 for a in args)
    u = np.sin((lat2 - lat1) / 2)
    v = np.sin((lon2 - lon1) / 2)
    dist = 2.0 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(u * u + np.cos(lat1) * np.cos(lat2) * v * v))
    valid = args[0].valid & args[1].valid & args[2].valid & args[3].valid
    return Column.from_values(_F64, dist, valid)
