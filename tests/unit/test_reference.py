"""Checks of the slow reference evaluator (``tests/reference.py``) against hand-computed expectations.

Most cases are transcribed from OpenMLDB's conformance cases (file and id in each case's name), the rest are
hand-computed examples of ``docs/semantics.md``. If the reference is wrong here, every property test built on
it is wrong too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

# The reference is a helper module next to the test packages, not part of the engine; make it importable as
# `reference` whichever way pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reference as ref
from reference import (
    CURRENT_ROW,
    ROWS,
    ROWS_RANGE,
    UNBOUNDED,
    Aggregate,
    Condition,
    Frame,
    JoinPredicate,
    LastJoin,
    Query,
    Table,
    Window,
    preceding,
)


def table(schema: str, *rows: tuple[Any, ...]) -> Table:
    """A table from ``"name type, name type"`` and positional rows (None = NULL)."""
    columns = tuple((name, type_name) for name, type_name in (c.split() for c in schema.split(",")))
    names = [name for name, _ in columns]
    return Table(columns, tuple(dict(zip(names, row, strict=True)) for row in rows))


ATTR_SCHEMA = "id int32, ts timestamp, g int32, val int32"


def attr_query(frame: Frame, t1: Table, *, union: dict[str, Table] | None = None, lags: int = 1) -> Query:
    """The query shape of window_attributes.yaml / test_window_union.yaml 18-x: id, cnt, mv, mi, l1[, l2, l3]."""
    union = union or {}
    aggregates = [
        Aggregate("count", "val", "w", "cnt"),
        Aggregate("max", "val", "w", "mv"),
        Aggregate("min", "val", "w", "mi"),
    ]
    aggregates += [Aggregate("lag", "val", "w", f"l{n}", n=n) for n in range(1, lags + 1)]
    window = Window(("g",), "ts", frame, tuple(union))
    return Query({"t1": t1, **union}, "t1", ("id",), tuple(aggregates), {"w": window})


def sum_query(frame: Frame, t: Table, *, column: str = "c4", key: str = "c1", order: str = "c7") -> Query:
    """``SELECT c3, sum(c4) OVER w`` — the shape of test_current_row.yaml and test_window.yaml."""
    return Query({"t": t}, "t", ("c3",), (Aggregate("sum", column, "w", "s"),), {"w": Window((key,), order, frame)})


T_EXCLUDE_ROW = table(
    ATTR_SCHEMA,
    (0, 0, 111, 0),
    (1, 0, 111, 0),
    (2, 99000, 111, 21),
    (3, 100000, 111, 22),
    (4, 101000, 111, 23),
    (5, 100000, 114, 56),
)
T_ATTR = table(
    ATTR_SCHEMA,
    (1, 99000, 111, 21),
    (2, 100000, 111, 22),
    (3, 101000, 111, 23),
    (4, 102000, 111, 44),
    (5, 100000, 114, 56),
    (6, 102000, 114, 52),
)
T_ATTR9 = table(
    ATTR_SCHEMA,
    (1, 99000, 111, 21),
    (2, 100000, 111, 22),
    (3, 101000, 111, 23),
    (4, 102000, 111, 44),
    (5, 0, 114, 0),
    (6, 0, 114, 99),
    (7, 100000, 114, 56),
    (8, 102000, 114, 52),
    (9, 104000, 114, 33),
)
T_ATTR_EXPECTED_MAXSIZE: list[list[Any]] = [
    [1, 0, None, None, None],
    [2, 1, 21, 21, 21],
    [3, 2, 22, 21, 22],
    [4, 2, 23, 22, 23],
    [5, 0, None, None, None],
    [6, 1, 56, 56, 56],
]

# test_window_union.yaml 18-x / 20-30 share this union table.
U_99_100_101 = table(ATTR_SCHEMA, (1, 99, 111, 233), (1, 100, 111, 200), (1, 101, 111, 17))
T_UNION_24 = table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 5), (3, 101, 111, 0), (4, 102, 111, 0))

CR_SCHEMA = "c1 string, c3 int32, c4 int64, c7 timestamp"
T_CR2 = table(
    CR_SCHEMA,
    ("aa", 20, 30, 1590738990000),
    ("aa", 21, 31, 1590738990000),
    ("aa", 22, 32, 1590738992000),
    ("aa", 23, 33, 1590738993000),
    ("bb", 24, 34, 1590738994000),
)
T_CR3 = table(
    CR_SCHEMA,
    ("aa", 20, 30, 1590738990000),
    ("aa", 21, 31, 1590738990000),
    ("aa", 22, 32, 1590738991000),
    ("aa", 23, 33, 1590738993000),
    ("bb", 24, 34, 1590738994000),
)

ECT_SCHEMA = "c1 string, c3 int32, c4 double, c7 timestamp"
T_ECT = table(
    ECT_SCHEMA,
    *[
        ("aa", i, 1.0, ts)
        for i, ts in enumerate(
            [
                0,
                0,
                0,
                1590738990000,
                1590738990000,
                1590738992000,
                1590738993000,
                1590738994000,
                1590738994000,
                1590738999000,
                1590739001000,
                1590739002000,
            ],
            start=-2,
        )
    ],
)
T_ECT18 = table(
    ECT_SCHEMA,
    *[
        ("aa", i, 1.0, ts)
        for i, ts in enumerate([1590738990000] * 6 + [1590738991000, 1590738992000, 1590738993000], start=1)
    ],
)

# test_window.yaml ids 11/12: rows arrive out of order.
T_UNORDERED = table(
    "id int32, c1 string, c4 int64, c7 timestamp",
    (4, "aa", 33, 1590738990003),
    (1, "aa", 30, 1590738990000),
    (3, "aa", 32, 1590738990002),
    (2, "aa", 31, 1590738990001),
    (5, "aa", 34, 1590738990004),
)

T_FIRST_LAST = table(
    "id int32, ts timestamp, group1 string, val1 int32",
    (1, 1612130400000, "g1", 1),
    (2, 1612130401000, "g1", 2),
    (3, 1612130402000, "g1", 3),
    (4, 1612130403000, "g1", 4),
    (5, 1612130404000, "g1", 5),
    (6, 1612130404000, "g2", 4),
    (7, 1612130405000, "g2", 3),
    (8, 1612130406000, "g2", 2),
)

UDAF_SCHEMA = "id int32, c1 string, c2 int16, c3 int32, c4 int64, c5 float, c6 double, c7 timestamp, c10 bool"
T_SUM_WHERE = table(
    UDAF_SCHEMA,
    (1, "aa", 1, 1, 30, None, 2.1, 1590738990000, True),
    (2, "aa", 4, 4, None, 1.4, 2.4, 1590738991000, False),
    (3, "aa", 3, None, 33, 1.3, 2.3, 1590738992000, True),
    (4, "aa", None, 3, 32, 1.1, None, 1590738993000, None),
)
T_COUNT_WHERE = table(
    UDAF_SCHEMA,
    (1, "aa", 1, 1, 30, 1.1, 2.1, 1590738990000, True),
    (2, "aa", 4, 4, 33, 1.4, 2.4, 1590738991000, False),
    (3, "aa", 3, 3, 32, 1.3, 2.3, 1590738992000, True),
    (4, "aa", None, None, None, None, None, 1590738993000, None),
)
T_DISTINCT_BOOL = table(
    UDAF_SCHEMA,
    (1, "aa", 1, 1, 30, 1.1, 2.1, 1590738990000, True),
    (2, "aa", 4, 4, 33, 1.4, 2.4, 1590738991000, False),
    (3, "aa", 1, 1, 33, 1.1, 2.1, 1590738992000, True),
    (4, "aa", None, None, None, None, None, 1590738993000, None),
)
ROWS_2 = Frame(ROWS, preceding(2))
UDAF_WINDOW = {"w": Window(("c1",), "c7", ROWS_2)}


def udaf_query(t: Table, *aggregates: Aggregate) -> Query:
    return Query({"t": t}, "t", ("id",), aggregates, UDAF_WINDOW)


def where(func: str, column: str, op: Any, value: int | float, alias: str) -> Aggregate:
    return Aggregate(func, column, "w", alias, Condition(column, op, value))


WINDOW_CASES: list[tuple[str, Query, list[list[Any]]]] = [
    (
        "window_attributes#0 ROWS_RANGE EXCLUDE CURRENT_ROW, ties at ts 0",
        attr_query(Frame(ROWS_RANGE, preceding(2000), preceding(0), exclude_current_row=True), T_EXCLUDE_ROW),
        [
            [0, 0, None, None, None],
            [1, 1, 0, 0, 0],
            [2, 0, None, None, 0],
            [3, 1, 21, 21, 21],
            [4, 2, 22, 21, 22],
            [5, 0, None, None, None],
        ],
    ),
    (
        "window_attributes#3 ROWS pure history",
        attr_query(Frame(ROWS, preceding(2), preceding(1), exclude_current_row=True), T_ATTR),
        [
            [1, 0, None, None, None],
            [2, 1, 21, 21, 21],
            [3, 2, 22, 21, 22],
            [4, 2, 23, 22, 23],
            [5, 0, None, None, None],
            [6, 1, 56, 56, 56],
        ],
    ),
    (
        "window_attributes#4 MAXSIZE after EXCLUDE CURRENT_ROW",
        attr_query(Frame(ROWS_RANGE, preceding(3000), preceding(0), maxsize=2, exclude_current_row=True), T_ATTR),
        T_ATTR_EXPECTED_MAXSIZE,
    ),
    (
        "window_attributes#5 ROWS_RANGE 0s OPEN end",
        attr_query(
            Frame(ROWS_RANGE, preceding(3000), preceding(0, open=True), maxsize=2, exclude_current_row=True), T_ATTR
        ),
        T_ATTR_EXPECTED_MAXSIZE,
    ),
    (
        "window_attributes#6 ROWS 0 OPEN end",
        attr_query(Frame(ROWS, preceding(3), preceding(0, open=True), exclude_current_row=True), T_ATTR),
        [
            [1, 0, None, None, None],
            [2, 1, 21, 21, 21],
            [3, 2, 22, 21, 22],
            [4, 3, 23, 21, 23],
            [5, 0, None, None, None],
            [6, 1, 56, 56, 56],
        ],
    ),
    (
        "window_attributes#9 EXCLUDE CURRENT_TIME before ROWS counting; lag honours it",
        attr_query(Frame(ROWS, preceding(3), exclude_current_time=True, exclude_current_row=True), T_ATTR9),
        [
            [1, 0, None, None, None],
            [2, 1, 21, 21, 21],
            [3, 2, 22, 21, 22],
            [4, 3, 23, 21, 23],
            [5, 0, None, None, None],
            [6, 0, None, None, None],
            [7, 2, 99, 0, 99],
            [8, 3, 99, 0, 56],
            [9, 3, 99, 52, 52],
        ],
    ),
    (
        "window_attributes#11 ROWS UNBOUNDED EXCLUDE CURRENT_ROW",
        attr_query(Frame(ROWS, UNBOUNDED, CURRENT_ROW, exclude_current_row=True), T_ATTR),
        [
            [1, 0, None, None, None],
            [2, 1, 21, 21, 21],
            [3, 2, 22, 21, 22],
            [4, 3, 23, 21, 23],
            [5, 0, None, None, None],
            [6, 1, 56, 56, 56],
        ],
    ),
    (
        "test_window#36 ROWS 3 OPEN PRECEDING AND 0 OPEN PRECEDING",
        attr_query(
            Frame(ROWS, preceding(3, open=True), preceding(0, open=True)),
            table(ATTR_SCHEMA, (1, 99, 111, 21), (2, 100, 111, 22), (3, 101, 111, 23)),
        ),
        [[1, 0, None, None, None], [2, 1, 21, 21, 21], [3, 2, 22, 21, 22]],
    ),
    (
        "test_window#37 ROWS_RANGE 2s OPEN PRECEDING AND 0s OPEN PRECEDING",
        attr_query(
            Frame(ROWS_RANGE, preceding(2000, open=True), preceding(0, open=True)),
            table(ATTR_SCHEMA, (1, 99000, 111, 21), (2, 100000, 111, 22), (3, 101000, 111, 23)),
        ),
        [[1, 0, None, None, None], [2, 1, 21, 21, 21], [3, 1, 22, 22, 22]],
    ),
    (
        "test_window_union#13 INSTANCE_NOT_IN_WINDOW",
        Query(
            {
                "t1": table(
                    "id int32, c3 int32, c4 int64, c7 timestamp",
                    (1, 20, 30, 1590738993000),
                    (4, 20, 33, 1590738994000),
                    (5, 21, 34, 1590738995000),
                ),
                "t2": table(
                    "id int32, c3 int32, c4 int64, c7 timestamp", (2, 20, 31, 1590738991000), (3, 20, 32, 1590738992000)
                ),
            },
            "t1",
            ("id",),
            (Aggregate("sum", "c4", "w", "s"),),
            {"w": Window(("c3",), "c7", Frame(ROWS, preceding(2), instance_not_in_window=True), ("t2",))},
        ),
        [[1, 93], [4, 96], [5, 34]],
    ),
    (
        "test_window_union#18-1 main rows before union rows at equal ts",
        attr_query(
            Frame(ROWS_RANGE, preceding(1000), preceding(0)),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 400), (3, 200, 112, 999)),
            union={
                "t2": table(ATTR_SCHEMA, (1, 100, 111, 233), (1, 100, 111, 200), (1, 101, 111, 17), (3, 199, 112, 44))
            },
        ),
        [[1, 3, 233, 21, 200], [2, 4, 400, 21, 21], [3, 2, 999, 44, 44]],
    ),
    (
        "test_window_union#18-2 ROWS cuts union rows first",
        attr_query(
            Frame(ROWS, preceding(2), preceding(0)),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 400)),
            union={
                "t2": table(ATTR_SCHEMA, (1, 88, 111, 999), (1, 100, 111, 233), (1, 100, 111, 200), (1, 101, 111, 17))
            },
        ),
        [[1, 3, 233, 21, 200], [2, 3, 400, 21, 21]],
    ),
    (
        "test_window_union#18-3 MAXSIZE cuts union rows first",
        attr_query(
            Frame(ROWS_RANGE, preceding(1000), preceding(0), maxsize=2),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 0)),
            union={"t2": U_99_100_101},
        ),
        [[1, 2, 200, 21, 200], [2, 2, 21, 0, 21]],
    ),
    (
        "test_window_union#18-4 EXCLUDE CURRENT_TIME with union",
        attr_query(
            Frame(ROWS_RANGE, preceding(1000), preceding(0), exclude_current_time=True),
            table(
                ATTR_SCHEMA, (0, 0, 111, 19), (1, 0, 111, 18), (2, 100, 111, 21), (3, 100, 111, 5), (4, 101, 111, 100)
            ),
            union={"t2": U_99_100_101},
        ),
        [[0, 1, 19, 19, None], [1, 1, 18, 18, None], [2, 4, 233, 18, 233], [3, 4, 233, 5, 233], [4, 7, 233, 5, 5]],
    ),
    (
        "test_window_union#18-5 ROWS EXCLUDE CURRENT_TIME with union",
        attr_query(
            Frame(ROWS, preceding(2), preceding(0), exclude_current_time=True),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 10000)),
            union={
                "t2": table(
                    ATTR_SCHEMA,
                    (1, 87, 111, 300),
                    (1, 88, 111, 999),
                    (1, 99, 111, 233),
                    (1, 100, 111, 200),
                    (1, 101, 111, 17),
                )
            },
        ),
        [[1, 3, 999, 21, 233], [2, 3, 10000, 233, 233]],
    ),
    (
        "test_window_union#19-1 union tables ordered as in SQL at equal ts",
        attr_query(
            Frame(ROWS_RANGE, preceding(2000), preceding(0)),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 10000)),
            union={
                "t2": table(ATTR_SCHEMA, (1, 88, 111, 999), (1, 100, 111, 233), (1, 100, 111, 200)),
                "t3": table(ATTR_SCHEMA, (1, 100, 111, 0), (1, 100, 111, 33)),
            },
            lags=2,
        ),
        [[1, 6, 999, 0, 200, 233], [2, 7, 10000, 0, 21, 200]],
    ),
    (
        "test_window_union#19-2 pure history INSTANCE_NOT_IN_WINDOW; lag honours it",
        attr_query(
            Frame(ROWS, preceding(3), preceding(1), instance_not_in_window=True),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 10000)),
            union={
                "t2": table(ATTR_SCHEMA, (1, 88, 111, 999), (1, 100, 111, 233), (1, 100, 111, 200)),
                "t3": table(ATTR_SCHEMA, (1, 100, 111, 0), (1, 100, 111, 33)),
            },
            lags=3,
        ),
        [[1, 3, 233, 33, 200, 233, 33], [2, 3, 233, 33, 200, 233, 33]],
    ),
    (
        "test_window_union#21 EXCLUDE CURRENT_ROW and EXCLUDE CURRENT_TIME",
        attr_query(
            Frame(ROWS_RANGE, preceding(3000), preceding(0), exclude_current_row=True, exclude_current_time=True),
            table(ATTR_SCHEMA, (1, 100, 111, 21), (2, 100, 111, 5), (3, 101, 111, 40)),
            union={"t2": U_99_100_101},
        ),
        [[1, 1, 233, 233, 233], [2, 1, 233, 233, 233], [3, 4, 233, 5, 5]],
    ),
    (
        "test_window_union#28 every attribute with MAXSIZE",
        Query(
            {"t1": T_UNION_24, "t2": U_99_100_101},
            "t1",
            ("id",),
            (
                Aggregate("count", "val", "w", "cnt"),
                Aggregate("max", "val", "w", "mv"),
                Aggregate("min", "val", "w", "mi"),
            ),
            {
                "w": Window(
                    ("g",),
                    "ts",
                    Frame(
                        ROWS_RANGE,
                        preceding(3000),
                        maxsize=2,
                        exclude_current_row=True,
                        exclude_current_time=True,
                        instance_not_in_window=True,
                    ),
                    ("t2",),
                )
            },
        ),
        [[1, 1, 233, 233], [2, 1, 233, 233], [3, 2, 233, 200], [4, 2, 200, 17]],
    ),
    (
        "test_window_union#30 MAXSIZE, EXCLUDE CURRENT_ROW and CURRENT_TIME",
        Query(
            {"t1": T_UNION_24, "t2": U_99_100_101},
            "t1",
            ("id",),
            (
                Aggregate("count", "val", "w", "cnt"),
                Aggregate("max", "val", "w", "mv"),
                Aggregate("min", "val", "w", "mi"),
            ),
            {
                "w": Window(
                    ("g",),
                    "ts",
                    Frame(ROWS_RANGE, preceding(3000), maxsize=2, exclude_current_row=True, exclude_current_time=True),
                    ("t2",),
                )
            },
        ),
        [[1, 1, 233, 233], [2, 1, 233, 233], [3, 2, 21, 5], [4, 2, 17, 0]],
    ),
    (
        "test_current_row#2 ROWS EXCLUDE CURRENT_ROW with equal ts",
        sum_query(Frame(ROWS, preceding(2), exclude_current_row=True), T_CR2),
        [[20, None], [21, 30], [22, 61], [23, 63], [24, None]],
    ),
    (
        "test_current_row#3 ROWS_RANGE EXCLUDE CURRENT_ROW with equal ts",
        sum_query(Frame(ROWS_RANGE, preceding(2000), exclude_current_row=True), T_CR3),
        [[20, None], [21, 30], [22, 61], [23, 32], [24, None]],
    ),
    (
        "test_window_exclude_current_time#0 ROWS_RANGE OPEN EXCLUDE CURRENT_TIME",
        sum_query(Frame(ROWS_RANGE, preceding(4000, open=True), exclude_current_time=True), T_ECT),
        [
            [-2, 1.0],
            [-1, 1.0],
            [0, 1.0],
            [1, 1.0],
            [2, 1.0],
            [3, 3.0],
            [4, 4.0],
            [5, 3.0],
            [6, 3.0],
            [7, 1.0],
            [8, 2.0],
            [9, 3.0],
        ],
    ),
    (
        "test_window_exclude_current_time#1 MAXSIZE 2 OPEN EXCLUDE CURRENT_TIME",
        sum_query(
            Frame(ROWS_RANGE, preceding(4000, open=True), maxsize=2, exclude_current_time=True),
            table(ECT_SCHEMA, *[(r["c1"], r["c3"], r["c4"], r["c7"]) for r in T_ECT.rows[3:]]),
        ),
        [[1, 1.0], [2, 1.0], [3, 2.0], [4, 2.0], [5, 2.0], [6, 2.0], [7, 1.0], [8, 2.0], [9, 2.0]],
    ),
    (
        "test_window_exclude_current_time#3 ROWS 7 OPEN PRECEDING EXCLUDE CURRENT_TIME",
        sum_query(
            Frame(ROWS, preceding(7, open=True), exclude_current_time=True),
            table(ECT_SCHEMA, *[(r["c1"], r["c3"], r["c4"], r["c7"]) for r in T_ECT.rows[1:]]),
        ),
        [[-1, 1.0], [0, 1.0], [1, 3.0], [2, 3.0], [3, 5.0], [4, 6.0], [5, 7.0], [6, 7.0], [7, 7.0], [8, 7.0], [9, 7.0]],
    ),
    (
        "test_window_exclude_current_time#17 ROWS with equal ts",
        sum_query(Frame(ROWS, preceding(3)), T_ECT18),
        [[1, 1.0], [2, 2.0], [3, 3.0], [4, 4.0], [5, 4.0], [6, 4.0], [7, 4.0], [8, 4.0], [9, 4.0]],
    ),
    (
        "test_window_exclude_current_time#18 ROWS with equal ts EXCLUDE CURRENT_TIME",
        sum_query(Frame(ROWS, preceding(3), exclude_current_time=True), T_ECT18),
        [[1, 1.0], [2, 1.0], [3, 1.0], [4, 1.0], [5, 1.0], [6, 1.0], [7, 4.0], [8, 4.0], [9, 4.0]],
    ),
    (
        "test_window#11 batch mode sorts late rows (ROWS)",
        Query(
            {"t": T_UNORDERED},
            "t",
            ("id",),
            (Aggregate("sum", "c4", "w", "s"),),
            {"w": Window(("c1",), "c7", Frame(ROWS, preceding(2)))},
        ),
        [[4, 96], [1, 30], [3, 93], [2, 61], [5, 99]],
    ),
    (
        "test_window#11 batch mode sorts late rows (ROWS_RANGE 2 ms)",
        Query(
            {"t": T_UNORDERED},
            "t",
            ("id",),
            (Aggregate("sum", "c4", "w", "s"),),
            {"w": Window(("c1",), "c7", Frame(ROWS_RANGE, preceding(2)))},
        ),
        [[4, 96], [1, 30], [3, 93], [2, 61], [5, 99]],
    ),
    (
        "test_window#33 first_value is the oldest row, last_value the newest",
        Query(
            {"t1": T_FIRST_LAST},
            "t1",
            ("id",),
            (
                Aggregate("last_value", "val1", "w1", "agg1"),
                Aggregate("last_value", "val1", "w2", "agg2"),
                Aggregate("first_value", "val1", "w1", "agg3"),
                Aggregate("first_value", "val1", "w2", "agg4"),
            ),
            {
                "w1": Window(("group1",), "ts", Frame(ROWS_RANGE, preceding(5000), preceding(0))),
                "w2": Window(("group1",), "ts", Frame(ROWS_RANGE, preceding(5000), preceding(1000))),
            },
        ),
        [
            [1, 1, None, 1, None],
            [2, 2, 1, 1, 1],
            [3, 3, 2, 1, 1],
            [4, 4, 3, 1, 1],
            [5, 5, 4, 1, 1],
            [6, 4, None, 4, None],
            [7, 3, 4, 4, 4],
            [8, 2, 3, 4, 4],
        ],
    ),
    (
        "test_udaf_function#15 sum_where",
        udaf_query(
            T_SUM_WHERE,
            where("sum_where", "c2", "<", 4, "m2"),
            where("sum_where", "c3", "<", 4, "m3"),
            where("sum_where", "c4", "<", 33, "m4"),
            where("sum_where", "c5", "<=", 1.3, "m5"),
        ),
        [
            [1, 1, 1, 30, None],
            [2, 1, 1, 30, None],
            [3, 4, 1, 30, ref.to_float32(1.3)],
            [4, 3, 3, 32, ref.to_float32(ref.to_float32(1.3) + ref.to_float32(1.1))],
        ],
    ),
    (
        "test_udaf_function#17 count_where, NULL condition is false",
        udaf_query(
            T_COUNT_WHERE,
            where("count_where", "c2", "<", 4, "m2"),
            where("count_where", "c5", "<=", 1.3, "m5"),
            Aggregate("count_where", None, "w", "m11", Condition("c3", "<", 4)),
        ),
        [[1, 1, 1, 1], [2, 1, 1, 1], [3, 2, 2, 2], [4, 1, 1, 1]],
    ),
    (
        "test_udaf_function#6 distinct_count counts NULL as false",
        udaf_query(T_DISTINCT_BOOL, Aggregate("count", "c10", "w", "n"), Aggregate("distinct_count", "c10", "w", "d")),
        [[1, 1, 1], [2, 2, 2], [3, 3, 2], [4, 2, 2]],
    ),
]


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in WINDOW_CASES], ids=[c[0] for c in WINDOW_CASES])
def test_window_cases(query: Query, expected: list[list[Any]]) -> None:
    assert ref.evaluate(query) == expected


def test_file_replay_matches_request_mode_of_test_window_12() -> None:
    """test_window.yaml#12: OpenMLDB's request-mode replay never shows a late row its stored successors."""
    for unit in (ROWS, ROWS_RANGE):
        query = Query(
            {"t": T_UNORDERED},
            "t",
            ("id",),
            (Aggregate("sum", "c4", "w", "s"),),
            {"w": Window(("c1",), "c7", Frame(unit, preceding(2)))},
        )
        assert ref.evaluate(query, replay="file") == [[4, 33], [1, 30], [3, 62], [2, 61], [5, 99]]


