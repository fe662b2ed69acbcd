"""The flags of the garbage collector and namespace controllers, with upstream's defaults."""

from __future__ import annotations

from pynetes.controllermanager import options, registry


def test_both_controllers_are_known_and_on_by_default() -> None:
    chosen = [descriptor.name for descriptor in registry.select("*")]
    assert {"garbagecollector", "namespace"} <= set(chosen)


def test_their_flags_have_upstreams_defaults() -> None:
    defaults = options.defaults()
    assert defaults.concurrent_gc_syncs == 20
    assert defaults.concurrent_namespace_syncs == 10
    assert defaults.enable_garbage_collector is True
