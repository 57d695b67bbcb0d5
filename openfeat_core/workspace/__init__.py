"""The OpenFeat workspace: versioned offline tables shared between orchestrator tasks.

See :mod:`openfeat_core.workspace.store` for the layout and the commit protocol, and
:mod:`openfeat_core.workspace.storage` for its atomic writes; a workspace root is named like any data
(:mod:`openfeat_core.io.location`: paths, ``file://``, ``s3://`` with storage options).
"""

from openfeat_core.workspace.store import ConflictError, TableData, Workspace, validate_name
from openfeat_core.workspace.version import LINEAGE_KEY, TableVersion

__all__ = ["LINEAGE_KEY", "ConflictError", "TableData", "TableVersion", "Workspace", "validate_name"]
