"""MLflow tracking of OpenFeat's task runs: a task hook, feature statistics, drift, and lineage between runs.

Install with ``pip install 'openfeat[mlflow]'``. The package declares the entry point ``openfeat.hooks: mlflow``, so
every task run (Python, the ``openfeat`` command line, orchestrator adapters) goes through
:class:`MlflowTrackingHook`, which logs it to MLflow when tracking is on:

* ``MLFLOW_TRACKING_URI`` set (or ``OPENFEAT_TRACK=1``: MLflow's default store), or :func:`configure` in Python;
  ``OPENFEAT_TRACK=0`` / ``configure(track=False)`` switches it off. Off when none is set.
* ``OPENFEAT_MLFLOW_EXPERIMENT`` names the experiment (default ``openfeat``), ``OPENFEAT_MLFLOW_STRICT=1`` makes
  tracking failures fail the task, ``OPENFEAT_MLFLOW_TIMEOUT`` bounds the time a task spends on MLflow calls.

Importing this package does not import MLflow (nor matplotlib): the entry point is loaded on every task run.

Example::

    import mlflow_hooks
    from openfeat_core import tasks

    mlflow_hooks.configure(track=True, tracking_uri="http://127.0.0.1:5000", experiment="fraud-features")
    with mlflow_hooks.pipeline_run("nightly features"):  # one parent run, the tasks as its children
        tasks.ingest(...)
        tasks.compute(...)
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflow_hooks.config import TrackingSettings, configure, current_settings, reset
from mlflow_hooks.hook import MlflowTrackingHook
from mlflow_hooks.record import PIPELINE_NAME_ENV
from openfeat_core.tasks.hooks import PARENT_RUN_ENV

__all__ = [
    "PIPELINE_NAME_ENV",
    "MlflowTrackingHook",
    "TrackingSettings",
    "configure",
    "current_settings",
    "pipeline_run",
    "reset",
    "track_locally",
    "ui_command",
]


@contextmanager
def pipeline_run(name: str | None = None, run_id: str | None = None) -> Iterator[str]:
    """Group the task runs of the block as one pipeline run: one parent MLflow run, the tasks as its children.

    Sets ``OPENFEAT_PARENT_RUN_ID`` (and ``OPENFEAT_PIPELINE_NAME``, the parent run's name) for the block and
    restores them after. Orchestrator adapters do the same with their own run ids.

    Args:
        name: the parent run's name (default ``pipeline <id>``).
        run_id: the pipeline run's id (default: a new one).

    Yields:
        The pipeline run id.
    """
    pipeline_id = run_id or uuid.uuid4().hex
    saved = {key: os.environ.get(key) for key in (PARENT_RUN_ENV, PIPELINE_NAME_ENV)}
    os.environ[PARENT_RUN_ENV] = pipeline_id
    if name:
        os.environ[PIPELINE_NAME_ENV] = name
    else:
        os.environ.pop(PIPELINE_NAME_ENV, None)
    try:
        yield pipeline_id
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def track_locally(directory: str | os.PathLike[str], experiment: str | None = None) -> str | None:
    """Track to a SQLite store in ``directory`` unless the environment already decided; returns the URI in use.

    When neither ``MLFLOW_TRACKING_URI`` nor ``OPENFEAT_TRACK`` is set, tracking is switched on for this process with
    ``sqlite:///<directory>/mlflow.db`` (artifacts in ``<directory>/mlruns``). Otherwise the environment's choice
    stands. Returns None when tracking is off or MLflow is not installed (nothing is switched on then).
    """
    if importlib.util.find_spec("mlflow") is None:
        return None
    if "MLFLOW_TRACKING_URI" not in os.environ and "OPENFEAT_TRACK" not in os.environ:
        store = Path(directory).resolve()
        store.mkdir(parents=True, exist_ok=True)
        configure(track=True, tracking_uri=f"sqlite:///{store / 'mlflow.db'}", experiment=experiment)
    elif experiment is not None:
        configure(experiment=experiment)
    settings = current_settings()
    if not settings.enabled:
        return None
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


def ui_command(tracking_uri: str) -> str:
    """The command that shows a tracking store in the MLflow UI (a server URI is opened in a browser instead)."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri} in a browser"
    return f"mlflow ui --backend-store-uri {tracking_uri}"
