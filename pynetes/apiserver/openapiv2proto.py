"""The OpenAPI v2 document in protobuf, as kubectl 1.27 and 1.28 ask for it.

Those kubectl versions read ``/openapi/v2`` only as
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` (gnostic's
``openapi.v2.Document``) for ``explain``, client-side validation, ``apply``
and ``diff``; without it every ``create -f`` and ``apply -f`` stops with a
404. This module encodes the JSON document ``openapi.py`` builds into that
message, with the protobuf library and classes built here from the field
numbers of gnostic's ``OpenAPIv2.proto``, for the parts the document has:
swagger, info, (empty) paths and the definitions' schemas. A schema's
vendor extensions (``x-kubernetes-*``), ``default`` and ``enum`` values are
gnostic's ``Any`` holding YAML: their JSON text, which YAML reads the same.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

#: What kubectl asks for, and what it is answered with (an ``@`` is no media type's).
MEDIA_TYPE: Final = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
CONTENT_TYPE: Final = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_PACKAGE: Final = "openapi.v2"
_Field = descriptor_pb2.FieldDescriptorProto
_SCALAR_TYPES: Final = {
    "string": _Field.TYPE_STRING,
    "bool": _Field.TYPE_BOOL,
    "double": _Field.TYPE_DOUBLE,
    "int64": _Field.TYPE_INT64,
}

#: gnostic's messages (the ones this document uses): (number, name, type), the
#: type a scalar's or a message's name, after ``*`` when repeated; ``|`` after a
#: message's name makes its fields one oneof.
_MESSAGES: Final[dict[str, tuple[tuple[int, str, str], ...]]] = {
    "Document": (
        (1, "swagger", "string"),
        (2, "info", "Info"),
        (8, "paths", "Paths"),
        (9, "definitions", "Definitions"),
    ),
    "Info": ((1, "title", "string"), (2, "version", "string"), (3, "description", "string")),
    "Paths": (),
    "Definitions": ((1, "additional_properties", "*NamedSchema"),),
    "NamedSchema": ((1, "name", "string"), (2, "value", "Schema")),
    "Properties": ((1, "additional_properties", "*NamedSchema"),),
    "NamedAny": ((1, "name", "string"), (2, "value", "Any")),
    "Any": ((2, "yaml", "string"),),
    "TypeItem": ((1, "value", "*string"),),
    "ItemsItem": ((1, "schema", "*Schema"),),
    "AdditionalPropertiesItem|": ((1, "schema", "Schema"), (2, "boolean", "bool")),
    "Schema": (
        (1, "_ref", "string"),
        (2, "format", "string"),
        (3, "title", "string"),
        (4, "description", "string"),
        (5, "default", "Any"),
        (6, "multiple_of", "double"),
        (7, "maximum", "double"),
        (8, "exclusive_maximum", "bool"),
        (9, "minimum", "double"),
        (10, "exclusive_minimum", "bool"),
        (11, "max_length", "int64"),
        (12, "min_length", "int64"),
        (13, "pattern", "string"),
        (14, "max_items", "int64"),
        (15, "min_items", "int64"),
        (16, "unique_items", "bool"),
        (17, "max_properties", "int64"),
        (18, "min_properties", "int64"),
        (19, "required", "*string"),
        (20, "enum", "*Any"),
        (21, "additional_properties", "AdditionalPropertiesItem"),
        (22, "type", "TypeItem"),
        (23, "items", "ItemsItem"),
        (24, "all_of", "*Schema"),
        (25, "properties", "Properties"),
        (26, "discriminator", "string"),
        (27, "read_only", "bool"),
        (30, "example", "Any"),
        (31, "vendor_extension", "*NamedAny"),
    ),
}

#: JSON Schema keywords held as scalars, by their field in Schema.
_SCALARS: Final = {
    "format": "format",
    "title": "title",
    "description": "description",
    "multipleOf": "multiple_of",
    "maximum": "maximum",
    "exclusiveMaximum": "exclusive_maximum",
    "minimum": "minimum",
    "exclusiveMinimum": "exclusive_minimum",
    "maxLength": "max_length",
    "minLength": "min_length",
    "pattern": "pattern",
    "maxItems": "max_items",
    "minItems": "min_items",
    "uniqueItems": "unique_items",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "discriminator": "discriminator",
    "readOnly": "read_only",
}


def encode_document(document: dict[str, Any]) -> bytes:
    """The protobuf form of a Swagger 2.0 JSON document (swagger, info, definitions)."""
    message = _class("Document")()
    message.swagger = document.get("swagger", "2.0")
    info = document.get("info") or {}
    for key in ("title", "version", "description"):
        if key in info:
            setattr(message.info, key, info[key])
    message.paths.SetInParent()
    for name, schema in (document.get("definitions") or {}).items():
        named = message.definitions.additional_properties.add()
        named.name = name
        _fill_schema(named.value, schema)
    return bytes(message.SerializeToString(deterministic=True))


def _fill_schema(message: Any, schema: dict[str, Any]) -> None:
    for key, value in schema.items():
        if key in _SCALARS:
            setattr(message, _SCALARS[key], value)
        elif key == "$ref":
            message._ref = value
        elif key == "required":
            message.required.extend(value)
        elif key == "type":
            message.type.value.extend(value if isinstance(value, list) else [value])
        elif key == "properties":
            for name, below in value.items():
                named = message.properties.additional_properties.add()
                named.name = name
                _fill_schema(named.value, below)
        elif key == "items":
            for below in value if isinstance(value, list) else [value]:
                _fill_schema(message.items.schema.add(), below)
        elif key == "allOf":
            for below in value:
                _fill_schema(message.all_of.add(), below)
        elif key == "additionalProperties":
            if isinstance(value, bool):
                message.additional_properties.boolean = value
            else:
                _fill_schema(message.additional_properties.schema, value)
        elif key in ("default", "example"):
            getattr(message, key).yaml = _yaml(value)
        elif key == "enum":
            for item in value:
                message.enum.add().yaml = _yaml(item)
        elif key.startswith("x-"):
            extension = message.vendor_extension.add()
            extension.name = key
            extension.value.yaml = _yaml(value)


def _yaml(value: Any) -> str:
    """A value as gnostic's Any holds it: YAML, of which JSON text is a form."""
    return orjson.dumps(value).decode() + "\n"


@functools.cache
def _class(name: str) -> type[Message]:
    pool = _pool()
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    file = descriptor_pb2.FileDescriptorProto(
        name="pynetes/openapiv2.proto", package=_PACKAGE, syntax="proto3"
    )
    for declared, fields in _MESSAGES.items():
        name, one_of = declared.rstrip("|"), declared.endswith("|")
        message = file.message_type.add(name=name)
        if one_of:
            message.oneof_decl.add(name="oneof")
        for number, field_name, kind in fields:
            repeated, bare = kind.startswith("*"), kind.removeprefix("*")
            field = message.field.add(name=field_name, number=number)
            field.label = _Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL
            if bare in _SCALAR_TYPES:
                field.type = _SCALAR_TYPES[bare]
            else:
                field.type = _Field.TYPE_MESSAGE
                field.type_name = f".{_PACKAGE}.{bare}"
            if one_of:
                field.oneof_index = 0
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool
