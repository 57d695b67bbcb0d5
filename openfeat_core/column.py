"""The columnar value every kernel consumes and produces.

A :class:`Column` is a typed NumPy buffer plus a validity mask. It is the one currency between the
executors (batch and request) and the function library, so each function is written once against it.
"""

from __future__ import annotations

import datetime as _dt
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.types import SQLType, sql_type_of_arrow

_EPOCH_DATE = _dt.date(1970, 1, 1)


class Column:
    """A typed column: ``values[i]`` is meaningful only where ``valid[i]`` is true.

    Columns are values: nothing changes a column or its arrays after construction (a function returns a new
    column). A plain slotted class rather than a frozen dataclass, because an online request builds dozens of
    columns and a frozen dataclass costs three times as much to construct.

    Attributes:
        type: the SQL type; fixes the dtype of ``values`` (see :mod:`openfeat_core.types`).
        values: physical values. Entries where ``valid`` is false hold the type's zero value
            (``0``, ``False`` or ``""``), which is what OpenMLDB passes to non-nullable UDF arguments.
        valid: ``True`` where the value is not NULL.
    """

    __slots__ = ("type", "valid", "values")

    def __init__(self, type: SQLType, values: np.ndarray, valid: np.ndarray) -> None:
        if len(values) != len(valid):
            raise ValueError(f"values ({len(values)}) and valid ({len(valid)}) differ in length")
        self.type = type
        self.values = values
        self.valid = valid

    def __repr__(self) -> str:
        return f"Column({self.type.name}, n={len(self)})"

    def __len__(self) -> int:
        return len(self.values)

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def from_values(type_: SQLType, values: np.ndarray, valid: np.ndarray | None = None) -> Column:
        """Build a column, casting ``values`` to the type's dtype and zeroing invalid slots."""
        dtype = type_.numpy_dtype
        vals = np.asarray(values)
        if vals.dtype != dtype:
            vals = vals.astype(dtype)
        if valid is None:
            valid = np.ones(len(vals), dtype=np.bool_)
        else:
            valid = np.asarray(valid, dtype=np.bool_)
            if not valid.all():
                vals = vals.copy() if vals is values else vals
                _put_zero(vals, ~valid, type_)
        return Column(type_, vals, valid)

    @staticmethod
    def constant(value: Any, type_: SQLType, n: int) -> Column:
        """A column of ``n`` copies of a Python value (``None`` gives NULLs)."""
        if value is None or type_ is SQLType.NULL:
            return Column.nulls(type_, n)
        dtype = type_.numpy_dtype
        if type_ is SQLType.STRING:
            vals = np.empty(n, dtype=object)
            vals[:] = value
        elif type_.is_nested:
            vals = np.empty(n, dtype=object)
            vals.fill(value)  # fill, not slice assignment: NumPy would spread the tuple over the rows
        else:
            vals = np.full(n, value, dtype=dtype)
        return Column(type_, vals, np.ones(n, dtype=np.bool_))

    @staticmethod
    def nulls(type_: SQLType, n: int) -> Column:
        """A column of ``n`` NULLs."""
        if type_ is SQLType.STRING or type_.is_nested:
            vals = np.empty(n, dtype=object)
            vals.fill(zero_value(type_))
        else:
            vals = np.zeros(n, dtype=type_.numpy_dtype)
        return Column(type_, vals, np.zeros(n, dtype=np.bool_))

    @staticmethod
    def from_pylist(values: Sequence[Any], type_: SQLType) -> Column:
        """Build from Python values (``None`` is NULL). Dates may be ``datetime.date`` or ISO strings,
        timestamps ``datetime`` objects or epoch milliseconds."""
        n = len(values)
        valid = np.array([v is not None for v in values], dtype=np.bool_)
        zero = zero_value(type_)
        conv = [zero if v is None else _py_to_physical(v, type_) for v in values]
        if type_ is SQLType.STRING or type_.is_nested:
            arr = np.empty(n, dtype=object)
            for i, v in enumerate(conv):  # element-wise: a tuple value must stay one object
                arr[i] = v
        else:
            arr = np.array(conv, dtype=type_.numpy_dtype) if n else np.zeros(0, type_.numpy_dtype)
        return Column(type_, arr, valid)

    @staticmethod
    def from_arrow(array: pa.Array | pa.ChunkedArray, type_: SQLType | None = None) -> Column:
        """Convert an Arrow array; ``type_`` defaults to the natural SQL type of the Arrow type."""
        if isinstance(array, pa.ChunkedArray):
            if pa.types.is_dictionary(array.type) and array.num_chunks > 1:
                # Row groups carry dictionaries of their own; unify them before concatenating.
                array = array.unify_dictionaries()
            array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
        if pa.types.is_dictionary(array.type) and not pa.types.is_string(array.type.value_type):
            array = array.dictionary_decode()
        natural = sql_type_of_arrow(array.type)
        type_ = type_ or natural
        n = len(array)
        if pa.types.is_dictionary(array.type) and type_ is not SQLType.STRING:
            array = array.dictionary_decode()
        valid = arrow_valid(array)
        if type_ is SQLType.NULL or natural is SQLType.NULL:
            return Column.nulls(type_, n)
        if natural.is_nested:
            if type_ is not natural:
                raise ValueError(f"an Arrow {array.type} column cannot be read as {type_}")
            return Column(type_, _nested_physical(array, type_), valid)
        if pa.types.is_timestamp(array.type):
            if array.type.unit != "ms" or array.type.tz is not None:
                array = array.cast(pa.timestamp(array.type.unit)).cast(pa.timestamp("ms"), safe=False)
            array = array.cast(pa.int64())
        elif pa.types.is_date(array.type):
            array = array.cast(pa.date32()).cast(pa.int32())
        if type_ is SQLType.STRING and natural is SQLType.STRING:
            return DictColumn.from_arrow_strings(array, valid)
        if type_ is SQLType.STRING:
            vals = np.asarray(array.fill_null("").to_pylist() if array.null_count else array.to_pylist(), dtype=object)
            if vals.shape != (n,):  # an empty list would give shape (0,), fine; guard odd shapes
                vals = np.array(list(vals), dtype=object).reshape(n)
            return Column(type_, vals, valid)
        vals = arrow_numpy(array)
        if array.null_count:  # NULL slots hold 0 (False), whatever the buffer held
            vals = np.where(valid, vals, vals.dtype.type(0))
        return Column.from_values(type_, vals, valid)

    # ------------------------------------------------------------------ conversions
    def to_arrow(self) -> pa.Array:
        """Convert to an Arrow array of :attr:`SQLType.arrow_type`.

        Fixed-width values are shared with Arrow, not copied (results of 10M rows would otherwise exist twice).
        """
        n = len(self)
        if self.type is SQLType.NULL:
            return pa.nulls(n)
        if self.type.is_nested:
            return pa.array(self.to_pylist(), type=self.type.arrow_type)
        if self.type is SQLType.STRING:
            if n <= 64:  # request results: pyarrow's conversion is quicker on a few values
                return pa.array(self.values, type=SQLType.STRING.arrow_type, mask=~self.valid)
            return string_arrow(self.values, self.valid)
        if n <= 64:
            # Small results (online requests): one conversion call beats assembling buffers by hand. Temporal types
            # are built as their integer storage and viewed: Arrow's own conversion checks time zones per call.
            mask = None if np.count_nonzero(self.valid) == n else ~self.valid
            if self.type in (SQLType.TIMESTAMP, SQLType.DATE):
                return pa.array(self.values, mask=mask).view(self.type.arrow_type)
            return pa.array(self.values, type=self.type.arrow_type, mask=mask)
        validity, null_count = _validity_buffer(self.valid)
        if self.type is SQLType.BOOL:
            data = pa.py_buffer(np.packbits(self.values.astype(np.bool_, copy=False), bitorder="little"))
        else:
            data = pa.py_buffer(np.ascontiguousarray(self.values, dtype=self.type.numpy_dtype))
        return pa.Array.from_buffers(self.type.arrow_type, n, [validity, data], null_count=null_count)

    def to_pylist(self) -> list[Any]:
        """Python values, ``None`` for NULL; dates as ``datetime.date``, timestamps as epoch ms ints."""
        out: list[Any] = []
        for v, ok in zip(self.values.tolist(), self.valid.tolist(), strict=True):
            if not ok:
                out.append(None)
            elif self.type is SQLType.DATE:
                out.append(_EPOCH_DATE + _dt.timedelta(days=int(v)))
            elif self.type.is_nested:
                out.append(_nested_python(v, self.type))
            else:
                out.append(v)
        return out

    def to_physical_list(self) -> list[Any]:
        """The physical values (dates as days, timestamps as epoch ms), ``None`` for NULL."""
        return [v if ok else None for v, ok in zip(self.values.tolist(), self.valid.tolist(), strict=True)]

    def value(self, i: int) -> Any:
        """Row ``i`` as :meth:`to_pylist` gives it (cheaper than a list for the few rows of a request)."""
        if not self.valid[i]:
            return None
        v = self.values.item(i)
        if self.type.is_nested:
            return _nested_python(v, self.type)
        return _EPOCH_DATE + _dt.timedelta(days=v) if self.type is SQLType.DATE else v

    # ------------------------------------------------------------------ reshaping
    def take(self, indices: np.ndarray) -> Column:
        """Rows at ``indices``; an index of ``-1`` gives NULL."""
        idx = np.asarray(indices, dtype=np.int64)
        missing = idx < 0
        if not missing.any():
            return Column(self.type, self.values[idx], self.valid[idx])
        safe = np.where(missing, 0, idx)
        if len(self) == 0:
            return Column.nulls(self.type, len(idx))
        vals = self.values[safe]
        valid = self.valid[safe] & ~missing
        _put_zero(vals, missing, self.type)
        return Column(self.type, vals, valid)

    def filter(self, mask: np.ndarray) -> Column:
        return Column(self.type, self.values[mask], self.valid[mask])

    def slice(self, start: int, stop: int) -> Column:
        """Rows ``start .. stop-1`` as a view (no copy)."""
        return Column(self.type, self.values[start:stop], self.valid[start:stop])

    def with_type(self, type_: SQLType) -> Column:
        """The same values reinterpreted/cast to ``type_`` (numeric widening only; no parsing)."""
        if type_ is self.type:
            return self
        if self.type is SQLType.NULL:
            return Column.nulls(type_, len(self))
        return Column.from_values(type_, self.values.astype(type_.numpy_dtype), self.valid)

    @staticmethod
    def concat(columns: Sequence[Column]) -> Column:
        """Concatenate columns of the same type."""
        if columns and all(isinstance(c, DictColumn) for c in columns):
            return DictColumn.concat_dict([c for c in columns if isinstance(c, DictColumn)])
        type_ = columns[0].type
        return Column(
            type_,
            np.concatenate([c.values for c in columns]) if columns else np.zeros(0, type_.numpy_dtype),
            np.concatenate([c.valid for c in columns]) if columns else np.zeros(0, np.bool_),
        )


