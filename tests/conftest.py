"""Fixtures shared by the test suites."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stream.kafka_broker import KafkaBroker
    from unit.s3_server import S3Endpoint

#: Seconds each Kafka broker of this session took to start, for the terminal summary.
_KAFKA_STARTED: list[float] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _KAFKA_STARTED:
        terminalreporter.write_line(
            f"Apache Kafka broker (KRaft, tests/stream/kafka_broker.py): ready in {seconds:.1f} s"
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    """A real S3-compatible server (moto server mode) on 127.0.0.1 with an empty bucket, for the whole session."""
    # Imported here so that sessions without S3 tests do not pay for importing moto and boto3.
    from unit.s3_server import running_s3_server

    with running_s3_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def _no_tracking_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task runs in tests are not tracked in whatever MLflow the developer's shell points at (MLFLOW_TRACKING_URI);
    the MLflow tests switch tracking on themselves."""
    monkeypatch.setenv("OPENFEAT_TRACK", "0")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker | None]:
    """A real Apache Kafka broker (KRaft, tests/stream/kafka_broker.py) for the session, shared by the streaming
    tests and the orchestrator suites' ingest-stream tests; ``None`` with ``OPENFEAT_KAFKA_BOOTSTRAP=host:port``
    (the tests use that existing broker instead).

    Without confluent-kafka (the ``kafka`` extra) the tests that need a broker skip; without java or mvn, or when
    Maven Central is unreachable, the broker cannot be had and they skip too.
    """
    if importlib.util.find_spec("confluent_kafka") is None:
        pytest.skip("confluent-kafka is not installed (pip install 'openfeat[kafka]')")
    if os.environ.get("OPENFEAT_KAFKA_BOOTSTRAP"):
        yield None
        return
    from stream.kafka_broker import KafkaBroker, KafkaUnavailable

    broker = KafkaBroker()
    began = time.monotonic()
    try:
        broker.start()
    except KafkaUnavailable as exc:
        broker.close()
        pytest.skip(str(exc))
    except BaseException:
        broker.close()  # its temporary directory, and the process if it started
        raise
    _KAFKA_STARTED.append(time.monotonic() - began)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """``host:port`` of the broker the tests use."""
    return kafka_broker.bootstrap if kafka_broker is not None else os.environ["OPENFEAT_KAFKA_BOOTSTRAP"]
