"""Services end to end (root): a Deployment of 3 HTTP servers behind a Service, reached by
ClusterIP, by NodePort and by DNS name from another pod, through each proxy mode.

The whole cluster runs on this machine: the API server (service range SERVICE_RANGE,
made local by the proxy), controllers, scheduler and a kubelet with pod networking (its
pods in namespaces on the test's bridge), ``pynetes proxy`` as a process, and the
cluster DNS in this process listening on the bridge's gateway address behind the
``kube-dns`` Service. Every connection goes to 127.0.0.1, to a service address made
local, or into the pods' namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pynetes.api.resources import built_in
from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.cluster import addons
from pynetes.dns import names
from pynetes.dns.answer import Answerer
from pynetes.dns.metrics import DnsMetrics
from pynetes.dns.server import DnsServer
from pynetes.dns.sources import StoreSync
from pynetes.dns.store import RecordStore
from pynetes.kubelet.agent import KubeletAgent
from pynetes.kubelet.runtime.process.cni import CniOptions
from tests.integration.components import GUARD, environment, pynetes
from tests.integration.conftest import Cluster, api_server, free_port
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.kubelet.agent import PODS, phase_is, pod, running_kubelet, wait_for_pod
from tests.integration.kubelet.test_pod_network import SUBNET
from tests.integration.test_scheduler import running as running_scheduler

Object = dict[str, Any]
DEPLOYMENTS = built_in("apps", "v1", "deployments")
SERVICES = built_in("", "v1", "services")
SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
SERVICE_RANGE = "10.251.0.0/16"
DNS_SERVICE_IP = "10.251.0.10"
GATEWAY = SUBNET.replace("0/24", "1")
PORT = 8080
#: An HTTP server answering its pod's name; unready while READY_GATE/<name> exists; on
#: SIGTERM it goes on serving for 3 s (a graceful app), then exits.
SERVER = """
import http.server, os, signal, sys, threading
name = os.environ["HOSTNAME"]
gate = os.path.join(sys.argv[1], name)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if self.path == "/ready" and os.path.exists(gate) else 200
        body = name.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Timer(3, os._exit, [0]).start())
server.serve_forever()
"""
#: Run in the client pod: N requests to argv[1], printing who answered (or "failed").
CLIENT = """
import sys, urllib.request
for _ in range(int(sys.argv[2])):
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
    except Exception as error:
        print("failed", error)
