"""The online tasks: ``deploy`` a feature script (optionally loading workspace tables first) and ``verify``
online/offline consistency, against a durable store opened in process or a running ``openfeat serve``.

**Embedded stores.** A durable store directory can be opened by one process at a time. The tasks open it through a
per-process cache (:func:`embedded_store`), so that a ``deploy``, the feature requests of the application and a
``verify`` running in one process share one open store, and with it the in-memory log of served requests that
``verify`` recomputes. :func:`close_embedded_store` releases a directory (the command line does after each
command; every store is closed at interpreter exit). ``verify`` of an embedded store in a process that served no
requests has nothing to check, unless the request names ``probe_table``: the task then first sends the last rows of
that workspace table as requests (logged), and verifies those.

**Services.** With ``url``, the tasks call the service's routes (``POST .../deployments``, ``PUT``/``POST
.../tables/{t}``, ``POST .../deployments/{name}/verify``). The service logs requests only when started with
``--log-requests RATE``; probe requests are logged at that rate too.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa
import pyarrow.compute as pc

import openfeat_core
from openfeat_core.errors import DataError, OpenFeatError, OpenFeatSQLError
from openfeat_core.monitoring.reference import file_profile, find_training_set, workspace_profile
from openfeat_core.online.store import OnlineStore
from openfeat_core.online.wal import LogLockedError
from openfeat_core.sql.config import split_config
from openfeat_core.tasks.base import (
    InvalidRequest,
    TaskDatasets,
    TaskRequest,
    TaskResult,
    VerificationFailed,
    check_deploy_name,
    deployment_ref,
    open_workspace,
    split_deploy,
    table_ref,
)
from openfeat_core.tasks.client import SERVICE_DB, ServiceClient, ServiceError
from openfeat_core.tasks.hooks import TaskContext, run_task
from openfeat_core.types import parse_type_name, sql_type_of_arrow
from openfeat_core.workspace import TableVersion, Workspace
from openfeat_core.workspace.version import openmldb_schema_of

__all__ = [
    "DeployRequest",
    "DeployResult",
    "DeploymentTarget",
    "ServiceDeployments",
    "StoreDeployments",
    "VerifyRequest",
    "VerifyResult",
    "close_embedded_store",
    "close_embedded_stores",
    "deploy",
    "embedded_store",
    "verify",
]

_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")
#: Arrow IPC bytes per bulk insert sent to a service (its default body limit is 16 MiB).
_INSERT_BODY_BYTES = 8 << 20
#: Probe rows per request sent to a service.
_PROBE_ROWS_PER_CALL = 100
_ARROW_STREAM = "application/vnd.apache.arrow.stream"

logger = logging.getLogger("openfeat.tasks")


# =====================================================================================================================
# Embedded stores
# =====================================================================================================================
@dataclass
class _Opened:
    store: OnlineStore
    timezone: str
    log_rate: float = 0.0


_stores: dict[str, _Opened] = {}
_stores_lock = threading.Lock()


def embedded_store(
    path: str | os.PathLike[str], *, create: bool = False, timezone: str | None = None, log_requests: float = 0.0
) -> OnlineStore:
    """The durable store at ``path``, opened once per process and shared by the tasks and the caller.

    Args:
        path: the store directory.
        create: create the directory (an empty store) if it does not exist.
        timezone: zone of calendar functions in requests; None: UTC when opening, else the open store's.
        log_requests: when > 0 and the store does not log requests yet, keep this fraction of the served requests
            (with their responses) for ``verify``. They stay in memory until the store is closed.

    Raises:
        InvalidRequest: no such directory (and not ``create``), or the store is open with another time zone.
        OpenFeatError: another process holds the store (a running service: use its URL).
    """
    key = os.path.realpath(os.fspath(path))
    with _stores_lock:
        opened = _stores.get(key)
        if opened is None:
            directory = Path(path)
            if not directory.is_dir():
                if not create:
                    raise InvalidRequest(
                        f"store {os.fspath(path)!r}: no such directory (create one with create_store=True or "
                        "'openfeat deploy --create-store', or 'openfeat serve --store')"
                    )
                directory.mkdir(parents=True)
            zone = timezone or "UTC"
            try:
                store = OnlineStore(directory, timezone=zone)
            except LogLockedError:
                raise OpenFeatError(
                    f"store {os.fspath(path)!r} is open in another process (a running service?); "
                    "use --url (url=...) to reach that service"
                ) from None
            opened = _stores[key] = _Opened(store, zone)
        elif timezone is not None and timezone != opened.timezone:
            raise InvalidRequest(
                f"store {os.fspath(path)!r} is open in this process with time zone {opened.timezone!r}, "
                f"not {timezone!r}; close it first (close_embedded_store)"
            )
        if log_requests > 0 and opened.log_rate == 0:
            opened.store.log_requests(log_requests)
            opened.log_rate = log_requests
        return opened.store


def close_embedded_store(path: str | os.PathLike[str]) -> None:
    """Close the store at ``path`` if this process opened it through :func:`embedded_store` (its log is dropped)."""
    with _stores_lock:
        opened = _stores.pop(os.path.realpath(os.fspath(path)), None)
    if opened is not None:
        opened.store.close()


@atexit.register
def close_embedded_stores() -> None:
    """Close every store opened through :func:`embedded_store` (also done at interpreter exit)."""
    with _stores_lock:
        opened = list(_stores.values())
        _stores.clear()
    for entry in opened:
        entry.store.close()


# =====================================================================================================================
# Deployment targets
# =====================================================================================================================
class DeploymentTarget(Protocol):
    """Where deployments live: a running service or a durable store opened in process.

    Deployment descriptions have one shape whatever the target: ``name``, ``version`` (the active one),
    ``versions`` (how many exist), ``digest`` (SHA-256 of the plan), ``sql``, ``input_schema`` and
    ``output_schema`` (``[{"name", "type"}]``, OpenMLDB type names), ``indexes`` (text), ``access`` (how requests are
    computed: ``{"path": "direct"}`` or ``{"path": "request_mode", "reason": ...}``).
    """

    def deploy(self, name: str, sql: str) -> dict[str, Any]: ...

    def describe(self, name: str) -> dict[str, Any] | None: ...

    def names(self) -> list[str]: ...


def _type_name(name: str) -> str:
    try:
        return parse_type_name(name).openmldb_name
    except ValueError:
        return name


class ServiceDeployments:
    """The deployments of a running service."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def deploy(self, name: str, sql: str) -> dict[str, Any]:
        self.client.call("POST", f"/dbs/{SERVICE_DB}/deployments", {"name": name, "sql": sql})
        info = self.describe(name)
        if info is None:
            raise OpenFeatError(f"deployment {name!r} was deployed but the service does not describe it")
        return info

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            data = self.client.call("GET", f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(name)}")
        except ServiceError as e:
            if e.status == 404:
                return None
            raise
        return {
            "name": data["name"],
            "version": data["version"],
            "versions": data["versions"],
            "digest": data["digest"],
            "sql": data["procedure"],
            "input_schema": [{"name": c["name"], "type": _type_name(c["type"])} for c in data["input_schema"]],
            "output_schema": [{"name": c["name"], "type": _type_name(c["type"])} for c in data["output_schema"]],
            "indexes": data["indexes"],
            "access": data["access"],
            "reference": data.get("reference"),
        }

    def names(self) -> list[str]:
        return list(self.client.call("GET", f"/dbs/{SERVICE_DB}/deployments")["deployments"])

    def set_reference(self, name: str, profile: Mapping[str, Any]) -> None:
        self.client.call("PUT", f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(name)}/reference", profile)


