"""``LAST JOIN ... ORDER BY r.c DESC`` (an OpenFeat extension; docs/semantics.md §5): the match is the row with the
smallest order value, ties to the later-inserted row, NULL losing to any value; the same answer offline and online.
The random differential tests (tests/property/test_batch_vs_reference.py, test_request_vs_batch.py) draw DESC too."""

from __future__ import annotations

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.explain import explain
from openfeat_core.sql.binder import plan_sql

LEFT = pa.table({"id": [1, 2, 3], "k": ["a", "b", "c"], "ts": pa.array([1000, 1000, 1000], pa.int64())})
RIGHT = pa.table(
    {
        "k": ["a", "a", "a", "a", "c", "c"],
        "rts": pa.array([900, 1100, 900, None, None, None], pa.int64()),
        "x": [1, 2, 3, 4, 5, 6],
    }
)


@pytest.mark.parametrize(
    ("join", "expected"),
    [
        # The greatest rts is 1100 (x 2); a NULL rts loses to any value, and among only NULLs the last inserted wins.
        ("ORDER BY r.rts ON l.k = r.k", [2, None, 6]),
        # The smallest is 900, twice: the later-inserted (x 3) wins; NULL still loses.
        ("ORDER BY r.rts DESC ON l.k = r.k", [3, None, 6]),
        # The bound filters before the choice: the rows at or before the request's ts, the oldest of them.
        ("ORDER BY r.rts DESC ON l.k = r.k AND r.rts <= l.ts", [3, None, None]),
        ("ORDER BY r.rts DESC ON l.k = r.k AND r.rts > l.ts", [2, None, None]),
        ("ORDER BY r.rts DESC ON l.k = r.k AND r.x < 3", [1, None, None]),
    ],
)
def test_last_join_order_by_desc_matches_the_smallest_value(join: str, expected: list[int | None]) -> None:
    sql = f"SELECT l.id, r.x FROM l LAST JOIN r {join}"
    out = openfeat_core.compute(sql, {"l": LEFT, "r": RIGHT})
    assert out.column("x").to_pylist() == expected


def test_a_request_gets_the_offline_answer() -> None:
    sql = "SELECT l.id, r.x FROM l LAST JOIN r ORDER BY r.rts DESC ON l.k = r.k AND r.rts <= l.ts"
    store = OnlineStore()
    store.create_table("l", LEFT.schema, indexes=["il:k:ts"])
    store.create_table("r", RIGHT.schema, indexes=["ir:k:rts"])
    store.insert("r", RIGHT)
    deployment = store.deploy("first_event", sql)
    # The index serves the newest row first: the request executor serves this join, and says why.
    assert "DESC" in deployment.access["reason"]
    online = store.request("first_event", LEFT)
    assert online.column("x").to_pylist() == openfeat_core.compute(sql, {"l": LEFT, "r": RIGHT}).column("x").to_pylist()


def test_explain_shows_the_direction() -> None:
    plan = plan_sql("SELECT l.id, r.x FROM l LAST JOIN r ORDER BY r.rts DESC ON l.k = r.k", {"l": LEFT, "r": RIGHT})
    text = explain(plan)
    assert "ORDER BY r.rts DESC" in text


def test_a_window_order_by_desc_is_still_refused() -> None:
    sql = (
        "SELECT id, sum(ts) OVER w AS s FROM l "
        "WINDOW w AS (PARTITION BY k ORDER BY ts DESC ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    with pytest.raises(OpenFeatSQLError, match="window ORDER BY does not support DESC"):
        openfeat_core.compute(sql, {"l": LEFT})
