"""Waiting for a cluster that is starting, and telling the user what it waits for.

Each wait polls (a quarter second apart) until its condition holds, the time is up,
the user stops, or a process ``up`` started dies; on anything but success it says
why and returns False, so that ``up`` stops what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode

from pynetes.api.meta import parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.cluster.processes import Child

Object = dict[str, Any]
POLL = 0.25
NODES = built_in("", "v1", "nodes")
PODS = built_in("", "v1", "pods")
DAEMON_SETS = built_in("apps", "v1", "daemonsets")
DEPLOYMENTS = built_in("apps", "v1", "deployments")
CONFIG_MAPS = built_in("", "v1", "configmaps")


class Watch:
    """The waits of a starting cluster, reported through ``say``; each gives up after
    ``patience`` seconds."""

    def __init__(
        self,
        client: ApiClient,
        children: Sequence[Child],
        stop: asyncio.Event,
        *,
        say: Callable[[str], None],
        patience: float,
    ) -> None:
        self._client = client
        self._children = children
        self._stop = stop
        self._say = say
        self._patience = patience
        self._reported: dict[str, str] = {}

    async def api_ready(self) -> bool:
        """The API server answers /readyz."""

        async def ready() -> bool:
            with contextlib.suppress(errors.ApiError, errors.TransportError):
                async with self._client.stream("/readyz") as body:
                    async for _ in body:
                        pass
                return True
            return False

        return await self._until(ready, "the API server to answer")

    async def node_registered(self, node_name: str) -> bool:
        async def registered() -> bool:
            with contextlib.suppress(errors.ApiError, errors.TransportError):
                await self._client.get(NODES, node_name)
                return True
            return False

        return await self._until(registered, f"node {node_name} to register")

    async def controllers_working(self) -> bool:
        """The controller manager has published the cluster CA into kube-system
        (``kube-root-ca.crt``): add-on pods applied now mount their service-account
        volumes at the first try instead of backing off on a missing ConfigMap."""

        async def published() -> bool:
            with contextlib.suppress(errors.ApiError, errors.TransportError):
                await self._client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace="kube-system")
                return True
            return False

        return await self._until(published, "the controller manager to publish the cluster CA")

    async def node_ready(self, node_name: str, *, reported_since: datetime | None = None) -> bool:
        """The node is registered and Ready; with ``reported_since``, Ready as reported
        at or after that time (whole seconds, as the API keeps it): a Node left Ready by
        a kubelet that has stopped says nothing about the one just started."""

        async def ready() -> bool:
            try:
                node = await self._client.get(NODES, node_name)
            except (errors.ApiError, errors.TransportError):
                return False
            fresh = _node_ready(node, reported_since)
            self._report("node " + node_name, "Ready" if fresh else "NotReady")
            return fresh

        return await self._until(ready, f"node {node_name} to be Ready")

    async def cluster_ready(self, node_name: str, since: datetime) -> bool:
        """The node is Ready, every kube-system DaemonSet and Deployment has all its
        pods, and every kube-system pod is Running and ready, all as reported at or
        after ``since`` (the kubelet's start): a cluster brought back still shows the
        statuses its last run left, until its kubelet reports anew."""

        async def ready() -> bool:
            try:
                node = await self._client.get(NODES, node_name)
                pods = await self._client.list(PODS, namespace="kube-system")
                daemon_sets = await self._client.list(DAEMON_SETS, namespace="kube-system")
                deployments = await self._client.list(DEPLOYMENTS, namespace="kube-system")
            except (errors.ApiError, errors.TransportError):
                return False
            node_ready = _node_ready(node, since)
            self._report("node " + node_name, "Ready" if node_ready else "NotReady")
            for pod in pods["items"]:
                self._report("pod kube-system/" + pod["metadata"]["name"], _pod_state(pod, since))
            return (
                node_ready
                and all(_daemon_set_complete(each) for each in daemon_sets["items"])
                and all(_deployment_complete(each) for each in deployments["items"])
                and all(_pod_state(pod, since) == "Running" for pod in pods["items"])
            )

        return await self._until(ready, "the node and kube-system pods to be ready")

    async def cluster_dns_answers(self, server_ip: str, name: str) -> bool:
        """The cluster DNS answers an A query for ``name`` sent from this host to its
        Service address ``server_ip``: the DNS pod serves, and kube-proxy has programmed
        the Service (it does so a moment after the pod turns ready, and pods created
        before that would find no DNS)."""

        async def answers() -> bool:
            query = dns.message.make_query(name, "A")
            with contextlib.suppress(dns.exception.DNSException, OSError):
                reply = await dns.asyncquery.udp(query, server_ip, timeout=POLL)
                return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)
            return False

        return await self._until(answers, f"cluster DNS to answer at {server_ip}")

    def _report(self, what: str, state: str) -> None:
        if self._reported.get(what) != state:
            self._reported[what] = state
            self._say(f"  {what}: {state}")

    async def _until(self, condition: Callable[[], Awaitable[bool]], what: str) -> bool:
        self._say(f"waiting for {what}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._patience
        while loop.time() < deadline:
            if self._stop.is_set():
                return False
            for child in self._children:
                if child.exited:
                    self._say(f"{child.name} exited during start-up; its log, {child.log_path}:")
                    self._say(child.last_words())
                    return False
            if await condition():
                return True
            await asyncio.sleep(POLL)
        self._say(f"gave up waiting for {what} after {self._patience:.0f} s; see the logs")
        return False


def _node_ready(node: Object, reported_since: datetime | None = None) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            if reported_since is None:
                return True
            heartbeat = parse_timestamp(str(condition.get("lastHeartbeatTime") or ""))
            return heartbeat is not None and heartbeat >= reported_since.replace(microsecond=0)
    return False


def _pod_state(pod: Object, since: datetime) -> str:
    """Running (and ready, its containers started at or after ``since``), or what
    kubectl's STATUS column would say instead."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("waiting"):
            return str(state["waiting"].get("reason") or "Waiting")
        started = parse_timestamp(str((state.get("running") or {}).get("startedAt") or ""))
        if started is None or started < since.replace(microsecond=0):
            return "ContainerCreating"
    phase = str(status.get("phase") or "Pending")
    if phase != "Running":
        return phase
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return "Running" if ready else "Running (not ready)"


def _daemon_set_complete(daemon_set: Object) -> bool:
    status = daemon_set.get("status") or {}
    desired = status.get("desiredNumberScheduled") or 0
    return desired > 0 and status.get("numberReady") == desired


def _deployment_complete(deployment: Object) -> bool:
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    return ((deployment.get("status") or {}).get("readyReplicas") or 0) >= wanted
