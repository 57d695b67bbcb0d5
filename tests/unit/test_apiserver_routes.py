"""OpenMLDB APIServer compatibility: procedures (CREATE PROCEDURE, GET/POST /dbs/{db}/procedures/{name}), batch
requests with common columns, table descriptions, and the APIServer's error answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from openfeat_core.errors import DataError
from openfeat_core.online.procedures import batch_request, join_procedure_pieces, procedure_info
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import FeatureService, create_app, parse_json
from openfeat_core.server.statements import execute_sql, split_statements
from tests.unit.test_online_service import call

TABLE = (
    "create table t1 (id int, c1 string not null, c3 int, c4 bigint, c5 float, c6 double, c7 timestamp, "
    "index(key=c1, ts=c7, ttl=(10h, 10), ttl_type=absandlat), index(key=id, ts=c7, ttl=1000, ttl_type=latest));"
    "insert into t1 values (1, 'a', 1, 30, 1.0, 2.0, 1590738990000);"
)
PLAIN = "create procedure sp(id int,const c1 string,c3 int,const c4 bigint,c5 float,const c6 double,c7 timestamp)\n"
PLAIN += "BEGIN\nSELECT * from t1;\nEND;\n"
WINDOW = (
    "create procedure sw(id int, const c1 string, c3 int, c4 bigint, c5 float, c6 double, c7 timestamp) BEGIN "
    "SELECT id, c1, sum(c3) OVER w AS s3 FROM t1 "
    "WINDOW w AS (PARTITION BY c1 ORDER BY c7 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW); END;"
)


def _store() -> OnlineStore:
    store = OnlineStore()
    execute_sql(store, TABLE, "online")
    execute_sql(store, PLAIN, "online")
    execute_sql(store, WINDOW, "online")
    return store


@pytest.fixture
def app() -> Iterator[FeatureService]:
    service = create_app(_store())
    yield service
    service.close()


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        (PLAIN, [PLAIN]),
        ("select 1; " + PLAIN + "select 2", ["select 1", PLAIN.rstrip("\n"), "select 2"]),
        (
            "create procedure p(a int) BEGIN SELECT a FROM t END",
            ["create procedure p(a int) BEGIN SELECT a FROM t END"],
        ),
    ],
)
def test_a_procedure_is_one_statement(sql: str, statements: list[str]) -> None:
    assert split_statements(sql) == statements


def test_join_procedure_pieces_keeps_the_text_as_sent() -> None:
    assert join_procedure_pieces(["create procedure p(a int) BEGIN SELECT a FROM t", " END", "\n"]) == [
        "create procedure p(a int) BEGIN SELECT a FROM t; END;\n"
    ]


def test_procedure_info() -> None:
    store = _store()
    plain = procedure_info(store, "sp")
    assert plain is not None
    assert (plain.statement, plain.tables, plain.input_common, plain.output_common) == (
        PLAIN,
        ("t1",),
        ("c1", "c4", "c6"),
        ("c1", "c4", "c6"),
    )
    window = procedure_info(store, "sw")
    assert window is not None and (window.input_common, window.output_common) == (("c1",), ())
    store.deploy("d", "SELECT id FROM t1")
    assert procedure_info(store, "d") is None  # a DEPLOY is not a procedure
    assert procedure_info(store, "nope") is None


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("create procedure sp(a int) BEGIN SELECT * FROM t1; END;", "already exists"),
        ("create procedure p2(id int, c1 string) BEGIN SELECT * FROM t1; END;", "must be the columns of its main"),
        ("create procedure p3(id int) BEGIN SELECT * FROM nope; END;", "nope"),
        ("create procedure p4(id int) BEGIN END;", "SELECT"),
    ],
)
def test_create_procedure_errors(sql: str, fragment: str) -> None:
    store = _store()
    with pytest.raises(Exception, match=fragment):
        execute_sql(store, sql, "online")
    assert store.list_deployments() == ["sp", "sw"]


def test_drop_procedure() -> None:
    store = _store()
    execute_sql(store, "drop procedure sp;", "online")
    assert store.list_deployments() == ["sw"]


def test_batch_request_rows_do_not_see_each_other() -> None:
    store = _store()
    rows = [[2, "a", 2, 31, 1.1, 2.1, 1590738991000], [3, "a", 5, 31, 1.2, 2.1, 1590738992000]]
    result = batch_request(store, "sw", rows, [1])
    assert result.names == ("id", "c1", "s3")
    # Each row sees the stored row (c3 = 1) and itself, never the other request row.
    assert result.columns[2].to_pylist() == [3, 6]
    assert store.describe_table("t1")["rows"] == 1
    # The same rows as an Arrow table of the request columns.
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(store.table_schema("t1").names)})
    table = table.cast(store.table_schema("t1").remove_metadata())
    assert batch_request(store, "sw", table, [1]).columns[2].to_pylist() == [3, 6]


@pytest.mark.parametrize(
    ("rows", "indices", "fragment"),
    [
        ([[2, "a", 2, 31, 1.1, 2.1, 1], [3, "b", 5, 31, 1.2, 2.1, 2]], [1], "common column 'c1' is 'b' in row 1"),
        ([[2, "a", 2, 31, 1.1, 2.1, 1]], [9], "common column index 9 is out of range"),
        ([[2, "a", 2]], [], "3 values for 7 columns"),
    ],
)
def test_batch_request_errors(rows: list[list[Any]], indices: list[int], fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        batch_request(_store(), "sw", rows, indices)


def test_get_procedure(app: FeatureService) -> None:
    r = call(app, "GET", "/dbs/db/procedures/sp")
    data = r.json()["data"]
    assert (r.status, data["name"], data["procedure"], data["tables"]) == (200, "sp", PLAIN, ["t1"])
    assert data["input_schema"][:2] == [{"name": "id", "type": "int32"}, {"name": "c1", "type": "string"}]
    assert (data["input_common_cols"], data["output_common_cols"]) == (["c1", "c4", "c6"], ["c1", "c4", "c6"])


def test_call_procedure_with_common_columns(app: FeatureService) -> None:
    body = {"common_cols": ["a", 31, 2.1], "input": [[2, 2, 1.5, 1590738991000], [4, 3, 1.25, 1590738993000]]}
    r = call(app, "POST", "/dbs/db/procedures/sp", {**body, "need_schema": True})
    data = r.json()["data"]
    assert data["data"] == [[2, 2, 1.5, 1590738991000], [4, 3, 1.25, 1590738993000]]
    assert data["common_cols_data"] == ["a", 31, 2.1]
    assert [c["name"] for c in data["schema"]] == ["id", "c1", "c3", "c4", "c5", "c6", "c7"]
    windowed = call(app, "POST", "/dbs/db/procedures/sw", {"common_cols": ["a"], "input": [[2, 2, 3, 1.5, 2.5, 9]]})
    # c7 = 9 ms lies before the stored row: the window holds the request row alone.
    assert windowed.json()["data"] == {"data": [[2, "a", 2]], "common_cols_data": []}


ROW = [[2, 2, 1.5, 1590738991000]]


@pytest.mark.parametrize(
    ("path", "body", "status", "msg"),
    [
        ("/dbs/db/procedures/sp", b'{"input": [[1,2,3,4]], "need_schema": True}', 400, "Json parse failed"),
        ("/dbs/db/procedures/sp", {"common_cols": None, "input": ROW}, 400, "common_cols is not array"),
        ("/dbs/db/procedures/sp", {"common_cols": ["a"], "input": ROW}, 400, "Invalid common cols size"),
        ("/dbs/db/procedures/sp", {"common_cols": ["a", 31, 2.1], "input": []}, 400, "Invalid input"),
        ("/dbs/db/procedures/sp", {"common_cols": ["a", 31, 2.1]}, 400, "Invalid input"),
        ("/dbs/db/procedures/sp", {"common_cols": ["a", 31, 2.1], "input": [[1]]}, 400, "Invalid input data row"),
        ("/dbs/db/procedures/nope", {"input": ROW}, 404, "procedure not found, msg: nope does not exist in db"),
    ],
)
def test_call_procedure_errors(app: FeatureService, path: str, body: Any, status: int, msg: str) -> None:
    r = (
        call(app, "POST", path, raw=body, headers={"content-type": "application/json"})
        if isinstance(body, bytes)
        else call(app, "POST", path, body)
    )
    assert (r.status, r.json()["code"], r.json()["msg"]) == (status, -1, msg)


def test_table_description_is_the_apiservers(app: FeatureService) -> None:
    r = call(app, "GET", "/dbs/db/tables/t1").json()
    table = r["table"]
    assert (r["code"], r["msg"], table["name"], table["partition_num"], table["replica_num"]) == (0, "ok", "t1", 1, 1)
    assert table["column_desc"][:2] == [
        {"name": "id", "type": "int", "not_null": False},
        {"name": "c1", "type": "varchar", "not_null": True},
    ]
    assert [(k["col_name"], k["ts_name"], k["ttl"]) for k in table["column_key"]] == [
        (["c1"], "c7", {"ttl_type": "absandlat", "abs_ttl": 600, "lat_ttl": 10}),
        (["id"], "c7", {"ttl_type": "latest", "lat_ttl": 1000}),
    ]
    assert r["data"]["name"] == "t1"  # OpenFeat's own description stays
    listed = call(app, "GET", "/dbs/db/tables").json()
    assert ([t["name"] for t in listed["tables"]], listed["data"]) == (["t1"], {"tables": ["t1"]})


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "msg", "detail"),
    [
        ("GET", "/db/x/tables", None, 404, "no match method", "no route for '/db/x/tables'"),
        ("POST", "/dbs/db/tables/t1", {"value": [[1]]}, 405, "no match method", "method POST is not allowed"),
        ("GET", "/dbs/db/tables/nope", None, 404, "Table not found", "unknown table 'nope'"),
        ("PUT", "/dbs/db/tables/nope", {"value": [[1]]}, 404, "table nope does not exist in database db", "nope"),
        ("PUT", "/dbs/db/tables/t1", {"value": [[1, "a"]]}, 400, "Translate to insert row failed", "2 values"),
        ("PUT", "/dbs/db/tables/t1", {"value": [[1] * 8]}, 400, "column size != schema size", "8 values"),
        ("PUT", "/dbs/db/tables/t1", {"value": []}, 400, "Invalid value in body, only support to put one row", ""),
        ("PUT", "/dbs/db/tables/t1", [[]], 400, "Invalid value in body, only support to put one row", "object"),
    ],
)
def test_error_answers(
    app: FeatureService, method: str, path: str, body: Any, status: int, msg: str, detail: str
) -> None:
    r = call(app, method, path, body)
    answer = r.json()
    assert (r.status, answer["code"], answer["msg"]) == (status, -1, msg)
    assert detail in answer.get("detail", "")
    assert app.store.describe_table("t1")["rows"] == 1


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (b"", "Json parse failed, error code: 1"),
        (b'{"a": 1} 2', "Json parse failed, error code: 2"),
        (b'{"a": True}', "Json parse failed, error code: 3"),
        (b'{"a": 1 "b": 2}', "Json parse failed, error code: 6"),
        ('{"value": [["v1",11\uff0c1]]}'.encode(), "Json parse failed, error code: 7"),
        (b'{"a": "x\\q"}', "Json parse failed, error code: 10"),
        (b"\xff", "Json parse failed, error code: 12"),
    ],
)
def test_json_parse_failures_carry_rapidjsons_code(body: bytes, msg: str) -> None:
    with pytest.raises(Exception) as caught:
        parse_json(body)
    assert getattr(caught.value, "msg", None) == msg
    assert getattr(caught.value, "detail", None)


def test_procedure_answers_dates_as_the_apiserver_writes_them() -> None:
    store = OnlineStore()
    execute_sql(store, "create table td (k string, d date, t timestamp, index(key=k, ts=t));", "online")
    execute_sql(store, "create procedure pd(k string, d date, t timestamp) BEGIN SELECT k, d FROM td; END;", "online")
    service = create_app(store)
    try:
        r = call(service, "POST", "/dbs/db/procedures/pd", {"input": [["a", "2020-05-02", 1]]})
        assert r.json()["data"]["data"] == [["a", "2020-5-2"]]
    finally:
        service.close()
