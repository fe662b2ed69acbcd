"""batch/v1: jobs (NAME STATUS COMPLETIONS DURATION AGE, 1.30+) and cronjobs.

A Job's STATUS comes from its conditions in upstream's order of precedence:
Complete, Failed, Terminating (being deleted), Suspended, FailureTarget,
else Running. COMPLETIONS is ``succeeded/completions``, or for a work queue
``succeeded/1`` (``of N`` when parallel). DURATION runs from startTime to
completionTime, or to now while the Job runs.
"""

from __future__ import annotations

from datetime import datetime

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import (
    NONE,
    Object,
    bool_pointer,
    condition_true,
    containers,
    created,
    deleting,
    format_label_selector,
    name,
    pod_template_spec,
    section,
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
)

_JOB_SPEC = "io.k8s.api.batch.v1.JobSpec"
_SELECTOR = Column("Selector", "string", Doc(_JOB_SPEC, "selector"), 1)

_JOB_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", Doc("io.k8s.api.batch.v1.JobStatus", "succeeded")),
    Column("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    _SELECTOR,
)


def _job(job: Object, now: datetime) -> Cells:
    spec, status = section(job, "spec"), section(job, "status")
    names, images = containers(pod_template_spec(spec))
    return [
        name(job),
        _job_status(job, status.get("conditions")),
        _completions(spec, status.get("succeeded", 0)),
        _duration(status, now),
        age.since(created(job), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _job_status(job: Object, conditions: list[Object] | None) -> str:
    if condition_true(conditions, "Complete"):
        return "Complete"
    if condition_true(conditions, "Failed"):
        return "Failed"
    if deleting(job):
        return "Terminating"
    if condition_true(conditions, "Suspended"):
        return "Suspended"
    if condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _completions(spec: Object, succeeded: int) -> str:
    completions = spec.get("completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(status: Object, now: datetime) -> str:
    started = age.parse_timestamp(status.get("startTime"))
    if started is None:
        return ""
    completed = age.parse_timestamp(status.get("completionTime"))
    return age.between(started, completed or now)


_CRONJOB = "io.k8s.api.batch.v1.CronJob"
_CRONJOB_SPEC, _CRONJOB_STATUS = f"{_CRONJOB}Spec", f"{_CRONJOB}Status"
_CRONJOB_COLUMNS = (
    NAME,
    Column("Schedule", "string", Doc(_CRONJOB_SPEC, "schedule")),
    Column("Timezone", "string", Doc(_CRONJOB_SPEC, "timeZone")),
    Column("Suspend", "boolean", Doc(_CRONJOB_SPEC, "suspend")),
    Column("Active", "integer", Doc(_CRONJOB_STATUS, "active")),
    Column("Last Schedule", "string", Doc(_CRONJOB_STATUS, "lastScheduleTime")),
    AGE,
    CONTAINERS,
    IMAGES,
    _SELECTOR,
)


def _cronjob(cronjob: Object, now: datetime) -> Cells:
    spec, status = section(cronjob, "spec"), section(cronjob, "status")
    job_spec = section(section(spec, "jobTemplate"), "spec")
    names, images = containers(pod_template_spec(job_spec))
    last, zone = status.get("lastScheduleTime"), spec.get("timeZone")
    return [
        name(cronjob),
        spec.get("schedule", ""),
        NONE if zone is None else zone,
        bool_pointer(spec.get("suspend")),
        len(status.get("active") or []),
        NONE if last is None else age.since(last, now),
        age.since(created(cronjob), now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


PRINTERS = {
    ("batch", "jobs"): Printer(_JOB_COLUMNS, _job),
    ("batch", "cronjobs"): Printer(_CRONJOB_COLUMNS, _cronjob),
}
