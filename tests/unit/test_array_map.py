"""ARRAY and MAP values: their types, the functions over them (OpenMLDB's semantics), CAST, INSERT and the online store.

The OpenMLDB cases (query/udf_query.yaml, test_feature_zero_function.yaml ...) hold the end-to-end behaviour; these
tests pin the rules those cases do not reach: NULL handling, indexing from the end, duplicate map keys, errors.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import openfeat_core
from openfeat_core.errors import DataError, OpenFeatError
from openfeat_core.online.statements import insert
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.nodes import from_jsonable, to_jsonable
from openfeat_core.sql.dialect import parse_sql
from openfeat_core.sql.statements import InsertValues
from openfeat_core.types import SQLType, array_type, map_type, parse_schema, parse_type_name, sql_type_of_arrow

#: One row: s = 'a:1,b:2,,c', n = NULL (a string), i = 2.
ONE_ROW = pa.table(
    {
        "s": pa.array(["a:1,b:2,,c"]),
        "n": pa.array([None], pa.string()),
        "i": pa.array([2], pa.int32()),
    }
)


def value(expression: str) -> Any:
    """``expression`` computed over ONE_ROW, as Python."""
    result = openfeat_core.compute(f"select {expression} as v from t", {"t": ONE_ROW}, timezone="Asia/Shanghai")
    return result.column("v").to_pylist()[0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("array<int>", array_type(SQLType.INT32)),
        ("ARRAY<BIGINT>", array_type(SQLType.INT64)),
        ("map<int, string>", map_type(SQLType.INT32, SQLType.STRING)),
        ("map<date,array<timestamp>>", map_type(SQLType.DATE, array_type(SQLType.TIMESTAMP))),
    ],
)
def test_type_names_give_one_member_per_type(name: str, expected: SQLType) -> None:
    t = parse_type_name(name)
    assert t is expected
    assert SQLType(t.value) is t  # plan JSON stores .value
    assert pickle.loads(pickle.dumps(t)) is t
    assert sql_type_of_arrow(t.arrow_type) is t
    assert t not in list(SQLType)  # parametric members are not declared ones


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("array<int, int>", "array takes one element type"),
        ("map<int>", "map a key and a value"),
        ("list<int>", "nested types are written array<T> or map<K, V>"),
        ("map<array<int>, int>", "a map key must be a base type"),
        ("array<nope>", "unknown type 'nope'"),
    ],
)
def test_bad_type_names_are_errors(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_type_name(name)


def test_a_schema_splits_columns_outside_angle_brackets() -> None:
    schema = parse_schema("k int, m map<int, string>, a array<bigint>")
    assert schema.names == ["k", "m", "a"]
    assert schema.field("m").type == pa.map_(pa.int32(), pa.string())


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # constructors, the elements' common type
        ("[1, 2, NULL]", [1, 2, None]),
        ("[1, 2.5]", [1.0, 2.5]),
        ("cast([1, 2] as array<string>)", ["1", "2"]),
        ("array<int64>[]", []),
        ("map(1, 'a', 2, NULL)", [(1, "a"), (2, None)]),
        ("cast(map(1, 2) as map<string, double>)", [("1", 2.0)]),
        ("cast(NULL as map<int, string>)", None),
        # map[key]: the first pair with the key; NULL when none, or the map or the key is NULL
        ("map(1, 'a', 1, 'b')[1]", "a"),
        ("map(1, 'a')[2]", None),
        ("map(1, 'a')[cast(NULL as int)]", None),
        ("cast(NULL as map<int, string>)[1]", None),
        ("map(int64(1), 'a')[1]", "a"),
        ("map_keys(map(2, 'a', 1, 'b', 2, 'c'))", [2, 1, 2]),
        # array_contains / isin: a NULL value finds a NULL element
        ("array_contains([1, NULL], cast(NULL as int))", True),
        ("array_contains([1, 2], cast(NULL as int))", False),
        ("array_contains([1, 2], int64(2))", True),
        ("array_contains(ARRAY<float>[0.1], 0.1)", True),
        ("array_contains([1, 2], 2.5)", True),  # 2.5 becomes an int first, as OpenMLDB binds both to one type
        ("map(cast(0.1 as float), 'a')[cast(0.1 as float)]", "a"),
        ("isin('b', ['a', 'b'])", True),
        ("array_contains(cast(NULL as array<int>), 1)", None),
        # size / at: from 0, negative from the end, NULL outside
        ("size(split(s, ','))", 4),
        ("size(map(1, 2, 1, 3))", 2),
        ("size(cast(NULL as array<int>))", None),
        ("at(split(s, ','), 0)", "a:1"),
        ("at(split(s, ','), -1)", "c"),
        ("at(split(s, ','), i)", ""),
        ("at(split(s, ','), 4)", None),
        ("at(split(s, ','), -5)", None),
        # split*: a NULL string is an empty list, a NULL delimiter NULL, an empty delimiter an empty list
        ("split(s, ',')", ["a:1", "b:2", "", "c"]),
        ("split(n, ',')", []),
        ("split(s, cast(NULL as string))", None),
        ("split(s, '')", []),
        ("split_by_key(s, ',', ':')", ["a", "b"]),
        ("split_by_value(s, ',', ':')", ["1", "2"]),
        ("split('a--b', '--')", ["a", "b"]),  # a longer delimiter is a regular expression, as in window_split
        ("split_by_key('a=1;;b=2', ';;', '=')", ["a", "b"]),
        # join skips NULL elements; array_join puts the delimiter before every non-NULL element after position 0
        ("`join`(split(s, ','), '|')", "a:1|b:2||c"),
        ("`join`(['x', NULL, 'y'], '-')", "x-y"),
        ("array_join([NULL, 'x', 'y'], '-')", "-x-y"),
        ("array_join(['x', 'y'], cast(NULL as string))", "xy"),
        # split_array: absl::StrSplit; empty parts are NULL elements, an empty delimiter cuts every character
        ("split_array('a,,b', ',')", ["a", None, "b"]),
        ("split_array('ab', '')", ["a", "b"]),
        ("split_array(n, ',')", None),
        # array_combine: elements cast to strings, NULLs skipped, a NULL delimiter is ""
        ("array_combine('-', [1, 2], ['x'])", ["1-x", "2-x"]),
        ("array_combine(cast(NULL as string), [1], ['x', NULL])", ["1x"]),
        ("array_combine('|', [date('2024-06-01')], [timestamp(1717171200000)])", ["2024-06-01|2024-06-01 00:00:00"]),
        ("array_combine('-', [1], cast(NULL as array<int>))", []),
        # list_except_by_key / _by_value: the key is the text before the first ':', the value up to a second one
        ("list_except_by_key(split('a:1,b:2,c', ','), 'a,c')", ["b:2"]),
        ("list_except_by_value(split('a:1,b:2:9,c', ','), '2')", ["a:1", "c"]),
        ("list_except_by_value(split('a:1,c', ','), '')", ["a:1"]),
        ("list_except_by_key(split(s, ','), n)", None),
    ],
)
def test_functions_follow_openmldb(expression: str, expected: Any) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("map(1)", "map() takes key/value pairs"),
        ("map(1, 'a', [1], 'c')", "map() keys must be bool, numbers, strings, dates or timestamps"),
        ("map(NULL, 1)", "the key and value types of a non-empty map() cannot be NULL"),
        ("[1, 2][0]", "an array's element i is at(array, i)"),
        ("map(1, 'a')['x']", "a string key does not convert without loss to map<int, string>'s key type"),
        ("map(1, 'a')[int64(1)]", "a bigint key does not convert without loss"),
        ("array_contains(1, 1)", "the first argument must be an array"),
        ("array_join([1, 2], ',')", "array_join() needs an array<string>"),
        ("array_combine('-')", "needs a delimiter and at least one array"),
        ("size(s)", "size() needs an array or a map"),
        ("at(split(s, ','), 'x')", "the index must be"),
        ("cast([1] as map<int, int>)", "cannot cast array<int> to map<int, int>"),
        ("cast([1] as string)", "cannot cast array<int> to string"),
        ("[1] = [1]", "arrays and maps are not arguments of eq()"),
        ("concat(split(s, ','), 'x')", "concat(array<string>, string): arrays and maps are not arguments of concat()"),
        ("not map(1, 1)", "arrays and maps are not arguments of not()"),
        ("if(true, [1], map(1, 1))", "no common type"),
    ],
)
def test_bad_calls_are_plan_errors(expression: str, message: str) -> None:
    with pytest.raises(OpenFeatError, match=re.escape(message)):
        value(expression)


def test_plans_with_array_and_map_types_round_trip_through_json() -> None:
    sql = "select cast(map(1, s) as map<bigint, string>)[1] as v, cast(split(s, ',') as array<string>) as a from t"
    plan = openfeat_core.plan_sql(sql, {"t": ONE_ROW})
    assert from_jsonable(json.loads(json.dumps(to_jsonable(plan)))) == plan


def test_at_over_a_window_is_still_lag() -> None:
    table = pa.table({"k": pa.array([1, 1], pa.int32()), "ts": pa.array([1, 2], pa.int64()), "v": ["x", "y"]})
    result = openfeat_core.compute(
        "select at(v, 1) over w as prev, at(split(v, ','), 0) as first from t "
        "window w as (partition by k order by ts rows between 2 preceding and current row)",
        {"t": table},
    )
    assert result.to_pylist() == [{"prev": None, "first": "x"}, {"prev": "x", "first": "y"}]


def test_array_and_map_results_export_to_parquet(tmp_path: Path) -> None:
    result = openfeat_core.compute("select map(i, s) as m, split(s, ',') as a from t", {"t": ONE_ROW})
    pq.write_table(result, tmp_path / "out.parquet")
    back = pq.read_table(tmp_path / "out.parquet")
    assert back.to_pylist() == [{"m": [(2, "a:1,b:2,,c")], "a": ["a:1", "b:2", "", "c"]}]


def test_the_online_store_keeps_map_and_array_columns(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path)
    store.create_table("t", "k int, ts timestamp, m map<int, string>, a array<bigint>", indexes=["i:k:ts"])
    store.insert("t", [[1, 1000, {12: "abc"}, [1, None, 3]], [1, 2000, [[13, None]], None]])
    node = parse_sql("insert into t values (1, timestamp(3000), map(14, 'x'), [5])")
    assert isinstance(node, InsertValues)
    insert(store, node, "UTC")
    store.deploy("d", "select k, m[12] as v, size(a) as n, at(a, -1) as last from t")
    assert store.request("d", [[1, 4000, {12: "req"}, [7, 8]]]).to_pylist() == [{"k": 1, "v": "req", "n": 2, "last": 8}]
    store.close()
    reopened = OnlineStore(tmp_path)  # replayed from the log
    assert [(r["m"], r["a"]) for r in reopened.scan("t").to_pylist()] == [
        ([(12, "abc")], [1, None, 3]),
        ([(13, None)], None),
        ([(14, "x")], [5]),
    ]
    reopened.close()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([1, 1000, "nope", None], "field 'm': 'nope' is not a map<int, string>"),
        ([1, 1000, [[None, "x"]], None], "a map key cannot be NULL"),
        ([1, 1000, None, [1, "x"]], "field 'a'"),
    ],
)
def test_bad_map_and_array_values_name_the_field(tmp_path: Path, row: list[Any], message: str) -> None:
    store = OnlineStore(tmp_path)
    store.create_table("t", "k int, ts timestamp, m map<int, string>, a array<bigint>", indexes=["i:k:ts"])
    with pytest.raises(DataError, match=message):
        store.insert("t", [row])
    store.close()


def test_the_http_routes_answer_arrays_and_maps_as_json() -> None:
    from openfeat_core.server.service import create_app
    from unit.test_online_service import call

    app = create_app(OnlineStore())
    try:
        for statement in (
            "create database demo_db",
            "create table t (k int, ts timestamp, m map<int, date>, INDEX(KEY=k, TS=ts))",
            "insert into t values (1, 1000, map(1, date('2020-01-02')))",
            "deploy d select k, m[1] as v, map_keys(m) as ks from t",
        ):
            assert call(app, "POST", "/dbs/demo_db", {"mode": "online", "sql": statement}).status == 200
        answer = call(app, "POST", "/dbs/demo_db", {"mode": "online", "sql": "select m, map_keys(m) as ks from t"})
        assert answer.json()["data"] == {
            "schema": ["map<int, date>", "array<int>"],
            "data": [[[[1, "2020-01-02"]], [1]]],
        }
        # A map with non-string keys arrives as [key, value] pairs (JSON object keys are strings).
        request = call(app, "POST", "/dbs/demo_db/deployments/d", {"input": [[1, 2000, [[1, "2021-01-01"]]]]})
        assert request.json()["data"]["data"] == [[1, "2021-01-01", [1]]]
    finally:
        app.close()
