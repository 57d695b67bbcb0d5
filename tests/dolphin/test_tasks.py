"""OpenFeat's DolphinScheduler task classes: what they define (a Shell task, its script and OUT parameters) and
which arguments they refuse when the workflow is defined.

Every task construction asks DS's Python gateway for a task code; as pydolphinscheduler's own tests do, the gateway
call is patched (a distinct code per task), so nothing here needs a DS server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.exceptions import PyDSTaskNoFoundException
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.tasks import (
    OpenFeatCompute,
    OpenFeatDeploy,
    OpenFeatExport,
    OpenFeatIngest,
    OpenFeatTask,
    OpenFeatVerify,
)
from dolphin_tasks.yaml_workflow import load_workflow
from openfeat_core.choices import EXPORT_FORMATS, ON_ERROR, WRITE_MODES
from openfeat_core.tasks.arguments import Arguments
from openfeat_core.tasks.base import InvalidRequest

#: The lines every rendered script starts with: the DS built-ins the runner reads, exported.
HEADER = (
    "export DS_WORKFLOW_INSTANCE_ID='${system.workflow.instance.id}'\n"
    "export DS_WORKFLOW_DEFINITION_NAME='${system.workflow.definition.name}'\n"
    "export DS_TASK_INSTANCE_ID='${system.task.instance.id}'\n"
    "export DS_TASK_EXECUTE_PATH='${system.task.execute.path}'\n"
)


@pytest.fixture(autouse=True)
def task_codes() -> Iterator[None]:
    """DS's gateway hands out task codes; here a counter does (distinct codes, version 1)."""
    codes = itertools.count(1)
    with patch("pydolphinscheduler.core.task.Task.gen_code_and_version", side_effect=lambda: (next(codes), 1)):
        yield


def script(task: str, command: str, sql: str | None = None) -> str:
    """The script of an OpenFeat task: header, then ``exec`` of the runner (and the SQL heredoc)."""
    head = f"# OpenFeat {task} (dolphin_tasks): edit the workflow's definition, not this script.\n{HEADER}"
    if sql is None:
        return f"{head}exec {command}\n"
    return f"{head}exec {command} <<'OPENFEAT_SQL'\n{sql}\nOPENFEAT_SQL\n"


def out_params(prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"prop": f"{prefix}_{f}", "direct": "OUT", "type": "VARCHAR", "value": ""} for f in fields]


def definition(make: Callable[[], OpenFeatTask]) -> dict[str, Any]:
    """The single task definition of a workflow holding the task ``make`` creates (as DS receives it)."""
    with Workflow("wf") as workflow:
        make()
    [task] = workflow.get_define()["taskDefinitionJson"]
    return dict(task)