class StoreDeployments:
    """The deployments of a store opened in process."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    def deploy(self, name: str, sql: str) -> dict[str, Any]:
        self.store.deploy(name, sql)
        info = self.describe(name)
        assert info is not None
        return info

    def describe(self, name: str) -> dict[str, Any] | None:
        if name not in self.store.list_deployments():
            return None
        d = self.store.describe_deployment(name)
        return {
            "name": d["name"],
            "version": d["version"],
            "versions": d["versions"],
            "digest": d["digest"],
            "sql": d["sql"],
            "input_schema": [{"name": n, "type": t} for n, t in d["input_schema"]],
            "output_schema": [{"name": n, "type": t} for n, t in d["output_schema"]],
            "indexes": d["indexes"],
            "access": d["access"],
            "reference": d["reference"],
        }

    def names(self) -> list[str]:
        return self.store.list_deployments()

    def set_reference(self, name: str, profile: Mapping[str, Any]) -> None:
        self.store.set_reference(name, profile)


def _check_target(store: str | os.PathLike[str] | None, url: str | None) -> None:
    if (store is None) == (url is None):
        raise InvalidRequest("give exactly one target: url (a running service) or store (a durable store directory)")


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise InvalidRequest(
            f"deployment name {name!r} is not valid: use letters, digits and _, not starting with a digit"
        )


def _target_text(store: str | os.PathLike[str] | None, url: str | None) -> str:
    return url.rstrip("/") if url is not None else os.path.abspath(os.fspath(store or ""))


# =====================================================================================================================
# deploy
# =====================================================================================================================
@dataclass(frozen=True)
class DeployRequest(TaskRequest):
    """Deploy a feature script online, optionally loading workspace tables into the store.

    Attributes:
        name: deployment name (letters, digits, ``_``).
        sql: a ``SELECT`` or ``DEPLOY name SELECT ...`` (the name must then be ``name``).
        store: directory of a durable store, opened in process (see :func:`embedded_store`).
        url: base URL of a running ``openfeat serve`` (exactly one of ``store`` and ``url``).
        token: the service's bearer token (never logged nor shown in ``repr``).
        timeout: seconds to wait for each answer of the service.
        create_store: create ``store`` if the directory does not exist.
        tables: workspace tables to load, with their version (None: latest). An online table that does not exist is
            created (embedded stores only: the service has no route to create tables), then the script deployed,
            then the rows inserted (the deployment's indexes are built as they arrive): an empty table is filled
            with the version's rows; one that already received exactly that many rows is taken as loaded (a
            retry); any other count is an error.
        workspace: the workspace ``tables`` come from.
        timezone: zone of calendar functions when this task opens an embedded store (default UTC).
        log_requests: fraction of the requests an embedded store opened here keeps for ``verify`` (0: none).
        storage_options: object-store settings of the workspace.
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
        reference: the training-set file (CSV, Parquet... read as ``openfeat ingest`` reads it) the deployed model
            was trained on. Its feature statistics are recorded with the deployment as its reference profile,
            which served features are compared with (drift metrics, ``openfeat monitor``). Without it, with
            ``workspace``: the workspace's newest exported table version computed from the same plan, else the
            newest computed one (none found: no reference). A version that has a reference keeps it unless
            ``reference`` is given.
    """

    name: str
    sql: str
    store: str | os.PathLike[str] | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    create_store: bool = False
    tables: Mapping[str, int | None] = field(default_factory=dict)
    workspace: str | os.PathLike[str] | None = None
    timezone: str | None = None
    log_requests: float = 0.0
    storage_options: Mapping[str, Any] | None = None
    parent_run_id: str | None = None
    reference: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class DeployResult(TaskResult):
    """The deployment after a deploy.

    Attributes:
        name: deployment name.
        version: the active version.
        versions: how many versions exist.
        digest: SHA-256 of the active plan.
        sql: the active script.
        input_schema: request row columns, ``[{"name", "type"}]`` (OpenMLDB type names).
        output_schema: feature columns, same shape.
        indexes: the indexes the deployment uses, as text.
        new_version: True when this call created a version (False: the script was already the active one).
        target: the store directory or the service URL.
        loaded: one entry per loaded table: ``{"table", "version" (workspace version), "rows", "inserted"}``
            (``inserted`` False: the rows were already there).
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
        workspace: the URI of the workspace the loaded tables come from (None when nothing was loaded).
        reference: where the deployment's reference profile comes from (its ``source``: ``{"kind": "workspace",
            "workspace", "table", "version", "task"}`` or ``{"kind": "file", "path"}``), None when it has none.
    """

    task: ClassVar[str] = "deploy"
    key_fields: ClassVar[tuple[str, ...]] = ("name", "version", "new_version")

    name: str
    version: int
    versions: int
    digest: str
    sql: str
    input_schema: list[dict[str, str]]
    output_schema: list[dict[str, str]]
    indexes: list[str]
    new_version: bool
    target: str
    loaded: list[dict[str, Any]]
    run_id: str
    parent_run_id: str | None
    seconds: float
    workspace: str | None = None
    reference: dict[str, Any] | None = None

    def datasets(self) -> TaskDatasets:
        """The workspace table versions loaded (read) and the deployment version written."""
        loaded = () if self.workspace is None else self.loaded
        inputs = tuple(table_ref(self.workspace or "", t["table"], int(t["version"])) for t in loaded)
        return TaskDatasets(inputs, (deployment_ref(self.target, self.name, self.version, columns=self.output_schema),))


def deploy(request: DeployRequest) -> DeployResult:
    """Deploy ``request.sql`` as ``request.name``, and load ``request.tables`` from the workspace into the store.

    Idempotent: deploying the active script again changes nothing (``new_version`` False) and tables that already
    hold the workspace version's rows are not loaded twice.

    Raises:
        InvalidRequest: a bad name, both or neither target, a missing store directory, ``tables`` without
            ``workspace``.
        OpenFeatSQLError: the SQL is wrong, or is ``DEPLOY other_name ...``.
        NotSupportedError: the script cannot run online.
        DataError: an online table holds other rows than the workspace version to load.
        ServiceError, ServiceUnreachable: the service refused the request or cannot be reached.
    """
    return run_task("deploy", request, request.parent_run_id, lambda context: _deploy(request, context))


def _deploy(request: DeployRequest, context: TaskContext) -> DeployResult:
    _check_name(request.name)
    _check_target(request.store, request.url)
    check_deploy_name(request.name, request.sql)
    if request.tables and request.workspace is None:
        raise InvalidRequest(f"tables {sorted(request.tables)} are to be loaded: give the workspace they come from")
    # Tables are checked (and created) first, the script deployed, then the rows inserted: the store builds the
    # deployment's indexes (and their TTLs) as the rows arrive, as it does for live inserts.
    target: ServiceDeployments | StoreDeployments
    insert: Callable[[str, pa.Table], object]
    if request.url is not None:
        client = ServiceClient(request.url, request.token, request.timeout)
        loads = [_plan_service_load(client, request, name, v) for name, v in request.tables.items()]
        target = ServiceDeployments(client)
        insert = functools.partial(_insert_into_service, client)
    else:
        assert request.store is not None
        store = embedded_store(
            request.store, create=request.create_store, timezone=request.timezone, log_requests=request.log_requests
        )
        loads = [_plan_store_load(store, request, name, v) for name, v in request.tables.items()]
        target = StoreDeployments(store)
        # One insert per table: the store logs it as one entry, so a crash leaves the table empty or complete.
        insert = store.insert
    before = target.describe(request.name)
    info = target.deploy(request.name, request.sql)
    for load in loads:
        if load.insert:
            insert(load.table, load.workspace.read_table(load.table, load.version.version))
    new_version = before is None or before["versions"] != info["versions"]
    if request.reference is not None or (request.workspace is not None and info["reference"] is None):
        profile = _reference_profile(request, [c["name"] for c in info["output_schema"]])
        if profile is not None:
            target.set_reference(request.name, profile)
            info["reference"] = profile["source"]
    # ``access`` is for describing deployments (``openfeat deployments``); the task result keeps the fields that the
    # adapters (Airflow, KFP, DolphinScheduler) declare.
    info.pop("access")
    return DeployResult(
        **info,
        new_version=new_version,
        target=_target_text(request.store, request.url),
        loaded=[load.to_dict() for load in loads],
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
        workspace=loads[0].workspace.uri if loads else None,
    )


def _reference_profile(request: DeployRequest, features: list[str]) -> dict[str, Any] | None:
    """The statistics of the training set of the deployed script: ``request.reference``, else found in the
    workspace by the script's plan digest (None when there is none)."""
    if request.reference is not None:
        timezone = request.timezone or "UTC"
        return file_profile(request.reference, features, timezone=timezone, storage_options=request.storage_options)
    assert request.workspace is not None
    ws = open_workspace(request.workspace, request.storage_options)
    _, sql = split_deploy(request.sql)
    select, _ = split_config(sql)
    # Bound against the workspace's tables as compute binds it, so that the digest is the one its lineage records.
    typed = {v.table: v.schema.empty_table() for v in ws.list_tables() if v.openmldb_schema is not None}
    try:
        plan_digest = openfeat_core.plan_sql(select, typed).digest()
    except OpenFeatSQLError as e:
        logger.info(
            "openfeat: deployment %r has no reference profile: its script does not bind in %s (%s)",
            request.name,
            ws.uri,
            e.reason,
        )
        return None
    training = find_training_set(ws, plan_digest)
    if training is None:
        logger.info(
            "openfeat: deployment %r has no reference profile: no table of workspace %s was computed from its plan",
            request.name,
            ws.uri,
        )
        return None
    return workspace_profile(ws, training, features)


