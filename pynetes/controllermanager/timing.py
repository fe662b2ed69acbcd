"""Waiting on a clock that tests may replace: the periods and deadlines of controllers.

Controllers compare times on ``context.clock`` (monotonic) or
``context.wall_clock`` (time.time-like), and tests replace both with clocks
they advance by hand. Sleeping for a whole period of real time would ignore
such a clock, so :func:`sleep_until` sleeps in short steps and looks at the
clock after each: a real clock costs a few wake-ups, a test's clock is
noticed within :data:`STEP` of being advanced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pynetes.client.flowcontrol import Clock

log = logging.getLogger(__name__)

#: The longest real sleep between two looks at the clock.
STEP = 0.1


async def sleep_until(clock: Clock, deadline: float) -> None:
    """Return once ``clock()`` has reached ``deadline``."""
    while (remaining := deadline - clock()) > 0:  # noqa: ASYNC110 - the clock is what changes
        await asyncio.sleep(min(remaining, STEP))


async def every(clock: Clock, period: float, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` now and then each ``period`` seconds of ``clock``, until cancelled.

    As upstream's ``wait.Until``: the period counts from the end of one run
    to the start of the next, so a slow run never piles runs up. A run that
    raises is logged; the next one still comes on time.
    """
    while True:
        try:
            await action()
        except Exception:
            log.exception("a periodic run failed")
        await sleep_until(clock, clock() + period)
