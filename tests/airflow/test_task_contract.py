"""The Airflow operators' arguments against the core's task requests (:mod:`openfeat_core.tasks.spec`).

Every request field is an operator argument (under its operator name, :data:`RENAMES`) or listed in
:data:`EXCLUDED` with the reason; an argument's default is the core's, or None (unset: the connection's value, else
the request's default); an operator given only its required arguments, with an empty connection, builds the request
the core builds by default; a choice refuses a wrong value listing the core's choices; a value given reaches its
request field.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from airflow_provider._arguments import Arguments
from airflow_provider.exceptions import OpenFeatArgumentError
from airflow_provider.hooks.openfeat import OpenFeatConnectionConfig
from airflow_provider.operators.monitor import OpenFeatMonitorOperator
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatDeployOperator,
    OpenFeatExportTrainingSetOperator,
    OpenFeatIngestOperator,
    OpenFeatIngestStreamOperator,
    OpenFeatVerifyOperator,
    _OnlineOperator,
    _OpenFeatOperator,
)
from openfeat_core.tasks.spec import task_spec, task_specs

CLASSES: dict[str, type[_OpenFeatOperator]] = {
    cls.task_name: cls
    for cls in (
        OpenFeatIngestOperator,
        OpenFeatComputeFeaturesOperator,
        OpenFeatExportTrainingSetOperator,
        OpenFeatDeployOperator,
        OpenFeatVerifyOperator,
        OpenFeatIngestStreamOperator,
        OpenFeatMonitorOperator,
    )
}

#: Operator argument name -> request field, where they differ.
RENAMES: dict[str, dict[str, str]] = {"compute": {"table": "output"}, "export": {"label_column": "label"}}

_STORAGE = "the connection's extra 'storage_options' (it may hold credentials: not an operator argument)"
_TOKEN = "the connection's password (a secret, never an operator argument)"

#: Request fields an operator does not take, and why.
EXCLUDED: dict[str, dict[str, str]] = {
    "ingest": {"storage_options": _STORAGE},
    "compute": {"storage_options": _STORAGE},
    "export": {"storage_options": _STORAGE},
    "deploy": {"storage_options": _STORAGE, "token": _TOKEN},
    "verify": {"storage_options": _STORAGE, "token": _TOKEN},
    "ingest-stream": {
        "storage_options": _STORAGE,
        "until_caught_up": "always true: an Airflow task must end",
        "stop": "set by on_kill (the consumer stops after the batch under way), not a value",
    },
    "monitor": {"token": _TOKEN},
}

#: Arguments of Airflow or of the operator, not of the request.
OPERATOR_ONLY = {"task_id", "conn_id", "kwargs"}

#: The required arguments of each operator.
REQUIRED: dict[str, dict[str, Any]] = {
    "ingest": {"source": "x.csv", "table": "t", "workspace": "ws"},
    "compute": {"sql": "SELECT 1 AS one", "table": "t", "workspace": "ws"},
    "export": {"table": "t", "path": "out.csv", "workspace": "ws"},
    "deploy": {"name": "d", "sql": "SELECT 1 AS one", "url": "http://127.0.0.1:1"},
    "verify": {"name": "d", "url": "http://127.0.0.1:1"},
    "ingest-stream": {"store": "store", "bootstrap": "127.0.0.1:9092", "topics": "tx"},
    "monitor": {"name": "d", "url": "http://127.0.0.1:1"},
}


def _arguments(cls: type[_OpenFeatOperator]) -> dict[str, inspect.Parameter]:
    """The operator's arguments: its own, its base classes' (workspace and parent run id; store and url), less
    the base's ``workspace`` for a task that reads none: ``monitor`` takes and ignores it, so that a DAG's
    ``default_args={"workspace": ...}`` applies to all its operators."""
    merged: dict[str, inspect.Parameter] = {}
    for klass in reversed(cls.__mro__):
        if klass in (_OpenFeatOperator, _OnlineOperator, cls):
            merged.update(inspect.signature(klass.__init__).parameters)
    merged.pop("self")
    if "workspace" not in task_spec(cls.task_name).arguments:
        merged.pop("workspace")
    return {name: p for name, p in merged.items() if name not in OPERATOR_ONLY}


def _field(task: str, name: str) -> str:
    return RENAMES.get(task, {}).get(name, name)


def _request(task: str, **given: Any) -> Any:
    """The request the operator builds, with an empty connection (the ``parent_run_id`` of a DAG run: ``p``)."""
    operator = CLASSES[task](task_id=f"{task.replace('-', '_')}_task", **{**REQUIRED[task], **given})
    return operator._request(Arguments(operator), OpenFeatConnectionConfig(conn_id="openfeat_default"), "p")


def test_every_task_has_an_operator() -> None:
    assert set(CLASSES) == set(task_specs())


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_every_core_argument_is_an_argument_or_excluded(task: str) -> None:
    spec = task_spec(task)
    exposed = {_field(task, name) for name in _arguments(CLASSES[task])}
    missing = [n for n in spec.arguments if n not in exposed and n not in EXCLUDED[task]]
    assert not missing, (
        f"{task}: core arguments the operator lacks (add them, or exclude them with a reason): {missing}"
    )
    stale = [n for n in EXCLUDED[task] if n not in spec.arguments or n in exposed]
    assert not stale, f"{task}: exclusions that are no core argument, or that the operator now takes: {stale}"
    unknown = [n for n in _arguments(CLASSES[task]) if _field(task, n) not in spec.arguments]
    assert not unknown, f"{task}: arguments that are no argument of {spec.request.__name__}: {unknown}"


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_defaults_are_the_cores_or_unset(task: str) -> None:
    spec = task_spec(task)
    wrong = {}
    for name, p in _arguments(CLASSES[task]).items():
        argument = spec.argument(_field(task, name))
        if p.default is inspect.Parameter.empty or p.default is None:
            continue
        core = list(argument.default) if isinstance(argument.default, tuple) else argument.default
        if p.default != core:
            wrong[name] = (p.default, argument.default)
    assert not wrong, f"{task}: defaults (operator, core) that differ: {wrong}"


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_an_unset_argument_is_the_cores_default(task: str) -> None:
    spec = task_spec(task)
    request = _request(task)
    given = {_field(task, name) for name in REQUIRED[task]} | {"parent_run_id"}
    wrong = {
        name: (getattr(request, name), argument.default)
        for name, argument in spec.arguments.items()
        if not argument.required
        and name not in given
        and name not in EXCLUDED[task]
        and getattr(request, name) != argument.default
    }
    assert not wrong, f"{task}: fields (request the operator built, core default) that differ: {wrong}"
    # None (an empty template, a value left unset) is "not given" too, for every argument that takes it.
    unset = {
        name: None
        for name, p in _arguments(CLASSES[task]).items()
        if name not in REQUIRED[task] and name != "parent_run_id" and p.default is not inspect.Parameter.empty
    }
    request = _request(task, **unset)
    wrong = {
        _field(task, name): (getattr(request, _field(task, name)), spec.argument(_field(task, name)).default)
        for name in unset
        if _field(task, name) not in EXCLUDED[task]
        and getattr(request, _field(task, name)) != spec.argument(_field(task, name)).default
    }
    assert not wrong, f"{task}: arguments set to None that do not give the core's default: {wrong}"


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
    with pytest.raises(OpenFeatArgumentError, match="must be one of " + ", ".join(map(repr, choices))):
        _request(task, **{name: "bogus"})


#: A value other than the default for each argument the values test gives, and the request field's value.
VALUES: dict[str, dict[str, tuple[Any, Any]]] = {
    "deploy": {
        "timeout": ("5", 5.0),
        "create_store": ("true", True),
        "log_requests": (0.5, 0.5),
        "timezone": ("Asia/Shanghai", "Asia/Shanghai"),
    },
    "verify": {
        "timeout": (5, 5.0),
        "probe_rows": ("7", 7),
        "fail_on_mismatch": (False, False),
        "min_requests": (0, 0),
    },
    "ingest-stream": {
        "workspace": ("ws2", "ws2"),
        "workspace_every_rows": ("10", 10),
        "workspace_every_seconds": (2.5, 2.5),
        "max_bad_ratio": (0.5, 0.5),
        "message_format": ("json", "json"),
    },
    "monitor": {
        "psi_threshold": (0.5, 0.5),
        "null_rate_threshold": ("0.2", 0.2),
        "min_rows": (7, 7),
        "consistency_requests": (0, 0),
        "timeout": (5.0, 5.0),
    },
    "export": {"compression": ("zstd", "zstd"), "label_column": ("y", "y"), "buckets": ("16", 16)},
    "compute": {"timezone": ("Asia/Shanghai", "Asia/Shanghai"), "table": ("out", "out")},
}


@pytest.mark.parametrize("task", sorted(VALUES))
def test_a_value_given_reaches_the_request(task: str) -> None:
    request = _request(task, **{name: value for name, (value, _) in VALUES[task].items()})
    got = {name: getattr(request, _field(task, name)) for name in VALUES[task]}
    assert got == {name: expected for name, (_, expected) in VALUES[task].items()}
