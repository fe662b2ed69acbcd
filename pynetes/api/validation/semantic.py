"""The semantic rules of each kind: what the schema cannot say, worded as upstream words it.

:func:`validate_object` judges an object about to be created and
:func:`validate_update` an update against the stored object; both return
upstream's field errors, which the server turns into a 422 ``Invalid``
Status. One table maps each (group, kind) to its name rule, scope and the
spec rules of its module (pods, workloads, services, cluster, rbac, crds).

Contract, as upstream's strategies run before validation:

- the object passed the schema (structural) check and was defaulted; fields
  upstream always defaults are nonetheless judged by their default when
  absent, so the answer does not depend on defaulting having run;
- on create the name is already generated from ``generateName`` and
  server-set fields (a Job's selector and labels) are in place;
- on update, uid and creationTimestamp were copied from the stored object
  when the request omitted them (upstream ``BeforeUpdate``), and the
  resourceVersion question was settled by the update path.

Neither function changes its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.errors import FieldError
from pynetes.api.validation import (
    appsstatus,
    certificates,
    cluster,
    crds,
    networking,
    pods,
    podstatus,
    rbac,
    services,
    workloads,
)
from pynetes.api.validation.metadata import (
    NameValidator,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    name_is_path_segment,
    validate_object_meta,
    validate_object_meta_update,
)

Object = Mapping[str, Any]
SpecRule = Callable[[Object], list[FieldError]]
UpdateRule = Callable[[Object, Object], list[FieldError]]


@dataclass(frozen=True)
class _Kind:
    """How one kind is validated; ``update`` defaults to re-running ``create``."""

    namespaced: bool
    name: NameValidator = name_is_dns_subdomain
    create: SpecRule | None = None
    update: UpdateRule | None = None
    #: Core kinds add the standard-finalizer rule; CRDs and custom resources do not.
    kube_finalizers: bool = True


def _none(new: Object, old: Object) -> list[FieldError]:
    return []


def _spec(rule: Callable[[Object, str], list[FieldError]]) -> SpecRule:
    return lambda obj: rule(obj.get("spec") or {}, "spec")


def _then(create: SpecRule, *extra: UpdateRule) -> UpdateRule:
    """The create rules on the new object, then update-only rules."""
    return lambda new, old: [
        *create(new),
        *(error for rule in extra for error in rule(new, old)),
    ]


def _pod_template(obj: Object) -> list[FieldError]:
    return pods.validate_pod_template_spec(obj.get("template") or {}, "template")


_deployment = _spec(workloads.validate_deployment_spec)
_replica_set = _spec(workloads.validate_replica_set_spec)
_stateful_set = _spec(workloads.validate_stateful_set_spec)
_daemon_set = _spec(workloads.validate_daemon_set_spec)

_KINDS: dict[tuple[str, str], _Kind] = {
    ("", "PodTemplate"): _Kind(True, create=_pod_template),
    ("", "Service"): _Kind(
        True, name_is_dns1035_label, services.validate_service, services.validate_service_update
    ),
    ("", "Namespace"): _Kind(False, name_is_dns_label, cluster.validate_namespace_spec, _none),
    ("", "Node"): _Kind(False, create=cluster.validate_node, update=cluster.validate_node_update),
    ("", "ConfigMap"): _Kind(
        True, create=cluster.validate_config_map, update=cluster.validate_config_map_update
    ),
    ("", "Secret"): _Kind(
        True, create=cluster.validate_secret, update=cluster.validate_secret_update
    ),
    ("", "ServiceAccount"): _Kind(True),
    ("apps", "Deployment"): _Kind(
        True, create=_deployment, update=_then(_deployment, workloads.validate_selector_update)
    ),
    ("apps", "ReplicaSet"): _Kind(
        True, create=_replica_set, update=_then(_replica_set, workloads.validate_selector_update)
    ),
    ("apps", "StatefulSet"): _Kind(
        True,
        name_is_dns_label,
        _stateful_set,
        _then(_stateful_set, workloads.validate_stateful_set_update),
    ),
    ("apps", "DaemonSet"): _Kind(
        True, create=_daemon_set, update=_then(_daemon_set, workloads.validate_selector_update)
    ),
    ("batch", "Job"): _Kind(
        True, create=workloads.validate_job, update=workloads.validate_job_update
    ),
    ("batch", "CronJob"): _Kind(
        True, create=workloads.validate_cron_job, update=workloads.validate_cron_job
    ),
    ("coordination.k8s.io", "Lease"): _Kind(True, create=cluster.validate_lease),
    ("certificates.k8s.io", "CertificateSigningRequest"): _Kind(
        False,
        name_is_path_segment,
        certificates.validate_csr,
        certificates.validate_csr_update,
    ),
    ("scheduling.k8s.io", "PriorityClass"): _Kind(
        False,
        create=cluster.validate_priority_class,
        update=cluster.validate_priority_class_update,
    ),
    ("policy", "PodDisruptionBudget"): _Kind(True, create=cluster.validate_pod_disruption_budget),
    ("discovery.k8s.io", "EndpointSlice"): _Kind(
        True,
        create=services.validate_endpoint_slice,
        update=services.validate_endpoint_slice_update,
    ),
    ("networking.k8s.io", "Ingress"): _Kind(
        True,
        create=networking.validate_ingress,
        update=lambda new, old: networking.validate_ingress_spec(new),
    ),
    ("networking.k8s.io", "IngressClass"): _Kind(
        False,
        create=networking.validate_ingress_class,
        update=networking.validate_ingress_class_update,
    ),
    ("networking.k8s.io", "NetworkPolicy"): _Kind(True, create=networking.validate_network_policy),
    (rbac.GROUP, "Role"): _Kind(
        True, name_is_path_segment, lambda obj: rbac.validate_rules(obj, namespaced=True)
    ),
    (rbac.GROUP, "ClusterRole"): _Kind(
        False, name_is_path_segment, lambda obj: rbac.validate_rules(obj, namespaced=False)
    ),
    (rbac.GROUP, "RoleBinding"): _Kind(
        True,
        name_is_path_segment,
        lambda obj: rbac.validate_binding(obj, namespaced=True),
        _then(
            lambda obj: rbac.validate_binding(obj, namespaced=True), rbac.validate_binding_update
        ),
    ),
    (rbac.GROUP, "ClusterRoleBinding"): _Kind(
        False,
        name_is_path_segment,
        lambda obj: rbac.validate_binding(obj, namespaced=False),
        _then(
            lambda obj: rbac.validate_binding(obj, namespaced=False), rbac.validate_binding_update
        ),
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _Kind(
        False,
        create=crds.validate_crd,
        update=_then(crds.validate_crd, crds.validate_crd_update),
        kube_finalizers=False,
    ),
}


def _kind(group: str, kind: str, obj: Object, namespaced: bool | None) -> _Kind:
    """The table's entry, or metadata-only rules for other kinds (custom resources)."""
    known = _KINDS.get((group, kind))
    if known is not None:
        return known
    if namespaced is None:
        namespaced = bool((obj.get("metadata") or {}).get("namespace"))
    return _Kind(namespaced, kube_finalizers=False)


