"""``/healthz``, ``/livez`` and ``/readyz``, answered as upstream's healthz package does.

Each endpoint runs its named checks: ``ping`` and ``log`` (the server answers),
``etcd`` (the store answers a read of its revision within :data:`CHECK_TIMEOUT`),
and for readiness ``etcd-readiness`` (the same) and ``shutdown`` (the server is
not stopping). All passing, the answer is ``ok``; with ``?verbose``, or when a
check fails (500), one line per check (``[+]etcd ok``, ``[-]etcd failed: reason
withheld``) and ``<endpoint> check passed|failed``. ``?exclude=<check>`` skips a
check; ``/readyz/<check>`` runs that one alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from pynetes.api import errors

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT = 2.0


class Unhealthy(Exception):
    """A check failed; the message goes to the log, never to the client."""


class HealthChecks:
    """The checks of each endpoint, by name, in the order they are reported."""

    def __init__(self, store_revision: Callable[[], Awaitable[int]]) -> None:
        self._store_revision = store_revision
        self.stopping = False
        common: dict[str, Check] = {"ping": _passes, "log": _passes, "etcd": self._store}
        self._endpoints: dict[str, Mapping[str, Check]] = {
            "healthz": common,
            "livez": common,
            "readyz": {**common, "etcd-readiness": self._store, "shutdown": self._not_stopping},
        }

    def handles(self, path: str) -> bool:
        """Whether ``path`` is one of the endpoints or one of their checks."""
        endpoint, _, check = path.strip("/").partition("/")
        return endpoint in self._endpoints and (not check or "/" not in check)

    async def answer(self, request: web.BaseRequest) -> web.Response:
        endpoint, _, only = request.path.strip("/").partition("/")
        checks = self._endpoints[endpoint]
        if only:
            if only not in checks:
                raise errors.path_not_found()
            failure = await self._run(only, checks[only])
            if failure is None:
                return web.Response(text="ok")
            return web.Response(status=500, text=f"internal server error: {failure}")
        excluded = set(request.query.getall("exclude", ()))
        lines, failed = [], False
        for name, check in checks.items():
            if name in excluded:
                lines.append(f"[+]{name} excluded: ok")
                continue
            failure = await self._run(name, check)
            failed = failed or failure is not None
            lines.append(
                f"[+]{name} ok" if failure is None else f"[-]{name} failed: reason withheld"
            )
        if not failed and "verbose" not in request.query:
            return web.Response(text="ok")
        lines.append(f"{endpoint} check {'failed' if failed else 'passed'}")
        return web.Response(status=500 if failed else 200, text="\n".join(lines) + "\n")

    @staticmethod
    async def _run(name: str, check: Check) -> str | None:
        """None when ``check`` passes, else why (logged: the client sees it withheld)."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await check()
        except (Unhealthy, TimeoutError, OSError) as error:
            reason = str(error) or type(error).__name__
            log.warning("health check %s failed: %s", name, reason)
            return reason
        return None

    async def _store(self) -> None:
        try:
            await self._store_revision()
        except Exception as error:  # any store failure makes the check fail, never a 500
            raise Unhealthy(f"the store does not answer: {error}") from error

    async def _not_stopping(self) -> None:
        if self.stopping:
            raise Unhealthy("the server is shutting down")


async def _passes() -> None:
    return None
