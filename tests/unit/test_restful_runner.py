"""The APIServer (restful) case runner's rules: JSON paths, Java's equality, case expansion. OpenMLDB's restful cases
themselves run against a real ``openfeat serve`` in ``make conformance-surface`` (part of ``make test``), judged
with the one skip list (tests/conformance/skiplist.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openfeat_core.conformance.restful import (
    MISSING,
    check_answer,
    create_statements,
    expand_file,
    java_equal,
    json_path,
)

DOC = {"code": 0, "table": {"name": "t1", "column_key": [{"col_name": ["c1"], "ts_name": "c7"}]}}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("$.code", 0),
        ("$.table.name", "t1"),
        ("$.table.column_key[0].col_name", ["c1"]),
        ("$.table.column_key[0].ts_name", "c7"),
        ("$.table.column_key[1].ts_name", MISSING),
        ("$.table.nope", MISSING),
        ("$.code.deeper", MISSING),
    ],
)
def test_json_path(path: str, value: Any) -> None:
    assert json_path(DOC, path) == value if value is not MISSING else json_path(DOC, path) is MISSING


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (1, 1, True),
        (7.0, 7, False),  # Integer.equals(Double) is false
        (7, 7.0, False),
        (True, 1, False),
        (2.0999999046325684, 2.0999999046325685, True),  # the same double
        ([1, "a"], [1, "a"], True),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1, "b": 2}, {"a": 1}, False),  # a map with an extra key is another map
        (None, None, True),
        ("ok", "ok", True),
    ],
)
def test_java_equal(actual: Any, expected: Any, equal: bool) -> None:
    assert java_equal(actual, expected) is equal


@pytest.mark.parametrize(
    ("answer", "data", "problem"),
    [
        ({"code": 0, "msg": "ok"}, {"code": 0, "msg": "ok"}, None),
        ({"code": -1, "msg": "DB not found"}, {"code": 0}, "code: expected 0, got -1"),
        ({"code": -1, "msg": "x does not exist"}, {"msg-contains": "does not exist"}, None),
        ({"code": -1, "msg": "nope"}, {"msg-contains": "does not exist"}, "does not contain"),
        ({"code": 0, "dbs": ["a"]}, {"$.dbs": ["a"]}, None),
        ({"code": 0}, {"$.dbs": []}, "<no such path>"),
    ],
)
def test_check_answer(answer: dict[str, Any], data: dict[str, Any], problem: str | None) -> None:
    found = check_answer(answer, data)
    assert found is None if problem is None else (found is not None and problem in found)


def test_expand_file_merges_base_and_expands_uri_parameters(tmp_path: Path) -> None:
    case_file = tmp_path / "restful" / "t.yaml"
    case_file.parent.mkdir()
    case_file.write_text(
        """
baseCase:
  uri: /dbs/{db_name}/tables
  method: GET
  expect: {data: {code: 0, msg: ok}}
cases:
  - caseId: 0
    desc: plain
  - caseId: 1
    desc: skipped
    tags: [TODO]
  - caseId: 2
    desc: params
    uri: /dbs/<db>/tables
    uriParameters: {db: ["", "null"]}
    uriExpect:
      - data: {code: -1, msg: "no match method"}
      - data: {code: -1, msg: "DB not found"}
""",
        encoding="utf-8",
    )
    calls = expand_file(case_file)
    assert [(c.id, c.node["uri"], c.node["method"]) for c in calls] == [
        ("0", "/dbs/{db_name}/tables", "GET"),
        ("2_0", "/dbs//tables", "GET"),
        ("2_1", "/dbs/null/tables", "GET"),
    ]
    assert calls[2].node["expect"]["data"] == {"code": -1, "msg": "DB not found"}


def test_create_statements_follow_the_harness() -> None:
    spec = {
        "columns": ["c1 string not null", "c3 int", "c7 timestamp", "c8 date"],
        "indexs": ["index1:c1|c3:c7:(10h,10):absandlat"],
        "rows": [["a", 1, 1590738990000, "2020-05-01"], [None, None, 1, None]],
    }
    assert create_statements("t1", spec) == [
        "create table t1 (c1 string not null, c3 int, c7 timestamp, c8 date, "
        "index(key=(c1,c3),ts=c7,ttl=(10h,10),ttl_type=absandlat)) options(partitionnum=1, replicanum=1);",
        "insert into t1 values ('a', 1, 1590738990000, '2020-05-01');",
        "insert into t1 values (null, null, 1, null);",
    ]
