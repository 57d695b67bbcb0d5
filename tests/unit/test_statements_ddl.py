"""OpenMLDB's DDL through the statement runner (``execute_sql``): CREATE TABLE's checks and options, tables without an
index, CREATE/DROP INDEX, DESC and SHOW in OpenMLDB's shapes, DEPLOY of an existing name.

The statements and the outcomes are those of OpenMLDB's own cases (``function/ddl``, ``function/deploy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openfeat_core.online.store import OnlineStore
from openfeat_core.server.statements import StatementError, StatementResult, execute_sql

COLUMNS = "c1 string NOT NULL, c2 int, c3 timestamp, c4 timestamp, c5 bigint, c6 float, c7 double"


def run(store: OnlineStore, sql: str) -> StatementResult:
    return execute_sql(store, sql, "online", db="test_zw")


def column(store: OnlineStore, sql: str, name: str) -> list[Any]:
    rows = run(store, sql).rows
    assert rows is not None
    return rows.column(name).to_pylist()


def indexes_of(store: OnlineStore, table: str) -> list[tuple[Any, ...]]:
    details = run(store, f"DESC {table}").details
    assert details is not None
    return [(i["name"], i["keys"], i["ts"], i["ttl"], i["ttl_type"]) for i in details["indexes"]]


# ---------------------------------------------------------------------------------------------------------------------
# CREATE TABLE: what OpenMLDB refuses
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ("CREATE TABLE order (c1 string)", "'order' is a reserved word"),
        ("CREATE TABLE t (use string, c2 int)", "'use' is a reserved word"),
        ("CREATE TABLE t (c1 varchar2, c2 int)", "unknown type 'varchar2'"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c6, TS=c3))", "key 'c6' is a float column"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c7, TS=c3))", "key 'c7' is a double column"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c2))", "ts 'c2' must be a bigint or timestamp column, not int"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=3650))", "a absolute ttl is an interval with its unit"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=aa))", "not 'aa'"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=10m, TTL_TYPE=latest))", "a latest ttl is a row count"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=(3650), TTL_TYPE=latest))", "more than OpenMLDB's 1000"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=(10, 10m), TTL_TYPE=absorlat))", "(interval, rows)"),
        (f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3, TTL=0, TTL_TYPE=aaa))", "ttl_type 'aaa' is not one of"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (replicanum=0)", "replicanum=0: expected a positive integer"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (partitionnum=a)", "partitionnum=a: expected a positive integer"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (replicanum=1, distribution=[])", "expected [('host:port'"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (replicanum=1, distribution=[('h:1')])", "expected [('host:port'"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (distribution=[('h:1', [])])", "has 1 replicas, replicanum is 3"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (replicanum=2, distribution=[('h:1', ['h:1'])])", "repeats an endpoint"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (replicanum=1, distribution=[('h:95271', [])])", "is not an endpoint"),
        (
            f"CREATE TABLE t ({COLUMNS}) OPTIONS (partitionnum=1, replicanum=1, "
            "distribution=[('h:1', []), ('h:2', [])])",
            "2 partitions, more than partitionnum=1",
        ),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (storage_mode='tape')", "expected 'memory', 'ssd' or 'hdd'"),
        (f"CREATE TABLE t ({COLUMNS}) OPTIONS (colour=1)", "unknown table option 'colour'"),
    ],
)
def test_create_table_refuses_what_openmldb_refuses(ddl: str, message: str) -> None:
    store = OnlineStore()
    with pytest.raises(StatementError) as info:
        run(store, ddl)
    assert message in str(info.value)
    assert store.list_tables() == []


def test_reserved_words_are_names_when_quoted_or_not_reserved() -> None:
    store = OnlineStore()
    run(store, "CREATE TABLE table (c1 string); CREATE TABLE `order` (`use` string)")
    assert store.list_tables() == ["order", "table"]


# ---------------------------------------------------------------------------------------------------------------------
# Indexes as DESC shows them
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("INDEX(KEY=c1, TS=c3)", (["c1"], "c3", "0min", "kAbsoluteTime")),
        ("INDEX(KEY=(c1, c2), TS=c5, TTL=3650d)", (["c1", "c2"], "c5", "5256000min", "kAbsoluteTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=3650h)", (["c1"], "c3", "219000min", "kAbsoluteTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=(3650m), TTL_TYPE=absolute)", (["c1"], "c3", "3650min", "kAbsoluteTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=1s)", (["c1"], "c3", "1min", "kAbsoluteTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=0, TTL_TYPE=latest)", (["c1"], "c3", "0", "kLatestTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=(10), TTL_TYPE=latest)", (["c1"], "c3", "10", "kLatestTime")),
        ("INDEX(KEY=c1, TS=c3, TTL=(10m, 10), TTL_TYPE=absandlat)", (["c1"], "c3", "10min&&10", "kAbsAndLat")),
        ("INDEX(KEY=c1, TS=c3, TTL=(10m, 10), TTL_TYPE=absorlat)", (["c1"], "c3", "10min||10", "kAbsOrLat")),
        ("INDEX(KEY=c2, TTL=(10m, 10), TTL_TYPE=absorlat)", (["c2"], "-", "10min||10", "kAbsOrLat")),
    ],
)
def test_desc_shows_an_index_as_openmldb_does(index: str, expected: tuple[Any, ...]) -> None:
    store = OnlineStore()
    run(store, f"CREATE TABLE t ({COLUMNS}, {index})")
    assert indexes_of(store, "t") == [("INDEX_0", *expected)]


@pytest.mark.parametrize(
    ("columns", "key"),
    [
        ("id int NOT NULL, c1 int, c3 float", "id"),
        ("c3 float, c4 double, c5 bigint, c6 string", "c5"),
        ("c4 double, c8 date, c9 bool", "c8"),
        ("c9 bool", "c9"),
        ("c7 timestamp", "c7"),
    ],
)
def test_a_table_without_index_gets_openmldbs_default_one(columns: str, key: str) -> None:
    store = OnlineStore()
    run(store, f"CREATE TABLE t ({columns})")
    assert indexes_of(store, "t") == [("INDEX_0", [key], "-", "0min", "kAbsoluteTime")]


def test_desc_rows_show_not_null_and_default() -> None:
    store = OnlineStore()
    result = run(store, "CREATE TABLE t (c1 string NOT NULL, c2 int DEFAULT 5, c3 timestamp); DESC t")
    assert result.rows is not None
    assert result.rows.to_pylist() == [
        {"Field": "c1", "Type": "string", "Null": "NO", "Default": ""},
        {"Field": "c2", "Type": "int", "Null": "YES", "Default": "5"},
        {"Field": "c3", "Type": "timestamp", "Null": "YES", "Default": ""},
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("", {"partition_num": 8, "replica_num": 3, "storage_mode": "Memory"}),
        ("OPTIONS (partitionnum=1)", {"partition_num": 1, "replica_num": 3, "storage_mode": "Memory"}),
        ("OPTIONS (replicanum=1)", {"partition_num": 8, "replica_num": 1, "storage_mode": "Memory"}),
        (
            "OPTIONS (partitionnum=1, distribution=[('127.0.0.1:1', ['127.0.0.1:2', '127.0.0.1:3'])])",
            {"partition_num": 1, "replica_num": 3, "storage_mode": "Memory"},
        ),
        ("OPTIONS (storage_mode='ssd')", {"partition_num": 8, "replica_num": 3, "storage_mode": "SSD"}),
    ],
)
def test_desc_shows_the_table_options(options: str, expected: dict[str, Any]) -> None:
    store = OnlineStore()
    details = run(store, f"CREATE TABLE t ({COLUMNS}) {options}; DESC t").details
    assert details is not None and details["options"] == expected


# ---------------------------------------------------------------------------------------------------------------------
# CREATE INDEX / DROP INDEX
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "CREATE INDEX i2 ON t (c2) OPTIONS (ts=c3, ttl=100m, ttl_type=absolute)",
            (["c2"], "c3", "100min", "kAbsoluteTime"),
        ),
        ("CREATE INDEX i2 ON t (c1, c2) OPTIONS (ts=c4, ttl=1d)", (["c1", "c2"], "c4", "1440min", "kAbsoluteTime")),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (ts=c4, ttl_type=absolute)", (["c2"], "c4", "0min", "kAbsoluteTime")),
        (
            "CREATE INDEX i2 ON test_zw.t (c2) OPTIONS (ts=c4, ttl=100, ttl_type=latest)",
            (["c2"], "c4", "100", "kLatestTime"),
        ),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (ttl=100m, ttl_type=absolute)", (["c2"], "-", "100min", "kAbsoluteTime")),
        ("CREATE INDEX i2 ON t (c2)", (["c2"], "-", "0min", "kAbsoluteTime")),
    ],
)
def test_create_index_adds_an_index(statement: str, expected: tuple[Any, ...]) -> None:
    store = OnlineStore()
    run(store, f"CREATE TABLE t ({COLUMNS}, INDEX(KEY=c1, TS=c3)); INSERT INTO t VALUES ('a', 1, 1, 2, 3, 0.5, 1.5)")
    run(store, statement)
    assert indexes_of(store, "t") == [("INDEX_0", ["c1"], "c3", "0min", "kAbsoluteTime"), ("i2", *expected)]
    assert run(store, "SELECT c1 FROM t WHERE c2 = 1").total_rows == 1


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE INDEX i2 ON t (c1, c2) OPTIONS (ttl=100, ttl_type=absolute)", "a absolute ttl is an interval"),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (ts=c4, ttl=1d, ttl_type=latest)", "a latest ttl is a row count"),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (ts=c4, ttl=(10,10m), ttl_type=absandlat)", "(interval, rows)"),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (ts=c4, ttl=1, ttl_type=test)", "ttl_type 'test' is not one of"),
        ("CREATE INDEX i2 ON t (c6) OPTIONS (ts=c4)", "key 'c6' is a float column"),
        ("CREATE INDEX i2 ON t (nope)", "key 'nope' is not a column"),
        ("CREATE INDEX i2 ON t (c2) OPTIONS (key=c1)", "expected an index option (TS, TTL, TTL_TYPE)"),
        ("CREATE INDEX i1 ON t (c2)", "already has an index named 'i1'"),
        ("CREATE INDEX i2 ON nope (c2)", "nope"),
        ("DROP INDEX t.nope", "table 't' has no index 'nope' (indexes: i1)"),
    ],
)
def test_index_statements_refuse_what_openmldb_refuses(statement: str, message: str) -> None:
    store = OnlineStore()
    run(store, f"CREATE TABLE t ({COLUMNS}, INDEX i1 (KEY=c1, TS=c3))")
    with pytest.raises(StatementError) as info:
        run(store, statement)
    assert message in str(info.value)
    assert indexes_of(store, "t") == [("i1", ["c1"], "c3", "0min", "kAbsoluteTime")]


def test_added_and_dropped_indexes_and_options_survive_a_restart(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path / "store")
    run(store, f"CREATE TABLE t ({COLUMNS}, INDEX i1 (KEY=c1, TS=c3)) OPTIONS (partitionnum=2, replicanum=1)")
    run(store, "CREATE INDEX i2 ON t (c2) OPTIONS (ts=c4, ttl=10m); CREATE INDEX i3 ON t (c5); DROP INDEX t.i2")
    expected = indexes_of(store, "t")
    assert [i[0] for i in expected] == ["i1", "i3"]
    store.close()
    for snapshot in (False, True):
        reopened = OnlineStore(tmp_path / "store")
        assert indexes_of(reopened, "t") == expected
        details = run(reopened, "DESC t").details
        assert details is not None and details["options"]["partition_num"] == 2
        if not snapshot:
            reopened.snapshot()
        reopened.close()


# ---------------------------------------------------------------------------------------------------------------------
# SHOW, DEPLOY
# ---------------------------------------------------------------------------------------------------------------------
def test_show_create_table_makes_the_same_table() -> None:
    store = OnlineStore()
    run(
        store,
        "CREATE TABLE t (c1 string NOT NULL, c2 int DEFAULT 5, c3 timestamp, INDEX(KEY=(c1, c2), TS=c3, "
        "TTL=(10m, 10), TTL_TYPE=absorlat)) OPTIONS (partitionnum=2, replicanum=1)",
    )
    result = run(store, "SHOW CREATE TABLE t")
    assert result.rows is not None
    text = result.rows.column("Create Table")[0].as_py()
    run(store, text.replace("CREATE TABLE `t`", "CREATE TABLE `u`"))
    for what in ("rows", "details"):
        assert getattr(run(store, "DESC u"), what) == getattr(run(store, "DESC t"), what)


def test_show_deployment_describes_it_as_openmldb_does() -> None:
    store = OnlineStore()
    run(store, "CREATE TABLE t (c1 string, c2 smallint, c7 timestamp, c8 date, INDEX(KEY=c1, TS=c7))")
    run(store, "DEPLOY d SELECT c1, c2 + 1 AS v, c8 FROM t")
    result = run(store, "SHOW DEPLOYMENT d")
    assert result.details == {
        "db": "test_zw",
        "name": "d",
        "sql": "DEPLOY d SELECT c1, c2 + 1 AS v, c8 FROM t",
        "input_columns": ["1,c1,kVarchar,NO", "2,c2,kInt16,NO", "3,c7,kTimestamp,NO", "4,c8,kDate,NO"],
        "output_columns": ["1,c1,kVarchar,NO", "2,v,kInt32,NO", "3,c8,kDate,NO"],
    }
    assert result.rows is not None and result.rows.column("Deployment").to_pylist() == ["d"]
    assert run(store, "USE other_db; SHOW DEPLOYMENT test_zw.d").details["db"] == "test_zw"  # type: ignore[index]


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        ("DEPLOY d SELECT c1 FROM t; DEPLOY d SELECT c1 FROM t", "deployment 'd' already exists"),
        ("SHOW DEPLOYMENT nope", "unknown deployment 'nope'"),
        ("SHOW DEPLOYMENTS d", "expected the end of the statement"),
    ],
)
def test_deployment_statements_refuse_what_openmldb_refuses(statements: str, message: str) -> None:
    store = OnlineStore()
    run(store, "CREATE TABLE t (c1 string, c7 timestamp, INDEX(KEY=c1, TS=c7))")
    with pytest.raises(StatementError) as info:
        run(store, statements)
    assert message in str(info.value)


def test_deploy_if_not_exists_leaves_an_existing_deployment() -> None:
    store = OnlineStore()
    run(store, "CREATE TABLE t (c1 string, c7 timestamp, INDEX(KEY=c1, TS=c7)); DEPLOY d SELECT c1 FROM t")
    run(store, "DEPLOY IF NOT EXISTS d SELECT c1, c7 FROM t")
    assert store.describe_deployment("d")["sql"] == "SELECT c1 FROM t"


# ---------------------------------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------------------------------
def test_databases_are_a_catalog_and_tables_belong_to_one(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path / "store")
    run(store, "CREATE DATABASE db1; CREATE DATABASE IF NOT EXISTS db1; CREATE DATABASE db2")
    run(store, "USE db1; CREATE TABLE t1 (c1 string, c2 int); CREATE TABLE db2.t2 (c1 string, c2 int)")
    store.create_table("api", "c1 string")  # made without a database: in every one
    assert column(store, "SHOW DATABASES", "Databases") == ["db1", "db2"]
    tables = {db: column(store, f"USE {db}; SHOW TABLES", "Tables") for db in ("db1", "db2")}
    assert tables == {"db1": ["api", "t1"], "db2": ["api", "t2"]}
    assert run(store, "SELECT db1.t1.c1 FROM db1.t1").total_rows == 0
    for query in (
        "USE db1; SELECT t1.c1 FROM t1",
        "USE db1; SELECT db1.t.c1 FROM (SELECT c1 FROM db1.t1) AS t",
        "USE db2; SELECT t2.c1 FROM t2",
    ):
        assert run(store, query).kind == "select"
    store.close()
    reopened = OnlineStore(tmp_path / "store")
    assert reopened.list_databases() == ["db1", "db2"]
    assert reopened.table_database("t2") == "db2"
    run(reopened, "DROP TABLE db2.t2; DROP DATABASE db2; DROP DATABASE IF EXISTS db2")
    assert reopened.list_databases() == ["db1"]
    reopened.close()


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        ("CREATE DATABASE db1", "database 'db1' already exists"),
        ("DROP DATABASE nope", "unknown database 'nope'"),
        ("DROP DATABASE db1", "database 'db1' is not empty: drop its tables first (t1)"),
        ("CREATE TABLE nope.t (c1 string)", "unknown database 'nope'"),
        ("CREATE TABLE db1.t1 (c1 string)", "table 't1' already exists in database 'db1'"),
        ("DESC db2.t1", "table 't1' is not in database 'db2': it is in database 'db1'"),
        ("DESC nope.t1", "unknown database 'nope'"),
        ("DROP TABLE db2.t1", "table 't1' is not in database 'db2': it is in database 'db1'"),
        ("CREATE INDEX i ON db2.t1 (c2)", "table 't1' is not in database 'db2': it is in database 'db1'"),
        ("SELECT c1 FROM db2.t1", "table 't1' is not in database 'db2': it is in database 'db1'"),
        ("SELECT a.c1 FROM db1.t1 AS a LAST JOIN nope.t1 AS b ON a.c1 = b.c1", "unknown database 'nope'"),
        ("USE db2; DEPLOY d SELECT c1 FROM db1.t1", "a deployment reads tables of its own database (db2) only"),
        ("USE db2; SELECT t1.c1 FROM db1.t1", "column t1.c1: the query reads db1.t1, not db2.t1"),
        ("USE db2; SELECT db1.t.c1 FROM (SELECT c1 FROM db1.t1) AS t", "column db1.t.c1: the query reads db2.t"),
    ],
)
def test_database_names_are_checked(statements: str, message: str) -> None:
    store = OnlineStore()
    run(store, "CREATE DATABASE db1; CREATE DATABASE db2; USE db1; CREATE TABLE t1 (c1 string, c2 int)")
    with pytest.raises(StatementError) as info:
        execute_sql(store, statements, "online", db="db1")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("statements", "mode", "value"),
    [
        ("show variables", "online", "online"),
        ("set @@session.execute_mode = 'offline'; show session variables", "online", "offline"),
        ("set @@execute_mode = 'online'; show global variables", "offsync", "online"),
        ("show variables", "offasync", "offline"),
    ],
)
def test_show_variables_shows_the_execute_mode(statements: str, mode: str, value: str) -> None:
    result = execute_sql(OnlineStore(), statements, mode, db="db")  # type: ignore[arg-type]
    assert result.rows is not None
    assert result.rows.to_pylist() == [{"Variable_name": "execute_mode", "Value": value}]


def test_set_refuses_an_unknown_variable() -> None:
    store = OnlineStore()
    execute_sql(store, "set @@job_timeout = 20000; set @@session.sync_job = true", "online")
    with pytest.raises(StatementError, match=r"unknown system variable @@execute_olol \(OpenMLDB's session"):
        execute_sql(store, "set @@SESSION.execute_olol = 'offline'", "online")
