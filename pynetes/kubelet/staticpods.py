"""Static pods: the pod manifests in ``staticPodPath``, run without the API server.

As upstream's file source (pkg/kubelet/config/file.go, common.go):

- every regular file of the folder whose name does not start with ``.`` holds one
  Pod, in YAML or JSON; sub-folders are not read;
- a manifest is decoded as the API server decodes a Pod (wrong types refused,
  unknown fields dropped, the API's defaults applied), then given the file
  source's defaults: name ``<name>-<nodeName>``, namespace ``default``, uid = a
  hash of the defaulted manifest with the node name and the file's path,
  ``spec.nodeName``, a toleration of every NoExecute taint, the annotations
  ``kubernetes.io/config.hash`` (= uid), ``kubernetes.io/config.source`` (``file``)
  and ``kubernetes.io/config.seen`` (when this kubelet first saw that version),
  and the priority of a system PriorityClass it names; then validated as a
  Pod create is;
- a broken manifest (unreadable, not YAML, not a Pod, invalid) is logged and
  reported as a Warning Event on the Node, once per content, and the others are
  unaffected;
- the folder is read every ``fileCheckFrequency`` and on file-system change
  (inotify), and the complete set of static pods is reported on every change.

Upstream hashes Go's in-memory Pod; here the hash is md5 of the defaulted
manifest's canonical JSON, so uids differ from upstream's for the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from inotify_simple import INotify, flags

from pynetes.api.defaults import apply_defaults, default_pod_priority
from pynetes.api.meta import micro_timestamp, utc_now
from pynetes.api.nodes import node_reference
from pynetes.api.validation.cluster import SYSTEM_PRIORITY_CLASSES
from pynetes.api.validation.pods import validate_pod
from pynetes.api.validation.structural import kind_node, prune_unknown, validate_structure
from pynetes.client.events import WARNING, EventRecorder

log = logging.getLogger(__name__)

Object = dict[str, Any]
WallClock = Callable[[], datetime]

CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen"
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
FILE_SOURCE = "file"
#: The reason of the Event a broken manifest gets on the Node.
INVALID_MANIFEST_REASON = "FailedStaticPodManifest"
#: Changes of the folder that make it be read again.
_WATCHED = (
    flags.CLOSE_WRITE | flags.MOVED_TO | flags.MOVED_FROM | flags.DELETE | flags.ATTRIB
    | flags.DELETE_SELF | flags.MOVE_SELF
)  # fmt: skip


class ManifestError(ValueError):
    """A manifest that cannot be run; the message says why."""


def static_pod(document: Any, source: str, node_name: str) -> Object:
    """The static pod a decoded manifest describes, with every default applied.

    ``source`` is the file's path (part of the uid). Raises
    :class:`ManifestError` if ``document`` is not a valid Pod.
    The ``config.seen`` annotation is the caller's (it depends on history).
    """
    if not isinstance(document, dict):
        raise ManifestError("the manifest is not an object")
    if document.get("kind") != "Pod" or document.get("apiVersion") != "v1":
        raise ManifestError(
            f"the manifest is a {document.get('apiVersion')}/{document.get('kind')}, not a v1 Pod"
        )
    node = kind_node("", "v1", "Pod")
    problems, _unknown = validate_structure(document, node)
    if problems:
        raise ManifestError("invalid pod: " + "; ".join(map(str, problems)))
    pod = apply_defaults("", "v1", "Pod", prune_unknown(document, node))
    metadata = pod.setdefault("metadata", {})
    uid = metadata.get("uid") or _uid(pod, source, node_name)
    metadata["uid"] = uid
    metadata["name"] = f"{metadata.get('name', '')}-{node_name}"
    metadata["namespace"] = metadata.get("namespace") or "default"
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        CONFIG_HASH_ANNOTATION: uid,
        CONFIG_SOURCE_ANNOTATION: FILE_SOURCE,
    }
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    tolerations = spec.get("tolerations") or []
    if not any(_tolerates_all_no_execute(toleration) for toleration in tolerations):
        spec["tolerations"] = [*tolerations, {"operator": "Exists", "effect": "NoExecute"}]
    class_value = SYSTEM_PRIORITY_CLASSES.get(spec.get("priorityClassName") or "")
    if class_value is not None and spec.get("priority") is None:
        priority_class = {"metadata": {"name": spec["priorityClassName"]}, "value": class_value}
        pod = default_pod_priority(pod, priority_class)
    pod["status"] = {"phase": "Pending"}
    errors = validate_pod(pod)
    if errors:
        raise ManifestError("invalid pod: " + "; ".join(map(str, errors)))
    return pod


def _tolerates_all_no_execute(toleration: Object) -> bool:
    return (
        not toleration.get("key")
        and toleration.get("operator") == "Exists"
        and toleration.get("effect") in ("NoExecute", "", None)
    )


def _uid(pod: Object, source: str, node_name: str) -> str:
    """upstream applyDefaults' uid: a hash of the pod, then the host and the file."""
    digest = hashlib.md5(orjson.dumps(pod, option=orjson.OPT_SORT_KEYS), usedforsecurity=False)
    digest.update(f"host:{node_name}".encode())
    digest.update(f"file:{source}".encode())
    return digest.hexdigest()


