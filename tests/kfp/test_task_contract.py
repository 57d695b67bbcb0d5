"""The components' parameters against the core's task requests (:mod:`openfeat_core.tasks.spec`).

A KFP lightweight component embeds its function's source, so its signature spells the task's arguments out; this
test holds the spelling to the request dataclass: every request field is a parameter of the component or is listed
in :data:`EXCLUDED` with the reason, and every parameter's default is the core's default, or the empty value the
runtime maps to the core's ``None`` (:data:`EMPTY`), checked by building the request the runtime builds.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from kubeflow_components import runtime
from kubeflow_components.components import COMPONENTS
from kubeflow_components.monitor import monitor
from openfeat_core.tasks.spec import task_spec, task_specs

#: Each component's function (the task name is the core's).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{task: component.python_func for task, component in COMPONENTS.items()},
    "monitor": monitor.python_func,
}

_PARENT = "set from kfp_run_id (OPENFEAT_PARENT_RUN_ID, one parent per KFP run), not a parameter"
_TOKEN = "a secret: read from $OPENFEAT_TOKEN (a Kubernetes secret), never a parameter"

#: Request fields a component does not take as a parameter, and why.
EXCLUDED: dict[str, dict[str, str]] = {
    "ingest": {"parent_run_id": _PARENT},
    "compute": {"parent_run_id": _PARENT},
    "export": {
        "workspace": "from the input WorkspaceTable artifact `table`",
        "version": "from the input WorkspaceTable artifact `table` (the version it stands for)",
        "parent_run_id": _PARENT,
    },
    "deploy": {
        "token": _TOKEN,
        "log_requests": "the embedded store the task opens is closed when the task ends: it serves no request to log",
        "parent_run_id": _PARENT,
    },
    "verify": {
        "token": _TOKEN,
        "probe_version": "from the input WorkspaceTable artifact `probe_table`",
        "parent_run_id": _PARENT,
    },
    "ingest-stream": {
        "until_caught_up": "always true: a KFP task must end",
        "stop": "an in-process event (the command line's SIGTERM), not a value",
        "parent_run_id": _PARENT,
    },
    "monitor": {"token": _TOKEN, "parent_run_id": _PARENT},
}

#: The empty parameter values that stand for the core's None (KFP parameters are JSON: no None default); the
#: ``*_request_defaults`` tests check that the runtime maps them.
EMPTY: tuple[Any, ...] = ("", {}, [], 0.0)

#: Parameters whose default differs from the core's on purpose: (task, parameter) -> why. (Export's ``format``
#: does not: empty is the core's None, inferred from ``path``; only without a ``path``, into the Dataset's own
#: location, which has no extension, the runtime writes CSV: :func:`test_export_request_defaults`.)
DIFFERENT: dict[tuple[str, str], str] = {
    ("export", "path"): "required in the core; empty: the output Dataset's own location in the pipeline root",
    ("compute", "workspace"): "required in the core; empty: the workspace of the input WorkspaceTable artifacts",
}

#: Parameters that are not request fields: the tracking context, the artifacts standing for table versions.
CONTEXT = {"kfp_run_id", "kfp_run_name", "kfp_task_name", "mlflow_tracking_uri", "mlflow_experiment"}
ARTIFACT_INPUTS = {"table_1", "table_2", "table_3", "table_4", "deployment", "probe_table", "table"}


def _parameters(task: str) -> dict[str, inspect.Parameter]:
    """The component's parameters that carry values (not output artifacts, not the tracking context)."""
    signature = inspect.signature(FUNCTIONS[task])
    return {
        name: p
        for name, p in signature.parameters.items()
        if name not in CONTEXT and "Output" not in str(p.annotation) and "Input" not in str(p.annotation)
    }


