"""The SQL front end: parsing OpenMLDB's extensions, binding, errors that say what and where, the plan."""

from __future__ import annotations

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.errors import NotSupportedError, OpenFeatSQLError
from openfeat_core.plan import explain
from openfeat_core.plan.nodes import Bound, Frame, Select, WindowAgg

TX = pa.table(
    {
        "card": pa.array([1, 1, 2], pa.int64()),
        "ts": pa.array([0, 1000, 2000], pa.timestamp("ms")),
        "amount": pa.array([1.0, 2.0, 3.0]),
        "mcc": pa.array([5, 6, 7], pa.int32()),
        "merchant": pa.array(["a", "b", "c"]),
        "score": pa.array([0.5, 0.25, 1.0], pa.float32()),
    }
)
PROFILE = pa.table({"card": pa.array([1, 2], pa.int64()), "upd": pa.array([0, 0], pa.timestamp("ms"))})
TABLES = {"tx": TX, "profile": PROFILE}
WINDOW = "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)"


def win(spec: str) -> str:
    """A query with one aggregate over a window defined by ``spec``."""
    return f"SELECT sum(amount) OVER w AS s FROM tx WINDOW w AS ({spec})"


def plan(sql: str) -> Select:
    return openfeat_core.plan_sql(sql, TABLES)


@pytest.mark.parametrize(
    ("frame_sql", "expected"),
    [
        (
            "ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW",
            Frame("rows_range", Bound("preceding", 7 * 86_400_000), Bound("current")),
        ),
        (
            "ROWS_RANGE BETWEEN 3s OPEN PRECEDING AND 0s OPEN PRECEDING",
            Frame("rows_range", Bound("preceding", 3000, True), Bound("preceding", 0, True)),
        ),
        ("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", Frame("rows", Bound("unbounded"), Bound("current"))),
        ("ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING", Frame("rows", Bound("preceding", 10), Bound("preceding", 1))),
        (
            "ROWS_RANGE BETWEEN 1500 PRECEDING AND CURRENT ROW",
            Frame("rows_range", Bound("preceding", 1500), Bound("current")),
        ),
        (
            "ROWS_RANGE BETWEEN 2h PRECEDING AND CURRENT ROW MAXSIZE 10 EXCLUDE CURRENT_TIME EXCLUDE CURRENT_ROW",
            Frame(
                "rows_range",
                Bound("preceding", 2 * 3_600_000),
                Bound("current"),
                maxsize=10,
                exclude_current_time=True,
                exclude_current_row=True,
            ),
        ),
        (
            "rows_range between 5m preceding and current row",
            Frame("rows_range", Bound("preceding", 300_000), Bound("current")),
        ),
    ],
)
def test_frames_parse_to_plan(frame_sql: str, expected: Frame) -> None:
    p = plan(f"SELECT sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts {frame_sql})")
    assert p.windows[0].frame == expected


def test_aggregates_on_the_same_window_share_it() -> None:
    p = plan(f"SELECT sum(amount) OVER w AS a, count(amount) OVER w AS b, max(amount) OVER w AS c FROM tx {WINDOW}")
    assert len(p.windows) == 1
    assert {o.expr.window for o in p.outputs if isinstance(o.expr, WindowAgg)} == {0}


def test_union_and_last_join_bind() -> None:
    p = plan(
        "SELECT tx.card, profile.upd, sum(amount) OVER w AS s FROM tx "
        "LAST JOIN profile ORDER BY profile.upd ON tx.card = profile.card AND profile.upd <= tx.ts "
        "WINDOW w AS (PARTITION BY tx.card ORDER BY tx.ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)"
    )
    assert p.outputs[1].name == "upd"
    p2 = plan(
        "SELECT sum(amount) OVER w AS s FROM tx WINDOW w AS (UNION (SELECT * FROM tx) PARTITION BY card ORDER BY ts "
        "ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW INSTANCE_NOT_IN_WINDOW)"
    )
    assert len(p2.windows[0].unions) == 1
    assert p2.windows[0].frame.instance_not_in_window


def test_plan_json_round_trip_and_stable_digest() -> None:
    sql = f"SELECT card, sum(amount) OVER w AS s, amount * 2 + 1 AS x, 'a' AS lit FROM tx {WINDOW}"
    p = plan(sql)
    again = Select.from_json(p.to_json())
    assert again == p
    assert again.digest() == p.digest() == plan(sql).digest()
    assert plan(sql.replace("7d", "8d")).digest() != p.digest()


def test_explain_is_readable() -> None:
    text = explain(plan(f"SELECT card, sum(amount) OVER w AS s FROM tx {WINDOW}"))
    assert (
        "WINDOW #0 w: PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 604800000ms PRECEDING AND CURRENT ROW"
        in text
    )
    assert "SCAN tx" in text
    assert "s := sum(tx.amount) OVER #0" in text


