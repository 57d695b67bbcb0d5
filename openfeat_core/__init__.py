"""OpenFeat core: OpenMLDB-compatible feature SQL, computed offline (and online) with one engine."""

from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.offline.api import compute
from openfeat_core.online.request import request_replay
from openfeat_core.online.store import OnlineStore
from openfeat_core.sql.binder import plan_sql

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
