"""The MLflow tracking hook: one MLflow run per task run, nested under one parent run per pipeline run.

:class:`MlflowTrackingHook` is a :class:`~openfeat_core.tasks.TaskHook`, installed through the ``openfeat.hooks``
entry point of this package, so every task (Python, the ``openfeat`` command line, orchestrator adapters) is tracked
once tracking is on (see :mod:`mlflow_hooks.config`). While it is off, a task costs the hook the reading of a few
environment variables: MLflow is imported at the first tracked task only.

**A task run.** ``before_task`` creates the run (named ``<task> <target>``, tagged ``openfeat.*``, with the
request's settings as params) so that it shows as running while the task runs; ``after_task`` logs what the task
produced (see :mod:`mlflow_hooks.record`): tags, metrics, the SQL / plan JSON / EXPLAIN / schemas as artifacts, the
tables and files read and written as MLflow datasets, and for ``compute`` and ``export`` the feature statistics of
the table (a table artifact, ``stats.*`` metrics, histogram figures) and their drift from the previous run of the
same script (``psi.*`` metrics and a figure), then ends the run FINISHED or FAILED. The MLflow client API is used
throughout (never the fluent API's active run), so no run leaks from one task or thread to another.

**Pipelines.** A task with a pipeline run id (OpenFeat's parent run id, ``$OPENFEAT_PARENT_RUN_ID``, else the
orchestrator's run id) is a child (``mlflow.parentRunId``) of the run tagged ``openfeat.kind=pipeline`` and
``openfeat.pipeline_run_id=<id>`` in the experiment, created by the first task of the pipeline run (two first tasks
racing keep the older parent and delete the other). The parent's status is the last task's. ``deploy`` tags its
run with ``openfeat.training_run_id``: the latest finished ``export`` run (else ``compute`` run) of the same plan
digest, i.e. the training set its script came from. ``verify`` logs its consistency figures to its own run and, as
``verify.*`` metrics (one step per verify), to the latest finished ``deploy`` run of the deployment; ``monitor``
likewise logs its drift figures and decision (``monitor.retrain``, ``monitor.max_psi``, ``monitor.psi.<feature>``...)
there as ``monitor.*`` metrics, so the deployment's run shows its drift over time.

**Failures.** Tracking never fails a task unless ``strict`` is set: MLflow's HTTP requests are not retried and
have a timeout of a third of ``timeout`` (only while the hook calls MLflow), and a task's MLflow calls stop once they
took ``timeout`` seconds in all. The first failure (server down, slow, refusing a call, MLflow not installed) is
logged once as a warning on logger ``openfeat.mlflow``; tasks of that process are then no longer tracked to that
URI. With ``strict``, the failure fails the task instead (from ``before_task``: before the task does anything).

MLflow's usage telemetry is switched off for the process (``MLFLOW_DISABLE_TELEMETRY``, unless set) before MLflow is
first imported: a pipeline task should not contact third-party servers as a side effect of being tracked. So is
MLflow's "View run at <url>" line on stdout (``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``, unless set): a task's stdout
is its result (``openfeat TASK --json`` prints exactly one JSON document, which shell orchestrators parse); the run's
URL is logged on logger ``openfeat.mlflow`` instead.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from mlflow_hooks.config import TrackingSettings, current_settings
from mlflow_hooks.orchestrators import detect_orchestrator
from mlflow_hooks.record import LoggedDataset, TaskOutcome, describe_outcome, describe_start
from openfeat_core.monitoring.stats import (
    FeatureStats,
    drift_figure,
    histogram_figures,
    population_stability,
    reference_bins,
    table_statistics,
)
from openfeat_core.tasks.hooks import TaskContext

__all__ = ["BINS_ARTIFACT", "RUN_ATTRIBUTE", "MlflowTrackingHook", "TrackingTimeout"]

logger = logging.getLogger("openfeat.mlflow")

#: Key of the open run in :attr:`TaskContext.attributes`.
RUN_ATTRIBUTE = "mlflow_hooks.run"
#: Artifact holding a run's PSI reference bins, read by the next run of the same script.
BINS_ARTIFACT = "feature_stats/bins.json"
#: MLflow's tag that nests a run under another.
PARENT_TAG = "mlflow.parentRunId"

_T = TypeVar("_T")
# Characters MLflow accepts in metric and param keys; anything else becomes "_".
_KEY_CHARS = re.compile(r"[^\w\-. /]")
# MLflow's per-request limits of log_batch.
_BATCH_PARAMS, _BATCH_TAGS, _BATCH_ENTITIES = 100, 100, 1000
# The HTTP settings of MLflow's REST client, set while the hook calls MLflow (they are read at each request).
_HTTP_ENV_LOCK = threading.RLock()


class TrackingTimeout(Exception):
    """The MLflow calls of one task took longer than the ``timeout`` setting allows."""


@dataclass
class _Budget:
    """Seconds of MLflow calls a task run may still spend."""

    total: float
    spent: float = 0.0


class _BoundedClient:
    """An ``MlflowClient`` whose method calls are timed against a task's budget and refused once it is spent."""

    def __init__(self, client: Any, budget: _Budget) -> None:
        self._client = client
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._budget.spent >= self._budget.total:
                raise TrackingTimeout(f"the MLflow calls of this task took more than {self._budget.total:g} s")
            started = time.monotonic()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._budget.spent += time.monotonic() - started

        return call


