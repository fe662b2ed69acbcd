"""Assembling and running kube-apiserver: storage, registries, caches, TLS, HTTP.

:func:`start` is what ``pynetes apiserver`` runs and what the tests start
in process: it opens the store (SQLite in the data directory, or etcd),
makes an :class:`ObjectStore` with its watch cache per resource, creates the
system namespaces, starts serving custom resources, and listens with TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from pynetes.api import errors
from pynetes.api.defaults.core import NAMESPACE_NAME_LABEL
from pynetes.api.resources import Resource, ResourceRegistry
from pynetes.api.validation import semantic, structural
from pynetes.apiserver.admission import Admission
from pynetes.apiserver.auth.authentication import (
    BearerToken,
    ClientCertificate,
    FirstToken,
    StaticTokenFile,
    TokenAuthenticator,
    UnionAuthenticator,
)
from pynetes.apiserver.auth.authorization import AlwaysAllow
from pynetes.apiserver.auth.bootstraptoken import BootstrapTokens
from pynetes.apiserver.auth.serviceaccount import DEFAULT_ISSUER, ServiceAccountTokens, TokenIssuer
from pynetes.apiserver.componentstatus import COMPONENT_STATUSES, ComponentStatusApi
from pynetes.apiserver.componentstatus import probes as component_probes
from pynetes.apiserver.crds import CrdController
from pynetes.apiserver.decoding import ObjectDecoder
from pynetes.apiserver.handlers import ResourceApi
from pynetes.apiserver.health import HealthChecks
from pynetes.apiserver.kubelet import KUBELET_CLIENT_USER, KubeletClient
from pynetes.apiserver.kubelet import client_ssl_context as kubelet_client_ssl_context
from pynetes.apiserver.kubernetesservice import (
    RECONCILE_INTERVAL,
    ApiServerEndpoint,
    KubernetesService,
)
from pynetes.apiserver.metricsapi import NODE_METRICS, POD_METRICS, MetricsApi, Scraper
from pynetes.apiserver.quota import QuotaAdmission
from pynetes.apiserver.registry import ObjectStore
from pynetes.apiserver.reviews import REVIEWS, ReviewApi
from pynetes.apiserver.server import ApiServer, ComputedApi
from pynetes.apiserver.servicealloc.ranges import IPRange, PortRange
from pynetes.apiserver.servicealloc.repair import REPAIR_INTERVAL, AllocationRepair
from pynetes.apiserver.servicealloc.services import ServiceAllocator
from pynetes.apiserver.tokenrequest import TokenRequests
from pynetes.pki.certificates import (
    MASTERS_GROUP,
    Pki,
    ensure_pki,
    issue_client_certificate,
    write_atomically,
)
from pynetes.storage import StorageError, Store
from pynetes.storage.sqlite import SQLiteStore

log = logging.getLogger(__name__)

#: How long a stopping server tries to take itself out of the kubernetes Service.
RELEASE_TIMEOUT = 3.0

Object = dict[str, Any]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class ServerOptions:
    """kube-apiserver's flags, by their upstream names where they have one."""

    data_dir: Path
    secure_port: int = 6443
    bind_address: str = "127.0.0.1"
    storage: str = "sqlite"
    etcd_servers: list[str] = field(default_factory=list)
    token_auth_file: Path | None = None
    pki_dir: Path | None = None
    advertise_hosts: list[str] = field(default_factory=list)
    #: The client certificate the API server shows kubelets (default: one issued at start).
    kubelet_client_certificate: Path | None = None
    kubelet_client_key: Path | None = None
    #: Verify kubelets' serving certificates against this CA (default: not verified).
    kubelet_certificate_authority: Path | None = None
    #: Where Services' cluster IPs come from (IPv4 or IPv6, one family).
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    #: The address the ``kubernetes`` Endpoints name (default: the bind address,
    #: or 127.0.0.1 when binding every address).
    advertise_address: str | None = None
    #: Seconds between two reconciles of the ``kubernetes`` Service (upstream: 10).
    kubernetes_service_interval: float = RECONCILE_INTERVAL
    #: Seconds between two repairs of the Service address allocations (upstream: 180).
    allocation_repair_interval: float = REPAIR_INTERVAL
    #: The ``iss`` of the service account tokens this server issues and accepts.
    service_account_issuer: str = DEFAULT_ISSUER
    #: The audiences a token must name to authenticate here (default: the issuer).
    api_audiences: list[str] = field(default_factory=list)
    #: Accept bootstrap tokens (Secrets ``kube-system/bootstrap-token-<id>``) as bearer tokens.
    enable_bootstrap_token_auth: bool = False
    #: Where ComponentStatus probes the scheduler and the controller manager.
    scheduler_health_url: str = "http://127.0.0.1:10251/healthz"
    controller_manager_health_url: str = "http://127.0.0.1:10252/healthz"

    @property
    def audiences(self) -> list[str]:
        return self.api_audiences or [self.service_account_issuer]

    @property
    def pki_directory(self) -> Path:
        return self.pki_dir or self.data_dir / "pki"

    @property
    def advertised_address(self) -> str:
        if self.advertise_address:
            return self.advertise_address
        unspecified = ipaddress.ip_address(self.bind_address).is_unspecified
        return "127.0.0.1" if unspecified else self.bind_address


