"""SQL operators and the null-handling / conditional helpers, as scalar functions.

The SQL front end maps each operator to one of these names (``OPERATOR_FUNCTIONS`` in
:mod:`~openfeat_core.functions.registry`). Type rules follow HybridSE (``node/expr_node.cc`` ``*TypeAccept`` and
``codegen/*_ir_builder.cc``), checked against the conformance cases:

* arithmetic promotes to the wider operand (:func:`~openfeat_core.functions.cast.promote_numbers`): ``smallint +
  int`` is int, ``bigint + float`` is float, ``float + double`` is double; integers wrap on overflow like C;
* bool is a 1-bit integer: ``bool + int`` is int, and ``bool op bool`` stays bool with the result taken modulo 2
  (``true + true`` is false, as LLVM's ``i1`` arithmetic gives);
* ``/`` always yields double, ``DIV`` integer division truncating toward zero (integers and bool only), ``%``
  the C remainder (``fmod`` for floats) in the promoted type; a zero divisor gives NULL for all three;
* ``timestamp + integer``, ``integer + timestamp``, ``timestamp + timestamp`` and ``timestamp - integer`` are
  timestamps (milliseconds); every other arithmetic on timestamps, dates or strings is a type error;
* a bare NULL operand takes the other operand's type (``NULL + smallint_col`` is smallint);
* comparisons accept two numbers, two values of the same type, or a string and anything (the other side is then
  printed as a string, see :func:`~openfeat_core.functions.cast.format_values`, and compared byte-wise);
* ``AND``/``OR``/``XOR``/``NOT`` accept any type (numbers are true when non-zero, strings when non-empty, dates
  always) and use three-valued logic: ``NULL AND false`` is false, ``NULL OR true`` is true, XOR/NOT of NULL is NULL;
* bitwise operators take smallint/int/bigint only (not bool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from openfeat_core.column import Column
from openfeat_core.functions.cast import cast_column, compatible_type, is_number, promote_numbers
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, Resolver, ScalarImpl, scalar_function
from openfeat_core.types import SQLType

_NULL = SQLType.NULL
_BOOL = SQLType.BOOL
_TS = SQLType.TIMESTAMP
_BinaryOp = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------------------------------------------
# Type checking helpers
# ---------------------------------------------------------------------------------------------------------------------
def _type_error(fn: str, types: Sequence[SQLType], why: str) -> FunctionTypeError:
    shown = ", ".join(t.openmldb_name for t in types)
    return FunctionTypeError(f"{fn}({shown}): {why}")


def _check_arity(fn: str, types: Sequence[SQLType], n: int) -> None:
    if len(types) != n:
        raise FunctionTypeError(f"{fn}() takes exactly {n} argument{'s' if n != 1 else ''}, got {len(types)}")


def _is_int_like(t: SQLType) -> bool:
    """OpenMLDB's ``IsInteger``: smallint/int/bigint and bool."""
    return t is _BOOL or t.is_integer


def _null_adopts(a: SQLType, b: SQLType) -> SQLType | None:
    """A bare NULL operand takes the other operand's type; None when neither is NULL."""
    if a is _NULL:
        return b
    if b is _NULL:
        return a
    return None


def _resolve_add(types: Sequence[SQLType]) -> SQLType:
    _check_arity("add", types, 2)
    a, b = types
    if not all(t is _NULL or t is _TS or is_number(t) for t in types):
        raise _type_error("add", types, "operands must be numbers or timestamps")
    adopted = _null_adopts(a, b)
    if adopted is not None:
        return adopted
    if (a is _TS and (b is _TS or _is_int_like(b))) or (_is_int_like(a) and b is _TS):
        return _TS
    promoted = promote_numbers(a, b)
    if promoted is None:
        raise _type_error("add", types, "a timestamp can only be added to an integer or a timestamp")
    return promoted


