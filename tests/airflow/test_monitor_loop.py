"""The retraining loop's operators: monitor a service's deployment, branch on ``retrain``, and the retraining branch
(recompute -> export -> deploy with the new training set as reference) after which monitor no longer says retrain.
Operators are executed as in test_operators.py (templates rendered, ``execute()`` with a recording task instance)."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from monitor_scenario import DEPLOYMENT, FEATURE, SQL, service, serving_store, transactions
from openfeat_airflow_testing import REPO_ROOT

from airflow_provider.compat import DAG, AirflowFailException
from airflow_provider.exceptions import OpenFeatArgumentError
from airflow_provider.operators.monitor import OpenFeatMonitorOperator, OpenFeatRetrainBranchOperator
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatDeployOperator,
    OpenFeatExportTrainingSetOperator,
    OpenFeatIngestOperator,
)


def _dag() -> DAG:
    return DAG("test_openfeat_monitor", schedule=None, start_date=datetime(2024, 1, 1))


def _run(operator: Any, context: dict[str, Any]) -> Any:
    operator.render_template_fields(context)
    result = operator.execute(context)
    json.dumps(result, allow_nan=False)
    return result


def _monitor(url: str, make_context: Any) -> dict[str, Any]:
    with _dag():
        op = OpenFeatMonitorOperator(
            task_id="monitor", name=DEPLOYMENT, url=url, features=[FEATURE], consistency_requests="2"
        )
    result: dict[str, Any] = _run(op, make_context(op))
    return result


def _branch(report: dict[str, Any] | None, make_context: Any) -> list[str]:
    with _dag():
        op = OpenFeatRetrainBranchOperator(
            task_id="retrain_or_not",
            monitor_task_id="monitor",
            retrain_task_ids="compute_features",
            skip_task_ids=["no_drift"],
        )
    return list(op.choose_branch(make_context(op, pulls={"monitor": report})))


def test_drift_branches_to_retraining_and_no_drift_does_not(
    tmp_path: Path, connection: dict[str, Any], make_context: Any
) -> None:
    for drifted, branch in ((True, ["compute_features"]), (False, ["no_drift"])):
        store = serving_store(tmp_path / f"store-{drifted}", drifted=drifted)
        try:
            with service(store) as url:
                report = _monitor(url, make_context)
        finally:
            store.close()
        assert report["task"] == "monitor" and report["retrain"] is drifted, report
        assert report["consistent"] is True and report["verified_requests"] == 2
        assert _branch(report, make_context) == branch
    with pytest.raises(AirflowFailException, match="task 'monitor' left no monitor result"):
        _branch(None, make_context)


def test_bad_arguments_fail_without_retrying(connection: dict[str, Any], make_context: Any) -> None:
    with _dag():
        op = OpenFeatMonitorOperator(task_id="monitor", name=DEPLOYMENT, url="http://127.0.0.1:9", psi_threshold="-1")
    with pytest.raises(OpenFeatArgumentError, match="psi_threshold"):
        _run(op, make_context(op))


def test_the_retraining_branch_makes_the_drift_go_away(
    tmp_path: Path, connection: dict[str, Any], make_context: Any
) -> None:
    """What the retraining branch does: the traffic's rows land in the workspace, the features are recomputed and
    exported, and the deployment gets the new training set as reference; monitor then sees no drift."""
    store = serving_store(tmp_path / "store", drifted=True)
    new_data = tmp_path / "tx-new.parquet"
    pq.write_table(transactions(500, 120.0, seed=5), new_data)
    try:
        with service(store) as url:
            assert _monitor(url, make_context)["retrain"] is True
            with _dag():
                ingest = OpenFeatIngestOperator(task_id="ingest", source=str(new_data), table="tx")
                compute = OpenFeatComputeFeaturesOperator(task_id="compute_features", sql=SQL, table="features")
                export = OpenFeatExportTrainingSetOperator(
                    task_id="export_training_set", table="features", path=str(tmp_path / "train.csv")
                )
                redeploy = OpenFeatDeployOperator(
                    task_id="redeploy", name=DEPLOYMENT, sql=SQL, url=url, reference=str(tmp_path / "train.csv")
                )
            for op in (ingest, compute, export):
                _run(op, make_context(op))
            deployed = _run(redeploy, make_context(redeploy))
            assert deployed["new_version"] is False  # the same script: only its reference changed
            assert deployed["reference"] == {"kind": "file", "path": str(tmp_path / "train.csv")}
            after = _monitor(url, make_context)
    finally:
        store.close()
    assert after["retrain"] is False and after["drifted"] == [], after


def test_the_example_dag_wires_the_loop() -> None:
    path = REPO_ROOT / "dags" / "openfeat_flights_retraining.py"
    spec = importlib.util.spec_from_file_location("openfeat_flights_retraining", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    dag = module.openfeat_flights_retraining()
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert downstream["monitor"] == ["retrain_or_not"]
    assert downstream["retrain_or_not"] == ["compute_features", "no_drift"]
    assert downstream["compute_features"] == ["export_training_set"]
    assert downstream["export_training_set"] == ["train_model"]
    assert downstream["train_model"] == ["redeploy"]