def validate(
    resource: Resource, new: Object, old: Object | None, subresource: str | None = None
) -> list[errors.FieldError]:
    """Every validation error of an object: required fields, then each kind's rules (a
    write through ``status`` by the kind's status rules)."""
    node = resource.schema_node()
    problems: list[errors.FieldError] = []
    if node is not None:
        problems = structural.missing_required(new, node)
    group, version, kind = resource.group, resource.version, resource.kind
    if old is None:
        found = semantic.validate_object(group, version, kind, new, namespaced=resource.namespaced)
    else:
        found = semantic.validate_update(
            group, version, kind, new, old, namespaced=resource.namespaced, subresource=subresource
        )
    seen = {(p.field, p.type) for p in problems}
    return problems + [p for p in found if (p.field, p.type) not in seen]


class CacheLookup:
    """Admission's reads, from the watch caches."""

    def __init__(self, stores: dict[Resource, ObjectStore], registry: ResourceRegistry) -> None:
        self._stores = stores
        self._registry = registry

    async def namespace(self, name: str) -> Object | None:
        return await self._find("", "v1", "namespaces", "", name)

    async def priority_class(self, name: str) -> Object | None:
        return await self._find("scheduling.k8s.io", "v1", "priorityclasses", "", name)

    async def object(self, plural: str, namespace: str, name: str) -> Object | None:
        """A core (``v1``) object by its resource's plural, None when absent."""
        return await self._find("", "v1", plural, namespace, name)

    async def _find(
        self, group: str, version: str, plural: str, namespace: str, name: str
    ) -> Object | None:
        resource = self._registry.lookup(group, version, plural)
        store = self._stores.get(resource) if resource is not None else None
        if store is None:
            return None
        await store.fresh_cache()
        found = store.cache.get(resource.storage_key(namespace, name))  # type: ignore[union-attr]
        return None if found is None else found.obj


