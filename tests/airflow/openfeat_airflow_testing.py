"""What the Airflow provider tests share (a module of its own: test modules import it, not the conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TX_SCHEMA = "tx_id bigint, card bigint, ts timestamp, amount double"


class RecordingTaskInstance:
    """Stands in for the task instance of an operator's context: keeps what the operator pushes, serves pulls."""

    def __init__(self, dag_id: str, pulls: dict[str, Any] | None = None) -> None:
        self.dag_id = dag_id
        self.pushed: dict[str, Any] = {}
        self.pulls = pulls or {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value, allow_nan=False)  # what an XCom backend stores must be strict JSON
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        return self.pulls.get(task_ids or "")