@dataclass(frozen=True)
class _Load:
    """A workspace table version to load into an online table, and whether its rows must be inserted."""

    table: str
    workspace: Workspace
    version: TableVersion
    insert: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version.version,
            "rows": self.version.num_rows,
            "inserted": self.insert,
        }


def _workspace_version(request: DeployRequest, table: str, version: int | None) -> tuple[Workspace, TableVersion]:
    assert request.workspace is not None
    ws = open_workspace(request.workspace, request.storage_options)
    return ws, ws.table_info(table, version)


def _needs_rows(where: str, table: str, present: int, info: TableVersion) -> bool:
    """True if the online table is empty; False if it received the version's rows already; else raises."""
    if present == 0:
        return True
    if present == info.num_rows:
        return False
    raise DataError(
        f"online table {table!r} of {where} already received {present} rows; workspace table {table!r} version "
        f"{info.version} has {info.num_rows}. Loading fills empty tables only: deploy into a fresh store"
    )


def _plan_store_load(store: OnlineStore, request: DeployRequest, table: str, version: int | None) -> _Load:
    ws, info = _workspace_version(request, table, version)
    where = f"store {os.fspath(request.store or '')!r}"
    if table not in store.list_tables():
        store.create_table(table, info.schema.remove_metadata())
    else:
        _check_same_columns(where, table, [tuple(c) for c in store.describe_table(table)["schema"]], info.schema)
    present = int(store.describe_table(table)["inserted"])
    return _Load(table, ws, info, _needs_rows(where, table, present, info))


