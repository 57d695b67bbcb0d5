"""Writing data out of OpenFeat: CSV, Parquet, LIBSVM training sets and verbatim instance lines.

Every export takes a ``pa.Table``, a ``pa.RecordBatch`` or any iterable of record batches (a ``RecordBatchReader``,
a generator...) and a destination path or URI (``file://``, ``s3://``..., named as :mod:`openfeat_core.io.location`
resolves it, with the caller's ``storage_options``; or a path of the ``filesystem`` given).
Data is **streamed**: batches are formatted and written one at a time (formatted by a small thread pool, written in
order), so memory stays bounded whatever the size. Writes are **atomic**: the bytes go to a temporary name in the
destination's directory (``.tmp-<uuid>-<name>``) which is renamed over the destination only once everything is
written; if anything fails (a bad value, the input iterator raising, a full disk) the temporary file is deleted and
the destination is untouched. On an object store the rename is a server-side copy of the finished object (pyarrow's
``move``), so readers see the old object or the whole new one, never a part. (Files are not fsynced: the rename
protects against failures of the writing process, not against a power loss of the machine.)

Modes (OpenMLDB ``SELECT ... INTO OUTFILE`` option ``mode``): ``error_if_exists`` (default: refuse to replace an
existing destination), ``overwrite`` and ``append`` (the existing content is kept and the new rows added after it;
the combined file is still published atomically, at the cost of copying the existing content).

**CSV** (:func:`export_csv`) options mirror ``SELECT ... INTO OUTFILE``: ``delimiter``, ``header``, ``null_value``,
``quote`` (plus ``quote_all``). Formatting: integers in decimal; floating-point numbers in the shortest form that
reads back to the same value (``1.5``, ``1e+20``, ``nan``, ``inf``); booleans ``true``/``false``; dates
``YYYY-MM-DD``; timestamps ISO-8601 in UTC with milliseconds, ``2024-05-01T08:30:00.000Z`` (what OpenMLDB's Spark
writer prints with a UTC session zone), or epoch milliseconds with ``timestamp_format="epoch_ms"``. With a quote
character, a field is quoted when it contains the delimiter, the quote, a line break, or equals the NULL marker
(so an empty string stays distinguishable from a NULL written as an empty field); a quote inside is doubled
(RFC 4180). With ``quote=""`` fields are never quoted and a value that would need quoting is an error.
OpenMLDB's own defaults differ from this function's: ``null_value="null"`` and ``quote=""``; pass those to
reproduce its files exactly.

**LIBSVM** (:func:`export_libsvm`, "friendly mode"): one line ``label index:value index:value ...`` per row. The
label column gives ``1``/``0`` for booleans and the number itself for numeric columns. Every other column is a
feature, laid out the way OpenMLDB's ``libsvm()`` lays out ``continuous()`` and ``discrete(x, buckets)`` arguments,
in column order, from slot 1: a numeric column is **continuous** (one slot, ``slot:value``); a string, boolean,
date or timestamp column (or an integer column named in ``categorical``) is **discrete**: it owns ``buckets``
slots starting at its first slot and a value ``v`` is written ``(first_slot + fingerprint64(v) % buckets):1``,
where ``fingerprint64`` is FarmHash ``Fingerprint64`` of the value's bytes as OpenMLDB's ``hash64``/``discrete``
sees them (UTF-8 for strings; little-endian int16/int32/int64; one byte for a boolean; int64 epoch milliseconds for
a timestamp; int32 ``(year-1900)<<16 | (month-1)<<8 | day`` for a date). NULL features are omitted (sparse). The
layout is written next to the file as ``<dest>.features.json`` (see :func:`build_feature_map`), and
:func:`encode_libsvm_row` reproduces a line from one row and that map, so a model server can encode requests the
same way. Values are printed like CSV numbers (shortest round trip), not with OpenMLDB's ``%f``.

**Instance lines** (:func:`export_lines`, "signature mode"): a column of lines already formatted by the SQL
``libsvm(...)``/``csv(...)``/``gcformat(...)`` functions, written verbatim one per line.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeAlias

import farmhash
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from openfeat_core.choices import (
    ON_NULL_LABEL,
    TIMESTAMP_FORMATS,
    WRITE_MODES,
    OnNullLabel,
    TimestampFormat,
    WriteMode,
)
from openfeat_core.errors import DataError, OpenFeatError
from openfeat_core.functions.datetimes import civil_from_days
from openfeat_core.io.location import resolve
from openfeat_core.types import (
    DATE_RANGE_DAYS,
    DATE_RANGE_TEXT,
    TIMESTAMP_RANGE_MS,
    TIMESTAMP_RANGE_TEXT,
    SQLType,
    sql_type_of_arrow,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "ExportResult",
    "WriteMode",
    "build_feature_map",
    "encode_libsvm_row",
    "export_csv",
    "export_libsvm",
    "export_lines",
    "export_parquet",
    "fingerprint64_fixed",
]

ExportData: TypeAlias = "pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch]"

#: Slots given to each discrete (hashed) LIBSVM feature unless ``buckets`` says otherwise.
DEFAULT_BUCKETS = 1 << 20
#: Rows formatted together (the unit of memory use of the text exports).
BATCH_ROWS = 64 * 1024
#: Name prefix of the temporary files and directories exports write before publishing.
TEMP_PREFIX = ".tmp-"
#: Unquoted values CSV readers (``read_source`` by default) take for NULL: a string equal to one is quoted.
NULL_MARKERS = ("", "null", "NULL")
#: The name of the hash function in feature maps.
HASH_NAME = "farmhash.fingerprint64"
FEATURE_MAP_SUFFIX = ".features.json"

_MODES = WRITE_MODES
_COPY_BYTES = 8 << 20
# Characters that can appear in the text of a formatted non-string value: a delimiter, quote or NULL marker made of
# them forces the quoting check on every column, not only on strings.
_FORMATTED_CHARS = frozenset("0123456789+-.:eETZnaifrulsNIy ")


# ---------------------------------------------------------------------------------------------------------------------
# Results and locations
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class ExportResult:
    """What an export wrote.

    Attributes:
        path: the destination, as given (resolved to an absolute path locally).
        format: ``csv``, ``parquet``, ``libsvm`` or ``lines``.
        rows: data rows written by this export (header and appended-to content excluded).
        bytes: bytes written by this export (the copied content of an appended-to file excluded).
        seconds: wall time.
        files: every data file written (one, or the files of a partitioned Parquet dataset).
        skipped_rows: rows left out (LIBSVM rows with a NULL label when ``on_null_label="skip"``).
        feature_map: the LIBSVM feature map written next to the data, if any.
    """

    path: str
    format: str
    rows: int
    bytes: int
    seconds: float
    files: list[str] = field(default_factory=list)
    skipped_rows: int = 0
    feature_map: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rstrip("/").rpartition("/")
    return parent, name


def _temp_name(path: str, tag: str = "") -> str:
    parent, name = _split(path)
    temp = f"{TEMP_PREFIX}{uuid.uuid4().hex}{tag}-{name}"
    return f"{parent}/{temp}" if parent else temp


def _is_local(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def _make_parent(fs: pafs.FileSystem, path: str) -> None:
    """Create the parent directory of ``path`` on local disk (object stores have no directories to create)."""
    parent, _ = _split(path)
    if parent and _is_local(fs):
        fs.create_dir(parent, recursive=True)


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise OpenFeatError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")


def _exists(fs: pafs.FileSystem, path: str) -> pafs.FileType:
    return fs.get_file_info(path).type


def _refuse_existing(fs: pafs.FileSystem, path: str, shown: str) -> None:
    if _exists(fs, path) != pafs.FileType.NotFound:
        raise DataError(f"{shown} already exists (mode='error_if_exists'); use mode='overwrite' or mode='append'")


class _AtomicFile:
    """A file written under a temporary name and renamed over the destination on :meth:`commit`.

    The rename makes the publication atomic with respect to failures of this process (a reader sees the old file
    or the new one); the data is not fsynced, so a power loss may still lose a just-written file.
    """

    def __init__(self, fs: pafs.FileSystem, path: str, shown: str, mode: WriteMode) -> None:
        self.fs = fs
        self.path = path
        self.shown = shown
        self.mode = mode
        kind = _exists(fs, path)
        if kind == pafs.FileType.Directory:
            raise DataError(f"{shown} is a directory")
        self.existed = kind == pafs.FileType.File
        if mode == "error_if_exists" and self.existed:
            _refuse_existing(fs, path, shown)
        self.temp = _temp_name(path)
        self.copied = 0
        self._stream: Any = None

    @property
    def stream(self) -> Any:
        return self._stream

    def open(self, keep_existing: bool) -> None:
        """Create the temporary file, starting with a copy of the destination if ``keep_existing``."""
        _make_parent(self.fs, self.path)
        if not (keep_existing and self.existed):
            self._stream = self.fs.open_output_stream(self.temp)
        elif _is_local(self.fs):
            self.fs.copy_file(self.path, self.temp)
            self.copied = self.fs.get_file_info(self.temp).size or 0
            self._stream = self.fs.open_append_stream(self.temp)
        else:
            self._stream = self.fs.open_output_stream(self.temp)
            with self.fs.open_input_stream(self.path) as src:
                while chunk := src.read(_COPY_BYTES):
                    self._stream.write(chunk)
                    self.copied += len(chunk)

    def commit(self) -> None:
        self._stream.close()
        if self.mode == "error_if_exists":
            _refuse_existing(self.fs, self.path, self.shown)
        self.fs.move(self.temp, self.path)

    def abort(self) -> None:
        try:
            if self._stream is not None and not self._stream.closed:
                self._stream.close()
        finally:
            if _exists(self.fs, self.temp) != pafs.FileType.NotFound:
                self.fs.delete_file(self.temp)


def _write_atomically(
    fs: pafs.FileSystem,
    path: str,
    shown: str,
    mode: WriteMode,
    write: Callable[[_AtomicFile], None],
    *,
    keep_existing: bool = False,
) -> None:
    target = _AtomicFile(fs, path, shown, mode)
    try:
        target.open(keep_existing)
        write(target)
        target.commit()
    except BaseException:
        target.abort()
        raise


# ---------------------------------------------------------------------------------------------------------------------
# Input batches
# ---------------------------------------------------------------------------------------------------------------------
def _batches(data: ExportData, rows: int = BATCH_ROWS) -> tuple[pa.Schema | None, Iterator[pa.RecordBatch]]:
    """The schema (None for an empty iterator) and the batches of ``data``, cut to at most ``rows`` rows."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=rows))
    if isinstance(data, pa.RecordBatchReader):
        schema, source = data.schema, iter(data)
    else:
        source = iter(data)
        first = next(source, None)
        if first is None:
            return None, iter(())
        schema = first.schema
        source = _prepend(first, source)
    return schema, _resliced(source, schema, rows)


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _resliced(source: Iterator[Any], schema: pa.Schema, rows: int) -> Iterator[pa.RecordBatch]:
    for item in source:
        if isinstance(item, pa.Table):
            parts = item.to_batches(max_chunksize=rows)
        elif isinstance(item, pa.RecordBatch):
            parts = [item.slice(i, rows) for i in range(0, item.num_rows, rows)]
        else:
            raise OpenFeatError(f"expected pyarrow RecordBatches, got {type(item).__name__}")
        for batch in parts:
            if not batch.schema.equals(schema):
                raise DataError(f"batch schema {batch.schema} differs from the first batch's {schema}")
            yield batch


