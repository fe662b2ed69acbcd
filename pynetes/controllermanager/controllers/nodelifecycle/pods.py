"""Pods by node: the index both node controllers look pods up by, and marking them not ready."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pynetes.api.meta import timestamp
from pynetes.api.pods import ready_condition
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.events import WARNING, EventRecorder
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
#: The pod informer's index of pods by ``spec.nodeName`` (as upstream's "spec.nodeName" index).
BY_NODE = "spec.nodeName"


def node_name_of(pod: Object) -> list[str]:
    """Index function: the node a pod is bound to (none when unscheduled)."""
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []


async def mark_not_ready(
    client: ApiClient, recorder: EventRecorder, pods: Iterable[Object], node_name: str, now: float
) -> None:
    """Set the Ready condition of ``pods`` on ``node_name`` False (upstream's MarkPodsNotReady).

    Each pod changed gets a Warning ``NodeNotReady`` Event. Pods already
    gone are skipped; the first other failure is raised once every pod was
    tried, so the caller can try again later.
    """
    failure: Exception | None = None
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") != node_name:
            continue
        ready = ready_condition(pod)
        if ready is None or ready.get("status") == "False":
            continue
        stamp = timestamp(datetime.fromtimestamp(now, UTC))
        not_ready = {**ready, "status": "False", "lastTransitionTime": stamp}
        status = dict(pod.get("status") or {})
        status["conditions"] = [not_ready if c is ready else c for c in status["conditions"]]
        try:
            await client.replace(PODS, {**pod, "status": status}, subresource="status")
        except errors.NotFound:
            continue
        except (errors.ApiError, errors.TransportError) as error:
            log.info("could not mark pod %s not ready: %s", pod["metadata"]["name"], error)
            failure = failure or error
            continue
        recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
    if failure is not None:
        raise failure
