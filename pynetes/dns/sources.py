"""Keeps the record store current from informers on Services, EndpointSlices and
(with ``pods verified``) Pods.

A change recomputes the records of the one Service (or Pod) it concerns and
replaces them in the store, right in the informer's handler: the work is
small, in memory, and nothing else waits for it, so no work queue is needed
and an update is visible to the next query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.name

from pynetes.api.resources import built_in
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler, SharedInformerFactory
from pynetes.dns import records
from pynetes.dns.answer import PodMode
from pynetes.dns.store import RecordStore

Object = dict[str, Any]
SERVICES = built_in("", "v1", "services")
ENDPOINT_SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
PODS = built_in("", "v1", "pods")
#: The label naming an EndpointSlice's Service.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
BY_SERVICE = "by-service"


def _slice_service(endpoint_slice: Object) -> list[str]:
    """The ``namespace/name`` of the Service an EndpointSlice belongs to ([] if none)."""
    meta = endpoint_slice["metadata"]
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace') or 'default'}/{service}"] if service else []


class StoreSync:
    """Wires the informers of ``factory`` to ``store`` (call before the factory starts)."""

    def __init__(
        self,
        factory: SharedInformerFactory,
        store: RecordStore,
        cluster_zone: dns.name.Name,
        pods: PodMode,
    ) -> None:
        self._store = store
        self._zone = cluster_zone
        store.replace("zone", records.zone_records(cluster_zone))
        self._services = factory.informer(SERVICES)
        self._slices = factory.informer(ENDPOINT_SLICES, indexers={BY_SERVICE: _slice_service})
        self._services.add_event_handler(self._on(lambda obj: [object_key(obj)]))
        self._slices.add_event_handler(self._on(_slice_service))
        if pods == PodMode.VERIFIED:
            factory.informer(PODS).add_event_handler(
                EventHandler(
                    on_add=self._pod,
                    on_update=lambda _old, new: self._pod(new),
                    on_delete=lambda old: store.replace(f"pod/{object_key(old)}", {}),
                )
            )

    def _on(self, keys: Callable[[Object], list[str]]) -> EventHandler:
        """Handlers recomputing the Services named by ``keys`` of the changed object
        (of the old and the new object on an update: a slice may change Service)."""

        def changed(*objects: Object) -> None:
            for key in {key for obj in objects for key in keys(obj)}:
                self._service(key)

        return EventHandler(on_add=changed, on_update=changed, on_delete=changed)

    def _service(self, key: str) -> None:
        """Recompute the records of the Service ``namespace/name`` (none once it is gone)."""
        service = self._services.store.get(key)
        found: records.Records = {}
        if service is not None:
            slices = self._slices.store.by_index(BY_SERVICE, key)
            found = records.service_records(service, slices, self._zone)
        self._store.replace(f"service/{key}", found)

    def _pod(self, pod: Object) -> None:
        self._store.replace(f"pod/{object_key(pod)}", records.pod_records(pod, self._zone))
