"""Each component's Python function called directly (``component.python_func``) with real artifacts, files, a
workspace and an embedded online store: the five tasks in a row, twice; the second time everything is reused."""

from pathlib import Path

import pytest
from kfp.dsl import Dataset, Markdown, Metrics
from openfeat_kfp_testing import FEATURES_SQL, TX_ROWS, TX_SCHEMA, write_transactions

from kubeflow_components import Deployment, WorkspaceTable, compute, deploy, export, ingest, verify

PROBE_ROWS = [(7, 7, "2024-01-01 06:00:00", 3.0, "fuel"), (8, 9, "2024-01-01 06:30:00", 8.0, "online")]


def _artifact(kind: type, root: Path, name: str) -> object:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return kind(name=name, uri=str(path), metadata={})


def _pipeline(tmp_path: Path, run: str) -> dict[str, dict]:
    root = tmp_path / "artifacts" / run
    ws, store = str(tmp_path / "ws"), str(tmp_path / "store")
    results: dict[str, dict] = {}
    tx = _artifact(WorkspaceTable, root, "tx")
    results["ingest"] = ingest.python_func(
        workspace=ws,
        table="tx",
        source=str(tmp_path / "raw" / "tx.csv"),
        schema=TX_SCHEMA,
        mode="overwrite",
        table_version=tx,
        metrics=_artifact(Metrics, root, "ingest_metrics"),
        statistics=_artifact(Markdown, root, "ingest_stats"),
    )
    probe = _artifact(WorkspaceTable, root, "probe")
    ingest.python_func(
        workspace=ws,
        table="tx_recent",
        source=str(tmp_path / "raw" / "recent.csv"),
        schema=TX_SCHEMA,
        mode="overwrite",
        table_version=probe,
        metrics=_artifact(Metrics, root, "probe_metrics"),
        statistics=_artifact(Markdown, root, "probe_stats"),
    )
    features = _artifact(WorkspaceTable, root, "features")
    results["compute"] = compute.python_func(
        sql=FEATURES_SQL,
        output="tx_features",
        engine="local",  # (the one argument that runs it on Spark; this virtualenv has no pyspark)
        table_1=tx,
        table_version=features,
        metrics=_artifact(Metrics, root, "compute_metrics"),
        statistics=_artifact(Markdown, root, "compute_stats"),
    )
    training_set = _artifact(Dataset, root, "train")
    results["export"] = export.python_func(
        table=features,
        path=str(tmp_path / "train.parquet"),
        format="parquet",
        training_set=training_set,
        metrics=_artifact(Metrics, root, "export_metrics"),
    )
    results["training_set"] = dict(training_set.metadata)
    deployment = _artifact(Deployment, root, "deployment")
    results["deploy"] = deploy.python_func(
        name="tx_features",
        sql=FEATURES_SQL,
        table_1=tx,
        store=store,
        create_store=True,
        deployment=deployment,
        metrics=_artifact(Metrics, root, "deploy_metrics"),
    )
    results["deployment"] = dict(deployment.metadata)
    metrics = _artifact(Metrics, root, "verify_metrics")
    report = _artifact(Markdown, root, "verify_report")
    results["verify"] = verify.python_func(
        name="tx_features",
        deployment=deployment,
        probe_table=probe,
        probe_rows=len(PROBE_ROWS),
        metrics=metrics,
        report=report,
    )
    results["verify_metrics"] = dict(metrics.metadata)
    results["report"] = {"text": Path(report.path).read_text()}
    return results


def test_the_five_functions_twice(tmp_path: Path) -> None:
    write_transactions(tmp_path / "raw" / "tx.csv")
    write_transactions(tmp_path / "raw" / "recent.csv", PROBE_ROWS)
    first = _pipeline(tmp_path, "first")
    assert first["ingest"]["reused"] is False and first["compute"]["reused"] is False
    assert first["export"]["reused"] is False and first["training_set"]["format"] == "parquet"
    assert first["training_set"]["rows"] == len(TX_ROWS)
    assert first["deploy"]["new_version"] is True
    assert first["deployment"]["openfeat_type"] == "openfeat.Deployment"
    assert first["deployment"]["store"] == str(tmp_path / "store") and first["deployment"]["indexes"]
    assert first["verify"]["consistent"] is True and first["verify"]["probed_rows"] == len(PROBE_ROWS)
    assert first["verify_metrics"]["consistent"] == 1.0 and first["verify_metrics"]["requests"] >= 1
    assert "consistent" in first["report"]["text"] and "| amount_sum_2h |" in first["report"]["text"]

    second = _pipeline(tmp_path, "second")
    assert second["ingest"]["reused"] is True and second["compute"]["reused"] is True
    assert second["export"]["reused"] is True
    assert second["deploy"]["new_version"] is False and second["deploy"]["version"] == first["deploy"]["version"]
    assert second["verify"]["consistent"] is True


def test_compute_with_an_unknown_engine_fails_naming_the_backends(tmp_path: Path) -> None:
    write_transactions(tmp_path / "tx.csv")
    root = tmp_path / "artifacts"
    tx = _artifact(WorkspaceTable, root, "tx")
    ingest.python_func(
        workspace=str(tmp_path / "ws"),
        table="tx",
        source=str(tmp_path / "tx.csv"),
        schema=TX_SCHEMA,
        table_version=tx,
        metrics=_artifact(Metrics, root, "ingest_metrics"),
        statistics=_artifact(Markdown, root, "ingest_stats"),
    )
    with pytest.raises(Exception, match=r"backend 'dusk'.*local"):
        compute.python_func(
            sql=FEATURES_SQL,
            output="tx_features",
            engine="dusk",
            table_1=tx,
            table_version=_artifact(WorkspaceTable, root, "features"),
            metrics=_artifact(Metrics, root, "compute_metrics"),
            statistics=_artifact(Markdown, root, "compute_stats"),
        )
