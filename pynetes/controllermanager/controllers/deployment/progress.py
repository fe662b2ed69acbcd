"""A Deployment's status: its counts, its Available and Progressing conditions, its deadline.

Pure functions (upstream's calculateStatus, syncRolloutStatus and the
deployment util conditions), given the wall-clock time ``now``. The status
is built as the Go API writes it: zero counters left out.

Progressing tells a rollout's story: NewReplicaSetCreated or
FoundNewReplicaSet when a sync starts one, ReplicaSetUpdated each time it
moves (its lastUpdateTime is the "last progress" the deadline counts
from), NewReplicaSetAvailable once complete, ProgressDeadlineExceeded when
``progressDeadlineSeconds`` pass without progress, DeploymentPaused and
DeploymentResumed around a pause.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynetes.api.meta import parse_timestamp, timestamp
from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    total_spec_replicas,
    total_status,
)
from pynetes.controllermanager.controllers.deployment.scaling import max_unavailable, replicas

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"

#: Upstream's "no deadline" value of progressDeadlineSeconds (math.MaxInt32).
NO_DEADLINE = 2**31 - 1


def condition(status: Object, kind: str) -> Object | None:
    for found in status.get("conditions") or ():
        if found.get("type") == kind:
            return found
    return None


def new_condition(kind: str, state: str, reason: str, message: str, now: datetime) -> Object:
    moment = timestamp(now)
    return {
        "type": kind,
        "status": state,
        "lastUpdateTime": moment,
        "lastTransitionTime": moment,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Object, new: Object) -> None:
    """Put ``new`` in ``status`` (upstream's SetDeploymentCondition).

    The same status and reason changes nothing; the same status keeps the
    old transition time.
    """
    current = condition(status, new["type"])
    if current is not None and current["status"] == new["status"]:
        if current.get("reason") == new["reason"]:
            return
        new = {**new, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, new["type"])
    status["conditions"] = [*(status.get("conditions") or ()), new]


def remove_condition(status: Object, kind: str) -> None:
    kept = [c for c in status.get("conditions") or () if c.get("type") != kind]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def has_progress_deadline(deployment: Object) -> bool:
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != NO_DEADLINE


def calculate_status(
    deployment: Object, all_sets: list[Object | None], new: Object | None, now: datetime
) -> Object:
    """Counts from the ReplicaSets, the old conditions and a fresh Available condition."""
    available = total_status(all_sets, "availableReplicas")
    counts = {
        "observedGeneration": deployment["metadata"].get("generation") or 0,
        "replicas": total_status(all_sets, "replicas"),
        "updatedReplicas": total_status([new], "replicas"),
        "readyReplicas": total_status(all_sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total_spec_replicas(all_sets) - available, 0),
        "collisionCount": (deployment.get("status") or {}).get("collisionCount"),
    }
    status: Object = {key: value for key, value in counts.items() if value}
    if counts["collisionCount"] == 0:
        status["collisionCount"] = 0  # a pointer in Go: an explicit 0 is kept
    conditions = (deployment.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = [dict(c) for c in conditions]
    if available >= replicas(deployment) - max_unavailable(deployment):
        available_condition = new_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now,
        )
    else:
        available_condition = new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, available_condition)
    return status


def _count(status: Object, field: str) -> int:
    return int(status.get(field) or 0)


def is_complete(deployment: Object, status: Object) -> bool:
    """Every replica updated and available, no old ones, this generation (DeploymentComplete)."""
    desired = replicas(deployment)
    return (
        _count(status, "updatedReplicas") == desired
        and _count(status, "replicas") == desired
        and _count(status, "availableReplicas") == desired
        and _count(status, "observedGeneration") >= (deployment["metadata"].get("generation") or 0)
    )


def is_progressing(deployment: Object, status: Object) -> bool:
    """More updated, ready or available replicas, or fewer old ones, than the stored status."""
    old = deployment.get("status") or {}
    old_outdated = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_outdated = _count(status, "replicas") - _count(status, "updatedReplicas")
    return (
        _count(status, "updatedReplicas") > _count(old, "updatedReplicas")
        or new_outdated < old_outdated
        or _count(status, "readyReplicas") > _count(old, "readyReplicas")
        or _count(status, "availableReplicas") > _count(old, "availableReplicas")
    )


def deadline_of(deployment: Object, status: Object) -> datetime | None:
    """When the rollout times out without further progress (None: no deadline running)."""
    progressing = condition(status, PROGRESSING)
    if not has_progress_deadline(deployment) or progressing is None:
        return None
    if progressing.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    last = parse_timestamp(progressing.get("lastUpdateTime") or "")
    if last is None:
        return None
    return last + timedelta(seconds=deployment["spec"]["progressDeadlineSeconds"])


def is_timed_out(deployment: Object, status: Object, now: datetime) -> bool:
    """Upstream's DeploymentTimedOut: already timed out, or the deadline has passed."""
    progressing = condition(status, PROGRESSING)
    if not has_progress_deadline(deployment) or progressing is None:
        return False
    if progressing.get("reason") == TIMED_OUT:
        return True
    deadline = deadline_of(deployment, status)
    return deadline is not None and deadline < now


def rollout_status(
    deployment: Object, all_sets: list[Object | None], new: Object | None, now: datetime
) -> Object:
    """The status after a rollout step (upstream's syncRolloutStatus, without the write)."""
    status = calculate_status(deployment, all_sets, new, now)
    if not has_progress_deadline(deployment):
        remove_condition(status, PROGRESSING)
    current = condition(deployment.get("status") or {}, PROGRESSING)
    finished = (
        _count(status, "replicas") == _count(status, "updatedReplicas")
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if has_progress_deadline(deployment) and not finished:
        _update_progressing(deployment, status, new, current, now)
    failure = replica_failure(all_sets, new)
    if failure is not None:
        set_condition(status, failure)
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def _subject(deployment: Object, new: Object | None) -> str:
    if new is not None:
        return f'ReplicaSet "{new["metadata"]["name"]}"'
    return f'Deployment "{deployment["metadata"]["name"]}"'


def _update_progressing(
    deployment: Object, status: Object, new: Object | None, current: Object | None, now: datetime
) -> None:
    subject = _subject(deployment, new)
    if is_complete(deployment, status):
        message = f"{subject} has successfully progressed."
        set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now))
    elif is_progressing(deployment, status):
        # progress refreshes lastUpdateTime even with the same reason (the deadline restarts)
        update = new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now)
        if current is not None:
            if current["status"] == "True":
                update["lastTransitionTime"] = current.get("lastTransitionTime")
            remove_condition(status, PROGRESSING)
        set_condition(status, update)
    elif is_timed_out(deployment, status, now):
        message = f"{subject} has timed out progressing."
        set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, message, now))


