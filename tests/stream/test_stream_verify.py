"""Online/offline ``verify`` after a streaming load (issue 16, item 6), against a real Apache Kafka broker.

A durable store with a deployment takes a stream (events with bad ones mixed in), either from the ingest-stream task
run until caught up (what an orchestrator's task does) or from the consumer inside ``openfeat serve``. Then ``openfeat
serve`` answers feature requests over HTTP with the request log on, and the ``verify`` task recomputes every logged
request with the batch engine: 0 mismatches. Independently of the store's own check, the features served equal
``openfeat_core.compute`` over the same rows (the good events and the requests).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamdata import BASE_MS, FEATURES, TX_SCHEMA, event_row, events, new_topic, produce

import openfeat_core
from openfeat_core.online.store import OnlineStore
from openfeat_core.tasks import IngestStreamRequest, VerifyRequest, close_embedded_store, ingest_stream, verify

#: Events produced per test (every 40th bad): 1,950 rows over 37 users.
EVENTS = 2000
#: One request row per user, newer than every event: each sees its user's last hour of streamed rows.
PROBES = [{"id": 10_000 + u, "user": f"u{u}", "amount": 1.0, "ts": BASE_MS + EVENTS * 1000 + u} for u in range(37)]
#: Request rows per HTTP request (so several requests are logged and verified).
ROWS_PER_REQUEST = 8


def _http(url: str, payload: Any = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data, {"content-type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(store_dir, *options)``: a real ``openfeat serve`` on 127.0.0.1 logging every request, its base URL
    once ``/health`` answers; stopped with SIGTERM (a graceful stop, exit code 0) when the test ends."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(store_dir: Path, *options: str) -> str:
        port = _free_port()
        log = tmp_path / f"serve-{port}.log"
        command = [
            sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port),
            "--no-token", "--log-requests", "1.0", "--log-level", "warning", *options,
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        started.append((process, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"openfeat serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"openfeat serve did not answer /health: {log.read_text()}"
            try:
                _http(url + "/health")
                return url
            except OSError:
                time.sleep(0.1)

    yield start
    for process, log in started:
        process.terminate()
        process.wait(timeout=60)
        assert process.returncode == 0, log.read_text()


def _store_with_deployment(path: Path) -> None:
    store = OnlineStore(path)
    store.create_table("tx", TX_SCHEMA)
    store.deploy("f", FEATURES)
    store.close()


def _request_features(url: str) -> list[dict[str, Any]]:
    """Every probe row, sent over HTTP a few rows per request; the features served."""
    answered: list[dict[str, Any]] = []
    for start in range(0, len(PROBES), ROWS_PER_REQUEST):
        body = _http(f"{url}/dbs/demo_db/deployments/f", {"input": PROBES[start : start + ROWS_PER_REQUEST]})
        assert body["code"] == 0, body
        answered.extend(body["data"]["data"])
    return answered


def _batch_features(good: list[int]) -> list[dict[str, Any]]:
    """What the batch engine computes for the probe rows over the good events and the probes themselves."""
    schema = pa.schema([("id", pa.int64()), ("user", pa.string()), ("amount", pa.float64()), ("ts", pa.int64())])
    rows = pa.Table.from_pylist([event_row(i) for i in good] + PROBES, schema=schema)
    rows = rows.set_column(3, "ts", rows.column("ts").cast(pa.timestamp("ms")))
    return [r for r in openfeat_core.compute(FEATURES, {"tx": rows}).to_pylist() if r["id"] >= 10_000]


def _verify_passes(url: str) -> None:
    """The verify task over the service's logged requests: every one recomputed, 0 mismatches, nothing missing."""
    requests = -(-len(PROBES) // ROWS_PER_REQUEST)
    result = verify(VerifyRequest(name="f", url=url, min_requests=requests))
    assert (result.consistent, result.requests, result.rows, result.skipped) == (True, requests, len(PROBES), 0)
    assert [f["name"] for f in result.features] == ["id", "user", "total", "n", "biggest"]
    for feature in result.features:
        assert (feature["compared"], feature["mismatch_rate"], feature["missing_rate"]) == (len(PROBES), 0, 0)


def _by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["id"])


def test_verify_passes_after_the_ingest_stream_task(kafka_bootstrap: str, tmp_path: Path, serve: Any) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(EVENTS, bad_every=40)
    produce(kafka_bootstrap, topic, messages)
    store_dir = tmp_path / "store"
    _store_with_deployment(store_dir)
    request = IngestStreamRequest(store_dir, kafka_bootstrap, f"{topic}:tx", until_caught_up=True)
    try:
        loaded = ingest_stream(request)
    finally:
        close_embedded_store(store_dir)  # the task's store is released for the service, as an orchestrator does
    assert (loaded.rows, loaded.dead_letters, loaded.caught_up) == (len(good), len(bad), True)

    url = serve(store_dir)
    online = _request_features(url)
    _verify_passes(url)
    assert _by_id(online) == _by_id(_batch_features(good))


def test_verify_passes_after_the_service_consumed_the_stream(kafka_bootstrap: str, tmp_path: Path, serve: Any) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(EVENTS, bad_every=40)
    store_dir = tmp_path / "store"
    _store_with_deployment(store_dir)
    url = serve(store_dir, "--ingest-bootstrap", kafka_bootstrap, "--ingest-topics", f"{topic}:tx")
    produce(kafka_bootstrap, topic, messages)
    # Wait until the service's consumer stored every message (its positions, on /metrics, reach the topic's end).
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            text = response.read().decode()
        positions = [line for line in text.splitlines() if line.startswith("openfeat_stream_position{")]
        if sum(int(float(line.rsplit(" ", 1)[1])) for line in positions) == len(messages):
            break
        assert time.monotonic() < deadline, f"the service did not consume the stream: {positions}"
        time.sleep(0.2)
    assert f'openfeat_table_rows{{table="tx"}} {len(good)}' in text.splitlines()
    assert f"openfeat_stream_dead_letters_total {len(bad)}" in text.splitlines()

    online = _request_features(url)
    _verify_passes(url)
    assert _by_id(online) == _by_id(_batch_features(good))
