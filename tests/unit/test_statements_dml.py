"""INSERT forms, prepared inserts, DELETE and declared TTLs (issue 18's DML), through the statement runner
(:func:`openfeat_core.server.statements.execute_sql`) and the store beneath it.

The statements are the ones OpenMLDB's cases use (function/dml, function/data_expiration): a DELETE names the keys
of one of the table's indexes (and optionally a range of its ts), removes the rows from every index, is logged and
survives a crash; an INSERT converts its literals or parameters as OpenMLDB does and inserts all of its rows or none.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from openfeat_core.errors import DataError
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.statements import StatementError, execute_sql

#: The table of OpenMLDB's DELETE cases, with ``indexes`` in its place.
_TABLE = "CREATE TABLE t (id int, c1 string, c2 smallint, c3 int, c4 bigint, c7 timestamp, c8 date, c9 bool, {indexes})"
_ROWS = (
    "INSERT INTO t VALUES (1, 'aa', 1, 2, 3, 1590738989000, '2020-05-01', true), "
    "(2, 'bb', 1, 2, 4, 1590738989000, '2020-05-02', true), "
    "(3, 'aa', 2, 3, 3, 1590738990000, '2020-05-01', false), "
    "(4, NULL, 2, 3, 4, 1590738991000, '2020-05-01', false), "
    "(5, '', 2, 3, 4, 1590738992000, '2020-05-01', false)"
)


def _store(indexes: str) -> OnlineStore:
    store = OnlineStore()
    execute_sql(store, _TABLE.format(indexes=indexes) + "; " + _ROWS, "online")
    return store


def _ids(store: OnlineStore, table: str = "t") -> list[int]:
    return sorted(r["id"] for r in store.scan(table).to_pylist())


# ------------------------------------------------------------------ DELETE
@pytest.mark.parametrize(
    ("indexes", "delete", "removed", "left"),
    [
        ("INDEX(KEY=c1, TS=c7)", "DELETE FROM t WHERE c1 = 'aa'", 2, [2, 4, 5]),
        ("INDEX(KEY=c1, TS=c7)", "delete from default.t where c1='cc'", 0, [1, 2, 3, 4, 5]),
        # NULL and the empty string are keys of their own; `= NULL` picks the NULLs, as OpenMLDB's DELETE does.
        ("INDEX(KEY=c1, TS=c7)", "DELETE FROM t WHERE c1 = NULL", 1, [1, 2, 3, 5]),
        ("INDEX(KEY=c1, TS=c7)", "DELETE FROM t WHERE c1 IS NULL", 1, [1, 2, 3, 5]),
        ("INDEX(KEY=c1, TS=c7)", "DELETE FROM t WHERE c1 = ''", 1, [1, 2, 3, 4]),
        # Keys of every type, written as INSERT writes them.
        ("INDEX(KEY=c2, TS=c7)", "DELETE FROM t WHERE c2 = 1", 2, [3, 4, 5]),
        ("INDEX(KEY=c4, TS=c7)", "DELETE FROM t WHERE c4 = 4L", 3, [1, 3]),
        ("INDEX(KEY=c8, TS=c7)", "DELETE FROM t WHERE c8 = '2020-05-02'", 1, [1, 3, 4, 5]),
        ("INDEX(KEY=c7, TS=c7)", "DELETE FROM t WHERE c7 = 1590738989000", 2, [3, 4, 5]),
        ("INDEX(KEY=c7, TS=c7)", "DELETE FROM t WHERE c7 = '2020-05-29 07:56:30'", 1, [1, 2, 4, 5]),
        ("INDEX(KEY=c9, TS=c7)", "DELETE FROM t WHERE c9 = true", 2, [3, 4, 5]),
        # A combined key: every key column with =, in any order; and the literal on either side.
        ("INDEX(KEY=(c1, c2), TS=c7)", "DELETE FROM t WHERE c2 = 1 AND c1 = 'aa'", 1, [2, 3, 4, 5]),
        ("INDEX(KEY=(c1, c2), TS=c7)", "DELETE FROM t WHERE 'aa' = c1 AND (c2 = 2)", 1, [1, 2, 4, 5]),
        ("INDEX(KEY=(c1, c2), TS=c7)", "DELETE FROM t WHERE c1 = NULL AND c2 = 2", 1, [1, 2, 3, 5]),
        # A ts range of the index, with or without its keys.
        ("INDEX(KEY=c2, TS=c7)", "DELETE FROM t WHERE c2 = 2 AND c7 >= 1590738991000", 2, [1, 2, 3]),
        (
            "INDEX(KEY=c2, TS=c7)",
            "DELETE FROM t WHERE c2 = 2 AND c7 > 1590738990000 AND c7 < 1590738992000",
            1,
            [1, 2, 3, 5],
        ),
        ("INDEX(KEY=c2, TS=c7)", "DELETE FROM t WHERE c7 <= 1590738989000", 2, [3, 4, 5]),
        ("INDEX(KEY=c2, TS=c7)", "DELETE FROM t WHERE 1590738990000 > c7", 2, [3, 4, 5]),
        # Two indexes: the row goes from both (a key of the other index keeps none of it).
        ("INDEX(KEY=c1, TS=c7), INDEX(KEY=c2, TS=c4, TTL=1, TTL_TYPE=latest)", "DELETE FROM t WHERE c2 = 2", 3, [1, 2]),
        ("INDEX(KEY=c1, TS=c7), INDEX(KEY=c2, TS=c7)", "DELETE FROM t WHERE c1 = 'aa'", 2, [2, 4, 5]),
    ],
)
def test_delete_removes_the_rows_of_an_index_key(indexes: str, delete: str, removed: int, left: list[int]) -> None:
    store = _store(indexes)
    result = execute_sql(store, delete, "online")
    assert (result.kind, result.affected_rows) == ("delete", removed)
    assert _ids(store) == left
    assert execute_sql(store, "SELECT id FROM t", "online").total_rows == len(left)
    description = store.describe_table("t")
    assert (description["rows"], description["deleted"], description["inserted"]) == (len(left), removed, 5)


@pytest.mark.parametrize(
    ("delete", "message"),
    [
        ("DELETE FROM t WHERE c1 = 'aa' OR c1 = 'bb'", "only conditions joined by AND"),
        ("DELETE FROM t WHERE NOT c1 = 'aa'", "only conditions joined by AND"),
        ("DELETE FROM t WHERE c3 = 2", "(c3 =) that are not an index of the table"),
        ("DELETE FROM t WHERE c2 = 1", "(c2 =) that are not an index of the table"),
        ("DELETE FROM t WHERE c1 >= 'aa'", "(c1 >=) that are not an index of the table"),
        ("DELETE FROM t WHERE c1 = 'aa' AND c4 > 3", "(c1 =, c4 >) that are not an index of the table"),
        ("DELETE FROM t WHERE c1 != 'cc'", "expected column = value"),
        ("DELETE FROM t WHERE c1 = c2", "expected column = value"),
        ("DELETE FROM t WHERE c1 LIKE 'a%'", "expected column = value"),
        ("DELETE FROM t WHERE c11 = 1", "table 't' has no column 'c11'"),
        ("DELETE FROM t1 WHERE c1 = 'aa'", "unknown table 't1'"),
        (
            "DELETE FROM t WHERE c1 = 'aa' AND c7 > 'noon'",
            "DELETE condition on 'c7' (timestamp): 'noon': not a timestamp",
        ),
        ("DELETE FROM t WHERE c1 = 'aa' AND c7 > NULL", "only = NULL picks NULLs"),
        ("DELETE FROM t", "needs a WHERE"),
    ],
)
def test_a_delete_openmldb_refuses_is_an_error_and_removes_nothing(delete: str, message: str) -> None:
    store = _store("INDEX(KEY=c1, TS=c7)")
    with pytest.raises(StatementError) as info:
        execute_sql(store, delete, "online")
    assert message in str(info.value)
    assert _ids(store) == [1, 2, 3, 4, 5]


def test_delete_on_an_empty_table_and_in_offline_mode() -> None:
    store = OnlineStore()
    execute_sql(store, "CREATE TABLE job (id int, c1 string, INDEX(KEY=c1))", "online")
    assert execute_sql(store, "DELETE FROM job WHERE c1 = 'aa'", "online").affected_rows == 0
    with pytest.raises(StatementError, match="run it in online mode"):
        execute_sql(store, "DELETE FROM job WHERE c1 = 'aa'", "offsync")


def test_a_table_without_an_index_deletes_by_its_first_column() -> None:
    """OpenMLDB gives such a table an index on its first column (the DDL's default index, or the store's own rule
    when the catalog declares none)."""
    store = OnlineStore()
    store.create_table("t", "k string, v int")
    store.insert("t", [["a", 1], ["b", 2], ["a", 3]])
    assert store.delete("t", [("k", "=", "a")]) == 2
    assert store.scan("t").to_pylist() == [{"k": "b", "v": 2}]
    with pytest.raises(Exception, match="not an index of the table"):
        store.delete("t", [("v", "=", 2)])


def test_delete_keeps_the_ttl_bookkeeping_and_deployments_right() -> None:
    """Deleted rows leave every index: a latest-N TTL keeps counting from the rows left, and a deployment's
    window (direct access and long-window pre-aggregates) no longer sees them."""
    store = OnlineStore()
    store.create_table("tx", "card string, ts timestamp, amount double", indexes=["i:card:ts:3:latest"])
    store.insert("tx", [["a", 1000 * i, float(i)] for i in range(1, 7)] + [["b", 1000, 100.0]])
    assert sorted(r["amount"] for r in store.scan("tx").to_pylist()) == [4.0, 5.0, 6.0, 100.0]
    assert store.delete("tx", [("card", "=", "a"), ("ts", ">=", 5000)]) == 2
    store.insert("tx", [["a", 7000, 7.0], ["a", 8000, 8.0]])
    # The TTL keeps the latest 3 of the rows left (4, 7, 8) and of the next ones: row 4 goes with row 9.
    assert sorted(r["amount"] for r in store.scan("tx").to_pylist() if r["card"] == "a") == [4.0, 7.0, 8.0]
    store.insert("tx", [["a", 9000, 9.0]])
    assert sorted(r["amount"] for r in store.scan("tx").to_pylist() if r["card"] == "a") == [7.0, 8.0, 9.0]
    assert store.describe_table("tx")["rows"] == 4
    sql = (
        "SELECT card, sum(amount) OVER w AS s, count(amount) OVER w AS n FROM tx WINDOW w AS "
        "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
    )
    store.deploy("f", sql, {"long_windows": "w:1s"})
    store.deploy("g", sql)
    request = [{"card": "a", "ts": 10_000, "amount": 0.0}]
    for name in ("f", "g"):
        assert store.request(name, request).to_pylist() == [{"card": "a", "s": 24.0, "n": 4}]
    assert store.delete("tx", [("card", "=", "a"), ("ts", ">", 7000)]) == 2
    for name in ("f", "g"):
        assert store.request(name, request).to_pylist() == [{"card": "a", "s": 7.0, "n": 2}]
    store.insert("tx", [["a", 9500, 1.5]])
    for name in ("f", "g"):
        assert store.request(name, request).to_pylist() == [{"card": "a", "s": 8.5, "n": 3}]


def test_consistency_checker_sees_the_rows_a_logged_request_saw_before_a_delete() -> None:
    store = OnlineStore()
    store.create_table("tx", "card string, ts timestamp, amount double", indexes=["i:card:ts"])
    store.insert("tx", [["a", 1000, 1.0], ["a", 2000, 2.0]])
    store.deploy(
        "f",
        "SELECT card, sum(amount) OVER w AS s FROM tx WINDOW w AS "
        "(PARTITION BY card ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)",
    )
    store.log_requests()
    assert store.request("f", [{"card": "a", "ts": 3000, "amount": 3.0}]).to_pylist() == [{"card": "a", "s": 6.0}]
    store.delete("tx", [("card", "=", "a")])
    report = store.verify("f")
    assert (report.requests, report.skipped, report.mismatches) == (1, 0, 0), report


_CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from openfeat_core.online.store import OnlineStore
    from openfeat_core.server.statements import execute_sql
    store = OnlineStore(sys.argv[1])
    execute_sql(store, sys.argv[2], "online")
    os._exit(0)  # no close, no snapshot: what a crash leaves
    """
)


