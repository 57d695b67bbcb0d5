"""Streaming ingest: events from Kafka into the online store's tables, exactly once.

* :mod:`~openfeat_core.streaming.formats`: a message as a row (Kafka Connect's JSON envelope or a plain JSON object,
  read against the table's schema, as OpenMLDB's Kafka connector takes them);
* :mod:`~openfeat_core.streaming.dead_letters`: the bad messages, with their coordinates and why;
* :mod:`~openfeat_core.streaming.consumer`: the consumer loop (topics -> tables, positions stored in the same log
  frame as the rows, resumed from there on restart).

The Kafka client (``confluent-kafka``, the ``kafka`` extra) is imported only when a consumer runs.
"""

from openfeat_core.streaming.consumer import (
    IngestStats,
    StreamIngester,
    StreamIngestError,
    StreamUnavailable,
    TopicRoute,
    parse_topics,
)
from openfeat_core.streaming.dead_letters import DeadLetterFile, DeadLetterTopic, dead_letter
from openfeat_core.streaming.formats import MESSAGE_FORMATS, BadMessage, MessageFormat, RowMapper

__all__ = [
    "MESSAGE_FORMATS",
    "BadMessage",
    "DeadLetterFile",
    "DeadLetterTopic",
    "IngestStats",
    "MessageFormat",
    "RowMapper",
    "StreamIngestError",
    "StreamIngester",
    "StreamUnavailable",
    "TopicRoute",
    "dead_letter",
    "parse_topics",
]
