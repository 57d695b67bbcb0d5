"""CAST semantics, the type-named call forms and the implicit conversion rules.

Expected values come from ``cases/function/expression/test_type.yaml``, ``cases/query/const_query.yaml`` and
``test_condition.yaml`` unless a comment says otherwise. Timestamp <-> calendar conversions are checked in both UTC
(OpenFeat's default) and Asia/Shanghai (OpenMLDB's fixed zone).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

import openfeat_core.functions.cast  # noqa: F401  (registers the functions under test)
from openfeat_core.column import Column
from openfeat_core.functions.cast import (
    can_cast,
    cast_column,
    compatible_type,
    is_safe_cast,
    parse_datetime,
    parse_float,
    parse_int,
    promote_numbers,
)
from openfeat_core.functions.registry import REGISTRY, EvalContext, FunctionTypeError
from openfeat_core.types import SQLType

B, I16, I32, I64 = SQLType.BOOL, SQLType.INT16, SQLType.INT32, SQLType.INT64
F32, F64, STR = SQLType.FLOAT, SQLType.DOUBLE, SQLType.STRING
DATE, TS, NULL = SQLType.DATE, SQLType.TIMESTAMP, SQLType.NULL
SH = "Asia/Shanghai"
UTC = "UTC"
TS_2020 = 1590115420000  # 2020-05-22 10:43:40 in Shanghai, 02:43:40 in UTC


def col(values: list[Any], t: SQLType) -> Column:
    if t is NULL:
        return Column.nulls(NULL, len(values))
    return Column.from_pylist(values, t)


def cast(values: list[Any], src: SQLType, dst: SQLType, tz: str = UTC) -> list[Any]:
    out = cast_column(col(values, src), dst, EvalContext(tz))
    assert out.type is dst
    assert len(out) == len(values)
    assert not np.any(out.values[~out.valid] != Column.nulls(dst, 1).values[0])
    return out.to_pylist()


def close(actual: list[Any], expected: list[Any]) -> bool:
    for a, e in zip(actual, expected, strict=True):
        if isinstance(e, float) and a is not None:
            if not (math.isnan(e) and math.isnan(a)) and not math.isclose(a, e, rel_tol=1e-6):
                return False
        elif a != e:
            return False
    return True


@pytest.mark.parametrize(
    ("src", "dst", "expected"),
    [
        (I32, DATE, False),  # test_type cases 4, 26-31
        (I64, DATE, False),
        (F64, DATE, False),
        (B, DATE, False),
        (STR, DATE, True),
        (TS, DATE, True),
        (DATE, I32, True),  # allowed, every value becomes NULL (test_type case 32)
        (DATE, B, True),
        (DATE, TS, True),
        (STR, TS, True),
        (F32, TS, True),
        (B, TS, True),
        (TS, STR, True),
        (NULL, DATE, True),
        (I32, NULL, False),
        (STR, STR, True),
    ],
)
def test_can_cast(src: SQLType, dst: SQLType, expected: bool) -> None:
    assert can_cast(src, dst) is expected


@pytest.mark.parametrize(
    ("src", "dst", "values", "expected"),
    [
        # test_type case 0: each numeric type (30) and bool (false) to every type.
        (I16, B, [30, 0, None], [True, False, None]),
        (F64, B, [30.0, 0.0, -0.0, float("nan")], [True, False, False, True]),
        (TS, B, [TS_2020, 0], [True, False]),
        (B, I16, [False, True], [0, 1]),
        (F32, I32, [30.0, 1.9, -1.9, None], [30, 1, -1, None]),
        (F64, I64, [1e300, float("nan"), -1e300], [-(2**63), -(2**63), -(2**63)]),  # x86 cvttsd2si
        (F64, I32, [3e9, 2147483647.9], [-(2**31), 2147483647]),
        (F64, I16, [40000.0, -1.0], [-25536, -1]),  # through int32, then wrapped
        (I64, I16, [65537, 32768], [1, -32768]),
        (TS, I32, [TS_2020], [977520480]),  # test_type case 14: wraps
        (TS, I16, [TS_2020], [-14496]),  # test_type case 15
        (TS, I64, [TS_2020], [TS_2020]),
        (TS, F32, [TS_2020], [1590115420000.0]),
        (I64, F64, [2**53 + 1], [float(2**53)]),
        (F64, F32, [1.1], [1.100000023841858]),
        (B, F64, [True, False], [1.0, 0.0]),
        # numbers -> timestamp: epoch ms, negative gives NULL (test_type case 21)
        (I32, TS, [30, -1, None], [30, None, None]),
        (F32, TS, [1.0, -1.0], [1, None]),
        (B, TS, [True, False], [1, 0]),
        (I64, TS, [TS_2020], [TS_2020]),
        # date -> number or bool: NULL (test_type case 32)
        (DATE, I16, ["2020-10-12"], [None]),
        (DATE, F64, ["2020-10-12"], [None]),
        (DATE, B, ["2020-10-12"], [None]),
        # NULL literal to anything (test_type cases 11/12)
        (NULL, I32, [None], [None]),
        (NULL, STR, [None], [None]),
        (NULL, DATE, [None], [None]),
    ],
)
def test_cast_values(src: SQLType, dst: SQLType, values: list[Any], expected: list[Any]) -> None:
    assert close(cast(values, src, dst), expected)


@pytest.mark.parametrize(
    ("src", "values", "expected"),
    [
        (I16, [30, -1, None], ["30", "-1", None]),
        (I64, [-(2**63)], ["-9223372036854775808"]),
        (B, [True, False], ["true", "false"]),
        # C++ ostream: %g with 6 significant digits (test_type case 24: string(1.1f) is "1.1")
        (F32, [1.1, 1.0, -1.0, 30.0], ["1.1", "1", "-1", "30"]),
        (
            F64,
            [1590115420000.0, 1e-05, 123456.0, 1234567.0, 0.1 + 0.2],
            ["1.59012e+12", "1e-05", "123456", "1.23457e+06", "0.3"],
        ),
        (F64, [float("inf"), float("-inf"), float("nan"), -float("nan")], ["inf", "-inf", "nan", "-nan"]),
        (DATE, ["2020-05-22", "1900-01-01"], ["2020-05-22", "1900-01-01"]),
        (STR, ["x", None], ["x", None]),
    ],
)
def test_cast_to_string(src: SQLType, values: list[Any], expected: list[Any]) -> None:
    assert cast(values, src, STR) == expected


@pytest.mark.parametrize(
    ("tz", "values", "expected"),
    [
        (SH, [TS_2020, 1590738989000, 0], ["2020-05-22 10:43:40", "2020-05-29 15:56:29", "1970-01-01 08:00:00"]),
        (UTC, [TS_2020, 1590738989999, 0], ["2020-05-22 02:43:40", "2020-05-29 07:56:29", "1970-01-01 00:00:00"]),
        # C truncates (ts + offset) / 1000 toward zero: a pre-1970 millisecond still prints the later second.
        (UTC, [-1, -1000, -1001], ["1970-01-01 00:00:00", "1969-12-31 23:59:59", "1969-12-31 23:59:59"]),
        (SH, [None], [None]),
    ],
)
def test_timestamp_to_string(tz: str, values: list[Any], expected: list[Any]) -> None:
    assert cast(values, TS, STR, tz) == expected


@pytest.mark.parametrize(
    ("tz", "values", "expected"),
    [
        (
            SH,
            [TS_2020, 1590076799999, 1590076800000],
            [dt.date(2020, 5, 22), dt.date(2020, 5, 21), dt.date(2020, 5, 22)],
        ),
        (
            UTC,
            [TS_2020, 1590105599999, 1590105600000],
            [dt.date(2020, 5, 22), dt.date(2020, 5, 21), dt.date(2020, 5, 22)],
        ),
        (UTC, [-1, None], [dt.date(1970, 1, 1), None]),
    ],
)
def test_timestamp_to_date(tz: str, values: list[Any], expected: list[Any]) -> None:
    assert cast(values, TS, DATE, tz) == expected


@pytest.mark.parametrize(
    ("tz", "values", "expected"),
    [
        (SH, ["2020-05-22", None], [1590076800000, None]),  # test_type case 21, midnight in Shanghai
        (UTC, ["2020-05-22"], [1590105600000]),
        # OpenMLDB's own zone is a fixed +08:00; Asia/Shanghai follows the tz database (LMT +08:05:43 in 1900).
        ("Etc/GMT-8", ["1900-01-01", "1899-12-31"], [-2208988800000 - 8 * 3_600_000, None]),
        (SH, ["1900-01-01"], [-2208988800000 - (8 * 3600 + 5 * 60 + 43) * 1000]),
        (UTC, ["1899-12-31"], [None]),  # OpenMLDB dates start in 1900
    ],
)
def test_date_to_timestamp(tz: str, values: list[Any], expected: list[Any]) -> None:
    assert cast(values, DATE, TS, tz) == expected


@pytest.mark.parametrize(
    ("dst", "values", "expected"),
    [
        # test_type case 23
        (
            B,
            ["t", "true", "f", "false", "1", "0", "y", "n", "yes", "no", "", "abc", "TRUE", " t", None],
            [True, True, False, False, True, False, True, False, True, False, None, None, True, None, None],
        ),
        # test_type cases 14-16: integers; out of range or malformed gives NULL
        (
            I32,
            ["1", "-1", "", "2020-05-22 10:43:40", "+7", " 12 ", "0x1F", "1.0", "1e3", "ff"],
            [1, -1, None, None, 7, 12, 31, None, None, None],
        ),
        (I16, ["32767", "32768", "-32768", "-32769", "010"], [32767, None, -32768, None, 10]),
        (
            I64,
            ["1590115420000", "9223372036854775807", "9223372036854775808", "-0X10", "0x", "1_000"],
            [1590115420000, 2**63 - 1, None, -16, None, None],
        ),
        # floats: decimal, exponent, inf/nan; anything else NULL
        (
            F64,
            ["30.0", "-1", "1e3", ".5", "5.", "inf", "-Infinity", "nan", "", "1.0f", "0x10", " 2.5 ", "1,5"],
            [30.0, -1.0, 1000.0, 0.5, 5.0, math.inf, -math.inf, math.nan, None, None, None, 2.5, None],
        ),
        (F32, ["1.1", "1e40"], [1.100000023841858, math.inf]),
        # dates: yyyy-mm-dd, yyyymmdd, yyyy-mm-dd hh:mm:ss; year >= 1900 (test_type case 20, const_query case 10)
        (
            DATE,
            [
                "2020-05-22 10:43:40",
                "2020-05-22",
                "20200522",
                "2020/05/02",
                "1",
                "abc",
                "2020-02-30",
                "1899-12-31",
                "2020-05-22T10:43:40",
            ],
            [
                dt.date(2020, 5, 22),
                dt.date(2020, 5, 22),
                dt.date(2020, 5, 22),
                dt.date(2020, 5, 2),
                None,
                None,
                None,
                None,
                None,
            ],
        ),
    ],
)
def test_parse_strings(dst: SQLType, values: list[Any], expected: list[Any]) -> None:
    assert close(cast(values, STR, dst), expected)


@pytest.mark.parametrize(
    ("tz", "values", "expected"),
    [
        # test_type cases 13/21 and the docs: wall-clock time in the evaluation zone
        (
            SH,
            ["2020-05-22 10:43:40", "2020-05-22", "20200522", "1", "", "abc", None],
            [TS_2020, 1590076800000, 1590076800000, None, None, None, None],
        ),
        (UTC, ["2020-05-22 10:43:40", "2020-05-22"], [TS_2020 + 8 * 3_600_000, 1590105600000]),
        (UTC, ["2020-05-22 24:00:00", "2020-05-22 10:60:00", "2016-12-31 23:59:60"], [None, None, 1483228800000]),
        (UTC, ["1899-12-31 23:59:59", "1900-01-01 00:00:00"], [None, -2208988800000]),
    ],
)
def test_parse_timestamps(tz: str, values: list[Any], expected: list[Any]) -> None:
    assert cast(values, STR, TS, tz) == expected


def test_parse_is_per_distinct_value() -> None:
    # Many repeats of few strings: the result must map back to every row.
    values = ["1", "x", None, "2"] * 1000
    assert cast(values, STR, I64) == [1, None, None, 2] * 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2020-05-22 10:43:40", (18404, 38620)), ("2020-05-22", (18404, 0)), ("2020-5-22", None), ("", None)],
)
def test_parse_datetime(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    ("text", "dst", "expected"), [("-0x8000", I16, -32768), ("0x8000", I16, None), ("12a", I64, None)]
)
def test_parse_int(text: str, dst: SQLType, expected: int | None) -> None:
    assert parse_int(text, dst) == expected


@pytest.mark.parametrize(("text", "expected"), [("1.5e-3", 0.0015), ("e3", None), ("-", None), ("NaN", "nan")])
def test_parse_float(text: str, expected: float | str | None) -> None:
    got = parse_float(text)
    assert (got is not None and math.isnan(got)) if expected == "nan" else got == expected


# ---------------------------------------------------------------------------------------------------------------------
# Type-named call forms
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "arg", "result"),
    [
        ("bool", I32, B),
        ("smallint", F64, I16),
        ("int16", STR, I16),
        ("int", TS, I32),
        ("int32", DATE, I32),
        ("bigint", B, I64),
        ("int64", STR, I64),
        ("float", I64, F32),
        ("double", STR, F64),
        ("string", TS, STR),
        ("varchar", I32, STR),
        ("date", STR, DATE),
        ("date", TS, DATE),
        ("date", NULL, DATE),
        ("timestamp", DATE, TS),
        ("timestamp", STR, TS),
        ("timestamp", I64, TS),
        ("timestamp", NULL, TS),
    ],
)
def test_call_form_types(name: str, arg: SQLType, result: SQLType) -> None:
    assert REGISTRY.scalars[name].resolve([arg]) is result


@pytest.mark.parametrize(
    ("name", "types"),
    [("date", [I32]), ("date", [I64]), ("date", [F64]), ("date", [B]), ("int", []), ("int", [I32, I32])],
)
def test_call_form_errors(name: str, types: list[SQLType]) -> None:
    with pytest.raises(FunctionTypeError, match=name):
        REGISTRY.scalars[name].resolve(types)


def test_cast_column_rejects_uncastable() -> None:
    with pytest.raises(FunctionTypeError, match="cannot cast int to date"):
        cast_column(col([1], I32), DATE, EvalContext())


@pytest.mark.parametrize(
    ("name", "values", "t", "tz", "expected"),
    [
        ("int", [1, -1, None], I16, UTC, [1, -1, None]),
        ("string", [TS_2020], TS, SH, ["2020-05-22 10:43:40"]),
        ("date", [TS_2020], TS, SH, [dt.date(2020, 5, 22)]),
        ("timestamp", ["2020-05-22 10:43:40"], STR, SH, [TS_2020]),
        ("bigint", [TS_2020], TS, UTC, [TS_2020]),
        ("double", ["1.5"], STR, UTC, [1.5]),
        ("bool", [None], NULL, UTC, [None]),
        ("varchar", [], I32, UTC, []),
        ("timestamp", [], STR, SH, []),
    ],
)
def test_call_form_values(name: str, values: list[Any], t: SQLType, tz: str, expected: list[Any]) -> None:
    fn = REGISTRY.scalars[name]
    out = fn.impl([col(values, t)], EvalContext(tz))
    assert out.type is fn.resolve([t])
    assert out.to_pylist() == expected


def test_timestamp_string_round_trip_both_zones() -> None:
    for tz in (UTC, SH):
        texts = cast([TS_2020, 0, 1483228799000], TS, STR, tz)
        assert cast(texts, STR, TS, tz) == [TS_2020, 0, 1483228799000]


# ---------------------------------------------------------------------------------------------------------------------
# Implicit conversion rules
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("src", "dst", "expected"),
    [
        (B, I16, True),
        (I16, I32, True),
        (I32, I16, False),
        (I64, F64, False),
        (F32, F64, True),
        (I32, TS, True),
        (TS, I64, False),
        (NULL, DATE, True),
        (DATE, TS, False),
    ],
)
def test_is_safe_cast(src: SQLType, dst: SQLType, expected: bool) -> None:
    assert is_safe_cast(src, dst) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (I16, I32, I32),
        (I64, F32, F32),
        (F32, F64, F64),
        (B, I16, I16),
        (B, B, B),
        (I32, F64, F64),
        (STR, I32, None),
        (TS, I64, None),
    ],
)
def test_promote_numbers(a: SQLType, b: SQLType, expected: SQLType | None) -> None:
    assert promote_numbers(a, b) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (I32, STR, STR),  # ifnull(int, "abc")
        (I64, I32, I64),
        (I64, F64, F64),
        (I64, F32, F64),  # nvl2(NULL, bigint, float) is double
        (F32, I32, F32),  # case when ... then float else 100
        (F64, I32, F64),
        (NULL, I32, I32),
        (I32, NULL, I32),
        (NULL, NULL, NULL),
        (I32, TS, TS),
        (TS, DATE, STR),
    ],
)
def test_compatible_type(a: SQLType, b: SQLType, expected: SQLType) -> None:
    assert compatible_type(a, b) is expected
