"""Fixtures of the kubelet tests: the real API server (``cluster``) and a client of it (``api``)."""

from __future__ import annotations

from tests.integration.controllers.conftest import api

__all__ = ["api"]