DEFINITIONS = [
    pytest.param(
        lambda: OpenFeatIngest(
            "ingest flights",
            source=["/data/raw/${system.biz.date}/*.csv", "extra.csv"],
            table="flights",
            mode="append",
            on_error="skip",
            header=False,
            null_values=["", "NA"],
            workspace="/srv/ws",
        ),
        script(
            "ingest",
            "openfeat-dolphinscheduler run ingest --name 'ingest flights' --output-prefix ingest_flights -- "
            "'/data/raw/${system.biz.date}/*.csv' extra.csv --table flights --on-error skip --mode append "
            "--no-header --null-value '' --null-value NA --workspace /srv/ws",
        ),
        out_params("ingest_flights", ("table", "version", "rows", "bad_rows", "reused")),
        id="ingest",
    ),
    pytest.param(
        lambda: OpenFeatCompute(
            "features",
            sql="SELECT id, v * 2 AS w\nFROM t\nWHERE d = '${system.biz.date}'\n",
            table="feats",
            inputs={"t": "${ingest_t_version}", "u": 3, "w": None},
            timezone="Europe/Paris",
            engine="spark",
        ),
        script(
            "compute",
            "openfeat-dolphinscheduler run compute --name features --output-prefix features -- - --output feats "
            "--input 't=${ingest_t_version}' --input u=3 --input w --timezone Europe/Paris --engine spark",
            "SELECT id, v * 2 AS w\nFROM t\nWHERE d = '${system.biz.date}'",
        ),
        out_params("features", ("table", "version", "rows", "reused")),
        id="compute",
    ),
    pytest.param(
        lambda: OpenFeatExport(
            "export",
            table="feats",
            path="/data/train/${system.biz.date}.libsvm",
            version="${features_version}",
            format="libsvm",
            label_column="y",
            features=["a", "b"],
            on_null_label="skip",
            buckets=16,
            output_prefix="train",
        ),
        script(
            "export",
            "openfeat-dolphinscheduler run export --name export --output-prefix train -- feats "
            "--path '/data/train/${system.biz.date}.libsvm' --version '${features_version}' --buckets 16 "
            "--format libsvm --skip-null-labels --label y --feature a --feature b",
        ),
        out_params("train", ("table", "version", "path", "format", "rows", "reused")),
        id="export",
    ),
    pytest.param(
        lambda: OpenFeatDeploy(
            "deploy",
            deployment="flights",
            sql="SELECT id FROM t",
            store="/srv/store",
            create_store=True,
            tables={"t": "${ingest_t_version}"},
            timeout=30,
        ),
        script(
            "deploy",
            "openfeat-dolphinscheduler run deploy --name deploy --output-prefix deploy -- flights - "
            "--store /srv/store --create-store --load 't=${ingest_t_version}' --timeout 30.0",
            "SELECT id FROM t",
        ),
        out_params("deploy", ("name", "version", "new_version")),
        id="deploy",
    ),
    pytest.param(
        lambda: OpenFeatVerify(
            "verify",
            deployment="flights",
            url="http://127.0.0.1:8080",
            probe_table="t",
            probe_version="${ingest_t_version}",
            probe_rows=5,
            min_requests=0,
            fail_on_mismatch=False,
        ),
        script(
            "verify",
            "openfeat-dolphinscheduler run verify --name verify --output-prefix verify -- flights "
            "--url http://127.0.0.1:8080 --probe 't=${ingest_t_version}' --probe-rows 5 --min-requests 0 "
            "--no-fail-on-mismatch",
        ),
        out_params("verify", ("deployment", "consistent", "requests", "rows")),
        id="verify",
    ),
]


@pytest.mark.parametrize(("make", "raw_script", "local_params"), DEFINITIONS)
def test_definition(make: Callable[[], OpenFeatTask], raw_script: str, local_params: list[dict[str, str]]) -> None:
    task = definition(make)
    assert task["taskType"] == "SHELL"
    assert task["taskParams"]["rawScript"] == raw_script
    assert task["taskParams"]["localParams"] == local_params


def test_ds_settings_and_user_out_params_are_kept() -> None:
    task = definition(
        lambda: OpenFeatIngest(
            "i", source="a.csv", table="t", fail_retry_times=3, worker_group="gpu", output_params={"extra": "x"}
        )
    )
    assert (task["failRetryTimes"], task["workerGroup"]) == (3, "gpu")
    assert task["taskParams"]["localParams"][-1] == {"prop": "extra", "direct": "OUT", "type": "VARCHAR", "value": "x"}


