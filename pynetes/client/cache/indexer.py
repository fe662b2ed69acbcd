"""The informer's store: objects by key, with indexes, as client-go's Indexer.

Keys are ``namespace/name`` (``name`` for cluster-scoped objects), as
``cache.MetaNamespaceKeyFunc``. An index maps each value an index function
returns for an object to the keys of the objects that gave it, e.g. pods by
``spec.nodeName``. The store is used from one event loop: no locks.

Objects are shared with every reader and must never be mutated: copy before
changing one (``copy.deepcopy``, or ``orjson.loads(orjson.dumps(obj))``).
As upstream's ``KUBE_CACHE_MUTATION_DETECTOR``, setting that variable (or
``detect_mutations=True``) keeps a serialized copy of each object and makes
:meth:`Indexer.check_mutations` name every object changed in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

Object = dict[str, Any]
IndexFunc = Callable[[Object], Iterable[str]]

#: The index every informer has (upstream's ``cache.NamespaceIndex``).
NAMESPACE_INDEX = "namespace"


def object_key(obj: Object) -> str:
    """``namespace/name``, or ``name`` without a namespace."""
    metadata = obj.get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name", "")
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name) of a key; the namespace is "" for cluster-scoped objects."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def by_namespace(obj: Object) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


class CacheMutationError(AssertionError):
    """Objects handed out of a cache were changed in place."""


class Indexer:
    """Objects by key, with named indexes kept up to date on every change."""

    def __init__(
        self,
        indexers: Mapping[str, IndexFunc] | None = None,
        *,
        detect_mutations: bool | None = None,
    ) -> None:
        self._items: dict[str, Object] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: by_namespace, **(indexers or {})}
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        if detect_mutations is None:
            detect_mutations = os.environ.get("KUBE_CACHE_MUTATION_DETECTOR") == "true"
        self._copies: dict[str, bytes] | None = {} if detect_mutations else None

    # -- changes --------------------------------------------------------------

    def upsert(self, obj: Object) -> Object | None:
        """Add or replace ``obj`` under its key; returns the object it replaced."""
        key = object_key(obj)
        old = self._items.get(key)
        self._items[key] = obj
        self._reindex(key, old, obj)
        if self._copies is not None:
            self._copies[key] = orjson.dumps(obj)
        return old

    def delete(self, key: str) -> Object | None:
        """Remove the object under ``key``; returns it (None if there was none)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)
            if self._copies is not None:
                self._copies.pop(key, None)
        return old

    def replace(self, objects: Iterable[Object]) -> dict[str, Object]:
        """Hold exactly ``objects`` (a relist), indexes rebuilt; returns what it held
        before, by key."""
        previous = self._items
        self._items = {object_key(obj): obj for obj in objects}
        self._indices = {
            name: self._build_index(function) for name, function in self._indexers.items()
        }
        if self._copies is not None:
            self._copies = {key: orjson.dumps(obj) for key, obj in self._items.items()}
        return previous

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """More indexes, built at once over the objects already held."""
        clashing = indexers.keys() & self._indexers.keys()
        if clashing:
            raise ValueError(f"indexers already exist: {sorted(clashing)}")
        self._indexers.update(indexers)
        for name, function in indexers.items():
            self._indices[name] = self._build_index(function)

    def _build_index(self, function: IndexFunc) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in function(obj):
                index.setdefault(value, set()).add(key)
        return index

    def _reindex(self, key: str, old: Object | None, new: Object | None) -> None:
        for name, function in self._indexers.items():
            before = set(function(old)) if old is not None else set()
            after = set(function(new)) if new is not None else set()
            if before == after:
                continue
            index = self._indices[name]
            for value in before - after:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]  # no empty sets left behind (upstream leaked them once)
            for value in after - before:
                index.setdefault(value, set()).add(key)

    # -- reads ----------------------------------------------------------------

    def get(self, key: str) -> Object | None:
        return self._items.get(key)

    def list(self) -> list[Object]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, Object]]:
        """(key, object) pairs, for callers that need both without recomputing keys."""
        return iter(self._items.items())

    def by_index(self, index_name: str, value: str) -> list[Object]:
        """The objects whose index function gave ``value``."""
        return [self._items[key] for key in self.index_keys(index_name, value)]

    def index_keys(self, index_name: str, value: str) -> list[str]:
        index = self._indices.get(index_name)
        if index is None:
            raise KeyError(f"index {index_name!r} does not exist")
        return sorted(index.get(value, ()))

    def has_index(self, index_name: str) -> bool:
        return index_name in self._indexers

    def index_values(self, index_name: str) -> list[str]:
        return sorted(self._indices[index_name])

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    @property
    def detects_mutations(self) -> bool:
        return self._copies is not None

    def check_mutations(self) -> None:
        """With mutation detection on: raise naming each object changed in place."""
        if self._copies is None:
            return
        changed = [
            key for key, obj in self._items.items() if orjson.dumps(obj) != self._copies.get(key)
        ]
        if changed:
            raise CacheMutationError(
                f"objects in the cache were changed in place (copy them first): {changed[:10]}"
            )
