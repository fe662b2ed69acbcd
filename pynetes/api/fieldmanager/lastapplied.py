"""Interplay with client-side apply's ``last-applied-configuration`` annotation.

Upstream eases the move from ``kubectl apply`` to ``kubectl apply
--server-side``, for the manager ``kubectl`` only:

- a conflict on a field that the annotation records with the live value is
  no conflict: the client-side applier set it, and kubectl is taking over;
- after a server-side apply, an object that carries the annotation gets it
  rewritten to the applied configuration, so a later client-side apply
  computes its three-way patch from the right base.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from pynetes.api.fieldmanager import gojson
from pynetes.api.fieldmanager.compare import compare
from pynetes.api.fieldmanager.fields import to_field_set
from pynetes.api.fieldmanager.fieldset import FieldSet
from pynetes.api.fieldmanager.typed import SchemaError
from pynetes.api.schema import Node

ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL: Final = "kubectl"

# Upstream's limit on all annotations of an object together (keys and values, in bytes).
_ANNOTATIONS_LIMIT: Final = 256 * 1024


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def allowed_conflicts(live: dict[str, Any], node: Node | None, api_version: str) -> FieldSet:
    """The fields the annotation says client-side apply set to their live value.

    Empty when there is no usable annotation (missing, not JSON, another
    apiVersion, or not walkable), as upstream then keeps every conflict.
    """
    text = _annotations(live).get(ANNOTATION)
    if not isinstance(text, str) or not text:
        return FieldSet()
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return FieldSet()
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return FieldSet()
    try:
        recorded = to_field_set(last, node, allow_duplicates=False)
        drift = compare(last, live, node)
    except SchemaError:
        return FieldSet()
    return recorded.difference(drift.modified).difference(drift.added).difference(drift.removed)


def has_annotation(obj: dict[str, Any]) -> bool:
    return bool(_annotations(obj).get(ANNOTATION))


def with_annotation(obj: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (a fresh result, updated in place) with the annotation set to ``applied``.

    The annotation is dropped when it would push the annotations past
    upstream's size limit.
    """
    annotations = dict(_annotations(obj))
    annotations[ANNOTATION] = _encode(applied)
    size = sum(len(key.encode()) + len(str(value).encode()) for key, value in annotations.items())
    if size > _ANNOTATIONS_LIMIT:
        del annotations[ANNOTATION]
    metadata = obj.setdefault("metadata", {})
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return obj


def _encode(applied: dict[str, Any]) -> str:
    """The applied configuration as the annotation holds it: Go's JSON with a
    newline, without the annotation itself."""
    config = applied
    annotations = _annotations(applied)
    if ANNOTATION in annotations:
        rest = {key: value for key, value in annotations.items() if key != ANNOTATION}
        config = {**applied, "metadata": {**applied["metadata"], "annotations": rest}}
    return gojson.dumps(config) + "\n"
