"""Tests of count/sum/avg/min/max/distinct_count and the *_where aggregates.

Expected values marked ``case <file> #<id>`` come from OpenMLDB's conformance cases
(``../shared/conformance/openmldb/cases``); floats are compared within 4 ULP as OpenMLDB's harness does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from openfeat_core.column import Column
from openfeat_core.functions import REGISTRY
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, WindowFrames
from openfeat_core.types import SQLType as T

CTX = EvalContext()
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)


# --------------------------------------------------------------------------------------------- helpers
def make_frames(windows: Sequence[tuple[int, int, int]], monotone: bool = True) -> WindowFrames:
    """Frames from explicit ``(lo, hi, cur)`` triples; lag-related fields mirror the range."""
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    cur = np.array([w[2] for w in windows], dtype=np.int64)
    return WindowFrames(lo, hi, cur, lo.copy(), hi.copy(), np.maximum(cur, hi), monotone)


def rows_frames(n: int, start: int, end: int = 0, parts: Sequence[int] = ()) -> WindowFrames:
    """``ROWS BETWEEN start PRECEDING AND end PRECEDING`` (``end=0``: CURRENT ROW) over rows laid out
    by partition; ``parts`` lists the first row of every partition after the first."""
    firsts = [0, *parts]
    windows = []
    for k in range(n):
        p = max(f for f in firsts if f <= k)
        lo = max(p, k - start)
        if end == 0:
            windows.append((lo, k, k))
        else:
            windows.append((lo, max(lo, k - end + 1), -1))
    return make_frames(windows)


def run(name: str, args: list[Column], frames: WindowFrames) -> Column:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name
    out = fn.impl(args, frames, CTX)
    assert len(out) == len(frames)
    assert out.type is fn.resolve([a.type for a in args])
    return out


def request_mode(name: str, args: list[Column], frames: WindowFrames) -> Column:
    """Evaluate every output row alone, as request mode does: the window's rows as candidates."""
    outs = []
    for k in range(len(frames)):
        lo, hi, cur = int(frames.lo[k]), int(frames.hi[k]), int(frames.cur[k])
        rows = np.array(list(range(lo, hi)) + ([cur] if cur >= 0 else []), dtype=np.int64)
        width = hi - lo
        one = make_frames([(0, width, width if cur >= 0 else -1)], monotone=False)
        outs.append(run(name, [a.take(rows) for a in args], one))
    return Column.concat(outs)


def ulp_equal(a: float, b: float, dtype: Any, ulps: int = 4) -> bool:
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    x, y = np.array([a, b], dtype=dtype)
    if x == y:
        return True
    ints = np.array([x, y], dtype=dtype).view(np.int32 if dtype == np.float32 else np.int64).astype(object)
    return abs(int(ints[0]) - int(ints[1])) <= ulps and np.sign(x) == np.sign(y)


def assert_column(col: Column, expected: Sequence[Any]) -> None:
    got = col.to_pylist()
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected, strict=True):
        if e is None or g is None:
            assert g is e, (got, expected)
        elif col.type is T.FLOAT:
            assert ulp_equal(g, e, np.float32), (got, expected)
        elif col.type is T.DOUBLE:
            assert ulp_equal(g, e, np.float64), (got, expected)
        else:
            assert g == e, (got, expected)
    # Invalid slots must hold the zero value (Column's invariant).
    if col.type is T.STRING:
        assert all(v == "" for v in col.values[~col.valid])
    else:
        assert not np.any(col.values[~col.valid])


# The 4-row table of test_udaf_function.yaml ids 0-3 (c2 smallint .. c9 string), last row all NULL.
UDAF_COLS = {
    "c2": Column.from_pylist([1, 4, 3, None], T.INT16),
    "c3": Column.from_pylist([1, 4, 3, None], T.INT32),
    "c4": Column.from_pylist([30, 33, 32, None], T.INT64),
    "c5": Column.from_pylist([1.1, 1.4, 1.3, None], T.FLOAT),
    "c6": Column.from_pylist([2.1, 2.4, 2.3, None], T.DOUBLE),
    "c7": Column.from_pylist([1590738990000, 1590738991000, 1590738992000, 1590738993000], T.TIMESTAMP),
    "c8": Column.from_pylist(["2020-05-01", "2020-05-03", "2020-05-02", None], T.DATE),
    "c9": Column.from_pylist(["a", "c", "b", None], T.STRING),
    "c10": Column.from_pylist([True, False, True, None], T.BOOL),
}
ROWS2 = rows_frames(4, 2)  # ROWS BETWEEN 2 PRECEDING AND CURRENT ROW
HIST = rows_frames(4, 4, 2)  # ROWS BETWEEN 4 PRECEDING AND 2 PRECEDING


