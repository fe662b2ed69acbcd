"""Server-side apply and ``managedFields`` tracking: what the API server calls.

Upstream's field manager is a chain of wrappers around structured-merge-diff;
the functions here run the same steps in the same order:

- ``track_update`` (create, PUT, JSON/merge/strategic patch): take the
  entries the client sent if it sent valid ones (``[]`` or ``[{}]`` clears
  them), else the stored ones; the fields that changed move to the writer's
  Update entry; stop tracking an existing object that has no entries.
- ``apply``: an object without entries first gets a ``before-first-apply``
  Update entry for what it holds; the configuration is merged in and its
  field set becomes the applier's Apply entry; fields the applier dropped are
  pruned; fields other managers own and the apply changes are conflicts
  unless forced (for ``kubectl``, fields client-side apply recorded are
  taken over); the time moves only when the object changed.

Metadata that identifies the object (name, namespace, uid, resourceVersion,
generation, creationTimestamp, managedFields...) is never owned.

Objects are plain dicts and are not mutated; the results are new dicts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, Final

from pynetes.api import schema
from pynetes.api.errors import ApiError, bad_request
from pynetes.api.fieldmanager import entries, lastapplied
from pynetes.api.fieldmanager.compare import compare
from pynetes.api.fieldmanager.conflicts import Conflicts
from pynetes.api.fieldmanager.created import (
    SERVER_SET_METADATA,
    NotACreate,
    created_fields_v1,
)
from pynetes.api.fieldmanager.entries import APPLY, UPDATE, Entry, Managed
from pynetes.api.fieldmanager.fields import to_field_set
from pynetes.api.fieldmanager.fieldset import FieldSet, field_element
from pynetes.api.fieldmanager.merge import merge
from pynetes.api.fieldmanager.prune import prune
from pynetes.api.fieldmanager.typed import ABSENT, SchemaError, clone, type_info, values_equal
from pynetes.api.fieldmanager.zero import zero_object
from pynetes.api.schema import Node

_OBJECT_META: Final = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
_FREE_ROOT: Final = {"type": "object", "properties": {"metadata": _OBJECT_META}}
# Root nodes by the id of the kind's node; an entry keeps that node alive, so
# its id cannot stand for another node while the entry exists.
_ROOTS: dict[int, tuple[Node, Node]] = {}
_ROOTS_LIMIT: Final = 1024
_BEFORE_FIRST_APPLY: Final = "before-first-apply"
_UNKNOWN_MANAGER: Final = "unknown"
_MANAGER_MAX_BYTES: Final = 128

_NEVER_OWNED: Final = FieldSet(
    {field_element("apiVersion"), field_element("kind"), field_element("metadata")},
    {field_element("metadata"): FieldSet({field_element(name) for name in SERVER_SET_METADATA})},
)


@functools.lru_cache(maxsize=256)
def default_manager(user_agent: str) -> str:
    """The field manager of a request without ``fieldManager``: its User-Agent up
    to the first ``/`` (``kubectl/v1.31.0 (linux/amd64) ...`` -> ``kubectl``),
    without unprintable characters, at most 128 bytes. (Remembered: a cluster's
    clients send a handful of User-Agents, each on every write.)"""
    kept: list[str] = []
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not char.isprintable():
            continue
        size += len(char.encode())
        if size > _MANAGER_MAX_BYTES:
            break
        kept.append(char)
    return "".join(kept)


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    node: Node | None,
    api_version: str,
    now: str,
    subresource: str = "",
    reset_fields: Sequence[str] = (),
) -> dict[str, Any]:
    """``new`` with its ``managedFields`` updated for a write by ``manager``.

    ``old`` is the stored object, None on create. ``node`` is the kind's
    schema (None: no schema). ``now`` is RFC 3339 UTC. ``reset_fields`` are
    dotted paths the resource's strategy resets (``status`` on the main
    resource), which nobody comes to own. The result is a new dict sharing
    everything but its top level and ``metadata`` with ``new``. An object
    the tracking cannot walk loses its ``managedFields``, as upstream's
    ``UpdateNoErrors`` does.
    """
    root = _root_node(node)
    managed = _managed_for_update(old, new, subresource)
    result = _without_managed_fields(new)
    live = _without_managed_fields(old) if old is not None else zero_object(root)
    if not managed and _uid(live):
        return result
    if old is None and not managed and not reset_fields:
        with contextlib.suppress(NotACreate):
            return _track_create(live, result, root, manager, api_version, now, subresource)
    try:
        managed = _update(
            live,
            result,
            managed,
            _writer(manager, UPDATE, api_version, subresource),
            root,
            now,
            _field_paths(reset_fields),
        )
    except SchemaError:
        return result
    return _with_managed_fields(result, managed)


def _track_create(
    zero: dict[str, Any],
    new: dict[str, Any],
    root: Node,
    manager: str,
    api_version: str,
    now: str,
    subresource: str,
) -> dict[str, Any]:
    """``track_update`` of a create nobody managed before: the same entry, written
    in one walk (``created.py``)."""
    try:
        fields_v1 = created_fields_v1(zero, new, type_info(root))
    except SchemaError:
        return new
    if fields_v1:
        encoded = entries.encode_entry(
            manager or _UNKNOWN_MANAGER, UPDATE, api_version, now, fields_v1, subresource
        )
        _set_managed_fields(new, [encoded])
    return new


def apply(
    current: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    node: Node | None,
    force: bool,
    api_version: str,
    now: str,
    subresource: str = "",
    reset_fields: Sequence[str] = (),
) -> dict[str, Any]:
    """The object after ``manager`` applies the configuration ``applied``.

    ``current`` is the stored object, None when apply creates it. Raises
    ApiError: 409 on conflicts (unless ``force``), 400 for a configuration
    of another apiVersion or carrying managedFields, 500 (as upstream) for
    one whose list items cannot be named. The result shares nothing with
    the inputs.
    """
    _check_configuration(current, applied, api_version)
    root = _root_node(node)
    try:
        managed = entries.decode(_raw_managed_fields(current))
    except ValueError as error:
        raise ApiError(500, "", f"failed to decode managed fields: {error}") from None
    live = _without_managed_fields(current) if current is not None else {}
    try:
        applied_fields = to_field_set(applied, root, allow_duplicates=False)
    except SchemaError as error:
        raise _typed_error("patch", applied, api_version, error) from None
    ignored = _field_paths(reset_fields)
    step = _ApplyStep(
        live=live,
        applied=applied,
        applied_fields=applied_fields.recursive_difference(ignored),
        applier=_writer(manager, APPLY, api_version, subresource),
        node=root,
        now=now,
        ignored=ignored,
    )
    try:
        result, managed = _apply_taking_over(step, managed, manager, force, api_version)
    except Conflicts as conflicts:
        raise conflicts.error() from None
    except SchemaError as error:
        raise _typed_error("live", live, api_version, error) from None
    if manager == lastapplied.KUBECTL and lastapplied.has_annotation(result):
        result = lastapplied.with_annotation(result, applied)
    return _with_managed_fields(result, managed)


@dataclasses.dataclass(frozen=True)
class _ApplyStep:
    """Everything one apply attempt needs besides the entries and ``force``."""

    live: dict[str, Any]
    applied: dict[str, Any]
    applied_fields: FieldSet
    applier: Entry
    node: Node
    now: str
    ignored: FieldSet


def _apply_taking_over(
    step: _ApplyStep, managed: Managed, manager: str, force: bool, api_version: str
) -> tuple[dict[str, Any], Managed]:
    """Apply; for ``kubectl``, conflicts client-side apply explains are forced through."""
    try:
        return _apply(step, managed, force)
    except Conflicts as conflicts:
        if manager != lastapplied.KUBECTL:
            raise
        allowed = lastapplied.allowed_conflicts(step.live, step.node, api_version)
        remaining = conflicts.without(allowed)
        if remaining.owners:
            raise remaining from None
    return _apply(step, managed, True)


def _apply(step: _ApplyStep, managed: Managed, force: bool) -> tuple[dict[str, Any], Managed]:
    """One apply attempt: the new object (a fresh dict) and entries, or Conflicts."""
    if not managed:
        managed = _before_first_apply(step)
    key = step.applier.identity
    last = managed.get(key)
    mine = dataclasses.replace(
        step.applier, fields=step.applied_fields, time=None if last is None else last.time
    )
    owners = {**managed, key: mine}
    merged = merge(step.live, step.applied, step.node)
    merged = {} if merged is ABSENT else merged
    if last is not None and not last.fields.empty():
        merged = prune(merged, (entry.fields for entry in owners.values()), last.fields, step.node)
    change = compare(step.live, merged, step.node).excluding(step.ignored)
    changed = change.changed()
    others = {other: entry for other, entry in owners.items() if other != key}
    conflicts = Conflicts(
        {
            other: (entry, taken)
            for other, entry in others.items()
            if not (taken := entry.fields.intersection(changed)).empty()
        }
    )
    if conflicts.owners and not force:
        raise conflicts
    result = _non_empty(
        {
            other: entry.fields.difference(changed).difference(change.removed)
            for other, entry in others.items()
        },
        others,
    )
    unchanged = values_equal(step.live, merged)
    if not unchanged:
        mine = dataclasses.replace(mine, time=step.now)
    result.update(_non_empty({key: mine.fields.difference(_NEVER_OWNED)}, {key: mine}))
    return (clone(step.live) if unchanged else merged), result


def _before_first_apply(step: _ApplyStep) -> Managed:
    """An object without entries: what it holds goes to a ``before-first-apply`` updater."""
    writer = _writer(
        _BEFORE_FIRST_APPLY, UPDATE, step.applier.api_version, step.applier.subresource
    )
    return _update(zero_object(step.node), step.live, {}, writer, step.node, step.now, step.ignored)


def _non_empty(fields: dict[str, FieldSet], entries_by_key: Managed) -> Managed:
    """The entries with these fields, leaving out those that own nothing."""
    return {
        key: dataclasses.replace(entries_by_key[key], fields=owned)
        for key, owned in fields.items()
        if not owned.empty()
    }


def _update(
    live: dict[str, Any],
    new: dict[str, Any],
    managed: Managed,
    writer: Entry,
    node: Node,
    now: str,
    ignored: FieldSet,
) -> Managed:
    """The entries after ``writer`` changed ``live`` into ``new``.

    What changed leaves every entry and joins the writer's, which gets the
    time ``now``; removed fields leave every entry; empty entries go.
    """
    change = compare(live, new, node).excluding(ignored)
    changed = change.changed()
    result = _non_empty(
        {
            key: entry.fields.difference(changed).difference(change.removed)
            for key, entry in managed.items()
        },
        managed,
    )
    taken = changed.difference(_NEVER_OWNED)
    if not taken.empty():
        previous = result.get(writer.identity)
        fields = taken if previous is None else taken.union(previous.fields)
        result[writer.identity] = dataclasses.replace(writer, fields=fields, time=now)
    return entries.cap_update_managers(result)


def _managed_for_update(
    old: dict[str, Any] | None, new: dict[str, Any], subresource: str
) -> Managed:
    """The entries a write starts from: the client's if valid, else the stored ones.

    A subresource write never sets them; ``[]`` or ``[{}]`` clears them.
    """
    stored = _raw_managed_fields(old)
    if not subresource:
        sent = _raw_managed_fields(new)
        if entries.is_reset(sent):
            return {}
        try:
            managed = entries.decode(sent)
        except ValueError:
            managed = {}
        if managed:
            return managed
    try:
        return entries.decode(stored)
    except ValueError:
        return {}


def _check_configuration(
    current: dict[str, Any] | None, applied: dict[str, Any], api_version: str
) -> None:
    """Upstream's version check: the configuration is of the served version and kind."""
    kind = applied.get("kind")
    stored_kind = current.get("kind") if current is not None else None
    if applied.get("apiVersion") != api_version or stored_kind not in (None, kind):
        raise bad_request(f"invalid object type: {_gvk(applied.get('apiVersion'), kind)}")
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")


