"""Defaults of ``batch/v1``, as upstream's pkg/apis/batch/v1 sets them.

The Job defaults belong to the Job, not to JobSpec: a CronJob's job
template keeps its completions and backoffLimit unset, as upstream shows.
"""

from __future__ import annotations

from pynetes.api.defaults._fields import (
    Obj,
    default_pointer,
    default_zero,
    dicts,
    struct,
    template_metadata,
)

_BATCH = "io.k8s.api.batch.v1."
_MAX_INT32 = (1 << 31) - 1


def _job(job: Obj) -> None:
    spec = struct(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    default_pointer(spec, "parallelism", 1)
    per_index = spec.get("backoffLimitPerIndex") is not None
    default_pointer(spec, "backoffLimit", _MAX_INT32 if per_index else 6)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    metadata = struct(job, "metadata")
    if labels is not None and not metadata.get("labels"):
        metadata["labels"] = dict(labels)
    default_pointer(spec, "completionMode", "NonIndexed")
    default_pointer(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in dicts(failure_policy.get("rules")):
            for pattern in dicts(rule.get("onPodConditions")):
                default_zero(pattern, "status", "True")
    # JobPodReplacementPolicy is on by default in 1.31.
    replacement = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    default_pointer(spec, "podReplacementPolicy", replacement)
    struct(job, "status")


def _cron_job(cron_job: Obj) -> None:
    spec = struct(cron_job, "spec")
    default_zero(spec, "concurrencyPolicy", "Allow")
    default_pointer(spec, "suspend", False)
    default_pointer(spec, "successfulJobsHistoryLimit", 3)
    default_pointer(spec, "failedJobsHistoryLimit", 1)
    struct(cron_job, "status")


def _job_spec(spec: Obj) -> None:
    struct(spec, "template")


def _cron_job_spec(spec: Obj) -> None:
    struct(spec, "jobTemplate")


def _job_template(template: Obj) -> None:
    template_metadata(template)
    struct(template, "spec")


DEFAULTERS = {
    _BATCH + "Job": _job,
    _BATCH + "CronJob": _cron_job,
    _BATCH + "JobSpec": _job_spec,
    _BATCH + "CronJobSpec": _cron_job_spec,
    _BATCH + "JobTemplateSpec": _job_template,
}
