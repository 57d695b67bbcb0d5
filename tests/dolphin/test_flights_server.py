"""The flights workflow (dolphin_tasks.examples) on a real DolphinScheduler 3.1.1 standalone server: defined with
OpenFeat's task classes, submitted over REST, started, polled to the end; then again (everything reused); then a
task with bad SQL; then the SQL route driven by DS's Http tasks against a real ``openfeat serve``.

The tasks run on DS's own worker (the standalone server's), as Shell tasks in a DS Environment that puts this
virtualenv first on ``PATH`` and points MLflow at a real tracking server started here.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dolphinscheduler_server import DolphinSchedulerServer
from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks import OpenFeatCompute, OpenFeatIngest
from dolphin_tasks.examples.flights_workflow import DEPLOYMENT, flights_workflow
from dolphin_tasks.examples.sql_route_workflow import sql_route_workflow
from dolphin_tasks.rest import DolphinSchedulerREST, TaskInstanceInfo, rest_codes
from openfeat_core.workspace import Workspace
from tests.integration.mlflow_server import MlflowServer, free_port, start_mlflow_server

PROJECT = "openfeat-flights"
ENVIRONMENT = "openfeat-tests"
EXPERIMENT = "openfeat-dolphinscheduler"
#: ``nope`` is no column of ``t``: line 2.
BAD_SQL = (
    "SELECT k,\n  sum(nope) OVER w AS s\n"
    "FROM t WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)
OPENFEAT_TASKS = (
    "ingest_flights",
    "ingest_weather",
    "ingest_planes",
    "ingest_new_flights",
    "compute_features",
    "export_training_set",
    "export_libsvm",
    "deploy_features",
    "verify_online",
)


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ds(ds_server: DolphinSchedulerServer, mlflow: MlflowServer) -> tuple[DolphinSchedulerREST, str, int]:
    """The client, the tenant (an OS user, as DS 3.1 wants even without sudo) and the project, with the Environment
    every task runs in."""
    client = ds_server.client()
    tenant = getpass.getuser()
    client.ensure_tenant(tenant)
    project = client.ensure_project(PROJECT)
    client.ensure_environment(
        ENVIRONMENT,
        f"export PATH={Path(sys.executable).parent}:$PATH\n"
        f"export MLFLOW_TRACKING_URI={mlflow.url}\n"
        f"export MLFLOW_EXPERIMENT_NAME={EXPERIMENT}\n",
    )
    return client, tenant, project


def _run(
    ds: tuple[DolphinSchedulerREST, str, int], define: dict[str, Any], *, timeout: float = 600.0
) -> tuple[str, dict[str, TaskInstanceInfo], int]:
    """Submit a workflow definition (rendered inside ``rest_codes``), start it, wait for it; its task instances."""
    client, tenant, project = ds
    code = client.submit(define, project, tenant)
    instance = client.start(project, code)
    state = client.wait(project, instance, timeout=timeout)
    return state, {task["name"]: task for task in client.task_instances(project, instance)}, instance


def _flights(ds: tuple[DolphinSchedulerREST, str, int], root: Path) -> dict[str, Any]:
    with rest_codes(ds[0], PROJECT):
        workflow = flights_workflow(
            name="openfeat_flights_test",
            data_dir=str(root / "data"),
            store=str(root / "store"),
            workspace=str(root / "ws"),
            max_flights=3000,
            new_flights=5,
            auc_threshold=0.0,  # the deploy branch; the other one is DS's Condition as tested in test_rest_server
            environment_name=ENVIRONMENT,
        )
        workflow._project = PROJECT
        return dict(workflow.get_define())


def _states(tasks: dict[str, TaskInstanceInfo]) -> dict[str, str]:
    return {name: task["state"] for name, task in tasks.items()}


@pytest.fixture(scope="module")
def flights_runs(
    ds: tuple[DolphinSchedulerREST, str, int], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[tuple[str, dict[str, TaskInstanceInfo], int]]]:
    """The flights workflow run twice on the same data."""
    root = tmp_path_factory.mktemp("flights")
    runs = [_run(ds, _flights(ds, root)) for _ in range(2)]
    return root, runs


def test_flights_workflow_runs_every_task(
    ds: tuple[DolphinSchedulerREST, str, int],
    flights_runs: tuple[Path, list[tuple[str, dict[str, TaskInstanceInfo], int]]],
) -> None:
    client = ds[0]
    root, runs = flights_runs
    state, tasks, _ = runs[0]
    logs = {name: client.task_log(task["id"]) for name, task in tasks.items()}
    assert state == "SUCCESS", {name: log[-2000:] for name, log in logs.items() if tasks[name]["state"] != "SUCCESS"}
    assert _states(tasks) == {
        name: "SUCCESS"
        for name in (
            "write_raw_files",
            *OPENFEAT_TASKS,
            "train_model",
            "check_auc",
            "auc_condition",
        )
    }  # skip_deploy did not run
    out = {name: task["out_params"] for name, task in tasks.items()}
    # OUT parameters: each OpenFeat task's key fields, consumed downstream.
    workspace = Workspace.open(str(root / "ws"))
    for table in ("flights", "weather", "planes", "new_flights", "features"):
        prefix = "compute_features" if table == "features" else f"ingest_{table}"
        assert out[prefix][f"{prefix}_table"] == table
        assert int(out[prefix][f"{prefix}_version"]) == workspace.table_info(table).version
        assert out[prefix][f"{prefix}_reused"] == "false"
    assert int(out["ingest_flights"]["ingest_flights_rows"]) == 3000
    assert int(out["compute_features"]["compute_features_rows"]) == 3000
    train = Path(out["export_training_set"]["export_training_set_path"])
    assert train == root / "data" / "train.csv" and train.is_file()
    assert len(train.read_text().splitlines()) == 3001
    assert (root / "data" / "train.libsvm").is_file()
    assert 0.5 < float(out["train_model"]["flights_auc"]) <= 1.0
    assert out["deploy_features"]["deploy_features_name"] == DEPLOYMENT
    assert out["deploy_features"]["deploy_features_new_version"] == "true"
    assert out["verify_online"]["verify_online_consistent"] == "true"
    assert int(out["verify_online"]["verify_online_rows"]) == 5
    # The deployment is in the flights version's store, and the compute's inputs were the ingests' versions.
    stores = list((root / "store").iterdir())
    assert [s.name for s in stores] == [f"flights-v{out['ingest_flights']['ingest_flights_version']}"]
    assert "OpenFeat compute (task 'compute_features', workflow instance" in logs["compute_features"]
    assert '"task": "compute"' in logs["compute_features"]  # the result, in the task log


def test_flights_workflow_again_reuses_everything(
    flights_runs: tuple[Path, list[tuple[str, dict[str, TaskInstanceInfo], int]]],
) -> None:
    _, runs = flights_runs
    (_, first, _), (state, tasks, _) = runs
    assert state == "SUCCESS" and _states(tasks) == _states(first)
    out = {name: task["out_params"] for name, task in tasks.items()}
    for name in OPENFEAT_TASKS[:7]:
        assert out[name][f"{name}_reused"] == "true", name
        assert out[name][f"{name}_version"] == first[name]["out_params"][f"{name}_version"], name
    assert out["deploy_features"]["deploy_features_new_version"] == "false"
    assert out["verify_online"]["verify_online_consistent"] == "true"


def test_flights_runs_are_tracked_in_mlflow(
    mlflow: MlflowServer,
    flights_runs: tuple[Path, list[tuple[str, dict[str, TaskInstanceInfo], int]]],
) -> None:
    from mlflow import MlflowClient

    _, runs = flights_runs
    client = MlflowClient(mlflow.url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    found = client.search_runs([experiment.experiment_id], max_results=1000)
    for _, _, instance in runs:
        parents = [
            r
            for r in found
            if r.data.tags.get("openfeat.kind") == "pipeline"
            and r.data.tags.get("openfeat.orchestrator.run_id") == str(instance)
        ]
        assert len(parents) == 1, [r.data.tags for r in found if r.data.tags.get("openfeat.kind") == "pipeline"]
        parent = parents[0]
        assert parent.data.tags["openfeat.orchestrator"] == "dolphinscheduler"
        children = [r for r in found if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.data.tags["openfeat.task"] for r in children) == sorted(
            ["ingest"] * 4 + ["compute", "export", "export", "deploy", "verify"]
        )
        assert {r.data.tags["openfeat.orchestrator.run_id"] for r in children} == {str(instance)}
        assert {r.info.status for r in children} == {"FINISHED"}


def test_bad_sql_fails_its_task_with_the_position_and_stops_downstream(
    ds: tuple[DolphinSchedulerREST, str, int], tmp_path: Path
) -> None:
    source = tmp_path / "t.csv"
    source.write_text("k,ts,v\n1,1700000000000,2.5\n")
    with rest_codes(ds[0], PROJECT), Workflow(name="openfeat_bad_sql_test", project=PROJECT) as workflow:
        ingest = OpenFeatIngest(
            "ingest_t",
            source=str(source),
            table="t",
            schema="k bigint, ts timestamp, v double",
            mode="overwrite",
            workspace=str(tmp_path / "ws"),
            environment_name=ENVIRONMENT,
        )
        compute = OpenFeatCompute(
            "compute_bad",
            sql=BAD_SQL,
            table="f",
            inputs={"t": "${ingest_t_version}"},
            workspace=str(tmp_path / "ws"),
            environment_name=ENVIRONMENT,
        )
        after = Shell("after", "echo must not run", environment_name=ENVIRONMENT)
        ingest >> compute >> after
        define = workflow.get_define()
    state, tasks, _ = _run(ds, define, timeout=300)
    assert state == "FAILURE"
    assert _states(tasks) == {"ingest_t": "SUCCESS", "compute_bad": "FAILURE"}  # "after" never ran
    log = ds[0].task_log(tasks["compute_bad"]["id"])
    assert re.search(r"error: line 2, column \d+: .*nope", log), log[-3000:]
    assert "OpenFeat compute failed (exit 2), terminally" in log


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A real ``openfeat serve`` on 127.0.0.1 with a token and a data root."""
    token = secrets.token_hex(16)
    (tmp_path / "token").write_text(token)
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "data").mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "openfeat"),
            "serve",
            "--store",
            str(tmp_path / "store"),
            "--port",
            str(port),
            "--token-file",
            str(tmp_path / "token"),
            "--data-root",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/health", process)
        yield url, token, tmp_path / "data"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"openfeat serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer in {timeout:g} s")


