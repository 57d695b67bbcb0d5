"""Streaming ingest benchmark (issue 16): Kafka -> durable online store, exactly once.

Against a real Apache Kafka broker (tests/stream/kafka_broker.py starts one on 127.0.0.1, its jars resolved with
Maven into ~/.cache/openfeat; ``--bootstrap HOST:PORT`` uses an existing broker instead):

(a) **Sustained ingest.** ``--events`` (300,000) JSON events (``{"id", "user", "amount", "ts"}``, ~75 bytes, 1 in
    ``--bad-every`` (1,000) bad) are produced into a 3-partition topic first; then ``StreamIngester.run(
    until_caught_up=True)`` consumes them into a fresh durable store (default fsync policy: one fdatasync per log
    frame) whose table already has a deployment (10-day windows: its index is maintained on insert). Reported:
    events/s over the whole run (start-up, assignment and the final caught-up check included) and sustained (the
    events of the batches after the first, from the first batch stored to the last). Side by side, in the same run:
    the store's bulk insert (``OnlineStore.insert`` of the same good rows as Arrow batches of 10,000 into another
    fresh durable store with the same deployment), rows/s over the insert calls, and the ratio of the two.

(b) **Freshness.** After a warm-up of 2,000 events, a producer *process* sends ``--rate`` (10,000) events/s for
    ``--seconds`` (10) (every 10 ms a burst of rate/100), while the consumer runs continuously in this process.
    After each batch is stored, one feature request (the deployment, for the last event's user) is answered, and
    every event of the batch gets latency = (time that request returned) - (the message's Kafka timestamp, set by
    the producer at ``produce()``; milliseconds). Reported: p50/p99/max over the events of the paced stream, and
    the batches it took.

Examples::

    python bench/stream.py
    python bench/stream.py --events 100000 --seconds 5 --json stream.json
    python bench/stream.py --bootstrap 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming import StreamIngester, parse_topics

SCHEMA = "id bigint, user string, amount double, ts timestamp"
FEATURES = (
    "SELECT id, sum(amount) OVER w AS total, count(amount) OVER w AS n FROM tx "
    "WINDOW w AS (PARTITION BY user ORDER BY ts ROWS_RANGE BETWEEN 10d PRECEDING AND CURRENT ROW)"
)
BASE_MS = 1_714_521_600_000
PARTITIONS = 3


def _event(i: int) -> dict[str, Any]:
    return {"id": i, "user": f"u{i % 1000}", "amount": float(i % 97), "ts": BASE_MS + i}


def _new_topic(bootstrap: str) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, PARTITIONS, 1)]).values():
        future.result(timeout=30)
    return name


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 1,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def _produce_all(bootstrap: str, topic: str, count: int, bad_every: int) -> int:
    producer = _producer(bootstrap)
    bad = 0
    for i in range(count):
        if bad_every and i % bad_every == bad_every - 1:
            value, bad = b"{not json", bad + 1
        else:
            value = json.dumps(_event(i)).encode()
        while True:
            try:
                producer.produce(topic, value=value, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)
    return bad


def _new_store(directory: Path) -> OnlineStore:
    store = OnlineStore(directory)
    store.create_table("tx", SCHEMA)
    store.deploy("f", FEATURES)
    return store


def sustained(bootstrap: str, events: int, bad_every: int, workdir: Path) -> dict[str, Any]:
    topic = _new_topic(bootstrap)
    began = time.perf_counter()
    bad = _produce_all(bootstrap, topic, events, bad_every)
    produce_s = time.perf_counter() - began
    store = _new_store(workdir / "ingest")
    stamps: list[float] = []
    sizes: list[int] = []

    def on_batch(messages: list[Any]) -> None:
        stamps.append(time.perf_counter())
        sizes.append(len(messages))

    ingester = StreamIngester(store, bootstrap, parse_topics(f"{topic}:tx"), on_batch=on_batch)
    began = time.perf_counter()
    stats = ingester.run(until_caught_up=True)
    run_s = time.perf_counter() - began
    assert stats.rows == events - bad and stats.dead_letters == bad, stats
    store.close()
    # The store's bulk insert of the same good rows, in the same run.
    good = [_event(i) for i in range(events) if not (bad_every and i % bad_every == bad_every - 1)]
    table = pa.Table.from_pylist(good).cast(
        pa.schema([("id", pa.int64()), ("user", pa.string()), ("amount", pa.float64()), ("ts", pa.int64())])
    )
    table = table.set_column(3, "ts", table.column("ts").cast(pa.timestamp("ms")))
    batches = [table.slice(s, 10_000) for s in range(0, table.num_rows, 10_000)]
    bulk = _new_store(workdir / "bulk")
    began = time.perf_counter()
    for batch in batches:
        bulk.insert("tx", batch)
    bulk_s = time.perf_counter() - began
    bulk.close()
    # From the first batch stored to the last: the events of the batches after the first.
    sustained_rate = (events - sizes[0]) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else events / run_s
    return {
        "events": events,
        "bad": bad,
        "produce_seconds": produce_s,
        "run_seconds": run_s,
        "events_per_s_run": events / run_s,
        "batches": stats.batches,
        "events_per_s_batches": sustained_rate,
        "bulk_insert_rows": table.num_rows,
        "bulk_insert_seconds": bulk_s,
        "bulk_insert_rows_per_s": table.num_rows / bulk_s,
        # Streamed events per second over the store's bulk-insert rows per second, in the same run.
        "ratio_to_bulk_insert": sustained_rate / (table.num_rows / bulk_s),
    }


def _paced_producer(bootstrap: str, topic: str, rate: int, seconds: float) -> None:
    """Runs in its own process: ``rate`` events/s in bursts every 10 ms."""
    producer = _producer(bootstrap)
    burst = max(1, rate // 100)
    # Serialised beforehand: the producer's CPU is not what is measured (the machine has two cores).
    values = [json.dumps(_event(i)).encode() for i in range(int(rate * seconds) + burst)]
    start = time.perf_counter()
    i = 0
    tick = 0
    while time.perf_counter() - start < seconds:
        for _ in range(burst):
            producer.produce(topic, value=values[i], partition=i % PARTITIONS)
            i += 1
        producer.poll(0)
        tick += 1
        delay = start + tick * 0.01 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush(60)


def freshness(bootstrap: str, rate: int, seconds: float, workdir: Path) -> dict[str, Any]:
    topic = _new_topic(bootstrap)
    store = _new_store(workdir / "fresh")
    latencies: list[float] = []
    sizes: list[int] = []
    start_ms = [float("inf")]  # set once the warm-up is stored: only the paced stream is measured

    def on_batch(messages: list[Any]) -> None:
        sizes.append(len(messages))
        last = messages[-1]
        event = json.loads(last.value()) if last.error() is None and last.value() else None
        if event is not None:
            store.request("f", [{**event, "ts": event["ts"] + 1, "id": -1}])
        now_ms = time.time() * 1000
        for m in messages:
            if m.error() is None:
                kind, stamp = m.timestamp()
                if kind and stamp >= start_ms[0]:
                    latencies.append(now_ms - stamp)

    stop = threading.Event()
    ingester = StreamIngester(store, bootstrap, parse_topics(f"{topic}:tx"), on_batch=on_batch)
    consumer = threading.Thread(target=lambda: ingester.run(stop=stop))
    consumer.start()
    # Warm-up: 2,000 events stored before the measured stream (the first batch pays one-time costs: pyarrow imports
    # pandas on its first conversion, the kernels load), so the figures are the steady state.
    _produce_all(bootstrap, topic, 2000, 0)
    deadline = time.monotonic() + 60
    while store.table_stats()["tx"]["inserted"] < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    start_ms[0] = time.time() * 1000
    producer = multiprocessing.get_context("spawn").Process(
        target=_paced_producer, args=(bootstrap, topic, rate, seconds)
    )
    producer.start()
    producer.join()
    time.sleep(1.0)
    stop.set()
    consumer.join()
    store.close()
    values = np.array(latencies)
    return {
        "rate": rate,
        "seconds": seconds,
        "events_measured": len(values),
        "batches": len(sizes),
        "mean_batch": float(np.mean(sizes)),
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "max_ms": float(values.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--bad-every", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--only", choices=["sustained", "freshness"], help="run one workload")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        # The tests' broker: Apache Kafka's jars resolved with Maven into ~/.cache/openfeat, one KRaft process.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "stream"))
        from kafka_broker import KafkaBroker

        broker = KafkaBroker(heap="1g").start()
        bootstrap = broker.bootstrap
    try:
        with tempfile.TemporaryDirectory(prefix="openfeat-bench-stream-") as tmp:
            results = {}
            if args.only in (None, "sustained"):
                results["sustained"] = sustained(bootstrap, args.events, args.bad_every, Path(tmp))
            if args.only in (None, "freshness"):
                results["freshness"] = freshness(bootstrap, args.rate, args.seconds, Path(tmp))
    finally:
        if broker is not None:
            broker.close()
    print(json.dumps(results, indent=2))
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