def _crash_after(directory: Path, sql: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", _CRASHING_WRITER, str(directory), sql], check=True, env=env, timeout=120)


def test_a_delete_survives_a_crash_and_snapshots(tmp_path: Path) -> None:
    _crash_after(
        tmp_path,
        _TABLE.format(indexes="INDEX(KEY=c1, TS=c7), INDEX(KEY=c2, TS=c7)")
        + "; "
        + _ROWS
        + "; DELETE FROM t WHERE c1 = 'aa'; DELETE FROM t WHERE c2 = 2 AND c7 > 1590738991000",
    )
    store = OnlineStore(tmp_path)  # recovered from the log alone
    assert _ids(store) == [2, 4]
    assert store.describe_table("t")["deleted"] == 3
    store.snapshot()
    execute_sql(store, "DELETE FROM t WHERE c2 = 1", "online")
    execute_sql(store, "INSERT INTO t VALUES (6, 'aa', 1, 2, 3, 1590738993000, '2020-05-01', true)", "online")
    store.close()
    store = OnlineStore(tmp_path)  # the snapshot, then the log after it
    assert _ids(store) == [4, 6]
    assert (store.describe_table("t")["deleted"], store.describe_table("t")["inserted"]) == (4, 6)
    store.close()


# ------------------------------------------------------------------ declared TTLs
@pytest.mark.parametrize(
    ("index", "kept"),
    [
        # OpenMLDB's data_expiration case 0: the latest 4 rows of the key.
        ("INDEX(KEY=c1, TS=c4, TTL=4, TTL_TYPE=latest)", [14, 16, 18, 20]),
        ("INDEX(KEY=c1, TS=c4, TTL=5s, TTL_TYPE=absolute)", [10, 12, 14, 16, 18, 20]),
        ("INDEX(KEY=c1, TS=c4, TTL=(5s, 2), TTL_TYPE=absorlat)", [18, 20]),
        ("INDEX(KEY=c1, TS=c4, TTL=(5s, 2), TTL_TYPE=absandlat)", [10, 12, 14, 16, 18, 20]),
        ("INDEX(KEY=c1, TS=c4, TTL=0, TTL_TYPE=latest)", list(range(2, 21, 2))),
        # A second index that keeps everything keeps every row in the table.
        ("INDEX(KEY=c1, TS=c4, TTL=4, TTL_TYPE=latest), INDEX(KEY=c2, TS=c4)", list(range(2, 21, 2))),
    ],
)
def test_a_declared_ttl_applies_on_insert(index: str, kept: list[int]) -> None:
    """The TTL is measured from each key's newest row (the store's default ``ttl_clock="data"``)."""
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t (c1 string, c2 int, c3 bigint, c4 timestamp, {index})", "online")
    values = ", ".join(f"('bb', {2 * i}, {2 * i + 1}, {1590738988000 + 1000 * i})" for i in range(1, 11))
    execute_sql(store, f"INSERT INTO t VALUES {values}", "online")
    rows = execute_sql(store, "SELECT c2 FROM t", "online").rows
    assert rows is not None and sorted(rows.column("c2").to_pylist()) == kept


@pytest.mark.parametrize(
    ("index", "kept"),
    [
        # Without a TTL and with the deployment's keys and ts: the TTLs merge to "keep everything".
        ("INDEX(KEY=c1, TS=c4)", 10),
        # Without a TTL on other keys (as the default INDEX_0): the deployment's TTL (the latest 2 rows) decides.
        ("INDEX(KEY=c2)", 2),
        ("INDEX(KEY=c1, TS=c4, TTL=3, TTL_TYPE=latest)", 3),
        # Beside an index with a TTL, one without keeps every row for good.
        ("INDEX(KEY=c1, TS=c4, TTL=3, TTL_TYPE=latest), INDEX(KEY=c2)", 10),
    ],
)
def test_what_declared_indexes_keep_beside_a_deployment(index: str, kept: int) -> None:
    """docs/semantics.md section 9: a declared TTL applies from the start; an index without one keeps every row
    until a deployment's index takes over, unless the table also declares an index with a TTL."""
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t (c1 string, c2 int, c4 timestamp, {index})", "online")
    store.deploy(
        "d",
        "SELECT c1, sum(c2) OVER w AS s FROM t "
        "WINDOW w AS (PARTITION BY c1 ORDER BY c4 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
    )
    execute_sql(store, "INSERT INTO t VALUES " + ", ".join(f"('a', {i}, {1000 * i})" for i in range(1, 11)), "online")
    assert store.scan("t").num_rows == kept
    assert store.request("d", [{"c1": "a", "c2": 100, "c4": 20_000}]).to_pylist() == [{"c1": "a", "s": 110}]


@pytest.mark.parametrize(("storage", "kept"), [("SSD", [3, 4]), ("hdd", [3, 4]), ("memory", [1, 2, 3, 4])])
def test_a_disk_table_keeps_one_row_per_key_and_ts(storage: str, kept: list[int]) -> None:
    """OpenMLDB's disk tables store a row under its key and ts: a later row with both equal replaces it (in that
    index); memory tables keep every row."""
    store = OnlineStore()
    execute_sql(
        store,
        "CREATE TABLE t (id int, c1 string, c4 timestamp, INDEX(KEY=c1, TS=c4)) "
        f"OPTIONS (storage_mode='{storage}'); "
        "INSERT INTO t VALUES (1, 'aa', 1000), (2, 'aa', 1000); INSERT INTO t VALUES (3, 'aa', 1000), (4, 'bb', 1000)",
        "online",
    )
    assert _ids(store) == kept
    assert store.describe_table("t")["rows"] == len(kept)


# ------------------------------------------------------------------ INSERT
_TYPES = "c1 string, c3 int, c4 bigint, c5 float, c6 double, c7 timestamp, c8 date, c9 bool"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "INSERT INTO t VALUES ('aa', 2, 3L, 1.1f, 2.1, 1590738989000L, '2020-05-01', true)",
            [["aa", 2, 3, 1.1, 2.1, 1590738989000, "2020-05-01", True]],
        ),
        # Several rows; strings in double quotes; timestamps as text in the store's zone; negative numbers.
        (
            'INSERT INTO t VALUES ("a", -2, -3, -1.5, 2, \'2020-05-29 07:56:29\', "2020-05-01", false), '
            "('b', 1, 2, 3, 4.5, 0, '1969-12-31', NULL)",
            [
                ["a", -2, -3, -1.5, 2.0, 1590738989000, "2020-05-01", False],
                ["b", 1, 2, 3.0, 4.5, 0, "1969-12-31", None],
            ],
        ),
        # A column list: the others are NULL, or their DEFAULT.
        (
            "INSERT INTO t (c1, c4, c7) VALUES ('aa', 2, 1590738989000)",
            [["aa", None, 2, None, None, 1590738989000, None, None]],
        ),
        ("INSERT INTO t (c7, c1) VALUES (5, '')", [["", None, None, None, None, 5, None, None]]),
    ],
)
def test_insert_converts_literals_as_openmldb(sql: str, expected: list[list[Any]]) -> None:
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t ({_TYPES}, INDEX(KEY=c1, TS=c7))", "online")
    assert execute_sql(store, sql, "online").affected_rows == len(expected)
    assert [_plain(r) for r in store.scan("t").to_pylist()] == expected


