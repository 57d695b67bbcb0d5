"""The one place that knows where Airflow keeps things: Airflow 3 moved the authoring API to ``airflow.sdk``.

Supported: Airflow 2.10+ and 3.x. Every other module of the provider, and the example DAGs (``dag``, ``task``,
``Param``, ``DAG``), import Airflow names from here, after the pattern of the community providers'
``version_compat.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "DAG",
    "AirflowException",
    "AirflowFailException",
    "AirflowTaskTerminated",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "Context",
    "Param",
    "PokeReturnValue",
    "dag",
    "task",
]

_BASE_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
#: The running Airflow is 3.0 or newer (``airflow.sdk`` holds the authoring API).
AIRFLOW_V_3_0_PLUS = Version("3.0.0") <= _BASE_VERSION
#: The running Airflow is 3.1 or newer (``airflow.sdk.BaseHook``).
AIRFLOW_V_3_1_PLUS = Version("3.1.0") <= _BASE_VERSION

# Type checking sees the Airflow 3 names (the project type-checks against Airflow 3).
if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG, BaseOperator, BaseSensorOperator, Context, Param, PokeReturnValue, dag, task
else:  # Airflow 2.10+
    from airflow.decorators import dag, task
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.dag import DAG
    from airflow.models.param import Param
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue
    from airflow.utils.context import Context

if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.sdk import BaseHook
else:
    from airflow.hooks.base import BaseHook

if TYPE_CHECKING:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowTaskTerminated
else:
    try:  # airflow.exceptions still re-exports them in Airflow 3, with a deprecation warning
        from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowTaskTerminated
    except ImportError:
        from airflow.exceptions import AirflowException, AirflowFailException, AirflowTaskTerminated
