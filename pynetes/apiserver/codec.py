"""How API objects are kept in storage: JSON, without their resourceVersion.

The resourceVersion of an object is the store's ``mod_revision`` of its key,
so it is not stored in the value (as kube-apiserver does with etcd) and is
set on the way out.
"""

from __future__ import annotations

from typing import Any

import orjson

from pynetes.storage import KeyValue

Object = dict[str, Any]


def encode_for_storage(obj: Object) -> bytes:
    """The stored form: the object without ``metadata.resourceVersion``."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "resourceVersion" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def decode_from_storage(kv: KeyValue, *, revision: int | None = None) -> Object:
    """The object a stored entry holds, with its resourceVersion set.

    ``revision`` overrides the entry's ``mod_revision`` (a deleted object is
    reported at the revision of its deletion, as upstream does).
    """
    obj: Object = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(
        kv.mod_revision if revision is None else revision
    )
    return obj


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
