"""Defaults of ``rbac.authorization.k8s.io/v1``, as upstream's pkg/apis/rbac/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_zero, struct

_RBAC = "io.k8s.api.rbac.v1."
_GROUP = "rbac.authorization.k8s.io"


def _binding(binding: Obj) -> None:
    default_zero(struct(binding, "roleRef"), "apiGroup", _GROUP)


def _subject(subject: Obj) -> None:
    """Users and groups are RBAC's own; a ServiceAccount is core (empty group)."""
    if subject.get("apiGroup"):
        return
    kind = subject.get("kind")
    if kind in ("User", "Group"):
        subject["apiGroup"] = _GROUP
    elif kind == "ServiceAccount":
        subject["apiGroup"] = ""


DEFAULTERS = {
    _RBAC + "RoleBinding": _binding,
    _RBAC + "ClusterRoleBinding": _binding,
    _RBAC + "Subject": _subject,
}
