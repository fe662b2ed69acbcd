"""kubectl logs/exec/cp and the Python client's exec and port-forward, through the API server
to a real KubeletServer (HTTPS, client certificates) over real processes and log files."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream
from prometheus_client import CollectorRegistry

from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.server import KubeletServer, ServingOptions
from pynetes.pki.certificates import Pki, issue_client_certificate
from tests.integration.conftest import Cluster, free_port
from tests.integration.streamruntime import Container, PodTable, StreamRuntime

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
NODE = "node-a"


@dataclass
class Node:
    """A registered Node whose kubelet serves ``table``'s pods."""

    cluster: Cluster
    api: ApiClient
    table: PodTable
    server: KubeletServer
    port: int

    async def run_pod(self, name: str, *containers: str) -> dict[str, Container]:
        """Create a pod bound to the node and run its containers."""
        pod = await self.api.create(
            PODS,
            {
                "metadata": {"name": name, "namespace": "default"},
                "spec": {
                    "nodeName": NODE,
                    "containers": [{"name": c, "image": "busybox"} for c in containers],
                },
            },
        )
        return self.table.run(pod)


async def register_node(api: ApiClient, name: str, port: int) -> None:
    await api.create(NODES, {"metadata": {"name": name}})
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }
    await api.patch(NODES, name, {"status": status}, subresource="status")


@pytest.fixture
async def node(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Node]:
    runtime = StreamRuntime(tmp_path / "containers")
    table = PodTable(runtime)
    server = KubeletServer(
        table,
        runtime,  # type: ignore[arg-type]
        registry=CollectorRegistry(),
        options=ServingOptions(
            address="127.0.0.1",
            port=0,
            cert_dir=tmp_path / "kubelet-pki",
            client_ca_file=Pki(cluster.server.pki_dir).ca_cert,
        ),
    )
    port = await server.start()
    config_ = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config_) as api:
        await register_node(api, NODE, port)
        try:
            yield Node(cluster, api, table, server, port)
        finally:
            await server.stop()


# -- logs ---------------------------------------------------------------------


async def test_kubectl_logs_tail_timestamps_and_container(node: Node) -> None:
    containers = await node.run_pod("web", "app", "sidecar")
    app = containers["app"]
    for line in (b"one\n", b"two\n", b"thr", b"ee\n"):
        app.log(line)
    containers["sidecar"].log(b"from the sidecar\n", crilog.STDERR)
    kubectl = node.cluster.kubectl()

    _, out, _ = await kubectl("logs", "web", "-c", "app")
    assert out == "one\ntwo\nthree\n"
    _, out, _ = await kubectl("logs", "web", "-c", "app", "--tail=2")
    assert out == "two\nthree\n"
    _, out, _ = await kubectl("logs", "web", "-c", "app", "--timestamps", "--tail=1")
    stamp, _, text = out.partition(" ")
    assert text == "three\n"
    assert abs(crilog.parse_timestamp(stamp) - app.status.created_at) < 60 * 10**9
    _, out, _ = await kubectl("logs", "web", "-c", "sidecar")
    assert out == "from the sidecar\n"
    code, _, err = await kubectl("logs", "web", "-c", "nope", check=False)
    assert code == 1 and "container nope is not valid for pod web" in err


async def test_logs_of_the_previous_container(node: Node) -> None:
    (await node.run_pod("crashy", "app"))["app"].log(b"first life\n")
    node.table.restart("default", "crashy", "app").log(b"second life\n")
    kubectl = node.cluster.kubectl()
    _, out, _ = await kubectl("logs", "crashy")
    assert out == "second life\n"
    _, out, _ = await kubectl("logs", "crashy", "--previous")
    assert out == "first life\n"


async def test_kubectl_logs_follow_ends_when_the_container_exits(node: Node) -> None:
    app = (await node.run_pod("job", "app"))["app"]
    app.log(b"started\n")
    kubectl = node.cluster.kubectl()
    process = await asyncio.create_subprocess_exec(
        kubectl.binary,
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "logs",
        "-f",
        "job",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(kubectl.kubeconfig.parent)},
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        assert await process.stdout.readline() == b"started\n"
        app.log(b"working\n")  # written while kubectl follows
        assert await process.stdout.readline() == b"working\n"
        app.log(b"done\n")
        app.exit(0)
        rest = await process.stdout.read()
        assert await process.wait() == 0
    assert rest == b"done\n"


