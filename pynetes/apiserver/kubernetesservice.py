"""The ``kubernetes`` Service in ``default``, kept pointing at the API servers.

upstream's kubernetesservice controller with its ``lease`` endpoint
reconciler: the Service (the first address of the service range, port 443
``https`` to the secure port), its Endpoints and its EndpointSlice are
created when missing and put right when changed, at start and then every
:data:`RECONCILE_INTERVAL` seconds, so a deleted one comes back.

Each API server keeps a lease on its advertise address in the store
(``/registry/masterleases/<address>``, expiring after :data:`LEASE_TTL`
seconds unless renewed), and the Endpoints list the addresses of every live
lease, so several API servers on one etcd agree on them; as upstream's,
they assume one secure port for all.

The Endpoints and EndpointSlice are the API server's own objects: written
without validation, since the advertise address may be a loopback one
(127.0.0.1 when kube-proxy runs unprivileged on the same machine), which
user-written Endpoints may not hold. The Endpoints carry
``endpointslice.kubernetes.io/skip-mirror`` so that no controller mirrors
them into a second slice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pynetes.api import errors
from pynetes.apiserver.registry import ObjectStore
from pynetes.storage import KeyExistsError, KeyNotFoundError, Store

log = logging.getLogger(__name__)

Object = dict[str, Any]
NAME = "kubernetes"
NAMESPACE = "default"
#: upstream's endpoint reconcile interval.
RECONCILE_INTERVAL = 10.0
SERVICE_LABELS = {"component": "apiserver", "provider": "kubernetes"}
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
LEASES_PREFIX = "/registry/masterleases/"
#: upstream's DefaultEndpointReconcilerTTL.
LEASE_TTL = 15.0


@dataclass(frozen=True)
class ApiServerEndpoint:
    """Where the ``kubernetes`` Service leads: its cluster IP, and this server's address."""

    cluster_ip: str
    address: str
    port: int


class KubernetesService:
    """Creates and repairs ``default/kubernetes`` (Service, Endpoints, EndpointSlice)."""

    def __init__(
        self,
        endpoint: ApiServerEndpoint,
        *,
        services: ObjectStore,
        endpoints: ObjectStore,
        endpoint_slices: ObjectStore,
        leases: Store,
        interval: float = RECONCILE_INTERVAL,
    ) -> None:
        self._endpoint = endpoint
        self._leases = leases
        self._services = services
        self._endpoints = endpoints
        self._slices = endpoint_slices
        self._interval = interval

    async def run(self) -> None:
        """Reconcile every interval until cancelled; a failed reconcile is logged."""
        while True:
            await asyncio.sleep(self._interval)
            await self.try_reconcile()

    async def try_reconcile(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            log.exception("reconciling the kubernetes Service")

    async def reconcile(self) -> None:
        await self._ensure(self._services, self._service(), _service_differs, trusted=False)
        addresses = await self._renew_lease()
        await self._ensure(self._endpoints, self._endpoints_object(addresses), _differs("subsets"))
        await self._ensure(
            self._slices, self._slice(addresses), _differs("addressType", "endpoints", "ports")
        )

    async def _renew_lease(self) -> list[str]:
        """Renew this server's lease; the addresses of every live lease, sorted."""
        own = self._endpoint.address
        key = LEASES_PREFIX + own
        value = orjson.dumps({"address": own})
        try:
            await self._leases.update(key, value, ttl=LEASE_TTL)
        except KeyNotFoundError:
            try:
                await self._leases.create(key, value, ttl=LEASE_TTL)
            except KeyExistsError:
                await self._leases.update(key, value, ttl=LEASE_TTL)
        page = await self._leases.list(LEASES_PREFIX)
        live = {orjson.loads(kv.value).get("address") for kv in page.items}
        return sorted({own, *(address for address in live if isinstance(address, str))})

    async def release_lease(self) -> None:
        """Give up this server's lease (at shutdown): the others drop its address."""
        with contextlib.suppress(KeyNotFoundError):
            await self._leases.delete(LEASES_PREFIX + self._endpoint.address)

    async def _ensure(
        self,
        store: ObjectStore,
        desired: Object,
        differs: Callable[[Object, Object], bool],
        *,
        trusted: bool = True,
    ) -> None:
        try:
            current = (await store.get(NAMESPACE, NAME)).obj
        except errors.ApiError as error:
            if error.code != 404:
                raise
            try:
                await store.create(NAMESPACE, desired, trusted=trusted)
            except errors.ApiError as conflict:
                if conflict.code != 409:
                    raise
            return
        if not differs(current, desired):
            return

        def fix(obj: Object) -> Object:
            metadata = obj.setdefault("metadata", {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **desired["metadata"]["labels"]}
            for key, value in desired.items():
                if key == "spec":
                    obj["spec"] = {**(obj.get("spec") or {}), **value}
                elif key not in ("metadata", "apiVersion", "kind"):
                    obj[key] = value
            return obj

        await store.update_with(NAMESPACE, NAME, fix, trusted=trusted)

    def _service(self) -> Object:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(SERVICE_LABELS)},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": self._endpoint.cluster_ip,
                "clusterIPs": [self._endpoint.cluster_ip],
                "ports": [
                    {
                        "name": "https",
                        "port": 443,
                        "protocol": "TCP",
                        "targetPort": self._endpoint.port,
                    }
                ],
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
            },
        }

    def _endpoints_object(self, addresses: list[str]) -> Object:
        return {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {SKIP_MIRROR_LABEL: "true"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": address} for address in addresses],
                    "ports": [{"name": "https", "port": self._endpoint.port, "protocol": "TCP"}],
                }
            ],
        }

    def _slice(self, addresses: list[str]) -> Object:
        family = "IPv6" if ":" in self._endpoint.address else "IPv4"
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {SERVICE_NAME_LABEL: NAME},
            },
            "addressType": family,
            "endpoints": [
                {"addresses": [address], "conditions": {"ready": True}} for address in addresses
            ],
            "ports": [{"name": "https", "port": self._endpoint.port, "protocol": "TCP"}],
        }


def _service_differs(current: Object, desired: Object) -> bool:
    """upstream checks only the ports and the type of an existing ``kubernetes`` Service."""
    spec, wanted = current.get("spec") or {}, desired["spec"]
    return spec.get("type") != wanted["type"] or spec.get("ports") != wanted["ports"]


def _differs(*keys: str) -> Callable[[Object, Object], bool]:
    def differs(current: Object, desired: Object) -> bool:
        labels = (current.get("metadata") or {}).get("labels") or {}
        wanted = desired["metadata"]["labels"]
        if any(labels.get(key) != value for key, value in wanted.items()):
            return True
        return any(current.get(key) != desired[key] for key in keys)

    return differs
