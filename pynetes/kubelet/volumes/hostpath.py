"""hostPath volumes: a path of the node, checked against the volume's ``type``.

The checks and their messages are upstream's checkType: ``DirectoryOrCreate``
and ``FileOrCreate`` create what is missing (a 0755 folder, an empty 0644 file),
the other types only check, and an unset type checks nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

Object = dict[str, Any]

_KINDS = {
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


class HostPathTypeError(ValueError):
    """The path is not what the volume's ``type`` demands; the message is upstream's."""


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def check_host_path(source: Object) -> Path:
    """The hostPath source's path, after upstream's type check (blocking I/O)."""
    path = source.get("path", "")
    kind = source.get("type") or ""
    mode = _mode(path)
    if kind == "":
        return Path(path)
    if kind in _KINDS:
        test, message = _KINDS[kind]
        if mode is None or not test(mode):
            raise HostPathTypeError(f"hostPath type check failed: {path} {message}")
        return Path(path)
    if kind == "DirectoryOrCreate" and mode is None:
        os.makedirs(path, mode=0o755, exist_ok=True)
        return Path(path)
    if kind == "FileOrCreate" and mode is None:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o644))
        return Path(path)
    if kind in ("Directory", "DirectoryOrCreate", "File", "FileOrCreate"):
        if mode is None:
            raise HostPathTypeError(f"hostPath type check failed: {path} does not exist")
        if kind.startswith("Directory") and not stat.S_ISDIR(mode):
            raise HostPathTypeError(f"hostPath type check failed: {path} is not a directory")
        if kind.startswith("File") and not stat.S_ISREG(mode):
            raise HostPathTypeError(f"hostPath type check failed: {path} is not a file")
        return Path(path)
    raise HostPathTypeError(f"{kind} is an invalid volume type")