@dataclass
class _OpenRun:
    """The MLflow run of a task run, between ``before_task`` and ``after_task``."""

    hook: MlflowTrackingHook
    settings: TrackingSettings
    budget: _Budget
    task: str
    run_id: str
    experiment_id: str
    parent_run_id: str | None
    pipeline_key: str | None


@dataclass
class _Statistics:
    """Feature statistics of a run, with what is drawn and stored from them."""

    features: list[FeatureStats]
    title: str
    pictures: list[Path] = field(default_factory=list)


class MlflowTrackingHook:
    """Logs every task run to MLflow while tracking is on (see the module docstring and :mod:`mlflow_hooks.config`).

    One instance serves the whole process (the entry point creates it); several instances do not log a task twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._given_up: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._experiments: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return "MlflowTrackingHook()"

    @property
    def strict(self) -> bool:
        """True when tracking failures fail the task (``strict`` setting); read by the task runner."""
        try:
            return current_settings().strict
        except ValueError:  # a malformed setting is reported by before_task; it must not break error handling
            return False

    # ------------------------------------------------------------------------------------------------------------
    # The hook
    # ------------------------------------------------------------------------------------------------------------

    def before_task(self, *, task_name: str, request: Any, context: TaskContext, **future: Any) -> None:
        """Open the task's MLflow run (and its pipeline's parent run), with its tags and params.

        Raises:
            ValueError: a malformed tracking setting in the environment.
            Exception: with ``strict``, whatever made tracking fail.
        """
        settings = current_settings()
        if not settings.enabled or RUN_ATTRIBUTE in context.attributes or self._gave_up(settings):
            return
        start = describe_start(task_name, request, context, detect_orchestrator())
        budget = _Budget(settings.timeout)

        def open_run() -> _OpenRun:
            client = self._client(settings, budget)
            experiment_id = self._experiment_id(client, settings)
            parent = self._parent_run(client, experiment_id, start.pipeline_key, start.pipeline_name, start.tags)
            tags = dict(start.tags)
            if parent is not None:
                tags[PARENT_TAG] = parent
            run = client.create_run(
                experiment_id, start_time=_ms(context.started_at), tags=tags, run_name=start.run_name
            )
            _log_batch(client, run.info.run_id, params=start.params)
            return _OpenRun(
                self, settings, budget, task_name, run.info.run_id, experiment_id, parent, start.pipeline_key
            )

        opened = self._attempt(settings, open_run)
        if opened is not None:
            context.attributes[RUN_ATTRIBUTE] = opened

    def after_task(
        self,
        *,
        task_name: str,
        request: Any,
        result: Any | None,
        error: BaseException | None,
        context: TaskContext,
        **future: Any,
    ) -> None:
        """Log what the task produced to its run and end the run (FINISHED, or FAILED with the error).

        Raises:
            Exception: with ``strict``, whatever made tracking fail.
        """
        opened = context.attributes.get(RUN_ATTRIBUTE)
        if not isinstance(opened, _OpenRun) or opened.hook is not self or self._gave_up(opened.settings):
            return
        settings = opened.settings
        outcome = self._local(
            settings, "describe the task", lambda: describe_outcome(task_name, request, result, error, context)
        )
        if outcome is None:
            outcome = TaskOutcome(status="FAILED" if error is not None else "FINISHED")
        statistics = None
        if outcome.stats_source is not None:
            statistics = self._local(settings, "compute the feature statistics", lambda: _statistics(outcome))
        with tempfile.TemporaryDirectory(prefix="openfeat-mlflow-") as directory:
            if statistics is not None and statistics.features:
                # Drawn here, before the MLflow calls: rendering is local work, not tracking time.
                pictures = self._local(settings, "draw the histograms", lambda: _draw(statistics, Path(directory)))
                statistics.pictures = pictures or []
            self._attempt(settings, lambda: self._close_run(opened, outcome, statistics))

    # ------------------------------------------------------------------------------------------------------------
    # Failure handling
    # ------------------------------------------------------------------------------------------------------------

    def _attempt(self, settings: TrackingSettings, action: Callable[[], _T]) -> _T | None:
        """Run MLflow calls under bounded HTTP settings; a failure gives up tracking (warned once) unless strict."""
        try:
            with _http_limits(settings):
                return action()
        except Exception as error:
            if settings.strict:
                raise
            self._give_up(settings, error)
            return None

    def _local(self, settings: TrackingSettings, what: str, action: Callable[[], _T]) -> _T | None:
        """Local work for a run (no MLflow call): a failure leaves that part out of the run, unless strict."""
        try:
            return action()
        except Exception as error:
            if settings.strict:
                raise
            logger.warning(
                "openfeat: could not %s for MLflow (%s: %s); logged without it", what, type(error).__name__, error
            )
            return None

    def _gave_up(self, settings: TrackingSettings) -> bool:
        return not settings.strict and _uri_key(settings) in self._given_up

    def _give_up(self, settings: TrackingSettings, error: Exception) -> None:
        key = _uri_key(settings)
        with self._lock:
            if key in self._given_up:
                return
            self._given_up[key] = f"{type(error).__name__}: {error}"
        hint = " (pip install 'openfeat[mlflow]')" if isinstance(error, ImportError) else ""
        logger.warning(
            "openfeat: MLflow tracking to %s failed (%s: %s%s); the task goes on untracked, and so will the next "
            "tasks of this process (set OPENFEAT_MLFLOW_STRICT=1 to fail tasks instead)",
            key,
            type(error).__name__,
            _first_line(str(error)),
            hint,
        )

    # ------------------------------------------------------------------------------------------------------------
    # MLflow
    # ------------------------------------------------------------------------------------------------------------

    def _client(self, settings: TrackingSettings, budget: _Budget) -> _BoundedClient:
        key = _uri_key(settings)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
                os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
                from mlflow.tracking import MlflowClient

                client = self._clients[key] = MlflowClient(tracking_uri=settings.tracking_uri)
        return _BoundedClient(client, budget)

    def _experiment_id(self, client: _BoundedClient, settings: TrackingSettings) -> str:
        key = (_uri_key(settings), settings.experiment)
        cached = self._experiments.get(key)
        if cached is not None:
            return cached
        from mlflow.exceptions import MlflowException

        experiment = client.get_experiment_by_name(settings.experiment)
        if experiment is None:
            try:
                experiment_id = client.create_experiment(
                    settings.experiment,
                    artifact_location=_local_artifact_location(settings.tracking_uri),
                    # The MLflow 3 UI opens such an experiment on its runs table, not on GenAI traces.
                    tags={"mlflow.experimentKind": "custom_model_development"},
                )
            except MlflowException as e:
                if e.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment_id = client.get_experiment_by_name(settings.experiment).experiment_id  # created meanwhile
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment_id)
        self._experiments[key] = str(experiment_id)
        return str(experiment_id)

    def _parent_run(
        self, client: _BoundedClient, experiment_id: str, key: str | None, name: str, task_tags: Mapping[str, str]
    ) -> str | None:
        """The run id of the pipeline run's parent run, found (and marked running again) or created."""
        if key is None:
            return None
        found = _pipeline_runs(client, experiment_id, key)
        if found:
            parent = found[0]
            if parent.info.status != "RUNNING":
                client.update_run(parent.info.run_id, status="RUNNING")
            return str(parent.info.run_id)
        shared = (
            "openfeat.version",
            "openfeat.orchestrator",
            "openfeat.orchestrator.pipeline",
            "openfeat.orchestrator.run_id",
        )
        tags = {
            "openfeat.kind": "pipeline",
            "openfeat.pipeline_run_id": key,
            **{k: v for k, v in task_tags.items() if k in shared},
        }
        created = client.create_run(experiment_id, tags=tags, run_name=name or f"pipeline {key[:12]}")
        # Two first tasks of a pipeline run may both have created a parent: all keep the oldest one.
        found = _pipeline_runs(client, experiment_id, key)
        winner = found[0] if found else created
        if winner.info.run_id != created.info.run_id:
            client.delete_run(created.info.run_id)
        return str(winner.info.run_id)

    def _close_run(self, opened: _OpenRun, outcome: TaskOutcome, statistics: _Statistics | None) -> None:
        client = self._client(opened.settings, opened.budget)
        run_id = opened.run_id
        tags = dict(outcome.tags)
        metrics = dict(outcome.metrics)
        if statistics is not None and outcome.stats_key is not None:
            tags["openfeat.stats_key"] = outcome.stats_key
            for feature in statistics.features:
                metrics.update(feature.metrics())
        _log_batch(client, run_id, params=outcome.params, tags=tags, metrics=metrics)
        for path, text in outcome.texts.items():
            client.log_text(run_id, text, path)
        if outcome.datasets:
            client.log_inputs(run_id, datasets=[_dataset_input(d) for d in outcome.datasets])
        if statistics is not None and statistics.features:
            self._log_statistics(client, opened, outcome, statistics)
        if opened.task == "deploy" and outcome.plan_digest and outcome.status == "FINISHED":
            self._link_training_run(client, opened, outcome.plan_digest)
        if opened.task == "verify" and outcome.deployment and outcome.verify_metrics:
            self._report_to_deployment(client, opened, outcome, "verify", outcome.verify_metrics)
        if opened.task == "monitor" and outcome.deployment and outcome.monitor_metrics:
            self._report_to_deployment(client, opened, outcome, "monitor", outcome.monitor_metrics)
        parent = self._surviving_parent(client, opened)
        client.set_terminated(run_id, status=outcome.status)
        if parent is not None:
            client.set_terminated(parent, status=outcome.status)

    def _surviving_parent(self, client: _BoundedClient, opened: _OpenRun) -> str | None:
        """The parent run the task's run ends under: the one it opened under, unless a task of the same pipeline run
        that started at the same time created an older parent after this one looked, and deleted this one (the
        oldest is kept): the run then moves under the survivor, so that no task run is left under a deleted parent
        (tasks of one DolphinScheduler or Airflow run start in parallel)."""
        if opened.parent_run_id is None or opened.pipeline_key is None:
            return opened.parent_run_id
        parents = _pipeline_runs(client, opened.experiment_id, opened.pipeline_key)
        if not parents or str(parents[0].info.run_id) == opened.parent_run_id:
            return opened.parent_run_id
        survivor = str(parents[0].info.run_id)
        client.set_tag(opened.run_id, PARENT_TAG, survivor)
        return survivor

    def _log_statistics(
        self, client: _BoundedClient, opened: _OpenRun, outcome: TaskOutcome, statistics: _Statistics
    ) -> None:
        rows = [feature.row() for feature in statistics.features]
        client.log_table(
            opened.run_id, data={c: [r[c] for r in rows] for c in rows[0]}, artifact_file="feature_stats/stats.json"
        )
        client.log_dict(opened.run_id, reference_bins(statistics.features), BINS_ARTIFACT)
        for picture in statistics.pictures:
            client.log_artifact(opened.run_id, str(picture), "feature_stats")
        previous = _latest_run(
            client, opened.experiment_id, {"openfeat.stats_key": outcome.stats_key or ""}, exclude=opened.run_id
        )
        if previous is None:
            return
        reference = _read_json_artifact(client, previous.info.run_id, BINS_ARTIFACT)
        if reference is None:
            return
        psi = population_stability(reference, statistics.features)
        if not psi:
            return
        baseline = previous.info.run_id
        _log_batch(
            client,
            opened.run_id,
            tags={"openfeat.drift_baseline_run_id": baseline},
            metrics={**{f"psi.{name}": value for name, value in psi.items()}, "psi.max": max(psi.values())},
        )
        client.log_dict(opened.run_id, {"baseline_run_id": baseline, "psi": psi}, "drift/psi.json")
        title = f"{statistics.title}: drift vs run {previous.info.run_name or baseline[:8]} ({baseline[:8]})"
        client.log_figure(opened.run_id, drift_figure(psi, title), "drift/psi.png")

    def _link_training_run(self, client: _BoundedClient, opened: _OpenRun, plan_digest: str) -> None:
        """Tag a deploy run with the latest training-set run (export, else compute) of the same script."""
        for task in ("export", "compute"):
            found = _latest_run(
                client, opened.experiment_id, {"openfeat.task": task, "openfeat.plan_digest": plan_digest}
            )
            if found is not None:
                _log_batch(
                    client,
                    opened.run_id,
                    tags={"openfeat.training_run_id": found.info.run_id, "openfeat.training_run_task": task},
                )
                return

    def _report_to_deployment(
        self, client: _BoundedClient, opened: _OpenRun, outcome: TaskOutcome, task: str, figures: Mapping[str, float]
    ) -> None:
        """Log verify's consistency figures, or monitor's drift figures, to the deployment's run as ``<task>.*``
        metrics, one step per verify (monitor) run."""
        assert outcome.deployment is not None
        wanted = {"openfeat.task": "deploy", "openfeat.deployment": outcome.deployment}
        target = outcome.tags.get("openfeat.target")
        deployed = (target and _latest_run(client, opened.experiment_id, {**wanted, "openfeat.target": target})) or (
            _latest_run(client, opened.experiment_id, wanted)
        )
        if not deployed:
            return
        deploy_run = deployed.info.run_id
        step = len(client.get_metric_history(deploy_run, f"{task}.requests"))
        _log_batch(
            client,
            deploy_run,
            tags={f"openfeat.last_{task}_run_id": opened.run_id},
            metrics={f"{task}.{key}": value for key, value in figures.items()},
            step=step,
        )
        _log_batch(client, opened.run_id, tags={"openfeat.deploy_run_id": deploy_run})


