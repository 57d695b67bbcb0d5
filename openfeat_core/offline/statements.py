"""The offline side of OpenMLDB's statements: files and the workspace (the offline storage of a table).

* ``LOAD DATA INFILE 'path' INTO TABLE t [OPTIONS(...)]``: :func:`load_spec` reads the options,
  :func:`read_infile` reads the file against the table's schema (for either storage), and
  :func:`load_into_workspace` writes it as a new workspace version of the table.
* ``SELECT ... INTO OUTFILE 'path' [OPTIONS(...)]``: :func:`resolve_outfile`, then :func:`write_outfile`.
* An offline ``SELECT`` reads the latest workspace version of every table it reads: :func:`workspace_tables`.

The statements arrive parsed (:mod:`openfeat_core.sql.statements`); which storage a statement uses is decided by
the statement runner above this layer (:mod:`openfeat_core.server.statements`), which documents the semantics.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.fs as pafs

import openfeat_core
from openfeat_core.choices import WRITE_MODES
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io.access import FileAccess
from openfeat_core.io.export import TEMP_PREFIX, WriteMode, export_csv, export_parquet, publish_directory
from openfeat_core.io.ingest import BadRowsError, CsvOptions, scan_source
from openfeat_core.io.location import resolve
from openfeat_core.sql.statements import Constant, LoadData, Outfile, options_of
from openfeat_core.types import sql_type_of_arrow
from openfeat_core.workspace import LINEAGE_KEY, Workspace

__all__ = [
    "LoadSpec",
    "OutfileSpec",
    "load_into_workspace",
    "load_spec",
    "located",
    "read_infile",
    "require_workspace",
    "resolve_outfile",
    "workspace_schemas",
    "workspace_tables",
    "write_outfile",
]

_LOAD_OPTIONS = (
    "format",
    "header",
    "delimiter",
    "null_value",
    "quote",
    "mode",
    "deep_copy",
    "load_mode",
    "thread",
    "writer_type",
    "put_if_absent",
)
_OUTFILE_OPTIONS = ("format", "mode", "header", "delimiter", "null_value", "quote", "coalesce")
_FILE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".pq")


# ------------------------------------------------------------------ options
def _option_text(options: Mapping[str, Constant], key: str, default: str) -> str:
    constant = options.get(key)
    if constant is None:
        return default
    if constant.args["kind"] not in ("string", "word"):
        raise OpenFeatSQLError(f"option {key} must be a string, not {constant.args['text']}")
    return str(constant.value)


def _option_bool(options: Mapping[str, Constant], key: str, default: bool) -> bool:
    """A boolean option, written ``true`` or ``false``: a string (``'true'``) is refused, as OpenMLDB does."""
    constant = options.get(key)
    if constant is None:
        return default
    if constant.args["kind"] == "bool":
        return bool(constant.value)
    raise OpenFeatSQLError(f"option {key} must be true or false (a bool, unquoted), not {constant.args['text']}")


def _option_choice(options: Mapping[str, Constant], key: str, choices: tuple[str, ...]) -> str:
    """A text option that must be one of ``choices`` (the first is the default); compared in lower case."""
    text = _option_text(options, key, choices[0]).lower()
    if text not in choices:
        raise OpenFeatSQLError(f"option {key} must be one of {', '.join(choices)}, not {text!r}")
    return text


def _option_positive_int(options: Mapping[str, Constant], key: str) -> None:
    constant = options.get(key)
    if constant is not None and (constant.args["kind"] != "int" or constant.value <= 0):
        raise OpenFeatSQLError(f"option {key} must be a positive integer, not {constant.args['text']}")


def located(path: str, workdir: str | None) -> str:
    """``path`` as the statement names it, a relative local path taken from ``workdir`` (when given): OpenMLDB
    resolves one against the directory its server runs in."""
    if workdir is None or "://" in path or os.path.isabs(path):
        return path
    return os.path.join(workdir, path)


def _check_options(options: Mapping[str, Constant], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise OpenFeatSQLError(f"unknown {what} option(s) {', '.join(unknown)} (known: {', '.join(known)})")


def _write_mode(options: Mapping[str, Constant], default: WriteMode) -> WriteMode:
    text = _option_text(options, "mode", default).lower()
    for mode in WRITE_MODES:
        if text == mode:
            return mode
    raise OpenFeatSQLError(f"option mode must be one of {', '.join(WRITE_MODES)}, not {text!r}")


def _file_format(options: Mapping[str, Constant]) -> Literal["csv", "parquet"]:
    text = _option_text(options, "format", "csv").lower()
    if text == "csv":
        return "csv"
    if text == "parquet":
        return "parquet"
    raise OpenFeatSQLError(f"option format must be 'csv' or 'parquet', not {text!r}")


# ------------------------------------------------------------------ LOAD DATA
@dataclass(frozen=True)
class LoadSpec:
    """What a ``LOAD DATA`` statement reads and how it writes (its options checked)."""

    path: str
    table: str
    file_format: Literal["csv", "parquet"]
    mode: WriteMode
    csv: CsvOptions
    cluster: bool = True  # load_mode='cluster' (OpenMLDB's job), not 'local' (its client)


def load_spec(node: LoadData, *, offline: bool, workdir: str | None = None) -> LoadSpec:
    """The checked options of a ``LOAD DATA``; ``offline``: the default mode is ``error_if_exists`` (OpenMLDB's
    offline default) rather than ``append``; ``workdir``: where a relative path is (see :func:`located`).

    ``deep_copy``, ``load_mode``, ``thread`` and ``writer_type`` are checked and have no effect: the file is always
    read whole into the storage (a deep copy), by this process."""
    options = options_of(node)
    _check_options(options, _LOAD_OPTIONS, "LOAD DATA")
    file_format = _file_format(options)
    mode = _write_mode(options, "error_if_exists" if offline else "append")
    _option_bool(options, "deep_copy", True)
    load_mode = _option_choice(options, "load_mode", ("cluster", "local"))
    _option_choice(options, "writer_type", ("single", "batch"))
    _option_positive_int(options, "thread")
    if _option_bool(options, "put_if_absent", False):
        raise NotSupportedError("put_if_absent=true is not supported (rows are never deduplicated)")
    csv = CsvOptions(
        delimiter=_option_text(options, "delimiter", ","),
        header=_option_bool(options, "header", True),
        quote=_option_text(options, "quote", '"'),
        null_values=(_option_text(options, "null_value", ""),) if "null_value" in options else ("", "null", "NULL"),
    )
    return LoadSpec(located(node.name, workdir), node.args["table"], file_format, mode, csv, load_mode == "cluster")


def read_infile(spec: LoadSpec, schema: pa.Schema, timezone: str, file_access: FileAccess) -> pa.Table:
    """The file's rows with the table's schema; a bad row fails the load (nothing read is kept). The path, and
    then every file it lists (a directory's or a glob's), must be readable under ``file_access``."""
    path = spec.path
    if path.lower().startswith("hive://"):
        raise NotSupportedError("hive:// sources are not supported; give a path, file:// or s3:// URI")
    file_access.check_read(path)
    try:
        scan = scan_source(
            path, schema=schema, format=spec.file_format, timezone=timezone, progress=False, csv=spec.csv
        )
        for listed in scan.files:
            file_access.check_read(listed)
        result = scan.read_all()
    except BadRowsError as e:
        shown = "; ".join(r.describe() for r in e.rejected[:5])
        more = f" (and {e.bad_rows - 5} more)" if e.bad_rows > 5 else ""
        raise DataError(f"{e.bad_rows} bad row(s), nothing was loaded: {shown}{more}") from None
    return result.table.select(schema.names).cast(schema)


def load_into_workspace(
    ws: Workspace, spec: LoadSpec, schema: pa.Schema, timezone: str, file_access: FileAccess
) -> int:
    """A new workspace version of the table: ``overwrite`` holds the file's rows, ``append`` the previous version's
    rows then the file's, ``error_if_exists`` refuses a table that has a version. Returns the rows loaded."""
    table = spec.table
    previous = ws.table_info(table) if ws.exists(table) else None
    if previous is not None and spec.mode == "error_if_exists":
        raise DataError(
            f"table {table!r} already has offline data (workspace {ws.uri}, version {previous.version}, "
            f"{previous.num_rows} rows) and mode is 'error_if_exists': use mode='overwrite' or mode='append'"
        )
    if previous is not None and spec.mode == "append" and not previous.schema.equals(schema, check_metadata=False):
        raise DataError(
            f"cannot append to the offline data of table {table!r}: its version {previous.version} has columns "
            f"{_describe_schema(previous.schema)}, the table has {_describe_schema(schema)}; use mode='overwrite'"
        )
    data = read_infile(spec, schema, timezone, file_access)
    lineage = {
        LINEAGE_KEY: {
            "task": "load_data",
            "source": spec.path,
            "mode": spec.mode,
            "base_version": previous.version if previous is not None and spec.mode == "append" else None,
            "openfeat_version": openfeat_core.__version__,
        }
    }
    # An append shares the latest version's files and re-bases onto a concurrent writer's commit (nothing lost);
    # an overwrite or first load commits only over the version read above, else fails with a ConflictError.
    append = previous is not None and spec.mode == "append"
    expected = None if append else previous.version if previous is not None else 0
    ws.write_table(table, data, schema=schema, lineage=lineage, append=append, expected_version=expected)
    return data.num_rows


