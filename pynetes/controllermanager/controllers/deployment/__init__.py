"""The deployment controller (upstream's DeploymentController, Kubernetes 1.31).

A Deployment runs its pods through ReplicaSets, one per version of its pod
template: :mod:`.revision` names and numbers them, :mod:`.scaling` sizes
them, :mod:`.rolling` and :mod:`.recreate` move a rollout along,
:mod:`.progress` writes what a user reads (status, conditions, the
progress deadline), :mod:`.sync` holds one pass and its writes, and
:mod:`.controller` decides which pass each event brings.
"""

from __future__ import annotations

from pynetes.controllermanager.controllers.deployment.controller import (
    DEFAULT_WORKERS,
    WORKERS_FLAG,
    DeploymentController,
)
from pynetes.controllermanager.descriptor import ControllerDescriptor

CONTROLLER = ControllerDescriptor(
    name="deployment",
    build=DeploymentController,
    concurrency_flag=WORKERS_FLAG,
    default_workers=DEFAULT_WORKERS,
)
