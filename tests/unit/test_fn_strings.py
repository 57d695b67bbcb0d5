"""String functions: OpenMLDB's results for concat, substr, LIKE, regexp_like and friends, NULL rules included."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from conformance_cases import case_file, requires_cases

from openfeat_core.column import Column
from openfeat_core.functions.registry import REGISTRY, EvalContext, FunctionTypeError
from openfeat_core.functions.strings import format_cpp_to_string, format_ostream, like_regex
from openfeat_core.types import SQLType as T

SHANGHAI = EvalContext("Asia/Shanghai")

Arg = tuple[T, list[Any]]


def call(name: str, *args: Arg, ctx: EvalContext = SHANGHAI) -> list[Any]:
    """Resolve and evaluate ``name`` over columns built from ``(type, values)`` pairs; returns Python values."""
    fn = REGISTRY.scalar(name)
    assert fn is not None, name
    columns = [Column.from_pylist(values, type_) for type_, values in args]
    result_type = fn.resolve([c.type for c in columns])
    out = fn.impl(columns, ctx)
    assert out.type is result_type
    assert len(out) == len(columns[0])
    return out.to_pylist()


def s(*values: Any) -> Arg:
    return (T.STRING, list(values))


def i32(*values: Any) -> Arg:
    return (T.INT32, list(values))


# --------------------------------------------------------------------------------------------------------------------
# concat / concat_ws: every type rendered like OpenMLDB's string(), NULL anywhere gives NULL
# (values from test_string.yaml cases 0-3 and udf_query.yaml cases 11-12)
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([s("aa", None), s("", "aa")], ["aa", None]),
        ([s("aa"), (T.INT16, [0])], ["aa0"]),
        ([s("aa"), i32(20)], ["aa20"]),
        ([s("aa"), (T.INT64, [30])], ["aa30"]),
        ([s("aa"), (T.FLOAT, [11.1])], ["aa11.1"]),
        ([s("aa"), (T.DOUBLE, [12.1])], ["aa12.1"]),
        ([(T.FLOAT, [30.0]), (T.DOUBLE, [30.0])], ["3030"]),
        ([s("aa"), (T.TIMESTAMP, [1590738989000])], ["aa2020-05-29 15:56:29"]),
        ([s("aa"), (T.DATE, ["2020-05-02"])], ["aa2020-05-02"]),
        ([(T.BOOL, [False]), (T.BOOL, [True])], ["falsetrue"]),
        ([s("aa", "b"), (T.BOOL, [None, True])], [None, "btrue"]),
        (
            [s("hello_world", "abcdefghig"), (T.INT64, [1234567890, 9876543210]), (T.INT16, [12, -12])],
            ["hello_world123456789012", "abcdefghig9876543210-12"],
        ),
        ([s("aa"), s("bbb"), s("cc")], ["aabbbcc"]),
        ([(T.DOUBLE, [1e30, float("inf"), float("nan"), -0.0])], ["1e+30", "inf", "nan", "-0"]),
        ([s("x"), (T.NULL, [None])], [None]),
        ([s()], []),
    ],
)
def test_concat(args: list[Arg], expected: list[Any]) -> None:
    assert call("concat", *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([s("-"), s("bbb")], ["bbb"]),
        ([s("-"), s("aa"), s("bbb"), s("cc")], ["aa-bbb-cc"]),
        ([(T.INT16, [30]), s("aa"), s("")], ["aa30"]),
        ([(T.INT16, [30]), s("aa"), (T.INT16, [0])], ["aa300"]),
        ([(T.TIMESTAMP, [1590738989000]), s("aa"), (T.FLOAT, [11.1])], ["aa2020-05-29 15:56:2911.1"]),
        ([(T.BOOL, [False]), s("aa"), (T.DATE, ["2020-05-02"])], ["aafalse2020-05-02"]),
        ([s("#", "#"), s("hello_world", "x"), (T.INT64, [1234567890, None])], ["hello_world#1234567890", None]),
        ([s(None), s("a")], [None]),
        ([s(",", None)], ["", None]),
    ],
)
def test_concat_ws(args: list[Arg], expected: list[Any]) -> None:
    assert call("concat_ws", *args) == expected


# --------------------------------------------------------------------------------------------------------------------
# substr / substring (test_string.yaml case 7, udf_query.yaml 9-10, test_udf_function.yaml 0-1)
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["substr", "substring"])
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([s("123456789", None), i32(3, 3)], ["3456789", None]),
        ([s("123456789"), i32(3), i32(2)], ["34"]),
        ([s("123456789"), i32(3), i32(20)], ["3456789"]),
        ([s("123456789"), i32(30), i32(2)], [""]),
        ([s("123456789"), i32(30)], [""]),
        ([s("hello_world", "abcdefghig"), i32(3, 3), i32(6, 6)], ["llo_wo", "cdefgh"]),
        ([s("hello world"), i32(-5)], ["world"]),
        ([s("hello world"), i32(-5), i32(2)], ["wo"]),
        ([s("hello"), i32(-5)], ["hello"]),
        ([s("hello"), i32(-6)], [""]),
        ([s("hello"), i32(0)], [""]),
        ([s("hello"), i32(1), i32(0)], [""]),
        ([s("hello"), i32(1), i32(-1)], [""]),
        ([s("hello world"), i32(1), i32(None)], [None]),
        ([s("hello world"), (T.INT64, [1]), (T.INT16, [5])], ["hello"]),
        ([s("héllo"), i32(1), i32(3)], ["hé"]),  # byte positions: é is two bytes
        ([s(""), i32(1)], [""]),
    ],
)
def test_substring(name: str, args: list[Arg], expected: list[Any]) -> None:
    assert call(name, *args) == expected


# --------------------------------------------------------------------------------------------------------------------
# upper / lower / reverse / char_length / replace / strcmp
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("upper", [s("Sql", "", None, "äb")], ["SQL", "", None, "äB"]),
        ("ucase", [s("mIx3d")], ["MIX3D"]),
        ("lower", [s("SQl", None)], ["sql", None]),
        ("lcase", [s("ÄB")], ["Äb"]),
        ("reverse", [s("abc", "", None)], ["cba", "", None]),
        ("char_length", [s("Spark SQL ", "", None, "é")], [10, 0, None, 2]),
        ("character_length", [s("abc")], [3]),
        (
            "strcmp",
            [s("text", "text", "text2", None, "text", None), s("text2", "text", "text", "text", None, None)],
            [-1, 0, 1, None, None, None],
        ),
        ("strcmp", [s("a", "b", "B"), s("b", "B", "a")], [-1, 1, -1]),  # byte order: upper case sorts first
    ],
)
def test_simple_string_functions(name: str, args: list[Arg], expected: list[Any]) -> None:
    assert call(name, *args) == expected


# udf_query.yaml case udf_replace
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([s("ABCabcabc", "ABC", None), s("abc", "abc", "abc"), s("ABC", "ABC", "ABC")], ["ABCABCABC", "ABC", None]),
        ([s("ABCabcabc", "ABC"), s("abca", "abca"), s("A", "A")], ["ABCAbc", "ABC"]),
        ([s("ABCabcabc", "ABC"), s("abc", "abc"), s("", "")], ["ABC", "ABC"]),
        ([s("ABCabcabc"), s("abc"), s(None)], [None]),
        ([s("ABCabcabc"), s(None), s("abc")], [None]),
        ([s("ABCabcabc", "ABC", None), s("abc", "abc", "abc")], ["ABC", "ABC", None]),
        ([s("abc"), s(""), s("X")], ["abc"]),  # an empty search string replaces nothing (absl::StrReplaceAll)
    ],
)
def test_replace(args: list[Arg], expected: list[Any]) -> None:
    assert call("replace", *args) == expected


# --------------------------------------------------------------------------------------------------------------------
# LIKE / ILIKE
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        # udf_query.yaml like_udf_1 .. like_udf_5
        ("like_match", [s("Mike"), s("M%"), s("\\")], [True]),
        ("like_match", [s("Mike"), s("m%"), s("\\")], [False]),
        ("ilike_match", [s("Mike"), s("m%"), s("\\")], [True]),
        ("like_match", [s("Mike"), s("M_ke")], [True]),
        ("ilike_match", [s("Mike"), s("m_ke")], [True]),
        ("like_match", [s("Mike"), s("m_ke"), s("")], [False]),
        ("ilike_match", [s("Mike"), s("m_ke"), s("")], [True]),
        ("like_match", [s("Mike", None), s("m_ke", "m_ke"), s("\\", "\\")], [False, None]),
        ("ilike_match", [s("Mike", None), s("m_ke", "m_ke"), s("\\", "\\")], [True, None]),
        ("like_match", [s("M_ke"), s("m&_ke"), s("&")], [False]),
        ("ilike_match", [s("M_ke"), s("m&_ke"), s("&")], [True]),
        # like_udf_const_null_string: default escape, explicit escape, disabled escape, NULL escape/pattern/target
        ("like_match", [s("Mike"), s("M_\\ke")], [True]),
        ("like_match", [s("Mike"), s("M_\\ke"), s("\\")], [True]),
        ("like_match", [s("Mike"), s("M_\\ke"), s("")], [False]),
        ("like_match", [s("Mike"), s("M_\\ke"), s(None)], [None]),
        ("like_match", [s("Mike"), s(None), s("%")], [None]),
        ("like_match", [s(None), s("m_k"), s("%")], [None]),
        ("ilike_match", [s("Mike"), s("m_\\ke"), s("")], [False]),
        # simple_query.yaml like_predicate_*: exact match, % and _ together, escapes, pattern from a column
        ("like_match", [s("Mike", "Mike", "Mike", "Mike"), s("Mik", "Mike", "M%_e", "%")], [False, True, True, True]),
        (
            "like_match",
            [s("Mike", "Mi_e", "Mi&_e"), s("Mi_e", "Mi_e", "Mi_e"), s("\\", "\\", "\\")],
            [True, True, False],
        ),
        ("like_match", [s("A_e", "A&ke", "A&_e"), s("A&_e", "A&_e", "A&_e"), s("", "", "")], [False, True, True]),
        ("like_match", [s("", "aa", ""), s("", "", "%")], [True, False, True]),
        # edge rules of like_internal: trailing escape never matches, multi-byte escape never matches, '_' is a byte
        ("like_match", [s("ab#", "aa"), s("a%#", "a%#"), s("#", "#")], [False, False]),
        ("like_match", [s("a"), s("a"), s("<>")], [False]),
        ("like_match", [s("a"), s("a"), s("é")], [False]),
        ("like_match", [s("é", "é"), s("__", "_")], [True, False]),
        ("ilike_match", [s("É"), s("é")], [False]),  # ASCII-only case folding
        ("like_match", [s("a\nb"), s("a_b")], [True]),
        ("like_match", [s("a.b", "axb"), s("a.b", "a.b")], [True, False]),  # regex metacharacters are literals
    ],
)
def test_like(name: str, args: list[Arg], expected: list[Any]) -> None:
    assert call(name, *args) == expected


def _sql_unescape(text: str) -> str:
    """Decode the backslash escapes of a ZetaSQL string literal."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _like_yaml_cases() -> list[Any]:
    """Every successful case of test_like.yaml as (id, variant, [(c1, expected)], pattern, escape)."""
    path = case_file("function/expression/test_like.yaml")
    if path is None:
        return [pytest.param(None, None, None, None, marks=requires_cases, id="conformance-cases-absent")]
    doc = yaml.safe_load(path.read_text())
    out = []
    sql_re = re.compile(r"c1 d\[0\] (['\"])(.*?)\1(?:\s+escape\s+(['\"])(.*?)\3)?\s+as v1", re.IGNORECASE)
    for case in doc["cases"]:
        match = sql_re.search(case["sql"])
        if case["expect"].get("success") is False or match is None:
            continue
        pattern = _sql_unescape(match.group(2))
        escape = "\\" if match.group(3) is None else _sql_unescape(match.group(4))
        columns = [c.split()[0] for c in case["expect"]["columns"]]
        input_rows = {row[0]: row[1] for row in case["inputs"][0]["rows"]}
        for variant_index, variant in enumerate(case["dataProvider"][0]):
            rows = case["expect"].get("rows")
            rows = case.get("expectProvider", {}).get(variant_index, {}).get("rows", rows)
            checks = []
            for row in rows:
                record = dict(zip(columns, row, strict=True))
                text = record.get("c1", input_rows[record["id"]])
                checks.append((text, record["v1"]))
            out.append(pytest.param(variant, checks, pattern, escape, id=f"{case['id']}-{variant}"))
    return out


