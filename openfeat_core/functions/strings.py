"""String functions: concat, concat_ws, substr, upper/lower, char_length, replace, strcmp, reverse, LIKE, RLIKE.

Semantics follow OpenMLDB's ``hybridse/src/udf/udf.cc`` and ``default_udf_library.cc``:

* Every function returns NULL when any argument is NULL (including ``concat``/``concat_ws``, whose non-string
  arguments are first converted the way OpenMLDB's ``string()`` does: see :func:`format_as_string`).
* OpenMLDB works on UTF-8 **bytes**: ``char_length`` counts bytes, ``substr`` positions are byte positions,
  ``upper``/``lower`` only change ASCII letters, ``_`` in LIKE matches one byte and ILIKE folds ASCII only.
  Where a byte operation would cut a multi-byte character OpenMLDB returns invalid UTF-8; OpenFeat returns U+FFFD
  for the broken bytes (``substr``) or reverses code points (``reverse``) so results stay valid strings.
* ``like_match(s, pattern[, escape])``: ``%`` = any run, ``_`` = one byte, escape defaults to ``\\``; an empty
  escape disables escaping, an escape longer than one character or a pattern ending in a lone escape matches nothing.
* ``regexp_like(s, pattern[, flags])`` is a full match; flags ``c`` (case-sensitive, default), ``i``, ``m``
  (multi-line), ``s`` (dot matches newline), ``e`` (ignored); an invalid pattern gives NULL. OpenMLDB uses RE2 in
  POSIX mode; OpenFeat uses Python's ``re``, which agrees on the common syntax.

Also exported: the number-to-text conversions of OpenMLDB (C++ ``std::ostream`` and ``std::to_string``), used here by
``concat`` and by the feature-signature formatters.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column, zero_value
from openfeat_core.functions.datetimes import format_dates, format_timestamps
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, Resolver, scalar_function
from openfeat_core.types import SQLType

_INTEGER_TYPES = frozenset({SQLType.INT16, SQLType.INT32, SQLType.INT64})


# ---------------------------------------------------------------------------------------------------------------------
# Value-to-text conversions (public: shared with signatures.py)
# ---------------------------------------------------------------------------------------------------------------------
def integer_texts(values: np.ndarray) -> np.ndarray:
    """Decimal text of integers (any int or bool dtype), as an object array of str; converted in C by Arrow."""
    return pa.array(np.asarray(values).astype(np.int64)).cast(pa.string()).to_numpy(zero_copy_only=False)


def float_texts(values: np.ndarray, spec: str) -> np.ndarray:
    """``printf(spec, v)`` of each float as glibc prints it, as an object array of str.

    Python prints every NaN as ``nan``; glibc prints ``-nan`` when the sign bit is set, so NaNs are fixed up.
    """
    doubles = np.asarray(values, dtype=np.float64)
    out = np.empty(len(doubles), dtype=object)
    out[:] = [spec % v for v in doubles.tolist()]
    nan = np.flatnonzero(np.isnan(doubles))
    if len(nan):
        out[nan] = np.where(np.signbit(doubles[nan]), "-nan", "nan")
    return out


def format_ostream(col: Column) -> np.ndarray:
    """Text of each value as C++ ``std::ostream << v`` prints it (OpenMLDB's ``string()`` of a number).

    Floats use ``%g`` with 6 significant digits (``11.1``, ``30``, ``1e+30``); integers are decimal. Invalid slots
    hold ``""``. Returns an object array of str.
    """
    out = float_texts(col.values, "%g") if col.type.is_float else integer_texts(col.values)
    out[~col.valid] = ""
    return out


def format_cpp_to_string(col: Column) -> np.ndarray:
    """Text of each value as C++ ``std::to_string(v)`` prints it (feature signatures, ``*_cate`` keys).

    Floats use ``%f`` (``1.500000``, ``inf``, ``nan``, ``-nan``); integers are decimal; bool is ``1``/``0``.
    Invalid slots hold ``""``. Returns an object array of str.
    """
    out = float_texts(col.values, "%f") if col.type.is_float else integer_texts(col.values)
    out[~col.valid] = ""
    return out


def format_as_string(col: Column, ctx: EvalContext) -> np.ndarray:
    """Text of each value as OpenMLDB's ``string(x)`` / ``concat`` renders it, as an object array of str.

    STRING as is; BOOL ``true``/``false``; integers decimal; FLOAT/DOUBLE via ``std::ostream`` (``%g``);
    TIMESTAMP ``%Y-%m-%d %H:%M:%S`` in the session zone; DATE ``%Y-%m-%d``. Invalid slots hold ``""``.
    """
    n = len(col)
    if col.type is SQLType.STRING:
        out = col.values.astype(object, copy=True)
    elif col.type is SQLType.BOOL:
        out = np.where(col.values, "true", "false").astype(object)
    elif col.type is SQLType.TIMESTAMP:
        out = format_timestamps(col.values, ctx)
    elif col.type is SQLType.DATE:
        out = format_dates(col.values)
    elif col.type is SQLType.NULL:
        out = np.empty(n, dtype=object)
    else:
        out = format_ostream(col)
    out[~col.valid] = ""
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------
def _types(arg_types: Sequence[SQLType]) -> str:
    return ", ".join(str(t) for t in arg_types)


def _signature_resolver(
    name: str, signatures: Sequence[Sequence[frozenset[SQLType]]], result: SQLType, *, allow_null: bool = True
) -> Resolver:
    """Resolver accepting any of ``signatures`` (each a sequence of accepted-type sets, one per argument).

    Args:
        allow_null: whether an untyped ``NULL`` literal may stand for any argument (the result is then NULL).
    """
    spelled = " or ".join(
        f"{name}({', '.join(' | '.join(sorted(str(t) for t in arg)) for arg in sig)})" for sig in signatures
    )

    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        for sig in signatures:
            if len(sig) == len(arg_types) and all(
                t in accepted or (allow_null and t is SQLType.NULL) for t, accepted in zip(arg_types, sig, strict=True)
            ):
                return result
        raise FunctionTypeError(f"{name}({_types(arg_types)}) is not supported; expected {spelled}")

    return resolve


_STR = frozenset({SQLType.STRING})
_INT = _INTEGER_TYPES


def _all_valid(args: Sequence[Column]) -> np.ndarray:
    valid = args[0].valid.copy()
    for col in args[1:]:
        valid &= col.valid
    return valid


def _string_column(values: Sequence[object] | np.ndarray, valid: np.ndarray) -> Column:
    out = np.empty(len(valid), dtype=object)
    out[:] = values
    out[~valid] = ""
    return Column(SQLType.STRING, out, valid)


def _map_strings(args: Sequence[Column], fn: Callable[..., object]) -> tuple[list[object], np.ndarray]:
    """``fn`` applied row by row to the Python values of ``args``, plus the rows' validity (all arguments valid).

    ``fn`` also runs on invalid rows, which hold harmless zero values (``""``, ``0``): skipping them would cost a
    branch per row. Callers mask those results. With an untyped NULL argument nothing is computed.
    """
    valid = _all_valid(args)
    n = len(valid)
    if any(c.type is SQLType.NULL for c in args) or n == 0:
        return [None] * n, np.zeros(n, dtype=np.bool_)
    return list(map(fn, *(_safe_values(c) for c in args))), valid


def _safe_values(col: Column) -> list[object]:
    """The column's values as a Python list, with every invalid slot holding the type's zero value."""
    if col.valid.all():
        return col.values.tolist()
    values = col.values.copy()
    values[~col.valid] = zero_value(col.type)
    return values.tolist()


def _constant_value(col: Column) -> tuple[bool, object]:
    """``(True, v)`` when every row of ``col`` is the same valid value ``v`` (typically a literal)."""
    if len(col) == 0 or col.type is SQLType.NULL or not col.valid.all():
        return False, None
    first = col.values[0]
    return bool((col.values == first).all()), first


# ---------------------------------------------------------------------------------------------------------------------
# concat / concat_ws
# ---------------------------------------------------------------------------------------------------------------------
def _resolve_concat(arg_types: Sequence[SQLType]) -> SQLType:
    if not arg_types:
        raise FunctionTypeError("concat() needs at least one argument")
    return SQLType.STRING


def _resolve_concat_ws(arg_types: Sequence[SQLType]) -> SQLType:
    if not arg_types:
        raise FunctionTypeError("concat_ws() needs a separator argument")
    return SQLType.STRING


@scalar_function("concat", _resolve_concat)
def _concat(args: list[Column], ctx: EvalContext) -> Column:
    """concat(a, b, ...): values converted to text and joined; NULL if any argument is NULL."""
    parts = [format_as_string(c, ctx) for c in args]
    return _string_column(functools.reduce(operator.add, parts), _all_valid(args))


@scalar_function("concat_ws", _resolve_concat_ws)
def _concat_ws(args: list[Column], ctx: EvalContext) -> Column:
    """concat_ws(sep, a, b, ...): values converted to text and joined by sep; NULL if any argument is NULL."""
    sep, *rest = (format_as_string(c, ctx) for c in args)
    if not rest:
        joined = np.empty(len(sep), dtype=object)
        joined[:] = ""
    else:
        joined = rest[0]
        for part in rest[1:]:
            joined = joined + sep + part
    return _string_column(joined, _all_valid(args))


# ---------------------------------------------------------------------------------------------------------------------
# substr / substring
# ---------------------------------------------------------------------------------------------------------------------
def _wrap_int32(col: Column) -> np.ndarray:
    """The values as the C++ ``int32_t`` parameter receives them (wrapping like an implicit narrowing cast)."""
    return col.values.astype(np.int64).astype(np.int32).astype(np.int64)


def substring_bytes(text: str, pos: int, length: int | None) -> str:
    """OpenMLDB ``substring``: 1-based byte position (negative counts from the end), optional byte length.

    ``pos == 0`` or ``length < 1`` give ``""``, as does a position beyond either end of the string.
    """
    if text.isascii():
        data: str | bytes = text
    else:
        data = text.encode("utf-8")
    size = len(data)
    if length is None:
        length = size
    if pos == 0 or length < 1 or pos > size or pos < -size:
        return ""
    start = size + pos if pos < 0 else pos - 1
    piece = data[start : start + min(length, size - start)]
    return piece if isinstance(piece, str) else piece.decode("utf-8", errors="replace")


@scalar_function(
    "substring", _signature_resolver("substring", [(_STR, _INT), (_STR, _INT, _INT)], SQLType.STRING), "substr"
)
def _substring(args: list[Column], ctx: EvalContext) -> Column:
    """substring(str, pos[, len]): bytes of str from 1-based pos (negative: from the end), at most len of them."""
    text = args[0]
    valid = _all_valid(args)
    pos = _wrap_int32(args[1]).tolist()
    lengths: list[int | None] = _wrap_int32(args[2]).tolist() if len(args) == 3 else [None] * len(text)
    values = [
        substring_bytes(s, p, n) if ok else ""
        for ok, s, p, n in zip(valid.tolist(), text.values.tolist(), pos, lengths, strict=True)
    ]
    return _string_column(values, valid)


# ---------------------------------------------------------------------------------------------------------------------
# upper / lower / reverse / char_length / replace / strcmp
# ---------------------------------------------------------------------------------------------------------------------
def arrow_strings(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An object array of str as an Arrow string array, NULL where ``valid`` is false.

    Arrow converts object arrays several times faster without a mask, so validity is applied afterwards.
    """
    array = pa.array(values, type=pa.string())
    if valid is None or valid.all():
        return array
    return pc.if_else(pa.array(valid), array, pa.scalar(None, pa.string()))


def _from_arrow_strings(array: pa.Array, valid: np.ndarray) -> Column:
    return _string_column(pc.fill_null(array, "").to_numpy(zero_copy_only=False), valid)


def _unary_string_function(name: str, kernel: Callable[[pa.Array], pa.Array], doc: str, *aliases: str) -> None:
    """Register ``name(str) -> str`` computed by an Arrow kernel; NULL in, NULL out."""

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        (col,) = args
        if col.type is SQLType.NULL:
            return Column.nulls(SQLType.STRING, len(col))
        return _from_arrow_strings(kernel(arrow_strings(col.values)), col.valid.copy())

    impl.__doc__ = doc
    scalar_function(name, _signature_resolver(name, [(_STR,)], SQLType.STRING), *aliases)(impl)


# Arrow's ascii_* kernels change ASCII letters only, exactly like absl::ascii_toupper in OpenMLDB.
_unary_string_function("ucase", pc.ascii_upper, "ucase(str): ASCII letters upper-cased.", "upper")
_unary_string_function("lcase", pc.ascii_lower, "lcase(str): ASCII letters lower-cased.", "lower")
_unary_string_function("reverse", pc.utf8_reverse, "reverse(str): the string reversed.")


@scalar_function("char_length", _signature_resolver("char_length", [(_STR,)], SQLType.INT32), "character_length")
def _char_length(args: list[Column], ctx: EvalContext) -> Column:
    """char_length(str): length in UTF-8 bytes (OpenMLDB does not count multi-byte characters as one)."""
    (col,) = args
    if col.type is SQLType.NULL:
        return Column.nulls(SQLType.INT32, len(col))
    lengths = pc.fill_null(pc.binary_length(arrow_strings(col.values)), 0).to_numpy(zero_copy_only=False)
    return Column.from_values(SQLType.INT32, lengths.astype(np.int32), col.valid.copy())


def _replace_one(text: str, search: str, replacement: str = "") -> str:
    # absl::StrReplaceAll ignores an empty search string (Python would insert between every character).
    return text.replace(search, replacement) if search else text


@scalar_function("replace", _signature_resolver("replace", [(_STR, _STR), (_STR, _STR, _STR)], SQLType.STRING))
def _replace(args: list[Column], ctx: EvalContext) -> Column:
    """replace(str, search[, replace]): every occurrence of search replaced (removed when replace is omitted)."""
    results, valid = _map_strings(args, _replace_one)
    return _string_column(results, valid)


def _compare(a: str, b: str) -> int:
    # Code-point order equals UTF-8 byte order, which is what OpenMLDB's StringRef::compare uses.
    return (a > b) - (a < b)


@scalar_function("strcmp", _signature_resolver("strcmp", [(_STR, _STR)], SQLType.INT32))
def _strcmp(args: list[Column], ctx: EvalContext) -> Column:
    """strcmp(a, b): -1, 0 or 1 as a sorts before, equal to or after b."""
    results, valid = _map_strings(args, _compare)
    return Column.from_values(SQLType.INT32, np.array([r or 0 for r in results], dtype=np.int32), valid)


# ---------------------------------------------------------------------------------------------------------------------
# LIKE / ILIKE
# ---------------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def like_regex(pattern: str, escape: str, case_insensitive: bool) -> re.Pattern[bytes] | None:
    """A compiled byte regex equivalent to OpenMLDB's ``like_internal`` glob, or None if nothing can match.

    ``escape`` is the escape character (``""`` disables escaping). None is returned for a pattern ending in a lone
    escape character or for an escape of two or more bytes: OpenMLDB answers false for every input then.
    """
    esc = escape.encode("utf-8")
    if len(esc) > 1:  # OpenMLDB measures the escape in bytes: a multi-byte character is "too long" as well
        return None
    data = pattern.encode("utf-8")
    esc_byte = esc[0] if esc else None
    parts: list[bytes] = []
    i = 0
    while i < len(data):
        b = data[i]
        if esc_byte is not None and b == esc_byte:
            if i + 1 == len(data):
                return None
            parts.append(re.escape(data[i + 1 : i + 2]))
            i += 2
            continue
        if b == 0x25:  # %
            parts.append(b".*")
        elif b == 0x5F:  # _
            parts.append(b".")
        else:
            parts.append(re.escape(data[i : i + 1]))
        i += 1
    # Byte patterns fold ASCII letters only under IGNORECASE, like std::tolower in the C locale.
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile(b"".join(parts), flags)


def _like_one(text: str, pattern: str, escape: str, case_insensitive: bool) -> bool:
    regex = like_regex(pattern, escape, case_insensitive)
    return regex is not None and regex.fullmatch(text.encode("utf-8")) is not None


def _like_impl(args: list[Column], case_insensitive: bool) -> Column:
    if len(args) == 2:
        args = [*args, Column.constant("\\", SQLType.STRING, len(args[0]))]
    text, pattern, escape = args
    fixed_pattern, p = _constant_value(pattern)
    fixed_escape, e = _constant_value(escape)
    if fixed_pattern and fixed_escape and text.type is SQLType.STRING:
        # The usual `col LIKE 'literal'`: compile once, then only match.
        regex = like_regex(str(p), str(e), case_insensitive)
        valid = text.valid.copy()
        if regex is None:
            matched = np.zeros(len(text), dtype=np.bool_)
        else:
            fullmatch = regex.fullmatch
            matched = np.fromiter(
                (fullmatch(s.encode("utf-8")) is not None for s in cast(list[str], _safe_values(text))),
                np.bool_,
                len(text),
            )
        return Column.from_values(SQLType.BOOL, matched, valid)
    results, valid = _map_strings(args, lambda s, p, e: _like_one(s, p, e, case_insensitive))
    return Column.from_values(SQLType.BOOL, np.array([bool(r) for r in results], dtype=np.bool_), valid)


_LIKE_SIGNATURES = [(_STR, _STR), (_STR, _STR, _STR)]


@scalar_function("like_match", _signature_resolver("like_match", _LIKE_SIGNATURES, SQLType.BOOL, allow_null=False))
def _like_match(args: list[Column], ctx: EvalContext) -> Column:
    """like_match(str, pattern[, escape]): SQL LIKE, case-sensitive; NULL if any argument is NULL."""
    return _like_impl(args, case_insensitive=False)


@scalar_function("ilike_match", _signature_resolver("ilike_match", _LIKE_SIGNATURES, SQLType.BOOL, allow_null=False))
def _ilike_match(args: list[Column], ctx: EvalContext) -> Column:
    """ilike_match(str, pattern[, escape]): SQL ILIKE (ASCII case folding); NULL if any argument is NULL."""
    return _like_impl(args, case_insensitive=True)


# ---------------------------------------------------------------------------------------------------------------------
# regexp_like
# ---------------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _compile_regexp(pattern: str, flags: str) -> re.Pattern[str] | None:
    case_insensitive = False
    re_flags = 0
    for flag in flags:
        if flag == "c":
            case_insensitive = False
        elif flag == "i":
            case_insensitive = True
        elif flag == "m":
            re_flags |= re.MULTILINE
        elif flag == "s":
            re_flags |= re.DOTALL
        # 'e' and unknown flags are ignored, as in OpenMLDB.
    if case_insensitive:
        re_flags |= re.IGNORECASE
    try:
        return re.compile(pattern, re_flags)
    except re.error:
        return None


def _regexp_one(text: str, pattern: str, flags: str = "c") -> bool | None:
    regex = _compile_regexp(pattern, flags)
    if regex is None:
        return None
    return regex.fullmatch(text) is not None


@scalar_function("regexp_like", _signature_resolver("regexp_like", _LIKE_SIGNATURES, SQLType.BOOL, allow_null=False))
def _regexp_like(args: list[Column], ctx: EvalContext) -> Column:
    """regexp_like(str, pattern[, flags]): full regular-expression match; NULL for NULL input or a bad pattern."""
    results, valid = _map_strings(args, _regexp_one)
    valid &= np.array([r is not None for r in results], dtype=np.bool_)
    return Column.from_values(SQLType.BOOL, np.array([bool(r) for r in results], dtype=np.bool_), valid)
