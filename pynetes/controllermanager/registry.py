"""Every controller the controller manager knows, and ``--controllers`` selection.

Controllers are found, not listed: each module of
:mod:`pynetes.controllermanager.controllers` that defines ``CONTROLLER`` (a
:class:`ControllerDescriptor`) is one, so adding a controller touches no
shared table.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from pynetes.controllermanager import controllers
from pynetes.controllermanager.descriptor import ControllerDescriptor


class SelectionError(ValueError):
    """``--controllers`` names a controller that does not exist."""


@cache
def known() -> dict[str, ControllerDescriptor]:
    """Every controller by name, in name order."""
    found: dict[str, ControllerDescriptor] = {}
    for module in pkgutil.iter_modules(controllers.__path__):
        imported = importlib.import_module(f"{controllers.__name__}.{module.name}")
        descriptor = getattr(imported, "CONTROLLER", None)
        if isinstance(descriptor, ControllerDescriptor):
            if descriptor.name in found:
                raise RuntimeError(f"two controllers are named {descriptor.name!r}")
            found[descriptor.name] = descriptor
    return dict(sorted(found.items()))


def select(spec: str | list[str]) -> list[ControllerDescriptor]:
    """The controllers ``--controllers`` turns on, as upstream reads it.

    ``spec`` is a comma-separated list (or a list of items): ``*`` turns on
    every controller enabled by default, ``name`` turns one on, ``-name``
    turns one off; an explicit ``-name`` or ``name`` wins over ``*``.
    """
    items = spec.split(",") if isinstance(spec, str) else spec
    items = [item.strip() for item in items if item.strip()]
    everything = known()
    for item in items:
        name = item.removeprefix("-")
        if item != "*" and name not in everything:
            raise SelectionError(
                f'"{name}" is not in the list of known controllers: {", ".join(everything)}'
            )
    chosen = {item for item in items if not item.startswith("-") and item != "*"}
    refused = {item[1:] for item in items if item.startswith("-")}
    star = "*" in items
    return [
        descriptor
        for name, descriptor in everything.items()
        if name not in refused and (name in chosen or (star and descriptor.enabled_by_default))
    ]
