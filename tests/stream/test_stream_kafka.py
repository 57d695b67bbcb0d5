"""Streaming ingest against a real Apache Kafka broker: loads, dead letters, features, crashes, a broker restart."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from kafka_broker import KafkaBroker
from streamdata import BASE_MS, FEATURES, TX_SCHEMA, event_row, events, new_producer, new_topic, produce

import openfeat_core
from openfeat_core.errors import DataError
from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming import StreamIngester, StreamIngestError, parse_topics
from openfeat_core.tasks import IngestStreamRequest, close_embedded_store, ingest_stream
from openfeat_core.workspace import Workspace


def _store(path: Path) -> OnlineStore:
    store = OnlineStore(path)
    store.create_table("tx", TX_SCHEMA)
    return store


def _ids(store: OnlineStore) -> list[int]:
    ids: list[int] = store.scan("tx").column("id").to_pylist()
    return ids


def _letters(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_until_caught_up_loads_the_good_events_and_dead_letters_the_bad(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(3000, bad_every=50)
    produce(kafka_bootstrap, topic, messages)
    store = _store(tmp_path / "store")
    ingester = StreamIngester(
        store, kafka_bootstrap, parse_topics(f"{topic}:tx"), dead_letter_path=tmp_path / "dead.jsonl"
    )
    stats = ingester.run(until_caught_up=True)
    assert stats.caught_up
    assert (stats.messages, stats.rows, stats.dead_letters) == (3000, len(good), len(bad))
    assert sorted(_ids(store)) == good
    rows = {r["id"]: r for r in store.scan("tx").to_pylist()}
    for i in (0, 1, 2999):
        if i in rows:
            expected = event_row(i)
            assert int(rows[i]["ts"].timestamp() * 1000) == expected["ts"]
            assert rows[i]["user"] == expected["user"] and rows[i]["amount"] == expected["amount"]
    letters = _letters(tmp_path / "dead.jsonl")
    assert Counter((d["value"], d["reason"]) for d in letters) == Counter((v.decode(), r) for v, r in bad)
    assert all(d["topic"] == topic and d["error"] for d in letters)
    assert store.dead_letters() == letters
    # Run again: nothing new, nothing twice.
    again = ingester.run(until_caught_up=True)
    assert (again.messages, again.rows) == (0, 0)
    store.close()


def _topic_values(bootstrap: str, topic: str) -> list[tuple[bytes, dict[str, object]]]:
    """Every message of ``topic``'s partition 0: (key, JSON value)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader", "enable.auto.commit": False})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        consumer.assign([TopicPartition(topic, 0, 0)])
        found: list[tuple[bytes, dict[str, object]]] = []
        while len(found) < high:
            m = consumer.poll(5)
            assert m is not None, f"{topic}: {len(found)} of {high} messages read"
            key, value = m.key(), m.value()
            if m.error() is None and key is not None and value is not None:
                found.append((key, json.loads(value)))
        return found
    finally:
        consumer.close()


def test_dead_letter_topic_mirrors_the_store_exactly_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    dead = f"{topic}_dead"
    first, _, bad_first = events(1000, bad_every=50)
    produce(kafka_bootstrap, topic, first)
    store = _store(tmp_path / "store")
    # A first run without the topic: the store records 20 dead letters.
    StreamIngester(store, kafka_bootstrap, parse_topics(f"{topic}:tx")).run(until_caught_up=True)
    assert len(store.dead_letters()) == len(bad_first) == 20
    more, _, bad_more = events(600, bad_every=30)
    produce(kafka_bootstrap, topic, [(i + 1000, v) for i, v in more])
    ingester = StreamIngester(store, kafka_bootstrap, parse_topics(f"{topic}:tx"), dead_letter_topic=dead)
    stats = ingester.run(until_caught_up=True)
    assert stats.dead_letters == len(bad_more) == 20
    # The topic (created with one partition) holds the store's dead letters, the earlier ones first, each once.
    published = _topic_values(kafka_bootstrap, dead)
    assert [v for _, v in published] == store.dead_letters()
    assert published[0][0] == f"{topic}[{published[0][1]['partition']}]@{published[0][1]['offset']}".encode()
    # Nothing new: nothing is published again.
    ingester.run(until_caught_up=True)
    assert len(_topic_values(kafka_bootstrap, dead)) == 40
    # The topic of another stream is refused.
    other = _store(tmp_path / "other")
    other_topic = new_topic(kafka_bootstrap)
    produce(kafka_bootstrap, other_topic, events(100, bad_every=10)[0])
    with pytest.raises(DataError, match="belongs to another store or stream"):
        StreamIngester(other, kafka_bootstrap, parse_topics(f"{other_topic}:tx"), dead_letter_topic=dead).run(
            until_caught_up=True
        )
    with pytest.raises(DataError, match="also a topic to consume"):
        StreamIngester(other, kafka_bootstrap, parse_topics(f"{other_topic}:tx"), dead_letter_topic=other_topic)
    store.close()
    other.close()