# ---------------------------------------------------------------------------------------------------------------------
# Aggregates: hand-computed null rules (docs/semantics.md §6)
# ---------------------------------------------------------------------------------------------------------------------

AGG_SCHEMA = "id int64, k string, ts timestamp, x int32, f float, d double, s string"
T_AGG = table(
    AGG_SCHEMA,
    (1, "a", 1000, 3, 0.5, 1.5, "b"),
    (2, "a", 2000, None, None, None, None),
    (3, "a", 3000, 0, 0.25, 0.0, ""),
    (4, "a", 4000, -1, -0.5, -2.5, "ab"),
)
T_AGG_NULLS = table(AGG_SCHEMA, (1, "a", 1000, None, None, None, None), (2, "a", 2000, None, None, None, None))
T_EMPTY = table(AGG_SCHEMA)
UNBOUNDED_ROWS = {"w": Window(("k",), "ts", Frame(ROWS, UNBOUNDED))}


def last_row_value(t: Table, agg: Aggregate) -> Any:
    """The aggregate over the whole (single-partition) table, i.e. the value at its last row."""
    return ref.evaluate(Query({"t": t}, "t", (), (agg,), UNBOUNDED_ROWS))[-1][0]


def agg(func: str, column: str | None, condition: Condition | None = None, n: int = 1) -> Aggregate:
    return Aggregate(func, column, "w", "a", condition, n)


