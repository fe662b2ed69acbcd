"""The grpc probe: the standard ``grpc.health.v1.Health/Check``, SERVING meaning healthy.

Like upstream: plain-text gRPC (no credentials), the connection must come up and
the call finish within the probe's timeout; the texts are upstream's.
"""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pynetes.api.duration import format_duration
from pynetes.api.gofmt import go_quote
from pynetes.kubelet.prober.http import KUBE_VERSION
from pynetes.kubelet.prober.ports import join_host_port
from pynetes.kubelet.prober.results import ProbeOutcome, ProbeResult

#: Go's names of the gRPC codes where Python spells them otherwise.
_GO_CODE_NAMES = {grpc.StatusCode.CANCELLED: "Canceled", grpc.StatusCode.OK: "OK"}


async def grpc_probe(host: str, port: int, service: str, time_limit: float) -> ProbeOutcome:
    """Success when the server at ``host:port`` answers SERVING for ``service``."""
    address = join_host_port(host, port)
    within = format_duration(time_limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    options = [("grpc.primary_user_agent", f"kube-probe/{KUBE_VERSION}")]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), time_limit)
        except TimeoutError:
            return _failure(
                f"timeout: failed to connect service {go_quote(address)} within {within}: "
                "context deadline exceeded"
            )
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            response = await stub.Check(request, timeout=max(deadline - loop.time(), 0.001))
        except grpc.aio.AioRpcError as error:
            return _failure(_rpc_error_text(error, within))
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        return _failure(f"service unhealthy (responded with {go_quote(status)})")
    return ProbeOutcome(ProbeResult.SUCCESS, "service healthy")


def _rpc_error_text(error: grpc.aio.AioRpcError, within: str) -> str:
    code = error.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return (
            "error: this server does not implement the grpc health protocol "
            f"(grpc.health.v1.Health): {error.details()}"
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"timeout: health rpc did not complete within {within}"
    return (
        "error: health rpc probe failed: "
        f"rpc error: code = {_go_code_name(code)} desc = {error.details()}"
    )


def _go_code_name(code: grpc.StatusCode) -> str:
    """``NOT_FOUND`` -> ``NotFound``, as grpc-go prints codes."""
    if code in _GO_CODE_NAMES:
        return _GO_CODE_NAMES[code]
    return "".join(word.capitalize() for word in code.name.split("_"))


def _failure(output: str) -> ProbeOutcome:
    return ProbeOutcome(ProbeResult.FAILURE, output)
