"""Which orchestrator runs the task (from the environment variables it sets), for the run's tags and grouping.

================ ================================= ================================ ==========================
orchestrator     pipeline / run id                 task id                          try number
================ ================================= ================================ ==========================
airflow          ``AIRFLOW_CTX_DAG_ID`` /          ``AIRFLOW_CTX_TASK_ID``          ``AIRFLOW_CTX_TRY_NUMBER``
                 ``AIRFLOW_CTX_DAG_RUN_ID``
kubeflow         ``KFP_RUN_NAME`` / ``KFP_RUN_ID`` ``KFP_POD_NAME``                 -
dolphinscheduler ``DS_WORKFLOW_DEFINITION_NAME`` / ``DS_TASK_INSTANCE_ID``          -
                 ``DS_WORKFLOW_INSTANCE_ID``
================ ================================= ================================ ==========================

Airflow sets its ``AIRFLOW_CTX_*`` variables in every task process. The KFP launcher sets ``KFP_POD_NAME``; the run
id and name are the placeholders ``dsl.PIPELINE_JOB_ID_PLACEHOLDER`` / ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER``, which
a component passes as ``KFP_RUN_ID`` / ``KFP_RUN_NAME``. DolphinScheduler substitutes its built-in parameters
(``${system.workflow.instance.id}``...) in a task's script, which exports them under the names above.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["OrchestratorRun", "detect_orchestrator"]


@dataclass(frozen=True)
class OrchestratorRun:
    """The orchestrator task a task run belongs to.

    Attributes:
        name: ``airflow``, ``kubeflow`` or ``dolphinscheduler``.
        pipeline: the DAG / pipeline / workflow name, if known.
        run_id: the pipeline run's id, if known.
        task_id: the orchestrator's task (instance) id, if known.
        try_number: the attempt, if the orchestrator says.
    """

    name: str
    pipeline: str | None
    run_id: str | None
    task_id: str | None
    try_number: str | None

    @property
    def pipeline_key(self) -> str | None:
        """An id of the pipeline run, unique across orchestrators (None without a run id)."""
        if self.run_id is None:
            return None
        return f"{self.name}:{self.pipeline or ''}:{self.run_id}"

    def tags(self) -> dict[str, str]:
        """The ``openfeat.orchestrator*`` tags of a run."""
        fields = {
            "openfeat.orchestrator": self.name,
            "openfeat.orchestrator.pipeline": self.pipeline,
            "openfeat.orchestrator.run_id": self.run_id,
            "openfeat.orchestrator.task_id": self.task_id,
            "openfeat.orchestrator.try_number": self.try_number,
        }
        return {key: value for key, value in fields.items() if value is not None}


# (name, pipeline variable, run id variable, task id variable, try number variable)
_KNOWN: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("airflow", "AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_TASK_ID", "AIRFLOW_CTX_TRY_NUMBER"),
    ("kubeflow", "KFP_RUN_NAME", "KFP_RUN_ID", "KFP_POD_NAME", None),
    ("dolphinscheduler", "DS_WORKFLOW_DEFINITION_NAME", "DS_WORKFLOW_INSTANCE_ID", "DS_TASK_INSTANCE_ID", None),
)


def detect_orchestrator(environ: Mapping[str, str] | None = None) -> OrchestratorRun | None:
    """The orchestrator whose run or task id variable is set (the first of the table above), or None."""
    env = os.environ if environ is None else environ

    def get(name: str | None) -> str | None:
        return (env.get(name) or None) if name else None

    for name, pipeline, run_id, task_id, try_number in _KNOWN:
        if get(run_id) or get(task_id):
            return OrchestratorRun(name, get(pipeline), get(run_id), get(task_id), get(try_number))
    return None