GT0 = Condition("x", ">", 0)
GE0 = Condition("x", ">=", 0)

AGGREGATE_CASES: list[tuple[str, Table, Aggregate, Any]] = [
    ("count skips NULL", T_AGG, agg("count", "x"), 3),
    ("count(*) counts rows", T_AGG, agg("count", None), 4),
    ("count of all-NULL", T_AGG_NULLS, agg("count", "x"), 0),
    ("sum int", T_AGG, agg("sum", "x"), 2),
    ("sum all-NULL is NULL", T_AGG_NULLS, agg("sum", "x"), None),
    ("sum float is float32", T_AGG, agg("sum", "f"), 0.25),
    ("sum double", T_AGG, agg("sum", "d"), -1.0),
    ("avg int", T_AGG, agg("avg", "x"), 2 / 3),
    ("avg all-NULL is NULL", T_AGG_NULLS, agg("avg", "d"), None),
    ("min int", T_AGG, agg("min", "x"), -1),
    ("max string by bytes", T_AGG, agg("max", "s"), "b"),
    ("min string, empty is smallest", T_AGG, agg("min", "s"), ""),
    ("min timestamp", T_AGG, agg("min", "ts"), 1000),
    ("max all-NULL is NULL", T_AGG_NULLS, agg("max", "x"), None),
    ("distinct_count: NULL equals 0", T_AGG, agg("distinct_count", "x"), 3),
    ("distinct_count: NULL equals empty string", T_AGG, agg("distinct_count", "s"), 3),
    ("distinct_count of all-NULL", T_AGG_NULLS, agg("distinct_count", "x"), 1),
    ("count_where", T_AGG, agg("count_where", "x", GT0), 1),
    ("count_where(*) NULL condition is false", T_AGG, agg("count_where", None, GE0), 2),
    ("sum_where", T_AGG, agg("sum_where", "x", GT0), 3),
    ("sum_where skips zero", T_AGG, agg("sum_where", "x", GE0), 3),
    ("sum_where of zeros only is NULL", T_AGG, agg("sum_where", "x", Condition("x", "=", 0)), None),
    ("avg_where skips zero", T_AGG, agg("avg_where", "x", GE0), 3.0),
    ("avg_where on double", T_AGG, agg("avg_where", "d", Condition("d", "<", 1.0)), -2.5),
    ("min_where keeps zero", T_AGG, agg("min_where", "x", GE0), 0),
    ("max_where nothing matches", T_AGG, agg("max_where", "x", Condition("x", ">", 5)), None),
    ("lag 0 is the current row", T_AGG, agg("lag", "x", n=0), -1),
    ("lag 2 reads a NULL", T_AGG, agg("lag", "x", n=2), None),
    ("lag beyond the partition", T_AGG, agg("lag", "x", n=4), None),
    ("first_value is the oldest row", T_AGG, agg("first_value", "x"), 3),
    ("first_value may be NULL", T_AGG_NULLS, agg("first_value", "x"), None),
    ("last_value is the newest row", T_AGG, agg("last_value", "s"), "ab"),
    ("stddev sample", T_AGG, agg("stddev", "x"), ((3 - 2 / 3) ** 2 + (2 / 3) ** 2 + (1 + 2 / 3) ** 2) ** 0.5 / 2**0.5),
    ("stddev of one value is NULL", table(AGG_SCHEMA, (1, "a", 1, 5, None, None, None)), agg("stddev", "x"), None),
]


