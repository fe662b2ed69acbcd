"""Fixtures of the network tests: pod networking on the test's own bridge (``network``)."""

from __future__ import annotations

from tests.integration.kubelet.test_pod_network import network

__all__ = ["network"]
