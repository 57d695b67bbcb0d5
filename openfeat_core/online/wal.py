"""Durable append-only log + Arrow IPC snapshots: what makes an acknowledged online-store insert survive a crash.

The online store keeps its tables in memory. Every insert (an Arrow record batch) and every catalog change (a
JSON-able dict) is appended to this log before it is acknowledged; recovery is ``load_snapshot()`` (the tables and
catalog as of the latest snapshot) followed by ``replay()`` (every complete entry appended after it, in order).

On-disk format (one directory per store; all integers little-endian)::

    LOCK                          flock()ed by the open DurableLog: two writers on one directory would interleave
    wal-<seq:020d>.log            log segments; a segment only ever grows, entries are appended as frames
    snapshot-<seq:020d>/          a complete snapshot; it covers every segment whose seq is < its own seq
        MANIFEST.json             {"format": 1, "sequence": seq, "meta": [...],
                                   "tables": [{"name", "file", "rows", "bytes", "crc32"}, ...]}
        t00000.arrow ...          one Arrow IPC *file* per table (the names live in the manifest, so any table
                                   name is allowed)
    snapshot-<seq:020d>.tmp/      a snapshot being written; never read, deleted when the log is next opened

    frame   = magic b"OFW1" (4) | payload length N (uint64) | CRC32 of (length bytes + payload) (uint32) | payload (N)
    payload = b"R" | table-name length (uint32) | table name (UTF-8) | Arrow IPC *stream* of exactly one batch
                  (schema included, so every batch is self-describing)
            | b"M" | UTF-8 JSON object (a catalog change)

Segments: opening the log always starts a fresh segment numbered after every existing one (and not below the latest
snapshot), so appends never follow bytes a crash may have left half-written. ``snapshot()`` starts a new segment too.
A frame that is bad (wrong magic, length past the end of the file, CRC mismatch) is a *torn tail* when no valid frame
follows it in its segment -- the normal result of a crash mid-write, which ``replay()`` cuts off (truncates the file
there) -- and *corruption* otherwise, which raises :class:`LogCorruptError`.

Snapshots are atomic: tables and manifest are written to ``snapshot-N.tmp``, each file fsynced, the directory
fsynced, renamed to ``snapshot-N`` and the parent directory fsynced. Only then is segment N started and are the
segments below N and older snapshots deleted. A crash before the rename leaves the old snapshot + old segments; after
it, the new snapshot (stale segments and snapshots are deleted when the log is next opened). Snapshots always fsync,
whatever the append policy: they are rare, and a torn one after a power loss would lose everything it covers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
import sys
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.ipc as ipc

from openfeat_core.errors import OpenFeatError

__all__ = [
    "DurableLog",
    "DurableLogError",
    "FsyncPolicy",
    "LogCorruptError",
    "LogEntry",
    "LogLockedError",
    "Snapshot",
]

FsyncPolicy = Literal["batch", "always", "never"]
"""When appends reach stable storage.

``"batch"`` (default): one ``fdatasync`` per append call -- the data and the file size, all a replay needs.
``"always"``: a full ``fsync`` (data and every inode field) per append call, and of the directory whenever a segment
is created. ``"never"``: appends are handed to the OS without syncing: they survive a crash of the process (SIGKILL
included), not a power loss or a kernel crash.
"""

MAGIC = b"OFW1"
_HEADER = struct.Struct("<4sQI")  # magic, payload length, CRC32 of (length bytes + payload)
_LENGTH = struct.Struct("<Q")
_NAME_LEN = struct.Struct("<I")
_KIND_ROWS = b"R"
_KIND_META = b"M"
_SNAPSHOT_FORMAT = 1
_MANIFEST = "MANIFEST.json"
_SEGMENT_RE = re.compile(r"^wal-(\d{20})\.log$")
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d{20})$")
_TEMP_RE = re.compile(r"^snapshot-(\d{20})\.tmp$")
_CHUNK = 1 << 20


class DurableLogError(OpenFeatError):
    """The durable log cannot be used (a write or sync failed, or it is closed)."""


class LogCorruptError(DurableLogError):
    """The log or a snapshot is damaged somewhere a crash cannot explain (not a torn tail).

    Attributes:
        path: the damaged file.
        offset: byte offset of the first bad frame in it (0 for a snapshot file).
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, reason: str) -> None:
        self.path = Path(path)
        self.offset = offset
        super().__init__(f"{self.path}: corrupt at byte offset {offset}: {reason}")


