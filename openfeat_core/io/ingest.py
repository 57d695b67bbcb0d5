"""Reading data into OpenFeat: CSV, Parquet, JSON lines and Arrow IPC files, or in-memory tables.

Entry points: :func:`read_source` (the whole source as one Arrow table) and :func:`scan_source` (the same rows as a
stream of record batches, for sources larger than memory). Both produce columns of the engine's Arrow types
(:attr:`openfeat_core.types.SQLType.arrow_type`): ``int16/int32/int64``, ``float32/float64``, ``bool``, ``string``,
``date32`` and ``timestamp[ms, UTC]``.

**Sources.** A local path, a glob (``data/*.csv``, ``logs/**/*.parquet``), a directory (every file below it, hidden
files and ``_SUCCESS``-style markers skipped), a list of those, a ``file://`` or ``s3://`` URI (or any URI
``pyarrow.fs`` resolves; pass ``filesystem`` to use a configured filesystem instead), or a ``pa.Table``,
``pa.RecordBatch`` or pandas ``DataFrame``. Paths and URIs are named as :mod:`openfeat_core.io.location` resolves
them (``storage_options`` configure ``s3://``). The format comes from the extension (``.csv``, ``.tsv``, ``.parquet``,
``.pq``, ``.json``, ``.jsonl``, ``.ndjson``, ``.arrow``, ``.feather``, ``.ipc``, ``.arrows``, optionally followed
by ``.gz``, ``.bz2``, ``.zst`` or ``.lz4`` for the text formats) unless ``format`` is given. An Arrow IPC file is
told from an IPC stream by its magic bytes.

**Schema.** Declared (a ``pa.Schema``, its types mapped to the engine's, or an OpenMLDB column list such as
``"id bigint, ts timestamp, amount double"``): columns are matched by name (by position in a CSV without header);
a missing one is an error, and so is a source column the schema does not declare (CSV header, Parquet or IPC
schema, JSON key), unless ``extra_columns="ignore"`` drops them. Inferred otherwise: typed formats keep their types
(mapped to the engine's); CSV text is inferred from the first block of the first file (about 32 MiB): integers ->
``int64``, other numbers -> ``double``, ``true``/``false`` -> ``bool``, ``YYYY-MM-DD`` -> ``date``, ISO date-times ->
``timestamp``, the rest ``string``; JSON strings are checked for dates and timestamps the same way; a column without
any value is ``string``. Later blocks and files are read with that schema, so a value that does not fit it is a bad row.
Timestamps are read as described in :mod:`openfeat_core.io.timestamps` (epoch numbers in declared TIMESTAMP
columns are milliseconds unless ``timestamp_unit`` says ``s``, ``us`` or ``ns``; ISO strings with or without
offset; naive values in ``timezone``); a timestamp or date outside the years 0001 to 9999 is a bad row.

**CSV dialect** (:class:`CsvOptions`): delimiter, header line, quote character (RFC 4180: a quote inside a quoted
field is doubled; ``""`` disables quoting), null markers (by default an unquoted empty field, ``null`` or ``NULL``;
a quoted empty field ``""`` is an empty string). Lines end with ``\\n`` or ``\\r\\n``; empty lines are skipped; the
file is UTF-8 (a leading byte-order mark is ignored). Values of non-string columns may be surrounded by spaces.

**Bad rows.** A value that cannot be read as its column's type, a CSV line with the wrong number of fields, an
invalid JSON line or invalid UTF-8 is a bad row, reported as a :class:`RejectedRow` with the file, the 1-based
physical line (counting the header line; for Parquet, IPC and in-memory data the 1-based row number), the column,
the value and the expected type. ``on_error="fail"`` (default) raises :class:`BadRowsError` (a ``DataError``)
listing the first few and the total after checking the whole source, and returns nothing. ``on_error="skip"``
returns the good rows plus the report (see :func:`rejected_table` and :func:`write_rejected`).

**Speed and memory.** Text files are read in blocks of about 32 MiB cut at record boundaries (a block grows to
hold a longer record, up to 8 blocks; past that the quotes are taken to be unbalanced and the text is cut at a line
break). CSV blocks go through the multithreaded ``pyarrow.csv`` reader, which also converts the numeric, boolean
and date columns while parsing; timestamps are parsed by vectorised Arrow casts. Nothing is done row by row unless
a block holds a bad row: that block is read again as text, its bad values located by bisection and described.
Physical line numbers are only counted when a bad row needs one.
"""

from __future__ import annotations

import abc
import csv as pycsv
import fnmatch
import functools
import itertools
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.ipc as paipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from openfeat_core.choices import (
    EXTRA_COLUMNS,
    ON_ERROR,
    SOURCE_FORMATS,
    TIMESTAMP_UNIT_CHOICES,
    ExtraColumns,
    OnError,
    SourceFormat,
)
from openfeat_core.errors import DataError, Failure, OpenFeatError
from openfeat_core.io.export import ExportResult, WriteMode, export_csv
from openfeat_core.io.location import Location, resolve
from openfeat_core.io.timestamps import (
    TIMESTAMP_UNITS,
    TimestampUnit,
    check_timezone,
    to_engine_dates,
    to_engine_timestamps,
)
from openfeat_core.sql.depth import loads_json
from openfeat_core.types import DATE_RANGE_TEXT, TIMESTAMP_RANGE_TEXT, SQLType, parse_schema, sql_type_of_arrow

__all__ = [
    "REJECTED_SCHEMA",
    "BadRowsError",
    "CsvOptions",
    "IngestResult",
    "RejectedRow",
    "SourceScan",
    "TableSource",
    "load_table",
    "read_source",
    "rejected_table",
    "scan_source",
    "write_rejected",
]

Format: TypeAlias = SourceFormat
#: Called with (bytes done, total bytes or None when unknown) as a file source is read.
ProgressCallback: TypeAlias = Callable[[int, "int | None"], None]
SchemaLike: TypeAlias = "pa.Schema | str"
#: A path, glob, directory or URI, a list of them, or in-memory data (``pa.Table``, ``pa.RecordBatch``, DataFrame).
SourceLike: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pa.Table | pa.RecordBatch | Any"

#: Bytes of text handed to the CSV / JSON parser at a time (the unit of memory use and of schema inference).
BLOCK_BYTES = 32 << 20
#: Rows per batch read from Parquet / IPC files and in-memory tables.
BATCH_ROWS = 128 * 1024
#: A record (line) longer than this many blocks is taken as a sign of an unbalanced quote: the text is then cut at a
#: line break whatever the quotes say, so that memory stays bounded.
_MAX_RECORD_BLOCKS = 8
#: How many bad rows a ``fail`` error message lists.
SHOWN_BAD_ROWS = 5
# In fail mode only the first bad rows are kept for the message; the rest are counted.
_KEPT_BAD_ROWS_ON_FAIL = 1000

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".arrows": "ipc",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
_GLOB_CHARS = frozenset("*?[")
_IPC_MAGIC = b"ARROW1"
_BOM = b"\xef\xbb\xbf"
# How Arrow's cast names the value it could not parse.
_UNPARSED_RE = re.compile(r"Failed to parse (?:string: '(.*)' as a scalar|value: (.*)$)", re.DOTALL)

# Loose syntax checks run before a failed cast is bisected, so that a column of garbage is rejected in one
# vectorised pass. Each accepts at least everything the Arrow cast accepts (the cast has the final word).
_TEXT_PREFILTERS: dict[SQLType, str] = {
    SQLType.INT16: r"^\s*[+-]?(?:\d+|0[xX][0-9a-fA-F]+)\s*$",
    SQLType.INT32: r"^\s*[+-]?(?:\d+|0[xX][0-9a-fA-F]+)\s*$",
    SQLType.INT64: r"^\s*[+-]?(?:\d+|0[xX][0-9a-fA-F]+)\s*$",
    SQLType.FLOAT: r"^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))\s*$",
    SQLType.DOUBLE: r"^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))\s*$",
    SQLType.BOOL: r"^\s*(?i:true|false|1|0)\s*$",
    SQLType.DATE: r"^\s*\d{4}-\d\d-\d\d\s*$",
    SQLType.TIMESTAMP: (
        r"^\s*(?:[+-]?\d+|\d{4}-\d\d-\d\d(?:[Tt ]\d\d(?::\d\d(?::\d\d(?:\.\d+)?)?)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)?)\s*$"
    ),
}