"""


def deployment(gates: Path) -> Object:
    labels = {"app": "web"}
    container = {
        "name": "web",
        "image": "python:3",
        "command": [sys.executable, "-c", SERVER, str(gates)],
        "ports": [{"containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": PORT}, "periodSeconds": 1},
    }
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
            },
        },
    }


def service(name: str, **spec: Any) -> Object:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


@contextlib.asynccontextmanager
async def proxy_process(cluster: Cluster, mode: str, log: Path) -> AsyncIterator[None]:
    """``pynetes proxy`` in ``mode`` until the block ends, then its ``--cleanup``."""
    common = ["--mode", mode, "--service-cluster-ip-range", SERVICE_RANGE]
    if mode == "iptables":
        common += ["--cluster-cidr", SUBNET, "--masquerade-all"]
    health = free_port()
    flags = [
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--hostname-override",
        "node-1",
        "--nodeport-addresses",
        "127.0.0.1/32",
        "--healthz-bind-address",
        f"127.0.0.1:{health}",
        "--metrics-bind-address",
        f"127.0.0.1:{free_port()}",
        "--min-sync-period",
        "100ms",
    ]
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *pynetes("proxy", *common, *flags), stdout=output, stderr=output, env=environment()
        )
    try:
        await _healthy(health, process)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GUARD):
                await process.wait()
        cleanup = await asyncio.create_subprocess_exec(
            *pynetes("proxy", *common, "--cleanup"), env=environment()
        )
        await cleanup.wait()


async def _healthy(port: int, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(GUARD), aiohttp.ClientSession() as session:
        while process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("the proxy exited")


@contextlib.asynccontextmanager
async def cluster_dns(api: ApiClient) -> AsyncIterator[None]:
    """The cluster DNS on the bridge's gateway (port 1053) behind ``kube-dns`` at
    DNS_SERVICE_IP:53, as CoreDNS is deployed (here as a selectorless Service)."""
    zone = names.zone("cluster.local")
    store = RecordStore()
    informers = SharedInformerFactory(api)
    StoreSync(informers, store, zone, "insecure")
    server = DnsServer(Answerer(store, zone), DnsMetrics(f"dns://{GATEWAY}:1053"))
    await server.start(GATEWAY, 1053)
    informers.start()
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    await api.create(
        SERVICES,
        service(
            "kube-dns", clusterIP=DNS_SERVICE_IP, ports=[{**p, "targetPort": 1053} for p in ports]
        ),
    )
    await api.create(
        SLICES,
        {
            "metadata": {
                "name": "kube-dns-manual",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [GATEWAY], "conditions": {"ready": True}}],
            "ports": [{"name": "dns", "port": 1053, "protocol": "UDP"}],
        },
    )
    try:
        await informers.wait_for_cache_sync()
        yield
    finally:
        await server.stop()
        await informers.shutdown()


async def answers_from_host(url: str, count: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                    seen[await response.text()] += 1
            except (aiohttp.ClientError, TimeoutError):
                seen["failed"] += 1
    return seen


async def answers_from_pod(
    agent: KubeletAgent, client: Object, url: str, count: int
) -> Counter[str]:
    container_id = client["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    result = await agent.runtime.exec_sync(
        container_id, [sys.executable, "-c", CLIENT, url, str(count)], 60
    )
    assert result.exit_code == 0, result.stderr
    return Counter(line.split()[0] for line in result.stdout.decode().splitlines())


async def web_pods(api: ApiClient) -> list[str]:
    listed = await api.list(PODS, namespace="default", label_selector="app=web")
    return sorted(
        p["metadata"]["name"]
        for p in listed["items"]
        if p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["userspace", "iptables"])
async def test_a_service_reaches_its_pods_by_cluster_ip_node_port_and_dns_name(
    tmp_path: Path, network: CniOptions, mode: str
):
    gates = tmp_path / "unready"
    gates.mkdir()
    async with (
        api_server(tmp_path / "api", service_cluster_ip_range=SERVICE_RANGE) as cluster,
        ApiClient(dataclasses.replace(load_config(cluster.kubeconfig), qps=0)) as api,
        running_controllers(api, "deployment", "replicaset", "endpointslice"),
        running_scheduler(api),
        running_kubelet(
            cluster, api, tmp_path, cni=network, pod_cidr=SUBNET, cluster_dns=(DNS_SERVICE_IP,)
        ) as agent,
        proxy_process(cluster, mode, tmp_path / "proxy.log"),
    ):
        await api.create(DEPLOYMENTS, deployment(gates))
        web = await api.create(
            SERVICES,
            service(
                "web",
                type="NodePort",
                selector={"app": "web"},
                ports=[{"port": 80, "targetPort": PORT}],
            ),
        )
        cluster_ip = web["spec"]["clusterIP"]
        node_port = web["spec"]["ports"][0]["nodePort"]

        async def three_ready() -> list[str]:
            pods = await web_pods(api)
            return pods if len(pods) == 3 else []

        pods = await eventually(three_ready)
        await api.create(
            PODS, pod("client", {"name": "c", "image": "busybox", "command": ["sleep", "3600"]})
        )
        client = await wait_for_pod(api, "client", phase_is("Running"))

        async with cluster_dns(api):

            async def all_reached(fetch) -> Counter[str]:
                async def reached() -> Counter[str] | None:
                    seen = await fetch()
                    return seen if set(seen) == set(pods) else None

                return await eventually(reached)

            by_ip = await all_reached(lambda: answers_from_host(f"http://{cluster_ip}/", 30))
            by_port = await all_reached(
                lambda: answers_from_host(f"http://127.0.0.1:{node_port}/", 30)
            )
            by_name = await all_reached(
                lambda: answers_from_pod(agent, client, "http://web.default.svc.cluster.local/", 30)
            )
            assert sum(by_ip.values()) == sum(by_port.values()) == sum(by_name.values()) == 30

            # A pod whose readiness probe fails leaves the rotation.
            (gates / pods[0]).touch()

            async def without_unready() -> Counter[str] | None:
                seen = await answers_from_host(f"http://{cluster_ip}/", 20)
                return seen if set(seen) == set(pods[1:]) else None

            await eventually(without_unready)
            (gates / pods[0]).unlink()
            await all_reached(lambda: answers_from_host(f"http://{cluster_ip}/", 30))

            # A deleted pod stops getting requests, and none fails meanwhile.
            during = asyncio.create_task(answers_from_host(f"http://{cluster_ip}/", 200))
            await api.delete(PODS, pods[1], namespace="default")
            seen = await during
            assert seen["failed"] == 0, seen
            after = await answers_from_host(f"http://{cluster_ip}/", 30)
            assert pods[1] not in after and after["failed"] == 0


#: Run in the client pod: the address argv[1] resolves to (through /etc/resolv.conf).
RESOLVE = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"


@pytest.mark.slow
async def test_the_dns_add_on_runs_as_a_pod_reading_the_api_with_its_service_account(
    tmp_path: Path, network: CniOptions
):
    async with (
        api_server(tmp_path / "api", service_cluster_ip_range=SERVICE_RANGE) as cluster,
        ApiClient(dataclasses.replace(load_config(cluster.kubeconfig), qps=0)) as api,
        running_controllers(
            api,
            "deployment",
            "replicaset",
            "endpointslice",
            "serviceaccount",
            "root-ca-cert-publisher",
        ),  # fmt: skip
        running_scheduler(api),
        running_kubelet(
            cluster, api, tmp_path, cni=network, pod_cidr=SUBNET, cluster_dns=(DNS_SERVICE_IP,)
        ) as agent,
        proxy_process(cluster, "userspace", tmp_path / "proxy.log"),
    ):
        await addons.apply(api, addons.cluster_dns(DNS_SERVICE_IP))

        async def dns_ready() -> bool:
            listed = await api.list(
                PODS, namespace="kube-system", label_selector="k8s-app=kube-dns"
            )
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for p in listed["items"]
                for c in (p.get("status") or {}).get("conditions") or ()
            )

        await eventually(dns_ready)
        db = await api.create(SERVICES, service("db", ports=[{"port": 5432}]))
        sleeper = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
        await api.create(PODS, pod("client", sleeper))
        client = await wait_for_pod(api, "client", phase_is("Running"))
        container_id = client["status"]["containerStatuses"][0]["containerID"].split("://")[1]

        async def resolved() -> str | None:
            result = await agent.runtime.exec_sync(
                container_id, [sys.executable, "-c", RESOLVE, "db.default.svc.cluster.local"], 10
            )
            return result.stdout.decode().strip() if result.exit_code == 0 else None

        assert await eventually(resolved) == db["spec"]["clusterIP"]
