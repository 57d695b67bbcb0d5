"""Lifecycle hooks of the tasks: how tracking integrations (MLflow, OpenLineage...) observe every task run.

After Hamilton's lifecycle adapters: the core never imports a tracking library; an integration implements
:class:`TaskHook` and is either registered in process (:func:`register_hook`) or declared as an entry point of the
group ``openfeat.hooks`` by the package that ships it, which OpenFeat discovers the first time a task runs::

    [project.entry-points."openfeat.hooks"]
    mlflow = "mlflow_hooks:MlflowTrackingHook"     # a hook object, or a class / factory called without arguments

Each task run calls ``before_task`` of every hook (in registration order, entry points last), runs, then calls
``after_task`` in the reverse order, with either the result or the error. The methods take **keyword-only**
arguments and a ``**future`` catch-all, as Hamilton's lifecycle hooks do, so that a later OpenFeat can pass a new
argument without breaking a hook written today::

    class MyHook(BaseTaskHook):
        def before_task(self, *, task_name: str, request: Any, context: TaskContext, **future: Any) -> None: ...

        def after_task(self, *, task_name, request, result, error, context, **future: Any) -> None: ...

A hook without the catch-all is given only the arguments it names; a hook written for the older positional interface
(``before_task(self, task_name, request, context)``, any parameter names) still works, and a warning asks for
keyword-only parameters. A hook that raises is logged (logger
``openfeat.tasks``, with its traceback) and ignored, so a tracking server that is down never fails a pipeline;
a hook whose ``strict`` attribute is true instead fails the task with its error (in ``before_task``, before the
task does anything).

Run ids: every task run gets a fresh ``run_id`` (in the :class:`TaskContext` and in the result). Its
``parent_run_id`` is the request's ``parent_run_id`` or else the environment variable ``OPENFEAT_PARENT_RUN_ID``: an
orchestrator (or a hook, in ``before_task`` of the first task of a pipeline) sets it to the id of the pipeline run so
that the tasks of one run can be grouped (e.g. MLflow child runs under one parent).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "ENTRY_POINT_GROUP",
    "PARENT_RUN_ENV",
    "BaseTaskHook",
    "TaskContext",
    "TaskHook",
    "exported_environment",
    "register_hook",
    "registered_hooks",
    "run_task",
    "unregister_hook",
]

#: Entry point group of hooks discovered at the first task run.
ENTRY_POINT_GROUP = "openfeat.hooks"
#: Environment variable holding the run id of the pipeline run the tasks belong to.
PARENT_RUN_ENV = "OPENFEAT_PARENT_RUN_ID"

logger = logging.getLogger("openfeat.tasks")


@contextmanager
def exported_environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Export ``values`` (a None value leaves that variable as it is) while a task runs, then restore them.

    How an orchestrator adapter hands its run context to the task hooks, which read environment variables (the
    pipeline run id :data:`PARENT_RUN_ENV`, ``MLFLOW_TRACKING_URI``, the orchestrator's own run and task ids).
    """
    wanted = {name: value for name, value in values.items() if value is not None}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


_T = TypeVar("_T")
_H = TypeVar("_H", bound="TaskHook")


@dataclass
class TaskContext:
    """What a hook knows about the task run besides its request and result.

    Attributes:
        task_name: ``ingest``, ``compute``, ``export``, ``deploy`` or ``verify``.
        run_id: this task run's id (32 hex digits), also in the result.
        parent_run_id: the pipeline run this task belongs to (request's ``parent_run_id``, else
            ``$OPENFEAT_PARENT_RUN_ID``), or None.
        started_at: when the task started (UTC).
        attributes: scratch space shared by the hooks of one run, e.g. a tracking run opened in ``before_task`` and
            closed in ``after_task``.
    """

    task_name: str
    run_id: str
    parent_run_id: str | None
    started_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def elapsed(self) -> float:
        """Seconds since the task started."""
        return time.perf_counter() - self._clock


@runtime_checkable
class TaskHook(Protocol):
    """Observes task runs. Implement both methods (or subclass :class:`BaseTaskHook` and override what you need).

    A hook may have a boolean attribute ``strict``: when true, an exception it raises fails the task instead of
    being logged and ignored. Arguments are passed by keyword; ``**future`` receives those a later OpenFeat adds.
    """

    def before_task(self, *, task_name: str, request: Any, context: TaskContext, **future: Any) -> None:
        """Called before the task does anything, with its request (a frozen dataclass; ``request.to_dict()``)."""
        ...

    def after_task(
        self,
        *,
        task_name: str,
        request: Any,
        result: Any | None,
        error: BaseException | None,
        context: TaskContext,
        **future: Any,
    ) -> None:
        """Called when the task ended: ``result`` (``result.to_dict()``) on success, else ``error``."""
        ...


class BaseTaskHook:
    """A hook that does nothing: subclass it and override the methods you need."""

    strict: bool = False

    def before_task(self, *, task_name: str, request: Any, context: TaskContext, **future: Any) -> None:
        """Does nothing."""

    def after_task(
        self,
        *,
        task_name: str,
        request: Any,
        result: Any | None,
        error: BaseException | None,
        context: TaskContext,
        **future: Any,
    ) -> None:
        """Does nothing."""


