"""The Spark backend's knobs. Each is a real setting of the backend; the tests force them to edge values."""

from __future__ import annotations

from dataclasses import dataclass

from openfeat_core.errors import Failure, OpenFeatError

#: LAST JOIN strategies: ``auto`` broadcasts a right side of at most ``broadcast_rows`` rows, else co-partitions.
LAST_JOIN_STRATEGIES = ("auto", "broadcast", "partitioned")


class SparkOptionsError(OpenFeatError):
    """A :class:`SparkOptions` value is out of range."""

    failure = Failure.USAGE


@dataclass(frozen=True)
class SparkOptions:
    """How the Spark backend cuts the work.

    Attributes:
        chunk_rows: the least number of rows handed to the executor at once (chunks end at a key boundary, so
            a chunk holds whole keys; 1 makes every key its own chunk). Bounds Python worker memory.
        partitions: shuffle partitions of every stage; None: ``spark.sql.shuffle.partitions``.
        skew_rows: a window key with more rows than this is hot: it is split into time slices of about this many
            rows, each with a halo of the earlier rows its frames can reach. None: no skew pass.
        skew_max_slices: at most this many slices per hot key.
        broadcast_rows: ``lastjoin="auto"`` broadcasts a LAST JOIN's right side of at most this many rows.
        lastjoin: ``auto``, ``broadcast`` or ``partitioned`` (see :data:`LAST_JOIN_STRATEGIES`).
        preserve_order: sort the result by input order (as the local engine returns it): the result is
            checkpointed locally (executors' memory, then disk) and range-shuffled by row id. False skips both
            when the consumer does not care about row order.
    """

    chunk_rows: int = 1 << 18
    partitions: int | None = None
    skew_rows: int | None = 5_000_000
    skew_max_slices: int = 64
    broadcast_rows: int = 2_000_000
    lastjoin: str = "auto"
    preserve_order: bool = True

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise SparkOptionsError(f"chunk_rows must be >= 1, got {self.chunk_rows}")
        if self.partitions is not None and self.partitions < 1:
            raise SparkOptionsError(f"partitions must be >= 1, got {self.partitions}")
        if self.skew_rows is not None and self.skew_rows < 1:
            raise SparkOptionsError(f"skew_rows must be >= 1 or None, got {self.skew_rows}")
        if self.skew_max_slices < 2:
            raise SparkOptionsError(f"skew_max_slices must be >= 2, got {self.skew_max_slices}")
        if self.lastjoin not in LAST_JOIN_STRATEGIES:
            raise SparkOptionsError(f"lastjoin must be one of {', '.join(LAST_JOIN_STRATEGIES)}, got {self.lastjoin!r}")
