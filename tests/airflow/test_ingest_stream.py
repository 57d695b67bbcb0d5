"""The ingest-stream operator against a real Apache Kafka broker (the session's, ``tests/conftest.py``): events with
bad ones mixed in are consumed into an embedded store until caught up; a rerun goes on from the stored positions.

As in test_operators.py, each test renders the operator's templates as Airflow does, then calls ``execute()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from stream.streamdata import TX_SCHEMA, events, new_topic, produce

from airflow_provider.compat import DAG, AirflowFailException, AirflowTaskTerminated
from airflow_provider.exceptions import OpenFeatArgumentError, OpenFeatTaskFailed
from airflow_provider.operators.openfeat import OpenFeatIngestStreamOperator
from openfeat_core import tasks
from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming import StreamIngestError
from openfeat_core.workspace import Workspace


def _dag(tmp_path: Path, **params: Any) -> DAG:
    return DAG("test_openfeat_stream", schedule=None, start_date=datetime(2024, 1, 1), params=params)


def _run(operator: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Render the operator's templates, then execute it: what Airflow's task runner does."""
    operator.render_template_fields(context)
    result = operator.execute(context)
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # the XCom is strict JSON
    return result


@pytest.fixture
def stream(kafka_bootstrap: str, store_dir: Path) -> tuple[str, list[int], list[tuple[bytes, str]]]:
    """A fresh topic holding 600 events, every 50th bad, and a store with the empty table ``tx``: ``(topic, ids of
    the good events, the bad values with their reasons)``."""
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(600, bad_every=50)
    produce(kafka_bootstrap, topic, messages)
    store = OnlineStore(store_dir)
    store.create_table("tx", TX_SCHEMA)
    store.close()
    return topic, good, bad


def test_ingest_stream_until_caught_up_stores_the_good_events_and_dead_letters_the_bad(
    tmp_path: Path,
    kafka_bootstrap: str,
    connection: dict[str, Any],
    make_context: Any,
    store_dir: Path,
    stream: tuple[str, list[int], list[tuple[bytes, str]]],
) -> None:
    topic, good, bad = stream
    dead = tmp_path / "dead.jsonl"
    with _dag(tmp_path, topic=topic, bootstrap=kafka_bootstrap):
        op = OpenFeatIngestStreamOperator(
            task_id="stream",
            bootstrap="{{ params.bootstrap }}",
            topics="{{ params.topic }}:tx",
            dead_letters=str(dead),
            dead_letter_topic="{{ params.topic }}_dead",
            workspace=str(tmp_path / "ws"),
            max_bad_ratio="0.5",  # a number rendered as text is read as a number
        )
    first = _run(op, make_context(op))  # the store is the connection's
    assert (first["task"], first["messages"], first["rows"], first["dead_letters"], first["caught_up"]) == (
        "ingest-stream",
        600,
        len(good),
        len(bad),
        True,
    )
    assert first["topics"] == [{"topic": topic, "table": "tx"}] and first["store"] == str(store_dir)
    assert sum(first["positions"].values()) == 600
    assert len(first["parent_run_id"]) == 32  # one id per DAG run, as the other operators report

    # The operator closed the store: it opens here.
    store = OnlineStore(store_dir)
    assert sorted(store.scan("tx").column("id").to_pylist()) == good
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert sorted((d["value"], d["reason"]) for d in letters) == sorted((v.decode(), r) for v, r in bad)
    assert store.dead_letters() == letters
    store.close()
    # The rows were appended to the workspace table too (one version at the end of the run).
    assert first["dead_letter_topic"] == f"{topic}_dead"
    assert first["workspace_rows"] == len(good) and first["workspace_versions"] == 1
    assert sorted(Workspace.open(tmp_path / "ws").read_table("tx").column("id").to_pylist()) == good

    # The next run goes on from the stored positions: nothing is stored twice.
    again = _run(op, make_context(op, run_id="scheduled__2024-01-02"))
    assert (again["messages"], again["rows"], again["dead_letters"], again["caught_up"]) == (0, 0, 0, True)
    assert again["positions"] == first["positions"]


