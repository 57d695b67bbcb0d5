"""Tests of the conformance runner: case expansion, result comparison, skip logic and the CLI.

Every test uses small synthetic case files under ``tmp_path/cases`` and a stub engine, so none depends on the real
engine or on the upstream case files.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from openfeat_core.conformance.cases import (
    CaseFormatError,
    ColumnSpec,
    ExpectSpec,
    IndexExpect,
    InputSpec,
    build_table,
    find_case_files,
    load_case_file,
    merge_expect,
    parse_cell,
    parse_column,
    parse_data_text,
    typed_rows,
    unescape_insert_string,
)
from openfeat_core.conformance.compare import check_result, floats_equal, ulp_distance, values_equal
from openfeat_core.conformance.runner import (
    Engine,
    SkipEntry,
    SkipList,
    hybridse_level,
    main,
    run_files,
    upstream_skip,
)
from openfeat_core.errors import DataError, OpenFeatSQLError
from openfeat_core.types import SQLType

# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------


def write_cases(tmp_path: Path, text: str, name: str = "test_x.yaml") -> Path:
    """Write a case file under ``tmp_path/cases`` (so its skip-list name is relative to ``cases/``)."""
    path = tmp_path / "cases" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class StubEngine:
    """``compute``: ``select * from T`` returns input T; ``error`` raises OpenFeatSQLError; ``crash`` raises
    ``KeyError``; ``data error`` raises DataError; anything else must be a key of ``results``."""

    def __init__(self, results: Mapping[str, pa.Table] | None = None) -> None:
        self.results = dict(results or {})
        self.calls: list[dict[str, Any]] = []

    def compute(
        self,
        sql: str,
        tables: Mapping[str, Any],
        *,
        timezone: str = "UTC",
        indexes: Mapping[str, Sequence[str]] | None = None,
        parameters: pa.Table | None = None,  # ComputeFn's; these stub queries take none
    ) -> pa.Table:
        self.calls.append({"sql": sql, "tables": dict(tables), "timezone": timezone, "indexes": indexes})
        text = sql.strip().rstrip(";").strip()
        if text.lower().startswith("select * from "):
            return tables[text.split()[-1]]
        if text == "error":
            raise OpenFeatSQLError("bad query", line=1, column=1)
        if text == "data error":
            raise DataError("bad data")
        if text == "crash":
            raise KeyError("boom")
        return self.results[text]

    def request_replay(
        self,
        sql: str,
        tables: Mapping[str, Any],
        request_table: str,
        *,
        timezone: str = "UTC",
        indexes: Mapping[str, Sequence[str]] | None = None,
    ) -> pa.Table:
        self.calls.append({"request_table": request_table})
        return self.compute(sql, tables, timezone=timezone, indexes=indexes)

    def engine(self, *, request: bool = True) -> Engine:
        return Engine(self.compute, self.request_replay if request else None)


def run_cli(args: Sequence[str], engine: Engine) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), engine=engine, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def table(columns: Sequence[tuple[str, pa.DataType]], rows: Sequence[Sequence[Any]]) -> pa.Table:
    return pa.table({name: pa.array([r[i] for r in rows], type=t) for i, (name, t) in enumerate(columns)})


def spec(rows: list[list[Any]] | None, columns: Sequence[str] | None = None, **kwargs: Any) -> ExpectSpec:
    cols = [parse_column(c) for c in columns] if columns is not None else None
    raw = None if rows is None else [[None if v is None else str(v) for v in row] for row in rows]
    return ExpectSpec(columns=cols, rows=raw, **kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# Case loading and expansion
# ---------------------------------------------------------------------------------------------------------------------

PROVIDER_CASES = """
cases:
  - id: 3
    desc: one dimension
    inputs:
      - columns: ["c1 int"]
        rows: [[1]]
    dataProvider:
      - ["+", "-"]
    sql: select c1 d[0] 1 as r from {0};
    expect:
      columns: ["r int"]
      order: r
      rows: [[0]]
    expectProvider:
      0:
        rows: [[2]]
  - id: 5
    desc: two dimensions
    inputs:
      - name: t1
        columns: ["c1 int"]
        rows: [[1]]
      - columns: ["c1 int"]
    dataProvider:
      - ["like", "ilike"]
      - ["a%", "b%"]
    sql: select d[0](c1, 'd[1]') from {0} last join {1} on {0}.c1 = {1}.c1
    expect:
      columns: ["r bool"]
      rows: [[false]]
    expectProvider:
      0:
        0:
          rows: [[true]]
        1:
          columns: ["r string"]
      1:
        success: false
