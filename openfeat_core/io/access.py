"""Which files SQL statements may read and write: the data roots an operator allows, and nothing else.

``LOAD DATA INFILE`` reads and ``SELECT ... INTO OUTFILE`` writes files named in the SQL text. Sent over HTTP
(``POST /dbs/{db}``), that text comes from a remote caller, so the service confines it with a :class:`FileAccess`
policy: the **data roots** (the directories and object-store prefixes the operator names, plus the workspace), and
never the online store's own directory, whatever the roots say.

Every check resolves the path first, the way the read or write will see it: a plain path is made absolute (``~``
expanded), a ``file://`` URI is decoded by pyarrow as the read itself does, then ``os.path.realpath`` follows every
symbolic link (of the nearest existing parent, for a file still to be created). So ``..``, symlinks that lead out
of a root, and encoded spellings of either end up as the real location, which must lie inside a root. Remote URIs
(``s3://bucket/key``...) are matched as text against remote roots: scheme, bucket and key prefix, segment by
segment; a remote path with ``.`` or ``..`` segments, a percent sign, a backslash, a query or a fragment is refused
rather than interpreted. A policy without roots refuses every file.

Always refused, with or without roots:

* anything inside an online store's directory (a durable store's write-ahead log: a directory holding ``LOCK``
  and ``wal-*.log`` segments or ``snapshot-*`` directories, see :mod:`openfeat_core.online.wal`), and the paths the
  policy names as ``protected`` (the served store's directory, the token file);
* replacing a directory that is not an export: ``INTO OUTFILE ... mode='overwrite'`` deletes the directory it
  replaces, so that directory may hold only what exports write (``part-*`` files, ``_SUCCESS``-style markers,
  hidden ``.crc`` files, ``key=value`` partition directories of the same), and never be a root itself.

Writes are also refused below ``read_only`` locations (the workspace's ``tables/``: versions are immutable).

The checks happen before anything is read or written, so a refused statement changes nothing. A local user who can
swap a symlink between the check and the use can still win that race; the policy is aimed at remote callers, who
cannot create links.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from openfeat_core.errors import Failure, OpenFeatError
from openfeat_core.io.location import resolve

__all__ = ["TRUSTED", "FileAccess", "FileAccessDenied"]

#: How an operator names data roots, quoted in refusals.
ROOTS_HINT = "the operator names data roots with 'openfeat serve --data-root DIR' (create_app(data_roots=[...]))"

# The write-ahead log's layout (openfeat_core.online.wal): a LOCK file next to segments or snapshots.
_STORE_LOCK = "LOCK"
_STORE_ENTRY_RE = re.compile(r"^(wal-\d{20}\.log|snapshot-\d{20}(\.tmp)?)$")
# What an export directory holds: part files, markers (_SUCCESS, _metadata), hidden checksums (.part-0.crc), and
# Hive-style partition directories (key=value/) holding the same.
_EXPORT_FILE_RE = re.compile(r"^(part-|_|\.)")
_PARTITION_DIR_RE = re.compile(r"^[^=./][^=/]*=[^/]*$")


class FileAccessDenied(OpenFeatError):
    """A statement named a file the policy does not allow (answered 403 by the service).

    Attributes:
        path: the path or URI as the statement gave it.
        reason: why it is refused (which location, which roots).
    """

    # Terminal, and a usage error rather than a data error: the policy (the data roots the operator chose) refuses
    # the same path on every try, so a retry cannot help; the request must name a file inside the roots (or the
    # operator add a root). The service answers 403, as for any request refused by policy.
    failure = Failure.USAGE
    http_status_code = 403

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"access to {path!r} refused: {reason}")


@dataclass(frozen=True)
class _Remote:
    """An object-store location as text: ``scheme://bucket/key`` split for a segment-wise prefix test."""

    scheme: str
    bucket: str
    key: str  # no leading or trailing "/"

    def contains(self, other: _Remote) -> bool:
        if (self.scheme, self.bucket) != (other.scheme, other.bucket):
            return False
        return not self.key or other.key == self.key or other.key.startswith(self.key + "/")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}".rstrip("/")


def _scheme(text: str) -> str:
    scheme = urlsplit(text).scheme.lower()
    return scheme if len(scheme) > 1 else ""  # "C:\\x" is a drive, not a scheme


