"""The job list of a store: what ``SHOW JOBS``, ``SHOW JOB id`` and ``STOP JOB id`` answer.

OpenMLDB runs its offline statements (an offline ``SELECT``, ``SELECT ... INTO OUTFILE`` in offline mode, a
``LOAD DATA`` of the cluster loader) as Spark jobs of the TaskManager: each gets an id and a state, and the job
table ``__INTERNAL_DB.JOB_INFO`` keeps them. OpenFeat runs those statements synchronously, in the statement runner;
:class:`JobLog` records each one as a job that has already ended, so that the job statements answer in OpenMLDB's
shape: the columns of ``JOB_INFO`` (``id``, ``job_type``, ``state``, ``start_time``, ``end_time``, ``parameter``,
``cluster``, ``application_id``, ``error``), job types ``RunBatchAndShow`` (offline SELECT), ``RunBatchSql``
(offline INTO OUTFILE), ``ImportOfflineData`` and ``ImportOnlineData`` (LOAD DATA), ``InsertOfflineData``
(offline INSERT), states ``FINISHED`` and ``FAILED`` (a job is never seen ``RUNNING``: the statement that started it
has returned).

The differences: the list lives in memory, one per :class:`~openfeat_core.online.store.OnlineStore` (it is not a
table, is not kept across restarts, and holds the :data:`MAX_JOBS` most recent jobs); ``cluster`` is ``local``
(this process) and ``application_id`` NULL (there is no Spark application); ``STOP JOB`` of an ended job leaves it
as it is and answers its row, as OpenMLDB does for a job that has ended.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from typing import Literal, TypeAlias

import pyarrow as pa

from openfeat_core.errors import DataError

__all__ = ["JOB_SCHEMA", "MAX_JOBS", "Job", "JobLog", "JobType", "jobs_of"]

JobType: TypeAlias = Literal[
    "RunBatchAndShow", "RunBatchSql", "ImportOfflineData", "ImportOnlineData", "InsertOfflineData"
]
#: How many jobs a :class:`JobLog` keeps (the oldest are forgotten first).
MAX_JOBS = 10_000
#: The columns of ``SHOW JOBS`` and ``SHOW JOB id``: OpenMLDB's ``JOB_INFO`` table.
JOB_SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("job_type", pa.string()),
        ("state", pa.string()),
        ("start_time", pa.timestamp("ms")),
        ("end_time", pa.timestamp("ms")),
        ("parameter", pa.string()),
        ("cluster", pa.string()),
        ("application_id", pa.string()),
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class Job:
    """One ended job: times are epoch milliseconds; ``parameter`` is the statement's text; ``error`` what made a
    ``FAILED`` job fail (None for a ``FINISHED`` one)."""

    id: int
    job_type: JobType
    state: Literal["FINISHED", "FAILED"]
    start_time: int
    end_time: int
    parameter: str
    cluster: str = "local"
    application_id: str | None = None
    error: str | None = None


class JobLog:
    """The jobs of one store, numbered from 1 in the order they started. Thread-safe."""

    def __init__(self, max_jobs: int = MAX_JOBS) -> None:
        self._jobs: deque[Job] = deque(maxlen=max_jobs)
        self._next_id = 1
        self._lock = threading.Lock()

    @contextmanager
    def run(self, job_type: JobType, statement: str) -> Iterator[None]:
        """Record the statement run inside the ``with`` block as a job: ``FINISHED`` if the block returns,
        ``FAILED`` (with the exception's message) if it raises; the exception goes on."""
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
        start = time.time_ns() // 1_000_000
        try:
            yield
        except BaseException as e:
            self._add(
                Job(
                    job_id,
                    job_type,
                    "FAILED",
                    start,
                    time.time_ns() // 1_000_000,
                    statement,
                    error=str(e) or type(e).__name__,
                )
            )
            raise
        self._add(Job(job_id, job_type, "FINISHED", start, time.time_ns() // 1_000_000, statement))

    def _add(self, job: Job) -> None:
        with self._lock:
            self._jobs.append(job)

    def jobs(self) -> list[Job]:
        """Every job kept, oldest first."""
        with self._lock:
            return sorted(self._jobs, key=lambda j: j.id)

    def get(self, job_id: int) -> Job:
        """The job ``job_id``.

        Raises:
            DataError: there is no such job (OpenMLDB's ``Job not found``).
        """
        with self._lock:
            for job in self._jobs:
                if job.id == job_id:
                    return job
        raise DataError(f"Job not found: {job_id}")

    @staticmethod
    def table(jobs: list[Job]) -> pa.Table:
        """``jobs`` as rows of :data:`JOB_SCHEMA`."""
        rows = [astuple(j) for j in jobs]
        columns = [pa.array([row[i] for row in rows], f.type) for i, f in enumerate(JOB_SCHEMA)]
        return pa.table(columns, schema=JOB_SCHEMA)


_LOGS: weakref.WeakKeyDictionary[object, JobLog] = weakref.WeakKeyDictionary()
_LOGS_LOCK = threading.Lock()


def jobs_of(store: object) -> JobLog:
    """The job list of ``store`` (made on first use; it goes away with the store)."""
    with _LOGS_LOCK:
        log = _LOGS.get(store)
        if log is None:
            log = _LOGS[store] = JobLog()
        return log