def insert_into_workspace(ws: Workspace, table: str, data: pa.Table) -> int:
    """``INSERT`` in an offline mode, as OpenMLDB's offline ``InsertOfflineData`` job: a new workspace version of the
    table holding the previous version's rows then ``data`` (the table's schema). Returns the rows inserted."""
    previous = ws.table_info(table) if ws.exists(table) else None
    if previous is not None and not previous.schema.equals(data.schema, check_metadata=False):
        raise DataError(
            f"cannot insert into the offline data of table {table!r}: its version {previous.version} has columns "
            f"{_describe_schema(previous.schema)}, the table has {_describe_schema(data.schema)}; replace it with "
            "LOAD DATA ... OPTIONS(mode='overwrite')"
        )
    lineage = {
        LINEAGE_KEY: {
            "task": "insert",
            "base_version": previous.version if previous is not None else None,
            "openfeat_version": openfeat_core.__version__,
        }
    }
    # As a LOAD DATA append: shares the latest version's files and re-bases onto a concurrent writer's commit.
    append = previous is not None
    ws.write_table(
        table, data, schema=data.schema, lineage=lineage, append=append, expected_version=None if append else 0
    )
    return data.num_rows


def _describe_schema(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} {sql_type_of_arrow(f.type).openmldb_name}" for f in schema)