def _plan_service_load(client: ServiceClient, request: DeployRequest, table: str, version: int | None) -> _Load:
    ws, info = _workspace_version(request, table, version)
    where = f"the service at {client.url}"
    path = f"/dbs/{SERVICE_DB}/tables/{urllib.parse.quote(table)}"
    try:
        described = client.call("GET", path)
    except ServiceError as e:
        if e.status != 404:
            raise
        if openmldb_schema_of(info.schema) is None:
            raise DataError(
                f"workspace table {table!r} version {info.version} has a column type OpenMLDB tables cannot hold; "
                f"{where} cannot create it"
            ) from None
        # The service's SQL route (OpenMLDB's POST /dbs/{db}) creates it; names are quoted (workspace names may
        # hold '-' and '.').
        definitions = ", ".join(f"`{f.name}` {sql_type_of_arrow(f.type).openmldb_name}" for f in info.schema)
        create = f"CREATE TABLE `{table}` ({definitions})"
        client.call("POST", f"/dbs/{SERVICE_DB}", {"mode": "online", "sql": create})
        described = client.call("GET", path)
    columns = [(c["name"], _type_name(c["type"])) for c in described["schema"]]
    _check_same_columns(where, table, columns, info.schema)
    return _Load(table, ws, info, _needs_rows(where, table, int(described["rows"]), info))


