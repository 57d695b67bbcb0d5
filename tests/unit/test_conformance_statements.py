"""The conformance runner's ``statements`` cases (OpenMLDB's database-surface format), run against the real statement
executor: ``sqls`` lists, raw ``create``/``insert`` inputs, the Java harness's ``expect`` keys, ``tearDown``."""

from __future__ import annotations

import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openfeat_core.conformance.cases import CatExpect, IndexExpect, load_case_file, parse_input
from openfeat_core.conformance.runner import (
    FILE_RUNNERS,
    SkipEntry,
    SkipList,
    execute_case,
    load_engine,
    run_files,
    upstream_skip,
)
from openfeat_core.conformance.statement_cases import check_cat, check_indexes, create_table_sql, sql_text_key

INPUT = """inputs:
  - columns: ["c1 string", "c2 int", "c4 timestamp"]
    indexs: ["index1:c1:c4"]
    rows: [["aa", 1, 1590738989000], ["bb", 2, 1590738990000]]
"""


def run(tmp_path: Path, body: str, mode: str = "batch") -> tuple[str, str]:
    """Run the one case of ``body`` (the case's keys, indented under ``- id: 0``) in ``mode``."""
    path = tmp_path / "cases" / "f.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("cases:\n  - id: 0\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n")
    (case,) = load_case_file(path)
    assert case.kind == "statements"
    return execute_case(case, mode, load_engine())  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["batch", "request"])
@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        # Inputs as columns/rows, statements, the last one's rows compared.
        (
            INPUT + "sqls: [\"insert into {0} values ('cc', 3, 1590738991000)\", 'select c1, c2 from {0}']\n"
            "expect: {columns: [c1 string, c2 int], order: c2, rows: [[aa, 1], [bb, 2], [cc, 3]]}",
            "passed",
            "",
        ),
        (INPUT + "sqls: [show tables, 'select c2 from {0}']\nexpect: {count: 3}", "failed", "expected 3 rows, got 2"),
        # count of a statement without rows: the rows it wrote.
        (INPUT + "sql: \"select * from {0} into outfile '{0}.csv'\"\nexpect: {count: 2}", "passed", ""),
        (INPUT + "sql: show tables\nexpect: {count: 1}", "passed", ""),
        (INPUT + "sql: \"insert into {0} values ('x', 1, 1)\"\nexpect: {count: 2}", "failed", "(insert) gave 1"),
        # Raw create/insert inputs.
        (
            "inputs:\n  - create: create table {0} (c1 string, c2 int, index(key=c1))\n"
            "    insert: insert into {0} values ('x', 7)\n"
            "sql: select * from {0}\nexpect: {columns: [c1 string, c2 int], rows: [[x, 7]]}",
            "passed",
            "",
        ),
        (
            "inputs:\n  - create: create table {0} (c1 string, c2 int)\n    insert: insert into {0} values (1 2)\n"
            "sql: select * from {0}",
            "failed",
            "preparing the inputs: inputs[0] insert",
        ),
        # A prepared insert: the rows typed by the columns it fills and bound to its '?'s.
        (
            "inputs:\n  - create: create table {0} (c1 string, c2 int, c4 timestamp, index(key=c1, ts=c4))\n"
            "    insert: insert into {0} (c1, c4) values (?, ?)\n    rows: [[x, 1590738989000], ['null', 1]]\n"
            "sql: select c1 = 'null' as text_null, c2, c4 from {0}\n"
            "expect: {columns: [text_null bool, c2 int, c4 timestamp], order: c4,"
            " rows: [[true, null, 1], [false, null, 1590738989000]]}",
            "passed",
            "",
        ),
        # success: the last statement's, whatever the ones before it did (the harness goes on after an error).
        (INPUT + "sqls: [drop table nope, show tables]\nexpect: {success: true}", "passed", ""),
        (INPUT + "sqls: [show tables, drop table nope]\nexpect: {success: false}", "passed", ""),
        (INPUT + "sqls: [show tables, drop table nope]", "failed", "statement 2 of 2 'drop table nope' failed"),
        (INPUT + "sql: show tables\nexpect: {success: false}", "failed", "expected an error, but statement 1 of 1"),
        # deploymentCount, and tearDown errors that do not count.
        (
            INPUT + "sqls: ['deploy d1 select c1 from {0}', show deployments]\n"
            "tearDown: [drop deployment d1, drop deployment nope]\nexpect: {deploymentCount: 1}",
            "passed",
            "",
        ),
        (INPUT + "sql: show tables\nexpect: {deploymentCount: 0}", "failed", "needs a final SHOW DEPLOYMENTS"),
        # idxs: the indexes of the table the last DESC describes.
        (
            INPUT + "sql: desc {0}\nexpect: {idxs: [{keys: [c1], ts: c4, ttl: 0min, ttlType: kAbsoluteTime}]}",
            "passed",
            "",
        ),
        (INPUT + "sql: desc {0}\nexpect: {idxs: [{keys: [c2]}]}", "failed", "index 0 keys: expected ('c2',)"),
        (INPUT + "sql: show tables\nexpect: {idxs: [{keys: [c1]}]}", "failed", "expect.idxs needs a final DESC"),
        (
            INPUT + "sql: desc {0}\nexpect: {idxs: [{ttl: 100min}]}",
            "failed",
            "index 0 ttl: expected '100min', got '0min'",
        ),
        # options: partitionNum/replicaNum of the table expect.name, as DESC shows them.
        (
            "sql: create table t3 (c1 string, c4 timestamp,index(key=c1, ts=c4)) options (partitionnum=2, replicanum=1)"
            "\nexpect: {name: t3, options: {partitionNum: 2, replicaNum: 1}}",
            "passed",
            "",
        ),
        (
            "sql: create table t3 (c1 string, c4 timestamp, index(key=c1, ts=c4)) options (partitionnum=2)"
            "\nexpect: {name: t3, options: {partitionNum: 3}}",
            "failed",
            "table t3: partitionNum expected 3, got 2",
        ),
    ],
)
def test_statements_case(tmp_path: Path, body: str, status: str, reason: str, mode: str) -> None:
    got_status, got_reason = run(tmp_path, body, mode)
    assert got_status == status, got_reason
    assert reason in got_reason


