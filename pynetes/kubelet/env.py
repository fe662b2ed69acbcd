"""A container's environment, command and args, as upstream's kubelet makes them.

:func:`container_environment` follows makeEnvironmentVariables (kubelet_pods.go):

1. the Service variables (servicelinks.py) are computed first, as the lowest
   layer: they are only used for names nothing else sets;
2. ``envFrom`` sources, in order, each key optionally prefixed; keys that are
   not valid variable names are skipped with an ``InvalidEnvironmentVariableNames``
   Warning; later sources win;
3. ``env`` in declaration order: a ``value`` is ``$(VAR)``-expanded against
   what 2. and the earlier entries set, then the Service variables; a
   ``valueFrom`` is resolved (fieldRef, resourceFieldRef, configMapKeyRef,
   secretKeyRef); an entry wins over anything before it.

The result lists the variables of 2. and 3. (in the order they were first
set), then the Service variables nothing overrode. Upstream's order is a Go
map's (random); this one is stable, with the same precedence.

A missing ConfigMap, Secret or key that is not ``optional`` raises
:class:`ContainerConfigError` with upstream's message, which the kubelet shows as
the container's ``CreateContainerConfigError`` waiting message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from pynetes.api.validation.syntax import is_env_var_name
from pynetes.client.events import WARNING, EventRecorder
from pynetes.kubelet.downward import DownwardApiError, container_resource, metadata_field
from pynetes.kubelet.lookup import (
    ObjectLookup,
    ObjectLookupError,
    not_found_message,
    secret_data,
)
from pynetes.kubelet.servicelinks import service_environment

Object = dict[str, Any]

_OPERATOR = "$"


class ContainerConfigError(Exception):
    """The container's configuration cannot be made; ``str()`` is upstream's message."""

    reason = "CreateContainerConfigError"


def expand(text: str, env: Mapping[str, str]) -> str:
    """upstream expansion.Expand with a mapping that leaves unknown references as they are.

    ``$(NAME)`` becomes ``env[NAME]`` (or stays ``$(NAME)`` when unknown),
    ``$$`` becomes ``$``, and any other ``$`` (a trailing one, ``$x``, an
    unclosed ``$(``) is kept as written.
    """
    return _expand(text, lambda name: env.get(name, f"$({name})"))


def _expand(text: str, mapping: Callable[[str], str]) -> str:
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == _OPERATOR and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            advance = 1
            if following == _OPERATOR:
                out.append(_OPERATOR)
            elif following == "(" and (closer := text.find(")", cursor + 2)) != -1:
                out.append(mapping(text[cursor + 2 : closer]))
                advance = closer - cursor
            else:
                out.append(_OPERATOR + following)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def static_env(env: Iterable[Object] | None) -> dict[str, str]:
    """The container's ``env`` as a name -> value map (``valueFrom`` entries count as "").

    Upstream expands probe commands with these static values only
    (``ExpandContainerCommandOnlyStatic``): probes see no downward API.
    """
    return {item["name"]: item.get("value") or "" for item in env or ()}


def expand_command(
    container: Object, env: Iterable[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """upstream ExpandContainerCommandAndArgs: ``command`` and ``args`` with ``$(VAR)`` expanded."""
    variables = dict(env)
    command = [expand(part, variables) for part in container.get("command") or []]
    args = [expand(part, variables) for part in container.get("args") or []]
    return command, args


def expand_sub_path_expr(expression: str, env: Iterable[tuple[str, str]]) -> str:
    """upstream ExpandContainerVolumeMounts: a ``subPathExpr`` expanded with the container's env.

    Every reference must name a variable with a non-empty value, else
    :class:`ContainerConfigError` ``missing value for A, B``.
    """
    variables = dict(env)
    missing = set()

    def lookup(name: str) -> str:
        if not variables.get(name):
            missing.add(name)
        return variables.get(name, "")

    expanded = _expand(expression, lookup)
    if missing:
        raise ContainerConfigError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


def field_value(
    selector: Object,
    pod: Object,
    *,
    pod_ips: list[str],
    host_ips: list[str],
) -> str:
    """upstream podFieldSelectorRuntimeValue: a ``fieldRef`` of an environment variable."""
    path = _internal_field_path(selector)
    spec = pod.get("spec") or {}
    match path:
        case "spec.nodeName" | "spec.serviceAccountName":
            return spec.get(path.removeprefix("spec."), "")
        case "status.hostIP":
            return host_ips[0] if host_ips else ""
        case "status.hostIPs":
            return ",".join(host_ips)
        case "status.podIP":
            return pod_ips[0] if pod_ips else ""
        case "status.podIPs":
            return ",".join(pod_ips)
    try:
        return metadata_field(pod, path)
    except DownwardApiError as error:
        raise ContainerConfigError(str(error)) from error


#: The field paths upstream's ConvertDownwardAPIFieldLabel lets through (spec.host aside).
_FIELD_LABELS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
        "spec.terminationGracePeriodSeconds",
    }
)


def _internal_field_path(selector: Object) -> str:
    """upstream ConvertDownwardAPIFieldLabel: the field path, checked; ``spec.host`` renamed."""
    version = selector.get("apiVersion") or "v1"
    path = selector.get("fieldPath", "")
    if version != "v1":
        raise ContainerConfigError(f"unsupported pod version: {version}")
    if path.endswith("']") and "['" in path and not path.startswith("['"):
        if path.split("['", 1)[0] in ("metadata.annotations", "metadata.labels"):
            return path
        raise ContainerConfigError(f"field label does not support subscript: {path}")
    if path == "spec.host":
        return "spec.nodeName"
    if path not in _FIELD_LABELS:
        raise ContainerConfigError(f"field label not supported: {path}")
    return path


class _Sources:
    """The ConfigMaps and Secrets one environment reads, each fetched once."""

    def __init__(self, lookup: ObjectLookup, namespace: str) -> None:
        self._lookup = lookup
        self._namespace = namespace
        self._config_maps: dict[str, Object | None] = {}
        self._secrets: dict[str, Object | None] = {}

    async def config_map_data(self, name: str, optional: bool) -> dict[str, str] | None:
        """The ConfigMap's ``data``; None if it is missing and ``optional``."""
        if name not in self._config_maps:
            self._config_maps[name] = await _read(
                self._lookup.get_config_map, self._namespace, name
            )
        config_map = self._config_maps[name]
        if config_map is None:
            if optional:
                return None
            raise ContainerConfigError(not_found_message("configmap", name))
        return dict(config_map.get("data") or {})

    async def secret_data(self, name: str, optional: bool) -> dict[str, str] | None:
        """The Secret's ``data``, decoded; None if it is missing and ``optional``."""
        if name not in self._secrets:
            self._secrets[name] = await _read(self._lookup.get_secret, self._namespace, name)
        secret = self._secrets[name]
        if secret is None:
            if optional:
                return None
            raise ContainerConfigError(not_found_message("secret", name))
        return {
            key: value.decode("utf-8", "surrogateescape")
            for key, value in secret_data(secret).items()
        }


async def _read(
    get: Callable[[str, str], Awaitable[Object | None]], namespace: str, name: str
) -> Object | None:
    """One lookup; a failure to read becomes the container's configuration error."""
    try:
        return await get(namespace, name)
    except ObjectLookupError as error:
        raise ContainerConfigError(str(error)) from error


async def container_environment(
    pod: Object,
    container: Object,
    *,
    lookup: ObjectLookup,
    services: Iterable[Object],
    pod_ip: str,
    host_ip: str,
    node_name: str,
    pod_ips: Iterable[str] = (),
    host_ips: Iterable[str] = (),
    node_allocatable: Mapping[str, Any] | None = None,
    recorder: EventRecorder | None = None,
) -> list[tuple[str, str]]:
    """The container's environment variables, as (name, value) pairs (see the module doc).

    ``pod_ips``/``host_ips`` default to the single ``pod_ip``/``host_ip``;
    ``node_allocatable`` (resource name -> quantity) stands in for unset
    limits; ``node_name`` stands in for an unset ``spec.nodeName`` (static
    pods). ``recorder`` receives the Warning about skipped ``envFrom`` keys.
    """
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        pod = {**pod, "spec": {**spec, "nodeName": node_name}}
    links = spec.get("enableServiceLinks") is not False
    service_env = service_environment(services, namespace, enable_service_links=links)
    sources = _Sources(lookup, namespace)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        await _add_env_from(env, source, sources, pod, recorder)
    ips = (list(pod_ips) or [pod_ip], list(host_ips) or [host_ip])
    for variable in container.get("env") or []:
        value = await _resolve(
            variable, env, service_env, sources, pod, container, ips, node_allocatable or {}
        )
        if value is not None:
            env[variable["name"]] = value
    return list(env.items()) + [(k, v) for k, v in service_env.items() if k not in env]


async def _add_env_from(
    env: dict[str, str],
    source: Object,
    sources: _Sources,
    pod: Object,
    recorder: EventRecorder | None,
) -> None:
    """Add one ``envFrom`` source's keys to ``env``, skipping invalid names as upstream."""
    if reference := source.get("configMapRef"):
        kind, fetch = "configMap", sources.config_map_data
    elif reference := source.get("secretRef"):
        kind, fetch = "secret", sources.secret_data
    else:
        return
    data = await fetch(reference.get("name", ""), bool(reference.get("optional")))
    invalid = []
    for key, value in (data or {}).items():
        name = source.get("prefix", "") + key
        if is_env_var_name(name):
            invalid.append(name)
        else:
            env[name] = value
    if invalid and recorder is not None:
        recorder.event(
            pod,
            WARNING,
            "InvalidEnvironmentVariableNames",
            f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind} "
            f"{pod['metadata'].get('namespace')}/{reference.get('name')} were skipped "
            "since they are considered invalid environment variable names.",
        )


