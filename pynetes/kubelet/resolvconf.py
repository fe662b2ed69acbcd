"""A pod's resolv.conf, as the kubelet forms it (upstream pkg/kubelet/network/dns/dns.go).

The kubelet starts from the host's resolv.conf (its ``--resolv-conf``), then by
the pod's ``dnsPolicy``:

- ``ClusterFirst`` (the default; a pod on the host network falls back to
  ``Default``) and ``ClusterFirstWithHostNet``: the cluster DNS servers only,
  the search path ``<ns>.svc.<domain> svc.<domain> <domain>`` then the
  host's, and ``options ndots:5`` (the host's options dropped). Without
  cluster DNS servers it falls back to ``Default`` (upstream also records a
  ``MissingClusterDNS`` Warning: :attr:`PodDNS.warnings` says so).
- ``Default``: the host's servers, search path and options (with no host
  file: ``nameserver 127.0.0.1`` and ``search .``).
- ``None``: nothing but the pod's ``dnsConfig``.

The pod's ``dnsConfig`` is then appended (duplicates dropped, options of the
same name overridden) and the result cut to the limits the API validates:
3 nameservers, 32 search domains of at most 253 characters, 2048 characters
in all (each cut is a ``DNSConfigForming`` warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Upstream's limits (validation.MaxDNSNameservers, MaxDNSSearchPathsExpanded,
#: MaxDNSSearchListCharsExpanded, DNS1123SubdomainMaxLength).
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
MAX_SEARCH_LENGTH = 253
#: The options of a pod using the cluster DNS.
CLUSTER_OPTIONS = ("ndots:5",)


@dataclass(frozen=True)
class DNSConfig:
    """Nameservers, search domains and options (``name`` or ``name:value``)."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def render(self) -> str:
        """The resolv.conf text (search, nameserver and options lines, as containerd writes
        them; a line only when it has entries)."""
        lines = [f"search {' '.join(self.searches)}"] if self.searches else []
        lines += [f"nameserver {server}" for server in self.nameservers]
        if self.options:
            lines.append(f"options {' '.join(self.options)}")
        return "".join(f"{line}\n" for line in lines)


@dataclass(frozen=True)
class PodDNS:
    """A pod's DNS configuration and the Warnings (reason, message) forming it gave."""

    config: DNSConfig
    warnings: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def parse_resolv_conf(text: str) -> DNSConfig:
    """The host's resolv.conf: nameserver lines accumulate, the last search and options
    lines win, search domains lose a trailing dot, ``#`` lines are comments."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            nameservers.append(fields[1])
        elif fields[0] == "search":
            searches = [domain.removesuffix(".") for domain in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    return DNSConfig(tuple(nameservers), tuple(searches), tuple(options))


def pod_dns(
    pod: dict[str, Any],
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str,
    host: DNSConfig | None,
) -> PodDNS:
    """The DNS configuration of ``pod``; ``host`` is the parsed ``--resolv-conf`` (None
    when the kubelet has none)."""
    spec = pod.get("spec") or {}
    namespace = pod["metadata"].get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    warnings: list[tuple[str, str]] = []
    base = host or DNSConfig()
    cluster = policy == "ClusterFirstWithHostNet" or (
        policy == "ClusterFirst" and not spec.get("hostNetwork")
    )
    if policy == "None":
        config = DNSConfig()
    elif cluster and cluster_dns:
        config = DNSConfig(
            tuple(cluster_dns),
            _cluster_searches(namespace, cluster_domain, base.searches),
            CLUSTER_OPTIONS,
        )
    else:
        if cluster:
            warnings.append(
                (
                    "MissingClusterDNS",
                    "kubelet does not have ClusterDNS IP configured and cannot create Pod "
                    f'using "{policy}" policy. Falling back to "Default" policy.',
                )
            )
        config = base if host is not None else DNSConfig(("127.0.0.1",), (".",), base.options)
    extra = spec.get("dnsConfig")
    if extra:
        config = _append(config, extra)
    return _fit_limits(config, warnings)


def _cluster_searches(namespace: str, domain: str, host: Iterable[str]) -> tuple[str, ...]:
    if not domain:
        return tuple(host)
    return _unique([f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host])


def _append(config: DNSConfig, extra: dict[str, Any]) -> DNSConfig:
    """``config`` with a pod's ``dnsConfig`` added (upstream's appendDNSConfig)."""
    options: dict[str, str | None] = {}
    for option in config.options:
        name, sep, value = option.partition(":")
        options[name] = value if sep else None
    for option in extra.get("options") or []:
        options[option["name"]] = option.get("value")
    return DNSConfig(
        _unique([*config.nameservers, *(extra.get("nameservers") or [])]),
        _unique([*config.searches, *(extra.get("searches") or [])]),
        tuple(
            name if value in (None, "") else f"{name}:{value}" for name, value in options.items()
        ),
    )


def _fit_limits(config: DNSConfig, warnings: list[tuple[str, str]]) -> PodDNS:
    nameservers = config.nameservers
    if len(nameservers) > MAX_NAMESERVERS:
        nameservers = nameservers[:MAX_NAMESERVERS]
        warnings.append(
            (
                "DNSConfigForming",
                "Nameserver limits were exceeded, some nameservers have been omitted, "
                f"the applied nameserver line is: {' '.join(nameservers)}",
            )
        )
    searches = list(config.searches[:MAX_SEARCH_PATHS])
    exceeded = len(config.searches) > MAX_SEARCH_PATHS
    fitting = [domain for domain in searches if len(domain) <= MAX_SEARCH_LENGTH]
    exceeded = exceeded or len(fitting) != len(searches)
    while len(" ".join(fitting)) > MAX_SEARCH_CHARS:
        fitting.pop()
        exceeded = True
    if exceeded:
        warnings.append(
            (
                "DNSConfigForming",
                "Search Line limits were exceeded, some search paths have been omitted, "
                f"the applied search line is: {' '.join(fitting)}",
            )
        )
    fitted = DNSConfig(nameservers, tuple(fitting), config.options)
    return PodDNS(fitted, tuple(warnings))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """``values`` without repeats, in first-seen order (upstream's omitDuplicates)."""
    return tuple(dict.fromkeys(values))
