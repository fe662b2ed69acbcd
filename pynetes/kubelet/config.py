"""The kubelet's configuration file: ``KubeletConfiguration`` (``kubelet.config.k8s.io/v1beta1``).

Field names and defaults are upstream's (``pkg/kubelet/apis/config/v1beta1/defaults.go``)
for the fields pynetes acts on; fields it does not know are refused, as a strict
decode of the upstream file would refuse a typo. One deliberate difference:

- ``address`` defaults to ``127.0.0.1``, not upstream's ``0.0.0.0``: a pynetes kubelet
  listens beyond loopback only when its configuration asks for it.

``evictionHard`` replaces the whole default map when given (as upstream 1.31 does):
a threshold left out of it is not enforced.

Durations are Go durations (``1m``, ``20s``), quantities Kubernetes quantities
(``10Mi``). An invalid file raises :class:`ConfigError` whose message names the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from pynetes.api.duration import DurationError, parse_duration
from pynetes.api.quantity import QuantityError, parse_quantity

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"

#: Upstream's DefaultEvictionHard.
DEFAULT_EVICTION_HARD = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
    "imagefs.inodesFree": "5%",
}
#: The resources a capacity override may name.
CAPACITY_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")


class ConfigError(ValueError):
    """The configuration is invalid; the message starts with the field at fault."""


@dataclass(frozen=True)
class KubeletConfiguration:
    """The kubelet's settings, durations in seconds, quantities as strings checked to parse.

    Attribute names are the upstream fields in snake case; :func:`load_config`
    reads the camelCase file.
    """

    static_pod_path: str = ""
    sync_frequency: float = 60.0
    file_check_frequency: float = 20.0
    http_check_frequency: float = 20.0
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    node_lease_duration_seconds: int = 40
    max_pods: int = 110
    pod_cidr: str = ""
    eviction_hard: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    port: int = 10250
    address: str = "127.0.0.1"
    #: The kubelet's client-side rate limit towards the API server (upstream's defaults).
    kube_api_qps: int = 50
    kube_api_burst: int = 100
    #: Plain-HTTP ``/healthz`` for the local machine (0: off), as upstream.
    healthz_port: int = 10248
    healthz_bind_address: str = "127.0.0.1"
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    pod_logs_dir: str = "/var/log/pods"
    container_log_max_size: str = "10Mi"
    container_log_max_files: int = 5
    register_node: bool = True
    register_with_taints: tuple[Mapping[str, Any], ...] = ()
    system_reserved: Mapping[str, str] = field(default_factory=dict)
    kube_reserved: Mapping[str, str] = field(default_factory=dict)
    shutdown_grace_period: float = 0.0
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = ""
    #: pynetes only (simulation): resources that replace what is read from the host.
    capacity_overrides: Mapping[str, str] = field(default_factory=dict)

    def with_capacity(self, overrides: Mapping[str, str]) -> KubeletConfiguration:
        """This configuration with ``overrides`` on top of the capacity overrides it has."""
        return replace(self, capacity_overrides={**self.capacity_overrides, **overrides})


def _duration(value: Any, name: str) -> float:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a duration string such as 10s, got {value!r}")
    try:
        return parse_duration(value)
    except DurationError as error:
        raise ConfigError(f"{name}: {error}") from None


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    return value


def _port(value: Any, name: str) -> int:
    port = _integer(value, name)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}: {port} must be between 1 and 65535, inclusive")
    return port


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    return value


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return value


def _quantity(value: Any, name: str) -> str:
    text = _string(value, name)
    try:
        parse_quantity(text)
    except QuantityError as error:
        raise ConfigError(f"{name}: {error}") from None
    return text


def _quantities(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a map of resource to quantity, got {value!r}")
    return {
        _string(key, name): _quantity(amount, f"{name}[{key}]") for key, amount in value.items()
    }


def _thresholds(value: Any, name: str) -> dict[str, str]:
    """An eviction map: signal -> quantity or percentage."""
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a map of signal to threshold, got {value!r}")
    result = {}
    for signal, threshold in value.items():
        text = _string(threshold, f"{name}[{signal}]")
        if text.endswith("%"):
            try:
                percent = float(text[:-1])
            except ValueError:
                raise ConfigError(f"{name}[{signal}]: invalid percentage {text!r}") from None
            if not 0 <= percent <= 100:
                raise ConfigError(f"{name}[{signal}]: {text} is not between 0% and 100%")
        else:
            _quantity(text, f"{name}[{signal}]")
        result[_string(signal, name)] = text
    return result


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    return tuple(_string(item, f"{name}[{index}]") for index, item in enumerate(value))


def _taints(value: Any, name: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{name}: expected a list of taints, got {value!r}")
    taints = []
    for index, taint in enumerate(value):
        path = f"{name}[{index}]"
        if not isinstance(taint, dict) or not taint.get("key"):
            raise ConfigError(f"{path}.key: a taint needs a key")
        if taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ConfigError(
                f"{path}.effect: Unsupported value {taint.get('effect')!r}: "
                "supported values: NoExecute, NoSchedule, PreferNoSchedule"
            )
        taints.append(dict(taint))
    return tuple(taints)


Parser = Callable[[Any, str], Any]

#: camelCase field -> (attribute, parser).
_FIELDS: dict[str, tuple[str, Parser]] = {
    "staticPodPath": ("static_pod_path", _string),
    "syncFrequency": ("sync_frequency", _duration),
    "fileCheckFrequency": ("file_check_frequency", _duration),
    "httpCheckFrequency": ("http_check_frequency", _duration),
    "nodeStatusUpdateFrequency": ("node_status_update_frequency", _duration),
    "nodeStatusReportFrequency": ("node_status_report_frequency", _duration),
    "nodeLeaseDurationSeconds": ("node_lease_duration_seconds", _integer),
    "maxPods": ("max_pods", _integer),
    "podCIDR": ("pod_cidr", _string),
    "evictionHard": ("eviction_hard", _thresholds),
    "port": ("port", _port),
    "healthzPort": ("healthz_port", _integer),
    "kubeAPIQPS": ("kube_api_qps", _integer),
    "kubeAPIBurst": ("kube_api_burst", _integer),
    "healthzBindAddress": ("healthz_bind_address", _string),
    "address": ("address", _string),
    "tlsCertFile": ("tls_cert_file", _string),
    "tlsPrivateKeyFile": ("tls_private_key_file", _string),
    "podLogsDir": ("pod_logs_dir", _string),
    "containerLogMaxSize": ("container_log_max_size", _quantity),
    "containerLogMaxFiles": ("container_log_max_files", _integer),
    "registerNode": ("register_node", _boolean),
    "registerWithTaints": ("register_with_taints", _taints),
    "systemReserved": ("system_reserved", _quantities),
    "kubeReserved": ("kube_reserved", _quantities),
    "shutdownGracePeriod": ("shutdown_grace_period", _duration),
    "clusterDNS": ("cluster_dns", _strings),
    "clusterDomain": ("cluster_domain", _string),
}
#: Fields of ``authentication`` -> ``x509`` pynetes reads.
_X509_FIELDS = {"clientCAFile": "client_ca_file"}


def parse_config(document: Any) -> KubeletConfiguration:
    """The configuration a decoded file holds, defaults for what it leaves out.

    Raises :class:`ConfigError` naming the field: an unknown ``kind`` or
    ``apiVersion``, an unknown field, a value of the wrong type or syntax.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"the configuration must be a {KIND} object, got {document!r}")
    if document.get("apiVersion") != API_VERSION:
        raise ConfigError(f"apiVersion: must be {API_VERSION}, got {document.get('apiVersion')!r}")
    if document.get("kind") != KIND:
        raise ConfigError(f"kind: must be {KIND}, got {document.get('kind')!r}")
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "authentication":
            values.update(_authentication(value))
            continue
        if key not in _FIELDS:
            raise ConfigError(f"{key}: unknown field")
        if value is None:
            continue
        attribute, parser = _FIELDS[key]
        values[attribute] = parser(value, key)
    config = KubeletConfiguration(**values)
    _check(config)
    return config