@pytest.mark.parametrize(("key", "sql_last"), [("sqls", False), ("sql", True)])
def test_request_mode_runs_sqls_as_plain_statements(tmp_path: Path, key: str, sql_last: bool) -> None:
    """The Java harness's request executor computes only ``sql`` as a request; the last of ``sqls`` is a plain
    query, here one over a table the request input (the first input) is not part of."""
    final = "select x from tt"
    sqls = ["create table tt (x int)", "insert into tt values (5)"] + ([final] if key == "sqls" else [])
    body = INPUT + f"sqls: {sqls!r}\n" + (f"sql: {final}\n" if key == "sql" else "") + "expect: {rows: [[5]]}"
    status, reason = run(tmp_path, body, "request")
    (case,) = load_case_file(tmp_path / "cases" / "f.yaml")
    assert case.sql_last is sql_last
    if sql_last:
        # Computed as requests of the first input, whose columns the query does not read.
        assert status == "failed" and "missing column" in reason, reason
    else:
        assert (status, reason) == ("passed", "")


@pytest.mark.parametrize("mode", ["batch", "request"])
def test_a_request_is_checked_as_its_statement(tmp_path: Path, mode: str) -> None:
    """request_replay sees tables by name only; the query's database names are checked as the statement's are."""
    body = (
        "db: db1\ninputs:\n  - db: db1\n    columns: [c1 string, c2 int, c4 timestamp]\n"
        "    indexs: ['index1:c1:c4']\n    rows: [[aa, 1, 1590738989000]]\n"
        "sql: select db2.{0}.c1 from db2.{0}\nexpect: {success: false}"
    )
    assert run(tmp_path, body, mode) == ("passed", "")
    path = tmp_path / "cases" / "f.yaml"
    path.write_text(path.read_text().replace("db2", "db1").replace("success: false", "rows: [[aa]]"))
    (case,) = load_case_file(path)
    assert execute_case(case, mode, load_engine()) == ("passed", "")  # type: ignore[arg-type]


