"""Long-window pre-aggregation: per-key partial results per bucket, combined with the raw edges per request.

``DEPLOY d OPTIONS(long_windows='w30d:1d') SELECT ...`` keeps, for each key of window ``w30d`` and each aggregate
over it that combines (:data:`~openfeat_core.functions.agg_basic.COMBINABLE`: count, sum, avg, min, max and their
``_where`` forms), one partial result per bucket of ``1d`` of the data's own time, updated as rows are inserted.
A size without a unit (``w1:1000``, OpenMLDB's row-count bucket) makes buckets of that many rows of a key instead
(:class:`Bucketing`). A request then reads the rows of the buckets its window covers completely as a handful of
partials, and only the rows at the two edges of the window (plus the request row) one by one, so its cost follows
the number of buckets and the edge rows, not the rows in the window.

Exactness. Rows take part exactly as in the raw aggregate: the row selection is the function's own
(``COMBINABLE``), counts and integer sums (wrapping in 64 bits) are associative, and float sums are kept as the same
double-double accumulations the raw kernels use, so both give the correctly rounded sum whenever the accumulation is
error-free (values within about 2^50 of each other in magnitude, which money, counts and measurements are).
``min``/``max`` run the raw kernel over each bucket's best value in place of its rows (both are idempotent); a
bucket holding a NaN makes that request fall back to the raw rows, since NaN ordering depends on row order.
A bucket that lost rows to eviction is not used either: its partial would still count them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from openfeat_core.column import Column
from openfeat_core.errors import NotSupportedError
from openfeat_core.functions._kernels import _fsum_step, _fsum_value, dd_add
from openfeat_core.functions.agg_basic import COMBINABLE
from openfeat_core.functions.registry import AggregateImpl, EvalContext, WindowFrames
from openfeat_core.jit import kernel
from openfeat_core.plan.nodes import Field, Select, WindowAgg, collect
from openfeat_core.sql.dialect import interval_ms
from openfeat_core.types import SQLType


class Bucketing(NamedTuple):
    """How a long window's rows are cut into buckets: ``size`` ms of the order column (``w1:1d``), or ``size`` rows
    of a key (``w1:1000``, OpenMLDB's row-count bucket).

    A row-count bucket fills with a key's rows as they arrive, as OpenMLDB's aggregator fills one: the open (newest)
    bucket takes the rows not older than its start until it holds ``size`` rows, and the next row with a later time
    opens a new bucket at that time. A row with the same time as the open bucket's newest row still joins it, so one
    time never spans two buckets (OpenMLDB puts such a row in the bucket it just closed, the same thing). A late row,
    older than the open bucket, joins the bucket whose time range holds it (the oldest one when it is older than all:
    that bucket's range grows back to its time). Buckets therefore cut a key's time line into consecutive ranges,
    each ``[start, next start)``, which is all the request side needs.
    """

    size: int
    unit: Literal["ms", "rows"]

    def __str__(self) -> str:
        return f"{self.size} rows" if self.unit == "rows" else f"{self.size} ms"


def parse_long_windows(option: str, plan: Select) -> dict[int, Bucketing]:
    """Parse ``long_windows`` (``"w1:1d,w2:6h,w3:1000"``; a window without a size gets ``1d``) against ``plan``.

    Returns:
        Window index in ``plan.windows`` -> its buckets (a time such as ``1d``, or a row count such as ``1000``).

    Raises:
        NotSupportedError: an unknown window, a bad bucket size, or a window that cannot be pre-aggregated (only
            ``ROWS`` and ``ROWS_RANGE`` frames ending at the current row, without ``MAXSIZE``, are).
    """
    names = {w.name: i for i, w in enumerate(plan.windows)}
    out: dict[int, Bucketing] = {}
    for part in filter(None, (p.strip() for p in option.split(","))):
        name, _, size = part.partition(":")
        name, size = name.strip(), size.strip()
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise NotSupportedError(f"long_windows: no window named {name!r} in the script (windows: {known})")
        bucket: Bucketing
        if size.isdigit():
            bucket = Bucketing(int(size), "rows")
        else:
            bucket_ms = interval_ms(size or "1d", None)
            if bucket_ms is None:
                raise NotSupportedError(
                    f"long_windows: bucket size {size!r} of window {name!r} is neither a time such as 1d, 6h, 30m "
                    "or 10s nor a row count such as 1000"
                )
            bucket = Bucketing(bucket_ms, "ms")
        if bucket.size <= 0:
            raise NotSupportedError(f"long_windows: bucket size of window {name!r} must be positive, got {size!r}")
        frame = plan.windows[names[name]].frame
        if frame.kind not in ("rows", "rows_range") or frame.end.kind != "current" or frame.maxsize:
            raise NotSupportedError(
                f"long_windows: window {name!r} cannot be pre-aggregated: only ROWS and ROWS_RANGE frames ending at "
                "the current row, without MAXSIZE, can"
            )
        out[names[name]] = bucket
    return out


# --------------------------------------------------------------------------------------------- kernels
@kernel
def _bucket_float_sums(
    vals: np.ndarray, inc: np.ndarray, bucket: np.ndarray, nb: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per bucket: the double-double sum (hi, lo) of the included rows and their NaN, +inf and -inf counts."""
    hi = np.zeros(nb, np.float64)
    lo = np.zeros(nb, np.float64)
    nan = np.zeros(nb, np.int64)
    pinf = np.zeros(nb, np.int64)
    ninf = np.zeros(nb, np.int64)
    for i in range(len(vals)):
        if inc[i]:
            b = bucket[i]
            hi[b], lo[b], nan[b], pinf[b], ninf[b] = _fsum_step(hi[b], lo[b], nan[b], pinf[b], ninf[b], vals[i], 1)
    return hi, lo, nan, pinf, ninf


@kernel
def _merge_float_sums(
    hi: np.ndarray, lo: np.ndarray, nan: np.ndarray, pinf: np.ndarray, ninf: np.ndarray
) -> tuple[float, float, int, int, int]:
    """Add double-double partial sums together (each partial is two exact terms)."""
    s_hi = 0.0
    s_lo = 0.0
    for b in range(len(hi)):
        s_hi, s_lo = dd_add(s_hi, s_lo, hi[b])
        s_hi, s_lo = dd_add(s_hi, s_lo, lo[b])
    return s_hi, s_lo, int(nan.sum()), int(pinf.sum()), int(ninf.sum())


@kernel
def _float_total(hi: float, lo: float, nan: int, pinf: int, ninf: int) -> float:
    return _fsum_value(hi, lo, nan, pinf, ninf)


# --------------------------------------------------------------------------------------------- state
@dataclass
class _Bucket:
    """One bucket's partial result of one aggregate."""

    rows: int = 0  # every row of the key in the bucket (to detect rows lost to eviction)
    n: int = 0  # rows included by the aggregate's row selection
    f_hi: float = 0.0
    f_lo: float = 0.0
    nan: int = 0
    pinf: int = 0
    ninf: int = 0
    i_sum: int = 0  # integer sums, wrapping like int64
    best: Any = None  # min / max of the included non-NaN values
    has_nan: bool = False
    last: int | None = None  # the newest order value in the bucket (when a row-count bucket is full: see Bucketing)


class _KeyBuckets(dict[int, _Bucket]):
    """A key's buckets by id: ``order value // size`` for time buckets; the start time for row-count buckets, whose
    starts are also kept sorted in :attr:`starts` (bucket ``j`` holds the times in ``[starts[j], starts[j + 1])``)."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[int] = []


class _Grid:
    """Where the buckets of one key lie on its time line, for a request: bucket positions ``p`` are consecutive
    integers in time order; ``bucket(p)`` may be missing (a time bucket without rows)."""

    def __init__(self, buckets: _KeyBuckets, bucketing: Bucketing) -> None:
        self.buckets = buckets
        self.by_rows = bucketing.unit == "rows"
        self.size = bucketing.size

    def pos(self, t: int) -> int:
        """The position of the bucket holding time ``t`` (-1 for a row-count bucket: older than every bucket)."""
        if self.by_rows:
            return bisect.bisect_right(self.buckets.starts, t) - 1
        return t // self.size

    def start(self, p: int) -> int:
        return self.buckets.starts[p] if self.by_rows else p * self.size

    def end(self, p: int) -> int | None:
        """Where bucket ``p`` ends (exclusive); ``None``: the newest row-count bucket, open-ended."""
        if not self.by_rows:
            return (p + 1) * self.size
        starts = self.buckets.starts
        return starts[p + 1] if p + 1 < len(starts) else None

    def bucket(self, p: int) -> _Bucket | None:
        return self.buckets.get(self.buckets.starts[p]) if self.by_rows else self.buckets.get(p)


@dataclass
class Preaggregate:
    """The bucketed partial results of one aggregate over one series index (all keys)."""

    agg: WindowAgg
    bucket: Bucketing
    impl: AggregateImpl
    fields: tuple[Field, ...] = ()  # the rows' schema, to evaluate the arguments on inserted rows
    kind: str = field(init=False)
    rows_of: Callable[[list[Column]], np.ndarray] = field(init=False)
    keys: dict[tuple[Any, ...], _KeyBuckets] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind, self.rows_of = COMBINABLE[self.agg.name]

    @property
    def identity(self) -> tuple[Any, ...]:
        """Equal for pre-aggregations that hold the same partials (one index can serve several deployments)."""
        return (self.bucket, self.agg.name, self.agg.args)

    # ------------------------------------------------------------------ maintenance
    def add(self, key: tuple[Any, ...], ts: np.ndarray, args: list[Column]) -> None:
        """Fold new rows of ``key`` (order values ``ts``, in arrival order; evaluated arguments ``args``) into their
        buckets."""
        if len(ts) == 0:
            return
        buckets = self.keys.get(key)
        if buckets is None:
            buckets = self.keys[key] = _KeyBuckets()
        row_ids = self._row_bucket_ids(buckets, ts) if self.bucket.unit == "rows" else ts // self.bucket.size
        ids, index = np.unique(row_ids, return_inverse=True)
        nb = len(ids)
        inc = self.rows_of(args)
        rows = np.bincount(index, minlength=nb)
        n = np.bincount(index, weights=inc, minlength=nb).astype(np.int64)
        newest = np.full(nb, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(newest, index, ts.astype(np.int64, copy=False))
        x = args[0]
        sums: tuple[np.ndarray, ...] | None = None
        i_sums: np.ndarray | None = None
        bests: list[Any] | None = None
        nan_in: np.ndarray | None = None
        if self.kind in ("sum", "avg"):
            if x.type.is_float or self.kind == "avg":
                vals = x.values.astype(np.float64, copy=False)
                sums = _bucket_float_sums(vals, inc, index, nb)
            else:
                i_sums = np.zeros(nb, dtype=np.int64)
                np.add.at(i_sums, index[inc], x.values.astype(np.int64, copy=False)[inc])
        elif self.kind in ("min", "max"):
            bests, nan_in = self._bests(x, inc, index, nb)
        for b in range(nb):
            state = buckets.get(int(ids[b]))
            if state is None:
                state = buckets[int(ids[b])] = _Bucket()
            state.rows += int(rows[b])
            state.n += int(n[b])
            state.last = int(newest[b]) if state.last is None else max(state.last, int(newest[b]))
            if sums is not None:
                hi, lo, nan, pinf, ninf = (a[b] for a in sums)
                state.f_hi, state.f_lo = dd_add(state.f_hi, state.f_lo, hi)
                state.f_hi, state.f_lo = dd_add(state.f_hi, state.f_lo, lo)
                state.nan += int(nan)
                state.pinf += int(pinf)
                state.ninf += int(ninf)
            if i_sums is not None:
                state.i_sum = int(np.array([state.i_sum, i_sums[b]], dtype=np.int64).sum())
            if bests is not None and nan_in is not None:
                state.has_nan = state.has_nan or bool(nan_in[b])
                if bests[b] is not None:
                    pick = min if self.kind == "min" else max
                    state.best = bests[b] if state.best is None else pick(state.best, bests[b])

    def _row_bucket_ids(self, buckets: _KeyBuckets, ts: np.ndarray) -> np.ndarray:
        """Row-count buckets: the bucket (its start) each new row joins, opening and moving buckets as
        :class:`Bucketing` says (one row at a time: where a row goes depends on the rows before it)."""
        starts, size = buckets.starts, self.bucket.size
        open_rows = buckets[starts[-1]].rows if starts else 0
        open_last = buckets[starts[-1]].last if starts else None
        renamed: list[int] = []  # the starts the oldest bucket had before a late row moved its start back
        out = np.empty(len(ts), dtype=np.int64)
        for i, t in enumerate(ts.tolist()):
            if not starts or (t >= starts[-1] and open_rows >= size and open_last is not None and t > open_last):
                starts.append(t)
                buckets[t] = _Bucket()
                open_rows, open_last = 0, None
            if t >= starts[-1]:
                out[i] = starts[-1]
                open_rows += 1
                open_last = t if open_last is None else max(open_last, t)
                continue
            if t < starts[0]:
                renamed.append(starts[0])
                buckets[t] = buckets.pop(starts[0])
                starts[0] = t
            out[i] = starts[bisect.bisect_right(starts, t) - 1]
            if out[i] == starts[-1]:
                open_rows += 1
        if renamed:
            # Only the oldest bucket moves (new buckets open after the newest), so its rows all take its final start.
            out[np.isin(out, renamed)] = starts[0]
        return out

    def _bests(self, x: Column, inc: np.ndarray, index: np.ndarray, nb: int) -> tuple[list[Any], np.ndarray]:
        nan_in = np.zeros(nb, dtype=np.bool_)
        values = x.values
        if x.type.is_float:
            nan = np.isnan(values.astype(np.float64, copy=False))
            np.logical_or.at(nan_in, index[inc & nan], True)
            inc = inc & ~nan
        bests: list[Any] = [None] * nb
        pick = min if self.kind == "min" else max
        for i in np.nonzero(inc)[0].tolist():
            b = int(index[i])
            v = values[i]
            bests[b] = v if bests[b] is None else pick(bests[b], v)
        return bests, nan_in

    def forget_before(self, key: tuple[Any, ...], first_ts: int) -> None:
        """Drop the buckets that end before ``first_ts`` (their rows were all evicted)."""
        buckets = self.keys.get(key)
        if not buckets:
            return
        if self.bucket.unit == "rows":
            starts = buckets.starts
            gone = bisect.bisect_right(starts, first_ts) - 1  # buckets before this one end by first_ts
            for b in starts[: max(gone, 0)]:
                del buckets[b]
            del starts[: max(gone, 0)]
            return
        first_bucket = first_ts // self.bucket.size
        for b in [b for b in buckets if b < first_bucket]:
            del buckets[b]

    # ------------------------------------------------------------------ requests
    def result(
        self,
        key: tuple[Any, ...],
        ts: np.ndarray,
        frames: WindowFrames,
        rows_args: Callable[[np.ndarray], list[Column]],
        ctx: EvalContext,
    ) -> Column | None:
        """The aggregate of one request from the partials and the edge rows, or ``None`` when it needs the raw rows.

        Args:
            key: the request's key.
            ts: order values of the key's candidate rows (the request row included where ``frames`` says).
            frames: the request's frame over those rows (one output row).
            rows_args: the aggregate's arguments evaluated over the given candidate rows.
            ctx: evaluation context.
        """
        lo, hi, cur = int(frames.lo[0]), int(frames.hi[0]), int(frames.cur[0])
        buckets = self.keys.get(key)
        if not buckets or hi <= lo:
            return None
        grid = _Grid(buckets, self.bucket)
        stored = len(ts) - 1  # the last candidate is the request row, which no partial holds
        first, last = grid.pos(int(ts[lo])), grid.pos(int(ts[hi - 1]))
        if lo > 0 and grid.pos(int(ts[lo - 1])) == first:
            first += 1  # the first bucket has rows before the frame: it is an edge
        if hi < stored and grid.pos(int(ts[hi])) == last:
            last -= 1  # the last bucket has rows after the frame: it is an edge
        first = max(first, 0)  # rows older than every row-count bucket are edge rows
        if first > last:
            return None
        end_first = grid.end(first)
        first_part = grid.bucket(first)
        if lo == 0 and first_part is not None:
            # The key's oldest live rows: eviction may have taken the start of their bucket, making it an edge.
            window = ts[lo:hi]
            below = int(np.searchsorted(window, grid.start(first), side="left"))
            in_first = (hi - lo if end_first is None else int(np.searchsorted(window, end_first, side="left"))) - below
            if first_part.rows != in_first:
                first += 1
        if first > last:
            return None
        end_last = grid.end(last)
        start = lo + int(np.searchsorted(ts[lo:hi], grid.start(first), side="left"))
        stop = hi if end_last is None else lo + int(np.searchsorted(ts[lo:hi], end_last, side="left"))
        parts = [b for b in (grid.bucket(p) for p in range(first, last + 1)) if b is not None]
        if sum(b.rows for b in parts) != stop - start:
            return None  # a bucket lost rows to eviction, or holds rows the candidates do not (a late request)
        if self.kind in ("min", "max"):
            return self._extreme(parts, lo, start, stop, hi, cur, rows_args, ctx)
        edges = np.concatenate([np.arange(lo, start), np.arange(stop, hi)]).astype(np.int64)
        args = rows_args(np.append(edges, cur) if cur >= 0 else edges)
        inc = self.rows_of(args)
        n = int(inc.sum()) + sum(b.n for b in parts)
        if self.kind == "count":
            return Column(SQLType.INT64, np.array([n], dtype=np.int64), np.ones(1, dtype=np.bool_))
        x = args[0]
        if x.type.is_float or self.kind == "avg":
            vals = x.values.astype(np.float64, copy=False)
            e = _bucket_float_sums(vals, inc, np.zeros(len(vals), dtype=np.int64), 1)
            merged = _merge_float_sums(
                np.array([e[0][0], *(b.f_hi for b in parts)]),
                np.array([e[1][0], *(b.f_lo for b in parts)]),
                np.array([e[2][0], *(b.nan for b in parts)]),
                np.array([e[3][0], *(b.pinf for b in parts)]),
                np.array([e[4][0], *(b.ninf for b in parts)]),
            )
            total = float(_float_total(*merged))
            value: Any = (total / n if self.kind == "avg" else total) if n else 0.0
        else:
            edge_sum = x.values.astype(np.int64, copy=False)[inc]
            value = np.concatenate([edge_sum, np.array([b.i_sum for b in parts], dtype=np.int64)]).sum()
        out_type = SQLType.DOUBLE if self.kind == "avg" else x.type
        values = np.array([value], dtype=np.float64 if out_type.is_float else np.int64).astype(out_type.numpy_dtype)
        return Column(out_type, values, np.array([n > 0]))

    def _extreme(
        self,
        parts: Sequence[_Bucket],
        lo: int,
        start: int,
        stop: int,
        hi: int,
        cur: int,
        rows_args: Callable[[np.ndarray], list[Column]],
        ctx: EvalContext,
    ) -> Column | None:
        """min/max: the raw kernel over the edge rows with each full bucket's best value in place of its rows."""
        if any(b.has_nan for b in parts):
            return None
        left = rows_args(np.arange(lo, start, dtype=np.int64))
        right_idx = np.arange(stop, hi, dtype=np.int64)
        right = rows_args(np.append(right_idx, cur) if cur >= 0 else right_idx)
        bests = [b.best for b in parts if b.best is not None]
        # Each best stands for its bucket's rows: a valid value, with a true condition for the _where forms.
        x_type = left[0].type
        middle = [Column.from_values(x_type, np.array(bests, dtype=x_type.numpy_dtype))]
        middle += [Column.constant(True, SQLType.BOOL, len(bests)) for _ in left[1:]]
        args = [
            Column.concat([x, m, y.with_type(x.type) if y.type is not x.type else y])
            for x, m, y in zip(left, middle, right, strict=True)
        ]
        m_rows = len(args[0]) - (1 if cur >= 0 else 0)
        z = np.zeros(1, dtype=np.int64)
        last = np.array([m_rows], dtype=np.int64)
        frames = WindowFrames(
            lo=z,
            hi=last,
            cur=last if cur >= 0 else np.full(1, -1, dtype=np.int64),
            part_lo=z,
            part_hi=last,
            current=last,
            monotone=False,
        )
        return self.impl(args, frames, ctx)


def preaggregates_for(
    plan: Select, long_windows: Mapping[int, Bucketing], impls: Mapping[str, AggregateImpl]
) -> list[Preaggregate]:
    """The pre-aggregations of a deployment: one per combinable aggregate over a long window."""
    out: dict[WindowAgg, Preaggregate] = {}
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            if agg.window in long_windows and agg.name in COMBINABLE and agg not in out:
                out[agg] = Preaggregate(agg, long_windows[agg.window], impls[agg.name])
    return list(out.values())


__all__ = ["Bucketing", "Preaggregate", "parse_long_windows", "preaggregates_for"]
