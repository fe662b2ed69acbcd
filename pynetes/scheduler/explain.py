"""``pynetes scheduler explain NAMESPACE/POD``: why a pod went where it went.

Asks a running scheduler's ``GET /explain/NAMESPACE/POD`` (see
:mod:`pynetes.scheduler.decisions`) and prints the answer as a table: one
row per evaluated node with its verdict (the plugin that rejected it and
why), each Score plugin's weighted score, the total, and a ``*`` on the
chosen node. Exit status 0 when the scheduler knew the pod, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

import aiohttp

Object = dict[str, Any]
DEFAULT_ADDRESS = "127.0.0.1:10251"
#: The server answers from memory; this only bounds a hung connection.
TIMEOUT_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pod", metavar="NAMESPACE/POD", help="the pod to explain")
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"the scheduler's HTTP host:port (default {DEFAULT_ADDRESS})",
    )


def run(arguments: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    namespace, _, name = arguments.pod.rpartition("/")
    if not namespace or not name:
        print(f"error: {arguments.pod!r} is not NAMESPACE/POD", file=sys.stderr)
        return 2
    try:
        status, body = asyncio.run(_fetch(arguments.address, namespace, name))
    except (aiohttp.ClientError, TimeoutError) as error:
        print(f"error: cannot reach the scheduler at {arguments.address}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"error: {body.get('message', status)}", file=sys.stderr)
        return 1
    out.write(render(body))
    return 0


async def _fetch(address: str, namespace: str, name: str) -> tuple[int, Object]:
    url = f"http://{address}/explain/{namespace}/{name}"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        return response.status, await response.json()


def render(explanation: Object) -> str:
    """The explanation as a heading and an aligned table (plain text, no colours)."""
    lines = [_heading(explanation)]
    nodes = explanation["nodes"]
    plugins = sorted({plugin for node in nodes for plugin in node["scores"]})
    header = ["NODE", "VERDICT", "REASON", *plugins, "TOTAL", "CHOSEN"]
    rows = [header] + [_row(node, plugins) for node in nodes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
    return "\n".join(lines) + "\n"


def _heading(explanation: Object) -> str:
    pod, node = explanation["pod"], explanation["node"]
    verdict = f"bound to {node}" if node and not explanation["message"] else "not bound"
    heading = (
        f"pod {pod} (profile {explanation['profile']}): {verdict}, "
        f"{explanation['ageSeconds']:.0f}s ago, attempt took "
        f"{explanation['attemptSeconds'] * 1000:.1f}ms; "
        f"{explanation['evaluatedNodes']} of {explanation['allNodes']} nodes evaluated"
    )
    if explanation["message"]:
        heading += f"\n{explanation['message']}"
    pre_filter = explanation["preFilter"]
    if pre_filter is not None:
        heading += f"\nPreFilter {pre_filter['plugin']}: {pre_filter['reason']}"
    return heading


def _row(node: Object, plugins: list[str]) -> list[str]:
    reason = f"{node['plugin']}: {node['reason']}" if node["plugin"] else node["reason"]
    scores = [str(node["scores"].get(plugin, "")) for plugin in plugins]
    total = "" if node["total"] is None else str(node["total"])
    return [node["name"], node["verdict"], reason, *scores, total, "*" if node["chosen"] else ""]
