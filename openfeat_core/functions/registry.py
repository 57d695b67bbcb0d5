"""The function library's registry: one implementation per function, shared by batch and request mode.

Two kinds of functions exist:

* **Scalar functions** map columns to a column of the same length, row by row
  (``impl(args, ctx) -> Column``). Operators are scalar functions too: the SQL front end maps
  ``a + b`` to ``add``, ``a = b`` to ``eq``, ``NOT a`` to ``not`` and so on (see :data:`OPERATOR_FUNCTIONS`).
* **Aggregate functions** reduce a window per output row (``impl(args, frames, ctx) -> Column``).
  The executors describe each output row's window with a :class:`WindowFrames`: index ranges into
  the candidate columns ``args``, which are laid out oldest to newest. Batch mode passes every row
  of a table at once; request mode passes the stored rows of one key plus the request row. Because
  the kernel only ever sees index ranges, the very same code serves both modes.

Each function declares a ``resolve(arg_types) -> SQLType`` that type-checks the call at plan time
and gives the result type; it raises :class:`FunctionTypeError` with a message a user can act on.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from openfeat_core.column import Column
from openfeat_core.types import SQLType


class FunctionTypeError(ValueError):
    """A function was called with arguments of the wrong number or types."""


@dataclass(frozen=True)
class EvalContext:
    """Settings that functions may depend on.

    Attributes:
        timezone: IANA time zone used to turn timestamps into calendar fields and strings
            (``hour()``, ``date()``, ``*_cate`` keys...). OpenMLDB always uses Asia/Shanghai;
            OpenFeat defaults to UTC and lets the user choose.
    """

    timezone: str = "UTC"

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(slots=True, eq=False)
class WindowFrames:
    """The window of every output row, as index ranges into the candidate columns.

    For output row ``k`` the window holds, oldest to newest, the candidate rows
    ``lo[k] .. hi[k]-1`` followed by row ``cur[k]`` when ``cur[k] >= 0`` (the current row, which
    may be excluded by ``EXCLUDE CURRENT_ROW``). Aggregates that depend on order see rows **newest
    first**: ``cur[k]`` (if any), then ``hi[k]-1`` down to ``lo[k]``. Often ``cur[k] == hi[k]``,
    in which case the window is the contiguous range ``lo[k] .. hi[k]``.

    ``lag``/``at`` ignore the frame: they walk the partition's full history, which is
    ``part_lo[k] .. part_hi[k]-1`` (newest last), with ``current[k]`` the current row.

    Attributes:
        lo, hi, cur, part_lo, part_hi, current: int64 arrays of the number of output rows.
        monotone: when true, ``lo``, ``hi`` and ``cur`` are non-decreasing from one output row to
            the next, so kernels may slide (add the rows entering, remove those leaving) instead
            of rescanning each window. Kernels must be correct when it is false.

    Not frozen (an online request builds one per window and a frozen dataclass is slow to construct), but
    nothing changes frames once built.
    """

    lo: np.ndarray
    hi: np.ndarray
    cur: np.ndarray
    part_lo: np.ndarray
    part_hi: np.ndarray
    current: np.ndarray
    monotone: bool = True

    def __len__(self) -> int:
        return len(self.lo)


ScalarImpl = Callable[[list[Column], EvalContext], Column]
AggregateImpl = Callable[[list[Column], WindowFrames, EvalContext], Column]
Resolver = Callable[[Sequence[SQLType]], SQLType]


@dataclass(frozen=True)
class ScalarFunction:
    """A row-by-row function.

    Attributes:
        name: canonical lower-case name.
        resolve: type checker; returns the result type for the given argument types.
        impl: the implementation over columns of equal length.
        doc: one line for error messages and docs.
    """

    name: str
    resolve: Resolver
    impl: ScalarImpl
    doc: str = ""


@dataclass(frozen=True)
class AggregateFunction:
    """A window aggregate (UDAF).

    Attributes:
        name: canonical lower-case name.
        resolve: type checker; returns the result type for the given argument types.
        impl: the implementation over candidate columns and frames.
        constant_args: positions of arguments that must be constants (``n`` of ``top``, ``alpha``
            of ``ew_avg``...); the front end rejects non-literal expressions there.
        doc: one line for error messages and docs.
        ignores_frame: true for ``lag``/``at``, which read the partition history, not the frame.
    """

    name: str
    resolve: Resolver
    impl: AggregateImpl
    constant_args: tuple[int, ...] = ()
    doc: str = ""
    ignores_frame: bool = False


@dataclass
class FunctionRegistry:
    """Name → function maps; names are case-insensitive and may have aliases."""

    scalars: dict[str, ScalarFunction] = field(default_factory=dict)
    aggregates: dict[str, AggregateFunction] = field(default_factory=dict)

    def add_scalar(self, fn: ScalarFunction, *aliases: str) -> ScalarFunction:
        for name in (fn.name, *aliases):
            self.scalars[name.lower()] = fn
        return fn

    def add_aggregate(self, fn: AggregateFunction, *aliases: str) -> AggregateFunction:
        for name in (fn.name, *aliases):
            self.aggregates[name.lower()] = fn
        return fn

    def scalar(self, name: str) -> ScalarFunction | None:
        _ensure_loaded()
        return self.scalars.get(name.lower())

    def aggregate(self, name: str) -> AggregateFunction | None:
        _ensure_loaded()
        return self.aggregates.get(name.lower())

    def all_names(self) -> list[str]:
        _ensure_loaded()
        return sorted(set(self.scalars) | set(self.aggregates))


#: The process-wide registry. Function modules register into it on import.
REGISTRY = FunctionRegistry()


def scalar_function(name: str, resolve: Resolver, *aliases: str, doc: str = "") -> Callable[[ScalarImpl], ScalarImpl]:
    """Decorator: register ``impl`` as scalar function ``name`` (plus ``aliases``)."""

    def wrap(impl: ScalarImpl) -> ScalarImpl:
        REGISTRY.add_scalar(ScalarFunction(name.lower(), resolve, impl, doc or (impl.__doc__ or "").strip()), *aliases)
        return impl

    return wrap


def aggregate_function(
    name: str,
    resolve: Resolver,
    *aliases: str,
    constant_args: tuple[int, ...] = (),
    ignores_frame: bool = False,
    doc: str = "",
) -> Callable[[AggregateImpl], AggregateImpl]:
    """Decorator: register ``impl`` as aggregate function ``name`` (plus ``aliases``)."""

    def wrap(impl: AggregateImpl) -> AggregateImpl:
        REGISTRY.add_aggregate(
            AggregateFunction(
                name.lower(),
                resolve,
                impl,
                constant_args=constant_args,
                doc=doc or (impl.__doc__ or "").strip(),
                ignores_frame=ignores_frame,
            ),
            *aliases,
        )
        return impl

    return wrap


#: SQL operators and the scalar function each one is evaluated by.
OPERATOR_FUNCTIONS: dict[str, str] = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "DIV": "int_divide",
    "%": "mod",
    "MOD": "mod",
    "=": "eq",
    "==": "eq",
    "!=": "neq",
    "<>": "neq",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
    "AND": "and",
    "OR": "or",
    "XOR": "xor",
    "NOT": "not",
    "NEG": "neg",
    "&": "bitand",
    "|": "bitor",
    "^": "bitxor",
    "~": "bitnot",
    "LIKE": "like_match",
    "ILIKE": "ilike_match",
    "RLIKE": "regexp_like",
    "IS NULL": "is_null",
    "IS NOT NULL": "is_not_null",
}

_loaded = False


def _ensure_loaded() -> None:
    """Import the modules that register functions (once; they register on import)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from openfeat_core.functions import _catalog  # noqa: F401  (import registers everything)