#: (task, its arguments, the core check that must give the same message) for arguments wrong at definition time.
ERRORS = [
    pytest.param(
        OpenFeatIngest,
        {"source": "a.csv", "table": "t", "mode": "bogus"},
        lambda a: a.choice("mode", "bogus", WRITE_MODES),
        id="ingest-mode",
    ),
    pytest.param(
        OpenFeatIngest,
        {"source": "a.csv", "table": "t", "on_error": "ignore"},
        lambda a: a.choice("on_error", "ignore", ON_ERROR),
        id="ingest-on_error",
    ),
    pytest.param(
        OpenFeatIngest, {"source": [], "table": "t"}, lambda a: a.texts("source", [], single=True), id="ingest-source"
    ),
    pytest.param(OpenFeatIngest, {"source": "a.csv", "table": " "}, lambda a: a.text("table", " "), id="ingest-table"),
    pytest.param(
        OpenFeatIngest,
        {"source": "a.csv", "table": "t", "header": "maybe"},
        lambda a: a.flag("header", "maybe"),
        id="ingest-header",
    ),
    pytest.param(OpenFeatCompute, {"sql": "", "table": "f"}, lambda a: a.text("sql", ""), id="compute-sql"),
    pytest.param(
        OpenFeatCompute,
        {"sql": "SELECT 1", "table": "f", "inputs": {"t": 0}},
        lambda a: a.integer("inputs['t']", 0, minimum=1),
        id="compute-inputs",
    ),
    pytest.param(
        OpenFeatExport,
        {"table": "t", "path": "o.csv", "version": "latest"},
        lambda a: a.integer("version", "latest", minimum=1),
        id="export-version",
    ),
    pytest.param(
        OpenFeatExport,
        {"table": "t", "path": "o.csv", "format": "xls"},
        lambda a: a.choice("format", "xls", EXPORT_FORMATS),
        id="export-format",
    ),
    pytest.param(
        OpenFeatExport,
        {"table": "t", "path": "o.csv", "buckets": 0},
        lambda a: a.integer("buckets", 0, minimum=1),
        id="export-buckets",
    ),
    pytest.param(
        OpenFeatDeploy,
        {"deployment": "d", "sql": "SELECT 1", "store": "s", "timeout": 0},
        lambda a: a.number("timeout", 0, minimum=0.001),
        id="deploy-timeout",
    ),
    pytest.param(
        OpenFeatDeploy,
        {"deployment": "d", "sql": "SELECT 1", "store": "s", "create_store": "sometimes"},
        lambda a: a.flag("create_store", "sometimes"),
        id="deploy-create_store",
    ),
    pytest.param(
        OpenFeatVerify,
        {"deployment": "d", "store": "s", "probe_table": "t", "probe_rows": 0},
        lambda a: a.integer("probe_rows", 0, minimum=1),
        id="verify-probe_rows",
    ),
    pytest.param(
        OpenFeatVerify,
        {"deployment": "d", "store": "s", "min_requests": -1},
        lambda a: a.integer("min_requests", -1, minimum=0),
        id="verify-min_requests",
    ),
    pytest.param(
        OpenFeatVerify, {"deployment": 7, "store": "s"}, lambda a: a.text("deployment", 7), id="verify-deployment"
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "core_check"), ERRORS)
def test_argument_errors_are_the_core_checks(
    cls: type[OpenFeatTask], kwargs: dict[str, Any], core_check: Callable[[Arguments], Any]
) -> None:
    where = f"{cls.__name__}(name='x')"
    with pytest.raises(InvalidRequest) as raised:
        cls("x", **kwargs)
    message = str(raised.value)
    assert message.startswith(where + ": argument ")
    # The Airflow operator's message: the same core check, naming the operator instead.
    airflow_where = "OpenFeatSomeOperator(task_id='x')"
    with pytest.raises(InvalidRequest) as airflow:
        core_check(Arguments(airflow_where))
    assert message.removeprefix(where) == str(airflow.value).removeprefix(airflow_where)


def test_argument_error_message_text() -> None:
    with pytest.raises(InvalidRequest) as raised:
        OpenFeatIngest("x", source="a.csv", table="t", mode="bogus")
    assert str(raised.value) == (
        "OpenFeatIngest(name='x'): argument 'mode' must be one of "
        + ", ".join(map(repr, WRITE_MODES))
        + ", got 'bogus'"
    )


#: (task, arguments holding DS parameters, what the script's exec line holds verbatim).
PARAMETERS = [
    pytest.param(
        OpenFeatIngest,
        {"source": "${src}", "table": "${tbl}", "mode": "${mode}", "timestamp_unit": "$[yyyyMMdd-1]"},
        "'${src}' --table '${tbl}' --mode '${mode}' --timestamp-unit '$[yyyyMMdd-1]'",
        id="ingest",
    ),
    pytest.param(
        OpenFeatCompute,
        {"sql": "SELECT 1", "table": "f_${system.biz.date}", "inputs": {"t": "${v}"}, "timezone": "${tz}"},
        "--output 'f_${system.biz.date}' --input 't=${v}' --timezone '${tz}'",
        id="compute",
    ),
    pytest.param(
        OpenFeatExport,
        {"table": "t", "path": "o.csv", "version": "${v}", "format": "${fmt}", "buckets": "$[yyyyMMdd]"},
        "--version '${v}' --buckets '$[yyyyMMdd]' --format '${fmt}'",
        id="export",
    ),
    pytest.param(
        OpenFeatDeploy,
        {"deployment": "d", "sql": "SELECT 1", "url": "${svc}", "timeout": "${t}"},
        "--url '${svc}' --timeout '${t}'",
        id="deploy",
    ),
    pytest.param(
        OpenFeatVerify,
        {"deployment": "d", "store": "s", "probe_table": "t", "probe_rows": "${n}", "min_requests": "${m}"},
        "--probe-rows '${n}' --min-requests '${m}'",
        id="verify",
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "verbatim"), PARAMETERS)
def test_ds_parameters_are_checked_when_the_task_runs(
    cls: type[OpenFeatTask], kwargs: dict[str, Any], verbatim: str
) -> None:
    task = definition(lambda: cls("x", **kwargs))
    assert verbatim in task["taskParams"]["rawScript"]


