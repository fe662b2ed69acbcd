"""What a hollow node is: its name, capacity, labels and taints, and how to make many.

A :class:`NodeSpec` is everything the hollow kubelet reports about its node
that a scheduler or controller may look at. :func:`generate_node_specs` makes
N alike specs (``hollow-0`` ... ``hollow-N-1``) with zones assigned round
robin; :func:`parse_labels` and :func:`parse_taints` read the CLI's
``k=v,...`` and ``key=value:Effect,...`` lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynetes.api.labels import label_value_errors, qualified_name_errors
from pynetes.api.quantity import canonical_quantity

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class Taint:
    """A node taint, as ``spec.taints`` holds it."""

    key: str
    effect: str
    value: str = ""

    def to_dict(self) -> dict[str, str]:
        taint = {"key": self.key, "effect": self.effect}
        if self.value:
            taint["value"] = self.value
        return taint


@dataclass(frozen=True)
class NodeSpec:
    """One hollow node. Quantities are Kubernetes quantity strings ("4", "16Gi").

    ``extended`` holds extended resources (``example.com/gpu: "2"``);
    capacity and allocatable both report everything (a hollow kubelet
    reserves nothing). ``labels`` are added to the standard ones
    (:meth:`node_labels`) and win over them.
    """

    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    extended: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Taint] = ()
    unschedulable: bool = False
    zone: str | None = None
    arch: str = "amd64"

    def capacity(self) -> dict[str, str]:
        """capacity (= allocatable), in canonical quantities, as the kubelet reports them."""
        resources = {
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods,
            "ephemeral-storage": self.ephemeral_storage,
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            **self.extended,
        }
        return {name: canonical_quantity(value) for name, value in resources.items()}

    def node_labels(self) -> dict[str, str]:
        """The kubelet's well-known labels (with their beta twins it still sets), the zone
        when there is one, then ``labels``."""
        standard = {
            "beta.kubernetes.io/arch": self.arch,
            "beta.kubernetes.io/os": "linux",
            ARCH_LABEL: self.arch,
            HOSTNAME_LABEL: self.name,
            OS_LABEL: "linux",
        }
        if self.zone:
            standard[ZONE_LABEL] = self.zone
        return {**standard, **self.labels}


def generate_node_specs(
    count: int,
    *,
    name_prefix: str = "hollow-",
    zones: Sequence[str] = (),
    **common: Any,
) -> list[NodeSpec]:
    """``count`` specs named ``<prefix>0`` ... with ``zones`` assigned round robin.

    ``common`` are further :class:`NodeSpec` fields every node shares.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    return [
        NodeSpec(
            name=f"{name_prefix}{index}",
            zone=zones[index % len(zones)] if zones else None,
            **common,
        )
        for index in range(count)
    ]


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` as a dict; raises ValueError for a malformed or invalid label."""
    labels: dict[str, str] = {}
    for item in _items(text):
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"label {item!r} is not key=value")
        problems = qualified_name_errors(key) + label_value_errors(value)
        if problems:
            raise ValueError(f"label {item!r}: {'; '.join(problems)}")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[Taint]:
    """``key=value:Effect,key:Effect,...`` (kubectl taint's syntax) as taints."""
    taints = []
    for item in _items(text):
        pair, colon, effect = item.rpartition(":")
        if not colon or effect not in TAINT_EFFECTS:
            raise ValueError(f"taint {item!r} must end in :{'|:'.join(TAINT_EFFECTS)}")
        key, _, value = pair.partition("=")
        problems = qualified_name_errors(key) + (label_value_errors(value) if value else [])
        if problems:
            raise ValueError(f"taint {item!r}: {'; '.join(problems)}")
        taints.append(Taint(key, effect, value))
    return taints


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
