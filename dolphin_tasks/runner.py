"""What a DolphinScheduler worker runs for an OpenFeat task: ``openfeat-dolphinscheduler run TASK -- ARGS...``.

The runner needs only OpenFeat on the worker (not pydolphinscheduler). It

1. runs ``openfeat TASK ARGS --json`` with this interpreter (stdin passes through: the SQL heredoc), its stderr
   going to the task log as it is (a bad SQL's ``error: line L, column C: ...``);
2. prints the result, then one ``${setValue(<prefix>_<field>=<value>)}`` line per key field of the result
   (:attr:`~openfeat_core.tasks.TaskResult.key_fields`): DS turns those into the task's OUT parameters;
3. exits with ``openfeat``'s exit code, whose classification DS cannot see otherwise: 75 is transient (a retry may
   succeed); 1 and 2 are terminal. DS retries any failed task that has retries left, so a terminal failure is
   recorded (a marker per workflow instance and task) and a retry of it fails at once with the same message
   instead of running the task again.

The MLflow hook groups a workflow instance's tasks under one parent run keyed by ``DS_WORKFLOW_INSTANCE_ID``. DS
3.2 substitutes ``${system.workflow.instance.id}`` in the script; DS 3.1 has no such built-in, and the runner takes
the id from the task's execution directory instead (``.../<workflow instance id>/<task instance id>``, DS's layout).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openfeat_core.errors import EXIT_FAILED, EXIT_TRANSIENT, EXIT_USAGE
from openfeat_core.tasks import RESULT_CLASSES

__all__ = ["format_set_values", "run_task", "workflow_instance_id"]

#: How long a task waits before it exits under DS, so that the worker reads its last lines: the error's into the task
#: log, the ``${setValue(...)}`` lines into the OUT parameters.
_LOG_FLUSH_SECONDS = 1.5
#: The directory of a workflow definition's version in a DS task's execution path: ``<code>_<version>``.
_DEFINITION_DIR = re.compile(r"^\d+_\d+$")
#: An unsubstituted DS parameter reference (a built-in this DS version does not have).
_UNSUBSTITUTED = re.compile(r"^\$\{[^}]*\}$")


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return None if not value or _UNSUBSTITUTED.match(value) else value


def workflow_instance_id(environ: Mapping[str, str], cwd: str) -> str | None:
    """The DS workflow instance id: ``$DS_WORKFLOW_INSTANCE_ID``, else from the task's execution directory
    (``$DS_TASK_EXECUTE_PATH``, else ``cwd``), whose layout is DS's
    ``.../<definition code>_<version>/<workflow instance id>/<task instance id>``."""
    found = _env(environ, "DS_WORKFLOW_INSTANCE_ID")
    if found is not None:
        return found
    task_instance = _env(environ, "DS_TASK_INSTANCE_ID")
    path = Path(_env(environ, "DS_TASK_EXECUTE_PATH") or cwd)
    if task_instance is not None and path.name != task_instance:
        return None
    if path.name.isdigit() and path.parent.name.isdigit() and _DEFINITION_DIR.match(path.parent.parent.name):
        return path.parent.name
    return None


def format_set_values(prefix: str, values: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The ``${setValue(name=value)}`` lines for ``values``, and warnings for values DS cannot carry.

    DS parses ``[$#]\\{setValue\\(([^)]*)\\)}``: a value cannot hold ``)`` or a line break. Booleans are written
    ``true`` / ``false`` (what a Switch condition compares), None as an empty value.
    """
    lines: list[str] = []
    warnings: list[str] = []
    for field, value in values.items():
        text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
        if ")" in text or "\n" in text or "\r" in text:
            warnings.append(f"OUT parameter {prefix}_{field} not set: DS cannot carry its value {text!r}")
            continue
        lines.append("${setValue(" + f"{prefix}_{field}={text}" + ")}")
    return lines, warnings


def _marker(environ: Mapping[str, str], cwd: str, name: str, arguments: Sequence[str]) -> Path | None:
    """Where a terminal failure of this task in this workflow instance is recorded (None: instance unknown)."""
    instance = workflow_instance_id(environ, cwd)
    if instance is None:
        return None
    key = hashlib.sha256(json.dumps([instance, name, *arguments]).encode()).hexdigest()[:32]
    return Path(tempfile.gettempdir()) / "openfeat-dolphinscheduler" / f"{key}.terminal"


def run_task(
    task: str,
    name: str,
    prefix: str,
    arguments: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> int:
    """Run ``openfeat TASK ARGUMENTS --json`` as a DS task (see the module docstring); returns the exit code."""
    env = dict(os.environ if environ is None else environ)
    here = cwd or os.getcwd()
    result_class = RESULT_CLASSES.get(task)
    if result_class is None:
        print(f"error: unknown OpenFeat task {task!r}; one of {', '.join(RESULT_CLASSES)}", file=sys.stderr)
        return EXIT_USAGE
    instance = workflow_instance_id(env, here)
    for variable in ("DS_WORKFLOW_INSTANCE_ID", "DS_WORKFLOW_DEFINITION_NAME", "DS_TASK_INSTANCE_ID"):
        if _env(env, variable) is None:  # a built-in this DS version lacks: not an id
            env.pop(variable, None)
    if instance is not None:
        env["DS_WORKFLOW_INSTANCE_ID"] = instance
    marker = _marker(env, here, name, arguments)
    if marker is not None and marker.exists():
        print(
            f"error: not run again: an earlier attempt of task {name!r} in this workflow instance failed terminally "
            f"(a retry cannot succeed): {marker.read_text(encoding='utf-8').strip()}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    command = [sys.executable, "-c", "from openfeat_core.cli import main; main()", task, *arguments, "--json"]
    print(f"OpenFeat {task} (task {name!r}, workflow instance {instance or 'unknown'})", flush=True)
    done = subprocess.run(command, capture_output=True, env=env, cwd=here, check=False)
    stderr = done.stderr.decode("utf-8", "replace")
    sys.stderr.write(stderr)
    sys.stderr.flush()
    stdout = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        if stdout:  # verify prints its report before failing on mismatches
            print(stdout, flush=True)
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        reason = errors[-1] if errors else f"exit code {done.returncode}"
        if done.returncode == EXIT_TRANSIENT:
            print(
                f"OpenFeat {task} failed transiently (exit {EXIT_TRANSIENT}), DS retries it if it has retries: {reason}"
            )
        else:
            print(f"OpenFeat {task} failed (exit {done.returncode}), terminally: a retry fails the same way: {reason}")
            if marker is not None and done.returncode in (EXIT_FAILED, EXIT_USAGE):
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(reason + "\n", encoding="utf-8")
        sys.stdout.flush()
        if instance is not None:
            # DS 3.1's worker buffers a task's output and writes it to the task log at most every second, from a
            # thread that stops once the process has exited and the task is finalized: the last lines, the error's
            # among them, would be lost. Wait for one flush.
            time.sleep(_LOG_FLUSH_SECONDS)
        return done.returncode
    result = result_class.from_dict(json.loads(stdout))
    print(stdout.strip(), flush=True)  # the task's result, as openfeat printed it
    lines, warnings = format_set_values(prefix, result.key_values())
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("\n".join(lines), flush=True)
    if instance is not None and lines:
        # DS 3.1's worker parses ${setValue(...)} lines in a thread of its own and reads the OUT parameters as soon as
        # the process has exited, without waiting for that thread: lines it has not read by then are lost (the task
        # succeeds with empty OUT parameters; apache/dolphinscheduler#16532). Stay alive until it has read them.
        time.sleep(_LOG_FLUSH_SECONDS)
    return 0