@pytest.mark.parametrize(
    ("cls", "kwargs", "argument"),
    [
        pytest.param(OpenFeatIngest, {"source": "a", "table": "t", "header": "${h}"}, "header", id="ingest-header"),
        pytest.param(OpenFeatExport, {"table": "t", "path": "p", "header": "${h}"}, "header", id="export-header"),
        pytest.param(
            OpenFeatExport, {"table": "t", "path": "p", "on_null_label": "${n}"}, "on_null_label", id="export-label"
        ),
        pytest.param(
            OpenFeatDeploy,
            {"deployment": "d", "sql": "SELECT 1", "store": "s", "create_store": "${c}"},
            "create_store",
            id="deploy-create_store",
        ),
        pytest.param(
            OpenFeatVerify,
            {"deployment": "d", "store": "s", "fail_on_mismatch": "${f}"},
            "fail_on_mismatch",
            id="verify-fail_on_mismatch",
        ),
    ],
)
def test_switches_cannot_be_ds_parameters(cls: type[OpenFeatTask], kwargs: dict[str, Any], argument: str) -> None:
    """A switch becomes an option or its absence when the script is written: a DS parameter would be dropped."""
    with pytest.raises(InvalidRequest, match=f"argument '{argument}' must be "):
        cls("x", **kwargs)


@pytest.mark.parametrize(
    ("name", "output_prefix", "expected"),
    [
        ("ingest flights-2", None, "ingest_flights_2"),
        ("i", "my_prefix", "my_prefix"),
        ("i", "_x9", "_x9"),
        ("i", "  ", "i"),  # blank: the default, as a blank template renders
    ],
)
def test_output_prefix(name: str, output_prefix: str | None, expected: str) -> None:
    task = OpenFeatIngest(name, source="a.csv", table="t", output_prefix=output_prefix)
    assert task.output_prefix == expected
    assert f"--output-prefix {expected} --" in task.task_params["rawScript"]


