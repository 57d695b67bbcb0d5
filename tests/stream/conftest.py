"""Streaming tests: a real Apache Kafka broker for the session (tests/stream/kafka_broker.py).

``OPENFEAT_KAFKA_BOOTSTRAP=host:port`` runs the same tests against an existing broker instead (the broker-restart
test then skips: it restarts only a broker it started). Without confluent-kafka (the ``kafka`` extra) the broker
tests skip; without java or mvn, or when Maven Central is unreachable, the broker cannot be had and they skip too.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kafka_broker import KafkaBroker

_STARTED: list[float] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _STARTED:
        terminalreporter.write_line(f"Apache Kafka broker (KRaft, tests/stream): ready in {seconds:.1f} s")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker | None]:
    """The broker this session started (``None`` with ``OPENFEAT_KAFKA_BOOTSTRAP``: an existing broker)."""
    if importlib.util.find_spec("confluent_kafka") is None:
        pytest.skip("confluent-kafka is not installed (pip install 'openfeat[kafka]')")
    if os.environ.get("OPENFEAT_KAFKA_BOOTSTRAP"):
        yield None
        return
    import time

    from kafka_broker import KafkaBroker, KafkaUnavailable

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
    _STARTED.append(time.monotonic() - began)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """``host:port`` of the broker the tests use."""
    return kafka_broker.bootstrap if kafka_broker is not None else os.environ["OPENFEAT_KAFKA_BOOTSTRAP"]
