"""Revisions, annotations and the pod-template-hash that names a Deployment's ReplicaSets.

Each ReplicaSet of a Deployment holds one version of its pod template,
named ``<deployment>-<hash>`` and selected by ``pod-template-hash=<hash>``
(upstream's DefaultDeploymentUniqueLabelKey). Its ``revision`` annotation
orders the versions: the new ReplicaSet always has the highest, so a
rollback (the template of an old ReplicaSet written back into the
Deployment) makes that old ReplicaSet new again with the next revision and
records the revisions it had in ``revision-history``.

The hash: upstream feeds go-spew's dump of the Go PodTemplateSpec struct
into FNV-32a, then the collision count, and renders the decimal number
with the name generator's alphabet. The Go dump cannot be reproduced from
JSON (it lists every Go field, set or not), so this hashes the template's
canonical JSON (sorted keys) instead: same algorithm, same form and
stability, but not the same digits as a real cluster for a given template.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson

from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    by_creation,
)

#: The label (and selector term) that tells a Deployment's ReplicaSets apart.
POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
#: Upstream's (deprecated) apps.DeprecatedRollbackTo annotation.
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: Annotations of a Deployment never copied onto its ReplicaSets (annotationsToSkip).
NOT_COPIED = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
#: Upstream's maxRevHistoryLengthInChars.
MAX_REVISION_HISTORY_CHARS = 2000

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def _fnv32a(data: bytes, value: int = _FNV32_OFFSET) -> int:
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Upstream's rand.SafeEncodeString: each byte mapped into a vowel-free alphabet."""
    return "".join(_SAFE_ALPHABET[byte % len(_SAFE_ALPHABET)] for byte in text.encode())


def template_hash(template: Object, collision_count: int | None) -> str:
    """The pod-template-hash of ``template`` after ``collision_count`` collisions.

    FNV-32a over the template, then (if there were collisions) the count as
    eight little-endian bytes, as upstream's ComputeHash.
    """
    value = _fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        value = _fnv32a(struct.pack("<Q", collision_count & 0xFFFFFFFF), value)
    return safe_encode(str(value))


def _semantic(value: Any) -> Any:
    """``value`` with unset fields dropped: None, {} and [] mean the same in Go."""
    if isinstance(value, dict):
        return {k: _semantic(v) for k, v in value.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def _without_hash(template: Object) -> Any:
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
    return _semantic({**template, "metadata": {**metadata, "labels": labels}})


def equal_ignoring_hash(first: Object, second: Object) -> bool:
    """Upstream's EqualIgnoreHash: the same template but for the pod-template-hash label."""
    return _without_hash(first) == _without_hash(second)


def find_new(deployment: Object, replica_sets: Iterable[Object]) -> Object | None:
    """The oldest ReplicaSet whose template is the Deployment's (FindNewReplicaSet)."""
    template = _without_hash(deployment["spec"].get("template") or {})
    for replica_set in by_creation(replica_sets):
        if _without_hash(replica_set["spec"].get("template") or {}) == template:
            return replica_set
    return None


def old_ones(replica_sets: Iterable[Object], new: Object | None) -> list[Object]:
    """Every ReplicaSet but ``new`` (upstream's FindOldReplicaSets, all of them)."""
    new_uid = new["metadata"]["uid"] if new is not None else None
    return [rs for rs in replica_sets if rs["metadata"]["uid"] != new_uid]


def revision_of(obj: Object) -> int:
    """The ``revision`` annotation as a number (0 when missing or malformed)."""
    text = (obj["metadata"].get("annotations") or {}).get(REVISION, "")
    try:
        return int(text)
    except ValueError:
        return 0


def max_revision(replica_sets: Iterable[Object]) -> int:
    return max((revision_of(rs) for rs in replica_sets), default=0)


def by_revision(replica_sets: Iterable[Object]) -> list[Object]:
    """Lowest revision first, ties oldest first (upstream's ReplicaSetsByRevision)."""
    return sorted(by_creation(replica_sets), key=revision_of)


def replicas_annotations(desired: int, maximum: int) -> dict[str, str]:
    """The desired-replicas and max-replicas annotations a scaled ReplicaSet carries."""
    return {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(maximum)}


def annotated_int(replica_set: Object, key: str) -> int | None:
    """An integer annotation of ``replica_set`` (None when missing or malformed)."""
    text = (replica_set["metadata"].get("annotations") or {}).get(key)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def new_replica_set_annotations(
    deployment: Object, current: dict[str, str], new_revision: int
) -> dict[str, str]:
    """The annotations the new ReplicaSet gets (upstream's SetNewReplicaSetAnnotations).

    ``current`` are its annotations now ({} for one about to be created).
    The Deployment's own annotations are copied (but :data:`NOT_COPIED`);
    the revision only ever rises to ``new_revision``; a ReplicaSet that
    already had a revision (a rollback to it) keeps its previous ones in
    ``revision-history``, within :data:`MAX_REVISION_HISTORY_CHARS`.
    """
    annotations = dict(current)
    for key, value in (deployment["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED:
            annotations[key] = value
    old_text = annotations.get(REVISION, "")
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        return annotations  # not ours to fix: leave the revision alone, as upstream
    if old_revision >= new_revision:
        return annotations
    annotations[REVISION] = str(new_revision)
    if old_text:
        history = _extended_history(annotations.get(REVISION_HISTORY, ""), old_text)
        if history is not None:
            annotations[REVISION_HISTORY] = history
    return annotations


def _extended_history(history: str, revision: str) -> str | None:
    """``history`` with ``revision`` appended, oldest entries dropped to fit (None: no room)."""
    if not history:
        return revision
    entries = history.split(",")
    total = len(history) + len(revision) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total > MAX_REVISION_HISTORY_CHARS:
        return None
    return ",".join([*entries[start:], revision])
