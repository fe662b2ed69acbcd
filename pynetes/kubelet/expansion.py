"""``$(VAR)`` references in commands, args and probe commands, expanded as upstream does.

Upstream's rules (third_party/forked/golang/expansion): ``$(NAME)`` becomes the
variable's value when ``NAME`` is defined and stays as written when it is not;
``$$`` is an escaped ``$``; a ``$`` that starts no reference stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def expand(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with every ``$(NAME)`` defined in ``variables`` replaced by its value."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text) - 1:
        if text[cursor] != "$":
            cursor += 1
            continue
        out.append(text[checkpoint:cursor])
        following = text[cursor + 1]
        if following == "$":
            out.append("$")
            consumed = 1
        elif following == "(" and (close := text.find(")", cursor + 2)) != -1:
            name = text[cursor + 2 : close]
            out.append(variables.get(name, f"$({name})"))
            consumed = close - cursor
        else:
            out.append("$" + following)
            consumed = 1
        cursor += consumed + 1
        checkpoint = cursor
    return "".join(out) + text[checkpoint:]


def static_env(env: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    """The container's ``env`` as a name -> value map (``valueFrom`` entries count as "").

    Upstream expands probe commands with these static values only
    (``ExpandContainerCommandOnlyStatic``): probes see no downward API.
    """
    return {item["name"]: item.get("value") or "" for item in env or ()}
