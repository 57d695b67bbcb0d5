"""OpenMLDB SQL statements (``openfeat_core.server.statements``) and the ``POST /dbs/{db}`` route that runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from openfeat_core.errors import OpenFeatError, OpenFeatSQLError
from openfeat_core.offline import statements
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import FeatureService, create_app
from openfeat_core.server.statements import PREVIEW_ROW_LIMIT, StatementError, execute_sql, split_statements
from openfeat_core.workspace import Workspace
from unit.test_online_service import Response, call

TX_DDL = (
    "CREATE TABLE tx (card bigint, ts timestamp, amount double, d date, name string, flag bool, small smallint, "
    "i int, f float, INDEX(KEY=card, TS=ts))"
)
#: A CSV of tx's columns: two cards, timestamps in the forms real files use, a NULL amount and a NULL name.
TX_CSV = (
    "card,ts,amount,d,name,flag,small,i,f\n"
    "1,2024-01-01 00:00:01,1.5,2024-01-01,a,true,1,10,0.5\n"
    "1,1704067202000,2.5,2024-01-02,b,false,2,20,1.5\n"
    "2,2024-01-01T00:00:03Z,null,2024-01-03,null,true,3,30,2.5\n"
)
#: TX_CSV's rows as the SQL route writes them (timestamps epoch ms, dates ISO strings).
TX_ROWS: list[list[Any]] = [
    [1, 1704067201000, 1.5, "2024-01-01", "a", True, 1, 10, 0.5],
    [1, 1704067202000, 2.5, "2024-01-02", "b", False, 2, 20, 1.5],
    [2, 1704067203000, None, "2024-01-03", None, True, 3, 30, 2.5],
]
TX_TYPES = ["Int64", "Timestamp", "Double", "Date", "String", "Bool", "Int16", "Int32", "Float"]
FEATURES = (
    "SELECT card, ts, sum(amount) OVER w AS s, count(amount) OVER w AS c FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
#: A request after TX_ROWS are stored, and its features: card 1's amounts 1.5 + 2.5 + 4.0 within 10 s.
REQUEST_ROW: list[Any] = [1, 1704067205000, 4.0, "2024-01-05", "z", True, 1, 1, 1.0]
EXPECTED_FEATURES: list[Any] = [1, 1704067205000, 8.0, 3]


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    path.write_text(TX_CSV)
    return path


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def app(ws_path: Path, tmp_path: Path) -> Iterator[FeatureService]:
    """The service over an empty store, with a workspace as offline storage and the test's directory as data root."""
    service = create_app(OnlineStore(), workspace=str(ws_path), data_roots=[str(tmp_path)])
    yield service
    service.close()


def sql(app: FeatureService, text: str, mode: str = "online", db: str = "demo_db") -> Response:
    return call(app, "POST", f"/dbs/{db}", {"mode": mode, "sql": text})


def ok(app: FeatureService, text: str, mode: str = "online") -> dict[str, Any]:
    r = sql(app, text, mode)
    assert r.status == 200, r.body
    body: dict[str, Any] = r.json()
    assert body["code"] == 0
    return body


def rows(app: FeatureService, text: str, mode: str = "online") -> list[list[Any]]:
    data: list[list[Any]] = ok(app, text, mode)["data"]["data"]
    return data


def state(app: FeatureService) -> tuple[Any, ...]:
    """Everything a failed statement must leave unchanged: tables, their rows, deployments, workspace versions."""
    store = app.store
    tables = {t: store.describe_table(t)["rows"] for t in store.list_tables()}
    deployments = {d: store.describe_deployment(d)["versions"] for d in store.list_deployments()}
    assert app.workspace is not None
    versions = {v.table: v.version for v in app.workspace.list_tables()}
    return tables, deployments, versions