def d(s: str) -> Any:
    return Column.from_pylist([s], T.DATE).to_pylist()[0]


# --------------------------------------------------------------------------------------------- conformance
@pytest.mark.parametrize(
    ("name", "col", "frames", "expected"),
    [
        # case function/function/test_udaf_function.yaml #0 (max)
        ("max", "c2", ROWS2, [1, 4, 4, 4]),
        ("max", "c4", ROWS2, [30, 33, 33, 33]),
        ("max", "c5", ROWS2, [1.1, 1.4, 1.4, 1.4]),
        ("max", "c7", ROWS2, [1590738990000, 1590738991000, 1590738992000, 1590738993000]),
        ("max", "c8", ROWS2, [d("2020-05-01"), d("2020-05-03"), d("2020-05-03"), d("2020-05-03")]),
        ("max", "c9", ROWS2, ["a", "c", "c", "c"]),
        # #1 (min)
        ("min", "c3", ROWS2, [1, 1, 1, 3]),
        ("min", "c6", ROWS2, [2.1, 2.1, 2.1, 2.3]),
        ("min", "c8", ROWS2, [d("2020-05-01"), d("2020-05-01"), d("2020-05-01"), d("2020-05-02")]),
        ("min", "c9", ROWS2, ["a", "a", "a", "b"]),
        # #2 (count)
        ("count", "c2", ROWS2, [1, 2, 3, 2]),
        ("count", "c7", ROWS2, [1, 2, 3, 3]),
        ("count", "c9", ROWS2, [1, 2, 3, 2]),
        # #3 (sum keeps the input type)
        ("sum", "c2", ROWS2, [1, 5, 8, 7]),
        ("sum", "c3", ROWS2, [1, 5, 8, 7]),
        ("sum", "c4", ROWS2, [30, 63, 95, 65]),
        ("sum", "c5", ROWS2, [1.1, 2.5, 3.7999997, 2.7]),
        ("sum", "c6", ROWS2, [2.1, 4.5, 6.799999999999999, 4.7]),
        # #6 (count / distinct_count of bool)
        ("count", "c10", ROWS2, [1, 2, 3, 2]),
        ("distinct_count", "c10", ROWS2, [1, 2, 2, 2]),
        # #54 / #55 (empty windows)
        ("max", "c2", HIST, [None, None, 1, 4]),
        ("max", "c9", HIST, [None, None, "a", "c"]),
        ("min", "c5", HIST, [None, None, 1.1, 1.1]),
        ("min", "c7", HIST, [None, None, 1590738990000, 1590738990000]),
        ("count", "c2", HIST, [0, 0, 1, 2]),
        ("sum", "c4", HIST, [None, None, 30, 63]),
    ],
)
def test_udaf_cases(name: str, col: str, frames: WindowFrames, expected: list[Any]) -> None:
    assert_column(run(name, [UDAF_COLS[col]], frames), expected)


@pytest.mark.parametrize(
    ("col_type", "values", "expected"),
    [
        # case test_udaf_function.yaml #4 (avg; c3 has a NULL first)
        (T.INT16, [1, 4, 1, None], [1.0, 2.5, 2.0, 2.5]),
        (T.INT32, [None, 4, 1, None], [None, 4.0, 2.5, 2.5]),
        (T.INT64, [30, 33, 33, None], [30.0, 31.5, 32.0, 33.0]),
        (T.FLOAT, [1.1, 1.4, 1.1, None], [1.100000023841858, 1.25, 1.200000007947286, 1.25]),
        (T.DOUBLE, [2.1, 2.4, 2.1, None], [2.1, 2.25, 2.1999999999999997, 2.25]),
    ],
)
def test_avg_case(col_type: T, values: list[Any], expected: list[Any]) -> None:
    assert_column(run("avg", [Column.from_pylist(values, col_type)], ROWS2), expected)


