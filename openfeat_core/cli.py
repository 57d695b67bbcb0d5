"""The ``openfeat`` command line: the contract that Kubeflow containers and DolphinScheduler shell tasks call.

Commands (``openfeat COMMAND --help`` shows each one's options and an example):

* pipeline tasks (each one call of :mod:`openfeat_core.tasks`; ``--json`` prints exactly the task's result dict):
  ``ingest`` (source files → workspace table), ``compute`` (feature SQL over workspace tables → table), ``export``
  (table → CSV / Parquet / LIBSVM), ``deploy`` (script → online store or service), ``verify`` (online = offline?),
  ``ingest-stream`` (Kafka topics → online-store tables, exactly once), ``monitor`` (served features drifted from
  the training set's? retrain?);
* ``tables`` (a workspace's tables), ``gc`` (its abandoned writes), ``deployments``, ``serve``, ``store-repair``
  (a durable store that fails to open as corrupt), ``explain``, ``version``.

What follows is stable: scripts may rely on it.

Exit codes:

* ``0``: success.
* ``1``: the job failed for good: a data error (bad rows, a missing table or file), a ``verify`` that found
  online/offline mismatches, a damaged store, or an error OpenFeat does not classify (a bug).
* ``2``: usage error: bad arguments or options, bad SQL, a bad ``--schema``, or a request the service refused as
  given (HTTP 4xx: bad SQL, unknown deployment, missing or wrong token; not 408, 409, 425, 429, which may pass).
* ``75`` (``EX_TEMPFAIL``): the job failed transiently and the same command may succeed when run again: another
  writer committed the table first, a service that cannot be reached or fails (HTTP 5xx, 408, 425, 429, a 409
  conflict), a store locked by another process. Retry these (and only these).

Both derive from the one classification of errors in :mod:`openfeat_core.errors` (``exit_code``).

Output: results go to stdout. With ``--json`` a command prints exactly one JSON document on stdout (strict JSON:
non-finite floats are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``) and nothing else; when a
command fails, stdout is empty, except that ``verify`` prints its report before it exits 1 on mismatches. Errors
are one line on stderr, ``error: <what is wrong and where>``; the Python traceback is shown only with ``--debug`` or
``OPENFEAT_DEBUG=1``.

Environment: ``OPENFEAT_WORKSPACE`` is the default ``--workspace`` (else ``./openfeat-workspace``);
``OPENFEAT_TOKEN`` is the bearer token of ``serve`` and of the commands that call a service (else
``--token-file PATH`` or ``OPENFEAT_TOKEN_FILE``; the token itself is never an option, as ``ps`` shows options);
``OPENFEAT_PARENT_RUN_ID`` is the pipeline run the tasks report to their hooks; ``OPENFEAT_DEBUG=1`` is ``--debug``.
Every ``s3://`` name (workspace, sources, destination) reads the standard ``AWS_*`` variables; ``--storage-option
KEY=VALUE`` (the workspace commands) overrides them.

Adding a command: decorate it with :func:`command` (not ``app.command``) so that its errors map to the exit codes
above, take the shared options (``JsonOption``, ``UrlOption``, ``TokenOption``...) and print with :func:`emit`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import re
import secrets
import signal
import stat
import sys
import tempfile
import threading
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import pyarrow as pa
import typer

import openfeat_core
from openfeat_core import tasks
from openfeat_core.choices import (
    ExportFormat,
    ExtraColumns,
    OnError,
    SourceFormat,
    TimestampFormat,
    TimestampUnit,
    WriteMode,
)
from openfeat_core.errors import EXIT_FAILED, EXIT_OK, EXIT_TRANSIENT, EXIT_USAGE, Failure, OpenFeatError, exit_code
from openfeat_core.io import CsvOptions
from openfeat_core.monitoring.stats import PSI_SHIFT
from openfeat_core.online.wal import LogLockedError, RepairReport, repair
from openfeat_core.sql.dialect import interval_ms
from openfeat_core.streaming.formats import MESSAGE_FORMATS
from openfeat_core.tasks.base import InvalidRequest, split_deploy
from openfeat_core.tasks.client import (
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    ServiceClient,
    ServiceError,
    ServiceUnreachable,
    find_token,
)
from openfeat_core.tasks.online import DeploymentTarget, ServiceDeployments, StoreDeployments
from openfeat_core.types import parse_schema
from openfeat_core.workspace import TableVersion, Workspace

if TYPE_CHECKING:
    import uvicorn

# The HTTP client and its errors live in the task package; they stay importable from here.
__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_TRANSIENT",
    "EXIT_USAGE",
    "ServiceClient",
    "ServiceError",
    "ServiceUnreachable",
    "app",
    "main",
]

_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")

_F = TypeVar("_F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------------------------------------------------
# Errors and exit codes
# ---------------------------------------------------------------------------------------------------------------------


class UsageError(InvalidRequest):
    """The command line is wrong (an argument, an option, a file it names): exit code 2."""

    failure = Failure.USAGE


def exit_code_of(error: BaseException) -> int:
    """The exit code of the contract for an error that ended a command: :func:`openfeat_core.errors.exit_code`
    (2 for a usage error, else 1; the one classification in :mod:`openfeat_core.errors`)."""
    return exit_code(error)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@dataclass
class _Settings:
    """The root options of the current invocation (set by the root callback, which runs before every command)."""

    debug: bool = False


_settings = _Settings()


def _fail(error: BaseException, message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the ``typer.Exit`` of ``error``'s exit code."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    return typer.Exit(exit_code_of(error))


def command(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """Register a command on :data:`app` (arguments as ``app.command``) with the contract's error handling.

    An :class:`OpenFeatError` becomes a one-line ``error: ...`` on stderr and its exit code (:func:`exit_code_of`);
    an ``OSError`` exits 1; any other exception is a bug: a one-line ``internal error`` and exit 1. With ``--debug``
    (or ``OPENFEAT_DEBUG=1``) every error propagates with its traceback instead.
    """

    def register(fn: _F) -> _F:
        @functools.wraps(fn)
        def run(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                return fn(*call_args, **call_kwargs)
            except (typer.Exit, typer.Abort, typer.BadParameter):  # the CLI framework's own flow
                raise
            except Exception as e:
                if _settings.debug:
                    raise
                if isinstance(e, (OpenFeatError, OSError)):
                    raise _fail(e, str(e)) from None
                raise _fail(
                    e, f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)"
                ) from None

        app.command(*args, **kwargs)(run)
        return fn

    return register


# ---------------------------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------------------------


def _strict_json(value: Any) -> Any:
    """``value`` with non-finite floats as strings (JSON has no NaN or Infinity) and tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def emit(result: Any, *, as_json: bool, text: Callable[[], str]) -> None:
    """Print a command's result: exactly one JSON document with ``--json``, else ``text()`` for people.

    Args:
        result: the JSON-able result (also what ``text`` renders).
        as_json: the command's ``--json`` flag.
        text: renders the human-readable output; only called without ``--json``.
    """
    if as_json:
        typer.echo(json.dumps(_strict_json(result), ensure_ascii=False, allow_nan=False))
    else:
        typer.echo(text())


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Collection[int] = ()) -> str:
    """A plain text table: columns padded to their widest cell; numbers and the columns in ``right`` right-aligned."""
    cells = [[str(c) for c in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    aligned_right = [
        i in right or (bool(rows) and all(isinstance(row[i], (int, float)) for row in rows))
        for i in range(len(headers))
    ]
    lines = []
    for r in cells:
        padded = [c.rjust(w) if ar else c.ljust(w) for c, w, ar in zip(r, widths, aligned_right, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# ---------------------------------------------------------------------------------------------------------------------
# Shared options
# ---------------------------------------------------------------------------------------------------------------------

JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout instead of text.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", metavar="URL", help="Base URL of a running OpenFeat service, e.g. http://127.0.0.1:9080."),
]
RequiredUrlOption = Annotated[
    str,
    typer.Option("--url", metavar="URL", help="Base URL of a running OpenFeat service, e.g. http://127.0.0.1:9080."),
]
StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="PATH",
        help="Directory of a durable online store, opened in process (not while a service has it open).",
    ),
]


def _token_from_file_option(token_file: str | None) -> str | None:
    """``--token-file``'s callback: the token itself, read from the file, else found in the environment."""
    try:
        return find_token(token_file)
    except InvalidRequest as e:
        raise typer.BadParameter(str(e)) from None


# The token is never an option's value: every local user can read command lines (ps).
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token-file",
        metavar="PATH",
        callback=_token_from_file_option,
        help=f"File holding the service's bearer token (sent as 'Authorization: Bearer TOKEN'). Without it: "
        f"${TOKEN_ENV}, else the file ${TOKEN_FILE_ENV} names.",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=0.001, metavar="SECONDS", help="How long to wait for each answer of the service."),
]
#: The workspace of the pipeline commands when neither --workspace nor OPENFEAT_WORKSPACE is given.
DEFAULT_WORKSPACE = "./openfeat-workspace"
WorkspaceOption = Annotated[
    str,
    typer.Option(
        "--workspace",
        "-w",
        envvar="OPENFEAT_WORKSPACE",
        show_envvar=True,
        metavar="DIR|URI",
        help="The workspace: a directory, or an object-store URI such as s3://bucket/prefix (AWS_* variables).",
    ),
]
StorageOptionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--storage-option",
        metavar="KEY=VALUE",
        help="An object-store setting for every s3:// name of the command (workspace, sources, destination): "
        "endpoint_url=http://127.0.0.1:9000, region=eu-west-3, scheme=http...; repeat. Overrides the AWS_* "
        "variables (keep credentials in those: a command line is visible to other users).",
    ),
]
SqlFileArgument = Annotated[
    str,
    typer.Argument(
        metavar="SQL_FILE_OR_-", help="File holding a SELECT or a 'DEPLOY name SELECT ...' statement; - for stdin."
    ),
]
LoadOption = Annotated[
    list[str] | None,
    typer.Option(
        "--load",
        metavar="TABLE[=VERSION]",
        help="Load this workspace table (latest version unless given) into the store; repeat per table. An empty "
        "online table is filled (after the deploy); one that already holds that many rows is left as it is.",
    ),
]