# ---------------------------------------------------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 1", ["SELECT 1"]),
        ("  SELECT 1 ;; ; SELECT 2;  \n", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b'; SELECT \"c;d\"", ["SELECT 'a;b'", 'SELECT "c;d"']),
        (r"SELECT 'it\'s;'; SELECT 2", [r"SELECT 'it\'s;'", "SELECT 2"]),
        ("SELECT `we;ird` FROM t; SELECT 2", ["SELECT `we;ird` FROM t", "SELECT 2"]),
        ("-- a comment; still a comment\nSELECT 1; /* ; */ SELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1 -- trailing; comment", ["SELECT 1 -- trailing; comment"]),
        ("-- only a comment;\n ; ", []),
        (
            "USE demo_db; set @@job_timeout=200000; LOAD DATA INFILE 'file:///tmp/x;y.csv' INTO TABLE t "
            "OPTIONS(mode='append');",
            [
                "USE demo_db",
                "set @@job_timeout=200000",
                "LOAD DATA INFILE 'file:///tmp/x;y.csv' INTO TABLE t OPTIONS(mode='append')",
            ],
        ),
    ],
)
def test_split_statements_respects_quotes_and_comments(text: str, expected: list[str]) -> None:
    assert split_statements(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1;\nSELECT 'abc", "line 2, column 8: unterminated string"),
        ("SELECT `abc", "line 1, column 8: unterminated quoted name"),
        ("SELECT 1 /* x", "line 1, column 10: unterminated /* comment"),
    ],
)
def test_split_statements_refuses_unterminated_quotes(text: str, message: str) -> None:
    with pytest.raises(OpenFeatSQLError) as info:
        split_statements(text)
    assert str(info.value).startswith(message)


# ---------------------------------------------------------------------------------------------------------------------
# CREATE TABLE
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddl", "schema", "indexes"),
    [
        (
            "CREATE TABLE t (c1 string, c2 int NOT NULL, c3 bigint DEFAULT 5, c7 timestamp, INDEX(KEY=c1, TS=c7), "
            "INDEX(KEY=(c1, c2), TS=c7, TTL=(10m, 100), TTL_TYPE=absandlat))",
            [("c1", "string"), ("c2", "int"), ("c3", "bigint"), ("c7", "timestamp")],
            ["INDEX_0:c1:c7", "INDEX_1:c1|c2:c7:10m,100:absandlat"],
        ),
        (
            "create database demo_db; create table if not exists demo_db.t (`c 1` varchar(20), c2 smallint, d date, "
            "f float, x double, "
            "b bool, index named (key=c2)) options (partitionnum=8, replicanum=1, "
            "distribution=[('127.0.0.1:6527', [])])",
            [("c 1", "string"), ("c2", "smallint"), ("d", "date"), ("f", "float"), ("x", "double"), ("b", "bool")],
            ["named:c2"],
        ),
        # No index: OpenMLDB's default one, on the first column.
        ("CREATE TABLE t (index int, ts timestamp)", [("index", "int"), ("ts", "timestamp")], ["INDEX_0:index"]),
    ],
)
def test_create_table_translates_columns_and_indexes(
    ddl: str, schema: list[tuple[str, str]], indexes: list[str]
) -> None:
    store = OnlineStore()
    result = execute_sql(store, ddl, "offsync")
    assert (result.kind, result.rows) == ("create_table", None)
    info = store.describe_table("t")
    assert (info["schema"], info["declared_indexes"]) == (schema, indexes)


def test_create_table_if_not_exists_keeps_the_existing_table() -> None:
    store = OnlineStore()
    execute_sql(store, "CREATE TABLE t (a int)", "online")
    execute_sql(store, "CREATE TABLE IF NOT EXISTS t (b string)", "online")
    assert store.describe_table("t")["schema"] == [("a", "int")]
    with pytest.raises(StatementError, match="table 't' already exists"):
        execute_sql(store, "CREATE TABLE t (b string)", "online")


# ---------------------------------------------------------------------------------------------------------------------
# INSERT and the online preview
# ---------------------------------------------------------------------------------------------------------------------


def test_insert_then_select_preview(app: FeatureService) -> None:
    ok(app, TX_DDL)
    values = (
        "(1, '2024-01-01 00:00:01', 1.5, '2024-01-01', 'a', true, 1, 10, 0.5), "
        "(1, 1704067202000, 2.5, '2024-01-02', \"b\", false, 2, 20, 1.5), "
        "(2, '2024-01-01T00:00:03Z', NULL, '2024-01-03', NULL, TRUE, 3, 30, 2.5)"
    )
    assert ok(app, f"INSERT INTO tx VALUES {values}") == {"code": 0, "msg": "ok"}
    body = ok(app, "SELECT * FROM tx")
    assert body["data"] == {"schema": TX_TYPES, "data": TX_ROWS}
    # a column list: the others are NULL; negative numbers and expressions of the engine in the query
    ok(app, "INSERT INTO tx (name, card, amount) VALUES ('c', 3, -4)")
    assert rows(app, "SELECT card, amount * 2 AS a2, ts FROM tx WHERE card = 3") == [[3, -8.0, None]]
    assert app.store.describe_table("tx")["rows"] == 4


