"""What a deployment served, compared with its reference profile: the figures ``openfeat monitor`` decides from.

The served features are the responses of the requests the store logged (``OnlineStore.log_requests``: a sample of
the traffic, kept with what was answered) for the deployment's **active version** (the reference profile belongs to
a version: after a redeploy, only the new version's traffic counts). Their statistics (:func:`.stats.table_statistics`)
are compared with the reference profile (:mod:`.reference`, the training set's statistics recorded with the
deployment): per feature the population stability index over the reference's bins (:func:`.stats.population_stability`)
and the change of the NULL rate.

**The decision.** ``retrain`` is true when at least ``min_rows`` served rows were compared and a feature's PSI is
above ``psi`` or its NULL rate moved by more than ``null_rate`` (absolute). Fewer rows decide nothing: the PSI of a
few dozen values is noise (each of its ~11 bins then holds a handful of values). Online/offline consistency
(``verify`` of the same logged requests) is reported beside it, not folded into ``retrain``: a mismatch is a serving
bug, which a model trained again on offline features does not fix.

The embedded store and the service (``POST .../deployments/{name}/monitor``) both call :func:`drift_report` and
:func:`decide`, so a report has one shape whichever way it was made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from openfeat_core.errors import DataError
from openfeat_core.monitoring.stats import PSI_SHIFT, population_stability, table_statistics

if TYPE_CHECKING:
    from openfeat_core.online.consistency import ConsistencyReport
    from openfeat_core.online.store import OnlineStore

__all__ = [
    "DEFAULT_CONSISTENCY_REQUESTS",
    "MonitorOptions",
    "Thresholds",
    "decide",
    "drift_report",
    "monitor_store",
    "served_features",
]

#: Logged requests recomputed offline for the consistency figure (the latest ones): each recomputes the deployment's
#: script over the rows its tables held, so a monitor of a large log would take as long as a full ``verify``.
DEFAULT_CONSISTENCY_REQUESTS = 100


@dataclass(frozen=True)
class Thresholds:
    """When ``monitor`` says retrain.

    Attributes:
        psi: a feature whose PSI exceeds this drifted (0.25: the usual "significant shift"; 0.1-0.25 is read as a
            moderate change).
        null_rate: a feature whose NULL rate moved by more than this (absolute, 0.1 = 10 points) drifted.
        min_rows: served rows needed for a decision (fewer: ``retrain`` is false and the reason says why).
    """

    psi: float = PSI_SHIFT
    null_rate: float = 0.10
    min_rows: int = 100

    def __post_init__(self) -> None:
        if not (math.isfinite(self.psi) and self.psi > 0):
            raise ValueError(f"the PSI threshold must be a positive number, not {self.psi!r}")
        if not (math.isfinite(self.null_rate) and 0 < self.null_rate <= 1):
            raise ValueError(f"the NULL-rate threshold must be within (0, 1], not {self.null_rate!r}")
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int) or self.min_rows < 1:
            raise ValueError(f"min_rows must be an integer of at least 1, not {self.min_rows!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        """Thresholds from a JSON object (missing keys keep their defaults).

        Raises:
            ValueError: an unknown key, or a value out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))


