"""The kubelet's HTTPS API and the API server's proxy to it: kubectl logs/exec/attach/cp,
the Python client's exec and port-forward, errors, client certificates and the channel
protocols on the wire, against a real kubelet running real processes.

kubectl logs --tail/--timestamps/--previous, kubectl exec's exit code and stdin and a plain
Python client exec are proved in test_streams.py."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import KubeletAgent
from pynetes.kubelet.runtime import crilog
from pynetes.pki.certificates import Pki, issue_client_certificate
from tests.integration.conftest import Cluster, Kubectl, free_port
from tests.integration.controllers.harness import eventually
from tests.integration.kubelet.agent import (
    PODS,
    Object,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_pod,
)

NODES = built_in("", "v1", "nodes")
SLEEP = "sleep 3600"


@pytest.fixture
async def kubelet(cluster: Cluster, api: ApiClient, tmp_path: Path) -> AsyncIterator[KubeletAgent]:
    async with running_kubelet(cluster, api, tmp_path / "kubelet") as agent:
        yield agent


async def run_pod(api: ApiClient, manifest: Object) -> Object:
    """Create ``manifest`` and return it once the kubelet reports it Running."""
    await api.create(PODS, manifest)
    return await wait_for_pod(api, manifest["metadata"]["name"], phase_is("Running"))


async def logs_until(kubectl: Kubectl, done: Callable[[str], bool], *arguments: str) -> str:
    """``kubectl logs arguments`` once its output satisfies ``done`` (containers write
    their logs on their own time)."""

    async def output() -> str | None:
        _, out, _ = await kubectl("logs", *arguments)
        return out if done(out) else None

    return await eventually(output)


def client_of(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(str(cluster.kubeconfig))


async def register_node(api: ApiClient, name: str, port: int) -> None:
    """A Node by hand whose kubelet would serve on 127.0.0.1:``port``."""
    await api.create(NODES, {"metadata": {"name": name}})
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }
    await api.patch(NODES, name, {"status": status}, subresource="status")


# -- logs ---------------------------------------------------------------------


async def test_kubectl_logs_of_each_container_and_long_lines(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    """Each container's own log; a line longer than a log entry (the runtime splits it
    into partial entries) reads as one line; stderr is in the log; an unknown container
    is refused with upstream's message."""
    long_line = "x" * 40_000
    app = shell("app", f"echo one; echo two; echo {long_line}; {SLEEP}")
    sidecar = shell("sidecar", f"echo from the sidecar >&2; {SLEEP}")
    await run_pod(api, pod("web", app, sidecar))
    kubectl = cluster.kubectl()

    out = await logs_until(kubectl, lambda out: out.count("\n") == 3, "web", "-c", "app")
    assert out == f"one\ntwo\n{long_line}\n"
    _, out, _ = await kubectl("logs", "web", "-c", "app", "--timestamps", "--tail=2")
    lines = out.splitlines()
    assert [line.partition(" ")[2] for line in lines] == ["two", long_line]
    stamp = lines[-1].partition(" ")[0]
    assert abs(crilog.parse_timestamp(stamp) - time.time_ns()) < 60 * 10**9
    out = await logs_until(kubectl, bool, "web", "-c", "sidecar")
    assert out == "from the sidecar\n"
    code, _, err = await kubectl("logs", "web", "-c", "nope", check=False)
    assert code == 1 and "container nope is not valid for pod web" in err


async def test_logs_show_only_the_current_attempt(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path
) -> None:
    """After a restart, kubectl logs shows the new attempt's output, not the old one's."""
    marker = tmp_path / "lived"
    script = (
        f"if [ -e {marker} ]; then echo second life; exec {SLEEP}; fi; "
        f"touch {marker}; echo first life; exit 1"
    )
    await api.create(PODS, pod("crashy", shell("app", script)))
    await wait_for_pod(api, "crashy", lambda p: container_status(p, "app")["restartCount"] == 1)
    out = await logs_until(cluster.kubectl(), bool, "crashy")
    assert out == "second life\n"


async def test_kubectl_logs_follow_ends_when_the_container_exits(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path
) -> None:
    go, end = tmp_path / "go", tmp_path / "end"
    script = (
        f"echo started; until [ -e {go} ]; do sleep 0.05; done; echo working; "
        f"until [ -e {end} ]; do sleep 0.05; done; echo done"
    )
    await run_pod(api, pod("job", shell("app", script), restartPolicy="Never"))
    kubectl = cluster.kubectl()
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
    try:
        async with asyncio.timeout(60):
            assert await process.stdout.readline() == b"started\n"
            go.touch()  # the container writes while kubectl follows
            assert await process.stdout.readline() == b"working\n"
            end.touch()  # the container writes its last line and exits
            rest = await process.stdout.read()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert rest == b"done\n"


