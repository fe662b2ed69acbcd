"""Defaults of ``storage.k8s.io/v1``, as upstream's pkg/apis/storage/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_pointer


def _storage_class(storage_class: Obj) -> None:
    default_pointer(storage_class, "reclaimPolicy", "Delete")
    default_pointer(storage_class, "volumeBindingMode", "Immediate")


DEFAULTERS = {"io.k8s.api.storage.v1.StorageClass": _storage_class}