def _insert_into_service(client: ServiceClient, table: str, rows: pa.Table) -> None:
    """Bulk inserts of bounded size; each is atomic, the sequence is not (a failure in between is reported by the
    row-count check of the retry)."""
    for chunk in _chunks(rows):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, chunk.schema) as writer:
            writer.write_table(chunk)
        client.call(
            "POST",
            f"/dbs/{SERVICE_DB}/tables/{urllib.parse.quote(table)}/rows",
            body=sink.getvalue().to_pybytes(),
            content_type=_ARROW_STREAM,
        )


def _chunks(table: pa.Table) -> list[pa.Table]:
    per_row = max(1, table.nbytes // max(table.num_rows, 1))
    step = max(1, _INSERT_BODY_BYTES // per_row)
    return [table.slice(start, step) for start in range(0, table.num_rows, step)]


def _check_same_columns(where: str, table: str, online: list[tuple[Any, ...]], schema: pa.Schema) -> None:
    offline = [(f.name, sql_type_of_arrow(f.type).openmldb_name) for f in schema]
    if [tuple(c) for c in online] != offline:
        shown = ", ".join(f"{n} {t}" for n, t in online)
        raise DataError(
            f"online table {table!r} of {where} has columns ({shown}), the workspace table has "
            f"({', '.join(f'{n} {t}' for n, t in offline)})"
        )


# =====================================================================================================================
# verify
# =====================================================================================================================
@dataclass(frozen=True)
class VerifyRequest(TaskRequest):
    """Check that a deployment's online answers equal the offline engine's, on logged requests.

    Attributes:
        name: the deployment.
        store: directory of a durable store (the one open in this process, see :func:`embedded_store`).
        url: base URL of a running service (exactly one of ``store`` and ``url``).
        token: the service's bearer token.
        timeout: seconds to wait for the service's report (it recomputes offline).
        probe_table: a workspace table whose last ``probe_rows`` rows are first sent as requests (so that there is
            something to verify in a process that served nothing); None: verify what was logged. Probe with events
            newer than the stored rows (say, a table of recent requests not loaded into the store): a request
            older than the newest stored row of its key sees a history the store's TTL may already have shortened,
            and verify rightly reports that as mismatches.
        probe_version: the version of ``probe_table`` (latest when None).
        probe_rows: how many rows to send.
        workspace: the workspace of ``probe_table``.
        timezone: zone of calendar functions when this task opens an embedded store (default UTC).
        fail_on_mismatch: raise :class:`VerificationFailed` when a feature value disagrees.
        min_requests: raise :class:`VerificationFailed` when fewer logged requests were checked.
        storage_options: object-store settings of the workspace.
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
    """

    name: str
    store: str | os.PathLike[str] | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 600.0
    probe_table: str | None = None
    probe_version: int | None = None
    probe_rows: int = 100
    workspace: str | os.PathLike[str] | None = None
    timezone: str | None = None
    fail_on_mismatch: bool = True
    min_requests: int = 1
    storage_options: Mapping[str, Any] | None = None
    parent_run_id: str | None = None


@dataclass(frozen=True)
class VerifyResult(TaskResult):
    """The consistency report (:meth:`ConsistencyReport.to_dict`) plus where it came from.

    Attributes:
        deployment: the deployment.
        requests: logged requests recomputed.
        rows: request rows compared.
        skipped: logged requests not recomputed (their rows were compacted away).
        consistent: no feature value differs.
        features: per feature ``{"name", "compared", "mismatch_rate", "missing_rate", "max_abs_diff",
            "examples"}``.
        target: the store directory or the service URL.
        probed_rows: rows this task sent as requests before verifying.
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
        probe: the workspace table version whose rows were sent as requests first, ``{"workspace", "table",
            "version"}``, or None.
    """

    task: ClassVar[str] = "verify"
    key_fields: ClassVar[tuple[str, ...]] = ("deployment", "consistent", "requests", "rows")

    deployment: str
    requests: int
    rows: int
    skipped: int
    consistent: bool
    features: list[dict[str, Any]]
    target: str
    probed_rows: int
    run_id: str
    parent_run_id: str | None
    seconds: float
    probe: dict[str, Any] | None = None

    def datasets(self) -> TaskDatasets:
        """The deployment checked (and the probe table version read, if any); verify writes nothing."""
        inputs = [deployment_ref(self.target, self.deployment)]
        if self.probe is not None:
            inputs.append(table_ref(self.probe["workspace"], self.probe["table"], int(self.probe["version"])))
        return TaskDatasets(tuple(inputs))

    @property
    def mismatched_features(self) -> list[str]:
        """The features with a mismatching or one-sided NULL value."""
        return [f["name"] for f in self.features if f["mismatch_rate"] > 0 or f["missing_rate"] > 0]


def verify(request: VerifyRequest) -> VerifyResult:
    """Recompute logged requests of a deployment in batch mode and compare with what was served.

    Raises:
        VerificationFailed: mismatches (``fail_on_mismatch``) or fewer than ``min_requests`` requests checked; its
            ``result`` is the full report.
        InvalidRequest: bad options, both or neither target, ``probe_table`` without ``workspace``.
        DataError: unknown deployment (embedded store) or probe table.
        ServiceError, ServiceUnreachable: the service refused the request or cannot be reached.
    """
    return run_task("verify", request, request.parent_run_id, lambda context: _verify(request, context))


def _verify(request: VerifyRequest, context: TaskContext) -> VerifyResult:
    _check_target(request.store, request.url)
    if request.probe_table is not None and request.workspace is None:
        raise InvalidRequest(f"probe_table {request.probe_table!r} needs the workspace it comes from")
    if request.probe_rows < 1 or request.min_requests < 0:
        raise InvalidRequest("probe_rows must be at least 1 and min_requests at least 0")
    probe, probed = _probe_rows(request)
    path = f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(request.name)}"
    if request.url is not None:
        client = ServiceClient(request.url, request.token, request.timeout)
        if probe is not None:
            for start in range(0, probe.num_rows, _PROBE_ROWS_PER_CALL):
                client.call("POST", path, {"input": _json_rows(probe.slice(start, _PROBE_ROWS_PER_CALL))})
        report = client.call("POST", f"{path}/verify")
    else:
        assert request.store is not None
        store = embedded_store(request.store, timezone=request.timezone, log_requests=1.0 if probe else 0.0)
        if probe is not None:
            store.request(request.name, probe)
        report = store.verify(request.name).to_dict()
    result = VerifyResult(
        **report,
        target=_target_text(request.store, request.url),
        probed_rows=0 if probe is None else probe.num_rows,
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
        probe=probed,
    )
    bad = result.mismatched_features
    if bad and request.fail_on_mismatch:
        raise VerificationFailed(
            f"deployment {request.name!r}: online and offline disagree on {', '.join(bad)}", result
        )
    if result.requests < request.min_requests:
        hint = (
            "start the service with --log-requests RATE and send requests first"
            if request.url is not None
            else "the request log of an embedded store lives in the process that served the requests: verify in "
            "that process, or pass probe_table (--probe TABLE) to send requests first"
        )
        raise VerificationFailed(
            f"deployment {request.name!r}: {result.requests} logged requests checked, fewer than the "
            f"{request.min_requests} required ({hint})",
            result,
        )
    return result


def _probe_rows(request: VerifyRequest) -> tuple[pa.Table | None, dict[str, Any] | None]:
    """The rows to send as requests first, and the table version they come from (None, None: no probe)."""
    if request.probe_table is None:
        return None, None
    assert request.workspace is not None
    ws = open_workspace(request.workspace, request.storage_options)
    info = ws.table_info(request.probe_table, request.probe_version)
    rows = ws.read_table(request.probe_table, info.version)
    probed = {"workspace": ws.uri, "table": info.table, "version": info.version}
    return rows.slice(max(rows.num_rows - request.probe_rows, 0)), probed


def _json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as the service reads them: timestamps in epoch milliseconds, dates as ``YYYY-MM-DD``."""
    columns: dict[str, list[Any]] = {}
    for f, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(f.type):
            column = pc.cast(column.cast(pa.timestamp("ms", tz=f.type.tz)), pa.int64())
        elif pa.types.is_date(f.type):
            column = column.cast(pa.string())
        columns[f.name] = column.to_pylist()  # NaN stays NaN: json writes it bare, as the service reads it
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