@pytest.mark.parametrize(
    ("t", "aggregate", "expected"), [c[1:] for c in AGGREGATE_CASES], ids=[c[0] for c in AGGREGATE_CASES]
)
def test_aggregate_rules(t: Table, aggregate: Aggregate, expected: Any) -> None:
    got = last_row_value(t, aggregate)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-12)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("func", "column", "expected"),
    [("count", "x", []), ("sum", "x", []), ("lag", "x", [])],
)
def test_empty_table_gives_no_rows(func: str, column: str, expected: list[Any]) -> None:
    assert ref.evaluate(Query({"t": T_EMPTY}, "t", ("id",), (agg(func, column),), UNBOUNDED_ROWS)) == expected


@pytest.mark.parametrize(
    ("value", "type_name", "expected"),
    [
        (2**31, "int32", -(2**31)),
        (2**31 - 1, "int32", 2**31 - 1),
        (-(2**15) - 1, "int16", 2**15 - 1),
        (2**63 + 5, "int64", -(2**63) + 5),
        (-7, "int64", -7),
    ],
)
def test_integer_sums_wrap(value: int, type_name: str, expected: int) -> None:
    assert ref.wrap_int(value, type_name) == expected


def test_int32_sum_overflow_wraps() -> None:
    t = table("k string, ts timestamp, x int32", ("a", 1, 2**31 - 1), ("a", 2, 1))
    query = Query({"t": t}, "t", (), (Aggregate("sum", "x", "w", "s"),), {"w": Window(("k",), "ts", ROWS_2)})
    assert ref.evaluate(query) == [[2**31 - 1], [-(2**31)]]


