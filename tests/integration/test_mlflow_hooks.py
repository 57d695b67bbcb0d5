"""MLflow tracking of task runs (mlflow_hooks), against real MLflow: a ``mlflow server`` on 127.0.0.1 (SQLite
backend, local artifact store) and a plain ``sqlite:///`` tracking URI.

The server is started once for the module, first thing, and the tests that do not need it run while it starts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from mlflow.tracking import MlflowClient

import mlflow_hooks
import openfeat_core
from mlflow_hooks import hook as tracking_hook
from mlflow_hooks.config import DEFAULT_EXPERIMENT, TrackingSettings, current_settings
from openfeat_core import tasks
from openfeat_core.monitoring import stats
from openfeat_core.tasks import hooks as hook_registry
from openfeat_core.workspace import Workspace

from .mlflow_server import MlflowServer, free_port, start_mlflow_server

pytestmark = [
    pytest.mark.integration,
    # MLflow's own deprecation warnings (SQLAlchemy, pandas), not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

SCHEMA = "card bigint, ts timestamp, amount double, merchant string"
SQL = (
    "SELECT card, ts, merchant, amount, sum(amount) OVER w AS total, count(amount) OVER w AS n, "
    "avg(amount) OVER w AS avg_amount, amount > 20 AS big FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW)"
)
ROWS = 2_000
# Environment variables that switch tracking on or shape it, or group runs: none may leak in from the caller.
_TRACKING_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "OPENFEAT_TRACK",
    "OPENFEAT_MLFLOW_EXPERIMENT",
    "OPENFEAT_MLFLOW_STRICT",
    "OPENFEAT_MLFLOW_TIMEOUT",
    "OPENFEAT_PARENT_RUN_ID",
    "OPENFEAT_PIPELINE_NAME",
    "AIRFLOW_CTX_DAG_ID",
    "AIRFLOW_CTX_DAG_RUN_ID",
    "AIRFLOW_CTX_TASK_ID",
    "AIRFLOW_CTX_TRY_NUMBER",
    "KFP_RUN_ID",
    "KFP_RUN_NAME",
    "KFP_POD_NAME",
    "DS_WORKFLOW_INSTANCE_ID",
    "DS_TASK_INSTANCE_ID",
    "DS_WORKFLOW_DEFINITION_NAME",
)


# =====================================================================================================================
# Fixtures
# =====================================================================================================================
@pytest.fixture(scope="module", autouse=True)
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """The module's tracking server: started before the first test, ready when a test first asks for it."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(mlflow_server: MlflowServer) -> MlflowServer:
    mlflow_server.wait_ready()
    return mlflow_server


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking store for the module (creating one runs MLflow's migrations: seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow-sqlite') / 'mlflow.db'}"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[mlflow_hooks.MlflowTrackingHook]:
    """A fresh hook as the only entry-point hook, with no tracking setting from the environment."""
    for name in _TRACKING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    fresh = mlflow_hooks.MlflowTrackingHook()
    monkeypatch.setattr(hook_registry, "_discovered", [fresh])
    yield fresh
    mlflow_hooks.reset()
    tasks.close_embedded_stores()


def _write_tx(path: Path, *, scale: float = 1.0, seed: int = 0) -> Path:
    """``ROWS`` card transactions, one a second, every 50th amount empty (NULL); ``scale`` multiplies amounts."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    merchants = ["grocer", "fuel", "travel", "online", "pharmacy"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["card", "ts", "amount", "merchant"])
        for i in range(ROWS):
            amount = "" if i % 50 == 49 else f"{rng.lognormal(2.5, 0.6) * scale:.2f}"
            merchant = merchants[int(rng.integers(0, len(merchants)))]
            writer.writerow([int(rng.integers(1, 21)), (start + timedelta(seconds=i)).isoformat(), amount, merchant])
    return path


def _runs(client: MlflowClient, experiment: str, where: str = "") -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return list(client.search_runs([found.experiment_id], where, order_by=["attributes.start_time ASC"]))


def _by_task(runs: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for run in runs:
        out.setdefault(run.data.tags.get("openfeat.task", "<pipeline>"), []).append(run)
    return out


def _text(client: MlflowClient, run_id: str, path: str, tmp_path: Path) -> str:
    local = client.download_artifacts(run_id, path, dst_path=str(tmp_path / run_id))
    return Path(local).read_text(encoding="utf-8")


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found.update(_artifacts(client, run_id, item.path) if item.is_dir else {item.path})
    return found


def _datasets(run: Any) -> dict[str, tuple[str, str]]:
    """name -> (context, digest) of a run's logged datasets."""
    return {
        d.dataset.name: (next(t.value for t in d.tags if t.key == "mlflow.data.context"), d.dataset.digest)
        for d in run.inputs.dataset_inputs
    }