def _resolve_subtract(types: Sequence[SQLType]) -> SQLType:
    _check_arity("subtract", types, 2)
    a, b = types
    if not all(t is _NULL or t is _TS or is_number(t) for t in types):
        raise _type_error("subtract", types, "operands must be numbers or timestamps")
    adopted = _null_adopts(a, b)
    if adopted is not None:
        return adopted
    if a is _TS and _is_int_like(b):
        return _TS
    promoted = promote_numbers(a, b)
    if promoted is None:
        raise _type_error("subtract", types, "only an integer can be subtracted from a timestamp")
    return promoted


def _numeric_resolver(fn: str, accept: Callable[[SQLType], bool], what: str) -> Callable[[Sequence[SQLType]], SQLType]:
    """Resolver for binary operators over numbers: NULL adopts the other type, otherwise promotion."""

    def resolve(types: Sequence[SQLType]) -> SQLType:
        _check_arity(fn, types, 2)
        if not all(t is _NULL or accept(t) for t in types):
            raise _type_error(fn, types, f"operands must be {what}")
        adopted = _null_adopts(*types)
        if adopted is not None:
            return adopted
        promoted = promote_numbers(*types)
        assert promoted is not None  # both accepted types are numbers
        return promoted

    return resolve


_resolve_multiply = _numeric_resolver("multiply", is_number, "numbers")
_resolve_mod = _numeric_resolver("mod", is_number, "numbers")
_resolve_int_divide = _numeric_resolver("int_divide", _is_int_like, "integers or bools")
_resolve_bitand = _numeric_resolver("bitand", lambda t: t.is_integer, "smallint, int or bigint")
_resolve_bitor = _numeric_resolver("bitor", lambda t: t.is_integer, "smallint, int or bigint")
_resolve_bitxor = _numeric_resolver("bitxor", lambda t: t.is_integer, "smallint, int or bigint")


def _resolve_divide(types: Sequence[SQLType]) -> SQLType:
    _check_arity("divide", types, 2)
    if not all(t is _NULL or is_number(t) for t in types):
        raise _type_error("divide", types, "operands must be numbers")
    return SQLType.DOUBLE


def _resolve_neg(types: Sequence[SQLType]) -> SQLType:
    _check_arity("neg", types, 1)
    if not (types[0] is _NULL or is_number(types[0])):
        raise _type_error("neg", types, "unary minus needs a number")
    return types[0]


def _resolve_bitnot(types: Sequence[SQLType]) -> SQLType:
    _check_arity("bitnot", types, 1)
    if not (types[0] is _NULL or types[0].is_integer):
        raise _type_error("bitnot", types, "operand must be smallint, int or bigint")
    return types[0]


def _compare_resolver(fn: str) -> Callable[[Sequence[SQLType]], SQLType]:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _check_arity(fn, types, 2)
        a, b = types
        if a is _NULL or b is _NULL or (is_number(a) and is_number(b)) or SQLType.STRING in (a, b) or a is b:
            return _BOOL
        raise _type_error(fn, types, "cannot compare these types")

    return resolve


def _bool_resolver(fn: str, arity: int) -> Callable[[Sequence[SQLType]], SQLType]:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _check_arity(fn, types, arity)
        return _BOOL

    return resolve


# ---------------------------------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------------------------------
def _operand(col: Column, dtype: np.dtype | type) -> np.ndarray:
    return col.values.astype(dtype, copy=False)


def _arith(rt: SQLType, a: Column, b: Column, op: _BinaryOp) -> Column:
    """Apply a wrapping arithmetic ``op`` in the result type ``rt`` (bool results are taken modulo 2)."""
    n = len(a)
    if rt is _NULL:
        return Column.nulls(_NULL, n)
    valid = a.valid & b.valid
    with np.errstate(all="ignore"):
        if rt is _BOOL or rt is _TS:
            values = op(_operand(a, np.int64), _operand(b, np.int64))
            if rt is _BOOL:
                values = (values & 1).astype(np.bool_)
        else:
            values = op(_operand(a, rt.numpy_dtype), _operand(b, rt.numpy_dtype))
    return Column.from_values(rt, values, valid)


def _zero_divisor(b: Column) -> np.ndarray:
    # HybridSE tests `rhs == 0` before dividing; for floats that includes -0.0 but not NaN.
    return np.asarray(b.values == 0, dtype=np.bool_)