@pytest.mark.parametrize(
    ("name", "output_prefix", "shown"),
    [("i", "9lives", "'9lives'"), ("i", "a-b", "'a-b'"), ("2nd", None, "'2nd'"), ("i", "é", "'é'")],
)
def test_bad_output_prefix(name: str, output_prefix: str | None, shown: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        OpenFeatIngest(name, source="a.csv", table="t", output_prefix=output_prefix)
    assert str(raised.value) == (
        f"OpenFeatIngest(name={name!r}): argument 'output_prefix' must be letters, digits and _, not starting with a "
        f"digit; got {shown}"
    )


@pytest.mark.parametrize("cls", [OpenFeatDeploy, OpenFeatVerify])
def test_store_or_url(cls: type[OpenFeatTask]) -> None:
    given: dict[str, Any] = {"deployment": "d"} | ({"sql": "SELECT 1"} if cls is OpenFeatDeploy else {})
    with pytest.raises(InvalidRequest) as both:
        cls("x", **given, store="s", url="http://h:1")
    assert str(both.value) == (
        f"{cls.__name__}(name='x'): argument 'store' and argument 'url' ('http://h:1') both name a target; give one"
    )
    with pytest.raises(InvalidRequest) as neither:
        cls("x", **given)
    assert str(neither.value) == (
        f"{cls.__name__}(name='x'): argument 'store' or argument 'url' is required: an online store directory or a "
        "service URL"
    )


def test_probe_version_needs_probe_table() -> None:
    with pytest.raises(InvalidRequest) as raised:
        OpenFeatVerify("x", deployment="d", store="s", probe_version=2)
    assert str(raised.value) == "OpenFeatVerify(name='x'): argument 'probe_version' needs argument 'probe_table'"


def test_table_versions_parameter_must_be_in_the_version() -> None:
    with pytest.raises(InvalidRequest, match="argument 'inputs' must be a mapping"):
        OpenFeatCompute("x", sql="SELECT 1", table="f", inputs="${tables}")


@pytest.mark.parametrize("cls", [OpenFeatCompute, OpenFeatDeploy])
def test_sql_with_the_heredoc_end_is_refused(cls: type[OpenFeatTask]) -> None:
    sql = "SELECT 1\n  OPENFEAT_SQL  \nFROM t"
    given: dict[str, Any] = {"table": "f"} if cls is OpenFeatCompute else {"deployment": "d", "store": "s"}
    with pytest.raises(ValueError, match="the SQL holds a line 'OPENFEAT_SQL'"):
        cls("x", sql=sql, **given)
    # Inside a line it ends nothing.
    assert "SELECT 'OPENFEAT_SQL'\n" in cls("x", sql="SELECT 'OPENFEAT_SQL'", **given).task_params["rawScript"]


YAML = """\
workflow:
  name: flights
  run: true

tasks:
  - name: ingest t
    task_type: OpenFeatIngest
    source: /data/${system.biz.date}/*.csv
    table: t
    mode: append

  - name: features
    task_type: openfeatcompute
    sql: $FILE{"features.sql"}
    table: f
    inputs:
      t: ${ingest_t_version}
    deps: [ingest t]

  - name: announce
    task_type: Shell
    command: echo ${features_version}
    deps: [features]
"""


def normalised(workflow: Workflow) -> dict[str, Any]:
    """A workflow's definition with task codes replaced by task names (codes depend on the order of creation)."""
    define = workflow.get_define()
    names = {t["code"]: t["name"] for t in define["taskDefinitionJson"]} | {0: None}
    return {
        "name": define["name"],
        "tasks": sorted(({**t, "code": t["name"]} for t in define["taskDefinitionJson"]), key=lambda t: t["name"]),
        "relations": sorted(
            (names[r["preTaskCode"]] or "", names[r["postTaskCode"]]) for r in define["taskRelationJson"]
        ),
    }


def test_yaml_is_the_python_definition(tmp_path: Path) -> None:
    (tmp_path / "features.sql").write_text("SELECT id, v * 2 AS w\nFROM t\n", encoding="utf-8")
    (tmp_path / "flights.yaml").write_text(YAML, encoding="utf-8")
    from_yaml, run = load_workflow(str(tmp_path / "flights.yaml"))
    assert run is True
    with Workflow("flights") as from_python:
        ingest = OpenFeatIngest("ingest t", source="/data/${system.biz.date}/*.csv", table="t", mode="append")
        features = OpenFeatCompute(
            "features", sql="SELECT id, v * 2 AS w\nFROM t\n", table="f", inputs={"t": "${ingest_t_version}"}
        )
        announce = Shell("announce", "echo ${features_version}")
        ingest >> features >> announce
    assert normalised(from_yaml) == normalised(from_python)
    assert normalised(from_yaml)["relations"] == [("", "ingest t"), ("features", "announce"), ("ingest t", "features")]


def test_yaml_unknown_task_type(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "workflow:\n  name: w\ntasks:\n  - name: a\n    task_type: OpenFeatTrain\n    table: t\n", encoding="utf-8"
    )
    with pytest.raises(PyDSTaskNoFoundException, match="OpenFeatTrain"):
        load_workflow(str(tmp_path / "w.yaml"))


def test_yaml_deps_on_a_missing_task(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "workflow:\n  name: w\ntasks:\n  - name: a\n    task_type: Shell\n    command: 'true'\n    deps: [zz]\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="task 'a': deps names 'zz', which is not a task above"):
        load_workflow(str(tmp_path / "w.yaml"))
