"""What ``pynetes up``, ``init`` and ``join`` tell the user, and the logs they quote.

Standard library only: the supervisor (:mod:`pynetes.cluster.supervise`) uses it and
must stay small.
"""

from __future__ import annotations

from pathlib import Path


def say(message: str) -> None:
    """Progress for the user, on stdout."""
    print(f"pynetes: {message}", flush=True)


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log file ("(no log)" when it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
