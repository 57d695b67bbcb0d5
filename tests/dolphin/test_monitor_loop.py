"""The DolphinScheduler retraining loop: OpenFeatMonitor run as a worker runs its script, against a real service (its
OUT parameters), the Shell check the Condition follows (exit 0 only on retrain), the redeploy with the new training
set as reference after which monitor no longer says retrain, and the example workflow's graph."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.csv
import pytest
from monitor_scenario import DEPLOYMENT, FEATURE, SQL, service, serving_store, transactions

from dolphin_tasks.monitor import OpenFeatMonitor, retrain_check
from dolphin_tasks.tasks import OpenFeatDeploy

SET_VALUE = re.compile(r"\$\{setValue\(([^)]*)\)}")


@pytest.fixture(autouse=True)
def numbered_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task codes without a gateway (as pydolphinscheduler's own tests do)."""
    codes = itertools.count(1)
    monkeypatch.setattr("pydolphinscheduler.core.task.Task.gen_code_and_version", lambda self: (next(codes), 1))


def _run(task: Any, tmp_path: Path) -> dict[str, str]:
    """Run an OpenFeat DS task's script with bash as a worker does (the deploy's SQL comes in its heredoc); its OUT
    parameters."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run(
        ["bash", "-c", task.task_params["rawScript"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(m.group(1).split("=", 1) for m in SET_VALUE.finditer(done.stdout))


def _check_exit(monitor: OpenFeatMonitor, retrain: str) -> int:
    script = retrain_check("drifted", monitor).task_params["rawScript"].replace("${monitor_retrain}", retrain)
    return subprocess.run(["bash", "-c", script], capture_output=True, check=False).returncode


def test_monitor_says_retrain_the_check_follows_and_the_redeploy_ends_the_drift(tmp_path: Path) -> None:
    """Drifted traffic: retrain, the check exits 0 (the Condition's success branch); the branch's redeploy with the
    new training set as reference; monitor again: no retraining, the check exits 1 (the failed branch)."""
    training = tmp_path / "train.csv"
    pyarrow.csv.write_csv(transactions(500, 120.0, seed=5), training)
    store = serving_store(tmp_path / "store", drifted=True)
    try:
        with service(store) as url:
            monitor = OpenFeatMonitor(
                "monitor", deployment=DEPLOYMENT, url=url, features=[FEATURE], consistency_requests=2
            )
            drifted = _run(monitor, tmp_path)
            assert drifted["monitor_retrain"] == "true" and drifted["monitor_rows"] == "200", drifted
            assert _check_exit(monitor, drifted["monitor_retrain"]) == 0
            redeploy = OpenFeatDeploy("redeploy", deployment=DEPLOYMENT, sql=SQL, url=url, reference=str(training))
            assert _run(redeploy, tmp_path)["redeploy_new_version"] == "false"
            after = _run(monitor, tmp_path)
    finally:
        store.close()
    assert after["monitor_retrain"] == "false", after
    assert _check_exit(monitor, after["monitor_retrain"]) == 1


def test_bad_arguments_are_refused_when_the_workflow_is_defined() -> None:
    with pytest.raises(Exception, match="psi_threshold"):
        OpenFeatMonitor("monitor", deployment=DEPLOYMENT, url="http://127.0.0.1:9", psi_threshold=-1)
    # a DS parameter is checked when the task runs
    assert "${psi}" in OpenFeatMonitor("m", deployment=DEPLOYMENT, url="u", psi_threshold="${psi}").openfeat_arguments


def test_the_example_workflow_wires_the_loop() -> None:
    from dolphin_tasks.examples.retraining_workflow import retraining_workflow

    define = retraining_workflow(url="http://feature-service:9080", workspace="/ws", data_dir="/data").get_define()
    tasks = {t["name"]: t for t in define["taskDefinitionJson"]}
    names = {t["code"]: t["name"] for t in define["taskDefinitionJson"]}
    edges = {
        (names[r["preTaskCode"]], names[r["postTaskCode"]]) for r in define["taskRelationJson"] if r["preTaskCode"]
    }
    assert {
        ("monitor", "drifted"),
        ("drifted", "retrain_condition"),
        ("retrain_condition", "compute_features"),
        ("retrain_condition", "no_drift"),
        ("compute_features", "export_training_set"),
        ("export_training_set", "train_model"),
        ("train_model", "redeploy"),
    } <= edges
    condition = tasks["retrain_condition"]["taskParams"]
    assert names[condition["conditionResult"]["successNode"][0]] == "compute_features"
    assert names[condition["conditionResult"]["failedNode"][0]] == "no_drift"
    assert "--reference" in tasks["redeploy"]["taskParams"]["rawScript"]
    assert "openfeat-dolphinscheduler run monitor" in tasks["monitor"]["taskParams"]["rawScript"]
