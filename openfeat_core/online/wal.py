"""Durable append-only log + Arrow IPC snapshots: what makes an acknowledged online-store insert survive a crash.

The online store keeps its tables in memory. Every insert (an Arrow record batch) and every catalog change (a
JSON-able dict) is appended to this log before it is acknowledged; recovery is ``load_snapshot()`` (the tables and
catalog as of the latest valid snapshot) followed by ``replay()`` (every entry appended after it, in order).

On-disk format (one directory per store; all integers little-endian)::

    LOCK                          flock()ed by the open DurableLog: two writers on one directory would interleave
    wal-<n:020d>.log              log segments, numbered consecutively; a segment only ever grows
    snapshot-<n:020d>/            a snapshot; it covers every segment numbered below n
        MANIFEST.json             {"format": 2, "sequence": n, "last_sequence": s, "meta": [...],
                                   "tables": [{"name", "file", "rows", "bytes", "crc32"}, ...], "crc32": c}
                                   (s: the sequence number of the last entry it covers; c: CRC32 of the rest of
                                   the manifest, canonical JSON; format 1, without both, is still read)
        t00000.arrow ...          one Arrow IPC *file* per table (the names live in the manifest, so any table
                                   name is allowed)
    snapshot-<n:020d>.tmp/        a snapshot being written; never read, deleted when the log is next opened
    quarantine/<time>/            what ``repair(apply=True)`` removed from the log, with a ``REPORT.json``

    frame   = magic b"OFW2" (4) | payload length N (uint64) | sequence number (uint64)
              | CRC32 of (length bytes + payload + sequence bytes) (uint32) | payload (N)
    payload = b"R" | table-name length (uint32) | table name (UTF-8) | Arrow IPC *stream* of exactly one batch
                  (schema included, so every batch is self-describing)
            | b"M" | UTF-8 JSON object (a catalog change)
            | b"S" | table-name length (uint32) | table name | JSON length (uint32) | UTF-8 JSON object
                  | Arrow IPC stream of one batch (absent when the name is empty)
                  (rows consumed from a stream together with the source positions they advance and the dead
                  letters of the bad messages among them: one frame, so a crash keeps all of it or none)

Frames written by earlier versions (magic b"OFW1", no sequence number, CRC32 of length bytes + payload) are still
read: they are numbered by their position, so a store written by an earlier version opens unchanged.

Every entry has a sequence number, one more than the entry before it (the first is 1), across segments and
snapshots: a snapshot records the last one it covers. Opening the log checks the whole chain -- the newest valid
snapshot, then every segment from its number on, each present, each frame complete with a good CRC, each sequence
number the expected one. What a crash can leave is told apart from damage:

* a *torn tail* -- the last frame of the last non-empty segment is incomplete (its header or payload shorter than
  declared, or only zero bytes where it should be): a write that was never acknowledged. It is cut off (the file is
  truncated there) when the log is opened;
* anything else is *corruption*: a complete frame whose CRC fails (also the last frame: it was acknowledged), a bad
  frame with more data after it, an incomplete frame in a segment that is not the last, a missing segment or a jump
  in the sequence numbers. Opening the log raises :class:`LogCorruptError` (file, byte offset, sequence numbers
  affected, the repair command) and changes nothing; :func:`repair` reports the damage and, with ``apply=True``,
  moves it to ``quarantine/``.

Segments: opening the log starts a fresh segment numbered after every existing one (and not below the snapshot), so
appends never follow bytes a crash may have left half-written. A snapshot n starts segment n (appends go on there
while it is written), writes tables and manifest to ``snapshot-n.tmp``, fsyncs each file and the directory, renames
it to ``snapshot-n``, fsyncs the parent, reads it back against its checksums, and only then deletes the segments
below n and older snapshots. A crash at any point leaves either the old snapshot with every segment or the new one.
A snapshot directory that is incomplete or fails its checksums is ignored (the older valid one is used, and the chain
check proves the segments it needs are all there); opening deletes only segments and snapshots that a validated
snapshot covers. Snapshots always fsync, whatever the append policy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.ipc as ipc

from openfeat_core.errors import Failure, OpenFeatError
from openfeat_core.fsync import fsync_directory, fsync_file

__all__ = [
    "DurableLog",
    "DurableLogError",
    "FsyncPolicy",
    "LogCorruptError",
    "LogEntry",
    "LogLockedError",
    "LostEntry",
    "PendingSnapshot",
    "RepairReport",
    "Snapshot",
    "repair",
]

logger = logging.getLogger(__name__)

FsyncPolicy = Literal["batch", "always", "never"]
"""When appends reach stable storage.

