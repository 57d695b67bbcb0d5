"""Window frame boundaries: the one place that turns a frame definition into row ranges.

Both executors describe a window the same way: candidate rows sorted oldest → newest (by order value,
then union rows before main rows, then insertion order) and, per output row, the candidate range
``[cand_lo, cand_hi)`` it may see plus the index of its own values. :func:`frame_bounds` applies the
frame (ROWS / ROWS_RANGE bounds, OPEN, MAXSIZE, EXCLUDE CURRENT_TIME / CURRENT_ROW) and returns the
:class:`~openfeat_core.functions.registry.WindowFrames` that aggregate kernels consume. Batch mode calls it
with every row of a table; request mode with one request row and the stored rows of its key.
"""

from __future__ import annotations

import functools

import numpy as np

from openfeat_core.functions._kernels import lower_bound
from openfeat_core.functions.registry import WindowFrames
from openfeat_core.jit import kernel
from openfeat_core.plan.nodes import Frame

_UNBOUNDED = -1


@kernel
def _advance(keys: np.ndarray, p: int, lo: int, hi: int, value: int) -> int:
    """Two-pointer form of :func:`_lower_bound` for monotone searches: move ``p`` forward from ``max(p, lo)``."""
    if p < lo:
        p = lo
    while p < hi and keys[p] < value:
        p += 1
    return p


@kernel
def _frame_kernel(
    keys: np.ndarray,
    cand_lo: np.ndarray,
    cand_hi: np.ndarray,
    cur_idx: np.ndarray,
    cur_key: np.ndarray,
    is_range: bool,
    start_kind: int,
    start_off: int,
    start_open: bool,
    end_kind: int,
    end_off: int,
    end_open: bool,
    maxsize: int,
    exclude_current_time: bool,
    exclude_current_row: bool,
    monotone: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # kinds: 0 = unbounded, 1 = current row, 2 = preceding
    n = len(cand_lo)
    lo_out = np.empty(n, np.int64)
    hi_out = np.empty(n, np.int64)
    cur_out = np.empty(n, np.int64)
    hist_out = np.empty(n, np.int64)
    # Pointers for monotone input (batch mode): every search result only moves forward within a partition, so
    # walking beats binary search. They restart at each partition (max with its first candidate).
    p_ect = 0
    p_end = 0
    p_start = 0
    for k in range(n):
        c_lo = cand_lo[k]
        c_hi = cand_hi[k]
        ts = cur_key[k]
        if exclude_current_time:
            # Every candidate at the current row's time is dropped before the frame is applied.
            if monotone:
                p_ect = _advance(keys, p_ect, c_lo, c_hi, ts)
                c_hi = p_ect
            else:
                c_hi = lower_bound(keys, c_lo, c_hi, ts)
        hist_out[k] = c_hi
        with_cur = True
        hi = c_hi
        if is_range:
            # ROWS_RANGE: bounds are distances in order-column units from the current value.
            if end_kind == 2 and (end_off > 0 or end_open):
                with_cur = False
                limit = ts - end_off
                # closed end keeps key <= limit; open end keeps key < limit
                bound = limit if end_open else limit + 1
                if monotone:
                    p_end = _advance(keys, p_end, c_lo, c_hi, bound)
                    hi = p_end
                else:
                    hi = min(c_hi, lower_bound(keys, c_lo, c_hi, bound))
            if start_kind == 0:
                lo = c_lo
            else:
                low = ts - start_off
                target = low + 1 if start_open else low
                if monotone:
                    p_start = _advance(keys, p_start, c_lo, hi, target)
                    lo = p_start
                else:
                    lo = lower_bound(keys, c_lo, hi, target)
        else:
            # ROWS: bounds count candidate rows back from the current row.
            end_rows = 0
            if end_kind == 2:
                end_rows = end_off + 1 if end_open else end_off
            if end_rows > 0:
                with_cur = False
                hi = max(c_lo, c_hi - (end_rows - 1))
            if start_kind == 0:
                lo = c_lo
            else:
                start_rows = start_off - 1 if start_open else start_off
                lo = max(c_lo, c_hi - start_rows)
        if lo > hi:
            lo = hi
        if exclude_current_row:
            with_cur = False
        if maxsize > 0:
            room = maxsize - (1 if with_cur else 0)
            if room < 0:
                room = 0
            if hi - lo > room:
                lo = hi - room
        lo_out[k] = lo
        hi_out[k] = hi
        cur_out[k] = cur_idx[k] if with_cur else -1
    return lo_out, hi_out, cur_out, hist_out


_KINDS = {"unbounded": 0, "current": 1, "preceding": 2}


@functools.lru_cache(maxsize=1024)
def _frame_parameters(frame: Frame) -> tuple[bool, int, int, bool, int, int, bool, int, bool, bool]:
    """A frame as the kernel's scalar arguments (computed once per frame: online requests call per row)."""
    return (
        frame.kind == "rows_range",
        _KINDS[frame.start.kind],
        int(frame.start.offset),
        bool(frame.start.open),
        _KINDS[frame.end.kind],
        int(frame.end.offset),
        bool(frame.end.open),
        int(frame.maxsize or 0),
        bool(frame.exclude_current_time),
        bool(frame.exclude_current_row),
    )


def frame_bounds(
    frame: Frame,
    keys: np.ndarray,
    cand_lo: np.ndarray,
    cand_hi: np.ndarray,
    cur_idx: np.ndarray,
    cur_key: np.ndarray,
    *,
    monotone: bool,
) -> WindowFrames:
    """Apply ``frame`` to every output row.

    Args:
        frame: the frame definition.
        keys: int64 order values of the candidate rows (ascending within each partition).
        cand_lo: per output row, first candidate of its partition.
        cand_hi: per output row, one past the last candidate it may see (rows with a larger order
            value, and main rows inserted after it, are never candidates).
        cur_idx: per output row, the index of its own values in the candidate columns.
        cur_key: per output row, its order value.
        monotone: whether the ranges only move forward from one output row to the next.
    """
    lo, hi, cur, history_hi = _frame_kernel(
        np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(cand_lo, dtype=np.int64),
        np.ascontiguousarray(cand_hi, dtype=np.int64),
        np.ascontiguousarray(cur_idx, dtype=np.int64),
        np.ascontiguousarray(cur_key, dtype=np.int64),
        *_frame_parameters(frame),
        monotone,
    )
    return WindowFrames(
        lo=lo,
        hi=hi,
        cur=cur,
        part_lo=np.asarray(cand_lo, dtype=np.int64),
        # lag/at ignore the frame bounds but not EXCLUDE CURRENT_TIME (test_window_union 18-4).
        part_hi=history_hi,
        current=np.asarray(cur_idx, dtype=np.int64),
        monotone=monotone,
    )


_ZERO = np.zeros(1, dtype=np.int64)
_ZERO.flags.writeable = False


def request_frame(frame: Frame, keys: np.ndarray) -> WindowFrames:
    """:func:`frame_bounds` of request mode's one output row: the last of ``keys`` (int64, contiguous), every
    earlier row a candidate. The same kernel, without the argument conversions a whole table needs."""
    m = len(keys) - 1
    last = np.array([m], dtype=np.int64)
    lo, hi, cur, history_hi = _frame_kernel(keys, _ZERO, last, last, keys[m:], *_frame_parameters(frame), False)
    return WindowFrames(lo=lo, hi=hi, cur=cur, part_lo=_ZERO, part_hi=history_hi, current=last, monotone=False)
