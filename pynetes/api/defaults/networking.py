"""Defaults of ``networking.k8s.io/v1``, as upstream's pkg/apis/networking/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_pointer, struct

_NETWORKING = "io.k8s.api.networking.v1."


def _network_policy(policy: Obj) -> None:
    """A policy without policyTypes is about ingress, and egress if it has rules for it."""
    spec = struct(policy, "spec")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _network_policy_port(port: Obj) -> None:
    default_pointer(port, "protocol", "TCP")


def _ingress_class(ingress_class: Obj) -> None:
    parameters = (ingress_class.get("spec") or {}).get("parameters")
    if isinstance(parameters, dict):
        default_pointer(parameters, "scope", "Cluster")


DEFAULTERS = {
    _NETWORKING + "NetworkPolicy": _network_policy,
    _NETWORKING + "NetworkPolicyPort": _network_policy_port,
    _NETWORKING + "IngressClass": _ingress_class,
}
