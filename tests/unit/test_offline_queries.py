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
        # HAVING may aggregate what the SELECT list does not, and read output aliases.
        ("SELECT c2, count(c1) AS n FROM t1 GROUP BY c2 HAVING max(c1) < 5", [(5, 2)]),
        ("SELECT c2, count(c1) AS n FROM t1 GROUP BY c2 HAVING n = 2", [(5, 2)]),
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