"""


@pytest.mark.parametrize(
    ("case_id", "sql", "columns", "rows", "success", "order"),
    [
        ("3-0", "select c1 + 1 as r from auto_t0;", ["r int"], [["2"]], True, "r"),
        ("3-1", "select c1 - 1 as r from auto_t0;", ["r int"], [["0"]], True, "r"),
        (
            "5-0-0",
            "select like(c1, 'a%') from t1 last join auto_t1 on t1.c1 = auto_t1.c1",
            ["r bool"],
            [["true"]],
            True,
            None,
        ),
        (
            "5-0-1",
            "select like(c1, 'b%') from t1 last join auto_t1 on t1.c1 = auto_t1.c1",
            ["r string"],
            [["false"]],
            True,
            None,
        ),
        (
            "5-1-0",
            "select ilike(c1, 'a%') from t1 last join auto_t1 on t1.c1 = auto_t1.c1",
            ["r bool"],
            [["false"]],
            False,
            None,
        ),
        (
            "5-1-1",
            "select ilike(c1, 'b%') from t1 last join auto_t1 on t1.c1 = auto_t1.c1",
            ["r bool"],
            [["false"]],
            False,
            None,
        ),
    ],
)
def test_data_provider_expansion(
    tmp_path: Path,
    case_id: str,
    sql: str,
    columns: list[str],
    rows: list[list[str]],
    success: bool,
    order: str | None,
) -> None:
    cases = {c.id: c for c in load_case_file(write_cases(tmp_path, PROVIDER_CASES))}
    assert sorted(cases) == ["3-0", "3-1", "5-0-0", "5-0-1", "5-1-0", "5-1-1"]
    case = cases[case_id]
    assert case.sql == sql
    assert [str(c) for c in case.expect.columns or []] == [str(parse_column(c)) for c in columns]
    assert case.expect.rows == rows
    assert case.expect.success is success
    assert case.expect.order == order
    assert case.file == "test_x.yaml"


@pytest.mark.parametrize(
    ("base", "provider", "choice", "merged"),
    [
        ({"rows": [["1"]]}, None, (0,), {"rows": [["1"]]}),
        ({"rows": [["1"]]}, {"0": {"rows": [["2"]]}}, (1,), {"rows": [["1"]]}),
        ({"data": "1", "schema": "a:int"}, {"0": {"rows": [["2"]]}}, (0,), {"rows": [["2"]], "schema": "a:int"}),
        ({"columns": ["a int"]}, {"0": {"schema": "b:int"}}, (0,), {"schema": "b:int"}),
        ({"order": "a"}, {"1": {"0": {"order": "b"}}}, (1, 0), {"order": "b"}),
        ({"order": "a"}, {"1": {"order": "c", "0": {"order": "b"}}}, (1, 1), {"order": "c"}),
    ],
)
def test_merge_expect(base: dict[str, Any], provider: Any, choice: tuple[int, ...], merged: dict[str, Any]) -> None:
    assert merge_expect(base, provider, choice) == merged


def test_find_case_files_takes_yml_and_skips_resources(tmp_path: Path) -> None:
    for name in ("query/a.yaml", "query/b.yml", "query/notes.txt", "resource/t.yaml", "c.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("cases: []\n")
    found = [path.relative_to(tmp_path).as_posix() for path in find_case_files([tmp_path])]
    assert found == ["c.yml", "query/a.yaml", "query/b.yml"]


def test_inputs_resource_names_and_indexes(tmp_path: Path) -> None:
    resource = tmp_path / "cases" / "resource" / "t.yaml"
    resource.parent.mkdir(parents=True)
    resource.write_text(
        "table:\n  name: from_resource\n  schema: a:int32, b:string\n  index: idx1:b:a\n"
        "  data: |\n    1, x\n    2, NULL\n"
    )
    path = write_cases(
        tmp_path,
        """
        cases:
          - id: 0
            inputs:
              - name: renamed
                resource: cases/resource/t.yaml
              - schema: "d:date, ts:timestamp, f:float, s:smallint, b:bool"
                indexs: ["i2:d:ts", "i3:s|b:ts:10:latest"]
                data: |
                  2020-05-01, 1590738989000, 1.1,, 7, true
                  NULL, null, NULL, NULL, null
            sql: select * from {0}
            expect:
              success: true
        """,
    )
    (case,) = load_case_file(path)
    first, second = case.inputs
    assert (first.name, second.name) == ("renamed", "auto_t1")
    assert case.sql == "select * from renamed"
    assert first.indexes == ["idx1:b:a"]
    assert second.indexes == ["i2:d:ts", "i3:s|b:ts:10:latest"]
    assert build_table(first).to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    second_table = build_table(second)
    assert second_table.schema.types == [
        pa.date32(),
        pa.timestamp("ms", tz="UTC"),
        pa.float32(),
        pa.int16(),
        pa.bool_(),
    ]
    assert second_table.column("d").to_pylist() == [dt.date(2020, 5, 1), None]
    assert second_table.column("ts").cast(pa.int64()).to_pylist() == [1590738989000, None]
    assert second_table.column("f").to_pylist() == [float(np.float32(1.1)), None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("c1 string", ("c1", SQLType.STRING)),
        ("c1:string", ("c1", SQLType.STRING)),
        (" c2 : bigint ", ("c2", SQLType.INT64)),
        ("sum(c4)over w1 bigint", ("sum(c4)over w1", SQLType.INT64)),
        ("id int not null", ("id", SQLType.INT32)),
        ("t:i16", ("t", SQLType.INT16)),
        ("ts timestamp", ("ts", SQLType.TIMESTAMP)),
    ],
)
def test_parse_column(text: str, expected: tuple[str, SQLType]) -> None:
    column = parse_column(text)
    assert (column.name, column.type) == expected


@pytest.mark.parametrize("text", ["c1", "c1 map<int>", "a:b:c", ""])
def test_parse_column_rejects(text: str) -> None:
    with pytest.raises(CaseFormatError):
        parse_column(text)


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        ("1, a\n2, NULL\n", [["1", "a"], ["2", "NULL"]]),
        ("  1 ,  a b  \n\n 3,c", [["1", "a b"], ["3", "c"]]),
        ("1,,2", [["1", "2"]]),  # runs of commas collapse, as boost token_compress_on does upstream
        ("", []),
    ],
)
def test_parse_data_text(data: str, rows: list[list[str]]) -> None:
    assert parse_data_text(data) == rows


@pytest.mark.parametrize(
    ("text", "sql_type", "value"),
    [
        (None, SQLType.INT32, None),
        ("NULL", SQLType.STRING, None),
        ("null", SQLType.DATE, None),
        ("-32768", SQLType.INT16, -32768),
        ("7.8", SQLType.FLOAT, float(np.float32(7.8))),
        ("7.8", SQLType.DOUBLE, 7.8),
        ("nan", SQLType.DOUBLE, "nan"),
        ("true", SQLType.BOOL, True),
        ("False", SQLType.BOOL, False),
        ("2020-5-1", SQLType.DATE, dt.date(2020, 5, 1)),
        ("1590738989000", SQLType.TIMESTAMP, 1590738989000),
        ("1.10", SQLType.STRING, "1.10"),
        ("", SQLType.STRING, ""),
    ],
)
def test_parse_cell(text: str | None, sql_type: SQLType, value: Any) -> None:
    parsed = parse_cell(text, sql_type)
    if value == "nan":
        assert np.isnan(parsed)
    else:
        assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "sql_type"),
    [("32768", SQLType.INT16), ("1.5", SQLType.INT64), ("yes", SQLType.BOOL), ("2020-13-01", SQLType.DATE)],
)
def test_parse_cell_rejects(text: str, sql_type: SQLType) -> None:
    with pytest.raises(CaseFormatError):
        parse_cell(text, sql_type)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", "plain"), ("\\\\\\%a_b", "\\%a_b"), ("\\_a", "_a"), ("", "")],
)
def test_unescape_insert_string(text: str, expected: str) -> None:
    assert unescape_insert_string(text) == expected


def test_yaml_scalars_stay_strings(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path,
        """
        cases:
          - id: 1
            inputs:
              - columns: ["s string", "d date"]
                rows:
                  - [1.10, 2020-05-01]
                  - ["null", ~]
                  - [yes, null]
            sql: select * from {0}
            expect:
              columns: ["s string"]
              rows: [[on]]
        """,
    )
    (case,) = load_case_file(path)
    assert case.inputs[0].rows == [["1.10", "2020-05-01"], ["null", None], ["yes", None]]
    assert build_table(case.inputs[0]).column("s").to_pylist() == ["1.10", None, "yes"]
    assert case.expect.rows == [["on"]]


@pytest.mark.parametrize(
    ("case_yaml", "expected_sql", "unsupported", "error", "kind"),
    [
        ("sql: deploy d1 options(long_windows='w1:2d') SELECT c1 FROM {0}", "SELECT c1 FROM t", [], None, "query"),
        ("sqls: ['select c1 from {0}']", "select c1 from t", [], None, "query"),
        ("sqls: ['deploy x select 1', 'show deployment x']", "show deployment x", [], None, "statements"),
        ("sql: insert into {0} values (1)", "insert into t values (1)", [], None, "statements"),
        ("sql: select * from {0} into outfile '/tmp/x.csv'", None, [], None, "statements"),
        ("sql: create table {auto} (c1 int)", "create table auto_table (c1 int)", [], None, "statements"),
        (
            "sql: select * from t\n    inputs: [{columns: ['c1 int', 'c4 timestamp'], indexs: ['i:c1:c4:4:latest']}]",
            None,
            [],
            None,
            "statements",
        ),
        ("sql: select * from t\n    inputs: [{columns: ['c1 int'], storage: SSD}]", None, [], None, "statements"),
        (
            "sql: select * from t\n    inputs: [{columns: ['c1 int', 'c4 timestamp'], indexs: ['i:c1:c4:0:latest']}]",
            None,
            [],
            None,
            "query",
        ),
        ("sql: select 1\n    parameters: {columns: ['p int'], rows: [[1]]}", "select 1", [], None, "query"),
        ("sql: select 1\n    parameters: {columns: ['p int'], rows: [[1], [2]]}", None, [], "one row", "query"),
        ("sql: select 1\n    batch_request: {columns: ['p int']}", "select 1", [], None, "query"),
        ("sql: select 1\n    batch_request: {rows: [[1]]}", None, [], "rows but no 'columns'", "query"),
        ("sql: select 1\n    expect: {preAgg: {name: x}}", None, ["expect.preAgg"], None, "query"),
        ("desc: no sql", None, [], "no 'sql'", "query"),
        ("sql: select 1\n    level: high", None, [], "level", "query"),
    ],
)
def test_case_features(
    tmp_path: Path, case_yaml: str, expected_sql: str | None, unsupported: list[str], error: str | None, kind: str
) -> None:
    text = "cases:\n  - id: 0\n    inputs: [{name: t, columns: ['c1 int']}]\n    " + case_yaml + "\n"
    path = tmp_path / "cases" / "f.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    (case,) = load_case_file(path)
    if expected_sql is not None:
        assert case.sql == expected_sql
    assert len(case.unsupported) == len(unsupported)
    for fragment, reason in zip(unsupported, case.unsupported, strict=True):
        assert fragment in reason
    assert (case.error is None) if error is None else (error in (case.error or ""))
    assert case.kind == kind


def test_statements_case_fields(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path,
        """
        db: file_db
        cases:
          - id: 0
            inputs:
              - name: t1
                create: create table {0} (c1 int, c2 timestamp)
                inserts: ["insert into {0} values (1, 1)"]
                insert: insert into {0} values (2, 2)
              - columns: ["c1 int", "c2 timestamp"]
                rows: [[1, "{currentTime}-100"], [2, "{currentTime}"], [3, "{currentTime}+5"]]
            sqls: ["show tables", "select * from {1}"]
            tearDown: drop table {0}
            expect: {deploymentCount: 2, idxs: [{keys: [c1], ts: c2, ttl: 0min, ttlType: kAbsoluteTime}]}
        """,
    )
    (case,) = load_case_file(path)
    assert case.kind == "statements"
    assert case.db == "file_db"
    assert case.statements == ["show tables", "select * from auto_t1"]
    assert case.teardown == ["drop table t1"]
    assert case.inputs[0].create == "create table t1 (c1 int, c2 timestamp)"
    assert case.inputs[0].inserts == ["insert into t1 values (2, 2)", "insert into t1 values (1, 1)"]
    # {currentTime} is read when the case builds its tables (a row must not age while earlier cases run).
    assert [row[1] for row in case.inputs[1].rows] == ["{currentTime}-100", "{currentTime}", "{currentTime}+5"]
    before = int(time.time() * 1000)
    times = [row[1] for row in typed_rows(case.inputs[1].rows, case.inputs[1].columns)]
    assert times[1] - times[0] == 100 and times[2] - times[1] == 5 and times[1] >= before
    assert case.expect.deployment_count == 2
    assert case.expect.idxs == [IndexExpect(keys=("c1",), ts="c2", ttl="0min", ttl_type="kAbsoluteTime")]


def test_tablet_endpoints_are_distinct_host_ports(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path,
        """
        cases:
          - id: 0
            sql: |
              create table t3 (c1 string, c4 timestamp, index(key=c1, ts=c4))
              options (distribution = [ ('{tb_endpoint_1}', ['{tb_endpoint_0}', '{tb_endpoint_2}']) ]);
        """,
    )
    (case,) = load_case_file(path)
    endpoints = re.findall(r"'([^']*)'", case.statements[0])
    assert endpoints == ["127.0.0.1:10922", "127.0.0.1:10921", "127.0.0.1:10923"]
    assert all(re.fullmatch(r"127\.0\.0\.1:\d{5}", endpoint) for endpoint in endpoints)


def test_restful_cases_keep_their_nodes(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path,
        """
        baseCase:
          uri: /dbs/{db_name}
          tags: []
        cases:
          - caseId: 3
            desc: one call
          - caseId: 4
            tags: [TODO]
        """,
    )
    first, second = load_case_file(path)
    assert (first.kind, first.id, first.desc, first.node["caseId"]) == ("restful", "3", "one call", "3")
    assert first.document["baseCase"]["uri"] == "/dbs/{db_name}"
    assert second.is_todo


# ---------------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------------


def _float32_steps(value: float, steps: int) -> float:
    x = np.float32(value)
    for _ in range(steps):
        x = np.nextafter(x, np.float32(np.inf))
    return float(x)


def _float64_steps(value: float, steps: int) -> float:
    x = value
    for _ in range(steps):
        x = float(np.nextafter(x, np.inf))
    return x


@pytest.mark.parametrize(
    ("a", "b", "width", "equal"),
    [
        (1.0, _float32_steps(1.0, 4), 32, True),
        (1.0, _float32_steps(1.0, 5), 32, False),
        (1.0, _float64_steps(1.0, 4), 64, True),
        (1.0, _float64_steps(1.0, 5), 64, False),
        (float(np.float32(7.8)), 7.8, 32, True),  # a float column's 7.8 read as float32
        (float(np.float32(7.8)), 7.8, 64, False),  # ... is not 7.8 as a double
        (0.0, -0.0, 64, True),
        (float("nan"), float("nan"), 32, True),
        (float("nan"), 1.0, 64, False),
        (float("inf"), float("inf"), 64, True),
        (float("inf"), -float("inf"), 64, False),
    ],
)
def test_floats_equal(a: float, b: float, width: int, equal: bool) -> None:
    assert floats_equal(a, b, width) is equal


def test_ulp_distance_crosses_zero() -> None:
    tiny = float(np.nextafter(np.float32(0), np.float32(1)))
    assert ulp_distance(tiny, -tiny, 32) == 2


@pytest.mark.parametrize(
    ("actual", "expected", "sql_type", "equal"),
    [
        (None, None, SQLType.INT32, True),
        (None, 0, SQLType.INT32, False),
        (0, None, SQLType.STRING, False),
        (True, 1, SQLType.BOOL, False),
        (True, True, SQLType.BOOL, True),
        ("a", "a", SQLType.STRING, True),
        ("a", "a ", SQLType.STRING, False),
        (dt.date(2020, 1, 1), dt.date(2020, 1, 1), SQLType.DATE, True),
    ],
)
def test_values_equal(actual: Any, expected: Any, sql_type: SQLType, equal: bool) -> None:
    assert values_equal(actual, expected, sql_type) is equal


@pytest.mark.parametrize(
    ("actual", "expected", "sql_type", "tolerance", "equal"),
    [
        (1.00005, 1.0, SQLType.DOUBLE, 1e-4, True),  # TestNG's assertEquals(actual, expected, 1e-4)
        (1.00005, 1.0, SQLType.DOUBLE, None, False),  # 4 ULP otherwise
        (1.0002, 1.0, SQLType.DOUBLE, 1e-4, False),
        (float(np.float32(0.1)) + 5e-5, 0.1, SQLType.FLOAT, 1e-4, True),
        (1e20, 1e20 + 2**20, SQLType.DOUBLE, 1e-4, False),  # absolute, as the Java harness: 1 ULP apart fails
        (float("inf"), float("inf"), SQLType.DOUBLE, 1e-4, True),
        (float("nan"), float("nan"), SQLType.DOUBLE, 1e-4, True),
        (float("nan"), 0.0, SQLType.DOUBLE, 1e-4, False),
        (3, 3, SQLType.INT64, 1e-4, True),
        (3, 4, SQLType.INT64, 10.0, False),  # integers stay exact
    ],
)
def test_values_equal_with_tolerance(
    actual: Any, expected: Any, sql_type: SQLType, tolerance: float | None, equal: bool
) -> None:
    assert values_equal(actual, expected, sql_type, tolerance) is equal


def test_java_harness_files_get_the_tolerance(tmp_path: Path) -> None:
    text = """
    cases:
      - id: 0
        sql: select 1.00005 as d
        expect: {columns: ["d double"], rows: [[1.0]]}
    """
    surface = write_cases(tmp_path / "openmldb-surface", text)
    feature = write_cases(tmp_path / "openmldb", text)
    [surface_case] = load_case_file(surface)
    [feature_case] = load_case_file(feature)
    assert surface_case.float_tolerance == 1e-4
    assert feature_case.float_tolerance is None
    result = pa.table({"d": pa.array([1.00005], pa.float64())})
    assert check_result(result, surface_case.expect, surface_case.float_tolerance) is None
    reason = check_result(result, feature_case.expect, feature_case.float_tolerance)
    assert reason is not None and "expected 1.0, got 1.00005" in reason


INT_STR = [("id", pa.int32()), ("s", pa.string())]


@pytest.mark.parametrize(
    ("result", "expect", "reason"),
    [
        # in order
        (table(INT_STR, [(1, "a"), (2, None)]), spec([[1, "a"], [2, "NULL"]], ["id int", "s string"]), None),
        # different order, no `order`: multiset fallback
        (table(INT_STR, [(2, None), (1, "a")]), spec([[1, "a"], [2, None]], ["id int", "s string"]), None),
        # `order` sorts both sides, NULL first
        (
            table(INT_STR, [(2, "b"), (None, "n"), (1, "a")]),
            spec([[None, "n"], [1, "a"], [2, "b"]], ["id int", "s string"], order="id"),
            None,
        ),
        # ties on the order column in any order
        (
            table(INT_STR, [(1, "b"), (1, "a")]),
            spec([[1, "a"], [1, "b"]], ["id int", "s string"], order="id"),
            None,
        ),
        (
            table(INT_STR, [(1, "a"), (2, "x")]),
            spec([[1, "a"], [2, "b"]], ["id int", "s string"]),
            "1 rows differ in order; row 1 col s: expected 'b', got 'x'",
        ),
        (table(INT_STR, [(1, "a")]), spec([[1, "a"], [2, "b"]], ["id int", "s string"]), "expected 2 rows, got 1"),
        (table(INT_STR, [(1, "a")]), spec([[1, "a"]], ["id bigint", "s string"]), "schema mismatch"),
        (table(INT_STR, [(1, "a")]), spec([[1, "a"]], ["ID int", "s string"]), "schema mismatch"),
        (table(INT_STR, []), spec([], ["id int", "s string"]), None),
        (table(INT_STR, [(1, "a")]), spec([], ["id int", "s string"]), "expected 0 rows, got 1"),
        # count only
        (table(INT_STR, [(1, "a"), (2, "b")]), spec(None, count=2), None),
        (table(INT_STR, [(1, "a")]), spec(None, count=2), "expected 2 rows, got 1"),
        # no expected schema: rows read with the result's types
        (table(INT_STR, [(1, "a")]), spec([[1, "a"]]), None),
        # success-only expectation
        (table(INT_STR, [(1, "a")]), spec(None), None),
        # floats at their column's width; NaN equals NaN
        (
            table([("f", pa.float32()), ("d", pa.float64())], [(7.8, 5.8), (float("nan"), None)]),
            spec([[7.8, 5.8], ["nan", "NULL"]], ["f float", "d double"]),
            None,
        ),
        (
            table([("d", pa.float64())], [(float(np.float32(7.8)),)]),
            spec([[7.8]], ["d double"]),
            "row 0 col d: expected 7.8, got 7.800000190734863",
        ),
        # timestamps as epoch ms whatever the unit; dates as calendar dates
        (
            table([("t", pa.timestamp("us", tz="UTC")), ("d", pa.date32())], [(1590738989000123, dt.date(2020, 5, 1))]),
            spec([[1590738989000, "2020-05-01"]], ["t timestamp", "d date"]),
            None,
        ),
    ],
)
def test_check_result(result: pa.Table, expect: ExpectSpec, reason: str | None) -> None:
    got = check_result(result, expect)
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got


def test_check_result_bad_expected_rows() -> None:
    with pytest.raises(CaseFormatError, match="expected rows"):
        check_result(table(INT_STR, [(1, "a")]), spec([["x", "a"]], ["id int", "s string"]))


def test_build_table_rejects_bad_rows() -> None:
    with pytest.raises(CaseFormatError, match="row 0 has 1 values"):
        build_table(InputSpec("t", [ColumnSpec("a", SQLType.INT32), ColumnSpec("b", SQLType.INT32)], [["1"]]))


# ---------------------------------------------------------------------------------------------------------------------
# Skip logic
# ---------------------------------------------------------------------------------------------------------------------

SKIP_CASES = """
cases:
  - id: todo
    tags: ["TODO", "later"]
    inputs: [{name: t, columns: ["c1 int"], rows: [[1]]}]
    sql: select * from t
    expect: {columns: ["c1 int"], rows: [[1]]}
  - id: lower_todo
    tags: ["todo"]
    sql: crash
  - id: deep
    level: 5
    sql: crash
  - id: nobatch
    mode: batch-unsupport, cli-unsupport
    sql: crash
  - id: noreq
    mode: request-unsupport
    sql: error
    expect: {success: false}
  - id: other_flags
    mode: offline-unsupport,rtidb-unsupport,cluster-unsupport
    sql: error
    expect: {success: false}
