"""The daemonset controller (``--concurrent-daemonset-syncs``, 2 workers by default)."""

from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.daemonset.controller import DaemonSetsController
from pynetes.controllermanager.descriptor import ControllerDescriptor

WORKERS_FLAG = "--concurrent-daemonset-syncs"
DEFAULT_WORKERS = 2


def build(context: ControllerContext) -> DaemonSetsController:
    option = WORKERS_FLAG.removeprefix("--").replace("-", "_")
    return DaemonSetsController(context, context.workers(option, DEFAULT_WORKERS))


CONTROLLER = ControllerDescriptor(
    name="daemonset",
    build=build,
    concurrency_flag=WORKERS_FLAG,
    default_workers=DEFAULT_WORKERS,
)
