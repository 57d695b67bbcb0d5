"""The choices of the task options, each spelled once: a ``Literal`` type and the tuple of its values.

The task requests (:mod:`openfeat_core.tasks`), the library functions (:mod:`openfeat_core.io`), the command line
(its options take these ``Literal`` types) and the Airflow operators (their argument checks) all read them from here,
so that a new value is added in one place.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

__all__ = [
    "EXPORT_FORMATS",
    "EXTRA_COLUMNS",
    "ON_ERROR",
    "ON_NULL_LABEL",
    "SOURCE_FORMATS",
    "TIMESTAMP_FORMATS",
    "TIMESTAMP_UNIT_CHOICES",
    "WRITE_MODES",
    "ExportFormat",
    "ExtraColumns",
    "OnError",
    "OnNullLabel",
    "SourceFormat",
    "TimestampFormat",
    "TimestampUnit",
    "WriteMode",
]

#: What a write does when its destination (a workspace table, a file) exists: OpenMLDB's ``mode`` option.
WriteMode: TypeAlias = Literal["error_if_exists", "overwrite", "append"]
WRITE_MODES: tuple[WriteMode, ...] = get_args(WriteMode)

#: The formats ``ingest`` reads.
SourceFormat: TypeAlias = Literal["csv", "parquet", "json", "ipc"]
SOURCE_FORMATS: tuple[SourceFormat, ...] = get_args(SourceFormat)

#: The formats ``export`` writes.
ExportFormat: TypeAlias = Literal["csv", "parquet", "libsvm", "lines"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

#: What ``ingest`` does with bad rows: ``fail`` loads nothing, ``skip`` loads the good rows and reports the others.
OnError: TypeAlias = Literal["fail", "skip"]
ON_ERROR: tuple[OnError, ...] = get_args(OnError)

#: The unit of epoch numbers read into TIMESTAMP columns.
TimestampUnit: TypeAlias = Literal["s", "ms", "us", "ns"]
TIMESTAMP_UNIT_CHOICES: tuple[TimestampUnit, ...] = get_args(TimestampUnit)

#: What ``ingest`` does with source columns the declared schema does not name.
ExtraColumns: TypeAlias = Literal["error", "ignore"]
EXTRA_COLUMNS: tuple[ExtraColumns, ...] = get_args(ExtraColumns)

#: How a CSV export writes timestamps: ISO-8601 UTC text, or epoch milliseconds.
TimestampFormat: TypeAlias = Literal["iso", "epoch_ms"]
TIMESTAMP_FORMATS: tuple[TimestampFormat, ...] = get_args(TimestampFormat)

#: What a LIBSVM export does with a row whose label is NULL: ``fail`` writes nothing, ``skip`` leaves the row out.
OnNullLabel: TypeAlias = Literal["fail", "skip"]
ON_NULL_LABEL: tuple[OnNullLabel, ...] = get_args(OnNullLabel)
