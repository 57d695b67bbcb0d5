"""The retraining loop in kfp.local: the monitor component against a real service (drifted and undrifted traffic),
and a pipeline whose retraining branch (recompute -> export -> redeploy with the new training set as reference)
runs under ``dsl.If(monitor.retrain == True)`` only when the traffic drifted. The example pipeline compiles."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from kfp import dsl
from monitor_scenario import DEPLOYMENT, FEATURE, SQL, service, serving_store, transactions

from kubeflow_components.components import compute, deploy, export, ingest
from kubeflow_components.monitor import monitor, retraining_pipeline


@dsl.pipeline(name="test-retraining-loop")
def loop(url: str, workspace: str, source: str, training_csv: str) -> None:
    checked = monitor(name=DEPLOYMENT, url=url, features=[FEATURE], consistency_requests=2).set_caching_options(False)
    with dsl.If(checked.outputs["Output"] == True, name="retrain"):  # noqa: E712 - KFP builds the condition from ==
        landed = ingest(workspace=workspace, table="tx", source=source).set_caching_options(False)
        features = compute(sql=SQL, output="features", table_1=landed.outputs["table_version"])
        csv = export(table=features.outputs["table_version"], path=training_csv, format="csv")
        deploy(name=DEPLOYMENT, sql=SQL, url=url, reference=training_csv).after(csv)


def _outputs(root: Path, task: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.glob(f"*/{task}/executor_output.json"))]


def test_the_loop_retrains_only_on_drift(local_kfp: Path, tmp_path: Path) -> None:
    source = tmp_path / "tx-new.parquet"
    pq.write_table(transactions(500, 120.0, seed=5), source)
    for drifted in (False, True):
        store = serving_store(tmp_path / f"store-{drifted}", drifted=drifted)
        try:
            with service(store) as url:
                loop(url=url, workspace=str(tmp_path / "ws"), source=str(source), training_csv=str(tmp_path / "t.csv"))
        finally:
            reference = store.reference(DEPLOYMENT)
            store.close()
        redeployed = (reference or {}).get("source") == {"kind": "file", "path": str(tmp_path / "t.csv")}
        assert redeployed is drifted
    (quiet, drift) = _outputs(local_kfp, "monitor")
    assert quiet["parameterValues"]["Output"] is False and drift["parameterValues"]["Output"] is True
    (report,) = sorted(local_kfp.glob("*/monitor/report"))[1:]
    assert json.loads(report.read_text())["drifted"] == [FEATURE]
    (deployed,) = _outputs(local_kfp, "deploy")
    assert deployed["parameterValues"]["Output"]["new_version"] is False  # the same script, a new reference


def test_the_example_pipeline_compiles_with_its_condition(tmp_path: Path) -> None:
    from kfp import compiler

    path = tmp_path / "retraining_pipeline.yaml"
    compiler.Compiler().compile(retraining_pipeline, package_path=str(path))
    spec = next(yaml.safe_load_all(path.read_text()))  # then the Kubernetes platform spec (the token secret)
    tasks = spec["root"]["dag"]["tasks"]
    condition = next(t for t in tasks.values() if "triggerPolicy" in t)
    assert "monitor-Output" in condition["triggerPolicy"]["condition"]
    inner = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert {"compute", "export", "train", "deploy"} <= set(inner)


def test_the_committed_specs_are_current(tmp_path: Path) -> None:
    from kubeflow_components.compile import SPECS_DIR
    from kubeflow_components.components import IMAGE
    from kubeflow_components.monitor import main

    if not IMAGE.startswith("ghcr.io/openfeat/openfeat-kfp:"):
        pytest.skip(f"OPENFEAT_KFP_IMAGE={IMAGE} is set; the specs are compiled with the default image")
    main([str(tmp_path)])
    for name in ("monitor", "retraining_pipeline"):
        committed = SPECS_DIR / f"{name}.yaml"
        assert committed.read_text() == (tmp_path / f"{name}.yaml").read_text(), (
            f"{committed} is stale: run python -m kubeflow_components.monitor and commit the specs"
        )