_lock = threading.Lock()
_registered: list[TaskHook] = []
_discovered: list[TaskHook] | None = None


def register_hook(hook: _H) -> _H:
    """Add ``hook`` to every task run of this process (registering one object twice has no effect); returns it.

    Raises:
        TypeError: ``hook`` lacks ``before_task`` or ``after_task``.
    """
    if not isinstance(hook, TaskHook):
        raise TypeError(f"{hook!r} is not a task hook: it needs before_task() and after_task() methods")
    with _lock:
        if not any(h is hook for h in _registered):
            _registered.append(hook)
    return hook


def unregister_hook(hook: TaskHook) -> None:
    """Remove a hook added with :func:`register_hook` (nothing happens if it is not registered)."""
    with _lock:
        _registered[:] = [h for h in _registered if h is not hook]


def registered_hooks() -> list[TaskHook]:
    """The hooks of a task run: those registered in process, then those of the ``openfeat.hooks`` entry points."""
    with _lock:
        return [*_registered, *_entry_point_hooks()]


def _entry_point_hooks() -> list[TaskHook]:
    """The entry-point hooks, loaded once per process (call with ``_lock`` held); a broken one is logged, skipped."""
    global _discovered
    if _discovered is None:
        found: list[TaskHook] = []
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry.load()
                hook = loaded if isinstance(loaded, TaskHook) and not isinstance(loaded, type) else loaded()
                if not isinstance(hook, TaskHook):
                    raise TypeError(f"{entry.value} gave {hook!r}, which has no before_task()/after_task()")
                found.append(hook)
            except Exception:
                logger.warning("openfeat: ignoring the task hook of entry point %r", entry.value, exc_info=True)
        _discovered = found
    return _discovered


def run_task(task_name: str, request: Any, parent_run_id: str | None, body: Callable[[TaskContext], _T]) -> _T:
    """Run ``body`` as task ``task_name``: build its context, call the hooks around it, return its result.

    Args:
        task_name: the task's name, as hooks see it.
        request: the task's request, as hooks see it.
        parent_run_id: the request's parent run id (None: ``$OPENFEAT_PARENT_RUN_ID``, if set).
        body: the task itself; it receives the context (for its run ids and clock).

    Raises:
        Exception: whatever ``body`` raises (after the hooks saw it), or the error of a strict hook.
    """
    context = TaskContext(
        task_name=task_name,
        run_id=uuid.uuid4().hex,
        parent_run_id=parent_run_id or os.environ.get(PARENT_RUN_ENV) or None,
        started_at=datetime.now(timezone.utc),
    )
    hooks = registered_hooks()
    entered: list[TaskHook] = []
    try:
        for hook in hooks:
            _call(hook, "before_task", task_name=task_name, request=request, context=context)
            entered.append(hook)
        result = body(context)
    except BaseException as error:
        for hook in reversed(entered):
            try:
                _call(
                    hook, "after_task", task_name=task_name, request=request, result=None, error=error, context=context
                )
            except Exception:
                # A strict hook failing on a failed task: the task's own error is the one to report.
                logger.warning("openfeat: strict task hook %r failed after task %s failed", hook, task_name)
        raise
    strict_error: Exception | None = None
    for hook in reversed(entered):
        try:
            _call(hook, "after_task", task_name=task_name, request=request, result=result, error=None, context=context)
        except Exception as e:  # a strict hook: the remaining hooks still see the result first
            strict_error = strict_error or e
    if strict_error is not None:
        raise strict_error
    return result


# The arguments of each method, in the order of the positional interface that came before the keyword-only one.
_ARGUMENTS = {
    "before_task": ("task_name", "request", "context"),
    "after_task": ("task_name", "request", "result", "error", "context"),
}
_warned_positional: set[tuple[type, str]] = set()


def _call(hook: TaskHook, method: str, **arguments: Any) -> None:
    """Call a hook method with keyword ``arguments``; log and swallow its exception unless the hook is strict.

    A method without ``**future`` gets only the arguments it names; one that names other positional parameters (the
    older interface) gets them by position.
    """
    fn = getattr(hook, method)
    try:
        _invoke(hook, method, fn, arguments)
    except Exception:
        if getattr(hook, "strict", False):
            raise
        logger.warning("openfeat: task hook %r failed in %s (ignored)", hook, method, exc_info=True)


def _invoke(hook: TaskHook, method: str, fn: Callable[..., Any], arguments: dict[str, Any]) -> None:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin, a C extension): keywords, as documented
        fn(**arguments)
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        fn(**arguments)
        return
    known = _ARGUMENTS[method]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if all(p.kind is p.POSITIONAL_OR_KEYWORD and p.name in known for p in positional):
        named = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        fn(**{k: v for k, v in arguments.items() if k in named})
        return
    key = (type(hook), method)
    if key not in _warned_positional:
        _warned_positional.add(key)
        logger.warning(
            "openfeat: task hook %r takes positional arguments in %s(); declare them keyword-only with the names %s "
            "and a **future catch-all (positional calls will be removed)",
            hook,
            method,
            ", ".join(known),
        )
    fn(*(arguments[name] for name in known))
