"""OpenFeat core: OpenMLDB-compatible feature SQL, computed offline (and online) with one engine."""

from typing import TYPE_CHECKING, Any

from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.offline.api import compute
from openfeat_core.sql.binder import plan_sql

if TYPE_CHECKING:
    from openfeat_core.online.request import request_replay
    from openfeat_core.online.store import OnlineStore

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "NotSupportedError",
    "OnlineStore",
    "OpenFeatError",
    "OpenFeatSQLError",
    "__version__",
    "compute",
    "plan_sql",
    "request_replay",
]

# The online store is imported on first use: a batch task (a fresh process) computing offline features never needs it.
_LAZY = {"OnlineStore": "openfeat_core.online.store", "request_replay": "openfeat_core.online.request"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openfeat_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