@pytest.mark.parametrize(
    ("sql", "error", "line", "column", "fragments"),
    [
        # unknown column: names it, lists what exists, points at it
        ("SELECT card,\n  amout FROM tx", OpenFeatSQLError, 2, 3, ["unknown column 'amout'", "amount"]),
        # misspelled function: suggests the right one
        (
            f"SELECT card, summ(amount) OVER w AS s FROM tx {WINDOW}",
            OpenFeatSQLError,
            1,
            14,
            ["unknown function 'summ'", "sum"],
        ),
        ("SELECT uper(merchant) FROM tx", OpenFeatSQLError, 1, 8, ["unknown function 'uper'", "upper"]),
        # bad windows, as OpenMLDB rejects them
        (
            win("PARTITION BY card ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW MAXSIZE 3"),
            OpenFeatSQLError,
            1,
            None,
            ["MAXSIZE is only valid for ROWS_RANGE"],
        ),
        (
            win("PARTITION BY card ORDER BY merchant ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"),
            OpenFeatSQLError,
            1,
            None,
            ["ORDER BY column must be an integer or timestamp, got string"],
        ),
        (
            win("PARTITION BY score ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"),
            OpenFeatSQLError,
            1,
            None,
            ["PARTITION BY column must be"],
        ),
        (
            win("PARTITION BY card ORDER BY ts ROWS BETWEEN 2s PRECEDING AND CURRENT ROW"),
            OpenFeatSQLError,
            1,
            None,
            ["time units"],
        ),
        ("SELECT sum(amount) OVER w2 AS s FROM tx " + WINDOW, OpenFeatSQLError, 1, None, ["unknown window 'w2'"]),
        (
            win("PARTITION BY card ORDER BY ts ROWS BETWEEN 2 FOLLOWING AND CURRENT ROW"),
            OpenFeatSQLError,
            1,
            None,
            ["FOLLOWING frame bounds are not supported"],
        ),
        # syntax error: line and column of the offending token
        ("SELECT card\nFROM tx WHERE", OpenFeatSQLError, None, None, ["syntax error"]),
        ("SELECT card FROM nosuch", OpenFeatSQLError, 1, 18, ["unknown table 'nosuch'", "tx"]),
        # valid OpenMLDB SQL we do not support: a distinct error naming the construct
        (
            "SELECT tx.card FROM tx RIGHT JOIN profile ON tx.card = profile.card",
            NotSupportedError,
            1,
            None,
            ["RIGHT JOIN"],
        ),
    ],
)
def test_errors_say_what_and_where(
    sql: str, error: type[Exception], line: int | None, column: int | None, fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        openfeat_core.compute(sql, TABLES)
    err = info.value
    assert isinstance(err, OpenFeatSQLError)
    for fragment in fragments:
        assert fragment in str(err)
    if line is not None:
        assert err.line == line, str(err)
    if column is not None:
        assert err.column == column, str(err)
    if err.line is not None:
        assert str(err).startswith(f"line {err.line}, column {err.column}: ")


def test_syntax_error_position() -> None:
    with pytest.raises(OpenFeatSQLError) as info:
        openfeat_core.compute(
            "SELECT card FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts ROWS BETWEEN x AND y)", TABLES
        )
    assert info.value.line == 1
    assert info.value.column is not None and info.value.column > 60
    assert "Expected UNBOUNDED PRECEDING" in str(info.value)


def test_config_request_values_compute_request_rows() -> None:
    out = openfeat_core.compute(
        "SELECT card, sum(amount) OVER w AS s FROM tx "
        "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW) "
        "CONFIG (execute_mode = 'request', "
        "values = [(1, timestamp(5000), 10.0, 1, 'x', 0.5), (2, timestamp(0), 1.0, 1, 'y', 0.5)])",
        TABLES,
    )
    # A request row sees the stored rows of its key up to its time, and is not stored itself.
    assert out.to_pydict() == {"card": [1, 2], "s": [13.0, 1.0]}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("CONFIG (execute_mode = 'request')", "needs values"),
        ("CONFIG (execute_mode = 'fast', values = (1))", "unknown execute_mode"),
        ("CONFIG (mode = 'request', values = (1))", "unknown CONFIG option 'mode'"),
        ("CONFIG (execute_mode = 'request', values = (1, 2))", "need 6 values"),
    ],
)
def test_config_clause_errors(config: str, fragment: str) -> None:
    with pytest.raises(OpenFeatSQLError, match=fragment):
        openfeat_core.compute(f"SELECT card FROM tx {config}", TABLES)


