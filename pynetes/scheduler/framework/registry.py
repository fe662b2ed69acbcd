"""Plugin names to factories: how a profile's configuration becomes plugins.

A factory takes the plugin's args (the ``pluginConfig`` entry's ``args``,
or None) and the :class:`~.interface.Handle`; it raises ValueError for bad
args. Users add their own plugins by registering a factory under a new name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pynetes.scheduler.framework.interface import Handle, Plugin

PluginFactory = Callable[[Mapping[str, Any] | None, Handle], Plugin]


class Registry:
    """Factories by plugin name."""

    def __init__(self, factories: Mapping[str, PluginFactory] | None = None) -> None:
        self._factories: dict[str, PluginFactory] = dict(factories or {})

    def register(self, name: str, factory: PluginFactory) -> None:
        """Add ``factory`` under ``name``; ValueError if the name is taken."""
        if name in self._factories:
            raise ValueError(f"a plugin named {name!r} already exists")
        self._factories[name] = factory

    def merge(self, other: Registry) -> None:
        for name, factory in other._factories.items():
            self.register(name, factory)

    def factory(self, name: str) -> PluginFactory | None:
        return self._factories.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