def newly_timed_out(before: Object, after: Object) -> Object | None:
    """The Progressing condition of ``after`` if it says the deadline passed and ``before``
    did not (the moment to tell the user with an Event)."""
    was = condition(before, PROGRESSING)
    now = condition(after, PROGRESSING)
    if now is None or now.get("reason") != TIMED_OUT:
        return None
    return None if was is not None and was.get("reason") == TIMED_OUT else now


def replica_failure(all_sets: list[Object | None], new: Object | None) -> Object | None:
    """The first ReplicaFailure of the ReplicaSets, the new one's first (getReplicaFailures)."""
    for replica_set in [new, *all_sets]:
        if replica_set is None:
            continue
        found = condition(replica_set.get("status") or {}, REPLICA_FAILURE)
        if found is not None:
            moment = found.get("lastTransitionTime")
            return {
                "type": REPLICA_FAILURE,
                "status": found.get("status"),
                "lastUpdateTime": moment,
                "lastTransitionTime": moment,
                "reason": found.get("reason"),
                "message": found.get("message"),
            }
    return None


def stuck_recheck_after(deployment: Object, status: Object, now: datetime) -> float | None:
    """Seconds until a rollout showing no progress should be checked for its deadline.

    None when there is nothing to check (no deadline, complete, timed out).
    Upstream's requeueStuckDeployment: less than a second left means now
    (rate limited); otherwise a second past the deadline.
    """
    if is_complete(deployment, status):
        return None
    deadline = deadline_of(deployment, deployment.get("status") or {})
    if deadline is None:
        return None
    after = (deadline - now).total_seconds()
    return 0.0 if after < 1 else after + 1
