"""Admission: the built-in plugins that run before an object is stored.

Enabled by default upstream and reproduced here:
- NamespaceLifecycle: no new objects in a namespace that does not exist or
  is terminating; the immortal namespaces cannot be deleted.
- ServiceAccount: pods without a service account run as ``default``, and
  get the token volume unless they opt out (see serviceaccountadmission.py).
- Priority: a pod's ``priority`` comes from its PriorityClass.
- DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes
  for 300 s.
- ResourceQuota (validating, see quota.py): creates (and service and claim
  updates) that would exceed a quota are refused; the others are charged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pynetes.api import errors
from pynetes.api.defaults import default_pod_priority, default_toleration_seconds
from pynetes.api.resources import Resource
from pynetes.apiserver.quota import QuotaAdmission
from pynetes.apiserver.serviceaccountadmission import admit_pod, is_mirror_pod

Object = dict[str, Any]

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
#: The two classes every cluster has (upstream creates them at start-up).
_SYSTEM_PRIORITY_CLASSES: dict[str, Object] = {
    "system-cluster-critical": {"value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"},
    "system-node-critical": {"value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"},
}


class ObjectLookup(Protocol):
    """Reads the admission plugins need: current objects from the watch caches."""

    async def namespace(self, name: str) -> Object | None: ...

    async def priority_class(self, name: str) -> Object | None: ...

    async def object(self, plural: str, namespace: str, name: str) -> Object | None:
        """A core (``v1``) object by its resource's plural, None when absent."""
        ...


class Admission:
    """The admission chain for creates, updates and deletes."""

    def __init__(self, lookup: ObjectLookup, quota: QuotaAdmission | None = None) -> None:
        self._lookup = lookup
        self._quota = quota

    def validate_create(
        self, resource: Resource, namespace: str, dry_run: bool
    ) -> Callable[[Object], Awaitable[None]]:
        """The validating plugins of a create, for the store to run on the named, valid object."""

        async def validate(obj: Object) -> None:
            if self._quota is not None:
                await self._quota.admit_create(resource, namespace, obj, dry_run=dry_run)

        return validate

    def validate_update(
        self, resource: Resource, namespace: str, dry_run: bool
    ) -> Callable[[Object, Object], Awaitable[None]]:
        """The validating plugins of an update, run by the store on (new, current)."""

        async def validate(new: Object, current: Object) -> None:
            if self._quota is not None:
                await self._quota.admit_update(resource, namespace, new, current, dry_run=dry_run)

        return validate

    async def admit_create(self, resource: Resource, namespace: str, obj: Object) -> None:
        if resource.namespaced:
            await self._check_namespace_open(resource, namespace, obj)
        if resource.group == "" and resource.plural == "pods":
            await self._admit_service_account(namespace, obj)
            admitted = default_toleration_seconds(await self._with_priority(obj))
            obj.clear()
            obj.update(admitted)

    async def admit_update(self, resource: Resource, namespace: str, obj: Object) -> None:
        """Updates go through: NamespaceLifecycle only guards creation."""

    def admit_delete(self, resource: Resource, name: str) -> None:
        if resource.group == "" and resource.plural == "namespaces" and name in IMMORTAL_NAMESPACES:
            raise errors.ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                name=name,
                kind="namespaces",
            )

    async def _admit_service_account(self, namespace: str, pod: Object) -> None:
        spec = pod.get("spec") or {}
        account_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        account = None
        if not is_mirror_pod(pod):
            account = await self._lookup.object("serviceaccounts", namespace, account_name)
        admit_pod(pod, account)

    async def _check_namespace_open(self, resource: Resource, namespace: str, obj: Object) -> None:
        found = await self._lookup.namespace(namespace)
        if found is None:
            raise errors.not_found_error("", "namespaces", namespace)
        if (found.get("status") or {}).get("phase") == "Terminating":
            name = (obj.get("metadata") or {}).get("name") or ""
            kind = errors.qualified_kind(resource.group, resource.plural)
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{kind} "{name}" is forbidden: unable to create new content in namespace'
                f" {namespace} because it is being terminated",
                name=name,
                group=resource.group,
                kind=resource.plural,
                causes=[
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )

    async def _with_priority(self, pod: Object) -> Object:
        """The Priority plugin: ``spec.priority`` from the PriorityClass the pod names."""
        name = (pod.get("spec") or {}).get("priorityClassName")
        if not name:
            return default_pod_priority(pod, None)
        found = _SYSTEM_PRIORITY_CLASSES.get(name) or await self._lookup.priority_class(name)
        if found is None:
            raise errors.ApiError(
                403,
                "Forbidden",
                f'pods "{(pod.get("metadata") or {}).get("name", "")}" is forbidden: no'
                f" PriorityClass with name {name} was found",
            )
        return default_pod_priority(pod, found)
