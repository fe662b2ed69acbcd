"""apps/v1: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

Upstream describes some of these columns from the long-removed
extensions/v1beta1 and apps/v1beta1 types; their text is taken here from
the apps/v1 types that replaced them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynetes.api.meta import controller_of
from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import (
    NONE,
    InvalidSelector,
    Object,
    containers,
    created,
    format_label_selector,
    format_labels,
    name,
    pod_template_spec,
    section,
    selector_string,
)
from pynetes.apiserver.tables.columns import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Cells,
    Column,
    Doc,
    Printer,
    core,
)


def _apps(kind: str) -> str:
    return f"io.k8s.api.apps.v1.{kind}"


_READY = Column("Ready", "string", "Number of the pod with ready state")

# -- deployments -------------------------------------------------------------

_DEPLOYMENT_COLUMNS = (
    NAME,
    _READY,
    Column("Up-to-date", "string", Doc(_apps("DeploymentStatus"), "updatedReplicas")),
    Column("Available", "string", Doc(_apps("DeploymentStatus"), "availableReplicas")),
    AGE,
    CONTAINERS,
    IMAGES,
    Column("Selector", "string", Doc(_apps("DeploymentSpec"), "selector"), 1),
)


def _deployment(deployment: Object, now: datetime) -> Cells:
    spec, status = section(deployment, "spec"), section(deployment, "status")
    names, images = containers(pod_template_spec(spec))
    try:
        selector = selector_string(spec.get("selector"))
    except InvalidSelector:
        selector = "<invalid>"
    return [
        name(deployment),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age.since(created(deployment), now),
        names,
        images,
        selector,
    ]


# -- replicasets -------------------------------------------------------------


def replica_columns(spec: Any, status: Any) -> tuple[Column, ...]:
    """The columns of ReplicaSets and ReplicationControllers (their spec and status docs)."""
    return (
        NAME,
        Column("Desired", "integer", Doc(spec, "replicas")),
        Column("Current", "integer", Doc(status, "replicas")),
        Column("Ready", "integer", Doc(status, "readyReplicas")),
        AGE,
        CONTAINERS,
        IMAGES,
        Column("Selector", "string", Doc(spec, "selector"), 1),
    )


def replica_cells(obj: Object, now: datetime, selector: str) -> Cells:
    """A ReplicaSet's or ReplicationController's row; ``selector`` as each prints it."""
    spec, status = section(obj, "spec"), section(obj, "status")
    names, images = containers(pod_template_spec(spec))
    return [
        name(obj),
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age.since(created(obj), now),
        names,
        images,
        selector,
    ]


_REPLICASET_COLUMNS = replica_columns(_apps("ReplicaSetSpec"), _apps("ReplicaSetStatus"))


def _replicaset(replicaset: Object, now: datetime) -> Cells:
    selector = format_label_selector(section(replicaset, "spec").get("selector"))
    return replica_cells(replicaset, now, selector)


# -- statefulsets ------------------------------------------------------------

_STATEFULSET_COLUMNS = (NAME, _READY, AGE, CONTAINERS, IMAGES)


def _statefulset(statefulset: Object, now: datetime) -> Cells:
    spec, status = section(statefulset, "spec"), section(statefulset, "status")
    names, images = containers(pod_template_spec(spec))
    return [
        name(statefulset),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        age.since(created(statefulset), now),
        names,
        images,
    ]


# -- daemonsets --------------------------------------------------------------

_DS_STATUS = _apps("DaemonSetStatus")
_DAEMONSET_COLUMNS = (
    NAME,
    Column("Desired", "integer", Doc(_DS_STATUS, "desiredNumberScheduled")),
    Column("Current", "integer", Doc(_DS_STATUS, "currentNumberScheduled")),
    Column("Ready", "integer", Doc(_DS_STATUS, "numberReady")),
    Column("Up-to-date", "integer", Doc(_DS_STATUS, "updatedNumberScheduled")),
    Column("Available", "integer", Doc(_DS_STATUS, "numberAvailable")),
    Column("Node Selector", "string", Doc(core("PodSpec"), "nodeSelector")),
    AGE,
    CONTAINERS,
    IMAGES,
    Column("Selector", "string", Doc(_apps("DaemonSetSpec"), "selector"), 1),
)


def _daemonset(daemonset: Object, now: datetime) -> Cells:
    spec, status = section(daemonset, "spec"), section(daemonset, "status")
    template = pod_template_spec(spec)
    names, images = containers(template)
    return [
        name(daemonset),
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        format_labels(template.get("nodeSelector")),
        age.since(created(daemonset), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


# -- controllerrevisions -----------------------------------------------------

_REVISION_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", Doc(_apps("ControllerRevision"), "revision")),
    AGE,
)


def _controllerrevision(revision: Object, now: datetime) -> Cells:
    return [
        name(revision),
        _controller_name(revision),
        revision.get("revision", 0),
        age.since(created(revision), now),
    ]


def _controller_name(obj: Object) -> str:
    """The controlling owner as ``kind.group/name``, lower-cased kind and group."""
    owner = controller_of(obj)
    if owner is None:
        return NONE
    api_version = owner.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    kind = owner.get("kind", "")
    if not kind and not group:
        return owner.get("name", "")
    group_kind = f"{kind}.{group}" if group else kind
    return f"{group_kind.lower()}/{owner.get('name', '')}"


PRINTERS = {
    ("apps", "deployments"): Printer(_DEPLOYMENT_COLUMNS, _deployment),
    ("apps", "replicasets"): Printer(_REPLICASET_COLUMNS, _replicaset),
    ("apps", "statefulsets"): Printer(_STATEFULSET_COLUMNS, _statefulset),
    ("apps", "daemonsets"): Printer(_DAEMONSET_COLUMNS, _daemonset),
    ("apps", "controllerrevisions"): Printer(_REVISION_COLUMNS, _controllerrevision),
}
