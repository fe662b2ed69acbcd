"""PodTopologySpread: spread a pod's matching pods evenly over topology domains
(zones, hostnames, any node label), as its topologySpreadConstraints ask.

DoNotSchedule constraints filter (no domain may get more than maxSkew above
the emptiest), ScheduleAnyway constraints score. A pod without constraints
of its own gets the plugin's defaults (upstream's System defaults: hostname
maxSkew 3 and zone maxSkew 5, ScheduleAnyway), counting the pods of its
Services and controller. Counting is done once per pod in PreFilter and
PreScore, never per node pair.
"""

from pynetes.scheduler.plugins.pod_topology_spread.plugin import NAME, PodTopologySpread, new

__all__ = ["NAME", "PodTopologySpread", "new"]
