"""Online/offline consistency checking, after Chronon's design: log served requests, recompute them offline.

The store logs a sample of requests together with what it answered and how many rows each table held at that
moment. :func:`verify` recomputes every logged request in **batch mode** (the sorted, sliding batch kernels, a
different code path from the request path that served it) over exactly the data the request saw, and reports per
feature how often the two disagree and by how much. OpenFeat promises zero mismatches: any is a bug.
"""

from __future__ import annotations

import collections
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

#: Floats may differ by this many units in the last place before they count as a mismatch (none are expected).
MAX_ULPS = 4


@dataclass(frozen=True)
class LoggedRequest:
    """One served request: its rows, the response, and how many rows each table had received when it was served
    (its rows are the ones whose insertion number is below that count and that were not evicted)."""

    deployment: str
    version: int
    requests: pa.Table
    response: pa.Table
    table_rows: dict[str, int]
    # Per table, how many times it had released evicted rows for good: a later release dropped rows this request
    # may have seen (see StoredTable.drops).
    drops: dict[str, int] = field(default_factory=dict)
    # When it was served (epoch seconds): ``monitor`` compares the requests of a recent period.
    served_at: float = field(default_factory=time.time)


@dataclass
class RequestLog:
    """A sample of served requests (``rate`` in [0, 1]; seeded, so runs are reproducible); the latest
    ``max_entries`` are kept."""

    rate: float = 1.0
    seed: int = 0
    max_entries: int = 10_000
    entries: collections.deque[LoggedRequest] = field(init=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"sample rate must be within [0, 1], got {self.rate}")
        self._random = random.Random(self.seed)
        self.entries = collections.deque(maxlen=self.max_entries)

    def offer(self, entry: LoggedRequest) -> None:
        if self.rate >= 1.0 or self._random.random() < self.rate:
            self.entries.append(entry)


@dataclass
class FeatureReport:
    """Agreement of one output column."""

    name: str
    compared: int = 0
    mismatches: int = 0
    missing: int = 0  # offline has a value where online answered NULL, or the reverse
    max_abs_diff: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0

    @property
    def missing_rate(self) -> float:
        return self.missing / self.compared if self.compared else 0.0


@dataclass
class ConsistencyReport:
    """The result of :func:`verify`."""

    deployment: str
    requests: int
    rows: int
    features: list[FeatureReport]
    # Logged requests not recomputed: a table was compacted since they were served (their rows are gone).
    skipped: int = 0

    @property
    def mismatches(self) -> int:
        return sum(f.mismatches + f.missing for f in self.features)

    @property
    def consistent(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for a CLI or an MLflow run)."""
        return {
            "deployment": self.deployment,
            "requests": self.requests,
            "rows": self.rows,
            "skipped": self.skipped,
            "consistent": self.consistent,
            "features": [
                {
                    "name": f.name,
                    "compared": f.compared,
                    "mismatch_rate": f.mismatch_rate,
                    "missing_rate": f.missing_rate,
                    "max_abs_diff": f.max_abs_diff,
                    "examples": f.examples,
                }
                for f in self.features
            ],
        }


def compare_rows(online: pa.Table, offline: pa.Table, reports: dict[str, FeatureReport]) -> None:
    """Add the comparison of two results with the same schema to ``reports`` (one per column)."""
    for name in offline.column_names:
        report = reports.setdefault(name, FeatureReport(name))
        on = online.column(name).to_pylist()
        off = offline.column(name).to_pylist()
        is_float = pa.types.is_floating(offline.schema.field(name).type)
        for a, b in zip(on, off, strict=True):
            report.compared += 1
            if a is None or b is None:
                if (a is None) != (b is None):
                    report.missing += 1
                    _example(report, f"row {report.compared - 1}: online {a!r}, offline {b!r}")
                continue
            if is_float:
                if _same_float(a, b):
                    continue
                report.max_abs_diff = max(report.max_abs_diff, abs(a - b) if math.isfinite(a - b) else math.inf)
            elif a == b:
                continue
            report.mismatches += 1
            _example(report, f"row {report.compared - 1}: online {a!r}, offline {b!r}")


def _example(report: FeatureReport, text: str) -> None:
    if len(report.examples) < 5:
        report.examples.append(text)


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    ia = np.array([a], dtype=np.float64).view(np.int64)[0]
    ib = np.array([b], dtype=np.float64).view(np.int64)[0]
    if (ia < 0) != (ib < 0):
        return False
    return bool(abs(int(ia) - int(ib)) <= MAX_ULPS)
