"""``OpenFeatSQL``: one OpenMLDB-style statement posted to ``openfeat serve`` by DS's built-in Http task.

The route for workers with nothing installed: ``openfeat serve`` answers OpenMLDB's SQL route,
``POST {url}/dbs/{db}`` with ``{"sql": "...", "mode": "online"}`` (``CREATE TABLE``, ``LOAD DATA INFILE`` from one
of the service's data roots, ``SELECT ... INTO OUTFILE``, ``DEPLOY``; :mod:`openfeat_core.server.statements`), and
a failed statement with a 4xx or 5xx and ``{"code", "msg"}``, so DS's default check (HTTP 200) is the right one.

pydolphinscheduler 4.1's ``Http(http_params={...})`` writes its parameters as local parameters (``direct``,
``type``), which DS's Http task ignores: DS 3.1 and 3.2 read ``prop``, ``httpParametersType`` (``BODY``,
``HEADERS``, ``PARAMETER``) and ``value``. This class writes them in DS's form. DS builds the JSON body from BODY
parameters as string values, which a statement is (a deployment request, whose ``input`` is an array, is not).

The bearer token travels in a header; DS writes a task's parameters into its log, so give the workflow a token of
its own (a DS parameter such as ``${token}`` keeps it out of the definition).
"""

from __future__ import annotations

from typing import Any

from pydolphinscheduler.tasks.http import Http, HttpMethod

from openfeat_core.tasks.arguments import Arguments

__all__ = ["OpenFeatSQL"]


class OpenFeatSQL(Http):
    """DS's Http task (``taskType: HTTP``) posting ``sql`` to ``{url}/dbs/{db}``.

    Args:
        name: the DS task name.
        url: the service's base URL as the workers reach it (DS parameters allowed: ``${url}``).
        sql: one statement (DS parameters are substituted in it: ``LOAD DATA INFILE '${data_file}' ...``).
        db: the ``{db}`` of the route.
        mode: ``online`` (the store) or ``offline`` (a workspace; ``openfeat serve --workspace``).
        token: the bearer token (``Authorization: Bearer <token>``), or None for a service without one.
        **kwargs: the Http task's other settings (``http_check_condition``, ``condition``, ``connect_timeout``...)
            and any task's (``fail_retry_times``...).
    """

    def __init__(
        self,
        name: str,
        *,
        url: str,
        sql: str,
        db: str = "demo_db",
        mode: str = "online",
        token: str | None = None,
        **kwargs: Any,
    ) -> None:
        checks = Arguments(f"{type(self).__name__}(name={name!r})")
        base = checks.text("url", url).rstrip("/")
        body = {"sql": checks.text("sql", sql), "mode": checks.choice("mode", mode, ("online", "offline")) or "online"}
        headers = {} if checks.optional_text("token", token) is None else {"Authorization": f"Bearer {token}"}
        kwargs.setdefault("http_method", HttpMethod.POST)
        super().__init__(name, f"{base}/dbs/{checks.text('db', db)}", **kwargs)
        self._properties = [
            {"prop": key, "httpParametersType": kind, "value": value}
            for kind, fields in (("BODY", body), ("HEADERS", headers))
            for key, value in fields.items()
        ]

    @property
    def http_params(self) -> list[dict[str, str]]:
        """The request's parameters as DS's Http task reads them (``prop``, ``httpParametersType``, ``value``)."""
        return self._properties