def read_manifest(path: Path, node_name: str) -> Object:
    """The static pod of the file ``path``; :class:`ManifestError` if it is broken."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"cannot read the manifest: {error}") from None
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise ManifestError(f"the manifest is not YAML or JSON: {reason}") from None
    return static_pod(document, str(path), node_name)


def manifest_files(folder: Path) -> Iterator[Path]:
    """The files of ``folder`` that hold manifests, by name: not dotfiles, not folders."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.name.startswith(".") and entry.is_file():
            yield Path(entry.path)


def read_folder(folder: Path, node_name: str) -> tuple[list[Object], dict[str, str]]:
    """The static pods of ``folder``'s manifests, and file -> why for the broken ones."""
    pods = []
    errors = {}
    for file in manifest_files(folder):
        try:
            pods.append(read_manifest(file, node_name))
        except ManifestError as error:
            errors[str(file)] = str(error)
    return pods, errors


class StaticPodSource:
    """Reports the static pods of ``path`` to ``on_update`` (the complete set) on each change.

    The first read is always reported (an empty set too), so that the kubelet
    knows the source is ready. ``recorder`` gets the Warning Events of broken
    manifests, about the Node ``node_name``. ``period`` is fileCheckFrequency;
    ``watch`` False reads on the period only (inotify is used where it works).
    """

    def __init__(
        self,
        path: str | Path,
        node_name: str,
        on_update: Callable[[list[Object]], None],
        recorder: EventRecorder | None = None,
        *,
        period: float = 20.0,
        watch: bool = True,
        clock: WallClock = utc_now,
    ) -> None:
        self.path = Path(path)
        self.node_name = node_name
        self._on_update = on_update
        self._recorder = recorder
        self._period = period
        self._watch = watch
        self._clock = clock
        self._reported: list[Object] | None = None
        #: uid -> when first seen, kept while the pod stays.
        self._seen: dict[str, str] = {}
        #: file -> the error last reported for it.
        self._errors: dict[str, str] = {}

    def scan(self) -> list[Object]:
        """Read the folder now; report the set if it changed (or was never reported)."""
        return self._publish(*read_folder(self.path, self.node_name))

    def _publish(self, pods: list[Object], errors: dict[str, str]) -> list[Object]:
        """Report broken manifests and, if it changed, the set of ``pods``."""
        self._report_errors(errors)
        seen = {}
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen[uid] = self._seen.get(uid) or micro_timestamp(self._clock())
            pod["metadata"]["annotations"][CONFIG_SEEN_ANNOTATION] = seen[uid]
        self._seen = seen
        if pods != self._reported:
            self._reported = pods
            self._on_update(orjson.loads(orjson.dumps(pods)))
        return pods

    def _report_errors(self, errors: dict[str, str]) -> None:
        for file, message in errors.items():
            if self._errors.get(file) == message:
                continue
            log.error("could not process manifest file %s: %s", file, message)
            if self._recorder is not None:
                self._recorder.event(
                    node_reference(self.node_name), WARNING, INVALID_MANIFEST_REASON,
                    f"Static pod manifest {file} is not used: {message}",
                )  # fmt: skip
        self._errors = errors

    async def run(self) -> None:
        """Read the folder on every change and every period, until cancelled."""
        watcher: _FolderWatch | None = None
        try:
            while True:
                if self._watch and watcher is None:
                    watcher = _FolderWatch.start(self.path)
                self._publish(*await asyncio.to_thread(read_folder, self.path, self.node_name))
                if watcher is None:
                    await asyncio.sleep(self._period)
                    continue
                await watcher.wait(self._period)
                if watcher.gone:
                    watcher.close()
                    watcher = None
        finally:
            if watcher is not None:
                watcher.close()


class _FolderWatch:
    """An inotify watch of one folder, read on the event loop."""

    def __init__(self, inotify: INotify) -> None:
        self._inotify = inotify
        self._event = asyncio.Event()
        self.gone = False
        asyncio.get_running_loop().add_reader(inotify.fileno(), self._event.set)

    @classmethod
    def start(cls, folder: Path) -> _FolderWatch | None:
        """A watch of ``folder``, or None where it cannot be watched (then: the period)."""
        inotify = INotify(nonblocking=True)
        try:
            inotify.add_watch(folder, _WATCHED)
        except OSError as error:
            log.info("not watching %s (%s): reading it every period", folder, error)
            inotify.close()
            return None
        return cls(inotify)

    async def wait(self, at_most: float) -> None:
        """Wait until the folder changes, at most ``at_most`` seconds; consume the events."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await self._event.wait()
        self._event.clear()
        events = self._inotify.read(timeout=0)
        if any(event.mask & (flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED)
               for event in events):  # fmt: skip
            self.gone = True

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._inotify.fileno())
        self._inotify.close()
