"""What a controller module tells the controller manager about itself."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pynetes.controllermanager.context import ControllerContext


class Runnable(Protocol):
    """A built controller: ``run`` works until cancelled.

    It is called once the shared informers the controller asked for while
    it was built have synced.
    """

    async def run(self) -> None: ...


@dataclass(frozen=True)
class ControllerDescriptor:
    """One controller as ``--controllers`` knows it.

    ``name`` is upstream's (``replicaset``, ``garbagecollector``, ...).
    ``build`` makes the controller: it asks ``context.informers`` for the
    informers it needs and adds its handlers, but starts nothing.
    ``concurrency_flag`` names the ``--concurrent-X-syncs`` flag giving its
    worker count (``default_workers`` unless set), as upstream's flags do;
    ``add_arguments`` adds any further flags it reads from
    ``context.options``. ``enabled_by_default`` False keeps it out of ``*``,
    as upstream does for bootstrapsigner and tokencleaner.
    """

    name: str
    build: Callable[[ControllerContext], Runnable]
    concurrency_flag: str | None = None
    default_workers: int = 1
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    enabled_by_default: bool = True

    @property
    def workers_option(self) -> str | None:
        """The ``context.options`` attribute holding the worker count."""
        if self.concurrency_flag is None:
            return None
        return self.concurrency_flag.removeprefix("--").replace("-", "_")