# ------------------------------------------------------------------ SELECT
def workspace_tables(ws: Workspace, needed: Collection[str]) -> dict[str, pa.Table]:
    """The latest workspace version of each table in ``needed`` (a DataError names those without offline data)."""
    versions = {v.table: v for v in ws.list_tables()}
    missing = [name for name in needed if name not in versions]
    if missing:
        raise DataError(
            f"table(s) {', '.join(map(repr, missing))} have no offline data in workspace {ws.uri}: load them with "
            "LOAD DATA in an offline mode first"
        )
    return {name: ws.read_table(name, versions[name].version) for name in needed}


def workspace_schemas(ws: Workspace) -> dict[str, pa.Schema]:
    """The schema of the latest version of every workspace table (e.g. written by ``openfeat ingest``)."""
    return {v.table: v.schema for v in ws.list_tables()}


@dataclass(frozen=True)
class OutfileSpec:
    """Where and how ``INTO OUTFILE`` writes, resolved before the query runs."""

    filesystem: pafs.FileSystem
    path: str
    shown: str
    single_file: bool
    file_format: Literal["csv", "parquet"]
    mode: WriteMode
    header: bool
    delimiter: str
    null_value: str
    quote: str
    online: bool = False


def resolve_outfile(
    node: Outfile, access: FileAccess, *, online: bool = False, workdir: str | None = None
) -> OutfileSpec:
    """The target of ``INTO OUTFILE``, checked against ``access`` and ``mode`` before the query runs.

    ``online``: the query ran in online mode, where OpenMLDB's SDK writes the result set itself (not a Spark job):
    then a CSV file's timestamps are epoch milliseconds and its floats have six decimals (where that is exact), a
    field is not quoted unless ``quote`` is given, ``append`` with ``header=true`` writes the header again, and the
    file's directory must exist. ``workdir``: where a relative path is (see :func:`located`)."""
    path = located(node.args["path"], workdir)
    options = options_of(node)
    _check_options(options, _OUTFILE_OPTIONS, "INTO OUTFILE")
    file_format = _file_format(options)
    mode = _write_mode(options, "error_if_exists")
    _option_positive_int(options, "coalesce")  # how many part files Spark writes; here always one
    header = _option_bool(options, "header", True)  # every option is checked before the path is looked at
    delimiter = _option_text(options, "delimiter", ",")
    null_value = _option_text(options, "null_value", "null")
    quote = _option_text(options, "quote", "" if online else '"')
    access.check_write(path)  # before the path is even looked at: nothing is learnt of a refused location
    target = resolve(path)
    fs, inner, prefix = target.filesystem, target.path, target.prefix
    kind = fs.get_file_info(inner).type
    single = kind == pafs.FileType.File or (
        kind == pafs.FileType.NotFound and not path.endswith("/") and inner.lower().endswith(_FILE_EXTENSIONS)
    )
    shown = prefix + inner
    if mode == "error_if_exists" and kind != pafs.FileType.NotFound:
        raise DataError(f"{shown} already exists (mode='error_if_exists'); use mode='overwrite' or mode='append'")
    if mode == "overwrite" and kind == pafs.FileType.Directory:
        access.check_replace_directory(path, fs, inner)  # publishing deletes the directory it replaces
    parent = inner.rpartition("/")[0]
    if online and single and target.is_local and parent and fs.get_file_info(parent).type != pafs.FileType.Directory:
        raise DataError(f"cannot write {shown}: its directory {prefix + parent} does not exist")
    return OutfileSpec(
        fs,
        inner,
        shown,
        single,
        file_format,
        mode,
        header,
        delimiter,
        null_value,
        quote,
        online,
    )


