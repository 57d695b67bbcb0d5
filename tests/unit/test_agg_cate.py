"""Tests of the categorical / top-N aggregates (``*_cate``, ``top_n_*``, ``topn_frequency``, ``top1_ratio``, ``top``)
and of the ``window_split*`` list aggregates.

Expected strings marked ``case <file> #<id>`` come from OpenMLDB's conformance cases
(``../shared/conformance/openmldb/cases``), which format timestamps in Asia/Shanghai.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from openfeat_core.column import Column
from openfeat_core.functions import REGISTRY
from openfeat_core.functions.agg_cate import LIST_AGGREGATE_REWRITES, MAX_OUTPUT_BYTES
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, WindowFrames
from openfeat_core.types import SQLType as T

CTX = EvalContext("Asia/Shanghai")


# --------------------------------------------------------------------------------------------- helpers
def make_frames(windows: Sequence[tuple[int, int, int]]) -> WindowFrames:
    """Frames from explicit ``(lo, hi, cur)`` triples."""
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    cur = np.array([w[2] for w in windows], dtype=np.int64)
    return WindowFrames(lo, hi, cur, lo.copy(), hi.copy(), np.maximum(cur, hi))


def rows_frames(n: int, preceding: int, parts: Sequence[int] = ()) -> WindowFrames:
    """``ROWS BETWEEN preceding PRECEDING AND CURRENT ROW``; ``parts`` lists the first row of each later partition."""
    firsts = [0, *parts]
    windows = []
    for k in range(n):
        first = max(f for f in firsts if f <= k)
        windows.append((max(first, k - preceding), k, k))
    return make_frames(windows)


def history_frames(n: int) -> WindowFrames:
    """Every earlier row, without the current one (``... AND 1s PRECEDING`` over increasing timestamps)."""
    return make_frames([(0, k, -1) for k in range(n)])


def col(type_: T, values: Sequence[Any]) -> Column:
    return Column.from_pylist(list(values), type_)


def const(type_: T, value: Any, n: int) -> Column:
    return Column.constant(value, type_, n)


def run(name: str, args: list[Column], frames: WindowFrames, ctx: EvalContext = CTX) -> list[Any]:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name
    out = fn.impl(args, frames, ctx)
    assert len(out) == len(frames)
    assert out.type is fn.resolve([a.type for a in args])
    assert out.valid.all()  # these aggregates never return NULL
    return out.to_pylist()


# --------------------------------------------------------------------------------------------- *_cate
# Inputs of test_udaf_function.yaml #20-#38: rows 1..4 of {0} (values, cond c10) and the last-joined {1} (keys),
# window ROWS BETWEEN 2 PRECEDING AND CURRENT ROW.
C2 = (T.INT16, [1, 4, 3, None])
C3 = (T.INT32, [1, 4, 3, None])
C4 = (T.INT64, [30, 33, 32, None])
C5 = (T.FLOAT, [1.1, 1.4, 1.3, None])
C6 = (T.DOUBLE, [2.1, 2.4, 2.3, None])
C10 = (T.BOOL, [True, False, True, None])
K_I16 = (T.INT16, [1, 1, 2, None])
K_I64 = (T.INT64, [30, 30, 32, None])
K_TS = (T.TIMESTAMP, [1590738990000, 1590738990000, 1590738992000, None])
K_DATE = (T.DATE, ["2020-05-01", "2020-05-01", "2020-05-02", None])
K_STR = (T.STRING, ["a", "a", "b", None])
TS0, TS2 = "2020-05-29 15:56:30", "2020-05-29 15:56:32"

CATE_CASES = [
    # case test_udaf_function.yaml #20 (max_cate)
    ("max_cate", C2, K_I16, ["1:1", "1:4", "1:4,2:3", "1:4,2:3"]),
    ("max_cate", C5, K_TS, [f"{TS0}:1.100000", f"{TS0}:1.400000", f"{TS0}:1.400000,{TS2}:1.300000",
                            f"{TS0}:1.400000,{TS2}:1.300000"]),
    # case #21 (min_cate)
    ("min_cate", C4, K_DATE, ["2020-05-01:30", "2020-05-01:30", "2020-05-01:30,2020-05-02:32",
                              "2020-05-01:33,2020-05-02:32"]),
    ("min_cate", C6, K_STR, ["a:2.100000", "a:2.100000", "a:2.100000,b:2.300000", "a:2.400000,b:2.300000"]),
    # case #22 (count_cate)
    ("count_cate", C6, K_STR, ["a:1", "a:2", "a:2,b:1", "a:1,b:1"]),
    ("count_cate", C3, K_TS, [f"{TS0}:1", f"{TS0}:2", f"{TS0}:2,{TS2}:1", f"{TS0}:1,{TS2}:1"]),
    # case #23 (sum_cate)
    ("sum_cate", C5, K_I64, ["30:1.100000", "30:2.500000", "30:2.500000,32:1.300000", "30:1.400000,32:1.300000"]),
    ("sum_cate", C4, K_STR, ["a:30", "a:63", "a:63,b:32", "a:33,b:32"]),
    ("sum_cate", C2, K_I16, ["1:1", "1:5", "1:5,2:3", "1:4,2:3"]),
    # case #24 (avg_cate)
    ("avg_cate", C2, K_I16, ["1:1.000000", "1:2.500000", "1:2.500000,2:3.000000", "1:4.000000,2:3.000000"]),
    ("avg_cate", C5, K_STR, ["a:1.100000", "a:1.250000", "a:1.250000,b:1.300000", "a:1.400000,b:1.300000"]),
    ("avg_cate", C6, K_DATE, ["2020-05-01:2.100000", "2020-05-01:2.250000", "2020-05-01:2.250000,2020-05-02:2.300000",
                              "2020-05-01:2.400000,2020-05-02:2.300000"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "key", "expected"), CATE_CASES)
def test_cate(name: str, value: tuple[T, list[Any]], key: tuple[T, list[Any]], expected: list[str]) -> None:
    assert run(name, [col(*value), col(*key)], rows_frames(4, 2)) == expected


CATE_WHERE_CASES = [
    # case #27 (max_cate_where)
    ("max_cate_where", C2, K_I16, ["1:1", "1:1", "1:1,2:3", "2:3"]),
    # case #28 (min_cate_where)
    ("min_cate_where", C6, K_STR, ["a:2.100000", "a:2.100000", "a:2.100000,b:2.300000", "b:2.300000"]),
    # case #29 (count_cate_where)
    ("count_cate_where", C3, K_DATE, ["2020-05-01:1", "2020-05-01:1", "2020-05-01:1,2020-05-02:1", "2020-05-02:1"]),
    # case #30 (sum_cate_where)
    ("sum_cate_where", C5, K_TS, [f"{TS0}:1.100000", f"{TS0}:1.100000", f"{TS0}:1.100000,{TS2}:1.300000",
                                  f"{TS2}:1.300000"]),
    # case #31 (avg_cate_where)
    ("avg_cate_where", C4, K_I64, ["30:30.000000", "30:30.000000", "30:30.000000,32:32.000000", "32:32.000000"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "key", "expected"), CATE_WHERE_CASES)
def test_cate_where(name: str, value: tuple[T, list[Any]], key: tuple[T, list[Any]], expected: list[str]) -> None:
    assert run(name, [col(*value), col(*C10), col(*key)], rows_frames(4, 2)) == expected


TOP_N_KEY_CASES = [
    # cases #34-#38 (n = 1)
    ("top_n_key_max_cate_where", C2, K_I16, 1, ["1:1", "1:1", "2:3", "2:3"]),
    ("top_n_key_min_cate_where", C4, K_TS, 1, [f"{TS0}:30", f"{TS0}:30", f"{TS2}:32", f"{TS2}:32"]),
    ("top_n_key_sum_cate_where", C6, K_STR, 1, ["a:2.100000", "a:2.100000", "b:2.300000", "b:2.300000"]),
    ("top_n_key_avg_cate_where", C3, K_I64, 1, ["30:1.000000", "30:1.000000", "32:3.000000", "32:3.000000"]),
    ("top_n_key_count_cate_where", C5, K_DATE, 1, ["2020-05-01:1", "2020-05-01:1", "2020-05-02:1", "2020-05-02:1"]),
    # n = 2 and n < 0 list every key, descending; n = 0 lists none
    ("top_n_key_sum_cate_where", C2, K_I16, 2, ["1:1", "1:1", "2:3,1:1", "2:3"]),
    ("top_n_key_count_cate_where", C2, K_STR, -1, ["a:1", "a:1", "b:1,a:1", "b:1"]),
    ("top_n_key_max_cate_where", C2, K_I16, 0, ["", "", "", ""]),
]


@pytest.mark.parametrize(("name", "value", "key", "n", "expected"), TOP_N_KEY_CASES)
def test_top_n_key(
    name: str, value: tuple[T, list[Any]], key: tuple[T, list[Any]], n: int, expected: list[str]
) -> None:
    args = [col(*value), col(*C10), col(*key), const(T.INT32, n, 4)]
    assert run(name, args, rows_frames(4, 2)) == expected


# case test_udaf_function.yaml #62: one partition, ROWS_RANGE 10s over rows 1s apart (= all earlier rows).
ID62 = list(range(7))
COL1 = [1, 2, 3, 4, None, 5, 5]
COL3 = ["g1", None, "g2", "g1", "g2", "g2", "g2"]
COL4 = [2.0, 2.0, None, 4.0, 4.0, 4.0, 1.0]

TOP_N_VALUE_CASES = [
    ("top_n_value_count_cate_where", (T.STRING, COL3), [None if c is None else c != 5 for c in COL1], (T.STRING, COL3),
     1, ["g1:1", "g1:1", "g2:1", "g1:2", "g1:2", "g1:2", "g1:2"]),
    ("top_n_value_min_cate_where", (T.INT32, COL1), [None if s is None else len(s) > 1 for s in COL3],
     (T.STRING, COL3), 1, ["g1:1", "g1:1", "g2:3", "g2:3", "g2:3", "g2:3", "g2:3"]),
    ("top_n_value_max_cate_where", (T.DOUBLE, COL4), [i > 0 for i in ID62], (T.STRING, COL3), 2,
     ["", "", "", "g1:4.000000", "g2:4.000000,g1:4.000000", "g2:4.000000,g1:4.000000", "g2:4.000000,g1:4.000000"]),
    ("top_n_value_sum_cate_where", (T.INT32, COL1), [i != 6 for i in ID62], (T.INT16, [55] * 7), 1,
     ["55:1", "55:3", "55:6", "55:10", "55:10", "55:15", "55:15"]),
    ("top_n_value_avg_cate_where", (T.DOUBLE, COL4), [True] * 7, (T.INT32, COL1), 3,
     ["1:2.000000", "2:2.000000,1:2.000000", "2:2.000000,1:2.000000", "4:4.000000,2:2.000000,1:2.000000",
      "4:4.000000,2:2.000000,1:2.000000", "5:4.000000,4:4.000000,2:2.000000", "4:4.000000,5:2.500000,2:2.000000"]),
    # n < 0: every group, by value; n = 0: nothing
    ("top_n_value_sum_cate_where", (T.INT32, COL1), [True] * 7, (T.STRING, COL3), -1,
     ["g1:1", "g1:1", "g2:3,g1:1", "g1:5,g2:3", "g1:5,g2:3", "g2:8,g1:5", "g2:13,g1:5"]),
    ("top_n_value_count_cate_where", (T.INT32, COL1), [True] * 7, (T.STRING, COL3), 0, [""] * 7),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "cond", "key", "n", "expected"), TOP_N_VALUE_CASES)
def test_top_n_value(
    name: str, value: tuple[T, list[Any]], cond: list[Any], key: tuple[T, list[Any]], n: int, expected: list[str]
) -> None:
    args = [col(*value), col(T.BOOL, cond), col(*key), const(T.INT32, n, 7)]
    assert run(name, args, rows_frames(7, 100)) == expected


# case test_udaf_function.yaml #66: ROWS_RANGE BETWEEN 10s PRECEDING AND 1s PRECEDING (history only).
VAL66 = [200, 300, 200, 10, 101, 101]
CATE66 = ["a", "b", None, "b", "c", "c"]
RATIO_CASES = [
    ("top_n_value_ratio_cate", 2, ["", "a:1.000000", "b:1.000000,a:1.000000", "b:1.000000,a:1.000000",
                                   "a:1.000000,b:0.500000", "c:1.000000,a:1.000000"]),
    ("top_n_key_ratio_cate", 2, ["", "a:1.000000", "b:1.000000,a:1.000000", "b:1.000000,a:1.000000",
                                 "b:0.500000,a:1.000000", "c:1.000000,b:0.500000"]),
    ("top_n_value_ratio_cate", -1, ["", "a:1.000000", "b:1.000000,a:1.000000", "b:1.000000,a:1.000000",
                                    "a:1.000000,b:0.500000", "c:1.000000,a:1.000000,b:0.500000"]),
    ("top_n_key_ratio_cate", -2, ["", "a:1.000000", "b:1.000000,a:1.000000", "b:1.000000,a:1.000000",
                                  "b:0.500000,a:1.000000", "c:1.000000,b:0.500000,a:1.000000"]),
    ("top_n_value_ratio_cate", 0, [""] * 6),
    ("top_n_key_ratio_cate", 0, [""] * 6),
]  # fmt: skip


@pytest.mark.parametrize(("name", "n", "expected"), RATIO_CASES)
def test_ratio_cate(name: str, n: int, expected: list[str]) -> None:
    args = [col(T.INT32, VAL66), col(T.BOOL, [v > 100 for v in VAL66]), col(T.STRING, CATE66), const(T.INT32, n, 6)]
    assert run(name, args, history_frames(6)) == expected


def test_ratio_counts_null_condition_but_not_null_value() -> None:
    # A NULL cond counts in the total only; a NULL value is not counted at all.
    args = [col(T.INT32, [1, None, 3, 4]), col(T.BOOL, [True, True, None, False]), col(T.STRING, ["k"] * 4)]
    assert run("top_n_key_ratio_cate", [*args, const(T.INT32, 5, 4)], rows_frames(4, 10))[-1] == "k:0.333333"


# --------------------------------------------------------------------------------------------- value semantics
SEMANTIC_CASES = [
    # int16 / int32 sums wrap like a C++ accumulator of the value type
    ("sum_cate", (T.INT16, [30000, 30000]), "k:-5536"),
    ("sum_cate", (T.INT32, [2**31 - 1, 1]), f"k:{-(2**31)}"),
    ("sum_cate", (T.INT64, [2**62, 2**62]), f"k:{-(2**63)}"),
    # FLOAT sums accumulate in float32, newest row first: 16777216 + 1 + 1 stays 16777216 (oldest-first gives ...218)
    ("sum_cate", (T.FLOAT, [1.0, 1.0, 16777216.0]), "k:16777216.000000"),
    ("sum_cate", (T.DOUBLE, [0.1, 0.2]), "k:0.300000"),
    ("max_cate", (T.INT64, [-(2**63), -5]), "k:-5"),
    ("min_cate", (T.INT64, [-(2**63), -5]), f"k:{-(2**63)}"),
    ("max_cate", (T.DOUBLE, [-0.0]), "k:-0.000000"),
    ("max_cate", (T.DOUBLE, [1e300]), "k:" + "%f" % 1e300),  # noqa: UP031 (beyond numba's fast path)
    ("max_cate", (T.DOUBLE, [math.inf]), "k:inf"),
    ("avg_cate", (T.INT32, [1, 2]), "k:1.500000"),
    ("avg_cate", (T.DOUBLE, [0.0078125]), "k:0.007812"),  # exact tie at 6 decimals: round half to even
    ("count_cate", (T.INT16, [None, None]), ""),
]


@pytest.mark.parametrize(("name", "value", "expected"), SEMANTIC_CASES)
def test_value_semantics(name: str, value: tuple[T, list[Any]], expected: str) -> None:
    n = len(value[1])
    out = run(name, [col(*value), col(T.STRING, ["k"] * n)], rows_frames(n, n))
    assert out[-1] == expected


def test_float_text_matches_c_printf() -> None:
    # %f is rendered by a numba kernel; compare it with Python's %f (which rounds like C's printf) on values that
    # stress it: random magnitudes, exact ties, float32 values, negative and tiny numbers, random bit patterns.
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.random(2000) * 10.0 ** rng.integers(-9, 13, 2000),
            -rng.random(500) * 1000,
            np.arange(-200, 200) / 128.0,
            (rng.random(500) * 100).astype(np.float32).astype(np.float64),
            np.array([5e-7, 4.999999e-7, 1.5e-6, 2.0**40 - 0.5, 2.0**40, -(2.0**41), 1e-300, math.nan]),
            np.frombuffer(rng.bytes(8 * 1000), dtype=np.float64),
        ]
    )
    n = len(values)
    keys = col(T.INT64, list(range(n)))
    out = run("max_cate", [Column.from_values(T.DOUBLE, values), keys], make_frames([(k, k, k) for k in range(n)]))
    assert out == [f"{k}:{'%f' % v}" for k, v in enumerate(values.tolist())]  # noqa: UP031


@pytest.mark.parametrize(
    ("timezone", "ms", "expected"),
    [
        ("Asia/Shanghai", 1590738990000, "2020-05-29 15:56:30:1"),
        ("UTC", 1590738990000, "2020-05-29 07:56:30:1"),
        ("UTC", -1500, "1969-12-31 23:59:59:1"),  # C division truncates toward zero: -1.5 s prints as -1 s
        ("UTC", 999, "1970-01-01 00:00:00:1"),
    ],
)
def test_timestamp_keys_use_context_timezone(timezone: str, ms: int, expected: str) -> None:
    out = run("count_cate", [col(T.INT32, [1]), col(T.TIMESTAMP, [ms])], rows_frames(1, 0), EvalContext(timezone))
    assert out == [expected]


def test_output_stops_before_4096_bytes() -> None:
    # Each pair "kNNN...:1" costs its length plus a comma; pairs that would pass 4096 bytes are left out.
    keys = [f"k{i:03d}" + "x" * 90 for i in range(100)]  # 94-byte keys: "key:1," costs 97 bytes
    n = len(keys)
    out = run("count_cate", [col(T.INT32, [1] * n), col(T.STRING, keys)], make_frames([(0, n, -1)]))[0]
    pairs = out.split(",")
    assert len(pairs) == MAX_OUTPUT_BYTES // 97 == 42
    assert pairs == [f"{k}:1" for k in sorted(keys)[:42]]


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([], []),  # no output rows
        ([(0, 0, -1), (1, 1, -1)], ["", ""]),  # empty windows
        ([(0, 2, 3)], ["a:6,b:2"]),  # current row not adjacent to its frame (row 2 excluded)
        ([(1, 3, -1)], ["a:3,b:2"]),  # pure history frame
    ],
)
def test_frames_shapes(windows: list[tuple[int, int, int]], expected: list[str]) -> None:
    args = [col(T.INT32, [1, 2, 3, 5]), col(T.STRING, ["a", "b", "a", "a"])]
    assert run("sum_cate", args, make_frames(windows)) == expected


def test_current_row_is_fed_first() -> None:
    # FLOAT sums reveal the feed order: the current row (16777216) is added first, then rows 1 and 0.
    args = [col(T.FLOAT, [1.0, 1.0, 5.0, 16777216.0]), col(T.STRING, ["k"] * 4)]
    assert run("sum_cate", args, make_frames([(0, 2, 3)])) == ["k:16777216.000000"]


# --------------------------------------------------------------------------------------------- topn_frequency & co
# case test_feature_zero_function.yaml #3 / #4: partitions rows 0-2 and 3-4, ROWS BETWEEN 2 PRECEDING AND CURRENT ROW.
FZ_FRAMES = rows_frames(5, 2, parts=[3])

TOPN_FREQUENCY_CASES = [
    ((T.INT32, [1, None, 2, None, 5]), 3, ["1,NULL,NULL", "1,NULL,NULL", "1,2,NULL", "NULL,NULL,NULL", "5,NULL,NULL"]),
    ((T.FLOAT, [1.1, 1.4, 1.3, None, 1.0]), 3,
     ["1.100000,NULL,NULL", "1.100000,1.400000,NULL", "1.100000,1.300000,1.400000", "NULL,NULL,NULL",
      "1.000000,NULL,NULL"]),
    ((T.DOUBLE, [2.1, 2.1, 2.3, None, 1.5]), 3,
     ["2.100000,NULL,NULL", "2.100000,NULL,NULL", "2.100000,2.300000,NULL", "NULL,NULL,NULL", "1.500000,NULL,NULL"]),
    # frequency descending, then key ascending; n = 0 gives ""
    ((T.STRING, ["b", "a", "b", "c", "c"]), 1, ["b", "a", "b", "c", "c"]),
    ((T.STRING, ["b", "a", "b", "c", "c"]), 0, ["", "", "", "", ""]),
    ((T.DATE, ["2020-05-02", "2020-05-01", None, None, None]), 2,
     ["2020-05-02,NULL", "2020-05-01,2020-05-02", "2020-05-01,2020-05-02", "NULL,NULL", "NULL,NULL"]),
]  # fmt: skip


@pytest.mark.parametrize(("value", "n", "expected"), TOPN_FREQUENCY_CASES)
def test_topn_frequency(value: tuple[T, list[Any]], n: int, expected: list[str]) -> None:
    assert run("topn_frequency", [col(*value), const(T.INT32, n, 5)], FZ_FRAMES) == expected


def test_topn_frequency_negative_n_pads_to_1024_and_empty_window_gives_empty_text() -> None:
    out = run("topn_frequency", [col(T.INT32, [7, 8]), const(T.INT32, -1, 2)], make_frames([(0, 1, 1), (0, 0, -1)]))
    assert out[0].split(",") == ["7", "8"] + ["NULL"] * 1022
    assert out[1] == ""


TOP1_RATIO_CASES = [
    # case test_feature_zero_function.yaml #3, r1..r5
    ((T.INT16, [1, 2, None, None, 5]), [1.0, 0.5, 0.5, 0.0, 1.0]),
    ((T.INT32, [1, 2, 3, 5, 4]), [1.0, 0.5, 1 / 3, 1.0, 0.5]),
    ((T.INT64, [1, 1, 1, 1, 1]), [1.0, 1.0, 1.0, 1.0, 1.0]),
    ((T.FLOAT, [1.1, 1.4, 1.3, None, 1.5]), [1.0, 0.5, 1 / 3, 0.0, 1.0]),
    ((T.DOUBLE, [2.1, 2.1, 2.3, None, 2.5]), [1.0, 1.0, 2 / 3, 0.0, 1.0]),
    ((T.STRING, [None, None, None, None, None]), [0.0] * 5),
]


@pytest.mark.parametrize(("value", "expected"), TOP1_RATIO_CASES)
def test_top1_ratio(value: tuple[T, list[Any]], expected: list[float]) -> None:
    assert run("top1_ratio", [col(*value)], FZ_FRAMES) == pytest.approx(expected, rel=1e-15)


TOP_CASES = [
    ((T.INT32, [1, 4, 3, 4, None]), 3, ["1", "4,1", "4,3,1", "4,4,3", "4,4,3"]),
    ((T.INT32, [1, 4, 3, 4, None]), 0, ["", "", "", "", ""]),
    ((T.INT32, [1, 4, 3, 4, None]), -1, ["", "", "", "", ""]),
    ((T.STRING, ["b", None, "a", "c", "b"]), 2, ["b", "b", "b,a", "c,b", "c,b"]),
    ((T.DOUBLE, [0.5, None, None, None, 1.25]), 2, ["0.500000"] * 4 + ["1.250000,0.500000"]),
    ((T.TIMESTAMP, [0, None, None, None, 1000]), 1, ["1970-01-01 08:00:00"] * 4 + ["1970-01-01 08:00:01"]),
    ((T.DATE, ["2020-01-02", "2020-01-01", None, None, None]), 5, ["2020-01-02"] + ["2020-01-02,2020-01-01"] * 4),
]  # fmt: skip


@pytest.mark.parametrize(("value", "k", "expected"), TOP_CASES)
def test_top(value: tuple[T, list[Any]], k: int, expected: list[str]) -> None:
    assert run("top", [col(*value), const(T.INT32, k, 5)], rows_frames(5, 10)) == expected


# --------------------------------------------------------------------------------------------- window_split lists
SPLIT_STRINGS = ["k1:v1,k2:v2", "k3:v3", "???,,k4:v4", None, "k5:v5,k5:v3"]
# case test_feature_zero_function.yaml #1: ROWS BETWEEN 10 PRECEDING AND CURRENT ROW
LIST_CASES = [
    ("join_window_split", [",", " "],
     ["k1:v1 k2:v2", "k3:v3 k1:v1 k2:v2", "???  k4:v4 k3:v3 k1:v1 k2:v2", "???  k4:v4 k3:v3 k1:v1 k2:v2",
      "k5:v5 k5:v3 ???  k4:v4 k3:v3 k1:v1 k2:v2"]),
    ("join_window_split_by_key", [",", ":", " "],
     ["k1 k2", "k3 k1 k2", "k4 k3 k1 k2", "k4 k3 k1 k2", "k5 k5 k4 k3 k1 k2"]),
    ("join_window_split_by_value", [",", ":", " "],
     ["v1 v2", "v3 v1 v2", "v4 v3 v1 v2", "v4 v3 v1 v2", "v5 v3 v4 v3 v1 v2"]),
    ("count_window_split_by_key", [",", ":"], [2, 3, 4, 4, 6]),
    ("distinct_count_window_split_by_key", [",", ":"], [2, 3, 4, 4, 5]),
    ("distinct_count_window_split", [","], [2, 3, 6, 6, 8]),
    ("distinct_count_window_split_by_value", [",", ":"], [2, 3, 4, 4, 5]),
    # case #5: an empty delimiter splits nothing
    ("join_window_split", ["", " "], [""] * 5),
    ("join_window_split_by_key", ["", "", " "], [""] * 5),
    ("count_window_split", [""], [0] * 5),
    # multi-byte delimiters are regular expressions (boost::split_regex), applied to both delimiters
    ("join_window_split", ["[,:]", "|"],
     ["k1|v1|k2|v2", "k3|v3|k1|v1|k2|v2", "???||k4|v4|k3|v3|k1|v1|k2|v2", "???||k4|v4|k3|v3|k1|v1|k2|v2",
      "k5|v5|k5|v3|???||k4|v4|k3|v3|k1|v1|k2|v2"]),
    ("join_window_split_by_value", [",", "v+", "-"], ["1-2", "3-1-2", "4-3-1-2", "4-3-1-2", "5-3-4-3-1-2"]),
    ("join_window_split_by_key", [",", ":v", "-"], ["k1-k2", "k3-k1-k2", "k4-k3-k1-k2", "k4-k3-k1-k2",
                                                      "k5-k5-k4-k3-k1-k2"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "consts", "expected"), LIST_CASES)
def test_window_split_lists(name: str, consts: list[str], expected: list[Any]) -> None:
    args = [col(T.STRING, SPLIT_STRINGS), *(const(T.STRING, c, 5) for c in consts)]
    assert run(name, args, rows_frames(5, 10)) == expected


FZ_LIST_CASES = [
    # case test_feature_zero_function.yaml #3 (r6, r7) and #4 (r1, r3, r6)
    ("top1_ratio_window_split_by_value", ["1:1 1:2", "1:1", "1:1 1:3", "1:3", "1:2 1:3"], [" ", ":"],
     [0.5, 2 / 3, 0.6, 1.0, 2 / 3]),
    ("join_window_split_by_value", ["1:1 1:2", "1:1", "1:1 1:3", "1:3", "1:2 1:3"], [" ", ":", " "],
     ["1 2", "1 1 2", "1 3 1 1 2", "3", "2 3 3"]),
    ("topn_frequency_window_split_by_key", ["1:2 4:3", "4:2 8:3", None, None, "1:2 1:3"], [" ", ":"],
     ["1,4,NULL", "4,1,8", "4,1,8", "", "1,NULL,NULL"]),
    ("topn_frequency_window_split", ["1:2 1:3", "1:7 1:3", "1:2 1:3", "1:8 1:3", "1:8 1:3"], [","],
     ["1:2 1:3,NULL,NULL", "1:2 1:3,1:7 1:3,NULL", "1:2 1:3,1:7 1:3,NULL", "1:8 1:3,NULL,NULL", "1:8 1:3,NULL,NULL"]),
    ("topn_frequency_window_split_by_value", ["1:1 1:2", "1:1", "1:1 1:3", "1:3", "1:2 1:3"], [" ", ":"],
     ["1,2,NULL", "1,2,NULL", "1,2,3", "3,NULL,NULL", "3,2,NULL"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "strings", "consts", "expected"), FZ_LIST_CASES)
def test_window_split_consumers(name: str, strings: list[Any], consts: list[str], expected: list[Any]) -> None:
    args = [col(T.STRING, strings), *(const(T.STRING, c, 5) for c in consts)]
    if name.startswith("topn_frequency"):
        args.append(const(T.INT32, 3, 5))
    out = run(name, args, FZ_FRAMES)
    assert out == (pytest.approx(expected) if name.startswith("top1") else expected)


def test_window_split_list_is_capped_at_4096_bytes() -> None:
    # Parts are skipped (not truncated) once the list would pass 4096 bytes; a later, shorter part still fits.
    strings = ["x" * 3000, "y" * 2000, "z" * 1000]  # fed newest first: z (1000), y (2000), x (3000 > 1096 left)
    args = [col(T.STRING, strings), const(T.STRING, ",", 3), const(T.STRING, "|", 3)]
    out = run("join_window_split", args, make_frames([(0, 2, 2)]))
    assert out == ["z" * 1000 + "|" + "y" * 2000]
    counts = run("count_window_split", args[:2], make_frames([(0, 2, 2), (0, 1, 1)]))
    assert counts == [2, 1]


# --------------------------------------------------------------------------------------------- request mode
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("sum_cate", []),
        ("avg_cate_where", ["cond"]),
        ("top_n_value_max_cate_where", ["cond", "n"]),
        ("top_n_key_ratio_cate", ["cond", "n"]),
    ],
)
def test_request_mode_equals_batch(name: str, extra: list[str]) -> None:
    # Request mode passes one window's rows as the whole candidate set; the result must not change.
    rng = np.random.default_rng(3)
    n = 60
    value = Column.from_values(T.FLOAT, rng.integers(-50, 50, n) / 4, rng.random(n) > 0.2)
    key = Column.from_values(T.STRING, np.array([f"k{i}" for i in rng.integers(0, 6, n)], dtype=object))
    cond = Column.from_values(T.BOOL, rng.random(n) > 0.4, rng.random(n) > 0.1)
    args = [value, *([cond] if "cond" in extra else []), key, *([const(T.INT32, 3, n)] if "n" in extra else [])]
    frames = rows_frames(n, 7, parts=[20, 45])
    batch = run(name, args, frames)
    for k in range(n):
        lo, hi, cur = int(frames.lo[k]), int(frames.hi[k]), int(frames.cur[k])
        rows = np.array([*range(lo, hi), cur], dtype=np.int64)
        alone = run(name, [a.take(rows) for a in args], make_frames([(0, hi - lo, hi - lo)]))
        assert alone == [batch[k]]


# --------------------------------------------------------------------------------------------- types and names
@pytest.mark.parametrize(
    ("name", "types", "ok"),
    [
        ("sum_cate", [T.INT32, T.STRING], True),
        ("count_cate", [T.STRING, T.DATE], True),
        ("sum_cate", [T.STRING, T.STRING], False),  # case #26: value must be numeric
        ("avg_cate", [T.TIMESTAMP, T.INT32], False),
        ("max_cate", [T.INT32, T.FLOAT], False),  # case #25: float/double/bool keys are rejected
        ("min_cate", [T.INT32, T.BOOL], False),
        ("count_cate_where", [T.INT32, T.BOOL, T.DOUBLE], False),  # case #32
        ("sum_cate_where", [T.INT32, T.INT32, T.STRING], False),  # cond must be bool
        ("top_n_value_count_cate_where", [T.STRING, T.BOOL, T.STRING, T.INT32], True),  # case #62
        ("top_n_key_sum_cate_where", [T.DATE, T.BOOL, T.INT16, T.INT32], False),  # case #40
        ("top_n_key_avg_cate_where", [T.INT32, T.BOOL, T.FLOAT, T.INT32], False),  # case #39
        ("top_n_key_max_cate_where", [T.INT32, T.BOOL, T.INT16], False),  # n missing
        ("top_n_value_ratio_cate", [T.BOOL, T.BOOL, T.TIMESTAMP, T.INT64], True),
        ("topn_frequency", [T.BOOL, T.INT32], False),
        ("topn_frequency", [T.DATE, T.INT64], True),
        ("top1_ratio", [T.TIMESTAMP], True),
        ("top", [T.STRING, T.DOUBLE], False),
        ("join_window_split_by_key", [T.STRING, T.STRING, T.STRING, T.STRING], True),
        ("join_window_split", [T.INT32, T.STRING, T.STRING], False),
    ],
)
def test_resolve(name: str, types: list[T], ok: bool) -> None:
    fn = REGISTRY.aggregate(name)
    assert fn is not None
    if ok:
        assert fn.resolve(types) in (T.STRING, T.DOUBLE, T.INT64)
    else:
        with pytest.raises(FunctionTypeError, match=name):
            fn.resolve(types)


@pytest.mark.parametrize("name", ["window_split", "fz_window_split_by_key", "window_split_by_value"])
def test_bare_window_split_is_rejected_with_advice(name: str) -> None:
    fn = REGISTRY.aggregate(name)
    assert fn is not None
    with pytest.raises(FunctionTypeError, match=r"returns a list.*join\("):
        fn.resolve([T.STRING, T.STRING, T.STRING])


@pytest.mark.parametrize(
    ("outer", "inner", "registered"),
    [
        ("join", "window_split", "join_window_split"),
        ("fz_join", "fz_window_split_by_key", "join_window_split_by_key"),
        ("topn_frequency", "window_split_by_value", "topn_frequency_window_split_by_value"),
        ("fz_top1_ratio", "window_split", "top1_ratio_window_split"),
        ("count", "window_split_by_key", "count_window_split_by_key"),
        ("distinct_count", "fz_window_split", "distinct_count_window_split"),
    ],
)
def test_list_rewrites(outer: str, inner: str, registered: str) -> None:
    assert LIST_AGGREGATE_REWRITES[(outer, inner)] == registered
    assert REGISTRY.aggregate(registered) is not None


def test_every_rewrite_target_is_registered_with_constant_delimiters() -> None:
    for target in set(LIST_AGGREGATE_REWRITES.values()):
        fn = REGISTRY.aggregate(target)
        assert fn is not None, target
        assert 0 not in fn.constant_args and fn.constant_args  # the string varies per row; the rest is constant


@pytest.mark.parametrize(("alias", "name"), [("fz_topn_frequency", "topn_frequency"), ("fz_top1_ratio", "top1_ratio")])
def test_aliases(alias: str, name: str) -> None:
    assert REGISTRY.aggregate(alias) is REGISTRY.aggregate(name)