def test_settings_carry_over_between_statements(tmp_path: Path) -> None:
    """``SET @@execute_mode`` holds for the statements after it, as in one SDK connection: offline, the SELECT reads
    the (empty) workspace and fails, not the online store."""
    body = INPUT + "sqls: [\"set @@execute_mode='offline'\", 'select c1 from {0}']\nexpect: {success: false}"
    assert run(tmp_path, body) == ("passed", "")


DEPLOYED = (
    "deploy d1 select c1, sum(c2) over w as s from {0} "
    "window w as (partition by c1 order by c4 rows between 2 preceding and current row)"
)


@pytest.mark.parametrize(
    ("deployment", "status", "reason"),
    [
        (
            "{name: d1, dbName: default, inColumns: ['1,c1,kVarchar,NO', '2,c2,kInt32,NO', '3,c4,kTimestamp,NO'],"
            " outColumns: ['1,c1,kVarchar,NO', '2,s,kInt32,NO'], sql: 'DEPLOY d1 SELECT c1, sum(c2) OVER (w) AS s"
            " FROM {0} WINDOW w AS (PARTITION BY c1 ORDER BY c4 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) ;'}",
            "passed",
            "",
        ),
        ("{name: d2}", "failed", "deployment name: expected 'd2', got 'd1'"),
        ("{name: d1, outColumns: ['1,c1,kVarchar,NO']}", "failed", "deployment outColumns"),
        ("{name: d1, sql: 'DEPLOY d1 SELECT c1 FROM {0}'}", "failed", "deployment sql: expected"),
    ],
)
def test_deployment_expectation(tmp_path: Path, deployment: str, status: str, reason: str) -> None:
    body = INPUT + f"sqls: ['{DEPLOYED}', show deployment d1]\nexpect: {{deployment: {deployment}}}"
    got_status, got_reason = run(tmp_path, body)
    assert got_status == status, got_reason
    assert reason in got_reason


def test_deployment_expectation_needs_show_deployment(tmp_path: Path) -> None:
    status, reason = run(tmp_path, INPUT + "sql: show tables\nexpect: {deployment: {name: d1}}")
    assert status == "failed" and "needs a final SHOW DEPLOYMENT name" in reason


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("DEPLOY d SELECT\nc2 + 1 AS v\nFROM\nt\n;", "deploy d select c2+1 as v from t", True),
        ("SELECT sum(c) OVER (w1) AS s FROM t", "select sum(c) over w1 as s from t", True),
        ("SELECT c1 FROM t", "SELECT c2 FROM t", False),
    ],
)
def test_sql_text_key(a: str, b: str, equal: bool) -> None:
    assert (sql_text_key(a) == sql_text_key(b)) is equal


@pytest.mark.parametrize(
    ("node", "sql"),
    [
        (
            {"columns": ["c1 string NOT NULL", "c4 timestamp"], "indexs": ["index1:c1:c4"]},
            "CREATE TABLE t (c1 string NOT NULL, c4 timestamp, INDEX(KEY=(c1), TS=c4)) "
            "OPTIONS(partitionnum=1, replicanum=1)",
        ),
        (
            {"schema": "c1:string, c2:int, c4:timestamp", "index": "i:c1|c2:c4:(10m,10):absandlat", "storage": "SSD"},
            "CREATE TABLE t (c1 string, c2 int, c4 timestamp, INDEX(KEY=(c1,c2), TS=c4, TTL=(10m,10), "
            'TTL_TYPE=absandlat)) OPTIONS(partitionnum=1, replicanum=1, storage_mode="SSD")',
        ),
        (
            {"columns": ["c1 string"], "replicaNum": 3, "partitionNum": 8},
            "CREATE TABLE t (c1 string) OPTIONS(partitionnum=8, replicanum=3)",
        ),
    ],
)
def test_create_table_sql(node: dict[str, Any], sql: str) -> None:
    """The CREATE TABLE the Java harness makes of an input: index names dropped (OpenMLDB names them)."""
    assert create_table_sql(parse_input({"name": "t", **node}, 0, Path("x.yaml"))) == sql


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["h", "1", "2"], None),
        (["h", "2", "1"], None),  # an export's rows come in storage order, which OpenMLDB does not define
        (["h", "1"], "expected 3 lines, got 2"),
        (["x", "1", "2"], "line 1: expected 'h', got 'x'"),
        (["h", "1", "3"], "expected line '2' is not in the file, which has '3' instead"),
    ],
)
def test_check_cat(tmp_path: Path, lines: list[str], reason: str | None) -> None:
    (tmp_path / "out.csv").write_text("\n".join(lines) + "\n")
    got = check_cat(tmp_path, CatExpect("out.csv", ("h", "1", "2")))
    assert got is None if reason is None else reason in (got or "")


