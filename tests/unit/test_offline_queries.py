"""Offline-mode SELECTs beyond feature windows: WITH, GROUP BY + HAVING, LIMIT, parameters (OpenMLDB's query cases)."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pytest

import openfeat_core

T1 = pa.table(
    {
        "c0": ["0", "0", "1", "1", "2"],
        "c1": pa.array([1, 2, 3, 4, 5], pa.int32()),
        "c2": pa.array([5, 5, 55, 55, 55], pa.int16()),
        "ts": pa.array([1000, 2000, 3000, 4000, 5000], pa.timestamp("ms")),
    }
)


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("WITH t2 AS (SELECT * FROM t1) SELECT c1 FROM t2", [(1,), (2,), (3,), (4,), (5,)]),
        # A CTE may shadow the table it reads.
        ("WITH t1 AS (SELECT c1 + 1 AS id FROM t1) SELECT id FROM t1", [(2,), (3,), (4,), (5,), (6,)]),
        (
            "WITH a AS (SELECT c0, c1 FROM t1), b AS (SELECT c0 AS k, c1 FROM a WHERE c1 > 3) SELECT k, c1 FROM b",
            [("1", 4), ("2", 5)],
        ),
    ],
)
def test_with_clauses(sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1})) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT c2, sum(c1) AS s FROM t1 GROUP BY c2 HAVING sum(c1) > 3", [(55, 12)]),
        # HAVING may aggregate what the SELECT list does not.
        ("SELECT c2, count(c1) AS n FROM t1 GROUP BY c2 HAVING max(c1) < 5", [(5, 2)]),
        (
            "SELECT c0, count(*) AS n FROM t1 WHERE c1 > 1 GROUP BY c0 HAVING count(*) >= 1",
            [("0", 1), ("1", 2), ("2", 1)],
        ),
    ],
)
def test_having_filters_groups(sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1})) == expected


@pytest.mark.parametrize(
    ("sql", "parameters", "expected"),
    [
        ("SELECT c1 FROM t1 WHERE c2 = ? AND c1 > ?", [55, 3], [(4,), (5,)]),
        # Placeholders take their values in the order they are written, whatever clause binds first.
        ("SELECT ? AS a, c1 FROM t1 WHERE c1 = ?", ["x", 2], [("x", 2)]),
        ("SELECT substring(?, 3, 6) AS s, concat('a', ?) AS t", ["hello_world", "b"], [("llo_wo", "ab")]),
        ("SELECT c1 FROM t1 WHERE ts > ?", pa.table({"p": pa.array([3500], pa.timestamp("ms"))}), [(4,), (5,)]),
        (
            "SELECT c2, sum(c1) AS s FROM t1 WHERE c1 < ? GROUP BY c2",
            pa.table({"p": pa.array([4], pa.int32())}),
            [(5, 3), (55, 3)],
        ),
        ("SELECT c1 FROM (SELECT c1, c0 FROM t1 WHERE c1 > ?) AS s WHERE c0 = ?", [1, "1"], [(3,), (4,)]),
        # A NULL parameter compares as NULL: no row.
        ("SELECT c1 FROM t1 WHERE c1 = ?", [None], []),
    ],
)
def test_parameterized_queries(sql: str, parameters: Any, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1}, parameters=parameters)) == expected


@pytest.mark.parametrize(
    ("sql", "parameters", "error"),
    [
        ("SELECT c1 FROM t1 WHERE c1 = ?", None, "1 '?' placeholder(s) and no parameters were given"),
        ("SELECT c1 FROM t1 WHERE c1 = ?", [1, 2], "2 parameter(s) given for 1 '?' placeholder(s)"),
        ("SELECT c1 FROM t1", [1], "1 parameter(s) given for 0 '?' placeholder(s)"),
        ("SELECT c1 FROM t1 WHERE c1 = ?", pa.table({"p": [1, 2]}), "exactly one row, got 2"),
        ("SELECT c1 FROM t1 WHERE c1 = ?", [object()], "parameter 1"),
    ],
)
def test_parameter_errors(sql: str, parameters: Any, error: str) -> None:
    with pytest.raises(openfeat_core.OpenFeatError, match=re.escape(error)):
        openfeat_core.compute(sql, {"t1": T1}, parameters=parameters)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        # OpenMLDB runs ONLY_FULL_GROUP_BY: a column outside an aggregate must be grouped.
        (
            "SELECT c0, c1, count(*) AS n FROM t1 GROUP BY c0",
            "expression #2 of the SELECT list (c1) is not in GROUP BY",
        ),
        ("SELECT c1, count(*) AS n FROM t1", "expression #1 of the SELECT list (c1) of an aggregated query reads"),
        ("SELECT c2, count(*) AS n FROM t1 GROUP BY c2 HAVING c1 > 1", "HAVING reads column 'c1', which is not in"),
        ("SELECT c1 FROM t1 HAVING c1 > 1", "HAVING can only be used in an aggregated query"),
        # HAVING does not see the SELECT list's aliases.
        ("SELECT c2, count(c1) AS n FROM t1 GROUP BY c2 HAVING n > 1", "unknown column 'n'"),
        ("SELECT c2, count(*) AS n FROM t1 GROUP BY c2 HAVING sum(c1)", "HAVING condition must be a boolean"),
        ("SELECT f, count(*) AS n FROM (SELECT 1.5 AS f FROM t1) AS s GROUP BY f", "GROUP BY key must be bool, int"),
        # The clauses come in OpenMLDB's order.
        ("SELECT c2, count(*) AS n FROM t1 GROUP BY c2 WHERE c1 > 1", "WHERE must come before GROUP BY"),
        ("SELECT c2, count(*) AS n FROM t1 HAVING count(*) > 1 GROUP BY c2", "GROUP BY must come before HAVING"),
    ],
)
def test_grouping_errors(sql: str, error: str) -> None:
    with pytest.raises(openfeat_core.OpenFeatSQLError, match=re.escape(error)):
        openfeat_core.compute(sql, {"t1": T1})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # Grouped columns may appear in expressions; group keys may be expressions of columns.
        ("SELECT c2 + 1 AS k, count(*) AS n FROM t1 GROUP BY c2", [(6, 2), (56, 3)]),
        ("SELECT 'x' AS tag, count(*) AS n FROM t1", [("x", 5)]),
        ("SELECT t1.c0, count(*) AS n FROM t1 GROUP BY c0 HAVING c0 = '1'", [("1", 2)]),
    ],
)
def test_full_group_by_accepts(sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1})) == expected


T2 = pa.table({"k": ["1", "1", "2", None], "v": pa.array([10, 20, 30, 40], pa.int32())})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # Each left row once per match, in the right side's order; unmatched rows once with NULLs.
        (
            "SELECT t1.c1, t2.v FROM t1 LEFT JOIN t2 ON t1.c0 = t2.k",
            [(1, None), (2, None), (3, 10), (3, 20), (4, 10), (4, 20), (5, 30)],
        ),
        (
            "SELECT t1.c1, t2.v FROM t1 LEFT OUTER JOIN t2 ON t1.c0 = t2.k AND t2.v > 10 WHERE t1.c1 > 2",
            [(3, 20), (4, 20), (5, 30)],
        ),
        # ON without an equality: every pair is tested.
        ("SELECT t1.c1, t2.v FROM t1 LEFT JOIN t2 ON t2.v > t1.c1 * 8 WHERE t1.c1 >= 4", [(4, 40), (5, None)]),
        # A LAST JOIN over a LEFT JOIN subquery picks the last matching pair.
        (
            "SELECT t1.c1, x.v FROM t1 LAST JOIN (SELECT t2.k AS k, t3.v AS v FROM t2 LEFT JOIN t2 AS t3 "
            "ON t2.k = t3.k) x ON t1.c0 = x.k WHERE t1.c1 > 2",
            [(3, 20), (4, 20), (5, 30)],
        ),
        (
            "SELECT t2.k, count(t3.v) AS n FROM t2 LEFT JOIN t2 AS t3 ON t2.k = t3.k GROUP BY t2.k",
            [("1", 4), ("2", 1), (None, 0)],
        ),
    ],
)
def test_left_join(sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1, "t2": T2})) == expected


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT t1.c1 FROM t1 RIGHT JOIN t2 ON t1.c0 = t2.k", "RIGHT JOIN (OpenMLDB has LAST JOIN and LEFT JOIN)"),
        ("SELECT t1.c1 FROM t1 JOIN t2 ON t1.c0 = t2.k", "INNER JOIN"),
        ("SELECT t1.c1 FROM t1 LEFT JOIN t2 ON t2.k", "LEFT JOIN ON condition must be a boolean"),
    ],
)
def test_join_errors(sql: str, error: str) -> None:
    with pytest.raises(openfeat_core.OpenFeatError, match=re.escape(error)):
        openfeat_core.compute(sql, {"t1": T1, "t2": T2})


def test_left_join_is_offline_only() -> None:
    from openfeat_core.online.request_plan import check_deployable

    plan = openfeat_core.plan_sql("SELECT t1.c1, t2.v FROM t1 LEFT JOIN t2 ON t1.c0 = t2.k", {"t1": T1, "t2": T2})
    with pytest.raises(openfeat_core.NotSupportedError, match="LEFT JOIN from the main table"):
        check_deployable(plan)


T3 = pa.table({"k": ["1", "2", "3"], "v": pa.array([50, 60, 70], pa.int32())})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # The inputs' rows in turn, named as the first input's columns.
        (
            "SELECT k, v FROM t2 WHERE v > 20 UNION ALL SELECT k AS key, v FROM t3",
            [("2", 30), (None, 40), ("1", 50), ("2", 60), ("3", 70)],
        ),
        (
            "SELECT x.k, sum(x.v) AS s FROM (SELECT * FROM t2 UNION ALL "
            "(SELECT * FROM t3 UNION ALL SELECT * FROM t3)) x WHERE x.k = '1' GROUP BY x.k",
            [("1", 130)],
        ),
        # A LAST JOIN over a union without ORDER BY takes the last matching row in the union's order...
        (
            "SELECT t1.c1, u.v FROM t1 LAST JOIN (SELECT * FROM t2 UNION ALL SELECT * FROM t3) u ON t1.c0 = u.k",
            [(1, None), (2, None), (3, 50), (4, 50), (5, 60)],
        ),
    ],
)
def test_union_all(sql: str, expected: list[tuple[Any, ...]]) -> None:
    assert _rows(openfeat_core.compute(sql, {"t1": T1, "t2": T2, "t3": T3})) == expected


def test_last_join_over_a_union_follows_the_index_ts() -> None:
    # ...or, when every input is a table indexed on the join key, the newest by that index's ts (ties: the later input).
    a = pa.table({"k": ["x", "y"], "v": pa.array([1, 2], pa.int32()), "ts": pa.array([2000, 3000], pa.timestamp("ms"))})
    b = pa.table({"k": ["x", "y"], "v": pa.array([3, 4], pa.int32()), "ts": pa.array([4000, 2000], pa.timestamp("ms"))})
    req = pa.table({"k": ["x", "y"]})
    sql = (
        "SELECT r.k, u.v FROM r LAST JOIN (SELECT k AS key, v, ts FROM (SELECT * FROM a UNION ALL SELECT * FROM b)) u "
        "ON r.k = u.key"
    )
    indexes = {"a": ["i:k:ts"], "b": ["i:k:ts"]}
    assert _rows(openfeat_core.compute(sql, {"r": req, "a": a, "b": b}, indexes=indexes)) == [("x", 3), ("y", 2)]
    # Without the indexes: the union's order.
    assert _rows(openfeat_core.compute(sql, {"r": req, "a": a, "b": b})) == [("x", 3), ("y", 4)]


@pytest.mark.parametrize(
    ("sql", "error", "kind"),
    [
        ("SELECT k FROM t2 UNION ALL SELECT v FROM t3", "UNION ALL inputs must have the same column types", "sql"),
        ("SELECT k FROM t2 UNION SELECT k FROM t3", "UNION without ALL", "unsupported"),
        ("SELECT k FROM t2 INTERSECT SELECT k FROM t3", "INTERSECT between SELECTs", "unsupported"),
        ("SELECT k FROM t2 UNION ALL SELECT k FROM t3 LIMIT 1", "LIMIT after a UNION", "unsupported"),
    ],
)
def test_union_errors(sql: str, error: str, kind: str) -> None:
    expected = openfeat_core.OpenFeatSQLError if kind == "sql" else openfeat_core.NotSupportedError
    with pytest.raises(expected, match=re.escape(error)):
        openfeat_core.compute(sql, {"t2": T2, "t3": T3})


def test_union_as_the_main_relation_is_offline_only() -> None:
    from openfeat_core.online.request_plan import check_deployable

    plan = openfeat_core.plan_sql("SELECT * FROM (SELECT * FROM t2 UNION ALL SELECT * FROM t3) u", {"t2": T2, "t3": T3})
    with pytest.raises(openfeat_core.NotSupportedError, match="UNION ALL as the main relation"):
        check_deployable(plan)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # One row's string split and joined (OpenMLDB's split/split_by_key/split_by_value consumed by join).
        ("`join`(split(s, ','), ' ')", ["k1:v1 k2:v2", "???  k4:v4", "", ""]),
        ("`join`(split_by_key(s, ',', ':'), '-')", ["k1-k2", "k4", "", ""]),
        ("fz_join(split_by_value(s, ',', ':'), '')", ["v1v2", "v4", "", ""]),
        # A NULL separator or delimiter gives NULL; an empty delimiter splits nothing.
        ("`join`(split(s, ','), NULL)", [None, None, None, None]),
        ("`join`(split(s, ''), ' ')", ["", "", "", ""]),
    ],
)
def test_join_of_split_on_one_row(call: str, expected: list[Any]) -> None:
    table = pa.table({"s": ["k1:v1,k2:v2", "???,,k4:v4", None, ""]})
    assert openfeat_core.compute(f"SELECT {call} AS j FROM t", {"t": table}).column("j").to_pylist() == expected
