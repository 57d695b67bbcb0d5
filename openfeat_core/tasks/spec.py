"""What each task's arguments are, read from its request dataclass: name, type, default, choices and doc line.

The request dataclasses (:class:`~openfeat_core.tasks.IngestRequest`...) are the one definition of a task's
arguments; this module derives a description from them (``dataclasses.fields``, ``typing.get_type_hints``, the
``Literal`` values of :mod:`openfeat_core.choices`, the ``Attributes:`` section of the class docstring) so that an
orchestrator adapter can read a task's choices and defaults instead of re-spelling them, and so that each adapter's
contract test (``tests/<adapter>/test_task_contract.py``) can hold its arguments to the core's.

>>> spec = task_spec("export")
>>> spec.argument("mode").default, spec.argument("mode").choices
('overwrite', ('error_if_exists', 'overwrite', 'append'))
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from openfeat_core.tasks.base import TaskRequest

__all__ = ["REQUIRED", "TaskArgument", "TaskSpec", "task_spec", "task_specs"]


class _Required:
    """The default of an argument that has none (a task cannot run without it)."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: The :attr:`TaskArgument.default` of a required argument.
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class TaskArgument:
    """One argument of a task: one field of its request dataclass.

    Attributes:
        name: the field name.
        type: its resolved type hint (``Literal[...] | None`` for a choice that may be left out).
        default: its default value (a ``default_factory`` called once), or :data:`REQUIRED`.
        choices: the values of a ``Literal`` type (from :mod:`openfeat_core.choices`), else None.
        doc: the field's entry of the request's ``Attributes:`` docstring section, on one line.
    """

    name: str
    type: Any
    default: Any
    choices: tuple[str, ...] | None
    doc: str

    @property
    def required(self) -> bool:
        """The argument has no default."""
        return self.default is REQUIRED

    @property
    def optional(self) -> bool:
        """None is one of its values (what "not given" means for it, unless its default says otherwise)."""
        return _allows_none(self.type)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name (the ``openfeat`` command's, :attr:`TaskResult.task`), request class and arguments.

    Attributes:
        task: the task name (``ingest``, ``ingest-stream``...).
        request: the request dataclass.
        arguments: the arguments by name, in the dataclass's field order.
    """

    task: str
    request: type[TaskRequest]
    arguments: Mapping[str, TaskArgument]

    def argument(self, name: str) -> TaskArgument:
        """The argument ``name``.

        Raises:
            KeyError: the task has no such argument (the message lists those it has).
        """
        try:
            return self.arguments[name]
        except KeyError:
            raise KeyError(
                f"task {self.task!r} ({self.request.__name__}) has no argument {name!r}; "
                f"its arguments: {', '.join(self.arguments)}"
            ) from None

    def defaults(self) -> dict[str, Any]:
        """The default of every argument that has one."""
        return {name: a.default for name, a in self.arguments.items() if not a.required}


def task_spec(task: str) -> TaskSpec:
    """The description of task ``task`` (``ingest``, ``compute``, ``export``, ``deploy``, ``verify``,
    ``ingest-stream``, ``monitor``).

    Raises:
        KeyError: an unknown task (the message lists the tasks).
    """
    specs = task_specs()
    try:
        return specs[task]
    except KeyError:
        raise KeyError(f"no task {task!r}; the tasks: {', '.join(specs)}") from None


@cache
def task_specs() -> Mapping[str, TaskSpec]:
    """Every task's description, by task name (built once, on first use)."""
    from openfeat_core.tasks import RESULT_CLASSES
    from openfeat_core.tasks.monitor import MonitorRequest
    from openfeat_core.tasks.offline import ComputeRequest, ExportRequest, IngestRequest
    from openfeat_core.tasks.online import DeployRequest, VerifyRequest
    from openfeat_core.tasks.streaming import IngestStreamRequest

    requests: dict[str, type[TaskRequest]] = {
        "ingest": IngestRequest,
        "compute": ComputeRequest,
        "export": ExportRequest,
        "deploy": DeployRequest,
        "verify": VerifyRequest,
        "ingest-stream": IngestStreamRequest,
        "monitor": MonitorRequest,
    }
    # One request per result class: a new task without a request here is a gap, not a silent omission.
    assert set(requests) == set(RESULT_CLASSES), (sorted(requests), sorted(RESULT_CLASSES))
    return types.MappingProxyType({task: _spec(task, cls) for task, cls in requests.items()})


def _spec(task: str, cls: type[TaskRequest]) -> TaskSpec:
    hints = typing.get_type_hints(cls)
    docs = _attribute_docs(cls)
    arguments: dict[str, TaskArgument] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # every request class is a dataclass
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = REQUIRED
        hint = hints[f.name]
        arguments[f.name] = TaskArgument(f.name, hint, default, _choices(hint), _doc(docs, f.name))
    return TaskSpec(task, cls, types.MappingProxyType(arguments))


def _doc(docs: Mapping[str, str], name: str) -> str:
    """The entry of ``name``; a field described in another's entry (``workspace_every_rows`` in ``workspace``'s)
    gets that entry; "" when no entry names it."""
    if name in docs:
        return docs[name]
    for other, text in docs.items():
        if f"``{name}``" in text:
            return f"(see {other}) {text}"
    return ""


def _choices(hint: Any) -> tuple[str, ...] | None:
    """The values of a ``Literal`` hint, or of the ``Literal`` in ``Literal[...] | None``."""
    if typing.get_origin(hint) is Literal:
        return tuple(typing.get_args(hint))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        literals = [a for a in typing.get_args(hint) if typing.get_origin(a) is Literal]
        if len(literals) == 1:
            return tuple(typing.get_args(literals[0]))
    return None


def _allows_none(hint: Any) -> bool:
    return hint is type(None) or (
        typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    )


_ENTRY = re.compile(r"^(\w+): ?(.*)$")


def _attribute_docs(cls: type) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` section of ``cls``'s docstring (Google style: one entry per field,
    continuation lines indented deeper), each entry joined on one line."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    try:
        start = lines.index("Attributes:") + 1
    except ValueError:
        return {}
    docs: dict[str, str] = {}
    indent: int | None = None
    current: str | None = None
    for line in lines[start:]:
        if not line.strip():
            break
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break
        entry = _ENTRY.match(line.strip()) if depth == indent else None
        if entry is not None:
            current = entry.group(1)
            docs[current] = entry.group(2)
        elif current is not None:
            docs[current] += " " + line.strip()
    return docs
