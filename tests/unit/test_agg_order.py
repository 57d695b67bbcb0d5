"""Tests of lag/at, first_value, last_value and nth_value_where.

Expected values come from OpenMLDB's conformance cases, cited as ``case <file> #<id>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from openfeat_core.column import Column
from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.functions import REGISTRY
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, WindowFrames
from openfeat_core.types import SQLType as T

CTX = EvalContext()


def history_frames(
    windows: Sequence[tuple[int, int, int]], part_firsts: Sequence[int], *, current_inside: bool = False
) -> WindowFrames:
    """Frames from ``(lo, hi, cur)`` triples; the partition history of row k is its partition's rows
    before k (``current_inside``: up to and including k, the other layout an executor may use)."""
    n = len(windows)
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    cur = np.array([w[2] for w in windows], dtype=np.int64)
    current = np.arange(n, dtype=np.int64)
    part_lo = np.array([max(f for f in part_firsts if f <= k) for k in range(n)], dtype=np.int64)
    part_hi = current + 1 if current_inside else current.copy()
    return WindowFrames(lo, hi, cur, part_lo, part_hi, current, True)


def run(name: str, args: list[Column], frames: WindowFrames) -> list[Any]:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name
    out = fn.impl(args, frames, CTX)
    assert len(out) == len(frames)
    assert out.type is fn.resolve([a.type for a in args])
    return out.to_pylist()


def const(value: Any, type_: T, n: int) -> Column:
    return Column.constant(value, type_, n)


# case function/window/test_window.yaml #33: two partitions g1 (rows 0-4) and g2 (rows 5-7).
VAL = Column.from_pylist([1, 2, 3, 4, 5, 4, 3, 2], T.INT32)
FIRSTS = [0, 5]
W_CURRENT = [(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 3, 3), (0, 4, 4), (5, 5, 5), (5, 6, 6), (5, 7, 7)]
W_HISTORY = [(0, 0, -1), (0, 1, -1), (0, 2, -1), (0, 3, -1), (0, 4, -1), (5, 5, -1), (5, 6, -1), (5, 7, -1)]


@pytest.mark.parametrize("current_inside", [False, True])
@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # case function/function/test_udaf_function.yaml #57/#59: the frame does not matter
        (0, [1, 2, 3, 4, 5, 4, 3, 2]),
        (1, [None, 1, 2, 3, 4, None, 4, 3]),
        (3, [None, None, None, 1, 2, None, None, None]),
        (9, [None] * 8),
        (None, [None] * 8),
    ],
)
def test_lag_ignores_frame(current_inside: bool, n: int | None, expected: list[Any]) -> None:
    for windows in (W_CURRENT, W_HISTORY):
        frames = history_frames(windows, FIRSTS, current_inside=current_inside)
        assert run("lag", [VAL, const(n, T.INT32, 8)], frames) == expected
        assert run("at", [VAL, const(n, T.INT64, 8)], frames) == expected


@pytest.mark.parametrize(
    ("col_type", "values", "expected_lag2"),
    [
        # case test_udaf_function.yaml #46 (one partition, lag of every type)
        (T.STRING, ["a", "c", "b", None, "d"], [None, None, "a", "c", "b"]),
        (T.INT32, [1, 4, 3, None, 5], [None, None, 1, 4, 3]),
        (T.FLOAT, [1.5, 1.25, 1.0, None, 2.5], [None, None, 1.5, 1.25, 1.0]),
        (
            T.TIMESTAMP,
            [1590738990000, 1590738991000, 1590738992000, None, 1590738994000],
            [None, None, 1590738990000, 1590738991000, 1590738992000],
        ),
        (T.BOOL, [True, False, True, None, False], [None, None, True, False, True]),
    ],
)
def test_lag_types(col_type: T, values: list[Any], expected_lag2: list[Any]) -> None:
    x = Column.from_pylist(values, col_type)
    frames = history_frames([(max(0, k - 2), k, k) for k in range(5)], [0])
    assert run("lag", [x, const(0, T.INT32, 5)], frames) == x.to_pylist()
    assert run("lag", [x, const(2, T.INT32, 5)], frames) == expected_lag2


def test_lag_rejects_negative_offset() -> None:
    with pytest.raises(OpenFeatSQLError, match="negative"):
        run("lag", [VAL, const(-1, T.INT32, 8)], history_frames(W_CURRENT, FIRSTS))


@pytest.mark.parametrize(
    ("name", "windows", "expected"),
    [
        # case test_window.yaml #33/#34/#35: first_value is the oldest row, last_value the newest
        ("last_value", W_CURRENT, [1, 2, 3, 4, 5, 4, 3, 2]),
        ("last_value", W_HISTORY, [None, 1, 2, 3, 4, None, 4, 3]),
        ("first_value", W_CURRENT, [1, 1, 1, 1, 1, 4, 4, 4]),
        ("first_value", W_HISTORY, [None, 1, 1, 1, 1, None, 4, 4]),
        # a window that is only the current row, and one whose range starts later
        (
            "first_value",
            [(0, 0, 0), (1, 1, 1), (1, 2, 2), (2, 3, 3), (4, 4, -1), (5, 5, 5), (6, 6, 6), (6, 7, 7)],
            [1, 2, 2, 3, None, 4, 3, 3],
        ),
    ],
)
def test_first_last_value(name: str, windows: list[tuple[int, int, int]], expected: list[Any]) -> None:
    assert run(name, [VAL], history_frames(windows, FIRSTS)) == expected


@pytest.mark.parametrize(
    ("name", "ignore_nulls", "expected"),
    [
        # case test_window.yaml #38 (5s preceding .. 1s preceding: history only)
        ("first_value", True, [None, "1", "1", "1", "1", None, None, "3"]),
        ("last_value", True, [None, "1", "2", "3", "3", None, None, "3"]),
        ("last_value", False, [None, "1", "2", "3", None, None, None, "3"]),
        ("first_value", False, [None, "1", "1", "1", "1", None, None, None]),
        ("last_value", None, [None, "1", "2", "3", None, None, None, "3"]),
    ],
)
def test_first_last_value_ignore_nulls(name: str, ignore_nulls: bool | None, expected: list[Any]) -> None:
    val = Column.from_pylist(["1", "2", "3", None, "5", None, "3", "2"], T.STRING)
    args = [val] if ignore_nulls is None else [val, const(ignore_nulls, T.BOOL, 8)]
    assert run(name, args, history_frames(W_HISTORY, FIRSTS)) == expected


def test_first_value_string_case() -> None:
    # case query/udaf_query.yaml #6/#7
    val = Column.from_pylist(["1", "2", "4"], T.STRING)
    frames = history_frames([(0, 0, 0), (0, 1, 1), (0, 2, 2)], [0])
    assert run("first_value", [val], frames) == ["1", "1", "1"]


# case test_udaf_function.yaml #64: rows 4..8 of partition g2, windows include the current row.
NTH_FRAMES = history_frames([(0, k, k) for k in range(5)], [0])
L1 = [None, None, 1, 3, None]
F1 = [4.4, 9.0, 7.0, None, None]


@pytest.mark.parametrize(
    ("col_type", "values", "idx", "cond", "expected"),
    [
        (T.INT32, [4, 5, 6, 7, 8], 0, [True] * 5, [None] * 5),  # agg_null: idx 0 is NULL
        (T.DOUBLE, F1, -2, [None, True, True, None, None], [None, None, 9.0, 9.0, 9.0]),  # agg2
        (T.INT32, [None, None, 2, 4, None], 1, [None, None, True, True, None], [None, None, 2, 2, 2]),  # agg4
        (T.DOUBLE, F1, 2, [False, True, True, None, None], [None, None, 7.0, 7.0, 7.0]),  # agg5
        # doc: col1 1..4, cond true,false,NULL,true, idx 2 → the 4th row only
        (T.INT32, [1, 2, 3, 4, 5], 2, [True, False, None, True, False], [None, None, None, 4, 4]),
        # idx -1 is the newest match, the current row included
        (T.INT32, [1, 2, 3, 4, 5], -1, [True, False, None, True, False], [1, 1, 1, 4, 4]),
        (T.INT32, [1, 2, 3, 4, 5], -3, [True, True, True, True, True], [None, None, 1, 2, 3]),
        (T.INT32, [1, 2, 3, 4, 5], 5, [True, True, True, True, True], [None, None, None, None, 5]),
        (T.INT32, [1, 2, 3, 4, 5], None, [True] * 5, [None] * 5),
        (T.STRING, ["A", "B", "A", "C", "F"], -2, [True] * 5, [None, "A", "B", "A", "C"]),
        (T.INT32, [1, 2, 3, 4, 5], 1, [None] * 5, [None] * 5),
    ],
)
def test_nth_value_where(col_type: T, values: list[Any], idx: int | None, cond: list[Any], expected: list[Any]) -> None:
    x = Column.from_pylist(values, col_type)
    c = Column.from_pylist(cond, T.BOOL)
    assert run("nth_value_where", [x, const(idx, T.INT32, 5), c], NTH_FRAMES) == expected


@pytest.mark.parametrize("idx", [1, 2, -1, -2])
def test_nth_value_where_history_frames(idx: int) -> None:
    # Without the current row and with a sliding start, compare with a direct Python definition.
    x = Column.from_pylist([10, 11, None, 13, 14, 15, 16, 17], T.INT32)
    cond = Column.from_pylist([True, False, True, True, None, True, False, True], T.BOOL)
    windows = [(max(0, k - 3), k, -1) for k in range(8)]
    expected = []
    for lo, hi, _ in windows:
        matches = [j for j in range(lo, hi) if cond.to_pylist()[j]]
        pick = matches[idx - 1] if idx > 0 and idx <= len(matches) else None
        if idx < 0 and -idx <= len(matches):
            pick = matches[idx]
        expected.append(None if pick is None else x.to_pylist()[pick])
    assert run("nth_value_where", [x, const(idx, T.INT64, 8), cond], history_frames(windows, [0])) == expected


@pytest.mark.parametrize("name", ["first_value", "last_value"])
def test_no_output_rows(name: str) -> None:
    assert run(name, [Column.from_pylist([], T.INT32)], history_frames([], [0])) == []


@pytest.mark.parametrize(
    ("name", "arg_types", "expected"),
    [
        ("lag", [T.STRING, T.INT32], T.STRING),
        ("at", [T.DATE, T.INT64], T.DATE),
        ("lag", [T.INT32, T.DOUBLE], None),
        ("lag", [T.INT32], None),
        ("first_value", [T.TIMESTAMP], T.TIMESTAMP),
        ("first_value", [T.INT32, T.BOOL], T.INT32),
        ("last_value", [T.INT32, T.STRING], None),
        ("last_value", [T.INT32, T.BOOL, T.BOOL], None),
        ("nth_value_where", [T.FLOAT, T.INT32, T.BOOL], T.FLOAT),
        ("nth_value_where", [T.FLOAT, T.DOUBLE, T.BOOL], None),
    ],
)
def test_resolve(name: str, arg_types: list[T], expected: T | None) -> None:
    fn = REGISTRY.aggregate(name)
    assert fn is not None
    if expected is None:
        with pytest.raises(FunctionTypeError):
            fn.resolve(arg_types)
    else:
        assert fn.resolve(arg_types) is expected


def test_registration_flags() -> None:
    lag = REGISTRY.aggregate("lag")
    assert lag is not None and lag.ignores_frame and lag.constant_args == (1,)
    assert REGISTRY.aggregate("at") is lag
    nth = REGISTRY.aggregate("nth_value_where")
    assert nth is not None and not nth.ignores_frame and nth.constant_args == (1,)
