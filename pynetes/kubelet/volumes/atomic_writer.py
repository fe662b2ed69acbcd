"""Upstream's AtomicWriter: a folder of files replaced all at once, seen whole by readers.

A volume folder written this way holds:

- ``..2026_11_27_20_38_23.<random>/``: one timestamped folder per version of
  the payload, with the files and their modes;
- ``..data``: a symlink to the current version's folder;
- the user-visible names: symlinks ``<name> -> ..data/<name>`` (one per
  top-level entry of the payload).

A new version is written into a fresh timestamped folder, then ``..data`` is
swapped to it with one rename (a temporary ``..data_tmp`` symlink renamed over
it), which is atomic: a reader sees either every old file or every new one,
never a mix or a half-written file. After the swap, as upstream, the new
payload's names get their symlinks, the names it no longer has are removed,
and the old folder goes last. Writing a payload equal (contents
and modes) to the current one changes nothing, so repeated writes are cheap.

Blocking file I/O: callers on the event loop run :func:`write_payload` in a
thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


@dataclass(frozen=True)
class FileProjection:
    """One file of a payload: its bytes and permission bits."""

    data: bytes
    mode: int


class PayloadError(ValueError):
    """A payload path the writer refuses; the message is upstream's."""


def validate_path(path: str) -> None:
    """upstream validatePath: relative, no ``..`` element, no leading ``..``, bounded."""
    if len(path) > MAX_PATH_LENGTH:
        raise PayloadError(f"the path has length {len(path)}, which exceeds the maximum of 4096")
    if path.startswith("/"):
        raise PayloadError("the path must be relative, not absolute")
    parts = path.split("/")
    for part in parts:
        if len(part) > MAX_FILE_NAME_LENGTH:
            raise PayloadError(f"the path has a segment longer than {MAX_FILE_NAME_LENGTH}")
    if ".." in parts:
        raise PayloadError("must not contain '..'")
    if path.startswith(".."):
        raise PayloadError("must not start with '..'")


def _clean(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    """The payload with cleaned paths (``a//b/`` -> ``a/b``), each validated."""
    cleaned = {}
    for path, projection in payload.items():
        validate_path(path)
        cleaned[str(PurePosixPath(os.path.normpath(path)))] = projection
    return cleaned


def _current_files(version: Path) -> dict[str, FileProjection]:
    files = {}
    for folder, _dirs, names in os.walk(version):
        for name in names:
            path = Path(folder, name)
            info = path.lstat()
            files[str(path.relative_to(version))] = FileProjection(
                path.read_bytes(), info.st_mode & 0o7777
            )
    return files


def _new_version_folder(target: Path) -> Path:
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    folder = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    folder.chmod(0o755)
    return folder


def _write_files(folder: Path, payload: Mapping[str, FileProjection]) -> None:
    for path, projection in payload.items():
        file = folder / path
        file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        file.write_bytes(projection.data)
        file.chmod(projection.mode)


def _top_level(paths: Mapping[str, object]) -> set[str]:
    return {path.split("/", 1)[0] for path in paths}


def write_payload(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make ``target`` show exactly ``payload``; True if anything was written.

    ``target`` must exist. Raises :class:`PayloadError` for a bad path.
    """
    payload = _clean(payload)
    data_link = target / DATA_DIR
    old_version = target / os.readlink(data_link) if data_link.is_symlink() else None
    stale: set[str] = set()
    if old_version is not None and old_version.is_dir():
        current = _current_files(old_version)
        if current == payload:
            return False
        stale = _top_level(current) - _top_level(payload)
    else:
        old_version = None
    version = _new_version_folder(target)
    _write_files(version, payload)
    temporary = target / DATA_DIR_TMP
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version.name)
    temporary.rename(data_link)
    for name in _top_level(payload):
        visible = target / name
        if not visible.is_symlink():
            visible.symlink_to(f"{DATA_DIR}/{name}")
    for name in stale:
        (target / name).unlink(missing_ok=True)
    if old_version is not None:
        shutil.rmtree(old_version)
    return True
