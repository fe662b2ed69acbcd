"""DefaultPreemption's PostFilter (see the package's docstring)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pynetes.api.meta import timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.events import NORMAL
from pynetes.scheduler.algorithm import Diagnosis, fit_error_message
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import FilterRunner, Handle
from pynetes.scheduler.framework.node_info import NodeInfo, pod_priority
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.nominator import nominated_node_name
from pynetes.scheduler.plugins.default_preemption.candidates import Candidate, pick_one_node
from pynetes.scheduler.plugins.default_preemption.victims import WallClock, select_victims

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
PODS = built_in("", "v1", "pods")
PDBS = built_in("policy", "v1", "poddisruptionbudgets")

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING = "not eligible due to a terminating pod on the nominated node."
#: The condition a victim gets before it is deleted (upstream's DisruptionTarget).
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
#: Upstream's DefaultPreemptionArgs defaults.
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100

Object = dict[str, Any]


class BudgetLister(Protocol):
    def list(self) -> list[Object]:
        """Every PodDisruptionBudget."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class DefaultPreemption:
    """Makes room for a pod no node fits by evicting lower-priority pods.

    ``pdbs`` lists the PodDisruptionBudgets; ``rng`` picks where the dry runs
    start, so that large clusters are sampled fairly; ``now`` stands for
    unstarted pods' start times.
    """

    name = NAME

    def __init__(
        self,
        handle: Handle,
        pdbs: BudgetLister,
        *,
        rng: random.Random | None = None,
        now: WallClock = utc_now,
    ) -> None:
        self._handle = handle
        self._pdbs = pdbs
        self._random = rng or random.Random()
        self._now = now

    async def post_filter(
        self, state: CycleState, pod: Object, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status]:
        """Preempt for ``pod``: the node it is nominated to (None: leave its
        nomination; "": clear it) and Success, or Unschedulable saying why not."""
        reason = self._ineligible(pod, statuses)
        if reason:
            return None, st.unschedulable(f"preemption: {reason}")
        nodes = self._handle.snapshot().list()
        candidates, verdicts = self._find_candidates(state, pod, nodes, statuses)
        chosen = pick_one_node(candidates, self._now)
        if chosen is None:
            message = fit_error_message(len(nodes), Diagnosis(statuses=verdicts))
            return "", st.unschedulable(f"preemption: {message}")
        try:
            await self._prepare(chosen, pod)
        except errors.ApiError as error:
            return None, st.error(f"preemption: {error}")
        return chosen.node_name, st.success()

    def _ineligible(self, pod: Object, statuses: Mapping[str, Status]) -> str:
        """Why ``pod`` may not preempt now ("" if it may; upstream's PodEligibleToPreemptOthers).

        A pod already nominated waits while a victim on its node terminates,
        rather than evicting more pods for the room it is being given."""
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return NEVER
        nominated = nominated_node_name(pod)
        if not nominated:
            return ""
        status = statuses.get(nominated)
        if status is not None and status.code == st.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            return ""
        node = self._handle.snapshot().get(nominated)
        priority = pod_priority(pod)
        if node is not None and any(
            pod_priority(info.pod) < priority and terminating_by_preemption(info.pod)
            for info in node.pods.values()
        ):
            return TERMINATING
        return ""

    def _find_candidates(
        self,
        state: CycleState,
        pod: Object,
        nodes: Sequence[NodeInfo],
        statuses: Mapping[str, Status],
    ) -> tuple[list[Candidate], dict[str, Status]]:
        """Dry-run preemption on the nodes where it might help (those no filter
        found unresolvable), from a random offset, until enough candidates are
        found; each node's verdict for the message when none is."""
        verdicts: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        for node in nodes:
            status = statuses.get(node.name)
            if status is not None and status.code == st.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                verdicts[node.name] = st.unresolvable(NOT_HELPFUL)
            else:
                potential.append(node)
        if not potential:
            return [], verdicts
        framework = self._framework()
        wanted = candidates_to_find(len(potential))
        offset = self._random.randrange(len(potential))
        pdbs = self._pdbs.list()
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        for index in range(len(potential)):
            node = potential[(offset + index) % len(potential)]
            victims, status = select_victims(
                framework, state.clone(), pod, node.copy(), pdbs, self._now
            )
            if victims is None:
                verdicts[node.name] = status
                continue
            found = Candidate(node.name, victims)
            (violating if victims.pdb_violations else non_violating).append(found)
            if non_violating and len(non_violating) + len(violating) >= wanted:
                break
        return non_violating + violating, verdicts

    def _framework(self) -> FilterRunner:
        if self._handle.framework is None:
            raise RuntimeError("DefaultPreemption needs a framework on its handle")
        return self._handle.framework

    async def _prepare(self, chosen: Candidate, pod: Object) -> None:
        """Evict the victims (upstream's prepareCandidate): mark each a
        DisruptionTarget, delete it with its own grace period, and record a
        Preempted event on it; then lift the nominations of lower-priority
        pods to that node, which may no longer fit there."""
        await asyncio.gather(*(self._evict(victim, pod, chosen) for victim in chosen.victims.pods))
        priority = pod_priority(pod)
        nominator = self._handle.nominator
        lower = [
            info.pod
            for info in (nominator.pods_on(chosen.node_name) if nominator is not None else [])
            if pod_priority(info.pod) < priority
        ]
        await asyncio.gather(*(self._clear_nomination(other) for other in lower))

    async def _evict(self, victim: Object, pod: Object, chosen: Candidate) -> None:
        client = self._handle.client
        if client is None:
            raise RuntimeError("DefaultPreemption needs an API client on its handle")
        meta = victim["metadata"]
        scheduler = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        condition = {
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": PREEMPTION_BY_SCHEDULER,
            "message": f"{scheduler}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": timestamp(self._now()),
        }
        try:
            await client.patch(
                PODS,
                meta["name"],
                {"status": {"conditions": [condition]}},
                patch_type="strategic",
                namespace=meta.get("namespace"),
                subresource="status",
            )
            await client.delete(PODS, meta["name"], namespace=meta.get("namespace"))
        except errors.NotFound:
            return
        if self._handle.recorder is not None:
            uid = (pod.get("metadata") or {}).get("uid", "")
            self._handle.recorder.event(
                victim, NORMAL, "Preempted", f"Preempted by pod {uid} on node {chosen.node_name}"
            )
        log.info("preempted %s/%s on %s", meta.get("namespace"), meta["name"], chosen.node_name)

    async def _clear_nomination(self, pod: Object) -> None:
        client = self._handle.client
        meta = pod["metadata"]
        if client is None:
            return
        try:
            await client.patch(
                PODS,
                meta["name"],
                {"status": {"nominatedNodeName": None}},
                patch_type="merge",
                namespace=meta.get("namespace"),
                subresource="status",
            )
        except errors.ApiError as error:
            log.warning("could not clear the nomination of %s: %s", meta["name"], error)


def candidates_to_find(nodes: int) -> int:
    """How many candidate nodes to dry-run for (upstream's GetOffsetAndNumCandidates):
    10 % of them, at least 100, at most all."""
    wanted = max(nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE)
    return min(wanted, nodes)


def terminating_by_preemption(pod: Object) -> bool:
    """Being deleted, and marked as a DisruptionTarget by a scheduler's preemption."""
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(
        condition.get("type") == DISRUPTION_TARGET
        and condition.get("reason") == PREEMPTION_BY_SCHEDULER
        for condition in (pod.get("status") or {}).get("conditions") or []
    )