def _parse_remote(text: str) -> _Remote:
    """``text`` as a remote location; FileAccessDenied for spellings that could mean something else."""
    if "%" in text or "\\" in text:
        raise FileAccessDenied(text, "remote paths may not hold '%' or '\\' (write the key as it is)")
    parts = urlsplit(text)
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise FileAccessDenied(text, "remote paths may not carry a query or fragment (storage settings included)")
    if not parts.netloc or "@" in parts.netloc:
        raise FileAccessDenied(text, "expected scheme://bucket/key (no credentials in the URI)")
    key = parts.path.strip("/")
    segments = key.split("/") if key else []
    if any(s in ("", ".", "..") for s in segments):
        raise FileAccessDenied(text, "remote paths may not hold empty, '.' or '..' segments")
    return _Remote(parts.scheme.lower(), parts.netloc, key)


def _local_path(text: str) -> str:
    """The absolute local path a read or write of ``text`` (a path or ``file://`` URI) opens, as pyarrow opens it."""
    return os.path.normpath(resolve(text).path)


def _real(path: str) -> str:
    """``path`` with every symlink followed: of the path itself if it exists, else of its nearest existing parent
    (the missing rest cannot be a link)."""
    missing: list[str] = []
    current = path
    while not os.path.lexists(current):
        parent, name = os.path.split(current)
        if parent == current:
            break
        missing.append(name)
        current = parent
    return os.path.join(os.path.realpath(current), *reversed(missing))


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _is_store_dir(directory: str) -> bool:
    """True if ``directory`` is a durable online store's (its write-ahead log: ``LOCK`` plus segments or
    snapshots)."""
    if not os.path.isfile(os.path.join(directory, _STORE_LOCK)):
        return False
    try:
        with os.scandir(directory) as entries:
            return any(_STORE_ENTRY_RE.match(e.name) for e in entries)
    except OSError:
        return True  # unreadable but locked like a store: err on the side of refusing