def _open_durable_store(path: Path) -> openfeat_core.OnlineStore:
    """Open an existing durable store directory (never create one by accident)."""
    if not path.is_dir():
        raise UsageError(f"--store {str(path)!r}: no such directory (a store is created by 'openfeat serve --store')")
    try:
        return openfeat_core.OnlineStore(path)
    except LogLockedError:
        raise OpenFeatError(
            f"--store {str(path)!r} is open in another process (a running service?); use --url to reach that service"
        ) from None


@contextmanager
def deployment_target(
    url: str | None, store: Path | None, token: str | None, timeout: float
) -> Iterator[DeploymentTarget]:
    """The target of ``--url`` or ``--store`` (exactly one must be given); an opened store is closed after."""
    if (url is None) == (store is None):
        raise UsageError("give exactly one of --url URL (a running service) or --store PATH (a durable store)")
    if url is not None:
        yield ServiceDeployments(ServiceClient(url, token, timeout))
        return
    assert store is not None
    opened = _open_durable_store(store)
    try:
        yield StoreDeployments(opened)
    finally:
        opened.close()


def parse_storage_options(values: Sequence[str] | None) -> dict[str, str] | None:
    """``--storage-option KEY=VALUE`` values as storage options (None when there are none).

    Raises:
        UsageError: a value without ``=`` or with an empty key, or a key given twice.
    """
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--storage-option {value!r}: expected KEY=VALUE (endpoint_url=http://host:9000)")
        if key in out:
            raise UsageError(f"--storage-option: {key!r} is given twice")
        out[key] = setting
    return out


def parse_table_versions(values: Sequence[str], option: str) -> dict[str, int | None]:
    """``TABLE[=VERSION]`` option values as ``{table: version or None}``.

    Raises:
        UsageError: a malformed value, a version that is not a positive integer, or a table given twice.
    """
    out: dict[str, int | None] = {}
    for value in values:
        name, sep, number = value.partition("=")
        name = name.strip()
        if not name or (sep and not number.strip().isdigit()) or (sep and int(number) < 1):
            raise UsageError(f"{option} {value!r}: expected TABLE or TABLE=VERSION (a version number from 1)")
        if name in out:
            raise UsageError(f"{option}: table {name!r} is given twice")
        out[name] = int(number) if sep else None
    return out


@contextmanager
def _embedded(store: Path | None) -> Iterator[None]:
    """Release the durable store a task opened in this process once the command is done (the lock goes with it)."""
    try:
        yield
    finally:
        if store is not None:
            tasks.close_embedded_store(store)


def _check_timezone(timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {timezone!r} is not an IANA time zone (e.g. UTC, Asia/Shanghai)") from None


def _seconds(seconds: float) -> str:
    return f"{seconds:.2f} s"


# ---------------------------------------------------------------------------------------------------------------------
# SQL input
# ---------------------------------------------------------------------------------------------------------------------


def read_sql(source: str) -> str:
    """The text of a SQL file, or of stdin for ``-``.

    Raises:
        UsageError: the file cannot be read or holds no SQL.
    """
    if source == "-":
        text = sys.stdin.read()
        where = "stdin"
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read SQL file {source!r}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise UsageError(f"SQL file {source!r} is not UTF-8: {e}") from None
        where = repr(source)
    if not text.strip():
        raise UsageError(f"no SQL in {where}")
    return text


def parse_table_schema(text: str) -> tuple[str, pa.Schema]:
    """A ``--schema`` value, ``table=col type, col type...``.

    Raises:
        UsageError: not ``name=columns``, a bad table name, or a bad column list (the message names the column).
    """
    name, sep, columns = text.partition("=")
    name = name.strip()
    if not sep or not _NAME_RE.match(name):
        raise UsageError(f"--schema {text!r}: expected TABLE=COLUMNS, e.g. 'tx=card bigint, ts timestamp'")
    try:
        return name, parse_schema(columns)
    except ValueError as e:
        raise UsageError(f"--schema {text!r}: {e}") from None


# ---------------------------------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------------------------------

app = typer.Typer(
    name="openfeat",
    help="""OpenFeat: OpenMLDB feature SQL, computed offline and served online with one engine.

\b
A pipeline: ingest files into a workspace, compute features, export a training set, deploy the
same SQL online, verify that online = offline. Each of these commands is one idempotent task:
running it again with the same inputs changes nothing and reports the same version.

\b
Exit codes (stable; scripts and orchestrators rely on them):
  0  success
  1  the job failed: runtime or data error, service unreachable or failing (HTTP 5xx),
     verify found online/offline mismatches
  2  usage error: bad arguments, bad SQL, bad --schema, request refused by the service (HTTP 4xx)

With --json a command prints exactly one JSON document on stdout. Errors are one line on stderr ("error: ..."),
without traceback unless --debug or OPENFEAT_DEBUG=1. OPENFEAT_TOKEN (or the file OPENFEAT_TOKEN_FILE names)
is the service token when --token-file is not given, OPENFEAT_WORKSPACE the default of every --workspace (else
./openfeat-workspace).
""",
    epilog="\b\nExample:\n"
    "  openfeat ingest flights.csv --table flights --schema 'id bigint, ts timestamp, delay double'\n"
    "  openfeat compute features.sql --output feats\n"
    "  openfeat export feats --format libsvm --label delayed --skip-null-labels --path train.libsvm\n"
    "  openfeat deploy delays features.sql --store ./store --create-store --load flights\n"
    "  openfeat serve --store ./store --port 9080 --log-requests 0.01\n"
    "  openfeat verify delays --url http://127.0.0.1:9080 --json",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_text() -> str:
    return f"openfeat {openfeat_core.__version__}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(_version_text())
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the OpenFeat version and exit."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="OPENFEAT_DEBUG", help="Show the Python traceback of an error (env OPENFEAT_DEBUG=1)."
        ),
    ] = False,
    track: Annotated[
        bool | None,
        typer.Option(
            "--track/--no-track",
            help="Record the task runs in MLflow (openfeat[mlflow]) or not. Default: on when MLFLOW_TRACKING_URI "
            "is set (env OPENFEAT_TRACK=1/0).",
            show_default=False,
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="MLflow experiment of the runs (env OPENFEAT_MLFLOW_EXPERIMENT)."),
    ] = None,
) -> None:
    """Options that apply to every command."""
    _settings.debug = debug
    # Tracking hooks read the environment, so the core never imports them (see openfeat_core.tasks.hooks).
    if track is not None:
        os.environ["OPENFEAT_TRACK"] = "1" if track else "0"
    if experiment:
        os.environ["OPENFEAT_MLFLOW_EXPERIMENT"] = experiment


def _example(*lines: str) -> str:
    """A help epilog listing example command lines (``\\b`` keeps click from re-wrapping them)."""
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)


# ------------------------------------------------------------------ version
@command(epilog=_example("openfeat version --json"))
def version(as_json: JsonOption = False) -> None:
    """Print the version of OpenFeat, with the Python and pyarrow versions it runs on."""
    info = {"openfeat": openfeat_core.__version__, "python": platform.python_version(), "pyarrow": pa.__version__}
    emit(info, as_json=as_json, text=lambda: f"{_version_text()} (python {info['python']}, pyarrow {info['pyarrow']})")


