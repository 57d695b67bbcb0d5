"""The ingest-stream DolphinScheduler task: its definition (a Shell task always ``--until-caught-up``), its argument
checks, and its rendered script run as a worker runs it (test_runner.py's :class:`Worker`) against a real Apache Kafka
broker (the session's, ``tests/conftest.py``)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from pydolphinscheduler.core.workflow import Workflow
from stream.streamdata import TX_SCHEMA, events, new_topic, produce
from test_runner import Worker

from dolphin_tasks.tasks import OpenFeatIngestStream
from openfeat_core.online.store import OnlineStore
from openfeat_core.tasks.base import InvalidRequest


@pytest.fixture(autouse=True)
def task_codes() -> Iterator[None]:
    """DS's gateway hands out task codes; here a counter does (distinct codes, version 1)."""
    codes = itertools.count(1)
    with patch("pydolphinscheduler.core.task.Task.gen_code_and_version", side_effect=lambda: (next(codes), 1)):
        yield


@pytest.fixture
def worker(tmp_path: Path) -> Worker:
    return Worker(tmp_path / "worker")


def test_definition_is_always_until_caught_up() -> None:
    with Workflow("wf") as workflow:
        OpenFeatIngestStream(
            "stream tx",
            store="/srv/store",
            bootstrap="kafka:9092",
            topics=["tx", "clicks:events"],
            dead_letters="/srv/dead/${system.biz.date}.jsonl",
            dead_letter_topic="tx_dead",
            workspace="/srv/ws",
            max_bad_ratio="0.01",
            message_format="envelope",
            consumer_config={"security.protocol": "SSL", "enable.ssl.certificate.verification": False},
            create_tables=True,
        )
    [task] = workflow.get_define()["taskDefinitionJson"]
    assert task["taskType"] == "SHELL"
    exec_line = task["taskParams"]["rawScript"].splitlines()[-1]
    assert exec_line == (
        "exec openfeat-dolphinscheduler run ingest-stream --name 'stream tx' --output-prefix stream_tx -- "
        "--store /srv/store --bootstrap kafka:9092 --topics tx,clicks:events --until-caught-up "
        "--dead-letters '/srv/dead/${system.biz.date}.jsonl' --dead-letter-topic tx_dead --max-bad-ratio 0.01 "
        "--format envelope --kafka-option security.protocol=SSL "
        "--kafka-option enable.ssl.certificate.verification=false --create-tables --workspace /srv/ws"
    )
    assert [p["prop"] for p in task["taskParams"]["localParams"]] == [
        "stream_tx_messages",
        "stream_tx_rows",
        "stream_tx_dead_letters",
        "stream_tx_caught_up",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"message_format": "avro"}, "argument 'message_format' must be one of 'json', 'envelope', 'auto'"),
        ({"max_bad_ratio": 1.5}, "argument 'max_bad_ratio' must be between 0 and 1, got 1.5"),
        ({"topics": []}, "argument 'topics' must be a non-empty list"),
        ({"create_store": "${c}"}, "argument 'create_store' must be true or false"),
    ],
)
def test_bad_arguments_are_refused_when_the_workflow_is_defined(kwargs: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"store": "s", "bootstrap": "k:9092", "topics": "tx", **kwargs}
    with pytest.raises(InvalidRequest) as raised:
        OpenFeatIngestStream("x", **given)
    assert str(raised.value).startswith(f"OpenFeatIngestStream(name='x'): {message}")


def test_the_rendered_script_consumes_until_caught_up_then_goes_on_from_the_stored_positions(
    tmp_path: Path, worker: Worker, kafka_bootstrap: str
) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(600, bad_every=50)
    produce(kafka_bootstrap, topic, messages)
    store_dir = tmp_path / "store"
    store = OnlineStore(store_dir)
    store.create_table("tx", TX_SCHEMA)
    store.close()
    dead = tmp_path / "dead.jsonl"
    task = OpenFeatIngestStream(
        "stream tx", store=str(store_dir), bootstrap="${kafka}", topics=f"{topic}:tx", dead_letters=str(dead)
    )

    first = worker.run(task, 7, 70, {"kafka": kafka_bootstrap})
    assert first.returncode == 0, first.stderr
    assert first.out == {
        "stream_tx_messages": "600",
        "stream_tx_rows": str(len(good)),
        "stream_tx_dead_letters": str(len(bad)),
        "stream_tx_caught_up": "true",
    }
    store = OnlineStore(store_dir)
    assert sorted(store.scan("tx").column("id").to_pylist()) == good
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert sorted((d["value"], d["reason"]) for d in letters) == sorted((v.decode(), r) for v, r in bad)
    store.close()

    # The next workflow instance: nothing new, nothing twice.
    again = worker.run(task, 8, 80, {"kafka": kafka_bootstrap})
    assert again.returncode == 0, again.stderr
    assert again.out == {
        "stream_tx_messages": "0",
        "stream_tx_rows": "0",
        "stream_tx_dead_letters": "0",
        "stream_tx_caught_up": "true",
    }


def test_too_many_bad_messages_fail_terminally(tmp_path: Path, worker: Worker, kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, partitions=1)
    messages, _, _ = events(100, bad_every=4)
    produce(kafka_bootstrap, topic, messages, partitions=1)
    store = OnlineStore(tmp_path / "store")
    store.create_table("tx", TX_SCHEMA)
    store.close()
    task = OpenFeatIngestStream(
        "stream", store=str(tmp_path / "store"), bootstrap=kafka_bootstrap, topics=f"{topic}:tx"
    )
    failed = worker.run(task, 7, 70)
    assert failed.returncode == 1
    assert "25 of 100 messages read were bad" in failed.stderr
    assert "terminally: a retry fails the same way" in failed.stdout
    assert len(worker.markers) == 1  # a DS retry fails at once instead of consuming again
