"""Workflow YAML with OpenFeat task types: pydolphinscheduler's YAML form, plus ``task_type: OpenFeatIngest`` (and
``OpenFeatCompute``, ``OpenFeatExport``, ``OpenFeatDeploy``, ``OpenFeatVerify``, ``OpenFeatIngestStream``, and
``OpenFeatSQL``: a statement posted to ``openfeat serve`` by DS's Http task).

pydolphinscheduler's loader resolves ``task_type`` among its own classes only; :class:`OpenFeatYamlWorkflow` adds
OpenFeat's and keeps everything else of the format: ``workflow:`` (its settings, ``run: true``), ``tasks:`` with
``deps:``, ``Condition`` / ``Switch`` / ``Dependent`` tasks, and the ``$FILE{"path"}`` (relative to the YAML file),
``$ENV{NAME}`` and ``${CONFIG.key}`` substitutions. DS's own parameters (``${system.biz.date}``) pass through to DS.

    openfeat-dolphinscheduler yaml -f flights.yaml            # submit through pydolphinscheduler's Python gateway
    openfeat-dolphinscheduler yaml -f flights.yaml --rest http://ds:12345/dolphinscheduler   # through DS's REST API
"""

from __future__ import annotations

from typing import Any

from pydolphinscheduler.core.task import Task
from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.core.yaml_workflow import KEY_DEPS, KEY_TASK, KEY_WORKFLOW, YamlWorkflow

from dolphin_tasks.http import OpenFeatSQL
from dolphin_tasks.tasks import (
    OpenFeatCompute,
    OpenFeatDeploy,
    OpenFeatExport,
    OpenFeatIngest,
    OpenFeatIngestStream,
    OpenFeatVerify,
)

__all__ = ["OPENFEAT_TASK_TYPES", "OpenFeatYamlWorkflow", "load_workflow"]

#: The ``task_type`` names of OpenFeat's tasks (case-insensitive, as pydolphinscheduler's own).
OPENFEAT_TASK_TYPES: dict[str, type[Task]] = {
    cls.__name__.lower(): cls
    for cls in (
        OpenFeatIngest,
        OpenFeatCompute,
        OpenFeatExport,
        OpenFeatDeploy,
        OpenFeatVerify,
        OpenFeatIngestStream,
        OpenFeatSQL,
    )
}


class OpenFeatYamlWorkflow(YamlWorkflow):
    """pydolphinscheduler's YAML workflow parser, which also knows OpenFeat's task types."""

    def parse_task(self, task_data: dict[str, Any], name2task: dict[str, Task]) -> Task:
        """An OpenFeat task from its YAML mapping, else whatever pydolphinscheduler makes of it."""
        cls = OPENFEAT_TASK_TYPES.get(str(task_data.get("task_type", "")).lower())
        if cls is None:
            return super().parse_task(task_data, name2task)
        params = {k: v for k, v in task_data.items() if k not in ("task_type", KEY_DEPS)}
        return cls(**self.parse_params(params))

    def build(self) -> tuple[Workflow, bool]:
        """The workflow the file describes, not submitted, and whether it asks to be run (``workflow.run``)."""
        settings = dict(self[KEY_WORKFLOW])
        run = bool(settings.pop("run", False))
        settings = self.parse_params(settings)
        with Workflow(**settings) as workflow:
            tasks: dict[str, Task] = {}
            deps: dict[str, list[str]] = {}
            for task_data in self[KEY_TASK]:
                task = self.parse_task(task_data, tasks)
                tasks[task.name] = task
                if task_data.get(KEY_DEPS):
                    deps[task.name] = list(task_data[KEY_DEPS])
            for downstream, upstreams in deps.items():
                for upstream in upstreams:
                    if upstream not in tasks:
                        raise ValueError(f"task {downstream!r}: deps names {upstream!r}, which is not a task above")
                    tasks[upstream] >> tasks[downstream]
        return workflow, run


def load_workflow(path: str) -> tuple[Workflow, bool]:
    """The workflow of a YAML file (OpenFeat task types allowed), not submitted, and its ``run`` flag."""
    return OpenFeatYamlWorkflow(path).build()
