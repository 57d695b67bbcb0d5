"""The six OpenFeat tasks as KFP v2 Python components.

Each component's function is one call of :mod:`kubeflow_components.runtime`, which runs the core task API in process
(not a shell command): same arguments, idempotency and errors as the Airflow operators and the ``openfeat`` command
line. A task error fails the KFP task with its message in the log (a line saying whether it is terminal or
transient first); nothing is swallowed.

All components run in the OpenFeat image (:data:`IMAGE`, the one setting: ``$OPENFEAT_KFP_IMAGE`` when the module
is imported, else ``ghcr.io/openfeat/openfeat-kfp:<openfeat version>``; built by ``kubeflow_components/Dockerfile``)
with nothing installed at task start.

Every component takes the tracking context ``kfp_run_id``, ``kfp_run_name``, ``kfp_task_name`` (pass
``dsl.PIPELINE_JOB_ID_PLACEHOLDER``, ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER``, ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``;
:func:`kubeflow_components.pipeline.tracked` does it) and ``mlflow_tracking_uri`` / ``mlflow_experiment``: with a
tracking URI, each task is an MLflow run tagged ``openfeat.orchestrator=kubeflow`` under one parent run per KFP run.
The service token of ``deploy`` / ``verify`` is read from ``$OPENFEAT_TOKEN`` (a Kubernetes secret, see the
pipeline), never a parameter.
"""

import importlib.metadata
import os

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Output

from kubeflow_components.artifacts import Deployment, WorkspaceTable

__all__ = ["COMPONENTS", "IMAGE", "compute", "deploy", "export", "ingest", "ingest_stream", "verify"]


def _default_image() -> str:
    try:
        version = importlib.metadata.version("openfeat")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "latest"
    return f"ghcr.io/openfeat/openfeat-kfp:{version}"


