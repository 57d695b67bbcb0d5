"""The rendered scripts, run the way a DolphinScheduler worker runs a Shell task, and the runner's helpers.

A worker substitutes DS parameters in the script's text (``${name}``; an unknown one stays as it is), writes it into
the task's execution directory (``.../<workflow instance id>/<task instance id>``), runs it with bash there, and
reads the ``${setValue(k=v)}`` lines of its output (DS's regex) as the task's OUT parameters. :class:`Worker` does
exactly that, against a real workspace in a temporary directory; only ``bash`` and this virtualenv's
``openfeat-dolphinscheduler`` run.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from dolphin_tasks.cli import main
from dolphin_tasks.runner import format_set_values, workflow_instance_id
from dolphin_tasks.tasks import OpenFeatCompute, OpenFeatIngest, OpenFeatTask, OpenFeatVerify

#: How DS finds OUT parameters in a task's output.
SET_VALUE = re.compile(r"[\$#]\{setValue\(([^)]*)\)}")
#: A ``${name}`` parameter reference, as DS substitutes them in a Shell task's script.
PARAMETER = re.compile(r"\$\{([^}]+)\}")


@pytest.fixture(autouse=True)
def task_codes() -> Iterator[None]:
    """DS's gateway hands out task codes; here a counter does (distinct codes, version 1)."""
    codes = itertools.count(1)
    with patch("pydolphinscheduler.core.task.Task.gen_code_and_version", side_effect=lambda: (next(codes), 1)):
        yield


@dataclass
class Outcome:
    """A task instance's end: exit code, log, OUT parameters."""

    returncode: int
    stdout: str
    stderr: str
    out: dict[str, str]


