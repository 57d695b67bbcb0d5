"""The workspace tasks: ``ingest`` (source → table), ``compute`` (feature SQL over tables → table), ``export``
(table → CSV / Parquet / LIBSVM file). See :mod:`openfeat_core.tasks` for the idempotency rules they share."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

import openfeat_core
from openfeat_core.choices import (
    EXPORT_FORMATS,
    EXTRA_COLUMNS,
    ON_ERROR,
    SOURCE_FORMATS,
    TIMESTAMP_UNIT_CHOICES,
    WRITE_MODES,
    ExportFormat,
    ExtraColumns,
    OnError,
    OnNullLabel,
    SourceFormat,
    TimestampFormat,
    TimestampUnit,
    WriteMode,
)
from openfeat_core.errors import DataError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io import (
    DEFAULT_BUCKETS,
    REJECTED_SCHEMA,
    CsvOptions,
    SourceScan,
    export_csv,
    export_libsvm,
    export_lines,
    export_parquet,
    rejected_table,
    resolve,
    scan_source,
)
from openfeat_core.io import ExportResult as _FileExport
from openfeat_core.plan.nodes import tables_read
from openfeat_core.sql.config import split_config
from openfeat_core.tasks.base import (
    InvalidRequest,
    TaskDatasets,
    TaskRequest,
    TaskResult,
    file_ref,
    idempotency_key,
    inputs_digest,
    open_workspace,
    schema_text,
    split_deploy,
    table_ref,
)
from openfeat_core.tasks.hooks import TaskContext, logger, run_task
from openfeat_core.types import parse_schema
from openfeat_core.workspace import LINEAGE_KEY, TableVersion, Workspace, validate_name

__all__ = [
    "ComputeRequest",
    "ComputeResult",
    "ExportRequest",
    "ExportResult",
    "IngestRequest",
    "IngestResult",
    "compute",
    "export",
    "ingest",
]

TableMode = WriteMode
FileMode = WriteMode

#: Name of the side file holding the rejected rows of an ``on_error="skip"`` ingest (CSV with a header).
REJECTED_FILE = "rejected.csv"
#: Source files up to this size are identified by a hash of their content, larger ones by size and mtime.
HASH_CONTENT_BYTES = 64 << 20
#: At most this many source files are listed in an ingest result (the count is always exact).
LISTED_FILES = 100
#: ``ingest`` and ``compute`` delete, after their commit, the abandoned writes of their table idle for this long: a
#: writer still in flight touches its files far more often, and a day is longer than any pause between two files.
TASK_GC_GRACE = timedelta(hours=24)

_EXPORT_FORMATS: dict[str, ExportFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".libsvm": "libsvm",
    ".svm": "libsvm",
    ".txt": "lines",
}
_HASH_CHUNK = 8 << 20


def _choice(what: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise InvalidRequest(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _table_name(name: object, what: str = "table") -> str:
    try:
        return validate_name(name, f"{what} name")
    except DataError as e:
        raise InvalidRequest(str(e)) from None


def _latest(ws: Workspace, table: str) -> TableVersion | None:
    return ws.table_info(table) if ws.exists(table) else None


def _collect_garbage(ws: Workspace, table: str) -> None:
    """After a commit: delete what killed writers of ``table`` left (idle for :data:`TASK_GC_GRACE`); never fails."""
    try:
        removed = ws.gc(TASK_GC_GRACE, tables=[table])
    except (OpenFeatError, OSError) as e:
        logger.warning("openfeat: garbage collection of table %r in workspace %s failed: %s", table, ws.uri, e)
        return
    if removed:
        logger.info("openfeat: removed %d abandoned write(s) of table %r: %s", len(removed), table, removed)


def _produced_by(version: TableVersion | None, digest: str) -> bool:
    """True if ``version`` was written by a task run with these inputs."""
    if version is None:
        return False
    record = version.lineage.get(LINEAGE_KEY)
    return isinstance(record, Mapping) and record.get("inputs_digest") == digest


def _appended_by(ws: Workspace, table: str, digest: str) -> TableVersion | None:
    """The newest version of ``table`` that an append with these inputs wrote, if any."""
    return next((v for v in reversed(ws.versions(table)) if _produced_by(v, digest)), None)


def _task_lineage(task: str, context: TaskContext, digest: str, **extra: Any) -> dict[str, Any]:
    return {
        "task": task,
        "inputs_digest": digest,
        "run_id": context.run_id,
        "parent_run_id": context.parent_run_id,
        "openfeat_version": openfeat_core.__version__,
        **extra,
    }


# =====================================================================================================================
# ingest
# =====================================================================================================================
@dataclass(frozen=True)
class IngestRequest(TaskRequest):
    """Load a source (files or an in-memory table) into a workspace table, as a new version.

    Attributes:
        source: a path, glob, directory or URI (``s3://...``), a list of those, or a ``pa.Table`` /
            ``pa.RecordBatch`` / pandas ``DataFrame`` (see :func:`openfeat_core.io.scan_source`).
        table: the workspace table to write.
        workspace: the workspace directory or URI.
        schema: declared schema (``"uid bigint, ts timestamp, amount double"`` or a ``pa.Schema``); inferred when
            None (``append`` then declares the table's current schema).
        format: ``csv``, ``parquet``, ``json`` (JSON lines) or ``ipc``; from the file extension when None.
        on_error: ``fail`` (default): a bad row rejects the whole load and nothing is written; ``skip``: the good rows
            are written and the bad ones reported in the side file ``rejected.csv`` of the new version.
        timezone: zone of timestamps written without an offset.
        csv: CSV dialect (delimiter, header, quote, null markers).
        timestamp_unit: unit of epoch numbers in TIMESTAMP columns: ``ms`` (default), ``s``, ``us`` or ``ns``.
        extra_columns: ``error`` (default): a source column the schema does not declare is an error; ``ignore``:
            such columns are dropped.
        mode: ``error_if_exists`` (default: refuse if the table has a version), ``overwrite`` (the new version holds
            the source's rows only) or ``append`` (the new version holds the current version's rows, then the
            source's; it shares the current version's data files rather than copying them). Concurrent appends
            all land, each on top of the other's version; an ``overwrite`` or ``error_if_exists`` load that
            another writer overtook between its read of the table and its commit fails with a ``ConflictError``.
        storage_options: object-store settings of the workspace and of ``s3://`` sources (see
            :mod:`openfeat_core.io.location`).
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
    """

    source: Any
    table: str
    workspace: str | os.PathLike[str]
    schema: str | pa.Schema | None = None
    format: SourceFormat | None = None
    on_error: OnError = "fail"
    timezone: str = "UTC"
    csv: CsvOptions | None = None
    mode: TableMode = "error_if_exists"
    storage_options: Mapping[str, Any] | None = None
    parent_run_id: str | None = None
    timestamp_unit: TimestampUnit = "ms"
    extra_columns: ExtraColumns = "error"


@dataclass(frozen=True)
class IngestResult(TaskResult):
    """What an ingest wrote (or found already written).

    Attributes:
        workspace: workspace URI.
        table: table name.
        version: the table version holding the load.
        rows: rows of that version.
        rows_loaded: rows it took from the source (``rows`` minus the copied rows of an append).
        bad_rows: source rows rejected (``on_error="skip"``; always 0 with ``fail``).
        rejected_uri: URI of the rejected-rows report (``skip`` mode), else None.
        files: the source files read (at most 100 listed; ``file_count`` is the number), ``[]`` for memory data.
        file_count: number of source files.
        bytes_read: bytes read from the source by this run (0 when ``reused``).
        schema: the table's schema as an OpenMLDB column list.
        digest: the digest of the version's data files.
        reused: True when the latest version already held this load (a retry): nothing was read or written.
        idempotency_key: the version's idempotency key.
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
    """

    task: ClassVar[str] = "ingest"
    key_fields: ClassVar[tuple[str, ...]] = ("table", "version", "rows", "bad_rows", "reused")

    workspace: str
    table: str
    version: int
    rows: int
    rows_loaded: int
    bad_rows: int
    rejected_uri: str | None
    files: list[str]
    file_count: int
    bytes_read: int
    schema: str
    digest: str
    reused: bool
    idempotency_key: str
    run_id: str
    parent_run_id: str | None
    seconds: float

    def datasets(self) -> TaskDatasets:
        """The source files read (none for in-memory data) and the table version written."""
        table = table_ref(self.workspace, self.table, self.version, schema=self.schema, rows=self.rows_loaded)
        return TaskDatasets(tuple(file_ref(f) for f in self.files), (table,))


def ingest(request: IngestRequest) -> IngestResult:
    """Load ``request.source`` into a new version of a workspace table, idempotently.

    The rows are streamed into the workspace and committed atomically: a failure or a crash leaves no version
    (and no partial rows) behind. If the table's latest version was written by an ingest with the same inputs
    (same source files by content, or size and modification time above 64 MiB; same schema and options), it is
    returned and nothing is read: a retried task does not load twice. After its commit it deletes the table's
    abandoned writes idle for a day (:data:`TASK_GC_GRACE`; see :meth:`Workspace.gc`).

    Raises:
        InvalidRequest: a bad option or table name.
        BadRowsError: the source has bad rows and ``on_error="fail"`` (nothing was written; the message lists the
            first ones with file, line, column, value and expected type).
        ConflictError: (a DataError) with ``overwrite`` or ``error_if_exists``, another writer committed a version
            of the table after this load read it; nothing was written (run the load again).
        DataError: the source does not exist or cannot be read, the table exists and ``mode="error_if_exists"``.
    """
    return run_task("ingest", request, request.parent_run_id, lambda context: _ingest(request, context))


def _ingest(request: IngestRequest, context: TaskContext) -> IngestResult:
    _choice("mode", request.mode, WRITE_MODES)
    _choice("on_error", request.on_error, ON_ERROR)
    _choice("timestamp_unit", request.timestamp_unit, TIMESTAMP_UNIT_CHOICES)
    _choice("extra_columns", request.extra_columns, EXTRA_COLUMNS)
    if request.format is not None:
        _choice("format", request.format, SOURCE_FORMATS)
    table = _table_name(request.table)
    ws = open_workspace(request.workspace, request.storage_options)
    latest = _latest(ws, table)
    source, memory_digest = _memory_source(request.source)
    declared = request.schema
    if isinstance(declared, str):
        try:
            parse_schema(declared)
        except ValueError as e:  # the message names the column
            raise InvalidRequest(f"schema {declared!r}: {e}") from None
    if declared is None and request.mode == "append" and latest is not None:
        declared = latest.schema
    scan = scan_source(
        source,
        schema=declared,
        format=request.format,
        on_error=request.on_error,
        timezone=request.timezone,
        csv=request.csv,
        timestamp_unit=request.timestamp_unit,
        extra_columns=request.extra_columns,
        storage_options=request.storage_options,
    )
    identity = (
        [{"memory": memory_digest}]
        if memory_digest
        else [_file_identity(f, request.storage_options) for f in scan.files]
    )
    settings = {
        # As requested (not as derived from the table for an append): a retry must digest the same.
        "schema": schema_text(request.schema) if isinstance(request.schema, pa.Schema) else request.schema,
        "format": request.format,
        "on_error": request.on_error,
        "timezone": request.timezone,
        "csv": dataclasses.asdict(request.csv) if request.csv else None,
        "mode": request.mode,
        # Only when not the default, so that the digests of earlier loads stay the same.
        **({"timestamp_unit": request.timestamp_unit} if request.timestamp_unit != "ms" else {}),
        **({"extra_columns": request.extra_columns} if request.extra_columns != "error" else {}),
    }
    digest = inputs_digest("ingest", {"source": identity, **settings})
    files = list(scan.files)
    append = request.mode == "append"
    # An append of these inputs is made once: its retry finds it even after other appends landed on top of it.
    # The other modes are reruns only while their version is still the latest.
    earlier = _appended_by(ws, table, digest) if append and latest is not None else latest
    if _produced_by(earlier, digest):
        assert earlier is not None
        bad_rows, rejected_uri = _rejected_report(ws, earlier, request, source)
        return _ingest_result(ws, earlier, files, bad_rows, rejected_uri, 0, True, context)
    if latest is not None and request.mode == "error_if_exists":
        raise DataError(
            f"table {table!r} already exists in workspace {ws.uri} (latest version {latest.version}, "
            f"{latest.num_rows} rows); pass mode 'append' or 'overwrite' to write a new version"
        )
    lineage = {
        LINEAGE_KEY: _task_lineage("ingest", context, digest),
        "sources": identity[:LISTED_FILES],
        "source_count": len(identity),
        **{k: v for k, v in settings.items() if v is not None},
    }
    # An append re-bases onto whatever another writer committed meanwhile (the version's parent says onto what);
    # the other modes replace the version read above, and fail with a ConflictError if it is no longer the latest.
    version = ws.write_table(
        table,
        iter(scan),
        schema=scan.schema,
        lineage=lineage,
        # Racing retries of one append collide on the key whatever they re-based onto.
        idempotency_key=idempotency_key("ingest", digest, None if append else latest.version if latest else None),
        append=append,
        expected_version=None if append else latest.version if latest else 0,
    )
    _collect_garbage(ws, table)
    rejected_uri = None
    if request.on_error == "skip":
        # After the commit: the rejected rows are only known once the source has been read (a crash in between is
        # repaired by the retry, which finds the version and writes the missing report).
        rejected_uri = ws.write_side_file(table, version.version, REJECTED_FILE, _rejected_csv(scan))
    return _ingest_result(ws, version, files, scan.bad_rows, rejected_uri, scan.bytes_read, False, context)


def _ingest_result(
    ws: Workspace,
    version: TableVersion,
    files: list[str],
    bad_rows: int,
    rejected_uri: str | None,
    bytes_read: int,
    reused: bool,
    context: TaskContext,
) -> IngestResult:
    record = version.lineage.get(LINEAGE_KEY) or {}
    # Versions written before appends shared their parent's files recorded the base in the lineage.
    base_version = version.parent or (record.get("base_version") if isinstance(record, Mapping) else None)
    base_rows = ws.table_info(version.table, base_version).num_rows if base_version else 0
    return IngestResult(
        workspace=ws.uri,
        table=version.table,
        version=version.version,
        rows=version.num_rows,
        rows_loaded=version.num_rows - base_rows,
        bad_rows=bad_rows,
        rejected_uri=rejected_uri,
        files=files[:LISTED_FILES],
        file_count=len(files),
        bytes_read=bytes_read,
        schema=schema_text(version.schema),
        digest=version.digest,
        reused=reused,
        idempotency_key=version.idempotency_key or "",
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
    )


def _memory_source(source: Any) -> tuple[Any, str | None]:
    """``(source for scan_source, digest of its content)`` for in-memory data; ``(source, None)`` for files."""
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    elif type(source).__module__.startswith("pandas") and hasattr(source, "columns"):
        try:
            source = pa.Table.from_pandas(source, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise DataError(f"<memory>: the DataFrame cannot be converted to Arrow: {e}") from None
    if not isinstance(source, pa.Table):
        return source, None
    hasher = _Hasher()
    with pa.ipc.new_stream(pa.PythonFile(hasher, mode="w"), source.schema) as writer:
        writer.write_table(source)
    return source, "sha256:" + hasher.sha.hexdigest()


class _Hasher:
    """A write-only file object that only hashes what it is given."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.closed = False
        self._size = 0

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self._size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        self.closed = True


def _file_identity(uri: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """What identifies a source file's content: its URI and size, plus a SHA-256 (small files) or mtime."""
    where = resolve(uri, storage_options)
    fs, path = where.filesystem, where.path
    info = fs.get_file_info(path)
    identity: dict[str, Any] = {"uri": uri, "size": info.size}
    if info.size is not None and info.size <= HASH_CONTENT_BYTES:
        sha = hashlib.sha256()
        with fs.open_input_stream(path) as stream:
            while chunk := stream.read(_HASH_CHUNK):
                sha.update(chunk)
        identity["sha256"] = sha.hexdigest()
    else:
        identity["mtime_ns"] = info.mtime_ns
    return identity


def _rejected_csv(scan: SourceScan) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(rejected_table(scan.rejected), sink)
    return bytes(sink.getvalue().to_pybytes())


def _rejected_report(
    ws: Workspace, version: TableVersion, request: IngestRequest, source: Any
) -> tuple[int, str | None]:
    """``(bad rows, report URI)`` of a version an earlier run wrote; rewrites a report lost to a crash."""
    if request.on_error != "skip":
        return 0, None
    if REJECTED_FILE not in ws.side_files(version.table, version.version):
        # The earlier run committed the rows but died before writing the report: read the source again for it.
        scan = scan_source(
            source,
            schema=request.schema if request.schema is not None else version.schema,
            format=request.format,
            on_error="skip",
            timezone=request.timezone,
            csv=request.csv,
            timestamp_unit=request.timestamp_unit,
            extra_columns=request.extra_columns,
            storage_options=request.storage_options,
        )
        for _ in scan:
            pass
        ws.write_side_file(version.table, version.version, REJECTED_FILE, _rejected_csv(scan))
    content = ws.read_side_file(version.table, version.version, REJECTED_FILE)
    report = pacsv.read_csv(
        pa.BufferReader(content), convert_options=pacsv.ConvertOptions(column_types=REJECTED_SCHEMA)
    )
    bad_rows = len(set(zip(report.column("file").to_pylist(), report.column("line").to_pylist(), strict=True)))
    return bad_rows, ws.side_file_uri(version.table, version.version, REJECTED_FILE)


# =====================================================================================================================
# compute
# =====================================================================================================================
@dataclass(frozen=True)
class ComputeRequest(TaskRequest):
    """Compute a feature script over workspace tables into a new workspace table.

    Attributes:
        sql: one OpenMLDB ``SELECT`` (a ``DEPLOY name SELECT ...`` statement is accepted: the head is ignored).
        output: the table to write.
        workspace: the workspace directory or URI.
        inputs: versions to read, by table (``{"flights": 3}``); tables the SQL reads that are not listed (or are
            listed with None) are read at their latest version.
        timezone: zone of calendar functions (``hour``, ``dayofweek``...).
        storage_options: object-store settings of the workspace.
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
        engine: the backend that computes (``local`` or ``spark``; default ``$OPENFEAT_BACKEND``, else local). The
            result is the same row for row; the lineage and reuse do not depend on it. An orchestrator task
            switches engine with this one argument or with ``OPENFEAT_BACKEND`` in its environment.
    """

    sql: str
    output: str
    workspace: str | os.PathLike[str]
    inputs: Mapping[str, int | None] = field(default_factory=dict)
    timezone: str = "UTC"
    storage_options: Mapping[str, Any] | None = None
    parent_run_id: str | None = None
    engine: str | None = None


@dataclass(frozen=True)
class ComputeResult(TaskResult):
    """What a compute wrote (or found already written).

    Attributes:
        workspace: workspace URI.
        table: the output table.
        version: its version holding the result.
        rows: rows of the result.
        bytes: bytes of its data files.
        schema: its schema as an OpenMLDB column list.
        digest: the digest of its data files.
        plan_digest: SHA-256 of the bound plan (the SQL's meaning, not its spelling).
        inputs: the version read of each input table.
        reused: True when the latest output version was computed from the same plan and input versions.
        idempotency_key: the version's idempotency key.
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
    """

    task: ClassVar[str] = "compute"
    key_fields: ClassVar[tuple[str, ...]] = ("table", "version", "rows", "reused")

    workspace: str
    table: str
    version: int
    rows: int
    bytes: int
    schema: str
    digest: str
    plan_digest: str
    inputs: dict[str, int]
    reused: bool
    idempotency_key: str
    run_id: str
    parent_run_id: str | None
    seconds: float

    def datasets(self) -> TaskDatasets:
        """The input table versions read and the table version written."""
        inputs = tuple(table_ref(self.workspace, name, version) for name, version in self.inputs.items())
        output = table_ref(
            self.workspace, self.table, self.version, schema=self.schema, rows=self.rows, bytes=self.bytes
        )
        return TaskDatasets(inputs, (output,))


def compute(request: ComputeRequest) -> ComputeResult:
    """Run a feature script over workspace tables and write the result as a new version of ``request.output``.

    The output version's lineage holds the SQL text, the plan digest, the input table versions and the time zone.
    If the output's latest version was computed from the same plan, input versions (and data digests), time zone
    and OpenFeat version, it is returned without computing anything. After its commit it deletes the output's
    abandoned writes idle for a day (:data:`TASK_GC_GRACE`).

    Raises:
        InvalidRequest: a bad output name, or ``inputs`` pinning a table the SQL does not read.
        OpenFeatSQLError: the SQL is wrong (an unknown table lists the workspace's tables).
        ConflictError: (a DataError) another writer committed a version of the output after this compute read
            it; nothing was written (run the compute again).
        DataError: a pinned version does not exist, or the data does not fit the query.
    """
    return run_task("compute", request, request.parent_run_id, lambda context: _compute(request, context))


def _compute(request: ComputeRequest, context: TaskContext) -> ComputeResult:
    output = _table_name(request.output, "output table")
    ws = open_workspace(request.workspace, request.storage_options)
    _, sql = split_deploy(request.sql)
    select, config = split_config(sql)
    pinned = dict(request.inputs)
    catalog: dict[str, TableVersion] = {}
    for newest in ws.list_tables():
        catalog[newest.table] = ws.table_info(newest.table, pinned.get(newest.table))
    unknown = [name for name in pinned if name not in catalog]
    if unknown:
        existing = ", ".join(catalog) or "none"
        raise DataError(f"inputs: no table {', '.join(map(repr, unknown))} in workspace {ws.uri}; tables: {existing}")
    typed = {name: v.schema.empty_table() for name, v in catalog.items() if v.openmldb_schema is not None}
    try:
        plan = openfeat_core.plan_sql(select, typed)
    except OpenFeatSQLError as e:
        if "unknown table" not in e.reason:
            raise
        raise type(e)(f"{e.reason}; workspace {ws.uri}", line=e.line, column=e.column, snippet=e.snippet) from None
    used = sorted(tables_read(plan))
    unused = [name for name in pinned if name not in used]
    if unused:
        raise InvalidRequest(f"inputs pins {', '.join(map(repr, unused))}, which the SQL does not read ({used})")
    versions = {name: catalog[name] for name in used}
    digest = inputs_digest(
        "compute",
        {
            "plan_digest": plan.digest(),
            "config": None if config is None else sql,
            "inputs": {name: [v.version, v.digest] for name, v in versions.items()},
            "timezone": request.timezone,
            "engine": openfeat_core.__version__,
        },
    )
    latest = _latest(ws, output)
    if _produced_by(latest, digest):
        assert latest is not None
        return _compute_result(ws, latest, plan.digest(), versions, True, context)
    tables = {name: ws.read_table(name, v.version) for name, v in versions.items()}
    result = openfeat_core.compute(sql, tables, timezone=request.timezone, engine=request.engine)
    del tables
    lineage = {
        LINEAGE_KEY: _task_lineage("compute", context, digest),
        "sql": request.sql,
        "plan_digest": plan.digest(),
        "inputs": {name: v.version for name, v in versions.items()},
        "input_digests": {name: v.digest for name, v in versions.items()},
        "timezone": request.timezone,
    }
    version = ws.write_table(
        output,
        result,
        lineage=lineage,
        idempotency_key=idempotency_key("compute", digest, latest.version if latest else None),
        expected_version=latest.version if latest else 0,
    )
    _collect_garbage(ws, output)
    return _compute_result(ws, version, plan.digest(), versions, False, context)


def _compute_result(
    ws: Workspace,
    version: TableVersion,
    plan_digest: str,
    inputs: Mapping[str, TableVersion],
    reused: bool,
    context: TaskContext,
) -> ComputeResult:
    return ComputeResult(
        workspace=ws.uri,
        table=version.table,
        version=version.version,
        rows=version.num_rows,
        bytes=version.num_bytes,
        schema=schema_text(version.schema),
        digest=version.digest,
        plan_digest=plan_digest,
        inputs={name: v.version for name, v in inputs.items()},
        reused=reused,
        idempotency_key=version.idempotency_key or "",
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
    )


# =====================================================================================================================
# export
# =====================================================================================================================
@dataclass(frozen=True)
class ExportRequest(TaskRequest):
    """Write a workspace table version to a file (streamed, published atomically).

    Attributes:
        table: the workspace table.
        workspace: the workspace directory or URI.
        path: destination path or URI (``s3://...``); a directory for Parquet with ``partition_by``.
        format: ``csv``, ``parquet``, ``libsvm`` (friendly mode: ``label`` plus features) or ``lines`` (a string
            column written verbatim, e.g. the output of SQL ``libsvm(...)``); from the extension of ``path`` when
            None (``.csv``, ``.tsv``, ``.parquet``, ``.pq``, ``.libsvm``, ``.svm``, ``.txt``).
        version: the table version (latest when None).
        columns: the columns to write, in order (CSV, Parquet; ``lines``: the one column); all when None.
        mode: ``overwrite`` (default), ``error_if_exists`` or ``append``.
        delimiter: CSV field separator.
        header: CSV header line.
        null_value: CSV text of NULL.
        quote: CSV quote character (``""``: never quote).
        timestamp_format: CSV timestamps as ``iso`` (``2024-05-01T08:30:00.000Z``) or ``epoch_ms``.
        partition_by: Parquet: Hive-partition the dataset by these columns.
        compression: Parquet codec.
        label: LIBSVM label column (bool → 1/0, numbers as they are).
        features: LIBSVM feature columns in slot order (default: every other column).
        categorical: LIBSVM integer columns hashed as discrete features.
        buckets: LIBSVM slots per discrete feature.
        on_null_label: LIBSVM rows with a NULL label: ``fail`` or ``skip`` (counted in ``skipped_rows``).
        storage_options: object-store settings of the workspace and of an ``s3://`` ``path``.
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
    """

    table: str
    workspace: str | os.PathLike[str]
    path: str | os.PathLike[str]
    format: ExportFormat | None = None
    version: int | None = None
    columns: Sequence[str] | None = None
    mode: FileMode = "overwrite"
    delimiter: str = ","
    header: bool = True
    null_value: str = ""
    quote: str = '"'
    timestamp_format: TimestampFormat = "iso"
    partition_by: Sequence[str] | None = None
    compression: str = "snappy"
    label: str | None = None
    features: Sequence[str] | None = None
    categorical: Sequence[str] = ()
    buckets: int = DEFAULT_BUCKETS
    on_null_label: OnNullLabel = "fail"
    storage_options: Mapping[str, Any] | None = None
    parent_run_id: str | None = None


@dataclass(frozen=True)
class ExportResult(TaskResult):
    """What an export wrote (or found already written).

    Attributes:
        workspace: workspace URI.
        table: the table exported.
        version: the version exported.
        path: the destination URI (absolute path for a local file).
        format: ``csv``, ``parquet``, ``libsvm`` or ``lines``.
        rows: data rows written.
        bytes: bytes written.
        files: the data files written (one, or the files of a partitioned Parquet dataset).
        skipped_rows: LIBSVM rows left out for a NULL label.
        feature_map: URI of the LIBSVM feature map (``<path>.features.json``), else None.
        reused: True when this very export (same table version, destination and options) had already been written
            and the files are still there: nothing was written.
        idempotency_key: identifies the export (recorded as a side file of the table version).
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
    """

    task: ClassVar[str] = "export"
    key_fields: ClassVar[tuple[str, ...]] = ("table", "version", "path", "format", "rows", "reused")

    workspace: str
    table: str
    version: int
    path: str
    format: str
    rows: int
    bytes: int
    files: list[str]
    skipped_rows: int
    feature_map: str | None
    reused: bool
    idempotency_key: str
    run_id: str
    parent_run_id: str | None
    seconds: float

    def datasets(self) -> TaskDatasets:
        """The table version read and the file (or directory) written."""
        source = table_ref(self.workspace, self.table, self.version)
        return TaskDatasets((source,), (file_ref(self.path, rows=self.rows, bytes=self.bytes),))


def export(request: ExportRequest) -> ExportResult:
    """Stream a workspace table version to a CSV, Parquet, LIBSVM or lines file, atomically.

    Every export is recorded as a side file of the table version it read (``export-<key>.json``). An export whose
    record exists and whose files are still there, unchanged in size, is not written again (``reused``), so a
    retry after a crash neither fails on the existing file nor appends twice.

    Raises:
        InvalidRequest: a bad option, or no format given nor implied by the extension.
        DataError: no such table, version or column; a NULL label (``on_null_label="fail"``); an existing
            destination with ``mode="error_if_exists"``.
    """
    return run_task("export", request, request.parent_run_id, lambda context: _export(request, context))


def _export(request: ExportRequest, context: TaskContext) -> ExportResult:
    fmt = request.format or _format_of(request.path)
    _choice("format", fmt, EXPORT_FORMATS)
    _choice("mode", request.mode, WRITE_MODES)
    if fmt == "libsvm" and not request.label:
        raise InvalidRequest("a LIBSVM export needs a label column (label=..., --label)")
    if fmt != "libsvm" and (request.label or request.features or request.categorical):
        raise InvalidRequest(f"label, features and categorical apply to LIBSVM exports, not {fmt}")
    if fmt == "lines" and request.columns is not None and len(request.columns) != 1:
        raise InvalidRequest(f"a lines export writes one column, got columns={list(request.columns)}")
    if fmt == "libsvm" and request.columns is not None:
        raise InvalidRequest("a LIBSVM export takes its columns from label and features, not columns")
    if fmt != "parquet" and request.partition_by:
        raise InvalidRequest(f"partition_by applies to Parquet exports, not {fmt}")
    ws = open_workspace(request.workspace, request.storage_options)
    info = ws.table_info(_table_name(request.table), request.version)
    destination = resolve(request.path, request.storage_options).uri
    options = {
        k: v for k, v in _export_options(request, fmt).items() if k not in ("data", "dest", "filesystem", "mode")
    }
    digest = inputs_digest(
        "export",
        {
            "table": info.table,
            "version": info.version,
            "digest": info.digest,
            "destination": destination,
            "format": fmt,
            "mode": request.mode,
            "options": options,
        },
    )
    record_name = f"export-{digest.removeprefix('sha256:')[:40]}.json"
    key = f"openfeat:export:{digest.removeprefix('sha256:')}"
    if record_name in ws.side_files(info.table, info.version):
        done = _read_record(ws.read_side_file(info.table, info.version, record_name))
        if done is not None and _still_there(done, request.mode, request.storage_options):
            return _export_result(ws, info, done, key, True, context)
    written = _write_export(ws, info, request, fmt)
    record = json.dumps(written.to_dict(), sort_keys=True).encode()
    try:
        ws.write_side_file(info.table, info.version, record_name, record)
    except OSError as e:  # a read-only workspace: the export is done, only a retry would write it again
        logger.warning("openfeat: export of %r not recorded in workspace %s: %s", info.table, ws.uri, e)
    return _export_result(ws, info, written, key, False, context)


def _format_of(path: str | os.PathLike[str]) -> ExportFormat:
    name = os.fspath(path).rstrip("/").rsplit("/", 1)[-1].lower()
    fmt = _EXPORT_FORMATS.get(os.path.splitext(name)[1])
    if fmt is None:
        known = ", ".join(_EXPORT_FORMATS)
        raise InvalidRequest(f"cannot tell the export format from {os.fspath(path)!r} ({known}); give the format")
    return fmt


def _export_options(request: ExportRequest, fmt: str) -> dict[str, Any]:
    """The keyword arguments of the ``openfeat_core.io`` exporter for ``fmt`` (its settings only)."""
    if fmt == "csv":
        return {
            "delimiter": request.delimiter,
            "header": request.header,
            "null_value": request.null_value,
            "quote": request.quote,
            "timestamp_format": request.timestamp_format,
            "columns": list(request.columns) if request.columns is not None else None,
        }
    if fmt == "parquet":
        return {
            "partition_by": list(request.partition_by) if request.partition_by else None,
            "compression": request.compression,
            "columns": list(request.columns) if request.columns is not None else None,
        }
    if fmt == "libsvm":
        return {
            "label": request.label,
            "features": list(request.features) if request.features is not None else None,
            "categorical": list(request.categorical),
            "buckets": request.buckets,
            "on_null_label": request.on_null_label,
        }
    return {"column": request.columns[0] if request.columns else None}


def _write_export(ws: Workspace, info: TableVersion, request: ExportRequest, fmt: str) -> _FileExport:
    options = _export_options(request, fmt)
    columns: list[str] | None = options.pop("columns", None)
    if fmt == "libsvm" and request.features is not None:
        assert request.label is not None
        columns = [request.label, *request.features]
    elif fmt == "lines" and options["column"] is not None:
        columns = [options["column"]]
    data = ws.iter_batches(info.table, info.version, columns=columns)
    mode, storage_options = request.mode, request.storage_options
    if fmt == "csv":
        return export_csv(data, request.path, mode=mode, storage_options=storage_options, **options)
    if fmt == "parquet":
        return export_parquet(data, request.path, mode=mode, storage_options=storage_options, **options)
    if fmt == "libsvm":
        return export_libsvm(data, request.path, mode=mode, storage_options=storage_options, **options)
    return export_lines(data, request.path, mode=mode, storage_options=storage_options, **options)


def _read_record(content: bytes) -> _FileExport | None:
    """The export an earlier run recorded, or None if the record cannot be read (it is then written anew)."""
    try:
        data = json.loads(content)
        known = {f.name for f in dataclasses.fields(_FileExport)}
        return _FileExport(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError, AttributeError):
        return None


def _still_there(done: _FileExport, mode: str, storage_options: Mapping[str, Any] | None) -> bool:
    """True if the files of a recorded export exist (and, unless it appended, have the recorded total size)."""
    sizes = []
    for uri in [*done.files, *([done.feature_map] if done.feature_map else [])]:
        where = resolve(uri, storage_options)
        info = where.filesystem.get_file_info(where.path)
        if info.type != pafs.FileType.File:
            return False
        if uri != done.feature_map:
            sizes.append(info.size or 0)
    return mode == "append" or sum(sizes) == done.bytes


def _export_result(
    ws: Workspace, info: TableVersion, done: _FileExport, key: str, reused: bool, context: TaskContext
) -> ExportResult:
    return ExportResult(
        workspace=ws.uri,
        table=info.table,
        version=info.version,
        path=done.path,
        format=done.format,
        rows=done.rows,
        bytes=done.bytes,
        files=list(done.files),
        skipped_rows=done.skipped_rows,
        feature_map=done.feature_map,
        reused=reused,
        idempotency_key=key,
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
    )