def validate_object(
    group: str, version: str, kind: str, obj: Object, *, namespaced: bool | None = None
) -> list[FieldError]:
    """Field errors for creating ``obj``, in upstream's order and words.

    ``namespaced`` gives the scope of kinds this module does not know (custom
    resources); without it their scope is taken from the object itself.
    ``version`` is accepted for symmetry with the API: the served versions
    share their rules.
    """
    if (group, kind) == ("", "Pod"):
        return pods.validate_pod(obj)
    rules = _kind(group, kind, obj, namespaced)
    errors = validate_object_meta(
        obj.get("metadata") or {},
        namespaced=rules.namespaced,
        validate_name=rules.name,
        kube_finalizers=rules.kube_finalizers,
    )
    return errors + rules.create(obj) if rules.create is not None else errors


def validate_update(
    group: str,
    version: str,
    kind: str,
    new: Object,
    old: Object,
    *,
    namespaced: bool | None = None,
    subresource: str | None = None,
) -> list[FieldError]:
    """Field errors for replacing ``old`` with ``new``: identity and immutable fields included.

    A pod, Deployment, ReplicaSet, StatefulSet or DaemonSet written through ``status``
    is checked by upstream's rules of its status update (its spec is the stored one by
    then, so the spec's rules cannot fail); other kinds' status writes are checked as a
    whole update.
    """
    if (group, kind) == ("", "Pod"):
        if subresource == "status":
            return podstatus.validate_pod_status_update(new, old)
        return pods.validate_pod_update(new, old)
    if subresource == "status" and group == "apps" and appsstatus.has_status_rules(kind):
        return appsstatus.validate_status_update(kind, new, old)
    rules = _kind(group, kind, new, namespaced)
    errors = validate_object_meta_update(
        new.get("metadata") or {}, old.get("metadata") or {}, kube_finalizers=rules.kube_finalizers
    )
    if rules.update is not None:
        return errors + rules.update(new, old)
    if rules.create is not None:
        return errors + rules.create(new)
    return errors
