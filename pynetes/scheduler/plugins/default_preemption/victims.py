"""Which pods to evict from one node so a pod fits there (upstream's
SelectVictimsOnNode and filterPodsWithPDBViolation).

Every pod of lower priority than the preemptor is removed from a copy of the
node; if the preemptor then fits, the removed pods are given back one by one,
most important first (PDB-protected ones before the rest), as long as it
still fits: what cannot be given back are the victims. Removing only lower
priority pods keeps preemption from ever inverting priorities; reprieving
the most important first evicts the least that matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynetes.api.labels import selector_from_label_selector
from pynetes.api.meta import parse_timestamp
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import FilterRunner
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo, pod_key, pod_priority
from pynetes.scheduler.framework.status import Status

Object = dict[str, Any]
WallClock = Callable[[], datetime]

NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class Victims:
    """The pods to evict from a node, most important first, and how many of
    them a PodDisruptionBudget protects."""

    pods: list[Object] = field(default_factory=list)
    pdb_violations: int = 0


def start_time(pod: Object, now: WallClock) -> datetime:
    """``status.startTime``; now for a pod that has not started (upstream's GetPodStartTime)."""
    started = parse_timestamp((pod.get("status") or {}).get("startTime") or "")
    return started or now()


def by_importance(pods: Sequence[Object], now: WallClock) -> list[Object]:
    """Higher priority first, then the longest running (upstream's MoreImportantPod)."""
    return sorted(pods, key=lambda pod: (-pod_priority(pod), start_time(pod, now)))


def split_by_pdb(
    pods: Sequence[Object], pdbs: Sequence[Object]
) -> tuple[list[Object], list[Object]]:
    """The pods whose eviction would break a PodDisruptionBudget, and the others.

    Each budget's ``disruptionsAllowed`` is spent by the pods in order; a pod
    already listed in its ``disruptedPods`` has been counted by the disruption
    controller and spends nothing. A budget with an empty selector protects
    nothing, as upstream.
    """
    allowed = [(pdb.get("status") or {}).get("disruptionsAllowed") or 0 for pdb in pdbs]
    violating: list[Object] = []
    others: list[Object] = []
    for pod in pods:
        violated = False
        for index, pdb in enumerate(pdbs):
            if _protects(pdb, pod):
                allowed[index] -= 1
                violated = violated or allowed[index] < 0
        (violating if violated else others).append(pod)
    return violating, others


def _protects(pdb: Object, pod: Object) -> bool:
    meta, pdb_meta = pod.get("metadata") or {}, pdb.get("metadata") or {}
    labels = meta.get("labels") or {}
    if not labels or pdb_meta.get("namespace") != meta.get("namespace"):
        return False
    try:
        selector = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
    except ValueError:
        return False
    if selector.empty or selector.nothing or not selector.matches(labels):
        return False
    return meta.get("name") not in ((pdb.get("status") or {}).get("disruptedPods") or {})


def select_victims(
    framework: FilterRunner,
    state: CycleState,
    pod: Object,
    node: NodeInfo,
    pdbs: Sequence[Object],
    now: WallClock,
) -> tuple[Victims | None, Status]:
    """The victims on ``node`` (a copy this changes; ``state`` too), or None
    with the reason no eviction there makes ``pod`` fit."""
    priority = pod_priority(pod)
    lower = [info for info in node.pods.values() if pod_priority(info.pod) < priority]
    if not lower:
        return None, st.unresolvable(NO_VICTIMS)
    for info in lower:
        node.remove_pod(info.pod)
        framework.run_remove_pod(state, pod, info, node)
    status = framework.run_filter_with_nominated_pods(state, pod, node)
    if not status.is_success:
        return None, status
    infos = {pod_key(info.pod): info for info in lower}
    ordered = by_importance([info.pod for info in lower], now)
    violating, others = split_by_pdb(ordered, pdbs)
    victims = Victims()
    for candidate in violating:
        if not _reprieve(framework, state, pod, node, infos[pod_key(candidate)]):
            victims.pods.append(candidate)
            victims.pdb_violations += 1
    for candidate in others:
        if not _reprieve(framework, state, pod, node, infos[pod_key(candidate)]):
            victims.pods.append(candidate)
    victims.pods = by_importance(victims.pods, now)
    return victims, st.success()


def _reprieve(
    framework: FilterRunner, state: CycleState, pod: Object, node: NodeInfo, info: PodInfo
) -> bool:
    """Put ``info`` back on ``node``; take it off again unless ``pod`` still fits."""
    node.add_pod_info(info)
    framework.run_add_pod(state, pod, info, node)
    if framework.run_filter_with_nominated_pods(state, pod, node).is_success:
        return True
    node.remove_pod(info.pod)
    framework.run_remove_pod(state, pod, info, node)
    return False
