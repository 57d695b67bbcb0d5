"""One committed version of a workspace table: what its manifest records, as a small JSON-able value."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from openfeat_core.errors import DataError
from openfeat_core.types import sql_type_of_arrow

__all__ = ["LINEAGE_KEY", "MANIFEST_FORMAT", "TableVersion", "openmldb_schema_of"]

#: Version of the manifest layout; a reader refuses manifests written by a newer layout.
MANIFEST_FORMAT = 1
#: The lineage key under which OpenFeat records how it produced a table version (a task, a LOAD DATA...).
LINEAGE_KEY = "openfeat"


@dataclass(frozen=True)
class TableVersion:
    """The catalog entry of one committed table version (the content of its manifest).

    Attributes:
        table: table name.
        version: 1, 2, 3... per table.
        schema: Arrow schema of the data (with its metadata).
        num_rows: number of rows.
        num_bytes: total size of the Parquet data files.
        created_at: commit time (UTC).
        files: the data files, relative to the table directory (``data/<attempt>/part-00000.parquet``...), in order.
            An append version lists its parent's files, then the ones it added.
        digest: ``sha256:<hex>`` over the per-file SHA-256 of the Parquet bytes, in file order (for an append
            version: over its parent's digest, then the per-file SHA-256 of the files it added). Rows are written in
            fixed-size row groups and files whatever the input batching, so the same rows written with the same
            workspace settings and pyarrow version give the same digest; it identifies bytes, not logical equality.
        attempt: the write attempt that produced the version (its directory name under ``data/``): it holds the
            data files the version added and its side files.
        workspace: URI of the workspace root; empty when the value was built from a bare manifest.
        idempotency_key: the key the version was written with, if any.
        lineage: caller-supplied JSON-able provenance (plan digest, input table versions, source files...).
        parent: for an append version, the version whose rows (files) it starts with; None otherwise.
    """

    table: str
    version: int
    schema: pa.Schema
    num_rows: int
    num_bytes: int
    created_at: datetime
    files: tuple[str, ...]
    digest: str
    attempt: str
    workspace: str = ""
    idempotency_key: str | None = None
    lineage: Mapping[str, Any] = field(default_factory=dict, hash=False)
    parent: int | None = None

    @property
    def openmldb_schema(self) -> str | None:
        """The schema as an OpenMLDB column list (``"uid bigint, ts timestamp"``); None if a column has no SQL type."""
        return openmldb_schema_of(self.schema)

    @property
    def data_uris(self) -> tuple[str, ...]:
        """Full URIs of the data files (plain absolute paths for a local workspace).

        Raises:
            DataError: the value carries no workspace URI (built from a bare manifest dict).
        """
        if not self.workspace:
            raise DataError(f"table {self.table!r} version {self.version} carries no workspace URI; open it by name")
        return tuple(f"{self.workspace}/tables/{self.table}/{f}" for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (a few hundred bytes plus the schema): fit for an Airflow XCom.

        ``arrow_schema`` is the base64 Arrow IPC schema; ``openmldb_schema`` and ``data_uris`` are derived values
        included for readers that do not load OpenFeat (``from_dict`` ignores them).
        """
        out = self.manifest_dict()
        out["workspace"] = self.workspace
        out["data_uris"] = list(self.data_uris) if self.workspace else []
        return out

    def manifest_dict(self) -> dict[str, Any]:
        """What the manifest file stores: :meth:`to_dict` without the location, so a workspace can be moved."""
        return {
            "format": MANIFEST_FORMAT,
            "table": self.table,
            "version": self.version,
            "openmldb_schema": self.openmldb_schema,
            "arrow_schema": base64.b64encode(self.schema.serialize().to_pybytes()).decode("ascii"),
            "num_rows": self.num_rows,
            "num_bytes": self.num_bytes,
            "created_at": self.created_at.isoformat(),
            "files": list(self.files),
            "digest": self.digest,
            "attempt": self.attempt,
            "idempotency_key": self.idempotency_key,
            "lineage": dict(self.lineage),
            "parent": self.parent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, workspace: str | None = None) -> TableVersion:
        """Rebuild a value from :meth:`to_dict` or a manifest.

        Args:
            data: the dict.
            workspace: overrides the dict's ``workspace`` (the workspace that read the manifest).

        Raises:
            DataError: a key is missing or malformed, or the dict comes from a newer manifest format.
        """
        fmt = data.get("format", MANIFEST_FORMAT)
        if not isinstance(fmt, int) or fmt > MANIFEST_FORMAT:
            raise DataError(f"table version has manifest format {fmt!r}; this OpenFeat reads format {MANIFEST_FORMAT}")
        try:
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data["arrow_schema"])))
            key = data.get("idempotency_key")
            parent = data.get("parent")
            return cls(
                table=str(data["table"]),
                version=int(data["version"]),
                schema=schema,
                num_rows=int(data["num_rows"]),
                num_bytes=int(data["num_bytes"]),
                created_at=datetime.fromisoformat(data["created_at"]),
                files=tuple(str(f) for f in data["files"]),
                digest=str(data["digest"]),
                attempt=str(data["attempt"]),
                workspace=str(workspace if workspace is not None else data.get("workspace", "")),
                idempotency_key=None if key is None else str(key),
                lineage=dict(data.get("lineage") or {}),
                parent=None if parent is None else int(parent),
            )
        except KeyError as e:
            raise DataError(f"malformed table version: missing key {e.args[0]!r}") from None
        except (TypeError, ValueError, pa.ArrowInvalid) as e:
            raise DataError(f"malformed table version: {e}") from e


def openmldb_schema_of(schema: pa.Schema) -> str | None:
    """An Arrow schema as an OpenMLDB column list, or None when a column type has no SQL counterpart (lists...)."""
    try:
        return ", ".join(f"{f.name} {sql_type_of_arrow(f.type).openmldb_name}" for f in schema)
    except ValueError:
        return None
