"""`pynetes init` and `pynetes join` as a user runs them on three machines: here three
network namespaces on one test bridge, each the "host" of one node.

The test network is closed: a bridge on this machine (10.250.9.1/24) and a veth into
it from each node's namespace (10.250.9.2, .3, .4); the namespaces have no default
route, only the bridge's subnet, so nothing the nodes or their pods send can leave the
machine. The nodes' pod and service ranges (10.246.0.0/16, 10.112.0.0/16) are used by
no other test. kubectl runs on this machine with the control plane's admin kubeconfig.

pynetes has no network plugin that routes pod ranges between nodes: for pods on
different nodes to reach each other, the test adds what one would (a route to each
node's podCIDR through that node's address, in the other nodes' namespaces).

Each node runs under ``ip netns exec``, which gives it a mount namespace of its own:
the kubelet's pod network namespaces are bound there (the files show in this
machine's /run/netns, the mounts do not), and /sys is that of the node's network, so
the kubelets find no cgroups and do not enforce resource limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from pathlib import Path

from tests.conftest import require, require_tool
from tests.e2e.processes import command_lines
from tests.integration.conftest import Kubectl

STARTUP_TIMEOUT = 90.0
BRIDGE = "pyn-join0"
BRIDGE_ADDRESS = "10.250.9.1"
SUBNET_PREFIX = 24
#: Node name -> (its network namespace, the host side of its veth, its address).
#: Not ``pyn-*`` namespaces: that prefix is the kubelet's own for pod sandboxes.
NODES = {
    "node-a": ("join-node-a", "pynj-a", "10.250.9.2"),
    "node-b": ("join-node-b", "pynj-b", "10.250.9.3"),
    "node-c": ("join-node-c", "pynj-c", "10.250.9.4"),
}
POD_NETWORK_CIDR = "10.246.0.0/16"
SERVICE_CIDR = "10.112.0.0/16"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
POD_NETNS = re.compile(r"\bpyn-[0-9a-f]{16}\b")
JOIN_LINE = re.compile(r"^\s*(pynetes join --server \S+ --token \S+ --ca-cert-hash \S+)\s*$")


def require_root() -> None:
    require(os.geteuid() == 0, "root (network namespaces, iptables)")
    require_tool("iptables")
    require_tool("ip")
    require(Path("/usr/lib/cni/bridge").exists(), "the CNI plugins in /usr/lib/cni")


def ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, check=check)


@contextmanager
def closed_network() -> Iterator[None]:
    """The bridge and the nodes' namespaces (no default route in them); removed after,
    also when the set-up itself fails half-way, and before, should a run killed half-way
    have left them."""
    remove_network()
    try:
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{BRIDGE_ADDRESS}/{SUBNET_PREFIX}", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        for namespace, veth, address in NODES.values():
            ip("netns", "add", namespace)
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            ip("link", "set", veth, "master", BRIDGE, "up")
            ip("-n", namespace, "addr", "add", f"{address}/{SUBNET_PREFIX}", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            ip("-n", namespace, "link", "set", "lo", "up")
            routes = ip("-n", namespace, "route", "show", "default").stdout
            assert routes == "", f"{namespace} must have no default route: {routes}"
        yield
    finally:
        remove_network()


def remove_network() -> None:
    for namespace, veth, _ in NODES.values():
        ip("link", "delete", veth, check=False)
        ip("netns", "delete", namespace, check=False)
    ip("link", "delete", BRIDGE, check=False)


@dataclass
class NodeProcess:
    """``pynetes init`` or ``join`` running in a node's namespace, and what it said."""

    name: str
    data_dir: Path
    process: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)

    @property
    def said(self) -> str:
        return "".join(self.output)

    async def read_until(self, done: str) -> None:
        """Collect its output until a line contains ``done``."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                while not self.output or done not in self.output[-1]:
                    line = await self.process.stdout.readline()
                    assert line, f"{self.name} exited early:\n{self.said}"
                    self.output.append(line.decode())
        except TimeoutError:
            raise AssertionError(f"{self.name} did not say {done!r}:\n{self.said}") from None

    async def stop(self) -> bool:
        """SIGTERM, then the rest of its output until it exits; False when it did not
        stop within a minute and was killed (what it started may be left running)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(60):
                self.output.append((await self.process.stdout.read()).decode())
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return False
        return True


