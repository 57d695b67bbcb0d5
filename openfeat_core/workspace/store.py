"""The workspace: versioned offline tables (Parquet + a manifest per version) shared between orchestrator tasks.

Orchestrator tasks (Airflow, Kubeflow, DolphinScheduler) run in separate processes, often on separate machines, and
are retried. They hand tables to each other through a workspace: a local directory or an object-store prefix (named
as any data is, see :mod:`openfeat_core.io.location`), in which every write of a table is a new, immutable,
atomically committed version.

Layout under the root::

    tables/
      <name>/
        _v/
          000001.json               manifest of version 1 (a TableVersion.manifest_dict(): schema, rows, bytes,
          000002.json               created_at, files, digest, attempt, idempotency_key, lineage, parent); its
          ...                       existence *is* the commit: a version without manifest does not exist
          .tmp-<uuid>-000003.json   (local disk only) a manifest being committed; never read
        data/
          <attempt>/                one directory per write attempt: <UTC start yyyymmddTHHMMSSZ>-<uuid4 hex>
            part-00000.parquet      the rows it wrote, in order: fixed-size row groups, a new file every
                                    rows_per_file rows (an append version also lists its parent's files)
            part-00001.parquet
            _side/<filename>        side files of the version (rejected rows of an ingest, an export's index map...)

Write protocol (:meth:`Workspace.write_table`): the rows are streamed into a fresh attempt directory (memory stays
bounded by one row group), side files are added next to them, the files and their directories are made durable
(fsync, on local disk), then the manifest of version ``N + 1`` is published with create-if-absent semantics, ``N``
being the latest version the writer read. That publication is a compare-and-swap on the version number: of several
writers that read the same ``N``, exactly one creates ``N + 1``. What a loser does depends on the write:

* an append (``append=True``) re-bases: its version lists the data files of its parent (the latest version) and
  then its own, so the loser reads the new latest version, rebuilds its manifest on top of it (its own data files
  stay valid: manifests point at attempts, not the other way round) and tries again. No append is ever lost.
* a write that names the version it replaces (``expected_version``: an overwrite after a read, a derived table)
  fails with :class:`ConflictError` (table, expected and actual version) and commits nothing.
* a plain write (neither) takes the next free number: it never replaced anything, so nothing is lost.

A task that crashes or is killed before the manifest exists leaves only an unreferenced attempt directory, which no
reader ever looks at and :meth:`Workspace.gc` deletes once it is older than a grace period. Readers list the
manifests, so they always see complete versions. On local disk the compare-and-swap is ``os.link``; on ``s3://`` a
PUT with ``If-None-Match: *``; where no conditional write exists it is only partly safe (see
:mod:`~openfeat_core.workspace.storage`).

Idempotent retries: ``write_table(..., idempotency_key=k)`` first looks for a committed version of the table
carrying ``k`` and returns it without reading the data, so a retried task (same key, e.g. the orchestrator's run
id + task id) does not load the table twice. Writers racing with the same key end with one version: the loser of
the manifest race finds the winner's key, deletes its own attempt and returns the winner's version.

Side files (bytes the version carries besides its rows) live in the attempt directory, so they share the version's
lifetime and :meth:`Workspace.gc` never separates them from it. They are not listed in the manifest (manifests are
immutable once committed); :meth:`Workspace.side_files` lists the directory. Pass them to ``write_table`` to commit
them atomically with the rows, or add them later with :meth:`Workspace.write_side_file` (an atomic replace).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from openfeat_core.errors import DataError, Failure, OpenFeatError
from openfeat_core.io.location import Location, resolve
from openfeat_core.workspace.storage import (
    TEMP_PREFIX,
    create_if_absent,
    ensure_dir,
    put_atomic,
    read_bytes,
    sync_dirs,
    sync_file,
)
from openfeat_core.workspace.version import TableVersion

__all__ = ["ConflictError", "TableData", "Workspace", "validate_name"]

logger = logging.getLogger("openfeat.workspace")

#: What ``write_table`` accepts: a table, a batch, or a stream of batches (tables are accepted as stream items too).
TableData: TypeAlias = pa.Table | pa.RecordBatch | pa.RecordBatchReader | Iterable[pa.RecordBatch | pa.Table]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")
_MANIFEST = re.compile(r"(\d{6,})\.json")
_ATTEMPT = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{32}")
_ATTEMPT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_SIDE_DIR = "_side"
#: More commits lost to racing writers than this in one call means something other than a race is wrong.
_MAX_COMMIT_ATTEMPTS = 10_000


class ConflictError(DataError):
    """Another writer committed a version of the table after this write read it: nothing was committed.

    Raised by a write that named the version it replaces (``expected_version``), or by an append whose table was
    replaced meanwhile by a version with other columns. Reading the table again and retrying is safe; a retry
    inside the same write would silently discard the other writer's version, so it is not done.

    Attributes:
        table: the table.
        expected: the version the write expected to be the latest (0: none).
        actual: the latest version found at commit time (0: none).
    """

    # Transient, not terminal: nothing was committed, and a task reads the latest version on every run (it never
    # pins the version it replaces), so rerunning it resolves the conflict by itself; only a library caller that
    # passed its own ``expected_version`` must read again first. A ``DataError`` subclass for older callers.
    failure = Failure.CONFLICT

    def __init__(self, table: str, workspace: str, expected: int, actual: int, reason: str = "") -> None:
        self.table = table
        self.expected = expected
        self.actual = actual
        wanted = f"version {expected}" if expected else "no version"
        found = f"version {actual}" if actual else "no version"
        why = reason or "another writer committed first"
        super().__init__(
            f"conflicting write to table {table!r} in workspace {workspace}: expected {wanted} as the latest, found "
            f"{found} ({why}); nothing was committed: read the table again and retry"
        )


def validate_name(name: object, what: str = "table name") -> str:
    """Return ``name`` if it is a valid table (or side-file) name.

    A name is 1-200 letters, digits, ``_``, ``-`` and ``.``, and does not start with ``.`` or ``-`` (so it is never
    hidden, never ``..``, and reads the same as a path on every filesystem and object store).

    Raises:
        DataError: the name is not valid; the message quotes it and states the rule.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DataError(
            f"invalid {what} {name!r}: use 1-200 letters, digits, '_', '-' and '.', "
            "starting with a letter, a digit or '_'"
        )
    return name


