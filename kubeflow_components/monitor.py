"""The retraining loop as a Kubeflow pipeline: ``monitor`` a deployment, and under ``dsl.If(retrain)`` recompute,
export, train and redeploy.

```
monitor ─► If retrain: compute features ─► export CSV ─► train ─► redeploy (reference = the new training set)
```

The :func:`monitor` component runs :func:`openfeat_core.tasks.monitor` against a running ``openfeat serve`` (its
request log: ``--log-requests RATE``; token from ``$OPENFEAT_TOKEN``) and returns ``retrain`` (the condition's
operand); its ``report`` artifact holds the task's whole result (JSON) and ``metrics`` the PSI per feature. An
embedded store's request log lives in the process that served the requests, so a KFP task (a process, a pod)
monitors a service.

Compile with ``python -m kubeflow_components.monitor [DIR]`` (``monitor.yaml``, ``retraining_pipeline.yaml``;
default ``kubeflow_components/specs``).
"""

import sys
from pathlib import Path

from kfp import compiler, dsl, kubernetes
from kfp.dsl import Artifact, Metrics, Output

from kubeflow_components.components import IMAGE, compute, deploy, export
from kubeflow_components.pipeline import TOKEN_SECRET, train

__all__ = ["monitor", "retraining_pipeline"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def monitor(
    name: str,
    metrics: Output[Metrics],
    report: Output[Artifact],
    url: str = "",
    store: str = "",
    features: list = [],  # noqa: B006 - KFP takes a JSON default; it is never mutated
    psi_threshold: float = 0.25,
    null_rate_threshold: float = 0.1,
    min_rows: int = 100,
    period_seconds: float = 0.0,
    consistency_requests: int = 100,
    timeout: float = 600.0,
    timezone: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> bool:
    """Compare the features a deployment served with its training set's and decide whether to retrain
    (``openfeat monitor``).

    Args:
        name: the deployment.
        url: a running ``openfeat serve`` that logs requests (token from ``$OPENFEAT_TOKEN``).
        store: an embedded store directory instead (its log is this process's: empty unless it served here).
        features: the features to compare (the model's inputs); empty: every feature of the reference profile.
        psi_threshold: a feature with a larger PSI drifted.
        null_rate_threshold: a feature whose NULL rate moved by more than this drifted.
        min_rows: served rows needed to decide.
        period_seconds: only the requests served in the last this many seconds (0: the whole log).
        consistency_requests: the latest this many logged requests are recomputed offline.
        timeout: seconds to wait for the service's report.
        timezone: of calendar functions when ``store`` is opened here (empty: UTC).

    Returns:
        ``retrain``, the operand of ``dsl.If`` (one output: kfp.local resolves conditions on a component's single
        ``Output`` only); ``report`` holds the task's result (``MonitorResult.to_dict()``, JSON), ``metrics`` the
        PSI per feature.
    """
    import json

    from kubeflow_components.monitor_runtime import run_monitor
    from kubeflow_components.runtime import task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        result = run_monitor(
            name=name,
            url=url,
            store=store,
            features=features,
            psi_threshold=psi_threshold,
            null_rate_threshold=null_rate_threshold,
            min_rows=min_rows,
            period_seconds=period_seconds,
            consistency_requests=consistency_requests,
            timeout=timeout,
            timezone=timezone,
            metrics=metrics,
        )
    with open(report.path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    report.metadata.update({"retrain": result["retrain"], "max_psi": result["max_psi"], "rows": result["rows"]})
    return bool(result["retrain"])


@dsl.pipeline(name="openfeat-retraining", description="Monitor a deployment; retrain and redeploy when it drifted.")
def retraining_pipeline(
    service_url: str,
    deployment: str,
    workspace: str,
    sql: str,
    training_csv: str,
    label: str,
    numeric: list,
    categorical: list,
    monitored: list = [],  # noqa: B006 - KFP takes a JSON default; it is never mutated
    features_table: str = "features",
    timezone: str = "UTC",
    psi_threshold: float = 0.25,
    min_rows: int = 100,
    consistency_requests: int = 100,
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> None:
    """The loop (see the module docstring).

    Args:
        service_url: the running ``openfeat serve`` (logging requests) the deployment is served by.
        deployment: the deployment.
        workspace: the workspace its features are computed in (its latest tables hold the newest data).
        sql: the feature script.
        training_csv: where the new training set goes.
        label: the label column; numeric, categorical: the model's inputs.
        monitored: the features monitor compares (the model's inputs); empty: every feature of the reference.
        features_table: the workspace table the features are computed into.
        timezone: of the script's calendar functions.
        psi_threshold: retrain above this PSI.
        min_rows: served rows needed to decide.
        consistency_requests: logged requests recomputed offline by monitor.
        mlflow_tracking_uri: MLflow tracking server (empty: no tracking).
        mlflow_experiment: MLflow experiment.
    """
    tracking = {
        "kfp_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        "kfp_run_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        "kfp_task_name": dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
        "mlflow_tracking_uri": mlflow_tracking_uri,
        "mlflow_experiment": mlflow_experiment,
    }
    # Every run looks at the traffic as it is now: a cached report would hide a drift.
    checked = monitor(
        name=deployment,
        url=service_url,
        features=monitored,
        psi_threshold=psi_threshold,
        min_rows=min_rows,
        consistency_requests=consistency_requests,
        **tracking,
    ).set_caching_options(False)
    with dsl.If(checked.outputs["Output"] == True, name="retrain"):  # noqa: E712 - KFP builds the condition from ==
        features = compute(sql=sql, output=features_table, workspace=workspace, timezone=timezone, **tracking)
        features.set_caching_options(False).set_display_name("recompute features")
        csv = export(table=features.outputs["table_version"], path=training_csv, format="csv", **tracking)
        csv.set_display_name("export training set")
        trained = train(training_set=csv.outputs["training_set"], label=label, numeric=numeric, categorical=categorical)
        redeployed = deploy(
            name=deployment, sql=sql, url=service_url, timezone=timezone, reference=training_csv, **tracking
        ).after(trained)
        redeployed.set_display_name("redeploy")
        for task in (checked, redeployed):
            kubernetes.use_secret_as_env(
                task, secret_name=TOKEN_SECRET, secret_key_to_env={"token": "OPENFEAT_TOKEN"}, optional=True
            )


def main(argv: list[str] | None = None) -> None:
    """Compile the component and the pipeline to IR YAML."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent / "specs"
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in (("monitor", monitor), ("retraining_pipeline", retraining_pipeline)):
        compiler.Compiler().compile(spec, package_path=str(out / f"{name}.yaml"))
        print(out / f"{name}.yaml")


if __name__ == "__main__":
    main()
