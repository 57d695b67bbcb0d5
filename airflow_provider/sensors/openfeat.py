"""``OpenFeatTableSensor``: wait until a workspace table has a (new enough, big enough) version.

The OpenFeat tasks run synchronously in the worker and report their outcome when they end, so no task needs
polling; what a DAG may have to wait for is data written by someone else: another DAG's ingest, or a loader
outside Airflow. Use ``mode="reschedule"`` for long waits, so that the sensor frees its worker slot between pokes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider._arguments import Arguments
from airflow_provider.compat import BaseSensorOperator, Context, PokeReturnValue
from airflow_provider.hooks.openfeat import OpenFeatHook

__all__ = ["OpenFeatTableSensor"]


class OpenFeatTableSensor(BaseSensorOperator):
    """Wait for a workspace table's latest version to be at least ``min_version`` with at least ``min_rows`` rows.

    When it succeeds, its XCom is the version it found: ``{"workspace", "table", "version", "rows", "schema",
    "digest", "created_at"}``, so that downstream tasks can pin it (``inputs={"tx": "{{ ti.xcom_pull('wait')
    ['version'] }}"}``).

    Args:
        table: the workspace table. Templated.
        min_version: the lowest acceptable version number (default: any version). Templated.
        min_rows: the fewest acceptable rows (default: any). Templated.
        conn_id: the ``openfeat`` connection.
        workspace: the workspace (default: the connection's). Templated.
        **kwargs: passed to ``BaseSensorOperator`` (``poke_interval``, ``timeout``, ``mode``...).
    """

    template_fields: Sequence[str] = ("table", "min_version", "min_rows", "workspace")
    ui_color = "#cfe8f3"

    def __init__(
        self,
        *,
        table: str,
        min_version: int | str | None = None,
        min_rows: int | str | None = None,
        conn_id: str = OpenFeatHook.default_conn_name,
        workspace: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.min_version = min_version
        self.min_rows = min_rows
        self.conn_id = conn_id
        self.workspace = workspace

    @cached_property
    def hook(self) -> OpenFeatHook:
        """The connection's hook, created on first use."""
        return OpenFeatHook(openfeat_conn_id=self.conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        """Look at the table's latest version once."""
        from openfeat_core.tasks.base import open_workspace

        args = Arguments(self)
        table = args.text("table", self.table)
        min_version = args.integer("min_version", self.min_version, minimum=1) or 1
        min_rows = args.integer("min_rows", self.min_rows, minimum=0) or 0
        config = self.hook.get_conn()
        location = args.optional_text("workspace", self.workspace) or config.workspace
        if location is None:
            raise args.error(
                "workspace",
                f"is required: pass workspace=... or set the extra 'workspace' of connection {self.conn_id!r}",
            )
        workspace = open_workspace(location, config.storage_options)
        if not workspace.exists(table):
            self.log.info("table %r: not in workspace %s yet", table, workspace.uri)
            return PokeReturnValue(is_done=False)
        latest = workspace.table_info(table)
        if latest.version < min_version or latest.num_rows < min_rows:
            self.log.info(
                "table %r: version %d with %d rows; waiting for version >= %d with >= %d rows",
                table,
                latest.version,
                latest.num_rows,
                min_version,
                min_rows,
            )
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "workspace": workspace.uri,
                "table": table,
                "version": latest.version,
                "rows": latest.num_rows,
                "schema": latest.openmldb_schema,
                "digest": latest.digest,
                "created_at": latest.created_at.isoformat(),
            },
        )
