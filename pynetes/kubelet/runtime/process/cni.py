"""Pod networking through CNI plugins, as the CNI specification (1.0) says.

A sandbox that does not share the host's network gets a network namespace of its own
(``ip netns add pyn-<id>``, so it is bound at ``/run/netns/pyn-<id>`` and outlives any
process), then the plugins of the network configuration run against it: ``loopback``
for ``lo`` and the configured network list (by default ``bridge`` with ``host-local``
IPAM over the node's podCIDR, then ``portmap`` for hostPorts) for ``eth0``. The ADD
result is kept by the caller (the sandbox record) and handed back for DEL, so DEL runs
the very configuration ADD ran, with each plugin's prevResult, in reverse order.

Plugins are executables in ``bin_dir`` run with ``CNI_COMMAND``, ``CNI_CONTAINERID``,
``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_PATH`` in their environment and the plugin's
configuration (with ``name``, ``cniVersion``, ``runtimeConfig`` for the capabilities it
declares, and ``prevResult``) on stdin; a non-zero exit is an error whose ``msg`` is on
stdout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
Object = dict[str, Any]

CNI_VERSION = "1.0.0"
#: Where ``ip netns add`` binds the namespaces; ours are named ``pyn-<sandbox id prefix>``.
NETNS_DIR = Path("/run/netns")
NETNS_PREFIX = "pyn-"
#: The plugins the default configuration uses (their absence means host networking).
REQUIRED_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
#: The file the kubelet writes when the configuration folder has none (containerd's name).
DEFAULT_CONFLIST = "10-pynetes.conflist"
LOOPBACK: Object = {"cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback"}


class CniError(Exception):
    """A plugin failed (its CNI error ``msg``) or a namespace could not be made."""


@dataclass(frozen=True)
class CniOptions:
    """Where the network configuration and the plugins are (containerd's ``conf_dir``
    and ``bin_dir``)."""

    conf_dir: Path
    bin_dir: Path = Path("/usr/lib/cni")
    #: The bridge of the default configuration (upstream's examples call it cni0).
    bridge: str = "cni0"
    #: The network name of the default configuration (host-local keeps its
    #: allocations in /var/lib/cni/networks/<name>).
    network: str = "pynetes"


def port_mapping(host_port: int, container_port: int, protocol: str, host_ip: str) -> Object:
    """A hostPort as portmap's ``portMappings`` capability takes it."""
    mapping: Object = {
        "hostPort": host_port,
        "containerPort": container_port,
        "protocol": protocol.lower(),
    }
    if host_ip:
        mapping["hostIP"] = host_ip
    return mapping


def default_conflist(pod_cidr: str, *, bridge: str = "cni0", network: str = "pynetes") -> Object:
    """The network list the kubelet writes for ``pod_cidr``: a bridge that is the pods'
    gateway (masquerading their traffic off the subnet, hairpin so a pod reaches itself
    through a Service), host-local addresses from the podCIDR, and portmap for hostPorts."""
    ipaddress.ip_network(pod_cidr)
    return {
        "cniVersion": CNI_VERSION,
        "name": network,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def write_default_conflist(options: CniOptions, pod_cidr: str) -> bool:
    """Writes the default configuration unless the folder has one; True when written."""
    if load_network(options.conf_dir) is not None:
        return False
    options.conf_dir.mkdir(parents=True, exist_ok=True)
    conflist = default_conflist(pod_cidr, bridge=options.bridge, network=options.network)
    path = options.conf_dir / DEFAULT_CONFLIST
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(conflist, indent=2))
    temporary.rename(path)
    return True


def load_network(conf_dir: Path) -> Object | None:
    """The first network configuration in ``conf_dir`` (by file name, as libcni), as a
    network list (a single ``.conf`` becomes a list of one); None when there is none."""
    try:
        names = sorted(os.listdir(conf_dir))
    except FileNotFoundError:
        return None
    for name in names:
        path = conf_dir / name
        if path.suffix not in (".conflist", ".conf", ".json"):
            continue
        config = json.loads(path.read_text())
        if "plugins" in config:
            return config
        plugin = {k: v for k, v in config.items() if k not in ("name", "cniVersion")}
        return {"cniVersion": config.get("cniVersion", CNI_VERSION), "name": config["name"],
                "plugins": [plugin]}  # fmt: skip
    return None


def unavailable(options: CniOptions) -> str | None:
    """Why pods cannot get a network namespace here (None when they can)."""
    if os.geteuid() != 0:
        return "the kubelet does not run as root (network namespaces need CAP_NET_ADMIN)"
    missing = [name for name in REQUIRED_PLUGINS if not (options.bin_dir / name).exists()]
    if missing:
        return f"CNI plugins missing in {options.bin_dir}: {', '.join(missing)}"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    return None


def netns_name(sandbox_id: str) -> str:
    return NETNS_PREFIX + sandbox_id[:16]


async def create_netns(name: str) -> str:
    """Makes the named network namespace (with ``lo``); returns its path."""
    await _run_ip("netns", "add", name)
    return str(NETNS_DIR / name)


