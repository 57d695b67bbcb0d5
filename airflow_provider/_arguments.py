"""The operators' argument checks: the core's (:mod:`openfeat_core.tasks.arguments`), naming the operator and its
task id, raising :class:`~airflow_provider.exceptions.OpenFeatArgumentError` (fails the task without retrying).

Operators store their arguments as given (templates are rendered later, by Airflow) and check them in
``execute()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider.exceptions import OpenFeatArgumentError
from openfeat_core.tasks.arguments import Arguments as _Arguments

__all__ = ["Arguments"]


class Arguments(_Arguments):
    """The checks, for one operator (whose class and task id every error names).

    Args:
        operator: the operator whose arguments are checked (anything with a ``task_id``).
    """

    def __init__(self, operator: Any) -> None:
        super().__init__(f"{type(operator).__name__}(task_id={operator.task_id!r})", OpenFeatArgumentError)
