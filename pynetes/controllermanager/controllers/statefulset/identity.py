"""A StatefulSet pod's identity: its ordinal, name, labels, host name and claims.

Pure functions, as upstream's stateful_set_utils.go. Pod ``<set>-<n>`` is
the set's member of ordinal n; its labels name it
(``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index``)
and the revision it was made from (``controller-revision-hash``); its host
name is its own name in the set's service's subdomain; each
volumeClaimTemplate gives it the claim ``<template>-<set>-<n>``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pynetes.controllermanager.common.history import CONTROLLER_REVISION_HASH
from pynetes.controllermanager.common.ownership import controller_reference
from pynetes.controllermanager.common.podcontrol import pod_from_template

Object = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
API_VERSION = "apps/v1"
KIND = "StatefulSet"
_MEMBER_NAME = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: Object) -> tuple[str, int] | None:
    """The set name and ordinal a pod's name encodes; None if it encodes none."""
    match = _MEMBER_NAME.match(pod["metadata"]["name"])
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def is_member(stateful_set: Object, pod: Object) -> bool:
    parsed = parent_and_ordinal(pod)
    return parsed is not None and parsed[0] == stateful_set["metadata"]["name"]


def start_ordinal(stateful_set: Object) -> int:
    return int((stateful_set["spec"].get("ordinals") or {}).get("start") or 0)


def replica_count(stateful_set: Object) -> int:
    replicas = stateful_set["spec"].get("replicas")
    return 1 if replicas is None else int(replicas)


def pod_name(stateful_set: Object, ordinal: int) -> str:
    return f"{stateful_set['metadata']['name']}-{ordinal}"