def test_too_many_bad_messages_fail_without_retry(
    tmp_path: Path,
    kafka_bootstrap: str,
    connection: dict[str, Any],
    make_context: Any,
    stream: tuple[str, list[int], list[tuple[bytes, str]]],
) -> None:
    topic, _, bad = stream
    with _dag(tmp_path):
        op = OpenFeatIngestStreamOperator(
            task_id="stream", bootstrap=kafka_bootstrap, topics=[f"{topic}:tx"], max_bad_ratio=0.01
        )
    with pytest.raises(OpenFeatTaskFailed, match=rf"{len(bad)} of 600 messages read were bad") as caught:
        _run(op, make_context(op))
    assert isinstance(caught.value.__cause__, StreamIngestError)  # terminal (a DATA error): not retried


class _KillOnStart(tasks.BaseTaskHook):
    """Calls the operator's ``on_kill`` as the task starts: what Airflow's SIGTERM handler does while it runs."""

    def __init__(self, operator: OpenFeatIngestStreamOperator) -> None:
        self.operator = operator

    def before_task(self, **future: Any) -> None:
        self.operator.on_kill()


@pytest.fixture
def kill_on_start() -> Iterator[list[_KillOnStart]]:
    hooks: list[_KillOnStart] = []
    yield hooks
    for hook in hooks:
        tasks.unregister_hook(hook)


def test_on_kill_stops_after_the_batch_under_way_and_fails_the_task(
    tmp_path: Path,
    kafka_bootstrap: str,
    connection: dict[str, Any],
    make_context: Any,
    store_dir: Path,
    stream: tuple[str, list[int], list[tuple[bytes, str]]],
    kill_on_start: list[_KillOnStart],
) -> None:
    topic, good, _ = stream
    with _dag(tmp_path):
        op = OpenFeatIngestStreamOperator(
            task_id="stream", bootstrap=kafka_bootstrap, topics=f"{topic}:tx", max_bad_ratio=0.5
        )
    kill_on_start.append(tasks.register_hook(_KillOnStart(op)))
    with pytest.raises(AirflowTaskTerminated, match="OpenFeat ingest-stream task 'stream' was killed"):
        _run(op, make_context(op))
    tasks.unregister_hook(kill_on_start.pop())
    op.on_kill()  # no task runs: nothing to stop, no error
    # The store was released, and a rerun consumes everything exactly once.
    result = _run(op, make_context(op))
    assert (result["rows"], result["caught_up"]) == (len(good), True)
    store = OnlineStore(store_dir)
    assert sorted(store.scan("tx").column("id").to_pylist()) == good
    store.close()


@pytest.mark.parametrize(
    ("kwargs", "argument", "problem"),
    [
        ({"topics": ""}, "topics", "must be a list of strings"),
        ({"bootstrap": " "}, "bootstrap", "is required"),
        ({"message_format": "avro"}, "message_format", "must be one of 'json', 'envelope', 'auto', got 'avro'"),
        ({"max_bad_ratio": "2"}, "max_bad_ratio", "must be between 0 and 1, got 2"),
        ({"consumer_config": "[1]"}, "consumer_config", "must be a mapping with string keys"),
        ({"create_tables": "maybe"}, "create_tables", "must be true or false"),
    ],
)
def test_bad_arguments_fail_naming_the_argument(
    tmp_path: Path,
    connection: dict[str, Any],
    make_context: Any,
    kwargs: dict[str, Any],
    argument: str,
    problem: str,
) -> None:
    with _dag(tmp_path):
        op = OpenFeatIngestStreamOperator(task_id="stream", **{"bootstrap": "127.0.0.1:9", "topics": "tx", **kwargs})
    with pytest.raises(OpenFeatArgumentError) as caught:
        _run(op, make_context(op))
    message = str(caught.value)
    assert message.startswith(f"OpenFeatIngestStreamOperator(task_id='stream'): argument {argument!r} "), message
    assert problem in message
    assert isinstance(caught.value, AirflowFailException)  # not retried


def test_a_store_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_context: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENFEAT_DEFAULT", json.dumps({"conn_type": "openfeat", "host": "http://h:1"}))
    with _dag(tmp_path):
        op = OpenFeatIngestStreamOperator(task_id="stream", bootstrap="127.0.0.1:9", topics="tx")
    with pytest.raises(OpenFeatArgumentError) as caught:
        _run(op, make_context(op))
    assert "argument 'store' is required: pass store=... or set the extra 'store'" in str(caught.value)
