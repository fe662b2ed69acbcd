"""Defaults of ``apiextensions.k8s.io/v1``, as upstream's apiextensions v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_pointer, default_zero, dicts, struct

_V1 = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."


def _definition(crd: Obj) -> None:
    """Names, conversion None, and the storage version among the stored ones."""
    spec = struct(crd, "spec")
    names = struct(spec, "names")
    kind = names.get("kind") or ""
    default_zero(names, "singular", kind.lower())
    if kind:
        default_zero(names, "listKind", kind + "List")
    default_pointer(spec, "conversion", {"strategy": "None"})
    status = struct(crd, "status")
    if not status.get("storedVersions"):
        for version in dicts(spec.get("versions")):
            if version.get("storage"):
                status["storedVersions"] = [version.get("name")]
                break


def _service_reference(reference: Obj) -> None:
    default_pointer(reference, "port", 443)


DEFAULTERS = {
    _V1 + "CustomResourceDefinition": _definition,
    _V1 + "ServiceReference": _service_reference,
}
