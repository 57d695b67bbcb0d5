"""What a task run logs, worked out from its request, result or error (and the workspace): no MLflow here.

:func:`describe_start` gives what is known before the task runs (run name, tags, params), :func:`describe_outcome`
what it produced: tags, metrics, text artifacts (SQL, plan JSON, EXPLAIN, schemas), the input and output datasets,
and the table whose feature statistics to compute. :mod:`mlflow_hooks.hook` sends them to MLflow.

Tags are all under ``openfeat.``:

========================= ============================================================================
tag                       value
========================= ============================================================================
openfeat.task             ``ingest``, ``compute``, ``export``, ``deploy``, ``verify``
openfeat.kind             ``task`` (``pipeline`` on the parent run of a pipeline run)
openfeat.run_id           OpenFeat's run id of the task (``result.run_id``)
openfeat.pipeline_run_id  the pipeline run (OpenFeat's parent run id, else the orchestrator's run)
openfeat.version          OpenFeat version
openfeat.workspace        workspace URI
openfeat.table            the table written (ingest, compute) or read (export)
openfeat.table_version    its version
openfeat.plan_digest      SHA-256 of the feature script's plan (compute, export, deploy)
openfeat.deployment       deployment name (deploy, verify), with ``openfeat.deployment_version``
openfeat.target           the online store directory or service URL (deploy, verify)
openfeat.reused           ``true`` when the task found its result already there
openfeat.stats_key        identifies "the same script" for drift: task, table, plan digest, columns
openfeat.error            the error of a failed task (first 500 characters)
openfeat.orchestrator*    see :mod:`mlflow_hooks.orchestrators`
========================= ============================================================================
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

import openfeat_core
from mlflow_hooks.orchestrators import OrchestratorRun
from openfeat_core.errors import OpenFeatError
from openfeat_core.plan.explain import explain
from openfeat_core.sql.config import split_config
from openfeat_core.tasks.base import DatasetRef, VerificationFailed, split_deploy
from openfeat_core.tasks.hooks import TaskContext
from openfeat_core.types import sql_type_of_arrow
from openfeat_core.workspace import TableVersion, Workspace

__all__ = [
    "PIPELINE_NAME_ENV",
    "LoggedDataset",
    "StatsSource",
    "TaskOutcome",
    "TaskStart",
    "describe_outcome",
    "describe_start",
    "flatten_params",
    "manifest_uri",
]

#: Environment variable naming the pipeline run (the parent run's name), next to ``OPENFEAT_PARENT_RUN_ID``.
PIPELINE_NAME_ENV = "OPENFEAT_PIPELINE_NAME"
#: Longest param value logged (MLflow params are short, immutable settings; longer values are cut).
PARAM_LENGTH = 500
#: Source files of an ingest logged as datasets at most.
SOURCE_DATASETS = 10
# Request fields that are not params: the SQL is an artifact, the parent run id a tag.
_NOT_PARAMS = frozenset({"sql", "parent_run_id"})


@dataclass
class LoggedDataset:
    """A table version or file a task read or wrote (a :class:`openfeat_core.tasks.DatasetRef` of the result's
    ``datasets()``), described as an MLflow dataset input.

    Attributes:
        name: dataset name (``table@v3``, a file name).
        uri: where it is (a manifest or file URI); None for in-memory data.
        digest: short content digest (MLflow keeps 36 characters).
        context: ``source`` (ingested files), ``input`` (tables read) or ``output`` (what the task wrote).
        rows: row count, if known.
        num_bytes: size, if known.
        schema: its columns, if known.
        tags: extra dataset-input tags (full digest, table version...).
    """

    name: str
    uri: str | None
    digest: str
    context: str
    rows: int | None = None
    num_bytes: int | None = None
    schema: pa.Schema | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatsSource:
    """A workspace table version whose feature statistics a run logs (``columns``: all when None)."""

    workspace: str
    storage_options: Mapping[str, Any] | None
    table: str
    version: int
    columns: tuple[str, ...] | None

    def open(self) -> tuple[Workspace, TableVersion]:
        ws = Workspace.open(self.workspace, self.storage_options)
        return ws, ws.table_info(self.table, self.version)


@dataclass
class TaskStart:
    """What a run records before the task does anything."""

    run_name: str
    tags: dict[str, str]
    params: dict[str, str]
    pipeline_key: str | None
    pipeline_name: str


@dataclass
class TaskOutcome:
    """What a run records when the task ended.

    Attributes:
        status: ``FINISHED`` or ``FAILED`` (MLflow run statuses).
        tags: more ``openfeat.*`` tags.
        params: more params (input row counts...).
        metrics: rows in / out, seconds, rows/s, bytes...
        texts: text artifacts by run-relative path.
        datasets: tables and files read or written (from the result's ``datasets()``).
        written_schema: export: the columns of the file written.
        stats_source: the table version to describe (compute, export), or None.
        stats_key: identifies "the same script" for the drift comparison.
        plan_digest: the feature script's plan digest, if any.
        deployment: deploy, verify: the deployment.
        verify_metrics: verify: the consistency figures, also logged to the deployment's run.
        monitor_metrics: monitor: the drift figures and the decision, also logged to the deployment's run.
    """

    status: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    datasets: list[LoggedDataset] = field(default_factory=list)
    written_schema: pa.Schema | None = None
    stats_source: StatsSource | None = None
    stats_key: str | None = None
    plan_digest: str | None = None
    deployment: str | None = None
    verify_metrics: dict[str, float] = field(default_factory=dict)
    monitor_metrics: dict[str, float] = field(default_factory=dict)


# =====================================================================================================================
# Start
# =====================================================================================================================
def describe_start(task: str, request: Any, context: TaskContext, orchestrator: OrchestratorRun | None) -> TaskStart:
    """Run name, tags and params of a task run, from its request."""
    target = _target(task, request)
    tags = {
        "openfeat.task": task,
        "openfeat.kind": "task",
        "openfeat.run_id": context.run_id,
        "openfeat.version": openfeat_core.__version__,
    }
    pipeline_key = context.parent_run_id or (orchestrator.pipeline_key if orchestrator else None)
    if pipeline_key:
        tags["openfeat.pipeline_run_id"] = pipeline_key
    if orchestrator is not None:
        tags.update(orchestrator.tags())
    workspace = getattr(request, "workspace", None)
    if workspace is not None:
        tags["openfeat.workspace"] = os.fspath(workspace)
    if task in ("ingest", "compute", "export"):
        tags["openfeat.table"] = target if task != "export" else request.table
    else:
        tags["openfeat.deployment"] = target
    params = flatten_params({k: v for k, v in request.to_dict().items() if k not in _NOT_PARAMS})
    if os.environ.get(PIPELINE_NAME_ENV):
        pipeline_name = os.environ[PIPELINE_NAME_ENV]
    elif orchestrator is not None and orchestrator.pipeline:
        pipeline_name = f"{orchestrator.pipeline} {orchestrator.run_id or ''}".strip()
    else:
        pipeline_name = f"pipeline {pipeline_key[:12]}" if pipeline_key else ""
    return TaskStart(f"{task} {target}", tags, params, pipeline_key, pipeline_name)


def _target(task: str, request: Any) -> str:
    if task == "ingest":
        return str(request.table)
    if task == "compute":
        return str(request.output)
    if task == "export":
        return f"{request.table} to {os.path.basename(os.fspath(request.path).rstrip('/'))}"
    return str(request.name)


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Request settings as MLflow params: nested mappings as ``a.b``, lists as JSON, None left out, values cut."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, Mapping):
            out.update(flatten_params(value, f"{name}."))
            continue
        text = json.dumps(value, default=str) if isinstance(value, (list, tuple)) else str(value)
        out[name] = text if len(text) <= PARAM_LENGTH else text[: PARAM_LENGTH - 1] + "…"
    return out


# =====================================================================================================================
# Outcome
# =====================================================================================================================
def describe_outcome(
    task: str, request: Any, result: Any | None, error: BaseException | None, context: TaskContext
) -> TaskOutcome:
    """What a run records at the end of a task: ``result`` on success, else ``error``.

    A :class:`~openfeat_core.tasks.VerificationFailed` error carries the full verify result, which is recorded too.
    """
    if result is None and isinstance(error, VerificationFailed):
        result = error.result
    outcome = TaskOutcome(status="FAILED" if error is not None else "FINISHED")
    if error is not None:
        message = f"{type(error).__name__}: {error}"
        outcome.tags["openfeat.error"] = message[:PARAM_LENGTH]
        outcome.texts["error.txt"] = message + "\n"
    if task in ("compute", "deploy") and getattr(request, "sql", None):
        outcome.texts["sql/script.sql"] = request.sql  # kept even when the script fails, to see which one did
    if result is not None:
        outcome.texts["result.json"] = json.dumps(result.to_dict(), indent=1, default=str) + "\n"
        outcome.metrics["seconds"] = float(result.seconds)
        _DESCRIBERS[task](outcome, request, result)
        outcome.datasets.extend(_logged_datasets(request, result, outcome))
        rows_out = outcome.metrics.get("rows_out")
        if rows_out is not None and result.seconds > 0:
            outcome.metrics["rows_per_second"] = rows_out / result.seconds
    else:
        outcome.metrics["seconds"] = context.elapsed()
    outcome.tags["mlflow.note.content"] = _note(task, outcome)
    return outcome


def _note(task: str, outcome: TaskOutcome) -> str:
    """The run's description in the MLflow UI (Markdown): what the task did and where to look."""
    m, t = outcome.metrics, outcome.tags
    lines = [f"OpenFeat **{task}** {'failed' if outcome.status == 'FAILED' else 'finished'}."]
    if "rows_out" in m:
        reused = " (reused: nothing was recomputed)" if t.get("openfeat.reused") == "true" else ""
        lines.append(
            f"{m.get('rows_in', 0):,.0f} rows in, {m['rows_out']:,.0f} rows out in {m['seconds']:.1f} s{reused}."
        )
    if "openfeat.table" in t and "openfeat.table_version" in t:
        lines.append(f"Table `{t['openfeat.table']}` version {t['openfeat.table_version']}.")
    if outcome.plan_digest:
        lines.append(f"Feature script: `sql/script.sql`, plan digest `{outcome.plan_digest[:16]}`.")
    if outcome.stats_source is not None:
        lines.append("Feature statistics and histograms: `feature_stats/`; drift from the previous run: `drift/`.")
    if "openfeat.error" in t:
        lines.append(f"Error: `{t['openfeat.error']}`")
    return "\n\n".join(lines)


def _bytes_added(ws: Workspace, info: TableVersion) -> int:
    """The bytes ``info`` wrote: an append version lists its parent's files too, without rewriting them."""
    if info.parent is None:
        return info.num_bytes
    return info.num_bytes - ws.table_info(info.table, info.parent).num_bytes


def _ingest(outcome: TaskOutcome, request: Any, result: Any) -> None:
    ws = Workspace.open(result.workspace, request.storage_options)
    info = ws.table_info(result.table, result.version)
    _table_tags(outcome, info, result.reused)
    outcome.metrics.update(
        rows_in=float(result.rows_loaded + result.bad_rows),
        rows_out=float(result.rows_loaded),
        table_rows=float(result.rows),
        bad_rows=float(result.bad_rows),
        bytes_read=float(result.bytes_read),
        bytes_written=0.0 if result.reused else float(_bytes_added(ws, info)),
    )
    outcome.texts["schema/output_schema.json"] = _schema_json(info.schema)
    identities = info.lineage.get("sources") or []
    memory = [s["memory"] for s in identities if isinstance(s, Mapping) and "memory" in s]
    if not result.files and memory:  # no file was read: the core's datasets() name none
        outcome.datasets.append(
            LoggedDataset(name="in-memory table", uri=None, digest=_short_digest(memory[0]), context="source")
        )


def _compute(outcome: TaskOutcome, request: Any, result: Any) -> None:
    ws = Workspace.open(result.workspace, request.storage_options)
    info = ws.table_info(result.table, result.version)
    inputs = {name: ws.table_info(name, version) for name, version in result.inputs.items()}
    _table_tags(outcome, info, result.reused)
    _plan_texts(outcome, request.sql, inputs, result.plan_digest)
    outcome.params.update({f"rows_in.{name}": str(v.num_rows) for name, v in inputs.items()})
    outcome.metrics.update(
        rows_in=float(sum(v.num_rows for v in inputs.values())),
        rows_out=float(result.rows),
        bytes_written=0.0 if result.reused else float(result.bytes),
    )
    outcome.texts["schema/output_schema.json"] = _schema_json(info.schema)
    outcome.stats_source = StatsSource(result.workspace, request.storage_options, info.table, info.version, None)
    outcome.stats_key = _stats_key("compute", info.table, result.plan_digest, None)


def _export(outcome: TaskOutcome, request: Any, result: Any) -> None:
    ws = Workspace.open(result.workspace, request.storage_options)
    info = ws.table_info(result.table, result.version)
    _table_tags(outcome, info, result.reused)
    plan_digest = info.lineage.get("plan_digest")
    sql = info.lineage.get("sql")
    if isinstance(sql, str):
        # The training set's script: the SQL that computed the exported table version, from its lineage.
        pinned = info.lineage.get("inputs") or {}
        inputs = {name: ws.table_info(name, v) for name, v in pinned.items()} if isinstance(pinned, Mapping) else {}
        outcome.texts["sql/script.sql"] = sql
        _plan_texts(outcome, sql, inputs, plan_digest if isinstance(plan_digest, str) else None)
    elif isinstance(plan_digest, str):
        outcome.tags["openfeat.plan_digest"] = outcome.plan_digest = plan_digest
    columns = _exported_columns(request, info.schema)
    schema = pa.schema([info.schema.field(c) for c in columns])
    outcome.params["rows_in.table"] = str(info.num_rows)
    outcome.tags["openfeat.format"] = result.format
    outcome.metrics.update(
        rows_in=float(info.num_rows),
        rows_out=float(result.rows),
        skipped_rows=float(result.skipped_rows),
        bytes_written=0.0 if result.reused else float(result.bytes),
    )
    outcome.texts["schema/output_schema.json"] = _schema_json(schema)
    outcome.written_schema = schema if result.format in ("csv", "parquet") else None
    selected = tuple(columns) if len(columns) < len(info.schema) else None
    outcome.stats_source = StatsSource(result.workspace, request.storage_options, info.table, info.version, selected)
    key_columns = [result.format, *(selected or ())]
    outcome.stats_key = _stats_key("export", info.table, outcome.plan_digest, key_columns)


def _deploy(outcome: TaskOutcome, request: Any, result: Any) -> None:
    outcome.deployment = result.name
    outcome.plan_digest = result.digest
    outcome.tags.update(
        {
            "openfeat.deployment_version": str(result.version),
            "openfeat.plan_digest": result.digest,
            "openfeat.target": result.target,
            "openfeat.new_version": str(result.new_version).lower(),
        }
    )
    outcome.texts["sql/script.sql"] = result.sql
    outcome.texts["schema/input_schema.json"] = json.dumps(result.input_schema, indent=1) + "\n"
    outcome.texts["schema/output_schema.json"] = json.dumps(result.output_schema, indent=1) + "\n"
    outcome.texts["deployment/indexes.txt"] = "\n".join(result.indexes) + "\n"
    loaded_rows = sum(int(t["rows"]) for t in result.loaded)
    outcome.metrics.update(
        rows_in=float(loaded_rows),
        rows_out=float(sum(int(t["rows"]) for t in result.loaded if t["inserted"])),
        deployment_version=float(result.version),
    )
    if request.workspace is not None and result.loaded:
        ws = Workspace.open(request.workspace, request.storage_options)
        loaded = {t["table"]: ws.table_info(t["table"], int(t["version"])) for t in result.loaded}
        outcome.params.update({f"rows_in.{name}": str(v.num_rows) for name, v in loaded.items()})
        _plan_texts(outcome, result.sql, loaded, result.digest)


def _verify(outcome: TaskOutcome, request: Any, result: Any) -> None:
    outcome.deployment = result.deployment
    outcome.tags["openfeat.target"] = result.target
    outcome.tags["openfeat.consistent"] = str(result.consistent).lower()
    figures = {
        "requests": float(result.requests),
        "rows_compared": float(result.rows),
        "skipped_requests": float(result.skipped),
        "probed_rows": float(result.probed_rows),
        "consistent": 1.0 if result.consistent else 0.0,
        "mismatched_features": float(len(result.mismatched_features)),
    }
    for feature in result.features:
        name = feature["name"]
        figures[f"mismatch_rate.{name}"] = float(feature["mismatch_rate"])
        figures[f"missing_rate.{name}"] = float(feature["missing_rate"])
        if feature.get("max_abs_diff") is not None:
            figures[f"max_abs_diff.{name}"] = float(feature["max_abs_diff"])
    outcome.metrics.update(figures, rows_in=float(result.probed_rows), rows_out=float(result.rows))
    outcome.verify_metrics = figures
    outcome.texts["verify/features.json"] = json.dumps(result.features, indent=1, default=str) + "\n"


def _monitor(outcome: TaskOutcome, request: Any, result: Any) -> None:
    outcome.deployment = result.deployment
    outcome.tags["openfeat.target"] = result.target
    outcome.tags["openfeat.retrain"] = str(result.retrain).lower()
    outcome.tags["openfeat.deployment_version"] = str(result.version)
    figures = {
        "retrain": 1.0 if result.retrain else 0.0,
        "requests": float(result.requests),
        "rows": float(result.rows),
        "drifted_features": float(len(result.drifted)),
    }
    if result.max_psi is not None:
        figures["max_psi"] = float(result.max_psi)
    if result.mismatch_ratio is not None:
        figures["mismatch_ratio"] = float(result.mismatch_ratio)
    for feature in result.features:
        for key in ("psi", "null_rate", "null_rate_change"):
            if feature[key] is not None:
                figures[f"{key}.{feature['name']}"] = float(feature[key])
    outcome.metrics.update(figures, rows_in=float(result.rows))
    outcome.monitor_metrics = figures
    outcome.params.update({f"threshold.{k}": str(v) for k, v in result.thresholds.items()})
    outcome.texts["monitor/features.json"] = json.dumps(result.features, indent=1, default=str) + "\n"
    outcome.texts["monitor/reasons.txt"] = "\n".join(result.reasons) + "\n"


_DESCRIBERS = {
    "ingest": _ingest,
    "compute": _compute,
    "export": _export,
    "deploy": _deploy,
    "verify": _verify,
    "monitor": _monitor,
}


# =====================================================================================================================
# Helpers
# =====================================================================================================================
def manifest_uri(info: TableVersion) -> str:
    """The URI of a table version's manifest (its identity in the workspace: ``<ws>/tables/<t>/_v/000003.json``)."""
    return f"{info.workspace}/tables/{info.table}/_v/{info.version:06d}.json"


def _logged_datasets(request: Any, result: Any, outcome: TaskOutcome) -> list[LoggedDataset]:
    """The MLflow datasets of a task run: what the core says it read and wrote (``result.datasets()``), described
    with what MLflow shows (manifests, digests, schemas). Deployments are not MLflow datasets (the run is tagged).
    Ingested files are the ``source`` context, at most :data:`SOURCE_DATASETS` of them."""
    found = result.datasets()
    opened: dict[str, Workspace] = {}

    def table_info(ref: DatasetRef) -> TableVersion:
        if ref.uri not in opened:
            opened[ref.uri] = Workspace.open(ref.uri, getattr(request, "storage_options", None))
        return opened[ref.uri].table_info(ref.name, ref.version)

    def identities() -> dict[Any, Any]:
        """The identities (size, sha256...) the written table's lineage keeps of the files read, by URI."""
        written = [ref for ref in found.outputs if ref.kind == "table"]
        sources = (table_info(written[0]).lineage.get("sources") or []) if written else []
        return {s.get("uri"): s for s in sources if isinstance(s, Mapping)}

    logged: list[LoggedDataset] = []
    files_read = [ref for ref in found.inputs if ref.kind == "file"][:SOURCE_DATASETS]
    by_uri = identities() if files_read else {}
    for ref in files_read:
        identity = by_uri.get(ref.uri, {"uri": ref.uri})
        logged.append(
            LoggedDataset(
                name=os.path.basename(ref.uri.rstrip("/")) or ref.uri,
                uri=ref.uri,
                digest=_short_digest(identity.get("sha256") or json.dumps(identity, sort_keys=True)),
                context="source",
                num_bytes=identity.get("size"),
                tags={"openfeat.identity": json.dumps(identity, sort_keys=True)[:PARAM_LENGTH]},
            )
        )
    for context, refs in (("input", found.inputs), ("output", found.outputs)):
        for ref in refs:
            if ref.kind == "table":
                logged.append(_table_dataset(table_info(ref), context))
            elif ref.kind == "file" and context == "output":
                logged.append(
                    LoggedDataset(
                        name=os.path.basename(ref.uri.rstrip("/")) or ref.uri,
                        uri=ref.uri,
                        digest=_short_digest(getattr(result, "idempotency_key", ref.uri)),
                        context="output",
                        rows=ref.rows,
                        num_bytes=ref.bytes,
                        schema=outcome.written_schema,
                        tags={
                            "openfeat.format": str(getattr(result, "format", "")),
                            "openfeat.files": str(len(getattr(result, "files", ()))),
                        },
                    )
                )
    return logged


def _table_dataset(info: TableVersion, context: str) -> LoggedDataset:
    return LoggedDataset(
        name=f"{info.table}@v{info.version}",
        uri=manifest_uri(info),
        digest=_short_digest(info.digest),
        context=context,
        rows=info.num_rows,
        num_bytes=info.num_bytes,
        schema=info.schema,
        tags={"openfeat.digest": info.digest, "openfeat.table_version": str(info.version)},
    )


def _table_tags(outcome: TaskOutcome, info: TableVersion, reused: bool) -> None:
    outcome.tags.update(
        {
            "openfeat.table": info.table,
            "openfeat.table_version": str(info.version),
            "openfeat.reused": str(reused).lower(),
        }
    )
    outcome.metrics["reused"] = 1.0 if reused else 0.0


def _plan_texts(outcome: TaskOutcome, sql: str, inputs: Mapping[str, TableVersion], digest: str | None) -> None:
    """Plan JSON and EXPLAIN of ``sql`` bound to the input tables' schemas (what the task planned)."""
    if digest:
        outcome.tags["openfeat.plan_digest"] = outcome.plan_digest = digest
    if not inputs:
        return
    _, select_sql = split_deploy(sql)
    try:
        select, _ = split_config(select_sql)
        plan = openfeat_core.plan_sql(select, {name: v.schema.empty_table() for name, v in inputs.items()})
    except OpenFeatError as e:  # e.g. a deployed script that also reads tables the deploy did not load
        outcome.texts["plan/explain.txt"] = f"no plan: the script does not bind to the tables at hand ({e})\n"
        return
    outcome.texts["plan/plan.json"] = json.dumps(json.loads(plan.to_json()), indent=1) + "\n"
    outcome.texts["plan/explain.txt"] = explain(plan) + "\n"
    if not digest:
        outcome.tags["openfeat.plan_digest"] = outcome.plan_digest = plan.digest()


def _exported_columns(request: Any, schema: pa.Schema) -> list[str]:
    """The table columns an export wrote, in order."""
    if request.label is not None and request.features is not None:
        return [request.label, *request.features]
    if request.columns is not None:
        return list(request.columns)
    return list(schema.names)


def _schema_json(schema: pa.Schema) -> str:
    """Columns as ``[{"name", "type" (OpenMLDB type, else Arrow's), "arrow_type"}]``."""
    columns = []
    for f in schema:
        try:
            sql_type = sql_type_of_arrow(f.type).openmldb_name
        except ValueError:
            sql_type = str(f.type)
        columns.append({"name": f.name, "type": sql_type, "arrow_type": str(f.type)})
    return json.dumps(columns, indent=1) + "\n"


def _short_digest(text: str) -> str:
    """A digest MLflow can store (36 characters at most): the hex of ``sha256:<hex>``, else a hash, cut to 16."""
    hex_part = text.removeprefix("sha256:")
    if len(hex_part) >= 16 and all(c in "0123456789abcdef" for c in hex_part):
        return hex_part[:16]
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stats_key(task: str, table: str, plan_digest: str | None, columns: Sequence[str] | None) -> str:
    canonical = json.dumps([task, table, plan_digest, list(columns or [])])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