@pytest.mark.parametrize(("variant", "checks", "pattern", "escape"), _like_yaml_cases())
def test_like_conformance_cases(variant: str, checks: list[tuple[Any, Any]], pattern: str, escape: str) -> None:
    name = "ilike_match" if "ilike" in variant else "like_match"
    texts = [text for text, _ in checks]
    n = len(texts)
    got = call(name, s(*texts), s(*[pattern] * n), s(*[escape] * n))
    if variant.startswith("not"):
        got = [None if g is None else not g for g in got]
    assert got == [want for _, want in checks]


def test_like_regex_is_cached_and_rejects_bad_escapes() -> None:
    assert like_regex("a%", "\\", False) is like_regex("a%", "\\", False)
    assert like_regex("a%", "ab", False) is None
    assert like_regex("a\\", "\\", False) is None


# --------------------------------------------------------------------------------------------------------------------
# regexp_like (test_udf_function.yaml case 3, test_predicate.yaml rlike_predicate_1)
# --------------------------------------------------------------------------------------------------------------------
EMAILS = ["contact@openmldb.ai", "contact@opfnmldb.ai", "contact@dropmldb.ai", None]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([s(*EMAILS), s(*["[A-Za-z0-9+_.-]+@openmldb[A-Za-z0-9+_.-]+"] * 4)], [True, False, False, None]),
        ([s("John", "Mary", "mike", "M"), s(*["m[A-za-z]+"] * 4)], [False, False, True, False]),
        ([s("John", "Mary", "mike"), s(*["M.ry"] * 3)], [False, True, False]),
        ([s("Mike"), s("Mi.k")], [False]),  # a full match, not a search
        ([s("Mike"), s("Mi.e")], [True]),
        ([s("Mi\nke"), s("mi.ke"), s("i")], [False]),
        ([s("Mi\nke"), s("mi.ke"), s("si")], [True]),
        ([s("Mi\nke"), s("mi.ke"), s("sic")], [False]),  # the last of i/c wins
        ([s("Mike"), s("mike"), s("xe")], [False]),  # unknown and 'e' flags are ignored
        ([s("a\nb"), s("a$\n^b"), s("m")], [True]),
        ([s("abc"), s("a(b")], [None]),  # invalid pattern
        ([s("abc"), s("abc"), s(None)], [None]),
        ([s(None), s("abc")], [None]),
    ],
)
def test_regexp_like(args: list[Arg], expected: list[Any]) -> None:
    assert call("regexp_like", *args) == expected


