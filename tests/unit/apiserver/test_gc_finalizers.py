"""The finalizers a DELETE leaves for the garbage collector (upstream's rules)."""

from __future__ import annotations

import pytest

from pynetes.apiserver.registry import garbage_collection_finalizers


@pytest.mark.parametrize(
    ("finalizers", "policy", "default", "expected"),
    [
        ([], None, "Background", []),
        ([], None, "Orphan", ["orphan"]),
        ([], "Background", "Orphan", []),
        (["x"], "Foreground", "Background", ["x", "foregroundDeletion"]),
        (["x"], "Orphan", "Background", ["x", "orphan"]),
        (["foregroundDeletion"], "Orphan", "Background", ["orphan"]),
        (["orphan", "x"], "Background", "Background", ["x"]),
        (["orphan"], None, "Background", ["orphan"]),  # an earlier choice stands
        (["foregroundDeletion"], None, "Orphan", ["foregroundDeletion"]),
        (["b", "orphan", "a"], "Orphan", "Background", ["b", "orphan", "a"]),  # unchanged
    ],
)
def test_the_policy_decides_else_a_finalizer_already_there_else_the_default(
    finalizers: list[str], policy: str | None, default: str, expected: list[str]
) -> None:
    assert garbage_collection_finalizers(finalizers, policy, default) == expected
