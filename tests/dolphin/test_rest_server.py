"""Workflows defined with plain pydolphinscheduler 4.1 tasks, submitted and run through dolphin_tasks.rest on a real
DolphinScheduler 3.1.1 standalone server: an OUT parameter reaching a downstream task across a Condition, DS's
built-in parameters, start parameters, an Environment, and the Condition's failure branch when a Shell task fails.
"""

from __future__ import annotations

import getpass
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dolphinscheduler_server import DolphinSchedulerServer
from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.condition import SUCCESS, And, Condition
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.rest import DolphinSchedulerError, DolphinSchedulerREST, TaskInstanceInfo, rest_codes

PROJECT = "openfeat-rest-tests"
ENVIRONMENT = "openfeat-rest-tests-env"


@pytest.fixture(scope="module")
def client(ds_server: DolphinSchedulerServer) -> DolphinSchedulerREST:
    return ds_server.client()


@pytest.fixture(scope="module")
def tenant(client: DolphinSchedulerREST) -> str:
    # Without sudo the worker runs tasks as itself, but still wants an OS user named like the tenant.
    name = getpass.getuser()
    client.ensure_tenant(name)
    return name


@pytest.fixture(scope="module")
def project_code(client: DolphinSchedulerREST) -> int:
    return client.ensure_project(PROJECT)


def condition_workflow(client: DolphinSchedulerREST, name: str, exit_code: int) -> dict[str, Any]:
    """The definition of ``produce`` (sets ``auc``, exits ``exit_code``) -> ``check`` (Condition: produce succeeded?)
    -> ``use_auc`` on success, ``on_failure`` otherwise.

    Defined (codes) and rendered (the environment's code) inside ``rest_codes``: pydolphinscheduler asks its gateway
    for both otherwise."""
    params = {"who": "nobody", "biz_date": "${system.biz.date}"}
    with rest_codes(client, PROJECT), Workflow(name=name, project=PROJECT, param=params) as workflow:
        produce = Shell(
            name="produce",
            # The pause: DS 3.1 reads OUT parameters once the process exits, while a thread of its own may not have
            # parsed the setValue line yet (dolphin_tasks/runner.py waits the same way).
            command=f"echo '${{setValue(auc=0.8)}}'\nsleep 1.5\nexit {exit_code}",
            output_params={"auc": ""},
        )
        use_auc = Shell(
            name="use_auc",
            command='echo "auc=${auc} date=${biz_date} who=${who} env=$OPENFEAT_REST_ENV"',
            environment_name=ENVIRONMENT,
        )
        on_failure = Shell(name="on_failure", command="echo 'failure branch ran'")
        # Two levels, as DolphinScheduler reads conditions: a relation over lists of (task, status) items.
        Condition(name="check", condition=And(And(SUCCESS(produce))), success_task=use_auc, failed_task=on_failure)
        define: dict[str, Any] = workflow.get_define()
    return define


def run(
    client: DolphinSchedulerREST, project_code: int, workflow_code: int, **start: Any
) -> tuple[str, dict[str, TaskInstanceInfo]]:
    instance_id = client.start(project_code, workflow_code, **start)
    state = client.wait(project_code, instance_id, timeout=180)
    return state, {task["name"]: task for task in client.task_instances(project_code, instance_id)}


def task_log_with(client: DolphinSchedulerREST, task_instance_id: int, pattern: str, timeout: float = 30.0) -> str:
    """The task's log once ``pattern`` is in it (or after ``timeout`` seconds, for the caller's assertion to show).

    DolphinScheduler 3.1's worker logs a Shell task's output from a thread of its own, which can write the lines after
    the task was reported finished: on a busy machine the log read right after the run may not have them yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        log = client.task_log(task_instance_id)
        if re.search(pattern, log) or time.monotonic() > deadline:
            return log
        time.sleep(0.5)


@pytest.fixture(scope="module")
def environment(client: DolphinSchedulerREST) -> Iterator[int]:
    yield client.ensure_environment(ENVIRONMENT, "export OPENFEAT_REST_ENV=from-environment")


def test_out_parameter_reaches_the_success_branch(
    client: DolphinSchedulerREST, tenant: str, project_code: int, environment: int
) -> None:
    define = condition_workflow(client, "rest-condition-success", exit_code=0)
    code = client.submit(define, project_code, tenant)

    state, tasks = run(client, project_code, code, params={"who": "rest"})

    assert state == "SUCCESS"
    assert {name: task["state"] for name, task in tasks.items()} == {
        "produce": "SUCCESS",
        "check": "SUCCESS",
        "use_auc": "SUCCESS",
    }
    assert tasks["produce"]["out_params"] == {"auc": "0.8"}
    # biz_date = ${system.biz.date}: the day before the run, yyyyMMdd (3.1 expands built-ins in parameter values, not
    # in scripts); ${who}: the start parameter over the global one.
    expected = r"auc=0\.8 date=\d{8} who=rest env=from-environment"
    log = task_log_with(client, tasks["use_auc"]["id"], expected)
    assert re.search(expected, log), log


def test_failing_shell_task_runs_the_failure_branch(
    client: DolphinSchedulerREST, tenant: str, project_code: int, environment: int
) -> None:
    name = "rest-condition-failure"
    first = client.submit(condition_workflow(client, name, exit_code=0), project_code, tenant)
    stored = client.workflow(project_code, name)
    assert stored is not None
    codes_before = {task["name"]: task["code"] for task in stored["taskDefinitionList"]}

    # Submitted again under the same name: the definition is updated, its tasks keep their codes.
    failing = condition_workflow(client, name, exit_code=3)
    assert {task["name"]: task["code"] for task in failing["taskDefinitionJson"]} == codes_before
    assert client.submit(failing, project_code, tenant) == first

    state, tasks = run(client, project_code, first)

    # In 3.1 a Condition whose condition is false ends FAILURE (its state is the condition's result), and the run
    # ends FAILURE for the failed Shell task even though the failure branch ran; use_auc never ran.
    assert state == "FAILURE"
    assert {name: task["state"] for name, task in tasks.items()} == {
        "produce": "FAILURE",
        "check": "FAILURE",
        "on_failure": "SUCCESS",
    }
    # What the task set before failing still reached DS.
    assert tasks["produce"]["out_params"] == {"auc": "0.8"}
    log = task_log_with(client, tasks["on_failure"]["id"], "failure branch ran")
    assert "failure branch ran" in log, log


def test_errors_carry_the_call_and_message(client: DolphinSchedulerREST, project_code: int) -> None:
    with pytest.raises(DolphinSchedulerError) as raised:
        client.start(project_code, 12345)
    assert "start-process-instance" in str(raised.value)
    assert raised.value.code not in (None, 0)
