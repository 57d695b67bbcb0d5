"""The DolphinScheduler tasks' arguments against the core's task requests (:mod:`openfeat_core.tasks.spec`).

A DS task renders ``openfeat TASK ...`` options, and an argument left out (None) is an option left out: the
``openfeat`` command's default applies. So the contract is checked end to end: every request field is an argument
of the task class (under its DS name, :data:`RENAMES`) or listed in :data:`EXCLUDED` with the reason; a task given
only its required arguments renders options that the real command line turns into the request the core builds by
default (the task function is replaced by one that keeps the request); a choice refuses a wrong value listing the
core's choices; a value given reaches its request field.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest
from typer.testing import CliRunner

import openfeat_core.tasks as core_tasks
from dolphin_tasks.monitor import OpenFeatMonitor
from dolphin_tasks.tasks import (
    OpenFeatCompute,
    OpenFeatDeploy,
    OpenFeatExport,
    OpenFeatIngest,
    OpenFeatIngestStream,
    OpenFeatTask,
    OpenFeatVerify,
)
from openfeat_core import cli
from openfeat_core.tasks.spec import task_spec, task_specs

CLASSES: dict[str, type[OpenFeatTask]] = {
    cls.openfeat_task: cls
    for cls in (
        OpenFeatIngest,
        OpenFeatCompute,
        OpenFeatExport,
        OpenFeatDeploy,
        OpenFeatVerify,
        OpenFeatIngestStream,
        OpenFeatMonitor,
    )
}

#: DS argument name -> request field, where they differ.
RENAMES: dict[str, dict[str, str]] = {
    "ingest": {"delimiter": "csv", "header": "csv", "quote": "csv", "null_values": "csv"},
    "compute": {"table": "output"},
    "export": {"label_column": "label"},
    "deploy": {"deployment": "name", "token_file": "token"},
    "verify": {"deployment": "name", "token_file": "token"},
    "monitor": {"deployment": "name", "token_file": "token"},
}

_PARENT = "the runner's MLflow hook keys the parent run on the DS workflow instance (DS_WORKFLOW_INSTANCE_ID)"
_STORAGE = (
    "the openfeat command reads the worker's AWS_* environment (the task's DS Environment): keys stay out of the "
    "script, which DS stores and shows"
)

#: Request fields a DS task does not take, and why.
EXCLUDED: dict[str, dict[str, str]] = {
    "ingest": {"storage_options": _STORAGE, "parent_run_id": _PARENT},
    "compute": {"storage_options": _STORAGE, "parent_run_id": _PARENT},
    "export": {"storage_options": _STORAGE, "parent_run_id": _PARENT},
    "deploy": {
        "log_requests": "the embedded store the task's process opens is closed when it ends: it serves no request",
        "storage_options": _STORAGE,
        "parent_run_id": _PARENT,
    },
    "verify": {"storage_options": _STORAGE, "parent_run_id": _PARENT},
    "ingest-stream": {
        "until_caught_up": "always true (--until-caught-up is forced): a DS task must end",
        "stop": "an in-process event (the command sets it on SIGTERM), not a value",
        "storage_options": _STORAGE,
        "parent_run_id": _PARENT,
    },
    "monitor": {"parent_run_id": _PARENT},
}

#: Arguments of the base class or of DS, not of the request.
DS_ONLY = {"name", "output_prefix", "kwargs"}

#: The required arguments of each task (what the defaults test gives), and how a value-carrying request looks.
REQUIRED: dict[str, dict[str, Any]] = {
    "ingest": {"source": "x.csv", "table": "t"},
    "compute": {"sql": "SELECT 1 AS one", "table": "t"},
    "export": {"table": "t", "path": "out.csv"},
    "deploy": {"deployment": "d", "sql": "SELECT 1 AS one", "url": "http://127.0.0.1:1"},
    "verify": {"deployment": "d", "url": "http://127.0.0.1:1"},
    "ingest-stream": {"store": "store", "bootstrap": "127.0.0.1:9092", "topics": "tx"},
    "monitor": {"deployment": "d", "url": "http://127.0.0.1:1"},
}

#: Fields the defaults test cannot hold to the core's default, and why.
GIVEN_BY_DS: dict[str, set[str]] = {
    task: {RENAMES.get(task, {}).get(name, name) for name in required} | {"workspace"}
    for task, required in REQUIRED.items()
}


@pytest.fixture(autouse=True)
def task_codes() -> Iterator[None]:
    """DS's gateway hands out task codes; here a counter does (as tests/dolphin/test_tasks.py)."""
    codes = itertools.count(1)
    with patch("pydolphinscheduler.core.task.Task.gen_code_and_version", side_effect=lambda: (next(codes), 1)):
        yield