class LogLockedError(DurableLogError):
    """Another DurableLog (in this or another process) has the directory open."""


@dataclass(frozen=True)
class LogEntry:
    """One replayed entry.

    Attributes:
        kind: ``"rows"`` (an inserted batch) or ``"meta"`` (a catalog change).
        table: the table the rows were inserted into; ``None`` for meta.
        batch: the inserted rows; ``None`` for meta.
        meta: the catalog change; ``None`` for rows.
    """

    kind: Literal["rows", "meta"]
    table: str | None = None
    batch: pa.RecordBatch | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Snapshot:
    """The content of a complete snapshot.

    Attributes:
        sequence: its sequence number: it covers every log segment numbered below it.
        tables: table name -> rows.
        meta: the catalog, as given to :meth:`DurableLog.snapshot`.
    """

    sequence: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    meta: list[dict[str, Any]] = field(default_factory=list)


class DurableLog:
    """An append-only, CRC-framed log of inserts and catalog changes, with atomic snapshots.

    Appends are serialised by an internal lock. ``replay()`` and ``load_snapshot()`` are meant for recovery, before
    the store serves writes. ``snapshot()`` must be given the state reflecting every entry appended so far: the
    caller holds its own write lock across "capture tables, call snapshot()" so that no append slips in between
    (such an append would land in a segment the snapshot deletes).
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: FsyncPolicy = "batch") -> None:
        """Open (creating it if needed) the log in ``directory`` and start a fresh segment.

        Stale files a crash may have left (a half-written snapshot, segments and snapshots covered by a newer
        snapshot) are deleted here.

        Args:
            directory: where the segments and snapshots live.
            fsync: the durability policy of appends (see :data:`FsyncPolicy`).

        Raises:
            ValueError: unknown policy.
            LogLockedError: another DurableLog has the directory open.
        """
        if fsync not in get_args(FsyncPolicy):
            raise ValueError(f"fsync policy must be one of {get_args(FsyncPolicy)}, got {fsync!r}")
        self._dir = Path(directory)
        self._policy: FsyncPolicy = fsync
        self._lock = threading.Lock()
        self._failed: BaseException | None = None
        self._closed = False
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _acquire_dir_lock(self._dir)
        self._fd = -1
        try:
            self._recover_files()
            existing = self._segments()
            self._seq = max([self._snapshot_seq, *(s + 1 for s in existing)])
            self._start_segment(self._seq)
        except BaseException:
            os.close(self._lock_fd)
            raise

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
        """Frame ``prefix + body`` and write it in one ``writev``, then sync per the policy."""
        length = len(prefix) + len(body)
        length_bytes = _LENGTH.pack(length)
        crc = zlib.crc32(body, zlib.crc32(prefix, zlib.crc32(length_bytes)))
        header = _HEADER.pack(MAGIC, length, crc)
        with self._lock:
            self._check_usable()
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
            self._offset += len(header) + length

    # ------------------------------------------------------------------------------------------------------------
    # Recovery
    # ------------------------------------------------------------------------------------------------------------

    def replay(self) -> Iterator[LogEntry]:
        """Yield every complete entry appended after the latest snapshot, in append order.

        A torn tail of a segment (a crash mid-write: a partial or bad frame with no valid frame after it) is cut
        off -- the file is truncated there -- and never returned. Entries appended by this DurableLog since it was
        opened are included.

        Yields:
            The entries, oldest first.

        Raises:
            LogCorruptError: a bad frame followed by valid ones (names the file and byte offset), or a valid frame
                whose payload does not decode.
        """
        with self._lock:
            self._check_open()
            segments = [s for s in self._segments() if s >= self._snapshot_seq]
            active, active_end = self._seq, self._offset
        for seq in segments:
            # The active segment is read only up to the last frame this object finished writing: an append in
            # progress must be neither returned half-done nor mistaken for a torn tail and truncated.
            limit = active_end if seq == active else None
            yield from _read_segment(self._segment_path(seq), limit)

    def load_snapshot(self) -> Snapshot | None:
        """Load the tables and catalog of the latest complete snapshot.

        Returns:
            The snapshot, or ``None`` if none was ever taken.

        Raises:
            LogCorruptError: a snapshot file is missing, truncated or fails its CRC.
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
        """Write all tables and the catalog atomically, then start a new segment and drop what the snapshot covers.

        A crash at any point leaves either the old state (old snapshot + old segments) or the new one, never a mix.

        Args:
            tables: the complete content of every table, reflecting every entry appended so far.
            meta: the complete catalog (JSON-able dicts).

        Raises:
            TypeError: ``meta`` is not JSON-serialisable (nothing is written then).
            DurableLogError: the log is closed or a previous write failed.
            OSError: writing failed; the previous state is still the recoverable one.
        """
        manifest_meta = json.loads(json.dumps(meta))  # validate before touching the disk
        with self._lock:
            self._check_usable()
            new_seq = self._seq + 1
            temp = self._stage_snapshot(new_seq, tables, manifest_meta)
            self._publish_snapshot(temp, new_seq)
            try:
                self._start_segment(new_seq)
            except BaseException as exc:
                # The snapshot is committed, so appends to the old segment would be dropped at recovery.
                self._failed = exc
                raise
            self._prune()  # a failure here only leaves stale files, deleted at the next open

    def _stage_snapshot(self, seq: int, tables: Mapping[str, pa.Table], meta: list[dict[str, Any]]) -> Path:
        """Write the snapshot into ``snapshot-<seq>.tmp``, every file and the directory fsynced."""
        temp = self._dir / f"snapshot-{seq:020d}.tmp"
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
        manifest = {"format": _SNAPSHOT_FORMAT, "sequence": seq, "tables": entries, "meta": meta}
        manifest_path = temp / _MANIFEST
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        _fsync_and_crc(manifest_path)
        _fsync_dir(temp)
        return temp

    def _publish_snapshot(self, temp: Path, seq: int) -> None:
        """Make the staged snapshot the current one: the rename is the commit point."""
        os.replace(temp, self._snapshot_path(seq))
        _fsync_dir(self._dir)
        self._snapshot_seq = seq

    def _prune(self) -> None:
        """Delete segments and snapshots older than the current snapshot, and staged leftovers."""
        for seq in self._segments():
            if seq < self._snapshot_seq:
                self._segment_path(seq).unlink()
        for entry in os.scandir(self._dir):
            snap = _SNAPSHOT_RE.match(entry.name)
            if (snap and int(snap.group(1)) < self._snapshot_seq) or _TEMP_RE.match(entry.name):
                shutil.rmtree(entry.path)
        _fsync_dir(self._dir)

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

    def _recover_files(self) -> None:
        """Find the latest complete snapshot and delete what a crash left behind."""
        snapshots = [int(m.group(1)) for e in os.scandir(self._dir) if (m := _SNAPSHOT_RE.match(e.name))]
        self._snapshot_seq = max(snapshots, default=0)
        # The snapshot we found may have been renamed into place without its parent directory being synced (a
        # crash between the two): sync it before deleting the segments it covers, or a power loss could keep the
        # deletions and lose the rename.
        _fsync_dir(self._dir)
        self._prune()

    def _start_segment(self, seq: int) -> None:
        """Create segment ``seq`` and make it the one appends go to."""
        path = self._segment_path(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
        if self._policy != "never":
            _fsync_dir(self._dir)  # the segment's directory entry must be durable before its first acknowledged frame
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._seq, self._offset = fd, seq, 0

    def _segments(self) -> list[int]:
        return sorted(int(m.group(1)) for e in os.scandir(self._dir) if (m := _SEGMENT_RE.match(e.name)))

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
# Reading
# ----------------------------------------------------------------------------------------------------------------


def _read_segment(path: Path, limit: int | None) -> Iterator[LogEntry]:
    """Yield the entries of one segment; truncate a torn tail (only when ``limit`` is None: not the active one)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size if limit is None else limit
        offset = 0
        while offset < size:
            frame = _read_frame(f, offset, size)
            if frame is None:
                break
            yield _decode(path, offset, frame)
            offset += _HEADER.size + len(frame)
        else:
            return
        f.seek(offset)
        rest = f.read(size - offset)
    if limit is not None:
        # Every byte below the limit is a frame this process wrote and completed: a bad one is not a crash.
        raise LogCorruptError(path, offset, "bad frame inside the segment being appended to")
    bad = _first_valid_frame(rest)
    if bad is not None:
        raise LogCorruptError(path, offset, f"bad frame followed by a valid frame at byte offset {offset + bad}")
    # A torn tail: what a crash mid-write leaves. Cut it so that the file ends on a frame boundary again.
    with open(path, "r+b") as f:
        f.truncate(offset)
        os.fsync(f.fileno())


def _read_frame(f: Any, offset: int, size: int) -> bytes | None:
    """Read the frame at ``offset`` (the file is positioned there); its payload, or None if it is bad."""
    if size - offset < _HEADER.size:
        return None
    magic, length, crc = _HEADER.unpack(f.read(_HEADER.size))
    if magic != MAGIC or length > size - offset - _HEADER.size:
        return None
    payload: bytes = f.read(length)
    if len(payload) != length or zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) != crc:
        return None
    return payload


def _first_valid_frame(data: bytes) -> int | None:
    """Offset of the first valid frame after the start of ``data`` (which begins with a bad frame), if any."""
    pos = data.find(MAGIC, 1)
    while pos >= 0:
        if len(data) - pos >= _HEADER.size:
            _, length, crc = _HEADER.unpack_from(data, pos)
            start = pos + _HEADER.size
            if length <= len(data) - start:
                payload = memoryview(data)[start : start + length]
                if zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) == crc:
                    return pos
        pos = data.find(MAGIC, pos + 1)
    return None


def _decode(path: Path, offset: int, payload: bytes) -> LogEntry:
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
            return LogEntry(kind="rows", table=name, batch=batch)
        if kind == _KIND_META:
            record = json.loads(payload[1:].decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("a meta entry is not a JSON object")
            return LogEntry(kind="meta", meta=record)
    except (ValueError, struct.error, pa.ArrowException, StopIteration) as exc:
        raise LogCorruptError(path, offset, f"undecodable {kind!r} entry: {exc}") from exc
    raise LogCorruptError(path, offset, f"unknown entry kind {kind!r}")


def _read_snapshot(directory: Path, seq: int) -> Snapshot:
    """Load and verify a published snapshot directory."""
    manifest_path = directory / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != _SNAPSHOT_FORMAT:
            raise ValueError(f"unknown snapshot format {manifest.get('format')!r}")
        entries = manifest["tables"]
        meta = manifest["meta"]
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise LogCorruptError(manifest_path, 0, f"unreadable snapshot manifest: {exc}") from exc
    tables: dict[str, pa.Table] = {}
    for entry in entries:
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
    return Snapshot(sequence=seq, tables=tables, meta=meta)


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
    crc, size = 0, 0
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def _fsync_dir(path: Path) -> None:
    """fsync a directory, which makes the creations, renames and deletions in it durable."""
    if sys.platform == "win32":  # directories cannot be opened (nor need syncing) there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