# ---------------------------------------------------------------------------------------------------------------------
# Public records
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvOptions:
    """How a CSV file is written (OpenMLDB ``LOAD DATA`` options ``delimiter``, ``header``, ``quote``, ``null_value``).

    Attributes:
        delimiter: field separator, one character; None means ``,`` (``\\t`` for ``.tsv`` files).
        header: the first line holds the column names. Without one, a declared schema names the columns by
            position; an inferred one calls them ``f0``, ``f1``...
        quote: the quote character, or ``""`` when fields are never quoted.
        null_values: unquoted field values read as NULL (a quoted value never is).
    """

    delimiter: str | None = None
    header: bool = True
    quote: str = '"'
    null_values: tuple[str, ...] = ("", "null", "NULL")

    def __post_init__(self) -> None:
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise OpenFeatError(f"CSV delimiter must be one character, got {self.delimiter!r}")
        if len(self.quote) > 1:
            raise OpenFeatError(f"CSV quote must be one character or empty, got {self.quote!r}")
        if self.delimiter is not None and self.delimiter == self.quote:
            raise OpenFeatError("CSV delimiter and quote must differ")


@dataclass(frozen=True)
class RejectedRow:
    """One bad value (or one malformed line) found while reading a source.

    Attributes:
        file: the file (path or URI as listed), or ``<memory>`` for in-memory data.
        line: 1-based physical line in a text file, counting the header line; 1-based row number otherwise.
        column: the column whose value is bad; None when the whole line is (wrong field count, invalid JSON).
        value: the offending value (or line) as text, cut to 200 characters.
        expected: the expected type (``bigint``, ``timestamp``...), or for a line the expected shape.
        reason: a sentence saying what is wrong.
    """

    file: str
    line: int
    column: str | None
    value: str | None
    expected: str | None
    reason: str

    def describe(self) -> str:
        """``file, line N, column 'c': reason``."""
        where = f"{self.file}, line {self.line}"
        if self.column is not None:
            return f"{where}, column {self.column!r}: {self.reason}"
        return f"{where}: {self.reason}: {self.value!r}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Schema of :func:`rejected_table`.
REJECTED_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("expected", pa.string()),
        ("reason", pa.string()),
    ]
)


def rejected_table(rows: Sequence[RejectedRow]) -> pa.Table:
    """The rejected-rows report as an Arrow table (:data:`REJECTED_SCHEMA`), one row per bad value."""
    return pa.Table.from_pylist([r.to_dict() for r in rows], schema=REJECTED_SCHEMA)


def write_rejected(
    rows: Sequence[RejectedRow],
    dest: str | os.PathLike[str],
    *,
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
    mode: WriteMode = "overwrite",
) -> ExportResult:
    """Write the rejected-rows report as a CSV file with a header (atomically, like every export)."""
    return export_csv(
        rejected_table(rows),
        dest,
        filesystem=filesystem,
        storage_options=storage_options,
        mode=mode,
        null_value="",
    )


class BadRowsError(DataError):
    """The source holds bad rows and ``on_error="fail"``: nothing was loaded.

    Attributes:
        rejected: the first bad values found (at most 1000), in source order.
        bad_rows: how many rows are bad in total.
    """

    failure = Failure.DATA  # on_error="fail": the same source fails the same way until it is fixed

    def __init__(self, rejected: list[RejectedRow], bad_rows: int) -> None:
        self.rejected = rejected
        self.bad_rows = bad_rows
        files = sorted({r.file for r in rejected})
        where = files[0] if len(files) == 1 else f"{len(files)}+ files"
        lines = [f"{bad_rows} bad row{'s' if bad_rows != 1 else ''} in {where}; nothing was loaded:"]
        lines += [f"  {r.describe()}" for r in rejected[:SHOWN_BAD_ROWS]]
        more = len(rejected) - SHOWN_BAD_ROWS
        if more > 0 or bad_rows > len(rejected):
            lines.append(f"  ... and {max(more, 0) + max(bad_rows - len(rejected), 0)} more")
        lines.append('Pass on_error="skip" to load the good rows and get a report of the bad ones.')
        super().__init__("\n".join(lines))


