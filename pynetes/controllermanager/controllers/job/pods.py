"""The pods a Job makes, and how it reads their outcomes."""

from __future__ import annotations

from typing import Any

from pynetes.api.pods import is_terminal
from pynetes.controllermanager.common.podcontrol import pod_from_template
from pynetes.controllermanager.controllers.job.indexes import COMPLETION_INDEX

Object = dict[str, Any]

#: The finalizer that keeps a Job's finished pods until the Job has counted them.
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
#: The environment variable holding an Indexed Job pod's index.
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"


def new_pod(job: Object, index: int | None) -> Object:
    """A pod of ``job``'s template, tracked by the finalizer; indexed when ``index`` is set.

    Indexed pods are named ``<job>-<index>-…``, carry the index as label and
    annotation, get the hostname ``<job>-<index>`` and the index in
    ``JOB_COMPLETION_INDEX`` through the downward API, as upstream's.
    """
    name = job["metadata"]["name"]
    prefix = f"{name}-{index}-" if index is not None else None
    pod = pod_from_template(job["spec"]["template"], job, "batch/v1", "Job", name_prefix=prefix)
    metadata = pod["metadata"]
    metadata["finalizers"] = [*metadata.get("finalizers", ()), TRACKING_FINALIZER]
    if index is not None:
        metadata["labels"][COMPLETION_INDEX] = str(index)
        metadata.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
        pod["spec"].setdefault("hostname", f"{name}-{index}")
        variable = {
            "name": INDEX_VARIABLE,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}},
        }
        for container in [*pod["spec"].get("initContainers", ()), *pod["spec"]["containers"]]:
            container["env"] = [*container.get("env", ()), variable]
    return pod


def is_tracked(pod: Object) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ())


def outcome(pod: Object) -> str | None:
    """ "succeeded", "failed", or None while the pod may still run.

    A pod deleted before it succeeded counts as failed, as upstream counts it.
    """
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Failed" or (pod["metadata"].get("deletionTimestamp") and not is_terminal(pod)):
        return "failed"
    return None
