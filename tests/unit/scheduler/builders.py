"""Fluent builders for the pods and nodes scheduler tests need."""

from __future__ import annotations

import itertools
from typing import Any, Self

from pynetes.scheduler.framework.node_info import NodeInfo

_uids = itertools.count(1)


class PodBuilder:
    def __init__(self, name: str = "pod", namespace: str = "default") -> None:
        self.obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{next(_uids)}"},
            "spec": {"containers": []},
        }

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj["spec"]

    def container(self, name: str = "c", image: str = "busybox", **requests: str) -> Self:
        container: dict[str, Any] = {"name": name, "image": image}
        if requests:
            container["resources"] = {"requests": _resource_names(requests)}
        self.spec["containers"].append(container)
        return self

    def init_container(
        self, name: str = "init", image: str = "busybox", *, sidecar: bool = False, **requests: str
    ) -> Self:
        container: dict[str, Any] = {"name": name, "image": image}
        if requests:
            container["resources"] = {"requests": _resource_names(requests)}
        if sidecar:
            container["restartPolicy"] = "Always"
        self.spec.setdefault("initContainers", []).append(container)
        return self

    def host_port(self, port: int, *, ip: str = "", protocol: str = "") -> Self:
        entry: dict[str, Any] = {"containerPort": port, "hostPort": port}
        if ip:
            entry["hostIP"] = ip
        if protocol:
            entry["protocol"] = protocol
        self.spec["containers"][-1].setdefault("ports", []).append(entry)
        return self

    def label(self, key: str, value: str) -> Self:
        self.obj["metadata"].setdefault("labels", {})[key] = value
        return self

    def owner(self, kind: str, name: str, api_version: str = "apps/v1", uid: str = "") -> Self:
        """A controlling owner reference (as a ReplicaSet's pods carry)."""
        reference = {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": uid or f"uid-{next(_uids)}",
            "controller": True,
        }
        self.obj["metadata"].setdefault("ownerReferences", []).append(reference)
        return self

    def namespace(self, name: str) -> Self:
        self.obj["metadata"]["namespace"] = name
        return self

    def spread(
        self,
        max_skew: int,
        key: str,
        when: str = "DoNotSchedule",
        selector: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Self:
        """A topology spread constraint; ``extra`` takes the API's other fields
        (minDomains, matchLabelKeys, nodeAffinityPolicy, nodeTaintsPolicy)."""
        constraint = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when}
        if selector is not None:
            constraint["labelSelector"] = selector
        self.spec.setdefault("topologySpreadConstraints", []).append({**constraint, **extra})
        return self

    def pod_affinity(
        self,
        key: str,
        selector: dict[str, Any] | None,
        *,
        anti: bool = False,
        weight: int = 0,
        **extra: Any,
    ) -> Self:
        """A pod (anti-)affinity term, preferred with ``weight`` or else required;
        ``extra`` takes namespaces and namespaceSelector."""
        term: dict[str, Any] = {"topologyKey": key, **extra}
        if selector is not None:
            term["labelSelector"] = selector
        kind = "podAntiAffinity" if anti else "podAffinity"
        section = self.spec.setdefault("affinity", {}).setdefault(kind, {})
        if weight:
            section.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
                {"weight": weight, "podAffinityTerm": term}
            )
        else:
            section.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
        return self

    def priority(self, value: int) -> Self:
        self.spec["priority"] = value
        return self

    def started(self, when: str) -> Self:
        """``status.startTime`` (RFC 3339)."""
        self.obj.setdefault("status", {})["startTime"] = when
        return self

    def nominated(self, node: str) -> Self:
        self.obj.setdefault("status", {})["nominatedNodeName"] = node
        return self

    def preemption_policy(self, policy: str) -> Self:
        self.spec["preemptionPolicy"] = policy
        return self

    def node_name(self, node: str) -> Self:
        self.spec["nodeName"] = node
        return self

    def scheduler_name(self, name: str) -> Self:
        self.spec["schedulerName"] = name
        return self

    def node_selector(self, **labels: str) -> Self:
        self.spec["nodeSelector"] = labels
        return self

    def toleration(
        self, key: str = "", value: str = "", effect: str = "", operator: str = "Equal"
    ) -> Self:
        toleration = {"key": key, "operator": operator, "value": value, "effect": effect}
        self.spec.setdefault("tolerations", []).append(
            {name: field for name, field in toleration.items() if field}
        )
        return self

    def required_affinity(self, *terms: dict[str, Any]) -> Self:
        affinity = self.spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": list(terms)
        }
        return self

    def preferred_affinity(self, weight: int, term: dict[str, Any]) -> Self:
        affinity = self.spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        affinity.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
            {"weight": weight, "preference": term}
        )
        return self

    def build(self) -> dict[str, Any]:
        if not self.spec["containers"]:
            self.container()
        return self.obj


class NodeBuilder:
    def __init__(self, name: str = "node") -> None:
        self.obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"capacity": {"pods": "110"}, "allocatable": {"pods": "110"}},
        }

    def capacity(self, **amounts: str) -> Self:
        named = _resource_names(amounts)
        self.obj["status"]["capacity"].update(named)
        self.obj["status"]["allocatable"].update(named)
        return self

    def label(self, key: str, value: str) -> Self:
        self.obj["metadata"]["labels"][key] = value
        return self

    def taint(self, key: str, value: str = "", effect: str = "NoSchedule") -> Self:
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        self.obj["spec"].setdefault("taints", []).append(taint)
        return self

    def image(self, size_mb: int, *names: str) -> Self:
        """An image in ``status.images`` known by ``names``, ``size_mb`` MiB big."""
        entry = {"names": list(names), "sizeBytes": size_mb * 1024 * 1024}
        self.obj["status"].setdefault("images", []).append(entry)
        return self

    def unschedulable(self) -> Self:
        self.obj["spec"]["unschedulable"] = True
        return self

    def build(self) -> dict[str, Any]:
        return self.obj

    def info(self, *pods: dict[str, Any]) -> NodeInfo:
        info = NodeInfo()
        info.set_node(self.obj)
        for pod in pods:
            info.add_pod(pod)
        return info


def pod(name: str = "pod") -> PodBuilder:
    return PodBuilder(name)


def node(name: str = "node") -> NodeBuilder:
    return NodeBuilder(name)


def pdb(name: str, allowed: int, namespace: str = "default", **labels: str) -> dict[str, Any]:
    """A PodDisruptionBudget selecting ``labels``, with ``allowed`` disruptions left."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": labels}},
        "status": {"disruptionsAllowed": allowed},
    }


def expression(key: str, operator: str, *values: str) -> dict[str, Any]:
    """A node selector term with one matchExpression."""
    requirement: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        requirement["values"] = list(values)
    return {"matchExpressions": [requirement]}


def _resource_names(amounts: dict[str, str]) -> dict[str, str]:
    """Keyword names to resource names: ephemeral_storage -> ephemeral-storage,
    example_com__gpu -> example.com/gpu."""
    return {
        key.replace("__", "/").replace("_com", ".com").replace("_", "-"): value
        for key, value in amounts.items()
    }
