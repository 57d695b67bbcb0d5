"""The OpenMLDB dialect parses every statement OpenFeat runs into nodes (:mod:`openfeat_core.sql.statements`).

Table-driven, with golden fixtures as sqlglot keeps them: ``fixtures/statements.txt`` holds each statement of
:data:`STATEMENTS` followed by the dump of its node; ``OPENFEAT_UPDATE_GOLDEN=1 pytest <this file>`` rewrites it
(review the diff). Bad statements are a table of statement -> the error with its line and column.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlglot import exp

from openfeat_core.errors import NotSupportedError, OpenFeatSQLError
from openfeat_core.sql.config import split_config
from openfeat_core.sql.dialect import parse_deploy, parse_sql
from openfeat_core.sql.statements import STATEMENTS as NODE_TYPES
from openfeat_core.sql.statements import Deploy, position

GOLDEN = Path(__file__).parent / "fixtures" / "statements.txt"
_SEPARATOR = "\n-- node\n"

#: One statement of every kind the dialect reads, with the variations that change the node.
STATEMENTS = [
    "CREATE DATABASE db",
    "create database if not exists db",
    "CREATE TABLE t (c1 string, c2 int NOT NULL, c3 bigint DEFAULT 5, c7 timestamp, INDEX(KEY=c1, TS=c7), "
    "INDEX(KEY=(c1, c2), TS=c7, TTL=(10m, 100), TTL_TYPE=absandlat))",
    "create table if not exists demo_db.t (`c 1` varchar(20), index named (key=`c 1`, ttl=0m, ttl_type=latest)) "
    "options (partitionnum=8, distribution=[('127.0.0.1:6527', [])])",
    "CREATE TABLE t (index int, ts timestamp)",
    "INSERT INTO t VALUES (1, -2.5, 'a''b', \"c\", NULL, true, 1e3)",
    "INSERT INTO db.t (a, b) VALUES (1, 2), (3, 4)",
    "INSERT OR IGNORE INTO t VALUES (1)",
    "DELETE FROM t WHERE k = 'x'",
    "LOAD DATA INFILE 's3://bucket/x.csv' INTO TABLE t",
    "LOAD DATA INFILE '/data/*.parquet' INTO TABLE db.t OPTIONS(format='parquet', mode=append, header=false)",
    "SELECT a FROM t INTO OUTFILE '/out/x.csv'",
    "SELECT a, (SELECT 1) AS b FROM t WHERE a > 1 INTO OUTFILE '/out' OPTIONS(mode='overwrite', delimiter='|')",
    "SELECT a FROM t CONFIG(execute_mode = 'request', values = [(1, 'x'), (2, 'y')])",
    "DEPLOY d SELECT a FROM t",
    "DEPLOY IF NOT EXISTS d OPTIONS(long_windows='w1:1d,w2:6h', range_bias='inf', sync=false) SELECT a FROM t",
    "SHOW DATABASES",
    "show tables",
    "SHOW DEPLOYMENTS",
    "DESC db.t",
    "DESCRIBE t",
    "DROP TABLE t",
    "DROP TABLE IF EXISTS db.t",
    "DROP DEPLOYMENT IF EXISTS d",
    "USE db",
    "SET @@execute_mode = 'offline'",
    "SET @@session.job_timeout = 200000",
    "SELECT card, sum(amount) OVER w AS s FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)",
]


def _dump(sql: str) -> str:
    node = parse_sql(sql)
    return f"{sql}{_SEPARATOR}{node!r}\n"


def _golden() -> dict[str, str]:
    blocks = GOLDEN.read_text().split("-- statement\n")
    out = {}
    for block in filter(None, (b.strip("\n") for b in blocks)):
        sql, _, dump = block.partition(_SEPARATOR)
        out[sql] = dump
    return out


def test_the_golden_fixtures_cover_every_statement() -> None:
    if os.environ.get("OPENFEAT_UPDATE_GOLDEN"):
        GOLDEN.write_text("\n".join(f"-- statement\n{_dump(sql)}" for sql in STATEMENTS))
    assert list(_golden()) == STATEMENTS, f"stale {GOLDEN.name}: regenerate with OPENFEAT_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_statement_parses_to_its_golden_node(sql: str) -> None:
    assert _dump(sql).partition(_SEPARATOR)[2].rstrip("\n") == _golden()[sql]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_a_statement_node_knows_where_it_starts(sql: str) -> None:
    node = parse_sql("\n  " + sql)
    assert position(node) == (2, 3)
    assert isinstance(node, (*NODE_TYPES, exp.Select))


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        (
            "INSERT INTO tx VALUES (1, now)",
            OpenFeatSQLError,
            "line 1, column 27: expected a literal (number, 'string', NULL, true or false), found 'now'",
        ),
        ("INSERT INTO tx\nVALUES (1,", OpenFeatSQLError, "line 2, column 11: expected a literal"),
        ("CREATE TABLE t (a int", OpenFeatSQLError, "expected ')', found the end of the statement"),
        ("CREATE TABLE t (a int, INDEX(KEY=a, TTL_TYPE=latest, COLOUR=red))", OpenFeatSQLError, "column 54"),
        ("CREATE TABLE t (INDEX(KEY=a))", OpenFeatSQLError, "table 't' needs at least one column"),
        ("CREATE TABLE t (a int, a string)", OpenFeatSQLError, "column 'a' is declared twice"),
        ("CREATE TABLE t (a int, INDEX(TS=a))", OpenFeatSQLError, "needs KEY=column"),
        (
            "LOAD DATA INFILE x INTO TABLE t",
            OpenFeatSQLError,
            "line 1, column 18: expected the file path",
        ),
        ("LOAD DATA INFILE 'x' INTO t", OpenFeatSQLError, "line 1, column 27: expected TABLE, found 't'"),
        ("LOAD DATA INFILE 'x' INTO TABLE t OPTIONS(mode)", OpenFeatSQLError, "expected '=', found ')'"),
        ("SELECT a FROM t INTO OUTFILE x", OpenFeatSQLError, "line 1, column 30: expected the OUTFILE path"),
        ("DEPLOY d", OpenFeatSQLError, "expected OPTIONS(...) or SELECT, found the end of the statement"),
        ("DEPLOY d OPTIONS(a=1) UPDATE t", OpenFeatSQLError, "line 1, column 23: expected OPTIONS(...) or SELECT"),
        ("DEPLOY d SELECT a FROM t WHERE", OpenFeatSQLError, "line 1, column 30: syntax error: incomplete WHERE"),
        ("SET execute_mode = 'online'", OpenFeatSQLError, "line 1, column 5: expected a system variable (@@name)"),
        ("SELECT a FROM t CONFIG(execute_mode)", OpenFeatSQLError, "expected '=', found ')'"),
        ("DROP VIEW v", NotSupportedError, "unsupported statement: 'DROP VIEW'"),
        ("CREATE VIEW v AS SELECT 1", NotSupportedError, "unsupported statement: 'CREATE VIEW'"),
        ("ALTER TABLE t ADD COLUMN x int", NotSupportedError, "unsupported statement: 'ALTER'"),
        ("SHOW FUNCTIONS", NotSupportedError, "unsupported statement: 'SHOW FUNCTIONS'"),
        ("SELECT 1; SELECT 2", OpenFeatSQLError, "expected exactly one SQL statement, found 2"),
    ],
)
def test_a_bad_statement_is_an_error_naming_line_and_column(sql: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        parse_sql(sql)
    assert message in str(info.value)


def test_deploy_hands_on_name_options_and_the_query_as_written() -> None:
    sql = (
        '  deploy d OPTIONS(long_windows="w:1d", rows_bias=10)\n'
        "  SELECT a FROM t WINDOW w AS (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);"
    )
    statement = parse_deploy(sql)
    assert isinstance(statement, Deploy)
    assert statement.name == "d"
    assert statement.options == {"long_windows": "w:1d", "rows_bias": "10"}
    assert statement.args["query_sql"] == sql[sql.index("SELECT") :]
    assert statement.meta["query_offset"] == sql.index("SELECT")
    assert parse_deploy("SELECT a FROM t") is None  # other statements are not parsed here
    assert parse_deploy("'deploy' x") is None


def test_split_config_keeps_the_query_as_written() -> None:
    sql = "SELECT a FROM t\nCONFIG (execute_mode = 'request', values = (1, 2));"
    head, config = split_config(sql)
    assert head == "SELECT a FROM t\n"
    assert config is not None and config.execute_mode == "request"
    assert [[v.sql() for v in row] for row in config.values] == [["1", "2"]]
    # A function named config is not the clause; a query without one is not parsed at all.
    assert split_config("SELECT config(a) AS c FROM t") == ("SELECT config(a) AS c FROM t", None)
    assert split_config("SELECT a FROM t WHERE") == ("SELECT a FROM t WHERE", None)
