"""``monitor`` tracked in MLflow (a ``sqlite:///`` tracking URI): its own run holds the decision and the PSI per
feature, and the deployment's run gets them as ``monitor.*`` metrics, one step per monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from monitor_scenario import DEPLOYMENT, FEATURE, SCHEMA, SQL, transactions

import mlflow_hooks
from openfeat_core import OnlineStore, tasks
from openfeat_core.tasks import hooks as hook_registry


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A fresh MLflow hook as the only hook, tracking to a SQLite store; yields its URI."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "OPENFEAT_TRACK", "OPENFEAT_MLFLOW_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setattr(hook_registry, "_discovered", [mlflow_hooks.MlflowTrackingHook()])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_hooks.configure(track=True, tracking_uri=uri, experiment="monitoring")
    yield uri
    mlflow_hooks.reset()
    tasks.close_embedded_stores()


def test_monitor_runs_report_to_the_deployment_run(tracked: str, tmp_path: Path) -> None:
    store_dir, training = tmp_path / "store", tmp_path / "train.parquet"
    created = OnlineStore(store_dir)
    created.create_table("tx", SCHEMA)  # the table the script reads
    created.close()
    pq.write_table(transactions(1000, 50.0, seed=1), training)
    tasks.deploy(tasks.DeployRequest(DEPLOYMENT, SQL, store=store_dir, reference=training, log_requests=1.0))
    store = tasks.embedded_store(store_dir)
    request = tasks.MonitorRequest(DEPLOYMENT, store=store_dir, features=[FEATURE], consistency_requests=1)
    store.request(DEPLOYMENT, transactions(150, 50.0, seed=2))
    quiet = tasks.monitor(request)
    store.request(DEPLOYMENT, transactions(600, 120.0, seed=3))
    drifted = tasks.monitor(request)
    assert quiet.retrain is False and drifted.retrain is True

    client = MlflowClient(tracked)
    experiment = client.get_experiment_by_name("monitoring")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`openfeat.task` = 'monitor'")
    last = next(r for r in runs if r.info.run_id and r.data.tags["openfeat.retrain"] == "true")
    assert last.data.metrics["retrain"] == 1.0 and last.data.metrics[f"psi.{FEATURE}"] > 0.25
    assert last.data.metrics["rows"] == 750.0 and last.data.params["threshold.psi"] == "0.25"
    (deployed,) = client.search_runs([experiment.experiment_id], "tags.`openfeat.task` = 'deploy'")
    assert deployed.data.tags["openfeat.deployment"] == DEPLOYMENT
    assert deployed.data.tags["openfeat.last_monitor_run_id"] == last.info.run_id
    history = client.get_metric_history(deployed.info.run_id, "monitor.retrain")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 0.0), (1, 1.0)]