def _int_remainder(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # C remainder: sign of the dividend. `MIN % -1` traps in C; its mathematical value 0 is returned instead.
    safe = np.where((y == 0) | (y == -1), 1, y)
    return np.where(y == -1, 0, np.fmod(x, safe))


def _int_quotient(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # C division truncates toward zero; numpy's floor_divide rounds down, so step back up when signs differ.
    safe = np.where(y == 0, 1, y)
    q = np.floor_divide(x, safe)
    inexact = np.remainder(x, safe) != 0
    return q + (inexact & ((x < 0) != (safe < 0))).astype(q.dtype)


def _divide_like(rt: SQLType, a: Column, b: Column, int_op: _BinaryOp, float_op: _BinaryOp | None) -> Column:
    """``%`` and ``DIV``: computed in ``rt``, NULL where the divisor is zero."""
    n = len(a)
    if rt is _NULL:
        return Column.nulls(_NULL, n)
    valid = a.valid & b.valid & ~_zero_divisor(b)
    with np.errstate(all="ignore"):
        if rt.is_float:
            assert float_op is not None
            values = float_op(_operand(a, rt.numpy_dtype), _operand(b, rt.numpy_dtype))
        else:
            dtype = np.int64 if rt is _BOOL else rt.numpy_dtype
            values = int_op(_operand(a, dtype), _operand(b, dtype))
            if rt is _BOOL:
                values = (values & 1).astype(np.bool_)
    return Column.from_values(rt, values, valid)


def _truthy(col: Column) -> np.ndarray:
    """The boolean value OpenMLDB's logical operators see (``CastExprIRBuilder::BoolCast``); False where NULL."""
    t = col.type
    if t is _NULL:
        return np.zeros(len(col), dtype=np.bool_)
    if t is _BOOL:
        values = col.values.astype(np.bool_)
    elif t is SQLType.STRING:
        values = np.asarray(col.values != "", dtype=np.bool_)
    elif t is SQLType.DATE:
        values = np.ones(len(col), dtype=np.bool_)  # a date's internal code is never 0
    else:
        values = np.asarray(col.values != 0, dtype=np.bool_)  # NaN counts as true (unordered !=)
    return values & col.valid


def _bool_result(values: np.ndarray, null: np.ndarray) -> Column:
    return Column.from_values(_BOOL, values, ~null)


def _compare(a: Column, b: Column, op: _BinaryOp, ctx: EvalContext) -> Column:
    n = len(a)
    if a.type is _NULL or b.type is _NULL:
        return Column.nulls(_BOOL, n)
    valid = a.valid & b.valid
    if SQLType.STRING in (a.type, b.type):
        x = cast_column(a, SQLType.STRING, ctx).values
        y = cast_column(b, SQLType.STRING, ctx).values
    elif a.type is b.type:
        x, y = a.values, b.values
    else:
        common = promote_numbers(a.type, b.type)
        assert common is not None  # guaranteed by the resolver
        x, y = _operand(a, common.numpy_dtype), _operand(b, common.numpy_dtype)
    with np.errstate(invalid="ignore"):
        values = np.asarray(op(x, y), dtype=np.bool_)
    return Column.from_values(_BOOL, values, valid)


# ---------------------------------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------------------------------
def _arith_function(resolve: Resolver, ufunc: np.ufunc) -> ScalarImpl:
    """A binary operator whose result type ``resolve`` gives and whose values ``ufunc`` computes."""

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        return _arith(resolve([c.type for c in args]), args[0], args[1], ufunc)

    return impl


for _name, _resolve, _ufunc, _doc in (
    ("add", _resolve_add, np.add, "a + b"),
    ("subtract", _resolve_subtract, np.subtract, "a - b"),
    ("multiply", _resolve_multiply, np.multiply, "a * b"),
    ("bitand", _resolve_bitand, np.bitwise_and, "a & b"),
    ("bitor", _resolve_bitor, np.bitwise_or, "a | b"),
    ("bitxor", _resolve_bitxor, np.bitwise_xor, "a ^ b"),
):
    scalar_function(_name, _resolve, doc=_doc)(_arith_function(_resolve, _ufunc))


@scalar_function("divide", _resolve_divide, doc="a / b: double division, NULL when b is 0")
def _divide(args: list[Column], ctx: EvalContext) -> Column:
    a, b = args
    zero = _zero_divisor(b)
    valid = a.valid & b.valid & ~zero
    x = _operand(a, np.float64)
    y = np.where(zero, 1.0, _operand(b, np.float64))
    with np.errstate(all="ignore"):
        return Column.from_values(SQLType.DOUBLE, x / y, valid)


@scalar_function("int_divide", _resolve_int_divide, doc="a DIV b: integer division toward zero, NULL when b is 0")
def _int_divide(args: list[Column], ctx: EvalContext) -> Column:
    rt = _resolve_int_divide([c.type for c in args])
    return _divide_like(rt, args[0], args[1], _int_quotient, None)


@scalar_function("mod", _resolve_mod, doc="a % b (a MOD b): C remainder, NULL when b is 0")
def _mod(args: list[Column], ctx: EvalContext) -> Column:
    rt = _resolve_mod([c.type for c in args])
    return _divide_like(rt, args[0], args[1], _int_remainder, np.fmod)


@scalar_function("neg", _resolve_neg, doc="-a")
def _neg(args: list[Column], ctx: EvalContext) -> Column:
    (a,) = args
    if a.type is _NULL:
        return a
    if a.type is _BOOL:  # -x == x modulo 2
        return Column.from_values(_BOOL, a.values.copy(), a.valid)
    with np.errstate(all="ignore"):
        return Column.from_values(a.type, np.negative(a.values), a.valid)


# ---------------------------------------------------------------------------------------------------------------------
# Bitwise
# ---------------------------------------------------------------------------------------------------------------------
@scalar_function("bitnot", _resolve_bitnot, doc="~a")
def _bitnot(args: list[Column], ctx: EvalContext) -> Column:
    (a,) = args
    if a.type is _NULL:
        return a
    return Column.from_values(a.type, np.invert(a.values), a.valid)


# ---------------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------------
def _register_comparison(name: str, op: _BinaryOp, symbol: str) -> None:
    resolve = _compare_resolver(name)

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        resolve([c.type for c in args])
        return _compare(args[0], args[1], op, ctx)

    scalar_function(name, resolve, doc=f"a {symbol} b")(impl)


_register_comparison("eq", np.equal, "=")
_register_comparison("neq", np.not_equal, "!=")
_register_comparison("lt", np.less, "<")
_register_comparison("le", np.less_equal, "<=")
_register_comparison("gt", np.greater, ">")
_register_comparison("ge", np.greater_equal, ">=")


# ---------------------------------------------------------------------------------------------------------------------
# Logic (three-valued)
# ---------------------------------------------------------------------------------------------------------------------
@scalar_function("and", _bool_resolver("and", 2), doc="a AND b (NULL AND false is false)")
def _and(args: list[Column], ctx: EvalContext) -> Column:
    a, b = args
    x, y = _truthy(a), _truthy(b)
    xn, yn = ~a.valid, ~b.valid
    return _bool_result(x & y, (xn & (yn | y)) | (x & yn))


@scalar_function("or", _bool_resolver("or", 2), doc="a OR b (NULL OR true is true)")
def _or(args: list[Column], ctx: EvalContext) -> Column:
    a, b = args
    x, y = _truthy(a), _truthy(b)
    xn, yn = ~a.valid, ~b.valid
    return _bool_result(x | y, (xn & (yn | ~y)) | (~x & yn))


@scalar_function("xor", _bool_resolver("xor", 2), doc="a XOR b (NULL if either is NULL)")
def _xor(args: list[Column], ctx: EvalContext) -> Column:
    a, b = args
    return _bool_result(_truthy(a) ^ _truthy(b), ~a.valid | ~b.valid)


@scalar_function("not", _bool_resolver("not", 1), doc="NOT a")
def _not(args: list[Column], ctx: EvalContext) -> Column:
    (a,) = args
    return _bool_result(~_truthy(a), ~a.valid)


# ---------------------------------------------------------------------------------------------------------------------
# NULL tests and conditionals
# ---------------------------------------------------------------------------------------------------------------------
@scalar_function("is_null", _bool_resolver("is_null", 1), "isnull", doc="a IS NULL (never NULL itself)")
def _is_null(args: list[Column], ctx: EvalContext) -> Column:
    (a,) = args
    return Column(_BOOL, ~a.valid, np.ones(len(a), dtype=np.bool_))


@scalar_function("is_not_null", _bool_resolver("is_not_null", 1), doc="a IS NOT NULL (never NULL itself)")
def _is_not_null(args: list[Column], ctx: EvalContext) -> Column:
    (a,) = args
    return Column(_BOOL, a.valid.copy(), np.ones(len(a), dtype=np.bool_))


def _pick(mask: np.ndarray, when: Column, otherwise: Column) -> Column:
    """Row-wise ``when if mask else otherwise`` for two columns of the same type."""
    values = np.where(mask, when.values, otherwise.values)
    valid = np.where(mask, when.valid, otherwise.valid)
    return Column.from_values(when.type, values, valid)


def _resolve_ifnull(types: Sequence[SQLType]) -> SQLType:
    _check_arity("if_null", types, 2)
    return compatible_type(*types)


@scalar_function("if_null", _resolve_ifnull, "ifnull", "nvl", doc="if_null(x, default): x unless it is NULL")
def _if_null(args: list[Column], ctx: EvalContext) -> Column:
    x, default = args
    rt = _resolve_ifnull([x.type, default.type])
    return _pick(x.valid, cast_column(x, rt, ctx), cast_column(default, rt, ctx))


def _resolve_nvl2(types: Sequence[SQLType]) -> SQLType:
    _check_arity("nvl2", types, 3)
    return compatible_type(types[1], types[2])


@scalar_function("nvl2", _resolve_nvl2, doc="nvl2(x, a, b): a if x is not NULL, else b")
def _nvl2(args: list[Column], ctx: EvalContext) -> Column:
    x, a, b = args
    rt = _resolve_nvl2([c.type for c in args])
    return _pick(x.valid, cast_column(a, rt, ctx), cast_column(b, rt, ctx))


def _resolve_if(types: Sequence[SQLType]) -> SQLType:
    _check_arity("if", types, 3)
    if types[0] not in (_BOOL, _NULL):
        raise _type_error("if", types, "the condition must be a bool")
    return compatible_type(types[1], types[2])


@scalar_function("if", _resolve_if, doc="if(cond, a, b): a where cond is true, b where it is false or NULL")
def _if(args: list[Column], ctx: EvalContext) -> Column:
    cond, a, b = args
    rt = _resolve_if([c.type for c in args])
    return _pick(_truthy(cond), cast_column(a, rt, ctx), cast_column(b, rt, ctx))


def _resolve_coalesce(types: Sequence[SQLType]) -> SQLType:
    if not types:
        raise FunctionTypeError("coalesce() needs at least 1 argument")
    rt = types[0]
    for t in types[1:]:
        rt = compatible_type(rt, t)
    return rt


@scalar_function("coalesce", _resolve_coalesce, doc="coalesce(a, b, ...): the first argument that is not NULL")
def _coalesce(args: list[Column], ctx: EvalContext) -> Column:
    rt = _resolve_coalesce([c.type for c in args])
    result = cast_column(args[-1], rt, ctx)
    for col in reversed(args[:-1]):
        result = _pick(col.valid, cast_column(col, rt, ctx), result)
    return result


def _resolve_identity(types: Sequence[SQLType]) -> SQLType:
    _check_arity("identity", types, 1)
    return types[0]


@scalar_function("identity", _resolve_identity, doc="identity(x): x unchanged")
def _identity(args: list[Column], ctx: EvalContext) -> Column:
    return args[0]
