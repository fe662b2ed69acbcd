"""Object metadata, labels, annotations and label selectors, as upstream validates them.

Every kind's metadata goes through :func:`validate_object_meta` on create
and :func:`validate_object_meta_update` on update, with the name rule of
its kind (a :data:`NameValidator`). These are apimachinery's
``ValidateObjectMeta`` plus the finalizer rule core kinds add.

Inputs are plain dicts that passed the schema check; they are never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pynetes.api.errors import FieldError, forbidden, invalid, required, too_long
from pynetes.api.gofmt import go_string_slice
from pynetes.api.validation import syntax
from pynetes.api.validation.govalues import invalid_go

#: (name, is_prefix) -> upstream's messages; a generateName prefix may end in '-'.
NameValidator = Callable[[str, bool], list[str]]

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_FIELD_MANAGER_MAX_LENGTH = 128
_SUBRESOURCE_MAX_LENGTH = 256


def _mask_trailing_dash(name: str) -> str:
    """upstream maskTrailingDash: a generateName prefix may end with '-'."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return syntax.is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return syntax.is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return syntax.is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    if prefix:
        return syntax.is_valid_path_segment_prefix(name)
    return syntax.is_valid_path_segment_name(name)


def validate_object_meta(
    meta: Mapping[str, Any],
    *,
    namespaced: bool,
    validate_name: NameValidator,
    kube_finalizers: bool = True,
    path: str = "metadata",
) -> list[FieldError]:
    """upstream ValidateObjectMeta (core's, with ``kube_finalizers``) for a create.

    The name must already be generated from generateName, as upstream
    validates after the server picked it.
    """
    errors: list[FieldError] = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        errors += [
            invalid(f"{path}.generateName", generate_name, message)
            for message in validate_name(generate_name, True)
        ]
    name = meta.get("name") or ""
    if not name:
        errors.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errors += [invalid(f"{path}.name", name, m) for m in validate_name(name, False)]
    errors += _validate_namespace(meta.get("namespace") or "", namespaced, path)
    generation = meta.get("generation") or 0
    if generation < 0:
        errors.append(invalid(f"{path}.generation", generation, NEGATIVE))
    errors += _validate_common(meta, path)
    errors += validate_finalizers(meta.get("finalizers") or [], f"{path}.finalizers")
    if kube_finalizers:
        errors += _validate_kube_finalizers(meta.get("finalizers") or [], f"{path}.finalizers")
    return errors


def _validate_namespace(namespace: str, namespaced: bool, path: str) -> list[FieldError]:
    if not namespaced:
        return [forbidden(f"{path}.namespace", "not allowed on this type")] if namespace else []
    if not namespace:
        return [required(f"{path}.namespace")]
    return [
        invalid(f"{path}.namespace", namespace, message)
        for message in name_is_dns_label(namespace, False)
    ]


def _validate_common(meta: Mapping[str, Any], path: str) -> list[FieldError]:
    """What create and update both check: labels, annotations, owners, managed fields."""
    return [
        *validate_labels(meta.get("labels") or {}, f"{path}.labels"),
        *validate_annotations(meta.get("annotations") or {}, f"{path}.annotations"),
        *validate_owner_references(meta.get("ownerReferences") or [], f"{path}.ownerReferences"),
        *_validate_managed_fields(meta.get("managedFields") or [], f"{path}.managedFields"),
    ]


def validate_object_meta_update(
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    *,
    kube_finalizers: bool = True,
    path: str = "metadata",
) -> list[FieldError]:
    """upstream ValidateObjectMetaUpdate: identity fields are immutable.

    Expects the server to have copied uid and creationTimestamp from the
    stored object when the request omitted them (upstream BeforeUpdate), and
    resourceVersion to be settled by the update path.
    """
    errors: list[FieldError] = []
    if old.get("deletionTimestamp"):
        errors += _validate_no_new_finalizers(
            new.get("finalizers") or [], old.get("finalizers") or [], f"{path}.finalizers"
        )
    for key in ("name", "namespace", "uid"):
        new_value, old_value = new.get(key) or "", old.get(key) or ""
        if new_value != old_value:
            errors.append(invalid(f"{path}.{key}", new_value, IMMUTABLE))
    new_created, old_created = new.get("creationTimestamp"), old.get("creationTimestamp")
    if new_created != old_created and _go_time(new_created) != _go_time(old_created):
        errors.append(invalid_go(f"{path}.creationTimestamp", _go_time(new_created), IMMUTABLE))
    errors += _validate_common(new, path)
    if kube_finalizers:
        errors += _validate_kube_finalizers(new.get("finalizers") or [], f"{path}.finalizers")
    return errors


def _go_time(value: str | None) -> str:
    """metav1.Time as Go's time.Time.String() prints it, in UTC."""
    moment = datetime.min.replace(tzinfo=UTC)
    if value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return value
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000 UTC"
    )


def _validate_no_new_finalizers(new: list[str], old: list[str], path: str) -> list[FieldError]:
    extra = sorted(set(new) - set(old))
    if not extra:
        return []
    return [
        forbidden(
            path,
            "no new finalizers can be added if the object is being deleted, found new "
            f"finalizers {go_string_slice(extra)}",
        )
    ]


def validate_label_name(key: str, path: str) -> list[FieldError]:
    return [invalid(path, key, message) for message in syntax.is_qualified_name(key)]


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    """Keys are qualified names, values label values; errors name the map, as upstream's do."""
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors += validate_label_name(key, path)
        errors += [invalid(path, value, m) for m in syntax.is_valid_label_value(value or "")]
    return errors


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    """Keys are qualified names (case-insensitively); all keys and values fit in 256 KiB."""
    errors: list[FieldError] = []
    total = 0
    for key, value in annotations.items():
        errors += [invalid(path, key, m) for m in syntax.is_qualified_name(key.lower())]
        total += syntax.byte_length(key) + syntax.byte_length(value or "")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors


def validate_owner_references(references: list[dict[str, Any]], path: str) -> list[FieldError]:
    """apiVersion, kind, name and uid are required; at most one controller."""
    errors: list[FieldError] = []
    first_controller = ""
    for reference in references:
        errors += _validate_owner_reference(reference, path)
        if reference.get("controller"):
            current = f"{reference.get('kind', '')}/{reference.get('name', '')}"
            if first_controller:
                errors.append(
                    invalid(
                        path,
                        references,
                        "Only one reference can have Controller set to true. Found "
                        f'"true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errors


def _validate_owner_reference(reference: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    api_version = reference.get("apiVersion") or ""
    group, version = _group_version(api_version)
    kind = reference.get("kind") or ""
    if not version:
        errors.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
    if not kind:
        errors.append(invalid(f"{path}.kind", kind, "kind must not be empty"))
    for key in ("name", "uid"):
        if not reference.get(key):
            errors.append(invalid(f"{path}.{key}", "", f"{key} must not be empty"))
    if (group, version, kind) == ("", "v1", "Event"):
        errors.append(
            invalid(path, dict(reference), "/v1, Kind=Event is disallowed from being an owner")
        )
    return errors


def _group_version(api_version: str) -> tuple[str, str]:
    """upstream ParseGroupVersion; what does not parse has no version."""
    if api_version.count("/") > 1 or api_version == "/":
        return "", ""
    group, _, version = api_version.rpartition("/")
    return group, version


def validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    """Qualified names; orphan and foregroundDeletion exclude each other."""
    errors = [invalid(path, name, m) for name in finalizers for m in syntax.is_qualified_name(name)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errors.append(
            invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return errors


def _validate_kube_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    """Core kinds: a finalizer without a '/' must be one of the standard ones."""
    return [
        invalid(
            f"{path}[{index}]",
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )
        for index, name in enumerate(finalizers)
        if "/" not in name and name not in _STANDARD_FINALIZERS
    ]


def _validate_managed_fields(entries: list[dict[str, Any]], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, entry in enumerate(entries):
        here = f"{path}[{index}]"
        operation = entry.get("operation") or ""
        if operation not in ("Apply", "Update"):
            errors.append(invalid(f"{here}.operation", operation, "must be `Apply` or `Update`"))
        fields_type = entry.get("fieldsType") or ""
        if fields_type and fields_type != "FieldsV1":
            errors.append(invalid(f"{here}.fieldsType", fields_type, "must be `FieldsV1`"))
        manager = entry.get("manager") or ""
        if syntax.byte_length(manager) > _FIELD_MANAGER_MAX_LENGTH:
            errors.append(too_long(f"{here}.manager", _FIELD_MANAGER_MAX_LENGTH))
        if not manager.isprintable():
            errors += [
                invalid(
                    f"{here}.manager",
                    manager,
                    f"invalid character {_go_unicode(character)} (at position {position})",
                )
                for position, character in _positions(manager)
                if not character.isprintable()
            ]
        subresource = entry.get("subresource") or ""
        if syntax.byte_length(subresource) > _SUBRESOURCE_MAX_LENGTH:
            errors.append(too_long(f"{here}.subresource", _SUBRESOURCE_MAX_LENGTH))
    return errors


def _positions(text: str) -> list[tuple[int, str]]:
    """(byte offset, character) pairs, as Go's range over a string yields."""
    offset, result = 0, []
    for character in text:
        result.append((offset, character))
        offset += syntax.byte_length(character)
    return result


def _go_unicode(character: str) -> str:
    """Go's %#U: U+0007 (without the quoted glyph, since these are unprintable)."""
    return f"U+{ord(character):04X}"


def validate_label_selector(selector: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """metav1 ValidateLabelSelector: label syntax and operator/values agreement."""
    if selector is None:
        return []
    errors = validate_labels(selector.get("matchLabels") or {}, f"{path}.matchLabels")
    for index, requirement in enumerate(selector.get("matchExpressions") or []):
        errors += _validate_requirement(requirement, f"{path}.matchExpressions[{index}]")
    return errors


def _validate_requirement(requirement: Mapping[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    operator = requirement.get("operator") or ""
    values = requirement.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            errors.append(
                required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errors.append(
                forbidden(
                    f"{path}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        errors.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    errors += validate_label_name(requirement.get("key") or "", f"{path}.key")
    for index, value in enumerate(values):
        errors += [
            invalid(f"{path}.values[{index}]", value, m) for m in syntax.is_valid_label_value(value)
        ]
    return errors


def selector_is_empty(selector: Mapping[str, Any]) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool | None:
    """Whether a label selector selects ``labels``; None when it is not a valid selector."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        matched = _requirement_matches(requirement, labels)
        if matched is not True:
            return matched
    return True


def _requirement_matches(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool | None:
    key = requirement.get("key") or ""
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    if operator == "In":
        return (key in labels and labels[key] in values) if values else None
    if operator == "NotIn":
        return (key not in labels or labels[key] not in values) if values else None
    if operator in ("Exists", "DoesNotExist") and not values:
        return (key in labels) == (operator == "Exists")
    return None


def validate_template_meta(meta: Mapping[str, Any], path: str) -> list[FieldError]:
    """Pod template metadata: only labels and annotations are checked."""
    return [
        *validate_labels(meta.get("labels") or {}, f"{path}.labels"),
        *validate_annotations(meta.get("annotations") or {}, f"{path}.annotations"),
    ]


def immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    """upstream ValidateImmutableField for plain values (strings, numbers, lists, dicts)."""
    return [] if new == old else [invalid(path, new, IMMUTABLE)]