def _arguments(cls: type[OpenFeatTask]) -> dict[str, inspect.Parameter]:
    """The task class's own arguments plus the base class's ``workspace`` (for the tasks that read one)."""
    own = dict(inspect.signature(cls.__init__).parameters)
    own.pop("self")
    if "workspace" in task_spec(cls.openfeat_task).arguments:
        own["workspace"] = inspect.signature(OpenFeatTask.__init__).parameters["workspace"]
    return {name: p for name, p in own.items() if name not in DS_ONLY}


def _field(task: str, name: str) -> str:
    return RENAMES.get(task, {}).get(name, name)


class _Captured(Exception):
    pass


def _request(task: str, monkeypatch: pytest.MonkeyPatch, **given: Any) -> Any:
    """The request the real ``openfeat TASK`` builds from the options the DS task renders."""
    workspace = {"workspace": "ws"} if "workspace" in task_spec(task).arguments else {}
    instance = CLASSES[task](f"{task}_task", **{**workspace, **REQUIRED[task], **given})
    captured: list[Any] = []

    def keep(request: Any) -> Any:
        captured.append(request)
        raise _Captured

    monkeypatch.setattr(core_tasks, task.replace("-", "_"), keep)
    monkeypatch.delenv("OPENFEAT_TOKEN", raising=False)
    stdin = given.get("sql", REQUIRED[task].get("sql"))
    result = CliRunner().invoke(cli.app, [task, *instance.openfeat_arguments], input=stdin)
    assert captured, f"openfeat {task} {instance.openfeat_arguments} built no request: {result.output}"
    return captured[0]


def test_every_task_has_a_class() -> None:
    assert set(CLASSES) == set(task_specs())