@dataclass(frozen=True)
class MonitorOptions:
    """What a monitor compares and when it says retrain: the body of the service's ``POST .../monitor``.

    Attributes:
        features: the features to compare (None: every feature of the reference profile).
        thresholds: when to retrain.
        period_seconds: only the requests served in the last this many seconds (None: the whole log).
        consistency_requests: the latest this many logged requests are recomputed offline (0: none).
    """

    features: tuple[str, ...] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    period_seconds: float | None = None
    consistency_requests: int = DEFAULT_CONSISTENCY_REQUESTS

    def __post_init__(self) -> None:
        if self.features is not None and (
            isinstance(self.features, str) or not all(isinstance(f, str) and f for f in self.features)
        ):
            raise ValueError(f"features must be a list of feature names, not {self.features!r}")
        if self.period_seconds is not None and not (
            isinstance(self.period_seconds, (int, float))
            and math.isfinite(self.period_seconds)
            and self.period_seconds > 0
        ):
            raise ValueError(f"period_seconds must be a positive number of seconds, not {self.period_seconds!r}")
        count = self.consistency_requests
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"consistency_requests must be an integer of at least 0, not {count!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": None if self.features is None else list(self.features),
            "thresholds": self.thresholds.to_dict(),
            "period_seconds": self.period_seconds,
            "consistency_requests": self.consistency_requests,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorOptions:
        """Options from a JSON object (missing keys keep their defaults).

        Raises:
            ValueError: an unknown key or a bad value, saying which.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown monitor option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        thresholds = data.get("thresholds") or {}
        if not isinstance(thresholds, Mapping):
            raise ValueError(f"thresholds must be an object, not {thresholds!r}")
        features = data.get("features")
        if features is not None and not isinstance(features, (list, tuple)):
            raise ValueError(f"features must be a list of feature names, not {features!r}")
        return cls(
            features=None if features is None else tuple(features),
            thresholds=Thresholds.from_dict(thresholds),
            period_seconds=data.get("period_seconds"),
            consistency_requests=data.get("consistency_requests", DEFAULT_CONSISTENCY_REQUESTS),
        )


def served_features(store: OnlineStore, name: str, *, period_seconds: float | None = None) -> tuple[int, pa.Table]:
    """The logged requests of the active version of ``name`` and the features they were answered (one table).

    Args:
        period_seconds: only requests served in the last this many seconds (None: the whole log).

    Raises:
        DataError: no deployment ``name``.
    """
    version = store.describe_deployment(name)["version"]
    since = None if period_seconds is None else time.time() - period_seconds
    responses = [
        entry.response
        for entry in store.logged_requests(name)
        if entry.version == version and (since is None or entry.served_at >= since)
    ]
    if not responses:
        return 0, pa.table({})
    return len(responses), pa.concat_tables(responses)


def drift_report(
    reference: Mapping[str, Any] | None,
    served: pa.Table,
    requests: int,
    *,
    features: Sequence[str] | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """The served features' PSI and NULL-rate change against the reference profile.

    Args:
        reference: the deployment's reference profile (None: it has none).
        served: the served feature rows (:func:`served_features`).
        requests: how many logged requests they come from.
        features: the features to compare (None: every feature the reference profile binned). A model rarely reads
            every output: keys and ids drift by nature (a newer id is a larger number).
        thresholds: when a feature counts as drifted.

    Returns:
        ``{"requests", "rows", "features": [{"name", "kind", "psi", "null_rate", "reference_null_rate",
        "null_rate_change", "drifted"}], "drifted": [names], "max_psi", "reference": <its source>}``.

    Raises:
        DataError: no reference profile, or ``features`` names one the reference profile does not describe.
    """
    thresholds = thresholds or Thresholds()
    if reference is None:
        raise DataError(
            "the deployment has no reference profile (the statistics of its training set): deploy it with "
            "reference=TRAINING_FILE (--reference), or from the workspace that computed its training set"
        )
    binned: Mapping[str, Any] = reference.get("bins", {}).get("features", {})
    described: Mapping[str, Any] = reference.get("features", {})
    names = list(binned) if features is None else list(features)
    unknown = [n for n in names if n not in binned]
    if unknown:
        raise DataError(
            f"feature(s) {', '.join(unknown)} are not in the reference profile; it bins "
            f"{', '.join(binned) or 'no feature'}"
        )
    present = [n for n in names if n in served.column_names]
    stats = {}
    if served.num_rows:
        schema = pa.schema([served.schema.field(n) for n in present])
        stats = {s.name: s for s in table_statistics(served.select(present).to_batches(), schema, served.num_rows)}
    psi = population_stability(reference["bins"], list(stats.values())) if stats else {}
    rows: list[dict[str, Any]] = []
    for name in names:
        s = stats.get(name)
        reference_null = float(described.get(name, {}).get("null_rate", binned[name].get("null", 0.0)))
        null_rate = None if s is None else s.null_rate
        change = None if null_rate is None else null_rate - reference_null
        value = psi.get(name)
        drifted = (value is not None and value > thresholds.psi) or (
            change is not None and abs(change) > thresholds.null_rate
        )
        rows.append(
            {
                "name": name,
                "kind": binned[name]["kind"],
                "psi": value,
                "null_rate": null_rate,
                "reference_null_rate": reference_null,
                "null_rate_change": change,
                "drifted": bool(drifted),
            }
        )
    values = [r["psi"] for r in rows if r["psi"] is not None]
    return {
        "requests": requests,
        "rows": served.num_rows,
        "features": rows,
        "drifted": [r["name"] for r in rows if r["drifted"]],
        "max_psi": max(values) if values else None,
        "reference": reference.get("source"),
    }


def decide(
    drift: Mapping[str, Any], consistency: ConsistencyReport | None, thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """``drift`` with the decision: ``retrain``, its ``reasons``, ``consistent`` and ``mismatch_ratio``.

    ``mismatch_ratio`` is the share of compared feature values that differ (or are NULL on one side) between the
    online answers and their offline recomputation; None (and ``consistent`` None) when nothing was recomputed.
    """
    thresholds = thresholds or Thresholds()
    reasons: list[str] = []
    if drift["rows"] < thresholds.min_rows:
        reasons.append(f"{drift['rows']} served rows, fewer than the {thresholds.min_rows} needed to decide")
        retrain = False
    else:
        for feature in drift["features"]:
            if feature["psi"] is not None and feature["psi"] > thresholds.psi:
                reasons.append(f"{feature['name']}: PSI {feature['psi']:.3f} > {thresholds.psi:g}")
            change = feature["null_rate_change"]
            if change is not None and abs(change) > thresholds.null_rate:
                reasons.append(
                    f"{feature['name']}: NULL rate {feature['reference_null_rate']:.1%} -> {feature['null_rate']:.1%}"
                )
        retrain = bool(drift["drifted"])
    compared = mismatches = 0
    if consistency is not None:
        compared = sum(f.compared for f in consistency.features)
        mismatches = sum(f.mismatches + f.missing for f in consistency.features)
    checked = consistency is not None and compared > 0
    return {
        **drift,
        "retrain": retrain,
        "reasons": reasons,
        "thresholds": thresholds.to_dict(),
        "consistent": (mismatches == 0) if checked else None,
        "mismatch_ratio": (mismatches / compared) if checked else None,
        "verified_requests": 0 if consistency is None else consistency.requests,
    }


def monitor_store(store: OnlineStore, name: str, options: MonitorOptions | None = None) -> dict[str, Any]:
    """The monitoring report of deployment ``name`` of a store open in this process (see the module docstring).

    Raises:
        DataError: no such deployment, no reference profile, or an unknown feature.
    """
    options = options or MonitorOptions()
    requests, served = served_features(store, name, period_seconds=options.period_seconds)
    drift = drift_report(
        store.reference(name), served, requests, features=options.features, thresholds=options.thresholds
    )
    consistency = (
        store.verify(name, limit=options.consistency_requests) if options.consistency_requests and requests else None
    )
    return decide(drift, consistency, options.thresholds)
