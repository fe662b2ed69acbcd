"""Apply conflicts, reported as upstream reports them.

An apply that would change a field another manager owns fails with 409
unless forced. The Status names every conflict twice, in the message and
as a ``FieldManagerConflict`` cause per field, worded as upstream words it:
``conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas``.
"""

from __future__ import annotations

from pynetes.api.errors import ApiError
from pynetes.api.fieldmanager.entries import UPDATE, Entry
from pynetes.api.fieldmanager.fieldset import FieldSet, Path, path_string

CAUSE = "FieldManagerConflict"


class Conflicts(Exception):
    """The fields an apply would take from other managers, by manager identity."""

    def __init__(self, owners: dict[str, tuple[Entry, FieldSet]]) -> None:
        super().__init__(f"{len(owners)} managers")
        self.owners = owners

    def without(self, allowed: FieldSet) -> Conflicts:
        """The conflicts on fields that ``allowed`` does not hold."""
        rest = {}
        for key, (entry, fields) in self.owners.items():
            remaining = fields.difference(allowed)
            if not remaining.empty():
                rest[key] = (entry, remaining)
        return Conflicts(rest)

    def listed(self) -> list[tuple[Entry, Path]]:
        """Every (owner, path), owners in the order of their identity, as upstream sorts them."""
        return [
            (entry, path)
            for _key, (entry, fields) in sorted(self.owners.items())
            for path in fields.paths()
        ]

    def error(self) -> ApiError:
        conflicts = self.listed()
        causes = [
            {
                "reason": CAUSE,
                "message": f"conflict with {_manager(entry)}",
                "field": path_string(path),
            }
            for entry, path in conflicts
        ]
        return ApiError(409, "Conflict", _message(conflicts), causes=causes)


def _message(conflicts: list[tuple[Entry, Path]]) -> str:
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {_manager(entry)}: {path_string(path)}"
    lines = []
    previous: Entry | None = None
    for entry, path in conflicts:
        if entry is not previous:
            lines.append(f"conflicts with {_manager(entry)}:")
            previous = entry
        lines.append(f"- {path_string(path)}")
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _manager(entry: Entry) -> str:
    """``"name"``, ``with subresource "status"``, and for updates ``using <apiVersion>``."""
    text = f'"{entry.manager}"'
    if entry.subresource:
        text += f' with subresource "{entry.subresource}"'
    if entry.operation == UPDATE:
        text += f" using {entry.api_version}"
    return text