def test_select_preview_is_capped(app: FeatureService) -> None:
    ok(app, "CREATE TABLE t (id bigint)")
    app.store.insert("t", [[i] for i in range(PREVIEW_ROW_LIMIT + 5)])
    body = ok(app, "SELECT id FROM t")
    assert body["data"]["data"] == [[i] for i in range(PREVIEW_ROW_LIMIT)]
    assert f"first {PREVIEW_ROW_LIMIT} of {PREVIEW_ROW_LIMIT + 5} rows" in body["msg"]
    assert ok(app, "SELECT id FROM t LIMIT 3") == {
        "code": 0,
        "msg": "ok",
        "data": {"schema": ["Int64"], "data": [[0], [1], [2]]},
    }


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("INSERT INTO tx (card, i) VALUES (1, 'x')", "row 1, column 'i' (int): 'x': expected an integer"),
        ("INSERT INTO tx (card, i) VALUES (1, 2), (2, 3000000000)", "row 2, column 'i' (int): 3000000000: out of"),
        ("INSERT INTO tx (card, small) VALUES (1, 40000)", "column 'small' (smallint): 40000: out of the range"),
        ("INSERT INTO tx (card, ts) VALUES (1, 'yesterday')", "column 'ts' (timestamp): 'yesterday': not a timestamp"),
        ("INSERT INTO tx (card, d) VALUES (1, '2024-13-01')", "column 'd' (date): '2024-13-01': not a date"),
        ("INSERT INTO tx (card, flag) VALUES (1, 1)", "column 'flag' (bool): 1: expected true or false"),
        ("INSERT INTO tx (card, name) VALUES (1, 2)", "column 'name' (string): 2: expected a quoted string"),
        ("INSERT INTO tx (card, amount) VALUES (1, 2, 3)", "row 1: 3 values for 2 columns (card, amount)"),
        ("INSERT INTO tx (card, nope) VALUES (1, 2)", "table 'tx' has no column(s) 'nope'"),
        ("INSERT INTO nope VALUES (1)", "unknown table 'nope' (tables: tx)"),
        (
            "INSERT INTO tx VALUES (1, now)",
            "column 27: expected a literal (number, 'string', NULL, true or false), found 'now'",
        ),
        ("INSERT INTO tx (card, ts) VALUES (1, nope(2))", "row 1, column 'ts': nope(2): "),
        ("INSERT INTO tx (card, i) VALUES (1, map(1, 2))", "row 1, column 'i' (int): map(1, 2) is a map<int, int>"),
    ],
)
def test_bad_insert_is_a_400_naming_row_and_column(app: FeatureService, statement: str, message: str) -> None:
    ok(app, TX_DDL)
    ok(app, "INSERT INTO tx (card) VALUES (7)")
    before = state(app)
    r = sql(app, statement)
    assert r.status == 400
    assert r.json()["code"] == -1
    assert r.json()["msg"].startswith(f"statement {statement!r}: ")
    assert message in r.json()["msg"]
    assert state(app) == before


# ---------------------------------------------------------------------------------------------------------------------
# LOAD DATA
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "file://"])
def test_load_data_online_appends_to_the_store(app: FeatureService, tx_csv: Path, prefix: str) -> None:
    ok(app, TX_DDL)
    ok(app, f"LOAD DATA INFILE '{prefix}{tx_csv}' INTO TABLE tx")  # online: no mode means append
    ok(app, f"LOAD DATA INFILE '{prefix}{tx_csv}' INTO TABLE tx OPTIONS(mode='append', format='csv')")
    assert rows(app, "SELECT * FROM tx") == TX_ROWS + TX_ROWS
    before = state(app)
    r = sql(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='overwrite')")
    assert r.status == 400
    assert "online LOAD DATA only appends, and table 'tx' holds 6 rows: use mode='append'" in r.json()["msg"]
    assert state(app) == before


