"""The core group's printers, apart from pods and events (1.31 columns).

nodes, namespaces, services, endpoints, configmaps, secrets, serviceaccounts,
persistentvolumes, persistentvolumeclaims, resourcequotas, podtemplates and
replicationcontrollers. limitranges have no printer upstream and get the
default NAME / CREATED AT table.
"""

from __future__ import annotations

from datetime import datetime

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.apps import replica_cells, replica_columns
from pynetes.apiserver.tables.cells import (
    NONE,
    UNSET,
    Object,
    containers,
    created,
    deleting,
    first_three,
    format_labels,
    join_host_port,
    metadata,
    name,
    section,
)
from pynetes.apiserver.tables.columns import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Cells,
    Column,
    Doc,
    Printer,
    core,
)

# -- nodes -------------------------------------------------------------------

_NODE_INFO = core("NodeSystemInfo")
_NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", Doc(_NODE_INFO, "kubeletVersion")),
    Column("Internal-IP", "string", Doc(core("NodeStatus"), "addresses"), 1),
    Column("External-IP", "string", Doc(core("NodeStatus"), "addresses"), 1),
    Column("OS-Image", "string", Doc(_NODE_INFO, "osImage"), 1),
    Column("Kernel-Version", "string", Doc(_NODE_INFO, "kernelVersion"), 1),
    Column("Container-Runtime", "string", Doc(_NODE_INFO, "containerRuntimeVersion"), 1),
)
_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def _node(node: Object, now: datetime) -> Cells:
    spec, status = section(node, "spec"), section(node, "status")
    info = section(status, "nodeInfo")
    states = _node_states(status)
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    return [
        name(node),
        ",".join(states),
        ",".join(_node_roles(node)) or NONE,
        age.since(created(node), now),
        info.get("kubeletVersion", ""),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or age.UNKNOWN,
        info.get("kernelVersion") or age.UNKNOWN,
        info.get("containerRuntimeVersion") or age.UNKNOWN,
    ]


def _node_states(status: Object) -> list[str]:
    """``Ready`` or ``NotReady`` from the (last) Ready condition, else ``Unknown``."""
    ready = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition
    if ready is None:
        return ["Unknown"]
    return ["Ready" if ready.get("status") == "True" else "NotReady"]


def _node_roles(node: Object) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles = set()
    for key, value in (metadata(node).get("labels") or {}).items():
        if key.startswith(_ROLE_PREFIX) and len(key) > len(_ROLE_PREFIX):
            roles.add(key.removeprefix(_ROLE_PREFIX))
        elif key == _ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _node_address(status: Object, kind: str) -> str:
    for address in status.get("addresses") or []:
        if address.get("type") == kind:
            return address.get("address", "")
    return NONE


# -- namespaces, configmaps, secrets, serviceaccounts ------------------------

_NAMESPACE_COLUMNS = (NAME, Column("Status", "string", "The status of the namespace"), AGE)


def _namespace(namespace: Object, now: datetime) -> Cells:
    phase = section(namespace, "status").get("phase", "")
    return [name(namespace), phase, age.since(created(namespace), now)]


_CONFIGMAP_COLUMNS = (NAME, Column("Data", "string", Doc(core("ConfigMap"), "data")), AGE)


def _configmap(configmap: Object, now: datetime) -> Cells:
    entries = len(section(configmap, "data")) + len(section(configmap, "binaryData"))
    return [name(configmap), entries, age.since(created(configmap), now)]


_SECRET_COLUMNS = (
    NAME,
    Column("Type", "string", Doc(core("Secret"), "type")),
    Column("Data", "string", Doc(core("Secret"), "data")),
    AGE,
)


def _secret(secret: Object, now: datetime) -> Cells:
    entries = len(section(secret, "data"))
    return [name(secret), secret.get("type", ""), entries, age.since(created(secret), now)]


_SERVICEACCOUNT_COLUMNS = (
    NAME,
    Column("Secrets", "string", Doc(core("ServiceAccount"), "secrets")),
    AGE,
)


def _serviceaccount(account: Object, now: datetime) -> Cells:
    secrets = len(account.get("secrets") or [])
    return [name(account), secrets, age.since(created(account), now)]


# -- services and endpoints --------------------------------------------------

