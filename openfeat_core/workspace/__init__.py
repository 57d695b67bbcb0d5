"""The OpenFeat workspace: versioned offline tables shared between orchestrator tasks.

See :mod:`openfeat_core.workspace.store` for the layout and the commit protocol, and
:mod:`openfeat_core.workspace.storage` for the supported URIs and object-store settings.
"""

from openfeat_core.workspace.store import ConflictError, TableData, Workspace, validate_name
from openfeat_core.workspace.version import LINEAGE_KEY, TableVersion

__all__ = ["LINEAGE_KEY", "ConflictError", "TableData", "TableVersion", "Workspace", "validate_name"]
