"""OpenAPI documents built from the upstream schema: v3 per group-version, and v2.

kubectl reads them for ``explain`` (the schema of a kind, found by its
``x-kubernetes-group-version-kind``), for client-side validation, and to
learn that the server takes ``fieldValidation`` (a parameter of the PATCH
operations). The schema data is upstream's (pynetes.api.schema) turned back
from JSON Schema into OpenAPI: single types, ``#/components/schemas`` refs,
int-or-string markers. Documents are built once per group-version and
cached until the set of resources changes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from pynetes.api import schema
from pynetes.api.resources import Resource, ResourceRegistry
from pynetes.apiserver import openapiv2proto

Object = dict[str, Any]

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def group_version_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


class OpenApi:
    def __init__(self, resources: ResourceRegistry) -> None:
        self._resources = resources
        self._v3: dict[str, bytes] = {}
        self._v2: bytes | None = None
        self._v2_protobuf: bytes | None = None

    def invalidate(self) -> None:
        """Forget built documents (a CRD came or went)."""
        self._v3.clear()
        self._v2 = None
        self._v2_protobuf = None

    def _group_versions(self) -> list[tuple[str, str]]:
        return [
            (group, version)
            for group, versions in self._resources.groups().items()
            for version in versions
        ]

    def v3_index(self) -> Object:
        paths = {}
        for group, version in self._group_versions():
            path = group_version_path(group, version)
            digest = hashlib.sha512(self.v3_document(group, version)).hexdigest()[:32].upper()
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        return {"paths": paths}

    def v3_document(self, group: str, version: str) -> bytes:
        path = group_version_path(group, version)
        cached = self._v3.get(path)
        if cached is None:
            resources = self._resources.in_group_version(group, version)
            cached = orjson.dumps(_document_v3(resources, group, version))
            self._v3[path] = cached
        return cached

    def v2_protobuf(self) -> bytes:
        """The v2 document as gnostic's protobuf message (openapiv2proto.py)."""
        if self._v2_protobuf is None:
            self._v2_protobuf = openapiv2proto.encode_document(orjson.loads(self.v2_document()))
        return self._v2_protobuf

    def v2_document(self) -> bytes:
        if self._v2 is None:
            self._v2 = orjson.dumps(
                {
                    "swagger": "2.0",
                    "info": {"title": "Kubernetes", "version": f"v{schema.KUBERNETES_VERSION}"},
                    "paths": {},
                    "definitions": _definitions(list(self._resources), "#/definitions/"),
                }
            )
        return self._v2


def _document_v3(resources: list[Resource], group: str, version: str) -> Object:
    schemas = _definitions(resources, "#/components/schemas/")
    paths: Object = {}
    for resource in resources:
        paths.update(_paths(resource))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{schema.KUBERNETES_VERSION}"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _definitions(resources: list[Resource], ref_prefix: str) -> Object:
    """The schemas of ``resources`` and of everything they refer to, with references
    under ``ref_prefix``; a custom resource's is its CRD's, under its own name."""
    custom = {
        _custom_name(resource): found
        for resource in resources
        if (found := _custom_schema(resource)) is not None
    }
    names = _closure(_root_definitions(resources) + _references(list(custom.values())))
    definitions = {name: _to_openapi(schema.definition(name), ref_prefix) for name in names}
    definitions.update({name: _to_openapi(body, ref_prefix) for name, body in custom.items()})
    return definitions


def _root_definitions(resources: list[Resource]) -> list[str]:
    roots = [
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    ]
    for resource in resources:
        for kind in (resource.kind, resource.list_kind):
            name = schema.definition_name(resource.group, resource.version, kind)
            if name is not None:
                roots.append(name)
    return roots


def _closure(roots: list[str]) -> list[str]:
    """The definitions reachable from ``roots`` through $ref."""
    seen: dict[str, None] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen[name] = None
        pending.extend(_references(schema.definition(name)))
    return sorted(seen)


def _references(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        reference = schema.ref_name(node)
        if reference is not None:
            found.append(reference)
        for value in node.values():
            found.extend(_references(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_references(value))
    return found


def _to_openapi(node: Any, ref_prefix: str) -> Any:
    """A JSON Schema node of kubernetes-validate back in OpenAPI form."""
    if isinstance(node, list):
        return [_to_openapi(item, ref_prefix) for item in node]
    if not isinstance(node, dict):
        return node
    reference = schema.ref_name(node)
    if reference is not None:
        if reference in (_INT_OR_STRING,):
            return {"x-kubernetes-int-or-string": True}
        converted: Object = {"$ref": ref_prefix + reference}
        if "description" in node:
            converted = {"allOf": [converted], "description": node["description"]}
        return converted
    result: Object = {}
    for key, value in node.items():
        if key == "type":
            types = [value] if isinstance(value, str) else [t for t in value if t != "null"]
            if len(types) == 1:
                result["type"] = types[0]
        elif key == "oneOf" and all(isinstance(o, dict) and "type" in o for o in value):
            result["x-kubernetes-int-or-string"] = True
        elif key in ("properties", "patternProperties"):
            result[key] = {name: _to_openapi(child, ref_prefix) for name, child in value.items()}
        else:
            result[key] = _to_openapi(value, ref_prefix)
    return result


def _custom_name(resource: Resource) -> str:
    reversed_group = ".".join(reversed(resource.group.split(".")))
    return f"{reversed_group}.{resource.version}.{resource.kind}"


def _custom_schema(resource: Resource) -> Object | None:
    if resource.custom is None:
        return None
    found = resource.custom.get("schema")
    body: Object = dict(found) if isinstance(found, dict) else {"type": "object"}
    body["x-kubernetes-group-version-kind"] = [
        {"group": resource.group, "version": resource.version, "kind": resource.kind}
    ]
    return body


def _paths(resource: Resource) -> Object:
    """Collection and item paths with the operations kubectl looks for."""
    base = "/" + group_version_path(resource.group, resource.version)
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    collection = f"{base}{scope}/{resource.plural}"
    item = collection + "/{name}"
    query = [
        _parameter("dryRun"),
        _parameter("fieldManager"),
        _parameter("fieldValidation"),
    ]
    operations = {
        (collection, "get", "list"): [],
        (collection, "post", "create"): query,
        (item, "get", "get"): [],
        (item, "put", "update"): query,
        (item, "patch", "patch"): [*query, _parameter("force")],
        (item, "delete", "delete"): [_parameter("dryRun")],
    }
    paths: Object = {}
    for (path, method, verb), parameters in operations.items():
        if verb in resource.verbs:
            action = {"create": "post", "update": "put"}.get(verb, verb)
            paths.setdefault(path, {})[method] = _operation(action, gvk, resource, parameters)
    return paths


def _operation(action: str, gvk: Object, resource: Resource, parameters: list[Object]) -> Object:
    operation: Object = {
        "operationId": f"{action}{resource.kind}",
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _parameter(name: str) -> Object:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
