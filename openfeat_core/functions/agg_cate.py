"""Categorical and top-N window aggregates: ``*_cate``, ``*_cate_where``, ``top_n_*``, ``topn_frequency``,
``top1_ratio``, ``top`` and the ``window_split*`` list helpers.

Semantics follow OpenMLDB's UDAFs (``hybridse/src/udf/containers.h``, ``default_defs/*_by_category_def.cc``,
``feature_zero_def.cc``, ``default_udf_library.cc``):

* ``*_cate`` group the window by a key (int16/32/64, date, timestamp or string; never float/bool), skip rows whose
  key or value is NULL (and, for ``*_where``, rows whose condition is not TRUE), and print ``"k:v,k:v"`` with keys
  ascending. ``top_n_key_*`` print the ``n`` largest keys descending (``n < 0``: all, ``n = 0``: none);
  ``top_n_value_*`` order by the aggregate descending, ties by key descending. An empty result is ``""``.
  Values print as C++ does: integers ``%d``; float, double, averages and ratios ``%f``; timestamps as local
  ``YYYY-MM-DD HH:MM:SS`` in ``ctx.timezone``; dates ``YYYY-MM-DD``. Pairs stop once the text (each pair counted
  with its comma) would exceed 4096 bytes, as OpenMLDB's ``MAX_OUTPUT_STR_SIZE`` does.
* Sums keep the value type: int16/int32 sums wrap like C++, FLOAT sums accumulate in float32. Rows are fed newest
  first, so float sums add in that order. Averages accumulate in double.
* ``top_n_key_ratio_cate`` / ``top_n_value_ratio_cate(value, cond, key, n)``: per key, rows with TRUE ``cond`` /
  rows, counting rows whose key and value are not NULL.
* ``topn_frequency(x, n)``: keys by frequency descending then key ascending, padded with ``NULL`` up to
  ``min(n, 1024)`` entries (``n < 0`` means 1024); ``""`` when ``n = 0`` or no row was fed at all.
  ``top1_ratio(x)``: count of the most frequent value / non-NULL count, 0 when none.
  ``top(x, k)``: the ``k`` largest values with repetition, descending, comma-joined.

Kernels. Keys and values are dictionary-encoded with :func:`~openfeat_core.column.sorted_codes` (so code order is
key order) and each window is rescanned by a numba kernel that scatters rows into per-code slots and emits the
selected ``(code, aggregate)`` items into flat arrays with per-row offsets. A second numba kernel renders the text
of all rows straight into one UTF-8 buffer: key text comes from a table formatted once per distinct key, integers
and ``%f`` are formatted in numba (``%f`` exactly, with a Python fallback for magnitudes >= 2**40, inf and NaN).

Lists. One row's list (``split*``) is an ``array<string>`` value (:mod:`openfeat_core.functions.arrays`), cut by
:func:`split_parts_function` like a window's. A window's list (``window_split*``) is never a value of its own:
OpenMLDB only ever uses it as the argument of another aggregate, so each such nested call is registered as one
aggregate named ``<outer>_<inner>`` whose arguments are the inner call's arguments followed by the outer call's
remaining ones. The SQL front end must rewrite::

    join(window_split(s, d), sep)                       -> join_window_split(s, d, sep)
    join(window_split_by_key(s, d, kvd), sep)           -> join_window_split_by_key(s, d, kvd, sep)
    join(window_split_by_value(s, d, kvd), sep)         -> join_window_split_by_value(s, d, kvd, sep)
    topn_frequency(window_split*(...), n)               -> topn_frequency_window_split*(..., n)
    top1_ratio(window_split*(...))                      -> top1_ratio_window_split*(...)
    count(window_split*(...))                           -> count_window_split*(...)
    distinct_count(window_split*(...))                  -> distinct_count_window_split*(...)

:data:`LIST_AGGREGATE_REWRITES` maps ``(outer, inner)`` call names (``fz_`` aliases included) to the registered
name. The list of a window holds, newest row first, each row's parts in order; a part is dropped when the list's
total length would exceed 4096 bytes (OpenMLDB's ``MutableStringListV``). Bare ``window_split*`` calls are
registered too, but only to reject them with a message saying how to nest them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column, sorted_codes
from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.functions.registry import (
    AggregateImpl,
    EvalContext,
    FunctionTypeError,
    Resolver,
    WindowFrames,
    aggregate_function,
)
from openfeat_core.jit import kernel
from openfeat_core.types import SQLType

# ---------------------------------------------------------------------------------------------------------------------
# Types and constants
# ---------------------------------------------------------------------------------------------------------------------

_INTS = frozenset({SQLType.INT16, SQLType.INT32, SQLType.INT64})
#: Category keys: OpenMLDB rejects float, double and bool keys.
CATE_KEY_TYPES = frozenset(_INTS | {SQLType.DATE, SQLType.TIMESTAMP, SQLType.STRING})
#: Values that sum/avg/min/max aggregate.
NUMERIC_VALUE_TYPES = frozenset(_INTS | {SQLType.FLOAT, SQLType.DOUBLE})
#: Values that are only counted (``count_cate``, ``top_n_*_count_cate_where``, ratios).
ANY_VALUE_TYPES = frozenset(NUMERIC_VALUE_TYPES | {SQLType.BOOL, SQLType.DATE, SQLType.TIMESTAMP, SQLType.STRING})
#: Inputs of ``topn_frequency``, ``top1_ratio`` and ``top``.
FREQ_TYPES = frozenset(NUMERIC_VALUE_TYPES | {SQLType.DATE, SQLType.TIMESTAMP, SQLType.STRING})
_COND_TYPES = frozenset({SQLType.BOOL, SQLType.NULL})
_STR_TYPES = frozenset({SQLType.STRING, SQLType.NULL})

#: OpenMLDB's cap on the text of a ``*_cate`` result and on the total length of a ``window_split`` list.
MAX_OUTPUT_BYTES = 4096
#: OpenMLDB's cap on ``n`` in ``topn_frequency``.
MAX_TOPN_FREQUENCY = 1024

# Aggregation modes and output orders of the group-by kernel (module constants are compile-time constants in numba).
_COUNT, _SUM, _AVG, _MAX, _MIN, _RATIO = 0, 1, 2, 3, 4, 5
_KEY_ASC, _KEY_DESC, _VALUE_DESC = 0, 1, 2
_MODES = {"count": _COUNT, "sum": _SUM, "avg": _AVG, "max": _MAX, "min": _MIN}
_MODE_NAMES = {mode: name for name, mode in _MODES.items()}
# How the render kernel prints the value after "key:": none (plain items), an integer, or %f.
_V_NONE, _V_INT, _V_FLOAT = 0, 1, 2
# %f is formatted in numba below this magnitude (the scaled value then fits in 60 bits); Python does the rest.
_F6_LIMIT = 2.0**40

_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_F64 = np.zeros(0, dtype=np.float64)
_NO_BYTES = np.zeros(0, dtype=np.uint8)


def _type_list(types: frozenset[SQLType]) -> str:
    return ", ".join(sorted(t.openmldb_name for t in types))


def _resolver(name: str, params: list[tuple[str, frozenset[SQLType]]], result: SQLType) -> Resolver:
    """A type checker for ``name(params...)`` returning ``result``."""
    signature = f"{name}({', '.join(p for p, _ in params)})"

    def resolve(arg_types: Any) -> SQLType:
        types = list(arg_types)
        if len(types) != len(params):
            raise FunctionTypeError(f"{signature} takes {len(params)} arguments, got {len(types)}")
        for (param, allowed), got in zip(params, types, strict=True):
            if got not in allowed:
                raise FunctionTypeError(
                    f"{signature}: argument {param} has type {got}, expected one of: {_type_list(allowed)}"
                )
        return result

    return resolve


# ---------------------------------------------------------------------------------------------------------------------
# numba kernels: windows
# ---------------------------------------------------------------------------------------------------------------------


@kernel
def _grow(buf: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    """``buf``, or a copy at least twice as large, able to hold ``need`` items."""
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), dtype=buf.dtype)
    out[: buf.shape[0]] = buf
    return out


@kernel
def _sort_prefix(a: np.ndarray, n: int) -> None:  # pragma: no cover - compiled
    """Sort ``a[:n]`` in place; insertion sort for the few groups of a typical window (no array views)."""
    if n > 32:
        a[:n].sort()
        return
    for i in range(1, n):
        x = a[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


@kernel
def _copy(dst: np.ndarray, pos: int, src: np.ndarray, start: int, stop: int) -> int:  # pragma: no cover - compiled
    """Copy ``src[start:stop]`` to ``dst[pos:]`` byte by byte (no array views); return the new position."""
    for i in range(start, stop):
        dst[pos] = src[i]
        pos += 1
    return pos


@kernel
def _wrap(x: Any, wrap_bits: int) -> Any:  # pragma: no cover - compiled
    """Two's complement wrap of an integer sum to ``wrap_bits`` bits, as a C++ int16/int32 accumulator does."""
    if wrap_bits >= 64:
        return x
    half = 1 << (wrap_bits - 1)
    full = 1 << wrap_bits
    return ((x + half) % full) - half


