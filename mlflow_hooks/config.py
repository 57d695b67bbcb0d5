"""When MLflow tracking is on, where it logs, and how hard it tries: explicit settings, then the environment.

Resolution, per setting (an explicit :func:`configure` value wins over the environment, which wins over the default):

============ ================================ ===========================================================
setting      environment                      default
============ ================================ ===========================================================
track        ``OPENFEAT_TRACK`` (``1``/``0``) on when ``MLFLOW_TRACKING_URI`` is set, else off
tracking_uri ``MLFLOW_TRACKING_URI``          MLflow's own default (``sqlite:///mlflow.db`` in the cwd)
experiment   ``OPENFEAT_MLFLOW_EXPERIMENT``,  ``openfeat``
             then ``MLFLOW_EXPERIMENT_NAME``
strict       ``OPENFEAT_MLFLOW_STRICT``       off: a tracking failure is logged once and tracking stops
timeout      ``OPENFEAT_MLFLOW_TIMEOUT``      30 seconds of MLflow calls per task at most
============ ================================ ===========================================================

The settings are read at every task run (reading a few environment variables), so that the hook loaded through the
``openfeat.hooks`` entry point costs nothing measurable when tracking is off, and so that a process may switch
tracking on or off between tasks. Nothing here imports MLflow.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_TIMEOUT",
    "TrackingSettings",
    "configure",
    "current_settings",
    "reset",
]

#: Experiment the runs go to when none is named.
DEFAULT_EXPERIMENT = "openfeat"
#: Seconds of MLflow calls one task may spend at most (each request times out after a third of it).
DEFAULT_TIMEOUT = 30.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class TrackingSettings:
    """The tracking settings in force for one task run.

    Attributes:
        enabled: log the task to MLflow.
        tracking_uri: MLflow tracking URI (``http://...``, ``sqlite:///...``...); None: MLflow's default.
        experiment: experiment name.
        strict: a tracking failure fails the task (instead of a warning, after which tracking stops).
        timeout: seconds of MLflow calls a task may spend; each HTTP request times out after a third of it.
    """

    enabled: bool = False
    tracking_uri: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    strict: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def request_timeout(self) -> int:
        """Seconds one HTTP request to the tracking server may take (MLflow reads a whole number, at least 1)."""
        return max(1, math.ceil(self.timeout / 3))


@dataclass(frozen=True)
class _Overrides:
    track: bool | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    strict: bool | None = None
    timeout: float | None = None


_lock = threading.Lock()
_overrides = _Overrides()


def configure(
    *,
    track: bool | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    strict: bool | None = None,
    timeout: float | None = None,
) -> None:
    """Set tracking explicitly for the task runs of this process (each None argument leaves that setting as it is).

    Explicit settings win over the environment. ``configure(track=True)`` with no URI logs to
    ``$MLFLOW_TRACKING_URI`` or MLflow's default store; :func:`reset` goes back to the environment alone.

    Raises:
        ValueError: ``timeout`` is not a positive number, or ``experiment`` is empty.
    """
    global _overrides
    if timeout is not None and not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if experiment is not None and not experiment.strip():
        raise ValueError("experiment must be a non-empty name")
    with _lock:
        old = _overrides
        _overrides = _Overrides(
            track=old.track if track is None else track,
            tracking_uri=old.tracking_uri if tracking_uri is None else tracking_uri,
            experiment=old.experiment if experiment is None else experiment,
            strict=old.strict if strict is None else strict,
            timeout=old.timeout if timeout is None else float(timeout),
        )


def reset() -> None:
    """Forget the settings made with :func:`configure`: the environment alone decides again."""
    global _overrides
    with _lock:
        _overrides = _Overrides()


def current_settings(environ: Mapping[str, str] | None = None) -> TrackingSettings:
    """The settings in force now: :func:`configure` values, else the environment, else the defaults.

    Args:
        environ: the environment to read (default ``os.environ``).

    Raises:
        ValueError: ``OPENFEAT_TRACK`` or ``OPENFEAT_MLFLOW_STRICT`` is not a boolean, or ``OPENFEAT_MLFLOW_TIMEOUT``
            not a positive number (the message names the variable and its value).
    """
    env = os.environ if environ is None else environ
    explicit = _overrides
    uri = explicit.tracking_uri or env.get("MLFLOW_TRACKING_URI") or None
    if explicit.track is not None:
        enabled = explicit.track
    else:
        flag = _flag(env, "OPENFEAT_TRACK")
        enabled = flag if flag is not None else uri is not None
    if not enabled:
        return TrackingSettings(enabled=False)
    experiment = (
        explicit.experiment
        or env.get("OPENFEAT_MLFLOW_EXPERIMENT")
        or env.get("MLFLOW_EXPERIMENT_NAME")
        or DEFAULT_EXPERIMENT
    )
    strict = explicit.strict if explicit.strict is not None else bool(_flag(env, "OPENFEAT_MLFLOW_STRICT"))
    timeout = explicit.timeout if explicit.timeout is not None else _seconds(env, "OPENFEAT_MLFLOW_TIMEOUT")
    return TrackingSettings(True, uri, experiment, strict, timeout)


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1 or 0 (true/false, yes/no, on/off)")


def _seconds(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={raw!r} is not a positive number of seconds")
    return value
