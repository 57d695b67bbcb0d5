"""``openfeat monitor`` as a DolphinScheduler task: the retraining loop's first step.

:class:`OpenFeatMonitor` publishes the monitor result's key fields as OUT parameters (``${<prefix>_retrain}``
``true``/``false``, ``${<prefix>_max_psi}``, ``${<prefix>_rows}``, ``${<prefix>_deployment}``). DS's Condition task
branches on the *state* of its upstream tasks, not on a parameter, so the loop checks the flag in a Shell task that
exits 0 when the deployment must be retrained (:func:`retrain_check`) and the Condition follows its state: success
to recompute -> export -> train -> redeploy, failed to the no-drift branch (as the flights workflow's AUC check). See
``dolphin_tasks/examples/retraining_workflow.py``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.tasks import OpenFeatTask, _Checks, _common_online, _target
from openfeat_core.tasks import MonitorResult

__all__ = ["OpenFeatMonitor", "retrain_check"]


class OpenFeatMonitor(OpenFeatTask):
    """``openfeat monitor``: compare the features a deployment served with its training set's and decide
    ``retrain`` (the Airflow ``OpenFeatMonitorOperator``). Exits 0 whatever the decision: it is the OUT parameter
    ``<prefix>_retrain``.

    Args:
        deployment: the deployment to monitor.
        url: a running ``openfeat serve`` that logs requests (``--log-requests RATE``), or ``store``: an embedded
            store (its log is the process's own, so empty in a DS task: use a service).
        features: the features to compare (the model's inputs; default: every feature of the reference profile).
        psi_threshold, null_rate_threshold, min_rows, period_seconds, consistency_requests: the thresholds and
            scope (``openfeat monitor`` options; may be DS parameters).
        timezone, token_file, timeout: as ``openfeat monitor``'s options.
    """

    openfeat_task = "monitor"
    result_class = MonitorResult

    def __init__(
        self,
        name: str,
        *,
        deployment: str,
        store: str | None = None,
        url: str | None = None,
        features: Sequence[str] | None = None,
        psi_threshold: float | str | None = None,
        null_rate_threshold: float | str | None = None,
        min_rows: int | str | None = None,
        period_seconds: float | str | None = None,
        consistency_requests: int | str | None = None,
        timezone: str | None = None,
        token_file: str | None = None,
        timeout: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        self._given = dict(locals())
        super().__init__(name, **kwargs)

    def _arguments(self, checks: _Checks) -> tuple[list[str], str | None]:
        g = self._given
        args = [checks.value(checks.text, "deployment", g["deployment"]), *_target(checks, g["store"], g["url"])]
        features = checks.texts("features", g["features"])
        if features is not None:
            args += ["--features", ",".join(features)]
        for option, key, minimum, maximum in (
            ("--psi-threshold", "psi_threshold", 1e-9, float("inf")),
            ("--null-rate-threshold", "null_rate_threshold", 1e-9, 1.0),
            ("--period", "period_seconds", 0.001, float("inf")),
        ):
            value = checks.value(checks.number, key, g[key], minimum=minimum, maximum=maximum)
            if value is not None:
                args += [option, str(value)]
        for option, key, low in (("--min-rows", "min_rows", 1), ("--consistency-requests", "consistency_requests", 0)):
            count = checks.value(checks.integer, key, g[key], minimum=low)
            if count is not None:
                args += [option, str(count)]
        args += _common_online(checks, g)
        return args, None


def retrain_check(name: str, monitor: OpenFeatMonitor, **kwargs: Any) -> Shell:
    """A Shell task that exits 0 when ``monitor`` said retrain, 1 otherwise: the upstream of a DS Condition."""
    flag = "${" + monitor.output_prefix + "_retrain}"
    script = (
        f'if [ "{flag}" = true ]; then echo {shlex.quote(f"{monitor.name}: retrain")}; exit 0; fi\n'
        f'echo "{monitor.name}: retrain={flag}, no retraining"; exit 1\n'
    )
    return Shell(name, script, **kwargs)
