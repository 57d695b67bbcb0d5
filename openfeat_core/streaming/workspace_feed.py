"""The stream into the workspace too: micro-batches appended as new versions of workspace tables, exactly once.

The consumer that feeds the online store can also append what it stores to workspace tables (``--workspace``), so
the offline history (what ``compute`` and ``export`` read) and the online store come from one stream. Rows are
gathered per table and appended as one new version (:meth:`Workspace.write_table` with ``append=True``: atomic, no
concurrent append lost) every ``every_rows`` rows or ``every_seconds`` seconds, and when the consumer stops.

Exactly once, by the same rule as the store: every version the feed appends carries, in its lineage, the next offset
of every partition it has consumed (``{"stream": {"positions": {"topic[partition]": offset}}}``), and its
idempotency key is derived from them. On start the feed reads the newest version that carries positions (other
writers may append versions without); the consumer reads each partition from the lower of the store's and the
feed's position and gives each its own messages, so a crash between a store frame and a workspace commit, or a
workspace added to a running stream, loses and repeats nothing. The rows not yet appended when the consumer is killed
are read again from Kafka, which must still hold them (its retention) at the next start.

Dead letters stay with the store (and its copies); a workspace version holds rows only.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from openfeat_core.workspace import Workspace

__all__ = ["WorkspaceFeed"]

Position = tuple[str, int]


def _key(tp: Position) -> str:
    return f"{tp[0]}[{tp[1]}]"


def _position(key: str) -> Position:
    topic, _, partition = key.rpartition("[")
    return topic, int(partition.rstrip("]"))


class WorkspaceFeed:
    """Appends a stream's rows to workspace tables in micro-batches (see the module documentation).

    Args:
        workspace: the workspace.
        tables: store table -> workspace table, for every table the stream feeds.
        schemas: store table -> its Arrow schema (the workspace table's, when the feed creates it).
        every_rows: append once this many rows are gathered (over all tables).
        every_seconds: append once the oldest gathered row waited this long.
    """

    def __init__(
        self,
        workspace: Workspace,
        tables: Mapping[str, str],
        schemas: Mapping[str, pa.Schema],
        *,
        every_rows: int = 100_000,
        every_seconds: float = 60.0,
    ) -> None:
        self.workspace = workspace
        self.tables = dict(tables)
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self._schemas = dict(schemas)
        self._positions: dict[str, dict[Position, int]] = {t: self._stored(w) for t, w in self.tables.items()}
        self._pending: dict[str, list[pa.Table]] = {t: [] for t in self.tables}
        self._advanced: dict[str, dict[Position, int]] = {t: {} for t in self.tables}
        self._rows = 0
        self._since: float | None = None
        self.versions_written = 0

    def _stored(self, name: str) -> dict[Position, int]:
        """The positions in the newest version of workspace table ``name`` that carries them."""
        if not self.workspace.exists(name):
            return {}
        for version in reversed(self.workspace.versions(name)):
            stream = version.lineage.get("stream") if isinstance(version.lineage, Mapping) else None
            if isinstance(stream, Mapping) and isinstance(stream.get("positions"), Mapping):
                return {_position(k): int(v) for k, v in stream["positions"].items()}
        return {}

    def add_table(self, table: str, schema: pa.Schema) -> None:
        """The schema of a store table created while consuming (``create_tables``)."""
        self._schemas[table] = schema

    def positions(self, table: str) -> dict[Position, int]:
        """``(topic, partition) -> next offset`` of the messages of store table ``table`` the workspace has (or will
        have once the gathered rows are appended)."""
        return {**self._positions[table], **self._advanced[table]}

    def add(self, table: str, rows: pa.Table | None, positions: Mapping[Position, int]) -> None:
        """Gather the rows of messages of ``table`` and the positions past them (bad messages advance them too)."""
        if rows is not None and rows.num_rows:
            self._pending[table].append(rows)
            self._rows += rows.num_rows
        self._advanced[table].update(positions)
        if self._since is None and (rows is not None or positions):
            self._since = time.monotonic()

    def due(self) -> bool:
        """Whether the gathered rows should be appended now."""
        return self._rows >= self.every_rows or (
            self._since is not None and time.monotonic() - self._since >= self.every_seconds
        )

    def flush(self) -> int:
        """Append the gathered rows of each table as one new version; returns the rows appended."""
        appended = 0
        for table, name in self.tables.items():
            advanced = self._advanced[table]
            if not advanced:
                continue
            positions = {**self._positions[table], **advanced}
            batches = self._pending[table]
            data = pa.concat_tables(batches) if batches else self._schemas[table].empty_table()
            lineage: dict[str, Any] = {
                "stream": {"positions": {_key(tp): offset for tp, offset in sorted(positions.items())}},
                "source": "ingest-stream",
            }
            digest = hashlib.sha256(json.dumps(lineage["stream"], sort_keys=True).encode()).hexdigest()[:32]
            self.workspace.write_table(
                name,
                data,
                schema=self._schemas[table],
                lineage=lineage,
                idempotency_key=f"ingest-stream:{digest}",
                append=True,
            )
            self.versions_written += 1
            appended += data.num_rows
            self._positions[table] = positions
            self._pending[table] = []
            self._advanced[table] = {}
        self._rows = 0
        self._since = None
        return appended
