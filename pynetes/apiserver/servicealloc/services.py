"""What a Service write allocates and releases: upstream's ``Allocators`` (storage/alloc.go).

A create or update is bracketed: :meth:`ServiceAllocator.begin_create` and
:meth:`~ServiceAllocator.begin_update` allocate what the new Service needs
(filling ``clusterIP(s)``, ``ipFamilies``, ``ipFamilyPolicy``, ``nodePort``,
``healthCheckNodePort``) before the write, and return the function the
registry calls once the write is known to have happened or not: on success
what the old Service no longer uses is released, on failure what was just
allocated. A delete releases everything the Service held.

Allocation failures answer as upstream's: a value someone else holds or
outside the range is a 422 with the field's cause; a full range is a 500.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pynetes.api import errors, meta
from pynetes.api.errors import ApiError, FieldError
from pynetes.api.validation.services import cluster_ips, is_headless
from pynetes.apiserver.servicealloc.allocator import RangeAllocator, Refused
from pynetes.apiserver.servicealloc.ranges import IPRange, PortRange
from pynetes.apiserver.servicealloc.specs import (
    allocates_node_ports,
    needs_cluster_ip,
    needs_health_check_port,
    needs_node_ports,
    node_ports,
)
from pynetes.storage import StorageError, Store

log = logging.getLogger(__name__)

Object = dict[str, Any]
Spec = dict[str, Any]
#: Called once the write is decided: True if it was stored.
Finish = Callable[[bool], Awaitable[None]]

#: Where upstream keeps the two allocations in etcd.
CLUSTER_IPS_KEY = "/registry/ranges/serviceips"
NODE_PORTS_KEY = "/registry/ranges/servicenodeports"
_HEALTH_CHECK = -1  # the "port index" of a healthCheckNodePort request


@dataclass
class Transaction:
    """What one write allocated (undone if the write fails) and frees once it is stored."""

    allocator: ServiceAllocator
    dry_run: bool
    allocated_ips: list[str] = field(default_factory=list)
    allocated_ports: list[int] = field(default_factory=list)
    released_ips: list[str] = field(default_factory=list)
    released_ports: list[int] = field(default_factory=list)

    async def finish(self, stored: bool) -> None:
        """Free what the write left unused; a failure is logged and left to the repair loop
        (the write itself is decided: its answer must not turn into an error)."""
        if self.dry_run:
            return
        if stored:
            await self.allocator.release(self.released_ips, self.released_ports)
        else:
            await self.allocator.release(self.allocated_ips, self.allocated_ports)


class ServiceAllocator:
    """Cluster IPs from ``ip_range``, node ports from ``port_range``, shared through ``store``."""

    def __init__(self, store: Store, ip_range: IPRange, port_range: PortRange) -> None:
        self.ips: RangeAllocator[str] = RangeAllocator(store, CLUSTER_IPS_KEY, ip_range)
        self.ports: RangeAllocator[int] = RangeAllocator(store, NODE_PORTS_KEY, port_range)
        self.ip_range = ip_range

    # -- the registry's hooks ---------------------------------------------------

    async def begin_create(self, service: Object, *, dry_run: bool) -> Finish:
        spec = service.setdefault("spec", {})
        transaction = Transaction(self, dry_run)
        try:
            if needs_cluster_ip(spec):
                self._init_ip_families(service, None)
                transaction.allocated_ips = await self._allocate_ips(service, dry_run)
            transaction.allocated_ports = await self._allocate_ports(service, None, dry_run)
        except BaseException:
            await transaction.finish(False)
            raise
        return transaction.finish

    async def begin_update(self, new: Object, old: Object, *, dry_run: bool) -> Finish:
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        transaction = Transaction(self, dry_run)
        try:
            if needs_cluster_ip(spec):
                self._init_ip_families(new, old_spec)
                if not cluster_ips(old_spec) or not needs_cluster_ip(old_spec):
                    transaction.allocated_ips = await self._allocate_ips(new, dry_run)
            elif needs_cluster_ip(old_spec) and not is_headless(old_spec):
                transaction.released_ips = cluster_ips(old_spec)
            transaction.allocated_ports = await self._allocate_ports(new, old_spec, dry_run)
            transaction.released_ports = _ports_released(spec, old_spec)
        except BaseException:
            await transaction.finish(False)
            raise
        return transaction.finish

    async def after_delete(self, service: Object) -> None:
        """Release what a deleted Service held."""
        spec = service.get("spec") or {}
        ips = cluster_ips(spec) if needs_cluster_ip(spec) and not is_headless(spec) else []
        await self.release(ips, held_ports(spec))

    async def release(self, ips: list[str], ports: list[int]) -> None:
        """Free ``ips`` and ``ports``; a failure is logged and left to the repair loop."""
        try:
            if ips:
                await self.ips.release(ips)
            if ports:
                await self.ports.release(ports)
        except (ApiError, StorageError) as error:
            log.warning("releasing %s and %s (the repair loop will): %s", ips, ports, error)

    # -- cluster IPs ------------------------------------------------------------

    def _init_ip_families(self, service: Object, old: Spec | None) -> None:
        """``ipFamilyPolicy`` and ``ipFamilies`` as upstream's initIPFamilyFields fills them.

        This cluster has one family (the range's). A family it does not have
        is refused with upstream's messages.
        """
        spec = service["spec"]
        ours = self.ip_range.family
        other = "IPv6" if ours == "IPv4" else "IPv4"
        ips = cluster_ips(spec)
        selectorless_headless = is_headless(spec) and not spec.get("selector")
        if spec.get("ipFamilyPolicy") is None:
            if old is not None and old.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
            else:
                spec["ipFamilyPolicy"] = (
                    "RequireDualStack" if selectorless_headless else "SingleStack"
                )
        policy = spec["ipFamilyPolicy"]
        families = list(spec.get("ipFamilies") or [])
        problems: list[FieldError] = []
        if policy == "SingleStack" and len(ips) == 2:
            problems.append(
                errors.invalid(
                    "spec.ipFamilyPolicy",
                    policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs"
                    " are specified",
                )
            )
        for index, ip in enumerate(ips):
            if ip == "None":
                break
            family = _family_of(ip)
            if index < len(families):
                continue
            if family != ours:
                problems.append(
                    errors.invalid(
                        f"spec.clusterIPs[{index}]",
                        ips,
                        f"{family} is not configured on this cluster",
                    )
                )
            else:
                families.append(family)
        if problems:
            raise _invalid(service, problems)
        if selectorless_headless:
            families = families or [ours]
            if len(families) < 2 and policy != "SingleStack":
                families.append(other if families[0] == ours else ours)
            spec["ipFamilies"] = families
            return
        if policy == "RequireDualStack":
            problems.append(
                errors.invalid(
                    "spec.ipFamilyPolicy",
                    policy,
                    "this cluster is not configured for dual-stack services",
                )
            )
        problems += [
            errors.invalid(f"spec.ipFamilies[{index}]", family, "not configured on this cluster")
            for index, family in enumerate(families)
            if family != ours
        ]
        if problems:
            raise _invalid(service, problems)
        spec["ipFamilies"] = families or [ours]

    async def _allocate_ips(self, service: Object, dry_run: bool) -> list[str]:
        """The Service's cluster IP: the one it names, or a free one. Headless: none."""
        spec = service["spec"]
        ips = cluster_ips(spec)
        if ips[:1] == ["None"]:
            return []
        wanted = ips[0] if ips else None
        try:
            [ip] = await self.ips.reserve([wanted], dry_run=dry_run)
        except Refused as refused:
            if wanted is None:
                raise errors.internal_error(
                    f"failed to allocate a serviceIP: {refused.error}"
                ) from None
            message = f"failed to allocate IP {wanted}: {refused.error}"
            raise _invalid(service, [errors.invalid("spec.clusterIPs", ips, message)]) from None
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        return [] if dry_run else [ip]

    # -- node ports ---------------------------------------------------------------

    async def _allocate_ports(self, service: Object, old: Spec | None, dry_run: bool) -> list[int]:
        """NodePorts (and a healthCheckNodePort) the new Service needs and the old did not hold.

        As upstream: ports with the same port number share one nodePort; an
        explicit nodePort is taken as it is, an unset one filled when the type
        allocates them.
        """
        spec = service["spec"]
        held = set(held_ports(old)) if old is not None else set()
        requests: list[tuple[int, int | None]] = []  # (port index, wanted nodePort)
        followers: list[tuple[int, int]] = []  # (port index, the request it shares)
        if needs_node_ports(spec):
            _port_requests(spec, held if old is not None else set(), requests, followers)
        health = spec.get("healthCheckNodePort") or None
        if needs_health_check_port(spec) and not (old is not None and health in held):
            requests.append((_HEALTH_CHECK, health))
        if not requests:
            return []
        try:
            values = await self.ports.reserve([wanted for _, wanted in requests], dry_run=dry_run)
        except Refused as refused:
            raise _port_error(service, *requests[refused.index], refused) from None
        ports = spec.get("ports") or []
        for (index, _), value in zip(requests, values, strict=True):
            if index == _HEALTH_CHECK:
                spec["healthCheckNodePort"] = value
            else:
                ports[index]["nodePort"] = value
        for index, shared in followers:
            ports[index]["nodePort"] = values[shared]
        return [] if dry_run else values


def _port_requests(
    spec: Spec,
    held: set[int],
    requests: list[tuple[int, int | None]],
    followers: list[tuple[int, int]],
) -> None:
    """Fill ``requests`` and ``followers`` for the Service's ports (upstream initNodePorts)."""
    ports = spec.get("ports") or []
    allocate = allocates_node_ports(spec)
    by_number: dict[Any, int] = {}
    for index, port in enumerate(ports):
        node_port = port.get("nodePort") or 0
        if not node_port and not allocate:
            continue
        if node_port in held:
            continue  # the old Service's, kept
        number = port.get("port")
        shared = by_number.get(number)
        if shared is not None and node_port in (0, requests[shared][1]):
            followers.append((index, shared))
            continue
        if shared is None:
            node_port = node_port or next(
                (p["nodePort"] for p in ports if p.get("port") == number and p.get("nodePort")),
                0,
            )
            by_number[number] = len(requests)
        requests.append((index, node_port or None))


def _port_error(service: Object, index: int, wanted: int | None, refused: Refused) -> ApiError:
    if index == _HEALTH_CHECK:
        if wanted is None:
            return errors.internal_error(
                f"failed to allocate a HealthCheck NodePort 0: {refused.error}"
            )
        return errors.internal_error(
            f"failed to allocate requested HealthCheck NodePort {wanted}: {refused.error}"
        )
    if wanted is None:
        return errors.internal_error(f"failed to allocate a nodePort: {refused.error}")
    field_path = f"spec.ports[{index}].nodePort"
    return _invalid(service, [errors.invalid(field_path, wanted, str(refused.error))])


def held_ports(spec: Spec) -> list[int]:
    """The node ports a stored Service holds: its nodePorts and its healthCheckNodePort."""
    held = node_ports(spec)
    if needs_health_check_port(spec) and spec.get("healthCheckNodePort"):
        held.append(spec["healthCheckNodePort"])
    return held


def _ports_released(new: Spec, old: Spec) -> list[int]:
    """What the old Service held and the new one does not."""
    kept = set(held_ports(new))
    return [port for port in held_ports(old) if port not in kept]


def _family_of(ip: str) -> str:
    return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"


def _invalid(service: Object, problems: list[FieldError]) -> ApiError:
    return errors.invalid_object("", "Service", meta.name_of(service), problems)
