"""Feature signatures: ``csv()``, ``libsvm()`` and ``gcformat()`` over ``continuous()``, ``discrete()`` and labels.

A tagging function (:data:`SIGNATURE_KINDS`) marks what a value is; a formatter (:data:`FORMATTERS`) turns the tagged
values of one row into one line of a training-set file. The SQL front end compiles
``csv(continuous(a), discrete(b, 100), binary_label(c))`` into
``format_signatures("csv", [("continuous", [a]), ("discrete", [b, 100]), ("binary_label", [c])], ctx)``.

The output is byte-exact with OpenMLDB (``hybridse/src/udf/default_defs/feature_signature_def.cc``):

* Numbers print as C++ ``std::to_string``: integers as is, FLOAT/DOUBLE with ``%f`` (``0.000000``, ``inf``,
  ``nan``), BOOL as ``1``/``0``.
* ``discrete(x)`` is FarmHash ``Fingerprint64`` of x's raw little-endian bytes at its declared width (DATE hashes
  OpenMLDB's packed ``(year-1900)<<16 | (month-1)<<8 | day`` int32, TIMESTAMP its int64 epoch ms, STRING its UTF-8),
  printed as a signed int64. ``discrete(x, B)`` is ``unsigned(hash) % B``; a NULL or non-positive B makes the
  feature NULL.
* ``csv``: one field per argument joined by ``,``; NULL gives an empty field.
* ``libsvm``: ``label feat feat ...``; the last label argument wins and a NULL label clears it. A slot counter starts
  at 1: ``continuous`` emits ``slot:value`` and always advances it; ``discrete(x)`` emits ``hash:1`` and does not;
  ``discrete(x, B)`` emits ``(slot + hash % B):1`` and advances by B (not at all when B is NULL or <= 0).
* ``gcformat``: ``label | feat feat ...``; every feature advances the slot by one; ``continuous`` emits
  ``slot:Fingerprint64(int64 slot):value``, ``discrete`` emits ``slot:hash``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import farmhash
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.column import Column
from openfeat_core.functions.datetimes import civil_from_days
from openfeat_core.functions.registry import EvalContext, FunctionTypeError
from openfeat_core.functions.strings import arrow_strings, format_cpp_to_string
from openfeat_core.types import SQLType

#: The tagging functions a formatter accepts as arguments.
SIGNATURE_KINDS: frozenset[str] = frozenset(
    {"continuous", "discrete", "binary_label", "multiclass_label", "regression_label"}
)
#: The formatting functions, each returning one STRING per row.
FORMATTERS: frozenset[str] = frozenset({"csv", "libsvm", "gcformat"})

_LABEL_KINDS = frozenset({"binary_label", "multiclass_label", "regression_label"})
_INTS = frozenset({SQLType.INT16, SQLType.INT32, SQLType.INT64})
_NUMBERS = _INTS | {SQLType.BOOL, SQLType.FLOAT, SQLType.DOUBLE}
#: Accepted type of the value argument per kind (OpenMLDB's ``args_in`` lists).
_VALUE_TYPES: dict[str, frozenset[SQLType]] = {
    "continuous": _NUMBERS,
    "discrete": _INTS | {SQLType.BOOL, SQLType.STRING, SQLType.DATE, SQLType.TIMESTAMP},
    "binary_label": frozenset({SQLType.BOOL}),
    "multiclass_label": _INTS | {SQLType.BOOL},
    "regression_label": _NUMBERS,
}
_BUCKET_TYPES = frozenset({SQLType.INT32, SQLType.INT64})

# Little-endian layout of each fixed-width type as OpenMLDB hands it to FarmHash.
_HASH_DTYPES: dict[SQLType, str] = {
    SQLType.BOOL: "<u1",
    SQLType.INT16: "<i2",
    SQLType.INT32: "<i4",
    SQLType.INT64: "<i8",
    SQLType.TIMESTAMP: "<i8",
    SQLType.FLOAT: "<f4",
    SQLType.DOUBLE: "<f8",
    SQLType.DATE: "<i4",
}


# ---------------------------------------------------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------------------------------------------------
def _packed_dates(days: np.ndarray) -> np.ndarray:
    """OpenMLDB's in-memory DATE: ``(year - 1900) << 16 | (month - 1) << 8 | day`` as int32."""
    year, month, day = civil_from_days(days)
    return (((year - 1900) << 16) | ((month - 1) << 8) | day).astype(np.int32)


