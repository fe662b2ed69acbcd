"""The replicationcontroller controller: the replicaset controller over ReplicationControllers.

Upstream runs the same ReplicaSetController for both kinds (the
ReplicationManager); only the resource, the kind written into controller
references, the names and the selector (a plain label map) differ.
"""

from __future__ import annotations

from pynetes.api.labels import Selector, selector_from_set
from pynetes.api.resources import built_in
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.replicaset import (
    Object,
    ReplicaKind,
    ReplicaSetController,
)
from pynetes.controllermanager.descriptor import ControllerDescriptor


def _label_map(spec: Object) -> Selector:
    return selector_from_set(spec.get("selector"))


REPLICATION_CONTROLLER = ReplicaKind(
    resource=built_in("", "v1", "replicationcontrollers"),
    api_version="v1",
    kind="ReplicationController",
    queue_name="replicationmanager",
    component="replication-controller",
    selector_of=_label_map,
)


def build(context: ControllerContext) -> ReplicaSetController:
    workers = context.workers(CONTROLLER.workers_option, CONTROLLER.default_workers)
    return ReplicaSetController(context, REPLICATION_CONTROLLER, workers)


CONTROLLER = ControllerDescriptor(
    name="replicationcontroller",
    build=build,
    concurrency_flag="--concurrent-rc-syncs",
    default_workers=5,
)