@dataclass
class RunningServer:
    """A started API server: where it listens, and how to stop it."""

    url: str
    pki_dir: Path
    store: Store
    stores: dict[Resource, ObjectStore]
    runner: web.BaseRunner
    crds: CrdController
    api_server: ApiServer
    kubelet: KubeletClient
    kubernetes_service: KubernetesService
    #: Loops that run while the server does (allocation repair, the kubernetes Service).
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Close watches first (their streams end), then connections, then storage;
        from the start, /readyz says the server is shutting down."""
        self.api_server.health.stopping = True
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(StorageError, TimeoutError):
            async with asyncio.timeout(RELEASE_TIMEOUT):  # best effort: the store may be gone
                await self.kubernetes_service.release_lease()
        await self.crds.stop()
        await asyncio.gather(*(store.stop() for store in list(self.stores.values())))
        await self.runner.cleanup()
        await self.kubelet.close()
        await self.store.close()


async def open_storage(options: ServerOptions) -> Store:
    """The store ``options`` name. The etcd backend is imported only when chosen: its
    gRPC stack would cost every SQLite API server some 15 MB for nothing."""
    if options.storage == "etcd":
        if not options.etcd_servers:
            raise ValueError("--storage etcd needs --etcd-servers")
        from pynetes.storage.etcd import EtcdStore

        return await EtcdStore.open(options.etcd_servers)
    if options.storage != "sqlite":
        raise ValueError(f"unknown storage {options.storage!r}: sqlite or etcd")
    return await SQLiteStore.open(options.data_dir / "storage")


async def start(options: ServerOptions) -> RunningServer:
    """Start serving; returns once the API answers on ``options.secure_port``."""
    pki = await asyncio.to_thread(
        ensure_pki,
        options.pki_directory,
        hosts=options.advertise_hosts,
        ips=[options.bind_address],
        # The serving certificate covers the kubernetes Service's IP (pods' in-cluster URL).
        service_cidr=options.service_cluster_ip_range,
    )
    ip_range, port_range = service_ranges(options)
    store = await open_storage(options)
    registry = ResourceRegistry()
    stores: dict[Resource, ObjectStore] = {}
    allocator = ServiceAllocator(store, ip_range, port_range)
    services = registry.lookup("", "v1", "services")

    def make_store(resource: Resource) -> ObjectStore:
        hooks = allocator if resource == services else None
        return ObjectStore(resource, store, validate=validate, hooks=hooks)

    for resource in registry:
        stores[resource] = make_store(resource)
    await asyncio.gather(*(object_store.start() for object_store in stores.values()))
    quotas = registry.lookup("", "v1", "resourcequotas")
    kubelet = await _kubelet_client(options, pki, stores[registry.lookup("", "v1", "nodes")])  # type: ignore[index]
    lookup = CacheLookup(stores, registry)
    for computed in (NODE_METRICS, POD_METRICS, *REVIEWS, COMPONENT_STATUSES):
        registry.add(computed)
    issuer = TokenIssuer(pki.service_account_key.read_bytes(), options.service_account_issuer)
    api = ResourceApi(
        registry,
        stores,
        decoder=ObjectDecoder(),
        admission=Admission(
            lookup,
            QuotaAdmission(
                lambda: stores.get(quotas) if quotas else None, lambda: datetime.now(UTC)
            ),
        ),
        kubelet=kubelet,
        token_requests=TokenRequests(issuer, options.audiences),
    )
    await _settle_namespaces(stores, registry)
    repair = AllocationRepair(
        allocator,
        lambda: _stored_objects(stores[services]),  # type: ignore[index]
        interval=options.allocation_repair_interval,
    )
    await repair.run_once()
    authorizer = AlwaysAllow()
    tokens = _token_authenticator(options, pki, lookup)
    server = ApiServer(
        registry,
        api,
        authenticator=UnionAuthenticator(ClientCertificate(), BearerToken(tokens)),
        authorizer=authorizer,
        health=HealthChecks(store.current_revision),
        server_address=f"{options.bind_address}:{options.secure_port}",
        computed={
            **_computed_apis(
                ReviewApi(authorizer, tokens, options.audiences), kubelet, stores, registry
            ),
            COMPONENT_STATUSES: ComponentStatusApi(
                component_probes(
                    scheduler_url=options.scheduler_health_url,
                    controller_manager_url=options.controller_manager_health_url,
                    etcd_servers=options.etcd_servers if options.storage == "etcd" else [],
                    store_revision=store.current_revision,
                )
            ),
        },
    )
    crds = CrdController(
        stores[registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")],  # type: ignore[index]
        registry,
        stores,
        make_store,
        server.openapi.invalidate,
    )
    await crds.start()
    runner = web.ServerRunner(server.http_server(), handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(
        runner,
        options.bind_address,
        options.secure_port,
        ssl_context=pki.server_ssl_context(),
        backlog=1024,
    )
    await site.start()
    port = runner.addresses[0][1]
    host = options.bind_address if ":" not in options.bind_address else f"[{options.bind_address}]"
    kubernetes = _kubernetes_service(options, ip_range, port, store, stores, registry)
    await kubernetes.try_reconcile()
    background = [asyncio.create_task(repair.run()), asyncio.create_task(kubernetes.run())]
    return RunningServer(
        f"https://{host}:{port}",
        pki.directory,
        store,
        stores,
        runner,
        crds,
        server,
        kubelet,
        kubernetes,
        background,
    )


def _computed_apis(
    reviews: ReviewApi,
    kubelet: KubeletClient,
    stores: dict[Resource, ObjectStore],
    registry: ResourceRegistry,
) -> dict[Resource, ComputedApi]:
    """Who serves each resource that is computed when asked: the metrics of kubelets'
    usage, the reviews of the authorizer's decisions."""
    metrics = MetricsApi(
        Scraper(lambda node: kubelet.read(node, "/metrics/resource")),
        stores[registry.lookup("", "v1", "nodes")],  # type: ignore[index]
        stores[registry.lookup("", "v1", "pods")],  # type: ignore[index]
    )
    return {
        NODE_METRICS: metrics,
        POD_METRICS: metrics,
        **dict.fromkeys(REVIEWS, reviews),
    }