def fingerprint64(col: Column) -> np.ndarray:
    """FarmHash ``Fingerprint64`` of each value's raw bytes as a signed int64 (OpenMLDB ``hash64``/``discrete``).

    Invalid slots hold 0. Each distinct value is hashed once.
    """
    n = len(col)
    out = np.zeros(n, dtype=np.int64)
    if col.type is SQLType.NULL or not col.valid.any():
        return out
    values = col.values[col.valid]
    if col.type is SQLType.STRING:
        # Dedupe with a dict: hashing Python strings is far cheaper than sorting them (np.unique).
        strings = values.tolist()
        distinct = {text: 0 for text in strings}
        for text in distinct:
            distinct[text] = farmhash.fingerprint64(text.encode("utf-8"))
        hashes = np.array([distinct[text] for text in strings], dtype=np.uint64)
        out[col.valid] = hashes.view(np.int64)
        return out
    if col.type is SQLType.DATE:
        values = _packed_dates(values)
    uniq, inverse = np.unique(values, return_inverse=True)
    dtype = np.dtype(_HASH_DTYPES[col.type])
    raw = uniq.astype(dtype).tobytes()
    width = dtype.itemsize
    unique_hashes = [farmhash.fingerprint64(raw[i : i + width]) for i in range(0, len(raw), width)]
    out[col.valid] = np.array(unique_hashes, dtype=np.uint64).view(np.int64)[inverse]
    return out


@functools.lru_cache(maxsize=4096)
def _slot_hash(slot: int) -> int:
    """Signed ``Fingerprint64`` of an int64 slot number (the middle term of a GCFormat continuous feature)."""
    unsigned = farmhash.fingerprint64(np.array([slot], dtype="<i8").tobytes())
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


# ---------------------------------------------------------------------------------------------------------------------
# Type checking
# ---------------------------------------------------------------------------------------------------------------------
def _normalize_kind(kind: str) -> str:
    key = kind.lower()
    if key not in SIGNATURE_KINDS:
        known = ", ".join(sorted(SIGNATURE_KINDS))
        raise FunctionTypeError(f"{kind}() is not a feature signature function; expected one of: {known}")
    return key


def signature_arg_check(kind: str, arg_types: Sequence[SQLType]) -> None:
    """Check the arguments of a tagging function such as ``discrete(x, bucket)``.

    An untyped ``NULL`` literal is accepted anywhere (it gives a NULL feature).

    Raises:
        FunctionTypeError: unknown kind, wrong number of arguments or an argument of an unsupported type.
    """
    key = _normalize_kind(kind)
    accepted = _VALUE_TYPES[key]
    max_args = 2 if key == "discrete" else 1
    shown = ", ".join(str(t) for t in arg_types)
    expected = " | ".join(sorted(str(t) for t in accepted))
    usage = f"{key}({expected}{', int | bigint' if key == 'discrete' else ''})"
    if not 1 <= len(arg_types) <= max_args:
        raise FunctionTypeError(f"{key}({shown}) has the wrong number of arguments; expected {usage}")
    if arg_types[0] not in accepted and arg_types[0] is not SQLType.NULL:
        raise FunctionTypeError(f"{key}({shown}) is not supported; expected {usage}")
    if len(arg_types) == 2 and arg_types[1] not in _BUCKET_TYPES and arg_types[1] is not SQLType.NULL:
        raise FunctionTypeError(f"{key}({shown}): the bucket size must be int or bigint")


def signature_standalone_type(kind: str, arg_types: Sequence[SQLType]) -> SQLType:
    """Result type of a tagging function used outside a formatter: OpenMLDB rejects such a call.

    Its value is a (signature, value) tuple, which no output column can hold.

    Raises:
        FunctionTypeError: always (after the argument check, so type errors are reported first).
    """
    signature_arg_check(kind, arg_types)
    formatters = ", ".join(f"{f}()" for f in sorted(FORMATTERS))
    raise FunctionTypeError(f"{kind.lower()}() can only be used as an argument of {formatters}")


def signature_standalone(kind: str, args: Sequence[Column], ctx: EvalContext) -> Column:
    """Evaluate a tagging function outside a formatter: rejected like :func:`signature_standalone_type`.

    Raises:
        FunctionTypeError: always.
    """
    signature_standalone_type(kind, [a.type for a in args])
    raise AssertionError("unreachable")  # pragma: no cover - the line above always raises


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation of the tagged values
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tagged:
    """One tagging-function argument of a formatter, evaluated for every row.

    Attributes:
        kind: the tagging function.
        text: the value as OpenMLDB prints it, NULL where the feature is absent (NULL value or, for a bucketed
            ``discrete``, a NULL or non-positive bucket size). An Arrow string array.
        bucket: for ``discrete(x, B)``: B where B is not NULL and positive, else 0; None for the other kinds.
        number: for ``discrete(x, B)``: the bucketed hash (int64); None otherwise.
    """

    kind: str
    text: pa.Array
    bucket: np.ndarray | None = None
    number: np.ndarray | None = None


