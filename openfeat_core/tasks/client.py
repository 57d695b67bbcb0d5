"""A JSON client of the OpenFeat HTTP service (``openfeat serve``), standard library only.

The bearer token never has to appear on a command line (where every local user sees it in ``ps``): a client that
is given none finds it with :func:`find_token`, in ``OPENFEAT_TOKEN`` or in the file ``OPENFEAT_TOKEN_FILE``
names (``openfeat serve`` prints the path of the token it generates).
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from openfeat_core.errors import Failure, OpenFeatError
from openfeat_core.tasks.base import InvalidRequest

__all__ = [
    "SERVICE_DB",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "ServiceClient",
    "ServiceError",
    "ServiceUnreachable",
    "find_token",
    "read_token_file",
]

#: The ``{db}`` path segment of the service routes: no database of the catalog, so the routes reach the tables and
#: deployments the tasks make (without a database: in every one).
SERVICE_DB = "openfeat"
#: The environment variable holding the service's bearer token.
TOKEN_ENV = "OPENFEAT_TOKEN"
#: The environment variable naming a file that holds the service's bearer token.
TOKEN_FILE_ENV = "OPENFEAT_TOKEN_FILE"
#: 4xx statuses that say "not now" rather than "not this request": a timeout, too early, too many requests.
_TRANSIENT_4XX = frozenset({408, 425, 429})


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in the file ``path`` (surrounding whitespace, such as a final newline, removed).

    Raises:
        InvalidRequest: the file cannot be read or holds no token.
    """
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"cannot read the token file {os.fspath(path)!r}: {e}") from None
    if not token:
        raise InvalidRequest(f"the token file {os.fspath(path)!r} is empty")
    return token


def find_token(
    token_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The bearer token to send: from ``token_file`` if given, else ``OPENFEAT_TOKEN``, else the file that
    ``OPENFEAT_TOKEN_FILE`` names, else None (no token).

    Raises:
        InvalidRequest: a named token file cannot be read or is empty, or ``OPENFEAT_TOKEN`` is set but empty.
    """
    env = os.environ if environ is None else environ
    if token_file is not None:
        return read_token_file(token_file)
    value = env.get(TOKEN_ENV)
    if value is not None:
        if not value.strip():
            raise InvalidRequest(f"{TOKEN_ENV} is set but empty; give the token, or unset it")
        return value.strip()
    named = env.get(TOKEN_FILE_ENV)
    return read_token_file(named) if named else None


class ServiceError(OpenFeatError):
    """The service answered a request with an HTTP error.

    Attributes:
        status: the HTTP status. 409 (changed meanwhile: send it again) is a ``CONFLICT``; 408, 425, 429 and 5xx
            are ``UNAVAILABLE``; any other 4xx (the request was refused as given) is ``USAGE``.
    """

    failure = Failure.UNAVAILABLE  # set from the status by __init__

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        if status == 409:
            self.failure = Failure.CONFLICT
        elif 400 <= status < 500 and status not in _TRANSIENT_4XX:
            self.failure = Failure.USAGE


class ServiceUnreachable(OpenFeatError):
    """No HTTP answer from the service (connection refused, timeout, not an HTTP server): exit code 1."""

    failure = Failure.UNAVAILABLE


class ServiceClient:
    """A JSON client of the OpenFeat HTTP service (``openfeat_core.server.service``).

    Args:
        url: the service's base URL (``http://host:port``, optionally with a path prefix).
        token: the bearer token; None: :func:`find_token` (``OPENFEAT_TOKEN``, ``OPENFEAT_TOKEN_FILE``), if any.
        timeout: seconds to wait for each answer.

    Raises:
        InvalidRequest: ``url`` is not an http(s) URL, or the token file named in the environment is unreadable.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidRequest(f"--url {url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:9080)")
        self.url = url.rstrip("/")
        self.token = token or find_token()
        self.timeout = timeout

    def call(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, content_type: str = ""
    ) -> Any:
        """Send one request; returns the ``data`` of the service's ``{"code": 0, "msg": "ok", "data": ...}``.

        Args:
            method: HTTP method.
            path: the route, from ``/``.
            payload: a JSON body (or None).
            body: raw body bytes instead of ``payload`` (with ``content_type``), e.g. an Arrow IPC stream.
            content_type: the media type of ``body``.

        Raises:
            ServiceError: the service answered with an HTTP error (its ``msg`` is the message).
            ServiceUnreachable: no HTTP answer (refused, timed out, not an HTTP server).
        """
        if body is None and payload is not None:
            body, content_type = json.dumps(payload).encode(), "application/json"
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", content_type)
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
        """The service's own ``msg`` and ``detail`` (what is wrong), then where it came from."""
        try:
            answer = json.loads(error.read())
            msg = answer.get("msg") if isinstance(answer, dict) else None
            if msg and answer.get("detail"):
                msg = f"{msg}: {answer['detail']}"
        except (ValueError, OSError):
            msg = None
        hint = ""
        if error.code == 401:
            hint = f" (set {TOKEN_ENV}, or {TOKEN_FILE_ENV} / --token-file to the file holding the token)"
        return f"{msg or error.reason}{hint} (HTTP {error.code} from {method} {self.url}{path})"