# =====================================================================================================================
# The pipeline, tracked to a store
# =====================================================================================================================
@dataclass
class Pipeline:
    pipeline_id: str
    ingested: tasks.IngestResult
    computed: tasks.ComputeResult
    csv_export: tasks.ExportResult
    libsvm_export: tasks.ExportResult
    deployed: tasks.DeployResult
    verified: tasks.VerifyResult


def _pipeline(data: Path, ws: Path, out: Path, name: str) -> Pipeline:
    with mlflow_hooks.pipeline_run(name) as pipeline_id:
        ingested = tasks.ingest(tasks.IngestRequest(data, "tx", ws, schema=SCHEMA, mode="overwrite"))
        computed = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws))
        csv_export = tasks.export(tasks.ExportRequest("feats", ws, out / "train.csv"))
        libsvm_export = tasks.export(
            tasks.ExportRequest(
                "feats",
                ws,
                out / "train.libsvm",
                label="big",
                features=["total", "n", "avg_amount"],
                on_null_label="skip",
            )
        )
        store = out / "store"
        deployed = tasks.deploy(
            tasks.DeployRequest("tx_features", SQL, store=store, create_store=True, tables={"tx": None}, workspace=ws)
        )
        verified = tasks.verify(
            tasks.VerifyRequest("tx_features", store=store, probe_table="tx", probe_rows=20, workspace=ws)
        )
    return Pipeline(pipeline_id, ingested, computed, csv_export, libsvm_export, deployed, verified)


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_a_pipeline_run_is_one_tree_of_task_runs(
    backend: str,
    hook: mlflow_hooks.MlflowTrackingHook,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    experiment = f"pipeline-{backend}"
    if backend == "sqlite":  # switched on in Python
        uri: str = request.getfixturevalue("sqlite_uri")
        mlflow_hooks.configure(track=True, tracking_uri=uri, experiment=experiment)
    else:  # switched on by the environment, as an orchestrator's worker would be
        uri = request.getfixturevalue("server").url
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("OPENFEAT_MLFLOW_EXPERIMENT", experiment)
    ws, out = tmp_path / "ws", tmp_path / "out"
    done = _pipeline(_write_tx(tmp_path / "tx.csv"), ws, out, "nightly features")
    client = MlflowClient(uri)

    # -- one parent run (the pipeline run), six children (the tasks), linked by mlflow.parentRunId --------------
    runs = _by_task(_runs(client, experiment))
    assert {task: len(r) for task, r in runs.items()} == {
        "<pipeline>": 1,
        "ingest": 1,
        "compute": 1,
        "export": 2,
        "deploy": 1,
        "verify": 1,
    }
    (parent,) = runs["<pipeline>"]
    assert parent.info.run_name == "nightly features" and parent.info.status == "FINISHED"
    assert parent.data.tags["openfeat.kind"] == "pipeline"
    assert parent.data.tags["openfeat.pipeline_run_id"] == done.pipeline_id
    children = [r for task, rs in runs.items() if task != "<pipeline>" for r in rs]
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id, run.info.run_name
        assert run.data.tags["openfeat.pipeline_run_id"] == done.pipeline_id
        assert run.data.tags["openfeat.version"] == openfeat_core.__version__
        assert run.info.status == "FINISHED"
        assert "sql" not in run.data.params  # SQL is an artifact, never a param
    assert {r.data.tags["openfeat.run_id"] for r in children} == {
        done.ingested.run_id,
        done.computed.run_id,
        done.csv_export.run_id,
        done.libsvm_export.run_id,
        done.deployed.run_id,
        done.verified.run_id,
    }

    # -- ingest: source file and table version as datasets, row counts ------------------------------------------
    (ingest,) = runs["ingest"]
    assert ingest.info.run_name == "ingest tx"
    assert ingest.data.tags["openfeat.table"] == "tx" and ingest.data.tags["openfeat.table_version"] == "1"
    assert ingest.data.params["schema"] == SCHEMA and ingest.data.params["mode"] == "overwrite"
    assert ingest.data.metrics["rows_in"] == ROWS and ingest.data.metrics["rows_out"] == ROWS
    assert ingest.data.metrics["bytes_written"] > 0 and ingest.data.metrics["seconds"] >= 0
    tx_digest = done.ingested.digest.removeprefix("sha256:")[:16]
    assert _datasets(ingest)["tx@v1"] == ("output", tx_digest)
    assert _datasets(ingest)["tx.csv"][0] == "source"

    # -- compute: SQL, plan JSON, EXPLAIN, schema, input and output datasets, statistics, histograms -------------
    (compute,) = runs["compute"]
    plan_digest = done.computed.plan_digest
    assert compute.info.run_name == "compute feats"
    assert compute.data.tags["openfeat.plan_digest"] == plan_digest
    assert compute.data.tags["openfeat.table"] == "feats" and compute.data.tags["openfeat.reused"] == "false"
    assert compute.data.params["rows_in.tx"] == str(ROWS) and compute.data.params["output"] == "feats"
    assert "Table `feats` version 1." in compute.data.tags["mlflow.note.content"]  # the run's description
    metrics = compute.data.metrics
    assert (metrics["rows_in"], metrics["rows_out"]) == (ROWS, ROWS)
    assert metrics["bytes_written"] == done.computed.bytes and metrics["rows_per_second"] > 0
    assert _datasets(compute) == {
        "tx@v1": ("input", tx_digest),
        "feats@v1": ("output", done.computed.digest.removeprefix("sha256:")[:16]),
    }
    assert _artifacts(client, compute.info.run_id) >= {
        "sql/script.sql",
        "plan/plan.json",
        "plan/explain.txt",
        "schema/output_schema.json",
        "result.json",
        "feature_stats/stats.json",
        "feature_stats/bins.json",
        "feature_stats/histograms_01.png",
    }
    assert _text(client, compute.info.run_id, "sql/script.sql", tmp_path) == SQL
    plan = json.loads(_text(client, compute.info.run_id, "plan/plan.json", tmp_path))
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == plan_digest  # the very plan the task ran
    assert "tx" in _text(client, compute.info.run_id, "plan/explain.txt", tmp_path)
    schema = json.loads(_text(client, compute.info.run_id, "schema/output_schema.json", tmp_path))
    assert [(c["name"], c["type"]) for c in schema] == [
        ("card", "bigint"),
        ("ts", "timestamp"),
        ("merchant", "string"),
        ("amount", "double"),
        ("total", "double"),
        ("n", "bigint"),
        ("avg_amount", "double"),
        ("big", "bool"),
    ]
    # the statistics agree with the table computed independently
    feats = Workspace.open(ws).read_table("feats")
    amount = feats.column("amount").to_numpy(zero_copy_only=False)
    present = amount[~np.isnan(amount)]
    assert metrics["stats.amount.null_rate"] == pytest.approx(1 / 50)
    assert metrics["stats.amount.mean"] == pytest.approx(present.mean())
    assert metrics["stats.amount.stddev"] == pytest.approx(present.std())
    assert (metrics["stats.amount.min"], metrics["stats.amount.max"]) == (present.min(), present.max())
    assert metrics["stats.n.max"] == max(feats.column("n").to_pylist())
    assert metrics["stats.merchant.distinct"] == 5 and metrics["stats.big.null_rate"] == pytest.approx(1 / 50)
    table = json.loads(_text(client, compute.info.run_id, "feature_stats/stats.json", tmp_path))
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [r["feature"] for r in rows] == feats.column_names
    assert {r["feature"]: r["kind"] for r in rows}["ts"] == "temporal"
    assert {r["feature"]: r["min"] for r in rows}["ts"] == "2024-05-01T00:00:00+00:00"
    picture = client.download_artifacts(compute.info.run_id, "feature_stats/histograms_01.png", str(tmp_path / "png"))
    assert Path(picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(picture).stat().st_size > 10_000

    # -- export: the training set, with the script that computed its table --------------------------------------
    csv_run, libsvm_run = runs["export"]
    assert csv_run.info.run_name == "export feats to train.csv"
    assert csv_run.data.tags["openfeat.plan_digest"] == plan_digest and csv_run.data.tags["openfeat.format"] == "csv"
    assert csv_run.data.metrics["rows_out"] == ROWS and csv_run.data.metrics["bytes_written"] == done.csv_export.bytes
    assert _datasets(csv_run)["feats@v1"][0] == "input" and _datasets(csv_run)["train.csv"][0] == "output"
    assert _text(client, csv_run.info.run_id, "sql/script.sql", tmp_path) == SQL
    assert "plan/plan.json" in _artifacts(client, csv_run.info.run_id)
    libsvm_stats = {k.split(".")[1] for k in libsvm_run.data.metrics if k.startswith("stats.")}
    assert libsvm_stats == {"big", "total", "n", "avg_amount"}  # the exported columns only
    assert libsvm_run.data.tags["openfeat.stats_key"] != csv_run.data.tags["openfeat.stats_key"]

    # -- deploy: which training-set run its script came from ----------------------------------------------------
    (deploy,) = runs["deploy"]
    assert deploy.data.tags["openfeat.deployment"] == "tx_features"
    assert deploy.data.tags["openfeat.plan_digest"] == done.deployed.digest == plan_digest
    assert deploy.data.tags["openfeat.training_run_id"] == libsvm_run.info.run_id  # the latest training set
    assert deploy.data.tags["openfeat.training_run_task"] == "export"
    assert _text(client, deploy.info.run_id, "sql/script.sql", tmp_path) == SQL
    assert _datasets(deploy) == {"tx@v1": ("input", tx_digest)}

    # -- verify: its figures on its own run and on the deployment's --------------------------------------------
    (verify,) = runs["verify"]
    assert verify.data.metrics["consistent"] == 1 and verify.data.metrics["rows_compared"] == 20
    assert verify.data.metrics["mismatch_rate.total"] == 0
    assert verify.data.tags["openfeat.deploy_run_id"] == deploy.info.run_id
    deploy_after = client.get_run(deploy.info.run_id)
    assert deploy_after.data.metrics["verify.consistent"] == 1
    assert deploy_after.data.metrics["verify.rows_compared"] == 20
    assert deploy_after.data.tags["openfeat.last_verify_run_id"] == verify.info.run_id

    # -- the next run: amounts tripled. The drift shows as PSI against the previous run of the same script -------
    _write_tx(tmp_path / "tx.csv", scale=3.0, seed=1)
    again = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws))  # not in a pipeline run: a run on its own
    assert again.version == 1 and again.reused  # the SQL and the input did not change: same output
    tasks.ingest(tasks.IngestRequest(tmp_path / "tx.csv", "tx", ws, schema=SCHEMA, mode="overwrite"))
    shifted = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws))
    assert shifted.version == 2
    computes = _runs(client, experiment, "tags.`openfeat.task` = 'compute'")
    assert [r.data.tags["openfeat.table_version"] for r in computes] == ["1", "1", "2"]
    reused_run, drifted = computes[1], computes[2]
    assert "mlflow.parentRunId" not in drifted.data.tags
    assert reused_run.data.tags["openfeat.reused"] == "true" and reused_run.data.metrics["psi.amount"] < 0.01
    assert drifted.data.tags["openfeat.drift_baseline_run_id"] == reused_run.info.run_id
    assert drifted.data.metrics["psi.amount"] > 0.25 and drifted.data.metrics["psi.total"] > 0.25
    assert drifted.data.metrics["psi.merchant"] < 0.1  # the merchants did not change
    assert drifted.data.metrics["psi.max"] == max(v for k, v in drifted.data.metrics.items() if k.startswith("psi."))
    assert {"drift/psi.json", "drift/psi.png"} <= _artifacts(client, drifted.info.run_id)
    psi = json.loads(_text(client, drifted.info.run_id, "drift/psi.json", tmp_path))
    assert psi["baseline_run_id"] == reused_run.info.run_id and psi["psi"]["amount"] > 0.25


