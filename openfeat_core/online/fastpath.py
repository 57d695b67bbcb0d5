"""The direct request path: rows kept per key in engine layout, frames found on the key's own arrays.

The general request path re-runs the executor over small Arrow tables (conversion, sort and join per call). For
the common shape of a feature script (windows over the main table partitioned by its columns, LAST JOINs onto
tables by key with an as-of bound) a request needs far less: the stored rows of its key up to its time, already
sorted. This module keeps exactly that, as rows arrive: per index (key columns + order column) and per key, a
:class:`KeySeries` holding the key's rows sorted by time, every column as a NumPy array in engine layout (strings
as codes of one dictionary per table column), with one spare slot at the end.

A request writes its own values into that spare slot, so the key's stored rows followed by the request row are
plain array views: the same frame function (:func:`~openfeat_core.engine.windowing.frame_bounds`) and the same aggregate
kernels as batch mode run on them with no copy, gather or sort. Rows older than the index's TTL (by the data's own
time, see :class:`TTL`) are dropped from the front of each key's arrays.

Scripts of any other shape use the general path (the executor's request mode), and :func:`fast_plan` says why
(:class:`Declined`, shown by ``describe_deployment``); both give the same results (tests compare them with batch mode).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column, DictColumn, all_valid
from openfeat_core.engine.lastjoin import as_of_bound, as_of_cut, newest
from openfeat_core.engine.relation import RelData, evaluate, order_values
from openfeat_core.engine.windowing import frame_bounds, request_frame
from openfeat_core.functions.registry import REGISTRY, AggregateImpl, EvalContext, WindowFrames
from openfeat_core.online.preagg import Preaggregate
from openfeat_core.plan.nodes import (
    ColumnRef,
    Expr,
    Field,
    Frame,
    LastJoin,
    Scan,
    Select,
    SubqueryRel,
    WindowAgg,
    collect,
    qualifiers_read,
)
from openfeat_core.types import INT_RANGES, SQLType, sql_type_of_arrow

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class TTL:
    """How much history of a key an index keeps (OpenMLDB's TTL, section 4 of the semantics).

    Attributes:
        rows: the latest ``rows`` rows of each key are kept (0: no count limit).
        ms: rows at most ``ms`` older than the key's newest row (or the clock) are kept (0: no time limit).
        either: with both limits, keep a row that either keeps (OpenMLDB's ``absandlat``: what several windows
            need together) rather than only rows both keep (``absorlat``: a ``ROWS_RANGE`` window with ``MAXSIZE``).

    ``TTL()`` keeps everything.
    """

    rows: int = 0
    ms: int = 0
    either: bool = True

    @property
    def unbounded(self) -> bool:
        return self.rows == 0 and self.ms == 0

    def merge(self, other: TTL) -> TTL:
        """What two users of one index need together: everything if one needs everything, else rows that either
        keeps (the larger limits, kept by either: a superset of both needs)."""
        if self.unbounded or other.unbounded:
            return TTL()
        return TTL(max(self.rows, other.rows), max(self.ms, other.ms), either=True)

    def widened(self, ms_bias: int | None, rows_bias: int | None) -> TTL:
        """This TTL keeping ``ms_bias`` more time and ``rows_bias`` more rows where it limits them (``None``: no
        limit any more; 0: unchanged), as OpenMLDB's DEPLOY options ``RANGE_BIAS`` and ``ROWS_BIAS`` widen the TTLs
        a deployment derives."""
        if self.unbounded:
            return self
        ms = self.ms if not self.ms or ms_bias == 0 else (0 if ms_bias is None else self.ms + ms_bias)
        rows = self.rows if not self.rows or rows_bias == 0 else (0 if rows_bias is None else self.rows + rows_bias)
        lifted = (self.ms and not ms) or (self.rows and not rows)
        if (rows == 0 and ms == 0) or (lifted and self.either):
            return TTL()  # a limit that keeps everything, alone or kept by either: everything is kept
        return TTL(rows, ms, self.either)

    def first_kept(self, ts: np.ndarray, start: int, end: int, now_ms: int | None) -> int:
        """The first row of ``ts[start:end]`` (sorted) the TTL keeps; ``now_ms`` None: measure from the newest."""
        if self.unbounded or end == start:
            return start
        by_rows = max(start, end - self.rows) if self.rows else None
        by_ms = None
        if self.ms:
            cutoff = (int(ts[end - 1]) if now_ms is None else now_ms) - self.ms
            # Usually nothing is old enough yet: one comparison instead of a search.
            by_ms = start if ts[start] >= cutoff else start + int(np.searchsorted(ts[start:end], cutoff, side="left"))
        if by_rows is None or by_ms is None:
            return by_rows if by_ms is None else by_ms  # type: ignore[return-value]
        return min(by_rows, by_ms) if self.either else max(by_rows, by_ms)

    def describe(self) -> str:
        if self.unbounded:
            return "all"
        if not self.ms:
            return f"latest {self.rows} rows"
        if not self.rows:
            return f"{self.ms} ms"
        return f"latest {self.rows} rows {'or' if self.either else 'and'} {self.ms} ms"


def window_ttl(frame: Frame) -> TTL:
    """The history a window's frame can reach back to from its newest row."""
    start, end = frame.start, frame.end
    if frame.kind == "rows":  # (MAXSIZE is ROWS_RANGE only: the binder refuses it here)
        if frame.exclude_current_time:
            # The rows at the current time, however many, are skipped before counting: no row count bounds it.
            return TTL()
        return TTL(rows=start.offset + 1 if start.kind == "preceding" else 0)
    ms = start.offset if start.kind == "preceding" else 0
    rows = frame.maxsize or 0
    ends_before_now = end.kind == "preceding" and (end.offset > 0 or end.open)
    if rows and (ends_before_now or frame.exclude_current_time):
        # The frame's newest rows are not the key's newest: its MAXSIZE rows can lie behind any number of newer rows.
        rows = 0
    return TTL(rows=rows, ms=ms, either=False)


# --------------------------------------------------------------------------------------------- storage
class StringCodes:
    """The dictionary of one string column of a table: code -> string, shared by every series of the table.

    Code 0 is ``""``, the value NULL slots hold. The entries are distinct, which the aggregate kernels rely on.
    A request's strings that are not stored get temporary codes after the last entry (:meth:`request_codes`).
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self.strings = np.empty(16, dtype=object)
        self.strings[0] = ""
        self.n = 1

    def _reserve(self, extra: int) -> None:
        if self.n + extra > len(self.strings):
            grown = np.empty(max(self.n + extra, 2 * len(self.strings)), dtype=object)
            grown[: self.n] = self.strings[: self.n]
            self.strings = grown

    def encode(self, array: pa.Array) -> np.ndarray:
        """Codes (int32) of a string array's values, adding new strings; NULLs get code 0."""
        encoded = pc.dictionary_encode(array)
        local = encoded.dictionary.to_pylist()
        mapping = np.empty(len(local) + 1, dtype=np.int32)
        mapping[len(local)] = 0
        self._reserve(len(local))
        for i, s in enumerate(local):
            code = self.index.get(s)
            if code is None:
                code = self.n
                self.index[s] = code
                self.strings[code] = s
                self.n += 1
            mapping[i] = code
        indices = encoded.indices.fill_null(len(local)) if encoded.indices.null_count else encoded.indices
        return mapping[indices.to_numpy(zero_copy_only=False)]

    def request_codes(self, values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Codes of request strings, without storing them, and the dictionary the codes index."""
        self._reserve(len(values))
        codes = np.empty(len(values), dtype=np.int32)
        extra = 0
        for i, s in enumerate(values):
            code = self.index.get(s)
            if code is None:
                code = self.n + extra
                self.strings[code] = s
                extra += 1
            codes[i] = code
        return codes, self.strings[: self.n + extra]

    def dictionary(self) -> np.ndarray:
        return self.strings[: self.n]


class KeySeries:
    """The rows of one key, oldest first by order value then insertion, every column in engine layout.

    Rows ``start .. n-1`` are live (rows before ``start`` were evicted); slot ``n`` is always allocated and free,
    for a request row. ``seq`` holds each row's insertion number in its table.
    """

    __slots__ = ("n", "seq", "start", "ts", "valid", "values")

    def __init__(self, dtypes: Sequence[np.dtype]) -> None:
        self.n = 0
        self.start = 0
        self.ts = np.zeros(4, dtype=np.int64)
        self.seq = np.zeros(4, dtype=np.int64)
        self.values = [np.zeros(4, dtype=d) for d in dtypes]
        self.valid = [np.zeros(4, dtype=np.bool_) for _ in dtypes]

    def _reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows plus the request slot, dropping evicted rows when that is cheaper."""
        live = self.n - self.start
        need = live + extra + 1
        if self.start + need <= len(self.ts):
            return
        cap = len(self.ts)
        if need > cap // 2:
            cap = max(need, 2 * cap)
        s, e = self.start, self.n

        def moved(a: np.ndarray) -> np.ndarray:
            out = np.zeros(cap, dtype=a.dtype)
            out[:live] = a[s:e]
            return out

        self.ts = moved(self.ts)
        self.seq = moved(self.seq)
        self.values = [moved(v) for v in self.values]
        self.valid = [moved(v) for v in self.valid]
        self.start, self.n = 0, live

    def append(
        self,
        ts: np.ndarray,
        seq: np.ndarray,
        values: Sequence[np.ndarray],
        valid: Sequence[np.ndarray],
        sorted_ts: bool | None = None,
    ) -> None:
        """Add rows (in insertion order); each lands after every stored row with an order value <= its own.

        ``sorted_ts``: whether ``ts`` is known to be non-decreasing (``None``: check).
        """
        k = len(ts)
        self._reserve(k)
        s, e = self.start, self.n
        if sorted_ts is None:
            sorted_ts = bool(np.all(ts[1:] >= ts[:-1]))
        if sorted_ts and (e == s or ts[0] >= self.ts[e - 1]):
            self.ts[e : e + k] = ts
            self.seq[e : e + k] = seq
            for dst, src in zip(self.values, values, strict=True):
                dst[e : e + k] = src
            for dst, src in zip(self.valid, valid, strict=True):
                dst[e : e + k] = src
        else:
            # Late rows: a stable sort of stored-then-new rows keeps insertion order among equal times.
            order = np.argsort(np.concatenate([self.ts[s:e], ts]), kind="stable")
            self.ts[s : e + k] = np.concatenate([self.ts[s:e], ts])[order]
            self.seq[s : e + k] = np.concatenate([self.seq[s:e], seq])[order]
            for dst, src in zip(self.values, values, strict=True):
                dst[s : e + k] = np.concatenate([dst[s:e], src])[order]
            for dst, src in zip(self.valid, valid, strict=True):
                dst[s : e + k] = np.concatenate([dst[s:e], src])[order]
        self.n = e + k

    def evict(self, ttl: TTL, now_ms: int | None) -> int:
        """Drop rows outside ``ttl``, measured from ``now_ms`` (``None``: the key's newest row); returns how many."""
        s = self.start
        self.start = ttl.first_kept(self.ts, s, self.n, now_ms)
        return self.start - s


class SeriesIndex:
    """Key -> :class:`KeySeries` for one (key columns, order column) of a table, with its retention."""

    def __init__(self, keys: tuple[str, ...], order: str | None, ttl: TTL) -> None:
        self.keys = keys
        self.order = order
        self.ttl = ttl
        self.series: dict[tuple[Any, ...], KeySeries] = {}
        self.added = 0  # rows ever added (the rows it keeps: added - evicted)
        self.evicted = 0
        # Long-window partial results kept on this index, by Preaggregate.identity.
        self.preaggs: dict[tuple[Any, ...], Preaggregate] = {}

    @property
    def kept(self) -> int:
        """Rows it keeps (over every key)."""
        return self.added - self.evicted


class TableRows:
    """One table's direct-path state: its string dictionaries and its series indexes."""

    def __init__(self, schema: pa.Schema, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self.names = list(schema.names)
        self.types = [sql_type_of_arrow(f.type) for f in schema]
        self.dtypes = [np.dtype(np.int32) if t is SQLType.STRING else t.numpy_dtype for t in self.types]
        self.strings = {i: StringCodes() for i, t in enumerate(self.types) if t is SQLType.STRING}
        self.indexes: dict[tuple[tuple[str, ...], str | None], SeriesIndex] = {}

    def position(self, name: str) -> int:
        return self.names.index(name)

    def engine_columns(self, batch: pa.RecordBatch | pa.Table) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """A batch's columns as (values, valid) arrays in series layout."""
        values, valid = [], []
        for i, t in enumerate(self.types):
            array = batch.column(i)
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            if i in self.strings:
                values.append(self.strings[i].encode(array))
                valid.append(array.is_valid().to_numpy(zero_copy_only=False))
            else:
                col = Column.from_arrow(array, t)
                values.append(np.asarray(col.values, dtype=self.dtypes[i]))
                valid.append(col.valid)
        return values, valid

    def add_index(
        self,
        keys: tuple[str, ...],
        order: str | None,
        ttl: TTL,
        history: tuple[pa.Table, np.ndarray] | None,
        now_ms: int | None,
    ) -> SeriesIndex:
        """The index for (keys, order), created if needed and filled from ``history`` (stored rows and their
        insertion numbers), its TTL widened to ``ttl``."""
        index = self.indexes.get((keys, order))
        if index is None:
            index = SeriesIndex(keys, order, ttl)
            self.indexes[(keys, order)] = index
            if history is not None and history[0].num_rows:
                values, valid = self.engine_columns(history[0])
                self._add_to_index(index, values, valid, history[1], now_ms)
        else:
            index.ttl = index.ttl.merge(ttl)
        return index

    def add_rows(self, batch: pa.RecordBatch, first_seq: int, now_ms: int | None) -> int:
        """Add a batch (insertion numbers from ``first_seq``) to every index; returns the number of rows evicted.

        ``now_ms`` is the time TTLs are measured from; ``None`` measures from each key's newest row.
        """
        if not self.indexes or batch.num_rows == 0:
            return 0
        values, valid = self.engine_columns(batch)
        return self.add_columns(values, valid, first_seq, now_ms)

    def add_columns(self, values: list[np.ndarray], valid: list[np.ndarray], first_seq: int, now_ms: int | None) -> int:
        """:meth:`add_rows` of rows already in engine layout (:meth:`engine_columns`): recovery converts a run of
        logged inserts at once, then adds them in as few calls as give the state of one call per insert."""
        n = len(values[0]) if values else 0
        if not self.indexes or n == 0:
            return 0
        seq = np.arange(first_seq, first_seq + n, dtype=np.int64)
        return sum(self._add_to_index(ix, values, valid, seq, now_ms) for ix in self.indexes.values())

    def live_rows(self) -> np.ndarray | None:
        """Sorted insertion numbers of the rows some index still keeps; ``None`` when an index keeps everything."""
        if not self.indexes or any(ix.ttl.unbounded for ix in self.indexes.values()):
            return None
        parts = [s.seq[s.start : s.n] for ix in self.indexes.values() for s in ix.series.values()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def _add_to_index(
        self, index: SeriesIndex, values: list[np.ndarray], valid: list[np.ndarray], seq: np.ndarray, now_ms: int | None
    ) -> int:
        n = len(seq)
        if index.order is None:
            ts = np.zeros(n, dtype=np.int64)
        else:
            p = self.position(index.order)
            ts = order_values(Column(self.types[p], values[p], valid[p]))
        evicted = 0
        args = [(pre, self._arguments(pre, values, valid, n)) for pre in index.preaggs.values()]
        order, groups = self._groups(index.keys, values, valid, n)
        if order is not None:
            # Rows of one key made contiguous once per batch: each key then takes slices, not gathers.
            ts, seq = ts[order], seq[order]
            values = [v[order] for v in values]
            valid = [v[order] for v in valid]
            args = [(pre, [a.take(order) for a in cols]) for pre, cols in args]
        # Whether every key's new rows are in time order, for all keys at once (the usual case: yes; None: ask each).
        in_order = ts[1:] >= ts[:-1]
        in_order[[start - 1 for _, start, _ in groups[1:]]] = True  # across two keys' rows order does not matter
        sorted_ts = bool(in_order.all()) or None
        for key, start, stop in groups:
            series = index.series.get(key)
            if series is None:
                series = index.series[key] = KeySeries(self.dtypes)
            series.append(
                ts[start:stop],
                seq[start:stop],
                [v[start:stop] for v in values],
                [v[start:stop] for v in valid],
                sorted_ts,
            )
            for pre, cols in args:
                pre.add(key, ts[start:stop], [a.slice(start, stop) for a in cols])
            dropped = series.evict(index.ttl, now_ms)
            if dropped:
                for pre, _ in args:
                    pre.forget_before(key, int(series.ts[series.start]))
            evicted += dropped
        index.added += n
        index.evicted += evicted
        return evicted

    def column(self, i: int, values: np.ndarray, valid: np.ndarray, dictionary: np.ndarray | None = None) -> Column:
        """Engine-layout arrays of column ``i`` as a column; string codes index ``dictionary``, by default the
        table's (a request's strings may hold codes beyond it, see :meth:`StringCodes.request_codes`)."""
        if i in self.strings:
            return DictColumn(values, self.strings[i].dictionary() if dictionary is None else dictionary, valid)
        return Column(self.types[i], values, valid)

    def columns_of(self, values: Sequence[np.ndarray], valid: Sequence[np.ndarray]) -> list[Column]:
        """Engine-layout arrays as columns (strings decoded through the table's dictionaries)."""
        return [self.column(i, values[i], valid[i]) for i in range(len(self.types))]

    def _arguments(self, pre: Preaggregate, values: list[np.ndarray], valid: list[np.ndarray], n: int) -> list[Column]:
        rel = RelData(pre.fields, self.columns_of(values, valid), n)
        return [evaluate(a, rel, EvalContext(self.timezone)) for a in pre.agg.args]

    def add_preaggregate(self, index: SeriesIndex, pre: Preaggregate) -> Preaggregate:
        """Keep ``pre`` on ``index`` (filled from the rows it holds), or return the equal one already kept."""
        existing = index.preaggs.get(pre.identity)
        if existing is not None:
            return existing
        index.preaggs[pre.identity] = pre
        for key, s in index.series.items():
            if s.n > s.start:
                live_values = [v[s.start : s.n] for v in s.values]
                live_valid = [v[s.start : s.n] for v in s.valid]
                pre.add(key, s.ts[s.start : s.n], self._arguments(pre, live_values, live_valid, s.n - s.start))
        return pre

    def _groups(
        self, keys: tuple[str, ...], values: list[np.ndarray], valid: list[np.ndarray], n: int
    ) -> tuple[np.ndarray | None, list[tuple[tuple[Any, ...], int, int]]]:
        """A batch's rows grouped by key: the permutation that makes each key's rows contiguous (in batch order;
        ``None``: no reordering needed) and, per key, its rows ``start:stop`` in that order. Keys are the Python
        values requests carry."""
        positions = [self.position(k) for k in keys]
        if n == 0:
            return None, []
        if n == 1 or not positions:
            return None, [(tuple(self._key_value(p, values[p][0], valid[p][0]) for p in positions), 0, n)]
        combined = np.zeros(n, dtype=np.int64)
        for p in positions:
            # NULL is its own group: code 0, values shifted up by one.
            u, inverse = np.unique(values[p], return_inverse=True)
            codes = np.where(valid[p], inverse + 1, 0)
            combined = combined * (len(u) + 1) + codes
        groups, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        if len(groups) == 1:
            return None, [(tuple(self._key_value(p, values[p][0], valid[p][0]) for p in positions), 0, n)]
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(groups) + 1)).tolist()
        out = []
        for g, row in enumerate(first.tolist()):
            key = tuple(self._key_value(p, values[p][row], valid[p][row]) for p in positions)
            out.append((key, bounds[g], bounds[g + 1]))
        return order, out

    def _key_value(self, p: int, value: Any, ok: Any) -> Any:
        if not ok:
            return None
        if p in self.strings:
            return self.strings[p].strings[int(value)]
        return value.item()


# --------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class _JoinPlan:
    table: str
    left_keys: tuple[int, ...]  # positions in the main table
    index: tuple[tuple[str, ...], str | None]
    bound: tuple[str, int] | None  # (op, main-table position): right.order <op> left.column
    fields: tuple[Field, ...]
    positions: tuple[int, ...]  # of ``fields`` in the right table
    ttl: TTL


@dataclass(frozen=True)
class _WindowPlan:
    frame: Frame
    keys: tuple[str, ...]
    key_positions: tuple[int, ...]
    order: str | None
    order_position: int | None
    aggregates: tuple[WindowAgg, ...]
    ttl: TTL
    # Per aggregate: its kernel and, per argument, the main-table column it reads directly (None: an expression).
    calls: tuple[tuple[WindowAgg, AggregateImpl, tuple[int | None, ...]], ...]
    # The main-table columns the aggregates read (all of them if any argument is an expression).
    columns: tuple[int, ...]
    bucket_ms: int | None  # long window: pre-aggregated in buckets of this size (OPTIONS(long_windows=...))
    schema: tuple[Field, ...]  # the main table's columns (what expression arguments read)


#: How an output of a deployment is produced (:attr:`FastPlan.outputs`).
_AGGREGATE, _COLUMN, _EXPRESSION = 0, 1, 2


@dataclass(frozen=True)
class FastPlan:
    """A deployment that the direct path can serve, and the indexes it reads."""

    main: Scan
    joins: tuple[_JoinPlan, ...]
    windows: tuple[_WindowPlan, ...]
    # The columns of a joined row: the main table's, then each joined table's.
    fields: tuple[Field, ...]
    # Every window aggregate, windows in order and each window's in the order of its calls.
    aggregates: tuple[WindowAgg, ...]
    # Per output: (_AGGREGATE, position in ``aggregates``), (_COLUMN, position in ``fields``) or (_EXPRESSION, 0).
    outputs: tuple[tuple[int, int], ...]
    tables: tuple[str, ...]  # the tables a request reads

    def indexes(self) -> list[tuple[str, tuple[str, ...], str | None, TTL]]:
        out = [(self.main.table, w.keys, w.order, w.ttl) for w in self.windows]
        out += [(j.table, *j.index, j.ttl) for j in self.joins]
        return out


@dataclass(frozen=True)
class Declined:
    """Why the direct path cannot serve a deployment, so the general path (the executor's request mode) does.

    Kept with the deployment so that ``describe_deployment`` can say which path it takes and why, instead of the
    reason being lost in a bare ``None``.
    """

    reason: str  # a sentence naming the join or window and what in it the direct path does not read


def _join_name(right: Scan | SubqueryRel | LastJoin) -> str:
    """How a reason names a LAST JOIN: by its right side as written in the script."""
    if isinstance(right, Scan):
        return right.table if right.alias == right.table else f"{right.table} AS {right.alias}"
    return right.alias if isinstance(right, SubqueryRel) else "a nested join"


def _column_text(e: Expr) -> str:
    """A column as the script names it; an expression is not rendered back to SQL, only marked as one."""
    return f"{e.qualifier}.{e.name}" if isinstance(e, ColumnRef) else "<expression>"


def fast_plan(plan: Select, long_windows: Mapping[int, int] | None = None) -> FastPlan | Declined:
    """The direct-path description of ``plan``, or why it needs the general path (:class:`Declined`).

    Args:
        plan: the deployed script.
        long_windows: window index -> bucket size (ms) of the windows to pre-aggregate.
    """
    long_windows = long_windows or {}
    rel = plan.source
    joins: list[LastJoin] = []
    while isinstance(rel, LastJoin):
        joins.append(rel)
        rel = rel.left
    if not isinstance(rel, Scan):
        return Declined(f"FROM {_join_name(rel)}: the main relation is a subquery, not a stored table")
    main = rel
    main_quals = {main.alias, main.table}
    main_names = [f.name for f in main.schema]
    join_plans = []
    for join in reversed(joins):
        right = join.right
        what = f"LAST JOIN {_join_name(right)}"
        if not isinstance(right, Scan):
            return Declined(f"{what}: the joined relation is a subquery, not a stored table")
        left_keys, right_keys = [], []
        for lexpr, rexpr in join.equi_keys:
            if not (isinstance(lexpr, ColumnRef) and isinstance(rexpr, ColumnRef) and lexpr.qualifier in main_quals):
                return Declined(
                    f"{what}: an ON equality ({_column_text(lexpr)} = {_column_text(rexpr)}) is not between a column "
                    f"of {main.table} and a column of {right.table}"
                )
            left_keys.append(main_names.index(lexpr.name))
            right_keys.append(rexpr.name)
        order = join.order_by
        if order is not None and not isinstance(order, ColumnRef):
            return Declined(f"{what}: ORDER BY is an expression, not a column of {right.table}")
        bound = None
        if join.residual is not None:
            # The one residual the direct path applies: an upper as-of bound by a main-table column.
            as_of = as_of_bound(join.residual, order, {right.alias, right.table})
            if as_of is None:
                return Declined(
                    f"{what}: the ON condition besides the key equalities is not one comparison of the ORDER BY "
                    "column with the request row"
                )
            if as_of[0] not in ("le", "lt"):
                return Declined(f"{what}: the ON condition bounds the ORDER BY column from below (> or >=)")
            other = as_of[1]
            if not (isinstance(other, ColumnRef) and other.qualifier in main_quals):
                return Declined(
                    f"{what}: the ORDER BY column is bounded by {_column_text(other)}, not by a column of {main.table}"
                )
            bound = (as_of[0], main_names.index(other.name))
        if not right_keys:
            return Declined(f"{what}: the ON condition has no equality between the tables (no key to look up by)")
        right_names = [f.name for f in right.schema]
        # The newest match is all a join reads, unless a bound makes older rows reachable.
        ttl = TTL() if bound is not None else TTL(rows=1)
        join_plans.append(
            _JoinPlan(
                right.table,
                tuple(left_keys),
                (tuple(right_keys), order.name if order is not None else None),
                bound,
                right.schema,
                tuple(right_names.index(f.name) for f in right.schema),
                ttl,
            )
        )
    by_window: dict[int, list[WindowAgg]] = {}
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            what = f"{agg.name} over window {plan.windows[agg.window].name}"
            if any(collect(a, WindowAgg) for a in agg.args):
                return Declined(f"{what}: an argument is itself a window aggregate")
            if any(qualifiers_read(a) - main_quals for a in agg.args):
                return Declined(f"{what}: an argument reads a joined table's column, not only {main.table}'s")
            if agg not in by_window.setdefault(agg.window, []):
                by_window[agg.window].append(agg)
    windows = []
    for wi, w in enumerate(plan.windows):
        what = f"window {w.name}"
        if w.unions:
            return Declined(f"{what}: UNION adds the rows of other tables to the window")
        if w.frame.instance_not_in_window:
            return Declined(f"{what}: INSTANCE_NOT_IN_WINDOW leaves the stored rows of {main.table} out of the window")
        for k in w.partition_by:
            if not (isinstance(k, ColumnRef) and k.qualifier in main_quals):
                return Declined(f"{what}: PARTITION BY {_column_text(k)} is not a column of {main.table}")
        if w.order_by is not None and not (isinstance(w.order_by, ColumnRef) and w.order_by.qualifier in main_quals):
            return Declined(f"{what}: ORDER BY {_column_text(w.order_by)} is not a column of {main.table}")
        keys = tuple(k.name for k in w.partition_by if isinstance(k, ColumnRef))
        order_name = w.order_by.name if isinstance(w.order_by, ColumnRef) else None
        calls = tuple(
            (agg, _aggregate_impl(agg.name), tuple(_direct_column(a, main_quals, main_names) for a in agg.args))
            for agg in by_window.get(wi, [])
        )
        read = {p for _, _, positions in calls for p in positions}
        columns = tuple(range(len(main_names))) if None in read else tuple(sorted(p for p in read if p is not None))
        windows.append(
            _WindowPlan(
                w.frame,
                keys,
                tuple(main_names.index(k) for k in keys),
                order_name,
                main_names.index(order_name) if order_name is not None else None,
                tuple(by_window.get(wi, [])),
                window_ttl(w.frame),
                calls,
                columns,
                long_windows.get(wi),
                main.schema,
            )
        )
    joined = [(main_quals, f.name) for f in main.schema]
    for join in reversed(joins):
        assert isinstance(join.right, Scan)
        joined += [({join.right.alias, join.right.table}, f.name) for f in join.right.schema]
    aggregates = tuple(agg for w in windows for agg in w.aggregates)
    outputs = []
    for o in plan.outputs:
        column = None
        if isinstance(o.expr, ColumnRef):
            column = next((i for i, (q, n) in enumerate(joined) if o.expr.qualifier in q and o.expr.name == n), None)
        if isinstance(o.expr, WindowAgg):
            outputs.append((_AGGREGATE, aggregates.index(o.expr)))
        elif column is not None:
            outputs.append((_COLUMN, column))
        else:
            outputs.append((_EXPRESSION, 0))
    fields = (*main.schema, *(f for j in join_plans for f in j.fields))
    tables = tuple(dict.fromkeys([main.table, *(j.table for j in join_plans)]))
    return FastPlan(main, tuple(join_plans), tuple(windows), fields, aggregates, tuple(outputs), tables)


def _aggregate_impl(name: str) -> AggregateImpl:
    fn = REGISTRY.aggregate(name)
    assert fn is not None, name  # the binder resolved it
    return fn.impl


def _direct_column(e: Expr, quals: set[str], names: list[str]) -> int | None:
    """The main-table position of a bare column reference (read without evaluating anything), else None."""
    if isinstance(e, ColumnRef) and e.qualifier in quals:
        return names.index(e.name)
    return None


# --------------------------------------------------------------------------------------------- requests
def _to_int(v: Any) -> int:
    if type(v) is int:
        return v
    raise TypeError


def _to_float(v: Any) -> float:
    if type(v) is float or type(v) is int:
        return float(v)
    raise TypeError


def _to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise TypeError


def _to_str(v: Any) -> str:
    if type(v) is str:
        return v
    raise TypeError


def _to_timestamp(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, dt.datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=dt.timezone.utc)
        return (aware - _EPOCH) // dt.timedelta(milliseconds=1)
    raise TypeError


def _to_date(v: Any) -> int:
    if type(v) is dt.date:
        return (v - _EPOCH_DATE).days
    raise TypeError


_CONVERTERS: dict[SQLType, Callable[[Any], Any]] = {
    SQLType.INT16: _to_int,
    SQLType.INT32: _to_int,
    SQLType.INT64: _to_int,
    SQLType.FLOAT: _to_float,
    SQLType.DOUBLE: _to_float,
    SQLType.BOOL: _to_bool,
    SQLType.STRING: _to_str,
    SQLType.TIMESTAMP: _to_timestamp,
    SQLType.DATE: _to_date,
}


def python_rows_to_columns(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]], names: Sequence[str], types: Sequence[SQLType]
) -> list[list[Any]] | None:
    """Request rows (dicts or lists in schema order) as per-column physical Python values (``None`` for NULL).

    Returns ``None`` when any row needs the general conversion (another value type, a missing or extra field, an
    out-of-range integer): that path accepts what it can and reports the rest with row and field.
    """
    width = len(names)
    out: list[list[Any]] = [[] for _ in range(width)]
    convert = [_CONVERTERS[t] for t in types]
    ranges = [INT_RANGES.get(t) for t in types]
    try:
        for row in rows:
            if isinstance(row, Mapping):
                if len(row) > width:
                    return None
                values = [row.get(n) for n in names]
                if len(row) != width and sum(n in row for n in names) != len(row):
                    return None
            else:
                if len(row) != width:
                    return None
                values = list(row)
            for i, v in enumerate(values):
                if v is None:
                    out[i].append(None)
                    continue
                x = convert[i](v)
                r = ranges[i]
                if r is not None and not r[0] <= x <= r[1]:
                    return None
                out[i].append(x)
    except TypeError:
        return None
    return out