# ---------------------------------------------------------------------------------------------------------------------
# The worked examples of docs/semantics.md §2.4-2.5
# ---------------------------------------------------------------------------------------------------------------------

DOC_SCHEMA = "id int64, k string, ts timestamp, v int32"
T_DOC = table(
    DOC_SCHEMA,
    (1, "a", 1000, 10),
    (2, "a", 1000, 20),
    (3, "a", 2000, None),
    (4, "a", 3500, 40),
    (5, "b", 1000, 50),
    (6, "a", 500, 60),
)
U_DOC = table(DOC_SCHEMA, (101, "a", 1000, 7), (102, "a", 3000, 8))

DOC_CASES: list[tuple[str, Frame, list[tuple[Any, ...]]]] = [
    (
        "ROWS 1 PRECEDING",
        Frame(ROWS, preceding(1)),
        [(1, 2, 70, 60), (2, 2, 30, 10), (3, 1, 20, 20), (4, 1, 40, None), (5, 1, 50, None), (6, 1, 60, None)],
    ),
    (
        "ROWS 1 PRECEDING EXCLUDE CURRENT_TIME",
        Frame(ROWS, preceding(1), exclude_current_time=True),
        [(1, 2, 70, 60), (2, 2, 80, 60), (3, 1, 20, 20), (4, 1, 40, None), (5, 1, 50, None), (6, 1, 60, None)],
    ),
    (
        "ROWS 2 PRECEDING AND 1 PRECEDING",
        Frame(ROWS, preceding(2), preceding(1)),
        [(1, 1, 60, 60), (2, 2, 70, 10), (3, 2, 30, 20), (4, 1, 20, None), (5, 0, None, None), (6, 0, None, None)],
    ),
    (
        "ROWS_RANGE 1s PRECEDING",
        Frame(ROWS_RANGE, preceding(1000)),
        [(1, 2, 70, 60), (2, 3, 90, 10), (3, 2, 30, 20), (4, 1, 40, None), (5, 1, 50, None), (6, 1, 60, None)],
    ),
    (
        "ROWS_RANGE 1s OPEN PRECEDING",
        Frame(ROWS_RANGE, preceding(1000, open=True)),
        [(1, 2, 70, 60), (2, 3, 90, 10), (3, 0, None, 20), (4, 1, 40, None), (5, 1, 50, None), (6, 1, 60, None)],
    ),
    (
        "ROWS_RANGE 2s MAXSIZE 2",
        Frame(ROWS_RANGE, preceding(2000), maxsize=2),
        [(1, 2, 70, 60), (2, 2, 30, 10), (3, 1, 20, 20), (4, 1, 40, None), (5, 1, 50, None), (6, 1, 60, None)],
    ),
    (
        "ROWS_RANGE 2s EXCLUDE CURRENT_ROW",
        Frame(ROWS_RANGE, preceding(2000), exclude_current_row=True),
        [(1, 1, 60, 60), (2, 2, 70, 10), (3, 3, 90, 20), (4, 0, None, None), (5, 0, None, None), (6, 0, None, None)],
    ),
    (
        "ROWS_RANGE 2s AND 0s OPEN",
        Frame(ROWS_RANGE, preceding(2000), preceding(0, open=True)),
        [(1, 1, 60, 60), (2, 1, 60, 10), (3, 3, 90, 20), (4, 0, None, None), (5, 0, None, None), (6, 0, None, None)],
    ),
]


