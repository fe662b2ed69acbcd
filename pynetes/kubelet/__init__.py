"""kubelet: the node agent that runs the pods bound to its node through a container runtime."""
