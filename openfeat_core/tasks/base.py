"""What every task shares: request and result base classes, errors, input digests, and small SQL helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

import pyarrow as pa

from openfeat_core.errors import DataError, Failure, OpenFeatError, OpenFeatSQLError
from openfeat_core.sql.dialect import parse_deploy
from openfeat_core.workspace import Workspace
from openfeat_core.workspace.version import openmldb_schema_of

__all__ = [
    "DatasetRef",
    "InvalidRequest",
    "TaskDatasets",
    "TaskRequest",
    "TaskResult",
    "VerificationFailed",
    "inputs_digest",
    "open_workspace",
    "split_deploy",
]

#: Prefix of the idempotency keys tasks write (``openfeat:<task>:<sha256>``).
KEY_PREFIX = "openfeat"

# Request fields never written out by ``to_dict`` (they would end up in logs and tracking servers).
_SECRET_FIELDS = frozenset({"token", "storage_options"})

_R = TypeVar("_R", bound="TaskResult")


class InvalidRequest(OpenFeatError):
    """A task request is wrong as given (an option out of range, two targets, a missing directory...).

    The command line maps it to exit code 2 (usage error), like bad SQL.
    """

    failure = Failure.USAGE


class VerificationFailed(OpenFeatError):
    """``verify`` found online/offline mismatches, or checked fewer logged requests than required.

    Attributes:
        result: the full :class:`~openfeat_core.tasks.online.VerifyResult`, for reporting.
    """

    failure = Failure.DATA  # the same script over the same data disagrees again

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


@dataclasses.dataclass(frozen=True)
class DatasetRef:
    """A file, a workspace table version or an online deployment that a task read or wrote.

    The one description every adapter reads (OpenLineage datasets, MLflow dataset inputs...), each naming it its way.

    Attributes:
        kind: ``file``, ``table`` (a workspace table) or ``deployment`` (an online deployment).
        uri: file: its path or URI, as the task was given it; table: the workspace's URI; deployment: the store
            directory or the service URL.
        name: file: the same path or URI; table: the table; deployment: the deployment.
        version: the table version or the deployment version, when known.
        schema: the columns, ``"name type, ..."`` (OpenMLDB type names), when known.
        rows: rows written (an output) when known.
        bytes: bytes written (an output) when known.
    """

    kind: Literal["file", "table", "deployment"]
    uri: str
    name: str
    version: int | None = None
    schema: str | None = None
    rows: int | None = None
    bytes: int | None = None


@dataclasses.dataclass(frozen=True)
class TaskDatasets:
    """What a task run read (``inputs``) and wrote (``outputs``): :meth:`TaskResult.datasets`."""

    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()


def file_ref(uri: str, *, rows: int | None = None, bytes: int | None = None) -> DatasetRef:
    """A file (or object) by its path or URI."""
    return DatasetRef("file", uri, uri, rows=rows, bytes=bytes)


def table_ref(
    workspace: str,
    table: str,
    version: int | None = None,
    *,
    schema: str | None = None,
    rows: int | None = None,
    bytes: int | None = None,
) -> DatasetRef:
    """A workspace table (at ``version``, when known)."""
    return DatasetRef("table", workspace, table, version, schema, rows, bytes)


def deployment_ref(
    target: str, name: str, version: int | None = None, *, columns: list[dict[str, str]] | None = None
) -> DatasetRef:
    """An online deployment of a store directory or a service URL (``columns``: ``[{"name", "type"}]``)."""
    schema = ", ".join(f"{c['name']} {c['type']}" for c in columns) if columns else None
    return DatasetRef("deployment", target, name, version, schema)


class TaskRequest:
    """Base of the task requests (frozen dataclasses): a JSON-able view of the request for hooks and logs."""

    def to_dict(self) -> dict[str, Any]:
        """The request's fields as JSON-able values, secrets left out.

        Values that are data rather than settings are described, not copied: an in-memory table becomes
        ``"<arrow table: 3 columns, 1000 rows>"``. ``token`` and ``storage_options`` are omitted.
        """
        assert dataclasses.is_dataclass(self)
        return {
            f.name: describe_value(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _SECRET_FIELDS
        }


class TaskResult:
    """Base of the task results: frozen dataclasses of JSON values, small enough for an Airflow XCom.

    Every result has ``run_id`` (this task run), ``parent_run_id`` (the pipeline run it belongs to, if any) and
    ``seconds`` (wall time). ``to_dict()`` adds ``"task"`` (the task name); ``from_dict`` accepts that dict back.
    """

    task: ClassVar[str] = ""
    #: The result's key fields (scalars): what an orchestrator hands to downstream tasks when it passes values rather
    #: than the whole result (DolphinScheduler's OUT parameters). Each adapter publishes these, in this order.
    key_fields: ClassVar[tuple[str, ...]] = ()

    def key_values(self) -> dict[str, Any]:
        """The :attr:`key_fields` and their values."""
        return {name: getattr(self, name) for name in self.key_fields}

    def datasets(self) -> TaskDatasets:
        """What this task run read and wrote: files, workspace tables with their versions, deployments.

        Every adapter derives its lineage from this (OpenLineage in the Airflow provider, MLflow dataset inputs).
        """
        return TaskDatasets()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``{"task": ..., <fields>}`` (no data, only names, numbers and URIs)."""
        assert dataclasses.is_dataclass(self)
        return {"task": self.task, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls: type[_R], data: Mapping[str, Any]) -> _R:
        """Rebuild a result from :meth:`to_dict` (unknown keys are ignored, so newer results still load).

        Raises:
            DataError: a field is missing, or the dict is the result of another task.
        """
        task = data.get("task", cls.task)
        if task != cls.task:
            raise DataError(f"this is the result of task {task!r}, not {cls.task!r}")
        assert dataclasses.is_dataclass(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: data[n] for n in names if n in data}
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise DataError(f"{cls.__name__}: missing field(s) {', '.join(missing)}")
        return cls(**values)


