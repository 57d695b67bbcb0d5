"""OpenFeat's tasks for Apache DolphinScheduler (pydolphinscheduler 4.1, DS 3.2.x; tested against DS 3.1.1).

``with Workflow(...)``, then :class:`OpenFeatIngest`, :class:`OpenFeatCompute`, :class:`OpenFeatExport`,
:class:`OpenFeatDeploy`, :class:`OpenFeatVerify`, :class:`OpenFeatIngestStream` (Kafka into an embedded store, until
caught up) like DS's own task classes (:mod:`dolphin_tasks.tasks`);
:class:`OpenFeatSQL`, a statement posted to ``openfeat serve`` by DS's Http task (:mod:`dolphin_tasks.http`); workflow
YAML with those task types (:mod:`dolphin_tasks.yaml_workflow`); what a worker runs (:mod:`dolphin_tasks.runner`,
needs only OpenFeat); submission through DS's REST API (:mod:`dolphin_tasks.rest`). The task classes import
pydolphinscheduler (extra ``openfeat[dolphinscheduler]``), so they load on first use: a worker that only runs tasks
does not need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dolphin_tasks.http import OpenFeatSQL
    from dolphin_tasks.tasks import (
        OpenFeatCompute,
        OpenFeatDeploy,
        OpenFeatExport,
        OpenFeatIngest,
        OpenFeatIngestStream,
        OpenFeatVerify,
    )

__all__ = [
    "OpenFeatCompute",
    "OpenFeatDeploy",
    "OpenFeatExport",
    "OpenFeatIngest",
    "OpenFeatIngestStream",
    "OpenFeatSQL",
    "OpenFeatVerify",
]


def __getattr__(name: str) -> Any:
    if name == "OpenFeatSQL":
        from dolphin_tasks import http

        return http.OpenFeatSQL
    if name in __all__:
        from dolphin_tasks import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'dolphin_tasks' has no attribute {name!r}")
