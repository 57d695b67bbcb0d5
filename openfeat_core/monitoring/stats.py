"""Feature statistics of a table, in one streaming pass with bounded memory; histogram figures; population stability.

Per column: row count, NULL count, and by kind:

* numeric (integers, floats, booleans as 0/1): non-finite count (NaN, ±inf), min, max, mean and standard deviation
  (population, over the finite values; merged batch by batch with Chan's formula), and a uniform sample of the
  finite values (about :data:`SAMPLE_ROWS` rows, the same rows for every column) for the histograms and the
  population stability index;
* categorical (strings): distinct count (exact up to :data:`DISTINCT_CAP` values, then reported as a lower bound)
  and the most frequent values;
* temporal (timestamps, dates): min and max.

Memory holds one record batch, the sample and the distinct values of the categorical columns, whatever the table's
size. The population stability index (PSI) of a feature compares this run's distribution with a reference one
(:func:`reference_bins` of an earlier run, stored as JSON beside its run): deciles of the reference's numeric values
(or its most frequent categories) plus a bin for NULL; ``PSI = sum((a - e) * ln(a / e))`` over the bins, with
``e`` the reference's shares and ``a`` this run's. Below 0.1 is usually read as stable, above 0.25 as a shift.

The same bins serve the drift of what a deployment serves (:func:`bin_counts`, :func:`psi_of_counts`): values are
counted into the reference's bins as they are served, so the memory is one counter per bin whatever the traffic.
This module is in the core (numpy and pyarrow only; matplotlib is imported by the figure functions alone) so that
the service, ``openfeat monitor`` and the MLflow hooks share one definition of the statistics and of the PSI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BINS_FORMAT",
    "DISTINCT_CAP",
    "FEATURES_PER_FIGURE",
    "SAMPLE_ROWS",
    "FeatureStats",
    "bin_count",
    "bin_counts",
    "drift_figure",
    "feature_kind",
    "histogram_figures",
    "population_stability",
    "psi_of_counts",
    "reference_bins",
    "table_statistics",
]

#: Rows sampled (uniformly, the same rows for every column) for histograms and PSI.
SAMPLE_ROWS = 100_000
#: Distinct values counted exactly per categorical column; beyond, the count is a lower bound.
DISTINCT_CAP = 100_000
#: Numeric PSI bins (deciles of the reference run's values), plus one for NULL.
PSI_BINS = 10
#: Categories of the reference run kept as PSI bins (the most frequent), plus "other" and NULL.
TOP_CATEGORIES = 20
#: Histogram bars per numeric feature.
HISTOGRAM_BINS = 30
#: Histograms per figure (a 4 x 3 grid).
FEATURES_PER_FIGURE = 12
#: Layout version of :func:`reference_bins` documents.
BINS_FORMAT = 1
#: PSI above which a feature is drawn as shifted, and between which it is drawn as moderately changed.
PSI_SHIFT, PSI_CHANGE = 0.25, 0.1
# Shares below this count as this in the PSI (an empty bin would make the logarithm infinite).
_PSI_FLOOR = 1e-4

NUMERIC, CATEGORICAL, TEMPORAL, OTHER = "numeric", "categorical", "temporal", "other"


def feature_kind(dtype: pa.DataType) -> str:
    """``numeric``, ``categorical``, ``temporal`` or ``other`` (only NULLs are counted) for an Arrow type."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype):
        return NUMERIC
    if pa.types.is_decimal(dtype):
        return NUMERIC
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_dictionary(dtype):
        return CATEGORICAL
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return TEMPORAL
    return OTHER