def test_every_task_has_a_component() -> None:
    assert set(FUNCTIONS) == set(task_specs())


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_every_core_argument_is_a_parameter_or_excluded(task: str) -> None:
    spec = task_spec(task)
    signature = inspect.signature(FUNCTIONS[task]).parameters
    excluded = EXCLUDED[task]
    missing = [n for n in spec.arguments if n not in signature and n not in excluded]
    assert not missing, (
        f"{task}: core arguments the component lacks (add them, or exclude them with a reason): {missing}"
    )
    stale = [n for n in excluded if n not in spec.arguments or n in _parameters(task)]
    assert not stale, f"{task}: exclusions that are no core argument, or that the component now takes: {stale}"
    unknown = [n for n in _parameters(task) if n not in spec.arguments]
    assert not unknown, f"{task}: parameters that are no argument of {spec.request.__name__}: {unknown}"


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_defaults_are_the_cores(task: str) -> None:
    spec = task_spec(task)
    wrong = {}
    for name, p in _parameters(task).items():
        argument = spec.argument(name)
        if (task, name) in DIFFERENT:
            assert argument.required, f"{task}.{name}: listed as different, but the core has a default"
            continue
        if argument.required:
            assert p.default is inspect.Parameter.empty, f"{task}.{name}: required in the core, optional here"
            continue
        core = argument.default
        if isinstance(core, tuple):  # a sequence default: JSON has lists only
            core = list(core)
        if p.default == core:
            continue
        if core is None and any(type(p.default) is type(e) and p.default == e for e in EMPTY):
            continue
        wrong[name] = (p.default, argument.default)
    assert not wrong, f"{task}: defaults (component, core) that differ: {wrong}"


@pytest.mark.parametrize("task", sorted(task_specs()))
def test_choices_are_documented(task: str) -> None:
    """Each choice's values are named in the component's docstring (the KFP UI shows it), as the core spells them."""
    doc = inspect.getdoc(FUNCTIONS[task]) or ""
    for name in _parameters(task):
        choices = task_spec(task).argument(name).choices
        for value in choices or ():
            assert f"``{value}``" in doc, f"{task}.{name}: choice {value!r} is not in the component's docstring"