# ------------------------------------------------------------------ ingest
@command(
    epilog=_example(
        "openfeat ingest data.csv --table tx --workspace ./ws --schema 'uid bigint, ts timestamp, amount double'",
        "openfeat ingest 'landing/2024-05-*.csv' --table tx --mode append --on-error skip --json",
        "OPENFEAT_WORKSPACE=s3://bucket/ws openfeat ingest s3://bucket/raw/planes.parquet --table planes",
    )
)
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(metavar="SOURCE...", help="Files, globs, directories or URIs (s3://...) to load, as one load."),
    ],
    table: Annotated[str, typer.Option("--table", "-t", metavar="TABLE", help="The workspace table to write.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="COLUMNS",
            help="Declared columns, 'name type, ...' (OpenMLDB types); inferred from the data when absent.",
        ),
    ] = None,
    source_format: Annotated[
        SourceFormat | None, typer.Option("--format", help="Source format (default: from the file extension).")
    ] = None,
    on_error: Annotated[
        OnError,
        typer.Option(
            "--on-error",
            help="fail: a bad row rejects the whole load (nothing is written, exit 1); skip: load the good rows and "
            "write the bad ones to the version's side file rejected.csv.",
        ),
    ] = "fail",
    mode: Annotated[
        WriteMode,
        typer.Option(
            "--mode",
            help="error_if_exists: refuse if the table exists; overwrite: the new version holds this load only; "
            "append: the new version holds the current rows, then this load.",
        ),
    ] = "error_if_exists",
    timezone: Annotated[
        str, typer.Option(metavar="ZONE", help="IANA time zone of timestamps written without an offset.")
    ] = "UTC",
    timestamp_unit: Annotated[
        TimestampUnit,
        typer.Option(
            "--timestamp-unit",
            help="Unit of epoch numbers in TIMESTAMP columns (ms, as HTTP requests and INSERT; s for files that "
            "store seconds). Never guessed from the magnitude.",
        ),
    ] = "ms",
    extra_columns: Annotated[
        ExtraColumns,
        typer.Option(
            "--extra-columns",
            help="error: a source column --schema does not declare fails the load, naming it; ignore: drop it.",
        ),
    ] = "error",
    delimiter: Annotated[
        str | None, typer.Option(metavar="CHAR", help="CSV field separator (default ',', tab for .tsv).")
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="CSV files have no header line (columns in --schema order).")
    ] = False,
    quote: Annotated[str, typer.Option(metavar="CHAR", help="CSV quote character ('' for none).")] = '"',
    null_values: Annotated[
        list[str] | None,
        typer.Option("--null-value", metavar="TEXT", help="CSV text read as NULL; repeat (default: '', null, NULL)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load files into a new version of a workspace table (streamed, committed atomically, idempotent).

    Running the same load again (same files, schema and options) while it is still the table's latest version
    changes nothing and prints the existing version ("reused": true). Bad rows (a value that does not fit its
    column, a malformed line) are reported by file, line, column and value. With --json the ingest task's result:
    {"workspace", "table", "version", "rows", "rows_loaded", "bad_rows", "rejected_uri", "files", "reused", ...}.
    """
    if schema is not None:
        try:
            parse_schema(schema)
        except ValueError as e:
            raise UsageError(f"--schema {schema!r}: {e}") from None
    _check_timezone(timezone)
    try:
        csv = CsvOptions(
            delimiter=delimiter,
            header=not no_header,
            quote=quote,
            null_values=tuple(null_values) if null_values is not None else CsvOptions().null_values,
        )
    except OpenFeatError as e:
        raise UsageError(str(e)) from None
    result = tasks.ingest(
        tasks.IngestRequest(
            sources[0] if len(sources) == 1 else sources,
            table,
            workspace,
            schema=schema,
            format=source_format,
            on_error=on_error,
            timezone=timezone,
            # The default dialect is the request's default (None), as the other adapters pass it: the load's
            # digest, and so its reuse on a retry, does not depend on which adapter ran it.
            csv=None if csv == CsvOptions() else csv,
            mode=mode,
            timestamp_unit=timestamp_unit,
            extra_columns=extra_columns,
            storage_options=parse_storage_options(storage_options),
        )
    )

    def text() -> str:
        files = f"{result.file_count} file{'s' if result.file_count != 1 else ''}"
        if result.reused:
            line = f"unchanged: {result.table} version {result.version} already holds this load ({result.rows:,} rows)"
        else:
            line = (
                f"ingested {result.rows_loaded:,} rows from {files} into {result.table} version {result.version} "
                f"({result.rows:,} rows) in {_seconds(result.seconds)}"
            )
        lines = [line, f"schema: {result.schema}"]
        if result.rejected_uri is not None:
            rows = f"{result.bad_rows:,} bad row{'s' if result.bad_rows != 1 else ''}"
            lines.append(f"{rows} skipped; report: {result.rejected_uri}")
        return "\n".join(lines)

    emit(result.to_dict(), as_json=as_json, text=text)


# ------------------------------------------------------------------ compute
@command(
    epilog=_example(
        "openfeat compute features.sql --workspace ./ws --output feats",
        "openfeat compute features.sql --output feats --input tx=3 --timezone Asia/Shanghai --json",
    )
)
def compute(
    sql_file: SqlFileArgument,
    output: Annotated[str, typer.Option("--output", "-o", metavar="TABLE", help="The workspace table to write.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            metavar="TABLE=VERSION",
            help="Read this version of a table the SQL reads (default: latest); repeat per table.",
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option(metavar="ZONE", help="IANA time zone of calendar functions (hour, dayofweek...).")
    ] = "UTC",
    engine: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Backend that computes: local or spark (pip install 'openfeat[spark]'); default $OPENFEAT_BACKEND, "
            "else local. Same result row for row.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute a feature script over workspace tables into a new version of an output table.

    The tables the SQL reads are the workspace's (latest versions unless pinned with --input). The output version
    records the SQL, the plan digest and the input versions; computing the same plan over the same input versions
    again prints the existing version ("reused": true). With --json the compute task's result: {"workspace",
    "table", "version", "rows", "plan_digest", "inputs", "reused", ...}.
    """
    _check_timezone(timezone)
    pinned = parse_table_versions(inputs or [], "--input")
    if any(v is None for v in pinned.values()):
        raise UsageError("--input takes TABLE=VERSION (a table not listed is read at its latest version)")
    result = tasks.compute(
        tasks.ComputeRequest(
            read_sql(sql_file),
            output,
            workspace,
            inputs=pinned,
            timezone=timezone,
            storage_options=parse_storage_options(storage_options),
            engine=engine,
        )
    )

    def text() -> str:
        read = ", ".join(f"{name} v{version}" for name, version in result.inputs.items())
        if result.reused:
            head = f"unchanged: {result.table} version {result.version} was computed from the same plan and inputs"
        else:
            head = f"computed {result.table} version {result.version} in {_seconds(result.seconds)}"
        return "\n".join(
            [
                head,
                f"{result.rows:,} rows from {read}; plan {result.plan_digest[:16]}",
                f"schema: {result.schema}",
            ]
        )

    emit(result.to_dict(), as_json=as_json, text=text)


# ------------------------------------------------------------------ export
@command(
    epilog=_example(
        "openfeat export feats --workspace ./ws --format libsvm --label y --path out.libsvm",
        "openfeat export feats --path s3://bucket/train.csv --delimiter ';' --null-value null --json",
        "openfeat export feats --format parquet --path out/feats --partition-by day",
    )
)
def export(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="The workspace table to export.")],
    path: Annotated[str, typer.Option("--path", "-o", metavar="PATH|URI", help="Destination file (or URI).")],
    export_format: Annotated[
        ExportFormat | None,
        typer.Option("--format", help="Output format (default: from the extension of --path)."),
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, metavar="N", help="Table version (default: latest).")
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--column", metavar="NAME", help="Columns to write, in order (csv, parquet, lines); repeat."),
    ] = None,
    mode: Annotated[
        WriteMode, typer.Option("--mode", help="What to do when --path exists (a retry never writes twice).")
    ] = "overwrite",
    label: Annotated[str | None, typer.Option(metavar="COLUMN", help="LIBSVM label column.")] = None,
    features: Annotated[
        list[str] | None,
        typer.Option("--feature", metavar="COLUMN", help="LIBSVM feature columns in slot order; repeat (default all)."),
    ] = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", metavar="COLUMN", help="LIBSVM: hash this integer column as discrete; repeat."),
    ] = None,
    buckets: Annotated[
        int, typer.Option(min=1, metavar="N", help="LIBSVM slots per discrete (string, bool, time) feature.")
    ] = 1 << 20,
    skip_null_labels: Annotated[
        bool, typer.Option("--skip-null-labels", help="LIBSVM: leave out rows whose label is NULL (else exit 1).")
    ] = False,
    delimiter: Annotated[str, typer.Option(metavar="TEXT", help="CSV field separator.")] = ",",
    no_header: Annotated[bool, typer.Option("--no-header", help="CSV: no header line.")] = False,
    null_value: Annotated[str, typer.Option("--null-value", metavar="TEXT", help="CSV text of NULL.")] = "",
    quote: Annotated[str, typer.Option(metavar="CHAR", help="CSV quote character ('' never quotes).")] = '"',
    timestamp_format: Annotated[
        TimestampFormat, typer.Option("--timestamp-format", help="CSV timestamps: ISO-8601 UTC or epoch ms.")
    ] = "iso",
    partition_by: Annotated[
        list[str] | None,
        typer.Option("--partition-by", metavar="COLUMN", help="Parquet: a Hive-partitioned directory; repeat."),
    ] = None,
    compression: Annotated[
        str, typer.Option("--compression", metavar="CODEC", help="Parquet codec (snappy, zstd, gzip, none...).")
    ] = "snappy",
    as_json: JsonOption = False,
) -> None:
    """Write a workspace table to CSV, Parquet, LIBSVM (with a feature map) or lines, atomically.

    The file appears complete or not at all. An export already done (same table version, destination and options,
    files still there) is not written again ("reused": true). With --json the export task's result: {"table",
    "version", "path", "format", "rows", "bytes", "files", "feature_map", "reused", ...}.
    """
    result = tasks.export(
        tasks.ExportRequest(
            table,
            workspace,
            path,
            format=export_format,
            version=version,
            columns=columns,
            mode=mode,
            delimiter=delimiter,
            header=not no_header,
            null_value=null_value,
            quote=quote,
            timestamp_format=timestamp_format,
            partition_by=partition_by,
            compression=compression,
            label=label,
            features=features,
            categorical=categorical or (),
            buckets=buckets,
            on_null_label="skip" if skip_null_labels else "fail",
            storage_options=parse_storage_options(storage_options),
        )
    )

    def text() -> str:
        what = "unchanged (already exported):" if result.reused else "exported"
        lines = [
            f"{what} {result.table} version {result.version} to {result.path} ({result.format}): "
            f"{result.rows:,} rows, {result.bytes:,} bytes"
        ]
        if result.skipped_rows:
            lines.append(f"{result.skipped_rows:,} rows with a NULL label left out")
        if result.feature_map:
            lines.append(f"feature map: {result.feature_map}")
        return "\n".join(lines)

    emit(result.to_dict(), as_json=as_json, text=text)


