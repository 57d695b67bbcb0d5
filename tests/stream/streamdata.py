"""Events for the streaming tests: good ones (rows of table ``tx``) with bad messages mixed in, and a producer."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

TX_SCHEMA = "id bigint, user string, amount double, ts timestamp"
FEATURES = (
    "SELECT id, user, sum(amount) OVER w AS total, count(amount) OVER w AS n, max(amount) OVER w AS biggest FROM tx "
    "WINDOW w AS (PARTITION BY user ORDER BY ts ROWS_RANGE BETWEEN 3600s PRECEDING AND CURRENT ROW)"
)
BASE_MS = 1_714_521_600_000  # 2024-05-01 00:00:00 UTC

# The kinds of bad message, in turn: the reason each one's dead letter carries.
_BAD = [
    (b"{not json", "not_json"),
    (b'{"id": "seven", "user": "u", "amount": 1.0, "ts": 1}', "invalid_row"),
    (b'{"id": 7, "user": "u", "amount": 1.0, "ts": "someday"}', "bad_timestamp"),
    (b"[1, 2, 3]", "not_object"),
    (b'{"id": 7, "user": "u", "amount": 1.0, "ts": 1, "surprise": true}', "invalid_row"),
]


def good_event(i: int) -> dict[str, Any]:
    """Event ``i``: its id is ``i``; half the events carry their timestamp as OpenMLDB's string form."""
    ts = BASE_MS + i * 1000
    event: dict[str, Any] = {"id": i, "user": f"u{i % 37}", "amount": float(i % 101) / 4, "ts": ts}
    if i % 2:
        event["ts"] = dt.datetime.fromtimestamp(ts / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return event


def event_row(i: int) -> dict[str, Any]:
    """The row event ``i`` must become (timestamp as epoch milliseconds)."""
    return {"id": i, "user": f"u{i % 37}", "amount": float(i % 101) / 4, "ts": BASE_MS + i * 1000}


def events(count: int, bad_every: int) -> tuple[list[tuple[int, bytes]], list[int], list[tuple[bytes, str]]]:
    """``count`` messages (partition key, value): every ``bad_every``-th is bad. Returns the messages, the ids of
    the good events and the bad values with the reason their dead letter must carry."""
    messages: list[tuple[int, bytes]] = []
    good: list[int] = []
    bad: list[tuple[bytes, str]] = []
    for i in range(count):
        if bad_every and i % bad_every == bad_every - 1:
            value, reason = _BAD[(i // bad_every) % len(_BAD)]
            messages.append((i, value))
            bad.append((value, reason))
        else:
            messages.append((i, json.dumps(good_event(i)).encode()))
            good.append(i)
    return messages, good, bad


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    """A fresh topic (its name unique, so tests never see each other's messages)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"tx_{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=30)
    return name


def new_producer(bootstrap: str) -> Any:
    """An idempotent producer (acks=all), as :func:`produce` makes; thread-safe, so one may serve a whole test."""
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})


def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[int, bytes]],
    partitions: int = 3,
    *,
    pace: float = 0.0,
    chunk: int = 500,
    producer: Any = None,
) -> None:
    """Produce every message (idempotent producer, acks=all), message ``i`` to partition ``i % partitions``; with
    ``pace``, ``chunk`` messages at a time with a pause of ``pace`` seconds after each (a stream, not a burst).

    ``producer`` (from :func:`new_producer`) is used instead of a new one: a test that produces many times saves a
    client start and the broker's producer-id round trip (about half a second) each time.
    """
    if producer is None:
        producer = new_producer(bootstrap)
    for n, (i, value) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, value=value, key=str(i).encode(), partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
        if n % 5000 == 0:
            producer.poll(0)
        if pace and n % chunk == chunk - 1:
            producer.flush(30)
            time.sleep(pace)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} messages not delivered"