@dataclass
class FeatureStats:
    """Statistics of one column.

    Attributes:
        name: column name.
        type: Arrow type, as text.
        kind: ``numeric``, ``categorical``, ``temporal`` or ``other``.
        count: rows.
        nulls: NULL values.
        non_finite: numeric: NaN and infinite values (left out of min, max, mean, stddev, histograms).
        minimum: smallest value (numeric: a float; temporal: ISO text), None when there is none.
        maximum: largest value, likewise.
        mean: numeric: mean of the finite values.
        stddev: numeric: population standard deviation of the finite values.
        distinct: categorical: distinct non-NULL values (a lower bound when ``distinct_capped``).
        distinct_capped: more than :data:`DISTINCT_CAP` distinct values were seen.
        top: categorical: the most frequent values with their counts, most frequent first.
        sample: numeric: the finite values of the sampled rows.
        sampling_rate: the share of rows sampled (1.0: every row).
        categories: categorical: count per value (at most :data:`DISTINCT_CAP` values).
    """

    name: str
    type: str
    kind: str
    count: int = 0
    nulls: int = 0
    non_finite: int = 0
    minimum: float | str | None = None
    maximum: float | str | None = None
    mean: float | None = None
    stddev: float | None = None
    distinct: int | None = None
    distinct_capped: bool = False
    top: list[tuple[str, int]] = field(default_factory=list)
    sample: np.ndarray | None = field(default=None, repr=False)
    sampling_rate: float = 1.0
    categories: dict[str, int] | None = field(default=None, repr=False)

    @property
    def null_rate(self) -> float:
        """Share of NULL values (0 for an empty table)."""
        return self.nulls / self.count if self.count else 0.0

    @property
    def missing_share(self) -> float:
        """Share of values that are NULL or not finite: the PSI's NULL bin."""
        return (self.nulls + self.non_finite) / self.count if self.count else 0.0

    def row(self) -> dict[str, Any]:
        """One row of the statistics table (JSON values)."""
        return {
            "feature": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "null_rate": round(self.null_rate, 6),
            "non_finite": self.non_finite if self.kind == NUMERIC else None,
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "stddev": self.stddev,
            "distinct": self.distinct,
            "distinct_capped": self.distinct_capped if self.kind == CATEGORICAL else None,
            "top_values": ", ".join(f"{v} ({c})" for v, c in self.top[:5]) if self.kind == CATEGORICAL else None,
        }

    def metrics(self) -> dict[str, float]:
        """The statistics as MLflow metrics, ``stats.<feature>.<statistic>``."""
        out = {"null_rate": self.null_rate}
        if self.kind == NUMERIC:
            for key, value in (
                ("min", self.minimum),
                ("max", self.maximum),
                ("mean", self.mean),
                ("stddev", self.stddev),
            ):
                if isinstance(value, float):
                    out[key] = value
        elif self.kind == CATEGORICAL and self.distinct is not None:
            out["distinct"] = float(self.distinct)
        return {f"stats.{self.name}.{key}": float(value) for key, value in out.items()}


# =====================================================================================================================
# The streaming pass
# =====================================================================================================================
class _Numeric:
    """Count, min, max, mean and M2 (sum of squared deviations), merged batch by batch; the sampled values."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.non_finite = 0
        self.sampled: list[np.ndarray] = []

    def add(self, column: pa.Array, sampled: pa.Array) -> None:
        values = _floats(column)
        finite = np.isfinite(values)
        self.non_finite += int(values.size - np.count_nonzero(finite))
        x = values[finite]
        if x.size:
            batch_mean = float(x.mean())
            batch_m2 = float(np.square(x - batch_mean).sum())
            total = self.n + x.size
            delta = batch_mean - self.mean
            self.mean += delta * x.size / total
            self.m2 += batch_m2 + delta * delta * self.n * x.size / total
            self.n = total
            self.minimum = min(self.minimum, float(x.min()))
            self.maximum = max(self.maximum, float(x.max()))
        picked = _floats(sampled)
        self.sampled.append(picked[np.isfinite(picked)])

    def finish(self, stats: FeatureStats) -> None:
        stats.non_finite = self.non_finite
        stats.sample = np.concatenate(self.sampled) if self.sampled else np.empty(0)
        if self.n:
            stats.minimum, stats.maximum = self.minimum, self.maximum
            stats.mean, stats.stddev = self.mean, math.sqrt(self.m2 / self.n)


class _Categorical:
    """Count per distinct value (new values past the cap are no longer counted one by one)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: dict[str, int] = {}
        self.capped = False

    def add(self, column: pa.Array, sampled: pa.Array) -> None:
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        counted = pc.value_counts(column)
        values = counted.field("values").to_pylist()
        counts = counted.field("counts").to_pylist()
        for value, count in zip(values, counts, strict=True):
            if value is None:
                continue
            key = str(value)
            if key in self.counts:
                self.counts[key] += count
            elif len(self.counts) < self.cap:
                self.counts[key] = count
            else:
                self.capped = True

    def finish(self, stats: FeatureStats) -> None:
        stats.categories = self.counts
        stats.distinct = len(self.counts)
        stats.distinct_capped = self.capped
        stats.top = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_CATEGORIES]