@dataclass
class IngestResult:
    """What :func:`read_source` read.

    Attributes:
        table: the good rows, in source order, with engine Arrow types.
        rejected: the bad values (empty unless ``on_error="skip"``), one record per bad value.
        files: the files read, as listed (empty for in-memory data).
        rows: rows loaded (``table.num_rows``).
        bad_rows: rows rejected (a row with two bad values counts once).
        bytes_read: bytes read from files (0 for in-memory data).
        seconds: wall time of the load.
    """

    table: pa.Table
    rejected: list[RejectedRow]
    files: list[str]
    rows: int
    bad_rows: int
    bytes_read: int
    seconds: float

    def rejected_table(self) -> pa.Table:
        """The rejected-rows report as an Arrow table (see :func:`rejected_table`)."""
        return rejected_table(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the table, JSON-ready."""
        return {
            "files": list(self.files),
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "bytes_read": self.bytes_read,
            "seconds": self.seconds,
            "schema": [(f.name, sql_type_of_arrow(f.type).openmldb_name) for f in self.table.schema],
            "rejected": [r.to_dict() for r in self.rejected],
        }


# ---------------------------------------------------------------------------------------------------------------------
# Locating files
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _File:
    fs: pafs.FileSystem
    path: str
    display: str
    size: int | None


def _glob_segments_match(path_parts: list[str], pattern_parts: list[str]) -> bool:
    """Match path segments against pattern segments: ``*``/``?``/``[]`` within a segment, ``**`` across any."""
    if not pattern_parts:
        return not path_parts
    head, rest = pattern_parts[0], pattern_parts[1:]
    if head == "**":
        return any(_glob_segments_match(path_parts[i:], rest) for i in range(len(path_parts) + 1))
    return bool(path_parts) and fnmatch.fnmatchcase(path_parts[0], head) and _glob_segments_match(path_parts[1:], rest)


def _is_hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def _list_files(where: Location) -> list[_File]:
    """The file ``where`` names, the files under that directory, or the files matching that glob."""
    fs, path, shown = where.filesystem, where.path, where.uri_of
    parts = path.split("/")
    first_glob = next((i for i, p in enumerate(parts) if _GLOB_CHARS & set(p)), None)
    if first_glob is None:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return [_File(fs, path, shown(path), info.size)]
        if info.type != pafs.FileType.Directory:
            raise DataError(f"source {shown(path)!r} does not exist")
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        base = path.rstrip("/") + "/"
        found = [i for i in infos if i.type == pafs.FileType.File and not _is_hidden(i.path[len(base) :])]
        if not found:
            raise DataError(f"directory {shown(path)!r} holds no data file")
    else:
        base = "/".join(parts[:first_glob])
        pattern = parts[first_glob:]
        if fs.get_file_info(base or "/").type != pafs.FileType.Directory:
            raise DataError(f"no file matches {shown(path)!r} ({shown(base)!r} is not a directory)")
        infos = fs.get_file_info(pafs.FileSelector(base or "/", recursive=True))
        prefix = base.rstrip("/") + "/" if base else ""
        found = [
            i
            for i in infos
            if i.type == pafs.FileType.File and _glob_segments_match(i.path[len(prefix) :].split("/"), pattern)
        ]
        if not found:
            raise DataError(f"no file matches {shown(path)!r}")
    return [_File(fs, i.path, shown(i.path), i.size) for i in sorted(found, key=lambda i: i.path)]


def _resolve_files(
    source: str | os.PathLike[str], filesystem: pafs.FileSystem | None, storage_options: Mapping[str, Any] | None
) -> list[_File]:
    where = resolve(source, storage_options, filesystem=filesystem)
    try:
        return _list_files(where)
    except OSError as e:
        raise DataError(f"cannot list source {os.fspath(source)!r}: {e}") from e


def _split_extension(path: str) -> tuple[Format | None, str | None]:
    """(format, compression) from a file name such as ``x.csv.gz``."""
    name = path.rsplit("/", 1)[-1].lower()
    stem, ext = os.path.splitext(name)
    compression = _COMPRESSIONS.get(ext)
    if compression is not None:
        ext = os.path.splitext(stem)[1]
    return _EXTENSIONS.get(ext), compression


# ---------------------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------------------
class _TerminalProgress:
    """A one-line progress bar on stderr, redrawn at most five times a second."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._start = time.perf_counter()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self._last < 0.2 and (total is None or done < total):
            return
        self._last = now
        rate = done / max(now - self._start, 1e-9) / 1e6
        if total:
            share = f"{100 * done / total:5.1f}% ({done / 1e6:.1f}/{total / 1e6:.1f} MB"
            text = f"\r{self._label}: {share}, {rate:.0f} MB/s)"
        else:
            text = f"\r{self._label}: {done / 1e6:.1f} MB ({rate:.0f} MB/s)"
        sys.stderr.write(text)
        sys.stderr.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------------------------
# Type conversion
# ---------------------------------------------------------------------------------------------------------------------
ArrowData: TypeAlias = "pa.Array | pa.ChunkedArray"


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_binary(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _cast_text(strings: ArrowData, target: pa.DataType) -> ArrowData:
    """Cast text, allowing whitespace around the value."""
    try:
        return pc.cast(strings, target)
    except pa.ArrowInvalid as e:
        # Arrow names the first value it could not parse: trimming (a full pass) only helps if it has spaces.
        failed = _UNPARSED_RE.search(str(e))
        value = None if failed is None else failed.group(1) if failed.group(1) is not None else failed.group(2)
        if value is not None and value == value.strip():
            raise
        return pc.cast(pc.utf8_trim_whitespace(strings), target)


def _convert(values: ArrowData, target: SQLType, timezone: str, unit: TimestampUnit) -> ArrowData:
    """``values`` as the engine representation of ``target`` (epoch numbers read as ``unit`` for timestamps).

    Raises:
        pa.ArrowInvalid: some value does not convert (locate it with :func:`_bad_positions`).
        pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError: the Arrow type cannot convert at all.
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if _is_binary(values.type):
        values = values.cast(pa.string())  # validates UTF-8
    if target is SQLType.TIMESTAMP:
        return to_engine_timestamps(values, timezone, unit)
    if target is SQLType.DATE:
        return to_engine_dates(values, timezone)
    arrow = target.arrow_type
    if _is_text(values.type) and target is not SQLType.STRING:
        if target.is_integer:
            return _cast_text(values, pa.int64()).cast(arrow)
        return _cast_text(values, arrow)
    return values.cast(arrow)


def _bad_positions(values: pa.Array, target: SQLType, timezone: str, unit: TimestampUnit) -> np.ndarray:
    """Positions of the non-NULL values of ``values`` that :func:`_convert` rejects, in order.

    A loose vectorised syntax check rejects most bad text at once; what passes it is bisected with the real
    conversion, so the cost is a few casts per bad value.
    """
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(valid)
    bad: list[np.ndarray] = []
    if _is_binary(values.type):
        try:
            values = values.cast(pa.string())
        except pa.ArrowInvalid:  # invalid UTF-8: those values are bad whatever the type
            raw = values.to_pylist()
            invalid = np.array([i for i in candidates.tolist() if _invalid_utf8(raw[i])], dtype=np.int64)
            bad.append(invalid)
            candidates = np.setdiff1d(candidates, invalid)
            values = pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw], pa.string())
    pattern = _TEXT_PREFILTERS.get(target)
    if pattern is not None and _is_text(values.type) and len(candidates):
        ok = pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
        bad.append(candidates[~ok[candidates]])
        candidates = candidates[ok[candidates]]

    def fails(idx: np.ndarray) -> bool:
        try:
            _convert(values.take(pa.array(idx)), target, timezone, unit)
        except pa.ArrowInvalid:
            return True
        return False

    stack = [candidates] if len(candidates) and fails(candidates) else []
    while stack:
        idx = stack.pop()
        if len(idx) == 1:
            bad.append(idx)
            continue
        half = len(idx) // 2
        # Right half pushed first so the left half (earlier rows) is explored first.
        for part in (idx[half:], idx[:half]):
            if fails(part):
                stack.append(part)
    return np.sort(np.concatenate(bad)) if bad else np.zeros(0, dtype=np.int64)


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _shown(value: Any) -> str:
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------------------------------------------------
# Schema inference and declaration
# ---------------------------------------------------------------------------------------------------------------------
def _castable(values: ArrowData, target: SQLType, timezone: str) -> bool:
    try:
        # Inference only takes ISO text for a timestamp, so the epoch unit does not matter here.
        _convert(values, target, timezone, "ms")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return False
    return True


def _infer_text_type(values: ArrowData, *, numbers: bool, timezone: str) -> SQLType:
    """The narrowest engine type every non-NULL text value converts to.

    Each candidate type is tried with one cast of the whole column, which stops at the first value that does not
    fit; the boolean, date and timestamp candidates are only tried when the first value has their shape.
    """
    values = pc.drop_null(values.cast(pa.string()))
    if len(values) == 0:
        return SQLType.STRING
    first = str(values[0].as_py()).strip()
    if numbers:
        if _castable(values, SQLType.INT64, timezone):
            return SQLType.INT64
        if _castable(values, SQLType.DOUBLE, timezone):
            return SQLType.DOUBLE
        if first.lower() in ("true", "false"):
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(values))
            if pc.all(pc.is_in(lowered, pa.array(["true", "false"]))).as_py():
                return SQLType.BOOL
    if re.fullmatch(r"\d{4}-\d\d-\d\d", first) and _castable(values, SQLType.DATE, timezone):
        return SQLType.DATE
    if (
        re.match(r"\d{4}-\d\d-\d\d[Tt ]\d", first)
        and pc.all(pc.match_substring_regex(values, r"^\s*\d{4}-\d\d-\d\d[Tt ]\d")).as_py()
        and _castable(values, SQLType.TIMESTAMP, timezone)
    ):
        return SQLType.TIMESTAMP
    return SQLType.STRING


def _engine_type(name: str, dtype: pa.DataType, where: str) -> SQLType:
    if pa.types.is_null(dtype):
        return SQLType.STRING
    if _is_binary(dtype):
        return SQLType.STRING
    if pa.types.is_dictionary(dtype):
        return _engine_type(name, dtype.value_type, where)
    try:
        return sql_type_of_arrow(dtype)
    except ValueError:
        raise DataError(f"{where}: column {name!r} has type {dtype}, which OpenFeat cannot represent") from None


def _infer_schema(raw: pa.Table, text: Literal["full", "temporal", "none"], timezone: str, where: str) -> pa.Schema:
    """Engine schema of a raw block: typed columns mapped, text columns inferred (see the module docstring)."""
    fields = []
    for name, column in zip(raw.column_names, raw.columns, strict=True):
        dtype = column.type
        if text != "none" and (_is_text(dtype) or _is_binary(dtype)):
            try:
                sql_type = _infer_text_type(column, numbers=text == "full", timezone=timezone)
            except pa.ArrowInvalid:  # invalid UTF-8: a bad row later, a string column now
                sql_type = SQLType.STRING
        else:
            sql_type = _engine_type(name, dtype, where)
        fields.append(pa.field(name, sql_type.arrow_type))
    return pa.schema(fields)


def _declared_schema(schema: SchemaLike) -> pa.Schema:
    if isinstance(schema, str):
        try:
            schema = parse_schema(schema)
        except ValueError as e:
            raise DataError(f"bad schema: {e}") from None
    if not isinstance(schema, pa.Schema):
        raise OpenFeatError(f"schema must be a pyarrow.Schema or an OpenMLDB column list, got {type(schema).__name__}")
    names = schema.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"declared schema: duplicate column(s) {duplicates}")
    fields = []
    for f in schema:
        try:
            fields.append(pa.field(f.name, _engine_type(f.name, f.type, "declared schema").arrow_type))
        except DataError:
            raise DataError(
                f"declared schema: column {f.name!r} has type {f.type}, which OpenFeat cannot represent"
            ) from None
    return pa.schema(fields)


# ---------------------------------------------------------------------------------------------------------------------
# Raw blocks from each format
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class _RawChunk:
    """A block of a source before conversion.

    ``line_of`` maps row positions of ``table`` to the 1-based line (or row number) reported for them.
    ``rejected`` holds the lines the parser itself rejected (wrong field count, invalid JSON).
    """

    table: pa.Table
    line_of: Callable[[np.ndarray], np.ndarray]
    rejected: list[RejectedRow] = field(default_factory=list)


def _row_numbers(first_row: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rows: rows + first_row + 1


class _Reader(abc.ABC):
    """Reads one file (or in-memory table) as raw blocks; ``infer`` gives the schema inferred from it.

    Attributes:
        where: the file as reported in messages.
        bytes_done: bytes read so far; bytes_total: the file size when known.
        inferred: set by the scan once it inferred the schema from this reader's first block, so that later
            blocks of the same file can be parsed straight into it.
    """

    where: str
    bytes_done: int = 0
    bytes_total: int | None = None
    inferred: pa.Schema | None = None
    extra_columns: ExtraColumns = "error"

    @abc.abstractmethod
    def chunks(self, target: pa.Schema | None) -> Iterator[_RawChunk]:
        """Raw blocks with the columns of ``target`` (every column when None)."""

    @abc.abstractmethod
    def infer(self, first: _RawChunk | None, timezone: str) -> pa.Schema:
        """The engine schema inferred from the first raw block (None when the file has no rows)."""


def _check_columns(where: str, target: pa.Schema, available: Sequence[str], extra_columns: ExtraColumns) -> None:
    """A declared column missing from the source is an error; so is a source column the schema does not declare,
    unless ``extra_columns="ignore"`` (dropping data silently is never the default)."""
    missing = [n for n in target.names if n not in available]
    if missing:
        raise DataError(f"{where}: column(s) {missing} not found; the source has {list(available)}")
    extra = [n for n in available if n not in target.names]
    if extra and extra_columns == "error":
        raise DataError(
            f"{where}: column(s) {extra} are not in the declared schema {list(target.names)}; "
            'declare them, or pass extra_columns="ignore" (--extra-columns ignore) to drop them'
        )


class _TableReader(_Reader):
    """In-memory data, Parquet and Arrow IPC: typed batches (or whole tables), row numbers as lines."""

    def __init__(
        self,
        where: str,
        schema: pa.Schema,
        batches: Callable[[list[str] | None], Iterator[pa.RecordBatch | pa.Table]],
    ) -> None:
        self.where = where
        self._schema = schema
        self._batches = batches
        self.progress_of: Callable[[int], int] | None = None

    def chunks(self, target: pa.Schema | None) -> Iterator[_RawChunk]:
        columns = None
        if target is not None:
            _check_columns(self.where, target, self._schema.names, self.extra_columns)
            columns = list(target.names)
        first_row = 0
        for batch in self._batches(columns):
            if batch.num_rows == 0:
                continue
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            yield _RawChunk(table, _row_numbers(first_row))
            first_row += batch.num_rows
            if self.progress_of is not None:
                self.bytes_done = self.progress_of(first_row)
        if self.bytes_total is not None:
            self.bytes_done = self.bytes_total

    def infer(self, first: _RawChunk | None, timezone: str) -> pa.Schema:
        return _infer_schema(pa.Table.from_batches([], schema=self._schema), "none", timezone, self.where)


def _memory_reader(data: pa.Table | pa.RecordBatch | Any) -> _TableReader:
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if not isinstance(data, pa.Table):
        data = _table_from_pandas(data)
    table = data

    def batches(columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        return iter((table.select(columns) if columns is not None else table).to_batches(max_chunksize=BATCH_ROWS))

    return _TableReader("<memory>", table.schema, batches)


def _table_from_pandas(frame: Any) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise DataError(f"<memory>: column {str(name)!r} of the DataFrame cannot be converted: {e}") from None
    raise DataError("<memory>: the DataFrame cannot be converted to Arrow")


def _parquet_reader(file: _File, whole: bool) -> _TableReader:
    """A Parquet file read in batches of :data:`BATCH_ROWS` rows, or ``whole`` in one multithreaded read."""
    handle = file.fs.open_input_file(file.path)
    try:
        parquet = pq.ParquetFile(handle)
    except pa.ArrowException as e:
        handle.close()
        raise DataError(f"{file.display}: not a readable Parquet file: {e}") from None
    total_rows = max(parquet.metadata.num_rows, 1)

    def batches(columns: list[str] | None) -> Iterator[pa.RecordBatch | pa.Table]:
        try:
            if whole:
                yield parquet.read(columns=columns, use_threads=True)
            else:
                yield from parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=True)
        finally:
            handle.close()

    reader = _TableReader(file.display, parquet.schema_arrow, batches)
    reader.bytes_total = file.size
    size = file.size or 0
    reader.progress_of = lambda rows: size * rows // total_rows
    return reader


def _ipc_reader(file: _File) -> _TableReader:
    handle = file.fs.open_input_file(file.path)
    try:
        magic = handle.read(len(_IPC_MAGIC))
        handle.seek(0)
        opened: Any = paipc.open_file(handle) if magic == _IPC_MAGIC else paipc.open_stream(handle)
    except pa.ArrowException as e:
        handle.close()
        raise DataError(f"{file.display}: not a readable Arrow IPC file or stream: {e}") from None

    def batches(columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        try:
            if isinstance(opened, paipc.RecordBatchFileReader):
                source: Iterable[pa.RecordBatch] = (opened.get_batch(i) for i in range(opened.num_record_batches))
            else:
                source = opened
            for batch in source:
                yield batch.select(columns) if columns is not None else batch
        finally:
            handle.close()

    reader = _TableReader(file.display, opened.schema, batches)
    reader.bytes_total = file.size
    reader.progress_of = lambda rows: handle.tell() if not handle.closed else (file.size or 0)
    return reader


@dataclass(frozen=True)
class _Block:
    """Bytes ``data[start:end]`` of a text file, ending at a record boundary (no copy is made to cut it out).

    ``first_line()`` is the 1-based physical line of ``data[start]``; it is computed on demand (only a bad row needs
    it), by counting line breaks from the beginning of the file.
    """

    data: bytes
    start: int
    end: int
    first_line: Callable[[], int]

    def buffer(self) -> pa.Buffer:
        return pa.py_buffer(self.data).slice(self.start, self.end - self.start)

    def array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.uint8, count=self.end - self.start, offset=self.start)

    def contains(self, needle: bytes) -> bool:
        return self.data.find(needle, self.start, self.end) >= 0

    def text(self) -> bytes:
        return self.data[self.start : self.end]

    def skip(self, count: int) -> _Block:
        """The block without its first ``count`` bytes."""
        data, start, first_line = self.data, self.start, self.first_line
        return _Block(data, start + count, self.end, lambda: first_line() + data.count(b"\n", start, start + count))


class _TextReader(_Reader):
    """CSV and JSON lines: the file is cut into blocks at record boundaries and each block parsed by pyarrow."""

    def __init__(self, file: _File, compression: str | None) -> None:
        self.where = file.display
        self._file = file
        self._compression = compression
        self.bytes_total = None if compression else file.size
        self._lines_at: dict[int, int] = {0: 1}

    def _blocks(self, split: Callable[[bytes, bool], int]) -> Iterator[_Block]:
        """The blocks of the file in order; ``split(data, force)`` gives where the last whole record of data ends."""
        try:
            if self._compression is None:
                yield from self._random_access_blocks(split)
            else:
                yield from self._stream_blocks(split)
        except OSError as e:
            raise DataError(f"{self.where}: cannot read: {e}") from e

    def _random_access_blocks(self, split: Callable[[bytes, bool], int]) -> Iterator[_Block]:
        # Each block is read at its own offset, so nothing is copied to carry a partial record over.
        with self._file.fs.open_input_file(self._file.path) as f:
            size = f.size()
            offset = len(_BOM) if f.read_at(len(_BOM), 0) == _BOM else 0
            window = BLOCK_BYTES
            while offset < size:
                data = f.read_at(min(window, size - offset), offset)
                if offset + len(data) >= size:
                    cut = len(data)
                else:
                    # A record longer than several blocks means the quote parity is off (a stray quote): cut anyway.
                    cut = split(data, window > _MAX_RECORD_BLOCKS * BLOCK_BYTES)
                    if cut <= 0:
                        if window > _MAX_RECORD_BLOCKS * BLOCK_BYTES:
                            raise self._record_too_long(self._line_at(offset))
                        window *= 2
                        continue
                window = BLOCK_BYTES
                self.bytes_done = offset + cut
                yield _Block(data, 0, cut, functools.partial(self._line_at, offset))
                offset += cut

    def _record_too_long(self, line: int) -> DataError:
        limit = _MAX_RECORD_BLOCKS * BLOCK_BYTES
        return DataError(
            f"{self.where}, line {line}: a line longer than {limit:,} bytes, the longest record (and field) "
            "OpenFeat reads; split the value or store it outside the table"
        )

    def _line_at(self, offset: int) -> int:
        """1-based line of the byte at ``offset`` of the (uncompressed) file: line breaks before it, counted once."""
        known = max(o for o in self._lines_at if o <= offset)
        line = self._lines_at[known]
        with self._file.fs.open_input_file(self._file.path) as f:
            while known < offset:
                piece = f.read_at(min(BLOCK_BYTES, offset - known), known)
                line += piece.count(b"\n")
                known += len(piece)
        self._lines_at[offset] = line
        return line

    def _stream_blocks(self, split: Callable[[bytes, bool], int]) -> Iterator[_Block]:
        # A compressed stream cannot be re-read cheaply: lines are counted as blocks go by.
        with self._file.fs.open_input_stream(self._file.path, compression=self._compression) as stream:
            carry = b""
            line = 1
            first = True
            while True:
                block = stream.read(BLOCK_BYTES)
                self.bytes_done += len(block)
                data = carry + block if carry else block
                if first and data.startswith(_BOM):
                    data = data[len(_BOM) :]
                first = False
                if not block:
                    if data:
                        yield _Block(data, 0, len(data), functools.partial(int, line))
                    return
                cut = split(data, len(data) > _MAX_RECORD_BLOCKS * BLOCK_BYTES)
                if cut <= 0:
                    if len(data) > _MAX_RECORD_BLOCKS * BLOCK_BYTES:
                        raise self._record_too_long(line)
                    carry = data
                    continue
                carry = data[cut:]
                yield _Block(data, 0, cut, functools.partial(int, line))
                line += data.count(b"\n", 0, cut)


# --- CSV -------------------------------------------------------------------------------------------------------------
def _newline_parity(block: _Block, quote: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in the block) of its ``\\n`` bytes and whether each one is outside quotes (a record end)."""
    buf = block.array()
    newlines = np.flatnonzero(buf == 10)
    if quote is None or not block.contains(quote):
        return newlines, np.ones(len(newlines), dtype=np.bool_)
    quotes = np.flatnonzero(buf == quote[0])
    return newlines, (np.searchsorted(quotes, newlines) & 1) == 0


def _csv_split(quote: bytes | None) -> Callable[[bytes, bool], int]:
    def split(data: bytes, force: bool) -> int:
        end = data.rfind(b"\n")
        if end < 0:
            return -1
        if quote is None or force or quote not in data or data.count(quote, 0, end) % 2 == 0:
            return end + 1
        newlines, outside = _newline_parity(_Block(data, 0, len(data), lambda: 0), quote)
        ends = newlines[outside]
        return int(ends[-1]) + 1 if len(ends) else -1

    return split


def _csv_record_lines(block: _Block, quote: bytes | None) -> np.ndarray:
    """The physical line where each non-empty record of a block starts (as pyarrow counts records)."""
    newlines, outside = _newline_parity(block, quote)
    ends = newlines[outside]
    size = block.end - block.start
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [size]])
    buf = block.array()
    lengths = stops - starts
    # A record holding only "\r" (a blank CRLF line) is empty too.
    last = np.where(lengths > 0, buf[np.clip(stops - 1, 0, max(size - 1, 0))] if size else 0, 0)
    empty = (lengths == 0) | ((lengths == 1) & (last == 13))
    return np.searchsorted(newlines, starts[~empty]) + block.first_line()