def test_workspace_micro_batches_exactly_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(3000, bad_every=50)
    produce(kafka_bootstrap, topic, messages)
    store = _store(tmp_path / "store")
    workspace = Workspace.open(tmp_path / "ws")
    ingester = StreamIngester(
        store,
        kafka_bootstrap,
        parse_topics(f"{topic}:tx"),
        workspace=workspace,
        workspace_every_rows=1000,
        max_batch=500,
    )
    stats = ingester.run(until_caught_up=True)
    assert (stats.rows, stats.workspace_rows) == (len(good), len(good))
    assert sorted(workspace.read_table("tx").column("id").to_pylist()) == good == sorted(_ids(store))
    versions = workspace.versions("tx")
    # Batches hold at most 500 rows, so the first version commits at 1,000 to 1,499 rows and the rest (at least
    # 1,441) make at least one more: how many more depends on how the broker's polls split the topic.
    assert len(versions) == stats.workspace_versions >= 2
    positions = versions[-1].lineage["stream"]["positions"]
    assert positions == {f"{t}[{p}]": o for (t, p), o in store.stream_positions().items()}
    # Nothing new: no new version.
    assert ingester.run(until_caught_up=True).workspace_versions == 0
    assert len(workspace.versions("tx")) == len(versions)
    # A workspace behind the store (added later, or a crash between a store frame and a workspace commit): the
    # workspace gets every message it lacks, the store none twice.
    behind = Workspace.open(tmp_path / "ws2")
    late = StreamIngester(store, kafka_bootstrap, parse_topics(f"{topic}:tx"), workspace=behind)
    again = late.run(until_caught_up=True)
    assert (again.rows, again.dead_letters, again.workspace_rows) == (0, 0, len(good))
    assert sorted(behind.read_table("tx").column("id").to_pylist()) == good == sorted(_ids(store))
    assert len(store.dead_letters()) == len(bad)
    store.close()


def test_too_many_bad_messages_stop_with_a_clear_error(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap, partitions=1)
    messages, _, _ = events(200, bad_every=4)
    produce(kafka_bootstrap, topic, messages, partitions=1)
    store = _store(tmp_path / "store")
    ingester = StreamIngester(store, kafka_bootstrap, parse_topics(f"{topic}:tx"), max_bad_ratio=0.1)
    with pytest.raises(StreamIngestError, match=r"50 of 200 messages read were bad \(25.0%"):
        ingester.run(until_caught_up=True)
    store.close()