# ------------------------------------------------------------------ tables
@command(epilog=_example("openfeat tables --workspace ./ws", "openfeat tables feats --json"))
def tables(
    name: Annotated[
        str | None, typer.Argument(metavar="[TABLE]", help="List this table's versions instead of every table.")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a workspace's tables (latest versions), or every version of one table.

    With --json: {"workspace", "tables": [...]} or {"workspace", "table", "versions": [...]}, each entry a table
    version as the workspace records it (rows, bytes, created_at, schema, digest, lineage, data_uris...).
    """
    ws = Workspace.open(workspace, parse_storage_options(storage_options))
    listed = ws.list_tables() if name is None else ws.versions(name)
    entries = [v.to_dict() for v in listed]
    result = (
        {"workspace": ws.uri, "tables": entries}
        if name is None
        else {
            "workspace": ws.uri,
            "table": name,
            "versions": entries,
        }
    )

    def text() -> str:
        if not listed:
            return f"no tables in {ws.uri}"
        return format_table(
            ["TABLE", "VERSION", "ROWS", "BYTES", "CREATED", "BY"],
            [
                [v.table, v.version, v.num_rows, v.num_bytes, v.created_at.strftime("%Y-%m-%d %H:%M:%S"), _by(v)]
                for v in listed
            ],
        )

    emit(result, as_json=as_json, text=text)


def _by(version: TableVersion) -> str:
    """What wrote a table version: the task recorded in its lineage, else ``-``."""
    record = version.lineage.get("openfeat")
    return str(record.get("task", "-")) if isinstance(record, dict) else "-"


# ------------------------------------------------------------------ gc
@command(
    epilog=_example(
        "openfeat gc --workspace ./ws --dry-run",
        "openfeat gc tx feats --workspace s3://bucket/ws --grace 2d --json",
    )
)
def gc(
    names: Annotated[
        list[str] | None, typer.Argument(metavar="TABLE", help="Collect only these tables (default: every table).")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            metavar="DURATION",
            help="Only delete writes idle for this long (24h, 30m, 90s, 2d; a bare number is seconds): a younger "
            "one may be a writer still running.",
        ),
    ] = "24h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete the data that killed or failed writers left in a workspace (never a committed version's files).

    A task killed between writing its rows and committing them leaves an attempt directory no version
    references; ingest and compute delete those of their table after a day. With --json: {"workspace",
    "dry_run", "grace_seconds", "removed": [URIs]}.
    """
    grace_ms = interval_ms(grace, 1000)
    if grace_ms is None:
        raise UsageError(f"--grace {grace!r}: expected a duration such as 24h, 30m, 90s or 2d")
    ws = Workspace.open(workspace, parse_storage_options(storage_options))
    removed = ws.gc(timedelta(milliseconds=grace_ms), dry_run=dry_run, tables=names or None)
    result = {"workspace": ws.uri, "dry_run": dry_run, "grace_seconds": grace_ms // 1000, "removed": removed}

    def text() -> str:
        verb = "would delete" if dry_run else "deleted"
        lines = [f"{verb} {len(removed)} abandoned write{'s' if len(removed) != 1 else ''} in {ws.uri}"]
        return "\n".join([*lines, *(f"  {uri}" for uri in removed)])

    emit(result, as_json=as_json, text=text)


# ------------------------------------------------------------------ serve
class LogLevel(str, Enum):
    """uvicorn's log levels."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


@command(
    epilog=_example(
        "openfeat serve --store /data/openfeat --port 9080 --log-requests 0.01",
        "openfeat serve --store /data/openfeat --host 0.0.0.0 --token-file /etc/openfeat/token --allowed-host "
        "features.internal",
        "openfeat serve --store /data/openfeat --workspace s3://bucket/openfeat --data-root /data/exchange",
    )
)
def serve(
    store: Annotated[
        str,
        typer.Option(
            "--store",
            metavar="PATH|none",
            help="Directory of the durable store (created if missing, recovered if not), or 'none' for a memory "
            "store that loses everything on exit.",
        ),
    ],
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, metavar="PORT", help="Port to listen on.")] = 9080,
    token: TokenOption = None,
    no_token: Annotated[
        bool,
        typer.Option(
            "--no-token",
            help="Serve without a token (local experiments): any program on this machine can call the service. "
            "Loopback hosts only, unless --allow-insecure-remote.",
        ),
    ] = False,
    allow_insecure_remote: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-remote", help="With --no-token, serve on a non-loopback address (trusted networks)."
        ),
    ] = False,
    data_roots: Annotated[
        list[str] | None,
        typer.Option(
            "--data-root",
            metavar="DIR|URI",
            help="A directory (or s3://bucket/prefix) that SQL sent to POST /dbs/{db} may read (LOAD DATA) and "
            "write (SELECT ... INTO OUTFILE); repeat per root. The --workspace is one too. Without any, those "
            "statements are refused (403); never the store's own directory.",
        ),
    ] = None,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="A host name clients use to reach the service (their Host header), besides IP addresses, "
            "localhost and --host; repeat per name; '*' for any. Other names are answered 421 (DNS rebinding).",
        ),
    ] = None,
    allowed_origins: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-origin",
            metavar="ORIGIN",
            help="A web origin (https://app.example.com) whose pages may call the service (CORS); repeat per "
            "origin. Requests from any other origin are answered 403.",
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option(metavar="ZONE", help="IANA time zone of calendar functions in deployed scripts.")
    ] = "UTC",
    log_requests: Annotated[
        float,
        typer.Option(
            "--log-requests",
            min=0.0,
            max=1.0,
            metavar="RATE",
            help="Fraction of feature requests kept, with their answers, for 'openfeat verify' (0: none). They stay "
            "in memory until the service stops: keep the rate small on a busy service.",
        ),
    ] = 0.0,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, metavar="N", help="Larger request bodies are answered 413.")
    ] = 16 << 20,
    log_level: Annotated[LogLevel, typer.Option("--log-level", help="uvicorn's log level.")] = LogLevel.info,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            metavar="DIR|URI",
            help="Workspace used as the offline storage of SQL sent to POST /dbs/{db} in offsync/offasync mode "
            "(LOAD DATA writes table versions, SELECT reads them). Without it those statements are refused.",
        ),
    ] = None,
    max_request_rows: Annotated[
        int,
        typer.Option(
            "--max-request-rows",
            min=1,
            metavar="N",
            help="Feature requests with more rows are answered 413 (a request's rows are computed in one go).",
        ),
    ] = 10_000,
    head_timeout: Annotated[
        float,
        typer.Option(
            "--head-timeout",
            min=0.001,
            metavar="SECONDS",
            help="A request's line and headers must arrive within this time of the connection (or of the previous "
            "response), else the connection is closed (408).",
        ),
    ] = 10.0,
    body_timeout: Annotated[
        float,
        typer.Option(
            "--body-timeout",
            min=0.001,
            metavar="SECONDS",
            help="A request's body must arrive within this time of its headers, else the connection is closed.",
        ),
    ] = 60.0,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            min=1,
            metavar="N",
            help="Open connections beyond N close the oldest one still waiting for a request (a slow or idle "
            "client). Default: the open-file limit (raised to its hard limit) less 64, at most 10,000.",
        ),
    ] = None,
    snapshot_after_bytes: Annotated[
        int,
        typer.Option(
            "--snapshot-after-bytes",
            min=0,
            metavar="N",
            help="Snapshot the store (in the background) once N bytes of log were written since the last snapshot; "
            "0: never by size. Bounds restart time and disk use, and drops the rows the TTLs evicted.",
        ),
    ] = 256 << 20,
    snapshot_after_seconds: Annotated[
        float,
        typer.Option(
            "--snapshot-after-seconds",
            min=0.0,
            metavar="SECONDS",
            help="... or once this long has passed since the last snapshot with at least one write; 0: never by age.",
        ),
    ] = 600.0,
    snapshot_after_entries: Annotated[
        int,
        typer.Option(
            "--snapshot-after-entries",
            min=0,
            metavar="N",
            help="... or once N log entries (inserts, catalog changes) were written since the last snapshot; 0: never "
            "by count. Replay costs mostly per entry for small inserts, which a size limit does not bound.",
        ),
    ] = 100_000,
    ingest_topics: Annotated[
        str | None,
        typer.Option(
            "--ingest-topics",
            metavar="TOPIC[:TABLE],...",
            help="Also consume these Kafka topics into the store while serving, exactly once (as ingest-stream).",
        ),
    ] = None,
    ingest_bootstrap: Annotated[
        str | None, typer.Option("--ingest-bootstrap", metavar="HOST:PORT", help="--ingest-topics: the brokers.")
    ] = None,
    ingest_dead_letters: Annotated[
        Path | None,
        typer.Option("--ingest-dead-letters", metavar="FILE", help="--ingest-topics: JSON-lines file of bad messages."),
    ] = None,
    ingest_dead_letter_topic: Annotated[
        str | None,
        typer.Option(
            "--ingest-dead-letter-topic", metavar="TOPIC", help="--ingest-topics: Kafka topic of bad messages."
        ),
    ] = None,
    ingest_max_bad_ratio: Annotated[
        float,
        typer.Option(
            "--ingest-max-bad-ratio",
            min=0.0,
            max=1.0,
            metavar="R",
            help="--ingest-topics: stop consuming (the service goes on) once more than this share of messages are bad.",
        ),
    ] = 0.1,
    ingest_format: Annotated[
        str, typer.Option("--ingest-format", metavar="json|envelope|auto", help="--ingest-topics: message format.")
    ] = "auto",
    ingest_workspace: Annotated[
        bool,
        typer.Option(
            "--ingest-workspace",
            help="--ingest-topics: also append the rows to the --workspace's tables of the same names, in "
            "micro-batches (as ingest-stream --workspace).",
        ),
    ] = False,
) -> None:
    """Serve an online store over HTTP (OpenMLDB APIServer routes) until SIGINT or SIGTERM.

    POST /dbs/{db} runs OpenMLDB SQL (CREATE TABLE, INSERT, LOAD DATA, DEPLOY, SELECT [INTO OUTFILE]...), as the
    OpenMLDB Airflow provider and DolphinScheduler send it; its files stay inside the --data-root directories.

    Every route but /health needs the bearer token: from --token-file, OPENFEAT_TOKEN or OPENFEAT_TOKEN_FILE, else
    the one in STORE/.token, which is generated (readable by this user only) and printed at the first start; a
    memory store gets a new one in a temporary file. --no-token serves without one (loopback only, unless
    --allow-insecure-remote; exit code 2 otherwise).
    """
    from openfeat_core.io.access import FileAccess
    from openfeat_core.server.service import ConnectionLimits, make_server

    _check_timezone(timezone)
    if no_token and token is not None:
        raise UsageError(
            f"--no-token, but a token is given (--token-file, ${TOKEN_ENV} or ${TOKEN_FILE_ENV}); drop one of them"
        )
    roots = data_roots or []
    try:
        FileAccess.confined(roots)
    except OpenFeatError as e:
        raise UsageError(f"--data-root: {e}") from None
    if (ingest_topics is None) != (ingest_bootstrap is None):
        raise UsageError("--ingest-topics and --ingest-bootstrap go together")
    if ingest_workspace and (ingest_topics is None or workspace is None):
        raise UsageError("--ingest-workspace needs --ingest-topics and the --workspace to append to")
    if ingest_format not in ("json", "envelope", "auto"):
        raise UsageError(f"--ingest-format {ingest_format!r}: expected json, envelope or auto")
    path = None if store == "none" else Path(store)
    opened = openfeat_core.OnlineStore(
        path,
        timezone=timezone,
        snapshot_after_bytes=snapshot_after_bytes or None,
        snapshot_after_seconds=snapshot_after_seconds or None,
        snapshot_after_entries=snapshot_after_entries or None,
    )
    token_file: Path | None = None
    token_is_new = False
    try:
        if token is None and not no_token:
            token, token_file, token_is_new = _store_token(path)
        if log_requests > 0:
            opened.log_requests(log_requests)
        try:
            server = make_server(
                opened,
                host,
                port,
                token,
                allow_insecure_remote,
                max_body_bytes=max_body_bytes,
                log_level=log_level.value,
                workspace=workspace,
                max_request_rows=max_request_rows,
                connections=ConnectionLimits(
                    head_timeout_s=head_timeout, body_timeout_s=body_timeout, max_connections=max_connections
                ),
                data_roots=roots,
                allowed_hosts=allowed_hosts or [],
                allowed_origins=allowed_origins or [],
            )
        except ValueError as e:
            if token is None and not allow_insecure_remote:  # the service's loopback guard
                raise UsageError(
                    f"refusing to serve on non-loopback host {host!r} without a token (--no-token): anyone who can "
                    "reach it could read features and write data. Drop --no-token (a token is generated), or add "
                    "--allow-insecure-remote if the network is trusted"
                ) from None
            raise UsageError(str(e)) from None
        if token_file is not None and token_is_new:
            kept = "deleted at exit" if path is None else "kept for the next starts"
            typer.echo(
                f"openfeat serve: bearer token {token} (in {token_file}, readable by this user only, {kept}; "
                f"clients: {TOKEN_FILE_ENV}={token_file}, or --token-file {token_file})",
                err=True,
            )
        elif token_file is not None:
            typer.echo(f"openfeat serve: bearer token in {token_file} (as before; delete it for a new one)", err=True)
        elif no_token:
            typer.echo(
                "warning: --no-token: any program on this machine that can reach the port can read features, write "
                "data and run SQL (browser pages cannot: Host, Origin and Content-Type are checked)",
                err=True,
            )
        if log_level in (LogLevel.info, LogLevel.debug, LogLevel.trace):
            where = f"[{host}]" if ":" in host else host
            typer.echo(
                f"openfeat {openfeat_core.__version__}: serving {'a memory store' if path is None else str(path)} "
                f"({len(opened.list_tables())} tables, {len(opened.list_deployments())} deployments"
                f"{f'; offline storage: workspace {workspace}' if workspace else ''}"
                f"; data roots: {', '.join(roots) or 'none'}) on http://{where}:{port}",
                err=True,
            )
        ingest = None
        if ingest_topics is not None and ingest_bootstrap is not None:
            ingest = _StreamBeside(
                server,
                opened,
                ingest_bootstrap,
                ingest_topics,
                dead_letters=ingest_dead_letters,
                dead_letter_topic=ingest_dead_letter_topic,
                max_bad_ratio=ingest_max_bad_ratio,
                message_format=ingest_format,
                workspace=Workspace.open(workspace) if ingest_workspace and workspace is not None else None,
            )
        try:
            _run_until_stopped(server, f"{host}:{port}")
        finally:
            if ingest is not None:
                ingest.stop()
    finally:
        opened.close()
        if token_file is not None and path is None:
            token_file.unlink(missing_ok=True)  # a memory store's token dies with it


class _StreamBeside:
    """``serve --ingest-topics``: a consumer thread writing into the served store, under the service's store lock
    (the exactly-once rule is the same: positions in the rows' log frames). It starts now; an error stops it (logged),
    not the service."""

    def __init__(
        self,
        server: uvicorn.Server,
        store: openfeat_core.OnlineStore,
        bootstrap: str,
        topics: str,
        *,
        dead_letters: Path | None,
        dead_letter_topic: str | None,
        max_bad_ratio: float,
        message_format: str,
        workspace: Workspace | None,
    ) -> None:
        from openfeat_core.server.service import FeatureService
        from openfeat_core.streaming import StreamIngester, parse_topics

        service = server.config.app
        assert isinstance(service, FeatureService)
        try:
            routes = parse_topics(topics)
        except OpenFeatError as e:
            raise UsageError(f"--ingest-topics: {e}") from None
        self._ingester = StreamIngester(
            store,
            bootstrap,
            routes,
            message_format=message_format,  # type: ignore[arg-type]
            dead_letter_path=dead_letters,
            dead_letter_topic=dead_letter_topic,
            workspace=workspace,
            max_bad_ratio=max_bad_ratio,
            store_lock=service.store_lock,
            on_batch=service.metrics.stream.on_batch,
            on_lag=service.metrics.stream.lag,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openfeat-ingest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._ingester.run(stop=self._stop)
        except Exception as e:
            typer.echo(f"error: ingest of {self._ingester.bootstrap} stopped: {_one_line(str(e))}", err=True)

    def stop(self) -> None:
        """Stop after the batch under way (before the store is closed)."""
        self._stop.set()
        self._thread.join()


def _store_token(store: Path | None) -> tuple[str, Path, bool]:
    """The service's token, the file that holds it (mode 0600) and whether it was made now.

    A durable store keeps its token in ``store/.token`` across restarts (clients configured with it keep working);
    it is generated once, when the file is absent, and replaced atomically. A memory store gets a new temporary file.

    Raises:
        UsageError: ``store/.token`` exists but is empty, or readable by other users.
    """
    if store is not None:
        target = store / ".token"
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
            if mode & 0o077:
                raise UsageError(
                    f"{target} is readable by other users (mode {mode:o}); chmod 600 it, or delete it for a new token"
                )
            kept = target.read_text(encoding="utf-8").strip()
            if not kept:
                raise UsageError(f"{target} is empty; delete it for a new token")
            return kept, target, False
    token = secrets.token_urlsafe(32)
    if store is None:
        fd, name = tempfile.mkstemp(prefix="openfeat-token-")  # created 0600
        target = Path(name)
    else:
        store.mkdir(parents=True, exist_ok=True)
        name = str(store / f".token.{os.getpid()}.tmp")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover temporary file keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    if store is not None:
        os.replace(name, target)
    return token, target, True


def _run_until_stopped(server: uvicorn.Server, where: str) -> None:
    """Run ``server`` until SIGINT or SIGTERM; a graceful shutdown returns normally (exit code 0).

    Once it has shut down, uvicorn raises the signal that stopped it again, for the handler that was installed
    before it ran. With the default handlers, SIGTERM would kill the process before the store is closed and SIGINT
    would end in ``KeyboardInterrupt`` (exit 1), so handlers that only ask the server to stop stand in for them (they
    also cover a signal that arrives before uvicorn installs its own).

    Raises:
        OpenFeatError: the server could not start (uvicorn has logged why: port in use, permission...).
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can handlers be set
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    try:
        server.run()
    except SystemExit as e:  # uvicorn's startup failure (its exit code 3 is not one of the contract's)
        if e.code not in (None, 0):
            raise OpenFeatError(f"the server could not start on {where} (the log above says why)") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------ deploy
@command(
    epilog=_example(
        "openfeat deploy fraud features.sql --url http://127.0.0.1:9080",
        "echo 'DEPLOY fraud SELECT ...' | openfeat deploy fraud - --store /data/openfeat --json",
        "openfeat deploy fraud features.sql --store ./store --create-store --workspace ./ws --load tx --load profile=3",
    )
)
def deploy(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Deployment name (letters, digits, _).")],
    sql_file: SqlFileArgument,
    url: UrlOption = None,
    store: StoreOption = None,
    create_store: Annotated[
        bool, typer.Option("--create-store", help="Create the --store directory (an empty store) if it is missing.")
    ] = False,
    loads: LoadOption = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            metavar="ZONE",
            help="--store: IANA time zone of calendar functions in requests (default UTC; a service has its own).",
        ),
    ] = None,
    token: TokenOption = None,
    timeout: TimeoutOption = 60.0,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="FILE|URI",
            help="The training-set file the deployed model was trained on: its statistics become the deployment's "
            "reference profile, which 'openfeat monitor' compares served features with (default: found in the "
            "workspace by the script's plan digest, when tables are loaded).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy a feature script to a running service (--url) or into a durable store (--store).

    Deploying the script that is already active does nothing; a changed script becomes a new version. With --load,
    workspace tables are loaded into the store too (a service must already have the tables). Prints the version,
    plan digest and indexes; with --json the deploy task's result: the deployment's description plus "new_version"
    (true when this call created a version), "target", "loaded" and the run id.
    """
    if not _NAME_RE.match(name):
        raise UsageError(f"deployment name {name!r} is not valid: use letters, digits and _, not starting with a digit")
    if (url is None) == (store is None):
        raise UsageError("give exactly one of --url URL (a running service) or --store PATH (a durable store)")
    if timezone is not None:
        _check_timezone(timezone)
    sql = read_sql(sql_file)
    stated, _ = split_deploy(sql)
    if stated is not None and stated != name:
        raise UsageError(f"NAME is {name!r} but the SQL is 'DEPLOY {stated} ...'; make them the same")
    tables = parse_table_versions(loads or [], "--load")
    request = tasks.DeployRequest(
        name,
        sql,
        timezone=timezone,
        store=store,
        url=url,
        token=token,
        timeout=timeout,
        create_store=create_store,
        tables=tables,
        workspace=workspace if tables else None,
        storage_options=parse_storage_options(storage_options),
        reference=reference,
    )
    with _embedded(store):
        result = tasks.deploy(request)

    def text() -> str:
        lines = [
            f"loaded {t['table']} (workspace version {t['version']}): {t['rows']:,} rows"
            if t["inserted"]
            else f"{t['table']} already holds workspace version {t['version']} ({t['rows']:,} rows)"
            for t in result.loaded
        ]
        what = "deployed" if result.new_version else "unchanged (the active version is this script):"
        lines.append(f"{what} {name} version {result.version} of {result.versions}, digest {result.digest}")
        lines.append("indexes:" if result.indexes else "indexes: none")
        lines.extend(f"  {index}" for index in result.indexes)
        return "\n".join(lines)

    emit(result.to_dict(), as_json=as_json, text=text)


# ------------------------------------------------------------------ deployments
@command(
    epilog=_example("openfeat deployments --url http://127.0.0.1:9080", "openfeat deployments --store ./store --json")
)
def deployments(
    url: UrlOption = None,
    store: StoreOption = None,
    token: TokenOption = None,
    timeout: TimeoutOption = 60.0,
    as_json: JsonOption = False,
) -> None:
    """List the deployments of a running service (--url) or of a durable store (--store).

    With --json: {"deployments": [{"name", "version", "versions", "digest", "access"}, ...]}; ``access`` is
    {"path": "direct"} or {"path": "request_mode", "reason": ...} (why the direct path does not serve it).
    """
    with deployment_target(url, store, token, timeout) as target:
        described = [target.describe(n) for n in target.names()]
    rows = [
        {k: d[k] for k in ("name", "version", "versions", "digest", "access")}
        for d in described
        if d is not None  # dropped between the listing and its description
    ]

    def text() -> str:
        if not rows:
            return "no deployments"
        return format_table(
            ["NAME", "VERSION", "VERSIONS", "DIGEST"],
            [[r["name"], r["version"], r["versions"], r["digest"][:16]] for r in rows],
        )

    emit({"deployments": rows}, as_json=as_json, text=text)


# ------------------------------------------------------------------ verify
@command(
    epilog=_example(
        "openfeat verify fraud --url http://127.0.0.1:9080",
        "openfeat verify fraud --url http://127.0.0.1:9080 --json --no-fail-on-mismatch",
        "openfeat verify fraud --store ./store --workspace ./ws --probe tx --probe-rows 500",
    )
)
def verify(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Deployment to verify.")],
    url: UrlOption = None,
    store: StoreOption = None,
    probe: Annotated[
        str | None,
        typer.Option(
            "--probe",
            metavar="TABLE[=VERSION]",
            help="First send the last --probe-rows rows of this workspace table as requests, then verify them "
            "(needed for --store: a store opened here has served nothing yet). Use events newer than the stored "
            "rows: an older request sees a history the store's TTL may have shortened, reported as mismatches.",
        ),
    ] = None,
    probe_rows: Annotated[
        int, typer.Option("--probe-rows", min=1, metavar="N", help="How many rows --probe sends.")
    ] = 100,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    storage_options: StorageOptionsOption = None,
    timezone: Annotated[
        str | None,
        typer.Option(metavar="ZONE", help="--store: IANA time zone of calendar functions in the deployed script."),
    ] = None,
    token: TokenOption = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.001, metavar="SECONDS", help="How long to wait for the report (it recomputes offline)."
        ),
    ] = 600.0,
    fail_on_mismatch: Annotated[
        bool,
        typer.Option("--fail-on-mismatch/--no-fail-on-mismatch", help="Exit 1 when any feature value disagrees."),
    ] = True,
    min_requests: Annotated[
        int,
        typer.Option(
            "--min-requests",
            min=0,
            metavar="N",
            help="Exit 1 when fewer than N logged requests were checked (0 accepts a report that checked nothing).",
        ),
    ] = 1,
    as_json: JsonOption = False,
) -> None:
    """Check online/offline consistency: logged requests are recomputed in batch mode and compared.

    A service logs requests only when started with --log-requests RATE. Prints, per feature, the share of values
    that differ (mismatch), that are NULL on one side only (missing), and the largest absolute difference. With
    --json the verify task's result: {"deployment", "requests", "rows", "skipped", "consistent", "features":
    [{"name", "compared", "mismatch_rate", "missing_rate", "max_abs_diff", "examples"}], "target", "probed_rows",
    "run_id", ...}.
    """
    if (url is None) == (store is None):
        raise UsageError("give exactly one of --url URL (a running service) or --store PATH (a durable store)")
    if timezone is not None:
        _check_timezone(timezone)
    probed = parse_table_versions([probe], "--probe") if probe is not None else {}
    probe_table, probe_version = next(iter(probed.items()), (None, None))
    request = tasks.VerifyRequest(
        name,
        store=store,
        url=url,
        token=token,
        timeout=timeout,
        probe_table=probe_table,
        probe_version=probe_version,
        probe_rows=probe_rows,
        workspace=workspace if probe_table else None,
        timezone=timezone,
        fail_on_mismatch=fail_on_mismatch,
        min_requests=min_requests,
        storage_options=parse_storage_options(storage_options),
    )
    try:
        with _embedded(store):
            result = tasks.verify(request)
    except tasks.VerificationFailed as e:
        # The report is the output even when it fails the command: print it, then exit 1 with the reason.
        report: tasks.VerifyResult = e.result
        emit(report.to_dict(), as_json=as_json, text=lambda: _verify_text(report))
        raise
    emit(result.to_dict(), as_json=as_json, text=lambda: _verify_text(result))


def _verify_text(report: tasks.VerifyResult) -> str:
    verdict = "consistent" if report.consistent else "INCONSISTENT"
    probed = f" (after sending {report.probed_rows} probe rows)" if report.probed_rows else ""
    lines = [f"{report.deployment}: {report.requests} logged requests, {report.rows} rows{probed}: {verdict}"]
    features = report.features
    if features:
        lines.append(
            format_table(
                ["FEATURE", "COMPARED", "MISMATCH", "MISSING", "MAX ABS DIFF"],
                [
                    [
                        f["name"],
                        f["compared"],
                        _percent(f["mismatch_rate"]),
                        _percent(f["missing_rate"]),
                        f["max_abs_diff"],
                    ]
                    for f in features
                ],
                right=range(1, 5),
            )
        )
    for f in features:
        lines.extend(f"  {f['name']}: {example}" for example in f["examples"])
    return "\n".join(lines)


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f}%"


# ------------------------------------------------------------------ monitor
@command(
    epilog=_example(
        "openfeat monitor fraud --url http://127.0.0.1:9080 --json",
        "openfeat monitor flight_delay_features --url http://127.0.0.1:9080 --features weather_temp,dep_hour "
        "--psi-threshold 0.2 --period 86400",
    )
)
def monitor(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Deployment to monitor.")],
    url: UrlOption = None,
    store: StoreOption = None,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            metavar="F1,F2,...",
            help="Compare these features (the model's inputs); default: every feature of the reference profile.",
        ),
    ] = None,
    psi_threshold: Annotated[
        float, typer.Option("--psi-threshold", min=0.0, metavar="PSI", help="A feature with a larger PSI drifted.")
    ] = PSI_SHIFT,
    null_rate_threshold: Annotated[
        float,
        typer.Option(
            "--null-rate-threshold",
            min=0.0,
            max=1.0,
            metavar="RATE",
            help="A feature whose NULL rate moved by more than this (absolute) drifted.",
        ),
    ] = 0.10,
    min_rows: Annotated[
        int, typer.Option("--min-rows", min=1, metavar="N", help="Served rows needed to decide (fewer: no retrain).")
    ] = 100,
    period: Annotated[
        float | None,
        typer.Option(
            "--period", min=0.001, metavar="SECONDS", help="Only the requests served in the last SECONDS (default all)."
        ),
    ] = None,
    consistency_requests: Annotated[
        int,
        typer.Option(
            "--consistency-requests",
            min=0,
            metavar="N",
            help="Recompute the latest N logged requests offline for the consistency figure (0: none).",
        ),
    ] = 100,
    timezone: Annotated[
        str | None,
        typer.Option(metavar="ZONE", help="--store: IANA time zone of calendar functions in the deployed script."),
    ] = None,
    token: TokenOption = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, metavar="SECONDS", help="How long to wait for the report."),
    ] = 600.0,
    as_json: JsonOption = False,
) -> None:
    """Compare the features a deployment served with its training set's, and decide whether to retrain.

    The served features are those of the requests the service logged (start it with --log-requests RATE) for the
    deployment's active version; the training set's statistics are its reference profile, recorded at deploy. Per
    feature: PSI and NULL-rate change; a consistency sample (online = offline?); retrain when a feature drifted
    beyond the thresholds over at least --min-rows rows. Exit 0 either way: the decision is the output. With
    --json the monitor task's result: {"deployment", "version", "retrain", "reasons", "requests", "rows",
    "features": [{"name", "kind", "psi", "null_rate", "reference_null_rate", "null_rate_change", "drifted"}],
    "drifted", "max_psi", "consistent", "mismatch_ratio", "thresholds", "reference", ...}.
    """
    if (url is None) == (store is None):
        raise UsageError("give exactly one of --url URL (a running service) or --store PATH (a durable store)")
    if timezone is not None:
        _check_timezone(timezone)
    named = None if features is None else [f.strip() for f in features.split(",") if f.strip()]
    if named is not None and not named:
        raise UsageError("--features: give feature names separated by commas")
    request = tasks.MonitorRequest(
        name,
        store=store,
        url=url,
        token=token,
        timeout=timeout,
        features=named,
        psi_threshold=psi_threshold,
        null_rate_threshold=null_rate_threshold,
        min_rows=min_rows,
        period_seconds=period,
        consistency_requests=consistency_requests,
        timezone=timezone,
    )
    with _embedded(store):
        result = tasks.monitor(request)
    emit(result.to_dict(), as_json=as_json, text=lambda: _monitor_text(result))


def _monitor_text(report: tasks.MonitorResult) -> str:
    verdict = "RETRAIN" if report.retrain else "no retraining needed"
    lines = [
        f"{report.deployment} version {report.version}: {report.requests} logged requests, {report.rows} rows: "
        f"{verdict}"
    ]
    lines.extend(f"  {reason}" for reason in report.reasons)
    if report.features:
        lines.append(
            format_table(
                ["FEATURE", "PSI", "NULL RATE", "TRAINING", "DRIFTED"],
                [
                    [
                        f["name"],
                        "" if f["psi"] is None else f"{f['psi']:.3f}",
                        "" if f["null_rate"] is None else _percent(f["null_rate"]),
                        _percent(f["reference_null_rate"]),
                        "yes" if f["drifted"] else "",
                    ]
                    for f in report.features
                ],
                right=range(1, 4),
            )
        )
    if report.consistent is not None:
        state = "consistent" if report.consistent else f"MISMATCHES ({_percent(report.mismatch_ratio or 0.0)})"
        lines.append(f"online/offline on the latest {report.verified_requests} logged requests: {state}")
    return "\n".join(lines)


# ------------------------------------------------------------------ ingest-stream
@command(
    "ingest-stream",
    epilog=_example(
        "openfeat ingest-stream --store ./store --bootstrap 127.0.0.1:9092 --topics tx --until-caught-up --json",
        "openfeat ingest-stream --store ./store --bootstrap kafka:9092 --topics tx,clicks:events "
        "--dead-letters bad.jsonl --max-bad-ratio 0.01 --format envelope --timezone Asia/Shanghai",
    ),
)
def ingest_stream(
    store: Annotated[
        Path, typer.Option("--store", metavar="PATH", help="Directory of the durable online store to write into.")
    ],
    bootstrap: Annotated[str, typer.Option("--bootstrap", metavar="HOST:PORT", help="The Kafka brokers.")],
    topics: Annotated[
        str,
        typer.Option(
            "--topics",
            metavar="TOPIC[:TABLE],...",
            help="Topics to consume; each into the table of its name, or TOPIC:TABLE into TABLE.",
        ),
    ],
    until_caught_up: Annotated[
        bool,
        typer.Option(
            "--until-caught-up",
            help="Stop once every partition reached the high watermark it had at the start (a batch-style task).",
        ),
    ] = False,
    dead_letters: Annotated[
        Path | None,
        typer.Option("--dead-letters", metavar="FILE", help="JSON-lines file of the bad messages (appended)."),
    ] = None,
    dead_letter_topic: Annotated[
        str | None,
        typer.Option(
            "--dead-letter-topic",
            metavar="TOPIC",
            help="Kafka topic of the bad messages (created with one partition when missing).",
        ),
    ] = None,
    max_bad_ratio: Annotated[
        float,
        typer.Option(
            "--max-bad-ratio",
            min=0.0,
            max=1.0,
            metavar="R",
            help="Stop with an error (exit 1) once more than this share of the messages read are bad.",
        ),
    ] = 0.1,
    message_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="json|envelope|auto",
            help="Plain JSON objects, Kafka Connect's JSON envelope (schema + payload), or either (auto).",
        ),
    ] = "auto",
    timezone: Annotated[
        str | None,
        typer.Option(metavar="ZONE", help="IANA zone of the store (timestamp strings without an offset)."),
    ] = None,
    group_id: Annotated[
        str,
        typer.Option("--group-id", metavar="GROUP", help="Consumer group the offsets are committed to (lag tooling)."),
    ] = "openfeat-ingest",
    kafka_options: Annotated[
        list[str] | None,
        typer.Option("--kafka-option", metavar="KEY=VALUE", help="A librdkafka consumer setting (repeatable)."),
    ] = None,
    create_tables: Annotated[
        bool,
        typer.Option(
            "--create-tables",
            help="Create a missing table from the schema of its topic's first Kafka Connect envelope (as OpenMLDB's "
            "connector's auto.create); messages before that one are dead letters.",
        ),
    ] = False,
    create_store: Annotated[
        bool, typer.Option("--create-store", help="Create the --store directory (an empty store) if it is missing.")
    ] = False,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            metavar="DIR|URI",
            help="Also append the rows to this workspace's tables of the same names, as new versions, in "
            "micro-batches (exactly once).",
        ),
    ] = None,
    workspace_every_rows: Annotated[
        int, typer.Option("--workspace-every-rows", min=1, metavar="N", help="--workspace: a version every N rows.")
    ] = 100_000,
    workspace_every_seconds: Annotated[
        float,
        typer.Option(
            "--workspace-every-seconds", min=0.001, metavar="S", help="--workspace: or every S seconds, if sooner."
        ),
    ] = 60.0,
    storage_options: StorageOptionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Consume Kafka topics into online-store tables, exactly once.

    Each batch of messages is stored in one log frame with the position past it, and a restart resumes from the
    stored positions (never from the consumer group's committed offsets), so a crash neither loses nor repeats a
    message. Bad messages (not JSON, wrong types...) go to the dead letters and never stop the stream, unless more
    than --max-bad-ratio of them arrive. SIGTERM or Ctrl-C stops after the batch under way. The store is opened in
    this process: run it beside 'openfeat serve' on another store, or stop the service first. With --json the
    ingest-stream task's result: {"store", "topics", "messages", "rows", "dead_letters", "batches", "caught_up",
    "positions", ...}.
    """
    if message_format not in MESSAGE_FORMATS:
        raise UsageError(f"--format {message_format!r}: expected {', '.join(MESSAGE_FORMATS)}")
    if timezone is not None:
        _check_timezone(timezone)
    config: dict[str, str] = {}
    for option in kafka_options or ():
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--kafka-option {option!r}: expected KEY=VALUE (session.timeout.ms=6000)")
        config[key.strip()] = value
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    request = tasks.IngestStreamRequest(
        store,
        bootstrap,
        topics,
        until_caught_up=until_caught_up,
        dead_letters=dead_letters,
        dead_letter_topic=dead_letter_topic,
        max_bad_ratio=max_bad_ratio,
        message_format=message_format,  # type: ignore[arg-type]  # one of MESSAGE_FORMATS, checked above
        timezone=timezone,
        group_id=group_id,
        consumer_config=config or None,
        create_tables=create_tables,
        create_store=create_store,
        workspace=workspace,
        workspace_every_rows=workspace_every_rows,
        workspace_every_seconds=workspace_every_seconds,
        storage_options=parse_storage_options(storage_options),
        stop=stop,
    )
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can handlers be set
    previous = (
        {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    )
    try:
        with _embedded(store):
            result = tasks.ingest_stream(request)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def text() -> str:
        state = "caught up" if result.caught_up else "stopped"
        return (
            f"{result.messages:,} messages: {result.rows:,} rows stored, {result.dead_letters:,} dead letters"
            + (
                f", {result.workspace_rows:,} rows appended to the workspace in {result.workspace_versions} versions"
                if workspace is not None
                else ""
            )
            + f" ({state}, {_seconds(result.seconds)})"
        )

    emit(result.to_dict(), as_json=as_json, text=text)


# ------------------------------------------------------------------ explain
@command(
    epilog=_example(
        "openfeat explain features.sql --schema 'tx=card bigint, ts timestamp, amount double' "
        "--schema 'profile=card bigint, score double'",
    )
)
def explain(
    sql_file: Annotated[
        str,
        typer.Argument(metavar="SQL_FILE", help="File holding a SELECT or a 'DEPLOY name SELECT ...'; - for stdin."),
    ],
    schemas: Annotated[
        list[str] | None,
        typer.Option(
            "--schema",
            metavar="TABLE=COLUMNS",
            help="A table the SQL reads, as 'name=col type, col type...' (OpenMLDB types); repeat per table.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Bind a feature script against table schemas and print its plan (no data is read).

    Bad SQL is reported as 'error: line L, column C: ...' with exit code 2. With --json: {"digest", "plan" (the
    canonical plan JSON), "explain" (the text)}.
    """
    from openfeat_core.plan.explain import explain as explain_plan

    tables: dict[str, pa.Table] = {}
    for text in schemas or []:
        table, schema = parse_table_schema(text)
        if table in tables:
            raise UsageError(f"--schema: table {table!r} is given twice")
        tables[table] = schema.empty_table()
    _, select = split_deploy(read_sql(sql_file))
    plan = openfeat_core.plan_sql(select, tables)
    rendered = explain_plan(plan)
    emit(
        {"digest": plan.digest(), "plan": json.loads(plan.to_json()), "explain": rendered},
        as_json=as_json,
        text=lambda: rendered,
    )


# ------------------------------------------------------------------ store-repair
@command(
    name="store-repair",
    epilog=_example("openfeat store-repair /data/openfeat", "openfeat store-repair /data/openfeat --apply --json"),
)
def store_repair(
    store: Annotated[str, typer.Argument(metavar="PATH", help="Directory of the durable store (not open elsewhere).")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Move the damaged part of the log to PATH/quarantine/<time>/.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check a durable store that fails to open as corrupt, and repair it with --apply.

    Lists every problem (file, byte offset, sequence numbers) and every log entry a repair removes: the log keeps
    its longest intact history, so the entries after the first problem go too (sequence number, table, rows).
    --apply moves them, and snapshot directories that are not valid, to PATH/quarantine/<time>/ (with a
    REPORT.json); nothing is deleted. Exit code 0: the store opens (it was clean, or --apply repaired it); 1: damage
    found and not repaired (run again with --apply).
    """
    path = Path(store)
    if not path.is_dir():
        raise UsageError(f"{store!r}: no such directory")
    try:
        report = repair(path, apply=apply)
    except LogLockedError:
        raise OpenFeatError(f"{store!r} is open in another process (a running service?); stop it first") from None
    emit(report.to_json(), as_json=as_json, text=lambda: _repair_text(report))
    if not report.clean and not report.applied:
        raise typer.Exit(EXIT_FAILED)


def _repair_text(report: RepairReport) -> str:
    """The text of ``store-repair``: problems, entries removed, what was done."""
    lines = [f"{report.directory}: " + ("clean, it opens as it is" if report.clean else "damaged")]
    lines += [f"  problem: {d}" for d in report.damage]
    lines += [f"  invalid snapshot: {s}" for s in report.ignored_snapshots]
    if report.torn_tail:
        lines.append(f"  torn tail: {report.torn_tail}")
    verb = "removed" if report.applied else "to remove"
    for e in report.lost:
        what = f"{e.rows} rows of table {e.table!r}" if e.kind == "rows" and e.rows is not None else e.kind
        seq = f"sequence {e.sequence}" if e.sequence is not None else "sequence unknown"
        state = "damaged" if e.damaged else "intact, after the damage"
        lines.append(f"  {verb}: {seq}: {what} ({state}; {e.segment} at byte offset {e.offset}, {e.bytes} bytes)")
    if report.lost:
        rows = sum(e.rows or 0 for e in report.lost)
        lines.append(f"  {len(report.lost)} log entries ({rows} rows) {'lost' if report.applied else 'would be lost'}")
    if report.applied:
        lines.append(f"  moved to {report.quarantine}; the store opens now")
    elif not report.clean:
        lines.append("  run again with --apply to move the damage aside (nothing is deleted)")
    return "\n".join(lines)


def main() -> None:
    """The ``openfeat`` script: run the app.

    Errors become exit codes inside each command (see :func:`command`), so that the app behaves the same when
    called in process (tests, ``typer.testing.CliRunner``) as through this entry point.
    """
    app(prog_name="openfeat")


if __name__ == "__main__":
    main()
