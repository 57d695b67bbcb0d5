"""Math functions and hash64: OpenMLDB's overloads, result types, libm edge cases and FarmHash fingerprints.

Expected values come from ``cases/function/function/test_calculate.yaml``, ``test_udf_function.yaml`` and
``cases/query/feature_signature_query.yaml`` unless a comment says otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import openfeat_core.functions.mathfuncs  # noqa: F401  (registers the functions under test)
from openfeat_core.column import Column
from openfeat_core.functions.registry import REGISTRY, EvalContext, FunctionTypeError
from openfeat_core.types import SQLType

B, I16, I32, I64 = SQLType.BOOL, SQLType.INT16, SQLType.INT32, SQLType.INT64
F32, F64, STR = SQLType.FLOAT, SQLType.DOUBLE, SQLType.STRING
DATE, TS, NULL = SQLType.DATE, SQLType.TIMESTAMP, SQLType.NULL
NAN, INF = math.nan, math.inf


def col(values: list[Any], t: SQLType) -> Column:
    if t is NULL:
        return Column.nulls(NULL, len(values))
    return Column.from_pylist(values, t)


def run(name: str, *cols: Column) -> Column:
    fn = REGISTRY.scalars[name]
    rtype = fn.resolve([c.type for c in cols])
    out = fn.impl(list(cols), EvalContext())
    assert out.type is rtype
    assert len(out) == len(cols[0])
    assert not np.any(out.values[~out.valid] != 0)
    return out


def close(actual: list[Any], expected: list[Any], rel: float) -> bool:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None or a is None:
            if a is not e:
                return False
        elif isinstance(e, float) and (math.isnan(e) or math.isinf(e)):
            if not (math.isnan(e) and math.isnan(a)) and a != e:
                return False
        elif not math.isclose(a, e, rel_tol=rel, abs_tol=1e-12):
            return False
    return True


@pytest.mark.parametrize(
    ("name", "types", "expected"),
    [
        # test_calculate cases 0-6
        ("abs", [I16], I32),
        ("abs", [I32], I32),
        ("abs", [I64], I64),
        ("abs", [F32], F64),
        ("abs", [F64], F64),
        ("abs", [B], F64),
        ("ceil", [I16], I64),
        ("ceiling", [I32], I64),
        ("floor", [I64], I64),
        ("floor", [F64], F64),
        ("floor", [B], F64),
        ("ceil", [F32], F64),
        ("round", [F32], F32),
        ("round", [I32], I32),
        ("round", [I16, I32], I16),
        ("round", [F64, I64], F64),
        ("round", [B], F64),
        ("truncate", [F64], F64),
        ("truncate", [I16], I32),
        ("truncate", [F32], F64),
        ("cos", [I16], F64),
        ("cot", [I32], F64),
        ("sin", [I64], F64),
        ("tan", [F32], F32),
        ("tan", [F64], F64),
        ("acos", [F64], F64),
        ("asin", [F32], F32),
        ("atan", [I32], F64),
        ("atan2", [I32, I64], F64),
        ("atan2", [F32, F32], F32),
        ("atan", [I16, I16], F64),
        ("atan", [F32, F32], F32),
        ("log", [I16], F64),
        ("log", [I64, I32], F64),
        ("log", [F32], F32),
        ("log2", [F32], F32),
        ("log10", [F64], F64),
        ("ln", [I32], F64),
        ("log", [B], F64),
        ("exp", [I16], F64),
        ("exp", [F32], F32),
        ("pow", [I32, I64], F64),
        ("power", [I64, F32], F64),
        ("sqrt", [F64], F64),
        ("sqrt", [F32], F32),
        ("pow", [B, I32], F64),
        ("pow", [F32, F32], F32),
        ("pow", [I16, I16], F64),
        ("sqrt", [NULL], F64),
        ("hash64", [STR], I64),
        ("farm_fingerprint", [DATE], I64),
        ("hash64", [NULL], I64),
        # inc: OpenMLDB's IncOne, registered for smallint, int, bigint, float and double (query/udaf_query.yaml 4)
        ("inc", [I16], I16),
        ("inc", [I64], I64),
        ("inc", [F32], F32),
        ("inc", [F64], F64),
    ],
)
def test_result_types(name: str, types: list[SQLType], expected: SQLType) -> None:
    assert REGISTRY.scalars[name].resolve(types) is expected


@pytest.mark.parametrize(
    ("name", "types"),
    [
        # test_calculate cases 7-9 (strings, timestamps, dates) and case 8 (bool where no double fallback exists)
        ("abs", [STR]),
        ("cos", [TS]),
        ("floor", [DATE]),
        ("round", [STR]),
        ("log", [TS]),
        ("ln", [DATE]),
        ("sqrt", [B]),
        ("cos", [B]),
        ("atan", [B]),
        ("exp", [STR]),
        ("pow", [STR, STR]),
        ("atan2", [TS, TS]),
        ("log", [DATE, DATE]),
        ("round", [F64, F64]),
        ("abs", [I32, I32]),
        ("atan", [I32, I32, I32]),
        ("hash64", [I32, I32]),
        ("inc", [STR]),
        ("inc", [B]),
    ],
)
def test_type_errors(name: str, types: list[SQLType]) -> None:
    with pytest.raises(FunctionTypeError, match=name):
        REGISTRY.scalars[name].resolve(types)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        # test_calculate case 0
        ("abs", [([-1, None], I16)], [1, None]),
        ("abs", [([2, None], I32)], [2, None]),
        ("abs", [([-0.2, None], F32)], [0.20000000298023224, None]),
        ("abs", [([True, False], B)], [1.0, 0.0]),
        ("abs", [([-(2**63)], I64)], [-(2**63)]),  # wraps like C
        ("abs", [([-32768], I16)], [32768]),  # computed as int, the result type
        # cases 1-3: trigonometry
        ("cos", [([0, None], I16)], [1.0, None]),
        ("cot", [([1], I32)], [0.6420926159343306]),
        ("sin", [([1], I64)], [0.8414709848078965]),
        ("sin", [([1], I16)], [0.8414709848078965]),  # double sin, not NumPy's float32 choice for int16
        ("tan", [([1.0], F32)], [1.5574077]),
        ("acos", [([0.5], F64)], [1.0471975511965979]),
        ("asin", [([0.2], F32)], [0.2013579207903308]),
        ("atan", [([2], I32)], [1.1071487177940904]),
        ("atan2", [([2], I32), ([2], I64)], [0.78539816339744828]),
        ("asin", [([2.0], F64)], [NAN]),
        ("atan", [([0.0], F64), ([-0.0], F64)], [math.pi]),
        ("cot", [([0.0], F64)], [INF]),
        # case 4: logarithms; log(base, x)
        ("log", [([1], I16)], [0.0]),
        ("log", [([3, 3, None], I64), ([1, 9, 3], I32)], [0.0, 2.0, None]),
        ("log", [([10.0], F64), ([100.0], F64)], [2.0]),
        ("log", [([1.0], F64), ([100.0], F64)], [None]),  # ln(base) == 0: OpenMLDB's division by zero is NULL
        ("log2", [([1.0, 8.0], F32)], [0.0, 3.0]),
        ("log10", [([1.0, 1000.0], F64)], [0.0, 3.0]),
        ("ln", [([1], I32)], [0.0]),
        ("log", [([True, False], B)], [0.0, -INF]),
        ("ln", [([-1.0], F64)], [NAN]),
        # case 5: rounding family
        ("ceil", [([1, None], I16)], [1, None]),
        ("ceiling", [([2], I32)], [2]),
        ("floor", [([2], I64)], [2]),
        ("round", [([0.5, 1.5, -0.5, 2.4], F32)], [1.0, 2.0, -1.0, 2.0]),
        ("round", [([0.49999999999999994, 2.5, -2.5], F64)], [0.0, 3.0, -3.0]),
        ("truncate", [([0.7, -0.7], F64)], [0.0, -0.0]),
        ("truncate", [([7], I16)], [7]),
        ("floor", [([True, False], B)], [1.0, 0.0]),
        ("ceil", [([1.2, -1.2], F64)], [2.0, -1.0]),
        ("floor", [([1.23], F32)], [1.0]),
        # round(x, d): HALF_UP to d places, same type as x
        ("round", [([1.23, 1.25, -1.25, 123.456], F64), ([1, 1, 1, -1], I32)], [1.2, 1.3, -1.3, 120.0]),
        ("round", [([123, 125, -125, 7], I32), ([-1, -1, -1, 2], I32)], [120, 130, -130, 7]),
        ("round", [([32767], I16), ([-1], I32)], [-32766]),  # 32770 wraps in smallint
        ("round", [([2**62], I64), ([-19], I32)], [0]),
        ("round", [([1.5], F64), ([None], I32)], [None]),
        ("round", [([1.5], F64), ([400], I32)], [1.5]),
        # case 6: powers and exponentials
        ("exp", [([0, None], I16)], [1.0, None]),
        ("pow", [([2], I32), ([10], I64)], [1024.0]),
        ("power", [([10], I64), ([1.0], F32)], [10.0]),
        ("sqrt", [([100.0], F64)], [10.0]),
        ("pow", [([True], B), ([2], I32)], [1.0]),
        ("sqrt", [([-1.0], F64)], [NAN]),
        ("pow", [([10], I32), ([1000], I32)], [INF]),
        ("exp", [([1.0], F32)], [2.7182817]),
        # NULL-typed argument behaves as a double
        ("sqrt", [([None], NULL)], [None]),
        ("pow", [([None], NULL), ([2.0], F64)], [None]),
    ],
)
def test_values(name: str, args: list[tuple[list[Any], SQLType]], expected: list[Any]) -> None:
    out = run(name, *(col(v, t) for v, t in args))
    # Doubles must match to a few ULP (a float32 computation would not); floats to float precision.
    assert close(out.to_pylist(), expected, 1e-6 if out.type is F32 else 1e-13), out.to_pylist()


def test_float_kernels_compute_in_float() -> None:
    out = run("sqrt", col([2.0], F32))
    assert out.values.dtype == np.float32
    assert out.values[0] == np.sqrt(np.float32(2.0))


@pytest.mark.parametrize(
    ("values", "t", "expected"),
    [
        # test_udf_function case 4 (one column per type) and case 5 (90 at every width)
        (
            [0, 1, 2, 3, 4, 5, 90],
            I32,
            [
                -470600885322160961,
                7601041269982238804,
                6706320920252439311,
                2681491882390849628,
                -601936896161254990,
                -2259736796076314196,
                -3754664774081171349,
            ],
        ),
        (
            [1, 2, 3, 4, None, 5],
            I64,
            [
                5925585971146611297,
                3353244675891348105,
                7262150054277104024,
                3255232038643208583,
                None,
                3312746975386716960,
            ],
        ),
        ([55], I16, [-8280049305495806603]),
        (["g1", None, "g2"], STR, [3208330103598489124, None, 386896907218095555]),
        ([2.0, None, 4.0, 1.0], F64, [1446482599179445476, None, 4223774888982935081, -6169223503904558093]),
        ([1.0, 4.4, 4.0], F32, [322450456541637418, -2386882153598325791, -2508610241776323253]),
        ([1590115420000, 1590115421000], TS, [4361965398422314040, -8427233238384893499]),
        (["2020-07-15"], DATE, [-8740639806462273876]),
        ([True, False], B, [5161771770385946686, -4728684028706075820]),
        ([90], I16, [-9205917472348398353]),
        ([90.0], F64, [42123122574000053]),
        ([90.0], F32, [3717229009355585768]),
        # strings hashed as UTF-8 (feature_signature_query case 20)
        (["3", "22"], STR, [-6455268178307048695, 5665509553878826940]),
        ([None, None], STR, [None, None]),
        ([None], NULL, [None]),
        ([], I32, []),
    ],
)
def test_hash64(values: list[Any], t: SQLType, expected: list[Any]) -> None:
    assert run("hash64", col(values, t)).to_pylist() == expected
    assert run("farm_fingerprint", col(values, t)).to_pylist() == expected


def test_hash64_distinguishes_signed_zero() -> None:
    # 0.0 and -0.0 have different bytes, so different fingerprints, even though they compare equal.
    out = run("hash64", col([0.0, -0.0, 0.0], F64)).to_pylist()
    assert out[0] == out[2] != out[1]


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("abs", [I16]),
        ("floor", [F64]),
        ("round", [F32, I32]),
        ("log", [F64, F64]),
        ("pow", [F32, F32]),
        ("atan", [F64]),
        ("hash64", [STR]),
    ],
)
def test_empty_columns(name: str, types: list[SQLType]) -> None:
    assert len(run(name, *(col([], t) for t in types))) == 0