def test_cat_of_an_export_and_quoted_null_text(tmp_path: Path) -> None:
    """A quoted "null" in a rows list is the text null (the Java harness inserts 'null'); a YAML null is NULL."""
    body = """inputs:
  - columns: ["id int", "c1 string"]
    indexs: ["index1:c1"]
    rows: [[1, "null"], [2, null], [3, "a"]]
sqls: ["select * from {0} into outfile '{0}.csv' options(null_value='NA')"]
expect:
  cat: {path: "{0}.csv", lines: ["id,c1", "1,null", "2,NA", "3,a"]}
"""
    assert run(tmp_path, body) == ("passed", "")


def test_check_indexes_only_checks_given_fields() -> None:
    actual = [IndexExpect("index1", ("c1",), "c4", "100min", "kAbsoluteTime")]
    assert check_indexes(actual, [IndexExpect(keys=("c1",))]) is None
    assert "expected 2 indexes" in (check_indexes(actual, [IndexExpect(), IndexExpect()]) or "")
    assert "ttl: expected '10min'" in (check_indexes(actual, [IndexExpect(ttl="10min")]) or "")


# ---------------------------------------------------------------------------------------------------------------------
# Parameters and batch requests (query cases)
# ---------------------------------------------------------------------------------------------------------------------

BATCH_REQUEST_INPUT = """inputs:
  - columns: ["id int", "c1 string", "c3 int", "c7 timestamp"]
    indexs: ["index1:c1:c7"]
    rows: [[1, a, 1, 1000], [3, a, 3, 3000]]
sql: |
  select id, sum(c3) over w as s from {0}
  window w as (partition by c1 order by c7 rows between 2 preceding and current row)
"""


def run_query_case(tmp_path: Path, body: str, mode: str) -> tuple[str, str]:
    path = tmp_path / "cases" / "f.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("cases:\n  - id: 0\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n")
    (case,) = load_case_file(path)
    assert case.kind == "query"
    return execute_case(case, mode, load_engine())  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["batch", "request"])
@pytest.mark.parametrize(
    ("extra", "status", "reason"),
    [
        # Each request row sees the stored rows up to its time, never the other request rows.
        (
            "batch_request:\n  columns: [id int, c1 string, c3 int, c7 timestamp]\n"
            "  rows: [[2, a, 2, 2000], [4, a, 4, 4000]]\nexpect: {columns: [id int, s int], rows: [[2, 3], [4, 8]]}",
            "passed",
            "",
        ),
        (
            "batch_request:\n  columns: [id int, c1 string, c3 int, c7 timestamp]\n  common_column_indices: [1]\n"
            "  rows: [[2, a, 2, 2000], [4, b, 4, 4000]]\nexpect: {rows: [[2, 3], [4, 4]]}",
            "failed",
            "common column 'c1' is 'b' in row 1 and 'a' in row 0",
        ),
        # expect.common_column_indices: the outputs computed once (s: a common window over a common column).
        (
            "batch_request:\n  columns: [id int, c1 string, c3 int, c7 timestamp]\n  common_column_indices: [1, 2, 3]\n"
            "  rows: [[2, a, 2, 2000], [4, a, 2, 2000]]\nexpect: {rows: [[2, 3], [4, 3]], common_column_indices: [1]}",
            "passed",
            "",
        ),
        (
            "batch_request:\n  columns: [id int, c1 string, c3 int, c7 timestamp]\n  common_column_indices: [1, 3]\n"
            "  rows: [[2, a, 2, 2000], [4, a, 2, 2000]]\nexpect: {rows: [[2, 3], [4, 3]], common_column_indices: [1]}",
            "failed",
            "output common columns: expected [1], computed once []",
        ),
        (
            "batch_request:\n  columns: [id int, c1 string, c3 int, c7 timestamp]\n  rows: [[2, a, 2, 2000]]\n"
            "expect: {rows: [[2, 2]]}",
            "failed",
            "row 0 col s: expected 2, got 3",
        ),
    ],
)
def test_batch_request_case(tmp_path: Path, extra: str, status: str, reason: str, mode: str) -> None:
    got_status, got_reason = run_query_case(tmp_path, BATCH_REQUEST_INPUT + extra, mode)
    assert got_status == status, got_reason
    assert reason in got_reason


