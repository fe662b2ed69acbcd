"""kube-proxy's iptables backend (``pynetes proxy --mode iptables``; root, Linux).

``IptablesProxier(*, cluster_cidr=None, masquerade_all=False, node_port_addresses=(),
localhost_nodeports=False, node_name=None, sync_period=30.0)`` implements
:class:`pynetes.proxy.model.ProxyBackend` (``await sync(services)``,
``await cleanup()``); see :class:`.proxier.IptablesProxier` for each argument.
It assumes the caller has made the service range local
(``ip route add local <service-cidr> dev lo``).
"""

from pynetes.proxy.iptables.proxier import IptablesProxier

__all__ = ["IptablesProxier"]
