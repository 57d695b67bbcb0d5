"""The OpenFeat operators: one per task of :mod:`openfeat_core.tasks`.

=========================================== ================= ==================================================
operator                                    task              returns (the XCom ``return_value``)
=========================================== ================= ==================================================
:class:`OpenFeatIngestOperator`             ``ingest``        ``IngestResult.to_dict()``: table, version, rows...
:class:`OpenFeatComputeFeaturesOperator`    ``compute``       ``ComputeResult.to_dict()``: table, version, plan
                                                              digest
:class:`OpenFeatExportTrainingSetOperator`  ``export``        ``ExportResult.to_dict()``: path, format, rows, files
:class:`OpenFeatDeployOperator`             ``deploy``        ``DeployResult.to_dict()``: deployment, version,
                                                              loaded
:class:`OpenFeatVerifyOperator`             ``verify``        ``VerifyResult.to_dict()``: consistent, per-feature
                                                              rates
:class:`OpenFeatIngestStreamOperator`       ``ingest-stream`` ``IngestStreamResult.to_dict()``: rows, dead
                                                              letters, positions (Kafka topics into an embedded
                                                              store, until caught up)
=========================================== ================= ==================================================

What they share:

* **Arguments are stored as given** and checked in ``execute()``, after Airflow rendered the templates; a bad one
  fails the task without retrying, with a message naming the task and the argument. Where a template renders a
  number, flag, list or mapping as text (``"{{ ti.xcom_pull('ingest')['version'] }}"``), the text is accepted.
* **The connection** (``conn_id``, default ``openfeat_default``, see :mod:`airflow_provider.hooks.openfeat`) gives
  the workspace, the online target and the token; an operator's ``workspace``/``store``/``url`` override it. The
  hook is created on first use, never while the DAG file is parsed, and :mod:`openfeat_core` is imported only when
  a task runs.
* **Reruns are safe**: the tasks are idempotent (``reused`` / ``new_version`` in the result say when a run found
  its work already done), so clearing a task or a retry after a crash does the work at most once.
* **Failures** follow the one classification of :mod:`openfeat_core.errors`: a terminal error (a request the task
  or the service refuses as given: bad option, bad SQL, a script that cannot run online, a wrong token, HTTP 4xx;
  bad or missing data, bad rows under ``on_error="fail"``; a ``verify`` that found mismatches) fails without
  retrying (:class:`OpenFeatTaskFailed`); a transient one (an unreachable or failing service, a locked store, a
  writer that committed first) is retried as usual.
  ``on_kill`` (task cleared, marked failed, or timed out) interrupts the running task; a workspace write that did
  not commit leaves no version behind.
* **Tracking**: each task runs with ``OPENFEAT_PARENT_RUN_ID`` set to one id per DAG run (the ``parent_run_id``
  argument, else derived from the DAG id and run id: :func:`pipeline_run_id`), so that the MLflow task hooks show
  one parent run per DAG run with a child per task; Airflow's ``AIRFLOW_CTX_*`` variables give them the DAG id, run
  id, task id and try number. The connection's ``tracking_uri``/``experiment_name`` are exported
  as ``MLFLOW_TRACKING_URI``/``MLFLOW_EXPERIMENT_NAME`` while the task runs.
* **Lineage**: the OpenLineage methods report the tables, files and deployments read and written
  (:mod:`airflow_provider.openlineage`).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider._arguments import Arguments
from airflow_provider.compat import AirflowTaskTerminated, BaseOperator, Context
from airflow_provider.exceptions import OpenFeatTaskFailed
from airflow_provider.hooks.openfeat import OpenFeatConnectionConfig, OpenFeatHook
from airflow_provider.openlineage import (
    file_dataset,
    online_dataset,
    operator_lineage,
    result_datasets,
    workspace_dataset,
)

if TYPE_CHECKING:
    from openfeat_core.tasks import DatasetRef, TaskRequest

__all__ = [
    "OpenFeatComputeFeaturesOperator",
    "OpenFeatDeployOperator",
    "OpenFeatExportTrainingSetOperator",
    "OpenFeatIngestOperator",
    "OpenFeatIngestStreamOperator",
    "OpenFeatVerifyOperator",
    "pipeline_run_id",
    "xcom_value",
]


def pipeline_run_id(context: Mapping[str, Any]) -> str:
    """The id every OpenFeat task of one DAG run reports as its parent run (32 hex digits, like a task run id).

    The same for all tasks and tries of a DAG run, different for another run: a UUID-5 of the DAG id and run id.
    Use it to put your own tracking (a training task) under the same parent.
    """
    dag_id = context["dag"].dag_id if context.get("dag") is not None else context["ti"].dag_id
    return uuid.uuid5(uuid.NAMESPACE_URL, f"airflow://{dag_id}/{context['run_id']}").hex


def xcom_value(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (strict JSON, as
    the ``openfeat --json`` command line writes them), so that any XCom backend stores it."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): xcom_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [xcom_value(v) for v in value]
    return value


class _OpenFeatOperator(BaseOperator):
    """What the OpenFeat operators share (see the module docstring); subclasses build the request and call the task.

    Args:
        conn_id: the ``openfeat`` connection.
        workspace: the workspace directory or URI (default: the connection's).
        parent_run_id: the pipeline run the task reports to its hooks (default: one id per DAG run).
    """

    #: The task of :mod:`openfeat_core.tasks` the operator runs.
    task_name: ClassVar[str] = ""
    template_fields: Sequence[str] = ("workspace", "parent_run_id")
    ui_color = "#cfe8f3"

    def __init__(
        self,
        *,
        conn_id: str = OpenFeatHook.default_conn_name,
        workspace: str | None = None,
        parent_run_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.workspace = workspace
        self.parent_run_id = parent_run_id
        self._working_thread: int | None = None
        self._result: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> OpenFeatHook:
        """The connection's hook, created on first use."""
        return OpenFeatHook(openfeat_conn_id=self.conn_id)

    # ------------------------------------------------------------------------------------------------------------
    # What a subclass provides
    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        """The task request from the rendered arguments (checked through ``args``) and the connection."""
        raise NotImplementedError

    def _run(self, request: Any) -> Any:
        """Call the task with the request; returns its result."""
        raise NotImplementedError

    def _summary(self, result: Mapping[str, Any]) -> str:
        """One line for the task log."""
        raise NotImplementedError

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        """``(inputs, outputs, sql)`` for OpenLineage: the result's ``datasets()`` (:func:`result_datasets`) when
        there is one, else what the arguments name."""
        raise NotImplementedError

    def _release(self, request: Any) -> None:
        """Called after the task, whatever happened (the online operators close the store they opened)."""

    # ------------------------------------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        """Check the arguments, run the task, return its result dict (the XCom).

        Raises:
            OpenFeatArgumentError: a bad argument (not retried).
            OpenFeatTaskFailed: a terminal error (:func:`openfeat_core.errors.is_terminal`): the request, the SQL or
                the data must change, or verify found mismatches (not retried).
            OpenFeatError: a transient error (a service down, a locked store, a conflicting writer): retried.
        """
        from openfeat_core.errors import is_terminal
        from openfeat_core.tasks import VerificationFailed
        from openfeat_core.tasks.client import ServiceError

        args = Arguments(self)
        parent_run_id = args.optional_text("parent_run_id", self.parent_run_id) or pipeline_run_id(context)
        request = self._request(args, self.hook.get_conn(), parent_run_id)
        self.log.info("OpenFeat %s: %s", self.task_name, _shortened(request.to_dict()))
        try:
            with self.hook.task_environment(parent_run_id), self._killable():
                result = self._run(request)
        except Exception as e:
            if isinstance(e, VerificationFailed):
                self._on_verification_failed(context, xcom_value(e.result.to_dict()))
            if not is_terminal(e):
                raise
            refused = "the service refused the request: " if isinstance(e, ServiceError) else ""
            raise OpenFeatTaskFailed(f"{args.where}: {refused}{e}") from e
        finally:
            self._release(request)
        value: dict[str, Any] = xcom_value(result.to_dict())
        self._result = value
        self.log.info("OpenFeat %s: %s", self.task_name, self._summary(value))
        return value

    def _on_verification_failed(self, context: Context, report: dict[str, Any]) -> None:
        """Only verify raises VerificationFailed; its operator keeps the report."""

    @contextmanager
    def _killable(self) -> Iterator[None]:
        """Mark the task as running in this thread, for :meth:`on_kill`."""
        self._working_thread = threading.get_ident()
        try:
            yield
        finally:
            self._working_thread = None

    def on_kill(self) -> None:
        """Stop the running task.

        Airflow calls this from its SIGTERM handler, in the thread that runs ``execute()`` (Airflow 3 then lets the
        task go on unless ``on_kill`` stops it). The task runs in process, so stopping it means interrupting it:
        this raises ``AirflowTaskTerminated`` into the task, which unwinds through it. Workspace writes commit
        atomically, so an interrupted ingest, compute or export leaves no version and no half-written export
        behind; an online store writes each table load as one log entry. Called when no task runs (after a
        timeout already interrupted it), it does nothing.
        """
        working = self._working_thread
        if working is None:
            return
        if working != threading.get_ident():
            self.log.warning(
                "on_kill: the OpenFeat %s task runs in another thread and cannot be interrupted from here",
                self.task_name,
            )
            return
        self._working_thread = None
        self.log.warning("on_kill: interrupting the OpenFeat %s task", self.task_name)
        raise AirflowTaskTerminated(f"OpenFeat {self.task_name} task {self.task_id!r} was killed")

    # ------------------------------------------------------------------------------------------------------------
    # Shared argument resolution
    def _workspace(self, args: Arguments, config: OpenFeatConnectionConfig) -> str:
        workspace = args.optional_text("workspace", self.workspace) or config.workspace
        if workspace is None:
            raise args.error(
                "workspace",
                f"is required: pass workspace=... or set the extra 'workspace' of connection {self.conn_id!r}",
            )
        return workspace

    def _workspace_or_none(self) -> str | None:
        """The workspace as far as known without failing (for OpenLineage before the task ran)."""
        if isinstance(self.workspace, str) and self.workspace:
            return self.workspace
        try:
            return self.hook.get_conn().workspace
        except Exception:
            return None

    # ------------------------------------------------------------------------------------------------------------
    # OpenLineage (called by apache-airflow-providers-openlineage, when installed)
    def get_openlineage_facets_on_start(self) -> Any:
        """Datasets as the arguments name them (versions unknown yet)."""
        return operator_lineage(*self._datasets(None))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Datasets as the task reported them: versions, schemas, rows and files written."""
        return operator_lineage(*self._datasets(self._result))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Datasets as the arguments name them."""
        return operator_lineage(*self._datasets(None))


def _shortened(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request for the log: long texts (a feature script) cut to their first line and their length."""
    return {
        name: f"{value.strip().splitlines()[0][:80]}... ({len(value)} characters)"
        if isinstance(value, str) and len(value) > 200
        else value
        for name, value in request.items()
    }


def _set(given: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    """The options given (not None), as request keyword arguments: an option left unset keeps the request
    dataclass's default, which is then spelled only there."""
    return {name: value for name, value in {**given, **more}.items() if value is not None}


def _reused(result: Mapping[str, Any]) -> str:
    return " (reused: the same inputs were already processed)" if result.get("reused") else ""


# =====================================================================================================================
# ingest
# =====================================================================================================================
class OpenFeatIngestOperator(_OpenFeatOperator):
    """Load files into a workspace table, as a new version (``openfeat_core.tasks.ingest``).

    Rerunning with the same files (by content), schema and options returns the version already written
    (``reused``), whatever ``mode``.

    Args:
        source: a path, glob, directory or URI (``s3://...``), or a list of them. Templated.
        table: the workspace table to write. Templated.
        schema: declared schema, ``"id bigint, ts timestamp, amount double"`` (default: inferred). Templated.
        format: ``csv``, ``parquet``, ``json`` (JSON lines) or ``ipc`` (default: from the file extension).
        on_error: ``fail`` (a bad row rejects the load) or ``skip`` (bad rows are reported in ``rejected.csv``).
        mode: ``error_if_exists`` (default), ``overwrite`` or ``append``.
        timezone: zone of timestamps written without an offset (default: the connection's, else UTC).
        csv: CSV dialect: ``{"delimiter": ";", "header": true, "quote": "\\"", "null_values": ["", "NA"]}``.
        timestamp_unit: unit of epoch numbers in TIMESTAMP columns: ``ms`` (default), ``s``, ``us`` or ``ns``.
        extra_columns: ``error`` (default: a source column the schema does not declare fails the load) or
            ``ignore`` (such columns are dropped).
        conn_id: the ``openfeat`` connection.
        workspace: the workspace (default: the connection's).
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "ingest"
    template_fields: Sequence[str] = (
        "source",
        "table",
        "schema",
        "format",
        "on_error",
        "mode",
        "timezone",
        "csv",
        "timestamp_unit",
        "extra_columns",
        *_OpenFeatOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"source": "json", "csv": "json"}

    def __init__(
        self,
        *,
        source: str | Sequence[str],
        table: str,
        schema: str | None = None,
        format: str | None = None,
        on_error: str = "fail",
        mode: str = "error_if_exists",
        timezone: str | None = None,
        csv: Mapping[str, Any] | None = None,
        timestamp_unit: str = "ms",
        extra_columns: str = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.table = table
        self.schema = schema
        self.format = format
        self.on_error = on_error
        self.mode = mode
        self.timezone = timezone
        self.csv = csv
        self.timestamp_unit = timestamp_unit
        self.extra_columns = extra_columns

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.choices import EXTRA_COLUMNS, ON_ERROR, SOURCE_FORMATS, TIMESTAMP_UNIT_CHOICES, WRITE_MODES
        from openfeat_core.io import CsvOptions
        from openfeat_core.tasks import IngestRequest

        sources = args.texts("source", self.source, single=True)
        if not sources:
            raise args.error("source", "is required")
        csv_options = args.mapping("csv", self.csv)
        csv = None
        if csv_options is not None:
            known = {"delimiter", "header", "quote", "null_values"}
            unknown = sorted(set(csv_options) - known)
            if unknown:
                raise args.error("csv", f"has unknown key(s) {unknown}; known: {sorted(known)}")
            if "header" in csv_options:
                csv_options["header"] = args.flag("csv['header']", csv_options["header"])
            if "null_values" in csv_options:
                csv_options["null_values"] = tuple(
                    args.texts("csv['null_values']", csv_options["null_values"], blank=True) or ()
                )
            try:
                csv = CsvOptions(**csv_options)
            except Exception as e:
                raise args.error("csv", f"is not a valid CSV dialect: {e}") from None
        given: dict[str, Any] = {
            "format": args.choice("format", self.format, SOURCE_FORMATS),
            "on_error": args.choice("on_error", self.on_error, ON_ERROR),
            "mode": args.choice("mode", self.mode, WRITE_MODES),
            "timestamp_unit": args.choice("timestamp_unit", self.timestamp_unit, TIMESTAMP_UNIT_CHOICES),
            "extra_columns": args.choice("extra_columns", self.extra_columns, EXTRA_COLUMNS),
        }
        return IngestRequest(
            source=sources[0] if len(sources) == 1 else sources,
            table=args.text("table", self.table),
            workspace=self._workspace(args, config),
            schema=args.optional_text("schema", self.schema),
            csv=csv,
            storage_options=config.storage_options,
            parent_run_id=parent_run_id,
            # Unset options keep the task's defaults.
            **_set(given, timezone=args.optional_text("timezone", self.timezone) or config.timezone),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import ingest

        return ingest(request)

    def _summary(self, result: Mapping[str, Any]) -> str:
        bad = f", {result['bad_rows']} bad rows skipped (see {result['rejected_uri']})" if result["bad_rows"] else ""
        return (
            f"table {result['table']} version {result['version']}: {result['rows']} rows "
            f"({result['rows_loaded']} from {result['file_count']} file(s)){bad}" + _reused(result)
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        if result is not None:
            return (*result_datasets(result), None)
        sources = [self.source] if isinstance(self.source, str) else list(self.source or [])
        workspace = self._workspace_or_none()
        outputs = [workspace_dataset(workspace, self.table)] if workspace and isinstance(self.table, str) else []
        return [file_dataset(s) for s in sources if isinstance(s, str) and "*" not in s], outputs, None


# =====================================================================================================================
# compute
# =====================================================================================================================
class OpenFeatComputeFeaturesOperator(_OpenFeatOperator):
    """Run a feature script over workspace tables into a new version of a table (``openfeat_core.tasks.compute``).

    The version's lineage keeps the SQL, its plan digest and the input versions. Rerunning with the same plan and
    input versions returns the version already computed (``reused``).

    Args:
        sql: one OpenMLDB ``SELECT`` (or ``DEPLOY name SELECT ...``), or the path of a ``.sql`` file, relative to
            the DAG folder or the DAG's ``template_searchpath``. Templated (the file's content too).
        table: the table to write (the task's ``output``). Templated.
        inputs: versions to read, ``{"flights": 3}``; tables the SQL reads that are not listed are read at their
            latest version. Templated (versions may render as text).
        timezone: zone of calendar functions (default: the connection's, else UTC). Templated.
        engine: the backend that computes, ``local`` or ``spark`` (default: ``$OPENFEAT_BACKEND`` in the worker's
            environment, else local); the result is the same row for row. Templated.
        conn_id: the ``openfeat`` connection.
        workspace: the workspace (default: the connection's).
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "compute"
    template_fields: Sequence[str] = (
        "sql",
        "table",
        "inputs",
        "timezone",
        "engine",
        *_OpenFeatOperator.template_fields,
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "inputs": "json"}

    def __init__(
        self,
        *,
        sql: str,
        table: str,
        inputs: Mapping[str, int | str | None] | None = None,
        timezone: str | None = None,
        engine: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.table = table
        self.inputs = inputs
        self.timezone = timezone
        self.engine = engine

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.tasks import ComputeRequest

        return ComputeRequest(
            sql=args.text("sql", self.sql),
            output=args.text("table", self.table),
            workspace=self._workspace(args, config),
            inputs=args.table_versions("inputs", self.inputs),
            storage_options=config.storage_options,
            parent_run_id=parent_run_id,
            engine=args.optional_text("engine", self.engine),
            # Unset, the task's default zone.
            **_set({}, timezone=args.optional_text("timezone", self.timezone) or config.timezone),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import compute

        return compute(request)

    def _summary(self, result: Mapping[str, Any]) -> str:
        inputs = ", ".join(f"{t} v{v}" for t, v in result["inputs"].items())
        return (
            f"table {result['table']} version {result['version']}: {result['rows']} rows from {inputs}, "
            f"plan {result['plan_digest'][:12]}" + _reused(result)
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        sql = self.sql if isinstance(self.sql, str) else None
        if result is not None:
            return (*result_datasets(result), sql)
        workspace = self._workspace_or_none()
        if workspace is None or not isinstance(self.table, str):
            return [], [], sql
        inputs = [workspace_dataset(workspace, t) for t in (self.inputs or {}) if isinstance(t, str)]
        return inputs, [workspace_dataset(workspace, self.table)], sql


# =====================================================================================================================
# export
# =====================================================================================================================
class OpenFeatExportTrainingSetOperator(_OpenFeatOperator):
    """Write a workspace table version to a CSV, Parquet, LIBSVM or lines file (``openfeat_core.tasks.export``).

    The file is published atomically. Rerunning the same export (same table version, destination and options)
    while its files are still there writes nothing (``reused``).

    Args:
        table: the workspace table. Templated.
        path: destination path or URI (``s3://...``); a directory for Parquet with ``partition_by``. Templated.
        format: ``csv``, ``parquet``, ``libsvm`` or ``lines`` (default: from the extension of ``path``).
        version: the table version (default: the latest). Templated (may render as text).
        columns: the columns to write, in order (default: all).
        mode: ``overwrite`` (default), ``error_if_exists`` or ``append``.
        delimiter: CSV field separator (default ``,``).
        header: CSV header line (default true).
        null_value: CSV text of NULL (default empty).
        quote: CSV quote character (default ``"``; empty: never quote).
        timestamp_format: CSV timestamps as ``iso`` (default) or ``epoch_ms``.
        partition_by: Parquet: Hive-partition the dataset by these columns.
        compression: Parquet codec (default snappy).
        label_column: LIBSVM label column (required for LIBSVM; the task's ``label``).
        features: LIBSVM feature columns in slot order (default: every other column).
        categorical: LIBSVM integer columns hashed as discrete features.
        buckets: LIBSVM slots per discrete feature.
        on_null_label: LIBSVM rows with a NULL label: ``fail`` (default) or ``skip``.
        conn_id: the ``openfeat`` connection.
        workspace: the workspace (default: the connection's).
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "export"
    template_fields: Sequence[str] = (
        "table",
        "path",
        "format",
        "version",
        "columns",
        "mode",
        "partition_by",
        "label_column",
        "features",
        "categorical",
        "buckets",
        "on_null_label",
        *_OpenFeatOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"columns": "json", "features": "json"}

    def __init__(
        self,
        *,
        table: str,
        path: str,
        format: str | None = None,
        version: int | str | None = None,
        columns: Sequence[str] | None = None,
        mode: str = "overwrite",
        delimiter: str | None = None,
        header: bool | None = None,
        null_value: str | None = None,
        quote: str | None = None,
        timestamp_format: str | None = None,
        partition_by: Sequence[str] | None = None,
        compression: str | None = None,
        label_column: str | None = None,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        buckets: int | str | None = None,
        on_null_label: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.path = path
        self.format = format
        self.version = version
        self.columns = columns
        self.mode = mode
        self.delimiter = delimiter
        self.header = header
        self.null_value = null_value
        self.quote = quote
        self.timestamp_format = timestamp_format
        self.partition_by = partition_by
        self.compression = compression
        self.label_column = label_column
        self.features = features
        self.categorical = categorical
        self.buckets = buckets
        self.on_null_label = on_null_label

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.choices import EXPORT_FORMATS, ON_NULL_LABEL, TIMESTAMP_FORMATS, WRITE_MODES
        from openfeat_core.tasks import ExportRequest

        if self.delimiter is not None and (not isinstance(self.delimiter, str) or len(self.delimiter) != 1):
            raise args.error("delimiter", f"must be one character, got {self.delimiter!r}")
        if self.quote is not None and (not isinstance(self.quote, str) or len(self.quote) > 1):
            raise args.error("quote", f"must be one character or empty, got {self.quote!r}")
        if self.null_value is not None and not isinstance(self.null_value, str):
            raise args.error("null_value", f"must be a string, got {self.null_value!r}")
        given: dict[str, Any] = {
            "format": args.choice("format", self.format, EXPORT_FORMATS),
            "version": args.integer("version", self.version, minimum=1),
            "columns": args.texts("columns", self.columns),
            "mode": args.choice("mode", self.mode, WRITE_MODES),
            "delimiter": self.delimiter,
            "header": args.flag("header", self.header),
            "null_value": self.null_value,
            "quote": self.quote,
            "timestamp_format": args.choice("timestamp_format", self.timestamp_format, TIMESTAMP_FORMATS),
            "partition_by": args.texts("partition_by", self.partition_by),
            "compression": args.optional_text("compression", self.compression),
            "label": args.optional_text("label_column", self.label_column),
            "features": args.texts("features", self.features),
            "categorical": args.texts("categorical", self.categorical),
            "buckets": args.integer("buckets", self.buckets, minimum=1),
            "on_null_label": args.choice("on_null_label", self.on_null_label, ON_NULL_LABEL),
        }
        return ExportRequest(
            table=args.text("table", self.table),
            workspace=self._workspace(args, config),
            path=args.text("path", self.path),
            storage_options=config.storage_options,
            parent_run_id=parent_run_id,
            # Unset options keep the task's defaults.
            **_set(given),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import export

        return export(request)

    def _summary(self, result: Mapping[str, Any]) -> str:
        skipped = f", {result['skipped_rows']} rows without label left out" if result["skipped_rows"] else ""
        return (
            f"{result['table']} version {result['version']} -> {result['path']} ({result['format']}): "
            f"{result['rows']} rows, {result['bytes']} bytes{skipped}" + _reused(result)
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        if result is not None:
            return (*result_datasets(result), None)
        workspace = self._workspace_or_none()
        inputs = [workspace_dataset(workspace, self.table)] if workspace and isinstance(self.table, str) else []
        outputs = [file_dataset(self.path)] if isinstance(self.path, str) and self.path else []
        return inputs, outputs, None


# =====================================================================================================================
# deploy
# =====================================================================================================================
class _OnlineOperator(_OpenFeatOperator):
    """Deploy and verify: a target (embedded store or service) from the arguments, else from the connection."""

    def __init__(self, *, store: str | None = None, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.url = url

    def _target(self, args: Arguments, config: OpenFeatConnectionConfig) -> tuple[str | None, str | None]:
        """``(store, url)``: exactly one is set."""
        store = args.optional_text("store", self.store)
        url = args.optional_text("url", self.url)
        if store is not None and url is not None:
            raise args.error("store", f"and argument 'url' ({url!r}) both name a target; give one")
        if store is None and url is None:
            # The connection's service wins over its store: a store directory served by `openfeat serve` is locked.
            if config.url is not None:
                url = config.url
            else:
                store = config.store
        if store is None and url is None:
            raise args.error(
                "store",
                f"or 'url' is required: connection {self.conn_id!r} has no service URL (host) and no extra 'store'",
            )
        return store, url

    def _release(self, request: Any) -> None:
        # A store directory is opened by one process at a time: release it for the next task (in Airflow's own
        # process with `airflow dags test`, or a service started on it).
        if getattr(request, "store", None) is not None:
            from openfeat_core.tasks import close_embedded_store

            close_embedded_store(request.store)

    def _target_text(self) -> str | None:
        """The target as far as known without failing (for OpenLineage before the task ran)."""
        for value in (self.url, self.store):
            if isinstance(value, str) and value:
                return value
        try:
            config = self.hook.get_conn()
        except Exception:
            return None
        return config.url or config.store


class OpenFeatDeployOperator(_OnlineOperator):
    """Deploy a feature script online, loading workspace tables into an embedded store first
    (``openfeat_core.tasks.deploy``).

    Rerunning with the same script changes nothing (``new_version`` false); tables that already hold the workspace
    version's rows are not loaded again.

    Args:
        name: the deployment name. Templated.
        sql: a ``SELECT`` or ``DEPLOY name SELECT ...``, or the path of a ``.sql`` file. Templated.
        tables: workspace tables to load into the store before deploying: a list (latest versions) or
            ``{"flights": 3, "weather": None}``. Embedded stores create missing online tables; a service must have
            them. Templated.
        store: an embedded store directory (default: the connection's extra ``store``, unless it has a URL).
        url: a running ``openfeat serve`` (default: the connection's host). Its token is the connection's password.
        create_store: create ``store`` if it does not exist (default false).
        timezone: zone of calendar functions of an embedded store (default: the connection's, else UTC).
        timeout: seconds to wait for each answer of the service (default: the connection's, else 60).
        log_requests: fraction of the requests an embedded store opened by this task keeps for verify.
        reference: the training-set file the deployed model was trained on: its statistics become the deployment's
            reference profile, which ``monitor`` compares served features with (default: found in the workspace
            by the script's plan digest, when ``tables`` are loaded). Templated.
        conn_id: the ``openfeat`` connection.
        workspace: the workspace of ``tables`` (default: the connection's).
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "deploy"
    template_fields: Sequence[str] = (
        "name",
        "sql",
        "tables",
        "store",
        "url",
        "timezone",
        "reference",
        *_OpenFeatOperator.template_fields,
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "tables": "json"}

    def __init__(
        self,
        *,
        name: str,
        sql: str,
        tables: Sequence[str] | Mapping[str, int | str | None] | None = None,
        store: str | None = None,
        url: str | None = None,
        create_store: bool = False,
        timezone: str | None = None,
        timeout: float | None = None,
        log_requests: float = 0.0,
        reference: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(store=store, url=url, **kwargs)
        self.name = name
        self.sql = sql
        self.reference = reference
        self.tables = tables
        self.create_store = create_store
        self.timezone = timezone
        self.timeout = timeout
        self.log_requests = log_requests

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.tasks import DeployRequest

        store, url = self._target(args, config)
        tables = args.table_versions("tables", self.tables)
        return DeployRequest(
            name=args.text("name", self.name),
            sql=args.text("sql", self.sql),
            store=store,
            url=url,
            token=config.token if url is not None else None,
            tables=tables,
            workspace=self._workspace(args, config) if tables else None,
            timezone=args.optional_text("timezone", self.timezone) or config.timezone,
            storage_options=config.storage_options,
            parent_run_id=parent_run_id,
            reference=args.optional_text("reference", self.reference),
            # Unset options keep the task's defaults.
            **_set(
                {},
                timeout=args.number("timeout", self.timeout, minimum=0.001) or config.timeout,
                create_store=args.flag("create_store", self.create_store),
                log_requests=args.number("log_requests", self.log_requests, maximum=1.0),
            ),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import deploy

        return deploy(request)

    def _summary(self, result: Mapping[str, Any]) -> str:
        state = "deployed" if result["new_version"] else "already deployed (unchanged)"
        loaded = [f"{t['table']} v{t['version']} ({t['rows']} rows)" for t in result["loaded"] if t["inserted"]]
        kept = [t["table"] for t in result["loaded"] if not t["inserted"]]
        parts = [f"loaded {', '.join(loaded)}"] if loaded else []
        parts += [f"{', '.join(kept)} already loaded"] if kept else []
        return f"{state} {result['name']} version {result['version']} on {result['target']}" + (
            f"; {'; '.join(parts)}" if parts else ""
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        sql = self.sql if isinstance(self.sql, str) else None
        if result is not None:
            return (*result_datasets(result), result["sql"])
        workspace = self._workspace_or_none()
        target = self._target_text()
        tables = list(self.tables or []) if not isinstance(self.tables, str) else []
        inputs = [workspace_dataset(workspace, t) for t in tables if isinstance(t, str)] if workspace else []
        outputs = [online_dataset(target, self.name)] if target and isinstance(self.name, str) else []
        return inputs, outputs, sql


# =====================================================================================================================
# verify
# =====================================================================================================================
class OpenFeatVerifyOperator(_OnlineOperator):
    """Check that a deployment's online answers equal the offline engine's (``openfeat_core.tasks.verify``).

    The result (the XCom) is the consistency report. On mismatches (with ``fail_on_mismatch``) or too few checked
    requests the task fails without retrying, and the report is pushed as the XCom ``report``.

    An embedded store's request log lives in the process that served the requests, and each Airflow task runs in
    its own process: give ``probe_table``, a workspace table of recent events (newer than the rows loaded into the
    store), whose last ``probe_rows`` rows are sent as requests and then verified. A service started with
    ``--log-requests RATE`` verifies the live traffic it sampled.

    Args:
        name: the deployment. Templated.
        store: an embedded store directory (default: the connection's, unless it has a URL). Templated.
        url: a running ``openfeat serve`` (default: the connection's host). Templated.
        probe_table: workspace table whose last rows are sent as requests first. Templated.
        probe_version: its version (default: the latest). Templated.
        probe_rows: how many rows to send (default 100). Templated.
        fail_on_mismatch: fail the task when a feature value disagrees (default true).
        min_requests: fail the task when fewer logged requests were checked (default 1).
        timezone: zone of calendar functions of an embedded store (default: the connection's, else UTC).
        timeout: seconds to wait for the service's report (default: the connection's, else 600).
        conn_id: the ``openfeat`` connection.
        workspace: the workspace of ``probe_table`` (default: the connection's).
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "verify"
    template_fields: Sequence[str] = (
        "name",
        "store",
        "url",
        "probe_table",
        "probe_version",
        "probe_rows",
        "timezone",
        *_OpenFeatOperator.template_fields,
    )

    def __init__(
        self,
        *,
        name: str,
        store: str | None = None,
        url: str | None = None,
        probe_table: str | None = None,
        probe_version: int | str | None = None,
        probe_rows: int | str = 100,
        fail_on_mismatch: bool = True,
        min_requests: int = 1,
        timezone: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(store=store, url=url, **kwargs)
        self.name = name
        self.probe_table = probe_table
        self.probe_version = probe_version
        self.probe_rows = probe_rows
        self.fail_on_mismatch = fail_on_mismatch
        self.min_requests = min_requests
        self.timezone = timezone
        self.timeout = timeout

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.tasks import VerifyRequest

        store, url = self._target(args, config)
        probe_table = args.optional_text("probe_table", self.probe_table)
        return VerifyRequest(
            name=args.text("name", self.name),
            store=store,
            url=url,
            token=config.token if url is not None else None,
            probe_table=probe_table,
            probe_version=args.integer("probe_version", self.probe_version, minimum=1),
            workspace=self._workspace(args, config) if probe_table else None,
            timezone=args.optional_text("timezone", self.timezone) or config.timezone,
            storage_options=config.storage_options,
            parent_run_id=parent_run_id,
            # Unset options keep the task's defaults.
            **_set(
                {},
                timeout=args.number("timeout", self.timeout, minimum=0.001) or config.timeout,
                probe_rows=args.integer("probe_rows", self.probe_rows, minimum=1),
                fail_on_mismatch=args.flag("fail_on_mismatch", self.fail_on_mismatch),
                min_requests=args.integer("min_requests", self.min_requests, minimum=0),
            ),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import verify

        return verify(request)

    def _on_verification_failed(self, context: Context, report: dict[str, Any]) -> None:
        context["ti"].xcom_push(key="report", value=report)

    def _summary(self, result: Mapping[str, Any]) -> str:
        bad = [f["name"] for f in result["features"] if f["mismatch_rate"] != 0 or f["missing_rate"] != 0]
        verdict = "online equals offline" if not bad else f"mismatches in {', '.join(bad)}"
        return (
            f"{result['deployment']} on {result['target']}: {result['requests']} requests ({result['rows']} rows, "
            f"{result['probed_rows']} probed) x {len(result['features'])} features: {verdict}"
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        if result is not None:
            return (*result_datasets(result), None)
        target = self._target_text()
        inputs = [online_dataset(target, self.name)] if target and isinstance(self.name, str) else []
        workspace = self._workspace_or_none()
        if workspace is not None and isinstance(self.probe_table, str) and self.probe_table:
            inputs.append(workspace_dataset(workspace, self.probe_table))
        return inputs, [], None


# =====================================================================================================================
# ingest-stream
# =====================================================================================================================
class OpenFeatIngestStreamOperator(_OpenFeatOperator):
    """Consume Kafka topics into the tables of an embedded durable store until caught up
    (``openfeat_core.tasks.ingest_stream``).

    The task always runs **until caught up** (``until_caught_up`` forced on): it consumes until every partition
    reached the high watermark it had when the task started, then returns, as a batch task of a DAG must. Each batch
    of messages is stored with the positions past it in one log frame of the store, so a rerun (a retry after a
    crash, a cleared task, the next DAG run) goes on from the stored positions and never stores a message twice.
    Bad messages become dead letters (in the store, and in ``dead_letters`` when given) and do not fail the task,
    unless more than ``max_bad_ratio`` of the messages read are bad.

    The store is opened in the worker's process, so it must not be held by a running ``openfeat serve`` (a service
    consumes a stream itself: ``openfeat serve --ingest-topics``).

    Args:
        bootstrap: the Kafka brokers, ``host:port[,host:port...]``. Templated.
        topics: ``"tx"`` (topic ``tx`` into table ``tx``) or ``"tx,clicks:events"`` (topic ``clicks`` into table
            ``events``). Templated.
        store: the embedded store directory (default: the connection's extra ``store``). Templated.
        dead_letters: JSON-lines file that also receives the bad messages (appended). Templated.
        dead_letter_topic: Kafka topic that also receives the bad messages (created with one partition when
            missing). Templated.
        workspace: also append the rows to this workspace's tables of the same names, as new versions (exactly
            once). Only when given: not the connection's workspace. Templated.
        workspace_every_rows: a workspace version every this many rows (default 100000), or
            ``workspace_every_seconds`` seconds if sooner (default 60), and one at the end. Templated.
        workspace_every_seconds: see ``workspace_every_rows``. Templated.
        max_bad_ratio: fail (without retrying) once more than this share of the messages read are bad (default
            0.1; what was read until then is stored). Templated.
        message_format: ``auto`` (default), ``json`` (plain objects) or ``envelope`` (Kafka Connect's schema +
            payload). Templated.
        timezone: zone of timestamp strings without an offset (default: the connection's, else the store's).
            Templated.
        group_id: consumer group the offsets are committed to, for lag tooling only (default ``openfeat-ingest``).
            Templated.
        consumer_config: more librdkafka consumer settings, ``{"security.protocol": "SSL"}``. Templated.
        create_tables: create a missing table from the schema of its topic's first Kafka Connect envelope.
        create_store: create ``store`` if it does not exist (default false).
        conn_id: the ``openfeat`` connection.
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.

    ``on_kill`` stops the consumer after the batch under way (its rows and positions are stored together), then
    fails the task.
    """

    task_name = "ingest-stream"
    template_fields: Sequence[str] = (
        "bootstrap",
        "topics",
        "store",
        "dead_letters",
        "dead_letter_topic",
        "workspace",
        "workspace_every_rows",
        "workspace_every_seconds",
        "max_bad_ratio",
        "message_format",
        "timezone",
        "group_id",
        "consumer_config",
        "parent_run_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"consumer_config": "json"}

    def __init__(
        self,
        *,
        bootstrap: str,
        topics: str | Sequence[str],
        store: str | None = None,
        dead_letters: str | None = None,
        dead_letter_topic: str | None = None,
        workspace: str | None = None,
        workspace_every_rows: int | str = 100_000,
        workspace_every_seconds: float | str = 60.0,
        max_bad_ratio: float | str = 0.1,
        message_format: str = "auto",
        timezone: str | None = None,
        group_id: str = "openfeat-ingest",
        consumer_config: Mapping[str, Any] | str | None = None,
        create_tables: bool = False,
        create_store: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.topics = topics
        self.store = store
        self.dead_letters = dead_letters
        self.dead_letter_topic = dead_letter_topic
        self.workspace = workspace
        self.workspace_every_rows = workspace_every_rows
        self.workspace_every_seconds = workspace_every_seconds
        self.max_bad_ratio = max_bad_ratio
        self.message_format = message_format
        self.timezone = timezone
        self.group_id = group_id
        self.consumer_config = consumer_config
        self.create_tables = create_tables
        self.create_store = create_store
        self._stop: threading.Event | None = None

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.streaming.formats import MESSAGE_FORMATS
        from openfeat_core.tasks import IngestStreamRequest

        store = args.optional_text("store", self.store) or config.store
        if store is None:
            raise args.error(
                "store",
                f"is required: pass store=... or set the extra 'store' of connection {self.conn_id!r} (the task "
                "writes into an embedded store; a running service consumes a stream with 'openfeat serve "
                "--ingest-topics')",
            )
        topics = args.texts("topics", self.topics, single=True)
        given: dict[str, Any] = {
            "workspace_every_rows": args.integer("workspace_every_rows", self.workspace_every_rows, minimum=1),
            "workspace_every_seconds": args.number(
                "workspace_every_seconds", self.workspace_every_seconds, minimum=0.001
            ),
            "max_bad_ratio": args.number("max_bad_ratio", self.max_bad_ratio, maximum=1.0),
            "message_format": args.choice("message_format", self.message_format, MESSAGE_FORMATS),
            "group_id": args.optional_text("group_id", self.group_id),
        }
        self._stop = threading.Event()
        return IngestStreamRequest(
            store=store,
            bootstrap=args.text("bootstrap", self.bootstrap),
            topics=",".join(topics or ()),
            until_caught_up=True,
            dead_letters=args.optional_text("dead_letters", self.dead_letters),
            dead_letter_topic=args.optional_text("dead_letter_topic", self.dead_letter_topic),
            workspace=args.optional_text("workspace", self.workspace),
            storage_options=config.storage_options,
            timezone=args.optional_text("timezone", self.timezone) or config.timezone,
            consumer_config=args.mapping("consumer_config", self.consumer_config),
            create_tables=bool(args.flag("create_tables", self.create_tables)),
            create_store=bool(args.flag("create_store", self.create_store)),
            parent_run_id=parent_run_id,
            stop=self._stop,
            # Unset options keep the task's defaults.
            **_set(given),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import ingest_stream

        result = ingest_stream(request)
        if request.stop.is_set():
            raise AirflowTaskTerminated(
                f"OpenFeat {self.task_name} task {self.task_id!r} was killed: it stopped after the batch under way "
                f"({result.rows} rows and {result.dead_letters} dead letters stored with their positions)"
            )
        return result

    def on_kill(self) -> None:
        """Stop the consumer after the batch under way (see the class docstring); nothing to do when no task runs.

        Unlike the other operators, the task is not interrupted mid-batch: a stop request is what the consumer
        checks between batches, and it lets the store write the batch's rows and positions as one frame.
        """
        stop = self._stop
        if stop is None or self._working_thread is None:
            return
        self.log.warning("on_kill: stopping the OpenFeat %s task after the batch under way", self.task_name)
        stop.set()

    def _release(self, request: Any) -> None:
        from openfeat_core.tasks import close_embedded_store

        close_embedded_store(request.store)

    def _summary(self, result: Mapping[str, Any]) -> str:
        topics = ", ".join(f"{t['topic']} -> {t['table']}" for t in result["topics"])
        return (
            f"{topics} into {result['store']}: {result['messages']} messages, {result['rows']} rows stored, "
            f"{result['dead_letters']} dead letters" + (" (caught up)" if result["caught_up"] else "")
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        # Kafka topics and online-store tables have no kind among the core's dataset references yet.
        return [], [], None