def _plain(row: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for v in row.values():
        if isinstance(v, dt.datetime):
            v = int(v.timestamp() * 1000)
        elif isinstance(v, dt.date):
            v = v.isoformat()
        elif isinstance(v, float):
            v = round(v, 5)
        out.append(v)
    return out


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INSERT INTO t (c1, c2, c4) VALUES (NULL, 1590738989000L, 1)", "has no column(s) 'c4'"),
        ("INSERT INTO t (c1, c2) VALUES (NULL, 1590738989000L)", "row 1, column 'c1' (string NOT NULL): is NULL"),
        ("INSERT INTO t (c2) VALUES (1590738989000L)", "column 'c1' (string NOT NULL): is left out and has no DEFAULT"),
        ("INSERT INTO t1 (c1, c2) VALUES ('aa', 1590738989000L)", "unknown table 't1'"),
        ("INSERT INTO t (c1, c2) VALUES (aa, 1590738989000L)", "expected a literal"),
        (
            "INSERT INTO t (c1, c3, c2) VALUES ('a', 3, 1), ('b', 'aa', 2)",
            "row 2, column 'c3' (int): 'aa': expected an integer",
        ),
        ("INSERT INTO t (c1, c3, c2) VALUES ('a', 1), ('b', 2)", "row 1: 2 values for 3 columns"),
        ("INSERT INTO t (c1, c3, c2) VALUES ('a', 3, 1), ('b', 2)", "row 2: 2 values for 3 columns"),
        ("INSERT INTO t VALUES ('a', 1, 2.5)", "column 'c3' (int): 2.5: expected an integer"),
        ("INSERT INTO t VALUES ('a', 1, 3000000000)", "out of the range of int"),
        ("INSERT INTO t VALUES ('a', 1, 1.5L)", "expected an integer before the L suffix"),
        ("INSERT INTO t VALUES ('a', 'yesterday', 1)", "not a timestamp"),
        ("INSERT INTO t VALUES ('a', 1, ?)", "has 1 '?' placeholder(s)"),
        ("INSERT INTO t (c1, c1) VALUES ('a', 'b')", "named twice"),
    ],
)
def test_a_wrong_insert_is_an_error_and_inserts_nothing(sql: str, message: str) -> None:
    store = OnlineStore()
    execute_sql(store, "CREATE TABLE t (c1 string NOT NULL, c2 timestamp, c3 int, INDEX(KEY=c1, TS=c2))", "online")
    with pytest.raises(StatementError) as info:
        execute_sql(store, sql, "online")
    assert message in str(info.value)
    assert store.scan("t").num_rows == 0


