"""Order-based window functions: ``lag``/``at``, ``first_value``, ``last_value``, ``nth_value_where``.

Their meaning, checked against OpenMLDB's code (``hybridse/src/udf/default_defs/window_functions_def.cc``)
and conformance cases (``function/window/test_window.yaml`` 33-38, ``query/udaf_query.yaml`` 6-7):

* ``lag(x, n)`` = ``at(x, n)`` ignores the frame: it returns ``x`` of the n-th row before the current
  row in the partition history (``n = 0`` is the current row), NULL beyond the partition start.
* ``first_value(x)`` is the **oldest** row of the frame and ``last_value(x)`` the **newest** (the
  current row unless it is excluded). Since 0.9.0 OpenMLDB follows standard SQL here; before, its
  ``first_value`` returned the newest row. An optional second argument ``true`` skips NULL values.
* ``nth_value_where(x, idx, cond)``: among the frame rows whose ``cond`` is true, the ``idx``-th
  counted from the oldest (``idx > 0``) or from the newest (``idx < 0``); ``idx = 0`` gives NULL.

All of them pick one row per window with vectorised index arithmetic: O(rows), no per-row loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openfeat_core.column import Column
from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.functions._kernels import (
    ANY_TYPES,
    COND_TYPES,
    check_arity,
    check_type,
    constant_arg,
    frame_arrays,
    newest_included,
    oldest_included,
    truthy,
)
from openfeat_core.functions.registry import EvalContext, Resolver, WindowFrames, aggregate_function
from openfeat_core.types import SQLType

_INT_TYPES = (SQLType.INT16, SQLType.INT32, SQLType.INT64)
_NTH_VALUE_TYPES = (
    SQLType.BOOL,
    SQLType.INT16,
    SQLType.INT32,
    SQLType.INT64,
    SQLType.FLOAT,
    SQLType.DOUBLE,
    SQLType.STRING,
    SQLType.TIMESTAMP,
    SQLType.DATE,
)


# --------------------------------------------------------------------------------------------- resolvers
def _resolve_lag(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("lag", arg_types, 2)
    check_type("lag", arg_types, 1, (*_INT_TYPES, SQLType.NULL))
    return check_type("lag", arg_types, 0, ANY_TYPES)


def _resolve_edge_value(name: str) -> Resolver:
    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        check_arity(name, arg_types, 1, 2)
        if len(arg_types) == 2:
            check_type(name, arg_types, 1, COND_TYPES)
        return check_type(name, arg_types, 0, ANY_TYPES)

    return resolve


def _resolve_nth_value_where(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("nth_value_where", arg_types, 3)
    check_type("nth_value_where", arg_types, 1, (*_INT_TYPES, SQLType.NULL))
    check_type("nth_value_where", arg_types, 2, COND_TYPES)
    return check_type("nth_value_where", arg_types, 0, (*_NTH_VALUE_TYPES, SQLType.NULL))


# --------------------------------------------------------------------------------------------- helpers
def _every_row(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.bool_)


def _lag_rows(frames: WindowFrames, n: int) -> np.ndarray:
    """Index of the n-th row before ``current`` in ``part_lo .. part_hi-1`` (newest last), or -1.

    The history is walked newest first while skipping the current row itself, so this holds
    whether the executor puts the current row inside the partition range or just after it.
    """
    current = np.asarray(frames.current, dtype=np.int64)
    if n == 0:
        return current
    part_lo = np.asarray(frames.part_lo, dtype=np.int64)
    part_hi = np.asarray(frames.part_hi, dtype=np.int64)
    j = part_hi - n
    j = np.where((current >= j) & (current < part_hi), j - 1, j)
    return np.where(j >= part_lo, j, -1)


# --------------------------------------------------------------------------------------------- functions
@aggregate_function("lag", _resolve_lag, "at", constant_args=(1,), ignores_frame=True)
def lag(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Value ``n`` rows before the current row in the partition (``n = 0``: the current row).

    Raises:
        OpenFeatSQLError: ``n`` is negative.
    """
    x, offset = args
    n = constant_arg(offset)
    if n is None:
        return Column.nulls(x.type, len(frames))
    if int(n) < 0:
        raise OpenFeatSQLError(f"lag/at offset must not be negative, got {n}")
    return x.take(_lag_rows(frames, int(n)))


def _ignore_nulls(args: list[Column]) -> bool:
    return len(args) > 1 and bool(constant_arg(args[1]))


@aggregate_function("first_value", _resolve_edge_value("first_value"), constant_args=(1,))
def first_value(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Value of the oldest row of the frame (of the oldest non-NULL one with ``ignore_nulls``)."""
    x = args[0]
    lo, hi, cur = frame_arrays(frames)
    inc = x.valid if _ignore_nulls(args) else _every_row(len(x))
    return x.take(oldest_included(inc, lo, hi, cur))


@aggregate_function("last_value", _resolve_edge_value("last_value"), constant_args=(1,))
def last_value(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Value of the newest row of the frame (of the newest non-NULL one with ``ignore_nulls``)."""
    x = args[0]
    lo, hi, cur = frame_arrays(frames)
    inc = x.valid if _ignore_nulls(args) else _every_row(len(x))
    return x.take(newest_included(inc, lo, hi, cur))


@aggregate_function("nth_value_where", _resolve_nth_value_where, constant_args=(1,))
def nth_value_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Value of the ``idx``-th matching row: from the oldest when ``idx > 0``, from the newest when
    ``idx < 0``; NULL when ``idx`` is 0 or there are fewer matches."""
    x, idx_col, cond = args
    m = len(frames)
    idx = constant_arg(idx_col)
    if idx is None or int(idx) == 0 or m == 0:
        return Column.nulls(x.type, m)
    idx = int(idx)
    lo, hi, cur = frame_arrays(frames)
    match = truthy(cond)
    # before[j] = matches among rows 0..j-1; positions[r] = row of the (r+1)-th match overall.
    before = np.concatenate(([0], np.cumsum(match, dtype=np.int64)))
    positions = np.flatnonzero(match).astype(np.int64)
    in_range = before[hi] - before[lo]
    cur_match = (cur >= 0) & match[np.maximum(cur, 0)]
    safe = max(len(positions) - 1, 0)
    if idx > 0:
        # Oldest first: the range comes before the current row.
        from_range = idx <= in_range
        pick = positions[np.clip(before[lo] + idx - 1, 0, safe)] if len(positions) else np.zeros(m, np.int64)
        rows = np.where(from_range, pick, np.where(cur_match & (in_range + 1 == idx), cur, -1))
    else:
        # Newest first: the current row (when it matches) is the first match.
        want = -idx - cur_match.astype(np.int64)
        from_range = (want >= 1) & (want <= in_range)
        pick = positions[np.clip(before[hi] - want, 0, safe)] if len(positions) else np.zeros(m, np.int64)
        rows = np.where(cur_match & (idx == -1), cur, np.where(from_range, pick, -1))
    return x.take(rows.astype(np.int64))
