"""The ``cronjob`` controller; see :mod:`.controller`."""

from pynetes.controllermanager.controllers.cronjob.controller import CronJobController
from pynetes.controllermanager.descriptor import ControllerDescriptor

CONTROLLER = ControllerDescriptor(
    name="cronjob",
    build=CronJobController,
    concurrency_flag="--concurrent-cron-job-syncs",
    default_workers=5,
)