class DictColumn(Column):
    """A STRING column kept dictionary-encoded: ``codes`` index ``dictionary`` (distinct Python strings).

    Kernels that group, count or compare strings work on the integer codes (see :func:`sorted_codes`), and
    reshaping (take, filter, concat) moves integers rather than Python objects. ``values`` (the object array
    other string functions read) is materialised on first use and cached.
    """

    __slots__ = ("_values", "codes", "dictionary")

    def __init__(self, codes: np.ndarray, dictionary: np.ndarray, valid: np.ndarray) -> None:
        self.type = SQLType.STRING
        self.codes = codes
        self.dictionary = dictionary
        self.valid = valid
        self._values: np.ndarray | None = None

    @staticmethod
    def from_arrow_strings(array: pa.Array, valid: np.ndarray) -> DictColumn:
        encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
        dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=object).reshape(len(encoded.dictionary))
        indices = encoded.indices
        codes = arrow_numpy(indices).astype(np.int32, copy=False)
        if indices.null_count:  # NULL slots hold code 0, whatever the buffer held
            codes = np.where(arrow_valid(indices), codes, np.int32(0))
        if len(dictionary) == 0:
            dictionary = np.array([""], dtype=object)
            codes = np.zeros(len(codes), dtype=np.int32)
        return DictColumn(codes, dictionary, valid)

    @property
    def values(self) -> np.ndarray:  # type: ignore[override]
        cached = self._values
        if cached is None:
            cached = self.dictionary[self.codes] if len(self.codes) else np.empty(0, dtype=object)
            if not self.valid.all():
                cached[~self.valid] = ""
            self._values = cached
        return cached

    def __len__(self) -> int:
        return len(self.codes)

    def value(self, i: int) -> Any:
        return self.dictionary[self.codes[i]] if self.valid[i] else None

    def __repr__(self) -> str:
        return f"DictColumn(n={len(self)}, distinct={len(self.dictionary)})"

    def take(self, indices: np.ndarray) -> Column:
        idx = np.asarray(indices, dtype=np.int64)
        missing = idx < 0
        if not missing.any():
            return DictColumn(self.codes[idx], self.dictionary, self.valid[idx])
        if len(self.codes) == 0:
            return Column.nulls(SQLType.STRING, len(idx))
        safe = np.where(missing, 0, idx)
        codes = self.codes[safe]
        codes[missing] = 0
        return DictColumn(codes, self.dictionary, self.valid[safe] & ~missing)

    def filter(self, mask: np.ndarray) -> Column:
        return DictColumn(self.codes[mask], self.dictionary, self.valid[mask])

    def slice(self, start: int, stop: int) -> Column:
        return DictColumn(self.codes[start:stop], self.dictionary, self.valid[start:stop])

    def to_arrow(self) -> pa.Array:
        if len(self.codes) <= 64 or len(self.codes) < len(self.dictionary):
            # Few rows, or fewer than the dictionary (request results): decoding the rows beats casting the dictionary.
            strings = self.dictionary[self.codes].tolist()
            if not self.valid.all():
                strings = [v if ok else None for v, ok in zip(strings, self.valid.tolist(), strict=True)]
            return pa.array(strings, type=SQLType.STRING.arrow_type)
        validity, null_count = _validity_buffer(self.valid)
        codes = np.ascontiguousarray(self.codes, dtype=np.int32)
        indices = pa.Array.from_buffers(pa.int32(), len(codes), [validity, pa.py_buffer(codes)], null_count=null_count)
        return pa.DictionaryArray.from_arrays(indices, string_arrow(self.dictionary, None)).cast(pa.string())

    @staticmethod
    def concat_dict(columns: Sequence[DictColumn]) -> DictColumn:
        """Concatenate, merging the dictionaries (codes of later columns are shifted)."""
        if all(c.dictionary is columns[0].dictionary for c in columns):
            return DictColumn(
                np.concatenate([c.codes for c in columns]),
                columns[0].dictionary,
                np.concatenate([c.valid for c in columns]),
            )
        offsets = np.cumsum([0] + [len(c.dictionary) for c in columns[:-1]])
        codes = np.concatenate([c.codes.astype(np.int64) + off for c, off in zip(columns, offsets, strict=True)])
        merged = np.concatenate([c.dictionary for c in columns])
        uniques, inverse = np.unique(merged, return_inverse=True)
        return DictColumn(inverse[codes].astype(np.int32), uniques, np.concatenate([c.valid for c in columns]))


