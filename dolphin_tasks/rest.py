"""Minimal bootstrap (to be replaced)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


class DolphinSchedulerError(RuntimeError):
    pass


class DolphinSchedulerREST:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session_id: str | None = None

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        data = urllib.parse.urlencode(params or {})
        url = self.url + path
        body = None
        if method == "GET":
            url += "?" + data
        else:
            body = data.encode()
        req = urllib.request.Request(url, data=body, method=method)
        if self.session_id:
            req.add_header("sessionId", self.session_id)
        with urllib.request.urlopen(req, timeout=30) as r:
            out = json.loads(r.read())
        if out.get("code") != 0:
            raise DolphinSchedulerError(f"{method} {path}: {out}")
        return out.get("data")

    def login(self, user: str, password: str) -> None:
        self.session_id = self._call("POST", "/login", {"userName": user, "userPassword": password})["sessionId"]

    def workers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/monitor/workers")