class RequestColumns:
    """Request rows in engine layout: per main-table column its physical values, validity and Python values."""

    def __init__(self, rows: TableRows, per_column: list[list[Any]]) -> None:
        self.py = per_column
        self.k = k = len(per_column[0]) if per_column else 0
        self.values: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.dictionaries: dict[int, np.ndarray] = {}
        self._order_values: dict[int, list[int]] = {}
        for i, (t, vals) in enumerate(zip(rows.types, per_column, strict=True)):
            has_null = None in vals
            self.valid.append(
                np.fromiter((v is not None for v in vals), dtype=np.bool_, count=k) if has_null else all_valid(k)
            )
            if i in rows.strings:
                codes, dictionary = rows.strings[i].request_codes(["" if v is None else v for v in vals])
                self.values.append(codes)
                self.dictionaries[i] = dictionary
            elif has_null:
                zero = False if t is SQLType.BOOL else 0
                self.values.append(np.array([zero if v is None else v for v in vals], dtype=rows.dtypes[i]))
            else:
                self.values.append(np.array(vals, dtype=rows.dtypes[i]))

    @staticmethod
    def from_arrow(rows: TableRows, table: pa.Table) -> RequestColumns:
        per_column = []
        for i, t in enumerate(rows.types):
            col = Column.from_arrow(table.column(i), t)
            # Physical values (dates as days, timestamps as ms), as python_rows_to_columns gives them.
            per_column.append(
                [v if ok else None for v, ok in zip(col.values.tolist(), col.valid.tolist(), strict=True)]
            )
        return RequestColumns(rows, per_column)

    def column(self, rows: TableRows, i: int) -> Column:
        return rows.column(i, self.values[i], self.valid[i], self.dictionaries.get(i))

    def order_values(self, rows: TableRows, p: int | None) -> list[int]:
        """Per request row, its int64 order value in column ``p`` (``None``: no order column, all 0)."""
        if p is None:
            return [0] * self.k
        cached = self._order_values.get(p)
        if cached is None:
            cached = order_values(Column(rows.types[p], self.values[p], self.valid[p])).tolist()
            self._order_values[p] = cached
        return cached