def _csv_fast_type(sql_type: SQLType) -> pa.DataType:
    """The type pyarrow's CSV reader converts a column to while parsing (in parallel).

    Its conversions accept a subset of what :func:`_convert` accepts, with equal results (e.g. it trims spaces
    around numbers but takes only ``true``/``True``/``TRUE``/``1`` as true), so a block it refuses is simply read
    again as text and converted by :func:`_convert`. Timestamps are always read as text (offsets, time zone).
    """
    return pa.string() if sql_type is SQLType.TIMESTAMP else sql_type.arrow_type


_field_limit_lock = threading.Lock()


def _csv_line_values(text: str, dialect: dict[str, Any]) -> list[str]:
    """The fields of one CSV line, however long (the csv module refuses fields over 128 KiB by default)."""
    if not text:
        return []
    with _field_limit_lock:
        # The limit is global to the csv module: raise it for this line only.
        previous = pycsv.field_size_limit(max(pycsv.field_size_limit(), len(text) + 1))
        try:
            return next(pycsv.reader([text], **dialect), [])
        finally:
            pycsv.field_size_limit(previous)


class _CsvReader(_TextReader):
    def __init__(self, file: _File, compression: str | None, options: CsvOptions) -> None:
        super().__init__(file, compression)
        self._options = options
        self._delimiter = options.delimiter or ("\t" if file.path.lower().split(".")[-1] == "tsv" else ",")
        self._quote = options.quote.encode() if options.quote else None
        self._names: list[str] | None = None

    def _header(self, block: _Block) -> tuple[list[str], int]:
        """Column names from the first record of the file, and how many bytes of the block they take."""
        end = block.data.find(b"\n", block.start, block.end)
        while end >= 0 and self._quote is not None and block.data.count(self._quote, block.start, end) % 2:
            end = block.data.find(b"\n", end + 1, block.end)  # a line break inside a quoted name
        size = end + 1 - block.start if end >= 0 else block.end - block.start
        try:
            text = block.data[block.start : block.start + size].decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise DataError(f"{self.where}, line 1: the first line is not UTF-8 text") from None
        quote = self._options.quote
        dialect: dict[str, Any] = {"delimiter": self._delimiter, "doublequote": True}
        dialect.update({"quotechar": quote} if quote else {"quoting": pycsv.QUOTE_NONE})
        try:
            values = _csv_line_values(text, dialect)
        except pycsv.Error as e:
            raise DataError(f"{self.where}, line 1: cannot parse the first line: {e}") from None
        if not self._options.header:
            return [f"f{i}" for i in range(len(values))], 0
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise DataError(f"{self.where}, line 1: duplicate column name(s) {duplicates} in the header")
        return values, size

    def _read(
        self, block: _Block, include: list[str], types: dict[str, pa.DataType], serial: bool
    ) -> tuple[pa.Table, list[Any]]:
        assert self._names is not None
        invalid: list[Any] = []
        lock = threading.Lock()

        def on_invalid(row: Any) -> str:
            with lock:
                invalid.append(row)
            return "skip"

        # Line breaks inside quoted values need pyarrow's slower quote-aware block splitting.
        quoted_newlines = False
        if self._quote is not None and block.contains(self._quote):
            quoted_newlines = not bool(_newline_parity(block, self._quote)[1].all())
        parse = pacsv.ParseOptions(
            delimiter=self._delimiter,
            quote_char=self._options.quote or False,
            double_quote=True,
            escape_char=False,
            ignore_empty_lines=True,
            newlines_in_values=quoted_newlines,
            invalid_row_handler=on_invalid,
        )
        convert = pacsv.ConvertOptions(
            column_types=types,
            include_columns=include,
            null_values=list(self._options.null_values),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        try:
            table = pacsv.read_csv(
                block.buffer(),
                read_options=pacsv.ReadOptions(column_names=self._names, use_threads=not serial, block_size=4 << 20),
                parse_options=parse,
                convert_options=convert,
            )
        except pa.ArrowInvalid as e:
            if "straddl" not in str(e):
                raise
            # A record longer than pyarrow's 4 MiB parsing block: parse the whole block (already cut at record
            # boundaries, at most _MAX_RECORD_BLOCKS * BLOCK_BYTES) as one parsing block.
            invalid.clear()
            table = pacsv.read_csv(
                block.buffer(),
                read_options=pacsv.ReadOptions(
                    column_names=self._names, use_threads=False, block_size=block.end - block.start + 1
                ),
                parse_options=parse,
                convert_options=convert,
            )
        return table, invalid

    def chunks(self, target: pa.Schema | None) -> Iterator[_RawChunk]:
        header_done = False
        for data in self._blocks(_csv_split(self._quote)):
            block = data
            if not header_done:
                names, size = self._header(block)
                if not self._options.header and target is not None:
                    # Columns by position: the declared names, then placeholders for extra fields.
                    names = list(target.names) + [f"f{i}" for i in range(len(target), len(names))]
                self._names = names
                if target is not None:
                    # Without a header, surplus fields are bad rows (wrong field count), not columns.
                    _check_columns(self.where, target, names, self.extra_columns if self._options.header else "ignore")
                header_done = True
                block = block.skip(size)
                if block.start >= block.end:
                    continue
            schema = target if target is not None else self.inferred
            yield self._chunk(block, schema)
        if not header_done:
            self._names = list(target.names) if target is not None else []

    def _chunk(self, block: _Block, schema: pa.Schema | None) -> _RawChunk:
        assert self._names is not None
        include = list(schema.names) if schema is not None else self._names
        text = {n: pa.string() for n in include}
        attempts = [text]
        if schema is not None:
            typed = {f.name: _csv_fast_type(sql_type_of_arrow(f.type)) for f in schema}
            if typed != text:
                attempts.insert(0, typed)
        for types in attempts:
            try:
                table, invalid = self._read(block, include, types, serial=False)
            except pa.ArrowInvalid:
                continue  # a value the parser cannot convert (or invalid UTF-8): try text, then locate it
            if invalid:
                break
            return _RawChunk(table, self._lines(block, []))
        try:
            table, invalid = self._read(block, include, {n: pa.binary() for n in include}, serial=True)
        except pa.ArrowInvalid as e:
            raise DataError(f"{self.where}, near line {block.first_line()}: cannot parse the CSV text: {e}") from None
        records = _csv_record_lines(block, self._quote)
        rejected = []
        skipped = set()
        for row in invalid:
            index = (row.number or 0) - 1
            skipped.add(index)
            line = int(records[index]) if 0 <= index < len(records) else block.first_line()
            rejected.append(
                RejectedRow(
                    self.where,
                    line,
                    None,
                    _shown(row.text),
                    f"{row.expected_columns} fields",
                    f"expected {row.expected_columns} fields, found {row.actual_columns}",
                )
            )
        return _RawChunk(table, self._lines(block, sorted(skipped)), rejected)

    def _lines(self, block: _Block, skipped: list[int]) -> Callable[[np.ndarray], np.ndarray]:
        def line_of(rows: np.ndarray) -> np.ndarray:
            records = _csv_record_lines(block, self._quote)
            kept = np.delete(records, skipped) if skipped else records
            return kept[rows]

        return line_of

    def infer(self, first: _RawChunk | None, timezone: str) -> pa.Schema:
        if first is None:
            return pa.schema([(n, pa.string()) for n in self._names or []])
        return _infer_schema(first.table, "full", timezone, self.where)


# --- JSON lines ------------------------------------------------------------------------------------------------------
def _json_split(data: bytes, force: bool) -> int:
    return data.rfind(b"\n") + 1


def _json_text(value: Any) -> str | None:
    """A JSON scalar as the text the converters read (``true``, ``1.5``, ``abc``); nested values are refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise TypeError("nested JSON value")


class _JsonReader(_TextReader):
    def __init__(self, file: _File, compression: str | None) -> None:
        super().__init__(file, compression)
        self._inferred_names: list[str] = []

    @staticmethod
    def _explicit(target: pa.Schema, timestamps_as: pa.DataType) -> pa.Schema:
        fields = []
        for f in target:
            sql_type = sql_type_of_arrow(f.type)
            if sql_type is SQLType.TIMESTAMP:
                fields.append(pa.field(f.name, timestamps_as))
            elif sql_type in (SQLType.STRING, SQLType.DATE):
                fields.append(pa.field(f.name, pa.string()))
            elif sql_type.is_integer:
                fields.append(pa.field(f.name, pa.int64()))
            else:
                fields.append(f)
        return pa.schema(fields)

    def _fast(self, block: _Block, target: pa.Schema | None) -> pa.Table | None:
        """Parse with pyarrow; None when the block needs the line-by-line path."""
        # A key outside the schema sends the block to the line-by-line path, which names it.
        unexpected = "error" if target is not None and self.extra_columns == "error" else "ignore"
        if target is None:
            # Learn the columns, then read text-like ones as text (pyarrow would turn ISO strings into naive
            # timestamps, losing their offsets).
            try:
                probe = pajson.read_json(block.buffer())
            except pa.ArrowInvalid:
                return None
            as_text = [
                pa.field(f.name, pa.string())
                if not pa.types.is_integer(f.type)
                and not pa.types.is_floating(f.type)
                and not pa.types.is_boolean(f.type)
                else f
                for f in probe.schema
            ]
            target = pa.schema(as_text)
            explicits = [target]
        else:
            # Epoch numbers as integers first: a float64 loses the last digits of microseconds and nanoseconds.
            explicits = [self._explicit(target, t) for t in (pa.string(), pa.int64(), pa.float64())]
        for explicit in explicits:
            try:
                return pajson.read_json(
                    block.buffer(),
                    parse_options=pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior=unexpected),
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        return None

    def chunks(self, target: pa.Schema | None) -> Iterator[_RawChunk]:
        for block in self._blocks(_json_split):
            table = self._fast(block, target if target is not None else self.inferred)
            if table is not None:
                if target is None and not self._inferred_names:
                    self._inferred_names = table.column_names
                yield _RawChunk(table, self._lines(block))
            else:
                yield self._slow(block, target)

    @staticmethod
    def _lines(block: _Block) -> Callable[[np.ndarray], np.ndarray]:
        """Row -> line: pyarrow skips blank lines, so row i is the i-th non-blank line."""

        def line_of(rows: np.ndarray) -> np.ndarray:
            first = block.first_line()
            lines = [first + i for i, text in enumerate(block.text().split(b"\n")) if text.strip()]
            return np.array(lines, dtype=np.int64)[rows]

        return line_of

    def _slow(self, block: _Block, target: pa.Schema | None) -> _RawChunk:
        """Line by line: each line parsed by :mod:`json`, every scalar kept as text for the converters."""
        names = list(target.names) if target is not None else None
        target_schema = target if target is not None else pa.schema([])
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        rejected: list[RejectedRow] = []
        nested: list[tuple[int, str, Any]] = []
        seen: dict[str, None] = {}
        first_line = block.first_line()
        for offset, raw in enumerate(block.text().split(b"\n")):
            text = raw.strip()
            if not text:
                continue
            line = first_line + offset
            try:
                record = loads_json(text)
            except ValueError as e:
                rejected.append(RejectedRow(self.where, line, None, _shown(text), "JSON object", f"invalid JSON: {e}"))
                continue
            except RecursionError:
                reason = "invalid JSON: nested too deeply"
                rejected.append(RejectedRow(self.where, line, None, _shown(text), "JSON object", reason))
                continue
            if not isinstance(record, dict):
                rejected.append(
                    RejectedRow(self.where, line, None, _shown(text), "JSON object", "the line is not a JSON object")
                )
                continue
            if names is not None and self.extra_columns == "error":
                _check_columns(f"{self.where}, line {line}", target_schema, [*names, *record], "error")
            row: dict[str, Any] = {}
            for key in names if names is not None else record:
                seen.setdefault(key, None)
                try:
                    row[key] = _json_text(record.get(key))
                except TypeError:
                    nested.append((len(rows), key, record.get(key)))
                    row[key] = None
            rows.append(row)
            lines.append(line)
        columns = names if names is not None else list(seen)
        if names is None and not self._inferred_names:
            self._inferred_names = columns
        table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
        line_numbers = np.array(lines, dtype=np.int64)
        bad_rows = {i for i, _, _ in nested}
        for i, key, value in nested:
            rejected.append(
                RejectedRow(self.where, int(line_numbers[i]), key, _shown(json.dumps(value)), None, "nested JSON value")
            )
        if bad_rows:
            keep = np.ones(len(rows), dtype=np.bool_)
            keep[sorted(bad_rows)] = False
            table = table.filter(pa.array(keep))
            line_numbers = line_numbers[keep]
        return _RawChunk(table, lambda r: line_numbers[r], rejected)

    def infer(self, first: _RawChunk | None, timezone: str) -> pa.Schema:
        if first is None:
            return pa.schema([(n, pa.string()) for n in self._inferred_names])
        return _infer_schema(first.table, "temporal", timezone, self.where)


# ---------------------------------------------------------------------------------------------------------------------
# Conversion of a raw block to the target schema
# ---------------------------------------------------------------------------------------------------------------------
def _chunked(values: ArrowData) -> pa.ChunkedArray:
    return pa.chunked_array([values]) if isinstance(values, pa.Array) else values


def _conform(
    chunk: _RawChunk, target: pa.Schema, timezone: str, unit: TimestampUnit, where: str
) -> tuple[pa.Table, list[RejectedRow]]:
    """Convert a raw block to ``target``; bad values are located, described and their rows dropped."""
    raw = chunk.table
    converted: list[ArrowData | None] = []
    bad: dict[str, np.ndarray] = {}
    for f in target:
        sql_type = sql_type_of_arrow(f.type)
        if f.name not in raw.column_names:  # a JSON block where no line has the key
            raw = raw.append_column(f.name, pa.nulls(raw.num_rows, pa.string()))
        values = raw.column(f.name)
        try:
            converted.append(_chunked(_convert(values, sql_type, timezone, unit)))
        except pa.ArrowInvalid as e:
            positions = _bad_positions(values.combine_chunks(), sql_type, timezone, unit)
            if not len(positions):
                raise DataError(f"{where}: column {f.name!r}: {e}") from None
            bad[f.name] = positions
            converted.append(None)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
            raise DataError(
                f"{where}: column {f.name!r} holds {values.type} values, which cannot be read as {sql_type}"
            ) from None
    if not bad:
        return pa.Table.from_arrays(converted, schema=target), []
    keep = np.ones(raw.num_rows, dtype=np.bool_)
    rejected = []
    for f in target:
        if f.name not in bad:
            continue
        positions = bad[f.name]
        keep[positions] = False
        sql_type = sql_type_of_arrow(f.type)
        typed_temporal = _is_temporal(raw.column(f.name).type)
        values = _displayable(raw.column(f.name).take(pa.array(positions)))
        lines = chunk.line_of(positions)
        for value, line in zip(values.to_pylist(), lines.tolist(), strict=True):
            shown = _shown(value)
            if isinstance(value, bytes) and _invalid_utf8(value):
                reason = "invalid UTF-8"
            else:
                reason = f"cannot read {shown!r} as {sql_type}{_temporal_hint(value, sql_type, unit, typed_temporal)}"
            rejected.append(RejectedRow(where, int(line), f.name, shown, str(sql_type), reason))
    mask = pa.array(keep)
    columns = []
    for f, values in zip(target, converted, strict=True):
        if values is None:
            values = _convert(raw.column(f.name).filter(mask), sql_type_of_arrow(f.type), timezone, unit)
        else:
            values = values.filter(mask)
        columns.append(_chunked(values))
    rejected.sort(key=lambda r: (r.line, target.names.index(r.column) if r.column in target.names else -1))
    return pa.Table.from_arrays(columns, schema=target), rejected


def _displayable(values: ArrowData) -> ArrowData:
    """Bad values as something ``to_pylist`` can return: timestamps and dates beyond Python's years as text."""
    # Arrow's own text for such values wraps around (a year 201,000 prints as 5229): show the raw count instead.
    if pa.types.is_timestamp(values.type):
        raw = values.cast(pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(raw, f" {TIMESTAMP_UNITS[values.type.unit]} since 1970-01-01", "")
    if pa.types.is_date(values.type):
        days = values.cast(pa.int32()).cast(pa.int64())
        return pc.binary_join_element_wise(days.cast(pa.string()), " days since 1970-01-01", "")
    return values


def _is_temporal(t: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(t) or pa.types.is_date(t))


def _temporal_hint(value: Any, sql_type: SQLType, unit: TimestampUnit, typed_temporal: bool) -> str:
    """What a timestamp or date must look like, for the message about a value that is not one."""
    if sql_type is SQLType.DATE:
        return f" (a date from {DATE_RANGE_TEXT})"
    if sql_type is not SQLType.TIMESTAMP:
        return ""
    if typed_temporal:
        return f" (range {TIMESTAMP_RANGE_TEXT})"
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", value)):
        return f" (a number is epoch {TIMESTAMP_UNITS[unit]}, timestamp_unit={unit!r}; range {TIMESTAMP_RANGE_TEXT})"
    if isinstance(value, str) and re.match(r"\s*[+-]?\d{4,}-", value):
        return f" (range {TIMESTAMP_RANGE_TEXT})"
    return ""


# ---------------------------------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------------------------------
class SourceScan:
    """A source read as a stream of record batches (see :func:`scan_source`).

    Iterate it once. The schema is known before the first batch (:attr:`schema`, which may read the first block).
    With ``on_error="fail"`` the iteration raises :class:`BadRowsError` at the end of the source if any row was
    bad, and stops yielding batches at the first bad block: a consumer must write what it receives aside and
    publish it only when the iteration completes (as every OpenFeat writer does).

    Attributes:
        files: the files of the source, as listed.
        rejected: bad values found so far (all of them when skipping, the first 1000 when failing).
        rows: good rows yielded so far.
        bad_rows: bad rows found so far.
        bytes_read: bytes read from files so far.
    """

    def __init__(
        self,
        readers: list[Callable[[], _Reader]],
        files: list[str],
        schema: pa.Schema | None,
        on_error: OnError,
        timezone: str,
        timestamp_unit: TimestampUnit,
        progress: ProgressCallback | None,
        bytes_total: int | None,
    ) -> None:
        self.files = files
        self.rejected: list[RejectedRow] = []
        self.rows = 0
        self.bad_rows = 0
        self.bytes_read = 0
        self._readers = readers
        self._schema = schema
        self._on_error = on_error
        self._timezone = timezone
        self._unit = timestamp_unit
        self._progress = progress
        self._bytes_total = bytes_total
        # The reader whose first block was read to infer the schema, with that block and the rest of its blocks.
        self._opened: tuple[_Reader, Iterator[_RawChunk], _RawChunk | None] | None = None
        self._started = False

    @property
    def schema(self) -> pa.Schema:
        """The schema of every batch (engine Arrow types)."""
        if self._schema is None:
            reader = self._readers[0]()
            chunks = reader.chunks(None)
            first = next(chunks, None)
            self._schema = reader.inferred = reader.infer(first, self._timezone)
            self._opened = (reader, chunks, first)
        return self._schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._started:
            raise OpenFeatError("a SourceScan can only be iterated once")
        self._started = True
        target = self.schema
        failing = False
        bytes_before = 0
        for index, make_reader in enumerate(self._readers):
            if index == 0 and self._opened is not None:
                reader, chunks, first = self._opened
                self._opened = None
                stream: Iterable[_RawChunk] = itertools.chain([first] if first is not None else [], chunks)
            else:
                reader = make_reader()
                stream = reader.chunks(target)
            for chunk in stream:
                table, rejected = _conform(chunk, target, self._timezone, self._unit, reader.where)
                if chunk.rejected:
                    rejected = sorted(chunk.rejected + rejected, key=lambda r: r.line)
                if rejected:
                    self._note_rejected(rejected)
                    failing = failing or self._on_error == "fail"
                self.bytes_read = bytes_before + reader.bytes_done
                if self._progress is not None:
                    self._progress(self.bytes_read, self._bytes_total)
                if failing:
                    continue
                self.rows += table.num_rows
                yield from table.to_batches()
            bytes_before += reader.bytes_done
            self.bytes_read = bytes_before
        if failing:
            raise BadRowsError(self.rejected, self.bad_rows)

    def _note_rejected(self, rejected: list[RejectedRow]) -> None:
        self.bad_rows += len({(r.file, r.line) for r in rejected})
        if self._on_error == "skip":
            self.rejected.extend(rejected)
        else:
            room = _KEPT_BAD_ROWS_ON_FAIL - len(self.rejected)
            self.rejected.extend(rejected[: max(room, 0)])

    def read_all(self) -> IngestResult:
        """Consume the scan into one table (see :func:`read_source`)."""
        start = time.perf_counter()
        schema = self.schema
        batches = list(self)
        table = pa.Table.from_batches(batches, schema=schema)
        return IngestResult(
            table=table,
            rejected=list(self.rejected),
            files=list(self.files),
            rows=table.num_rows,
            bad_rows=self.bad_rows,
            bytes_read=self.bytes_read,
            seconds=time.perf_counter() - start,
        )


def _is_pandas(obj: Any) -> bool:
    """True for a pandas DataFrame (or subclass), without importing pandas."""
    return any(c.__name__ == "DataFrame" and c.__module__.startswith("pandas") for c in type(obj).__mro__)


def _configured(make: Callable[[], _Reader], extra_columns: ExtraColumns) -> _Reader:
    reader = make()
    reader.extra_columns = extra_columns
    return reader


def _file_reader(file: _File, format: Format | None, csv: CsvOptions, whole: bool) -> Callable[[], _Reader]:
    detected, compression = _split_extension(file.path)
    kind = format or detected
    if kind is None:
        raise DataError(f"{file.display}: cannot tell the format from the file name; pass format=")
    if kind in ("parquet", "ipc") and compression is not None:
        raise DataError(f"{file.display}: {kind} files are not read through {compression} compression")
    if kind == "csv":
        return lambda: _CsvReader(file, compression, csv)
    if kind == "json":
        return lambda: _JsonReader(file, compression)
    if kind == "parquet":
        return lambda: _parquet_reader(file, whole)
    return lambda: _ipc_reader(file)


def scan_source(
    source: SourceLike,
    *,
    schema: SchemaLike | None = None,
    format: Format | None = None,
    on_error: OnError = "fail",
    timezone: str = "UTC",
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | bool | None = None,
    csv: CsvOptions | None = None,
    timestamp_unit: TimestampUnit = "ms",
    extra_columns: ExtraColumns = "error",
) -> SourceScan:
    """Open a source for streaming: a :class:`SourceScan` yielding record batches of bounded size.

    Args:
        source: path, glob, directory, URI, list of those, or ``pa.Table`` / ``pa.RecordBatch`` / pandas DataFrame.
        schema: declared schema (``pa.Schema`` or ``"id bigint, ts timestamp"``); inferred when None.
        format: ``csv``, ``parquet``, ``json`` (JSON lines) or ``ipc``; from the file extension when None.
        on_error: ``fail`` (raise :class:`BadRowsError`, load nothing) or ``skip`` (keep good rows, report bad ones).
        timezone: the zone of timestamps written without offset (IANA name or ``+08:00``).
        filesystem: a configured ``pyarrow.fs`` filesystem to read paths from (the scheme of a URI is then dropped).
        storage_options: object-store settings for ``s3://`` sources (see :mod:`openfeat_core.io.location`).
        progress: a callback ``(bytes_done, bytes_total_or_None)``; True for a bar on stderr; False for nothing;
            None (default) for a bar only when stderr is a terminal.
        csv: CSV dialect (defaults: see :class:`CsvOptions`).
        timestamp_unit: the unit of epoch numbers in TIMESTAMP columns: ``ms`` (default, as HTTP requests and
            ``INSERT``), ``s``, ``us`` or ``ns``. The whole source uses one unit; nothing is guessed by magnitude.
        extra_columns: ``error`` (default): a source column the declared schema does not name is an error (by
            name); ``ignore``: such columns are dropped.

    Raises:
        DataError: the source does not exist, a file is unreadable, a declared column is missing, a source column
            is not declared, a column has a type OpenFeat cannot represent. Bad rows raise :class:`BadRowsError`
            during iteration.
    """
    return _open_scan(
        source,
        schema=schema,
        format=format,
        on_error=on_error,
        timezone=timezone,
        filesystem=filesystem,
        storage_options=storage_options,
        progress=progress,
        csv=csv,
        timestamp_unit=timestamp_unit,
        extra_columns=extra_columns,
        whole_files=False,
    )


def _open_scan(
    source: SourceLike,
    *,
    schema: SchemaLike | None,
    format: Format | None,
    on_error: OnError,
    timezone: str,
    filesystem: pafs.FileSystem | None,
    storage_options: Mapping[str, Any] | None,
    progress: ProgressCallback | bool | None,
    csv: CsvOptions | None,
    timestamp_unit: TimestampUnit,
    extra_columns: ExtraColumns,
    whole_files: bool,
) -> SourceScan:
    """:func:`scan_source`; ``whole_files`` reads each Parquet file in one multithreaded read instead of in batches
    (for :func:`read_source`, which holds every row in memory anyway)."""
    if on_error not in ON_ERROR:
        raise OpenFeatError(f'on_error must be "fail" or "skip", got {on_error!r}')
    if format is not None and format not in SOURCE_FORMATS:
        raise OpenFeatError(f"unknown format {format!r}; expected {', '.join(SOURCE_FORMATS)}")
    if timestamp_unit not in TIMESTAMP_UNIT_CHOICES:
        choices = ", ".join(TIMESTAMP_UNIT_CHOICES)
        raise OpenFeatError(f"timestamp_unit must be one of {choices}, got {timestamp_unit!r}")
    if extra_columns not in EXTRA_COLUMNS:
        raise OpenFeatError(f'extra_columns must be "error" or "ignore", got {extra_columns!r}')
    try:
        check_timezone(timezone)
    except ValueError as e:
        raise OpenFeatError(str(e)) from None
    declared = _declared_schema(schema) if schema is not None else None
    csv_options = csv or CsvOptions()
    readers: list[Callable[[], _Reader]]
    files: list[_File] = []
    if isinstance(source, (pa.Table, pa.RecordBatch)) or _is_pandas(source):
        memory = source
        readers = [lambda: _memory_reader(memory)]
    else:
        sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        if not sources:
            raise DataError("no source given")
        for item in sources:
            files.extend(_resolve_files(item, filesystem, storage_options))
        readers = [_file_reader(f, format, csv_options, whole_files) for f in files]
    readers = [functools.partial(_configured, make, extra_columns) for make in readers]
    sizes = [f.size for f in files]
    compressed = any(_split_extension(f.path)[1] for f in files)
    total = None if compressed or None in sizes or not files else sum(s or 0 for s in sizes)
    callback: ProgressCallback | None
    if progress is True or (progress is None and files and sys.stderr.isatty()):
        label = files[0].display if len(files) == 1 else f"{len(files)} files"
        callback = _TerminalProgress(f"loading {label}")
    elif callable(progress):
        callback = progress
    else:
        callback = None
    return SourceScan(
        readers, [f.display for f in files], declared, on_error, timezone, timestamp_unit, callback, total
    )


def read_source(
    source: SourceLike,
    *,
    schema: SchemaLike | None = None,
    format: Format | None = None,
    on_error: OnError = "fail",
    timezone: str = "UTC",
    filesystem: pafs.FileSystem | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | bool | None = None,
    csv: CsvOptions | None = None,
    timestamp_unit: TimestampUnit = "ms",
    extra_columns: ExtraColumns = "error",
) -> IngestResult:
    """Read a whole source into one Arrow table with engine types (arguments as :func:`scan_source`).

    Raises:
        BadRowsError: some rows are bad and ``on_error="fail"`` (the message lists the first ones and the total).
        DataError: see :func:`scan_source`.
    """
    start = time.perf_counter()
    scan = _open_scan(
        source,
        schema=schema,
        format=format,
        on_error=on_error,
        timezone=timezone,
        filesystem=filesystem,
        storage_options=storage_options,
        progress=progress,
        csv=csv,
        timestamp_unit=timestamp_unit,
        extra_columns=extra_columns,
        whole_files=True,
    )
    bar = scan._progress if isinstance(scan._progress, _TerminalProgress) else None
    try:
        result = scan.read_all()
    finally:
        if bar is not None:
            bar.finish()
    result.seconds = time.perf_counter() - start
    return result


#: A table given to ``compute`` and ``request_replay``: Arrow data, or the path or URI of a file, directory or glob
#: ``openfeat ingest`` reads.
TableSource: TypeAlias = "pa.Table | str | os.PathLike[str]"


def load_table(
    name: str,
    source: TableSource,
    *,
    timezone: str = "UTC",
    storage_options: Mapping[str, Any] | None = None,
) -> pa.Table:
    """A table given as Arrow data, or read from a path or URI as ``openfeat ingest`` reads it.

    A path goes through :func:`openfeat_core.io.ingest.read_source`, the reader of ``openfeat ingest``: the same
    formats, the same schema inference (a CSV's integer column with NULLs is ``bigint``, ISO date-times are
    ``timestamp``) and the same timestamp rules (naive values in ``timezone``), so a file computes the same whether
    it was ingested first or not.

    Raises:
        DataError: the file does not exist or cannot be read (the message names the table), or has bad rows.
    """
    if isinstance(source, pa.Table):
        return source
    try:
        result = read_source(source, timezone=timezone, storage_options=storage_options, progress=False)
    except BadRowsError:
        raise  # it lists the bad rows by file and line, and callers may read them from it
    except DataError as e:
        raise DataError(f"table {name!r}: {e}") from None
    # Each Parquet file is one multithreaded read (read_source); one chunk per column then lets the engine use the
    # buffers in place (no copy of non-null numbers). Strings stay plain and are dictionary-encoded once per column
    # by the engine: unifying the per-row-group dictionaries Parquet would give costs more than encoding.
    table = result.table.combine_chunks()
    # Hand the reader's scratch memory back to the OS rather than keep it in Arrow's pool.
    pa.default_memory_pool().release_unused()
    return table
