"""The ``openfeat`` command line: the contract that Kubeflow containers and DolphinScheduler shell tasks call.

Commands: ``version``, ``serve``, ``deploy``, ``deployments``, ``verify``, ``explain`` (``openfeat COMMAND --help``
shows each one's options and an example). What follows is stable: scripts may rely on it.

Exit codes:

* ``0``: success.
* ``1``: the job failed: a runtime or data error, a service that cannot be reached or fails (HTTP 5xx), a ``verify``
  that found online/offline mismatches.
* ``2``: usage error: bad arguments or options, bad SQL, a bad ``--schema``, or a request the service refused as
  given (HTTP 4xx: bad SQL, unknown deployment, missing or wrong token).

Output: results go to stdout. With ``--json`` a command prints exactly one JSON document on stdout (strict JSON:
non-finite floats are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``) and nothing else; when a
command fails, stdout is empty, except that ``verify`` prints its report before it exits 1 on mismatches. Errors
are one line on stderr, ``error: <what is wrong and where>``; the Python traceback is shown only with ``--debug`` or
``OPENFEAT_DEBUG=1``.

Environment: ``OPENFEAT_TOKEN`` is the bearer token (``--token``) of ``serve`` and of the commands that call a
service; ``OPENFEAT_DEBUG=1`` is ``--debug``.

Adding a command: decorate it with :func:`command` (not ``app.command``) so that its errors map to the exit codes
above, take the shared options (``JsonOption``, ``UrlOption``, ``TokenOption``...) and print with :func:`emit`.
"""

from __future__ import annotations

import functools
import http.client
import json
import math
import platform
import re
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import pyarrow as pa
import typer

import openfeat_core
from openfeat_core.errors import OpenFeatError, OpenFeatSQLError
from openfeat_core.online.wal import LogLockedError
from openfeat_core.types import parse_schema, parse_type_name

if TYPE_CHECKING:
    import uvicorn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: The ``{db}`` path segment of the service routes: the service accepts and ignores it (one namespace).
SERVICE_DB = "openfeat"

_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")
# The head of an OpenMLDB ``DEPLOY name [OPTIONS(...)] SELECT ...`` statement.
_DEPLOY_HEAD_RE = re.compile(
    r"^\s*deploy\s+(?:if\s+not\s+exists\s+)?(?P<name>[A-Za-z_]\w*)\s*(?:options\s*\([^)]*\)\s*)?(?=select\b)",
    re.IGNORECASE,
)

_F = TypeVar("_F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------------------------------------------------
# Errors and exit codes
# ---------------------------------------------------------------------------------------------------------------------


class UsageError(OpenFeatError):
    """The command line is wrong (an argument, an option, a file it names): exit code 2."""


class ServiceError(OpenFeatError):
    """The service answered a request with an HTTP error.

    Attributes:
        status: the HTTP status; 4xx (the request was refused as given) exits 2, anything else exits 1.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServiceUnreachable(OpenFeatError):
    """No HTTP answer from the service (connection refused, timeout, not an HTTP server): exit code 1."""


def exit_code_of(error: BaseException) -> int:
    """The exit code of the contract for an error that ended a command."""
    if isinstance(error, (UsageError, OpenFeatSQLError)):
        return EXIT_USAGE
    if isinstance(error, ServiceError):
        return EXIT_USAGE if 400 <= error.status < 500 else EXIT_FAILED
    return EXIT_FAILED


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
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="OPENFEAT_TOKEN",
        show_envvar=True,
        metavar="TOKEN",
        help="Bearer token of the service (sent as 'Authorization: Bearer TOKEN').",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=0.001, metavar="SECONDS", help="How long to wait for each answer of the service."),
]


# ---------------------------------------------------------------------------------------------------------------------
# The service over HTTP (standard library only)
# ---------------------------------------------------------------------------------------------------------------------


class ServiceClient:
    """A JSON client of the OpenFeat HTTP service (``openfeat_core.online.service``).

    Args:
        url: the service's base URL (``http://host:port``, optionally with a path prefix).
        token: the bearer token, or ``None``.
        timeout: seconds to wait for each answer.

    Raises:
        UsageError: ``url`` is not an http(s) URL.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"--url {url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:9080)")
        self.url = url.rstrip("/")
        self.token = token or None
        self.timeout = timeout

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """Send one request; returns the ``data`` of the service's ``{"code": 0, "msg": "ok", "data": ...}``.

        Raises:
            ServiceError: the service answered with an HTTP error (its ``msg`` is the message).
            ServiceUnreachable: no HTTP answer (refused, timed out, not an HTTP server).
        """
        body = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise ServiceError(e.code, self._error_message(method, path, e)) from None
        except urllib.error.URLError as e:
            raise self._unreachable(e.reason) from None
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise OpenFeatError(f"{method} {self.url}{path}: the answer is not JSON: {raw[:200]!r}") from None
        return answer.get("data") if isinstance(answer, dict) else answer

    def _unreachable(self, reason: object) -> ServiceUnreachable:
        if isinstance(reason, TimeoutError):
            return ServiceUnreachable(f"no answer from the OpenFeat service at {self.url} within {self.timeout:g} s")
        return ServiceUnreachable(f"cannot reach the OpenFeat service at {self.url}: {reason}")

    def _error_message(self, method: str, path: str, error: urllib.error.HTTPError) -> str:
        """The service's own ``msg`` (it names what is wrong), then where it came from."""
        try:
            answer = json.loads(error.read())
            msg = answer.get("msg") if isinstance(answer, dict) else None
        except (ValueError, OSError):
            msg = None
        hint = " (pass --token or set OPENFEAT_TOKEN)" if error.code == 401 else ""
        return f"{msg or error.reason}{hint} (HTTP {error.code} from {method} {self.url}{path})"


# ---------------------------------------------------------------------------------------------------------------------
# Deployments, in a service or in an embedded store
# ---------------------------------------------------------------------------------------------------------------------


class DeploymentTarget(Protocol):
    """Where deployments live: a running service (``--url``) or a durable store opened in process (``--store``).

    Deployment descriptions have one shape whatever the target: ``name``, ``version`` (the active one),
    ``versions`` (how many exist), ``digest`` (SHA-256 of the plan), ``sql``, ``input_schema`` and
    ``output_schema`` (``[{"name", "type"}]``, OpenMLDB type names), ``indexes`` (text).
    """

    def deploy(self, name: str, sql: str) -> dict[str, Any]: ...

    def describe(self, name: str) -> dict[str, Any] | None: ...

    def names(self) -> list[str]: ...


def _type_name(name: str) -> str:
    try:
        return parse_type_name(name).openmldb_name
    except ValueError:
        return name


class _ServiceDeployments:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def deploy(self, name: str, sql: str) -> dict[str, Any]:
        self.client.call("POST", f"/dbs/{SERVICE_DB}/deployments", {"name": name, "sql": sql})
        info = self.describe(name)
        if info is None:
            raise OpenFeatError(f"deployment {name!r} was deployed but the service does not describe it")
        return info

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            data = self.client.call("GET", f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(name)}")
        except ServiceError as e:
            if e.status == 404:
                return None
            raise
        return {
            "name": data["name"],
            "version": data["version"],
            "versions": data["versions"],
            "digest": data["digest"],
            "sql": data["procedure"],
            "input_schema": [{"name": c["name"], "type": _type_name(c["type"])} for c in data["input_schema"]],
            "output_schema": [{"name": c["name"], "type": _type_name(c["type"])} for c in data["output_schema"]],
            "indexes": data["indexes"],
        }

    def names(self) -> list[str]:
        return list(self.client.call("GET", f"/dbs/{SERVICE_DB}/deployments")["deployments"])


class _StoreDeployments:
    def __init__(self, store: openfeat_core.OnlineStore) -> None:
        self.store = store

    def deploy(self, name: str, sql: str) -> dict[str, Any]:
        self.store.deploy(name, sql)
        info = self.describe(name)
        assert info is not None
        return info

    def describe(self, name: str) -> dict[str, Any] | None:
        if name not in self.store.list_deployments():
            return None
        d = self.store.describe_deployment(name)
        return {
            "name": d["name"],
            "version": d["version"],
            "versions": d["versions"],
            "digest": d["digest"],
            "sql": d["sql"],
            "input_schema": [{"name": n, "type": t} for n, t in d["input_schema"]],
            "output_schema": [{"name": n, "type": t} for n, t in d["output_schema"]],
            "indexes": d["indexes"],
        }

    def names(self) -> list[str]:
        return self.store.list_deployments()


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
        yield _ServiceDeployments(ServiceClient(url, token, timeout))
        return
    assert store is not None
    opened = _open_durable_store(store)
    try:
        yield _StoreDeployments(opened)
    finally:
        opened.close()


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


def split_deploy(sql: str) -> tuple[str | None, str]:
    """The name of a ``DEPLOY name [OPTIONS(...)] SELECT ...`` statement and its SELECT (``None, sql`` otherwise).

    The DEPLOY head is blanked rather than cut, so that the line and column of a SQL error still point into the
    text as written.
    """
    match = _DEPLOY_HEAD_RE.match(sql)
    if match is None:
        return None, sql
    return match.group("name"), re.sub(r"[^\n]", " ", match.group(0)) + sql[match.end() :]


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
Exit codes (stable; scripts and orchestrators rely on them):
  0  success
  1  the job failed: runtime or data error, service unreachable or failing (HTTP 5xx),
     verify found online/offline mismatches
  2  usage error: bad arguments, bad SQL, bad --schema, request refused by the service (HTTP 4xx)

With --json a command prints exactly one JSON document on stdout. Errors are one line on stderr ("error: ..."),
without traceback unless --debug or OPENFEAT_DEBUG=1. OPENFEAT_TOKEN is the default of every --token.
""",
    epilog="\b\nExample:\n  openfeat serve --store ./store --port 9080\n  openfeat deploy fraud features.sql --url "
    "http://127.0.0.1:9080\n  openfeat verify fraud --url http://127.0.0.1:9080 --json",
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
) -> None:
    """Options that apply to every command."""
    _settings.debug = debug


def _example(*lines: str) -> str:
    """A help epilog listing example command lines (``\\b`` keeps click from re-wrapping them)."""
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)


# ------------------------------------------------------------------ version
@command(epilog=_example("openfeat version --json"))
def version(as_json: JsonOption = False) -> None:
    """Print the version of OpenFeat, with the Python and pyarrow versions it runs on."""
    info = {"openfeat": openfeat_core.__version__, "python": platform.python_version(), "pyarrow": pa.__version__}
    emit(info, as_json=as_json, text=lambda: f"{_version_text()} (python {info['python']}, pyarrow {info['pyarrow']})")


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
        "OPENFEAT_TOKEN=s3cret openfeat serve --store /data/openfeat --host 0.0.0.0",
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
    allow_insecure_remote: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-remote", help="Serve on a non-loopback address without a token (trusted networks)."
        ),
    ] = False,
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
) -> None:
    """Serve an online store over HTTP (OpenMLDB APIServer routes) until SIGINT or SIGTERM.

    Refuses a non-loopback --host without a token unless --allow-insecure-remote is given (exit code 2).
    """
    from openfeat_core.online.service import make_server

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {timezone!r} is not an IANA time zone (e.g. UTC, Asia/Shanghai)") from None
    if token == "":
        raise UsageError("--token (or OPENFEAT_TOKEN) is empty; give a token or leave it unset")
    path = None if store == "none" else Path(store)
    opened = openfeat_core.OnlineStore(path, timezone=timezone)
    try:
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
            )
        except ValueError as e:
            if token is None and not allow_insecure_remote:  # the service's loopback guard
                raise UsageError(
                    f"refusing to serve on non-loopback host {host!r} without a token: anyone who can reach it "
                    "could read features and write data. Pass --token TOKEN (or set OPENFEAT_TOKEN), or "
                    "--allow-insecure-remote if the network is trusted"
                ) from None
            raise UsageError(str(e)) from None
        if log_level in (LogLevel.info, LogLevel.debug, LogLevel.trace):
            where = f"[{host}]" if ":" in host else host
            typer.echo(
                f"openfeat {openfeat_core.__version__}: serving {'a memory store' if path is None else str(path)} "
                f"({len(opened.list_tables())} tables, {len(opened.list_deployments())} deployments) on "
                f"http://{where}:{port}",
                err=True,
            )
        _run_until_stopped(server, f"{host}:{port}")
    finally:
        opened.close()


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
    )
)
def deploy(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Deployment name (letters, digits, _).")],
    sql_file: Annotated[
        str,
        typer.Argument(
            metavar="SQL_FILE_OR_-", help="File holding a SELECT or a 'DEPLOY name SELECT ...' statement; - for stdin."
        ),
    ],
    url: UrlOption = None,
    store: StoreOption = None,
    token: TokenOption = None,
    timeout: TimeoutOption = 60.0,
    as_json: JsonOption = False,
) -> None:
    """Deploy a feature script to a running service (--url) or into a durable store (--store).

    Deploying the script that is already active does nothing; a changed script becomes a new version. Prints the
    version, plan digest and indexes; with --json the deployment's description plus "new_version" (true when
    this call created a version).
    """
    if not _NAME_RE.match(name):
        raise UsageError(f"deployment name {name!r} is not valid: use letters, digits and _, not starting with a digit")
    sql = read_sql(sql_file)
    stated, _ = split_deploy(sql)
    if stated is not None and stated != name:
        raise UsageError(f"NAME is {name!r} but the SQL is 'DEPLOY {stated} ...'; make them the same")
    with deployment_target(url, store, token, timeout) as target:
        before = target.describe(name)
        info = target.deploy(name, sql)
    new_version = before is None or before["versions"] != info["versions"]
    result = {**info, "new_version": new_version}

    def text() -> str:
        what = "deployed" if new_version else "unchanged (the active version is this script):"
        lines = [f"{what} {name} version {info['version']} of {info['versions']}, digest {info['digest']}"]
        lines.append("indexes:" if info["indexes"] else "indexes: none")
        lines.extend(f"  {index}" for index in info["indexes"])
        return "\n".join(lines)

    emit(result, as_json=as_json, text=text)


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

    With --json: {"deployments": [{"name", "version", "versions", "digest"}, ...]}.
    """
    with deployment_target(url, store, token, timeout) as target:
        described = [target.describe(n) for n in target.names()]
    rows = [
        {k: d[k] for k in ("name", "version", "versions", "digest")}
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
    )
)
def verify(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Deployment to verify.")],
    url: RequiredUrlOption,
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
    """Check online/offline consistency: the service recomputes its logged requests in batch mode and compares.

    The service logs requests only when started with --log-requests RATE. Prints, per feature, the share of values
    that differ (mismatch), that are NULL on one side only (missing), and the largest absolute difference. With
    --json the service's report: {"deployment", "requests", "rows", "consistent", "features": [{"name",
    "compared", "mismatch_rate", "missing_rate", "max_abs_diff", "examples"}]}.
    """
    client = ServiceClient(url, token, timeout)
    report = client.call("POST", f"/dbs/{SERVICE_DB}/deployments/{urllib.parse.quote(name)}/verify")

    def text() -> str:
        verdict = "consistent" if report["consistent"] else "INCONSISTENT"
        lines = [f"{report['deployment']}: {report['requests']} logged requests, {report['rows']} rows: {verdict}"]
        features = report["features"]
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

    emit(report, as_json=as_json, text=text)
    bad = [f["name"] for f in report["features"] if f["mismatch_rate"] > 0 or f["missing_rate"] > 0]
    if bad and fail_on_mismatch:
        raise OpenFeatError(f"deployment {name!r}: online and offline disagree on {', '.join(bad)}")
    if report["requests"] < min_requests:
        raise OpenFeatError(
            f"deployment {name!r}: {report['requests']} logged requests checked, --min-requests is {min_requests} "
            "(start the service with --log-requests RATE and send requests first)"
        )


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f}%"


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


def main() -> None:
    """The ``openfeat`` script: run the app.

    Errors become exit codes inside each command (see :func:`command`), so that the app behaves the same when
    called in process (tests, ``typer.testing.CliRunner``) as through this entry point.
    """
    app(prog_name="openfeat")


if __name__ == "__main__":
    main()