# =====================================================================================================================
# Helpers
# =====================================================================================================================
def _statistics(outcome: TaskOutcome) -> _Statistics:
    """Feature statistics of the outcome's table version, streamed batch by batch."""
    source = outcome.stats_source
    assert source is not None
    ws, info = source.open()
    columns = list(source.columns) if source.columns is not None else None
    schema = pa.schema([info.schema.field(c) for c in columns]) if columns is not None else info.schema
    # The same table version gives the same sample: the seed comes from its digest.
    seed = int(info.digest.removeprefix("sha256:")[:8], 16) if info.digest.startswith("sha256:") else 0
    features = table_statistics(
        ws.iter_batches(info.table, info.version, columns=columns), schema, info.num_rows, seed=seed
    )
    return _Statistics(features, f"{info.table} v{info.version}")


def _draw(statistics: _Statistics, directory: Path) -> list[Path]:
    """The histogram figures of the statistics, as PNG files in ``directory``."""
    pictures = []
    for name, figure in histogram_figures(statistics.features, statistics.title):
        path = directory / name
        figure.savefig(path, dpi=90)
        pictures.append(path)
    return pictures


@contextmanager
def _http_limits(settings: TrackingSettings) -> Iterator[None]:
    """Bound MLflow's HTTP requests while the hook calls MLflow: no retry, a short timeout (restored after).

    No retry: a tracking server that fails a request is given up on at once rather than retried with back-off on
    every call of every task (MLflow's defaults: 7 retries, 120 s timeout)."""
    values = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(settings.request_timeout),
    }
    with _HTTP_ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _uri_key(settings: TrackingSettings) -> str:
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "MLflow's default tracking URI"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 1000 else line[:999] + "…"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _local_artifact_location(tracking_uri: str | None) -> str | None:
    """Artifacts of a ``sqlite:///dir/x.db`` store go to ``dir/mlruns`` (not the current directory); else MLflow's
    default."""
    if tracking_uri is None or not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    return (database.resolve().parent / "mlruns").as_uri()