#: The image every component runs in (OpenFeat and its kfp / MLflow extras installed from the wheel).
IMAGE: str = os.environ.get("OPENFEAT_KFP_IMAGE") or _default_image()


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest(
    workspace: str,
    table: str,
    source: str,
    table_version: Output[WorkspaceTable],
    metrics: Output[Metrics],
    statistics: Output[Markdown],
    schema: str = "",
    format: str = "",
    on_error: str = "fail",
    timezone: str = "UTC",
    mode: str = "error_if_exists",
    timestamp_unit: str = "ms",
    extra_columns: str = "error",
    csv: dict = {},  # noqa: B006 - KFP takes a JSON default; it is never mutated
    storage_options: dict = {},  # noqa: B006
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Load a source file (or files) into a new version of a workspace table (``openfeat ingest``).

    Args:
        workspace: the workspace URI (local path, ``s3://...``).
        table: the table to write.
        source: a file, a directory or a glob (CSV, Parquet...).
        schema: the declared columns, ``"name type, ..."`` (OpenMLDB types); empty: inferred.
        format: ``csv``, ``parquet``, ``json`` (JSON lines) or ``ipc``; empty: from the file name.
        on_error: ``fail`` (a bad row rejects the load) or ``skip`` (bad rows are reported and left out).
        timezone: of timestamps without an offset.
        mode: ``error_if_exists``, ``append`` or ``overwrite``.
        timestamp_unit: of integer timestamps: ``ms``, ``s``, ``us`` or ``ns``.
        extra_columns: source columns not in the schema: ``error`` or ``ignore``.
        csv: the CSV dialect, ``{"delimiter": ";", "header": false, "quote": "'", "null_values": ["NA"]}`` (any of
            the keys; empty: the defaults).
        storage_options: S3 settings of the workspace.

    Returns:
        The task's result (``IngestResult.to_dict()``: version, rows, bad rows, digest, ``reused``...).
        ``table_version`` is the version written (or reused), ``metrics`` its counts, ``statistics`` its
        per-column statistics.
    """
    from kubeflow_components.runtime import run_ingest, task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_ingest(
            workspace=workspace,
            table=table,
            source=source,
            schema=schema,
            format=format,
            on_error=on_error,
            timezone=timezone,
            mode=mode,
            timestamp_unit=timestamp_unit,
            extra_columns=extra_columns,
            csv=csv,
            storage_options=storage_options,
            table_version=table_version,
            metrics=metrics,
            statistics=statistics,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def compute(
    sql: str,
    output: str,
    table_version: Output[WorkspaceTable],
    metrics: Output[Metrics],
    statistics: Output[Markdown],
    table_1: Input[WorkspaceTable] = None,
    table_2: Input[WorkspaceTable] = None,
    table_3: Input[WorkspaceTable] = None,
    table_4: Input[WorkspaceTable] = None,
    workspace: str = "",
    inputs: dict = {},  # noqa: B006 - KFP takes a JSON default; it is never mutated
    timezone: str = "UTC",
    engine: str = "",
    storage_options: dict = {},  # noqa: B006
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Run a feature script into a new version of a workspace table (``openfeat compute``).

    Args:
        sql: the feature script (OpenMLDB SQL).
        output: the table to write.
        table_1: up to four input table versions (``openfeat.WorkspaceTable`` from ingest or compute): the script
            reads exactly these versions. table_2, table_3, table_4: likewise.
        workspace: the workspace URI (default: the input tables').
        inputs: more input tables by name, ``{table: version}`` (null or "": the latest).
        timezone: the time zone of the script's date functions.
        engine: the backend that computes, ``local`` or ``spark`` ("": ``$OPENFEAT_BACKEND`` in the component's
            environment, else local); the result is the same row for row.
        storage_options: S3 settings of the workspace.

    Returns:
        The task's result (``ComputeResult.to_dict()``: version, rows, plan digest, input versions, ``reused``).
    """
    from kubeflow_components.runtime import run_compute, task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_compute(
            sql=sql,
            output=output,
            workspace=workspace,
            tables=[t for t in (table_1, table_2, table_3, table_4) if t is not None],
            inputs=inputs,
            timezone=timezone,
            engine=engine,
            storage_options=storage_options,
            table_version=table_version,
            metrics=metrics,
            statistics=statistics,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def export(
    table: Input[WorkspaceTable],
    training_set: Output[Dataset],
    metrics: Output[Metrics],
    path: str = "",
    format: str = "",
    columns: list = [],  # noqa: B006 - KFP takes a JSON default; it is never mutated
    mode: str = "overwrite",
    label: str = "",
    features: list = [],  # noqa: B006
    categorical: list = [],  # noqa: B006
    buckets: int = 1048576,
    on_null_label: str = "fail",
    delimiter: str = ",",
    header: bool = True,
    null_value: str = "",
    quote: str = '"',
    timestamp_format: str = "iso",
    partition_by: list = [],  # noqa: B006
    compression: str = "snappy",
    storage_options: dict = {},  # noqa: B006
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Export a table version as a training set (``openfeat export``): CSV, Parquet, LIBSVM or lines.

    Args:
        table: the table version to export.
        path: a stable destination (a rerun reuses its export; the Dataset's URI is this path); empty: the
            Dataset's own location in the pipeline root.
        format: ``csv``, ``parquet``, ``libsvm`` or ``lines``; empty: from the extension of ``path``, and ``csv``
            into the Dataset's own location (which has no extension).
        columns: the columns to write (default: all).
        mode: ``overwrite``, ``error_if_exists`` or ``append`` (to an existing ``path``).
        label: LIBSVM: the label column.
        features: LIBSVM: the feature columns.
        categorical: LIBSVM: columns hashed into ``buckets`` one-hot slots.
        buckets: LIBSVM: hash buckets per categorical column.
        on_null_label: LIBSVM: ``fail`` or ``skip`` rows whose label is NULL.
        delimiter: CSV field delimiter.
        header: CSV header line.
        null_value: CSV text of NULL.
        quote: CSV quote character (empty: never quote).
        timestamp_format: CSV timestamps as ``iso`` or ``epoch_ms``.
        partition_by: Parquet: Hive-partition the dataset by these columns (``path`` is then a directory).
        compression: Parquet codec.
        storage_options: S3 settings of the workspace and the destination.

    Returns:
        The task's result (``ExportResult.to_dict()``). ``training_set`` (metadata: format, rows, feature map)
        is the exported file.
    """
    from kubeflow_components.runtime import run_export, task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_export(
            table=table,
            path=path,
            format=format,
            columns=columns,
            mode=mode,
            label=label,
            features=features,
            categorical=categorical,
            buckets=buckets,
            on_null_label=on_null_label,
            delimiter=delimiter,
            header=header,
            null_value=null_value,
            quote=quote,
            timestamp_format=timestamp_format,
            partition_by=partition_by,
            compression=compression,
            storage_options=storage_options,
            training_set=training_set,
            metrics=metrics,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy(
    name: str,
    sql: str,
    deployment: Output[Deployment],
    metrics: Output[Metrics],
    table_1: Input[WorkspaceTable] = None,
    table_2: Input[WorkspaceTable] = None,
    table_3: Input[WorkspaceTable] = None,
    table_4: Input[WorkspaceTable] = None,
    store: str = "",
    url: str = "",
    create_store: bool = False,
    tables: dict = {},  # noqa: B006 - KFP takes a JSON default; it is never mutated
    workspace: str = "",
    timezone: str = "",
    timeout: float = 60.0,
    storage_options: dict = {},  # noqa: B006
    reference: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Load table versions into an online store or service and deploy the feature script (``openfeat deploy``).

    Args:
        name: the deployment.
        sql: the feature script.
        table_1: up to four table versions to load (only into empty online tables). table_2, table_3, table_4:
            likewise.
        store: an embedded durable store directory (or give ``url``).
        url: a running ``openfeat serve`` (token from ``$OPENFEAT_TOKEN``).
        create_store: create the store directory if missing.
        tables: more tables to load by name, ``{table: version}``.
        workspace: the workspace of ``tables`` (default: the input tables').
        timezone: of the embedded store.
        timeout: seconds for each service call.
        storage_options: S3 settings of the workspace.
        reference: the training-set file the model was trained on (its statistics become the deployment's
            reference profile, which ``monitor`` compares served features with); empty: found in the workspace.

    Returns:
        The task's result (``DeployResult.to_dict()``: version, ``new_version``, indexes, tables loaded).
    """
    from kubeflow_components.runtime import run_deploy, task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_deploy(
            name=name,
            sql=sql,
            store=store,
            url=url,
            token="",
            create_store=create_store,
            tables=[t for t in (table_1, table_2, table_3, table_4) if t is not None],
            table_versions=tables,
            workspace=workspace,
            timezone=timezone,
            timeout=timeout,
            storage_options=storage_options,
            deployment=deployment,
            metrics=metrics,
            reference=reference,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def verify(
    name: str,
    metrics: Output[Metrics],
    report: Output[Markdown],
    deployment: Input[Deployment] = None,
    probe_table: Input[WorkspaceTable] = None,
    store: str = "",
    url: str = "",
    probe_rows: int = 100,
    workspace: str = "",
    timezone: str = "",
    fail_on_mismatch: bool = True,
    min_requests: int = 1,
    timeout: float = 600.0,
    storage_options: dict = {},  # noqa: B006 - KFP takes a JSON default; it is never mutated
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Recompute logged online requests offline and compare every feature (``openfeat verify``).

    Args:
        name: the deployment.
        deployment: the deploy task's artifact (orders verify after it; ``store`` / ``url`` default to its).
        probe_table: a table version whose rows are first sent as requests.
        store: the embedded store directory (or ``url``; default: the deployment's).
        url: a running ``openfeat serve`` (token from ``$OPENFEAT_TOKEN``).
        probe_rows: rows of ``probe_table`` sent.
        workspace: of ``probe_table`` (default: the artifact's).
        timezone: of the embedded store.
        fail_on_mismatch: fail the task when a feature differs (the metrics and report are written first).
        min_requests: fail when fewer requests were verified.
        timeout: seconds for each service call.
        storage_options: S3 settings of the workspace.

    Returns:
        The task's result (``VerifyResult.to_dict()``); ``metrics`` holds the mismatch rates, ``report`` a table.
    """
    from kubeflow_components.runtime import run_verify, task_environment

    if deployment is not None:
        store = store or deployment.metadata.get("store", "")
        url = url or deployment.metadata.get("url", "")
    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_verify(
            name=name,
            store=store,
            url=url,
            token="",
            probe_table=probe_table,
            probe_rows=probe_rows,
            workspace=workspace,
            timezone=timezone,
            fail_on_mismatch=fail_on_mismatch,
            min_requests=min_requests,
            timeout=timeout,
            storage_options=storage_options,
            metrics=metrics,
            report=report,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest_stream(
    store: str,
    bootstrap: str,
    topics: str,
    metrics: Output[Metrics],
    dead_letters: str = "",
    dead_letter_topic: str = "",
    workspace: str = "",
    workspace_every_rows: int = 100000,
    workspace_every_seconds: float = 60.0,
    storage_options: dict = {},  # noqa: B006 - KFP takes a JSON default; it is never mutated
    max_bad_ratio: float = 0.1,
    message_format: str = "auto",
    timezone: str = "",
    group_id: str = "openfeat-ingest",
    consumer_config: dict = {},  # noqa: B006
    create_tables: bool = False,
    create_store: bool = False,
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    kfp_task_name: str = "",
    mlflow_tracking_uri: str = "",
    mlflow_experiment: str = "",
) -> dict:
    """Consume Kafka topics into the tables of an embedded durable store until caught up (``openfeat ingest-stream
    --until-caught-up``).

    Always until caught up: the task consumes until every partition reached the high watermark it had at the
    start, then returns. Rows and positions are stored together, so a rerun goes on from the stored positions and
    never stores a message twice.

    Args:
        store: the embedded durable store directory (a volume shared with the tasks that serve or verify it).
        bootstrap: the Kafka brokers, ``host:port[,host:port...]``.
        topics: ``"tx"`` (topic ``tx`` into table ``tx``) or ``"tx,clicks:events"``.
        dead_letters: JSON-lines file that also receives the bad messages; empty: the store's record only.
        dead_letter_topic: Kafka topic that also receives them (created with one partition when missing).
        workspace: also append the rows to this workspace's tables of the same names, as new versions (exactly once),
            one every ``workspace_every_rows`` rows or ``workspace_every_seconds`` seconds, and at the end.
        workspace_every_rows: see ``workspace``.
        workspace_every_seconds: see ``workspace``.
        storage_options: S3 settings of the workspace.
        max_bad_ratio: fail once more than this share of the messages read are bad.
        message_format: ``auto``, ``json`` (plain objects) or ``envelope`` (Kafka Connect's schema + payload).
        timezone: of timestamp strings without an offset (default: the store's).
        group_id: the consumer group offsets are committed to, for lag tooling only.
        consumer_config: more librdkafka consumer settings.
        create_tables: create a missing table from its topic's first Kafka Connect envelope.
        create_store: create the store directory if missing.

    Returns:
        The task's result (``IngestStreamResult.to_dict()``: messages, rows, dead letters, positions,
        ``caught_up``); ``metrics`` holds the counts.
    """
    from kubeflow_components.runtime import run_ingest_stream, task_environment

    with task_environment(
        run_id=kfp_run_id,
        run_name=kfp_run_name,
        task_name=kfp_task_name,
        tracking_uri=mlflow_tracking_uri,
        experiment=mlflow_experiment,
    ):
        return run_ingest_stream(
            store=store,
            bootstrap=bootstrap,
            topics=topics,
            dead_letters=dead_letters,
            dead_letter_topic=dead_letter_topic,
            workspace=workspace,
            workspace_every_rows=workspace_every_rows,
            workspace_every_seconds=workspace_every_seconds,
            storage_options=storage_options,
            max_bad_ratio=max_bad_ratio,
            message_format=message_format,
            timezone=timezone,
            group_id=group_id,
            consumer_config=consumer_config,
            create_tables=create_tables,
            create_store=create_store,
            metrics=metrics,
        )


#: The components by task name (the compiled specs are ``specs/<name>.yaml``).
COMPONENTS = {
    "ingest": ingest,
    "compute": compute,
    "export": export,
    "deploy": deploy,
    "verify": verify,
    "ingest-stream": ingest_stream,
}
