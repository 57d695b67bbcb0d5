"""The embedded online store: tables in memory, deployed feature scripts, and requests computed against them.

A request runs the deployment's plan in request mode (the very plan and kernels of batch mode) over the rows
the request can reach: for each window, the stored rows of the request's partition key, and for each LAST JOIN,
the right-table rows with the request's join key. Rows are found through per-index key maps that the deploy
derives from the script, as OpenMLDB derives its indexes (docs/semantics.md; ``ROWS n`` keeps the latest n rows,
``ROWS_RANGE d`` keeps d of history, merged per index).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.engine.executor import arrow_table, execute, main_scan
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.functions.agg_basic import COMBINABLE
from openfeat_core.functions.registry import REGISTRY, EvalContext
from openfeat_core.online.consistency import ConsistencyReport, FeatureReport, LoggedRequest, RequestLog, compare_rows
from openfeat_core.online.fastpath import (
    TTL,
    Declined,
    FastPlan,
    RequestColumns,
    TableRows,
    fast_plan,
    python_rows_to_columns,
    serve_request,
    window_ttl,
)
from openfeat_core.online.preagg import Preaggregate, parse_long_windows, preaggregates_for
from openfeat_core.online.wal import DurableLog, FsyncPolicy, PendingSnapshot
from openfeat_core.plan.nodes import (
    ColumnRef,
    LastJoin,
    Relation,
    Scan,
    Select,
    WindowAgg,
    collect,
    qualifiers_read,
    tables_read,
)
from openfeat_core.sql.binder import bind_sql
from openfeat_core.sql.dialect import INTERVAL_UNITS_MS, interval_ms
from openfeat_core.types import (
    DATE_RANGE_TEXT,
    TIMESTAMP_RANGE_TEXT,
    SQLType,
    first_out_of_range,
    parse_schema,
    sql_type_of_arrow,
)

_DEPLOY_RE = re.compile(
    r"^\s*deploy\s+(?:if\s+not\s+exists\s+)?(?P<name>[A-Za-z_][\w]*)\s*(?:options\s*\((?P<options>[^)]*)\)\s*)?(?P<sql>select\b.*)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class IndexSpec:
    """An index of a table: rows grouped by ``keys``, ordered by ``ts``, kept for ``ttl``.

    Attributes:
        table: the table.
        keys: key columns.
        ts: order column, or ``None`` (insertion order).
        ttl: how much history per key the index keeps (see :class:`~openfeat_core.online.fastpath.TTL`).
    """

    table: str
    keys: tuple[str, ...]
    ts: str | None
    ttl: TTL = field(default_factory=TTL)

    def describe(self) -> str:
        return f"{self.table}({'|'.join(self.keys)}; ts={self.ts or 'insertion order'}; keep {self.ttl.describe()})"


@dataclass(frozen=True)
class Lookup:
    """How a request finds the stored rows it can see: rows of ``table`` whose ``index_keys`` equal the request's
    ``request_keys`` (``None``: the keys do not come from the request row, so every row is reachable)."""

    table: str
    index_keys: tuple[str, ...]
    request_keys: tuple[str, ...] | None


@dataclass(frozen=True)
class IndexDeclaration:
    """An index a table declares (``create_table(..., indexes=...)``), read once.

    Attributes:
        text: the declaration, ``name:key1|key2:ts[:ttl:ttl_type]`` (what the catalog records and the binder reads).
        keys: its key columns.
        ts: its ts column, or ``None``.
        ttl: its retention (:func:`declared_ttl`).
    """

    text: str
    keys: frozenset[str]
    ts: str | None
    ttl: TTL


@dataclass
class Deployment:
    """One version of a deployed feature script."""

    name: str
    version: int
    sql: str
    plan: Select
    indexes: tuple[IndexSpec, ...]
    lookups: tuple[Lookup, ...]
    fast: FastPlan | None = None
    options: dict[str, str] = field(default_factory=dict)
    # Long-window pre-aggregations (OPTIONS(long_windows=...)), by the aggregate they serve.
    preaggs: dict[WindowAgg, Preaggregate] = field(default_factory=dict)
    # Why the direct path does not serve this deployment (``fast`` is None), else None.
    declined: str | None = None

    @property
    def access(self) -> dict[str, str]:
        """How requests are computed, for descriptions: the direct path, or the executor's request mode and why."""
        if self.declined is None:
            return {"path": "direct"}
        return {"path": "request_mode", "reason": self.declined}

    @cached_property
    def main_table(self) -> str:
        """The table whose rows are the requests."""
        return main_scan(self.plan).table

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.plan.outputs)

    @property
    def digest(self) -> str:
        """The plan's digest, and the options' when there are any (they change how the script is served)."""
        if not self.options:
            return self.plan.digest()
        text = self.plan.digest() + json.dumps(self.options, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


TTLClock = Literal["data", "wall", "off"]

#: A table is compacted (evicted rows dropped from its stored data) once this many rows were evicted since the last
#: compaction and at least as many as it keeps: the cost per inserted row stays constant.
COMPACT_MIN_EVICTED = 100_000


@dataclass
class _Table:
    schema: pa.Schema
    clock: TTLClock = "data"
    timezone: str = "UTC"
    declared_indexes: tuple[IndexDeclaration, ...] = ()  # given at creation (create_table)
    batches: list[pa.RecordBatch] = field(default_factory=list)
    # Insertion number of every stored row, per batch (ascending; evicted rows are gone after a compaction).
    batch_seqs: list[np.ndarray] = field(default_factory=list)
    _data: pa.Table | None = None
    # index key columns -> key tuple -> row ids (positions in data())
    keymaps: dict[tuple[str, ...], dict[tuple[Any, ...], list[int]]] = field(default_factory=dict)
    rows: int = 0  # stored rows, kept as batches arrive: describe/request must not cost more as inserts pile up
    nbytes: int = 0  # Arrow bytes of the stored rows
    inserted: int = 0  # rows ever inserted: the next insertion number
    evicted: int = 0  # rows evicted from every index, in total
    evicted_since_compaction: int = 0
    compactions: int = 0
    # The direct request path's state (fastpath.py): rows per key in engine layout, for each index it reads.
    direct: TableRows = field(init=False)

    def __post_init__(self) -> None:
        self.direct = TableRows(self.schema, self.timezone)

    def now_ms(self) -> int | None:
        return int(time.time() * 1000) if self.clock == "wall" else None

    @property
    def declared(self) -> list[str]:
        """The declared indexes as written (``name:key1|key2:ts[:ttl:ttl_type]``)."""
        return [d.text for d in self.declared_indexes]

    def add_series(self, keys: tuple[str, ...], order: str | None, ttl: TTL) -> None:
        if self.clock == "off":
            ttl = TTL()
        history = (self.data(), self.seqs()) if self.batches else None
        existing = self.direct.indexes.get((keys, order))
        before = existing.evicted if existing is not None else 0
        index = self.direct.add_index(keys, order, ttl, history, self.now_ms())
        self._count_evicted(index.evicted - before)

    def _count_evicted(self, evicted: int) -> None:
        self.evicted += evicted
        self.evicted_since_compaction += evicted
        if self.evicted_since_compaction >= max(COMPACT_MIN_EVICTED, self.rows - self.evicted_since_compaction):
            self.compact()

    @property
    def num_rows(self) -> int:
        return self.rows

    def data(self) -> pa.Table:
        if self._data is None:
            self._data = pa.Table.from_batches(self.batches, schema=self.schema).combine_chunks()
        return self._data

    def seqs(self) -> np.ndarray:
        return np.concatenate(self.batch_seqs) if self.batch_seqs else np.zeros(0, dtype=np.int64)

    def rows_before(self, inserted: int) -> pa.Table:
        """The stored rows inserted before the ``inserted``-th row."""
        return self.data().slice(0, int(np.searchsorted(self.seqs(), inserted, side="left")))

    def add_keymap(self, keys: tuple[str, ...]) -> None:
        if keys in self.keymaps:
            return
        keymap: dict[tuple[Any, ...], list[int]] = {}
        self.keymaps[keys] = keymap
        if self.batches:
            self._index_rows(keys, keymap, self.data(), 0)

    def append(self, batch: pa.RecordBatch) -> None:
        start = self.rows
        first_seq = self.inserted
        self.batches.append(batch)
        self.batch_seqs.append(np.arange(first_seq, first_seq + batch.num_rows, dtype=np.int64))
        self.rows += batch.num_rows
        self.nbytes += batch.nbytes
        self.inserted += batch.num_rows
        self._data = None
        table = pa.Table.from_batches([batch])
        for keys, keymap in self.keymaps.items():
            self._index_rows(keys, keymap, table, start)
        self._count_evicted(self.direct.add_rows(batch, first_seq, self.now_ms()))

    def append_logged(self, batches: Sequence[pa.RecordBatch]) -> None:
        """Append consecutive logged inserts (recovery), giving the state ``append`` of each in turn gives.

        The per-entry cost of ``append`` (the Arrow to engine-layout conversion, key-map indexing, one stored batch
        per entry) made a log of small inserts take minutes to replay, so the rows are converted and indexed once,
        and the indexes take as many entries at a time as :meth:`_entries_at_once` proves give the same state.
        """
        if len(batches) == 1:
            self.append(batches[0])
            return
        combined = pa.concat_batches(batches)
        if self.keymaps:  # (a table with key maps is never compacted: row positions only grow, as append has them)
            table = pa.Table.from_batches([combined])
            for keys, keymap in self.keymaps.items():
                self._index_rows(keys, keymap, table, self.rows)
        values, valid = self.direct.engine_columns(combined) if self.direct.indexes else ([], [])
        ends = np.cumsum([b.num_rows for b in batches])
        # Stored batches added since the last compaction, from row `tail` of `combined`: merged into one at the end
        # (same rows; one per logged entry would make every later data() concatenate them all).
        mark, seq_mark, tail, i = len(self.batches), len(self.batch_seqs), 0, 0
        while i < len(batches):
            j = i + self._entries_at_once(ends, i)
            start, stop = (int(ends[i - 1]) if i else 0), int(ends[j - 1])
            first_seq = self.inserted
            self.batches.append(combined.slice(start, stop - start))
            self.batch_seqs.append(np.arange(first_seq, first_seq + stop - start, dtype=np.int64))
            self.rows += stop - start
            self.nbytes += sum(b.nbytes for b in batches[i:j])  # the logged batches' sizes, as append counts them
            self.inserted += stop - start
            self._data = None
            compactions = self.compactions
            rows, ok = [v[start:stop] for v in values], [v[start:stop] for v in valid]
            self._count_evicted(self.direct.add_columns(rows, ok, first_seq, self.now_ms()) if values else 0)
            if self.compactions != compactions:
                mark, seq_mark, tail = len(self.batches), len(self.batch_seqs), stop
            i = j
        if len(self.batches) - mark > 1:
            self.batches[mark:] = [combined.slice(tail)]
            self.batch_seqs[seq_mark:] = [np.concatenate(self.batch_seqs[seq_mark:])]

    def _entries_at_once(self, ends: np.ndarray, i: int) -> int:
        """How many logged entries from the ``i``-th (rows ending at ``ends``) the indexes can take in one call with
        the state one call per entry gives (at least 1).

        With TTLs measured from each key's newest row (not the wall clock), where a run of inserts is cut does not
        change the rows a key keeps at its end: as rows arrive, the time limit drops rows older than the newest
        minus the TTL, and the newest only grows; the count limit drops rows with enough newer rows, and that
        number only grows; a dropped row stays dropped, and a late row ranks among the kept rows as among all rows
        (both ways of combining the two limits are as monotone). So the kept rows, their order and the eviction
        counts are the same. What the cuts do change: the pre-aggregates' floating-point partial sums (summation
        order), and compaction, which keeps the rows live when it runs, once the evictions since the last one
        reach a threshold. So entries go together only if compaction would do nothing (key maps, or an index
        that keeps everything) or the most evictions they can cause (every row the indexes keep and every new row,
        once per index) cannot reach the threshold.
        """
        indexes = self.direct.indexes.values()
        if self.clock == "wall" or any(ix.preaggs for ix in indexes):
            return 1
        if self.keymaps or not indexes or any(ix.ttl.unbounded for ix in indexes):
            return len(ends) - i
        budget = COMPACT_MIN_EVICTED - 1 - self.evicted_since_compaction - sum(ix.kept for ix in indexes)
        before = int(ends[i - 1]) if i else 0
        fits = int(np.searchsorted(ends[i:] - before, budget // max(1, len(indexes)), side="right"))
        return max(1, fits)

    def compact(self) -> None:
        """Drop the stored rows that no index keeps any more (only when every index of the table has a TTL and no
        general-path index refers to row positions)."""
        live = self.direct.live_rows()
        if live is None or self.keymaps:
            return
        seqs = self.seqs()
        keep = np.zeros(len(seqs), dtype=np.bool_)
        found = np.searchsorted(seqs, live)
        keep[found[found < len(seqs)]] = True
        data = self.data().filter(pa.array(keep)).combine_chunks()
        self.batches = data.to_batches() or []
        self.batch_seqs = [seqs[keep]]
        self.rows = data.num_rows
        self.nbytes = data.nbytes
        self._data = data
        self.evicted_since_compaction = 0
        self.compactions += 1

    @staticmethod
    def _index_rows(
        keys: tuple[str, ...], keymap: dict[tuple[Any, ...], list[int]], table: pa.Table, start: int
    ) -> None:
        columns = [table.column(k).to_pylist() for k in keys]
        for i, key in enumerate(zip(*columns, strict=True)):
            keymap.setdefault(key, []).append(start + i)


logger = logging.getLogger(__name__)

#: Default automatic-snapshot policy of a durable store: snapshot once this much log, or this many log entries, have
#: been written since the last snapshot, or once this long has passed with at least one write. Bounds the restart
#: time (the log replayed) and the disk the log takes, and drops the rows the TTLs evicted. The entry count is there
#: because replay costs mostly per entry for small inserts: 256 MiB of one-row inserts is ~400,000 entries
#: (docs/benchmarks.md, "Durable store: crashes and restarts").
SNAPSHOT_AFTER_BYTES = 256 << 20
SNAPSHOT_AFTER_ENTRIES = 100_000
SNAPSHOT_AFTER_SECONDS = 600.0
#: After a failed automatic snapshot (disk full...), the next attempt waits this long.
_SNAPSHOT_RETRY_SECONDS = 60.0
#: Recovery applies at most this many consecutive logged inserts together: bounds the decoded entries held at once.
_REPLAY_RUN_ENTRIES = 16_384


@dataclass(frozen=True)
class _CapturedTable:
    """A table as a snapshot captured it: immutable Arrow batches, and the rows an index still keeps (None: all)."""

    schema: pa.Schema
    batches: list[pa.RecordBatch]
    seqs: list[np.ndarray]
    live: np.ndarray | None

    def table(self) -> pa.Table:
        """The rows to write (the copy and the filter run on the snapshot thread, not under the store's lock)."""
        data = pa.Table.from_batches(self.batches, schema=self.schema).combine_chunks()
        if self.live is None:
            return data
        seqs = np.concatenate(self.seqs) if self.seqs else np.zeros(0, dtype=np.int64)
        return data.filter(pa.array(np.isin(seqs, self.live)))


class OnlineStore:
    """Tables, deployments and real-time feature requests, in process.

    Args:
        path: ``None`` keeps everything in memory only; a directory makes the store durable: every acknowledged
            insert and catalog change is in a write-ahead log (fsync per call by default), and a new store on the
            same directory recovers them (latest snapshot, then the log).
        fsync: the log's fsync policy: ``"batch"`` (once per call, default), ``"always"`` or ``"never"``.
        snapshot_after_bytes: a durable store snapshots itself (in a background thread) once the log written
            since the last snapshot reaches this size; ``None``: never by size.
        snapshot_after_entries: ... or once this many log entries (inserts and catalog changes) were written since
            the last snapshot; ``None``: never by count.
        snapshot_after_seconds: ... or once this long has passed since the last snapshot with at least one write;
            ``None``: never by age. All are checked after each insert. A snapshot drops the rows the TTLs evicted,
            so restart time and disk use stay bounded.
        timezone: IANA zone for calendar functions in deployed scripts.
        ttl_clock: what the TTLs derived from deployed windows are measured against. ``"data"`` (default): each
            key's newest row, so replaying last year's data keeps last year's windows full; ``"wall"``: the current
            time, as OpenMLDB does (historical rows older than the TTL are dropped on arrival); ``"off"``: never
            evict. Rows no index keeps are dropped from the table's stored data too (see ``describe_table``).

    Example:
        >>> store = OnlineStore()
        >>> store.create_table("tx", "card bigint, ts timestamp, amount double")
        >>> store.insert("tx", [{"card": 1, "ts": 1000, "amount": 5.0}])
        1
        >>> _ = store.deploy("f", "SELECT card, sum(amount) OVER w AS s FROM tx WINDOW w AS "
        ...                  "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)")
        >>> store.request("f", [{"card": 1, "ts": 2000, "amount": 1.0}]).to_pylist()
        [{'card': 1, 's': 6.0}]
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timezone: str = "UTC",
        fsync: FsyncPolicy = "batch",
        ttl_clock: TTLClock = "data",
        snapshot_after_bytes: int | None = SNAPSHOT_AFTER_BYTES,
        snapshot_after_seconds: float | None = SNAPSHOT_AFTER_SECONDS,
        snapshot_after_entries: int | None = SNAPSHOT_AFTER_ENTRIES,
    ) -> None:
        if ttl_clock not in ("data", "wall", "off"):
            raise ValueError(f"ttl_clock must be 'data', 'wall' or 'off', not {ttl_clock!r}")
        for option, value in (
            ("snapshot_after_bytes", snapshot_after_bytes),
            ("snapshot_after_seconds", snapshot_after_seconds),
            ("snapshot_after_entries", snapshot_after_entries),
        ):
            if value is not None and not value > 0:
                raise ValueError(f"{option} must be positive (or None to turn it off), not {value!r}")
        self._snapshot_after_bytes = snapshot_after_bytes
        self._snapshot_after_seconds = snapshot_after_seconds
        self._snapshot_after_entries = snapshot_after_entries
        self._snapshot_failures = 0
        self._snapshot_thread: threading.Thread | None = None
        self._last_snapshot = time.monotonic()
        self._next_snapshot_attempt = 0.0
        self._snapshot_error: BaseException | None = None
        self._snapshots_written = 0
        self._replayed_at_open = 0
        self._ttl_clock: TTLClock = ttl_clock
        self._tables: dict[str, _Table] = {}
        self._deployments: dict[str, list[Deployment]] = {}
        self._active: dict[str, int] = {}
        self._ctx = EvalContext(timezone)
        self._log: DurableLog | None = None
        self._request_log: RequestLog | None = None
        if path is not None:
            self._log = DurableLog(path, fsync=fsync)
            try:
                self._recover()
            except BaseException:
                self._log.close()  # releases the directory lock: a retry must not find it "already opened"
                raise

    def _recover(self) -> None:
        """Rebuild the store from the latest snapshot and the log entries after it."""
        assert self._log is not None
        snap = self._log.load_snapshot()
        if snap is not None:
            for record in snap.meta:
                self._apply_meta(record)
            for name, table in snap.tables.items():
                for batch in table.to_batches():
                    self._tables[name].append(batch)
            for record in snap.meta:
                # Counters of rows ever inserted and evicted: the snapshot holds only the rows still kept.
                if record["op"] == "create_table" and "inserted" in record:
                    t = self._tables[record["name"]]
                    t.inserted = max(t.inserted, record["inserted"])
                    t.evicted = record["evicted"]
        # Consecutive inserts into one table are applied together (see _Table.append_logged: the per-entry cost
        # made a log of small inserts take minutes to replay); a catalog change or another table ends a run.
        run: list[pa.RecordBatch] = []
        run_table: str | None = None
        for entry in self._log.replay():
            self._replayed_at_open += 1
            if run and (entry.table != run_table or len(run) >= _REPLAY_RUN_ENTRIES):
                assert run_table is not None
                self._tables[run_table].append_logged(run)
                run = []
            if entry.kind == "meta":
                assert entry.meta is not None
                self._apply_meta(entry.meta)
            else:
                assert entry.table is not None and entry.batch is not None
                run_table = entry.table
                run.append(entry.batch)
        if run:
            assert run_table is not None
            self._tables[run_table].append_logged(run)

    def _record(self, record: dict[str, Any]) -> None:
        """Log a catalog change (before applying it) when the store is durable."""
        if self._log is not None:
            self._log.append_meta(record)

    def _apply_meta(self, record: dict[str, Any]) -> None:
        op = record["op"]
        if op == "create_table":
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(record["schema"])))
            declared = tuple(_check_index_declaration(record["name"], schema, s) for s in record.get("indexes", ()))
            self._tables[record["name"]] = _Table(schema, self._ttl_clock, self._ctx.timezone, declared)
        elif op == "drop_table":
            del self._tables[record["name"]]
        elif op == "deploy":
            self._deploy(record["name"], record["sql"], record.get("options", {}))
        elif op == "restore":
            self._active[record["name"]] = record["version"] - 1
        elif op == "drop_deployment":
            del self._deployments[record["name"]]
            del self._active[record["name"]]

    def snapshot(self) -> None:
        """Write every table and the catalog to a snapshot and start a new log (durable stores only); waits for an
        automatic snapshot under way first.

        Raises:
            OSError, DurableLogError: the snapshot could not be written (the previous state stays recoverable).
        """
        if self._log is None:
            return
        self._wait_for_snapshot()
        try:
            pending, tables, meta = self._capture_snapshot()
            self._log.write_snapshot(pending, {n: c.table() for n, c in tables.items()}, meta)
        except Exception:
            self._snapshot_failures += 1
            raise
        self._snapshots_written += 1

    def durability(self) -> dict[str, Any]:
        """The state of the durable log: ``log_bytes_since_snapshot`` and ``log_entries_since_snapshot`` (what a
        restart replays), ``last_snapshot_at`` (when the snapshot a restart starts from was written, seconds since
        the epoch; ``None``: no snapshot), ``snapshots_written`` and ``snapshot_failures`` (by this process),
        ``snapshot_running``, ``last_snapshot_error`` (``None`` or its text) and ``replayed_at_open`` (log entries
        replayed when the store was opened). Empty for a memory store."""
        if self._log is None:
            return {}
        return {
            "log_bytes_since_snapshot": self._log.bytes_since_snapshot,
            "log_entries_since_snapshot": self._log.entries_since_snapshot,
            "last_snapshot_at": self._log.snapshot_written_at,
            "snapshots_written": self._snapshots_written,
            "snapshot_failures": self._snapshot_failures,
            "snapshot_running": self._snapshot_thread is not None and self._snapshot_thread.is_alive(),
            "last_snapshot_error": None if self._snapshot_error is None else str(self._snapshot_error),
            "replayed_at_open": self._replayed_at_open,
        }

    def _maybe_snapshot(self) -> None:
        """Start an automatic snapshot in the background when the policy says one is due."""
        log = self._log
        if log is None or (self._snapshot_thread is not None and self._snapshot_thread.is_alive()):
            return
        now = time.monotonic()
        if now < self._next_snapshot_attempt:
            return
        pending_bytes = log.bytes_since_snapshot
        by_size = (self._snapshot_after_bytes is not None and pending_bytes >= self._snapshot_after_bytes) or (
            self._snapshot_after_entries is not None and log.entries_since_snapshot >= self._snapshot_after_entries
        )
        by_age = (
            self._snapshot_after_seconds is not None
            and pending_bytes > 0
            and now - self._last_snapshot >= self._snapshot_after_seconds
        )
        if not (by_size or by_age):
            return
        try:
            pending, tables, meta = self._capture_snapshot()
        except Exception as exc:  # the insert that triggered it is acknowledged: report, do not fail it
            self._snapshot_failed(exc)
            return
        self._snapshot_thread = threading.Thread(
            target=self._write_snapshot, args=(pending, tables, meta), name="openfeat-snapshot", daemon=True
        )
        self._snapshot_thread.start()

    def _write_snapshot(
        self, pending: PendingSnapshot, tables: dict[str, _CapturedTable], meta: list[dict[str, Any]]
    ) -> None:
        assert self._log is not None
        try:
            self._log.write_snapshot(pending, {n: c.table() for n, c in tables.items()}, meta)
        except Exception as exc:
            self._snapshot_failed(exc)
        else:
            self._snapshots_written += 1
            self._snapshot_error = None

    def _snapshot_failed(self, exc: BaseException) -> None:
        logger.error("automatic snapshot failed (retrying in %.0f s): %s", _SNAPSHOT_RETRY_SECONDS, exc)
        self._snapshot_error = exc
        self._snapshot_failures += 1
        self._next_snapshot_attempt = time.monotonic() + _SNAPSHOT_RETRY_SECONDS

    def _wait_for_snapshot(self) -> None:
        if self._snapshot_thread is not None:
            self._snapshot_thread.join()
            self._snapshot_thread = None

    def _capture_snapshot(self) -> tuple[PendingSnapshot, dict[str, _CapturedTable], list[dict[str, Any]]]:
        """The catalog and the tables as of now (cheap: lists of immutable batches) and the log's snapshot point,
        taken together while no write can happen (the store is used from one thread at a time)."""
        assert self._log is not None
        meta: list[dict[str, Any]] = [
            {
                "op": "create_table",
                "name": n,
                "schema": _schema_b64(t.schema),
                "indexes": t.declared,
                "inserted": t.inserted,
                "evicted": t.evicted,
            }
            for n, t in self._tables.items()
        ]
        for name, versions in self._deployments.items():
            meta.extend({"op": "deploy", "name": name, "sql": d.sql, "options": d.options} for d in versions)
            meta.append({"op": "restore", "name": name, "version": self._active[name] + 1})
        tables = {
            # Rows no index keeps are left out, as a compaction drops them (not when a general-path index still
            # refers to row positions). Finding them costs a pass over the kept rows, so only when there are some.
            n: _CapturedTable(
                t.schema,
                list(t.batches),
                list(t.batch_seqs),
                t.direct.live_rows() if t.evicted_since_compaction and not t.keymaps else None,
            )
            for n, t in self._tables.items()
        }
        pending = self._log.begin_snapshot()
        self._last_snapshot = time.monotonic()
        return pending, tables, meta

    def close(self) -> None:
        """Wait for a snapshot under way, then close the log (durable stores)."""
        if self._log is not None:
            self._wait_for_snapshot()
            self._log.close()

    @property
    def timezone(self) -> str:
        """The IANA zone of calendar functions (and of timestamps written without an offset)."""
        return self._ctx.timezone

    # ------------------------------------------------------------------ tables
    def create_table(self, name: str, schema: pa.Schema | str, indexes: Sequence[str] = ()) -> None:
        """Create a table.

        Args:
            name: the table name.
            schema: a ``pyarrow.Schema`` or an OpenMLDB column list (``"uid bigint, ts timestamp"``).
            indexes: OpenMLDB index declarations, ``"name:key1|key2:ts[:ttl[:ttl_type]]"`` (as in ``CREATE TABLE
                ... INDEX(KEY=..., TS=..., TTL=..., TTL_TYPE=...)``). A LAST JOIN onto this table without ORDER BY
                takes, among the matches, the row with the newest ``ts`` of the index its keys hit, as OpenMLDB does;
                without one, the last inserted match. Deployments derive the indexes they need from their scripts;
                a declared index with the same keys and ts merges its TTL into theirs (:func:`declared_ttl`; no TTL
                keeps everything, OpenMLDB's default).
        """
        if name in self._tables:
            raise DataError(f"table {name!r} already exists")
        try:
            parsed = schema if isinstance(schema, pa.Schema) else parse_schema(schema)
        except ValueError as e:
            raise OpenFeatSQLError(f"table {name!r}: {e}") from None
        declared = tuple(_check_index_declaration(name, parsed, spec) for spec in indexes)
        table = _Table(parsed, self._ttl_clock, self._ctx.timezone, declared)
        self._record({"op": "create_table", "name": name, "schema": _schema_b64(parsed), "indexes": table.declared})
        self._tables[name] = table

    def drop_table(self, name: str) -> None:
        users = [d for d, versions in self._deployments.items() if name in tables_read(versions[self._active[d]].plan)]
        if users:
            raise DataError(f"table {name!r} is used by deployment(s) {', '.join(sorted(users))}; drop them first")
        self._table(name)
        self._record({"op": "drop_table", "name": name})
        del self._tables[name]

    def list_tables(self) -> list[str]:
        return sorted(self._tables)

    def describe_table(self, name: str) -> dict[str, Any]:
        t = self._table(name)
        return {
            "name": name,
            "schema": [(f.name, sql_type_of_arrow(f.type).openmldb_name) for f in t.schema],
            "declared_indexes": t.declared,
            "rows": t.num_rows,
            "inserted": t.inserted,
            "evicted": t.evicted,
            # The direct path's per-key series (with their TTL and evictions), then the general path's key maps.
            "indexes": [
                f"{'|'.join(keys)}; ts={order or 'insertion order'}; keep {ix.ttl.describe()}; evicted {ix.evicted}"
                for (keys, order), ix in t.direct.indexes.items()
            ]
            + [f"{'|'.join(keys)}; all rows" for keys in t.keymaps],
        }

    def table_stats(self) -> dict[str, dict[str, int]]:
        """Per table: stored rows, their Arrow bytes, rows ever inserted and rows evicted (cheap: for metrics)."""
        return {
            n: {"rows": t.rows, "bytes": t.nbytes, "inserted": t.inserted, "evicted": t.evicted}
            for n, t in self._tables.items()
        }

    def scan(self, name: str) -> pa.Table:
        """Every stored row of a table, in insertion order."""
        return self._table(name).data()

    def insert(self, name: str, rows: pa.Table | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> int:
        """Append rows (an Arrow table, dicts, or lists in schema order); returns the number of rows stored.

        Raises:
            DataError: a row does not fit the schema (the message names the row and field); nothing is stored.
        """
        table = self._table(name)
        batch = _to_batch(rows, table.schema, what=f"table {name!r}")
        if batch.num_rows:
            # The rows are in the log before the call returns: an acknowledged insert survives a crash.
            if self._log is not None:
                self._log.append_rows(name, batch)
            table.append(batch)
            self._maybe_snapshot()
        return batch.num_rows

    # ------------------------------------------------------------------ deployments
    def deploy(self, name: str, sql: str, options: Mapping[str, str] | None = None) -> Deployment:
        """Deploy ``sql`` (a SELECT, or ``DEPLOY name [OPTIONS(...)] SELECT ...``) as ``name``.

        Re-deploying the same script is a no-op; a changed script becomes a new version (see :meth:`restore`).

        Raises:
            OpenFeatSQLError: the SQL is wrong.
            NotSupportedError: the script cannot run online (WHERE, GROUP BY, LIMIT...), with the reason.
        """
        match = _DEPLOY_RE.match(sql)
        merged = dict(options or {})
        if match is not None:
            name = name or match.group("name")
            sql = match.group("sql")
            merged = {**parse_deploy_options(match.group("options") or ""), **merged}
        return self._deploy(name, sql, merged, log=True)

    def _deploy(self, name: str, sql: str, options: Mapping[str, str], *, log: bool = False) -> Deployment:
        catalog = {t: [(f.name, sql_type_of_arrow(f.type)) for f in tab.schema] for t, tab in self._tables.items()}
        declared = {t: tab.declared for t, tab in self._tables.items() if tab.declared_indexes}
        plan = bind_sql(sql, catalog, indexes=declared)
        _check_deployable(plan)
        options = _check_options(options)
        long_windows = parse_long_windows(options["long_windows"], plan) if "long_windows" in options else {}
        planned = fast_plan(plan, long_windows)
        fast = planned if isinstance(planned, FastPlan) else None
        declined = planned.reason if isinstance(planned, Declined) else None
        if long_windows and declined is not None:
            raise NotSupportedError(
                f"long_windows: {declined}; such a script is computed by the executor's request mode, which has no "
                "pre-aggregation"
            )
        candidate = Deployment(name, 0, sql, plan, (), (), fast, options)
        versions = self._deployments.get(name, [])
        if versions and versions[self._active[name]].digest == candidate.digest:
            return versions[self._active[name]]
        if log:
            self._record({"op": "deploy", "name": name, "sql": sql, "options": options})
        indexes, lookups = derive_indexes(plan)
        preaggs: dict[WindowAgg, Preaggregate] = {}
        if fast is None:  # the general path finds stored rows through key maps of row positions
            for spec in indexes:
                self._tables[spec.table].add_keymap(spec.keys)
        else:
            # One TTL per index, merged over every reader before the index is filled from the rows already stored.
            merged: dict[tuple[str, tuple[str, ...], str | None], TTL] = {}
            for table, keys, order, ttl in fast.indexes():
                key = (table, keys, order)
                merged[key] = merged[key].merge(ttl) if key in merged else ttl
            ms_bias, rows_bias = deploy_biases(options)
            for (table, keys, order), ttl in merged.items():
                ttl = ttl.widened(ms_bias, rows_bias)
                # An index the table declares with the same keys and ts merges its own TTL in, as in OpenMLDB.
                for declaration in self._tables[table].declared_indexes:
                    if declaration.keys == set(keys) and declaration.ts == order:
                        ttl = ttl.merge(declaration.ttl)
                self._tables[table].add_series(keys, order, ttl)
            main = self._tables[fast.main.table].direct
            impls = {n: fn.impl for n in COMBINABLE if (fn := REGISTRY.aggregate(n)) is not None}
            for pre in preaggregates_for(plan, long_windows, impls):
                window = fast.windows[pre.agg.window]
                pre.fields = fast.main.schema
                preaggs[pre.agg] = main.add_preaggregate(main.indexes[(window.keys, window.order)], pre)
        deployment = Deployment(
            name, len(versions) + 1, sql, plan, indexes, lookups, fast, options, preaggs, declined=declined
        )
        self._deployments[name] = [*versions, deployment]
        self._active[name] = len(versions)
        self._warm_up(deployment)
        return deployment

    def _warm_up(self, d: Deployment) -> None:
        """Serve one all-NULL request (not logged, nothing stored), so that the kernels' compiled code is loaded
        now and not on the first live request (about half a second in a fresh process)."""
        if d.fast is None:
            return
        main = self._tables[d.fast.main.table].direct
        nulls = RequestColumns(main, [[None] for _ in main.names])
        direct = {t: self._tables[t].direct for t in d.fast.tables}
        with contextlib.suppress(OpenFeatError):  # a script may reject NULL inputs; live rows decide
            serve_request(d.plan, d.fast, nulls, direct, self._ctx, d.preaggs)

    def restore(self, name: str, version: int) -> Deployment:
        """Make an earlier version of a deployment the active one."""
        versions = self._versions(name)
        if not 1 <= version <= len(versions):
            raise DataError(f"deployment {name!r} has versions 1..{len(versions)}, not {version}")
        self._record({"op": "restore", "name": name, "version": version})
        self._active[name] = version - 1
        return versions[version - 1]

    def drop_deployment(self, name: str) -> None:
        self._versions(name)
        self._record({"op": "drop_deployment", "name": name})
        del self._deployments[name]
        del self._active[name]

    def list_deployments(self) -> list[str]:
        return sorted(self._deployments)

    def describe_deployment(self, name: str) -> dict[str, Any]:
        d = self._deployment(name)
        return {
            "name": name,
            "version": d.version,
            "versions": len(self._versions(name)),
            "sql": d.sql,
            "digest": d.digest,
            "input_schema": [(f.name, f.type.openmldb_name) for f in main_scan(d.plan).schema],
            "output_schema": [(f.name, f.type.openmldb_name) for f in d.plan.schema],
            "indexes": [i.describe() for i in d.indexes],
            "options": dict(d.options),
            "preaggregated": sorted(
                {f"{p.agg.name} over {d.plan.windows[p.agg.window].name}" for p in d.preaggs.values()}
            ),
            "access": d.access,
        }

    def input_schema(self, name: str) -> list[tuple[str, SQLType]]:
        """The columns a request row of deployment ``name`` carries (its main table's), in order."""
        return [(f.name, f.type) for f in main_scan(self._deployment(name).plan).schema]

    # ------------------------------------------------------------------ requests
    def request(self, name: str, rows: pa.Table | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> pa.Table:
        """Compute the features of request rows against the stored rows (the rows are not stored).

        Each request row is the newest row at its time; it sees the stored rows of its keys up to its time.
        """
        names, columns, table = self._serve(name, rows)
        return table if table is not None else arrow_table(columns, names)

    def request_columns(
        self, name: str, rows: pa.Table | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]
    ) -> tuple[Sequence[str], list[Column]]:
        """:meth:`request` as engine columns (for callers that render rows themselves, such as the HTTP service)."""
        names, columns, table = self._serve(name, rows)
        if table is not None:
            d = self._deployment(name)
            columns = [Column.from_arrow(c, o.expr.type) for c, o in zip(table.columns, d.plan.outputs, strict=True)]
        return names, columns

    def _serve(
        self, name: str, rows: pa.Table | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]
    ) -> tuple[Sequence[str], list[Column], pa.Table | None]:
        """The response as engine columns (the direct path) or as the Arrow table the general path computes."""
        d = self._deployment(name)
        main = self._table(d.main_table)
        names = d.output_names

        def request_table() -> pa.Table:
            """The request rows as Arrow, checked against the main table's schema (row and field named on error)."""
            return pa.Table.from_batches([_to_batch(rows, main.schema, what=f"request to {name!r}")])

        requests: pa.Table | None = None
        columns: list[Column] = []
        table: pa.Table | None = None
        if d.fast is not None:
            per_column = None
            if not isinstance(rows, pa.Table):
                per_column = python_rows_to_columns(rows, main.direct.names, main.direct.types)
            if per_column is None:
                requests = request_table()
                req = RequestColumns.from_arrow(main.direct, requests)
            else:
                req = RequestColumns(main.direct, per_column)
            direct = {t: self._tables[t].direct for t in d.fast.tables}
            columns = serve_request(d.plan, d.fast, req, direct, self._ctx, d.preaggs)
        else:
            requests = request_table()
            reachable = {t: self._reachable_rows(d, t, requests) for t in tables_read(d.plan)}
            tables: dict[str, pa.Table] = {}
            for t, ids in reachable.items():
                data = self._tables[t].data()
                tables[t] = data if ids is None else data.take(pa.array(ids))
            table = execute(d.plan, tables, self._ctx, requests=requests)
        if self._request_log is not None:
            if requests is None:
                requests = request_table()
            used = tables_read(d.plan)
            sizes = {t: self._tables[t].inserted for t in used}
            compactions = {t: self._tables[t].compactions for t in used}
            response = table if table is not None else arrow_table(columns, names)
            self._request_log.offer(LoggedRequest(name, d.version, requests, response, sizes, compactions))
        return names, columns, table

    # ------------------------------------------------------------------ consistency
    def log_requests(self, rate: float = 1.0, *, seed: int = 0) -> None:
        """Keep a sample (``rate`` of the calls) of served requests, with their responses, for :meth:`verify`."""
        self._request_log = RequestLog(rate, seed)

    def verify(self, name: str) -> ConsistencyReport:
        """Recompute the logged requests of deployment ``name`` in batch mode and compare with what was served.

        Each logged request is appended, as the newest rows, to exactly the rows its tables held when it was
        served, and the batch engine computes it there. Any difference is an online/offline inconsistency.
        Requests served before a compaction of one of their tables (evicted rows dropped), or whose table has been
        dropped since, are counted as ``skipped``: the rows they saw are gone.
        """
        steps = self.verify_steps(name)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                report: ConsistencyReport = done.value
                return report

    def verify_steps(self, name: str) -> Generator[None, None, ConsistencyReport]:
        """:meth:`verify` in bounded steps: each ``next()`` recomputes one logged request row, and the report is
        the generator's return value. The store may be used between steps (the HTTP service serves feature
        requests and inserts in between, so that a long verify does not hold them up): the requests to check are
        fixed by the first step, and each one's rows are captured when its turn comes (Arrow slices, which later
        inserts and compactions leave intact).

        Raises:
            DataError: (on the first ``next()``) there is no deployment ``name``.
        """
        versions = self._versions(name)
        entries = [e for e in (self._request_log.entries if self._request_log else []) if e.deployment == name]
        reports: dict[str, FeatureReport] = {}
        rows = 0
        skipped = 0
        for entry in entries:
            current = {t: self._tables.get(t) for t in entry.table_rows}
            if any(
                stored is None or stored.compactions != entry.compactions.get(t, stored.compactions)
                for t, stored in current.items()
            ):
                skipped += 1
                continue
            d = versions[entry.version - 1]
            tables = {t: stored.rows_before(entry.table_rows[t]) for t, stored in current.items() if stored}
            main = main_scan(d.plan).table
            stored_main = tables[main]
            requests = entry.requests.cast(stored_main.schema)
            # Request rows of one call do not see each other: recompute each as the one newest row.
            offline = []
            for i in range(requests.num_rows):
                yield
                tables[main] = pa.concat_tables([stored_main, requests.slice(i, 1)])
                result = execute(d.plan, tables, self._ctx)
                # take() copies the row: a slice would keep the whole result alive, one per request row (a logged
                # request of 20,000 rows over 20,000 stored ones grew a verify to 19 GB).
                offline.append(result.take([result.num_rows - 1]))
            compare_rows(entry.response, pa.concat_tables(offline), reports)
            rows += requests.num_rows
        return ConsistencyReport(name, len(entries) - skipped, rows, list(reports.values()), skipped)

    def _reachable_rows(self, d: Deployment, table: str, requests: pa.Table) -> np.ndarray | None:
        """Row ids of ``table`` that the request rows can see through the deployment's indexes (None: all)."""
        lookups = [lk for lk in d.lookups if lk.table == table]
        if not lookups or any(lk.request_keys is None for lk in lookups):
            return None
        stored = self._tables[table]
        ids: set[int] = set()
        for lk in lookups:
            assert lk.request_keys is not None
            keymap = stored.keymaps[lk.index_keys]
            columns = [requests.column(k).to_pylist() for k in lk.request_keys]
            for key in zip(*columns, strict=True):
                ids.update(keymap.get(key, ()))
        return np.array(sorted(ids), dtype=np.int64)

    # ------------------------------------------------------------------ helpers
    def _table(self, name: str) -> _Table:
        try:
            return self._tables[name]
        except KeyError:
            known = ", ".join(sorted(self._tables)) or "none"
            raise DataError(f"unknown table {name!r} (tables: {known})") from None

    def _versions(self, name: str) -> list[Deployment]:
        try:
            return self._deployments[name]
        except KeyError:
            known = ", ".join(sorted(self._deployments)) or "none"
            raise DataError(f"unknown deployment {name!r} (deployments: {known})") from None

    def _deployment(self, name: str) -> Deployment:
        return self._versions(name)[self._active[name]]


def _check_index_declaration(table: str, schema: pa.Schema, spec: str) -> IndexDeclaration:
    """``spec`` (``name:key1|key2:ts[:ttl[:ttl_type]]``) read, or an error naming what is wrong (an
    :class:`OpenFeatSQLError`: the index is declared in the SQL, ``CREATE TABLE ... INDEX(...)``)."""
    parts = [p.strip() for p in str(spec).split(":")]
    if len(parts) < 2 or not parts[1]:
        raise OpenFeatSQLError(f"table {table!r}: index {spec!r} must read name:key1|key2[:ts], e.g. 'index1:card:ts'")
    names = set(schema.names)
    for key in parts[1].split("|"):
        if key.strip() not in names:
            raise OpenFeatSQLError(f"table {table!r}: index {spec!r}: key {key.strip()!r} is not a column")
    if len(parts) > 2 and parts[2]:
        if parts[2] not in names:
            raise OpenFeatSQLError(f"table {table!r}: index {spec!r}: ts {parts[2]!r} is not a column")
        ts_type = sql_type_of_arrow(schema.field(parts[2]).type)
        if not (ts_type.is_integer or ts_type is SQLType.TIMESTAMP):
            raise OpenFeatSQLError(
                f"table {table!r}: index {spec!r}: ts {parts[2]!r} must be an integer or timestamp column, "
                f"not {ts_type.openmldb_name}"
            )
    try:
        ttl = declared_ttl(spec)
    except ValueError as e:
        raise OpenFeatSQLError(f"table {table!r}: index {spec!r}: {e}") from None
    keys = frozenset(k.strip() for k in parts[1].split("|"))
    return IndexDeclaration(":".join(parts), keys, parts[2] if len(parts) > 2 and parts[2] else None, ttl)


_TTL_TYPES = ("absolute", "latest", "absandlat", "absorlat")


def declared_ttl(spec: str) -> TTL:
    """The retention of a declared index ``name:keys:ts[:ttl[:ttl_type]]``, read as OpenMLDB reads an index's TTL.

    ``ttl_type`` is ``absolute`` (default; ``ttl`` an interval such as ``30d`` or ``1440m``, a bare number being
    minutes), ``latest`` (a row count), or ``absandlat`` / ``absorlat`` (``ttl`` = ``interval,rows``). A TTL of 0,
    or none, keeps everything, as OpenMLDB's default ``absolute 0`` does.

    Raises:
        ValueError: the TTL or its type is malformed.
    """
    parts = [p.strip() for p in spec.split(":")]
    text = parts[3].strip("() ") if len(parts) > 3 else ""
    kind = (parts[4] if len(parts) > 4 and parts[4] else "absolute").lower()
    if kind not in _TTL_TYPES:
        raise ValueError(f"ttl type {kind!r} is not one of {', '.join(_TTL_TYPES)}")
    values = [v.strip() for v in text.split(",")] if text else []
    expected = 2 if kind in ("absandlat", "absorlat") else 1
    if values and len(values) != expected:
        shape = "interval,rows (e.g. '1440m,100')" if expected == 2 else ("rows" if kind == "latest" else "interval")
        raise ValueError(f"a {kind} ttl is {shape}, not {text!r}")
    ms = rows = 0
    if values and kind != "latest":
        parsed = interval_ms(values[0], INTERVAL_UNITS_MS["m"])
        if parsed is None:
            raise ValueError(f"ttl {values[0]!r} is not an interval such as 30d, 12h, 1440m or 60s")
        ms = parsed
    if values and kind != "absolute":
        if not values[-1].isdigit():
            raise ValueError(f"ttl {values[-1]!r} is not a row count")
        rows = int(values[-1])
    if kind == "absandlat" and (rows == 0 or ms == 0):
        return TTL()  # a part that keeps everything, and a row is kept when either part keeps it
    return TTL(rows=rows, ms=ms, either=kind != "absorlat")


def deploy_biases(options: Mapping[str, str]) -> tuple[int | None, int | None]:
    """DEPLOY's ``RANGE_BIAS`` (ms or an interval) and ``ROWS_BIAS`` (rows): how much more history than the scripts
    need every index keeps (``None``: all of it, for ``'inf'``; 0 when the option is absent).

    Raises:
        NotSupportedError: a bias is not ``inf``, a non-negative number or (for the range) an interval.
    """
    biases: list[int | None] = []
    for name, what in (("range_bias", "milliseconds or an interval such as 1h"), ("rows_bias", "rows")):
        text = str(options.get(name, "0")).strip().lower()
        if text == "inf":
            biases.append(None)
            continue
        value = interval_ms(text, 1) if name == "range_bias" else (int(text) if text.isdigit() else None)
        if value is None:
            raise NotSupportedError(f"DEPLOY option {name}={text!r}: expected 'inf' or a number of {what}")
        biases.append(value)
    return biases[0], biases[1]


def derive_indexes(plan: Select) -> tuple[tuple[IndexSpec, ...], tuple[Lookup, ...]]:
    """The indexes a deployment needs (one per table and keys, TTLs merged as OpenMLDB merges them), and how a
    request row reaches stored rows through them."""
    found: dict[tuple[str, tuple[str, ...]], IndexSpec] = {}
    lookups: dict[Lookup, None] = {}

    def add(spec: IndexSpec) -> None:
        key = (spec.table, spec.keys)
        old = found.get(key)
        found[key] = (
            spec if old is None else IndexSpec(spec.table, spec.keys, old.ts or spec.ts, old.ttl.merge(spec.ttl))
        )

    main = main_scan(plan)
    main_quals = {main.alias, main.table}
    leftmost = plan.source
    while isinstance(leftmost, LastJoin):
        leftmost = leftmost.left
    for window in plan.windows:
        refs = [k for k in window.partition_by if isinstance(k, ColumnRef)]
        keys = tuple(k.name for k in refs)
        ts = window.order_by.name if isinstance(window.order_by, ColumnRef) else None
        # The main table is indexed by the window's keys only when they are its own columns (not a subquery's
        # outputs or a joined table's, whose names may repeat the main table's); otherwise every row is reachable.
        on_main = (
            leftmost is main
            and all(k.qualifier in main_quals for k in refs)
            and (ts is None or (isinstance(window.order_by, ColumnRef) and window.order_by.qualifier in main_quals))
        )
        request_keys = keys if on_main else None
        sources = [main] if on_main else []
        for union in window.unions:
            names = {f.name for f in union.schema}
            if isinstance(union, Scan) and set(keys) <= names and (ts is None or ts in names):
                sources.append(union)
        for source in sources:
            add(IndexSpec(source.table, keys, ts, window_ttl(window.frame)))
            lookups[Lookup(source.table, keys, request_keys)] = None
    # Columns of joined tables that windows read: then stored main rows in a window need their own join matches, and
    # a join's stored rows cannot be narrowed to the request's key.
    window_reads: set[str] = set()
    for window in plan.windows:
        for e in (*window.partition_by, *([window.order_by] if window.order_by is not None else [])):
            window_reads |= qualifiers_read(e)
    for o in plan.outputs:
        for agg in collect(o.expr, WindowAgg):
            for a in agg.args:
                window_reads |= qualifiers_read(a)
    for join in _joins(plan.source):
        if isinstance(join.right, Scan):
            pairs = [(a, b) for a, b in join.equi_keys if isinstance(a, ColumnRef) and isinstance(b, ColumnRef)]
            keys = tuple(r.name for _, r in pairs)
            if keys:
                order = join.order_by.name if isinstance(join.order_by, ColumnRef) else None
                # The newest match is all a join reads, unless a condition can make older rows the match.
                add(IndexSpec(join.right.table, keys, order, TTL() if join.residual is not None else TTL(rows=1)))
                left = tuple(lft.name for lft, _ in pairs)
                direct = (
                    len(pairs) == len(join.equi_keys)
                    and all(lft.qualifier in (main.alias, main.table) for lft, _ in pairs)
                    and not window_reads & {join.right.alias, join.right.table}
                )
                lookups[Lookup(join.right.table, keys, left if direct else None)] = None
    return tuple(found.values()), tuple(lookups)


def _joins(rel: Relation) -> list[LastJoin]:
    if isinstance(rel, LastJoin):
        return [*_joins(rel.left), rel]
    return []


_OPTION_RE = re.compile(r"""\s*(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^,\s]+))\s*(?:,|$)""")

#: OPTIONS of OpenMLDB's DEPLOY that OpenFeat accepts: long_windows, range_bias and rows_bias are applied;
#: skip_index_check and sync tune OpenMLDB's own index creation and are accepted so that existing scripts deploy
#: unchanged.
DEPLOY_OPTIONS = ("long_windows", "skip_index_check", "sync", "range_bias", "rows_bias")


def parse_deploy_options(text: str) -> dict[str, str]:
    """``long_windows='w1:1d', sync="false"`` as a dict (names lower-cased)."""
    out: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _OPTION_RE.match(text, pos)
        if match is None:
            raise OpenFeatSQLError(f"malformed DEPLOY OPTIONS near {text[pos : pos + 30]!r}: expected name = 'value'")
        out[match.group(1).lower()] = next(g for g in match.groups()[1:] if g is not None)
        pos = match.end()
    return out


def _check_options(options: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(options) - set(DEPLOY_OPTIONS))
    if unknown:
        raise NotSupportedError(
            f"unknown DEPLOY option(s) {', '.join(unknown)}; OpenFeat knows {', '.join(DEPLOY_OPTIONS)}"
        )
    checked = {k: str(v) for k, v in sorted(options.items())}
    deploy_biases(checked)
    return checked


def _check_deployable(plan: Select) -> None:
    """OpenMLDB's online restrictions: a request computes one row per request row, from windows and joins."""
    reasons = []
    if not main_scan(plan).table:
        reasons.append("no FROM table (a deployment computes features of the rows of a table)")
    if plan.where is not None:
        reasons.append("WHERE (filter inside aggregates with the *_where functions instead)")
    if plan.group_by or plan.is_aggregation:
        reasons.append("GROUP BY or aggregates without OVER")
    if plan.having is not None:
        reasons.append("HAVING")
    if plan.limit is not None:
        reasons.append("LIMIT")
    for w in plan.windows:
        keys_ok = all(isinstance(k, ColumnRef) for k in w.partition_by)
        if not keys_ok:
            reasons.append(f"window {w.name!r} partitions by an expression (online windows need index key columns)")
    if reasons:
        raise NotSupportedError("this script cannot be deployed: " + "; ".join(reasons))


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _to_batch(
    rows: pa.Table | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]], schema: pa.Schema, *, what: str
) -> pa.RecordBatch:
    """Rows as one record batch of ``schema``; a value that does not fit names its row and field."""
    if isinstance(rows, pa.Table):
        missing = [f.name for f in schema if f.name not in rows.column_names]
        if missing:
            raise DataError(f"{what}: missing column(s) {', '.join(missing)}")
        try:
            batch = (
                rows.select(schema.names).cast(schema).combine_chunks().to_batches()[0]
                if rows.num_rows
                else pa.RecordBatch.from_pylist([], schema=schema)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise DataError(f"{what}: {e}") from None
        _check_temporal_range(batch, what)
        return batch
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            unknown = [k for k in row if k not in columns]
            if unknown:
                raise DataError(f"{what}: row {i}: unknown field(s) {', '.join(map(str, unknown))}")
            values = [row.get(f.name) for f in schema]
        else:
            if len(row) != len(schema):
                names = ", ".join(schema.names)
                raise DataError(f"{what}: row {i}: {len(row)} values for {len(schema)} columns ({names})")
            values = list(row)
        for f, v in zip(schema, values, strict=True):
            columns[f.name].append(v)
    arrays = []
    for f in schema:
        try:
            arrays.append(_array(columns[f.name], f))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
            bad = _first_bad(columns[f.name], f)
            type_name = sql_type_of_arrow(f.type).openmldb_name
            raise DataError(f"{what}: row {bad[0]}, field {f.name!r}: {bad[1]!r} is not a {type_name} ({e})") from None
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    _check_temporal_range(batch, what)
    return batch


def _check_temporal_range(batch: pa.RecordBatch, what: str) -> None:
    """Refuse timestamps and dates outside the one range every path accepts (``types.TIMESTAMP_RANGE_MS``), naming
    the first such row and field: an Arrow table or epoch integers can hold values that no export could write."""
    for f, column in zip(batch.schema, batch.columns, strict=True):
        t = sql_type_of_arrow(f.type)
        if t not in (SQLType.TIMESTAMP, SQLType.DATE):
            continue
        row = first_out_of_range(column)
        if row is not None:
            number = column.cast(pa.int64() if t is SQLType.TIMESTAMP else pa.int32())[row].as_py()
            text = TIMESTAMP_RANGE_TEXT if t is SQLType.TIMESTAMP else DATE_RANGE_TEXT
            raise DataError(
                f"{what}: row {row}, field {f.name!r}: {number} is outside the {t.openmldb_name} range ({text})"
            )


def _array(values: list[Any], f: pa.Field) -> pa.Array:
    t = sql_type_of_arrow(f.type)
    if t is SQLType.TIMESTAMP and all(v is None or isinstance(v, int) for v in values):
        return pa.array(values, pa.int64()).cast(f.type)
    if (t.is_integer or t is SQLType.BOOL) and any(isinstance(v, (float, str)) for v in values):
        raise TypeError("expected an integer")
    return pa.array(values, f.type)


def _first_bad(values: list[Any], f: pa.Field) -> tuple[int, Any]:
    for i, v in enumerate(values):
        try:
            _array([v], f)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return i, v
    return 0, values[0] if values else None


__all__ = ["Deployment", "IndexSpec", "OnlineStore", "derive_indexes"]
