"""Where a workspace lives: the few atomic operations it needs on the filesystem its root resolves to.

A workspace root is named like any other data (:func:`openfeat_core.io.location.resolve`): a local path or
``file://`` URI (the canonical URI is then the absolute path), ``s3://bucket/prefix`` (configured from storage
options over the ``AWS_*`` environment variables), or any other URI ``pyarrow.fs`` understands.

Atomicity. A commit is one small object written with *create-if-absent* semantics (:func:`create_if_absent`):

* local disk: the bytes go to a temporary file in the same directory, are fsynced, and ``os.link`` publishes them
  under the final name. ``link`` fails if the name exists, so exactly one of several racing writers wins, and a
  reader (or a crash) can never observe a half-written file. The directory is fsynced afterwards.
* ``s3://``: a single PUT with ``If-None-Match: *`` (S3 conditional writes): the store itself refuses the PUT when
  the key exists (HTTP 412), so exactly one of several racing writers wins. pyarrow's S3 filesystem cannot send
  that header (it silently drops it), so the PUT goes through boto3, with the same credentials, region and
  endpoint as the workspace. AWS S3 and MinIO honour the header; a store that ignores it gives no guarantee.
* without boto3, with S3 settings boto3 cannot reproduce (``role_arn``...), or on other object stores (``gs://``,
  ``abfs://``...: pyarrow exposes no conditional PUT for them either), the writer checks that the key is absent,
  PUTs, then reads the object back and only claims it if it holds its own bytes. That detects a racing writer that
  overwrote us, but not the mirror case: if the other writer's check ran before our PUT and its PUT lands after our
  read-back, its object replaces ours (last writer wins) and both believe they own the key. Concurrent writers of
  one table are therefore unsafe there (an append can be lost); a warning says so at the first commit.

Durability. On local disk the data files a manifest references, and the directories holding them, are fsynced
before the manifest is published (:func:`sync_file`, :func:`sync_dirs`), so a power loss cannot leave a committed
version pointing at empty or missing files. On object stores a completed PUT is durable.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow.fs as pafs

from openfeat_core.errors import OpenFeatError
from openfeat_core.fsync import fsync_directory, fsync_file
from openfeat_core.io.location import Location

__all__ = [
    "create_if_absent",
    "ensure_dir",
    "put_atomic",
    "read_bytes",
    "sync_dirs",
    "sync_file",
]

logger = logging.getLogger("openfeat.workspace")

#: Prefix of the temporary files :func:`create_if_absent` and :func:`put_atomic` write on local disk.
TEMP_PREFIX = ".tmp-"

#: S3 settings that only tune pyarrow's own client: a conditional PUT through boto3 can do without them.
_S3_PYARROW_ONLY = frozenset(
    {
        "background_writes",
        "default_metadata",
        "allow_bucket_creation",
        "allow_bucket_deletion",
        "check_directory_existence_before_creation",
        "retry_strategy",
        "load_frequency",
        "allow_delayed_open",
    }
)
#: Roots already warned about (the warning that their commits cannot be conditional is given once per process).
_warned_unsafe: set[str] = set()
_warned_lock = threading.Lock()


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

    The file appears complete or not at all. See the module docstring for the guarantees per filesystem. False
    may also mean that a racing conditional write was in progress (S3's 409): the caller looks again.

    Raises:
        OpenFeatError: the local filesystem does not support hard links, which the atomic commit relies on.
        OSError: the object store failed the PUT (the object may or may not exist afterwards).
    """
    if location.is_local:
        return _link_if_absent(path, payload)
    client = _conditional_put_client(location)
    if client is not None:
        return _put_if_none_match(client, location, path, payload)
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
    fsync_directory(directory)


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
    fsync_directory(directory)
    return True


def _conditional_put_client(location: Location) -> Any:
    """The boto3 S3 client of the conditional PUT, or None (with a warning, once) when there is none."""
    if "s3" in location.clients:
        return location.clients["s3"]
    client, reason = None, ""
    if location.s3_settings is None:
        reason = f"pyarrow offers no conditional write for {location.prefix or 'this filesystem'}"
    else:
        try:
            client = _boto3_client(location.s3_settings)
        except ImportError:
            reason = "boto3 is not installed (pip install 'openfeat[s3]')"
        except ValueError as e:
            reason = str(e)
    location.clients["s3"] = client
    if client is None:
        with _warned_lock:
            first = location.uri not in _warned_unsafe
            _warned_unsafe.add(location.uri)
        if first:
            logger.warning(
                "openfeat: workspace %s commits without a conditional write (%s): two writers committing the same "
                "table at the same moment may lose one of the versions (see openfeat_core.workspace.storage)",
                location.uri,
                reason,
            )
    return client


def _boto3_client(settings: Mapping[str, Any]) -> Any:
    """A boto3 S3 client configured like the workspace's pyarrow S3 filesystem.

    Raises:
        ImportError: boto3 is not installed.
        ValueError: a setting boto3 cannot reproduce (the message names it).
    """
    unsupported = sorted(
        set(settings)
        - _S3_PYARROW_ONLY
        - {
            "access_key",
            "secret_key",
            "session_token",
            "region",
            "scheme",
            "endpoint_override",
            "anonymous",
            "force_virtual_addressing",
            "request_timeout",
            "connect_timeout",
            "tls_ca_file_path",
        }
    )
    if unsupported:
        raise ValueError(f"S3 option(s) {', '.join(unsupported)} have no boto3 equivalent here")
    boto3 = importlib.import_module("boto3")
    botocore_config = importlib.import_module("botocore.config")
    config: dict[str, Any] = {"retries": {"mode": "standard"}}
    if settings.get("anonymous"):
        config["signature_version"] = importlib.import_module("botocore").UNSIGNED
    if settings.get("endpoint_override"):
        config["s3"] = {"addressing_style": "virtual" if settings.get("force_virtual_addressing") else "path"}
    if settings.get("request_timeout"):
        config["read_timeout"] = float(settings["request_timeout"])
    if settings.get("connect_timeout"):
        config["connect_timeout"] = float(settings["connect_timeout"])
    endpoint = settings.get("endpoint_override")
    return boto3.session.Session().client(
        "s3",
        aws_access_key_id=settings.get("access_key"),
        aws_secret_access_key=settings.get("secret_key"),
        aws_session_token=settings.get("session_token"),
        region_name=settings.get("region"),
        endpoint_url=f"{settings.get('scheme') or 'https'}://{endpoint}" if endpoint else None,
        verify=settings.get("tls_ca_file_path") or None,
        config=botocore_config.Config(**config),
    )


def _put_if_none_match(client: Any, location: Location, path: str, payload: bytes) -> bool:
    bucket, _, key = path.partition("/")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=payload, IfNoneMatch="*")
    except Exception as e:
        response = getattr(e, "response", None)
        if not isinstance(response, Mapping):
            raise OSError(f"cannot commit {location.uri_of(path)}: {e}") from e
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # 412: the key exists (another writer won). 409: a racing conditional PUT of the key was in progress.
        if status in (412, 409):
            return False
        raise OSError(f"cannot commit {location.uri_of(path)}: {e}") from e
    return True


def sync_file(location: Location, path: str) -> None:
    """Make a closed local file's content durable (fsync); nothing to do on an object store."""
    if location.is_local:
        fsync_file(path)


def sync_dirs(location: Location, paths: Iterable[str]) -> None:
    """Make the entries of local directories durable (fsync each); nothing to do on an object store."""
    if location.is_local:
        for path in paths:
            fsync_directory(path)


def _write_synced(path: str, payload: bytes) -> None:
    with open(path, "xb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
