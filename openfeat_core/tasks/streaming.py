"""The ``ingest-stream`` task: Kafka topics into the tables of a durable online store, exactly once.

With ``until_caught_up`` it is a batch-style task for an orchestrator: it consumes until every partition reached the
high watermark it had when the task started, then returns. Running it again is safe: the store holds the position of
every partition in the same log frames as the rows (:mod:`openfeat_core.streaming`), so a rerun (after a crash too)
goes on from there and never stores a message twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from openfeat_core.errors import DataError
from openfeat_core.streaming.consumer import StreamIngester, parse_topics
from openfeat_core.streaming.formats import MESSAGE_FORMATS, MessageFormat
from openfeat_core.tasks.base import InvalidRequest, TaskRequest, TaskResult, open_workspace
from openfeat_core.tasks.hooks import TaskContext, run_task
from openfeat_core.tasks.online import embedded_store

__all__ = ["IngestStreamRequest", "IngestStreamResult", "ingest_stream"]


@dataclass(frozen=True)
class IngestStreamRequest(TaskRequest):
    """Consume Kafka topics into online-store tables.

    Attributes:
        store: directory of the durable store (opened in this process: not while a service holds it).
        bootstrap: the Kafka brokers, ``host:port[,host:port...]``.
        topics: ``"a,b:table"``: topic ``a`` into table ``a``, topic ``b`` into ``table``.
        until_caught_up: stop once every partition reached its high watermark of the start; else run until
            ``stop`` is set.
        dead_letters: JSON-lines file of the bad messages (a copy of the dead letters the store records).
        dead_letter_topic: Kafka topic of the bad messages (another copy; created with one partition if missing).
        workspace: also append the rows to this workspace's tables of the same names, as new versions, in
            micro-batches of ``workspace_every_rows`` rows or ``workspace_every_seconds`` seconds (and at the end of
            the run), exactly once (:mod:`openfeat_core.streaming.workspace_feed`).
        storage_options: object-store settings of the workspace.
        max_bad_ratio: stop with an error when more than this share of the messages read are bad.
        message_format: ``"auto"``, ``"json"`` (plain objects) or ``"envelope"`` (Kafka Connect's schema + payload).
        timezone: zone of timestamp strings without an offset; default the store's.
        group_id: consumer group the offsets are committed to, for lag tooling only.
        consumer_config: more librdkafka settings.
        create_tables: create a missing table from the schema of its topic's first Kafka Connect envelope.
        create_store: create the store directory when it does not exist.
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
        stop: set it to stop after the batch under way (the command line sets it on SIGTERM).
    """

    store: str | os.PathLike[str]
    bootstrap: str
    topics: str
    until_caught_up: bool = False
    dead_letters: str | os.PathLike[str] | None = None
    dead_letter_topic: str | None = None
    workspace: str | os.PathLike[str] | None = None
    workspace_every_rows: int = 100_000
    workspace_every_seconds: float = 60.0
    storage_options: Mapping[str, Any] | None = None
    max_bad_ratio: float = 0.1
    message_format: MessageFormat = "auto"
    timezone: str | None = None
    group_id: str = "openfeat-ingest"
    consumer_config: Mapping[str, Any] | None = None
    create_tables: bool = False
    create_store: bool = False
    parent_run_id: str | None = None
    stop: threading.Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class IngestStreamResult(TaskResult):
    """What one run consumed.

    Attributes:
        store: the store directory.
        topics: ``[{"topic", "table"}]``.
        messages: messages read; ``rows`` of them stored, ``dead_letters`` recorded as bad.
        batches: log frames written.
        caught_up: every partition reached its high watermark of the start.
        positions: ``"topic[partition]" -> next offset`` stored at the end.
        workspace_rows: rows appended to workspace tables, in ``workspace_versions`` new versions.
        dead_letter_file: the dead-letter file, if any; ``dead_letter_topic`` the dead-letter topic, if any.
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
    """

    task: ClassVar[str] = "ingest-stream"
    key_fields: ClassVar[tuple[str, ...]] = ("messages", "rows", "dead_letters", "caught_up")

    store: str
    topics: list[dict[str, str]]
    messages: int
    rows: int
    dead_letters: int
    batches: int
    caught_up: bool
    positions: dict[str, int]
    workspace_rows: int
    workspace_versions: int
    dead_letter_file: str | None
    dead_letter_topic: str | None
    run_id: str
    parent_run_id: str | None
    seconds: float


def ingest_stream(request: IngestStreamRequest) -> IngestStreamResult:
    """Consume the topics into the store's tables, exactly once (see the module documentation).

    Raises:
        InvalidRequest: a bad option (format, ratio, topics), or no such store directory.
        DataError: a table or topic that does not exist.
        StreamIngestError: more bad messages than ``max_bad_ratio`` allows (what was read until then is stored).
        StreamUnavailable: the broker cannot be reached.
    """
    return run_task("ingest-stream", request, request.parent_run_id, lambda ctx: _ingest_stream(request, ctx))


def _ingest_stream(request: IngestStreamRequest, context: TaskContext) -> IngestStreamResult:
    if request.message_format not in MESSAGE_FORMATS:
        formats = ", ".join(MESSAGE_FORMATS)
        raise InvalidRequest(f"message_format must be one of {formats}, not {request.message_format!r}")
    if not 0.0 <= request.max_bad_ratio <= 1.0:
        raise InvalidRequest(f"max_bad_ratio must be between 0 and 1, not {request.max_bad_ratio!r}")
    try:
        routes = parse_topics(request.topics)
    except DataError as exc:
        raise InvalidRequest(str(exc)) from None
    store = embedded_store(request.store, create=request.create_store, timezone=request.timezone)
    fmt: MessageFormat = request.message_format
    ingester = StreamIngester(
        store,
        request.bootstrap,
        routes,
        message_format=fmt,
        timezone=request.timezone,
        dead_letter_path=request.dead_letters,
        dead_letter_topic=request.dead_letter_topic,
        workspace=None if request.workspace is None else open_workspace(request.workspace, request.storage_options),
        workspace_every_rows=request.workspace_every_rows,
        workspace_every_seconds=request.workspace_every_seconds,
        max_bad_ratio=request.max_bad_ratio,
        group_id=request.group_id,
        consumer_config=request.consumer_config,
        create_tables=request.create_tables,
    )
    stats = ingester.run(until_caught_up=request.until_caught_up, stop=request.stop)
    return IngestStreamResult(
        store=os.fspath(request.store),
        topics=[{"topic": r.topic, "table": r.table} for r in routes],
        messages=stats.messages,
        rows=stats.rows,
        dead_letters=stats.dead_letters,
        batches=stats.batches,
        caught_up=stats.caught_up,
        positions=stats.positions,
        workspace_rows=stats.workspace_rows,
        workspace_versions=stats.workspace_versions,
        dead_letter_file=None if request.dead_letters is None else os.fspath(request.dead_letters),
        dead_letter_topic=request.dead_letter_topic,
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
    )
