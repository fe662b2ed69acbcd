"""The processes ``pynetes up``/``init``/``join`` start themselves, as systemd would.

Each is ``python -m pynetes <component> ...`` writing to ``logs/<name>.log``. The
rest of the cluster runs as pods of the kubelet started here.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pynetes.cluster.output import log_tail
from pynetes.cluster.supervise import STOP_TIMEOUT


@dataclass
class Child:
    """One child process and the log file it writes."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    def last_words(self, lines: int = 30) -> str:
        """The end of its log, for a message saying why it stopped."""
        return log_tail(self.log_path, lines)


async def start_child(logs: Path, name: str, arguments: Sequence[str]) -> Child:
    """Start ``pynetes <arguments>`` with its output appended to ``logs/<name>.log``."""
    await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pynetes",
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    return Child(name, process, log_path)


async def stop_children(children: Sequence[Child]) -> None:
    """SIGTERM every child still running, then SIGKILL what did not stop in time."""
    for child in children:
        if not child.exited:
            child.process.terminate()
    for child in children:
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await child.process.wait()
        except TimeoutError:
            child.process.kill()
            await child.process.wait()
