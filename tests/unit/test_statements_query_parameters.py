"""execute_sql's parameters for a query's ``?`` placeholders (one row; a prepared INSERT takes several)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize(
    ("sql", "parameters", "expected"),
    [
        ("SELECT c1 FROM t WHERE c1 > ? AND c2 = ?", [[1, "b"]], [(2,)]),
        ("SELECT c1, c2 FROM t WHERE c1 = ?", [[3]], []),
        ("SELECT c2, count(c1) AS n FROM t WHERE c1 >= ? GROUP BY c2", [[1]], [("a", 1), ("b", 1)]),
    ],
)
def test_execute_sql_queries_take_one_parameter_row(
    sql: str, parameters: list[list[Any]], expected: list[tuple[Any, ...]]
) -> None:
    from openfeat_core.online.store import OnlineStore
    from openfeat_core.server.statements import execute_sql

    store = OnlineStore()
    execute_sql(store, "CREATE TABLE t (c1 int, c2 string); INSERT INTO t VALUES (1, 'a'), (2, 'b')", "online")
    result = execute_sql(store, sql, "online", parameters=parameters)
    assert result.rows is not None
    assert _rows(result.rows) == expected


def test_execute_sql_query_with_several_parameter_rows_is_an_error() -> None:
    from openfeat_core.online.store import OnlineStore
    from openfeat_core.server.statements import StatementError, execute_sql

    store = OnlineStore()
    execute_sql(store, "CREATE TABLE t (c1 int)", "online")
    with pytest.raises(StatementError, match="a query takes one parameter row"):
        execute_sql(store, "SELECT c1 FROM t WHERE c1 > ?", "online", parameters=[[1], [2]])
