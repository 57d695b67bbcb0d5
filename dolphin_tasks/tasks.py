"""OpenFeat's tasks as DolphinScheduler task classes, used inside ``with Workflow(...)`` like DS's own.

A DS task type is a Java plugin on the server, so an OpenFeat task renders as DS's built-in **Shell** task running
``openfeat-dolphinscheduler run TASK ... -- <openfeat CLI arguments>`` (:mod:`dolphin_tasks.runner`). Shell rather
than Python, because:

* the worker needs nothing but ``pip install openfeat`` in the task's DS Environment: no ``PYTHON_HOME`` setting, no
  Python version shared with the worker, and the task runs exactly what ``openfeat`` runs everywhere else;
* DS substitutes parameters (``${system.biz.date}``, ``$[yyyyMMdd-1]``, workflow and upstream OUT parameters) in a
  Shell task's script, and reads ``${setValue(key=value)}`` lines from its output as OUT parameters;
* the exit code decides the task's state, and OpenFeat's exit codes carry its error classification (2 usage, 1 data:
  terminal; 75: transient).

Arguments are the Airflow operators' (one meaning, :mod:`openfeat_core.tasks.arguments`) and are checked when the
workflow is defined, with the same messages, except values that hold a DS parameter: those are known only when the
task runs, where ``openfeat`` checks them; not switches (``header``, ``create_store``, ``create_tables``,
``fail_on_mismatch``, ``on_null_label``): the script holds an option or not, so a switch cannot wait for a DS
parameter. Each task publishes its result's key fields (:attr:`openfeat_core.tasks.TaskResult.key_fields`) as OUT
parameters named ``<output_prefix>_<field>`` (the prefix is the task name, with characters other than letters,
digits and ``_`` replaced by ``_``): ``${ingest_flights_version}``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydolphinscheduler.tasks.shell import Shell

from openfeat_core.choices import (
    EXPORT_FORMATS,
    EXTRA_COLUMNS,
    ON_ERROR,
    ON_NULL_LABEL,
    SOURCE_FORMATS,
    TIMESTAMP_FORMATS,
    TIMESTAMP_UNIT_CHOICES,
    WRITE_MODES,
)
from openfeat_core.streaming.formats import MESSAGE_FORMATS
from openfeat_core.tasks import (
    ComputeResult,
    DeployResult,
    ExportResult,
    IngestResult,
    IngestStreamResult,
    TaskResult,
    VerifyResult,
)
from openfeat_core.tasks.arguments import Arguments
from openfeat_core.tasks.spec import task_spec

__all__ = [
    "OpenFeatCompute",
    "OpenFeatDeploy",
    "OpenFeatExport",
    "OpenFeatIngest",
    "OpenFeatIngestStream",
    "OpenFeatTask",
    "OpenFeatVerify",
    "is_parameter",
]

#: A DS parameter reference: ``${name}`` (built-in, workflow, upstream OUT) or a time expression ``$[yyyyMMdd-1]``.
_PARAMETER = re.compile(r"\$\{[^}]+\}|\$\[[^\]]+\]")
#: The end of the heredoc that hands the SQL to ``openfeat`` on stdin.
_SQL_END = "OPENFEAT_SQL"


def is_parameter(value: Any) -> bool:
    """True when ``value`` is text holding a DS parameter reference (checked when the task runs, not before)."""
    return isinstance(value, str) and _PARAMETER.search(value) is not None


def _prefix_of(task_name: str) -> str:
    """The default prefix of a task's OUT parameters: its name with other characters than ``[A-Za-z0-9_]`` as ``_``."""
    return re.sub(r"\W", "_", task_name, flags=re.ASCII)


