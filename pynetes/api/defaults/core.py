"""Defaults of the core group (``v1``), as upstream's pkg/apis/core/v1 sets them.

Each function defaults one definition in place (see ``DEFAULTERS``); the
walk in :mod:`pynetes.api.defaults` calls it wherever that type occurs, so
the PodSpec defaults reach Deployment, Job and CronJob templates as they do
upstream. Declarative (``+default=``) defaults are here too.

Three functions at the end are not defaulting but the admission plugins and
registry steps that fill fields of the same objects; the API server calls
them itself, on create only.
"""

from __future__ import annotations

import re
from typing import Any

from pynetes.api.defaults._fields import (
    Obj,
    default_pointer,
    default_zero,
    dicts,
    struct,
    template_metadata,
)

_V1 = "io.k8s.api.core.v1."


# ---------------------------------------------------------------------------
# Pods and their parts


def _pod(pod: Obj) -> None:
    """SetDefaults_Pod: only a Pod, not a template, gets these."""
    spec = struct(pod, "spec")
    for key in ("containers", "initContainers"):
        for container in dicts(spec.get(key)):
            _requests_from_limits(container)
    default_pointer(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for container in dicts(spec.get(key)):
                for port in dicts(container.get("ports")):
                    default_zero(port, "hostPort", port.get("containerPort"))
    struct(pod, "status")


def _requests_from_limits(container: Obj) -> None:
    """A limit without a request makes the request equal to the limit."""
    resources = container.get("resources")
    if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
        return
    requests = struct(resources, "requests")
    for name, quantity in resources["limits"].items():
        requests.setdefault(name, quantity)


def _pod_spec(spec: Obj) -> None:
    default_zero(spec, "dnsPolicy", "ClusterFirst")
    default_zero(spec, "restartPolicy", "Always")
    default_pointer(spec, "securityContext", {})
    default_pointer(spec, "terminationGracePeriodSeconds", 30)
    default_zero(spec, "schedulerName", "default-scheduler")


def _pod_template_spec(template: Obj) -> None:
    template_metadata(template)
    struct(template, "spec")


def _container(container: Obj) -> None:
    """SetDefaults_Container, plus the ``resources: {}`` Go always writes."""
    if not container.get("imagePullPolicy"):
        latest = image_tag(container.get("image") or "") == "latest"
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    default_zero(container, "terminationMessagePath", "/dev/termination-log")
    default_zero(container, "terminationMessagePolicy", "File")
    struct(container, "resources")


def _protocol_tcp(port: Obj) -> None:
    default_zero(port, "protocol", "TCP")


def _object_field_selector(selector: Obj) -> None:
    default_zero(selector, "apiVersion", "v1")


def _probe(probe: Obj) -> None:
    default_zero(probe, "timeoutSeconds", 1)
    default_zero(probe, "periodSeconds", 10)
    default_zero(probe, "successThreshold", 1)
    default_zero(probe, "failureThreshold", 3)


def _http_get(action: Obj) -> None:
    default_zero(action, "path", "/")
    default_zero(action, "scheme", "HTTP")


def _grpc(action: Obj) -> None:
    default_pointer(action, "service", "")


# ---------------------------------------------------------------------------
# Volumes

_VOLUME_FILE_MODE = 0o644


def _volume(volume: Obj) -> None:
    """A volume naming no source is an emptyDir."""
    if all(value is None for key, value in volume.items() if key != "name"):
        volume["emptyDir"] = {}


def _default_mode(source: Obj) -> None:
    default_pointer(source, "defaultMode", _VOLUME_FILE_MODE)


def _service_account_token(projection: Obj) -> None:
    default_pointer(projection, "expirationSeconds", 3600)


def _host_path(source: Obj) -> None:
    default_pointer(source, "type", "")


def _iscsi(source: Obj) -> None:
    default_zero(source, "iscsiInterface", "default")


def _rbd(source: Obj) -> None:
    default_zero(source, "pool", "rbd")
    default_zero(source, "user", "admin")
    default_zero(source, "keyring", "/etc/ceph/keyring")


def _azure_disk(source: Obj) -> None:
    default_pointer(source, "cachingMode", "ReadWrite")
    default_pointer(source, "fsType", "ext4")
    default_pointer(source, "readOnly", False)
    default_pointer(source, "kind", "Shared")


def _scale_io(source: Obj) -> None:
    default_zero(source, "storageMode", "ThinProvisioned")
    default_zero(source, "fsType", "xfs")


# ---------------------------------------------------------------------------
# Other kinds


def _service(service: Obj) -> None:
    spec = struct(service, "spec")
    default_zero(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        if ((config.get("clientIP") or {}).get("timeoutSeconds")) is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    default_zero(spec, "type", "ClusterIP")
    for port in dicts(spec.get("ports")):
        _protocol_tcp(port)
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    kind = spec["type"]
    externally_accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible:
        default_zero(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        default_pointer(spec, "internalTrafficPolicy", "Cluster")
    load_balancer = struct(struct(service, "status"), "loadBalancer")
    if kind == "LoadBalancer":
        default_pointer(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in dicts(load_balancer.get("ingress")):
            if ingress.get("ip"):
                default_pointer(ingress, "ipMode", "VIP")


def _namespace(namespace: Obj) -> None:
    """The ``kubernetes.io/metadata.name`` label, and an Active phase."""
    label_namespace_name(namespace)
    default_zero(struct(namespace, "status"), "phase", "Active")


#: The label every namespace carries, equal to its name (upstream's NamespaceDefaultLabelName).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def label_namespace_name(namespace: Obj) -> None:
    """Set NAMESPACE_NAME_LABEL to the namespace's name, whatever the client sent.

    Upstream does it twice: in defaulting (so the writer's managedFields own
    the label) and in the strategy's Canonicalize, for the names that were not
    known when the body was defaulted (generateName) and the server's own writes.
    A namespace without a name yet is left as it is.
    """
    metadata = struct(namespace, "metadata")
    name = metadata.get("name")
    if name:
        struct(metadata, "labels")[NAMESPACE_NAME_LABEL] = name


def _node(node: Obj) -> None:
    """Allocatable from capacity, and the status structs Go writes when empty."""
    status = struct(node, "status")
    if status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])
    struct(struct(status, "daemonEndpoints"), "kubeletEndpoint").setdefault("Port", 0)
    info = struct(status, "nodeInfo")
    for key in _NODE_INFO_FIELDS:
        default_pointer(info, key, "")


_NODE_INFO_FIELDS = (
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
)


def _persistent_volume(volume: Obj) -> None:
    default_zero(struct(volume, "status"), "phase", "Pending")
    spec = struct(volume, "spec")
    default_zero(spec, "persistentVolumeReclaimPolicy", "Retain")
    default_pointer(spec, "volumeMode", "Filesystem")


def _persistent_volume_claim(claim: Obj) -> None:
    default_zero(struct(claim, "status"), "phase", "Pending")
    struct(claim, "spec")


def _claim_spec(spec: Obj) -> None:
    default_pointer(spec, "volumeMode", "Filesystem")


def _claim_template(template: Obj) -> None:
    template_metadata(template)
    struct(template, "spec")


def _secret(secret: Obj) -> None:
    default_zero(secret, "type", "Opaque")


def _replication_controller(controller: Obj) -> None:
    """Selector and labels from the template's labels when unset; one replica."""
    spec = struct(controller, "spec")
    template = spec.get("template")
    metadata = (template.get("metadata") if isinstance(template, dict) else None) or {}
    labels = metadata.get("labels")
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        own = struct(controller, "metadata")
        if not own.get("labels"):
            own["labels"] = dict(labels)
    default_pointer(spec, "replicas", 1)
    struct(controller, "status").setdefault("replicas", 0)


def _limit_range_item(item: Obj) -> None:
    """Container limits: default from max, default request from default, then min."""
    if item.get("type") != "Container":
        return
    default = dict(item.get("default") or {})
    for name, quantity in (item.get("max") or {}).items():
        default.setdefault(name, quantity)
    request = dict(item.get("defaultRequest") or {})
    for name, quantity in [*default.items(), *(item.get("min") or {}).items()]:
        request.setdefault(name, quantity)
    # Empty maps are not written (omitempty).
    if default:
        item["default"] = default
    if request:
        item["defaultRequest"] = request


DEFAULTERS = {
    _V1 + "Pod": _pod,
    _V1 + "PodSpec": _pod_spec,
    _V1 + "PodTemplateSpec": _pod_template_spec,
    _V1 + "Container": _container,
    _V1 + "EphemeralContainer": _container,
    _V1 + "ContainerPort": _protocol_tcp,
    _V1 + "ObjectFieldSelector": _object_field_selector,
    _V1 + "Probe": _probe,
    _V1 + "HTTPGetAction": _http_get,
    _V1 + "GRPCAction": _grpc,
    _V1 + "Volume": _volume,
    _V1 + "SecretVolumeSource": _default_mode,
    _V1 + "ConfigMapVolumeSource": _default_mode,
    _V1 + "DownwardAPIVolumeSource": _default_mode,
    _V1 + "ProjectedVolumeSource": _default_mode,
    _V1 + "ServiceAccountTokenProjection": _service_account_token,
    _V1 + "HostPathVolumeSource": _host_path,
    _V1 + "ISCSIVolumeSource": _iscsi,
    _V1 + "ISCSIPersistentVolumeSource": _iscsi,
    _V1 + "RBDVolumeSource": _rbd,
    _V1 + "RBDPersistentVolumeSource": _rbd,
    _V1 + "AzureDiskVolumeSource": _azure_disk,
    _V1 + "ScaleIOVolumeSource": _scale_io,
    _V1 + "ScaleIOPersistentVolumeSource": _scale_io,
    _V1 + "Service": _service,
    _V1 + "EndpointPort": _protocol_tcp,
    _V1 + "Namespace": _namespace,
    _V1 + "Node": _node,
    _V1 + "PersistentVolume": _persistent_volume,
    _V1 + "PersistentVolumeClaim": _persistent_volume_claim,
    _V1 + "PersistentVolumeClaimSpec": _claim_spec,
    _V1 + "PersistentVolumeClaimTemplate": _claim_template,
    _V1 + "Secret": _secret,
    _V1 + "ReplicationController": _replication_controller,
    _V1 + "LimitRangeItem": _limit_range_item,
}


# ---------------------------------------------------------------------------
# Image references, as the pull policy default reads them

_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
_HEX_IDENTIFIER = re.compile(r"[a-f0-9]{64}")


def image_tag(image: str) -> str:
    """The tag the kubelet pulls: ``latest`` when none and no digest, "" if invalid.

    As upstream's parsers.ParseImageName: an image that is not a valid
    reference (e.g. upper case) has no tag at all, so it is not ``latest``.
    """
    match = _REFERENCE.fullmatch(image)
    if match is None or _HEX_IDENTIFIER.fullmatch(image) or len(match["name"]) > 255:
        return ""
    if match["tag"]:
        return match["tag"]
    return "" if match["digest"] else "latest"


# ---------------------------------------------------------------------------
# Not defaulting: admission and registry steps that fill these kinds on create

_TOLERATION_SECONDS = 300
_NOT_READY = "node.kubernetes.io/not-ready"
_UNREACHABLE = "node.kubernetes.io/unreachable"


def default_toleration_seconds(pod: Obj) -> Obj:
    """The DefaultTolerationSeconds admission plugin (pods, on create): a new pod.

    Adds NoExecute tolerations of the not-ready and unreachable taints for
    300 s unless the pod already tolerates them (a toleration with that key,
    or no key, and NoExecute or no effect).
    """
    tolerations = list(dicts((pod.get("spec") or {}).get("tolerations")))
    added = []
    for key in (_NOT_READY, _UNREACHABLE):
        if not any(_tolerates(toleration, key) for toleration in tolerations):
            added.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": _TOLERATION_SECONDS,
                }
            )
    if not added:
        return pod
    spec = dict(pod.get("spec") or {})
    spec["tolerations"] = [*(spec.get("tolerations") or []), *added]
    return {**pod, "spec": spec}


