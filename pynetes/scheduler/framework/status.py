"""The result of a plugin call, with upstream's codes and reasons.

A status carries human-readable reasons (they end up, counted per node, in the
FailedScheduling message) and the name of the plugin that produced it, so that
a failure can be explained and so that the queue knows which plugin to ask
before moving a parked pod back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Code(enum.IntEnum):
    """Upstream's framework.Code values, in upstream's order."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass
class Status:
    """A code, the reasons behind it, and the plugin that returned it ("" before it is known)."""

    code: Code = Code.SUCCESS
    reasons: list[str] = field(default_factory=list)
    plugin: str = ""

    @property
    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    @property
    def is_rejected(self) -> bool:
        """Unschedulable or unresolvable: the node (or the cycle) cannot take the pod."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        """This status, naming ``plugin`` unless it already names one."""
        if not self.plugin:
            self.plugin = plugin
        return self


def success() -> Status:
    return Status()


def error(message: str) -> Status:
    return Status(Code.ERROR, [message])


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, list(reasons))


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, list(reasons))


def skip() -> Status:
    return Status(Code.SKIP)
