"""Making local writes durable: fsync of a written file and of the directory that names it.

A file's bytes survive a power loss once the file is fsynced; its name (a creation, rename or deletion) only once its
directory is. The online store's write-ahead log and the workspace's commits both need the two, in that order.
"""

from __future__ import annotations

import os
import sys


def fsync_file(path: str | os.PathLike[str]) -> None:
    """fsync a written (closed or open elsewhere) file's content."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """fsync a directory, which makes the creations, renames and deletions in it durable."""
    if sys.platform == "win32":  # directories cannot be opened there; NTFS's journal covers their entries
        return
    fsync_file(path)
