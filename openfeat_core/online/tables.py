"""How a table is stored online: its rows, kept once per index, per key, in engine layout.

A table of the :class:`~openfeat_core.online.store.OnlineStore` is a :class:`StoredTable`. Its rows live in its
indexes and nowhere else: an :class:`Index` (key columns, order column, retention) holds, per key, a
:class:`KeySeries` with the key's rows sorted by order value then insertion, every column a NumPy array in engine
layout (strings as codes of one dictionary per table column, :class:`StringCodes`), with a spare slot at the end
for a request row. Requests read these arrays directly (:mod:`openfeat_core.online.request_plan`); the executor's
request mode, for scripts the direct access cannot serve, reads rows gathered from the same series.

Which indexes a table has is decided by the deployments reading it (each with the TTL its windows and joins need,
docs/semantics.md section 9). Until one does, a table keeps its rows in one index without keys in insertion order
(:data:`ALL_ROWS`), which is dropped when the first deployment index takes over; a deployment that needs every row
(the executor reads all of a table) keeps it. Rows that no index keeps any more are gone: memory follows the rows
the TTLs keep.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column, DictColumn, all_valid
from openfeat_core.engine.relation import ColumnTable, RelationColumns, evaluate, order_values
from openfeat_core.functions.registry import EvalContext
from openfeat_core.online.preagg import Preaggregate
from openfeat_core.plan.nodes import Frame
from openfeat_core.types import SQLType, sql_type_of_arrow

TTLClock = Literal["data", "wall", "off"]

#: The index of a table without a deployment index: no keys, insertion order, everything kept.
ALL_ROWS: tuple[tuple[str, ...], str | None] = ((), None)


# --------------------------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class TTL:
    """How much history of a key an index keeps (OpenMLDB's TTL, docs/semantics.md section 9).

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
    for a request row. ``seq`` holds each row's insertion number in its table. A column's validity array exists
    only once the key has held a NULL in it (``None``: every row valid; read it with :meth:`validity`): most
    columns never do, and the flags would cost a byte per row and column.
    """

    __slots__ = ("n", "nullable", "seq", "start", "ts", "valid", "values")

    def __init__(self, dtypes: Sequence[np.dtype]) -> None:
        self.n = 0
        self.start = 0
        self.ts = np.zeros(4, dtype=np.int64)
        self.seq = np.zeros(4, dtype=np.int64)
        self.values = [np.zeros(4, dtype=d) for d in dtypes]
        self.valid: list[np.ndarray | None] = [None] * len(dtypes)
        self.nullable = False  # whether some column has a validity array

    def validity(self, i: int, start: int, stop: int) -> np.ndarray:
        """The validity of column ``i`` in rows ``start .. stop-1`` (a shared read-only array when all valid)."""
        v = self.valid[i]
        return all_valid(stop - start) if v is None else v[start:stop]

    def materialise(self, i: int) -> np.ndarray:
        """Column ``i``'s validity array, created (all valid) on the first NULL."""
        v = self.valid[i]
        if v is None:
            v = self.valid[i] = np.ones(len(self.ts), dtype=np.bool_)
            self.nullable = True
        return v

    def _reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows plus the request slot, dropping evicted rows when that is cheaper."""
        live = self.n - self.start
        need = live + extra + 1
        if self.start + need <= len(self.ts):
            return
        cap = len(self.ts)
        if need > cap // 2:
            # Grow by a quarter (amortised O(1) appends, at most a quarter of the memory unused), and by room for three
            # more appends of this size: a key taking a tenth of its rows per batch (a stream's micro-batches, bulk
            # inserts in batches) otherwise moved all its rows on nearly every append. That room is bounded by the
            # batch, not by the table.
            cap = max(need + 3 * extra, cap + cap // 4 + 4)
        s, e = self.start, self.n

        def moved(a: np.ndarray) -> np.ndarray:
            out = np.zeros(cap, dtype=a.dtype)
            out[:live] = a[s:e]
            return out

        self.ts = moved(self.ts)
        self.seq = moved(self.seq)
        self.values = [moved(v) for v in self.values]
        self.valid = [None if v is None else moved(v) for v in self.valid]
        self.start, self.n = 0, live

    def append(
        self,
        ts: np.ndarray,
        seq: np.ndarray,
        values: Sequence[np.ndarray],
        valid: Sequence[np.ndarray | None],
        sorted_ts: bool | None = None,
    ) -> None:
        """Add rows (in insertion order); each lands after every stored row with an order value <= its own.

        ``valid``: per column, the rows' validity (``None``: all valid). ``sorted_ts``: whether ``ts`` is known to be
        non-decreasing (``None``: check).
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
            for i, given in enumerate(valid):
                if given is not None:
                    self.materialise(i)[e : e + k] = given
                elif (flags := self.valid[i]) is not None:
                    flags[e : e + k] = True
        else:
            # Late rows: a stable sort of stored-then-new rows keeps insertion order among equal times.
            order = np.argsort(np.concatenate([self.ts[s:e], ts]), kind="stable")
            self.ts[s : e + k] = np.concatenate([self.ts[s:e], ts])[order]
            self.seq[s : e + k] = np.concatenate([self.seq[s:e], seq])[order]
            for dst, src in zip(self.values, values, strict=True):
                dst[s : e + k] = np.concatenate([dst[s:e], src])[order]
            for i, given in enumerate(valid):
                if given is not None or self.valid[i] is not None:
                    dst = self.materialise(i)
                    new = np.ones(k, dtype=np.bool_) if given is None else given
                    dst[s : e + k] = np.concatenate([dst[s:e], new])[order]
        self.n = e + k

    def evict(self, ttl: TTL, now_ms: int | None) -> int:
        """Drop rows outside ``ttl``, measured from ``now_ms`` (``None``: the key's newest row); returns how many."""
        s = self.start
        self.start = ttl.first_kept(self.ts, s, self.n, now_ms)
        return self.start - s

    def remove(self, drop: np.ndarray) -> None:
        """Drop the live rows where ``drop`` (a mask over rows ``start .. n-1``) is set; the others keep their order."""
        s, e = self.start, self.n
        keep = ~drop
        k = int(keep.sum())
        self.ts[s : s + k] = self.ts[s:e][keep]
        self.seq[s : s + k] = self.seq[s:e][keep]
        for a in self.values:
            a[s : s + k] = a[s:e][keep]
        for v in self.valid:
            if v is not None:
                v[s : s + k] = v[s:e][keep]
        self.n = s + k


class Index:
    """One index of a table: key -> :class:`KeySeries` for one (key columns, order column), with its retention.

    The rows of a table live in its indexes and nowhere else: each index keeps, per key, the rows its TTL keeps.
    """

    def __init__(self, keys: tuple[str, ...], order: str | None, ttl: TTL) -> None:
        self.keys = keys
        self.order = order
        self.ttl = ttl
        self.series: dict[tuple[Any, ...], KeySeries] = {}
        self.added = 0  # rows ever added (the rows it keeps: added - evicted - deleted)
        self.evicted = 0
        self.deleted = 0
        # Long-window partial results kept on this index, by Preaggregate.identity.
        self.preaggs: dict[tuple[Any, ...], Preaggregate] = {}

    @property
    def kept(self) -> int:
        """Rows it keeps (over every key)."""
        return self.added - self.evicted - self.deleted


@dataclass(frozen=True)
class IndexSpec:
    """An index a deployment needs or a table declares: rows of ``table`` grouped by ``keys``, ordered by ``ts``
    (``None``: insertion order), kept for ``ttl``.

    Attributes:
        declaration: for an index a table declares (``create_table(..., indexes=...)``, ``CREATE TABLE ...
            INDEX(...)``), the declaration as the catalog records it: ``name:key1|key2:ts[:ttl:ttl_type]``.
    """

    table: str
    keys: tuple[str, ...]
    ts: str | None
    ttl: TTL = TTL()
    declaration: str | None = None

    def describe(self) -> str:
        return f"{self.table}({'|'.join(self.keys)}; ts={self.ts or 'insertion order'}; keep {self.ttl.describe()})"


@dataclass(frozen=True)
class RowCondition:
    """``column op value`` on stored rows: ``position`` is the column's, ``value`` physical (as index keys hold it:
    timestamps in epoch ms, dates in days; ``None``: NULL, with ``=`` only), ``op`` one of :data:`_COMPARISONS`."""

    position: int
    op: str
    value: Any


_COMPARISONS = {
    "=": np.equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


class StoredTable:
    """One table of the online store: schema, string dictionaries, and its rows, kept by its indexes.

    Attributes:
        inserted: rows ever inserted (the next row's insertion number).
        evicted: rows evicted by the indexes' TTLs, counted per index.
        deleted: rows removed by :meth:`delete`.
        drops: how many times evicted rows were released for good: a request logged before the last drop may have
            seen rows that are gone (see :meth:`rows_before`).
    """

    def __init__(self, schema: pa.Schema, clock: TTLClock = "data", timezone: str = "UTC") -> None:
        self.schema = schema
        self.clock: TTLClock = clock
        self.timezone = timezone
        self.names = list(schema.names)
        self.types = [sql_type_of_arrow(f.type) for f in schema]
        self.dtypes = [np.dtype(np.int32) if t is SQLType.STRING else t.numpy_dtype for t in self.types]
        self.fields: list[tuple[str, SQLType]] = list(zip(self.names, self.types, strict=True))  # (name, type)
        self.strings = {i: StringCodes() for i, t in enumerate(self.types) if t is SQLType.STRING}
        self.indexes: dict[tuple[tuple[str, ...], str | None], Index] = {ALL_ROWS: Index((), None, TTL())}
        self.all_rows_needed = False  # a deployment reads every row: ALL_ROWS stays
        # OpenMLDB's disk tables (storage_mode SSD or HDD) store a row under its index key and ts: a later row with
        # the same key and ts replaces the earlier one in that index. Memory tables keep both.
        self.one_row_per_ts = False
        self.inserted = 0
        self.evicted = 0
        self.deleted = 0
        self.drops = 0
        # Evicted rows kept for the consistency checker while requests are logged (``retain_evicted``), as
        # (insertion numbers, values, validity) parts; released once they reach RETAIN_MIN_EVICTED rows (or as many
        # as an index keeps).
        self.retained: list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] | None = None
        self.retained_rows = 0

    # ------------------------------------------------------------------ layout
    def position(self, name: str) -> int:
        return self.names.index(name)

    def now_ms(self) -> int | None:
        return int(time.time() * 1000) if self.clock == "wall" else None

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

    def column(self, i: int, values: np.ndarray, valid: np.ndarray, dictionary: np.ndarray | None = None) -> Column:
        """Engine-layout arrays of column ``i`` as a column; string codes index ``dictionary``, by default the
        table's (a request's strings may hold codes beyond it, see :meth:`StringCodes.request_codes`)."""
        if i in self.strings:
            return DictColumn(values, self.strings[i].dictionary() if dictionary is None else dictionary, valid)
        return Column(self.types[i], values, valid)

    def columns_of(self, values: Sequence[np.ndarray], valid: Sequence[np.ndarray]) -> list[Column]:
        """Engine-layout arrays as columns (strings decoded through the table's dictionaries)."""
        return [self.column(i, values[i], valid[i]) for i in range(len(self.types))]

    # ------------------------------------------------------------------ indexes
    def add_index(self, keys: tuple[str, ...], order: str | None, ttl: TTL) -> Index:
        """The index for (keys, order), created if needed and filled from the rows the table keeps, its TTL
        widened to ``ttl`` (``ttl_clock="off"``: everything is kept). :data:`ALL_ROWS` asked for stays."""
        if self.clock == "off":
            ttl = TTL()
        if (keys, order) == ALL_ROWS:
            self.all_rows_needed = True
        index = self.indexes.get((keys, order))
        if index is not None:
            index.ttl = index.ttl.merge(ttl)
            return index
        seq, values, valid = self.live_rows()
        index = Index(keys, order, ttl)
        if len(seq):
            self.evicted += self._add_to_index(index, values, valid, seq, self.now_ms())
        self.indexes[(keys, order)] = index
        if not self.all_rows_needed and ALL_ROWS in self.indexes:
            # A deployment index took over: the rows no deployment index keeps are not needed any more.
            del self.indexes[ALL_ROWS]
        return index

    def add_preaggregate(self, index: Index, pre: Preaggregate) -> Preaggregate:
        """Keep ``pre`` on ``index`` (filled from the rows it holds), or return the equal one already kept."""
        existing = index.preaggs.get(pre.identity)
        if existing is not None:
            return existing
        index.preaggs[pre.identity] = pre
        for key, s in index.series.items():
            if s.n > s.start:
                live_values = [v[s.start : s.n] for v in s.values]
                live_valid = [s.validity(i, s.start, s.n) for i in range(len(s.valid))]
                pre.add(key, s.ts[s.start : s.n], self._arguments(pre, live_values, live_valid, s.n - s.start))
        return pre

    # ------------------------------------------------------------------ writes
    def append(self, batch: pa.RecordBatch) -> None:
        """Add a batch of rows (insertion numbers from :attr:`inserted`) to every index."""
        if batch.num_rows == 0:
            return
        values, valid = self.engine_columns(batch)
        self.append_columns(values, valid)

    def append_columns(self, values: list[np.ndarray], valid: list[np.ndarray]) -> None:
        """:meth:`append` of rows already in engine layout (:meth:`engine_columns`)."""
        n = len(values[0]) if values else 0
        if n == 0:
            return
        seq = np.arange(self.inserted, self.inserted + n, dtype=np.int64)
        self.inserted += n
        now = self.now_ms()
        self.evicted += sum(self._add_to_index(ix, values, valid, seq, now) for ix in self.indexes.values())

    def append_logged(self, batches: Sequence[pa.RecordBatch]) -> None:
        """Append consecutive logged inserts (recovery), giving the state ``append`` of each in turn gives.

        The rows are converted once, and the indexes take them in one call when that gives the same state as one
        call per entry: with TTLs measured from each key's newest row (not the wall clock), where a run of inserts is
        cut does not change the rows a key keeps at its end (the time limit drops rows older than the newest minus
        the TTL, and the newest only grows; the count limit drops rows with enough newer rows, and that number only
        grows; a late row ranks among the kept rows as among all rows), nor the eviction counts. What the cuts do
        change: the pre-aggregates' floating-point partial sums (summation order), and the rows retained for the
        consistency checker; so those take one entry at a time.
        """
        if len(batches) == 1:
            self.append(batches[0])
            return
        combined = pa.concat_batches(batches)
        values, valid = self.engine_columns(combined)
        if self.clock == "wall" or self.retained is not None or any(ix.preaggs for ix in self.indexes.values()):
            start = 0
            for b in batches:
                stop = start + b.num_rows
                self.append_columns([v[start:stop] for v in values], [v[start:stop] for v in valid])
                start = stop
        else:
            self.append_columns(values, valid)

    def delete(self, conditions: Sequence[RowCondition]) -> int:
        """Remove the kept rows that meet every condition from every index (a row is gone, not hidden by one
        index); returns how many rows were removed.

        The pre-aggregates of a key that lost rows are rebuilt from its remaining rows; while requests are logged the
        removed rows are retained for the consistency checker, as evicted ones are.
        """
        found: dict[int, tuple[KeySeries, int]] = {}  # insertion number -> a series holding the row, its position
        for ix in self._covering():
            for candidate in self._candidates(ix, conditions):
                if candidate.n > candidate.start:
                    hits = np.nonzero(self._matches(candidate, conditions))[0] + candidate.start
                    for pos, seq in zip(hits.tolist(), candidate.seq[hits].tolist(), strict=True):
                        found.setdefault(seq, (candidate, pos))
        if not found:
            return 0
        seqs = np.fromiter(found, dtype=np.int64, count=len(found))
        rows = list(found.values())
        if self.retained is not None:
            self._retain_rows(
                seqs.copy(),
                [np.array([s.values[i][pos] for s, pos in rows], dtype=self.dtypes[i]) for i in range(len(self.types))],
                [np.array([bool(s.validity(i, pos, pos + 1)[0]) for s, pos in rows]) for i in range(len(self.types))],
            )
        for ix in self.indexes.values():
            positions = [self.position(k) for k in ix.keys]
            keys = {
                tuple(self._key_value(p, s.values[p][pos], s.validity(p, pos, pos + 1)[0]) for p in positions)
                for s, pos in rows
            }
            for key in keys:
                series = ix.series.get(key)
                if series is None or series.n == series.start:
                    continue
                a, b = series.start, series.n
                drop = np.isin(series.seq[a:b], seqs)
                removed = int(drop.sum())
                if not removed:
                    continue
                series.remove(drop)
                ix.deleted += removed
                self._refill_preaggregates(ix, key, series)
        self.deleted += len(seqs)
        return len(seqs)

    def _refill_preaggregates(self, ix: Index, key: tuple[Any, ...], series: KeySeries) -> None:
        """Rebuild the pre-aggregates of ``key`` from the rows its series keeps (after rows left it out of order)."""
        a, b = series.start, series.n
        for pre in ix.preaggs.values():
            pre.keys.pop(key, None)
            if b > a:
                live_values = [v[a:b] for v in series.values]
                live_valid = [series.validity(i, a, b) for i in range(len(series.valid))]
                pre.add(key, series.ts[a:b], self._arguments(pre, live_values, live_valid, b - a))

    def _drop_replaced(self, ix: Index, key: tuple[Any, ...], series: KeySeries) -> None:
        """For :attr:`one_row_per_ts`: of the live rows sharing an order value, keep the last inserted."""
        a, b = series.start, series.n
        if b - a < 2:
            return
        ts = series.ts[a:b]
        replaced = np.zeros(b - a, dtype=np.bool_)
        replaced[:-1] = ts[1:] == ts[:-1]  # equal values lie together, in insertion order
        if not replaced.any():
            return
        if self.retained is not None:
            positions = np.nonzero(replaced)[0] + a
            self._retain_rows(
                series.seq[positions],
                [v[positions] for v in series.values],
                [series.validity(i, a, b)[replaced] for i in range(len(series.valid))],
            )
        series.remove(replaced)
        ix.deleted += int(replaced.sum())
        self._refill_preaggregates(ix, key, series)

    def _candidates(self, ix: Index, conditions: Sequence[RowCondition]) -> list[KeySeries]:
        """The series of ``ix`` that can hold rows meeting ``conditions``: the one key they fix when they set every
        key column with ``=``, else all."""
        fixed = {c.position: c.value for c in conditions if c.op == "="}
        positions = [self.position(k) for k in ix.keys]
        if positions and all(p in fixed for p in positions):
            series = ix.series.get(tuple(fixed[p] for p in positions))
            return [] if series is None else [series]
        return list(ix.series.values())

    def _matches(self, series: KeySeries, conditions: Sequence[RowCondition]) -> np.ndarray:
        """Which live rows of ``series`` meet every condition."""
        a, b = series.start, series.n
        mask = np.ones(b - a, dtype=np.bool_)
        for c in conditions:
            valid = series.validity(c.position, a, b)
            if c.value is None:  # `= NULL` picks the NULLs, as OpenMLDB's DELETE does
                mask &= ~valid
                continue
            target = c.value
            if c.position in self.strings:
                code = self.strings[c.position].index.get(c.value)
                if code is None:
                    return np.zeros(b - a, dtype=np.bool_)
                target = code
            mask &= valid & _COMPARISONS[c.op](series.values[c.position][a:b], target)
        return mask

    # ------------------------------------------------------------------ reads
    def live_rows(self) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Every row an index keeps, in insertion order: (insertion numbers, values, validity)."""
        return self._gather(self._live_parts(), None)

    def _covering(self) -> list[Index]:
        """Indexes that together hold every kept row: one that keeps everything, else all of them."""
        for ix in self.indexes.values():
            if ix.ttl.unbounded:
                return [ix]
        return list(self.indexes.values())

    def _live_parts(self) -> list[tuple[KeySeries, int, int]]:
        """The live rows of the covering indexes, per key (a row kept by two of them appears twice)."""
        return [(s, s.start, s.n) for ix in self._covering() for s in ix.series.values() if s.n > s.start]

    def _gather(
        self,
        parts: list[tuple[KeySeries, int, int]],
        extra: list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] | None,
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        width = len(self.types)
        seqs = [s.seq[a:b] for s, a, b in parts] + [e[0] for e in extra or ()]
        if not seqs:
            return (
                np.zeros(0, dtype=np.int64),
                [np.zeros(0, dtype=d) for d in self.dtypes],
                [np.zeros(0, dtype=np.bool_) for _ in range(width)],
            )
        seq = np.concatenate(seqs)
        # Insertion order, each row once (an index-wide union can hold a row twice).
        unique, first = np.unique(seq, return_index=True)
        values = [
            np.concatenate([s.values[i][a:b] for s, a, b in parts] + [e[1][i] for e in extra or ()])[first]
            for i in range(width)
        ]
        valid = [
            np.concatenate([s.validity(i, a, b) for s, a, b in parts] + [e[2][i] for e in extra or ()])[first]
            for i in range(width)
        ]
        return unique, values, valid

    def scan(self) -> pa.Table:
        """Every row the table keeps, in insertion order, as Arrow."""
        _, values, valid = self.live_rows()
        return self.to_arrow(values, valid)

    def to_arrow(self, values: Sequence[np.ndarray], valid: Sequence[np.ndarray]) -> pa.Table:
        arrays = [c.to_arrow().cast(f.type) for c, f in zip(self.columns_of(values, valid), self.schema, strict=True)]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def rows_before(self, inserted: int) -> pa.Table:
        """The rows inserted before the ``inserted``-th that the table kept, or retained for the consistency checker
        (rows evicted since are missing unless retained: see :attr:`drops`)."""
        seq, values, valid = self._gather(self._live_parts(), self.retained)
        keep = seq < inserted
        return self.to_arrow([v[keep] for v in values], [v[keep] for v in valid])

    def matching(self, wanted: Sequence[tuple[tuple[str, ...], Sequence[tuple[Any, ...]]]]) -> ColumnTable:
        """The rows whose index keys equal one of the requested key tuples, each row once, in insertion order, as
        engine columns (what the executor's request mode reads). ``wanted``: (key columns of an index without
        order column, key tuples as :meth:`key_values` gives them)."""
        parts = []
        for keys, requested in wanted:
            index = self.indexes[(keys, None)]
            for key in dict.fromkeys(requested):
                s = index.series.get(key)
                if s is not None and s.n > s.start:
                    parts.append((s, s.start, s.n))
        return self._column_table(parts)

    def key_values(self, array: pa.Array | pa.ChunkedArray, p: int) -> list[Any]:
        """Values of column ``p`` as index keys hold them (physical Python values: timestamps as epoch ms, dates as
        days; ``None`` for NULL)."""
        col = Column.from_arrow(array, self.types[p])
        if self.types[p] is SQLType.STRING:
            return col.to_pylist()
        return [v if ok else None for v, ok in zip(col.values.tolist(), col.valid.tolist(), strict=True)]

    def everything(self) -> ColumnTable:
        """Every row the table keeps, as engine columns."""
        return self._column_table(self._live_parts())

    def _column_table(self, parts: list[tuple[KeySeries, int, int]]) -> ColumnTable:
        seq, values, valid = self._gather(parts, None)
        columns = self.columns_of(values, valid)
        return ColumnTable(dict(zip(self.names, columns, strict=True)), len(seq))

    @property
    def num_rows(self) -> int:
        """Rows the table keeps (in at least one index)."""
        covering = self._covering()
        if len(covering) == 1:
            return covering[0].kept
        # Several indexes with TTLs: count the distinct insertion numbers, without gathering any column.
        seqs = [s.seq[a:b] for s, a, b in self._live_parts()]
        return len(np.unique(np.concatenate(seqs))) if seqs else 0

    @property
    def nbytes(self) -> int:
        """Engine-layout bytes of the rows the indexes keep: per index and row, its values, validity, order value
        and insertion number (spare capacity and the string dictionaries left out, so that equal contents give
        equal figures)."""
        row = sum(d.itemsize + 1 for d in self.dtypes) + 16
        return row * sum(ix.kept for ix in self.indexes.values())

    # ------------------------------------------------------------------ internals
    def _arguments(self, pre: Preaggregate, values: list[np.ndarray], valid: list[np.ndarray], n: int) -> list[Column]:
        rel = RelationColumns(pre.fields, self.columns_of(values, valid), n)
        return [evaluate(a, rel, EvalContext(self.timezone)) for a in pre.agg.args]

    def _add_to_index(
        self, index: Index, values: list[np.ndarray], valid: list[np.ndarray], seq: np.ndarray, now_ms: int | None
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
        # Columns without a NULL in this batch are passed as None: checked once here, not once per key.
        flags = [None if v.all() else v for v in valid]
        for key, start, stop in groups:
            series = index.series.get(key)
            if series is None:
                series = index.series[key] = KeySeries(self.dtypes)
            series.append(
                ts[start:stop],
                seq[start:stop],
                [v[start:stop] for v in values],
                [None if v is None else v[start:stop] for v in flags],
                sorted_ts,
            )
            if self.one_row_per_ts and index.order is not None:
                self._drop_replaced(index, key, series)
            for pre, cols in args:
                pre.add(key, ts[start:stop], [a.slice(start, stop) for a in cols])
            first = series.start
            dropped = series.evict(index.ttl, now_ms)
            if dropped:
                if self.retained is not None:
                    self._retain(series, first, series.start)
                for pre, _ in args:
                    pre.forget_before(key, int(series.ts[series.start]))
            evicted += dropped
        index.added += n
        index.evicted += evicted
        return evicted

    def retain_evicted(self, on: bool) -> None:
        """Keep evicted rows for the consistency checker (request logging on), or stop and release them."""
        if on and self.retained is None:
            self.retained = []
        elif not on:
            self.retained = None
            self.retained_rows = 0

    def _retain(self, series: KeySeries, start: int, stop: int) -> None:
        self._retain_rows(
            series.seq[start:stop].copy(),
            [v[start:stop].copy() for v in series.values],
            [series.validity(i, start, stop).copy() for i in range(len(series.valid))],
        )

    def _retain_rows(self, seq: np.ndarray, values: list[np.ndarray], valid: list[np.ndarray]) -> None:
        """Keep rows that left the table (evicted, deleted, replaced) for the consistency checker, within bounds."""
        assert self.retained is not None
        self.retained.append((seq, values, valid))
        self.retained_rows += len(seq)
        if self.retained_rows >= max(RETAIN_MIN_EVICTED, *(ix.kept for ix in self.indexes.values())):
            # Bounded: the rows requests logged before now saw are released (those requests are then skipped).
            self.retained = []
            self.retained_rows = 0
            self.drops += 1

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


#: While requests are logged, evicted rows are kept for the consistency checker until this many (or as many as the
#: table keeps) have piled up; then they are released, and requests logged before are skipped by ``verify``.
RETAIN_MIN_EVICTED = 100_000
