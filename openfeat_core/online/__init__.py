"""Online (request-mode) feature computation."""

from openfeat_core.online.request import request_replay

__all__ = ["request_replay"]