def serve_request(
    plan: Select,
    fast: FastPlan,
    req: RequestColumns,
    tables: Mapping[str, TableRows],
    ctx: EvalContext,
    preaggs: Mapping[WindowAgg, Preaggregate] | None = None,
) -> list[Column]:
    """Compute the request rows ``req`` (rows of the main table) the direct way (``preaggs``: the long-window
    pre-aggregations of the deployment, by aggregate)."""
    k = req.k
    main_rows = tables[fast.main.table]
    cols = [req.column(main_rows, i) for i in range(len(fast.main.schema))]
    for join in fast.joins:
        cols.extend(_join_columns(join, req, main_rows, tables[join.table]))
    results: list[Column] = []
    laid_out: dict[tuple[tuple[str, ...], str | None], _Candidates] = {}
    for window in fast.windows:
        if not window.calls:
            continue
        index = main_rows.indexes[(window.keys, window.order)]
        req_ts = req.order_values(main_rows, window.order_position)
        if k == 1:
            results += _window_row(window, index, main_rows, req, 0, req_ts[0], ctx, preaggs)
        elif k == 0:
            results += [Column.nulls(agg.type, 0) for agg in window.aggregates]
        elif preaggs and any(agg in preaggs for agg in window.aggregates):
            # Long windows combine partials per key and request row (preagg.Preaggregate.result).
            per_row = [_window_row(window, index, main_rows, req, j, req_ts[j], ctx, preaggs) for j in range(k)]
            results += [Column.concat(parts) for parts in zip(*per_row, strict=True)]
        else:
            ts_array = np.asarray(req_ts, dtype=np.int64)
            cand = laid_out.get((window.keys, window.order))
            if cand is None:
                # Every window on this index reads one layout (with the columns any of them reads).
                reading = sorted(
                    {i for w in fast.windows if (w.keys, w.order) == (window.keys, window.order) for i in w.columns}
                )
                cand = _candidates(index, main_rows, req, window.key_positions, ts_array, reading)
                laid_out[(window.keys, window.order)] = cand
            results += _window_rows(window, cand, ts_array, ctx)
    # Outputs that are an aggregate or a column are read directly; only real expressions are evaluated.
    out: list[Column] = []
    rel: RelData | None = None
    pre: dict[Expr, Column] = {}
    for o, (kind, i) in zip(plan.outputs, fast.outputs, strict=True):
        if kind == _AGGREGATE:
            out.append(results[i])
        elif kind == _COLUMN:
            out.append(cols[i])
        else:
            if rel is None:
                rel = RelData(fast.fields, cols, k)
                pre = dict(zip(fast.aggregates, results, strict=True))
            out.append(evaluate(o.expr, rel, ctx, pre))
    return out


