"""The controller runtime: workers that reconcile keys taken from a rate limiting queue.

It follows controller-runtime's reconcileHandler. A reconcile function gets a
key ("namespace/name") and returns a :class:`Result`:

- done (``Result()``): the key's backoff is forgotten;
- retry (``Result(requeue=True)``): the key comes back after its backoff;
- requeue after (``Result(requeue_after=s)``): the backoff is forgotten and
  the key comes back in ``s`` seconds.

An exception is logged and retried with backoff, as a returned error is
upstream; it never ends a worker. The queue guarantees no two workers hold
the same key, so a reconcile function needs no per-object locking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pynetes.client.workqueue import RateLimitingQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for next; the default, ``Result()``, is done.

    ``requeue_after`` wins over ``requeue`` when both are set, as upstream.
    """

    requeue: bool = False
    requeue_after: float = 0.0


Reconcile = Callable[[str], Awaitable[Result]]


class Controller:
    """``workers`` tasks that take keys from ``queue`` and reconcile them.

    Feed it with ``controller.queue.add(key)`` (typically from informer
    event handlers). The default queue is a :class:`RateLimitingQueue` named
    ``name`` with client-go's default controller rate limiter.
    """

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 1,
        queue: RateLimitingQueue[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a controller needs at least one worker, not {workers}")
        self.name = name
        self.workers = workers
        # not `queue or ...`: an empty queue is falsy (it has a length)
        self.queue: RateLimitingQueue[str] = (
            RateLimitingQueue(name=name) if queue is None else queue
        )
        self._reconcile = reconcile

    async def run(self) -> None:
        """Run the workers until :meth:`stop` or cancellation.

        After :meth:`stop` the workers finish the keys they hold and those
        still waiting, then ``run`` returns. Cancelling ``run`` cancels the
        reconciles in flight (the asyncio form of upstream's cancelled
        context), marks their keys done, waits for the workers to unwind and
        re-raises; either way the queue is shut down and its timers stopped.
        """
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(self.workers):
                    workers.create_task(self._work())
        finally:
            self.queue.shut_down()

    def stop(self) -> None:
        """Stop taking new keys; :meth:`run` returns once the queued ones are done."""
        self.queue.shut_down()

    async def _work(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                await self._process(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: str) -> None:
        """Reconcile ``key`` once and requeue it as the outcome asks."""
        try:
            result = await self._reconcile(key)
        except Exception:
            log.exception("Reconciler error: controller %s, key %s", self.name, key)
            self.queue.add_rate_limited(key)
            return
        if result.requeue_after > 0:
            self.queue.forget(key)
            self.queue.add_after(key, result.requeue_after)
        elif result.requeue:
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
