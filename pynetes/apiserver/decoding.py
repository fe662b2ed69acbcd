"""From a request body to an object ready for the registry.

As kube-apiserver's decoder does: the body must be an object of the URL's
kind and version (kind and apiVersion may be omitted and are filled in; a
built-in kind's body of another kind is refused in the scheme's words, see
:mod:`pynetes.apiserver.scheme`);
wrongly typed fields are a 400; unknown fields are refused, reported or
dropped according to ``fieldValidation`` (Strict, Warn, Ignore; default
Warn); then the kind's defaults are applied. Required fields and the
semantic rules are checked later, together, in the registry, where the
stored object is known: a 422 then names every bad field at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api import errors, meta, schema
from pynetes.api.defaults import apply_defaults
from pynetes.api.resources import Resource
from pynetes.api.validation import structural
from pynetes.apiserver.query import field_validation
from pynetes.apiserver.scheme import check_decodable

Object = dict[str, Any]


class ObjectDecoder:
    """Decodes bodies for built-in and custom resources alike."""

    def decode(
        self, resource: Resource, body: Any, params: Mapping[str, str]
    ) -> tuple[Object, list[str]]:
        """The object and the warnings to send back (``Warning`` headers)."""
        mode = field_validation(params)
        if resource.custom is None and isinstance(body, dict):
            check_decodable(resource, body)
        obj = self.check_kind(resource, body)
        return self.validate_and_default(resource, obj, mode)

    def check_kind(self, resource: Resource, body: Any) -> Object:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the body of the request must be a {resource.kind} object, not JSON"
                f" {type(body).__name__}"
            )
        api_version = body.get("apiVersion") or resource.group_version
        kind = body.get("kind") or resource.kind
        if api_version != resource.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API"
                f" version ({resource.group_version})"
            )
        if kind != resource.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        body["apiVersion"] = api_version
        body["kind"] = kind
        if not isinstance(body.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        return body

    def validate_and_default(
        self, resource: Resource, obj: Object, mode: str
    ) -> tuple[Object, list[str]]:
        node = resource.schema_node()
        warnings: list[str] = []
        if node is not None:
            problems, unknown, null_items = structural.check_structure(obj, node)
            if resource.custom is not None:
                invalid = [
                    _schema_type_error(problem)
                    for problem in problems
                    if problem.type is errors.FieldErrorType.TYPE_INVALID
                ]
                if invalid:
                    raise errors.invalid_object(
                        resource.group, resource.kind, meta.name_of(obj), invalid
                    )
            decode_error = structural.decode_error(resource.kind, resource.version, problems)
            if decode_error is not None:
                raise decode_error
            if unknown and mode == "Strict":
                raise structural.strict_decoding_error(resource.kind, resource.version, unknown)
            if unknown:
                if mode == "Warn":
                    warnings = structural.strict_errors(unknown)
                obj = structural.prune_unknown(obj, node)
            if null_items:
                _zero_null_items(obj, node)
        obj = apply_defaults(resource.group, resource.version, resource.kind, obj)
        return obj, warnings


_GO_TYPES = {"int64": "integer", "float64": "number", "string": "string", "bool": "boolean"}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array"}


def _schema_type_error(problem: errors.FieldError) -> errors.FieldError:
    """A custom resource's type error as its OpenAPI schema validation words it (422).

    ``spec.size: Invalid value: "string": spec.size in body must be of type
    integer: "string"``; built-in kinds get the decoder's 400 instead.
    """
    if problem.type is not errors.FieldErrorType.TYPE_INVALID:
        return problem
    go_type = problem.detail.rsplit(" of type ", 1)[-1]
    expected = _GO_TYPES.get(go_type, "array" if go_type.startswith("[]") else "object")
    actual = _JSON_TYPES.get(type(problem.value), "object")
    return errors.invalid(
        problem.field, actual, f'{problem.field} in body must be of type {expected}: "{actual}"'
    )


def _zero_null_items(value: Any, node: schema.Node) -> None:
    """``null`` items of lists of objects become ``{}``, as Go decodes them (zero structs).

    ``"containers": [null]`` is then a container with no name and no image,
    which validation reports, instead of a null nobody expects. In place:
    the object is the request's own.
    """
    if isinstance(value, dict):
        for key, child in value.items():
            if child and isinstance(child, dict | list):  # only containers hold lists
                child_node = schema.field(node, key)
                if child_node is not None:
                    _zero_null_items(child, child_node)
    elif isinstance(value, list):
        item = schema.items(node)
        if item is None:
            return
        objects = "object" in schema.types(item) or "properties" in schema.resolve(item)
        for index, child in enumerate(value):
            if child is None and objects:
                value[index] = {}
            elif child and isinstance(child, dict | list):
                _zero_null_items(child, item)
