"""/healthz, /livez, /readyz: upstream's answers, for passing and failing checks."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from pynetes.api.errors import ApiError
from pynetes.apiserver.health import HealthChecks


async def revision() -> int:
    return 7


async def no_store() -> int:
    raise ConnectionRefusedError("connection refused")


async def answer(checks: HealthChecks, path: str) -> tuple[int, str]:
    response = await checks.answer(make_mocked_request("GET", path))
    return response.status, response.text or ""


async def test_all_passing_is_ok_and_verbose_lists_each_check() -> None:
    checks = HealthChecks(revision)
    assert await answer(checks, "/livez") == (200, "ok")
    assert await answer(checks, "/healthz?verbose") == (
        200,
        "[+]ping ok\n[+]log ok\n[+]etcd ok\nhealthz check passed\n",
    )
    assert await answer(checks, "/readyz?verbose&exclude=log") == (
        200,
        "[+]ping ok\n[+]log excluded: ok\n[+]etcd ok\n[+]etcd-readiness ok\n[+]shutdown ok\n"
        "readyz check passed\n",
    )
    assert await answer(checks, "/readyz/shutdown") == (200, "ok")


async def test_a_failing_check_fails_its_endpoints_without_telling_why() -> None:
    checks = HealthChecks(no_store)
    status, text = await answer(checks, "/readyz")
    assert status == 500
    assert "[-]etcd failed: reason withheld\n" in text and text.endswith("readyz check failed\n")
    assert "connection refused" not in text
    assert await answer(checks, "/readyz?exclude=etcd&exclude=etcd-readiness") == (200, "ok")
    status, text = await answer(checks, "/livez/etcd")
    assert status == 500 and text.startswith("internal server error: ")


async def test_a_stopping_server_is_not_ready_but_live() -> None:
    checks = HealthChecks(revision)
    checks.stopping = True
    assert (await answer(checks, "/readyz"))[0] == 500
    assert await answer(checks, "/livez") == (200, "ok")


async def test_only_the_endpoints_and_their_checks_are_health_paths() -> None:
    checks = HealthChecks(revision)
    assert checks.handles("/readyz") and checks.handles("/readyz/etcd")
    assert not checks.handles("/readyzz") and not checks.handles("/readyz/etcd/x")
    with pytest.raises(ApiError) as missing:
        await answer(checks, "/readyz/nothing")
    assert missing.value.code == 404
