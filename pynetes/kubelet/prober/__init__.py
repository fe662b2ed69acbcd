"""The kubelet's probes: liveness, readiness and startup, with exec, httpGet, tcpSocket, grpc.

:class:`~pynetes.kubelet.prober.manager.ProbeManager` runs them for the kubelet;
:class:`~pynetes.kubelet.prober.prober.Prober` runs one probe once.
"""