async def delete_netns(name: str) -> None:
    """Removes the named network namespace; one already gone is no error."""
    if (NETNS_DIR / name).exists():
        await _run_ip("netns", "delete", name)


def existing_netns(name: str) -> str:
    """The path of the named namespace, or "" when it is gone (DEL still runs then)."""
    path = NETNS_DIR / name
    return str(path) if path.exists() else ""


async def remove_idle_bridge(name: str) -> bool:
    """Delete the bridge ``name`` (the default configuration's) when no pod is attached
    to it any more: the bridge plugin makes it and nothing else removes it. True if
    it was deleted."""
    if not await asyncio.to_thread(_is_idle_bridge, name):
        return False
    await _run_ip("link", "delete", name)
    return True


def _is_idle_bridge(name: str) -> bool:
    """Whether ``name`` is a bridge with no interface attached (from sysfs)."""
    device = Path("/sys/class/net", name)
    return (device / "bridge").exists() and not any((device / "brif").iterdir())


async def _run_ip(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise CniError(f"ip {' '.join(args)}: {stderr.decode(errors='replace').strip()}")


class CniPlugins:
    """Runs network configurations' plugins from ``bin_dir`` against a namespace."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir

    async def add(
        self,
        network: Object,
        container_id: str,
        netns: str,
        port_mappings: Sequence[Object] = (),
    ) -> Object:
        """Sets up ``lo`` and ``eth0`` in ``netns``; returns eth0's CNI result. On
        CniError the caller runs :meth:`delete` (the spec: a failed ADD is followed by
        a DEL), which undoes what the plugins did."""
        await self._invoke("ADD", LOOPBACK, container_id, netns, "lo")
        runtime = _runtime_config(port_mappings)
        result: Object = {}
        for plugin in network["plugins"]:
            config = _plugin_config(network, plugin, runtime, result or None)
            result = await self._invoke("ADD", config, container_id, netns, "eth0")
        return result

    async def delete(
        self,
        network: Object,
        container_id: str,
        netns: str,
        port_mappings: Sequence[Object] = (),
        result: Object | None = None,
    ) -> None:
        """DEL in reverse order (prevResult: the ADD result, as the spec asks); every
        plugin is run even when one fails (the first error is raised afterwards) so that
        no allocation stays behind. DEL of what does not exist succeeds (spec)."""
        runtime = _runtime_config(port_mappings)
        errors: list[CniError] = []
        invocations = [
            _plugin_config(network, plugin, runtime, result)
            for plugin in reversed(network["plugins"])
        ]
        for config in invocations:
            try:
                await self._invoke("DEL", config, container_id, netns, "eth0")
            except CniError as error:
                errors.append(error)
        try:
            await self._invoke("DEL", LOOPBACK, container_id, netns, "lo")
        except CniError as error:
            errors.append(error)
        if errors:
            raise errors[0]

    async def _invoke(
        self, command: str, config: Object, container_id: str, netns: str, ifname: str
    ) -> Object:
        plugin = self.bin_dir / config["type"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": netns,
            "CNI_IFNAME": ifname,
            "CNI_PATH": str(self.bin_dir),
        }
        try:
            process = await asyncio.create_subprocess_exec(
                str(plugin),
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise CniError(f"running CNI plugin {plugin}: {error}") from error
        stdout, stderr = await process.communicate(json.dumps(config).encode())
        if process.returncode != 0:
            message = _error_message(stdout, stderr)
            raise CniError(f"CNI plugin {config['type']} {command}: {message}")
        if command != "ADD":
            return {}
        try:
            return json.loads(stdout)
        except ValueError as error:
            message = f"CNI plugin {config['type']} ADD: bad result {stdout[:200]!r}"
            raise CniError(message) from error


def result_ip(result: Object) -> str:
    """The first IPv4 address of a CNI result (without its prefix length), else the first."""
    addresses = [ipaddress.ip_interface(ip["address"]).ip for ip in result.get("ips") or []]
    for address in addresses:
        if address.version == 4:
            return str(address)
    if not addresses:
        raise CniError("the CNI result has no IP address")
    return str(addresses[0])


def _runtime_config(port_mappings: Sequence[Object]) -> Object:
    return {"portMappings": list(port_mappings)}


def _plugin_config(
    network: Object, plugin: Mapping[str, Any], runtime: Object, previous: Object | None
) -> Object:
    """One plugin's stdin: its own keys, the list's name and version, the runtimeConfig
    entries of the capabilities it declares, and the previous plugin's result."""
    config: Object = {
        **plugin,
        "name": network["name"],
        "cniVersion": network.get("cniVersion", CNI_VERSION),
    }
    capabilities = plugin.get("capabilities") or {}
    wanted = {key: value for key, value in runtime.items() if capabilities.get(key)}
    if wanted:
        config["runtimeConfig"] = wanted
    if previous is not None:
        config["prevResult"] = previous
    return config


def _error_message(stdout: bytes, stderr: bytes) -> str:
    try:
        error = json.loads(stdout)
        message = error.get("msg", "")
        if error.get("details"):
            message += f" ({error['details']})"
        return message or stdout.decode(errors="replace")
    except ValueError:
        return (stdout + stderr).decode(errors="replace").strip()
