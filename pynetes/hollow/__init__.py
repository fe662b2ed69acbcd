"""pynetes.hollow: fake nodes whose fake kubelets keep Leases fresh and run nothing.

For tests and benchmarks of every control-plane component, as KWOK is for
Kubernetes: :class:`HollowNodes` registers the nodes of a list of
:class:`NodeSpec` (:func:`generate_node_specs` makes N), renews their
Leases, and reports pods bound to them Running. ``pynetes hollow-nodes``
runs it from the command line.
"""

from pynetes.hollow.runner import HollowNodes
from pynetes.hollow.spec import NodeSpec, Taint, generate_node_specs, parse_labels, parse_taints

__all__ = [
    "HollowNodes",
    "NodeSpec",
    "Taint",
    "generate_node_specs",
    "parse_labels",
    "parse_taints",
]