#: Held weakly: a mask lives as long as some column uses it.
_ALL_VALID: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def all_valid(n: int) -> np.ndarray:
    """A shared, read-only all-true validity mask of length ``n``.

    Input columns without NULLs share it instead of each holding ``n`` bytes; it is read-only so that a
    kernel writing into an input's mask fails loudly rather than corrupting other columns.
    """
    mask = _ALL_VALID.get(n)
    if mask is None:
        mask = np.ones(n, dtype=np.bool_)
        mask.setflags(write=False)
        _ALL_VALID[n] = mask
    return mask


def zero_value(type_: SQLType) -> Any:
    """The value OpenMLDB substitutes for NULL when a function argument is not nullable."""
    if type_ is SQLType.STRING:
        return ""
    if type_ in (SQLType.BOOL, SQLType.NULL):
        return False
    if type_.is_nested:
        return ()
    return 0


def _put_zero(values: np.ndarray, mask: np.ndarray, type_: SQLType) -> None:
    """Set ``values[mask]`` to the type's zero value (one by one for ARRAY/MAP: NumPy would unpack a tuple)."""
    if type_.is_nested:
        for i in np.flatnonzero(mask):
            values[i] = ()
    else:
        values[mask] = zero_value(type_)


def _nested_python(v: tuple[Any, ...], type_: SQLType) -> list[Any]:
    """An ARRAY value as a Python list, a MAP value as a list of ``(key, value)`` pairs (as Arrow gives a map), with
    dates as ``datetime.date`` and NULL elements as ``None``."""

    def py(x: Any, t: SQLType) -> Any:
        if x is None:
            return None
        if t is SQLType.DATE:
            return _EPOCH_DATE + _dt.timedelta(days=x)
        return _nested_python(x, t) if t.is_nested else x

    if type_.is_array:
        return [py(x, type_.element) for x in v]
    return [(py(k, type_.map_key), py(x, type_.map_value)) for k, x in v]