def _join_columns(join: _JoinPlan, req: RequestColumns, main: TableRows, right: TableRows) -> list[Column]:
    """The right-side columns of one LAST JOIN for every request row (NULL where nothing matches).

    The index hands each request row its key's rows, sorted by the ORDER BY column then insertion (NULL keys match
    NULL keys, as in batch mode); the as-of bound and the choice of the newest row are batch mode's own
    (:func:`~openfeat_core.engine.lastjoin.as_of_cut`, :func:`~openfeat_core.engine.lastjoin.newest`), run on the
    keys' rows laid end to end."""
    index = right.indexes[join.index]
    k = req.k
    gs = np.zeros(k, dtype=np.int64)
    ge = np.zeros(k, dtype=np.int64)
    spans: dict[tuple[Any, ...], tuple[int, int]] = {}
    parts: list[KeySeries] = []
    offset = 0
    for j, key in enumerate(zip(*[req.py[p] for p in join.left_keys], strict=True)):
        span = spans.get(key)
        if span is None:
            s = index.series.get(key)
            if s is None or s.n == s.start:
                span = (offset, offset)
            else:
                span = (offset, offset + s.n - s.start)
                parts.append(s)
                offset = span[1]
            spans[key] = span
        gs[j], ge[j] = span
    if join.bound is not None and parts:
        op, position = join.bound
        order_s = np.concatenate([s.ts[s.start : s.n] for s in parts])
        limit = np.asarray(req.order_values(main, position), dtype=np.int64)
        gs, ge = as_of_cut(order_s, gs, ge, op, limit, req.valid[position])
    match = newest(gs, ge)
    out: list[Column] = []
    for p in join.positions:
        if parts:
            values = np.concatenate([s.values[p][s.start : s.n] for s in parts])
            valid = np.concatenate([s.valid[p][s.start : s.n] for s in parts])
        else:
            values, valid = np.zeros(1, dtype=right.dtypes[p]), np.zeros(1, dtype=np.bool_)
            match = np.zeros(k, dtype=np.int64)
        out.append(right.column(p, values, valid).take(match))
    return out


