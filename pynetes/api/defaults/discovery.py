"""Defaults of ``discovery.k8s.io/v1``, as upstream's pkg/apis/discovery/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_pointer


def _endpoint_port(port: Obj) -> None:
    default_pointer(port, "name", "")
    default_pointer(port, "protocol", "TCP")


DEFAULTERS = {"io.k8s.api.discovery.v1.EndpointPort": _endpoint_port}
