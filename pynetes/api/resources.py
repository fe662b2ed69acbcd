"""The resource registry: every kind the API serves, and how it is addressed.

One :class:`Resource` per (group, version, plural) says what discovery
publishes (kind, scope, verbs, short names, categories, subresources), where
objects live in storage, and which upstream schema definition describes them.
Built-in resources are listed here once; custom resources are added and
removed at run time as their CustomResourceDefinitions come and go.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pynetes.api import schema

STANDARD_VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

#: Verbs of each subresource, as upstream publishes them in discovery.
SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "binding": ("create",),
    "eviction": ("create",),
    "log": ("get",),
    "exec": ("create", "get"),
    "attach": ("create", "get"),
    "portforward": ("create", "get"),
    "finalize": ("update",),
    "token": ("create",),
    "approval": ("get", "patch", "update"),
    "ephemeralcontainers": ("get", "patch", "update"),
}


@dataclass(frozen=True)
class Resource:
    """A REST resource: ``/apis/<group>/<version>/[namespaces/<ns>/]<plural>``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    #: For custom resources: the CRD's schema, printer columns and scale paths.
    custom: dict[str, object] | None = field(default=None, compare=False, hash=False)
    #: (group, plural) of the resource whose stored objects this one serves, if another's.
    stored_as: tuple[str, str] | None = None
    #: False for a resource computed when read (metrics.k8s.io), never in the store.
    stored: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def storage_prefix(self) -> str:
        """Where objects live in the store; namespaced keys add ``<namespace>/``."""
        group, plural = self.stored_as or (self.group, self.plural)
        return f"/registry/{group or 'core'}/{plural}/"

    def storage_key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def schema_node(self) -> schema.Node | None:
        """The upstream schema of this kind (custom resources: their CRD's)."""
        if self.custom is not None:
            found = self.custom.get("schema")
            return found if isinstance(found, dict) else None
        name = schema.definition_name(self.group, self.version, self.kind)
        return None if name is None else schema.definition(name)


def _core(kind: str, plural: str, namespaced: bool = True, **options: object) -> Resource:
    return Resource("", "v1", kind, plural, namespaced, **options)  # type: ignore[arg-type]


def _group(
    group: str, kind: str, plural: str, namespaced: bool = True, **options: object
) -> Resource:
    version = "v1"
    return Resource(group, version, kind, plural, namespaced, **options)  # type: ignore[arg-type]


BUILT_IN: tuple[Resource, ...] = (
    _core(
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        subresources=("finalize", "status"),
        verbs=tuple(verb for verb in STANDARD_VERBS if verb != "deletecollection"),
    ),
    _core(
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=(
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "status",
        ),
    ),
    _core("Node", "nodes", False, short_names=("no",), subresources=("status",)),
    _core(
        "Service", "services", short_names=("svc",), categories=("all",), subresources=("status",)
    ),
    _core("Endpoints", "endpoints", short_names=("ep",)),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets"),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _core("Event", "events", short_names=("ev",)),
    _core(
        "ReplicationController",
        "replicationcontrollers",
        short_names=("rc",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    _core("PodTemplate", "podtemplates"),
    _core("LimitRange", "limitranges", short_names=("limits",)),
    _core("ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",)),
    _core(
        "PersistentVolume",
        "persistentvolumes",
        False,
        short_names=("pv",),
        subresources=("status",),
    ),
    _core(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short_names=("pvc",),
        subresources=("status",),
    ),
    _group(
        "apps",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    _group(
        "apps",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    _group(
        "apps",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=("all",),
        subresources=("scale", "status"),
    ),
    _group(
        "apps",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
    ),
    _group("apps", "ControllerRevision", "controllerrevisions"),
    _group("batch", "Job", "jobs", categories=("all",), subresources=("status",)),
    _group(
        "batch",
        "CronJob",
        "cronjobs",
        short_names=("cj",),
        categories=("all",),
        subresources=("status",),
    ),
    _group(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        False,
        short_names=("csr",),
        subresources=("approval", "status"),
    ),
    _group("coordination.k8s.io", "Lease", "leases"),
    _group("discovery.k8s.io", "EndpointSlice", "endpointslices"),
    _group("events.k8s.io", "Event", "events", stored_as=("", "events")),
    _group(
        "networking.k8s.io", "Ingress", "ingresses", short_names=("ing",), subresources=("status",)
    ),
    _group("networking.k8s.io", "IngressClass", "ingressclasses", False),
    _group("networking.k8s.io", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    _group(
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short_names=("pdb",),
        subresources=("status",),
    ),
    _group("rbac.authorization.k8s.io", "Role", "roles"),
    _group("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    _group("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    _group("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    _group("scheduling.k8s.io", "PriorityClass", "priorityclasses", False, short_names=("pc",)),
    _group(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        subresources=("status",),
    ),
)


def built_in(group: str, version: str, plural: str) -> Resource:
    """The built-in resource at ``group/version/plural``, for clients that address one.

    Raises KeyError for a name that is not built in: a typo in a client's
    constant should fail at import, not at its first request.
    """
    for resource in BUILT_IN:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    raise KeyError(f"no built-in resource {group}/{version}/{plural}")


class ResourceRegistry:
    """Every served resource, looked up by path segments or by kind.

    Discovery iterates groups in the order they were first registered, which
    for built-ins is upstream's order of preference.
    """

    def __init__(self, resources: Iterable[Resource] = BUILT_IN) -> None:
        self._by_path: dict[tuple[str, str, str], Resource] = {}
        self._by_kind: dict[tuple[str, str, str], Resource] = {}
        self._groups: dict[str, list[str]] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: Resource) -> None:
        """Serve ``resource`` (replacing one with the same group, version and plural)."""
        self._by_path[(resource.group, resource.version, resource.plural)] = resource
        self._by_kind[(resource.group, resource.version, resource.kind)] = resource
        versions = self._groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)

    def remove(self, group: str, version: str, plural: str) -> None:
        resource = self._by_path.pop((group, version, plural), None)
        if resource is None:
            return
        self._by_kind.pop((group, version, resource.kind), None)
        if not any(key[0] == group and key[1] == version for key in self._by_path):
            self._groups[group].remove(version)
            if not self._groups[group]:
                del self._groups[group]

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_kind.get((group, version, kind))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first ("" is the core group)."""
        return {group: list(versions) for group, versions in self._groups.items()}

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._by_path.values() if r.group == group and r.version == version]

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._by_path.values()))
