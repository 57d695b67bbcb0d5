"""The retraining loop's operators: ``monitor`` a deployment, then branch to retraining when it says so.

``OpenFeatMonitorOperator`` runs :func:`openfeat_core.tasks.monitor` (served features against the deployment's
reference profile: PSI, NULL rates, consistency, ``retrain``) and returns its result as the XCom;
``OpenFeatRetrainBranchOperator`` reads that XCom's ``retrain`` and follows the retraining tasks (recompute ->
export -> train -> deploy) or the others, skipping the branch not taken::

    monitor = OpenFeatMonitorOperator(task_id="monitor", name="flight_delay_features", url=SERVICE,
                                      features=MODEL_FEATURES)
    branch = OpenFeatRetrainBranchOperator(task_id="retrain_or_not", monitor_task_id="monitor",
                                           retrain_task_ids="compute_features", skip_task_ids="no_drift")
    monitor >> branch >> [compute, no_drift]

An embedded store's request log lives in the process that served the requests, and each Airflow task runs in its
own process: monitor a running service (``url``, or the connection's host), started with ``--log-requests RATE``.
The example DAG is ``dags/openfeat_flights_retraining.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider._arguments import Arguments
from airflow_provider.compat import AIRFLOW_V_3_0_PLUS, AirflowFailException, Context
from airflow_provider.hooks.openfeat import OpenFeatConnectionConfig
from airflow_provider.openlineage import online_dataset, result_datasets
from airflow_provider.operators.openfeat import _OnlineOperator, _OpenFeatOperator, _set

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.providers.standard.operators.branch import BaseBranchOperator
else:  # Airflow 2.10
    from airflow.operators.branch import BaseBranchOperator

if TYPE_CHECKING:
    from openfeat_core.tasks import DatasetRef, TaskRequest

__all__ = ["OpenFeatMonitorOperator", "OpenFeatRetrainBranchOperator"]


class OpenFeatMonitorOperator(_OnlineOperator):
    """Compare the features a deployment served with its training set's and decide ``retrain``
    (``openfeat_core.tasks.monitor``); the XCom is the result (``retrain``, ``reasons``, per-feature PSI...).

    Args:
        name: the deployment. Templated.
        url: a running ``openfeat serve`` that logs requests (default: the connection's host). Templated.
        store: an embedded store directory (only meaningful in the process that served the requests). Templated.
        features: the features to compare (the model's inputs; default: every feature of the reference profile).
            Templated.
        psi_threshold: a feature with a larger PSI drifted (default 0.25). Templated.
        null_rate_threshold: a feature whose NULL rate moved by more than this drifted (default 0.1).
            Templated.
        min_rows: served rows needed to decide (default 100). Templated.
        period_seconds: only the requests served in the last this many seconds (default: the whole log). Templated.
        consistency_requests: the latest this many logged requests are recomputed offline (default 100).
            Templated.
        timezone: zone of calendar functions of an embedded store (default: the connection's, else UTC).
        timeout: seconds to wait for the service's report (default: the connection's, else 600).
        conn_id: the ``openfeat`` connection.
        parent_run_id: the pipeline run id reported to the task hooks (default: one per DAG run).
        **kwargs: passed to ``BaseOperator``.
    """

    task_name = "monitor"
    template_fields: Sequence[str] = (
        "name",
        "store",
        "url",
        "features",
        "psi_threshold",
        "null_rate_threshold",
        "min_rows",
        "period_seconds",
        "consistency_requests",
        *_OpenFeatOperator.template_fields,
    )

    def __init__(
        self,
        *,
        name: str,
        store: str | None = None,
        url: str | None = None,
        features: Sequence[str] | str | None = None,
        psi_threshold: float | str = 0.25,
        null_rate_threshold: float | str = 0.10,
        min_rows: int | str = 100,
        period_seconds: float | str | None = None,
        consistency_requests: int | str = 100,
        timezone: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(store=store, url=url, **kwargs)
        self.name = name
        self.features = features
        self.psi_threshold = psi_threshold
        self.null_rate_threshold = null_rate_threshold
        self.min_rows = min_rows
        self.period_seconds = period_seconds
        self.consistency_requests = consistency_requests
        self.timezone = timezone
        self.timeout = timeout

    def _request(self, args: Arguments, config: OpenFeatConnectionConfig, parent_run_id: str) -> TaskRequest:
        from openfeat_core.tasks import MonitorRequest

        store, url = self._target(args, config)
        period = args.number("period_seconds", self.period_seconds, minimum=0.001)
        return MonitorRequest(
            name=args.text("name", self.name),
            store=store,
            url=url,
            token=config.token if url is not None else None,
            features=args.texts("features", self.features),
            period_seconds=period,
            timezone=args.optional_text("timezone", self.timezone) or config.timezone,
            parent_run_id=parent_run_id,
            # Unset options keep the task's defaults.
            **_set(
                {},
                timeout=args.number("timeout", self.timeout, minimum=0.001) or config.timeout,
                psi_threshold=args.number("psi_threshold", self.psi_threshold, minimum=1e-9),
                null_rate_threshold=args.number("null_rate_threshold", self.null_rate_threshold, maximum=1.0),
                min_rows=args.integer("min_rows", self.min_rows, minimum=1),
                consistency_requests=args.integer("consistency_requests", self.consistency_requests, minimum=0),
            ),
        )

    def _run(self, request: Any) -> Any:
        from openfeat_core.tasks import monitor

        return monitor(request)

    def _summary(self, result: Mapping[str, Any]) -> str:
        verdict = "retrain" if result["retrain"] else "no retraining needed"
        why = f" ({'; '.join(result['reasons'])})" if result["reasons"] else ""
        return (
            f"{result['deployment']} version {result['version']} on {result['target']}: {result['rows']} served rows "
            f"x {len(result['features'])} features: {verdict}{why}"
        )

    def _datasets(self, result: Mapping[str, Any] | None) -> tuple[list[DatasetRef], list[DatasetRef], str | None]:
        if result is not None:
            return (*result_datasets(result), None)
        target = self._target_text()
        inputs = [online_dataset(target, self.name)] if target and isinstance(self.name, str) else []
        return inputs, [], None


class OpenFeatRetrainBranchOperator(BaseBranchOperator):
    """Follow ``retrain_task_ids`` when the monitor task's result says ``retrain``, else ``skip_task_ids``.

    Args:
        monitor_task_id: the :class:`OpenFeatMonitorOperator` (or any task whose XCom is a monitor result).
        retrain_task_ids: the first task(s) of the retraining branch (recompute -> export -> train -> deploy).
        skip_task_ids: the task(s) to follow when no retraining is needed (default: none; every downstream task
            but the retraining ones is skipped).
        **kwargs: passed to ``BaseOperator``.
    """

    ui_color = "#f3e3cf"

    def __init__(
        self,
        *,
        monitor_task_id: str,
        retrain_task_ids: str | Sequence[str],
        skip_task_ids: str | Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.monitor_task_id = monitor_task_id
        self.retrain_task_ids = [retrain_task_ids] if isinstance(retrain_task_ids, str) else list(retrain_task_ids)
        self.skip_task_ids = [skip_task_ids] if isinstance(skip_task_ids, str) else list(skip_task_ids)

    def choose_branch(self, context: Context) -> Iterable[str]:
        """The retraining tasks or the others, from the monitor result's ``retrain``.

        Raises:
            AirflowFailException: the monitor task left no result with ``retrain`` (not retried).
        """
        report = context["ti"].xcom_pull(task_ids=self.monitor_task_id)
        if not isinstance(report, Mapping) or not isinstance(report.get("retrain"), bool):
            raise AirflowFailException(
                f"{type(self).__name__}(task_id={self.task_id!r}): task {self.monitor_task_id!r} left no monitor "
                f"result (its XCom is {type(report).__name__}, without a 'retrain' flag)"
            )
        chosen = self.retrain_task_ids if report["retrain"] else self.skip_task_ids
        self.log.info(
            "OpenFeat monitor of %s: retrain=%s -> %s",
            report.get("deployment"),
            report["retrain"],
            ", ".join(chosen) or "(nothing)",
        )
        return chosen
