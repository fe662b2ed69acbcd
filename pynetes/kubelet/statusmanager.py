"""Writing pod statuses to the API server: only changes, static pods' to their mirror pods.

As upstream's status manager: a status is PATCHed to ``pods/<name>/status`` with
the pod's uid as a precondition (a pod deleted and recreated under the same name
is never given its predecessor's status); a write that fails (the API server is
down) is kept and retried by :meth:`StatusManager.flush`, so the latest status
always arrives once the API answers again. A static pod's status goes to its
mirror pod, once the mirror exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.staticpods import CONFIG_SOURCE_ANNOTATION

log = logging.getLogger(__name__)
Object = dict[str, Any]
PODS = built_in("", "v1", "pods")


def is_static(pod: Object) -> bool:
    """A pod the kubelet read from a file, not from the API server."""
    annotations = pod["metadata"].get("annotations") or {}
    return (annotations.get(CONFIG_SOURCE_ANNOTATION) or "api") != "api"


class StatusManager:
    """``mirror_uid(pod)`` gives the uid of a static pod's mirror pod (None: none yet)."""

    def __init__(self, client: ApiClient, mirror_uid: Callable[[Object], str | None]) -> None:
        self._client = client
        self._mirror_uid = mirror_uid
        #: pod uid -> (uid written to, status): a new mirror pod is written to afresh.
        self._sent: dict[str, tuple[str | None, Object]] = {}
        self._pending: dict[str, tuple[Object, Object]] = {}

    async def write(self, pod: Object, status: Object) -> None:
        """Send ``status`` unless it is what was last sent for this pod."""
        uid = pod["metadata"]["uid"]
        if self._sent.get(uid) == (self._target(pod), status):
            self._pending.pop(uid, None)
            return
        self._pending[uid] = (pod, status)
        await self._send(uid, pod, status)

    async def flush(self) -> None:
        """Retry every status that could not be written yet."""
        for uid, (pod, status) in list(self._pending.items()):
            await self._send(uid, pod, status)

    def forget(self, uid: str) -> None:
        self._sent.pop(uid, None)
        self._pending.pop(uid, None)

    def pending(self) -> int:
        return len(self._pending)

    def _target(self, pod: Object) -> str | None:
        """The uid of the API object that shows this pod's status (a static pod's mirror)."""
        return self._mirror_uid(pod) if is_static(pod) else pod["metadata"]["uid"]

    async def _send(self, uid: str, pod: Object, status: Object) -> None:
        target = self._target(pod)
        if target is None:
            return
        meta = pod["metadata"]
        patch = {"metadata": {"uid": target}, "status": status}
        try:
            await self._client.patch(
                PODS, meta["name"], patch, namespace=meta.get("namespace"), subresource="status"
            )
        except (errors.NotFound, errors.Conflict, errors.Invalid, errors.BadRequest) as error:
            # The pod is gone or is another pod now: this status has no one to go to.
            log.debug("status of pod %s dropped: %s", meta["name"], error)
            self._pending.pop(uid, None)
            return
        except (errors.ApiError, errors.TransportError) as error:
            log.debug("status of pod %s not written yet: %s", meta["name"], error)
            return
        if self._pending.get(uid, (None, None))[1] is status:
            del self._pending[uid]
        self._sent[uid] = (target, status)
