"""Where a DaemonSet's pods belong, and which pods a sync creates, keeps or deletes.

Pure functions over objects, as upstream's daemon_controller.go and
daemon/util decide them; the controller does the writes.

A node is eligible when a daemon pod for it would pass the node name, the
pod's node selector and required node affinity, and the node's
NoSchedule/NoExecute taints (the scheduler's own predicates, imported from
its plugin helpers). A pod already there may stay on a node whose only
untolerated taints are NoSchedule ones, as upstream lets it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynetes.api.intstr import scaled_value
from pynetes.api.pods import is_ready
from pynetes.controllermanager.common.history import CONTROLLER_REVISION_HASH
from pynetes.controllermanager.common.pods import is_available
from pynetes.scheduler.plugins.helpers.node_selector import required_node_affinity_matches
from pynetes.scheduler.plugins.helpers.taints import (
    first_untolerated,
    node_taints,
    pod_tolerations,
)

Object = dict[str, Any]

#: The label of a daemon pod naming its DaemonSet's generation when it was made.
TEMPLATE_GENERATION = "pod-template-generation"
_UNTOLERATED_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_EVICTING = frozenset({"NoExecute"})
PodTest = Callable[[Object], bool]


def _exists(key: str, effect: str) -> Object:
    return {"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect}


#: The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations):
#: a node in trouble keeps its daemons, and a cordoned node still runs them.
DAEMON_TOLERATIONS = (
    _exists("not-ready", "NoExecute"),
    _exists("unreachable", "NoExecute"),
    _exists("disk-pressure", "NoSchedule"),
    _exists("memory-pressure", "NoSchedule"),
    _exists("pid-pressure", "NoSchedule"),
    _exists("unschedulable", "NoSchedule"),
)
#: And a host-network daemon runs before the node's network is up.
HOST_NETWORK_TOLERATION = _exists("network-unavailable", "NoSchedule")


def daemon_template(daemon_set: Object, hash_value: str) -> Object:
    """The DaemonSet's pod template as its pods get it (upstream's CreatePodTemplate):
    labelled with the generation and revision hash, with the daemon tolerations."""
    template = copy.deepcopy(daemon_set["spec"].get("template") or {})
    metadata = template.setdefault("metadata", {})
    labels = metadata["labels"] = dict(metadata.get("labels") or {})
    labels[TEMPLATE_GENERATION] = str(daemon_set["metadata"].get("generation", 0))
    labels[CONTROLLER_REVISION_HASH] = hash_value
    spec = template.setdefault("spec", {})
    spec["tolerations"] = with_daemon_tolerations(
        spec.get("tolerations") or [], host_network=bool(spec.get("hostNetwork"))
    )
    return template


def with_daemon_tolerations(tolerations: Sequence[Object], *, host_network: bool) -> list[Object]:
    """``tolerations`` plus each daemon toleration, replacing one with its key,
    operator, value and effect."""
    result = [dict(toleration) for toleration in tolerations]
    added = [*DAEMON_TOLERATIONS, *([HOST_NETWORK_TOLERATION] if host_network else [])]
    for toleration in added:
        same = [i for i, t in enumerate(result) if _same_toleration(t, toleration)]
        if same:
            result[same[0]] = dict(toleration)
        else:
            result.append(dict(toleration))
    return result


def _same_toleration(left: Object, right: Object) -> bool:
    return all(
        (left.get(key) or "") == (right.get(key) or "")
        for key in ("key", "operator", "value", "effect")
    )


def pinned_to(template_spec: Object, node_name: str) -> Object:
    """``template_spec`` whose required node affinity is only ``metadata.name`` in
    [``node_name``] (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity), so the
    default scheduler binds the pod to that node."""
    spec = copy.deepcopy(template_spec)
    affinity = spec["affinity"] = dict(spec.get("affinity") or {})
    node_affinity = affinity["nodeAffinity"] = dict(affinity.get("nodeAffinity") or {})
    requirement = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [requirement]}]
    }
    return spec


def target_node(pod: Object) -> str | None:
    """The node a daemon pod is for: where it runs, else the node its affinity pins."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if len(terms) != 1 or len(terms[0].get("matchFields") or []) != 1:
        return None
    (field_requirement,) = terms[0]["matchFields"]
    values = field_requirement.get("values") or []
    pinned = field_requirement.get("key") == "metadata.name" and len(values) == 1
    return values[0] if pinned and field_requirement.get("operator") == "In" else None