async def test_log_errors_read_as_upstream(node: Node) -> None:
    await node.run_pod("two", "a", "b")
    with client_of(node.cluster) as api:
        core = client.CoreV1Api(api)
        with pytest.raises(ApiException) as raised:
            await asyncio.to_thread(core.read_namespaced_pod_log, "two", "default")
        assert raised.value.status == 400
        assert "a container name must be specified for pod two, choose one of: [a b]" in (
            raised.value.body
        )
        read = core.read_namespaced_pod_log
        assert await asyncio.to_thread(read, "two", "default", container="b") == ""


async def test_an_unreachable_kubelet_is_reported_with_the_dial_error(node: Node) -> None:
    closed = free_port()
    await register_node(node.api, "gone", closed)
    await node.api.create(
        PODS,
        {
            "metadata": {"name": "orphan", "namespace": "default"},
            "spec": {"nodeName": "gone", "containers": [{"name": "app", "image": "busybox"}]},
        },
    )
    kubectl = node.cluster.kubectl()
    code, _, err = await kubectl("logs", "orphan", check=False)
    assert code == 1
    assert (
        f'Get "https://127.0.0.1:{closed}/containerLogs/default/orphan/app":'
        f" dial tcp 127.0.0.1:{closed}: connect: connection refused"
    ) in err
    code, _, err = await kubectl("exec", "orphan", "--", "true", check=False)
    assert code == 1 and f"dial tcp 127.0.0.1:{closed}: connect: connection refused" in err


# -- exec and cp --------------------------------------------------------------


