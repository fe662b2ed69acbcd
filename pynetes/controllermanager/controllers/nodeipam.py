"""The node IPAM controller: each Node gets a podCIDR of its own from ``--cluster-cidr``.

As upstream's RangeAllocator (``--allocate-node-cidrs`` with a ``--cluster-cidr``; off
otherwise, as upstream): the cluster CIDR is cut into blocks of
``--node-cidr-mask-size`` bits. At start every Node's existing podCIDR is marked used,
before any Node is given one, so no block is handed out twice; then a Node without
``spec.podCIDR`` gets the next free block (``spec.podCIDR`` and ``spec.podCIDRs``,
which the API server lets be set once), and a deleted Node's block is free again. When
no block is left the Node gets a ``CIDRNotAvailable`` Event (upstream's wording) and is
tried again later (at once when a block is freed).

Differences from upstream, on purpose: IPv4 or IPv6 single-stack only (one cluster
CIDR), and the service range is not carved out of the cluster CIDR.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from typing import Any

from pynetes.api.resources import built_in
from pynetes.cli.flags import add_bool_flag
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.events import NORMAL
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)
Object = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NODES = built_in("", "v1", "nodes")
#: The component of the Events, upstream's.
COMPONENT = "cidrAllocator"
#: Seconds before a Node that found the range full is tried again.
FULL_RETRY = 10.0


class CidrSet:
    """The blocks of ``prefix`` bits in ``cluster``, each used or free."""

    def __init__(self, cluster: Network, prefix: int) -> None:
        if prefix < cluster.prefixlen or prefix > cluster.max_prefixlen:
            raise ValueError(f"node CIDR mask size {prefix} does not fit in {cluster}")
        self.cluster = cluster
        self.prefix = prefix
        self._size = 1 << (prefix - cluster.prefixlen)
        self._used: set[int] = set()
        self._next = 0

    def _index(self, block: Network) -> int | None:
        """The block's index, or None when it is not one of this set's blocks."""
        if block.prefixlen != self.prefix or not block.subnet_of(self.cluster):  # type: ignore[arg-type]
            return None
        offset = int(block.network_address) - int(self.cluster.network_address)
        return offset >> (block.max_prefixlen - self.prefix)

    def _block(self, index: int) -> Network:
        step = 1 << (self.cluster.max_prefixlen - self.prefix)
        address = ipaddress.ip_address(int(self.cluster.network_address) + index * step)
        return ipaddress.ip_network(f"{address}/{self.prefix}")

    def occupy(self, block: Network) -> bool:
        """Marks ``block`` used; False when it is not one of this set's blocks."""
        index = self._index(block)
        if index is None:
            return False
        self._used.add(index)
        return True

    def allocate(self) -> Network | None:
        """The next free block (after the last one handed out, as upstream), or None."""
        for step in range(self._size):
            index = (self._next + step) % self._size
            if index not in self._used:
                self._used.add(index)
                self._next = (index + 1) % self._size
                return self._block(index)
        return None

    def release(self, block: Network) -> None:
        index = self._index(block)
        if index is not None:
            self._used.discard(index)


class NodeIpamController:
    """Gives Nodes podCIDRs from the cluster CIDR (see the module)."""

    def __init__(self, context: ControllerContext) -> None:
        options = context.options
        self._client = context.client
        self._cidrs: CidrSet | None = None
        if options.allocate_node_cidrs:
            if not options.cluster_cidr:
                raise ValueError("--allocate-node-cidrs needs a --cluster-cidr")
            cluster = ipaddress.ip_network(options.cluster_cidr, strict=False)
            self._cidrs = CidrSet(cluster, options.node_cidr_mask_size)
        #: The block each Node has (from us or found on it), by Node name.
        self._assigned: dict[str, Network] = {}
        self._recorder = context.recorder(COMPONENT)
        nodes = context.informers.informer(NODES)
        self._nodes = Lister(nodes.store)
        self._controller = Controller("nodeipam", self._sync, queue=context.queue("nodeipam"))
        queue = self._controller.queue

        def changed(node: Object) -> None:
            queue.add(node["metadata"]["name"])

        nodes.add_event_handler(
            EventHandler(on_add=changed, on_update=lambda _o, n: changed(n), on_delete=changed)
        )

    async def run(self) -> None:
        if self._cidrs is None:
            log.info("nodeipam: --allocate-node-cidrs is off; nodes get no podCIDR")
            return
        for node in self._nodes.list():
            self._occupy(node)
        await self._controller.run()

    def _occupy(self, node: Object) -> bool:
        """Takes note of the podCIDR the Node has; False when it has none of ours."""
        assert self._cidrs is not None
        text = (node.get("spec") or {}).get("podCIDR")
        if not text:
            return False
        block = ipaddress.ip_network(text, strict=False)
        if self._cidrs.occupy(block):
            self._assigned[node["metadata"]["name"]] = block
        return True

    async def _sync(self, name: str) -> Result:
        assert self._cidrs is not None
        node = self._nodes.get(name)
        if node is None:
            block = self._assigned.pop(name, None)
            if block is not None:
                self._cidrs.release(block)
                self._requeue_waiting()
            return Result()
        if self._occupy(node):
            return Result()
        block = self._assigned.get(name) or self._cidrs.allocate()
        if block is None:
            message = f"Node {name} status is now: CIDRNotAvailable"
            self._recorder.event(_reference(node), NORMAL, "CIDRNotAvailable", message)
            return Result(requeue_after=FULL_RETRY)
        self._assigned[name] = block
        patch = {"spec": {"podCIDR": str(block), "podCIDRs": [str(block)]}}
        try:
            await self._client.patch(NODES, name, patch)
        except errors.NotFound:
            del self._assigned[name]
            self._cidrs.release(block)
        return Result()

    def _requeue_waiting(self) -> None:
        """A block was freed: the Nodes still without one need not wait for their retry."""
        for node in self._nodes.list():
            if not (node.get("spec") or {}).get("podCIDR"):
                self._controller.queue.add(node["metadata"]["name"])


def _reference(node: Object) -> Object:
    metadata = node["metadata"]
    return {"kind": "Node", "apiVersion": "v1", "name": metadata["name"], "uid": metadata["uid"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bool_flag(
        parser,
        "--allocate-node-cidrs",
        False,
        "give each Node a podCIDR from --cluster-cidr (the node IPAM controller)",
    )
    parser.add_argument("--cluster-cidr", default="", help="the CIDR range of the pods")
    parser.add_argument(
        "--node-cidr-mask-size", type=int, default=24, help="the prefix length of node podCIDRs"
    )


CONTROLLER = ControllerDescriptor(
    name="nodeipam", build=NodeIpamController, add_arguments=add_arguments
)