@dataclass
class Worker:
    """A DS worker's way of running a Shell task, in ``root``.

    Args:
        root: the worker's base directory (execution directories, and ``TMPDIR``: the runner's markers).
        has_instance_id: whether this DS version has the ``${system.workflow.instance.id}`` built-in (3.2 does,
            3.1 does not: the reference is left as it is).
    """

    root: Path
    has_instance_id: bool = True

    @property
    def markers(self) -> list[Path]:
        return sorted((self.root / "tmp").glob("openfeat-dolphinscheduler/*.terminal"))

    def run(
        self, task: OpenFeatTask, workflow_instance: int, task_instance: int, params: Mapping[str, str] | None = None
    ) -> Outcome:
        """Run ``task`` as task instance ``task_instance`` of ``workflow_instance``, ``params`` substituted."""
        execute_path = self.root / "exec/process/default/11/22_1" / str(workflow_instance) / str(task_instance)
        execute_path.mkdir(parents=True)
        builtins = {
            "system.workflow.definition.name": "wf",
            "system.task.instance.id": str(task_instance),
            "system.task.execute.path": str(execute_path),
            **({"system.workflow.instance.id": str(workflow_instance)} if self.has_instance_id else {}),
        }
        values = {**builtins, **(params or {})}
        raw_script = task.task_params["rawScript"]
        script = PARAMETER.sub(lambda m: values.get(m.group(1), m.group(0)), raw_script)
        path = execute_path / f"{workflow_instance}_{task_instance}.sh"
        path.write_text(script, encoding="utf-8")
        (self.root / "tmp").mkdir(exist_ok=True)
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "HOME": str(self.root),
            "TMPDIR": str(self.root / "tmp"),
            "LANG": "C.UTF-8",
        }
        done = subprocess.run(
            ["bash", str(path)], cwd=execute_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        out = dict(m.group(1).split("=", 1) for m in SET_VALUE.finditer(done.stdout))
        return Outcome(done.returncode, done.stdout, done.stderr, out)


@pytest.fixture
def worker(tmp_path: Path) -> Worker:
    return Worker(tmp_path / "worker")


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "t.csv"
    path.parent.mkdir()
    path.write_text("id,v\n1,2.5\n2,3.5\n", encoding="utf-8")
    return path


def test_ingest_then_compute(tmp_path: Path, worker: Worker, csv: Path) -> None:
    workspace = str(tmp_path / "ws")
    ingest = OpenFeatIngest("ingest t", source=str(csv), table="t", workspace=workspace)
    compute = OpenFeatCompute(
        "features", sql="SELECT id, v * 2 AS w\nFROM t\n", table="f", inputs={"t": "${ingest_t_version}"},
        workspace=workspace,
    )  # fmt: skip

    first = worker.run(ingest, 7, 70)
    assert first.returncode == 0, first.stderr
    assert "OpenFeat ingest (task 'ingest t', workflow instance 7)" in first.stdout
    assert first.out == {
        "ingest_t_table": "t",
        "ingest_t_version": "1",
        "ingest_t_rows": "2",
        "ingest_t_bad_rows": "0",
        "ingest_t_reused": "false",
    }
    second = worker.run(compute, 7, 71, first.out)
    assert second.returncode == 0, second.stderr
    assert second.out == {
        "features_table": "f",
        "features_version": "1",
        "features_rows": "2",
        "features_reused": "false",
    }

    # The next workflow instance over the same data: the same versions, reused.
    again = worker.run(ingest, 8, 80)
    assert again.out == {**first.out, "ingest_t_reused": "true"}
    again_compute = worker.run(compute, 8, 81, again.out)
    assert again_compute.out == {**second.out, "features_reused": "true"}
    assert worker.markers == []


@pytest.mark.parametrize("has_instance_id", [True, False], ids=["ds-3.2", "ds-3.1"])
def test_terminal_failure_is_not_run_again(tmp_path: Path, has_instance_id: bool) -> None:
    worker = Worker(tmp_path / "worker", has_instance_id=has_instance_id)
    compute = OpenFeatCompute("features", sql="SELECT id\nFROM t WHERE (\n", table="f", workspace=str(tmp_path / "ws"))

    failed = worker.run(compute, 7, 70)
    assert failed.returncode == 2
    assert "OpenFeat compute (task 'features', workflow instance 7)" in failed.stdout  # DS 3.1: from the path
    assert "error: line 2, column 14: syntax error" in failed.stderr
    assert failed.out == {}
    [marker] = worker.markers

    # DS retries the task (a new task instance of the same workflow instance): it fails at once, openfeat not run.
    retry = worker.run(compute, 7, 71)
    assert retry.returncode == 1
    assert "error: not run again: an earlier attempt of task 'features' in this workflow instance" in retry.stderr
    assert "error: line 2, column 14: syntax error" in retry.stderr  # the recorded reason
    assert "OpenFeat compute (task" not in retry.stdout  # printed only when openfeat runs
    assert worker.markers == [marker]

    # Another workflow instance does run it (and records its own failure).
    rerun = worker.run(compute, 8, 80)
    assert rerun.returncode == 2
    assert "not run again" not in rerun.stderr
    assert len(worker.markers) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_transient_failure_exits_75_and_may_be_retried(worker: Worker) -> None:
    verify = OpenFeatVerify("verify", deployment="d", url=f"http://127.0.0.1:{free_port()}")
    failed = worker.run(verify, 7, 70)
    assert failed.returncode == 75
    assert "failed transiently (exit 75)" in failed.stdout
    assert worker.markers == []
    retry = worker.run(verify, 7, 71)
    assert retry.returncode == 75
    assert "not run again" not in retry.stderr


@pytest.mark.parametrize(
    ("argv", "arguments"),
    [
        pytest.param(["--", "a.csv", "--table", "t"], ["a.csv", "--table", "t"], id="options-after-dashes"),
        pytest.param(["--", "a.csv", "--", "-x"], ["a.csv", "--", "-x"], id="later-dashes-are-openfeat-s"),
        pytest.param([], [], id="no-arguments"),
    ],
)
def test_run_command_line(argv: list[str], arguments: list[str]) -> None:
    """What a rendered script runs: run's own options before ``--``, the openfeat command's after it."""
    with patch("dolphin_tasks.cli.run_task", return_value=0) as run_task, pytest.raises(SystemExit) as exited:
        main(["run", "ingest", "--name", "ingest t", "--output-prefix", "ingest_t", *argv])
    assert exited.value.code == 0
    run_task.assert_called_once_with("ingest", "ingest t", "ingest_t", arguments)


def test_run_command_line_needs_the_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    with patch("dolphin_tasks.cli.run_task") as run_task, pytest.raises(SystemExit) as exited:
        main(["run", "ingest", "--name", "i", "--output-prefix", "i", "a.csv"])
    assert exited.value.code == 2
    assert "unrecognized arguments: a.csv" in capsys.readouterr().err
    run_task.assert_not_called()


UNSUBSTITUTED = "${system.workflow.instance.id}"


@pytest.mark.parametrize(
    ("environ", "cwd", "expected"),
    [
        pytest.param({"DS_WORKFLOW_INSTANCE_ID": "42"}, "/x/11_1/7/9", "42", id="env"),
        pytest.param({"DS_WORKFLOW_INSTANCE_ID": " 42 "}, "/x", "42", id="env-stripped"),
        pytest.param(
            {"DS_WORKFLOW_INSTANCE_ID": UNSUBSTITUTED, "DS_TASK_INSTANCE_ID": "9"},
            "/x/11_1/7/9",
            "7",
            id="unsubstituted",
        ),
        pytest.param({"DS_WORKFLOW_INSTANCE_ID": "", "DS_TASK_INSTANCE_ID": "9"}, "/x/11_1/7/9", "7", id="blank-env"),
        pytest.param(
            {"DS_TASK_INSTANCE_ID": "9", "DS_TASK_EXECUTE_PATH": "/e/11_1/5/9"}, "/elsewhere", "5", id="execute-path"
        ),
        pytest.param(
            {"DS_TASK_INSTANCE_ID": "9", "DS_TASK_EXECUTE_PATH": "${system.task.execute.path}"},
            "/x/11_1/7/9",
            "7",
            id="execute-path-unsubstituted",
        ),
        pytest.param(
            {"DS_TASK_INSTANCE_ID": "${system.task.instance.id}"}, "/x/11_1/7/9", "7", id="ds-3.1-no-built-ins"
        ),
        pytest.param({}, "/x/11_1/7/9", "7", id="execution-directory-only"),
        pytest.param({}, "/x/7/9", None, id="not-a-definition-directory"),
        pytest.param({}, "/home/user/work", None, id="not-an-execution-directory"),
        pytest.param({"DS_TASK_INSTANCE_ID": "8"}, "/x/11_1/7/9", None, id="other-task-instance"),
        pytest.param({"DS_TASK_INSTANCE_ID": "9"}, "/x/11_1/wf/9", None, id="parent-not-an-id"),
    ],
)
def test_workflow_instance_id(environ: dict[str, str], cwd: str, expected: str | None) -> None:
    assert workflow_instance_id(environ, cwd) == expected


@pytest.mark.parametrize(
    ("values", "lines", "warned"),
    [
        pytest.param(
            {"table": "t", "version": 3, "reused": True, "bad": False, "rows": 0},
            [
                "${setValue(p_table=t)}",
                "${setValue(p_version=3)}",
                "${setValue(p_reused=true)}",
                "${setValue(p_bad=false)}",
                "${setValue(p_rows=0)}",
            ],
            [],
            id="plain",
        ),
        pytest.param({"path": None}, ["${setValue(p_path=)}"], [], id="none-is-empty"),
        pytest.param({"path": "/a b/c=d.csv"}, ["${setValue(p_path=/a b/c=d.csv)}"], [], id="spaces-and-equals"),
        pytest.param({"path": "/out(1).csv", "rows": 2}, ["${setValue(p_rows=2)}"], ["p_path"], id="paren"),
        pytest.param({"name": "a\nb"}, [], ["p_name"], id="newline"),
        pytest.param({"name": "a\rb"}, [], ["p_name"], id="carriage-return"),
    ],
)
def test_format_set_values(values: dict[str, Any], lines: list[str], warned: list[str]) -> None:
    got, warnings = format_set_values("p", values)
    assert got == lines
    assert [w.split()[2] for w in warnings] == warned
    assert all("DS cannot carry its value" in w for w in warnings)
    # What DS reads back from those lines.
    assert [m.group(1) for m in SET_VALUE.finditer("\n".join(got))] == [line[11:-2] for line in lines]