def _tolerates(toleration: Obj, key: str) -> bool:
    return toleration.get("key") in (key, "", None) and toleration.get("effect") in (
        "NoExecute",
        "",
        None,
    )


def default_pod_priority(pod: Obj, priority_class: Obj | None) -> Obj:
    """The Priority admission plugin's fields (pods, on create): a new pod.

    ``priority_class`` is the class the pod names, or else the cluster's
    global default class, or None when there is neither: then the priority
    is 0 and the policy PreemptLowerPriority. Checking a class the pod names
    exists, and refusing a pod whose ``priority`` disagrees, is the
    caller's.
    """
    spec = dict(pod.get("spec") or {})
    if priority_class is None:
        spec["priority"] = 0
        spec["preemptionPolicy"] = "PreemptLowerPriority"
    else:
        if not spec.get("priorityClassName"):
            spec["priorityClassName"] = priority_class["metadata"]["name"]
        spec["priority"] = priority_class.get("value", 0)
        spec["preemptionPolicy"] = priority_class.get("preemptionPolicy", "PreemptLowerPriority")
    return {**pod, "spec": spec}


def service_ip_families(service: Obj, cluster_families: tuple[str, ...] = ("IPv4",)) -> Obj:
    """``ipFamilyPolicy`` and ``ipFamilies`` as the Service registry fills them: a new service.

    ``cluster_families`` are the families of the service CIDRs, primary
    first. ExternalName services get neither. A headless service without a
    selector may have endpoints of any family: RequireDualStack, both
    families. Others: SingleStack on the primary family unless the request
    asked for more. Allocating ``clusterIP(s)`` is the allocator's.
    """
    spec: dict[str, Any] = dict(service.get("spec") or {})
    if spec.get("type") == "ExternalName":
        return service
    any_family = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if any_family else "SingleStack"
    if not spec.get("ipFamilies"):
        if spec["ipFamilyPolicy"] == "SingleStack":
            spec["ipFamilies"] = [cluster_families[0]]
        elif any_family:
            spec["ipFamilies"] = _both_families(cluster_families[0])
        else:
            spec["ipFamilies"] = list(cluster_families)
    return {**service, "spec": spec}


def _both_families(primary: str) -> list[str]:
    return [primary, "IPv6" if primary == "IPv4" else "IPv4"]


def namespace_finalizers_on_create(namespace: Obj) -> Obj:
    """The ``kubernetes`` finalizer the Namespace strategy adds on create: a new namespace.

    Upstream keeps this out of defaulting on purpose, so that the finalizer
    can be removed over the life of the namespace.
    """
    spec = dict(namespace.get("spec") or {})
    finalizers = list(spec.get("finalizers") or [])
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    spec["finalizers"] = finalizers
    return {**namespace, "spec": spec}
