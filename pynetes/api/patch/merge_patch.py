"""JSON merge patch (RFC 7386, ``application/merge-patch+json``) as kube-apiserver applies it.

kube-apiserver uses evanphx/json-patch v4.12.0's MergePatch, which follows the
RFC (null deletes a member, objects merge recursively, anything else replaces)
with two differences clients can see, both kept here:

- a value that lands where there was nothing, null or a non-object is copied
  without its null object members, even inside lists (``[{"a": null}]``
  becomes ``[{}]``), while a list replacing an object keeps them;
- a patch that is an array replaces the whole document (nulls pruned alike),
  and one that is null, a string, a number or a boolean is a 400
  ``Invalid JSON Patch``.

An array result is returned as is: decoding it into the object is what fails
upstream (422, ``couldn't get version/kind``), and that is the caller's step.
"""

from __future__ import annotations

from typing import Any

from pynetes.api.errors import bad_request
from pynetes.api.jsoncopy import copy_json


def apply_merge_patch(document: Any, patch: Any) -> Any:
    """Merge ``patch`` into a copy of ``document`` and return the copy.

    Neither argument is changed: the apiserver retries a patch on a conflict,
    so the stored object and the decoded patch must survive a failed attempt.
    """
    if isinstance(patch, list):
        return _pruned(patch)
    if not isinstance(patch, dict):
        raise bad_request("Invalid JSON Patch")
    if not isinstance(document, dict):
        return _pruned(patch)
    return _merge_object(copy_json(document), patch)


def _merge_object(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``target`` (a copy this module owns) in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif target.get(key) is None:
            target[key] = _pruned(value)
        else:
            target[key] = _merge_value(target[key], value)
    return target


def _merge_value(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _pruned(patch)
    if not isinstance(patch, dict):
        return copy_json(patch)
    return _merge_object(current, patch)


def _pruned(value: Any) -> Any:
    """A copy of ``value`` without null object members at any depth.

    Null list elements stay: upstream prunes only object members.
    """
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value
