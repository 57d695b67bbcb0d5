"""Long-window deployments (``DEPLOY ... OPTIONS(long_windows=...)``) and CREATE TABLE's INDEX without KEY (issue 18).

OpenMLDB pre-aggregates a ``*_where`` aggregate only when its condition is ``column op constant`` (its pre-aggregation
table stores one filter column); OpenFeat's partials evaluate the whole condition on every inserted row, so any
condition is served, exactly: these tests stream rows through a store with the long window and one without and
demand equal answers, and check that the partials were really used. They also pin what other skip-list entries
came down to: OpenMLDB's rule for an index declared without KEY, its ``inc`` function, INSERT in offline mode, and
request mode refusing grouped rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.errors import NotSupportedError, OpenFeatSQLError
from openfeat_core.online.preagg import Preaggregate
from openfeat_core.online.request import request_replay
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.statements import StatementError, execute_sql
from openfeat_core.sql.dialect import parse_statement
from openfeat_core.workspace import Workspace

SCHEMA = "id bigint, k string, c2 smallint, c3 int, ts timestamp, d date, b bool"


def _rows(seed: int, n: int = 30) -> pa.Table:
    """Rows of two keys over ~12 s in time order (a few per 2 s bucket), with ties, NULLs and both truth values."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 12_000, n) // 500 * 500)
    c2 = [None if rng.random() < 0.1 else int(v) for v in rng.integers(0, 8, n)]
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "k": pa.array(rng.choice(["aa", "bb"], n)),
            "c2": pa.array(c2, pa.int16()),
            "c3": pa.array(rng.integers(0, 8, n).astype(np.int32)),
            "ts": pa.array(ts, pa.timestamp("ms")),
            "d": pa.array((ts // 86_400_000 + 18_000).astype(np.int32), pa.date32()),
            "b": pa.array([None if rng.random() < 0.1 else bool(v) for v in rng.integers(0, 2, n)], pa.bool_()),
        }
    )


RANGE = "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW"
ROWS = "ROWS BETWEEN 20 PRECEDING AND CURRENT ROW"
UNBOUNDED = "ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


# The conditions of OpenMLDB's long-window count_where cases 10, 17, 18 and 19 (which it refuses), and a plain one,
# each over one frame kind.
@pytest.mark.parametrize(
    ("condition", "frame"),
    [
        ("b", RANGE),
        ("c2 < 4 AND c2 > 1", ROWS),
        ("c3 > c2", UNBOUNDED),
        ("if_null(c2, 0) > 4", RANGE),
        ("c2 >= 2", ROWS),
    ],
)
def test_long_window_where_conditions_are_exact(condition: str, frame: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sql = (
        f"SELECT id, count_where(d, {condition}) OVER w AS cw, sum_where(c3, {condition}) OVER w AS sw, "
        f"max_where(c2, {condition}) OVER w AS mw FROM t WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    )
    served = []
    result = Preaggregate.result

    def spy(self: Preaggregate, *args: Any, **kwargs: Any) -> Any:
        out = result(self, *args, **kwargs)
        served.append(out is not None)
        return out

    monkeypatch.setattr(Preaggregate, "result", spy)
    t = _rows(len(condition) + len(frame))
    raw, pre = OnlineStore(), OnlineStore()
    for store, options in ((raw, None), (pre, {"long_windows": "w:2s"})):
        store.create_table("t", SCHEMA)
        store.deploy("f", sql, options)
    for r in range(t.num_rows):
        row = t.slice(r, 1)
        expected, got = raw.request("f", row).to_pylist(), pre.request("f", row).to_pylist()
        assert got == expected, f"row {r}"
        raw.insert("t", row)
        pre.insert("t", row)
    assert any(served), "the partials were never used"


def test_a_long_window_deploy_statement_is_shown_as_written() -> None:
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    query = (
        "SELECT id, sum(c3) OVER w1 AS s FROM t "
        "WINDOW w1 AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)"
    )
    deployment = store.deploy("", f"DEPLOY d OPTIONS(long_windows='w1:2d') {query}")
    assert deployment.name == "d" and deployment.sql == query and deployment.preaggs


@pytest.mark.parametrize(
    ("frame", "option", "message"),
    [
        ("ROWS_RANGE BETWEEN 10s PRECEDING AND 1s PRECEDING", "w:1d", "ending at the current row"),
        ("ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING", "w:1d", "ending at the current row"),
        ("ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW MAXSIZE 5", "w:1d", "without MAXSIZE"),
        ("ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW", "w2:1d", "no window named 'w2'"),
        ("ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW", "w:2y", "is neither a time such as 1d"),
        ("ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW", "w:0", "must be positive"),
    ],
)
def test_long_windows_that_cannot_be_preaggregated_are_refused(frame: str, option: str, message: str) -> None:
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    sql = f"SELECT id, sum(c3) OVER w AS s FROM t WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    with pytest.raises(NotSupportedError, match=message):
        store.deploy("f", sql, {"long_windows": option})


@pytest.mark.parametrize(
    ("columns", "indexes", "keys"),
    [
        # OpenMLDB's test_create.yaml case 14: the first column becomes the key.
        ("c1 string NOT NULL, c2 int, c3 timestamp, c4 timestamp", "index(ts=c4, ttl=0m)", [["c1"]]),
        # Not the TS column, nor a float or double.
        ("c4 timestamp, f double, g float, c2 int", "index(ts=c4)", [["c2"]]),
        # Only the first index without KEY gets one; the others keep theirs.
        ("c1 string, c2 int, c4 timestamp", "index(key=c2, ts=c4), index(ts=c4, ttl=10m)", [["c2"], ["c1"]]),
    ],
)
def test_an_index_without_key_is_keyed_as_openmldb_keys_it(columns: str, indexes: str, keys: list[list[str]]) -> None:
    statement = parse_statement(f"CREATE TABLE t ({columns}, {indexes})")
    assert [index.args["keys"] for index in statement.args["indexes"]] == keys


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "CREATE TABLE t (c1 string, c4 timestamp, index(ttl=10m))",
            "index number 1 needs KEY=column.*without KEY= and TS=",
        ),
        (
            "CREATE TABLE t (c1 string, c4 timestamp, index(ts=c4), index(ts=c4, ttl=1m))",
            "index number 2 needs KEY=column.*a second index without KEY",
        ),
        ("CREATE TABLE t (f double, c4 timestamp, index(ts=c4))", "no column other than its TS column 'c4'"),
    ],
)
def test_an_index_without_key_that_openmldb_refuses_is_refused(sql: str, message: str) -> None:
    with pytest.raises(OpenFeatSQLError, match=message):
        parse_statement(sql)


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        # OpenMLDB's inc (query/udaf_query.yaml 4 calls it inside count_where): x + 1 in x's type, wrapping.
        ([1, 32767, None], pa.int16(), [2, -32768, None]),
        ([2**63 - 1, -1], pa.int64(), [-(2**63), 0]),
        ([1.5, None], pa.float32(), [2.5, None]),
    ],
)
def test_inc_adds_one_in_the_arguments_type(values: list[Any], arrow_type: pa.DataType, expected: list[Any]) -> None:
    out = openfeat_core.compute("SELECT inc(x) AS y FROM t", {"t": pa.table({"x": pa.array(values, arrow_type)})})
    assert out.column("y").type == arrow_type and out.column("y").to_pylist() == expected


