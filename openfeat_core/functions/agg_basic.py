"""The basic window aggregates: ``count``, ``sum``, ``avg``, ``min``, ``max``, ``distinct_count`` and the
``*_where`` variants, with OpenMLDB's result types and NULL rules.

All of them slide (O(total rows) per call) when the frames are monotone; see :mod:`._kernels`.

OpenMLDB behaviours reproduced on purpose (read in ``hybridse/src/udf/default_udf_library.cc``):

* ``sum`` keeps the input type: int16/int32 sums wrap at their width like C++; FLOAT sums are FLOAT.
  Float sums here are correctly rounded (see :mod:`._kernels`), whereas OpenMLDB adds naively
  newest-first, so the last bits may differ by an ULP or two (the conformance cases compare floats
  within 4 ULP, as OpenMLDB's own harness does).
* ``distinct_count`` counts NULL as the type's zero value (``{4, 4, NULL}`` → 2) and, because it
  uses a C++ hash set, every float NaN as a distinct value.
* ``sum_where``/``avg_where`` guard a row with ``x AND cond``, the value being cast to bool, so rows
  whose value is 0 are skipped: ``avg_where`` averages the non-zero matches only and ``sum_where``
  of matches that are all 0 is NULL, not 0. No conformance case covers it; it is what the C++
  code does.
* ``min``/``max`` of floats never pick NaN and start from the type's extreme: a window whose
  non-NULL values are all NaN yields the largest (min) or lowest (max) finite value, and
  ``min`` clamps +inf to the largest finite value (``max`` clamps -inf).
* ``min_where``/``max_where`` take the newest matching value first and then compare, so a NaN as
  the newest match makes the result NaN; other NaNs are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from openfeat_core.column import Column, DictColumn, sorted_codes
from openfeat_core.functions._kernels import (
    ANY_TYPES,
    COND_TYPES,
    NUMERIC_TYPES,
    ORDERED_TYPES,
    check_arity,
    check_type,
    factorize_i64,
    frame_arrays,
    newest_included,
    truthy,
    window_count,
    window_distinct,
    window_extreme,
    window_sum_f64,
    window_sum_i64,
)
from openfeat_core.functions.registry import EvalContext, Resolver, WindowFrames, aggregate_function
from openfeat_core.types import SQLType

_SUM_TYPES = (*NUMERIC_TYPES, SQLType.TIMESTAMP)


# --------------------------------------------------------------------------------------------- resolvers
def _resolve_count(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("count", arg_types, 1)
    return SQLType.INT64


def _resolve_sum(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("sum", arg_types, 1)
    return check_type("sum", arg_types, 0, _SUM_TYPES)


def _resolve_avg(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("avg", arg_types, 1)
    check_type("avg", arg_types, 0, NUMERIC_TYPES)
    return SQLType.DOUBLE


def _resolve_extreme(name: str) -> Resolver:
    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        check_arity(name, arg_types, 1)
        return check_type(name, arg_types, 0, ORDERED_TYPES)

    return resolve


def _resolve_distinct_count(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("distinct_count", arg_types, 1)
    check_type("distinct_count", arg_types, 0, ANY_TYPES)
    return SQLType.INT64


def _resolve_count_where(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("count_where", arg_types, 2)
    check_type("count_where", arg_types, 1, COND_TYPES)
    return SQLType.INT64


def _resolve_where_same(name: str) -> Resolver:
    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        check_arity(name, arg_types, 2)
        check_type(name, arg_types, 1, COND_TYPES)
        return check_type(name, arg_types, 0, NUMERIC_TYPES)

    return resolve


def _resolve_avg_where(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("avg_where", arg_types, 2)
    check_type("avg_where", arg_types, 0, NUMERIC_TYPES)
    check_type("avg_where", arg_types, 1, COND_TYPES)
    return SQLType.DOUBLE


# --------------------------------------------------------------------------------------------- shared bodies
def _counts(inc: np.ndarray, frames: WindowFrames) -> Column:
    lo, hi, cur = frame_arrays(frames)
    n = window_count(inc, lo, hi, cur, frames.monotone)
    return Column(SQLType.INT64, n, np.ones(len(n), dtype=np.bool_))


def _sum(x: Column, inc: np.ndarray, frames: WindowFrames) -> Column:
    lo, hi, cur = frame_arrays(frames)
    if x.type.is_float:
        s, has = window_sum_f64(x.values.astype(np.float64, copy=False), inc, lo, hi, cur, frames.monotone, False)
    else:
        s, has = window_sum_i64(x.values.astype(np.int64, copy=False), inc, lo, hi, cur, frames.monotone)
    # int64 → int16/int32 wraps, which equals summing in the narrow type; float64 → float32 rounds once.
    return Column(x.type, s.astype(x.type.numpy_dtype, copy=False), has)


def _avg(x: Column, inc: np.ndarray, frames: WindowFrames) -> Column:
    lo, hi, cur = frame_arrays(frames)
    # OpenMLDB accumulates every type in double; the double-double sum is exact for integers too.
    mean, has = window_sum_f64(x.values.astype(np.float64, copy=False), inc, lo, hi, cur, frames.monotone, True)
    return Column(SQLType.DOUBLE, mean, has)


#: (max, lowest) of each float type: the starting values of OpenMLDB's min and max accumulators.
_FLOAT_LIMITS = {
    t: (float(np.finfo(t.numpy_dtype).max), float(np.finfo(t.numpy_dtype).min)) for t in (SQLType.FLOAT, SQLType.DOUBLE)
}


def _extreme(x: Column, inc: np.ndarray, frames: WindowFrames, *, is_max: bool, where: bool) -> Column:
    """min/max (``where=False``) or min_where/max_where (``where=True``) of the included rows."""
    lo, hi, cur = frame_arrays(frames)
    t = x.type
    if t is SQLType.STRING:
        codes, uniques = sorted_codes(Column(t, x.values, inc))
        best, has = window_extreme(codes, codes >= 0, lo, hi, cur, frames.monotone, is_max)
        out = np.empty(len(best), dtype=object)
        out[:] = ""
        out[has] = uniques[best[has]]
        return Column(t, out, has)
    if not t.is_float:
        best, has = window_extreme(x.values.astype(np.int64, copy=False), inc, lo, hi, cur, frames.monotone, is_max)
        return Column(t, best.astype(t.numpy_dtype, copy=False), has)
    vals = x.values.astype(np.float64, copy=False)
    # NaN rows among the included ones, if any (None: none). min() propagates NaN, so one pass without a temporary
    # rules NaN out in the common case.
    nan: np.ndarray | None = None
    if len(vals) and np.isnan(vals.min()):
        nan = np.isnan(vals)
        if not (nan & inc).any():
            nan = None
    best, has = window_extreme(vals, inc if nan is None else inc & ~nan, lo, hi, cur, frames.monotone, is_max)
    extreme = _FLOAT_LIMITS[t][1 if is_max else 0]
    if where:
        if nan is not None:
            # The accumulator takes the newest match unconditionally, and nothing compares below NaN.
            newest = newest_included(inc, lo, hi, cur)
            nan_newest = (newest >= 0) & nan[np.maximum(newest, 0)]
            best[nan_newest] = np.nan
            has = has | nan_newest
    else:
        if nan is not None:
            only_nan = (window_count(inc, lo, hi, cur, frames.monotone) > 0) & ~has
            best[only_nan] = extreme
            has = has | only_nan
        # The accumulator starts at the type's extreme and keeps it unless a value beats it strictly.
        # Rows without a value hold 0, which the clamp leaves alone.
        if is_max:
            np.maximum(best, extreme, out=best)
        else:
            np.minimum(best, extreme, out=best)
    return Column(t, best.astype(t.numpy_dtype, copy=False), has)


def _distinct_codes(x: Column) -> tuple[np.ndarray, int]:
    """Dictionary codes for ``distinct_count``: NULL slots already hold the zero value, so they share
    its code; float NaNs each get a code of their own (NaN != NaN in the C++ hash set)."""
    n = len(x)
    if x.type is SQLType.NULL:
        return np.zeros(n, dtype=np.int64), 1
    if isinstance(x, DictColumn) and n < len(x.dictionary):
        # Fewer rows than dictionary entries (a request over a table-wide dictionary): the entries are distinct,
        # so the codes themselves are the values. NULL (-1 here) is one value with "", if the rows hold one.
        if n and bool(x.valid.all()):
            if len(x.dictionary) <= 16 * n + 4096:
                return x.codes, len(x.dictionary)  # a small dictionary is the count table itself
            low, high = int(x.codes.min()), int(x.codes.max())
            if high - low <= 16 * n + 4096:
                # Codes over a small range index the count table directly, as small integer ranges do below.
                return x.codes.astype(np.int64) - low, high - low + 1
        codes = np.where(x.valid, x.codes, -1).astype(np.int64)
        present, inverse = np.unique(codes, return_inverse=True)
        if len(present) > 1 and present[0] == -1:
            empty = np.nonzero(x.dictionary[present[1:]] == "")[0]
            if len(empty):
                inverse = np.where(inverse == 0, empty[0] + 1, inverse)
        return inverse.astype(np.int64), len(present)
    if isinstance(x, DictColumn):
        # Dictionary entries are distinct, so the codes are the values (a count table of at most n entries here).
        # NULL shares the code of "" (its zero value), or one of its own when no row holds "".
        m = len(x.dictionary)
        if bool(x.valid.all()):
            return x.codes.astype(np.int64), m
        empty = np.flatnonzero(x.dictionary == "")
        null_code = int(empty[0]) if len(empty) else m
        return np.where(x.valid, x.codes, null_code).astype(np.int64), m + (0 if len(empty) else 1)
    if x.type is SQLType.STRING:
        codes, uniques = sorted_codes(Column(x.type, x.values, np.ones(n, dtype=np.bool_)))
        return codes, len(uniques)
    if x.type.is_float:
        vals = x.values.astype(np.float64)
        # Adding +0.0 turns -0.0 into +0.0, which the C++ hash set treats as equal.
        vals += 0.0
        return factorize_i64(vals.view(np.int64), np.isnan(vals))
    vals = x.values.astype(np.int64, copy=False)
    if n == 0:
        return vals, 0
    low, high = int(vals.min()), int(vals.max())
    if high - low <= 2 * n + 1024:
        # Small value range: offsets are codes, no hashing needed.
        return vals - low, high - low + 1
    return factorize_i64(vals, np.zeros(0, dtype=np.bool_))


# --------------------------------------------------------------------------------------------- functions
@aggregate_function("count", _resolve_count)
def count(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Number of non-NULL values in the window (``count(*)``: number of rows); 0 when empty."""
    return _counts(_valid_rows(args), frames)