class Workspace:
    """Versioned Parquet tables with a catalog, in a local directory or an object store (see the module docstring).

    Instances are cheap, hold no open files, and may be shared between threads. Open one with :meth:`open`.
    """

    def __init__(
        self,
        location: Location,
        *,
        rows_per_file: int = 5_000_000,
        row_group_rows: int = 131_072,
        compression: str = "zstd",
    ) -> None:
        """Use :meth:`open`; this takes an already resolved :class:`~openfeat_core.io.location.Location`."""
        for label, value in (("rows_per_file", rows_per_file), ("row_group_rows", row_group_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise OpenFeatError(f"{label} must be a positive integer, got {value!r}")
        self._location = location
        self._rows_per_file = rows_per_file
        self._row_group_rows = row_group_rows
        self._compression = compression
        # Manifests are immutable once committed, so a parsed one never goes stale.
        self._manifests: dict[tuple[str, int], TableVersion] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        uri: str | os.PathLike[str],
        storage_options: Mapping[str, Any] | None = None,
        *,
        rows_per_file: int = 5_000_000,
        row_group_rows: int = 131_072,
        compression: str = "zstd",
    ) -> Workspace:
        """Open (lazily: nothing is created until the first write) the workspace at a path or URI.

        Args:
            uri: a local path, ``file://...``, ``s3://bucket/prefix``, or another URI pyarrow's
                ``FileSystem.from_uri`` understands.
            storage_options: S3 settings (credentials, ``region``, ``endpoint_url``, ``scheme``...); they override
                the ``AWS_*`` environment variables. See :func:`openfeat_core.io.location.s3_options`; a local
                root has nothing to configure and does not use them.
            rows_per_file: a write starts a new Parquet file every this many rows.
            row_group_rows: rows per Parquet row group; a write buffers at most one row group in memory.
            compression: Parquet compression codec.

        Raises:
            OpenFeatError: malformed URI or storage options, or a non-positive size.
        """
        return cls(
            resolve(uri, storage_options),
            rows_per_file=rows_per_file,
            row_group_rows=row_group_rows,
            compression=compression,
        )

    @property
    def uri(self) -> str:
        """Canonical URI of the root (the absolute path of a local workspace)."""
        return self._location.uri

    @property
    def filesystem(self) -> pafs.FileSystem:
        """The pyarrow filesystem the workspace reads and writes through (for tools reading ``data_uris``)."""
        return self._location.filesystem

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"

    # ------------------------------------------------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------------------------------------------------

    def write_table(
        self,
        name: str,
        data: TableData,
        *,
        schema: pa.Schema | None = None,
        lineage: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        side_files: Mapping[str, bytes] | None = None,
        append: bool = False,
        expected_version: int | None = None,
    ) -> TableVersion:
        """Write ``data`` as the next version of table ``name`` and commit it atomically.

        Args:
            name: table name (see :func:`validate_name`).
            data: a ``pa.Table``, a ``pa.RecordBatch``, a ``pa.RecordBatchReader`` or any iterable of record batches
                (or tables). Iterables are consumed once, streaming: memory holds one row group, not the table.
            schema: the schema of the data; required only when an iterable may yield nothing. Every batch must have
                this schema (field names, types and nullability; metadata is taken from ``schema``).
            lineage: JSON-able provenance stored with the version (e.g. ``{"plan_digest": ..., "inputs":
                {"events": 3}}`` or the source files an ingest read).
            idempotency_key: if a committed version of ``name`` already carries this key, it is returned and
                ``data`` is not read; otherwise the new version carries the key. Use one that is stable across
                retries of the same task run (run id + task id) and different between runs.
            side_files: files (name -> bytes) committed with the version; see :meth:`side_files`.
            append: the new version holds the rows of the table's latest version at commit time, then ``data``
                (whose columns must be the table's). It references that version's data files instead of copying
                them, and re-bases onto whatever a concurrent writer committed first: no append is lost.
            expected_version: commit only if this is still the table's latest version (0: the table has none);
                otherwise raise :class:`ConflictError`. Without it (and without ``append``) the version takes the
                next free number.

        Returns:
            The committed version (or the earlier one with the same idempotency key).

        Raises:
            ConflictError: ``expected_version`` is no longer the latest version (checked before the data is read,
                and again at the commit), or an append found the table replaced by one with other columns.
            DataError: invalid table or side-file name, batches with differing schemas, an empty stream without
                ``schema``, lineage that is not JSON-serialisable, an append whose columns are not the table's.
            Exception: whatever the data iterable raises propagates unchanged; nothing is committed and the attempt
                directory is deleted (a crash that gives no chance to delete it leaves it to :meth:`gc`).
        """
        validate_name(name)
        if idempotency_key is not None and (not isinstance(idempotency_key, str) or not idempotency_key):
            raise DataError(f"idempotency_key of table {name!r} must be a non-empty string, got {idempotency_key!r}")
        lineage_copy = _json_copy(name, lineage or {})
        side = dict(side_files or {})
        for filename, content in side.items():
            validate_name(filename, "side file name")
            _check_bytes(name, filename, content)

        if expected_version is not None and (
            isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0
        ):
            raise DataError(
                f"expected_version of table {name!r} must be a version number or 0, got {expected_version!r}"
            )

        checked: set[int] = set()
        numbers = self._version_numbers(name)
        if idempotency_key is not None:
            previous = self._find_key(name, idempotency_key, numbers, checked)
            if previous is not None:
                return previous
        latest = max(numbers, default=0)
        if expected_version is not None and latest != expected_version:
            raise ConflictError(name, self.uri, expected_version, latest)

        attempt = f"{datetime.now(timezone.utc).strftime(_ATTEMPT_TIME_FORMAT)}-{uuid.uuid4().hex}"
        attempt_dir = f"{self._table_dir(name)}/data/{attempt}"
        try:
            schema, batches = _as_batches(name, data, schema)
            mismatch = _append_mismatch(self._load(name, latest), schema) if append and latest else None
            if mismatch is not None:
                raise DataError(mismatch)
            ensure_dir(self._location, attempt_dir)
            writer = _AttemptWriter(
                self._location, attempt_dir, schema, self._rows_per_file, self._row_group_rows, self._compression
            )
            try:
                for index, batch in enumerate(batches):
                    writer.add(name, index, batch)
                writer.finish()
            finally:
                writer.close()
            if side:
                ensure_dir(self._location, f"{attempt_dir}/{_SIDE_DIR}")
                for filename, content in side.items():
                    put_atomic(self._location, f"{attempt_dir}/{_SIDE_DIR}/{filename}", bytes(content))
            table_dir = self._table_dir(name)
            ensure_dir(self._location, f"{table_dir}/_v")
            # The data files were fsynced as each was closed; these make their (possibly new) directory entries
            # durable too, all before the manifest that references them can exist.
            root = self._location.path
            sync_dirs(self._location, [attempt_dir, f"{table_dir}/data", f"{table_dir}/_v", table_dir])
            sync_dirs(self._location, [f"{root}/tables", root])
        except BaseException:
            self._delete_quietly(attempt_dir)
            raise
        try:
            committed = self._commit(
                name, attempt, schema, writer, lineage_copy, idempotency_key, checked, append, expected_version, latest
            )
        except ConflictError:
            # Every manifest this write tried to create was refused, so nothing references the copy.
            self._delete_quietly(attempt_dir)
            raise
        # No cleanup on other failures: a commit that fails half-way (say, the manifest PUT succeeded but its answer
        # was lost) may have published a manifest that references this data. gc() decides from manifests.
        if committed.attempt != attempt:
            # Another writer committed the same idempotency key first; our copy of the rows is garbage.
            self._delete_quietly(attempt_dir)
        return committed

    def _commit(
        self,
        name: str,
        attempt: str,
        schema: pa.Schema,
        writer: _AttemptWriter,
        lineage: dict[str, Any],
        idempotency_key: str | None,
        checked: set[int],
        append: bool,
        expected_version: int | None,
        read_version: int,
    ) -> TableVersion:
        """Publish the manifest of the version after the latest one; see the module docstring for lost races."""
        own_files = tuple(f"data/{attempt}/{f}" for f in writer.files)
        for _ in range(_MAX_COMMIT_ATTEMPTS):
            # One listing for all: the key must have been looked for in every version below the one we claim, and
            # the parent of an append is the version just below it, read from this same listing.
            numbers = self._version_numbers(name)
            if idempotency_key is not None:
                previous = self._find_key(name, idempotency_key, numbers, checked)
                if previous is not None:
                    return previous
            latest = max(numbers, default=0)
            if expected_version is not None and latest != expected_version:
                raise ConflictError(name, self.uri, expected_version, latest)
            parent = self._load(name, latest) if append and latest else None
            mismatch = _append_mismatch(parent, schema) if parent is not None else None
            if mismatch is not None:
                # The version the data was checked against was replaced by one with other columns.
                raise ConflictError(name, self.uri, read_version, latest, mismatch)
            version = TableVersion(
                table=name,
                version=latest + 1,
                schema=parent.schema if parent is not None else schema,
                num_rows=writer.num_rows + (parent.num_rows if parent is not None else 0),
                num_bytes=writer.num_bytes + (parent.num_bytes if parent is not None else 0),
                created_at=datetime.now(timezone.utc),
                files=(parent.files if parent is not None else ()) + own_files,
                digest=writer.digest(parent.digest if parent is not None else None),
                attempt=attempt,
                workspace=self.uri,
                idempotency_key=idempotency_key,
                lineage=lineage,
                parent=parent.version if parent is not None else None,
            )
            payload = json.dumps(version.manifest_dict(), indent=2, sort_keys=True).encode()
            path = self._manifest_path(name, version.version)
            if create_if_absent(self._location, path, payload) or self._holds(path, payload):
                with self._lock:
                    self._manifests[(name, version.version)] = version
                return version
            logger.debug("openfeat: table %r version %d was taken by another writer; trying again", name, latest + 1)
        raise OpenFeatError(
            f"could not commit table {name!r} (data in {self._location.uri_of(self._table_dir(name))}/data/{attempt})"
            f" after {_MAX_COMMIT_ATTEMPTS} attempts: every version number was taken by another writer"
        )

    def _holds(self, path: str, payload: bytes) -> bool:
        """True if the manifest at ``path`` is ours although its conditional create answered "taken".

        That happens when our PUT succeeded but its answer was lost: the client's retry of the same PUT is refused
        (412) because of our own object. Taking it for another writer's would commit our rows a second time on top
        of it. The manifest names this write's attempt (a random id), so equal bytes mean our own.
        """
        try:
            return read_bytes(self._location, path) == payload
        except FileNotFoundError:  # 409: a racing conditional PUT was in progress and did not complete
            return False

    def write_side_file(self, name: str, version: int, filename: str, data: bytes) -> str:
        """Add (or atomically replace) a side file of a committed version; returns its URI.

        Raises:
            DataError: unknown table or version, invalid file name.
        """
        path = self._side_path(name, version, filename)
        _check_bytes(name, filename, data)
        ensure_dir(self._location, path.rsplit("/", 1)[0])
        put_atomic(self._location, path, bytes(data))
        return self._location.uri_of(path)

    # ------------------------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------------------------

    def exists(self, name: str, version: int | None = None) -> bool:
        """True if table ``name`` has a committed version (``version``, or any).

        Raises:
            DataError: invalid table name.
        """
        numbers = self._version_numbers(validate_name(name))
        return bool(numbers) if version is None else version in numbers

    def versions(self, name: str) -> list[TableVersion]:
        """Every committed version of ``name``, oldest first.

        Raises:
            DataError: invalid name, or no such table (the message lists the tables that exist).
        """
        numbers = self._version_numbers(validate_name(name))
        if not numbers:
            raise self._unknown_table(name)
        return [self._load(name, n) for n in numbers]

    def table_info(self, name: str, version: int | None = None) -> TableVersion:
        """The catalog entry of version ``version`` of ``name`` (the latest when None).

        Raises:
            DataError: invalid name, no such table, or no such version (the message lists what exists).
        """
        numbers = self._version_numbers(validate_name(name))
        if not numbers:
            raise self._unknown_table(name)
        if version is None:
            return self._load(name, numbers[-1])
        if isinstance(version, bool) or not isinstance(version, int) or version not in numbers:
            raise DataError(
                f"table {name!r} in workspace {self.uri} has no version {version!r}; versions: {_ranges(numbers)}"
            )
        return self._load(name, version)

    def list_tables(self) -> list[TableVersion]:
        """The latest version of every table, by table name."""
        out = []
        for name in self._table_dir_names():
            numbers = self._version_numbers(name)
            if numbers:
                out.append(self._load(name, numbers[-1]))
        return out

    def read_table(self, name: str, version: int | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """Read a version (the latest when None) of a table, optionally only some columns.

        Raises:
            DataError: unknown table, version or column, or a data file of the version is missing.
        """
        info = self.table_info(name, version)
        selected = self._check_columns(info, columns)
        try:
            dataset = ds.dataset(
                [self._file_path(info, f) for f in info.files],
                schema=info.schema,
                format="parquet",
                filesystem=self._location.filesystem,
            )
            return dataset.to_table(columns=selected)
        except FileNotFoundError as e:
            raise self._missing_file(info, e) from e

    def iter_batches(
        self,
        name: str,
        version: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a version (the latest when None) of a table as record batches, in row order.

        The version is resolved and the columns checked when this is called, not at the first ``next()``. Memory
        holds about one row group of one file.

        Raises:
            DataError: unknown table, version or column; during iteration, a missing data file.
        """
        info = self.table_info(name, version)
        selected = self._check_columns(info, columns)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        return self._stream(info, selected, batch_size)

    def _stream(self, info: TableVersion, columns: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
        for f in info.files:
            try:
                source = self._location.filesystem.open_input_file(self._file_path(info, f))
            except FileNotFoundError as e:
                raise self._missing_file(info, e) from e
            with source:
                yield from pq.ParquetFile(source).iter_batches(batch_size=batch_size, columns=columns)

    def side_files(self, name: str, version: int) -> dict[str, str]:
        """The side files of a version: file name -> URI, by name.

        Raises:
            DataError: unknown table or version.
        """
        info = self.table_info(name, version)
        directory = f"{self._table_dir(name)}/data/{info.attempt}/{_SIDE_DIR}"
        selector = pafs.FileSelector(directory, allow_not_found=True)
        return {
            i.base_name: self._location.uri_of(i.path)
            for i in sorted(self._location.filesystem.get_file_info(selector), key=lambda i: i.base_name)
            if i.type == pafs.FileType.File and not i.base_name.startswith(TEMP_PREFIX)
        }

    def side_file_uri(self, name: str, version: int, filename: str) -> str:
        """The URI a side file of a version has (whether or not it was written), for tools that read URIs.

        Raises:
            DataError: unknown table or version, invalid file name.
        """
        return self._location.uri_of(self._side_path(name, version, filename))

    def read_side_file(self, name: str, version: int, filename: str) -> bytes:
        """The content of a side file.

        Raises:
            DataError: unknown table, version or side file (the message lists the version's side files).
        """
        path = self._side_path(name, version, filename)
        try:
            return read_bytes(self._location, path)
        except FileNotFoundError:
            existing = ", ".join(self.side_files(name, version)) or "none"
            raise DataError(
                f"table {name!r} version {version} has no side file {filename!r}; side files: {existing}"
            ) from None

    # ------------------------------------------------------------------------------------------------------------
    # Garbage collection
    # ------------------------------------------------------------------------------------------------------------

    def gc(
        self,
        grace: timedelta = timedelta(hours=24),
        *,
        dry_run: bool = False,
        tables: Sequence[str] | None = None,
    ) -> list[str]:
        """Delete write attempts no manifest references, once idle for ``grace``; returns the deleted URIs.

        What it deletes is the data a writer left behind without committing it: a task killed (or failed without
        a chance to clean up) before its manifest, the copy of a writer that lost a race. An attempt's last activity
        is the later of its start (in its name) and the newest modification time of anything in it, so ``grace``
        must exceed the longest time a running writer spends on one data file (on object stores a file being
        uploaded is invisible until it is complete) plus the time from its last file to its commit. Temporary
        manifests of interrupted local commits older than ``grace`` are deleted too. The files of a committed
        version (including the files an append version shares with its parent) are never touched. A manifest that
        cannot be read stops the collection (raises) rather than risk deleting the data it references.

        Cheap when there is nothing to collect: one listing of each table's ``data/`` and ``_v/``; manifests are
        read only when an attempt directory older than ``grace`` exists.

        Args:
            grace: minimum idle time of a deleted attempt.
            dry_run: only report what would be deleted.
            tables: collect only these tables (default: every table).

        Raises:
            DataError: an invalid or unknown table name in ``tables``, an unreadable manifest.
        """
        now = datetime.now(timezone.utc)
        existing = self._table_dir_names()
        if tables is None:
            names = existing
        else:
            names = [validate_name(name) for name in tables]
            unknown = [name for name in names if name not in existing]
            if unknown:
                raise self._unknown_table(unknown[0])
        removed: list[str] = []
        for name in names:
            removed.extend(self._collect(name, now, grace, dry_run))
        return removed

    def _collect(self, name: str, now: datetime, grace: timedelta, dry_run: bool) -> list[str]:
        """The garbage of one table (see :meth:`gc`), deleted unless ``dry_run``."""
        filesystem = self._location.filesystem
        table_dir = self._table_dir(name)
        removed: list[str] = []
        for info in filesystem.get_file_info(pafs.FileSelector(f"{table_dir}/_v", allow_not_found=True)):
            if info.base_name.startswith(TEMP_PREFIX) and info.mtime is not None and now - _utc(info.mtime) >= grace:
                removed.append(self._location.uri_of(info.path))
                if not dry_run:
                    filesystem.delete_file(info.path)
        # Attempts that started less than ``grace`` ago are active by definition: only older ones are looked at.
        started: dict[str, datetime] = {}
        for info in filesystem.get_file_info(pafs.FileSelector(f"{table_dir}/data", allow_not_found=True)):
            match = _ATTEMPT.fullmatch(info.base_name)
            if info.type == pafs.FileType.Directory and match:
                start = datetime.strptime(match.group(1), _ATTEMPT_TIME_FORMAT).replace(tzinfo=timezone.utc)
                if now - start >= grace:
                    started[info.base_name] = start
        if not started:
            return removed
        referenced: set[str] = set()
        for number in self._version_numbers(name):
            version = self._load(name, number)
            referenced.add(version.attempt)
            referenced.update(f.split("/")[1] for f in version.files)
        for attempt in sorted(set(started) - referenced):
            path = f"{table_dir}/data/{attempt}"
            last_activity = started[attempt]
            for info in filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True)):
                if info.mtime is not None:
                    last_activity = max(last_activity, _utc(info.mtime))
            if now - last_activity >= grace:
                removed.append(self._location.uri_of(path))
                if not dry_run:
                    filesystem.delete_dir(path)
        return removed

    # ------------------------------------------------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------------------------------------------------

    def _table_dir(self, name: str) -> str:
        return f"{self._location.path}/tables/{name}"

    def _manifest_path(self, name: str, number: int) -> str:
        return f"{self._table_dir(name)}/_v/{number:06d}.json"

    def _file_path(self, info: TableVersion, relative: str) -> str:
        return f"{self._table_dir(info.table)}/{relative}"

    def _side_path(self, name: str, version: int, filename: str) -> str:
        validate_name(filename, "side file name")
        info = self.table_info(name, version)
        return f"{self._table_dir(name)}/data/{info.attempt}/{_SIDE_DIR}/{filename}"

    def _table_dir_names(self) -> list[str]:
        selector = pafs.FileSelector(f"{self._location.path}/tables", allow_not_found=True)
        infos = self._location.filesystem.get_file_info(selector)
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory and _NAME.fullmatch(i.base_name))

    def _version_numbers(self, name: str) -> list[int]:
        selector = pafs.FileSelector(f"{self._table_dir(name)}/_v", allow_not_found=True)
        numbers = []
        for info in self._location.filesystem.get_file_info(selector):
            match = _MANIFEST.fullmatch(info.base_name)
            if match and info.type == pafs.FileType.File:
                numbers.append(int(match.group(1)))
        return sorted(numbers)

    def _load(self, name: str, number: int) -> TableVersion:
        key = (name, number)
        cached = self._manifests.get(key)
        if cached is not None:
            return cached
        path = self._manifest_path(name, number)
        try:
            version = TableVersion.from_dict(json.loads(read_bytes(self._location, path)), workspace=self.uri)
        except (DataError, ValueError) as e:
            raise DataError(f"unreadable manifest {self._location.uri_of(path)}: {e}") from e
        if (version.table, version.version) != key:
            raise DataError(
                f"manifest {self._location.uri_of(path)} describes table {version.table!r} version "
                f"{version.version}, not {name!r} version {number}"
            )
        with self._lock:
            self._manifests[key] = version
        return version

    def _find_key(self, name: str, key: str, numbers: list[int], checked: set[int]) -> TableVersion | None:
        """The version of ``name`` carrying idempotency ``key`` among ``numbers`` not in ``checked`` (updated)."""
        for number in reversed(numbers):
            if number in checked:
                continue
            checked.add(number)
            version = self._load(name, number)
            if version.idempotency_key == key:
                return version
        return None

    def _check_columns(self, info: TableVersion, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        if isinstance(columns, str):
            raise DataError(f"columns must be a list of names, got the string {columns!r}")
        unknown = [c for c in columns if c not in info.schema.names]
        if unknown:
            raise DataError(
                f"table {info.table!r} version {info.version} has no column(s) {', '.join(map(repr, unknown))}; "
                f"columns: {', '.join(info.schema.names)}"
            )
        return list(columns)

    def _unknown_table(self, name: str) -> DataError:
        existing = [n for n in self._table_dir_names() if self._version_numbers(n)]
        return DataError(f"no table {name!r} in workspace {self.uri}; tables: {_enumerate(existing)}")

    def _missing_file(self, info: TableVersion, error: OSError) -> DataError:
        return DataError(
            f"table {info.table!r} version {info.version}: a data file is missing ({error}); the workspace "
            "was modified outside OpenFeat"
        )

    def _delete_quietly(self, path: str) -> None:
        # Best effort: the attempt is garbage either way and gc() removes what this leaves.
        with contextlib.suppress(OSError):
            self._location.filesystem.delete_dir(path)


class _HashingSink:
    """A file object for ParquetWriter that forwards to a pyarrow output stream and hashes what passes through."""

    def __init__(self, stream: pa.NativeFile) -> None:
        self._stream = stream
        self._sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        self._sha.update(view)
        self._stream.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self.closed = True

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class _AttemptWriter:
    """Writes the rows of one attempt as ``part-NNNNN.parquet`` files of fixed-size row groups.

    Row groups and files are cut at fixed row counts whatever the input batching (a row group is re-assembled from
    the buffered batches), so the bytes, hence the digest, depend only on the rows and the settings.
    """

    def __init__(
        self,
        location: Location,
        directory: str,
        schema: pa.Schema,
        rows_per_file: int,
        row_group_rows: int,
        compression: str,
    ) -> None:
        self._location = location
        self._directory = directory
        self._schema = schema
        self._rows_per_file = rows_per_file
        self._row_group_rows = row_group_rows
        self._compression = compression
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._stream: pa.NativeFile | None = None
        self._sink: _HashingSink | None = None
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._file_digests: list[str] = []
        self.files: list[str] = []
        self.num_rows = 0
        self.num_bytes = 0

    def add(self, table: str, index: int, batch: pa.RecordBatch) -> None:
        """Buffer one batch, writing every row group it completes (schema metadata of the batch is ignored)."""
        if not batch.schema.equals(self._schema):
            raise DataError(
                f"table {table!r}: batch {index} has schema ({_schema_text(batch.schema)}), "
                f"expected ({_schema_text(self._schema)})"
            )
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self._next_group_rows():
            self._write_group(self._next_group_rows())

    def finish(self) -> None:
        """Write the buffered rows and close the last file (an empty table still gets one file, for its schema)."""
        if self._pending_rows:
            self._write_group(self._pending_rows)
        if self._writer is None and not self.files:
            self._open_file()
        if self._writer is not None:
            self._close_file()

    def close(self) -> None:
        """Release the open file, if any (after a failure: the attempt is abandoned)."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        with contextlib.suppress(Exception):
            if self._stream is not None:
                self._stream.close()
        self._writer = self._stream = self._sink = None

    def digest(self, parent: str | None = None) -> str:
        """``sha256:`` over the per-file SHA-256 of the files, after the digest of the version appended to."""
        parts = [parent, *self._file_digests] if parent is not None else self._file_digests
        return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _next_group_rows(self) -> int:
        return min(self._row_group_rows, self._rows_per_file - self._file_rows)

    def _write_group(self, rows: int) -> None:
        buffered = pa.Table.from_batches(self._pending, schema=self._schema)
        rest = buffered.slice(rows)
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        if self._writer is None:
            self._open_file()
        assert self._writer is not None
        # One contiguous chunk per row group: Parquet page boundaries then do not depend on the input batching.
        self._writer.write_table(buffered.slice(0, rows).combine_chunks(), row_group_size=rows)
        self._file_rows += rows
        self.num_rows += rows
        if self._file_rows == self._rows_per_file:
            self._close_file()

    def _open_file(self) -> None:
        filename = f"part-{len(self.files):05d}.parquet"
        self._stream = self._location.filesystem.open_output_stream(f"{self._directory}/{filename}")
        self._sink = _HashingSink(self._stream)
        self._writer = pq.ParquetWriter(self._sink, self._schema, compression=self._compression)
        self.files.append(filename)

    def _close_file(self) -> None:
        assert self._writer is not None and self._stream is not None and self._sink is not None
        self._writer.close()
        self._stream.close()
        # Once per file, when it is complete: the manifest that will reference it must never point at lost bytes.
        sync_file(self._location, f"{self._directory}/{self.files[-1]}")
        self._file_digests.append(self._sink.hexdigest())
        self.num_bytes += self._sink.size
        self._writer = self._stream = self._sink = None
        self._file_rows = 0


def _append_mismatch(parent: TableVersion, schema: pa.Schema) -> str | None:
    """Why rows of ``schema`` cannot follow those of ``parent`` in one version, or None if they can."""
    if parent.schema.equals(schema, check_metadata=False):
        return None
    return (
        f"cannot append to table {parent.table!r}: its version {parent.version} has columns "
        f"({_schema_text(parent.schema)}), the appended data ({_schema_text(schema)})"
    )


def _as_batches(table: str, data: TableData, schema: pa.Schema | None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and batch stream of ``data`` (peeking at the first item of an iterable without a schema)."""
    found: pa.Schema | None = None
    items: Iterator[Any]
    if isinstance(data, pa.Table):
        found, items = data.schema, iter(data.to_batches())
    elif isinstance(data, pa.RecordBatch):
        found, items = data.schema, iter([data])
    elif isinstance(data, pa.RecordBatchReader):
        found, items = data.schema, iter(data)
    else:
        items = iter(data)
    batches = _flatten(table, items)
    if found is None:
        first = next(batches, None)
        if first is None:
            if schema is None:
                raise DataError(f"table {table!r}: the data yielded no batch and no schema was given")
            return schema, iter(())
        found = first.schema
        batches = _chain_one(first, batches)
    if schema is None:
        return found, batches
    if not found.equals(schema, check_metadata=False):
        raise DataError(f"table {table!r}: data has schema ({_schema_text(found)}), expected ({_schema_text(schema)})")
    return schema, batches


def _flatten(table: str, items: Iterator[Any]) -> Iterator[pa.RecordBatch]:
    for index, item in enumerate(items):
        if isinstance(item, pa.RecordBatch):
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            raise DataError(f"table {table!r}: item {index} of the data is a {type(item).__name__}, not a RecordBatch")


def _chain_one(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _json_copy(table: str, lineage: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, JSON-normalised copy of ``lineage`` (so later changes by the caller do not leak in)."""
    if not isinstance(lineage, Mapping):
        raise DataError(f"lineage of table {table!r} must be a mapping, got {type(lineage).__name__}")
    try:
        copy: dict[str, Any] = json.loads(json.dumps(dict(lineage), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise DataError(f"lineage of table {table!r} is not JSON-serialisable: {e}") from None
    return copy


def _check_bytes(table: str, filename: str, content: object) -> None:
    if not isinstance(content, bytes | bytearray | memoryview):
        raise DataError(f"side file {filename!r} of table {table!r} must be bytes, got {type(content).__name__}")


def _schema_text(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} {f.type}{'' if f.nullable else ' not null'}" for f in schema)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _enumerate(names: Sequence[str], limit: int = 20) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in total)"


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if n is not None:
            start = previous = n
    return ", ".join(parts)
