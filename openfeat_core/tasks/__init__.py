"""The task API: the five steps of a feature pipeline as idempotent, typed, observable function calls.

========== ===================================== ============================================================
task       request → result                      what it does
========== ===================================== ============================================================
ingest     :class:`IngestRequest` →              load files / an in-memory table into a new workspace table
           :class:`IngestResult`                 version (bad rows: reject the load, or skip and report them)
compute    :class:`ComputeRequest` →             run a feature script over workspace tables into a new
           :class:`ComputeResult`                table version, with lineage (SQL, plan digest, input versions)
export     :class:`ExportRequest` →              stream a table version to CSV / Parquet / LIBSVM, atomically
           :class:`ExportResult`
deploy     :class:`DeployRequest` →              load workspace tables into an online store and deploy the
           :class:`DeployResult`                 script (embedded durable store, or a running service)
verify     :class:`VerifyRequest` →              recompute logged online requests offline and compare
           :class:`VerifyResult`
ingest-    :class:`IngestStreamRequest` →        consume Kafka topics into online-store tables, exactly once
stream     :class:`IngestStreamResult`           (positions kept with the rows; until caught up, or until stopped)
monitor    :class:`MonitorRequest` →             compare the features a deployment served with its training set's
           :class:`MonitorResult`                (PSI, NULL rates, consistency) and decide ``retrain``
========== ===================================== ============================================================

Orchestrator adapters (Airflow operators, Kubeflow components, DolphinScheduler tasks) call these functions, or
the ``openfeat`` command line that wraps them (``openfeat ingest|compute|export|deploy|verify --json`` prints the
result's ``to_dict()``); each adapter's contract test holds its arguments to :mod:`openfeat_core.tasks.spec` (each
task's arguments, defaults and choices, read from its request). Requests are frozen dataclasses; results are frozen
dataclasses of JSON values with ``to_dict()`` / ``from_dict()``, a few hundred bytes to a few kilobytes (names,
versions, URIs, counts, seconds, digests; never data), so they fit an Airflow XCom.

**Idempotency.** Orchestrators retry tasks, and a task may die after doing its work but before reporting it. Each
task is safe to run again with the same request:

* ``ingest`` and ``compute`` digest their inputs: ingest the source's identity (each file's URI and size, plus a
  SHA-256 of its content up to 64 MiB, or its modification time above), the schema and the options; compute the
  plan digest, the version and data digest of every input table, the time zone and the OpenFeat version. The
  digest is recorded in the lineage of the version they write. If the output table's **latest** version carries
  the same digest, the task returns it (``reused=True``) and reads nothing. Otherwise it writes a new version with
  the workspace idempotency key ``openfeat:<task>:<digest>@<base version>``: two racing attempts of one run commit
  once, and the same inputs run again after the table moved on make a new latest version (the latest version is
  always what the last run produced). A write killed half-way leaves no version (workspace commits are atomic), so
  the retry simply writes it.
* ``export`` records each export as a side file of the table version it read (``export-<digest>.json``: the
  destination, format and options). A retry whose record exists and whose files are still there, with the
  recorded size, returns the record instead of writing again (an ``append`` is never appended twice).
* ``deploy`` deploys by plan digest (the active script again is a no-op) and loads a table only into an empty
  online table (one that already received exactly the version's row count is taken as loaded).
* ``verify`` only reads (its probe requests are logged again on a retry; that changes no result).

**Hooks.** :func:`register_hook` (or the entry point group ``openfeat.hooks``) adds a :class:`TaskHook` whose
``before_task`` / ``after_task`` (keyword-only arguments and a ``**future`` catch-all) see every task's request,
result or error and :class:`TaskContext` (run id, parent run id from ``OPENFEAT_PARENT_RUN_ID``). A failing hook is
logged and ignored unless it is ``strict``. See
:mod:`openfeat_core.tasks.hooks`.

**Errors.** :class:`InvalidRequest` (a bad option: exit code 2 on the command line), ``OpenFeatSQLError`` (bad
SQL, 2), ``DataError`` (bad or missing data: an unknown table lists the workspace's tables; 1),
:class:`VerificationFailed` (1).
"""

from collections.abc import Mapping
from typing import Any

from openfeat_core.errors import DataError
from openfeat_core.tasks.base import (
    DatasetRef,
    InvalidRequest,
    TaskDatasets,
    TaskRequest,
    TaskResult,
    VerificationFailed,
)
from openfeat_core.tasks.hooks import (
    ENTRY_POINT_GROUP,
    PARENT_RUN_ENV,
    BaseTaskHook,
    TaskContext,
    TaskHook,
    register_hook,
    registered_hooks,
    unregister_hook,
)
from openfeat_core.tasks.monitor import MonitorRequest, MonitorResult, monitor
from openfeat_core.tasks.offline import (
    ComputeRequest,
    ComputeResult,
    ExportRequest,
    ExportResult,
    IngestRequest,
    IngestResult,
    compute,
    export,
    ingest,
)
from openfeat_core.tasks.online import (
    DeployRequest,
    DeployResult,
    VerifyRequest,
    VerifyResult,
    close_embedded_store,
    close_embedded_stores,
    deploy,
    embedded_store,
    verify,
)
from openfeat_core.tasks.streaming import IngestStreamRequest, IngestStreamResult, ingest_stream

__all__ = [
    "ENTRY_POINT_GROUP",
    "PARENT_RUN_ENV",
    "RESULT_CLASSES",
    "BaseTaskHook",
    "ComputeRequest",
    "ComputeResult",
    "DatasetRef",
    "DeployRequest",
    "DeployResult",
    "ExportRequest",
    "ExportResult",
    "IngestRequest",
    "IngestResult",
    "IngestStreamRequest",
    "IngestStreamResult",
    "InvalidRequest",
    "MonitorRequest",
    "MonitorResult",
    "TaskContext",
    "TaskDatasets",
    "TaskHook",
    "TaskRequest",
    "TaskResult",
    "VerificationFailed",
    "VerifyRequest",
    "VerifyResult",
    "close_embedded_store",
    "close_embedded_stores",
    "compute",
    "deploy",
    "embedded_store",
    "export",
    "ingest",
    "ingest_stream",
    "monitor",
    "register_hook",
    "registered_hooks",
    "result_from_dict",
    "unregister_hook",
    "verify",
]


#: The result class of each task, by task name (``TaskResult.task``: also the ``openfeat`` command's name).
RESULT_CLASSES: Mapping[str, type[TaskResult]] = {
    c.task: c
    for c in (IngestResult, ComputeResult, ExportResult, DeployResult, VerifyResult, IngestStreamResult, MonitorResult)
}


def result_from_dict(data: Mapping[str, Any]) -> TaskResult:
    """A task result rebuilt from its ``to_dict()`` (an XCom, ``--json`` output): its ``"task"`` names the class.

    Raises:
        DataError: an unknown task, or a field is missing.
    """
    cls = RESULT_CLASSES.get(str(data.get("task")))
    if cls is None:
        raise DataError(
            f"not the result of a task: 'task' is {data.get('task')!r}, not one of {', '.join(RESULT_CLASSES)}"
        )
    return cls.from_dict(data)