def test_a_failed_task_is_a_failed_run_with_its_error_and_sql(
    hook: mlflow_hooks.MlflowTrackingHook, sqlite_uri: str, tmp_path: Path
) -> None:
    mlflow_hooks.configure(track=True, tracking_uri=sqlite_uri, experiment="failures")
    ws = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", ws, schema=SCHEMA))
    bad_sql = "SELECT card, no_such_column FROM tx"
    with pytest.raises(Exception, match="no_such_column"):
        tasks.compute(tasks.ComputeRequest(bad_sql, "feats", ws))
    client = MlflowClient(sqlite_uri)
    (failed,) = _runs(client, "failures", "tags.`openfeat.task` = 'compute'")
    assert failed.info.status == "FAILED"
    assert "no_such_column" in failed.data.tags["openfeat.error"]
    assert _text(client, failed.info.run_id, "sql/script.sql", tmp_path) == bad_sql
    assert "no_such_column" in _text(client, failed.info.run_id, "error.txt", tmp_path)


def test_orchestrator_runs_are_grouped_and_tagged(
    hook: mlflow_hooks.MlflowTrackingHook, sqlite_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A second hook instance (say, one registered by hand besides the entry point's) does not log a task twice.
    monkeypatch.setattr(hook_registry, "_discovered", [hook, mlflow_hooks.MlflowTrackingHook()])
    mlflow_hooks.configure(track=True, tracking_uri=sqlite_uri, experiment="airflow")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "card_features")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2024-05-01T00:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "ingest_tx")
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "2")
    ws = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", ws, schema=SCHEMA))
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "compute_feats")
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "1")
    tasks.compute(tasks.ComputeRequest(SQL, "feats", ws))

    runs = _by_task(_runs(MlflowClient(sqlite_uri), "airflow"))
    assert {task: len(r) for task, r in runs.items()} == {"<pipeline>": 1, "ingest": 1, "compute": 1}
    (parent,) = runs["<pipeline>"]
    assert parent.info.run_name == "card_features scheduled__2024-05-01T00:00:00+00:00"
    key = "airflow:card_features:scheduled__2024-05-01T00:00:00+00:00"
    assert parent.data.tags["openfeat.pipeline_run_id"] == key
    for task, task_id, attempt in (("ingest", "ingest_tx", "2"), ("compute", "compute_feats", "1")):
        (run,) = runs[task]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["openfeat.orchestrator"] == "airflow"
        assert run.data.tags["openfeat.orchestrator.pipeline"] == "card_features"
        assert run.data.tags["openfeat.orchestrator.run_id"] == "scheduled__2024-05-01T00:00:00+00:00"
        assert run.data.tags["openfeat.orchestrator.task_id"] == task_id
        assert run.data.tags["openfeat.orchestrator.try_number"] == attempt