def _search_filter(tags: Mapping[str, str], finished: bool) -> str:
    """An MLflow search filter for runs with these tag values (quotes in values are matched by LIKE's ``_``)."""
    clauses = []
    for key, value in tags.items():
        if "'" in value:
            clauses.append(f"tags.`{key}` LIKE '{value.replace(chr(39), '_')}'")
        else:
            clauses.append(f"tags.`{key}` = '{value}'")
    if finished:
        clauses.append("attributes.status = 'FINISHED'")
    return " and ".join(clauses)


def _pipeline_runs(client: _BoundedClient, experiment_id: str, key: str) -> list[Any]:
    """The parent runs of a pipeline run, oldest first."""
    wanted = {"openfeat.kind": "pipeline", "openfeat.pipeline_run_id": key}
    runs = client.search_runs([experiment_id], _search_filter(wanted, finished=False), max_results=20)
    matching = [r for r in runs if r.data.tags.get("openfeat.pipeline_run_id") == key]
    return sorted(matching, key=lambda r: (r.info.start_time, r.info.run_id))


def _latest_run(
    client: _BoundedClient, experiment_id: str, tags: Mapping[str, str], exclude: str | None = None
) -> Any | None:
    """The most recently started finished run with these tag values, or None."""
    runs = client.search_runs(
        [experiment_id], _search_filter(tags, finished=True), order_by=["attributes.start_time DESC"], max_results=5
    )
    for run in runs:
        if run.info.run_id != exclude and all(run.data.tags.get(k) == v for k, v in tags.items()):
            return run
    return None


