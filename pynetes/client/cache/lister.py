"""Listers: reads of an informer's store by namespace, name and label selector."""

from __future__ import annotations

from typing import Any

from pynetes.api.labels import EVERYTHING, Selector, parse_label_selector
from pynetes.client.cache.indexer import NAMESPACE_INDEX, Indexer

Object = dict[str, Any]


class Lister:
    """client-go's generated listers, for any resource: shared objects, never to be changed."""

    def __init__(self, store: Indexer) -> None:
        self._store = store

    def get(self, name: str, namespace: str | None = None) -> Object | None:
        return self._store.get(f"{namespace}/{name}" if namespace else name)

    def list(
        self, namespace: str | None = None, selector: Selector | str | None = None
    ) -> list[Object]:
        """The objects (of ``namespace``, or all) whose labels match ``selector``."""
        if isinstance(selector, str):
            selector = parse_label_selector(selector)
        selector = selector or EVERYTHING
        objects = (
            self._store.by_index(NAMESPACE_INDEX, namespace) if namespace else self._store.list()
        )
        if selector.empty:
            return objects
        return [
            obj for obj in objects if selector.matches((obj.get("metadata") or {}).get("labels"))
        ]