def _int_text(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Decimal text of int64 values, NULL where not ``valid`` (formatted by Arrow, in C++)."""
    return pa.array(values.astype(np.int64), mask=~valid).cast(pa.string())


def _evaluate(kind: str, args: Sequence[Column]) -> _Tagged:
    key = _normalize_kind(kind)
    signature_arg_check(key, [a.type for a in args])
    value = args[0]
    valid = value.valid & (value.type is not SQLType.NULL)
    if key != "discrete":
        texts = format_cpp_to_string(value)
        return _Tagged(key, arrow_strings(texts, valid))
    hashes = fingerprint64(value)
    if len(args) == 1:
        return _Tagged(key, _int_text(hashes, valid))
    bucket_col = args[1]
    sizes = bucket_col.values.astype(np.int64)
    usable = bucket_col.valid & (bucket_col.type is not SQLType.NULL) & (sizes > 0)
    bucket = np.where(usable, sizes, 0)
    number = (hashes.view(np.uint64) % np.where(usable, sizes, 1).astype(np.uint64)).astype(np.int64)
    return _Tagged(key, _int_text(number, valid & usable), bucket, number)


# ---------------------------------------------------------------------------------------------------------------------
# Formatters (text is assembled with Arrow's element-wise string kernels)
# ---------------------------------------------------------------------------------------------------------------------
def _empty_strings(n: int) -> pa.Array:
    return pc.fill_null(pa.nulls(n, pa.string()), "")


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; NULL where any part is NULL."""
    return pc.binary_join_element_wise(*parts, "")


def _join_present(tokens: list[pa.Array], n: int) -> pa.Array:
    """Per row, the non-NULL tokens joined by single spaces ("" when there is none)."""
    line = _empty_strings(n)
    for token in tokens:
        sep = pc.if_else(pc.and_(pc.is_valid(token), pc.not_equal(line, "")), " ", "")
        line = _join(line, sep, pc.fill_null(token, ""))
    return line


def _label_text(tagged: _Tagged) -> pa.Array:
    """The label a label argument sets: every label argument replaces the previous one, and a NULL one clears it."""
    return pc.fill_null(tagged.text, "")


def _format_csv(tagged: list[_Tagged], n: int) -> pa.Array:
    if not tagged:
        return _empty_strings(n)
    fields = [pc.fill_null(t.text, "") for t in tagged]
    return pc.binary_join_element_wise(*fields, ",")


def _format_libsvm(tagged: list[_Tagged], n: int) -> pa.Array:
    slot = np.ones(n, dtype=np.int64)  # C++ size_t; int64 wraps identically
    label = _empty_strings(n)
    tokens: list[pa.Array] = []
    for t in tagged:
        if t.kind in _LABEL_KINDS:
            label = _label_text(t)
        elif t.kind == "continuous":
            slot_text = pa.array(slot.view(np.uint64)).cast(pa.string())  # size_t prints unsigned
            tokens.append(_join(slot_text, ":", t.text))
            slot += 1
        elif t.bucket is None or t.number is None:  # discrete(x): the raw hash is the index; no slot used
            tokens.append(_join(t.text, ":1"))
        else:  # discrete(x, B): an index inside the slot range [slot, slot + B)
            index = _int_text(slot + t.number, pc.is_valid(t.text).to_numpy(zero_copy_only=False))
            tokens.append(_join(index, ":1"))
            slot += t.bucket
    features = _join_present(tokens, n)
    sep = pc.if_else(pc.and_(pc.not_equal(label, ""), pc.not_equal(features, "")), " ", "")
    return _join(label, sep, features)


def _format_gcformat(tagged: list[_Tagged], n: int) -> pa.Array:
    slot = 1
    label = _empty_strings(n)
    tokens: list[pa.Array] = []
    for t in tagged:
        if t.kind in _LABEL_KINDS:
            label = _label_text(t)
            continue
        prefix = f"{slot}:{_slot_hash(slot)}:" if t.kind == "continuous" else f"{slot}:"
        tokens.append(_join(prefix, t.text))
        slot += 1
    return _join(label, " | ", _join_present(tokens, n))


_FORMAT_IMPLS = {"csv": _format_csv, "libsvm": _format_libsvm, "gcformat": _format_gcformat}


def format_signatures(
    fmt: str, sigs: Sequence[tuple[str, Sequence[Column]]], ctx: EvalContext, n_rows: int | None = None
) -> Column:
    """Evaluate ``fmt(kind1(args1...), kind2(args2...), ...)``: one instance line per row.

    Args:
        fmt: ``csv``, ``libsvm`` or ``gcformat`` (case-insensitive).
        sigs: ``(kind, argument columns)`` per tagging-function argument, in argument order.
        ctx: evaluation settings (unused: the output depends on no time zone).
        n_rows: number of rows; only needed when ``sigs`` is empty (``csv()``), where it defaults to 1.

    Returns:
        A STRING column without NULLs.

    Raises:
        FunctionTypeError: unknown formatter or tagging function, or bad tagging-function arguments.
    """
    key = fmt.lower()
    if key not in _FORMAT_IMPLS:
        raise FunctionTypeError(f"{fmt}() is not a feature formatter; expected one of: {', '.join(sorted(FORMATTERS))}")
    lengths = {len(col) for _, args in sigs for col in args}
    if len(lengths) > 1:
        raise ValueError(f"{key}(): argument columns differ in length ({sorted(lengths)})")
    n = lengths.pop() if lengths else (1 if n_rows is None else n_rows)
    if n_rows is not None and n_rows != n:
        raise ValueError(f"{key}(): n_rows={n_rows} but the argument columns have {n} rows")
    tagged = [_evaluate(kind, args) for kind, args in sigs]
    lines = _FORMAT_IMPLS[key](tagged, n).to_numpy(zero_copy_only=False)
    return Column(SQLType.STRING, lines.astype(object), np.ones(n, dtype=np.bool_))
