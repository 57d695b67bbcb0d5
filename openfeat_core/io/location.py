"""Naming data: the one resolver from a path or URI (plus storage options) to a ``pyarrow.fs`` filesystem and a path.

Every reader (:mod:`openfeat_core.io.ingest`, ``compute`` given a file), every writer (:mod:`openfeat_core.io.export`)
and the workspace (:mod:`openfeat_core.workspace.storage`) open data through :func:`resolve`, so a name means the
same thing everywhere and a task's ``storage_options`` reach every object it reads or writes.

A name is one of

* a local path (``/data/x.csv``, ``./ws``, ``~/in/*.csv``), taken literally (``%`` is just a character): ``~`` is
  expanded and the path made absolute (``..`` folded), with ``/`` separators;
* a ``file://`` URI (``file:///data/a%20b.csv``): percent-decoded as pyarrow decodes it, then as a local path;
* ``s3://bucket/key`` (or ``s3a://``): the key is percent-decoded (``%3F`` for a ``?``, ``%23`` for a ``#``: an
  unencoded ``?`` or ``#`` starts a query or fragment, which is refused: settings go in storage options, never in
  the URI, and so do credentials). The :class:`pyarrow.fs.S3FileSystem` is configured from the storage options
  over the standard ``AWS_*`` environment variables (see :func:`s3_options`), so a custom endpoint (MinIO, Ceph, a
  test server) works;
* any other URI ``pyarrow.fs.FileSystem.from_uri`` understands (``gs://``, ``hdfs://``, ``abfs://``...), configured
  the way pyarrow configures it (its own environment variables).

Storage options configure object stores: a task passes one mapping for its workspace, sources and destinations
alike, so the options are used by the ``s3://`` names and not by the others (a local path has nothing to configure;
``gs://`` and the rest are configured by pyarrow).

Glob characters (``*``, ``?`` in a local path, ``[...]``) are not interpreted here: the path keeps them, and the
reader that accepts globs (:func:`openfeat_core.io.ingest.scan_source`) matches them against the listing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from openfeat_core.errors import OpenFeatError

__all__ = ["Location", "resolve", "s3_options"]

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

#: Environment variables read for an ``s3://`` name, in priority order per option (explicit options win).
_S3_ENV: dict[str, tuple[str, ...]] = {
    "access_key": ("AWS_ACCESS_KEY_ID",),
    "secret_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
    "region": ("AWS_DEFAULT_REGION", "AWS_REGION"),
    "endpoint_url": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
}


@dataclass(frozen=True)
class Location:
    """A resolved name: where its bytes are and how to show it.

    Attributes:
        filesystem: the pyarrow filesystem every read and write goes through.
        path: the name as a path of ``filesystem`` (``/abs/file`` locally, ``bucket/key`` on S3); no trailing ``/``
            unless a filesystem was given (the path is then used as given).
        scheme: ``file`` for local paths, ``s3`` for ``s3://`` and ``s3a://``, else the URI's scheme (lower case);
            ``""`` when a filesystem was given for a plain path.
        prefix: what turns a ``filesystem`` path into what users see (``""`` locally, ``"s3://"`` on S3).
        s3_settings: the :class:`pyarrow.fs.S3FileSystem` options of an ``s3://`` name (None elsewhere): what a
            client other than pyarrow's (the workspace's conditional PUT) is configured from. Never shown in
            ``repr`` (it holds credentials).
        clients: clients made from ``s3_settings`` by their users, kept for the life of the location.
        decoded: the path was percent-decoded from a URI: :meth:`uri_of` encodes ``%``, ``?`` and ``#`` again, so
            that resolving a shown URI names the same object (a key ``a%20b`` shows as ``a%2520b``).
    """

    filesystem: pafs.FileSystem
    path: str
    scheme: str
    prefix: str
    s3_settings: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    decoded: bool = False

    @property
    def uri(self) -> str:
        """The name as shown in results and messages: the absolute path locally, ``s3://bucket/key`` on S3."""
        return self.uri_of(self.path)

    @property
    def is_local(self) -> bool:
        """True on local disk (where directories exist, files can be fsynced and linked)."""
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def uri_of(self, path: str) -> str:
        """The URI of a path of this filesystem, as :func:`resolve` reads it back."""
        if not self.decoded:
            return self.prefix + path
        return self.prefix + path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")


def resolve(
    uri: str | os.PathLike[str],
    storage_options: Mapping[str, Any] | None = None,
    *,
    filesystem: pafs.FileSystem | None = None,
) -> Location:
    """Resolve a path or URI to a :class:`Location` (module docstring).

    Args:
        uri: a local path, or a ``file://``, ``s3://`` or other pyarrow URI.
        storage_options: object-store settings; used by ``s3://`` names (see :func:`s3_options`).
        filesystem: a configured ``pyarrow.fs`` filesystem to use instead of resolving: the scheme of a URI is then
            dropped and the rest used as a path of ``filesystem``.

    Raises:
        OpenFeatError: the name is empty, malformed (an ``s3://`` URI without bucket, with a query, fragment or
            credentials), or names a filesystem pyarrow cannot open; bad S3 storage options.
    """
    text = os.fspath(uri)
    if not isinstance(text, str) or not text:
        raise OpenFeatError(f"expected a non-empty path or URI, got {uri!r}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""  # "C:\\x" is a drive, not a scheme
    if filesystem is not None:
        if scheme:
            return Location(filesystem, text.split("://", 1)[1], scheme, f"{scheme}://")
        return Location(filesystem, text, "", "")
    if scheme in ("", "file"):
        local = _file_uri_path(text) if scheme == "file" else os.path.expanduser(text)
        return Location(pafs.LocalFileSystem(), os.path.abspath(local).replace(os.sep, "/"), "file", "")
    if scheme in ("s3", "s3a"):
        return _resolve_s3(text, storage_options)
    try:
        fs, inner = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError, pa.ArrowException) as e:
        raise OpenFeatError(f"cannot resolve {text!r}: {e}") from e
    inner = inner.rstrip("/") or inner
    prefix = f"{scheme}://{parts.netloc}" if inner.startswith("/") else f"{scheme}://"
    return Location(fs, inner, scheme, prefix, decoded=True)


def _file_uri_path(text: str) -> str:
    try:
        path: str = pafs.FileSystem.from_uri(text)[1]
    except (ValueError, OSError, pa.ArrowException) as e:
        raise OpenFeatError(f"cannot resolve {text!r}: {e} (a file URI looks like file:///abs/path)") from e
    return path


def _resolve_s3(text: str, storage_options: Mapping[str, Any] | None) -> Location:
    parts = urlsplit(text)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise OpenFeatError(
            f"{text!r} has a query or fragment: pass settings as storage options, and write '?' and '#' in a key as "
            "%3F and %23"
        )
    if not parts.netloc:
        raise OpenFeatError(f"{text!r} names no bucket; expected s3://bucket/key")
    if "@" in parts.netloc:
        raise OpenFeatError(f"{text!r} holds credentials; pass them as storage options (access_key, secret_key)")
    path = (parts.netloc + unquote(parts.path)).rstrip("/")
    settings = s3_options(storage_options or {}, os.environ)
    try:
        filesystem = pafs.S3FileSystem(**settings)
    except TypeError as e:
        raise OpenFeatError(f"unknown S3 storage option: {e}") from e
    return Location(filesystem, path, "s3", "s3://", settings, decoded=True)


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
