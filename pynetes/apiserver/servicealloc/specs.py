"""What a Service's type asks for, and upstream's Service strategy rules about allocated fields.

The predicates say which allocations a Service needs; the three ``*_fields``
functions are the parts of upstream's Service strategy (``NormalizeClusterIPs``,
``dropTypeDependentFields``, ``patchAllocatedValues``) that make a type change
or a manifest without the allocated values an update that validates.
"""

from __future__ import annotations

from typing import Any

from pynetes.api.validation.services import cluster_ips

Spec = dict[str, Any]


def service_type(spec: Spec) -> str:
    return spec.get("type") or "ClusterIP"


def needs_cluster_ip(spec: Spec) -> bool:
    """Every type but ExternalName has clusterIPs (an address, or "None": headless)."""
    return service_type(spec) != "ExternalName"


def needs_node_ports(spec: Spec) -> bool:
    return service_type(spec) in ("NodePort", "LoadBalancer")


def allocates_node_ports(spec: Spec) -> bool:
    """Unset nodePorts are filled for NodePort, and LoadBalancer unless told not to."""
    kind = service_type(spec)
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )


def needs_health_check_port(spec: Spec) -> bool:
    """upstream NeedsHealthCheck: a LoadBalancer keeping client addresses (policy Local)."""
    return service_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def node_ports(spec: Spec) -> list[int]:
    """The nodePorts set on the Service's ports, in port order."""
    return [port["nodePort"] for port in spec.get("ports") or () if port.get("nodePort")]


def normalize_cluster_ips(new: Spec, old: Spec | None) -> None:
    """Keep ``clusterIP`` and ``clusterIPs`` one statement (upstream NormalizeClusterIPs).

    A client that sets only the singular field (an old client, or a patch of
    it) gets the plural one to match; a change of only the plural one moves
    the singular with it.
    """
    single, plural = new.get("clusterIP") or "", list(new.get("clusterIPs") or [])
    if old is None:
        if single and not plural:
            new["clusterIPs"] = [single]
        return
    same_single = single == (old.get("clusterIP") or "")
    same_plural = plural == list(old.get("clusterIPs") or [])
    if not same_single and same_plural:
        if single:
            new["clusterIPs"] = [single]
        else:
            new.pop("clusterIPs", None)
    elif same_single and not same_plural:
        if plural:
            new["clusterIP"] = plural[0]
        else:
            new.pop("clusterIP", None)


def drop_type_dependent_fields(new: Spec, old: Spec) -> None:
    """After a type change, clear what the old type had and the user did not ask to keep.

    Allocated values equal to the old ones are the server's, not the user's:
    a ``kubectl patch`` to ``type: ClusterIP`` carries the old nodePorts along,
    and they go (and are released) rather than make the update invalid.
    """
    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if cluster_ips(new) == cluster_ips(old):
            new.pop("clusterIP", None)
            new.pop("clusterIPs", None)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if new.get(key) == old.get(key):
                new.pop(key, None)
    if needs_node_ports(old) and not needs_node_ports(new) and node_ports(new) == node_ports(old):
        for port in new.get("ports") or ():
            port.pop("nodePort", None)
    if (
        needs_health_check_port(old)
        and not needs_health_check_port(new)
        and new.get("healthCheckNodePort") == old.get("healthCheckNodePort")
    ):
        new.pop("healthCheckNodePort", None)
    if service_type(new) != "LoadBalancer":
        new.pop("allocateLoadBalancerNodePorts", None)
    external = needs_node_ports(new) or bool(new.get("externalIPs"))
    if not external and new.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
        new.pop("externalTrafficPolicy", None)


def patch_allocated_values(new: Spec, old: Spec) -> None:
    """An update that omits allocated values keeps them (upstream patchAllocatedValues).

    ``kubectl apply`` of a manifest without ``clusterIP`` or ``nodePort``
    must not ask for new ones: the old values are copied in, nodePorts by
    port name, unless another port of the new spec already uses the value.
    """
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not new.get("clusterIP") and old.get("clusterIP"):
            new["clusterIP"] = old["clusterIP"]
        if not new.get("clusterIPs") and old.get("clusterIPs"):
            new["clusterIPs"] = list(old["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(new):
        used = set(node_ports(old)) & set(node_ports(new))
        by_name = {port.get("name") or "": port.get("nodePort") for port in old.get("ports") or ()}
        for port in new.get("ports") or ():
            kept = by_name.get(port.get("name") or "")
            if not port.get("nodePort") and kept and kept not in used:
                port["nodePort"] = kept
    if (
        needs_health_check_port(old)
        and needs_health_check_port(new)
        and not new.get("healthCheckNodePort")
    ):
        new["healthCheckNodePort"] = old.get("healthCheckNodePort")