def _nested_physical(array: pa.Array, type_: SQLType) -> np.ndarray:
    """The values of an Arrow list or map array as tuples of physical values (see :mod:`openfeat_core.types`)."""
    offsets = array.offsets.to_numpy()
    if type_.is_map:
        keys = Column.from_arrow(array.keys, type_.map_key).to_physical_list()
        items = Column.from_arrow(array.items, type_.map_value).to_physical_list()
        flat: list[Any] = list(zip(keys, items, strict=True))
    else:
        flat = Column.from_arrow(array.values, type_.element).to_physical_list()
    out = np.empty(len(array), dtype=object)
    for i in range(len(array)):
        out[i] = tuple(flat[offsets[i] : offsets[i + 1]])
    return out


def _py_to_physical(v: Any, type_: SQLType) -> Any:
    if type_.is_array:
        return tuple(None if x is None else _py_to_physical(x, type_.element) for x in v)
    if type_.is_map:
        pairs = v.items() if isinstance(v, dict) else v
        return tuple(
            (_py_to_physical(k, type_.map_key), None if x is None else _py_to_physical(x, type_.map_value))
            for k, x in pairs
        )
    if type_ is SQLType.DATE:
        if isinstance(v, str):
            v = _dt.date.fromisoformat(v)
        if isinstance(v, _dt.datetime):
            v = v.date()
        if isinstance(v, _dt.date):
            return (v - _EPOCH_DATE).days
        return int(v)
    if type_ is SQLType.TIMESTAMP:
        if isinstance(v, _dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=_dt.timezone.utc)
            return int(v.timestamp() * 1000)
        return int(v)
    if type_ is SQLType.STRING:
        return str(v)
    if type_ is SQLType.BOOL:
        return bool(v)
    if type_.is_integer:
        return int(v)
    return float(v)


