"""What an image name means to the process runtime: a command the host can run.

The process runtime has no image store. An image is an entry of the catalog: the
command it runs when the pod gives none (Docker's ENTRYPOINT and CMD). The catalog is
a few built-ins merged under the entries of an optional YAML file::

    # /etc/pynetes/images.yaml
    images:
      - name: myregistry.example/app:*     # Docker-normalised; * and ? match as globs
        entrypoint: ["/usr/local/bin/app"]  # optional, default []
        cmd: ["--serve"]                    # optional, default []

A file entry replaces a built-in of the same name; entries are tried in file order,
then the built-ins. Names are normalised as Docker does (``busybox`` is
``docker.io/library/busybox:latest``), so ``busybox``, ``docker.io/busybox:1.36`` and
``docker.io/library/busybox`` all match ``busybox:*``-style patterns.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

from pynetes.kubelet.runtime.interface import Image, ImagePullError

DEFAULT_REGISTRY = "docker.io"

#: (pattern, entrypoint, cmd): what the usual images' default commands are on a host.
BUILTINS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("busybox:*", (), ("sh",)),
    ("alpine:*", (), ("sh",)),
    ("debian:*", (), ("sh",)),
    ("ubuntu:*", (), ("sh",)),
    ("python:3*", (), (sys.executable,)),
    ("python:latest", (), (sys.executable,)),
    ("pause:*", ("sleep", "infinity"), ()),
    ("registry.k8s.io/pause:*", ("sleep", "infinity"), ()),
    # pynetes itself: the control plane's static pods and the add-ons run its components.
    ("pynetes:*", (sys.executable, "-m", "pynetes"), ()),
)


def normalize(name: str) -> str:
    """Docker's normalisation: registry ``docker.io``, ``library/`` for official
    images, tag ``latest`` when neither a tag nor a digest is given."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    last = path.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        path += ":latest"
    return f"{registry}/{path}"


@dataclass(frozen=True)
class CatalogEntry:
    pattern: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


class ImageCatalog:
    """Image names to commands; ``path`` (which may not exist) overrides the built-ins."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        from_file = self._load(path) if path is not None and path.exists() else []
        overridden = {entry.pattern for entry in from_file}
        builtins = [
            CatalogEntry(normalize(pattern), entrypoint, cmd)
            for pattern, entrypoint, cmd in BUILTINS
            if normalize(pattern) not in overridden
        ]
        self.entries: list[CatalogEntry] = from_file + builtins

    @staticmethod
    def _load(path: Path) -> list[CatalogEntry]:
        document = yaml.safe_load(path.read_text()) or {}
        return [
            CatalogEntry(
                normalize(str(item["name"])),
                tuple(str(arg) for arg in item.get("entrypoint") or ()),
                tuple(str(arg) for arg in item.get("cmd") or ()),
            )
            for item in document.get("images") or ()
        ]

    def lookup(self, name: str) -> Image | None:
        """The image ``name`` stands for, or None when the catalog has no entry for it."""
        reference = normalize(name)
        for entry in self.entries:
            if fnmatchcase(reference, entry.pattern):
                return Image(
                    id=image_id(reference),
                    entrypoint=entry.entrypoint,
                    cmd=entry.cmd,
                    repo_tags=(reference,),
                )
        return None

    def command(self, name: str, command: Sequence[str], args: Sequence[str]) -> list[str]:
        """The argv of a container, combined as Docker does: ``command`` replaces the
        entrypoint, ``args`` the image's cmd. An explicit command needs no catalog entry."""
        if command:
            return [*command, *args]
        image = self.lookup(name)
        if image is None:
            where = f"the image catalog {self.path}" if self.path else "an image catalog file"
            raise ImagePullError(
                f'failed to pull and unpack image "{normalize(name)}": the process runtime does '
                f"not know what this image runs; give the container a command, or add the "
                f"image with its entrypoint/cmd to {where}"
            )
        argv = [*image.entrypoint, *(args or image.cmd)]
        if not argv:
            raise ImagePullError(f'image "{normalize(name)}" has no entrypoint and no cmd')
        return argv


def image_id(reference: str) -> str:
    """A stable id for a reference (there is no image content to digest)."""
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()
