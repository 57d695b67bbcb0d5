r"""The retraining loop on the flight-delay features as a DolphinScheduler workflow: monitor, retrain on drift.

The Airflow DAG ``dags/openfeat_flights_retraining.py``, task for task::

    monitor ─► drifted ─► retrain_condition ─┬─ success ─► compute_features ─► export_training_set ─► train_model
                                             │                                                        ─► redeploy
                                             └─ failed ──► no_drift

1. **monitor** (:class:`~dolphin_tasks.monitor.OpenFeatMonitor`) compares the features the service served (its
   request log: ``openfeat serve --log-requests RATE``) with the deployment's reference profile, over the model's
   inputs, and publishes ``${monitor_retrain}``.
2. **drifted** (Shell, :func:`~dolphin_tasks.monitor.retrain_check`) exits 0 when ``${monitor_retrain}`` is
   ``true``; **retrain_condition** (DS's Condition, which branches on its upstream's state) follows it.
3. **compute_features** recomputes ``examples/flights/features.sql`` over the workspace's latest tables,
   **export_training_set** writes the training set, **train_model** (Shell, ``flights_steps train``) fits the model,
   and **redeploy** deploys the script again on the service with the new training set as its reference profile.

As in the flights workflow, DS shows the check (and, in DS 3.1, the Condition and the instance) failed when nothing
drifted, while no_drift runs.

    python -m dolphin_tasks.examples.retraining_workflow --url http://feature-service:9080 \
        --workspace /data/openfeat/ws --data-dir /data/flights --environment openfeat [--run]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.condition import SUCCESS, And, Condition, Or
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.examples.flights_steps import example_data
from dolphin_tasks.examples.flights_workflow import DEPLOYMENT, FEATURES_SQL, _step
from dolphin_tasks.monitor import OpenFeatMonitor, retrain_check
from dolphin_tasks.tasks import OpenFeatCompute, OpenFeatDeploy, OpenFeatExport

__all__ = ["retraining_workflow"]


def retraining_workflow(
    *,
    name: str = "openfeat_flights_retraining",
    url: str,
    workspace: str,
    data_dir: str,
    psi_threshold: float = 0.25,
    min_rows: int = 100,
    token_file: str | None = None,
    environment_name: str | None = None,
    python: str = "python3",
) -> Workflow:
    """The retraining workflow (see the module docstring), defined and not submitted.

    Args:
        name: the DS workflow name.
        url: the service the deployment runs on (logging requests).
        workspace: the OpenFeat workspace (its latest tables hold the newest data).
        data_dir: default of the ``data_dir`` parameter: the training set and the model.
        psi_threshold, min_rows: defaults of the workflow parameters of those names.
        token_file: the service token's file on the worker (else ``$OPENFEAT_TOKEN`` of the environment).
        environment_name: the DS Environment every task runs in.
        python: the interpreter of the Shell steps in that environment.
    """
    data = example_data()
    sql = FEATURES_SQL.read_text(encoding="utf-8")
    common: dict[str, Any] = {"environment_name": environment_name}
    online: dict[str, Any] = {**common, "url": url, "token_file": token_file}
    param = {"data_dir": data_dir, "psi_threshold": str(psi_threshold), "min_rows": str(min_rows)}
    with Workflow(name=name, param=param) as workflow:
        monitor = OpenFeatMonitor(
            "monitor",
            deployment=DEPLOYMENT,
            features=[*data.MODEL_NUMERIC, *data.MODEL_CATEGORICAL],
            psi_threshold="${psi_threshold}",
            min_rows="${min_rows}",
            **online,
        )
        drifted = retrain_check("drifted", monitor, **common)
        monitor >> drifted
        features = OpenFeatCompute(
            "compute_features", sql=sql, table="features", timezone=data.LOCAL_TZ, workspace=workspace, **common
        )
        training_set = OpenFeatExport(
            "export_training_set",
            table="features",
            version="${compute_features_version}",
            path="${data_dir}/train.csv",
            workspace=workspace,
            **common,
        )
        model = Shell(
            "train_model",
            _step(python, "train", "--train-csv", '"${export_training_set_path}"', "--model-dir", '"${data_dir}"'),
            output_params={"flights_auc": "", "model_path": ""},
            **common,
        )
        redeploy = OpenFeatDeploy(
            "redeploy",
            deployment=DEPLOYMENT,
            sql=sql,
            reference="${export_training_set_path}",
            timezone=data.LOCAL_TZ,
            **online,
        )
        features >> training_set >> model >> redeploy
        no_drift = Shell("no_drift", "echo 'no drift (largest PSI ${monitor_max_psi}): the model stays'", **common)
        Condition(
            "retrain_condition",
            condition=And(Or(SUCCESS(drifted))),
            success_task=features,
            failed_task=no_drift,
        )
    return workflow


def main(argv: Sequence[str] | None = None) -> None:
    """Define the workflow and submit it through pydolphinscheduler's Python gateway (optionally start it)."""
    parser = argparse.ArgumentParser(description="Submit the OpenFeat retraining workflow to DolphinScheduler.")
    parser.add_argument("--name", default="openfeat_flights_retraining", help="The workflow name.")
    parser.add_argument("--url", required=True, help="The service the deployment runs on.")
    parser.add_argument("--workspace", default=os.environ.get("OPENFEAT_WORKSPACE", "./openfeat-workspace"))
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "openfeat_flights_retraining"))
    parser.add_argument("--token-file", default=None, help="The service token's file on the worker.")
    parser.add_argument("--environment", default=None, help="The DS Environment of the tasks.")
    parser.add_argument("--python", default="python3", help="The Shell steps' interpreter in that environment.")
    parser.add_argument("--run", action="store_true", help="Also start the workflow once submitted.")
    args = parser.parse_args(argv)
    workflow = retraining_workflow(
        name=args.name,
        url=args.url,
        workspace=args.workspace,
        data_dir=args.data_dir,
        token_file=args.token_file,
        environment_name=args.environment,
        python=args.python,
    )
    workflow.submit()
    if args.run:
        workflow.start()


if __name__ == "__main__":
    main()