def test_sql_route_workflow_of_http_tasks(
    ds: tuple[DolphinSchedulerREST, str, int], service: tuple[str, str, Path]
) -> None:
    url, token, data = service
    rows = data / "tx.csv"
    rows.write_text("card,ts,amount\n7,1704067200000,10.0\n7,1704070000000,5.5\n8,1704067200000,1.0\n")
    with rest_codes(ds[0], PROJECT):
        workflow = sql_route_workflow(name="openfeat_sql_route_test", url=url, data_file=str(rows), token=token)
        workflow._project = PROJECT
        define = workflow.get_define()
    state, tasks, _ = _run(ds, define, timeout=300)
    logs = {name: ds[0].task_log(task["id"]) for name, task in tasks.items()}
    assert state == "SUCCESS", logs
    assert _states(tasks) == dict.fromkeys(
        ("create_table", "load_data", "deploy_features", "request_features"), "SUCCESS"
    )
    # The request row (card 7 at 2024-01-01 01:00, 25.5) with the two stored rows of card 7 in its day.
    answers = [json.loads(found) for found in re.findall(r'\{"code".*\}', logs["request_features"])]
    assert [answer["data"] for answer in answers] == [{"data": [[7, 1704070800000, 3, 41.0]]}], logs["request_features"]


def test_one_command_submits_and_starts_a_yaml_workflow(
    ds_server: DolphinSchedulerServer, ds: tuple[DolphinSchedulerREST, str, int], service: tuple[str, str, Path]
) -> None:
    """``openfeat-dolphinscheduler yaml -f ... --rest URL --run``: the SQL-route YAML (OpenFeatSQL task types),
    submitted and started by the command, runs to success."""
    url, token, data = service
    rows = data / "tx.csv"
    rows.write_text("card,ts,amount\n7,1704067200000,10.0\n")
    env = {**os.environ, "OPENFEAT_URL": url, "OPENFEAT_TOKEN": token, "OPENFEAT_DATA_FILE": str(rows)}
    env["PYDS_WORKFLOW_PROJECT"] = PROJECT
    yaml = Path(__file__).resolve().parents[2] / "dolphin_tasks" / "examples" / "sql_route_workflow.yaml"
    command = str(Path(sys.executable).parent / "openfeat-dolphinscheduler")
    login = ["--user", "admin", "--password", "dolphinscheduler123", "--tenant", ds[1]]
    done = subprocess.run(
        [command, "yaml", "-f", str(yaml), "--rest", ds_server.url, *login, "--run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(
        r"submitted workflow 'openfeat_sql_route' \(code \d+\) through \S+, started as instance (\d+)", done.stdout
    )
    assert found, done.stdout
    client, _, project = ds
    instance = int(found.group(1))
    assert client.wait(project, instance, timeout=300) == "SUCCESS"
    assert _states({t["name"]: t for t in client.task_instances(project, instance)}) == dict.fromkeys(
        ("create_table", "load_data", "deploy_features", "request_features"), "SUCCESS"
    )
