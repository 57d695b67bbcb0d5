"""The ``monitor`` task: did the features a deployment served drift from its training set? Should it be retrained?

It compares the features of the requests a deployment served (the store's sampled request log, of the active
version) with its reference profile (the statistics of the training set it was deployed from, recorded at deploy):
per feature the PSI and the change of the NULL rate, plus online/offline consistency of the latest logged requests
(``verify``), and decides ``retrain`` against thresholds (:mod:`openfeat_core.monitoring.monitor`). The result is a
small JSON document for an orchestrator's branch (an Airflow XCom, a KFP output, a DolphinScheduler OUT parameter).

Where the log is: a running service (``url``, started with ``--log-requests RATE``) keeps it for the traffic it
served; an embedded store (``store``) keeps it in the process that served the requests (open it there with
:func:`~openfeat_core.tasks.embedded_store` and ``log_requests``, serve, then monitor in the same process).

``monitor`` only reads: a retry computes the report again over the log as it is then.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from openfeat_core.monitoring.monitor import (
    DEFAULT_CONSISTENCY_REQUESTS,
    MonitorOptions,
    Thresholds,
    monitor_store,
)
from openfeat_core.monitoring.stats import PSI_SHIFT
from openfeat_core.tasks.base import InvalidRequest, TaskDatasets, TaskRequest, TaskResult, deployment_ref
from openfeat_core.tasks.client import SERVICE_DB, ServiceClient
from openfeat_core.tasks.hooks import TaskContext, run_task
from openfeat_core.tasks.online import _check_name, _check_target, _target_text, embedded_store

__all__ = ["MonitorRequest", "MonitorResult", "monitor"]


@dataclass(frozen=True)
class MonitorRequest(TaskRequest):
    """Compare what a deployment served with its reference profile, and decide whether to retrain.

    Attributes:
        name: the deployment.
        store: directory of a durable store (the one open in this process, which served the requests).
        url: base URL of a running service (exactly one of ``store`` and ``url``).
        token: the service's bearer token.
        timeout: seconds to wait for the service's report (the consistency sample recomputes offline).
        features: the features to compare (None: every feature of the reference profile); name the model's inputs,
            since keys and ids drift by nature.
        psi_threshold: a feature with a larger PSI drifted (default 0.25).
        null_rate_threshold: a feature whose NULL rate moved by more than this (absolute) drifted (default 0.1).
        min_rows: served rows needed to decide (fewer: ``retrain`` false; default 100).
        period_seconds: only the requests served in the last this many seconds (None: the whole log).
        consistency_requests: the latest this many logged requests are recomputed offline (0: none; default 100).
        timezone: zone of calendar functions when this task opens an embedded store (default UTC).
        parent_run_id: the pipeline run this task belongs to (default ``$OPENFEAT_PARENT_RUN_ID``).
    """

    name: str
    store: str | os.PathLike[str] | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 600.0
    features: Sequence[str] | None = None
    psi_threshold: float = PSI_SHIFT
    null_rate_threshold: float = 0.10
    min_rows: int = 100
    period_seconds: float | None = None
    consistency_requests: int = DEFAULT_CONSISTENCY_REQUESTS
    timezone: str | None = None
    parent_run_id: str | None = None

    def options(self) -> MonitorOptions:
        """The comparison's options (what the service's ``POST .../monitor`` reads).

        Raises:
            InvalidRequest: a threshold, period or count out of range, or features that are not names.
        """
        try:
            thresholds = Thresholds(self.psi_threshold, self.null_rate_threshold, self.min_rows)
            return MonitorOptions(
                None if self.features is None else tuple(self.features),
                thresholds,
                self.period_seconds,
                self.consistency_requests,
            )
        except (TypeError, ValueError) as e:
            raise InvalidRequest(f"monitor {self.name!r}: {e}") from None


@dataclass(frozen=True)
class MonitorResult(TaskResult):
    """The monitoring report and the decision.

    Attributes:
        deployment: the deployment.
        version: its active version (the one whose traffic and reference were compared).
        retrain: a feature drifted beyond the thresholds, over at least ``min_rows`` served rows.
        reasons: why (``"weather_temp: PSI 3.210 > 0.25"``), or why no decision was possible.
        requests: logged requests of the active version compared.
        rows: served feature rows compared.
        features: per feature ``{"name", "kind", "psi", "null_rate", "reference_null_rate", "null_rate_change",
            "drifted"}`` (``psi`` None: no served value to compare).
        drifted: the drifted features.
        max_psi: the largest PSI (None: nothing compared).
        consistent: the recomputed logged requests equal their online answers (None: none recomputed).
        mismatch_ratio: share of compared feature values that differ online/offline (None: none recomputed).
        verified_requests: logged requests recomputed offline.
        thresholds: ``{"psi", "null_rate", "min_rows"}`` as applied.
        reference: where the reference profile comes from (its ``source``).
        target: the store directory or the service URL.
        run_id: this task run.
        parent_run_id: the pipeline run, if any.
        seconds: wall time.
    """

    task: ClassVar[str] = "monitor"
    key_fields: ClassVar[tuple[str, ...]] = ("deployment", "retrain", "max_psi", "rows")

    deployment: str
    version: int
    retrain: bool
    reasons: list[str]
    requests: int
    rows: int
    features: list[dict[str, Any]]
    drifted: list[str]
    max_psi: float | None
    consistent: bool | None
    mismatch_ratio: float | None
    verified_requests: int
    thresholds: dict[str, Any]
    reference: dict[str, Any] | None
    target: str
    run_id: str
    parent_run_id: str | None
    seconds: float

    def datasets(self) -> TaskDatasets:
        """The deployment version monitored; monitor writes nothing."""
        return TaskDatasets((deployment_ref(self.target, self.deployment, self.version),))


def monitor(request: MonitorRequest) -> MonitorResult:
    """Compare the features a deployment served with its training set's and decide whether to retrain.

    Raises:
        InvalidRequest: bad options, or both or neither target.
        DataError: unknown deployment (embedded store), no reference profile, or a feature it does not describe.
        ServiceError, ServiceUnreachable: the service refused the request or cannot be reached.
    """
    return run_task("monitor", request, request.parent_run_id, lambda context: _monitor(request, context))


def _monitor(request: MonitorRequest, context: TaskContext) -> MonitorResult:
    _check_target(request.store, request.url)
    _check_name(request.name)
    options = request.options()
    if request.url is not None:
        client = ServiceClient(request.url, request.token, request.timeout)
        path = f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(request.name)}"
        report = client.call("POST", f"{path}/monitor", options.to_dict())
        version = int(client.call("GET", path)["version"])
    else:
        assert request.store is not None
        store = embedded_store(request.store, timezone=request.timezone)
        report = monitor_store(store, request.name, options)
        version = int(store.describe_deployment(request.name)["version"])
    reasons = list(report["reasons"])
    if report["requests"] == 0:
        reasons.append(
            "no logged request of the active version: start the service with --log-requests RATE"
            if request.url is not None
            else "no logged request of the active version: the request log of an embedded store lives in the "
            "process that served the requests (open it there with log_requests and monitor in that process)"
        )
    return MonitorResult(
        deployment=request.name,
        version=version,
        retrain=bool(report["retrain"]),
        reasons=reasons,
        requests=int(report["requests"]),
        rows=int(report["rows"]),
        features=list(report["features"]),
        drifted=list(report["drifted"]),
        max_psi=report["max_psi"],
        consistent=report["consistent"],
        mismatch_ratio=report["mismatch_ratio"],
        verified_requests=int(report["verified_requests"]),
        thresholds=dict(report["thresholds"]),
        reference=report["reference"],
        target=_target_text(request.store, request.url),
        run_id=context.run_id,
        parent_run_id=context.parent_run_id,
        seconds=context.elapsed(),
    )
