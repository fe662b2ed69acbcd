"""Fixtures of the controller tests: a client of the real API server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client
