"""The ingest_stream component run for real in kfp.local (SubprocessRunner) against a real Apache Kafka broker (the
session's, ``tests/conftest.py``): events with bad ones mixed in are consumed into an embedded store until caught
up, and a second run goes on from the stored positions."""

import json
from pathlib import Path

import pytest
from stream.streamdata import TX_SCHEMA, events, new_topic, produce

from kubeflow_components import ingest_stream
from openfeat_core.online.store import OnlineStore
from openfeat_core.workspace import Workspace


def _store_with_tx(path: Path) -> None:
    store = OnlineStore(path)
    store.create_table("tx", TX_SCHEMA)
    store.close()


def test_ingest_stream_until_caught_up_then_again(local_kfp: Path, kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic(kafka_bootstrap)
    messages, good, bad = events(600, bad_every=50)
    produce(kafka_bootstrap, topic, messages)
    store_dir = tmp_path / "store"
    _store_with_tx(store_dir)
    dead = tmp_path / "dead.jsonl"

    task = ingest_stream(
        store=str(store_dir),
        bootstrap=kafka_bootstrap,
        topics=f"{topic}:tx",
        dead_letters=str(dead),
        dead_letter_topic=f"{topic}_dead",
        workspace=str(tmp_path / "ws"),
    )
    result = task.outputs["Output"]
    assert (result["task"], result["messages"], result["rows"], result["dead_letters"], result["caught_up"]) == (
        "ingest-stream",
        600,
        len(good),
        len(bad),
        True,
    )
    metrics = task.outputs["metrics"].metadata
    assert (metrics["messages"], metrics["rows"], metrics["dead_letters"]) == (600, len(good), len(bad))

    store = OnlineStore(store_dir)  # the component closed it
    assert sorted(store.scan("tx").column("id").to_pylist()) == good
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert sorted((d["value"], d["reason"]) for d in letters) == sorted((v.decode(), r) for v, r in bad)
    assert store.dead_letters() == letters
    store.close()
    # Also into the workspace table of the same name, and the dead letters to their topic.
    assert result["dead_letter_topic"] == f"{topic}_dead" and result["workspace_rows"] == len(good)
    assert sorted(Workspace.open(tmp_path / "ws").read_table("tx").column("id").to_pylist()) == good

    again = ingest_stream(store=str(store_dir), bootstrap=kafka_bootstrap, topics=f"{topic}:tx").outputs["Output"]
    assert (again["messages"], again["rows"], again["caught_up"]) == (0, 0, True)
    assert again["positions"] == result["positions"]


def test_too_many_bad_messages_fail_the_task_as_terminal(
    local_kfp: Path, kafka_bootstrap: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    topic = new_topic(kafka_bootstrap, partitions=1)
    messages, _, _ = events(100, bad_every=4)
    produce(kafka_bootstrap, topic, messages, partitions=1)
    _store_with_tx(tmp_path / "store")
    with pytest.raises(RuntimeError):
        ingest_stream(store=str(tmp_path / "store"), bootstrap=kafka_bootstrap, topics=f"{topic}:tx")
    log = capfd.readouterr()
    text = log.out + log.err
    assert "OpenFeat ingest-stream failed, terminal: StreamIngestError: 25 of 100 messages read were bad" in text