@aggregate_function("sum", _resolve_sum)
def sum_(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Sum of the non-NULL values, in the input type; NULL when there are none."""
    return _sum(args[0], _valid_rows(args), frames)


@aggregate_function("avg", _resolve_avg)
def avg(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Average of the non-NULL values as a double; NULL when there are none."""
    return _avg(args[0], _valid_rows(args), frames)


@aggregate_function("min", _resolve_extreme("min"))
def min_(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Smallest non-NULL value (numbers, strings, dates, timestamps); NULL when there are none."""
    return _extreme(args[0], _valid_rows(args), frames, is_max=False, where=False)


@aggregate_function("max", _resolve_extreme("max"))
def max_(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Largest non-NULL value (numbers, strings, dates, timestamps); NULL when there are none."""
    return _extreme(args[0], _valid_rows(args), frames, is_max=True, where=False)


@aggregate_function("distinct_count", _resolve_distinct_count)
def distinct_count(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Number of distinct values, NULL counted as the type's zero value; 0 when the window is empty."""
    codes, ncodes = _distinct_codes(args[0])
    lo, hi, cur = frame_arrays(frames)
    n = window_distinct(codes, ncodes, lo, hi, cur, frames.monotone)
    return Column(SQLType.INT64, n, np.ones(len(n), dtype=np.bool_))


def _valid_rows(args: list[Column]) -> np.ndarray:
    return args[0].valid


def _where_guard(x: Column, cond: Column) -> np.ndarray:
    # OpenMLDB's update guard is `x AND cond`: x cast to bool, so 0 (and NULL) never qualify.
    return x.valid & (x.values != 0) & truthy(cond)


def _guarded_rows(args: list[Column]) -> np.ndarray:
    return _where_guard(args[0], args[1])


def _matching_rows(args: list[Column]) -> np.ndarray:
    return args[0].valid & truthy(args[1])


#: The aggregates whose window result combines from per-bucket partial results (long-window pre-aggregation,
#: ``openfeat_core.online.preagg``): name -> (what is combined: count, sum, avg, min or max; which rows take part).
#: The functions below select their rows with the same functions, so both paths include exactly the same rows.
COMBINABLE: dict[str, tuple[str, Callable[[list[Column]], np.ndarray]]] = {
    "count": ("count", _valid_rows),
    "sum": ("sum", _valid_rows),
    "avg": ("avg", _valid_rows),
    "min": ("min", _valid_rows),
    "max": ("max", _valid_rows),
    "count_where": ("count", _matching_rows),
    "sum_where": ("sum", _guarded_rows),
    "avg_where": ("avg", _guarded_rows),
    "min_where": ("min", _matching_rows),
    "max_where": ("max", _matching_rows),
}


@aggregate_function("count_where", _resolve_count_where)
def count_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Number of rows whose value is not NULL and whose condition is true (NULL condition = false)."""
    return _counts(_matching_rows(args), frames)


@aggregate_function("sum_where", _resolve_where_same("sum_where"))
def sum_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Sum of the non-zero, non-NULL values whose condition is true; NULL when there are none."""
    return _sum(args[0], _guarded_rows(args), frames)


@aggregate_function("avg_where", _resolve_avg_where)
def avg_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Average of the non-zero, non-NULL values whose condition is true; NULL when there are none."""
    return _avg(args[0], _guarded_rows(args), frames)


@aggregate_function("min_where", _resolve_where_same("min_where"))
def min_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Smallest non-NULL value whose condition is true; NULL when there is none."""
    return _extreme(args[0], _matching_rows(args), frames, is_max=False, where=True)


@aggregate_function("max_where", _resolve_where_same("max_where"))
def max_where(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Largest non-NULL value whose condition is true; NULL when there is none."""
    return _extreme(args[0], _matching_rows(args), frames, is_max=True, where=True)
