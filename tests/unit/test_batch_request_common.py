"""Batch requests with common columns: which outputs are computed once per batch (OpenMLDB's output common columns),
that they are computed once, and that a batch answers what each of its rows computed in full answers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openfeat_core.online.store as store_module
from openfeat_core.column import Column
from openfeat_core.errors import DataError
from openfeat_core.online.procedures import batch_request
from openfeat_core.online.request_plan import common_output_positions
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import create_app
from openfeat_core.server.statements import execute_sql
from openfeat_core.sql.binder import bind_sql
from openfeat_core.types import SQLType
from tests.unit.test_online_service import call

T = SQLType
# The request rows: one user (u, g) and its time (ts) in common, the candidate (id, x, y) per row.
MAIN = [("id", T.INT32), ("u", T.INT64), ("g", T.STRING), ("x", T.DOUBLE), ("y", T.INT32), ("ts", T.TIMESTAMP)]
RIGHT = [("u", T.INT64), ("v", T.DOUBLE), ("rts", T.TIMESTAMP)]
CATALOG = {"t": MAIN, "r": RIGHT, "h": MAIN}
NAMES = [n for n, _ in MAIN]

W_U = "w AS (PARTITION BY u ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
W_ID = "wi AS (PARTITION BY id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
SUB = "SELECT id, u AS u2, x * 2 AS x2, y, g, ts FROM t"
W_S = "ws AS (PARTITION BY u2 ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"


# ----------------------------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("sql", "common", "expected"),
    [
        # A window over common keys: aggregates of common columns are common, of per-row columns not; plain columns
        # follow their values.
        (
            f"SELECT id, u, sum(x) OVER w AS sx, sum(y) OVER w AS sy, max(g) OVER w AS mg FROM t WINDOW {W_U}",
            ["u", "ts", "x", "g"],
            ["u", "sx", "mg"],
        ),
        # The same window ordered by a per-row column: nothing is common, not even the common column u, which
        # OpenMLDB computes in that window's projection.
        (f"SELECT id, u, sum(x) OVER w AS sx FROM t WINDOW {W_U}", ["u", "x"], []),
        # No window: expressions over common columns only; a literal reads no column: per-row, as in OpenMLDB.
        ("SELECT id, u, u + 1 AS u1, x * y AS xy, 1 AS one FROM t", ["u", "x"], ["u", "u1"]),
        # Every request column common: every output, literals too. None: no output.
        ("SELECT id, 1 AS one, sum(x) OVER w AS sx FROM t WINDOW " + W_U, NAMES, ["id", "one", "sx"]),
        ("SELECT id, u FROM t", [], []),
        # count(*) reads no column.
        (f"SELECT count(*) OVER w AS n, count(x) OVER w AS nx FROM t WINDOW {W_U}", ["u", "ts", "x"], ["nx"]),
        # A LAST JOIN keyed on common columns is common (all its columns); bounded by a per-row column, it is not.
        ("SELECT id, r.v FROM t LAST JOIN r ORDER BY r.rts ON t.u = r.u", ["u"], ["v"]),
        ("SELECT id, r.v FROM t LAST JOIN r ORDER BY r.rts ON t.u = r.u AND r.rts <= t.ts", ["u"], []),
        ("SELECT id, r.v FROM t LAST JOIN r ORDER BY r.rts ON t.u = r.u AND r.rts <= t.ts", ["u", "ts"], ["v"]),
        # An aggregate of a common join's column over a common window.
        (
            f"SELECT id, sum(r.v) OVER w AS sv FROM t LAST JOIN r ORDER BY r.rts ON t.u = r.u WINDOW {W_U}",
            ["u", "ts"],
            ["sv"],
        ),
        # Two windows: the plain columns belong to the first one the SELECT list aggregates over.
        (
            f"SELECT u, sum(x) OVER wi AS si, sum(x) OVER w AS sw FROM t WINDOW {W_U}, {W_ID}",
            ["u", "ts", "x"],
            ["sw"],
        ),
        (
            f"SELECT u, sum(x) OVER w AS sw, sum(x) OVER wi AS si FROM t WINDOW {W_U}, {W_ID}",
            ["u", "ts", "x"],
            ["u", "sw"],
        ),
        # A window over another table's rows too (UNION) follows the same rule.
        (
            "SELECT id, sum(x) OVER wu AS sx, sum(y) OVER wu AS sy FROM t WINDOW wu AS (UNION h PARTITION BY u "
            "ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)",
            ["u", "ts", "x"],
            ["sx"],
        ),
        # An expression over a common aggregate and a per-row column is per-row.
        (f"SELECT sum(x) OVER w + y AS s FROM t WINDOW {W_U}", ["u", "ts", "x"], []),
        # A subquery as the main relation passes its common outputs on (a literal in it is per-row); a UNION ALL has
        # no common output.
        ("SELECT u FROM (SELECT id, u, ts FROM t) AS s", ["u"], ["u"]),
        ("SELECT one, u FROM (SELECT 1 AS one, u FROM t) AS s", ["u"], ["u"]),
        (f"SELECT u2, sum(x2) OVER ws AS sx, y FROM ({SUB}) AS s WINDOW {W_S}", ["u", "ts", "x"], ["u2", "sx"]),
        (f"SELECT u2, sum(x2) OVER ws AS sx FROM ({SUB}) AS s WINDOW {W_S}", ["u", "x"], []),
        ("SELECT u FROM (SELECT u FROM t UNION ALL SELECT u FROM h) AS s", ["u"], []),
    ],
)
def test_common_outputs(sql: str, common: list[str], expected: list[str]) -> None:
    plan = bind_sql(sql, CATALOG)
    assert [plan.outputs[i].name for i in common_output_positions(plan, common)] == expected


# ----------------------------------------------------------------------------------------------- computed once
STORED_MAIN = [
    [1, 7, "a", 1.5, 1, 1_000],
    [2, 7, "b", 2.5, None, 5_000],
    [3, 8, "a", None, 3, 6_000],
]
STORED_RIGHT = [[7, 0.5, 500], [7, 0.25, 4_000], [8, 9.0, 100]]

DIRECT = (
    "SELECT id, u, sum(x) OVER w AS sx, count(y) OVER w AS ny, max(g) OVER w AS mg, x + 1 AS x1, r.v, "
    "avg(x) OVER wi AS ax FROM t LAST JOIN r ORDER BY r.rts ON t.u = r.u AND r.rts <= t.ts "
    f"WINDOW {W_U}, {W_ID}"
)
# An aggregate of a joined column: computed by the executor's request mode, not the direct access.
EXECUTOR = (
    "SELECT id, u, sum(r.v) OVER w AS sv, sum(x) OVER w AS sx, sum(y) OVER w AS sy FROM t "
    f"LAST JOIN r ORDER BY r.rts ON t.u = r.u WINDOW {W_U}"
)
# A subquery as the main relation (executor path).
SUBQUERY = (
    f"SELECT id, u2, sum(x2) OVER ws AS sx, count(y) OVER ws AS ny, x2 + 1 AS x3, g FROM ({SUB}) AS s WINDOW {W_S}"
)
# A window over the rows of another table of the same columns (h holds the stored rows too), without t's own.
UNION = (
    "SELECT id, sum(x) OVER wu AS sx, count(y) OVER wu AS ny, max(g) OVER wu AS mg, lag(x, 1) OVER wu AS lx FROM t "
    "WINDOW wu AS (UNION h PARTITION BY u ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW "
    "INSTANCE_NOT_IN_WINDOW)"
)


def _store(
    sql: str,
    main: Sequence[Sequence[Any]] = STORED_MAIN,
    right: Sequence[Sequence[Any]] = STORED_RIGHT,
    options: dict[str, str] | None = None,
) -> OnlineStore:
    store = OnlineStore()
    store.create_table("t", pa.schema([(n, _arrow(t)) for n, t in MAIN]))
    store.create_table("r", pa.schema([(n, _arrow(t)) for n, t in RIGHT]))
    store.create_table("h", pa.schema([(n, _arrow(t)) for n, t in MAIN]))
    store.deploy("d", sql, options)
    if main:
        store.insert("t", [list(row) for row in main])
        store.insert("h", [list(row) for row in main])
    if right:
        store.insert("r", [list(row) for row in right])
    return store


def _arrow(t: SQLType) -> pa.DataType:
    return {
        T.INT32: pa.int32(),
        T.INT64: pa.int64(),
        T.STRING: pa.string(),
        T.DOUBLE: pa.float64(),
        T.TIMESTAMP: pa.timestamp("ms"),
    }[t]


@pytest.mark.parametrize(
    ("sql", "path", "once"),
    [(DIRECT, "direct", ["u", "sx", "mg", "x1", "v"]), (EXECUTOR, "request_mode", ["u", "sv", "sx"])],
)
def test_common_outputs_are_computed_once(
    sql: str, path: str, once: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common part is computed for one row and the per-row part for every row, by the deployment's own path."""
    store = _store(sql)
    assert store.describe_deployment("d")["access"]["path"] == path
    rows = [[10 + i, 7, "a", 2.0, i, 6_000] for i in range(4)]
    full = [store.request("d", [row]) for row in rows]
    computed: list[tuple[list[str], int]] = []
    target = "serve_request" if path == "direct" else "execute"
    original = getattr(store_module, target)

    def spy(plan: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(plan, *args, **kwargs)
        rows_out = len(out[0]) if isinstance(out, list) else out.num_rows
        computed.append(([o.name for o in plan.outputs], rows_out))
        return out

    monkeypatch.setattr(store_module, target, spy)
    result = batch_request(store, "d", rows, [NAMES.index(c) for c in ("u", "g", "x", "ts")])
    assert list(result.common_outputs) == once
    names = list(result.names)
    assert computed == [(once, 1), ([n for n in names if n not in once], len(rows))]
    for name, column in zip(names, result.columns, strict=True):
        assert column.to_pylist() == [f.column(name).to_pylist()[0] for f in full], name


def test_procedure_answers_common_outputs_once() -> None:
    """The APIServer's procedure route: a common window's aggregates of common columns are answered once."""
    store = OnlineStore()
    execute_sql(
        store,
        "create table t1 (id int, c1 string, c3 int, c4 bigint, c7 timestamp, index(key=c1, ts=c7));"
        "insert into t1 values (1, 'a', 1, 30, 1590738990000);"
        "create procedure sp(id int, const c1 string, c3 int, const c4 bigint, const c7 timestamp) BEGIN "
        "SELECT id, c1, sum(c3) OVER w AS s3, sum(c4) OVER w AS s4 FROM t1 "
        "WINDOW w AS (PARTITION BY c1 ORDER BY c7 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW); END;",
        "online",
    )
    app = create_app(store)
    try:
        described = call(app, "GET", "/dbs/db/procedures/sp").json()["data"]
        assert described["output_common_cols"] == ["c1", "s4"]
        body = {"common_cols": ["a", 31, 1590738991000], "input": [[2, 2], [3, 5]]}
        answer = call(app, "POST", "/dbs/db/procedures/sp", body).json()["data"]
        assert answer == {"data": [[2, 3], [3, 6]], "common_cols_data": ["a", 61]}
    finally:
        app.close()


# ----------------------------------------------------------------------------------------------- the same answer
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b) and type(a) is type(b)


