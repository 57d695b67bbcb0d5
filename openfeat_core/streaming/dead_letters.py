"""Dead letters: the messages that could not become rows, kept with their coordinates and why.

A dead letter is recorded in the store first, in the same log frame as the position past its message
(:meth:`OnlineStore.insert_consumed`), so the store's list of dead letters is exactly-once by the same argument as the
rows. The JSON-lines file is a copy of that list, written after each frame and fsynced: a crash between the two leaves
the file short by the last frame's letters (or with a torn last line), and opening the file again
(:meth:`DeadLetterFile.open`) cuts a torn line and appends what the store has beyond the file. The file therefore
never loses nor repeats a dead letter.

One line per bad message: ``{"topic", "partition", "offset", "timestamp" (the message's, epoch ms, or null), "key",
"value" (text when UTF-8, else base64 with "key_encoding"/"value_encoding": "base64"), "error", "reason"}``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openfeat_core.errors import DataError

__all__ = ["DeadLetterFile", "dead_letter"]


def dead_letter(
    topic: str,
    partition: int,
    offset: int,
    timestamp: int | None,
    key: bytes | None,
    value: bytes | None,
    error: str,
    reason: str,
) -> dict[str, Any]:
    """The dead-letter record of one message."""
    record: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset, "timestamp": timestamp}
    for name, raw in (("key", key), ("value", value)):
        if raw is None:
            record[name] = None
            continue
        try:
            record[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record[name] = base64.b64encode(raw).decode("ascii")
            record[f"{name}_encoding"] = "base64"
    record["error"] = error
    record["reason"] = reason
    return record


def _coordinates(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    return record.get("topic"), record.get("partition"), record.get("offset")


class DeadLetterFile:
    """A JSON-lines file that mirrors a store's dead letters (see the module documentation)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: str | os.PathLike[str], recorded: Sequence[dict[str, Any]]) -> DeadLetterFile:
        """Open (creating it) the file and bring it level with ``recorded``, the store's dead letters.

        Raises:
            DataError: the file holds dead letters the store did not record (it belongs to another store or stream).
        """
        target = Path(path)
        if target.parent != Path():
            target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            data = target.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):  # a torn last line: its frame is in the store, the line is written again below
                os.ftruncate(fd, end)
            lines = data[:end].splitlines()
            if len(lines) > len(recorded):
                raise DataError(
                    f"dead-letter file {target}: {len(lines)} records, but the store recorded {len(recorded)}: the "
                    "file belongs to another store or stream; give another --dead-letters file"
                )
            if lines:
                try:
                    last = json.loads(lines[-1])
                except ValueError:
                    last = {}
                expected = _coordinates(recorded[len(lines) - 1])
                if not isinstance(last, dict) or _coordinates(last) != expected:
                    topic, partition, offset = expected
                    raise DataError(
                        f"dead-letter file {target}: line {len(lines)} is not the store's dead letter {len(lines)} "
                        f"({topic}[{partition}]@{offset}): the file belongs to another store or stream"
                    )
            letters = cls(target, fd)
            letters.append(recorded[len(lines) :])
            return letters
        except BaseException:
            os.close(fd)
            raise

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Append records, one line each, and fsync (called after the store has them)."""
        if not records:
            return
        text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
