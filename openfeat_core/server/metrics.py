"""The service's Prometheus metrics: what is counted, and the text exposition format ``GET /metrics`` answers with.

Conventions (https://prometheus.io/docs/practices/naming/): counters end in ``_total``, durations are ``_seconds``
histograms, sizes ``_bytes``, every value in base units; label values come from bounded sets only (route
templates, deployment and table names the store knows, Kafka partitions, the features of a deployment), never from
request contents. The latency buckets start at 50 µs: the feature requests' target is below a millisecond, so the
buckets must resolve it (a p99 under 1 ms is read from the 0.75 ms and 1 ms buckets, not guessed inside one).

Families (the README's "Monitoring" section lists them with their labels):

* the process: ``openfeat_build_info``, and ``process_*`` (CPU seconds, resident and virtual memory, open and
  maximum file descriptors, start time) read from ``/proc`` like ``prometheus_client``'s process collector;
* HTTP and feature requests per deployment: requests, request rows, errors, latency;
* tables: stored rows and bytes, rows inserted and evicted;
* durability: write-ahead log append latency, log bytes and entries since the last snapshot, snapshot age;
* streaming ingest: messages by outcome, lag and stored position per partition, freshness, dead letters
  (:class:`StreamMetrics`, fed by the consumer);
* consistency: the online/offline mismatch ratio of the latest verify of the sampled requests;
* serving drift: per deployment and feature, the PSI of what was served in the last window against the
  deployment's reference profile (:class:`ServingDrift`).

Updates come from the event loop (requests), the store thread (WAL appends, under the store lock) and a consumer
thread (ingest); each histogram and window takes a lock of its own for the few instructions an update costs.
"""

from __future__ import annotations

import bisect
import os
import platform
import resource
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import openfeat_core
from openfeat_core.column import Column
from openfeat_core.monitoring.stats import NUMERIC, bin_counts, psi_of_counts
from openfeat_core.online.consistency import ConsistencyReport

__all__ = [
    "DRIFT_SLOT_SECONDS",
    "DRIFT_WINDOW_SECONDS",
    "FRESHNESS_BUCKETS",
    "LATENCY_BUCKETS",
    "WAL_APPEND_BUCKETS",
    "Histogram",
    "Metrics",
    "ServingDrift",
    "StoreFigures",
    "StreamMetrics",
    "process_figures",
]

