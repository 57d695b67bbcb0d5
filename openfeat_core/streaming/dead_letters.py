"""Dead letters: the messages that could not become rows, kept with their coordinates and why.

A dead letter is recorded in the store first, in the same log frame as the position past its message
(:meth:`OnlineStore.insert_consumed`), so the store's list of dead letters is exactly-once by the same argument as the
rows. The JSON-lines file is a copy of that list, written after each frame and fsynced: a crash between the two leaves
the file short by the last frame's letters (or with a torn last line), and opening the file again
(:meth:`DeadLetterFile.open`) cuts a torn line and appends what the store has beyond the file. The file therefore
never loses nor repeats a dead letter.

One line per bad message: ``{"topic", "partition", "offset", "timestamp" (the message's, epoch ms, or null), "key",
"value" (text when UTF-8, else base64 with "key_encoding"/"value_encoding": "base64"), "error", "reason"}``.

A dead-letter topic (:class:`DeadLetterTopic`) is the same copy on Kafka: one message per dead letter, its value
the same JSON object, its key ``topic[partition]@offset``, all in partition 0 in the store's order (the topic is
created with one partition when it does not exist). The producer is idempotent, so a letter is never written twice
within a run and none is skipped; on opening, the topic's last message says how far the copy got, and what the store
has beyond it is produced first. A message of the consumed topics that the broker has not acknowledged when the
consumer is killed is produced again at the next start only if the broker never stored it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from openfeat_core.errors import DataError, Failure, OpenFeatError

__all__ = ["DeadLetterFile", "DeadLetterSink", "DeadLetterTopic", "dead_letter"]


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


def _coordinates(record: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return record.get("topic"), record.get("partition"), record.get("offset")


class DeadLetterSink(Protocol):
    """A copy of a store's dead letters: brought level with them when opened, then appended to after each frame."""

    def append(self, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


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


class DeadLetterTopicError(OpenFeatError):
    """The dead-letter topic cannot be written (the broker refuses the producer, or the topic is another's)."""

    failure = Failure.UNAVAILABLE


class DeadLetterTopic:
    """A Kafka topic that mirrors a store's dead letters (see the module documentation)."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.topic = topic
        self._producer = producer
        self._failed: str | None = None

    @classmethod
    def open(
        cls,
        bootstrap: str,
        topic: str,
        recorded: Sequence[dict[str, Any]],
        *,
        config: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> DeadLetterTopic:
        """Open (creating it with one partition) the topic and bring it level with ``recorded``, the store's dead
        letters.

        Raises:
            DataError: the topic's last message is no dead letter of this store (the topic belongs to another store
                or stream).
            DeadLetterTopicError: the broker cannot be reached within ``timeout`` seconds, or refuses the topic.
        """
        from confluent_kafka import Producer  # optional dependency: openfeat[kafka]

        settings = dict(config or {})
        last = _last_message(bootstrap, topic, settings, timeout)
        done = 0
        if last is not None:
            try:
                coordinates = _coordinates(json.loads(last))
            except (ValueError, AttributeError):
                coordinates = (None, None, None)
            index = {_coordinates(r): i for i, r in enumerate(recorded)}
            if coordinates not in index:
                raise DataError(
                    f"dead-letter topic {topic!r}: its last message is not one of this store's dead letters: the topic "
                    "belongs to another store or stream; give another --dead-letter-topic"
                )
            done = index[coordinates] + 1
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                **{k: v for k, v in settings.items() if not k.startswith(("group.", "enable.auto", "auto.offset"))},
            }
        )
        letters = cls(producer, topic)
        letters.append(recorded[done:])
        letters.flush(timeout)
        return letters

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Produce records (called after the store has them); delivery is confirmed at :meth:`flush`."""
        self._raise_failure()
        for record in records:
            key = f"{record['topic']}[{record['partition']}]@{record['offset']}"
            value = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            while True:
                try:
                    self._producer.produce(
                        self.topic, value, key.encode("utf-8"), partition=0, on_delivery=self._delivered
                    )
                    break
                except BufferError:  # the producer's queue is full: let it send
                    self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the broker acknowledged every record produced.

        Raises:
            DeadLetterTopicError: a record was refused, or not acknowledged within ``timeout`` seconds.
        """
        left = self._producer.flush(timeout)
        self._raise_failure()
        if left:
            raise DeadLetterTopicError(
                f"dead-letter topic {self.topic!r}: {left} records not acknowledged within {timeout:g} s"
            )

    def close(self) -> None:
        self.flush()

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None and self._failed is None:
            self._failed = error.str()

    def _raise_failure(self) -> None:
        if self._failed is not None:
            raise DeadLetterTopicError(f"dead-letter topic {self.topic!r}: the broker refused a record: {self._failed}")


def _last_message(bootstrap: str, topic: str, config: Mapping[str, Any], timeout: float) -> bytes | None:
    """The value of the last message of ``topic``'s partition 0 (creating the topic, with one partition, when it does
    not exist), or None when it has none."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    deadline = time.monotonic() + timeout
    common = {
        "bootstrap.servers": bootstrap,
        **{k: v for k, v in config.items() if k.startswith(("security.", "sasl.", "ssl."))},
    }
    admin = AdminClient(common)
    try:
        metadata = admin.list_topics(timeout=max(1.0, deadline - time.monotonic()))
    except KafkaException as exc:
        raise DeadLetterTopicError(f"Kafka at {bootstrap} cannot be reached: {exc}") from None
    if topic not in metadata.topics:
        future = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=-1)])[topic]
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise DeadLetterTopicError(f"dead-letter topic {topic!r} cannot be created: {exc}") from None
        return None
    consumer = Consumer({**common, "group.id": "openfeat-dead-letters", "enable.auto.commit": False})
    try:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, 0), timeout=max(1.0, deadline - time.monotonic()), cached=False
        )
        if high <= low:
            return None
        consumer.assign([TopicPartition(topic, 0, high - 1)])
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            value: bytes | None = message.value()
            return value
        raise DeadLetterTopicError(f"dead-letter topic {topic!r}: its last message could not be read")
    except KafkaException as exc:
        raise DeadLetterTopicError(f"dead-letter topic {topic!r}: {exc}") from None
    finally:
        consumer.close()