_times = st.sampled_from([0, 1_000, 5_000, 6_000, 20_000])
_maybe_double = st.one_of(st.none(), st.sampled_from([0.5, 1.0, -2.25, 3.0]))
_maybe_int = st.one_of(st.none(), st.integers(-3, 3))
_main_row = st.tuples(
    st.integers(0, 50), st.sampled_from([7, 8]), st.sampled_from(["a", "b"]), _maybe_double, _maybe_int, _times
)
_right_row = st.tuples(st.sampled_from([7, 8]), _maybe_double, _times)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sql=st.sampled_from([DIRECT, EXECUTOR, UNION, SUBQUERY]),
    stored=st.lists(_main_row, max_size=6),
    right=st.lists(_right_row, max_size=4),
    common=st.sets(st.sampled_from(NAMES)),
    shared=_main_row,
    rows=st.lists(_main_row, min_size=2, max_size=5),
)
def test_a_batch_answers_what_each_row_computed_in_full_answers(
    sql: str,
    stored: list[tuple[Any, ...]],
    right: list[tuple[Any, ...]],
    common: set[str],
    shared: tuple[Any, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """Differential: random stored rows, a random set of common columns (the batch's rows hold the values of
    ``shared`` there), against each row requested on its own."""
    store = _store(sql, stored, right)
    indices = sorted(NAMES.index(c) for c in common)
    batch = [[shared[i] if i in indices else row[i] for i in range(len(NAMES))] for row in rows]
    result = batch_request(store, "d", batch, indices)
    for i, row in enumerate(batch):
        alone = store.request("d", [row])
        for name, column in zip(result.names, result.columns, strict=True):
            got, want = column.to_pylist()[i], alone.column(name).to_pylist()[0]
            assert _same(got, want), (name, i, got, want, sorted(common))
    for name, column in zip(result.names, result.columns, strict=True):
        if name in result.common_outputs:
            values = column.to_pylist()
            assert all(_same(v, values[0]) for v in values), name


def test_long_window_parts_read_the_preaggregation() -> None:
    """A pre-aggregated long window: its common aggregates computed once from the partials, equal to each row alone."""
    sql = f"SELECT id, sum(x) OVER w AS sx, count(y) OVER w AS ny, max(x) OVER w AS mx FROM t WINDOW {W_U}"
    store = _store(sql, options={"long_windows": "w:2s"})
    assert store.describe_deployment("d")["preaggregated"] == ["count over w", "max over w", "sum over w"]
    rows = [[10 + i, 7, "a", 2.0, i, 6_000] for i in range(3)]
    result = batch_request(store, "d", rows, [NAMES.index(c) for c in ("u", "x", "ts")])
    assert result.common_outputs == ("sx", "mx")
    for i, row in enumerate(rows):
        alone = store.request("d", [row])
        assert [c.to_pylist()[i] for c in result.columns] == [alone.column(n)[0].as_py() for n in result.names]


def test_a_common_nan_is_one_value() -> None:
    """NaN in a common double column of every row is one value (NaN != NaN in Python)."""
    store = _store(DIRECT)
    rows = [[10 + i, 7, "a", float("nan"), i, 6_000] for i in range(2)]
    result = batch_request(store, "d", rows, [NAMES.index(c) for c in ("u", "x", "ts")])
    assert "sx" in result.common_outputs
    with pytest.raises(DataError, match=r"common column 'x' is 1\.0 in row 1 and nan in row 0"):
        batch_request(store, "d", [rows[0], [11, 7, "a", 1.0, 1, 6_000]], [NAMES.index("x")])


def test_column_repeat_keeps_the_type() -> None:
    """The one row of a common output is repeated for the batch with its type (strings keep their dictionary)."""
    store = _store(DIRECT)
    rows = [[10 + i, 7, "a", 2.0, i, 6_000] for i in range(3)]
    result = batch_request(store, "d", rows, [NAMES.index(c) for c in ("u", "g", "ts")])
    by_name: dict[str, Column] = dict(zip(result.names, result.columns, strict=True))
    assert by_name["mg"].type is T.STRING and by_name["mg"].to_pylist() == ["b", "b", "b"]