def test_load_data_online_with_csv_options(app: FeatureService, tmp_path: Path) -> None:
    path = tmp_path / "no_header.csv"
    path.write_text("1;NA;x y\n2;2.5;NA\n")
    ok(app, "CREATE TABLE t (id int, v double, s string)")
    ok(app, f"LOAD DATA INFILE '{path}' INTO TABLE t OPTIONS(header=false, delimiter=';', null_value='NA')")
    assert rows(app, "SELECT * FROM t") == [[1, None, "x y"], [2, 2.5, None]]


def test_load_data_offline_appends_beside_a_concurrent_writer(
    app: FeatureService, tx_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer commits while LOAD DATA reads its file: the append re-bases onto it (both kept); an
    overwrite that read an older version fails with a conflict and commits nothing."""
    ok(app, TX_DDL, "offsync")
    ok(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx", "offsync")
    ws = app.workspace
    assert ws is not None
    read_infile = statements.read_infile

    def read_while_another_writer_appends(*args: Any, **kwargs: Any) -> pa.Table:
        data = read_infile(*args, **kwargs)
        ws.write_table("tx", ws.read_table("tx").slice(0, 1), append=True)
        return data

    monkeypatch.setattr(statements, "read_infile", read_while_another_writer_appends)
    ok(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='append')", "offsync")
    assert [v.num_rows for v in ws.versions("tx")] == [3, 4, 7]  # the other writer's row and ours
    r = sql(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='overwrite')", "offsync")
    assert r.status != 200 and "version" in r.json()["msg"], r.json()
    assert [v.num_rows for v in ws.versions("tx")] == [3, 4, 7, 8]  # only the other writer's commit


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_load_data_offline_writes_workspace_versions(
    app: FeatureService, tx_csv: Path, tmp_path: Path, file_format: str
) -> None:
    source = str(tx_csv)
    if file_format == "parquet":
        source = str(tmp_path / "tx.parquet")
        # inferred types (int64, strings for dates...): the load converts them to the table's
        pq.write_table(pacsv.read_csv(tx_csv, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)), source)
    load = f"LOAD DATA INFILE '{source}' INTO TABLE tx OPTIONS(format='{file_format}'"
    ok(app, TX_DDL, "offsync")
    ws = app.workspace
    assert ws is not None
    ok(app, load + ")", "offsync")  # error_if_exists, the default, on a table without offline data
    assert [v.num_rows for v in ws.versions("tx")] == [3]
    before = state(app)
    r = sql(app, load + ")", "offsync")
    assert r.status == 400
    assert "table 'tx' already has offline data" in r.json()["msg"]
    assert "mode is 'error_if_exists': use mode='overwrite' or mode='append'" in r.json()["msg"]
    assert state(app) == before
    ok(app, load + ", mode='append')", "offasync")
    ok(app, load + ", mode='append')", "offsync")
    assert [v.num_rows for v in ws.versions("tx")] == [3, 6, 9]
    assert rows(app, "SELECT * FROM tx", "offsync") == TX_ROWS * 3
    ok(app, load + ", mode='overwrite')", "offsync")
    assert [v.num_rows for v in ws.versions("tx")] == [3, 6, 9, 3]
    assert ws.read_table("tx").schema.equals(ws.versions("tx")[0].schema)
    assert rows(app, "SELECT * FROM tx", "offsync") == TX_ROWS
    # online storage untouched by offline loads
    assert app.store.describe_table("tx")["rows"] == 0
    assert ws.table_info("tx").lineage["openfeat"]["task"] == "load_data"


def test_load_data_bad_row_names_file_line_and_column(app: FeatureService, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,v\n1,1.0\n2,oops\n")
    ok(app, "CREATE TABLE t (id int, v double)")
    for mode in ("online", "offsync"):
        before = state(app)
        r = sql(app, f"LOAD DATA INFILE '{path}' INTO TABLE t OPTIONS(mode='append')", mode)
        assert r.status == 400
        assert f"1 bad row(s), nothing was loaded: {path}, line 3, column 'v'" in r.json()["msg"]
        assert state(app) == before


def test_offline_statements_need_a_workspace(tx_csv: Path) -> None:
    service = create_app(OnlineStore())
    try:
        assert call(service, "POST", "/dbs/db", {"mode": "offsync", "sql": TX_DDL}).status == 200
        for statement in (f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx", "SELECT * FROM tx"):
            r = call(service, "POST", "/dbs/db", {"mode": "offsync", "sql": statement})
            assert r.status == 400
            assert "needs the offline storage, a workspace: start the service with --workspace" in r.json()["msg"]
        r = call(service, "POST", "/dbs/db", {"mode": "offsync", "sql": "SELECT card FROM tx LIMIT 0"})
        assert r.status == 400
    finally:
        service.close()


# ---------------------------------------------------------------------------------------------------------------------
# SELECT INTO OUTFILE
# ---------------------------------------------------------------------------------------------------------------------


def test_select_into_outfile_offline(app: FeatureService, tx_csv: Path, tmp_path: Path) -> None:
    ok(app, TX_DDL, "offsync")
    ok(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx", "offsync")
    query = "SELECT card, ts, name, amount FROM tx"
    expected_csv = (
        "card,ts,name,amount\n"
        "1,2024-01-01T00:00:01.000Z,a,1.5\n"
        "1,2024-01-01T00:00:02.000Z,b,2.5\n"
        "2,2024-01-01T00:00:03.000Z,null,null\n"
    )
    # one file: the path names one
    csv_file = tmp_path / "out" / "feats.csv"
    assert ok(app, f"{query} INTO OUTFILE '{csv_file}'", "offsync") == {"code": 0, "msg": "ok"}
    assert csv_file.read_text() == expected_csv
    before = state(app)
    r = sql(app, f"{query} INTO OUTFILE '{csv_file}'", "offsync")
    assert r.status == 400
    assert f"{csv_file} already exists (mode='error_if_exists')" in r.json()["msg"]
    assert csv_file.read_text() == expected_csv
    assert state(app) == before
    ok(app, f"{query} INTO OUTFILE 'file://{csv_file}' OPTIONS(mode='append', header=true)", "offsync")
    assert csv_file.read_text() == expected_csv + expected_csv.split("\n", 1)[1]
    ok(app, f"{query} INTO OUTFILE '{csv_file}' OPTIONS(mode='overwrite', delimiter='|', null_value='')", "offsync")
    assert csv_file.read_text() == expected_csv.replace(",", "|").replace("null", "")
    # a directory of part files (OpenMLDB's offline layout), for a path without extension
    out_dir = tmp_path / "feature_data"
    ok(app, f"{query} INTO OUTFILE '{out_dir}' OPTIONS(mode='overwrite')", "offsync")
    ok(app, f"{query} INTO OUTFILE '{out_dir}' OPTIONS(mode='append')", "offsync")
    parts = sorted(out_dir.iterdir())
    assert [p.suffix for p in parts] == [".csv", ".csv"]
    assert all(p.read_text() == expected_csv for p in parts)
    ok(app, f"{query} INTO OUTFILE '{out_dir}' OPTIONS(mode='overwrite')", "offsync")
    assert [p.read_text() for p in out_dir.iterdir()] == [expected_csv]
    # parquet, read back
    pq_file = tmp_path / "feats.parquet"
    ok(app, f"{query} INTO OUTFILE '{pq_file}' OPTIONS(format='parquet')", "offsync")
    assert pq.read_table(pq_file).column("name").to_pylist() == ["a", "b", None]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_select_into_outfile_online_exports_the_store(app: FeatureService, tmp_path: Path) -> None:
    ok(app, "CREATE TABLE t (id bigint)")
    app.store.insert("t", [[i] for i in range(PREVIEW_ROW_LIMIT + 1)])
    out = tmp_path / "all.csv"
    ok(app, f"SELECT id FROM t INTO OUTFILE '{out}' OPTIONS(header=false)")
    assert out.read_text().split() == [str(i) for i in range(PREVIEW_ROW_LIMIT + 1)]  # not capped


# ---------------------------------------------------------------------------------------------------------------------
# DEPLOY, SHOW, DESC, DROP, SET
# ---------------------------------------------------------------------------------------------------------------------


def test_deploy_then_request_through_the_deployment_route(app: FeatureService, tx_csv: Path) -> None:
    ok(app, TX_DDL)
    ok(app, f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='append')")
    ok(app, f"DEPLOY feats OPTIONS(skip_index_check='true') {FEATURES}")
    ok(app, f"DEPLOY IF NOT EXISTS feats {FEATURES.replace('10s', '1s')}")  # exists: left alone
    assert app.store.describe_deployment("feats")["versions"] == 1
    r = call(app, "POST", "/dbs/demo_db/deployments/feats", {"input": [REQUEST_ROW]})
    assert r.status == 200, r.body
    assert r.json()["data"]["data"] == [EXPECTED_FEATURES]
    assert rows(app, "SHOW DEPLOYMENTS") == [["demo_db", "feats"]]


def test_show_desc_drop_and_databases(app: FeatureService) -> None:
    body = ok(
        app, "CREATE DATABASE IF NOT EXISTS demo_db; USE demo_db; CREATE TABLE b (x int); CREATE TABLE a (y string)"
    )
    assert body == {"code": 0, "msg": "ok"}
    assert ok(app, "SHOW TABLES")["data"] == {"schema": ["String"], "data": [["a"], ["b"]]}
    assert rows(app, "SHOW DATABASES") == [["demo_db"]]
    assert rows(app, "CREATE DATABASE other; USE other; SHOW DATABASES") == [["demo_db"], ["other"]]
    assert rows(app, "DESC b") == [["x", "int", "YES", ""]]
    assert rows(app, "DROP TABLE a; DROP TABLE IF EXISTS a; SHOW TABLES") == [["b"]]
    ok(app, f"CREATE TABLE tx (card bigint, ts timestamp, amount double); DEPLOY f {FEATURES}")
    r = sql(app, "DROP TABLE tx")
    assert (r.status, "used by deployment(s) f" in r.json()["msg"]) == (400, True)
    assert rows(app, "DROP DEPLOYMENT f; DROP DEPLOYMENT IF EXISTS f; DROP TABLE tx; SHOW DEPLOYMENTS") == []
    assert app.store.list_tables() == ["b"]


def test_set_execute_mode_switches_the_rest_of_the_batch(app: FeatureService, tx_csv: Path) -> None:
    ok(app, TX_DDL)
    batch = (
        "SET @@session.execute_mode='offline'; "
        f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='overwrite'); "
        "SET @@execute_mode = 'online'; "
        f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx; "
        "SELECT count(card) AS n FROM tx"
    )
    assert ok(app, batch)["data"] == {"schema": ["Int64"], "data": [[3]]}
    assert app.workspace is not None and app.workspace.table_info("tx").num_rows == 3
    assert app.store.describe_table("tx")["rows"] == 3


def test_dolphinscheduler_style_batch(app: FeatureService, tx_csv: Path) -> None:
    ok(app, "CREATE DATABASE IF NOT EXISTS demo_db; USE demo_db; " + TX_DDL, "offsync")
    batch = (
        "USE demo_db; set @@job_timeout=200000; "
        f"LOAD DATA INFILE 'file://{tx_csv}' INTO TABLE tx OPTIONS(mode='append');"
    )
    assert ok(app, batch, "offsync") == {"code": 0, "msg": "ok"}
    assert ok(app, batch, "offsync") == {"code": 0, "msg": "ok"}
    assert app.workspace is not None
    assert [v.num_rows for v in app.workspace.versions("tx")] == [3, 6]


# ---------------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"mode": "online", "sql": "SELECT card FROM tx; SELECT card FROM tx WHERE"},
            400,
            "statement 2 of 2 'SELECT card FROM tx WHERE' (statements 1-1 took effect): line 1, column 25: syntax "
            "error",
        ),
        (
            {"mode": "offsync", "sql": "SELECT x FROM nope"},
            400,
            "statement 'SELECT x FROM nope': line 1, column 15: unknown table 'nope'",
        ),
        (
            {"mode": "online", "sql": "SHOW TABLES; INSERT INTO tx (card) VALUES ('one'); DROP TABLE tx"},
            400,
            "statement 2 of 3 \"INSERT INTO tx (card) VALUES ('one')\" (statements 1-1 took effect): row 1, "
            "column 'card' (bigint): 'one': expected an integer",
        ),
        (
            {"mode": "online", "sql": "ALTER TABLE tx ADD COLUMN x int"},
            400,
            "statement 'ALTER TABLE tx ADD COLUMN x int': unsupported statement: 'ALTER'",
        ),
        ({"mode": "online", "sql": "CREATE VIEW v AS SELECT 1"}, 400, "unsupported statement: 'CREATE VIEW'"),
        ({"mode": "online", "sql": "SHOW FUNCTIONS"}, 400, "unsupported statement: 'SHOW FUNCTIONS'"),
        (
            # Offline, an INSERT appends to the offline data, its values checked as online.
            {"mode": "offsync", "sql": "INSERT INTO tx (card) VALUES ('one')"},
            400,
            "row 1, column 'card' (bigint): 'one': expected an integer",
        ),
        (
            {"mode": "online", "sql": "CREATE TABLE t2 (a int, INDEX(KEY=b))"},
            400,
            "index 'INDEX_0:b': key 'b' is not a column",
        ),
        ({"mode": "online", "sql": "CREATE TABLE t2 (a integer_ish)"}, 400, "column 'a': unknown type 'integer_ish'"),
        (
            {"mode": "online", "sql": "LOAD DATA INFILE '/x.csv' INTO TABLE tx OPTIONS(colour='red')"},
            400,
            "unknown LOAD DATA option(s) colour",
        ),
        (
            {"mode": "online", "sql": "LOAD DATA INFILE '/no/such/file.csv' INTO TABLE tx"},
            403,  # outside the data roots: refused before it is looked for
            "/no/such/file.csv",
        ),
        ({"mode": "online", "sql": "SET @@execute_mode='batch'"}, 400, "@@execute_mode must be 'online' or 'offline'"),
        ({"mode": "online", "sql": " ; -- nothing"}, 400, "the SQL holds no statement"),
        ({"mode": "online", "sql": "SELECT 'abc"}, 400, "line 1, column 8: unterminated string"),
        ({"mode": "sync", "sql": "SELECT 1"}, 400, "field 'mode' must be one of 'offsync', 'offasync', 'online'"),
        ({"sql": "SELECT 1"}, 400, "field 'mode' must be one of"),
        ({"mode": "online"}, 400, "field 'sql' must be a non-empty string"),
        (
            {
                "mode": "online",
                "sql": "SELECT card FROM tx WHERE card = ?",
                "input": {"schema": ["Int64"], "data": [1]},
            },
            400,
            "field 'input' (values for '?' placeholders) is not supported",
        ),
    ],
)
def test_errors_are_4xx_naming_the_statement_and_change_nothing(
    app: FeatureService, body: dict[str, Any], status: int, message: str
) -> None:
    ok(app, TX_DDL)
    ok(app, "INSERT INTO tx (card) VALUES (7)")
    before = state(app)
    r = call(app, "POST", "/dbs/demo_db", body)
    assert r.status == status
    assert r.json()["code"] == -1
    assert message in r.json()["msg"]
    assert state(app) == before


def test_sql_route_label_and_method(app: FeatureService) -> None:
    ok(app, "SHOW TABLES")
    r = call(app, "GET", "/dbs/demo_db")
    assert (r.status, r.headers["allow"]) == (405, "POST")
    metrics = call(app, "GET", "/metrics").body.decode()
    assert 'openfeat_http_requests_total{route="/dbs/{db}",method="POST",status="200"} 1' in metrics


def test_execute_sql_without_http(tmp_path: Path, tx_csv: Path) -> None:
    store = OnlineStore(timezone="Asia/Shanghai")
    ws = Workspace.open(tmp_path / "ws")
    result = execute_sql(
        store,
        f"{TX_DDL}; LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='overwrite'); SELECT card, ts FROM tx",
        "offsync",
        workspace=ws,
    )
    assert (result.kind, result.statements, result.total_rows, result.truncated) == ("select", 3, 3, False)
    assert result.rows is not None
    # naive timestamps in the file are wall-clock times of the store's zone (UTC+8)
    assert result.rows.column("ts").cast(pa.int64()).to_pylist()[0] == 1704067201000 - 8 * 3600 * 1000
    with pytest.raises(OpenFeatError, match="unknown mode 'batch'"):
        execute_sql(store, "SELECT 1", "batch")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------------
# The OpenMLDB Airflow provider's requests, replayed
# ---------------------------------------------------------------------------------------------------------------------


def test_airflow_provider_requests_replayed(app: FeatureService, tx_csv: Path, tmp_path: Path) -> None:
    """The JSON bodies apache-airflow-providers-openmldb's operators POST to /dbs/{db} (hook.submit_job): the SQL
    operator's create table, the load-data operator's ``LOAD DATA ... OPTIONS(mode='overwrite')``, the select-into
    operator's ``<sql> INTO OUTFILE '<path>' OPTIONS(mode='overwrite')`` and the deploy operator's
    ``DEPLOY <name> <sql>`` in online mode. The provider only checks ``code == 0``."""
    out_dir = tmp_path / "feature_data"

    def submit(mode: str, statement: str) -> dict[str, Any]:
        r = call(app, "POST", "/dbs/example_db", {"mode": mode, "sql": statement})
        assert r.status == 200, r.body
        body: dict[str, Any] = r.json()
        assert body["code"] == 0
        return body

    submit(
        "offsync",
        "create table example_table (card bigint, ts timestamp, amount double, d date, name string, "
        "flag bool, small smallint, i int, f float)",
    )
    submit("offsync", f"LOAD DATA INFILE 'file://{tx_csv}' INTO TABLE example_table OPTIONS(mode='overwrite')")
    submit(
        "offsync",
        f"select card, sum(amount) over w as s from example_table window w as (partition by card order by ts "
        f"rows between 2 preceding and current row) INTO OUTFILE 'file://{out_dir}' OPTIONS(mode='overwrite')",
    )
    (part,) = out_dir.iterdir()
    assert part.read_text() == "card,s\n1,1.5\n1,4\n2,null\n"
    submit("online", f"LOAD DATA INFILE '{tx_csv}' INTO TABLE example_table OPTIONS(mode='append')")
    submit("online", "DEPLOY demo_deploy " + FEATURES.replace("FROM tx", "FROM example_table"))
    r = call(app, "POST", "/dbs/example_db/deployments/demo_deploy", {"input": [REQUEST_ROW]})
    assert r.json()["data"]["data"] == [EXPECTED_FEATURES]


# ---------------------------------------------------------------------------------------------------------------------
# `openfeat serve --workspace`, in its own process
# ---------------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, payload: Any) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_workspace_option_end_to_end(tmp_path: Path, tx_csv: Path) -> None:
    port = _free_port()
    ws = tmp_path / "served-ws"
    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", "none", "--port", str(port)]
    command += ["--workspace", str(ws), "--log-level", "warning", "--data-root", str(tmp_path), "--no-token"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENFEAT_")}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/dbs/demo_db"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"openfeat serve exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"openfeat serve did not start: {log_path.read_text()}"
            try:
                status, _ = _post(url, {"mode": "offsync", "sql": TX_DDL})
                break
            except OSError:
                time.sleep(0.05)
        assert status == 200
        load = f"LOAD DATA INFILE '{tx_csv}' INTO TABLE tx OPTIONS(mode='overwrite')"
        assert _post(url, {"mode": "offsync", "sql": load}) == (200, {"code": 0, "msg": "ok"})
        status, body = _post(url, {"mode": "offsync", "sql": "SELECT card, name FROM tx"})
        assert (status, body["data"]) == (200, {"schema": ["Int64", "String"], "data": [[1, "a"], [1, "b"], [2, None]]})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, log_path.read_text()
    assert Workspace.open(ws).table_info("tx").num_rows == 3


# ---------------------------------------------------------------------------------------------------------------------
# Object storage: s3:// sources, workspace and OUTFILE (a real S3 server)
# ---------------------------------------------------------------------------------------------------------------------


def test_s3_load_select_and_outfile(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.environ.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.bucket
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="statements/in/tx.csv", Body=TX_CSV.encode())
    service = create_app(
        OnlineStore(), workspace=f"s3://{bucket}/statements/ws", data_roots=[f"s3://{bucket}/statements"]
    )
    try:
        ok(service, TX_DDL, "offsync")
        ok(
            service,
            f"LOAD DATA INFILE 's3://{bucket}/statements/in/tx.csv' INTO TABLE tx OPTIONS(mode='overwrite')",
            "offsync",
        )
        assert rows(service, "SELECT * FROM tx", "offsync") == TX_ROWS
        for _ in range(2):  # overwrite replaces the part file of the first run
            ok(
                service,
                f"SELECT card, name FROM tx INTO OUTFILE 's3://{bucket}/statements/out' OPTIONS(mode='overwrite')",
                "offsync",
            )
        listing = client.list_objects_v2(Bucket=bucket, Prefix="statements/out/")["Contents"]
        (part,) = [o["Key"] for o in listing if o["Key"].endswith(".csv")]
        content = client.get_object(Bucket=bucket, Key=part)["Body"].read().decode()
        assert content == "card,name\n1,a\n1,b\n2,null\n"
        ok(service, f"LOAD DATA INFILE 's3://{bucket}/statements/in/tx.csv' INTO TABLE tx", "online")
        assert service.store.describe_table("tx")["rows"] == 3
    finally:
        service.close()
