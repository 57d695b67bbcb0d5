"""Plan nodes as they travel to the executors: canonical JSON with a format version and a digest.

JSON rather than pickle: every plan node already has a canonical JSON form
(:func:`openfeat_core.plan.nodes.to_jsonable`, used for plan digests); it is a few KB, readable in a task's closure
when a job fails, and an executor running another OpenFeat version fails on the version check with a clear message
instead of unpickling classes whose fields changed. No SQL is parsed on the executors.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from openfeat_core.errors import Failure, OpenFeatError
from openfeat_core.plan.nodes import from_jsonable, to_jsonable

#: Bumped when the shape of the shipped payload changes.
FORMAT = 1


class PlanVersionError(OpenFeatError):
    """An executor got a plan written by another OpenFeat version (or a corrupted one)."""

    failure = Failure.USAGE


def _openfeat_version() -> str:
    try:
        return version("openfeat")
    except PackageNotFoundError:  # a source tree on PYTHONPATH without installed metadata
        return "unknown"


def encode(node: Any) -> str:
    """``node`` (a plan node, or a tuple of them) as a versioned JSON payload."""
    body = json.dumps(to_jsonable(node), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps({"format": FORMAT, "openfeat": _openfeat_version(), "digest": digest, "plan": body})


@lru_cache(maxsize=64)
def decode(payload: str) -> Any:
    """The node :func:`encode` wrote (cached per worker: every chunk of a stage decodes the same payload).

    Raises:
        PlanVersionError: the payload comes from another format or OpenFeat version, or its digest is wrong.
    """
    data = json.loads(payload)
    here = _openfeat_version()
    if data.get("format") != FORMAT or data.get("openfeat") != here:
        raise PlanVersionError(
            f"plan written by OpenFeat {data.get('openfeat')} (format {data.get('format')}) but this executor runs "
            f"OpenFeat {here} (format {FORMAT}): executors need the driver's environment (see README, Running on Spark)"
        )
    body = data["plan"]
    if hashlib.sha256(body.encode()).hexdigest() != data.get("digest"):
        raise PlanVersionError("plan payload does not match its digest")
    return from_jsonable(json.loads(body))