def _window_row(
    window: _WindowPlan,
    index: SeriesIndex,
    rows: TableRows,
    req: RequestColumns,
    j: int,
    req_ts: int,
    ctx: EvalContext,
    preaggs: Mapping[WindowAgg, Preaggregate] | None,
) -> list[Column]:
    """The window aggregates of request row ``j`` (in the order of ``window.calls``): its key's stored rows up to
    its time, then the row itself."""
    key = tuple([req.py[p][j] for p in window.key_positions])
    s = index.series.get(key)
    if s is None:
        s = KeySeries(rows.dtypes)
    start, n = s.start, s.n
    columns: dict[int, Column] = {}
    if n == start or window.order is None or s.ts[n - 1] <= req_ts:
        # The usual case: the request is the newest row. Its values go in the free slot after the key's rows.
        s.ts[n] = req_ts
        ts = s.ts[start : n + 1]
        frames = request_frame(window.frame, ts)
        for i in window.columns:
            values, valid = s.values[i], s.valid[i]
            values[n] = req.values[i][j]
            valid[n] = req.valid[i][j]
            columns[i] = rows.column(i, values[start : n + 1], valid[start : n + 1], req.dictionaries.get(i))
    else:
        # A request older than stored rows sees the rows up to its time (copies; rare).
        hi = start + int(np.searchsorted(s.ts[start:n], req_ts, side="right"))
        ts = np.append(s.ts[start:hi], req_ts)
        frames = request_frame(window.frame, ts)
        for i in window.columns:
            values = np.append(s.values[i][start:hi], req.values[i][j])
            valid = np.append(s.valid[i][start:hi], req.valid[i][j])
            columns[i] = rows.column(i, values, valid, req.dictionaries.get(i))
    cand: RelData | None = None
    out = []
    for agg, impl, arg_positions in window.calls:
        if preaggs:
            pre = preaggs.get(agg)
            if pre is not None:
                arguments = _rows_arguments(agg, arg_positions, columns, window.schema, ctx)
                combined = pre.result(key, ts, frames, arguments, ctx)
                if combined is not None:
                    out.append(combined if combined.type is agg.type else combined.with_type(agg.type))
                    continue
        if None in arg_positions:
            if cand is None:  # an expression argument: every column is needed (window.columns says so)
                cand = RelData(window.schema, [columns[i] for i in range(len(window.schema))], len(ts))
            args = [
                columns[p] if p is not None else evaluate(a, cand, ctx)
                for a, p in zip(agg.args, arg_positions, strict=True)
            ]
        else:
            args = [columns[p] for p in arg_positions if p is not None]
        col = impl(args, frames, ctx)
        out.append(col if col.type is agg.type else col.with_type(agg.type))
    return out


