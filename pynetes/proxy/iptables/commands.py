"""Running the machine's iptables tools (``iptables``, ``iptables-restore``, ``iptables-save``)
and ``conntrack``.

Whatever backend the tools use (nf_tables on Debian's ``iptables`` package, or
legacy xtables), they take the same arguments; ``-w`` waits for the lock another
iptables user may hold instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class IptablesError(RuntimeError):
    """An iptables tool failed; the message carries its arguments and stderr."""


class CommandRunner(Protocol):
    """Runs one command: its stdout, or :class:`IptablesError` when it exits non-zero."""

    async def __call__(self, args: list[str], stdin: str | None = None) -> str: ...


async def run(args: list[str], stdin: str | None = None) -> str:
    """Run ``args`` (feeding ``stdin``) and return its stdout; IptablesError on failure."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if process.returncode != 0:
        raise IptablesError(f"{' '.join(args)}: exit {process.returncode}: {err.decode().strip()}")
    return out.decode()


class Iptables:
    """The few operations the proxier needs, over a :class:`CommandRunner`."""

    def __init__(self, runner: CommandRunner = run) -> None:
        self._run = runner
        self._no_conntrack = False

    async def restore(self, text: str) -> None:
        """Apply ``text`` atomically per table, leaving chains it does not name alone."""
        await self._run(["iptables-restore", "-w", "--noflush"], text)

    async def chains(self, table: str) -> set[str]:
        """The names of the chains of ``table`` (built-in ones included)."""
        saved = await self._run(["iptables-save", "-t", table])
        return {line[1:].split(" ", 1)[0] for line in saved.splitlines() if line.startswith(":")}

    async def has_rule(self, table: str, chain: str, rule: list[str]) -> bool:
        """Whether ``chain`` holds ``rule`` (``iptables -C``)."""
        try:
            await self._run(["iptables", "-w", "-t", table, "-C", chain, *rule])
        except IptablesError:
            return False
        return True

    async def insert_rule(self, table: str, chain: str, rule: list[str]) -> None:
        """Put ``rule`` first in ``chain``."""
        await self._run(["iptables", "-w", "-t", table, "-I", chain, *rule])

    async def delete_flows(self, args: list[str]) -> None:
        """``conntrack ARGS`` (a ``-D``): none to delete is no error; no conntrack
        tool (Debian package ``conntrack``) is logged once, and skipped."""
        if self._no_conntrack:
            return
        try:
            await self._run(["conntrack", *args])
        except FileNotFoundError:
            log.warning("conntrack is not installed: stale UDP flows are not removed")
            self._no_conntrack = True
        except IptablesError as error:
            if "0 flow entries" not in str(error):
                raise

    async def delete_rule(self, table: str, chain: str, rule: list[str]) -> None:
        """Remove one copy of ``rule`` from ``chain``."""
        await self._run(["iptables", "-w", "-t", table, "-D", chain, *rule])