def service_ranges(options: ServerOptions) -> tuple[IPRange, PortRange]:
    """The two ranges of the flags; ValueError naming the flag for a bad one."""
    try:
        ip_range = IPRange.parse(options.service_cluster_ip_range)
    except ValueError as error:
        raise ValueError(f"--service-cluster-ip-range: {error}") from None
    try:
        port_range = PortRange.parse(options.service_node_port_range)
    except ValueError as error:
        raise ValueError(f"--service-node-port-range: {error}") from None
    return ip_range, port_range


async def _stored_objects(store: ObjectStore) -> list[Object]:
    """Every object of a resource as storage holds it now (not the cache: other servers write)."""
    page = await store.storage.list(store.resource.storage_prefix)
    return [store.decode(kv) for kv in page.items]


def _kubernetes_service(
    options: ServerOptions,
    ip_range: IPRange,
    port: int,
    store: Store,
    stores: dict[Resource, ObjectStore],
    registry: ResourceRegistry,
) -> KubernetesService:
    def of(group: str, version: str, plural: str) -> ObjectStore:
        return stores[registry.lookup(group, version, plural)]  # type: ignore[index]

    endpoint = ApiServerEndpoint(ip_range.value(0), options.advertised_address, port)
    return KubernetesService(
        endpoint,
        services=of("", "v1", "services"),
        endpoints=of("", "v1", "endpoints"),
        endpoint_slices=of("discovery.k8s.io", "v1", "endpointslices"),
        leases=store,
        interval=options.kubernetes_service_interval,
    )


async def _kubelet_client(options: ServerOptions, pki: Pki, nodes: ObjectStore) -> KubeletClient:
    """The kubelet client, with the given client certificate or one issued now.

    The issued one (CN ``kube-apiserver-kubelet-client``, O ``system:masters``,
    as kubeadm's ``apiserver-kubelet-client.crt``) is written to the PKI
    folder, so kubelets trusting the cluster CA accept it.
    """
    cert, key = options.kubelet_client_certificate, options.kubelet_client_key
    if cert is None or key is None:
        cert, key = await asyncio.to_thread(_issue_kubelet_client_certificate, pki)
    context = kubelet_client_ssl_context(cert, key, options.kubelet_certificate_authority)

    async def node(name: str) -> Object:
        return (await nodes.get("", name)).obj

    return KubeletClient(context, node)


def _issue_kubelet_client_certificate(pki: Pki) -> tuple[Path, Path]:
    pair = issue_client_certificate(pki.load_ca(), KUBELET_CLIENT_USER, [MASTERS_GROUP])
    cert = pki.directory / "apiserver-kubelet-client.crt"
    key = pki.directory / "apiserver-kubelet-client.key"
    write_atomically(key, pair.key_pem(), mode=0o600)
    write_atomically(cert, pair.certificate_pem(), mode=0o644)
    return cert, key


def _token_authenticator(options: ServerOptions, pki: Pki, lookup: CacheLookup) -> FirstToken:
    """Bearer tokens (after client certificates): the token file's, service accounts',
    and bootstrap tokens' when enabled (upstream's order)."""
    tokens: list[TokenAuthenticator] = []
    if options.token_auth_file is not None:
        tokens.append(StaticTokenFile.load(options.token_auth_file))
    tokens.append(
        ServiceAccountTokens(
            pki.service_account_public_key.read_bytes(),
            options.service_account_issuer,
            options.audiences,
            lookup.object,
            time.time,
        )
    )
    if options.enable_bootstrap_token_auth:
        tokens.append(BootstrapTokens(lookup.object, time.time))
    return FirstToken(*tokens)


async def _settle_namespaces(
    stores: dict[Resource, ObjectStore], registry: ResourceRegistry
) -> None:
    """Create the system namespaces that are missing, and give every stored namespace
    its name label: a data directory written before the server kept that label has
    namespaces without it (the store's canonicalisation adds it on an update)."""
    namespaces = stores[registry.lookup("", "v1", "namespaces")]  # type: ignore[index]
    for name in SYSTEM_NAMESPACES:
        if namespaces.cache.get(namespaces.resource.storage_key("", name)) is not None:
            continue
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}}
        try:
            await namespaces.create("", obj)
        except errors.ApiError as error:
            if error.code != 409:
                raise
    for cached in namespaces.cache.list(namespaces.key_prefix("")):
        metadata = cached.obj["metadata"]
        if NAMESPACE_NAME_LABEL not in (metadata.get("labels") or {}):
            await namespaces.update_with("", metadata["name"], lambda current: current)


def client_ssl_context(pki_dir: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """A client TLS context trusting the cluster CA, with a client certificate."""
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    context.load_cert_chain(cert, key)
    return context