def describe_value(value: Any) -> Any:
    """A JSON-able rendering of a request value (data is summarised, not copied)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, pa.Schema):
        return openmldb_schema_of(value) or str(value)
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        return f"<arrow table: {value.num_columns} columns, {value.num_rows} rows>"
    if type(value).__module__.startswith("pandas"):
        shape = getattr(value, "shape", None)
        return f"<{type(value).__name__}: {shape[0]} rows>" if shape else f"<{type(value).__name__}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: describe_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): describe_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe_value(v) for v in value]
    return repr(value)


def inputs_digest(task: str, inputs: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a task's inputs (sorted keys): what makes two runs "the same"."""
    canonical = json.dumps({"task": task, **inputs}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(task: str, digest: str, base_version: int | None) -> str:
    """The workspace idempotency key of a write: the inputs digest and the table version it builds on.

    The base version is part of the key so that the same inputs written again after the table moved on make a new
    version (the table's latest version then reflects the latest run), while racing retries of one run (same base)
    still collide on the key and commit once.
    """
    return f"{KEY_PREFIX}:{task}:{digest.removeprefix('sha256:')}@{base_version or 0}"


def open_workspace(uri: str | os.PathLike[str], storage_options: Mapping[str, Any] | None) -> Workspace:
    """Open a workspace for a task (lazily: nothing is created until the first write)."""
    if not os.fspath(uri):
        raise InvalidRequest("workspace is empty: give a directory or a URI (s3://bucket/prefix)")
    return Workspace.open(uri, storage_options)


def split_deploy(sql: str) -> tuple[str | None, str]:
    """The name of a ``DEPLOY name [OPTIONS(...)] SELECT ...`` statement and its SELECT (``None, sql`` otherwise).

    The DEPLOY head is blanked rather than cut, so that the line and column of a SQL error still point into the
    text as written.
    """
    statement = parse_deploy(sql)
    if statement is None:
        return None, sql
    offset = statement.meta["query_offset"]
    return statement.name, re.sub(r"[^\n]", " ", sql[:offset]) + sql[offset:]


def check_deploy_name(name: str, sql: str) -> str:
    """``sql`` with a ``DEPLOY`` head naming ``name`` (or none) as a plain SELECT.

    Raises:
        OpenFeatSQLError: the SQL is ``DEPLOY other ...``.
    """
    stated, select = split_deploy(sql)
    if stated is not None and stated != name:
        raise OpenFeatSQLError(f"the deployment is {name!r} but the SQL is 'DEPLOY {stated} ...'; make them the same")
    return select


def schema_text(schema: pa.Schema) -> str:
    """An Arrow schema as an OpenMLDB column list, or Arrow's own text when a column has no SQL type."""
    return openmldb_schema_of(schema) or ", ".join(f"{f.name} {f.type}" for f in schema)
