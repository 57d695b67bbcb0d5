"""A client of DolphinScheduler's REST API (3.1.x), for submitting and running pydolphinscheduler workflows.

pydolphinscheduler talks to DolphinScheduler through the py4j Python gateway, whose method names change with
DolphinScheduler's version (pydolphinscheduler 4.1 calls ``createOrUpdateWorkflow``; DolphinScheduler 3.1's gateway has
``createOrUpdateProcessDefinition``). The REST API serves every DolphinScheduler, so OpenFeat builds workflows with
pydolphinscheduler's classes, takes their definition (``Workflow.get_define()``) and submits it here:

* :class:`DolphinSchedulerREST` creates the tenant, project and environment a workflow needs, creates or updates the
  process definition, starts it, waits for it, and reads its task instances and their logs;
* :func:`rest_codes` lets pydolphinscheduler's ``Task`` objects take their codes from REST instead of the gateway.

Only the standard library is used: the client works wherever the tasks are defined, without an HTTP package.

Differences in DolphinScheduler 3.2 (checked against 3.2.0's controllers): the tenant leaves the definition
(``tenantCode`` is no parameter of the process-definition calls) for the start call (``start-process-instance`` takes
``tenantCode``); ``start-process-instance`` answers a ``triggerCode`` (3.1 answers nothing, so
:meth:`DolphinSchedulerREST.start` looks for the new instance); ``/log/detail`` answers ``{"lineNum", "message"}``
instead of a string (:meth:`DolphinSchedulerREST.task_log` reads both); a v2 API (``/v2/workflows``...) exists beside
these v1 endpoints, which remain.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypedDict

#: Workflow (process instance) states after which nothing more happens (3.1's ``WorkflowExecutionStatus``).
FINAL_WORKFLOW_STATES = frozenset({"SUCCESS", "FAILURE", "STOP", "PAUSE"})

# The admin's default queue, created with DolphinScheduler's schema.
_DEFAULT_QUEUE_ID = 1


class DolphinSchedulerError(RuntimeError):
    """DolphinScheduler answered a call with a non-zero code (or not at all): the call, the code and its message."""

    def __init__(self, call: str, code: int | None, msg: str) -> None:
        super().__init__(f"{call}: {msg}" + (f" (code {code})" if code is not None else ""))
        self.call = call
        self.code = code
        self.msg = msg


class TaskInstanceInfo(TypedDict):
    """One task instance of a workflow run, as :meth:`DolphinSchedulerREST.task_instances` reports it."""

    id: int
    name: str
    code: int
    task_type: str
    state: str
    #: The OUT parameters the task set (``${setValue(name=value)}`` lines of its output), from its ``varPool``.
    out_params: dict[str, str]
    host: str


def _json_param(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _global_params(define: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The definition's global parameters as DolphinScheduler's ``globalParams`` list.

    ``Workflow.get_define()`` has them as the ``param`` dict (the gateway receives them converted): both forms are read.
    """
    if "globalParams" in define:
        params = define["globalParams"]
        return list(json.loads(params) if isinstance(params, str) else params)
    return [
        {"prop": name, "direct": "IN", "type": "VARCHAR", "value": str(value)}
        for name, value in (define.get("param") or {}).items()
    ]


