"""A write of a pod's status: upstream's ValidatePodStatusUpdate.

Kubelets write every pod's status many times over its life, through the
``status`` subresource, which keeps the stored spec: so, as upstream, such a
write is not checked as a whole pod update (the spec rules and its
immutability cannot fail) but by the rules of a status: the metadata update,
the mirror pod annotation, ``nominatedNodeName``, containers that may not
leave the terminated state, and the pod's and host's IPs.
"""

from __future__ import annotations

from typing import Any, Final

from pynetes.api.errors import FieldError, forbidden, invalid
from pynetes.api.validation import syntax
from pynetes.api.validation.metadata import validate_object_meta_update

Object = dict[str, Any]

MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
_NOT_DUAL_STACK: Final = "may specify no more than one IP for each IP family"


def validate_pod_status_update(new: Object, old: Object) -> list[FieldError]:
    """Field errors of replacing ``old``'s status (and metadata) by ``new``'s."""
    metadata, old_metadata = new.get("metadata") or {}, old.get("metadata") or {}
    errors = validate_object_meta_update(metadata, old_metadata)
    errors += _mirror_annotation_updates(
        metadata.get("annotations") or {}, old_metadata.get("annotations") or {}
    )
    status, old_status = new.get("status") or {}, old.get("status") or {}
    nominated = status.get("nominatedNodeName") or ""
    if nominated and nominated != (old_status.get("nominatedNodeName") or ""):
        errors += [
            invalid("status.nominatedNodeName", nominated, message)
            for message in syntax.is_dns1123_subdomain(nominated)
        ]
    spec = old.get("spec") or {}
    policy = spec.get("restartPolicy")
    sidecars = frozenset(
        container.get("name")
        for container in spec.get("initContainers") or []
        if container.get("restartPolicy") == "Always"
    )
    for key, restart_policy, may_restart in (
        ("containerStatuses", policy, frozenset()),
        ("initContainerStatuses", policy, sidecars),
        ("ephemeralContainerStatuses", "Never", frozenset()),  # never restarted
    ):
        errors += _state_transitions(
            status.get(key) or [],
            old_status.get(key) or [],
            f"status.{key}",
            restart_policy,
            may_restart,
        )
    errors += _ips(status, old_status, "podIPs", None)
    errors += _ips(status, old_status, "hostIPs", "hostIP")
    return errors


def _mirror_annotation_updates(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """The mirror pod annotation is the kubelet's at creation: never added, changed or removed."""
    path = f"metadata.annotations[{MIRROR_POD_ANNOTATION}]"
    if (
        MIRROR_POD_ANNOTATION in old
        and new.get(MIRROR_POD_ANNOTATION) != old[MIRROR_POD_ANNOTATION]
    ):
        return [forbidden(path, "may not remove or update mirror pod annotation")]
    if MIRROR_POD_ANNOTATION in new and MIRROR_POD_ANNOTATION not in old:
        return [forbidden(path, "may not add mirror pod annotation")]
    return []


def _state_transitions(
    new: list[Object], old: list[Object], path: str, policy: str | None, may_restart: frozenset[str]
) -> list[FieldError]:
    """A terminated container stays terminated unless the pod (or, for a sidecar, the
    container) restarts it: never under ``Always``, a failure under ``OnFailure``."""
    if policy == "Always":
        return []
    errors = []
    for index, before in enumerate(old):
        terminated = ((before.get("state") or {}).get("terminated")) or None
        if terminated is None or before.get("name") in may_restart:
            continue
        if terminated.get("exitCode", 0) != 0 and policy == "OnFailure":
            continue
        for after in new:
            if after.get("name") == before.get("name") and not (after.get("state") or {}).get(
                "terminated"
            ):
                errors.append(
                    forbidden(
                        f"{path}[{index}].state", "may not be transitioned to non-terminated state"
                    )
                )
    return errors


def _ips(status: Object, old_status: Object, key: str, single: str | None) -> list[FieldError]:
    """``podIPs`` or ``hostIPs``: valid addresses (one already stored may stay), at most
    one of each family; the first is ``hostIP`` itself."""
    entries = status.get(key) or []
    if not entries:
        return []
    path = f"status.{key}"
    addresses = [str(entry.get("ip") or "") for entry in entries]
    errors = []
    if single is not None and (status.get(single) or "") != addresses[0]:
        errors.append(invalid(f"{path}[0].ip", addresses[0], f"must be equal to `{single}`"))
    stored = {str(entry.get("ip") or "") for entry in old_status.get(key) or []}
    for index, address in enumerate(addresses):
        if address not in stored:
            errors += syntax.is_valid_ip(f"{path}[{index}]", address)
    if len(addresses) > 1:
        parsed = [syntax.parse_ip_sloppy(address) for address in addresses]
        families = {ip.version for ip in parsed if ip is not None}
        if len(addresses) > 2 or families != {4, 6}:
            errors.append(invalid(path, entries, _NOT_DUAL_STACK))
    return errors