_SERVICE_SPEC = core("ServiceSpec")
_SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", Doc(_SERVICE_SPEC, "type")),
    Column("Cluster-IP", "string", Doc(_SERVICE_SPEC, "clusterIP")),
    Column("External-IP", "string", Doc(_SERVICE_SPEC, "externalIPs")),
    Column("Port(s)", "string", Doc(_SERVICE_SPEC, "ports")),
    AGE,
    Column("Selector", "string", Doc(_SERVICE_SPEC, "selector"), 1),
)


def _service(service: Object, now: datetime) -> Cells:
    spec = section(service, "spec")
    cluster_ips = spec.get("clusterIPs") or []
    return [
        name(service),
        spec.get("type", ""),
        cluster_ips[0] if cluster_ips else NONE,
        _external_ip(spec, section(service, "status")),
        _ports(spec.get("ports") or []) or NONE,
        age.since(created(service), now),
        format_labels(spec.get("selector")),
    ]


def _external_ip(spec: Object, status: Object) -> str:
    """``getServiceExternalIP``, wide (load balancer addresses are not clipped)."""
    kind = spec.get("type")
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        balancer = load_balancer_addresses(section(status, "loadBalancer"))
        return ",".join([*balancer, *external]) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return age.UNKNOWN


def load_balancer_addresses(balancer: Object) -> list[str]:
    """The sorted, distinct IPs (or else hostnames) of a load balancer status."""
    found = {entry.get("ip") or entry.get("hostname") for entry in balancer.get("ingress") or []}
    return sorted(address for address in found if address)


