"""kube-proxy: Services made real on a node (userspace and iptables backends)."""
