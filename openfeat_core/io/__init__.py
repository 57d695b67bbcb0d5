"""Data in and out of OpenFeat: reading sources into engine-typed Arrow data, and exporting results.

* :func:`read_source` / :func:`scan_source`: CSV, Parquet, JSON lines and Arrow IPC files (paths, globs,
  directories, ``file://`` / ``s3://`` URIs) or in-memory tables, with declared or inferred schemas, timestamps in
  any common form, and bad rows reported by file, line, column and value.
* :func:`export_csv`, :func:`export_parquet`, :func:`export_libsvm`, :func:`export_lines`: streamed, atomic writes
  with OpenMLDB ``SELECT ... INTO OUTFILE`` semantics; :func:`encode_libsvm_row` reproduces a LIBSVM line from one
  row and the exported feature map.
* :func:`resolve`: the one way a path or URI (with storage options) becomes a filesystem and a path, used by every
  reader and writer here and by the workspace.

These functions know nothing of workspaces: they take sources, paths or ``pyarrow.fs`` filesystems, and Arrow data.
"""

from openfeat_core.io.export import (
    DEFAULT_BUCKETS,
    ExportResult,
    WriteMode,
    build_feature_map,
    encode_libsvm_row,
    export_csv,
    export_libsvm,
    export_lines,
    export_parquet,
)
from openfeat_core.io.ingest import (
    REJECTED_SCHEMA,
    BadRowsError,
    CsvOptions,
    ExtraColumns,
    IngestResult,
    RejectedRow,
    SourceScan,
    read_source,
    rejected_table,
    scan_source,
    write_rejected,
)
from openfeat_core.io.location import Location, resolve
from openfeat_core.io.timestamps import TimestampUnit

__all__ = [
    "DEFAULT_BUCKETS",
    "REJECTED_SCHEMA",
    "BadRowsError",
    "CsvOptions",
    "ExportResult",
    "ExtraColumns",
    "IngestResult",
    "Location",
    "RejectedRow",
    "SourceScan",
    "TimestampUnit",
    "WriteMode",
    "build_feature_map",
    "encode_libsvm_row",
    "export_csv",
    "export_libsvm",
    "export_lines",
    "export_parquet",
    "read_source",
    "rejected_table",
    "resolve",
    "scan_source",
    "write_rejected",
]