def sorted_codes(col: Column) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a column with an order-preserving dictionary.

    Returns:
        ``(codes, uniques)``: ``codes`` is int64, ``uniques[codes[i]] == col.values[i]`` and the codes
        sort like the values; NULL rows get code ``-1``. Works for every type, strings included, so
        kernels compiled for integers can aggregate strings.
    """
    n = len(col)
    if isinstance(col, DictColumn):
        # Sort only the dictionary, then remap the codes: O(n + d log d).
        order = np.argsort(col.dictionary, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        used = np.zeros(len(order), dtype=np.bool_)
        used[col.codes[col.valid]] = True
        # Keep only dictionary entries that occur, so codes stay dense and `uniques` lists real values.
        dense = np.cumsum(used[order]) - 1
        remap = dense[rank]
        codes = np.where(col.valid, remap[col.codes], -1).astype(np.int64)
        return codes, col.dictionary[order][used[order]]
    all_valid = bool(col.valid.all())
    codes = np.full(n, -1, dtype=np.int64)
    valid_vals = col.values if all_valid else col.values[col.valid]
    if len(valid_vals) == 0:
        return codes, valid_vals[:0]
    if valid_vals.dtype.kind in "iub":
        # Integers over a dense range: a presence table beats sorting (O(n + range) instead of O(n log n)).
        ints = valid_vals.astype(np.int64, copy=False)
        lo, hi = int(ints.min()), int(ints.max())
        if hi - lo <= 4 * len(ints) + 1024:
            offsets = ints - lo
            present = np.zeros(hi - lo + 1, dtype=np.bool_)
            present[offsets] = True
            rank = np.cumsum(present, dtype=np.int64) - 1
            if all_valid:
                codes = rank[offsets]
            else:
                codes[col.valid] = rank[offsets]
            uniques = (np.nonzero(present)[0] + lo).astype(valid_vals.dtype)
            return codes, uniques
    if col.type is SQLType.STRING:
        # Hash-encode with Arrow, then sort only the distinct strings (Python string sorts are slow).
        encoded = string_arrow(valid_vals, None).dictionary_encode()
        distinct = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        order = np.argsort(distinct, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        codes[col.valid] = rank[arrow_numpy(encoded.indices).astype(np.int64)]
        return codes, distinct[order]
    uniques, inverse = np.unique(valid_vals, return_inverse=True)
    codes[col.valid] = inverse.astype(np.int64)
    return codes, uniques


# pyarrow's own conversions (``to_numpy``, ``pa.array``, ``pa.scalar``) import pandas when it is installed: half a
# second or more in a fresh process, which every orchestrator task is. The engine's hot path reads and writes Arrow
# buffers itself instead.
def _fixed_width_dtype(t: pa.DataType) -> np.dtype | None:
    if pa.types.is_signed_integer(t) or pa.types.is_temporal(t):
        return np.dtype(f"<i{t.bit_width // 8}")
    if pa.types.is_unsigned_integer(t):
        return np.dtype(f"<u{t.bit_width // 8}")
    if pa.types.is_floating(t):
        return np.dtype(f"<f{t.bit_width // 8}")
    return None


def _unpack_bits(buffer: pa.Buffer | None, offset: int, n: int) -> np.ndarray:
    if buffer is None or n == 0:
        return np.zeros(n, dtype=np.bool_)
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=offset + n, bitorder="little")
    return bits[offset:].view(np.bool_)


def _one_chunk(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def arrow_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a fixed-width or boolean Arrow array as NumPy, zero-copy where the layout allows.

    NULL slots hold whatever the buffer holds (fill them first when that matters). Other types go through pyarrow's
    ``to_numpy``.
    """
    array = _one_chunk(array)
    n = len(array)
    if pa.types.is_boolean(array.type):
        return _unpack_bits(array.buffers()[1], array.offset, n)
    dtype = _fixed_width_dtype(array.type)
    if dtype is None:
        return array.to_numpy(zero_copy_only=False)
    data = array.buffers()[1]
    if data is None or n == 0:
        return np.zeros(n, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=n, offset=array.offset * dtype.itemsize)


