"""Which bodies upstream's decoder can turn into the kind a URL serves, and its words if not.

kube-apiserver decodes a create or update body with its ``runtime.Scheme``:
the body's apiVersion and kind (each filled in from the URL's when missing)
must name a Go type the scheme registers; the body is decoded into that type
and converted to the internal type of the URL's kind. So a body of another
kind is refused before anything else looks at it, with a 400 worded
``<kind> in version "<version>" cannot be handled as a <URL's kind>: ...``:

* a kind the scheme does not know in that group version: ``no kind "X" is
  registered for version "apps/v1" in scheme "..."``;
* a known kind of another type: ``converting (v1.Secret) to
  (core.ConfigMap): unknown conversion``.

A body of the URL's kind in another group version it is registered in
converts, and is refused afterwards by the API version check (see
ObjectDecoder). The schemes are modelled by the built-in resources (each
registers its kind and list kind in its group version) and by the other
kinds upstream registers in those groups, older versions included
(k8s.io/api 1.31). kube-apiserver has two schemes: the legacy scheme of the
Kubernetes groups and apiextensions-apiserver's, for
CustomResourceDefinitions; a scheme's name is where upstream creates it.
Custom resources are decoded without a scheme and are not checked here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pynetes.api.resources import BUILT_IN, Resource
from pynetes.api.validation.structural import cannot_be_handled

_APIEXTENSIONS = "apiextensions.k8s.io"
_LEGACY_SCHEME = "pkg/api/legacyscheme/scheme.go:30"
_APIEXTENSIONS_SCHEME = "pkg/apiserver/apiserver.go:53"
#: Groups whose internal types are not in a Go package named after the group's first label.
_INTERNAL_PACKAGES = {"": "core", "events.k8s.io": "core"}
_RBAC_KINDS = (
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
)
#: Kinds upstream registers besides those of the built-in resources, by group version.
_ALSO_REGISTERED: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "v1"): (
        "Binding",
        "ComponentStatus",
        "ComponentStatusList",
        "List",
        "NodeProxyOptions",
        "PodAttachOptions",
        "PodExecOptions",
        "PodLogOptions",
        "PodPortForwardOptions",
        "PodProxyOptions",
        "PodStatusResult",
        "RangeAllocation",
        "SerializedReference",
        "ServiceProxyOptions",
    ),
    ("apps", "v1beta1"): (
        "ControllerRevision",
        "ControllerRevisionList",
        "Deployment",
        "DeploymentList",
        "DeploymentRollback",
        "Scale",
        "StatefulSet",
        "StatefulSetList",
    ),
    ("apps", "v1beta2"): (
        "ControllerRevision",
        "ControllerRevisionList",
        "DaemonSet",
        "DaemonSetList",
        "Deployment",
        "DeploymentList",
        "ReplicaSet",
        "ReplicaSetList",
        "Scale",
        "StatefulSet",
        "StatefulSetList",
    ),
    ("batch", "v1beta1"): ("CronJob", "CronJobList"),
    ("coordination.k8s.io", "v1beta1"): ("Lease", "LeaseList"),
    ("discovery.k8s.io", "v1beta1"): ("EndpointSlice", "EndpointSliceList"),
    ("events.k8s.io", "v1beta1"): ("Event", "EventList"),
    ("extensions", "v1beta1"): (
        "DaemonSet",
        "DaemonSetList",
        "Deployment",
        "DeploymentList",
        "DeploymentRollback",
        "Ingress",
        "IngressList",
        "NetworkPolicy",
        "NetworkPolicyList",
        "ReplicaSet",
        "ReplicaSetList",
        "Scale",
    ),
    ("policy", "v1"): ("Eviction",),
    ("policy", "v1beta1"): ("Eviction", "PodDisruptionBudget", "PodDisruptionBudgetList"),
    ("rbac.authorization.k8s.io", "v1alpha1"): _RBAC_KINDS,
    ("rbac.authorization.k8s.io", "v1beta1"): _RBAC_KINDS,
    ("scheduling.k8s.io", "v1alpha1"): ("PriorityClass", "PriorityClassList"),
    ("scheduling.k8s.io", "v1beta1"): ("PriorityClass", "PriorityClassList"),
    ("apiextensions.k8s.io", "v1"): ("ConversionReview",),
    ("apiextensions.k8s.io", "v1beta1"): (
        "ConversionReview",
        "CustomResourceDefinition",
        "CustomResourceDefinitionList",
    ),
}


def check_decodable(resource: Resource, body: Mapping[str, Any]) -> None:
    """Raise upstream's 400 when ``body`` names a kind that cannot become ``resource``'s.

    Bodies whose apiVersion or kind the decoder would not even read (not
    strings, or an apiVersion with two slashes) are left to the caller.
    """
    named = _group_version_kind(resource, body.get("apiVersion"), body.get("kind"))
    if named is None:
        return
    group, version, kind = named
    if not _registered(resource.group, group, version, kind):
        group_version = f"{group}/{version}" if group else version
        scheme = _APIEXTENSIONS_SCHEME if resource.group == _APIEXTENSIONS else _LEGACY_SCHEME
        reason = (
            f'no kind "{kind}" is registered for version "{group_version}" in scheme "{scheme}"'
        )
        raise cannot_be_handled(kind, version, resource.kind, reason)
    if kind != resource.kind:
        target = f"{_internal_package(resource.group)}.{resource.kind}"
        reason = f"converting ({version}.{kind}) to ({target}): unknown conversion"
        raise cannot_be_handled(kind, version, resource.kind, reason)


def _group_version_kind(
    resource: Resource, api_version: Any, kind: Any
) -> tuple[str, str, str] | None:
    """The body's group, version and kind, missing parts filled in as upstream's decoder does.

    None when upstream would fail before looking the kind up (an apiVersion
    it cannot parse, or no version at all).
    """
    if not isinstance(api_version, str | None) or not isinstance(kind, str | None):
        return None
    api_version = api_version or ""
    if api_version.count("/") > 1:
        return None
    group, _, version = api_version.rpartition("/")
    if not version and (not group or group == resource.group):
        group, version = resource.group, resource.version
    if not version:
        return None
    return group, version, kind or resource.kind


@functools.lru_cache(maxsize=512)
def _registered(scheme_group: str, group: str, version: str, kind: str) -> bool:
    """Whether the scheme serving ``scheme_group`` registers ``kind`` in ``group/version``
    (remembered: every write of a built-in kind asks, and the answer never changes)."""
    if (group == _APIEXTENSIONS) != (scheme_group == _APIEXTENSIONS):
        return False
    return kind in _ALSO_REGISTERED.get((group, version), ()) or any(
        (candidate.group, candidate.version) == (group, version)
        and kind in (candidate.kind, candidate.list_kind)
        for candidate in BUILT_IN
    )


def _internal_package(group: str) -> str:
    """The Go package of a group's internal types: ``core``, ``apps``, ``rbac``, ..."""
    return _INTERNAL_PACKAGES.get(group, group.split(".")[0])
