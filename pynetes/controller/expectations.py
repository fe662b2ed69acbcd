"""Expectations: upstream's ControllerExpectations (pkg/controller/controller_utils.go).

A controller that creates or deletes N objects sees its own writes only
when the informer delivers them. Until then its cache is stale, and
syncing again would create (or delete) the same objects twice. So before
writing it records what it expects, each observed event lowers the count,
and it syncs only once :meth:`Expectations.satisfied` says the cache has
caught up. Expectations older than five minutes count as satisfied, so a
lost event cannot wedge a controller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pynetes.client.flowcontrol import Clock

log = logging.getLogger(__name__)

#: Upstream's ExpectationsTimeout.
EXPECTATIONS_TIMEOUT = 5 * 60.0


@dataclass
class _Expected:
    """Creations and deletions still to be observed, and when they were set."""

    creations: int
    deletions: int
    set_at: float

    def fulfilled(self) -> bool:
        return self.creations <= 0 and self.deletions <= 0


class Expectations:
    """Creations and deletions each controller key (its object's "namespace/name") awaits.

    ``clock`` dates the expectations for the five-minute expiry.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._expected: dict[str, _Expected] = {}

    def set_expectations(self, key: str, creations: int, deletions: int) -> None:
        """Replace what ``key`` awaits, restarting its five minutes."""
        self._expected[key] = _Expected(creations, deletions, self._clock())

    def expect_creations(self, key: str, count: int) -> None:
        """``key`` is about to create ``count`` objects (and awaits no deletion)."""
        self.set_expectations(key, count, 0)

    def expect_deletions(self, key: str, count: int) -> None:
        """``key`` is about to delete ``count`` objects (and awaits no creation)."""
        self.set_expectations(key, 0, count)

    def raise_expectations(self, key: str, creations: int, deletions: int) -> None:
        """Await more of each, if ``key`` has expectations; its time is not restarted."""
        self.lower_expectations(key, -creations, -deletions)

    def lower_expectations(self, key: str, creations: int, deletions: int) -> None:
        """Await fewer of each, if ``key`` has expectations (observed, or never to happen)."""
        expected = self._expected.get(key)
        if expected is not None:
            expected.creations -= creations
            expected.deletions -= deletions

    def creation_observed(self, key: str) -> None:
        """One creation ``key`` awaited was seen."""
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        """One deletion ``key`` awaited was seen."""
        self.lower_expectations(key, 0, 1)

    def satisfied(self, key: str) -> bool:
        """Whether ``key`` may sync: all seen, expired, or nothing was ever expected."""
        expected = self._expected.get(key)
        if expected is None or expected.fulfilled():
            return True
        return self._clock() - expected.set_at > EXPECTATIONS_TIMEOUT

    def delete_expectations(self, key: str) -> None:
        """Forget ``key`` (its object was deleted)."""
        self._expected.pop(key, None)


class UIDTrackingExpectations:
    """Expectations that know *which* objects a key deletes (upstream's UIDTracking variant).

    Each deletion counts once, and only for an object the key deleted.
    Controllers treat an update that sets an object's deletionTimestamp as
    its deletion, then see the delete event too when the grace period ends;
    remembering the objects keeps the second from being counted again.
    Object keys are the deleted objects' "namespace/name".
    """

    def __init__(self, expectations: Expectations) -> None:
        self.expectations = expectations
        self._deleting: dict[str, set[str]] = {}

    def expect_creations(self, key: str, count: int) -> None:
        """As :meth:`Expectations.expect_creations`."""
        self.expectations.expect_creations(key, count)

    def creation_observed(self, key: str) -> None:
        """As :meth:`Expectations.creation_observed`."""
        self.expectations.creation_observed(key)

    def satisfied(self, key: str) -> bool:
        """As :meth:`Expectations.satisfied`."""
        return self.expectations.satisfied(key)

    def deleting(self, key: str) -> frozenset[str]:
        """The objects whose deletion ``key`` still awaits."""
        return frozenset(self._deleting.get(key, ()))

    def expect_deletions(self, key: str, object_keys: Iterable[str]) -> None:
        """``key`` is about to delete these objects; replaces any it still awaited."""
        deleting = set(object_keys)
        if self._deleting.get(key):
            log.warning("Clobbering existing delete keys of %s: %s", key, self._deleting[key])
        self._deleting[key] = deleting
        self.expectations.expect_deletions(key, len(deleting))

    def deletion_observed(self, key: str, object_key: str) -> None:
        """``object_key`` was deleted: counts for ``key`` once, if ``key`` deleted it."""
        deleting = self._deleting.get(key)
        if deleting is not None and object_key in deleting:
            deleting.remove(object_key)
            self.expectations.deletion_observed(key)

    def delete_expectations(self, key: str) -> None:
        """Forget ``key`` and the objects it was deleting."""
        self.expectations.delete_expectations(key)
        self._deleting.pop(key, None)