def test_defaults_fill_left_out_columns_and_not_null_holds_for_every_insert() -> None:
    store = OnlineStore()
    execute_sql(
        store,
        "CREATE TABLE t (c1 string NOT NULL DEFAULT 'x', c2 int NOT NULL DEFAULT 7, c3 timestamp DEFAULT "
        "'2020-05-01 00:00:00', c4 double, INDEX(KEY=c1, TS=c3))",
        "online",
    )
    execute_sql(store, "INSERT INTO t (c4) VALUES (1.5); INSERT INTO t (c1, c4) VALUES ('y', NULL)", "online")
    assert [_plain(r) for r in store.scan("t").to_pylist()] == [
        ["x", 7, 1588291200000, 1.5],
        ["y", 7, 1588291200000, None],
    ]
    with pytest.raises(DataError, match="row 0, field 'c2': NULL in a NOT NULL column"):
        store.insert("t", [["z", None, 0, 1.0]])
    assert store.scan("t").num_rows == 2


# ------------------------------------------------------------------ prepared INSERT
@pytest.mark.parametrize(
    ("sql", "parameters", "expected"),
    [
        # OpenMLDB's test_insert_prepared cases: every column, some columns, NULLs, the empty string.
        (
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [["aa", 2, 3, 1.1, 2.1, 1590738989000, "2020-05-01", True]],
            [["aa", 2, 3, 1.1, 2.1, 1590738989000, "2020-05-01", True]],
        ),
        (
            "INSERT INTO t (c1, c4, c7) VALUES (?, ?, ?)",
            [["aa", 2, 1590738989000], ["", 3, "2020-05-29 07:56:30"]],
            [
                ["aa", None, 2, None, None, 1590738989000, None, None],
                ["", None, 3, None, None, 1590738990000, None, None],
            ],
        ),
        (
            "INSERT INTO t (c1, c3, c4, c5, c6, c7, c8) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [["aa", 2, None, None, None, 1590738989000, None]],
            [["aa", 2, None, None, None, 1590738989000, None, None]],
        ),
        # Python dates and datetimes are taken as they are; literals beside the placeholders repeat.
        (
            "INSERT INTO t (c1, c7, c8, c9) VALUES (?, ?, ?, false), ('k', 0, ?, true)",
            [
                [
                    "a",
                    dt.datetime(2020, 5, 29, 7, 56, 29, tzinfo=dt.timezone.utc),
                    dt.date(2020, 5, 1),
                    dt.date(2021, 1, 1),
                ]
            ],
            [
                ["a", None, None, None, None, 1590738989000, "2020-05-01", False],
                ["k", None, None, None, None, 0, "2021-01-01", True],
            ],
        ),
    ],
)
def test_a_prepared_insert_inserts_one_row_per_parameter_row(
    sql: str, parameters: list[list[Any]], expected: list[list[Any]]
) -> None:
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t ({_TYPES}, INDEX(KEY=c1, TS=c7))", "online")
    assert execute_sql(store, sql, "online", parameters=parameters).affected_rows == len(expected)
    assert [_plain(r) for r in store.scan("t").to_pylist()] == expected


@pytest.mark.parametrize(
    ("sql", "parameters", "message"),
    [
        (
            "INSERT INTO t (c1, c7) VALUES (?, ?)",
            [["a", 1], ["b"]],
            "parameter row 2: 1 value(s) for 2 '?' placeholder(s)",
        ),
        ("INSERT INTO t (c1, c7) VALUES (?, ?)", ["ab"], "parameter row 1: a string for 2 '?' placeholder(s)"),
        (
            "INSERT INTO t (c1, c7) VALUES (?, ?)",
            [["a", 1], ["b", "soon"]],
            "parameter row 2, VALUES row 1, column 'c7'",
        ),
        ("INSERT INTO t (c1, c7) VALUES ('a', 1)", [["a", 1]], "the INSERT has no '?' placeholder"),
    ],
)
def test_wrong_parameters_are_an_error_and_insert_nothing(sql: str, parameters: list[Any], message: str) -> None:
    store = OnlineStore()
    execute_sql(store, f"CREATE TABLE t ({_TYPES}, INDEX(KEY=c1, TS=c7))", "online")
    with pytest.raises(StatementError) as info:
        execute_sql(store, sql, "online", parameters=parameters)
    assert message in str(info.value)
    assert store.scan("t").num_rows == 0
