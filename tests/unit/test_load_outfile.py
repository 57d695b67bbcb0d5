"""LOAD DATA and SELECT ... INTO OUTFILE through the statement runner, with OpenMLDB's options and errors, and the
job list (SHOW JOBS, SHOW JOB id, STOP JOB id) of the offline statements.

The statements are the shapes of OpenMLDB's cases (function/out_in/test_out_in.yaml, function/v040/test_job.yaml):
relative paths from the runner's ``workdir``, OpenMLDB's online CSV text, its option checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openfeat_core.errors import DataError
from openfeat_core.io.export import _fixed_float_text
from openfeat_core.offline.jobs import JOB_SCHEMA
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import create_app
from openfeat_core.server.statements import StatementError, StatementResult, execute_sql
from openfeat_core.sql.dialect import parse_sql
from openfeat_core.sql.statements import JobStatement
from openfeat_core.workspace import Workspace
from unit.test_online_service import call

COLUMNS = "id int, c1 string, c5 float, c6 double, c7 timestamp, c8 date, c9 bool"
ROWS = (
    "(1, 'aa', 1.1, 2.1, 1590738989000, '2020-05-01', true), "
    "(2, 'null', 1.2, 1e-9, 1590738990000, '2020-05-02', false), "
    "(3, null, null, 2.3, 1590738991000, '2020-05-03', null)"
)
HEADER = "id,c1,c5,c6,c7,c8,c9"


def store_with_rows() -> OnlineStore:
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c7)); CREATE TABLE u ({COLUMNS})", "online")
    execute_sql(store, f"INSERT INTO t VALUES {ROWS}", "online")
    return store


def run(store: OnlineStore, sql: str, workdir: Path, mode: str = "online", **kwargs: object) -> StatementResult:
    return execute_sql(store, sql, mode, workdir=str(workdir), **kwargs)  # type: ignore[arg-type]


def ids(result: StatementResult) -> list[int]:
    assert result.rows is not None
    return sorted(result.rows.column("id").to_pylist())


# ---------------------------------------------------------------------------------------------------------------------
# INTO OUTFILE in online mode: what OpenMLDB's SDK writes
# ---------------------------------------------------------------------------------------------------------------------
def test_online_outfile_writes_openmldb_text(tmp_path: Path) -> None:
    store = store_with_rows()
    result = run(store, "SELECT * FROM t INTO OUTFILE 'out.csv'", tmp_path)  # relative: from the workdir
    assert (result.kind, result.affected_rows) == ("select_into", 3)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == HEADER
    # epoch-ms timestamps, six decimals where exact (1e-9 is not: it keeps its exact form), "null", no quotes
    assert sorted(lines[1:]) == [
        "1,aa,1.100000,2.100000,1590738989000,2020-05-01,true",
        "2,null,1.200000,1e-9,1590738990000,2020-05-02,false",
        "3,null,null,2.300000,1590738991000,2020-05-03,null",
    ]


def test_online_outfile_append_with_header_writes_it_again(tmp_path: Path) -> None:
    store = store_with_rows()
    run(store, "SELECT id FROM t WHERE id = 1 INTO OUTFILE 'a.csv'", tmp_path)
    run(store, "SELECT id FROM t WHERE id = 2 INTO OUTFILE 'a.csv' OPTIONS(mode='append', header=true)", tmp_path)
    run(store, "SELECT id FROM t WHERE id = 3 INTO OUTFILE 'a.csv' OPTIONS(mode='append', header=false)", tmp_path)
    assert (tmp_path / "a.csv").read_text().splitlines() == ["id", "1", "id", "2", "3"]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SELECT * FROM t INTO OUTFILE 'y.csv' OPTIONS(head=true)", "unknown INTO OUTFILE option(s) head"),
        ("SELECT * FROM t INTO OUTFILE 'y.csv' OPTIONS(header='true')", "option header must be true or false"),
        ("SELECT * FROM t INTO OUTFILE 'y.csv' OPTIONS(format='txt')", "option format must be 'csv' or 'parquet'"),
        ("SELECT * FROM t INTO OUTFILE 'y.csv' OPTIONS(mode='true')", "option mode must be one of"),
        ("SELECT * FROM t INTO OUTFILE 'y.csv' OPTIONS(coalesce=0)", "option coalesce must be a positive integer"),
        ("SELECT * FROM t INTO OUTFILE 'x.csv'", "x.csv already exists (mode='error_if_exists')"),
        ("SELECT * FROM t INTO OUTFILE 'x.csv' OPTIONS(header='false')", "option header must be true or false"),
        ("SELECT * FROM t INTO OUTFILE 'missing/y.csv'", "its directory"),
        ("SELECT c1 FROM t INTO OUTFILE 'y.csv' OPTIONS(delimiter='a')", "contains the delimiter"),
        ("INSERT INTO t VALUES (1, 'aa', 1.0, 1.0, 1, '2020-01-01', true) OUTFILE 'x.csv'", "expected the end"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(format='txt')", "option format must be 'csv' or 'parquet'"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(deep_copy='true')", "option deep_copy must be true or false"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(load_mode='remote')", "option load_mode must be one of"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(thread=0)", "option thread must be a positive integer"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(writer_type='bulk')", "option writer_type must be one of"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(mode='duplicate')", "option mode must be one of"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t OPTIONS(foo='bar')", "unknown LOAD DATA option(s) foo"),
        ("LOAD DATA INFILE 'nothing.csv' INTO TABLE t", "does not exist"),
        ("LOAD DATA INFILE 'x.csv' INTO TABLE t11", "unknown table 't11'"),
    ],
)
def test_bad_options_and_targets_are_errors_that_change_nothing(tmp_path: Path, statement: str, message: str) -> None:
    store = store_with_rows()
    (tmp_path / "x.csv").write_text(f"{HEADER}\n")
    with pytest.raises(StatementError, match=re.escape(message)):
        run(store, statement, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]
    assert ids(run(store, "SELECT id FROM t", tmp_path)) == [1, 2, 3]


# ---------------------------------------------------------------------------------------------------------------------
# Export then load back (online: the rows are appended to the store)
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("out_options", "load_options"),
    [
        ("", ""),
        ("OPTIONS(delimiter='@')", "OPTIONS(delimiter='@')"),
        ("OPTIONS(header=false)", "OPTIONS(header=false)"),
        ("OPTIONS(null_value='')", "OPTIONS(null_value='')"),
        ("OPTIONS(null_value='~!@#$%^&*()_+')", "OPTIONS(null_value='~!@#$%^&*()_+')"),
        ("OPTIONS(format='csv', quote='\"')", "OPTIONS(format='csv', quote='\"', load_mode='local', thread=2)"),
        ("OPTIONS(format='parquet')", "OPTIONS(format='parquet', deep_copy=false)"),
    ],
)
def test_export_then_load_round_trips(tmp_path: Path, out_options: str, load_options: str) -> None:
    store = store_with_rows()
    run(store, f"SELECT * FROM t INTO OUTFILE 'f.txt' {out_options}", tmp_path)
    result = run(store, f"LOAD DATA INFILE 'f.txt' INTO TABLE u {load_options}; SELECT * FROM u", tmp_path)
    assert result.rows is not None
    original = run(store, "SELECT * FROM t", tmp_path).rows
    assert original is not None
    key = [("id", "ascending")]
    loaded, expected = result.rows.sort_by(key).to_pylist(), original.sort_by(key).to_pylist()
    if "null_value" not in out_options and "quote" not in out_options and "parquet" not in out_options:
        expected[1]["c1"] = None  # the string 'null' is written as OpenMLDB writes NULL: it reads back as NULL
    assert loaded == expected


@pytest.mark.parametrize(
    ("out_options", "load_options", "message"),
    [
        ("OPTIONS(header=false)", "OPTIONS(header=true)", "not found"),  # the first row is no header
        ("OPTIONS(header=true)", "OPTIONS(header=false)", "cannot read 'id' as int"),  # the header is no row
        ("", "OPTIONS(delimiter='@')", "nothing was loaded|column"),
    ],
)
def test_a_load_that_does_not_match_the_file_fails_whole(
    tmp_path: Path, out_options: str, load_options: str, message: str
) -> None:
    store = store_with_rows()
    run(store, f"SELECT * FROM t INTO OUTFILE 'f.csv' {out_options}", tmp_path)
    with pytest.raises(StatementError, match=message):
        run(store, f"LOAD DATA INFILE 'f.csv' INTO TABLE u {load_options}", tmp_path)
    assert ids(run(store, "SELECT id FROM u", tmp_path)) == []


def test_a_load_into_the_table_it_came_from_appends(tmp_path: Path) -> None:
    store = store_with_rows()
    run(store, "SELECT * FROM t INTO OUTFILE 't.csv'", tmp_path)
    assert ids(run(store, "LOAD DATA INFILE 't.csv' INTO TABLE t; SELECT id FROM t", tmp_path)) == [1, 1, 2, 2, 3, 3]


# ---------------------------------------------------------------------------------------------------------------------
# Jobs: the offline statements are recorded, SHOW JOBS / SHOW JOB / STOP JOB answer in OpenMLDB's shape
# ---------------------------------------------------------------------------------------------------------------------
def test_offline_statements_are_jobs(tmp_path: Path) -> None:
    store = store_with_rows()
    ws = Workspace.open(tmp_path / "ws")
    run(store, "SELECT * FROM t INTO OUTFILE 'f.csv'", tmp_path)  # online: no job
    load = "LOAD DATA INFILE 'f.csv' INTO TABLE u OPTIONS(mode='overwrite')"
    for statement in (load, "SELECT id FROM u", "SELECT id FROM u INTO OUTFILE 'g.csv'"):
        run(store, statement, tmp_path, "offsync", workspace=ws)
    with pytest.raises(StatementError, match="nowhere"):
        run(store, "SELECT id FROM nowhere", tmp_path, "offsync", workspace=ws)
    run(store, "LOAD DATA INFILE 'f.csv' INTO TABLE u OPTIONS(load_mode='local')", tmp_path)  # online, local: no job
    run(store, "LOAD DATA INFILE 'f.csv' INTO TABLE u", tmp_path)  # online, the cluster loader: a job
    rows = run(store, "SHOW JOBS", tmp_path).rows
    assert rows is not None and rows.schema.equals(JOB_SCHEMA)
    jobs = rows.to_pylist()
    assert [(j["id"], j["job_type"], j["state"], j["parameter"]) for j in jobs] == [
        (1, "ImportOfflineData", "FINISHED", load),
        (2, "RunBatchAndShow", "FINISHED", "SELECT id FROM u"),
        (3, "RunBatchSql", "FINISHED", "SELECT id FROM u INTO OUTFILE 'g.csv'"),
        (4, "RunBatchAndShow", "FAILED", "SELECT id FROM nowhere"),
        (5, "ImportOnlineData", "FINISHED", "LOAD DATA INFILE 'f.csv' INTO TABLE u"),
    ]
    assert all(j["start_time"] <= j["end_time"] and j["cluster"] == "local" for j in jobs)
    assert [j["error"] is None for j in jobs] == [True, True, True, False, True]
    assert "nowhere" in jobs[3]["error"]
    shown = run(store, "SHOW JOB 3", tmp_path)
    assert shown.rows is not None and shown.rows.to_pylist() == [jobs[2]]
    stopped = run(store, "STOP JOB 3", tmp_path)  # an ended job stays as it is
    assert (stopped.kind, stopped.rows) == ("stop_job", shown.rows)
    # the job list belongs to the store: another store has none
    other = OnlineStore()
    assert run(other, "SHOW JOBS", tmp_path).rows == pa.table([[] for _ in JOB_SCHEMA], schema=JOB_SCHEMA)


@pytest.mark.parametrize(
    ("statement", "error", "message"),
    [
        ("SHOW JOB 7", StatementError, "Job not found: 7"),
        ("STOP JOB 7", StatementError, "Job not found: 7"),
        ("SHOW JOB x", StatementError, "expected a job id"),
        ("SHOW JOB 1 2", StatementError, "expected the end of the statement"),
        ("STOP JOBE 1", StatementError, "unsupported statement: 'STOP JOBE'"),
        ("SHOW JOBS 1", StatementError, "expected the end of the statement"),
    ],
)
def test_job_statement_errors(tmp_path: Path, statement: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        run(OnlineStore(), statement, tmp_path)


@pytest.mark.parametrize(
    ("sql", "job_id", "action"),
    [("SHOW JOBS", None, "show"), ("show job 12", 12, "show"), ("Stop Job 3", 3, "stop")],
)
def test_job_statements_parse(sql: str, job_id: int | None, action: str) -> None:
    node = parse_sql(sql)
    assert isinstance(node, JobStatement)
    assert (node.this, node.args["action"]) == (job_id, action)


# ---------------------------------------------------------------------------------------------------------------------
# The six-decimal float text
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([1.1, 2.0, -0.5, None], pa.float32(), ["1.100000", "2.000000", "-0.500000", None]),
        (
            [2.1, 1e-9, 123456.789, 0.1 + 0.2],
            pa.float64(),
            ["2.100000", "1e-9", "123456.789000", "0.30000000000000004"],
        ),
        ([float("nan"), float("inf")], pa.float64(), ["nan", "inf"]),
        ([], pa.float64(), []),
    ],
)
def test_fixed_float_text_is_six_decimals_where_exact(
    values: list[float | None], dtype: pa.DataType, expected: list[str | None]
) -> None:
    assert _fixed_float_text(pa.array(values, dtype)).to_pylist() == expected


def test_job_list_lookup_error_is_a_data_error() -> None:
    from openfeat_core.offline.jobs import JobLog

    with pytest.raises(DataError, match="Job not found: 1"):
        JobLog().get(1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fixed_float_text_is_c_printf_where_that_is_exact_and_never_loses_a_value(dtype: type) -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(0, 1e3, 4000)
    edges = np.array([1e12 + 0.5, -0.0, 1e30, -1e-7, 5e-7, 9e9, 123456789.123456, float("inf")])
    parts = [np.round(base[:1000], 1), np.round(base[1000:2000], 6), base[2000:], rng.normal(0, 1e-5, 200), edges]
    values: np.ndarray = np.concatenate(parts).astype(dtype)
    texts = _fixed_float_text(pa.array(values)).to_pylist()
    for value, text in zip(values.tolist(), texts, strict=True):
        c_text = f"{value:f}"  # C's %f
        if dtype(float(c_text)) == dtype(value):
            assert text == c_text
        assert dtype(float(text)) == dtype(value)


def test_show_jobs_through_the_sql_route(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,c1\n1,aa\n")
    app = create_app(OnlineStore(), workspace=str(tmp_path / "ws"), data_roots=[str(tmp_path)])
    try:
        load = f"LOAD DATA INFILE '{tmp_path}/a.csv' INTO TABLE t"
        assert (
            call(
                app, "POST", "/dbs/db", {"mode": "offsync", "sql": f"CREATE TABLE t (id int, c1 string); {load}"}
            ).status
            == 200
        )
        r = call(app, "POST", "/dbs/db", {"mode": "online", "sql": "SHOW JOBS"})
        assert r.status == 200
        data = r.json()["data"]
        assert data["schema"] == ["Int32", "String", "String", "Timestamp", "Timestamp", *["String"] * 4]
        assert [row[:3] + row[5:] for row in data["data"]] == [
            [1, "ImportOfflineData", "FINISHED", load, "local", None, None]
        ]
        r = call(app, "POST", "/dbs/db", {"mode": "online", "sql": "SHOW JOB 2"})
        assert (r.status, r.json()) == (400, {"code": -1, "msg": "statement 'SHOW JOB 2': Job not found: 2"})
    finally:
        app.close()
