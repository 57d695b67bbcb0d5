"""What a component does when it runs: build the task request, run the core task API, fill the output artifacts.

The component functions in :mod:`kubeflow_components.components` are one call into this module each, so that
their embedded source stays a few lines and the logic is type-checked and tested here like any Python. Nothing in
this module imports kfp: artifacts are duck-typed (anything with ``uri``, ``path`` and ``metadata``, and
``log_metric`` for metrics), which is what KFP's executor hands a component function.

Errors are never swallowed: the task's exception propagates, so KFP marks the task failed, after one line on
stderr that says whether it is terminal (the SQL, the arguments or the data must change; retrying cannot help) or
transient (retry with ``task.set_retry(...)``), from :func:`openfeat_core.errors.classify`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from openfeat_core.tasks.base import TaskResult
from openfeat_core.tasks.hooks import PARENT_RUN_ENV, exported_environment

__all__ = [
    "ArtifactLike",
    "MetricsLike",
    "pipeline_parent_run_id",
    "run_compute",
    "run_deploy",
    "run_export",
    "run_ingest",
    "run_ingest_stream",
    "run_verify",
    "task_environment",
]

_R = TypeVar("_R", bound=TaskResult)


class ArtifactLike(Protocol):
    """What a component function is given for an ``Input[...]`` / ``Output[...]`` artifact."""

    uri: str
    metadata: dict[str, Any]

    @property
    def path(self) -> str: ...


class MetricsLike(ArtifactLike, Protocol):
    """An ``Output[Metrics]``."""

    def log_metric(self, metric: str, value: float) -> None: ...


def pipeline_parent_run_id(run_id: str) -> str:
    """The parent run id every OpenFeat task of one KFP run reports (32 hex digits, as a task run id): a UUID-5 of
    the KFP run id, as the Airflow provider derives it from the DAG run."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"kubeflow://{run_id}").hex


@contextmanager
def task_environment(
    *, run_id: str, run_name: str, task_name: str, tracking_uri: str, experiment: str
) -> Iterator[None]:
    """Export the KFP run context for the task hooks while a task runs, then restore the environment.

    ``KFP_RUN_ID`` / ``KFP_RUN_NAME`` / ``KFP_POD_NAME`` are what :mod:`mlflow_hooks.orchestrators` reads for the
    ``openfeat.orchestrator.*`` tags (the pipeline passes the ``dsl.PIPELINE_JOB_*`` placeholders; the KFP launcher
    sets ``KFP_POD_NAME`` on a cluster, the task name stands in elsewhere); ``OPENFEAT_PARENT_RUN_ID`` groups the
    tasks of one KFP run under one parent; ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_NAME`` turn tracking on.
    """
    wanted: dict[str, str] = {}
    if run_id:
        wanted["KFP_RUN_ID"] = run_id
        wanted[PARENT_RUN_ENV] = pipeline_parent_run_id(run_id)
    if run_name:
        wanted["KFP_RUN_NAME"] = run_name
    if task_name and not os.environ.get("KFP_POD_NAME"):
        wanted["KFP_POD_NAME"] = task_name
    if tracking_uri:
        wanted["MLFLOW_TRACKING_URI"] = tracking_uri
    if experiment:
        wanted["MLFLOW_EXPERIMENT_NAME"] = experiment
    with exported_environment(wanted):
        yield