def test_online_features_after_a_streaming_load_equal_the_batch_engine(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, _ = events(2000, bad_every=0)
    produce(kafka_bootstrap, topic, messages)
    store = _store(tmp_path / "store")
    StreamIngester(store, kafka_bootstrap, parse_topics(f"{topic}:tx")).run(until_caught_up=True)
    store.deploy("f", FEATURES)
    store.log_requests(1.0)
    # Requests newer than every stored event, for every user: each sees its user's last hour of streamed rows.
    probes = [{"id": 10_000 + u, "user": f"u{u}", "amount": 1.0, "ts": BASE_MS + 2000 * 1000 + u} for u in range(37)]
    online = store.request("f", probes).to_pylist()
    schema = pa.schema([("id", pa.int64()), ("user", pa.string()), ("amount", pa.float64()), ("ts", pa.int64())])
    everything = pa.Table.from_pylist([event_row(i) for i in good] + probes, schema=schema)
    everything = everything.set_column(3, "ts", everything.column("ts").cast(pa.timestamp("ms")))
    batch = openfeat_core.compute(FEATURES, {"tx": everything}).to_pylist()
    expected = [r for r in batch if r["id"] >= 10_000]
    assert sorted(online, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    # And the store's own online/offline check of the logged requests agrees.
    report = store.verify("f")
    assert report.consistent and report.to_dict()["rows"] == len(probes)
    store.close()


def test_tables_created_from_the_envelope_schema(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap, partitions=1)
    schema = {
        "type": "struct",
        "fields": [
            {"field": "id", "type": "int64"},
            {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
        ],
    }
    envelopes = [json.dumps({"schema": schema, "payload": {"id": i, "ts": BASE_MS + i}}).encode() for i in range(50)]
    # A plain message first: no schema to create the table from, so a dead letter; then the envelopes.
    produce(kafka_bootstrap, topic, [(0, b'{"id": -1}'), *((0, v) for v in envelopes)], partitions=1)
    store = OnlineStore(tmp_path / "store")
    ingester = StreamIngester(store, kafka_bootstrap, parse_topics(topic), create_tables=True)
    stats = ingester.run(until_caught_up=True)
    assert (stats.rows, stats.dead_letters) == (50, 1)
    assert store.dead_letters()[0]["reason"] == "no_table"
    assert store.describe_table(topic)["schema"] == [("id", "bigint"), ("ts", "timestamp")]
    assert store.scan(topic).column("id").to_pylist() == list(range(50))
    store.close()


def test_the_task_api_until_caught_up(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(500, bad_every=100)
    produce(kafka_bootstrap, topic, messages)
    _store(tmp_path / "store").close()
    request = IngestStreamRequest(tmp_path / "store", kafka_bootstrap, f"{topic}:tx", until_caught_up=True)
    try:
        result = ingest_stream(request)
        assert (result.rows, result.dead_letters, result.caught_up) == (len(good), len(bad), True)
        assert result.to_dict()["task"] == "ingest-stream"
    finally:
        close_embedded_store(tmp_path / "store")


def _consumer_command(
    store: Path, bootstrap: str, topic: str, dead: Path, *, until_caught_up: bool, workspace: Path | None = None
) -> list[str]:
    command = [
        sys.executable, "-m", "openfeat_core.cli", "ingest-stream", "--store", str(store), "--bootstrap", bootstrap,
        "--topics", f"{topic}:tx", "--dead-letters", str(dead), "--max-bad-ratio", "0.5", "--json",
    ]  # fmt: skip
    if workspace is not None:
        # Versions mid-run too (a run gets 1,500 messages), so that kills fall between them.
        command += ["--workspace", str(workspace), "--workspace-every-rows", "700"]
    return [*command, "--until-caught-up"] if until_caught_up else command


def _committed(watcher: object, topic: str) -> int:
    """Messages the consumer has stored so far, as the offsets it publishes for lag tooling tell."""
    from confluent_kafka import TopicPartition

    partitions = [TopicPartition(topic, p) for p in range(3)]
    return sum(max(tp.offset, 0) for tp in watcher.committed(partitions, timeout=10))  # type: ignore[attr-defined]


def test_sigkill_at_random_moments_neither_loses_nor_repeats(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The consumer process is SIGKILLed 20 times while it consumes 30,000 events with bad ones mixed in; then a
    last run catches up. The store and the workspace table hold every good event exactly once, the dead-letter file
    every bad one."""
    from confluent_kafka import Consumer

    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(30_000, bad_every=97)
    store_dir, dead, ws = tmp_path / "store", tmp_path / "dead.jsonl", tmp_path / "ws"
    _store(store_dir).close()
    watcher = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "openfeat-ingest"})
    # One producer for every message of the test (a new one costs a client start and a producer-id round trip).
    producer = new_producer(kafka_bootstrap)
    rng = random.Random(16)
    kills = 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The paced rest of the last run's messages: it goes on arriving while the next run starts, which takes longer
    # than the pacing has left, instead of being waited for after each kill.
    paced: threading.Thread | None = None
    for attempt in range(20):
        # Each run gets the next 1,500 messages: the first 100 before it starts, the rest paced while it consumes
        # (and while the next run starts).
        chunk = messages[attempt * 1500 : (attempt + 1) * 1500]
        starting = attempt % 5 == 4
        if starting and paced is not None:
            paced.join()  # a kill while the process starts is timed from its start: nothing may delay it
            paced = None
        produce(kafka_bootstrap, topic, chunk[:100], producer=producer)
        before = _committed(watcher, topic)
        process = subprocess.Popen(
            _consumer_command(store_dir, kafka_bootstrap, topic, dead, until_caught_up=False, workspace=ws),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        if starting:
            time.sleep(rng.uniform(0.05, 1.5))  # while it starts: opening the store, assigning, seeking
            produce(kafka_bootstrap, topic, chunk[100:], producer=producer)
        else:
            if paced is not None:
                paced.join()
            # Mid-stream: once it has stored the first messages, at a random moment of the paced rest.
            deadline = time.monotonic() + 30
            while _committed(watcher, topic) == before and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            pacing = {"pace": 0.05, "chunk": 100, "producer": producer}
            paced = threading.Thread(target=produce, args=(kafka_bootstrap, topic, chunk[100:]), kwargs=pacing)
            paced.start()
            # Right after a batch was stored (the next one is being written then) or anywhere in the rest.
            time.sleep(rng.uniform(0.0, 0.05) if attempt % 2 else rng.uniform(0.0, 0.7))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()
    if paced is not None:
        paced.join()  # every message is in the topic before the last run catches up
    watcher.close()
    final = subprocess.run(
        _consumer_command(store_dir, kafka_bootstrap, topic, dead, until_caught_up=True, workspace=ws),
        capture_output=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr.decode()
    assert kills == 20
    store = OnlineStore(store_dir)
    ids = _ids(store)
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicate rows"
    assert sorted(ids) == good
    letters = _letters(dead)
    assert len(letters) == len({(d["partition"], d["offset"]) for d in letters}), "a dead letter was repeated"
    assert Counter(d["value"] for d in letters) == Counter(v.decode() for v, _ in bad)
    assert store.dead_letters() == letters
    store.close()
    appended = Workspace.open(ws).read_table("tx").column("id").to_pylist()
    assert len(appended) == len(set(appended)), f"{len(appended) - len(set(appended))} duplicate workspace rows"
    assert sorted(appended) == good


def test_sigterm_stops_after_the_current_batch(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, _ = events(1000, bad_every=0)
    produce(kafka_bootstrap, topic, messages)
    store_dir = tmp_path / "store"
    _store(store_dir).close()
    process = subprocess.Popen(
        _consumer_command(store_dir, kafka_bootstrap, topic, tmp_path / "dead.jsonl", until_caught_up=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait until it consumed everything (the offsets it publishes for lag tooling say so), then ask it to stop.
    from confluent_kafka import Consumer, TopicPartition

    watcher = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "openfeat-ingest"})
    partitions = [TopicPartition(topic, p) for p in range(3)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        committed = watcher.committed(partitions, timeout=10)
        if sum(max(tp.offset, 0) for tp in committed) == len(messages):
            break
        time.sleep(0.2)
    watcher.close()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["task"] == "ingest-stream" and result["caught_up"] is False
    assert result["rows"] == len(good)
    store = OnlineStore(store_dir)
    assert sorted(_ids(store)) == good
    store.close()


def test_broker_restart_mid_stream(kafka_broker: KafkaBroker | None, tmp_path: Path) -> None:
    if kafka_broker is None:
        pytest.skip("restarts only a broker this session started (OPENFEAT_KAFKA_BOOTSTRAP is set)")
    bootstrap = kafka_broker.bootstrap
    topic = new_topic(bootstrap)
    messages, good, _ = events(4000, bad_every=0)
    produce(bootstrap, topic, messages[:2000])
    store = _store(tmp_path / "store")
    stop = threading.Event()
    ingester = StreamIngester(store, bootstrap, parse_topics(f"{topic}:tx"))
    outcome: list[object] = []
    runner = threading.Thread(target=lambda: outcome.append(ingester.run(stop=stop)))
    runner.start()
    deadline = time.monotonic() + 60
    while store.table_stats()["tx"]["inserted"] < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
    kafka_broker.restart()
    produce(bootstrap, topic, messages[2000:])
    deadline = time.monotonic() + 120
    while store.table_stats()["tx"]["inserted"] < 4000 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    runner.join(timeout=60)
    assert sorted(_ids(store)) == good
    store.close()


def test_serve_consumes_beside_the_service(kafka_bootstrap: str, tmp_path: Path) -> None:
    """``openfeat serve --ingest-topics``: the service answers while its store (and its workspace) take the stream,
    exactly once."""
    import urllib.request

    from kafka_broker import free_port

    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(3000, bad_every=100)
    store_dir = tmp_path / "store"
    store = _store(store_dir)
    store.deploy("f", FEATURES)
    store.close()
    port = free_port()
    command = [
        sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port),
        "--no-token", "--ingest-bootstrap", kafka_bootstrap, "--ingest-topics", f"{topic}:tx",
        "--ingest-dead-letters", str(tmp_path / "dead.jsonl"), "--workspace", str(tmp_path / "ws"),
        "--ingest-workspace",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        produce(kafka_bootstrap, topic, messages)
        deadline = time.monotonic() + 60
        stored = ""
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    text = response.read().decode()
            except OSError:
                continue
            gauge = 'openfeat_table_rows{table="tx"}'
            stored = next((line for line in text.splitlines() if line.startswith(gauge)), "")
            if stored.endswith(f" {len(good)}"):
                break
        assert stored.endswith(f" {len(good)}"), stored
        assert f"openfeat_stream_dead_letters_total {len(bad)}" in text.splitlines()
        positions = [line for line in text.splitlines() if line.startswith("openfeat_stream_position{")]
        assert sum(int(line.rsplit(" ", 1)[1]) for line in positions) == len(messages)
        body = json.dumps({"input": [{"id": -1, "user": "u1", "amount": 1.0, "ts": BASE_MS + 10_000_000}]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/dbs/demo_db/deployments/f", body, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["code"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    reopened = OnlineStore(store_dir)
    assert sorted(_ids(reopened)) == good
    assert len(reopened.dead_letters()) == len(bad) == len(_letters(tmp_path / "dead.jsonl"))
    reopened.close()
    # The rows gathered for the workspace were appended when the service stopped.
    assert sorted(Workspace.open(tmp_path / "ws").read_table("tx").column("id").to_pylist()) == good
