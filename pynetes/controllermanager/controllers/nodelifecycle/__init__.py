"""The node lifecycle controller (upstream's ``nodelifecycle``), one module per concept.

:mod:`.health` tells when a node fell silent, :mod:`.taints` which taints
a node's state calls for and how they are written, :mod:`.zones` how fast
each zone's nodes may be tainted, :mod:`.pods` the pods on a node, and
:mod:`.controller` runs it all. Evicting pods from NoExecute-tainted nodes
is the separate ``taint-eviction-controller``'s, as in Kubernetes 1.31.
"""

from __future__ import annotations

import argparse

from pynetes.controllermanager.controllers.nodelifecycle.controller import (
    NodeLifecycleController,
)
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.controllermanager.options import duration


def positive_duration(text: str) -> float:
    """A Go duration that must be more than zero (a zero period would spin)."""
    seconds = duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than zero, not {text!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Upstream's flags of the node lifecycle controller, with their 1.31 defaults."""
    parser.add_argument(
        "--node-monitor-period",
        type=positive_duration,
        default=5.0,
        help="how often node health is checked",
    )
    parser.add_argument(
        "--node-monitor-grace-period",
        type=duration,
        default=40.0,
        help="how long a running node may be silent before it is marked unhealthy",
    )
    parser.add_argument(
        "--node-startup-grace-period",
        type=duration,
        default=60.0,
        help="how long a starting node may be silent before it is marked unhealthy",
    )
    parser.add_argument(
        "--node-eviction-rate",
        type=float,
        default=0.1,
        help="nodes a second tainted for eviction in a healthy zone",
    )
    parser.add_argument(
        "--secondary-node-eviction-rate",
        type=float,
        default=0.01,
        help="nodes a second tainted for eviction in an unhealthy zone of a large cluster",
    )
    parser.add_argument(
        "--large-cluster-size-threshold",
        type=int,
        default=50,
        help="zones with more nodes than this are large (smaller unhealthy zones taint none)",
    )
    parser.add_argument(
        "--unhealthy-zone-threshold",
        type=float,
        default=0.55,
        help="share of not-ready nodes (at least 3) that makes a zone unhealthy",
    )


CONTROLLER = ControllerDescriptor(
    name="nodelifecycle", build=NodeLifecycleController, add_arguments=add_arguments
)

__all__ = ["CONTROLLER", "NodeLifecycleController"]
