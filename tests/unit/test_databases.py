"""Tables and deployments per database (docs/semantics.md §12): the same name in two databases, statements and the
Python API resolving names per database, durability (a restart, a crash, a store written before tables were kept per
database) and the APIServer's ``/dbs/{db}/...`` routes."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openfeat_core.errors import OpenFeatError
from openfeat_core.online.store import OnlineStore
from openfeat_core.online.wal import DurableLog
from openfeat_core.server.service import FeatureService, create_app
from openfeat_core.server.statements import StatementResult, execute_sql
from openfeat_core.workspace import Workspace
from tests.unit.test_online_service import call

TABLE = "(c1 string, c2 int, c3 bigint, INDEX(KEY=c1, TS=c3))"
WINDOW = "WINDOW w AS (PARTITION BY c1 ORDER BY c3 ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)"
DEPLOY = f"DEPLOY d SELECT c1, sum(c2) OVER w AS s FROM t1 {WINDOW}"
# db1.t1 holds one row of key aa, db2.t1 two (and a key bb); t2 is db2's only.
SETUP = (
    "CREATE DATABASE db1; CREATE DATABASE db2; "
    f"CREATE TABLE db1.t1 {TABLE}; CREATE TABLE db2.t1 {TABLE}; CREATE TABLE db2.t2 {TABLE}; "
    "INSERT INTO db1.t1 VALUES ('aa', 1, 10); "
    "USE db2; INSERT INTO t1 VALUES ('aa', 2, 20), ('bb', 3, 30)"
)


def run(store: OnlineStore, sql: str, db: str = "db1") -> StatementResult:
    return execute_sql(store, sql, "online", db=db)


def rows(store: OnlineStore, sql: str, db: str = "db1") -> list[list[Any]]:
    result = run(store, sql, db).rows
    assert result is not None
    return sorted(list(r.values()) for r in result.to_pylist())


@pytest.fixture
def store() -> OnlineStore:
    s = OnlineStore()
    run(s, SETUP)
    return s


@pytest.mark.parametrize(
    ("db", "sql", "expected"),
    [
        ("db1", "SELECT c2 FROM t1", [[1]]),
        ("db2", "SELECT c2 FROM t1", [[2], [3]]),
        ("db1", "SELECT c2 FROM db2.t1", [[2], [3]]),
        (
            "db",
            "SELECT db1.t1.c1, db1.t1.c2, db2.t1.c3 FROM db1.t1 LAST JOIN db2.t1 ORDER BY db2.t1.c3 "
            "ON db1.t1.c1 = db2.t1.c1",
            [["aa", 1, 20]],
        ),
        (
            "db1",
            "SELECT t1.c2, db2.t1.c2 AS other FROM t1 LAST JOIN db2.t1 ORDER BY db2.t1.c3 ON t1.c1 = db2.t1.c1",
            [[1, 2]],
        ),
        ("db1", "SELECT a.c2, b.c2 AS b2 FROM t1 AS a LAST JOIN db2.t1 AS b ORDER BY b.c3 ON a.c1 = b.c1", [[1, 2]]),
        ("db1", "SHOW TABLES", [["t1"]]),
        ("db2", "SHOW TABLES", [["t1"], ["t2"]]),
        ("db1", "DESC db2.t1", [["c1", "string", "YES", ""], ["c2", "int", "YES", ""], ["c3", "bigint", "YES", ""]]),
    ],
)
def test_a_name_means_the_table_of_its_database(store: OnlineStore, db: str, sql: str, expected: list[Any]) -> None:
    assert rows(store, sql, db) == expected


@pytest.mark.parametrize(
    ("sql", "table", "expected"),
    [
        ("INSERT INTO db2.t1 VALUES ('cc', 4, 40)", "db2.t1", 3),
        ("DELETE FROM db2.t1 WHERE c1 = 'aa'", "db2.t1", 1),
        ("DELETE FROM t1 WHERE c1 = 'aa'", "db1.t1", 0),
        ("DROP TABLE db2.t2", "db2.t1", 2),
    ],
)
def test_writes_reach_the_table_of_the_named_database(store: OnlineStore, sql: str, table: str, expected: int) -> None:
    run(store, sql)
    assert store.scan(table).num_rows == expected
    untouched = "db1.t1" if table == "db2.t1" else "db2.t1"
    assert store.scan(untouched).num_rows == {"db1.t1": 1, "db2.t1": 2}[untouched]


def test_the_python_api_names_a_shared_name_with_its_database(store: OnlineStore) -> None:
    assert store.list_tables() == ["db1.t1", "db2.t1", "t2"]
    assert store.list_tables("db2") == ["t1", "t2"]
    assert store.table_database("t2") == "db2"  # a name one database holds needs no database
    with pytest.raises(OpenFeatError, match=r"table 't1' is in several databases \(db1.t1, db2.t1\)"):
        store.scan("t1")
    run(store, "DROP TABLE db2.t1")
    assert store.list_tables() == ["t1", "t2"]
    assert store.scan("t1").num_rows == 1


def test_deployments_are_per_database(store: OnlineStore) -> None:
    run(store, DEPLOY, "db1")
    run(store, DEPLOY, "db2")
    request = [{"c1": "aa", "c2": 100, "c3": 50}]
    assert store.request("db1.d", request).to_pylist() == [{"c1": "aa", "s": 101}]
    assert store.request("db2.d", request).to_pylist() == [{"c1": "aa", "s": 102}]
    assert rows(store, "SHOW DEPLOYMENTS", "db2") == [["db2", "d"]]
    assert run(store, "SHOW DEPLOYMENT db2.d").details["db"] == "db2"  # type: ignore[index]
    assert store.list_deployments() == ["db1.d", "db2.d"]
    run(store, "DROP DEPLOYMENT db2.d")  # from db1: db2's is dropped, db1's stays
    assert store.list_deployments() == ["d"]
    assert store.describe_deployment("d")["database"] == "db1"
    run(store, "DROP TABLE db2.t1")  # no deployment reads it any more
    with pytest.raises(OpenFeatError, match="used by deployment"):
        run(store, "DROP TABLE t1")


@pytest.mark.parametrize(
    ("db", "sql", "message"),
    [
        ("db1", "SELECT c1 FROM t2", "table 't2' is not in database 'db1': it is in database 'db2' (name it db2.t2)"),
        ("db1", "INSERT INTO t2 VALUES ('x', 1, 1)", "table 't2' is not in database 'db1': it is in database 'db2'"),
        ("db1", "SELECT c1 FROM nope.t1", "unknown database 'nope'"),
        ("db1", "SELECT c1 FROM db1.t2", "table 't2' is not in database 'db1': it is in database 'db2'"),
        ("db1", "CREATE TABLE t1 (c1 string)", "table 't1' already exists in database 'db1'"),
        ("db1", "DEPLOY e SELECT c1 FROM db2.t1", "a deployment reads tables of its own database (db1) only"),
        ("db1", "DROP DEPLOYMENT d", "unknown deployment 'd' (deployments: none; database 'db2' has one: db2.d) in"),
        ("db2", "USE db1; DROP DEPLOYMENT db1.d", "database 'db2' has one: db2.d"),
        ("db1", "SHOW DEPLOYMENT db1.d", "unknown deployment 'd'"),
    ],
)
def test_a_name_of_another_database_is_a_clear_error(store: OnlineStore, db: str, sql: str, message: str) -> None:
    run(store, DEPLOY, "db2")
    with pytest.raises(OpenFeatError) as info:
        run(store, sql, db)
    assert message in str(info.value)


def test_a_table_made_without_a_database_is_in_every_one(store: OnlineStore) -> None:
    store.create_table("api", "c1 string, c2 int")
    assert rows(store, "SHOW TABLES", "db1") == [["api"], ["t1"]]
    assert rows(store, "SELECT c2 FROM api", "anywhere") == []
    with pytest.raises(OpenFeatError, match="a table created without a database is in every database"):
        run(store, "CREATE TABLE api (c1 string)")
    with pytest.raises(OpenFeatError, match="a table created without a database is in every database"):
        store.create_table("t1", "c1 string")


def _state(store: OnlineStore) -> dict[str, Any]:
    request = [{"c1": "aa", "c2": 100, "c3": 50}]
    return {
        "tables": store.list_tables(),
        "rows": {t: store.scan(t).to_pylist() for t in store.list_tables()},
        "deployments": {d: store.request(d, request).to_pylist() for d in store.list_deployments()},
    }


@pytest.mark.parametrize("snapshot", [False, True])
def test_a_restart_keeps_each_database_apart(tmp_path: Path, snapshot: bool) -> None:
    store = OnlineStore(tmp_path / "store")
    run(store, SETUP)
    run(store, DEPLOY, "db1")
    run(store, DEPLOY, "db2")
    if snapshot:
        store.snapshot()
    run(store, "INSERT INTO t1 VALUES ('aa', 5, 25); DELETE FROM db2.t1 WHERE c1 = 'bb'", "db2")
    before = _state(store)
    store.close()
    reopened = OnlineStore(tmp_path / "store")
    assert _state(reopened) == before
    assert before["deployments"] == {"db1.d": [{"c1": "aa", "s": 101}], "db2.d": [{"c1": "aa", "s": 107}]}
    reopened.close()


def test_a_crash_replays_the_log_into_the_right_database(tmp_path: Path) -> None:
    # A process that writes and dies without closing the store (os._exit: no close, no flush of its own), through
    # the store's API (what a statement does to it; importing the SQL layer would double the child's time).
    code = (
        "import os, sys\n"
        "from openfeat_core.online.store import OnlineStore\n"
        "store = OnlineStore(sys.argv[1])\n"
        "for db, rows in (('db1', [['aa', 1, 10]]), ('db2', [['aa', 2, 20], ['bb', 3, 30]])):\n"
        "    store.create_database(db)\n"
        "    store.create_table('t1', 'c1 string, c2 int, c3 bigint', ['i:c1:c3'], {'database': db})\n"
        "    store.insert(db + '.t1', rows)\n"
        "store.insert('db1.t1', [['aa', 7, 70]])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], check=True, timeout=120)
    store = OnlineStore(tmp_path / "store")
    assert store.scan("db1.t1").column("c2").to_pylist() == [1, 7]
    assert store.scan("db2.t1").column("c2").to_pylist() == [2, 3]
    run(store, "INSERT INTO t1 VALUES ('bb', 8, 80)", "db2")
    store.close()
    assert OnlineStore(tmp_path / "store").scan("db2.t1").column("c2").to_pylist() == [2, 3, 8]


def _old_layout(directory: Path, *, snapshot: bool) -> None:
    """A store as the code before per-database tables wrote it: a table's database only in its options, inserts
    and catalog changes naming the table by its bare name, a deployment without a database; ``snapshot``: its
    rows in a snapshot keyed by the bare name."""
    schema = pa.schema([("c1", pa.string()), ("c2", pa.int32()), ("c3", pa.int64())])
    table = pa.table({"c1": ["aa", "aa"], "c2": [1, 2], "c3": [10, 20]}, schema=schema)
    meta: list[dict[str, Any]] = [
        {"op": "create_database", "name": "db1"},
        {
            "op": "create_table",
            "name": "t1",
            "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
            "indexes": ["INDEX_0:c1:c3"],
            "options": {"database": "db1"},
        },
        {"op": "deploy", "name": "d", "sql": f"SELECT c1, sum(c2) OVER w AS s FROM t1 {WINDOW}", "options": {}},
    ]
    log = DurableLog(directory)
    if snapshot:
        log.snapshot({"t1": table}, meta)
    else:
        for record in meta[:2]:
            log.append_meta(record)
        log.append_rows("t1", table.to_batches()[0])
        log.append_meta(meta[2])
    log.append_meta({"op": "add_index", "name": "t1", "index": "i2:c2"})
    log.close()


@pytest.mark.parametrize("snapshot", [False, True])
def test_a_store_written_before_tables_were_per_database_still_opens(tmp_path: Path, snapshot: bool) -> None:
    _old_layout(tmp_path / "store", snapshot=snapshot)
    store = OnlineStore(tmp_path / "store")
    assert store.list_tables("db1") == ["t1"] and store.table_database("t1") == "db1"
    assert [i["name"] for i in run(store, "DESC t1").details["indexes"]] == ["INDEX_0", "i2"]  # type: ignore[index]
    # The old deployment has no database: it answers in every database, reading the one table t1.
    assert store.request("d", [{"c1": "aa", "c2": 100, "c3": 50}]).to_pylist() == [{"c1": "aa", "s": 103}]
    assert rows(store, "SHOW DEPLOYMENTS", "db2") == [["db2", "d"]]
    run(store, f"CREATE DATABASE db2; CREATE TABLE db2.t1 {TABLE}; INSERT INTO t1 VALUES ('aa', 9, 90)", "db2")
    store.close()
    reopened = OnlineStore(tmp_path / "store")
    assert reopened.scan("db1.t1").column("c2").to_pylist() == [1, 2]
    assert reopened.scan("db2.t1").column("c2").to_pylist() == [9]
    reopened.close()


@pytest.fixture
def app(store: OnlineStore) -> Iterator[FeatureService]:
    run(store, DEPLOY, "db1")
    run(store, DEPLOY, "db2")
    service = create_app(store)
    yield service
    service.close()


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "answer"),
    [
        ("GET", "/dbs/db2/tables", None, 200, {"tables": ["t1", "t2"]}),
        ("GET", "/dbs/db1/tables/t1", None, 200, {"name": "t1", "rows": 1}),
        ("GET", "/dbs/db2/tables/t1", None, 200, {"name": "t1", "rows": 2}),
        ("GET", "/dbs/db1/tables/t2", None, 404, "table 't2' is not in database 'db1': it is in database 'db2'"),
        ("PUT", "/dbs/db2/tables/t1", {"value": [["cc", 4, 40]]}, 200, {"table": "t1", "rows": 1}),
        ("GET", "/dbs/db2/deployments/d", None, 200, {"name": "d", "dbs": ["db2"]}),
        ("POST", "/dbs/db1/deployments/d", {"input": [["aa", 100, 50]]}, 200, {"data": [["aa", 101]]}),
        ("POST", "/dbs/db2/deployments/d", {"input": [["aa", 100, 50]]}, 200, {"data": [["aa", 102]]}),
        ("GET", "/dbs/db1/deployments", None, 200, {"deployments": ["d"]}),
    ],
)
def test_the_routes_answer_per_database(
    app: FeatureService, method: str, path: str, payload: Any, status: int, answer: dict[str, Any] | str
) -> None:
    response = call(app, method, path, payload)
    assert response.status == status, response.body
    body = response.json()
    if isinstance(answer, str):
        assert answer in body["detail"]
        return
    data = body["data"]
    assert {k: data[k] for k in answer} == answer


def test_a_put_lands_in_the_database_of_its_route(app: FeatureService, store: OnlineStore) -> None:
    assert call(app, "PUT", "/dbs/db1/tables/t1", {"value": [["zz", 5, 50]]}).status == 200
    assert store.scan("db1.t1").column("c1").to_pylist() == ["aa", "zz"]
    assert store.scan("db2.t1").num_rows == 2


@pytest.mark.parametrize(
    "sql",
    [
        "LOAD DATA INFILE 'rows.csv' INTO TABLE db2.t1 OPTIONS(mode='overwrite')",
        "INSERT INTO t1 VALUES ('x', 1, 1)",
        "SELECT c1 FROM t1",
    ],
)
def test_offline_statements_refuse_a_name_two_databases_share(store: OnlineStore, tmp_path: Path, sql: str) -> None:
    workspace = Workspace.open(tmp_path / "workspace")
    with pytest.raises(OpenFeatError, match=r"db1\.t1 and db2\.t1 would share the workspace's offline table 't1'"):
        execute_sql(store, sql, "offsync", workspace=workspace, db="db1", workdir=str(tmp_path))