def _typed_error(what: str, obj: dict[str, Any], api_version: str, error: SchemaError) -> ApiError:
    """Upstream's (unstructured, hence 500) error for an object it cannot walk."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    where = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    return ApiError(
        500,
        "",
        f"failed to create typed {what} object ({where}; {_gvk(api_version, obj.get('kind'))})"
        f": {error}",
    )


def _gvk(api_version: Any, kind: Any) -> str:
    """A GroupVersionKind as Go prints it: ``apps/v1, Kind=Deployment``, ``/v1, Kind=Pod``."""
    group_version = api_version if isinstance(api_version, str) else ""
    if "/" not in group_version:
        group_version = "/" + group_version
    return f"{group_version}, Kind={kind if isinstance(kind, str) else ''}"


def _root_node(node: Node | None) -> Node:
    """The kind's schema with ``metadata`` as ObjectMeta, which upstream assumes for
    every kind (a CRD's schema may not spell it out); no schema: everything else free.

    Built once per schema node, so that walks meet the same root node each time.
    """
    if node is None:
        return _FREE_ROOT
    cached = _ROOTS.get(id(node))
    if cached is not None and cached[0] is node:
        return cached[1]
    resolved = dict(schema.resolve(node))
    resolved["properties"] = {**resolved.get("properties", {}), "metadata": _OBJECT_META}
    if len(_ROOTS) >= _ROOTS_LIMIT:
        _ROOTS.clear()
    _ROOTS[id(node)] = (node, resolved)
    return resolved


def _writer(manager: str, operation: str, api_version: str, subresource: str) -> Entry:
    return Entry(manager or _UNKNOWN_MANAGER, operation, api_version, subresource, FieldSet())


def _field_paths(dotted: Sequence[str]) -> FieldSet:
    return FieldSet.of(*(tuple(field_element(name) for name in path.split(".")) for path in dotted))


def _uid(obj: dict[str, Any]) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("uid") if isinstance(metadata, dict) else None


def _raw_managed_fields(obj: dict[str, Any] | None) -> Any:
    metadata = obj.get("metadata") if obj is not None else None
    return metadata.get("managedFields") if isinstance(metadata, dict) else None


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``obj`` (and of its metadata) without ``managedFields``."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return dict(obj)
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _with_managed_fields(obj: dict[str, Any], managed: Managed) -> dict[str, Any]:
    """``obj`` (a fresh copy, updated in place) with the entries written."""
    encoded = entries.encode(managed)
    if encoded is not None:
        _set_managed_fields(obj, encoded)
    return obj


def _set_managed_fields(obj: dict[str, Any], encoded: list[dict[str, Any]]) -> None:
    """Write the entries into ``obj``'s metadata (a fresh copy), which a null or
    malformed metadata becomes, as Go decodes it: an empty ObjectMeta."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    metadata["managedFields"] = encoded
