"""``OpenFeatHook``: the ``openfeat`` connection, turned into what the task API needs.

A connection holds, for the tasks of a DAG:

========================= ===================================================================================
field                     meaning
========================= ===================================================================================
host (+ port)             the online service's URL (``http://feature-service:9080``); a host without a scheme
                          gets ``http://`` (or the extra ``scheme``) and the port, so that the URI form
                          ``openfeat://:TOKEN@feature-service:9080?workspace=...`` works
password                  the service's bearer token (what ``openfeat serve`` printed, or its ``--token-file``);
                          never logged. Empty: the worker's ``OPENFEAT_TOKEN`` / ``OPENFEAT_TOKEN_FILE``
extra ``workspace``       the workspace directory or URI (``s3://bucket/prefix``)
extra ``store``           an embedded durable store directory, when there is no service
extra ``timezone``        default zone of calendar functions
extra ``timeout``         seconds to wait for each answer of the service
extra ``storage_options`` object-store settings of the workspace and of s3:// sources and destinations (a JSON
                          object: region, endpoint_url...)
extra ``tracking_uri``,   exported as ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_NAME`` while a task runs, for
``experiment_name``       the MLflow task hooks
========================= ===================================================================================

Extra fields may also be spelled ``extra__openfeat__<name>`` (how Airflow 2 forms stored them before 2.3).
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_provider import CONNECTION_TYPE
from airflow_provider.compat import BaseHook
from airflow_provider.exceptions import OpenFeatConnectionError

__all__ = ["OpenFeatConnectionConfig", "OpenFeatHook"]

#: Environment variables a task's tracking settings are exported as (MLflow reads them itself).
_TRACKING_ENV = {"tracking_uri": "MLFLOW_TRACKING_URI", "experiment_name": "MLFLOW_EXPERIMENT_NAME"}
#: The task API's variable for the pipeline run id (``openfeat_core.tasks.PARENT_RUN_ENV``; not imported from
#: there, because loading the task API takes a second and this module is imported while DAG files are parsed).
PARENT_RUN_ENV = "OPENFEAT_PARENT_RUN_ID"


@dataclass(frozen=True)
class OpenFeatConnectionConfig:
    """What an ``openfeat`` connection says, checked and normalised.

    Attributes:
        conn_id: the connection's id (for messages).
        workspace: workspace directory or URI, or None.
        url: the online service's base URL, or None.
        token: the service's bearer token, or None (never shown in ``repr``).
        store: an embedded store directory, or None.
        timezone: default zone of calendar functions, or None.
        timeout: seconds to wait for each answer of the service, or None (the task's default).
        storage_options: object-store settings of the workspace and of ``s3://`` sources and destinations, or None
            (never shown in ``repr``: it may hold credentials).
        tracking_uri: MLflow tracking URI, or None.
        experiment_name: MLflow experiment, or None.
    """

    conn_id: str
    workspace: str | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    store: str | None = None
    timezone: str | None = None
    timeout: float | None = None
    storage_options: Mapping[str, Any] | None = field(default=None, repr=False)
    tracking_uri: str | None = None
    experiment_name: str | None = None


class OpenFeatHook(BaseHook):
    """Reads an ``openfeat`` connection for the OpenFeat operators and checks it (``test_connection``).

    The hook holds no client: the task API opens the workspace, store or service itself for each task. Create it
    lazily (the operators do, through a cached property), since the connection is read on first use.

    Args:
        openfeat_conn_id: the connection id (default ``openfeat_default``).
    """

    conn_name_attr: ClassVar[str] = "openfeat_conn_id"
    default_conn_name: ClassVar[str] = "openfeat_default"
    conn_type: ClassVar[str] = CONNECTION_TYPE
    hook_name: ClassVar[str] = "OpenFeat"

    def __init__(self, openfeat_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.openfeat_conn_id = openfeat_conn_id
        self._config: OpenFeatConnectionConfig | None = None

    # ------------------------------------------------------------------------------------------------------------
    # Airflow 2 connection form (Airflow 3 reads the same fields from get_provider_info()).
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The extra fields of the connection form (Airflow 2.x; Airflow 3 uses the provider info's conn-fields)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        from airflow_provider import _CONNECTION_FIELDS

        return {
            name: StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec["description"])
            for name, spec in _CONNECTION_FIELDS.items()
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form (Airflow 2.x)."""
        from airflow_provider import _UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": list(_UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(_UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(_UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # ------------------------------------------------------------------------------------------------------------
    def get_conn(self) -> OpenFeatConnectionConfig:
        """The connection's settings (read once per hook).

        Raises:
            OpenFeatConnectionError: an extra field has the wrong type (the message names it and the connection).
        """
        if self._config is None:
            self._config = self._read_config()
        return self._config

    def _read_config(self) -> OpenFeatConnectionConfig:
        conn = self.get_connection(self.openfeat_conn_id)
        extra = conn.extra_dejson if isinstance(conn.extra_dejson, Mapping) else {}
        where = f"connection {self.openfeat_conn_id!r}"

        def text(name: str) -> str | None:
            value = extra.get(name, extra.get(f"extra__{CONNECTION_TYPE}__{name}"))
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise OpenFeatConnectionError(f"{where}: extra {name!r} must be a string, got {value!r}")
            return value

        timeout_text = extra.get("timeout", extra.get(f"extra__{CONNECTION_TYPE}__timeout"))
        timeout: float | None = None
        if timeout_text not in (None, ""):
            try:
                timeout = float(timeout_text)
            except (TypeError, ValueError):
                timeout = math.nan
            if not timeout > 0 or isinstance(timeout_text, bool):
                raise OpenFeatConnectionError(
                    f"{where}: extra 'timeout' must be a positive number of seconds, got {timeout_text!r}"
                )
        storage_options = extra.get("storage_options")
        if storage_options is not None and not isinstance(storage_options, Mapping):
            raise OpenFeatConnectionError(
                f"{where}: extra 'storage_options' must be a JSON object, got {type(storage_options).__name__}"
            )
        return OpenFeatConnectionConfig(
            conn_id=self.openfeat_conn_id,
            workspace=text("workspace"),
            url=_service_url(conn.host, conn.port, text("scheme"), where),
            token=conn.password or None,
            store=text("store"),
            timezone=text("timezone"),
            timeout=timeout,
            storage_options=dict(storage_options) if storage_options else None,
            tracking_uri=text("tracking_uri"),
            experiment_name=text("experiment_name"),
        )

    @contextmanager
    def task_environment(self, parent_run_id: str | None) -> Iterator[None]:
        """Export the connection's tracking settings and the pipeline run id while a task runs, then restore.

        The task API's hooks (MLflow tracking) read ``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME`` and
        ``OPENFEAT_PARENT_RUN_ID``; Airflow itself exports the ``AIRFLOW_CTX_*`` variables (DAG, run, task, try).
        """
        from openfeat_core.tasks.hooks import exported_environment  # the task API is loaded to run the task anyway

        config = self.get_conn()
        wanted = {env: getattr(config, attr) for attr, env in _TRACKING_ENV.items()}
        wanted[PARENT_RUN_ENV] = parent_run_id
        with exported_environment(wanted):
            yield

    def test_connection(self) -> tuple[bool, str]:
        """Check what the connection names: the workspace can be listed, the service answers and takes the token,
        the store directory exists (or can be created).

        Returns:
            ``(True, what was checked)`` or ``(False, what failed)``.
        """
        try:
            config = self.get_conn()
        except Exception as e:
            return False, str(e)
        if config.workspace is None and config.url is None and config.store is None:
            return False, (
                f"connection {config.conn_id!r} names no workspace (extra 'workspace'), no service (host) and no "
                "store (extra 'store')"
            )
        checks = []
        try:
            if config.workspace is not None:
                checks.append(_check_workspace(config))
            if config.url is not None:
                checks.append(_check_service(config))
            if config.store is not None:
                checks.append(_check_store(config.store))
        except Exception as e:
            return False, "; ".join([*checks, f"{type(e).__name__}: {e}"])
        return True, "; ".join(checks)


def _service_url(host: str | None, port: int | None, scheme: str | None, where: str) -> str | None:
    """The service URL of a connection's host and port (None when the host is empty)."""
    if not host:
        return None
    if "://" in host:
        parsed = urllib.parse.urlsplit(host)
        if port and parsed.port is None:
            parsed = parsed._replace(netloc=f"{parsed.netloc}:{port}")
        url = urllib.parse.urlunsplit(parsed)
    else:
        url = f"{scheme or 'http'}://{host}" + (f":{port}" if port else "")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise OpenFeatConnectionError(f"{where}: host {host!r} is not an http(s) URL of the online service")
    return url.rstrip("/")


def _check_workspace(config: OpenFeatConnectionConfig) -> str:
    from openfeat_core.tasks.base import open_workspace

    assert config.workspace is not None
    workspace = open_workspace(config.workspace, config.storage_options)
    tables = workspace.list_tables()
    shown = ", ".join(f"{t.table} v{t.version}" for t in tables[:10]) + (", ..." if len(tables) > 10 else "")
    return f"workspace {workspace.uri}: {len(tables)} tables" + (f" ({shown})" if tables else "")


def _check_service(config: OpenFeatConnectionConfig) -> str:
    from openfeat_core.tasks.client import SERVICE_DB, ServiceClient

    assert config.url is not None
    client = ServiceClient(config.url, config.token, config.timeout or 10.0)
    client.call("GET", "/health")
    # /health needs no token; listing the deployments checks it.
    deployments = client.call("GET", f"/dbs/{SERVICE_DB}/deployments")["deployments"]
    return f"service {client.url}: up, {len(deployments)} deployments"


def _check_store(store: str) -> str:
    path = os.path.abspath(os.path.expanduser(store))
    if os.path.isdir(path):
        return f"store {path}: exists"
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    if not os.access(parent or "/", os.W_OK):
        raise OpenFeatConnectionError(f"store {path} does not exist and cannot be created under {parent}")
    return f"store {path}: not created yet (deploy with create_store=True creates it)"
