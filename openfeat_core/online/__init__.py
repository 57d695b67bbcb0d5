"""Online (request-mode) feature computation."""

from openfeat_core.online.request import request_replay
from openfeat_core.online.store import OnlineStore

__all__ = ["OnlineStore", "request_replay"]
