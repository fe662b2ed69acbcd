"""Fixtures of the kubelet tests: the real API server (``cluster``) and a client of it (``api``)."""

from tests.integration.controllers.conftest import api

__all__ = ["api"]