def test_a_task_whose_parent_lost_a_race_ends_under_the_surviving_parent(
    hook: mlflow_hooks.MlflowTrackingHook, sqlite_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two first tasks of a pipeline run, started together, both create a parent; the oldest is kept. A task that
    chose its own parent before an older one became visible, which then deleted it, must not stay under a deleted
    parent (seen with DolphinScheduler's four parallel ingests on a real server)."""
    mlflow_hooks.configure(track=True, tracking_uri=sqlite_uri, experiment="race")
    monkeypatch.setenv("DS_WORKFLOW_DEFINITION_NAME", "flights")
    monkeypatch.setenv("DS_WORKFLOW_INSTANCE_ID", "41")
    monkeypatch.setenv("DS_TASK_INSTANCE_ID", "7")
    client = MlflowClient(sqlite_uri)
    chosen: list[str] = []
    real_parent_run = mlflow_hooks.MlflowTrackingHook._parent_run

    def parent_run_then_lose_the_race(self: Any, bounded: Any, experiment_id: str, key: str, *args: Any) -> Any:
        mine = real_parent_run(self, bounded, experiment_id, key, *args)
        chosen.append(mine)
        # The other first task: its parent started earlier, became visible later, and it deletes the younger one.
        older = client.create_run(
            experiment_id,
            start_time=client.get_run(mine).info.start_time - 1_000,
            tags={"openfeat.kind": "pipeline", "openfeat.pipeline_run_id": key},
        )
        client.delete_run(mine)
        chosen.append(older.info.run_id)
        return mine

    monkeypatch.setattr(mlflow_hooks.MlflowTrackingHook, "_parent_run", parent_run_then_lose_the_race)
    tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", tmp_path / "ws", schema=SCHEMA))

    deleted, survivor = chosen
    (run,) = _by_task(_runs(client, "race"))["ingest"]
    assert run.data.tags["mlflow.parentRunId"] == survivor != deleted
    assert client.get_run(survivor).info.status == "FINISHED"


# =====================================================================================================================
# Off by default; never breaks the pipeline
# =====================================================================================================================
def test_tracking_is_off_by_default_and_the_hook_then_imports_nothing(tmp_path: Path) -> None:
    """In a fresh process without any tracking setting: the entry-point hook is loaded, MLflow is not."""
    data = _write_tx(tmp_path / "tx.csv")
    script = (
        "import json, sys\n"
        "from openfeat_core import tasks\n"
        f"tasks.ingest(tasks.IngestRequest(sys.argv[1], 'tx', sys.argv[2], schema={SCHEMA!r}))\n"
        "print(json.dumps({'hooks': [type(h).__name__ for h in tasks.registered_hooks()],\n"
        "                  'imported': sorted(m for m in ('mlflow', 'matplotlib') if m in sys.modules)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in _TRACKING_ENV}
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), str(tmp_path / "ws")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"hooks": ["MlflowTrackingHook"], "imported": []}
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_a_tracked_command_prints_only_its_result_on_stdout(server: MlflowServer, tmp_path: Path) -> None:
    """``openfeat TASK --json`` tracked to a tracking server: stdout is the one JSON document (shell orchestrators,
    DolphinScheduler's runner among them, parse it), without MLflow's "View run at <url>" lines."""
    data = _write_tx(tmp_path / "tx.csv")
    env = {k: v for k, v in os.environ.items() if k not in (*_TRACKING_ENV, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")}
    env["MLFLOW_TRACKING_URI"] = server.url
    command = ["ingest", str(data), "--table", "tx", "--schema", SCHEMA, "--workspace", str(tmp_path / "ws"), "--json"]
    done = subprocess.run(
        [sys.executable, "-c", "from openfeat_core.cli import main; main()", *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    client = MlflowClient(server.url)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], f"tags.`openfeat.run_id` = '{result['run_id']}'"
    )
    assert result["table"] == "tx" and [r.info.status for r in runs] == ["FINISHED"]


def test_a_tracking_server_that_is_down_warns_once_and_the_tasks_go_on(
    hook: mlflow_hooks.MlflowTrackingHook,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    ws = tmp_path / "ws"
    with caplog.at_level(logging.WARNING):
        ingested = tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", ws, schema=SCHEMA))
        computed = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws))
    assert (ingested.rows, computed.rows) == (ROWS, ROWS)
    warnings = [r for r in caplog.records if r.name == "openfeat.mlflow"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "MLflow tracking to http://127.0.0.1:" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.name == "openfeat.tasks"]  # the hook itself never raised


def test_a_tracking_server_that_does_not_answer_is_given_up_on(
    hook: mlflow_hooks.MlflowTrackingHook,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A server that accepts connections and never answers: each request times out, then tracking gives up."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("OPENFEAT_MLFLOW_TIMEOUT", "3")  # requests time out after 1 s
        with caplog.at_level(logging.WARNING):
            ingested = tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", tmp_path / "ws"))
    assert ingested.rows == ROWS
    warnings = [r.getMessage() for r in caplog.records if r.name == "openfeat.mlflow"]
    assert len(warnings) == 1 and "timed out" in warnings[0].lower(), warnings


def test_a_task_stops_calling_mlflow_once_its_time_is_spent() -> None:
    """Each call is timed against the task's budget; once spent, the next call is refused (and tracking gives up)."""
    calls: list[int] = []

    class Client:
        def log(self, value: int) -> int:
            calls.append(value)
            return value

    budget = tracking_hook._Budget(total=2.0)
    client = tracking_hook._BoundedClient(Client(), budget)
    assert client.log(1) == 1 and 0 <= budget.spent < 2.0
    budget.spent = 2.0  # as if the calls so far had taken the whole budget
    with pytest.raises(tracking_hook.TrackingTimeout, match="took more than 2 s"):
        client.log(2)
    assert calls == [1]


def test_strict_tracking_fails_the_task_before_it_does_anything(
    hook: mlflow_hooks.MlflowTrackingHook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENFEAT_MLFLOW_STRICT", "1")
    ws = tmp_path / "ws"
    with pytest.raises(Exception, match=f"127.0.0.1:{port}"):
        tasks.ingest(tasks.IngestRequest(_write_tx(tmp_path / "tx.csv"), "tx", ws, schema=SCHEMA))
    assert not Workspace.open(ws).exists("tx")
    # and it keeps failing (a strict hook does not give up)
    with pytest.raises(Exception, match=f"127.0.0.1:{port}"):
        tasks.ingest(tasks.IngestRequest(tmp_path / "tx.csv", "tx", ws, schema=SCHEMA))


# =====================================================================================================================
# Settings and statistics (no MLflow involved)
# =====================================================================================================================
@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, TrackingSettings(enabled=False)),
        ({"OPENFEAT_MLFLOW_EXPERIMENT": "x"}, TrackingSettings(enabled=False)),
        ({"MLFLOW_TRACKING_URI": "http://h:5000"}, TrackingSettings(True, "http://h:5000", DEFAULT_EXPERIMENT)),
        ({"MLFLOW_TRACKING_URI": "http://h:5000", "OPENFEAT_TRACK": "0"}, TrackingSettings(enabled=False)),
        ({"OPENFEAT_TRACK": "1"}, TrackingSettings(True, None, DEFAULT_EXPERIMENT)),
        (
            {"OPENFEAT_TRACK": "yes", "MLFLOW_EXPERIMENT_NAME": "m", "OPENFEAT_MLFLOW_STRICT": "true"},
            TrackingSettings(True, None, "m", strict=True),
        ),
        (
            {"OPENFEAT_TRACK": "on", "OPENFEAT_MLFLOW_EXPERIMENT": "o", "MLFLOW_EXPERIMENT_NAME": "m"},
            TrackingSettings(True, None, "o"),
        ),
        ({"OPENFEAT_TRACK": "1", "OPENFEAT_MLFLOW_TIMEOUT": "4.5"}, TrackingSettings(True, None, timeout=4.5)),
    ],
)
def test_settings_from_the_environment(environ: dict[str, str], expected: TrackingSettings) -> None:
    mlflow_hooks.reset()
    assert current_settings(environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OPENFEAT_TRACK": "maybe"}, "OPENFEAT_TRACK='maybe' is not a boolean"),
        ({"OPENFEAT_TRACK": "1", "OPENFEAT_MLFLOW_STRICT": "2"}, "OPENFEAT_MLFLOW_STRICT='2' is not a boolean"),
        ({"OPENFEAT_TRACK": "1", "OPENFEAT_MLFLOW_TIMEOUT": "-1"}, "OPENFEAT_MLFLOW_TIMEOUT='-1' is not a positive"),
        ({"OPENFEAT_TRACK": "1", "OPENFEAT_MLFLOW_TIMEOUT": "soon"}, "OPENFEAT_MLFLOW_TIMEOUT='soon' is not a posi"),
    ],
)
def test_malformed_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    mlflow_hooks.reset()
    with pytest.raises(ValueError, match=message):
        current_settings(environ)


