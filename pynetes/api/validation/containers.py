"""One container's fields: name, image, ports, env, mounts, resources, probes.

Upstream's ``validateContainerCommon`` and the helpers it calls, for the
containers of pods and of pod templates alike. Fields upstream always
defaults (a port's protocol, a probe's thresholds, the pull policy) are
judged by their default when absent, so a request gets the same answer
whether or not defaulting ran before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
)
from pynetes.api.quantity import Quantity, QuantityError, parse_json_quantity
from pynetes.api.validation import syntax
from pynetes.api.validation.metadata import NEGATIVE, name_is_dns_subdomain

Object = Mapping[str, Any]

PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_ENV_FIELD_PATH_WITH_KEY = ("metadata.annotations", "metadata.labels")
_CONTAINER_RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STANDARD_RESOURCES = {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
}
_INTEGER_RESOURCES = {
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
}
_HUGE_PAGES = "hugepages-"
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_HTTP_SCHEMES = ("HTTP", "HTTPS")
MAX_INT32 = 2**31 - 1


def validate_container_common(
    container: Object,
    path: str,
    *,
    volumes: Mapping[str, Object],
    restart_policy: str,
) -> list[FieldError]:
    """What every container kind shares (upstream validateContainerCommon)."""
    errors: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errors.append(required(f"{path}.name"))
    else:
        errors += [invalid(f"{path}.name", name, m) for m in syntax.is_dns1123_label(name)]
    if not container.get("image"):
        errors.append(required(f"{path}.image"))
    policy = container.get("terminationMessagePolicy", "File")
    if policy not in _TERMINATION_MESSAGE_POLICIES:
        errors.append(
            not_supported(f"{path}.terminationMessagePolicy", policy, _TERMINATION_MESSAGE_POLICIES)
        )
    mounts = container.get("volumeMounts") or []
    devices = container.get("volumeDevices") or []
    errors += validate_container_ports(container.get("ports") or [], f"{path}.ports")
    errors += validate_env(container.get("env") or [], f"{path}.env")
    errors += validate_env_from(container.get("envFrom") or [], f"{path}.envFrom")
    errors += validate_volume_mounts(mounts, devices, volumes, container, f"{path}.volumeMounts")
    errors += _validate_pull_policy(container, f"{path}.imagePullPolicy")
    errors += validate_resource_requirements(container.get("resources") or {}, f"{path}.resources")
    errors += _validate_resize_policy(
        container.get("resizePolicy") or [], f"{path}.resizePolicy", restart_policy
    )
    errors += validate_security_context(container.get("securityContext"), f"{path}.securityContext")
    return errors


def _validate_pull_policy(container: Object, path: str) -> list[FieldError]:
    policy = container.get("imagePullPolicy")
    if policy is None or policy in _PULL_POLICIES:
        return []
    if policy == "":
        return [required(path)]
    return [not_supported(path, policy, _PULL_POLICIES)]


def validate_container_ports(ports: list[Object], path: str) -> list[FieldError]:
    """Names are IANA service names, unique; ports in range; protocols known."""
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, port in enumerate(ports):
        here = f"{path}[{index}]"
        name = port.get("name") or ""
        if name:
            messages = syntax.is_valid_port_name(name)
            if messages:
                errors += [invalid(f"{here}.name", name, m) for m in messages]
            elif name in names:
                errors.append(duplicate(f"{here}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            errors.append(required(f"{here}.containerPort"))
        else:
            errors += [
                invalid(f"{here}.containerPort", container_port, m)
                for m in syntax.is_valid_port_num(container_port)
            ]
        host_port = port.get("hostPort") or 0
        if host_port:
            errors += [
                invalid(f"{here}.hostPort", host_port, m)
                for m in syntax.is_valid_port_num(host_port)
            ]
        protocol = port.get("protocol", "TCP")
        if not protocol:
            errors.append(required(f"{here}.protocol"))
        elif protocol not in PORT_PROTOCOLS:
            errors.append(not_supported(f"{here}.protocol", protocol, PORT_PROTOCOLS))
    return errors


def host_port_conflicts(containers: list[Object], path: str) -> list[FieldError]:
    """A (protocol, hostIP, hostPort) may be taken once (upstream checkHostPortConflicts)."""
    errors: list[FieldError] = []
    taken: set[str] = set()
    for index, container in enumerate(containers):
        for port_index, port in enumerate(container.get("ports") or []):
            host_port = port.get("hostPort") or 0
            if not host_port:
                continue
            key = f"{port.get('protocol', 'TCP')}/{port.get('hostIP') or ''}/{host_port}"
            if key in taken:
                errors.append(duplicate(f"{path}[{index}].ports[{port_index}].hostPort", key))
            taken.add(key)
    return errors


def validate_env(variables: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, variable in enumerate(variables):
        here = f"{path}[{index}]"
        name = variable.get("name") or ""
        if not name:
            errors.append(required(f"{here}.name"))
        else:
            errors += [invalid(f"{here}.name", name, m) for m in syntax.is_env_var_name(name)]
        errors += _validate_value_from(variable, f"{here}.valueFrom")
    return errors


def _validate_value_from(variable: Object, path: str) -> list[FieldError]:
    source = variable.get("valueFrom")
    if source is None:
        return []
    errors: list[FieldError] = []
    count = 0
    if source.get("fieldRef") is not None:
        count += 1
        errors += _validate_field_ref(source["fieldRef"], f"{path}.fieldRef")
    if source.get("resourceFieldRef") is not None:
        count += 1
        errors += _validate_resource_field_ref(
            source["resourceFieldRef"], f"{path}.resourceFieldRef"
        )
    for key in ("configMapKeyRef", "secretKeyRef"):
        if source.get(key) is not None:
            count += 1
            errors += _validate_key_selector(source[key], f"{path}.{key}")
    if count == 0:
        errors.append(
            invalid(
                path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                "or `secretKeyRef`",
            )
        )
    elif variable.get("value"):
        errors.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errors.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errors


def _validate_field_ref(selector: Object, path: str) -> list[FieldError]:
    if not selector.get("apiVersion", "v1"):
        return [required(f"{path}.apiVersion")]
    field_path = selector.get("fieldPath") or ""
    if not field_path:
        return [required(f"{path}.fieldPath")]
    if "[" in field_path and field_path.endswith("]"):
        base, _, subscript = field_path[:-1].partition("[")
        subscript = subscript.strip("'")
        if base == "metadata.annotations":
            return [
                invalid(path, subscript, m) for m in syntax.is_qualified_name(subscript.lower())
            ]
        if base == "metadata.labels":
            return [invalid(path, subscript, m) for m in syntax.is_qualified_name(subscript)]
        return [invalid(path, base, "does not support subscript")]
    if field_path not in _ENV_FIELD_PATHS:
        return [not_supported(f"{path}.fieldPath", field_path, _ENV_FIELD_PATHS)]
    return []


def _validate_resource_field_ref(selector: Object, path: str) -> list[FieldError]:
    resource = selector.get("resource") or ""
    if not resource:
        return [required(f"{path}.resource")]
    if resource in _CONTAINER_RESOURCE_FIELDS or resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        return []
    return [not_supported(f"{path}.resource", resource, _CONTAINER_RESOURCE_FIELDS)]


def _validate_key_selector(selector: Object, path: str) -> list[FieldError]:
    name = selector.get("name") or ""
    errors = [invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name, False)]
    key = selector.get("key") or ""
    if not key:
        errors.append(required(f"{path}.key"))
    else:
        errors += [invalid(f"{path}.key", key, m) for m in syntax.is_config_map_key(key)]
    return errors


def validate_env_from(sources: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, source in enumerate(sources):
        here = f"{path}[{index}]"
        prefix = source.get("prefix") or ""
        if prefix:
            errors += [invalid(f"{here}.prefix", prefix, m) for m in syntax.is_env_var_name(prefix)]
        count = 0
        for key in ("configMapRef", "secretRef"):
            reference = source.get(key)
            if reference is None:
                continue
            count += 1
            name = reference.get("name") or ""
            if not name:
                errors.append(required(f"{here}.{key}.name"))
            else:
                errors += [
                    invalid(f"{here}.{key}.name", name, m)
                    for m in name_is_dns_subdomain(name, True)
                ]
        if count == 0:
            errors.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errors.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errors


def validate_volume_mounts(
    mounts: list[Object],
    devices: list[Object],
    volumes: Mapping[str, Object],
    container: Object,
    path: str,
) -> list[FieldError]:
    """Mounts name an existing volume, at unique paths, without backsteps in subPath."""
    errors: list[FieldError] = []
    mount_paths: set[str] = set()
    device_paths = {device.get("name"): device.get("devicePath") for device in devices}
    for index, mount in enumerate(mounts):
        here = f"{path}[{index}]"
        name = mount.get("name") or ""
        mount_path = mount.get("mountPath") or ""
        if not name:
            errors.append(required(f"{here}.name"))
        if name not in volumes:
            errors.append(not_found(f"{here}.name", name))
        if not mount_path:
            errors.append(required(f"{here}.mountPath"))
        if mount_path in mount_paths:
            errors.append(invalid(f"{here}.mountPath", mount_path, "must be unique"))
        mount_paths.add(mount_path)
        if name in device_paths:
            errors.append(invalid(f"{here}.name", name, "must not already exist in volumeDevices"))
        if mount_path in device_paths.values():
            errors.append(
                invalid(
                    f"{here}.mountPath",
                    mount_path,
                    "must not already exist as a path in volumeDevices",
                )
            )
        sub_path = mount.get("subPath") or ""
        sub_path_expr = mount.get("subPathExpr") or ""
        if sub_path:
            errors += validate_local_descending_path(sub_path, f"{path}.subPath")
        if sub_path_expr:
            if sub_path:
                errors.append(
                    invalid(
                        f"{here}.subPathExpr",
                        sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            errors += validate_local_descending_path(sub_path_expr, f"{path}.subPathExpr")
        errors += _validate_mount_propagation(mount, container, f"{path}.mountPropagation")
    return errors


def _validate_mount_propagation(mount: Object, container: Object, path: str) -> list[FieldError]:
    propagation = mount.get("mountPropagation")
    if propagation is None:
        return []
    supported = ("Bidirectional", "HostToContainer", "None")
    if propagation not in supported:
        return [not_supported(path, propagation, supported)]
    privileged = (container.get("securityContext") or {}).get("privileged") is True
    if propagation == "Bidirectional" and not privileged:
        return [
            forbidden(
                path, "Bidirectional mount propagation is available only to privileged containers"
            )
        ]
    return []


def validate_local_descending_path(target: str, path: str) -> list[FieldError]:
    """Relative, without '..' elements (upstream validateLocalDescendingPath)."""
    errors: list[FieldError] = []
    if target.startswith("/"):
        errors.append(invalid(path, target, "must be a relative path"))
    return errors + validate_no_backsteps(target, path)


def validate_no_backsteps(target: str, path: str) -> list[FieldError]:
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def validate_resource_requirements(resources: Object, path: str) -> list[FieldError]:
    """Names, non-negative values, requests <= limits, limits for non-overcommitable resources."""
    errors: list[FieldError] = []
    limits_path, requests_path = f"{path}.limits", f"{path}.requests"
    limits = _quantities(resources.get("limits") or {}, limits_path, errors)
    requests = _quantities(resources.get("requests") or {}, requests_path, errors)
    compute = False
    huge_pages = False
    for name, quantity in limits.items():
        here = f"{limits_path}[{name}]"
        errors += validate_container_resource_name(name, here)
        errors += validate_resource_quantity_value(name, quantity, here)
        errors += _huge_page_value_errors(name, quantity, here)
        huge_pages = huge_pages or name.startswith(_HUGE_PAGES)
        compute = compute or name in ("cpu", "memory")
    for name, quantity in requests.items():
        here = f"{requests_path}[{name}]"
        errors += validate_container_resource_name(name, here)
        errors += validate_resource_quantity_value(name, quantity, here)
        errors += _request_against_limit(name, quantity, limits.get(name), path)
        errors += _huge_page_value_errors(name, quantity, here)
        huge_pages = huge_pages or name.startswith(_HUGE_PAGES)
        compute = compute or name in ("cpu", "memory")
    if huge_pages and not compute:
        errors.append(forbidden(path, "HugePages require cpu or memory"))
    return errors


def _quantities(
    values: Mapping[str, Any], path: str, errors: list[FieldError]
) -> dict[str, Quantity]:
    """Parsed quantities; a bad one is reported here (the decoder should have refused it)."""
    parsed: dict[str, Quantity] = {}
    for name, value in values.items():
        try:
            parsed[name] = parse_json_quantity(value)
        except QuantityError as error:
            errors.append(invalid(f"{path}[{name}]", value, str(error)))
    return parsed


def _request_against_limit(
    name: str, request: Quantity, limit: Quantity | None, path: str
) -> list[FieldError]:
    requests_path = f"{path}.requests"
    if limit is None:
        if is_overcommit_allowed(name):
            return []
        return [required(f"{path}.limits", "Limit must be set for non overcommitable resources")]
    if request != limit and not is_overcommit_allowed(name):
        return [invalid(requests_path, str(request), f"must be equal to {name} limit of {limit}")]
    if request > limit:
        return [
            invalid(
                requests_path,
                str(request),
                f"must be less than or equal to {name} limit of {limit}",
            )
        ]
    return []


def is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource(name: str) -> bool:
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return not syntax.is_qualified_name("requests." + name)


def is_overcommit_allowed(name: str) -> bool:
    return is_native_resource(name) and not name.startswith(_HUGE_PAGES)


def validate_resource_name(name: str, path: str) -> list[FieldError]:
    """A qualified name; unprefixed names must be standard resources."""
    errors = [invalid(path, name, m) for m in syntax.is_qualified_name(name)]
    if errors:
        return errors
    if "/" not in name and not (
        name in _STANDARD_RESOURCES or name.startswith((_HUGE_PAGES, "requests.hugepages-"))
    ):
        return [invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    errors = validate_resource_name(name, path)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith(_HUGE_PAGES):
            errors.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native_resource(name) and not is_extended_resource(name):
        errors.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errors


def validate_resource_quantity_value(name: str, quantity: Quantity, path: str) -> list[FieldError]:
    """Non-negative; whole numbers for countable and extended resources.

    Upstream prints the integer error's value as Go's dump of its Quantity
    struct; it is shown here as the quantity's text.
    """
    errors: list[FieldError] = []
    if quantity.amount < 0:
        errors.append(invalid(path, str(quantity), NEGATIVE))
    if (name in _INTEGER_RESOURCES or is_extended_resource(name)) and quantity.milli_value() % 1000:
        errors.append(invalid(path, str(quantity), "must be an integer"))
    return errors


def _huge_page_value_errors(name: str, quantity: Quantity, path: str) -> list[FieldError]:
    if not name.startswith(_HUGE_PAGES):
        return []
    try:
        page = parse_json_quantity(name.removeprefix(_HUGE_PAGES))
    except QuantityError:
        page = None
    if page is None or page.amount <= 0 or quantity.amount < 0 or quantity.value() % page.value():
        detail = f"{quantity} is not positive integer multiple of {name}"
        return [invalid(path, str(quantity), detail)]
    return []


def _validate_resize_policy(
    policies: list[Object], path: str, restart_policy: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, policy in enumerate(policies):
        resource = policy.get("resourceName") or ""
        if resource in seen:
            errors.append(duplicate(f"{path}[{index}]", resource))
        seen.add(resource)
        if not resource:
            errors.append(required(path))
        elif resource not in ("cpu", "memory"):
            errors.append(not_supported(path, resource, ("cpu", "memory")))
        restart = policy.get("restartPolicy") or ""
        if not restart:
            errors.append(required(path))
        elif restart not in ("NotRequired", "RestartContainer"):
            errors.append(not_supported(path, restart, ("NotRequired", "RestartContainer")))
        if restart_policy == "Never" and restart != "NotRequired":
            errors.append(
                invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'")
            )
    return errors


def validate_security_context(context: Object | None, path: str) -> list[FieldError]:
    """User and group IDs in range, known procMount and seccomp profile types."""
    if not context:
        return []
    errors: list[FieldError] = []
    for key in ("runAsUser", "runAsGroup"):
        value = context.get(key)
        if value is not None:
            errors += [
                invalid(f"{path}.{key}", value, m) for m in syntax.is_in_range(value, 0, MAX_INT32)
            ]
    proc_mount = context.get("procMount")
    if proc_mount is not None and proc_mount not in ("Default", "Unmasked"):
        errors.append(not_supported(f"{path}.procMount", proc_mount, ("Default", "Unmasked")))
    errors += validate_seccomp_profile(context.get("seccompProfile"), f"{path}.seccompProfile")
    return errors


def validate_seccomp_profile(profile: Object | None, path: str) -> list[FieldError]:
    if profile is None:
        return []
    kind = profile.get("type") or ""
    supported = ("Localhost", "RuntimeDefault", "Unconfined")
    errors: list[FieldError] = []
    if not kind:
        errors.append(required(f"{path}.type"))
    elif kind not in supported:
        errors.append(not_supported(f"{path}.type", kind, supported))
    localhost = profile.get("localhostProfile")
    if kind == "Localhost":
        if localhost is None:
            errors.append(
                required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost")
            )
        else:
            errors += validate_local_descending_path(localhost, f"{path}.localhostProfile")
    elif localhost is not None:
        errors.append(
            invalid(
                f"{path}.localhostProfile",
                dict(profile),
                "can only be set when seccomp type is Localhost",
            )
        )
    return errors


def validate_probe(
    probe: Object | None, grace_period: int | None, path: str, *, kind: str
) -> list[FieldError]:
    """A liveness, readiness or startup probe: one handler, sane timings."""
    if probe is None:
        return []
    errors = validate_handler(
        probe, grace_period, path, allowed=("exec", "httpGet", "tcpSocket", "grpc")
    )
    for key, default in (
        ("initialDelaySeconds", 0),
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        value = probe.get(key, default)
        if value < 0:
            errors.append(invalid(f"{path}.{key}", value, NEGATIVE))
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errors.append(
            invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    if kind in ("liveness", "startup") and probe.get("successThreshold", 1) != 1:
        errors.append(invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1"))
    if kind == "readiness" and grace is not None:
        errors.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds",
                grace,
                "must not be set for readinessProbes",
            )
        )
    return errors


def validate_lifecycle(lifecycle: Object, grace_period: int | None, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for hook in ("postStart", "preStop"):
        handler = lifecycle.get(hook)
        if handler is not None:
            errors += validate_handler(
                handler,
                grace_period,
                f"{path}.{hook}",
                allowed=("exec", "httpGet", "tcpSocket", "sleep"),
            )
    return errors


def validate_handler(
    handler: Object, grace_period: int | None, path: str, *, allowed: tuple[str, ...]
) -> list[FieldError]:
    """Exactly one action among ``allowed`` (upstream validateHandler)."""
    errors: list[FieldError] = []
    count = 0
    for kind in _HANDLERS:
        action = handler.get(kind)
        if kind not in allowed or action is None:
            continue
        if count:
            errors.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        errors += _validate_action(kind, action, grace_period, f"{path}.{kind}")
    if count == 0:
        errors.append(required(path, "must specify a handler type"))
    return errors


def _validate_action(
    kind: str, action: Object, grace_period: int | None, path: str
) -> list[FieldError]:
    if kind == "exec":
        return [] if action.get("command") else [required(f"{path}.command")]
    if kind == "httpGet":
        errors: list[FieldError] = []
        if not action.get("path", "/"):
            errors.append(required(f"{path}.path"))
        errors += validate_port_num_or_name(action.get("port"), f"{path}.port")
        scheme = action.get("scheme", "HTTP")
        if scheme not in _HTTP_SCHEMES:
            errors.append(not_supported(f"{path}.scheme", scheme, _HTTP_SCHEMES))
        for header in action.get("httpHeaders") or []:
            name = header.get("name") or ""
            errors += [
                invalid(f"{path}.httpHeaders", name, m) for m in syntax.is_http_header_name(name)
            ]
        return errors
    if kind in ("tcpSocket", "grpc"):
        return validate_port_num_or_name(action.get("port"), f"{path}.port")
    seconds = action.get("seconds") or 0
    if grace_period is not None and (seconds <= 0 or seconds > grace_period):
        detail = (
            f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace_period})"
        )
        return [invalid(path, seconds, detail)]
    return []


def validate_port_num_or_name(port: int | str | None, path: str) -> list[FieldError]:
    """An IntOrString port: a number in range, or an IANA service name."""
    if isinstance(port, str):
        return [invalid(path, port, m) for m in syntax.is_valid_port_name(port)]
    number = port or 0
    return [invalid(path, number, m) for m in syntax.is_valid_port_num(number)]