class _Checks(Arguments):
    """The core's argument checks, letting a DS parameter through (its value is known when the task runs)."""

    def value(self, check: Any, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        return value if is_parameter(value) else check(name, value, *args, **kwargs)


class OpenFeatTask(Shell):
    """Base of the OpenFeat task classes: a DS Shell task that runs one ``openfeat`` task through the runner.

    Args:
        name: the DS task name (unique in the workflow).
        workspace: the OpenFeat workspace (directory or URI); default: ``$OPENFEAT_WORKSPACE`` of the task's
            environment, else ``./openfeat-workspace`` in the task's execution directory. Not for a task that reads
            no workspace (``monitor``).
        output_prefix: prefix of the OUT parameters (default: ``name``, other characters than ``[A-Za-z0-9_]`` as
            ``_``).
        **kwargs: DS task settings (``environment_name``, ``worker_group``, ``fail_retry_times``,
            ``fail_retry_interval``, ``timeout``, ``description``...), as for any pydolphinscheduler task.
    """

    #: The ``openfeat`` command (and task) this class runs.
    openfeat_task: ClassVar[str]
    #: Its result class: which fields become OUT parameters.
    result_class: ClassVar[type[TaskResult]]

    def __init__(
        self,
        name: str,
        *,
        workspace: str | None = None,
        output_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        checks = _Checks(f"{type(self).__name__}(name={name!r})")
        arguments, stdin = self._arguments(checks)
        workspace = checks.value(checks.optional_text, "workspace", workspace)
        if workspace is not None and "workspace" not in task_spec(self.openfeat_task).arguments:
            raise checks.error("workspace", f"is not an argument of the {self.openfeat_task} task, got {workspace!r}")
        if workspace is not None:
            arguments += ["--workspace", workspace]
        prefix = checks.optional_text("output_prefix", output_prefix) or _prefix_of(name)
        if not re.fullmatch(r"[A-Za-z_]\w*", prefix, flags=re.ASCII):
            raise checks.error(
                "output_prefix", f"must be letters, digits and _, not starting with a digit; got {prefix!r}"
            )
        self.output_prefix = prefix
        self.openfeat_arguments = arguments
        outputs = {f"{prefix}_{field}": "" for field in self.result_class.key_fields}
        user_outputs = kwargs.pop("output_params", None) or {}
        super().__init__(
            name,
            _script(self.openfeat_task, name, prefix, arguments, stdin),
            output_params={**outputs, **user_outputs},
            **kwargs,
        )

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        """The ``openfeat TASK`` arguments (and the text its stdin gets, if any), checked."""
        raise NotImplementedError


def _script(task: str, name: str, prefix: str, arguments: Sequence[str], stdin: str | None) -> str:
    """The Shell task's script.

    DS substitutes its parameters in the whole text before the shell runs it, so quoted arguments and the quoted
    heredoc still receive them, and nothing else in the SQL is expanded by the shell. The built-ins that name the
    run are exported for the runner (MLflow's parent run per workflow instance); a DS version that lacks one leaves
    the reference as it is, which the runner ignores.
    """
    lines = [
        f"# OpenFeat {task} (dolphin_tasks): edit the workflow's definition, not this script.",
        "export DS_WORKFLOW_INSTANCE_ID='${system.workflow.instance.id}'",
        "export DS_WORKFLOW_DEFINITION_NAME='${system.workflow.definition.name}'",
        "export DS_TASK_INSTANCE_ID='${system.task.instance.id}'",
        "export DS_TASK_EXECUTE_PATH='${system.task.execute.path}'",
    ]
    runner = ["openfeat-dolphinscheduler", "run", task, "--name", name, "--output-prefix", prefix, "--"]
    command = " ".join(shlex.quote(part) for part in [*runner, *arguments])
    if stdin is None:
        lines.append(f"exec {command}")
    else:
        if any(line.strip() == _SQL_END for line in stdin.splitlines()):
            raise ValueError(f"the SQL holds a line {_SQL_END!r}, which ends the script's heredoc")
        lines += [f"exec {command} <<'{_SQL_END}'", stdin.rstrip("\n"), _SQL_END]
    return "\n".join(lines) + "\n"


def _options(flag: str, values: Sequence[str] | None) -> list[str]:
    return [part for value in values or () for part in (flag, value)]


def _table_versions(checks: _Checks, name: str, value: Any) -> list[str]:
    """``{table: version}`` (a version may be a DS parameter) or a list of tables, as ``TABLE=VERSION`` texts."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        pairs = []
        for table, version in value.items():
            checks.text(f"{name} key", table)
            if version is None:
                pairs.append(str(table))
            elif is_parameter(version):
                pairs.append(f"{table}={version}")
            else:
                pairs.append(f"{table}={checks.integer(f'{name}[{table!r}]', version, minimum=1)}")
        return pairs
    if is_parameter(value):
        raise checks.error(name, "must be a mapping {table: version}; put the DS parameter in the version")
    return [f"{t}={v}" if v is not None else t for t, v in checks.table_versions(name, value).items()]


class OpenFeatIngest(OpenFeatTask):
    """``openfeat ingest``: load files into a new version of a workspace table (the Airflow ``OpenFeatIngestOperator``).

    Args:
        source: files, globs, directories or URIs (one string or a list), e.g. ``/data/raw/${system.biz.date}/*.csv``.
        table: the workspace table to write.
        schema, format, on_error, mode, timezone, timestamp_unit, extra_columns: as ``openfeat ingest``'s options.
        delimiter, header, quote, null_values: the CSV dialect.
    """

    openfeat_task = "ingest"
    result_class = IngestResult

    def __init__(
        self,
        name: str,
        *,
        source: str | Sequence[str],
        table: str,
        schema: str | None = None,
        format: str | None = None,
        on_error: str | None = None,
        mode: str | None = None,
        timezone: str | None = None,
        timestamp_unit: str | None = None,
        extra_columns: str | None = None,
        delimiter: str | None = None,
        header: bool | str | None = None,
        quote: str | None = None,
        null_values: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        sources = [g["source"]] if is_parameter(g["source"]) else checks.texts("source", g["source"], single=True)
        if not sources:
            raise checks.error("source", "is required")
        args = [*sources, "--table", checks.value(checks.text, "table", g["table"])]
        for option, key, choices in (
            ("--format", "format", SOURCE_FORMATS),
            ("--on-error", "on_error", ON_ERROR),
            ("--mode", "mode", WRITE_MODES),
            ("--timestamp-unit", "timestamp_unit", TIMESTAMP_UNIT_CHOICES),
            ("--extra-columns", "extra_columns", EXTRA_COLUMNS),
        ):
            value = checks.value(checks.choice, key, g[key], choices)
            if value is not None:
                args += [option, value]
        for option, key in (("--schema", "schema"), ("--timezone", "timezone"), ("--delimiter", "delimiter")):
            value = checks.value(checks.optional_text, key, g[key])
            if value is not None:
                args += [option, value]
        if g["quote"] is not None:
            args += ["--quote", str(g["quote"])]
        if checks.flag("header", g["header"]) is False:
            args.append("--no-header")
        args += _options("--null-value", checks.texts("null_values", g["null_values"], blank=True))
        return args, None


class OpenFeatCompute(OpenFeatTask):
    """``openfeat compute``: run a feature script over workspace tables into a new table version (the Airflow
    ``OpenFeatComputeFeaturesOperator``).

    Args:
        sql: the feature script (OpenMLDB SQL; in YAML, ``$FILE{"features.sql"}``). DS parameters in it are
            substituted when the task runs.
        table: the workspace table to write.
        inputs: ``{table: version}`` to read (a version may be an upstream OUT parameter,
            ``"${ingest_flights_version}"``), or a list of tables (latest versions).
        timezone: IANA time zone of calendar functions.
        engine: the backend that computes, ``local`` or ``spark`` (default: ``$OPENFEAT_BACKEND`` in the worker's
            environment, else local); the result is the same row for row.
    """

    openfeat_task = "compute"
    result_class = ComputeResult

    def __init__(
        self,
        name: str,
        *,
        sql: str,
        table: str,
        inputs: Mapping[str, Any] | Sequence[str] | None = None,
        timezone: str | None = None,
        engine: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        sql = checks.text("sql", g["sql"])
        args = ["-", "--output", checks.value(checks.text, "table", g["table"])]
        args += _options("--input", _table_versions(checks, "inputs", g["inputs"]))
        timezone = checks.value(checks.optional_text, "timezone", g["timezone"])
        if timezone is not None:
            args += ["--timezone", timezone]
        engine = checks.value(checks.optional_text, "engine", g["engine"])
        if engine is not None:
            args += ["--engine", engine]
        return args, sql


class OpenFeatExport(OpenFeatTask):
    """``openfeat export``: write a table version as a CSV, Parquet or LIBSVM training set (the Airflow
    ``OpenFeatExportTrainingSetOperator``).

    Args:
        table: the workspace table; ``version`` its version (default latest; may be ``"${compute_features_version}"``).
        path: destination file or URI, e.g. ``/data/train/${system.biz.date}.csv``.
        format, columns, mode, header, delimiter, quote, null_value, timestamp_format, partition_by, compression: as
            ``openfeat export``'s options; ``label_column``, ``features``, ``categorical``, ``buckets``,
            ``on_null_label``: LIBSVM.
    """

    openfeat_task = "export"
    result_class = ExportResult

    def __init__(
        self,
        name: str,
        *,
        table: str,
        path: str,
        version: int | str | None = None,
        format: str | None = None,
        columns: Sequence[str] | None = None,
        mode: str | None = None,
        header: bool | str | None = None,
        delimiter: str | None = None,
        quote: str | None = None,
        null_value: str | None = None,
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
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        args = [checks.value(checks.text, "table", g["table"]), "--path", checks.value(checks.text, "path", g["path"])]
        version = checks.value(checks.integer, "version", g["version"], minimum=1)
        if version is not None:
            args += ["--version", str(version)]
        buckets = checks.value(checks.integer, "buckets", g["buckets"], minimum=1)
        if buckets is not None:
            args += ["--buckets", str(buckets)]
        for option, key, choices in (
            ("--format", "format", EXPORT_FORMATS),
            ("--mode", "mode", WRITE_MODES),
            ("--timestamp-format", "timestamp_format", TIMESTAMP_FORMATS),
        ):
            value = checks.value(checks.choice, key, g[key], choices)
            if value is not None:
                args += [option, value]
        if checks.choice("on_null_label", g["on_null_label"], ON_NULL_LABEL) == "skip":
            args.append("--skip-null-labels")
        for option, key in (
            ("--label", "label_column"),
            ("--delimiter", "delimiter"),
            ("--compression", "compression"),
        ):
            value = checks.value(checks.optional_text, key, g[key])
            if value is not None:
                args += [option, value]
        for option, key in (("--quote", "quote"), ("--null-value", "null_value")):
            if g[key] is not None:
                args += [option, str(g[key])]
        if checks.flag("header", g["header"]) is False:
            args.append("--no-header")
        for option, key in (
            ("--column", "columns"),
            ("--partition-by", "partition_by"),
            ("--feature", "features"),
            ("--categorical", "categorical"),
        ):
            args += _options(option, checks.texts(key, g[key]))
        return args, None


def _target(checks: _Checks, store: Any, url: Any) -> list[str]:
    """``--store PATH`` or ``--url URL``: exactly one (as the Airflow operators and the CLI require)."""
    store = checks.value(checks.optional_text, "store", store)
    url = checks.value(checks.optional_text, "url", url)
    if store is not None and url is not None:
        raise checks.error("store", f"and argument 'url' ({url!r}) both name a target; give one")
    if store is None and url is None:
        raise checks.error("store", "or argument 'url' is required: an online store directory or a service URL")
    return ["--store", store] if store is not None else ["--url", url]


class OpenFeatDeploy(OpenFeatTask):
    """``openfeat deploy``: load workspace tables into an online store and deploy the script (the Airflow
    ``OpenFeatDeployOperator``).

    Args:
        deployment: the deployment name (``name`` is the DS task's).
        sql: the feature script (the same as the compute task's).
        store: a durable store directory (embedded), or ``url``: a running ``openfeat serve``.
        create_store: create the store directory if missing.
        tables: ``{table: version}`` loaded into the store (versions may be DS parameters).
        reference: the training-set file the model was trained on (the deployment's reference profile, which
            ``openfeat monitor`` compares served features with).
        timezone, token_file, timeout: as ``openfeat deploy``'s options.
    """

    openfeat_task = "deploy"
    result_class = DeployResult

    def __init__(
        self,
        name: str,
        *,
        deployment: str,
        sql: str,
        store: str | None = None,
        url: str | None = None,
        create_store: bool | str | None = None,
        tables: Mapping[str, Any] | Sequence[str] | None = None,
        reference: str | None = None,
        timezone: str | None = None,
        token_file: str | None = None,
        timeout: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        args = [checks.value(checks.text, "deployment", g["deployment"]), "-", *_target(checks, g["store"], g["url"])]
        if checks.flag("create_store", g["create_store"]) is True:
            args.append("--create-store")
        args += _options("--load", _table_versions(checks, "tables", g["tables"]))
        reference = checks.value(checks.optional_text, "reference", g["reference"])
        if reference is not None:
            args += ["--reference", reference]
        args += _common_online(checks, g)
        return args, checks.text("sql", g["sql"])


def _common_online(checks: _Checks, given: Mapping[str, Any]) -> list[str]:
    args: list[str] = []
    for option, key in (("--timezone", "timezone"), ("--token-file", "token_file")):
        value = checks.value(checks.optional_text, key, given[key])
        if value is not None:
            args += [option, value]
    timeout = checks.value(checks.number, "timeout", given["timeout"], minimum=0.001)
    if timeout is not None:
        args += ["--timeout", str(timeout)]
    return args


class OpenFeatVerify(OpenFeatTask):
    """``openfeat verify``: recompute logged online requests offline and compare (the Airflow
    ``OpenFeatVerifyOperator``). With ``fail_on_mismatch`` (default) an inconsistent deployment fails the task;
    either way ``<prefix>_consistent`` says ``true`` or ``false`` for a Switch or Condition downstream.

    Args:
        deployment: the deployment to verify.
        store / url: where it runs (exactly one).
        probe_table, probe_version, probe_rows: first send the last rows of this table version as requests.
        timezone, token_file, timeout, min_requests: as ``openfeat verify``'s options.
    """

    openfeat_task = "verify"
    result_class = VerifyResult

    def __init__(
        self,
        name: str,
        *,
        deployment: str,
        store: str | None = None,
        url: str | None = None,
        probe_table: str | None = None,
        probe_version: int | str | None = None,
        probe_rows: int | str | None = None,
        timezone: str | None = None,
        token_file: str | None = None,
        timeout: float | str | None = None,
        fail_on_mismatch: bool | str | None = None,
        min_requests: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        args = [checks.value(checks.text, "deployment", g["deployment"]), *_target(checks, g["store"], g["url"])]
        probe = checks.value(checks.optional_text, "probe_table", g["probe_table"])
        version = checks.value(checks.integer, "probe_version", g["probe_version"], minimum=1)
        if probe is None and version is not None:
            raise checks.error("probe_version", "needs argument 'probe_table'")
        if probe is not None:
            args += ["--probe", probe if version is None else f"{probe}={version}"]
        for option, key, minimum in (("--probe-rows", "probe_rows", 1), ("--min-requests", "min_requests", 0)):
            value = checks.value(checks.integer, key, g[key], minimum=minimum)
            if value is not None:
                args += [option, str(value)]
        if checks.flag("fail_on_mismatch", g["fail_on_mismatch"]) is False:
            args.append("--no-fail-on-mismatch")
        args += _common_online(checks, g)
        return args, None


class OpenFeatIngestStream(OpenFeatTask):
    """``openfeat ingest-stream --until-caught-up``: consume Kafka topics into the tables of an embedded durable store
    (the Airflow ``OpenFeatIngestStreamOperator``).

    Always until caught up (``--until-caught-up`` is forced: a DS task must end): the task consumes until every
    partition reached the high watermark it had at the start. Rows and positions are stored together, so a rerun (a
    DS retry, the next workflow instance) goes on from the stored positions and never stores a message twice. The
    store is opened by the task's process: not while ``openfeat serve`` holds it. OUT parameters:
    ``<prefix>_messages``, ``<prefix>_rows``, ``<prefix>_dead_letters``, ``<prefix>_caught_up``.

    Args:
        store: the durable store directory.
        bootstrap: the Kafka brokers, ``host:port[,host:port...]``.
        topics: ``"tx"`` or ``"tx,clicks:events"`` (topic ``clicks`` into table ``events``), or a list of them.
        dead_letters, dead_letter_topic, max_bad_ratio, message_format, timezone, group_id: as ``openfeat
            ingest-stream``'s ``--dead-letters``, ``--dead-letter-topic``, ``--max-bad-ratio``, ``--format``,
            ``--timezone``, ``--group-id``.
        workspace: also append the rows to this workspace's tables, in micro-batches (``--workspace``; only when
            given: the task does not fall back to ``$OPENFEAT_WORKSPACE``) of ``workspace_every_rows`` rows or
            ``workspace_every_seconds`` seconds, if sooner (``--workspace-every-rows``, ``--workspace-every-seconds``).
        consumer_config: librdkafka settings, ``{"security.protocol": "SSL"}`` (``--kafka-option``).
        create_tables, create_store: the switches ``--create-tables``, ``--create-store``.
    """

    openfeat_task = "ingest-stream"
    result_class = IngestStreamResult

    def __init__(
        self,
        name: str,
        *,
        store: str,
        bootstrap: str,
        topics: str | Sequence[str],
        dead_letters: str | None = None,
        dead_letter_topic: str | None = None,
        workspace_every_rows: int | str | None = None,
        workspace_every_seconds: float | str | None = None,
        max_bad_ratio: float | str | None = None,
        message_format: str | None = None,
        timezone: str | None = None,
        group_id: str | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        create_tables: bool | str | None = None,
        create_store: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        topics = [g["topics"]] if is_parameter(g["topics"]) else checks.texts("topics", g["topics"], single=True)
        args = [
            "--store",
            checks.value(checks.text, "store", g["store"]),
            "--bootstrap",
            checks.value(checks.text, "bootstrap", g["bootstrap"]),
            "--topics",
            ",".join(topics or ()),
            "--until-caught-up",
        ]
        for option, key in (
            ("--dead-letters", "dead_letters"),
            ("--dead-letter-topic", "dead_letter_topic"),
            ("--timezone", "timezone"),
            ("--group-id", "group_id"),
        ):
            value = checks.value(checks.optional_text, key, g[key])
            if value is not None:
                args += [option, value]
        rows = checks.value(checks.integer, "workspace_every_rows", g["workspace_every_rows"], minimum=1)
        if rows is not None:
            args += ["--workspace-every-rows", str(rows)]
        seconds = checks.value(checks.number, "workspace_every_seconds", g["workspace_every_seconds"], minimum=0.001)
        if seconds is not None:
            args += ["--workspace-every-seconds", str(seconds)]
        ratio = checks.value(checks.number, "max_bad_ratio", g["max_bad_ratio"], maximum=1.0)
        if ratio is not None:
            args += ["--max-bad-ratio", str(ratio)]
        message_format = checks.value(checks.choice, "message_format", g["message_format"], MESSAGE_FORMATS)
        if message_format is not None:
            args += ["--format", message_format]
        config = checks.mapping("consumer_config", g["consumer_config"]) or {}
        args += _options("--kafka-option", [f"{key}={_setting(value)}" for key, value in config.items()])
        for option, key in (("--create-tables", "create_tables"), ("--create-store", "create_store")):
            if checks.flag(key, g[key]) is True:
                args.append(option)
        return args, None


def _setting(value: Any) -> str:
    """A librdkafka setting's text (``true`` / ``false`` for a flag, as librdkafka spells them)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
