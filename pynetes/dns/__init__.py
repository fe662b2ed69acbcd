"""Cluster DNS (``pynetes dns``): the Kubernetes DNS-Based Service Discovery
specification served from Services, EndpointSlices and Pods, as CoreDNS's
kubernetes plugin does; and the pod resolv.conf the kubelet writes."""