async def test_log_errors_read_as_upstream(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    await run_pod(api, pod("two", shell("a", SLEEP), shell("b", SLEEP)))
    with client_of(cluster) as python_client:
        core = client.CoreV1Api(python_client)
        with pytest.raises(ApiException) as raised:
            await asyncio.to_thread(core.read_namespaced_pod_log, "two", "default")
        assert raised.value.status == 400
        assert "a container name must be specified for pod two, choose one of: [a b]" in (
            raised.value.body
        )
        read = core.read_namespaced_pod_log
        assert await asyncio.to_thread(read, "two", "default", container="b") == ""


async def test_an_unreachable_kubelet_is_reported_with_the_dial_error(
    cluster: Cluster, api: ApiClient
) -> None:
    closed = free_port()
    await register_node(api, "gone", closed)
    orphan = pod("orphan", shell("app", SLEEP))
    orphan["spec"]["nodeName"] = "gone"
    await api.create(PODS, orphan)
    kubectl = cluster.kubectl()
    code, _, err = await kubectl("logs", "orphan", check=False)
    assert code == 1
    assert (
        f'Get "https://127.0.0.1:{closed}/containerLogs/default/orphan/app":'
        f" dial tcp 127.0.0.1:{closed}: connect: connection refused"
    ) in err
    code, _, err = await kubectl("exec", "orphan", "--", "true", check=False)
    assert code == 1 and f"dial tcp 127.0.0.1:{closed}: connect: connection refused" in err


# -- cp and attach ------------------------------------------------------------


async def test_kubectl_cp_copies_a_file_out_of_the_pod(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path
) -> None:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    script = f"echo the numbers are in > .report; mv .report report.txt; {SLEEP}"
    await run_pod(api, pod("files", shell("app", script, workingDir=str(workdir))))
    await eventually(lambda: asyncio.to_thread((workdir / "report.txt").exists))
    target = tmp_path / "copied.txt"
    await cluster.kubectl()("cp", "default/files:report.txt", str(target))
    assert target.read_text() == "the numbers are in\n"


async def test_kubectl_attach_to_the_main_process(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    app = shell("app", "read name; echo hello $name; echo done >&2", stdin=True)
    await run_pod(api, pod("interactive", app, restartPolicy="Never"))
    code, out, err = await cluster.kubectl()(
        "attach", "-i", "interactive", stdin=b"world\n", check=False
    )
    assert (code, out) == (0, "hello world\n"), err
    assert "done\n" in err
    finished = await wait_for_pod(api, "interactive", phase_is("Succeeded"))
    assert container_status(finished, "app")["state"]["terminated"]["exitCode"] == 0


# -- kubectl top: metrics.k8s.io from the kubelet's /metrics/resource -----------


def top_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


async def test_kubectl_top_shows_each_pod_and_the_node_by_what_they_use(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    spin = f"{sys.executable} -c 'held = b\"x\" * (32 << 20)\nwhile True: pass'"
    await run_pod(api, pod("busy", shell("spin", spin), shell("idle", SLEEP)))
    kubectl = cluster.kubectl()
    _, out, _ = await kubectl("top", "pod", "busy", "--containers")
    rows = {row[1]: row for row in top_rows(out)}
    assert set(rows) == {"spin", "idle"}
    cpu, memory = (
        {name: int(rows[name][column].removesuffix(unit)) for name in rows}
        for column, unit in ((2, "m"), (3, "Mi"))
    )
    assert cpu["spin"] > cpu["idle"]
    assert memory["spin"] >= 32 > memory["idle"]
    _, out, _ = await kubectl("top", "node")
    ((name, cpu, cpu_share, memory, memory_share),) = top_rows(out)
    assert name == "node-1" and cpu.endswith("m") and memory.endswith("Mi")
    assert cpu_share.endswith("%") and memory_share.endswith("%")
    _, out, _ = await kubectl("get", "podmetrics", "busy")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert row.split()[0] == "busy" and row.split()[1].endswith("n")  # the pod's sum
    code, _, err = await kubectl("top", "pod", "absent", check=False)
    assert code == 1 and 'podmetrics.metrics.k8s.io "absent" not found' in err
    _, out, _ = await kubectl("api-versions")
    assert "metrics.k8s.io/v1beta1" in out.split()


async def test_kubectl_top_node_without_a_reachable_kubelet_has_no_metrics_yet(
    cluster: Cluster, api: ApiClient
) -> None:
    """As metrics-server answers for a node it could not scrape."""
    await register_node(api, "gone", free_port())
    code, _, err = await cluster.kubectl()("top", "node", check=False)
    assert (code, err.strip()) == (1, "error: metrics not available yet")
    code, _, err = await cluster.kubectl()("top", "node", "gone", check=False)
    assert code == 1 and 'nodemetrics.metrics.k8s.io "gone" not found' in err


# -- kubectl debug: ephemeral containers -----------------------------------------


def ephemeral_status(pod: Object, name: str) -> Object:
    for status in pod.get("status", {}).get("ephemeralContainerStatuses") or ():
        if status["name"] == name:
            return status
    return {}


async def test_kubectl_debug_runs_an_ephemeral_container_beside_the_pods_own(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    await run_pod(api, pod("target", shell("app", SLEEP)))
    kubectl = cluster.kubectl()
    await kubectl("debug", "target", "--image=busybox", "--container=probe", "--", "echo", "hi")
    finished = await wait_for_pod(
        api, "target", lambda p: "terminated" in ephemeral_status(p, "probe").get("state", {})
    )
    assert ephemeral_status(finished, "probe")["state"]["terminated"]["exitCode"] == 0
    assert container_status(finished, "app")["restartCount"] == 0  # the pod ran on
    _, out, _ = await kubectl("logs", "target", "-c", "probe")
    assert out == "hi\n"
    code, out, err = await kubectl(
        "debug",
        "-i",
        "target",
        "--image=busybox",
        "--container=shell",
        "--",
        "sh",
        stdin=b"echo from-inside; exit\n",
        check=False,
    )
    assert code == 0, err
    assert "from-inside" in out


async def test_an_ephemeral_container_mounts_the_pods_volumes(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    writer = shell("app", f"echo written-by-app > /data/note; {SLEEP}")
    writer["volumeMounts"] = [{"name": "shared", "mountPath": "/data"}]
    await run_pod(api, pod("sharing", writer, volumes=[{"name": "shared", "emptyDir": {}}]))
    reader = {
        "name": "reader",
        "image": "busybox",
        "command": ["sh", "-c", "cat /data/note"],
        "volumeMounts": [{"name": "shared", "mountPath": "/data"}],
    }
    await api.patch(
        PODS,
        "sharing",
        {"spec": {"ephemeralContainers": [reader]}},
        namespace="default",
        subresource="ephemeralcontainers",
    )
    await wait_for_pod(
        api, "sharing", lambda p: "terminated" in ephemeral_status(p, "reader").get("state", {})
    )
    _, out, _ = await cluster.kubectl()("logs", "sharing", "-c", "reader")
    assert out == "written-by-app\n"


async def test_ephemeral_containers_change_only_through_their_subresource(
    api: ApiClient,
) -> None:
    await api.create(PODS, pod("held", shell("app", SLEEP)))
    debugger = {"name": "debugger", "image": "busybox", "command": ["sh"]}
    patch = {"spec": {"ephemeralContainers": [debugger]}}
    patched = await api.patch(
        PODS, "held", patch, namespace="default", subresource="ephemeralcontainers"
    )
    assert [c["name"] for c in patched["spec"]["ephemeralContainers"]] == ["debugger"]
    current = await api.get(PODS, "held", namespace="default")
    current["spec"]["ephemeralContainers"] = []
    replaced = await api.replace(PODS, current)  # the pod itself: the change is dropped
    assert [c["name"] for c in replaced["spec"]["ephemeralContainers"]] == ["debugger"]
    with pytest.raises(errors.Invalid) as refused:
        await api.replace(PODS, current, subresource="ephemeralcontainers")
    assert 'existing ephemeral containers "debugger" may not be removed' in str(refused.value)


# -- the Python client --------------------------------------------------------


async def test_python_client_exec_with_stdin_and_exit_code(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    await run_pod(api, pod("py", shell("app", SLEEP)))

    def run() -> tuple[int | None, str]:
        with client_of(cluster) as python_client:
            session = stream(
                client.CoreV1Api(python_client).connect_get_namespaced_pod_exec,
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
            return session.returncode, session.read_stdout()

    assert await asyncio.to_thread(run) == (4, "got ping\n")


SHOUT = """
import socketserver, sys

class Shout(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())

socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), Shout).serve_forever()
"""


async def run_server_pod(api: ApiClient, script: str, port: int) -> None:
    """Pod "server" running ``script`` on ``port`` (the host's network, as the process
    runtime's pods share it), once it accepts connections."""
    server = {
        "name": "server",
        "image": "python",
        "command": ["python3", "-c", script, str(port)],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }
    await api.create(PODS, pod("server", server))
    await wait_for_pod(api, "server", lambda p: container_status(p, "server")["ready"])


async def test_python_client_port_forward(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent
) -> None:
    """The pod's server (sharing the host's network, as the process runtime's pods do)
    answers through the API server and the kubelet."""
    port = free_port()
    await run_server_pod(api, SHOUT, port)

    def forward() -> bytes:
        with client_of(cluster) as python_client:
            forwarded = portforward(
                client.CoreV1Api(python_client).connect_get_namespaced_pod_portforward,
                "server",
                "default",
                ports=str(port),
            )
            sock = forwarded.socket(port)
            sock.settimeout(30)
            sock.sendall(b"hello through the tunnel\n")
            received = b""
            while chunk := sock.recv(1024):
                received += chunk
            sock.close()
            return received

    assert await asyncio.to_thread(forward) == b"HELLO THROUGH THE TUNNEL\n"


# -- the kubelet's own API ----------------------------------------------------


def insecure_context() -> ssl.SSLContext:
    """TLS that accepts the kubelet's self-signed serving certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_kubelet_api_requires_a_client_certificate(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path
) -> None:
    await run_pod(api, pod("listed", shell("app", SLEEP)))
    base = f"https://127.0.0.1:{kubelet.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/pods", ssl=insecure_context()) as response:
            assert response.status == 401
        pki = Pki(cluster.server.pki_dir)
        trusted = insecure_context()
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
    assert (tmp_path / "kubelet" / "pki" / "kubelet.crt").exists()


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
async def test_exec_frames_on_the_wire(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path, protocol: str
) -> None:
    """A client offering only one protocol gets it; stdin, stdout, stderr and the status
    travel on their channels; v5's close frame ends stdin, v4 ends with one line read."""
    await run_pod(api, pod("wire", shell("app", SLEEP)))
    script = "read line; echo got $line; echo bad >&2; exit 7"
    if protocol == "v5.channel.k8s.io":
        script = "cat; echo bad >&2; exit 7"
    url = (
        f"{cluster.server.url}/api/v1/namespaces/default/pods/wire/exec"
        f"?command=sh&command=-c&command={quote(script)}&stdin=true&stdout=true&stderr=true"
    )
    context = admin_ssl_context(cluster, tmp_path)
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


async def test_streams_of_a_pod_without_a_node(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, tmp_path: Path
) -> None:
    """Logs of an unscheduled pod are empty; exec needs a host (as upstream)."""
    pending = pod("pending", shell("app", SLEEP))
    del pending["spec"]["nodeName"]
    await api.create(PODS, pending)
    _, out, _ = await cluster.kubectl()("logs", "pending")
    assert out == ""
    base = f"{cluster.server.url}/api/v1/namespaces/default/pods/pending"
    context = admin_ssl_context(cluster, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/exec?command=true&stdout=true", ssl=context) as response,
    ):
        status = await response.json()
    assert response.status == 400
    assert status["message"] == "pod pending does not have a host assigned"


COUNT = """
import socketserver, sys

class Count(socketserver.StreamRequestHandler):
    # The size, a line; then that many bytes back; then a count of the bytes read.
    def handle(self):
        size = int(self.rfile.readline())
        self.wfile.write(b"x" * size)
        self.wfile.write(b" read %d\\n" % len(self.rfile.read(size)))

socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), Count).serve_forever()
"""


@pytest.mark.parametrize("version", ["1.27", "1.33"])
async def test_kubectl_port_forward(
    cluster: Cluster, api: ApiClient, kubelet: KubeletAgent, version: str
) -> None:
    """kubectl 1.27 upgrades the connection to SPDY/3.1, 1.33 tunnels SPDY in a WebSocket:
    both forward several connections at once, a megabyte each way, and report a port
    nothing listens on."""
    port, local, closed, local_closed = free_port(), free_port(), free_port(), free_port()
    await run_server_pod(api, COUNT, port)
    kubectl = cluster.kubectl(version)
    forwarding = await asyncio.create_subprocess_exec(
        kubectl.binary,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "port-forward",
        "pod/server",
        f"{local}:{port}",
        f"{local_closed}:{closed}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert forwarding.stdout is not None
        for _ in range(4):  # "Forwarding from" both addresses of both ports
            assert b"Forwarding from" in await asyncio.wait_for(forwarding.stdout.readline(), 30)

        async def exchange(size: int) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(b"%d\n" % size + os.urandom(size))
            answer = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            return answer

        answers = await asyncio.gather(exchange(1_000_000), *(exchange(100) for _ in range(5)))
        assert answers[0] == b"x" * 1_000_000 + b" read 1000000\n"
        assert answers[1:] == [b"x" * 100 + b" read 100\n"] * 5

        reader, writer = await asyncio.open_connection("127.0.0.1", local_closed)
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        assert forwarding.stderr is not None
        reported = (await asyncio.wait_for(forwarding.stderr.readline(), 30)).decode()
        assert f"error forwarding port {closed} to pod default/server" in reported
    finally:
        if forwarding.returncode is None:
            forwarding.terminate()
        await forwarding.wait()
