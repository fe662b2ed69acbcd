"""Deleting everything in a namespace: one pass, and what it left behind.

As upstream's namespacedResourcesDeleter.deleteAllContent: discovery names
every namespaced resource (custom ones included) that supports ``delete``;
pods go first, and while any remain nothing else is deleted (upstream's
OrderedNamespaceDeletion, so workloads' volumes and secrets outlive their
pods). Each resource is emptied with one ``deletecollection`` when it has
that verb, else object by object, with background propagation; then it is
listed again to count what remains and which finalizers hold it.

A pass returns its :class:`~.conditions.Findings` and an estimate of the
seconds until another pass is worth making: 0 when the namespace is empty,
the longest pod grace period while pods terminate, 15 when only finalizers
hold objects (upstream's estimates).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.discovery import preferred_resources
from pynetes.client.rest import ApiClient, resource_path
from pynetes.controllermanager.controllers.namespace.conditions import Findings

Object = dict[str, Any]

#: Seconds to wait for finalizers of remaining content before looking again (upstream's).
FINALIZER_ESTIMATE_SECONDS = 15
#: A pod's grace period when its spec names none.
DEFAULT_POD_GRACE_SECONDS = 30
BACKGROUND = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}


@dataclass
class Pass:
    """What one pass found, and how many seconds until the next is worth making."""

    findings: Findings
    estimate: int = 0

    @property
    def done(self) -> bool:
        """Everything is gone and nothing failed: the namespace may be finalized."""
        return not self.findings.troubles()


async def delete_all_content(client: ApiClient, namespace: str) -> Pass:
    """Delete what is in ``namespace`` (pods first) and report what remains."""
    discovery = await preferred_resources(client)
    result = Pass(Findings(discovery_failures=dict(discovery.failed)))
    deletable = [r for r in discovery.supporting("delete") if r.namespaced]
    pods = [r for r in deletable if (r.group, r.plural) == ("", "pods")]
    others = [r for r in deletable if (r.group, r.plural) != ("", "pods")]
    for stage in (pods, others):
        estimates = await asyncio.gather(
            *(_empty(client, resource, namespace, result.findings) for resource in stage)
        )
        result.estimate = max([result.estimate, *estimates])
        if result.findings.remaining:
            break  # pods remain: the rest waits for them
    return result


async def _empty(client: ApiClient, resource: Resource, namespace: str, findings: Findings) -> int:
    """Delete one resource's objects in ``namespace``; the seconds its remains may need."""
    try:
        if "deletecollection" in resource.verbs:
            path = resource_path(resource, namespace)
            await client.request("DELETE", path, body=BACKGROUND)
        elif "list" in resource.verbs:
            for obj in await _objects(client, resource, namespace):
                await _delete(client, resource, namespace, obj)
        if "list" not in resource.verbs:
            return 0
        remaining = await _objects(client, resource, namespace)
    except errors.ApiError as error:
        if isinstance(error, errors.NotFound | errors.MethodNotAllowed):
            return 0  # the resource went away meanwhile, or cannot be deleted here
        findings.content_errors.append(str(error))
        return 0
    return _account(resource, remaining, findings)


async def _objects(client: ApiClient, resource: Resource, namespace: str) -> list[Object]:
    return (await client.list_all(resource, namespace=namespace)).get("items") or []


async def _delete(client: ApiClient, resource: Resource, namespace: str, obj: Object) -> None:
    name = (obj.get("metadata") or {}).get("name", "")
    with contextlib.suppress(errors.NotFound):
        await client.delete(resource, name, namespace=namespace, propagation_policy="Background")


def _account(resource: Resource, remaining: list[Object], findings: Findings) -> int:
    """Count what remains and the finalizers holding it; the seconds it may need."""
    if not remaining:
        return 0
    findings.remaining[f"{resource.plural}.{resource.group}"] = len(remaining)
    for obj in remaining:
        for finalizer in (obj.get("metadata") or {}).get("finalizers") or ():
            findings.finalizers[finalizer] = findings.finalizers.get(finalizer, 0) + 1
    estimate = _pod_grace(remaining) if (resource.group, resource.plural) == ("", "pods") else 0
    if estimate:
        return estimate
    if any((obj.get("metadata") or {}).get("finalizers") for obj in remaining):
        return FINALIZER_ESTIMATE_SECONDS
    findings.content_errors.append(
        f"unexpected items still remain in namespace: {remaining[0]['metadata']['namespace']}"
        f" for gvr: {resource.group}/{resource.version}, Resource={resource.plural}"
    )
    return 0


def _pod_grace(pods: list[Object]) -> int:
    """The longest grace period of pods still running (upstream's estimate for pods)."""
    longest = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        longest = max(longest, DEFAULT_POD_GRACE_SECONDS if grace is None else int(grace))
    return longest
