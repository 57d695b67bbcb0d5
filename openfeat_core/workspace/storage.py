"""Where a workspace lives: resolving its URI to a ``pyarrow.fs`` filesystem, and the few atomic operations it needs.

A workspace root is one of

* a local path (``/data/ws``, ``./ws``) or a ``file://`` URI: :class:`pyarrow.fs.LocalFileSystem`; the canonical URI
  of the workspace is then the absolute path (every tool reads a plain path);
* ``s3://bucket/prefix``: :class:`pyarrow.fs.S3FileSystem`, configured from the standard AWS environment variables
  and/or explicit *storage options* (see :func:`s3_options`), so a custom endpoint (MinIO, Ceph, a test server) works;
* any other URI ``pyarrow.fs.FileSystem.from_uri`` understands (``gs://``, ``hdfs://``, ``abfs://``...), configured
  the way pyarrow configures it (its own environment variables); storage options are refused there.

Atomicity. A commit is one small object written with *create-if-absent* semantics (:func:`create_if_absent`):

* local disk: the bytes go to a temporary file in the same directory, are fsynced, and ``os.link`` publishes them
  under the final name. ``link`` fails if the name exists, so exactly one of several racing writers wins, and a
  reader (or a crash) can never observe a half-written file. The directory is fsynced afterwards.
* object stores: a single PUT is atomic (readers see the whole object or none), but pyarrow exposes no conditional
  PUT (``If-None-Match``). The writer checks that the key is absent, PUTs, then reads the object back and only
  claims it if it holds its own bytes. That detects a racing writer that overwrote us, but not the mirror case:
  if the other writer's check ran before our PUT and its PUT lands after our read-back, its object replaces ours
  (last writer wins) and both believe they own the key. Two writers committing the same key on an object store at
  the same moment is therefore unsafe; orchestrated pipelines, where one task writes one table, never do it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from openfeat_core.errors import OpenFeatError

__all__ = ["Location", "create_if_absent", "ensure_dir", "put_atomic", "read_bytes", "resolve_location", "s3_options"]

#: Storage-option aliases (boto3 / fsspec spellings) mapped to the :class:`pyarrow.fs.S3FileSystem` keyword.
_S3_ALIASES: dict[str, str] = {
    "aws_access_key_id": "access_key",
    "key": "access_key",
    "aws_secret_access_key": "secret_key",
    "secret": "secret_key",
    "aws_session_token": "session_token",
    "token": "session_token",
    "region_name": "region",
    "aws_region": "region",
}

#: Environment variables read for an ``s3://`` workspace, in priority order per option (explicit options win).
_S3_ENV: dict[str, tuple[str, ...]] = {
    "access_key": ("AWS_ACCESS_KEY_ID",),
    "secret_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
    "region": ("AWS_DEFAULT_REGION", "AWS_REGION"),
    "endpoint_url": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
}

#: Prefix of the temporary files :func:`create_if_absent` and :func:`put_atomic` write on local disk.
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Location:
    """A resolved workspace root.

    Attributes:
        filesystem: the pyarrow filesystem every read and write goes through.
        root: the root as a path of ``filesystem`` (``/abs/dir`` locally, ``bucket/prefix`` on S3), no trailing ``/``.
        uri: the canonical URI of the root: the absolute path locally, ``s3://bucket/prefix`` on S3.
        uri_prefix: what turns a ``filesystem`` path into a URI (``""`` locally, ``"s3://"`` on S3).
    """

    filesystem: pafs.FileSystem
    root: str
    uri: str
    uri_prefix: str

    @property
    def is_local(self) -> bool:
        """True on local disk, where commits use ``os.link`` and can be fsynced."""
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def uri_of(self, path: str) -> str:
        """The URI of a filesystem path under this root."""
        return self.uri_prefix + path


def resolve_location(uri: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None) -> Location:
    """Resolve a workspace root (path or URI) and storage options to a :class:`Location`.

    Raises:
        OpenFeatError: the URI is malformed, or storage options were given for a scheme that takes none.
    """
    text = os.fspath(uri)
    if not isinstance(text, str) or not text:
        raise OpenFeatError(f"workspace URI must be a non-empty path or URI, got {uri!r}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    # A one-letter scheme is a Windows drive ("C:\\ws"), not a URI.
    if scheme in ("", "file") or len(scheme) == 1:
        if storage_options:
            raise OpenFeatError(f"storage options are only used for object stores, not for the local path {text!r}")
        path = pafs.FileSystem.from_uri(text)[1] if scheme == "file" else text
        root = Path(path).expanduser().absolute().as_posix().rstrip("/") or "/"
        return Location(pafs.LocalFileSystem(), root, root, "")
    if parts.query or parts.fragment:
        raise OpenFeatError(f"workspace URI {text!r} has a query or fragment; pass settings as storage_options")
    if scheme in ("s3", "s3a"):
        if not parts.netloc:
            raise OpenFeatError(f"workspace URI {text!r} names no bucket; expected s3://bucket/prefix")
        root = (parts.netloc + parts.path).rstrip("/")
        filesystem = _new_s3_filesystem(s3_options(storage_options or {}, os.environ))
        return Location(filesystem, root, "s3://" + root, "s3://")
    if storage_options:
        raise OpenFeatError(
            f"storage options are only supported for s3:// workspaces; {scheme}:// is configured by pyarrow itself"
        )
    try:
        filesystem, path = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError) as e:
        raise OpenFeatError(f"cannot open workspace URI {text!r}: {e}") from e
    root = path.rstrip("/")
    prefix = f"{scheme}://{parts.netloc}" if root.startswith("/") else f"{scheme}://"
    return Location(filesystem, root, prefix + root, prefix)


def s3_options(storage_options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The :class:`pyarrow.fs.S3FileSystem` keyword arguments for storage options plus environment.

    Storage options win over the environment. Recognised options: ``access_key``, ``secret_key``, ``session_token``,
    ``region``, ``endpoint_url`` (a full URL such as ``http://127.0.0.1:9000``; sets ``scheme`` and
    ``endpoint_override``), ``endpoint_override`` (``host:port``), ``scheme`` (``http`` / ``https``), the boto3 /
    fsspec spellings of the credentials (``aws_access_key_id``, ``key``, ``region_name``...), and any other
    :class:`pyarrow.fs.S3FileSystem` keyword, passed through unchanged. Environment variables: ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION`` (or ``AWS_REGION``), and
    ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``). With neither, pyarrow's default AWS credential chain applies.
    A custom endpoint without a region gets ``us-east-1``, the region S3-compatible servers answer to by default.

    Raises:
        OpenFeatError: an access key without a secret key (or the reverse), or a malformed endpoint URL.
    """
    options: dict[str, Any] = {}
    for key, value in storage_options.items():
        options[_S3_ALIASES.get(key, key)] = value
    for key, names in _S3_ENV.items():
        if key in options or (key == "endpoint_url" and "endpoint_override" in options):
            continue
        for name in names:
            if environ.get(name):
                options[key] = environ[name]
                break
    if ("access_key" in options) != ("secret_key" in options):
        given, missing = ("access_key", "secret_key") if "access_key" in options else ("secret_key", "access_key")
        raise OpenFeatError(f"S3 storage option {given!r} given without {missing!r} (options or AWS_* variables)")
    endpoint_url = options.pop("endpoint_url", None)
    if endpoint_url:
        endpoint = urlsplit(str(endpoint_url))
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc or endpoint.path.strip("/"):
            raise OpenFeatError(f"S3 endpoint URL {endpoint_url!r} must look like http(s)://host[:port]")
        options.setdefault("scheme", endpoint.scheme)
        options.setdefault("endpoint_override", endpoint.netloc)
    if options.get("endpoint_override") and not options.get("region"):
        options["region"] = "us-east-1"
    return options