@dataclass(frozen=True)
class FileAccess:
    """The files statements may read and write (see the module docstring).

    Build one with :meth:`confined` (a service) or use :data:`TRUSTED` (an in-process caller).

    Attributes:
        roots: resolved local directories; None: every local path (a trusted caller).
        remote_roots: object-store prefixes (``s3://bucket/prefix``); ignored when ``roots`` is None.
        protected: resolved local paths never read or written (a store directory, a token file).
        read_only: resolved local directories never written.
        remote_read_only: object-store prefixes never written.
    """

    roots: tuple[str, ...] | None
    remote_roots: tuple[_Remote, ...] = ()
    protected: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    remote_read_only: tuple[_Remote, ...] = ()

    @classmethod
    def confined(
        cls, roots: Iterable[str], *, workspace: str | None = None, protected: Iterable[str | os.PathLike[str]] = ()
    ) -> FileAccess:
        """A policy allowing only ``roots`` (directories or object-store prefixes) and the workspace root.

        Args:
            roots: the operator's data roots; local ones must be existing directories.
            workspace: the canonical URI of the workspace (``Workspace.uri``): a root too, with its ``tables/``
                read-only (versions are immutable).
            protected: local paths never read or written (the served store's directory, the token file).

        Raises:
            OpenFeatError: a local root is not an existing directory, or a remote root is malformed.
        """
        local: list[str] = []
        remote: list[_Remote] = []
        read_only: list[str] = []
        remote_read_only: list[_Remote] = []
        for root in roots:
            if _scheme(root) not in ("", "file"):
                try:
                    remote.append(_parse_remote(root))
                except FileAccessDenied as e:
                    raise OpenFeatError(f"data root {root!r}: {e.reason}") from None
                continue
            real = os.path.realpath(_local_path(root))
            if not os.path.isdir(real):
                raise OpenFeatError(f"data root {root!r} is not an existing directory")
            local.append(real)
        if workspace is not None:
            if _scheme(workspace) not in ("", "file"):
                ws = _parse_remote(workspace)
                remote.append(ws)
                remote_read_only.append(_Remote(ws.scheme, ws.bucket, f"{ws.key}/tables".strip("/")))
            else:
                real = _real(_local_path(workspace))
                local.append(real)
                read_only.append(os.path.join(real, "tables"))
        return cls(
            roots=tuple(local),
            remote_roots=tuple(remote),
            protected=tuple(_real(_local_path(os.fspath(p))) for p in protected),
            read_only=tuple(read_only),
            remote_read_only=tuple(remote_read_only),
        )

    def describe(self) -> str:
        """The roots, as refusals quote them."""
        if self.roots is None:
            return "every path"
        shown = [*self.roots, *map(str, self.remote_roots)]
        return ", ".join(shown) if shown else "none"

    # ------------------------------------------------------------------ checks
    def check_read(self, path: str) -> None:
        """Allow reading ``path`` (a file, directory, glob or URI) or raise :class:`FileAccessDenied`.

        For a glob, the directory before the first wildcard is checked; check each matched file too.
        """
        self._check(path, write=False)

    def check_write(self, path: str) -> None:
        """Allow creating or replacing the file ``path`` or raise :class:`FileAccessDenied`."""
        self._check(path, write=True)

    def check_replace_directory(self, path: str, filesystem: pafs.FileSystem, inner: str) -> None:
        """Allow deleting the existing directory ``path`` (``inner`` in ``filesystem``) to replace it with an export.

        Raises:
            FileAccessDenied: writing there is not allowed (:meth:`check_write`), or the directory holds something
                no export writes (it is not a previous export: deleting it could lose data).
        """
        self.check_write(path)
        if isinstance(filesystem, pafs.LocalFileSystem):
            found = _foreign_local_entry(_real(_local_path(path)))
        else:
            found = _foreign_remote_entry(filesystem, inner.rstrip("/"))
        if found is not None:
            raise FileAccessDenied(
                path,
                f"mode='overwrite' would delete this directory, which is not an export (it holds {found!r}; "
                "exports hold only part-* files, _ markers and key=value partitions): choose another path",
            )

    def _check(self, path: str, *, write: bool) -> None:
        if not isinstance(path, str) or not path:
            raise FileAccessDenied(str(path), "expected a non-empty path or URI")
        if _scheme(path) not in ("", "file"):
            self._check_remote(path, write=write)
            return
        try:
            lexical = _local_path(path)
        except (OpenFeatError, ValueError, OSError) as e:
            raise FileAccessDenied(path, f"not a local path or file:// URI ({e})") from None
        if not write:  # a glob: the directory the listing starts from (each match is checked by the caller)
            segments = lexical.split(os.sep)
            first = next((i for i, s in enumerate(segments) if set(s) & set("*?[")), None)
            if first is not None:
                lexical = os.sep.join(segments[:first]) or os.sep
        real = _real(lexical)
        shown = real if real == lexical else f"{lexical}, really {real}"
        if self.roots is not None:
            if not any(_within(real, root) for root in self.roots):
                raise FileAccessDenied(path, f"{shown} is outside the data roots ({self.describe()}); {ROOTS_HINT}")
            if write and real in self.roots:
                raise FileAccessDenied(path, f"{shown} is a data root itself; write to a path inside it")
        for protected in self.protected:
            if _within(real, protected) or (write and _within(protected, real)):
                raise FileAccessDenied(path, f"{shown} is the online store's or its token's location ({protected})")
        if write:
            for read_only in self.read_only:
                if _within(real, read_only):
                    raise FileAccessDenied(path, f"{shown} is inside the workspace's tables ({read_only}), read-only")
        directory = real if os.path.isdir(real) else os.path.dirname(real)
        while True:
            if _is_store_dir(directory):
                raise FileAccessDenied(path, f"{shown} is inside the online store directory {directory}")
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent

    def _check_remote(self, path: str, *, write: bool) -> None:
        if self.roots is None:
            return
        location = _parse_remote(path)
        if not any(root.contains(location) for root in self.remote_roots):
            raise FileAccessDenied(
                path,
                f"remote files are only reachable inside the data roots ({self.describe()}); {ROOTS_HINT}, "
                "e.g. --data-root s3://bucket/prefix",
            )
        if write:
            if any(str(root) == str(location) for root in self.remote_roots):
                raise FileAccessDenied(path, "this is a data root itself; write to a path inside it")
            for read_only in self.remote_read_only:
                if read_only.contains(location):
                    raise FileAccessDenied(path, f"inside the workspace's tables ({read_only}), read-only")


def _foreign_local_entry(directory: str) -> str | None:
    """The first entry below ``directory`` that no export writes (a symlink counts), or None."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                return entry.name
            if entry.is_dir():
                if not _PARTITION_DIR_RE.match(entry.name):
                    return entry.name
                inner = _foreign_local_entry(entry.path)
                if inner is not None:
                    return f"{entry.name}/{inner}"
            elif not entry.is_file() or not _EXPORT_FILE_RE.match(entry.name):
                return entry.name
    return None


def _foreign_remote_entry(filesystem: pafs.FileSystem, directory: str) -> str | None:
    infos = filesystem.get_file_info(pafs.FileSelector(directory, recursive=True))
    for info in infos:
        relative = info.path[len(directory) + 1 :]
        *dirs, name = relative.split("/")
        if any(not _PARTITION_DIR_RE.match(d) for d in dirs):
            return relative
        if info.type == pafs.FileType.File and not _EXPORT_FILE_RE.match(name):
            return relative
        if info.type == pafs.FileType.Directory and not _PARTITION_DIR_RE.match(name):
            return relative
    return None


#: The policy of a trusted in-process caller (``execute_sql`` without ``file_access``): every path, except inside
#: an online store's directory, and an overwrite never deletes a directory that is not an export.
TRUSTED = FileAccess(roots=None)
