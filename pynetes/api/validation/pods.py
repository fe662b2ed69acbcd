"""Pods and pod templates: the spec rules, and what a pod update may change.

Upstream's ``ValidatePodSpec`` and friends (``pkg/apis/core/validation``):
containers, init and ephemeral containers, volumes, the pod-level fields,
and ``ValidatePodUpdate``, whose refusal users know by heart: ``pod updates
may not change fields other than ...``. Fields upstream always defaults are
judged by their default when absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pynetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
)
from pynetes.api.gofmt import go_quote
from pynetes.api.quantity import QuantityError, parse_json_quantity
from pynetes.api.validation import containers, syntax
from pynetes.api.validation.metadata import (
    name_is_dns_subdomain,
    validate_label_name,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
    validate_template_meta,
)

Object = Mapping[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
#: Volume sources in upstream's order, with the field name its errors use
#: (upstream writes "cephFS" and "downwarAPI" there).
_VOLUME_SOURCES = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
_EPHEMERAL_FORBIDDEN = (
    "ports",
    "resources",
    "lifecycle",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
)
UPDATABLE_POD_SPEC_FIELDS = ",".join(
    (
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)",
    )
)


def validate_pod(pod: Object) -> list[FieldError]:
    """upstream ValidatePodCreate."""
    spec = pod.get("spec") or {}
    errors = _validate_pod_metadata_and_spec(pod)
    if spec.get("ephemeralContainers"):
        errors.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errors.append(
            forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
        )
    return errors


def _validate_pod_metadata_and_spec(pod: Object) -> list[FieldError]:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    errors = validate_object_meta(metadata, namespaced=True, validate_name=name_is_dns_subdomain)
    errors += validate_pod_spec(spec, "spec", is_pod=True)
    if not spec.get("serviceAccountName"):
        for index, volume in enumerate(spec.get("volumes") or []):
            for source_index, source in enumerate(
                (volume.get("projected") or {}).get("sources") or []
            ):
                if source.get("serviceAccountToken") is not None:
                    errors.append(
                        forbidden(
                            f"spec.volumes[{index}].projected.sources[{source_index}]"
                            ".serviceAccountToken",
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(key) or []):
            image = container.get("image") or ""
            if image != image.strip():
                errors.append(
                    invalid(
                        f"spec.{key}[{index}].image",
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return errors


def validate_pod_template_spec(template: Object, path: str) -> list[FieldError]:
    """upstream ValidatePodTemplateSpec, as workloads embed it."""
    spec = template.get("spec") or {}
    errors = validate_template_meta(template.get("metadata") or {}, f"{path}.metadata")
    errors += validate_pod_spec(spec, f"{path}.spec", is_pod=False)
    if spec.get("ephemeralContainers"):
        errors.append(
            forbidden(
                f"{path}.spec.ephemeralContainers",
                "ephemeral containers not allowed in pod template",
            )
        )
    return errors


def validate_pod_spec(spec: Object, path: str, *, is_pod: bool) -> list[FieldError]:
    """upstream ValidatePodSpec; ``is_pod`` for a Pod rather than a template's spec."""
    grace = spec.get("terminationGracePeriodSeconds", 30)
    restart_policy = spec.get("restartPolicy", "Always")
    volumes, errors = validate_volumes(spec.get("volumes") or [], f"{path}.volumes")
    errors += _validate_containers(spec, volumes, grace, restart_policy, f"{path}.containers")
    errors += _validate_init_containers(
        spec, volumes, grace, restart_policy, f"{path}.initContainers"
    )
    errors += _validate_ephemeral_containers(
        spec, volumes, restart_policy, f"{path}.ephemeralContainers"
    )
    errors += _validate_host_network(spec, path, is_pod=is_pod)
    errors += _one_of(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy")
    errors += _one_of(spec.get("dnsPolicy"), _DNS_POLICIES, f"{path}.dnsPolicy")
    errors += validate_labels(spec.get("nodeSelector") or {}, f"{path}.nodeSelector")
    errors += containers.validate_security_context(
        spec.get("securityContext"), f"{path}.securityContext"
    )
    errors += _validate_dns_config(spec, f"{path}.dnsConfig")
    errors += _validate_readiness_gates(spec.get("readinessGates") or [], f"{path}.readinessGates")
    errors += _validate_scheduling_gates(
        spec.get("schedulingGates") or [], f"{path}.schedulingGates"
    )
    errors += _validate_topology_spread(
        spec.get("topologySpreadConstraints") or [], f"{path}.topologySpreadConstraints"
    )
    errors += _validate_names(spec, path)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= containers.MAX_INT32:
        errors.append(
            invalid(
                f"{path}.activeDeadlineSeconds",
                deadline,
                syntax.inclusive_range_error(1, containers.MAX_INT32),
            )
        )
    errors += validate_tolerations(spec.get("tolerations") or [], f"{path}.tolerations")
    errors += _validate_host_aliases(spec.get("hostAliases") or [], f"{path}.hostAliases")
    if spec.get("preemptionPolicy") is not None:
        errors += validate_preemption_policy(spec["preemptionPolicy"], f"{path}.preemptionPolicy")
    errors += _validate_os(spec.get("os"), f"{path}.os")
    return errors


def _one_of(value: str | None, supported: tuple[str, ...], path: str) -> list[FieldError]:
    """A defaulted enum: absent is fine (the default), empty is required, else must be known."""
    if value is None or value in supported:
        return []
    if value == "":
        return [required(path)]
    return [not_supported(path, value, supported)]


def validate_preemption_policy(policy: str, path: str) -> list[FieldError]:
    return _one_of(policy, ("PreemptLowerPriority", "Never"), path)


def _validate_names(spec: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = spec.get(key) or ""
        if value:
            errors += [
                invalid(f"{path}.{key}", value, m) for m in name_is_dns_subdomain(value, False)
            ]
    for key in ("hostname", "subdomain"):
        value = spec.get(key) or ""
        if value:
            errors += [invalid(f"{path}.{key}", value, m) for m in syntax.is_dns1123_label(value)]
    runtime_class = spec.get("runtimeClassName")
    if runtime_class is not None:
        errors += [
            invalid(f"{path}.runtimeClassName", runtime_class, m)
            for m in name_is_dns_subdomain(runtime_class, False)
        ]
    return errors


def validate_volumes(
    volumes: list[Object], path: str
) -> tuple[dict[str, Object], list[FieldError]]:
    """Names unique DNS labels, one source each; returns the valid volumes by name."""
    errors: list[FieldError] = []
    valid: dict[str, Object] = {}
    for index, volume in enumerate(volumes):
        here = f"{path}[{index}]"
        name = volume.get("name") or ""
        problems = _validate_volume_source(volume, here)
        if not name:
            problems.append(required(f"{here}.name"))
        else:
            problems += [invalid(f"{here}.name", name, m) for m in syntax.is_dns1123_label(name)]
        if name in valid:
            problems.append(duplicate(f"{here}.name", name))
        if problems:
            errors += problems
        else:
            valid[name] = volume
    return valid, errors


def _validate_volume_source(volume: Object, path: str) -> list[FieldError]:
    """At most one source (none means the emptyDir upstream defaults to)."""
    errors: list[FieldError] = []
    found = False
    for key, error_name in _VOLUME_SOURCES:
        source = volume.get(key)
        if source is None:
            continue
        if found:
            errors.append(
                forbidden(f"{path}.{error_name}", "may not specify more than 1 volume type")
            )
            continue
        found = True
        errors += _validate_source(key, source, f"{path}.{key}")
    return errors


def _validate_source(key: str, source: Object, path: str) -> list[FieldError]:
    if key == "emptyDir":
        limit = source.get("sizeLimit")
        try:
            negative = limit is not None and parse_json_quantity(limit).amount < 0
        except QuantityError:
            negative = True
        if negative:
            return [
                forbidden(f"{path}.sizeLimit", "SizeLimit field must be a valid resource quantity")
            ]
        return []
    if key == "hostPath":
        host_path = source.get("path") or ""
        if not host_path:
            return [required(f"{path}.path")]
        errors = containers.validate_no_backsteps(host_path, f"{path}.path")
        kind = source.get("type")
        if kind is not None and kind not in _HOST_PATH_TYPES:
            errors.append(not_supported(f"{path}.type", kind, _HOST_PATH_TYPES))
        return errors
    if key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        errors = [] if source.get(name_key) else [required(f"{path}.{name_key}")]
        return errors + _validate_projection_items(source, path)
    if key == "persistentVolumeClaim":
        return [] if source.get("claimName") else [required(f"{path}.claimName")]
    if key == "nfs":
        return _validate_nfs(source, path)
    return []


def _validate_projection_items(source: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    mode = source.get("defaultMode")
    if mode is not None and not 0 <= mode <= 0o777:
        errors.append(invalid(f"{path}.defaultMode", mode, _FILE_MODE_ERROR))
    for index, item in enumerate(source.get("items") or []):
        here = f"{path}.items[{index}]"
        if not item.get("key"):
            errors.append(required(f"{here}.key"))
        item_path = item.get("path") or ""
        if not item_path:
            errors.append(required(f"{here}.path"))
        errors += containers.validate_local_descending_path(item_path, f"{here}.path")
        if item_path.startswith("..") and not item_path.startswith("../"):
            errors.append(invalid(f"{here}.path", item_path, "must not start with '..'"))
        item_mode = item.get("mode")
        if item_mode is not None and not 0 <= item_mode <= 0o777:
            errors.append(invalid(f"{here}.mode", item_mode, _FILE_MODE_ERROR))
    return errors


def _validate_nfs(source: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not source.get("server"):
        errors.append(required(f"{path}.server"))
    nfs_path = source.get("path") or ""
    if not nfs_path:
        errors.append(required(f"{path}.path"))
    if not nfs_path.startswith("/"):
        errors.append(invalid(f"{path}.path", nfs_path, "must be an absolute path"))
    return errors


def _validate_containers(
    spec: Object, volumes: dict[str, Object], grace: int | None, restart_policy: str, path: str
) -> list[FieldError]:
    regular = spec.get("containers") or []
    if not regular:
        return [required(path)]
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, container in enumerate(regular):
        here = f"{path}[{index}]"
        errors += containers.validate_container_common(
            container, here, volumes=volumes, restart_policy=restart_policy
        )
        name = container.get("name") or ""
        if name in names:
            errors.append(duplicate(f"{here}.name", name))
        names.add(name)
        errors += _validate_probes_and_lifecycle(container, grace, here)
        if container.get("restartPolicy") is not None:
            errors.append(
                forbidden(f"{here}.restartPolicy", "may not be set for non-init containers")
            )
    return errors + containers.host_port_conflicts(regular, path)


def _validate_probes_and_lifecycle(
    container: Object, grace: int | None, path: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    if container.get("lifecycle") is not None:
        errors += containers.validate_lifecycle(container["lifecycle"], grace, f"{path}.lifecycle")
    for kind in ("liveness", "readiness", "startup"):
        key = f"{kind}Probe"
        errors += containers.validate_probe(container.get(key), grace, f"{path}.{key}", kind=kind)
    return errors


def _validate_init_containers(
    spec: Object, volumes: dict[str, Object], grace: int | None, restart_policy: str, path: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    names = {container.get("name") or "" for container in spec.get("containers") or []}
    for index, container in enumerate(spec.get("initContainers") or []):
        here = f"{path}[{index}]"
        errors += containers.validate_container_common(
            container, here, volumes=volumes, restart_policy=restart_policy
        )
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            errors.append(not_supported(f"{here}.restartPolicy", policy, ("Always",)))
        name = container.get("name") or ""
        if name in names:
            errors.append(duplicate(f"{here}.name", name))
        elif name:
            names.add(name)
        errors += containers.host_port_conflicts([container], path)
        if policy == "Always":
            errors += _validate_probes_and_lifecycle(container, grace, here)
        else:
            errors += [
                forbidden(
                    f"{here}.{key}",
                    "may not be set for init containers without restartPolicy=Always",
                )
                for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
                if container.get(key) is not None
            ]
        if container.get("resizePolicy"):
            errors.append(
                invalid(
                    f"{here}.resizePolicy",
                    container["resizePolicy"],
                    "must not be set for init containers",
                )
            )
    return errors


def _validate_ephemeral_containers(
    spec: Object, volumes: dict[str, Object], restart_policy: str, path: str
) -> list[FieldError]:
    ephemeral = spec.get("ephemeralContainers") or []
    if not ephemeral:
        return []
    errors: list[FieldError] = []
    others = {
        container.get("name") or ""
        for key in ("containers", "initContainers")
        for container in spec.get(key) or []
    }
    names = set(others)
    for index, container in enumerate(ephemeral):
        here = f"{path}[{index}]"
        errors += containers.validate_container_common(
            container, here, volumes=volumes, restart_policy=restart_policy
        )
        name = container.get("name") or ""
        if name in names:
            errors.append(duplicate(f"{here}.name", name))
        names.add(name)
        target = container.get("targetContainerName") or ""
        if target and target not in others:
            errors.append(not_found(f"{here}.targetContainerName", target))
        errors += [
            forbidden(f"{here}.{key}", "cannot be set for an Ephemeral Container")
            for key in _EPHEMERAL_FORBIDDEN
            if container.get(key)
        ]
    return errors


def validate_ephemeral_containers_update(new: Object, old: Object) -> list[FieldError]:
    """Through the ``ephemeralcontainers`` subresource ephemeral containers are only added:
    each is valid, and those the pod had stay, unchanged (upstream's
    ValidatePodEphemeralContainersUpdate)."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    volumes = {volume.get("name") or "": volume for volume in new_spec.get("volumes") or []}
    restart_policy = new_spec.get("restartPolicy", "Always")
    errors = _validate_ephemeral_containers(
        new_spec, volumes, restart_policy, "spec.ephemeralContainers"
    )
    now = {c.get("name"): c for c in new_spec.get("ephemeralContainers") or []}
    for container in old_spec.get("ephemeralContainers") or []:
        name = container.get("name")
        if name not in now:
            errors.append(
                forbidden(
                    "spec.ephemeralContainers",
                    f"existing ephemeral containers {go_quote(str(name))} may not be removed\n",
                )
            )
        elif _semantic(now[name]) != _semantic(container):
            errors.append(
                forbidden(
                    f"spec.ephemeralContainers[{name}]",
                    f"existing ephemeral containers {go_quote(str(name))} may not be changed\n",
                )
            )
    return errors


def _validate_host_network(spec: Object, path: str, *, is_pod: bool) -> list[FieldError]:
    """With hostNetwork, a hostPort must equal its containerPort (0 allowed in templates)."""
    if not spec.get("hostNetwork"):
        return []
    errors: list[FieldError] = []
    for index, container in enumerate(spec.get("containers") or []):
        for port_index, port in enumerate(container.get("ports") or []):
            container_port = port.get("containerPort") or 0
            # upstream's pod defaulting copies containerPort into an unset hostPort.
            host_port = port.get("hostPort", container_port if is_pod else 0) or 0
            if (is_pod or host_port) and host_port != container_port:
                errors.append(
                    invalid(
                        f"{path}.containers[{index}].ports[{port_index}].hostPort",
                        host_port,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
                )
    return errors


def _validate_dns_config(spec: Object, path: str) -> list[FieldError]:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [
                required(
                    f"{path}.nameservers",
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if config is None:
        return []
    errors: list[FieldError] = []
    nameservers = config.get("nameservers") or []
    if len(nameservers) > 3:
        errors.append(
            invalid(f"{path}.nameservers", nameservers, "must not have more than 3 nameservers")
        )
    for index, server in enumerate(nameservers):
        errors += syntax.is_valid_ip(f"{path}.nameservers[{index}]", server)
    searches = config.get("searches") or []
    if len(searches) > 32:
        errors.append(
            invalid(f"{path}.searches", searches, "must not have more than 32 search paths")
        )
    if len(" ".join(searches)) > 2048:
        errors.append(
            invalid(
                f"{path}.searches",
                searches,
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for index, search in enumerate(searches):
        search = search.removesuffix(".")
        errors += [
            invalid(f"{path}.searches[{index}]", search, m)
            for m in syntax.is_dns1123_subdomain(search)
        ]
    for index, option in enumerate(config.get("options") or []):
        if not option.get("name"):
            errors.append(required(f"{path}.options[{index}]", "must not be empty"))
    return errors


def _validate_readiness_gates(gates: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, gate in enumerate(gates):
        condition = gate.get("conditionType") or ""
        here = f"{path}[{index}].conditionType"
        errors += [invalid(here, condition, m) for m in syntax.is_qualified_name(condition)]
    return errors


def _validate_scheduling_gates(gates: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, gate in enumerate(gates):
        name = gate.get("name") or ""
        errors += [invalid(f"{path}[{index}]", name, m) for m in syntax.is_qualified_name(name)]
        if name in seen:
            errors.append(duplicate(f"{path}[{index}]", name))
        seen.add(name)
    return errors


def _validate_topology_spread(constraints: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    actions = ("DoNotSchedule", "ScheduleAnyway")
    for index, constraint in enumerate(constraints):
        here = f"{path}[{index}]"
        skew = constraint.get("maxSkew") or 0
        if skew <= 0:
            errors.append(invalid(f"{here}.maxSkew", skew, "must be greater than zero"))
        if not constraint.get("topologyKey"):
            errors.append(required(f"{here}.topologyKey", "can not be empty"))
        action = constraint.get("whenUnsatisfiable") or ""
        if action not in actions:
            errors.append(not_supported(f"{here}.whenUnsatisfiable", action, actions))
        later = constraints[index + 1 :]
        key = (constraint.get("topologyKey") or "", action)
        if any(
            (other.get("topologyKey") or "", other.get("whenUnsatisfiable") or "") == key
            for other in later
        ):
            errors.append(
                duplicate(f"{here}.{{topologyKey, whenUnsatisfiable}}", f"{{{key[0]}, {key[1]}}}")
            )
        errors += validate_label_selector(constraint.get("labelSelector"), f"{here}.labelSelector")
    return errors


def validate_tolerations(tolerations: list[Object], path: str) -> list[FieldError]:
    """upstream ValidateTolerations."""
    errors: list[FieldError] = []
    for index, toleration in enumerate(tolerations):
        here = f"{path}[{index}]"
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or ""
        value = toleration.get("value") or ""
        effect = toleration.get("effect") or ""
        if key:
            errors += validate_label_name(key, f"{here}.key")
        if not key and operator != "Exists":
            errors.append(
                invalid(
                    f"{here}.operator",
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errors.append(
                invalid(
                    f"{here}.effect",
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            messages = syntax.is_valid_label_value(value)
            if messages:
                errors.append(invalid(f"{here}.operator", value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                errors.append(
                    invalid(
                        f"{here}.operator", value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errors.append(not_supported(f"{here}.operator", operator, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            errors.append(not_supported(f"{here}.effect", effect, _TAINT_EFFECTS))
    return errors


def validate_taint_effect(effect: str, path: str) -> list[FieldError]:
    if not effect:
        return [required(path)]
    return [] if effect in _TAINT_EFFECTS else [not_supported(path, effect, _TAINT_EFFECTS)]


def _validate_host_aliases(aliases: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, alias in enumerate(aliases):
        errors += syntax.is_valid_ip(f"{path}[{index}].ip", alias.get("ip") or "")
        for host_index, hostname in enumerate(alias.get("hostnames") or []):
            here = f"{path}[{index}].hostnames[{host_index}]"
            errors += [invalid(here, hostname, m) for m in syntax.is_dns1123_subdomain(hostname)]
    return errors


def _validate_os(os: Object | None, path: str) -> list[FieldError]:
    if os is None:
        return []
    name = os.get("name") or ""
    if not name:
        return [required(f"{path}.name", "cannot be empty")]
    if name not in ("linux", "windows"):
        return [not_supported(path, name, ("linux", "windows"))]
    return []


def validate_pod_update(new: Object, old: Object) -> list[FieldError]:
    """upstream ValidatePodUpdate: only images, deadlines, added tolerations, removed gates."""
    errors = validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
    errors += _validate_pod_metadata_and_spec(new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        problems, stop = _validate_container_updates(
            new_spec.get(key) or [], old_spec.get(key) or [], f"spec.{key}"
        )
        errors += problems
        if stop:
            return errors
    deadline_errors = _validate_deadline_update(new_spec, old_spec)
    errors += deadline_errors
    if deadline_errors and new_spec.get("activeDeadlineSeconds") is not None:
        return errors
    errors += _validate_only_added_tolerations(
        new_spec.get("tolerations") or [], old_spec.get("tolerations") or [], "spec.tolerations"
    )
    errors += _validate_only_deleted_gates(
        new_spec.get("schedulingGates") or [], old_spec.get("schedulingGates") or []
    )
    munged = _munge_updatable_fields(new_spec, old_spec)
    if _semantic(munged) != _semantic(old_spec):
        errors.append(
            forbidden(
                "spec",
                f"pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n"
                + spec_diff(old_spec, munged),
            )
        )
    return errors


def _validate_container_updates(
    new: list[Object], old: list[Object], path: str
) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errors: list[FieldError] = []
    for index, container in enumerate(new):
        image = container.get("image") or ""
        if not image:
            errors.append(required(f"{path}[{index}].image"))
        if image != image.strip():
            errors.append(
                invalid(
                    f"{path}[{index}].image", image, "must not have leading or trailing whitespace"
                )
            )
    return errors, False


def _validate_deadline_update(new: Object, old: Object) -> list[FieldError]:
    """Only from unset to a value, or down to a smaller non-negative value."""
    path = "spec.activeDeadlineSeconds"
    new_deadline, old_deadline = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if new_deadline is None:
        if old_deadline is None:
            return []
        return [invalid(path, None, "must not update from a positive integer to nil value")]
    if not 0 <= new_deadline <= containers.MAX_INT32:
        return [invalid(path, new_deadline, syntax.inclusive_range_error(0, containers.MAX_INT32))]
    if old_deadline is not None and old_deadline < new_deadline:
        return [invalid(path, new_deadline, "must be less than or equal to previous value")]
    return []


def _validate_only_added_tolerations(
    new: list[Object], old: list[Object], path: str
) -> list[FieldError]:
    for existing in old:
        if not any(
            _semantic({**existing, "tolerationSeconds": candidate.get("tolerationSeconds")})
            == _semantic(candidate)
            for candidate in new
        ):
            return [
                forbidden(
                    path, "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return validate_tolerations(new, path)


def _validate_only_deleted_gates(new: list[Object], old: list[Object]) -> list[FieldError]:
    previous = {gate.get("name") for gate in old}
    return [
        forbidden(
            f"spec.schedulingGates[{index}].name",
            f"only deletion is allowed, but found new scheduling gate '{gate.get('name') or ''}'",
        )
        for index, gate in enumerate(new)
        if gate.get("name") not in previous
    ]


def _munge_updatable_fields(new: Object, old: Object) -> dict[str, Any]:
    """The new spec with every field an update may change set back to its old value."""
    munged = dict(new)
    for key in ("containers", "initContainers"):
        if new.get(key):
            munged[key] = [
                {**container, "image": previous.get("image")}
                for container, previous in zip(new[key], old.get(key) or [], strict=False)
            ]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations", "ephemeralContainers"):
        munged.pop(key, None)
        if key in old:
            munged[key] = old[key]
    old_grace = old.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _semantic(value: Any) -> Any:
    """upstream's Semantic equality for JSON values: empty and absent are the same.

    Quantities are compared by value only where the server stored them
    canonical already, so plain equality of their strings suffices.
    """
    if isinstance(value, Mapping):
        return {key: _semantic(item) for key, item in value.items() if item not in (None, [], {})}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def spec_diff(old: Object, new: Object) -> str:
    """A readable stand-in for upstream's cmp.Diff of the two pod specs.

    Upstream prints Go's struct diff (``core.PodSpec{ ... }`` with ``-``/``+``
    lines); this prints the changed top-level fields the same way, in JSON.
    """
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        before, after = _semantic(old.get(key)), _semantic(new.get(key))
        if before == after:
            continue
        if before is not None:
            lines.append(f"- \t{key}: {orjson.dumps(before).decode()},")
        if after is not None:
            lines.append(f"+ \t{key}: {orjson.dumps(after).decode()},")
    lines.append("  }")
    return "\n".join(lines) + "\n"