def _authentication(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"authentication: expected an object, got {value!r}")
    unknown = set(value) - {"x509", "webhook", "anonymous"}
    if unknown:
        raise ConfigError(f"authentication.{sorted(unknown)[0]}: unknown field")
    x509 = value.get("x509") or {}
    if not isinstance(x509, dict):
        raise ConfigError(f"authentication.x509: expected an object, got {x509!r}")
    result = {}
    for key, item in x509.items():
        if key not in _X509_FIELDS:
            raise ConfigError(f"authentication.x509.{key}: unknown field")
        result[_X509_FIELDS[key]] = _string(item, f"authentication.x509.{key}")
    return result


def _check(config: KubeletConfiguration) -> None:
    """Upstream's ValidateKubeletConfiguration, for the fields pynetes reads."""
    for name in ("sync_frequency", "file_check_frequency", "http_check_frequency",
                 "node_status_update_frequency", "node_status_report_frequency"):  # fmt: skip
        if getattr(config, name) <= 0:
            raise ConfigError(f"{_camel(name)}: must be greater than zero")
    if config.node_lease_duration_seconds <= 0:
        raise ConfigError("nodeLeaseDurationSeconds: must be greater than zero")
    if not 0 <= config.healthz_port <= 65535:
        raise ConfigError("healthzPort: must be between 0 and 65535")
    if config.max_pods < 0:
        raise ConfigError("maxPods: must not be negative")
    if config.container_log_max_files < 2:
        raise ConfigError("containerLogMaxFiles: must be at least 2")


def _camel(attribute: str) -> str:
    for key, (name, _parser) in _FIELDS.items():
        if name == attribute:
            return key
    return attribute


def load_config(path: str | Path | None) -> KubeletConfiguration:
    """The configuration in the YAML or JSON file ``path``; the defaults for None."""
    if path is None:
        return KubeletConfiguration()
    text = Path(path).read_text()
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not valid YAML or JSON: {error}") from None
    return parse_config(document)


def parse_capacity(text: str) -> dict[str, str]:
    """``cpu=4,memory=8Gi,pods=110`` (the ``--capacity`` flag) as a resource map."""
    overrides: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, amount = item.partition("=")
        if not sep or name not in CAPACITY_RESOURCES:
            raise ConfigError(
                f"capacity: {item!r} is not RESOURCE=QUANTITY with RESOURCE one of "
                + ", ".join(CAPACITY_RESOURCES)
            )
        overrides[name] = _quantity(amount, f"capacity[{name}]")
    return overrides