class _Temporal:
    """The smallest and largest value."""

    def __init__(self) -> None:
        self.minimum: datetime | date | None = None
        self.maximum: datetime | date | None = None

    def add(self, column: pa.Array, sampled: pa.Array) -> None:
        if column.null_count == len(column):
            return
        extremes = pc.min_max(column).as_py()
        low, high = extremes["min"], extremes["max"]
        self.minimum = low if self.minimum is None or low < self.minimum else self.minimum
        self.maximum = high if self.maximum is None or high > self.maximum else self.maximum

    def finish(self, stats: FeatureStats) -> None:
        stats.minimum = None if self.minimum is None else self.minimum.isoformat()
        stats.maximum = None if self.maximum is None else self.maximum.isoformat()


class _Nulls:
    """Columns of other types: only their NULLs are counted."""

    def add(self, column: pa.Array, sampled: pa.Array) -> None:
        """Nothing besides the NULL count (kept by the caller)."""

    def finish(self, stats: FeatureStats) -> None:
        """Nothing to add."""


def _floats(column: pa.Array) -> np.ndarray:
    """The non-NULL values of a numeric column as float64."""
    return np.asarray(pc.cast(column.drop_null(), pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def table_statistics(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    num_rows: int,
    *,
    sample_rows: int = SAMPLE_ROWS,
    distinct_cap: int = DISTINCT_CAP,
    seed: int = 0,
) -> list[FeatureStats]:
    """Statistics of every column of ``schema``, in one pass over ``batches``.

    Args:
        batches: the table's rows (a stream: memory holds one batch).
        schema: the columns to describe (the batches may hold them in any order, and more).
        num_rows: the table's row count, known beforehand, which sets the sampling rate.
        sample_rows: about how many rows to sample for histograms and PSI.
        distinct_cap: distinct values counted exactly per categorical column.
        seed: seed of the row sampling (the same table gives the same sample).
    """
    rate = min(1.0, sample_rows / num_rows) if num_rows > 0 else 1.0
    rng = np.random.default_rng(seed)
    stats = [FeatureStats(f.name, str(f.type), feature_kind(f.type), sampling_rate=rate) for f in schema]
    accumulators: list[_Numeric | _Categorical | _Temporal | _Nulls] = []
    for s in stats:
        if s.kind == NUMERIC:
            accumulators.append(_Numeric())
        elif s.kind == CATEGORICAL:
            accumulators.append(_Categorical(distinct_cap))
        elif s.kind == TEMPORAL:
            accumulators.append(_Temporal())
        else:
            accumulators.append(_Nulls())
    for batch in batches:
        if batch.num_rows == 0:
            continue
        picked = batch if rate >= 1.0 else batch.filter(pa.array(rng.random(batch.num_rows) < rate))
        for s, accumulator in zip(stats, accumulators, strict=True):
            column = batch.column(s.name)
            s.count += len(column)
            s.nulls += column.null_count
            accumulator.add(column, picked.column(s.name))
    for s, accumulator in zip(stats, accumulators, strict=True):
        accumulator.finish(s)
    return stats


# =====================================================================================================================
# Population stability
# =====================================================================================================================
def reference_bins(stats: Sequence[FeatureStats]) -> dict[str, Any]:
    """The bins and shares of each numeric and categorical feature, for the PSI of a later run (JSON).

    Numeric features: the inner decile edges of the sampled values and the share of rows in each of the
    ``len(edges) + 1`` bins ``(-inf, e1], (e1, e2], ..., (ek, inf)``; categorical features: the most frequent values
    and their shares, plus ``other``; both with ``null``, the share of NULL (and non-finite) values.
    """
    features: dict[str, Any] = {}
    for s in stats:
        if not s.count:
            continue
        present = 1.0 - s.missing_share
        if s.kind == NUMERIC and s.sample is not None and s.sample.size:
            inner = np.quantile(s.sample, np.linspace(0, 1, PSI_BINS + 1)[1:-1])
            edges = np.unique(inner)
            shares = _numeric_shares(s.sample, edges) * present
            features[s.name] = {
                "kind": NUMERIC,
                "edges": edges.tolist(),
                "shares": shares.tolist(),
                "null": s.missing_share,
            }
        elif s.kind == CATEGORICAL and s.categories is not None:
            top = [value for value, _ in s.top]
            top_shares = [s.categories[value] / s.count for value in top]
            features[s.name] = {
                "kind": CATEGORICAL,
                "categories": top,
                "shares": top_shares,
                "other": max(0.0, present - sum(top_shares)),
                "null": s.missing_share,
            }
    return {"format": BINS_FORMAT, "features": features}


def population_stability(reference: Mapping[str, Any], stats: Sequence[FeatureStats]) -> dict[str, float]:
    """PSI of each feature that the reference (:func:`reference_bins` of an earlier run) binned the same way.

    Features missing from either side, or of another kind now, are left out.
    """
    if reference.get("format") != BINS_FORMAT:
        return {}
    binned: Mapping[str, Any] = reference.get("features") or {}
    out: dict[str, float] = {}
    for s in stats:
        ref = binned.get(s.name)
        if not isinstance(ref, Mapping) or ref.get("kind") != s.kind or not s.count:
            continue
        present = 1.0 - s.missing_share
        if s.kind == NUMERIC and s.sample is not None:
            edges = np.asarray(ref["edges"], dtype=np.float64)
            current = _numeric_shares(s.sample, edges) * present if s.sample.size else np.zeros(edges.size + 1)
            expected = np.asarray(ref["shares"], dtype=np.float64)
        elif s.kind == CATEGORICAL and s.categories is not None:
            named = [s.categories.get(value, 0) / s.count for value in ref["categories"]]
            current = np.asarray([*named, max(0.0, present - sum(named))])
            expected = np.asarray([*ref["shares"], ref["other"]], dtype=np.float64)
        else:
            continue
        out[s.name] = _psi(np.append(expected, ref["null"]), np.append(current, s.missing_share))
    return out


def bin_count(reference: Mapping[str, Any]) -> int:
    """How many bins one feature of :func:`reference_bins` has, its NULL bin (the last) included."""
    if reference["kind"] == NUMERIC:
        return len(reference["edges"]) + 2
    return len(reference["categories"]) + 2


def bin_counts(reference: Mapping[str, Any], values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """How many of ``values`` fall in each bin of one feature of :func:`reference_bins` (``features[name]``).

    Numeric: the ``len(edges) + 1`` value bins, then NULL (None, NaN, infinite); categorical: the categories in
    the reference's order, ``other``, then NULL. Counts add up over calls, so a running total is one array.
    """
    counts = np.zeros(bin_count(reference), dtype=np.int64)
    if reference["kind"] == NUMERIC:
        if isinstance(values, np.ndarray):  # NULLs as NaN already (an Arrow column's to_numpy)
            floats = values.astype(np.float64, copy=False)
        else:
            floats = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        finite = floats[np.isfinite(floats)]
        edges = np.asarray(reference["edges"], dtype=np.float64)
        counts[: edges.size + 1] = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)
        counts[-1] = floats.size - finite.size
        return counts
    position = {c: i for i, c in enumerate(reference["categories"])}
    other = len(position)
    for value in values:
        counts[other + 1 if value is None else position.get(str(value), other)] += 1
    return counts


def psi_of_counts(reference: Mapping[str, Any], counts: np.ndarray) -> float | None:
    """PSI of served values counted by :func:`bin_counts` against the reference's shares (None: no values)."""
    total = int(counts.sum())
    if total == 0:
        return None
    extra = [] if reference["kind"] == NUMERIC else [reference["other"]]
    expected = np.asarray([*reference["shares"], *extra, reference["null"]], dtype=np.float64)
    return _psi(expected, counts / total)


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected, _PSI_FLOOR)
    a = np.maximum(actual, _PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


# =====================================================================================================================
# Figures
# =====================================================================================================================
def histogram_figures(stats: Sequence[FeatureStats], title: str) -> list[tuple[str, Figure]]:
    """One figure per group of up to :data:`FEATURES_PER_FIGURE` numeric features: a histogram each.

    Returns ``(file name, figure)`` pairs, ``histograms_01.png``... Values beyond the 0.5 % and 99.5 % quantiles
    are counted in the first and last bars (so that one outlier does not squeeze the rest into a single bar);
    integer features with a small range get one bar per value. Counts are scaled up from the sample.
    """
    from matplotlib.figure import Figure

    numeric = [s for s in stats if s.kind == NUMERIC and s.sample is not None and s.sample.size]
    figures = []
    groups = [numeric[i : i + FEATURES_PER_FIGURE] for i in range(0, len(numeric), FEATURES_PER_FIGURE)]
    for number, group in enumerate(groups, start=1):
        columns = min(4, len(group))
        rows = math.ceil(len(group) / columns)
        height = 3.0 * rows + 0.8
        figure = Figure(figsize=(4.2 * columns, height))
        # A fixed layout: constrained layout doubles the drawing time of a dozen axes.
        figure.subplots_adjust(
            left=0.05, right=0.98, bottom=0.7 / height, top=1 - 0.75 / height, hspace=0.55, wspace=0.25
        )
        axes = figure.subplots(rows, columns, squeeze=False)
        for ax, s in zip(axes.flat, group, strict=False):
            assert s.sample is not None
            edges = _histogram_edges(s)
            counts, _ = np.histogram(np.clip(s.sample, edges[0], edges[-1]), bins=edges)
            ax.stairs(counts / s.sampling_rate, edges, fill=True, color="#4c72b0", alpha=0.85)
            ax.set_title(s.name, fontsize=10, fontweight="bold")
            ax.set_xlabel(
                f"mean {_short(s.mean)}  sd {_short(s.stddev)}  null {s.null_rate:.1%}", fontsize=8, color="#444444"
            )
            ax.tick_params(labelsize=7)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
        for ax in list(axes.flat)[len(group) :]:
            ax.set_visible(False)
        sampled = (
            ""
            if numeric[0].sampling_rate >= 1.0
            else f", counts scaled up from a {numeric[0].sampling_rate:.1%} sample"
        )
        suffix = f" ({number}/{len(groups)})" if len(groups) > 1 else ""
        figure.suptitle(f"{title}: rows per value{sampled}{suffix}", fontsize=12)
        figures.append((f"histograms_{number:02d}.png", figure))
    return figures


def _histogram_edges(s: FeatureStats) -> np.ndarray:
    assert s.sample is not None
    low, high = (float(q) for q in np.quantile(s.sample, [0.005, 0.995]))
    if bool(np.all(np.mod(s.sample, 1) == 0)):
        # Integers: bars on whole-number boundaries, several values per bar when the range is wide (equal-width
        # bars would hold unequal numbers of integers and draw a comb).
        width = max(1, math.ceil((high - low + 1) / HISTOGRAM_BINS))
        return np.arange(math.floor(low) - 0.5, math.floor(high) + width, width)
    if high <= low:
        return np.array([low - 0.5, low + 0.5])
    return np.linspace(low, high, HISTOGRAM_BINS + 1)


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def drift_figure(psi: Mapping[str, float], title: str) -> Figure:
    """A bar per feature: its PSI, green below 0.1, orange to 0.25, red above (features in table order)."""
    from matplotlib.figure import Figure

    names = list(psi)
    values = [psi[n] for n in names]
    figure = Figure(figsize=(9, 1.4 + 0.28 * max(len(names), 1)), layout="constrained")
    ax = figure.subplots()
    colours = ["#c44e52" if v >= PSI_SHIFT else "#dd8452" if v >= PSI_CHANGE else "#55a868" for v in values]
    positions = np.arange(len(names))
    ax.barh(positions, values, color=colours)
    for position, value in zip(positions, values, strict=True):  # the number too: a PSI of 0 draws no bar
        ax.text(value, float(position), f" {value:.3f}", va="center", fontsize=7, color="#333333")
    ax.set_yticks(positions, names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(PSI_CHANGE, color="#dd8452", linestyle="--", linewidth=0.8, label=f"{PSI_CHANGE}: moderate change")
    ax.axvline(PSI_SHIFT, color="#c44e52", linestyle="--", linewidth=0.8, label=f"{PSI_SHIFT}: shift")
    ax.legend(loc="best", fontsize=7, framealpha=0.9)
    ax.set_xlim(0, max([*values, PSI_SHIFT * 1.2]) * 1.12)
    ax.set_xlabel("population stability index (vs the previous run)")
    figure.suptitle(title, fontsize=11)
    return figure
