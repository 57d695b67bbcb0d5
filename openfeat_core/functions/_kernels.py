"""Shared machinery of the window aggregates: numba kernels that slide over or rescan windows, and the
small Python glue that feeds them (frame arrays, constant arguments, argument type checks).

Every kernel takes the frame description of :class:`~openfeat_core.functions.registry.WindowFrames`
as three int64 arrays: output row ``k`` aggregates candidate rows ``lo[k] .. hi[k]-1`` (oldest to
newest) plus row ``cur[k]`` when ``cur[k] >= 0``. The current row is assumed to lie outside
``lo[k] .. hi[k]-1`` (in practice ``cur[k] >= hi[k]``).

**Sliding.** When ``monotone`` is true the kernels keep the aggregate of the range ``[L, H)`` between
output rows: rows entering (``H`` up to ``hi[k]``) are added, rows leaving (``L`` up to ``lo[k]``)
are removed, and the current row is combined into a temporary copy at output time. A window that
does not overlap the previous one (a new partition) restarts from an empty state, so each
candidate row is added and removed at most once: O(total rows) per call. When ``monotone`` is
false (request mode, one output row) every window is computed directly from an empty state. Both
paths run the very same accumulation code, which is what makes online and offline agree.

**Float sums.** A running float sum that adds and removes values drifts away from a direct sum of
the same window. The kernels therefore keep the window sum as a *renormalised double-double*
``(hi, lo)``: every addition is an error-free TwoSum whose rounding error is carried in ``lo``.
The pair holds the exact sum whenever it fits in ~106 significant bits, i.e. when
``window rows * largest |value| / smallest ulp`` stays below about 2^106 (0.01 … 10^9 over
10^6 rows is far inside). Then the sliding state and a direct sum hold the same exact value, and
the final rounding ``hi + lo`` yields the correctly rounded sum: the same bits in batch and in
request mode. Outside that range the two may differ in the last bit. Infinities and NaNs cannot be
removed from a float sum, so they are counted separately and only finite values enter the
double-double; a running sum that overflows is recomputed directly over the window, as request
mode would compute it.

Integer sums slide in int64 arithmetic, which wraps like C++; modular arithmetic makes adding and
removing exact, and casting the int64 result down to int16/int32 gives the same bits as summing in
the narrow type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from openfeat_core.column import Column
from openfeat_core.functions.registry import FunctionTypeError, WindowFrames
from openfeat_core.jit import kernel
from openfeat_core.types import SQLType

# --------------------------------------------------------------------------------------------- type sets
#: Integer and floating types (``bool`` and timestamps excluded), OpenMLDB's "number".
NUMERIC_TYPES: tuple[SQLType, ...] = (SQLType.INT16, SQLType.INT32, SQLType.INT64, SQLType.FLOAT, SQLType.DOUBLE)
#: Types with an order, accepted by ``min``/``max``.
ORDERED_TYPES: tuple[SQLType, ...] = (*NUMERIC_TYPES, SQLType.STRING, SQLType.DATE, SQLType.TIMESTAMP)
#: Every value type a column can have (the ``NULL`` literal type included).
ANY_TYPES: tuple[SQLType, ...] = tuple(SQLType)
#: Types a condition argument may have: a boolean expression, or a bare ``NULL`` (always false).
COND_TYPES: tuple[SQLType, ...] = (SQLType.BOOL, SQLType.NULL)


# --------------------------------------------------------------------------------------------- Python glue
def check_arity(name: str, arg_types: Sequence[SQLType], *counts: int) -> None:
    """Raise :class:`FunctionTypeError` unless ``len(arg_types)`` is one of ``counts``."""
    if len(arg_types) not in counts:
        expected = " or ".join(str(c) for c in counts)
        plural = "" if counts == (1,) else "s"
        raise FunctionTypeError(f"{name}() takes {expected} argument{plural}, got {len(arg_types)}")


def check_type(name: str, arg_types: Sequence[SQLType], position: int, allowed: Sequence[SQLType]) -> SQLType:
    """Return ``arg_types[position]`` or raise :class:`FunctionTypeError` if it is not in ``allowed``."""
    t = arg_types[position]
    if t not in allowed:
        names = ", ".join(a.openmldb_name for a in allowed)
        raise FunctionTypeError(
            f"{name}() argument {position + 1} cannot be {t.openmldb_name}; expected one of: {names}"
        )
    return t


def frame_arrays(frames: WindowFrames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, cur)`` as contiguous int64 arrays, the layout every kernel expects."""
    return (
        np.ascontiguousarray(frames.lo, dtype=np.int64),
        np.ascontiguousarray(frames.hi, dtype=np.int64),
        np.ascontiguousarray(frames.cur, dtype=np.int64),
    )


