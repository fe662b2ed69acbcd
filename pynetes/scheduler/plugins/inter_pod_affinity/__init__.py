"""InterPodAffinity: place a pod near (affinity) or away from (anti-affinity)
pods its terms select, within a topology domain (node, zone, any node label).

Required terms filter, also the required anti-affinity of pods already
placed (symmetry: a pod may not move in next to pods that refuse it);
preferred terms, and existing pods' terms towards the incoming pod, score.
Matching is done once per pod in PreFilter and PreScore, per domain.
"""

from pynetes.scheduler.plugins.inter_pod_affinity.plugin import NAME, InterPodAffinity, new

__all__ = ["NAME", "InterPodAffinity", "new"]