def _ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int | None = None) -> Iterator[Any]:
    """``map(fn, items)`` on a thread pool (Arrow kernels release the GIL), in order, a few items in flight."""
    workers = workers or min(os.cpu_count() or 1, 4)
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: collections.deque[Any] = collections.deque()
        try:
            for item in items:
                window.append(pool.submit(fn, item))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


def _text_payload(lines: pa.Array) -> pa.Buffer:
    """The concatenated bytes of a string array (its value buffer between the first and last offsets)."""
    if len(lines) == 0:
        return pa.py_buffer(b"")
    if pa.types.is_large_string(lines.type):
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    else:
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start = int(offsets[lines.offset])
    stop = int(offsets[lines.offset + len(lines)])
    return lines.buffers()[2].slice(start, stop - start)


# ---------------------------------------------------------------------------------------------------------------------
# Value formatting shared by CSV and LIBSVM
# ---------------------------------------------------------------------------------------------------------------------
def _timestamp_text(values: pa.Array, epoch_ms: bool) -> pa.Array:
    """Timestamps as ISO-8601 UTC (``...T...Z``; naive ones without ``Z``) or as epoch milliseconds.

    The values are in the years 0001-9999 (:func:`_check_representable`): the year has four digits and the
    date/time separator sits at a fixed offset.
    """
    unit = values.type.unit
    aware = values.type.tz is not None
    if epoch_ms:
        raw = values.cast(pa.timestamp(unit, tz="UTC") if aware else pa.timestamp(unit)).cast(pa.int64())
        if unit == "s":
            raw = pc.multiply(raw, 1000)
        elif unit != "ms":
            factor = {"us": 1_000, "ns": 1_000_000}[unit]
            quotient = pc.divide(raw, factor)
            raw = pc.if_else(pc.less(raw, pc.multiply(quotient, factor)), pc.subtract(quotient, 1), quotient)
        return raw.cast(pa.string())
    # Casting a time-zone-aware timestamp to text converts each value through the zone database (slow); its
    # naive twin holds the same UTC wall-clock numbers and formats ~20x faster.
    text = values.cast(pa.timestamp(unit)).cast(pa.string())
    if text.null_count == 0 and len(text):
        # Every value has the same width ("YYYY-MM-DD HH:MM:SS[.fff]"): set the "T" and add the "Z" in one copy.
        n = len(text)
        width = len(_text_payload(text)) // n
        cells = np.frombuffer(_text_payload(text), dtype=np.uint8).reshape(n, width)
        out = np.empty((n, width + aware), dtype=np.uint8)
        out[:, :width] = cells
        out[:, 10] = ord("T")
        if aware:
            out[:, width] = ord("Z")
        offsets = np.arange(0, (width + aware) * (n + 1), width + aware, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))
    text = pc.binary_replace_slice(text, start=10, stop=11, replacement="T")
    return pc.binary_join_element_wise(text, "Z", "") if aware else text


