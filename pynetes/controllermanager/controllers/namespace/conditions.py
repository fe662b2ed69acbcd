"""The status conditions a terminating namespace carries, as upstream words them.

Each pass of the namespace controller reports five conditions. A condition
is True when its trouble was met this pass (discovery failed, content could
not be deleted, content or finalizers remain), with upstream's reason and a
message naming what; otherwise it is False with upstream's "all is well"
reason and message. ``lastTransitionTime`` moves only when a condition's
status does, so ``kubectl describe namespace`` shows since when.

``NamespaceDeletionGroupVersionParsingFailure`` is always False here:
upstream raises it for discovery documents whose group versions do not
parse, and :mod:`pynetes.client.discovery` reads every one it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GROUP_VERSION_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"

#: Condition type -> (reason, message) when nothing went wrong, in upstream's order.
ALL_WELL: dict[str, tuple[str, str]] = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GROUP_VERSION_PARSING_FAILURE: (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    CONTENT_FAILURE: (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass
class Findings:
    """What one pass over a namespace's content ran into."""

    #: ``group/version`` -> why its discovery failed.
    discovery_failures: dict[str, str] = field(default_factory=dict)
    #: errors deleting or listing content, one message each.
    content_errors: list[str] = field(default_factory=list)
    #: ``plural.group`` -> objects still there.
    remaining: dict[str, int] = field(default_factory=dict)
    #: finalizer -> objects still held by it.
    finalizers: dict[str, int] = field(default_factory=dict)

    def troubles(self) -> dict[str, tuple[str, str]]:
        """Condition type -> (reason, message) for each condition that is True."""
        found: dict[str, tuple[str, str]] = {}
        if self.discovery_failures:
            failures = ", ".join(
                f"{gv}: {why}" for gv, why in sorted(self.discovery_failures.items())
            )
            found[DISCOVERY_FAILURE] = (
                "DiscoveryFailed",
                f"Discovery failed for some groups, {len(self.discovery_failures)} failing:"
                f" unable to retrieve the complete list of server APIs: {failures}",
            )
        if self.content_errors:
            found[CONTENT_FAILURE] = (
                "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(self.content_errors)} remaining:"
                f" {aggregate(sorted(self.content_errors))}",
            )
        if self.remaining:
            counts = ", ".join(
                f"{name} has {count} resource instances"
                for name, count in sorted(self.remaining.items())
            )
            found[CONTENT_REMAINING] = (
                "SomeResourcesRemain",
                f"Some resources are remaining: {counts}",
            )
        if self.finalizers:
            counts = ", ".join(
                f"{name} in {count} resource instances"
                for name, count in sorted(self.finalizers.items())
            )
            found[FINALIZERS_REMAINING] = (
                "SomeFinalizersRemain",
                f"Some content in the namespace has finalizers remaining: {counts}",
            )
        return found


def aggregate(messages: list[str]) -> str:
    """Several errors as Go's utilerrors aggregate prints them: one alone, else ``[a, b]``."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def updated_conditions(conditions: list[Object], findings: Findings, now: str) -> list[Object]:
    """``conditions`` with the five deletion conditions set from ``findings``.

    Other condition types are kept; the first stored condition of each type
    is the one updated; its ``lastTransitionTime`` changes with its status only.
    """
    result = [dict(condition) for condition in conditions]
    troubles = findings.troubles()
    for kind, (well_reason, well_message) in ALL_WELL.items():
        status = "True" if kind in troubles else "False"
        reason, message = troubles.get(kind, (well_reason, well_message))
        wanted = {"type": kind, "status": status, "reason": reason, "message": message}
        current = next((c for c in result if c.get("type") == kind), None)
        if current is None:
            result.append({**wanted, "lastTransitionTime": now})
        elif current.get("status") != status:
            current.update(wanted, lastTransitionTime=now)
        else:
            current.update(reason=reason, message=message)
    return result