def test_parameters_reach_compute(tmp_path: Path) -> None:
    body = INPUT + (
        "sql: select c1 from {0} where c2 > ?\nparameters: {columns: [p int], rows: [[1]]}\n"
        "expect: {columns: [c1 string], rows: [[bb]]}"
    )
    assert run_query_case(tmp_path, body, "batch") == ("passed", "")
    (case,) = load_case_file(tmp_path / "cases" / "f.yaml")
    assert upstream_skip(case, "request", 0) == "parameterized query: upstream runs it in batch mode only"


# ---------------------------------------------------------------------------------------------------------------------
# The file-runner seam (restful cases)
# ---------------------------------------------------------------------------------------------------------------------

RESTFUL_FILE = """
baseCase:
  uri: /dbs/{db_name}
cases:
  - caseId: 0
    desc: first
  - caseId: 1
    desc: second
"""


@dataclass
class _Outcome:
    file: str
    id: str
    desc: str
    status: str
    reason: str = ""
    seconds: float = 0.0


@dataclass
class _Report:
    outcomes: list[_Outcome] = field(default_factory=list)


def test_restful_files_go_to_the_registered_file_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[Path], str | None]] = []

    def run_files_stub(files: list[Path], *, name_filter: str | None = None) -> _Report:
        calls.append((list(files), name_filter))
        return _Report([_Outcome("r.yaml", "0", "first", "passed"), _Outcome("r.yaml", "1", "second", "failed", "no")])

    module = types.ModuleType("fake_restful")
    module.run = run_files_stub  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_restful", module)
    monkeypatch.setitem(FILE_RUNNERS, "restful", "fake_restful:run")
    path = tmp_path / "r.yaml"
    path.write_text(RESTFUL_FILE)
    skiplist = SkipList([SkipEntry("r.yaml", "1", "request", "known")])
    report = run_files([path], ["batch", "request"], load_engine(), skiplist=skiplist)
    assert calls == [([path], None)]
    assert [(o.id, o.mode, o.status) for o in report.outcomes] == [
        ("0", "batch", "passed"),
        ("0", "request", "passed"),
        ("1", "batch", "failed"),
        ("1", "request", "skipped"),
    ]


def test_a_missing_file_runner_fails_every_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FILE_RUNNERS, "restful", "openfeat_core.conformance.no_such_module:run")
    path = tmp_path / "r.yaml"
    path.write_text(RESTFUL_FILE)
    report = run_files([path], ["batch"], load_engine())
    assert [o.status for o in report.outcomes] == ["failed", "failed"]
    assert "no_such_module, which does not exist yet" in report.outcomes[0].reason


def test_files_stay_in_the_case_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative OUTFILE lands in the case's own directory, not the caller's; any other path is refused."""
    monkeypatch.chdir(tmp_path)
    body = INPUT + "sqls: [\"select * from {0} into outfile '{0}.csv'\", \"select * from {0} into outfile '{0}.csv'\"]"
    # The second export finds the first one's file (error_if_exists): both ran in the same case directory.
    status, reason = run(tmp_path, body + "\nexpect: {success: false}")
    assert (status, reason) == ("passed", "")
    outside = tmp_path / "elsewhere" / "out.csv"
    status, reason = run(
        tmp_path, INPUT + f"sql: select * from {{0}} into outfile '{outside}'\nexpect: {{success: true}}"
    )
    assert status == "failed" and "is outside the data roots" in reason
    assert not outside.exists()
    assert not (tmp_path / "auto_t0.csv").exists()