``"batch"`` (default): one ``fdatasync`` per append call -- the data and the file size, all a replay needs.
``"always"``: a full ``fsync`` (data and every inode field) per append call, and of the directory whenever a segment
is created. ``"never"``: appends are handed to the OS without syncing: they survive a crash of the process (SIGKILL
included), not a power loss or a kernel crash.
"""

MAGIC = b"OFW2"
LEGACY_MAGIC = b"OFW1"
_HEADER = struct.Struct("<4sQQI")  # magic, payload length, sequence number, CRC32
_LEGACY_HEADER = struct.Struct("<4sQI")  # magic, payload length, CRC32 of (length bytes + payload)
_LENGTH = struct.Struct("<Q")
_NAME_LEN = struct.Struct("<I")
_KIND_ROWS = b"R"
_KIND_META = b"M"
_KIND_STREAM = b"S"
_SNAPSHOT_FORMAT = 2
_SNAPSHOT_FORMATS = (1, 2)
_MANIFEST = "MANIFEST.json"
QUARANTINE = "quarantine"
REPAIR_COMMAND = "openfeat store-repair"
_SEGMENT_RE = re.compile(r"^wal-(\d{20})\.log$")
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d{20})$")
_TEMP_RE = re.compile(r"^snapshot-(\d{20})\.tmp$")
_CHUNK = 1 << 20


class DurableLogError(OpenFeatError):
    """The durable log cannot be used (a write or sync failed, or it is closed)."""

    failure = Failure.UNAVAILABLE  # a full or failing disk, a store being closed: it may come back


class LogCorruptError(DurableLogError):
    """The log or a snapshot is damaged somewhere a crash cannot explain (not a torn tail).

    Attributes:
        path: the damaged (or missing) file.
        offset: byte offset of the first bad frame in it (0 for a snapshot file or a missing segment).
        first_sequence: the first sequence number affected, when known.
        last_sequence: the last sequence number affected, when known.
    """

    failure = Failure.DATA  # it stays damaged until 'openfeat store-repair' (or a person) repairs it

    def __init__(
        self,
        path: str | os.PathLike[str],
        offset: int,
        reason: str,
        *,
        first_sequence: int | None = None,
        last_sequence: int | None = None,
        advice: str = "",
    ) -> None:
        self.path = Path(path)
        self.offset = offset
        self.first_sequence = first_sequence
        self.last_sequence = last_sequence
        affected = _sequence_range(first_sequence, last_sequence)
        text = f"{self.path}: corrupt at byte offset {offset}: {reason}"
        if affected:
            text += f"; entries affected: {affected}"
        super().__init__(text + (f"; {advice}" if advice else ""))


class LogLockedError(DurableLogError):
    """Another DurableLog (in this or another process) has the directory open."""

    failure = Failure.UNAVAILABLE  # the other process may stop


@dataclass(frozen=True)
class LogEntry:
    """One replayed entry.

    Attributes:
        kind: ``"rows"`` (an inserted batch), ``"meta"`` (a catalog change) or ``"stream"`` (source positions and
            dead letters of consumed messages that brought no rows).
        table: the table the rows were inserted into; ``None`` for meta and stream.
        batch: the inserted rows; ``None`` for meta and stream.
        meta: the catalog change; ``None`` for rows.
        sequence: its sequence number (0 when not read from the log).
        stream: for rows consumed from a stream (see :meth:`DurableLog.append_consumed`) and for ``"stream"``
            entries: ``{"positions": [[topic, partition, next offset], ...], "dead_letters": [{...}, ...]}``.
    """

    kind: Literal["rows", "meta", "stream"]
    table: str | None = None
    batch: pa.RecordBatch | None = None
    meta: dict[str, Any] | None = None
    sequence: int = 0
    stream: dict[str, Any] | None = None


@dataclass(frozen=True)
class Snapshot:
    """The content of a complete snapshot.

    Attributes:
        sequence: its number: it covers every log segment numbered below it.
        tables: table name -> rows.
        meta: the catalog, as given to :meth:`DurableLog.snapshot`.
        last_sequence: the sequence number of the last entry it covers (``None``: written by an earlier version).
    """

    sequence: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    meta: list[dict[str, Any]] = field(default_factory=list)
    last_sequence: int | None = None


@dataclass(frozen=True)
class PendingSnapshot:
    """A snapshot begun by :meth:`DurableLog.begin_snapshot`: segment ``number`` is started, the state to write must
    be the one after entry ``last_sequence``."""

    number: int
    last_sequence: int


@dataclass(frozen=True)
class LostEntry:
    """An entry :func:`repair` removes from the log.

    Attributes:
        segment: the segment file it was in.
        offset: its byte offset there.
        sequence: its sequence number (``None``: unreadable).
        kind: ``"rows"``, ``"meta"`` or ``"unreadable"`` (bytes that are not a decodable frame).
        table: the table of a rows entry, when readable.
        rows: the number of rows of a rows entry, when readable.
        bytes: its size on disk.
        damaged: whether it is the damage itself (else an intact entry that follows the damage).
    """

    segment: str
    offset: int
    sequence: int | None
    kind: str
    table: str | None
    rows: int | None
    bytes: int
    damaged: bool


@dataclass
class RepairReport:
    """What :func:`repair` found and (with ``apply``) did.

    Attributes:
        directory: the store directory.
        damage: one line per problem found (empty: the log opens as it is).
        lost: the entries removed (or that ``apply`` would remove), oldest first.
        ignored_snapshots: invalid snapshot directories (moved to the quarantine by ``apply``), with why.
        torn_tail: a torn tail that the next open cuts off, if any (``"file at offset N"``).
        applied: whether the removal was done.
        quarantine: where the removed bytes went (``None`` before ``apply``).
    """

    directory: str
    damage: list[str] = field(default_factory=list)
    lost: list[LostEntry] = field(default_factory=list)
    ignored_snapshots: list[str] = field(default_factory=list)
    torn_tail: str | None = None
    applied: bool = False
    quarantine: str | None = None

    @property
    def clean(self) -> bool:
        """No damage: the log opens as it is (a torn tail is cut at open, as after any crash; invalid snapshots are
        ignored, and moved to the quarantine by ``apply``)."""
        return not self.damage

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "clean": self.clean,
            "damage": self.damage,
            "lost": [vars(e) for e in self.lost],
            "lost_rows": sum(e.rows or 0 for e in self.lost),
            "ignored_snapshots": self.ignored_snapshots,
            "torn_tail": self.torn_tail,
            "applied": self.applied,
            "quarantine": self.quarantine,
        }


def _sequence_range(first: int | None, last: int | None) -> str:
    if first is None:
        return ""
    if last is None:
        return f"sequence {first} and possibly later ones"
    return f"sequence {first}" if first == last else f"sequences {first}..{last}"


class DurableLog:
    """An append-only, CRC-framed, sequence-numbered log of inserts and catalog changes, with atomic snapshots.

    Appends are serialised by an internal lock. ``replay()`` and ``load_snapshot()`` are meant for recovery, before
    the store serves writes. A snapshot is :meth:`begin_snapshot` (starts a new segment; the caller must capture the
    state of every entry appended so far at the same moment, under its own write lock, so that no append slips in
    between) then :meth:`write_snapshot` (the slow part: it may run in another thread while appends go on);
    :meth:`snapshot` does both.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: FsyncPolicy = "batch") -> None:
        """Open (creating it if needed) the log in ``directory``, check it, and start a fresh segment.

        A torn tail is cut off; segments and snapshots covered by the newest valid snapshot and half-written
        snapshots are deleted. Nothing else is changed: damage raises instead (see the module documentation).
        The directory lock is released when opening fails.

        Args:
            directory: where the segments and snapshots live.
            fsync: the durability policy of appends (see :data:`FsyncPolicy`).

        Raises:
            ValueError: unknown policy.
            LogLockedError: another DurableLog has the directory open.
            LogCorruptError: the log is damaged (names the file, offset and entries; nothing was changed).
        """
        if fsync not in get_args(FsyncPolicy):
            raise ValueError(f"fsync policy must be one of {get_args(FsyncPolicy)}, got {fsync!r}")
        self._dir = Path(directory)
        self._policy: FsyncPolicy = fsync
        self._lock = threading.Lock()
        self._failed: BaseException | None = None
        self._closed = False
        self._pending: PendingSnapshot | None = None
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _acquire_dir_lock(self._dir)
        self._fd = -1
        try:
            chain = _inspect(self._dir)
            if chain.damage:
                raise chain.error()
            self._snapshot_seq = chain.base.number if chain.base is not None else 0
            self._replay_start = chain.replay_start
            self._cut_and_prune(chain)
            self._next_sequence = chain.last_sequence + 1
            existing = self._segments()
            self._bytes_since_snapshot = sum(self._segment_path(s).stat().st_size for s in existing)
            self._entries_since_snapshot = max(0, self._next_sequence - self._replay_start)
            self._start_segment(max([self._snapshot_seq, *(s + 1 for s in existing)]))
        except BaseException:
            if self._fd >= 0:
                os.close(self._fd)
            os.close(self._lock_fd)
            raise

    @property
    def directory(self) -> Path:
        """The directory of the log."""
        return self._dir

    @property
    def last_sequence(self) -> int:
        """The sequence number of the last entry appended (0: none ever)."""
        with self._lock:
            return self._next_sequence - 1

    @property
    def bytes_since_snapshot(self) -> int:
        """Bytes of log the next recovery replays: what a snapshot now would make unnecessary."""
        with self._lock:
            return self._bytes_since_snapshot

    @property
    def entries_since_snapshot(self) -> int:
        """Entries of log the next recovery replays (its cost is mostly per entry for small inserts)."""
        with self._lock:
            return self._entries_since_snapshot

    @property
    def snapshot_written_at(self) -> float | None:
        """When the snapshot a recovery starts from was written (its manifest's mtime, seconds since the epoch);
        ``None``: there is none (or it cannot be read)."""
        with self._lock:
            seq = self._snapshot_seq
        if seq == 0:
            return None
        try:
            return (self._snapshot_path(seq) / _MANIFEST).stat().st_mtime
        except OSError:
            return None

    # ------------------------------------------------------------------------------------------------------------
    # Appending
    # ------------------------------------------------------------------------------------------------------------

    def append_rows(self, table: str, batch: pa.RecordBatch) -> None:
        """Append an insert; durable (per the policy) before returning.

        The caller acknowledges the insert only after this returns.

        Args:
            table: the table the rows go to.
            batch: the rows; its schema is stored with them.

        Raises:
            TypeError: ``batch`` is not a record batch.
            DurableLogError: the log is closed or a previous write failed.
            OSError: the write or sync failed (nothing of this entry is left in the log).
        """
        if not isinstance(batch, pa.RecordBatch):
            raise TypeError(f"append_rows takes a pyarrow.RecordBatch, got {type(batch).__name__}")
        name = table.encode("utf-8")
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        body = sink.getvalue()
        self._append(_KIND_ROWS + _NAME_LEN.pack(len(name)) + name, body)

    def append_consumed(self, table: str | None, batch: pa.RecordBatch | None, stream: dict[str, Any]) -> None:
        """Append rows consumed from a stream and the source positions they advance, in ONE frame.

        This is what makes stream ingest exactly once: after a crash the log holds both the rows and the positions
        past them, or neither, so a consumer that resumes from the recovered positions neither skips nor repeats a
        message. ``table`` and ``batch`` are ``None`` together when the messages brought no rows (all bad: the
        dead letters and positions are still recorded).

        Args:
            table: the table the rows go to.
            batch: the rows.
            stream: a JSON object: ``{"positions": [[topic, partition, next offset], ...], "dead_letters": [...]}``.

        Raises:
            TypeError: ``batch`` is not a record batch, or ``stream`` not a JSON-able dict (nothing is written).
            DurableLogError: the log is closed or a previous write failed.
            OSError: the write or sync failed (nothing of this entry is left in the log).
        """
        if (table is None) != (batch is None):
            raise TypeError("append_consumed takes a table and its rows, or neither")
        if batch is not None and not isinstance(batch, pa.RecordBatch):
            raise TypeError(f"append_consumed takes a pyarrow.RecordBatch, got {type(batch).__name__}")
        if not isinstance(stream, dict):
            raise TypeError(f"append_consumed takes a dict of positions, got {type(stream).__name__}")
        name = (table or "").encode("utf-8")
        state = json.dumps(stream, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        prefix = _KIND_STREAM + _NAME_LEN.pack(len(name)) + name + _NAME_LEN.pack(len(state)) + state
        if batch is None:
            self._append(prefix, b"")
            return
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        self._append(prefix, sink.getvalue())

    def append_meta(self, record: dict[str, Any]) -> None:
        """Append a JSON-able catalog change (create table, deploy, drop...), in the same sequence as rows.

        Args:
            record: the change; it must be a JSON object.

        Raises:
            TypeError: ``record`` is not a dict or not JSON-serialisable (nothing is written then).
            DurableLogError: the log is closed or a previous write failed.
            OSError: the write or sync failed (nothing of this entry is left in the log).
        """
        if not isinstance(record, dict):
            raise TypeError(f"append_meta takes a dict, got {type(record).__name__}")
        body = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self._append(_KIND_META, body)

    def _append(self, prefix: bytes, body: Any) -> None:
        """Frame ``prefix + body`` with the next sequence number, write it in one ``writev``, sync per the policy."""
        length = len(prefix) + len(body)
        # The payload's CRC is computed outside the lock; the sequence number, known only under it, comes last.
        crc = zlib.crc32(body, zlib.crc32(prefix, zlib.crc32(_LENGTH.pack(length))))
        with self._lock:
            self._check_usable()
            sequence = self._next_sequence
            header = _HEADER.pack(MAGIC, length, sequence, zlib.crc32(_LENGTH.pack(sequence), crc))
            try:
                _write_all(self._fd, [header, prefix, body])
                if self._policy == "always":
                    os.fsync(self._fd)
                elif self._policy == "batch":
                    _fdatasync(self._fd)
            except BaseException as exc:
                # Bytes past the last good frame would turn into mid-file corruption once the next frame lands
                # after them, so cut them; and after a failed sync the page cache can no longer be trusted (the
                # kernel may have dropped the dirty pages), so refuse further appends: reopening recovers.
                self._failed = exc
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._offset)
                raise
            self._next_sequence = sequence + 1
            self._offset += len(header) + length
            self._bytes_since_snapshot += len(header) + length
            self._entries_since_snapshot += 1

    # ------------------------------------------------------------------------------------------------------------
    # Recovery
    # ------------------------------------------------------------------------------------------------------------

    def replay(self) -> Iterator[LogEntry]:
        """Yield every entry appended after the latest valid snapshot, in append order.

        The log was checked (and a torn tail cut off) when it was opened. Entries appended by this DurableLog
        since it was opened are included.

        Yields:
            The entries, oldest first.

        Raises:
            LogCorruptError: a frame no longer reads back as it did when the log was opened, or a valid frame whose
                payload does not decode.
        """
        with self._lock:
            self._check_open()
            segments = [s for s in self._segments() if s >= self._snapshot_seq]
            active, active_end = self._seq, self._offset
        sequence = self._replay_start
        for seq in segments:
            # The active segment is read only up to the last frame this object finished writing: an append in
            # progress must not be returned half-done.
            limit = active_end if seq == active else None
            for entry in _read_segment(self._segment_path(seq), limit, sequence):
                sequence = entry.sequence + 1
                yield entry

    def load_snapshot(self) -> Snapshot | None:
        """Load the tables and catalog of the latest valid snapshot.

        Returns:
            The snapshot, or ``None`` if none was ever taken.

        Raises:
            LogCorruptError: a snapshot file changed since the log was opened (missing, truncated, bad CRC).
        """
        with self._lock:
            self._check_open()
            seq = self._snapshot_seq
        if seq == 0:  # snapshot numbers start at 1
            return None
        return _read_snapshot(self._snapshot_path(seq), seq)

    # ------------------------------------------------------------------------------------------------------------
    # Snapshots
    # ------------------------------------------------------------------------------------------------------------

    def snapshot(self, tables: Mapping[str, pa.Table], meta: list[dict[str, Any]]) -> None:
        """Write all tables and the catalog atomically, then drop what the snapshot covers.

        A crash at any point leaves either the old state (old snapshot + every segment) or the new one.

        Args:
            tables: the complete content of every table, reflecting every entry appended so far.
            meta: the complete catalog (JSON-able dicts).

        Raises:
            TypeError: ``meta`` is not JSON-serialisable (nothing is written then).
            DurableLogError: the log is closed, a previous write failed, or another snapshot is under way.
            OSError: writing failed; the previous state is still the recoverable one.
        """
        manifest_meta = json.loads(json.dumps(meta))  # validate before touching the disk
        self.write_snapshot(self.begin_snapshot(), tables, manifest_meta)

    def begin_snapshot(self) -> PendingSnapshot:
        """Start the segment that the next snapshot does not cover; the state to snapshot is the current one.

        Call it while no append can happen (under the caller's write lock) and capture the state at the same time.

        Raises:
            DurableLogError: the log is closed, a previous write failed, or another snapshot is under way.
            OSError: the new segment could not be created (the log is then unusable; reopening recovers).
        """
        with self._lock:
            self._check_usable()
            if self._pending is not None:
                raise DurableLogError(f"a snapshot of {self._dir} is already being written")
            pending = PendingSnapshot(self._seq + 1, self._next_sequence - 1)
            try:
                self._start_segment(pending.number)
            except BaseException as exc:
                self._failed = exc
                raise
            self._pending = pending
            self._bytes_since_snapshot = 0
            self._entries_since_snapshot = 0
            return pending

    def write_snapshot(
        self, pending: PendingSnapshot, tables: Mapping[str, pa.Table], meta: list[dict[str, Any]]
    ) -> None:
        """Write the snapshot begun by :meth:`begin_snapshot` (appends may go on meanwhile), validate it by reading
        it back, and only then delete the segments and snapshots it covers.

        Args:
            pending: what :meth:`begin_snapshot` returned.
            tables: every table as it was when the snapshot was begun.
            meta: the catalog as it was then (JSON-able dicts).

        Raises:
            TypeError: ``meta`` is not JSON-serialisable.
            DurableLogError: ``pending`` is not the snapshot under way, or the snapshot did not read back intact
                (nothing is deleted then).
            OSError: writing failed; the previous state is still the recoverable one.
        """
        with self._lock:
            self._check_open()
            if self._pending != pending:
                raise DurableLogError(f"no snapshot {pending.number} of {self._dir} is under way")
        try:
            manifest_meta = json.loads(json.dumps(meta))
            temp = self._stage_snapshot(pending, tables, manifest_meta)
            target = self._publish_snapshot(temp, pending.number)
            problem = _check_snapshot(target, pending.number)[1]
            if problem is not None:
                # Ignored at the next open (the older snapshot and every segment are still there).
                raise DurableLogError(f"snapshot {target} did not read back intact: {problem}")
            with self._lock:
                self._snapshot_seq = pending.number
                self._replay_start = pending.last_sequence + 1
                self._prune(pending.number)  # a failure here only leaves covered files, deleted at the next open
        finally:
            with self._lock:
                self._pending = None

    def _stage_snapshot(
        self, pending: PendingSnapshot, tables: Mapping[str, pa.Table], meta: list[dict[str, Any]]
    ) -> Path:
        """Write the snapshot into ``snapshot-<n>.tmp``, every file and the directory fsynced."""
        temp = self._dir / f"snapshot-{pending.number:020d}.tmp"
        if temp.exists():
            shutil.rmtree(temp)
        temp.mkdir()
        entries = []
        for i, (name, table) in enumerate(tables.items()):
            if isinstance(table, pa.RecordBatch):
                table = pa.Table.from_batches([table])
            file_name = f"t{i:05d}.arrow"
            path = temp / file_name
            with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            size, crc = _fsync_and_crc(path)
            entries.append({"name": name, "file": file_name, "rows": table.num_rows, "bytes": size, "crc32": crc})
        manifest: dict[str, Any] = {
            "format": _SNAPSHOT_FORMAT,
            "sequence": pending.number,
            "last_sequence": pending.last_sequence,
            "tables": entries,
            "meta": meta,
        }
        manifest["crc32"] = _manifest_crc(manifest)
        manifest_path = temp / _MANIFEST
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        _fsync_and_crc(manifest_path)
        fsync_directory(temp)
        return temp

    def _publish_snapshot(self, temp: Path, number: int) -> Path:
        """Make the staged snapshot the current one: the rename is the commit point."""
        target = self._snapshot_path(number)
        if target.exists():
            # Only an invalid leftover can hold this number (valid snapshots are below the active segment): keep it.
            _quarantine_dir(self._dir).mkdir(parents=True, exist_ok=True)
            os.replace(target, _quarantine_dir(self._dir) / target.name)
            logger.warning("moved the invalid %s to %s before replacing it", target, _quarantine_dir(self._dir))
        os.replace(temp, target)
        fsync_directory(self._dir)
        return target

    def _prune(self, below: int) -> None:
        """Delete segments and snapshots numbered below ``below`` (covered by a validated snapshot) and staged
        leftovers."""
        for seq in self._segments():
            if seq < below:
                self._segment_path(seq).unlink()
        for entry in os.scandir(self._dir):
            snap = _SNAPSHOT_RE.match(entry.name)
            if (snap and int(snap.group(1)) < below) or _TEMP_RE.match(entry.name):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:  # not something a snapshot leaves, but in the way all the same
                    os.unlink(entry.path)
        fsync_directory(self._dir)

    # ------------------------------------------------------------------------------------------------------------
    # Lifecycle
    # ------------------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Sync (unless the policy is ``"never"``) and close the log; further calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._policy != "never" and self._failed is None:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
                os.close(self._lock_fd)

    def __enter__(self) -> DurableLog:
        """Use as a context manager: closes on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the log."""
        self.close()

    # ------------------------------------------------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------------------------------------------------

    def _cut_and_prune(self, chain: _Chain) -> None:
        """After a successful check: cut the torn tail, delete what the valid snapshot covers."""
        for check in chain.ignored_snapshots():
            logger.warning("ignoring %s: %s", check.path, check.problem)
        if chain.torn is not None:
            path, offset = chain.torn
            logger.warning("cutting the torn tail of %s at byte offset %d (a write a crash interrupted)", path, offset)
            with open(path, "r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        # The snapshot we found may have been renamed into place without its parent directory being synced (a
        # crash between the two): sync it before deleting the segments it covers, or a power loss could keep the
        # deletions and lose the rename.
        fsync_directory(self._dir)
        self._prune(self._snapshot_seq)

    def _start_segment(self, seq: int) -> None:
        """Create segment ``seq`` and make it the one appends go to."""
        path = self._segment_path(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
        if self._policy != "never":
            # The segment's directory entry must be durable before its first acknowledged frame.
            fsync_directory(self._dir)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._seq, self._offset = fd, seq, 0

    def _segments(self) -> list[int]:
        return _segment_numbers(self._dir)

    def _segment_path(self, seq: int) -> Path:
        return self._dir / f"wal-{seq:020d}.log"

    def _snapshot_path(self, seq: int) -> Path:
        return self._dir / f"snapshot-{seq:020d}"

    def _check_open(self) -> None:
        if self._closed:
            raise DurableLogError(f"the durable log in {self._dir} is closed")

    def _check_usable(self) -> None:
        self._check_open()
        if self._failed is not None:
            raise DurableLogError(
                f"the durable log in {self._dir} is unusable after a failed write ({self._failed!r}); reopen it"
            )


# ----------------------------------------------------------------------------------------------------------------
# Checking the chain: snapshot, segments, frames, sequence numbers
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Damage:
    """One problem found by :func:`_inspect`; ``segment``/``offset``: where the valid history ends."""

    path: Path
    offset: int
    reason: str
    segment: int
    first: int | None
    last: int | None

    def describe(self) -> str:
        affected = _sequence_range(self.first, self.last)
        return f"{self.path} at byte offset {self.offset}: {self.reason}" + (f" ({affected})" if affected else "")


@dataclass
class _SnapshotCheck:
    number: int
    path: Path
    last_sequence: int | None
    problem: str | None  # None: valid


@dataclass
class _Chain:
    """The state of a store directory, read without changing anything."""

    directory: Path
    snapshots: list[_SnapshotCheck] = field(default_factory=list)  # newest first
    base: _SnapshotCheck | None = None  # the newest valid snapshot
    damage: list[_Damage] = field(default_factory=list)
    torn: tuple[Path, int] | None = None  # a torn tail: file, offset to cut at
    replay_start: int = 1  # the sequence number the first entry after the snapshot should have
    last_sequence: int = 0  # of the last intact entry (the snapshot's when no entry follows it)

    def ignored_snapshots(self) -> list[_SnapshotCheck]:
        """Invalid snapshots newer than the one used (older ones are covered by it)."""
        floor = self.base.number if self.base is not None else -1
        return [c for c in self.snapshots if c.problem is not None and c.number > floor]

    def error(self) -> LogCorruptError:
        first = self.damage[0]
        notes = [f"{len(self.damage) - 1} more problem(s) after it"] if len(self.damage) > 1 else []
        notes += [f"{c.path.name} ignored: {c.problem}" for c in self.ignored_snapshots()]
        advice = (
            f"nothing was changed; run '{REPAIR_COMMAND} {self.directory}' to see every entry affected, and add "
            f"--apply to move the damaged part of the log to {self.directory / QUARANTINE}"
        )
        return LogCorruptError(
            first.path,
            first.offset,
            first.reason + "".join(f"; {n}" for n in notes),
            first_sequence=first.first,
            last_sequence=first.last,
            advice=advice,
        )


def _inspect(directory: Path) -> _Chain:
    """Check the whole chain of a store directory (see the module documentation); changes nothing."""
    chain = _Chain(directory)
    for number in sorted(_snapshot_numbers(directory), reverse=True):
        path = directory / f"snapshot-{number:020d}"
        last, problem = _check_snapshot(path, number)
        check = _SnapshotCheck(number, path, last, problem)
        chain.snapshots.append(check)
        if chain.base is None and problem is None:
            chain.base = check
    base = chain.base
    base_number = base.number if base is not None else 0
    # None: the snapshot was written by an earlier version, which did not record it; the chain starts unchecked.
    expected: int | None = 1 if base is None else (None if base.last_sequence is None else base.last_sequence + 1)
    chain.replay_start = expected if expected is not None else 1
    numbers = [n for n in _segment_numbers(directory) if n >= base_number]
    paths = {n: directory / f"wal-{n:020d}.log" for n in numbers}
    sizes = {n: paths[n].stat().st_size for n in numbers}
    last_nonempty = max((n for n in numbers if sizes[n]), default=None)
    open_damage: _Damage | None = None  # its last sequence is the one before the next intact entry
    missing: _Damage | None = None  # missing segments: harmless only if the next entry has the expected number
    want = base_number
    for number in numbers:
        if number != want and missing is None:  # (a second gap before any entry: the first one covers it)
            names = f"wal-{want:020d}.log" + (f" to wal-{number - 1:020d}.log" if number - 1 > want else "")
            missing = _Damage(
                directory / f"wal-{want:020d}.log", 0, f"log segment {names} missing", want, expected, None
            )
            if chain.base is None and any(c.problem for c in chain.snapshots):
                missing.reason += " (covered by a snapshot that is not valid)"
        want = number + 1
        path, size = paths[number], sizes[number]
        with open(path, "rb") as f:
            offset = 0
            while offset < size:
                status, frame_size, stored, _ = _read_frame(f, offset, size)
                if status == "ok":
                    sequence = stored if stored is not None else (expected if expected is not None else 1)
                    if missing is not None:
                        if stored is None or expected is None or stored != expected:
                            missing.last = sequence - 1 if stored is not None and missing.first is not None else None
                            chain.damage.append(missing)
                        missing = None
                    elif open_damage is not None:
                        if stored is not None and open_damage.first is not None and stored > open_damage.first:
                            open_damage.last = stored - 1
                        open_damage = None
                    elif stored is not None and expected is not None and stored != expected:
                        jump = "entries are missing" if stored > expected else "the numbers go back"
                        chain.damage.append(
                            _Damage(
                                path,
                                offset,
                                f"sequence number {stored} where {expected} was expected ({jump})",
                                number,
                                expected,
                                stored - 1 if stored > expected else None,
                            )
                        )
                    expected = sequence + 1
                    offset += frame_size
                    continue
                follow = _next_valid(f, offset + 1, size)
                if status == "incomplete" and follow is None:
                    if number == last_nonempty:
                        chain.torn = (path, offset)  # a write a crash interrupted: never acknowledged
                    else:
                        open_damage = _Damage(
                            path,
                            offset,
                            "incomplete frame in a log segment that is not the last",
                            number,
                            expected,
                            None,
                        )
                        chain.damage.append(open_damage)
                    break
                if status == "incomplete":
                    reason = f"frame cut short or its length damaged, and an intact frame follows at offset {follow}"
                else:
                    reason = "complete frame whose magic or CRC32 is wrong"
                damage = _Damage(path, offset, reason, number, expected, None)
                chain.damage.append(damage)
                if status == "bad" and offset + frame_size == (size if follow is None else follow):
                    # Exactly one frame is bad and the bytes after it are intact: exactly one entry is lost.
                    damage.last = expected
                    expected = None if expected is None else expected + 1
                else:
                    open_damage = damage
                if follow is None:
                    break
                offset = follow
    if missing is not None:
        chain.damage.append(missing)
    chain.damage.sort(key=lambda d: (d.segment, d.offset))
    chain.last_sequence = expected - 1 if expected is not None else 0
    return chain


def _read_frame(f: Any, offset: int, size: int) -> tuple[Literal["ok", "incomplete", "bad"], int, int | None, bytes]:
    """Read the frame at ``offset`` of a file of ``size`` bytes.

    Returns:
        (status, frame size (header + payload; 0 when unknown), its stored sequence number (None: a legacy frame or
        unreadable), payload). ``"incomplete"``: shorter than it declares, or zero bytes up to the end of the file
        (what a crash mid-write leaves); ``"bad"``: complete but its magic or CRC is wrong.
    """
    f.seek(offset)
    rest = size - offset
    head = f.read(min(rest, _HEADER.size))
    magic = head[:4]
    if magic not in (MAGIC, LEGACY_MAGIC):
        if len(head) < len(MAGIC) and (MAGIC.startswith(head) or LEGACY_MAGIC.startswith(head)):
            return "incomplete", 0, None, b""
        if _all_zero(f, offset, size):
            return "incomplete", 0, None, b""
        # A complete frame whose magic was damaged has a length that fits the file; garbage has not.
        if len(head) >= 12 and _LENGTH.unpack_from(head, 4)[0] <= rest - _LEGACY_HEADER.size:
            return "bad", 0, None, b""
        return "incomplete", 0, None, b""
    header = _HEADER if magic == MAGIC else _LEGACY_HEADER
    if rest < header.size:
        return "incomplete", 0, None, b""
    stored: int | None
    if header is _HEADER:
        _, length, stored, crc = _HEADER.unpack_from(head)
    else:
        _, length, crc = _LEGACY_HEADER.unpack_from(head)
        stored = None
    if length > rest - header.size:
        # Shorter than declared: a torn write -- unless the bytes there are a whole frame whose length field was
        # damaged (its CRC matches with the true length), which was acknowledged.
        f.seek(offset + header.size)
        if _frame_crc(rest - header.size, f.read(rest - header.size), stored) == crc:
            return "bad", rest, stored, b""
        return "incomplete", 0, None, b""
    f.seek(offset + header.size)
    payload: bytes = f.read(length)
    if _frame_crc(length, payload, stored) != crc:
        return "bad", header.size + length, stored, payload
    return "ok", header.size + length, stored, payload


def _frame_crc(length: int, payload: bytes, sequence: int | None) -> int:
    """The CRC32 of a frame: of its length bytes, payload and (unless a legacy frame) sequence number bytes."""
    crc = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length)))
    return crc if sequence is None else zlib.crc32(_LENGTH.pack(sequence), crc)