def _new_s3_filesystem(options: Mapping[str, Any]) -> pafs.FileSystem:
    try:
        return pafs.S3FileSystem(**options)
    except TypeError as e:
        raise OpenFeatError(f"unknown S3 storage option: {e}") from e


def ensure_dir(location: Location, path: str) -> None:
    """Create a directory (and parents) on local disk; object stores have no directories to create."""
    if location.is_local:
        os.makedirs(path, exist_ok=True)


def read_bytes(location: Location, path: str) -> bytes:
    """The whole content of a (small) file.

    Raises:
        FileNotFoundError: no such file.
    """
    with location.filesystem.open_input_stream(path) as stream:
        data: bytes = stream.read()
    return data


def create_if_absent(location: Location, path: str, payload: bytes) -> bool:
    """Publish ``payload`` at ``path`` unless something is already there; True if this call created it.

    The file appears complete or not at all. See the module docstring for the guarantees per filesystem.

    Raises:
        OpenFeatError: the local filesystem does not support hard links, which the atomic commit relies on.
    """
    if location.is_local:
        return _link_if_absent(path, payload)
    filesystem = location.filesystem
    if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
        return False
    with filesystem.open_output_stream(path) as out:
        out.write(payload)
    return read_bytes(location, path) == payload


def put_atomic(location: Location, path: str, payload: bytes) -> None:
    """Write ``payload`` at ``path``, replacing any previous content; readers see the old or the new bytes."""
    if not location.is_local:
        with location.filesystem.open_output_stream(path) as out:
            out.write(payload)
        return
    directory, name = os.path.split(path)
    temp = os.path.join(directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}")
    try:
        _write_synced(temp, payload)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _fsync_dir(directory)


def _link_if_absent(path: str, payload: bytes) -> bool:
    directory, name = os.path.split(path)
    temp = os.path.join(directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}")
    try:
        _write_synced(temp, payload)
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError as e:
        raise OpenFeatError(
            f"cannot commit {path}: os.link failed ({e}); the atomic create-if-absent needs a writable directory "
            "on a filesystem with hard links"
        ) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _fsync_dir(directory)
    return True


def _write_synced(path: str, payload: bytes) -> None:
    with open(path, "xb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: str) -> None:
    # Makes the new directory entry durable. Windows cannot open a directory; its NTFS journal covers the entry.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
