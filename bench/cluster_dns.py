"""Cluster DNS benchmark: UDP queries/s answered by ``pynetes dns``'s server, next to
its floor, a bare asyncio UDP echo server, in one run.

    python bench/cluster_dns.py [--seconds 5] [--clients 2] [--window 32] [--services 1000]

The server under test is :class:`pynetes.dns.server.DnsServer` with a store
filled by hand with ``--services`` ClusterIP Services (the query path is the
same as with informers: they only fill the store); the floor echoes each
datagram back. It is measured as it runs (answers encoded once per question
until the store changes) and with its answer cache off (each query parsed,
answered and encoded with dnspython). Each server runs in a process of its own; ``--clients``
processes each keep ``--window`` A queries (for the Services' names in turn)
in flight over blocking sockets and count the answers. Everything talks to
127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import socket
import time
from multiprocessing.connection import Connection

import dns.message

from pynetes.dns import names, records
from pynetes.dns.answer import Answerer
from pynetes.dns.cache import DEFAULT_LIMIT
from pynetes.dns.metrics import DnsMetrics
from pynetes.dns.server import DnsServer
from pynetes.dns.store import RecordStore

ZONE = names.zone("cluster.local")


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


def _serve(kind: str, services: int, ready: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        if kind == "echo":
            transport, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
        else:
            store = RecordStore()
            store.replace("zone", records.zone_records(ZONE))
            for i in range(services):
                ip = str(ipaddress.ip_address("10.96.0.0") + 10 + i)
                obj = {
                    "metadata": {"name": f"svc-{i}", "namespace": "default"},
                    "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80}]},
                }
                store.replace(f"service/default/svc-{i}", records.service_records(obj, [], ZONE))
            limit = 0 if kind == "dns-uncached" else DEFAULT_LIMIT
            server = DnsServer(Answerer(store, ZONE), DnsMetrics("dns://bench"), cache_limit=limit)
            _, port = await server.start("127.0.0.1", 0)
        ready.send(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def _client(port: int, seconds: float, window: int, services: int, out: Connection) -> None:
    queries = []
    for i in range(services):
        query = dns.message.make_query(f"svc-{i}.default.svc.cluster.local.", "A")
        query.id = i % 65536
        queries.append(query.to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(1.0)
    sent = 0
    for _ in range(window):
        sock.send(queries[sent % services])
        sent += 1
    answered = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            sock.recv(4096)
        except TimeoutError:  # a lost datagram: put another in flight
            pass
        else:
            answered += 1
        sock.send(queries[sent % services])
        sent += 1
    out.send(answered / (time.perf_counter() - started))


def measure(kind: str, arguments: argparse.Namespace) -> float:
    """Queries/s all clients together got answered by a ``kind`` server."""
    context = multiprocessing.get_context("spawn")
    ready, ready_child = context.Pipe()
    server = context.Process(target=_serve, args=(kind, arguments.services, ready_child))
    server.start()
    try:
        port = ready.recv()
        pipes, clients = [], []
        for _ in range(arguments.clients):
            result, result_child = context.Pipe()
            client = context.Process(
                target=_client,
                args=(port, arguments.seconds, arguments.window, arguments.services, result_child),
            )
            client.start()
            pipes.append(result)
            clients.append(client)
        rate = sum(pipe.recv() for pipe in pipes)
        for client in clients:
            client.join()
        return rate
    finally:
        server.kill()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--services", type=int, default=1000)
    arguments = parser.parse_args()
    floor = measure("echo", arguments)
    served = measure("dns", arguments)
    uncached = measure("dns-uncached", arguments)
    print(f"UDP echo floor:             {floor:10,.0f} datagrams/s")
    print(f"pynetes dns, UDP A:         {served:10,.0f} queries/s ({served / floor:.0%} of floor)")
    print(f"  every answer made afresh: {uncached:10,.0f} queries/s ({uncached / floor:.0%})")


if __name__ == "__main__":
    main()
