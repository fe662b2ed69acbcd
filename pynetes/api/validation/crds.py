"""CustomResourceDefinitions: names, scope, versions, and the structural-schema basics.

After apiextensions' ``ValidateCustomResourceDefinition``: the object is
named ``<plural>.<group>``, names are DNS-1035 labels, exactly one version is
stored, every v1 version has a schema, and a schema is structural at the
points users trip over (types everywhere, object at the root, items for
arrays). The full structural and CEL checks are not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import FieldError, invalid, not_supported, required
from pynetes.api.validation import syntax
from pynetes.api.validation.metadata import immutable

Object = Mapping[str, Any]

_SCOPES = ("Cluster", "Namespaced")


def validate_crd(crd: Object) -> list[FieldError]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    errors: list[FieldError] = []
    name = (crd.get("metadata") or {}).get("name") or ""
    if name != f"{names.get('plural') or ''}.{group}":
        errors.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        errors.append(required("spec.group"))
    else:
        messages = syntax.is_dns1123_subdomain(group)
        if messages:
            errors.append(invalid("spec.group", group, ",".join(messages)))
        elif len(group.split(".")) < 2:
            errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errors.append(required("spec.scope"))
    elif scope not in _SCOPES:
        errors.append(not_supported("spec.scope", scope, _SCOPES))
    errors += _validate_versions(spec.get("versions") or [])
    return errors + _validate_names(names, "spec.names")


def _validate_versions(versions: list[Object]) -> list[FieldError]:
    if not versions:
        return [
            required("spec.versions", "must have exactly one version marked as storage version")
        ]
    errors: list[FieldError] = []
    names: set[str] = set()
    unique = True
    for index, version in enumerate(versions):
        path = f"spec.versions[{index}]"
        name = version.get("name") or ""
        unique = unique and name not in names
        names.add(name)
        messages = syntax.is_dns1035_label(name)
        if messages:
            errors.append(invalid(f"{path}.name", name, ",".join(messages)))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        schema_path = f"{path}.schema.openAPIV3Schema"
        if schema is None:
            errors.append(required(schema_path, "schemas are required"))
        else:
            errors += _validate_structural(schema, schema_path, root=True)
    if not unique:
        errors.append(invalid("spec.versions", versions, "must contain unique version names"))
    if sum(1 for version in versions if version.get("storage")) != 1:
        errors.append(
            invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    return errors


def _validate_structural(schema: Object, path: str, *, root: bool) -> list[FieldError]:
    """Types everywhere (bar int-or-string and unknown fields), object at the root, array items."""
    errors: list[FieldError] = []
    kind = schema.get("type") or ""
    untyped_ok = schema.get("x-kubernetes-int-or-string") or (
        not root and schema.get("x-kubernetes-preserve-unknown-fields")
    )
    if not kind and not untyped_ok:
        detail = (
            "must not be empty at the root"
            if root
            else "must not be empty for specified object fields"
        )
        errors.append(required(f"{path}.type", detail))
    if root and kind and kind != "object":
        errors.append(invalid(f"{path}.type", kind, "must be object at the root"))
    if kind == "array" and schema.get("items") is None:
        errors.append(required(f"{path}.items", "must be specified"))
    for name, child in (schema.get("properties") or {}).items():
        errors += _validate_structural(child, f"{path}.properties[{name}]", root=False)
    items = schema.get("items")
    if isinstance(items, Mapping):
        errors += _validate_structural(items, f"{path}.items", root=False)
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        errors += _validate_structural(additional, f"{path}.additionalProperties", root=False)
    return errors


def _validate_names(names: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in ("plural", "kind"):
        if not names.get(key):
            errors.append(required(f"{path}.{key}"))
    for key in ("plural", "singular"):
        value = names.get(key) or ""
        messages = syntax.is_dns1035_label(value) if value else []
        if messages:
            errors.append(invalid(f"{path}.{key}", value, ",".join(messages)))
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        messages = syntax.is_dns1035_label(value.lower()) if value else []
        if messages:
            errors.append(
                invalid(
                    f"{path}.{key}",
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(messages),
                )
            )
    for key in ("shortNames", "categories"):
        for index, value in enumerate(names.get(key) or []):
            messages = syntax.is_dns1035_label(value)
            if messages:
                errors.append(invalid(f"{path}.{key}[{index}]", value, ",".join(messages)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errors.append(
            invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same")
        )
    return errors


def validate_crd_update(new: Object, old: Object) -> list[FieldError]:
    """The group and the scope of a definition never change."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errors = immutable(new_spec.get("group") or "", old_spec.get("group") or "", "spec.group")
    return errors + immutable(
        new_spec.get("scope") or "", old_spec.get("scope") or "", "spec.scope"
    )
