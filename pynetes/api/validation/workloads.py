"""Workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs.

upstream ``pkg/apis/apps/validation`` and ``pkg/apis/batch/validation``,
plus the apps/v1 strategies' rule that a selector never changes. Defaulted
fields (strategies, replicas, policies) are judged by their default when
absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import FieldError, forbidden, invalid, not_supported, required
from pynetes.api.gofmt import go_quote
from pynetes.api.validation import cron, syntax
from pynetes.api.validation.govalues import (
    go_int_or_string,
    go_label_selector,
    go_string_map,
    go_struct,
    invalid_go,
    not_supported_go,
)
from pynetes.api.validation.metadata import (
    IMMUTABLE,
    NEGATIVE,
    immutable,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
    validate_template_meta,
)
from pynetes.api.validation.pods import validate_pod_template_spec

Object = Mapping[str, Any]

_SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_STATEFUL_SET_UPDATABLE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
_CRONJOB_NAME_MAX_LENGTH = 52


def non_negative(value: int | None, path: str) -> list[FieldError]:
    return [invalid(path, value, NEGATIVE)] if value is not None and value < 0 else []


def _validate_selector(spec: Object, path: str, kind: str) -> list[FieldError]:
    """Required, valid, and not empty (upstream words the last one per kind)."""
    selector = spec.get("selector")
    if selector is None:
        return [required(f"{path}.selector")]
    errors = validate_label_selector(selector, f"{path}.selector")
    if selector_is_empty(selector):
        errors.append(
            invalid_go(
                f"{path}.selector",
                go_label_selector(selector),
                f"empty selector is invalid for {kind}",
            )
        )
    return errors


def _template_matches(spec: Object, path: str) -> list[FieldError]:
    """A non-empty selector must select the template's labels."""
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    if selector is None or selector_is_empty(selector):
        return []
    matched = selector_matches(selector, labels or {})
    if matched is None:
        return [
            invalid_go(f"{path}.selector", go_label_selector(selector), "invalid label selector")
        ]
    if not matched:
        return [
            invalid_go(
                f"{path}.template.metadata.labels", go_string_map(labels), _SELECTOR_MISMATCH
            )
        ]
    return []


