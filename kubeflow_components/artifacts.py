"""OpenFeat's KFP artifact types (after Google Cloud Pipeline Components' ``google.BQTable``).

KFP 2.17 accepts only the ``system`` and ``google`` namespaces as an artifact's ``schema_title`` (the compiler
refuses ``openfeat.*``: ``kfp.dsl.types.type_utils.validate_schema_title``). So the classes below are Python
subclasses of ``dsl.Artifact`` whose IR type is ``system.Artifact``, and OpenFeat's type name is carried in their
metadata as ``openfeat_type`` (:data:`WORKSPACE_TABLE`, :data:`DEPLOYMENT`), which the components check on input.

============================ ===================================================================================
type                         metadata
============================ ===================================================================================
``openfeat.WorkspaceTable``  ``openfeat_type``, ``workspace`` (URI), ``table``, ``version``, ``schema``
                             (``"name type, ..."``), ``rows``, ``digest`` (of the data), ``plan_digest``
                             (compute; empty for an ingest), ``reused``, ``read`` (the result's ``datasets()``
                             inputs); its file holds the task's result as JSON
``openfeat.Deployment``      ``openfeat_type``, ``name``, ``version``, ``new_version``, ``digest``, ``target``,
                             ``store`` or ``url``, ``indexes``, ``loaded`` (table versions loaded)
============================ ===================================================================================

The exported training set is a plain ``dsl.Dataset`` (metadata ``format``, ``rows``, ``feature_map``...), so any
training component takes it as ``Input[Dataset]`` and reads ``.path``.
"""

from __future__ import annotations

from kfp import dsl

__all__ = ["DEPLOYMENT", "WORKSPACE_TABLE", "Deployment", "WorkspaceTable"]

#: OpenFeat's type names (metadata ``openfeat_type``).
WORKSPACE_TABLE = "openfeat.WorkspaceTable"
DEPLOYMENT = "openfeat.Deployment"


class WorkspaceTable(dsl.Artifact):
    """A version of a table in an OpenFeat workspace. The data stays in the workspace; the artifact names it."""

    schema_title = "system.Artifact"
    schema_version = "0.0.1"
    openfeat_type = WORKSPACE_TABLE


class Deployment(dsl.Artifact):
    """A deployment of a feature script in an online store or service."""

    schema_title = "system.Artifact"
    schema_version = "0.0.1"
    openfeat_type = DEPLOYMENT
