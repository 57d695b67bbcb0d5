"""OpenFeat's Apache Airflow provider: a hook for the ``openfeat`` connection, one operator per pipeline task, a
table sensor, OpenLineage facets and MLflow run grouping.

* :mod:`airflow_provider.hooks.openfeat`: ``OpenFeatHook``, the ``openfeat`` connection (workspace, online service
  URL and token, embedded store, tracking settings) and its ``test_connection()``;
* :mod:`airflow_provider.operators.openfeat`: ``OpenFeatIngestOperator``, ``OpenFeatComputeFeaturesOperator``,
  ``OpenFeatExportTrainingSetOperator``, ``OpenFeatDeployOperator``, ``OpenFeatVerifyOperator``,
  ``OpenFeatIngestStreamOperator``: one operator per task of :mod:`openfeat_core.tasks`, each returning the task's
  result dict as its XCom;
* :mod:`airflow_provider.sensors.openfeat`: ``OpenFeatTableSensor``, which waits for a workspace table version.
* :mod:`airflow_provider.operators.monitor`: ``OpenFeatMonitorOperator`` (is the deployment's traffic drifting from
  its training set? retrain?) and ``OpenFeatRetrainBranchOperator``, the retraining loop's branch.

Airflow finds the provider through the ``apache_airflow_provider`` entry point of the ``openfeat`` distribution,
which names :func:`get_provider_info`. Airflow calls it while it discovers providers, possibly before its own
configuration is loaded, so this module imports nothing but the standard library (the operators import Airflow
and load :mod:`openfeat_core` only when a task runs).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

__all__ = ["CONNECTION_TYPE", "get_provider_info"]

#: The Airflow connection type of OpenFeat connections.
CONNECTION_TYPE = "openfeat"

_INTEGRATION = "OpenFeat"

# Extra fields of the connection form, declared for Airflow 3 (which reads them from here without importing the
# hook); Airflow 2 asks OpenFeatHook.get_connection_form_widgets() for the same fields. The values land in the
# connection's extra JSON under these names.
_CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "workspace": {
        "label": "Workspace",
        "description": "Directory or URI (s3://bucket/prefix) of the OpenFeat workspace of versioned tables.",
        "schema": {"type": ["string", "null"]},
    },
    "store": {
        "label": "Embedded store",
        "description": "Directory of a durable online store opened by the task itself (instead of a service URL).",
        "schema": {"type": ["string", "null"]},
    },
    "timezone": {
        "label": "Time zone",
        "description": "Zone of calendar functions (hour, dayofweek...) when an operator does not set one.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Service timeout (s)",
        "description": "Seconds to wait for each answer of the online service.",
        "schema": {"type": ["number", "null"]},
    },
    "tracking_uri": {
        "label": "MLflow tracking URI",
        "description": "Set as MLFLOW_TRACKING_URI while a task runs, for the MLflow task hooks.",
        "schema": {"type": ["string", "null"]},
    },
    "experiment_name": {
        "label": "MLflow experiment",
        "description": "Set as MLFLOW_EXPERIMENT_NAME while a task runs.",
        "schema": {"type": ["string", "null"]},
    },
}

#: How the standard connection fields are shown: what OpenFeat does not use is hidden, the rest relabelled.
_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login"],
    "relabeling": {"host": "Online service URL", "password": "Service token"},
    "placeholders": {
        "host": "http://feature-service:9080 (empty: no service; use an embedded store)",
        "port": "(part of the URL above)",
        "password": "the bearer token `openfeat serve` printed (or the content of its --token-file)",
        "extra": '{"storage_options": {"region": "us-east-1"}}',
    },
}


def get_provider_info() -> dict[str, Any]:
    """The provider's description for Airflow's providers manager (``airflow providers list``, the UI).

    Returns:
        The provider-info dict: package name, versions, integrations, the hook, operator and sensor modules, and
        the ``openfeat`` connection type with its form fields (Airflow 3 ``conn-fields``/``ui-field-behaviour``).
    """
    try:
        version = importlib.metadata.version("openfeat")
    except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        version = "0.0.0"
    return {
        "package-name": "openfeat",
        "name": _INTEGRATION,
        "description": "OpenFeat: OpenMLDB feature SQL, computed offline and served online with one engine. "
        "Operators for ingest, compute, export, deploy, verify and ingest-stream (Kafka, until caught up).",
        "versions": [version],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://pypi.org/project/openfeat/",
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider.hooks.openfeat"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider.operators.openfeat", "airflow_provider.operators.monitor"],
            }
        ],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider.sensors.openfeat"]}],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "airflow_provider.hooks.openfeat.OpenFeatHook",
                "hook-name": _INTEGRATION,
                "conn-fields": _CONNECTION_FIELDS,
                "ui-field-behaviour": _UI_FIELD_BEHAVIOUR,
            }
        ],
    }
