"""Recent scheduling decisions, kept so a user can ask why a pod went where it
went (``GET /explain/NAMESPACE/POD``, ``pynetes scheduler explain``) without
raising log verbosity. This goes beyond upstream, which only logs.

Recording runs once per scheduling attempt, so it stores references: the
cycle's :class:`~pynetes.scheduler.algorithm.Outcome` (which the algorithm
built anyway and nothing mutates afterwards) and a few strings and floats,
never a copy of the pod. The work of turning it into JSON is done only when
someone asks. Only each pod's latest attempt is kept, and at most
``max_entries`` pods for at most ``max_age`` seconds, whichever bound bites
first, so memory stays bounded however many pods pass through.

A third bound counts what the outcomes hold: one entry (about 300 bytes) per
rejected or scored node. On a small cluster it never bites; at 5,000 nodes
a pod's outcome holds hundreds of nodes, and 10,000 of them would take
gigabytes, so there the history is shorter instead (at
:data:`MAX_NODE_ENTRIES`, about 60 MB).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynetes.scheduler.algorithm import Outcome

#: The defaults: "the last 10,000 pods or 15 minutes, whichever is smaller".
MAX_ENTRIES = 10_000
MAX_AGE_SECONDS = 15 * 60.0
MAX_NODE_ENTRIES = 200_000

PASSED = "passed"
REJECTED = "rejected"

Object = dict[str, Any]


@dataclass(slots=True, frozen=True)
class Decision:
    """One scheduling attempt of one pod: its outcome and what it cost.

    ``message`` is the failure summary shown in the FailedScheduling event
    ("" when the pod was bound); ``at`` is the recording clock's time.
    """

    namespace: str
    name: str
    profile: str
    outcome: Outcome
    all_nodes: int
    message: str
    seconds: float
    at: float

    @property
    def node_entries(self) -> int:
        """What this decision weighs against ``max_node_entries``."""
        return len(self.outcome.diagnosis.statuses) + len(self.outcome.scores) + 1


class DecisionLog:
    """The latest decision per pod, bounded by count, age and node entries.

    ``clock`` is monotonic seconds (injected by tests); ages are measured
    with it, never with wall time, so a clock step does not drop entries.
    """

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_age: float = MAX_AGE_SECONDS,
        max_node_entries: int = MAX_NODE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.max_node_entries = max_node_entries
        self._node_entries = 0
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], Decision] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        pod: Object,
        profile: str,
        outcome: Outcome,
        all_nodes: int,
        message: str,
        seconds: float,
    ) -> None:
        """Keep this attempt as the pod's latest, evicting what is too old or too many."""
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self._node_entries -= replaced.node_entries
        now = self._clock()
        decision = Decision(*key, profile, outcome, all_nodes, message, seconds, now)
        self._entries[key] = decision
        self._node_entries += decision.node_entries
        self._evict(now)

    def get(self, namespace: str, name: str) -> Decision | None:
        """The pod's latest decision, or None if there was none within ``max_age``."""
        self._evict(self._clock())
        return self._entries.get((namespace, name))

    def age(self, decision: Decision) -> float:
        return self._clock() - decision.at

    def _evict(self, now: float) -> None:
        """Drop from the oldest end: entries are in recording order. The newest
        decision stays even if it alone outweighs ``max_node_entries``."""
        entries = self._entries
        while entries and (
            len(entries) > self.max_entries
            or (len(entries) > 1 and self._node_entries > self.max_node_entries)
            or now - next(iter(entries.values())).at > self.max_age
        ):
            _, oldest = entries.popitem(last=False)
            self._node_entries -= oldest.node_entries


def to_json(decision: Decision, age: float) -> Object:
    """The explanation served at /explain: every evaluated node's verdict and scores.

    Nodes come chosen first, then the feasible ones by total score
    (highest first), then the rejected ones by name. A node that passed the
    filters but was not scored (it was the only one) has no scores. Nodes
    the sampling of large clusters never looked at are not listed:
    ``evaluatedNodes`` out of ``allNodes`` says how many there were.
    """
    outcome = decision.outcome
    nodes = [_passed(name, outcome) for name in _feasible(outcome)]
    nodes.sort(key=lambda entry: (not entry["chosen"], -(entry["total"] or 0), entry["name"]))
    nodes.extend(
        {
            "name": name,
            "verdict": REJECTED,
            "plugin": status.plugin,
            "reason": status.message,
            "scores": {},
            "total": None,
            "chosen": False,
        }
        for name, status in sorted(outcome.diagnosis.statuses.items())
    )
    pre_filter = outcome.diagnosis.pre_filter
    return {
        "pod": f"{decision.namespace}/{decision.name}",
        "profile": decision.profile,
        "node": outcome.node,
        "message": decision.message,
        "preFilter": None
        if pre_filter is None
        else {"plugin": pre_filter.plugin, "reason": pre_filter.message},
        "allNodes": decision.all_nodes,
        "evaluatedNodes": outcome.diagnosis.evaluated,
        "attemptSeconds": decision.seconds,
        "ageSeconds": age,
        "nodes": nodes,
    }


def _feasible(outcome: Outcome) -> list[str]:
    if outcome.scores:
        return list(outcome.scores)
    return [outcome.node] if outcome.node is not None else []


def _passed(name: str, outcome: Outcome) -> Object:
    scores = outcome.scores.get(name)
    return {
        "name": name,
        "verdict": PASSED,
        "plugin": "",
        "reason": "",
        "scores": dict(scores.by_plugin) if scores else {},
        "total": scores.total if scores else None,
        "chosen": name == outcome.node,
    }
