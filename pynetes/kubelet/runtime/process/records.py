"""The records of the process runtime's containers, as they are on disk.

A container is a folder holding ``config.json`` (the runtime's, written at create) and
``started.json``/``exited.json`` (written by the container's shim); its state follows
from which of them exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynetes.kubelet.runtime.interface import ContainerEvent, ContainerState, ContainerStatus


@dataclass
class ContainerRecord:
    """A container as the runtime tracks it: ``config`` is its config.json, ``started``
    and ``exited`` the records its shim wrote (None until written)."""

    directory: Path
    config: dict[str, Any]
    started: dict[str, Any] | None = None
    exited: dict[str, Any] | None = None
    exit_seen: asyncio.Event = field(default_factory=asyncio.Event)
    shim: subprocess.Popen[bytes] | None = None

    @property
    def id(self) -> str:
        return self.config["id"]

    @property
    def state(self) -> ContainerState:
        if self.exited is not None:
            return ContainerState.EXITED
        if self.started is not None:
            return ContainerState.RUNNING
        return ContainerState.CREATED

    @classmethod
    def load(cls, directory: Path) -> ContainerRecord | None:
        """The container recorded in ``directory``; None when its record is unreadable."""
        try:
            config = json.loads((directory / "config.json").read_text())
        except (OSError, ValueError):
            return None
        container = cls(directory, config)
        container.started = read_json(directory / "started.json")
        container.exited = read_json(directory / "exited.json")
        if container.exited is not None:
            container.exit_seen.set()
        return container

    def event(self) -> ContainerEvent:
        config = self.config
        return ContainerEvent(self.id, config["sandbox_id"], config["pod_uid"], self.state)

    def status(self) -> ContainerStatus:
        config, started, exited = self.config, self.started or {}, self.exited or {}
        reason = ""
        if exited:
            reason = exited.get("reason") or (
                "OOMKilled"
                if exited.get("oom_killed")
                else "Completed"
                if exited["exit_code"] == 0
                else "Error"
            )
        return ContainerStatus(
            id=self.id,
            sandbox_id=config["sandbox_id"],
            name=config["name"],
            attempt=config["attempt"],
            state=self.state,
            image=config["image"],
            image_ref=config["image_ref"],
            created_at=config["created_at"],
            started_at=started.get("started_at", 0),
            finished_at=exited.get("finished_at", 0),
            exit_code=exited.get("exit_code", 0),
            reason=reason,
            message=exited.get("message", ""),
            log_path=config["log_path"] if config["log_path"] != os.devnull else "",
            labels=config["labels"],
            annotations=config["annotations"],
        )


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Atomically (rename): a reader never sees half a record."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value))
    temporary.replace(path)