@dataclass(frozen=True)
class Eligibility:
    """Whether a new daemon pod belongs on a node, and whether one there may stay."""

    should_run: bool
    may_continue: bool


def eligibility(template: Object, node: Object) -> Eligibility:
    """Upstream's NodeShouldRunDaemonPod for ``template`` (with the daemon tolerations)."""
    spec = template.get("spec") or {}
    wanted_node = spec.get("nodeName")
    if wanted_node and wanted_node != node["metadata"]["name"]:
        return Eligibility(False, False)
    if not required_node_affinity_matches(template, node):
        return Eligibility(False, False)
    taints = node_taints(node)
    tolerations = pod_tolerations(template)
    if first_untolerated(taints, tolerations, _UNTOLERATED_EFFECTS) is None:
        return Eligibility(True, True)
    return Eligibility(False, first_untolerated(taints, tolerations, _EVICTING) is None)


def pods_by_node(pods: Iterable[Object]) -> dict[str | None, list[Object]]:
    """Daemon pods grouped by :func:`target_node`, the one to keep first in each group."""
    grouped: dict[str | None, list[Object]] = {}
    for pod in sorted(pods, key=_age_key):
        grouped.setdefault(target_node(pod), []).append(pod)
    return grouped


def _age_key(pod: Object) -> tuple[bool, str, str]:
    """Bound pods first, then oldest first, then by name (upstream's
    podByCreationTimestampAndPhase)."""
    bound = bool((pod.get("spec") or {}).get("nodeName"))
    return (not bound, pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"])


def unscheduled_without_node(
    by_node: Mapping[str | None, Sequence[Object]], node_names: Iterable[str]
) -> list[Object]:
    """Pods not yet bound whose node is gone (or never named): none can ever run
    (upstream's getUnscheduledPodsWithoutNode). Bound pods of a gone node are
    left to the pod garbage collector, as upstream."""
    existing = set(node_names)
    return [
        pod
        for target, pods in by_node.items()
        if target not in existing
        for pod in pods
        if not (pod.get("spec") or {}).get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
    ]


def is_updated(pod: Object, hash_value: str, generation: int | None) -> bool:
    """Made from the current template (upstream's IsPodUpdated): its hash or generation."""
    labels = pod["metadata"].get("labels") or {}
    if hash_value and labels.get(CONTROLLER_REVISION_HASH) == hash_value:
        return True
    return generation is not None and labels.get(TEMPLATE_GENERATION) == str(generation)


@dataclass
class NodePlan:
    """What one sync does: nodes to create a pod for, pods to delete, failed pods seen."""

    create_on: list[str] = field(default_factory=list)
    delete: list[Object] = field(default_factory=list)
    failed: list[tuple[str, Object]] = field(default_factory=list)


def plan_node(
    plan: NodePlan,
    node_name: str,
    fit: Eligibility,
    pods: Sequence[Object],
    surge: SurgeState | None,
) -> None:
    """Add to ``plan`` what ``node_name`` needs (upstream's podsShouldBeOnNode).

    A node gets a pod only once it has none at all (a terminating one is
    waited for). Failed or succeeded pods are reported in ``plan.failed``
    for the caller to delete under its backoff; the next sync replaces
    them. Of several running pods the oldest stays, unless ``surge`` (with
    maxSurge on) decides between an old and a new pod sharing the node.
    """
    alive = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
    if fit.should_run and not pods:
        plan.create_on.append(node_name)
        return
    if not fit.may_continue:
        plan.delete.extend(alive)
        return
    running = []
    for pod in alive:
        if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            plan.failed.append((node_name, pod))
        else:
            running.append(pod)
    if surge is None:
        plan.delete.extend(running[1:])
    else:
        plan.delete.extend(surge.extra_pods(running))


@dataclass(frozen=True)
class SurgeState:
    """What a surging DaemonSet keeps of the pods on a node: the oldest new pod, and
    the oldest old pod only while it is ready and the new one is not yet available."""

    hash_value: str
    generation: int | None
    min_ready_seconds: float
    now: datetime

    def extra_pods(self, running: Sequence[Object]) -> list[Object]:
        """The pods of ``running`` (oldest first) to delete."""
        oldest_new: Object | None = None
        oldest_old: Object | None = None
        extra: list[Object] = []
        for pod in running:
            if is_updated(pod, self.hash_value, self.generation):
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            extra.append(pod)
        if oldest_new is not None and oldest_old is not None:
            replaced = is_available(oldest_new, self.min_ready_seconds, self.now)
            if replaced or not is_ready(oldest_old):
                extra.append(oldest_old)
        return extra


@dataclass(frozen=True)
class RollingLimits:
    """How many nodes may lack an available daemon, or carry a second one, at once."""

    max_unavailable: int
    max_surge: int

    @classmethod
    def of(cls, daemon_set: Object, desired: int) -> RollingLimits:
        """From ``spec.updateStrategy.rollingUpdate`` (percentages of ``desired``, rounded
        up); both zero would stall the rollout, so that means one unavailable."""
        rolling = (daemon_set["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, round_up=True)
        surge = scaled_value(rolling.get("maxSurge", 0), desired, round_up=True)
        if unavailable == 0 and surge == 0:
            unavailable = 1
        return cls(unavailable, surge)


@dataclass(frozen=True)
class Rollout:
    """One rolling update step: old pods to delete and nodes to surge a new pod onto."""

    delete: list[Object]
    surge_on: list[str]


def rolling_step(
    by_node: Mapping[str, Sequence[Object]],
    limits: RollingLimits,
    is_new: PodTest,
    available: PodTest,
) -> Rollout:
    """Upstream's rollingUpdate over the eligible nodes' pods (``by_node``; a node
    needing a pod maps to none), in node name order.

    Without surge: old pods not available are replaced at once; available
    ones are deleted while fewer than maxUnavailable nodes lack an available
    daemon. With surge: a new pod is started beside an old one on up to
    maxSurge nodes, and the old one goes once the new one is available.
    """
    if limits.max_surge == 0:
        return _replace_in_place(by_node, limits.max_unavailable, is_new, available)
    return _surge(by_node, limits.max_surge, is_new, available)


def _split(pods: Sequence[Object], is_new: PodTest) -> tuple[Object | None, Object | None, bool]:
    new: Object | None = None
    old: Object | None = None
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_new(pod):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def _replace_in_place(
    by_node: Mapping[str, Sequence[Object]],
    max_unavailable: int,
    is_new: PodTest,
    available: PodTest,
) -> Rollout:
    unavailable = 0
    at_once: list[Object] = []
    candidates: list[Object] = []
    for node_name in sorted(by_node):
        new, old, single = _split(by_node[node_name], is_new)
        if not single:
            unavailable += 1
        elif (old is None) == (new is None):
            # nothing or both: the manage step creates or deletes; counts as unavailable
            unavailable += 1
        elif new is not None:
            if not available(new):
                unavailable += 1
        elif not available(old):
            at_once.append(old)
        else:
            candidates.append(old)
    room = min(max(max_unavailable - unavailable, 0), len(candidates))
    return Rollout([*at_once, *candidates[:room]], [])


def _surge(
    by_node: Mapping[str, Sequence[Object]], max_surge: int, is_new: PodTest, available: PodTest
) -> Rollout:
    surging = 0
    delete: list[Object] = []
    surge_on: list[str] = []
    for node_name in sorted(by_node):
        new, old, single = _split(by_node[node_name], is_new)
        if not single:
            surging += 1
        elif old is None:
            continue
        elif new is None:
            if not available(old):
                surge_on.append(node_name)
            elif surging < max_surge:
                surging += 1
                surge_on.append(node_name)
        elif not available(new):
            surging += 1
        else:
            delete.append(old)
    return Rollout(delete, surge_on)
