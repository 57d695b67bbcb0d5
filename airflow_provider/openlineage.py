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

What a task read and wrote comes from the core (:meth:`openfeat_core.tasks.TaskResult.datasets`, a list of
:class:`openfeat_core.tasks.DatasetRef`); this module only names those datasets the OpenLineage way. Before a task
ran (``on_start``, ``on_failure``) the operators describe the same refs from their arguments.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openfeat_core.tasks import DatasetRef

__all__ = [
    "file_dataset",
    "online_dataset",
    "openlineage_name",
    "operator_lineage",
    "result_datasets",
    "workspace_dataset",
    "workspace_namespace",
]


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


def workspace_dataset(workspace: str, table: str, *, version: int | None = None) -> DatasetRef:
    """A workspace table (at a version, when known), named from an operator's arguments."""
    from openfeat_core.tasks.base import table_ref

    return table_ref(workspace, table, version)


def online_dataset(target: str, deployment: str) -> DatasetRef:
    """An online deployment of a store directory or a service URL, named from an operator's arguments."""
    from openfeat_core.tasks.base import deployment_ref

    return deployment_ref(target, deployment)


def file_dataset(uri: str) -> DatasetRef:
    """A file, named from an operator's arguments."""
    from openfeat_core.tasks.base import file_ref

    return file_ref(uri)


def result_datasets(result: Mapping[str, Any]) -> tuple[list[DatasetRef], list[DatasetRef]]:
    """``(inputs, outputs)`` of a task's result dict (the XCom), from the core's ``TaskResult.datasets()``."""
    from openfeat_core.tasks import result_from_dict

    found = result_from_dict(result).datasets()
    return list(found.inputs), list(found.outputs)


def openlineage_name(ref: DatasetRef) -> tuple[str, str]:
    """``(namespace, name)`` of a dataset (see the module's table)."""
    if ref.kind != "file":
        return _openfeat_namespace(ref.uri), ref.name
    parsed = urllib.parse.urlsplit(ref.uri)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")
    path = parsed.path if parsed.scheme == "file" else ref.uri
    return "file", os.path.abspath(os.path.expanduser(path))


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
        columns = schema_columns(ref.schema)
        if columns:
            found["schema"] = SchemaDatasetFacet(
                fields=[SchemaDatasetFacetFields(name=name, type=type_name) for name, type_name in columns]
            )
        if ref.version is not None:
            found["version"] = DatasetVersionDatasetFacet(datasetVersion=str(ref.version))
        return found

    def input_dataset(ref: DatasetRef) -> Any:
        namespace, name = openlineage_name(ref)
        return InputDataset(namespace=namespace, name=name, facets=facets(ref))

    def output_dataset(ref: DatasetRef) -> Any:
        namespace, name = openlineage_name(ref)
        statistics: dict[str, Any] = {}
        if ref.rows is not None:
            statistics["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=ref.rows, size=ref.bytes)
        return OutputDataset(namespace=namespace, name=name, facets=facets(ref), outputFacets=statistics)

    return OperatorLineage(
        inputs=[input_dataset(ref) for ref in inputs],
        outputs=[output_dataset(ref) for ref in outputs],
        job_facets={"sql": SQLJobFacet(query=sql)} if sql else {},
    )