async def test_kubectl_exec_outputs_and_exit_code(node: Node) -> None:
    await node.run_pod("shell", "app")
    kubectl = node.cluster.kubectl()
    code, out, err = await kubectl(
        "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert code == 3
    assert out == "out\n"
    assert err.startswith("err\n")
    code, out, _ = await kubectl("exec", "shell", "--", "sh", "-c", "echo fine")
    assert (code, out) == (0, "fine\n")


async def test_kubectl_exec_with_stdin(node: Node) -> None:
    await node.run_pod("upper", "app")
    _, out, _ = await node.cluster.kubectl()(
        "exec", "-i", "upper", "--", "tr", "a-z", "A-Z", stdin=b"hello\nworld\n"
    )
    assert out == "HELLO\nWORLD\n"


async def test_kubectl_cp_copies_a_file_out_of_the_pod(node: Node, tmp_path: Path) -> None:
    app = (await node.run_pod("files", "app"))["app"]
    (app.workdir / "report.txt").write_text("the numbers are in\n")
    target = tmp_path / "copied.txt"
    await node.cluster.kubectl()("cp", "default/files:report.txt", str(target))
    assert target.read_text() == "the numbers are in\n"


# -- the Python client --------------------------------------------------------


def client_of(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(str(cluster.kubeconfig))


async def test_python_client_exec(node: Node) -> None:
    await node.run_pod("py", "app")

    def run() -> tuple[str, int | None, str]:
        with client_of(node.cluster) as api:
            core = client.CoreV1Api(api)
            output = stream(
                core.connect_get_namespaced_pod_exec,
                "py",
                "default",
                command=["sh", "-c", "echo from python"],
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
            )
            session = stream(
                core.connect_get_namespaced_pod_exec,
                "py",
                "default",
                command=["sh", "-c", "read line; echo got $line; exit 4"],
                stderr=True,
                stdin=True,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
            session.write_stdin("ping\n")
            session.run_forever(timeout=30)
            return output, session.returncode, session.read_stdout()

    output, returncode, stdout = await asyncio.to_thread(run)
    assert output == "from python\n"
    assert returncode == 4
    assert stdout == "got ping\n"


async def test_python_client_port_forward(node: Node) -> None:
    await node.run_pod("server", "app")

    async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(shout, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]

    def forward() -> bytes:
        with client_of(node.cluster) as api:
            core = client.CoreV1Api(api)
            forwarded = portforward(
                core.connect_get_namespaced_pod_portforward, "server", "default", ports=str(port)
            )
            sock = forwarded.socket(port)
            sock.settimeout(30)
            sock.sendall(b"hello through the tunnel\n")
            received = b""
            while chunk := sock.recv(1024):
                received += chunk
            sock.close()
            return received

    async with listener:
        assert await asyncio.to_thread(forward) == b"HELLO THROUGH THE TUNNEL\n"


# -- the kubelet's own API ----------------------------------------------------


async def test_kubelet_api_requires_a_client_certificate(node: Node, tmp_path: Path) -> None:
    await node.run_pod("listed", "app")
    base = f"https://127.0.0.1:{node.port}"
    anonymous = ssl.create_default_context()
    anonymous.check_hostname = False
    anonymous.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/pods", ssl=anonymous) as response:
            assert response.status == 401
        pki = Pki(node.cluster.server.pki_dir)
        trusted = ssl.create_default_context()
        trusted.check_hostname = False
        trusted.verify_mode = ssl.CERT_NONE
        trusted.load_cert_chain(
            pki.directory / "apiserver-kubelet-client.crt",
            pki.directory / "apiserver-kubelet-client.key",
        )
        async with session.get(f"{base}/healthz", ssl=trusted) as response:
            assert (response.status, await response.text()) == (200, "ok")
        async with session.get(f"{base}/pods", ssl=trusted) as response:
            pods: Any = await response.json()
        assert pods["kind"] == "PodList"
        assert [p["metadata"]["name"] for p in pods["items"]] == ["listed"]
        async with session.get(f"{base}/containerLogs/default/absent/app", ssl=trusted) as answer:
            assert (answer.status, await answer.text()) == (404, 'pod "absent" does not exist')
        async with session.get(f"{base}/metrics", ssl=trusted) as response:
            assert response.status == 200
            assert "text/plain" in response.headers["Content-Type"]
    # No serving certificate was given: a self-signed one was made, as upstream's kubelet does.
    assert (tmp_path / "kubelet-pki" / "kubelet.crt").exists()


# -- the channel protocols on the wire ----------------------------------------


def admin_ssl_context(cluster: Cluster, directory: Path) -> ssl.SSLContext:
    pki = Pki(cluster.server.pki_dir)
    admin = issue_client_certificate(pki.load_ca(), "kubernetes-admin", ["system:masters"])
    (directory / "admin.crt").write_bytes(admin.certificate_pem())
    (directory / "admin.key").write_bytes(admin.key_pem())
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(directory / "admin.crt", directory / "admin.key")
    return context


async def frames(ws: aiohttp.ClientWebSocketResponse) -> list[tuple[int, bytes]]:
    """Every (channel, data) frame until the server closes."""
    received = []
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            received.append((message.data[0], message.data[1:]))
    return received


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
async def test_exec_frames_on_the_wire(node: Node, tmp_path: Path, protocol: str) -> None:
    """A client offering only one protocol gets it; stdin, stdout, stderr and the status
    travel on their channels; v5's close frame ends stdin, v4 ends with one line read."""
    await node.run_pod("wire", "app")
    script = "read line; echo got $line; echo bad >&2; exit 7"
    if protocol == "v5.channel.k8s.io":
        script = "cat; echo bad >&2; exit 7"
    url = (
        f"{node.cluster.server.url}/api/v1/namespaces/default/pods/wire/exec"
        f"?command=sh&command=-c&command={quote(script)}&stdin=true&stdout=true&stderr=true"
    )
    context = admin_ssl_context(node.cluster, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=[protocol], ssl=context) as ws,
    ):
        assert ws.protocol == protocol
        await ws.send_bytes(b"\x04" + b'{"Width":80,"Height":24}')  # resize: ignored here
        await ws.send_bytes(b"\x00" + b"line\n")
        if protocol == "v5.channel.k8s.io":
            await ws.send_bytes(b"\xff\x00")  # close stdin
        received = await frames(ws)
    stdout = b"".join(data for channel, data in received if channel == 1)
    stderr = b"".join(data for channel, data in received if channel == 2)
    statuses = [data for channel, data in received if channel == 3]
    assert stdout == (b"line\n" if protocol == "v5.channel.k8s.io" else b"got line\n")
    assert stderr == b"bad\n"
    status = json.loads(statuses[-1])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


async def test_streams_of_a_pod_without_a_node(node: Node, tmp_path: Path) -> None:
    """Logs of an unscheduled pod are empty; exec needs a host (as upstream)."""
    await node.api.create(
        PODS,
        {
            "metadata": {"name": "pending", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        },
    )
    kubectl = node.cluster.kubectl()
    _, out, _ = await kubectl("logs", "pending")
    assert out == ""
    base = f"{node.cluster.server.url}/api/v1/namespaces/default/pods/pending"
    context = admin_ssl_context(node.cluster, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/exec?command=true&stdout=true", ssl=context) as response,
    ):
        status = await response.json()
    assert response.status == 400
    assert status["message"] == "pod pending does not have a host assigned"


async def test_kubectl_attach_to_the_main_process(node: Node) -> None:
    app = (await node.run_pod("interactive", "app"))["app"]
    await app.start("sh", "-c", "read name; echo hello $name; echo done >&2")
    # kubectl attaches only to a running pod.
    await node.api.patch(
        PODS, "interactive", {"status": {"phase": "Running"}}, subresource="status"
    )
    code, out, err = await node.cluster.kubectl()(
        "attach", "-i", "interactive", stdin=b"world\n", check=False
    )
    assert (code, out) == (0, "hello world\n"), err
    assert "done\n" in err
    assert app.main is not None and await app.main.wait() == 0
