"""The consumer loop: Kafka topics into online-store tables, exactly once.

Each batch of messages polled from the broker becomes, per table, ONE log frame of the store
(:meth:`OnlineStore.insert_consumed`): the good messages' rows, the dead letters of the bad ones, and the next offset
of every partition the batch read. On start the consumer *assigns* every partition of its topics and seeks to the
positions the store recovered (:meth:`OnlineStore.stream_positions`), never to a consumer group's committed offsets:
what the store holds and where reading resumes come from the same frame, so a crash at any moment neither loses nor
repeats a message. The offsets are also committed to the group (asynchronously, after the frame) for lag tooling
only.

A partition always feeds one table (its topic's), so a frame per table carries all that a batch did to the
partitions it names; frames of different tables are independent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from openfeat_core.errors import DataError, Failure, OpenFeatError
from openfeat_core.online.rows import TypedRows, check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming.columnar import ColumnarDecoder
from openfeat_core.streaming.dead_letters import DeadLetterFile, DeadLetterSink, DeadLetterTopic, dead_letter
from openfeat_core.streaming.formats import BadMessage, MessageFormat, RowMapper, envelope_table_schema
from openfeat_core.streaming.workspace_feed import WorkspaceFeed
from openfeat_core.workspace import Workspace

__all__ = [
    "IngestStats",
    "StreamIngestError",
    "StreamIngester",
    "StreamUnavailable",
    "TopicRoute",
    "parse_topics",
]

logger = logging.getLogger(__name__)

#: The bad-message ratio is judged once this many messages were read in a run (and at its end): one bad message
#: among the first few must not stop a healthy stream.
RATIO_MIN_MESSAGES = 1000
_NO_ROWS = np.empty(0, np.int64)
#: Rows are checked in chunks of this size when a batch holds a bad row, to find the bad ones quickly.
_CHUNK = 256


class StreamIngestError(OpenFeatError):
    """Too many bad messages: ingest stopped (the batches read so far, dead letters included, are stored)."""

    failure = Failure.DATA


class StreamUnavailable(OpenFeatError):
    """The broker cannot be reached or refuses the consumer; running again may succeed."""

    failure = Failure.UNAVAILABLE


@dataclass(frozen=True)
class TopicRoute:
    """Messages of ``topic`` go into table ``table``."""

    topic: str
    table: str


def parse_topics(spec: str | Sequence[str]) -> list[TopicRoute]:
    """``"a,b:t"`` (or ``["a", "b:t"]``): topic ``a`` into table ``a``, topic ``b`` into table ``t``.

    Raises:
        DataError: an empty name, or a topic given twice.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    routes: list[TopicRoute] = []
    for item in items:
        topic, _, table = item.strip().partition(":")
        topic, table = topic.strip(), (table.strip() or topic.strip())
        if not topic or not table:
            raise DataError(f"topics: {item!r} is not TOPIC or TOPIC:TABLE")
        if any(r.topic == topic for r in routes):
            raise DataError(f"topics: topic {topic!r} is given twice")
        routes.append(TopicRoute(topic, table))
    if not routes:
        raise DataError("topics: no topic given")
    return routes


@dataclass
class IngestStats:
    """What a run did.

    Attributes:
        messages: messages read.
        rows: rows stored.
        dead_letters: bad messages recorded as dead letters.
        batches: log frames written.
        seconds: wall time of the run.
        caught_up: every partition reached the high watermark it had when the run started.
        positions: ``"topic[partition]" -> next offset`` stored at the end.
        workspace_rows: rows appended to workspace tables; ``workspace_versions`` the versions that took them.
    """

    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    batches: int = 0
    seconds: float = 0.0
    caught_up: bool = False
    positions: dict[str, int] = field(default_factory=dict)
    workspace_rows: int = 0
    workspace_versions: int = 0


