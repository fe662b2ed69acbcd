"""The statefulset controller (``--concurrent-statefulset-syncs``, 5 workers by default)."""

from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.statefulset.controller import StatefulSetController
from pynetes.controllermanager.descriptor import ControllerDescriptor


def build(context: ControllerContext) -> StatefulSetController:
    workers = context.workers(CONTROLLER.workers_option, CONTROLLER.default_workers)
    return StatefulSetController(context, workers)


CONTROLLER = ControllerDescriptor(
    name="statefulset",
    build=build,
    concurrency_flag="--concurrent-statefulset-syncs",
    default_workers=5,
)