#: Feature request latency buckets (seconds): fine below the sub-millisecond target, coarse above.
LATENCY_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Write-ahead log append buckets (seconds): a buffered write is microseconds, an fsync a fraction of a millisecond
#: on SSDs to tens of milliseconds on network disks.
WAL_APPEND_BUCKETS = (0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
#: Streaming freshness buckets (seconds from a message's Kafka timestamp to its rows being stored).
FRESHNESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Serving drift compares the values served in the last this many seconds with the reference profile ...
DRIFT_WINDOW_SECONDS = 300.0
#: ... counted in slots of this many seconds (the window moves by one slot at a time).
DRIFT_SLOT_SECONDS = 10.0
#: Served rows per deployment kept between two scrapes for the drift counts; beyond, rows are left out (and counted
#: in ``openfeat_serving_drift_dropped_rows_total``), so that memory stays bounded when nothing scrapes.
DRIFT_PENDING_ROWS = 50_000


class Histogram:
    """A Prometheus histogram: per-bucket counts, the count and the sum of the observations."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf only)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.bounds, value)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def observe_many(self, values: np.ndarray) -> None:
        """Observe every value of an array at once (the freshness of a batch of messages)."""
        if not values.size:
            return
        indexes = np.searchsorted(np.asarray(self.bounds), values, side="left")
        counts = np.bincount(indexes, minlength=len(self._counts))
        total = float(values.sum())
        with self._lock:
            for i, n in enumerate(counts.tolist()):
                self._counts[i] += n
            self._sum += total

    def samples(self) -> tuple[list[tuple[str, int]], int, float]:
        """Cumulative ``(le, count)`` pairs including ``+Inf``, the count and the sum."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        out, running = [], 0
        for bound, n in zip((*map(_number, self.bounds), "+Inf"), counts, strict=True):
            running += n
            out.append((bound, running))
        return out, running, total


@dataclass
class StoreFigures:
    """What ``/metrics`` reads from the store in one store call (under the store lock).

    Attributes:
        tables: ``OnlineStore.table_stats()``.
        durability: ``OnlineStore.durability()`` (empty for a memory store).
        positions: ``OnlineStore.stream_positions()``.
        dead_letters: ``OnlineStore.dead_letter_count``.
        references: deployment -> the ``bins`` of its active version's reference profile (deployments without one
            are absent).
    """

    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    durability: Mapping[str, Any] = field(default_factory=dict)
    positions: Mapping[tuple[str, int], int] = field(default_factory=dict)
    dead_letters: int = 0
    references: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class StreamMetrics:
    """Counters of a Kafka consumer writing into the served store; the consumer calls them after each stored batch.

    ``on_batch(messages)`` is ``StreamIngester``'s ``on_batch`` callback, called after a batch is stored: it counts
    the messages by outcome (the dead letters are the growth of ``dead_letter_count``, the store's durable count, which
    only this consumer writes) and observes their freshness, from each message's Kafka timestamp (producer or broker
    time: clock skew between the hosts is included) to the call. ``lag(topic, partition, messages)`` records how far
    a partition is behind its high watermark (the consumer knows the watermarks).
    """

    def __init__(self, dead_letter_count: Callable[[], int] | None = None) -> None:
        self.freshness = Histogram(FRESHNESS_BUCKETS)
        self._lock = threading.Lock()
        self._events = {"good": 0, "dead_letter": 0}
        self._lag: dict[tuple[str, int], int] = {}
        self._active = False
        self._dead_letter_count = dead_letter_count
        self._dead_seen = dead_letter_count() if dead_letter_count is not None else 0

    def on_batch(self, messages: Sequence[Any]) -> None:
        """Count and time a stored batch of ``confluent_kafka.Message``s (error events skipped)."""
        now_ms = time.time() * 1000.0
        stamps = []
        read = 0
        for m in messages:
            if m.error() is not None:
                continue
            read += 1
            kind, stamp = m.timestamp()
            if kind:  # 0: TIMESTAMP_NOT_AVAILABLE
                stamps.append(stamp)
        dead = 0
        if self._dead_letter_count is not None:
            total = self._dead_letter_count()
            dead, self._dead_seen = max(0, total - self._dead_seen), total
        self.consumed(read - dead, dead)
        if stamps:
            self.freshness.observe_many(np.maximum(now_ms - np.asarray(stamps, dtype=np.float64), 0.0) / 1000.0)

    def consumed(self, good: int, dead_letters: int) -> None:
        """Count a batch's messages: stored as rows (``good``) or recorded as dead letters."""
        with self._lock:
            self._events["good"] += good
            self._events["dead_letter"] += dead_letters
            self._active = True

    def lag(self, topic: str, partition: int, messages: int) -> None:
        """Messages of a partition not consumed yet (its high watermark minus the stored position)."""
        with self._lock:
            self._lag[(topic, partition)] = max(0, messages)
            self._active = True

    @property
    def active(self) -> bool:
        """A consumer reported something (the families are exported from then on)."""
        return self._active

    def snapshot(self) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
        with self._lock:
            return dict(self._events), dict(self._lag)


class ServingDrift:
    """Per deployment and feature: the served values of the last :data:`DRIFT_WINDOW_SECONDS`, counted into the bins
    of the deployment's reference profile, and their PSI against it.

    A served response is only remembered (its columns, by reference) until the next scrape counts it: the request
    path pays a list append, the binning is done in bulk at scrape time. Memory: per deployment at most
    :data:`DRIFT_PENDING_ROWS` pending rows, and one count per bin, feature and slot of the window.
    """

    def __init__(self, window_seconds: float = DRIFT_WINDOW_SECONDS, slot_seconds: float = DRIFT_SLOT_SECONDS) -> None:
        if not 0 < slot_seconds <= window_seconds:
            raise ValueError(f"the drift slot ({slot_seconds} s) must be positive and within the window")
        self.window_seconds = window_seconds
        self.slot_seconds = slot_seconds
        self._bins: dict[str, Mapping[str, Any]] = {}
        self._pending: dict[str, list[tuple[int, Sequence[str], list[Column]]]] = {}
        self._pending_rows: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        # Per deployment: the generation of its reference the slots were counted for, and the slots. Only
        # figures() touches them (under _counting, so that two scrapes at once do not count twice); a new reference
        # bumps the generation (under _lock), which empties the window at the next figures().
        self._slots: dict[str, tuple[int, deque[tuple[int, dict[str, np.ndarray]]]]] = {}
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counting = threading.Lock()

    def watches(self, deployment: str) -> bool:
        """The deployment has a reference profile: its served values are counted."""
        return deployment in self._bins

    def set_references(self, references: Mapping[str, Mapping[str, Any]]) -> None:
        """The current reference bins (``profile["bins"]``) of every deployment that has one; a deployment whose
        bins changed (a new version, a new reference) starts a new window."""
        with self._lock:
            for name in list(self._bins):
                if name not in references:
                    self._forget(name)
            for name, bins in references.items():
                if self._bins.get(name) != bins:
                    self._forget(name)
                    self._bins[name] = bins

    def watch(self, deployment: str, bins: Mapping[str, Any] | None) -> None:
        """Set (or with None, drop) the reference bins of one deployment (its reference was just recorded)."""
        with self._lock:
            if bins is None or self._bins.get(deployment) != bins:
                self._forget(deployment)
            if bins is not None:
                self._bins[deployment] = bins

    def _forget(self, name: str) -> None:
        for state in (self._bins, self._pending, self._pending_rows):
            state.pop(name, None)
        self._generation[name] = self._generation.get(name, 0) + 1

    def served(self, deployment: str, names: Sequence[str], columns: list[Column]) -> None:
        """Remember a response of a watched deployment until the next scrape."""
        rows = len(columns[0]) if columns else 0
        if not rows or deployment not in self._bins:
            return
        with self._lock:
            pending = self._pending_rows.get(deployment, 0)
            if pending + rows > DRIFT_PENDING_ROWS:
                self._dropped[deployment] = self._dropped.get(deployment, 0) + rows
                return
            self._pending_rows[deployment] = pending + rows
            self._pending.setdefault(deployment, []).append((self._slot(time.monotonic()), names, columns))

    def _slot(self, now: float) -> int:
        return int(now // self.slot_seconds)

    def figures(self) -> tuple[dict[tuple[str, str], float], dict[str, int], dict[str, int]]:
        """Count what was served since the last call, and return the PSI per ``(deployment, feature)``, the rows in
        each deployment's window and the rows left out so far."""
        with self._counting:
            return self._figures()

    def _figures(self) -> tuple[dict[tuple[str, str], float], dict[str, int], dict[str, int]]:
        with self._lock:
            pending, self._pending, self._pending_rows = self._pending, {}, {}
            bins = dict(self._bins)
            dropped = dict(self._dropped)
            generations = dict(self._generation)
        for name in [n for n in self._slots if n not in bins]:
            del self._slots[name]
        oldest = self._slot(time.monotonic()) - int(self.window_seconds // self.slot_seconds) + 1
        psi: dict[tuple[str, str], float] = {}
        rows: dict[str, int] = {}
        for name, features in bins.items():
            binned = features.get("features") or {}
            generation = generations.get(name, 0)
            stored = self._slots.get(name)
            if stored is None or stored[0] != generation:
                stored = self._slots[name] = (generation, deque())
            slots = stored[1]
            # The responses of one slot are binned together: one pass per feature, not one per response.
            by_slot: dict[int, dict[str, list[Column]]] = {}
            for slot, names, columns in pending.get(name, ()):
                parts = by_slot.setdefault(slot, {})
                for feature, column in zip(names, columns, strict=True):
                    if feature in binned:
                        parts.setdefault(feature, []).append(column)
            for slot, parts in sorted(by_slot.items()):
                counts = {feature: _bin(binned[feature], columns) for feature, columns in parts.items()}
                if slots and slots[-1][0] == slot:
                    for feature, c in counts.items():
                        slots[-1][1][feature] = slots[-1][1].get(feature, 0) + c
                else:
                    slots.append((slot, counts))
            while slots and slots[0][0] < oldest:
                slots.popleft()
            totals: dict[str, np.ndarray] = {}
            for _, counts in slots:
                for feature, c in counts.items():
                    totals[feature] = totals[feature] + c if feature in totals else c.copy()
            for feature, c in totals.items():
                value = psi_of_counts(binned[feature], c)
                if value is not None:
                    psi[(name, feature)] = value
            rows[name] = max((int(c.sum()) for c in totals.values()), default=0)
        return psi, rows, dropped


def _bin(reference: Mapping[str, Any], columns: list[Column]) -> np.ndarray:
    """Bin counts of one feature's values in several responses (NULLs in the NULL bin)."""
    valid = np.concatenate([c.valid for c in columns])
    if reference["kind"] == NUMERIC:
        values = np.concatenate([c.values for c in columns]).astype(np.float64)
        values[~valid] = np.nan
        return bin_counts(reference, values)
    texts = np.concatenate([c.values for c in columns])
    return bin_counts(reference, [t if ok else None for t, ok in zip(texts.tolist(), valid.tolist(), strict=True)])


@dataclass
class _Consistency:
    compared: int = 0
    mismatched: int = 0
    ratio: float = 0.0


class Metrics:
    """Everything ``/metrics`` exports; the service updates it, :meth:`render` writes the text format.

    ``dead_letter_count``: reads the store's dead-letter count (see :class:`StreamMetrics`).

    Deployment and table labels are only ever names the store knows (the service checks before counting), so a
    client cannot grow the label set by requesting made-up names.
    """

    def __init__(self, dead_letter_count: Callable[[], int] | None = None) -> None:
        self.http: dict[tuple[str, str, int], int] = {}
        self.requests: dict[str, int] = {}
        self.request_rows: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.latency: dict[str, Histogram] = {}
        self.wal_append = Histogram(WAL_APPEND_BUCKETS)
        self.stream = StreamMetrics(dead_letter_count)
        self.drift = ServingDrift()
        self.consistency: dict[str, _Consistency] = {}

    def count_http(self, route: str, method: str, status: int) -> None:
        key = (route, method, status)
        self.http[key] = self.http.get(key, 0) + 1

    def observe_request(self, deployment: str, seconds: float, rows: int, ok: bool) -> None:
        self.requests[deployment] = self.requests.get(deployment, 0) + 1
        self.request_rows[deployment] = self.request_rows.get(deployment, 0) + rows
        if not ok:
            self.errors[deployment] = self.errors.get(deployment, 0) + 1
        histogram = self.latency.get(deployment)
        if histogram is None:
            histogram = self.latency[deployment] = Histogram(LATENCY_BUCKETS)
        histogram.observe(seconds)

    def observe_verify(self, report: ConsistencyReport) -> None:
        """The figures of a verify of the logged (sampled) requests: values compared and mismatched (a NULL on one
        side only counts as a mismatch), and their ratio as of this verify."""
        compared = sum(f.compared for f in report.features)
        state = self.consistency.setdefault(report.deployment, _Consistency())
        state.compared += compared
        state.mismatched += report.mismatches
        state.ratio = report.mismatches / compared if compared else 0.0

    def render(self, store: StoreFigures) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        out = _Writer()
        out.family("openfeat_build_info", "gauge", "OpenFeat's version (the value is always 1).")
        out.sample(
            "openfeat_build_info", {"version": openfeat_core.__version__, "python": platform.python_version()}, 1
        )
        for name, kind, help_text, value in process_figures():
            out.family(name, kind, help_text)
            out.sample(name, {}, value)

        out.family("openfeat_http_requests_total", "counter", "HTTP requests by route template, method and status.")
        for (route, method, status), v in sorted(self.http.items()):
            out.sample("openfeat_http_requests_total", {"route": route, "method": method, "status": str(status)}, v)
        for name, help_text, samples in (
            ("openfeat_deployment_requests_total", "Feature requests per deployment.", self.requests),
            ("openfeat_deployment_request_rows_total", "Request rows computed per deployment.", self.request_rows),
            ("openfeat_deployment_errors_total", "Failed feature requests per deployment.", self.errors),
        ):
            out.family(name, "counter", help_text)
            for deployment, v in sorted(samples.items()):
                out.sample(name, {"deployment": deployment}, v)
        out.histograms(
            "openfeat_deployment_request_duration_seconds",
            "Feature request latency per deployment (parse, compute, encode), in seconds.",
            {(("deployment", d),): h for d, h in sorted(self.latency.items())},
        )
        self._render_tables(out, store)
        self._render_durability(out, store.durability)
        self._render_stream(out, store)
        self._render_consistency(out)
        self.drift.set_references(store.references)
        self._render_drift(out)
        return out.text()

    @staticmethod
    def _render_tables(out: _Writer, store: StoreFigures) -> None:
        for key, metric, kind, help_text in (
            ("rows", "openfeat_table_rows", "gauge", "Rows stored per table (after TTL eviction)."),
            ("bytes", "openfeat_table_bytes", "gauge", "Arrow bytes of the rows stored per table."),
            ("inserted", "openfeat_table_rows_inserted_total", "counter", "Rows inserted per table (any route)."),
            ("evicted", "openfeat_table_evicted_rows_total", "counter", "Rows evicted by TTL per table."),
        ):
            out.family(metric, kind, help_text)
            for table, figures in sorted(store.tables.items()):
                out.sample(metric, {"table": table}, figures[key])

    def _render_durability(self, out: _Writer, durability: Mapping[str, Any]) -> None:
        if not durability:
            return
        out.histograms(
            "openfeat_wal_append_duration_seconds",
            "Write-ahead log appends (write and fsync by policy) of this process, in seconds.",
            {(): self.wal_append},
        )
        written = durability["last_snapshot_at"]
        for metric, kind, value, help_text in (
            (
                "openfeat_wal_bytes_since_snapshot",
                "gauge",
                durability["log_bytes_since_snapshot"],
                "Bytes of write-ahead log written since the last snapshot (what a restart replays).",
            ),
            (
                "openfeat_wal_entries_since_snapshot",
                "gauge",
                durability["log_entries_since_snapshot"],
                "Write-ahead log entries written since the last snapshot (what a restart replays).",
            ),
            # Without a snapshot yet, no sample: a made-up time would read as a real one.
            (
                "openfeat_snapshot_last_success_timestamp_seconds",
                "gauge",
                written,
                "When the snapshot a restart starts from was written, in seconds since the epoch.",
            ),
            (
                "openfeat_snapshot_age_seconds",
                "gauge",
                None if written is None else max(0.0, time.time() - written),
                "Seconds since the snapshot a restart starts from was written.",
            ),
            (
                "openfeat_snapshot_running",
                "gauge",
                int(durability["snapshot_running"]),
                "1 while a snapshot is written.",
            ),
            ("openfeat_snapshots_written_total", "counter", durability["snapshots_written"], "Snapshots written."),
            (
                "openfeat_snapshot_failures_total",
                "counter",
                durability["snapshot_failures"],
                "Snapshots that failed in this process (the log is kept; automatic ones are retried).",
            ),
        ):
            out.family(metric, kind, help_text)
            if value is not None:
                out.sample(metric, {}, value)

    def _render_stream(self, out: _Writer, store: StoreFigures) -> None:
        if not (store.positions or store.dead_letters or self.stream.active):
            return
        events, lag = self.stream.snapshot()
        out.family("openfeat_stream_events_total", "counter", "Kafka messages consumed by outcome (good: stored).")
        for outcome, v in sorted(events.items()):
            out.sample("openfeat_stream_events_total", {"outcome": outcome}, v)
        out.family(
            "openfeat_stream_lag_messages", "gauge", "Messages of a partition behind its high watermark, per partition."
        )
        for (topic, partition), v in sorted(lag.items()):
            out.sample("openfeat_stream_lag_messages", {"topic": topic, "partition": str(partition)}, v)
        out.family("openfeat_stream_position", "gauge", "Next offset stored per consumed partition.")
        for (topic, partition), offset in sorted(store.positions.items()):
            out.sample("openfeat_stream_position", {"topic": topic, "partition": str(partition)}, offset)
        out.histograms(
            "openfeat_stream_freshness_seconds",
            "Seconds from a message's Kafka timestamp to its rows being stored.",
            {(): self.stream.freshness},
        )
        out.family("openfeat_stream_dead_letters_total", "counter", "Bad messages recorded as dead letters (durable).")
        out.sample("openfeat_stream_dead_letters_total", {}, store.dead_letters)

    def _render_consistency(self, out: _Writer) -> None:
        if not self.consistency:
            return
        for metric, kind, help_text, attribute in (
            (
                "openfeat_online_offline_mismatch_ratio",
                "gauge",
                "Share of feature values of the sampled requests that the latest verify found different offline.",
                "ratio",
            ),
            ("openfeat_verify_values_total", "counter", "Feature values compared by verify.", "compared"),
            (
                "openfeat_verify_mismatched_values_total",
                "counter",
                "Feature values that verify found different offline (or NULL on one side only).",
                "mismatched",
            ),
        ):
            out.family(metric, kind, help_text)
            for deployment, state in sorted(self.consistency.items()):
                out.sample(metric, {"deployment": deployment}, getattr(state, attribute))

    def _render_drift(self, out: _Writer) -> None:
        psi, rows, dropped = self.drift.figures()
        if not rows:
            return
        out.family(
            "openfeat_serving_feature_psi",
            "gauge",
            f"Population stability index of the values served in the last {self.drift.window_seconds:g} s against "
            "the training set's (the deployment's reference profile), per feature.",
        )
        for (deployment, feature), value in sorted(psi.items()):
            out.sample("openfeat_serving_feature_psi", {"deployment": deployment, "feature": feature}, value)
        out.family("openfeat_serving_drift_window_rows", "gauge", "Served rows in the drift window, per deployment.")
        for deployment, n in sorted(rows.items()):
            out.sample("openfeat_serving_drift_window_rows", {"deployment": deployment}, n)
        out.family(
            "openfeat_serving_drift_dropped_rows_total",
            "counter",
            "Served rows left out of the drift counts (more than the pending limit between two scrapes).",
        )
        for deployment in sorted(rows):
            out.sample(
                "openfeat_serving_drift_dropped_rows_total", {"deployment": deployment}, dropped.get(deployment, 0)
            )


def process_figures() -> list[tuple[str, str, str, float]]:
    """The standard ``process_*`` metrics of this process, from ``/proc`` (Linux); elsewhere only the CPU time and
    the file descriptor limit, from :mod:`resource`."""
    figures: list[tuple[str, str, str, float]] = []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/stat", "rb") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith(b"btime"))
        # Fields after the command name, counted from 3 (state) in proc(5): utime 14, stime 15, starttime 22,
        # vsize 23, rss 24.
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        figures += [
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", float(fields[20])),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", float(int(fields[21]) * page)),
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since the epoch, in seconds.",
                boot + int(fields[19]) / ticks,
            ),
            ("process_open_fds", "gauge", "Open file descriptors.", float(len(os.listdir("/proc/self/fd")))),
        ]
    except (OSError, ValueError, IndexError, StopIteration):
        pass  # not Linux: the figures /proc gives are left out rather than made up
    figures.append(("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.", cpu))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        figures.append(("process_max_fds", "gauge", "Maximum number of open file descriptors.", float(soft)))
    return figures


class _Writer:
    """The text format: ``# HELP``/``# TYPE`` lines, then samples with escaped label values."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._lines += [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._lines.append(f"{name}{_labels(labels.items())} {_number(value)}")

    def histograms(self, name: str, help_text: str, series: Mapping[tuple[tuple[str, str], ...], Histogram]) -> None:
        self.family(name, "histogram", help_text)
        for labels, histogram in series.items():
            buckets, count, total = histogram.samples()
            for bound, n in buckets:
                self._lines.append(f"{name}_bucket{_labels((*labels, ('le', bound)))} {n}")
            self._lines.append(f"{name}_sum{_labels(labels)} {_number(total)}")
            self._lines.append(f"{name}_count{_labels(labels)} {count}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return f"{{{inner}}}" if inner else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value or bucket bound as Prometheus prints it (integers without a point, floats by ``repr``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value)) if isinstance(value, int) else f"{value:.1f}"
    return repr(float(value))
