"""pynetes.scheduler: kube-scheduler, as upstream's pkg/scheduler.

It watches pods without a node, filters the nodes that cannot take each one,
scores the rest with the plugins of the pod's profile and POSTs a Binding.
"""