@pytest.mark.parametrize(
    ("col_type", "values", "expected"),
    [
        # case test_udaf_function.yaml #5: NULL is counted as the zero value
        (T.INT16, [1, 4, 4, None], [1, 2, 2, 2]),
        (T.FLOAT, [1.1, 1.4, 1.4, None], [1, 2, 2, 2]),
        (T.DATE, ["2020-05-01", "2020-05-02", "2020-05-02", None], [1, 2, 2, 2]),
        (T.STRING, ["a", "c", "c", None], [1, 2, 2, 2]),
        # a NULL next to an explicit zero value is the same value
        (T.INT32, [0, None, 5, 5], [1, 1, 2, 2]),
        (T.STRING, ["", None, "x", None], [1, 1, 2, 2]),
        (T.DOUBLE, [-0.0, 0.0, None, 1.0], [1, 1, 1, 2]),
        # every NaN is a distinct value (C++ hash set semantics)
        (T.DOUBLE, [float("nan"), float("nan"), 1.0, float("nan")], [1, 2, 3, 3]),
        (T.NULL, [None, None, None, None], [1, 1, 1, 1]),
    ],
)
def test_distinct_count(col_type: T, values: list[Any], expected: list[int]) -> None:
    assert_column(run("distinct_count", [Column.from_pylist(values, col_type)], ROWS2), expected)


@pytest.mark.parametrize(
    ("name", "values", "cond", "expected"),
    [
        # case test_udaf_function.yaml #13 (max_where), #14 (min_where); one partition per case
        ("max_where", [1, 4, 3, None], [True, False, True, None], [1, 1, 3, 3]),
        ("min_where", [1, 4, 3, None], [False, True, True, None], [None, 4, 3, 3]),
        # #15 (sum_where): c3 < 4 with c3 = [1, 4, NULL, 3]
        ("sum_where", [1, 4, None, 3], [True, False, None, True], [1, 1, 1, 3]),
        # sum_where(c2, c2 = null): every condition NULL
        ("sum_where", [1, 4, 3, None], [None, None, None, None], [None, None, None, None]),
        # #17 (count_where): NULL value not counted, NULL condition is false
        ("count_where", [1, 4, 3, None], [True, False, True, None], [1, 1, 2, 1]),
        ("count_where", [1, None, 3, 4], [True, True, None, True], [1, 1, 1, 1]),
        # the `x AND cond` guard: zero values never qualify for sum_where/avg_where
        ("sum_where", [0, 0, 0, 0], [True, True, True, True], [None, None, None, None]),
        ("sum_where", [0, 5, 0, 0], [True, True, True, True], [None, 5, 5, 5]),
        ("avg_where", [0, 2, 4, 0], [True, True, True, True], [None, 2.0, 3.0, 3.0]),
        # min_where/max_where have no such guard
        ("min_where", [0, 5, 0, 7], [True, True, False, True], [0, 0, 0, 5]),
        ("count_where", [0, 0, 0, 0], [True, True, True, True], [1, 2, 3, 3]),
    ],
)
def test_where(name: str, values: list[Any], cond: list[Any], expected: list[Any]) -> None:
    x = Column.from_pylist(values, T.INT32)
    c = Column.from_pylist(cond, T.BOOL)
    assert_column(run(name, [x, c], ROWS2), expected)


@pytest.mark.parametrize(
    ("name", "col_type", "values", "cond", "expected"),
    [
        # case test_udaf_function.yaml #15/#16 float columns: c5 <= 1.3 with c5 = [NULL, 1.4, 1.3, 1.1]
        ("sum_where", T.FLOAT, [None, 1.4, 1.3, 1.1], [None, False, True, True], [None, None, 1.3, 2.4]),
        (
            "avg_where",
            T.FLOAT,
            [None, 1.4, 1.3, 1.1],
            [None, False, True, True],
            [None, None, 1.2999999523162842, 1.199999988079071],
        ),
        ("avg_where", T.DOUBLE, [2.1, 2.4, 2.3, None], [True, False, True, None], [2.1, 2.1, 2.2, 2.3]),
        ("max_where", T.FLOAT, [1.1, 1.4, 1.3, None], [True, False, True, None], [1.1, 1.1, 1.3, 1.3]),
        ("sum_where", T.DOUBLE, [2.1, 2.4, 2.3, None], [True, False, True, None], [2.1, 2.1, 4.4, 2.3]),
    ],
)
def test_where_floats(name: str, col_type: T, values: list[Any], cond: list[Any], expected: list[Any]) -> None:
    x = Column.from_pylist(values, col_type)
    c = Column.from_pylist(cond, T.BOOL)
    assert_column(run(name, [x, c], ROWS2), expected)


def test_count_star_and_count_where_star() -> None:
    # The front end passes `*` as a constant non-NULL BOOL column.
    star = Column.constant(True, T.BOOL, 4)
    assert_column(run("count", [star], ROWS2), [1, 2, 3, 3])
    cond = Column.from_pylist([True, False, True, None], T.BOOL)
    assert_column(run("count_where", [star, cond], ROWS2), [1, 1, 2, 1])