def claim_name(template: Object, stateful_set: Object, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{stateful_set['metadata']['name']}-{ordinal}"


def claim_templates(stateful_set: Object) -> list[Object]:
    return [
        template
        for template in stateful_set["spec"].get("volumeClaimTemplates") or ()
        if (template.get("metadata") or {}).get("name")
    ]


def revision_of(pod: Object) -> str:
    return (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH, "")


@dataclass
class Members:
    """A set's pods by place: ``replicas[i]`` has ordinal start + i (None: missing);
    ``condemned`` are the pods past the range, highest ordinal first."""

    replicas: list[Object | None]
    condemned: list[Object] = field(default_factory=list)


def sort_members(stateful_set: Object, pods: Iterable[Object]) -> Members:
    start = start_ordinal(stateful_set)
    count = replica_count(stateful_set)
    members = Members([None] * count)
    condemned: list[tuple[int, Object]] = []
    for pod in pods:
        parsed = parent_and_ordinal(pod)
        if parsed is None:
            continue
        ordinal = parsed[1]
        if start <= ordinal < start + count:
            members.replicas[ordinal - start] = pod
        else:
            condemned.append((ordinal, pod))
    members.condemned = [pod for _, pod in sorted(condemned, key=lambda c: -c[0])]
    return members


def identity_labels(stateful_set: Object, ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name(stateful_set, ordinal), POD_INDEX_LABEL: str(ordinal)}


def identity_matches(stateful_set: Object, pod: Object, ordinal: int) -> bool:
    labels = pod["metadata"].get("labels") or {}
    wanted = identity_labels(stateful_set, ordinal)
    return all(labels.get(key) == value for key, value in wanted.items())


def new_pod(stateful_set: Object, ordinal: int, revision_name: str) -> Object:
    """Member ``ordinal`` of ``stateful_set`` (whose template is the revision's)."""
    name = pod_name(stateful_set, ordinal)
    pod = pod_from_template(
        stateful_set["spec"].get("template") or {}, stateful_set, API_VERSION, KIND
    )
    metadata = pod["metadata"]
    del metadata["generateName"]
    metadata["name"] = name
    metadata["labels"].update(identity_labels(stateful_set, ordinal))
    metadata["labels"][CONTROLLER_REVISION_HASH] = revision_name
    spec = pod["spec"]
    spec["hostname"] = name
    if stateful_set["spec"].get("serviceName"):
        spec["subdomain"] = stateful_set["spec"]["serviceName"]
    spec["volumes"] = _with_claim_volumes(stateful_set, spec.get("volumes") or [], ordinal)
    return pod


def _with_claim_volumes(stateful_set: Object, volumes: list[Object], ordinal: int) -> list[Object]:
    """``volumes`` where each claim template's name is a volume of its claim."""
    claims = {
        template["metadata"]["name"]: claim_name(template, stateful_set, ordinal)
        for template in claim_templates(stateful_set)
    }
    kept = [volume for volume in volumes if volume.get("name") not in claims]
    mounted = [
        {"name": volume, "persistentVolumeClaim": {"claimName": claim}}
        for volume, claim in claims.items()
    ]
    return [*mounted, *kept]


def new_claims(stateful_set: Object, ordinal: int) -> list[Object]:
    """The claims of member ``ordinal``: each template's, labelled also with the set's
    matchLabels, owned by the set when ``whenDeleted`` is Delete."""
    match_labels = (stateful_set["spec"].get("selector") or {}).get("matchLabels") or {}
    retention = stateful_set["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    claims = []
    for template in claim_templates(stateful_set):
        claim = copy.deepcopy(template)
        claim.pop("status", None)
        metadata = claim["metadata"] = dict(claim.get("metadata") or {})
        metadata["name"] = claim_name(template, stateful_set, ordinal)
        metadata["namespace"] = stateful_set["metadata"]["namespace"]
        metadata["labels"] = {**(metadata.get("labels") or {}), **match_labels}
        if retention.get("whenDeleted") == "Delete":
            metadata["ownerReferences"] = [owner_reference(stateful_set, API_VERSION, KIND)]
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims.append(claim)
    return claims


def owner_reference(owner: Object, api_version: str, kind: str) -> Object:
    """A plain (not controller) ownerReference: the garbage collector deletes the claim
    with its owner, and no controller claims it."""
    reference = controller_reference(owner, api_version, kind)
    del reference["controller"], reference["blockOwnerDeletion"]
    return reference


def retained_references(
    references: list[Object], stateful_set: Object, pod: Object, *, scaled_down: bool
) -> list[Object]:
    """A claim's ownerReferences as the set's retention policy wants them (upstream's
    updateClaimOwnerRefForSetAndPod): the set owns it when ``whenDeleted`` is
    Delete, unless the pod was scaled down with ``whenScaled`` Delete, when the
    pod owns it instead. Other owners are kept.
    """
    retention = stateful_set["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    pod_owns = scaled_down and retention.get("whenScaled") == "Delete"
    set_owns = not pod_owns and retention.get("whenDeleted") == "Delete"
    wanted = [
        (stateful_set, API_VERSION, KIND, set_owns),
        (pod, "v1", "Pod", pod_owns),
    ]
    result = list(references)
    for owner, api_version, kind, owns in wanted:
        uid = owner["metadata"]["uid"]
        has = any(reference.get("uid") == uid for reference in result)
        if owns and not has:
            result.append(owner_reference(owner, api_version, kind))
        elif not owns and has:
            result = [reference for reference in result if reference.get("uid") != uid]
    return result


def is_stale_claim(claim: Object, pod: Object) -> bool:
    """The claim belongs to an earlier pod of the same name (upstream's PodClaimIsStale):
    it is owned by a pod with another uid, so it is on its way out."""
    uid = pod["metadata"].get("uid")
    return any(
        reference.get("kind") == "Pod" and reference.get("uid") != uid
        for reference in claim["metadata"].get("ownerReferences") or ()
    )


@dataclass(frozen=True)
class Revisions:
    """The set as of its current and its update revision, and their names."""

    current_set: Object
    update_set: Object
    current: str
    update: str

    def pod(self, ordinal: int) -> Object:
        """A new member at the right revision (upstream's newVersionedStatefulSetPod):
        below the partition of a rolling update (without ``rollingUpdate``, below the
        current replicas), the current one; else the update."""
        stateful_set = self.current_set
        strategy = stateful_set["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if rolling is None:
                kept = int((stateful_set.get("status") or {}).get("currentReplicas") or 0)
            else:
                kept = int(rolling.get("partition") or 0)
            if ordinal < start_ordinal(stateful_set) + kept:
                return new_pod(stateful_set, ordinal, self.current)
        return new_pod(self.update_set, ordinal, self.update)
