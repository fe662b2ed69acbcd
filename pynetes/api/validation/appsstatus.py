"""A write of an apps/v1 workload's status: upstream's ValidateDeploymentStatusUpdate,
ValidateReplicaSetStatusUpdate, ValidateStatefulSetStatusUpdate and
ValidateDaemonSetStatusUpdate.

Their controllers write these statuses at every change of their pods, through the
``status`` subresource, which keeps the stored spec: so, as upstream, such a write
is checked by the rules of a status (counts that are never negative, parts never
more than the whole, a collision count that never goes down) and the metadata
update, not as a whole update whose spec rules cannot fail there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from pynetes.api.errors import FieldError, invalid
from pynetes.api.validation.metadata import NEGATIVE, validate_object_meta_update

Object = dict[str, Any]
StatusRule = Callable[[Object], list[FieldError]]

_MORE_THAN_REPLICAS: Final = "cannot be greater than status.replicas"


def _counts(*names: str, parts: tuple[str, ...] = (), available_of: str = "") -> StatusRule:
    """Each of ``names`` is never negative (``collisionCount`` too, when set); each of
    ``parts`` is at most ``replicas``; ``availableReplicas`` is at most ``available_of``
    (upstream's messages differ in how they name it)."""

    def rule(status: Object) -> list[FieldError]:
        errors = [
            invalid(f"status.{name}", status.get(name), NEGATIVE)
            for name in (*names, "collisionCount")
            if (status.get(name) or 0) < 0
        ]
        replicas = status.get("replicas") or 0
        errors += [
            invalid(f"status.{part}", status.get(part) or 0, _MORE_THAN_REPLICAS)
            for part in parts
            if (status.get(part) or 0) > replicas
        ]
        available = status.get("availableReplicas") or 0
        if available_of and available > (status.get("readyReplicas") or 0):
            message = f"cannot be greater than {available_of}"
            errors.append(invalid("status.availableReplicas", available, message))
        return errors

    return rule


class _Kind(NamedTuple):
    status: StatusRule
    #: The collision count may not go down (all but ReplicaSets, which have none).
    counts_collisions: bool = True
    #: Upstream lists the status's errors before the metadata's (StatefulSets).
    status_first: bool = False


_RULES: Final[dict[str, _Kind]] = {
    "Deployment": _Kind(
        _counts(
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
            parts=("updatedReplicas", "readyReplicas", "availableReplicas"),
            available_of="readyReplicas",
        ),
    ),
    "ReplicaSet": _Kind(
        _counts(
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
            parts=("fullyLabeledReplicas", "readyReplicas", "availableReplicas"),
            available_of="readyReplicas",
        ),
        counts_collisions=False,
    ),
    "StatefulSet": _Kind(
        _counts(
            "replicas",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
            "observedGeneration",
            parts=("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"),
            available_of="status.readyReplicas",
        ),
        status_first=True,
    ),
    "DaemonSet": _Kind(
        _counts(
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
        ),
    ),
}


def has_status_rules(kind: str) -> bool:
    """Whether an apps/v1 ``kind``'s status writes are judged here."""
    return kind in _RULES


def validate_status_update(kind: str, new: Object, old: Object) -> list[FieldError]:
    """Field errors of replacing ``old``'s status (and metadata) by ``new``'s."""
    rules = _RULES[kind]
    status, old_status = new.get("status") or {}, old.get("status") or {}
    metadata = validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
    status_errors = rules.status(status)
    errors = status_errors + metadata if rules.status_first else metadata + status_errors
    if rules.counts_collisions and _decremented(
        status.get("collisionCount"), old_status.get("collisionCount")
    ):
        collisions = status.get("collisionCount") or 0
        errors.append(invalid("status.collisionCount", collisions, "cannot be decremented"))
    return errors


def _decremented(new: int | None, old: int | None) -> bool:
    """upstream's IsDecremented: an unset count after a set one went down too."""
    return old is not None and (new is None or new < old)