async def _resolve(
    variable: Object,
    env: Mapping[str, str],
    service_env: Mapping[str, str],
    sources: _Sources,
    pod: Object,
    container: Object,
    ips: tuple[list[str], list[str]],
    node_allocatable: Mapping[str, Any],
) -> str | None:
    """One ``env`` entry's value; None for an optional reference to nothing."""
    value = variable.get("value") or ""
    source = variable.get("valueFrom")
    if value or not source:
        return _expand(value, lambda name: env.get(name, service_env.get(name, f"$({name})")))
    namespace = pod["metadata"].get("namespace")
    if selector := source.get("fieldRef"):
        return field_value(selector, pod, pod_ips=ips[0], host_ips=ips[1])
    if selector := source.get("resourceFieldRef"):
        try:
            return container_resource(selector, pod, container, node_allocatable)
        except DownwardApiError as error:
            raise ContainerConfigError(str(error)) from error
    for field, kind, fetch in (
        ("configMapKeyRef", "ConfigMap", sources.config_map_data),
        ("secretKeyRef", "Secret", sources.secret_data),
    ):
        if reference := source.get(field):
            optional = bool(reference.get("optional"))
            name, key = reference.get("name", ""), reference.get("key", "")
            data = await fetch(name, optional)
            if data is None:
                return None
            if key not in data:
                if optional:
                    return None
                raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
            return data[key]
    return ""


class ContainerEnvironment:
    """What the pod sync asks for a container: its environment and expanded argv.

    ``services`` gives the Services the kubelet currently knows (its informer),
    for the Service variables; ``node_allocatable`` stands in for unset limits.
    """

    def __init__(
        self,
        lookup: ObjectLookup,
        services: Callable[[], Iterable[Object]],
        *,
        node_name: str,
        host_ip: str,
        node_allocatable: Mapping[str, Any] | None = None,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._lookup = lookup
        self._services = services
        self._node_name = node_name
        self._host_ip = host_ip
        self._allocatable = node_allocatable
        self._recorder = recorder

    async def resolve(
        self, pod: Object, container: Object, pod_ip: str
    ) -> tuple[list[tuple[str, str]], list[str], list[str]]:
        env = await container_environment(
            pod,
            container,
            lookup=self._lookup,
            services=self._services(),
            pod_ip=pod_ip,
            host_ip=self._host_ip,
            node_name=self._node_name,
            node_allocatable=self._allocatable,
            recorder=self._recorder,
        )
        command, args = expand_command(container, env)
        return env, command, args
