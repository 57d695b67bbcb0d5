"""Operators and conditional functions: OpenMLDB's type promotion, null rules and edge cases.

Expected values come from the conformance cases (``cases/function/expression/*.yaml``,
``cases/query/operator_query.yaml``) unless a comment says otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import openfeat_core.functions.operators  # noqa: F401  (registers the functions under test)
from openfeat_core.column import Column
from openfeat_core.functions.registry import REGISTRY, EvalContext, FunctionTypeError
from openfeat_core.types import SQLType

B, I16, I32, I64 = SQLType.BOOL, SQLType.INT16, SQLType.INT32, SQLType.INT64
F32, F64, STR = SQLType.FLOAT, SQLType.DOUBLE, SQLType.STRING
DATE, TS, NULL = SQLType.DATE, SQLType.TIMESTAMP, SQLType.NULL


def col(values: list[Any], t: SQLType) -> Column:
    if t is NULL:
        return Column.nulls(NULL, len(values))
    return Column.from_pylist(values, t)


def run(name: str, *cols: Column, tz: str = "UTC") -> Column:
    """Resolve and evaluate like an executor does, checking the kernel honours the resolved type."""
    fn = REGISTRY.scalars[name]
    rtype = fn.resolve([c.type for c in cols])
    out = fn.impl(list(cols), EvalContext(tz))
    assert out.type is rtype
    assert len(out) == len(cols[0])
    # Invalid slots must hold the zero value (Column's invariant).
    assert not np.any(out.values[~out.valid] != Column.nulls(out.type, 1).values[0])
    return out


def same(actual: list[Any], expected: list[Any]) -> bool:
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if e is None or a is None:
            if a is not e:
                return False
        elif isinstance(e, float):
            if not (math.isnan(e) and math.isnan(a)) and not math.isclose(a, e, rel_tol=1e-6, abs_tol=1e-12):
                return False
        elif a != e or type(a) is not type(e):
            return False
    return True


# (operator, lhs type, rhs type) -> result type; from test_arithmetic.yaml cases 0-8, 17, 19, 20 and the bitwise cases.
PROMOTIONS = [
    ("add", I16, I16, I16),
    ("add", I16, I32, I32),
    ("add", I16, I64, I64),
    ("add", I16, F32, F32),
    ("add", I16, F64, F64),
    ("add", I16, B, I16),
    ("add", I32, I16, I32),
    ("add", I64, I32, I64),
    ("add", I64, F32, F32),
    ("add", F32, F64, F64),
    ("add", F64, F32, F64),
    ("add", B, B, B),
    ("add", B, I64, I64),
    ("add", I16, TS, TS),
    ("add", B, TS, TS),
    ("add", TS, TS, TS),
    ("add", TS, I32, TS),
    ("add", NULL, I16, I16),
    ("add", B, NULL, B),
    ("add", NULL, NULL, NULL),
    ("subtract", TS, I64, TS),
    ("subtract", TS, B, TS),
    ("subtract", F32, I16, F32),
    ("multiply", I32, B, I32),
    ("multiply", F32, I64, F32),
    ("mod", I16, B, I16),
    ("mod", F64, F32, F64),
    ("mod", B, NULL, B),
    ("divide", I16, I16, F64),
    ("divide", B, F32, F64),
    ("divide", NULL, I64, F64),
    ("int_divide", I16, I32, I32),
    ("int_divide", B, B, B),
    ("int_divide", I64, NULL, I64),
    ("neg", I16, None, I16),
    ("neg", B, None, B),
    ("neg", F32, None, F32),
    ("bitand", I16, I16, I16),
    ("bitor", I16, I32, I32),
    ("bitxor", I32, I64, I64),
    ("bitand", I16, NULL, I16),
    ("bitnot", I64, None, I64),
    ("bitnot", NULL, None, NULL),
    ("eq", STR, I32, B),
    ("lt", TS, TS, B),
    ("ge", DATE, STR, B),
    ("neq", B, F64, B),
    ("gt", NULL, TS, B),
    ("and", STR, DATE, B),
    ("xor", F32, NULL, B),
    ("not", TS, None, B),
    ("is_null", DATE, None, B),
    ("isnull", NULL, None, B),
    ("is_not_null", STR, None, B),
]


@pytest.mark.parametrize(("op", "lhs", "rhs", "expected"), PROMOTIONS)
def test_result_type(op: str, lhs: SQLType, rhs: SQLType | None, expected: SQLType) -> None:
    types = [lhs] if rhs is None else [lhs, rhs]
    assert REGISTRY.scalars[op].resolve(types) is expected


# (operator, lhs type, rhs type) that OpenMLDB rejects (test_arithmetic 9-19, bitwise_*_fail, test_predicate 2/4/5).
REJECTED = [
    ("add", I32, DATE),
    ("add", F64, STR),
    ("add", TS, F32),
    ("add", TS, DATE),
    ("add", STR, STR),
    ("subtract", TS, TS),
    ("subtract", I32, TS),
    ("subtract", DATE, I32),
    ("multiply", TS, I32),
    ("multiply", I32, STR),
    ("mod", DATE, I16),
    ("divide", TS, I32),
    ("divide", I32, STR),
    ("int_divide", I32, F32),
    ("int_divide", F64, I32),
    ("int_divide", I32, TS),
    ("bitand", B, I32),
    ("bitor", F32, I32),
    ("bitxor", STR, I32),
    ("bitand", TS, I64),
    ("bitnot", B, None),
    ("bitnot", F64, None),
    ("neg", TS, None),
    ("neg", DATE, None),
    ("neg", STR, None),
    ("eq", I32, TS),
    ("lt", B, DATE),
    ("gt", TS, DATE),
    ("le", F64, TS),
]


@pytest.mark.parametrize(("op", "lhs", "rhs"), REJECTED)
def test_type_errors_name_function_and_types(op: str, lhs: SQLType, rhs: SQLType | None) -> None:
    types = [lhs] if rhs is None else [lhs, rhs]
    with pytest.raises(FunctionTypeError) as err:
        REGISTRY.scalars[op].resolve(types)
    assert op in str(err.value)
    assert lhs.openmldb_name in str(err.value)


@pytest.mark.parametrize(("op", "types"), [("add", [I32]), ("not", [B, B]), ("if_null", [I32]), ("nvl2", [I32, I32])])
def test_wrong_arity(op: str, types: list[SQLType]) -> None:
    with pytest.raises(FunctionTypeError, match="argument"):
        REGISTRY.scalars[op].resolve(types)


# (operator, lhs values/type, rhs values/type, expected values)
BINARY_VALUES = [
    # test_arithmetic case 0: smallint 30 against the second table's row.
    ("mod", [30], I16, [0], I16, [None]),
    ("mod", [30], I16, [20], I32, [10]),
    ("mod", [30], I16, [11.1], F32, [7.8]),
    ("mod", [30], I16, [12.1], F64, [5.8]),
    ("mod", [30], I16, [True], B, [0]),
    ("multiply", [30], I16, [11.1], F32, [333.0]),
    ("subtract", [30], I16, [True], B, [29]),
    ("divide", [30], I16, [0], I16, [None]),
    ("divide", [30.0], F32, [11.1], F32, [2.7027026098198896]),
    ("divide", [30], I16, [True], B, [30.0]),
    ("divide", [30.0], F64, [-0.0], F64, [None]),
    ("divide", [1.0], F64, [float("nan")], F64, [float("nan")]),
    # test_arithmetic cases 5/6/7/8: bool, float and timestamp addition.
    ("add", [False], B, [True], B, [True]),
    ("add", [True], B, [True], B, [False]),  # LLVM i1 arithmetic wraps
    ("subtract", [False], B, [True], B, [True]),
    ("add", [30.0], F32, [11.1], F32, [41.100000381469727]),
    ("add", [30], I16, [1590738989001], TS, [1590738989031]),
    ("add", [1590738989000], TS, [1590738989001], TS, [3181477978001]),
    ("subtract", [1590738989000], TS, [True], B, [1590738988999]),
    ("subtract", [1590738989000], TS, [30], I64, [1590738988970]),
    # Overflow wraps like C.
    ("add", [32767], I16, [1], I16, [-32768]),
    ("multiply", [2**31 - 1], I32, [2], I32, [-2]),
    ("add", [2**63 - 1], I64, [1], I64, [-(2**63)]),
    # DIV truncates toward zero, % keeps the dividend's sign (operator_query cases 8/9).
    ("int_divide", [7, 2, 3, 7, 13, 0, None], I64, [0, 1, 2, 3, 4, 5, 6], I32, [None, 2, 1, 2, 3, 0, None]),
    ("int_divide", [-7, 7, -7], I32, [2, -2, -2], I32, [-3, -3, 3]),
    ("int_divide", [-(2**63)], I64, [-1], I64, [-(2**63)]),
    ("int_divide", [False, True, True], B, [False, True, False], B, [None, True, None]),
    ("mod", [4, 0, 4, 9], I64, [0, 1, 2, 3], I32, [None, 0, 0, 0]),
    ("mod", [-7, 7, -(2**31)], I32, [3, -3, -1], I32, [-1, 1, 0]),
    ("mod", [2.0, 2.0, None, 9.0], F32, [0, 1, 2, 3], I32, [None, 0.0, None, 0.0]),
    ("mod", [3.0, 9.0, 18.0], F64, [2.0, None, 9.0], F32, [1.0, None, 0.0]),
    ("mod", [-7.5], F64, [2.0], F64, [-1.5]),
    # Bitwise (test_arithmetic bitwise_operators).
    ("bitand", [3, 3], I16, [6, 12], I64, [2, 0]),
    ("bitor", [3, 6], I16, [6, 12], I32, [7, 14]),
    ("bitxor", [3, 12], I16, [6, 12], I64, [5, 0]),
    ("bitand", [3], I16, [None], I16, [None]),
    # NULLs propagate.
    ("add", [1, None], I32, [None, 2], I32, [None, None]),
    ("divide", [None], I32, [None], NULL, [None]),
]


@pytest.mark.parametrize(("op", "lv", "lt", "rv", "rt", "expected"), BINARY_VALUES)
def test_binary_values(op: str, lv: list[Any], lt: SQLType, rv: list[Any], rt: SQLType, expected: list[Any]) -> None:
    out = run(op, col(lv, lt), col(rv, rt))
    assert same(out.to_pylist(), expected), out.to_pylist()


@pytest.mark.parametrize(
    ("op", "values", "t", "expected"),
    [
        ("neg", [30, -30, None], I32, [-30, 30, None]),
        ("neg", [-32768], I16, [-32768]),
        ("neg", [True, False], B, [True, False]),  # test_arithmetic case 15
        ("neg", [1.5], F32, [-1.5]),
        ("bitnot", [3, None], I16, [-4, None]),
        ("bitnot", [6], I32, [-7]),
        ("bitnot", [12], I64, [-13]),
        ("bitnot", [None], NULL, [None]),
        ("is_null", [1, None], I32, [False, True]),
        ("isnull", ["", None], STR, [False, True]),
        ("is_not_null", [1.0, None], F64, [True, False]),
        ("is_null", [None, None], NULL, [True, True]),
    ],
)
def test_unary_values(op: str, values: list[Any], t: SQLType, expected: list[Any]) -> None:
    assert same(run(op, col(values, t)).to_pylist(), expected)


TV = [True, True, True, False, False, False, None, None, None]
TV2 = [True, False, None] * 3


@pytest.mark.parametrize(
    ("op", "expected"),
    [  # test_logic case 2: three-valued logic
        ("and", [True, False, None, False, False, False, None, False, None]),
        ("or", [True, True, True, True, False, None, True, None, None]),
        ("xor", [False, True, None, True, False, None, None, None, None]),
    ],
)
def test_three_valued_logic(op: str, expected: list[Any]) -> None:
    assert run(op, col(TV, B), col(TV2, B)).to_pylist() == expected


def test_not_three_valued() -> None:
    assert run("not", col([True, False, None], B)).to_pylist() == [False, True, None]


@pytest.mark.parametrize(
    ("values", "t", "expected_not"),
    [  # test_logic case 1: truthiness of non-bool operands
        (["bb", "", None], STR, [False, True, None]),
        ([10, 0], I16, [False, True]),
        ([11.1, 0.0, float("nan")], F32, [False, True, False]),
        ([1590738989001, 0], TS, [False, True]),
        (["2020-05-02", "1970-01-01", None], DATE, [False, False, None]),
    ],
)
def test_logic_on_non_bool(values: list[Any], t: SQLType, expected_not: list[Any]) -> None:
    assert run("not", col(values, t)).to_pylist() == expected_not


def test_logic_mixed_types() -> None:
    # test_logic case 0, second row: "aa" AND "" is false; true XOR NULL date is NULL.
    assert run("and", col(["aa"], STR), col([""], STR)).to_pylist() == [False]
    assert run("xor", col([True], B), col([None], DATE)).to_pylist() == [None]
    assert run("or", col([0], I32), col([2], I64)).to_pylist() == [True]


OPS = ["gt", "ge", "lt", "le", "neq", "eq"]


@pytest.mark.parametrize(
    ("lv", "lt", "rv", "rt", "expected"),
    [
        # test_predicate case 0: a string against anything compares the other side's printed form.
        (["10"], STR, ["bb"], STR, [False, False, True, True, True, False]),
        (["10"], STR, [10], I16, [False, True, False, True, False, True]),
        (["10"], STR, [11.1], F32, [False, False, True, True, True, False]),
        (["10"], STR, [1590738989001], TS, [False, False, True, True, True, False]),
        (["10"], STR, [False], B, [False, False, True, True, True, False]),
        # test_predicate case 3: date/timestamp against strings and themselves (Asia/Shanghai printing).
        (["2020-05-02"], DATE, ["2020-05-02"], STR, [False, True, False, True, False, True]),
        ([1590738989000], TS, ["2020-05-29 15:56:29"], STR, [False, True, False, True, False, True]),
        ([1590738989000], TS, [1590738989001], TS, [False, False, True, True, True, False]),
        (["2020-05-01"], DATE, ["2020-05-02"], DATE, [False, False, True, True, True, False]),
        # test_predicate cases 1/6: numbers and bools across types.
        ([10], I16, [10.0], F64, [False, True, False, True, False, True]),
        ([True], B, [1], I16, [False, True, False, True, False, True]),
        ([False], B, [True], B, [False, False, True, True, True, False]),
        ([True], B, ["1"], STR, [True, True, False, False, True, False]),
        # NaN is unordered: only != holds.
        ([float("nan")], F64, [1.0], F64, [False, False, False, False, True, False]),
        # int64 meets float: compared as float, like OpenMLDB.
        ([16777217], I64, [16777216.0], F32, [False, True, False, True, False, True]),
    ],
)
def test_comparisons(lv: list[Any], lt: SQLType, rv: list[Any], rt: SQLType, expected: list[bool]) -> None:
    got = [run(op, col(lv, lt), col(rv, rt), tz="Asia/Shanghai").to_pylist()[0] for op in OPS]
    assert got == expected


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(("lt", "rt"), [(I16, I32), (F32, F64), (TS, TS), (STR, STR), (STR, NULL), (NULL, NULL)])
def test_comparisons_with_null(op: str, lt: SQLType, rt: SQLType) -> None:
    # test_predicate cases 9/10: comparing with NULL gives NULL.
    samples = {I16: 1, I32: 911, F32: 3.14, F64: 0.99, TS: 1590738989000, STR: "str", NULL: None}
    out = run(op, col([samples[lt], None], lt), col([None, samples[rt]], rt))
    assert out.to_pylist() == [None, None]


@pytest.mark.parametrize(
    ("name", "args", "expected_type", "expected"),
    [
        # test_condition cases 8-14.
        ("ifnull", [(["aa", None, ""], STR), (["abc"] * 3, STR)], STR, ["aa", "abc", ""]),
        ("ifnull", [([0, None, 1], I32), (["abc"] * 3, STR)], STR, ["0", "abc", "1"]),
        ("if_null", [([0, None, 1], I32), ([100] * 3, I32)], I32, [0, 100, 1]),
        ("nvl", [([0, None, 1], I64), ([100] * 3, I32)], I64, [0, 100, 1]),
        ("ifnull", [([0, None, 1], I64), ([1.1] * 3, F64)], F64, [0.0, 1.1, 1.0]),
        ("ifnull", [([1], I32), ([None], NULL)], I32, [1]),
        ("ifnull", [([None], NULL), ([1], I32)], I32, [1]),
        ("ifnull", [([None], F64), ([None], F64)], F64, [None]),
        ("nvl2", [([0, None, 1], I32), (["abc"] * 3, STR), (["def"] * 3, STR)], STR, ["abc", "def", "abc"]),
        ("nvl2", [([0, None], I32), (["abc"] * 2, STR), ([2, 3], I32)], STR, ["abc", "3"]),
        ("nvl2", [([None], NULL), ([None], I64), ([4.0], F32)], F64, [4.0]),
        ("nvl2", [([True], B), (["str"], STR), ([34], I32)], STR, ["str"]),
        # if: a NULL condition picks the else branch.
        ("if", [([True, False, None], B), ([1, 2, 3], I32), ([10.5, 20.5, 30.5], F32)], F32, [1.0, 20.5, 30.5]),
        ("if", [([True, False], B), ([None, 2], I64), ([7, None], I32)], I64, [None, None]),
        ("if", [([None], NULL), (["a"], STR), (["b"], STR)], STR, ["b"]),
        ("coalesce", [([None, 1, None], I32), ([None, 2, 3], I64), ([9, 9, 9], I16)], I64, [9, 1, 3]),
        ("coalesce", [([None, "x"], STR)], STR, [None, "x"]),
        ("coalesce", [([None], NULL), ([1590738989000], TS)], TS, [1590738989000]),
        ("identity", [([1.5, None], F64)], F64, [1.5, None]),
        ("identity", [(["2020-05-01"], DATE)], DATE, [__import__("datetime").date(2020, 5, 1)]),
    ],
)
def test_conditionals(name: str, args: list[tuple[list[Any], SQLType]], expected_type: SQLType, expected: list[Any]):
    out = run(name, *(col(v, t) for v, t in args))
    assert out.type is expected_type
    assert same(out.to_pylist(), expected), out.to_pylist()


@pytest.mark.parametrize(("name", "types"), [("if", [I32, I32, I32]), ("if", [STR, I32, I32]), ("coalesce", [])])
def test_conditional_type_errors(name: str, types: list[SQLType]) -> None:
    with pytest.raises(FunctionTypeError, match=name):
        REGISTRY.scalars[name].resolve(types)


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("add", [I32, I32]),
        ("divide", [F32, I16]),
        ("mod", [F64, F64]),
        ("int_divide", [I64, I64]),
        ("eq", [STR, I32]),
        ("and", [B, B]),
        ("bitxor", [I16, I16]),
        ("neg", [F64]),
        ("not", [B]),
        ("ifnull", [STR, STR]),
        ("coalesce", [I32, I32, I32]),
    ],
)
def test_empty_columns(name: str, types: list[SQLType]) -> None:
    out = run(name, *(col([], t) for t in types))
    assert len(out) == 0


def test_all_null_operands_give_null_type() -> None:
    out = run("add", col([None, None], NULL), col([None, None], NULL))
    assert out.type is NULL
    assert out.to_pylist() == [None, None]