# --- deep and long SQL (generated feature scripts) ----------------------------------------------------------------
def test_a_ten_thousand_term_sum_and_two_hundred_nested_parentheses_compute() -> None:
    terms = " + ".join(["amount"] * 10_000)
    nested = "(" * 200 + "amount * 2" + ")" * 200
    out = openfeat_core.compute(f"SELECT {terms} AS total, {nested} AS doubled FROM tx", TABLES)
    assert out.to_pydict() == {"total": [10_000.0, 20_000.0, 30_000.0], "doubled": [2.0, 4.0, 6.0]}


def test_nested_function_calls_and_case_expressions_compute() -> None:
    calls = "abs(" * 200 + "amount" + ")" * 200
    cases = "CASE WHEN amount > 1 THEN " * 100 + "1" + " ELSE 0 END" * 100
    out = openfeat_core.compute(f"SELECT {calls} AS a, {cases} AS c FROM tx", TABLES)
    assert out.to_pydict() == {"a": [1.0, 2.0, 3.0], "c": [0, 1, 1]}


def test_a_thousand_select_items_and_a_hundred_windows_compute() -> None:
    items = ", ".join(f"amount + {i} AS c{i}" for i in range(1000))
    windows = ", ".join(f"sum(amount) OVER w{i} AS s{i}" for i in range(100))
    defs = ", ".join(
        f"w{i} AS (PARTITION BY card ORDER BY ts ROWS BETWEEN {i} PRECEDING AND CURRENT ROW)" for i in range(100)
    )
    out = openfeat_core.compute(f"SELECT {items}, {windows} FROM tx WINDOW {defs}", TABLES)
    assert out.num_columns == 1100
    assert out.column("c999").to_pylist() == [1000.0, 1001.0, 1002.0]
    assert out.column("s0").to_pylist() == [1.0, 2.0, 3.0]
    assert out.column("s99").to_pylist() == [1.0, 3.0, 3.0]


def test_parentheses_nested_beyond_the_limit_are_a_positioned_error() -> None:
    from openfeat_core.sql.depth import MAX_NESTING

    sql = "SELECT card,\n  " + "(" * (MAX_NESTING + 1) + "amount" + ")" * (MAX_NESTING + 1) + " AS x FROM tx"
    with pytest.raises(OpenFeatSQLError) as info:
        plan(sql)
    # The first parenthesis past the limit: line 2, after two spaces and MAX_NESTING parentheses.
    assert (info.value.line, info.value.column) == (2, 3 + MAX_NESTING)
    assert f"expression nested deeper than {MAX_NESTING}" in str(info.value)


def test_an_operator_chain_beyond_the_limit_is_a_positioned_error_not_a_recursion_error() -> None:
    from openfeat_core.sql.depth import MAX_EXPRESSION_DEPTH

    sql = "SELECT\n" + " + ".join(["amount"] * (MAX_EXPRESSION_DEPTH + 10)) + " AS x FROM tx"
    with pytest.raises(OpenFeatSQLError) as info:
        plan(sql)
    assert info.value.line == 2 and info.value.column is not None
    assert f"expression nested deeper than {MAX_EXPRESSION_DEPTH}" in str(info.value)


def test_deep_sql_in_a_config_clause_is_a_positioned_error() -> None:
    values = "(" * 300 + "1" + ")" * 300
    with pytest.raises(OpenFeatSQLError, match="nested deeper than 256"):
        openfeat_core.compute(f"SELECT card FROM tx CONFIG (execute_mode = 'request', values = ({values}))", TABLES)


@pytest.mark.parametrize(
    ("expression", "at"),
    [
        ("NOT " * 20_000 + "amount > 1", 8 + 4 * 256),  # a run of prefix operators, not brackets
        ("- " * 20_000 + "amount", 8 + 2 * 256),
        ("[" * 2_000 + "amount" + "]" * 2_000, 8 + 256),
        ("(" * 100_000 + "amount", 8 + 256),  # never closed: refused before the parser sees it
    ],
)
def test_adversarial_nesting_is_a_positioned_error(expression: str, at: int) -> None:
    with pytest.raises(OpenFeatSQLError, match="expression nested deeper than 256") as info:
        plan(f"SELECT {expression} AS x FROM tx")
    assert (info.value.line, info.value.column) == (1, at)


def test_a_twenty_thousand_value_in_list_computes() -> None:
    values = ", ".join(str(v) for v in range(20_000))
    out = openfeat_core.compute(f"SELECT card IN ({values}) AS a, mcc IN (7, 100, NULL) AS b FROM tx", TABLES)
    # NULL in the list: no match is NULL, as with a chain of ORs.
    assert out.to_pydict() == {"a": [True, True, True], "b": [None, None, True]}
