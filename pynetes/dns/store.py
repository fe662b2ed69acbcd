"""The record store: every name the server answers for, in a dict, for O(1) answers.

Records come in groups, one per owner (a Service with its EndpointSlices, a
Pod, the zone itself): :meth:`RecordStore.replace` swaps an owner's whole
group, so a change is applied by recomputing the records of the one object
that changed. The store also knows the empty non-terminals (names with no
records but with names below them, such as ``<ns>.svc.<zone>``), which
exist for DNS (NODATA) although they hold nothing (NXDOMAIN would tell a
resolver that nothing below them exists either).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import dns.name
from dns.rdata import Rdata

Records = Mapping[dns.name.Name, Sequence[Rdata]]


class RecordStore:
    """Names -> records, grouped by owner. Not thread-safe: one event loop owns it."""

    def __init__(self) -> None:
        self._owned: dict[str, Records] = {}
        self._by_name: dict[dns.name.Name, dict[str, Sequence[Rdata]]] = {}
        self._flat: dict[dns.name.Name, tuple[Rdata, ...]] = {}
        self._ancestors: Counter[dns.name.Name] = Counter()
        #: Incremented on every change that changes something (the zones' SOA serial).
        self.serial = 1

    def replace(self, owner: str, records: Records) -> None:
        """Make ``records`` the whole group of ``owner`` (empty: remove the owner)."""
        new = {name: tuple(rdatas) for name, rdatas in records.items() if rdatas}
        old = self._owned.pop(owner, {})
        if old == new:
            if new:
                self._owned[owner] = old
            return
        for name in old:
            self._unlink(owner, name)
        if new:
            self._owned[owner] = new
            for name, rdatas in new.items():
                self._by_name.setdefault(name, {})[owner] = rdatas
                self._flatten(name)
                self._ancestors.update(_strict_ancestors(name))
        self.serial += 1

    def lookup(self, name: dns.name.Name) -> tuple[Rdata, ...] | None:
        """Every record of ``name``; () if it exists without records; None if it does not."""
        found = self._flat.get(name)
        if found is not None:
            return found
        return () if name in self._ancestors else None

    def owners(self) -> list[str]:
        return list(self._owned)

    def _unlink(self, owner: str, name: dns.name.Name) -> None:
        groups = self._by_name[name]
        del groups[owner]
        if not groups:
            del self._by_name[name]
        self._flatten(name)
        self._ancestors.subtract(_strict_ancestors(name))
        for ancestor in _strict_ancestors(name):
            if self._ancestors[ancestor] <= 0:
                del self._ancestors[ancestor]

    def _flatten(self, name: dns.name.Name) -> None:
        groups = self._by_name.get(name)
        if groups is None:
            self._flat.pop(name, None)
        else:
            self._flat[name] = tuple(rdata for rdatas in groups.values() for rdata in rdatas)


def _strict_ancestors(name: dns.name.Name) -> list[dns.name.Name]:
    """The names above ``name`` up to and without the root."""
    found = []
    while len(name) > 2:
        name = name.parent()
        found.append(name)
    return found
