"""Completion indexes of Indexed Jobs and their compressed text form ("0-2,5")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Object = dict[str, Any]

#: Label and annotation carrying an Indexed Job pod's index.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def index_of(pod: Object) -> int | None:
    """The pod's completion index (label first, then annotation), None if absent or bad."""
    metadata = pod["metadata"]
    text = (metadata.get("labels") or {}).get(COMPLETION_INDEX)
    if text is None:
        text = (metadata.get("annotations") or {}).get(COMPLETION_INDEX)
    if text is None or not text.isdigit():
        return None
    return int(text)


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes with runs collapsed, as ``status.completedIndexes``: {0,1,2,5} -> "0-2,5"."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start], ordered[end]
        parts.append(str(first) if first == last else f"{first}-{last}")
        start = end + 1
    return ",".join(parts)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """The indexes below ``completions`` in a ``completedIndexes`` text; bad parts are skipped."""
    found: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        found.update(range(int(first), min(int(last or first), completions - 1) + 1))
    return found