"""


@pytest.mark.parametrize(
    ("case_id", "mode", "level", "reason"),
    [
        ("todo", "batch", 0, "TODO in upstream case"),
        ("lower_todo", "request", 0, "TODO in upstream case"),
        ("deep", "batch", 0, "level 5 > HYBRIDSE_LEVEL 0"),
        ("deep", "batch", 5, None),
        ("nobatch", "batch", 0, "batch-unsupport"),
        ("nobatch", "request", 0, None),
        ("noreq", "request", 0, "request-unsupport"),
        ("noreq", "batch", 0, None),
        ("other_flags", "batch", 0, None),
        ("other_flags", "request", 0, None),
    ],
)
def test_upstream_skip(tmp_path: Path, case_id: str, mode: Any, level: int, reason: str | None) -> None:
    cases = {c.id: c for c in load_case_file(write_cases(tmp_path, SKIP_CASES))}
    assert upstream_skip(cases[case_id], mode, level) == reason


@pytest.mark.parametrize(
    ("value", "level"),
    [(None, 0), ("", 0), ("5", 5), ("0,5", 5), (" 3 ", 3)],
)
def test_hybridse_level(value: str | None, level: int) -> None:
    assert hybridse_level({} if value is None else {"HYBRIDSE_LEVEL": value}) == level


def test_hybridse_level_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="HYBRIDSE_LEVEL"):
        hybridse_level({"HYBRIDSE_LEVEL": "high"})


def test_level_env_in_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_cases(tmp_path, "cases:\n  - id: deep\n    level: 5\n    sql: error\n    expect: {success: false}\n")
    monkeypatch.delenv("HYBRIDSE_LEVEL", raising=False)
    assert run_cli([str(path), "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine())[1].endswith(
        "0 passed, 0 failed, 1 skipped\n"
    )
    monkeypatch.setenv("HYBRIDSE_LEVEL", "5")
    assert run_cli([str(path), "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine())[1].endswith(
        "1 passed, 0 failed, 0 skipped\n"
    )


def write_skiplist(tmp_path: Path, entries: list[dict[str, str]]) -> Path:
    path = tmp_path / "skiplist.yaml"
    path.write_text(json.dumps(entries))  # JSON is YAML
    return path


SKIPLIST_CASES = """
cases:
  - id: 1
    desc: fails
    sql: crash
  - id: 2
    desc: passes
    sql: error
    expect: {success: false}
  - id: 3
    desc: fails in both
    sql: data error
