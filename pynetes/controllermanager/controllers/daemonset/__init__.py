"""The daemonset controller (``--concurrent-daemonset-syncs``, 2 workers by default)."""

from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.daemonset.controller import DaemonSetsController
from pynetes.controllermanager.descriptor import ControllerDescriptor


def build(context: ControllerContext) -> DaemonSetsController:
    workers = context.workers(CONTROLLER.workers_option, CONTROLLER.default_workers)
    return DaemonSetsController(context, workers)


CONTROLLER = ControllerDescriptor(
    name="daemonset",
    build=build,
    concurrency_flag="--concurrent-daemonset-syncs",
    default_workers=2,
)