@kernel
def _desc_perm(metric: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Positions sorting ``metric`` descending, ties by position descending (the positions are in key order)."""
    return np.argsort(metric, kind="mergesort")[::-1]


@kernel
def _cate_kernel(
    codes: np.ndarray,
    vals: np.ndarray,
    ok: np.ndarray,
    cond: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cur: np.ndarray,
    n_keys: int,
    mode: int,
    f32: bool,
    wrap_bits: int,
    order: int,
    topn: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Group every window by key code and emit the selected groups.

    Args:
        codes: key code per candidate row (meaningful where ``ok``).
        vals: value per candidate row as int64 or float64 (unused, may be empty, for count and ratio).
        ok: rows that enter the aggregate (key and value not NULL, and condition TRUE except for ratios).
        cond: condition per row, counted by the ratio mode.
        lo, hi, cur: the frames (see :class:`WindowFrames`).
        n_keys: number of distinct key codes.
        mode: one of ``_COUNT.._RATIO``.
        f32: round sums to float32 after each addition (FLOAT columns).
        wrap_bits: 16/32 to wrap integer sums, 64 for none.
        order: ``_KEY_ASC`` (all groups), ``_KEY_DESC`` or ``_VALUE_DESC`` (top ``topn``; ``topn < 0`` all).
        topn: see ``order``.

    Returns:
        ``(offsets, codes, acc, cnt)``: the groups of output row ``k`` are ``offsets[k]:offsets[k+1]``; ``acc`` holds
        the sum/max/min (wrapped), the double sum for averages or the matched count for ratios; ``cnt`` the rows.
    """
    n_out = lo.shape[0]
    slot_acc = np.zeros(n_keys, dtype=vals.dtype)
    slot_cnt = np.zeros(n_keys, dtype=np.int64)
    touched = np.empty(n_keys, dtype=np.int64)
    offsets = np.zeros(n_out + 1, dtype=np.int64)
    out_codes = np.empty(max(16, 2 * n_out), dtype=np.int64)
    out_acc = np.empty(out_codes.shape[0], dtype=vals.dtype)
    out_cnt = np.empty(out_codes.shape[0], dtype=np.int64)
    m = 0
    for k in range(n_out):
        nt = 0
        # Feed order is OpenMLDB's: the current row first, then the frame newest to oldest.
        for t in range(-1 if cur[k] >= 0 else 0, hi[k] - lo[k]):
            j = cur[k] if t < 0 else hi[k] - 1 - t
            if not ok[j]:
                continue
            c = codes[j]
            first = slot_cnt[c] == 0
            if first:
                touched[nt] = c
                nt += 1
            slot_cnt[c] += 1
            if mode == _RATIO:
                if cond[j]:
                    slot_acc[c] += 1
            elif mode in (_SUM, _AVG):
                if first:
                    slot_acc[c] = vals[j]
                elif f32:
                    slot_acc[c] = np.float32(slot_acc[c] + vals[j])
                else:
                    slot_acc[c] = slot_acc[c] + vals[j]
            elif mode == _MAX:
                if first or slot_acc[c] < vals[j]:
                    slot_acc[c] = vals[j]
            elif mode == _MIN and (first or slot_acc[c] > vals[j]):
                slot_acc[c] = vals[j]
        _sort_prefix(touched, nt)
        take = nt if topn < 0 or order == _KEY_ASC else min(nt, topn)
        if order == _VALUE_DESC:
            sel = touched[:nt]
            if mode == _COUNT:
                perm = _desc_perm(slot_cnt[sel])
            elif mode in (_AVG, _RATIO):
                perm = _desc_perm(slot_acc[sel] / slot_cnt[sel])
            else:
                perm = _desc_perm(_wrap(slot_acc[sel], wrap_bits) if mode == _SUM else slot_acc[sel])
        if m + take > out_codes.shape[0]:
            out_codes = _grow(out_codes, m + take)
            out_acc = _grow(out_acc, m + take)
            out_cnt = _grow(out_cnt, m + take)
        for i in range(take):
            if order == _KEY_ASC:
                c = touched[i]
            elif order == _KEY_DESC:
                c = touched[nt - 1 - i]
            else:
                c = touched[perm[i]]
            out_codes[m] = c
            out_acc[m] = _wrap(slot_acc[c], wrap_bits) if mode == _SUM else slot_acc[c]
            out_cnt[m] = slot_cnt[c]
            m += 1
        offsets[k + 1] = m
        for i in range(nt):
            slot_cnt[touched[i]] = 0
            slot_acc[touched[i]] = 0
    return offsets, out_codes[:m], out_acc[:m], out_cnt[:m]


@kernel
def _freq_kernel(
    elem_codes: np.ndarray,
    elem_len: np.ndarray,
    row_off: np.ndarray,
    cap: int,
    lo: np.ndarray,
    hi: np.ndarray,
    cur: np.ndarray,
    n_codes: int,
    topn: int,
    plain: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Frequencies of the elements of every window.

    Candidate row ``j`` holds elements ``row_off[j]:row_off[j+1]`` (one per non-NULL row of a plain column, the
    split parts for a ``window_split`` list). Elements are taken in feed order; with ``cap >= 0`` an element is
    skipped when the lengths taken so far plus its own would exceed ``cap``.

    Args:
        topn: entries of the ``topn_frequency`` output (0: none).
        plain: the output is padded when the window has any row (a plain column: OpenMLDB's update ran, even for
            NULL); otherwise when it has any element (a list: updates run per element).

    Returns:
        ``(count, distinct, top1_ratio, offsets, codes)``: per window the element count, distinct count and
        top-1 ratio; ``codes[offsets[k]:offsets[k+1]]`` is the ``topn_frequency`` output, ``-1`` for ``NULL`` pads.
    """
    n_out = lo.shape[0]
    slot = np.zeros(n_codes, dtype=np.int64)
    touched = np.empty(n_codes, dtype=np.int64)
    count = np.zeros(n_out, dtype=np.int64)
    distinct = np.zeros(n_out, dtype=np.int64)
    top1 = np.zeros(n_out, dtype=np.float64)
    offsets = np.zeros(n_out + 1, dtype=np.int64)
    out_codes = np.empty(max(16, 2 * n_out), dtype=np.int64)
    m = 0
    for k in range(n_out):
        nt = 0
        total = 0
        taken = 0
        best = 0
        for t in range(-1 if cur[k] >= 0 else 0, hi[k] - lo[k]):
            j = cur[k] if t < 0 else hi[k] - 1 - t
            for e in range(row_off[j], row_off[j + 1]):
                if cap >= 0:
                    if total + elem_len[e] > cap:
                        continue
                    total += elem_len[e]
                c = elem_codes[e]
                if slot[c] == 0:
                    touched[nt] = c
                    nt += 1
                slot[c] += 1
                best = max(best, slot[c])
                taken += 1
        count[k] = taken
        distinct[k] = nt
        top1[k] = best / taken if taken > 0 else 0.0
        updated = (cur[k] >= 0 or hi[k] > lo[k]) if plain else taken > 0
        if topn > 0 and updated:
            _sort_prefix(touched, nt)
            # Frequency descending, ties by key ascending: a stable sort of the negated counts.
            perm = np.argsort(-slot[touched[:nt]], kind="mergesort")
            if m + topn > out_codes.shape[0]:
                out_codes = _grow(out_codes, m + topn)
            for i in range(topn):
                out_codes[m] = touched[perm[i]] if i < nt else -1
                m += 1
        offsets[k + 1] = m
        for i in range(nt):
            slot[touched[i]] = 0
    return count, distinct, top1, offsets, out_codes[:m]


@kernel
def _list_kernel(
    elem_codes: np.ndarray,
    elem_len: np.ndarray,
    row_off: np.ndarray,
    cap: int,
    lo: np.ndarray,
    hi: np.ndarray,
    cur: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The element codes of every window's list, in feed order, under the ``cap`` on their total length."""
    n_out = lo.shape[0]
    offsets = np.zeros(n_out + 1, dtype=np.int64)
    out = np.empty(max(16, 2 * n_out), dtype=np.int64)
    m = 0
    for k in range(n_out):
        total = 0
        for t in range(-1 if cur[k] >= 0 else 0, hi[k] - lo[k]):
            j = cur[k] if t < 0 else hi[k] - 1 - t
            if m + row_off[j + 1] - row_off[j] > out.shape[0]:
                out = _grow(out, m + row_off[j + 1] - row_off[j])
            for e in range(row_off[j], row_off[j + 1]):
                if cap >= 0:
                    if total + elem_len[e] > cap:
                        continue
                    total += elem_len[e]
                out[m] = elem_codes[e]
                m += 1
        offsets[k + 1] = m
    return offsets, out[:m]


@kernel
def _top_kernel(
    codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, k_top: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The ``k_top`` largest non-NULL codes (``codes >= 0``) of every window, with repetition, descending."""
    n_out = lo.shape[0]
    buf = np.empty(codes.shape[0] + 1, dtype=np.int64)
    offsets = np.zeros(n_out + 1, dtype=np.int64)
    out = np.empty(max(16, 2 * n_out), dtype=np.int64)
    m = 0
    for k in range(n_out):
        nb = 0
        for t in range(-1 if cur[k] >= 0 else 0, hi[k] - lo[k]):
            j = cur[k] if t < 0 else hi[k] - 1 - t
            if codes[j] >= 0:
                buf[nb] = codes[j]
                nb += 1
        take = min(nb, k_top) if k_top > 0 else 0
        if take > 0:
            _sort_prefix(buf, nb)
            if m + take > out.shape[0]:
                out = _grow(out, m + take)
            for i in range(take):
                out[m] = buf[nb - 1 - i]
                m += 1
        offsets[k + 1] = m
    return offsets, out[:m]


# ---------------------------------------------------------------------------------------------------------------------
# numba kernels: text
# ---------------------------------------------------------------------------------------------------------------------


@kernel
def _fixed6(x: float) -> tuple[bool, bool, int]:  # pragma: no cover - compiled
    """``printf("%f")`` arithmetic: ``(ok, negative, q)`` with ``q = round_half_even(|x| * 10**6)``, computed exactly.

    ``ok`` is false for inf, NaN and ``|x| >= 2**40`` (the caller formats those in Python). With ``|x| = m / 2**s``
    (``m`` the 53-bit mantissa), ``|x| * 10**6 = m * 15625 / 2**(s-6)``; the 67-bit product is held as
    ``h * 2**32 + l`` so that the quotient and the remainder compared with one half stay within int64.
    """
    if not np.isfinite(x):
        return False, False, 0
    neg = np.signbit(x)
    ax = abs(x)
    if ax >= _F6_LIMIT:
        return False, neg, 0
    if ax == 0.0:
        return True, neg, 0
    mant, ex = math.frexp(ax)
    m = np.int64(mant * 9007199254740992.0)  # exact: mant * 2**53
    t = 53 - ex - 6  # |x| * 10**6 = m * 15625 / 2**t, t >= 7 below the limit
    if t >= 69:  # m * 15625 < 2**68 <= half of 2**t: rounds to 0
        return True, neg, 0
    b = (m & 0xFFFFFFFF) * 15625
    h = (m >> 32) * 15625 + (b >> 32)
    low = b & 0xFFFFFFFF
    if t >= 32:
        u = t - 32
        q = h >> u
        rest = h - (q << u)  # remainder = rest * 2**32 + low
        if u == 0:
            up = low > 2147483648 or (low == 2147483648 and (q & 1) == 1)
        else:
            half = np.int64(1) << (u - 1)  # one half = half * 2**32
            up = rest > half or (rest == half and (low > 0 or (q & 1) == 1))
    else:
        q = (h << (32 - t)) + (low >> t)
        rest = low & ((np.int64(1) << t) - 1)
        half = np.int64(1) << (t - 1)
        up = rest > half or (rest == half and (q & 1) == 1)
    return True, neg, q + 1 if up else q


@kernel
def _put_uint(buf: np.ndarray, pos: int, v: int, min_digits: int) -> int:  # pragma: no cover - compiled
    """Write the decimal digits of ``v >= 0`` (at least ``min_digits``, zero-padded); return the new position."""
    n = 1
    p = 10
    while n < 19 and p <= v:
        n += 1
        p *= 10
    n = max(n, min_digits)
    for i in range(n - 1, -1, -1):
        buf[pos + i] = 48 + v % 10
        v //= 10
    return pos + n


@kernel
def _put_int(buf: np.ndarray, pos: int, v: int) -> int:  # pragma: no cover - compiled
    """Write ``%d`` of an int64; return the new position (``buf`` needs 20 free bytes)."""
    if v < 0:
        buf[pos] = 45  # '-'
        pos += 1
        if v == -9223372036854775807 - 1:
            pos = _put_uint(buf, pos, 922337203685477580, 1)
            buf[pos] = 56  # '8'
            return pos + 1
        v = -v
    return _put_uint(buf, pos, v, 1)


@kernel
def _put_f6(buf: np.ndarray, pos: int, x: float) -> int:  # pragma: no cover - compiled
    """Write ``%f`` of ``x`` (within the fast range of :func:`_fixed6`); return the new position."""
    _, neg, q = _fixed6(x)
    if neg:
        buf[pos] = 45
        pos += 1
    pos = _put_uint(buf, pos, q // 1000000, 1)
    buf[pos] = 46  # '.'
    return _put_uint(buf, pos + 1, q % 1000000, 6)


@kernel
def _render(
    offsets: np.ndarray,
    items: np.ndarray,
    tab_buf: np.ndarray,
    tab_off: np.ndarray,
    val_kind: int,
    val_i: np.ndarray,
    val_f: np.ndarray,
    val_ids: np.ndarray,
    vtab_buf: np.ndarray,
    vtab_off: np.ndarray,
    sep: np.ndarray,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Render every output row's items into one UTF-8 buffer.

    Item ``p`` prints text ``items[p]`` of the table (``tab_buf[tab_off[i]:tab_off[i+1]]``), followed for
    ``val_kind != _V_NONE`` by ``:`` and the value: ``%d`` of ``val_i[p]``, or ``%f`` of ``val_f[p]`` unless
    ``val_ids[p] >= 0`` names a preformatted text of the value table. Items are separated by ``sep``. With
    ``cap >= 0`` a row keeps the longest prefix of items whose lengths, each plus one, add up to at most ``cap``.

    Returns:
        ``(row_offsets, data)``: row ``k`` is ``data[row_offsets[k]:row_offsets[k+1]]``.
    """
    n_out = offsets.shape[0] - 1
    out_off = np.zeros(n_out + 1, dtype=np.int64)
    buf = np.empty(max(64, 8 * offsets[n_out]), dtype=np.uint8)
    num = np.empty(32, dtype=np.uint8)
    pos = 0
    for k in range(n_out):
        used = 0
        for p in range(offsets[k], offsets[k + 1]):
            ks = tab_off[items[p]]
            ke = tab_off[items[p] + 1]
            vs = 0
            ve = 0
            nlen = 0
            if val_kind == _V_INT:
                nlen = _put_int(num, 0, val_i[p])
            elif val_kind == _V_FLOAT:
                if val_ids[p] >= 0:
                    vs = vtab_off[val_ids[p]]
                    ve = vtab_off[val_ids[p] + 1]
                else:
                    nlen = _put_f6(num, 0, val_f[p])
            item_len = ke - ks + (1 + nlen + ve - vs if val_kind != _V_NONE else 0)
            if cap >= 0:
                if used + item_len + 1 > cap:
                    break
                used += item_len + 1
            if pos + item_len + sep.shape[0] > buf.shape[0]:
                buf = _grow(buf, pos + item_len + sep.shape[0])
            if p > offsets[k]:
                pos = _copy(buf, pos, sep, 0, sep.shape[0])
            pos = _copy(buf, pos, tab_buf, ks, ke)
            if val_kind != _V_NONE:
                buf[pos] = 58  # ':'
                pos = _copy(buf, pos + 1, num, 0, nlen)
                pos = _copy(buf, pos, vtab_buf, vs, ve)
        out_off[k + 1] = pos
    return out_off, buf[:pos]


# ---------------------------------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------------------------------

_STR = pa.large_string()


@dataclass(frozen=True)
class _Table:
    """Strings as one UTF-8 buffer: string ``i`` is ``buf[off[i]:off[i+1]]``."""

    buf: np.ndarray
    off: np.ndarray

    def __len__(self) -> int:
        return len(self.off) - 1

    @staticmethod
    def of(strings: pa.Array) -> _Table:
        arr = strings.cast(_STR) if len(strings) else pa.array([], _STR)
        offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
        off = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        # A sliced array's offsets need not start at 0: rebase them onto a copy of the used bytes.
        return _Table(data[off[0] : off[-1]].copy(), off - off[0])

    def with_null(self) -> _Table:
        """The table plus a last entry ``NULL`` (the ``topn_frequency`` pad)."""
        return _Table(
            np.concatenate([self.buf, np.frombuffer(b"NULL", np.uint8)]), np.append(self.off, self.off[-1] + 4)
        )


def _format_timestamps(ms: np.ndarray, timezone: str) -> pa.Array:
    """Epoch ms as local ``YYYY-MM-DD HH:MM:SS``; like OpenMLDB's ``date_format``, seconds truncate toward zero."""
    aware = pa.array(np.asarray(ms, dtype=np.int64), pa.timestamp("ms", tz=timezone))
    local = pc.local_timestamp(aware).cast(pa.int64()).to_numpy()
    secs = np.where(local < 0, -((-local) // 1000), local // 1000)
    iso = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    return pc.replace_substring(pa.array(iso, _STR), "T", " ")


def _format_f_python(values: np.ndarray) -> pa.Array:
    return pa.array(["%f" % v for v in np.asarray(values, dtype=np.float64).tolist()], _STR)  # noqa: UP031 (C printf)


def _format_values(type_: SQLType, values: np.ndarray, ctx: EvalContext) -> _Table:
    """Distinct values of one SQL type printed as OpenMLDB's ``format_string`` does."""
    if type_.is_integer:
        text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), _STR)
    elif type_.is_float:
        text = _format_f_python(values)
    elif type_ is SQLType.STRING:
        text = pa.array(np.asarray(values, dtype=object), _STR)
    elif type_ is SQLType.DATE:
        text = pa.array(np.datetime_as_string(np.asarray(values).astype("datetime64[D]"), unit="D"), _STR)
    elif type_ is SQLType.TIMESTAMP:
        text = _format_timestamps(values, ctx.timezone)
    elif type_ is SQLType.BOOL:
        text = pa.array(np.where(np.asarray(values, dtype=bool), "true", "false"), _STR)
    else:
        raise FunctionTypeError(f"cannot format values of type {type_}")
    return _Table.of(text)


_Rendered = tuple[np.ndarray, np.ndarray]  # (row offsets from 0, UTF-8 bytes) of rendered rows
#: Output rows per kernel call: keeps the flat item arrays and text buffers small enough to be reused.
_CHUNK_ROWS = 1 << 16


def _chunked_text(n_out: int, render_chunk: Callable[[slice], _Rendered]) -> Column:
    """A STRING column rendered chunk by chunk of output rows."""
    offsets = [np.zeros(1, dtype=np.int64)]
    data: list[np.ndarray] = []
    base = 0
    for start in range(0, n_out, _CHUNK_ROWS):
        off, text = render_chunk(slice(start, min(start + _CHUNK_ROWS, n_out)))
        offsets.append(off[1:] + base)
        data.append(text)
        base += len(text)
    out_off = np.concatenate(offsets)
    arr = pa.LargeStringArray.from_buffers(
        n_out, pa.py_buffer(out_off), pa.py_buffer(np.concatenate(data) if data else np.zeros(0, np.uint8))
    )
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    return Column(SQLType.STRING, values, np.ones(n_out, dtype=np.bool_))


def _render_items(offsets: np.ndarray, items: np.ndarray, table: _Table, sep: str) -> _Rendered:
    """Rows of plain items (no values) joined by ``sep``."""
    sep_bytes = np.frombuffer(sep.encode(), dtype=np.uint8)
    no_table = np.zeros(1, np.int64)
    return _render(
        offsets, items, table.buf, table.off, _V_NONE, _EMPTY_I64, _EMPTY_F64, _EMPTY_I64, _NO_BYTES, no_table,
        sep_bytes, -1,
    )  # fmt: skip


def _render_pairs(
    offsets: np.ndarray, keys: np.ndarray, table: _Table, ints: np.ndarray | None, floats: np.ndarray | None
) -> _Rendered:
    """Rows of ``key:value`` pairs joined by commas, capped at :data:`MAX_OUTPUT_BYTES`."""
    comma = np.frombuffer(b",", dtype=np.uint8)
    if ints is not None:
        kind, val_i, val_f, ids, vtab = _V_INT, ints.astype(np.int64), _EMPTY_F64, _EMPTY_I64, _Table.of(pa.array([]))
    else:
        assert floats is not None
        val_f = np.ascontiguousarray(floats, dtype=np.float64)
        slow = ~(np.abs(val_f) < _F6_LIMIT)  # inf, NaN and huge values: Python's %f, which matches C's
        ids = np.full(len(val_f), -1, dtype=np.int64)
        ids[slow] = np.arange(int(slow.sum()))
        kind, val_i, vtab = _V_FLOAT, _EMPTY_I64, _Table.of(_format_f_python(val_f[slow]))
    return _render(
        offsets, keys, table.buf, table.off, kind, val_i, val_f, ids, vtab.buf, vtab.off, comma, MAX_OUTPUT_BYTES
    )


def _empty_string_column() -> Column:
    return Column(SQLType.STRING, np.empty(0, dtype=object), np.zeros(0, dtype=np.bool_))


# ---------------------------------------------------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------------------------------------------------


def _frames(frames: WindowFrames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.ascontiguousarray(frames.lo, dtype=np.int64),
        np.ascontiguousarray(frames.hi, dtype=np.int64),
        np.ascontiguousarray(frames.cur, dtype=np.int64),
    )


def _truthy(col: Column) -> np.ndarray:
    """TRUE rows of a condition; NULL counts as false."""
    if col.type is SQLType.NULL:
        return np.zeros(len(col), dtype=np.bool_)
    return np.asarray(col.values, dtype=np.bool_) & col.valid


def _const_int(col: Column) -> int:
    """The value of a constant integer argument (NULL is passed as 0, the zero value)."""
    return int(col.values[0]) if len(col) and col.valid[0] else 0


def _const_str(col: Column) -> str:
    """The value of a constant string argument (NULL is passed as ``""``, the zero value)."""
    return str(col.values[0]) if len(col) and col.valid[0] else ""


# ---------------------------------------------------------------------------------------------------------------------
# *_cate family
# ---------------------------------------------------------------------------------------------------------------------


def _kernel_values(value: Column, mode: int) -> tuple[np.ndarray, bool, int]:
    """The value array the kernel aggregates, whether sums round to float32, and the integer wrap width."""
    if mode in (_COUNT, _RATIO):
        return _EMPTY_F64, False, 64
    if mode == _AVG or value.type.is_float:
        # Averages sum in double like OpenMLDB's (count, double) state; float32 -> float64 is exact.
        return value.values.astype(np.float64), mode == _SUM and value.type is SQLType.FLOAT, 64
    wrap = {SQLType.INT16: 16, SQLType.INT32: 32}.get(value.type, 64) if mode == _SUM else 64
    return value.values.astype(np.int64), False, wrap


def _run_cate(
    value: Column,
    cond: Column | None,
    key: Column,
    frames: WindowFrames,
    ctx: EvalContext,
    mode: int,
    order: int,
    topn: int,
) -> Column:
    """Evaluate one ``*_cate`` aggregate; see the module docstring for the semantics."""
    if len(frames) == 0:
        return _empty_string_column()
    codes, uniques = sorted_codes(key)
    matched = _truthy(cond) if cond is not None else np.ones(len(key), dtype=np.bool_)
    ok = key.valid & value.valid
    if mode != _RATIO:
        ok = ok & matched
    vals, f32, wrap = _kernel_values(value, mode)
    lo, hi, cur = _frames(frames)
    table = _format_values(key.type, uniques, ctx)

    def render(rows: slice) -> _Rendered:
        offsets, keys, acc, cnt = _cate_kernel(
            codes, vals, ok, matched, lo[rows], hi[rows], cur[rows], len(uniques), mode, f32, wrap, order, topn
        )
        if mode == _COUNT:
            return _render_pairs(offsets, keys, table, cnt, None)
        if mode in (_AVG, _RATIO):
            return _render_pairs(offsets, keys, table, None, acc / cnt)
        if value.type.is_float:
            return _render_pairs(offsets, keys, table, None, acc)
        return _render_pairs(offsets, keys, table, acc, None)

    return _chunked_text(len(frames), render)


def _cate_impl(
    mode: int, order: int, has_cond: bool, has_n: bool, args: list[Column], frames: WindowFrames, ctx: EvalContext
) -> Column:
    value = args[0]
    cond = args[1] if has_cond else None
    key = args[2] if has_cond else args[1]
    topn = _const_int(args[3]) if has_n else -1
    return _run_cate(value, cond, key, frames, ctx, mode, order, topn)


@dataclass(frozen=True)
class _CateSpec:
    name: str
    mode: int
    order: int
    has_cond: bool
    has_n: bool
    values: frozenset[SQLType]


def _cate_specs() -> list[_CateSpec]:
    specs: list[_CateSpec] = []
    for agg, mode in _MODES.items():
        # count only looks at NULL-ness, so it takes any value type. OpenMLDB accepts any type for
        # top_n_*_count_cate_where and documents numeric ones for count_cate; OpenFeat does not reject the others.
        values = ANY_VALUE_TYPES if mode == _COUNT else NUMERIC_VALUE_TYPES
        specs.append(_CateSpec(f"{agg}_cate", mode, _KEY_ASC, False, False, values))
        specs.append(_CateSpec(f"{agg}_cate_where", mode, _KEY_ASC, True, False, values))
        specs.append(_CateSpec(f"top_n_key_{agg}_cate_where", mode, _KEY_DESC, True, True, values))
        specs.append(_CateSpec(f"top_n_value_{agg}_cate_where", mode, _VALUE_DESC, True, True, values))
    specs.append(_CateSpec("top_n_key_ratio_cate", _RATIO, _KEY_DESC, True, True, ANY_VALUE_TYPES))
    specs.append(_CateSpec("top_n_value_ratio_cate", _RATIO, _VALUE_DESC, True, True, ANY_VALUE_TYPES))
    return specs


def _register_cate(spec: _CateSpec) -> None:
    params = [("value", spec.values)]
    if spec.has_cond:
        params.append(("cond", _COND_TYPES))
    params.append(("category", CATE_KEY_TYPES))
    if spec.has_n:
        params.append(("n", _INTS))
    impl: AggregateImpl = partial(_cate_impl, spec.mode, spec.order, spec.has_cond, spec.has_n)
    what = "ratio of rows matching cond" if spec.mode == _RATIO else _MODE_NAMES[spec.mode]
    orders = {_KEY_ASC: "keys ascending", _KEY_DESC: "top n keys descending", _VALUE_DESC: "top n by value"}
    aggregate_function(
        spec.name,
        _resolver(spec.name, params, SQLType.STRING),
        constant_args=(len(params) - 1,) if spec.has_n else (),
        doc=f"{what} per category as 'k:v,...' ({orders[spec.order]})",
    )(impl)


for _spec in _cate_specs():
    _register_cate(_spec)


# ---------------------------------------------------------------------------------------------------------------------
# topn_frequency, top1_ratio, top over a column
# ---------------------------------------------------------------------------------------------------------------------


def _topn_frequency_entries(n: int) -> int:
    """Entries printed by ``topn_frequency``: OpenMLDB stores ``n`` in a size_t and caps it at 1024."""
    if n == 0:
        return 0
    return MAX_TOPN_FREQUENCY if n < 0 else min(n, MAX_TOPN_FREQUENCY)


def _column_elements(col: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plain column as an element stream for :func:`_freq_kernel`: one element per non-NULL row."""
    codes, uniques = sorted_codes(col)
    row_off = np.concatenate(([0], np.cumsum(col.valid))).astype(np.int64)
    return np.ascontiguousarray(codes[col.valid]), row_off, uniques


def _frequency_text(offsets: np.ndarray, out_codes: np.ndarray, table: _Table) -> _Rendered:
    """``topn_frequency`` text: keys, or ``NULL`` for the pads (code -1), joined by commas."""
    return _render_items(offsets, np.where(out_codes < 0, len(table) - 1, out_codes), table, ",")


@aggregate_function(
    "topn_frequency",
    _resolver("topn_frequency", [("value", FREQ_TYPES), ("n", _INTS)], SQLType.STRING),
    "fz_topn_frequency",
    constant_args=(1,),
)
def topn_frequency(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """The n most frequent values (frequency desc, value asc), padded with NULL to n entries."""
    if len(frames) == 0:
        return _empty_string_column()
    value = args[0]
    elem_codes, row_off, uniques = _column_elements(value)
    lo, hi, cur = _frames(frames)
    topn = _topn_frequency_entries(_const_int(args[1]))
    table = _format_values(value.type, uniques, ctx).with_null()

    def render(rows: slice) -> _Rendered:
        _, _, _, offsets, out_codes = _freq_kernel(
            elem_codes, _EMPTY_I64, row_off, -1, lo[rows], hi[rows], cur[rows], len(uniques), topn, True
        )
        return _frequency_text(offsets, out_codes, table)

    return _chunked_text(len(frames), render)


@aggregate_function("top1_ratio", _resolver("top1_ratio", [("value", FREQ_TYPES)], SQLType.DOUBLE), "fz_top1_ratio")
def top1_ratio(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Count of the most frequent value divided by the non-NULL count; 0 for none."""
    elem_codes, row_off, uniques = _column_elements(args[0])
    lo, hi, cur = _frames(frames)
    _, _, ratio, _, _ = _freq_kernel(elem_codes, _EMPTY_I64, row_off, -1, lo, hi, cur, len(uniques), 0, True)
    return Column(SQLType.DOUBLE, ratio, np.ones(len(frames), dtype=np.bool_))


@aggregate_function("top", _resolver("top", [("value", FREQ_TYPES), ("k", _INTS)], SQLType.STRING), constant_args=(1,))
def top(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """The k largest non-NULL values, with repetition, descending and comma-joined."""
    if len(frames) == 0:
        return _empty_string_column()
    value = args[0]
    codes, uniques = sorted_codes(value)
    lo, hi, cur = _frames(frames)
    table = _format_values(value.type, uniques, ctx)
    k_top = _const_int(args[1])

    def render(rows: slice) -> _Rendered:
        offsets, out_codes = _top_kernel(codes, lo[rows], hi[rows], cur[rows], k_top)
        return _render_items(offsets, out_codes, table, ",")

    return _chunked_text(len(frames), render)


# ---------------------------------------------------------------------------------------------------------------------
# window_split* lists and the aggregates that consume them
# ---------------------------------------------------------------------------------------------------------------------


def _splitter(delim: str, literal: bool) -> Callable[[str], list[str]]:
    """Split on ``delim``: literally, or as a regular expression (OpenMLDB's boost ``split_regex`` fallback)."""
    if literal:
        return lambda s: s.split(delim)
    try:
        rx = re.compile(delim)
    except re.error as exc:
        raise OpenFeatSQLError(f"window_split: delimiter {delim!r} is not a valid regular expression: {exc}") from None

    def split(s: str) -> list[str]:
        # The text between matches, like boost::split_regex; empty matches do not split.
        out: list[str] = []
        pos = 0
        for match in rx.finditer(s):
            if match.end() > match.start():
                out.append(s[pos : match.start()])
                pos = match.end()
        out.append(s[pos:])
        return out

    return split


def split_parts_function(kind: str, delims: list[str]) -> Callable[[str], list[str]] | None:
    """The parts of one string for ``window_split`` / ``_by_key`` / ``_by_value``; ``None`` when a delimiter is
    empty (OpenMLDB then adds nothing)."""
    if any(d == "" for d in delims):
        return None
    # OpenMLDB splits literally only when every delimiter is a single byte; otherwise all are regexes.
    literal = all(len(d.encode()) == 1 for d in delims)
    if kind == "window_split":
        return _splitter(delims[0], literal)
    outer = _splitter(delims[0], literal)
    inner = _splitter(delims[1], literal)
    pos = 0 if kind == "window_split_by_key" else 1

    def parts(s: str) -> list[str]:
        # A segment is a pair when it holds the kv delimiter: the key is the text before the first one, the value
        # the text between the first and the second (OpenMLDB's byte scanner and its regex path agree on this).
        out = []
        for segment in outer(s):
            kv = inner(segment)
            if len(kv) >= 2:
                out.append(kv[pos])
        return out

    return parts


@dataclass(frozen=True)
class _Elements:
    """The parts of every candidate row: row ``j`` holds elements ``row_off[j]:row_off[j+1]``."""

    row_off: np.ndarray
    codes: np.ndarray  # order-preserving code of each element's text
    lengths: np.ndarray  # UTF-8 byte length of each element
    table: _Table  # text of each code


def _split_elements(col: Column, kind: str, delims: list[str]) -> _Elements:
    """Split each distinct string once, then expand the parts to the candidate rows with index arithmetic."""
    n = len(col)
    parts_of = split_parts_function(kind, delims)
    if parts_of is None or col.type is not SQLType.STRING:
        codes, uniques = np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object)
    else:
        codes, uniques = sorted_codes(col)
    flat: list[str] = []
    counts = np.zeros(len(uniques), dtype=np.int64)
    if parts_of is not None:
        for i, s in enumerate(uniques.tolist()):
            parts = parts_of(s)
            counts[i] = len(parts)
            flat.extend(parts)
    u_off = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    safe = np.maximum(codes, 0)
    per_row = np.where(codes >= 0, counts[safe] if len(counts) else 0, 0).astype(np.int64)
    row_off = np.concatenate(([0], np.cumsum(per_row))).astype(np.int64)
    # Element e of row j is part (e - row_off[j]) of the row's distinct string, i.e. flat[u_off[code] + e - row_off[j]].
    start = np.where(codes >= 0, u_off[safe] if len(counts) else 0, 0)
    idx = np.repeat(start - row_off[:-1], per_row) + np.arange(row_off[-1])
    flat_arr = np.empty(len(flat), dtype=object)
    flat_arr[:] = flat
    part_codes, part_uniques = sorted_codes(Column(SQLType.STRING, flat_arr, np.ones(len(flat), dtype=np.bool_)))
    part_len = pc.binary_length(pa.array(flat_arr, _STR)).to_numpy().astype(np.int64)
    table = _Table.of(pa.array(np.asarray(part_uniques, dtype=object), _STR))
    return _Elements(row_off, np.ascontiguousarray(part_codes[idx]), np.ascontiguousarray(part_len[idx]), table)


_SPLITTERS: dict[str, int] = {"window_split": 1, "window_split_by_key": 2, "window_split_by_value": 2}
_CONSUMERS: dict[str, tuple[list[tuple[str, frozenset[SQLType]]], SQLType]] = {
    "join": ([("delimiter", _STR_TYPES)], SQLType.STRING),
    "topn_frequency": ([("n", _INTS)], SQLType.STRING),
    "top1_ratio": ([], SQLType.DOUBLE),
    "count": ([], SQLType.INT64),
    "distinct_count": ([], SQLType.INT64),
}
_ALIASES: dict[str, tuple[str, ...]] = {
    "window_split": ("fz_window_split",),
    "window_split_by_key": ("fz_window_split_by_key",),
    "window_split_by_value": ("fz_window_split_by_value",),
    "join": ("fz_join",),
    "topn_frequency": ("fz_topn_frequency",),
    "top1_ratio": ("fz_top1_ratio",),
    "count": (),
    "distinct_count": (),
}

#: ``(outer call, inner call)`` → registered aggregate, for the SQL front end's rewrite of nested list calls:
#: ``outer(inner(a, b...), c...)`` becomes ``registered(a, b..., c...)``.
LIST_AGGREGATE_REWRITES: dict[tuple[str, str], str] = {
    (outer, inner): f"{consumer}_{splitter}"
    for consumer in _CONSUMERS
    for splitter in _SPLITTERS
    for outer in (consumer, *_ALIASES[consumer])
    for inner in (splitter, *_ALIASES[splitter])
}


def _list_impl(consumer: str, splitter: str, args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    n_delims = _SPLITTERS[splitter]
    delims = [_const_str(c) for c in args[1 : 1 + n_delims]]
    extra = args[1 + n_delims :]
    n_out = len(frames)
    if n_out == 0:
        _, result = _CONSUMERS[consumer]
        return _empty_string_column() if result is SQLType.STRING else Column.nulls(result, 0)
    elems = _split_elements(args[0], splitter, delims)
    lo, hi, cur = _frames(frames)
    if consumer in ("join", "topn_frequency"):
        sep = _const_str(extra[0]) if consumer == "join" else ","
        topn = _topn_frequency_entries(_const_int(extra[0])) if consumer == "topn_frequency" else 0
        table = elems.table.with_null()

        def render(rows: slice) -> _Rendered:
            if consumer == "join":
                offsets, codes = _list_kernel(
                    elems.codes, elems.lengths, elems.row_off, MAX_OUTPUT_BYTES, lo[rows], hi[rows], cur[rows]
                )
                return _render_items(offsets, codes, table, sep)
            *_, offsets, codes = _freq_kernel(
                elems.codes, elems.lengths, elems.row_off, MAX_OUTPUT_BYTES, lo[rows], hi[rows], cur[rows],
                len(elems.table), topn, False,
            )  # fmt: skip
            return _frequency_text(offsets, codes, table)

        return _chunked_text(n_out, render)
    count, distinct, ratio, _, _ = _freq_kernel(
        elems.codes, elems.lengths, elems.row_off, MAX_OUTPUT_BYTES, lo, hi, cur, len(elems.table), 0, False
    )
    valid = np.ones(n_out, dtype=np.bool_)
    if consumer == "count":
        return Column(SQLType.INT64, count, valid)
    if consumer == "distinct_count":
        return Column(SQLType.INT64, distinct, valid)
    return Column(SQLType.DOUBLE, ratio, valid)


def _register_list(consumer: str, splitter: str) -> None:
    name = f"{consumer}_{splitter}"
    params = [("str", _STR_TYPES), ("delimiter", _STR_TYPES)]
    if _SPLITTERS[splitter] == 2:
        params.append(("kv_delimiter", _STR_TYPES))
    extra, result = _CONSUMERS[consumer]
    params += extra
    aggregate_function(
        name,
        _resolver(name, params, result),
        constant_args=tuple(range(1, len(params))),
        doc=f"{consumer}({splitter}(...)): {consumer} over the split parts of the window's strings",
    )(partial(_list_impl, consumer, splitter))


for _consumer in _CONSUMERS:
    for _splitter_name in _SPLITTERS:
        _register_list(_consumer, _splitter_name)


def _bare_list_message(name: str) -> str:
    example = f"{name}(s, ',')" if name == "window_split" else f"{name}(s, ',', ':')"
    return (
        f"{name}(...) returns a list, which OpenFeat supports only as the first argument of join, topn_frequency, "
        f"top1_ratio, count or distinct_count, e.g. join({example}, ' ')"
    )


def _reject_bare_list(name: str) -> Resolver:
    def resolve(arg_types: Any) -> SQLType:
        raise FunctionTypeError(_bare_list_message(name))

    return resolve


def _bare_list_impl(name: str, args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    raise FunctionTypeError(_bare_list_message(name))


for _splitter_name in _SPLITTERS:
    aggregate_function(
        _splitter_name,
        _reject_bare_list(_splitter_name),
        *_ALIASES[_splitter_name],
        doc="list helper: only valid as the first argument of join/topn_frequency/top1_ratio/count/distinct_count",
    )(partial(_bare_list_impl, _splitter_name))
