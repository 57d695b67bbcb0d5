"""ARRAY and MAP values and the functions over them, with OpenMLDB's semantics (``hybridse/src/udf/default_defs/
array_def.cc``, ``map_defs.cc``, ``feature_zero_def.cc``, ``window_functions_def.cc``).

A value of an ARRAY or MAP column is a tuple of physical values (see :mod:`openfeat_core.types`). The functions
here work row by row in Python: the same code runs in batch and request mode and under both kernel modes (no
numba kernel is involved).

Constructors: ``[a, b, ...]`` (the binder's ``array(...)``: the elements' common type, ``[]`` is
``array<null>``), ``map(k1, v1, ...)`` (the keys' and the values' common types; ``map()`` is ``map<null, null>``),
``CAST(x AS array<T>)`` / ``CAST(x AS map<K, V>)`` (element-wise casts). Neither constructor gives NULL.

NULL rules. A NULL array or map argument gives NULL, except where noted; a NULL element is an element:

* ``m[k]`` (:func:`element_at`): the value of the first pair whose key equals ``k`` (keys may repeat), NULL when
  there is none or ``k`` or ``m`` is NULL.
* ``array_contains(a, v)`` / ``isin(v, a)``: TRUE when an element equals ``v`` (converted to the element type first,
  as ``m[k]`` converts ``k`` to the key type, which ``k`` must widen to without loss), or when ``v`` is NULL and an
  element is NULL.
* ``split_array(s, d)``: ``s`` cut at every ``d`` (an empty ``d`` cuts between characters, as ``absl::StrSplit``);
  an empty part becomes a NULL element.
* ``array_join(a, d)``: the non-NULL elements, each but the first *position* preceded by ``d`` (OpenMLDB's loop:
  ``[NULL, 'x']`` joined by ``-`` is ``-x``); a NULL ``d`` joins with nothing.
* ``array_combine(d, a1, a2, ...)``: the cartesian product of the arrays' elements cast to strings, each tuple joined
  by ``d`` (``""`` when ``d`` is NULL); NULL elements (and NULL arrays) contribute nothing; never NULL.
* ``split(s, d)``, ``split_by_key(s, d, kvd)``, ``split_by_value(s, d, kvd)``: the parts of ``s`` exactly as
  ``window_split*`` cut one row (see :mod:`openfeat_core.functions.agg_cate`); a NULL ``s`` or an empty delimiter
  gives an empty array; a NULL delimiter gives NULL.
* ``join(a, d)``: the non-NULL elements joined by ``d``. ``size(a)``: the number of elements (or pairs of a map).
* ``at(a, i)``: element ``i`` counting from 0; a negative ``i`` counts from the end (-1 is the last); NULL outside.
* ``list_except_by_key(a, keys)`` / ``list_except_by_value(a, values)``: the elements ``k:v`` whose ``k`` (or ``v``:
  the text between the first and a second ``:``, ``""`` without a ``:``) is not one of the comma-separated
  ``keys``.
* ``map_keys(m)``: the keys in order, repeats included.

OpenMLDB distinguishes a LIST (what ``split`` returns) from an ARRAY (what ``split_array`` returns) and accepts
each in its own functions; OpenFeat has one ARRAY type, so every function above takes either.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from openfeat_core.column import Column
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, scalar_function
from openfeat_core.types import SQLType, array_type, map_type

#: The scalar functions that take ARRAY/MAP arguments: this module's, and the generic conditional and NULL tests.
#: The binder refuses arrays and maps as arguments of every other function (concat, not, ...).
NESTED_ARGUMENT_FUNCTIONS = frozenset(
    {
        "array",
        "map",
        "element_at",
        "map_keys",
        "array_contains",
        "isin",
        "size",
        "array_at",
        "array_join",
        "array_combine",
        "join",
        "list_except_by_key",
        "list_except_by_value",
        "if",
        "if_null",
        "coalesce",
        "is_null",
        "is_not_null",
        "identity",
    }
)
_STRINGS = frozenset({SQLType.STRING, SQLType.NULL})
_INTEGERS = frozenset({SQLType.INT16, SQLType.INT32, SQLType.INT64, SQLType.NULL})
#: Element types OpenMLDB's array functions are defined for (``args_in<bool, int16_t, ..., StringRef>``).
_BASE_TYPES = frozenset(
    {
        SQLType.BOOL,
        SQLType.INT16,
        SQLType.INT32,
        SQLType.INT64,
        SQLType.FLOAT,
        SQLType.DOUBLE,
        SQLType.STRING,
        SQLType.DATE,
        SQLType.TIMESTAMP,
        SQLType.NULL,
    }
)


# ---------------------------------------------------------------------------------------------------------------------
# Helpers (functions.cast imports this module for CAST of arrays and maps, so this one imports it where used)
# ---------------------------------------------------------------------------------------------------------------------
def _common(types: Sequence[SQLType], what: str) -> SQLType:
    from openfeat_core.functions.cast import compatible_type

    result = SQLType.NULL
    for t in types:
        try:
            result = compatible_type(result, t)
        except FunctionTypeError as e:
            raise FunctionTypeError(f"{what} have incompatible types: {e}") from None
    return result


def _rows(col: Column) -> list[Any]:
    """Physical values per row, ``None`` for NULL."""
    return col.to_physical_list()


def _column(type_: SQLType, values: list[Any]) -> Column:
    """A column of type ``type_`` from per-row physical values (``None`` is NULL)."""
    n = len(values)
    valid = np.array([v is not None for v in values], dtype=np.bool_)
    if type_ is SQLType.NULL:
        return Column.nulls(SQLType.NULL, n)
    if type_ is SQLType.STRING or type_.is_nested:
        arr = np.empty(n, dtype=object)
        for i, v in enumerate(values):
            arr[i] = v
        return Column.from_values(type_, arr, valid)
    return Column.from_values(type_, np.array([0 if v is None else v for v in values], dtype=type_.numpy_dtype), valid)


def _cast_elements(values: list[Any], src: SQLType, dst: SQLType, ctx: EvalContext) -> list[Any]:
    from openfeat_core.functions.cast import cast_column

    if src is dst:
        return values
    return cast_column(_column(src, values), dst, ctx).to_physical_list()


def _need_array(name: str, t: SQLType, position: str = "first") -> None:
    if not t.is_array and t is not SQLType.NULL:
        raise FunctionTypeError(f"{name}(): the {position} argument must be an array, got {t}")


def _need(name: str, t: SQLType, allowed: frozenset[SQLType], what: str) -> None:
    if t not in allowed:
        shown = ", ".join(sorted(str(a) for a in allowed if a is not SQLType.NULL))
        raise FunctionTypeError(f"{name}(): {what} must be {shown}; got {t}")


def _arity(name: str, types: Sequence[SQLType], count: int, usage: str) -> None:
    if len(types) != count:
        raise FunctionTypeError(f"{name}() takes {count} arguments ({usage}), got {len(types)}")


def _comparable(name: str, element: SQLType, value: SQLType) -> None:
    """``value`` can be looked for among elements (or keys) of type ``element``."""
    if SQLType.NULL in (element, value) or element is value:
        return
    if (element.is_numeric or element is SQLType.BOOL) and (value.is_numeric or value is SQLType.BOOL):
        return
    raise FunctionTypeError(f"{name}(): a {value} value cannot be compared with {element} elements")


# ---------------------------------------------------------------------------------------------------------------------
# Constructors and casts
# ---------------------------------------------------------------------------------------------------------------------
def _resolve_array(types: Sequence[SQLType]) -> SQLType:
    for t in types:
        if t not in _BASE_TYPES and not t.is_nested:
            raise FunctionTypeError(f"array elements cannot be of type {t}")
    return array_type(_common(types, "array elements"))


@scalar_function("array", _resolve_array)
def _array(args: list[Column], ctx: EvalContext) -> Column:
    """[a, b, ...]: an array of the arguments, converted to their common type."""
    from openfeat_core.functions.cast import cast_column

    element = _resolve_array([a.type for a in args]).element
    n = len(args[0]) if args else 1
    columns = [_rows(cast_column(a, element, ctx)) for a in args]
    return _column(array_type(element), [tuple(c[i] for c in columns) for i in range(n)])


def _resolve_map(types: Sequence[SQLType]) -> SQLType:
    if len(types) % 2:
        raise FunctionTypeError(f"map() takes key/value pairs (an even number of arguments), got {len(types)}")
    keys, values = types[0::2], types[1::2]
    for t in keys:
        if t not in _BASE_TYPES:
            raise FunctionTypeError(f"map() keys must be bool, numbers, strings, dates or timestamps; got {t}")
    key, value = _common(keys, "map keys"), _common(values, "map values")
    if types and SQLType.NULL in (key, value):
        raise FunctionTypeError("the key and value types of a non-empty map() cannot be NULL: cast the NULLs")
    return map_type(key, value)


@scalar_function("map", _resolve_map)
def _map(args: list[Column], ctx: EvalContext) -> Column:
    """map(k1, v1, k2, v2, ...): a map of the pairs, keys and values converted to their common types."""
    from openfeat_core.functions.cast import cast_column

    type_ = _resolve_map([a.type for a in args])
    n = len(args[0]) if args else 1
    keys = [_rows(cast_column(a, type_.map_key, ctx)) for a in args[0::2]]
    values = [_rows(cast_column(a, type_.map_value, ctx)) for a in args[1::2]]
    out = []
    for i in range(n):
        pairs = tuple((k[i], v[i]) for k, v in zip(keys, values, strict=True))
        for position, (k, _) in enumerate(pairs):
            if k is None:
                raise FunctionTypeError(f"map(): key {position + 1} is NULL; map keys cannot be NULL")
        out.append(pairs)
    return _column(type_, out)


def can_cast_nested(src: SQLType, dst: SQLType) -> bool:
    """``CAST`` between ARRAY/MAP types: arrays to arrays and maps to maps whose components cast."""
    from openfeat_core.functions.cast import can_cast

    if src is SQLType.NULL or src is dst:
        return True
    if src.is_array and dst.is_array:
        return can_cast(src.element, dst.element)
    if src.is_map and dst.is_map:
        return can_cast(src.map_key, dst.map_key) and can_cast(src.map_value, dst.map_value)
    return False


def cast_nested(col: Column, dst: SQLType, ctx: EvalContext) -> Column:
    """``CAST(col AS dst)`` for ARRAY/MAP types: every element (key, value) cast as a scalar would be.

    Raises:
        FunctionTypeError: :func:`can_cast_nested` is false.
    """
    src = col.type
    if not can_cast_nested(src, dst):
        raise FunctionTypeError(f"cannot cast {src} to {dst}")
    if src is dst:
        return col
    if src is SQLType.NULL:
        return Column.nulls(dst, len(col))
    rows = _rows(col)
    present = [r for r in rows if r is not None]
    if dst.is_array:
        flat = _cast_elements([x for r in present for x in r], src.element, dst.element, ctx)
    else:
        keys = _cast_elements([k for r in present for k, _ in r], src.map_key, dst.map_key, ctx)
        items = _cast_elements([v for r in present for _, v in r], src.map_value, dst.map_value, ctx)
        flat = list(zip(keys, items, strict=True))
    out: list[Any] = []
    pos = 0
    for r in rows:
        if r is None:
            out.append(None)
            continue
        out.append(tuple(flat[pos : pos + len(r)]))
        pos += len(r)
    return _column(dst, out)


# ---------------------------------------------------------------------------------------------------------------------
# Maps
# ---------------------------------------------------------------------------------------------------------------------
def _resolve_element_at(types: Sequence[SQLType]) -> SQLType:
    _arity("element_at", types, 2, "map, key")
    m, key = types
    if m is SQLType.NULL:
        return SQLType.NULL
    if not m.is_map:
        raise FunctionTypeError(f"[] (element_at) needs a map, got {m}; an array's element i is at(array, i)")
    from openfeat_core.functions.cast import is_safe_cast

    if m.map_key is not SQLType.NULL and not is_safe_cast(key, m.map_key):
        # OpenMLDB's ArrayElementExpr: the key must widen to the map's key type without loss.
        raise FunctionTypeError(f"[] (element_at): a {key} key does not convert without loss to {m}'s key type")
    return m.map_value


@scalar_function("element_at", _resolve_element_at)
def _element_at(args: list[Column], ctx: EvalContext) -> Column:
    """element_at(map, key), written map[key]: the value of the first pair with that key, NULL when none."""
    m, key = args
    type_ = _resolve_element_at([m.type, key.type])
    out: list[Any] = []
    keys = _as_element(key, m.type.map_key if m.type.is_map else SQLType.NULL, ctx)
    for pairs, k in zip(_rows(m), keys, strict=True):
        if pairs is None or k is None:
            out.append(None)
            continue
        out.append(next((v for pk, v in pairs if pk == k), None))
    return _column(type_, out)


def _resolve_map_keys(types: Sequence[SQLType]) -> SQLType:
    _arity("map_keys", types, 1, "map")
    if not types[0].is_map:
        raise FunctionTypeError(f"map_keys() needs a map, got {types[0]}")
    return array_type(types[0].map_key)


@scalar_function("map_keys", _resolve_map_keys)
def _map_keys(args: list[Column], ctx: EvalContext) -> Column:
    """map_keys(map): the keys as an array, in order."""
    return _column(
        _resolve_map_keys([args[0].type]),
        [None if r is None else tuple(k for k, _ in r) for r in _rows(args[0])],
    )


# ---------------------------------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------------------------------
def _contains(pairs: Sequence[Any], value: Any) -> bool:
    if value is None:
        return any(x is None for x in pairs)
    return any(x is not None and x == value for x in pairs)


def _resolve_contains(name: str, array_pos: int) -> Callable[[Sequence[SQLType]], SQLType]:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _arity(name, types, 2, "array, value" if array_pos == 0 else "value, array")
        a, v = types[array_pos], types[1 - array_pos]
        _need_array(name, a, "first" if array_pos == 0 else "second")
        if a.is_array:
            _comparable(name, a.element, v)
        return SQLType.BOOL

    return resolve


def _as_element(value: Column, element: SQLType, ctx: EvalContext) -> list[Any]:
    """The values to look for, converted to the elements' (keys') type first, as OpenMLDB binds both to one type:
    ``array_contains(ARRAY<float>[0.1], 0.1)`` compares float with float."""
    from openfeat_core.functions.cast import cast_column

    if SQLType.NULL in (value.type, element) or value.type is element:
        return _rows(value)
    return _rows(cast_column(value, element, ctx))


def _contains_impl(array_pos: int, args: list[Column], ctx: EvalContext) -> Column:
    array = args[array_pos]
    element = array.type.element if array.type.is_array else SQLType.NULL
    arrays, values = _rows(array), _as_element(args[1 - array_pos], element, ctx)
    return _column(SQLType.BOOL, [None if a is None else _contains(a, v) for a, v in zip(arrays, values, strict=True)])


@scalar_function("array_contains", _resolve_contains("array_contains", 0))
def _array_contains(args: list[Column], ctx: EvalContext) -> Column:
    """array_contains(array, value): whether an element equals value (a NULL value finds a NULL element)."""
    return _contains_impl(0, args, ctx)


@scalar_function("isin", _resolve_contains("isin", 1))
def _isin(args: list[Column], ctx: EvalContext) -> Column:
    """isin(value, array): array_contains(array, value)."""
    return _contains_impl(1, args, ctx)


def _resolve_size(types: Sequence[SQLType]) -> SQLType:
    _arity("size", types, 1, "array or map")
    if not types[0].is_nested and types[0] is not SQLType.NULL:
        raise FunctionTypeError(f"size() needs an array or a map, got {types[0]}")
    return SQLType.INT32


@scalar_function("size", _resolve_size)
def _size(args: list[Column], ctx: EvalContext) -> Column:
    """size(array): the number of elements (of pairs for a map)."""
    return _column(SQLType.INT32, [None if r is None else len(r) for r in _rows(args[0])])


def _resolve_at(types: Sequence[SQLType]) -> SQLType:
    _arity("at", types, 2, "array, index")
    _need_array("at", types[0])
    _need("at", types[1], _INTEGERS, "the index")
    return types[0].element if types[0].is_array else SQLType.NULL


def at_array(args: list[Column], ctx: EvalContext) -> Column:
    """at(array, i): element i from 0, from the end when negative (-1 is the last); NULL outside the array."""
    out: list[Any] = []
    for a, i in zip(_rows(args[0]), _rows(args[1]), strict=True):
        out.append(None if a is None or i is None or not -len(a) <= i < len(a) else a[i])
    return _column(_resolve_at([args[0].type, args[1].type]), out)


#: ``at`` over an array. Registered under its own name because ``at`` is also the window aggregate (``lag``); the
#: binder calls this one when the first argument is an array.
AT_ARRAY = "array_at"
scalar_function(AT_ARRAY, _resolve_at, doc="at(array, i): element i from 0; from the end when negative")(at_array)


def _resolve_array_join(types: Sequence[SQLType]) -> SQLType:
    _arity("array_join", types, 2, "array<string>, delimiter")
    if types[0] not in (SQLType.NULL, array_type(SQLType.STRING), array_type(SQLType.NULL)):
        raise FunctionTypeError(f"array_join() needs an array<string>, got {types[0]}")
    _need("array_join", types[1], _STRINGS, "the delimiter")
    return SQLType.STRING


@scalar_function("array_join", _resolve_array_join)
def _array_join(args: list[Column], ctx: EvalContext) -> Column:
    """array_join(array, delimiter): the non-NULL elements, each after position 0 preceded by the delimiter."""
    out: list[Any] = []
    for a, d in zip(_rows(args[0]), _rows(args[1]), strict=True):
        if a is None:
            out.append(None)
            continue
        sep = "" if d is None else d
        out.append("".join(x if i == 0 else sep + x for i, x in enumerate(a) if x is not None))
    return _column(SQLType.STRING, out)


def _resolve_array_combine(types: Sequence[SQLType]) -> SQLType:
    if len(types) < 2:
        raise FunctionTypeError("array_combine(delimiter, array1, ...) needs a delimiter and at least one array")
    _need("array_combine", types[0], _STRINGS, "the delimiter")
    for t in types[1:]:
        if not t.is_array or t.element.is_nested:
            raise FunctionTypeError(f"array_combine(): every argument after the delimiter must be an array, got {t}")
    return array_type(SQLType.STRING)


@scalar_function("array_combine", _resolve_array_combine)
def _array_combine(args: list[Column], ctx: EvalContext) -> Column:
    """array_combine(delimiter, array1, ...): the cartesian product of the arrays' elements as strings, joined by the
    delimiter; NULL elements are skipped."""
    _resolve_array_combine([a.type for a in args])
    delims = _rows(args[0])
    strings = [_rows(cast_nested(a, array_type(SQLType.STRING), ctx)) for a in args[1:]]
    out: list[Any] = []
    for i, d in enumerate(delims):
        sep = "" if d is None else d
        parts = [tuple(x for x in (s[i] or ()) if x is not None) for s in strings]
        out.append(tuple(sep.join(p) for p in itertools.product(*parts)))
    return _column(array_type(SQLType.STRING), out)


def _resolve_split_array(types: Sequence[SQLType]) -> SQLType:
    _arity("split_array", types, 2, "string, delimiter")
    _need("split_array", types[0], _STRINGS, "the string")
    _need("split_array", types[1], _STRINGS, "the delimiter")
    return array_type(SQLType.STRING)


def _absl_split(text: str, delim: str) -> list[str]:
    """``absl::StrSplit(text, delim)``: an empty delimiter cuts between characters (an empty text gives one part)."""
    if delim:
        return text.split(delim)
    return list(text) if text else [""]


@scalar_function("split_array", _resolve_split_array)
def _split_array(args: list[Column], ctx: EvalContext) -> Column:
    """split_array(string, delimiter): the parts as an array<string>; empty parts are NULL elements."""
    out: list[Any] = []
    for s, d in zip(_rows(args[0]), _rows(args[1]), strict=True):
        out.append(None if s is None or d is None else tuple(p or None for p in _absl_split(s, d)))
    return _column(array_type(SQLType.STRING), out)


# ------------------------------------------------------------------------------------- FeatureZero's one-row lists
_ROW_SPLITS: dict[str, tuple[str, int]] = {
    "split": ("window_split", 1),
    "split_by_key": ("window_split_by_key", 2),
    "split_by_value": ("window_split_by_value", 2),
}


def _resolve_split(name: str, n_delims: int) -> Callable[[Sequence[SQLType]], SQLType]:
    usage = "string, delimiter" + (", kv_delimiter" if n_delims == 2 else "")

    def resolve(types: Sequence[SQLType]) -> SQLType:
        _arity(name, types, 1 + n_delims, usage)
        for t in types:
            _need(name, t, _STRINGS, "every argument")
        return array_type(SQLType.STRING)

    return resolve


def _split_impl(name: str, args: list[Column], ctx: EvalContext) -> Column:
    from openfeat_core.functions.agg_cate import split_parts_function

    kind, n_delims = _ROW_SPLITS[name]
    strings = _rows(args[0])
    delims = list(zip(*(_rows(a) for a in args[1 : 1 + n_delims]), strict=True))
    splitters: dict[tuple[str, ...], Callable[[str], list[str]] | None] = {}
    out: list[Any] = []
    for s, ds in zip(strings, delims, strict=True):
        if any(d is None for d in ds):
            out.append(None)
            continue
        if ds not in splitters:
            splitters[ds] = split_parts_function(kind, list(ds))
        parts_of = splitters[ds]
        out.append(() if s is None or parts_of is None else tuple(parts_of(s)))
    return _column(array_type(SQLType.STRING), out)


for _name, (_, _n_delims) in _ROW_SPLITS.items():
    scalar_function(
        _name,
        _resolve_split(_name, _n_delims),
        doc=f"{_name}(...): one row's string cut into parts as window_{_name} cuts it, as an array<string>",
    )(partial(_split_impl, _name))


def _resolve_join(types: Sequence[SQLType]) -> SQLType:
    _arity("join", types, 2, "array, delimiter")
    _need_array("join", types[0])
    if types[0].is_array and types[0].element not in _STRINGS:
        raise FunctionTypeError(f"join() needs an array<string>, got {types[0]}")
    _need("join", types[1], _STRINGS, "the delimiter")
    return SQLType.STRING


@scalar_function("join", _resolve_join, "fz_join")
def _join(args: list[Column], ctx: EvalContext) -> Column:
    """join(array, delimiter): the non-NULL elements joined by the delimiter."""
    out: list[Any] = []
    for a, d in zip(_rows(args[0]), _rows(args[1]), strict=True):
        out.append(None if a is None or d is None else d.join(x for x in a if x is not None))
    return _column(SQLType.STRING, out)


def _resolve_except(name: str) -> Callable[[Sequence[SQLType]], SQLType]:
    def resolve(types: Sequence[SQLType]) -> SQLType:
        _arity(name, types, 2, "array<string>, except_list")
        _need_array(name, types[0])
        if types[0].is_array and types[0].element not in _STRINGS:
            raise FunctionTypeError(f"{name}() needs an array<string>, got {types[0]}")
        _need(name, types[1], _STRINGS, "the list of exceptions")
        return array_type(SQLType.STRING)

    return resolve


def _except_impl(position: int, args: list[Column]) -> Column:
    out: list[Any] = []
    for a, excepted in zip(_rows(args[0]), _rows(args[1]), strict=True):
        if a is None or excepted is None:
            out.append(None)
            continue
        drop = set(excepted.split(","))
        # absl::StrSplit(element, ':') into a pair: the text before the first ':' and the text up to a second one.
        out.append(tuple(x for x in a if x is None or [*x.split(":"), ""][position] not in drop))
    return _column(array_type(SQLType.STRING), out)


@scalar_function("list_except_by_key", _resolve_except("list_except_by_key"))
def _list_except_by_key(args: list[Column], ctx: EvalContext) -> Column:
    """list_except_by_key(array, keys): the 'k:v' elements whose k is not among the comma-separated keys."""
    return _except_impl(0, args)


@scalar_function("list_except_by_value", _resolve_except("list_except_by_value"))
def _list_except_by_value(args: list[Column], ctx: EvalContext) -> Column:
    """list_except_by_value(array, values): the 'k:v' elements whose v is not among the comma-separated values."""
    return _except_impl(1, args)