def test_explicit_settings_win_over_the_environment() -> None:
    environ = {"MLFLOW_TRACKING_URI": "http://h:5000", "OPENFEAT_MLFLOW_EXPERIMENT": "env"}
    try:
        mlflow_hooks.configure(track=False)
        assert current_settings(environ) == TrackingSettings(enabled=False)
        mlflow_hooks.configure(track=True, experiment="mine", timeout=2)
        assert current_settings(environ) == TrackingSettings(True, "http://h:5000", "mine", timeout=2.0)
        assert current_settings(environ).request_timeout == 1
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            mlflow_hooks.configure(timeout=0)
    finally:
        mlflow_hooks.reset()


def test_statistics_streamed_in_batches_equal_the_whole_column_ones() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(10, 3, 10_000)
    values[::97] = np.nan  # NaN: not finite, left out like a NULL (but counted apart)
    amount = pa.array(values, mask=np.arange(10_000) % 10 == 0)
    kind = pa.array(rng.choice(["a", "b", "c"], 10_000)).to_pylist()
    table = pa.table(
        {
            "amount": amount,
            "count": pa.array(rng.integers(0, 5, 10_000)),
            "kind": kind,
            "when": pa.array(np.arange(10_000) * 1000, pa.timestamp("ms", tz="UTC")),
        }
    )
    result = {
        s.name: s
        for s in stats.table_statistics(table.to_batches(max_chunksize=999), table.schema, table.num_rows, seed=1)
    }
    finite = values[(np.arange(10_000) % 10 != 0) & ~np.isnan(values)]
    a = result["amount"]
    assert (a.count, a.nulls, a.non_finite) == (10_000, 1_000, int(np.isnan(values[np.arange(10_000) % 10 != 0]).sum()))
    assert a.mean == pytest.approx(finite.mean(), rel=1e-12) and a.stddev == pytest.approx(finite.std(), rel=1e-12)
    assert (a.minimum, a.maximum) == (finite.min(), finite.max())
    assert a.sample is not None and a.sample.size == finite.size  # under SAMPLE_ROWS: every row is in the sample
    k = result["kind"]
    assert (k.distinct, k.distinct_capped, dict(k.top)) == (3, False, {v: kind.count(v) for v in "abc"})
    assert result["when"].minimum == "1970-01-01T00:00:00+00:00"
    assert result["when"].maximum == "1970-01-01T02:46:39+00:00"
    capped = stats.table_statistics(table.to_batches(), table.schema, table.num_rows, distinct_cap=2)
    assert [(s.distinct, s.distinct_capped) for s in capped if s.name == "kind"] == [(2, True)]
    sampled = {s.name: s for s in stats.table_statistics(table.to_batches(), table.schema, 10_000, sample_rows=1_000)}
    assert sampled["amount"].sample is not None and 500 < sampled["amount"].sample.size < 1_500
    assert sampled["amount"].mean == a.mean  # exact statistics do not depend on the sample