async def start_in(node: str, data_dir: Path, *arguments: str) -> NodeProcess:
    namespace, _, address = NODES[node]
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace,
        sys.executable, "-m", "pynetes", *arguments,
        "--data-dir", str(data_dir), "--node-name", node, "--node-ip", address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    return NodeProcess(node, data_dir, process)


@dataclass
class Cluster:
    control_plane: NodeProcess
    #: ``join --server ... --token ... --ca-cert-hash ...`` as init printed it.
    join: list[str]
    nodes: list[NodeProcess]

    @property
    def kubectl(self) -> Kubectl:
        """The real kubectl, on this machine, with the control plane's admin kubeconfig."""
        return Kubectl("/usr/bin/kubectl", self.control_plane.data_dir / "kubeconfig")

    async def until(self, *arguments: str, expect: str) -> str:
        """Run kubectl until it succeeds with output containing ``expect``."""
        out = ""
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                while True:
                    code, out, err = await self.kubectl(*arguments, check=False)
                    if code == 0 and expect in out:
                        return out
                    out += err
                    await asyncio.sleep(0.3)
        except TimeoutError:
            raise AssertionError(
                f"kubectl {' '.join(arguments)}: no {expect!r} in\n{out}"
            ) from None

    async def join_node(self, node: str) -> NodeProcess:
        joining = await start_in(node, self.control_plane.data_dir.parent / node, *self.join)
        self.nodes.append(joining)
        return joining


