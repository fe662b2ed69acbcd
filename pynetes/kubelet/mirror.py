"""Mirror pods: the API's read-only view of the static pods of this node.

As upstream's mirror_client.go and the kubelet's sync of static pods:

- each static pod has a mirror pod of its name and namespace in the API, a copy
  with the annotation ``kubernetes.io/config.mirror`` = the static pod's config
  hash and the Node as controller owner (apiVersion v1, kind Node, name, uid);
- a mirror pod that is being deleted, or that mirrors another version (hash), is
  deleted (no grace, uid precondition) and made again; the static pod never
  stops for it;
- a mirror pod of this node without a static pod is deleted;
- while the API does not answer nothing changes; the next sync tries again.

How the kubelet drives it: it keeps one :class:`MirrorPods` and calls
:meth:`MirrorPods.set_static_pods` from the static pod source's ``on_update``,
:meth:`MirrorPods.poke` from its pod informer's handlers (for any pod of this node
whose ``kubernetes.io/config.mirror`` annotation is set: added, updated, deleted),
and runs :meth:`MirrorPods.run` with a function listing that informer's pods.
``run`` syncs on every poke and change, every ``period``, and retries after
``retry`` seconds when a sync failed.

The API server admits mirror pods as any pod (the NodeRestriction admission
plugin, which limits what a node may mirror, comes later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.staticpods import CONFIG_HASH_ANNOTATION, CONFIG_MIRROR_ANNOTATION

log = logging.getLogger(__name__)

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
FIELD_MANAGER = "kubelet"


def is_mirror_pod(pod: Object) -> bool:
    return CONFIG_MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def config_hash(pod: Object) -> str:
    """The hash a static pod carries (``kubernetes.io/config.hash``)."""
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(CONFIG_HASH_ANNOTATION, "")


def _key(pod: Object) -> tuple[str, str]:
    metadata = pod.get("metadata") or {}
    return metadata.get("namespace") or "default", metadata.get("name") or ""


def mirror_pod(static_pod: Object, node_name: str, node_uid: str) -> Object:
    """The mirror pod of ``static_pod``: a copy annotated with its hash, owned by the Node.

    The static pod's uid, resourceVersion and status are left out: the API gives
    the mirror pod its own uid.
    """
    metadata = {
        key: value
        for key, value in (static_pod.get("metadata") or {}).items()
        if key not in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences")
    }
    annotations = dict(metadata.get("annotations") or {})
    annotations[CONFIG_MIRROR_ANNOTATION] = config_hash(static_pod)
    metadata["annotations"] = annotations
    metadata["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
         "controller": True}
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": static_pod.get("spec") or {},
    }


class MirrorPods:
    """Keeps the mirror pods of node ``node_name`` (uid ``node_uid``) in line with its
    static pods."""

    def __init__(
        self,
        client: ApiClient,
        node_name: str,
        node_uid: str,
        *,
        period: float = 60.0,
        retry: float = 1.0,
    ) -> None:
        self._client = client
        self.node_name = node_name
        self.node_uid = node_uid
        self._period = period
        self._retry = retry
        self._static: list[Object] = []
        self._wake = asyncio.Event()
        #: Mirror pods created and deleted by this kubelet (for its metrics).
        self.created = 0
        self.deleted = 0

    def set_static_pods(self, pods: list[Object]) -> None:
        """The static pods now (a static pod source's ``on_update``); syncs soon."""
        self._static = list(pods)
        self.poke()

    def poke(self) -> None:
        """Sync soon: a mirror pod of this node changed or went."""
        self._wake.set()

    async def run(self, mirror_pods_in_api: Callable[[], list[Object]]) -> None:
        """Sync with the pods ``mirror_pods_in_api`` lists (this node's pods as the
        kubelet's informer holds them) on every change, until cancelled."""
        while True:
            self._wake.clear()
            done = await self.sync(self._static, mirror_pods_in_api())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._period if done else self._retry):
                    await self._wake.wait()

    async def sync(self, static_pods: list[Object], mirror_pods_in_api: list[Object]) -> bool:
        """One pass: True if every mirror pod is as it should be, False if a call failed.

        ``mirror_pods_in_api`` may hold any pods; those that are not mirror pods
        of this node are ignored.
        """
        mirrors = {
            _key(pod): pod
            for pod in mirror_pods_in_api
            if is_mirror_pod(pod) and (pod.get("spec") or {}).get("nodeName") == self.node_name
        }
        done = True
        for static in static_pods:
            done &= await self._sync_one(static, mirrors.pop(_key(static), None))
        for orphan in mirrors.values():
            done &= await self._delete(orphan)
        return done

    async def _sync_one(self, static: Object, mirror: Object | None) -> bool:
        if mirror is not None:
            metadata = mirror["metadata"]
            current = metadata["annotations"][CONFIG_MIRROR_ANNOTATION] == config_hash(static)
            if current and not metadata.get("deletionTimestamp"):
                return True
            if not await self._delete(mirror):
                return False
        return await self._create(static)

    async def _create(self, static: Object) -> bool:
        pod = mirror_pod(static, self.node_name, self.node_uid)
        namespace, name = _key(pod)
        try:
            await self._client.create(PODS, pod, namespace=namespace, field_manager=FIELD_MANAGER)
        except errors.AlreadyExists:
            # upstream: fine if the one there mirrors this version; else the next sync
            # (told by the informer) deletes it and creates it again
            return True
        except (errors.ApiError, errors.TransportError) as error:
            log.warning("failed creating a mirror pod for %s/%s: %s", namespace, name, error)
            return False
        self.created += 1
        log.info("created mirror pod %s/%s", namespace, name)
        return True

    async def _delete(self, mirror: Object) -> bool:
        namespace, name = _key(mirror)
        try:
            await self._client.delete(
                PODS, name, namespace=namespace, grace_period_seconds=0,
                preconditions={"uid": mirror["metadata"]["uid"]},
            )  # fmt: skip
        except (errors.NotFound, errors.Conflict):
            return True  # gone already, or replaced: the informer tells of the new one
        except (errors.ApiError, errors.TransportError) as error:
            log.warning("failed deleting mirror pod %s/%s: %s", namespace, name, error)
            return False
        self.deleted += 1
        log.info("deleted mirror pod %s/%s", namespace, name)
        return True