def test_insert_in_offline_mode_appends_to_the_offline_data(tmp_path: Path) -> None:
    """OpenMLDB runs an offline INSERT as an ``InsertOfflineData`` job that appends to the offline storage
    (v040/test_execute_mode.yaml 5); its values are checked as an online INSERT checks them."""
    store, ws = OnlineStore(), Workspace.open(tmp_path / "ws")
    execute_sql(store, "CREATE TABLE t (c1 string NOT NULL, c2 smallint DEFAULT 7, c4 timestamp)", "online")
    for sql in ["INSERT INTO t VALUES ('bb', 2, 1590738989000)", "INSERT INTO t (c1, c4) VALUES ('cc', 1)"]:
        assert execute_sql(store, sql, "offsync", workspace=ws).affected_rows == 1
    rows = execute_sql(store, "SELECT c1, c2 FROM t", "offsync", workspace=ws).rows
    assert rows is not None and rows.to_pylist() == [{"c1": "bb", "c2": 2}, {"c1": "cc", "c2": 7}]
    assert store.scan("t").num_rows == 0  # the online data is untouched
    jobs = execute_sql(store, "SHOW JOBS", "offsync", workspace=ws).rows
    assert jobs is not None and jobs.column("job_type").to_pylist()[:2] == ["InsertOfflineData"] * 2
    with pytest.raises(StatementError, match=r"column 'c1' \(string NOT NULL\): is NULL"):
        execute_sql(store, "INSERT INTO t VALUES (NULL, 1, 1)", "offsync", workspace=ws)
    with pytest.raises(StatementError, match=r"INSERT in offline mode .* needs the offline storage"):
        execute_sql(store, "INSERT INTO t VALUES ('x', 1, 1)", "offsync")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT c1, count(*) AS n FROM t GROUP BY c1",
        "SELECT * FROM (SELECT c1, count(*) AS n FROM t GROUP BY c1)",  # v040/test_groupby.yaml 25
    ],
)
def test_request_replay_refuses_grouped_rows(sql: str) -> None:
    t = pa.table({"c1": ["aa", "bb", "aa"], "ts": pa.array([1, 2, 3], pa.timestamp("ms"))})
    with pytest.raises(NotSupportedError, match="batch-only"):
        request_replay(sql, {"t": t})
