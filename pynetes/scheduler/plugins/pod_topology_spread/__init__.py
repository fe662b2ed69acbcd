"""PodTopologySpread: spread a pod's matching pods evenly over topology domains
(zones, hostnames, any node label), as its topologySpreadConstraints ask.

DoNotSchedule constraints filter (no domain may get more than maxSkew above
the emptiest), ScheduleAnyway constraints score. Counting is done once per
pod in PreFilter and PreScore, never per node pair.
"""

from pynetes.scheduler.plugins.pod_topology_spread.plugin import NAME, PodTopologySpread, new

__all__ = ["NAME", "PodTopologySpread", "new"]
