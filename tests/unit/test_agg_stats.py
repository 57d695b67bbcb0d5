"""Tests of median, stddev/variance, entropy, ew_avg and drawdown.

Expected values come from OpenMLDB's conformance cases (``case <file> #<id>``) or the examples in its
function documentation (``doc``); floats are compared within 4 ULP as OpenMLDB's harness does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from openfeat_core.column import Column
from openfeat_core.functions import REGISTRY
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, WindowFrames
from openfeat_core.types import SQLType as T

CTX = EvalContext()


def make_frames(windows: Sequence[tuple[int, int, int]], monotone: bool = True) -> WindowFrames:
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    cur = np.array([w[2] for w in windows], dtype=np.int64)
    return WindowFrames(lo, hi, cur, lo.copy(), hi.copy(), np.maximum(cur, hi), monotone)


def rows_frames(n: int, start: int, parts: Sequence[int] = ()) -> WindowFrames:
    """``ROWS BETWEEN start PRECEDING AND CURRENT ROW``; ``parts`` = first rows of later partitions."""
    firsts = [0, *parts]
    return make_frames([(max(max(f for f in firsts if f <= k), k - start), k, k) for k in range(n)])


def whole(n: int) -> WindowFrames:
    """One window over all ``n`` rows, the newest being the current row."""
    return make_frames([(0, n - 1, n - 1)])


def run(name: str, args: list[Column], frames: WindowFrames) -> Column:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name
    out = fn.impl(args, frames, CTX)
    assert len(out) == len(frames)
    assert out.type is fn.resolve([a.type for a in args])
    assert not np.any(out.values[~out.valid]), "invalid slots must hold 0"
    return out


def assert_doubles(col: Column, expected: Sequence[float | None]) -> None:
    got = col.to_pylist()
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if e is None or g is None:
            assert g is e, (got, expected)
        else:
            a, b = np.array([g, e], dtype=np.float64).view(np.int64)
            assert abs(int(a) - int(b)) <= 4, (got, expected)


ROWS2 = rows_frames(4, 2)


@pytest.mark.parametrize(
    ("col_type", "values", "frames", "expected"),
    [
        # case function/function/test_udaf_function.yaml #61
        (T.INT16, [1, 4, 1, None], ROWS2, [1.0, 2.5, 1.0, 2.5]),
        (T.INT64, [30, 33, 33, None], ROWS2, [30.0, 31.5, 33.0, 33.0]),
        (T.FLOAT, [1.1, 1.4, 1.1, None], ROWS2, [1.1000000238418579, 1.25, 1.1000000238418579, 1.25]),
        (T.DOUBLE, [2.1, 2.4, 2.1, None], ROWS2, [2.1, 2.25, 2.1, 2.25]),
        # doc: 1,2,3,4 → 2.5
        (T.INT32, [1, 2, 3, 4], whole(4), [2.5]),
        (T.INT32, [None, None, None, None], ROWS2, [None, None, None, None]),
        (T.INT32, [5, None, 1, 3], whole(4), [3.0]),
        # the middle pair is added in the input type, as C++ does: int32 wraps, FLOAT adds in float32
        (T.INT32, [2**31 - 1, 2**31 - 1], whole(2), [-1.0]),
        (T.INT16, [32767, 32767], whole(2), [32767.0]),
        (T.FLOAT, [1.4, 1.3], whole(2), [1.3499999046325684]),
    ],
)
def test_median(col_type: T, values: list[Any], frames: WindowFrames, expected: list[float | None]) -> None:
    assert_doubles(run("median", [Column.from_pylist(values, col_type)], frames), expected)


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        # doc examples
        ("stddev", [1, 2, 3, 4], 1.2909944487358056),
        ("std", [1, 2, 3, 4], 1.2909944487358056),
        ("stddev_samp", [1, 2, 3, 4], 1.2909944487358056),
        ("stddev_pop", [1, 2, 3, 4], 1.118033988749895),
        ("var_pop", [0, 3, 6], 6.0),
        ("var_samp", [0, 3, 6], 9.0),
        ("variance", [0, 3, 6], 9.0),
        # NULLs are skipped; the sample variants need two values, the population ones one
        ("var_samp", [None, 3, None], None),
        ("stddev", [7], None),
        ("stddev_pop", [7, None], 0.0),
        ("var_pop", [None, None], None),
        ("stddev_pop", [None], None),
    ],
)
def test_spread(name: str, values: list[Any], expected: float | None) -> None:
    x = Column.from_pylist(values, T.INT32)
    assert_doubles(run(name, [x], whole(len(values))), [expected])


def test_spread_follows_openmldb_two_pass_order() -> None:
    # Σx newest first, avg = Σx/n, then Σ(x-avg)² newest first: reproduce that arithmetic exactly.
    vals = [0.1, 0.7, 1e8 + 0.3, 2.9, 0.05]
    x = Column.from_pylist(vals, T.DOUBLE)
    newest_first = vals[::-1]
    s = 0.0
    for v in newest_first:
        s += v
    avg = s / len(vals)
    total = 0.0
    for v in newest_first:
        total += (v - avg) * (v - avg)
    out = run("var_pop", [x], whole(len(vals)))
    assert out.values[0] == total / len(vals)
    assert run("stddev", [x], whole(len(vals))).values[0] == math.sqrt(total / (len(vals) - 1))


@pytest.mark.parametrize(
    ("col_type", "values", "expected"),
    [
        # case test_udaf_function.yaml #63 (a whole-table aggregate)
        (T.INT32, [1, 2, 3, 4, None], 2.0),
        (T.INT16, [55, 55, 55, 55, 55], 0.0),
        (T.STRING, ["g1", None, "g2", "g1", "g2"], 1.0),
        (T.DOUBLE, [2.0, 2.0, None, 4.0, 4.0], 1.0),
        (T.TIMESTAMP, [1590115420000, 1590115421000, 1590115422000, 1590115423000, 1590115424000], 2.3219280948873622),
        (T.DATE, ["2012-12-12", "2012-12-13", "2012-12-14", "2012-12-15", None], 2.0),
        (T.BOOL, [True, True, False, False, None], 1.0),
        # doc: 1,1,2,3 → 1.5
        (T.INT64, [1, 1, 2, 3], 1.5),
        (T.STRING, [None, None], None),
    ],
)
def test_entropy(col_type: T, values: list[Any], expected: float | None) -> None:
    x = Column.from_pylist(values, col_type)
    assert_doubles(run("entropy", [x], whole(len(values))), [expected])


@pytest.mark.parametrize(
    ("values", "alpha", "expected"),
    [
        # doc: 0..4 with alpha 0.5 → 3.161290 (the newest value weighs 1, the next 0.5, ...)
        ([0, 1, 2, 3, 4], 0.5, 98 / 31),
        # NULLs are skipped without consuming a weight
        ([0, 1, None, 2, 3, None, 4], 0.5, 98 / 31),
        # alpha 0 (or NULL) is the plain average; alpha 1 is the newest value
        ([1, 2, 6], 0.0, 3.0),
        ([1, 2, 6], None, 3.0),
        ([1, 2, 6, None], 1.0, 6.0),
        ([None, None], 0.5, None),
    ],
)
def test_ew_avg(values: list[Any], alpha: float | None, expected: float | None) -> None:
    n = len(values)
    x = Column.from_pylist(values, T.DOUBLE)
    a = Column.constant(alpha, T.DOUBLE, n)
    assert_doubles(run("ew_avg", [x, a], whole(n)), [expected])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # doc: 1,8,5,2,10,4 → 0.75 (from 8 down to 2)
        ([1, 8, 5, 2, 10, 4], 0.75),
        ([5], 0.0),
        ([1, 2, 3], 0.0),
        ([4, None, -100, 1], 0.75),  # NULL and negative values are ignored
        ([0, 0, 3, 0], 1.0),
        ([None, -1], None),
    ],
)
def test_drawdown(values: list[Any], expected: float | None) -> None:
    x = Column.from_pylist(values, T.DOUBLE)
    assert_doubles(run("drawdown", [x], whole(len(values))), [expected])


def test_rolling_windows_and_empty_frames() -> None:
    x = Column.from_pylist([3, 1, None, 7, 5], T.INT32)
    history = make_frames([(0, 0, -1), (0, 1, -1), (0, 2, -1), (1, 3, -1), (2, 4, -1)])
    assert_doubles(run("median", [x], history), [None, 3.0, 2.0, 1.0, 7.0])
    assert_doubles(run("drawdown", [x], history), [None, 0.0, 2 / 3, 0.0, 0.0])
    assert_doubles(run("var_pop", [x], history), [None, 0.0, 1.0, 0.0, 0.0])
    assert_doubles(run("entropy", [x], history), [None, 0.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["median", "stddev", "entropy", "drawdown"])
def test_no_output_rows(name: str) -> None:
    assert len(run(name, [Column.from_pylist([], T.INT32)], make_frames([]))) == 0


@pytest.mark.parametrize("col_type", [T.INT32, T.INT64, T.FLOAT, T.DOUBLE])
@pytest.mark.parametrize(("seed", "span"), [(1, 4), (2, 29), (3, 700)])
def test_median_sliding_equals_request_mode(col_type: T, seed: int, span: int) -> None:
    """Sorted-buffer (small windows) and tree (windows over 512 rows) paths agree with a per-window sort."""
    rng = np.random.default_rng(seed)
    n = 1000
    vals = rng.integers(-20, 20, n) * (0.25 if col_type.is_float else 1)
    x = Column.from_values(col_type, vals, rng.random(n) > 0.2)
    frames = rows_frames(n, span, parts=[57, 58, 200])
    batch = run("median", [x], frames)
    for k in range(n):
        lo, hi = int(frames.lo[k]), int(frames.hi[k])
        window = x.take(np.arange(lo, k + 1))
        one = run("median", [window], make_frames([(0, hi - lo, hi - lo)], monotone=False))
        assert one.valid[0] == batch.valid[k]
        assert one.values[0] == batch.values[k]
        present = window.values[window.valid]
        if len(present):
            assert batch.values[k] == pytest.approx(float(np.median(present.astype(np.float64))))


@pytest.mark.parametrize(
    ("name", "arg_types", "expected"),
    [
        ("median", [T.INT16], T.DOUBLE),
        ("median", [T.STRING], None),
        ("stddev", [T.FLOAT], T.DOUBLE),
        ("var_pop", [T.TIMESTAMP], None),
        ("entropy", [T.STRING], T.DOUBLE),
        ("entropy", [T.NULL], None),
        ("ew_avg", [T.INT64, T.DOUBLE], T.DOUBLE),
        ("ew_avg", [T.INT64], None),
        ("drawdown", [T.DATE], None),
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