def _task_definitions(define: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The definition's tasks as 3.1 stores them."""
    tasks = []
    for task in define["taskDefinitionJson"]:
        task = dict(task)
        # pydolphinscheduler sends null for "no environment"; 3.1 (its UI, its database) uses -1.
        if task.get("environmentCode") is None:
            task["environmentCode"] = -1
        tasks.append(task)
    return tasks


def _locations(task_codes: Sequence[int]) -> list[dict[str, int]]:
    """Positions for the web UI's graph (3.1 needs some; the layout is not ours to decide): a column of nodes."""
    return [{"taskCode": code, "x": 150, "y": 50 + 100 * index} for index, code in enumerate(task_codes)]


def _out_params(var_pool: str | None) -> dict[str, str]:
    if not var_pool:
        return {}
    return {item["prop"]: item.get("value", "") for item in json.loads(var_pool) if item.get("direct") == "OUT"}


class DolphinSchedulerREST:
    """A session with a DolphinScheduler API server, e.g. ``http://host:12345/dolphinscheduler``.

    Authenticate with :meth:`login` (a session) or pass an access ``token`` (Security > Token management in the UI).
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session_id: str | None = None

    # -- transport ----------------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One API call with form parameters; returns the answer's ``data``, raises :class:`DolphinSchedulerError`."""
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        url = f"{self.url}/{path.lstrip('/')}"
        body = None
        if method in ("GET", "DELETE"):
            url = f"{url}?{query}" if query else url
        else:
            body = query.encode()
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.token:
            request.add_header("token", self.token)
        elif self.session_id:
            request.add_header("sessionId", self.session_id)
        call = f"{method} {path}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise DolphinSchedulerError(call, exc.code, f"HTTP {exc.code} {exc.reason}") from exc
        if not isinstance(answer, dict) or answer.get("code") != 0:
            code = answer.get("code") if isinstance(answer, dict) else None
            msg = answer.get("msg", "") if isinstance(answer, dict) else str(answer)
            raise DolphinSchedulerError(call, code, msg)
        return answer.get("data")

    def login(self, user: str, password: str) -> None:
        """Open a session (its id goes in the ``sessionId`` header of every later call)."""
        data = self.call("POST", "/login", {"userName": user, "userPassword": password})
        self.session_id = data["sessionId"]

    # -- side models --------------------------------------------------------------------------------------------------

    def workers(self) -> list[dict[str, Any]]:
        """The workers registered with the registry (empty until one has started)."""
        return list(self.call("GET", "/monitor/workers") or [])

    def ensure_tenant(self, code: str, queue_id: int = _DEFAULT_QUEUE_ID) -> int:
        """The tenant's id, creating it if needed.

        With ``sudo.enable=false`` the worker still checks that an OS user of the tenant's name exists, and runs the
        tasks as its own user: the tenant is normally the user the worker runs as.
        """
        for tenant in self.call("GET", "/tenants/list") or []:
            if tenant["tenantCode"] == code:
                return int(tenant["id"])
        created = self.call("POST", "/tenants", {"tenantCode": code, "queueId": queue_id, "description": "OpenFeat"})
        return int(created["id"])

    def ensure_project(self, name: str) -> int:
        """The project's code, creating the project if needed."""
        for project in self.call("GET", "/projects/list") or []:
            if project["name"] == name:
                return int(project["code"])
        created = self.call("POST", "/projects", {"projectName": name, "description": "OpenFeat"})
        return int(created["code"])

    def environment_code(self, name: str) -> int | None:
        """The code of the environment called ``name``, or None."""
        for environment in self.call("GET", "/environment/query-environment-list") or []:
            if environment["name"] == name:
                return int(environment["code"])
        return None

    def ensure_environment(self, name: str, config: str, worker_groups: Sequence[str] = ("default",)) -> int:
        """The code of an environment with this shell ``config`` (e.g. ``export PATH=/venv/bin:$PATH``).

        DolphinScheduler writes an environment's config at the top of the script of every task that uses it. An
        existing environment of that name is updated to ``config`` and ``worker_groups``.
        """
        params = {
            "name": name,
            "config": config,
            "description": "OpenFeat",
            "workerGroups": _json_param(list(worker_groups)),
        }
        code = self.environment_code(name)
        if code is None:
            return int(self.call("POST", "/environment/create", params))
        self.call("POST", "/environment/update", {**params, "code": code})
        return code

    # -- definitions --------------------------------------------------------------------------------------------------

    def gen_task_codes(self, project_code: int, n: int) -> list[int]:
        """``n`` fresh task codes (the server's snowflake generator)."""
        codes = self.call("GET", f"/projects/{project_code}/task-definition/gen-task-codes", {"genNum": n})
        return [int(code) for code in codes]

    def workflow(self, project_code: int, name: str) -> dict[str, Any] | None:
        """The definition called ``name`` (``processDefinition``, ``taskDefinitionList``, ...), or None.

        Read from the project's whole list: 3.1.1's ``process-definition/query-by-name`` answers "does not exist"
        (50003) for definitions that do (seen on the standalone server's H2 database).
        """
        for dag in self.call("GET", f"/projects/{project_code}/process-definition/list") or []:
            if dag["processDefinition"]["name"] == name:
                return dict(dag)
        return None

    def submit(self, workflow_define: Mapping[str, Any], project_code: int, tenant: str) -> int:
        """Create, or update when one of that name exists, the process definition; release it (online) if asked.

        ``workflow_define`` is what pydolphinscheduler's ``Workflow.get_define()`` returns (tasks must have codes: see
        :func:`rest_codes`). Returns the definition's code, which the server assigns (``get_define()`` has none).
        An online definition cannot be updated: it is taken offline first.
        """
        tasks = _task_definitions(workflow_define)
        name = str(workflow_define["name"])
        params: dict[str, Any] = {
            "name": name,
            "description": workflow_define.get("description") or "",
            "globalParams": _json_param(_global_params(workflow_define)),
            "locations": _json_param(_locations([int(task["code"]) for task in tasks])),
            "timeout": int(workflow_define.get("timeout") or 0),
            "tenantCode": tenant,
            "taskRelationJson": _json_param(list(workflow_define["taskRelationJson"])),
            "taskDefinitionJson": _json_param(tasks),
            "executionType": workflow_define.get("executionType") or "PARALLEL",
        }
        base = f"/projects/{project_code}/process-definition"
        existing = self.workflow(project_code, name)
        if existing is None:
            code = int(self.call("POST", base, params)["code"])
        else:
            code = int(existing["processDefinition"]["code"])
            if existing["processDefinition"].get("releaseState") == "ONLINE":
                self.call("POST", f"{base}/{code}/release", {"releaseState": "OFFLINE"})
            self.call("PUT", f"{base}/{code}", {**params, "releaseState": "OFFLINE"})
        # pydolphinscheduler: 1 online, 0 offline.
        if workflow_define.get("releaseState", 1) in (1, "ONLINE"):
            self.call("POST", f"{base}/{code}/release", {"releaseState": "ONLINE"})
        return code

    # -- runs ---------------------------------------------------------------------------------------------------------

    def _instance_ids(self, project_code: int, workflow_code: int) -> list[int]:
        page = self.call(
            "GET", f"/projects/{project_code}/process-instances",
            {"processDefineCode": workflow_code, "pageNo": 1, "pageSize": 50},
        )  # fmt: skip
        return [int(instance["id"]) for instance in page.get("totalList") or []]

    def start(
        self,
        project_code: int,
        workflow_code: int,
        *,
        params: Mapping[str, Any] | None = None,
        worker_group: str = "default",
        environment_code: int | None = None,
        timeout: float = 60.0,
    ) -> int:
        """Start a run of the (online) definition and return its process instance id.

        ``params`` override global parameters for this run (``startParams``). ``environment_code`` is the run's
        environment, for the tasks that name none. 3.1 answers the start with no id (the master creates the instance
        from a command, asynchronously): the id is that of the definition's first instance not there before the call,
        awaited up to ``timeout`` seconds.
        """
        before = set(self._instance_ids(project_code, workflow_code))
        self.call(
            "POST", f"/projects/{project_code}/executors/start-process-instance",
            {
                "processDefinitionCode": workflow_code,
                "scheduleTime": "",
                "failureStrategy": "CONTINUE",
                "warningType": "NONE",
                "taskDependType": "TASK_POST",
                "runMode": "RUN_MODE_SERIAL",
                "processInstancePriority": "MEDIUM",
                "workerGroup": worker_group,
                "environmentCode": -1 if environment_code is None else environment_code,
                "startParams": _json_param({k: str(v) for k, v in (params or {}).items()}),
                "dryRun": 0,
            },
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            new = set(self._instance_ids(project_code, workflow_code)) - before
            if new:
                return min(new)
            if time.monotonic() > deadline:
                raise DolphinSchedulerError(
                    "start-process-instance", None, f"no instance of {workflow_code} after {timeout:.0f}s"
                )
            time.sleep(0.5)

    def instance(self, project_code: int, instance_id: int) -> dict[str, Any]:
        """The process instance (``state``, ``varPool``, times, ...)."""
        return dict(self.call("GET", f"/projects/{project_code}/process-instances/{instance_id}"))

    def wait(self, project_code: int, instance_id: int, timeout: float = 300.0, poll: float = 1.0) -> str:
        """Wait until the run reaches a final state (:data:`FINAL_WORKFLOW_STATES`) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            state = str(self.instance(project_code, instance_id)["state"])
            if state in FINAL_WORKFLOW_STATES:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"process instance {instance_id} still {state} after {timeout:.0f}s")
            time.sleep(poll)

    def task_instances(self, project_code: int, instance_id: int) -> list[TaskInstanceInfo]:
        """The run's task instances (only the tasks that ran: a Condition's untaken branch has none)."""
        data = self.call("GET", f"/projects/{project_code}/process-instances/{instance_id}/tasks")
        return [
            TaskInstanceInfo(
                id=int(task["id"]), name=str(task["name"]), code=int(task["taskCode"]), task_type=str(task["taskType"]),
                state=str(task["state"]), out_params=_out_params(task.get("varPool")), host=str(task.get("host") or ""),
            )
            for task in data["taskList"]
        ]  # fmt: skip

    def task_log(self, task_instance_id: int, page_lines: int = 1000) -> str:
        """The task instance's whole log, read page by page (``/log/detail``) until a page comes back short."""
        chunks: list[str] = []
        skip = 0
        while True:
            chunk = self.call(
                "GET", "/log/detail", {"taskInstanceId": task_instance_id, "skipLineNum": skip, "limit": page_lines}
            )
            text = chunk.get("message", "") if isinstance(chunk, dict) else str(chunk or "")
            chunks.append(text)
            lines = text.count("\n")
            if lines < page_lines:
                return "".join(chunks)
            skip += lines


def submit_over_rest(
    build: Callable[[], Any],
    url: str,
    *,
    project: str | None = None,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    tenant: str | None = None,
    start: bool = False,
) -> tuple[Any, int, int | None]:
    """Build a pydolphinscheduler ``Workflow`` with codes from REST (``build()`` runs inside :func:`rest_codes`),
    submit it, and start it if ``start``. Returns the workflow, its code and the started instance's id (or None).

    ``project``, the tenant and the credentials default to pydolphinscheduler's configuration
    (``PYDS_WORKFLOW_PROJECT``, ``PYDS_USER_TENANT``, ``PYDS_USER_NAME``/``PYDS_USER_PASSWORD``), as the gateway's
    submission would use them.
    """
    from pydolphinscheduler import configuration

    client = DolphinSchedulerREST(url, token=token)
    if token is None:
        client.login(user or configuration.USER_NAME, password or configuration.USER_PASSWORD)
    tenant = tenant or configuration.USER_TENANT
    client.ensure_tenant(tenant)
    with rest_codes(client, project or configuration.WORKFLOW_PROJECT) as project_code:
        workflow = build()
        if workflow._project != (project or configuration.WORKFLOW_PROJECT):
            raise DolphinSchedulerError(
                "submit", None, f"the workflow is in project {workflow._project!r}, not {project!r}: pass project="
            )
        # Rendering asks for environment codes too: inside rest_codes, not the gateway.
        define = workflow.get_define()
    code = client.submit(define, project_code, tenant)
    instance = client.start(project_code, code, worker_group=workflow.worker_group) if start else None
    return workflow, code, instance


@contextlib.contextmanager
def rest_codes(client: DolphinSchedulerREST, project_name: str) -> Iterator[int]:
    """While active, pydolphinscheduler's tasks take their codes from REST instead of the Python gateway.

    A task named like one of the existing definition of its workflow (same project, same workflow name) keeps that
    task's code and version, so that submitting again updates the task (the server bumps the version if it changed);
    other tasks get fresh codes and version 0, as the gateway would give them. A task's ``environment_name`` is resolved
    to its code through REST too. Yields the project's code (the project is created if needed).

    ``Task.gen_code_and_version`` and ``Task.environment_code`` (class attributes) are replaced for the duration and
    restored on exit: not thread-safe with other pydolphinscheduler users in the same process.
    """
    from pydolphinscheduler.core.task import Task

    project_code = client.ensure_project(project_name)
    existing: dict[str, dict[str, tuple[int, int]]] = {}

    def known_tasks(workflow_name: str) -> dict[str, tuple[int, int]]:
        if workflow_name not in existing:
            dag = client.workflow(project_code, workflow_name)
            existing[workflow_name] = {
                str(task["name"]): (int(task["code"]), int(task["version"]))
                for task in (dag or {}).get("taskDefinitionList") or []
            }
        return existing[workflow_name]

    def gen_code_and_version(task: Any) -> tuple[int, int]:
        workflow = task.workflow
        if workflow is not None and task.name in known_tasks(workflow.name):
            return known_tasks(workflow.name)[task.name]
        return client.gen_task_codes(project_code, 1)[0], 0

    def environment_code(task: Any) -> int | None:
        name = task._environment_name
        if name is None:
            return None
        code = client.environment_code(name)
        if code is None:
            raise DolphinSchedulerError("environment", None, f"no environment named {name!r}")
        return code

    saved = {name: Task.__dict__[name] for name in ("gen_code_and_version", "environment_code")}
    Task.gen_code_and_version = gen_code_and_version
    Task.environment_code = property(environment_code)
    try:
        yield project_code
    finally:
        for name, value in saved.items():
            setattr(Task, name, value)