def test_workspace_only_for_the_tasks_that_read_one() -> None:
    with pytest.raises(Exception, match="argument 'workspace' is not an argument of the monitor task, got 'ws'"):
        OpenFeatMonitor("m", workspace="ws", **REQUIRED["monitor"])


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_every_core_argument_is_an_argument_or_excluded(task: str) -> None:
    spec = task_spec(task)
    exposed = {_field(task, name) for name in _arguments(CLASSES[task])}
    missing = [n for n in spec.arguments if n not in exposed and n not in EXCLUDED[task]]
    assert not missing, f"{task}: core arguments the DS task lacks (add them, or exclude them with a reason): {missing}"
    stale = [n for n in EXCLUDED[task] if n not in spec.arguments or n in exposed]
    assert not stale, f"{task}: exclusions that are no core argument, or that the task now takes: {stale}"
    unknown = [n for n in _arguments(CLASSES[task]) if _field(task, n) not in spec.arguments]
    assert not unknown, f"{task}: arguments that are no argument of {spec.request.__name__}: {unknown}"


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_an_argument_left_out_is_the_cores_default(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every optional DS argument defaults to None (no option rendered); the command then builds the request with
    the core's defaults."""
    spec = task_spec(task)
    arguments = _arguments(CLASSES[task])
    not_none = {n: p.default for n, p in arguments.items() if n not in REQUIRED[task] and p.default is not None}
    assert not not_none, f"{task}: DS defaults other than None re-spell the core's: {not_none}"
    request = _request(task, monkeypatch)
    wrong = {
        name: (getattr(request, name), argument.default)
        for name, argument in spec.arguments.items()
        if not argument.required
        and name not in GIVEN_BY_DS[task]
        and name not in EXCLUDED[task]
        and getattr(request, name) != argument.default
    }
    assert not wrong, f"{task}: fields (request built from the DS task, core default) that differ: {wrong}"


@pytest.mark.parametrize(
    ("task", "name"),
    [
        (task, name)
        for task, spec in task_specs().items()
        for name in _arguments(CLASSES[task])
        if _field(task, name) in spec.arguments and spec.arguments[_field(task, name)].choices
    ],
)
def test_choices_are_the_cores(task: str, name: str) -> None:
    choices = task_spec(task).argument(_field(task, name)).choices or ()
    with pytest.raises(Exception, match="must be one of " + ", ".join(map(repr, choices)) + ", got 'bogus'"):
        CLASSES[task](f"{task}_task", **{**REQUIRED[task], name: "bogus"})


#: A value other than the default for each argument the values test gives, with the request field's value.
VALUES: dict[str, dict[str, tuple[Any, Any]]] = {
    "ingest": {
        "schema": ("a int", "a int"),
        "format": ("parquet", "parquet"),
        "on_error": ("skip", "skip"),
        "mode": ("append", "append"),
        "timezone": ("Asia/Shanghai", "Asia/Shanghai"),
        "timestamp_unit": ("s", "s"),
        "extra_columns": ("ignore", "ignore"),
    },
    "compute": {
        "inputs": ({"a": 2}, {"a": 2}),
        "timezone": ("Asia/Shanghai", "Asia/Shanghai"),
        "engine": ("spark", "spark"),
    },
    "export": {
        "version": (3, 3),
        "format": ("parquet", "parquet"),
        "columns": (["a"], ["a"]),
        "mode": ("append", "append"),
        "header": (False, False),
        "delimiter": (";", ";"),
        "quote": ("", ""),
        "null_value": ("NULL", "NULL"),
        "timestamp_format": ("epoch_ms", "epoch_ms"),
        "partition_by": (["a"], ["a"]),
        "compression": ("zstd", "zstd"),
        "label_column": ("y", "y"),
        "features": (["a"], ["a"]),
        "categorical": (["a"], ["a"]),
        "buckets": (16, 16),
        "on_null_label": ("skip", "skip"),
    },
    "ingest-stream": {
        "workspace": ("ws2", "ws2"),
        "workspace_every_rows": (10, 10),
        "workspace_every_seconds": (2.5, 2.5),
        "max_bad_ratio": (0.5, 0.5),
        "message_format": ("json", "json"),
        "group_id": ("g", "g"),
        "create_tables": (True, True),
        "create_store": (True, True),
        "dead_letter_topic": ("dlq", "dlq"),
    },
    "monitor": {
        "features": (["a"], ["a"]),
        "psi_threshold": (0.5, 0.5),
        "null_rate_threshold": (0.2, 0.2),
        "min_rows": (7, 7),
        "period_seconds": (60.0, 60.0),
        "consistency_requests": (3, 3),
        "timeout": (5.0, 5.0),
    },
}


@pytest.mark.parametrize("task", sorted(VALUES))
def test_a_value_given_reaches_the_request(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    given = {name: value for name, (value, _) in VALUES[task].items()}
    request = _request(task, monkeypatch, **given)

    def plain(value: Any) -> Any:  # a sequence field holds a list or a tuple, as the command builds it
        return list(value) if isinstance(value, tuple) else value

    got = {name: plain(getattr(request, _field(task, name))) for name in given}
    assert got == {name: plain(expected) for name, (_, expected) in VALUES[task].items()}
