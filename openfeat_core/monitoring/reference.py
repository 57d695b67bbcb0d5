"""The reference profile of a deployment: the statistics of the training set it was deployed from.

A deployment's served features drift when their distribution moves away from the one its model was trained on. The
training set is found as the MLflow hooks find the deploy -> training link, without MLflow: among the workspace's
table versions whose lineage carries the deployment's plan digest (``compute`` records it), the newest one that was
exported (an ``export-*.json`` side file), else the newest one computed. Or it is given: a training-set file (CSV,
Parquet... read as ``openfeat ingest`` reads it).

The profile is JSON, recorded with the deployment in the durable store (``OnlineStore.set_reference``)::

    {"format": 1,
     "source": {"kind": "workspace", "workspace": ..., "table": ..., "version": ..., "task": "export"|"compute"}
               | {"kind": "file", "path": ...},
     "rows": <training rows>,
     "bins": <stats.reference_bins(...)>,            # PSI bins and shares per numeric / categorical feature
     "features": {name: {"kind", "count", "null_rate", "mean", "stddev", "min", "max"}}}

Only the deployment's output features present in the training set are described (keys, timestamps and the label the
training set may carry beside them are not served features).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from openfeat_core.errors import DataError
from openfeat_core.monitoring.stats import reference_bins, table_statistics
from openfeat_core.workspace import TableVersion, Workspace

__all__ = [
    "PROFILE_FORMAT",
    "TrainingSet",
    "file_profile",
    "find_training_set",
    "profile_of",
    "workspace_profile",
]

#: Layout version of a reference profile.
PROFILE_FORMAT = 1
_EXPORT_RECORD_PREFIX = "export-"


@dataclass(frozen=True)
class TrainingSet:
    """The workspace table version a deployment's model was trained on.

    Attributes:
        table: the workspace table.
        version: its version.
        task: ``export`` (the version was exported: the training file) or ``compute`` (computed, never exported).
    """

    table: str
    version: int
    task: str


def find_training_set(ws: Workspace, plan_digest: str) -> TrainingSet | None:
    """The newest exported table version computed from the plan ``plan_digest``, else the newest computed one.

    "Newest" is by commit time; None when no version of any table was computed from that plan.
    """
    exported: list[TableVersion] = []
    computed: list[TableVersion] = []
    for latest in ws.list_tables():
        for info in ws.versions(latest.table):
            if info.lineage.get("plan_digest") != plan_digest:
                continue
            computed.append(info)
            if any(n.startswith(_EXPORT_RECORD_PREFIX) for n in ws.side_files(info.table, info.version)):
                exported.append(info)
    for task, found in (("export", exported), ("compute", computed)):
        if found:
            newest = max(found, key=lambda v: v.created_at)
            return TrainingSet(newest.table, newest.version, task)
    return None


def profile_of(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    num_rows: int,
    features: Sequence[str],
    source: Mapping[str, Any],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """The reference profile of the ``features`` of a training set given as batches (one streaming pass).

    Raises:
        DataError: the training set has none of ``features``.
    """
    present = [f for f in features if f in schema.names]
    if not present:
        raise DataError(
            f"training set {_describe(source)} has none of the deployment's features ({', '.join(features)}); "
            f"its columns: {', '.join(schema.names)}"
        )
    selected = pa.schema([schema.field(f) for f in present])
    stats = table_statistics(batches, selected, num_rows, seed=seed)
    return {
        "format": PROFILE_FORMAT,
        "source": dict(source),
        "rows": num_rows,
        "bins": reference_bins(stats),
        "features": {
            s.name: {
                "kind": s.kind,
                "count": s.count,
                "null_rate": s.null_rate,
                "mean": s.mean,
                "stddev": s.stddev,
                "min": s.minimum,
                "max": s.maximum,
            }
            for s in stats
        },
    }


def workspace_profile(ws: Workspace, training: TrainingSet, features: Sequence[str]) -> dict[str, Any]:
    """The reference profile of a workspace training set (streamed batch by batch; same version, same sample)."""
    info = ws.table_info(training.table, training.version)
    present = [f for f in features if f in info.schema.names]
    seed = int(info.digest.removeprefix("sha256:")[:8], 16) if info.digest.startswith("sha256:") else 0
    source = {
        "kind": "workspace",
        "workspace": ws.uri,
        "table": training.table,
        "version": training.version,
        "task": training.task,
    }
    batches = ws.iter_batches(info.table, info.version, columns=present or None)
    return profile_of(batches, info.schema, info.num_rows, features, source, seed=seed)


def file_profile(
    path: str | os.PathLike[str],
    features: Sequence[str],
    *,
    timezone: str = "UTC",
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The reference profile of a training-set file (or directory, glob, URI), read as ``openfeat ingest`` reads it.

    Raises:
        DataError: the file cannot be read, or has none of ``features``.
    """
    from openfeat_core.io.ingest import read_source  # the readers are only needed for a file reference

    table = read_source(os.fspath(path), timezone=timezone, storage_options=storage_options).table
    source = {"kind": "file", "path": os.fspath(path)}
    return profile_of(table.to_batches(), table.schema, table.num_rows, features, source)


def _describe(source: Mapping[str, Any]) -> str:
    if source.get("kind") == "workspace":
        return f"{source.get('table')!r} version {source.get('version')} of workspace {source.get('workspace')}"
    return repr(source.get("path"))