def test_codegen_loop_combining_case() -> None:
    # case query/udaf_query.yaml #3: rows_range 5s open preceding .. 0s preceding, two partitions
    frames = make_frames([(0, 0, 0), (0, 1, 1), (0, 2, 2), (3, 3, 3), (3, 4, 4), (3, 5, 5), (3, 6, 6), (3, 7, 7)])
    l1 = Column.from_pylist([None, 1, 2, None, None, 1, 1, None], T.INT64)
    l2 = Column.from_pylist([-3, None, -1, None, -2, 1, None, None], T.INT64)
    f1 = Column.from_pylist([None, 2.0, None, 4.4, 9.0, 7.0, None, None], T.FLOAT)
    d1 = Column.from_pylist([2.0, 2.0, 2.0, None, 4.0, 4.0, None, 7.0], T.DOUBLE)
    assert_column(run("count", [l1], frames), [0, 1, 2, 0, 0, 1, 2, 2])
    assert_column(run("max", [l1], frames), [None, 1, 2, None, None, 1, 1, 1])
    assert_column(run("min", [l2], frames), [-3, -3, -3, None, -2, -2, -2, -2])
    assert_column(run("sum", [f1], frames), [None, 2.0, 2.0, 4.4, 13.4, 20.4, 20.4, 20.4])
    assert_column(run("avg", [d1], frames), [2.0, 2.0, 2.0, None, 4.0, 4.0, 4.0, 5.0])


# --------------------------------------------------------------------------------------------- types & nulls
@pytest.mark.parametrize(
    ("name", "col_type", "values", "expected"),
    [
        # int sums wrap at the result type's width, like C++
        ("sum", T.INT16, [30000, 30000, 10, 10], [30000, -5536, -5526, 30020]),
        ("sum", T.INT32, [2**31 - 1, 1, 0, 0], [2**31 - 1, -(2**31), -(2**31), 1]),
        ("sum", T.INT64, [2**63 - 1, 1, 1, 0], [2**63 - 1, -(2**63), -(2**63) + 1, 2]),
        (
            "sum",
            T.TIMESTAMP,
            [1590738990000, 1590738991000, 1590738992000, None],
            [1590738990000, 3181477981000, 4772216973000, 3181477983000],
        ),  # case #7
        # non-finite floats slide in and out of the sum
        ("sum", T.DOUBLE, [float("inf"), 1.0, 2.0, 3.0], [float("inf"), float("inf"), float("inf"), 6.0]),
        ("sum", T.DOUBLE, [float("nan"), 1.0, 2.0, 3.0], [float("nan"), float("nan"), float("nan"), 6.0]),
        (
            "sum",
            T.DOUBLE,
            [float("inf"), float("-inf"), 2.0, 3.0],
            [float("inf"), float("nan"), float("nan"), float("-inf")],
        ),
        # an overflowing running sum stays infinite, then recovers once the window moves on
        ("sum", T.DOUBLE, [1e308, 1e308, -1e308, 5.0], [1e308, float("inf"), float("inf"), 5.0]),
        ("avg", T.DOUBLE, [1e308, 1e308, -1e308, 5.0], [1e308, float("inf"), float("inf"), 5.0 / 3]),
        # all-NULL windows
        ("sum", T.DOUBLE, [None, None, None, None], [None, None, None, None]),
        ("avg", T.INT32, [None, None, None, None], [None, None, None, None]),
        ("min", T.STRING, [None, None, None, None], [None, None, None, None]),
        ("count", T.NULL, [None, None, None, None], [0, 0, 0, 0]),
        # float min/max: NaN never wins; only-NaN windows give the type's extreme; ±inf is clamped
        ("min", T.DOUBLE, [float("nan"), 2.0, float("nan"), float("nan")], [F64_MAX, 2.0, 2.0, 2.0]),
        ("max", T.FLOAT, [float("nan"), None, None, None], [-F32_MAX, -F32_MAX, -F32_MAX, None]),
        ("min", T.DOUBLE, [float("inf"), 3.0, None, None], [F64_MAX, 3.0, 3.0, 3.0]),
        ("max", T.DOUBLE, [float("-inf"), None, float("inf"), None], [-F64_MAX, -F64_MAX, float("inf"), float("inf")]),
    ],
)
def test_types_and_specials(name: str, col_type: T, values: list[Any], expected: list[Any]) -> None:
    assert_column(run(name, [Column.from_pylist(values, col_type)], rows_frames(4, 2)), expected)