@dataclass
class _Candidates:
    """The candidate rows of a batch of request rows on one index, laid out once for every window reading it: each
    distinct key's stored rows up to the newest request time of that key, one key after another, then the request
    rows themselves (row ``offset + j`` is request row ``j``). Request row ``j`` may see ``cand_lo[j] ..
    cand_hi[j]-1`` (its key's stored rows up to its own time)."""

    ts: np.ndarray
    columns: dict[int, Column]
    cand_lo: np.ndarray
    cand_hi: np.ndarray
    offset: int


def _candidates(
    index: SeriesIndex,
    rows: TableRows,
    req: RequestColumns,
    key_positions: tuple[int, ...],
    req_ts: np.ndarray,
    columns: Sequence[int],
) -> _Candidates:
    k = req.k
    by_key: dict[tuple[Any, ...], list[int]] = {}
    if key_positions:
        for j, key in enumerate(zip(*[req.py[p] for p in key_positions], strict=True)):
            by_key.setdefault(key, []).append(j)
    else:
        by_key[()] = list(range(k))
    cand_lo = np.zeros(k, dtype=np.int64)
    cand_hi = np.zeros(k, dtype=np.int64)
    slices: list[tuple[KeySeries, int, int]] = []
    offset = 0
    ordered = index.order is not None
    for key, members in by_key.items():
        s = index.series.get(key)
        if s is None or s.n == s.start:
            cand_lo[members] = offset
            cand_hi[members] = offset
            continue
        live = s.n - s.start
        if not ordered or (len(members) == 1 and s.ts[s.n - 1] <= req_ts[members[0]]):
            hi: np.ndarray | int = live  # the usual case: the request is newer than every stored row of its key
            reach = live
        else:
            hi = np.searchsorted(s.ts[s.start : s.n], req_ts[members], side="right")
            reach = int(hi.max())
        cand_lo[members] = offset
        cand_hi[members] = offset + hi
        if reach:
            slices.append((s, s.start, s.start + reach))
        offset += reach
    ts = np.concatenate([*(s.ts[a:b] for s, a, b in slices), req_ts])
    laid_out: dict[int, Column] = {}
    for i in columns:
        values = np.concatenate([*(s.values[i][a:b] for s, a, b in slices), req.values[i]])
        valid = np.concatenate([*(s.valid[i][a:b] for s, a, b in slices), req.valid[i]])
        laid_out[i] = rows.column(i, values, valid, req.dictionaries.get(i))
    return _Candidates(ts, laid_out, cand_lo, cand_hi, offset)