def _ports(ports: list[Object]) -> str:
    """``makePortString``: ``80/TCP``, ``80:30080/TCP`` with a node port."""
    pieces = []
    for port in ports:
        protocol = port.get("protocol", "")
        node_port = port.get("nodePort") or 0
        if node_port > 0:
            pieces.append(f"{port.get('port', 0)}:{node_port}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return ",".join(pieces)


_ENDPOINTS_COLUMNS = (
    NAME,
    Column("Endpoints", "string", Doc(core("Endpoints"), "subsets")),
    AGE,
)


def _endpoints(endpoints: Object, now: datetime) -> Cells:
    return [name(endpoints), _endpoint_list(endpoints), age.since(created(endpoints), now)]


def _endpoint_list(endpoints: Object) -> str:
    """``formatEndpoints``: the first three ready ``ip:port``, then ``+ N more...``."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return NONE
    entries: list[str] = []
    for subset in subsets:
        ips = [address.get("ip", "") for address in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        # A headless service may have no ports: upstream lists the bare addresses.
        if ports:
            entries.extend(join_host_port(ip, port.get("port", 0)) for port in ports for ip in ips)
        else:
            entries.extend(ips)
    return first_three(entries)


# -- persistent volumes and claims -------------------------------------------

_PV_SPEC, _PV_STATUS = core("PersistentVolumeSpec"), core("PersistentVolumeStatus")
_PV_COLUMNS = (
    NAME,
    Column("Capacity", "string", Doc(_PV_SPEC, "capacity")),
    Column("Access Modes", "string", Doc(_PV_SPEC, "accessModes")),
    Column("Reclaim Policy", "string", Doc(_PV_SPEC, "persistentVolumeReclaimPolicy")),
    Column("Status", "string", Doc(_PV_STATUS, "phase")),
    Column("Claim", "string", Doc(_PV_SPEC, "claimRef")),
    Column("StorageClass", "string", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column("Reason", "string", Doc(_PV_STATUS, "reason")),
    AGE,
    Column("VolumeMode", "string", Doc(_PV_SPEC, "volumeMode"), 1),
)
_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def _persistentvolume(volume: Object, now: datetime) -> Cells:
    spec, status = section(volume, "spec"), section(volume, "status")
    claim = spec.get("claimRef")
    annotations = metadata(volume).get("annotations") or {}
    return [
        name(volume),
        section(spec, "capacity").get("storage", "0"),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        "Terminating" if deleting(volume) else status.get("phase", ""),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim is not None else "",
        annotations.get(_STORAGE_CLASS_ANNOTATION, spec.get("storageClassName", "")),
        spec.get("volumeAttributesClassName") or UNSET,
        status.get("reason", ""),
        age.since(created(volume), now),
        spec.get("volumeMode") or UNSET,
    ]


def _access_modes(modes: list[str] | None) -> str:
    """``GetAccessModesAsString``: always in the order RWO,ROX,RWX,RWOP."""
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


_PVC_SPEC, _PVC_STATUS = core("PersistentVolumeClaimSpec"), core("PersistentVolumeClaimStatus")
_PVC_COLUMNS = (
    NAME,
    Column("Status", "string", Doc(_PVC_STATUS, "phase")),
    Column("Volume", "string", Doc(_PVC_SPEC, "volumeName")),
    Column("Capacity", "string", Doc(_PVC_STATUS, "capacity")),
    Column("Access Modes", "string", Doc(_PVC_STATUS, "accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "string", Doc(_PVC_SPEC, "volumeMode"), 1),
)


def _persistentvolumeclaim(claim: Object, now: datetime) -> Cells:
    spec, status = section(claim, "spec"), section(claim, "status")
    bound = bool(spec.get("volumeName"))
    annotations = metadata(claim).get("annotations") or {}
    return [
        name(claim),
        "Terminating" if deleting(claim) else status.get("phase", ""),
        spec.get("volumeName", ""),
        section(status, "capacity").get("storage", "0") if bound else "",
        _access_modes(status.get("accessModes")) if bound else "",
        annotations.get(_STORAGE_CLASS_ANNOTATION, spec.get("storageClassName") or ""),
        spec.get("volumeAttributesClassName") or UNSET,
        age.since(created(claim), now),
        spec.get("volumeMode") or UNSET,
    ]


# -- resource quotas, pod templates, replication controllers -----------------

_QUOTA_COLUMNS = (
    NAME,
    AGE,  # 1.31 prints AGE second; 1.33 moved it last.
    Column(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    Column(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent"
        " of contention on the node.",
    ),
)


def _resourcequota(quota: Object, now: datetime) -> Cells:
    """``resource: used/hard`` pairs, sorted; ``limits.*`` in LIMIT, the rest in REQUEST."""
    status = section(quota, "status")
    hard, used = section(status, "hard"), section(status, "used")
    requests, limits = [], []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [name(quota), age.since(created(quota), now), ", ".join(requests), ", ".join(limits)]


_PODTEMPLATE_COLUMNS = (
    NAME,
    Column("Containers", "string", CONTAINERS.description),
    Column("Images", "string", IMAGES.description),
    Column("Pod Labels", "string", "The labels for the pod template."),
)


def _podtemplate(template: Object, _now: datetime) -> Cells:
    pod = section(template, "template")
    names, images = containers(section(pod, "spec"))
    return [name(template), names, images, format_labels(metadata(pod).get("labels"))]


_RC_COLUMNS = replica_columns(
    core("ReplicationControllerSpec"), core("ReplicationControllerStatus")
)


def _replicationcontroller(controller: Object, now: datetime) -> Cells:
    selector = format_labels(section(controller, "spec").get("selector"))
    return replica_cells(controller, now, selector)


_COMPONENT_STATUS_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the component conditions"),
    Column("Message", "string", "Message of the component conditions"),
    Column("Error", "string", "Error of the component conditions"),
)


def _component_status(status: Object, _now: datetime) -> Cells:
    """Healthy, Unhealthy or Unknown (no Healthy condition), as upstream prints it."""
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Healthy":
            healthy = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            return [name(status), healthy, condition.get("message", ""), condition.get("error", "")]
    return [name(status), "Unknown", "", ""]


PRINTERS = {
    ("", "nodes"): Printer(_NODE_COLUMNS, _node),
    ("", "componentstatuses"): Printer(_COMPONENT_STATUS_COLUMNS, _component_status),
    ("", "namespaces"): Printer(_NAMESPACE_COLUMNS, _namespace),
    ("", "configmaps"): Printer(_CONFIGMAP_COLUMNS, _configmap),
    ("", "secrets"): Printer(_SECRET_COLUMNS, _secret),
    ("", "serviceaccounts"): Printer(_SERVICEACCOUNT_COLUMNS, _serviceaccount),
    ("", "services"): Printer(_SERVICE_COLUMNS, _service),
    ("", "endpoints"): Printer(_ENDPOINTS_COLUMNS, _endpoints),
    ("", "persistentvolumes"): Printer(_PV_COLUMNS, _persistentvolume),
    ("", "persistentvolumeclaims"): Printer(_PVC_COLUMNS, _persistentvolumeclaim),
    ("", "resourcequotas"): Printer(_QUOTA_COLUMNS, _resourcequota),
    ("", "podtemplates"): Printer(_PODTEMPLATE_COLUMNS, _podtemplate),
    ("", "replicationcontrollers"): Printer(_RC_COLUMNS, _replicationcontroller),
}
