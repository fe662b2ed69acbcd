"""The ``job`` controller; see :mod:`.controller`."""

from pynetes.controllermanager.controllers.job.controller import JobController
from pynetes.controllermanager.descriptor import ControllerDescriptor

CONTROLLER = ControllerDescriptor(
    name="job",
    build=JobController,
    concurrency_flag="--concurrent-job-syncs",
    default_workers=5,
)