def _window_rows(window: _WindowPlan, cand: _Candidates, req_ts: np.ndarray, ctx: EvalContext) -> list[Column]:
    """The window aggregates of every request row in one pass (in the order of ``window.calls``): one frame
    computation and one call per aggregate kernel serve every row, whatever its key (the kernels and the frame
    function are batch mode's)."""
    own = np.arange(cand.offset, cand.offset + len(req_ts), dtype=np.int64)
    frames = frame_bounds(window.frame, cand.ts, cand.cand_lo, cand.cand_hi, own, req_ts, monotone=False)
    return _aggregate(window, cand.columns, frames, len(cand.ts), ctx)


def _aggregate(
    window: _WindowPlan, columns: Mapping[int, Column], frames: WindowFrames, n: int, ctx: EvalContext
) -> list[Column]:
    """The window's aggregate kernels over candidate ``columns`` (``n`` rows), one value per frame."""
    cand: RelData | None = None
    out = []
    for agg, impl, arg_positions in window.calls:
        if None in arg_positions:
            if cand is None:  # an expression argument: every column is needed (window.columns says so)
                cand = RelData(window.schema, [columns[i] for i in range(len(window.schema))], n)
            args = [
                columns[p] if p is not None else evaluate(a, cand, ctx)
                for a, p in zip(agg.args, arg_positions, strict=True)
            ]
        else:
            args = [columns[p] for p in arg_positions if p is not None]
        col = impl(args, frames, ctx)
        out.append(col if col.type is agg.type else col.with_type(agg.type))
    return out


def _rows_arguments(
    agg: WindowAgg,
    positions: tuple[int | None, ...],
    columns: Mapping[int, Column],
    schema: Sequence[Field],
    ctx: EvalContext,
) -> Callable[[np.ndarray], list[Column]]:
    """The aggregate's arguments over some candidate rows (for long windows: the edges only)."""

    def arguments(rows: np.ndarray) -> list[Column]:
        taken = {i: c.take(rows) for i, c in columns.items()}
        rel: RelData | None = None
        out = []
        for a, p in zip(agg.args, positions, strict=True):
            if p is not None:
                out.append(taken[p])
            else:
                if rel is None:
                    rel = RelData(tuple(schema), [taken[i] for i in range(len(schema))], len(rows))
                out.append(evaluate(a, rel, ctx))
        return out

    return arguments


__all__ = [
    "TTL",
    "FastPlan",
    "KeySeries",
    "RequestColumns",
    "SeriesIndex",
    "StringCodes",
    "TableRows",
    "fast_plan",
    "python_rows_to_columns",
    "serve_request",
    "window_ttl",
]
