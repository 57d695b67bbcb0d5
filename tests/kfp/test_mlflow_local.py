"""MLflow tracking of a KFP run: one parent run per KFP run, a child run per component, with the same
``openfeat.orchestrator.*`` tags the Airflow runs carry (keyed by the KFP run id placeholders)."""

from pathlib import Path

import pytest
from kfp import dsl
from openfeat_kfp_testing import FEATURES_SQL, TX_SCHEMA, write_transactions

from kubeflow_components import compute, ingest
from kubeflow_components.runtime import pipeline_parent_run_id


@dsl.pipeline(name="tracked-chain")
def tracked_chain(workspace: str, source: str, sql: str, tracking_uri: str) -> None:
    tracking = {
        "kfp_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        "kfp_run_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        "kfp_task_name": dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
        "mlflow_tracking_uri": tracking_uri,
    }
    ingested = ingest(workspace=workspace, table="tx", source=source, schema=TX_SCHEMA, mode="overwrite", **tracking)
    compute(sql=sql, output="tx_features", table_1=ingested.outputs["table_version"], **tracking)


def test_a_kfp_run_is_a_parent_run_with_a_child_per_component(
    local_kfp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("OPENFEAT_TRACK", "1")  # tests/conftest.py turns tracking off; the tasks inherit this

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    source = write_transactions(tmp_path / "raw" / "tx.csv")
    tracked_chain(workspace=str(tmp_path / "ws"), source=str(source), sql=FEATURES_SQL, tracking_uri=tracking_uri)

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("openfeat")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("openfeat.kind") == "pipeline"]
    children = [r for r in runs if r.data.tags.get("openfeat.kind") == "task"]
    assert len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    tags = {r.data.tags["openfeat.orchestrator.task_id"]: r.data.tags for r in children}
    assert sorted(tags) == ["compute", "ingest"]
    (kfp_run_id,) = {t["openfeat.orchestrator.run_id"] for t in tags.values()}
    assert kfp_run_id and "{{" not in kfp_run_id  # the placeholder was resolved by KFP
    for t in tags.values():
        assert t["openfeat.orchestrator"] == "kubeflow"
        assert t["openfeat.orchestrator.pipeline"].startswith("tracked-chain")
        assert t["openfeat.pipeline_run_id"] == pipeline_parent_run_id(kfp_run_id)