def constant_arg(col: Column) -> Any | None:
    """The Python value of a constant argument column, ``None`` when NULL or when there are no rows."""
    if len(col) == 0 or not bool(col.valid[0]):
        return None
    value = col.values[0]
    return value.item() if isinstance(value, np.generic) else value


def truthy(col: Column) -> np.ndarray:
    """Rows where a condition column is true; NULL counts as false (OpenMLDB's ``*_where`` rule)."""
    if col.type is SQLType.NULL:
        return np.zeros(len(col), dtype=np.bool_)
    return col.valid & col.values.astype(np.bool_, copy=False)


def newest_included(inc: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Per window, the index of its newest row where ``inc`` holds, or -1 (vectorised, O(rows))."""
    if len(lo) == 0:
        return np.zeros(0, dtype=np.int64)
    marks = np.where(inc, np.arange(len(inc), dtype=np.int64), -1)
    last = np.maximum.accumulate(marks) if len(marks) else marks
    before = np.where(hi > lo, last[np.maximum(hi - 1, 0)] if len(last) else -1, -1)
    in_range = np.where(before >= lo, before, -1)
    cur_ok = (cur >= 0) & (inc[np.maximum(cur, 0)] if len(inc) else False)
    return np.where(cur_ok, cur, in_range).astype(np.int64)


def oldest_included(inc: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Per window, the index of its oldest row where ``inc`` holds, or -1 (vectorised, O(rows))."""
    n = len(inc)
    if len(lo) == 0:
        return np.zeros(0, dtype=np.int64)
    marks = np.where(inc, np.arange(n, dtype=np.int64), n)
    # nxt[j] = first included index >= j (n when none); one extra slot makes nxt[hi] valid.
    nxt = np.minimum.accumulate(np.append(marks, n)[::-1])[::-1]
    first = nxt[np.minimum(lo, n)]
    in_range = np.where(first < hi, first, -1)
    cur_ok = (cur >= 0) & (inc[np.maximum(cur, 0)] if n else False)
    return np.where(in_range >= 0, in_range, np.where(cur_ok, cur, -1)).astype(np.int64)


# --------------------------------------------------------------------------------------------- numba helpers
@kernel
def two_sum(a: float, b: float) -> tuple[float, float]:
    """Knuth's TwoSum: ``s + e == a + b`` exactly, with ``s = fl(a + b)``."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@kernel
def dd_add(hi: float, lo: float, x: float) -> tuple[float, float]:
    """Add ``x`` to the double-double ``(hi, lo)`` and renormalise so that ``hi == fl(hi + lo)``."""
    s, e = two_sum(hi, x)
    if s - s != 0.0:
        # Overflow (the operands are finite): stay at ±inf like a naive running sum would.
        return s, 0.0
    e += lo
    new_hi = s + e
    new_lo = e - (new_hi - s)
    return new_hi, new_lo


@kernel
def _fsum_step(
    hi: float, lo: float, nnan: int, npinf: int, nninf: int, x: float, sign: int
) -> tuple[float, float, int, int, int]:
    # Non-finite values are counted, not summed: inf - inf would poison the double-double forever.
    if x != x:
        nnan += sign
    elif x == np.inf:
        npinf += sign
    elif x == -np.inf:
        nninf += sign
    elif sign > 0:
        hi, lo = dd_add(hi, lo, x)
    else:
        hi, lo = dd_add(hi, lo, -x)
    return hi, lo, nnan, npinf, nninf


@kernel
def _fsum_value(hi: float, lo: float, nnan: int, npinf: int, nninf: int) -> float:
    if nnan > 0 or (npinf > 0 and nninf > 0):
        return np.nan
    if npinf > 0:
        return np.inf
    if nninf > 0:
        return -np.inf
    return hi + lo


@kernel
def gather_newest_first(lo_k: int, hi_k: int, cur_k: int, out: np.ndarray) -> int:
    """Write the row indices of one window into ``out`` newest first (``cur``, ``hi-1`` … ``lo``).

    Returns:
        The number of indices written. ``out`` must hold at least ``hi_k - lo_k + 1`` slots.
    """
    n = 0
    if cur_k >= 0:
        out[0] = cur_k
        n = 1
    j = hi_k - 1
    while j >= lo_k:
        out[n] = j
        n += 1
        j -= 1
    return n


def max_window_size(lo: np.ndarray, hi: np.ndarray) -> int:
    """Upper bound of the row count of any window (range plus current row), for scratch buffers."""
    if len(lo) == 0:
        return 1
    return int(np.max(np.maximum(hi - lo, 0))) + 1


# --------------------------------------------------------------------------------------------- sliding kernels
@kernel
def window_count(inc: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, monotone: bool) -> np.ndarray:
    """Number of rows with ``inc`` true in each window."""
    m = lo.shape[0]
    out = np.empty(m, np.int64)
    n = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if (not monotone) or lk >= big_h or lk < big_l or hk < big_h:
            n = 0
            big_l = lk
            big_h = lk
        while big_h < hk:
            if inc[big_h]:
                n += 1
            big_h += 1
        while big_l < lk:
            if inc[big_l]:
                n -= 1
            big_l += 1
        c = cur[k]
        out[k] = n + 1 if (c >= 0 and inc[c]) else n
    return out


@kernel
def window_sum_i64(
    vals: np.ndarray, inc: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, monotone: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Wrapping int64 sum of the rows with ``inc`` true, per window, and whether there was any row."""
    m = lo.shape[0]
    out = np.empty(m, np.int64)
    has = np.empty(m, np.bool_)
    s = np.int64(0)
    n = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if (not monotone) or lk >= big_h or lk < big_l or hk < big_h:
            s = np.int64(0)
            n = 0
            big_l = lk
            big_h = lk
        while big_h < hk:
            if inc[big_h]:
                s += vals[big_h]
                n += 1
            big_h += 1
        while big_l < lk:
            if inc[big_l]:
                s -= vals[big_l]
                n -= 1
            big_l += 1
        c = cur[k]
        if c >= 0 and inc[c]:
            out[k] = s + vals[c]
            has[k] = True
        else:
            # An empty window sums to 0, the zero value an invalid slot must hold.
            out[k] = s
            has[k] = n > 0
    return out, has


@kernel
def window_sum_f64(
    vals: np.ndarray,
    inc: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cur: np.ndarray,
    monotone: bool,
    mean: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Correctly rounded float64 sum (double-double accumulation) of the rows with ``inc`` true, or
    their mean when ``mean`` is set (the rounded sum divided by the count), per window, and whether
    there was any row. Rows without any hold 0."""
    m = lo.shape[0]
    out = np.empty(m, np.float64)
    has = np.empty(m, np.bool_)
    s_hi = 0.0
    s_lo = 0.0
    nnan = 0
    npinf = 0
    nninf = 0
    n = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if (not monotone) or lk >= big_h or lk < big_l or hk < big_h:
            # Restarting also discards whatever rounding the previous partition accumulated.
            s_hi = 0.0
            s_lo = 0.0
            nnan = 0
            npinf = 0
            nninf = 0
            n = 0
            big_l = lk
            big_h = lk
        while big_h < hk:
            if inc[big_h]:
                s_hi, s_lo, nnan, npinf, nninf = _fsum_step(s_hi, s_lo, nnan, npinf, nninf, vals[big_h], 1)
                n += 1
            big_h += 1
        while big_l < lk:
            if inc[big_l]:
                s_hi, s_lo, nnan, npinf, nninf = _fsum_step(s_hi, s_lo, nnan, npinf, nninf, vals[big_l], -1)
                n -= 1
            big_l += 1
        if s_hi - s_hi != 0.0:
            # An overflow is sticky in a running sum: recompute the range directly, as request mode would.
            s_hi = 0.0
            s_lo = 0.0
            nnan = 0
            npinf = 0
            nninf = 0
            n = 0
            for j in range(big_l, big_h):
                if inc[j]:
                    s_hi, s_lo, nnan, npinf, nninf = _fsum_step(s_hi, s_lo, nnan, npinf, nninf, vals[j], 1)
                    n += 1
        c = cur[k]
        if c >= 0 and inc[c]:
            t_hi, t_lo, t_nan, t_pinf, t_ninf = _fsum_step(s_hi, s_lo, nnan, npinf, nninf, vals[c], 1)
            total = _fsum_value(t_hi, t_lo, t_nan, t_pinf, t_ninf)
            cnt = n + 1
        else:
            total = _fsum_value(s_hi, s_lo, nnan, npinf, nninf)
            cnt = n
        if cnt == 0:
            out[k] = 0.0
            has[k] = False
        else:
            out[k] = total / cnt if mean else total
            has[k] = True
    return out, has


@kernel
def window_extreme(
    vals: np.ndarray, inc: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, monotone: bool, is_max: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum (or maximum) of the rows with ``inc`` true, per window, and whether there was one.

    Slides with a monotone deque of row indices whose values increase (min) or decrease (max) from
    front to back, so the front is the extreme of the range. The deque is a ring buffer sized to
    the largest window. ``vals`` must hold no NaN among included rows (callers exclude them): NaN
    breaks the ordering. Rows without a value hold 0.
    """
    m = lo.shape[0]
    out = np.empty(m, vals.dtype)
    has = np.empty(m, np.bool_)
    if not monotone:
        for k in range(m):
            # Direct scan: request mode has a single window.
            found = False
            best = out[k]
            for j in range(lo[k], max(hi[k], lo[k])):
                if inc[j] and ((not found) or (vals[j] > best if is_max else vals[j] < best)):
                    best = vals[j]
                    found = True
            c = cur[k]
            if c >= 0 and inc[c] and ((not found) or (vals[c] > best if is_max else vals[c] < best)):
                best = vals[c]
                found = True
            has[k] = found
            if found:
                out[k] = best
            else:
                out[k] = 0
        return out, has
    cap = 2
    for k in range(m):
        while cap < hi[k] - lo[k] + 1:
            cap *= 2
    mask = cap - 1
    dq = np.empty(cap, np.int64)
    head = 0
    tail = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if lk >= big_h or lk < big_l or hk < big_h:
            head = 0
            tail = 0
            big_l = lk
            big_h = lk
        big_l = lk
        while head < tail and dq[head & mask] < lk:
            head += 1
        while big_h < hk:
            if inc[big_h]:
                v = vals[big_h]
                if is_max:
                    while tail > head and vals[dq[(tail - 1) & mask]] <= v:
                        tail -= 1
                else:
                    while tail > head and vals[dq[(tail - 1) & mask]] >= v:
                        tail -= 1
                dq[tail & mask] = big_h
                tail += 1
            big_h += 1
        found = head < tail
        best = vals[dq[head & mask]] if found else out[k]
        c = cur[k]
        if c >= 0 and inc[c] and ((not found) or (vals[c] > best if is_max else vals[c] < best)):
            best = vals[c]
            found = True
        has[k] = found
        if found:
            out[k] = best
        else:
            out[k] = 0
    return out, has


@kernel
def window_distinct(
    codes: np.ndarray, ncodes: int, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, monotone: bool
) -> np.ndarray:
    """Number of distinct codes (all rows, ``codes >= 0``) per window, sliding a count per code."""
    m = lo.shape[0]
    out = np.empty(m, np.int64)
    counts = np.zeros(max(ncodes, 1), np.int32)
    distinct = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if (not monotone) or lk >= big_h or lk < big_l or hk < big_h:
            # Empty the table by removing what it holds: O(rows held), each row is removed once.
            for j in range(big_l, big_h):
                counts[codes[j]] -= 1
            distinct = 0
            big_l = lk
            big_h = lk
        while big_h < hk:
            code = codes[big_h]
            if counts[code] == 0:
                distinct += 1
            counts[code] += 1
            big_h += 1
        while big_l < lk:
            code = codes[big_l]
            counts[code] -= 1
            if counts[code] == 0:
                distinct -= 1
            big_l += 1
        c = cur[k]
        if c >= 0 and counts[codes[c]] == 0:
            out[k] = distinct + 1
        else:
            out[k] = distinct + 0
    return out


# --------------------------------------------------------------------------------------------- encodings
@kernel
def factorize_i64(keys: np.ndarray, fresh: np.ndarray) -> tuple[np.ndarray, int]:
    """Hash-based dictionary encoding: equal keys get equal codes, numbered in first-seen order.

    Unlike :func:`~openfeat_core.column.sorted_codes` it does not sort (O(n), no order kept), and
    first-seen numbering keeps the codes of neighbouring rows close, which helps sliding counters.
    Rows where ``fresh`` is true (when ``fresh`` is not empty) get a code of their own each.

    Returns:
        ``(codes, ncodes)``.
    """
    n = keys.shape[0]
    cap = 16
    while cap < n + n // 2:
        cap *= 2
    mask = np.uint64(cap - 1)
    table_keys = np.empty(cap, np.int64)
    table_codes = np.full(cap, -1, np.int32)
    codes = np.empty(n, np.int64)
    use_fresh = fresh.shape[0] == n
    ncodes = 0
    for i in range(n):
        if use_fresh and fresh[i]:
            codes[i] = ncodes
            ncodes += 1
            continue
        key = keys[i]
        h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
        slot = (h ^ (h >> np.uint64(29))) & mask
        while True:
            code = table_codes[slot]
            if code < 0:
                table_keys[slot] = key
                table_codes[slot] = ncodes
                codes[i] = ncodes
                ncodes += 1
                break
            if table_keys[slot] == key:
                codes[i] = code
                break
            slot = (slot + np.uint64(1)) & mask
    return codes, ncodes


@kernel
def lower_bound(keys: np.ndarray, lo: int, hi: int, value: int) -> int:
    """First index in ``[lo, hi)`` with ``keys[i] >= value`` (``keys`` ascending there)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo
