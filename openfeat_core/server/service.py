"""The HTTP feature service: an :class:`~openfeat_core.online.store.OnlineStore` behind a plain ASGI application.

The routes follow OpenMLDB's APIServer where it has them (README, "Serving the same script online"), so a client
written for OpenMLDB can call a deployment unchanged. ``{db}`` in a path: the table and procedure routes answer
``DB not found`` for a database ``SHOW DATABASES`` does not list, once it lists any; tables and deployments are
those of database ``{db}`` (and those made without a database, which every ``{db}`` reaches; see
:meth:`FeatureService._table_ref` and :meth:`FeatureService._deployment_ref`):

=========================================  ====================================================================
``POST /dbs/{db}/deployments/{name}``      compute features: ``{"input": [[...]] | [{...}], "need_schema",
                                           "write_nan_and_inf_null"}`` → ``{"code": 0, "msg": "ok", "data":
                                           {"data": [...]}}``
``GET  /dbs/{db}/deployments/{name}``      the deployment: SQL, input/output schema, version, indexes, access
``GET  /dbs/{db}/deployments``             the deployment names
``POST /dbs/{db}/deployments``             deploy ``{"name", "sql", "options"}``
``POST …/deployments/{name}/verify``       recompute the logged requests in batch mode and compare: the
                                           consistency report (``ConsistencyReport.to_dict()``); requests are
                                           only logged after ``store.log_requests(rate)``
``POST …/deployments/{name}/monitor``      the logged requests' features against the reference profile (PSI,
                                           NULL rates), a consistency sample and ``retrain`` (body: its options,
                                           ``MonitorOptions``)
``GET|PUT …/{name}/reference``             the reference profile (the training set's statistics) of the
                                           active version (:mod:`openfeat_core.monitoring.reference`)
``GET  /dbs``                              the databases: ``{"code": 0, "msg": "ok", "dbs": [...]}``
``GET  /dbs/{db}/tables[/{table}]``        OpenMLDB's ``tables`` / ``table`` (its ``TableInfo``: ``column_desc``,
                                           ``column_key`` per declared index with ``ttl``, partitions), and
                                           ``data``: the names / one table's schema, row count and indexes
``PUT  /dbs/{db}/tables/{table}``          insert ``{"value": [[...], ...]}`` (OpenMLDB takes one row; here any
                                           number, inserted together)
``GET  /dbs/{db}/procedures/{name}``       a procedure (``CREATE PROCEDURE``): its statement, input and output
                                           schemas, common columns, tables
``POST /dbs/{db}/procedures/{name}``       a batch request: ``{"common_cols": [...], "input": [[...]],
                                           "need_schema"}`` → ``data`` (rows without the common outputs),
                                           ``common_cols_data`` (:mod:`openfeat_core.online.procedures`)
``POST /dbs/{db}/tables/{table}/rows``     bulk insert: ``{"rows": [...]}`` or an Arrow IPC stream body
``POST /dbs/{db}``                         OpenMLDB SQL: ``{"mode": "online"|"offsync"|"offasync", "sql": "s1;
                                           s2..."}`` → ``{"code": 0, "msg": "ok"}``, or for a query, ``SHOW`` or
                                           ``DESC`` ``{"code": 0, "msg": "ok", "data": {"schema": ["Int64", ...],
                                           "data": [[...], ...]}}`` (the statements and their semantics:
                                           :mod:`openfeat_core.server.statements`; offline modes need a workspace)
``GET  /health``, ``/ready``, ``/metrics``  liveness, readiness, Prometheus text metrics
=========================================  ====================================================================

Values travel as OpenMLDB's APIServer writes them: timestamps as epoch-millisecond integers, and ``NaN`` /
``Infinity`` / ``Inf`` accepted unquoted; dates as ``"YYYY-MM-DD"`` strings (OpenMLDB writes ``"2020-5-2"``, and so
does the procedures route, which only OpenMLDB's clients call). Every
error is a JSON body ``{"code": -1, "msg": "...", "detail": "..."}`` with a 4xx/5xx HTTP status (user mistakes get a
4xx and leave the store unchanged): ``code`` and, where OpenMLDB's APIServer has one for the case, ``msg`` are the
APIServer's (``"no match method"`` for a path or method no route serves, ``"Table not found"``, ``"DB not found"``,
``"Json parse failed, error code: N"`` with RapidJSON's code, ``"Translate to insert row failed"``...), so that its
clients keep working; ``detail`` then says what is wrong and where (the field, row, column).

Admission, on every route but ``/health`` and before the token: a ``Host`` other than an IP address, ``localhost``
or an allowed name is answered 421 (DNS rebinding), an ``Origin`` not allowed 403, and a POST/PUT body that is not
``application/json`` (an Arrow stream on the bulk rows route) 415, so that no web page can drive the service. Files
named in SQL stay inside the data roots (:mod:`openfeat_core.io.access`; 403 otherwise).

The store is not thread-safe, so store calls are serialised by one lock and run on one dedicated worker thread,
except feature requests of a few rows, which run right on the event loop when the store is idle (a thread hop
costs more than they do). Large requests, SQL statements and ``verify`` (one recomputed row per call, so that
requests are served in between) go to the worker, and the event loop stays free to answer ``/health``, which never
touches the store. Limits (:class:`ConnectionLimits`, ``max_request_rows``) keep slow clients and huge requests from
taking the service down.
"""

from __future__ import annotations

import asyncio
import ctypes
import datetime as dt
import functools
import hmac
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.errors import DataError, OpenFeatError, http_status
from openfeat_core.io.access import FileAccess
from openfeat_core.monitoring.monitor import MonitorOptions, decide, drift_report, served_features
from openfeat_core.online import statements as online_statements
from openfeat_core.online.consistency import ConsistencyReport
from openfeat_core.online.procedures import ProcedureInfo, batch_request, procedure_info
from openfeat_core.online.rows import TypedRows, check_rows
from openfeat_core.online.store import OnlineStore, declared_ttl, table_key
from openfeat_core.server.metrics import Metrics, StoreFigures
from openfeat_core.server.statements import MODES, StatementResult, execute_sql
from openfeat_core.sql.depth import loads_json
from openfeat_core.sql.dialect import parse_deploy
from openfeat_core.sql.statements import Show
from openfeat_core.types import SQLType, parse_type_name
from openfeat_core.workspace import Workspace

if TYPE_CHECKING:
    import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: The ASGI 3 application interface.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

ARROW_STREAM = "application/vnd.apache.arrow.stream"
# Only application/json: a browser can send text/plain, form-urlencoded, multipart or no type at all to any site
# without asking it first (a "simple" cross-site request), so a body of those types may come from a page the user
# happens to have open. OpenMLDB's clients (its Airflow provider: requests' json=) send application/json; curl -d
# needs -H 'Content-Type: application/json'.
_JSON_TYPES = frozenset({"application/json"})
_SEND_JSON = "send the body as JSON with 'Content-Type: application/json' (curl: -H 'Content-Type: application/json')"
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROWS_ROUTE = "/dbs/{db}/tables/{table}/rows"
_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")
# Bare Inf / -Inf (RapidJSON's kParseNanAndInfFlag accepts them; Python's json only knows Infinity), matched
# outside string literals: the alternation consumes whole strings first so that text inside them is left alone.
_INF_RE = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.])(-?)Inf(?!inity)(?!\w)')
_READY_TIMEOUT_S = 2.0
# Feature requests of at most this many rows run right on the event loop when the store is idle (a thread hop costs
# more than they do: 2,200 req/s over HTTP); larger ones go to the store thread so that the loop stays free. The rows
# of a request are computed in one pass, so 256 rows hold the loop a few milliseconds (10 window features: ~5 ms);
# the three thread hops of the chunked path cost a 100-row request more than its computation (2.6 vs 0.8 ms for a
# 100-row lookup, in process).
_INLINE_MAX_ROWS = 256
#: Default limit on the rows of one feature request (413 beyond; a request's rows are computed in one store call).
MAX_REQUEST_ROWS = 10_000
# Rows of a large feature request computed per store call (a few hundred ms at most; see _compute_in_chunks).
_CHUNK_ROWS = 1_000
# Seconds between a large request's answer and the heap trim that returns its memory (see _return_memory_soon).
_TRIM_DELAY_S = 0.5


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None with other C libraries, which offer no such call)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


class HTTPError(Exception):
    """An error answered with HTTP ``status`` and the body ``{"code": -1, "msg": msg}`` (OpenMLDB's APIServer answers
    every error with code -1), plus ``"detail"`` when given: where ``msg`` is the APIServer's own terse text
    (``"no match method"``, ``"Table not found"``...), which OpenMLDB clients may match on, ``detail`` says what is
    wrong and where."""

    def __init__(
        self, status: int, msg: str, headers: Sequence[tuple[str, str]] = (), *, detail: str | None = None
    ) -> None:
        super().__init__(msg if detail is None else f"{msg}: {detail}")
        self.status = status
        self.msg = msg
        self.headers = tuple(headers)
        self.detail = detail

    def body(self) -> bytes:
        payload: dict[str, Any] = {"code": ERROR_CODE, "msg": self.msg}
        if self.detail is not None:
            payload["detail"] = self.detail
        return _json_body(payload)


#: The ``code`` of every error answer, as OpenMLDB's APIServer gives it (the HTTP status tells errors apart).
ERROR_CODE = -1
#: The APIServer's answer to a path no route serves, or a method the route does not take.
NO_MATCH = "no match method"
# The APIServer's answers to a PUT whose body has no rows, rows of too many values, or values it cannot insert.
_PUT_ONE_ROW = "Invalid value in body, only support to put one row"
_COLUMN_SIZE = "column size != schema size"
_TRANSLATE_FAILED = "Translate to insert row failed"


def _http_error(error: OpenFeatError) -> HTTPError:
    """The answer to an error a store call or a check raised: its status is
    :func:`openfeat_core.errors.http_status` (4xx for a terminal error, 409 or 503 for a transient one)."""
    return HTTPError(http_status(error), str(error))


class _ClientGone(Exception):
    """The client disconnected before its request body arrived: nothing to answer."""


# ---------------------------------------------------------------------------------------------------------------------
# JSON in and out
# ---------------------------------------------------------------------------------------------------------------------


#: RapidJSON's ParseErrorCode for what Python's json module says: OpenMLDB's APIServer answers a body that is not
#: JSON with "Json parse failed, error code: N", N the code of RapidJSON's first error.
_RAPIDJSON_CODES = {
    "Expecting value": 3,
    "Expecting property name enclosed in double quotes": 4,
    "Expecting ':' delimiter": 5,
    "Extra data": 2,
    "Invalid \\escape": 10,
    "Unterminated string starting at": 11,
}
_RAPIDJSON_EMPTY, _RAPIDJSON_BAD_ENCODING, _RAPIDJSON_UNSPECIFIC = 1, 12, 17


def _json_failed(code: int) -> str:
    return f"Json parse failed, error code: {code}"


def _rapidjson_code(error: ValueError, text: str) -> int:
    """The RapidJSON error code of a body Python's json module refused (``error``: its JSONDecodeError)."""
    message = getattr(error, "msg", "")
    if message == "Expecting ',' delimiter":
        # RapidJSON tells an array missing a comma or ']' (7) from an object missing one or '}' (6).
        stack: list[str] = []
        in_string = escaped = False
        for c in text[: getattr(error, "pos", 0)]:
            if in_string:
                escaped, in_string = (not escaped and c == "\\"), in_string and (escaped or c != '"')
            elif c == '"':
                in_string = True
            elif c in "[{":
                stack.append(c)
            elif c in "]}" and stack:
                stack.pop()
        return 7 if stack and stack[-1] == "[" else 6
    return _RAPIDJSON_CODES.get(message, _RAPIDJSON_UNSPECIFIC)


def parse_json(body: bytes) -> Any:
    """Parse a request body as JSON, accepting unquoted ``NaN``, ``Infinity``, ``Inf`` and their negatives.

    Raises:
        HTTPError: 400, the body is not UTF-8 JSON (``msg`` as OpenMLDB's APIServer words it, ``detail`` ours).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HTTPError(400, _json_failed(_RAPIDJSON_BAD_ENCODING), detail=f"request body is not UTF-8: {e}") from None
    if not text.strip():
        raise HTTPError(400, _json_failed(_RAPIDJSON_EMPTY), detail="request body is empty; expected a JSON object")
    try:
        return loads_json(text)
    except RecursionError:
        raise HTTPError(400, _json_failed(_RAPIDJSON_UNSPECIFIC), detail="request body is nested too deeply") from None
    except ValueError as first:
        # Only a body that failed to parse pays for the Inf rewrite.
        if "Inf" in text:
            rewritten = _INF_RE.sub(lambda m: m.group(0) if m.group(1) is None else m.group(1) + "Infinity", text)
            try:
                return loads_json(rewritten)
            except (ValueError, RecursionError):
                pass
        code = _rapidjson_code(first, text)
        raise HTTPError(400, _json_failed(code), detail=f"request body is not valid JSON: {first}") from None


def _json_body(obj: Any) -> bytes:
    # allow_nan: non-finite floats are written NaN / Infinity / -Infinity, as OpenMLDB's writer does them.
    return json.dumps(obj, ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode("utf-8")


def _json_values(column: Column, nan_as_null: bool) -> list[Any]:
    """One output column as JSON-ready Python values (timestamps as epoch ms, dates as ``YYYY-MM-DD``)."""
    values = column.to_pylist()
    if column.type is SQLType.DATE:
        return [None if v is None else v.isoformat() for v in values]
    if column.type.is_nested:  # arrays as lists, maps as lists of [key, value] pairs
        return [_json_nested(v) for v in values]
    if nan_as_null and column.type.is_float:
        return [None if v is None or not math.isfinite(v) else v for v in values]
    return values


def _json_nested(value: Any) -> Any:
    """An ARRAY or MAP value (or one of its elements) JSON-ready: dates as ``YYYY-MM-DD``, pairs as lists."""
    if isinstance(value, (list, tuple)):
        return [_json_nested(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


#: Type names as OpenMLDB's APIServer writes the schema of a SQL result (a bare NULL column is reported as Bool).
_RESULT_TYPE_NAMES = {
    SQLType.BOOL: "Bool",
    SQLType.NULL: "Bool",
    SQLType.INT16: "Int16",
    SQLType.INT32: "Int32",
    SQLType.INT64: "Int64",
    SQLType.FLOAT: "Float",
    SQLType.DOUBLE: "Double",
    SQLType.STRING: "String",
    SQLType.DATE: "Date",
    SQLType.TIMESTAMP: "Timestamp",
}


def _result_json(rows: pa.Table) -> dict[str, Any]:
    """The rows of a SQL result as the APIServer writes them: ``{"schema": [type names], "data": [[...], ...]}``."""
    columns = [Column.from_arrow(c) for c in rows.columns]
    values = [_json_values(c, nan_as_null=False) for c in columns]
    return {
        "schema": [_RESULT_TYPE_NAMES.get(c.type) or c.type.openmldb_name for c in columns],
        "data": [list(r) for r in zip(*values, strict=True)],
    }


def _features_json(
    names: Sequence[str], result: Sequence[Column], need_schema: bool, nan_as_null: bool, as_objects: bool
) -> dict[str, Any]:
    """A feature request's answer (the ``data`` of the response): rows as arrays, or as objects when the request
    rows were objects, and with ``need_schema`` the output schema."""
    columns = [_json_values(c, nan_as_null) for c in result]
    data: dict[str, Any] = {}
    if need_schema:
        # A bare NULL output is reported as bool, as the Arrow result does.
        types = [SQLType.BOOL if c.type is SQLType.NULL else c.type for c in result]
        data["schema"] = [{"name": n, "type": t.value} for n, t in zip(names, types, strict=True)]
    data["data"] = (
        [dict(zip(names, r, strict=True)) for r in zip(*columns, strict=True)]
        if as_objects
        else [list(r) for r in zip(*columns, strict=True)]
    )
    return data


def _column_type_name(t: SQLType) -> str:
    """A column type as OpenMLDB's APIServer writes it in a table description: its ``DataType`` name, which is the
    SQL name except ``varchar`` for strings."""
    return "varchar" if t is SQLType.STRING else t.openmldb_name


def _ttl_json(spec: str) -> dict[str, Any]:
    """A declared index's TTL as the APIServer writes it: ``ttl_type``, then ``abs_ttl`` (minutes) and/or
    ``lat_ttl`` (rows) as the type has them."""
    parts = [p.strip() for p in spec.split(":")]
    kind = (parts[4] if len(parts) > 4 and parts[4] else "absolute").lower()
    ttl = declared_ttl(spec)
    out: dict[str, Any] = {"ttl_type": kind}
    if kind != "latest":
        out["abs_ttl"] = ttl.ms // 60_000
    if kind != "absolute":
        out["lat_ttl"] = ttl.rows
    return out


def _schema_json(fields: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """``(name, OpenMLDB type name)`` pairs as the APIServer writes schemas (``int64``, ``timestamp``...)."""
    return [{"name": n, "type": parse_type_name(t).value} for n, t in fields]


# ---------------------------------------------------------------------------------------------------------------------
# Input rows
# ---------------------------------------------------------------------------------------------------------------------


def _rows_field(body: Mapping[str, Any], key: str, *, allow_empty: bool) -> list[Any]:
    """``body[key]`` checked to be a list of rows, all arrays or all objects."""
    rows = body.get(key)
    if not isinstance(rows, list) or (not rows and not allow_empty):
        raise HTTPError(400, f"field {key!r} must be a {'' if allow_empty else 'non-empty '}array of rows")
    first_is_object = bool(rows) and isinstance(rows[0], dict)
    for i, row in enumerate(rows):
        if not isinstance(row, (list, dict)):
            raise HTTPError(400, f"field {key!r}: row {i} is a {_json_type(row)}, expected an array or an object")
        if isinstance(row, dict) != first_is_object:
            raise HTTPError(400, f"field {key!r}: rows mix arrays and objects (row {i}); use one form")
    return rows


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _bool_field(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise HTTPError(400, f"field {key!r} must be true or false, not {_json_type(value)}")
    return value


def _str_field(body: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise HTTPError(400, f"field {key!r} must be a non-empty string")
    return value


def _content_type_error(media: str, route: str) -> HTTPError:
    """The 415 for a body that is not JSON, saying which Content-Type to send."""
    given = f"unsupported content type {media!r}" if media else "the request has no Content-Type"
    arrow = f" (or '{ARROW_STREAM}' for an Arrow IPC stream)" if route == _ROWS_ROUTE else ""
    return HTTPError(415, f"{given}; {_SEND_JSON}{arrow}")


def _host_name(host: str) -> str:
    """The name of a ``Host`` header or allowed-host entry: lower case, without port, brackets or final dot."""
    text = host.strip().lower()
    if text.startswith("["):  # [::1]:9080
        return text[1 : text.find("]")] if "]" in text else text
    name, colon, port = text.rpartition(":")
    if not colon:
        return text.rstrip(".")
    if port.isdigit() and ":" not in name:
        return name.rstrip(".")
    return text  # a bare IPv6 literal, or a malformed port: compared as it is


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _next_step(steps: Generator[None, None, ConsistencyReport]) -> ConsistencyReport | None:
    """Run one step of a verify (``OnlineStore.verify_steps``): its report when it is done, else None."""
    try:
        next(steps)
    except StopIteration as done:
        report: ConsistencyReport = done.value
        return report
    return None


# ---------------------------------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    receive: Receive


#: status, body, content type (None: JSON), extra headers.
_Response = tuple[int, bytes, "str | None", Sequence[tuple[str, str]]]
_Handler = Callable[[_Request], Awaitable[_Response]]


class FeatureService:
    """The ASGI application serving one :class:`OnlineStore` (build it with :func:`create_app`).

    Args:
        store: the store to serve; the service becomes its only user (it is not thread-safe).
        token: when set, every route but ``/health`` requires ``Authorization: Bearer <token>``.
        max_body_bytes: larger request bodies are refused with 413 before they are read.
        workspace: URI of the workspace that is the offline storage of ``POST /dbs/{db}`` (a path, ``file://``,
            ``s3://``); without one, offline-mode ``LOAD DATA`` and ``SELECT`` are refused.
        max_request_rows: feature requests with more rows are refused with 413 before they are computed.
        data_roots: directories (and ``s3://bucket/prefix`` locations) that ``LOAD DATA`` may read and
            ``INTO OUTFILE`` may write, besides the workspace (:mod:`openfeat_core.io.access`); none and no
            workspace: those statements are refused (403).
        allowed_hosts: host names (``Host`` header, any port) answered besides IP literals and ``localhost``;
            ``"*"``: any. Other names are answered 421 (DNS rebinding: a page whose name resolves to this address).
        allowed_origins: browser origins (``https://app.example.com``) allowed to call the service (CORS); a
            request with any other ``Origin`` is answered 403.
    """

    def __init__(
        self,
        store: OnlineStore,
        *,
        token: str | None = None,
        max_body_bytes: int = 16 << 20,
        workspace: str | None = None,
        max_request_rows: int = MAX_REQUEST_ROWS,
        data_roots: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        allowed_origins: Sequence[str] = (),
    ) -> None:
        if token is not None and not token:
            raise ValueError("token must be a non-empty string (or None for no authentication)")
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if max_request_rows <= 0:
            raise ValueError("max_request_rows must be positive")
        self.store = store
        self.workspace = Workspace.open(workspace) if workspace is not None else None
        #: What SQL sent to POST /dbs/{db} may read and write: the data roots and the workspace, nothing else.
        self.file_access = FileAccess.confined(
            data_roots, workspace=self.workspace.uri if self.workspace is not None else None
        )
        self._allowed_hosts = frozenset(_host_name(h) for h in allowed_hosts)
        self._allowed_origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins)
        self.metrics = Metrics(lambda: store.dead_letter_count)
        store.log_append_observer = self.metrics.wal_append.observe
        for name in store.list_deployments():
            reference = store.reference(name)
            if reference is not None:
                self.metrics.drift.watch(name, reference["bins"])
        self._token = token.encode() if token is not None else None
        self._max_body = max_body_bytes
        self._max_request_rows = max_request_rows
        self._trim_pending = False  # a heap trim is scheduled (_return_memory_soon)
        # One thread: store calls are serialised, and never run on the event loop.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openfeat-store")
        # Every store call holds this lock: calls on the store thread and short ones run inline on the event loop.
        self._store_lock = threading.Lock()
        self._closing = False
        # Names seen to exist in the store: only these become metric labels.
        self._known_deployments: set[str] = set()
        # Table schemas, read once per table (describe_table also counts rows, which costs more as data grows).
        # SQL statements (POST /dbs/{db}) may create and drop tables, so every one of them empties the cache; a
        # table changed outside the service can still leave a stale entry, which a failed insert drops so that a
        # retry sees the new schema.
        self._table_schemas: dict[str, list[tuple[str, SQLType]]] = {}

    @property
    def store_lock(self) -> threading.Lock:
        """The lock every store call holds: a writer beside the service (``serve --ingest-topics``) holds it too."""
        return self._store_lock

    def close(self) -> None:
        """Stop accepting requests and wait for the store calls under way (the store itself is not closed)."""
        self._closing = True
        self._worker.shutdown(wait=True)

    # ------------------------------------------------------------------ ASGI entry point
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        req = _Request(scope["method"].upper(), scope["path"], headers, receive)
        route = "unmatched"
        cors: list[tuple[str, str]] = []
        try:
            route, routes = self._route(req)
            if route != "/health":
                # Before authentication, token or not: a browser page (a cross-site form, a DNS-rebound name) is
                # refused whatever it sends, and learns nothing about the routes.
                self._check_host(req, scope)
                cors = self._check_origin(req)
            if cors and req.method == "OPTIONS" and routes:
                status, body, content_type, extra = self._preflight(routes)
            else:
                # Authentication comes before 404: unauthenticated clients learn nothing about the routes.
                if self._token is not None and route != "/health":
                    self._authenticate(req)
                if not routes:
                    raise HTTPError(404, NO_MATCH, detail=f"no route for {req.path!r}")
                handler = routes.get(req.method)
                if handler is None:
                    allowed = ", ".join(sorted(routes))
                    raise HTTPError(
                        405,
                        NO_MATCH,
                        [("allow", allowed)],
                        detail=f"method {req.method} is not allowed on {route} (allowed: {allowed})",
                    )
                if req.method in _STATE_CHANGING:
                    self._check_body_type(req, route)
                status, body, content_type, extra = await handler(req)
        except HTTPError as e:
            status, body, content_type, extra = e.status, e.body(), None, e.headers
        except _ClientGone:
            self.metrics.count_http(route, req.method, 499)
            return
        except Exception:
            logger.exception("internal error serving %s %s", req.method, req.path)
            status, body, content_type, extra = 500, HTTPError(500, "internal server error").body(), None, ()
        self.metrics.count_http(route, req.method, status)
        response_headers = [
            (b"content-type", (content_type or "application/json; charset=utf-8").encode()),
            (b"content-length", str(len(body)).encode()),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (*extra, *cors)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _authenticate(self, req: _Request) -> None:
        assert self._token is not None
        scheme, _, given = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), self._token):
            raise HTTPError(401, "missing or invalid bearer token", [("www-authenticate", "Bearer")])

    def _check_host(self, req: _Request, scope: Scope) -> None:
        """421 unless the ``Host`` names this service: an IP literal, ``localhost``, or an allowed name.

        DNS rebinding makes a page's own name (``attacker.example``) resolve to this address, so the browser sends
        it as ``Host`` and treats the answers as the page's own. A page addressed by an IP literal or ``localhost``
        is this service itself (it serves no pages), so those are safe whatever the port (proxies and NAT change
        ports); any other name must be one the operator named. No ``Host`` at all (HTTP/1.0) is not a browser.
        """
        given = req.headers.get("host")
        if given is None:
            return
        name = _host_name(given)
        if name == "localhost" or _is_ip_literal(name) or name in self._allowed_hosts or "*" in self._allowed_hosts:
            return
        raise HTTPError(
            421,
            f"this service does not answer to the host name {name!r} (Host: {given!r}): a browser page under that "
            "name could be reaching it through DNS rebinding. Call it by IP address or localhost, or start it with "
            f"--allowed-host {name} (create_app(allowed_hosts=[...]))",
        )

    def _check_origin(self, req: _Request) -> list[tuple[str, str]]:
        """403 for a browser request from an origin that is not allowed; the CORS headers of an allowed one."""
        origin = req.headers.get("origin")
        if origin is None:
            return []
        if origin.strip().rstrip("/").lower() not in self._allowed_origins:
            raise HTTPError(
                403,
                f"requests from the web origin {origin!r} are refused (a page in a browser is calling this service); "
                "the operator allows an origin with --allowed-origin ORIGIN (create_app(allowed_origins=[...]))",
            )
        return [("access-control-allow-origin", origin), ("vary", "origin")]

    @staticmethod
    def _preflight(routes: Mapping[str, _Handler]) -> _Response:
        """The answer to an allowed origin's CORS preflight (``OPTIONS``): which methods and headers it may send."""
        headers = [
            ("access-control-allow-methods", ", ".join(sorted(routes))),
            ("access-control-allow-headers", "authorization, content-type"),
            ("access-control-max-age", "600"),
        ]
        return 204, b"", None, headers

    def _check_body_type(self, req: _Request, route: str) -> None:
        """415 for a state-changing request whose body is not JSON (or an Arrow stream on the bulk rows route)."""
        media = self._media_type(req)
        if media in _JSON_TYPES or (media == ARROW_STREAM and route == _ROWS_ROUTE):
            return
        declared = req.headers.get("content-length", "0").strip()
        if not media and declared == "0" and "transfer-encoding" not in req.headers:
            return  # no body at all (POST .../verify takes none)
        raise _content_type_error(media, route)

    # ------------------------------------------------------------------ routing
    def _route(self, req: _Request) -> tuple[str, dict[str, _Handler]]:
        """The route template of a request (also its metrics label) and its handlers by method (none: no route)."""
        parts = req.path.strip("/").split("/")
        routes: dict[str, _Handler]
        operational = {"health": self._get_health, "ready": self._get_ready, "metrics": self._get_metrics}
        if len(parts) == 1 and parts[0] in operational:
            template, routes = "/" + parts[0], {"GET": operational[parts[0]]}
        elif parts == ["dbs"]:
            template, routes = "/dbs", {"GET": self._list_databases}
        elif len(parts) == 2 and parts[0] == "dbs" and parts[1]:
            template, routes = "/dbs/{db}", {"POST": self._sql}
        elif (
            len(parts) >= 3 and parts[0] == "dbs" and all(parts) and parts[2] in ("deployments", "tables", "procedures")
        ):
            kind, rest = parts[2], parts[3:]
            if kind == "procedures" and len(rest) == 1:
                template = "/dbs/{db}/procedures/{name}"
                routes = {"GET": self._describe_procedure, "POST": self._call_procedure}
            elif kind == "deployments" and not rest:
                template, routes = "/dbs/{db}/deployments", {"GET": self._list_deployments, "POST": self._deploy}
            elif kind == "deployments" and len(rest) == 1:
                template = "/dbs/{db}/deployments/{name}"
                routes = {"GET": self._describe_deployment, "POST": self._request}
            elif kind == "deployments" and len(rest) == 2 and rest[1] == "verify":
                template, routes = "/dbs/{db}/deployments/{name}/verify", {"POST": self._verify}
            elif kind == "deployments" and len(rest) == 2 and rest[1] == "monitor":
                template, routes = "/dbs/{db}/deployments/{name}/monitor", {"POST": self._monitor}
            elif kind == "deployments" and len(rest) == 2 and rest[1] == "reference":
                template = "/dbs/{db}/deployments/{name}/reference"
                routes = {"GET": self._get_reference, "PUT": self._put_reference}
            elif kind == "tables" and not rest:
                template, routes = "/dbs/{db}/tables", {"GET": self._list_tables}
            elif kind == "tables" and len(rest) == 1:
                template, routes = "/dbs/{db}/tables/{table}", {"GET": self._describe_table, "PUT": self._put_rows}
            elif kind == "tables" and len(rest) == 2 and rest[1] == "rows":
                template, routes = "/dbs/{db}/tables/{table}/rows", {"POST": self._post_rows}
            else:
                template, routes = "unmatched", {}
        else:
            template, routes = "unmatched", {}
        return template, routes

    @staticmethod
    def _segment(req: _Request, index: int) -> str:
        return req.path.strip("/").split("/")[index]

    # ------------------------------------------------------------------ plumbing
    async def _store_call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` on the store thread; store errors become their answers (:func:`_http_error`)."""
        if self._closing:
            raise HTTPError(503, "the service is shutting down")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, self._locked, fn, *args)
        except RuntimeError:
            if self._closing:  # the executor refused work: shutdown began while this request waited
                raise HTTPError(503, "the service is shutting down") from None
            raise
        except OpenFeatError as e:
            raise _http_error(e) from None

    def _locked(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._store_lock:
            return fn(*args)

    def _inline_store_call(self, fn: Callable[..., _T], *args: Any) -> _T | None:
        """Run a short store call (a feature request) right here on the event loop when the store is idle: a thread
        hop costs more than the call. Returns None, without running it, when the store is busy (an insert on the
        store thread): the caller then queues it there like any other call."""
        if self._closing or not self._store_lock.acquire(blocking=False):
            return None
        try:
            return fn(*args)
        except OpenFeatError as e:
            raise _http_error(e) from None
        finally:
            self._store_lock.release()

    async def _read_body(self, req: _Request) -> bytes:
        declared = req.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise HTTPError(400, f"invalid Content-Length {declared!r}")
            if int(declared) > self._max_body:
                raise HTTPError(413, f"request body of {int(declared)} bytes exceeds the limit of {self._max_body}")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await req.receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise HTTPError(413, f"request body exceeds the limit of {self._max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _media_type(req: _Request) -> str:
        return req.headers.get("content-type", "").split(";")[0].strip().lower()

    async def _json_object(self, req: _Request) -> dict[str, Any]:
        media = self._media_type(req)
        if media not in _JSON_TYPES:
            raise _content_type_error(media, "")
        body = parse_json(await self._read_body(req))
        if not isinstance(body, dict):
            raise HTTPError(400, f"request body must be a JSON object, not {_json_type(body)}")
        return body

    @staticmethod
    def _ok(data: Any = None) -> _Response:
        payload: dict[str, Any] = {"code": 0, "msg": "ok"}
        if data is not None:
            payload["data"] = data
        return 200, _json_body(payload), None, ()

    # ------------------------------------------------------------------ operational routes
    async def _get_health(self, req: _Request) -> _Response:
        return self._ok()

    async def _get_ready(self, req: _Request) -> _Response:
        # Ready means the store thread answers: a store call wedged behind a long computation is "not ready".
        try:
            counts = await asyncio.wait_for(
                self._store_call(lambda: (len(self.store.list_tables()), len(self.store.list_deployments()))),
                _READY_TIMEOUT_S,
            )
        except (asyncio.TimeoutError, HTTPError) as e:
            reason = e.msg if isinstance(e, HTTPError) else f"the store did not answer within {_READY_TIMEOUT_S} s"
            raise HTTPError(503, f"not ready: {reason}") from None
        return self._ok({"tables": counts[0], "deployments": counts[1]})

    def _store_figures(self) -> StoreFigures:
        references = {}
        for name in self.store.list_deployments():
            profile = self.store.reference(name)
            if profile is not None:
                references[name] = profile["bins"]
                self._known_deployments.add(name)
        return StoreFigures(
            tables=self.store.table_stats(),
            durability=self.store.durability(),
            positions=self.store.stream_positions(),
            dead_letters=self.store.dead_letter_count,
            references=references,
        )

    async def _get_metrics(self, req: _Request) -> _Response:
        figures = await self._store_call(self._store_figures)
        # Off the event loop: the drift counts of the responses served since the last scrape are made now.
        body = (await self._off_loop(self.metrics.render, figures)).encode()
        return 200, body, "text/plain; version=0.0.4; charset=utf-8", ()

    # ------------------------------------------------------------------ deployments
    async def _list_deployments(self, req: _Request) -> _Response:
        db = self._segment(req, 1)

        def names() -> list[str]:
            return self.store.list_deployments(db if db in self._held_databases() else None)

        return self._ok({"deployments": await self._store_call(names)})

    def _deployment_ref(self, db: str, name: str) -> str:
        """The store's name of deployment ``name`` under ``/dbs/{db}``: ``db.name`` when database ``db`` has one
        (deployments are per database), else ``name``: one made without a database (through the Python API, a task
        or ``POST /dbs/{db}/deployments``) answers under any ``{db}``."""
        key = table_key(name, db)
        return key if self.store.has_deployment(key) else name

    def _held_databases(self) -> set[str]:
        """The databases the catalog knows (on the store thread): those CREATE DATABASE made and those tables were
        created in."""
        return {*self.store.list_databases(), *self.store.table_databases()}

    def _table_ref(self, db: str, name: str) -> str:
        """The store's name of table ``name`` under ``/dbs/{db}`` (on the store thread): database ``db``'s table
        (or one made without a database) when the catalog knows ``db``; otherwise the table of that name, as long
        as one database holds it (a store used without databases answers under any ``{db}``). 404 when there is
        none, naming what there is."""
        try:
            return self.store.resolve_table(name, db if db in self._held_databases() else None)
        except DataError as e:
            raise HTTPError(404, "Table not found", detail=str(e)) from None

    def _describe(self, name: str) -> dict[str, Any]:
        """The store's description of a deployment (on the store thread); 404 when there is none."""
        try:
            info = self.store.describe_deployment(name)
        except DataError as e:
            raise HTTPError(404, str(e)) from None
        self._known_deployments.add(name)
        return info

    async def _describe_deployment(self, req: _Request) -> _Response:
        db, name = self._segment(req, 1), self._segment(req, 3)
        info = await self._store_call(self._describe, self._deployment_ref(db, name))
        return self._ok(
            {
                "name": name,
                "procedure": info["sql"],
                "input_schema": _schema_json(info["input_schema"]),
                "input_common_cols": [],
                "output_schema": _schema_json(info["output_schema"]),
                "output_common_cols": [],
                "dbs": [db],
                "version": info["version"],
                "versions": info["versions"],
                "digest": info["digest"],
                "indexes": info["indexes"],
                "access": info["access"],
                "reference": info["reference"],
            }
        )

    # ------------------------------------------------------------------ procedures
    def _procedure(self, db: str, name: str) -> ProcedureInfo:
        """A procedure's description (on the store thread); 404 as the APIServer words it when there is none."""
        info = procedure_info(self.store, name) if self._database_known(db) else None
        if info is None:
            raise HTTPError(404, f"procedure not found, msg: {name} does not exist in {db}")
        return info

    async def _describe_procedure(self, req: _Request) -> _Response:
        """OpenMLDB's ``GET /dbs/{db}/procedures/{name}``."""
        db, name = self._segment(req, 1), self._segment(req, 3)
        info = await self._store_call(self._procedure, db, name)
        return self._ok(
            {
                "name": info.name,
                "procedure": info.statement,
                "input_schema": [{"name": n, "type": t.value} for n, t in info.input_schema],
                "input_common_cols": list(info.input_common),
                "output_schema": [{"name": n, "type": t.value} for n, t in info.output_schema],
                "output_common_cols": list(info.output_common),
                "dbs": [db],
                "tables": list(info.tables),
            }
        )

    async def _call_procedure(self, req: _Request) -> _Response:
        """OpenMLDB's ``POST /dbs/{db}/procedures/{name}``: a batch request whose ``common_cols`` (the values of the
        procedure's ``CONST`` parameters, once) complete every ``input`` row (:mod:`openfeat_core.online.procedures`).
        The answer: ``data`` (each row's outputs but the common ones), ``common_cols_data`` (the common outputs,
        once) and with ``need_schema`` the output ``schema``; dates as the APIServer writes them (``2020-5-2``: this
        route is OpenMLDB's own, where deployments answer ``YYYY-MM-DD``)."""
        db, name = self._segment(req, 1), self._segment(req, 3)
        try:
            body = await self._json_object(req)
        except HTTPError as e:
            if e.status != 400:
                raise
            raise HTTPError(400, "Json parse failed", detail=e.detail or e.msg) from None
        info = await self._store_call(self._procedure, db, name)
        common = body.get("common_cols", [])
        if not isinstance(common, list):
            raise HTTPError(400, "common_cols is not array", detail=f"field 'common_cols' is a {_json_type(common)}")
        if len(common) != len(info.input_common):
            raise HTTPError(
                400,
                "Invalid common cols size",
                detail=f"procedure {name!r} has {len(info.input_common)} common column(s) "
                f"({', '.join(info.input_common) or 'none'}); 'common_cols' holds {len(common)} value(s)",
            )
        rows = body.get("input")
        if not isinstance(rows, list) or not rows:
            raise HTTPError(400, "Invalid input", detail="field 'input' must be a non-empty array of rows")
        if len(rows) > self._max_request_rows:
            raise HTTPError(
                413, f"field 'input': {len(rows):,} rows exceed the limit of {self._max_request_rows:,} rows"
            )
        names = [n for n, _ in info.input_schema]
        common_indices = [names.index(c) for c in info.input_common]
        own = [n for n in names if n not in info.input_common]
        full_rows: list[list[Any]] = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(own):
                raise HTTPError(
                    400,
                    "Invalid input data row",
                    detail=f"field 'input': row {i} must be an array of {len(own)} values ({', '.join(own)})",
                )
            own_values = iter(row)
            given = dict(zip(info.input_common, common, strict=True))
            full_rows.append([given[n] if n in given else next(own_values) for n in names])
        nan_as_null = body.get("write_nan_and_inf_null") is True
        result = await self._store_call(
            batch_request,
            self.store,
            name,
            full_rows,
            common_indices,
        )
        values = [_json_values(c, nan_as_null) for c in result.columns]
        for column, encoded in zip(result.columns, values, strict=True):
            if column.type is SQLType.DATE:  # as the APIServer writes them: 2020-5-2
                encoded[:] = [None if v is None else "-".join(str(int(p)) for p in v.split("-")) for v in encoded]
        shared = [i for i, n in enumerate(result.names) if n in result.common_outputs]
        own_outputs = [i for i in range(len(result.names)) if i not in shared]
        data: dict[str, Any] = {
            "data": [[values[i][r] for i in own_outputs] for r in range(len(full_rows))],
            "common_cols_data": [values[i][0] for i in shared],
        }
        if body.get("need_schema") is True:
            data["schema"] = [{"name": n, "type": t.value} for n, t in info.output_schema]
        return self._ok(data)

    async def _get_reference(self, req: _Request) -> _Response:
        """The reference profile of the deployment's active version (``data``: null when it has none)."""
        name = self._deployment_ref(self._segment(req, 1), self._segment(req, 3))

        def read() -> dict[str, Any] | None:
            self._describe(name)  # 404 when there is no such deployment
            return self.store.reference(name)

        return self._ok(await self._store_call(read))

    async def _put_reference(self, req: _Request) -> _Response:
        """Record the reference profile of the deployment's active version (the body: the profile)."""
        name = self._deployment_ref(self._segment(req, 1), self._segment(req, 3))
        profile = await self._json_object(req)

        def record() -> None:
            self._describe(name)
            try:
                self.store.set_reference(name, profile)
            except DataError as e:
                raise HTTPError(400, str(e)) from None
            self.metrics.drift.watch(name, profile["bins"])

        await self._store_call(record)
        return self._ok()

    async def _deploy(self, req: _Request) -> _Response:
        body = await self._json_object(req)
        sql = _str_field(body, "sql", required=True)
        name = _str_field(body, "name", required=False)
        if name and not _NAME_RE.match(name):
            raise HTTPError(400, f"field 'name': {name!r} is not a valid deployment name (letters, digits, _)")
        try:
            statement = parse_deploy(sql)  # once: the store takes the parsed DEPLOY
        except OpenFeatError as e:
            raise _http_error(e) from None
        if not name and statement is None:
            raise HTTPError(400, "field 'name' is required (or give a 'DEPLOY name SELECT ...' statement as 'sql')")
        options = body.get("options") or {}
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise HTTPError(400, "field 'options' must be an object of string values")

        def deploy() -> dict[str, Any]:
            d = self.store.deploy(name, statement if statement is not None else sql, options)
            self._known_deployments.add(d.name)
            reference = self.store.reference(d.name)  # a new version has none yet
            self.metrics.drift.watch(d.name, None if reference is None else reference["bins"])
            return {**self.store.describe_deployment(d.name), "name": d.name}

        info = await self._store_call(deploy)
        return self._ok({k: info[k] for k in ("name", "version", "versions", "digest", "indexes", "access")})

    async def _request(self, req: _Request) -> _Response:
        name = self._deployment_ref(self._segment(req, 1), self._segment(req, 3))
        start = time.perf_counter()
        rows: list[Any] = []
        ok = False
        try:
            body = await self._json_object(req)
            given = body.get("input")
            if isinstance(given, list) and len(given) > self._max_request_rows:
                raise HTTPError(
                    413,
                    f"field 'input': {len(given):,} rows exceed the limit of {self._max_request_rows:,} rows per "
                    "feature request (max_request_rows; 'openfeat serve --max-request-rows N' raises it); split the "
                    "request",
                )
            rows = _rows_field(body, "input", allow_empty=False)
            need_schema = _bool_field(body, "need_schema")
            nan_as_null = _bool_field(body, "write_nan_and_inf_null")
            as_objects = isinstance(rows[0], dict)

            def input_schema() -> list[tuple[str, SQLType]]:
                try:
                    schema = self.store.input_schema(name)
                except DataError as e:
                    raise HTTPError(404, str(e)) from None
                self._known_deployments.add(name)
                return schema

            def encode(names: Sequence[str], result: list[Column]) -> dict[str, Any]:
                return _features_json(names, result, need_schema, nan_as_null, as_objects)

            if len(rows) <= _INLINE_MAX_ROWS:

                def compute() -> tuple[Sequence[str], list[Column]]:
                    typed = check_rows(
                        rows, input_schema(), what=f"request to {name!r}", unknown="ignore", missing="error"
                    )
                    return self.store.request_columns(name, typed)

                inline = self._inline_store_call(compute)
                names, result = inline if inline is not None else await self._store_call(compute)
                response = self._ok(encode(names, result))
                self.metrics.drift.served(name, names, result)
            else:
                data = await self._compute_in_chunks(name, rows, input_schema, encode)
                response = await self._off_loop(self._ok, data)
            ok = True
            return response
        finally:
            if name in self._known_deployments:
                self.metrics.observe_request(name, time.perf_counter() - start, len(rows), ok)
            if len(rows) > _INLINE_MAX_ROWS:
                self._return_memory_soon()

    async def _compute_in_chunks(
        self,
        name: str,
        rows: list[Any],
        input_schema: Callable[[], list[tuple[str, SQLType]]],
        encode: Callable[[Sequence[str], list[Column]], dict[str, Any]],
    ) -> dict[str, Any]:
        """A large feature request, computed without holding the event loop or the store for long: its rows are
        checked and encoded on other threads, and computed :data:`_CHUNK_ROWS` rows per store call, so that the
        requests and inserts queued meanwhile are served between chunks instead of after the whole request. The
        rows of one request do not see each other, so the chunks answer as one call would; each chunk is logged for
        ``verify`` as a request of its own, with the rows it saw."""
        schema = await self._store_call(input_schema)
        typed = await self._off_loop(
            check_rows, rows, schema, what=f"request to {name!r}", unknown="ignore", missing="error"
        )

        def chunk(part: TypedRows) -> tuple[int, Sequence[str], list[Column]]:
            return (self.store.describe_deployment(name)["version"], *self.store.request_columns(name, part))

        data: dict[str, Any] = {}
        version = None
        for begin in range(0, typed.num_rows, _CHUNK_ROWS):
            current, names, result = await self._store_call(chunk, typed.slice(begin, begin + _CHUNK_ROWS))
            if version is not None and current != version:
                raise HTTPError(409, f"deployment {name!r} changed while the request was computed; send it again")
            version = current
            self.metrics.drift.served(name, names, result)
            part = await self._off_loop(encode, names, result)
            if data:
                data["data"].extend(part["data"])
            else:
                data = part
        return data

    @staticmethod
    async def _off_loop(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``fn(*args, **kwargs)`` on a thread of the default executor (work that needs no store: checking and
        encoding rows); errors in the data become their answers (:func:`_http_error`)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))
        except OpenFeatError as e:
            raise _http_error(e) from None

    def _return_memory_soon(self) -> None:
        """Hand the heap freed by a large request or a verify back to the system, shortly after its answer is sent.

        The Python objects of a large JSON body (lists, ints, floats) and of its answer leave glibc's heap
        fragmented: measured in process, RSS stayed 244 MB above its start (267 -> 511 MB) after a 300,000-row
        request, with nothing held by Arrow's memory pool, and ``malloc_trim`` brought it back to 288 MB. The trim
        runs off the event loop, after a delay that lets the handler's references (the body, the answer bytes) be
        dropped, and once for a burst of requests.
        """
        if self._trim_pending or _MALLOC_TRIM is None:
            return
        self._trim_pending = True
        loop = asyncio.get_running_loop()

        def trim() -> None:
            self._trim_pending = False
            assert _MALLOC_TRIM is not None
            _MALLOC_TRIM(0)

        loop.call_later(_TRIM_DELAY_S, loop.run_in_executor, None, trim)

    async def _verify(self, req: _Request) -> _Response:
        name = self._deployment_ref(self._segment(req, 1), self._segment(req, 3))

        def start() -> Generator[None, None, ConsistencyReport]:
            self._describe(name)  # 404 when there is no such deployment
            return self.store.verify_steps(name)

        # Each step (one recomputed row) is a store call of its own: the recomputation reads the tables that inserts
        # append to, and feature requests and inserts queued meanwhile run between steps instead of waiting for
        # the whole verify (76 s with 1,548 logged requests).
        steps = await self._store_call(start)
        while True:
            report = await self._store_call(_next_step, steps)
            if report is not None:
                self.metrics.observe_verify(report)
                self._return_memory_soon()
                return self._ok(report.to_dict())

    async def _monitor(self, req: _Request) -> _Response:
        """The served features of the logged requests against the reference profile, the latest logged requests
        recomputed offline, and the decision (:mod:`openfeat_core.monitoring.monitor`); the body: its options."""
        name = self._deployment_ref(self._segment(req, 1), self._segment(req, 3))
        try:
            options = MonitorOptions.from_dict(await self._json_object(req))
        except ValueError as e:
            raise HTTPError(400, f"monitor options: {e}") from None

        def drift() -> dict[str, Any]:
            self._describe(name)  # 404 when there is no such deployment
            requests, served = served_features(self.store, name, period_seconds=options.period_seconds)
            reference = self.store.reference(name)
            return drift_report(reference, served, requests, features=options.features, thresholds=options.thresholds)

        report = await self._store_call(drift)
        consistency = None
        if options.consistency_requests and report["requests"]:
            verify = functools.partial(self.store.verify_steps, limit=options.consistency_requests)
            steps = await self._store_call(verify, name)
            while consistency is None:  # one recomputed row per store call, as verify does
                consistency = await self._store_call(_next_step, steps)
            self.metrics.observe_verify(consistency)  # the dashboard's consistency row follows monitor runs too
        return self._ok(decide(report, consistency, options.thresholds))

    # ------------------------------------------------------------------ SQL
    async def _sql(self, req: _Request) -> _Response:
        db = self._segment(req, 1)
        body = await self._json_object(req)
        sql = _str_field(body, "sql", required=True)
        mode = body.get("mode")
        if not isinstance(mode, str) or mode.lower() not in MODES:
            raise HTTPError(400, f"field 'mode' must be one of {', '.join(map(repr, MODES))}, not {mode!r}")
        parameters = body.get("input")
        if parameters is not None and not (isinstance(parameters, dict) and not parameters.get("data")):
            raise HTTPError(
                400, "field 'input' (values for '?' placeholders) is not supported: write the values into the SQL"
            )

        def run() -> StatementResult:
            try:
                return execute_sql(
                    self.store,
                    sql,
                    MODES[MODES.index(mode.lower())],
                    workspace=self.workspace,
                    db=db,
                    file_access=self.file_access,
                )
            finally:
                self._table_schemas.clear()

        # On the store thread like every store call (a long LOAD DATA or SELECT keeps the event loop free); a failed
        # statement is answered as the error it raised (403 for a file access the policy refuses).
        result = await self._store_call(run)
        payload: dict[str, Any] = {"code": 0, "msg": result.message}
        if result.rows is not None:
            payload["data"] = _result_json(result.rows)
        return 200, _json_body(payload), None, ()

    # ------------------------------------------------------------------ tables
    def _databases(self, db: str = "default") -> list[str]:
        """The databases, as ``SHOW DATABASES`` run in ``db`` answers (on the store thread; the statement node is
        made here: parsing the text would cost a PUT more than its insert, 1.4 ms against 45 us)."""
        rows = online_statements.show(self.store, Show(this="DATABASES"), db)
        return [str(v) for v in rows.column(0).to_pylist()]

    def _database_known(self, db: str) -> bool:
        """Whether a route's ``{db}`` names a database: one ``SHOW DATABASES`` lists, or any name while the catalog
        lists none (a store used without ``CREATE DATABASE`` keeps OpenFeat's one namespace, whatever ``{db}``)."""
        dbs = self._databases(db)
        return not dbs or db in dbs

    def _check_database(self, db: str) -> None:
        if not self._database_known(db):
            raise HTTPError(404, "DB not found", detail=f"database {db!r} does not exist")

    async def _list_databases(self, req: _Request) -> _Response:
        """OpenMLDB's ``GET /dbs``: ``{"code": 0, "msg": "ok", "dbs": [...]}``."""
        dbs = await self._store_call(self._databases)
        return 200, _json_body({"code": 0, "msg": "ok", "dbs": dbs}), None, ()

    def _table_info(self, name: str) -> dict[str, Any]:
        """A table as OpenMLDB's APIServer describes it (its ``TableInfo``: columns, ``column_key`` per declared
        index with its TTL, partitions), on the store thread."""
        info = self.store.describe_table(name)
        options = info.get("options") or {}
        not_null = {
            f.name
            for f in self.store.table_schema(name)
            if f.metadata and f.metadata.get(b"openfeat.not_null", b"").lower() in (b"true", b"1")
        }
        keys = []
        for spec in info.get("declared_indexes") or []:
            parts = [p.strip() for p in spec.split(":")]
            key: dict[str, Any] = {"index_name": parts[0], "col_name": parts[1].split("|")}
            if len(parts) > 2 and parts[2]:
                key["ts_name"] = parts[2]
            key["ttl"] = _ttl_json(spec)
            keys.append(key)
        partitions = int(options.get("partitionnum", 1))
        return {
            "name": name,
            "table_partition_size": partitions,
            "partition_num": partitions,
            "replica_num": int(options.get("replicanum", 1)),
            "column_desc": [
                {"name": n, "type": _column_type_name(parse_type_name(t)), "not_null": n in not_null}
                for n, t in info["schema"]
            ],
            "column_key": keys,
            "added_column_desc": [],
            "partition_key": [],
            "format_version": 1,
            "schema_versions": [],
        }

    def _table_answer(self, db: str, name: str | None) -> dict[str, Any]:
        """``GET /dbs/{db}/tables[/{table}]``: OpenMLDB's top-level ``tables`` / ``table`` (table descriptions),
        and OpenFeat's ``data`` (the names; one table's schema, rows and indexes)."""
        self._check_database(db)
        if name is None:
            names = self.store.list_tables(db if db in self._held_databases() else None)
            infos = [{**self._table_info(self._table_ref(db, n)), "name": n} for n in names]
            return {"tables": infos, "data": {"tables": names}}
        ref = self._table_ref(db, name)
        info = self.store.describe_table(ref)
        data = {"name": name, "schema": _schema_json(info["schema"]), "rows": info["rows"], "indexes": info["indexes"]}
        return {"table": {**self._table_info(ref), "name": name}, "data": data}

    async def _list_tables(self, req: _Request) -> _Response:
        answer = await self._store_call(self._table_answer, self._segment(req, 1), None)
        return 200, _json_body({"code": 0, "msg": "ok", **answer}), None, ()

    async def _describe_table(self, req: _Request) -> _Response:
        answer = await self._store_call(self._table_answer, self._segment(req, 1), self._segment(req, 3))
        return 200, _json_body({"code": 0, "msg": "ok", **answer}), None, ()

    def _table_schema(self, name: str) -> list[tuple[str, SQLType]]:
        """A table's ``(column, type)`` list (``name``: its store key, on the store thread); 404 when there is no
        such table."""
        if not self.store.has_table(name):
            known = ", ".join(self.store.list_tables()) or "none"
            raise HTTPError(404, f"unknown table {name!r} (tables: {known})")
        schema = self._table_schemas.get(name)
        if schema is None:
            schema = [(n, parse_type_name(t)) for n, t in self.store.describe_table(name)["schema"]]
            self._table_schemas[name] = schema
        return schema

    def _insert_json(self, name: str, rows: list[Any]) -> int:
        schema = self._table_schema(name)
        try:
            typed = check_rows(rows, schema, what=f"table {name!r}", unknown="error", missing="error")
            return self.store.insert(name, typed)
        except DataError:
            self._table_schemas.pop(name, None)
            raise

    def _insert_arrow(self, name: str, data: pa.Table) -> int:
        schema = self._table_schema(name)
        unknown = [c for c in data.column_names if c not in {n for n, _ in schema}]
        if unknown:
            raise DataError(f"table {name!r}: unknown column(s) {', '.join(map(repr, unknown))}")
        return self.store.insert(name, data)

    def _put_json(self, db: str, name: str, rows: list[Any]) -> int:
        """``PUT /dbs/{db}/tables/{table}`` on the store thread, its errors worded as the APIServer's."""
        if not self._database_known(db):
            raise HTTPError(404, f"database {db} does not exist", detail=f"unknown database {db!r}")
        try:
            name = self.store.resolve_table(name, db if db in self._held_databases() else None)
        except DataError as e:
            raise HTTPError(404, f"table {name} does not exist in database {db}", detail=str(e)) from None
        schema = self._table_schema(name)
        for i, row in enumerate(rows):
            if isinstance(row, list) and len(row) != len(schema):
                # The APIServer cannot make an insert row of fewer values; more are refused before that.
                msg = _COLUMN_SIZE if len(row) > len(schema) else _TRANSLATE_FAILED if row else _PUT_ONE_ROW
                columns = ", ".join(n for n, _ in schema)
                raise HTTPError(
                    400, msg, detail=f"table {name!r}: row {i}: {len(row)} values for {len(schema)} columns ({columns})"
                )
        try:
            return self._insert_json(name, rows)
        except DataError as e:
            raise HTTPError(400, _TRANSLATE_FAILED, detail=str(e)) from None

    async def _put_rows(self, req: _Request) -> _Response:
        db, name = self._segment(req, 1), self._segment(req, 3)
        try:
            body = await self._json_object(req)
            rows = _rows_field(body, "value", allow_empty=False)
        except HTTPError as e:
            if e.status != 400 or e.detail is not None:  # (the body is not JSON: answered as it is)
                raise
            raise HTTPError(400, _PUT_ONE_ROW, detail=e.msg) from None
        inserted = await self._store_call(self._put_json, db, name, rows)
        return self._ok({"table": name, "rows": inserted})

    async def _post_rows(self, req: _Request) -> _Response:
        db, name = self._segment(req, 1), self._segment(req, 3)
        if self._media_type(req) == ARROW_STREAM:
            raw = await self._read_body(req)
            try:
                data = pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
                raise HTTPError(400, f"request body is not a valid Arrow IPC stream: {e}") from None
            inserted = await self._store_call(lambda: self._insert_arrow(self._table_ref(db, name), data))
        else:
            body = await self._json_object(req)
            rows = _rows_field(body, "rows", allow_empty=True)
            inserted = await self._store_call(lambda: self._insert_json(self._table_ref(db, name), rows))
        return self._ok({"table": name, "rows": inserted})


def create_app(
    store: OnlineStore,
    *,
    token: str | None = None,
    max_body_bytes: int = 16 << 20,
    workspace: str | None = None,
    max_request_rows: int = MAX_REQUEST_ROWS,
    data_roots: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> FeatureService:
    """The ASGI application serving ``store`` (see the module docstring for the routes).

    Args:
        store: the store to serve; from now on only the application should call it.
        token: when set, every route but ``/health`` requires ``Authorization: Bearer <token>``.
        max_body_bytes: request bodies larger than this are answered 413.
        workspace: URI (path, ``file://``, ``s3://``) of the workspace that ``POST /dbs/{db}`` uses as offline
            storage (offline-mode ``LOAD DATA`` and ``SELECT``); None: those statements are refused.
        max_request_rows: feature requests with more rows are answered 413 (before they are computed).
        data_roots: the directories (and ``s3://bucket/prefix`` locations) that ``LOAD DATA`` may read and
            ``INTO OUTFILE`` may write, besides the workspace; never the store's own directory. None given and no
            workspace: every file statement is refused (403). See :mod:`openfeat_core.io.access`.
        allowed_hosts: host names answered besides IP literals and ``localhost`` (``"*"``: any); requests naming
            another host get 421 (DNS rebinding).
        allowed_origins: browser origins allowed to call the service (CORS); any other ``Origin`` gets 403.

    Returns:
        An ASGI 3 application; call its ``close()`` (or let the server's lifespan shutdown do it) when done.

    Raises:
        OpenFeatError: ``workspace`` is a malformed URI, or a data root is not an existing directory.
    """
    return FeatureService(
        store,
        token=token,
        max_body_bytes=max_body_bytes,
        workspace=workspace,
        max_request_rows=max_request_rows,
        data_roots=data_roots,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionLimits:
    """How long the server waits for a request, and how many connections it keeps open.

    uvicorn itself only bounds the idle time between requests: a client sending half a request head, or a body
    byte now and then, kept its connection (and a file descriptor) forever, and a few hundred of them locked every
    other client out.

    Attributes:
        head_timeout_s: a request's line and headers must arrive within this many seconds of the connection being
            opened (or of the previous response); else the server answers 408, if the request had begun, and closes
            the connection.
        body_timeout_s: its body must then arrive within this many seconds; else the connection is closed.
        keep_alive_s: an idle kept-alive connection is closed after this many seconds.
        max_connections: a connection opened beyond this many closes the oldest one that is waiting for a request
            head (a slow or idle client), so that a new client is still served; when every open connection is
            busy with a request, the new one is answered 503. None: the open-file limit (which the server raises
            to its hard limit) less a reserve for the store's own files.
    """

    head_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_s: int = 5
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for name in ("head_timeout_s", "body_timeout_s", "keep_alive_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")


# File descriptors kept out of the default connection cap: the store's log and snapshots, the listening socket, the
# workspace's files, and those of Python, Arrow and the event loop.
_RESERVED_FILES = 64
# The default cap, however high the open-file limit: every connection costs buffers and a parser.
_DEFAULT_MAX_CONNECTIONS = 10_000


def _connection_cap(limits: ConnectionLimits) -> int:
    """``limits.max_connections``, or by default the open-file limit (its soft value first raised to the hard one)
    less :data:`_RESERVED_FILES`, so that connections never exhaust the descriptors the store needs."""
    if limits.max_connections is not None:
        return limits.max_connections
    try:
        import resource
    except ImportError:  # not a Unix: no such limit to read
        return _DEFAULT_MAX_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else _DEFAULT_MAX_CONNECTIONS + _RESERVED_FILES
    if soft == resource.RLIM_INFINITY:
        soft = wanted
    elif soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            logger.warning("could not raise the open-file limit from %d to %d", soft, wanted)
    return max(1, min(_DEFAULT_MAX_CONNECTIONS, soft - _RESERVED_FILES))


def _raw_response(status: int, reason: str, msg: str) -> bytes:
    """A complete HTTP response that closes the connection, for answers given outside the application."""
    body = _json_body({"code": ERROR_CODE, "msg": msg})
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


_REQUEST_TIMEOUT_RESPONSE = _raw_response(408, "Request Timeout", "the request head did not arrive in time")
_BUSY_RESPONSE = _raw_response(503, "Service Unavailable", "too many connections, all busy with requests; retry")


def _guarded_http_protocol(head_timeout_s: float, body_timeout_s: float, max_connections: int) -> type[Any]:
    """uvicorn's httptools protocol with the request timeouts and the connection cap of :class:`ConnectionLimits`.

    uvicorn has no timeout on the request head or body, and its ``limit_concurrency`` answers a new request 503
    when slow connections fill the limit instead of making room for it: hence this subclass.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpProtocol(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None
        _phase = "head"  # "head": awaiting (or reading) a request head; "body": reading its body; "app": served
        _begun = False  # bytes of the awaited request head have arrived

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            if len(self.connections) > max_connections:
                oldest = next(iter(waiting), None)
                if oldest is None:
                    self.transport.write(_BUSY_RESPONSE)
                    self.transport.close()
                    return
                oldest._expire()
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            waiting.pop(self, None)
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._begun = True

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            waiting.pop(self, None)
            self._phase = "body"
            self._arm(body_timeout_s)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._phase = "app"
            self._disarm()
            if self.cycle is not None and self.cycle.response_complete:  # answered before the body was read
                self._await_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._phase == "app" and not self.transport.is_closing():
                self._await_head()

        def _await_head(self) -> None:
            self._phase, self._begun = "head", False
            waiting.pop(self, None)
            waiting[self] = None  # at the back: the newest
            self._arm(head_timeout_s)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expire(self) -> None:
            """Close the connection: its request is late, or it is the oldest waiting one and room is needed."""
            self._disarm()
            waiting.pop(self, None)
            if not self.transport.is_closing():
                if self._phase == "head" and self._begun:
                    self.transport.write(_REQUEST_TIMEOUT_RESPONSE)
                self.transport.close()  # a body still awaited: the application sees the client gone

    # The connections waiting for a request head (new, slow, or idle between requests), oldest first (a dict keeps
    # insertion order): the ones a new connection beyond the cap evicts.
    waiting: dict[GuardedHttpProtocol, None] = {}
    return GuardedHttpProtocol


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def make_server(
    store: OnlineStore,
    host: str = "127.0.0.1",
    port: int = 9080,
    token: str | None = None,
    allow_insecure_remote: bool = False,
    *,
    max_body_bytes: int = 16 << 20,
    log_level: str = "info",
    workspace: str | None = None,
    max_request_rows: int = MAX_REQUEST_ROWS,
    connections: ConnectionLimits | None = None,
    data_roots: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> uvicorn.Server:
    """A configured (not yet running) uvicorn server for ``store``; ``serve`` runs one.

    ``workspace``: the offline storage of ``POST /dbs/{db}``, ``max_request_rows``: see :func:`create_app`.
    ``connections``: timeouts and the cap on open connections (:class:`ConnectionLimits`; None: its defaults).
    ``data_roots``, ``allowed_hosts``, ``allowed_origins``: see :func:`create_app`; ``host`` itself is an allowed
    host name too.

    Raises:
        ValueError: ``host`` is not a loopback address, no ``token`` is set and ``allow_insecure_remote`` is false.
        OpenFeatError: ``workspace`` is a malformed URI, or a data root is not an existing directory.
    """
    if token is None and not allow_insecure_remote and not _is_loopback(host):
        raise ValueError(
            f"refusing to serve on non-loopback host {host!r} without a token: anyone who can reach it could read "
            "features and write data. Pass token=... (clients send 'Authorization: Bearer <token>'), or "
            "allow_insecure_remote=True if the network is trusted."
        )
    import uvicorn

    app = create_app(
        store,
        token=token,
        max_body_bytes=max_body_bytes,
        workspace=workspace,
        max_request_rows=max_request_rows,
        data_roots=data_roots,
        allowed_hosts=[host, *allowed_hosts],
        allowed_origins=allowed_origins,
    )
    limits = connections or ConnectionLimits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        http=_guarded_http_protocol(limits.head_timeout_s, limits.body_timeout_s, _connection_cap(limits)),
        timeout_keep_alive=limits.keep_alive_s,
    )
    return uvicorn.Server(config)


def serve(
    store: OnlineStore,
    host: str = "127.0.0.1",
    port: int = 9080,
    token: str | None = None,
    allow_insecure_remote: bool = False,
    *,
    max_body_bytes: int = 16 << 20,
    log_level: str = "info",
    workspace: str | None = None,
    max_request_rows: int = MAX_REQUEST_ROWS,
    connections: ConnectionLimits | None = None,
    data_roots: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> None:
    """Serve ``store`` over HTTP with uvicorn until interrupted.

    ``workspace``, ``max_request_rows``, ``connections``, ``data_roots``, ``allowed_hosts``, ``allowed_origins``:
    see :func:`make_server`.

    Raises:
        ValueError: ``host`` is not a loopback address, no ``token`` is set and ``allow_insecure_remote`` is false.
        OpenFeatError: ``workspace`` is a malformed URI.
    """
    make_server(
        store,
        host,
        port,
        token,
        allow_insecure_remote,
        max_body_bytes=max_body_bytes,
        log_level=log_level,
        workspace=workspace,
        max_request_rows=max_request_rows,
        connections=connections,
        data_roots=data_roots,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
    ).run()


__all__ = [
    "ARROW_STREAM",
    "MAX_REQUEST_ROWS",
    "ASGIApp",
    "ConnectionLimits",
    "FeatureService",
    "HTTPError",
    "Metrics",
    "create_app",
    "make_server",
    "serve",
]
