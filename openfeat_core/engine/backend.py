"""Where the batch executor is chosen: a backend runs a bound plan over named tables.

The tasks and :func:`openfeat_core.compute` never call an executor directly: they ask :func:`backend` for one,
so a new engine (a Spark backend, say) is a new module that calls :func:`register_backend`, not edits across the
tasks. The single-machine engine (:class:`LocalBackend`, name ``"local"``) is the default; the environment variable
``OPENFEAT_BACKEND`` chooses another one for a whole process (an orchestrator task is one process), and a caller
may name one explicitly.

The online store does not go through this seam: a request is answered in process from the store's own rows, by
the local executor's request mode.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Protocol

import pyarrow as pa

from openfeat_core.engine.executor import execute
from openfeat_core.errors import Failure, OpenFeatError
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select

#: The environment variable naming the backend used when a caller names none.
BACKEND_ENV = "OPENFEAT_BACKEND"
#: The backend used when neither the caller nor ``OPENFEAT_BACKEND`` names one.
DEFAULT_BACKEND = "local"


class Backend(Protocol):
    """An engine that evaluates a bound plan.

    Attributes:
        name: the name it is registered under (what ``OPENFEAT_BACKEND`` says).
    """

    name: str

    def execute(
        self, plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
    ) -> pa.Table:
        """Run ``plan`` over ``tables`` and return its result.

        Args:
            plan: the bound query (:func:`openfeat_core.plan_sql`).
            tables: table name → Arrow table; every table the plan scans. In request mode the main table's entry
                holds the stored rows.
            ctx: evaluation settings (the time zone).
            requests: request mode: rows of the main table to compute as requests against ``tables`` (each the
                newest row at its time, not stored); one output row per request row. None: batch mode, one output
                row per row of the main table (per group for GROUP BY).
        """
        ...


class UnknownBackendError(OpenFeatError):
    """The backend named (by the caller or ``OPENFEAT_BACKEND``) is not registered; the message lists those that are."""

    failure = Failure.USAGE


class LocalBackend:
    """The single-machine engine: the vectorised executor of :mod:`openfeat_core.engine.executor`, in this process."""

    name = DEFAULT_BACKEND

    def execute(
        self, plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
    ) -> pa.Table:
        """See :meth:`Backend.execute`."""
        return execute(plan, tables, ctx, requests=requests)


_FACTORIES: dict[str, Callable[[], Backend]] = {DEFAULT_BACKEND: LocalBackend}
#: Backends whose module registers them on import, imported on first use: they need optional packages
#: (``openfeat[spark]``) that ``import openfeat_core`` must not load.
_LAZY: dict[str, str] = {"spark": "openfeat_core.engine.spark.backend"}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``factory`` the backend called ``name``: :func:`backend` calls it each time that name is asked for.

    Raises:
        ValueError: ``name`` is already registered (two modules claiming one name is a packaging mistake that
            would otherwise be decided silently by import order).
    """
    if name in _FACTORIES:
        raise ValueError(f"backend {name!r} is already registered")
    _FACTORIES[name] = factory


def backend_names() -> list[str]:
    """The names of the registered backends, sorted."""
    return sorted(set(_FACTORIES) | set(_LAZY))


def backend(name: str | None = None) -> Backend:
    """The backend called ``name``; None: the one ``OPENFEAT_BACKEND`` names, else the local engine.

    Raises:
        UnknownBackendError: no backend is registered under that name.
    """
    chosen = name or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    if chosen not in _FACTORIES and chosen in _LAZY:
        try:
            importlib.import_module(_LAZY[chosen])
        except ImportError as e:
            hint = f"pip install 'openfeat[{chosen}]'"
            raise UnknownBackendError(f"backend {chosen!r} cannot be loaded ({e}): {hint}") from None
    factory = _FACTORIES.get(chosen)
    if factory is None:
        source = "" if name else f" (from ${BACKEND_ENV})"
        raise UnknownBackendError(f"unknown backend {chosen!r}{source}; registered: {', '.join(backend_names())}")
    return factory()