# The runtime maps the empty values to the core's defaults: the requests it builds from the components' defaults
# are the requests the core builds from its own. The task function is replaced by one that returns the request.
class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _capture(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(task: str, call: Any, request: Any) -> Any:
        raise _Captured(request)

    monkeypatch.setattr(runtime, "_run", fail)


class _Artifact:
    def __init__(self, path: Path, metadata: Mapping[str, Any] | None = None) -> None:
        self.uri = str(path)
        self.path = str(path)
        self.metadata: dict[str, Any] = dict(metadata or {})

    def log_metric(self, metric: str, value: float) -> None:
        raise AssertionError("not reached")


def _defaults(task: str) -> dict[str, Any]:
    return {name: p.default for name, p in _parameters(task).items() if p.default is not inspect.Parameter.empty}


def _assert_core_defaults(task: str, request: Any, given: set[str]) -> None:
    spec = task_spec(task)
    for f in dataclasses.fields(request):
        if f.name in given or f.name in EXCLUDED[task] or spec.argument(f.name).required:
            continue
        if (task, f.name) in DIFFERENT:
            continue
        assert getattr(request, f.name) == spec.argument(f.name).default, (task, f.name)


def test_export_request_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _capture(monkeypatch)
    table = _Artifact(
        tmp_path / "t", {"openfeat_type": "openfeat.WorkspaceTable", "workspace": "ws", "table": "t", "version": 3}
    )
    args = {k: v for k, v in _defaults("export").items() if k != "path"}
    with pytest.raises(_Captured) as captured:
        runtime.run_export(
            table=table, path="out/train.parquet", training_set=_Artifact(tmp_path / "d"), metrics=None, **args
        )
    request = captured.value.request
    assert (request.workspace, request.table, request.version, request.path) == ("ws", "t", 3, "out/train.parquet")
    # format: None (inferred from the path's extension) as in the core
    _assert_core_defaults("export", request, {"table", "workspace", "path", "version"})
    # Into the Dataset's own location (no extension to infer from): CSV, the one deliberate difference.
    with pytest.raises(_Captured) as captured:
        runtime.run_export(table=table, path="", training_set=_Artifact(tmp_path / "d"), metrics=None, **args)
    assert captured.value.request.format == "csv"


def test_ingest_request_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _capture(monkeypatch)
    with pytest.raises(_Captured) as captured:
        runtime.run_ingest(
            workspace="ws", table="t", source="x.csv", table_version=_Artifact(tmp_path / "v"), metrics=None,
            statistics=None, **_defaults("ingest"),
        )  # fmt: skip
    _assert_core_defaults("ingest", captured.value.request, {"workspace", "table", "source"})


def test_compute_request_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _capture(monkeypatch)
    args = {k: v for k, v in _defaults("compute").items() if k != "workspace"}
    with pytest.raises(_Captured) as captured:
        runtime.run_compute(
            sql="SELECT 1 AS one", output="o", workspace="ws", tables=[], table_version=_Artifact(tmp_path / "v"),
            metrics=None, statistics=None, **args,
        )  # fmt: skip
    _assert_core_defaults("compute", captured.value.request, {"sql", "output", "workspace"})


def test_ingest_csv_dialect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from openfeat_core.io import CsvOptions
    from openfeat_core.tasks import InvalidRequest

    _capture(monkeypatch)
    args = {**_defaults("ingest"), "csv": {"delimiter": ";", "header": False, "null_values": ["NA"]}}
    with pytest.raises(_Captured) as captured:
        runtime.run_ingest(
            workspace="ws", table="t", source="x.csv", table_version=_Artifact(tmp_path / "v"), metrics=None,
            statistics=None, **args,
        )  # fmt: skip
    assert captured.value.request.csv == CsvOptions(delimiter=";", header=False, null_values=("NA",))
    args["csv"] = {"separator": ";"}
    with pytest.raises(InvalidRequest, match=r"'csv' has unknown key\(s\) \['separator'\]"):
        runtime.run_ingest(
            workspace="ws", table="t", source="x.csv", table_version=_Artifact(tmp_path / "v"), metrics=None,
            statistics=None, **args,
        )  # fmt: skip


def test_ingest_stream_request_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _capture(monkeypatch)
    with pytest.raises(_Captured) as captured:
        runtime.run_ingest_stream(store="", bootstrap="b:9092", topics="tx", metrics=None, **_defaults("ingest-stream"))
    request = captured.value.request
    assert request.until_caught_up is True
    _assert_core_defaults("ingest-stream", request, {"store", "bootstrap", "topics", "consumer_config"})
    assert not request.consumer_config


def test_deploy_and_verify_request_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _capture(monkeypatch)
    monkeypatch.delenv("OPENFEAT_TOKEN", raising=False)
    deploy_args = {k: v for k, v in _defaults("deploy").items() if k != "tables"}
    with pytest.raises(_Captured) as captured:
        runtime.run_deploy(
            name="d", sql="SELECT 1", url="http://127.0.0.1:1", token="", tables=[],
            table_versions={}, deployment=_Artifact(tmp_path / "d"), metrics=None,
            **{k: v for k, v in deploy_args.items() if k != "url"},
        )  # fmt: skip
    _assert_core_defaults("deploy", captured.value.request, {"name", "sql", "url"})
    with pytest.raises(_Captured) as captured:
        runtime.run_verify(
            name="d", url="http://127.0.0.1:1", token="", probe_table=None, metrics=None, report=None,
            **{k: v for k, v in _defaults("verify").items() if k != "url"},
        )  # fmt: skip
    _assert_core_defaults("verify", captured.value.request, {"name", "url"})


def test_monitor_request_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    import openfeat_core.tasks as tasks

    monkeypatch.delenv("OPENFEAT_TOKEN", raising=False)

    def capture(request: Any) -> Any:
        raise _Captured(request)

    monkeypatch.setattr(tasks, "monitor", capture)
    from kubeflow_components.monitor_runtime import run_monitor

    with pytest.raises(_Captured) as captured:
        run_monitor(name="d", metrics=None, **{**_defaults("monitor"), "url": "http://127.0.0.1:1"})
    _assert_core_defaults("monitor", captured.value.request, {"name", "url"})


def test_export_options_reach_the_file(tmp_path: Path) -> None:
    """The export options the component gained write what they say (a real export of a real table version)."""
    import pyarrow as pa
    from kfp.dsl import Dataset, Metrics

    from kubeflow_components import WorkspaceTable, export
    from openfeat_core.errors import DataError
    from openfeat_core.tasks import IngestRequest, ingest

    ws = str(tmp_path / "ws")
    data = pa.table({"uid": [1, 2], "ts": [0, 1000], "name": ["a", None]})
    version = ingest(IngestRequest(data, "t", ws, schema="uid bigint, ts timestamp, name string")).version
    table = WorkspaceTable(name="t", uri=ws, metadata={})
    table.metadata.update(
        {"openfeat_type": "openfeat.WorkspaceTable", "workspace": ws, "table": "t", "version": version}
    )
    out = tmp_path / "out.txt"

    def run(**options: Any) -> dict:
        result: dict = export.python_func(
            table=table,
            path=str(out),
            training_set=Dataset(name="d", uri=str(tmp_path / "d"), metadata={}),
            metrics=Metrics(name="m", uri=str(tmp_path / "m"), metadata={}),
            **options,
        )
        return result

    run(format="csv", null_value="NULL", quote="", timestamp_format="epoch_ms", delimiter=";")
    assert out.read_text().splitlines() == ["uid;ts;name", "1;0;a", "2;1000;NULL"]
    with pytest.raises(DataError, match="exists"):
        run(format="csv", mode="error_if_exists", header=False)