def _check_representable(values: pa.Array, name: str) -> None:
    """Refuse timestamps and dates outside the years 0001-9999, which Arrow would print as ``<value out of range>``
    or with a wrapped-around year (nothing is written: exports are atomic).

    Raises:
        DataError: naming the column, the first such value and the range.
    """
    if pa.types.is_timestamp(values.type):
        unit = values.type.unit
        raw = values.cast(pa.int64())
        kind, text, what = "timestamp", TIMESTAMP_RANGE_TEXT, f"{unit} since 1970-01-01"
        # The range in the column's unit, rounded inwards.
        per_second = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
        low = -(-TIMESTAMP_RANGE_MS[0] * per_second // 1000)
        high = TIMESTAMP_RANGE_MS[1] * per_second // 1000
    else:
        raw = values.cast(pa.int32()).cast(pa.int64())
        kind, text, what = "date", DATE_RANGE_TEXT, "days since 1970-01-01"
        low, high = DATE_RANGE_DAYS
    outside = pc.or_(pc.less(raw, low), pc.greater(raw, high))
    if pc.any(outside).as_py():
        first = raw.filter(outside)[0].as_py()
        raise DataError(
            f"column {name!r} holds a {kind} outside {text} ({first} {what}), which cannot be written as text; "
            "nothing was written"
        )


#: Below this magnitude a number times 10^6 rounds to an integer that float64 holds exactly.
_FIXED_LIMIT = 2.0**53 / 1e6


def _fixed_float_text(values: pa.Array) -> pa.Array:
    """A floating-point column in C's ``%f`` form (``1.100000``: what OpenMLDB's SDK writes for FLOAT and DOUBLE,
    a FLOAT widened to double first), except where that form reads back to a different value (``1e-9`` would be
    ``0.000000``): those keep the shortest form that reads back exactly, so nothing is lost.

    The six decimals are the number times 10^6 rounded to an integer, vectorized (no per-value formatting); where
    ``%f``'s text reads back exactly, the value is the double nearest a six-decimal number and that rounding gives
    the same digits. Magnitudes from :data:`_FIXED_LIMIT` up (rare) are formatted with ``%f`` one by one."""
    if len(values) == 0:
        return values.cast(pa.string())
    numbers = values.fill_null(0).to_numpy(zero_copy_only=False)
    wide = numbers.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        small = np.abs(wide) < _FIXED_LIMIT  # False for NaN and infinities: they keep "nan", "inf"
        units = np.abs(np.rint(np.where(small, wide, 0.0) * 1e6)).astype(np.int64)
    whole = pa.array(units // 1_000_000).cast(pa.string())
    decimals = pc.utf8_lpad(pa.array(units % 1_000_000).cast(pa.string()), 6, "0")
    sign = pc.if_else(pa.array(np.signbit(wide)), pa.scalar("-"), pa.scalar(""))
    fixed = pc.binary_join_element_wise(sign, whole, pa.scalar("."), decimals, pa.scalar(""))
    large = np.flatnonzero(~small & np.isfinite(wide))
    if len(large):
        texts = fixed.to_pylist()
        for k in large.tolist():
            texts[k] = f"{wide[k]:f}"
        fixed = pa.array(texts, pa.string())
    back = pc.cast(fixed, pa.float64()).to_numpy(zero_copy_only=False).astype(numbers.dtype)
    exact = (back == numbers) & (small | np.isfinite(wide))
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    if exact.all():  # the usual case: no shortest form needed
        return pc.if_else(pa.array(nulls), pa.scalar(None, pa.string()), fixed) if nulls.any() else fixed
    return pc.if_else(pa.array(exact, mask=nulls), fixed, values.cast(pa.string()))  # NULL stays NULL


def _value_text(values: pa.Array, name: str, epoch_ms: bool = False, fixed_floats: bool = False) -> pa.Array:
    """One column as text (NULL stays NULL), formatted as the module docstring says; ``fixed_floats``: floating-point
    numbers as :func:`_fixed_float_text` writes them.

    Raises:
        DataError: the column's type has no text form.
    """
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type)
        t = values.type
    if pa.types.is_string(t):
        return values
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return values.cast(pa.string())
    if pa.types.is_timestamp(t):
        _check_representable(values, name)
        return _timestamp_text(values, epoch_ms)
    if pa.types.is_date(t):
        _check_representable(values, name)
    if fixed_floats and pa.types.is_floating(t):
        return _fixed_float_text(values)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return values.cast(pa.string())
        except pa.ArrowInvalid:
            raise DataError(f"column {name!r} holds bytes that are not UTF-8 text") from None
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise DataError(f"column {name!r} of type {t} cannot be written as text") from None


# ---------------------------------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CsvFormat:
    delimiter: str
    null_value: str
    quote: str
    quote_all: bool
    epoch_ms: bool
    check_every_column: bool
    fixed_floats: bool = False

    def field(self, text: pa.Array, name: str, is_text: bool) -> pa.Array:
        """Quote (or check) one column's text and fill its NULLs."""
        q = self.quote
        if not (is_text or self.check_every_column or self.quote_all):
            return pc.fill_null(text, self.null_value)
        if q and self.quote_all:
            return pc.fill_null(self._quoted(text), self.null_value)
        # Usually no value needs quoting: one scan of the raw bytes (memchr) proves it for the whole batch.
        payload = _text_payload(text).to_pybytes()
        specials = [s for s in (self.delimiter, "\n", "\r", q) if s and s.encode() in payload]
        clash = bool(q) and self._holds_null_marker(text, payload)
        if not specials and not clash:
            return pc.fill_null(text, self.null_value)
        needs = pc.is_in(text, pa.array(sorted({self.null_value, *NULL_MARKERS}))) if clash else None
        for special in specials:
            hit = pc.match_substring(text, special)
            needs = hit if needs is None else pc.or_(needs, hit)
        if not pc.any(needs).as_py():
            return pc.fill_null(text, self.null_value)
        if not q:
            row = pc.index(needs, True).as_py()
            raise DataError(
                f"column {name!r}: value {text[row].as_py()!r} contains the delimiter or a line break and "
                "quote is empty; pass a quote character"
            )
        return pc.fill_null(pc.if_else(needs, self._quoted(text), text), self.null_value)

    def _quoted(self, text: pa.Array) -> pa.Array:
        q = self.quote
        return pc.binary_join_element_wise(q, pc.replace_substring(text, q, q + q), q, "")

    def _holds_null_marker(self, text: pa.Array, payload: bytes) -> bool:
        """Whether a (non-NULL) value reads like a NULL marker, so must be quoted to stay a value.

        The markers are ``null_value`` and the ones :func:`openfeat_core.io.read_source` reads as NULL by default.
        """
        for marker in {self.null_value, *NULL_MARKERS}:
            if marker == "":
                if pc.any(pc.equal(pc.binary_length(text), 0)).as_py():
                    return True
            elif marker.encode() in payload and pc.any(pc.equal(text, marker)).as_py():
                return True
        return False

    def lines(self, batch: pa.RecordBatch) -> pa.Buffer:
        fields = []
        for name, values in zip(batch.schema.names, batch.columns, strict=True):
            text = _value_text(values, name, self.epoch_ms, self.fixed_floats)
            is_text = (
                pa.types.is_string(values.type)
                or pa.types.is_large_string(values.type)
                or (pa.types.is_dictionary(values.type))
            )
            fields.append(self.field(text, name, is_text))
        if not fields:
            return pa.py_buffer(b"\n" * batch.num_rows)
        # The newline is appended to the last field only (cheaper than to the whole line), then one join.
        fields[-1] = pc.binary_join_element_wise(fields[-1], pa.scalar(""), "\n")
        lines = fields[0] if len(fields) == 1 else pc.binary_join_element_wise(*fields, self.delimiter)
        return _text_payload(lines)

    def header(self, names: Sequence[str]) -> bytes:
        cells = []
        for name in names:
            needs = any(s in name for s in (self.delimiter, "\n", "\r", self.quote) if s) or name == self.null_value
            if self.quote and (self.quote_all or needs):
                cells.append(self.quote + name.replace(self.quote, self.quote * 2) + self.quote)
            elif needs and not self.quote and name != self.null_value:
                raise DataError(f"column name {name!r} contains the delimiter or a line break and quote is empty")
            else:
                cells.append(name)
        return (self.delimiter.join(cells) + "\n").encode("utf-8")


def _last_line_state(fs: pafs.FileSystem, path: str) -> tuple[bytes, bool]:
    """(first line, ends with a newline) of an existing non-empty file."""
    with fs.open_input_file(path) as f:
        size = f.size()
        first = f.read(min(size, 1 << 16)).split(b"\n", 1)[0]
        f.seek(size - 1)
        return first, f.read(1) == b"\n"


def export_csv(
    data: ExportData,
    dest: str | os.PathLike[str],
    *,
    delimiter: str = ",",
    header: bool = True,
    null_value: str = "",
    quote: str = '"',
    mode: WriteMode = "error_if_exists",
    quote_all: bool = False,
    timestamp_format: TimestampFormat = "iso",
    fixed_floats: bool = False,
    repeat_header: bool = False,
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write ``data`` as a CSV file (see the module docstring for the formatting rules).

    Args:
        data: a table, a record batch or an iterable of record batches (streamed).
        dest: destination path or URI.
        delimiter: field separator (non-empty; OpenMLDB allows more than one character).
        header: write the column names first (not when appending to a non-empty file).
        null_value: text written for NULL.
        quote: quote character, or ``""`` to never quote (then a value needing quotes is an error).
        mode: ``error_if_exists``, ``overwrite`` or ``append``.
        quote_all: quote every non-NULL field (OpenMLDB's standalone writer does).
        timestamp_format: ``iso`` (``2024-05-01T08:30:00.000Z``) or ``epoch_ms``.
        fixed_floats: floating-point numbers with six decimals (``1.100000``, C's ``%f``, as OpenMLDB's SDK writes
            them) wherever that reads back to the same value; the shortest exact form elsewhere.
        repeat_header: with ``header`` and ``mode="append"``, write the header again before the appended rows (as
            OpenMLDB's SDK does) instead of checking that the existing file starts with the same header.
        filesystem: a configured ``pyarrow.fs`` filesystem for ``dest`` (instead of resolving it).
        storage_options: object-store settings for an ``s3://`` ``dest`` (see :mod:`openfeat_core.io.location`).

    Raises:
        DataError: the destination exists in ``error_if_exists`` mode, a value cannot be written, or appending to a
            file whose header differs.
    """
    _check_mode(mode)
    if not delimiter or any(c in delimiter for c in "\r\n"):
        raise OpenFeatError(f"delimiter must be non-empty and without line breaks, got {delimiter!r}")
    if len(quote) > 1 or quote in ("\r", "\n") or (quote and quote in delimiter):
        raise OpenFeatError(f"quote must be one character (not in the delimiter) or empty, got {quote!r}")
    if any(c in null_value for c in "\r\n") or (quote and quote in null_value):
        raise OpenFeatError(f"null_value must not contain line breaks or the quote, got {null_value!r}")
    if timestamp_format not in TIMESTAMP_FORMATS:
        raise OpenFeatError(f'timestamp_format must be "iso" or "epoch_ms", got {timestamp_format!r}')
    start = time.perf_counter()
    where = resolve(dest, storage_options, filesystem=filesystem)
    fs, path, shown = where.filesystem, where.path, where.uri
    schema, batches = _batches(data)
    markers = delimiter + quote + null_value
    fmt = _CsvFormat(
        delimiter,
        null_value,
        quote,
        quote_all,
        timestamp_format == "epoch_ms",
        check_every_column=any(c in _FORMATTED_CHARS for c in markers),
        fixed_floats=fixed_floats,
    )
    counts = {"rows": 0, "bytes": 0}

    def write(target: _AtomicFile) -> None:
        appending = target.existed and mode == "append" and target.copied > 0
        if appending:
            first_line, ends_with_newline = _last_line_state(fs, path)
            if header and schema is not None and not repeat_header:
                expected = fmt.header(schema.names).rstrip(b"\n")
                if first_line.rstrip(b"\r") != expected:
                    raise DataError(
                        f"cannot append to {shown}: its header {first_line.decode('utf-8', 'replace')!r} differs "
                        f"from {expected.decode()!r}"
                    )
            if not ends_with_newline:
                target.stream.write(b"\n")
                counts["bytes"] += 1
        if header and schema is not None and (not appending or repeat_header):
            head = fmt.header(schema.names)
            target.stream.write(head)
            counts["bytes"] += len(head)
        for num_rows, payload in _ordered_map(lambda b: (b.num_rows, fmt.lines(b)), batches):
            target.stream.write(payload)
            counts["rows"] += num_rows
            counts["bytes"] += payload.size

    _write_atomically(fs, path, shown, mode, write, keep_existing=mode == "append")
    return ExportResult(shown, "csv", counts["rows"], counts["bytes"], time.perf_counter() - start, [shown])


# ---------------------------------------------------------------------------------------------------------------------
# Instance lines (signature mode)
# ---------------------------------------------------------------------------------------------------------------------
def export_lines(
    data: ExportData,
    dest: str | os.PathLike[str],
    *,
    column: str | None = None,
    mode: WriteMode = "error_if_exists",
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write one string column verbatim, one value per line (the output of SQL ``libsvm(...)``/``csv(...)``).

    Args:
        data: a table, a record batch or an iterable of record batches.
        dest: destination path or URI.
        column: the column to write; by default the only string column of the data.
        mode: ``error_if_exists``, ``overwrite`` or ``append``.
        filesystem: a configured ``pyarrow.fs`` filesystem for ``dest`` (instead of resolving it).
        storage_options: object-store settings for an ``s3://`` ``dest`` (see :mod:`openfeat_core.io.location`).

    Raises:
        DataError: no such column, no single string column to choose, a NULL value, or the destination exists.
    """
    _check_mode(mode)
    start = time.perf_counter()
    where = resolve(dest, storage_options, filesystem=filesystem)
    fs, path, shown = where.filesystem, where.path, where.uri
    schema, batches = _batches(data)
    if schema is not None:
        if column is None:
            text_columns = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
            if len(text_columns) != 1:
                raise DataError(
                    f"export_lines needs column= when the data has {len(text_columns)} string columns "
                    f"({text_columns}); it writes exactly one"
                )
            column = text_columns[0]
        elif column not in schema.names:
            raise DataError(f"column {column!r} not found; the data has {schema.names}")
        elif not (pa.types.is_string(schema.field(column).type) or pa.types.is_large_string(schema.field(column).type)):
            raise DataError(f"column {column!r} has type {schema.field(column).type}; export_lines writes strings")
    counts = {"rows": 0, "bytes": 0}
    chosen = column

    def lines_of(batch: pa.RecordBatch) -> tuple[int, pa.Buffer]:
        values = batch.column(chosen)
        if values.null_count:
            row = pc.index(pc.is_null(values), True).as_py()
            raise DataError(f"column {chosen!r} holds NULL (at row {counts['rows'] + row + 1}); lines cannot be NULL")
        return batch.num_rows, _text_payload(pc.binary_join_element_wise(values.cast(pa.string()), "", "\n"))

    def write(target: _AtomicFile) -> None:
        if target.copied:
            _, ends_with_newline = _last_line_state(fs, path)
            if not ends_with_newline:
                target.stream.write(b"\n")
        for num_rows, payload in map(lines_of, batches):
            target.stream.write(payload)
            counts["rows"] += num_rows
            counts["bytes"] += payload.size

    _write_atomically(fs, path, shown, mode, write, keep_existing=mode == "append")
    return ExportResult(shown, "lines", counts["rows"], counts["bytes"], time.perf_counter() - start, [shown])


# ---------------------------------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------------------------------
class _Counted:
    """Passes batches through, counting rows."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.rows = 0
        self._batches = batches

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self._batches:
            self.rows += batch.num_rows
            yield batch


def _list_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(directory, recursive=True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File)


def publish_directory(fs: pafs.FileSystem, temp: str, path: str, mode: WriteMode) -> list[str]:
    """Move the finished dataset directory ``temp`` to ``path``; the paths of the files published."""
    written = [p[len(temp) + 1 :] for p in _list_files(fs, temp)]
    kind = _exists(fs, path)
    if mode == "error_if_exists" and kind != pafs.FileType.NotFound:
        raise DataError(f"{path} already exists (mode='error_if_exists'); use mode='overwrite' or mode='append'")
    if kind == pafs.FileType.File:
        if mode == "append":
            raise DataError(f"cannot append a partitioned dataset to the file {path}")
        fs.delete_file(path)
        kind = pafs.FileType.NotFound
    if _is_local(fs) and (kind == pafs.FileType.NotFound or mode == "overwrite"):
        # A directory rename is atomic; the old dataset is moved aside first and deleted once the new one is in.
        aside = _temp_name(path, "-old") if kind == pafs.FileType.Directory else None
        if aside is not None:
            fs.move(path, aside)
        fs.move(temp, path)
        if aside is not None:
            fs.delete_dir(aside)
        return [f"{path}/{name}" for name in written]
    # Object stores have no directories to rename: move file by file (append adds uniquely named files).
    if kind == pafs.FileType.Directory and mode == "overwrite":
        fs.delete_dir_contents(path)
    for name in written:
        _make_parent(fs, f"{path}/{name}")
        fs.move(f"{temp}/{name}", f"{path}/{name}")
    fs.delete_dir(temp)
    return [f"{path}/{name}" for name in written]


def export_parquet(
    data: ExportData,
    dest: str | os.PathLike[str],
    *,
    partition_by: Sequence[str] | None = None,
    mode: WriteMode = "error_if_exists",
    compression: str = "snappy",
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write ``data`` as one Parquet file, or as a Hive-partitioned dataset directory with ``partition_by``.

    ``append`` to a single file rewrites it (existing rows first, same schema required) and publishes the result
    atomically; ``append`` to a dataset adds new, uniquely named files. A partitioned dataset is written to a
    temporary directory and renamed into place (locally atomic; on object stores moved file by file).

    Args:
        data: a table, a record batch or an iterable of record batches (streamed).
        dest: destination file (or directory with ``partition_by``).
        partition_by: columns to partition by (``dest/col=value/part-....parquet``).
        mode: ``error_if_exists``, ``overwrite`` or ``append``.
        compression: Parquet codec (``snappy``, ``zstd``, ``gzip``, ``none``...).
        filesystem: a configured ``pyarrow.fs`` filesystem for ``dest`` (instead of resolving it).
        storage_options: object-store settings for an ``s3://`` ``dest`` (see :mod:`openfeat_core.io.location`).

    Raises:
        DataError: the destination exists in ``error_if_exists`` mode, an appended schema differs, or a partition
            column is missing.
    """
    _check_mode(mode)
    start = time.perf_counter()
    where = resolve(dest, storage_options, filesystem=filesystem)
    fs, path, shown = where.filesystem, where.path, where.uri
    schema, batches = _batches(data, rows=1 << 20)
    if schema is None:
        raise DataError(f"nothing to write to {shown}: the data has no batches (and so no schema)")
    counted = _Counted(batches)
    if partition_by:
        missing = [c for c in partition_by if c not in schema.names]
        if missing:
            raise DataError(f"partition column(s) {missing} not found; the data has {schema.names}")
        if mode == "error_if_exists":
            _refuse_existing(fs, path, shown)
        import pyarrow.dataset as pads

        temp = _temp_name(path)
        _make_parent(fs, path)
        try:
            pads.write_dataset(
                iter(counted),
                temp,
                schema=schema,
                format="parquet",
                partitioning=list(partition_by),
                partitioning_flavor="hive",
                filesystem=fs,
                basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",
                existing_data_behavior="error",
                file_options=pads.ParquetFileFormat().make_write_options(compression=compression),
            )
            files = publish_directory(fs, temp, path, mode)
        except BaseException:
            if _exists(fs, temp) != pafs.FileType.NotFound:
                fs.delete_dir(temp)
            raise
        size = sum(fs.get_file_info(f).size or 0 for f in files)
        return ExportResult(
            shown, "parquet", counted.rows, size, time.perf_counter() - start, [where.uri_of(f) for f in files]
        )

    def write(target: _AtomicFile) -> None:
        with pq.ParquetWriter(target.stream, schema, compression=compression) as writer:
            if mode == "append" and target.existed:
                with fs.open_input_file(path) as handle:
                    existing = pq.ParquetFile(handle)
                    if not existing.schema_arrow.equals(schema, check_metadata=False):
                        raise DataError(
                            f"cannot append to {shown}: its schema {existing.schema_arrow} differs from {schema}"
                        )
                    for batch in existing.iter_batches(batch_size=BATCH_ROWS):
                        writer.write_batch(batch)
            for batch in counted:
                writer.write_batch(batch)

    _write_atomically(fs, path, shown, mode, write)
    size = fs.get_file_info(path).size or 0
    return ExportResult(shown, "parquet", counted.rows, size, time.perf_counter() - start, [shown])


# ---------------------------------------------------------------------------------------------------------------------
# LIBSVM friendly mode
# ---------------------------------------------------------------------------------------------------------------------
_K0 = np.uint64(0xC3A5C85C97CB3127)
_K2 = np.uint64(0x9AE16A3B2F90404F)


def _rotate(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> np.uint64(shift)) | (v << np.uint64(64 - shift))


def _hash_len16(u: np.ndarray, v: np.ndarray, mul: np.uint64) -> np.ndarray:
    a = (u ^ v) * mul
    a ^= a >> np.uint64(47)
    b = (v ^ a) * mul
    b ^= b >> np.uint64(47)
    return b * mul


def fingerprint64_fixed(values: np.ndarray) -> np.ndarray:
    """FarmHash ``Fingerprint64`` of each value's little-endian bytes (1, 2, 4 or 8 bytes wide), vectorised.

    Equal to ``farmhash.fingerprint64(value.tobytes())`` per value (FarmHash's ``HashLen0to16`` for these widths),
    without a Python call per value.

    Returns:
        uint64 hashes.
    """
    width = values.dtype.itemsize
    raw = values.astype(values.dtype.newbyteorder("<"), copy=False)
    with np.errstate(over="ignore"):
        if width == 8:
            mul = _K2 + np.uint64(16)
            word = raw.view("<u8").astype(np.uint64)
            a = word + _K2
            c = _rotate(word, 37) * mul + a
            d = (_rotate(a, 25) + word) * mul
            return _hash_len16(c, d, mul)
        if width == 4:
            mul = _K2 + np.uint64(8)
            word = raw.view("<u4").astype(np.uint64)
            return _hash_len16(np.uint64(4) + (word << np.uint64(3)), word, mul)
        if width in (1, 2):
            data = raw.view(np.uint8).reshape(-1, width).astype(np.uint64)
            first, middle, last = data[:, 0], data[:, width >> 1], data[:, width - 1]
            y = first + (middle << np.uint64(8))
            z = np.uint64(width) + (last << np.uint64(2))
            mixed = (y * _K2) ^ (z * _K0)
            return (mixed ^ (mixed >> np.uint64(47))) * _K2
    raise ValueError(f"fingerprint64_fixed handles 1, 2, 4 or 8-byte values, not {width}")


def _packed_date(days: np.ndarray) -> np.ndarray:
    """OpenMLDB's in-memory DATE: ``(year - 1900) << 16 | (month - 1) << 8 | day`` as int32."""
    year, month, day = civil_from_days(days)
    return (((year - 1900) << 16) | ((month - 1) << 8) | day).astype(np.int32)


_HASH_INPUTS: dict[SQLType, str] = {
    SQLType.STRING: "utf-8 bytes",
    SQLType.BOOL: "1 byte (1 or 0)",
    SQLType.INT16: "int16 little-endian",
    SQLType.INT32: "int32 little-endian",
    SQLType.INT64: "int64 little-endian",
    SQLType.TIMESTAMP: "int64 little-endian epoch milliseconds (UTC)",
    SQLType.DATE: "int32 little-endian (year-1900)<<16 | (month-1)<<8 | day",
}
_FIXED_DTYPES: dict[SQLType, str] = {
    SQLType.BOOL: "<u1",
    SQLType.INT16: "<i2",
    SQLType.INT32: "<i4",
    SQLType.INT64: "<i8",
    SQLType.TIMESTAMP: "<i8",
    SQLType.DATE: "<i4",
}


_STRUCT_FORMATS: dict[SQLType, str] = {SQLType.INT16: "<h", SQLType.INT32: "<i", SQLType.INT64: "<q"}


class _StringHasher:
    """Fingerprint64 of strings: each distinct value is hashed once, then found by a vectorised lookup.

    The memo (words seen so far and their hashes) is shared by the formatting threads and bounded in size.
    """

    LIMIT = 1 << 18

    def __init__(self) -> None:
        self._memo: tuple[pa.Array, np.ndarray] = (pa.array([], pa.string()), np.zeros(0, dtype=np.uint64))
        self._lock = threading.Lock()

    def __call__(self, values: pa.Array) -> np.ndarray:
        values = values.cast(pa.string())
        words, hashes = self._memo
        position = pc.index_in(values, value_set=words)
        unknown = pc.and_(pc.is_valid(values), pc.is_null(position))
        if pc.any(unknown).as_py():
            new = pc.unique(values.filter(unknown))
            new_hashes = np.array([farmhash.fingerprint64(w.encode("utf-8")) for w in new.to_pylist()], np.uint64)
            with self._lock:
                words, hashes = self._memo
                if len(words) + len(new) > self.LIMIT:
                    words, hashes = pa.array([], pa.string()), np.zeros(0, dtype=np.uint64)
                words = pa.concat_arrays([words, new])
                hashes = np.concatenate([hashes, new_hashes])
                self._memo = (words, hashes)
            position = pc.index_in(values, value_set=words)
        if not len(hashes):
            return np.zeros(len(values), dtype=np.uint64)
        return hashes[position.fill_null(0).to_numpy(zero_copy_only=False)]


def _column_hashes(values: pa.Array, sql_type: SQLType, strings: _StringHasher) -> np.ndarray:
    """uint64 Fingerprint64 of each value as OpenMLDB hashes it (NULL slots hold garbage; mask them)."""
    if sql_type is SQLType.STRING:
        return strings(values)
    if sql_type is SQLType.TIMESTAMP:
        ms = values.cast(pa.timestamp("ms", tz="UTC") if values.type.tz else pa.timestamp("ms"), safe=False)
        raw = ms.cast(pa.int64()).fill_null(0).to_numpy()
    elif sql_type is SQLType.DATE:
        raw = _packed_date(values.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy())
    elif sql_type is SQLType.BOOL:
        raw = values.fill_null(False).to_numpy(zero_copy_only=False).astype("<u1")
    else:
        raw = values.cast(sql_type.arrow_type).fill_null(0).to_numpy()
    return fingerprint64_fixed(np.ascontiguousarray(raw.astype(_FIXED_DTYPES[sql_type])))


def build_feature_map(
    schema: pa.Schema,
    *,
    label: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    buckets: int | Mapping[str, int] = DEFAULT_BUCKETS,
) -> dict[str, Any]:
    """The LIBSVM feature map (the JSON written to ``<dest>.features.json``) for ``schema``.

    Layout::

        {"format": "libsvm", "version": 1, "first_slot": 1, "num_slots": N, "hash": "farmhash.fingerprint64",
         "label": {"column": "is_fraud", "type": "bool"},
         "features": [
           {"column": "amount", "type": "double", "kind": "continuous", "first_slot": 1, "last_slot": 1},
           {"column": "merchant", "type": "string", "kind": "discrete", "first_slot": 2, "last_slot": 1048577,
            "buckets": 1048576, "hash": "farmhash.fingerprint64", "hash_input": "utf-8 bytes"}, ...]}

    A continuous feature writes ``first_slot:value``; a discrete one ``(first_slot + hash % buckets):1`` where
    ``hash`` is the unsigned Fingerprint64 of the bytes ``hash_input`` describes. ``num_slots`` is the highest slot.

    Raises:
        DataError: unknown columns, a label or feature of an unusable type, or a bucket count below 1.
    """
    names = schema.names
    if label not in names:
        raise DataError(f"label column {label!r} not found; the data has {names}")
    label_type = _sql_type(schema, label)
    if label_type not in (SQLType.BOOL, SQLType.INT16, SQLType.INT32, SQLType.INT64, SQLType.FLOAT, SQLType.DOUBLE):
        raise DataError(f"label column {label!r} has type {label_type}; expected bool or a number")
    chosen = [n for n in names if n != label] if features is None else list(features)
    unknown = [n for n in [*chosen, *categorical] if n not in names]
    if unknown:
        raise DataError(f"feature column(s) {unknown} not found; the data has {names}")
    if label in chosen:
        raise DataError(f"column {label!r} is the label; it cannot also be a feature")
    slot = 1
    entries = []
    for name in chosen:
        sql_type = _sql_type(schema, name)
        discrete = sql_type in (SQLType.STRING, SQLType.BOOL, SQLType.DATE, SQLType.TIMESTAMP) or name in categorical
        if not discrete and sql_type.is_numeric:
            entries.append(
                {"column": name, "type": str(sql_type), "kind": "continuous", "first_slot": slot, "last_slot": slot}
            )
            slot += 1
            continue
        if sql_type not in _HASH_INPUTS:
            raise DataError(f"feature column {name!r} has type {sql_type}, which cannot be a discrete feature")
        size = buckets.get(name, DEFAULT_BUCKETS) if isinstance(buckets, Mapping) else buckets
        if not isinstance(size, int) or size < 1:
            raise DataError(f"feature column {name!r}: bucket count must be a positive integer, got {size!r}")
        entries.append(
            {
                "column": name,
                "type": str(sql_type),
                "kind": "discrete",
                "first_slot": slot,
                "last_slot": slot + size - 1,
                "buckets": size,
                "hash": HASH_NAME,
                "hash_input": _HASH_INPUTS[sql_type],
            }
        )
        slot += size
    return {
        "format": "libsvm",
        "version": 1,
        "first_slot": 1,
        "num_slots": slot - 1,
        "hash": HASH_NAME,
        "label": {"column": label, "type": str(label_type)},
        "features": entries,
    }


def _sql_type(schema: pa.Schema, name: str) -> SQLType:
    try:
        return sql_type_of_arrow(schema.field(name).type)
    except ValueError:
        raise DataError(f"column {name!r} has type {schema.field(name).type}, which OpenFeat cannot use") from None


class _LibsvmFormat:
    def __init__(self, feature_map: Mapping[str, Any]) -> None:
        self.map = feature_map
        self.label = feature_map["label"]["column"]
        self.strings: dict[str, _StringHasher] = {}

    def lines(self, batch: pa.RecordBatch) -> pa.Array:
        label_values = batch.column(self.label)
        if pa.types.is_boolean(label_values.type):
            label_text = pc.if_else(label_values, "1", "0")
        else:
            label_text = _value_text(label_values, self.label)
        # The line is one concatenation of label and " index:value" parts. A column without NULLs in the batch
        # contributes its literal prefix and its text directly; one with NULLs a token that is NULL (so dropped)
        # where the value is.
        parts: list[Any] = [label_text]
        for entry in self.map["features"]:
            name = entry["column"]
            values = batch.column(name)
            if entry["kind"] == "continuous":
                prefix, text, suffix = f" {entry['first_slot']}:", _value_text(values, name), ""
            else:
                sql_type = sql_type_of_arrow(values.type)
                hasher = self.strings.setdefault(name, _StringHasher())
                hashes = _column_hashes(values, sql_type, hasher)
                index = (hashes % np.uint64(entry["buckets"])).astype(np.int64) + entry["first_slot"]
                valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
                prefix, text, suffix = " ", pa.array(index, mask=~valid).cast(pa.string()), ":1"
            if values.null_count:
                parts.append(pc.binary_join_element_wise(prefix, text, suffix, ""))
            else:
                parts.extend((prefix, text, suffix))
        parts.append("\n")
        # Adjacent literals are merged (":1" + " 7:" -> ":1 7:"): fewer arguments, a faster join.
        merged: list[Any] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif not isinstance(part, str) or part:
                merged.append(part)
        args = [pa.scalar(p) if isinstance(p, str) else p for p in merged]
        # NULL tokens (NULL features) become "" (replacing NULLs costs a third more, so only when there are some).
        if not any(not isinstance(p, str) and p.null_count for p in merged):
            return pc.binary_join_element_wise(*args, "")
        return pc.binary_join_element_wise(*args, "", null_handling="replace", null_replacement="")


def export_libsvm(
    data: ExportData,
    dest: str | os.PathLike[str],
    *,
    label: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    buckets: int | Mapping[str, int] = DEFAULT_BUCKETS,
    on_null_label: OnNullLabel = "fail",
    mode: WriteMode = "error_if_exists",
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write ``data`` as a LIBSVM training set in friendly mode, plus its feature map (module docstring).

    Args:
        data: a table, a record batch or an iterable of record batches (streamed).
        dest: destination path or URI; the map goes to ``dest + ".features.json"``.
        label: the label column (bool -> 1/0, numbers as they are).
        features: the feature columns in slot order; default every other column in schema order.
        categorical: integer columns to hash as discrete features instead of writing them as continuous.
        buckets: slots per discrete feature (one number, or per column with :data:`DEFAULT_BUCKETS` as default).
        on_null_label: ``fail`` (default): a NULL label is an error and nothing is written; ``skip``: such rows are
            left out and counted in ``ExportResult.skipped_rows``.
        mode: ``error_if_exists``, ``overwrite`` or ``append`` (append requires the existing map to be identical).
        filesystem: a configured ``pyarrow.fs`` filesystem for ``dest`` (instead of resolving it).
        storage_options: object-store settings for an ``s3://`` ``dest`` (see :mod:`openfeat_core.io.location`).

    Raises:
        DataError: bad columns (see :func:`build_feature_map`), a NULL label in ``fail`` mode, an existing
            destination in ``error_if_exists`` mode, or appending with a different feature map.
    """
    _check_mode(mode)
    if on_null_label not in ON_NULL_LABEL:
        raise OpenFeatError(f'on_null_label must be "fail" or "skip", got {on_null_label!r}')
    start = time.perf_counter()
    where = resolve(dest, storage_options, filesystem=filesystem)
    fs, path, shown = where.filesystem, where.path, where.uri
    schema, batches = _batches(data)
    if schema is None:
        raise DataError(f"nothing to write to {shown}: the data has no batches (and so no schema)")
    feature_map = build_feature_map(schema, label=label, features=features, categorical=categorical, buckets=buckets)
    map_path = path + FEATURE_MAP_SUFFIX
    map_kind = _exists(fs, map_path)
    if mode == "error_if_exists":
        _refuse_existing(fs, map_path, where.uri_of(map_path))
    elif mode == "append" and map_kind == pafs.FileType.File and _exists(fs, path) == pafs.FileType.File:
        with fs.open_input_stream(map_path) as f:
            existing = json.loads(f.read().decode("utf-8"))
        if existing != feature_map:
            shown_map = where.uri_of(map_path)
            raise DataError(f"cannot append to {shown}: its feature map {shown_map} describes another layout")
    fmt = _LibsvmFormat(feature_map)
    counts = {"rows": 0, "bytes": 0, "skipped": 0}

    def numbered(source: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
        first_row = 0
        for batch in source:
            yield first_row, batch
            first_row += batch.num_rows

    def prepare(item: tuple[int, pa.RecordBatch]) -> tuple[int, int, pa.Buffer]:
        first_row, batch = item
        nulls = batch.column(label).null_count
        if nulls:
            valid = pc.is_valid(batch.column(label))
            if on_null_label == "fail":
                row = first_row + pc.index(valid, False).as_py() + 1
                raise DataError(
                    f"label column {label!r} is NULL at row {row} ({nulls} NULL label(s) in its batch of "
                    f'{batch.num_rows} rows); nothing was written (pass on_null_label="skip" to leave such rows out)'
                )
            batch = batch.filter(valid)
        return batch.num_rows, nulls, _text_payload(fmt.lines(batch))

    def write(target: _AtomicFile) -> None:
        if target.copied:
            _, ends_with_newline = _last_line_state(fs, path)
            if not ends_with_newline:
                target.stream.write(b"\n")
        for num_rows, skipped, payload in _ordered_map(prepare, numbered(batches)):
            target.stream.write(payload)
            counts["rows"] += num_rows
            counts["skipped"] += skipped
            counts["bytes"] += payload.size

    map_bytes = (json.dumps(feature_map, indent=2) + "\n").encode("utf-8")

    def write_map(target: _AtomicFile) -> None:
        target.stream.write(map_bytes)

    _write_atomically(fs, path, shown, mode, write, keep_existing=mode == "append")
    # The map is published right after the data (two renames: a reader in between may pair the new data with the
    # previous map when an overwrite changed the layout).
    _write_atomically(fs, map_path, where.uri_of(map_path), "overwrite", write_map)
    return ExportResult(
        shown,
        "libsvm",
        counts["rows"],
        counts["bytes"],
        time.perf_counter() - start,
        [shown],
        skipped_rows=counts["skipped"],
        feature_map=where.uri_of(map_path),
    )


def _number_text(value: Any, type_name: str) -> str:
    """A number printed exactly as the vectorised export prints it (Arrow's shortest round-trip form)."""
    if type_name == "bool":
        return "1" if value else "0"
    if type_name in ("smallint", "int", "bigint"):
        return str(int(value))
    arrow = pa.float32() if type_name == "float" else pa.float64()
    return str(pa.array([value], arrow).cast(pa.string())[0].as_py())


def _value_bytes(value: Any, sql_type: SQLType) -> bytes:
    """The bytes OpenMLDB hashes for one Python value of a discrete feature."""
    if sql_type is SQLType.STRING:
        return str(value).encode("utf-8")
    if sql_type is SQLType.BOOL:
        return b"\x01" if value else b"\x00"
    if sql_type is SQLType.TIMESTAMP:
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
            delta = aware - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            value = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return struct.pack("<q", int(value))
    if sql_type is SQLType.DATE:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return struct.pack("<i", ((day.year - 1900) << 16) | ((day.month - 1) << 8) | day.day)
    return struct.pack(_STRUCT_FORMATS[sql_type], int(value))


def encode_libsvm_row(row: Mapping[str, Any], feature_map: Mapping[str, Any] | str | os.PathLike[str]) -> str:
    """The LIBSVM line (without newline) :func:`export_libsvm` writes for ``row``, from its feature map.

    Args:
        row: column name -> Python value (``None`` for NULL; timestamps as ``datetime`` (naive = UTC) or epoch
            milliseconds; dates as ``date`` or ``"YYYY-MM-DD"``). Columns missing from ``row`` are NULL.
        feature_map: the map (a dict as written to ``.features.json``) or the path of that JSON file.

    Raises:
        DataError: the label is NULL or missing.
    """
    layout: Mapping[str, Any]
    if isinstance(feature_map, Mapping):
        layout = feature_map
    else:
        with open(os.fspath(feature_map), encoding="utf-8") as f:
            layout = json.load(f)
    label = layout["label"]
    value = row.get(label["column"])
    if value is None:
        raise DataError(f"label column {label['column']!r} is NULL or missing; LIBSVM lines need a label")
    parts = [_number_text(value, label["type"])]
    for entry in layout["features"]:
        value = row.get(entry["column"])
        if value is None:
            continue
        if entry["kind"] == "continuous":
            parts.append(f"{entry['first_slot']}:{_number_text(value, entry['type'])}")
            continue
        sql_type = _SQL_TYPES_BY_NAME[entry["type"]]
        digest = farmhash.fingerprint64(_value_bytes(value, sql_type))
        parts.append(f"{entry['first_slot'] + digest % entry['buckets']}:1")
    return " ".join(parts)


_SQL_TYPES_BY_NAME: dict[str, SQLType] = {t.openmldb_name: t for t in SQLType}