def arrow_valid(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The validity of an Arrow array as a NumPy bool array (the shared :func:`all_valid` mask when no NULL)."""
    array = _one_chunk(array)
    if array.null_count == 0:
        return all_valid(len(array))
    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=np.bool_)
    return _unpack_bits(array.buffers()[0], array.offset, len(array)).copy()


def _validity_buffer(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap of ``valid`` (None when nothing is NULL) and the NULL count."""
    null_count = len(valid) - int(np.count_nonzero(valid))
    return (pa.py_buffer(np.packbits(valid, bitorder="little")) if null_count else None), null_count


def string_arrow(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """A UTF-8 Arrow array of Python strings (``valid`` False, or a None value, is NULL), built from its buffers."""
    n = len(values)
    items = values.tolist()
    mask = np.fromiter((v is not None for v in items), dtype=np.bool_, count=n)
    if valid is not None:
        mask &= valid
    encoded = [v.encode("utf-8") if ok else b"" for v, ok in zip(items, mask.tolist(), strict=True)]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
    validity, null_count = _validity_buffer(mask)
    data = pa.py_buffer(b"".join(encoded))
    if offsets[-1] < 2**31:
        buffers = [validity, pa.py_buffer(offsets.astype(np.int32)), data]
        return pa.Array.from_buffers(pa.string(), n, buffers, null_count=null_count)
    large = pa.Array.from_buffers(pa.large_string(), n, [validity, pa.py_buffer(offsets), data], null_count=null_count)
    return large.cast(pa.string())  # (raises where the result cannot be one array, as pa.array would)
