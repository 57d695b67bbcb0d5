"""The embedded online store: tables in memory, deployed feature scripts, and requests computed against them.

The store holds the catalog (tables, deployments and their versions), durability (the write-ahead log and
snapshots, :mod:`openfeat_core.online.wal`) and the consistency checker. How a table's rows are kept is
:mod:`openfeat_core.online.tables` (per index, per key, in engine layout); how a request is computed is
:mod:`openfeat_core.online.request_plan` (the plan a DEPLOY compiles, served directly from the indexes or by the
executor's request mode over rows gathered from them).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.engine.executor import arrow_table, execute, main_scan
from openfeat_core.engine.relation import ColumnTable
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.functions.agg_basic import COMBINABLE
from openfeat_core.functions.registry import REGISTRY, EvalContext
from openfeat_core.jit import load_compiled
from openfeat_core.online.consistency import ConsistencyReport, FeatureReport, LoggedRequest, RequestLog, compare_rows
from openfeat_core.online.databases import bind_view
from openfeat_core.online.preagg import Preaggregate, parse_long_windows, preaggregates_for
from openfeat_core.online.request_plan import (
    BatchSplit,
    DirectPlan,
    RequestColumns,
    RequestPlan,
    compile_request_plan,
    serve_request,
    split_batch_plan,
)
from openfeat_core.online.rows import TypedRows, check_rows
from openfeat_core.online.tables import TTL, IndexSpec, RowCondition, StoredTable, TTLClock
from openfeat_core.online.wal import DurableLog, FsyncPolicy, PendingSnapshot
from openfeat_core.plan.nodes import Select, WindowAgg, tables_read
from openfeat_core.sql.binder import bind_sql
from openfeat_core.sql.dialect import INTERVAL_UNITS_MS, interval_ms, parse_deploy
from openfeat_core.sql.statements import Deploy
from openfeat_core.types import (
    DATE_RANGE_TEXT,
    TIMESTAMP_RANGE_TEXT,
    SQLType,
    first_out_of_range,
    parse_schema,
    sql_type_of_arrow,
)


@dataclass
class Deployment:
    """One version of a deployed feature script.

    Attributes:
        request_plan: the script compiled for requests (:func:`compile_request_plan`).
        indexes: the indexes it keeps, with their final retention (DEPLOY biases and declared TTLs applied).
        preaggs: long-window pre-aggregations (``OPTIONS(long_windows=...)``), by the aggregate they serve.
        reference: the statistics of the training set this version was deployed from
            (:mod:`openfeat_core.monitoring.reference`), which served features are compared with; None: unknown.
        procedure: the ``CREATE PROCEDURE`` statement as written when the deployment is a procedure (its ``CONST``
            parameters are the common columns of batch requests, :mod:`openfeat_core.online.procedures`).
    """

    name: str
    version: int
    sql: str
    plan: Select
    request_plan: RequestPlan
    options: dict[str, str] = field(default_factory=dict)
    indexes: tuple[IndexSpec, ...] = ()
    preaggs: dict[WindowAgg, Preaggregate] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    procedure: str | None = None
    #: The database it was deployed in (None: deployed through the Python API without one), and the store key of each
    #: table its plan reads, by the name the plan gives it (:func:`table_key`).
    database: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    # Per set of common request columns, the plan cut for batch requests (computed at the first such batch).
    batch_splits: dict[frozenset[str], BatchSplit] = field(default_factory=dict, repr=False)

    def batch_split(self, common: Collection[str]) -> BatchSplit:
        """The plan cut for batch requests whose ``common`` columns hold one value in every row
        (:func:`~openfeat_core.online.request_plan.split_batch_plan`)."""
        key = frozenset(common)
        split = self.batch_splits.get(key)
        if split is None:
            long_windows = (
                parse_long_windows(self.options["long_windows"], self.plan) if "long_windows" in self.options else {}
            )
            split = split_batch_plan(self.plan, self.request_plan, key, long_windows)
            self.batch_splits[key] = split
        return split

    @property
    def access(self) -> dict[str, Any]:
        """How requests are computed, for descriptions: the direct access or the executor's request mode (and why),
        then each window's and LAST JOIN's access."""
        return self.request_plan.describe()

    @cached_property
    def main_table(self) -> str:
        """The table whose rows are the requests (as the plan names it: :meth:`key` gives its store key)."""
        return main_scan(self.plan).table

    def key(self, table: str) -> str:
        """The store key of a table the plan reads."""
        return self.tables.get(table, table)

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


logger = logging.getLogger(__name__)

#: Rows given to :meth:`OnlineStore.insert` and :meth:`OnlineStore.request`: an Arrow table, rows checked already
#: (:class:`~openfeat_core.online.rows.TypedRows`), or dicts (column -> value) or lists in column order.
Rows: TypeAlias = "pa.Table | TypedRows | Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]"

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
        self._tables: dict[str, StoredTable] = {}
        self._declared: dict[str, tuple[IndexSpec, ...]] = {}
        # A table's OPTIONS as CREATE TABLE wrote them (partitionnum, replicanum, storage_mode...): catalog facts
        # that DESC and the table description show; one in-process store has no partitions or replicas to apply.
        self._table_options: dict[str, dict[str, Any]] = {}
        # The databases CREATE DATABASE made (a table's database is its ``database`` option; table names are one
        # namespace across databases).
        self._databases: set[str] = set()
        # Stream ingest (openfeat_core.streaming): the next offset of each consumed (topic, partition) and the dead
        # letters recorded so far, both written in the same log frames as the consumed rows.
        self._stream_positions: dict[tuple[str, int], int] = {}
        self._dead_letters: list[dict[str, Any]] = []
        self._deployments: dict[str, list[Deployment]] = {}
        self._active: dict[str, int] = {}
        self._ctx = EvalContext(timezone)
        self._log: DurableLog | None = None
        self._request_log: RequestLog | None = None
        #: Called with the seconds each write-ahead log append took (the service's metrics), or None.
        self.log_append_observer: Callable[[float], None] | None = None
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
                # Snapshots written before tables were kept per database name them without their database.
                stored = self._tables[self.resolve_table(name)]
                for batch in table.to_batches():
                    stored.append(batch)
            for record in snap.meta:
                # Counters of rows ever inserted and evicted: the snapshot holds only the rows still kept.
                if record["op"] == "create_table" and "inserted" in record:
                    t = self._tables[table_key(record["name"], (record.get("options") or {}).get("database"))]
                    t.inserted = max(t.inserted, record["inserted"])
                    t.evicted = record["evicted"]
                    t.deleted = record.get("deleted", 0)
        # Consecutive inserts into one table are applied together (see StoredTable.append_logged: the per-entry cost
        # made a log of small inserts take minutes to replay); a catalog change or another table ends a run.
        run: list[pa.RecordBatch] = []
        run_table: str | None = None
        for entry in self._log.replay():
            self._replayed_at_open += 1
            if run and (entry.table != run_table or len(run) >= _REPLAY_RUN_ENTRIES):
                assert run_table is not None
                self._tables[self.resolve_table(run_table)].append_logged(run)
                run = []
            if entry.stream is not None:
                self._apply_stream(entry.stream)
            if entry.kind == "meta":
                assert entry.meta is not None
                self._apply_meta(entry.meta)
            elif entry.kind == "stream":
                continue
            else:
                assert entry.table is not None and entry.batch is not None
                run_table = entry.table
                run.append(entry.batch)
        if run:
            assert run_table is not None
            self._tables[self.resolve_table(run_table)].append_logged(run)

    def _record(self, record: dict[str, Any]) -> None:
        """Log a catalog change (before applying it) when the store is durable."""
        if self._log is not None:
            start = time.perf_counter()
            self._log.append_meta(record)
            self._observe_append(start)

    def _observe_append(self, start: float) -> None:
        if self.log_append_observer is not None:
            self.log_append_observer(time.perf_counter() - start)

    def _apply_meta(self, record: dict[str, Any]) -> None:
        op = record["op"]
        if op == "create_table":
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(record["schema"])))
            declared = tuple(_check_index_declaration(record["name"], schema, s) for s in record.get("indexes", ()))
            options = record.get("options")
            self._add_table(table_key(record["name"], (options or {}).get("database")), schema, declared, options)
        elif op == "create_database":
            self._databases.add(record["name"])
        elif op == "drop_database":
            self._databases.discard(record["name"])
        elif op == "add_index":
            table = self.resolve_table(record["name"])
            self._add_index(table, _check_index_declaration(table, self._tables[table].schema, record["index"]))
        elif op == "drop_index":
            table = self.resolve_table(record["name"])
            self._declared[table] = tuple(d for d in self._declared[table] if _index_name(d) != record["index"])
        elif op == "drop_table":
            table = self.resolve_table(record["name"])
            del self._tables[table]
            del self._declared[table]
            del self._table_options[table]
        elif op == "delete_rows":
            stored = self._tables[self.resolve_table(record["name"])]
            stored.delete([RowCondition(stored.position(c), o, v) for c, o, v in record["where"]])
        elif op == "deploy":
            self._deploy(
                record["name"],
                record["sql"],
                record.get("options", {}),
                procedure=record.get("procedure"),
                database=record.get("database"),
            )
        elif op == "restore":
            self._active[self.resolve_deployment(record["name"])] = record["version"] - 1
        elif op == "drop_deployment":
            key = self.resolve_deployment(record["name"])
            del self._deployments[key]
            del self._active[key]
        elif op == "stream_state":
            self._apply_stream(record)
        elif op == "reference":
            self._versions(record["name"])[record["version"] - 1].reference = record["profile"]

    def _apply_stream(self, state: Mapping[str, Any]) -> None:
        """Take in the positions and dead letters of a logged stream frame (or of a snapshot's stream state)."""
        for topic, partition, offset in state.get("positions", ()):
            self._stream_positions[(topic, partition)] = offset
        self._dead_letters.extend(state.get("dead_letters", ()))

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
            self._log.write_snapshot(pending, tables, meta)
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
        self, pending: PendingSnapshot, tables: dict[str, pa.Table], meta: list[dict[str, Any]]
    ) -> None:
        assert self._log is not None
        try:
            self._log.write_snapshot(pending, tables, meta)
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

    def _capture_snapshot(self) -> tuple[PendingSnapshot, dict[str, pa.Table], list[dict[str, Any]]]:
        """The catalog and the rows each table keeps as of now, and the log's snapshot point, taken together while
        no write can happen (the store is used from one thread at a time). The rows are copied out of the indexes
        (later inserts change the series in place); writing them runs on the snapshot thread."""
        assert self._log is not None
        meta: list[dict[str, Any]] = [{"op": "create_database", "name": n} for n in sorted(self._databases)]
        meta += [
            {
                "op": "create_table",
                "name": self._bare(n),
                "schema": _schema_b64(t.schema),
                "indexes": _declared_texts(self._declared[n]),
                "options": self._table_options[n],
                "inserted": t.inserted,
                "evicted": t.evicted,
                "deleted": t.deleted,
            }
            for n, t in self._tables.items()
        ]
        for name, versions in self._deployments.items():
            meta.extend(
                {"op": "deploy", "name": d.name, "sql": d.sql, "options": d.options}
                | ({} if d.procedure is None else {"procedure": d.procedure})
                | ({} if d.database is None else {"database": d.database})
                for d in versions
            )
            meta.extend(
                {"op": "reference", "name": name, "version": d.version, "profile": d.reference}
                for d in versions
                if d.reference is not None
            )
            meta.append({"op": "restore", "name": name, "version": self._active[name] + 1})
        if self._stream_positions or self._dead_letters:
            meta.append({"op": "stream_state", **self._stream_state(self._stream_positions, self._dead_letters)})
        tables = {n: t.scan() for n, t in self._tables.items()}
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
    def create_table(
        self,
        name: str,
        schema: pa.Schema | str,
        indexes: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
    ) -> None:
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
            options: the table's OpenMLDB OPTIONS (``partition_num``, ``replica_num``, ``storage_mode``...) and the
                ``database`` it belongs to (:meth:`table_database`), kept in the catalog as given (JSON values) and
                shown by :meth:`describe_table`; they change nothing here. Tables of different databases may share
                a name (the store keys them ``db.name``, :func:`table_key`); a table without a database is in every
                database, so its name is taken in all of them.
        """
        database = None if not options or options.get("database") is None else str(options["database"])
        key = table_key(name, database)
        if key in self._tables:
            where = "" if database is None else f" in database {database!r}"
            raise DataError(f"table {name!r} already exists{where}")
        others = sorted(self._databases_holding(name), key=str)
        if others and (database is None or None in others):
            held = ", ".join("no database" if d is None else repr(d) for d in others)
            raise DataError(
                f"table {name!r} already exists ({held}): a table created without a database is in every database, "
                "so its name cannot be used in another one"
            )
        try:
            parsed = schema if isinstance(schema, pa.Schema) else parse_schema(schema)
        except ValueError as e:
            raise OpenFeatSQLError(f"table {name!r}: {e}") from None
        declared = tuple(_check_index_declaration(name, parsed, spec) for spec in indexes)
        texts = _declared_texts(declared)
        record: dict[str, Any] = {"op": "create_table", "name": name, "schema": _schema_b64(parsed), "indexes": texts}
        if options:
            record["options"] = dict(options)
        self._record(record)
        self._add_table(key, parsed, declared, options)

    def add_index(self, table: str, declaration: str) -> None:
        """Declare one more index on ``table`` (OpenMLDB's ``CREATE INDEX``): ``declaration`` as in
        :meth:`create_table`. The rows the table keeps are indexed at once.

        Raises:
            DataError: an unknown table, or an index of that name exists.
            OpenFeatSQLError: the declaration is wrong (an unknown column, a ts that is no integer or timestamp...).
        """
        table = self.resolve_table(table)
        spec = _check_index_declaration(self._bare(table), self._tables[table].schema, declaration)
        name = _index_name(spec)
        if any(_index_name(d) == name for d in self._declared[table]):
            raise DataError(f"table {self._bare(table)!r} already has an index named {name!r}")
        self._record({"op": "add_index", "name": table, "index": spec.declaration})
        self._add_index(table, spec)

    def _add_index(self, table: str, spec: IndexSpec) -> None:
        self._tables[table].add_index(spec.keys, spec.ts, spec.ttl)
        self._declared[table] = (*self._declared[table], spec)

    def drop_index(self, table: str, name: str) -> None:
        """Remove the declared index ``name`` of ``table`` from the catalog (OpenMLDB's ``DROP INDEX``). The rows
        stay where deployments or other indexes need them.

        Raises:
            DataError: an unknown table or index.
        """
        table = self.resolve_table(table)
        names = [_index_name(d) for d in self._declared[table]]
        if name not in names:
            raise DataError(
                f"table {self._bare(table)!r} has no index {name!r} (indexes: {', '.join(names) or 'none'})"
            )
        self._record({"op": "drop_index", "name": table, "index": name})
        self._declared[table] = tuple(d for d in self._declared[table] if _index_name(d) != name)

    def _add_table(
        self, key: str, schema: pa.Schema, declared: tuple[IndexSpec, ...], options: Mapping[str, Any] | None = None
    ) -> None:
        table = StoredTable(schema, self._ttl_clock, self._ctx.timezone)
        table.retain_evicted(self._request_log is not None)
        table.one_row_per_ts = str((options or {}).get("storage_mode", "")).lower() in ("ssd", "hdd")
        # A declared index with a TTL keeps its rows from the start, under that TTL (OpenMLDB expires rows by the
        # table's indexes, deployed or not); the table keeps the rows some index keeps. One without a TTL is the
        # table's all-rows index (no keys, cheap to fill): every row until a deployment's index takes over, as for a
        # table without declared indexes (memory then follows the deployments' TTLs), or for good beside an index
        # with a TTL, whose evictions it must not follow. A disk table's one row per key and ts needs each index.
        physical = [d for d in declared if table.one_row_per_ts or not d.ttl.unbounded]
        table.all_rows_needed = 0 < len(physical) < len(declared)
        for spec in physical:
            table.add_index(spec.keys, spec.ts, spec.ttl)
        self._tables[key] = table
        self._declared[key] = declared
        self._table_options[key] = dict(options or {})

    def drop_table(self, name: str, database: str | None = None) -> None:
        """Remove a table (``name`` as :meth:`resolve_table` takes it), which no deployment may read."""
        key = self.resolve_table(name, database)
        shown = _displayed(self._deployments)
        users = [
            shown[k] for k, versions in self._deployments.items() if key in versions[self._active[k]].tables.values()
        ]
        if users:
            raise DataError(f"table {name!r} is used by deployment(s) {', '.join(sorted(users))}; drop them first")
        self._record({"op": "drop_table", "name": key})
        del self._tables[key]
        del self._declared[key]
        del self._table_options[key]

    def list_tables(self, database: str | None = None) -> list[str]:
        """The tables, by name: a name two databases hold is written ``db.name`` (what :meth:`resolve_table` takes).
        ``database``: only that database's tables and those created without one, by their bare names."""
        if database is not None:
            return sorted(
                self._bare(k) for k, o in self._table_options.items() if o.get("database") in (None, database)
            )
        return sorted(_displayed(self._tables).values())

    def table_databases(self) -> set[str]:
        """The databases tables were created in."""
        return {str(o["database"]) for o in self._table_options.values() if o.get("database") is not None}

    def has_table(self, key: str) -> bool:
        """Whether ``key`` (:func:`table_key`) names a table; cheap, for callers that pick between keys."""
        return key in self._tables

    def has_deployment(self, key: str) -> bool:
        """Whether ``key`` (:func:`table_key`) names a deployment; cheap, for callers that pick between keys."""
        return key in self._deployments

    def table_database(self, name: str) -> str | None:
        """The database a table was created in (its ``database`` option), or None (a table made without one)."""
        database = self._table_options[self.resolve_table(name)].get("database")
        return None if database is None else str(database)

    def resolve_table(self, name: str, database: str | None = None) -> str:
        """The store key of a table (:func:`table_key`).

        ``name`` is a key (``db.name``, or the name of a table made without a database) or a bare name. With
        ``database``, a bare name is that database's table, else a table made without a database (which is in every
        database). Without, a bare name must be held by one database only.

        Raises:
            DataError: no such table, or a bare name several databases hold (the message names them).
        """
        if database is not None:
            key = table_key(name, database)
            if key in self._tables:
                return key
            if name in self._tables and self._table_options[name].get("database") is None:
                return name
            elsewhere = sorted(d for d in self._databases_holding(name) if d is not None)
            if elsewhere:
                raise DataError(
                    f"table {name!r} is not in database {database!r}: it is in database {elsewhere[0]!r} "
                    f"(name it {elsewhere[0]}.{name})"
                )
            known = ", ".join(self.list_tables(database)) or "none"
            raise DataError(f"unknown table {name!r} (tables: {known}) in database {database!r}")
        if name in self._tables:
            return name
        matches = sorted(k for k in self._tables if self._bare(k) == name)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise DataError(f"table {name!r} is in several databases ({', '.join(matches)}): name it with its database")
        known = ", ".join(self.list_tables()) or "none"
        raise DataError(f"unknown table {name!r} (tables: {known})")

    def _bare(self, key: str) -> str:
        """A table's name without its database."""
        database = self._table_options[key].get("database")
        return key if database is None else key[len(str(database)) + 1 :]

    def _databases_holding(self, name: str) -> set[str | None]:
        """The databases that hold a table called ``name`` (None: one made without a database)."""
        return {o.get("database") for k, o in self._table_options.items() if self._bare(k) == name}

    # ------------------------------------------------------------------ databases
    def create_database(self, name: str) -> None:
        """Register a database (OpenMLDB's ``CREATE DATABASE``).

        Raises:
            DataError: it exists.
        """
        if name in self._databases:
            raise DataError(f"database {name!r} already exists")
        self._record({"op": "create_database", "name": name})
        self._databases.add(name)

    def drop_database(self, name: str) -> None:
        """Remove a database, which must hold no table (OpenMLDB's ``DROP DATABASE``).

        Raises:
            DataError: an unknown database, or one that holds tables.
        """
        if name not in self._databases:
            raise DataError(f"unknown database {name!r} (databases: {', '.join(sorted(self._databases)) or 'none'})")
        tables = sorted(self._bare(t) for t in self._tables if self._table_options[t].get("database") == name)
        if tables:
            raise DataError(f"database {name!r} is not empty: drop its tables first ({', '.join(tables)})")
        self._record({"op": "drop_database", "name": name})
        self._databases.discard(name)

    def list_databases(self) -> list[str]:
        """The databases CREATE DATABASE made, by name."""
        return sorted(self._databases)

    def describe_table(self, name: str) -> dict[str, Any]:
        key = self.resolve_table(name)
        t = self._tables[key]
        return {
            "name": self._bare(key),
            "database": self._table_options[key].get("database"),
            "schema": [(f.name, sql_type_of_arrow(f.type).openmldb_name) for f in t.schema],
            "declared_indexes": _declared_texts(self._declared[key]),
            "options": dict(self._table_options[key]),
            "rows": t.num_rows,
            "inserted": t.inserted,
            "evicted": t.evicted,
            "deleted": t.deleted,
            # The indexes that keep the rows (with their TTL and evictions).
            "indexes": [
                f"{'|'.join(keys) or 'all rows'}; ts={order or 'insertion order'}; keep {ix.ttl.describe()}; "
                f"evicted {ix.evicted}"
                for (keys, order), ix in t.indexes.items()
            ],
        }

    def table_stats(self) -> dict[str, dict[str, int]]:
        """Per table: stored rows, their bytes (:attr:`StoredTable.nbytes`), rows ever inserted and rows evicted
        (cheap: for metrics)."""
        shown = _displayed(self._tables)
        return {
            shown[n]: {
                "rows": t.num_rows,
                "bytes": t.nbytes,
                "inserted": t.inserted,
                "evicted": t.evicted,
            }
            for n, t in self._tables.items()
        }

    def table_schema(self, name: str) -> pa.Schema:
        """A table's Arrow schema as created, its fields' metadata included (``CREATE TABLE``'s ``NOT NULL`` and
        ``DEFAULT``: ``openfeat.not_null``, ``openfeat.default``)."""
        return self._table(name).schema

    def table_columns(self, name: str) -> list[tuple[str, SQLType]]:
        """``(name, type)`` of a table's columns, in order: what its inserted rows are checked against."""
        return list(self._table(name).fields)

    def scan(self, name: str) -> pa.Table:
        """Every stored row of a table, in insertion order."""
        return self._table(name).scan()

    def insert(self, name: str, rows: Rows) -> int:
        """Append rows (an Arrow table, dicts, or lists in schema order); returns the number of rows stored.

        Raises:
            DataError: a row does not fit the schema, or holds NULL in a ``NOT NULL`` column (the message names the
                row and field); nothing is stored.
        """
        key = self.resolve_table(name)
        name = self._bare(key)
        table = self._tables[key]
        batch = _to_batch(rows, table, what=f"table {name!r}")
        _check_not_null(batch, f"table {name!r}")
        if batch.num_rows:
            # The rows are in the log before the call returns: an acknowledged insert survives a crash.
            if self._log is not None:
                start = time.perf_counter()
                self._log.append_rows(key, batch)
                self._observe_append(start)
            table.append(batch)
            self._maybe_snapshot()
        return batch.num_rows

    def delete(self, name: str, where: Sequence[tuple[str, str, Any]]) -> int:
        """Remove the rows that meet every ``(column, op, value)`` condition, from every index of the table (as
        ``DELETE FROM t WHERE ...``); returns how many rows were removed.

        As OpenMLDB's DELETE allows: ``column = value`` on each key column of one of the table's indexes (declared
        or deployed; a table with none has OpenMLDB's default index, its first column), and optionally ``=``, ``<``,
        ``<=``, ``>``, ``>=`` on that index's ts column; or conditions on an index's ts column alone (every key).
        ``value`` is a Python value of the column's type (timestamps in epoch ms or ``datetime``, dates as
        ``date``); ``None`` with ``=`` picks the NULLs. A durable store logs the deletion before applying it.

        Raises:
            DataError: an unknown table or column, or a value that does not fit its column.
            OpenFeatSQLError: the conditions do not name an index's keys (or ts) as OpenMLDB requires.
        """
        key = self.resolve_table(name)
        table = self._tables[key]
        conditions = _delete_conditions(self._bare(key), table, self._declared[key], where)
        logged = [[table.names[c.position], c.op, c.value] for c in conditions]
        self._record({"op": "delete_rows", "name": key, "where": logged})
        removed = table.delete(conditions)
        self._maybe_snapshot()
        return removed

    # ------------------------------------------------------------------ deployments
    def insert_consumed(
        self,
        name: str | None,
        rows: Rows | None,
        positions: Mapping[tuple[str, int], int],
        dead_letters: Sequence[Mapping[str, Any]] = (),
    ) -> int:
        """Append rows consumed from a stream together with the positions they advance and the dead letters of the
        bad messages among them: one log entry, so that after a crash all of it is there or none of it is.

        A consumer that resumes from :meth:`stream_positions` therefore neither skips nor repeats a message (see
        :mod:`openfeat_core.streaming`). ``name`` and ``rows`` are ``None`` when the messages brought no row.

        Args:
            name: the table the rows go to.
            rows: the rows (as for :meth:`insert`).
            positions: ``(topic, partition) -> next offset`` after the consumed messages; never backwards.
            dead_letters: JSON objects, one per bad message.

        Returns:
            The number of rows stored.

        Raises:
            DataError: a row does not fit the schema, or a position goes backwards; nothing is stored.
        """
        batch = None
        if name is not None:
            if rows is None:
                raise DataError(f"insert_consumed into table {name!r} without rows")
            name = self.resolve_table(name)
            batch = _to_batch(rows, self._tables[name], what=f"table {self._bare(name)!r}")
        for (topic, partition), offset in positions.items():
            stored = self._stream_positions.get((topic, partition))
            if not isinstance(offset, int) or offset < 0 or (stored is not None and offset < stored):
                raise DataError(
                    f"stream position {topic}[{partition}] may not go from {stored} back to {offset!r}: is another "
                    "consumer writing into this store?"
                )
        letters = [dict(d) for d in dead_letters]
        state = self._stream_state(positions, letters)
        if self._log is not None:
            start = time.perf_counter()
            self._log.append_consumed(name if batch is not None else None, batch, state)
            self._observe_append(start)
        if batch is not None and name is not None and batch.num_rows:
            self._tables[name].append(batch)
        self._stream_positions.update(positions)
        self._dead_letters.extend(letters)
        if self._log is not None:
            self._maybe_snapshot()
        return 0 if batch is None else batch.num_rows

    @staticmethod
    def _stream_state(
        positions: Mapping[tuple[str, int], int], dead_letters: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        return {
            "positions": [[topic, partition, offset] for (topic, partition), offset in positions.items()],
            "dead_letters": list(dead_letters),
        }

    def stream_positions(self) -> dict[tuple[str, int], int]:
        """``(topic, partition) -> next offset`` of every partition consumed into this store (what
        :meth:`insert_consumed` recorded); a consumer resumes there."""
        return dict(self._stream_positions)

    def dead_letters(self, start: int = 0) -> list[dict[str, Any]]:
        """The dead letters :meth:`insert_consumed` recorded, oldest first, from the ``start``-th on."""
        return self._dead_letters[start:]

    @property
    def dead_letter_count(self) -> int:
        """How many dead letters were recorded."""
        return len(self._dead_letters)

    def deploy(
        self,
        name: str,
        sql: str | Deploy,
        options: Mapping[str, str] | None = None,
        *,
        procedure: str | None = None,
        database: str | None = None,
    ) -> Deployment:
        """Deploy ``sql`` (a SELECT, or ``DEPLOY name [OPTIONS(...)] SELECT ...`` as text or parsed) as ``name``.

        A ``DEPLOY`` statement names the deployment when ``name`` is empty, and its OPTIONS apply under
        ``options``. ``procedure``: the ``CREATE PROCEDURE`` statement ``sql`` comes from, kept with the version.
        ``database``: the database it is deployed in (OpenMLDB's current database): deployments of different
        databases may share a name, and the script's bare table names are that database's tables (``db2.t`` reads
        another one's); None: a deployment of no database, whose bare names may be any database's table that no
        other database holds.

        Re-deploying the same script is a no-op; a changed script becomes a new version (see :meth:`restore`).

        Raises:
            OpenFeatSQLError: the SQL is wrong.
            NotSupportedError: the script cannot run online (WHERE, GROUP BY, LIMIT...), with the reason.
        """
        statement = parse_deploy(sql) if isinstance(sql, str) else sql
        if statement is None:  # a plain query, deployed as written
            return self._deploy(name, str(sql), dict(options or {}), log=True, procedure=procedure, database=database)
        merged = {**statement.options, **(options or {})}
        return self._deploy(
            name or statement.name,
            statement.args["query_sql"],
            merged,
            log=True,
            procedure=procedure,
            database=database,
        )

    def visible_tables(self, database: str | None) -> dict[str, str]:
        """The tables a bare name reaches from ``database`` (name -> store key): its own and those made without a
        database; from None, every table whose name one database holds."""
        if database is not None:
            return {self._bare(k): k for k, o in self._table_options.items() if o.get("database") in (None, database)}
        return {name: k for k, name in _displayed(self._tables).items() if name == self._bare(k)}

    def _deploy(
        self,
        name: str,
        sql: str,
        options: Mapping[str, str],
        *,
        log: bool = False,
        procedure: str | None = None,
        database: str | None = None,
    ) -> Deployment:
        # A deployment serves requests, each one small: without this, `auto` kernels would run them interpreted.
        # Loading numba here (once per process) keeps it off the first request's latency.
        load_compiled()
        text, view = bind_view(sql, self.resolve_table, self.visible_tables(database))
        catalog = {t: [(f.name, sql_type_of_arrow(f.type)) for f in self._tables[k].schema] for t, k in view.items()}
        declared = {t: _declared_texts(self._declared[k]) for t, k in view.items() if self._declared[k]}
        plan = bind_sql(text, catalog, indexes=declared)
        read = {t: view[t] for t in tables_read(plan)}
        key = table_key(name, database)
        options = _check_options(options)
        long_windows = parse_long_windows(options["long_windows"], plan) if "long_windows" in options else {}
        compiled = compile_request_plan(plan, long_windows)
        if long_windows and compiled.direct is None:
            raise NotSupportedError(
                f"long_windows: {compiled.reason}; such a script is computed by the executor's request mode, which "
                "has no pre-aggregation"
            )
        candidate = Deployment(name, 0, sql, plan, compiled, options)
        versions = self._deployments.get(key, [])
        if versions and versions[self._active[key]].digest == candidate.digest:
            return versions[self._active[key]]
        if log:
            record: dict[str, Any] = {"op": "deploy", "name": name, "sql": sql, "options": options}
            if procedure is not None:
                record["procedure"] = procedure
            if database is not None:
                record["database"] = database
            self._record(record)
        ms_bias, rows_bias = deploy_biases(options)
        indexes = []
        for spec in compiled.indexes:
            ttl = spec.ttl
            if compiled.direct is not None:  # (the executor's indexes keep everything)
                ttl = ttl.widened(ms_bias, rows_bias)
                # An index the table declares with the same keys and ts merges its own TTL in, as in OpenMLDB.
                for declaration in self._declared[read[spec.table]]:
                    if set(declaration.keys) == set(spec.keys) and declaration.ts == spec.ts:
                        ttl = ttl.merge(declaration.ttl)
            index = self._tables[read[spec.table]].add_index(spec.keys, spec.ts, ttl)
            indexes.append(IndexSpec(spec.table, spec.keys, spec.ts, index.ttl))
        preaggs: dict[WindowAgg, Preaggregate] = {}
        if compiled.direct is not None:
            direct = compiled.direct
            main = self._tables[read[direct.main.table]]
            impls = {n: fn.impl for n in COMBINABLE if (fn := REGISTRY.aggregate(n)) is not None}
            for pre in preaggregates_for(plan, long_windows, impls):
                window = direct.windows[pre.agg.window]
                pre.fields = direct.main.schema
                preaggs[pre.agg] = main.add_preaggregate(main.indexes[(window.keys, window.order)], pre)
        deployment = Deployment(
            name,
            len(versions) + 1,
            sql,
            plan,
            compiled,
            options,
            tuple(indexes),
            preaggs,
            procedure=procedure,
            database=database,
            tables=read,
        )
        self._deployments[key] = [*versions, deployment]
        self._active[key] = len(versions)
        self._warm_up(deployment)
        return deployment

    def _warm_up(self, d: Deployment) -> None:
        """Serve one all-NULL request (not logged, nothing stored), so that the kernels' compiled code is loaded
        now and not on the first live request (about half a second in a fresh process)."""
        direct = d.request_plan.direct
        if direct is None:
            return
        main = self._tables[d.key(direct.main.table)]
        nulls = RequestColumns(main, [[None] for _ in main.names])
        tables = {t: self._tables[d.key(t)] for t in direct.tables}
        with contextlib.suppress(OpenFeatError):  # a script may reject NULL inputs; live rows decide
            serve_request(d.plan, direct, nulls, tables, self._ctx, d.preaggs)

    def restore(self, name: str, version: int) -> Deployment:
        """Make an earlier version of a deployment the active one."""
        name = self.resolve_deployment(name)
        versions = self._versions(name)
        if not 1 <= version <= len(versions):
            raise DataError(f"deployment {name!r} has versions 1..{len(versions)}, not {version}")
        self._record({"op": "restore", "name": name, "version": version})
        self._active[name] = version - 1
        return versions[version - 1]

    def set_reference(self, name: str, profile: Mapping[str, Any], version: int | None = None) -> None:
        """Record the reference profile (:mod:`openfeat_core.monitoring.reference`) of a deployment version (the
        active one when None), durably: served features are compared with it, after restarts too.

        Raises:
            DataError: no such deployment or version, or a profile that is not a reference profile.
        """
        name = self.resolve_deployment(name)
        versions = self._versions(name)
        number = self._active[name] + 1 if version is None else version
        if not 1 <= number <= len(versions):
            raise DataError(f"deployment {name!r} has versions 1..{len(versions)}, not {number}")
        if not isinstance(profile, Mapping) or not isinstance(profile.get("bins"), Mapping):
            raise DataError(f"reference of deployment {name!r}: not a reference profile (no 'bins')")
        document = json.loads(json.dumps(dict(profile), allow_nan=False))
        self._record({"op": "reference", "name": name, "version": number, "profile": document})
        versions[number - 1].reference = document

    def reference(self, name: str) -> dict[str, Any] | None:
        """The reference profile of the active version of deployment ``name`` (None: none was recorded)."""
        return self._deployment(name).reference

    def drop_deployment(self, name: str, database: str | None = None) -> None:
        """Remove a deployment (``name`` as :meth:`resolve_deployment` takes it) and all its versions."""
        key = self.resolve_deployment(name, database)
        self._record({"op": "drop_deployment", "name": key})
        del self._deployments[key]
        del self._active[key]

    def list_deployments(self, database: str | None = None) -> list[str]:
        """The deployments, by name: a name two databases hold is written ``db.name``. ``database``: only that
        database's deployments and those made without one, by their bare names."""
        if database is not None:
            return sorted(
                versions[0].name for versions in self._deployments.values() if versions[0].database in (None, database)
            )
        return sorted(_displayed(self._deployments).values())

    def resolve_deployment(self, name: str, database: str | None = None) -> str:
        """The key of a deployment, as :meth:`resolve_table` finds a table's: ``db.name`` or a bare name (with
        ``database``: that database's, else one made without a database; without: one database's only).

        Raises:
            DataError: no such deployment, or a bare name several databases hold.
        """
        if database is not None:
            key = table_key(name, database)
            if key in self._deployments:
                return key
            if name in self._deployments and self._deployments[name][0].database is None:
                return name
            known = ", ".join(self.list_deployments(database)) or "none"
            elsewhere = sorted(
                str(v[0].database) for v in self._deployments.values() if v[0].name == name and v[0].database
            )
            where = f"; database {elsewhere[0]!r} has one: {elsewhere[0]}.{name}" if elsewhere else ""
            raise DataError(f"unknown deployment {name!r} (deployments: {known}{where}) in database {database!r}")
        if name in self._deployments:
            return name
        matches = sorted(k for k, v in self._deployments.items() if v[0].name == name)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise DataError(
                f"deployment {name!r} is in several databases ({', '.join(matches)}): name it with its database"
            )
        known = ", ".join(self.list_deployments()) or "none"
        raise DataError(f"unknown deployment {name!r} (deployments: {known})")

    def describe_deployment(self, name: str) -> dict[str, Any]:
        name = self.resolve_deployment(name)
        d = self._deployment(name)
        return {
            "name": d.name,
            "database": d.database,
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
            "reference": None if d.reference is None else d.reference.get("source"),
            "procedure": d.procedure,
        }

    def deployment(self, name: str) -> Deployment:
        """The active version of deployment ``name``.

        Raises:
            DataError: no such deployment.
        """
        return self._deployment(name)

    def input_schema(self, name: str) -> list[tuple[str, SQLType]]:
        """The columns a request row of deployment ``name`` carries (its main table's), in order."""
        return [(f.name, f.type) for f in main_scan(self._deployment(name).plan).schema]

    # ------------------------------------------------------------------ requests
    def request(self, name: str, rows: Rows) -> pa.Table:
        """Compute the features of request rows against the stored rows (the rows are not stored).

        Each request row is the newest row at its time; it sees the stored rows of its keys up to its time.
        """
        names, columns, table = self._serve(name, rows)
        return table if table is not None else arrow_table(columns, names)

    def request_columns(
        self, name: str, rows: Rows, common: Collection[str] = ()
    ) -> tuple[Sequence[str], list[Column]]:
        """:meth:`request` as engine columns (for callers that render rows themselves, such as the HTTP service).

        ``common``: request columns that hold one value in every row (a batch request's common columns, which the
        caller has checked): the outputs that depend on nothing else are computed once, for the first row, and
        repeated (:class:`~openfeat_core.online.request_plan.BatchSplit`); the answer is the same."""
        names, columns, table = self._serve(name, rows, common)
        if table is not None:
            d = self._deployment(name)
            columns = [Column.from_arrow(c, o.expr.type) for c, o in zip(table.columns, d.plan.outputs, strict=True)]
        return names, columns

    def _serve(
        self, name: str, rows: Rows, common: Collection[str] = ()
    ) -> tuple[Sequence[str], list[Column], pa.Table | None]:
        """The response as engine columns (the direct path, or a batch with common columns) or as the Arrow table the
        general path computes."""
        d = self._deployment(name)
        main = self._tables[d.key(d.main_table)]
        names = d.output_names
        what = f"request to {name!r}"
        typed = None if isinstance(rows, (pa.Table, TypedRows)) else check_rows(rows, main.fields, what=what)

        def request_table() -> pa.Table:
            """The request rows as Arrow (checked against the main table's schema when given as Arrow)."""
            return pa.Table.from_batches([_to_batch(rows if typed is None else typed, main, what=what)])

        requests: pa.Table | None = None
        columns: list[Column] = []
        table: pa.Table | None = None
        direct = d.request_plan.direct
        split = d.batch_split(common) if common else None
        if direct is not None:
            checked = typed if typed is not None else (rows if isinstance(rows, TypedRows) else None)
            if checked is None:
                requests = request_table()
                req = RequestColumns.from_arrow(main, requests)
            else:
                req = RequestColumns(main, checked.columns)
            stored = {t: self._tables[d.key(t)] for t in direct.tables}
            if split is None or not split.common or req.k < 2:
                columns = serve_request(d.plan, direct, req, stored, self._ctx, d.preaggs)
            else:
                first = RequestColumns(main, [values[:1] for values in req.py])

                def direct_part(plan: Select, part: DirectPlan | None, once: bool) -> list[Column]:
                    assert part is not None  # the parts of a direct plan are direct
                    return serve_request(plan, part, first if once else req, stored, self._ctx, d.preaggs)

                columns = _split_columns(split, req.k, direct_part)
        else:
            requests = request_table()
            if split is None or not split.common or requests.num_rows < 2:
                table = execute(d.plan, self._reachable(d, requests), self._ctx, requests=requests)
            else:
                batch = requests

                def executor_part(plan: Select, _: DirectPlan | None, once: bool) -> list[Column]:
                    part = batch.slice(0, 1) if once else batch
                    out = execute(plan, self._reachable(d, part), self._ctx, requests=part)
                    return [Column.from_arrow(c, o.expr.type) for c, o in zip(out.columns, plan.outputs, strict=True)]

                columns = _split_columns(split, batch.num_rows, executor_part)
        if self._request_log is not None:
            if requests is None:
                requests = request_table()
            used = tables_read(d.plan)
            sizes = {t: self._tables[d.key(t)].inserted for t in used}
            drops = {t: self._tables[d.key(t)].drops for t in used}
            response = table if table is not None else arrow_table(columns, names)
            self._request_log.offer(LoggedRequest(name, d.version, requests, response, sizes, drops))
        return names, columns, table

    # ------------------------------------------------------------------ consistency
    def log_requests(self, rate: float = 1.0, *, seed: int = 0) -> None:
        """Keep a sample (``rate`` of the calls) of served requests, with their responses, for :meth:`verify`."""
        self._request_log = RequestLog(rate, seed)
        for table in self._tables.values():
            table.retain_evicted(True)  # verify recomputes a request on the rows it saw, evicted ones included

    def logged_requests(self, name: str) -> list[LoggedRequest]:
        """The logged requests of deployment ``name`` (all its versions), oldest first (see :meth:`log_requests`)."""
        return [e for e in (self._request_log.entries if self._request_log else []) if e.deployment == name]

    def verify(self, name: str, *, limit: int | None = None) -> ConsistencyReport:
        """Recompute the logged requests of deployment ``name`` in batch mode and compare with what was served.

        Each logged request is appended, as the newest rows, to exactly the rows its tables held when it was
        served, and the batch engine computes it there. Any difference is an online/offline inconsistency.
        Requests served before a compaction of one of their tables (evicted rows dropped), or whose table has been
        dropped since, are counted as ``skipped``: the rows they saw are gone. ``limit``: only the latest this many
        logged requests (each recomputes the script over its tables: ``monitor`` checks a recent sample).
        """
        steps = self.verify_steps(name, limit=limit)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                report: ConsistencyReport = done.value
                return report

    def verify_steps(self, name: str, *, limit: int | None = None) -> Generator[None, None, ConsistencyReport]:
        """:meth:`verify` in bounded steps: each ``next()`` recomputes one logged request row, and the report is
        the generator's return value. The store may be used between steps (the HTTP service serves feature
        requests and inserts in between, so that a long verify does not hold them up): the requests to check are
        fixed by the first step, and each one's rows are captured when its turn comes (Arrow slices, which later
        inserts and compactions leave intact).

        Raises:
            DataError: (on the first ``next()``) there is no deployment ``name``.
        """
        versions = self._versions(name)
        entries = self.logged_requests(name)
        if limit is not None:
            entries = entries[max(len(entries) - limit, 0) :]
        reports: dict[str, FeatureReport] = {}
        rows = 0
        skipped = 0
        for entry in entries:
            d = versions[entry.version - 1]
            current = {t: self._tables.get(d.key(t)) for t in entry.table_rows}
            if any(stored is None or stored.drops != entry.drops.get(t, stored.drops) for t, stored in current.items()):
                skipped += 1
                continue
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

    def _reachable(self, d: Deployment, requests: pa.Table) -> dict[str, ColumnTable]:
        """For the executor's request mode: per table, the stored rows the request rows can reach (by the keys of
        the deployment's lookups, else all of them), gathered from the table's indexes."""
        wanted: dict[str, list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]] = {}
        everything: set[str] = set()
        main = self._tables[d.key(d.main_table)]
        for lk in d.request_plan.lookups:
            if lk.request_keys is None:
                everything.add(lk.table)
                continue
            columns = [main.key_values(requests.column(k), main.position(k)) for k in lk.request_keys]
            wanted.setdefault(lk.table, []).append((lk.index_keys, list(zip(*columns, strict=True))))
        out = {t: self._tables[d.key(t)].everything() for t in everything}
        out.update({t: self._tables[d.key(t)].matching(w) for t, w in wanted.items()})
        return out

    # ------------------------------------------------------------------ helpers
    def _table(self, name: str) -> StoredTable:
        stored = self._tables.get(name)
        return stored if stored is not None else self._tables[self.resolve_table(name)]

    def _versions(self, name: str) -> list[Deployment]:
        versions = self._deployments.get(name)
        return versions if versions is not None else self._deployments[self.resolve_deployment(name)]

    def _deployment(self, name: str) -> Deployment:
        key = name if name in self._deployments else self.resolve_deployment(name)
        return self._deployments[key][self._active[key]]


def _split_columns(
    split: BatchSplit, k: int, compute: Callable[[Select, DirectPlan | None, bool], list[Column]]
) -> list[Column]:
    """The outputs of a batch of ``k`` rows cut by ``split``: ``compute(plan, direct, once)`` computes a part, for the
    first row only (``once``) or for every row; the common part's one row is repeated ``k`` times."""
    out: list[Column | None] = [None] * (len(split.common) + len(split.per_row))
    if split.common_plan is not None:
        repeat = np.zeros(k, dtype=np.int64)
        for i, column in zip(split.common, compute(split.common_plan, split.common_direct, True), strict=True):
            out[i] = column.take(repeat)
    if split.per_row_plan is not None:
        for i, column in zip(split.per_row, compute(split.per_row_plan, split.per_row_direct, False), strict=True):
            out[i] = column
    return [c for c in out if c is not None]


def _displayed(keyed: Mapping[str, Any]) -> dict[str, str]:
    """Each key as lists show it: the bare name, unless another database holds the same name (then ``db.name``)."""
    bare = {k: k.rsplit(".", 1)[-1] for k in keyed}
    counts = Counter(bare.values())
    return {k: b if counts[b] == 1 else k for k, b in bare.items()}


def table_key(name: str, database: str | None) -> str:
    """The store's key of a table (or deployment): ``db.name`` in a database, ``name`` without one (tables of
    different databases may share a name; one made without a database, through the Python API, is in all of them)."""
    return name if database is None else f"{database}.{name}"


_DELETE_OPS = ("=", "<", "<=", ">", ">=")


def _delete_conditions(
    name: str, table: StoredTable, declared: Sequence[IndexSpec], where: Sequence[tuple[str, str, Any]]
) -> list[RowCondition]:
    """The conditions of a DELETE checked against the table's indexes (see :meth:`OnlineStore.delete`), with their
    values physical (as index keys hold them)."""
    indexes = {(frozenset(d.keys), d.ts) for d in declared}
    indexes |= {(frozenset(keys), ts) for keys, ts in table.indexes if keys}
    if not indexes:
        indexes = {(frozenset(table.names[:1]), None)}  # OpenMLDB's default index: the first column, no ts
    shown = "; ".join(sorted(f"KEY=({', '.join(sorted(k))})" + (f", TS={ts}" if ts else "") for k, ts in indexes))
    if not where:
        raise OpenFeatSQLError(f"DELETE FROM {name} needs a WHERE on an index's key columns (indexes: {shown})")
    for column, op, _ in where:
        if column not in table.names:
            raise DataError(f"table {name!r} has no column {column!r} (columns: {', '.join(table.names)})")
        if op not in _DELETE_OPS:
            raise OpenFeatSQLError(f"DELETE: {column} {op} ...: only =, <, <=, >, >= are allowed")

    def fits(keys: frozenset[str], ts: str | None) -> bool:
        """Whether the conditions name every key of this index with = and otherwise only its ts column (or name
        its ts column alone)."""
        on_keys = {c for c, op, _ in where if c in keys and op == "="}
        rest = [c for c, op, _ in where if not (c in keys and op == "=")]
        return all(c == ts for c in rest) and (on_keys == keys or (not on_keys and ts is not None))

    if not any(fits(k, ts) for k, ts in indexes):
        named = ", ".join(f"{c} {op}" for c, op, _ in where)
        raise OpenFeatSQLError(
            f"DELETE FROM {name}: conditions ({named}) that are not an index of the table: name every key column of "
            f"one index with = (and at most its ts column with =, <, <=, >, >=), or its ts column alone; "
            f"indexes: {shown}"
        )
    out = []
    for column, op, value in where:
        p = table.position(column)
        if value is None:
            if op != "=":
                raise OpenFeatSQLError(f"DELETE: {column} {op} NULL is never true; only = NULL picks NULLs")
            out.append(RowCondition(p, op, None))
            continue
        try:
            array = pa.array([value], table.schema.field(p).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
            raise DataError(f"DELETE FROM {name}: {column} {op} {value!r}: {e}") from None
        out.append(RowCondition(p, op, table.key_values(array, p)[0]))
    return out


def _index_name(spec: IndexSpec) -> str:
    """A declared index's name (the first part of its declaration)."""
    return (spec.declaration or "").split(":", 1)[0]


def _declared_texts(specs: Sequence[IndexSpec]) -> list[str]:
    """The declarations of indexes a table declares, as the catalog records them."""
    return [d.declaration for d in specs if d.declaration is not None]


def _check_index_declaration(table: str, schema: pa.Schema, spec: str) -> IndexSpec:
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
    keys = tuple(k.strip() for k in parts[1].split("|"))
    ts = parts[2] if len(parts) > 2 and parts[2] else None
    return IndexSpec(table, keys, ts, ttl, declaration=":".join(parts))


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


#: OPTIONS of OpenMLDB's DEPLOY that OpenFeat accepts: long_windows, range_bias and rows_bias are applied;
#: skip_index_check and sync tune OpenMLDB's own index creation and are accepted so that existing scripts deploy
#: unchanged.
DEPLOY_OPTIONS = ("long_windows", "skip_index_check", "sync", "range_bias", "rows_bias")


def _check_options(options: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(options) - set(DEPLOY_OPTIONS))
    if unknown:
        raise NotSupportedError(
            f"unknown DEPLOY option(s) {', '.join(unknown)}; OpenFeat knows {', '.join(DEPLOY_OPTIONS)}"
        )
    checked = {k: str(v) for k, v in sorted(options.items())}
    deploy_biases(checked)
    return checked


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _to_batch(rows: Rows, table: StoredTable, *, what: str) -> pa.RecordBatch:
    """Rows as one record batch of the table's schema: Arrow data cast to it, other rows checked once
    (:func:`~openfeat_core.online.rows.check_rows`); a value that does not fit names its row and field."""
    schema = table.schema
    if isinstance(rows, TypedRows):
        return rows.to_batch(schema)
    if not isinstance(rows, pa.Table):
        return check_rows(rows, table.fields, what=what).to_batch(schema)
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


def _check_not_null(batch: pa.RecordBatch, what: str) -> None:
    """Refuse NULL in a ``NOT NULL`` column (``openfeat.not_null`` in the field's metadata), naming the first such
    row and field."""
    for f, column in zip(batch.schema, batch.columns, strict=True):
        if column.null_count and (f.metadata or {}).get(b"openfeat.not_null") == b"true":
            row = column.is_null().to_pylist().index(True)
            raise DataError(f"{what}: row {row}, field {f.name!r}: NULL in a NOT NULL column")


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


__all__ = ["Deployment", "OnlineStore"]