def _run(task: str, call: Any, request: Any) -> Any:
    """Run one task; on failure say on stderr whether it is terminal, then let the error propagate."""
    from openfeat_core.errors import classify

    try:
        return call(request)
    except Exception as e:
        failure = classify(e)
        kind = "transient (a retry may succeed)" if failure is not None and not failure.terminal else "terminal"
        print(f"OpenFeat {task} failed, {kind}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        raise


def _json_value(value: Any) -> Any:
    """``value`` as strict JSON (non-finite floats as strings, as the command line writes them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _write_json(artifact: ArtifactLike, value: Mapping[str, Any]) -> None:
    """The artifact's file: the task's result as JSON (what the artifact stands for lives elsewhere)."""
    path = Path(artifact.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_value(value), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _log(task: str, result: TaskResult) -> None:
    print(f"OpenFeat {task}: {json.dumps(_json_value(result.to_dict()), sort_keys=True)}", flush=True)


def _refs(refs: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Dataset references (``TaskResult.datasets()``) as JSON metadata."""
    return [{k: v for k, v in dataclasses.asdict(ref).items() if v is not None} for ref in refs]


def _table_outputs(
    result: Any,
    table_version: ArtifactLike,
    metrics: MetricsLike | None,
    statistics: ArtifactLike | None,
    metric_keys: tuple[str, ...],
    storage_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Fill the outputs of a task that wrote a table version (ingest, compute) from its result: what it wrote and
    read is the result's ``datasets()`` (the one description every adapter reads), plus the digests."""
    datasets = result.datasets()
    (written,) = [ref for ref in datasets.outputs if ref.kind == "table"]
    table_version.metadata.update(
        {
            "openfeat_type": "openfeat.WorkspaceTable",
            "workspace": written.uri,
            "table": written.name,
            "version": written.version,
            "schema": written.schema or "",
            "rows": result.rows,
            "digest": result.digest,
            "plan_digest": getattr(result, "plan_digest", ""),
            "reused": result.reused,
            "read": _refs(datasets.inputs),
            "run_id": result.run_id,
        }
    )
    _write_json(table_version, result.to_dict())
    if metrics is not None:
        for key in metric_keys:
            metrics.log_metric(key, float(getattr(result, key)))
    _statistics(statistics, written.uri, written.name, int(written.version), _options(storage_options))
    value: dict[str, Any] = result.to_dict()
    return value


def _table_of(artifact: ArtifactLike) -> tuple[str, str, int]:
    """``(workspace, table, version)`` of a ``WorkspaceTable`` input."""
    from openfeat_core.tasks import InvalidRequest

    meta = artifact.metadata
    try:
        if meta.get("openfeat_type") != "openfeat.WorkspaceTable":
            raise KeyError("openfeat_type")
        return str(meta["workspace"]), str(meta["table"]), int(meta["version"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidRequest(
            f"input artifact {artifact.uri} is not an openfeat.WorkspaceTable (metadata needs openfeat_type, "
            f"workspace, table, version; got {sorted(meta)})"
        ) from e


def _statistics(
    statistics: ArtifactLike | None, workspace: str, table: str, version: int, storage_options: Mapping[str, Any]
) -> None:
    """The feature statistics of a table version as Markdown: per column its kind, count, NULLs, min, max, mean and
    (strings) distinct values, in one streaming pass (``openfeat_core.monitoring.stats``: numpy and pyarrow only)."""
    if statistics is None:
        return
    from openfeat_core.monitoring.stats import table_statistics
    from openfeat_core.workspace import Workspace

    ws = Workspace.open(workspace, storage_options or None)
    info = ws.table_info(table, version)
    stats = table_statistics(ws.iter_batches(table, version), info.schema, info.num_rows)
    lines = [
        f"# {table} v{version}",
        "",
        f"{info.num_rows:,} rows, {len(info.schema)} columns; workspace `{ws.uri}`; digest `{info.digest}`",
        "",
        "| column | type | count | nulls | null rate | min | max | mean | distinct |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.6g}"
        return str(value).replace("|", "\\|")

    for s in stats:
        lines.append(
            f"| {cell(s.name)} | {cell(s.type)} | {s.count} | {s.nulls} | {s.null_rate:.2%} | {cell(s.minimum)} | "
            f"{cell(s.maximum)} | {cell(s.mean)} | {cell(s.distinct)} |"
        )
    path = Path(statistics.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    statistics.metadata.update({"table": table, "version": version, "columns": len(stats)})


def _options(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(storage_options) if storage_options else {}


# =====================================================================================================================
# The tasks
# =====================================================================================================================
def run_ingest(
    *,
    workspace: str,
    table: str,
    source: str,
    schema: str,
    format: str,
    on_error: str,
    timezone: str,
    mode: str,
    timestamp_unit: str,
    extra_columns: str,
    csv: Mapping[str, Any] | None,
    storage_options: Mapping[str, Any] | None,
    table_version: ArtifactLike,
    metrics: MetricsLike | None,
    statistics: ArtifactLike | None,
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.ingest`; ``table_version`` gets the version's metadata."""
    from openfeat_core.tasks import IngestRequest, ingest

    request = IngestRequest(
        source=source,
        table=table,
        workspace=workspace,
        schema=schema or None,
        format=(format or None),  # type: ignore[arg-type]  # checked by the task, with the allowed choices
        on_error=on_error,  # type: ignore[arg-type]
        timezone=timezone,
        csv=_csv_options(csv),
        mode=mode,  # type: ignore[arg-type]
        storage_options=_options(storage_options) or None,
        timestamp_unit=timestamp_unit,  # type: ignore[arg-type]
        extra_columns=extra_columns,  # type: ignore[arg-type]
    )
    result = _run("ingest", ingest, request)
    _log("ingest", result)
    return _table_outputs(
        result,
        table_version,
        metrics,
        statistics,
        ("rows", "rows_loaded", "bad_rows", "bytes_read", "seconds"),
        storage_options,
    )


def _csv_options(csv: Mapping[str, Any] | None) -> Any:
    """The ``csv`` argument (a JSON object of :class:`~openfeat_core.io.CsvOptions` fields) as ``CsvOptions``; None
    when empty (the defaults)."""
    from openfeat_core.io import CsvOptions
    from openfeat_core.tasks import InvalidRequest

    if not csv:
        return None
    known = [f.name for f in dataclasses.fields(CsvOptions)]
    unknown = sorted(set(csv) - set(known))
    if unknown:
        raise InvalidRequest(f"ingest: argument 'csv' has unknown key(s) {unknown}; known: {known}")
    options = dict(csv)
    if isinstance(options.get("null_values"), list):
        options["null_values"] = tuple(options["null_values"])
    try:
        return CsvOptions(**options)
    except Exception as e:
        raise InvalidRequest(f"ingest: argument 'csv' is not a valid CSV dialect: {e}") from None


def run_compute(
    *,
    sql: str,
    output: str,
    workspace: str,
    tables: list[ArtifactLike],
    inputs: Mapping[str, Any] | None,
    timezone: str,
    storage_options: Mapping[str, Any] | None,
    table_version: ArtifactLike,
    metrics: MetricsLike | None,
    statistics: ArtifactLike | None,
    engine: str = "",
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.compute` over the given ``WorkspaceTable`` inputs (exactly their versions) and
    ``inputs`` (table → version, None for the latest)."""
    from openfeat_core.tasks import ComputeRequest, InvalidRequest, compute

    versions: dict[str, int | None] = {
        str(k): (None if v is None or v == "" else int(v)) for k, v in (inputs or {}).items()
    }
    for artifact in tables:
        ws, table, version = _table_of(artifact)
        if workspace and ws.rstrip("/") != workspace.rstrip("/") and Path(ws) != Path(workspace):
            raise InvalidRequest(f"input table {table} v{version} is in workspace {ws}, not {workspace}")
        workspace = workspace or ws
        versions[table] = version
    if not workspace:
        raise InvalidRequest("compute needs a workspace (the workspace argument or a WorkspaceTable input)")
    request = ComputeRequest(
        sql=sql,
        output=output,
        workspace=workspace,
        inputs=versions,
        timezone=timezone,
        storage_options=_options(storage_options) or None,
        engine=engine or None,
    )
    result = _run("compute", compute, request)
    _log("compute", result)
    return _table_outputs(result, table_version, metrics, statistics, ("rows", "bytes", "seconds"), storage_options)


def run_export(
    *,
    table: ArtifactLike,
    path: str,
    format: str,
    columns: list[str] | None,
    mode: str,
    label: str,
    features: list[str] | None,
    categorical: list[str] | None,
    buckets: int,
    on_null_label: str,
    delimiter: str,
    header: bool,
    null_value: str,
    quote: str,
    timestamp_format: str,
    partition_by: list[str] | None,
    compression: str,
    storage_options: Mapping[str, Any] | None,
    training_set: ArtifactLike,
    metrics: MetricsLike | None,
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.export` of the input table version, to ``path`` when given (a stable destination:
    a rerun finds its export record and reuses it; the Dataset's URI is then that path) or else into the Dataset's
    own location (a new one per KFP run). An empty ``format`` is the core's: inferred from the extension of
    ``path``; the Dataset's own location has none, so an export there without a format writes CSV."""
    from openfeat_core.tasks import ExportRequest, export

    workspace, name, version = _table_of(table)
    destination = path or training_set.path
    if path:
        training_set.uri = path
    request = ExportRequest(
        table=name,
        workspace=workspace,
        path=destination,
        format=(format or (None if path else "csv")),  # type: ignore[arg-type]  # checked by the task
        version=version,
        columns=list(columns) if columns else None,
        mode=mode,  # type: ignore[arg-type]
        label=label or None,
        features=list(features) if features else None,
        categorical=tuple(categorical or ()),
        buckets=buckets,
        on_null_label=on_null_label,  # type: ignore[arg-type]
        delimiter=delimiter,
        header=header,
        null_value=null_value,
        quote=quote,
        timestamp_format=timestamp_format,  # type: ignore[arg-type]
        partition_by=list(partition_by) if partition_by else None,
        compression=compression,
        storage_options=_options(storage_options) or None,
    )
    result = _run("export", export, request)
    _log("export", result)
    training_set.metadata.update(
        {
            "format": result.format,
            "rows": result.rows,
            "bytes": result.bytes,
            "files": list(result.files),
            "feature_map": result.feature_map or "",
            "table": result.table,
            "version": result.version,
            "workspace": result.workspace,
            "skipped_rows": result.skipped_rows,
            "reused": result.reused,
        }
    )
    if metrics is not None:
        for key in ("rows", "bytes", "skipped_rows", "seconds"):
            metrics.log_metric(key, float(getattr(result, key)))
    value: dict[str, Any] = result.to_dict()
    return value


def run_deploy(
    *,
    name: str,
    sql: str,
    store: str,
    url: str,
    token: str,
    create_store: bool,
    tables: list[ArtifactLike],
    table_versions: Mapping[str, Any] | None,
    workspace: str,
    timezone: str,
    timeout: float,
    storage_options: Mapping[str, Any] | None,
    deployment: ArtifactLike,
    metrics: MetricsLike | None,
    reference: str = "",
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.deploy`: load the given table versions into the store or service (embedded store
    closed afterwards) and deploy the SQL."""
    from openfeat_core.tasks import DeployRequest, deploy
    from openfeat_core.tasks.online import close_embedded_store

    versions: dict[str, int | None] = {
        str(k): (None if v is None or v == "" else int(v)) for k, v in (table_versions or {}).items()
    }
    for artifact in tables:
        ws, table, version = _table_of(artifact)
        workspace = workspace or ws
        versions[table] = version
    request = DeployRequest(
        name=name,
        sql=sql,
        store=store or None,
        url=url or None,
        token=token or os.environ.get("OPENFEAT_TOKEN") or None,
        timeout=timeout,
        create_store=create_store,
        tables=versions,
        workspace=workspace or None,
        timezone=timezone or None,
        storage_options=_options(storage_options) or None,
        reference=reference or None,
    )
    try:
        result = _run("deploy", deploy, request)
    finally:
        if store:
            close_embedded_store(store)
    _log("deploy", result)
    (deployed,) = [ref for ref in result.datasets().outputs if ref.kind == "deployment"]
    deployment.metadata.update(
        {
            "openfeat_type": "openfeat.Deployment",
            "name": deployed.name,
            "version": deployed.version,
            "schema": deployed.schema or "",
            "new_version": result.new_version,
            "digest": result.digest,
            "target": result.target,
            "store": store,
            "url": url,
            "indexes": list(result.indexes),
            "loaded": _json_value(result.loaded),
        }
    )
    _write_json(deployment, result.to_dict())
    if metrics is not None:
        metrics.log_metric("version", float(result.version))
        metrics.log_metric("rows_loaded", float(sum(int(t.get("rows", 0) or 0) for t in result.loaded)))
        metrics.log_metric("seconds", float(result.seconds))
    value: dict[str, Any] = result.to_dict()
    return value


def run_verify(
    *,
    name: str,
    store: str,
    url: str,
    token: str,
    probe_table: ArtifactLike | None,
    probe_rows: int,
    workspace: str,
    timezone: str,
    fail_on_mismatch: bool,
    min_requests: int,
    timeout: float,
    storage_options: Mapping[str, Any] | None,
    metrics: MetricsLike | None,
    report: ArtifactLike | None,
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.verify`: recompute logged (and probe) requests offline and compare; mismatches
    fail the task (``fail_on_mismatch``), after the metrics and the report are written."""
    from openfeat_core.tasks import VerificationFailed, VerifyRequest, verify
    from openfeat_core.tasks.online import close_embedded_store

    table: str | None = None
    version: int | None = None
    if probe_table is not None:
        ws, table, version = _table_of(probe_table)
        workspace = workspace or ws
    request = VerifyRequest(
        name=name,
        store=store or None,
        url=url or None,
        token=token or os.environ.get("OPENFEAT_TOKEN") or None,
        timeout=timeout,
        probe_table=table,
        probe_version=version,
        probe_rows=probe_rows,
        workspace=workspace or None,
        timezone=timezone or None,
        fail_on_mismatch=fail_on_mismatch,
        min_requests=min_requests,
        storage_options=_options(storage_options) or None,
    )
    try:
        try:
            result = _run("verify", verify, request)
        except VerificationFailed as e:
            _verify_outputs(e.result, metrics, report)
            raise
    finally:
        if store:
            close_embedded_store(store)
    _log("verify", result)
    _verify_outputs(result, metrics, report)
    value: dict[str, Any] = result.to_dict()
    return value


def _verify_outputs(result: Any, metrics: MetricsLike | None, report: ArtifactLike | None) -> None:
    if metrics is not None:
        metrics.log_metric("requests", float(result.requests))
        metrics.log_metric("rows", float(result.rows))
        metrics.log_metric("consistent", 1.0 if result.consistent else 0.0)
        for feature in result.features:
            rate = feature.get("mismatch_rate")
            if isinstance(rate, int | float) and math.isfinite(rate):
                metrics.log_metric(f"mismatch_rate.{feature.get('name')}", float(rate))
    if report is not None:
        lines = [
            f"# verify {result.deployment}: {'consistent' if result.consistent else 'MISMATCHES'}",
            "",
            f"{result.requests} requests, {result.rows} rows compared, {result.skipped} skipped",
            "",
            "| feature | compared | mismatch rate | missing rate | max abs diff |",
            "|---|---:|---:|---:|---:|",
        ]
        for feature in result.features:
            lines.append(
                f"| {feature.get('name')} | {feature.get('compared', '')} | {feature.get('mismatch_rate', '')} | "
                f"{feature.get('missing_rate', '')} | {feature.get('max_abs_diff', '')} |"
            )
        path = Path(report.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_ingest_stream(
    *,
    store: str,
    bootstrap: str,
    topics: str,
    dead_letters: str,
    dead_letter_topic: str,
    workspace: str,
    workspace_every_rows: int,
    workspace_every_seconds: float,
    storage_options: Mapping[str, Any] | None,
    max_bad_ratio: float,
    message_format: str,
    timezone: str,
    group_id: str,
    consumer_config: Mapping[str, Any] | None,
    create_tables: bool,
    create_store: bool,
    metrics: MetricsLike | None,
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.ingest_stream`, always until caught up (a KFP task must end); the store is closed
    afterwards."""
    from openfeat_core.tasks import IngestStreamRequest, ingest_stream
    from openfeat_core.tasks.online import close_embedded_store

    request = IngestStreamRequest(
        store=store,
        bootstrap=bootstrap,
        topics=topics,
        until_caught_up=True,
        dead_letters=dead_letters or None,
        dead_letter_topic=dead_letter_topic or None,
        workspace=workspace or None,
        workspace_every_rows=workspace_every_rows,
        workspace_every_seconds=workspace_every_seconds,
        storage_options=_options(storage_options) or None,
        max_bad_ratio=max_bad_ratio,
        message_format=message_format,  # type: ignore[arg-type]  # checked by the task
        timezone=timezone or None,
        group_id=group_id,
        consumer_config=dict(consumer_config or {}),
        create_tables=create_tables,
        create_store=create_store,
    )
    try:
        result = _run("ingest-stream", ingest_stream, request)
    finally:
        if store:
            close_embedded_store(store)
    _log("ingest-stream", result)
    if metrics is not None:
        for key in ("messages", "rows", "dead_letters", "batches", "seconds"):
            metrics.log_metric(key, float(getattr(result, key)))
    value: dict[str, Any] = result.to_dict()
    return value