def doc_query(frame: Frame, union: tuple[str, ...] = ()) -> Query:
    aggregates = (
        Aggregate("count", "v", "w", "cnt"),
        Aggregate("sum", "v", "w", "s"),
        Aggregate("lag", "v", "w", "l1"),
    )
    return Query({"t": T_DOC, "u": U_DOC}, "t", ("id",), aggregates, {"w": Window(("k",), "ts", frame, union)})


@pytest.mark.parametrize(("frame", "expected"), [c[1:] for c in DOC_CASES], ids=[c[0] for c in DOC_CASES])
def test_doc_examples(frame: Frame, expected: list[tuple[Any, ...]]) -> None:
    assert [tuple(r) for r in ref.evaluate(doc_query(frame))] == expected


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (Frame(ROWS, preceding(2)), [(1, 3, 77, 7), (2, 3, 37, 10), (3, 2, 30, 20), (4, 2, 48, 8)]),
        (
            Frame(ROWS, preceding(2), instance_not_in_window=True),
            [(1, 2, 17, 7), (2, 2, 27, 7), (3, 1, 7, 7), (4, 3, 55, 8)],
        ),
    ],
)
def test_doc_union_examples(frame: Frame, expected: list[tuple[Any, ...]]) -> None:
    assert [tuple(r) for r in ref.evaluate(doc_query(frame, ("u",)))][:4] == expected


