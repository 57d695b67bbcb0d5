"""OpenLineage datasets of the OpenFeat operators, for ``apache-airflow-providers-openlineage``.

The operators implement ``get_openlineage_facets_on_start/_on_complete/_on_failure`` with these functions. The
OpenLineage classes are imported inside them, so the provider works without the OpenLineage provider installed
(Airflow only calls the methods when it is).

Dataset naming (https://openlineage.io/docs/spec/naming):

============================== =================================== ==========================================
what                           namespace                           name
============================== =================================== ==========================================
workspace table                ``openfeat+file:///abs/workspace``  the table name
                               or ``openfeat+s3://bucket/prefix``
online deployment              ``openfeat+file:///abs/store`` or   the deployment name
                               ``openfeat+http://host:port``
file (source or export)        ``file``                            its absolute path
object (source or export)      ``s3://bucket``                     its key
============================== =================================== ==========================================

A table's facets carry its schema (``schema``) and version (``version``); an output also carries its row count
and size (``outputStatistics``); ``compute`` and ``deploy`` jobs carry their SQL (``sql``).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DatasetRef",
    "file_dataset",
    "online_dataset",
    "operator_lineage",
    "workspace_dataset",
    "workspace_namespace",
]


@dataclass(frozen=True)
class DatasetRef:
    """An OpenLineage dataset, independent of the OpenLineage client (turned into one by
    :func:`operator_lineage`).

    Attributes:
        namespace: the dataset's namespace.
        name: its name within the namespace.
        schema: ``[(column, type)]`` (OpenMLDB type names), when known.
        version: the dataset version (a workspace table version), when known.
        rows: rows written (outputs only), when known.
        size: bytes written (outputs only), when known.
    """

    namespace: str
    name: str
    schema: tuple[tuple[str, str], ...] = ()
    version: str | None = None
    rows: int | None = None
    size: int | None = None


def _openfeat_namespace(location: str) -> str:
    """``openfeat+<URI>`` of a local path (as ``file://``) or a URI."""
    if "://" in location:
        return "openfeat+" + location.rstrip("/")
    return "openfeat+file://" + os.path.abspath(os.path.expanduser(location)).rstrip("/")


def workspace_namespace(workspace: str) -> str:
    """The namespace of a workspace's tables."""
    return _openfeat_namespace(workspace)


def schema_columns(schema: str | None) -> tuple[tuple[str, str], ...]:
    """``"id bigint, ts timestamp"`` (a result's schema text) as ``(("id", "bigint"), ("ts", "timestamp"))``."""
    if not schema:
        return ()
    columns = []
    for part in schema.split(","):
        name, _, type_name = part.strip().partition(" ")
        if name:
            columns.append((name, type_name.strip()))
    return tuple(columns)


def workspace_dataset(
    workspace: str,
    table: str,
    *,
    version: int | None = None,
    schema: str | None = None,
    rows: int | None = None,
    size: int | None = None,
) -> DatasetRef:
    """A workspace table (at a version, when known)."""
    return DatasetRef(
        workspace_namespace(workspace),
        table,
        schema=schema_columns(schema),
        version=None if version is None else str(version),
        rows=rows,
        size=size,
    )


def online_dataset(target: str, deployment: str, *, schema: Iterable[Mapping[str, str]] = ()) -> DatasetRef:
    """An online deployment of a store directory or a service URL."""
    return DatasetRef(_openfeat_namespace(target), deployment, schema=tuple((c["name"], c["type"]) for c in schema))


def file_dataset(uri: str, *, rows: int | None = None, size: int | None = None) -> DatasetRef:
    """A file: ``file`` + absolute path locally, ``scheme://authority`` + key for an object store."""
    parsed = urllib.parse.urlsplit(uri)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        return DatasetRef(f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/"), rows=rows, size=size)
    path = parsed.path if parsed.scheme == "file" else uri
    return DatasetRef("file", os.path.abspath(os.path.expanduser(path)), rows=rows, size=size)


def operator_lineage(inputs: Iterable[DatasetRef], outputs: Iterable[DatasetRef], sql: str | None = None) -> Any:
    """An ``OperatorLineage`` of OpenLineage datasets with their facets (imported here: see the module docstring).

    Args:
        inputs: datasets read.
        outputs: datasets written.
        sql: the job's SQL, attached as the ``sql`` job facet.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
        SQLJobFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    def facets(ref: DatasetRef) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if ref.schema:
            found["schema"] = SchemaDatasetFacet(
                fields=[SchemaDatasetFacetFields(name=name, type=type_name) for name, type_name in ref.schema]
            )
        if ref.version is not None:
            found["version"] = DatasetVersionDatasetFacet(datasetVersion=ref.version)
        return found

    def output(ref: DatasetRef) -> Any:
        statistics: dict[str, Any] = {}
        if ref.rows is not None:
            statistics["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=ref.rows, size=ref.size)
        return OutputDataset(namespace=ref.namespace, name=ref.name, facets=facets(ref), outputFacets=statistics)

    return OperatorLineage(
        inputs=[InputDataset(namespace=ref.namespace, name=ref.name, facets=facets(ref)) for ref in inputs],
        outputs=[output(ref) for ref in outputs],
        job_facets={"sql": SQLJobFacet(query=sql)} if sql else {},
    )