@pytest.mark.parametrize(
    ("name", "values", "cond", "expected"),
    [
        # min_where/max_where take the newest match first: a NaN there sticks, older NaNs are ignored
        ("min_where", [float("nan"), 1.0, 2.0, 0.5], [True, True, True, True], [float("nan"), 1.0, 1.0, 0.5]),
        ("max_where", [1.0, float("nan"), 2.0, 3.0], [True, True, True, False], [1.0, float("nan"), 2.0, 2.0]),
        ("min_where", [float("inf"), None, None, None], [True, True, True, True], [float("inf")] * 3 + [None]),
    ],
)
def test_where_nan(name: str, values: list[Any], cond: list[Any], expected: list[Any]) -> None:
    x = Column.from_pylist(values, T.DOUBLE)
    c = Column.from_pylist(cond, T.BOOL)
    assert_column(run(name, [x, c], rows_frames(4, 2)), expected)


@pytest.mark.parametrize("name", ["count", "sum", "avg", "min", "max", "distinct_count"])
def test_no_output_rows(name: str) -> None:
    out = run(name, [Column.from_pylist([], T.INT32)], make_frames([]))
    assert len(out) == 0


@pytest.mark.parametrize(
    ("name", "windows", "expected"),
    [
        # current row excluded (EXCLUDE CURRENT_ROW: cur = -1), empty first window
        ("sum", [(0, 0, -1), (0, 1, -1), (0, 2, -1), (1, 3, -1)], [None, 1, 5, 7]),
        ("count", [(0, 0, -1), (0, 1, -1), (0, 2, -1), (1, 3, -1)], [0, 1, 2, 2]),
        ("max", [(0, 0, -1), (0, 1, -1), (0, 2, -1), (1, 3, -1)], [None, 1, 4, 4]),
        ("distinct_count", [(0, 0, -1), (0, 1, -1), (0, 2, -1), (1, 3, -1)], [0, 1, 2, 2]),
        # EXCLUDE CURRENT_TIME: the range stops before the current row
        ("sum", [(0, 0, 0), (0, 0, 1), (0, 2, 2), (0, 2, 3)], [1, 4, 8, 5]),
        ("min", [(0, 0, 0), (0, 0, 1), (0, 2, 2), (0, 2, 3)], [1, 4, 1, 1]),
        # two partitions: the second window does not overlap the first
        ("sum", [(0, 0, 0), (0, 1, 1), (2, 2, 2), (2, 3, 3)], [1, 5, 3, 3]),
        ("avg", [(0, 0, 0), (0, 1, 1), (2, 2, 2), (2, 3, 3)], [1.0, 2.5, 3.0, 3.0]),
    ],
)
def test_frame_shapes(name: str, windows: list[tuple[int, int, int]], expected: list[Any]) -> None:
    x = Column.from_pylist([1, 4, 3, None], T.INT32)
    assert_column(run(name, [x], make_frames(windows)), expected)
    assert_column(run(name, [x], make_frames(windows, monotone=False)), expected)


# --------------------------------------------------------------------------------------------- online = offline
def _random_column(col_type: T, n: int, rng: np.random.Generator) -> Column:
    valid = rng.random(n) > 0.15
    if col_type is T.STRING:
        vals = np.array([f"s{v}" for v in rng.integers(0, 9, n)], dtype=object)
    elif col_type.is_float:
        # Decimal-looking values with mixed magnitudes: the hard case for a sliding float sum.
        vals = np.round(rng.normal(0, 1, n) * 10.0 ** rng.integers(-3, 6, n), 2)
    elif col_type is T.BOOL:
        vals = rng.random(n) > 0.5
    else:
        vals = rng.integers(-50, 50, n)
    return Column.from_values(col_type, vals, valid)


def _random_frames(n: int, rng: np.random.Generator) -> WindowFrames:
    """Either a ROWS frame or a ROWS_RANGE-like frame over timestamps with ties, where the range may
    stop before the current row (EXCLUDE CURRENT_TIME) and both bounds jump by several rows."""
    parts = sorted(rng.choice(np.arange(1, n), size=3, replace=False).tolist())
    if rng.random() < 0.5:
        return rows_frames(n, int(rng.integers(1, 12)), int(rng.integers(0, 3)), parts)
    ts = np.cumsum(rng.integers(0, 3, n))
    span = int(rng.integers(0, 15))
    exclude_current_time = bool(rng.random() < 0.5)
    firsts = [0, *parts]
    windows = []
    for k in range(n):
        p = max(f for f in firsts if f <= k)
        lo = p + int(np.searchsorted(ts[p:k], ts[k] - span, side="left"))
        hi = p + int(np.searchsorted(ts[p:k], ts[k], side="left")) if exclude_current_time else k
        windows.append((lo, max(lo, hi), k))
    return make_frames(windows)