# ---------------------------------------------------------------------------------------------------------------------
# LAST JOIN
# ---------------------------------------------------------------------------------------------------------------------

LJ_LEFT = "c1 string, c2 int32, c3 int64, c4 timestamp"
LJ_RIGHT = "r1 string, r2 int32, r3 int64, r4 timestamp"


def join_query(left: Table, right: Table, join: LastJoin) -> Query:
    return Query({"t1": left, "t2": right}, "t1", ("c1", "c2", "r3", "r4"), join=join)


T_DOC_L = table("id int64, k string, ts timestamp", (1, "a", 1000), (2, "b", 1000))
T_DOC_R = table("rk string, rts timestamp, x int32", ("a", 900, 1), ("a", 1100, 2), ("a", 900, 3))

JOIN_CASES: list[tuple[str, Query, list[list[Any]]]] = [
    (
        "lastjoin_simple#2 no match gives NULLs",
        join_query(
            table(LJ_LEFT, ("aa", 2, 3, 1590738989000), ("bb", 21, 31, 1590738990000), ("cc", 41, 51, 1590738991000)),
            table(
                LJ_RIGHT, ("aa", 2, 13, 1590738989000), ("bb", 21, 131, 1590738990000), ("dd", 41, 151, 1590738991000)
            ),
            LastJoin("t2", ("c1",), ("r1",), order_by="r3"),
        ),
        [["aa", 2, 13, 1590738989000], ["bb", 21, 131, 1590738990000], ["cc", 41, None, None]],
    ),
    (
        "lastjoin_simple#3 ORDER BY picks the largest value",
        join_query(
            table(LJ_LEFT, ("aa", 2, 3, 1590738989000), ("bb", 21, 31, 1590738990000)),
            table(
                LJ_RIGHT, ("aa", 2, 13, 1590738989000), ("bb", 21, 131, 1590738990000), ("bb", 41, 121, 1590738991000)
            ),
            LastJoin("t2", ("c1",), ("r1",), order_by="r3"),
        ),
        [["aa", 2, 13, 1590738989000], ["bb", 21, 131, 1590738990000]],
    ),
    (
        "lastjoin_simple#4-2 second equality key",
        join_query(
            table(
                LJ_LEFT,
                ("aa", 2, 3, 1590738989000),
                ("aa", 20, 30, 1590738991000),
                ("bb", 21, 31, 1590738990000),
                ("dd", 41, 51, 1590738990000),
            ),
            table(
                LJ_RIGHT,
                ("aa", 2, 13, 1590738989000),
                ("aa", 3, 14, 1590738990000),
                ("aa", 4, 15, 1590738991000),
                ("bb", 21, 131, 1590738990000),
                ("cc", 41, 121, 1590738991000),
            ),
            LastJoin("t2", ("c1", "c4"), ("r1", "r4"), index_ts="r3"),
        ),
        [
            ["aa", 2, 13, 1590738989000],
            ["aa", 20, 15, 1590738991000],
            ["bb", 21, 131, 1590738990000],
            ["dd", 41, None, None],
        ],
    ),
    (
        "lastjoin_simple#4-5 no ORDER BY: the index ts decides",
        join_query(
            table(LJ_LEFT, ("aa", 2, 3, 1590738989000), ("bb", 21, 31, 1590738990000), ("dd", 41, 51, 1590738990000)),
            table(
                LJ_RIGHT,
                ("aa", 2, 13, 1590738989000),
                ("bb", 21, 131, 1590738990000),
                ("bb", 51, 130, 1590738992000),
                ("bb", 31, 132, 1590738989000),
                ("cc", 41, 121, 1590738991000),
            ),
            LastJoin("t2", ("c1",), ("r1",), index_ts="r3"),
        ),
        [["aa", 2, 13, 1590738989000], ["bb", 21, 132, 1590738989000], ["dd", 41, None, None]],
    ),
    (
        "lastjoin_simple#19 empty string is a key like any other; ts ties",
        join_query(
            table(LJ_LEFT, ("", 2, 3, 1590738989000), ("bb", 21, 31, 1590738990000)),
            table(
                LJ_RIGHT,
                ("", 2, 3, 1590738989000),
                ("bb", 22, 31, 1590738990000),
                ("ab", 21, 32, 1590738993000),
                ("bb", 22, 31, 1590738992000),
                ("bb", 22, 31, 1590738991000),
            ),
            LastJoin("t2", ("c1",), ("r1",), order_by="r4"),
        ),
        [["", 2, 3, 1590738989000], ["bb", 21, 31, 1590738992000]],
    ),
    (
        "docs §5 ORDER BY",
        Query({"l": T_DOC_L, "r": T_DOC_R}, "l", ("id", "x"), join=LastJoin("r", ("k",), ("rk",), order_by="rts")),
        [[1, 2], [2, None]],
    ),
    (
        "docs §5 predicate filters first, ties go to the later-inserted row",
        Query(
            {"l": T_DOC_L, "r": T_DOC_R},
            "l",
            ("id", "x"),
            join=LastJoin("r", ("k",), ("rk",), order_by="rts", predicates=(JoinPredicate("rts", "<=", "ts"),)),
        ),
        [[1, 3], [2, None]],
    ),
    (
        "docs §5 no ORDER BY and no index: last inserted",
        Query({"l": T_DOC_L, "r": T_DOC_R}, "l", ("id", "x"), join=LastJoin("r", ("k",), ("rk",))),
        [[1, 3], [2, None]],
    ),
    (
        "window over a LAST JOIN sees joined history rows",
        Query(
            {"l": T_DOC_L, "r": T_DOC_R},
            "l",
            ("id",),
            (Aggregate("sum", "x", "w", "sx"),),
            {"w": Window(("ts",), "ts", Frame(ROWS, UNBOUNDED))},
            join=LastJoin("r", ("k",), ("rk",), order_by="rts"),
        ),
        [[1, 2], [2, 2]],
    ),
]


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in JOIN_CASES], ids=[c[0] for c in JOIN_CASES])
def test_last_join_cases(query: Query, expected: list[list[Any]]) -> None:
    assert ref.evaluate(query) == expected


