"""Statistical window aggregates: ``median``, the standard deviation and variance family, ``entropy``,
``ew_avg`` and ``drawdown``.

Each follows the arithmetic of OpenMLDB's implementation so results match to the last bit where
that is cheap (``hybridse/src/udf/default_udf_library.cc``, ``default_defs/aggregate_def.cc``):

* ``median`` slides a sorted buffer of the window (small windows) or an order-statistic tree (a
  Fenwick tree over dictionary codes, large windows), and averages the two middle values the way
  C++ does: ``(a + b) / 2.0`` with ``a + b`` computed in the input type (int32 wraps, FLOAT adds in
  float32). Both paths and the request-mode sort pick the same exact order statistics.
* ``stddev``/``stddev_pop``/``var_samp``/``var_pop`` rescan each window with OpenMLDB's two-pass
  formula in its newest-first order: ``avg = Σx / n`` then ``Σ (x - avg)²``. The sample variants are
  NULL for fewer than two values, the population ones for none. Cost: O(window) per output row.
* ``entropy`` adds ``-p·log2(p)`` over the distinct values in ascending value order, as the C++
  ``std::map`` does; O(window · log window) per output row.
* ``ew_avg(x, alpha)`` = Σ wᵢ·xᵢ / Σ wᵢ with wᵢ = (1-alpha)^i, i = 0 at the newest non-NULL value
  (pandas ``ewm(adjust=True, ignore_na=True)``); a NULL alpha acts as 0 (plain average).
* ``drawdown(x)`` = max over older i and newer j of (xᵢ - xⱼ) / xᵢ, ignoring NULL and negative
  values; 0 for a single value, NULL when nothing remains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from openfeat_core.column import Column, sorted_codes
from openfeat_core.functions._kernels import (
    NUMERIC_TYPES,
    check_arity,
    check_type,
    constant_arg,
    frame_arrays,
    gather_newest_first,
    lower_bound,
    max_window_size,
)
from openfeat_core.functions.registry import EvalContext, Resolver, WindowFrames, aggregate_function
from openfeat_core.jit import kernel
from openfeat_core.types import SQLType

_ENTROPY_TYPES = (SQLType.BOOL, *NUMERIC_TYPES, SQLType.STRING, SQLType.TIMESTAMP, SQLType.DATE)


# --------------------------------------------------------------------------------------------- resolvers
def _resolve_numeric_to_double(name: str) -> Resolver:
    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        check_arity(name, arg_types, 1)
        check_type(name, arg_types, 0, NUMERIC_TYPES)
        return SQLType.DOUBLE

    return resolve


def _resolve_entropy(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("entropy", arg_types, 1)
    check_type("entropy", arg_types, 0, _ENTROPY_TYPES)
    return SQLType.DOUBLE


def _resolve_ew_avg(arg_types: Sequence[SQLType]) -> SQLType:
    check_arity("ew_avg", arg_types, 2)
    check_type("ew_avg", arg_types, 0, NUMERIC_TYPES)
    check_type("ew_avg", arg_types, 1, (*NUMERIC_TYPES, SQLType.NULL))
    return SQLType.DOUBLE


# --------------------------------------------------------------------------------------------- kernels
@kernel
def _fenwick_add(tree: np.ndarray, code: int, delta: int) -> None:
    i = code + 1
    size = tree.shape[0] - 1
    while i <= size:
        tree[i] += delta
        i += i & (-i)


@kernel
def _fenwick_kth(tree: np.ndarray, k: int, top: int) -> int:
    """Code of the k-th smallest element (k is 1-based); ``top`` is the largest power of two <= size."""
    size = tree.shape[0] - 1
    pos = 0
    step = top
    while step > 0:
        nxt = pos + step
        if nxt <= size and tree[nxt] < k:
            pos = nxt
            k -= tree[nxt]
        step >>= 1
    return pos


@kernel
def _median_keys(
    keys: np.ndarray, valid: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, monotone: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys of the lower and upper middle values and the non-NULL count, per window.

    Monotone frames slide a sorted buffer of the range's keys (insertion and deletion shift at
    most one window of int64s, cheap for the small windows this path is chosen for); the current
    row is merged in at query time. Other frames sort each window.
    """
    m = lo.shape[0]
    lower = np.zeros(m, np.int64)
    upper = np.zeros(m, np.int64)
    cnt = np.zeros(m, np.int64)
    size = 1
    for k in range(m):
        size = max(size, hi[k] - lo[k] + 1)
    buf = np.empty(size, np.int64)
    if not monotone:
        idx = np.empty(size, np.int64)
        for k in range(m):
            w = gather_newest_first(lo[k], hi[k], cur[k], idx)
            n = 0
            for i in range(w):
                if valid[idx[i]]:
                    buf[n] = keys[idx[i]]
                    n += 1
            if n > 0:
                srt = np.sort(buf[:n])
                lower[k] = srt[(n + 1) // 2 - 1]
                upper[k] = srt[n // 2]
                cnt[k] = n
        return lower, upper, cnt
    n = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if lk >= big_h or lk < big_l or hk < big_h:
            n = 0
            big_l = lk
            big_h = lk
        while True:
            # Pair a leaving row with an entering one: moving the freed slot to the new key's rank
            # shifts only the keys in between, not half the buffer twice.
            while big_h < hk and not valid[big_h]:
                big_h += 1
            while big_l < lk and not valid[big_l]:
                big_l += 1
            if big_h >= hk or big_l >= lk:
                break
            key_out = keys[big_l]
            key_in = keys[big_h]
            p = lower_bound(buf, 0, n, key_out)
            if key_in >= key_out:
                while p + 1 < n and buf[p + 1] < key_in:
                    buf[p] = buf[p + 1]
                    p += 1
            else:
                while p > 0 and buf[p - 1] > key_in:
                    buf[p] = buf[p - 1]
                    p -= 1
            buf[p] = key_in
            big_h += 1
            big_l += 1
        while big_h < hk:
            if valid[big_h]:
                key = keys[big_h]
                p = lower_bound(buf, 0, n, key)
                for i in range(n, p, -1):
                    buf[i] = buf[i - 1]
                buf[p] = key
                n += 1
            big_h += 1
        while big_l < lk:
            if valid[big_l]:
                p = lower_bound(buf, 0, n, keys[big_l])
                for i in range(p, n - 1):
                    buf[i] = buf[i + 1]
                n -= 1
            big_l += 1
        c = cur[k]
        extra = c >= 0 and valid[c]
        total = n + 1 if extra else n
        if total == 0:
            continue
        i_lo = (total + 1) // 2 - 1
        i_hi = total // 2
        if extra:
            # Rank of the current row among the range: positions at or after it shift by one.
            key = keys[c]
            p = lower_bound(buf, 0, n, key)
            lower[k] = buf[i_lo] if i_lo < p else (key if i_lo == p else buf[i_lo - 1])
            upper[k] = buf[i_hi] if i_hi < p else (key if i_hi == p else buf[i_hi - 1])
        else:
            lower[k] = buf[i_lo]
            upper[k] = buf[i_hi]
        cnt[k] = total
    return lower, upper, cnt


@kernel
def _median_codes(
    codes: np.ndarray, ncodes: int, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`_median_keys` for monotone frames with large windows: codes (< 0 for NULL) slide
    through an order-statistic tree, O(log distinct) per row whatever the window size."""
    m = lo.shape[0]
    lower = np.zeros(m, np.int64)
    upper = np.zeros(m, np.int64)
    cnt = np.zeros(m, np.int64)
    tree = np.zeros(max(ncodes, 1) + 1, np.int64)
    top = 1
    while top * 2 <= tree.shape[0] - 1:
        top *= 2
    n = 0
    big_l = 0
    big_h = 0
    for k in range(m):
        lk = lo[k]
        hk = max(hi[k], lk)
        if lk >= big_h or lk < big_l or hk < big_h:
            for j in range(big_l, big_h):
                if codes[j] >= 0:
                    _fenwick_add(tree, codes[j], -1)
            n = 0
            big_l = lk
            big_h = lk
        while big_h < hk:
            if codes[big_h] >= 0:
                _fenwick_add(tree, codes[big_h], 1)
                n += 1
            big_h += 1
        while big_l < lk:
            if codes[big_l] >= 0:
                _fenwick_add(tree, codes[big_l], -1)
                n -= 1
            big_l += 1
        c = cur[k]
        extra = c >= 0 and codes[c] >= 0
        if extra:
            _fenwick_add(tree, codes[c], 1)
        total = n + 1 if extra else n
        if total > 0:
            # (total+1)//2 and total//2+1 coincide for an odd count: both are the middle element.
            lower[k] = _fenwick_kth(tree, (total + 1) // 2, top)
            upper[k] = _fenwick_kth(tree, total // 2 + 1, top)
            cnt[k] = total
        if extra:
            _fenwick_add(tree, codes[c], -1)
    return lower, upper, cnt


@kernel
def _spread_kernel(
    vals: np.ndarray, valid: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, sample: bool, root: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Variance (``root``: standard deviation), sample or population, per window.

    Both passes walk the window newest first like OpenMLDB: ``avg = Σx / n``, ``t = Σ (x - avg)²``,
    then ``t / (n - 1)`` or ``t / n``. NULL (``has`` false, value 0) below two values (sample) or
    one value (population).
    """
    m = lo.shape[0]
    out = np.zeros(m, np.float64)
    has = np.zeros(m, np.bool_)
    ddof = 1 if sample else 0
    for k in range(m):
        c = cur[k]
        with_cur = c >= 0 and valid[c]
        s = 0.0
        n = 0
        if with_cur:
            s += vals[c]
            n += 1
        for j in range(hi[k] - 1, lo[k] - 1, -1):
            if valid[j]:
                s += vals[j]
                n += 1
        if n <= ddof:
            continue
        avg = s / n
        t = 0.0
        if with_cur:
            d = vals[c] - avg
            t += d * d
        for j in range(hi[k] - 1, lo[k] - 1, -1):
            if valid[j]:
                d = vals[j] - avg
                t += d * d
        var = t / (n - ddof)
        out[k] = math.sqrt(var) if root else var
        has[k] = True
    return out, has


@kernel
def _entropy_kernel(
    codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shannon entropy (base 2) of the non-NULL codes per window, terms added in ascending code order."""
    m = lo.shape[0]
    out = np.zeros(m, np.float64)
    has = np.zeros(m, np.bool_)
    size = 1
    for k in range(m):
        size = max(size, hi[k] - lo[k] + 1)
    idx = np.empty(size, np.int64)
    buf = np.empty(size, np.int64)
    for k in range(m):
        w = gather_newest_first(lo[k], hi[k], cur[k], idx)
        n = 0
        for i in range(w):
            code = codes[idx[i]]
            if code >= 0:
                buf[n] = code
                n += 1
        if n == 0:
            continue
        srt = np.sort(buf[:n])
        total = float(n)
        agg = 0.0
        run = 1
        for i in range(1, n + 1):
            if i < n and srt[i] == srt[i - 1]:
                run += 1
            else:
                p = run / total
                agg -= p * np.log2(p)
                run = 1
        out[k] = agg
        has[k] = True
    return out, has


@kernel
def _ew_avg_kernel(
    vals: np.ndarray, valid: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    m = lo.shape[0]
    out = np.zeros(m, np.float64)
    has = np.zeros(m, np.bool_)
    decay = 1.0 - alpha
    for k in range(m):
        num = 0.0
        den = 0.0
        weight = 1.0
        n = 0
        c = cur[k]
        if c >= 0 and valid[c]:
            num += weight * vals[c]
            den += weight
            weight *= decay
            n += 1
        for j in range(hi[k] - 1, lo[k] - 1, -1):
            if valid[j]:
                num += weight * vals[j]
                den += weight
                weight *= decay
                n += 1
        if n > 0:
            out[k] = num / den
            has[k] = True
    return out, has


@kernel
def _drawdown_kernel(
    vals: np.ndarray, valid: np.ndarray, lo: np.ndarray, hi: np.ndarray, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    m = lo.shape[0]
    out = np.zeros(m, np.float64)
    has = np.zeros(m, np.bool_)
    size = 1
    for k in range(m):
        size = max(size, hi[k] - lo[k] + 1)
    idx = np.empty(size, np.int64)
    for k in range(m):
        # Walking newest first, the deepest fall from an older value x is to the minimum of the newer ones.
        w = gather_newest_first(lo[k], hi[k], cur[k], idx)
        newer_min = np.inf
        dd = 0.0
        n = 0
        for i in range(w):
            j = idx[i]
            if valid[j] and vals[j] >= 0:
                x = vals[j]
                n += 1
                if x > 0 and newer_min < x:
                    fall = (x - newer_min) / x
                    if fall > dd:
                        dd = fall
                if x < newer_min:
                    newer_min = x
        if n > 0:
            out[k] = dd
            has[k] = True
    return out, has


# --------------------------------------------------------------------------------------------- functions
def _doubles(x: Column) -> np.ndarray:
    return x.values.astype(np.float64, copy=False)


#: Above this window size (rows) a sliding median uses the order-statistic tree instead of a sorted buffer.
_SORTED_BUFFER_MAX_WINDOW = 512
_SIGN_FLIP = np.int64(0x7FFFFFFFFFFFFFFF)

# How C++ evaluates `(a + b) / 2.0` for each input type: the addition happens in the promoted input type.
_PAIR_INT64, _PAIR_INT32, _PAIR_WIDE, _PAIR_FLOAT32, _PAIR_DOUBLE = range(5)
_PAIR_KIND = {
    SQLType.INT16: _PAIR_WIDE,  # promoted to int: cannot overflow
    SQLType.INT32: _PAIR_INT32,
    SQLType.INT64: _PAIR_INT64,
    SQLType.FLOAT: _PAIR_FLOAT32,
    SQLType.DOUBLE: _PAIR_DOUBLE,
}


def _sortable_keys(x: Column) -> np.ndarray:
    """int64 keys ordered like the values: integers as they are; floats by their bits, with the
    magnitude bits of negative numbers flipped (an involution, so the same map decodes keys)."""
    if not x.type.is_float:
        return x.values.astype(np.int64, copy=False)
    bits = x.values.astype(np.float64).view(np.int64)
    return np.where(bits >= 0, bits, bits ^ _SIGN_FLIP)


@kernel
def _median_values(
    lower: np.ndarray, upper: np.ndarray, cnt: np.ndarray, is_float: bool, pair_kind: int
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the middle keys and combine them into the median, per window."""
    m = lower.shape[0]
    out = np.zeros(m, np.float64)
    has = np.zeros(m, np.bool_)
    bits = np.zeros(2, np.int64)
    as_float = bits.view(np.float64)
    for k in range(m):
        if cnt[k] == 0:
            continue
        has[k] = True
        if is_float:
            a_key = lower[k]
            b_key = upper[k]
            bits[0] = a_key if a_key >= 0 else a_key ^ 0x7FFFFFFFFFFFFFFF
            bits[1] = b_key if b_key >= 0 else b_key ^ 0x7FFFFFFFFFFFFFFF
            a = as_float[0]
            b = as_float[1]
            if cnt[k] % 2 == 1:
                out[k] = a
            elif pair_kind == _PAIR_FLOAT32:
                # Rounding the double sum of two floats to float32 equals a float32 addition.
                out[k] = np.float64(np.float32(np.float32(a) + np.float32(b))) / 2.0
            else:
                out[k] = (a + b) / 2.0
        else:
            a_int = lower[k]
            b_int = upper[k]
            if cnt[k] % 2 == 1:
                out[k] = np.float64(a_int)
            elif pair_kind == _PAIR_INT32:
                # Truncating the exact int64 sum to int32 is the C++ int32 wrap.
                out[k] = np.float64(np.int32(a_int + b_int)) / 2.0
            else:
                # int64 wraps like C++; int16 pairs (promoted to int) never reach the wrap.
                out[k] = np.float64(a_int + b_int) / 2.0
    return out, has


@aggregate_function("median", _resolve_numeric_to_double("median"))
def median(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Median of the non-NULL values as a double; NULL when there are none."""
    x = args[0]
    lo, hi, cur = frame_arrays(frames)
    keys = _sortable_keys(x)
    if frames.monotone and max_window_size(lo, hi) > _SORTED_BUFFER_MAX_WINDOW:
        uniques, inverse = np.unique(keys[x.valid], return_inverse=True)
        codes = np.full(len(keys), -1, dtype=np.int64)
        codes[x.valid] = inverse
        lower, upper, cnt = _median_codes(codes, len(uniques), lo, hi, cur)
        if len(uniques):
            lower, upper = uniques[lower], uniques[upper]
    else:
        lower, upper, cnt = _median_keys(keys, x.valid, lo, hi, cur, frames.monotone)
    out, has = _median_values(lower, upper, cnt, x.type.is_float, _PAIR_KIND[x.type])
    return Column(SQLType.DOUBLE, out, has)


def _spread(args: list[Column], frames: WindowFrames, *, sample: bool, root: bool) -> Column:
    x = args[0]
    lo, hi, cur = frame_arrays(frames)
    out, has = _spread_kernel(_doubles(x), x.valid, lo, hi, cur, sample, root)
    return Column(SQLType.DOUBLE, out, has)


@aggregate_function("stddev", _resolve_numeric_to_double("stddev"), "std", "stddev_samp")
def stddev(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Sample standard deviation ``sqrt(Σ(x - avg)² / (n-1))``; NULL when n <= 1."""
    return _spread(args, frames, sample=True, root=True)


@aggregate_function("stddev_pop", _resolve_numeric_to_double("stddev_pop"))
def stddev_pop(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Population standard deviation ``sqrt(Σ(x - avg)² / n)``; NULL when n = 0."""
    return _spread(args, frames, sample=False, root=True)


@aggregate_function("var_samp", _resolve_numeric_to_double("var_samp"), "variance")
def var_samp(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Sample variance ``Σ(x - avg)² / (n-1)``; NULL when n <= 1."""
    return _spread(args, frames, sample=True, root=False)


@aggregate_function("var_pop", _resolve_numeric_to_double("var_pop"))
def var_pop(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Population variance ``Σ(x - avg)² / n``; NULL when n = 0."""
    return _spread(args, frames, sample=False, root=False)


@aggregate_function("entropy", _resolve_entropy)
def entropy(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Shannon entropy (base 2) of the non-NULL values; NULL when there are none."""
    lo, hi, cur = frame_arrays(frames)
    codes, _ = sorted_codes(args[0])
    out, has = _entropy_kernel(codes, lo, hi, cur)
    return Column.from_values(SQLType.DOUBLE, out, has)


@aggregate_function("ew_avg", _resolve_ew_avg, constant_args=(1,))
def ew_avg(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Exponentially weighted average, weight (1-alpha)^i for the i-th newest non-NULL value."""
    x, alpha_col = args
    alpha = constant_arg(alpha_col)
    lo, hi, cur = frame_arrays(frames)
    out, has = _ew_avg_kernel(_doubles(x), x.valid, lo, hi, cur, float(alpha or 0.0))
    return Column.from_values(SQLType.DOUBLE, out, has)


@aggregate_function("drawdown", _resolve_numeric_to_double("drawdown"))
def drawdown(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
    """Largest relative fall from an older value to a newer one, NULL and negative values ignored."""
    x = args[0]
    lo, hi, cur = frame_arrays(frames)
    out, has = _drawdown_kernel(_doubles(x), x.valid, lo, hi, cur)
    return Column.from_values(SQLType.DOUBLE, out, has)
