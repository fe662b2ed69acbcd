"""Roles, ClusterRoles and their bindings, as upstream's rbac validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import FieldError, invalid, not_supported, required
from pynetes.api.gofmt import go_quote
from pynetes.api.validation.govalues import go_struct, invalid_go
from pynetes.api.validation.metadata import name_is_dns_subdomain, name_is_path_segment

Object = Mapping[str, Any]

GROUP = "rbac.authorization.k8s.io"


def validate_rules(role: Object, *, namespaced: bool) -> list[FieldError]:
    """Each rule has verbs, and either resources with API groups or non-resource URLs."""
    errors: list[FieldError] = []
    for index, rule in enumerate(role.get("rules") or []):
        path = f"rules[{index}]"
        if not rule.get("verbs"):
            errors.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errors.append(
                    invalid(
                        f"{path}.nonResourceURLs",
                        urls,
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errors.append(
                    invalid(
                        f"{path}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            errors.append(
                required(f"{path}.apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            errors.append(
                required(f"{path}.resources", "resource rules must supply at least one resource")
            )
    return errors


def validate_binding(binding: Object, *, namespaced: bool) -> list[FieldError]:
    """roleRef names a Role (RoleBindings only) or a ClusterRole; subjects are of known kinds."""
    reference = binding.get("roleRef") or {}
    errors: list[FieldError] = []
    group = reference.get("apiGroup") or ""
    if group != GROUP:
        errors.append(not_supported("roleRef.apiGroup", group, (GROUP,)))
    kind = reference.get("kind") or ""
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if kind not in kinds:
        errors.append(not_supported("roleRef.kind", kind, kinds))
    name = reference.get("name") or ""
    if not name:
        errors.append(required("roleRef.name"))
    else:
        errors += [invalid("roleRef.name", name, m) for m in name_is_path_segment(name, False)]
    for index, subject in enumerate(binding.get("subjects") or []):
        errors += _validate_subject(subject, namespaced, f"subjects[{index}]")
    return errors


def _validate_subject(subject: Object, namespaced: bool, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = subject.get("name") or ""
    if not name:
        errors.append(required(f"{path}.name"))
    kind = subject.get("kind") or ""
    if kind == "ServiceAccount":
        if name:
            errors += [invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name, False)]
        group = subject.get("apiGroup") or ""
        if group:
            errors.append(not_supported(f"{path}.apiGroup", group, ("",)))
        if not namespaced and not subject.get("namespace"):
            errors.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        # v1 defaulting fills the group of User and Group subjects.
        group = subject.get("apiGroup", GROUP)
        if group != GROUP:
            errors.append(not_supported(f"{path}.apiGroup", group, (GROUP,)))
    else:
        errors.append(not_supported(f"{path}.kind", kind, ("ServiceAccount", "User", "Group")))
    return errors


def validate_binding_update(new: Object, old: Object) -> list[FieldError]:
    """roleRef never changes; upstream shows the new one as its Go struct."""
    new_ref, old_ref = new.get("roleRef") or {}, old.get("roleRef") or {}
    if new_ref == old_ref:
        return []
    literal = go_struct(
        "rbac.RoleRef",
        (
            ("APIGroup", go_quote(new_ref.get("apiGroup") or "")),
            ("Kind", go_quote(new_ref.get("kind") or "")),
            ("Name", go_quote(new_ref.get("name") or "")),
        ),
    )
    return [invalid_go("roleRef", literal, "cannot change roleRef")]