# ---------------------------------------------------------------------------------------------------------------------
# Rendering, validation, Arrow conversion
# ---------------------------------------------------------------------------------------------------------------------

RENDER_CASES: list[tuple[str, Query, str]] = [
    (
        "ROWS window",
        doc_query(Frame(ROWS, preceding(1))),
        "SELECT id AS id, count(v) OVER w AS cnt, sum(v) OVER w AS s, lag(v, 1) OVER w AS l1 FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);",
    ),
    (
        "every window attribute",
        Query(
            {"t": T_DOC, "u": U_DOC},
            "t",
            (),
            (Aggregate("count_where", None, "w", "c", Condition("v", ">", 2.5)),),
            {
                "w": Window(
                    ("k", "id"),
                    "ts",
                    Frame(
                        ROWS_RANGE,
                        preceding(1500, open=True),
                        preceding(0, open=True),
                        maxsize=3,
                        exclude_current_time=True,
                        exclude_current_row=True,
                        instance_not_in_window=True,
                    ),
                    ("u",),
                )
            },
        ),
        "SELECT count_where(*, v > 2.5) OVER w AS c FROM t WINDOW w AS (UNION u PARTITION BY k, id ORDER BY ts "
        "ROWS_RANGE BETWEEN 1500 OPEN PRECEDING AND 0s OPEN PRECEDING MAXSIZE 3 EXCLUDE CURRENT_TIME "
        "EXCLUDE CURRENT_ROW INSTANCE_NOT_IN_WINDOW);",
    ),
    (
        "LAST JOIN with predicate",
        Query(
            {"l": T_DOC_L, "r": T_DOC_R},
            "l",
            ("id", "x"),
            join=LastJoin("r", ("k",), ("rk",), order_by="rts", predicates=(JoinPredicate("rts", "<=", "ts"),)),
        ),
        "SELECT l.id AS id, r.x AS x FROM l LAST JOIN r ORDER BY r.rts ON l.k = r.rk AND r.rts <= l.ts;",
    ),
    (
        "window over LAST JOIN",
        Query(
            {"l": T_DOC_L, "r": T_DOC_R},
            "l",
            (),
            (Aggregate("max", "x", "w", "mx"),),
            {"w": Window(("k",), "ts", Frame(ROWS_RANGE, UNBOUNDED, preceding(2000)))},
            join=LastJoin("r", ("k",), ("rk",)),
        ),
        "SELECT max(r.x) OVER w AS mx FROM l LAST JOIN r ON l.k = r.rk WINDOW w AS (PARTITION BY l.k "
        "ORDER BY l.ts ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND 2s PRECEDING);",
    ),
]


@pytest.mark.parametrize(("query", "sql"), [c[1:] for c in RENDER_CASES], ids=[c[0] for c in RENDER_CASES])
def test_render_sql(query: Query, sql: str) -> None:
    assert ref.render_sql(query) == sql


@pytest.mark.parametrize(
    ("join", "expected"),
    [
        (LastJoin("r", ("k",), ("rk",), index_ts="rts"), {"r": ["idx_r:rk:rts"]}),
        (LastJoin("r", ("k",), ("rk",)), None),
        (LastJoin("r", ("k",), ("rk",), order_by="rts"), None),
    ],
)
def test_render_indexes(join: LastJoin, expected: dict[str, list[str]] | None) -> None:
    assert ref.render_indexes(Query({"l": T_DOC_L, "r": T_DOC_R}, "l", ("id",), join=join)) == expected


INVALID_CASES: list[tuple[str, Query]] = [
    ("MAXSIZE with ROWS", doc_query(Frame(ROWS, preceding(2), maxsize=2))),
    ("start after end", doc_query(Frame(ROWS_RANGE, preceding(1000), preceding(2000)))),
    ("OPEN start of 0 is empty", doc_query(Frame(ROWS, preceding(0, open=True)))),
    ("INSTANCE_NOT_IN_WINDOW without UNION", doc_query(Frame(ROWS, preceding(2), instance_not_in_window=True))),
    ("sum(*)", Query({"t": T_DOC}, "t", (), (agg("sum", None),), UNBOUNDED_ROWS)),
    ("sum of a string", Query({"t": T_AGG}, "t", (), (agg("sum", "s"),), UNBOUNDED_ROWS)),
    ("unknown window", Query({"t": T_DOC}, "t", (), (Aggregate("count", "v", "nope", "c"),), UNBOUNDED_ROWS)),
    (
        "union schema differs",
        Query(
            {"t": T_DOC, "u": T_AGG},
            "t",
            (),
            (agg("count", "v"),),
            {"w": Window(("k",), "ts", Frame(ROWS, UNBOUNDED), ("u",))},
        ),
    ),
]


@pytest.mark.parametrize("query", [c[1] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_invalid_queries_are_rejected(query: Query) -> None:
    with pytest.raises(ValueError):
        ref.evaluate(query)


def test_to_arrow_types_and_nulls() -> None:
    arrow = ref.to_arrow(T_AGG)
    assert arrow.schema.types == [
        pa.int64(),
        pa.string(),
        pa.timestamp("ms", tz="UTC"),
        pa.int32(),
        pa.float32(),
        pa.float64(),
        pa.string(),
    ]
    assert arrow.column("x").to_pylist() == [3, None, 0, -1]
    assert arrow.column("ts").cast(pa.int64()).to_pylist() == [1000, 2000, 3000, 4000]


@pytest.mark.parametrize(
    ("func", "arg", "expected"),
    [
        ("count", None, "int64"),
        ("sum", "int16", "int16"),
        ("sum", "float", "float"),
        ("avg", "int32", "double"),
        ("distinct_count", "string", "int64"),
        ("lag", "timestamp", "timestamp"),
        ("stddev", "float", "double"),
        ("avg_where", "int64", "double"),
    ],
)
def test_result_types(func: str, arg: str | None, expected: str) -> None:
    assert ref.result_type(func, arg) == expected
