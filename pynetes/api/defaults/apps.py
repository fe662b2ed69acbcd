"""Defaults of ``apps/v1``, as upstream's pkg/apis/apps/v1 sets them.

The pod templates inside get the core defaults through the walk; the
``status`` each kind is created with is written as Go writes an empty one
(its fields without ``omitempty`` appear as 0).
"""

from __future__ import annotations

from pynetes.api.defaults._fields import (
    Obj,
    default_pointer,
    default_zero,
    dicts,
    struct,
    template_metadata,
)

_APPS = "io.k8s.api.apps.v1."


def _deployment(deployment: Obj) -> None:
    spec = struct(deployment, "spec")
    default_pointer(spec, "replicas", 1)
    strategy = struct(spec, "strategy")
    default_zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = struct(strategy, "rollingUpdate")
        default_pointer(rolling, "maxUnavailable", "25%")
        default_pointer(rolling, "maxSurge", "25%")
    default_pointer(spec, "revisionHistoryLimit", 10)
    default_pointer(spec, "progressDeadlineSeconds", 600)
    struct(deployment, "status")


def _replica_set(replica_set: Obj) -> None:
    default_pointer(struct(replica_set, "spec"), "replicas", 1)
    struct(replica_set, "status").setdefault("replicas", 0)


def _stateful_set(stateful_set: Obj) -> None:
    spec = struct(stateful_set, "spec")
    default_zero(spec, "podManagementPolicy", "OrderedReady")
    strategy = struct(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        default_pointer(strategy, "rollingUpdate", {})
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        default_pointer(rolling, "partition", 0)
    # StatefulSetAutoDeletePVC is on by default in 1.31.
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    retention = spec["persistentVolumeClaimRetentionPolicy"] = dict(retention or {})
    default_zero(retention, "whenDeleted", "Retain")
    default_zero(retention, "whenScaled", "Retain")
    default_pointer(spec, "replicas", 1)
    default_pointer(spec, "revisionHistoryLimit", 10)
    # Upstream's conversion writes the type of each claim template.
    for claim in dicts(spec.get("volumeClaimTemplates")):
        default_zero(claim, "apiVersion", "v1")
        default_zero(claim, "kind", "PersistentVolumeClaim")
        template_metadata(claim)
    status = struct(stateful_set, "status")
    status.setdefault("replicas", 0)
    status.setdefault("availableReplicas", 0)


def _daemon_set(daemon_set: Obj) -> None:
    spec = struct(daemon_set, "spec")
    strategy = struct(spec, "updateStrategy")
    default_zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = struct(strategy, "rollingUpdate")
        default_pointer(rolling, "maxUnavailable", 1)
        default_pointer(rolling, "maxSurge", 0)
    default_pointer(spec, "revisionHistoryLimit", 10)
    status = struct(daemon_set, "status")
    for key in _DAEMON_SET_COUNTS:
        status.setdefault(key, 0)


_DAEMON_SET_COUNTS = (
    "currentNumberScheduled",
    "numberMisscheduled",
    "desiredNumberScheduled",
    "numberReady",
)


def _with_template(spec: Obj) -> None:
    """A spec whose pod template is a plain Go struct: always there."""
    struct(spec, "template")


DEFAULTERS = {
    _APPS + "Deployment": _deployment,
    _APPS + "ReplicaSet": _replica_set,
    _APPS + "StatefulSet": _stateful_set,
    _APPS + "DaemonSet": _daemon_set,
    _APPS + "DeploymentSpec": _with_template,
    _APPS + "ReplicaSetSpec": _with_template,
    _APPS + "StatefulSetSpec": _with_template,
    _APPS + "DaemonSetSpec": _with_template,
}