@dataclass
class _Pending:
    """One table's part of a polled batch."""

    messages: list[Any] = field(default_factory=list)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class StreamIngester:
    """Consumes topics into the tables of an open store (see the module documentation).

    Args:
        store: the store (durable for the exactly-once guarantee; an in-memory store works, and forgets).
        bootstrap: the brokers, ``host:port[,host:port...]``.
        routes: topic -> table (:func:`parse_topics`); every table must exist in the store.
        message_format: ``"auto"``, ``"json"`` or ``"envelope"`` (:mod:`openfeat_core.streaming.formats`).
        timezone: zone of timestamp strings without an offset; default the store's.
        dead_letter_path: JSON-lines file of the dead letters (a copy of those the store records); None: only the
            store keeps them.
        dead_letter_topic: Kafka topic of the dead letters (another copy; created with one partition when missing).
        workspace: also append the rows to the workspace tables of the same names, in micro-batches of
            ``workspace_every_rows`` rows or ``workspace_every_seconds`` seconds, exactly once
            (:mod:`openfeat_core.streaming.workspace_feed`).
        max_bad_ratio: stop with :class:`StreamIngestError` once bad messages exceed this share of the messages read
            in the run (judged from :data:`RATIO_MIN_MESSAGES` messages on, and at the end of the run).
        group_id: the consumer group the offsets are committed to for lag tooling (never read back).
        commit_offsets: commit them at all.
        max_batch: most messages per batch (a batch is what has arrived when the previous one is stored).
        poll_timeout: seconds one poll waits for a first message (bounds how long a stop request waits).
        consumer_config: more librdkafka settings (security, timeouts...).
        on_batch: called with the messages of each batch once it is stored (benchmarks, progress).
        on_lag: called after each batch with ``(topic, partition, messages behind)`` for every partition the batch
            advanced: its high watermark as of the last fetch (librdkafka's cached value: no broker call) minus the
            stored position (the service's lag metric).
        store_lock: held around every store call, when others use the store too (``openfeat serve --ingest-topics``:
            the service's store lock); the broker is polled without it.
        create_tables: a table that does not exist is created from the schema of the first Kafka Connect envelope
            of its topic (as OpenMLDB's connector's ``auto.create``); messages before that one are dead letters.
    """

    def __init__(
        self,
        store: OnlineStore,
        bootstrap: str,
        routes: Sequence[TopicRoute],
        *,
        message_format: MessageFormat = "auto",
        timezone: str | None = None,
        dead_letter_path: str | os.PathLike[str] | None = None,
        dead_letter_topic: str | None = None,
        workspace: Workspace | None = None,
        workspace_every_rows: int = 100_000,
        workspace_every_seconds: float = 60.0,
        max_bad_ratio: float = 0.1,
        group_id: str = "openfeat-ingest",
        commit_offsets: bool = True,
        max_batch: int = 20_000,
        poll_timeout: float = 0.2,
        consumer_config: Mapping[str, Any] | None = None,
        on_batch: Callable[[list[Any]], None] | None = None,
        on_lag: Callable[[str, int, int], None] | None = None,
        store_lock: threading.Lock | None = None,
        create_tables: bool = False,
    ) -> None:
        if not 0.0 <= max_bad_ratio <= 1.0:
            raise DataError(f"max_bad_ratio must be between 0 and 1, not {max_bad_ratio!r}")
        if max_batch < 1:
            raise DataError(f"max_batch must be at least 1, not {max_batch!r}")
        if workspace_every_rows < 1 or workspace_every_seconds <= 0:
            raise DataError(
                "workspace micro-batches need workspace_every_rows >= 1 and workspace_every_seconds > 0, not "
                f"{workspace_every_rows!r} and {workspace_every_seconds!r}"
            )
        tables = set(store.list_tables())
        missing = sorted({r.table for r in routes if r.table not in tables})
        if missing and not create_tables:
            raise DataError(
                f"table(s) {', '.join(map(repr, missing))} do not exist in the store (tables: "
                f"{', '.join(sorted(tables)) or 'none'}); create them first, or map the topic: --topics TOPIC:TABLE"
            )
        zone = timezone or store.timezone
        self.store = store
        self.bootstrap = bootstrap
        self.routes = list(routes)
        self._table_of = {r.topic: r.table for r in self.routes}
        self._format: MessageFormat = message_format
        self._zone = zone
        self._to_create = set(missing)
        self._columns = {t: store.table_columns(t) for t in self._table_of.values() if t not in self._to_create}
        self._mappers = {t: RowMapper(c, message_format, zone) for t, c in self._columns.items()}
        self._decoders = {t: ColumnarDecoder(c, message_format) for t, c in self._columns.items()}
        self.dead_letter_path = dead_letter_path
        if dead_letter_topic is not None and dead_letter_topic in self._table_of:
            raise DataError(f"the dead-letter topic {dead_letter_topic!r} is also a topic to consume")
        self.dead_letter_topic = dead_letter_topic
        self.workspace = workspace
        self.workspace_every_rows = workspace_every_rows
        self.workspace_every_seconds = workspace_every_seconds
        self._feed: WorkspaceFeed | None = None
        self.max_bad_ratio = max_bad_ratio
        self.group_id = group_id
        self.commit_offsets = commit_offsets
        self.max_batch = max_batch
        self.poll_timeout = poll_timeout
        self.consumer_config = dict(consumer_config or {})
        self.on_batch = on_batch
        self.on_lag = on_lag
        self._store_lock: contextlib.AbstractContextManager[Any] = (
            store_lock if store_lock is not None else contextlib.nullcontext()
        )

    # ------------------------------------------------------------------------------------------------------------
    def run(
        self, *, until_caught_up: bool = False, stop: threading.Event | None = None, startup_timeout: float = 30.0
    ) -> IngestStats:
        """Consume until ``stop`` is set (after the batch under way) or, with ``until_caught_up``, until every
        partition reached the high watermark it had at the start.

        Raises:
            StreamIngestError: too many bad messages (what was read until then is stored).
            StreamUnavailable: the broker could not be reached within ``startup_timeout`` seconds at the start, or
                the client failed fatally.
            DataError: a topic does not exist.
        """
        from confluent_kafka import Consumer  # optional dependency: openfeat[kafka]

        started = time.monotonic()
        stop = stop or threading.Event()
        stats = IngestStats()
        with self._store_lock:
            recorded = self.store.dead_letters()
        letters: list[DeadLetterSink] = []
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
            **self.consumer_config,
        }
        consumer = Consumer(config, logger=logger)
        try:
            if self.dead_letter_path is not None:
                letters.append(DeadLetterFile.open(self.dead_letter_path, recorded))
            if self.dead_letter_topic is not None:
                letters.append(
                    DeadLetterTopic.open(
                        self.bootstrap, self.dead_letter_topic, recorded, config=self.consumer_config,
                        timeout=startup_timeout,
                    )
                )  # fmt: skip
            if self.workspace is not None:
                self._feed = self._open_feed(self.workspace)
            targets = self._assign(consumer, startup_timeout)
            done: set[tuple[str, int]] = set()
            bad_in_run = 0
            while not stop.is_set():
                with self._store_lock:
                    stored = self.store.stream_positions()
                done |= {tp for tp, high in targets.items() if self._position(tp, stored) >= high}
                if until_caught_up and done >= targets.keys():
                    stats.caught_up = True
                    break
                if self._feed is not None and self._feed.due():
                    stats.workspace_rows += self._feed.flush()
                first = consumer.poll(self.poll_timeout)
                if first is None:
                    continue
                messages = [first, *consumer.consume(self.max_batch - 1, 0)] if self.max_batch > 1 else [first]
                read, bad = self._process(consumer, messages, letters, stats, targets, done)
                bad_in_run += bad
                if read and self.on_batch is not None:
                    self.on_batch(messages)
                if stats.messages >= RATIO_MIN_MESSAGES:
                    self._check_ratio(bad_in_run, stats.messages)
            if self._feed is not None:
                stats.workspace_rows += self._feed.flush()
            self._check_ratio(bad_in_run, stats.messages)
        finally:
            consumer.close()
            for sink in letters:
                sink.close()
            with self._store_lock:
                final = self.store.stream_positions()
            stats.positions = {f"{t}[{p}]": o for (t, p), o in sorted(final.items())}
            if self._feed is not None:
                stats.workspace_versions = self._feed.versions_written
            stats.seconds = time.monotonic() - started
        return stats

    def _check_ratio(self, bad: int, read: int) -> None:
        if read and bad / read > self.max_bad_ratio:
            raise StreamIngestError(
                f"{bad} of {read} messages read were bad ({bad / read:.1%}, above the maximum "
                f"{self.max_bad_ratio:.1%}): ingest stopped; the dead letters say why (reason, error), and the "
                "positions past them are stored, so a rerun goes on after them"
            )

    def _assign(self, consumer: Any, timeout: float) -> dict[tuple[str, int], int]:
        """Assign every partition of the topics at the stored positions (the first offset for a new one);
        returns each partition's high watermark now (the "caught up" target)."""
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

        deadline = time.monotonic() + timeout
        while True:
            try:
                metadata = consumer.list_topics(timeout=max(1.0, min(5.0, deadline - time.monotonic())))
                break
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    raise StreamUnavailable(f"Kafka at {self.bootstrap} cannot be reached: {exc}") from None
        with self._store_lock:
            stored = self.store.stream_positions()
        assignment = []
        for route in self.routes:
            topic = metadata.topics.get(route.topic)
            if topic is None or topic.error is not None or not topic.partitions:
                known = ", ".join(sorted(t for t in metadata.topics if not t.startswith("__"))) or "none"
                raise DataError(f"topic {route.topic!r} does not exist at {self.bootstrap} (topics: {known})")
            for partition in sorted(topic.partitions):
                offset = self._position((route.topic, partition), stored, OFFSET_BEGINNING)
                assignment.append(TopicPartition(route.topic, partition, offset))
        consumer.assign(assignment)
        targets: dict[tuple[str, int], int] = {}
        for tp in assignment:
            while True:
                try:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(tp.topic, tp.partition), timeout=5.0, cached=False
                    )
                    break
                except KafkaException as exc:
                    if time.monotonic() >= deadline:
                        raise StreamUnavailable(
                            f"Kafka at {self.bootstrap}: no watermarks for {tp.topic}: {exc}"
                        ) from None
            at = stored.get((tp.topic, tp.partition))
            if at is not None and at < low:
                logger.warning(
                    "%s[%d]: the stored position %d was deleted by the topic's retention (first offset now %d): "
                    "messages %d..%d are lost to this store",
                    tp.topic, tp.partition, at, low, at, low - 1,
                )  # fmt: skip
            targets[(tp.topic, tp.partition)] = high
        return targets

    def _process(
        self,
        consumer: Any,
        messages: list[Any],
        letters: Sequence[DeadLetterSink],
        stats: IngestStats,
        targets: Mapping[tuple[str, int], int],
        done: set[tuple[str, int]],
    ) -> tuple[int, int]:
        """Store one polled batch (one frame per table); returns (messages read, bad ones)."""
        from confluent_kafka import KafkaError, TopicPartition

        # Per message only what confluent-kafka's API makes per message (a call per field), in comprehensions.
        good = [m for m in messages if m.error() is None]
        if len(good) < len(messages):
            for m in messages:
                error = m.error()
                if error is None:
                    continue
                if error.code() == KafkaError._PARTITION_EOF:
                    tp = (m.topic(), m.partition())
                    if m.offset() >= targets.get(tp, 0):
                        done.add(tp)
                    continue
                if error.fatal():
                    raise StreamUnavailable(f"Kafka client failed at {self.bootstrap}: {error.str()}")
                # Broker down, a leader moving...: the client reconnects by itself and goes on from where it was.
                logger.warning("Kafka at %s: %s (retrying)", self.bootstrap, error.str())
        read = len(good)
        pending: dict[str, _Pending] = {}
        if len(self.routes) == 1:
            topic = self.routes[0].topic
            if good:
                pending[self.routes[0].table] = _Pending(good, _last_offsets(good, [topic] * len(good)))
        else:
            topics = [m.topic() for m in good]
            by_table: dict[str, list[int]] = {}
            for i, t in enumerate(topics):
                by_table.setdefault(self._table_of[t], []).append(i)
            for name, indexes in by_table.items():
                chunk = [good[i] for i in indexes]
                pending[name] = _Pending(chunk, _last_offsets(chunk, [topics[i] for i in indexes]))
        bad_total = 0
        commits: list[Any] = []
        for table, part in pending.items():
            rows, at, bad_letters = self._rows(table, part.messages)
            bad_letters.sort(key=lambda d: (d["topic"], d["partition"], d["offset"]))
            positions = part.positions
            if self._feed is not None:
                rows, bad_letters, positions = self._feed_batch(table, part, rows, at, bad_letters)
            with self._store_lock:
                stored = self.store.insert_consumed(table if rows is not None else None, rows, positions, bad_letters)
            for sink in letters:
                sink.append(bad_letters)
            stats.rows += stored
            stats.dead_letters += len(bad_letters)
            stats.batches += 1
            bad_total += len(bad_letters)
            commits.extend(TopicPartition(t, p, o) for (t, p), o in part.positions.items())
        stats.messages += read
        if commits and self.commit_offsets:
            try:
                consumer.commit(offsets=commits, asynchronous=True)
            except Exception as exc:  # published for lag tooling only: never affects ingest
                logger.debug("committing offsets for lag tooling failed: %s", exc)
        if self.on_lag is not None:
            for tp in commits:
                _, high = consumer.get_watermark_offsets(tp, cached=True)
                if high is not None and high >= 0:
                    self.on_lag(tp.topic, tp.partition, high - tp.offset)
        return read, bad_total

    def _open_feed(self, workspace: Workspace) -> WorkspaceFeed:
        tables = sorted(set(self._table_of.values()))
        schemas = {t: self._decoders[t].schema for t in tables if t in self._decoders}
        return WorkspaceFeed(
            workspace,
            {t: t for t in tables},
            schemas,
            every_rows=self.workspace_every_rows,
            every_seconds=self.workspace_every_seconds,
        )

    def _position(self, tp: tuple[str, int], stored: Mapping[tuple[str, int], int], missing: int = 0) -> int:
        """Where partition ``tp`` is to be read from: the store's position, or the workspace feed's when that is
        behind (``missing`` where either has none)."""
        at = stored.get(tp)
        if self._feed is not None:
            fed = self._feed.positions(self._table_of[tp[0]]).get(tp)
            at = None if at is None or fed is None else min(at, fed)
        return missing if at is None else at

    def _feed_batch(
        self, table: str, part: _Pending, rows: pa.Table | None, at: np.ndarray, letters: list[dict[str, Any]]
    ) -> tuple[pa.Table | None, list[dict[str, Any]], dict[tuple[str, int], int]]:
        """Give the workspace feed the messages it does not have yet; returns the rows, dead letters and positions of
        those the store does not have yet (both are all of them, unless one of the two is behind)."""
        assert self._feed is not None
        with self._store_lock:
            stored = self.store.stream_positions()
        fed = self._feed.positions(table)
        first: dict[tuple[str, int], int] = {}
        for m in part.messages:
            first.setdefault((m.topic(), m.partition()), m.offset())

        def new_to(have: Mapping[tuple[str, int], int]) -> tuple[pa.Table | None, dict[tuple[str, int], int]]:
            if all(offset >= have.get(tp, 0) for tp, offset in first.items()):
                return rows, dict(part.positions)
            keep = np.asarray(
                [m.offset() >= have.get((m.topic(), m.partition()), 0) for m in part.messages], dtype=bool
            )
            kept = rows.filter(pa.array(keep[at])) if rows is not None else None
            positions = {tp: o for tp, o in part.positions.items() if o > have.get(tp, 0)}
            return (kept if kept is not None and kept.num_rows else None), positions

        feed_rows, feed_positions = new_to(fed)
        if feed_positions:
            self._feed.add(table, feed_rows, feed_positions)
        store_rows, store_positions = new_to(stored)
        store_letters = [d for d in letters if d["offset"] >= stored.get((d["topic"], d["partition"]), 0)]
        return store_rows, store_letters, store_positions

    def _create_table(self, table: str, value: bytes | None) -> None:
        """Create ``table`` from the schema of the envelope ``value`` (see ``create_tables``).

        Raises:
            BadMessage: the message is no envelope to create it from.
        """
        with self._store_lock:
            exists = table in self.store.list_tables()  # created meanwhile (a service's SQL, for one)
        if not exists:
            try:
                schema = envelope_table_schema(value)
            except BadMessage as bad:
                error = f"table {table!r} does not exist, and this message cannot create it: {bad}"
                raise BadMessage("no_table", error) from None
            with self._store_lock:
                self.store.create_table(table, schema)
            logger.info("created table %r from the envelope schema of its topic: %s", table, schema)
        with self._store_lock:
            self._columns[table] = self.store.table_columns(table)
        self._mappers[table] = RowMapper(self._columns[table], self._format, self._zone)
        self._decoders[table] = ColumnarDecoder(self._columns[table], self._format)
        if self._feed is not None:
            self._feed.add_table(table, self._decoders[table].schema)
        self._to_create.discard(table)

    def _rows(self, table: str, messages: list[Any]) -> tuple[pa.Table | None, np.ndarray, list[dict[str, Any]]]:
        """The rows of one table's messages, in message order, the position in ``messages`` of each row's message,
        and the dead letters of the bad ones.

        The batch is decoded columnar (:class:`ColumnarDecoder`); the messages it leaves go through the per-message
        path (:class:`RowMapper`, then :func:`check_rows`), which decides between a row and a dead letter."""
        letters: list[dict[str, Any]] = []
        first = 0
        if table in self._to_create:
            # The messages before the first that can create the table are dead letters.
            while first < len(messages):
                try:
                    self._create_table(table, messages[first].value())
                    break
                except BadMessage as bad:
                    letters.append(_letter(messages[first], bad.error, bad.reason))
                    first += 1
            if first == len(messages):
                return None, _NO_ROWS, letters
            messages = messages[first:]
        values = [m.value() for m in messages]
        decoder = self._decoders[table]
        taken, columnar, rest = decoder.decode(values)
        if not rest:
            return columnar, taken + first, letters
        mapper = self._mappers[table]
        rows: list[dict[str, Any]] = []
        mapped: list[int] = []
        for i in rest:
            try:
                rows.append(mapper.row(values[i]))
                mapped.append(i)
            except BadMessage as bad:
                letters.append(_letter(messages[i], bad.error, bad.reason))
        typed, good, rejected = self._check(table, rows, [messages[i] for i in mapped])
        letters.extend(rejected)
        if typed is None:
            return columnar, taken + first, letters
        checked = pa.Table.from_batches([typed.to_batch(decoder.schema)])
        checked_at = np.asarray([mapped[g] for g in good], dtype=np.int64)
        if columnar is None:
            return checked, checked_at + first, letters
        # Both paths gave rows: back into message order (ties at one timestamp go by insertion order).
        at = np.concatenate([taken, checked_at])
        order = np.argsort(at, kind="stable")
        return pa.concat_tables([columnar, checked]).take(pa.array(order)), at[order] + first, letters

    def _check(
        self, table: str, rows: list[dict[str, Any]], messages: list[Any]
    ) -> tuple[TypedRows | None, list[int], list[dict[str, Any]]]:
        """The rows checked once by ``check_rows``; when one does not fit, the rows are checked again in chunks and
        then one by one to set the bad messages aside as dead letters.

        Returns:
            ``(typed, good, rejected)``: the rows that fit, their positions in ``rows``, the dead letters of the
            others.
        """
        if not rows:
            return None, [], []
        columns = self._columns[table]
        what = f"table {table!r}"
        try:
            return check_rows(rows, columns, what=what), list(range(len(rows))), []
        except DataError:
            pass
        good: list[int] = []
        rejected: list[dict[str, Any]] = []
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            try:
                check_rows(chunk, columns, what=what)
                good.extend(range(start, start + len(chunk)))
                continue
            except DataError:
                pass
            for k, (row, m) in enumerate(zip(chunk, messages[start : start + _CHUNK], strict=True)):
                where = f"{what}, message {m.topic()}[{m.partition()}]@{m.offset()}"
                try:
                    check_rows([row], columns, what=where)
                    good.append(start + k)
                except DataError as exc:
                    rejected.append(_letter(m, str(exc), "invalid_row"))
        typed = check_rows([rows[g] for g in good], columns, what=what) if good else None
        return typed, good, rejected


def _last_offsets(messages: Sequence[Any], topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """``(topic, partition) -> next offset`` after the messages (in order within a partition)."""
    last = {tp: i for i, tp in enumerate(zip(topics, [m.partition() for m in messages], strict=True))}
    return {tp: messages[i].offset() + 1 for tp, i in last.items()}


def _letter(m: Any, error: str, reason: str) -> dict[str, Any]:
    kind, stamp = m.timestamp()
    return dead_letter(m.topic(), m.partition(), m.offset(), stamp if kind else None, m.key(), m.value(), error, reason)