"""


@pytest.mark.parametrize(
    ("entries", "statuses", "warnings"),
    [
        ([], {("1", "batch"): "failed", ("2", "batch"): "passed", ("3", "batch"): "failed"}, []),
        (
            [{"file": "sk.yaml", "id": "1", "mode": "batch", "reason": "known"}],
            {("1", "batch"): "skipped", ("2", "batch"): "passed", ("3", "batch"): "failed"},
            [],
        ),
        (
            [{"file": "cases/sk.yaml", "id": "2", "reason": "fixed since"}],
            {("1", "batch"): "failed", ("2", "batch"): "passed", ("3", "batch"): "failed"},
            ["stale skip-list entry: sk.yaml id 2 passes in batch mode"],
        ),
        (
            [{"file": "sk.yaml", "id": "1", "mode": "request", "reason": "request only"}],
            {("1", "batch"): "failed", ("2", "batch"): "passed", ("3", "batch"): "failed"},
            [],
        ),
        (
            [{"file": "sk.yaml", "id": "9", "mode": "both", "reason": "gone"}],
            {("1", "batch"): "failed", ("2", "batch"): "passed", ("3", "batch"): "failed"},
            ["stale skip-list entry: sk.yaml id 9 matches no case"],
        ),
    ],
)
def test_skiplist(
    tmp_path: Path, entries: list[dict[str, str]], statuses: dict[tuple[str, str], str], warnings: list[str]
) -> None:
    path = write_cases(tmp_path, SKIPLIST_CASES, name="sk.yaml")
    report = run_files(
        [path], ["batch"], StubEngine().engine(), skiplist=SkipList.load(write_skiplist(tmp_path, entries))
    )
    assert {(o.id, o.mode): o.status for o in report.outcomes} == statuses
    assert len(report.warnings) == len(warnings)
    for fragment, warning in zip(warnings, report.warnings, strict=True):
        assert fragment in warning
    skipped = [o for o in report.outcomes if o.status == "skipped"]
    assert all(o.reason.startswith("skip list: known (still fails: crash: KeyError") for o in skipped)


@pytest.mark.parametrize("listed", [True, False])
def test_an_unreadable_file_is_skip_listed_whole(tmp_path: Path, listed: bool) -> None:
    path = write_cases(tmp_path, "cases:\n  - id: 0\n  sql: [unclosed\n", name="broken.yaml")
    entries = [{"file": "broken.yaml", "id": "<file>", "mode": "both", "reason": "upstream YAML"}] if listed else []
    report = run_files(
        [path], ["batch", "request"], StubEngine().engine(), skiplist=SkipList.load(write_skiplist(tmp_path, entries))
    )
    assert [(o.id, o.status) for o in report.outcomes] == [("<file>", "skipped" if listed else "failed")] * 2
    assert report.warnings == []
    assert all(o.reason.startswith("skip list: upstream YAML (cannot load:") == listed for o in report.outcomes)


@pytest.mark.parametrize(
    "content",
    ["{file: a.yaml}", "[{id: 1}]", "[{file: a.yaml, id: 1, mode: sometimes}]", "[1, 2"],
)
def test_bad_skiplist_is_a_usage_error(tmp_path: Path, content: str) -> None:
    path = write_cases(tmp_path, SKIPLIST_CASES)
    skiplist = tmp_path / "bad.yaml"
    skiplist.write_text(content)
    code, out, err = run_cli([str(path), "--skiplist", str(skiplist)], StubEngine().engine())
    assert code == 2 and out == "" and "skip list" in err


def test_skip_entry_covers() -> None:
    assert SkipEntry("f", "1", "both", "").covers("request")
    assert SkipEntry("f", "1", "batch", "").covers("batch")
    assert not SkipEntry("f", "1", "batch", "").covers("request")


# ---------------------------------------------------------------------------------------------------------------------
# Running and the CLI
# ---------------------------------------------------------------------------------------------------------------------

RUN_CASES = """
db: db1
debugs: ["only this one"]
cases:
  - id: 0
    desc: select star
    inputs:
      - name: t1
        columns: ["id int", "s string"]
        indexs: ["index1:s:id"]
        rows: [[1, "a"], [2, null]]
    sql: select * from {0};
    expect:
      columns: ["id int", "s string"]
      order: id
      rows: [[2, null], [1, "a"]]
  - id: 1
    desc: expected error
    sql: error
    expect: {success: false}
  - id: 2
    desc: crash when an error is expected
    sql: crash
    expect: {success: false}
  - id: 3
    desc: error when rows are expected
    inputs: [{columns: ["id int"], rows: [[1]]}]
    sql: error
    expect: {columns: ["id int"], rows: [[1]]}
  - id: 4
    desc: success when an error is expected
    inputs: [{columns: ["id int"], rows: [[1]]}]
    sql: select * from {0}
    expect: {success: false}
  - id: 5
    desc: wrong rows
    inputs: [{columns: ["id int"], rows: [[1]]}]
    sql: select * from {0}
    expect: {columns: ["id int"], rows: [[2]]}
  - id: 6
    desc: todo
    tags: [TODO]
    sql: crash