@asynccontextmanager
async def initialized(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The test network and ``pynetes init`` on node-a; on the way out every node
    process is stopped (SIGTERM) and the network removed, and nothing may be left."""
    with closed_network():
        control_plane = await start_in(
            "node-a", tmp_path / "node-a", "init",
            "--pod-network-cidr", POD_NETWORK_CIDR, "--service-cidr", SERVICE_CIDR,
            "--no-merge-kubeconfig",
        )  # fmt: skip
        cluster = Cluster(control_plane, join=[], nodes=[control_plane])
        try:
            await control_plane.read_until("pynetes join --server")
            found = JOIN_LINE.match(control_plane.output[-1])
            assert found, control_plane.said
            cluster.join = found.group(1).split()[1:]
            yield cluster
        finally:
            pod_netns = pod_namespaces(tmp_path)
            # workers first: their kubelets tear their pods down through the API server
            stuck = [node.name for node in reversed(cluster.nodes) if not await node.stop()]
    assert not stuck, f"killed after a minute of SIGTERM: {stuck}"
    assert pod_netns, "coredns, at least, had a network namespace of its own"
    assert leftovers(tmp_path, pod_netns) == ([], [], []), "after the nodes stopped"
    assert allocated_pod_ips() == []


def leftovers(tmp_path: Path, pod_netns: set[str]) -> tuple[list[str], list[str], list[str]]:
    """Test namespaces and links still there, those of ``pod_netns`` still there, and
    processes naming a folder under ``tmp_path`` (the nodes' data folders)."""
    namespaces = sorted({namespace for namespace, _, _ in NODES.values()} & existing_netns())
    links = [name for name in (BRIDGE, *(veth for _, veth, _ in NODES.values()))
             if ip("link", "show", name, check=False).returncode == 0]  # fmt: skip
    processes = [argv for _, argv in command_lines() if str(tmp_path) in argv]
    return namespaces + links, sorted(pod_netns & existing_netns()), processes


def allocated_pod_ips() -> list[str]:
    """Addresses of the test's pod range that host-local still holds: it keeps them as
    files in /var/lib/cni/networks/<network>, shared by every kubelet on the machine."""
    folder = Path("/var/lib/cni/networks/pynetes")
    held = []
    for path in folder.iterdir() if folder.exists() else ():
        with contextlib.suppress(ValueError):
            if ip_address(path.name) in ip_network(POD_NETWORK_CIDR):
                held.append(path.name)
    return sorted(held)


def pod_namespaces(folder: Path) -> set[str]:
    """The pod network namespaces (``pyn-<id>``) named in the sandbox records under
    ``folder`` (which go when the pods go: look while they run)."""
    named: set[str] = set()
    for record in folder.rglob("*.json"):
        try:
            named.update(POD_NETNS.findall(record.read_text(errors="replace")))
        except OSError:
            continue
    return named


def existing_netns() -> set[str]:
    """The named network namespaces on this machine (their files in /run/netns)."""
    netns = Path("/run/netns")
    return {path.name for path in netns.iterdir()} if netns.exists() else set()


HELLO = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: hello}
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: python:3
        env:
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        command: [python3, -c]
        args:
        - |
          import http.server, os
          greeting = f"hello from {os.environ['NODE']}"
          class Hello(http.server.BaseHTTPRequestHandler):
              def do_GET(self):
                  self.send_response(200)
                  self.end_headers()
                  self.wfile.write(greeting.encode())
          print(greeting, flush=True)
          http.server.HTTPServer(("", 8080), Hello).serve_forever()
        readinessProbe:
          httpGet: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
"""

#: On node-c: GET each URL given (pod addresses, the Service by its DNS name) and print
#: what answered. Each is tried until it answers: kube-proxy on node-c programs the
#: Service a moment after its endpoints are ready (until then it rejects connections).
VISITOR = """
import sys, time, urllib.request
for url in sys.argv[1:]:
    for attempt in range(60):
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                print(url, answer.read().decode(), flush=True)
                break
        except OSError as error:
            print(url, "not yet:", error, file=sys.stderr, flush=True)
            time.sleep(0.5)
"""


async def test_three_nodes_join_and_run_pods(tmp_path: Path) -> None:
    require_root()
    async with initialized(tmp_path) as cluster:
        assert "other nodes join with (the token is valid for 24 h):" in cluster.control_plane.said
        workers = [await cluster.join_node(node) for node in ("node-b", "node-c")]
        for worker in workers:
            await worker.read_until("has joined the cluster and is Ready")
        kubectl = cluster.kubectl
        # three Ready nodes; only the control plane is tainted
        nodes = json.loads((await kubectl("get", "nodes", "-o", "json"))[1])["items"]
        assert sorted(node["metadata"]["name"] for node in nodes) == list(NODES)
        for node in nodes:
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready[0]["status"] == "True", node["metadata"]["name"]
            taints = [t["key"] for t in node["spec"].get("taints") or []]
            is_control_plane = node["metadata"]["name"] == "node-a"
            assert (CONTROL_PLANE_TAINT in taints) == is_control_plane, node
        # the workers' client certificates came from CSRs approved and issued
        # (columns: name, age, signer, requestor, requested duration, condition)
        token_id = cluster.join[cluster.join.index("--token") + 1].split(".")[0]
        _, csrs, _ = await kubectl("get", "csr", "--no-headers")
        rows = sorted(line.split()[2:] for line in csrs.splitlines())
        kubelet_csr = [
            "kubernetes.io/kube-apiserver-client-kubelet",
            f"system:bootstrap:{token_id}",
        ]
        assert rows == 2 * [[*kubelet_csr, "<none>", "Approved,Issued"]], csrs
        # kube-proxy came to the new nodes by itself
        await cluster.until(
            "get", "daemonset", "-n", "kube-system", "kube-proxy",
            "-o", "jsonpath={.status.numberReady}", expect="3",
        )  # fmt: skip
        cidrs = await pod_networks(cluster)
        route_pod_networks(cidrs)
        # a DaemonSet of the user's runs on the workers only; its logs come from them
        await kubectl("apply", "-f", "-", stdin=HELLO.encode())
        await kubectl("rollout", "status", "daemonset/hello", "--timeout=90s")
        hello = json.loads((await kubectl("get", "pods", "-l", "app=hello", "-o", "json"))[1])
        on = {pod["spec"]["nodeName"]: pod for pod in hello["items"]}
        assert sorted(on) == ["node-b", "node-c"]
        for node, pod in on.items():  # each in its node's pod network, not the node's own
            assert ip_address(pod["status"]["podIP"]) in ip_network(cidrs[node]), pod["status"]
        _, log, _ = await kubectl("logs", on["node-b"]["metadata"]["name"])
        assert log.splitlines()[0] == "hello from node-b"
        on_c = on["node-c"]["metadata"]["name"]
        _, echoed, _ = await kubectl("exec", on_c, "--", "sh", "-c", "echo $NODE")
        assert echoed == "node-c\n"
        # from node-c, a pod reaches the pod on node-b, and the Service by its DNS name
        urls = [f"http://{on['node-b']['status']['podIP']}:8080/", "http://hello.default/"]
        await kubectl(
            "run", "visitor", "--image=python:3", "--restart=Never",
            "--overrides", json.dumps({"spec": {"nodeName": "node-c"}}),
            "--command", "--", "python3", "-c", VISITOR, *urls,
        )  # fmt: skip
        phase = await cluster.until(
            "get", "pod", "visitor", "-o", "jsonpath={.status.phase}", expect="ed"
        )  # Succeeded or Failed
        _, visits, _ = await kubectl("logs", "visitor")
        assert phase == "Succeeded", visits
        answers = dict(line.split(" ", 1) for line in visits.splitlines() if "not yet" not in line)
        assert answers.get(urls[0]) == "hello from node-b", visits
        assert answers.get(urls[1]) in ("hello from node-b", "hello from node-c"), visits
    for node in cluster.nodes:
        assert node.process.returncode == 0, node.said
        assert "pynetes: stopped" in node.said


async def pod_networks(cluster: Cluster) -> dict[str, str]:
    """Each node's podCIDR, once the node IPAM controller has given every node one."""
    template = "{range .items[*]}{.metadata.name} {.spec.podCIDR}{'\\n'}{end}"
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while True:
                _, out, _ = await cluster.kubectl("get", "nodes", "-o", f"jsonpath={template}")
                cidrs = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
                if len(cidrs) == len(cluster.nodes):
                    return cidrs
                await asyncio.sleep(0.3)
    except TimeoutError:
        raise AssertionError(f"no podCIDR on every node: {out}") from None


def route_pod_networks(cidrs: dict[str, str]) -> None:
    """What a network plugin does (flannel's host-gw backend, say): in each node's
    namespace, a route to every other node's podCIDR through that node's address. The
    routes stay within the test bridge's subnet."""
    for node, (namespace, _, _) in NODES.items():
        for other, cidr in cidrs.items():
            if other != node:
                ip("-n", namespace, "route", "add", cidr, "via", NODES[other][2])


async def test_a_worker_stopped_and_started_again_runs_its_pods_again(tmp_path: Path) -> None:
    require_root()
    async with initialized(tmp_path) as cluster:
        worker = await cluster.join_node("node-b")
        await worker.read_until("has joined the cluster and is Ready")
        # no wait for the node's pod network: the kubelet holds the pod until it is there
        await cluster.kubectl(
            "run", "sleeper", "--image=busybox", "--restart=Always",
            "--overrides", json.dumps({"spec": {"nodeName": "node-b"}}),
            "--", "sleep", "3600",
        )  # fmt: skip
        await cluster.until("get", "pod", "sleeper", "-o", "jsonpath={.status.phase}",
                            expect="Running")  # fmt: skip
        # stopped: nothing of the node's pods runs any more, the control plane carries on
        pod_netns = pod_namespaces(worker.data_dir)
        assert await worker.stop()
        assert worker.process.returncode == 0, worker.said
        assert leftovers(worker.data_dir, pod_netns)[1:] == ([], [])
        await cluster.kubectl("get", "pod", "sleeper")
        # the same command on the same data folder: Ready as the new kubelet reports it
        # (not as the Node was left), and the node's pods run again
        restarted = datetime.now(UTC).replace(microsecond=0)
        await (await cluster.join_node("node-b")).read_until("is Ready")
        _, heartbeat, _ = await cluster.kubectl(
            "get", "node", "node-b", "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].lastHeartbeatTime}",
        )  # fmt: skip
        assert datetime.fromisoformat(heartbeat) >= restarted
        await cluster.until("exec", "sleeper", "--", "echo", "back", expect="back")


async def test_a_wrong_ca_cert_hash_is_refused_and_nothing_starts(tmp_path: Path) -> None:
    require_root()
    async with initialized(tmp_path) as cluster:
        pinned = cluster.join.index("--ca-cert-hash") + 1
        cluster.join[pinned] = "sha256:" + "0" * 64
        joining = await cluster.join_node("node-b")
        assert joining.process.stdout is not None
        async with asyncio.timeout(60):
            joining.output.append((await joining.process.stdout.read()).decode())
            code = await joining.process.wait()
        assert code == 1, joining.said
        assert "the cluster CA in the cluster-info ConfigMap is not the pinned one" in joining.said
        assert "starting the kubelet" not in joining.said
        assert [path.name for path in joining.data_dir.iterdir()] == ["VERSION"]
        _, nodes, _ = await cluster.kubectl("get", "nodes", "-o", "name")
        assert nodes.split() == ["node/node-a"]