def _read_json_artifact(client: _BoundedClient, run_id: str, path: str) -> dict[str, Any] | None:
    """A JSON artifact of a run, or None if it cannot be read (e.g. the run was logged without it)."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            local = client.download_artifacts(run_id, path, dst_path=directory)
            data = json.loads(Path(local).read_text(encoding="utf-8"))
        except TrackingTimeout:
            raise
        except Exception as error:
            logger.debug("openfeat: no %s in run %s (%s)", path, run_id, error)
            return None
    return data if isinstance(data, dict) else None


def _log_batch(
    client: _BoundedClient,
    run_id: str,
    *,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    metrics: Mapping[str, float] | None = None,
    step: int = 0,
) -> None:
    """Params, tags and finite metrics in as few ``log_batch`` calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    pending_params = [Param(_key(k), v) for k, v in (params or {}).items()]
    pending_tags = [RunTag(k, v) for k, v in (tags or {}).items()]
    pending_metrics = [Metric(_key(k), float(v), now, step) for k, v in (metrics or {}).items() if _finite(v)]
    while pending_params or pending_tags or pending_metrics:
        batch_params, pending_params = pending_params[:_BATCH_PARAMS], pending_params[_BATCH_PARAMS:]
        batch_tags, pending_tags = pending_tags[:_BATCH_TAGS], pending_tags[_BATCH_TAGS:]
        room = _BATCH_ENTITIES - len(batch_params) - len(batch_tags)
        batch_metrics, pending_metrics = pending_metrics[:room], pending_metrics[room:]
        client.log_batch(run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags)