"""

FAILED_LINES = [
    "  FAILED [batch] 2 'crash when an error is expected': crash: KeyError: 'boom' (at test_conformance_runner.py:",
    "  FAILED [batch] 3 'error when rows are expected': OpenFeatSQLError: line 1, column 1: bad query",
    "  FAILED [batch] 4 'success when an error is expected': expected an error, but the query succeeded (1 rows)",
    "  FAILED [batch] 5 'wrong rows': 1 rows differ in order; row 0 col id: expected 2, got 1;",
]


def test_cli_output_format(tmp_path: Path) -> None:
    path = write_cases(tmp_path, RUN_CASES, name="window/run.yaml")
    write_cases(tmp_path, "table: {name: t, schema: 'a:int'}\n", name="window/resource/ignored.yaml")
    stub = StubEngine()
    code, out, err = run_cli(
        [str(tmp_path / "cases"), "-v", "--skiplist", str(write_skiplist(tmp_path, []))], stub.engine()
    )
    lines = out.splitlines()
    assert code == 1 and err == ""
    assert lines[0] == "window/run.yaml: 2 passed, 4 failed, 1 skipped"
    assert len(lines) == 6
    for line, prefix in zip(lines[1:5], FAILED_LINES, strict=True):
        assert line.startswith(prefix), line
    assert lines[-1] == "2 passed, 4 failed, 1 skipped"
    first = stub.calls[0]
    assert first["sql"] == "select * from t1;"
    assert first["timezone"] == "Etc/GMT-8"
    assert first["indexes"] == {"t1": ["index1:s:id"]}
    assert first["tables"]["t1"].schema.types == [pa.int32(), pa.string()]
    assert path.is_file()


def test_cli_without_verbose_prints_counts_only(tmp_path: Path) -> None:
    write_cases(tmp_path, RUN_CASES)
    code, out, _ = run_cli(
        [str(tmp_path / "cases"), "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine()
    )
    assert code == 1
    assert out.splitlines() == ["test_x.yaml: 2 passed, 4 failed, 1 skipped", "2 passed, 4 failed, 1 skipped"]


@pytest.mark.parametrize(
    ("filter_text", "summary"),
    [("test_x.yaml:0 ", "1 passed, 0 failed, 0 skipped"), ("wrong rows", "0 passed, 1 failed, 0 skipped")],
)
def test_cli_filter(tmp_path: Path, filter_text: str, summary: str) -> None:
    path = write_cases(tmp_path, RUN_CASES)
    code, out, _ = run_cli(
        [str(path), "--filter", filter_text, "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine()
    )
    assert out.splitlines()[-1] == summary
    assert code == (1 if "1 failed" in summary else 0)


def test_cli_exit_zero_and_json(tmp_path: Path) -> None:
    path = write_cases(tmp_path, SKIPLIST_CASES, name="sk.yaml")
    skiplist = write_skiplist(
        tmp_path,
        [
            {"file": "sk.yaml", "id": "1", "mode": "both", "reason": "crashes"},
            {"file": "sk.yaml", "id": "3", "mode": "both", "reason": "bad data"},
        ],
    )
    out_json = tmp_path / "out.json"
    code, out, _ = run_cli(
        [str(path), "--mode", "both", "--skiplist", str(skiplist), "--json", str(out_json)], StubEngine().engine()
    )
    assert code == 0
    assert out.splitlines() == ["sk.yaml: 2 passed, 0 failed, 4 skipped", "2 passed, 0 failed, 4 skipped"]
    records = json.loads(out_json.read_text())
    assert [(r["id"], r["mode"], r["status"]) for r in records] == [
        ("1", "batch", "skipped"),
        ("1", "request", "skipped"),
        ("2", "batch", "passed"),
        ("2", "request", "passed"),
        ("3", "batch", "skipped"),
        ("3", "request", "skipped"),
    ]
    assert set(records[0]) >= {"file", "id", "desc", "mode", "status", "reason", "seconds"}
    assert records[0]["file"] == "sk.yaml" and records[0]["desc"] == "fails"
    assert isinstance(records[0]["seconds"], float)


def test_request_mode_streams_the_first_input(tmp_path: Path) -> None:
    path = write_cases(tmp_path, RUN_CASES)
    stub = StubEngine()
    code, out, _ = run_cli(
        [str(path), "--mode", "request", "--filter", "select star", "--skiplist", str(write_skiplist(tmp_path, []))],
        stub.engine(),
    )
    assert (code, out.splitlines()[-1]) == (0, "1 passed, 0 failed, 0 skipped")
    assert stub.calls[0] == {"request_table": "t1"}


@pytest.mark.parametrize(
    ("mode", "code", "last_line", "err_text"),
    [
        ("request", 2, None, "request_replay"),
        ("both", 1, "2 passed, 4 failed, 1 skipped", ""),
        ("batch", 1, "2 passed, 4 failed, 1 skipped", ""),
    ],
)
def test_request_mode_unavailable(tmp_path: Path, mode: str, code: int, last_line: str | None, err_text: str) -> None:
    path = write_cases(tmp_path, RUN_CASES)
    got_code, out, err = run_cli(
        [str(path), "--mode", mode, "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine(request=False)
    )
    assert got_code == code
    assert err_text in err
    if last_line is None:
        assert out == ""
    else:
        assert out.splitlines()[-1] == last_line
        assert ("request mode unavailable" in out) is (mode == "both")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "no such file"),
        (["emptydir"], "no case files"),
        (["--mode", "sideways", "cases"], ""),
        ([], ""),
    ],
)
def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    (tmp_path / "emptydir").mkdir()
    write_cases(tmp_path, RUN_CASES)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(args, engine=StubEngine().engine(), out=out, err=err)
    assert code == 2
    assert message in err.getvalue()


def test_unloadable_file_is_a_failure(tmp_path: Path) -> None:
    path = write_cases(tmp_path, "cases: [unclosed\n")
    code, out, _ = run_cli([str(path), "-v", "--skiplist", str(write_skiplist(tmp_path, []))], StubEngine().engine())
    assert code == 1
    assert "FAILED [batch] <file>" in out and "cannot load" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed, 0 skipped"
    # A filter that names no case of the file leaves it out, as it leaves out the cases of loadable files.
    skiplist = str(write_skiplist(tmp_path, []))
    code, out, _ = run_cli([str(path), "--filter", "other", "--skiplist", skiplist], StubEngine().engine())
    assert code == 0 and out.splitlines()[-1] == "0 passed, 0 failed, 0 skipped"


def test_bad_case_data_fails_only_that_case(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path,
        """
        cases:
          - id: 0
            inputs: [{columns: ["c1 int"], rows: [["x"]]}]
            sql: select * from {0}
          - id: 1
            inputs: [{columns: ["c1 map<int>"]}]
            sql: select * from {0}
          - id: 2
            inputs: [{columns: ["c1 int"], rows: [[1]]}]
            sql: select * from {0}
            expect: {columns: ["c1 int"], rows: [["y"]]}
          - id: 3
            sql: error
            expect: {success: false}
        """,
    )
    report = run_files([path], ["batch"], StubEngine().engine())
    reasons = {o.id: (o.status, o.reason) for o in report.outcomes}
    assert reasons["0"][0] == "failed" and reasons["0"][1].startswith("bad case data: row 0: cannot read 'x' as int")
    assert reasons["1"][0] == "failed" and reasons["1"][1].startswith("bad case: column 'c1 map<int>'")
    assert reasons["2"][0] == "failed" and reasons["2"][1].startswith("bad case data: expected rows: row 0")
    assert reasons["3"] == ("passed", "")


def test_non_table_result_is_a_crash(tmp_path: Path) -> None:
    path = write_cases(tmp_path, "cases:\n  - id: 0\n    sql: odd\n    expect: {count: 0}\n")
    weird: Callable[..., Any] = lambda sql, tables, **kwargs: [1, 2]  # noqa: E731
    report = run_files([path], ["batch"], Engine(weird))
    assert report.outcomes[0].reason == "crash: engine returned list, not a pyarrow.Table"