def _validate_always_restarting_template(spec: Object, path: str, kind: str) -> list[FieldError]:
    template_spec = (spec.get("template") or {}).get("spec") or {}
    errors: list[FieldError] = []
    policy = template_spec.get("restartPolicy", "Always")
    if policy != "Always":
        errors.append(not_supported(f"{path}.template.spec.restartPolicy", policy, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errors.append(
            forbidden(
                f"{path}.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errors


def validate_replica_set_spec(spec: Object, path: str = "spec") -> list[FieldError]:
    errors = non_negative(spec.get("replicas"), f"{path}.replicas")
    errors += non_negative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    errors += _validate_selector(spec, path, "deployment")
    errors += _template_matches(spec, path)
    errors += validate_pod_template_spec(spec.get("template") or {}, f"{path}.template")
    errors += _validate_always_restarting_template(spec, path, "ReplicaSet")
    return errors


def validate_deployment_spec(spec: Object, path: str = "spec") -> list[FieldError]:
    errors = validate_replica_set_spec({**spec, "minReadySeconds": None}, path)
    errors += _validate_deployment_strategy(spec.get("strategy") or {}, f"{path}.strategy")
    errors += non_negative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    errors += non_negative(spec.get("revisionHistoryLimit"), f"{path}.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errors += non_negative(deadline, f"{path}.progressDeadlineSeconds")
        if deadline <= (spec.get("minReadySeconds") or 0):
            errors.append(
                invalid(
                    f"{path}.progressDeadlineSeconds",
                    deadline,
                    "must be greater than minReadySeconds",
                )
            )
    return errors


def _validate_deployment_strategy(strategy: Object, path: str) -> list[FieldError]:
    kind = strategy.get("type", "RollingUpdate")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [
                forbidden(
                    f"{path}.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        update = strategy.get("rollingUpdate") or {}
        here = f"{path}.rollingUpdate"
        unavailable = update.get("maxUnavailable", "25%")
        surge = update.get("maxSurge", "25%")
        errors = _positive_int_or_percent(unavailable, f"{here}.maxUnavailable")
        errors += _positive_int_or_percent(surge, f"{here}.maxSurge")
        if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
            errors.append(
                invalid_go(
                    f"{here}.maxUnavailable",
                    go_int_or_string(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        return errors + _not_more_than_100_percent(unavailable, f"{here}.maxUnavailable")
    literal = _go_strategy("Deployment", "RollingUpdateDeployment", kind, strategy)
    return [not_supported_go(path, literal, ("Recreate", "RollingUpdate"))]


def _go_strategy(prefix: str, rolling_type: str, kind: str, strategy: Object) -> str:
    """An apps ``*Strategy`` struct as %#v prints it.

    A set rollingUpdate pointer prints as an address upstream, which no one
    can reproduce; it is shown as a fixed one.
    """
    address = "nil" if strategy.get("rollingUpdate") is None else "0xc000000000"
    return go_struct(
        f"apps.{prefix}Strategy",
        (("Type", go_quote(kind)), ("RollingUpdate", f"(*apps.{rolling_type})({address})")),
    )


def _positive_int_or_percent(value: int | str, path: str) -> list[FieldError]:
    if isinstance(value, str):
        return [
            invalid_go(path, go_int_or_string(value), m) for m in syntax.is_valid_percent(value)
        ]
    return non_negative(value, path)


def _percent(value: int | str) -> int | None:
    if isinstance(value, str) and not syntax.is_valid_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent(value: int | str) -> int:
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        return int(value) if value.lstrip("-").isdigit() else 0
    return value


def _not_more_than_100_percent(value: int | str, path: str) -> list[FieldError]:
    percent = _percent(value)
    if percent is None or percent <= 100:
        return []
    return [invalid_go(path, go_int_or_string(value), "must not be greater than 100%")]


def validate_stateful_set_spec(spec: Object, path: str = "spec") -> list[FieldError]:
    errors: list[FieldError] = []
    management = spec.get("podManagementPolicy", "OrderedReady")
    if not management:
        errors.append(required(f"{path}.podManagementPolicy"))
    elif management not in ("OrderedReady", "Parallel"):
        errors.append(
            invalid(
                f"{path}.podManagementPolicy", management, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    errors += _validate_stateful_set_strategy(
        spec.get("updateStrategy") or {}, f"{path}.updateStrategy"
    )
    errors += non_negative(spec.get("replicas"), f"{path}.replicas")
    errors += non_negative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    errors += _validate_selector(spec, path, "statefulset")
    errors += _template_matches(spec, path)
    template = spec.get("template") or {}
    errors += validate_template_meta(template.get("metadata") or {}, f"{path}.template.metadata")
    return errors + _validate_always_restarting_template(spec, path, "StatefulSet")


def _validate_stateful_set_strategy(strategy: Object, path: str) -> list[FieldError]:
    kind = strategy.get("type", "RollingUpdate")
    update = strategy.get("rollingUpdate")
    if kind == "OnDelete":
        if update is not None:
            return [
                invalid(
                    f"{path}.rollingUpdate",
                    dict(update),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        if update is None:
            return []
        errors = non_negative(update.get("partition"), f"{path}.rollingUpdate.partition")
        unavailable = update.get("maxUnavailable")
        if unavailable is not None:
            here = f"{path}.rollingUpdate.maxUnavailable"
            errors += _positive_int_or_percent(unavailable, here)
            if _int_or_percent(unavailable) == 0:
                errors.append(invalid_go(here, go_int_or_string(unavailable), "cannot be 0"))
            errors += _not_more_than_100_percent(unavailable, here)
        return errors
    if not kind:
        return [required(path)]
    literal = _go_strategy("StatefulSetUpdate", "RollingUpdateStatefulSetStrategy", kind, strategy)
    return [invalid_go(path, literal, "must be 'RollingUpdate' or 'OnDelete'")]


def validate_daemon_set_spec(spec: Object, path: str = "spec") -> list[FieldError]:
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    errors = validate_label_selector(selector, f"{path}.selector")
    if selector is None or selector_matches(selector, labels or {}) is False:
        errors.append(
            invalid_go(
                f"{path}.template.metadata.labels", go_string_map(labels), _SELECTOR_MISMATCH
            )
        )
    if selector is not None and selector_is_empty(selector):
        errors.append(
            invalid_go(
                f"{path}.selector",
                go_label_selector(selector),
                "empty selector is invalid for daemonset",
            )
        )
    errors += validate_pod_template_spec(template, f"{path}.template")
    errors += _validate_always_restarting_template(spec, path, "DaemonSet")
    errors += non_negative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    errors += _validate_daemon_set_strategy(
        spec.get("updateStrategy") or {}, f"{path}.updateStrategy"
    )
    return errors + non_negative(spec.get("revisionHistoryLimit"), f"{path}.revisionHistoryLimit")


def _validate_daemon_set_strategy(strategy: Object, path: str) -> list[FieldError]:
    kind = strategy.get("type", "RollingUpdate")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        literal = _go_strategy("DaemonSetUpdate", "RollingUpdateDaemonSet", kind, strategy)
        return [not_supported_go(path, literal, ("RollingUpdate", "OnDelete"))]
    update = strategy.get("rollingUpdate") or {}
    here = f"{path}.rollingUpdate"
    unavailable, surge = update.get("maxUnavailable", 1), update.get("maxSurge", 0)
    errors = _positive_int_or_percent(unavailable, f"{here}.maxUnavailable")
    errors += _positive_int_or_percent(surge, f"{here}.maxSurge")
    errors += _not_more_than_100_percent(unavailable, f"{here}.maxUnavailable")
    errors += _not_more_than_100_percent(surge, f"{here}.maxSurge")
    has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
    if has_unavailable and has_surge:
        errors.append(
            invalid_go(
                f"{here}.maxSurge",
                go_int_or_string(surge),
                "may not be set when maxUnavailable is non-zero",
            )
        )
    elif not has_unavailable and not has_surge:
        errors.append(required(f"{here}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errors


def validate_selector_update(new: Object, old: Object) -> list[FieldError]:
    """apps/v1 strategies: ``spec.selector`` never changes."""
    new_selector = (new.get("spec") or {}).get("selector")
    old_selector = (old.get("spec") or {}).get("selector")
    if new_selector == old_selector:
        return []
    return [invalid_go("spec.selector", go_label_selector(new_selector or {}), IMMUTABLE)]


def validate_stateful_set_update(new: Object, old: Object) -> list[FieldError]:
    updatable = ("replicas", "ordinals", "template", "updateStrategy", "minReadySeconds")
    updatable += ("persistentVolumeClaimRetentionPolicy",)
    new_spec = {k: v for k, v in (new.get("spec") or {}).items() if k not in updatable}
    old_spec = {k: v for k, v in (old.get("spec") or {}).items() if k not in updatable}
    return [] if new_spec == old_spec else [forbidden("spec", _STATEFUL_SET_UPDATABLE)]


def validate_job(job: Object) -> list[FieldError]:
    """The spec rules, the generated selector, and the indexed hostname limit."""
    metadata = job.get("metadata") or {}
    spec = job.get("spec") or {}
    errors = _validate_generated_selector(job)
    errors += validate_job_spec(spec)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and completions:
        hostname = f"{metadata.get('name') or ''}-{completions - 1}"
        if syntax.is_dns1123_label(hostname):
            errors.append(
                invalid(
                    "metadata.name",
                    metadata.get("name") or "",
                    f"will not able to create pod with invalid DNS label: {hostname}",
                )
            )
    return errors


def _validate_generated_selector(job: Object) -> list[FieldError]:
    """Unless manualSelector, the server-generated labels and selector must be in place."""
    spec = job.get("spec") or {}
    metadata = job.get("metadata") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    uid, name = metadata.get("uid") or "", metadata.get("name") or ""
    errors = [] if uid else [required("metadata.uid")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    expected = {
        "controller-uid": uid,
        "job-name": name,
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
    }
    for key, value in expected.items():
        here = f"spec.template.metadata.labels[{key}]"
        if key not in labels:
            errors.append(required(here, f"must be '{value}'"))
        elif labels[key] != value:
            errors.append(invalid_go(here, go_string_map(labels), f"must be '{value}'"))
    if selector_matches(spec["selector"], expected) is False:
        errors.append(
            invalid_go(
                "spec.selector",
                go_label_selector(spec["selector"]),
                "`selector` not auto-generated",
            )
        )
    return errors


def validate_job_spec(spec: Object, path: str = "spec") -> list[FieldError]:
    errors = _validate_job_spec_fields(spec, path)
    selector = spec.get("selector")
    if selector is None:
        errors.append(required(f"{path}.selector"))
        return errors
    errors += validate_label_selector(selector, f"{path}.selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if selector_matches(selector, labels or {}) is False:
        errors.append(
            invalid_go(
                f"{path}.template.metadata.labels", go_string_map(labels), _SELECTOR_MISMATCH
            )
        )
    return errors


def _validate_job_spec_fields(spec: Object, path: str) -> list[FieldError]:
    """upstream validateJobSpec: counts, completion mode, template, restart policy."""
    errors: list[FieldError] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        errors += non_negative(spec.get(key), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errors.append(not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        errors.append(required(f"{path}.completions", "when completion mode is Indexed"))
    errors += validate_pod_template_spec(spec.get("template") or {}, f"{path}.template")
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "Always")
    policy_path = f"{path}.template.spec.restartPolicy"
    if policy in ("Always", ""):
        errors.append(required(policy_path, 'valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        errors.append(not_supported(policy_path, policy, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and policy != "Never":
        errors.append(
            invalid(
                policy_path, policy, 'only "Never" is supported when podFailurePolicy is specified'
            )
        )
    return errors


def validate_job_update(new: Object, old: Object) -> list[FieldError]:
    """The new spec is valid; counts, selector, template and modes do not change."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errors = validate_job_spec(new_spec)
    errors += immutable(
        new_spec.get("completions"), old_spec.get("completions"), "spec.completions"
    )
    if new_spec.get("selector") != old_spec.get("selector"):
        errors.append(
            invalid_go(
                "spec.selector", go_label_selector(new_spec.get("selector") or {}), IMMUTABLE
            )
        )
    # upstream prints the whole PodTemplateSpec as a Go struct; it is shown here as JSON.
    errors += immutable(new_spec.get("template"), old_spec.get("template"), "spec.template")
    for key in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        errors += immutable(new_spec.get(key), old_spec.get(key), f"spec.{key}")
    return errors


def validate_cron_job(cron_job: Object, old: Object | None = None) -> list[FieldError]:
    """upstream ValidateCronJobCreate / ValidateCronJobUpdate (without the metadata part)."""
    errors: list[FieldError] = []
    name = (cron_job.get("metadata") or {}).get("name") or ""
    if old is None and syntax.byte_length(name) > _CRONJOB_NAME_MAX_LENGTH:
        errors.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    spec = cron_job.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    schedule = spec.get("schedule") or ""
    if not schedule:
        errors.append(required("spec.schedule"))
    else:
        errors += _validate_schedule(schedule, "TZ" in (old_spec.get("schedule") or ""), spec)
    errors += non_negative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    if old is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errors += _validate_time_zone(spec.get("timeZone"), "spec.timeZone")
    policy = spec.get("concurrencyPolicy", "Allow")
    if not policy:
        errors.append(required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errors.append(
            not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
        )
    errors += _validate_job_template(spec.get("jobTemplate") or {}, "spec.jobTemplate")
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errors += non_negative(spec.get(key), f"spec.{key}")
    return errors


def _validate_schedule(schedule: str, allow_tz: bool, spec: Object) -> list[FieldError]:
    errors: list[FieldError] = []
    problem = cron.schedule_error(schedule)
    if problem is not None:
        errors.append(invalid("spec.schedule", schedule, problem))
    if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
        errors.append(
            invalid(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            )
        )
    elif not allow_tz and "TZ" in schedule:
        errors.append(
            invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            )
        )
    return errors


def _validate_time_zone(zone: str | None, path: str) -> list[FieldError]:
    if zone is None:
        return []
    if not zone:
        return [invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _is_time_zone_part(part):
            return [invalid(path, zone, f"unknown time zone {zone}")]
    errors: list[FieldError] = []
    if zone.lower() == "local":
        errors.append(
            invalid(
                path,
                zone,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        )
    problem = cron.location_error(zone)
    if problem is not None:
        errors.append(invalid(path, zone, problem))
    return errors


def _is_time_zone_part(part: str) -> bool:
    """upstream validTimeZoneCharacters: ``^[A-Za-z\\.\\-_0-9+]{1,14}$``."""
    return 1 <= len(part) <= 14 and all(c.isascii() and (c.isalnum() or c in ".-_+") for c in part)


def _validate_job_template(template: Object, path: str) -> list[FieldError]:
    spec = template.get("spec") or {}
    errors = _validate_job_spec_fields(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        errors.append(
            invalid_go(
                f"{path}.spec.selector",
                go_label_selector(spec["selector"]),
                "`selector` will be auto-generated",
            )
        )
    if spec.get("manualSelector"):
        errors.append(not_supported(f"{path}.spec.manualSelector", True, ("nil", "false")))
    return errors