# --------------------------------------------------------------------------------------------------------------------
# Type checking: the failures of test_string.yaml (cases 5, 6, 8) and test_like.yaml (cases 17-26)
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "arg_types"),
    [
        ("strcmp", [T.INT32, T.STRING]),
        ("strcmp", [T.STRING, T.DATE]),
        ("strcmp", [T.STRING]),
        ("substr", [T.INT16, T.INT32]),
        ("substring", [T.TIMESTAMP, T.INT32]),
        ("substr", [T.STRING, T.DOUBLE]),
        ("substr", [T.STRING]),
        ("upper", [T.INT32]),
        ("char_length", [T.BOOL]),
        ("replace", [T.STRING]),
        ("replace", [T.STRING, T.INT32]),
        ("reverse", [T.STRING, T.STRING]),
        ("like_match", [T.INT32, T.STRING]),
        ("like_match", [T.STRING, T.NULL]),
        ("like_match", [T.STRING, T.STRING, T.NULL]),
        ("ilike_match", [T.DATE, T.STRING]),
        ("ilike_match", [T.STRING]),
        ("regexp_like", [T.STRING, T.INT64]),
        ("concat", []),
        ("concat_ws", []),
    ],
)
def test_rejected_argument_types(name: str, arg_types: list[T]) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    with pytest.raises(FunctionTypeError, match=fn.name.split("_")[0]):  # aliases report the canonical name
        fn.resolve(arg_types)