def write_outfile(table: pa.Table, out: OutfileSpec) -> int:
    """Write ``table`` as ``out`` says, atomically; returns the rows written."""

    def write(dest: str, mode: WriteMode) -> None:
        if out.file_format == "csv":
            export_csv(
                table,
                dest,
                delimiter=out.delimiter,
                header=out.header,
                null_value=out.null_value,
                quote=out.quote,
                mode=mode,
                timestamp_format="epoch_ms" if out.online else "iso",
                fixed_floats=out.online,
                repeat_header=out.online,
                filesystem=out.filesystem,
            )
        else:
            export_parquet(table, dest, mode=mode, filesystem=out.filesystem)

    if out.single_file:
        write(out.path, out.mode)
        return table.num_rows
    # A directory of part files, as OpenMLDB's offline jobs write: built aside, then published whole (locally one
    # rename; on object stores file by file). append adds a uniquely named part next to the existing ones.
    parent, _, name = out.path.rpartition("/")
    temp = f"{parent}/{TEMP_PREFIX}{uuid.uuid4().hex}-{name}"
    try:
        write(f"{temp}/part-00000-{uuid.uuid4().hex}.{out.file_format}", "overwrite")
        publish_directory(out.filesystem, temp, out.path, out.mode)
    except BaseException:
        if out.filesystem.get_file_info(temp).type != pafs.FileType.NotFound:
            out.filesystem.delete_dir(temp)
        raise
    return table.num_rows


def require_workspace(workspace: Workspace | None, what: str, mode: str) -> Workspace:
    """The workspace an offline statement needs; an error saying how to give one when there is none."""
    if workspace is None:
        raise OpenFeatError(
            f"{what} in offline mode ({mode}) needs the offline storage, a workspace: start the service "
            "with --workspace DIR|URI (create_app(..., workspace=...)), or run the statement in online mode"
        )
    return workspace