SLIDING_CASES: list[tuple[str, T, bool]] = [
    (name, t, False)
    for name, types in [
        ("count", [T.INT32, T.STRING]),
        ("sum", [T.INT16, T.INT64, T.FLOAT, T.DOUBLE]),
        ("avg", [T.INT32, T.FLOAT, T.DOUBLE]),
        ("min", [T.INT64, T.DOUBLE, T.STRING, T.DATE]),
        ("max", [T.INT16, T.FLOAT, T.STRING, T.TIMESTAMP]),
        ("distinct_count", [T.INT32, T.DOUBLE, T.STRING, T.BOOL]),
    ]
    for t in types
] + [
    (name, t, True)
    for name in ["count_where", "sum_where", "avg_where", "min_where", "max_where"]
    for t in [T.INT32, T.DOUBLE]
]


@pytest.mark.parametrize(("name", "col_type", "with_cond"), SLIDING_CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sliding_equals_request_mode(name: str, col_type: T, with_cond: bool, seed: int) -> None:
    """Batch (sliding) and request (one window at a time) results have identical bits."""
    rng = np.random.default_rng(seed)
    n = 300
    args = [_random_column(col_type, n, rng)]
    if with_cond:
        args.append(_random_column(T.BOOL, n, rng))
    frames = _random_frames(n, rng)
    batch = run(name, args, frames)
    online = request_mode(name, args, frames)
    np.testing.assert_array_equal(batch.valid, online.valid)
    np.testing.assert_array_equal(batch.values, online.values)


@pytest.mark.parametrize("seed", [4, 5])
def test_sliding_float_sum_is_correctly_rounded(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    x = _random_column(T.DOUBLE, n, rng)
    frames = rows_frames(n, 50)
    got = run("sum", [x], frames)
    for k in range(n):
        rows = [j for j in [*range(int(frames.lo[k]), int(frames.hi[k])), k] if x.valid[j]]
        if rows:
            assert got.values[k] == math.fsum(x.values[rows])


# --------------------------------------------------------------------------------------------- resolve
ResolveCase = tuple[str, list[T], T | None]


@pytest.mark.parametrize(
    ("name", "arg_types", "expected"),
    [
        ("count", [T.STRING], T.INT64),
        ("count", [T.BOOL], T.INT64),
        ("count", [T.INT32, T.INT32], None),
        ("sum", [T.INT16], T.INT16),
        ("sum", [T.FLOAT], T.FLOAT),
        ("sum", [T.TIMESTAMP], T.TIMESTAMP),
        ("sum", [T.DATE], None),  # case #9
        ("sum", [T.STRING], None),  # case #10
        ("avg", [T.INT64], T.DOUBLE),
        ("avg", [T.TIMESTAMP], None),  # case #8
        ("avg", [T.DATE], None),  # case #11
        ("avg", [T.STRING], None),  # case #12
        ("min", [T.DATE], T.DATE),
        ("max", [T.STRING], T.STRING),
        ("max", [T.BOOL], None),
        ("distinct_count", [T.BOOL], T.INT64),
        ("count_where", [T.STRING, T.BOOL], T.INT64),
        ("count_where", [T.STRING, T.INT32], None),
        ("sum_where", [T.INT16, T.BOOL], T.INT16),
        ("sum_where", [T.TIMESTAMP, T.BOOL], None),  # case #18
        ("avg_where", [T.FLOAT, T.BOOL], T.DOUBLE),
        ("avg_where", [T.DATE, T.BOOL], None),  # case #18
        ("min_where", [T.DOUBLE, T.NULL], T.DOUBLE),
        ("max_where", [T.STRING, T.BOOL], None),  # case #18
        ("max_where", [T.INT64], None),
    ],
)
def test_resolve(name: str, arg_types: list[T], expected: T | None) -> None:
    fn = REGISTRY.aggregate(name)
    assert fn is not None
    resolve: Callable[[list[T]], T] = fn.resolve
    if expected is None:
        with pytest.raises(FunctionTypeError, match=name):
            resolve(arg_types)
    else:
        assert resolve(arg_types) is expected