@pytest.mark.parametrize(
    ("name", "arg_types", "result"),
    [
        ("concat", [T.DATE, T.BOOL, T.NULL], T.STRING),
        ("concat_ws", [T.INT16], T.STRING),
        ("substr", [T.STRING, T.INT64, T.INT16], T.STRING),
        ("char_length", [T.STRING], T.INT32),
        ("strcmp", [T.STRING, T.NULL], T.INT32),
        ("like_match", [T.STRING, T.STRING], T.BOOL),
        ("ilike_match", [T.STRING, T.STRING, T.STRING], T.BOOL),
        ("regexp_like", [T.STRING, T.STRING, T.STRING], T.BOOL),
    ],
)
def test_accepted_argument_types(name: str, arg_types: list[T], result: T) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    assert fn.resolve(arg_types) is result


# --------------------------------------------------------------------------------------------------------------------
# Number formatting helpers
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_", "values", "ostream", "to_string"),
    [
        (
            T.DOUBLE,
            [1.5, 0.0, 1e30, 1234567.0],
            ["1.5", "0", "1e+30", "1.23457e+06"],
            ["1.500000", "0.000000", "1000000000000000019884624838656.000000", "1234567.000000"],
        ),
        (
            T.DOUBLE,
            [float("inf"), float("-inf"), float("nan"), -float("nan")],
            ["inf", "-inf", "nan", "-nan"],
            ["inf", "-inf", "nan", "-nan"],
        ),
        (T.FLOAT, [1.1, None], ["1.1", ""], ["1.100000", ""]),
        (T.INT64, [-3, None, 9_000_000_000], ["-3", "", "9000000000"], ["-3", "", "9000000000"]),
        (T.BOOL, [True, False], ["1", "0"], ["1", "0"]),
        (T.INT16, [], [], []),
    ],
)
def test_number_formatting(type_: T, values: list[Any], ostream: list[str], to_string: list[str]) -> None:
    col = Column.from_pylist(values, type_)
    assert format_ostream(col).tolist() == ostream
    assert format_cpp_to_string(col).tolist() == to_string
