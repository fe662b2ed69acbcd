"""Fixtures of the kubelet tests: the controller tests' client of the real API server."""

from __future__ import annotations

from tests.integration.controllers.conftest import api

__all__ = ["api"]