def _all_zero(f: Any, offset: int, size: int) -> bool:
    f.seek(offset)
    while offset < size:
        chunk = f.read(min(_CHUNK, size - offset))
        if not chunk or chunk.count(0) != len(chunk):
            return False
        offset += len(chunk)
    return True


def _next_valid(f: Any, start: int, size: int) -> int | None:
    """Offset of the first intact frame at or after ``start`` (searching for a magic), if any."""
    f.seek(start)
    data = f.read(size - start)
    pos = data.find(b"OFW")
    while pos >= 0:
        if data[pos : pos + 4] in (MAGIC, LEGACY_MAGIC):
            with contextlib.suppress(struct.error):
                if _read_frame(f, start + pos, size)[0] == "ok":
                    return start + pos
        pos = data.find(b"OFW", pos + 1)
    return None


def _read_segment(path: Path, limit: int | None, sequence: int) -> Iterator[LogEntry]:
    """Yield the entries of one segment (checked when the log was opened), up to ``limit`` bytes if given;
    ``sequence``: the number of its first entry when it is a legacy frame."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size if limit is None else limit
        offset = 0
        while offset < size:
            status, frame_size, stored, payload = _read_frame(f, offset, size)
            if status != "ok":
                raise LogCorruptError(
                    path, offset, "frame no longer intact (the file changed since the log was opened)"
                )
            if stored is not None:
                sequence = stored
            yield _decode(path, offset, payload, sequence)
            sequence += 1
            offset += frame_size


def _decode(path: Path, offset: int, payload: bytes, sequence: int = 0) -> LogEntry:
    """Turn a CRC-checked payload into an entry; a payload that does not decode is corruption (or a bug)."""
    kind = payload[:1]
    try:
        if kind == _KIND_ROWS:
            (name_len,) = _NAME_LEN.unpack_from(payload, 1)
            start = 1 + _NAME_LEN.size
            name = payload[start : start + name_len].decode("utf-8")
            # Zero-copy: the batch's buffers point into the payload bytes.
            reader = ipc.open_stream(pa.py_buffer(memoryview(payload)[start + name_len :]))
            batch = reader.read_next_batch()
            return LogEntry(kind="rows", table=name, batch=batch, sequence=sequence)
        if kind == _KIND_META:
            record = json.loads(payload[1:].decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("a meta entry is not a JSON object")
            return LogEntry(kind="meta", meta=record, sequence=sequence)
        if kind == _KIND_STREAM:
            (name_len,) = _NAME_LEN.unpack_from(payload, 1)
            start = 1 + _NAME_LEN.size
            name = payload[start : start + name_len].decode("utf-8")
            start += name_len
            (state_len,) = _NAME_LEN.unpack_from(payload, start)
            start += _NAME_LEN.size
            stream = json.loads(payload[start : start + state_len].decode("utf-8"))
            if not isinstance(stream, dict):
                raise ValueError("a stream entry's positions are not a JSON object")
            if not name:
                return LogEntry(kind="stream", sequence=sequence, stream=stream)
            reader = ipc.open_stream(pa.py_buffer(memoryview(payload)[start + state_len :]))
            return LogEntry(kind="rows", table=name, batch=reader.read_next_batch(), sequence=sequence, stream=stream)
    except (ValueError, struct.error, pa.ArrowException, StopIteration) as exc:
        raise LogCorruptError(path, offset, f"undecodable {kind!r} entry: {exc}") from exc
    raise LogCorruptError(path, offset, f"unknown entry kind {kind!r}")


def _manifest_crc(manifest: Mapping[str, Any]) -> int:
    """CRC32 of a manifest without its own ``crc32`` field, as canonical JSON."""
    rest = {k: v for k, v in manifest.items() if k != "crc32"}
    return zlib.crc32(json.dumps(rest, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _load_manifest(directory: Path, number: int) -> dict[str, Any]:
    """The manifest of a snapshot directory, checked (format, number, own CRC); raises LogCorruptError."""
    manifest_path = directory / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") not in _SNAPSHOT_FORMATS:
            raise ValueError(
                f"unknown snapshot format {manifest.get('format') if isinstance(manifest, dict) else None!r}"
            )
        if manifest["format"] >= 2 and manifest.get("crc32") != _manifest_crc(manifest):
            raise ValueError("the manifest fails its CRC32")
        if manifest.get("sequence", number) != number:
            raise ValueError(f"the manifest says snapshot {manifest.get('sequence')}, the directory {number}")
        if not isinstance(manifest["tables"], list) or not isinstance(manifest["meta"], list):
            raise ValueError("tables and meta must be lists")
    except (OSError, ValueError, KeyError) as exc:
        raise LogCorruptError(manifest_path, 0, f"unreadable snapshot manifest: {exc}") from exc
    return manifest


def _check_snapshot(directory: Path, number: int) -> tuple[int | None, str | None]:
    """Validate a published snapshot against its checksums without decoding it: (last sequence, problem or None)."""
    try:
        manifest = _load_manifest(directory, number)
        for entry in manifest["tables"]:
            path = directory / entry["file"]
            try:
                size, crc = _size_and_crc(path)
            except OSError as exc:
                return None, f"table file {path.name} unreadable: {exc}"
            if size != entry["bytes"] or crc != entry["crc32"]:
                return None, f"table file {path.name} does not match its size/CRC32 in the manifest"
    except LogCorruptError as exc:
        return None, str(exc)
    except (KeyError, TypeError) as exc:
        return None, f"malformed snapshot manifest: {exc!r}"
    last = manifest.get("last_sequence")
    return (last if isinstance(last, int) else None), None


def _read_snapshot(directory: Path, seq: int) -> Snapshot:
    """Load and verify a published snapshot directory."""
    manifest = _load_manifest(directory, seq)
    tables: dict[str, pa.Table] = {}
    for entry in manifest["tables"]:
        path = directory / entry["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LogCorruptError(path, 0, f"snapshot table file unreadable: {exc}") from exc
        if len(data) != entry["bytes"] or zlib.crc32(data) != entry["crc32"]:
            raise LogCorruptError(path, 0, "snapshot table file does not match its size/CRC32 in the manifest")
        try:
            table = ipc.open_file(pa.py_buffer(data)).read_all()
        except pa.ArrowException as exc:
            raise LogCorruptError(path, 0, f"snapshot table file undecodable: {exc}") from exc
        tables[entry["name"]] = table
    return Snapshot(sequence=seq, tables=tables, meta=manifest["meta"], last_sequence=manifest.get("last_sequence"))


def _segment_numbers(directory: Path) -> list[int]:
    return sorted(int(m.group(1)) for e in os.scandir(directory) if (m := _SEGMENT_RE.match(e.name)))


def _snapshot_numbers(directory: Path) -> list[int]:
    return sorted(int(m.group(1)) for e in os.scandir(directory) if (m := _SNAPSHOT_RE.match(e.name)))


def _quarantine_dir(directory: Path) -> Path:
    return directory / QUARANTINE


# ----------------------------------------------------------------------------------------------------------------
# Repair
# ----------------------------------------------------------------------------------------------------------------


def repair(directory: str | os.PathLike[str], *, apply: bool = False) -> RepairReport:
    """Report the damage of a store directory and, with ``apply``, move it aside so that the store opens again.

    The log keeps its longest intact history: it is cut at the first problem (a bad frame, a missing segment, a jump
    in the sequence numbers), and everything after it -- the rest of that segment and every later segment, intact
    entries included, since replaying them over a hole would build a state that never existed -- is moved to
    ``quarantine/<time>/`` with a ``REPORT.json``; snapshot directories that are not valid are moved there too.
    Nothing is deleted. The report lists every entry removed (sequence number, table, rows when readable).

    Args:
        directory: the store directory (no process may have it open).
        apply: do the removal; without it, only report.

    Raises:
        DurableLogError: ``directory`` is not a directory.
        LogLockedError: the store is open (a running service?).
    """
    root = Path(directory)
    if not root.is_dir():
        raise DurableLogError(f"{root}: no such store directory")
    lock_fd = _acquire_dir_lock(root)
    try:
        chain = _inspect(root)
        report = RepairReport(str(root))
        report.damage = [d.describe() for d in chain.damage]
        ignored = chain.ignored_snapshots()
        report.ignored_snapshots = [f"{c.path.name}: {c.problem}" for c in ignored]
        if chain.torn is not None:
            report.torn_tail = (
                f"{chain.torn[0]} at byte offset {chain.torn[1]} (an unacknowledged write; cut when the store opens)"
            )
        removals: list[tuple[Path, int]] = []
        if chain.damage:
            cut = chain.damage[0]
            if cut.path.exists():
                removals.append((cut.path, cut.offset))
            removals += [(root / f"wal-{n:020d}.log", 0) for n in _segment_numbers(root) if n > cut.segment]
            report.lost = [e for path, offset in removals for e in _describe_frames(path, offset, cut)]
        if apply and (removals or ignored):
            quarantine = _quarantine_dir(root) / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            while quarantine.exists():
                quarantine = quarantine.with_name(quarantine.name + "+")
            quarantine.mkdir(parents=True)
            for path, offset in removals:
                if offset == 0:
                    os.replace(path, quarantine / path.name)
                    continue
                kept = quarantine / f"{path.name}.from-byte-{offset}"
                with open(path, "rb") as src, open(kept, "wb") as dst:
                    src.seek(offset)
                    shutil.copyfileobj(src, dst, _CHUNK)
                    dst.flush()
                    os.fsync(dst.fileno())
                fsync_directory(quarantine)
                with open(path, "r+b") as f:
                    f.truncate(offset)
                    os.fsync(f.fileno())
            for check in ignored:
                os.replace(check.path, quarantine / check.path.name)
            report.applied, report.quarantine = True, str(quarantine)
            (quarantine / "REPORT.json").write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
            _fsync_and_crc(quarantine / "REPORT.json")
            fsync_directory(quarantine)
            fsync_directory(root)
            left = _inspect(root).damage
            if left:  # a defect of repair itself: say so rather than claim success
                raise DurableLogError(f"{root}: damage left after repair: {left[0].describe()}")
        return report
    finally:
        os.close(lock_fd)


def _describe_frames(path: Path, offset: int, cut: _Damage) -> list[LostEntry]:
    """The entries from ``offset`` to the end of a segment, readable or not."""
    lost: list[LostEntry] = []
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        while offset < size:
            status, frame_size, stored, payload = _read_frame(f, offset, size)
            damaged = (path, offset) == (cut.path, cut.offset) or status != "ok"
            if status == "incomplete" or frame_size == 0:
                follow = _next_valid(f, offset + 1, size)
                end = size if follow is None else follow
                lost.append(LostEntry(path.name, offset, None, "unreadable", None, None, end - offset, True))
                offset = end
                continue
            table, rows, kind = None, None, "unreadable"
            with contextlib.suppress(LogCorruptError, IndexError):
                entry = _decode(path, offset, payload)
                kind, table = entry.kind, entry.table
                rows = entry.batch.num_rows if entry.batch is not None else None
            lost.append(LostEntry(path.name, offset, stored, kind, table, rows, frame_size, damaged))
            offset += frame_size
    return lost


# ----------------------------------------------------------------------------------------------------------------
# OS helpers
# ----------------------------------------------------------------------------------------------------------------


def _write_all(fd: int, parts: list[Any]) -> None:
    """Write every part, in order, looping over short writes (one syscall in the common case)."""
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    while views:
        written = os.writev(fd, views) if hasattr(os, "writev") else os.write(fd, views[0])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _fdatasync(fd: int) -> None:
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # macOS and Windows have no fdatasync
        os.fsync(fd)


def _fsync_and_crc(path: Path) -> tuple[int, int]:
    """fsync a just-written file and return its size and CRC32 (read back from the page cache, in chunks)."""
    fsync_file(path)
    return _size_and_crc(path)


def _size_and_crc(path: Path) -> tuple[int, int]:
    """A file's size and CRC32, read in chunks."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def _acquire_dir_lock(directory: Path) -> int:
    """Take an exclusive, non-blocking lock on ``directory/LOCK``; the kernel drops it when the process dies."""
    fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    if sys.platform != "win32":
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise LogLockedError(f"{directory} is already opened by another DurableLog") from exc
    return fd
