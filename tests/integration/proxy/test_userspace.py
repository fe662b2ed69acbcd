"""The userspace proxy, in process, against the real API server: Services and
EndpointSlices created through the API, real TCP and UDP servers as pods, every
address on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from pynetes.client.rest import ApiClient
from pynetes.proxy.tracker import ENDPOINT_SLICES, SERVICES
from tests.integration.proxy.conftest import (
    GUARD,
    POD_RANGE,
    Pod,
    RunningProxy,
    ask,
    cluster_ip,
    create_service,
    create_slice,
    create_slices,
    eventually,
    free_port,
    slice_body,
)

Pods = Callable[[int], Awaitable[list[Pod]]]


async def names_seen(ip: str, port: int, count: int) -> list[str]:
    return [await ask(ip, port) for _ in range(count)]


async def answers(ip: str, port: int) -> bool:
    with contextlib.suppress(OSError):
        return bool(await ask(ip, port))
    return False


async def refused(ip: str, port: int) -> bool:
    try:
        await ask(ip, port)
    except ConnectionRefusedError:
        return True
    return False


async def test_requests_by_cluster_ip_reach_every_endpoint_round_robin(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(3)
    ip = cluster_ip()
    await create_service(api, "web", ip, 8080)
    await create_slices(api, "web", backends)

    async def all_three() -> bool:
        with contextlib.suppress(OSError):
            return len(await names_seen(ip, 8080, 3)) == 3 and backends[2].connections > 0
        return False

    await eventually(all_three)
    seen = await names_seen(ip, 8080, 9)
    assert sorted(seen) == sorted([pod.name for pod in backends] * 3)  # strict rotation


async def test_client_ip_affinity_sticks_to_one_endpoint(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(3)
    ip = cluster_ip()
    await create_service(
        api,
        "sticky",
        ip,
        8080,
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    await create_slice(api, "sticky", backends)  # the three endpoints arrive together
    await eventually(lambda: answers(ip, 8080))
    seen = await names_seen(ip, 8080, 10)
    assert len(set(seen)) == 1


async def test_node_port_answers_on_loopback(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(2)
    node_port = free_port(low=30000 + (id(api) % 2000))
    ports = [{"name": "p", "port": 8080, "protocol": "TCP", "nodePort": node_port}]
    await create_service(api, "nodeport", cluster_ip(), 8080, type="NodePort", ports=ports)
    await create_slices(api, "nodeport", backends)
    await eventually(lambda: answers("127.0.0.1", node_port))
    assert set(await names_seen("127.0.0.1", node_port, 4)) == {pod.name for pod in backends}


async def test_a_removed_endpoint_gets_no_new_connections_and_keeps_its_established_ones(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(3)
    ip = cluster_ip()
    await create_service(api, "moving", ip, 8080)
    await create_slices(api, "moving", backends)
    await eventually(lambda: answers(ip, 8080))
    # an established connection to each pod
    held: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    async with asyncio.timeout(GUARD):
        while len(held) < 3:
            reader, writer = await asyncio.open_connection(ip, 8080)
            name = (await reader.readline()).decode().strip()
            if name in held:
                writer.close()
            else:
                held[name] = (reader, writer)
    removed = backends[0]
    await api.delete(ENDPOINT_SLICES, f"moving-{removed.name}", namespace="default")

    async def only_others() -> bool:
        return removed.name not in await names_seen(ip, 8080, 6)

    await eventually(only_others)
    assert removed.name not in await names_seen(ip, 8080, 12)
    reader, writer = held[removed.name]
    writer.write(b"still there?\n")
    assert await reader.readline() == f"{removed.name} still there?\n".encode()
    for _, writer in held.values():
        writer.close()


async def test_a_not_ready_endpoint_gets_no_new_connections(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(3)
    ip = cluster_ip()
    await create_service(api, "ready", ip, 8080)
    await create_slices(api, "ready", backends, **{backends[1].name: False})
    await eventually(lambda: answers(ip, 8080))
    seen = await names_seen(ip, 8080, 12)
    assert set(seen) == {backends[0].name, backends[2].name}
    assert backends[1].connections == 0


async def test_no_endpoint_refuses_and_an_endpoint_arriving_is_served(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    (backend,) = await pods(1)
    ip = cluster_ip()
    await create_service(api, "empty", ip, 8080)
    endpoint_slice = await create_slice(api, "empty", [backend])
    await eventually(lambda: answers(ip, 8080))

    await api.replace(ENDPOINT_SLICES, {**endpoint_slice, "endpoints": []})
    assert await eventually(lambda: refused(ip, 8080))
    await api.replace(
        ENDPOINT_SLICES,
        await api.get(ENDPOINT_SLICES, "empty-abc", namespace="default")
        | {"endpoints": endpoint_slice["endpoints"]},
    )
    assert await eventually(lambda: answers(ip, 8080))


async def test_an_endpoint_that_refuses_is_skipped(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    (alive,) = await pods(1)
    dead = Pod("dead", alive.ip, free_port())  # never started: connections are refused
    ip = cluster_ip()
    await create_service(api, "flaky", ip, 8080)
    await create_slices(api, "flaky", [alive, dead])
    await eventually(lambda: answers(ip, 8080))
    assert set(await names_seen(ip, 8080, 6)) == {alive.name}


async def test_udp_datagrams_reach_every_endpoint_with_a_session_per_client(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(2)
    ip = cluster_ip()
    ports = [{"name": "u", "port": 5353, "protocol": "UDP"}]
    await create_service(api, "dns", ip, 5353, ports=ports)
    await create_slices(api, "dns", backends)
    loop = asyncio.get_running_loop()

    async def one_exchange() -> str:
        answer: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not answer.done():
                    answer.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(ip, 5353))
        try:
            for _ in range(50):  # datagrams may be dropped until the proxy listens
                transport.sendto(b"hello")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        return (await asyncio.shield(answer)).decode()
            raise AssertionError("no answer")
        finally:
            transport.close()

    seen = {await one_exchange() for _ in range(6)}
    assert seen == {pod.name for pod in backends}


async def test_a_deleted_service_stops_listening(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    backends = await pods(1)
    ip = cluster_ip()
    await create_service(api, "gone", ip, 8080)
    await create_slices(api, "gone", backends)
    await eventually(lambda: answers(ip, 8080))
    await api.delete(SERVICES, "gone", namespace="default")
    assert await eventually(lambda: refused(ip, 8080))


async def test_external_ips_and_local_traffic_policy(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    here, elsewhere = await pods(2)
    external_ip = str(POD_RANGE[200])  # local: the pods fixture made the range local
    node_port = free_port(low=30000 + (id(api) % 2000))
    ports = [{"name": "p", "port": 8080, "protocol": "TCP", "nodePort": node_port}]
    ip = cluster_ip()
    await create_service(
        api,
        "local",
        ip,
        8080,
        type="NodePort",
        ports=ports,
        externalIPs=[external_ip],
        externalTrafficPolicy="Local",
    )
    body = slice_body("local", [here, elsewhere])
    body["endpoints"][1]["nodeName"] = "node-2"  # the proxy runs as node-1
    body["ports"] = [{"name": "p", "port": here.port, "protocol": "TCP"}]
    await api.create(ENDPOINT_SLICES, body)

    async def both_by_cluster_ip() -> bool:
        with contextlib.suppress(OSError):
            return len(set(await names_seen(ip, 8080, 4))) == 2
        return False

    await eventually(both_by_cluster_ip)
    await eventually(lambda: answers(external_ip, 8080))
    assert set(await names_seen(external_ip, 8080, 4)) == {here.name}
    assert set(await names_seen("127.0.0.1", node_port, 4)) == {here.name}


async def test_a_large_exchange_arrives_intact_through_back_pressure(
    api: ApiClient, proxy: RunningProxy, pods: Pods
) -> None:
    [backend] = await pods(1)
    ip = cluster_ip()
    await create_service(api, "bulk", ip, 8080)
    await create_slices(api, "bulk", [backend])
    await eventually(lambda: answers(ip, 8080))
    # about 20 MiB each way, every answer left unread until all is sent: the proxy's
    # writes back up and it pauses and resumes reading, reusing no buffer still queued
    lines = [f"{index:06d} {'x' * 1000}\n".encode() for index in range(20_000)]
    async with asyncio.timeout(GUARD):
        reader, writer = await asyncio.open_connection(ip, 8080)
        try:
            assert await reader.readline() == f"{backend.name}\n".encode()
            writer.writelines(lines)
            await writer.drain()
            received = [await reader.readline() for _ in lines]
        finally:
            writer.close()
    assert received == [f"{backend.name} ".encode() + line for line in lines]