def _key(name: str) -> str:
    return _KEY_CHARS.sub("_", name)[:250]


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _dataset_input(ref: LoggedDataset) -> Any:
    """An MLflow ``DatasetInput`` for a table version or file, with its context (source / input / output)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    source: Any
    if ref.uri is None:
        source = CodeDatasetSource(tags={"openfeat.source": ref.name})
    else:
        try:
            with warnings.catch_warnings():  # MLflow registers its local source twice ("" and "file") and says so
                warnings.simplefilter("ignore", UserWarning)
                source = resolve_dataset_source(ref.uri)
        except Exception:  # a scheme MLflow has no dataset source for: keep the URI as a tag
            source = CodeDatasetSource(tags={"uri": ref.uri})
    profile = {k: v for k, v in (("num_rows", ref.rows), ("num_bytes", ref.num_bytes)) if v is not None}
    entity = Dataset(
        name=ref.name,
        digest=ref.digest,
        source_type=source._get_source_type(),
        source=source.to_json(),
        schema=_mlflow_schema(ref.schema) if ref.schema is not None else None,
        profile=json.dumps(profile) if profile else None,
    )
    tags = [InputTag(MLFLOW_DATASET_CONTEXT, ref.context), *(InputTag(k, v) for k, v in ref.tags.items())]
    return DatasetInput(entity, tags)


def _mlflow_schema(schema: pa.Schema) -> str:
    """An Arrow schema as MLflow's column-spec schema JSON (types MLflow lacks are described as strings)."""
    from mlflow.types import ColSpec, DataType, Schema

    def mlflow_type(dtype: pa.DataType) -> DataType:
        if pa.types.is_boolean(dtype):
            return DataType.boolean
        if pa.types.is_integer(dtype):
            return DataType.long if dtype.bit_width > 32 else DataType.integer
        if pa.types.is_float32(dtype) or pa.types.is_float16(dtype):
            return DataType.float
        if pa.types.is_floating(dtype):
            return DataType.double
        if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
            return DataType.datetime
        if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
            return DataType.binary
        return DataType.string

    columns = Schema([ColSpec(mlflow_type(f.type), f.name) for f in schema])
    return json.dumps({"mlflow_colspec": columns.to_dict()})
