"""What the ``monitor`` component runs (:mod:`kubeflow_components.monitor`), in a module without kfp imports: the
component's process imports it while KFP's executor is still loading ``kfp``."""

from typing import Any

__all__ = ["run_monitor"]


def run_monitor(
    *,
    name: str,
    url: str,
    store: str,
    features: list[str],
    psi_threshold: float,
    null_rate_threshold: float,
    min_rows: int,
    period_seconds: float,
    consistency_requests: int,
    timeout: float,
    timezone: str,
    metrics: Any,
) -> dict[str, Any]:
    """:func:`openfeat_core.tasks.monitor` with the component's arguments (0 / empty: not given); logs the figures
    to ``metrics`` and the decision to stdout."""
    import os

    from openfeat_core.tasks import MonitorRequest
    from openfeat_core.tasks import monitor as monitor_task
    from openfeat_core.tasks.online import close_embedded_store

    request = MonitorRequest(
        name=name,
        url=url or None,
        store=store or None,
        token=os.environ.get("OPENFEAT_TOKEN") or None,
        timeout=timeout,
        features=list(features) or None,
        psi_threshold=psi_threshold,
        null_rate_threshold=null_rate_threshold,
        min_rows=min_rows,
        period_seconds=period_seconds or None,
        consistency_requests=consistency_requests,
        timezone=timezone or None,
    )
    try:
        result = monitor_task(request)
    finally:
        if store:
            close_embedded_store(store)
    print(f"openfeat monitor {name}: retrain={result.retrain} rows={result.rows} {'; '.join(result.reasons)}")
    if metrics is not None:
        metrics.log_metric("retrain", 1.0 if result.retrain else 0.0)
        metrics.log_metric("rows", float(result.rows))
        if result.max_psi is not None:
            metrics.log_metric("max_psi", float(result.max_psi))
        for feature in result.features:
            if feature["psi"] is not None:
                metrics.log_metric(f"psi.{feature['name']}", float(feature["psi"]))
    value: dict[str, Any] = result.to_dict()
    return value