def test_population_stability_is_zero_for_the_same_data_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(3)

    def described(scale: float, categories: list[str]) -> list[stats.FeatureStats]:
        table = pa.table({"x": rng.lognormal(1, 0.5, 20_000) * scale, "c": rng.choice(categories, 20_000)})
        return stats.table_statistics(table.to_batches(), table.schema, table.num_rows)

    reference = json.loads(json.dumps(stats.reference_bins(described(1.0, ["a", "b"]))))  # as stored and read back
    same = stats.population_stability(reference, described(1.0, ["a", "b"]))
    shifted = stats.population_stability(reference, described(2.0, ["a", "b", "z"]))
    assert same["x"] < 0.01 and same["c"] < 0.01
    assert shifted["x"] > 0.25 and shifted["c"] > 0.25
    assert stats.population_stability({"format": 99}, described(1.0, ["a"])) == {}


def test_bytes_written_by_an_append_count_only_its_own_files(tmp_path: Path) -> None:
    from mlflow_hooks.record import _bytes_added

    ws = Workspace.open(tmp_path / "ws")
    first = ws.write_table("t", pa.table({"x": list(range(10_000))}))
    appended = ws.write_table("t", pa.table({"x": [1, 2, 3]}), append=True)
    assert appended.parent == first.version and appended.num_bytes > first.num_bytes
    assert _bytes_added(ws, first) == first.num_bytes
    assert _bytes_added(ws, appended) == appended.num_bytes - first.num_bytes < first.num_bytes
